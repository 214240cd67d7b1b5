"""Table tests of the PM due-date rules (maintenance.pm_rules): pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device_profiles.models import PmPlan, TriggerKind
from maintenance.pm_rules import (
    MAX_METER_JUMP,
    Evaluation,
    OccurrenceState,
    PlanRule,
    PlanState,
    add_months,
    alarm_slot,
    evaluate,
    format_number,
    local_date,
    meter_slot,
    slot_key,
    step_date,
    upcoming,
)

SH = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")  # a zone with daylight saving, for the DST edges

G, M, S = OccurrenceState.GENERATED, OccurrenceState.MISSED, OccurrenceState.SKIPPED


def at(text: str, tz: ZoneInfo = SH) -> datetime:
    """Local wall time in ``tz`` as aware UTC: ``at("2026-11-26 08:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC)


def plan(*triggers: dict[str, Any], **fields: Any) -> PmPlan:
    data: dict[str, Any] = {
        "name": "p",
        "title": {"en": "Plan", "zh": "计划"},
        "triggers": list(triggers),
        "lead_time_days": 0,
        "window_days": 1,
    }
    data.update(fields)
    return PmPlan.model_validate(data)


MONTHLY = {"kind": "calendar", "every": 1, "unit": "month"}
DAILY = {"kind": "calendar", "every": 1, "unit": "day"}
FLOAT_3M = {"kind": "floating", "every": 3, "unit": "month"}
RUN_500 = {"kind": "meter", "point": "run_hours", "every": 500}
TURBIDITY = {"kind": "condition", "alarm": "turbidity_high"}


def decide(
    pm_plan: PmPlan,
    state: PlanState,
    now: datetime,
    *,
    anchor: date = date(2026, 1, 1),
    tz: ZoneInfo = SH,
    meters: Mapping[str, float | None] | None = None,
    alarms: Mapping[str, datetime] | None = None,
) -> Evaluation:
    return evaluate(PlanRule(pm_plan, anchor, tz), state, now, meters, alarms)


def slots(evaluation: Evaluation) -> list[tuple[str, OccurrenceState]]:
    return [(d.occurrence.slot, d.state) for d in evaluation.decisions]


# --- calendar arithmetic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2026, 1, 31), 2, date(2026, 3, 31)),  # from the anchor, not from Feb 28
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 1, 15), -13, date(2024, 12, 15)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 5, 31), 0, date(2026, 5, 31)),
    ],
)
def test_add_months_is_month_end_safe(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("anchor", "every", "unit", "expected"),
    [
        (date(2026, 1, 31), 1, "month", [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]),
        (
            date(2026, 11, 26),
            1,
            "week",
            [date(2026, 12, 3), date(2026, 12, 10), date(2026, 12, 17)],
        ),
        (date(2026, 12, 30), 1, "day", [date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2)]),
        (date(2024, 2, 29), 1, "year", [date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28)]),
        (date(2026, 1, 15), 6, "month", [date(2026, 7, 15), date(2027, 1, 15), date(2027, 7, 15)]),
        (date(2026, 11, 30), 3, "month", [date(2027, 2, 28), date(2027, 5, 30), date(2027, 8, 30)]),
    ],
)
def test_grid_dates_are_computed_from_the_anchor(
    anchor: date, every: int, unit: str, expected: list[date]
) -> None:
    assert [step_date(anchor, every, unit, k) for k in (1, 2, 3)] == expected


@pytest.mark.parametrize(
    ("day", "unit", "expected"),
    [
        (date(2026, 11, 26), "day", "2026-11-26"),
        (date(2026, 11, 26), "week", "2026-W48"),
        (date(2026, 12, 31), "week", "2026-W53"),
        (date(2027, 1, 1), "week", "2026-W53"),  # ISO week belongs to the previous year
        (date(2024, 12, 30), "week", "2025-W01"),
        (date(2026, 12, 5), "month", "2026-12"),
        (date(2027, 4, 1), "year", "2027"),
    ],
)
def test_slot_keys(day: date, unit: str, expected: str) -> None:
    assert slot_key(day, unit) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1500, "1500"), (1500.5, "1500.5"), (0.1 + 0.2, "0.3"), (20000.0, "20000"), (-0.0, "0")],
)
def test_numbers_in_slots_are_short_and_stable(value: float, expected: str) -> None:
    assert format_number(value) == expected
    cycle = at("2026-11-26 15:00")
    assert meter_slot("run_hours", cycle, value) == f"meter:run_hours:20261126T070000Z+{expected}"


