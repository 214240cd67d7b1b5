"""``facility sim``: run the simulated estates, inject faults, show what is active.

``sim run`` starts every monitored asset of the ledgers (the demo ledgers by default) on real
Modbus TCP and OPC UA servers, prints where they are and writes the endpoint table, with the
control URL, to ``<var_dir>/sim/endpoints.json``; it runs until Ctrl-C or SIGTERM and removes
that file on the way out. ``sim fault`` and ``sim status`` find the control interface there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import click

from facility.cli.common import parse_duration
from facility.config import Settings
from facility.errors import CommError, ConfigError
from facility.types import Asset
from maintenance.assets import load_assets

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 5.0


def endpoints_path(settings: Settings) -> Path:
    return settings.paths.var_dir / "sim" / "endpoints.json"


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


@click.group()
def group() -> None:
    """Run the simulated estates and inject faults."""


# -- run ------------------------------------------------------------------------------------


def _ranges(numbers: Iterable[int]) -> str:
    """``1,2,3,5`` -> ``1-3,5``."""
    ordered = sorted(set(numbers))
    spans: list[str] = []
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        spans.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ",".join(spans)


def format_endpoint_table(table: dict[str, Any]) -> str:
    """One line per (site, class, endpoint): where the devices answer."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in table["endpoints"]:
        where = (
            f"modbus://{row['host']}:{row['port']}" if row["protocol"] == "modbus" else row["url"]
        )
        groups.setdefault((row["site"], row["class"], where), []).append(row)
    width = max(len(key[2]) for key in groups)
    lines = []
    for (site, device_class, where), rows in sorted(groups.items()):
        first, last = rows[0]["asset_no"], rows[-1]["asset_no"]
        assets = first if first == last else f"{first} .. {last}"
        if rows[0]["protocol"] == "modbus":
            detail = f"unit {_ranges(r['unit_id'] for r in rows)}"
        else:
            detail = f"node ids ns={rows[0]['namespace_index']};s=<asset_no>.<path>"
        lines.append(
            f"{site:<4} {device_class:<4} {where:<{width}}  {len(rows):>3} dev  {assets}  {detail}"
        )
    return "\n".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _running_elsewhere(path: Path) -> str | None:
    """The control URL of a simulator that still answers, from an earlier endpoints.json."""
    try:
        url = json.loads(path.read_text(encoding="utf-8"))["control_url"]
        _request("GET", f"{url}/health", timeout=1.0)
    except (OSError, ValueError, KeyError, TypeError, CommError, ConfigError):
        return None
    return str(url)


