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
import base64
import contextlib
import hashlib
import heapq
import hmac
import json
import logging
import os
import random
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from device_profiles.models import Priority
from facility.errors import CommError, ConfigError, FacilityError, ProtocolError
from facility.limits import HTTP_JSON_MAX_BYTES, HTTP_JSON_MAX_DEPTH, JsonLimitError, load_json
from facility.mqtt import MqttLink
from gateway.alarms.alarmfile import (
    Channel,
    ChannelType,
    Notifications,
    NotifyEvent,
    NotifyRule,
    parse_hhmm,
)
from gateway.alarms.definitions import AlarmSpec
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import AlarmState, AlarmStatus, EventKind

log = logging.getLogger(__name__)

Purpose = Literal["alarm", "escalation", "flood", "incident"]
STATUS_TOPIC = "facility/v1/status/alarm-notifier"
QUEUE_MAX = 1000
# priorities still sent one by one during a flood or inside an incident
ALWAYS_SENT = frozenset({Priority.CRITICAL.value})
FLOOD_HELD = frozenset({Priority.MEDIUM.value, Priority.LOW.value})

_EVENT_OF: dict[EventKind, NotifyEvent] = {
    EventKind.RAISE: "raise",
    EventKind.REALARM: "realarm",
    EventKind.CLEAR: "clear",
    EventKind.ACK: "ack",
    EventKind.FLOOD_START: "flood",
    EventKind.INCIDENT: "incident",
    # leaving shelved / suppressed / out of service into an active alarm: a new annunciation
    EventKind.UNSHELVE: "raise",
    EventKind.SHELVE_EXPIRED: "raise",
    EventKind.UNSUPPRESS: "raise",
    EventKind.RETURN_TO_SERVICE: "raise",
}

_WORDS: dict[str, tuple[str, str]] = {
    "raise": ("报警", "raised"),
    "realarm": ("再次报警", "re-alarm"),
    "clear": ("恢复正常", "returned to normal"),
    "ack": ("已确认", "acknowledged"),
    "flood": ("报警泛滥", "alarm flood"),
    "incident": ("关联事件", "incident"),
    "escalation": ("超时未确认，升级通知", "not acknowledged in time — escalated"),
}
_PRIORITY_ZH = {"critical": "紧急", "high": "高", "medium": "中", "low": "低"}


# -- pure: which rules, what text ---------------------------------------------------------------


def notify_event(record: AlarmRecord) -> NotifyEvent | None:
    """The notification event a journal entry is, if any."""
    event = _EVENT_OF.get(record.kind)
    if event == "raise" and not record.annunciate:
        return None  # e.g. unshelve of an alarm that is normal
    return event


def in_window(rule: NotifyRule, local: datetime) -> bool:
    """The rule's weekdays and hours (local time; a window may wrap midnight)."""
    if rule.weekdays and local.isoweekday() not in rule.weekdays:
        return False
    if rule.hours is None:
        return True
    start, end = parse_hhmm(rule.hours[0]), parse_hhmm(rule.hours[1])
    minute = local.hour * 60 + local.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def rule_matches(
    rule: NotifyRule,
    event: NotifyEvent,
    record: AlarmRecord,
    spec: AlarmSpec | None,
    local: datetime,
) -> bool:
    """Does ``rule`` want to hear about this entry now? (Flood notices have no alarm.)"""
    if event not in rule.events:
        return False
    if rule.sites and record.site not in rule.sites:
        return False
    if spec is not None:
        if not rule.selects(spec.asset_no, spec.site, spec.device_class):
            return False
        if rule.priorities and spec.priority not in rule.priorities:
            return False
        if rule.alarms and spec.name not in rule.alarms:
            return False
    elif rule.assets or rule.classes or rule.alarms:
        return False  # a site-wide notice (flood) only goes to rules about whole sites
    return in_window(rule, local)


