"""What reports read from the plant, stated here and implemented one floor up.

Maintenance never imports gateway (docs/decisions/004-layers.md): the alarm journal's KPIs
(ISA-18.2, ``gateway.alarms.kpi``) and the historian's counters reach the reports through
these protocols; ``gateway.report_sources`` implements them over the alarm store and
InfluxDB, and the ``facility report`` wiring (``gateway/cli/report_wiring.py``) passes them in.
``NoAlarms`` / ``NoMeters`` stand for a source that is not there: the report then says
"no alarm data" / "no meter data" rather than printing zeros.
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


class AlarmHistory(Protocol):
    """The alarm journal, as reports read it (site None: every estate)."""

    def figures(self, site: str | None, start: datetime, end: datetime) -> AlarmFigures:
        """KPIs of the journal entries in ``[start, end)``."""
        ...

    def counts(self, site: str | None, bounds: Bounds) -> list[int]:
        """Annunciated alarms in each ``[start, end)`` of ``bounds``."""
        ...


MeterUse = dict[tuple[str, str], list[float | None]]  # (asset_no, point) -> use per bound


class MeterHistory(Protocol):
    """Counter use from the historian: how much each counter grew in each period."""

    def use(self, site: str | None, points: Sequence[MeterPoint], bounds: Bounds) -> MeterUse:
        """Per counter that has data, its growth in each bound (None: no data then); a
        counter that went back (reset, replaced meter) counts from zero."""
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
