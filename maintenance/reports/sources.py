"""What reports read from the plant, stated here and implemented one floor up.

Maintenance never imports gateway (docs/decisions/004-layers.md): the alarm journal's KPIs
(ISA-18.2, ``gateway.alarms.kpi``) and the historian's counters reach the reports through
these protocols; ``gateway.report_sources`` implements them over the alarm store and
InfluxDB, and the ``facility report`` wiring (``gateway/cli/report_wiring.py``) passes them in.
A source that is not wired (None) makes the report say "no alarm data" / "no meter data";
a source that is wired but cannot be reached (``FacilityError``: the database or InfluxDB
down) makes it say "source unavailable" (``SourceState``) — never zeros, never "no data".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Quantity = Literal["energy", "water", "run_hours"]
Bounds = Sequence[tuple[datetime, datetime]]


@dataclass(frozen=True)
class MeterPoint:
    """A counter that a report sums: device class, point, what it measures, to report units."""

    device_class: str  # PMP
    point: str
    quantity: Quantity
    factor: float = 1.0  # reading units -> kWh, m³ or h


# The counters of the device profiles that reports sum (device_profiles/library/*.yaml):
# energy in kWh (street lights count Wh), water taken into the tanks in m³, pump run hours.
REPORT_METERS: tuple[MeterPoint, ...] = (
    MeterPoint("PMP", "energy", "energy"),
    MeterPoint("LGT", "energy", "energy", 0.001),
    MeterPoint("TNK", "inflow_total", "water"),
    MeterPoint("PMP", "run_hours", "run_hours"),
    MeterPoint("PDP", "pump_run_hours", "run_hours"),
)


@dataclass(frozen=True)
class BadActor:
    alarm_id: str
    count: int
    share: float  # % of all alarms of the period


@dataclass(frozen=True)
class AlarmFigures:
    """The alarm load of one scope and period, against ISA-18.2 / EEMUA 191 targets."""

    alarms: int  # annunciated activations (raises)
    per_hour: float
    per_10min: float
    peak_10min: int
    pct_10min_over: float  # % of 10-minute periods with more than 10 alarms (target < 1 %)
    pct_time_in_flood: float
    standing: int  # alarms active for more than 24 h (stale)
    shelved: int  # shelve actions in the period
    shelved_now: int  # alarms shelved at the end of the period (or now)
    chattering: int
    fleeting: int
    ack_median_s: float | None
    top: tuple[BadActor, ...] = ()
    top_share: float = 0.0
    priorities: dict[str, int] = field(default_factory=dict)


SourceState = Literal["ok", "absent", "unavailable"]  # absent: not wired; unavailable: failed


@dataclass(frozen=True)
class ActiveAlarm:
    """An alarm whose condition was active at a moment (daily sheet: standing alarms)."""

    alarm_id: str
    asset_no: str
    alarm: str
    priority: str
    since: datetime | None
    state: str = ""  # unack, acked, shelved, ... ("" when replayed from the journal)


@dataclass(frozen=True)
class AlarmEvent:
    """One annunciated alarm (a raise) of the journal."""

    at: datetime
    alarm_id: str
    asset_no: str
    alarm: str
    priority: str


@dataclass(frozen=True)
class CounterValue:
    """A counter's last value before a moment (daily sheet: meter readings of the day)."""

    asset_no: str
    point: str
    value: float
    at: datetime


@dataclass(frozen=True)
class DeviceSeen:
    """When the historian last heard from a device, and whether it could talk to it then."""

    asset_no: str
    last_seen: datetime
    comm_ok: bool | None


class AlarmHistory(Protocol):
    """The alarm journal, as reports read it (site None: every estate)."""

    def figures(self, site: str | None, start: datetime, end: datetime) -> AlarmFigures:
        """KPIs of the journal entries in ``[start, end)``."""
        ...

    def counts(self, site: str | None, bounds: Bounds) -> list[int]:
        """Annunciated alarms in each ``[start, end)`` of ``bounds``."""
        ...

    def active(self, site: str | None, at: datetime) -> list[ActiveAlarm]:
        """Alarms whose condition was active at ``at`` (shelved ones too)."""
        ...

    def raises(self, site: str | None, start: datetime, end: datetime) -> list[AlarmEvent]:
        """The raises of ``[start, end)``, oldest first."""
        ...


MeterUse = dict[tuple[str, str], list[float | None]]  # (asset_no, point) -> use per bound


class MeterHistory(Protocol):
    """Counter use from the historian: how much each counter grew in each period."""

    def use(self, site: str | None, points: Sequence[MeterPoint], bounds: Bounds) -> MeterUse:
        """Per counter that has data, its growth in each bound (None: no data then); a
        counter that went back (reset, replaced meter) counts from zero."""
        ...

    def latest(
        self, site: str | None, points: Sequence[MeterPoint], at: datetime
    ) -> list[CounterValue]:
        """Each counter's last value in the day before ``at``."""
        ...

    def seen(self, site: str | None, start: datetime, end: datetime) -> dict[str, DeviceSeen]:
        """Devices heard from in ``[start, end)``: the last time, by asset number."""
        ...


@dataclass
class ReportSources:
    """The plant as reports read it, built by the level above maintenance."""

    alarms: AlarmHistory | None = None
    meters: MeterHistory | None = None
    closers: Sequence[Callable[[], None]] = ()

    def close(self) -> None:
        for close in self.closers:
            close()
