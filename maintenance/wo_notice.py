"""Notices of work-order events: what a technician or supervisor should hear, and where it goes.

The store hands a ``Notice`` to its ``Notifier`` after the change is committed; the channels
(webhook, MQTT) are in ``maintenance.wo_notify``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from maintenance.workorders import WorkOrder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """Something a technician or supervisor should hear about an order."""

    event: str  # created, assigned, reopened, verified, attached
    order: WorkOrder
    actor: str
    at: datetime
    recipient: str | None  # the assignee, when there is one
    note: str = ""

    def text(self) -> str:
        order = self.order
        who = f" -> {self.recipient}" if self.recipient else ""
        return (
            f"{order.number} {self.event}{who}: {order.asset_no} {order.title_en} / "
            f"{order.title_zh} [{order.priority.value}]" + (f" — {self.note}" if self.note else "")
        )


class Notifier(Protocol):
    """Where work-order notices go (the alarm engine's e-mail / webhook / MQTT channels)."""

    def notify(self, notice: Notice) -> None: ...


class LogNotifier:
    """Notices as log lines (the default when no channel is configured)."""

    def notify(self, notice: Notice) -> None:
        log.info("work_order=%s notice %s", notice.order.number, notice.text())


@dataclass
class CollectingNotifier:
    """Keeps notices in memory (tests, the dashboard's own feed)."""

    notices: list[Notice] = field(default_factory=list)

    def notify(self, notice: Notice) -> None:
        self.notices.append(notice)
