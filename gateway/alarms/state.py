"""ISA-18.2 alarm states as one pure function: ``transition(status, event, now, rules)``.

States (ISA-18.2 / IEC 62682)::

    NORMAL ──activate──▶ UNACK ──ack──▶ ACKED ──clear──▶ NORMAL
                          │  ▲            │ └─realarm (still active after realarm_s)─▶ UNACK
                       clear │ activate   └─clear, latching──▶ LATCHED ──ack/reset──▶ NORMAL
                          ▼  │
                        RTN_UNACK ──ack──▶ NORMAL          (UNACK ─clear, latching─▶ LATCHED)

    SHELVED         operator, timed or one-shot (until the alarm returns to normal), with a
                    maximum duration; expires by itself
    SUPPRESSED      by design: a mode rule (pool off-season, fire panel in test mode, asset
                    out of service in the ledger); still counts what would have fired
    OUT_OF_SERVICE  supervisor only

The alarm condition (``active``) is tracked in every state, after the on- and off-delays, so
leaving SHELVED / SUPPRESSED / OUT_OF_SERVICE lands where the process is: UNACK (annunciated
anew) if the condition is active, NORMAL if not. Precedence when several apply: out of
service, then suppressed, then shelved.

Nothing here does I/O or reads a clock: the caller passes ``now`` and gets back the new status
(the same object when nothing changed) and the changes to journal, publish and notify.
Operator commands that do not apply (ack of a normal alarm, reset of an active one, shelve
past the maximum) raise :class:`AlarmCommandError` — never a silent no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from facility.errors import ConfigError
from facility.types import PointValue


class AlarmState(StrEnum):
    NORMAL = "normal"
    UNACK = "unack"  # active, unacknowledged
    ACKED = "acked"  # active, acknowledged
    RTN_UNACK = "rtn_unack"  # returned to normal, unacknowledged
    LATCHED = "latched"  # returned to normal, held until an operator resets it
    SHELVED = "shelved"
    SUPPRESSED = "suppressed"  # by design (mode rules)
    OUT_OF_SERVICE = "out_of_service"


# States an operator sees on the alarm console.
ANNUNCIATED = frozenset(
    {AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK, AlarmState.LATCHED}
)
HIDDEN = frozenset({AlarmState.SHELVED, AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE})


class EventKind(StrEnum):
    """What a journal entry records."""

    RAISE = "raise"  # condition became active: annunciated
    CLEAR = "clear"  # condition returned to normal
    ACK = "ack"
    REALARM = "realarm"  # acknowledged but still active after realarm_s: annunciated again
    RESET = "reset"  # a latched alarm reset by an operator
    SHELVE = "shelve"
    UNSHELVE = "unshelve"  # by an operator, or one-shot on return to normal
    SHELVE_EXPIRED = "shelve_expired"
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"
    WOULD_RAISE = "would_raise"  # activation while shelved, suppressed or out of service
    OUT_OF_SERVICE = "out_of_service"
    RETURN_TO_SERVICE = "return_to_service"
    COMMENT = "comment"  # an operator's note on the alarm; its state does not change
    # written by the engine around the state machine
    FLOOD_START = "flood_start"
    FLOOD_END = "flood_end"
    INCIDENT = "incident"
    NOTIFIED = "notified"
    NOTIFY_FAILED = "notify_failed"
    ESCALATED = "escalated"


class AlarmCommandError(ConfigError):
    """An operator command that does not apply to the alarm as it is (says why)."""


@dataclass(frozen=True, slots=True)
class Operator:
    """Who did an operator action, when, and why."""

    user: str
    at: datetime
    comment: str = ""


@dataclass(frozen=True, slots=True)
class ShelveInfo:
    user: str
    at: datetime
    comment: str
    reason: str
    until: datetime  # one-shot shelves too: they end at the maximum duration at the latest
    one_shot: bool = False


@dataclass(frozen=True, slots=True)
class AlarmRules:
    """The parts of an alarm definition the state machine needs."""

    on_delay_s: float = 0.0
    off_delay_s: float = 0.0
    latching: bool = False
    realarm_s: float | None = None  # re-annunciate an acknowledged alarm still active
    max_shelve_s: float = 8 * 3600.0  # 0: may not be shelved


@dataclass(frozen=True, slots=True)
class AlarmStatus:
    """Everything known about one alarm; immutable, replaced on every change."""

    state: AlarmState = AlarmState.NORMAL
    since: datetime | None = None  # when ``state`` was entered
    active: bool = False  # the alarm condition after on/off delays
    active_since: datetime | None = None
    raw: bool | None = None  # the last evaluated condition, before delays (None: unknown)
    raw_since: datetime | None = None
    value: PointValue = None  # at the last activation or return to normal
    ack: Operator | None = None  # acknowledgement of the current activation
    shelve: ShelveInfo | None = None
    suppressed_by: str | None = None  # the mode rule
    out_of_service: Operator | None = None
    would_fire: int = 0  # activations while shelved, suppressed or out of service


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evaluated:
    """The condition as evaluated from a reading (None: the value is bad or missing).

    ``Evaluated(None, value)`` on a timer is how a delayed activation gets the latest value.
    """

    raw: bool | None
    value: PointValue = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: delays, shelve expiry, re-alarm."""


