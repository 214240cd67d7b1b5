"""What the technician's phone sees of an order and may do with it (pure: no I/O).

``order_json`` and ``summary_json`` shape a ``WorkOrder`` for the phone's JSON API
(``dashboards.api``); ``allowed_actions`` asks the lifecycle table and the permission rules of
``maintenance.wo_lifecycle`` — the same ones the store applies in its transaction — which
buttons to show. Showing a button is a courtesy: the store checks again.

One due time everywhere: the completion due (``completion_due``), as the CLI and the printed
sheet show it; ``due_at`` is a plan's slot start and is never shown as "due".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from facility.errors import PermissionDenied
from maintenance.identity.roles import Permission, Principal
from maintenance.wo_lifecycle import Transition, WoState, check_permission, plan_step
from maintenance.workorders import (
    ChecklistLine,
    CodeKind,
    FailureCode,
    WoKind,
    WorkOrder,
    WorkOrderError,
)

#: What the phone asks for → (the store's permission action, the lifecycle step or None).
ACTIONS: dict[str, tuple[str, Transition | None]] = {
    "start": ("start", Transition.START),
    "decline": ("decline", Transition.DECLINE),
    "hold": ("hold", Transition.HOLD),
    "record": ("record", None),
    "labour": ("labour", None),
    "part": ("part", None),
    "photo": ("record", None),
    "signature": ("record", None),
    "complete": ("complete", Transition.COMPLETE),
    "assign": ("assign", Transition.ASSIGN),
    "verify": ("verify", Transition.VERIFY),
    "reopen": ("reopen", Transition.REOPEN),
    "close": ("close", Transition.CLOSE),
}
WORKING = frozenset({WoState.IN_PROGRESS})
NOT_FINAL = frozenset(set(WoState) - {WoState.CLOSED, WoState.CANCELLED})


def allowed_actions(order: WorkOrder, person: Principal) -> list[str]:
    """The actions ``person`` may take on ``order`` now (in the order of ``ACTIONS``)."""
    allowed = []
    for name, (permission_action, step) in ACTIONS.items():
        try:
            check_permission(person, permission_action, order.number, order.site, order.assignee)
            if step is not None:
                plan_step(order.number, order.state, step)
        except (PermissionDenied, WorkOrderError):
            continue
        if step is None:
            states = NOT_FINAL if name in ("labour", "part", "signature") else WORKING
            if order.state not in states:
                continue
        allowed.append(name)
    return allowed


def _line_json(line: ChecklistLine) -> dict[str, Any]:
    attachment = None
    if line.value_text and line.value_text.startswith("attachment:"):
        attachment = line.value_text.removeprefix("attachment:")
    return {
        "position": line.position,
        "text_en": line.text_en,
        "text_zh": line.text_zh,
        "kind": line.kind.value,
        "required": line.required,
        "unit": line.unit,
        "low": line.low,
        "high": line.high,
        "answered": line.answered,
        "passed": line.passed,
        "value_num": line.value_num,
        "value_text": None if attachment else line.value_text,
        "attachment": attachment,
        "answered_by": line.answered_by,
    }


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def summary_json(
    order: WorkOrder, person: Principal, tz: ZoneInfo, now: datetime
) -> dict[str, Any]:
    """One card of My work: the completion due and the seconds left to it (negative: late)."""
    return {
        "number": order.number,
        "site": order.site,
        "asset_no": order.asset_no,
        "kind": order.kind.value,
        "state": order.state.value,
        "priority": order.priority.value,
        "title_en": order.title_en,
        "title_zh": order.title_zh,
        "assignee": order.assignee,
        "mine": order.assignee == person.name,
        "due": order.completion_due.isoformat(),
        "due_local": _when(order.completion_due, tz),
        "due_in_s": int((order.completion_due - now).total_seconds()),
        "version": order.version,
    }


def order_json(
    order: WorkOrder,
    person: Principal,
    tz: ZoneInfo,
    now: datetime,
    catalogue: Mapping[str, FailureCode],
) -> dict[str, Any]:
    """The whole order for the phone: checklist, codes to pick, lines, proof of fix, events,
    and what this person may do now."""
    codes: dict[str, list[dict[str, str]]] = {kind.value: [] for kind in CodeKind}
    if order.kind is WoKind.CORRECTIVE:
        for code in catalogue.values():
            codes[code.kind.value].append(
                {"code": code.code, "en": code.label_en, "zh": code.label_zh}
            )
    return {
        **summary_json(order, person, tz, now),
        "description": order.description,
        "respond_by_local": _when(order.response_due, tz),
        "parent_number": order.parent_number,
        "problem_code": order.problem_code,
        "cause_code": order.cause_code,
        "remedy_code": order.remedy_code,
        "completion_note": order.completion_note,
        "verification": dict(order.verification) if order.verification else None,
        "checklist": [_line_json(line) for line in order.checklist],
        "codes": codes,
        "labour": [
            {"technician": x.technician, "minutes": x.minutes, "note": x.note} for x in order.labour
        ],
        "parts": [
            {"description": p.description, "quantity": p.quantity, "unit": p.unit}
            for p in order.parts
        ],
        "attachments": [
            {"sha256": a.sha256, "kind": a.kind, "position": a.position, "actor": a.actor}
            for a in order.attachments
        ],
        "events": [
            {
                "at_local": _when(e.at, tz),
                "actor": e.actor,
                "action": e.action,
                "note": e.note,
            }
            for e in order.events[-20:]
        ],
        "allowed": allowed_actions(order, person),
    }


def my_work(orders: Iterable[WorkOrder], person: Principal) -> list[WorkOrder]:
    """My work: the person's own orders and the team's unassigned ones in their estates; a
    supervisor (who assigns and verifies) sees every open order and those awaiting
    verification or closing. Most urgent first, then by completion due."""
    supervises = person.can(Permission.WO_ASSIGN) or person.can(Permission.WO_VERIFY)
    picked = [
        o
        for o in orders
        if person.sees(o.site)
        and (
            supervises
            or (o.is_open and (o.assignee == person.name or not o.assignee))
            or (o.assignee == person.name and o.state is WoState.COMPLETED)
        )
    ]
    return sorted(picked, key=lambda o: (o.priority.rank, o.completion_due, o.number))
