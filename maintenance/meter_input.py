"""Checking a counter reading typed in by a person (pure).

A typed reading feeds meter-based PM plans, so a wrong one moves due dates: ``-5``, ``inf``,
``1e300``, a point the device does not count, a reading dated years ahead (it would stay the
"latest" until then) are refused with a message saying what is expected. A counter only
goes up: a reading below the one before it (or above the one after it, when back-dated)
is refused unless the person says the counter was reset or the meter replaced
(``reset``) — the PM rules then carry the use already run over to the new count.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from facility.errors import ConfigError

MAX_VALUE = 1e12  # beyond any run-hour, start or energy counter of these estates
CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock may run a little ahead


@dataclass(frozen=True, slots=True)
class Neighbour:
    value: float
    at: datetime


class MeterInputError(ConfigError):
    """A typed reading that cannot be right; the message says why and what is expected."""


def check_reading(
    asset_no: str,
    point: str,
    value: float,
    at: datetime,
    now: datetime,
    *,
    counters: Collection[str] | None,
    before: Neighbour | None,
    after: Neighbour | None,
    reset: bool = False,
) -> None:
    """Return quietly, or raise MeterInputError. ``counters``: the asset's counter points
    (None: its profile is unknown, any point name is taken); ``before``/``after``: the
    stored readings of the point just before and after ``at``."""
    where = f"{asset_no} {point}"
    if counters is not None and point not in counters:
        known = ", ".join(sorted(counters)) or "none"
        raise MeterInputError(f"{where}: not a counter of this asset (its counters: {known})")
    if not math.isfinite(value):
        raise MeterInputError(f"{where} = {value}: expected a finite number")
    if value < 0:
        raise MeterInputError(f"{where} = {value:g}: a counter is never negative")
    if value > MAX_VALUE:
        raise MeterInputError(f"{where} = {value:g}: above {MAX_VALUE:g}, not a real count")
    if at > now + CLOCK_SKEW:
        raise MeterInputError(
            f"{where}: read at {at:%Y-%m-%d %H:%M} UTC, which is in the future "
            f"(now {now:%Y-%m-%d %H:%M} UTC)"
        )
    if reset:
        return
    if before is not None and value < before.value:
        raise MeterInputError(
            f"{where} = {value:g} is below the {before.value:g} read at "
            f"{before.at:%Y-%m-%d %H:%M} UTC: a counter only goes up — if it was reset or the "
            "meter replaced, say so (--reset)"
        )
    if after is not None and value > after.value:
        raise MeterInputError(
            f"{where} = {value:g} is above the {after.value:g} read later, at "
            f"{after.at:%Y-%m-%d %H:%M} UTC: check the date, or mark a reset (--reset)"
        )
