"""A notice that a report is ready, sent through the channels work-order notices use.

The channels are ``[maintenance]``'s (``notify_webhook_url`` / ``notify_webhook_kind``: a WeCom
or DingTalk group robot, or a generic JSON webhook; ``notify_mqtt``: MQTT
``facility/v1/events/reports/<site>``), sent with ``facility.channels`` and ``facility.mqtt``. The
notice names the report and where it is: the stored path, and the dashboard link when a
base URL is known. A channel that fails is logged once until it works again; the report is
stored either way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from facility.channels import Message, dingtalk_payload, post_json, wecom_payload
from facility.config import Settings
from facility.errors import FacilityError
from facility.mqtt import BrokerSettings, publish_once
from facility.topics import report_notice_topic
from maintenance.reports.text import label

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportNotice:
    site: str  # a code, or ALL
    kind: str  # daily, weekly, monthly
    period: str
    lang: str
    fmt: str
    path: Path
    link: str | None = None  # the dashboard's download URL, when a base URL is configured

    def json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "event": "report_ready",
            "site": self.site,
            "kind": self.kind,
            "period": self.period,
            "lang": self.lang,
            "format": self.fmt,
            "path": str(self.path),
            "link": self.link,
        }

    def message(self) -> Message:
        title = f"{self.site} {label(self.kind, 'zh')} / {label(self.kind, 'en')} {self.period}"
        where = self.link or str(self.path)
        text = f"{title}: {where}"
        return Message(title=title, markdown=f"**{title}**\n\n{where}", text=text)


class ReportNotifier(Protocol):
    def notify(self, notice: ReportNotice) -> None: ...


@dataclass
class ReportChannels:
    """Every configured channel gets every notice; the log always does."""

    webhook_url: str | None = None
    webhook_kind: str = "generic"
    broker: BrokerSettings | None = None
    timeout_s: float = 5.0
    failing: set[str] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportChannels:
        config, mqtt = settings.maintenance, settings.mqtt
        broker = (
            BrokerSettings.from_url(mqtt.url, password=mqtt.password, ca_file=mqtt.ca_file)
            if config.notify_mqtt
            else None
        )
        return cls(config.notify_webhook_url, config.notify_webhook_kind, broker)

    def notify(self, notice: ReportNotice) -> None:
        message = notice.message()
        log.info("report ready site=%s kind=%s period=%s path=%s", notice.site, notice.kind,
                 notice.period, notice.path)  # fmt: skip
        if self.webhook_url:
            if self.webhook_kind == "wecom":
                body = wecom_payload(message)
            elif self.webhook_kind == "dingtalk":
                body = dingtalk_payload(message)
            else:
                body = {"kind": "report", **notice.json(), "text": message.text}
            self._send(
                "webhook",
                lambda: post_json(
                    str(self.webhook_url),
                    body,
                    self.timeout_s,
                    robot=self.webhook_kind != "generic",
                ),
            )
        if self.broker is not None:
            payload = json.dumps(notice.json(), ensure_ascii=False).encode()
            broker = self.broker
            self._send(
                "mqtt",
                lambda: publish_once(
                    broker, report_notice_topic(notice.site), payload, client_id="reports"
                ),
            )

    def _send(self, channel: str, send: Any) -> None:
        try:
            send()
        except FacilityError as exc:
            if channel not in self.failing:
                log.warning("report notice over %s failed (%s); the report is stored", channel, exc)
            self.failing.add(channel)
            return
        if channel in self.failing:
            log.info("report notice over %s works again", channel)
        self.failing.discard(channel)
