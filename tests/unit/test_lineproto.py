"""Device messages → line protocol: the historian schema, as table cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facility.payload import DeviceMessage, decode, device_topic, encode
from facility.types import Quality, Reading
from gateway.lineproto import (
    LineEncoder,
    encode_message,
    escape_key,
    event_line,
    field_value,
    measurement_for,
    string_field,
    tag_set,
    to_ms,
)

TS = datetime(2026, 11, 26, 8, 0, 0, 123000, tzinfo=UTC)
TS_MS = 1795680000123


def message(
    *readings: tuple[str, object, Quality], health: dict[str, object] | None = None
) -> DeviceMessage:
    return DeviceMessage(
        "HT",
        "HT-PMP-001",
        "PMP",
        42,
        TS,
        tuple(Reading("HT", "HT-PMP-001", p, v, "", q, None, TS) for p, v, q in readings),  # type: ignore[arg-type]
        health if health is not None else {"comm_ok": True, "rtt_ms": 3.5, "errors": 0},
    )


def test_to_ms_is_exact_for_every_millisecond_of_a_decoded_message() -> None:
    # decode goes ms → float seconds → datetime; a float round trip back would lose 1 ms
    for ms in range(TS_MS, TS_MS + 2000):
        ts = datetime.fromtimestamp(ms / 1000, tz=UTC)
        assert to_ms(ts) == ms


def test_one_device_line_and_one_health_line() -> None:
    lines = encode_message(
        message(("current", 12.5, Quality.GOOD), ("run_state", 1, Quality.GOOD))
    ).decode()
    assert lines == (
        f"pmp,asset_no=HT-PMP-001,site=HT current=12.5,run_state=1 {TS_MS}\n"
        f"device_health,asset_no=HT-PMP-001,site=HT seq=42i,comm_ok=true,rtt_ms=3.5,errors=0 "
        f"{TS_MS}\n"
    )


@pytest.mark.parametrize(
    ("reading", "expected_fields"),
    [
        (("current", 12.5, Quality.GOOD), "current=12.5"),
        (("run_state", 2, Quality.GOOD), "run_state=2"),  # an int is written as a float
        (("big", 10**20, Quality.GOOD), "big=100000000000000000000"),
        (("tiny", 1e-7, Quality.GOOD), "tiny=1e-07"),
        (("negative", -0.25, Quality.GOOD), "negative=-0.25"),
        (("on", True, Quality.GOOD), "on=true"),
        (("off", False, Quality.GOOD), "off=false"),
        (("firmware", "V2.31", Quality.GOOD), 'firmware="V2.31"'),
        (("label", 'say "hi" \\ bye', Quality.GOOD), 'label="say \\"hi\\" \\\\ bye"'),
        (("note", "two\nlines", Quality.GOOD), 'note="two\\nlines"'),
        # bad: no value field (never a 0), its quality instead
        (("current", None, Quality.BAD_COMM), 'current_q="bad_comm"'),
        (("current", None, Quality.BAD_CONFIG), 'current_q="bad_config"'),
        # uncertain: the value and its quality
        (("current", 61.0, Quality.UNCERTAIN_RANGE), 'current=61.0,current_q="uncertain_range"'),
    ],
)
def test_field_per_point_with_quality_only_when_not_good(
    reading: tuple[str, object, Quality], expected_fields: str
) -> None:
    device_line = encode_message(message(reading)).decode().split("\n")[0]
    assert device_line == f"pmp,asset_no=HT-PMP-001,site=HT {expected_fields} {TS_MS}"


def test_measurement_per_class_and_ledger_tags_sorted_and_escaped() -> None:
    encoder = LineEncoder({"HT-PMP-001": {"building": "B 1", "system": "water_supply", "x": ""}})
    device, health = encoder.encode_lines(message(("current", 1.0, Quality.GOOD)))
    assert device.startswith(
        b"pmp,asset_no=HT-PMP-001,building=B\\ 1,site=HT,system=water_supply current=1.0 "
    )
    assert health.startswith(b"device_health,asset_no=HT-PMP-001,building=B\\ 1,site=HT,")
    assert [measurement_for(f"HT-{c}-001") for c in ("PMP", "PDP", "TNK", "LGT", "FAP")] == [
        "pmp",
        "pdp",
        "tnk",
        "lgt",
        "fap",
    ]


def test_health_values_and_a_seq_key_in_health_does_not_clash() -> None:
    health = {"comm_ok": False, "reconnects": 3, "note": "x", "seq": 999}
    _, line = LineEncoder().encode_lines(message(("a", 1.0, Quality.GOOD), health=health))
    assert line == (
        f"device_health,asset_no=HT-PMP-001,site=HT seq=42i,comm_ok=false,reconnects=3,"
        f'note="x" {TS_MS}\n'.encode()
    )


def test_every_line_is_one_line_whatever_the_text() -> None:
    nasty = 'a\nb\r\nc "d" \\e, f=g'
    device, health = LineEncoder().encode_lines(
        message(("text", nasty, Quality.GOOD), health={"why": nasty})
    )
    assert device.count(b"\n") == 1
    assert health.count(b"\n") == 1


def test_same_message_gives_the_same_bytes_so_a_replay_overwrites() -> None:
    original = message(("current", 12.5, Quality.GOOD), ("p", None, Quality.BAD_COMM))
    replayed = decode(device_topic("HT", "HT-PMP-001"), encode(original))
    assert LineEncoder().encode(replayed) == LineEncoder().encode(original)
    later = DeviceMessage(
        "HT", "HT-PMP-001", "PMP", 43, TS + timedelta(seconds=1), original.readings, {}
    )
    assert LineEncoder().encode(later) != LineEncoder().encode(original)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("plain", "plain"), ("a b", "a\\ b"), ("a,b", "a\\,b"), ("a=b", "a\\=b"), ("a\nb", "a\\nb")],
)
def test_key_escaping(text: str, escaped: str) -> None:
    assert escape_key(text) == escaped


def test_values_and_tags_helpers() -> None:
    assert field_value(True) == "true"
    assert field_value(3) == "3"
    assert field_value(0.1) == "0.1"
    assert string_field("") == '""'
    assert tag_set({"b": "2", "a": "1", "empty": ""}) == ",a=1,b=2"


def test_ingest_event_counts_are_integers() -> None:
    line = event_line({"gateway": "gw-1", "event": "replayed"}, {"points": 5, "ok": True}, 1000)
    assert line == b"ingest_events,event=replayed,gateway=gw-1 ok=true,points=5i 1000\n"


def test_carried_points_are_not_stored_again() -> None:
    """The full last-known state rides in every message (decision 008); a carried point was
    written with its own poll, so the historian writes only the points of this poll, at
    this poll's time — never a slow point again, never at the wrong time."""
    earlier = TS - timedelta(seconds=40)
    carried = (Reading("HT", "HT-PMP-001", "run_hours", 8127.4, "h", Quality.GOOD, None, earlier),)
    fast = message(("current", 12.5, Quality.GOOD))
    full = DeviceMessage(fast.site, fast.asset_no, "PMP", fast.seq, TS, fast.readings, {}, carried)
    wire = decode(device_topic("HT", "HT-PMP-001"), encode(full))
    assert [r.point for r in wire.carried] == ["run_hours"]
    device_line = LineEncoder().encode(wire).decode().splitlines()[0]
    assert device_line == f"pmp,asset_no=HT-PMP-001,site=HT current=12.5 {TS_MS}"
