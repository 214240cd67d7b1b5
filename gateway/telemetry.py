"""The plant as maintenance reads it, implemented over InfluxDB and the alarm store.

Maintenance states what it needs from telemetry as protocols in ``maintenance.telemetry``
(``MeterSource``, ``SeriesSource``, ``RaiseJournal``); this module, one floor up, implements
them: counters and proof-of-fix series from the historian, raise entries from the alarm
journal. ``plant_telemetry(settings)`` builds the bundle the PM scheduler is given by the
wiring (the CLI). See docs/decisions/004-layers.md.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from facility.config import Settings
from facility.errors import StorageError
from gateway.alarms.state import EventKind
from gateway.alarms.store import AlarmStore
from gateway.history import History
from gateway.influx import InfluxClient, quote_ident, quote_string
from gateway.lineproto import measurement_for
from gateway.retention import RetentionPlan
from maintenance.telemetry import AlarmRaise, MeterKey, PlantTelemetry, as_number
from maintenance.workorders import Sample

log = logging.getLogger(__name__)


def historian(settings: Settings) -> History:
    """The historian API over the configured InfluxDB (v1-compatible /query)."""
    config = settings.influxdb
    client = InfluxClient(
        config.url,
        config.database,
        username=config.username,
        password=config.password,
        token=config.token,
        timeout=config.timeout_s,
    )
    return History(client, RetentionPlan.from_config(config), tz=settings.site.timezone)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class InfluxMeters:
    """Counter readings from the historian: the last stored value of each counter point.

    One query per device class and point for ``read_many`` (``GROUP BY asset_no``), so a
    pass over every pump costs a few queries, not one per pump.
    """

    def __init__(self, history: History) -> None:
        self._history = history

    def read(self, asset_no: str, point: str) -> float | None:
        latest = self._history.latest(asset_no).get(point)
        return as_number(latest.value) if latest is not None else None

    def read_many(self, keys: Collection[MeterKey]) -> dict[MeterKey, float]:
        wanted = set(keys)
        by_query: dict[tuple[str, str], set[str]] = {}
        for asset_no, point in wanted:
            by_query.setdefault((measurement_for(asset_no), point), set()).add(asset_no)
        found: dict[MeterKey, float] = {}
        rp = self._history.plan.raw_rp
        for (measurement, point), assets in sorted(by_query.items()):
            names = " OR ".join(f"asset_no = {quote_string(a)}" for a in sorted(assets))
            q = (
                f"SELECT last({quote_ident(point)}) FROM {quote_ident(rp)}."
                f"{quote_ident(measurement)} WHERE {names} GROUP BY asset_no"
            )
            try:
                result = self._history.client.query_one(q)
            except StorageError as exc:
                log.warning(
                    "meters measurement=%s point=%s unreadable: %s", measurement, point, exc
                )
                continue
            for series in result:
                asset_no = series.tags.get("asset_no", "")
                if series.values and (asset_no, point) in wanted:
                    value = as_number(series.values[0][1])
                    if value is not None:
                        found[(asset_no, point)] = value
        return found


class InfluxSeries:
    """A point's raw readings from the historian (bad-quality readings as None)."""

    def __init__(self, history: History, max_points: int = 5000) -> None:
        self._history = history
        self._max_points = max_points

    def samples(self, asset_no: str, point: str, start: datetime, end: datetime) -> list[Sample]:
        series = self._history.series(
            asset_no,
            point,
            _ms(start),
            _ms(end) + 1,
            max_points=self._max_points,
            now_ms=_ms(end),
        )
        return [
            Sample(
                datetime.fromtimestamp(p.ts_ms / 1000, UTC),
                as_number(p.value) if p.quality in (None, "good") else None,
            )
            for p in series.points
        ]


class StoreRaises:
    """``RaiseJournal`` over the alarm store: its journal's ``raise`` entries."""

    def __init__(self, store: AlarmStore) -> None:
        self._store = store

    def raises(self, *, after_id: int | None, limit: int) -> Sequence[AlarmRaise]:
        records = self._store.journal(events=[EventKind.RAISE], after_id=after_id, limit=limit)
        return [
            AlarmRaise(
                r.id,
                r.at,
                r.asset_no,
                r.alarm,
                r.value,
                r.priority,
                definition if isinstance(definition := r.detail.get("definition"), dict) else None,
            )
            for r in records
            if r.id is not None
        ]

    def last_raise_id(self) -> int:
        last = 0
        for record in self._store.iter_journal(events=[EventKind.RAISE]):
            last = record.id or last
        return last


def plant_telemetry(settings: Settings) -> PlantTelemetry:
    """Meters, series and alarm raises over the configured InfluxDB and SQL database."""
    history = historian(settings)
    alarms = AlarmStore(settings.database_url, migrate=False)
    return PlantTelemetry(
        meters=InfluxMeters(history),
        series=InfluxSeries(history),
        raises=StoreRaises(alarms),
        closers=[history.client.close, alarms.close],
    )
