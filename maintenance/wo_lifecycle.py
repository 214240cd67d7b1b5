"""The work-order lifecycle as one table: pure data and one pure function, no I/O.

Lifecycle (each transition is recorded with user and time)::

    open ──assign──▶ assigned ──start──▶ in_progress ──complete──▶ completed ──verify──▶ verified
      │                  ▲                 │     ▲                   │   (or proof of fix)     │
      └──start───────────┼────────────────▶│     │                   └──reopen──▶ in_progress  close
                         │          hold ──▼     │ start                                      ▼
                         │              on_hold ─┘                                          closed
    open, assigned, in_progress, on_hold ──cancel──▶ cancelled
    assigned ──decline (with a reason)──▶ open (unassigned: the supervisor assigns it again)

``LIFECYCLE`` maps ``(from_state, action)`` to the state it leads to and the word its event
is recorded under; ``RULES`` says, per action, what the request must carry, which of the
order's times it stamps, who may take it (the permission on the order's estate, and whose
step it may not follow: separation of duties), and who hears of it afterwards (the notice).
``plan_step`` reads both: the one place the store asks "may this order do that, and what
changes"; ``WorkOrderStore._act`` is the one method that takes a row of the table. A pair
not in the table is a ``WorkOrderError`` naming the order, its state and what to do instead;
the caller changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from facility.errors import ConfigError, PermissionDenied
from maintenance.identity.roles import Permission, Principal


class WorkOrderError(ConfigError):
    """A work-order request that the lifecycle or the data does not allow (nothing changed)."""


class OrderConflict(WorkOrderError):
    """An offline change made on an order that someone else changed meanwhile (reassigned,
    closed...): it is not applied; the message says what the order is now."""


class AlreadyApplied(WorkOrderError):
    """A submit whose idempotency key was applied before (a retry): nothing is applied again;
    ``version`` is the order's version right after the first time."""

    def __init__(self, message: str, *, number: str, action: str, version: int) -> None:
        super().__init__(message)
        self.number = number
        self.action = action
        self.version = version


@dataclass(frozen=True)
class Submission:
    """A change sent from a phone's queue: its idempotency key (a retry with the same key is
    answered ``AlreadyApplied``, never applied twice) and the order version the technician
    saw (``None``: not checked; another version is an ``OrderConflict``)."""

    key: str
    base_version: int | None = None


