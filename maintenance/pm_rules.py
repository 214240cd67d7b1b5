"""Preventive-maintenance due-date rules: pure functions over plain data. No I/O.

A plan's triggers are "whichever comes first". Two kinds of plan follow from them:

- **Calendar plans** (only ``calendar`` triggers): a fixed grid of due dates from an anchor
  (``anchor + k * every unit``, month-end safe: Jan 31 + 1 month = Feb 28/29, and the grid is
  computed from the anchor, so it returns to the 31st in March). Each grid date is an
  occurrence of its own; an order of the plan still open when the next one is released is
  handled by the plan's open-order policy.
- **Cycle plans** (any ``floating``, ``meter`` or ``condition`` trigger): a cycle starts when
  the plan becomes active and again at each completion. The first trigger to fire in a cycle
  gives the cycle its one occurrence; the others are satisfied by it until the order is
  completed (which re-bases floating dates and meter thresholds).

Every occurrence has a stable **slot** key, unique per plan (the database enforces it):
``2026-11-26`` (daily), ``2026-W48`` (weekly), ``2026-12`` (monthly), ``2026`` (yearly),
``2027-02-26`` (floating), ``meter:run_hours:20261126T070000Z+1500`` (meter: the cycle's
start and the use into it, so a counter reset or a replaced meter can never give a slot
already taken), ``alarm:turbidity_high:20261126T081500Z`` (condition). Due dates are
local dates in the site's zone (Asia/Shanghai: what "today" means there); an occurrence is
due at local midnight of its date, released ``lead_time_days`` before that, and its
compliance window closes ``window_days`` after it (wall-clock arithmetic, so a zone with
daylight saving keeps local midnights).

An occurrence is recorded once, in one of three states: ``generated`` (an order exists),
``missed`` (its window closed and no order was generated: the system was down), ``skipped``
(its window closed while blocked: an open order of the plan under the skip policy, or the
asset out of service). Never silently dropped: ``evaluate`` records every occurrence whose
window has closed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from device_profiles.models import OpenOrderPolicy, PmPlan, PmTrigger, TriggerKind

# A counter that moves on by more than this many intervals in one pass is not believed as
# use (a meter replaced, a decoding error): one order is raised, the plan re-based at the new
# reading and the jump recorded, rather than dozens of "missed" occurrences.
MAX_METER_JUMP = 50
# The last reading seen of a counter is kept (to carry its use over a reset) once it has
# moved by this fraction of the interval: a reset loses at most 1 % of an interval, and a
# pass does not rewrite every meter plan whenever a counter ticks.
SEEN_STEP = 0.01
# Keys next to a counter's baseline in ``PlanState.baseline`` (JSON column, same row).
CARRY_SUFFIX = "@carry"  # use carried into this segment (before a reset or a jump)
SEEN_SUFFIX = "@seen"  # the last reading seen (kept every SEEN_STEP of an interval)
# Cap on occurrences one plan records in one pass (a daily plan after years of downtime);
# the rest follow in the next passes, in order.
MAX_RECORDED_PER_PASS = 1000

SLOT_MAX = 64  # pm_occurrences.slot

CYCLE_KINDS = frozenset({TriggerKind.FLOATING, TriggerKind.METER, TriggerKind.CONDITION})


class OccurrenceState(StrEnum):
    GENERATED = "generated"  # a work order was created for it
    MISSED = "missed"  # window closed without an order: the generator did not run in time
    SKIPPED = "skipped"  # window closed while blocked (open order, skip policy; out of service)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One due instance of a plan (times are timezone-aware, UTC)."""

    slot: str
    trigger: TriggerKind
    due: datetime
    release: datetime
    window_end: datetime
    point: str | None = None  # meter triggers: the counter
    threshold: float | None = None  # meter triggers: the reading that makes it due
    alarm: str | None = None  # condition triggers: the alarm
    note: str | None = None  # what happened besides (a counter jump), for the order


@dataclass(frozen=True, slots=True)
class Decision:
    """What to record for one occurrence; ``supersede``: cancel the plan's open orders."""

    occurrence: Occurrence
    state: OccurrenceState
    reason: str
    supersede: bool = False


