"""Work orders in the SQL database: create, move through the lifecycle, record the work.

``WorkOrderStore(url)`` upgrades the database on open, then every operation is one
transaction that locks the order, checks the request with the pure rules of
``maintenance.workorders`` and either applies all of it (with an event naming user and time)
or raises ``WorkOrderError`` and changes nothing. Notifications go out after the commit.

Corrective orders raised from an alarm are keyed ``<asset_no>|<condition>`` while they are not
yet verified (a unique column): a repeat of the alarm attaches to the open order — and
reopens it if it was completed — instead of creating another. Completing a preventive order
re-bases its plan's cycle (floating dates, meter thresholds count from the completion).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from device_profiles.models import AlarmDefinition, ChecklistKind, PmPlan, Priority
from facility.errors import ConfigError
from facility.types import Criticality
from maintenance.db import ConflictError, Database, DatabaseUser, Tx
from maintenance.kpi import OccurrenceRecord, OrderRecord
from maintenance.pm_rules import CYCLE_KINDS
from maintenance.schema import AssetRow, SiteRow
from maintenance.telemetry import MeterSource, SeriesSource
from maintenance.wo_schema import (
    ChecklistItemRow,
    FailureCodeRow,
    LabourRow,
    MeterReadingRow,
    PartLineRow,
    PmOccurrenceRow,
    PmPlanRow,
    WorkOrderEventRow,
    WorkOrderRow,
    WoSequenceRow,
    occurrences_query,
    orders_query,
    rows_by_id_query,
)
from maintenance.workorders import (
    ATTACHING_STATES,
    DEFAULT_SLA,
    ChecklistLine,
    CodeKind,
    FailureCode,
    FixCheck,
    FixVerdict,
    LabourLine,
    PartLine,
    Signal,
    SlaTargets,
    Transition,
    WoKind,
    WorkOrder,
    WorkOrderError,
    WorkOrderEvent,
    WoState,
    check_fix,
    completion_problems,
    format_number,
    next_state,
    parse_answer,
    parse_number,
)

log = logging.getLogger(__name__)

SYSTEM_USER = "system"
FIX_CHECKER = "proof-of-fix"
RETRIES = 5
KPI_LOOKBACK = timedelta(days=90)  # orders opened this long before a period may overlap it

PRIORITY_OF_CRITICALITY = {
    Criticality.HIGH: Priority.HIGH,
    Criticality.MEDIUM: Priority.MEDIUM,
    Criticality.LOW: Priority.LOW,
}


def _now() -> datetime:
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    """Aware UTC (SQLite hands timezone-aware columns back naive; they were written in UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _opt(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


# --- notifications ------------------------------------------------------------------------


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


# --- creating orders (shared with the generator) ------------------------------------------


@dataclass
class NewOrder:
    """What is needed to create one order; ``insert_orders`` numbers and writes it."""

    site: str
    kind: WoKind
    asset_no: str
    title_en: str
    title_zh: str
    priority: Priority
    created_at: datetime
    created_by: str
    response_due: datetime
    completion_due: datetime
    description: str = ""
    skill: str = "general"
    estimated_min: int = 60
    due_at: datetime | None = None
    checklist: Sequence[ChecklistLine] = ()
    plan_id: int | None = None
    occurrence_id: int | None = None
    condition: str | None = None
    open_key: str | None = None
    parent_id: int | None = None
    signal: Signal | None = None
    asset_down: bool = False
    alarm_count: int = 0
    last_alarm_at: datetime | None = None
    event_note: str = ""


def allocate_numbers(tx: Tx, site: str, year: int, count: int) -> list[str]:
    """The next ``count`` numbers of a site's year (the sequence row is locked until commit)."""
    row = tx.get(WoSequenceRow, (site, year), lock=True)
    if row is None:
        row = WoSequenceRow(site=site, year=year, last=0)
        tx.add(row)
    first = row.last + 1
    row.last += count
    return [format_number(site, year, first + i) for i in range(count)]


def insert_orders(
    tx: Tx, orders: Sequence[NewOrder], zones: Mapping[str, ZoneInfo]
) -> list[WorkOrderRow]:
    """Number and write orders with their checklists and a "created" event each."""
    by_year: dict[tuple[str, int], list[int]] = {}
    for i, order in enumerate(orders):
        year = order.created_at.astimezone(zones.get(order.site, UTC)).year
        by_year.setdefault((order.site, year), []).append(i)
    numbers: dict[int, str] = {}
    for (site, year), indexes in sorted(by_year.items()):
        for i, number in zip(indexes, allocate_numbers(tx, site, year, len(indexes)), strict=True):
            numbers[i] = number
    rows = []
    for i, order in enumerate(orders):
        row = WorkOrderRow(
            number=numbers[i],
            site=order.site,
            kind=order.kind.value,
            asset_no=order.asset_no,
            plan_id=order.plan_id,
            occurrence_id=order.occurrence_id,
            condition=order.condition,
            open_key=order.open_key,
            title_en=order.title_en[:300],
            title_zh=order.title_zh[:300],
            description=order.description[:2000],
            priority=order.priority.value,
            state=WoState.OPEN.value,
            assignee=None,
            skill=order.skill,
            estimated_min=order.estimated_min,
            created_at=order.created_at,
            created_by=order.created_by,
            due_at=order.due_at,
            response_due=order.response_due,
            completion_due=order.completion_due,
            parent_id=order.parent_id,
            alarm_count=order.alarm_count,
            last_alarm_at=order.last_alarm_at,
            signal=order.signal.to_json() if order.signal else None,
            verification=None,
            reopen_count=0,
            asset_down=order.asset_down,
            completion_note="",
            updated_at=order.created_at,
        )
        rows.append(row)
    tx.add(*rows)
    tx.flush()  # ids for the checklist and event rows
    details: list[Any] = []
    for order, row in zip(orders, rows, strict=True):
        details.extend(
            ChecklistItemRow(
                work_order_id=row.id,
                position=line.position,
                text_en=line.text_en[:300],
                text_zh=line.text_zh[:300],
                kind=line.kind.value,
                unit=line.unit,
                low=line.low,
                high=line.high,
                point=line.point,
                required=line.required,
                passed=None,
            )
            for line in order.checklist
        )
        details.append(
            WorkOrderEventRow(
                work_order_id=row.id,
                at=order.created_at,
                actor=order.created_by,
                action="created",
                from_state=None,
                to_state=WoState.OPEN.value,
                note=order.event_note[:2000],
                detail={"kind": order.kind.value, "priority": order.priority.value},
            )
        )
    tx.add(*details)
    return rows


def checklist_from_plan(plan: PmPlan) -> list[ChecklistLine]:
    return [ChecklistLine.from_template(i, item) for i, item in enumerate(plan.checklist, 1)]


def is_cycle_plan(definition: Mapping[str, Any]) -> bool:
    return any(t.get("kind") in CYCLE_KINDS for t in definition.get("triggers", []))


def meter_points(definition: Mapping[str, Any]) -> list[str]:
    return [str(t["point"]) for t in definition.get("triggers", []) if t.get("kind") == "meter"]


# --- the store ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetLabel:
    """What a work-order sheet says about the asset."""

    asset_no: str
    site: str
    name_en: str
    name_zh: str
    building: str
    zone: str
    make: str
    model: str
    serial: str


@dataclass(frozen=True)
class RaiseResult:
    """A corrective order raised (``created``) or a repeat attached to the open one."""

    order: WorkOrder
    created: bool
    reopened: bool = False


class WorkOrderStore(DatabaseUser):
    """Work orders in the database at ``url`` (SQLite or PostgreSQL)."""

    def __init__(
        self,
        url: str,
        *,
        sla: SlaTargets = DEFAULT_SLA,
        proof_hold: timedelta = timedelta(minutes=30),
        notifier: Notifier | None = None,
        meters: MeterSource | None = None,
        clock: Callable[[], datetime] = _now,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self.sla = sla
        self.proof_hold = proof_hold
        self.notifier: Notifier = notifier or LogNotifier()
        self.meters = meters
        self.clock = clock
        self._db = Database.open(url, migrate=migrate)

    @property
    def db(self) -> Database:
        return self._db

    def _at(self, at: datetime | None) -> datetime:
        return utc(at) if at is not None else self.clock()

    # --- reading ---------------------------------------------------------------------------

    def get(self, number: str) -> WorkOrder:
        """One order with its checklist, events, labour and parts."""
        with self._db.transaction() as tx:
            return self._order(tx, self._row(tx, number), full=True)

    def orders(
        self,
        *,
        site: str | None = None,
        states: Sequence[WoState | str] = (),
        asset_no: str | None = None,
        kind: WoKind | str | None = None,
        assignee: str | None = None,
        created_from: datetime | None = None,
        created_until: datetime | None = None,
        limit: int | None = None,
    ) -> list[WorkOrder]:
        """Orders without their details, newest first."""
        query = orders_query(
            site=site.upper() if site else None,
            states=[WoState(s).value for s in states],
            asset_no=asset_no,
            kind=WoKind(kind).value if kind else None,
            assignee=assignee,
            created_from=created_from,
            created_until=created_until,
            limit=limit,
        )
        with self._db.transaction() as tx:
            rows = list(tx.execute(query).scalars())
            names = self._plan_names(tx, rows)
            return [self._order(tx, row, full=False, plan_names=names) for row in rows]

    def asset_label(self, asset_no: str) -> AssetLabel:
        with self._db.transaction() as tx:
            row = self._asset(tx, asset_no)
            return AssetLabel(
                row.asset_no, row.site, row.name_en, row.name_zh, row.building, row.zone,
                row.make, row.model, row.serial,
            )  # fmt: skip

    def kpi_records(
        self, start: datetime, end: datetime, site: str | None = None
    ) -> tuple[list[OccurrenceRecord], list[OrderRecord], dict[str, int]]:
        """What ``maintenance.kpi.report`` needs for ``[start, end)``: occurrences due then,
        orders that may overlap it (created up to 90 days before), assets per site."""
        site = site.upper() if site else None
        with self._db.transaction() as tx:
            occurrences = [
                OccurrenceRecord(
                    plan.site,
                    plan.asset_no,
                    utc(occurrence.due),
                    utc(occurrence.window_end),
                    occurrence.state,
                    occurrence.reason,
                    _opt(order.completed_at) if order is not None else None,
                )
                for occurrence, plan, order in tx.execute(
                    occurrences_query(site=site, due_from=start, due_until=end)
                )
            ]
            query = orders_query(site=site, created_from=start - KPI_LOOKBACK, created_until=end)
            orders = [
                OrderRecord(
                    row.site,
                    row.asset_no,
                    row.kind,
                    utc(row.created_at),
                    utc(row.completion_due),
                    _opt(row.completed_at),
                    row.state == WoState.CANCELLED.value,
                    row.asset_down,
                )
                for row in tx.execute(query).scalars()
            ]
            assets: dict[str, int] = {}
            for asset in tx.rows(AssetRow, site=site):
                if asset.status != "retired":
                    assets[asset.site] = assets.get(asset.site, 0) + 1
        return occurrences, orders, assets

    def failure_codes(self) -> dict[str, FailureCode]:
        with self._db.transaction() as tx:
            return self._catalogue(tx)

    @staticmethod
    def _catalogue(tx: Tx) -> dict[str, FailureCode]:
        return {
            r.code: FailureCode(r.code, CodeKind(r.kind), r.label_en, r.label_zh)
            for r in tx.rows(FailureCodeRow, order_by=["code"])
        }

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
    ) -> RaiseResult:
        """A corrective order for ``condition`` on an asset; with ``attach`` (alarms), a
        repeat while one is open attaches to it (reopening it if it was completed)."""
        at = self._at(at)
        priority = Priority(priority)
        key = f"{asset_no}|{condition}" if attach else None
        for attempt in range(1, RETRIES + 1):
            try:
                result = self._raise_once(
                    asset_no, condition, key, title_en, title_zh, priority, actor, at,
                    description, signal, asset_down,
                )  # fmt: skip
                break
            except ConflictError:
                # Another process raised the same condition at the same moment: attach to it.
                if attempt == RETRIES:
                    raise
        if result.created:
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
    ) -> RaiseResult:
        with self._db.transaction(write=True) as tx:
            if key is not None:
                found = tx.rows(WorkOrderRow, open_key=key, lock=True)
                if found:
                    row = found[0]
                    reopened = WoState(row.state) is WoState.COMPLETED
                    row.alarm_count += 1
                    row.last_alarm_at = at
                    row.updated_at = at
                    self._event(tx, row, actor, "attached", None, None, f"{condition} again", at)
                    if reopened:
                        self._reopen_row(
                            tx, row, actor, at, f"{condition} active again after completion",
                            {"condition": condition, "at": at.isoformat()},
                        )  # fmt: skip
                    return RaiseResult(self._order(tx, row, full=True), False, reopened)
            asset = self._asset(tx, asset_no)
            response_due, completion_due = self.sla.due(priority, at)
            down = (
                asset_down
                if asset_down is not None
                else priority
                in (
                    Priority.CRITICAL,
                    Priority.HIGH,
                )
            )
            (row,) = insert_orders(
                tx,
                [
                    NewOrder(
                        site=asset.site,
                        kind=WoKind.CORRECTIVE,
                        asset_no=asset_no,
                        title_en=title_en,
                        title_zh=title_zh,
                        priority=priority,
                        created_at=at,
                        created_by=actor,
                        response_due=response_due,
                        completion_due=completion_due,
                        description=description,
                        condition=condition,
                        open_key=key,
                        signal=signal,
                        asset_down=down,
                        alarm_count=1 if key is not None else 0,
                        last_alarm_at=at if key is not None else None,
                    )
                ],
                self._zones(tx),
            )
            return RaiseResult(self._order(tx, row, full=True), True)

    # --- lifecycle -------------------------------------------------------------------------

    def assign(
        self, number: str, assignee: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Give the order to a technician (again, to reassign it)."""
        if not assignee.strip():
            raise WorkOrderError(f"{number}: assign: expected the technician's name")
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            before = WoState(row.state)
            row.state = next_state(row.number, before, Transition.ASSIGN).value
            previous = row.assignee
            row.assignee = assignee.strip()
            row.responded_at = row.responded_at or at
            note = f"to {row.assignee}" + (f" (was {previous})" if previous else "")
            self._event(tx, row, actor, "assigned", before, WoState(row.state), note, at)

        order = self._change(number, apply, at)
        self._notify("assigned", order, actor, at)
        return order

    def start(
        self, number: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Start work (or resume it after a hold); an unassigned order goes to ``actor``."""
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            before = WoState(row.state)
            row.state = next_state(row.number, before, Transition.START).value
            row.assignee = row.assignee or actor
            row.responded_at = row.responded_at or at
            row.started_at = row.started_at or at
            action = "resumed" if before is WoState.ON_HOLD else "started"
            self._event(tx, row, actor, action, before, WoState.IN_PROGRESS, "", at)

        return self._change(number, apply, at)

    def hold(
        self, number: str, reason: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Put work on hold (waiting for parts, access, a contractor): the reason is kept."""
        if not reason.strip():
            raise WorkOrderError(f"{number}: hold: expected a reason (--reason)")
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            before = WoState(row.state)
            row.state = next_state(row.number, before, Transition.HOLD).value
            self._event(tx, row, actor, "held", before, WoState.ON_HOLD, reason, at)

        return self._change(number, apply, at)

    def complete(
        self,
        number: str,
        *,
        actor: str = SYSTEM_USER,
        at: datetime | None = None,
        note: str = "",
        problem: str | None = None,
        cause: str | None = None,
        remedy: str | None = None,
    ) -> WorkOrder:
        """Complete the work: every required checklist item answered and, on a corrective
        order, problem/cause/remedy codes; WorkOrderError lists everything missing."""
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            before = WoState(row.state)
            after = next_state(row.number, before, Transition.COMPLETE)
            lines = self._checklist(tx, row.id)
            codes = {
                CodeKind.PROBLEM: problem or row.problem_code,
                CodeKind.CAUSE: cause or row.cause_code,
                CodeKind.REMEDY: remedy or row.remedy_code,
            }
            problems = completion_problems(
                row.number, WoKind(row.kind), lines, codes, self._catalogue(tx)
            )
            if problems:
                raise WorkOrderError("\n".join(problems))
            row.state = after.value
            row.completed_at = at
            row.problem_code = _code(codes[CodeKind.PROBLEM])
            row.cause_code = _code(codes[CodeKind.CAUSE])
            row.remedy_code = _code(codes[CodeKind.REMEDY])
            row.completion_note = note[:2000]
            if row.signal:
                row.verification = {
                    "verdict": FixVerdict.PENDING.value,
                    "reason": f"watching {row.signal['point']} for {self.proof_hold}",
                }
            detail = {k.value: v for k, v in codes.items() if v}
            self._event(tx, row, actor, "completed", before, after, note, at, detail)
            if row.plan_id is not None:
                self._rebase_plan(tx, row, lines, at, actor)

        order = self._change(number, apply, at)
        log.info("work_order=%s completed by=%s", number, actor)
        return order

    def verify(
        self, number: str, *, actor: str = SYSTEM_USER, at: datetime | None = None, note: str = ""
    ) -> WorkOrder:
        """A supervisor confirms the work (proof of fix does this from telemetry)."""
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            self._verify_row(tx, row, actor, at, note, None)

        order = self._change(number, apply, at)
        self._notify("verified", order, actor, at)
        return order

    def reopen(
        self, number: str, reason: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Send a completed (or verified) order back to work, with the reason."""
        if not reason.strip():
            raise WorkOrderError(f"{number}: reopen: expected a reason")
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            self._reopen_row(tx, row, actor, at, reason, {})

        order = self._change(number, apply, at)
        self._notify("reopened", order, actor, at, reason)
        return order

    def close_order(
        self, number: str, *, actor: str = SYSTEM_USER, at: datetime | None = None, note: str = ""
    ) -> WorkOrder:
        """Close a verified order (final)."""
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            before = WoState(row.state)
            row.state = next_state(row.number, before, Transition.CLOSE).value
            row.closed_at = at
            self._event(tx, row, actor, "closed", before, WoState.CLOSED, note, at)

        return self._change(number, apply, at)

    def cancel(
        self, number: str, reason: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Cancel an order that has not been completed (final); the reason is kept."""
        if not reason.strip():
            raise WorkOrderError(f"{number}: cancel: expected a reason (--reason)")
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            cancel_row(tx, row, actor, at, reason)

        return self._change(number, apply, at)

    # --- recording the work ----------------------------------------------------------------

    def record(
        self,
        number: str,
        position: int,
        answer: str,
        *,
        actor: str = SYSTEM_USER,
        at: datetime | None = None,
        spawn: bool = False,
    ) -> tuple[ChecklistLine, WorkOrder | None]:
        """Answer checklist item ``position``; a failed item with ``spawn`` raises a
        corrective order (one per item) linked to this one. Returns the item and that order."""
        at = self._at(at)
        spawned: list[WorkOrder] = []
        answered: list[ChecklistLine] = []

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            state = WoState(row.state)
            if state is not WoState.IN_PROGRESS:
                raise WorkOrderError(
                    f"{row.number}: cannot record checklist answers: the order is "
                    f"{state.value}; start it first (facility wo start {row.number})"
                )
            items = {i.position: i for i in tx.rows(ChecklistItemRow, work_order_id=row.id)}
            item = items.get(position)
            if item is None:
                known = ", ".join(str(p) for p in sorted(items)) or "none"
                raise WorkOrderError(f"{row.number}: no checklist item {position} (items: {known})")
            line = _line(item)
            parsed = parse_answer(line, answer)
            item.passed = parsed.passed
            item.value_num = parsed.value_num
            item.value_text = parsed.value_text
            item.answered_at = at
            item.answered_by = actor
            detail = {"position": position, "answer": answer, "passed": parsed.passed}
            self._event(tx, row, actor, "recorded", None, None, line.text_en, at, detail)
            if line.kind is ChecklistKind.METER and line.point and parsed.value_num is not None:
                tx.add(
                    MeterReadingRow(
                        asset_no=row.asset_no,
                        point=line.point,
                        value=parsed.value_num,
                        at=at,
                        source="checklist",
                        work_order_id=row.id,
                        actor=actor,
                    )
                )
            answered.append(_line(item))
            if spawn and parsed.passed is False:
                spawned.append(self._spawn(tx, row, _line(item), actor, at))

        self._change(number, apply, at)
        child = spawned[0] if spawned else None
        if child is not None:
            log.info("work_order=%s spawned from=%s item=%d", child.number, number, position)
            self._notify("created", child, actor, at, f"failed item {position} of {number}")
        return answered[0], child

    def _spawn(
        self, tx: Tx, parent: WorkOrderRow, line: ChecklistLine, actor: str, at: datetime
    ) -> WorkOrder:
        condition = f"checklist:{parent.number}:{line.position}"
        key = f"{parent.asset_no}|{condition}"
        existing = tx.rows(WorkOrderRow, open_key=key)
        if existing:
            return self._order(tx, existing[0], full=False)
        priority = Priority(parent.priority)
        response_due, completion_due = self.sla.due(priority, at)
        value = line.value_text if line.value_num is None else f"{line.value_num:g}"
        (row,) = insert_orders(
            tx,
            [
                NewOrder(
                    site=parent.site,
                    kind=WoKind.CORRECTIVE,
                    asset_no=parent.asset_no,
                    title_en=f"Failed check: {line.text_en}",
                    title_zh=f"检查不合格：{line.text_zh}",
                    priority=priority,
                    created_at=at,
                    created_by=actor,
                    response_due=response_due,
                    completion_due=completion_due,
                    description=(
                        f"Item {line.position} of {parent.number} failed: {value}"
                        + (f" (limits {line.limits_text()})" if line.limits_text() else "")
                    ),
                    skill=parent.skill,
                    condition=condition,
                    open_key=key,
                    parent_id=parent.id,
                    event_note=f"spawned from {parent.number} item {line.position}",
                )
            ],
            self._zones(tx),
        )
        return self._order(tx, row, full=False)

    def log_labour(
        self,
        number: str,
        technician: str,
        minutes: int,
        *,
        note: str = "",
        actor: str = SYSTEM_USER,
        at: datetime | None = None,
    ) -> WorkOrder:
        """Time spent on the order (any state but closed or cancelled)."""
        if minutes <= 0:
            raise WorkOrderError(f"{number}: labour: expected minutes > 0, got {minutes}")
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            self._not_final(row, "log labour")
            tx.add(
                LabourRow(
                    work_order_id=row.id, technician=technician, minutes=minutes, at=at,
                    note=note[:500],
                )
            )  # fmt: skip
            detail = {"technician": technician, "minutes": minutes}
            self._event(tx, row, actor, "labour", None, None, note, at, detail)

        return self._change(number, apply, at)

    def add_part(
        self,
        number: str,
        description: str,
        quantity: float = 1,
        *,
        unit: str = "pcs",
        part_no: str = "",
        actor: str = SYSTEM_USER,
        at: datetime | None = None,
    ) -> WorkOrder:
        """A part used, as a free line."""
        if not description.strip():
            raise WorkOrderError(f"{number}: part: expected a description")
        if quantity <= 0:
            raise WorkOrderError(f"{number}: part: expected a quantity > 0, got {quantity:g}")
        at = self._at(at)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            self._not_final(row, "add parts to")
            tx.add(
                PartLineRow(
                    work_order_id=row.id, description=description[:300], quantity=quantity,
                    unit=unit, part_no=part_no, at=at, actor=actor,
                )
            )  # fmt: skip
            detail = {"description": description, "quantity": quantity, "unit": unit}
            self._event(tx, row, actor, "part", None, None, description, at, detail)

        return self._change(number, apply, at)

    def add_meter_reading(
        self,
        asset_no: str,
        point: str,
        value: float,
        *,
        actor: str = SYSTEM_USER,
        at: datetime | None = None,
        source: str = "manual",
    ) -> None:
        """A counter reading typed in (or read off the device by hand)."""
        at = self._at(at)
        with self._db.transaction(write=True) as tx:
            self._asset(tx, asset_no)
            tx.add(
                MeterReadingRow(
                    asset_no=asset_no, point=point, value=float(value), at=at, source=source,
                    work_order_id=None, actor=actor,
                )
            )  # fmt: skip

    # --- proof of fix ----------------------------------------------------------------------

    def check_fix(
        self, number: str, series: SeriesSource, *, now: datetime | None = None
    ) -> FixCheck:
        """Check a completed corrective order against telemetry: verify it, reopen it with
        the evidence, or leave it pending (recorded on the order either way)."""
        now = self._at(now)
        with self._db.transaction() as tx:
            row = self._row(tx, number)
            state = WoState(row.state)
            if state is not WoState.COMPLETED:
                raise WorkOrderError(
                    f"{number}: proof of fix applies to completed orders; this one is {state.value}"
                )
            if not row.signal:
                raise WorkOrderError(
                    f"{number}: no signal to check (not raised from an alarm): verify by hand"
                )
            signal = Signal.from_json(row.signal)
            completed_at = utc(row.completed_at or now)
            asset_no = row.asset_no
        samples = series.samples(asset_no, signal.point, completed_at, now)
        result = check_fix(signal, samples, completed_at, now, self.proof_hold)
        evidence = result.evidence_json()

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            if WoState(row.state) is not WoState.COMPLETED:
                return  # someone verified or reopened it meanwhile
            if result.verdict is FixVerdict.VERIFIED:
                self._verify_row(tx, row, FIX_CHECKER, now, result.reason, evidence)
            elif result.verdict is FixVerdict.REOPEN:
                self._reopen_row(tx, row, FIX_CHECKER, now, result.reason, evidence)
            else:
                row.verification = evidence

        order = self._change(number, apply, now)
        if result.verdict is FixVerdict.REOPEN:
            log.warning("work_order=%s reopened by proof of fix: %s", number, result.reason)
            self._notify("reopened", order, FIX_CHECKER, now, result.reason)
        elif result.verdict is FixVerdict.VERIFIED:
            log.info("work_order=%s verified by proof of fix: %s", number, result.reason)
            self._notify("verified", order, FIX_CHECKER, now, result.reason)
        return result

    def check_fixes(
        self, series: SeriesSource, *, now: datetime | None = None
    ) -> dict[str, FixCheck]:
        """Proof of fix for every completed order that has a signal."""
        with self._db.transaction() as tx:
            numbers = [
                r.number for r in tx.rows(WorkOrderRow, state=WoState.COMPLETED.value) if r.signal
            ]
        results: dict[str, FixCheck] = {}
        for number in numbers:
            try:
                results[number] = self.check_fix(number, series, now=now)
            except WorkOrderError:
                continue  # changed state between the two reads
        return results

    # --- internals -------------------------------------------------------------------------

    def _change(
        self, number: str, apply: Callable[[Tx, WorkOrderRow], None], at: datetime
    ) -> WorkOrder:
        with self._db.transaction(write=True) as tx:
            row = self._row(tx, number, lock=True)
            apply(tx, row)
            row.updated_at = at
            tx.flush()
            return self._order(tx, row, full=True)

    @staticmethod
    def _not_final(row: WorkOrderRow, what: str) -> None:
        state = WoState(row.state)
        if state in (WoState.CLOSED, WoState.CANCELLED):
            raise WorkOrderError(f"{row.number}: cannot {what} a {state.value} order")

    def _verify_row(
        self,
        tx: Tx,
        row: WorkOrderRow,
        actor: str,
        at: datetime,
        note: str,
        evidence: dict[str, Any] | None,
    ) -> None:
        before = WoState(row.state)
        row.state = next_state(row.number, before, Transition.VERIFY).value
        row.verified_at = at
        row.open_key = None  # a new alarm of this condition is a new failure
        if evidence is not None:
            row.verification = evidence
        self._event(tx, row, actor, "verified", before, WoState.VERIFIED, note, at, evidence)

    def _reopen_row(
        self,
        tx: Tx,
        row: WorkOrderRow,
        actor: str,
        at: datetime,
        reason: str,
        evidence: dict[str, Any],
    ) -> None:
        before = WoState(row.state)
        row.state = next_state(row.number, before, Transition.REOPEN).value
        row.reopen_count += 1
        row.completed_at = None
        row.verified_at = None
        if row.condition and row.kind == WoKind.CORRECTIVE.value and row.open_key is None:
            row.open_key = f"{row.asset_no}|{row.condition}"
        if evidence:
            row.verification = evidence
        self._event(tx, row, actor, "reopened", before, WoState.IN_PROGRESS, reason, at, evidence)

    def _rebase_plan(
        self, tx: Tx, row: WorkOrderRow, lines: Sequence[ChecklistLine], at: datetime, actor: str
    ) -> None:
        plan = tx.get(PmPlanRow, row.plan_id, lock=True)
        if plan is None:
            return
        plan.last_done_at = at
        plan.next_check_at = None  # look at it in the next pass
        plan.updated_at = at
        if not is_cycle_plan(plan.definition):
            return
        readings = {
            line.point: line.value_num
            for line in lines
            if line.kind is ChecklistKind.METER and line.point and line.value_num is not None
        }
        wanted = [p for p in meter_points(plan.definition) if p not in readings]
        if wanted and self.meters is not None:
            found = self.meters.read_many([(row.asset_no, p) for p in wanted])
            for (_, point), value in found.items():
                readings[point] = value
                tx.add(
                    MeterReadingRow(
                        asset_no=row.asset_no, point=point, value=value, at=at,
                        source="completion", work_order_id=row.id, actor=actor,
                    )
                )  # fmt: skip
        plan.cycle_start = at
        plan.baseline = {p: v for p, v in readings.items() if p in meter_points(plan.definition)}
        plan.last_threshold = {}
        plan.last_due = None
        plan.covered = False

    @staticmethod
    def _event(
        tx: Tx,
        row: WorkOrderRow,
        actor: str,
        action: str,
        before: WoState | None,
        after: WoState | None,
        note: str,
        at: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        add_event(tx, row, actor, action, before, after, note, at, detail)

    def _row(self, tx: Tx, number: str, *, lock: bool = False) -> WorkOrderRow:
        parse_number(number)
        found = tx.rows(WorkOrderRow, number=number.strip().upper(), lock=lock)
        if not found:
            raise WorkOrderError(f"no work order {number} (facility wo list shows them)")
        return found[0]

    @staticmethod
    def _asset(tx: Tx, asset_no: str) -> AssetRow:
        asset = tx.get(AssetRow, asset_no)
        if asset is None:
            raise ConfigError(f"unknown asset {asset_no} (facility ledger list shows them)")
        return asset

    @staticmethod
    def _zones(tx: Tx) -> dict[str, ZoneInfo]:
        return {row.code: ZoneInfo(row.timezone) for row in tx.rows(SiteRow)}

    @staticmethod
    def _checklist(tx: Tx, work_order_id: int) -> list[ChecklistLine]:
        rows = tx.rows(ChecklistItemRow, work_order_id=work_order_id, order_by=["position"])
        return [_line(r) for r in rows]

    @staticmethod
    def _plan_names(tx: Tx, rows: Iterable[WorkOrderRow]) -> dict[int, str]:
        ids = sorted({r.plan_id for r in rows if r.plan_id is not None})
        if not ids:
            return {}
        return {p.id: p.name for p in tx.execute(rows_by_id_query(PmPlanRow, ids)).scalars()}

    def _order(
        self,
        tx: Tx,
        row: WorkOrderRow,
        *,
        full: bool,
        plan_names: Mapping[int, str] | None = None,
    ) -> WorkOrder:
        return to_order(tx, row, full=full, plan_names=plan_names)

    def _notify(
        self, event: str, order: WorkOrder, actor: str, at: datetime, note: str = ""
    ) -> None:
        try:
            self.notifier.notify(Notice(event, order, actor, at, order.assignee, note))
        except Exception:  # a broken channel must not undo a committed order
            log.exception("work_order=%s notice %s could not be sent", order.number, event)


def add_event(
    tx: Tx,
    row: WorkOrderRow,
    actor: str,
    action: str,
    before: WoState | None,
    after: WoState | None,
    note: str,
    at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    tx.add(
        WorkOrderEventRow(
            work_order_id=row.id,
            at=at,
            actor=actor,
            action=action,
            from_state=before.value if before else None,
            to_state=after.value if after else None,
            note=note[:2000],
            detail=dict(detail or {}),
        )
    )


def cancel_row(tx: Tx, row: WorkOrderRow, actor: str, at: datetime, reason: str) -> None:
    """Cancel an order (also used by the generator's supersede policy)."""
    before = WoState(row.state)
    row.state = next_state(row.number, before, Transition.CANCEL).value
    row.cancelled_at = at
    row.open_key = None
    row.updated_at = at
    add_event(tx, row, actor, "cancelled", before, WoState.CANCELLED, reason, at)
    if row.plan_id is not None:
        plan = tx.get(PmPlanRow, row.plan_id)
        if plan is not None and plan.covered:
            plan.covered = False  # the cycle has no order any more: the next trigger counts
            plan.next_check_at = None
            plan.updated_at = at


def _code(code: str | None) -> str | None:
    return code.strip().upper() if code else None


def _line(row: ChecklistItemRow) -> ChecklistLine:
    return ChecklistLine(
        position=row.position,
        text_en=row.text_en,
        text_zh=row.text_zh,
        kind=ChecklistKind(row.kind),
        required=row.required,
        unit=row.unit,
        low=row.low,
        high=row.high,
        point=row.point,
        passed=row.passed,
        value_num=row.value_num,
        value_text=row.value_text,
        answered_at=_opt(row.answered_at),
        answered_by=row.answered_by,
    )


def to_order(
    tx: Tx,
    row: WorkOrderRow,
    *,
    full: bool = True,
    plan_names: Mapping[int, str] | None = None,
) -> WorkOrder:
    """A row as the project's ``WorkOrder`` (with details when ``full``)."""
    plan_name = None
    slot = None
    parent_number = None
    checklist: tuple[ChecklistLine, ...] = ()
    events: tuple[WorkOrderEvent, ...] = ()
    labour: tuple[LabourLine, ...] = ()
    parts: tuple[PartLine, ...] = ()
    if row.plan_id is not None:
        if plan_names is not None and row.plan_id in plan_names:
            plan_name = plan_names[row.plan_id]
        elif full or plan_names is None:
            plan = tx.get(PmPlanRow, row.plan_id)
            plan_name = plan.name if plan else None
    if full:
        if row.occurrence_id is not None:
            occurrence = tx.get(PmOccurrenceRow, row.occurrence_id)
            slot = occurrence.slot if occurrence else None
        if row.parent_id is not None:
            parent = tx.get(WorkOrderRow, row.parent_id)
            parent_number = parent.number if parent else None
        checklist = tuple(
            _line(r) for r in tx.rows(ChecklistItemRow, work_order_id=row.id, order_by=["position"])
        )
        events = tuple(
            WorkOrderEvent(
                utc(e.at),
                e.actor,
                e.action,
                WoState(e.from_state) if e.from_state else None,
                WoState(e.to_state) if e.to_state else None,
                e.note,
                e.detail,
            )
            for e in tx.rows(WorkOrderEventRow, work_order_id=row.id, order_by=["at", "id"])
        )
        labour = tuple(
            LabourLine(r.technician, r.minutes, utc(r.at), r.note)
            for r in tx.rows(LabourRow, work_order_id=row.id, order_by=["at", "id"])
        )
        parts = tuple(
            PartLine(r.description, r.quantity, r.unit, r.part_no, utc(r.at), r.actor)
            for r in tx.rows(PartLineRow, work_order_id=row.id, order_by=["at", "id"])
        )
    return WorkOrder(
        number=row.number,
        site=row.site,
        kind=WoKind(row.kind),
        asset_no=row.asset_no,
        state=WoState(row.state),
        priority=Priority(row.priority),
        title_en=row.title_en,
        title_zh=row.title_zh,
        description=row.description,
        assignee=row.assignee,
        skill=row.skill,
        estimated_min=row.estimated_min,
        created_at=utc(row.created_at),
        created_by=row.created_by,
        due_at=_opt(row.due_at),
        response_due=utc(row.response_due),
        completion_due=utc(row.completion_due),
        responded_at=_opt(row.responded_at),
        started_at=_opt(row.started_at),
        completed_at=_opt(row.completed_at),
        verified_at=_opt(row.verified_at),
        closed_at=_opt(row.closed_at),
        cancelled_at=_opt(row.cancelled_at),
        plan_name=plan_name,
        slot=slot,
        condition=row.condition,
        problem_code=row.problem_code,
        cause_code=row.cause_code,
        remedy_code=row.remedy_code,
        alarm_count=row.alarm_count,
        last_alarm_at=_opt(row.last_alarm_at),
        reopen_count=row.reopen_count,
        asset_down=row.asset_down,
        parent_number=parent_number,
        signal=Signal.from_json(row.signal) if row.signal else None,
        verification=row.verification,
        completion_note=row.completion_note,
        checklist=checklist,
        events=events,
        labour=labour,
        parts=parts,
    )


ATTACHING = ATTACHING_STATES  # re-exported for the dashboard: states that take repeats
