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
    response_sla,
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


def test_periods_are_local_calendar_periods_clipped_to_the_range() -> None:
    weeks = periods(START, END, "week", SH)
    assert [label for label, _, _ in weeks] == [
        "2026-W44 [11-01..11-01]",  # W44 starts Oct 26: only its Sunday is in November
        "2026-W45",
        "2026-W46",
        "2026-W47",
        "2026-W48",
        "2026-W49 [11-30..11-30]",
    ]
    assert weeks[0][1:] == (START, datetime(2026, 11, 2, tzinfo=SH))
    months = periods(
        datetime(2026, 11, 15, tzinfo=SH), datetime(2027, 1, 2, tzinfo=SH), "month", SH
    )
    assert [label for label, _, _ in months] == [
        "2026-11 [11-15..11-30]",
        "2026-12",
        "2027-01 [01-01..01-01]",
    ]
    assert months[0][1] == datetime(2026, 11, 15, tzinfo=SH)
    assert months[1][2] == datetime(2027, 1, 1, tzinfo=SH)
    assert months[2][2] == datetime(2027, 1, 2, tzinfo=SH)
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


# --- issue 10, finding 3: every order that overlaps the period, whenever created ------------

OCT = datetime(2026, 10, 1, tzinfo=SH)
NOV = datetime(2026, 11, 1, tzinfo=SH)
HY_ASSETS = [f"HY-PMP-{i:03d}" for i in range(1, 31)] + [f"HY-LGT-{i:03d}" for i in range(1, 21)]


def hy(
    number: str,
    asset_no: str,
    created: datetime,
    completed: datetime | None,
    *,
    down: bool,
    priority: str = "high",
    holds: tuple[tuple[datetime, datetime | None], ...] = (),
    responded: datetime | None = None,
) -> OrderRecord:
    return OrderRecord(
        "HY", asset_no, "corrective", created, created + 24 * H, completed, False, down,
        number, priority, created + timedelta(minutes=30), responded, holds,
    )  # fmt: skip


# Hand-computed (50 assets, October = 744 h, 37,200 asset hours):
# A  pump down since Jun 12 02:00, completed Oct 2 02:00: 2,688 h to repair, 26 h down in Oct
# B  not down, Aug 9 12:00 -> Oct 10 12:00: 1,488 h to repair (of which 48 h on hold)
# C  critical, pump down since Jun 20, still open: 744 h down in October
# D  lamp group down since Oct 30 18:00, still open at the end: 30 h down
HY_ORDERS = [
    hy("WO-HY-2026-00011", "HY-PMP-001", datetime(2026, 6, 12, 2, tzinfo=SH),
       datetime(2026, 10, 2, 2, tzinfo=SH), down=True),
    hy("WO-HY-2026-00042", "HY-PMP-002", datetime(2026, 8, 9, 12, tzinfo=SH),
       datetime(2026, 10, 10, 12, tzinfo=SH), down=False,
       holds=((datetime(2026, 9, 1, tzinfo=SH), datetime(2026, 9, 3, tzinfo=SH)),)),
    hy("WO-HY-2026-00017", "HY-PMP-003", datetime(2026, 6, 20, 9, tzinfo=SH), None, down=True,
       priority="critical"),
    hy("WO-HY-2026-00090", "HY-LGT-004", datetime(2026, 10, 30, 18, tzinfo=SH), None, down=True,
       responded=datetime(2026, 10, 30, 18, 10, tzinfo=SH)),
]  # fmt: skip


def test_hy_october_counts_orders_opened_long_before_it() -> None:
    (row,) = report([], HY_ORDERS, HY_ASSETS, OCT, NOV, "month", SH, NOV + 4 * D)
    assert (row.scope, row.period, row.assets) == ("HY", "2026-10", 50)
    assert row.mttr_h == pytest.approx(2088.0)  # (2,688 + 1,488) / 2; 1,488 with a look-back
    assert row.mttr_no_hold_h == pytest.approx((2688 + 1488 - 48) / 2)
    assert row.downtime_h == pytest.approx(26 + 744 + 30)
    assert row.availability == pytest.approx(1 - 800 / 37200)
    assert f"{row.availability:.2%}" == "97.85%"  # 99.92 % with the 90-day look-back
    assert row.open_at_end == 2
    assert set(row.down_at_end) == {"WO-HY-2026-00017", "WO-HY-2026-00090"}
    assert row.failures == 1  # D: the only one created in October
    assert row.mtbf_h == pytest.approx(37200 - 800)
    assert row.repair_timeliness == Ratio(0, 1)  # D is open past its 24 h target
    assert row.response == Ratio(1, 1)  # ... but was answered within 30 minutes


