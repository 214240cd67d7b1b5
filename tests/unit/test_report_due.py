"""Which reports the schedule wants at a moment (pure): daily from 06:00 site time, last
week's from Monday 06:00, last month's from the 1st 06:00, the company's weekly and monthly."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from maintenance.scheduler import ReportJob, due_reports

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("local", "daily", "weekly", "monthly"),
    [
        # Tuesday Dec 1 2026, 06:00: today's sheet, November, the week Nov 23-29
        (datetime(2026, 12, 1, 6, 0), "2026-12-01", "2026-W48", "2026-11"),
        # 05:59 the same morning: still the day before (yesterday's sheet was due)
        (datetime(2026, 12, 1, 5, 59), "2026-11-30", "2026-W48", "2026-10"),
        # Monday Nov 30 05:59: last week is not over for the schedule yet
        (datetime(2026, 11, 30, 5, 59), "2026-11-29", "2026-W47", "2026-10"),
        (datetime(2026, 11, 30, 6, 0), "2026-11-30", "2026-W48", "2026-10"),
        # new year: ISO week 53 of 2026, December
        (datetime(2027, 1, 4, 6, 0), "2027-01-04", "2026-W53", "2026-12"),
    ],
)
def test_due_reports(local: datetime, daily: str, weekly: str, monthly: str) -> None:
    jobs = due_reports(local.replace(tzinfo=SH), {"HT": "Asia/Shanghai"}, "Asia/Shanghai")
    assert jobs == [
        ReportJob("HT", "daily", daily),
        ReportJob("HT", "weekly", weekly),
        ReportJob("HT", "monthly", monthly),
        ReportJob("ALL", "weekly", weekly),
        ReportJob("ALL", "monthly", monthly),
    ]


def test_each_estate_in_its_own_zone() -> None:
    # 23:30 UTC Nov 30 is 06:30 Dec 1 in Shanghai, 23:30 Nov 30 in London
    jobs = due_reports(
        datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("UTC")),
        {"HT": "Asia/Shanghai", "LN": "Europe/London"},
        "Asia/Shanghai",
    )
    daily = {j.site: j.period for j in jobs if j.kind == "daily"}
    assert daily == {"HT": "2026-12-01", "LN": "2026-11-30"}
    monthly = {j.site: j.period for j in jobs if j.kind == "monthly"}
    assert monthly == {"HT": "2026-11", "LN": "2026-10", "ALL": "2026-11"}
