"""The one retry delay of the project: exponential, capped, with "equal jitter".

    delay(attempt) = d/2 + uniform(0, d/2),   d = min(cap, base * 2 ** (attempt - 1))

Why equal jitter (and not "full jitter", uniform(0, d)): a reconnect never comes sooner than
half its backoff, so a dead device or server is not hammered after an unlucky draw, while
half of the delay is still random so a site's devices that failed together do not retry in
lock-step. The cap is a true cap: no draw is ever above it. Attempts count from 1 (the first
retry waits about ``base``). Pure: the caller passes its random source (tests pass a seeded
``random.Random`` or ``jitter=False`` for the undrawn upper bound).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


def ceiling_s(attempt: int, base_s: float, cap_s: float) -> float:
    """The undrawn delay before retry ``attempt`` (1, 2, ...): ``base * 2**(attempt-1)``, capped."""
    if base_s <= 0 or cap_s <= 0:
        raise ValueError(f"backoff base_s and cap_s must be > 0, got {base_s} and {cap_s}")
    exponent = max(attempt - 1, 0)
    # 2.0 ** 1100 overflows; past ~60 doublings every sane base is far above the cap anyway
    if exponent > 60:
        return cap_s
    return min(cap_s, base_s * 2.0**exponent)


def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Delay before retry ``attempt`` (1, 2, ...): in [ceiling/2, ceiling] (equal jitter)."""
    ceiling = ceiling_s(attempt, base_s, cap_s)
    draw: float = (rng or random).random()
    return ceiling / 2 + draw * ceiling / 2


@dataclass
class Backoff:
    """A retry loop's state: the consecutive failures and the next delay.

    ``failed()`` counts a failure and returns how long to wait; ``succeeded()`` starts over.
    """

    base_s: float
    cap_s: float
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def failed(self) -> float:
        """Count one more consecutive failure; the delay before the next attempt."""
        self.failures += 1
        return backoff_s(self.failures, self.base_s, self.cap_s, self.rng)

    def succeeded(self) -> None:
        """The operation worked: the next failure starts again from ``base_s``."""
        self.failures = 0