def test_meter_slots_of_long_point_names_stay_within_the_column() -> None:
    cycle = at("2026-11-26 15:00")
    slot = meter_slot("x" * 60, cycle, 123456.5)
    assert len(slot) <= 64
    assert slot != meter_slot("x" * 59 + "y", cycle, 123456.5)


def test_alarm_slot_is_in_utc() -> None:
    assert alarm_slot("dry_run", at("2026-11-26 16:15:00")) == "alarm:dry_run:20261126T081500Z"


def test_today_is_the_sites_date() -> None:
    # 23:30 UTC on the 25th is already the 26th in Zhongshan.
    assert local_date(datetime(2026, 11, 25, 23, 30, tzinfo=UTC), SH) == date(2026, 11, 26)


# --- calendar plans ------------------------------------------------------------------------

CALENDAR_CASES = [
    pytest.param(
        plan(MONTHLY, lead_time_days=3, window_days=7),
        date(2026, 1, 31),
        PlanState(active_from=at("2026-01-10 00:00")),
        at("2026-02-26 00:00"),
        [("2026-01", M), ("2026-02", G)],
        id="month-end anchor: Jan 31 missed while down, Feb 28 released 3 days early",
    ),
    pytest.param(
        plan(MONTHLY, lead_time_days=3, window_days=7),
        date(2026, 1, 31),
        PlanState(active_from=at("2026-01-10 00:00")),
        at("2026-01-28 00:00"),
        [("2026-01", G)],
        id="released exactly at due minus lead time",
    ),
    pytest.param(
        plan(MONTHLY, lead_time_days=3, window_days=7),
        date(2026, 1, 31),
        PlanState(active_from=at("2026-01-10 00:00")),
        at("2026-01-27 23:59:59"),
        [],
        id="one second before release: nothing",
    ),
    pytest.param(
        plan(MONTHLY, lead_time_days=0, window_days=7),
        date(2026, 1, 31),
        PlanState(active_from=at("2026-01-10 00:00")),
        at("2026-02-07 00:00"),
        [("2026-01", M)],
        id="window closing exactly now: missed",
    ),
    pytest.param(
        plan(MONTHLY, window_days=7),
        date(2026, 1, 10),
        PlanState(active_from=at("2026-03-12 09:00")),
        at("2026-03-12 09:00"),
        [("2026-03", G)],
        id="plan activated inside a window: that occurrence is generated, late",
    ),
    pytest.param(
        plan(MONTHLY, window_days=7),
        date(2026, 1, 10),
        PlanState(active_from=at("2026-03-20 09:00")),
        at("2026-03-20 09:00"),
        [],
        id="plan activated after a window closed: not ours to miss",
    ),
    pytest.param(
        plan(DAILY, open_order_policy="stack"),
        date(2026, 1, 1),
        PlanState(active_from=at("2026-11-20 10:00"), open_orders=3),
        at("2026-11-23 09:00"),
        [("2026-11-20", M), ("2026-11-21", M), ("2026-11-22", M), ("2026-11-23", G)],
        id="statutory daily check: stacks over open orders, three days down recorded missed",
    ),
    pytest.param(
        plan(DAILY),
        date(2026, 1, 1),
        PlanState(active_from=at("2026-11-20 10:00"), open_orders=1),
        at("2026-11-20 10:00"),
        [],
        id="skip policy, open order, window open: waits",
    ),
    pytest.param(
        plan(DAILY),
        date(2026, 1, 1),
        PlanState(active_from=at("2026-11-20 10:00"), open_orders=1),
        at("2026-11-22 10:00"),
        [("2026-11-20", S), ("2026-11-21", S)],
        id="skip policy, open order through the windows: skipped and logged",
    ),
    pytest.param(
        plan(DAILY),
        date(2026, 1, 1),
        PlanState(active_from=at("2026-11-20 10:00"), in_service=False),
        at("2026-11-21 00:00"),
        [("2026-11-20", S)],
        id="asset out of service through the window: skipped",
    ),
    pytest.param(
        plan(
            {"kind": "calendar", "every": 1, "unit": "year", "month_day": [4, 1]},
            lead_time_days=21,
            window_days=30,
        ),
        date(2020, 6, 5),
        PlanState(active_from=at("2026-11-26 00:00")),
        at("2027-03-11 00:00"),
        [("2027", G)],
        id="pool drain pump before the season: Apr 1 less 21 days",
    ),
    pytest.param(
        plan({"kind": "calendar", "every": 1, "unit": "year"}, window_days=30),
        date(2024, 2, 29),
        PlanState(active_from=at("2025-01-01 00:00")),
        at("2025-02-28 00:00"),
        [("2025", G)],
        id="leap-day anchor falls on Feb 28 in a common year",
    ),
    pytest.param(
        plan({"kind": "calendar", "every": 1, "unit": "week"}, window_days=2),
        date(2026, 11, 23),
        PlanState(active_from=at("2026-11-23 00:00")),
        at("2026-12-01 12:00"),
        [("2026-W48", M), ("2026-W49", G)],
        id="weekly slots are ISO weeks",
    ),
    pytest.param(
        plan({"kind": "calendar", "every": 6, "unit": "month"}, lead_time_days=14, window_days=14),
        date(2026, 8, 31),
        PlanState(active_from=at("2026-09-20 00:00")),
        at("2027-02-14 00:00"),
        [("2027-02", G)],
        id="tank cleaning every 6 months from Aug 31: Feb 28",
    ),
    pytest.param(
        plan(MONTHLY, {"kind": "calendar", "every": 1, "unit": "year"}, window_days=7),
        date(2026, 1, 15),
        PlanState(active_from=at("2026-12-01 00:00")),
        at("2027-01-15 00:00"),
        [("2026-12", M), ("2027-01", G)],
        id="two calendar triggers on one day: one occurrence",
    ),
]