@dataclass(frozen=True)
class PlanRule:
    """What the rules need of one effective plan: the plan, its calendar anchor, its zone."""

    plan: PmPlan
    anchor: date
    tz: tzinfo

    @property
    def is_cycle(self) -> bool:
        return any(t.kind in CYCLE_KINDS for t in self.plan.triggers)


@dataclass(frozen=True)
class PlanState:
    """What is known about one plan of one asset when the generator looks at it."""

    active_from: datetime
    cycle_start: datetime | None = None  # last completion (cycle plans); None: active_from
    # Counter readings where the counting started (cycle start, or the last reset or jump),
    # with ``<point>@carry`` (use before that) and ``<point>@seen`` (last reading seen).
    baseline: Mapping[str, float] = field(default_factory=dict)
    last_due: datetime | None = None  # due time of the latest time-based occurrence recorded
    last_threshold: Mapping[str, float] = field(default_factory=dict)  # meter, this cycle
    covered: bool = False  # cycle plans: this cycle already has its order
    open_orders: int = 0  # orders of the plan not completed, verified, closed or cancelled
    in_service: bool = True

    @property
    def cycle_started(self) -> datetime:
        return self.cycle_start or self.active_from


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one look at a plan."""

    decisions: tuple[Decision, ...]
    state: PlanState  # with the cursor moved past what was recorded
    pending: tuple[Occurrence, ...] = ()  # released, window open, but blocked: wait
    next_release: datetime | None = None  # earliest future release of a time trigger
    warnings: tuple[str, ...] = ()

    @property
    def generated(self) -> list[Decision]:
        return [d for d in self.decisions if d.state is OccurrenceState.GENERATED]


# --- calendar arithmetic ------------------------------------------------------------------


def add_months(start: date, months: int) -> date:
    """``start`` moved by whole months, the day clamped to the month's end (Jan 31 -> Feb 28)."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(start.day, _month_length(year, month + 1)))


