"""``facility report``: weekly and monthly reports, the daily check sheet, stored reports.

    facility report monthly --site HT --period 2026-11 --format pdf --lang zh
    facility report weekly  --site all --period 2026-W48 --format xlsx --lang en
    facility report daily   --site HT --period 2026-11-26 [--lang en]
    facility report check-in HT-PMP-001 HT-PMP-002 --period 2026-11-26 --result ok
    facility report check-in HT-TNK-001 --result fault --note "lid open" --reading inflow_total=8.5
    facility report list [--site HT] [--kind monthly]
    facility report card HT-PMP-001 [--lang en] [--out card.pdf]
    facility report labels --site HT [--class LGT] [--base-url URL] [--out labels.pdf]
    facility report compliance --site HT --year 2026 [--format xlsx] [--lang en]

Without ``--period``: the last complete one (today for the daily sheet). Without ``--out``
the file is stored under ``<var_dir>/reports/<site>/<kind>/<period>.<lang>.<fmt>`` and its
path printed; ``--out -`` writes it to standard output. Reading needs no sign-in (the
database file is the boundary, docs/decisions/005-identity.md point 7); the dashboard's
Reports page checks the manager role. ``check-in`` writes, so it acts for the signed-in
person, who must work orders on the estate (``Permission.WO_WORK_OWN``).

Reports read alarms and meters from the plant through ``maintenance.reports.sources``; the
level above wires who implements them (``gateway/cli/report_wiring.py``), as for ``pm``.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from facility.config import Settings
from facility.errors import ConfigError
from facility.types import ASSET_NO_RE
from maintenance.cli.table import format_table
from maintenance.db import Database
from maintenance.reports import store
from maintenance.reports.build import FORMATS, build_report, check_format, render
from maintenance.reports.daily import (
    RESULTS,
    CheckResult,
    build_daily,
    parse_reading,
    record_checks,
)
from maintenance.reports.periods import ReportKind, last_complete
from maintenance.reports.sources import ReportSources
from maintenance.reports.text import LANGS

SourcesFactory = Callable[[Settings], ReportSources]
_SOURCES = "maintenance.report_sources"


class ReportGroup(click.Group):
    """A command group whose commands read alarms and meters through a wired factory."""

    sources: SourcesFactory | None = None

    def wired(self, sources: SourcesFactory) -> ReportGroup:
        group = copy.copy(self)
        group.sources = sources
        return group

    def invoke(self, ctx: click.Context) -> object:
        if self.sources is not None:
            ctx.meta[_SOURCES] = self.sources
        return super().invoke(ctx)


def settings_of(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


def sources_of(ctx: click.Context) -> ReportSources:
    """The plant sources as wired above; none (the report says "no data") when unwired."""
    factory: SourcesFactory | None = ctx.meta.get(_SOURCES)
    sources = factory(settings_of(ctx)) if factory is not None else ReportSources()
    ctx.call_on_close(sources.close)
    return sources


def database(ctx: click.Context) -> Database:
    db = Database.open(settings_of(ctx).database_url, migrate=False)
    ctx.call_on_close(db.close)
    return db


def deliver(
    ctx: click.Context,
    data: bytes,
    out: str | None,
    site: str,
    kind: str,
    period: str,
    lang: str,
    fmt: str,
) -> None:
    """Write to ``--out`` (``-``: stdout), else store under var/reports and say where."""
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    if out:
        path = Path(out)
        path.write_bytes(data)
    else:
        path = store.save(settings_of(ctx).paths.var_dir, site, kind, period, lang, fmt, data)
    click.echo(f"{path} ({len(data):,} bytes)")


_site = click.option("--site", default="all", show_default=True, help="Estate code, or all.")
_period = click.option("--period", default=None, help="2026-11, 2026-W48 or 2026-11-26.")
_format = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="pdf", show_default=True
)
_lang = click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
_out = click.option("--out", default=None, help="File to write (- for stdout).")


@click.group(cls=ReportGroup)
def group() -> None:
    """Daily check sheets, weekly and monthly reports (PDF, XLSX; zh and en)."""


def _period_report(
    ctx: click.Context,
    kind: ReportKind,
    site: str,
    period: str | None,
    fmt: str,
    lang: str,
    out: str | None,
) -> None:
    settings = settings_of(ctx)
    format_, language = check_format(fmt, lang)
    tz = ZoneInfo(settings.site.timezone)
    if period is None:
        period = last_complete(kind, datetime.now(UTC), tz).label
    report = build_report(
        database(ctx),
        sources_of(ctx),
        kind,
        site,
        period,
        timezone=settings.site.timezone,
        target=settings.maintenance.timeliness_target,
    )
    data = render(report, format_, language)
    deliver(ctx, data, out, report.scope, kind, report.period, language, format_)
    for name in report.unavailable:
        click.echo(f"warning: {name} source unavailable; the report says so", err=True)
    if not report.has_data and not report.unavailable:
        click.echo(f"note: no data recorded for {report.scope} {report.period}", err=True)


@group.command()
@_site
@_period
@_format
@_lang
@_out
@click.pass_context
def monthly(
    ctx: click.Context, site: str, period: str | None, fmt: str, lang: str, out: str | None
) -> None:
    """The monthly report (月报) of an estate or of the company."""
    _period_report(ctx, "monthly", site, period, fmt, lang, out)


@group.command()
@_site
@_period
@_format
@_lang
@_out
@click.pass_context
def weekly(
    ctx: click.Context, site: str, period: str | None, fmt: str, lang: str, out: str | None
) -> None:
    """The weekly report (周报) of an estate or of the company."""
    _period_report(ctx, "weekly", site, period, fmt, lang, out)


@group.command("list")
@click.option("--site", default=None, help="Only this estate (or ALL).")
@click.option("--kind", default=None, type=click.Choice(store.KIND_FOLDERS))
@click.pass_context
def list_(ctx: click.Context, site: str | None, kind: str | None) -> None:
    """Reports stored under var/reports, newest period first."""
    found = store.stored(settings_of(ctx).paths.var_dir, site=site, kind=kind)
    if not found:
        click.echo("no stored reports")
        return
    click.echo(
        format_table(
            ["site", "kind", "period", "lang", "format", "bytes", "path"],
            [[r.site, r.kind, r.period, r.lang, r.fmt, f"{r.size:,}", str(r.path)] for r in found],
        )
    )


@group.command()
@click.option("--site", required=True, help="Estate code (one estate per sheet).")
@_period
@_lang
@_out
@click.pass_context
def daily(ctx: click.Context, site: str, period: str | None, lang: str, out: str | None) -> None:
    """The daily check sheet (日检表) of an estate: PDF with tick boxes and signatures."""
    from maintenance.reports.daily_pdf import render_daily_pdf

    _, language = check_format("pdf", lang)
    if period is None:
        period = last_complete(
            "daily", datetime.now(UTC), ZoneInfo(settings_of(ctx).site.timezone)
        ).label
    sheet = build_daily(database(ctx), sources_of(ctx), site, period)
    data = render_daily_pdf(sheet, language)
    deliver(ctx, data, out, sheet.site, "daily", sheet.label, language, "pdf")


@group.command("check-in")
@click.argument("asset_nos", nargs=-1, required=True)
@_period
@click.option("--result", type=click.Choice(RESULTS), required=True)
@click.option("--note", default="", help="What was found (kept with the result).")
@click.option(
    "--reading", "readings", multiple=True, help="A counter read on site: point=value (repeat)."
)
@click.pass_context
def check_in(
    ctx: click.Context,
    asset_nos: tuple[str, ...],
    period: str | None,
    result: str,
    note: str,
    readings: tuple[str, ...],
) -> None:
    """Enter the results of a daily check: they join each asset's history."""
    from maintenance.cli.users import acting
    from maintenance.identity.roles import Permission

    parsed = tuple(parse_reading(r) for r in readings)
    if parsed and len(asset_nos) > 1:
        raise ConfigError("--reading: readings belong to one asset; give a single asset number")
    estates = set()
    for asset_no in asset_nos:
        match = ASSET_NO_RE.match(asset_no)
        if not match:
            raise ConfigError(f"{asset_no[:40]!r}: expected an asset number such as HT-PMP-001")
        estates.add(match["site"])
    if len(estates) != 1:
        raise ConfigError("check results are per estate: give assets of one estate")
    (site,) = estates
    person = acting(ctx, Permission.WO_WORK_OWN, site)
    if period is None:
        period = last_complete(
            "daily", datetime.now(UTC), ZoneInfo(settings_of(ctx).site.timezone)
        ).label
    results = [CheckResult(a, "ok" if result == "ok" else "fault", note, parsed) for a in asset_nos]
    rows = record_checks(database(ctx), person, site, period, results)
    click.echo(f"{site} {period}: {len(results)} result(s) recorded ({rows} rows)")


