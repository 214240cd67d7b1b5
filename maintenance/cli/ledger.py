"""``facility ledger``: the ledger of numbered assets (init, import, export, number, list, demo).

Every command that touches the database upgrades it to the current schema first (idempotent).
An import is all-or-nothing: with any bad row it prints every problem as
``file:row N: column: message``, changes nothing and exits 1.

Changes (import, number, status) act for the signed-in person (`facility login`, or
``$FACILITY_TOKEN``) and need the ``ledger`` permission (the admin role) on the estate; the
audit trail names them. ``init`` and ``demo`` on a database that has no users yet act as the
set-up (source ``system``): that is how an installation starts, before its first admin.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click

from facility.config import Settings
from facility.errors import Issue, LedgerError
from facility.types import ASSET_NO_RE, AssetStatus, DeviceClass
from maintenance import ledger_files
from maintenance.cli.table import format_table
from maintenance.cli.users import acting, user_store
from maintenance.db import safe_url
from maintenance.identity.roles import Permission, Principal, system_principal
from maintenance.ledger import ImportReport
from maintenance.store import SYSTEM_USER, LedgerStore

CLASS_CHOICE = click.Choice([c.value for c in DeviceClass], case_sensitive=False)
STATUS_CHOICE = click.Choice([s.value for s in AssetStatus], case_sensitive=False)


def _actor(ctx: click.Context, site: str | None = None, *, setup: bool = False) -> Principal:
    """Who changes the ledger: the signed-in person, if they may (else the refusal, audited);
    for ``setup`` commands on a database without users, the set-up itself."""
    if setup:
        with user_store(ctx) as users:
            if not users.count():
                return system_principal("setup")
    return acting(ctx, Permission.LEDGER, site)


def _store(ctx: click.Context) -> LedgerStore:
    settings: Settings = ctx.find_root().obj
    store = LedgerStore(settings.database_url)
    ctx.call_on_close(store.close)
    return store


def format_issue(issue: Issue) -> str:
    """``file:row N: column: message`` (row numbers as a spreadsheet shows them)."""
    where = f"{issue.file}:row {issue.line}" if issue.line is not None else issue.file
    return (
        f"{where}: {issue.field}: {issue.message}" if issue.field else f"{where}: {issue.message}"
    )


def _print_report(report: ImportReport, quiet: bool) -> None:
    if not quiet:
        for change in report.changes:
            detail = f" ({', '.join(change.changed)})" if change.changed else ""
            click.echo(f"row {change.row}: {change.asset_no}: {change.action.value}{detail}")
    verb = "would be" if report.dry_run else "were"
    click.echo(
        f"{report.source}: {len(report.changes)} rows: {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged"
        + (f" (dry run: nothing {verb} written)" if report.dry_run else "")
    )


def _fail_import(path: Path, exc: LedgerError) -> None:
    for issue in exc.issues:
        click.echo(format_issue(issue), err=True)
    rows = {i.line for i in exc.issues if i.line is not None}
    where = f" in {len(rows)} row(s)" if rows else ""
    click.echo(f"{path}: nothing imported: {len(exc.issues)} problem(s){where}", err=True)
    raise SystemExit(1)


@click.group()
def group() -> None:
    """The ledger of numbered assets: import, export, number."""


@group.command()
@click.option(
    "--sites",
    "sites_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="CSV of sites (code,name_en,name_zh,timezone); default: the demo estates.",
)
@click.pass_context
def init(ctx: click.Context, sites_file: Path | None) -> None:
    """Create or upgrade the database and load the sites."""
    store = _store(ctx)
    sites = ledger_files.read_sites(sites_file) if sites_file else ledger_files.demo_sites()
    changed = store.save_sites(sites, user=_actor(ctx, setup=True))
    click.echo(f"database {safe_url(store.url)} at revision {store.revision()}")
    for site in store.sites():
        mark = " (saved)" if site in changed else ""
        click.echo(f"site {site.code}: {site.name_en} {site.name_zh} {site.timezone}{mark}")


@group.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Print the totals only, not every row.")
@click.pass_context
def import_(ctx: click.Context, path: Path, dry_run: bool, quiet: bool) -> None:
    """Import a ledger FILE.csv or FILE.xlsx, all or nothing."""
    store = _store(ctx)
    try:
        # a dry run changes nothing: like reading, it needs no sign-in
        user = SYSTEM_USER if dry_run else _actor(ctx)
        report = store.import_file(path, user=user, dry_run=dry_run)
    except LedgerError as exc:
        _fail_import(path, exc)
        return
    _print_report(report, quiet)


@group.command()
@click.option("--site", help="Only this site (e.g. HT).")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "xlsx"]),
    help="Default: from -o's suffix, else csv.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@click.pass_context
def export(
    ctx: click.Context, site: str | None, file_format: str | None, output: Path | None
) -> None:
    """Export the ledger as CSV (stdout by default) or XLSX."""
    store = _store(ctx)
    if file_format is None:
        file_format = "xlsx" if output is not None and output.suffix.lower() == ".xlsx" else "csv"
    assets = store.assets(site)
    if output is not None:
        if output.suffix.lower() != f".{file_format}":
            output = output.with_suffix(f".{file_format}")
        ledger_files.write_ledger_file(assets, output)
        click.echo(f"{output}: {len(assets)} assets", err=True)
    elif file_format == "xlsx":
        if sys.stdout.isatty():
            raise click.UsageError("refusing to write XLSX to a terminal: use -o FILE.xlsx")
        sys.stdout.buffer.write(ledger_files.xlsx_bytes(assets))
        sys.stdout.buffer.flush()
    else:
        text = io.StringIO()
        ledger_files.write_csv(assets, text)
        click.echo(text.getvalue(), nl=False)


@group.command()
@click.option("--site", required=True, help="Site code, e.g. HT.")
@click.option("--class", "device_class", required=True, type=CLASS_CHOICE, help="Device class.")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 1000))
@click.option("--reason", default="allocated by `facility ledger number`", help="Recorded.")
@click.pass_context
def number(ctx: click.Context, site: str, device_class: str, count: int, reason: str) -> None:
    """Allocate the next asset numbers (never reused, even after retirement)."""
    store = _store(ctx)
    person = _actor(ctx, site.upper())
    for asset_no in store.allocate(site, device_class, count, reason, user=person):
        click.echo(asset_no)


@group.command("list")
@click.option("--site", help="Only this site.")
@click.option("--class", "device_class", type=CLASS_CHOICE, help="Only this class.")
@click.option("--status", type=STATUS_CHOICE, help="Only this status.")
@click.option("--monitored", is_flag=True, help="Only assets the collectors poll.")
@click.pass_context
def list_(
    ctx: click.Context,
    site: str | None,
    device_class: str | None,
    status: str | None,
    monitored: bool,
) -> None:
    """List assets as a table."""
    store = _store(ctx)
    assets = store.assets(site, monitored, device_class=device_class, status=status)
    rows = [
        (
            a.asset_no,
            a.name_zh,
            a.name_en,
            a.building,
            a.zone,
            a.criticality.value,
            a.status.value,
            str(a.endpoint) if a.endpoint else "-",
        )
        for a in assets
    ]
    header = ("asset_no", "name_zh", "name_en", "building", "zone", "crit.", "status", "endpoint")
    click.echo(format_table(header, rows))
    click.echo(f"{len(assets)} assets")


@group.command()
@click.argument("asset_no")
@click.argument("status", type=STATUS_CHOICE)
@click.option("--note", default="", help="Why (recorded in the status history).")
@click.pass_context
def status(ctx: click.Context, asset_no: str, status: str, note: str) -> None:
    """Set an asset's STATUS: in_service, out_of_service or retired (final)."""
    store = _store(ctx)
    match = ASSET_NO_RE.match(asset_no)
    person = _actor(ctx, match["site"] if match else None)
    asset = store.set_status(asset_no, status, user=person, note=note)
    click.echo(f"{asset.asset_no}: {asset.status.value}")


@group.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Load the three demo estates (HT, JU, HY) into the ledger; safe to run again."""
    store = _store(ctx)
    person = _actor(ctx, setup=True)
    store.save_sites(ledger_files.demo_sites(), user=person)
    for path in ledger_files.demo_ledger_paths():
        try:
            report = store.import_file(path, user=person)
        except LedgerError as exc:
            _fail_import(path, exc)
            return
        _print_report(report, quiet=True)
    monitored = store.assets(monitored_only=True)
    click.echo(f"{len(monitored)} monitored assets in {safe_url(store.url)}")
