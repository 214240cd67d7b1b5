"""The report as plain data, in no language: what the renderers (PDF, XLSX) lay out.

Built by ``assemble.assemble`` from records and figures; every number is computed there, so
the PDF and the workbook of one report can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from maintenance.kpi import Ratio
from maintenance.reports.periods import ReportKind
from maintenance.reports.sources import AlarmFigures, SourceState

ALL = "ALL"  # the company: every estate


@dataclass(frozen=True)
class ClassRow:
    """Availability and failures of one device class of one estate (``HT-PMP``)."""

    scope: str
    assets: int
    availability: float | None
    downtime_h: float
    failures: int
    mttr_h: float | None


@dataclass(frozen=True)
class EstateRow:
    """One estate's headline figures (company reports)."""

    site: str
    assets: int
    availability: float | None
    pm_compliance: Ratio
    timeliness: Ratio
    mttr_h: float | None
    open_at_end: int


@dataclass(frozen=True)
class WorkOrderFigures:
    created: int
    created_corrective: int
    created_preventive: int
    done: int
    open_at_end: int
    overdue: int  # open at the end and past their completion target
    backlog_h: float  # estimated hours of the orders open at the end


@dataclass(frozen=True)
class PriorityTimeliness:
    priority: str
    ratio: Ratio
    meets: bool | None  # None: nothing decided at this priority


@dataclass(frozen=True)
class MeterTotals:
    """Counter use over the period; None: no counter of that kind had data."""

    energy_kwh: float | None
    water_m3: float | None
    run_hours: float | None
    counters: int  # counters with data in the period


@dataclass(frozen=True)
class TrendPoint:
    """One of the last 12 periods, for the trend charts (None: nothing to show)."""

    label: str
    availability: float | None
    pm_compliance: float | None
    timeliness: float | None
    alarms: int | None
    created: int
    done: int
    energy_kwh: float | None
    water_m3: float | None


@dataclass(frozen=True)
class Attention:
    """One line of "needs attention": a key of ``text.ATTENTION`` and its values."""

    key: str
    severity: int  # 1 high, 2 medium, 3 low
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """A weekly or monthly report of one estate or of the company (``scope`` = ALL)."""

    kind: ReportKind
    scope: str
    scope_en: str
    scope_zh: str
    period: str
    start: datetime
    end: datetime
    timezone: str
    generated_at: datetime
    has_data: bool
    assets: int
    availability: float | None
    downtime_h: float
    pm_compliance: Ratio
    timeliness: Ratio
    target: float
    by_priority: tuple[PriorityTimeliness, ...]
    response: Ratio
    mttr_h: float | None
    mttr_no_hold_h: float | None
    mtbf_h: float | None
    mtbf_run_h: float | None  # pump run hours per failure of a pump
    failures: int
    down_at_end: tuple[str, ...]
    classes: tuple[ClassRow, ...]
    estates: tuple[EstateRow, ...]
    work_orders: WorkOrderFigures
    alarms: AlarmFigures | None  # None: no alarm data source
    meters: MeterTotals | None  # None: no meter data
    trend: tuple[TrendPoint, ...]
    attention: tuple[Attention, ...]
    # absent: no source wired; unavailable: wired but it failed (the report says so)
    alarms_source: SourceState = "ok"
    meters_source: SourceState = "ok"

    @property
    def unavailable(self) -> tuple[str, ...]:
        """The plant sources that could not be read (``alarms``, ``meters``)."""
        states = (("alarms", self.alarms_source), ("meters", self.meters_source))
        return tuple(name for name, state in states if state == "unavailable")
