"""Pure: a reading (or a device's health) → is the alarm condition active?

``None`` means *unknown*: the value is missing, not a number where one is needed, or its
quality is not good. An unknown condition changes nothing in the state machine — a bad
value never raises (or clears) a process alarm; it raises the asset's ``bad_quality`` alarm
instead, and a device that stopped answering raises ``comm_loss``.

Deadband is hysteresis on the way back: a HI alarm with limit 10 and deadband 0.5 becomes
active above 10 and returns to normal only at or below 9.5 (LO: below the limit, back at or
above limit + deadband). Rate of change is in units per minute, compared by magnitude.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from facility.types import PointValue, Quality, Reading
from gateway.alarms.definitions import AlarmSpec, Check

Health = Mapping[str, float | int | bool | str]


def number(value: PointValue) -> float | None:
    """The value as a float, or None for bools, strings and missing values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def limit_condition(check: Check, value: float, limit: float, deadband: float, was: bool) -> bool:
    """HIHI/HI: above the limit; LO/LOLO: below it; with deadband on the way back."""
    if check in (Check.HI, Check.HIHI, Check.ROC):
        return value > limit - deadband if was else value > limit
    return value < limit + deadband if was else value < limit


LimitEvaluator = Callable[[PointValue, "bool | None"], "bool | None"]


def limit_evaluator(spec: AlarmSpec) -> LimitEvaluator | None:
    """A fast evaluator of a HIHI/HI/LO/LOLO alarm for good readings: ``(value, was) ->
    condition`` (None when the value is not a number). The engine's hot path: the same rule
    as :func:`limit_condition`, with the thresholds worked out once."""
    if spec.check not in (Check.HI, Check.HIHI, Check.LO, Check.LOLO) or spec.limit is None:
        return None
    on = spec.limit
    if spec.check in (Check.HI, Check.HIHI):
        off = spec.limit - spec.deadband

        def high(value: PointValue, was: bool | None) -> bool | None:
            kind = type(value)
            if kind is not float and kind is not int:  # bool is not int here: no limit check
                return None
            return value > (off if was else on)  # type: ignore[operator]

        return high
    back = spec.limit + spec.deadband

    def low(value: PointValue, was: bool | None) -> bool | None:
        kind = type(value)
        if kind is not float and kind is not int:
            return None
        return value < (back if was else on)  # type: ignore[operator]

    return low


def rate_per_min(
    previous: float | None, previous_ts: datetime | None, value: float, ts: datetime
) -> float | None:
    """Change per minute since the previous good value (None without one, or no time passed)."""
    if previous is None or previous_ts is None:
        return None
    seconds = (ts - previous_ts).total_seconds()
    if seconds <= 0:
        return None
    return (value - previous) * 60.0 / seconds


def process_condition(
    spec: AlarmSpec, reading: Reading | None, was: bool | None, rate: float | None = None
) -> bool | None:
    """The condition of a limit, state or rate-of-change alarm from its point's reading.

    ``rate`` is the point's rate of change per minute (ROC alarms; see :func:`rate_per_min`).
    """
    if reading is None or reading.quality is not Quality.GOOD:
        return None
    check = spec.check
    if check is Check.STATE:
        value = reading.value
        if value is None or isinstance(value, float | str):
            # states are integers or booleans; a float that is whole still counts
            if isinstance(value, float) and value.is_integer():
                return int(value) in spec.states
            return None
        return value in spec.states
    if spec.limit is None:
        return None
    if check is Check.ROC:
        if rate is None:
            return None
        return limit_condition(check, abs(rate), spec.limit, spec.deadband, bool(was))
    value_f = number(reading.value)
    if value_f is None:
        return None
    return limit_condition(check, value_f, spec.limit, spec.deadband, bool(was))


def comm_condition(readings: Iterable[Reading], health: Health) -> bool:
    """Communication lost: the collector says so, or not one point could be read."""
    comm_ok = health.get("comm_ok")
    if comm_ok is False:
        return True
    qualities = [r.quality for r in readings]
    return bool(qualities) and all(q is Quality.BAD_COMM for q in qualities)


def quality_condition(readings: Mapping[str, Reading], watched: Iterable[str]) -> bool | None:
    """Any watched point bad or uncertain; unknown when none was read or every one was lost
    to a communication failure (``comm_loss`` covers that)."""
    qualities = [readings[p].quality for p in watched if p in readings]
    if not qualities or all(q is Quality.BAD_COMM for q in qualities):
        return None
    return any(q is not Quality.GOOD for q in qualities)


def is_stale(last_seen: datetime | None, now: datetime, stale_after_s: float) -> bool:
    """No message from the device for longer than ``stale_after_s``."""
    return last_seen is not None and (now - last_seen).total_seconds() > stale_after_s
