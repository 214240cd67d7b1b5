"""Where maintenance reads live plant data: counters, active alarms and signal series.

Three small protocols, each with a historian- or journal-backed implementation and one that
needs nothing but the SQL database (manual entry, tests):

- ``MeterSource``: a counter's current reading (run hours, starts, pumped volume, burn hours)
  — ``InfluxMeters`` reads the historian's last value (``gateway.history``), ``SqlMeters``
  the latest reading typed in, read off a checklist, or recorded at a completion.
- ``ConditionSource``: the active alarms of assets and since when — ``AlarmStateConditions``
  reads the alarm engine's ``alarm_state`` table; ``StaticConditions`` is a fixed mapping.
- ``SeriesSource``: a point's readings over a time range, for proof of fix —
  ``InfluxSeries`` reads the historian; ``StaticSeries`` is a fixed list.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from facility.errors import StorageError
from maintenance.alarm_schema import state_query
from maintenance.db import Database
from maintenance.wo_schema import latest_readings_query
from maintenance.workorders import Sample

log = logging.getLogger(__name__)

MeterKey = tuple[str, str]  # (asset_no, point)


class MeterSource(Protocol):
    """Current counter readings."""

    def read(self, asset_no: str, point: str) -> float | None:
        """The counter's latest reading; None when unknown."""
        ...

    def read_many(self, keys: Collection[MeterKey]) -> dict[MeterKey, float]:
        """Latest readings of many counters at once (unknown ones are left out)."""
        ...


class ConditionSource(Protocol):
    """Active alarms, for condition triggers."""

    def active(self, asset_nos: Collection[str]) -> dict[str, dict[str, datetime]]:
        """asset_no -> alarm name -> active since (assets with none are left out)."""
        ...


class SeriesSource(Protocol):
    """A point's readings over a time range (None values: bad quality)."""

    def samples(
        self, asset_no: str, point: str, start: datetime, end: datetime
    ) -> list[Sample]: ...


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


# --- SQL ----------------------------------------------------------------------------------


class SqlMeters:
    """Counter readings kept in the SQL database (manual entry, checklists, completions)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def read(self, asset_no: str, point: str) -> float | None:
        return self.read_many([(asset_no, point)]).get((asset_no, point))

    def read_many(self, keys: Collection[MeterKey]) -> dict[MeterKey, float]:
        if not keys:
            return {}
        wanted = set(keys)
        assets = sorted({asset_no for asset_no, _ in wanted})
        found: dict[MeterKey, float] = {}
        with self._db.transaction() as tx:
            for start in range(0, len(assets), 500):
                chunk = assets[start : start + 500]
                for asset_no, point, value in tx.execute(latest_readings_query(chunk)):
                    if (asset_no, point) in wanted:
                        found[(asset_no, point)] = float(value)
        return found


class StaticMeters:
    """Fixed readings (tests, benchmarks, a manual what-if)."""

    def __init__(self, readings: Mapping[MeterKey, float] | None = None) -> None:
        self.readings: dict[MeterKey, float] = dict(readings or {})

    def read(self, asset_no: str, point: str) -> float | None:
        return self.readings.get((asset_no, point))

    def read_many(self, keys: Collection[MeterKey]) -> dict[MeterKey, float]:
        return {k: self.readings[k] for k in keys if k in self.readings}


class AlarmStateConditions:
    """Active alarms from the alarm engine's ``alarm_state`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def active(self, asset_nos: Collection[str]) -> dict[str, dict[str, datetime]]:
        wanted = set(asset_nos)
        found: dict[str, dict[str, datetime]] = {}
        with self._db.transaction() as tx:
            for row in tx.execute(state_query(active=True)).scalars():
                if row.asset_no in wanted and row.since is not None:
                    found.setdefault(row.asset_no, {})[row.alarm] = _utc(row.since)
        return found


class StaticConditions:
    """Fixed active alarms (tests)."""

    def __init__(self, active: Mapping[str, Mapping[str, datetime]] | None = None) -> None:
        self.alarms: dict[str, dict[str, datetime]] = {
            k: dict(v) for k, v in (active or {}).items()
        }

    def active(self, asset_nos: Collection[str]) -> dict[str, dict[str, datetime]]:
        return {a: dict(self.alarms[a]) for a in asset_nos if self.alarms.get(a)}


class StaticSeries:
    """Fixed series by (asset_no, point) (tests)."""

    def __init__(self, series: Mapping[MeterKey, Sequence[Sample]] | None = None) -> None:
        self.series: dict[MeterKey, list[Sample]] = {k: list(v) for k, v in (series or {}).items()}

    def samples(self, asset_no: str, point: str, start: datetime, end: datetime) -> list[Sample]:
        return [s for s in self.series.get((asset_no, point), []) if start <= s.at <= end]


# --- the historian ------------------------------------------------------------------------


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class InfluxMeters:
    """Counter readings from the historian: the last stored value of each counter point.

    One query per device class and point for ``read_many`` (``GROUP BY asset_no``), so a
    pass over every pump costs a few queries, not one per pump.
    """

    def __init__(self, history: object) -> None:
        from gateway.history import History

        assert isinstance(history, History)
        self._history = history

    def read(self, asset_no: str, point: str) -> float | None:
        latest = self._history.latest(asset_no).get(point)
        return _number(latest.value) if latest is not None else None

    def read_many(self, keys: Collection[MeterKey]) -> dict[MeterKey, float]:
        from gateway.influx import quote_ident, quote_string
        from gateway.lineproto import measurement_for

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
                    value = _number(series.values[0][1])
                    if value is not None:
                        found[(asset_no, point)] = value
        return found


class InfluxSeries:
    """A point's raw readings from the historian (bad-quality readings as None)."""

    def __init__(self, history: object, max_points: int = 5000) -> None:
        from gateway.history import History

        assert isinstance(history, History)
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
                _number(p.value) if p.quality in (None, "good") else None,
            )
            for p in series.points
        ]


class FirstKnownMeters:
    """Each counter from the first source that knows it (the historian, then SQL)."""

    def __init__(self, *sources: MeterSource) -> None:
        self.sources = sources

    def read(self, asset_no: str, point: str) -> float | None:
        return self.read_many([(asset_no, point)]).get((asset_no, point))

    def read_many(self, keys: Collection[MeterKey]) -> dict[MeterKey, float]:
        found: dict[MeterKey, float] = {}
        missing = set(keys)
        for source in self.sources:
            if not missing:
                break
            try:
                got = source.read_many(missing)
            except StorageError as exc:
                log.warning("meter source %s unavailable: %s", type(source).__name__, exc)
                continue
            found.update(got)
            missing -= set(got)
        return found
