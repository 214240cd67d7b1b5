"""Table tests of the work-order lifecycle table (maintenance.wo_lifecycle): pure, no I/O."""

from __future__ import annotations

import re

import pytest

from facility.errors import PermissionDenied
from maintenance.identity.roles import Permission, Principal, parse_roles, parse_sites
from maintenance.wo_lifecycle import (
    ACTION_PERMISSION,
    LIFECYCLE,
    RULES,
    Transition,
    WorkOrderError,
    WoState,
    allowed_from,
    check_duties,
    check_permission,
    plan_step,
    require,
)

S = WoState
T = Transition
NUMBER = "WO-HT-2026-00001"

# (from, action, to, event word, times set if unset, times stamped, times cleared)
ALLOWED = [
    (S.OPEN, T.ASSIGN, S.ASSIGNED, "assigned", ("responded_at",), (), ()),
    (S.ASSIGNED, T.ASSIGN, S.ASSIGNED, "assigned", ("responded_at",), (), ()),
    (S.IN_PROGRESS, T.ASSIGN, S.IN_PROGRESS, "assigned", ("responded_at",), (), ()),
    (S.ON_HOLD, T.ASSIGN, S.ON_HOLD, "assigned", ("responded_at",), (), ()),
    (S.ASSIGNED, T.DECLINE, S.OPEN, "declined", (), (), ()),
    (S.OPEN, T.START, S.IN_PROGRESS, "started", ("responded_at", "started_at"), (), ()),
    (S.ASSIGNED, T.START, S.IN_PROGRESS, "started", ("responded_at", "started_at"), (), ()),
    (S.ON_HOLD, T.START, S.IN_PROGRESS, "resumed", ("responded_at", "started_at"), (), ()),
    (S.IN_PROGRESS, T.HOLD, S.ON_HOLD, "held", (), (), ()),
    (S.IN_PROGRESS, T.COMPLETE, S.COMPLETED, "completed", (), ("completed_at",), ()),
    (S.COMPLETED, T.VERIFY, S.VERIFIED, "verified", (), ("verified_at",), ()),
    (S.COMPLETED, T.REOPEN, S.IN_PROGRESS, "reopened", (), (), ("completed_at", "verified_at")),
    (S.VERIFIED, T.REOPEN, S.IN_PROGRESS, "reopened", (), (), ("completed_at", "verified_at")),
    (S.VERIFIED, T.CLOSE, S.CLOSED, "closed", (), ("closed_at",), ()),
    (S.OPEN, T.CANCEL, S.CANCELLED, "cancelled", (), ("cancelled_at",), ()),
    (S.ASSIGNED, T.CANCEL, S.CANCELLED, "cancelled", (), ("cancelled_at",), ()),
    (S.IN_PROGRESS, T.CANCEL, S.CANCELLED, "cancelled", (), ("cancelled_at",), ()),
    (S.ON_HOLD, T.CANCEL, S.CANCELLED, "cancelled", (), ("cancelled_at",), ()),
]
ALLOWED_PAIRS = {(state, action) for state, action, *_ in ALLOWED}
REFUSED = [(s, t) for s in WoState for t in Transition if (s, t) not in ALLOWED_PAIRS]


@pytest.mark.parametrize(
    ("before", "action", "after", "event", "first", "stamps", "clears"), ALLOWED
)
def test_every_allowed_step(
    before: WoState,
    action: Transition,
    after: WoState,
    event: str,
    first: tuple[str, ...],
    stamps: tuple[str, ...],
    clears: tuple[str, ...],
) -> None:
    step = plan_step(NUMBER, before, action)
    assert (step.action, step.before, step.after, step.event) == (action, before, after, event)
    assert (step.rule.first, step.rule.stamps, step.rule.clears) == (first, stamps, clears)


def test_the_table_is_exactly_the_allowed_list() -> None:
    assert set(LIFECYCLE) == ALLOWED_PAIRS
    assert len(REFUSED) == len(WoState) * len(Transition) - len(ALLOWED) == 54


@pytest.mark.parametrize(("state", "action"), REFUSED)
def test_every_refused_step(state: WoState, action: Transition) -> None:
    with pytest.raises(WorkOrderError) as caught:
        plan_step(NUMBER, state, action)
    text = str(caught.value)
    assert text.startswith(f"{NUMBER}: cannot {action.value}: the order is {state.value}; ")
    hint = text.split("; ", 1)[1]
    assert hint  # says what to do instead
    if state in (S.CLOSED, S.CANCELLED):
        assert hint == f"a {state.value} order is final"


@pytest.mark.parametrize(
    ("action", "froms"),
    [
        (T.ASSIGN, {S.OPEN, S.ASSIGNED, S.IN_PROGRESS, S.ON_HOLD}),
        (T.START, {S.OPEN, S.ASSIGNED, S.ON_HOLD}),
        (T.HOLD, {S.IN_PROGRESS}),
        (T.COMPLETE, {S.IN_PROGRESS}),
        (T.VERIFY, {S.COMPLETED}),
        (T.REOPEN, {S.COMPLETED, S.VERIFIED}),
        (T.CLOSE, {S.VERIFIED}),
        (T.CANCEL, {S.OPEN, S.ASSIGNED, S.IN_PROGRESS, S.ON_HOLD}),
    ],
)
def test_allowed_from(action: Transition, froms: set[WoState]) -> None:
    assert allowed_from(action) == froms


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (T.ASSIGN, f"{NUMBER}: assign: expected the technician's name"),
        (T.HOLD, f"{NUMBER}: hold: expected a reason (--reason)"),
        (T.REOPEN, f"{NUMBER}: reopen: expected a reason"),
        (T.CANCEL, f"{NUMBER}: cancel: expected a reason (--reason)"),
    ],
)
@pytest.mark.parametrize("blank", ["", "   "])
def test_required_arguments(action: Transition, message: str, blank: str) -> None:
    with pytest.raises(WorkOrderError) as caught:
        require(NUMBER, action, blank)
    assert str(caught.value) == message
    require(NUMBER, action, "waiting for parts")  # given: no error