def _month_length(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


def step_date(anchor: date, every: int, unit: str, k: int) -> date:
    """The k-th date of the grid ``anchor + k * every unit`` (computed from the anchor)."""
    if unit == "day":
        return anchor + timedelta(days=every * k)
    if unit == "week":
        return anchor + timedelta(weeks=every * k)
    if unit == "month":
        return add_months(anchor, every * k)
    if unit == "year":
        return add_months(anchor, 12 * every * k)
    raise ValueError(f"not a time unit: {unit!r}")


def _index_before(anchor: date, every: int, unit: str, target: date) -> int:
    """A grid index whose date is on or before ``target`` (close to it, never after)."""
    if unit in ("day", "week"):
        days = every * (7 if unit == "week" else 1)
        k = (target - anchor).days // days
    else:
        months = every * (12 if unit == "year" else 1)
        k = ((target.year - anchor.year) * 12 + target.month - anchor.month) // months
    while step_date(anchor, every, unit, k) > target:
        k -= 1
    return k


def slot_key(day: date, unit: str) -> str:
    """The stable key of a calendar occurrence on ``day`` for a grid in ``unit``."""
    if unit == "day":
        return day.isoformat()
    if unit == "week":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if unit == "month":
        return f"{day.year}-{day.month:02d}"
    return f"{day.year}"


def meter_slot(point: str, cycle_start: datetime, use: float) -> str:
    """The slot of a meter occurrence: ``use`` of ``point`` into the cycle started then.

    Keyed by the cycle, not by the counter's value: after a completion (or a counter reset
    or a replaced meter) the same reading comes again, the same key must not.
    """
    cycle = f"{cycle_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    slot = f"meter:{point}:{cycle}+{format_number(use)}"
    if len(slot) > SLOT_MAX:  # a very long point name: shortened, still unique per point
        digest = hashlib.sha1(point.encode()).hexdigest()[:8]
        slot = f"meter:{point[:8]}~{digest}:{cycle}+{format_number(use)}"
    return slot


def alarm_slot(alarm: str, since: datetime) -> str:
    return f"alarm:{alarm}:{since.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def format_number(value: float) -> str:
    """``1500``, ``1500.5``: a threshold as a short, stable text (3 decimals at most)."""
    text = f"{round(value, 3):.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def localize(wall: datetime, tz: tzinfo) -> datetime:
    """A local wall-clock time in ``tz`` as an aware UTC time."""
    return wall.replace(tzinfo=tz).astimezone(UTC)


def local_date(moment: datetime, tz: tzinfo) -> date:
    """The calendar date at ``moment`` in ``tz`` ("today" at the site)."""
    return moment.astimezone(tz).date()


def whole(value: float | None) -> int:
    """A trigger's ``every`` for time units (validated whole by the plan loader)."""
    assert value is not None
    return round(value)


# --- occurrences of one trigger -----------------------------------------------------------


def _timed(rule: PlanRule, day: date, slot: str, kind: TriggerKind) -> Occurrence:
    wall = datetime.combine(day, time())
    plan = rule.plan
    return Occurrence(
        slot=slot,
        trigger=kind,
        due=localize(wall, rule.tz),
        release=localize(wall - timedelta(days=plan.lead_time_days), rule.tz),
        window_end=localize(wall + timedelta(days=_grace_days(plan)), rule.tz),
    )


def _grace_days(plan: PmPlan) -> float:
    """Days after the due date an occurrence still counts as done on time: its window, or
    for a statutory maximum interval only the due date itself (done by its end)."""
    return 1.0 if plan.statutory_max else plan.window_days


def calendar_anchor(rule: PlanRule, trigger: PmTrigger) -> date:
    """The trigger's grid anchor: its ``month_day`` (any year), else the plan's anchor."""
    if trigger.month_day is not None:
        month, day = trigger.month_day
        year = rule.anchor.year
        return date(year, month, min(day, _month_length(year, month)))
    return rule.anchor


def grid(
    rule: PlanRule, trigger: PmTrigger, after: datetime, origin: date | None = None
) -> Iterator[Occurrence]:
    """Occurrences of a calendar (``origin`` None) or floating trigger due after ``after``.

    Floating triggers count from ``origin`` (the cycle start's local date), calendar ones
    from their anchor. Endless: the caller stops.
    """
    every, unit = whole(trigger.every), trigger.unit
    assert unit is not None
    assert unit != "count"
    floating = origin is not None
    anchor = origin if origin is not None else calendar_anchor(rule, trigger)
    k = _index_before(anchor, every, unit, local_date(after, rule.tz))
    if floating:
        k = max(1, k)  # a floating date is at least one interval after the cycle start
    kind = TriggerKind.FLOATING if floating else TriggerKind.CALENDAR
    while True:
        day = step_date(anchor, every, unit, k)
        k += 1
        slot = day.isoformat() if floating else slot_key(day, unit)
        occurrence = _timed(rule, day, slot, kind)
        if occurrence.due > after:
            yield occurrence


# --- evaluation -----------------------------------------------------------------------------


def _blocked(rule: PlanRule, state: PlanState, open_orders: int) -> str | None:
    if not state.in_service:
        return "asset not in service"
    if open_orders > 0 and rule.plan.open_order_policy is OpenOrderPolicy.SKIP:
        return f"open order of this plan ({open_orders}); policy skip"
    return None


def _when(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def evaluate(
    rule: PlanRule,
    state: PlanState,
    now: datetime,
    meters: Mapping[str, float | None] | None = None,
    alarms: Mapping[str, datetime] | None = None,
) -> Evaluation:
    """What to record for a plan at ``now``.

    ``meters``: current counter readings by point (None: unknown); ``alarms``: active alarms
    of the asset by name, with the time each became active.
    """
    if rule.is_cycle:
        return _evaluate_cycle(rule, state, now, meters or {}, alarms or {})
    return _evaluate_calendar(rule, state, now)


def _evaluate_calendar(rule: PlanRule, state: PlanState, now: datetime) -> Evaluation:
    window = timedelta(days=rule.plan.window_days)
    # First look at a plan: occurrences whose window is still open when it became active.
    after = state.last_due if state.last_due is not None else state.active_from - window
    streams = [grid(rule, t, after) for t in rule.plan.triggers]
    heads = [next(s) for s in streams]
    decisions: list[Decision] = []
    pending: list[Occurrence] = []
    open_orders = state.open_orders
    last_due = state.last_due
    seen: set[str] = set()
    next_release: datetime | None = None
    while len(decisions) < MAX_RECORDED_PER_PASS:
        i = min(range(len(heads)), key=lambda j: heads[j].due)
        occurrence = heads[i]
        heads[i] = next(streams[i])
        if occurrence.slot in seen or (last_due is not None and occurrence.due <= last_due):
            continue  # two calendar triggers landing in one slot: one occurrence
        if occurrence.window_end <= state.active_from:
            continue
        if occurrence.release > now:
            next_release = occurrence.release
            break
        seen.add(occurrence.slot)
        blocked = _blocked(rule, state, open_orders)
        if occurrence.window_end <= now:
            if blocked:
                decision = Decision(occurrence, OccurrenceState.SKIPPED, blocked)
            else:
                decision = Decision(
                    occurrence,
                    OccurrenceState.MISSED,
                    f"no order generated before its window closed "
                    f"({_when(occurrence.window_end, rule.tz)})",
                )
        elif blocked:
            pending.append(occurrence)
            break  # later occurrences wait behind it: the cursor only moves forward
        else:
            supersede = rule.plan.open_order_policy is OpenOrderPolicy.SUPERSEDE and open_orders > 0
            decision = Decision(
                occurrence, OccurrenceState.GENERATED, f"due {occurrence.slot}", supersede
            )
            open_orders = 1 if supersede else open_orders + 1
        decisions.append(decision)
        last_due = occurrence.due
    return Evaluation(
        tuple(decisions),
        replace(state, last_due=last_due, open_orders=open_orders),
        tuple(pending),
        next_release,
    )


def _evaluate_cycle(
    rule: PlanRule,
    state: PlanState,
    now: datetime,
    meters: Mapping[str, float | None],
    alarms: Mapping[str, datetime],
) -> Evaluation:
    if state.covered:
        return Evaluation((), state)
    plan = rule.plan
    window = timedelta(days=plan.window_days)
    cycle_start = state.cycle_started
    after = max(cycle_start, state.last_due) if state.last_due is not None else cycle_start
    origin = local_date(cycle_start, rule.tz)
    missed: list[Occurrence] = []
    candidates: list[Occurrence] = []
    warnings: list[str] = []
    baseline = dict(state.baseline)
    last_threshold = dict(state.last_threshold)
    next_release: datetime | None = None

    for trigger in plan.triggers:
        if trigger.kind in (TriggerKind.CALENDAR, TriggerKind.FLOATING):
            floating = trigger.kind is TriggerKind.FLOATING
            for occurrence in grid(rule, trigger, after, origin if floating else None):
                if occurrence.release > now:
                    if next_release is None or occurrence.release < next_release:
                        next_release = occurrence.release
                    break
                if occurrence.window_end <= now:
                    missed.append(occurrence)
                    if len(missed) >= MAX_RECORDED_PER_PASS:
                        break
                    continue
                candidates.append(occurrence)
                break
        elif trigger.kind is TriggerKind.METER:
            found = _meter(
                rule, trigger, now, meters, baseline, last_threshold, warnings, cycle_start
            )
            missed.extend(found[:-1])
            candidates.extend(found[-1:])
        else:
            assert trigger.alarm is not None
            since = alarms.get(trigger.alarm)
            # Before the first completion an alarm already active when the plan started
            # counts; after one, only an alarm that became active since.
            bound = after if state.cycle_start is not None or state.last_due else None
            if since is not None and (bound is None or since > bound):
                candidates.append(
                    Occurrence(
                        slot=alarm_slot(trigger.alarm, since),
                        trigger=TriggerKind.CONDITION,
                        due=since,
                        release=since,
                        window_end=max(since + window, now + timedelta(seconds=1)),
                        alarm=trigger.alarm,
                    )
                )

    decisions: list[Decision] = []
    last_due = state.last_due
    for occurrence in sorted(missed, key=lambda o: o.due):
        reason = (
            f"counter {occurrence.point} passed a further {format_number(_every(rule, occurrence))}"
            " before an order was generated"
            if occurrence.trigger is TriggerKind.METER
            else f"no order generated before its window closed "
            f"({_when(occurrence.window_end, rule.tz)})"
        )
        decisions.append(Decision(occurrence, OccurrenceState.MISSED, reason))
    pending: list[Occurrence] = []
    covered = False
    open_orders = state.open_orders
    if candidates:
        first = min(candidates, key=lambda o: o.due)
        blocked = _blocked(rule, state, open_orders)
        if blocked and first.window_end <= now:
            decisions.append(Decision(first, OccurrenceState.SKIPPED, blocked))
        elif blocked:
            pending.append(first)
        else:
            supersede = plan.open_order_policy is OpenOrderPolicy.SUPERSEDE and open_orders > 0
            decisions.append(
                Decision(first, OccurrenceState.GENERATED, _cycle_reason(first), supersede)
            )
            covered = True
            open_orders = 1 if supersede else open_orders + 1
    for decision in decisions:
        occurrence = decision.occurrence
        if occurrence.point is not None and occurrence.threshold is not None:
            point = occurrence.point
            last_threshold[point] = max(last_threshold.get(point, -math.inf), occurrence.threshold)
        elif occurrence.trigger is not TriggerKind.METER:
            last_due = occurrence.due if last_due is None else max(last_due, occurrence.due)
    new_state = replace(
        state,
        baseline=baseline,
        last_threshold=last_threshold,
        last_due=last_due,
        covered=covered,
        open_orders=open_orders,
    )
    return Evaluation(tuple(decisions), new_state, tuple(pending), next_release, tuple(warnings))


def _every(rule: PlanRule, occurrence: Occurrence) -> float:
    for trigger in rule.plan.triggers:
        if trigger.kind is TriggerKind.METER and trigger.point == occurrence.point:
            return trigger.every or 0.0
    return 0.0


def _cycle_reason(occurrence: Occurrence) -> str:
    if occurrence.trigger is TriggerKind.METER:
        reached = f"{occurrence.point} reached {format_number(occurrence.threshold or 0)}"
        return f"{reached}; {occurrence.note}" if occurrence.note else reached
    if occurrence.trigger is TriggerKind.CONDITION:
        return f"alarm {occurrence.alarm} active"
    return f"due {occurrence.slot}"


def _meter(
    rule: PlanRule,
    trigger: PmTrigger,
    now: datetime,
    meters: Mapping[str, float | None],
    baseline: dict[str, float],
    last_threshold: dict[str, float],
    warnings: list[str],
    cycle_start: datetime,
) -> list[Occurrence]:
    """Thresholds newly reached, in order: all but the last were missed.

    The counter's *use* in this cycle is ``carry + reading - base``: a reset (the counter goes
    back) or an unbelievable jump starts a new segment at the new reading and carries the
    use so far, so 1,900 h run before a reset still count toward a 2,000 h interval.
    Thresholds are multiples of ``every`` in use; ``last_threshold`` keeps the last one
    recorded as a reading of the current segment.
    """
    point = trigger.point
    assert point is not None
    assert trigger.every is not None
    every = trigger.every
    reading = meters.get(point)
    if reading is None or not math.isfinite(reading):
        return []  # unknown now: nothing is decided on a value we do not have
    carry_key, seen_key = point + CARRY_SUFFIX, point + SEEN_SUFFIX
    base = baseline.get(point)
    if base is None:
        baseline[point] = reading  # the cycle's first reading is its baseline
        return []
    carry = baseline.get(carry_key, 0.0)
    seen = baseline.get(seen_key, base)
    last = last_threshold.get(point, base - carry)
    done = math.floor((carry + last - base) / every + 1e-9)
    note: str | None = None
    if reading < seen - 1e-9:
        # Reset at service or a replaced meter: the use up to the last reading seen is
        # carried over; the new segment counts from this reading (a replacement counter
        # that starts at hours of its own is not mistaken for use here).
        used = carry + max(seen, last) - base
        warnings.append(
            f"counter {point} went back from {format_number(seen)} to {format_number(reading)} "
            f"(reset or replaced): {format_number(used)} of {format_number(every)} carried "
            f"over, counting on from {format_number(reading)}"
        )
        base, carry = _rebase(baseline, last_threshold, point, reading, used, done, every)
        last = last_threshold[point]
    reached = math.floor((carry + reading - base) / every + 1e-9)
    if reached - done > MAX_METER_JUMP:
        # Not believed as use: one order now, and the counting goes on from this reading
        # as if it were exactly the next threshold (nothing "missed" in between).
        note = (
            f"counter {point} jumped from {format_number(seen)} to {format_number(reading)} "
            f"({reached - done} intervals of {format_number(every)} at once): one order "
            f"raised, re-based at {format_number(reading)}"
        )
        warnings.append(note)
        base, carry = _rebase(
            baseline, last_threshold, point, reading, (done + 1) * every, done, every
        )
        last = last_threshold[point]
        reached = done + 1
    if abs(reading - baseline.get(seen_key, base)) >= SEEN_STEP * every:
        baseline[seen_key] = reading
    if reached <= done:
        return []
    window = timedelta(days=rule.plan.window_days)
    found = []
    for k in range(done + 1, reached + 1):
        found.append(
            Occurrence(
                slot=meter_slot(point, cycle_start, k * every),
                trigger=TriggerKind.METER,
                due=now,
                release=now,
                window_end=now + window,
                point=point,
                threshold=base + k * every - carry,
                note=note if k == reached else None,
            )
        )
    baseline[seen_key] = reading  # a threshold recorded: its reading is the last seen
    return found


def _rebase(
    baseline: dict[str, float],
    last_threshold: dict[str, float],
    point: str,
    reading: float,
    used: float,
    done: int,
    every: float,
) -> tuple[float, float]:
    """Start a new counting segment at ``reading`` with ``used`` carried over; the last
    threshold recorded (``done`` intervals) is restated in the new segment's readings."""
    baseline[point] = reading
    baseline[point + CARRY_SUFFIX] = used
    baseline[point + SEEN_SUFFIX] = reading
    last_threshold[point] = reading + done * every - used
    return reading, used


# --- looking ahead ------------------------------------------------------------------------


@dataclass(frozen=True)
class Upcoming:
    """What a trigger waits for next: a date, or a counter value."""

    trigger: TriggerKind
    due: datetime | None = None
    point: str | None = None
    threshold: float | None = None
    reading: float | None = None
    alarm: str | None = None


def upcoming(
    rule: PlanRule,
    state: PlanState,
    now: datetime,
    meters: Mapping[str, float | None] | None = None,
) -> list[Upcoming]:
    """The next due date or threshold of each trigger (for ``facility pm plans``)."""
    meters = meters or {}
    result: list[Upcoming] = []
    cycle_start = state.cycle_started
    after_calendar = state.last_due or (now - timedelta(days=rule.plan.window_days))
    for trigger in rule.plan.triggers:
        if trigger.kind is TriggerKind.CALENDAR:
            after = max(after_calendar, cycle_start) if rule.is_cycle else after_calendar
            result.append(Upcoming(trigger.kind, due=next(grid(rule, trigger, after)).due))
        elif trigger.kind is TriggerKind.FLOATING:
            after = max(state.last_due or cycle_start, cycle_start)
            origin = local_date(cycle_start, rule.tz)
            result.append(Upcoming(trigger.kind, due=next(grid(rule, trigger, after, origin)).due))
        elif trigger.kind is TriggerKind.METER:
            assert trigger.point is not None
            assert trigger.every is not None
            reading = meters.get(trigger.point)
            base = state.baseline.get(trigger.point)
            threshold = None
            if base is not None:
                carry = state.baseline.get(trigger.point + CARRY_SUFFIX, 0.0)
                last = state.last_threshold.get(trigger.point, base - carry)
                done = math.floor((carry + last - base) / trigger.every + 1e-9)
                threshold = base + (done + 1) * trigger.every - carry
            result.append(
                Upcoming(trigger.kind, point=trigger.point, threshold=threshold, reading=reading)
            )
        else:
            result.append(Upcoming(trigger.kind, alarm=trigger.alarm))
    return result