@pytest.mark.parametrize(("pm_plan", "anchor", "state", "now", "expected"), CALENDAR_CASES)
def test_calendar_plans(
    pm_plan: PmPlan,
    anchor: date,
    state: PlanState,
    now: datetime,
    expected: list[tuple[str, OccurrenceState]],
) -> None:
    evaluation = decide(pm_plan, state, now, anchor=anchor)
    assert slots(evaluation) == expected
    # The cursor moved past what was recorded: asking again records nothing new.
    again = decide(pm_plan, evaluation.state, now, anchor=anchor)
    assert again.decisions == ()


def test_supersede_cancels_the_open_order() -> None:
    evaluation = decide(
        plan(MONTHLY, open_order_policy="supersede"),
        PlanState(active_from=at("2026-01-15 00:00"), open_orders=1),
        at("2026-02-01 08:00"),
    )
    assert slots(evaluation) == [("2026-02", G)]
    assert evaluation.decisions[0].supersede
    assert evaluation.state.open_orders == 1


def test_skip_waits_then_generates_when_the_blocking_order_is_completed() -> None:
    pm_plan = plan(MONTHLY, window_days=7)
    state = PlanState(active_from=at("2026-01-15 00:00"), open_orders=1)
    waiting = decide(pm_plan, state, at("2026-02-03 00:00"))
    assert waiting.decisions == ()
    assert [o.slot for o in waiting.pending] == ["2026-02"]
    done = decide(pm_plan, replace(waiting.state, open_orders=0), at("2026-02-04 00:00"))
    assert slots(done) == [("2026-02", G)]


