"""The one priority type: its order, most urgent first."""

from __future__ import annotations

import pytest

from facility.types import PRIORITY_ORDER, Priority, priority_rank


@pytest.mark.parametrize(
    ("priority", "floor", "expected"),
    [
        ("critical", "high", True),
        ("high", "high", True),
        ("medium", "high", False),
        ("low", "critical", False),
        ("critical", "low", True),
    ],
)
def test_one_priority_order(priority: str, floor: str, expected: bool) -> None:
    assert Priority(priority).at_least(Priority(floor)) is expected
    assert [p.value for p in sorted(Priority, key=lambda p: p.rank)] == list(PRIORITY_ORDER)
    assert priority_rank("unknown") == len(PRIORITY_ORDER)
