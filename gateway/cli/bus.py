"""``facility bus``: the closed bus's broker accounts and ACL (gateway/bus_acl.py)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from facility.config import Settings


@click.group(name="bus")
def group() -> None:
    """The MQTT bus: broker accounts and ACL for a deployment."""


def _collector(text: str) -> tuple[str, list[str]]:
    name, sep, sites = text.partition("=")
    if not sep or not name or not sites:
        raise click.BadParameter(f"{text!r}: expected ID=SITE[,SITE...], e.g. collector-ht=HT")
    return name, [s.strip() for s in sites.split(",") if s.strip()]


@group.command(name="acl")
@click.option("--site", "sites", multiple=True, required=True, help="A site code (repeat).")
@click.option(
    "--collector",
    "collectors",
    multiple=True,
    help="A collector's id and sites, ID=SITE[,SITE] (repeat; default: [collector] id, all).",
)
@click.option("--channel", "channels", multiple=True, help="An alarm MQTT channel's topic.")
@click.option(
    "--reader",
    "readers",
    multiple=True,
    help="A read-only account for the readings (e.g. telegraf; docs/telegraf.md). Repeat.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="ACL file."
)
@click.pass_context
def acl(
    ctx: click.Context,
    sites: tuple[str, ...],
    collectors: tuple[str, ...],
    channels: tuple[str, ...],
    readers: tuple[str, ...],
    out: Path,
) -> None:
    """Write mosquitto's acl_file for one account per service, and say how to finish."""
    from gateway.bus_acl import mosquitto_acl, service_accounts

    settings: Settings = ctx.find_root().obj
    wanted = list(sites)
    per_collector = [_collector(text) for text in collectors] or [
        (settings.collector.id, settings.collector.sites or wanted)
    ]
    accounts = service_accounts(
        wanted,
        collectors=per_collector,
        gateway_id=settings.gateway.id,
        channels=channels,
        readers=readers,
    )
    text = mosquitto_acl(accounts)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)
    out.chmod(0o600)
    click.echo(f"wrote {out} ({len(accounts)} accounts)")
    click.echo("\nCreate each account's password (prompted; -c creates the file on the first):")
    for i, account in enumerate(accounts):
        flag = "-c " if i == 0 else ""
        click.echo(f"  mosquitto_passwd {flag}/etc/mosquitto/passwd {account.name}")
    click.echo(
        "\nIn mosquitto.conf:\n"
        "  per_listener_settings false\n"
        "  allow_anonymous false\n"
        "  password_file /etc/mosquitto/passwd\n"
        f"  acl_file {out.resolve()}\n"
        "  listener 8883\n"
        "  cafile /etc/mosquitto/ca.pem\n"
        "  certfile /etc/mosquitto/server.pem\n"
        "  keyfile /etc/mosquitto/server.key\n"
        "\nEach service then logs in as its account, the password from the environment:\n"
        "  FACILITY_MQTT__URL=mqtts://<account>@<broker>:8883  FACILITY_MQTT__PASSWORD=...\n"
        "  ([mqtt] ca_file = the CA that signed the broker's certificate)"
    )