def test_next_release_says_when_to_look_again() -> None:
    evaluation = decide(
        plan(MONTHLY, lead_time_days=3),
        PlanState(active_from=at("2026-01-01 00:00")),
        at("2026-01-02 00:00"),
        anchor=date(2026, 1, 15),
    )
    assert evaluation.decisions == ()
    assert evaluation.next_release == at("2026-01-12 00:00")


@pytest.mark.parametrize(
    ("tz", "anchor", "expected_due_utc"),
    [
        # No daylight saving in China: always 16:00 UTC the day before.
        (SH, date(2026, 3, 29), datetime(2026, 4, 28, 16, 0, tzinfo=UTC)),
        # London moves to BST on 2026-03-29: local midnight stays local midnight.
        (LONDON, date(2026, 3, 28), datetime(2026, 4, 27, 23, 0, tzinfo=UTC)),
        (LONDON, date(2026, 9, 26), datetime(2026, 10, 26, 0, 0, tzinfo=UTC)),
        # ... and back to GMT on 2026-10-25 at 02:00: that midnight is still BST.
        (LONDON, date(2026, 9, 25), datetime(2026, 10, 24, 23, 0, tzinfo=UTC)),
    ],
)
def test_due_is_local_midnight_across_daylight_saving(
    tz: ZoneInfo, anchor: date, expected_due_utc: datetime
) -> None:
    evaluation = decide(
        plan(MONTHLY, window_days=2),
        PlanState(active_from=expected_due_utc - timedelta(days=1)),
        expected_due_utc + timedelta(hours=1),
        anchor=anchor,
        tz=tz,
    )
    (decision,) = evaluation.decisions
    assert decision.occurrence.due == expected_due_utc
    assert decision.occurrence.window_end.astimezone(tz).hour == 0


def test_release_across_the_spring_forward_keeps_local_midnight() -> None:
    # Due 2026-04-01 in London, 7 days lead: released at local midnight 2026-03-25 (GMT).
    evaluation = decide(
        plan(MONTHLY, lead_time_days=7, window_days=7),
        PlanState(active_from=at("2026-03-10 00:00", LONDON)),
        at("2026-03-25 00:00", LONDON),
        anchor=date(2026, 1, 1),
        tz=LONDON,
    )
    (decision,) = evaluation.decisions
    assert decision.occurrence.release == datetime(2026, 3, 25, 0, 0, tzinfo=UTC)
    assert decision.occurrence.due == datetime(2026, 3, 31, 23, 0, tzinfo=UTC)


def test_a_year_of_downtime_is_recorded_in_order_and_capped_per_pass() -> None:
    pm_plan = plan(DAILY, open_order_policy="stack")
    state = PlanState(active_from=at("2020-01-01 00:00"))
    now = at("2023-01-01 12:00")
    first = decide(pm_plan, state, now)
    assert len(first.decisions) == 1000
    assert all(d.state is M for d in first.decisions)
    rest = decide(pm_plan, first.state, now)
    recorded = [d.occurrence.slot for d in (*first.decisions, *rest.decisions)]
    assert len(recorded) == len(set(recorded)) == 365 * 3 + 1 + 1  # 2020 is a leap year
    assert rest.decisions[-1].state is G


# --- cycle plans: floating, meter, condition, whichever first ------------------------------

PUMP = plan(RUN_500, FLOAT_3M, lead_time_days=7, window_days=14)
START = at("2026-11-26 15:00")

