"""The pure core of the OPC UA collector: status codes, readings, browse paths, batching."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncua.ua.status_codes import StatusCodes
from hypothesis import given
from hypothesis import strategies as st

from collectors.opcua.model import (
    COMM_CODES,
    CONFIG_CODES,
    NUMERIC_TYPES,
    VARIANT_TYPE_IDS,
    Sample,
    batch_count,
    browse_path_of,
    chunked,
    float32_as_written,
    good_reading,
    is_overflow,
    keepalive_count,
    quality_of_status,
    reading_of,
    stale_after_s,
)
from device_profiles.models import Point
from facility.types import Quality
from tests.unit.fuzz_support import FUZZ

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SOURCE, SERVER, RECEIVED, COLLECTED = (T0 + timedelta(seconds=s) for s in (0, 1, 2, 3))


@pytest.mark.parametrize(
    ("name", "quality"),
    [
        ("Good", Quality.GOOD),
        ("GoodClamped", Quality.GOOD),
        ("UncertainLastUsableValue", Quality.UNCERTAIN_STALE),
        ("UncertainSensorNotAccurate", Quality.UNCERTAIN_STALE),
        ("UncertainEngineeringUnitsExceeded", Quality.UNCERTAIN_RANGE),
        ("BadCommunicationError", Quality.BAD_COMM),
        ("BadTimeout", Quality.BAD_COMM),
        ("BadNotConnected", Quality.BAD_COMM),
        ("BadNoCommunication", Quality.BAD_COMM),
        ("BadWaitingForInitialData", Quality.BAD_COMM),
        ("BadOutOfService", Quality.BAD_COMM),
        ("BadNodeIdUnknown", Quality.BAD_CONFIG),
        ("BadTypeMismatch", Quality.BAD_CONFIG),
        ("BadUserAccessDenied", Quality.BAD_CONFIG),
        ("BadNotReadable", Quality.BAD_CONFIG),
        ("BadNoMatch", Quality.BAD_CONFIG),
        ("BadDeviceFailure", Quality.BAD_DEVICE),
        ("BadSensorFailure", Quality.BAD_DEVICE),
        ("BadInternalError", Quality.BAD_DEVICE),
    ],
)
def test_status_code_to_quality(name: str, quality: Quality) -> None:
    code = getattr(StatusCodes, name)
    assert quality_of_status(code) is quality
    # info bits (overflow, limits) do not change what the code means
    assert quality_of_status(code | 0x0480) is quality


def test_status_code_constants_match_the_opc_ua_table() -> None:
    names = {getattr(StatusCodes, n): n for n in dir(StatusCodes) if not n.startswith("_")}
    assert all(code in names for code in COMM_CODES | CONFIG_CODES)
    assert {names[c] for c in COMM_CODES} >= {"BadCommunicationError", "BadTimeout"}
    assert {names[c] for c in CONFIG_CODES} >= {"BadNodeIdUnknown", "BadTypeMismatch"}


@pytest.mark.parametrize(
    ("status", "overflow"),
    [(0x0000_0000, False), (0x0000_0480, True), (0x0000_0400, False), (0x4090_0480, True)],
)
def test_overflow_info_bits(status: int, overflow: bool) -> None:
    assert is_overflow(status) is overflow


def point(**fields: Any) -> Point:
    opcua = {"browse_path": "Level", "data_type": "Double", **fields.pop("opcua", {})}
    return Point.model_validate(
        {"name": "level", "label": {"en": "L", "zh": "L"}, "unit": "m", "opcua": opcua, **fields}
    )


@pytest.mark.parametrize(
    ("browse_path", "expected"),
    [
        ("Level", ("HT-TNK-001", "Level")),
        ("Zones/Zone01/State", ("HT-TNK-001", "Zones", "Zone01", "State")),
        ("Objects/HT-TNK-009/Level", ("HT-TNK-009", "Level")),
        ("JockeyPump//Running/", ("HT-TNK-001", "JockeyPump", "Running")),
        (None, None),
    ],
)
def test_browse_path_relative_to_the_node_root_or_absolute(
    browse_path: str | None, expected: tuple[str, ...] | None
) -> None:
    opcua = {"browse_path": browse_path}
    if browse_path is None:
        opcua["node_id"] = "ns=2;s=HT-TNK-001.Level"
    assert browse_path_of(point(opcua=opcua), "HT-TNK-001") == expected


@pytest.mark.parametrize(
    ("count", "limit", "sizes"),
    [
        (0, 4, []),
        (10, 4, [4, 4, 2]),
        (8, 4, [4, 4]),
        (3, 10_000, [3]),
        (2500, 0, [1000, 1000, 500]),  # not published: 1000 per call
        (5, -1, [5]),
    ],
)
def test_batches_stay_within_operation_limits(count: int, limit: int, sizes: list[int]) -> None:
    items = list(range(count))
    batches = list(chunked(items, limit))
    assert [len(b) for b in batches] == sizes
    assert [i for b in batches for i in b] == items
    assert batch_count(count, limit) == len(sizes)


@pytest.mark.parametrize(
    ("publishing_ms", "keepalive", "stale_s"),
    [(1000, 1, 3.0), (500, 2, 3.0), (100, 10, 3.0), (250, 4, 3.0), (5000, 1, 15.0), (0, 1, 0.003)],
)
def test_keepalive_about_every_second_and_stale_after_three(
    publishing_ms: float, keepalive: int, stale_s: float
) -> None:
    assert keepalive_count(publishing_ms) == keepalive
    assert stale_after_s(publishing_ms, keepalive) == pytest.approx(stale_s)


def sample(value: Any, variant: str | int = "Double", status: int = 0, **ts: Any) -> Sample:
    return Sample(
        value=value,
        variant_type=VARIANT_TYPE_IDS[variant] if isinstance(variant, str) else variant,
        status=status,
        status_name="Good" if status == 0 else "BadSomething",
        source_ts=ts.get("source", SOURCE),
        server_ts=ts.get("server", SERVER),
        received_ts=RECEIVED,
    )


def test_good_value_in_range_with_the_source_time() -> None:
    reading, problem = reading_of(
        point(range=(0, 3.5), timestamp="source"), sample(2.5), "HT", "HT-TNK-001", COLLECTED
    )
    assert problem is None
    assert (reading.value, reading.quality, reading.unit) == (2.5, Quality.GOOD, "m")
    assert (reading.source_ts, reading.collected_ts) == (SOURCE, COLLECTED)


@pytest.mark.parametrize(
    ("timestamp", "source", "server", "expected"),
    [
        ("source", SOURCE, SERVER, SOURCE),
        ("source", None, SERVER, SERVER),  # no device clock: the server's
        ("server", SOURCE, SERVER, SERVER),
        ("server", SOURCE, None, SOURCE),
        ("collector", SOURCE, SERVER, RECEIVED),  # when the collector learned the value
    ],
)
def test_timestamp_as_the_profile_says(
    timestamp: str, source: datetime | None, server: datetime | None, expected: datetime
) -> None:
    reading, _ = reading_of(
        point(timestamp=timestamp), sample(1.0, source=source, server=server), "HT", "A", COLLECTED
    )
    assert reading.source_ts == expected


def test_out_of_range_keeps_the_value_as_uncertain() -> None:
    reading, problem = reading_of(point(range=(0, 3.5)), sample(5.25), "HT", "A", COLLECTED)
    assert (reading.value, reading.quality, problem) == (5.25, Quality.UNCERTAIN_RANGE, None)


def test_scale_and_offset_apply_to_numbers_only() -> None:
    scaled, _ = reading_of(point(scale=0.1, offset=1), sample(25.0), "HT", "A", COLLECTED)
    assert scaled.value == pytest.approx(3.5)
    flag = point(opcua={"data_type": "Boolean"}, scale=2)
    reading, _ = reading_of(flag, sample(True, "Boolean"), "HT", "A", COLLECTED)
    assert reading.value is True


def test_a_value_of_the_wrong_type_is_bad_config_without_a_value() -> None:
    reading, problem = reading_of(point(), sample(3, "Int32"), "HT", "A", COLLECTED)
    assert (reading.value, reading.quality) == (None, Quality.BAD_CONFIG)
    assert problem is not None
    assert problem.code == "type_mismatch"
    assert problem.message == "server sends Int32, the profile expects Double"
    array, problem = reading_of(point(), sample(None, -1), "HT", "A", COLLECTED)
    assert array.quality is Quality.BAD_CONFIG
    assert problem is not None
    assert "array" in problem.message


@pytest.mark.parametrize(
    ("status", "quality"),
    [
        (StatusCodes.BadCommunicationError, Quality.BAD_COMM),
        (StatusCodes.BadDeviceFailure, Quality.BAD_DEVICE),
        (StatusCodes.BadNodeIdUnknown, Quality.BAD_CONFIG),
    ],
)
def test_a_bad_status_carries_no_value(status: int, quality: Quality) -> None:
    reading, problem = reading_of(point(), sample(None, 0, status), "HT", "A", COLLECTED)
    assert (reading.value, reading.quality) == (None, quality)
    assert problem is not None
    assert problem.code == "BadSomething"


def test_an_uncertain_status_keeps_the_value_and_says_so() -> None:
    status = StatusCodes.UncertainLastUsableValue
    reading, problem = reading_of(point(range=(0, 3.5)), sample(1.0, status=status), "HT", "A", T0)
    assert (reading.value, reading.quality, problem) == (1.0, Quality.UNCERTAIN_STALE, None)


def test_nan_is_no_value_never_a_number() -> None:
    reading, problem = reading_of(point(), sample(math.nan), "HT", "A", COLLECTED)
    assert (reading.value, reading.quality) == (None, Quality.BAD_DEVICE)
    assert problem is not None
    assert problem.code == "no_value"


@pytest.mark.parametrize(
    ("sent", "profile_type"),
    [
        ("Float", "Double"),  # PLCs often expose Float
        ("Int16", "Int32"),
        ("UInt16", "Int32"),
        ("UInt16", "UInt32"),
        ("Int32", "Int64"),
        ("UInt32", "Int64"),
        (3, "UInt16"),  # Byte
        (2, "Int16"),  # SByte
    ],
)
def test_safe_widening_is_read(sent: str | int, profile_type: str) -> None:
    value = 2.3 if sent == "Float" else 7
    if sent == "Float":
        value = struct.unpack("<f", struct.pack("<f", 2.3))[0]  # what a Float carries
    widened = point(opcua={"data_type": profile_type}, range=(0, 10))
    reading, problem = reading_of(widened, sample(value, sent), "HT", "A", COLLECTED)
    assert problem is None
    assert reading.quality is Quality.GOOD
    assert reading.value == (2.3 if sent == "Float" else 7)  # not 2.299999952316284


@pytest.mark.parametrize(
    ("sent", "profile_type"),
    [
        ("Double", "Float"),
        ("Int32", "Int16"),
        ("UInt32", "UInt16"),
        ("Int16", "UInt16"),  # a sign a UInt16 cannot hold
        ("Int64", "Double"),  # not exact above 2**53
        ("Int32", "Double"),  # raw counts where engineering units were expected
        ("Float", "Int32"),
        ("Boolean", "Int16"),
        (9, "Double"),  # UInt64
    ],
)
def test_unsafe_narrowing_is_still_refused(sent: str | int, profile_type: str) -> None:
    narrowed = point(opcua={"data_type": profile_type})
    reading, problem = reading_of(narrowed, sample(1, sent), "HT", "A", COLLECTED)
    assert (reading.value, reading.quality) == (None, Quality.BAD_CONFIG)
    assert problem is not None
    assert problem.code == "type_mismatch"


@pytest.mark.parametrize("number", [2.3, 0.1, -1.5e-7, 3.4028234663852886e38, 16777217.0, 0.0])
def test_float32_shortest_decimal_is_the_same_float32(number: float) -> None:
    as_float32 = struct.unpack("<f", struct.pack("<f", number))[0]
    written = float32_as_written(as_float32)
    assert struct.unpack("<f", struct.pack("<f", written))[0] == as_float32
    assert len(repr(written)) <= len(repr(as_float32))


# -- the poll's shortcut: good_reading is reading_of for a Good value in the profile's type --

_VALUES_OF: dict[str, Any] = {
    "Boolean": st.booleans(),
    "Int16": st.integers(-(2**15), 2**15 - 1),
    "UInt16": st.integers(0, 2**16 - 1),
    "Int32": st.integers(-(2**31), 2**31 - 1),
    "UInt32": st.integers(0, 2**32 - 1),
    "Int64": st.integers(-(2**63), 2**63 - 1),
    "Float": st.floats(width=32),
    "Double": st.floats(),
    "String": st.text(max_size=5),
}


@st.composite
def _point_and_sample(draw: st.DrawFn) -> tuple[Point, Sample]:
    data_type = draw(st.sampled_from(sorted(_VALUES_OF)))
    fields: dict[str, Any] = {
        "opcua": {"data_type": data_type},
        "timestamp": draw(st.sampled_from(["source", "server", "collector"])),
    }
    if data_type in NUMERIC_TYPES:
        if draw(st.booleans()):
            fields["scale"] = draw(st.sampled_from([0.1, 2.0, 0.001]))
            fields["offset"] = draw(st.sampled_from([0.0, -40.0, 1.5]))
        if draw(st.booleans()):
            fields["range"] = (-100, draw(st.sampled_from([0, 50, 1e6])))
    value_type = draw(st.sampled_from([data_type, data_type, "Double", "Int16", "Float"]))
    value = draw(st.none() | _VALUES_OF[value_type])
    status = draw(st.sampled_from([0, 0, 0, 0x4094_0000, 0x8005_0000, 0x0000_0480]))
    moments = st.none() | st.sampled_from([SOURCE, SERVER])
    return point(**fields), sample(
        value,
        value_type,
        status,
        source=draw(moments),
        server=draw(moments),
    )


@FUZZ
@given(_point_and_sample())
def test_good_reading_is_reading_of_or_declines(case: tuple[Point, Sample]) -> None:
    shown, got = case
    reading, problem = reading_of(shown, got, "HT", "HT-TNK-001", COLLECTED)
    quick = good_reading(
        shown,
        got.value,
        got.variant_type,
        got.status,
        got.source_ts,
        got.server_ts,
        got.received_ts,
        "HT",
        "HT-TNK-001",
        COLLECTED,
    )
    if quick is not None:
        assert problem is None
        assert quick == reading
        assert type(quick.value) is type(reading.value)


@pytest.mark.parametrize(
    ("data_type", "value"),
    [("Double", 2.5), ("Float", 2.5), ("Int32", 7), ("Boolean", True), ("String", "auto")],
)
def test_good_reading_takes_the_shortcut_for_plain_good_values(data_type: str, value: Any) -> None:
    shown = point(opcua={"data_type": data_type}, timestamp="source")
    quick = good_reading(
        shown,
        value,
        VARIANT_TYPE_IDS[data_type],
        0,
        SOURCE,
        SERVER,
        RECEIVED,
        "HT",
        "HT-TNK-001",
        COLLECTED,
    )
    assert quick is not None
    assert (quick.value, quick.quality, quick.source_ts) == (value, Quality.GOOD, SOURCE)


def test_good_reading_declines_what_reading_of_must_explain() -> None:
    shown = point(opcua={"data_type": "Double"})
    args = (SOURCE, SERVER, RECEIVED, "HT", "HT-TNK-001", COLLECTED)
    assert good_reading(shown, math.nan, 11, 0, *args) is None  # no value: a problem to log
    assert good_reading(shown, 2.5, 10, 0, *args) is None  # widened Float: its own rounding
    assert good_reading(shown, 2.5, 11, 0x4094_0000, *args) is None  # the server's uncertainty
    assert good_reading(shown, 2, 6, 0, *args) is None  # an Int32 for a Double: type_mismatch
