"""Raising corrective orders: from an alarm (repeats attach), by hand, from a failed check.

``CorrectiveOrders`` is the part of ``maintenance.wo_store.WorkOrderStore`` that creates
corrective orders. An order raised with ``attach`` is keyed ``<asset_no>|<condition>`` while
it is not verified (a unique column): a repeat attaches to it, reopening it if it was
completed, instead of creating another; two processes raising the same condition at once
meet on that key and the second attaches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from device_profiles.models import AlarmDefinition, Priority
from facility.errors import ConfigError
from maintenance.db import ConflictError, Tx
from maintenance.wo_notice import Notice, Notifier
from maintenance.wo_queries import WorkOrderReader
from maintenance.wo_rows import NewOrder, add_event, insert_orders, reopen_row, utc
from maintenance.wo_schema import AlarmOrderCursorRow, AlarmRaiseOrderRow, WorkOrderRow
from maintenance.workorders import (
    ChecklistLine,
    Signal,
    SlaTargets,
    WoKind,
    WorkOrder,
    WoState,
)

log = logging.getLogger(__name__)

SYSTEM_USER = "system"
RETRIES = 5
_DOWN_PRIORITIES = (Priority.CRITICAL, Priority.HIGH)  # the asset is down unless told otherwise


@dataclass(frozen=True)
class RaiseResult:
    """A corrective order raised (``created``) or a repeat attached to the open one."""

    order: WorkOrder
    created: bool
    reopened: bool = False
    duplicate: bool = False  # this alarm raise was handled before (by this or another host)


def move_cursor(tx: Tx, name: str, after_id: int) -> None:
    """Move the journal cursor ``name`` forward to ``after_id`` (never back)."""
    row = tx.get(AlarmOrderCursorRow, name, lock=True)
    if row is None:
        tx.add(AlarmOrderCursorRow(name=name, after_id=after_id))
    elif after_id > row.after_id:
        row.after_id = after_id


class CorrectiveOrders(WorkOrderReader):
    """Corrective orders raised in the database (the store sets ``sla``, ``notifier`` and
    ``clock``)."""

    def cursor(self, name: str) -> int | None:
        """Where the journal cursor ``name`` stands (None: never set)."""
        with self._db.transaction() as tx:
            row = tx.get(AlarmOrderCursorRow, name)
            return row.after_id if row is not None else None

    def set_cursor(self, name: str, after_id: int) -> None:
        """Move the cursor past raises that made no order (below the priority, covered)."""
        with self._db.transaction(write=True) as tx:
            move_cursor(tx, name, after_id)

    sla: SlaTargets
    notifier: Notifier
    clock: Callable[[], datetime]

    def _at(self, at: datetime | None) -> datetime:
        return utc(at) if at is not None else self.clock()

    # --- raising corrective orders ---------------------------------------------------------

    def raise_corrective(
        self,
        asset_no: str,
        condition: str,
        *,
        title_en: str,
        title_zh: str,
        priority: Priority | str,
        actor: str = SYSTEM_USER,
        at: datetime | None = None,
        description: str = "",
        signal: Signal | None = None,
        asset_down: bool | None = None,
        attach: bool = True,
        raise_id: int | None = None,
        cursor: str | None = None,
    ) -> RaiseResult:
        """A corrective order for ``condition`` on an asset; with ``attach`` (alarms), a
        repeat while one is open attaches to it (reopening it if it was completed).

        ``raise_id``: the alarm journal entry this comes from — handled once, whichever
        scheduler gets there first (a second gets ``duplicate``); ``cursor``: the name of the
        journal cursor to move past it in the same transaction."""
        at = self._at(at)
        priority = Priority(priority)
        key = f"{asset_no}|{condition}" if attach else None
        origin = (raise_id, cursor)
        for attempt in range(1, RETRIES + 1):
            try:
                result = self._raise_once(
                    asset_no, condition, key, title_en, title_zh, priority, actor, at,
                    description, signal, asset_down, origin,
                )  # fmt: skip
                break
            except ConflictError:
                # Another process raised the same condition at the same moment: attach to it.
                if attempt == RETRIES:
                    raise
        if result.duplicate:
            log.info(
                "alarm raise %s on %s already handled (work_order=%s)",
                raise_id, asset_no, result.order.number,
            )  # fmt: skip
        elif result.created:
            log.info(
                "work_order=%s corrective asset_no=%s condition=%s priority=%s",
                result.order.number, asset_no, condition, priority.value,
            )  # fmt: skip
            self._notify("created", result.order, actor, at)
        elif result.reopened:
            self._notify("reopened", result.order, actor, at, f"{condition} again")
        else:
            log.info(
                "work_order=%s repeat attached asset_no=%s condition=%s count=%d",
                result.order.number, asset_no, condition, result.order.alarm_count,
            )  # fmt: skip
        return result

    def raise_from_alarm(
        self,
        asset_no: str,
        alarm: AlarmDefinition,
        *,
        at: datetime | None = None,
        actor: str = "alarm-engine",
        value: object = None,
        raise_id: int | None = None,
        cursor: str | None = None,
    ) -> RaiseResult:
        """The alarm engine's hook: a raised alarm becomes (or attaches to) the asset's open
        corrective order for that alarm, with the alarm's point and normal band as the
        signal that proof of fix watches."""
        text = alarm.text
        description = (
            f"{text.cause.en} / {text.cause.zh}. Action: {text.action.en} / {text.action.zh}"
            if text is not None
            else ""
        )
        if value is not None:
            description = f"{alarm.point} = {value}. {description}".strip()
        return self.raise_corrective(
            asset_no,
            f"alarm:{alarm.name}",
            title_en=alarm.label.en,
            title_zh=alarm.label.zh,
            priority=Priority(alarm.priority.value),
            actor=actor,
            at=at,
            description=description,
            signal=Signal.from_alarm(alarm),
            raise_id=raise_id,
            cursor=cursor,
        )

    def _raise_once(
        self,
        asset_no: str,
        condition: str,
        key: str | None,
        title_en: str,
        title_zh: str,
        priority: Priority,
        actor: str,
        at: datetime,
        description: str,
        signal: Signal | None,
        asset_down: bool | None,
        origin: tuple[int | None, str | None] = (None, None),
    ) -> RaiseResult:
        raise_id, cursor = origin
        with self._db.transaction(write=True) as tx:
            if raise_id is not None:
                handled = tx.get(AlarmRaiseOrderRow, raise_id)
                if handled is not None:
                    done = tx.get(WorkOrderRow, handled.work_order_id)
                    assert done is not None
                    return RaiseResult(self._order(tx, done, full=True), False, duplicate=True)
            result = self._raise_in(
                tx, asset_no, condition, key, title_en, title_zh, priority, actor, at,
                description, signal, asset_down,
            )  # fmt: skip
            if raise_id is not None:
                tx.add(AlarmRaiseOrderRow(raise_id=raise_id, work_order_id=result[1], at=at))
                if cursor is not None:
                    move_cursor(tx, cursor, raise_id)
            return result[0]

    def _raise_in(
        self,
        tx: Tx,
        asset_no: str,
        condition: str,
        key: str | None,
        title_en: str,
        title_zh: str,
        priority: Priority,
        actor: str,
        at: datetime,
        description: str,
        signal: Signal | None,
        asset_down: bool | None,
    ) -> tuple[RaiseResult, int]:
        """The order raised or attached to in ``tx``, and its row id."""
        if key is not None:
            found = tx.rows(WorkOrderRow, open_key=key, lock=True)
            if found:
                row = found[0]
                reopened = WoState(row.state) is WoState.COMPLETED
                row.alarm_count += 1
                row.last_alarm_at = at
                row.updated_at = at
                add_event(tx, row, actor, "attached", None, None, f"{condition} again", at)
                if reopened:
                    reopen_row(
                        tx, row, actor, at, f"{condition} active again after completion",
                        {"condition": condition, "at": at.isoformat()},
                    )  # fmt: skip
                return RaiseResult(self._order(tx, row, full=True), False, reopened), row.id
        asset = self._asset(tx, asset_no)
        if asset.status == "retired":
            raise ConfigError(
                f"{asset_no} is retired: it takes no new work orders "
                "(facility ledger list --status retired shows when)"
            )
        down = asset_down if asset_down is not None else priority in _DOWN_PRIORITIES
        row = self._insert_corrective(
            tx, asset.site, asset_no, priority, actor, at, title_en=title_en,
            title_zh=title_zh, description=description, condition=condition, open_key=key,
            signal=signal, asset_down=down, alarm_count=1 if key is not None else 0,
            last_alarm_at=at if key is not None else None,
        )  # fmt: skip
        return RaiseResult(self._order(tx, row, full=True), True), row.id

    def spawn_from_check(
        self, tx: Tx, parent: WorkOrderRow, line: ChecklistLine, actor: str, at: datetime
    ) -> WorkOrder:
        """A corrective order for a failed checklist item of ``parent`` (one per item)."""
        condition = f"checklist:{parent.number}:{line.position}"
        key = f"{parent.asset_no}|{condition}"
        existing = tx.rows(WorkOrderRow, open_key=key)
        if existing:
            return self._order(tx, existing[0], full=False)
        priority = Priority(parent.priority)
        value = line.value_text if line.value_num is None else f"{line.value_num:g}"
        limits = line.limits_text()
        row = self._insert_corrective(
            tx, parent.site, parent.asset_no, priority, actor, at,
            title_en=f"Failed check: {line.text_en}",
            title_zh=f"检查不合格：{line.text_zh}",
            description=f"Item {line.position} of {parent.number} failed: {value}"
            + (f" (limits {limits})" if limits else ""),
            skill=parent.skill, condition=condition, open_key=key, parent_id=parent.id,
            event_note=f"spawned from {parent.number} item {line.position}",
        )  # fmt: skip
        return self._order(tx, row, full=False)

    def _insert_corrective(
        self,
        tx: Tx,
        site: str,
        asset_no: str,
        priority: Priority,
        actor: str,
        at: datetime,
        **fields: Any,
    ) -> WorkOrderRow:
        """Number and write one corrective order, due by the SLA of its priority."""
        response_due, completion_due = self.sla.due(priority, at)
        order = NewOrder(
            site=site, kind=WoKind.CORRECTIVE, asset_no=asset_no, priority=priority,
            created_at=at, created_by=actor, response_due=response_due,
            completion_due=completion_due, **fields,
        )  # fmt: skip
        (row,) = insert_orders(tx, [order], self._zones(tx))
        return row

    def _notify(
        self, event: str, order: WorkOrder, actor: str, at: datetime, note: str = ""
    ) -> None:
        try:
            self.notifier.notify(Notice(event, order, actor, at, order.assignee, note))
        except Exception:  # a broken channel must not undo a committed order
            log.exception("work_order=%s notice %s could not be sent", order.number, event)