def local_time(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


@dataclass(frozen=True)
class Message:
    """The rendered text of one notice."""

    title: str
    markdown: str
    text: str


def render(
    record: AlarmRecord,
    spec: AlarmSpec | None,
    purpose: Purpose,
    timezone: str,
    language: str = "both",
) -> Message:
    """Title and body (Markdown and plain) in Chinese, English or both."""
    word = "escalation" if purpose == "escalation" else (notify_event(record) or "raise")
    zh_word, en_word = _WORDS[word]
    when = local_time(record.at, timezone).strftime("%Y-%m-%d %H:%M:%S")
    priority = record.priority or ""
    zh_lines: list[str] = []
    en_lines: list[str] = []
    if purpose == "flood":
        count = record.detail.get("count", "?")
        window_min = float(record.detail.get("window_s", 600)) / 60
        zh_title = f"【{record.site}】{zh_word}：{window_min:g} 分钟内 {count} 条报警"
        en_title = f"[{record.site}] {en_word}: {count} alarms in {window_min:g} min"
        zh_lines.append("中低优先级报警暂停逐条通知，请查看报警台。")
        en_lines.append("Low and medium alarms are not sent one by one; see the alarm console.")
    else:
        label_zh = spec.label.zh if spec else record.alarm
        label_en = spec.label.en if spec else record.alarm
        zh_title = (
            f"【{_PRIORITY_ZH.get(priority, priority)}】{record.asset_no} {label_zh} — {zh_word}"
        )
        en_title = f"[{priority.upper()}] {record.asset_no} {label_en} — {en_word}"
        if purpose == "incident":
            members = record.detail.get("members", [])
            zh_lines.append(f"首发报警：{record.alarm_id}，共 {len(members)} 条关联报警")
            en_lines.append(f"First-out: {record.alarm_id}; {len(members)} alarms in it")
        if record.value is not None and purpose != "incident":
            zh_lines.append(f"数值：{_value_text(record.value)}")
            en_lines.append(f"Value: {_value_text(record.value)}")
        text = spec.text if spec else None
        if text is not None:
            zh_lines += [
                f"原因：{text.cause.zh}",
                f"后果：{text.consequence.zh}",
                f"处置：{text.action.zh}",
            ]
            en_lines += [
                f"Cause: {text.cause.en}",
                f"Consequence: {text.consequence.en}",
                f"Action: {text.action.en}",
            ]
        if record.user:
            zh_lines.append(f"操作人：{record.user} {record.comment}".rstrip())
            en_lines.append(f"By: {record.user} {record.comment}".rstrip())
    zh_lines.append(f"时间：{when}")
    en_lines.append(f"Time: {when} ({timezone})")
    if purpose != "flood":
        zh_lines.append(f"报警编号：{record.alarm_id}")
        en_lines.append(f"Alarm: {record.alarm_id}")
    parts: list[tuple[str, list[str]]] = []
    if language in ("zh", "both"):
        parts.append((zh_title, zh_lines))
    if language in ("en", "both"):
        parts.append((en_title, en_lines))
    title = " / ".join(t for t, _ in parts)
    markdown = "\n\n".join(
        f"**{t}**\n\n" + "\n".join(f"> {line}" for line in ls) for t, ls in parts
    )
    text_body = "\n\n".join(t + "\n" + "\n".join(ls) for t, ls in parts)
    return Message(title, markdown, text_body)


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def wecom_payload(message: Message, mention_all: bool = False) -> dict[str, Any]:
    """The JSON a WeCom group robot accepts (markdown; at most 4096 bytes of content)."""
    content = _truncate(message.markdown, 4096)
    if mention_all:
        # markdown messages cannot @all; a text message can
        return {
            "msgtype": "text",
            "text": {"content": _truncate(message.text, 2048), "mentioned_list": ["@all"]},
        }
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_payload(message: Message, mention_all: bool = False) -> dict[str, Any]:
    """The JSON a DingTalk group robot accepts (markdown with a title)."""
    return {
        "msgtype": "markdown",
        "markdown": {"title": message.title[:64], "text": _truncate(message.markdown, 5000)},
        "at": {"isAtAll": mention_all},
    }


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """A DingTalk robot URL with its ``timestamp`` and HMAC-SHA256 ``sign`` added."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def generic_payload(
    record: AlarmRecord, spec: AlarmSpec | None, purpose: Purpose, message: Message
) -> dict[str, Any]:
    """The project's own JSON document: the journal entry plus the alarm's texts."""
    alarm: dict[str, Any] | None = None
    if spec is not None:
        alarm = {
            "alarm_id": spec.alarm_id,
            "site": spec.site,
            "asset_no": spec.asset_no,
            "class": spec.device_class,
            "priority": spec.priority.value,
            "label": spec.label.model_dump(),
            "text": spec.text.model_dump() if spec.text else None,
        }
    return {
        "v": 1,
        "type": purpose,
        "title": message.title,
        "text": message.text,
        "event": record.to_json(),
        "alarm": alarm,
    }


def _truncate(text: str, max_bytes: int) -> str:
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode(errors="ignore") + "…"


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry ``attempt`` (1, 2, ...): exponential, capped, with ±25 % jitter."""
    delay = min(cap_s, base_s * 2.0 ** (attempt - 1))
    jitter: float = (rng or random.Random()).random()
    return delay * (0.75 + 0.5 * jitter)


# -- channels ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP server from ``smtp://[user@]host:port`` (``smtps://``: TLS, ``smtp+starttls://``)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    mode: Literal["plain", "starttls", "tls"] = "plain"

    @classmethod
    def from_url(cls, url: str, sender: str, password: str | None = None) -> SmtpSettings:
        parts = urlsplit(url)
        modes = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}
        if parts.scheme not in modes or not parts.hostname:
            raise ConfigError(
                f"smtp_url {url!r}: expected smtp://host:port, smtp+starttls://host:587 or "
                "smtps://host:465"
            )
        mode = modes[parts.scheme]
        default_port = {"plain": 25, "starttls": 587, "tls": 465}[mode]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=password,
            mode=mode,  # type: ignore[arg-type]
        )