CYCLE_CASES = [
    pytest.param(
        plan(FLOAT_3M, lead_time_days=7, window_days=14),
        PlanState(active_from=START),
        at("2027-02-19 00:00"),
        {},
        [("2027-02-26", G)],
        id="floating: 3 months after the cycle start, released 7 days early",
    ),
    pytest.param(
        plan(FLOAT_3M, lead_time_days=7, window_days=14),
        PlanState(active_from=START, cycle_start=at("2026-11-30 11:00")),
        at("2027-02-21 00:00"),
        {},
        [("2027-02-28", G)],
        id="floating from a completion on Nov 30: Feb 28",
    ),
    pytest.param(
        plan(FLOAT_3M, lead_time_days=7, window_days=14),
        PlanState(active_from=START),
        at("2027-05-20 00:00"),
        {},
        [("2027-02-26", M), ("2027-05-26", G)],
        id="floating: missed while down, the next interval is generated",
    ),
    pytest.param(
        plan(RUN_500),
        PlanState(active_from=START, baseline={"run_hours": 1000}),
        START,
        {"run_hours": 1499.9},
        [],
        id="meter below its threshold",
    ),
    pytest.param(
        plan(RUN_500),
        PlanState(active_from=START, baseline={"run_hours": 1000}),
        START,
        {"run_hours": 1500.0},
        [("meter:run_hours:20261126T070000Z+500", G)],
        id="meter reaching its threshold exactly",
    ),
    pytest.param(
        plan(RUN_500),
        PlanState(active_from=START, baseline={"run_hours": 1000.3}),
        START,
        {"run_hours": 0.1 * 15003},
        [("meter:run_hours:20261126T070000Z+500", G)],
        id="meter threshold with 0.1 h scaling (float noise)",
    ),
    pytest.param(
        plan(RUN_500),
        PlanState(active_from=START, baseline={"run_hours": 1000}),
        START,
        {"run_hours": 2100},
        [("meter:run_hours:20261126T070000Z+500", M), ("meter:run_hours:20261126T070000Z+1000", G)],
        id="meter crossing two thresholds unseen: the first is missed",
    ),
    pytest.param(
        plan(RUN_500),
        PlanState(
            active_from=START, baseline={"run_hours": 1000}, last_threshold={"run_hours": 1500}
        ),
        START,
        {"run_hours": 1900},
        [],
        id="meter: a recorded threshold is not generated again after a cancellation",
    ),
    pytest.param(
        plan(RUN_500),
        PlanState(active_from=START),
        START,
        {"run_hours": 1234},
        [],
        id="meter: the first reading of a cycle becomes its baseline",
    ),
    pytest.param(
        plan(RUN_500),
        PlanState(active_from=START, baseline={"run_hours": 1000}),
        START,
        {"run_hours": None},
        [],
        id="meter: unknown reading decides nothing",
    ),
    pytest.param(
        plan({"kind": "meter", "point": "start_count", "every": 1000}),
        PlanState(active_from=START, baseline={"start_count": 12000}),
        START,
        {"start_count": 13001},
        [("meter:start_count:20261126T070000Z+1000", G)],
        id="start-count meter",
    ),
    pytest.param(
        PUMP,
        PlanState(active_from=START, baseline={"run_hours": 1000}),
        at("2027-01-05 09:00"),
        {"run_hours": 1502},
        [("meter:run_hours:20261126T070000Z+500", G)],
        id="whichever first: run hours before three months",
    ),
    pytest.param(
        PUMP,
        PlanState(active_from=START, baseline={"run_hours": 1000}),
        at("2027-02-19 00:00"),
        {"run_hours": 1200},
        [("2027-02-26", G)],
        id="whichever first: three months before run hours",
    ),
    pytest.param(
        PUMP,
        PlanState(active_from=START, baseline={"run_hours": 1000}, covered=True),
        at("2027-03-30 00:00"),
        {"run_hours": 2600},
        [],
        id="whichever first: the cycle already has its order",
    ),
    pytest.param(
        plan(TURBIDITY, window_days=2),
        PlanState(active_from=START),
        at("2026-12-01 10:05"),
        {},
        [("alarm:turbidity_high:20261201T020000Z", G)],
        id="condition: alarm active",
    ),
    pytest.param(
        plan(TURBIDITY, window_days=2),
        PlanState(active_from=at("2026-12-01 10:30")),
        at("2026-12-01 10:35"),
        {},
        [("alarm:turbidity_high:20261201T020000Z", G)],
        id="condition: already active when the plan started",
    ),
    pytest.param(
        plan(TURBIDITY, window_days=2),
        PlanState(active_from=START, cycle_start=at("2026-12-01 12:00")),
        at("2026-12-01 12:05"),
        {},
        [],
        id="condition: active since before the last completion: not again",
    ),
    pytest.param(
        plan(TURBIDITY, FLOAT_3M, window_days=2),
        PlanState(active_from=START, in_service=False),
        at("2026-12-05 10:00"),
        {},
        [],
        id="condition on an asset out of service waits while the alarm lasts",
    ),
]


