"""The closed bus on a real mosquitto (issue 11, "A closed bus").

Findings reproduced on the open broker the launcher used to start: one message published
to ``facility/v1/HT/HT-FAP-003`` by anyone reached the gateway and the alarm engine (a
latched critical fire alarm and a critical work order), and one message on the alarm-command
topic shelved a fire alarm. Now the broker itself refuses them: anonymous clients cannot
connect, a collector can publish readings only for its own sites, only the dashboard and the
CLI's command account can publish alarm commands. Each test has a positive control (the
legitimate message, published after the forged one, arrives) so "never received" is not a
matter of waiting long enough. TLS is tested with a CA made by the test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.services import MosquittoServer, TlsFiles
from facility.errors import CommError
from facility.mqtt import BrokerSettings, MqttLink, publish_once
from facility.topics import (
    READINGS_WILDCARD,
    alarm_command_topic,
    alarm_event_topic,
    alarm_reply_prefix,
    alarm_state_topic,
    dead_letter_topic,
    device_topic,
    report_notice_topic,
    resend_report_topic,
    resend_request_topic,
    shared_readings,
    status_topic,
    workorder_topic,
)
from gateway.bus_acl import BusAccount, BusRole, service_accounts
from tests.support import wait_until

SITES = ("HT", "JU", "HY")
ACCOUNTS = [
    BusAccount("collector-HT", BusRole.COLLECTOR, ("HT",)),
    BusAccount("collector-JU", BusRole.COLLECTOR, ("JU",)),
    # gateway-1, alarms-1, scheduler-1, dashboard, facility-cli, telegraf (a reader)
    *service_accounts(SITES, readers=["telegraf"])[1:],
]
FIRE_TOPIC = device_topic("HT", "HT-FAP-003")
FIRE = json.dumps({"v": 1, "asset_no": "HT-FAP-003", "points": {"panel_state": {"v": 1}}})


# -- a CA, a server certificate and a broker with a TLS listener ------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(folder: Path, common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    (folder / f"{common_name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def make_tls_files(folder: Path) -> tuple[TlsFiles, Path]:
    """(the broker's CA/cert/key, a CA that did not sign it) — generated here, never stored."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca(folder, "test-ca")
    _ca(folder, "rogue-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = folder / "server.key"
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files = TlsFiles(folder / "test-ca.pem", folder / "server.pem", key_path)
    return files, folder / "rogue-ca.pem"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[TlsFiles, Path]:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def bus(
    tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[TlsFiles, Path]
) -> Iterator[MosquittoServer]:
    """A closed broker with every service's account and a TLS listener beside the plain one."""
    with MosquittoServer(
        tmp_path_factory.mktemp("closed-bus"), accounts=ACCOUNTS, tls=tls_files[0]
    ) as server:
        yield server


def login(bus: MosquittoServer, account: str | None, *, tls: bool = False) -> BrokerSettings:
    if account is None:
        return BrokerSettings(bus.host, bus.port)
    return BrokerSettings.from_url(bus.url_for(account, tls=tls))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))

    def payloads(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]


@asynccontextmanager
async def link(
    broker: BrokerSettings,
    client_id: str,
    subscriptions: list[str] = (),  # type: ignore[assignment]
    *,
    network_thread: bool = True,
) -> AsyncIterator[tuple[MqttLink, Inbox]]:
    inbox = Inbox()
    mqtt = MqttLink(
        broker,
        client_id,
        subscriptions=[(t, 1) for t in subscriptions],
        on_message=inbox,
        network_thread=network_thread,
    )
    task = asyncio.create_task(mqtt.run())
    try:
        await asyncio.wait_for(mqtt.connected.wait(), 10)
        yield mqtt, inbox
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def subscribed(sender: MqttLink, inbox: Inbox, topic: str) -> None:
    """Publish markers until the subscriber sees one: its subscription is in place."""

    async def probe() -> None:
        while not inbox.payloads(topic):
            await sender.publish(topic, b"marker")
            await asyncio.sleep(0.1)

    await asyncio.wait_for(probe(), 10)


# -- the findings -----------------------------------------------------------------------------


