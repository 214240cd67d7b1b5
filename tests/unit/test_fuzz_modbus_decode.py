"""Fuzzing Modbus register decoding: any words from a device, any type, order, scale and range
in a valid profile give readings the bus can carry (or a project error), nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from collectors.modbus.decode import decode_request
from collectors.modbus.planner import plan_requests
from device_profiles.models import ByteOrder, DataType, DeviceProfile, ModbusDefaults
from facility.errors import FacilityError
from facility.payload import DeviceMessage, decode, device_topic, encode
from facility.types import Quality
from tests.unit.fuzz_support import FUZZ

TS = datetime(2026, 11, 26, tzinfo=UTC)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@st.composite
def points(draw: st.DrawFn) -> dict[str, Any]:
    data_type = draw(st.sampled_from([t for t in DataType if t is not DataType.BOOL]))
    modbus: dict[str, Any] = {
        "table": draw(st.sampled_from(["holding", "input"])),
        "address": 0,
        "type": data_type.value,
        "order": draw(st.sampled_from(list(ByteOrder))).value,
    }
    if data_type is DataType.BIT:
        modbus["bit"] = draw(st.integers(0, 15))
    if data_type is DataType.STRING:
        modbus["length"] = draw(st.integers(1, 125))
    point: dict[str, Any] = {
        "name": "p",
        "label": {"en": "p", "zh": "p"},
        "unit": "",
        "modbus": modbus,
    }
    if draw(st.booleans()) and data_type not in (DataType.BIT, DataType.STRING):
        point["scale"] = draw(NUMBERS.filter(lambda x: x != 0))
        point["offset"] = draw(NUMBERS)
    if draw(st.booleans()) and data_type not in (DataType.BIT, DataType.STRING):
        low, high = sorted([draw(NUMBERS), draw(NUMBERS)])
        point["range"] = [low, high]
    return point


def profile(point: dict[str, Any]) -> DeviceProfile:
    return DeviceProfile.model_validate(
        {
            "schema_version": 1,
            "id": "t",
            "device_class": "PMP",
            "vendor": "v",
            "model": "m",
            "label": {"en": "t", "zh": "t"},
            "protocol": "modbus",
            "points": [point],
        }
    )


@FUZZ
@given(points(), st.lists(st.integers(0, 0xFFFF), min_size=125, max_size=125))
def test_any_registers_decode_to_a_reading_the_bus_carries(
    point: dict[str, Any], words: list[int]
) -> None:
    try:
        prof = profile(point)
    except ValidationError:
        assume(False)  # the profile loader refuses it: never reaches a collector
        return
    (request,) = plan_requests(prof.points, prof.modbus or ModbusDefaults())
    try:
        readings = decode_request(prof, "HT", "HT-PMP-001", request, words[: request.count], TS)
    except FacilityError:
        return
    [reading] = readings
    if reading.value is None:
        assert reading.quality is Quality.BAD_DEVICE
    message = DeviceMessage("HT", "HT-PMP-001", "PMP", 1, TS, tuple(readings))
    # what the collector would publish, the gateway can decode: no NaN, no oversized string
    [back] = decode(device_topic("HT", "HT-PMP-001"), encode(message)).readings
    assert back.quality is reading.quality
