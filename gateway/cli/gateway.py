"""``facility gateway``: run the historian gateway, or set up InfluxDB's retention once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from facility.cli.common import serve
from facility.config import Settings
from facility.redact import redact_url

if TYPE_CHECKING:
    from gateway.ingest import InfluxTarget


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


def influx_target(settings: Settings) -> InfluxTarget:
    """Where the historian is, from the ``[influxdb]`` section (secrets from the environment)."""
    from gateway.ingest import InfluxTarget

    config = settings.influxdb
    return InfluxTarget(
        config.url,
        config.database,
        username=config.username,
        password=config.password,
        token=config.token,
        timeout_s=config.timeout_s,
    )


@click.group()
def group() -> None:
    """MQTT readings into InfluxDB (the historian), with a spool for when it is down."""


@group.command()
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ledger file(s) of known assets instead of the ledger database.",
)
@click.option(
    "--any-asset",
    is_flag=True,
    help="Accept readings of assets that are not in the ledger (default: dead-letter them).",
)
@click.pass_context
def run(ctx: click.Context, ledgers: tuple[Path, ...], any_asset: bool) -> None:
    """Subscribe to every device's readings and write them to InfluxDB until stopped."""
    from facility.mqtt import BrokerSettings
    from facility.topics import shared_readings
    from gateway.ingest import GatewayService
    from gateway.ingest_rules import ledger_tags
    from gateway.metrics import GatewayMetrics
    from gateway.retention import RetentionPlan
    from maintenance.assets import load_assets

    settings = _settings(ctx)
    config = settings.gateway
    assets = [] if any_asset else load_assets(settings, ledgers, from_db=not ledgers, sites=())
    target = influx_target(settings)
    service = GatewayService(
        BrokerSettings.from_url(
            settings.mqtt.url, password=settings.mqtt.password, ca_file=settings.mqtt.ca_file
        ),
        target,
        settings.paths.var_dir / "gateway" / f"{config.id}.spool",
        gateway_id=config.id,
        share_group=config.share_group,
        known_assets=None if any_asset else [a.asset_no for a in assets],
        asset_tags=ledger_tags(assets),
        batch_points=config.batch_points,
        batch_interval_s=config.batch_interval_s,
        spool_max_bytes=int(config.spool_max_mb * 2**20),
        spool_max_age_s=config.spool_max_age_h * 3600,
        replay_points_per_s=config.replay_points_per_s,
        session_expiry_s=config.session_expiry_s,
        gap_audit=config.gap_audit,
        gap_audit_interval_s=config.gap_audit_interval_s,
        retention=RetentionPlan.from_config(settings.influxdb),
        metrics_port=config.metrics_port,
        metrics_token=settings.metrics.token,
        metrics_source=GatewayMetrics,
    )

    known = "any asset" if any_asset else f"{len(assets)} ledger assets"
    serve(
        service.run,
        lambda: click.echo(
            f"gateway {config.id}: {redact_url(settings.mqtt.url)} "
            f"{shared_readings(config.share_group)}"
            f" ({known}) → InfluxDB {redact_url(settings.influxdb.url)} database "
            f"{settings.influxdb.database}; spool {service.spool_path}; "
            f"metrics {service.metrics_url}"
        ),
    )


@group.command()
@click.option(
    "--v2-org",
    default=None,
    help="InfluxDB 2.x/Cloud: create buckets, DBRP mappings and downsampling tasks in this "
    "organisation instead (token from $FACILITY_INFLUXDB__TOKEN; documented, untested here).",
)
@click.pass_context
def setup(ctx: click.Context, v2_org: str | None) -> None:
    """Create the database, retention policies and continuous queries (idempotent)."""
    from gateway.retention import RetentionPlan
    from gateway.retention import setup as setup_retention

    settings = _settings(ctx)
    if v2_org is not None:
        from gateway.influx_v2 import setup_v2

        config = settings.influxdb
        created = setup_v2(
            config.url, config.token, v2_org, config.database, RetentionPlan.from_config(config)
        )
        click.echo(
            f"InfluxDB 2.x at {redact_url(config.url)}, org {v2_org}: "
            + (", ".join(created) if created else "already set up")
        )
        return
    client = influx_target(settings).client()
    try:
        version = client.ping()
        changed = setup_retention(client, RetentionPlan.from_config(settings.influxdb))
    finally:
        client.close()
    where = (
        f"InfluxDB {version} at {redact_url(settings.influxdb.url)}, "
        f"database {settings.influxdb.database}"
    )
    if not changed:
        click.echo(f"{where}: already set up")
        return
    click.echo(f"{where}:")
    for statement in changed:
        click.echo(f"  {statement}")
