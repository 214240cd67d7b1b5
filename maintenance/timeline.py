"""Each asset's history (设备履历) in one call: work orders, alarms, meter readings and
status changes, merged in time order.

    entries = asset_timeline(db, "HT-PMP-001", since=..., until=...)

Work orders contribute every event of their lifecycle (created, assigned, completed, verified,
reopened, ...), alarms every journal entry of the alarm engine (raised, acknowledged, cleared,
shelved, ...), meters the readings kept in SQL (typed in, read off checklists, recorded at
completions), and the ledger every status change (in service, out of service, retired).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from maintenance.alarm_schema import journal_query
from maintenance.db import Database
from maintenance.schema import AuditRow, StatusChangeRow
from maintenance.wo_schema import meter_readings_query, order_events_query


class EntryKind(StrEnum):
    WORK_ORDER = "work_order"
    ALARM = "alarm"
    METER = "meter"
    STATUS = "status"
    CHECK = "check"


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an asset's history."""

    at: datetime
    kind: EntryKind
    ref: str  # work-order number, alarm id, counter point or ""
    action: str  # created, completed, raise, ack, reading, in_service, ...
    text: str  # one line a person reads
    actor: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _in(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or moment >= since) and (until is None or moment < until)


def asset_timeline(
    db: Database,
    asset_no: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: frozenset[EntryKind] | None = None,
) -> list[TimelineEntry]:
    """The asset's history between ``since`` and ``until`` (either open), oldest first."""
    wanted = kinds or frozenset(EntryKind)
    since = _utc(since) if since else None
    until = _utc(until) if until else None
    entries: list[TimelineEntry] = []
    with db.transaction() as tx:
        if EntryKind.WORK_ORDER in wanted:
            for event, order in tx.execute(order_events_query(asset_no, since, until)):
                change = f" -> {event.to_state}" if event.to_state else ""
                note = f": {event.note}" if event.note else ""
                entries.append(
                    TimelineEntry(
                        _utc(event.at),
                        EntryKind.WORK_ORDER,
                        order.number,
                        event.action,
                        f"{order.number} {order.title_en} / {order.title_zh} "
                        f"{event.action}{change}{note}",
                        event.actor,
                        {"kind": order.kind, "state": order.state, **(event.detail or {})},
                    )
                )
        if EntryKind.ALARM in wanted:
            for row in tx.execute(journal_query(asset_no=asset_no, since=since, until=until)):
                record = row[0]
                value = f" value={record.value}" if record.value is not None else ""
                comment = f": {record.comment}" if record.comment else ""
                entries.append(
                    TimelineEntry(
                        _utc(record.at),
                        EntryKind.ALARM,
                        record.alarm_id,
                        record.event,
                        f"alarm {record.alarm} {record.event}"
                        f"{' -> ' + record.to_state if record.to_state else ''}{value}{comment}",
                        record.actor or "",
                        {"priority": record.priority, **(record.detail or {})},
                    )
                )
        if EntryKind.METER in wanted:
            for row in tx.execute(meter_readings_query(asset_no, since, until)):
                reading = row[0]
                entries.append(
                    TimelineEntry(
                        _utc(reading.at),
                        EntryKind.METER,
                        reading.point,
                        "reading",
                        f"{reading.point} = {reading.value:g} ({reading.source})",
                        reading.actor,
                        {"value": reading.value, "source": reading.source},
                    )
                )
        if EntryKind.STATUS in wanted:
            for status in tx.rows(StatusChangeRow, asset_no=asset_no, order_by=["at", "id"]):
                at = _utc(status.at)
                if not _in(at, since, until):
                    continue
                before = f"{status.from_status} -> " if status.from_status else ""
                why = f": {status.note}" if status.note else ""
                entries.append(
                    TimelineEntry(
                        at,
                        EntryKind.STATUS,
                        "",
                        status.to_status,
                        f"status {before}{status.to_status}{why}",
                        status.actor,
                    )
                )
        if EntryKind.CHECK in wanted:
            for check in tx.rows(
                AuditRow, entity=asset_no, action="daily_check", order_by=["at", "id"]
            ):
                at = _utc(check.at)
                if not _in(at, since, until):
                    continue
                detail = dict(check.detail or {})
                readings = detail.get("readings") or {}
                shown = "".join(f" {p}={v:g}" for p, v in readings.items())
                note = f": {detail['note']}" if detail.get("note") else ""
                entries.append(
                    TimelineEntry(
                        at,
                        EntryKind.CHECK,
                        str(detail.get("day", "")),
                        str(detail.get("result", "")),
                        f"daily check {detail.get('day', '')} {detail.get('result', '')}"
                        f"{shown}{note}",
                        check.actor,
                        detail,
                    )
                )
    order = list(EntryKind)
    entries.sort(key=lambda e: (e.at, order.index(e.kind)))
    return entries
