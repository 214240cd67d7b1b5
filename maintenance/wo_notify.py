"""Work-order notices to technicians and supervisors over the alarm engine's channels.

A notice (created, assigned, reopened, verified, ...) goes to every configured channel:

- a group-robot or generic webhook (WeCom, DingTalk or plain JSON), with the payload shapes
  and the sender of ``facility.channels`` (shared with the alarm notifier);
- MQTT: ``facility/v1/events/workorders/<site>`` (QoS 1), where a phone app or the dashboard
  subscribes; the message carries the assignee so each technician's client filters its own;
- the person: a notice that names a technician (a new order given to them, a reassignment,
  a reopen) goes to the contact on their user record — ``{"webhook": url, "webhook_kind":
  "wecom"|"dingtalk"|"generic", "email": address}`` — with a link that opens the order on
  the phone (``[maintenance] dashboard_url`` + ``/m/order/<number>``).

A channel that fails is logged (once per channel until it works again) and never fails the
work-order action that caused the notice: the order is in the database either way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from facility.channels import (
    Message,
    SmtpSettings,
    dingtalk_payload,
    post_json,
    send_email,
    wecom_payload,
)
from facility.errors import FacilityError
from facility.mqtt import BrokerSettings, publish_once
from facility.topics import workorder_topic
from maintenance.wo_notice import LogNotifier, Notice, Notifier

log = logging.getLogger(__name__)

WebhookKind = Literal["wecom", "dingtalk", "generic"]


def notice_json(notice: Notice) -> dict[str, Any]:
    order = notice.order
    return {
        "v": 1,
        "event": notice.event,
        "number": order.number,
        "site": order.site,
        "asset_no": order.asset_no,
        "title_en": order.title_en,
        "title_zh": order.title_zh,
        "priority": order.priority.value,
        "state": order.state.value,
        "assignee": notice.recipient,
        "actor": notice.actor,
        "at": notice.at.isoformat(),
        "note": notice.note,
    }


def notice_message(notice: Notice) -> Message:
    order = notice.order
    who = f" → {notice.recipient}" if notice.recipient else ""
    title = f"{order.number} {notice.event}{who}"
    lines = [
        f"**{title}**",
        f"{order.asset_no}: {order.title_zh} / {order.title_en}",
        f"优先级 priority: {order.priority.value} · 状态 state: {order.state.value}",
    ]
    if notice.note:
        lines.append(notice.note)
    return Message(title=title, markdown="\n\n".join(lines), text=notice.text())


@dataclass
class WebhookNotifier:
    url: str
    kind: WebhookKind = "generic"
    timeout_s: float = 5.0
    failing: bool = False

    def notify(self, notice: Notice) -> None:
        message = notice_message(notice)
        if self.kind == "wecom":
            body = wecom_payload(message)
        elif self.kind == "dingtalk":
            body = dingtalk_payload(message)
        else:
            body = {"kind": "work_order", **notice_json(notice), "text": message.text}
        try:
            post_json(self.url, body, self.timeout_s, robot=self.kind != "generic")
        except FacilityError as exc:
            if not self.failing:
                log.warning("work-order webhook failed (%s); orders are unaffected", exc)
            self.failing = True
            return
        if self.failing:
            log.info("work-order webhook works again")
        self.failing = False


@dataclass
class MqttNotifier:
    broker: BrokerSettings
    client_id: str = "workorders"
    failing: bool = False

    def notify(self, notice: Notice) -> None:
        payload = json.dumps(notice_json(notice), ensure_ascii=False).encode()
        try:
            publish_once(
                self.broker, workorder_topic(notice.order.site), payload, client_id=self.client_id
            )
        except FacilityError as exc:
            if not self.failing:
                log.warning("work-order MQTT notice failed (%s); orders are unaffected", exc)
            self.failing = True
            return
        self.failing = False


def order_link(base_url: str, number: str) -> str:
    """The address that opens the order on the technician's phone."""
    return f"{base_url.rstrip('/')}/m/order/{number}"


