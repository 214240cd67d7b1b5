"""``facility pm``: preventive-maintenance plans and the work-order generator.

    facility pm plans [--asset HT-PMP-001] [--site HT]    effective plans and what is next
    facility pm generate [--at 2026-11-26T08:00]          one generation pass (idempotent)
    facility pm generate --at T0 --until T1 --step 6h     passes at simulated times
    facility pm run                                       the scheduler (catch-up, then every N min)
    facility pm meter HT-PMP-001 run_hours 1520           a counter reading typed in

Times without an offset are the site's local time (Asia/Shanghai by default).
"""

from __future__ import annotations

import copy
import re
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from zoneinfo import ZoneInfo

import click

from facility.config import Settings
from facility.errors import ConfigError
from facility.types import ASSET_NO_RE
from maintenance.cli.table import format_table
from maintenance.cli.users import acting
from maintenance.identity.roles import Permission
from maintenance.pm_plans import PlanError
from maintenance.pm_rules import PlanRule, Upcoming, format_number, upcoming
from maintenance.scheduler import PmScheduler, build
from maintenance.telemetry import PlantTelemetry
from maintenance.wo_store import utc

#: How the commands read the plant: the factory the level above maintenance implements
#: (``gateway.telemetry.plant_telemetry``). Kept in ``ctx.meta`` under this key.
PlantFactory = Callable[[Settings], PlantTelemetry]
_PLANT = "maintenance.plant"


