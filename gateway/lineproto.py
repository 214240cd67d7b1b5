"""Device messages → InfluxDB line protocol (pure, no I/O). The historian schema:

    <class>,site=HT,asset_no=HT-PMP-001[,building=B1,system=water_supply] \
        current=12.5,run_state=1,firmware="1.20",discharge_pressure_q="bad_comm" <collected ms>
    device_health,site=HT,asset_no=HT-PMP-001[,...] seq=42i,comm_ok=true,rtt_ms=3.1 <ms>

- one measurement per device class, lower case (``pmp``, ``pdp``, ``tnk``, ``lgt``, ``fap``),
  taken from the asset number (the payload's ``class`` must agree, ``ingest`` checks it);
- one line per device message, timestamp = the message's collected time in milliseconds, so a
  replayed message overwrites itself (same series and time), never duplicates;
- numbers are written as floats (ints too: a point that is 3 in one poll and 2.5 in the next
  must not become a field type conflict), bools as bools, strings as strings;
- quality ``<point>_q`` only when the reading is not good: a bad point has no value field
  (never a 0) and its quality; an ``uncertain_*`` point has both. Good is the absence of
  ``_q`` — measured in bench/gateway.py: always writing it makes lines about twice as long;
- device health (and the message's ``seq``, an integer) in the ``device_health`` measurement.

Hand-written rather than influxdb-client's ``Point``: see docs/decisions/003-line-protocol.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from facility.payload import DeviceMessage
from facility.types import Quality

HEALTH_MEASUREMENT = "device_health"
EVENTS_MEASUREMENT = "ingest_events"
QUALITY_SUFFIX = "_q"
SEQ_FIELD = "seq"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

# A newline would end the line (and 2.x/3.x accept none inside values): written as ``\n``.
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


def to_ms(ts: datetime) -> int:
    """Epoch milliseconds of ``ts``, exact (no float rounding: replays must hit the same ms)."""
    return (ts - _EPOCH) // _MS


@lru_cache(maxsize=4096)
def escape_key(text: str) -> str:
    """A tag key, tag value or field key: commas, equals signs and spaces escaped."""
    return text.translate(_KEY_ESCAPES)


def escape_measurement(text: str) -> str:
    return text.translate(_MEASUREMENT_ESCAPES)


def string_field(text: str) -> str:
    """A quoted string field value (backslashes and double quotes escaped; a newline is
    stored as the two characters ``\\n`` so every line stays one line)."""
    return '"' + text.translate(_STRING_ESCAPES) + '"'


def field_value(value: float | int | bool | str) -> str:
    """One field value: bool as bool, any number as float, text as a quoted string."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)  # no ``i`` suffix: an integer literal is a float in line protocol
    if isinstance(value, float):
        return repr(value)
    return string_field(value)


def measurement_for(asset_no: str) -> str:
    """The measurement of an asset: its device class code in lower case (``HT-PMP-001`` → pmp)."""
    return asset_no.split("-")[1].lower()


def tag_set(tags: Mapping[str, str]) -> str:
    """``,k=v,...`` sorted by key (InfluxDB's own order, so it does less work); empty values
    are left out (InfluxDB rejects them)."""
    return "".join(
        f",{escape_key(key)}={escape_key(value)}" for key, value in sorted(tags.items()) if value
    )


class LineEncoder:
    """Encodes device messages; caches each asset's escaped series keys.

    ``asset_tags`` adds tags per asset (e.g. ``building`` and ``system`` from the ledger);
    ``site`` and ``asset_no`` are always there.
    """

    def __init__(self, asset_tags: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._asset_tags = asset_tags or {}
        self._series: dict[tuple[str, str], tuple[str, str]] = {}

    def series_keys(self, site: str, asset_no: str) -> tuple[str, str]:
        """The escaped ``measurement,tags`` of the device line and of its health line."""
        key = (site, asset_no)
        cached = self._series.get(key)
        if cached is None:
            tags = {**self._asset_tags.get(asset_no, {}), "site": site, "asset_no": asset_no}
            tail = tag_set(tags)
            cached = (
                escape_measurement(measurement_for(asset_no)) + tail,
                HEALTH_MEASUREMENT + tail,
            )
            self._series[key] = cached
        return cached

    def encode(self, message: DeviceMessage) -> bytes:
        """The device line and the health line of one message, each ending in a newline."""
        device, health = self.encode_lines(message)
        return device + health

    def encode_lines(self, message: DeviceMessage) -> tuple[bytes, bytes]:
        """The device line and the health line of one message, each ending in a newline."""
        device_key, health_key = self.series_keys(message.site, message.asset_no)
        fields: list[str] = []
        for reading in message.readings:
            name = escape_key(reading.point)
            if reading.value is not None:
                fields.append(f"{name}={field_value(reading.value)}")
            if reading.quality is not Quality.GOOD:
                fields.append(f'{name}{QUALITY_SUFFIX}="{reading.quality.value}"')
        ts = to_ms(message.collected_ts)
        health = [f"{SEQ_FIELD}={message.seq}i"]
        health.extend(
            f"{escape_key(k)}={field_value(v)}" for k, v in message.health.items() if k != SEQ_FIELD
        )
        return (
            f"{device_key} {','.join(fields)} {ts}\n".encode(),
            f"{health_key} {','.join(health)} {ts}\n".encode(),
        )


def encode_message(message: DeviceMessage, tags: Mapping[str, str] | None = None) -> bytes:
    """One message's lines (convenience for one-offs; ``LineEncoder`` caches for streams)."""
    return LineEncoder({message.asset_no: tags} if tags else None).encode(message)


def event_line(
    tags: Mapping[str, str], fields: Mapping[str, float | int | bool | str], ts_ms: int
) -> bytes:
    """One ``ingest_events`` line (replays, drops, dead letters) — history shows gaps' causes.

    Integers are written as integers here: these counts are never floats.
    """
    parts = []
    for key, value in sorted(fields.items()):
        if isinstance(value, int) and not isinstance(value, bool):
            parts.append(f"{escape_key(key)}={value}i")
        else:
            parts.append(f"{escape_key(key)}={field_value(value)}")
    return f"{EVENTS_MEASUREMENT}{tag_set(tags)} {','.join(parts)} {ts_ms}\n".encode()