async def test_anonymous_client_cannot_connect(bus: MosquittoServer) -> None:
    anonymous = MqttLink(login(bus, None), "anonymous", backoff_min_s=5)
    task = asyncio.create_task(anonymous.run())
    try:
        await wait_until(lambda: bool(anonymous.stats.last_error), 10)
        assert "Not authorized" in anonymous.stats.last_error
        assert not anonymous.connected.is_set()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(CommError):
        publish_once(
            BrokerSettings(bus.host, bus.port, "collector-HT", "wrong password"), FIRE_TOPIC, b"x"
        )


async def test_forged_fire_message_from_another_sites_collector_never_reaches_the_gateway(
    bus: MosquittoServer,
) -> None:
    gateway_sub = shared_readings("closed-bus-test")
    async with (
        link(login(bus, "gateway-1"), "gateway-1", [gateway_sub, "facility/v1/#"]) as (_, seen),
        link(login(bus, "alarms-1"), "alarms-1", [FIRE_TOPIC]) as (_, engine_seen),
        link(login(bus, "collector-HT"), "collector-HT") as (ht, _),
        link(login(bus, "collector-JU"), "collector-JU") as (ju, _),
    ):
        await subscribed(ht, seen, FIRE_TOPIC)
        await subscribed(ht, engine_seen, FIRE_TOPIC)

        with pytest.raises(CommError, match="Not authorized"):
            await ju.publish(FIRE_TOPIC, FIRE.encode(), retain=True)
        legit = b'{"v": 1, "asset_no": "HT-FAP-003", "after": true}'
        await ht.publish(FIRE_TOPIC, legit)
        await wait_until(lambda: legit in seen.payloads(FIRE_TOPIC), 10)
        await wait_until(lambda: legit in engine_seen.payloads(FIRE_TOPIC), 10)

        assert FIRE.encode() not in seen.payloads(FIRE_TOPIC)
        assert FIRE.encode() not in engine_seen.payloads(FIRE_TOPIC)
        # the JU collector still does its own job
        await ju.publish(device_topic("JU", "JU-FAP-001"), b"ju")
        await wait_until(lambda: b"ju" in seen.payloads(device_topic("JU", "JU-FAP-001")), 10)
        # the gateway's "facility/v1/#" heard readings only, nothing of the command trees
        assert {t.split("/")[2] for t, _ in seen.messages} <= set(SITES)


async def test_forged_shelve_command_never_reaches_the_engine(bus: MosquittoServer) -> None:
    topic = alarm_command_topic("HT")
    forged = json.dumps(
        {"op": "shelve", "alarm_id": "HT-FAP-003/fire", "user": "supervisor", "minutes": 480}
    ).encode()
    async with (
        link(login(bus, "alarms-1"), "alarms-1", [topic]) as (_, engine_seen),
        link(login(bus, "collector-HT"), "collector-HT") as (collector, _),
        link(login(bus, "gateway-1"), "gateway-1") as (gateway, _),
        link(login(bus, "facility-cli"), "facility-cli") as (cli, _),
        link(login(bus, "dashboard"), "dashboard") as (dashboard, _),
    ):
        await subscribed(cli, engine_seen, topic)
        for sender in (collector, gateway):
            with pytest.raises(CommError, match="Not authorized"):
                await sender.publish(topic, forged)
        await dashboard.publish(topic, b'{"from": "dashboard"}')
        await wait_until(lambda: b'{"from": "dashboard"}' in engine_seen.payloads(topic), 10)
        assert forged not in engine_seen.payloads(topic)


async def test_replies_are_private_to_the_account_that_asked(bus: MosquittoServer) -> None:
    mine = f"{alarm_reply_prefix('facility-cli')}/r1"
    async with (
        link(login(bus, "facility-cli"), "facility-cli", [mine]) as (_, cli_seen),
        link(login(bus, "dashboard"), "dashboard", ["facility/v1/ctl/alarm-replies/#"]) as (
            _,
            dashboard_seen,
        ),
        link(login(bus, "alarms-1"), "alarms-1") as (engine, _),
    ):
        await subscribed(engine, cli_seen, mine)
        await engine.publish(mine, b"reply")
        await wait_until(lambda: b"reply" in cli_seen.payloads(mine), 10)
        # the engine cannot be steered to publish anywhere else by a command's reply_to
        with pytest.raises(CommError, match="Not authorized"):
            await engine.publish(FIRE_TOPIC, b'{"ok": true}')
        await engine.publish(f"{alarm_reply_prefix('dashboard')}/r2", b"for the dashboard")
        await wait_until(lambda: bool(dashboard_seen.messages), 10)
        assert dashboard_seen.payloads(mine) == []


