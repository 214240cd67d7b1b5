"""``facility dashboard run``: serve the Dash dashboard (live status, alarms, work orders,
history, KPIs)."""

from __future__ import annotations

import logging

import click

from facility.config import Settings
from facility.errors import CommError
from facility.metrics_http import is_loopback

log = logging.getLogger(__name__)


@click.group()
def group() -> None:
    """The Dash dashboard: live status, alarms, work orders, history, KPIs."""


@group.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8050, show_default=True, type=int, help="Port to listen on.")
@click.pass_context
def run_command(ctx: click.Context, host: str, port: int) -> None:
    """Serve the dashboard until Ctrl-C."""
    from dashboards.app import run

    settings: Settings = ctx.find_root().obj
    if not is_loopback(host):
        # no login yet: whoever reaches the address can acknowledge and shelve alarms
        log.warning(
            "dashboard host=%s: listening beyond loopback without authentication; anyone who "
            "can reach it can act on alarms and work orders: keep it on 127.0.0.1 behind an "
            "authenticating reverse proxy",
            host,
        )
    try:
        run(settings, host, port)
    except OSError as exc:  # address in use, not allowed
        raise CommError(f"dashboard: cannot listen on {host}:{port}: {exc.strerror}") from None
