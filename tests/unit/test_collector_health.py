"""Backoff and breaker of one device: table of event sequences."""

from __future__ import annotations

import random

import pytest

from collectors.health import BreakerState, DeviceHealth, Transition


def health(**kw: float) -> DeviceHealth:
    return DeviceHealth(rng=random.Random(1), jitter=False, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failures", "expected_delay"),
    [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (20, 60.0)],
)
def test_backoff_doubles_up_to_the_cap(failures: int, expected_delay: float) -> None:
    h = health()
    for _ in range(failures):
        h.failure(0.0, "timeout", "no answer")
    assert h.backoff_s() == expected_delay


def test_jitter_stays_within_its_band() -> None:
    h = DeviceHealth(rng=random.Random(7))
    h.failure(0.0, "timeout", "x")
    h.failure(0.0, "timeout", "x")  # ceiling 2 s; equal jitter (facility.backoff): 1..2 s
    delays = [h.backoff_s() for _ in range(1000)]
    assert 1.0 <= min(delays) < 1.1
    assert 1.9 < max(delays) <= 2.0


def test_goes_down_once_and_comes_back_once() -> None:
    h = health(open_after=3)
    transitions = [h.failure(float(t), "timeout", "x") for t in range(5)]
    assert transitions == [Transition.NONE] * 2 + [Transition.WENT_DOWN] + [Transition.NONE] * 2
    assert h.state is BreakerState.OPEN
    assert not h.comm_ok
    assert h.success(10.0, 3.5) is Transition.CAME_BACK
    assert h.success(11.0, 3.5) is Transition.NONE
    assert h.comm_ok


def test_a_single_failure_does_not_open_the_breaker() -> None:
    h = health(open_after=3)
    assert h.failure(0.0, "exception_4", "device failure") is Transition.NONE
    assert h.success(1.0, 2.0) is Transition.NONE
    assert h.comm_ok


def test_backoff_blocks_polls_until_due() -> None:
    h = health()
    h.failure(100.0, "timeout", "x")
    assert not h.may_poll(100.5)
    assert h.may_poll(101.0)


def test_health_reading_counts_errors_by_code() -> None:
    h = health()
    h.failure(0.0, "exception_2", "illegal address")
    h.failure(0.0, "timeout", "no answer")
    h.failure(0.0, "timeout", "no answer")
    h.success(0.0, 4.25)
    reading = h.as_reading()
    assert reading["errors_timeout"] == 2
    assert reading["errors_exception_2"] == 1
    assert reading["errors"] == 3
    assert reading["rtt_ms"] == 4.25
    assert reading["comm_ok"] is True
