"""``facility alarms``: the console's view of alarms from the command line.

``list`` and ``kpi`` and ``export`` read the database; ``ack``, ``comment``, ``shelve``,
``unshelve``, ``reset``, ``out-of-service`` and ``return-to-service`` go to the running
alarm engine over MQTT (the engine owns alarm state; it answers with the new state or why it
refused). They act for the signed-in person (`facility login`, or ``$FACILITY_TOKEN``): the
command carries their token, the engine checks their role and estates and journals their name;
``run`` is the standalone engine; ``check`` validates alarms.yaml against the ledger and the
device profiles, as the engine does at start-up.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from facility.config import Settings
from facility.errors import ConfigError
from facility.redact import redact_url
from facility.types import priority_rank
from gateway.alarms.state import AlarmState

STATES = tuple(state.value for state in AlarmState)


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


def _local(moment: datetime | None, settings: Settings) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(settings.site.timezone)).strftime("%Y-%m-%d %H:%M:%S")


def _parse_time(text: str | None, settings: Settings, now: datetime) -> datetime | None:
    """``30d`` (ago), ``2026-11-01`` or ``2026-11-01T08:00`` (site-local), or None."""
    if text is None:
        return None
    from facility.cli.common import parse_duration

    if text[:1].isdigit() and text[4:5] != "-":
        try:
            seconds = parse_duration(text)
        except click.BadParameter:
            raise ConfigError(
                f"{text!r}: expected a period back from now (30d, 12h) or a date (2026-11-01)"
            ) from None
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{text!r}: expected a period back from now (30d, 12h) or a date (2026-11-01)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(settings.site.timezone))
    return moment


@click.group()
def group() -> None:
    """List, acknowledge and shelve alarms; alarm KPIs."""


# -- reading ----------------------------------------------------------------------------------


@group.command("list")
@click.option("--site", help="Only this site, e.g. HT.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([*STATES, "active"]),
    help="Only these states (repeatable); 'active': condition active now. Default: all but normal.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def list_alarms(
    ctx: click.Context, site: str | None, states: tuple[str, ...], as_json: bool
) -> None:
    """Alarms that are not normal (or in the given states), most urgent first."""
    from gateway.alarms.state import status_to_json
    from gateway.alarms.store import AlarmStore

    settings = _settings(ctx)
    wanted = [s for s in states if s != "active"]
    with AlarmStore(settings.database_url) as store:
        rows = store.current(
            site=site.upper() if site else None,
            states=wanted or [s for s in STATES if s != "normal"],
            active=True if "active" in states else None,
        )
    rows.sort(key=lambda r: (priority_rank(r.priority), r.alarm_id))
    if as_json:
        for row in rows:
            click.echo(
                json.dumps(
                    {
                        "alarm_id": row.alarm_id,
                        "site": row.site,
                        "priority": row.priority,
                        **status_to_json(row.status),
                    },
                    ensure_ascii=False,
                )
            )
        return
    if not rows:
        click.echo("no alarms" + (f" at {site.upper()}" if site else "") + " in those states")
        return
    click.echo(f"{'ALARM':34} {'STATE':14} {'PRIORITY':9} {'SINCE':19} {'VALUE':>10}  BY")
    for row in rows:
        status = row.status
        who = ""
        if status.ack is not None:
            who = f"ack {status.ack.user}"
        if status.shelve is not None:
            who = f"shelved by {status.shelve.user} until {_local(status.shelve.until, settings)}"
        if status.out_of_service is not None:
            who = f"out of service by {status.out_of_service.user}"
        if status.suppressed_by:
            who = f"mode rule {status.suppressed_by}"
        value = "" if status.value is None else str(status.value)
        click.echo(
            f"{row.alarm_id:34} {status.state.value:14} {row.priority:9} "
            f"{_local(status.since, settings):19} {value[:10]:>10}  {who}"
        )


@group.command("journal")
@click.argument("alarm_id")
@click.option("--limit", default=50, show_default=True, help="Last N entries.")
@click.pass_context
def journal(ctx: click.Context, alarm_id: str, limit: int) -> None:
    """The journal of one alarm: every transition and operator action."""
    from gateway.alarms.store import AlarmStore

    settings = _settings(ctx)
    with AlarmStore(settings.database_url) as store:
        records = store.journal(alarm_id=alarm_id)[-limit:]
    if not records:
        raise ConfigError(f"{alarm_id}: no journal entries (expected e.g. HT-PDP-001/dry_run)")
    for r in records:
        states = (
            f"{r.from_state.value if r.from_state else ''}→{r.to_state.value}" if r.to_state else ""
        )
        who = f" by {r.user}" if r.user else ""
        comment = f" — {r.comment}" if r.comment else ""
        click.echo(f"{_local(r.at, settings)}  {r.kind.value:17} {states:22}{who}{comment}")


@group.command("export")
@click.option("--site", help="Only this site.")
@click.option("--alarm", "alarm_id", help="Only this alarm (<ASSET_NO>/<alarm>).")
@click.option("--since", help="30d (back from now) or a date; default: everything.")
@click.option("--until", help="A date (site-local); default: now.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file to write (default: standard output).",
)
@click.pass_context
def export(
    ctx: click.Context,
    site: str | None,
    alarm_id: str | None,
    since: str | None,
    until: str | None,
    output: Path | None,
) -> None:
    """The alarm journal as CSV (UTC times, detail as JSON)."""
    from gateway.alarms.store import AlarmStore

    settings = _settings(ctx)
    now = datetime.now(UTC)
    filters: dict[str, Any] = {
        "site": site.upper() if site else None,
        "alarm_id": alarm_id,
        "since": _parse_time(since, settings, now),
        "until": _parse_time(until, settings, now),
    }
    with AlarmStore(settings.database_url) as store:
        if output is None:
            count = store.export_csv(sys.stdout, **filters)
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
            with output.open("w", encoding="utf-8", newline="") as stream:
                count = store.export_csv(stream, **filters)
            click.echo(f"{count} journal entries written to {output}", err=True)


@group.command("kpi")
@click.option("--site", help="Only this site (monitoring position).")
@click.option("--since", default="30d", show_default=True, help="30d, 12h or a date.")
@click.option("--until", help="A date (site-local); default: now.")
@click.option("--json", "as_json", is_flag=True, help="The KPIs as one JSON document.")
@click.pass_context
def kpi(ctx: click.Context, site: str | None, since: str, until: str | None, as_json: bool) -> None:
    """Alarm-system KPIs (ISA-18.2 / EEMUA 191) from the journal, with tuning suggestions."""
    from gateway.alarms.kpi import alarm_kpis
    from gateway.alarms.store import AlarmStore

    settings = _settings(ctx)
    now = datetime.now(UTC)
    start = _parse_time(since, settings, now)
    end = _parse_time(until, settings, now) or now
    assert start is not None
    if start >= end:
        raise ConfigError(f"--since {since} is not before --until: expected an earlier start")
    site_code = site.upper() if site else None
    with AlarmStore(settings.database_url) as store:
        records = store.journal(since=start, until=end, site=site_code)
        active = [
            (c.alarm_id, c.status.active_since)
            for c in store.active_alarms(site=site_code)
            if c.status.active_since is not None
        ]
    report = alarm_kpis(
        records,
        start,
        end,
        current_active=active,
        threshold=settings.alarms.flood_alarms,
        window_s=settings.alarms.flood_window_min * 60,
    )
    if as_json:
        click.echo(json.dumps(_jsonable(report), ensure_ascii=False, indent=2, default=str))
        return
    click.echo(_kpi_text(report, settings))


def _jsonable(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _kpi_text(report: Any, settings: Settings) -> str:
    lines = [
        f"Alarm KPIs {_local(report.start, settings)} → {_local(report.end, settings)} "
        f"({settings.site.timezone})",
        f"alarms raised: {report.alarms}",
        "",
        f"{'position':9} {'alarms':>7} {'per h':>7} {'per 10m':>8} {'peak 10m':>9} "
        f"{'%10m>10':>8} {'%flood':>7} {'floods':>7}",
    ]
    for p in report.positions:
        lines.append(
            f"{p.position:9} {p.alarms:7} {p.per_hour:7.2f} {p.per_10min:8.2f} "
            f"{p.peak_10min:9} {p.pct_10min_over:8.1f} {p.pct_time_in_flood:7.1f} {p.floods:7}"
        )
    lines += ["", f"top {len(report.top)} contributors: {report.top_share:.1f} % of all alarms"]
    lines += [f"  {c.count:6}  {c.share:5.1f} %  {c.alarm_id}" for c in report.top]
    lines += ["", "priority distribution:"]
    lines += [f"  {p:9} {n:6}  {pct:5.1f} %" for p, (n, pct) in report.priorities.items() if n or p]
    lines += ["", f"chattering alarms (3+ in 60 s): {len(report.chattering)}"]
    for c in report.chattering:
        lines.append(f"  {c.alarm_id}: {c.activations} raises in {c.episodes} bursts")
        for s in c.suggestions:
            lines.append(
                f"      {s.setting} = {s.value:g} would have removed {s.removed} of {s.of}"
            )
    lines.append(f"fleeting alarms: {sum(c.count for c in report.fleeting)}")
    lines += [f"  {c.count:6}  {c.alarm_id}" for c in report.fleeting[:10]]
    lines.append(f"stale alarms (active > 24 h): {len(report.stale)}")
    lines += [
        f"  {s.alarm_id} since {_local(s.active_since, settings)} ({s.hours:g} h)"
        for s in report.stale
    ]
    ack = f"{report.ack_median_s:.0f} s" if report.ack_median_s is not None else "n/a"
    lines += [
        f"shelved: {report.shelved}  suppressed activations: {report.suppressed}  "
        f"activations while shelved: {report.hidden_by_shelve}  "
        f"out of service: {report.out_of_service}",
        f"acknowledged: {report.acknowledged}  median time to acknowledge: {ack}",
    ]
    return "\n".join(lines)


@group.command("check")
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ledger file(s) instead of the database.",
)
@click.pass_context
def check(ctx: click.Context, ledgers: tuple[Path, ...]) -> None:
    """Validate alarms.yaml against the ledger and the device profiles."""
    from gateway.alarms.service import build_alarm_set, ledger_assets

    settings = _settings(ctx)
    assets, _ = ledger_assets(settings, ledgers)
    alarm_set = build_alarm_set(settings, assets)
    path = settings.alarms.definitions_file
    source = str(path) if path.exists() else f"profile defaults ({path} not found)"
    click.echo(
        f"{len(alarm_set.specs)} alarms on {len(alarm_set.by_asset)} assets "
        f"({', '.join(alarm_set.sites)}) from {source}; "
        f"{len(alarm_set.notifications.rules)} notification rules"
    )


# -- operator actions (through the running engine) ---------------------------------------------


def _send(ctx: click.Context, op: str, alarm_id: str, **extra: Any) -> None:
    from facility.mqtt import BrokerSettings
    from gateway.alarms.client import send_command, site_of
    from gateway.alarms.core import OP_PERMISSION, Command
    from maintenance.cli.users import acting, read_token

    settings = _settings(ctx)
    # refused here already (and audited) when the person may not: no round trip to learn it;
    # the engine checks again, on the alarm's own estate, and is the one that decides
    person = acting(ctx, OP_PERMISSION[op], site_of(alarm_id))
    broker = BrokerSettings.from_url(
        settings.mqtt.url, password=settings.mqtt.password, ca_file=settings.mqtt.ca_file
    )
    timeout = extra.pop("timeout", 10.0)
    command = Command(op=op, alarm_id=alarm_id, user=person.name, **extra)  # type: ignore[arg-type]
    state = asyncio.run(send_command(broker, command, token=read_token(), timeout_s=timeout))
    line = f"{alarm_id}: {state.get('state')}"
    shelve = state.get("shelve")
    if shelve:
        line += f" until {_local(datetime.fromisoformat(shelve['until']), settings)}"
    click.echo(line)


_timeout = click.option(
    "--timeout", default=10.0, show_default=True, help="Seconds to wait for the engine."
)


@group.command("ack")
@click.argument("alarm_id")
@click.option("--comment", default="", help="Why / what was done.")
@_timeout
@click.pass_context
def ack(ctx: click.Context, alarm_id: str, comment: str, timeout: float) -> None:
    """Acknowledge an alarm (ID: <ASSET_NO>/<alarm>, e.g. HT-PDP-001/dry_run)."""
    _send(ctx, "ack", alarm_id, comment=comment, timeout=timeout)


@group.command("shelve")
@click.argument("alarm_id")
@click.option("--comment", required=True, help="Why it is shelved (required).")
@click.option("--for", "duration", help="How long: 30m, 2h (at most the alarm's maximum).")
@click.option("--one-shot", is_flag=True, help="Until it next returns to normal.")
@click.option("--reason", default="", help="Short reason code, e.g. maintenance, nuisance.")
@_timeout
@click.pass_context
def shelve(
    ctx: click.Context,
    alarm_id: str,
    comment: str,
    duration: str | None,
    one_shot: bool,
    reason: str,
    timeout: float,
) -> None:
    """Shelve an alarm for a time (--for) or until it returns to normal (--one-shot)."""
    from facility.cli.common import parse_duration

    if duration is None and not one_shot:
        raise click.UsageError("give --for DURATION (e.g. --for 2h) or --one-shot")
    for_s = parse_duration(duration) if duration else None
    _send(
        ctx,
        "shelve",
        alarm_id,
        comment=comment,
        for_s=for_s,
        one_shot=one_shot,
        reason=reason,
        timeout=timeout,
    )


def _simple(name: str, op: str, help_text: str) -> None:
    @group.command(name, help=help_text)
    @click.argument("alarm_id")
    @click.option("--comment", default="", help="Why (journaled).")
    @_timeout
    @click.pass_context
    def command(ctx: click.Context, alarm_id: str, comment: str, timeout: float) -> None:
        _send(ctx, op, alarm_id, comment=comment, timeout=timeout)


@group.command("comment")
@click.argument("alarm_id")
@click.option("--comment", required=True, help="The note (journaled; the state stays).")
@_timeout
@click.pass_context
def comment_(ctx: click.Context, alarm_id: str, comment: str, timeout: float) -> None:
    """Add a note to an alarm's journal (what was found, who was called)."""
    _send(ctx, "comment", alarm_id, comment=comment, timeout=timeout)


