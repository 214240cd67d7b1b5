"""``facility demo`` (``make demo``): the whole system on the three demo estates.

Starts, each as its own process as in production, with data and logs under ``var/``:
mosquitto and influxd (unless something already answers at the configured URLs — then that
broker/historian is used), the demo ledger in the SQL database, the simulated estates on the
ledger's ports, the collectors, and the parts later issues add (gateway, dashboard) when they
are part of this build. Prints where everything is, then supervises until Ctrl-C: a part that
dies is reported once and restarted.

The broker it starts is closed (gateway/bus_acl.py): one account per service with a random
password, handed to each part only through its environment (``FACILITY_MQTT__URL`` names
the account, ``FACILITY_MQTT__PASSWORD`` holds the password); the CLI's command account is
written to ``var/mosquitto/cli.env`` (0600), never printed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from facility.config import Settings
from facility.errors import CommError
from facility.redact import redact_url
from facility.topics import READINGS_WILDCARD

# a read-only, readings-only bus account (docs/telegraf.md), its login in var/mosquitto/reader.env
DEMO_READER = "reader"

if TYPE_CHECKING:
    from collections.abc import Sequence

    from devtools.services import InfluxServer, MosquittoServer


@dataclass
class Part:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, **self.extra},  # extra: this part's own broker login
            start_new_session=True,
        )
        log.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 0.5):
            return True
    except OSError:
        return False


def _facility(*args: str) -> list[str]:
    return [sys.executable, "-m", "facility.cli", *args]


@click.command(name="demo")
@click.option("--speed", type=float, default=None, help="Simulation time acceleration.")
@click.pass_context
def group(ctx: click.Context, speed: float | None) -> None:
    """Run the whole system on the demo estates until Ctrl-C."""
    from devtools.services import InfluxServer, MosquittoServer
    from gateway.bus_acl import service_accounts
    from maintenance.ledger_files import demo_ledger_paths, demo_sites
    from maintenance.store import LedgerStore

    settings: Settings = ctx.find_root().obj
    var = settings.paths.var_dir.resolve()
    var.mkdir(parents=True, exist_ok=True)
    servers: list[InfluxServer | MosquittoServer] = []
    parts: list[Part] = []
    env = dict(os.environ)
    env.setdefault("FACILITY_PATHS__VAR_DIR", str(var))
    # a demo should answer within a minute: alarms become work orders on the next pass
    env.setdefault("FACILITY_MAINTENANCE__GENERATE_EVERY_MIN", "1")
    broker: MosquittoServer | None = None
    try:
        mqtt_port = urlsplit(settings.mqtt.url).port or 1883
        if _answers(settings.mqtt.url):
            click.echo(
                f"MQTT broker: using the one already at {redact_url(settings.mqtt.url)} "
                "(its accounts are yours to configure: facility bus acl)"
            )
        else:
            sites = [site.code for site in demo_sites()]
            accounts = service_accounts(
                sites,
                # an empty [collector] sites means every site
                collectors=[(settings.collector.id, settings.collector.sites or sites)],
                gateway_id=settings.gateway.id,
                readers=[DEMO_READER],
            )
            broker = MosquittoServer(
                var / "mosquitto", port=mqtt_port, accounts=accounts, test_account=False
            ).start()
            servers.append(broker)
            _write_login_env(broker, "facility-cli", var / "mosquitto" / "cli.env")
            _write_login_env(broker, DEMO_READER, var / "mosquitto" / "reader.env")
        influx_port = urlsplit(settings.influxdb.url).port or 8086
        if _answers(settings.influxdb.url):
            click.echo(f"InfluxDB: using the one already at {redact_url(settings.influxdb.url)}")
        else:
            servers.append(InfluxServer(var / "influxdb", port=influx_port).start())

        with LedgerStore(settings.database_url) as store:
            store.save_sites(demo_sites(), user="demo")
            for path in demo_ledger_paths():
                store.import_file(path, user="demo")
            monitored = len(store.assets(monitored_only=True))
        # demo users: one per role, random passwords, printed below (issue 11)
        demo_users: dict[str, tuple[str, str]] = {}
        if importlib.util.find_spec("dashboards.sample") is not None:
            from dashboards.sample import demo_user_passwords

            demo_users = demo_user_passwords(settings.database_url)

        endpoints = var / "sim" / "endpoints.json"
        endpoints.unlink(missing_ok=True)
        sim_args = ["sim", "run"] + (["--speed", str(speed)] if speed else [])
        parts.append(Part("simulators", _facility(*sim_args), var / "log" / "sim.log"))
        parts.append(Part("collectors", _facility("collect", "run"), var / "log" / "collect.log"))
        parts.append(Part("gateway", _facility("gateway", "run"), var / "log" / "gateway.log"))
        parts.append(Part("alarms", _facility("alarms", "run"), var / "log" / "alarms.log"))
        parts.append(Part("maintenance", _facility("pm", "run"), var / "log" / "pm.log"))
        parts.append(
            Part(
                "reports",
                _facility("report", "run", "--url", "http://127.0.0.1:8050"),
                var / "log" / "reports.log",
            )
        )
        if importlib.util.find_spec("dashboards.app") is not None:
            parts.append(
                Part("dashboard", _facility("dashboard", "run"), var / "log" / "dashboard.log")
            )
        if broker is not None:
            # each part logs in as its own service (the account names are the service ids)
            logins = {
                "collectors": settings.collector.id,
                "gateway": settings.gateway.id,
                "alarms": "alarms-1",
                "maintenance": "scheduler-1",
                "reports": "scheduler-1",
                "dashboard": "dashboard",
            }
            for part in parts:
                if part.name in logins:
                    part.extra = _broker_env(broker, logins[part.name])
        parts[0].start(env)
        deadline = time.monotonic() + 60
        while not endpoints.exists():
            if parts[0].process is not None and parts[0].process.poll() is not None:
                raise CommError(f"the simulators stopped at start-up; see {parts[0].log_path}")
            if time.monotonic() > deadline:
                raise CommError(f"the simulators did not start in 60 s; see {parts[0].log_path}")
            time.sleep(0.2)
        table = json.loads(endpoints.read_text(encoding="utf-8"))
        for part in parts[1:]:
            part.start(env)

        by_site: dict[str, int] = {}
        for entry in table["endpoints"]:
            by_site[entry["site"]] = by_site.get(entry["site"], 0) + 1
        click.echo("")
        click.echo("Facility demo is running (Ctrl-C stops everything):")
        click.echo(
            f"  ledger      {redact_url(settings.database_url)}  ({monitored} monitored assets)"
        )
        click.echo(
            f"  simulators  {len(table['endpoints'])} devices "
            + ", ".join(f"{s} {n}" for s, n in sorted(by_site.items()))
            + f"; endpoint table {endpoints}"
        )
        if table.get("control_url"):
            click.echo(f"  sim control {table['control_url']}")
        click.echo(f"  MQTT        {redact_url(settings.mqtt.url)}  (readings {READINGS_WILDCARD})")
        if broker is not None:
            click.echo(
                f"  MQTT login  closed bus, one account per service; for the CLI: "
                f"source {var / 'mosquitto' / 'cli.env'}"
            )
            click.echo(
                f"  MQTT reader read-only readings login for your own pipeline (docs/telegraf.md): "
                f"{var / 'mosquitto' / 'reader.env'}"
            )
        influx_url = redact_url(settings.influxdb.url)
        click.echo(f"  InfluxDB    {influx_url}  database {settings.influxdb.database}")
        click.echo(
            f"  collectors  metrics http://127.0.0.1:{settings.collector.metrics_port}/metrics"
        )
        click.echo(
            f"  gateway     MQTT → InfluxDB, metrics http://127.0.0.1:"
            f"{settings.gateway.metrics_port}/metrics"
        )
        click.echo(
            "  alarms      facility alarms list   ·   facility login --user operator   ·   "
            "facility alarms ack ID"
        )
        click.echo("  maintenance facility wo list   ·   facility pm plans --asset HT-PMP-001")
        if any(part.name == "dashboard" for part in parts):
            click.echo(
                "  dashboard   http://127.0.0.1:8050/  (live status, alarms, work orders, "
                "history, KPIs)"
            )
        for role, (name, password) in demo_users.items():
            click.echo(f"  user        {role:<11} {name:<11} password {password}")
        click.echo(f"  logs        {var / 'log'}")
        click.echo(
            "Try: facility sim fault HT-PDP-001 dry_run   ·   facility alarms list   ·   "
            "facility history HT-TNK-001 level --since 1h   ·   facility wo list"
        )
        _supervise(parts, env, servers)
    finally:
        # the alarm engine first: a planned stop of the whole system is not an outage of
        # each part it watches (stopped after it, each clean stop raised a system alarm
        # left for the operator to acknowledge at the next start)
        for part in sorted(reversed(parts), key=lambda p: p.name != "alarms"):
            part.stop()
        for server in reversed(servers):
            server.stop()


def _broker_env(broker: MosquittoServer, account: str) -> dict[str, str]:
    """The environment that makes a part log in as ``account`` (URL without the password)."""
    return {
        "FACILITY_MQTT__URL": broker.url_for(account, with_password=False),
        "FACILITY_MQTT__PASSWORD": broker.password_for(account),
    }


def _write_login_env(broker: MosquittoServer, account: str, path: Path) -> None:
    """``export`` lines for ``account``'s login, in a file only its owner reads."""
    lines = [f"export {k}={shlex.quote(v)}" for k, v in _broker_env(broker, account).items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"# the demo broker's {account} login; new on every demo\n")
        out.write("\n".join(lines) + "\n")
    path.chmod(0o600)


