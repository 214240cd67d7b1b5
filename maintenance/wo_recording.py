"""Recording the work on an order, and proof of fix.

``WorkRecording`` is the part of ``maintenance.wo_store.WorkOrderStore`` that records what was
done: checklist answers (a meter item also writes a meter reading; a failed item may raise a
corrective order), labour and part lines, counter readings typed in, photos and signatures;
and proof of fix, which checks a completed corrective order against telemetry and verifies
or reopens it. Every change goes through the store's ``_change`` (lock, permission, audit,
idempotency key), the same as the lifecycle actions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from device_profiles.models import ChecklistKind
from maintenance.db import Tx
from maintenance.identity.audit import audit_row
from maintenance.identity.roles import Principal, actor_name
from maintenance.meter_input import Neighbour, check_reading
from maintenance.telemetry import SeriesSource
from maintenance.wo_corrective import SYSTEM_USER, CorrectiveOrders
from maintenance.wo_lifecycle import Submission
from maintenance.wo_rows import add_event, line_of, reopen_row, utc, verify_row
from maintenance.wo_schema import (
    ChecklistItemRow,
    LabourRow,
    MeterReadingRow,
    PartLineRow,
    WoAttachmentRow,
    WorkOrderRow,
    neighbour_readings_query,
)
from maintenance.workorders import (
    ChecklistLine,
    FixCheck,
    FixVerdict,
    Signal,
    WorkOrder,
    WorkOrderError,
    WoState,
    check_fix,
    parse_answer,
)

log = logging.getLogger(__name__)

FIX_CHECKER = "proof-of-fix"
ATTACHMENT_KINDS = ("photo", "signature")


class ChangeOrder(Protocol):
    """The store's ``_change``: lock the order, check who may, apply, audit, in one
    transaction."""

    def __call__(
        self,
        number: str,
        apply: Callable[[Tx, WorkOrderRow], object],
        at: datetime,
        *,
        actor: str | Principal,
        action: str,
        submission: Submission | None = None,
    ) -> WorkOrder: ...


class WorkRecording(CorrectiveOrders):
    """Recording the work and proof of fix (the store sets ``clock`` and ``proof_hold`` and
    provides ``_change``)."""

    proof_hold: timedelta
    _change: ChangeOrder

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

    @staticmethod
    def _not_final(row: WorkOrderRow, what: str) -> None:
        state = WoState(row.state)
        if state in (WoState.CLOSED, WoState.CANCELLED):
            raise WorkOrderError(f"{row.number}: cannot {what} a {state.value} order")
