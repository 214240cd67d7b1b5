"""Table tests of the Modbus request planner (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.modbus.planner import ReadRequest, plan_requests
from device_profiles import load_library
from device_profiles.models import ModbusDefaults, Point, Table
from facility.errors import ConfigError

H, IN, C, D = Table.HOLDING, Table.INPUT, Table.COIL, Table.DISCRETE


def pt(name: str, table: str, address: int, type_: str = "uint16", **extra: Any) -> Point:
    modbus: dict[str, Any] = {"table": table, "address": address, "type": type_}
    modbus.update({k: v for k, v in extra.items() if k in ("bit", "length")})
    fields: dict[str, Any] = {k: v for k, v in extra.items() if k not in ("bit", "length")}
    if type_ == "bitfield":
        fields.setdefault("bits", {0: "a"})
    return Point.model_validate(
        {"name": name, "label": {"en": name, "zh": name}, "unit": "", "modbus": modbus, **fields}
    )


def limits(**kw: Any) -> ModbusDefaults:
    return ModbusDefaults.model_validate(kw)


def shape(requests: list[ReadRequest]) -> list[tuple[Table, int, int]]:
    return [(r.table, r.address, r.count) for r in requests]


CASES: list[tuple[str, list[Point], ModbusDefaults, list[tuple[Table, int, int]]]] = [
    ("single register", [pt("a", "holding", 0)], limits(), [(H, 0, 1)]),
    (
        "contiguous registers merge",
        [pt("a", "holding", 0), pt("b", "holding", 1), pt("c", "holding", 2)],
        limits(),
        [(H, 0, 3)],
    ),
    (
        "unsorted input is sorted",
        [pt("c", "holding", 2), pt("a", "holding", 0), pt("b", "holding", 1)],
        limits(),
        [(H, 0, 3)],
    ),
    (
        "gap within max_gap is read through",
        [pt("a", "holding", 0), pt("b", "holding", 9)],
        limits(max_gap=8),
        [(H, 0, 10)],
    ),
    (
        "gap one above max_gap splits",
        [pt("a", "holding", 0), pt("b", "holding", 10)],
        limits(max_gap=8),
        [(H, 0, 1), (H, 10, 1)],
    ),
    (
        "max_gap 0 merges only adjacent",
        [pt("a", "holding", 0), pt("b", "holding", 1), pt("c", "holding", 3)],
        limits(max_gap=0),
        [(H, 0, 2), (H, 3, 1)],
    ),
    (
        "32-bit values count two registers",
        [pt("a", "input", 0, "float32"), pt("b", "input", 2, "uint32")],
        limits(),
        [(IN, 0, 4)],
    ),
    (
        "64-bit values count four registers",
        [pt("a", "input", 0, "float64"), pt("b", "input", 4, "int64")],
        limits(),
        [(IN, 0, 8)],
    ),
    (
        "string uses its length",
        [pt("s", "holding", 30, "string", length=10), pt("n", "holding", 40)],
        limits(),
        [(H, 30, 11)],
    ),
    (
        "tables never mix",
        [pt("a", "holding", 0), pt("b", "input", 1)],
        limits(),
        [(H, 0, 1), (IN, 1, 1)],
    ),
    (
        "table order is coil, discrete, holding, input",
        [
            pt("i", "input", 0),
            pt("h", "holding", 0),
            pt("d", "discrete", 0, "bool"),
            pt("c", "coil", 0, "bool"),
        ],
        limits(),
        [(C, 0, 1), (D, 0, 1), (H, 0, 1), (IN, 0, 1)],
    ),
    (
        "bits of one register share one read",
        [pt("a", "input", 6, "bit", bit=0), pt("b", "input", 6, "bit", bit=1)],
        limits(),
        [(IN, 6, 1)],
    ),
    (
        "cap at the device maximum",
        [pt(f"p{n}", "holding", n) for n in range(10)],
        limits(max_registers_per_request=4),
        [(H, 0, 4), (H, 4, 4), (H, 8, 2)],
    ),
    (
        "cap at the protocol maximum of 125 registers",
        [pt(f"p{n}", "holding", n) for n in range(130)],
        limits(),
        [(H, 0, 125), (H, 125, 5)],
    ),
    (
        "a 2-register value never straddles the cap",
        [pt("a", "holding", 0), pt("b", "holding", 1), pt("f", "holding", 2, "float32")],
        limits(max_registers_per_request=3),
        [(H, 0, 2), (H, 2, 2)],
    ),
    (
        "coils merge up to 2000 bits",
        [pt("c0", "coil", 0, "bool"), pt("c1999", "coil", 1999, "bool")],
        limits(max_gap=124),
        [(C, 0, 1), (C, 1999, 1)],
    ),
    (
        "contiguous coils across the bit cap",
        [pt(f"c{n}", "coil", n, "bool") for n in range(2001)],
        limits(),
        [(C, 0, 2000), (C, 2000, 1)],
    ),
    (
        "device bit maximum",
        [pt(f"c{n}", "coil", n, "bool") for n in range(5)],
        limits(max_bits_per_request=2),
        [(C, 0, 2), (C, 2, 2), (C, 4, 1)],
    ),
    (
        "one request per point workaround",
        [pt("a", "holding", 0), pt("b", "holding", 1), pt("f", "holding", 2, "float32")],
        limits(one_request_per_point=True),
        [(H, 0, 1), (H, 1, 1), (H, 2, 2)],
    ),
    (
        "one request per point even for bits of one register",
        [pt("a", "input", 6, "bit", bit=0), pt("b", "input", 6, "bit", bit=1)],
        limits(one_request_per_point=True),
        [(IN, 6, 1), (IN, 6, 1)],
    ),
    (
        "highest address",
        [pt("a", "holding", 65534, "uint16"), pt("b", "holding", 65535)],
        limits(),
        [(H, 65534, 2)],
    ),
    ("empty", [], limits(), []),
]


@pytest.mark.parametrize(
    ("points", "device", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan(points: list[Point], device: ModbusDefaults, expected: list[Any]) -> None:
    requests = plan_requests(points, device)
    assert shape(requests) == expected
    # every point is carried by exactly one request that covers its registers
    carried = [name for r in requests for name in r.points]
    assert sorted(carried) == sorted(p.name for p in points)
    for request in requests:
        for name in request.points:
            point = next(p for p in points if p.name == name)
            assert point.modbus is not None
            assert request.address <= point.modbus.address
            assert point.modbus.end <= request.end


def test_value_wider_than_device_maximum_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"point f: 4 registers do not fit .*maximum 2"):
        plan_requests([pt("f", "holding", 0, "float64")], limits(max_registers_per_request=2))


MODBUS_PROFILES = sorted(k for k, p in load_library().items() if p.protocol == "modbus")


def test_every_modbus_class_is_planned() -> None:
    assert len(MODBUS_PROFILES) >= 3  # pump, pool drainage, lighting


@pytest.mark.parametrize("profile_id", MODBUS_PROFILES)
def test_shipped_modbus_profiles_plan_in_few_requests(profile_id: str) -> None:
    profile = load_library()[profile_id]
    assert profile.modbus is not None
    requests = plan_requests(profile.points, profile.modbus)
    tables = {p.modbus.table for p in profile.points if p.modbus}
    # one block per table is what these compact maps allow; never one request per point
    assert len(requests) <= len(tables) + 2
    assert len(requests) < len(profile.points)