@pytest.mark.parametrize(("pm_plan", "state", "now", "meters", "expected"), CYCLE_CASES)
def test_cycle_plans(
    pm_plan: PmPlan,
    state: PlanState,
    now: datetime,
    meters: dict[str, float | None],
    expected: list[tuple[str, OccurrenceState]],
) -> None:
    alarms = {"turbidity_high": at("2026-12-01 10:00")}
    evaluation = decide(pm_plan, state, now, meters=meters, alarms=alarms)
    assert slots(evaluation) == expected
    generated = any(d.state is G for d in evaluation.decisions)
    assert evaluation.state.covered is (generated or state.covered)
    again = decide(pm_plan, evaluation.state, now, meters=meters, alarms=alarms)
    assert again.decisions == ()


def test_first_reading_sets_the_baseline_then_counts_from_it() -> None:
    pm_plan = plan(RUN_500)
    first = decide(pm_plan, PlanState(active_from=START), START, meters={"run_hours": 1234})
    assert first.state.baseline == {"run_hours": 1234}
    later = decide(pm_plan, first.state, START, meters={"run_hours": 1734})
    assert slots(later) == [("meter:run_hours:20261126T070000Z+500", G)]


def test_completion_rebases_the_cycle() -> None:
    pm_plan = PUMP
    state = PlanState(active_from=START, baseline={"run_hours": 1000})
    generated = decide(pm_plan, state, at("2027-01-05 09:00"), meters={"run_hours": 1502})
    # Completed on Jan 6 at 1510 h: both triggers count from there.
    rebased = replace(
        generated.state,
        cycle_start=at("2027-01-06 16:00"),
        baseline={"run_hours": 1510},
        last_threshold={},
        last_due=None,
        covered=False,
        open_orders=0,
    )
    assert (
        decide(pm_plan, rebased, at("2027-03-29 23:59"), meters={"run_hours": 2009}).decisions == ()
    )
    assert slots(decide(pm_plan, rebased, at("2027-03-29 23:59"), meters={"run_hours": 2010})) == [
        ("meter:run_hours:20270106T080000Z+500", G)
    ]
    assert slots(decide(pm_plan, rebased, at("2027-03-30 00:00"), meters={"run_hours": 1600})) == [
        ("2027-04-06", G)
    ]


def test_meter_jump_raises_one_order_and_rebases() -> None:
    # 12,000 -> 40,000 h on a 500 h plan: 56 intervals at once (issue 10, finding 2).
    pm_plan = plan(RUN_500)
    assert MAX_METER_JUMP < (40000 - 12000) / 500
    state = PlanState(active_from=START, baseline={"run_hours": 12000})
    jumped = decide(pm_plan, state, START, meters={"run_hours": 40000})
    (decision,) = jumped.decisions
    assert decision.state is G
    assert decision.occurrence.slot == "meter:run_hours:20261126T070000Z+500"
    assert decision.occurrence.threshold == 40000
    assert "jumped from 12000 to 40000 (56 intervals of 500 at once)" in decision.reason
    assert "re-based at 40000" in jumped.warnings[0]
    # Not blocked for good: after the order is completed at 40,000 h the plan counts on.
    done = replace(
        jumped.state, cycle_start=START + timedelta(days=1), baseline={"run_hours": 40000},
        last_threshold={}, covered=False, open_orders=0,
    )  # fmt: skip
    assert slots(decide(pm_plan, done, START + timedelta(days=2), meters={"run_hours": 40500})) == [
        ("meter:run_hours:20261127T070000Z+500", G)
    ]