def settings_of(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


class PlantGroup(click.Group):
    """A command group whose commands read the plant (counters, proof of fix, alarm raises).

    Maintenance states what it reads (``maintenance.telemetry``) and never imports who
    implements it (docs/decisions/004-layers.md): the level above gives the factory with
    :meth:`wired` (``gateway/cli/plant.py``), and the ``facility`` root registers that group.
    """

    plant: PlantFactory | None = None

    def wired(self, plant: PlantFactory) -> PlantGroup:
        """This group, its commands reading the plant through ``plant``."""
        group = copy.copy(self)
        group.plant = plant
        return group

    def invoke(self, ctx: click.Context) -> object:
        if self.plant is not None:
            ctx.meta[_PLANT] = self.plant  # shared with the subcommand's context
        return super().invoke(ctx)


def plant(ctx: click.Context) -> PlantTelemetry:
    """The plant's telemetry as the wiring above reads it; its ``closers`` are the caller's."""
    factory: PlantFactory | None = ctx.meta.get(_PLANT)
    if factory is None:
        # a bug in the wiring, not something a user can fix
        raise RuntimeError("maintenance command run without the plant wired (gateway/cli/plant.py)")
    return factory(settings_of(ctx))


def parse_time(text: str, tz: ZoneInfo, option: str = "--at") -> datetime:
    """ISO time; without an offset it is local time at the site."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: expected an ISO time such as 2026-11-26T08:00 "
            "(site time) or 2026-11-26T00:00Z"
        ) from None
    return utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=tz))


_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, option: str) -> timedelta:
    match = _DURATION_RE.match(text.strip().lower())
    if not match or float(match[1]) <= 0:
        raise ConfigError(f"{option} {text!r}: expected a duration such as 30m, 6h or 1d")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def _scheduler(ctx: click.Context) -> PmScheduler:
    scheduler = build(settings_of(ctx), telemetry=plant(ctx))
    ctx.call_on_close(scheduler.close)
    return scheduler


def _plan_error(exc: PlanError) -> None:
    for issue in exc.issues:
        click.echo(str(issue), err=True)
    click.echo(f"{len(exc.issues)} problem(s) in the PM plans: nothing changed", err=True)
    raise SystemExit(1)


@click.group(cls=PlantGroup)
def group() -> None:
    """Preventive-maintenance plans and the work-order generator."""


def _trigger_text(rule: PlanRule) -> str:
    parts = []
    for t in rule.plan.triggers:
        if t.kind.value in ("calendar", "floating"):
            every = format_number(t.every or 0)
            anchor = f" from {t.month_day[0]}-{t.month_day[1]}" if t.month_day else ""
            parts.append(f"{t.kind.value} {every} {t.unit}{anchor}")
        elif t.kind.value == "meter":
            parts.append(f"{t.point} every {format_number(t.every or 0)}")
        else:
            parts.append(f"alarm {t.alarm}")
    return " or ".join(parts)


def _next_text(items: list[Upcoming], tz: ZoneInfo) -> str:
    texts = []
    for item in items:
        if item.due is not None:
            texts.append(item.due.astimezone(tz).strftime("%Y-%m-%d"))
        elif item.point is not None:
            at = format_number(item.threshold) if item.threshold is not None else "?"
            now = format_number(item.reading) if item.reading is not None else "?"
            texts.append(f"{item.point} {now}/{at}")
        elif item.alarm is not None:
            texts.append(f"on {item.alarm}")
    return ", ".join(texts)


@group.command()
@click.option("--asset", "asset_no", help="Only this asset (e.g. HT-PMP-001).")
@click.option("--site", help="Only this site (e.g. HT).")
@click.pass_context
def plans(ctx: click.Context, asset_no: str | None, site: str | None) -> None:
    """The effective PM plans (profile defaults + overrides) and what each waits for."""
    settings = settings_of(ctx)
    scheduler = _scheduler(ctx)
    generator = scheduler.generator
    try:
        generator.sync_plans()
    except PlanError as exc:
        _plan_error(exc)
    rows = []
    now = utc(datetime.now().astimezone())
    tz = ZoneInfo(settings.site.timezone)
    for plan in generator.plan_states(asset_no=asset_no, site=site):
        readings = generator.meters.read_many(plan.meter_keys) if generator.meters else {}
        meters = {point: readings.get((plan.asset_no, point)) for _, point in plan.meter_keys}
        items = upcoming(plan.rule, plan.state, now, meters)
        status = "off" if not plan.enabled else ("ordered" if plan.state.covered else "")
        rows.append(
            (
                plan.asset_no,
                plan.name,
                plan.rule.plan.title.zh,
                _trigger_text(plan.rule),
                _next_text(items, tz) if plan.enabled else "-",
                str(plan.state.open_orders),
                status or plan.source,
            )
        )
    header = ("asset_no", "plan", "title", "triggers (whichever first)", "next", "open", "")
    click.echo(format_table(header, rows))
    click.echo(f"{len(rows)} plans")


@group.command()
@click.option("--at", "at_text", help="Run the pass as of this time (default: now).")
@click.option("--until", "until_text", help="Repeat passes up to this time (simulation).")
@click.option("--step", default="1h", show_default=True, help="Between passes with --until.")
@click.option("-q", "--quiet", is_flag=True, help="Totals only, not each order.")
@click.pass_context
def generate(
    ctx: click.Context, at_text: str | None, until_text: str | None, step: str, quiet: bool
) -> None:
    """One generation pass (safe to repeat; never duplicates an order)."""
    settings = settings_of(ctx)
    tz = ZoneInfo(settings.site.timezone)
    at = parse_time(at_text, tz) if at_text else utc(datetime.now().astimezone())
    until = parse_time(until_text, tz, "--until") if until_text else at
    if until < at:
        raise ConfigError("--until: expected a time after --at")
    delta = parse_duration(step, "--step")
    generator = _scheduler(ctx).generator
    totals = [0, 0, 0, 0]
    moment = at
    while moment <= until:
        try:
            report = generator.run_pass(moment)
        except PlanError as exc:
            _plan_error(exc)
            return
        totals[0] += 1
        totals[1] += len(report.generated)
        totals[2] += report.missed
        totals[3] += report.skipped
        if not quiet:
            for number in report.generated:
                click.echo(number)
        if until == at:
            click.echo(report.summary())
        moment += delta
    if until != at:
        click.echo(
            f"{totals[0]} passes: {totals[1]} orders generated, {totals[2]} missed, "
            f"{totals[3]} skipped"
        )


@group.command()
@click.option("--every-min", type=float, help="Minutes between passes (default: config).")
@click.pass_context
def run(ctx: click.Context, every_min: float | None) -> None:
    """The scheduler: a catch-up pass now, then one every few minutes, until stopped."""
    scheduler = _scheduler(ctx)
    if every_min is not None:
        if every_min <= 0:
            raise ConfigError("--every-min: expected a number of minutes > 0")
        scheduler.every_min = every_min
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            report = scheduler.start()
        except PlanError as exc:
            _plan_error(exc)
            return
        if report is not None:
            click.echo(f"catch-up {report.summary()}")
        click.echo(f"generating every {scheduler.every_min:g} min; Ctrl-C stops", err=True)
        stop.wait()
    finally:
        scheduler.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"stopped after {scheduler.passes} passes", err=True)


@group.command()
@click.argument("asset_no")
@click.argument("point")
@click.argument("value", type=float)
@click.option("--at", "at_text", help="When it was read (default: now).")
@click.option(
    "--reset",
    is_flag=True,
    help="The counter was reset or the meter replaced: a lower value is right.",
)
@click.pass_context
def meter(
    ctx: click.Context,
    asset_no: str,
    point: str,
    value: float,
    at_text: str | None,
    reset: bool,
) -> None:
    """Record a counter reading by hand (for assets the historian does not see)."""
    from device_profiles import load_library
    from maintenance.store import LedgerStore

    settings = settings_of(ctx)
    at = parse_time(at_text, ZoneInfo(settings.site.timezone)) if at_text else None
    match = ASSET_NO_RE.match(asset_no)
    person = acting(ctx, Permission.WO_WORK_OWN, match["site"] if match else None)
    with LedgerStore(settings.database_url, migrate=False) as ledger:
        asset = ledger.asset(asset_no)
    profile = load_library().get(asset.profile or "") if asset is not None else None
    counters = [p.name for p in profile.points if p.counter] if profile is not None else None
    store = _scheduler(ctx).store
    assert store is not None
    store.add_meter_reading(
        asset_no, point, value, actor=person, at=at, reset=reset, counters=counters
    )
    click.echo(f"{asset_no} {point} = {value:g}")
