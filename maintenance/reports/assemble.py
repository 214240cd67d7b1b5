"""Pure: records and figures of a scope and period -> the report model. No I/O.

The KPI formulas are ``maintenance.kpi``'s (docs/maintenance.md), applied to the span of the
report and of each of the 12 trend periods; work-order counts come from every order alive in
the range (``queries.OrderLife``); alarm figures and counter use come from the plant sources.
"Needs attention" is computed from the figures, worst first: targets missed (repair
timeliness 90 % overall and per priority, PM compliance 90 %), classes below 98 %
availability, overdue orders, assets kept down, an alarm load above EEMUA/ISA-18.2 targets,
standing and chattering alarms, energy or water up by more than 20 % on the previous period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from facility.types import PRIORITY_ORDER
from maintenance import kpi
from maintenance.kpi_queries import KpiRecords
from maintenance.reports.model import (
    ALL,
    Attention,
    ClassRow,
    EstateRow,
    MeterTotals,
    PriorityTimeliness,
    Report,
    TrendPoint,
    WorkOrderFigures,
)
from maintenance.reports.periods import ReportPeriod
from maintenance.reports.queries import OrderLife
from maintenance.reports.sources import (
    REPORT_METERS,
    AlarmFigures,
    MeterUse,
    Quantity,
    SourceState,
)

PM_TARGET = 0.9
AVAILABILITY_TARGET = 0.98
ALARMS_PER_HOUR_TARGET = 6.0  # EEMUA 191: about 6 per hour per position is acceptable
FLOOD_TARGET_PCT = 1.0  # ISA-18.2: under ~1 % of 10-minute periods with more than 10 alarms
USE_RISE = 0.2
_PERIOD: dict[str, kpi.Period] = {"daily": "day", "weekly": "week", "monthly": "month"}


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report is assembled from (read by ``build.gather``)."""

    scope: str  # a site code, or ALL
    scope_en: str
    scope_zh: str
    periods: Sequence[ReportPeriod]  # the trend periods, oldest first; the last is reported
    records: KpiRecords  # over the whole trend range
    lives: Sequence[OrderLife]  # every order alive in the whole trend range
    alarm_figures: AlarmFigures | None
    alarm_counts: Sequence[int] | None  # per trend period
    meter_use: MeterUse | None  # per trend period
    now: datetime
    tz: tzinfo
    timezone: str
    target: float = 0.9
    alarms_source: SourceState = "ok"
    meters_source: SourceState = "ok"


def work_order_figures(
    lives: Sequence[OrderLife], start: datetime, end: datetime, now: datetime
) -> WorkOrderFigures:
    """Created and done in ``[start, end)``; open, overdue and backlog at its end (or now)."""
    horizon = min(end, now)
    created = [o for o in lives if start <= o.created_at < end]
    open_ = [o for o in lives if o.open_at(horizon)]
    return WorkOrderFigures(
        created=len(created),
        created_corrective=sum(1 for o in created if o.kind == "corrective"),
        created_preventive=sum(1 for o in created if o.kind == "preventive"),
        done=sum(1 for o in lives if o.completed_at is not None and start <= o.completed_at < end),
        open_at_end=len(open_),
        overdue=sum(1 for o in open_ if o.completion_due < horizon),
        backlog_h=sum(o.estimated_min for o in open_) / 60,
    )


def meter_totals(use: MeterUse | None, index: int) -> MeterTotals | None:
    """Sums per quantity of the counters' use in trend period ``index``."""
    if use is None:
        return None
    quantities: dict[tuple[str, str], tuple[Quantity, float]] = {}
    for meter in REPORT_METERS:
        quantities[(meter.device_class, meter.point)] = (meter.quantity, meter.factor)
    sums: dict[Quantity, float] = {}
    counters = 0
    for (asset_no, point), values in use.items():
        value = values[index] if index < len(values) else None
        found = quantities.get((_class_of(asset_no), point))
        if value is None or found is None:
            continue
        quantity, factor = found
        sums[quantity] = sums.get(quantity, 0.0) + value * factor
        counters += 1
    if not counters:
        return None
    return MeterTotals(sums.get("energy"), sums.get("water"), sums.get("run_hours"), counters)


def _class_of(asset_no: str) -> str:
    parts = asset_no.split("-")
    return parts[1] if len(parts) > 2 else ""