def test_meter_jump_rebases_even_while_the_order_must_wait() -> None:
    # An open order of the plan (skip policy): the jump is recorded once, the occurrence
    # waits as an ordinary threshold, never as 55 missed ones.
    pm_plan = plan(RUN_500)
    state = PlanState(active_from=START, baseline={"run_hours": 12000}, open_orders=1)
    jumped = decide(pm_plan, state, START, meters={"run_hours": 40000})
    assert jumped.decisions == ()
    assert [o.threshold for o in jumped.pending] == [40000]
    later = decide(
        pm_plan, replace(jumped.state, open_orders=0), START, meters={"run_hours": 40010}
    )
    assert slots(later) == [("meter:run_hours:20261126T070000Z+500", G)]
    assert later.warnings == ()  # the jump was said once


def test_counter_reset_carries_the_use_over() -> None:
    # 1,900 h run on a 2,000 h plan, then the counter is reset (or the meter replaced):
    # the next order comes 100 h after the reset, not 2,000 h (issue 10, finding 2).
    pm_plan = plan({"kind": "meter", "point": "run_hours", "every": 2000})
    state = PlanState(active_from=START, baseline={"run_hours": 0})
    state = decide(pm_plan, state, START, meters={"run_hours": 1900}).state
    reset = decide(pm_plan, state, START, meters={"run_hours": 0})
    assert reset.decisions == ()
    assert "went back from 1900 to 0" in reset.warnings[0]
    assert "1900 of 2000 carried over" in reset.warnings[0]
    state = reset.state
    assert decide(pm_plan, state, START, meters={"run_hours": 99}).decisions == ()
    due = decide(pm_plan, state, START, meters={"run_hours": 100})
    assert slots(due) == [("meter:run_hours:20261126T070000Z+2000", G)]
    assert due.decisions[0].occurrence.threshold == 100


def test_counter_replaced_mid_cycle_counts_from_its_first_reading() -> None:
    # A replacement meter that starts at 350 h of its own: 1,600 h carried, due at 750 h.
    pm_plan = plan({"kind": "meter", "point": "run_hours", "every": 2000})
    state = PlanState(active_from=START, baseline={"run_hours": 10000})
    state = decide(pm_plan, state, START, meters={"run_hours": 11600}).state
    state = decide(pm_plan, state, START, meters={"run_hours": 350}).state
    assert decide(pm_plan, state, START, meters={"run_hours": 749}).decisions == ()
    assert slots(decide(pm_plan, state, START, meters={"run_hours": 750})) == [
        ("meter:run_hours:20261126T070000Z+2000", G)
    ]


def test_two_resets_in_one_cycle_carry_both_stretches() -> None:
    pm_plan = plan({"kind": "meter", "point": "run_hours", "every": 2000})
    state = PlanState(active_from=START, baseline={"run_hours": 0})
    for reading in (800, 0, 700, 0):  # 800 h, reset, 700 h, reset
        state = decide(pm_plan, state, START, meters={"run_hours": reading}).state
    assert decide(pm_plan, state, START, meters={"run_hours": 499}).decisions == ()
    assert len(decide(pm_plan, state, START, meters={"run_hours": 500}).generated) == 1


def test_a_reset_after_a_recorded_threshold_does_not_repeat_it() -> None:
    pm_plan = plan(RUN_500)
    state = PlanState(active_from=START, baseline={"run_hours": 1000})
    first = decide(pm_plan, state, START, meters={"run_hours": 1500})
    assert [o.slot for o in (d.occurrence for d in first.decisions)] == [
        "meter:run_hours:20261126T070000Z+500"
    ]
    # The order was cancelled (cycle not re-based), then the counter reset: 500 h used,
    # 200 h more after the reset reaches 700, not the 500 already recorded.
    state = replace(first.state, covered=False, open_orders=0)
    state = decide(pm_plan, state, START, meters={"run_hours": 1700}).state
    state = decide(pm_plan, state, START, meters={"run_hours": 0}).state
    assert decide(pm_plan, state, START, meters={"run_hours": 299}).decisions == ()
    assert slots(decide(pm_plan, state, START, meters={"run_hours": 300})) == [
        ("meter:run_hours:20261126T070000Z+1000", G)
    ]


