"""``facility wo``: work orders from the command line.

    facility wo list [--site HT] [--state open] [--asset HT-PMP-001] [--mine]
    facility wo show WO-HT-2026-00042
    facility wo assign WO-... zhang.wei          facility wo start WO-...
    facility wo record WO-... 3 pass             facility wo record WO-... 4 12.5 --spawn
    facility wo labour WO-... 45                 facility wo part WO-... "Mechanical seal"
    facility wo hold WO-... --reason "waiting for the seal"
    facility wo complete WO-... --problem P-TRIP --cause C-DRY --remedy R-CLEAN
    facility wo verify WO-... [--telemetry]      facility wo reopen WO-... --reason "..."
    facility wo close WO-...                     facility wo cancel WO-... --reason "..."
    facility wo raise HT-PMP-001 --title "Seal leaking" --priority high
    facility wo sheet WO-... > sheet.pdf         facility wo codes

A request the lifecycle does not allow prints one clear message, changes nothing and exits 2.
Every change acts for the signed-in person (`facility login`, or ``$FACILITY_TOKEN``): the
store checks their role on the order's estate — a technician works only the orders assigned
to them (starting an unassigned one takes it), a supervisor assigns, verifies and works any —
and the order's events and the audit trail name them. Reading needs no sign-in.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from device_profiles.models import Priority
from facility.errors import ConfigError
from facility.types import ASSET_NO_RE
from maintenance import wo_notify
from maintenance.cli.pm import PlantGroup, plant, settings_of
from maintenance.cli.table import format_table
from maintenance.cli.users import acting, signed_in
from maintenance.identity.roles import Permission
from maintenance.wo_store import WorkOrderStore
from maintenance.workorders import SlaTargets, WoKind, WorkOrder, WoState

STATE_CHOICE = click.Choice([s.value for s in WoState], case_sensitive=False)
PRIORITY_CHOICE = click.Choice([p.value for p in Priority], case_sensitive=False)


def _store(ctx: click.Context) -> WorkOrderStore:
    settings = settings_of(ctx)
    config = settings.maintenance
    store = WorkOrderStore(
        settings.database_url,
        sla=SlaTargets.from_config(config.sla_response_min, config.sla_completion_h),
        proof_hold=timedelta(minutes=config.proof_of_fix_min),
        notifier=wo_notify.from_settings(settings),
        backdate_max=timedelta(days=config.backdate_max_days),
        separate_verify=config.separate_verify,
    )
    ctx.call_on_close(store.close)
    return store


def _tz(ctx: click.Context) -> ZoneInfo:
    return ZoneInfo(settings_of(ctx).site.timezone)


def _when_given(ctx: click.Context, at_text: str | None) -> datetime | None:
    """``--at`` (site time unless an offset is given); None: now. The store refuses a time
    in the future, before the order's previous step, or beyond the back-dating limit."""
    from maintenance.cli.pm import parse_time

    return parse_time(at_text, _tz(ctx)) if at_text else None


def _when(order_time: object, tz: ZoneInfo) -> str:
    if isinstance(order_time, datetime):
        return order_time.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return "-"


def _done(order: WorkOrder) -> None:
    extra = f" ({order.assignee})" if order.assignee else ""
    click.echo(f"{order.number}: {order.state.value}{extra}")


@click.group(cls=PlantGroup)
def group() -> None:
    """Work orders: list, show, assign, start, complete, verify, close."""


