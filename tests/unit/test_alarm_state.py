"""The ISA-18.2 state machine, case by case: every transition, delays, latch, re-alarm,
shelving (timed, one-shot, expiry), suppression by design, out of service, and the operator
commands it refuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from gateway.alarms.state import (
    Ack,
    AlarmCommandError,
    AlarmRules,
    AlarmState,
    AlarmStatus,
    Evaluated,
    Event,
    Operator,
    RemoveFromService,
    Reset,
    ReturnToService,
    Shelve,
    Suppress,
    Tick,
    Unshelve,
    Unsuppress,
    next_deadline,
    status_from_json,
    status_to_json,
    transition,
)

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
S = AlarmState


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def op(seconds: float, user: str = "li.na", comment: str = "checked") -> Operator:
    return Operator(user, at(seconds), comment)


def on(value: object = None) -> Evaluated:
    return Evaluated(True, value)  # type: ignore[arg-type]


def off(value: object = None) -> Evaluated:
    return Evaluated(False, value)  # type: ignore[arg-type]


def shelve(seconds: float, until: float | None = None, one_shot: bool = False) -> Shelve:
    return Shelve(op(seconds), "nuisance", at(until) if until is not None else None, one_shot)


@dataclass
class Case:
    name: str
    steps: list[tuple[float, Event]]
    state: AlarmState
    kinds: list[str]
    rules: AlarmRules = field(default_factory=AlarmRules)
    active: bool | None = None
    annunciated: int | None = None  # how many changes told the operator


LATCH = AlarmRules(latching=True)
DELAYS = AlarmRules(on_delay_s=10, off_delay_s=10)
REALARM = AlarmRules(realarm_s=60)
MAX_1H = AlarmRules(max_shelve_s=3600)

CASES = [
    Case("activation raises", [(0, on())], S.UNACK, ["raise"], active=True, annunciated=1),
    Case("ack of an active alarm", [(0, on()), (5, Ack(op(5)))], S.ACKED, ["raise", "ack"]),
    Case(
        "acknowledged alarm clears to normal",
        [(0, on()), (5, Ack(op(5))), (9, off())],
        S.NORMAL,
        ["raise", "ack", "clear"],
        active=False,
    ),
    Case("unacked alarm clears to RTN", [(0, on()), (9, off())], S.RTN_UNACK, ["raise", "clear"]),
    Case(
        "ack of RTN goes normal",
        [(0, on()), (9, off()), (12, Ack(op(12)))],
        S.NORMAL,
        ["raise", "clear", "ack"],
    ),
    Case(
        "RTN that comes back raises again",
        [(0, on()), (9, off()), (12, on())],
        S.UNACK,
        ["raise", "clear", "raise"],
        annunciated=2,
    ),
    Case("unknown value changes nothing", [(0, on()), (5, Evaluated(None))], S.UNACK, ["raise"]),
    Case("same condition again: nothing", [(0, off()), (5, off())], S.NORMAL, []),
    # on-delay
    Case("on-delay not elapsed", [(0, on()), (9, Tick())], S.NORMAL, [], DELAYS, active=False),
    Case("on-delay elapsed on a tick", [(0, on()), (10, Tick())], S.UNACK, ["raise"], DELAYS),
    Case("on-delay elapsed on a reading", [(0, on()), (11, on())], S.UNACK, ["raise"], DELAYS),
    Case(
        "on-delay interrupted: never raised",
        [(0, on()), (5, off()), (12, Tick()), (14, on()), (20, Tick())],
        S.NORMAL,
        [],
        DELAYS,
    ),
    # off-delay
    Case(
        "off-delay not elapsed: still active",
        [(0, on()), (10, Tick()), (11, off()), (20, Tick())],
        S.UNACK,
        ["raise"],
        DELAYS,
        active=True,
    ),
    Case(
        "off-delay elapsed",
        [(0, on()), (10, Tick()), (11, off()), (21, Tick())],
        S.RTN_UNACK,
        ["raise", "clear"],
        DELAYS,
    ),
    Case(
        "off-delay interrupted: one activation",
        [(0, on()), (10, Tick()), (11, off()), (15, on()), (40, Tick())],
        S.UNACK,
        ["raise"],
        DELAYS,
    ),
    # latching
    Case(
        "latching: unacked clear latches",
        [(0, on()), (9, off())],
        S.LATCHED,
        ["raise", "clear"],
        LATCH,
    ),
    Case(
        "latching: acked clear latches too",
        [(0, on()), (3, Ack(op(3))), (9, off())],
        S.LATCHED,
        ["raise", "ack", "clear"],
        LATCH,
    ),
    Case(
        "latched alarm reset",
        [(0, on()), (3, Ack(op(3))), (9, off()), (20, Reset(op(20)))],
        S.NORMAL,
        ["raise", "ack", "clear", "reset"],
        LATCH,
    ),
    Case(
        "latched alarm acknowledged: reset in one action",
        [(0, on()), (9, off()), (20, Ack(op(20)))],
        S.NORMAL,
        ["raise", "clear", "ack"],
        LATCH,
    ),
    Case(
        "latched alarm whose condition returns raises again",
        [(0, on()), (9, off()), (20, on())],
        S.UNACK,
        ["raise", "clear", "raise"],
        LATCH,
    ),
    # re-alarm
    Case(
        "re-alarm not yet",
        [(0, on()), (10, Ack(op(10))), (69, Tick())],
        S.ACKED,
        ["raise", "ack"],
        REALARM,
    ),
    Case(
        "re-alarm: acknowledged but still active",
        [(0, on()), (10, Ack(op(10))), (70, Tick())],
        S.UNACK,
        ["raise", "ack", "realarm"],
        REALARM,
        annunciated=2,
    ),
    Case(
        "no re-alarm once cleared",
        [(0, on()), (10, Ack(op(10))), (30, off()), (100, Tick())],
        S.NORMAL,
        ["raise", "ack", "clear"],
        REALARM,
    ),
    # shelving
    Case(
        "shelve an active alarm", [(0, on()), (5, shelve(5, 100))], S.SHELVED, ["raise", "shelve"]
    ),
    Case(
        "timed shelve expires into the active alarm",
        [(0, on()), (5, shelve(5, 100)), (99, Tick()), (100, Tick())],
        S.UNACK,
        ["raise", "shelve", "shelve_expired"],
        annunciated=2,
    ),
    Case(
        "timed shelve expires into normal",
        [(0, on()), (5, shelve(5, 100)), (50, off()), (100, Tick())],
        S.NORMAL,
        ["raise", "shelve", "shelve_expired"],
        annunciated=1,
    ),
    Case(
        "activation while shelved is counted, not raised",
        [(0, shelve(0, 100)), (10, on())],
        S.SHELVED,
        ["shelve", "would_raise"],
        active=True,
        annunciated=0,
    ),
    Case(
        "one-shot shelve ends when the alarm returns to normal",
        [(0, on()), (5, shelve(5, one_shot=True)), (20, off())],
        S.NORMAL,
        ["raise", "shelve", "unshelve"],
    ),
    Case(
        "one-shot shelve still ends at the maximum duration",
        [(0, on()), (5, shelve(5, one_shot=True)), (3604, Tick()), (3605, Tick())],
        S.UNACK,
        ["raise", "shelve", "shelve_expired"],
        MAX_1H,
    ),
    Case(
        "extending a shelve",
        [(0, on()), (5, shelve(5, 100)), (90, shelve(90, 200)), (150, Tick())],
        S.SHELVED,
        ["raise", "shelve", "shelve"],
    ),
    Case(
        "operator unshelves an active alarm: annunciated again",
        [(0, on()), (5, shelve(5, 100)), (10, Unshelve(op(10)))],
        S.UNACK,
        ["raise", "shelve", "unshelve"],
        annunciated=2,
    ),
    # suppression by design
    Case(
        "suppressed: activation counted, not raised",
        [(0, Suppress("fire_panel_test_mode")), (1, on())],
        S.SUPPRESSED,
        ["suppress", "would_raise"],
        annunciated=0,
    ),
    Case(
        "suppression ends with the alarm active: raised",
        [(0, Suppress("fire_panel_test_mode")), (1, on()), (2, Unsuppress())],
        S.UNACK,
        ["suppress", "would_raise", "unsuppress"],
        annunciated=1,
    ),
    Case(
        "suppression ends after the condition cleared: normal",
        [(0, on()), (1, Suppress("pool_off_season")), (2, off()), (3, Unsuppress())],
        S.NORMAL,
        ["raise", "suppress", "unsuppress"],
    ),
    Case(
        "suppression outranks a shelve, which is kept",
        [(0, shelve(0, 100)), (1, Suppress("pool_off_season")), (2, Unsuppress())],
        S.SHELVED,
        ["shelve", "suppress", "unsuppress"],
    ),
    Case(
        "a shelve expiring while suppressed",
        [(0, shelve(0, 100)), (1, Suppress("pool_off_season")), (100, Tick()), (101, Unsuppress())],
        S.NORMAL,
        ["shelve", "suppress", "shelve_expired", "unsuppress"],
    ),
    Case(
        "the same suppression again changes nothing",
        [(0, Suppress("r")), (1, Suppress("r")), (2, Unsuppress()), (3, Unsuppress())],
        S.NORMAL,
        ["suppress", "unsuppress"],
    ),
    # out of service
    Case(
        "out of service: activations counted, not raised",
        [(0, RemoveFromService(op(0), True)), (1, on())],
        S.OUT_OF_SERVICE,
        ["out_of_service", "would_raise"],
        annunciated=0,
    ),
    Case(
        "out of service and back, active",
        [(0, on()), (5, RemoveFromService(op(5), True)), (9, ReturnToService(op(9), True))],
        S.UNACK,
        ["raise", "out_of_service", "return_to_service"],
    ),
    Case(
        "out of service outranks suppression",
        [
            (0, Suppress("r")),
            (1, RemoveFromService(op(1), True)),
            (2, Unsuppress()),
            (3, on()),
            (4, ReturnToService(op(4), True)),
        ],
        S.UNACK,
        ["suppress", "out_of_service", "unsuppress", "would_raise", "return_to_service"],
    ),
]


def run(case: Case) -> tuple[AlarmStatus, list[str], int]:
    status = AlarmStatus()
    kinds: list[str] = []
    annunciated = 0
    for t, event in case.steps:
        status, changes = transition(status, event, at(t), case.rules)
        kinds += [c.kind.value for c in changes]
        annunciated += sum(c.annunciate for c in changes)
    return status, kinds, annunciated


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_transition(case: Case) -> None:
    status, kinds, annunciated = run(case)
    assert status.state is case.state
    assert kinds == case.kinds
    if case.active is not None:
        assert status.active is case.active
    if case.annunciated is not None:
        assert annunciated == case.annunciated


def test_every_state_is_reached_by_some_case() -> None:
    reached = {run(c)[0].state for c in CASES}
    assert reached == set(AlarmState)


def test_nothing_changed_returns_the_same_status() -> None:
    status, _ = transition(AlarmStatus(), on(), at(0), AlarmRules())
    again, changes = transition(status, on(), at(1), AlarmRules())
    assert again is status
    assert changes == ()


def test_ack_records_who_when_and_why() -> None:
    status, _ = transition(AlarmStatus(), on(4.2), at(0), AlarmRules())
    status, (change,) = transition(
        status, Ack(op(7, "wang.wei", "pump reset")), at(7), AlarmRules()
    )
    assert status.ack == Operator("wang.wei", at(7), "pump reset")
    assert (change.user, change.comment, change.at) == ("wang.wei", "pump reset", at(7))
    assert status.value == 4.2


def test_would_fire_counts_every_hidden_activation() -> None:
    status = AlarmStatus()
    steps: list[tuple[float, Event]] = [(0, Suppress("r"))]
    for t in range(1, 7, 2):
        steps += [(t, on()), (t + 1, off())]
    for t, event in steps:
        status, _ = transition(status, event, at(t), AlarmRules())
    assert status.would_fire == 3


REFUSED = [
    ("ack of a normal alarm", [], Ack(op(1)), "nothing to acknowledge"),
    ("second ack", [on(), Ack(op(1, "li.na"))], Ack(op(2)), "already acknowledged by li.na"),
    ("ack of a shelved alarm", [on(), shelve(0, 100)], Ack(op(2)), "shelved by li.na"),
    ("ack of a suppressed alarm", [Suppress("r"), on()], Ack(op(2)), "suppressed by design (r)"),
    ("reset while active", [on()], Reset(op(2)), "still active"),
    ("reset of a normal alarm", [], Reset(op(2)), "not latched"),
    ("shelve past the maximum", [on()], shelve(1, 3 * 3600), "exceeds the maximum of 1 h"),
    ("shelve in the past", [on()], Shelve(op(1), "x", at(-5)), "in the past"),
    ("shelve without reason", [on()], Shelve(op(1, comment=""), "", at(50)), "needs a reason"),
    ("timed shelve without a duration", [on()], Shelve(op(1), "x"), "needs a duration"),
    ("shelve a suppressed alarm", [Suppress("r")], shelve(1, 50), "would change nothing"),
    ("unshelve when not shelved", [on()], Unshelve(op(1)), "not shelved"),
    ("out of service by an operator", [], RemoveFromService(op(1), False), "not a supervisor"),
    ("out of service without comment", [], RemoveFromService(op(1, comment=""), True), "comment"),
    (
        "out of service twice",
        [RemoveFromService(op(0), True)],
        RemoveFromService(op(1), True),
        "already out of service",
    ),
    ("return of an alarm in service", [], ReturnToService(op(1), True), "not out of service"),
    (
        "return by an operator",
        [RemoveFromService(op(0), True)],
        ReturnToService(op(1), False),
        "not a supervisor",
    ),
]


@pytest.mark.parametrize(
    ("name", "before", "event", "message"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_refused_commands_say_why(
    name: str, before: list[Event], event: Event, message: str
) -> None:
    status = AlarmStatus()
    for event_before in before:
        status, _ = transition(status, event_before, at(0), MAX_1H)
    with pytest.raises(AlarmCommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        transition(status, event, at(1), MAX_1H)


def test_no_shelving_when_the_maximum_is_zero() -> None:
    status, _ = transition(AlarmStatus(), on(), at(0), AlarmRules(max_shelve_s=0))
    with pytest.raises(AlarmCommandError, match="may not be shelved"):
        transition(status, shelve(1, 60), at(1), AlarmRules(max_shelve_s=0))


def test_next_deadline() -> None:
    rules = AlarmRules(on_delay_s=10, off_delay_s=5, realarm_s=60)
    status, _ = transition(AlarmStatus(), on(), at(0), rules)
    assert next_deadline(status, rules) == at(10)  # pending on-delay
    status, _ = transition(status, Tick(), at(10), rules)
    assert next_deadline(status, rules) is None  # unack, nothing pending
    status, _ = transition(status, Ack(op(20)), at(20), rules)
    assert next_deadline(status, rules) == at(80)  # re-alarm
    status, _ = transition(status, shelve(30, 50), at(30), rules)
    assert next_deadline(status, rules) == at(50)  # shelve end


def test_status_round_trips_through_json() -> None:
    rules = AlarmRules(latching=True)
    status = AlarmStatus()
    for t, event in [(0, on(3.5)), (1, Ack(op(1))), (2, shelve(2, 400)), (3, Suppress("r"))]:
        status, _ = transition(status, event, at(t), rules)
    assert status_from_json(status_to_json(status)) == status
