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
@click.option(
    "--trusted-proxy",
    default=None,
    metavar="ADDRESS",
    help="Address of the TLS reverse proxy in front (its X-Forwarded-* headers are believed).",
)
@click.pass_context
def run_command(ctx: click.Context, host: str, port: int, trusted_proxy: str | None) -> None:
    """Serve the dashboard (waitress) until Ctrl-C; sign-in required (docs/identity.md)."""
    from dashboards.app import run

    settings: Settings = ctx.find_root().obj
    if not is_loopback(host) and not settings.identity.secure_cookies:
        # sign-in is always on; what is missing beyond loopback is the transport: passwords
        # and session cookies would cross the network in clear text
        log.warning(
            "dashboard host=%s: listening beyond loopback without TLS; passwords and session "
            "cookies cross the network in clear: serve it behind a TLS reverse proxy and set "
            "[identity] secure_cookies = true (docs/identity.md)",
            host,
        )
    try:
        run(settings, host, port, trusted_proxy=trusted_proxy)
    except OSError as exc:  # address in use, not allowed
        raise CommError(f"dashboard: cannot listen on {host}:{port}: {exc.strerror}") from None