# -- every service can still do its job --------------------------------------------------------

# (publisher account, topic, reader account or None when nobody of ours reads it)
JOBS = [
    ("collector-HT", device_topic("HT", "HT-PMP-001"), "gateway-1"),
    ("collector-HT", device_topic("HT", "HT-PMP-001"), "alarms-1"),
    ("collector-HT", device_topic("HT", "HT-PMP-001"), "dashboard"),
    ("collector-HT", resend_report_topic("HT"), "gateway-1"),
    ("collector-HT", "facility/v1/status/collector/collector-HT", "alarms-1"),
    ("gateway-1", resend_request_topic("HT"), "collector-HT"),
    ("gateway-1", status_topic("gateway", "gateway-1"), "dashboard"),
    ("gateway-1", dead_letter_topic("gateway-1"), None),
    ("alarms-1", alarm_state_topic("HT", "HT-FAP-003", "fire"), None),
    ("alarms-1", alarm_event_topic("HT"), None),
    # a silent service's system alarm (refused by the broker before: the engine retried it
    # every 0.5 s for ever)
    ("alarms-1", alarm_state_topic("SYS", "SYS-COL-collector-HT", "service"), None),
    ("alarms-1", alarm_event_topic("SYS"), None),
    ("alarms-1", "facility/v1/status/alarms/alarms-1", "dashboard"),
    ("scheduler-1", workorder_topic("HT"), None),
    ("scheduler-1", report_notice_topic("ALL"), None),
    ("scheduler-1", "facility/v1/status/scheduler/scheduler-1", "alarms-1"),
    ("dashboard", "facility/v1/status/dashboard/dashboard", "alarms-1"),
    ("facility-cli", alarm_command_topic("JU"), "alarms-1"),
    # acknowledging a service's system alarm (refused by the broker before: nobody could)
    ("dashboard", alarm_command_topic("SYS"), "alarms-1"),
    ("facility-cli", alarm_command_topic("SYS"), "alarms-1"),
]


@pytest.mark.parametrize(("publisher", "topic", "reader"), JOBS)
async def test_each_service_account_can_do_its_job(
    bus: MosquittoServer, publisher: str, topic: str, reader: str | None
) -> None:
    async with (
        link(login(bus, reader or "facility-test"), f"{reader}-r", [topic]) as (_, inbox),
        link(login(bus, publisher), f"{publisher}-p") as (sender, _),
    ):
        await subscribed(sender, inbox, topic)  # publishes, and is read


async def test_the_readings_wildcard_hears_readings_only(bus: MosquittoServer) -> None:
    """Every service publishes on every topic of its job; a consumer of ``facility/v1/+/+``
    with full read rights (a Telegraf, a user's pipeline) receives the readings and nothing
    else — before, it got alarm commands, alarm events, work orders and dead letters too."""
    async with (
        link(login(bus, "facility-test"), "wildcard", [READINGS_WILDCARD]) as (_, heard),
        link(login(bus, "facility-test"), "everything", ["facility/v1/#"]) as (_, everything),
        link(login(bus, "collector-HT"), "collector-HT-p") as (collector, _),
    ):
        await subscribed(collector, heard, device_topic("HT", "HT-PMP-001"))
        await subscribed(collector, everything, device_topic("HT", "HT-PMP-001"))
        for publisher in sorted({p for p, _, _ in JOBS}):
            async with link(login(bus, publisher), f"{publisher}-all") as (sender, _):
                for topic in [t for p, t, _ in JOBS if p == publisher]:
                    await sender.publish(topic, b"job")
        last = b'{"last": true}'
        await collector.publish(device_topic("HT", "HT-PMP-001"), last)
        # each publish was acknowledged before the next, and mosquitto delivers to one
        # subscriber in the order it accepted: "last" comes after every job
        await wait_until(lambda: last in everything.payloads(device_topic("HT", "HT-PMP-001")), 10)
        await wait_until(lambda: last in heard.payloads(device_topic("HT", "HT-PMP-001")), 10)
        assert {t for t, p in everything.messages if p == b"job"} == {t for _, t, _ in JOBS}
    assert {t for t, _ in heard.messages} == {device_topic("HT", "HT-PMP-001")}


