"""Table tests of the maintenance KPIs (maintenance.kpi): pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maintenance.kpi import (
    OccurrenceRecord,
    OrderRecord,
    Ratio,
    downtime_hours,
    failures,
    mttr_hours,
    periods,
    pm_compliance,
    repair_timeliness,
    report,
)

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 1, tzinfo=SH)
END = datetime(2026, 12, 1, tzinfo=SH)
NOW = datetime(2026, 12, 5, tzinfo=SH)
H = timedelta(hours=1)
D = timedelta(days=1)


def occ(
    due_day: int, state: str = "generated", done_day: float | None = None, reason: str = ""
) -> OccurrenceRecord:
    due = START + (due_day - 1) * D
    done = START + (done_day - 1) * D if done_day is not None else None
    return OccurrenceRecord("HT", "HT-PMP-001", due, due + 7 * D, state, reason, done)


def order(
    created_h: float,
    done_h: float | None = None,
    *,
    due_h: float = 24,
    kind: str = "corrective",
    cancelled: bool = False,
    down: bool = True,
    asset_no: str = "HT-PMP-001",
) -> OrderRecord:
    created = START + created_h * H
    done = START + done_h * H if done_h is not None else None
    return OrderRecord("HT", asset_no, kind, created, created + due_h * H, done, cancelled, down)


@pytest.mark.parametrize(
    ("occurrences", "expected"),
    [
        ([occ(1, done_day=3)], Ratio(1, 1)),
        ([occ(1, done_day=8)], Ratio(1, 1)),  # the last moment of its window
        ([occ(1, done_day=9)], Ratio(0, 1)),  # late
        ([occ(1, "missed")], Ratio(0, 1)),
        ([occ(1, "skipped", reason="open order of this plan (1); policy skip")], Ratio(0, 1)),
        ([occ(1, "skipped", reason="asset not in service")], Ratio(0, 0)),  # excused
        ([occ(1)], Ratio(0, 1)),  # window closed, never completed
        ([occ(30)], Ratio(0, 1)),  # due Nov 30: its window closed on Dec 7
        ([occ(15, done_day=16), occ(20, "missed"), occ(25, done_day=26)], Ratio(2, 3)),
        ([occ(31, done_day=31)], Ratio(0, 0)),  # due in December: another period
    ],
)
def test_pm_compliance(occurrences: list[OccurrenceRecord], expected: Ratio) -> None:
    now = NOW + 3 * D  # Dec 8: every November window has closed
    assert pm_compliance(occurrences, START, END, now) == expected


def test_pm_compliance_waits_for_open_windows() -> None:
    assert pm_compliance([occ(30)], START, END, NOW) == Ratio(0, 0)
    assert pm_compliance([occ(30, done_day=31)], START, END, NOW) == Ratio(1, 1)


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([order(0, 23)], Ratio(1, 1)),
        ([order(0, 24)], Ratio(1, 1)),
        ([order(0, 25)], Ratio(0, 1)),
        ([order(0)], Ratio(0, 1)),  # open long past its SLA: late already
        ([order(24 * 34)], Ratio(0, 0)),  # created Dec 5: not this period
        ([order(0, 30, cancelled=True)], Ratio(0, 0)),
        ([order(0, 1, kind="preventive")], Ratio(0, 0)),
        ([order(0, 5)] * 9 + [order(0, 40)], Ratio(9, 10)),  # the 90 % target exactly
    ],
)
def test_repair_timeliness(orders: list[OrderRecord], expected: Ratio) -> None:
    assert repair_timeliness(orders, START, END, NOW) == expected


def test_open_order_not_yet_due_is_not_judged() -> None:
    recent = order(24 * 29 + 20, due_h=24 * 30)  # Nov 30 20:00, due in a month
    assert repair_timeliness([recent], START, END, NOW) == Ratio(0, 0)


def test_ratio_text() -> None:
    assert Ratio(9, 10).text() == "90.0% (9/10)"
    assert Ratio(0, 0).text() == "-"
    assert Ratio(0, 0).value is None


def test_mttr_counts_completions_in_the_period() -> None:
    orders = [order(0, 2), order(10, 16), order(0, None), order(0, 4, kind="preventive")]
    assert mttr_hours(orders, START, END) == pytest.approx(4.0)
    assert mttr_hours([], START, END) is None


@pytest.mark.parametrize(
    ("orders", "hours"),
    [
        ([order(10, 16)], 6.0),
        ([order(10, 16, down=False)], 0.0),
        ([order(10, 16), order(12, 20)], 10.0),  # overlapping on one asset: counted once
        ([order(10, 16), order(12, 20, asset_no="HT-PMP-002")], 14.0),
        ([order(-5, 3)], 3.0),  # started before the period: clipped
        ([order(24 * 29 + 22)], 2.0),  # still open at the end of November
    ],
)
def test_downtime(orders: list[OrderRecord], hours: float) -> None:
    assert downtime_hours(orders, START, END, NOW) == pytest.approx(hours)


def test_failures_exclude_cancelled_and_preventive() -> None:
    orders = [order(1), order(2, cancelled=True), order(3, kind="preventive"), order(-1)]
    assert failures(orders, START, END) == 1


def test_periods_are_local_calendar_periods() -> None:
    weeks = periods(START, END, "week", SH)
    assert [label for label, _, _ in weeks] == [
        "2026-W44",
        "2026-W45",
        "2026-W46",
        "2026-W47",
        "2026-W48",
        "2026-W49",
    ]  # fmt: skip (W44 starts Oct 26, W49 on Nov 30: both overlap November)
    assert weeks[0][1] == datetime(2026, 10, 26, tzinfo=SH)
    months = periods(
        datetime(2026, 11, 15, tzinfo=SH), datetime(2027, 1, 2, tzinfo=SH), "month", SH
    )
    assert [label for label, _, _ in months] == ["2026-11", "2026-12", "2027-01"]
    assert months[1][2] == datetime(2027, 1, 1, tzinfo=SH)
    days = periods(START, START + 2 * D, "day", SH)
    assert [(label, begin.astimezone(UTC).hour) for label, begin, _ in days] == [
        ("2026-11-01", 16),
        ("2026-11-02", 16),
    ]


def test_report_per_site_and_month() -> None:
    occurrences = [occ(2, done_day=3), occ(10, "missed")]
    orders = [order(0, 2), order(48, 100)]  # one on time, one late; 2 h + 52 h down
    rows = report(occurrences, orders, {"HT": 10, "JU": 5}, START, END, "month", SH, NOW)
    ht, ju = rows
    assert (ht.site, ht.period, ju.site) == ("HT", "2026-11", "JU")
    assert ht.pm_compliance == Ratio(1, 2)
    assert ht.repair_timeliness == Ratio(1, 2)
    assert ht.meets(0.9) is False
    assert ht.mttr_h == pytest.approx(27.0)
    hours = 30 * 24 * 10
    assert ht.availability == pytest.approx(1 - 54 / hours)
    assert ht.mtbf_h == pytest.approx((hours - 54) / 2)
    assert (ju.failures, ju.mtbf_h, ju.availability, ju.meets(0.9)) == (0, None, 1.0, None)
