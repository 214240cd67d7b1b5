"""Notifications: who is told about which alarm, how, and what happens when nobody answers.

Rules and channels come from alarms.yaml (``notifications:``). A rule selects alarms by
site, asset, class, priority and alarm name, and applies in a local time window and on
weekdays; it names channels, the events it is about (raise, realarm, clear, ack, flood,
incident) and optionally an acknowledge deadline with channels to escalate to.

Channels: e-mail over SMTP (``[alarms] smtp_url``; stdlib ``smtplib`` in a worker thread),
HTTP webhooks in the JSON shapes the WeCom (企业微信) and DingTalk (钉钉, optionally signed)
group robots accept or a generic JSON document, and MQTT.

Floods and incidents: during an alarm flood at a site, low- and medium-priority alarms are
not sent one by one — one flood notice is; alarms that join an announced incident (a mains
failure stopping many devices) are covered by the incident notice with its first-out.
Critical alarms are always sent on their own.

This module is the shell; the pure rules and texts are ``gateway.alarms.notify_text``, the
channels ``facility.channels``, the retry delay ``facility.backoff``.

Sending never blocks alarm evaluation: ``submit()`` only queues. Each channel sends in order
from its own queue (bounded; the oldest is dropped and counted when it overflows); a failed
send is retried with exponential backoff and jitter up to ``retry_max`` times; the failure is
logged once when a channel starts failing and once when it recovers, counted in ``stats``,
published (retained) on ``facility/v1/status/alarm-notifier/<channel>`` when an MQTT link is
given, and journaled (``notify_failed``) when a notice is given up. Every notice sent is
journaled too (``notified``, with the channel), so the journal says who was told, when.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from facility.backoff import backoff_s
from facility.channels import (
    SmtpSettings as SmtpSettings,  # re-exported: gateway/alarms/service.py imports it from here
)
from facility.channels import (
    dingtalk_payload,
    dingtalk_signed_url,
    post_json,
    send_email,
    wecom_payload,
)
from facility.deadline import within
from facility.errors import ConfigError, FacilityError
from facility.mqtt import MqttLink
from facility.topics import notifier_status_topic
from facility.types import Priority
from gateway.alarms.alarmfile import Channel, ChannelType, Notifications, NotifyEvent
from gateway.alarms.definitions import AlarmSpec
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.notify_text import (
    Purpose,
    generic_payload,
    local_time,
    notify_event,
    render,
    rule_matches,
)
from gateway.alarms.state import AlarmState, AlarmStatus, EventKind

log = logging.getLogger(__name__)

QUEUE_MAX = 1000
# priorities still sent one by one during a flood or inside an incident
ALWAYS_SENT = frozenset({Priority.CRITICAL.value})
FLOOD_HELD = frozenset({Priority.MEDIUM.value, Priority.LOW.value})

# -- the shell --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    channel: str
    purpose: Purpose
    rule: str
    record: AlarmRecord


@dataclass
class ChannelStats:
    sent: int = 0
    given_up: int = 0
    retries: int = 0
    dropped: int = 0
    failing_since: datetime | None = None
    last_error: str = ""


@dataclass
class _Queue:
    items: deque[Notice] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Notifier:
    """Sends notices by the rules; never blocks the caller (see the module docstring)."""

    def __init__(
        self,
        config: Notifications,
        specs: Mapping[str, AlarmSpec],
        *,
        timezone: str = "Asia/Shanghai",
        smtp: SmtpSettings | None = None,
        link: MqttLink | None = None,
        state_of: Callable[[str], AlarmStatus | None] | None = None,
        journal: Callable[[list[AlarmRecord]], None] | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        queue_max: int = QUEUE_MAX,
        seed: int | None = None,
    ) -> None:
        self.config = config
        self.specs = specs
        self.timezone = timezone
        self.smtp = smtp
        self.link = link
        self.state_of = state_of
        self.journal = journal
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock
        self.queue_max = queue_max
        self.stats: dict[str, ChannelStats] = {c.name: ChannelStats() for c in config.channels}
        self._queues: dict[str, _Queue] = {}
        self._escalations: list[tuple[datetime, int, str, str, datetime]] = []
        self._escalation_ready: asyncio.Event | None = None
        self._announced: set[str] = set()
        self._seq = 0
        self._rng = random.Random(seed)
        self._check_channels()

    def _check_channels(self) -> None:
        for channel in self.config.channels:
            if channel.type is ChannelType.EMAIL and self.smtp is None:
                raise ConfigError(
                    f"notification channel {channel.name!r} sends e-mail but [alarms] smtp_url is "
                    "not set (e.g. smtp://mail.example.net:25)"
                )
            if channel.url_env and channel.url_env not in self.environ:
                raise ConfigError(
                    f"notification channel {channel.name!r}: environment variable "
                    f"${channel.url_env} (its URL) is not set"
                )
            if channel.secret_env and channel.secret_env not in self.environ:
                raise ConfigError(
                    f"notification channel {channel.name!r}: environment variable "
                    f"${channel.secret_env} (its signing secret) is not set"
                )

    # -- planning (sync, cheap) ---------------------------------------------------------------

    def submit(self, records: Sequence[AlarmRecord]) -> None:
        """Queue the notices these journal entries call for (call on the event loop)."""
        if not self.config.rules:
            return
        for record in records:
            if record.kind is EventKind.INCIDENT:
                self._announced.add(str(record.detail.get("incident")))
        for record in records:
            event = notify_event(record)
            if event is None or self._held(record, event):
                continue
            purpose: Purpose = (
                "flood" if event == "flood" else "incident" if event == "incident" else "alarm"
            )
            spec = self.specs.get(record.alarm_id) if purpose != "flood" else None
            local = local_time(record.at, self.timezone)
            for rule in self.config.rules:
                if not rule_matches(rule, event, record, spec, local):
                    continue
                for channel in rule.channels:
                    self._enqueue(Notice(channel, purpose, rule.name, record))
                if rule.ack_deadline_min is not None and event in ("raise", "realarm"):
                    due = record.at + timedelta(minutes=rule.ack_deadline_min)
                    self._seq += 1
                    heapq.heappush(
                        self._escalations, (due, self._seq, record.alarm_id, rule.name, record.at)
                    )
                    if self._escalation_ready is not None:
                        self._escalation_ready.set()

    def _held(self, record: AlarmRecord, event: NotifyEvent) -> bool:
        """Covered by a flood or incident notice instead (never critical alarms)."""
        if event not in ("raise", "realarm") or record.priority in ALWAYS_SENT:
            return False
        if record.detail.get("flood") and record.priority in FLOOD_HELD:
            return True
        incident = record.detail.get("incident")
        first_out = record.detail.get("first_out")
        return incident in self._announced and first_out != record.alarm_id

    def _enqueue(self, notice: Notice) -> None:
        queue = self._queues.setdefault(notice.channel, _Queue())
        if len(queue.items) >= self.queue_max:
            queue.items.popleft()
            self.stats[notice.channel].dropped += 1
            log.warning("notify channel=%s queue full: oldest notice dropped", notice.channel)
        queue.items.append(notice)
        queue.ready.set()

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Send until cancelled."""
        self._escalation_ready = asyncio.Event()
        for channel in self.config.channels:
            self._queues.setdefault(channel.name, _Queue())
        tasks = [
            asyncio.create_task(
                self._sender(self.config.channel(name), queue), name=f"notify-{name}"
            )
            for name, queue in self._queues.items()
        ]
        tasks.append(asyncio.create_task(self._escalator(), name="notify-escalations"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def pending(self) -> int:
        """Notices waiting to be sent (all channels)."""
        return sum(len(q.items) for q in self._queues.values())

    def queued(self) -> list[Notice]:
        """The notices waiting, channel by channel (for the console and tests)."""
        return [n for q in self._queues.values() for n in q.items]

    async def _sender(self, channel: Channel, queue: _Queue) -> None:
        while True:
            while not queue.items:
                queue.ready.clear()
                await queue.ready.wait()
            notice = queue.items[0]
            await self._deliver(channel, notice)
            if queue.items and queue.items[0] is notice:
                queue.items.popleft()

    async def _deliver(self, channel: Channel, notice: Notice) -> None:
        stats = self.stats[channel.name]
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._send(channel, notice)
            except FacilityError as exc:
                stats.last_error = str(exc)
                if stats.failing_since is None:
                    stats.failing_since = self.clock()
                    log.warning("notify channel=%s failing: %s", channel.name, exc)
                    self._publish_status(channel.name, False, str(exc))
                retry = not isinstance(exc, ConfigError) and attempt <= self.config.retry_max
                if not retry:
                    stats.given_up += 1
                    log.error(
                        "notify channel=%s gave up alarm_id=%s after %d attempts: %s",
                        channel.name,
                        notice.record.alarm_id,
                        attempt,
                        exc,
                    )
                    self._journal(notice, EventKind.NOTIFY_FAILED, attempt, str(exc))
                    return
                stats.retries += 1
                await asyncio.sleep(
                    backoff_s(attempt, self.config.retry_base_s, self.config.retry_cap_s, self._rng)
                )
                continue
            stats.sent += 1
            if stats.failing_since is not None:
                log.info("notify channel=%s recovered", channel.name)
                stats.failing_since = None
                self._publish_status(channel.name, True, "")
            self._journal(notice, EventKind.NOTIFIED, attempt, "")
            return

    async def _send(self, channel: Channel, notice: Notice) -> None:
        record = notice.record
        spec = self.specs.get(record.alarm_id)
        language = channel.language
        message = render(record, spec, notice.purpose, self.timezone, language)
        timeout = self.config.timeout_s
        if channel.type is ChannelType.EMAIL:
            assert self.smtp is not None
            await asyncio.to_thread(
                send_email, self.smtp, channel.to, message.title, message.text, timeout
            )
            return
        if channel.type is ChannelType.MQTT:
            if self.link is None or channel.topic is None:
                raise ConfigError(f"channel {channel.name!r}: no MQTT link to publish on")
            body = generic_payload(record, spec, notice.purpose, message)
            future = self.link.publish(channel.topic, json.dumps(body, ensure_ascii=False).encode())
            await within(future, timeout)
            return
        url = channel.url or self.environ[channel.url_env or ""]
        if channel.type is ChannelType.WECOM:
            payload = wecom_payload(message, channel.mention_all)
        elif channel.type is ChannelType.DINGTALK:
            payload = dingtalk_payload(message, channel.mention_all)
            if channel.secret_env:
                url = dingtalk_signed_url(
                    url, self.environ[channel.secret_env], int(time.time() * 1000)
                )
        else:
            payload = generic_payload(record, spec, notice.purpose, message)
        robot = channel.type in (ChannelType.WECOM, ChannelType.DINGTALK)
        await asyncio.to_thread(post_json, url, payload, timeout, robot)

    async def _escalator(self) -> None:
        assert self._escalation_ready is not None
        while True:
            if not self._escalations:
                self._escalation_ready.clear()
                await self._escalation_ready.wait()
                continue
            due = self._escalations[0][0]
            wait = (due - self.clock()).total_seconds()
            if wait > 0:
                self._escalation_ready.clear()
                with contextlib.suppress(TimeoutError):
                    await within(self._escalation_ready.wait(), min(wait, 60.0))
                continue
            _, _, alarm_id, rule_name, raised_at = heapq.heappop(self._escalations)
            self.escalate(alarm_id, rule_name, raised_at)

    def escalate(self, alarm_id: str, rule_name: str, raised_at: datetime) -> bool:
        """If the alarm raised at ``raised_at`` is still unacknowledged, tell the rule's
        escalation channels (and journal it). Returns whether it escalated."""
        status = self.state_of(alarm_id) if self.state_of else None
        if status is None or status.state is not AlarmState.UNACK or status.since != raised_at:
            return False
        rule = next(r for r in self.config.rules if r.name == rule_name)
        spec = self.specs.get(alarm_id)
        now = self.clock()
        record = AlarmRecord(
            at=now,
            alarm_id=alarm_id,
            site=spec.site if spec else alarm_id.split("-")[0],
            asset_no=spec.asset_no if spec else None,
            alarm=spec.name if spec else alarm_id,
            kind=EventKind.ESCALATED,
            from_state=status.state,
            to_state=status.state,
            priority=spec.priority.value if spec else None,
            value=status.value,
            comment=f"not acknowledged within {rule.ack_deadline_min:g} min",
            detail={"rule": rule.name, "channels": list(rule.escalate_to)},
        )
        log.warning(
            "alarm_id=%s not acknowledged within %g min: escalating to %s",
            alarm_id,
            rule.ack_deadline_min,
            ", ".join(rule.escalate_to),
        )
        if self.journal is not None:
            self.journal([record])
        for channel in rule.escalate_to:
            self._enqueue(Notice(channel, "escalation", rule.name, record))
        return True

    def _journal(self, notice: Notice, kind: EventKind, attempts: int, error: str) -> None:
        if self.journal is None:
            return
        record = notice.record
        detail: dict[str, Any] = {
            "channel": notice.channel,
            "rule": notice.rule,
            "purpose": notice.purpose,
            "attempts": attempts,
            "event": record.kind.value,
        }
        if record.id is not None:
            detail["event_id"] = record.id
        if error:
            detail["error"] = error[:500]
        self.journal(
            [
                AlarmRecord(
                    at=self.clock(),
                    alarm_id=record.alarm_id,
                    site=record.site,
                    asset_no=record.asset_no,
                    alarm=record.alarm,
                    kind=kind,
                    priority=record.priority,
                    comment=notice.channel,
                    detail=detail,
                )
            ]
        )

    def _publish_status(self, channel: str, ok: bool, error: str) -> None:
        if self.link is None or not self.link.connected.is_set():
            return
        body = {"channel": channel, "ok": ok, "error": error, "at": self.clock().isoformat()}
        future = self.link.publish(
            notifier_status_topic(channel), json.dumps(body).encode(), retain=True
        )
        future.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
