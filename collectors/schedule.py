"""When a device's poll classes are due (pure).

Each poll class (fast/normal/slow) has its own period; a poll reads every class due at that
instant, so a device is still read with one pass. Deadlines advance by whole periods from a
fixed origin — no drift — and a poll that overran skips the missed deadlines (counted),
never queueing up catch-up polls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from device_profiles.models import PollClass


@dataclass
class PollSchedule:
    periods: Mapping[PollClass, float]
    start: float  # first deadline (monotonic seconds), start jitter already applied
    next_due: dict[PollClass, float] = field(init=False)
    overruns: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.next_due = dict.fromkeys(self.periods, self.start)

    def due(self, now: float) -> frozenset[PollClass]:
        """Classes whose deadline has come."""
        return frozenset(c for c, t in self.next_due.items() if t <= now)

    def advance(self, classes: frozenset[PollClass], now: float) -> int:
        """Move the polled classes' deadlines past ``now``; returns deadlines skipped."""
        skipped = 0
        for poll_class in classes:
            period = self.periods[poll_class]
            deadline = self.next_due[poll_class] + period
            if deadline < now:
                missed = math.ceil((now - deadline) / period)
                skipped += missed
                deadline += missed * period
            self.next_due[poll_class] = deadline
        self.overruns += skipped
        return skipped

    def next_wake(self) -> float:
        return min(self.next_due.values())
