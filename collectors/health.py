"""Failure handling for one device, as pure state: backoff with jitter and a circuit breaker.

A device that fails is not polled again until its backoff has passed (doubling per
consecutive failure, with jitter so a site's devices do not retry in lock-step after a
gateway comes back), so a dead device costs no request slots of the live ones on the
same connection. The breaker opens after ``open_after`` consecutive failures; while open,
the device is only probed once per backoff period. Transitions are reported so the shell
logs exactly once when a device goes and once when it comes back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from facility.backoff import backoff_s, ceiling_s


class BreakerState(StrEnum):
    CLOSED = "closed"  # healthy: poll on schedule
    OPEN = "open"  # failing: wait for the backoff, then probe


class Transition(StrEnum):
    NONE = "none"
    WENT_DOWN = "went_down"
    CAME_BACK = "came_back"


@dataclass
class DeviceHealth:
    """Counters and breaker state of one device (published as its health reading)."""

    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    open_after: int = 3
    jitter: bool = True  # False: the undrawn ceiling (deterministic tests)
    rng: random.Random = field(default_factory=random.Random)
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    next_attempt: float = 0.0
    polls: int = 0
    failures: int = 0
    reconnects: int = 0
    overruns: int = 0
    last_rtt_ms: float = 0.0
    errors_by_code: dict[str, int] = field(default_factory=dict)
    last_error: str = ""

    @property
    def comm_ok(self) -> bool:
        return self.state is BreakerState.CLOSED

    def may_poll(self, now: float) -> bool:
        """False while backing off after a failure."""
        return now >= self.next_attempt

    def backoff_s(self) -> float:
        """Delay after the current run of consecutive failures (0 when healthy)."""
        if self.consecutive_failures == 0:
            return 0.0
        if not self.jitter:
            return ceiling_s(self.consecutive_failures, self.backoff_min_s, self.backoff_max_s)
        return backoff_s(
            self.consecutive_failures, self.backoff_min_s, self.backoff_max_s, self.rng
        )

    def success(self, now: float, rtt_ms: float) -> Transition:
        self.polls += 1
        self.last_rtt_ms = rtt_ms
        self.consecutive_failures = 0
        self.next_attempt = now
        if self.state is BreakerState.OPEN:
            self.state = BreakerState.CLOSED
            return Transition.CAME_BACK
        return Transition.NONE

    def failure(self, now: float, code: str, message: str) -> Transition:
        """Record a failed poll; ``code`` is e.g. ``timeout``, ``exception_2``, ``refused``."""
        self.polls += 1
        self.failures += 1
        self.consecutive_failures += 1
        self.errors_by_code[code] = self.errors_by_code.get(code, 0) + 1
        self.last_error = message
        self.next_attempt = now + self.backoff_s()
        if self.state is BreakerState.CLOSED and self.consecutive_failures >= self.open_after:
            self.state = BreakerState.OPEN
            return Transition.WENT_DOWN
        return Transition.NONE

    def as_reading(self) -> dict[str, float | int | bool | str]:
        """The health published with every device message."""
        health: dict[str, float | int | bool | str] = {
            "comm_ok": self.comm_ok,
            "rtt_ms": round(self.last_rtt_ms, 2),
            "polls": self.polls,
            "errors": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "reconnects": self.reconnects,
            "overruns": self.overruns,
        }
        if self.errors_by_code:  # none on a healthy device: skip the sort
            for code, count in sorted(self.errors_by_code.items()):
                health[f"errors_{code}"] = count
        return health
