"""Retention policies and downsampling in InfluxDB 1.x, set up idempotently on start.

    raw      every reading, kept ``raw_days`` (default RP: the writer needs no ``rp=``)
    agg_1m   1-minute aggregates, kept ``aggregate_days``   fields mean_<f>, min_<f>, max_<f>,
                                                            last_<f>
    agg_1h   1-hour aggregates of the 1-minute ones         mean_mean_<f>, min_min_<f>,
                                                            max_max_<f>, last_last_<f>

InfluxQL applies one function to every field of a wildcard, so each continuous query applies
all four: numeric fields get mean/min/max/last, booleans min/max/last, strings (states given
as text, quality ``_q``) last only. A reader picks what the point needs: analogue values
mean (with min/max as the band), states last, counters max — the increase over a period is
the difference of consecutive maxima (gateway.history). The hourly CQ reads the 1-minute
data, not raw: 60 rows per hour and series instead of 3,600; the mean of minute means equals
the hourly mean when minutes hold equal numbers of polls (a poll period divides a minute).

CQs compute each interval once, just after it ends; ``RESAMPLE ... FOR`` makes them redo the
previous interval too (a batch arriving a few seconds late). Data replayed later from the
gateway's spool arrives after its CQ ran: ``backfill`` recomputes the aggregates of a replayed
time range (the same SELECT ... INTO, restricted to it) — same series and times, so it
overwrites.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from facility.config import InfluxConfig
from facility.types import DeviceClass
from gateway.influx import InfluxClient, QuerySeries, quote_ident
from gateway.lineproto import HEALTH_MEASUREMENT

log = logging.getLogger(__name__)

FUNCTIONS = ("mean", "min", "max", "last")
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
BACKFILL_CHUNK_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    """Names and lifetimes of the retention policies (docs/historian.md)."""

    raw_days: int = 30
    aggregate_days: int = 3650
    raw_rp: str = "raw"
    minute_rp: str = "agg_1m"
    hour_rp: str = "agg_1h"

    @classmethod
    def from_config(cls, config: InfluxConfig) -> RetentionPlan:
        return cls(
            raw_days=config.raw_retention_days, aggregate_days=config.aggregate_retention_days
        )

    def measurements(self) -> list[str]:
        """What is downsampled: every device class and the health (not ingest_events)."""
        return [c.value.lower() for c in DeviceClass] + [HEALTH_MEASUREMENT]


def _shard_duration(days: int) -> str:
    # InfluxDB's own defaults by RP duration: < 2 days → 1h, ≤ 6 months → 1d, else 7d
    if days < 2:
        return "1h"
    if days <= 183:
        return "1d"
    return "7d"


def rp_statement(database: str, name: str, days: int, *, default: bool, create: bool) -> str:
    verb = "CREATE" if create else "ALTER"
    return (
        f"{verb} RETENTION POLICY {quote_ident(name)} ON {quote_ident(database)} "
        f"DURATION {days}d REPLICATION 1 SHARD DURATION {_shard_duration(days)}"
        + (" DEFAULT" if default else "")
    )


def aggregate_select(
    plan: RetentionPlan,
    database: str,
    *,
    hourly: bool,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> str:
    """The ``SELECT ... INTO`` of one downsampling step (a CQ body, or a backfill)."""
    db = quote_ident(database)
    if hourly:
        source_rp, target_rp, interval = plan.minute_rp, plan.hour_rp, "1h"
        selectors = ", ".join(f"{f}(/^{f}_/)" for f in FUNCTIONS)
    else:
        source_rp, target_rp, interval = plan.raw_rp, plan.minute_rp, "1m"
        selectors = ", ".join(f"{f}(*)" for f in FUNCTIONS)
    sources = ", ".join(
        f"{db}.{quote_ident(source_rp)}.{quote_ident(m)}" for m in plan.measurements()
    )
    where = ""
    if start_ms is not None and end_ms is not None:
        where = f" WHERE time >= {start_ms}ms AND time < {end_ms}ms"
    return (
        f"SELECT {selectors} INTO {db}.{quote_ident(target_rp)}.:MEASUREMENT "
        f"FROM {sources}{where} GROUP BY time({interval}), *"
    )


def cq_name(hourly: bool) -> str:
    return "facility_agg_1h" if hourly else "facility_agg_1m"


def cq_statement(plan: RetentionPlan, database: str, *, hourly: bool) -> str:
    resample = "RESAMPLE EVERY 1h FOR 2h" if hourly else "RESAMPLE EVERY 1m FOR 2m"
    return (
        f"CREATE CONTINUOUS QUERY {quote_ident(cq_name(hourly))} ON {quote_ident(database)} "
        f"{resample} BEGIN {aggregate_select(plan, database, hourly=hourly)} END"
    )


def _normalise(query: str) -> str:
    """CQ text as the server shows it (it drops the quotes of plain identifiers)."""
    return "".join(query.replace('"', "").split()).lower()


def setup(client: InfluxClient, plan: RetentionPlan) -> list[str]:
    """Create or update the database, RPs and CQs; return what was changed (empty: nothing)."""
    database = client.database
    changed: list[str] = []
    client.create_database()
    existing: dict[str, tuple[str, bool]] = {}
    for series in client.query_one(f"SHOW RETENTION POLICIES ON {quote_ident(database)}"):
        for row in series.records():
            existing[str(row["name"])] = (str(row["duration"]), bool(row["default"]))
    wanted = [
        (plan.raw_rp, plan.raw_days, True),
        (plan.minute_rp, plan.aggregate_days, False),
        (plan.hour_rp, plan.aggregate_days, False),
    ]
    for name, days, default in wanted:
        duration = f"{days * 24}h0m0s"
        if name in existing and existing[name] == (duration, default):
            continue
        statement = rp_statement(database, name, days, default=default, create=name not in existing)
        client.query(statement)
        changed.append(statement)
    current = _continuous_queries(client.query_one("SHOW CONTINUOUS QUERIES"), database)
    for hourly in (False, True):
        name = cq_name(hourly)
        statement = cq_statement(plan, database, hourly=hourly)
        if name in current and _normalise(current[name]) == _normalise(statement):
            continue
        if name in current:
            client.query(f"DROP CONTINUOUS QUERY {quote_ident(name)} ON {quote_ident(database)}")
        client.query(statement)
        changed.append(statement)
    for statement in changed:
        log.info("historian setup database=%s: %s", database, statement)
    return changed


def _continuous_queries(series: list[QuerySeries], database: str) -> dict[str, str]:
    for item in series:
        if item.name == database:
            return {str(row["name"]): str(row["query"]) for row in item.records()}
    return {}


def backfill_windows(start_ms: int, end_ms: int, step_ms: int) -> list[tuple[int, int]]:
    """``[start, end]`` widened to whole ``step_ms`` intervals, cut into chunks of at most
    ``BACKFILL_CHUNK_MS`` (pure)."""
    if end_ms < start_ms:
        return []
    first = start_ms - start_ms % step_ms
    last = end_ms - end_ms % step_ms + step_ms
    chunk = max(step_ms, BACKFILL_CHUNK_MS - BACKFILL_CHUNK_MS % step_ms)
    return [(t, min(t + chunk, last)) for t in range(first, last, chunk)]


def backfill(client: InfluxClient, plan: RetentionPlan, start_ms: int, end_ms: int) -> int:
    """Recompute the 1-minute then 1-hour aggregates covering ``[start_ms, end_ms]``;
    returns the number of aggregate rows written."""
    written = 0
    for hourly, step in ((False, MINUTE_MS), (True, HOUR_MS)):
        for lo, hi in backfill_windows(start_ms, end_ms, step):
            select = aggregate_select(plan, client.database, hourly=hourly, start_ms=lo, end_ms=hi)
            for series in client.query_one(select):
                written += sum(int(row[1]) for row in series.values)
    return written