def test_seen_reading_is_kept_in_steps_not_on_every_tick() -> None:
    pm_plan = plan(RUN_500)
    state = PlanState(active_from=START, baseline={"run_hours": 1000})
    small = decide(pm_plan, state, START, meters={"run_hours": 1004.9})
    assert small.state.baseline == {"run_hours": 1000}  # under 1 % of 500 h: not written
    moved = decide(pm_plan, state, START, meters={"run_hours": 1005})
    assert moved.state.baseline == {"run_hours": 1000, "run_hours@seen": 1005}


def test_meter_occurrence_window_counts_from_when_it_was_seen() -> None:
    now = at("2027-01-05 09:00")
    (decision,) = decide(
        plan(RUN_500, window_days=14),
        PlanState(active_from=START, baseline={"run_hours": 0}),
        now,
        meters={"run_hours": 500},
    ).decisions
    occurrence = decision.occurrence
    assert (occurrence.trigger, occurrence.point, occurrence.threshold) == (
        TriggerKind.METER,
        "run_hours",
        500,
    )
    assert (occurrence.release, occurrence.window_end) == (now, now + timedelta(days=14))


def test_upcoming_shows_the_next_date_and_threshold() -> None:
    state = PlanState(active_from=START, baseline={"run_hours": 1000})
    found = upcoming(PlanRule(PUMP, date(2026, 1, 1), SH), state, START, {"run_hours": 1200})
    assert [(u.trigger, u.due, u.threshold, u.reading) for u in found] == [
        (TriggerKind.METER, None, 1500, 1200),
        (TriggerKind.FLOATING, at("2027-02-26 00:00"), None, None),
    ]


# --- statutory plans: the interval is a maximum (issue 10, finding 10) ----------------------


def test_tank_cleaning_is_due_within_six_months_of_the_last_cleaning() -> None:
    from device_profiles import load_library

    cleaning = next(
        p for p in load_library()["water-tank-monitor"].pm_plans if p.name == "cleaning"
    )
    assert cleaning.statutory_max
    cleaned = at("2026-01-10 14:00")
    state = PlanState(active_from=START - timedelta(days=400), cycle_start=cleaned)
    (decision,) = decide(cleaning, state, at("2026-06-20 00:00")).decisions
    occurrence = decision.occurrence
    assert decision.state is G
    # Due on Jul 10 (six months on), counted as done on time only to the end of that day:
    # never six months and four weeks, whatever the lead time.
    assert occurrence.due == at("2026-07-10 00:00")
    assert occurrence.window_end == at("2026-07-11 00:00")
    assert occurrence.release == at("2026-06-12 00:00")  # 28 days' notice
    texts = " ".join(item.text.en for item in cleaning.checklist)
    assert "water-quality test" in texts


def test_a_late_statutory_cleaning_is_recorded_as_missed_the_day_after_the_maximum() -> None:
    pm_plan = PmPlan.model_validate(
        {
            "name": "cleaning",
            "title": {"en": "Cleaning", "zh": "清洗"},
            "triggers": [{"kind": "floating", "every": 6, "unit": "month"}],
            "lead_time_days": 28,
            "statutory_max": True,
        }
    )
    state = PlanState(active_from=START, cycle_start=at("2026-01-10 14:00"))
    (decision,) = decide(pm_plan, state, at("2026-07-11 00:00")).decisions
    assert decision.state is M


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"triggers": [MONTHLY]}, "expected floating triggers only"),
        ({"window_days": 28}, "no window after the due date"),
        ({"lead_time_days": 0}, "at least 1 day"),
    ],
)
def test_statutory_plans_are_validated(fields: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {
        "name": "cleaning",
        "title": {"en": "Cleaning", "zh": "清洗"},
        "triggers": [{"kind": "floating", "every": 6, "unit": "month"}],
        "lead_time_days": 28,
        "statutory_max": True,
        **fields,
    }
    with pytest.raises(ValueError, match=message):
        PmPlan.model_validate(data)
