"""Alarm KPIs from a journal: rates per position, 10-minute periods over 10, time in flood,
top contributors, priority distribution, chattering with tuning by replay, fleeting, stale,
shelved/suppressed counts, time to acknowledge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.alarms.journal import AlarmRecord
from gateway.alarms.kpi import Suggestion, alarm_kpis, since_text_to_delta
from gateway.alarms.state import EventKind

T0 = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
TWO_HOURS = T0 + timedelta(hours=2)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rec(
    kind: str, seconds: float, alarm_id: str, priority: str = "medium", **detail: Any
) -> AlarmRecord:
    asset_no, _, name = alarm_id.partition("/")
    return AlarmRecord(
        at=at(seconds),
        alarm_id=alarm_id,
        site=asset_no[:2],
        asset_no=asset_no,
        alarm=name,
        kind=EventKind(kind),
        priority=priority,
        detail=detail,
    )


def test_rates_periods_over_ten_and_time_in_flood() -> None:
    burst = [rec("raise", 60 + 10 * i, f"HT-PMP-{i + 1:03d}/drive_fault") for i in range(12)]
    calm = [rec("raise", 1200 * i, f"JU-PMP-00{i + 1}/drive_fault") for i in range(6)]
    report = alarm_kpis(burst + calm, T0, TWO_HOURS)
    assert report.alarms == 18
    ht, ju = report.positions
    assert (ht.position, ht.alarms, ht.per_hour, ht.per_10min, ht.peak_10min) == (
        "HT",
        12,
        6.0,
        1.0,
        12,
    )
    assert ht.pct_10min_over == pytest.approx(100 / 12, abs=0.05)
    # flood from the 11th alarm (160 s) to when the 2nd left the window (70 + 600 s)
    assert ht.floods == 1
    assert ht.pct_time_in_flood == pytest.approx(100 * (670 - 160) / 7200, abs=0.05)
    assert (ju.alarms, ju.peak_10min, ju.pct_10min_over, ju.floods) == (6, 1, 0.0, 0)


def test_top_contributors_and_priority_distribution() -> None:
    records = (
        [rec("raise", i, "HT-LGT-001/lamp_failures", "low") for i in range(0, 600, 100)]
        + [rec("raise", i, "HT-PMP-001/pressure_low", "high") for i in range(0, 400, 100)]
        + [rec("raise", 5, "HT-FAP-001/fire", "critical")]
        + [rec("ack", 7, "HT-FAP-001/fire")]
    )
    report = alarm_kpis(records, T0, TWO_HOURS, top_n=2)
    assert [(c.alarm_id, c.count, c.share) for c in report.top] == [
        ("HT-LGT-001/lamp_failures", 6, 54.5),
        ("HT-PMP-001/pressure_low", 4, 36.4),
    ]
    assert report.top_share == 90.9
    assert report.priorities == {
        "critical": (1, 9.1),
        "high": (4, 36.4),
        "medium": (0, 0.0),
        "low": (6, 54.5),
    }


LEVEL = "HT-TNK-001/level_high"


def chattering_level() -> list[AlarmRecord]:
    """hi 3.2: four quick activations, then a real one; ``extreme`` is how low the level
    went between clear and the next raise."""
    raw = [(0, 4, None), (20, 23, 3.15), (40, 42, 3.12), (55, 58, 3.18), (300, 400, 2.5)]
    records = []
    for raised, cleared, extreme in raw:
        detail: dict[str, Any] = {"check": "hi", "limit": 3.2}
        if extreme is not None:
            detail["extreme"] = extreme
        records.append(rec("raise", raised, LEVEL, **detail))
        records.append(rec("clear", cleared, LEVEL))
    return records


def test_chattering_alarm_with_tuning_by_replay() -> None:
    report = alarm_kpis(chattering_level(), T0, TWO_HOURS, target=0.6)
    (chatter,) = report.chattering
    assert (chatter.alarm_id, chatter.activations, chatter.episodes) == (LEVEL, 5, 1)
    assert chatter.suggestions == (
        Suggestion("on_delay_s", 4.0, 3, 5),  # three activations lasted under 4 s
        Suggestion("off_delay_s", 18.0, 3, 5),  # three came back within 18 s
        Suggestion("deadband", 0.081, 3, 5),  # the level never fell 0.081 below 3.2 between
    )
    assert report.fleeting == ()  # short, but chattering: not counted twice


def test_tuning_reports_the_best_when_the_target_cannot_be_reached() -> None:
    report = alarm_kpis(chattering_level(), T0, TWO_HOURS, target=0.8)
    deadband = next(s for s in report.chattering[0].suggestions if s.setting == "deadband")
    assert (deadband.value, deadband.removed, deadband.of) == (0.71, 4, 5)


def test_fleeting_stale_shelved_suppressed_and_time_to_ack() -> None:
    end = T0 + timedelta(days=2)
    records = [
        rec("raise", 1000, "HT-PDP-001/door_open"),
        rec("clear", 1003, "HT-PDP-001/door_open"),  # 3 s: fleeting
        rec("raise", 0, "HT-TNK-002/chlorine_low"),  # never cleared: stale after 24 h
        rec("raise", 100, "HT-PMP-001/pressure_low"),
        rec("ack", 160, "HT-PMP-001/pressure_low"),
        rec("raise", 200, "HT-PMP-002/pressure_low"),
        rec("ack", 230, "HT-PMP-002/pressure_low"),
        rec("clear", 900, "HT-PMP-001/pressure_low"),
        rec("clear", 900, "HT-PMP-002/pressure_low"),
        rec("shelve", 300, "HT-LGT-003/cabinet_open"),
        rec("shelve", 301, "HT-LGT-004/cabinet_open"),
        rec("would_raise", 310, "HT-LGT-003/cabinet_open", hidden_by="shelved"),
        *[
            rec("would_raise", 400 + i, "HT-PDP-001/level_low", hidden_by="suppressed")
            for i in range(3)
        ],
        rec("out_of_service", 500, "HT-PMP-003/comm_loss"),
    ]
    before = (T0 - timedelta(days=3), "JU-TNK-001/turbidity_high")
    report = alarm_kpis(records, T0, end, current_active=[(before[1], before[0])])
    assert [(f.alarm_id, f.count) for f in report.fleeting] == [("HT-PDP-001/door_open", 1)]
    assert [(s.alarm_id, s.hours) for s in report.stale] == [
        ("JU-TNK-001/turbidity_high", 120.0),
        ("HT-TNK-002/chlorine_low", 48.0),
    ]
    assert (report.shelved, report.hidden_by_shelve, report.suppressed) == (2, 1, 3)
    assert report.out_of_service == 1
    assert (report.acknowledged, report.ack_median_s) == (2, 45.0)
    assert report.alarms == 4  # would_raise entries are not alarms


def test_entries_outside_the_period_are_ignored() -> None:
    records = [rec("raise", -10, "HT-PMP-001/pressure_low"), rec("raise", 7200, LEVEL)]
    report = alarm_kpis(records, T0, TWO_HOURS)
    assert report.alarms == 0
    assert report.positions == ()


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 1209600)]
)
def test_periods(text: str, seconds: int) -> None:
    assert since_text_to_delta(text).total_seconds() == seconds


def test_bad_period() -> None:
    with pytest.raises(ValueError, match="expected a period such as 30d"):
        since_text_to_delta("30x")