def test_hy_october_per_class_and_per_asset() -> None:
    now = NOV + 4 * D
    classes = {r.scope: r for r in report([], HY_ORDERS, HY_ASSETS, OCT, NOV, "month", SH, now,
                                          by="class")}  # fmt: skip
    assert set(classes) == {"HY-LGT", "HY-PMP"}
    assert classes["HY-PMP"].assets == 30
    assert classes["HY-PMP"].downtime_h == pytest.approx(26 + 744)
    assert classes["HY-PMP"].availability == pytest.approx(1 - 770 / (30 * 744))
    assert classes["HY-LGT"].downtime_h == pytest.approx(30)
    assets = {r.scope: r for r in report([], HY_ORDERS, HY_ASSETS, OCT, NOV, "month", SH, now,
                                         by="asset")}  # fmt: skip
    assert len(assets) == 50
    assert assets["HY-PMP-003"].availability == pytest.approx(0.0)
    assert assets["HY-PMP-003"].down_at_end == ("WO-HY-2026-00017",)
    assert assets["HY-PMP-001"].mttr_h == pytest.approx(2688.0)
    assert assets["HY-PMP-010"].availability == pytest.approx(1.0)


def test_a_part_month_range_uses_one_span_for_every_figure() -> None:
    # Oct 15-31 (408 h): PM compliance and the other figures over the same span.
    start = datetime(2026, 10, 15, tzinfo=SH)
    occurrences = [
        OccurrenceRecord("HY", "HY-PMP-001", datetime(2026, 10, 3, tzinfo=SH),
                         datetime(2026, 10, 10, tzinfo=SH), "missed"),
        OccurrenceRecord("HY", "HY-PMP-001", datetime(2026, 10, 20, tzinfo=SH),
                         datetime(2026, 10, 27, tzinfo=SH), "generated", "",
                         datetime(2026, 10, 21, tzinfo=SH)),
    ]  # fmt: skip
    (row,) = report(occurrences, HY_ORDERS, HY_ASSETS, start, NOV, "month", SH, NOV + 4 * D)
    assert row.period == "2026-10 [10-15..10-31]"
    assert row.start == start
    assert row.pm_compliance == Ratio(1, 1)  # the Oct 3 occurrence is outside the span
    assert row.mttr_h is None  # A and B were completed before Oct 15
    assert row.downtime_h == pytest.approx(408 + 30)  # C all span, D 30 h
    assert row.availability == pytest.approx(1 - 438 / (50 * 408))


def test_orders_spanning_months_and_years_by_week() -> None:
    # One pump down from Dec 30, 2026 12:00 to Jan 2, 2027 12:00 (72 h), weeks of W53/W01.
    order_ = hy("WO-HY-2026-00300", "HY-PMP-005", datetime(2026, 12, 30, 12, tzinfo=SH),
                datetime(2027, 1, 2, 12, tzinfo=SH), down=True)  # fmt: skip
    start, end = datetime(2026, 12, 28, tzinfo=SH), datetime(2027, 1, 11, tzinfo=SH)
    rows = report([], [order_], ["HY-PMP-005"], start, end, "week", SH, end + D)
    assert [r.period for r in rows] == ["2026-W53", "2027-W01"]
    assert [r.downtime_h for r in rows] == pytest.approx([72.0, 0.0])
    assert [r.failures for r in rows] == [1, 0]
    assert [r.mttr_h for r in rows] == [72.0, None]  # counted where it was completed
    months = report([], [order_], ["HY-PMP-005"], datetime(2026, 12, 1, tzinfo=SH),
                    datetime(2027, 2, 1, tzinfo=SH), "month", SH, end + 30 * D)  # fmt: skip
    assert [(r.period, r.downtime_h) for r in months] == [("2026-12", 36.0), ("2027-01", 36.0)]
    assert [r.mttr_h for r in months] == [None, 72.0]
    assert [r.open_at_end for r in months] == [1, 0]


def test_mttr_without_hold_counts_only_the_hold_before_completion() -> None:
    held = OrderRecord(
        "HT", "HT-PMP-001", "corrective", START, START + D, START + 10 * H,
        holds=((START + 2 * H, START + 5 * H), (START + 8 * H, None)),
    )  # fmt: skip
    assert mttr_hours([held], START, END) == pytest.approx(10.0)
    assert mttr_hours([held], START, END, without_hold=True) == pytest.approx(10 - 3 - 2)


@pytest.mark.parametrize(
    ("responded_min", "now_h", "expected"),
    [
        (10, 48, Ratio(1, 1)),
        (30, 48, Ratio(1, 1)),  # the last moment
        (31, 48, Ratio(0, 1)),
        (None, 48, Ratio(0, 1)),  # never answered, target long past
        (None, 0.25, Ratio(0, 0)),  # not answered yet, and not late yet
    ],
)
def test_response_sla(responded_min: int | None, now_h: float, expected: Ratio) -> None:
    responded = START + timedelta(minutes=responded_min) if responded_min is not None else None
    record = OrderRecord(
        "HT", "HT-PMP-001", "corrective", START, START + D, None,
        response_due=START + timedelta(minutes=30), responded_at=responded,
    )  # fmt: skip
    assert response_sla([record], START, END, START + now_h * H) == expected
