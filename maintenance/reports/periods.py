"""Report periods: a local calendar day, ISO week or month of the site's zone.

``parse_period("monthly", "2026-11", tz)`` gives November in site time; the text must match
the kind (a weekly report takes ``2026-W48``). ``trailing(period, 12)`` gives the 12 periods
ending with it, for the trend charts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from facility.errors import ConfigError

ReportKind = Literal["daily", "weekly", "monthly"]
KINDS: tuple[ReportKind, ...] = ("daily", "weekly", "monthly")
EXAMPLES = {"daily": "2026-11-26", "weekly": "2026-W48", "monthly": "2026-11"}
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class ReportPeriod:
    """One period: its kind, its label (``2026-11``), its first local day, and its bounds."""

    kind: ReportKind
    label: str
    first_day: date
    start: datetime  # aware, local midnight
    end: datetime  # exclusive

    @property
    def days(self) -> int:
        return (self.end.date() - self.start.date()).days


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time()).replace(tzinfo=tz)


def _following(kind: ReportKind, day: date) -> date:
    if kind == "daily":
        return day + timedelta(days=1)
    if kind == "weekly":
        return day + timedelta(days=7)
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _label(kind: ReportKind, day: date) -> str:
    if kind == "daily":
        return day.isoformat()
    if kind == "weekly":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return f"{day.year}-{day.month:02d}"


def period_of(kind: ReportKind, day: date, tz: tzinfo) -> ReportPeriod:
    """The period of ``kind`` that contains ``day``."""
    if kind == "weekly":
        day -= timedelta(days=day.weekday())
    elif kind == "monthly":
        day = day.replace(day=1)
    return ReportPeriod(
        kind, _label(kind, day), day, _midnight(day, tz), _midnight(_following(kind, day), tz)
    )


def parse_period(kind: str, text: str, tz: tzinfo) -> ReportPeriod:
    """``text`` as a period of ``kind``; ConfigError saying what was expected."""
    if kind not in KINDS:
        raise ConfigError(f"report kind {kind!r}: expected one of {', '.join(KINDS)}")
    report_kind: ReportKind = kind
    value = text.strip()
    expected = f"--period {text!r}: expected a {kind} period such as {EXAMPLES[kind]}"
    try:
        if report_kind == "daily":
            day = date.fromisoformat(value)
        elif report_kind == "weekly":
            match = _WEEK.match(value)
            if not match:
                raise ValueError(value)
            day = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        else:
            match = _MONTH.match(value)
            if not match:
                raise ValueError(value)
            day = date(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ConfigError(expected) from None
    return period_of(report_kind, day, tz)


def previous(period: ReportPeriod, tz: tzinfo) -> ReportPeriod:
    return period_of(period.kind, period.first_day - timedelta(days=1), tz)


def trailing(period: ReportPeriod, count: int, tz: tzinfo) -> list[ReportPeriod]:
    """The ``count`` periods ending with ``period``, oldest first."""
    result = [period]
    while len(result) < count:
        result.append(previous(result[-1], tz))
    return result[::-1]


def last_complete(kind: ReportKind, now: datetime, tz: tzinfo) -> ReportPeriod:
    """The period a scheduled run produces at ``now``: today's daily sheet, last week's or
    last month's report (the one that has just ended)."""
    today = now.astimezone(tz).date()
    current = period_of(kind, today, tz)
    return current if kind == "daily" else previous(current, tz)
