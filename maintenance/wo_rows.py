"""Work-order rows: numbering, writing new orders, recording transitions, reading them back.

Shared by the store (``maintenance.wo_store``) and the PM generator: ``insert_orders``
numbers and writes new orders with their checklists; ``transition_row`` moves one locked row
through a step of the lifecycle table (``maintenance.wo_lifecycle``) and writes its event;
``to_order`` maps a row to the project's ``WorkOrder``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from device_profiles.models import ChecklistKind, PmPlan, Priority
from facility.types import Criticality
from maintenance.db import Tx
from maintenance.pm_rules import CYCLE_KINDS
from maintenance.telemetry import MeterSource
from maintenance.wo_lifecycle import Step, Transition, WoState, plan_step
from maintenance.wo_schema import (
    ChecklistItemRow,
    LabourRow,
    MeterReadingRow,
    PartLineRow,
    PmOccurrenceRow,
    PmPlanRow,
    WoAttachmentRow,
    WorkOrderEventRow,
    WorkOrderRow,
    WoSequenceRow,
)
from maintenance.workorders import (
    Attachment,
    ChecklistLine,
    LabourLine,
    PartLine,
    Signal,
    WoKind,
    WorkOrder,
    WorkOrderEvent,
    format_number,
)

PRIORITY_OF_CRITICALITY = {
    Criticality.HIGH: Priority.HIGH,
    Criticality.MEDIUM: Priority.MEDIUM,
    Criticality.LOW: Priority.LOW,
}


def utc(moment: datetime) -> datetime:
    """Aware UTC (SQLite hands timezone-aware columns back naive; they were written in UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def opt_utc(moment: datetime | None) -> datetime | None:
    """``utc`` of a time that may be missing."""
    return utc(moment) if moment is not None else None


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


# --- moving orders through the lifecycle --------------------------------------------------


@dataclass(frozen=True)
class Said:
    """What an effect wants the event to say instead of the caller's note and detail."""

    note: str
    detail: Mapping[str, Any] | None = None


# What an action changes beyond the table; runs after the table allowed the step and before
# the table's changes, so a guard that raises leaves the row as it was (the transaction rolls
# back). It may return what the event says.
Effect = Callable[[Tx, WorkOrderRow], Said | None]


def transition_row(
    tx: Tx,
    row: WorkOrderRow,
    action: Transition,
    actor: str,
    at: datetime,
    note: str = "",
    detail: Mapping[str, Any] | None = None,
    effect: Effect | None = None,
) -> Step:
    """Move a (locked) row one step of the lifecycle table and write the event."""
    step = plan_step(row.number, WoState(row.state), action)
    said = effect(tx, row) if effect is not None else None
    if said is not None:
        note, detail = said.note, said.detail
    row.state = step.after.value
    for name in step.rule.first:
        if getattr(row, name) is None:
            setattr(row, name, at)
    for name in step.rule.stamps:
        setattr(row, name, at)
    for name in step.rule.clears:
        setattr(row, name, None)
    row.updated_at = at
    add_event(tx, row, actor, step.event, step.before, step.after, note, at, detail)
    return step


def verify_effect(evidence: dict[str, Any] | None) -> Effect:
    """What verifying changes beyond the table (by hand, or proof of fix with its evidence)."""

    def effect(tx: Tx, row: WorkOrderRow) -> None:
        row.open_key = None  # a new alarm of this condition is a new failure
        if evidence is not None:
            row.verification = evidence

    return effect


def reopen_effect(evidence: dict[str, Any]) -> Effect:
    """What reopening changes beyond the table: a corrective order takes repeats again."""

    def effect(tx: Tx, row: WorkOrderRow) -> None:
        row.reopen_count += 1
        if row.condition and row.kind == WoKind.CORRECTIVE.value and row.open_key is None:
            row.open_key = f"{row.asset_no}|{row.condition}"
        if evidence:
            row.verification = evidence

    return effect


def cancel_effect(at: datetime) -> Effect:
    """What cancelling changes beyond the table: the plan's cycle has no order any more."""

    def effect(tx: Tx, row: WorkOrderRow) -> None:
        row.open_key = None
        if row.plan_id is not None:
            plan = tx.get(PmPlanRow, row.plan_id)
            if plan is not None and plan.covered:
                plan.covered = False  # the cycle has no order any more: the next trigger counts
                plan.next_check_at = None
                plan.updated_at = at

    return effect


def verify_row(
    tx: Tx, row: WorkOrderRow, actor: str, at: datetime, note: str, evidence: dict[str, Any] | None
) -> None:
    """Verify a completed order (by hand, or proof of fix with its evidence)."""
    transition_row(tx, row, Transition.VERIFY, actor, at, note, evidence, verify_effect(evidence))


def reopen_row(
    tx: Tx, row: WorkOrderRow, actor: str, at: datetime, reason: str, evidence: dict[str, Any]
) -> None:
    """Send a completed or verified order back to work; a corrective one takes repeats again."""
    transition_row(tx, row, Transition.REOPEN, actor, at, reason, evidence, reopen_effect(evidence))


def cancel_row(tx: Tx, row: WorkOrderRow, actor: str, at: datetime, reason: str) -> None:
    """Cancel an order (also used by the generator's supersede policy)."""
    transition_row(tx, row, Transition.CANCEL, actor, at, reason, None, cancel_effect(at))


def rebase_plan(
    tx: Tx,
    row: WorkOrderRow,
    lines: Sequence[ChecklistLine],
    at: datetime,
    actor: str,
    meters: MeterSource | None,
) -> None:
    """A preventive order completed: its plan's cycle counts from now (floating dates), its
    meter thresholds from the counters now (from the checklist, else read from ``meters``)."""
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
    if wanted and meters is not None:
        found = meters.read_many([(row.asset_no, p) for p in wanted])
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


# --- reading rows back --------------------------------------------------------------------


def line_of(row: ChecklistItemRow) -> ChecklistLine:
    """A checklist row as the project's ``ChecklistLine``."""
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
        answered_at=opt_utc(row.answered_at),
        answered_by=row.answered_by,
    )


def checklist_of(tx: Tx, work_order_id: int) -> list[ChecklistLine]:
    """An order's checklist, in order."""
    rows = tx.rows(ChecklistItemRow, work_order_id=work_order_id, order_by=["position"])
    return [line_of(r) for r in rows]


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
    attachments: tuple[Attachment, ...] = ()
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
        checklist = tuple(checklist_of(tx, row.id))
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
        attachments = tuple(
            Attachment(r.sha256, r.kind, r.mime, r.size, r.position, r.actor, utc(r.at))
            for r in tx.rows(WoAttachmentRow, work_order_id=row.id, order_by=["at", "id"])
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
        due_at=opt_utc(row.due_at),
        response_due=utc(row.response_due),
        completion_due=utc(row.completion_due),
        responded_at=opt_utc(row.responded_at),
        started_at=opt_utc(row.started_at),
        completed_at=opt_utc(row.completed_at),
        verified_at=opt_utc(row.verified_at),
        closed_at=opt_utc(row.closed_at),
        cancelled_at=opt_utc(row.cancelled_at),
        plan_name=plan_name,
        slot=slot,
        condition=row.condition,
        problem_code=row.problem_code,
        cause_code=row.cause_code,
        remedy_code=row.remedy_code,
        alarm_count=row.alarm_count,
        last_alarm_at=opt_utc(row.last_alarm_at),
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
        attachments=attachments,
        version=row.version or 0,
    )