@dataclass(frozen=True, slots=True)
class Ack:
    op: Operator


@dataclass(frozen=True, slots=True)
class Reset:
    op: Operator


@dataclass(frozen=True, slots=True)
class Shelve:
    op: Operator
    reason: str
    until: datetime | None = None  # None with one_shot: the maximum duration
    one_shot: bool = False


@dataclass(frozen=True, slots=True)
class Unshelve:
    op: Operator


@dataclass(frozen=True, slots=True)
class Suppress:
    rule: str


@dataclass(frozen=True, slots=True)
class Unsuppress:
    pass


@dataclass(frozen=True, slots=True)
class RemoveFromService:
    op: Operator
    supervisor: bool


@dataclass(frozen=True, slots=True)
class ReturnToService:
    op: Operator
    supervisor: bool


Event = (
    Evaluated
    | Tick
    | Ack
    | Reset
    | Shelve
    | Unshelve
    | Suppress
    | Unsuppress
    | RemoveFromService
    | ReturnToService
)


@dataclass(frozen=True, slots=True)
class Change:
    """One transition or operator action, to be journaled (and published, notified)."""

    kind: EventKind
    from_state: AlarmState
    to_state: AlarmState
    at: datetime
    user: str | None = None
    comment: str = ""
    annunciate: bool = False  # the operator must be told (new or renewed unacknowledged alarm)
    value: PointValue = None


# -- the function -----------------------------------------------------------------------------


def transition(
    status: AlarmStatus, event: Event, now: datetime, rules: AlarmRules
) -> tuple[AlarmStatus, tuple[Change, ...]]:
    """The status after ``event`` at ``now``, and what changed (empty: nothing did)."""
    changes: list[Change] = []
    if isinstance(event, Evaluated):
        if event.raw is not None and event.raw != status.raw:
            status = replace(status, raw=event.raw, raw_since=now)
        status = _settle(status, now, rules, changes, event.value)
    elif isinstance(event, Tick):
        status = _settle(status, now, rules, changes, status.value)
    elif isinstance(event, Ack):
        status = _ack(status, event.op, changes)
    elif isinstance(event, Reset):
        status = _reset(status, event.op, changes)
    elif isinstance(event, Shelve):
        status = _shelve(status, event, now, rules, changes)
    elif isinstance(event, Unshelve):
        if status.shelve is None:
            raise AlarmCommandError(f"is {_describe(status)}, not shelved: nothing to unshelve")
        status = _leave(replace(status, shelve=None), EventKind.UNSHELVE, now, changes, event.op)
    elif isinstance(event, Suppress):
        if status.suppressed_by != event.rule:
            status = _leave(
                replace(status, suppressed_by=event.rule),
                EventKind.SUPPRESS,
                now,
                changes,
                comment=event.rule,
            )
    elif isinstance(event, Unsuppress):
        if status.suppressed_by is not None:
            rule = status.suppressed_by
            status = _leave(
                replace(status, suppressed_by=None),
                EventKind.UNSUPPRESS,
                now,
                changes,
                comment=rule,
            )
    elif isinstance(event, RemoveFromService):
        status = _remove(status, event, changes)
    else:
        status = _return(status, event, now, changes)
    return status, tuple(changes)


