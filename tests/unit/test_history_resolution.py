"""The history API's pure core: resolution choice, field names, calendar periods, counter
increases, gaps and CSV — as tables of cases."""

from __future__ import annotations

import itertools
from zoneinfo import ZoneInfo

import pytest

from device_profiles import load_library
from facility.errors import ConfigError
from gateway.history import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Gap,
    Increase,
    PointKind,
    Resolution,
    Series,
    SeriesPlan,
    SeriesPoint,
    aggregate_field,
    calendar_periods,
    choose_resolution,
    counter_increases,
    find_gaps,
    nice_bucket,
    point_kinds,
    select_clause,
    series_csv,
)
from gateway.retention import RetentionPlan

NOW = 1_800_000_000_000  # 2027-01-15
SH = ZoneInfo("Asia/Shanghai")
R, M, H = Resolution.RAW, Resolution.MINUTE, Resolution.HOUR


@pytest.mark.parametrize(
    ("span_ms", "ago_ms", "max_points", "expected"),
    [
        # short ranges: readings as stored (≤ max_points polls at 1 s)
        (10 * MINUTE_MS, 0, 2000, (R, "raw", None)),
        (2000 * 1000, 0, 2000, (R, "raw", None)),
        # an hour: raw, 2 s buckets
        (HOUR_MS, 0, 2000, (R, "raw", 2)),
        (6 * HOUR_MS, 0, 2000, (R, "raw", 15)),
        # a day: 1-minute aggregates (43 s would be needed; buckets never below the data)
        (DAY_MS, 0, 2000, (M, "agg_1m", 60)),
        (7 * DAY_MS, 0, 2000, (M, "agg_1m", 600)),
        (30 * DAY_MS, 0, 2000, (M, "agg_1m", 1800)),
        # months and years: 1-hour aggregates
        (90 * DAY_MS, 0, 2000, (H, "agg_1h", 3600 * 2)),
        (365 * DAY_MS, 0, 2000, (H, "agg_1h", 3600 * 6)),
        (10 * 365 * DAY_MS, 0, 2000, (H, "agg_1h", 2 * 86400)),
        # a short range older than the raw retention (30 d) reads the aggregates
        (10 * MINUTE_MS, 60 * DAY_MS, 2000, (M, "agg_1m", 60)),
        (HOUR_MS, 45 * DAY_MS, 2000, (M, "agg_1m", 60)),
        # fewer points asked: coarser
        (DAY_MS, 0, 100, (M, "agg_1m", 900)),
        (HOUR_MS, 0, 100000, (R, "raw", None)),
    ],
)
def test_choose_resolution(
    span_ms: int, ago_ms: int, max_points: int, expected: tuple[Resolution, str, int | None]
) -> None:
    end = NOW - ago_ms
    plan = choose_resolution(end - span_ms, end, now_ms=NOW, max_points=max_points)
    assert (plan.resolution, plan.retention_policy, plan.bucket_s) == expected
    if plan.bucket_s is not None:
        assert span_ms / 1000 / plan.bucket_s <= max_points  # never more than asked


def test_resolution_follows_the_configured_retention_and_poll_period() -> None:
    plan = RetentionPlan(raw_days=7, raw_rp="r", minute_rp="m", hour_rp="h")
    old = choose_resolution(NOW - 8 * DAY_MS, NOW - 8 * DAY_MS + HOUR_MS, now_ms=NOW, plan=plan)
    assert (old.retention_policy, old.bucket_s) == ("m", 60)
    slow = choose_resolution(NOW - 2 * HOUR_MS, NOW, now_ms=NOW, raw_period_s=5)
    assert slow.bucket_s is None  # 1,440 polls of 5 s fit in 2,000 points


@pytest.mark.parametrize(("start", "end", "max_points"), [(10, 10, 5), (10, 5, 5), (0, 10, 0)])
def test_bad_ranges_are_config_errors(start: int, end: int, max_points: int) -> None:
    with pytest.raises(ConfigError):
        choose_resolution(start, end, now_ms=NOW, max_points=max_points)


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [(0.2, 1), (1, 1), (1.1, 2), (43.2, 60), (61, 120), (3601, 7200), (400 * 86400, 730 * 86400)],
)
def test_nice_bucket(seconds: float, bucket: int) -> None:
    assert nice_bucket(seconds) == bucket


@pytest.mark.parametrize(
    ("resolution", "function", "field"),
    [(R, "mean", "current"), (M, "mean", "mean_current"), (H, "max", "max_max_current")],
)
def test_aggregate_field_names_follow_the_cqs(
    resolution: Resolution, function: str, field: str
) -> None:
    assert aggregate_field(resolution, function, "current") == field


@pytest.mark.parametrize(
    ("kind", "resolution", "bucketed", "clause"),
    [
        (PointKind.ANALOG, R, False, '"p" AS value, "p_q" AS quality'),
        (PointKind.ANALOG, R, True, 'mean("p") AS value, min("p") AS low, max("p") AS high'),
        (
            PointKind.ANALOG,
            M,
            True,
            'mean("mean_p") AS value, min("min_p") AS low, max("max_p") AS high',
        ),
        (PointKind.COUNTER, H, True, 'max("max_max_p") AS value'),
        (PointKind.STATE, M, True, 'last("last_p") AS value'),
    ],
)
def test_select_clause(
    kind: PointKind, resolution: Resolution, bucketed: bool, clause: str
) -> None:
    assert select_clause(kind, resolution, "p", bucketed) == clause


def ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("start", "end", "period", "first", "count"),
    [
        ("2026-03-10T10:30+08:00", "2026-03-10T13:00+08:00", "hour", "2026-03-10T10:00+08:00", 3),
        ("2026-03-10T10:30+08:00", "2026-03-13T00:00+08:00", "day", "2026-03-10T00:00+08:00", 3),
        # local midnight, not UTC midnight
        ("2026-03-09T23:30+00:00", "2026-03-10T18:00+08:00", "day", "2026-03-10T00:00+08:00", 1),
        ("2026-03-11T12:00+08:00", "2026-03-20T00:00+08:00", "week", "2026-03-09T00:00+08:00", 2),
        ("2026-01-15T00:00+08:00", "2027-01-01T00:00+08:00", "month", "2026-01-01T00:00+08:00", 12),
    ],
)
def test_calendar_periods(start: str, end: str, period: str, first: str, count: int) -> None:
    periods = calendar_periods(ms(start), ms(end), period, SH)
    assert periods[0][0] == ms(first)
    assert len(periods) == count
    for (_, hi), (lo, _) in itertools.pairwise(periods):
        assert hi == lo  # contiguous


def test_month_lengths_are_calendar_months() -> None:
    periods = calendar_periods(
        ms("2026-01-01T00:00+08:00"), ms("2026-04-01T00:00+08:00"), "month", SH
    )
    assert [(hi - lo) // DAY_MS for lo, hi in periods] == [31, 28, 31]


def test_unknown_period() -> None:
    with pytest.raises(ConfigError, match="period 'fortnight'"):
        calendar_periods(0, DAY_MS, "fortnight", SH)


P = [(0, 10), (10, 20), (20, 30)]


@pytest.mark.parametrize(
    ("samples", "baseline", "expected"),
    [
        # steady growth; the first sample without a baseline is only the reference
        ([(1, 100.0), (5, 102.0), (12, 105.0), (25, 111.0)], None, [2.0, 3.0, 6.0]),
        # with the value before the range as baseline, the first period counts fully
        ([(1, 100.0), (12, 105.0)], 95.0, [5.0, 5.0, None]),
        # a reset (meter replaced): counted from zero
        ([(1, 100.0), (12, 105.0), (15, 3.0), (25, 4.0)], None, [0.0, 8.0, 1.0]),
        # no samples in a period: unknown, not zero
        ([(1, 10.0), (25, 20.0)], None, [0.0, None, 10.0]),
        # samples before the first period only set the reference
        ([(-5, 50.0), (3, 53.0)], None, [3.0, None, None]),
        ([], 10.0, [None, None, None]),
    ],
)
def test_counter_increases(
    samples: list[tuple[int, float]], baseline: float | None, expected: list[float | None]
) -> None:
    result = counter_increases(samples, P, baseline)
    assert [r.increase for r in result] == expected
    assert [(r.start_ms, r.end_ms) for r in result] == P


@pytest.mark.parametrize(
    ("seqs", "gaps"),
    [
        ([(1, 1), (2, 2), (3, 3)], []),
        ([(1, 1), (2, 2), (6, 6)], [Gap(2, 6, 3)]),
        ([(1, 10), (2, 11), (3, 1), (4, 2)], []),  # collector restarted: seq began again
        ([(1, 5), (9, 9), (10, 10), (20, 12)], [Gap(1, 9, 3), Gap(10, 20, 1)]),
        ([], []),
    ],
)
def test_find_gaps(seqs: list[tuple[int, int]], gaps: list[Gap]) -> None:
    assert find_gaps(seqs) == gaps


def test_point_kinds_from_the_profiles() -> None:
    kinds = point_kinds(load_library())
    assert kinds[("pmp", "run_hours")] is PointKind.COUNTER
    assert kinds[("pmp", "energy")] is PointKind.COUNTER
    assert kinds[("pmp", "run_state")] is PointKind.STATE
    assert kinds[("pmp", "status_word")] is PointKind.STATE
    assert kinds[("pmp", "discharge_pressure")] is PointKind.ANALOG


def test_series_csv_raw_and_bucketed() -> None:
    raw = Series(
        "HT-PMP-001",
        "current",
        PointKind.ANALOG,
        SeriesPlan(R, "raw", None),
        0,
        1,
        [SeriesPoint(1795680000123, 12.5), SeriesPoint(1795680001123, None, quality="bad_comm")],
    )
    assert series_csv(raw, SH).splitlines() == [
        "time,asset_no,point,value,quality",
        "2026-11-26T16:00:00.123+08:00,HT-PMP-001,current,12.5,good",
        "2026-11-26T16:00:01.123+08:00,HT-PMP-001,current,,bad_comm",
    ]
    bucketed = Series(
        "HT-PMP-001",
        "current",
        PointKind.ANALOG,
        SeriesPlan(M, "agg_1m", 60),
        0,
        1,
        [SeriesPoint(1795680000000, 12.25, 11.0, 13.5)],
    )
    assert series_csv(bucketed, SH).splitlines()[1:] == [
        "2026-11-26T16:00:00.000+08:00,HT-PMP-001,current,12.25,11,13.5"
    ]


def test_increase_rows_are_plain_data() -> None:
    assert Increase(0, 1, None).increase is None
