"""Fuzzing the bus payload decoder: anything in, a DeviceMessage or one PayloadError out.
And the encoder: whatever a message holds, the bytes ``json`` would write."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from facility.payload import (
    DeviceMessage,
    PayloadError,
    decode,
    device_topic,
    encode,
    encode_reference,
)
from facility.types import PointValue, Quality, Reading
from tests.unit.fuzz_support import FUZZ, JSON_VALUES, assert_one_line

TOPIC = device_topic("HT", "HT-PMP-001")
VALID: dict[str, Any] = {
    "v": 1,
    "site": "HT",
    "asset_no": "HT-PMP-001",
    "class": "PMP",
    "seq": 1,
    "ts": 1_795_678_950_123,
    "points": {"p": {"v": 1.5, "u": "bar", "q": "good"}},
    "health": {"comm_ok": True},
}
PATHS = [
    ("v",),
    ("site",),
    ("asset_no",),
    ("seq",),
    ("ts",),
    ("points",),
    ("points", "p"),
    ("points", "p", "v"),
    ("points", "p", "u"),
    ("points", "p", "q"),
    ("points", "p", "ts"),
    ("health",),
    ("health", "comm_ok"),
]


def check(topic: str, payload: bytes) -> None:
    try:
        message = decode(topic, payload)
    except PayloadError as exc:
        error = exc
    else:
        assert isinstance(message, DeviceMessage)
        return
    assert error.kind
    assert_one_line(str(error))


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    check(TOPIC, payload)


@FUZZ
@given(st.text(alphabet='[]{}",:0123456789.eE-tfnrulas\\ ', max_size=400))
def test_json_like_text(text: str) -> None:
    check(TOPIC, text.encode())


@FUZZ
@given(JSON_VALUES)
def test_arbitrary_json_values(value: Any) -> None:
    check(TOPIC, json.dumps(value).encode())


@FUZZ
@given(st.sampled_from(PATHS), JSON_VALUES, st.sampled_from([TOPIC, "facility/v1/HT/x", ""]))
def test_valid_message_with_one_field_replaced(
    path: tuple[str, ...], value: Any, topic: str
) -> None:
    body = json.loads(json.dumps(VALID))
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    check(topic, json.dumps(body).encode())


@FUZZ
@given(st.integers(min_value=1, max_value=5_000), st.sampled_from(["[", '{"a":', '[{"p":']))
def test_deep_nesting(depth: int, opener: str) -> None:
    check(TOPIC, (opener * depth).encode())


# -- the hand-written encoder writes exactly what json writes -----------------------------------

_TEXT = st.text(max_size=12)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
)
_TS = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
)


@st.composite
def _messages(draw: st.DrawFn) -> DeviceMessage:
    names = draw(st.lists(_TEXT, max_size=6, unique=True))
    readings = tuple(
        Reading(
            "HT",
            "HT-PMP-001",
            name,
            draw(_VALUES),
            draw(_TEXT),
            draw(st.sampled_from(Quality)),
            draw(st.none() | _TS),
            draw(_TS),
        )
        for name in names
    )
    # points carried from earlier polls (the retained full state), some with the names of
    # points read in this poll: those read now must win
    carried_names = draw(st.lists(st.sampled_from(names) | _TEXT, max_size=6)) if names else []
    carried = tuple(
        Reading(
            "HT",
            "HT-PMP-001",
            name,
            draw(_VALUES),
            draw(_TEXT),
            draw(st.sampled_from(Quality)),
            draw(st.none() | _TS),
            draw(_TS),
        )
        for name in carried_names
    )
    health = draw(st.dictionaries(_TEXT, _VALUES.filter(lambda v: v is not None), max_size=4))
    seq = draw(st.integers(min_value=0, max_value=2**63))
    return DeviceMessage(
        draw(_TEXT), draw(_TEXT), draw(_TEXT), seq, draw(_TS), readings, health, carried
    )


@FUZZ
@given(_messages())
def test_encode_writes_what_json_writes(message: DeviceMessage) -> None:
    assert encode(message) == encode_reference(message)


def test_encode_writes_what_json_writes_for_awkward_text_and_numbers() -> None:
    ts = datetime(2026, 12, 2, 3, 4, 5, 678000, tzinfo=UTC)
    awkward = ['"', "\\", "\n", "\x00", "水位 cm", "\u2028", "😀", "</script>"]
    values: list[PointValue] = [0, -1, 2**64, 1e-7, 1e16, -0.0, 0.1 + 0.2, True, False, None]
    values += awkward
    readings = tuple(
        Reading("HT", "HT-PMP-001", f"p{i}{name}", value, name, quality, source, ts)
        for i, (name, value, quality, source) in enumerate(
            zip(
                awkward * 3,
                values,
                list(Quality) * 3,
                [None, ts] * 10,
                strict=False,
            )
        )
    )
    health: dict[str, float | int | bool | str] = {"comm_ok": True, "rtt_ms": 1.25, "x\n": "é"}
    message = DeviceMessage("HT", "HT-PMP-001", "PMP", 7, ts, readings, health)
    assert encode(message) == encode_reference(message)
    # the same names again come from the caches
    assert encode(message) == encode_reference(message)
    for bad in (math.nan, math.inf, -math.inf):
        broken = DeviceMessage("HT", "HT-PMP-001", "PMP", 1, ts, readings, {"rtt_ms": bad})
        with pytest.raises(ValueError, match="not JSON compliant"):
            encode(broken)
