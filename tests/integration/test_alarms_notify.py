"""Notifications to real servers on loopback: an aiosmtpd SMTP server, a plain HTTP server
speaking like the WeCom / DingTalk robots and a generic webhook, and mosquitto. Failures are
retried with backoff and journaled; escalation when nobody acknowledges."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from device_profiles import load_library
from devtools.services import MosquittoServer
from facility.channels import SmtpSettings
from facility.mqtt import BrokerSettings, MqttLink
from gateway.alarms.alarmfile import parse_alarm_file
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.notify import Notifier
from gateway.alarms.state import AlarmState, AlarmStatus, EventKind
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from tests.support import wait_until

ASSETS = [a for p in demo_ledger_paths() for a in read_ledger_file(p)]
SPECS = compile_alarms(ASSETS, load_library()).specs
DRY = SPECS["HT-PDP-001/dry_run"]


# -- real servers -----------------------------------------------------------------------------


class MailHandler:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append(message)
        return "250 OK"


@dataclass
class MailServer:
    handler: MailHandler
    host: str
    port: int


@pytest.fixture
async def smtp_server() -> AsyncIterator[MailServer]:
    """A real aiosmtpd SMTP server on a free loopback port, in the test's event loop."""
    handler = MailHandler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mail.test", loop=loop), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    yield MailServer(handler, "127.0.0.1", port)
    server.close()
    await server.wait_closed()


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class HookServer:
    """A minimal real HTTP/1.1 server: records POSTs, answers with queued statuses."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # next answers; then 200
    robot_reply: dict[str, Any] = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            parts = urllib.parse.urlsplit(target)
            status = self.statuses.pop(0) if self.statuses else 200
            if method == "POST" and status == 200:
                self.requests.append(
                    Request(parts.path, urllib.parse.parse_qs(parts.query), json.loads(body))
                )
            reply = json.dumps(self.robot_reply).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(reply)}\r\nConnection: close\r\n\r\n".encode()
                + reply
            )
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def hook_server() -> AsyncIterator[HookServer]:
    hook = HookServer()
    server = await asyncio.start_server(hook.handle, "127.0.0.1", 0)
    hook.port = server.sockets[0].getsockname()[1]
    yield hook
    server.close()
    await server.wait_closed()


# -- helpers ----------------------------------------------------------------------------------


def raised(spec: Any = DRY, at: datetime | None = None) -> AlarmRecord:
    return AlarmRecord(
        at=at or datetime.now(UTC),
        alarm_id=spec.alarm_id,
        site=spec.site,
        asset_no=spec.asset_no,
        alarm=spec.name,
        kind=EventKind.RAISE,
        from_state=AlarmState.NORMAL,
        to_state=AlarmState.UNACK,
        priority=spec.priority.value,
        value=True,
        annunciate=True,
        id=41,
    )


def notifications(text: str) -> Any:
    return parse_alarm_file(text, "alarms.yaml").content.notifications


@pytest.fixture
def journal() -> list[AlarmRecord]:
    return []


async def running(notifier: Notifier) -> asyncio.Task[None]:
    return asyncio.create_task(notifier.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# -- tests ------------------------------------------------------------------------------------


async def test_email_wecom_dingtalk_generic_and_mqtt(
    smtp_server: MailServer,
    hook_server: HookServer,
    mosquitto: MosquittoServer,
    journal: list[AlarmRecord],
) -> None:
    config = notifications(
        f"""
notifications:
  channels:
    - {{name: centre_mail, type: email, to: [centre@example.com, duty@example.com]}}
    - {{name: wecom, type: wecom, url: "{hook_server.url("/cgi-bin/webhook/send?key=K1")}"}}
    - {{name: ding, type: dingtalk, url_env: DING_URL, secret_env: DING_SECRET}}
    - {{name: hook, type: webhook, url: "{hook_server.url("/alarms")}"}}
    - {{name: bus, type: mqtt, topic: facility/v1/notifications/centre}}
  rules:
    - name: urgent
      sites: [HT]
      priorities: [critical, high]
      channels: [centre_mail, wecom, ding, hook, bus]
