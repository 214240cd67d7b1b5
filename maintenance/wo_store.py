"""Work orders in the SQL database: create, move through the lifecycle, record the work.

``WorkOrderStore(url)`` upgrades the database on open, then every operation is one
transaction that locks the order, checks the request with the pure rules of
``maintenance.workorders`` and either applies all of it (with an event naming user and time)
or raises ``WorkOrderError`` and changes nothing. Notifications go out after the commit.
Every lifecycle action is one step of the table in ``maintenance.wo_lifecycle``, taken by
one ``_transition``; the reads are ``maintenance.wo_queries``, the rows (numbering, writing,
mapping back) ``maintenance.wo_rows``.

Corrective orders raised from an alarm are keyed ``<asset_no>|<condition>`` while they are not
yet verified (a unique column): a repeat of the alarm attaches to the open order — and
reopens it if it was completed — instead of creating another. Completing a preventive order
re-bases its plan's cycle (floating dates, meter thresholds count from the completion).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from device_profiles.models import AlarmDefinition, ChecklistKind, Priority
from maintenance.db import ConflictError, Database, Tx
from maintenance.telemetry import MeterSource, SeriesSource
from maintenance.wo_lifecycle import Transition, require
from maintenance.wo_notice import CollectingNotifier as CollectingNotifier
from maintenance.wo_notice import LogNotifier as LogNotifier
from maintenance.wo_notice import Notice as Notice
from maintenance.wo_notice import Notifier as Notifier
from maintenance.wo_queries import AssetLabel as AssetLabel
from maintenance.wo_queries import WorkOrderReader
from maintenance.wo_rows import (
    NewOrder,
    Said,
    add_event,
    cancel_row,
    checklist_of,
    insert_orders,
    line_of,
    rebase_plan,
    reopen_row,
    transition_row,
    verify_row,
)
from maintenance.wo_rows import utc as utc
from maintenance.wo_schema import (
    ChecklistItemRow,
    LabourRow,
    MeterReadingRow,
    PartLineRow,
    WorkOrderRow,
)
from maintenance.workorders import (
    ATTACHING_STATES,
    DEFAULT_SLA,
    ChecklistLine,
    CodeKind,
    FixCheck,
    FixVerdict,
    Signal,
    SlaTargets,
    WoKind,
    WorkOrder,
    WorkOrderError,
    WoState,
    check_fix,
    completion_problems,
    parse_answer,
)

log = logging.getLogger(__name__)

SYSTEM_USER = "system"
FIX_CHECKER = "proof-of-fix"
RETRIES = 5


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RaiseResult:
    """A corrective order raised (``created``) or a repeat attached to the open one."""

    order: WorkOrder
    created: bool
    reopened: bool = False


class WorkOrderStore(WorkOrderReader):
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
                    add_event(tx, row, actor, "attached", None, None, f"{condition} again", at)
                    if reopened:
                        reopen_row(
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

    # --- lifecycle: every action is one step of maintenance.wo_lifecycle's table ------------

    def assign(
        self, number: str, assignee: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Give the order to a technician (again, to reassign it)."""
        require(number, Transition.ASSIGN, assignee)

        def effect(tx: Tx, row: WorkOrderRow) -> Said:
            previous = row.assignee
            row.assignee = assignee.strip()
            return Said(f"to {row.assignee}" + (f" (was {previous})" if previous else ""))

        at = self._at(at)
        order = self._transition(number, Transition.ASSIGN, actor, at, effect=effect)
        self._notify("assigned", order, actor, at)
        return order

    def start(
        self, number: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Start work (or resume it after a hold); an unassigned order goes to ``actor``."""

        def effect(tx: Tx, row: WorkOrderRow) -> None:
            row.assignee = row.assignee or actor

        return self._transition(number, Transition.START, actor, self._at(at), effect=effect)

    def hold(
        self, number: str, reason: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Put work on hold (waiting for parts, access, a contractor): the reason is kept."""
        require(number, Transition.HOLD, reason)
        return self._transition(number, Transition.HOLD, actor, self._at(at), reason)

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

        def effect(tx: Tx, row: WorkOrderRow) -> Said:
            lines = checklist_of(tx, row.id)
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
            row.problem_code = _code(codes[CodeKind.PROBLEM])
            row.cause_code = _code(codes[CodeKind.CAUSE])
            row.remedy_code = _code(codes[CodeKind.REMEDY])
            row.completion_note = note[:2000]
            if row.signal:
                row.verification = {
                    "verdict": FixVerdict.PENDING.value,
                    "reason": f"watching {row.signal['point']} for {self.proof_hold}",
                }
            if row.plan_id is not None:
                rebase_plan(tx, row, lines, at, actor, self.meters)
            return Said(note, {k.value: v for k, v in codes.items() if v})

        order = self._transition(number, Transition.COMPLETE, actor, at, effect=effect)
        log.info("work_order=%s completed by=%s", number, actor)
        return order

    def verify(
        self, number: str, *, actor: str = SYSTEM_USER, at: datetime | None = None, note: str = ""
    ) -> WorkOrder:
        """A supervisor confirms the work (proof of fix does this from telemetry)."""
        at = self._at(at)
        order = self._change(number, lambda tx, row: verify_row(tx, row, actor, at, note, None), at)
        self._notify("verified", order, actor, at)
        return order

    def reopen(
        self, number: str, reason: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Send a completed (or verified) order back to work, with the reason."""
        require(number, Transition.REOPEN, reason)
        at = self._at(at)
        order = self._change(number, lambda tx, row: reopen_row(tx, row, actor, at, reason, {}), at)
        self._notify("reopened", order, actor, at, reason)
        return order

    def close_order(
        self, number: str, *, actor: str = SYSTEM_USER, at: datetime | None = None, note: str = ""
    ) -> WorkOrder:
        """Close a verified order (final)."""
        return self._transition(number, Transition.CLOSE, actor, self._at(at), note)

    def cancel(
        self, number: str, reason: str, *, actor: str = SYSTEM_USER, at: datetime | None = None
    ) -> WorkOrder:
        """Cancel an order that has not been completed (final); the reason is kept."""
        require(number, Transition.CANCEL, reason)
        at = self._at(at)
        return self._change(number, lambda tx, row: cancel_row(tx, row, actor, at, reason), at)

    def _transition(
        self,
        number: str,
        action: Transition,
        actor: str,
        at: datetime,
        note: str = "",
        *,
        effect: Callable[[Tx, WorkOrderRow], Said | None] | None = None,
    ) -> WorkOrder:
        """Lock the order, take one step of the lifecycle table (with ``effect``, what the
        action changes beyond it), record the event, commit, and hand back the order."""
        return self._change(
            number,
            lambda tx, row: transition_row(tx, row, action, actor, at, note, effect=effect),
            at,
        )

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
            line = line_of(item)
            parsed = parse_answer(line, answer)
            item.passed = parsed.passed
            item.value_num = parsed.value_num
            item.value_text = parsed.value_text
            item.answered_at = at
            item.answered_by = actor
            detail = {"position": position, "answer": answer, "passed": parsed.passed}
            add_event(tx, row, actor, "recorded", None, None, line.text_en, at, detail)
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
            answered.append(line_of(item))
            if spawn and parsed.passed is False:
                spawned.append(self._spawn(tx, row, line_of(item), actor, at))

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
            add_event(tx, row, actor, "labour", None, None, note, at, detail)

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
            add_event(tx, row, actor, "part", None, None, description, at, detail)

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
                verify_row(tx, row, FIX_CHECKER, now, result.reason, evidence)
            elif result.verdict is FixVerdict.REOPEN:
                reopen_row(tx, row, FIX_CHECKER, now, result.reason, evidence)
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
        self, number: str, apply: Callable[[Tx, WorkOrderRow], object], at: datetime
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

    def _notify(
        self, event: str, order: WorkOrder, actor: str, at: datetime, note: str = ""
    ) -> None:
        try:
            self.notifier.notify(Notice(event, order, actor, at, order.assignee, note))
        except Exception:  # a broken channel must not undo a committed order
            log.exception("work_order=%s notice %s could not be sent", order.number, event)


def _code(code: str | None) -> str | None:
    return code.strip().upper() if code else None


ATTACHING = ATTACHING_STATES  # re-exported for the dashboard: states that take repeats
