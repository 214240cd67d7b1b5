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

Where the rest lives: reads in ``maintenance.wo_queries``; raising corrective orders (alarm
repeats attach) in ``maintenance.wo_corrective``; recording the work (checklist answers,
labour, parts, meter readings, attachments) and proof of fix in ``maintenance.wo_recording``;
the rows (numbering, writing, mapping back) in ``maintenance.wo_rows``; notices in
``maintenance.wo_notice``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from facility.errors import PermissionDenied
from maintenance.db import Database, Tx
from maintenance.identity.audit import audit_row
from maintenance.identity.roles import Principal, actor_name
from maintenance.telemetry import MeterSource
from maintenance.wo_corrective import SYSTEM_USER
from maintenance.wo_corrective import RaiseResult as RaiseResult
from maintenance.wo_lifecycle import (
    RULES,
    AlreadyApplied,
    OrderConflict,
    Submission,
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
from maintenance.wo_recording import WorkRecording
from maintenance.wo_rows import (
    Effect,
    Said,
    cancel_effect,
    checklist_of,
    rebase_plan,
    reopen_effect,
    transition_row,
    verify_effect,
)
from maintenance.wo_rows import utc as utc
from maintenance.wo_schema import (
    WorkOrderEventRow,
    WorkOrderRow,
    WoSubmissionRow,
    last_events_query,
)
from maintenance.workorders import (
    ATTACHING_STATES,
    DEFAULT_SLA,
    CodeKind,
    FixVerdict,
    SlaTargets,
    WoKind,
    WorkOrder,
    WorkOrderError,
    completion_problems,
)

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _now() -> datetime:
    return datetime.now(UTC)


class WorkOrderStore(WorkRecording):
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


def _code(code: str | None) -> str | None:
    return code.strip().upper() if code else None


ATTACHING = ATTACHING_STATES  # re-exported for the dashboard: states that take repeats