"""
    )
    broker = BrokerSettings.from_url(mosquitto.url)
    received: list[bytes] = []
    link = MqttLink(
        broker,
        "test-notify-bus",
        subscriptions=[("facility/v1/notifications/#", 1)],
        on_message=lambda _t, payload: received.append(payload),
    )
    link_task = asyncio.create_task(link.run())
    await wait_until(link.connected.is_set, 10)
    notifier = Notifier(
        config,
        SPECS,
        smtp=SmtpSettings(smtp_server.host, smtp_server.port, "alarms@estate.test"),
        link=link,
        journal=journal.extend,
        environ={
            "DING_URL": hook_server.url("/robot/send?access_token=T"),
            "DING_SECRET": "SEC",
        },
    )
    task = await running(notifier)
    try:
        notifier.submit([raised()])
        await wait_until(lambda: len(journal) == 5, 15)
    finally:
        await stop(task)
        link_task.cancel()
        await asyncio.gather(link_task, return_exceptions=True)

    (mail,) = smtp_server.handler.messages
    assert smtp_server.handler.envelopes[0].rcpt_tos == ["centre@example.com", "duty@example.com"]
    assert mail["Subject"].startswith("【高】HT-PDP-001 排水泵干转跳闸 — 报警")
    body = mail.get_content()
    assert "处置：检查集水坑及过滤网，现场复位" in body
    assert "Action: Check the sump and strainer, reset the trip on site" in body

    by_path = {r.path: r for r in hook_server.requests}
    wecom = by_path["/cgi-bin/webhook/send"]
    assert wecom.query == {"key": ["K1"]}
    assert wecom.body["msgtype"] == "markdown"
    assert "排水泵干转跳闸" in wecom.body["markdown"]["content"]
    ding = by_path["/robot/send"]
    timestamp = ding.query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(b"SEC", f"{timestamp}\nSEC".encode(), hashlib.sha256).digest()
    ).decode()
    assert ding.query["sign"] == [expected]
    assert ding.body["markdown"]["title"].startswith("【高】HT-PDP-001")
    generic = by_path["/alarms"]
    assert generic.body["event"]["alarm_id"] == "HT-PDP-001/dry_run"
    assert generic.body["alarm"]["priority"] == "high"

    (bus,) = received
    assert json.loads(bus)["event"]["event"] == "raise"

    assert {r.kind for r in journal} == {EventKind.NOTIFIED}
    assert sorted(r.detail["channel"] for r in journal) == [
        "bus",
        "centre_mail",
        "ding",
        "hook",
        "wecom",
    ]
    assert {r.detail["event_id"] for r in journal} == {41}


async def test_failures_are_retried_with_backoff_then_given_up_visibly(
    hook_server: HookServer, journal: list[AlarmRecord]
) -> None:
    config = notifications(
        f"""
notifications:
  retry_max: 3
  retry_base_s: 0.05
  channels:
    - {{name: flaky, type: webhook, url: "{hook_server.url("/flaky")}"}}
    - {{name: wrong, type: webhook, url: "{hook_server.url("/wrong")}"}}
  rules:
    - {{name: r1, channels: [flaky]}}
"""
    )
    notifier = Notifier(config, SPECS, journal=journal.extend)
    task = await running(notifier)
    try:
        hook_server.statuses = [500, 503]  # two failures, then 200
        notifier.submit([raised()])
        await wait_until(lambda: len(journal) == 1, 10)
        stats = notifier.stats["flaky"]
        assert (stats.sent, stats.retries, stats.given_up) == (1, 2, 0)
        assert stats.failing_since is None  # recovered
        assert journal[0].kind is EventKind.NOTIFIED
        assert journal[0].detail["attempts"] == 3

        hook_server.statuses = [502] * 10  # down for longer than the retries last
        notifier.submit([raised()])
        await wait_until(lambda: len(journal) == 2, 10)
        assert journal[1].kind is EventKind.NOTIFY_FAILED
        assert journal[1].detail["attempts"] == 4
        assert "HTTP 502" in journal[1].detail["error"]
        assert notifier.stats["flaky"].given_up == 1
        assert notifier.stats["flaky"].failing_since is not None  # still failing: visible
    finally:
        await stop(task)


async def test_a_refused_request_is_not_retried(
    hook_server: HookServer, journal: list[AlarmRecord]
) -> None:
    config = notifications(
        f"""
notifications:
  retry_base_s: 0.05
  channels: [{{name: w, type: wecom, url: "{hook_server.url("/x")}"}}]
  rules: [{{name: r, channels: [w]}}]
"""
    )
    notifier = Notifier(config, SPECS, journal=journal.extend)
    task = await running(notifier)
    try:
        hook_server.statuses = [404]
        notifier.submit([raised()])
        await wait_until(lambda: len(journal) == 1, 10)
        assert journal[0].kind is EventKind.NOTIFY_FAILED
        assert notifier.stats["w"].retries == 0
        # a robot that answers 200 with a non-zero errcode (rate limit) is retried
        hook_server.robot_reply = {"errcode": 45009, "errmsg": "api freq out of limit"}
        notifier.submit([raised()])
        await wait_until(lambda: notifier.stats["w"].retries >= 1, 10)
        hook_server.robot_reply = {"errcode": 0, "errmsg": "ok"}
        await wait_until(lambda: len(journal) == 2, 10)
        assert journal[1].kind is EventKind.NOTIFIED
    finally:
        await stop(task)


async def test_escalation_when_nobody_acknowledges(
    hook_server: HookServer, journal: list[AlarmRecord]
) -> None:
    config = notifications(
        f"""
notifications:
  channels:
    - {{name: duty, type: webhook, url: "{hook_server.url("/duty")}"}}
    - {{name: manager, type: webhook, url: "{hook_server.url("/manager")}"}}
  rules:
    - {{name: r, channels: [duty], ack_deadline_min: 0.01, escalate_to: [manager]}}
"""
    )
    record = raised()
    statuses = {DRY.alarm_id: AlarmStatus(AlarmState.UNACK, since=record.at, active=True)}
    notifier = Notifier(config, SPECS, journal=journal.extend, state_of=statuses.get)
    task = await running(notifier)
    try:
        notifier.submit([record])
        await wait_until(lambda: any(r.path == "/manager" for r in hook_server.requests), 10)
    finally:
        await stop(task)
    escalation = next(r for r in hook_server.requests if r.path == "/manager")
    assert escalation.body["type"] == "escalation"
    assert "not acknowledged in time" in escalation.body["title"]
    assert EventKind.ESCALATED in {r.kind for r in journal}
