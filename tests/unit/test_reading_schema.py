"""docs/schema/reading.v1.json describes what facility/payload.py really sends and accepts.

Messages are made by the encoder for every device class of the demo (every point of each
shipped profile, every quality, source times where the profile asks for them, the health a
real ``DeviceHealth`` reports after a failure) and checked against the schema; messages the
decoder refuses are refused by the schema too. ``jsonschema`` is not installed in the
project's venv, so the check is tests/schema_check.py (a small draft 2020-12 subset that
refuses any keyword it does not implement).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.health import DeviceHealth
from device_profiles import load_library
from device_profiles.models import DeviceProfile
from device_profiles.points import DataType, Point, PollClass, TimestampSource
from facility.payload import DeviceMessage, PayloadError, decode, device_topic, encode
from facility.types import DeviceClass, PointValue, Quality, Reading
from tests.schema_check import errors

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "schema" / "reading.v1.json").read_text())
TS = datetime(2026, 11, 26, 8, 0, 0, 123000, tzinfo=UTC)
PROFILES = sorted(load_library().values(), key=lambda p: p.device_class)


def value_for(point: Point) -> PointValue:
    """A value of the type the collector decodes this point to."""
    if point.opcua is not None:
        kind = point.opcua.data_type
        if kind == "Boolean":
            return True
        if kind == "String":
            return "FW 1.20"
        return 2.85 if kind in ("Float", "Double") or point.scale != 1 else 3
    assert point.modbus is not None
    data_type = point.modbus.type
    if data_type in (DataType.BOOL, DataType.BIT):
        return False
    if data_type is DataType.STRING:
        return "FW 1.20"
    if data_type in (DataType.FLOAT32, DataType.FLOAT64) or point.scale != 1 or point.offset:
        return 42.5
    return 7


def message_for(profile: DeviceProfile, seq: int = 42) -> DeviceMessage:
    site, asset_no = "HT", f"HT-{profile.device_class}-001"
    qualities = list(Quality)
    readings = []
    for index, point in enumerate(profile.points):
        quality = qualities[index % len(qualities)]
        value = value_for(point) if quality in (Quality.GOOD, *UNCERTAIN) else None
        source_ts = (
            TS - timedelta(milliseconds=250)
            if point.timestamp is not TimestampSource.COLLECTOR
            else None
        )
        readings.append(
            Reading(site, asset_no, point.name, value, point.unit, quality, source_ts, TS)
        )
    health = DeviceHealth(jitter=False)
    health.success(0.0, 3.14159)
    health.failure(1.0, "exception_2", "illegal data address")
    # a fast poll: the points of the other classes ride along as last read (decision 008)
    fast = {p.name for p in profile.points if p.poll is PollClass.FAST} or {profile.points[0].name}
    earlier = TS - timedelta(seconds=30)
    return DeviceMessage(
        site,
        asset_no,
        profile.device_class,
        seq,
        TS,
        tuple(r for r in readings if r.point in fast),
        health.as_reading(),
        tuple(r._replace(collected_ts=earlier) for r in readings if r.point not in fast),
    )


UNCERTAIN = (Quality.UNCERTAIN_RANGE, Quality.UNCERTAIN_STALE)


def test_the_demo_has_every_device_class() -> None:
    assert {p.device_class for p in PROFILES} >= {"PMP", "PDP", "TNK", "LGT", "FAP"}


def test_the_schema_names_every_quality_and_class() -> None:
    enum = SCHEMA["$defs"]["point"]["properties"]["q"]["enum"]
    assert enum == [q.value for q in Quality]
    assert SCHEMA["properties"]["class"]["enum"] == [c.value for c in DeviceClass]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.device_class}:{p.id}")
def test_encoded_messages_of_every_device_class_follow_the_schema(
    profile: DeviceProfile,
) -> None:
    message = message_for(profile)
    body = json.loads(encode(message))
    assert errors(SCHEMA, body) == []
    assert len(body["points"]) == len(profile.points)  # the full state, in one message
    assert message.carried, "the demo profiles have several poll classes"
    # and they are what the decoder reads back
    assert decode(device_topic("HT", message.asset_no), encode(message)) == message


def _good() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(encode(message_for(PROFILES[0])))
    return body


# (what is wrong, how to break a good message) — refused by decode() and by the schema
BROKEN: list[tuple[str, Any]] = [
    ("version", lambda b: b.update(v=2)),
    ("seq negative", lambda b: b.update(seq=-1)),
    ("seq a string", lambda b: b.update(seq="42")),
    ("ts in seconds", lambda b: b.update(ts=1_795_678_950)),
    ("asset number", lambda b: b.update(asset_no="HT-PUMP-1")),
    ("no points", lambda b: b.update(points={})),
    ("unknown quality", lambda b: next(iter(b["points"].values())).update(q="ok")),
    ("good without value", lambda b: next(iter(b["points"].values())).update(v=None, q="good")),
    ("value an object", lambda b: next(iter(b["points"].values())).update(v={"x": 1})),
    ("long string", lambda b: next(iter(b["points"].values())).update(v="x" * 257)),
    ("unit a number", lambda b: next(iter(b["points"].values())).update(u=3)),
    ("health nested", lambda b: b.update(health={"comm_ok": {"x": 1}})),
    ("carried in seconds", lambda b: next(iter(b["points"].values())).update(at=1_795_678_950)),
]


@pytest.mark.parametrize(("what", "breaks"), BROKEN, ids=[w for w, _ in BROKEN])
def test_what_the_decoder_refuses_the_schema_refuses(what: str, breaks: Any) -> None:
    body = _good()
    breaks(body)
    assert errors(SCHEMA, body) != [], what
    with pytest.raises(PayloadError):
        decode(device_topic("HT", "HT-PMP-001"), json.dumps(body).encode())


def test_every_field_is_documented() -> None:
    documented = [SCHEMA["properties"][name] for name in SCHEMA["required"]] + list(
        SCHEMA["$defs"]["point"]["properties"].values()
    )
    assert all(entry.get("description") for entry in documented)