class WoState(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    VERIFIED = "verified"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# Not yet done: these block the next occurrence of a plan under the skip policy.
OPEN_STATES = frozenset({WoState.OPEN, WoState.ASSIGNED, WoState.IN_PROGRESS, WoState.ON_HOLD})
# A corrective order in these states takes further alarms of its condition (repeats attach).
ATTACHING_STATES = OPEN_STATES | {WoState.COMPLETED}
FINAL_STATES = frozenset({WoState.CLOSED, WoState.CANCELLED})


class Transition(StrEnum):
    """What a user (or proof of fix, or the generator) asks of an order."""

    ASSIGN = "assign"
    DECLINE = "decline"  # the technician gives an assigned order back, with the reason
    START = "start"
    HOLD = "hold"
    COMPLETE = "complete"
    VERIFY = "verify"
    REOPEN = "reopen"
    CLOSE = "close"
    CANCEL = "cancel"


S = WoState
T = Transition

# (from_state, action) -> (to_state, the event's action word). Every pair not listed is refused.
LIFECYCLE: dict[tuple[WoState, Transition], tuple[WoState, str]] = {
    (S.OPEN, T.ASSIGN): (S.ASSIGNED, "assigned"),
    (S.ASSIGNED, T.ASSIGN): (S.ASSIGNED, "assigned"),  # reassign
    (S.IN_PROGRESS, T.ASSIGN): (S.IN_PROGRESS, "assigned"),  # handed over mid-work
    (S.ON_HOLD, T.ASSIGN): (S.ON_HOLD, "assigned"),
    (S.ASSIGNED, T.DECLINE): (S.OPEN, "declined"),
    (S.OPEN, T.START): (S.IN_PROGRESS, "started"),
    (S.ASSIGNED, T.START): (S.IN_PROGRESS, "started"),
    (S.ON_HOLD, T.START): (S.IN_PROGRESS, "resumed"),
    (S.IN_PROGRESS, T.HOLD): (S.ON_HOLD, "held"),
    (S.IN_PROGRESS, T.COMPLETE): (S.COMPLETED, "completed"),
    (S.COMPLETED, T.VERIFY): (S.VERIFIED, "verified"),
    (S.COMPLETED, T.REOPEN): (S.IN_PROGRESS, "reopened"),
    (S.VERIFIED, T.REOPEN): (S.IN_PROGRESS, "reopened"),
    (S.VERIFIED, T.CLOSE): (S.CLOSED, "closed"),
    (S.OPEN, T.CANCEL): (S.CANCELLED, "cancelled"),
    (S.ASSIGNED, T.CANCEL): (S.CANCELLED, "cancelled"),
    (S.IN_PROGRESS, T.CANCEL): (S.CANCELLED, "cancelled"),
    (S.ON_HOLD, T.CANCEL): (S.CANCELLED, "cancelled"),
}


P = Permission
# Who may: (permission for anyone's order, permission for one's own order or None). "Own":
# assigned to the person; an unassigned order may be started by whoever may work their own
# (starting it assigns it to them, see WorkOrderStore.start).
SUPERVISE: tuple[Permission, Permission | None] = (P.WO_ASSIGN, None)
WORK: tuple[Permission, Permission | None] = (P.WO_WORK_ANY, P.WO_WORK_OWN)
VERIFY: tuple[Permission, Permission | None] = (P.WO_VERIFY, None)


@dataclass(frozen=True)
class Rule:
    """What one action needs, which of the order's times it sets, who may take it and who
    hears of it.

    ``needs``: the argument that must not be blank, and the words that ask for it;
    ``first``: times set only when not yet set (the first response stays the first);
    ``stamps``: times set to the moment of the action; ``clears``: times it unsets;
    ``may``: the permissions it needs (anyone's order, one's own order);
    ``not_by``: separation of duties — whoever recorded this event on the order may not
    take the step, and ``duty`` says who does instead (``[maintenance] separate_verify``);
    ``notice``: the notice sent after the commit (None: none), ``notice_note``: whether the
    note (the reason) goes with it; ``logged``: the step is logged at INFO.
    """

    may: tuple[Permission, Permission | None]
    needs: str | None = None
    first: tuple[str, ...] = ()
    stamps: tuple[str, ...] = ()
    clears: tuple[str, ...] = ()
    not_by: str | None = None
    duty: str = ""
    notice: str | None = None
    notice_note: bool = False
    logged: bool = False


RULES: dict[Transition, Rule] = {
    T.ASSIGN: Rule(SUPERVISE, needs="the technician's name", first=("responded_at",),
                   notice="assigned"),
    T.DECLINE: Rule(WORK, needs="a reason (--reason)", notice="declined", notice_note=True),
    T.START: Rule(WORK, first=("responded_at", "started_at")),
    T.HOLD: Rule(WORK, needs="a reason (--reason)"),
    T.COMPLETE: Rule(WORK, stamps=("completed_at",), logged=True),
    T.VERIFY: Rule(VERIFY, stamps=("verified_at",), not_by="completed",
                   duty="another person verifies it", notice="verified"),
    T.REOPEN: Rule(VERIFY, needs="a reason", clears=("completed_at", "verified_at"),
                   notice="reopened", notice_note=True),
    T.CLOSE: Rule(VERIFY, stamps=("closed_at",)),
    T.CANCEL: Rule(SUPERVISE, needs="a reason (--reason)", stamps=("cancelled_at",)),
}  # fmt: skip


# What to say when an action is asked from a state that does not allow it.
_HINTS: dict[tuple[Transition, WoState], str] = {
    (T.CLOSE, S.COMPLETED): "verify it first (facility wo verify {number})",
    (T.CLOSE, S.IN_PROGRESS): "complete and verify it first",
    (T.CLOSE, S.OPEN): "it has not been worked yet; cancel it if it is not needed",
    (T.COMPLETE, S.OPEN): "start it first (facility wo start {number})",
    (T.COMPLETE, S.ASSIGNED): "start it first (facility wo start {number})",
    (T.COMPLETE, S.ON_HOLD): "resume it first (facility wo start {number})",
    (T.VERIFY, S.IN_PROGRESS): "complete it first",
    (T.START, S.IN_PROGRESS): "it is already in progress",
    (T.HOLD, S.ON_HOLD): "it is already on hold",
}


@dataclass(frozen=True)
class Step:
    """One allowed transition: where it leads, what its event says, what times it sets."""

    action: Transition
    before: WoState
    after: WoState
    event: str
    rule: Rule


def allowed_from(action: Transition) -> frozenset[WoState]:
    """The states ``action`` may start from."""
    return frozenset(state for state, act in LIFECYCLE if act is action)


def require(number: str, action: Transition, value: str) -> None:
    """WorkOrderError when ``action`` needs an argument and ``value`` is blank."""
    needs = RULES[action].needs
    if needs is not None and not value.strip():
        raise WorkOrderError(f"{number}: {action.value}: expected {needs}")


def plan_step(number: str, state: WoState, action: Transition) -> Step:
    """The step ``action`` takes from ``state``, or WorkOrderError saying why not and what to
    do instead."""
    found = LIFECYCLE.get((state, action))
    if found is None:
        hint = _HINTS.get((action, state))
        if hint is None and state in FINAL_STATES:
            hint = f"a {state.value} order is final"
        if hint is None:
            froms = ", ".join(sorted(s.value for s in allowed_from(action)))
            hint = f"{action.value} applies to orders that are {froms}"
        raise WorkOrderError(
            f"{number}: cannot {action.value}: the order is {state.value}; "
            + hint.format(number=number)
        )
    after, event = found
    return Step(action, state, after, event, RULES[action])


def next_state(number: str, state: WoState, transition: Transition) -> WoState:
    """The state after ``transition``, or WorkOrderError saying why not and what to do."""
    return plan_step(number, state, transition).after


# --- who may: the permission an action needs on the order's estate -----------------------------

# action -> who may (see Rule.may): the lifecycle's rows, and what else is done to an order.
ACTION_PERMISSION: dict[str, tuple[Permission, Permission | None]] = {
    **{action.value: rule.may for action, rule in RULES.items()},
    "raise": SUPERVISE,
    "record": WORK,
    "labour": WORK,
    "part": WORK,
}


def check_permission(
    person: Principal, action: str, number: str, site: str, assignee: str | None
) -> None:
    """Return quietly if ``person`` may do ``action`` on order ``number`` (of ``site``,
    assigned to ``assignee``); PermissionDenied saying what is missing otherwise."""
    anyone, own = ACTION_PERMISSION[action]
    if person.can(anyone, site):
        return
    if own is None or own not in person.permissions:
        person.require(anyone, site)  # raises, naming the roles that have it
        return
    person.require(own, site)  # the estate
    mine = assignee == person.name or (not assignee and action == "start")
    if not mine:
        raise PermissionDenied(
            f"{person.name} may {action} only work orders assigned to them: {number} is "
            f"assigned to {assignee or 'nobody'} (a supervisor assigns it: facility wo assign)"
        )


# --- when: times a person gives (paper sheets typed in later) --------------------------------

CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock may run a little ahead
BACKDATED_AFTER = timedelta(minutes=10)  # entered this much later: recorded as back-dated


def check_when(
    number: str,
    at: datetime,
    *,
    now: datetime,
    not_before: datetime,
    max_back: timedelta | None,
) -> bool:
    """Whether ``at`` is a back-dated entry (True) or a live one; WorkOrderError if it cannot
    be right: in the future, before the order's previous step (a completion before the
    order existed gave MTTR -24 h), or further back than ``max_back`` (None: no limit)."""
    if at > now + CLOCK_SKEW:
        raise WorkOrderError(
            f"{number}: {at:%Y-%m-%d %H:%M} UTC is in the future (now {now:%Y-%m-%d %H:%M} UTC)"
        )
    if at < not_before:
        raise WorkOrderError(
            f"{number}: {at:%Y-%m-%d %H:%M} UTC is before the order's previous step "
            f"({not_before:%Y-%m-%d %H:%M} UTC): check the date"
        )
    if max_back is not None and now - at > max_back:
        raise WorkOrderError(
            f"{number}: {at:%Y-%m-%d %H:%M} UTC is more than {max_back.days} days back: "
            "a supervisor records it with a note instead ([maintenance] backdate_max_days)"
        )
    return now - at > BACKDATED_AFTER


def rule_of(action: str) -> Rule | None:
    """The lifecycle rule of ``action`` (a Transition's value), None for other actions."""
    try:
        return RULES[Transition(action)]
    except ValueError:
        return None


def check_duties(number: str, person: str, action: str, recorded_by: str | None) -> None:
    """Separation of duties: who recorded the step ``action`` may not follow (its rule's
    ``not_by``: who completed an order) may not take it (verify it)."""
    rule = rule_of(action)
    if rule is None or rule.not_by is None or recorded_by is None or recorded_by != person:
        return
    raise PermissionDenied(
        f"{person} {rule.not_by} {number}: {rule.duty} (separation of duties; "
        "[maintenance] separate_verify)"
    )