def _settle(
    status: AlarmStatus, now: datetime, rules: AlarmRules, changes: list[Change], value: PointValue
) -> AlarmStatus:
    """Apply delays to the raw condition, then the timers (shelve expiry, re-alarm)."""
    if status.raw is not None and status.raw != status.active and status.raw_since is not None:
        delay = rules.on_delay_s if status.raw else rules.off_delay_s
        if (now - status.raw_since).total_seconds() >= delay:
            status = (
                _activate(status, now, changes, value)
                if status.raw
                else _deactivate(status, now, rules, changes, value)
            )
    shelve = status.shelve
    if shelve is not None and now >= shelve.until:
        status = _leave(replace(status, shelve=None), EventKind.SHELVE_EXPIRED, now, changes)
    if (
        status.state is AlarmState.ACKED
        and rules.realarm_s is not None
        and status.ack is not None
        and (now - status.ack.at).total_seconds() >= rules.realarm_s
    ):
        changes.append(
            Change(
                EventKind.REALARM,
                AlarmState.ACKED,
                AlarmState.UNACK,
                now,
                annunciate=True,
                value=status.value,
            )
        )
        status = replace(status, state=AlarmState.UNACK, since=now, ack=None)
    return status


def _activate(
    status: AlarmStatus, now: datetime, changes: list[Change], value: PointValue
) -> AlarmStatus:
    status = replace(status, active=True, active_since=now, value=value)
    if status.state in HIDDEN:
        changes.append(Change(EventKind.WOULD_RAISE, status.state, status.state, now, value=value))
        return replace(status, would_fire=status.would_fire + 1)
    changes.append(
        Change(EventKind.RAISE, status.state, AlarmState.UNACK, now, annunciate=True, value=value)
    )
    return replace(status, state=AlarmState.UNACK, since=now, ack=None)


def _deactivate(
    status: AlarmStatus, now: datetime, rules: AlarmRules, changes: list[Change], value: PointValue
) -> AlarmStatus:
    status = replace(status, active=False, value=value)
    state = status.state
    if state in HIDDEN:
        shelve = status.shelve
        if shelve is not None and shelve.one_shot:
            # one-shot shelving ends when the alarm returns to normal
            return _leave(
                replace(status, shelve=None),
                EventKind.UNSHELVE,
                now,
                changes,
                comment="one-shot shelve: returned to normal",
            )
        return status
    if state is AlarmState.UNACK:
        target = AlarmState.LATCHED if rules.latching else AlarmState.RTN_UNACK
    elif state is AlarmState.ACKED:
        target = AlarmState.LATCHED if rules.latching else AlarmState.NORMAL
    else:  # NORMAL, RTN_UNACK, LATCHED are already inactive
        return status
    changes.append(Change(EventKind.CLEAR, state, target, now, value=value))
    ack = status.ack if target is AlarmState.LATCHED else None
    return replace(status, state=target, since=now, ack=ack)


def _visible(status: AlarmStatus) -> AlarmState:
    """The hidden state that applies, by precedence; else UNACK or NORMAL by the condition."""
    if status.out_of_service is not None:
        return AlarmState.OUT_OF_SERVICE
    if status.suppressed_by is not None:
        return AlarmState.SUPPRESSED
    if status.shelve is not None:
        return AlarmState.SHELVED
    return AlarmState.UNACK if status.active else AlarmState.NORMAL


def _leave(
    status: AlarmStatus,
    kind: EventKind,
    now: datetime,
    changes: list[Change],
    op: Operator | None = None,
    comment: str = "",
) -> AlarmStatus:
    """After a hidden-state field changed: move to the state that now applies."""
    before = status.state
    target = _visible(status)
    if target not in HIDDEN and before not in HIDDEN:
        target = before  # no hidden state applies before or after: the base state stands
    annunciate = target is AlarmState.UNACK and before is not AlarmState.UNACK
    changes.append(
        Change(
            kind,
            before,
            target,
            now,
            user=op.user if op else None,
            comment=op.comment if op else comment,
            annunciate=annunciate,
            value=status.value,
        )
    )
    if target is before:
        return status
    return replace(status, state=target, since=now, ack=None if target in HIDDEN else status.ack)


