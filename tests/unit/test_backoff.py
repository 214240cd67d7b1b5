"""The one retry delay: exponential, capped, equal jitter (a table of cases)."""

from __future__ import annotations

import random

import pytest

from facility.backoff import Backoff, backoff_s, ceiling_s


@pytest.mark.parametrize(
    ("attempt", "base_s", "cap_s", "expected"),
    [
        (1, 1.0, 30.0, 1.0),
        (2, 1.0, 30.0, 2.0),
        (3, 1.0, 30.0, 4.0),
        (5, 1.0, 30.0, 16.0),
        (6, 1.0, 30.0, 30.0),  # 32 capped
        (100, 1.0, 30.0, 30.0),
        (5000, 0.5, 30.0, 30.0),  # no float overflow on a very long outage
        (0, 2.0, 60.0, 2.0),  # attempt 0 is treated as the first
        (1, 0.5, 0.2, 0.2),  # a cap below the base wins
    ],
)
def test_ceiling_doubles_up_to_the_cap(
    attempt: int, base_s: float, cap_s: float, expected: float
) -> None:
    assert ceiling_s(attempt, base_s, cap_s) == expected


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 2.0), (0.5, 3.0), (0.999, 3.998)])
def test_equal_jitter_is_half_fixed_half_drawn(draw: float, expected: float) -> None:
    class Fixed(random.Random):
        def random(self) -> float:
            return draw

    assert backoff_s(3, 1.0, 30.0, Fixed()) == pytest.approx(expected)


def test_draws_stay_in_the_band_and_spread() -> None:
    rng = random.Random(7)
    delays = [backoff_s(2, 1.0, 30.0, rng) for _ in range(1000)]
    assert 1.0 <= min(delays) < 1.05
    assert 1.95 < max(delays) <= 2.0


@pytest.mark.parametrize(("base_s", "cap_s"), [(0.0, 1.0), (1.0, 0.0), (-1.0, 5.0)])
def test_nonsense_bounds_are_refused(base_s: float, cap_s: float) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        ceiling_s(1, base_s, cap_s)


def test_state_counts_failures_and_starts_over() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(3))
    delays = [backoff.failed() for _ in range(6)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = ceiling_s(attempt, 1.0, 8.0)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.failures == 6
    backoff.succeeded()
    assert backoff.failures == 0
    assert backoff.failed() <= 1.0