async def test_a_reader_account_reads_readings_and_publishes_nothing(bus: MosquittoServer) -> None:
    """The account docs/telegraf.md gives a user's Telegraf: ``facility/v1/+/+`` works, and
    it can neither put a reading on the bus nor hear a command."""
    reading = device_topic("JU", "JU-TNK-001")
    async with (
        link(login(bus, "telegraf"), "telegraf", [READINGS_WILDCARD, "facility/v1/#"]) as (
            telegraf,
            heard,
        ),
        link(login(bus, "collector-JU"), "collector-JU-p") as (collector, _),
        link(login(bus, "facility-cli"), "facility-cli-p") as (cli, _),
    ):
        await subscribed(collector, heard, reading)
        with pytest.raises(CommError, match="Not authorized"):
            await telegraf.publish(FIRE_TOPIC, FIRE.encode())
        await cli.publish(alarm_command_topic("JU"), b"command")
        last = b'{"last": true}'
        await collector.publish(reading, last)
        await wait_until(lambda: last in heard.payloads(reading), 10)
    assert {t for t, _ in heard.messages} == {reading}


# -- TLS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("network_thread", [True, False], ids=["thread", "loop"])
async def test_mqtts_with_the_test_ca_works(
    bus: MosquittoServer, tls_files: tuple[TlsFiles, Path], network_thread: bool
) -> None:
    broker = BrokerSettings.from_url(
        bus.url_for("collector-HT", tls=True), ca_file=str(tls_files[0].cafile)
    )
    assert broker.tls
    assert broker.port == bus.tls_port
    topic = device_topic("HT", "HT-TNK-001")
    async with (
        link(login(bus, "gateway-1"), "gateway-1", [topic]) as (_, seen),
        link(broker, "collector-HT", network_thread=network_thread) as (collector, _),
    ):
        await subscribed(collector, seen, topic)
        # a burst over TLS: every one acknowledged (on the loop: read past TLS buffering)
        burst = [collector.publish(topic, b"y" * 2000) for _ in range(500)]
        await asyncio.wait_for(asyncio.gather(*burst), 20)
        # the ACL holds on the TLS listener as well
        with pytest.raises(CommError, match="Not authorized"):
            await collector.publish(device_topic("JU", "JU-TNK-001"), b"x")
    publish_once(broker, topic, b"once over TLS")


async def test_a_client_that_does_not_trust_the_ca_is_refused_clearly(
    bus: MosquittoServer, tls_files: tuple[TlsFiles, Path]
) -> None:
    rogue = BrokerSettings.from_url(
        bus.url_for("collector-HT", tls=True), ca_file=str(tls_files[1])
    )
    untrusting = MqttLink(rogue, "untrusting", backoff_min_s=5)
    task = asyncio.create_task(untrusting.run())
    try:
        await wait_until(lambda: bool(untrusting.stats.last_error), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not untrusting.connected.is_set()
    error = untrusting.stats.last_error
    assert "certificate is not trusted" in error
    assert str(tls_files[1]) in error
    with pytest.raises(CommError, match="certificate is not trusted"):
        publish_once(rogue, device_topic("HT", "HT-TNK-001"), b"x")


# -- the launcher's files --------------------------------------------------------------------


def test_password_and_acl_files_are_private_and_hold_no_clear_password(
    bus: MosquittoServer,
) -> None:
    for path in (bus.password_file, bus.acl_path, bus.config_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    stored = bus.password_file.read_text() + bus.acl_path.read_text()
    for account in ACCOUNTS:
        assert bus.password_for(account.name) not in stored
    assert "facility-test:***@" in bus.display_url
    assert bus.password_for("facility-test") not in repr(login(bus, "facility-test"))
