"""Typed counter readings: what is refused, and why (issue 10, finding 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from maintenance.meter_input import MeterInputError, Neighbour, check_reading

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
BEFORE = Neighbour(1500.0, NOW - timedelta(days=3))
AFTER = Neighbour(1600.0, NOW - timedelta(days=1))
COUNTERS = ("run_hours", "starts")


@pytest.mark.parametrize(
    ("point", "value", "at", "reset", "message"),
    [
        ("run_hours", -5.0, NOW, False, "never negative"),
        ("run_hours", float("inf"), NOW, False, "finite"),
        ("run_hours", float("nan"), NOW, False, "finite"),
        ("run_hours", 1e300, NOW, False, "not a real count"),
        (
            "run_state",
            10.0,
            NOW,
            False,
            r"not a counter of this asset \(its counters: run_hours, starts\)",
        ),
        ("run_hours", 1700.0, datetime(2030, 1, 1, tzinfo=UTC), False, "in the future"),
        ("run_hours", 1400.0, NOW - timedelta(days=2), False, "below the 1500"),
        ("run_hours", 1650.0, NOW - timedelta(days=2), False, "above the 1600 read later"),
        ("run_hours", -1.0, NOW, True, "never negative"),  # a reset is still a count
    ],
)
def test_readings_that_cannot_be_right_are_refused(
    point: str, value: float, at: datetime, reset: bool, message: str
) -> None:
    with pytest.raises(MeterInputError, match=message):
        check_reading(
            "HT-PMP-001", point, value, at, NOW,
            counters=COUNTERS, before=BEFORE, after=AFTER, reset=reset,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "at", "reset", "after"),
    [
        (1550.0, NOW - timedelta(days=2), False, AFTER),  # between its neighbours
        (1500.0, NOW - timedelta(days=2), False, AFTER),  # unchanged is fine
        (12.0, NOW, True, None),  # reset: lower is right
        (1700.0, NOW + timedelta(minutes=4), False, None),  # a phone clock a little ahead
    ],
)
def test_plausible_readings_pass(
    value: float, at: datetime, reset: bool, after: Neighbour | None
) -> None:
    check_reading(
        "HT-PMP-001", "run_hours", value, at, NOW,
        counters=COUNTERS, before=BEFORE, after=after, reset=reset,
    )  # fmt: skip


def test_an_unknown_profile_takes_any_point_name() -> None:
    check_reading("HT-PMP-001", "whatever", 3.0, NOW, NOW, counters=None, before=None, after=None)