def _run_hour_classes() -> set[str]:
    return {m.device_class for m in REPORT_METERS if m.quantity == "run_hours"}


def _availability(
    records: KpiRecords, start: datetime, end: datetime, now: datetime
) -> tuple[float | None, float]:
    hours = max((min(end, now) - start).total_seconds() / 3600, 0.0) * len(records.assets)
    down = kpi.downtime_hours(records.orders, start, end, now)
    return (1 - down / hours if hours > 0 else None), down


def _trend(inputs: ReportInputs, index: int, period: ReportPeriod) -> TrendPoint:
    records, now = inputs.records, inputs.now
    start, end = period.start, period.end
    availability, _ = _availability(records, start, end, now)
    figures = work_order_figures(inputs.lives, start, end, now)
    meters = meter_totals(inputs.meter_use, index)
    counts = inputs.alarm_counts
    return TrendPoint(
        label=period.label,
        availability=availability if start < now else None,
        pm_compliance=kpi.pm_compliance(records.occurrences, start, end, now).value,
        timeliness=kpi.repair_timeliness(records.orders, start, end, now).value,
        alarms=counts[index] if counts is not None and index < len(counts) else None,
        created=figures.created,
        done=figures.done,
        energy_kwh=meters.energy_kwh if meters else None,
        water_m3=meters.water_m3 if meters else None,
    )


def assemble(inputs: ReportInputs) -> Report:
    """The report of the last of ``inputs.periods``."""
    period = inputs.periods[-1]
    records, now, start, end = inputs.records, inputs.now, period.start, period.end
    orders, occurrences = records.orders, records.occurrences
    availability, downtime = _availability(records, start, end, now)
    failed = kpi.failures(orders, start, end)
    hours_up = max((min(end, now) - start).total_seconds() / 3600, 0.0) * len(records.assets)
    by_priority = []
    for priority in PRIORITY_ORDER:
        ratio = kpi.repair_timeliness(
            [o for o in orders if o.priority == priority], start, end, now
        )
        value = ratio.value
        by_priority.append(
            PriorityTimeliness(priority, ratio, None if value is None else value >= inputs.target)
        )
    kind = _PERIOD[period.kind]
    classes = tuple(
        ClassRow(r.scope, r.assets, r.availability, r.downtime_h, r.failures, r.mttr_h)
        for r in kpi.report(
            occurrences, orders, records.assets, start, end, kind, inputs.tz, now, by="class"
        )
    )
    estates: tuple[EstateRow, ...] = ()
    if inputs.scope == ALL:
        estates = tuple(
            EstateRow(
                r.site,
                r.assets,
                r.availability,
                r.pm_compliance,
                r.repair_timeliness,
                r.mttr_h,
                r.open_at_end,
            )
            for r in kpi.report(
                occurrences, orders, records.assets, start, end, kind, inputs.tz, now, by="site"
            )
        )
    index = len(inputs.periods) - 1
    meters = meter_totals(inputs.meter_use, index)
    run_classes = _run_hour_classes()
    run_failures = sum(
        1
        for o in orders
        if o.kind == "corrective"
        and not o.cancelled
        and start <= o.created_at < end
        and _class_of(o.asset_no) in run_classes
    )
    mtbf_run = (
        meters.run_hours / run_failures
        if meters is not None and meters.run_hours is not None and run_failures
        else None
    )
    still_open = kpi.open_at(orders, min(end, now))
    work_orders = work_order_figures(inputs.lives, start, end, now)
    trend = tuple(_trend(inputs, i, p) for i, p in enumerate(inputs.periods))
    alarms = inputs.alarm_figures
    pm = kpi.pm_compliance(occurrences, start, end, now)
    timeliness = kpi.repair_timeliness(orders, start, end, now)
    has_data = bool(
        work_orders.created
        or work_orders.done
        or work_orders.open_at_end
        or any(start <= o.due < end for o in occurrences)
        or (alarms is not None and alarms.alarms)
        or meters is not None
    )
    report = Report(
        kind=period.kind,
        scope=inputs.scope,
        scope_en=inputs.scope_en,
        scope_zh=inputs.scope_zh,
        period=period.label,
        start=start,
        end=end,
        timezone=inputs.timezone,
        generated_at=now,
        has_data=has_data,
        assets=len(records.assets),
        availability=availability,
        downtime_h=downtime,
        pm_compliance=pm,
        timeliness=timeliness,
        target=inputs.target,
        by_priority=tuple(by_priority),
        response=kpi.response_sla(orders, start, end, now),
        mttr_h=kpi.mttr_hours(orders, start, end),
        mttr_no_hold_h=kpi.mttr_hours(orders, start, end, without_hold=True),
        mtbf_h=(hours_up - downtime) / failed if failed else None,
        mtbf_run_h=mtbf_run,
        failures=failed,
        down_at_end=tuple(sorted(o.number for o in still_open if o.asset_down)),
        classes=classes,
        estates=estates,
        work_orders=work_orders,
        alarms=alarms,
        meters=meters,
        trend=trend,
        attention=(),
        alarms_source=inputs.alarms_source,
        meters_source=inputs.meters_source,
    )
    return _with_attention(report)


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"  # as the tables write it


