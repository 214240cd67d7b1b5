"""Table tests of the profile models: data types, orders, bit rules, ranges, cross-checks."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from pydantic import ValidationError

from device_profiles.models import (
    PROBLEMS_ERROR,
    AlarmDefinition,
    ByteOrder,
    ChecklistItem,
    DataType,
    DeviceProfile,
    ModbusAddress,
    PmTrigger,
    Point,
    PollClass,
    Problem,
    Table,
    cross_check,
    loc_text,
)


def address(**fields: Any) -> ModbusAddress:
    return ModbusAddress.model_validate({"table": "holding", "address": 0, **fields})


def point(name: str = "p", **fields: Any) -> Point:
    fields.setdefault("modbus", {"table": "holding", "address": 0, "type": "uint16"})
    return Point.model_validate(
        {"name": name, "label": {"en": name, "zh": name}, "unit": "", **fields}
    )


def messages(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    """Every message of a validation error, the problems of our validators one by one."""
    found = []
    for err in exc.value.errors():
        if err["type"] == PROBLEMS_ERROR:
            found += [p.render() for p in err["ctx"]["problems"]]
        else:
            found.append(err["msg"])
    return found


# --- data types and register counts --------------------------------------------------------

DATA_TYPES: list[tuple[str, dict[str, Any], int]] = [
    ("int16", {}, 1),
    ("uint16", {}, 1),
    ("int32", {}, 2),
    ("uint32", {}, 2),
    ("int64", {}, 4),
    ("uint64", {}, 4),
    ("float32", {}, 2),
    ("float64", {}, 4),
    ("string", {"length": 8}, 8),
    ("bit", {"bit": 15}, 1),
    ("bitfield", {}, 1),
]


@pytest.mark.parametrize(("type_", "extra", "count"), DATA_TYPES)
def test_register_types_occupy_their_count(type_: str, extra: dict[str, Any], count: int) -> None:
    found = address(address=100, type=type_, **extra)
    assert found.type is DataType(type_)
    assert found.count == count
    assert found.end == 100 + count - 1


def test_every_data_type_has_a_case() -> None:
    covered = {t for t, _, _ in DATA_TYPES} | {"bool"}
    assert covered == {t.value for t in DataType}


@pytest.mark.parametrize("table", ["coil", "discrete"])
def test_bool_lives_in_bit_tables(table: str) -> None:
    found = ModbusAddress.model_validate({"table": table, "address": 7, "type": "bool"})
    assert found.table.is_bit_table
    assert found.count == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"table": "holding", "type": "bool"}, "type bool needs table coil or discrete"),
        ({"table": "input", "type": "bool"}, "type bool needs table coil or discrete"),
        ({"table": "coil", "type": "uint16"}, "table coil holds single bits"),
        ({"table": "discrete", "type": "bit", "bit": 0}, "table discrete holds single bits"),
        ({"type": "bit"}, "type bit needs `bit: 0..15`"),
        ({"type": "uint16", "bit": 3}, "`bit` only applies to type bit, not uint16"),
        ({"type": "string"}, "type string needs `length`"),
        ({"type": "uint16", "length": 2}, "`length` only applies to type string"),
        ({"type": "float32", "address": 65535}, "address 65535 + 2 registers runs past 65535"),
        ({"type": "float64", "address": 65533}, "address 65533 + 4 registers runs past 65535"),
        ({"type": "string", "length": 2, "address": 65535}, "runs past 65535"),
    ],
)
def test_address_rules(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        address(**fields)
    assert any(expected in m for m in messages(exc)), messages(exc)


@pytest.mark.parametrize(
    ("fields", "ok"),
    [
        ({"type": "uint16", "address": 65535}, True),
        ({"type": "float32", "address": 65534}, True),
        ({"type": "float64", "address": 65532}, True),
        ({"type": "uint16", "address": -1}, False),
        ({"type": "uint16", "address": 65536}, False),
        ({"type": "bit", "bit": 0}, True),
        ({"type": "bit", "bit": 15}, True),
        ({"type": "bit", "bit": 16}, False),
        ({"type": "bit", "bit": -1}, False),
        ({"type": "string", "length": 1}, True),
        ({"type": "string", "length": 125}, True),
        ({"type": "string", "length": 0}, False),
        ({"type": "string", "length": 126}, False),
        ({"type": "float", "address": 0}, False),
    ],
)
def test_address_ranges(fields: dict[str, Any], ok: bool) -> None:
    if ok:
        address(**fields)
    else:
        with pytest.raises(ValidationError):
            address(**fields)


def test_several_address_problems_are_reported_together() -> None:
    with pytest.raises(ValidationError) as exc:
        address(type="uint16", bit=3, length=2)
    assert len(messages(exc)) == 2


# --- byte and word order ---------------------------------------------------------------------

ALIASES: list[tuple[object, ByteOrder]] = [
    ("ABCD", ByteOrder.ABCD),
    ("abcd", ByteOrder.ABCD),
    ("big", ByteOrder.ABCD),
    ("Big", ByteOrder.ABCD),
    ("be", ByteOrder.ABCD),
    ("big_endian", ByteOrder.ABCD),
    ("big-endian", ByteOrder.ABCD),
    ("1234", ByteOrder.ABCD),
    ("CDAB", ByteOrder.CDAB),
    ("3412", ByteOrder.CDAB),
    ("word_swap", ByteOrder.CDAB),
    ("word-swap", ByteOrder.CDAB),
    ("little_word", ByteOrder.CDAB),
    ("BADC", ByteOrder.BADC),
    ("2143", ByteOrder.BADC),
    ("byte_swap", ByteOrder.BADC),
    ("DCBA", ByteOrder.DCBA),
    ("4321", ByteOrder.DCBA),
    ("little", ByteOrder.DCBA),
    ("LITTLE", ByteOrder.DCBA),
    ("le", ByteOrder.DCBA),
    ("little_endian", ByteOrder.DCBA),
    (" cdab ", ByteOrder.CDAB),
    (3412, ByteOrder.CDAB),  # YAML reads an unquoted 3412 as a number
    (4321, ByteOrder.DCBA),
]


@pytest.mark.parametrize(("alias", "expected"), ALIASES)
def test_order_aliases_normalise(alias: object, expected: ByteOrder) -> None:
    assert address(type="float32", order=alias).order is expected


@pytest.mark.parametrize(("alias", "expected"), ALIASES)
def test_profile_default_order_aliases_normalise(alias: object, expected: ByteOrder) -> None:
    profile = DeviceProfile.model_validate({**PROFILE, "modbus": {"order": alias}})
    assert profile.order_of(profile.points[0]) is expected


@pytest.mark.parametrize("bad", ["ABDC", "middle", "", "12", 12, True, "big little"])
def test_unknown_orders_are_rejected(bad: object) -> None:
    with pytest.raises(ValidationError):
        address(type="float32", order=bad)


# The worked example of docs/profiles.md: 123.456 as float32 is 0x42F6E979, bytes A=42 B=F6
# C=E9 D=79; these are the two registers a device sends in each order.
WORKED_EXAMPLE = [
    (ByteOrder.ABCD, (0x42F6, 0xE979)),
    (ByteOrder.CDAB, (0xE979, 0x42F6)),
    (ByteOrder.BADC, (0xF642, 0x79E9)),
    (ByteOrder.DCBA, (0x79E9, 0xF642)),
]


@pytest.mark.parametrize(("order", "registers"), WORKED_EXAMPLE)
def test_order_flags_undo_the_worked_example(order: ByteOrder, registers: tuple[int, int]) -> None:
    words = list(registers)
    if order.word_swap:
        words.reverse()
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    if order.byte_swap:
        raw = bytes(b for pair in zip(raw[1::2], raw[0::2], strict=True) for b in pair)
    assert raw == bytes.fromhex("42F6E979")
    assert struct.unpack(">f", raw)[0] == pytest.approx(123.456, rel=1e-6)


def test_order_of_falls_back_to_profile_then_abcd() -> None:
    own = {**PROFILE["points"][0], "modbus": {**PROFILE["points"][0]["modbus"], "order": "DCBA"}}
    profile = DeviceProfile.model_validate({**PROFILE, "modbus": {"order": "CDAB"}})
    assert profile.order_of(profile.points[0]) is ByteOrder.CDAB
    profile = DeviceProfile.model_validate({**PROFILE, "points": [own]})
    assert profile.order_of(profile.points[0]) is ByteOrder.DCBA
    profile = DeviceProfile.model_validate(PROFILE)
    assert profile.modbus is None
    assert profile.order_of(profile.points[0]) is ByteOrder.ABCD


# --- points ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"scale": 0}, "scale 0 would make every value 0"),
        ({"range": [10, 1]}, "range low 10 is above high 1"),
        ({"modbus": {"table": "holding", "address": 0, "type": "bitfield"}}, "needs `bits:`"),
        ({"bits": {0: "ready"}}, "`bits` only applies to type bitfield, not uint16"),
        (
            {
                "modbus": {"table": "holding", "address": 0, "type": "bitfield"},
                "bits": {16: "x"},
            },
            "bit numbers must be 0..15, got 16",
        ),
        (
            {
                "modbus": {"table": "holding", "address": 0, "type": "string", "length": 2},
                "scale": 2,
            },
            "a string cannot be scaled",
        ),
        ({"modbus": None}, "needs an address"),
        ({"name": "Discharge Pressure"}, "String should match pattern"),
        ({"poll": "sometimes"}, "Input should be 'fast', 'normal' or 'slow'"),
    ],
)
def test_point_rules(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        point(**fields)
    assert any(expected in m for m in messages(exc)), messages(exc)


@pytest.mark.parametrize(
    ("value_range", "ok"),
    [([0, 16], True), ([-1, -1], True), ([-20, 150], True), ([5, 4.999], False), ([1], False)],
)
def test_point_ranges(value_range: list[float], ok: bool) -> None:
    if ok:
        assert point(range=value_range).range == tuple(value_range)
    else:
        with pytest.raises(ValidationError):
            point(range=value_range)


def test_point_defaults() -> None:
    found = point()
    assert (found.scale, found.offset, found.poll, found.counter) == (
        1.0,
        0.0,
        PollClass.NORMAL,
        False,
    )


def test_models_are_frozen() -> None:
    found = point()
    with pytest.raises(ValidationError):
        found.scale = 2  # type: ignore[misc]


def test_opcua_address_needs_node_or_path() -> None:
    with pytest.raises(ValidationError) as exc:
        point(modbus=None, opcua={"data_type": "Double"})
    assert any("needs node_id or browse_path" in m for m in messages(exc))
    assert point(modbus=None, opcua={"node_id": "ns=2;s=Tank.Level"}).opcua is not None
    with pytest.raises(ValidationError):
        point(modbus=None, opcua={"node_id": "Tank.Level"})


# --- alarms, triggers, checklists ------------------------------------------------------------

ALARM = {"name": "a", "point": "p", "priority": "high", "label": {"en": "a", "zh": "a"}}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "hi"}, "a hi alarm needs `limit`"),
        ({"kind": "roc"}, "a roc alarm needs `limit`"),
        ({"kind": "state"}, "a state alarm needs `states`"),
        ({"kind": "comm"}, "a comm alarm watches the device, not a point"),
        ({"kind": "lo", "limit": 1, "point": None}, "a lo alarm needs `point`"),
        ({"kind": "lo", "limit": 1, "deadband": -1}, "greater than or equal to 0"),
    ],
)
def test_alarm_rules(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        AlarmDefinition.model_validate({**ALARM, **fields})
    assert any(expected in m for m in messages(exc)), messages(exc)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "calendar", "every": 1}, "needs `every` and a time `unit`"),
        ({"kind": "floating", "every": 1, "unit": "count"}, "needs `every` and a time `unit`"),
        ({"kind": "meter", "every": 5}, "a meter trigger needs `point`"),
        ({"kind": "meter", "every": 5, "point": "h", "unit": "day"}, "counts in its point's unit"),
        ({"kind": "condition"}, "a condition trigger needs `alarm`"),
        ({"kind": "calendar", "every": 1, "unit": "year", "month_day": [2, 30]}, "no such date"),
        ({"kind": "calendar", "every": 1, "unit": "year", "month_day": [13, 1]}, "no such date"),
        (
            {"kind": "floating", "every": 1, "unit": "year", "month_day": [4, 1]},
            "`month_day` only applies to calendar",
        ),
        ({"kind": "calendar", "every": 0, "unit": "day"}, "greater than 0"),
    ],
)
def test_trigger_rules(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        PmTrigger.model_validate(fields)
    assert any(expected in m for m in messages(exc)), messages(exc)


def test_leap_day_anchor_is_a_date() -> None:
    trigger = PmTrigger.model_validate(
        {"kind": "calendar", "every": 1, "unit": "year", "month_day": [2, 29]}
    )
    assert trigger.month_day == (2, 29)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "meter"}, "a meter item needs `point`"),
        ({"kind": "number", "limits": [5, 1]}, "limits low 5 is above high 1"),
    ],
)
def test_checklist_rules(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ChecklistItem.model_validate({"text": {"en": "t", "zh": "t"}, **fields})
    assert any(expected in m for m in messages(exc)), messages(exc)


# --- whole-profile cross-checks --------------------------------------------------------------

PROFILE: dict[str, Any] = {
    "schema_version": 1,
    "id": "test",
    "device_class": "PMP",
    "vendor": "Test",
    "model": "Test",
    "label": {"en": "Test", "zh": "测试"},
    "protocol": "modbus",
    "points": [
        {
            "name": "p",
            "label": {"en": "p", "zh": "p"},
            "unit": "",
            "modbus": {"table": "holding", "address": 0, "type": "float32"},
        }
    ],
}


def mb(name: str, table: str, address: int, type_: str = "uint16", **extra: Any) -> Point:
    return point(name, modbus={"table": table, "address": address, "type": type_, **extra})


OVERLAPS: list[tuple[str, list[Point], list[str]]] = [
    ("adjacent registers", [mb("a", "holding", 0, "float32"), mb("b", "holding", 2)], []),
    ("same address, other table", [mb("a", "holding", 0), mb("b", "input", 0)], []),
    (
        "second register of a float",
        [mb("a", "holding", 0, "float32"), mb("b", "holding", 1)],
        ["holding register 1 also belongs to point 'a'"],
    ),
    (
        "float64 over two uint32",
        [mb("a", "input", 10, "float64"), mb("b", "input", 12, "uint32")],
        ["input registers 12..13 also belong to point 'a'"],
    ),
    (
        "bits of one register",
        [mb("a", "holding", 6, "bit", bit=0), mb("b", "holding", 6, "bit", bit=1)],
        [],
    ),
    (
        "the same bit twice",
        [mb("a", "holding", 6, "bit", bit=3), mb("b", "holding", 6, "bit", bit=3)],
        ["holding register 6 also belongs to point 'a'"],
    ),
    (
        "a bit inside a word",
        [mb("a", "holding", 6), mb("b", "holding", 6, "bit", bit=3)],
        ["holding register 6 also belongs to point 'a'"],
    ),
    ("coils", [mb("a", "coil", 1, "bool"), mb("b", "coil", 1, "bool")], ["coil 1 also belongs"]),
    (
        "a string over a later point",
        [mb("s", "holding", 30, "string", length=4), mb("b", "holding", 33)],
        ["holding register 33 also belongs to point 's'"],
    ),
    (
        "three on one register",
        [mb("a", "input", 0), mb("b", "input", 0), mb("c", "input", 0)],
        ["input register 0 also belongs to point 'a'"] * 2 + ["to point 'b'"],
    ),
]


@pytest.mark.parametrize(
    ("points", "expected"), [c[1:] for c in OVERLAPS], ids=[c[0] for c in OVERLAPS]
)
def test_overlaps(points: list[Point], expected: list[str]) -> None:
    problems = cross_check("modbus", None, points)
    assert len(problems) == len(expected), problems
    for problem, wanted in zip(problems, expected, strict=True):
        assert wanted in problem.render()
        assert problem.loc[-2:] == ("modbus", "address")


def test_overlap_is_reported_at_the_later_point_and_sees_the_earlier() -> None:
    points = [mb("late", "holding", 1), mb("early", "holding", 0, "float32")]
    (problem,) = cross_check("modbus", None, points)
    assert problem.loc == ("points", 0, "modbus", "address")
    assert problem.see == ("points", 1, "modbus", "address")
    assert problem.render() == (
        "holding register 1 also belongs to point 'early' (at points[1].modbus.address); "
        "expected each register used by one point only (type bit points may share a register "
        "with different `bit`s)"
    )


def test_cross_check_skips_invalid_items_and_their_names() -> None:
    alarm = AlarmDefinition.model_validate({**ALARM, "point": "broken", "kind": "hi", "limit": 1})
    assert cross_check("modbus", None, [mb("a", "holding", 0), None], [alarm], (), ["broken"]) == []
    (problem,) = cross_check("modbus", None, [mb("a", "holding", 0), None], [alarm])
    assert problem.render() == "unknown point 'broken'; expected one of: a"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"protocol": "opcua"}, "an opcua profile needs `opcua:` on every point"),
        ({"poll_periods_s": {"fast": 1}}, "poll class normal has no period"),
        ({"poll_periods_s": {"fast": 1, "normal": 0, "slow": 60}}, "greater than 0"),
        (
            {"alarms": [{**ALARM, "kind": "state", "states": [1]}] * 2},
            "duplicate alarm name 'a'; expected unique names (first used at alarms[0].name)",
        ),
        (
            {
                "pm_plans": [
                    {
                        "name": "x",
                        "title": {"en": "x", "zh": "x"},
                        "triggers": [{"kind": "condition", "alarm": "nope"}],
                    }
                ]
            },
            "unknown alarm 'nope'; this profile has none",
        ),
        (
            {
                "pm_plans": [
                    {
                        "name": "x",
                        "title": {"en": "x", "zh": "x"},
                        "triggers": [{"kind": "calendar", "every": 1, "unit": "year"}],
                        "checklist": [
                            {"text": {"en": "t", "zh": "t"}, "kind": "meter", "point": "p"}
                        ],
                    }
                ]
            },
            "point 'p' is not a counter; a meter needs a point with `counter: true` "
            "(this profile has none)",
        ),
        ({"points": []}, "at least 1 item"),
        ({"schema_version": 2}, "Input should be 1"),
    ],
)
def test_profile_rules(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        DeviceProfile.model_validate({**PROFILE, **change})
    assert any(expected in m for m in messages(exc)), messages(exc)


def test_problems_render_without_a_loader() -> None:
    problem = Problem(("points", 3, "name"), "duplicate (first at {see})", ("points", 1, "name"))
    assert problem.render() == "duplicate (first at points[1].name)"
    assert problem.render("line 12") == "duplicate (first at line 12)"
    assert loc_text(("pm_plans", 0, "triggers", 1, "point")) == "pm_plans[0].triggers[1].point"
    with pytest.raises(ValidationError) as exc:
        DeviceProfile.model_validate(
            {**PROFILE, "points": [PROFILE["points"][0], PROFILE["points"][0]]}
        )
    assert "points[1].name: duplicate point name 'p'" in str(exc.value)


def test_table_bit_tables() -> None:
    assert [t for t in Table if t.is_bit_table] == [Table.COIL, Table.DISCRETE]
