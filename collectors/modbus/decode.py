"""Turn the registers of one planned request into readings (pure).

Each point is cut from the block at its offset, decoded with the profile's type and order,
scaled, and range-checked: a value outside the profile's valid range is kept, with quality
``uncertain_range`` — never clamped silently; a float that is NaN/inf (a sensor's "no value")
is ``bad_device`` with no value, since 0 would be a lie and JSON cannot carry NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from collectors.modbus.planner import ReadRequest
from device_profiles.codec import decode, to_engineering
from device_profiles.models import DeviceProfile, Point
from facility.types import PointValue, Quality, Reading


def quality_of(point: Point, value: PointValue) -> tuple[PointValue, Quality]:
    """Range check of one engineering value."""
    if isinstance(value, float) and not math.isfinite(value):
        return None, Quality.BAD_DEVICE
    if (
        point.range is not None
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and not point.range[0] <= value <= point.range[1]
    ):
        return value, Quality.UNCERTAIN_RANGE
    return value, Quality.GOOD


def decode_request(
    profile: DeviceProfile,
    site: str,
    asset_no: str,
    request: ReadRequest,
    registers: Sequence[int],
    collected_ts: datetime,
) -> list[Reading]:
    """Readings for every point of ``request`` from the block's ``registers``."""
    readings = []
    for name in request.points:
        point = profile.point(name)
        assert point.modbus is not None
        offset = point.modbus.address - request.address
        words = registers[offset : offset + point.modbus.count]
        raw = decode(point.modbus, profile.order_of(point), words)
        value, quality = quality_of(point, to_engineering(point, raw))
        readings.append(
            Reading(site, asset_no, name, value, point.unit, quality, None, collected_ts)
        )
    return readings


def failed_request(
    profile: DeviceProfile,
    site: str,
    asset_no: str,
    request: ReadRequest,
    quality: Quality,
    collected_ts: datetime,
) -> list[Reading]:
    """Readings for a block that could not be read: no value, a bad quality."""
    return [
        Reading(site, asset_no, name, None, profile.point(name).unit, quality, None, collected_ts)
        for name in request.points
    ]
