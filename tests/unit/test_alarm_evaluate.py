"""Conditions from readings: limits with deadband, states, rate of change, comm loss, quality,
stale devices — and a bad value never raises a process alarm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from device_profiles.models import Priority, Text
from facility.types import PointValue, Quality, Reading
from gateway.alarms.definitions import AlarmSpec, Check
from gateway.alarms.evaluate import (
    comm_condition,
    is_stale,
    limit_evaluator,
    process_condition,
    quality_condition,
    rate_per_min,
)
from gateway.alarms.state import AlarmRules

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def spec(
    check: Check,
    limit: float | None = None,
    deadband: float = 0.0,
    states: frozenset[int | bool] = frozenset(),
) -> AlarmSpec:
    return AlarmSpec(
        alarm_id="HT-PMP-001/x",
        site="HT",
        asset_no="HT-PMP-001",
        device_class="PMP",
        name="x",
        check=check,
        point="p",
        limit=limit,
        states=states,
        deadband=deadband,
        priority=Priority.HIGH,
        label=Text(en="x", zh="x"),
        text=None,
        rules=AlarmRules(),
        source="test",
    )


def reading(value: PointValue, quality: Quality = Quality.GOOD, point: str = "p") -> Reading:
    return Reading("HT", "HT-PMP-001", point, value, "", quality, None, T0)


LIMITS = [
    # check, limit, deadband, was active, value, expected
    (Check.HI, 10, 0.5, False, 10.0, False),  # at the limit: not above it
    (Check.HI, 10, 0.5, False, 10.01, True),
    (Check.HI, 10, 0.5, True, 9.6, True),  # inside the deadband: stays active
    (Check.HI, 10, 0.5, True, 9.5, False),  # back at limit - deadband: clears
    (Check.HIHI, 12, 0, True, 12.0, False),
    (Check.LO, 1.5, 0.2, False, 1.5, False),
    (Check.LO, 1.5, 0.2, False, 1.49, True),
    (Check.LO, 1.5, 0.2, True, 1.65, True),
    (Check.LO, 1.5, 0.2, True, 1.7, False),
    (Check.LOLO, 0.3, 0.05, False, 0.29, True),
    (Check.HI, 2, 0, False, 3, True),  # integers (lamps failed)
]


@pytest.mark.parametrize(("check", "limit", "deadband", "was", "value", "expected"), LIMITS)
def test_limits_with_deadband(
    check: Check, limit: float, deadband: float, was: bool, value: float, expected: bool
) -> None:
    assert process_condition(spec(check, limit, deadband), reading(value), was) is expected
    # the engine's compiled evaluator says the same
    evaluator = limit_evaluator(spec(check, limit, deadband))
    assert evaluator is not None
    assert evaluator(value, was) is expected
    assert evaluator(True, was) is None  # a boolean is not a number here


STATES = [
    (frozenset({1, 2, 3}), 2, True),
    (frozenset({1, 2, 3}), 0, False),
    (frozenset({True}), True, True),
    (frozenset({True}), False, False),
    (frozenset({4}), 4.0, True),  # an enumeration that arrived as a whole float
    (frozenset({4}), 4.5, None),
    (frozenset({1}), "fire", None),
]


@pytest.mark.parametrize(("states", "value", "expected"), STATES)
def test_state_membership(
    states: frozenset[int | bool], value: PointValue, expected: bool | None
) -> None:
    assert process_condition(spec(Check.STATE, states=states), reading(value), False) is expected


@pytest.mark.parametrize(
    "quality", [q for q in Quality if q is not Quality.GOOD], ids=lambda q: q.value
)
def test_a_bad_value_never_raises_or_clears_a_process_alarm(quality: Quality) -> None:
    assert process_condition(spec(Check.HI, 10), reading(99.0, quality), False) is None
    assert process_condition(spec(Check.HI, 10), reading(1.0, quality), True) is None


def test_no_reading_or_a_value_of_the_wrong_kind_is_unknown() -> None:
    assert process_condition(spec(Check.HI, 10), None, False) is None
    assert process_condition(spec(Check.HI, 10), reading(True), False) is None
    assert process_condition(spec(Check.HI, 10), reading("12"), False) is None


def test_rate_of_change_per_minute_by_magnitude() -> None:
    assert rate_per_min(None, None, 5.0, T0) is None
    assert rate_per_min(1.0, T0, 2.0, T0) is None  # no time passed
    assert rate_per_min(1.0, T0, 2.0, T0 + timedelta(seconds=30)) == pytest.approx(2.0)
    roc = spec(Check.ROC, limit=1.0, deadband=0.2)
    assert process_condition(roc, reading(0.0), False, rate=-1.5) is True
    assert process_condition(roc, reading(0.0), True, rate=0.9) is True
    assert process_condition(roc, reading(0.0), True, rate=0.7) is False
    assert process_condition(roc, reading(0.0), False, rate=None) is None


def test_comm_loss_from_health_or_every_point_lost() -> None:
    good = [reading(1.0), reading(2.0, point="q")]
    lost = [reading(None, Quality.BAD_COMM), reading(None, Quality.BAD_COMM, "q")]
    assert comm_condition(good, {"comm_ok": True}) is False
    assert comm_condition(good, {"comm_ok": False}) is True
    assert comm_condition(lost, {}) is True
    assert comm_condition([lost[0], good[1]], {}) is False


def test_quality_alarm_condition() -> None:
    readings = {
        "a": reading(1.0, point="a"),
        "b": reading(500.0, Quality.UNCERTAIN_RANGE, "b"),
        "c": reading(None, Quality.BAD_COMM, "c"),
    }
    assert quality_condition(readings, ["a"]) is False
    assert quality_condition(readings, ["a", "b"]) is True
    assert quality_condition(readings, ["a", "c"]) is True  # one block lost, the rest read
    assert quality_condition(readings, ["c"]) is None  # comm_loss covers it
    assert quality_condition(readings, ["zz"]) is None


def test_stale() -> None:
    assert not is_stale(None, T0, 60)
    assert not is_stale(T0, T0 + timedelta(seconds=60), 60)
    assert is_stale(T0, T0 + timedelta(seconds=61), 60)