def _supervise(
    parts: list[Part], env: dict[str, str], servers: Sequence[InfluxServer | MosquittoServer]
) -> None:
    """Restart a part, or a server the demo started, that dies: as systemd would on a site.
    The servers come back on the same port with the same data (mosquitto with the same
    accounts), so the parts reconnect by themselves."""
    stop = False
    down: dict[str, int] = {}  # a server's failed restarts in a row

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    # SIGINT too: a shell starts a background job (`make demo &`) with SIGINT ignored, and
    # Python then raises no KeyboardInterrupt — `kill -INT` did nothing
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with contextlib.suppress(KeyboardInterrupt):
        while not stop:
            for part in parts:
                if part.process is not None and part.process.poll() is not None:
                    if part.restarts >= 5:
                        continue  # said already; a crash loop is not retried for ever
                    part.restarts += 1
                    click.echo(
                        f"{part.name} exited with {part.process.returncode}; "
                        f"restarting (see {part.log_path})",
                        err=True,
                    )
                    part.start(env)
            for server in servers:
                if not server.running:
                    _revive(server, down)
            time.sleep(1)


def _revive(server: InfluxServer | MosquittoServer, down: dict[str, int]) -> None:
    """Start a stopped server again; said once when it goes and once when it is back."""
    failed = down.get(server.name, 0)
    if failed == 0:
        click.echo(f"{server.name} stopped; restarting it (log {server.log_path})", err=True)
    try:
        server.restart()
    except CommError as exc:
        if failed == 0:
            click.echo(f"{server.name} did not start again, retrying every second: {exc}", err=True)
        down[server.name] = failed + 1
        return
    down.pop(server.name, None)
    click.echo(f"{server.name} is back at {server.display_url}", err=True)
