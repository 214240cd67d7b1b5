"""``facility collect``: plan, read once, or run the collectors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from facility.cli.common import serve
from facility.config import Settings
from facility.errors import ConfigError
from facility.redact import redact_url
from facility.types import Asset

if TYPE_CHECKING:
    from collectors.registry import CollectorOptions


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


def _assets(
    settings: Settings,
    ledgers: Sequence[Path],
    sites: Sequence[str],
    endpoints: Path | None,
) -> list[Asset]:
    """Monitored assets from the ledger database (default) or ledger files, with the
    simulator's endpoint table applied when given."""
    from collectors.endpoints import apply_endpoint_table, read_endpoint_table
    from maintenance.assets import load_assets

    assets = load_assets(settings, ledgers, from_db=not ledgers, sites=sites)
    if endpoints is not None:
        assets = apply_endpoint_table(assets, read_endpoint_table(endpoints))
    return assets


def collector_options(settings: Settings) -> CollectorOptions:
    """Protocol options from the configuration, and the learned device limits under var."""
    from collectors.modbus.limits import DeviceLimitStore, default_path
    from collectors.opcua.security import (
        OpcuaSecurity,
        SecurityMode,
        SecurityPolicy,
        default_pki_dir,
    )
    from collectors.registry import CollectorOptions

    opcua = settings.opcua
    security = OpcuaSecurity(
        policy=SecurityPolicy(opcua.security_policy),
        mode=SecurityMode(opcua.security_mode),
        pki_dir=opcua.pki_dir or default_pki_dir(settings.paths.var_dir),
        username=opcua.username,
        password=opcua.password,
        trust_on_first_use=opcua.trust_on_first_use,
    )
    return CollectorOptions(
        opcua_security=security,
        device_limits=DeviceLimitStore(default_path(settings.paths.var_dir)),
        poll_scale=settings.collector.poll_scale,
    )


def _one(assets: list[Asset], asset_no: str) -> Asset:
    for asset in assets:
        if asset.asset_no == asset_no.upper():
            return asset
    raise ConfigError(f"asset {asset_no}: not a monitored asset of the ledger")


ledger_option = click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ledger file(s) instead of the ledger database.",
)
endpoints_option = click.option(
    "--endpoints",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Endpoint table of a simulator started with ephemeral ports (var/sim/endpoints.json).",
)


@click.group()
def group() -> None:
    """Poll devices (Modbus TCP, OPC UA) and publish their readings to MQTT."""


@group.command()
@click.argument("asset_no")
@ledger_option
@click.pass_context
def plan(ctx: click.Context, asset_no: str, ledgers: tuple[Path, ...]) -> None:
    """Print the requests one poll of ASSET_NO makes, per set of poll classes, with the
    limits its device taught the collector at runtime."""
    from collectors.modbus.limits import DeviceLimitStore, default_path
    from collectors.modbus.planner import plan_requests
    from device_profiles import load_library
    from device_profiles.models import ModbusDefaults, PollClass

    settings = _settings(ctx)
    asset = _one(_assets(settings, ledgers, (), None), asset_no)
    assert asset.profile is not None
    profile = load_library()[asset.profile]
    click.echo(f"{asset.asset_no}  {profile.id}  {asset.endpoint}")
    if profile.protocol != "modbus":
        mode = "subscription" if (profile.opcua is None or profile.opcua.subscribe) else "polling"
        click.echo(f"OPC UA {mode}: {len(profile.points)} monitored items")
        for point in profile.points:
            assert point.opcua is not None
            where = point.opcua.node_id or f"{asset.endpoint}/{point.opcua.browse_path}"
            click.echo(f"  {point.name:24} {point.poll.value:7} {where}")
        return
    limits = profile.modbus or ModbusDefaults()
    store_path = default_path(settings.paths.var_dir)
    learned = DeviceLimitStore(store_path).get(asset.asset_no, profile.id)
    if learned.empty:
        click.echo(f"learned limits: none ({store_path})")
    else:
        click.echo(f"learned limits: {learned.describe()} ({store_path})")
    classes: list[PollClass] = []
    for poll_class in PollClass:
        if not any(p.poll is poll_class for p in profile.points):
            continue
        classes.append(poll_class)
        points = [p for p in profile.points if p.poll in classes]
        requests = plan_requests(points, limits, learned)
        names = "+".join(c.value for c in classes)
        click.echo(f"poll {names}: {len(points)} points in {len(requests)} requests")
        for r in requests:
            click.echo(
                f"  {r.table.value:8} address {r.address:5} count {r.count:3}  "
                f"{', '.join(r.points)}"
            )


