"""Turn the registers of one planned request into readings (pure).

Each point is cut from the block at its offset, decoded with the profile's type and order,
scaled, and range-checked: a value outside the profile's valid range is kept, with quality
``uncertain_range`` — never clamped silently; a float that is NaN/inf (a sensor's "no value")
is ``bad_device`` with no value, since 0 would be a lie and JSON cannot carry NaN.

The hot path: every poll decodes every point, so each request is compiled once into slots
(offset, a decoder specialised for the point's type and order, scale, range) and a poll only
runs those (about 4x cheaper than resolving the profile per point each time).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from collectors.modbus.planner import ReadRequest
from device_profiles.codec import RawValue, decimal_places, decode
from device_profiles.models import ByteOrder, DataType, DeviceProfile, ModbusAddress, Point
from facility.types import PointValue, Quality, Reading

Decoder = Callable[[Sequence[int]], RawValue]


def _first(words: Sequence[int]) -> RawValue:
    return int(words[0])


def _flag(words: Sequence[int]) -> RawValue:
    return bool(words[0])


def _bit(bit: int, words: Sequence[int]) -> RawValue:
    return bool((words[0] >> bit) & 1)


def _decoder(address: ModbusAddress, order: ByteOrder) -> Decoder:
    """The cheapest correct decoder for one point (the codec's, or a shortcut to it)."""
    if address.type is DataType.BOOL:
        return _flag
    if address.type is DataType.BIT:
        assert address.bit is not None
        return partial(_bit, address.bit)
    if address.type in (DataType.UINT16, DataType.BITFIELD) and not order.byte_swap:
        return _first
    return partial(decode, address, order)


@dataclass(frozen=True, slots=True)
class Slot:
    """One point of a request, ready to decode."""

    point: Point
    start: int  # offset of the point's first register in the block
    stop: int
    decoder: Decoder
    scaled: bool
    places: int | None  # decimals of scale/offset: scaled integers are rounded to them
    low: float
    high: float
    plain: bool  # one register as is (uint16, no scale): the value is the word itself
    name: str  # the point's name and unit, copied: read for every reading of every poll
    unit: str


def _places(point: Point) -> int | None:
    """Decimals a scaled integer is rounded to (0.1 * 3 gives 0.3, not 0.30000000000000004):
    the codec's rule, computed once per point."""
    scale, offset = decimal_places(point.scale), decimal_places(point.offset)
    return None if scale is None or offset is None else max(scale, offset)


def compile_request(profile: DeviceProfile, request: ReadRequest) -> tuple[Slot, ...]:
    """Slots for every point of ``request`` (done once per plan, not per poll)."""
    slots = []
    for name in request.points:
        point = profile.point(name)
        assert point.modbus is not None
        start = point.modbus.address - request.address
        scaled = point.scale != 1.0 or point.offset != 0.0
        decoder = _decoder(point.modbus, profile.order_of(point))
        places = _places(point)
        low, high = point.range if point.range is not None else (-math.inf, math.inf)
        plain = decoder is _first and not scaled
        slots.append(
            Slot(
                point,
                start,
                start + point.modbus.count,
                decoder,
                scaled,
                places,
                low,
                high,
                plain,
                point.name,
                point.unit,
            )
        )
    return tuple(slots)


def decode_slots(
    slots: Sequence[Slot],
    site: str,
    asset_no: str,
    registers: Sequence[int],
    collected_ts: datetime,
) -> list[Reading]:
    """Readings for every slot of a request from the block's ``registers``.

    Readings are made with ``tuple.__new__`` (what ``Reading``'s own constructor does, minus
    its Python frame: 0.16 against 0.27 µs a reading), so the field order here is checked
    by the tests, not by mypy: site, asset_no, point, value, unit, quality, source_ts,
    collected_ts."""
    readings: list[Reading] = []
    append = readings.append
    good, uncertain = Quality.GOOD, Quality.UNCERTAIN_RANGE
    for slot in slots:
        if slot.plain:  # most points of most devices: no slice, no decoder call
            word = registers[slot.start]
            append(
                _new_reading(
                    Reading,
                    (
                        site,
                        asset_no,
                        slot.name,
                        word,
                        slot.unit,
                        good if slot.low <= word <= slot.high else uncertain,
                        None,
                        collected_ts,
                    ),
                )
            )
            continue
        point = slot.point
        raw = slot.decoder(registers[slot.start : slot.stop])
        value: PointValue = raw
        quality = good
        if isinstance(raw, bool | str):
            pass
        else:
            if slot.scaled:
                value = raw * point.scale + point.offset
                if isinstance(raw, int) and slot.places is not None:
                    value = round(value, slot.places)
            if isinstance(value, float) and not math.isfinite(value):
                value, quality = None, Quality.BAD_DEVICE
            elif not slot.low <= value <= slot.high:  # type: ignore[operator]
                quality = uncertain
        append(
            _new_reading(
                Reading,
                (site, asset_no, slot.name, value, slot.unit, quality, None, collected_ts),
            )
        )
    return readings


_new_reading = tuple.__new__


def decode_request(
    profile: DeviceProfile,
    site: str,
    asset_no: str,
    request: ReadRequest,
    registers: Sequence[int],
    collected_ts: datetime,
) -> list[Reading]:
    """Readings for every point of ``request`` (compiles the request; for one-off use)."""
    return decode_slots(compile_request(profile, request), site, asset_no, registers, collected_ts)


def failed_slots(
    slots: Sequence[Slot], site: str, asset_no: str, quality: Quality, collected_ts: datetime
) -> list[Reading]:
    """Readings for a block that could not be read: no value, a bad quality."""
    return [
        Reading(site, asset_no, s.point.name, None, s.point.unit, quality, None, collected_ts)
        for s in slots
    ]