@pytest.mark.parametrize("action", [T.START, T.COMPLETE, T.VERIFY, T.CLOSE])
def test_actions_without_required_arguments(action: Transition) -> None:
    assert RULES[action].needs is None
    require(NUMBER, action, "")


# --- who may: (roles, estates, action, order's site, assignee) -> None or the refusal ---------

TECH = ("technician",)
SUP = ("supervisor",)
PERMISSION_CASES = [
    (TECH, "HT", "start", "HT", "zhao.li", None),
    (TECH, "HT", "start", "HT", None, None),  # unassigned: starting takes it
    (TECH, "HT", "complete", "HT", "zhao.li", None),
    (TECH, "HT", "complete", "HT", None, "only work orders assigned to them"),
    (TECH, "HT", "start", "HT", "qian.bo", "assigned to qian.bo"),
    (TECH, "JU", "start", "HT", "zhao.li", "may not act on estate HT"),
    (TECH, "HT", "assign", "HT", "zhao.li", "may not wo.assign"),
    (TECH, "HT", "verify", "HT", "zhao.li", "may not wo.verify"),
    (TECH, "HT", "cancel", "HT", "zhao.li", "may not wo.assign"),
    (SUP, "HT", "start", "HT", "qian.bo", None),
    (SUP, "HT", "verify", "HT", "qian.bo", None),
    (SUP, "HT", "assign", "HT", None, None),
    (SUP, "HT", "close", "JU", None, "may not act on estate JU"),
    (("operator",), "*", "start", "HT", "zhao.li", "may not wo.work_any"),
    (("admin",), "*", "verify", "HT", None, "may not wo.verify"),
]


@pytest.mark.parametrize(
    ("roles", "site", "action", "order_site", "assignee", "refusal"), PERMISSION_CASES
)
def test_who_may_act_on_an_order(
    roles: tuple[str, ...],
    site: str,
    action: str,
    order_site: str,
    assignee: str | None,
    refusal: str | None,
) -> None:
    person = Principal("zhao.li", parse_roles(roles), parse_sites([site]))
    if refusal is None:
        check_permission(person, action, NUMBER, order_site, assignee)
        return
    with pytest.raises(PermissionDenied, match=re.escape(refusal)):
        check_permission(person, action, NUMBER, order_site, assignee)


def test_every_lifecycle_action_has_a_permission() -> None:
    assert {t.value for t in Transition} <= set(ACTION_PERMISSION)


# --- the rest of each row: who may, whose step it may not follow, who hears of it -----------

P = Permission
WORK = (P.WO_WORK_ANY, P.WO_WORK_OWN)
# action -> (who may: anyone's order / own order, separated from the actor of, notice, the
# notice carries the reason, logged)
ROWS = [
    (T.ASSIGN, (P.WO_ASSIGN, None), None, "assigned", False, False),
    (T.DECLINE, WORK, None, "declined", True, False),
    (T.START, WORK, None, None, False, False),
    (T.HOLD, WORK, None, None, False, False),
    (T.COMPLETE, WORK, None, None, False, True),
    (T.VERIFY, (P.WO_VERIFY, None), "completed", "verified", False, False),
    (T.REOPEN, (P.WO_VERIFY, None), None, "reopened", True, False),
    (T.CLOSE, (P.WO_VERIFY, None), None, None, False, False),
    (T.CANCEL, (P.WO_ASSIGN, None), None, None, False, False),
]


@pytest.mark.parametrize(("action", "may", "not_by", "notice", "notice_note", "logged"), ROWS)
def test_each_row_says_who_may_and_who_hears(
    action: Transition,
    may: tuple[Permission, Permission | None],
    not_by: str | None,
    notice: str | None,
    notice_note: bool,
    logged: bool,
) -> None:
    rule = RULES[action]
    assert (rule.may, rule.not_by, rule.notice, rule.notice_note, rule.logged) == (
        may, not_by, notice, notice_note, logged,
    )  # fmt: skip
    assert ACTION_PERMISSION[action.value] == may  # the permission check reads the same row


def test_the_rows_cover_every_action() -> None:
    assert [row[0] for row in ROWS] == list(Transition)


@pytest.mark.parametrize(
    ("action", "recorded_by", "refusal"),
    [
        ("verify", "zhao.li", "zhao.li completed WO-HT-2026-00001: another person verifies it"),
        ("verify", "qian.bo", None),
        ("verify", None, None),  # never completed (cannot happen) or completed by a service
        ("close", "zhao.li", None),  # only verify is separated
        ("record", "zhao.li", None),  # not a lifecycle action: no rule, no duty
    ],
)
def test_separation_of_duties(action: str, recorded_by: str | None, refusal: str | None) -> None:
    if refusal is None:
        check_duties(NUMBER, "zhao.li", action, recorded_by)
        return
    with pytest.raises(PermissionDenied, match=re.escape(refusal)):
        check_duties(NUMBER, "zhao.li", action, recorded_by)
