"""The soak's fault schedule (tests/faults/test_soak.py): which faults fit in a run."""

from __future__ import annotations

from tests.faults.test_soak import fault_times


def test_ten_minutes_with_a_fault_every_200_s_injects_two_and_ends_quiet() -> None:
    # the third (at 500 s) would leave less than two graces (180 s) to judge: not injected
    assert fault_times(600, 200, 90) == [100, 300]


def test_the_hour_of_make_soak_injects_six() -> None:
    assert fault_times(3600, 600, 90) == [300, 900, 1500, 2100, 2700, 3300]


def test_no_cycle_and_too_short_runs_inject_nothing() -> None:
    assert fault_times(120, 0, 90) == []
    assert fault_times(120, 600, 90) == []
