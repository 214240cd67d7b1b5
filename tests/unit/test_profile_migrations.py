"""schema_version migrations: v0 -> v1, the registry, versions that cannot be read."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from device_profiles.loader import parse_profile
from device_profiles.migrations import MIGRATIONS, migrate, supported_versions
from device_profiles.models import SCHEMA_VERSION, ByteOrder

V0: dict[str, Any] = {
    "schema_version": 0,
    "id": "pump",
    "modbus": {"word_order": "little", "byte_order": "big", "max_gap": 8},
    "points": [
        {
            "name": "pressure",
            "registers": {"table": "input", "address": 0, "type": "float32"},
            "min": 0,
            "max": 16,
        }
    ],
}


def test_every_old_version_has_a_migration_to_the_current_one() -> None:
    assert supported_versions() == [*range(SCHEMA_VERSION + 1)]
    assert set(MIGRATIONS) == set(range(SCHEMA_VERSION))


def test_v0_moves_registers_orders_and_range() -> None:
    data, log = migrate(V0)
    assert data["schema_version"] == 1
    assert data["modbus"] == {"order": "CDAB", "max_gap": 8}
    assert data["points"][0] == {
        "name": "pressure",
        "modbus": {"table": "input", "address": 0, "type": "float32"},
        "range": [0, 16],
    }
    assert log.from_version == 0
    assert log.problems == []
    assert log.source(("points", 0, "modbus", "type")) == ("points", 0, "registers", "type")
    assert log.source(("points", 0, "range", 1)) == ("points", 0, "max")
    assert log.source(("modbus", "order")) == ("modbus", "word_order")
    assert log.source(("id",)) == ("id",)


def test_migration_does_not_change_its_input() -> None:
    before = copy.deepcopy(V0)
    migrate(V0)
    assert before == V0


@pytest.mark.parametrize(
    ("word", "byte", "expected"),
    [
        ("big", "big", ByteOrder.ABCD),
        ("little", "big", ByteOrder.CDAB),
        ("big", "little", ByteOrder.BADC),
        ("little", "little", ByteOrder.DCBA),
        ("LITTLE", None, ByteOrder.CDAB),  # a missing half is big, as v0 read it
        (None, "little", ByteOrder.BADC),
    ],
)
def test_v0_orders(word: str | None, byte: str | None, expected: ByteOrder) -> None:
    registers: dict[str, Any] = {"table": "input", "address": 0, "type": "float32"}
    if word is not None:
        registers["word_order"] = word
    if byte is not None:
        registers["byte_order"] = byte
    data, log = migrate({**V0, "points": [{"name": "p", "registers": registers}]})
    assert log.problems == []
    assert data["points"][0]["modbus"]["order"] == expected.value


def test_v0_values_that_cannot_be_translated_are_problems() -> None:
    data, log = migrate(
        {
            **V0,
            "points": [
                {"name": "a", "registers": {"word_order": "middle"}, "min": 1},
            ],
        }
    )
    assert log.problems == [
        (("points", 0, "modbus", "word_order"), "expected big or little, got 'middle'"),
        (("points", 0, "min"), "a range needs both min and max: `max` is missing"),
    ]
    assert log.source(log.problems[0][0]) == ("points", 0, "registers", "word_order")
    assert data["points"][0] == {"name": "a", "modbus": {}}


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (None, "missing; expected schema_version: 1 (the current version)"),
        (
            2,
            "version 2 is newer than this program reads (0, 1); upgrade facility or write the "
            "profile for version 1",
        ),
        (-3, "unknown version -3; expected one of: 0, 1"),
        ("1", "expected a whole number (0, 1), got '1'"),
        (True, "expected a whole number (0, 1), got True"),
    ],
)
def test_unreadable_versions(version: object, expected: str) -> None:
    data = {"id": "pump"} if version is None else {"schema_version": version, "id": "pump"}
    migrated, log = migrate(data)
    assert migrated is data
    assert log.from_version is None
    assert log.problems == [(("schema_version",), expected)]


def test_v0_file_loads_and_says_where_old_fields_were() -> None:
    text = """\
schema_version: 0
id: pump
device_class: PMP
vendor: Test
model: Test
label: {en: Pump, zh: 水泵}
protocol: modbus
points:
  - name: pressure
    label: {en: Pressure, zh: 压力}
    unit: bar
    registers: {table: input, address: 0, type: float32, word_order: little}
    min: 0
    max: 16
"""
    profile, issues = parse_profile(text, "pump.yaml")
    assert issues == []
    assert profile is not None
    assert profile.order_of(profile.points[0]) is ByteOrder.CDAB
    assert profile.points[0].range == (0, 16)
    _, issues = parse_profile(text.replace("max: 16", "max: -16"), "pump.yaml")
    assert [(i.line, i.field) for i in issues] == [(13, "points[0] (pressure).min")]
    _, issues = parse_profile(text.replace("address: 0", "address: -1"), "pump.yaml")
    assert [(i.line, i.field) for i in issues] == [(12, "points[0] (pressure).registers.address")]