@group.command("list")
@click.option("--site", help="Only this site.")
@click.option("--state", "states", multiple=True, type=STATE_CHOICE, help="Only these states.")
@click.option("--open", "open_only", is_flag=True, help="Only orders not yet completed.")
@click.option("--asset", "asset_no", help="Only this asset.")
@click.option("--kind", type=click.Choice([k.value for k in WoKind]), help="Only this kind.")
@click.option("--assignee", help="Only orders of this technician.")
@click.option("--mine", is_flag=True, help="Only my orders (the signed-in person's).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1))
@click.pass_context
def list_(
    ctx: click.Context,
    site: str | None,
    states: tuple[str, ...],
    open_only: bool,
    asset_no: str | None,
    kind: str | None,
    assignee: str | None,
    mine: bool,
    limit: int,
) -> None:
    """Work orders, newest first."""
    wanted = list(states)
    if open_only:
        wanted += [s.value for s in (WoState.OPEN, WoState.ASSIGNED, WoState.IN_PROGRESS)]
        wanted.append(WoState.ON_HOLD.value)
    store = _store(ctx)
    if site is not None:
        site = store.check_site(site)
    if asset_no is not None:
        asset_no = store.check_asset(asset_no)
    orders = store.orders(
        site=site,
        states=wanted,
        asset_no=asset_no,
        kind=kind,
        assignee=signed_in(ctx).name if mine else assignee,
        limit=limit,
    )
    tz = _tz(ctx)
    rows = [
        (
            o.number,
            o.state.value,
            o.priority.value,
            o.kind.value[:4],
            o.asset_no,
            o.title_zh,
            o.assignee or "-",
            _when(o.completion_due, tz),
        )
        for o in orders
    ]
    header = ("number", "state", "priority", "kind", "asset_no", "title", "assignee", "due")
    click.echo(format_table(header, rows))
    click.echo(f"{len(orders)} orders")


@group.command()
@click.argument("number")
@click.pass_context
def show(ctx: click.Context, number: str) -> None:
    """One order with its checklist, events, labour and parts."""
    order = _store(ctx).get(number)
    tz = _tz(ctx)
    lines = [
        f"{order.number}  {order.kind.value}  {order.state.value}  priority {order.priority.value}",
        f"asset     {order.asset_no}",
        f"title     {order.title_en} / {order.title_zh}",
    ]
    if order.description:
        lines.append(f"about     {order.description}")
    if order.plan_name:
        lines.append(f"plan      {order.plan_name} (slot {order.slot})")
    if order.condition:
        lines.append(f"condition {order.condition} (alarms: {order.alarm_count})")
    if order.parent_number:
        lines.append(f"from      {order.parent_number}")
    lines += [
        f"assignee  {order.assignee or '-'}   skill {order.skill}   est. {order.estimated_min} min",
        f"created   {_when(order.created_at, tz)} by {order.created_by}",
        f"respond   by {_when(order.response_due, tz)}"
        + (f" (responded {_when(order.responded_at, tz)})" if order.responded_at else ""),
        f"complete  by {_when(order.completion_due, tz)}"
        + (f" (completed {_when(order.completed_at, tz)})" if order.completed_at else ""),
    ]
    if order.problem_code:
        lines.append(f"codes     {order.problem_code} / {order.cause_code} / {order.remedy_code}")
    if order.verification:
        lines.append(f"proof     {order.verification.get('verdict')}: "
                     f"{order.verification.get('reason')}")  # fmt: skip
    if order.checklist:
        lines.append("checklist:")
        for item in order.checklist:
            mark = {True: "ok  ", False: "FAIL", None: "    "}[item.passed]
            answer = item.value_text if item.value_num is None else f"{item.value_num:g}"
            limits = f" [{item.limits_text()}]" if item.limits_text() else ""
            need = "*" if item.required else " "
            lines.append(
                f"  {item.position:>2}{need} [{mark}] {item.text_zh} / {item.text_en} "
                f"({item.kind.value}){limits}" + (f" = {answer}" if item.answered else "")
            )
    if order.labour:
        total = sum(line.minutes for line in order.labour)
        lines.append(f"labour    {total} min: " + ", ".join(
            f"{line.technician} {line.minutes}" for line in order.labour))  # fmt: skip
    for part in order.parts:
        lines.append(f"part      {part.quantity:g} {part.unit} {part.description} {part.part_no}")
    lines.append("events:")
    for event in order.events:
        change = f" {event.to_state.value}" if event.to_state else ""
        note = f": {event.note}" if event.note else ""
        lines.append(f"  {_when(event.at, tz)} {event.actor} {event.action}{change}{note}")
    click.echo("\n".join(lines))


@group.command()
@click.argument("number")
@click.argument("technician")
@click.pass_context
def assign(ctx: click.Context, number: str, technician: str) -> None:
    """Give an order to a technician (they are notified)."""
    _done(_store(ctx).assign(number, technician, actor=signed_in(ctx)))


@group.command()
@click.argument("number")
@click.option("--at", "at_text", help="When it was done, site time (paper sheets typed in later).")
@click.pass_context
def start(ctx: click.Context, number: str, at_text: str | None) -> None:
    """Start (or resume) work on an order."""
    _done(_store(ctx).start(number, actor=signed_in(ctx), at=_when_given(ctx, at_text)))


@group.command()
@click.argument("number")
@click.option("--reason", required=True, help="Why you cannot take it (the supervisor reads it).")
@click.pass_context
def decline(ctx: click.Context, number: str, reason: str) -> None:
    """Give an order assigned to you back: it is open again for the supervisor to assign."""
    _done(_store(ctx).decline(number, reason, actor=signed_in(ctx)))


@group.command()
@click.argument("number")
@click.option("--reason", required=True, help="Why the work waits.")
@click.option("--at", "at_text", help="When it was done, site time (paper sheets typed in later).")
@click.pass_context
def hold(ctx: click.Context, number: str, reason: str, at_text: str | None) -> None:
    """Put an order on hold."""
    _done(_store(ctx).hold(number, reason, actor=signed_in(ctx), at=_when_given(ctx, at_text)))


@group.command()
@click.argument("number")
@click.argument("position", type=int)
@click.argument("answer")
@click.option("--spawn", is_flag=True, help="If the item fails, raise a corrective order.")
@click.pass_context
def record(ctx: click.Context, number: str, position: int, answer: str, spawn: bool) -> None:
    """Answer checklist item POSITION: pass/fail, a number, a meter reading, text, a photo."""
    line, child = _store(ctx).record(number, position, answer, actor=signed_in(ctx), spawn=spawn)
    verdict = {True: "ok", False: "FAILED", None: "recorded"}[line.passed]
    click.echo(f"{number} item {position}: {verdict}")
    if child is not None:
        click.echo(f"corrective order {child.number} raised")


@group.command()
@click.argument("number")
@click.argument("minutes", type=int)
@click.option("--technician", help="Default: you.")
@click.option("--note", default="")
@click.pass_context
def labour(
    ctx: click.Context, number: str, minutes: int, technician: str | None, note: str
) -> None:
    """Record time spent on an order."""
    person = signed_in(ctx)
    order = _store(ctx).log_labour(
        number, technician or person.name, minutes, note=note, actor=person
    )
    click.echo(f"{number}: {sum(line.minutes for line in order.labour)} min in total")


@group.command()
@click.argument("number")
@click.argument("description")
@click.option("--qty", "quantity", default=1.0, show_default=True, type=float)
@click.option("--unit", default="pcs", show_default=True)
@click.option("--part-no", default="")
@click.pass_context
def part(
    ctx: click.Context, number: str, description: str, quantity: float, unit: str, part_no: str
) -> None:
    """Record a part used (a free line)."""
    person = signed_in(ctx)
    _store(ctx).add_part(number, description, quantity, unit=unit, part_no=part_no, actor=person)
    click.echo(f"{number}: {quantity:g} {unit} {description}")


@group.command()
@click.argument("number")
@click.option("--note", default="", help="What was done.")
@click.option("--problem", help="Problem code (corrective orders), e.g. P-TRIP.")
@click.option("--cause", help="Cause code, e.g. C-DRY.")
@click.option("--remedy", help="Remedy code, e.g. R-CLEAN.")
@click.option("--at", "at_text", help="When it was done, site time (paper sheets typed in later).")
@click.pass_context
def complete(
    ctx: click.Context,
    number: str,
    note: str,
    problem: str | None,
    cause: str | None,
    remedy: str | None,
    at_text: str | None,
) -> None:
    """Complete an order (required checklist items and, if corrective, failure codes)."""
    order = _store(ctx).complete(
        number,
        actor=signed_in(ctx),
        at=_when_given(ctx, at_text),
        note=note,
        problem=problem,
        cause=cause,
        remedy=remedy,
    )
    _done(order)
    if order.signal is not None:
        click.echo(f"proof of fix: watching {order.signal.point} ({order.signal.band_text()})")


@group.command()
@click.argument("number")
@click.option("--note", default="")
@click.option(
    "--telemetry", is_flag=True, help="Decide from the historian (proof of fix), not by hand."
)
@click.pass_context
def verify(ctx: click.Context, number: str, note: str, telemetry: bool) -> None:
    """Verify a completed order (by hand, or from telemetry with --telemetry)."""
    store = _store(ctx)
    if not telemetry:
        _done(store.verify(number, actor=signed_in(ctx), note=note))
        return
    # proof of fix decides (and is recorded as the checker), but someone must be allowed to ask
    acting(ctx, Permission.WO_VERIFY, store.get(number).site)
    readings = plant(ctx)
    try:
        result = store.check_fix(number, readings.series)
    finally:
        for close in readings.closers:
            close()
    click.echo(f"{number}: {result.verdict.value}: {result.reason}")


@group.command()
@click.argument("number")
@click.option("--reason", required=True)
@click.pass_context
def reopen(ctx: click.Context, number: str, reason: str) -> None:
    """Send a completed or verified order back to work."""
    _done(_store(ctx).reopen(number, reason, actor=signed_in(ctx)))


@group.command()
@click.argument("number")
@click.option("--note", default="")
@click.pass_context
def close(ctx: click.Context, number: str, note: str) -> None:
    """Close a verified order."""
    _done(_store(ctx).close_order(number, actor=signed_in(ctx), note=note))


@group.command()
@click.argument("number")
@click.option("--reason", required=True)
@click.pass_context
def cancel(ctx: click.Context, number: str, reason: str) -> None:
    """Cancel an order that has not been completed."""
    _done(_store(ctx).cancel(number, reason, actor=signed_in(ctx)))


@group.command("raise")
@click.argument("asset_no")
@click.option("--title", required=True, help="What is wrong (English or Chinese).")
@click.option("--title-zh", help="Chinese title (default: --title).")
@click.option("--priority", type=PRIORITY_CHOICE, default="medium", show_default=True)
@click.option("--description", default="")
@click.pass_context
def raise_(
    ctx: click.Context,
    asset_no: str,
    title: str,
    title_zh: str | None,
    priority: str,
    description: str,
) -> None:
    """Raise a corrective order by hand."""
    match = ASSET_NO_RE.match(asset_no)
    person = acting(ctx, Permission.WO_ASSIGN, match["site"] if match else None)
    result = _store(ctx).raise_corrective(
        asset_no,
        "manual",
        title_en=title,
        title_zh=title_zh or title,
        priority=priority,
        actor=person.name,
        description=description,
        attach=False,
    )
    click.echo(result.order.number)


@group.command()
@click.argument("number")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.option("--url", "base_url", help="Base URL for the QR code (default: the asset number).")
@click.pass_context
def sheet(ctx: click.Context, number: str, output: Path | None, base_url: str | None) -> None:
    """The printable work-order sheet (PDF with the asset's QR code) to stdout or -o FILE."""
    from maintenance.sheet import render_sheet

    store = _store(ctx)
    order = store.get(number)
    asset = store.asset_label(order.asset_no)
    pdf = render_sheet(order, asset, tz=_tz(ctx), base_url=base_url)
    if output is not None:
        output.write_bytes(pdf)
        click.echo(f"{output}: {len(pdf)} bytes", err=True)
        return
    if sys.stdout.isatty():
        raise ConfigError("refusing to write a PDF to a terminal: use > sheet.pdf or -o FILE")
    sys.stdout.buffer.write(pdf)
    sys.stdout.buffer.flush()


@group.command()
@click.pass_context
def codes(ctx: click.Context) -> None:
    """The failure codes (problem / cause / remedy)."""
    catalogue = _store(ctx).failure_codes()
    rows = [(c.code, c.kind.value, c.label_zh, c.label_en) for c in catalogue.values()]
    click.echo(format_table(("code", "kind", "中文", "English"), rows))


@group.command()
@click.option("--site", help="Only this site.")
@click.option("--period", type=click.Choice(["day", "week", "month"]), default="month")
@click.option(
    "--by",
    type=click.Choice(["site", "class", "asset"]),
    default="site",
    show_default=True,
    help="One row per estate, per device class of an estate, or per asset.",
)
@click.option("--from", "start_text", help="First day (default: 3 periods back).")
@click.option("--to", "end_text", help="Day after the last (default: now).")
@click.pass_context
def kpi(
    ctx: click.Context,
    site: str | None,
    period: str,
    by: str,
    start_text: str | None,
    end_text: str | None,
) -> None:
    """Maintenance KPIs: PM compliance, repair timeliness (completion and response SLA),
    MTTR (with and without hold time), MTBF, availability — over exactly the range asked."""

    from maintenance.cli.pm import parse_time
    from maintenance.kpi import report
    from maintenance.wo_store import utc

    settings = settings_of(ctx)
    tz = _tz(ctx)
    now = utc(datetime.now().astimezone())
    end = parse_time(end_text, tz, "--to") if end_text else now
    back = {"day": timedelta(days=7), "week": timedelta(weeks=4), "month": timedelta(days=92)}
    start = parse_time(start_text, tz, "--from") if start_text else end - back[period]
    if end <= start:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    store = _store(ctx)
    if site is not None:
        site = store.check_site(site)
    records = store.kpi_records(start, end, site)
    rows = report(
        records.occurrences,
        records.orders,
        records.assets,
        start,
        end,
        period,  # type: ignore[arg-type]
        tz,
        now,
        by=by,  # type: ignore[arg-type]
    )
    target = settings.maintenance.timeliness_target

    def hours(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    table = [
        (
            r.scope or r.site,
            r.period,
            r.pm_compliance.text(),
            r.repair_timeliness.text() + {True: "", False: " !", None: ""}[r.meets(target)],
            r.response.text(),
            hours(r.mttr_h),
            hours(r.mttr_no_hold_h),
            hours(r.mtbf_h, 0),
            "-" if r.availability is None else f"{r.availability:.2%}",
        )
        for r in rows
    ]
    header = (
        by,
        "period",
        "PM compliance",
        "repair timeliness",
        "response SLA",
        "MTTR h",
        "MTTR excl. hold h",
        "MTBF h",
        "avail.",
    )
    click.echo(format_table(header, table))
    click.echo(f"repair timeliness target {target:.0%} (! = below)")