PERSONAL_EVENTS = frozenset({"created", "assigned", "reopened"})


@dataclass
class PersonalNotifier:
    """Notices that name a person go to that person's own contact (their user record)."""

    contact_of: Callable[[str], Mapping[str, Any] | None]
    base_url: str = ""
    smtp: SmtpSettings | None = None
    timeout_s: float = 5.0
    failing: set[str] = field(default_factory=set)

    def notify(self, notice: Notice) -> None:
        person = notice.recipient
        if not person or notice.event not in PERSONAL_EVENTS:
            return
        try:
            contact = self.contact_of(person) or {}
        except FacilityError as exc:
            log.warning("work-order notice: cannot read %s's contact (%s)", person, exc)
            return
        link = order_link(self.base_url, notice.order.number)
        base = notice_message(notice)
        message = Message(
            title=base.title,
            markdown=f"{base.markdown}\n\n[{notice.order.number}]({link})",
            text=f"{base.text}\n{link}",
        )
        webhook = contact.get("webhook")
        if isinstance(webhook, str) and webhook:
            kind = contact.get("webhook_kind", "generic")
            if kind == "wecom":
                body = wecom_payload(message)
            elif kind == "dingtalk":
                body = dingtalk_payload(message)
            else:
                body = {"kind": "work_order", **notice_json(notice), "link": link,
                        "text": message.text}  # fmt: skip
            self._send(person, "webhook", lambda: post_json(
                webhook, body, self.timeout_s, robot=kind != "generic"))  # fmt: skip
        email = contact.get("email")
        if isinstance(email, str) and email and self.smtp is not None:
            smtp = self.smtp
            self._send(person, "email", lambda: send_email(
                smtp, [email], message.title, message.text, self.timeout_s))  # fmt: skip

    def _send(self, person: str, channel: str, send: Callable[[], None]) -> None:
        key = f"{person}/{channel}"
        try:
            send()
        except FacilityError as exc:
            if key not in self.failing:
                log.warning("work-order notice to %s by %s failed (%s)", person, channel, exc)
            self.failing.add(key)
            return
        if key in self.failing:
            log.info("work-order notices to %s by %s work again", person, channel)
            self.failing.discard(key)


def user_contacts(url: str) -> Callable[[str], Mapping[str, Any] | None]:
    """A contact lookup over the users database at ``url`` (read at each notice: a contact
    changed by an admin applies to the next notice)."""
    from maintenance.identity.store import UserStore

    def contact_of(name: str) -> Mapping[str, Any] | None:
        with UserStore(url) as users:
            user = users.user(name)
            return dict(user.contact) if user is not None else None

    return contact_of


@dataclass
class FanOut:
    """Every channel gets every notice; the log always does."""

    channels: Sequence[Notifier] = field(default_factory=list)

    def notify(self, notice: Notice) -> None:
        LogNotifier().notify(notice)
        for channel in self.channels:
            channel.notify(notice)


def from_settings(settings: Any) -> Notifier:
    """The channels ``[maintenance]`` configures (always the log)."""
    config = settings.maintenance
    channels: list[Notifier] = []
    if config.notify_webhook_url:
        channels.append(WebhookNotifier(config.notify_webhook_url, config.notify_webhook_kind))
    if config.notify_mqtt:
        mqtt = settings.mqtt
        broker = BrokerSettings.from_url(mqtt.url, password=mqtt.password, ca_file=mqtt.ca_file)
        channels.append(MqttNotifier(broker))
    smtp = None
    alarms = settings.alarms
    if alarms.smtp_url:
        smtp = SmtpSettings.from_url(alarms.smtp_url, alarms.smtp_from, alarms.smtp_password)
    channels.append(
        PersonalNotifier(user_contacts(settings.database_url), config.dashboard_url, smtp)
    )
    return FanOut(channels)