@group.command()
@click.argument("asset_no")
@ledger_option
@endpoints_option
@click.option("--json", "as_json", is_flag=True, help="Print the readings as JSON.")
@click.pass_context
def once(
    ctx: click.Context,
    asset_no: str,
    ledgers: tuple[Path, ...],
    endpoints: Path | None,
    as_json: bool,
) -> None:
    """Read every point of ASSET_NO once and print it."""
    from collectors.registry import build_collectors
    from device_profiles import load_library
    from device_profiles.models import PollClass

    settings = _settings(ctx)
    asset = _one(_assets(settings, ledgers, (), endpoints), asset_no)

    async def read() -> object:
        (collector,) = build_collectors([asset], load_library(), collector_options(settings))
        async with collector:
            return await collector.devices()[0].collect(frozenset(PollClass))

    collected = asyncio.run(read())
    from collectors.base import Collected

    assert isinstance(collected, Collected)
    if as_json:
        rows = [
            {
                "point": r.point,
                "value": r.value,
                "unit": r.unit,
                "quality": r.quality.value,
                "source_ts": r.source_ts.isoformat() if r.source_ts else None,
            }
            for r in collected.readings
        ]
        click.echo(
            json.dumps(
                {
                    "asset_no": asset.asset_no,
                    "rtt_ms": round(collected.rtt_ms, 2),
                    "requests": collected.requests,
                    "error": collected.error,
                    "readings": rows,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for r in collected.readings:
            value = "—" if r.value is None else r.value
            click.echo(f"{r.point:24} {value!s:>14} {r.unit:6} {r.quality.value}")
        click.echo(
            f"{collected.requests} requests, {collected.rtt_ms:.1f} ms"
            + (f", error: {collected.error}" if collected.error else "")
        )
    if collected.failed_all:
        raise SystemExit(1)


@group.command()
@click.option("--site", "sites", multiple=True, help="Only these sites (default: config/all).")
@ledger_option
@endpoints_option
@click.pass_context
def run(
    ctx: click.Context,
    sites: tuple[str, ...],
    ledgers: tuple[Path, ...],
    endpoints: Path | None,
) -> None:
    """Poll every device of the chosen sites and publish to MQTT until stopped."""
    from collectors.service import CollectorService
    from device_profiles import load_library
    from facility.mqtt import BrokerSettings

    settings = _settings(ctx)
    config = settings.collector
    assets = _assets(settings, ledgers, sites or tuple(config.sites), endpoints)
    service = CollectorService(
        assets=assets,
        profiles=load_library(site_dirs=settings.profiles.dirs),
        broker=BrokerSettings.from_url(
            settings.mqtt.url, password=settings.mqtt.password, ca_file=settings.mqtt.ca_file
        ),
        spool_path=settings.paths.var_dir / "collector" / f"{config.id}.spool",
        collector_id=config.id,
        spool_max_bytes=int(config.spool_max_mb * 2**20),
        spool_max_age_s=config.spool_max_age_h * 3600,
        metrics_port=config.metrics_port,
        metrics_token=settings.metrics.token,
        options=collector_options(settings),
        reload=lambda: (
            _assets(settings, ledgers, sites or tuple(config.sites), endpoints),
            # the site folders are re-read too: a model added or edited there is picked up
            load_library(site_dirs=settings.profiles.dirs),
        ),
        reload_every_s=config.reload_every_s,
        resend_window_s=config.resend_window_min * 60,
        resend_max_bytes=int(config.resend_max_mb * 2**20),
    )

    serve(
        service.run,
        lambda: click.echo(
            f"collecting {len(service.pollers)} devices on {len(service.collectors)} "
            f"endpoints → {redact_url(settings.mqtt.url)}; metrics {service.metrics_url}"
        ),
    )