_simple("unshelve", "unshelve", "Unshelve an alarm before its time.")
_simple("reset", "reset", "Reset a latched alarm whose condition has cleared.")
_simple(
    "out-of-service",
    "out_of_service",
    "Take an alarm out of service (the supervisor role; a comment is required).",
)
_simple("return-to-service", "return_to_service", "Return an alarm to service (supervisor role).")


# -- the engine -------------------------------------------------------------------------------


@group.command("run")
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ledger file(s) instead of the database.",
)
@click.option("--site", "sites", multiple=True, help="Only these sites (default: all).")
@click.option("--id", "service_id", default="alarms-1", show_default=True, help="Engine id.")
@click.option("--no-trends", is_flag=True, help="Do not write alarm events to InfluxDB.")
@click.pass_context
def run(
    ctx: click.Context,
    ledgers: tuple[Path, ...],
    sites: Sequence[str],
    service_id: str,
    no_trends: bool,
) -> None:
    """Run the alarm engine on its own: device readings from MQTT, alarms out."""
    from facility.cli.common import serve
    from gateway.alarms.service import run_standalone

    settings = _settings(ctx)

    serve(
        lambda ready: run_standalone(
            settings,
            ledgers=ledgers,
            sites=sites,
            service_id=service_id,
            trends=not no_trends,
            ready=ready,
        ),
        lambda: click.echo(
            f"alarm engine {service_id} running → {redact_url(settings.mqtt.url)}; Ctrl-C to stop"
        ),
    )
