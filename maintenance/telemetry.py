"""Where maintenance reads live plant data: counters, active alarms and signal series.

Three small protocols, each with a historian- or journal-backed implementation and one that
needs nothing but the SQL database (manual entry, tests):

- ``MeterSource``: a counter's current reading (run hours, starts, pumped volume, burn hours)
  — ``gateway.telemetry.InfluxMeters`` reads the historian's last value, ``SqlMeters``
  the latest reading typed in, read off a checklist, or recorded at a completion.
- ``ConditionSource``: the active alarms of assets and since when — ``AlarmStateConditions``
  reads the alarm engine's ``alarm_state`` table; ``StaticConditions`` is a fixed mapping.
- ``SeriesSource``: a point's readings over a time range, for proof of fix —
  ``gateway.telemetry.InfluxSeries`` reads the historian; ``StaticSeries`` is a fixed list.
- ``RaiseJournal``: the alarm journal's raise entries, for corrective orders —
  ``gateway.telemetry.StoreRaises`` reads the alarm store.

These protocols are maintenance's side of the floor: the historian- and alarm-store-backed
implementations live above, in ``gateway.telemetry``, which builds a ``PlantTelemetry`` for
the wiring (the CLI) to pass down. Maintenance never imports gateway (docs/decisions/004).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

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


@dataclass(frozen=True)
class AlarmRaise:
    """One ``raise`` entry of the alarm journal, as much as corrective orders need."""

    id: int  # journal row id: the cursor
    at: datetime
    asset_no: str | None
    alarm: str
    value: object = None
    priority: str | None = None  # as raised (overrides included)
    definition: Mapping[str, Any] | None = None  # the alarm as compiled when it raised


class RaiseJournal(Protocol):
    """The alarm journal's raise entries, oldest first."""

    def raises(self, *, after_id: int | None, limit: int) -> Sequence[AlarmRaise]:
        """At most ``limit`` raises with a journal id above ``after_id`` (None: from the start)."""
        ...

    def last_raise_id(self) -> int:
        """The id of the newest raise; 0 when there is none."""
        ...


@dataclass
class PlantTelemetry:
    """The plant as the PM scheduler reads it, built by the level above maintenance."""

    meters: MeterSource  # the historian's counters (SQL readings are added below them)
    series: SeriesSource  # proof of fix
    raises: RaiseJournal  # corrective orders from alarms
    closers: Sequence[Callable[[], None]] = field(default_factory=list)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def as_number(value: object) -> float | None:
    """A reading's value as a number (booleans as 0/1); None for text or nothing."""
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