@group.command()
@click.option("--once", is_flag=True, help="One catch-up pass, then exit.")
@click.option("--every-min", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option("--lang", "langs", multiple=True, type=click.Choice(LANGS), default=("zh",))
@click.option("--url", "base_url", default=None, help="Dashboard URL for the notices' links.")
@click.pass_context
def run(
    ctx: click.Context, once: bool, every_min: float, langs: tuple[str, ...], base_url: str | None
) -> None:
    """Make the scheduled reports (daily 06:00 site time, Mondays, the 1st) and send notices."""
    import signal
    import threading

    from maintenance.reports.notify import ReportChannels
    from maintenance.reports.text import Lang
    from maintenance.scheduler import ReportJobs, ReportScheduler

    settings = settings_of(ctx)
    factory: SourcesFactory | None = ctx.meta.get(_SOURCES)
    languages: list[Lang] = [check_format("pdf", lang)[1] for lang in langs]
    jobs = ReportJobs(
        settings,
        (lambda: factory(settings)) if factory is not None else ReportSources,
        notifier=ReportChannels.from_settings(settings),
        langs=languages,
        base_url=base_url,
    )
    if once:
        for path in jobs.tick():
            click.echo(str(path))
        return
    scheduler = ReportScheduler(jobs, every_min)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.start()
        click.echo(f"reports every {every_min:g} min; Ctrl-C stops", err=True)
        stop.wait()
    finally:
        scheduler.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write_file(data: bytes, out: str | None, default_name: str) -> None:
    """``--out`` (``-``: stdout), else ``default_name`` in the working folder; says where."""
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(out or default_name)
    path.write_bytes(data)
    click.echo(f"{path} ({len(data):,} bytes)")


@group.command()
@click.argument("asset_no")
@_lang
@click.option("--out", default=None, help="File to write (- for stdout; default <asset>.pdf).")
@click.option("--base-url", default=None, help="Dashboard URL for the QR code.")
@click.pass_context
def card(
    ctx: click.Context, asset_no: str, lang: str, out: str | None, base_url: str | None
) -> None:
    """The equipment card (设备卡片) of one asset: ledger, history, every work order (PDF)."""
    from maintenance.reports.card import build_card, render_card_pdf

    settings = settings_of(ctx)
    _, language = check_format("pdf", lang)
    url = base_url if base_url is not None else settings.maintenance.dashboard_url or None
    card_ = build_card(settings.database_url, asset_no, base_url=url)
    data = render_card_pdf(card_, language)
    _write_file(data, out, f"{card_.asset.asset_no}.card.{language}.pdf")


@group.command()
@click.option("--site", required=True, help="Estate code.")
@click.option("--class", "device_class", default=None, help="Only this class (LGT, PMP, ...).")
@click.option("--base-url", default=None, help="Dashboard URL for the QR codes.")
@click.option(
    "--out", default=None, help="File to write (- for stdout; default labels-<site>.pdf)."
)
@click.pass_context
def labels(
    ctx: click.Context,
    site: str,
    device_class: str | None,
    base_url: str | None,
    out: str | None,
) -> None:
    """QR label sheet: A4 pages of labels (number, names, QR to the asset's page)."""
    from maintenance.reports.labels import asset_labels, render_labels_pdf

    settings = settings_of(ctx)
    url = base_url if base_url is not None else settings.maintenance.dashboard_url or None
    tags = asset_labels(settings.database_url, site, device_class=device_class, base_url=url)
    suffix = f"-{device_class.upper()}" if device_class else ""
    _write_file(render_labels_pdf(tags), out, f"labels-{site.upper()}{suffix}.pdf")
    if out != "-":
        # the first code's text, so a wrong base URL shows before the labels are printed
        click.echo(f"{len(tags)} label(s); QR e.g. {tags[0].qr if tags else '-'}")


@group.command()
@click.option("--site", required=True, help="Estate code (one estate per calendar).")
@click.option("--year", default=None, help="Calendar year (default: this year).")
@_format
@_lang
@click.option("--out", default=None, help="File to write (- for stdout).")
@click.pass_context
def compliance(
    ctx: click.Context, site: str, year: str | None, fmt: str, lang: str, out: str | None
) -> None:
    """The compliance calendar: statutory items per month, done / due / missed, evidence."""
    from maintenance.reports.compliance import (
        build_compliance,
        render_compliance_pdf,
        render_compliance_xlsx,
    )

    format_, language = check_format(fmt, lang)
    calendar = build_compliance(
        database(ctx), site, year if year is not None else datetime.now(UTC).year
    )
    if format_ == "pdf":
        data = render_compliance_pdf(calendar, language)
    else:
        data = render_compliance_xlsx(calendar, language)
    name = f"compliance-{calendar.site}-{calendar.year}.{language}.{format_}"
    _write_file(data, out, name)
    if not calendar.rows:
        click.echo(
            f"note: no statutory item recorded for {calendar.site} {calendar.year}", err=True
        )
