"""Decoding a planned block into readings: offsets, scale, range, non-finite floats, bits."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

import pytest

from collectors.modbus.decode import decode_request
from collectors.modbus.planner import plan_requests
from device_profiles.models import DeviceProfile
from facility.types import Quality

TS = datetime(2026, 11, 26, tzinfo=UTC)


def profile(points: list[dict[str, Any]]) -> DeviceProfile:
    return DeviceProfile.model_validate(
        {
            "schema_version": 1,
            "id": "t",
            "device_class": "PMP",
            "vendor": "v",
            "model": "m",
            "label": {"en": "t", "zh": "t"},
            "protocol": "modbus",
            "points": [
                {"label": {"en": p["name"], "zh": p["name"]}, "unit": "", **p} for p in points
            ],
        }
    )


def words(fmt: str, *values: Any) -> list[int]:
    data = struct.pack(fmt, *values)
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def read(prof: DeviceProfile, registers: list[int]) -> dict[str, tuple[Any, Quality]]:
    (request,) = plan_requests(prof.points, prof.modbus or _limits())
    readings = decode_request(prof, "HT", "HT-PMP-001", request, registers, TS)
    return {r.point: (r.value, r.quality) for r in readings}


def _limits() -> Any:
    from device_profiles.models import ModbusDefaults

    return ModbusDefaults()


CASES = [
    (
        "scaled uint16 keeps its decimals",
        [
            {
                "name": "f",
                "modbus": {"table": "holding", "address": 0, "type": "uint16"},
                "scale": 0.01,
            }
        ],
        words(">H", 4999),
        {"f": (49.99, Quality.GOOD)},
    ),
    (
        "offset applies after scale",
        [
            {
                "name": "t",
                "modbus": {"table": "holding", "address": 0, "type": "int16"},
                "scale": 0.1,
                "offset": -40,
            }
        ],
        words(">h", 655),
        {"t": (25.5, Quality.GOOD)},
    ),
    (
        "out of range is kept and flagged, never clamped",
        [
            {
                "name": "p",
                "modbus": {"table": "holding", "address": 0, "type": "uint16"},
                "scale": 0.1,
                "range": [0, 16],
            }
        ],
        words(">H", 250),
        {"p": (25.0, Quality.UNCERTAIN_RANGE)},
    ),
    (
        "NaN float is bad_device with no value",
        [{"name": "p", "modbus": {"table": "input", "address": 0, "type": "float32"}}],
        words(">f", float("nan")),
        {"p": (None, Quality.BAD_DEVICE)},
    ),
    (
        "CDAB float at an offset in the block",
        [
            {"name": "a", "modbus": {"table": "input", "address": 0, "type": "uint16"}},
            {
                "name": "p",
                "modbus": {"table": "input", "address": 2, "type": "float32", "order": "CDAB"},
            },
        ],
        [7, 0, *words(">f", 4.25)[::-1]],
        {"a": (7, Quality.GOOD), "p": (4.25, Quality.GOOD)},
    ),
    (
        "bits of one register",
        [
            {"name": "b0", "modbus": {"table": "input", "address": 6, "type": "bit", "bit": 0}},
            {"name": "b1", "modbus": {"table": "input", "address": 6, "type": "bit", "bit": 1}},
        ],
        [0b10],
        {"b0": (False, Quality.GOOD), "b1": (True, Quality.GOOD)},
    ),
    (
        "byte-swapped uint16 takes the codec's path",
        [
            {
                "name": "n",
                "modbus": {"table": "holding", "address": 0, "type": "uint16", "order": "BADC"},
            }
        ],
        [0x3412],
        {"n": (0x1234, Quality.GOOD)},
    ),
    (
        "string, NUL padded",
        [
            {
                "name": "s",
                "modbus": {"table": "holding", "address": 0, "type": "string", "length": 3},
            }
        ],
        [0x5632, 0x2E31, 0x0000],
        {"s": ("V2.1", Quality.GOOD)},
    ),
]


@pytest.mark.parametrize(
    ("points", "registers", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decode(
    points: list[dict[str, Any]], registers: list[int], expected: dict[str, tuple[Any, Quality]]
) -> None:
    assert read(profile(points), registers) == expected