def needs_attention(report: Report) -> list[Attention]:
    """What a manager should look at first, computed from the figures, worst first."""
    found: list[Attention] = []
    target = _pct(report.target)
    if report.timeliness.value is not None and report.timeliness.value < report.target:
        found.append(
            Attention("timeliness", 1, {"value": _pct(report.timeliness.value), "target": target})
        )
    for prio in report.by_priority:
        if prio.meets is False and prio.ratio.value is not None:
            found.append(
                Attention(
                    "timeliness_priority",
                    1 if prio.priority in ("critical", "high") else 2,
                    {"priority": prio.priority, "value": _pct(prio.ratio.value), "target": target},
                )
            )
    if report.pm_compliance.value is not None and report.pm_compliance.value < PM_TARGET:
        found.append(
            Attention(
                "pm", 2, {"value": _pct(report.pm_compliance.value), "target": _pct(PM_TARGET)}
            )
        )
    for row in report.classes:
        if row.availability is not None and row.availability < AVAILABILITY_TARGET:
            found.append(
                Attention(
                    "availability",
                    2,
                    {
                        "scope": row.scope,
                        "value": _pct(row.availability),
                        "hours": f"{row.downtime_h:.0f}",
                    },
                )
            )
    if report.down_at_end:
        shown = ", ".join(report.down_at_end[:5]) + (" ..." if len(report.down_at_end) > 5 else "")
        found.append(Attention("down", 1, {"count": str(len(report.down_at_end)), "orders": shown}))
    if report.work_orders.overdue:
        found.append(
            Attention(
                "overdue",
                2,
                {
                    "count": str(report.work_orders.overdue),
                    "hours": f"{report.work_orders.backlog_h:.1f}",
                },
            )
        )
    alarms = report.alarms
    if alarms is not None:
        if alarms.per_hour > ALARMS_PER_HOUR_TARGET:
            found.append(
                Attention(
                    "alarm_rate",
                    2,
                    {"value": f"{alarms.per_hour:.1f}", "target": f"{ALARMS_PER_HOUR_TARGET:g}"},
                )
            )
        if alarms.pct_10min_over > FLOOD_TARGET_PCT:
            found.append(Attention("alarm_flood", 2, {"value": f"{alarms.pct_10min_over:.1f} %"}))
        if alarms.standing:
            found.append(Attention("standing", 2, {"count": str(alarms.standing)}))
        if alarms.chattering:
            found.append(Attention("chattering", 3, {"count": str(alarms.chattering)}))
        if alarms.top and alarms.top_share >= 50:
            found.append(
                Attention(
                    "bad_actors",
                    3,
                    {"share": f"{alarms.top_share:.0f} %", "first": alarms.top[0].alarm_id},
                )
            )
    if len(report.trend) >= 2:
        now_, before = report.trend[-1], report.trend[-2]
        for key, current, previous in (
            ("energy_rise", now_.energy_kwh, before.energy_kwh),
            ("water_rise", now_.water_m3, before.water_m3),
        ):
            if current is not None and previous and current > previous * (1 + USE_RISE):
                found.append(
                    Attention(key, 3, {"value": f"{(current / previous - 1) * 100:.0f} %"})
                )
    found.sort(key=lambda a: a.severity)
    return found


def _with_attention(report: Report) -> Report:
    from dataclasses import replace

    return replace(report, attention=tuple(needs_attention(report)))
