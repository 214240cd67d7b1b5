"""The bus message schema: round trip, and each kind of bad input named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from facility.payload import DeviceMessage, PayloadError, decode, device_topic, encode
from facility.types import Quality, Reading

TS = datetime(2026, 11, 26, 8, 0, 0, 123000, tzinfo=UTC)
TOPIC = device_topic("HT", "HT-PMP-001")


def message() -> DeviceMessage:
    readings = (
        Reading("HT", "HT-PMP-001", "discharge_pressure", 4.25, "bar", Quality.GOOD, TS, TS),
        Reading("HT", "HT-PMP-001", "run_state", 1, "", Quality.GOOD, None, TS),
        Reading("HT", "HT-PMP-001", "current", None, "A", Quality.BAD_COMM, None, TS),
        Reading("HT", "HT-PMP-001", "firmware", "V2.31", "", Quality.GOOD, None, TS),
        Reading("HT", "HT-PMP-001", "frequency", 51.0, "Hz", Quality.UNCERTAIN_RANGE, None, TS),
    )
    return DeviceMessage("HT", "HT-PMP-001", "PMP", 7, TS, readings, {"comm_ok": True})


def test_round_trip_keeps_every_field() -> None:
    original = message()
    decoded = decode(TOPIC, encode(original))
    assert decoded == original


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(encode(message()))
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return data


BAD: list[tuple[str, bytes, str, str]] = [
    ("not json", b"{nope", "bad_json", "not valid JSON"),
    ("not utf-8", b"\xff\xfe", "bad_json", "UTF-8"),
    ("array", b"[1,2]", "bad_shape", "JSON object"),
    ("wrong version", json.dumps(body(v=2)).encode(), "bad_version", "expected 1"),
    ("NaN value", encode(message()).replace(b"4.25", b"NaN"), "non_finite", "NaN"),
    ("Infinity value", encode(message()).replace(b"4.25", b"Infinity"), "non_finite", "finite"),
    ("site missing", json.dumps(body(site=...)).encode(), "bad_type", "`site`"),
    ("bad asset no", json.dumps(body(asset_no="HT-PUMP-1")).encode(), "bad_asset_no", "<SITE>"),
    (
        "asset of another site",
        json.dumps(body(asset_no="JU-PMP-001")).encode(),
        "bad_asset_no",
        "site HT",
    ),
    ("seq negative", json.dumps(body(seq=-1)).encode(), "bad_type", "`seq`"),
    ("ts in seconds", json.dumps(body(ts=1795678950)).encode(), "bad_timestamp", "milliseconds"),
    ("no points", json.dumps(body(points={})).encode(), "bad_shape", "non-empty"),
    (
        "huge string",
        json.dumps(body(points={"x": {"v": "a" * 5000, "u": "", "q": "good"}})).encode(),
        "too_large",
        "string of 5000",
    ),
    (
        "unknown quality",
        json.dumps(body(points={"x": {"v": 1, "u": "", "q": "fine"}})).encode(),
        "bad_quality",
        "expected one of good",
    ),
    (
        "value is a list",
        json.dumps(body(points={"x": {"v": [1], "u": "", "q": "good"}})).encode(),
        "bad_type",
        "expected number",
    ),
    (
        "good without value",
        json.dumps(body(points={"x": {"v": None, "u": "", "q": "good"}})).encode(),
        "bad_type",
        "needs a value",
    ),
    ("health not scalar", json.dumps(body(health={"a": [1]})).encode(), "bad_shape", "health"),
    ("too large", b" " * 1_000_001, "too_large", "bytes"),
]


@pytest.mark.parametrize(("payload", "kind", "text"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_payloads_are_named(payload: bytes, kind: str, text: str) -> None:
    with pytest.raises(PayloadError) as caught:
        decode(TOPIC, payload)
    assert caught.value.kind == kind
    assert text in str(caught.value)


def test_topic_must_match_payload() -> None:
    with pytest.raises(PayloadError) as caught:
        decode(device_topic("HT", "HT-PMP-002"), encode(message()))
    assert caught.value.kind == "topic_mismatch"


def test_encode_refuses_non_finite() -> None:
    bad = DeviceMessage(
        "HT",
        "HT-PMP-001",
        "PMP",
        1,
        TS,
        (Reading("HT", "HT-PMP-001", "x", float("nan"), "", Quality.GOOD, None, TS),),
    )
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode(bad)


# -- the full last-known state (decision 008) ----------------------------------------------

EARLIER = datetime(2026, 11, 26, 7, 59, 30, 456000, tzinfo=UTC)


def with_state() -> DeviceMessage:
    """A fast poll that carries the slow points as last read, 30 s before."""
    carried = (
        Reading("HT", "HT-PMP-001", "run_hours", 8127.4, "h", Quality.GOOD, None, EARLIER),
        Reading("HT", "HT-PMP-001", "starts", None, "", Quality.BAD_DEVICE, None, EARLIER),
        Reading("HT", "HT-PMP-001", "fault_code", 0, "", Quality.GOOD, EARLIER, EARLIER),
    )
    fast = message()
    return DeviceMessage(
        "HT", "HT-PMP-001", "PMP", 8, TS, fast.readings, {"comm_ok": True}, carried
    )


def test_carried_points_keep_the_time_of_the_poll_that_read_them() -> None:
    original = with_state()
    raw = json.loads(encode(original))
    assert raw["points"]["run_hours"]["at"] == 1795679970456
    assert "at" not in raw["points"]["current"]  # read in this poll
    decoded = decode(TOPIC, encode(original))
    assert decoded == original
    assert {r.point for r in decoded.readings} == {r.point for r in message().readings}
    assert all(r.collected_ts == EARLIER for r in decoded.carried)


def test_a_carried_point_is_never_newer_than_its_message() -> None:
    data = json.loads(encode(with_state()))
    data["points"]["run_hours"]["at"] = data["ts"]
    with pytest.raises(PayloadError, match=r"points\.run_hours\.at: expected a poll before") as e:
        decode(TOPIC, json.dumps(data).encode())
    assert e.value.kind == "bad_timestamp"


def test_a_message_of_carried_points_only_is_refused() -> None:
    data = json.loads(encode(with_state()))
    data["points"] = {k: v for k, v in data["points"].items() if "at" in v}
    with pytest.raises(PayloadError, match="at least one point read in this poll") as e:
        decode(TOPIC, json.dumps(data).encode())
    assert e.value.kind == "bad_shape"
