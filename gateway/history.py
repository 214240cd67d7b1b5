"""The history API (dashboard, managers, ``facility history``): latest values, a series of
any range at the right resolution, counters as increases per period, gaps, CSV.

Resolution is chosen by a pure function (``choose_resolution``) so that a chart never gets
more than ``max_points`` points: a short range reads raw readings as stored; longer ranges
read raw grouped into buckets, then the 1-minute aggregates, then the 1-hour aggregates
(gateway.retention), with buckets rounded up to a readable size (1 s, 2 s, 5 s, ... 1 d,
7 d). Per bucket, an analogue point gives mean with min/max, a state the last value, a
counter its maximum. Increases of a counter (run hours per day, energy per month) are
computed from hourly maxima in the site's time zone, counter resets counted from zero.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from device_profiles.models import DeviceProfile
from facility.config import Settings
from facility.errors import ConfigError
from facility.spreadsheet import spreadsheet_cell
from facility.types import AssetNo
from gateway.influx import InfluxClient, quote_ident, quote_string
from gateway.lineproto import (
    EVENTS_MEASUREMENT,
    HEALTH_MEASUREMENT,
    QUALITY_SUFFIX,
    SEQ_FIELD,
    measurement_for,
)
from gateway.retention import FUNCTIONS, RetentionPlan

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# Bucket sizes a person reads easily; a bucket is never smaller than the data under it.
NICE_BUCKETS_S = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400,
)  # fmt: skip


class Resolution(StrEnum):
    RAW = "raw"
    MINUTE = "1m"
    HOUR = "1h"


class PointKind(StrEnum):
    """How a point is summarised over a bucket."""

    ANALOG = "analog"  # mean, with min and max as the band
    STATE = "state"  # last value (enumerations, booleans, text)
    COUNTER = "counter"  # maximum (only increases); increases per period


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """Where a series is read from: ``bucket_s`` None means readings as stored."""

    resolution: Resolution
    retention_policy: str
    bucket_s: int | None

    @property
    def label(self) -> str:
        if self.bucket_s is None:
            return "raw"
        return f"{self.resolution.value} data in {_duration_text(self.bucket_s)} buckets"


def _duration_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def nice_bucket(seconds: float) -> int:
    """The smallest readable bucket size ≥ ``seconds``."""
    for size in NICE_BUCKETS_S:
        if size >= seconds:
            return size
    return math.ceil(seconds / NICE_BUCKETS_S[-1]) * NICE_BUCKETS_S[-1]


def choose_resolution(
    start_ms: int,
    end_ms: int,
    *,
    now_ms: int,
    max_points: int = 2000,
    plan: RetentionPlan | None = None,
    raw_period_s: float = 1.0,
) -> SeriesPlan:
    """Pick raw, 1-minute or 1-hour data and a bucket so at most ``max_points`` come back.

    ``raw_period_s`` is the fastest poll period (1 s in the demo): a range of at most
    ``max_points`` polls is returned as stored. Raw data is only used while the range lies
    within the raw retention; older ranges read the aggregates.
    """
    if end_ms <= start_ms:
        raise ConfigError("history range: expected the end after the start")
    if max_points < 1:
        raise ConfigError("max_points: expected at least 1")
    plan = plan or RetentionPlan()
    span_s = (end_ms - start_ms) / 1000
    raw_kept = start_ms >= now_ms - plan.raw_days * DAY_MS
    if raw_kept and span_s / raw_period_s <= max_points:
        return SeriesPlan(Resolution.RAW, plan.raw_rp, None)
    bucket = nice_bucket(span_s / max_points)
    if raw_kept and bucket < 60:
        return SeriesPlan(Resolution.RAW, plan.raw_rp, bucket)
    if bucket < 3600:
        return SeriesPlan(Resolution.MINUTE, plan.minute_rp, max(bucket, 60))
    return SeriesPlan(Resolution.HOUR, plan.hour_rp, max(bucket, 3600))


def aggregate_field(resolution: Resolution, function: str, point: str) -> str:
    """The stored field holding ``function`` of ``point`` at a resolution: raw ``current``,
    1-minute ``mean_current``, 1-hour ``mean_mean_current`` (gateway.retention)."""
    if function not in FUNCTIONS:
        raise ValueError(function)
    if resolution is Resolution.RAW:
        return point
    if resolution is Resolution.MINUTE:
        return f"{function}_{point}"
    return f"{function}_{function}_{point}"


def select_clause(kind: PointKind, resolution: Resolution, point: str, bucketed: bool) -> str:
    """The SELECT list of one series query (pure; aliases value/low/high/quality)."""
    if not bucketed:
        if resolution is Resolution.RAW:
            return (
                f"{quote_ident(point)} AS value, {quote_ident(point + QUALITY_SUFFIX)} AS quality"
            )
        raise ValueError("aggregates are always read in buckets")

    def field(function: str) -> str:
        return quote_ident(aggregate_field(resolution, function, point))

    if kind is PointKind.ANALOG:
        return (
            f"mean({field('mean')}) AS value, min({field('min')}) AS low, "
            f"max({field('max')}) AS high"
        )
    if kind is PointKind.COUNTER:
        return f"max({field('max')}) AS value"
    return f"last({field('last')}) AS value"


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    ts_ms: int
    value: float | bool | str | None
    low: float | None = None
    high: float | None = None
    quality: str | None = None  # raw readings only; None = good


@dataclass(frozen=True, slots=True)
class Series:
    asset_no: str
    point: str
    kind: PointKind
    plan: SeriesPlan
    start_ms: int
    end_ms: int
    points: list[SeriesPoint]


@dataclass(frozen=True, slots=True)
class Latest:
    point: str
    value: float | bool | str | None  # last known value (may be older than the quality)
    value_ts_ms: int | None
    quality: str  # of the latest poll: good, bad_comm, ...
    ts_ms: int  # the latest poll


@dataclass(frozen=True, slots=True)
class Increase:
    start_ms: int
    end_ms: int
    increase: float | None  # None: no data in the period


@dataclass(frozen=True, slots=True)
class Gap:
    """Polls missing from the history (the message seq jumped)."""

    after_ms: int  # last stored poll before the gap (or the gap's first poll after)
    resumed_ms: int
    missed: int


PERIODS = ("hour", "day", "week", "month")


def calendar_periods(
    start_ms: int, end_ms: int, period: str, tz: ZoneInfo
) -> list[tuple[int, int]]:
    """Consecutive local-time periods (hour, day, week from Monday, month) covering
    ``[start_ms, end_ms)``; the first starts at the period containing ``start_ms``."""
    if period not in PERIODS:
        raise ConfigError(f"period {period!r}: expected one of {', '.join(PERIODS)}")
    local = datetime.fromtimestamp(start_ms / 1000, tz)
    if period == "hour":
        cursor = local.replace(minute=0, second=0, microsecond=0)
    else:
        cursor = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if period == "week":
            cursor -= timedelta(days=cursor.weekday())
        elif period == "month":
            cursor = cursor.replace(day=1)
    periods: list[tuple[int, int]] = []
    while True:
        following = _next_period(cursor, period)
        lo, hi = int(cursor.timestamp() * 1000), int(following.timestamp() * 1000)
        if lo >= end_ms:
            break
        periods.append((lo, hi))
        cursor = following
    return periods


def _next_period(cursor: datetime, period: str) -> datetime:
    tz = cursor.tzinfo
    if period == "hour":
        return (cursor + timedelta(hours=1)).astimezone(tz)
    if period == "day":
        return (cursor.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
    if period == "week":
        return (cursor.replace(tzinfo=None) + timedelta(days=7)).replace(tzinfo=tz)
    year, month = (cursor.year + 1, 1) if cursor.month == 12 else (cursor.year, cursor.month + 1)
    return cursor.replace(year=year, month=month)


def counter_increases(
    samples: Sequence[tuple[int, float]],
    periods: Sequence[tuple[int, int]],
    baseline: float | None = None,
) -> list[Increase]:
    """Increase of a counter per period from time-ordered samples (e.g. hourly maxima).

    Each sample adds ``value - previous``; a drop means the counter was reset (a replaced
    meter, a cleared drive) and adds ``value`` (counted from zero). The first sample with no
    ``baseline`` only sets the reference. A period without samples is None, not 0.
    """
    totals: list[float | None] = [None] * len(periods)
    previous = baseline
    index = 0
    for ts, value in samples:
        while index < len(periods) and ts >= periods[index][1]:
            index += 1
        if index >= len(periods):
            break
        if ts < periods[index][0]:
            previous = value  # before the first period: only the reference
            continue
        delta = 0.0 if previous is None else (value - previous if value >= previous else value)
        totals[index] = (totals[index] or 0.0) + delta
        previous = value
    return [Increase(lo, hi, total) for (lo, hi), total in zip(periods, totals, strict=True)]


def find_gaps(seqs: Sequence[tuple[int, int]]) -> list[Gap]:
    """Gaps in time-ordered ``(ts_ms, seq)`` of one device: a jump of more than one. A drop
    is a collector restart (seq starts again), not a gap."""
    gaps = []
    for (ts_a, a), (ts_b, b) in itertools.pairwise(seqs):
        if b > a + 1:
            gaps.append(Gap(ts_a, ts_b, b - a - 1))
    return gaps


def point_kinds(profiles: Mapping[str, DeviceProfile]) -> dict[tuple[str, str], PointKind]:
    """``(measurement, point) → kind`` from device profiles: counters, enumerations and
    bit fields as declared; the rest analogue (text and booleans are found by type)."""
    kinds: dict[tuple[str, str], PointKind] = {}
    for profile in profiles.values():
        measurement = profile.device_class.value.lower()
        for point in profile.points:
            if point.counter:
                kind = PointKind.COUNTER
            elif point.states or point.bits:
                kind = PointKind.STATE
            else:
                kind = PointKind.ANALOG
            kinds[(measurement, point.name)] = kind
    return kinds


class History:
    """Reads the historian (one InfluxClient; not for concurrent use)."""

    def __init__(
        self,
        client: InfluxClient,
        plan: RetentionPlan | None = None,
        *,
        kinds: Mapping[tuple[str, str], PointKind] | None = None,
        tz: str = "Asia/Shanghai",
        raw_period_s: float = 1.0,
    ) -> None:
        self.client = client
        self.plan = plan or RetentionPlan()
        self.kinds = dict(kinds or {})
        self.tz = ZoneInfo(tz)
        self.raw_period_s = raw_period_s
        self._field_types: dict[tuple[str, str], dict[str, str]] = {}

    # -- helpers -----------------------------------------------------------------------------

    def _measurement(self, asset_no: str) -> str:
        AssetNo.parse(asset_no)  # ConfigError naming the expected form
        return measurement_for(asset_no)

    def _from(self, rp: str, measurement: str) -> str:
        return f"{quote_ident(rp)}.{quote_ident(measurement)}"

    def field_types(self, measurement: str, rp: str | None = None) -> dict[str, str]:
        """Field name → InfluxDB type (float, integer, string, boolean) of a measurement."""
        key = (rp or self.plan.raw_rp, measurement)
        if key not in self._field_types:
            q = f"SHOW FIELD KEYS FROM {self._from(key[0], measurement)}"
            types: dict[str, str] = {}
            for series in self.client.query_one(q):
                types.update({str(name): str(kind) for name, kind in series.values})
            self._field_types[key] = types
        return self._field_types[key]

    def kind_of(self, measurement: str, point: str) -> PointKind:
        kind = self.kinds.get((measurement, point))
        if kind is not None:
            return kind
        field_type = self.field_types(measurement).get(point)
        return PointKind.STATE if field_type in ("string", "boolean") else PointKind.ANALOG

    def _where(self, asset_no: str, start_ms: int, end_ms: int) -> str:
        return (
            f"WHERE asset_no = {quote_string(asset_no)} "
            f"AND time >= {start_ms}ms AND time < {end_ms}ms"
        )

    # -- API ---------------------------------------------------------------------------------

    def latest(self, asset_no: str) -> dict[str, Latest]:
        """Last known value of every point of a device, with the quality of its latest poll.
        Empty if the device has nothing in the raw retention."""
        measurement = self._measurement(asset_no)
        types = self.field_types(measurement)
        points = sorted(
            {f[: -len(QUALITY_SUFFIX)] if f.endswith(QUALITY_SUFFIX) else f for f in types}
        )
        if not points:
            return {}
        source = self._from(self.plan.raw_rp, measurement)
        asset = quote_string(asset_no)
        statements = [f"SELECT * FROM {source} WHERE asset_no = {asset} ORDER BY time DESC LIMIT 1"]
        value_points = [p for p in points if p in types]
        statements += [
            f"SELECT last({quote_ident(p)}) FROM {source} WHERE asset_no = {asset}"
            for p in value_points
        ]
        results = self.client.query("; ".join(statements))
        if not results or not results[0]:
            return {}
        row = results[0][0].records()[0]
        poll_ts = int(row["time"])
        last_values: dict[str, tuple[int, float | bool | str | None]] = {}
        for point, series in zip(value_points, results[1:], strict=True):
            if series and series[0].values:
                ts, value = series[0].values[0][:2]
                last_values[point] = (int(ts), value)
        latest: dict[str, Latest] = {}
        for point in points:
            value_ts, value = last_values.get(point, (None, None))
            quality = row.get(point + QUALITY_SUFFIX) or (
                "good" if row.get(point) is not None else "missing"
            )
            latest[point] = Latest(point, value, value_ts, str(quality), poll_ts)
        return latest

    def series(
        self,
        asset_no: str,
        point: str,
        start_ms: int,
        end_ms: int,
        *,
        max_points: int = 2000,
        now_ms: int | None = None,
    ) -> Series:
        """A point over ``[start_ms, end_ms)`` at the resolution that keeps it under
        ``max_points`` (empty buckets are left out: a gap in the chart, never a 0)."""
        measurement = self._measurement(asset_no)
        now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
        plan = choose_resolution(
            start_ms,
            end_ms,
            now_ms=now_ms,
            max_points=max_points,
            plan=self.plan,
            raw_period_s=self.raw_period_s,
        )
        kind = self.kind_of(measurement, point)
        if kind is PointKind.ANALOG and self.field_types(measurement).get(point) in (
            "string",
            "boolean",
        ):
            kind = PointKind.STATE
        bucketed = plan.bucket_s is not None
        select = select_clause(kind, plan.resolution, point, bucketed)
        q = (
            f"SELECT {select} FROM {self._from(plan.retention_policy, measurement)} "
            f"{self._where(asset_no, start_ms, end_ms)}"
        )
        if bucketed:
            q += f" GROUP BY time({plan.bucket_s}s) fill(none)"
        else:
            q += f" LIMIT {max_points}"
        rows: list[SeriesPoint] = []
        for series in self.client.query_one(q):
            for record in series.records():
                value = record.get("value")
                quality = record.get("quality")
                if not bucketed and value is None and quality is None:
                    continue  # a poll that did not carry this point
                rows.append(
                    SeriesPoint(
                        int(record["time"]),
                        value,
                        record.get("low"),
                        record.get("high"),
                        str(quality) if quality is not None else None,
                    )
                )
        return Series(asset_no, point, kind, plan, start_ms, end_ms, rows)

    def increases(
        self, asset_no: str, point: str, start_ms: int, end_ms: int, period: str = "day"
    ) -> list[Increase]:
        """How much a counter grew in each local calendar period (run hours per day,
        energy per month) of ``[start_ms, end_ms)``."""
        measurement = self._measurement(asset_no)
        periods = calendar_periods(start_ms, end_ms, period, self.tz)
        if not periods:
            return []
        lo, hi = periods[0][0], periods[-1][1]
        now_ms = int(time.time() * 1000)
        # hourly maxima: from raw when it is kept and the range is short, else aggregates
        if lo >= now_ms - self.plan.raw_days * DAY_MS and hi - lo <= 8 * DAY_MS:
            resolution, rp = Resolution.RAW, self.plan.raw_rp
        elif hi - lo <= 35 * DAY_MS:
            resolution, rp = Resolution.MINUTE, self.plan.minute_rp
        else:
            resolution, rp = Resolution.HOUR, self.plan.hour_rp
        field = quote_ident(aggregate_field(resolution, "max", point))
        source = self._from(rp, measurement)
        asset = quote_string(asset_no)
        q = (
            f"SELECT max({field}) FROM {source} {self._where(asset_no, lo, hi)} "
            f"GROUP BY time(1h) fill(none); "
            f"SELECT last({field}) FROM {source} WHERE asset_no = {asset} "
            f"AND time < {lo}ms AND time >= {lo - 400 * DAY_MS}ms"
        )
        hourly, before = self.client.query(q)
        samples = [
            (int(row[0]), float(row[1]))
            for series in hourly
            for row in series.values
            if row[1] is not None
        ]
        baseline = float(before[0].values[0][1]) if before and before[0].values else None
        return counter_increases(samples, periods, baseline)

    def gaps(self, asset_no: str, start_ms: int, end_ms: int) -> list[Gap]:
        """Polls of a device missing from the history in ``[start_ms, end_ms)``, from the
        stored message sequence numbers (right with any number of gateways)."""
        self._measurement(asset_no)
        source = self._from(self.plan.raw_rp, HEALTH_MEASUREMENT)
        # chunked by day so a long range never pulls millions of rows in one answer
        seqs: list[tuple[int, int]] = []
        for lo in range(start_ms, end_ms, DAY_MS):
            where = self._where(asset_no, lo, min(lo + DAY_MS, end_ms))
            q = f"SELECT {quote_ident(SEQ_FIELD)} FROM {source} {where}"
            for series in self.client.query_one(q):
                seqs.extend((int(t), int(s)) for t, s in series.values if s is not None)
        return find_gaps(seqs)

    def events(self, start_ms: int, end_ms: int) -> list[dict[str, object]]:
        """The gateways' ingest events (replays, spool drops, dead letters) in a range."""
        q = (
            f"SELECT * FROM {self._from(self.plan.raw_rp, EVENTS_MEASUREMENT)} "
            f"WHERE time >= {start_ms}ms AND time < {end_ms}ms"
        )
        return [row for series in self.client.query_one(q) for row in series.records()]


