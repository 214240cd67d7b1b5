"""The reading message on the MQTT bus: one message per device per poll (Sparkplug-style).

Topic ``facility/v1/<site>/<asset_no>``, QoS 1, retained (the device's last state). JSON:

    {"v": 1, "site": "HT", "asset_no": "HT-PMP-001", "class": "PMP", "seq": 42,
     "ts": 1795678950123,                       # collected time, epoch ms UTC
     "points": {"discharge_pressure": {"v": 4.21, "u": "bar", "q": "good", "ts": 1795...},
                "run_state": {"v": 1, "u": "", "q": "good"},
                "current": {"v": null, "u": "A", "q": "bad_comm"}},
     "health": {"comm_ok": true, "rtt_ms": 3.1, "errors": 0, "reconnects": 0}}

``ts`` inside a point is the source (device/server) time when the profile asks for it. A
point whose value could not be read carries ``"v": null`` and a bad quality — never 0.

The message holds the device's **full last-known state** (decision 008), so the retained one
is all a cold consumer needs: the points read in this poll, and the points of the other poll
classes as last read, each with ``"at"`` — the collected time (epoch ms) of the earlier poll
that read it — and its own quality::

     "points": {"current": {"v": 12.5, "u": "A", "q": "good"},
                "run_hours": {"v": 8127.4, "u": "h", "q": "good", "at": 1795678901123}}

Decoded, the points read in this poll are ``readings`` (what the historian stores and the
alarm engine evaluates: a carried point was stored with its own poll) and the carried ones
``carried``, each Reading's ``collected_ts`` the time of the poll that read it.

Decoding is strict, because the gateway must turn bad input into a counted, dead-lettered
message rather than a crash or a wrong value: non-finite numbers, wrong types, unknown
qualities, oversized strings and topic/payload mismatches are each a ``PayloadError`` whose
``kind`` is a short stable name (for counters and log-once) and message says what was expected.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from facility.errors import ProtocolError
from facility.limits import BUS_PAYLOAD_MAX_BYTES, BUS_PAYLOAD_MAX_DEPTH, JsonLimitError, load_json
from facility.topics import TOPIC_PREFIX as TOPIC_PREFIX
from facility.topics import device_topic as device_topic
from facility.types import ASSET_NO_RE, PointValue, Quality, Reading

SCHEMA_VERSION = 1
MAX_STRING = 256
MAX_POINTS = 2000
MAX_PAYLOAD_BYTES = BUS_PAYLOAD_MAX_BYTES  # the limits live in facility/limits.py
MAX_PAYLOAD_DEPTH = BUS_PAYLOAD_MAX_DEPTH


class PayloadError(ProtocolError):
    """A bus message that does not follow the reading schema."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def epoch_ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class DeviceMessage:
    """All readings of one device from one poll, plus the device's health, plus the last
    known readings of the points this poll did not read (``carried``: each stamped with the
    collected time of the poll that read it)."""

    site: str
    asset_no: str
    device_class: str
    seq: int
    collected_ts: datetime
    readings: tuple[Reading, ...]
    health: Mapping[str, float | int | bool | str] = field(default_factory=dict)
    carried: tuple[Reading, ...] = ()


def encode(message: DeviceMessage) -> bytes:
    """Serialise a device message (compact JSON, UTF-8).

    The bytes are exactly ``json.dumps(body, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False)`` of the documented shape (``encode_reference``), written by hand: a
    collector encodes every poll, and building a dict per point for ``json`` cost twice as
    much CPU (issue 16). Point names, units and health keys are escaped once and cached."""
    items: list[str] = []  # one string per point, joined by commas
    add = items.append
    heads, tails = _POINT_HEADS, _POINT_TAILS
    for _site, _asset, point, value, unit, quality, source_ts, _at in message.readings:
        # _point, inlined: the hot path of every poll (a Reading unpacked: its fields at once)
        head = heads.get(point) or _head(point)
        kind = type(value)
        if kind is int:
            text = int.__repr__(value)
        elif value is None:
            text = "null"
        elif kind is float:
            text = _float(value)  # type: ignore[arg-type]
        elif kind is bool:
            text = "true" if value else "false"
        else:
            text = _value(value)
        tail = tails.get((unit, quality)) or _tail(unit, quality)
        if source_ts is None:
            add(f"{head}{text}{tail}}}")
        else:
            add(f'{head}{text}{tail},"ts":{epoch_ms(source_ts)}}}')
    if message.carried:
        read = {reading.point for reading in message.readings}
        for reading in message.carried:
            if reading.point in read:
                continue  # a point read in this poll wins
            read.add(reading.point)
            add(_point(reading, epoch_ms(reading.collected_ts)))
    health = []
    for key, value in message.health.items():
        key_text = _HEALTH_HEADS.get(key)
        if key_text is None:
            key_text = _HEALTH_HEADS[key] = _string(key) + ":"
        health.append(key_text + _value(value))
    return (
        f'{{"v":1,"site":{_string(message.site)},"asset_no":{_string(message.asset_no)}'
        f',"class":{_string(message.device_class)},"seq":{_number(message.seq)}'
        f',"ts":{epoch_ms(message.collected_ts)},"points":{{{",".join(items)}}}'
        f',"health":{{{",".join(health)}}}}}'
    ).encode()


