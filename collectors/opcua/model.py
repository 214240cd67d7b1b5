"""The pure core of the OPC UA collector: no I/O, no asyncua types.

- where a point lives: ``browse_path_of`` (relative to ``Objects/<node_root>``, or absolute
  from ``Objects``) and the profile's ``node_id``;
- what a status code means for a reading (``quality_of_status``), by the OPC UA severity bits
  and a few well-known codes;
- how a cached or read ``Sample`` becomes a ``Reading`` (type check against the profile,
  safe numeric widening — a Float where the profile says Double, as PLCs often expose —,
  scale/offset, range check, the timestamp the profile asks for);
- the arithmetic of subscriptions (keep-alive count, when a session counts as stale) and of
  OperationLimits (``chunked``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast

from device_profiles.codec import to_engineering
from device_profiles.models import Point, TimestampSource
from facility.types import PointValue, Quality, Reading

T = TypeVar("T")

# OPC UA built-in type ids (Part 6, 5.1.2) of the profile's data types.
VARIANT_TYPE_IDS: dict[str, int] = {
    "Boolean": 1,
    "Int16": 4,
    "UInt16": 5,
    "Int32": 6,
    "UInt32": 7,
    "Int64": 8,
    "Float": 10,
    "Double": 11,
    "String": 12,
}
VARIANT_TYPE_NAMES: dict[int, str] = {
    -1: "an array",  # Sample.variant_type of an array value: the profile has scalars only
    0: "Null",
    2: "SByte",
    3: "Byte",
    9: "UInt64",
    13: "DateTime",
    **{v: k for k, v in VARIANT_TYPE_IDS.items()},
}
NUMERIC_TYPES = frozenset({"Int16", "UInt16", "Int32", "UInt32", "Int64", "Float", "Double"})

# Server type id -> the profile types that hold every value of it exactly (safe widening),
# within one family: float to double, integer to a wider integer. Narrowing (a Double where
# the profile says Float, an Int32 where it says Int16) stays a type mismatch, and so does an
# integer where the profile says a float: that is usually raw counts wanting a scale.
SAFE_WIDENING: dict[int, frozenset[str]] = {
    2: frozenset({"Int16", "Int32", "Int64"}),  # SByte
    3: frozenset({"Int16", "UInt16", "Int32", "UInt32", "Int64"}),  # Byte
    4: frozenset({"Int32", "Int64"}),  # Int16
    5: frozenset({"Int32", "UInt32", "Int64"}),  # UInt16
    6: frozenset({"Int64"}),  # Int32
    7: frozenset({"Int64"}),  # UInt32
    10: frozenset({"Double"}),  # Float
}
_FLOAT32 = struct.Struct("<f")


def widens(variant_type: int, data_type: str) -> bool:
    """True if a value of OPC UA type ``variant_type`` fits the profile's ``data_type``
    without loss (the same type, or a safe widening)."""
    return variant_type == VARIANT_TYPE_IDS[data_type] or data_type in SAFE_WIDENING.get(
        variant_type, frozenset()
    )


def float32_as_written(value: float) -> float:
    """A Float value as the shortest decimal that is the same float32: the device's 2.3 is
    2.3, not 2.299999952316284 (its double expansion after widening)."""
    if not math.isfinite(value):
        return value
    for digits in range(6, 10):
        short = float(f"{value:.{digits}g}")
        if _FLOAT32.unpack(_FLOAT32.pack(short))[0] == value:
            return short
    return value


DEFAULT_OPERATION_LIMIT = 1000  # when the server does not publish OperationLimits (or says 0)

# Status codes by value (Part 4, 7.34; checked against asyncua's table in the unit tests).
SEVERITY_MASK = 0xC000_0000
CODE_MASK = 0xFFFF_0000  # the low 16 bits are info bits (overflow, limits)
OVERFLOW_BITS = 0x0000_0480  # InfoType DataValue + Overflow: the server's queue dropped values
GOOD = 0x0000_0000
UNCERTAIN = 0x4000_0000

COMM_CODES = frozenset(
    {
        0x8005_0000,  # BadCommunicationError
        0x800A_0000,  # BadTimeout
        0x800C_0000,  # BadShutdown
        0x800D_0000,  # BadServerNotConnected
        0x800E_0000,  # BadServerHalted
        0x8031_0000,  # BadNoCommunication
        0x8032_0000,  # BadWaitingForInitialData
        0x808A_0000,  # BadNotConnected
        0x808D_0000,  # BadOutOfService
        0x80AE_0000,  # BadConnectionClosed
    }
)
CONFIG_CODES = frozenset(
    {
        0x801F_0000,  # BadUserAccessDenied
        0x8033_0000,  # BadNodeIdInvalid
        0x8034_0000,  # BadNodeIdUnknown
        0x8035_0000,  # BadAttributeIdInvalid
        0x8036_0000,  # BadIndexRangeInvalid
        0x8038_0000,  # BadDataEncodingInvalid
        0x803A_0000,  # BadNotReadable
        0x8060_0000,  # BadBrowseNameInvalid
        0x806F_0000,  # BadNoMatch
        0x8074_0000,  # BadTypeMismatch
    }
)
UNCERTAIN_RANGE_CODES = frozenset({0x4094_0000})  # UncertainEngineeringUnitsExceeded


def quality_of_status(status: int) -> Quality:
    """The reading quality an OPC UA status code stands for.

    Good is good (the range check may still make it uncertain). Uncertain codes keep their
    value: engineering-units-exceeded is ``uncertain_range``, every other uncertain code
    (last usable value, sub-normal, sensor not accurate, ...) ``uncertain_stale``. Bad codes
    carry no value: the communication family (the server lost its data source, timed out,
    is shutting down) is ``bad_comm``; unknown node, wrong type, access denied is
    ``bad_config`` (the profile disagrees with the server); every other Bad code (device or
    sensor failure, ...) is ``bad_device``.
    """
    severity = status & SEVERITY_MASK
    code = status & CODE_MASK
    if severity == GOOD:
        return Quality.GOOD
    if severity == UNCERTAIN:
        return Quality.UNCERTAIN_RANGE if code in UNCERTAIN_RANGE_CODES else Quality.UNCERTAIN_STALE
    if code in COMM_CODES:
        return Quality.BAD_COMM
    if code in CONFIG_CODES:
        return Quality.BAD_CONFIG
    return Quality.BAD_DEVICE


def is_overflow(status: int) -> bool:
    """The server's monitored-item queue overflowed before this value (values were lost)."""
    return status & OVERFLOW_BITS == OVERFLOW_BITS