def send_email(
    settings: SmtpSettings, to: Sequence[str], subject: str, body: str, timeout_s: float
) -> None:
    """Blocking: one e-mail (run it in a thread). CommError / ConfigError on failure."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    try:
        smtp: smtplib.SMTP
        if settings.mode == "tls":
            context = ssl.create_default_context()
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout_s, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout_s)
        with smtp:
            if settings.mode == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise ConfigError(f"smtp {settings.host}:{settings.port}: login refused: {exc}") from None
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        raise ConfigError(f"smtp {settings.host}:{settings.port}: refused: {exc}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise CommError(f"smtp {settings.host}:{settings.port}: {exc}") from None


def post_json(url: str, body: Mapping[str, Any], timeout_s: float, robot: bool) -> None:
    """Blocking: POST a JSON document. ``robot``: also check WeCom/DingTalk's ``errcode``.

    CommError (retry) for network errors, 429 and 5xx; ConfigError (do not retry) for other
    4xx; ProtocolError (retry) for a robot's non-zero errcode (most often rate limiting).
    """
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    where = _safe_url(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise CommError(f"webhook {where}: HTTP {exc.code}") from None
        raise ConfigError(f"webhook {where}: HTTP {exc.code} {exc.reason}") from None
    except (OSError, urllib.error.URLError) as exc:
        raise CommError(f"webhook {where}: {exc}") from None
    if robot:
        try:
            reply = load_json(
                answer or b"{}",
                what="answer",
                max_bytes=HTTP_JSON_MAX_BYTES,
                max_depth=HTTP_JSON_MAX_DEPTH,
            )
        except JsonLimitError as exc:
            raise ProtocolError(f"webhook {where}: {exc}") from None
        code = reply.get("errcode", 0) if isinstance(reply, dict) else 0
        if code != 0:
            raise ProtocolError(
                f"webhook {where}: errcode {code} {reply.get('errmsg', '')}".rstrip(), code
            )


def _safe_url(url: str) -> str:
    # robot URLs carry their key in the query: never log it
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


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
            await asyncio.wait_for(future, timeout)
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
                    await asyncio.wait_for(self._escalation_ready.wait(), min(wait, 60.0))
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
            f"{STATUS_TOPIC}/{channel}", json.dumps(body).encode(), retain=True
        )
        future.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