def open_history(settings: Settings) -> History:
    """A History on the configured InfluxDB, with point kinds from the device profiles and
    the site's time zone (close it with ``history.client.close()``)."""
    from device_profiles import load_library

    config = settings.influxdb
    client = InfluxClient(
        config.url,
        config.database,
        username=config.username,
        password=config.password,
        token=config.token,
        timeout=config.timeout_s,
    )
    return History(
        client,
        RetentionPlan.from_config(config),
        kinds=point_kinds(load_library()),
        tz=settings.site.timezone,
    )


def series_csv(series: Series, tz: ZoneInfo) -> str:
    """A series as CSV: local time, value (and low/high for buckets, quality for raw)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    bucketed = series.plan.bucket_s is not None
    header = ["time", "asset_no", "point", "value"]
    header += ["low", "high"] if bucketed and series.kind is PointKind.ANALOG else []
    header += [] if bucketed else ["quality"]
    writer.writerow(header)
    for p in series.points:
        row: list[object] = [_iso(p.ts_ms, tz), series.asset_no, series.point, _cell(p.value)]
        if bucketed and series.kind is PointKind.ANALOG:
            row += [_cell(p.low), _cell(p.high)]
        if not bucketed:
            row.append(p.quality or "good")
        writer.writerow(map(spreadsheet_cell, row))
    return out.getvalue()


def increases_csv(asset_no: str, point: str, rows: Sequence[Increase], tz: ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period_start", "period_end", "asset_no", "point", "increase"])
    for r in rows:
        writer.writerow(
            [_iso(r.start_ms, tz), _iso(r.end_ms, tz), asset_no, point, _cell(r.increase)]
        )
    return out.getvalue()


def _iso(ts_ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz).isoformat(timespec="milliseconds")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)