def _describe(status: AlarmStatus) -> str:
    state = status.state
    if state is AlarmState.SHELVED and status.shelve is not None:
        return f"shelved by {status.shelve.user} until {status.shelve.until:%Y-%m-%d %H:%M} UTC"
    if state is AlarmState.SUPPRESSED:
        return f"suppressed by design ({status.suppressed_by})"
    if state is AlarmState.OUT_OF_SERVICE and status.out_of_service is not None:
        return f"out of service (by {status.out_of_service.user})"
    if state is AlarmState.ACKED and status.ack is not None:
        return f"already acknowledged by {status.ack.user} at {status.ack.at:%Y-%m-%d %H:%M} UTC"
    return {
        AlarmState.NORMAL: "normal",
        AlarmState.UNACK: "active and unacknowledged",
        AlarmState.RTN_UNACK: "returned to normal, unacknowledged",
        AlarmState.LATCHED: "latched",
    }.get(state, state.value)


def _ack(status: AlarmStatus, op: Operator, changes: list[Change]) -> AlarmStatus:
    state = status.state
    if state is AlarmState.UNACK:
        target = AlarmState.ACKED
    elif state in (AlarmState.RTN_UNACK, AlarmState.LATCHED):
        target = AlarmState.NORMAL  # acknowledging a latched alarm that has cleared resets it
    elif state is AlarmState.NORMAL:
        raise AlarmCommandError("is normal: there is nothing to acknowledge")
    else:
        raise AlarmCommandError(f"is {_describe(status)}: nothing to acknowledge")
    changes.append(
        Change(EventKind.ACK, state, target, op.at, op.user, op.comment, value=status.value)
    )
    return replace(
        status, state=target, since=op.at, ack=op if target is AlarmState.ACKED else None
    )


def _reset(status: AlarmStatus, op: Operator, changes: list[Change]) -> AlarmStatus:
    if status.state is not AlarmState.LATCHED:
        if status.active and status.state in (AlarmState.UNACK, AlarmState.ACKED):
            raise AlarmCommandError(
                "is still active: a latched alarm can be reset once its condition has cleared"
            )
        raise AlarmCommandError(f"is {_describe(status)}, not latched: nothing to reset")
    changes.append(
        Change(EventKind.RESET, AlarmState.LATCHED, AlarmState.NORMAL, op.at, op.user, op.comment)
    )
    return replace(status, state=AlarmState.NORMAL, since=op.at, ack=None)


def _shelve(
    status: AlarmStatus, event: Shelve, now: datetime, rules: AlarmRules, changes: list[Change]
) -> AlarmStatus:
    op = event.op
    if rules.max_shelve_s <= 0:
        raise AlarmCommandError("may not be shelved (its maximum shelve time is 0)")
    if status.state in (AlarmState.SUPPRESSED, AlarmState.OUT_OF_SERVICE):
        raise AlarmCommandError(f"is {_describe(status)}: shelving would change nothing")
    if not (op.comment.strip() or event.reason.strip()):
        raise AlarmCommandError("shelving needs a reason or comment (who reads the log later)")
    latest = now + timedelta(seconds=rules.max_shelve_s)
    if event.one_shot:
        until = min(event.until, latest) if event.until is not None else latest
    elif event.until is None:
        raise AlarmCommandError("a timed shelve needs a duration (or shelve it one-shot)")
    else:
        until = event.until
    if until <= now:
        raise AlarmCommandError("shelve end is in the past; expected a positive duration")
    if until > latest + timedelta(seconds=1):
        raise AlarmCommandError(
            f"shelve for {_hours(until - now)} exceeds the maximum of "
            f"{_hours(latest - now)} for this alarm"
        )
    info = ShelveInfo(op.user, op.at, op.comment, event.reason, until, event.one_shot)
    return _leave(replace(status, shelve=info), EventKind.SHELVE, now, changes, op)


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h" if hours >= 1 else f"{delta.total_seconds() / 60:g} min"


