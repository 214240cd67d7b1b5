"""Fuzzing the bus payload decoder: anything in, a DeviceMessage or one PayloadError out."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from facility.payload import DeviceMessage, PayloadError, decode, device_topic
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
