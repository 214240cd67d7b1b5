"""Statutory and contractual items: which PM plans of the device profiles the law or the
contract asks for, shared by the daily check sheet and the compliance calendar.

The plans themselves (intervals, checklists, the statutory maximum of tank cleaning) are the
profiles' (device_profiles/library/*.yaml, docs/maintenance.md); this table only says which
of them are statutory, under what name, and how often the rule asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatutoryItem:
    key: str
    device_class: str
    plan: str  # the PM plan's name in the profile
    title_en: str
    title_zh: str
    rule_en: str
    rule_zh: str


STATUTORY: tuple[StatutoryItem, ...] = (
    StatutoryItem(
        "tank_cleaning", "TNK", "cleaning",
        "Tank cleaning and disinfection, with its water test", "水箱清洗消毒及水质检测",
        "at most 6 months apart", "间隔不超过6个月",
    ),
    StatutoryItem(
        "water_quality", "TNK", "water_quality_test",
        "Water quality test", "水质检测", "quarterly", "每季度",
    ),
    StatutoryItem(
        "fire_daily", "FAP", "daily_check",
        "Fire alarm panel daily check", "消防报警主机日检", "daily", "每日",
    ),
    StatutoryItem(
        "fire_monthly", "FAP", "monthly_test",
        "Fire system monthly test", "消防系统月度测试", "monthly", "每月",
    ),
    StatutoryItem(
        "fire_annual", "FAP", "annual_service",
        "Fire system annual inspection", "消防系统年度检测", "yearly", "每年",
    ),
)  # fmt: skip
_BY_PLAN = {(i.device_class, i.plan): i for i in STATUTORY}


def asset_class(asset_no: str) -> str:
    parts = asset_no.split("-")
    return parts[1] if len(parts) > 2 else ""


def statutory_item(asset_no: str, plan: str) -> StatutoryItem | None:
    """The statutory item an asset's plan is, or None for ordinary PM."""
    return _BY_PLAN.get((asset_class(asset_no), plan))