@dataclass(frozen=True, slots=True)
class Sample:
    """One value as the server delivered it (a notification or a Read result)."""

    value: PointValue
    variant_type: int  # OPC UA built-in type id of the value; 0 (Null) when there is none
    status: int
    status_name: str
    source_ts: datetime | None
    server_ts: datetime | None
    received_ts: datetime  # collector clock: when the notification or Read answer arrived


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a point has no usable value: a short code for counters, a message for the log."""

    code: str
    message: str


def browse_path_of(point: Point, node_root: str) -> tuple[str, ...] | None:
    """The point's browse path from ``Objects`` as browse names, or None without one.

    ``Level`` below asset ``HT-TNK-001`` is ``("HT-TNK-001", "Level")``; a path starting
    with ``Objects/`` is absolute. Empty parts (``a//b``, a trailing ``/``) are ignored.
    """
    if point.opcua is None or not point.opcua.browse_path:
        return None
    parts = tuple(part for part in point.opcua.browse_path.split("/") if part)
    if parts and parts[0] == "Objects":
        return parts[1:]
    return (node_root, *parts)


def path_text(path: Sequence[str]) -> str:
    return "Objects/" + "/".join(path)


def chunked(items: Sequence[T], limit: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``limit`` (a server's OperationLimits).

    A limit of 0 or less means "not published": ``DEFAULT_OPERATION_LIMIT``.
    """
    size = limit if limit > 0 else DEFAULT_OPERATION_LIMIT
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batch_count(count: int, limit: int) -> int:
    """How many calls ``chunked`` makes for ``count`` items."""
    size = limit if limit > 0 else DEFAULT_OPERATION_LIMIT
    return -(-count // size)


def keepalive_count(publishing_ms: float, target_ms: float = 1000.0) -> int:
    """Publishing intervals between keep-alives so an idle subscription still says it is
    alive about every ``target_ms`` (and at least every publishing interval)."""
    if publishing_ms <= 0:
        return 1
    return max(1, math.ceil(target_ms / publishing_ms))


def stale_after_s(publishing_ms: float, keepalive: int) -> float:
    """Silence (no notification, no keep-alive) after which the session counts as dead:
    three keep-alive periods."""
    return 3 * max(publishing_ms, 1.0) * max(keepalive, 1) / 1000


def _engineering(point: Point, value: PointValue) -> tuple[PointValue, Quality]:
    if isinstance(value, float) and not math.isfinite(value):
        return None, Quality.BAD_DEVICE  # a sensor's "no value": JSON cannot carry NaN
    if value is None:
        return None, Quality.BAD_DEVICE
    if isinstance(value, int | float) and not isinstance(value, bool):
        engineering = to_engineering(point, value)
        if (
            point.range is not None
            and isinstance(engineering, int | float)
            and not point.range[0] <= engineering <= point.range[1]
        ):
            return engineering, Quality.UNCERTAIN_RANGE
        return engineering, Quality.GOOD
    return value, Quality.GOOD


def reading_of(
    point: Point,
    sample: Sample,
    site: str,
    asset_no: str,
    collected_ts: datetime,
) -> tuple[Reading, Problem | None]:
    """The reading of one point from the server's sample, and its problem if it has one.

    A value whose type is not the profile's ``data_type`` is ``bad_config`` without a
    value (an Int32 where the profile says Boolean would be a plausible wrong value), unless
    the profile's type holds it exactly (``widens``: a Float where it says Double).
    """
    assert point.opcua is not None
    status_quality = quality_of_status(sample.status)
    value: PointValue = None
    quality: Quality
    problem: Problem | None = None
    if status_quality in (Quality.BAD_COMM, Quality.BAD_DEVICE, Quality.BAD_CONFIG):
        quality = status_quality
        problem = Problem(sample.status_name, f"server answers {sample.status_name}")
    elif not widens(sample.variant_type, point.opcua.data_type):
        quality = Quality.BAD_CONFIG
        found = VARIANT_TYPE_NAMES.get(sample.variant_type, f"type {sample.variant_type}")
        problem = Problem(
            "type_mismatch",
            f"server sends {found}, the profile expects {point.opcua.data_type}",
        )
    else:
        raw = sample.value
        if (
            sample.variant_type == VARIANT_TYPE_IDS["Float"]
            and point.opcua.data_type == "Double"
            and isinstance(raw, float)
        ):
            raw = float32_as_written(raw)  # widened: no float32 noise digits in a Double
        value, quality = _engineering(point, raw)
        if quality is Quality.BAD_DEVICE:
            problem = Problem("no_value", f"server sends {sample.value!r}, not a number")
        elif status_quality is not Quality.GOOD:
            quality = status_quality  # the server's own uncertainty wins over ours
    if point.timestamp is TimestampSource.SOURCE:
        source_ts = sample.source_ts or sample.server_ts
    elif point.timestamp is TimestampSource.SERVER:
        source_ts = sample.server_ts or sample.source_ts
    else:
        source_ts = sample.received_ts
    reading = Reading(
        site, asset_no, point.name, value, point.unit, quality, source_ts, collected_ts
    )
    return reading, problem


def good_reading(
    point: Point,
    value: PointValue,
    variant_type: int,
    status: int,
    source_ts: datetime | None,
    server_ts: datetime | None,
    received_ts: datetime,
    site: str,
    asset_no: str,
    collected_ts: datetime,
) -> Reading | None:
    """The steady state's shortcut: the reading of a Good value in the profile's own type
    — exactly what ``reading_of`` gives for it, without a ``Sample`` on the way —, or None
    for anything else (``reading_of`` decides, and says the problem)."""
    opcua = point.opcua
    if status or opcua is None or variant_type != VARIANT_TYPE_IDS[opcua.data_type]:
        return None
    kind = type(value)
    if kind is float or kind is int:  # _engineering's numeric case, inlined (the hot path)
        number = cast(float, value)
        if kind is float and not math.isfinite(number):
            return None
        if point.scale != 1.0 or point.offset != 0.0:
            number = cast(float, to_engineering(point, number))
        limits = point.range
        quality = (
            Quality.UNCERTAIN_RANGE
            if limits is not None and not limits[0] <= number <= limits[1]
            else Quality.GOOD
        )
        value = number
    else:
        value, quality = _engineering(point, value)
        if quality is Quality.BAD_DEVICE:
            return None
    timestamp = point.timestamp
    if timestamp is TimestampSource.SOURCE:
        source_ts = source_ts or server_ts
    elif timestamp is TimestampSource.SERVER:
        source_ts = server_ts or source_ts
    else:
        source_ts = received_ts
    return Reading(site, asset_no, point.name, value, point.unit, quality, source_ts, collected_ts)


def missing_reading(
    point: Point, quality: Quality, site: str, asset_no: str, collected_ts: datetime
) -> Reading:
    """A point without a value (not resolved, no notification yet, session down)."""
    return Reading(site, asset_no, point.name, None, point.unit, quality, None, collected_ts)