async def _serve(
    settings: Settings,
    assets: list[Asset],
    *,
    seed: int,
    speed: float,
    ephemeral: bool,
    control_port: int,
    start: datetime | None,
    opcua_float: bool = False,
) -> None:
    from simulators.control import ControlServer
    from simulators.estate import Estate, PortMode

    path = endpoints_path(settings)
    other = _running_elsewhere(path) if path.exists() else None
    if other is not None:
        raise ConfigError(
            f"a simulator is already running (control {other}, see {path}); stop it first"
        )
    estate = Estate(
        assets,
        seed=seed,
        speed=speed,
        start=start,
        port_mode=PortMode.EPHEMERAL if ephemeral else PortMode.LEDGER,
        bind_host=settings.simulator.host if ephemeral else None,
        latitude=settings.site.latitude,
        longitude=settings.site.longitude,
        timezone=settings.site.timezone,
        opcua_expose={"Double": "Float"} if opcua_float else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with estate, ControlServer(estate, settings.simulator.host, control_port) as control:
            table = estate.endpoint_table(control_url=control.url, pid=os.getpid())
            _write_atomically(path, json.dumps(table, ensure_ascii=False, indent=2) + "\n")
            click.echo(format_endpoint_table(table))
            click.echo(
                f"\n{len(table['endpoints'])} simulated devices, seed {seed}, speed {speed:g}x, "
                f"simulated time from {table['sim_start']}"
            )
            click.echo(f"endpoint table: {path}")
            click.echo(f"control:        {control.url}  (facility sim fault / sim status)")
            click.echo("Ctrl-C to stop.")
            await stop.wait()
            click.echo("stopping…")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


@group.command()
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable): HT, JU, HY.")
@click.option("--seed", type=int, default=None, help="Random seed (default: config).")
@click.option("--speed", type=float, default=None, help="Time acceleration, e.g. 60.")
@click.option(
    "--ephemeral-ports", is_flag=True, help="Bind free ports instead of the ledger's ports."
)
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ledger CSV/XLSX to simulate (repeatable; default: the demo ledgers).",
)
@click.option("--from-db", is_flag=True, help="Simulate the ledger in the database.")
@click.option("--control-port", type=int, default=None, help="Control API port (default: free).")
@click.option(
    "--start",
    "start_text",
    default=None,
    help="Simulated start time, ISO 8601 (default: now; no zone = the site's).",
)
@click.option(
    "--opcua-float",
    is_flag=True,
    help="Expose the profiles' Double points as Float on OPC UA, as PLCs often do.",
)
@click.pass_context
def run(
    ctx: click.Context,
    sites: tuple[str, ...],
    seed: int | None,
    speed: float | None,
    ephemeral_ports: bool,
    ledgers: tuple[Path, ...],
    from_db: bool,
    control_port: int | None,
    start_text: str | None,
    opcua_float: bool,
) -> None:
    """Start the simulated estates until Ctrl-C."""
    settings = _settings(ctx)
    if speed is not None and not speed > 0:
        raise click.BadParameter(f"{speed}: expected a number above 0", param_hint="--speed")
    start = None
    if start_text:
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            raise click.BadParameter(
                f"{start_text!r}: expected ISO 8601, e.g. 2026-06-01T19:30", param_hint="--start"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=ZoneInfo(settings.site.timezone))
    assets = load_assets(settings, ledgers, from_db, sites)
    if not ctx.find_root().params.get("verbose"):
        for noisy in ("asyncua", "pymodbus"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(
        _serve(
            settings,
            assets,
            seed=settings.simulator.seed if seed is None else seed,
            speed=settings.simulator.speed if speed is None else speed,
            ephemeral=ephemeral_ports,
            control_port=settings.simulator.control_port if control_port is None else control_port,
            start=start,
            opcua_float=opcua_float,
        )
    )


# -- fault / status -------------------------------------------------------------------------


def _control_url(settings: Settings, explicit: str | None) -> str:
    if explicit:
        return explicit.rstrip("/")
    path = endpoints_path(settings)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        return str(table["control_url"]).rstrip("/")
    except FileNotFoundError:
        raise CommError(
            f"the simulator is not running: {path} not found; start it with "
            "`facility sim run` (or pass --control URL)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a simulator endpoint table ({exc})") from None


def _request(
    method: str, url: str, body: dict[str, Any] | None = None, timeout: float = HTTP_TIMEOUT_S
) -> tuple[int, dict[str, Any]]:
    """One JSON request to the control API: (status, body). CommError if nobody answers."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"{}")
        except ValueError:
            payload = {"error": f"HTTP {exc.code}"}
        return exc.code, payload
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommError(
            f"the simulator is not running: no answer from {url} ({reason}); start it with "
            "`facility sim run`"
        ) from None
    except ValueError as exc:
        raise CommError(f"{url}: not a simulator control API ({exc})") from None


def _fail(payload: dict[str, Any]) -> None:
    message = str(payload.get("error", "request refused"))
    raise ConfigError(message)


@group.command()
@click.argument("asset_no")
@click.argument("kind")
@click.option("--for", "duration", default=None, help="Clear by itself after 30s, 5m, 1h …")
@click.option("--clear", is_flag=True, help="Clear the fault instead of injecting it.")
@click.option(
    "--value", type=int, default=None, help="request_limit: the largest read in registers."
)
@click.option("--control", "control", default=None, help="Control URL (default: from var/sim).")
@click.pass_context
def fault(
    ctx: click.Context,
    asset_no: str,
    kind: str,
    duration: str | None,
    clear: bool,
    value: int | None,
    control: str | None,
) -> None:
    """Inject (or --clear) a fault: comm_loss, slow, exception, out_of_range, fire, …"""
    if clear and duration:
        raise click.BadParameter("--for and --clear: expected one of them", param_hint="--for")
    seconds = parse_duration(duration) if duration else None
    url = _control_url(_settings(ctx), control)
    asset_no = asset_no.strip().upper()
    kind = kind.strip().lower().replace("-", "_")
    if clear:
        status, payload = _request("DELETE", f"{url}/faults/{quote(asset_no)}/{quote(kind)}")
        if status == 404:
            click.echo(f"{asset_no}: no active {kind} fault")
            return
        if status != 200:
            _fail(payload)
        click.echo(f"{asset_no}: {kind} cleared")
        return
    body: dict[str, object] = {"asset_no": asset_no, "kind": kind, "duration_s": seconds}
    if value is not None:
        body["value"] = value
    status, payload = _request("POST", f"{url}/faults", body)
    if status != 201:
        _fail(payload)
    active = payload["fault"]
    until = f" until {active['expires']}" if active.get("expires") else " until cleared"
    click.echo(f"{asset_no}: {kind} injected{until}")


@group.command()
@click.option("--control", "control", default=None, help="Control URL (default: from var/sim).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON.")
@click.pass_context
def status(ctx: click.Context, control: str | None, as_json: bool) -> None:
    """Show the running simulator and its active faults."""
    url = _control_url(_settings(ctx), control)
    code, health = _request("GET", f"{url}/health")
    if code != 200:
        _fail(health)
    code, faults = _request("GET", f"{url}/faults")
    if code != 200:
        _fail(faults)
    if as_json:
        click.echo(json.dumps({"health": health, **faults}, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"simulator at {url}: {health['assets']} devices, simulated time {health['sim_time']} "
        f"({health['speed']:g}x)"
    )
    active = faults.get("faults", [])
    if not active:
        click.echo("no active faults")
        return
    click.echo(f"{len(active)} active fault(s):")
    for item in active:
        until = f"until {item['expires']}" if item.get("expires") else "until cleared"
        click.echo(f"  {item['asset_no']:<12} {item['kind']:<14} since {item['since']}  {until}")