def _head(point: str) -> str:
    """A point's escaped ``"name":{"v":`` (made once, then cached)."""
    head = _POINT_HEADS[point] = _string(point) + ':{"v":'
    return head


def _tail(unit: str, quality: Quality) -> str:
    """A point's escaped ``,"u":…,"q":…`` (made once per unit and quality, then cached)."""
    tail = _POINT_TAILS[(unit, quality)] = f',"u":{_string(unit)},"q":{_string(quality.value)}'
    return tail


def _point(reading: Reading, at: int | None) -> str:
    """One point's entry: ``"name":{"v":…,"u":…,"q":…[,"ts":…][,"at":…]}``."""
    head = _POINT_HEADS.get(reading.point) or _head(reading.point)
    tail = _POINT_TAILS.get((reading.unit, reading.quality)) or _tail(reading.unit, reading.quality)
    ts = "" if reading.source_ts is None else f',"ts":{epoch_ms(reading.source_ts)}'
    closing = "}" if at is None else f',"at":{at}}}'
    return f"{head}{_value(reading.value)}{tail}{ts}{closing}"


def encode_reference(message: DeviceMessage) -> bytes:
    """What ``encode`` writes, through ``json``: the specification its tests compare with."""
    points: dict[str, dict[str, Any]] = {}
    for reading in message.readings:
        entry: dict[str, Any] = {"v": reading.value, "u": reading.unit, "q": reading.quality.value}
        if reading.source_ts is not None:
            entry["ts"] = epoch_ms(reading.source_ts)
        points[reading.point] = entry
    for reading in message.carried:
        entry = {"v": reading.value, "u": reading.unit, "q": reading.quality.value}
        if reading.source_ts is not None:
            entry["ts"] = epoch_ms(reading.source_ts)
        entry["at"] = epoch_ms(reading.collected_ts)
        points.setdefault(reading.point, entry)  # a point read in this poll wins
    body = {
        "v": SCHEMA_VERSION,
        "site": message.site,
        "asset_no": message.asset_no,
        "class": message.device_class,
        "seq": message.seq,
        "ts": epoch_ms(message.collected_ts),
        "points": points,
        "health": dict(message.health),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


# escaped once: point names, (unit, quality) tails and health keys repeat every poll; bounded
# by the profiles' points (a cache per process, as the profiles are)
_POINT_HEADS: dict[str, str] = {}
_POINT_TAILS: dict[tuple[str, Quality], str] = {}
_HEALTH_HEADS: dict[str, str] = {}
_string = json.JSONEncoder(ensure_ascii=False).encode
_json_value = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _float(value: float) -> str:
    if value != value or value in (math.inf, -math.inf):
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    return float.__repr__(value)


def _number(value: int) -> str:
    return int.__repr__(value) if type(value) is int else _json_value(value)


def _value(value: object) -> str:
    """Any other JSON scalar (bool, str, int or float subclasses), as ``json`` writes it."""
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _float(value)  # type: ignore[arg-type]
    if kind is bool:
        return "true" if value else "false"
    return _json_value(value)


def _reject_constant(name: str) -> Any:
    raise PayloadError("non_finite", f"number {name} is not allowed; expected a finite number")


def decode(topic: str, payload: bytes) -> DeviceMessage:
    """Parse and validate one bus message; raise PayloadError naming what is wrong."""
    try:
        body = load_json(
            payload,
            what="payload",
            max_bytes=MAX_PAYLOAD_BYTES,
            max_depth=MAX_PAYLOAD_DEPTH,
            parse_constant=_reject_constant,
        )
    except JsonLimitError as exc:
        raise PayloadError(exc.kind, str(exc)) from None
    if not isinstance(body, dict):
        raise PayloadError("bad_shape", "expected a JSON object at the top level")
    if body.get("v") != SCHEMA_VERSION:
        raise PayloadError("bad_version", f"v={body.get('v')!r}; expected {SCHEMA_VERSION}")
    site = _str(body, "site", 8)
    asset_no = _str(body, "asset_no", 32)
    if not ASSET_NO_RE.match(asset_no) or not asset_no.startswith(site + "-"):
        raise PayloadError(
            "bad_asset_no", f"asset_no {asset_no!r}: expected <SITE>-<CLASS>-<NNN> of site {site}"
        )
    if topic != device_topic(site, asset_no):
        raise PayloadError(
            "topic_mismatch", f"topic {topic!r} does not match {device_topic(site, asset_no)!r}"
        )
    device_class = _str(body, "class", 8)
    seq = _int(body, "seq")
    collected_ts = _ts(body, "ts")
    points = body.get("points")
    if not isinstance(points, dict) or not points:
        raise PayloadError("bad_shape", "`points` must be a non-empty object")
    if len(points) > MAX_POINTS:
        raise PayloadError("too_large", f"{len(points)} points; expected ≤ {MAX_POINTS}")
    readings: list[Reading] = []
    carried: list[Reading] = []
    for name, entry in points.items():
        if type(entry) is dict and "at" in entry:
            at = _ts(entry, "at")
            if at >= collected_ts:
                raise PayloadError(
                    "bad_timestamp",
                    f"points.{name[:64]}.at: expected a poll before this message's ts",
                )
            carried.append(_reading(site, asset_no, name, entry, at))
        else:
            readings.append(_reading(site, asset_no, name, entry, collected_ts))
    if not readings:
        raise PayloadError("bad_shape", "`points`: expected at least one point read in this poll")
    health = body.get("health", {})
    if not isinstance(health, dict) or not all(
        isinstance(v, int | float | bool | str) and _finite(v) for v in health.values()
    ):
        raise PayloadError("bad_shape", "`health` must be an object of finite scalars")
    return DeviceMessage(
        site, asset_no, device_class, seq, collected_ts, tuple(readings), health, tuple(carried)
    )


def _finite(value: object) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


def _str(body: Mapping[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError("bad_type", f"`{key}` must be a non-empty string, got {value!r:.40}")
    if len(value) > limit:
        raise PayloadError("too_large", f"`{key}` is {len(value)} characters; expected ≤ {limit}")
    return value


def _int(body: Mapping[str, Any], key: str) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PayloadError("bad_type", f"`{key}` must be a non-negative integer, got {value!r:.40}")
    return value


def _ts(body: Mapping[str, Any], key: str) -> datetime:
    value = _int(body, key)
    # 2000-01-01 .. 2100-01-01: anything else is a unit mistake (seconds vs ms) or garbage
    if not 946_684_800_000 <= value <= 4_102_444_800_000:
        raise PayloadError("bad_timestamp", f"`{key}`={value}: expected epoch milliseconds")
    return from_epoch_ms(value)


_QUALITIES: dict[object, Quality] = {q.value: q for q in Quality}


def _reading(site: str, asset_no: str, name: str, entry: object, collected_ts: datetime) -> Reading:
    # Hot path of the gateway (thousands of points/s): cheap checks first, and the error
    # location is only formatted when there is an error.
    if not isinstance(entry, dict):
        raise PayloadError("bad_shape", f"points.{name[:64]}: expected an object with v, u, q")
    value: PointValue = entry.get("v")
    value_type = type(value)
    if value_type is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            # JSON has no NaN/Infinity; 1e999 still parses as inf
            raise PayloadError("non_finite", f"points.{name[:64]}.v: expected a finite number")
    elif value_type is str:
        if len(value) > MAX_STRING:  # type: ignore[arg-type]
            raise PayloadError(
                "too_large",
                f"points.{name[:64]}.v: string of {len(value)}; ≤ {MAX_STRING}",  # type: ignore[arg-type]
            )
    elif value is not None and value_type is not int and value_type is not bool:
        raise PayloadError(
            "bad_type", f"points.{name[:64]}.v: expected number, bool, string or null"
        )
    quality = _QUALITIES.get(entry.get("q")) if type(entry.get("q")) is str else None
    if quality is None:
        known = ", ".join(q.value for q in Quality)
        raise PayloadError(
            "bad_quality", f"points.{name[:64]}.q={entry.get('q')!r:.40}; expected one of {known}"
        )
    if value is None and quality is Quality.GOOD:
        raise PayloadError("bad_type", f"points.{name[:64]}: a good reading needs a value")
    unit = entry.get("u", "")
    if type(unit) is not str or len(unit) > 32:
        raise PayloadError("bad_type", f"points.{name[:64]}.u: expected a unit string")
    source_ts = _ts(entry, "ts") if "ts" in entry else None
    return Reading(site, asset_no, name, value, unit, quality, source_ts, collected_ts)