def _remove(status: AlarmStatus, event: RemoveFromService, changes: list[Change]) -> AlarmStatus:
    op = event.op
    if not event.supervisor:
        raise AlarmCommandError(
            f"user {op.user!r} is not a supervisor: only supervisors may take alarms out of service"
        )
    if status.out_of_service is not None:
        raise AlarmCommandError(f"is already {_describe(status)}")
    if not op.comment.strip():
        raise AlarmCommandError("taking an alarm out of service needs a comment (why, and until)")
    return _leave(replace(status, out_of_service=op), EventKind.OUT_OF_SERVICE, op.at, changes, op)


def _return(
    status: AlarmStatus, event: ReturnToService, now: datetime, changes: list[Change]
) -> AlarmStatus:
    op = event.op
    if not event.supervisor:
        raise AlarmCommandError(
            f"user {op.user!r} is not a supervisor: only supervisors may return alarms to service"
        )
    if status.out_of_service is None:
        raise AlarmCommandError(f"is {_describe(status)}, not out of service")
    return _leave(
        replace(status, out_of_service=None), EventKind.RETURN_TO_SERVICE, now, changes, op
    )


def next_deadline(status: AlarmStatus, rules: AlarmRules) -> datetime | None:
    """When a Tick could next change this alarm (pending delay, shelve end, re-alarm)."""
    deadlines: list[datetime] = []
    if status.raw is not None and status.raw != status.active and status.raw_since is not None:
        delay = rules.on_delay_s if status.raw else rules.off_delay_s
        deadlines.append(status.raw_since + timedelta(seconds=delay))
    if status.shelve is not None:
        deadlines.append(status.shelve.until)
    if status.state is AlarmState.ACKED and rules.realarm_s is not None and status.ack is not None:
        deadlines.append(status.ack.at + timedelta(seconds=rules.realarm_s))
    return min(deadlines) if deadlines else None


# -- serialisation (journal/current-state table, MQTT) ----------------------------------------


def _ts(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _dt(text: Any) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _op_json(op: Operator | None) -> dict[str, Any] | None:
    return None if op is None else {"user": op.user, "at": _ts(op.at), "comment": op.comment}


def _op(data: Any) -> Operator | None:
    if not data:
        return None
    at = _dt(data["at"])
    assert at is not None
    return Operator(str(data["user"]), at, str(data.get("comment", "")))


def status_to_json(status: AlarmStatus) -> dict[str, Any]:
    """A JSON-able dict of the whole status (stored, published, read back)."""
    shelve = status.shelve
    return {
        "state": status.state.value,
        "since": _ts(status.since),
        "active": status.active,
        "active_since": _ts(status.active_since),
        "raw": status.raw,
        "raw_since": _ts(status.raw_since),
        "value": status.value,
        "ack": _op_json(status.ack),
        "shelve": None
        if shelve is None
        else {
            "user": shelve.user,
            "at": _ts(shelve.at),
            "comment": shelve.comment,
            "reason": shelve.reason,
            "until": _ts(shelve.until),
            "one_shot": shelve.one_shot,
        },
        "suppressed_by": status.suppressed_by,
        "out_of_service": _op_json(status.out_of_service),
        "would_fire": status.would_fire,
    }


def status_from_json(data: dict[str, Any]) -> AlarmStatus:
    """The inverse of :func:`status_to_json`."""
    shelve_data = data.get("shelve")
    shelve = None
    if shelve_data:
        at, until = _dt(shelve_data["at"]), _dt(shelve_data["until"])
        assert at is not None
        assert until is not None
        shelve = ShelveInfo(
            str(shelve_data["user"]),
            at,
            str(shelve_data.get("comment", "")),
            str(shelve_data.get("reason", "")),
            until,
            bool(shelve_data.get("one_shot", False)),
        )
    raw = data.get("raw")
    return AlarmStatus(
        state=AlarmState(data["state"]),
        since=_dt(data.get("since")),
        active=bool(data.get("active", False)),
        active_since=_dt(data.get("active_since")),
        raw=None if raw is None else bool(raw),
        raw_since=_dt(data.get("raw_since")),
        value=data.get("value"),
        ack=_op(data.get("ack")),
        shelve=shelve,
        suppressed_by=data.get("suppressed_by"),
        out_of_service=_op(data.get("out_of_service")),
        would_fire=int(data.get("would_fire", 0)),
    )
