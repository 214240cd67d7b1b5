"""The Markdown register-map reference: committed docs match the generator; formatting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from device_profiles import load_library
from device_profiles.doc import GENERATED_MARK, profile_markdown, reference, render_docs
from device_profiles.models import DeviceProfile, Table

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs" / "devices"


def test_committed_docs_are_up_to_date() -> None:
    """Regenerate with `facility profiles doc` when this fails."""
    expected = render_docs(load_library())
    committed = {
        path.name: path.read_text(encoding="utf-8")
        for path in DOCS_DIR.glob("*.md")
        if GENERATED_MARK in path.read_text(encoding="utf-8")
    }
    assert sorted(committed) == sorted(expected)
    for name, text in expected.items():
        assert committed[name] == text, f"docs/devices/{name} is stale: run facility profiles doc"


@pytest.mark.parametrize(
    ("table", "address", "expected"),
    [
        (Table.HOLDING, 0, "40001"),
        (Table.INPUT, 10, "30011"),
        (Table.COIL, 0, "00001"),
        (Table.DISCRETE, 2, "10003"),
        (Table.HOLDING, 9998, "49999"),
        (Table.HOLDING, 9999, "410000"),
        (Table.INPUT, 65535, "365536"),
    ],
)
def test_one_based_references(table: Table, address: int, expected: str) -> None:
    assert reference(table, address) == expected


def profile(**change: Any) -> DeviceProfile:
    data: dict[str, Any] = {
        "schema_version": 1,
        "id": "demo",
        "device_class": "PMP",
        "vendor": "ACME | Pumps",
        "model": "P-1",
        "label": {"en": "Demo pump", "zh": "演示水泵"},
        "protocol": "modbus",
        "modbus": {"order": "CDAB"},
        "points": [
            {
                "name": "pressure",
                "label": {"en": "Pressure", "zh": "压力"},
                "unit": "bar",
                "modbus": {"table": "input", "address": 0, "type": "float32"},
                "range": [0, 16],
            },
            {
                "name": "status",
                "label": {"en": "Status", "zh": "状态"},
                "unit": "",
                "modbus": {"table": "holding", "address": 4, "type": "bitfield"},
                "bits": {0: "ready", 3: "fault"},
            },
            {
                "name": "hours",
                "label": {"en": "Hours", "zh": "小时"},
                "unit": "h",
                "counter": True,
                "scale": 0.1,
                "modbus": {"table": "input", "address": 2, "type": "uint32", "order": "ABCD"},
            },
        ],
        "alarms": [
            {
                "name": "low",
                "point": "pressure",
                "kind": "lo",
                "limit": 1.5,
                "priority": "high",
                "label": {"en": "Low", "zh": "低"},
            }
        ],
        "pm_plans": [
            {
                "name": "service",
                "title": {"en": "Service", "zh": "保养"},
                "triggers": [
                    {"kind": "meter", "point": "hours", "every": 500},
                    {"kind": "calendar", "every": 6, "unit": "month"},
                ],
                "checklist": [{"text": {"en": "Seal dry", "zh": "密封无渗漏"}}],
            }
        ],
        **change,
    }
    return DeviceProfile.model_validate(data)


def test_modbus_reference_rows() -> None:
    text = profile_markdown(profile())
    assert text.startswith("# Demo pump — 演示水泵\n")
    assert "| Vendor / model | ACME \\| Pumps / P-1 |" in text
    assert (
        "| 1 | `pressure` | Pressure | 压力 | input | 0–1 | 30001 | float32 | CDAB | 2 | 1 | 0 "
        "| bar | 0 … 16 | normal |  | read | — |"
    ) in text
    assert "| 2 | `status` | Status | 状态 | holding | 4 | 40005 | bitfield | — | 1 |" in text
    assert "bit 0 ready · bit 3 fault |" in text
    assert "| 3 | `hours` | Hours | 小时 | input | 2–3 | 30003 | uint32 | ABCD | 2 | 0.1 |" in text
    assert "| `low` | Low | 低 | `pressure` | lo: below 1.5 bar |" in text
    assert "every 500 h of `hours`; or every 6 months |" in text
    assert "1. Seal dry / 密封无渗漏 (pass_fail)" in text


def test_opcua_reference_rows() -> None:
    text = profile_markdown(
        profile(
            protocol="opcua",
            modbus=None,
            opcua={"namespace_uri": "urn:test"},
            points=[
                {
                    "name": "level",
                    "label": {"en": "Level", "zh": "液位"},
                    "unit": "m",
                    "opcua": {"node_id": "ns=2;s=Tank.Level", "browse_path": "Level"},
                }
            ],
            alarms=[],
            pm_plans=[],
        )
    )
    assert (
        "| 1 | `level` | Level | 液位 | `ns=2;s=Tank.Level` | `Level` | Double | 1 | 0 | m |"
        in text
    )
    assert "namespace `urn:test`" in text
    assert "No default alarms." in text
    assert "No default plans." in text


def test_render_is_deterministic_and_indexed() -> None:
    profiles = {"demo": profile()}
    first, second = render_docs(profiles), render_docs(profiles)
    assert first == second
    assert list(first) == ["README.md", "demo.md"]
    assert (
        "| [demo](demo.md) | `PMP` | Demo pump / 演示水泵 | modbus | 3 | 1 | 1 |"
        in first["README.md"]
    )
