"""The thin shell around the assembler: read the records and figures, assemble, render.

    report = build_report(db, sources, "monthly", "HT", "2026-11", settings_tz="Asia/Shanghai")
    pdf = render(report, "pdf", "zh")

One read of the SQL records covers the report and its 12 trend periods (``kpi_records`` and
``order_lives`` over the whole range); the plant sources are asked once for the period's
alarm figures and once each for the trend's alarm counts and counter use.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from facility.errors import ConfigError, FacilityError
from maintenance.db import Database
from maintenance.kpi_queries import kpi_records
from maintenance.reports.assemble import ReportInputs, assemble
from maintenance.reports.model import ALL, Report
from maintenance.reports.periods import ReportKind, parse_period, trailing
from maintenance.reports.queries import check_site, order_lives, sites
from maintenance.reports.sources import (
    REPORT_METERS,
    AlarmFigures,
    MeterUse,
    ReportSources,
    SourceState,
)
from maintenance.reports.text import LANGS, Lang

log = logging.getLogger(__name__)

Format = Literal["pdf", "xlsx"]
FORMATS: tuple[Format, ...] = ("pdf", "xlsx")
TREND_PERIODS = 12


def check_format(fmt: str, lang: str) -> tuple[Format, Lang]:
    """``--format`` and ``--lang`` checked; ConfigError saying what is accepted."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if lang not in LANGS:
        raise ConfigError(f"--lang {lang!r}: expected one of {', '.join(LANGS)}")
    return fmt, lang


def build_report(
    db: Database,
    sources: ReportSources,
    kind: ReportKind,
    site: str,
    period: str,
    *,
    timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
    target: float = 0.9,
    trend_periods: int = TREND_PERIODS,
) -> Report:
    """The weekly or monthly report of ``site`` (a code, or ``all``) for ``period``."""
    if kind == "daily":
        raise ConfigError("a daily report is the check sheet: facility report daily")
    known = sites(db)
    code = check_site(known, site)
    zone = ZoneInfo(known[code].timezone if code else timezone)
    parsed = parse_period(kind, period, zone)
    periods = trailing(parsed, trend_periods, zone)
    now = now or datetime.now(UTC)
    first, last = periods[0].start, parsed.end
    records = kpi_records(db, first, last, code)
    lives = order_lives(db, first, last, code)
    bounds = [(p.start, p.end) for p in periods]
    alarm_figures: AlarmFigures | None = None
    alarm_counts: list[int] | None = None
    # a source that fails is "unavailable" in the report, never "no data" (or zeros)
    alarms_source: SourceState = "absent"
    if sources.alarms is not None:
        try:
            alarm_figures = sources.alarms.figures(code, parsed.start, parsed.end)
            alarm_counts = sources.alarms.counts(code, bounds)
            alarms_source = "ok"
        except FacilityError as exc:
            alarm_figures, alarm_counts, alarms_source = None, None, "unavailable"
            log.warning("report alarms unavailable: %s", exc)
    meter_use: MeterUse | None = None
    meters_source: SourceState = "absent"
    if sources.meters is not None:
        try:
            meter_use = sources.meters.use(code, REPORT_METERS, bounds) or None
            meters_source = "ok"
        except FacilityError as exc:
            meters_source = "unavailable"
            log.warning("report meters unavailable: %s", exc)
    info = known.get(code) if code else None
    return assemble(
        ReportInputs(
            scope=code or ALL,
            scope_en=info.name_en if info else "All estates",
            scope_zh=info.name_zh if info else "全公司",
            periods=periods,
            records=records,
            lives=lives,
            alarm_figures=alarm_figures,
            alarm_counts=alarm_counts,
            meter_use=meter_use,
            now=now,
            tz=zone,
            timezone=zone.key,
            target=target,
            alarms_source=alarms_source,
            meters_source=meters_source,
        )
    )


def render(report: Report, fmt: Format, lang: Lang) -> bytes:
    """The report as PDF or XLSX bytes."""
    if fmt == "pdf":
        from maintenance.reports.pdf import render_pdf

        return render_pdf(report, lang)
    from maintenance.reports.xlsx import render_xlsx

    return render_xlsx(report, lang)
