"""Work orders in the SQL database: create, move through the lifecycle, record the work.

``WorkOrderStore(url)`` upgrades the database on open, then every operation is one
transaction that locks the order, checks the request with the pure rules of
``maintenance.workorders`` and either applies all of it (with an event naming user and time)
or raises ``WorkOrderError`` and changes nothing. Notifications go out after the commit.
Every lifecycle action is one row of the table in ``maintenance.wo_lifecycle`` (what it
needs, who may, what it stamps, who hears of it), taken by one method, ``_act``. Every
change goes through ``_change``: an ``actor`` that is a :class:`Principal` (a signed-in
person) must hold the permission the action needs on the order's estate (a technician: only
orders assigned to them), and every change writes an audit row naming the actor, source and
remote in the same transaction; a refusal is audited too. A plain string actor is a service
(source ``system``). Completing a preventive order re-bases its plan's cycle (floating
dates, meter thresholds count from the completion).

Where the rest lives: reads in ``maintenance.wo_queries``, raising corrective orders (alarm
repeats attach) in ``maintenance.wo_corrective``, the rows (numbering, writing, mapping
back) in ``maintenance.wo_rows``, notices in ``maintenance.wo_notice``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from device_profiles.models import ChecklistKind
from facility.errors import PermissionDenied
from maintenance.db import Database, Tx
from maintenance.identity.audit import audit_row
from maintenance.identity.roles import Principal, actor_name
from maintenance.meter_input import Neighbour, check_reading
from maintenance.telemetry import MeterSource, SeriesSource
from maintenance.wo_corrective import SYSTEM_USER, CorrectiveOrders
from maintenance.wo_corrective import RaiseResult as RaiseResult
from maintenance.wo_lifecycle import (
    RULES,
    AlreadyApplied,
    OrderConflict,
    Transition,
    check_duties,
    check_permission,
    check_when,
    require,
    rule_of,
)
from maintenance.wo_notice import CollectingNotifier as CollectingNotifier
from maintenance.wo_notice import LogNotifier as LogNotifier
from maintenance.wo_notice import Notice as Notice
from maintenance.wo_notice import Notifier as Notifier
from maintenance.wo_queries import AssetLabel as AssetLabel
from maintenance.wo_rows import (
    Effect,
    Said,
    add_event,
    cancel_effect,
    checklist_of,
    line_of,
    rebase_plan,
    reopen_effect,
    reopen_row,
    transition_row,
    verify_effect,
    verify_row,
)
from maintenance.wo_rows import utc as utc
from maintenance.wo_schema import (
    ChecklistItemRow,
    LabourRow,
    MeterReadingRow,
    PartLineRow,
    WoAttachmentRow,
    WorkOrderEventRow,
    WorkOrderRow,
    WoSubmissionRow,
    last_events_query,
    neighbour_readings_query,
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

FIX_CHECKER = "proof-of-fix"


KEY_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
ATTACHMENT_KINDS = ("photo", "signature")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Submission:
    """A change sent from a phone's queue: its idempotency key (a retry with the same key is
    answered ``AlreadyApplied``, never applied twice) and the order version the technician
    saw (``None``: not checked; another version is an ``OrderConflict``)."""

    key: str
    base_version: int | None = None


class WorkOrderStore(CorrectiveOrders):
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
        backdate_max: timedelta | None = timedelta(days=30),
        separate_verify: bool = True,
    ) -> None:
        self.url = url
        self.backdate_max = backdate_max  # how far back a person may date a step
        self.separate_verify = separate_verify  # who completed may not verify
        self.sla = sla
        self.proof_hold = proof_hold
        self.notifier: Notifier = notifier or LogNotifier()
        self.meters = meters
        self.clock = clock
        self._db = Database.open(url, migrate=migrate)

    # --- lifecycle: every action is one row of maintenance.wo_lifecycle's table ------------

    def assign(
        self,
        number: str,
        assignee: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Give the order to a technician (again, to reassign it)."""

        def effect(tx: Tx, row: WorkOrderRow) -> Said:
            previous = row.assignee
            row.assignee = assignee.strip()
            return Said(f"to {row.assignee}" + (f" (was {previous})" if previous else ""))

        return self._act(Transition.ASSIGN, number, actor, at, "", assignee, effect, submission)

    def decline(
        self,
        number: str,
        reason: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """The assigned technician gives the order back (off sick, wrong skill, no access):
        it is open again, unassigned, with the reason; the supervisors hear of it."""

        def effect(tx: Tx, row: WorkOrderRow) -> None:
            row.assignee = None

        return self._act(Transition.DECLINE, number, actor, at, reason, reason, effect, submission)

    def start(
        self,
        number: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Start work (or resume it after a hold); an unassigned order goes to ``actor``."""

        def effect(tx: Tx, row: WorkOrderRow) -> None:
            row.assignee = row.assignee or actor_name(actor)

        return self._act(Transition.START, number, actor, at, effect=effect, submission=submission)

    def hold(
        self,
        number: str,
        reason: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Put work on hold (waiting for parts, access, a contractor): the reason is kept."""
        return self._act(Transition.HOLD, number, actor, at, reason, submission=submission)

    def complete(
        self,
        number: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        note: str = "",
        problem: str | None = None,
        cause: str | None = None,
        remedy: str | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Complete the work: every required checklist item answered and, on a corrective
        order, problem/cause/remedy codes; WorkOrderError lists everything missing."""
        moment = self._at(at)

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
                rebase_plan(tx, row, lines, moment, actor_name(actor), self.meters)
            return Said(note, {k.value: v for k, v in codes.items() if v})

        return self._act(
            Transition.COMPLETE, number, actor, moment, effect=effect, submission=submission
        )

    def verify(
        self,
        number: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        note: str = "",
        submission: Submission | None = None,
    ) -> WorkOrder:
        """A supervisor confirms the work (proof of fix does this from telemetry)."""
        effect = verify_effect(None)
        return self._act(Transition.VERIFY, number, actor, at, note, None, effect, submission)

    def reopen(
        self,
        number: str,
        reason: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Send a completed (or verified) order back to work, with the reason."""
        effect = reopen_effect({})
        return self._act(Transition.REOPEN, number, actor, at, reason, reason, effect, submission)

    def close_order(
        self,
        number: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        note: str = "",
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Close a verified order (final)."""
        return self._act(Transition.CLOSE, number, actor, at, note, submission=submission)

    def cancel(
        self,
        number: str,
        reason: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
    ) -> WorkOrder:
        """Cancel an order that has not been completed (final); the reason is kept."""
        moment = self._at(at)
        return self._act(Transition.CANCEL, number, actor, moment, reason, reason,
                         cancel_effect(moment))  # fmt: skip

    def _act(
        self,
        action: Transition,
        number: str,
        actor: str | Principal,
        at: datetime | None,
        note: str = "",
        given: str | None = None,
        effect: Effect | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Take one row of the lifecycle table: check what its rule ``needs`` (``given``:
        the argument that answers it), lock the order, check who may (``_change``), take
        the step with ``effect`` (what the action changes beyond the table), record its
        event and audit row, commit; then log and send the rule's notice."""
        rule = RULES[action]
        require(number, action, note if given is None else given)
        moment = self._at(at)
        name = actor_name(actor)
        order = self._change(
            number,
            lambda tx, row: transition_row(tx, row, action, name, moment, note, effect=effect),
            moment,
            actor=actor,
            action=action.value,
            submission=submission,
        )
        if rule.logged:
            log.info("work_order=%s %s by=%s", number, order.state.value, name)
        if rule.notice is not None:
            self._notify(rule.notice, order, name, moment, note if rule.notice_note else "")
        return order

    # --- recording the work ----------------------------------------------------------------

    def record(
        self,
        number: str,
        position: int,
        answer: str,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        spawn: bool = False,
        submission: Submission | None = None,
    ) -> tuple[ChecklistLine, WorkOrder | None]:
        """Answer checklist item ``position``; a failed item with ``spawn`` raises a
        corrective order (one per item) linked to this one. Returns the item and that order."""
        at = self._at(at)
        spawned: list[WorkOrder] = []
        answered: list[ChecklistLine] = []
        name = actor_name(actor)

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
            item.answered_by = name
            detail = {"position": position, "answer": answer, "passed": parsed.passed}
            add_event(tx, row, name, "recorded", None, None, line.text_en, at, detail)
            if line.kind is ChecklistKind.METER and line.point and parsed.value_num is not None:
                tx.add(
                    MeterReadingRow(
                        asset_no=row.asset_no,
                        point=line.point,
                        value=parsed.value_num,
                        at=at,
                        source="checklist",
                        work_order_id=row.id,
                        actor=name,
                    )
                )
            answered.append(line_of(item))
            if spawn and parsed.passed is False:
                spawned.append(self.spawn_from_check(tx, row, line_of(item), name, at))

        self._change(number, apply, at, actor=actor, action="record", submission=submission)
        child = spawned[0] if spawned else None
        if child is not None:
            log.info("work_order=%s spawned from=%s item=%d", child.number, number, position)
            self._notify("created", child, name, at, f"failed item {position} of {number}")
        return answered[0], child

    def log_labour(
        self,
        number: str,
        technician: str,
        minutes: int,
        *,
        note: str = "",
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Time spent on the order (any state but closed or cancelled)."""
        if minutes <= 0:
            raise WorkOrderError(f"{number}: labour: expected minutes > 0, got {minutes}")
        at = self._at(at)

        detail = {"technician": technician, "minutes": minutes}
        return self._add_line(
            number, "log labour", "labour", note, detail, actor, at,
            lambda row: LabourRow(
                work_order_id=row.id, technician=technician, minutes=minutes, at=at,
                note=note[:500],
            ),
            submission,
        )  # fmt: skip

    def add_part(
        self,
        number: str,
        description: str,
        quantity: float = 1,
        *,
        unit: str = "pcs",
        part_no: str = "",
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """A part used, as a free line."""
        if not description.strip():
            raise WorkOrderError(f"{number}: part: expected a description")
        if quantity <= 0:
            raise WorkOrderError(f"{number}: part: expected a quantity > 0, got {quantity:g}")
        at = self._at(at)

        detail = {"description": description, "quantity": quantity, "unit": unit}
        name = actor_name(actor)
        return self._add_line(
            number, "add parts to", "part", description, detail, actor, at,
            lambda row: PartLineRow(
                work_order_id=row.id, description=description[:300], quantity=quantity,
                unit=unit, part_no=part_no, at=at, actor=name,
            ),
            submission,
        )  # fmt: skip

    def _add_line(
        self,
        number: str,
        what: str,
        action: str,
        note: str,
        detail: Mapping[str, object],
        actor: str | Principal,
        at: datetime,
        line: Callable[[WorkOrderRow], LabourRow | PartLineRow],
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Add a labour or part line to an order that is not final, with its event."""

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            self._not_final(row, what)
            tx.add(line(row))
            add_event(tx, row, actor_name(actor), action, None, None, note, at, detail)

        return self._change(number, apply, at, actor=actor, action=action, submission=submission)

    def add_meter_reading(
        self,
        asset_no: str,
        point: str,
        value: float,
        *,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        source: str = "manual",
        reset: bool = False,
        counters: Collection[str] | None = None,
    ) -> None:
        """A counter reading typed in (or read off the device by hand); MeterInputError if it
        cannot be right (``maintenance.meter_input``). ``counters``: the asset's counter
        points, when known; ``reset``: the counter was reset or the meter replaced."""
        now = self.clock()
        at = self._at(at)
        with self._db.transaction(write=True) as tx:
            self._asset(tx, asset_no)
            neighbours = [
                Neighbour(float(r.value), utc(r.at))
                for before in (True, False)
                for r in tx.execute(
                    neighbour_readings_query(asset_no, point, at, before=before)
                ).scalars()
            ]
            before = next((n for n in neighbours if n.at <= at), None)
            after = next((n for n in neighbours if n.at > at), None)
            check_reading(
                asset_no, point, float(value), at, now,
                counters=counters, before=before, after=after, reset=reset,
            )  # fmt: skip
            tx.add(
                MeterReadingRow(
                    asset_no=asset_no, point=point, value=float(value), at=at, source=source,
                    work_order_id=None, actor=actor_name(actor),
                )
            )  # fmt: skip
            tx.add(
                audit_row(
                    actor, "meter.reading", asset_no,
                    {"point": point, "value": float(value), "at": at.isoformat(), "reset": reset},
                    at=now,
                )
            )  # fmt: skip

    def attach(
        self,
        number: str,
        *,
        sha256: str,
        kind: str,
        mime: str,
        size: int,
        position: int | None = None,
        actor: str | Principal = SYSTEM_USER,
        at: datetime | None = None,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """A photo or signature (already in the attachment store under ``sha256``) added to
        an order that is not final; a photo for checklist item ``position`` (a photo item,
        the order in progress) answers that item."""
        if kind not in ATTACHMENT_KINDS:
            raise WorkOrderError(f"{number}: attachment kind {kind!r}: expected photo or signature")
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise WorkOrderError(f"{number}: attachment: expected a sha256 checksum")
        at = self._at(at)
        name = actor_name(actor)

        def apply(tx: Tx, row: WorkOrderRow) -> None:
            self._not_final(row, f"attach a {kind} to")
            if position is not None:
                if kind != "photo":
                    raise WorkOrderError(f"{row.number}: only a photo answers a checklist item")
                item = next(
                    (
                        i
                        for i in tx.rows(ChecklistItemRow, work_order_id=row.id)
                        if i.position == position
                    ),
                    None,
                )
                if item is None or item.kind != ChecklistKind.PHOTO.value:
                    raise WorkOrderError(
                        f"{row.number}: checklist item {position} is not a photo item"
                    )
                if WoState(row.state) is not WoState.IN_PROGRESS:
                    raise WorkOrderError(
                        f"{row.number}: cannot answer item {position}: the order is "
                        f"{row.state}; start it first"
                    )
                item.passed = True
                item.value_text = f"attachment:{sha256}"
                item.answered_at = at
                item.answered_by = name
            tx.add(
                WoAttachmentRow(
                    work_order_id=row.id, sha256=sha256, kind=kind, mime=mime[:40], size=size,
                    position=position, actor=name, at=at,
                )
            )  # fmt: skip
            detail = {"sha256": sha256, "kind": kind, "size": size, "position": position}
            add_event(tx, row, name, "attached", None, None, kind, at, detail)

        # a photo or signature is part of working the order: the same permission as recording
        return self._change(number, apply, at, actor=actor, action="record", submission=submission)

    def attachment_sites(self, sha256: str) -> set[str]:
        """The estates of the orders a stored file belongs to (who may see it)."""
        with self._db.transaction() as tx:
            rows = tx.rows(WoAttachmentRow, sha256=sha256)
            return {
                order.site
                for order in (tx.get(WorkOrderRow, r.work_order_id) for r in rows)
                if order is not None
            }

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

        order = self._change(number, apply, now, actor=FIX_CHECKER, action="proof_of_fix")
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
        self,
        number: str,
        apply: Callable[[Tx, WorkOrderRow], object],
        at: datetime,
        *,
        actor: str | Principal,
        action: str,
        submission: Submission | None = None,
    ) -> WorkOrder:
        """Lock the order; if ``actor`` is a person, check they may do ``action`` on it;
        apply the change and write its audit row, in one transaction. A refusal changes
        nothing and is audited. With a ``submission``: a key seen before is
        ``AlreadyApplied`` (nothing done again), a version other than the one the sender saw
        is an ``OrderConflict``; the key is stored with the change, in the same transaction."""
        try:
            with self._db.transaction(write=True) as tx:
                row = self._row(tx, number, lock=True)
                if submission is not None:
                    self._check_submission(tx, row, actor, action, submission)
                backdated = self._check_step(tx, row, actor, action, at)
                before = row.state
                apply(tx, row)
                row.updated_at = at
                row.version = (row.version or 0) + 1
                if submission is not None:
                    tx.add(
                        WoSubmissionRow(
                            key=submission.key, work_order_id=row.id, actor=actor_name(actor),
                            action=action, version=row.version, at=at,
                        )
                    )  # fmt: skip
                detail: dict[str, object] = {
                    "from": before,
                    "to": row.state,
                    "assignee": row.assignee,
                }
                if submission is not None:
                    detail["key"] = submission.key
                if backdated:
                    detail["backdated"] = True  # typed in later (a paper sheet)
                    detail["entered_at"] = self.clock().isoformat()
                tx.add(audit_row(actor, f"wo_{action}", row.number, detail, at=at))
                tx.flush()
                return self._order(tx, row, full=True)
        except (PermissionDenied, OrderConflict) as exc:
            with self._db.transaction(write=True) as tx:
                refused = {"action": action, "reason": str(exc)}
                tx.add(audit_row(actor, "refused", number, refused, at=at))
            raise

    def _check_step(
        self, tx: Tx, row: WorkOrderRow, actor: str | Principal, action: str, at: datetime
    ) -> bool:
        """May ``actor`` do ``action`` at ``at``? Permission, separation of duties, and a
        time after the order's previous step; True if the step is back-dated."""
        events = list(tx.execute(last_events_query(row.id)).scalars())
        previous = max([utc(row.created_at), *(utc(e.at) for e in events[:1])])
        if not isinstance(actor, Principal):
            # services (generator, proof of fix, simulations) date their own steps; only
            # an order's own order of events is checked
            if at < utc(row.created_at):
                check_when(row.number, at, now=at, not_before=previous, max_back=None)
            return False
        check_permission(actor, action, row.number, row.site, row.assignee)
        rule = rule_of(action)
        if self.separate_verify and rule is not None and rule.not_by is not None:
            by = next((e.actor for e in events if e.action == rule.not_by), None)
            check_duties(row.number, actor.name, action, by)
        return check_when(
            row.number, at, now=self.clock(), not_before=previous, max_back=self.backdate_max
        )

    def _check_submission(
        self,
        tx: Tx,
        row: WorkOrderRow,
        actor: str | Principal,
        action: str,
        submission: Submission,
    ) -> None:
        """AlreadyApplied for a key seen before, OrderConflict for a stale version."""
        if not KEY_RE.fullmatch(submission.key):
            raise WorkOrderError(
                f"{row.number}: idempotency key: expected 8-64 letters, digits, '-' or '_'"
            )
        prior = tx.get(WoSubmissionRow, submission.key)
        if prior is not None:
            if prior.work_order_id != row.id or prior.actor != actor_name(actor):
                raise WorkOrderError(
                    f"{row.number}: idempotency key {submission.key} was already used for "
                    "another order or person; a new change needs a new key"
                )
            raise AlreadyApplied(
                f"{row.number}: {prior.action} was already applied (key {submission.key}); "
                "not applied again",
                number=row.number,
                action=prior.action,
                version=prior.version,
            )
        version = row.version or 0
        if submission.base_version is None or submission.base_version == version:
            return
        events = tx.rows(WorkOrderEventRow, work_order_id=row.id, order_by=["at", "id"])
        last = events[-1] if events else None
        said = (
            f"; last change: {last.action} by {last.actor} at {last.at:%Y-%m-%d %H:%M} UTC"
            if last is not None
            else ""
        )
        raise OrderConflict(
            f"{row.number} changed since you opened it (version {submission.base_version}, "
            f"now {version}): it is {row.state}, assigned to {row.assignee or 'nobody'}{said}. "
            f"Your {action} was not applied; open the order again and redo it if it still "
            "applies."
        )

    @staticmethod
    def _not_final(row: WorkOrderRow, what: str) -> None:
        state = WoState(row.state)
        if state in (WoState.CLOSED, WoState.CANCELLED):
            raise WorkOrderError(f"{row.number}: cannot {what} a {state.value} order")


def _code(code: str | None) -> str | None:
    return code.strip().upper() if code else None


ATTACHING = ATTACHING_STATES  # re-exported for the dashboard: states that take repeats
