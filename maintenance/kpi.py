"""Maintenance KPIs for managers: pure formulas over plain records. No I/O.

Per estate and per week or month (local calendar periods of the site's zone):

- **PM compliance** = occurrences done on time / occurrences due. An occurrence is due in the
  period of its due date; it counts once decided: its window has closed, or its order was
  completed. Done on time = its order completed by the window's end. Missed and skipped
  occurrences count against it (they were due and not done) — except those skipped because
  the asset was out of service, which are excused.
- **Repair timeliness** (维修及时率) = corrective orders completed within their completion SLA
  / corrective orders decided, by creation period. Decided: completed, or still open past
  its SLA (late already). Cancelled orders do not count. Target 90 %.
- **MTTR** = mean hours from creation to completion of corrective orders completed in the
  period.
- **MTBF** = operating hours / failures: (assets x period hours - downtime) / corrective
  orders created in the period (None without failures).
- **Availability** = 1 - downtime / (assets x period hours); downtime is the time corrective
  orders that took the asset down (``asset_down``) were open, clipped to the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

Period = Literal["day", "week", "month"]
EXCUSED_REASON = "asset not in service"


@dataclass(frozen=True)
class OccurrenceRecord:
    """One recorded PM occurrence and what became of it."""

    site: str
    asset_no: str
    due: datetime
    window_end: datetime
    state: str  # generated, missed, skipped
    reason: str = ""
    completed_at: datetime | None = None  # of its order

    @property
    def excused(self) -> bool:
        return self.state == "skipped" and self.reason.startswith(EXCUSED_REASON)


@dataclass(frozen=True)
class OrderRecord:
    """One work order, as the KPIs see it."""

    site: str
    asset_no: str
    kind: str  # preventive, corrective
    created_at: datetime
    completion_due: datetime
    completed_at: datetime | None = None
    cancelled: bool = False
    asset_down: bool = False


@dataclass(frozen=True)
class Ratio:
    good: int
    total: int

    @property
    def value(self) -> float | None:
        return self.good / self.total if self.total else None

    def text(self) -> str:
        value = self.value
        return "-" if value is None else f"{value:.1%} ({self.good}/{self.total})"


@dataclass(frozen=True)
class KpiRow:
    """The KPIs of one estate over one period."""

    site: str
    period: str  # label: 2026-11, 2026-W48, 2026-11-26
    start: datetime
    end: datetime
    pm_compliance: Ratio
    repair_timeliness: Ratio
    mttr_h: float | None
    mtbf_h: float | None
    availability: float | None
    failures: int
    assets: int

    def meets(self, target: float) -> bool | None:
        """Repair timeliness at or above ``target`` (None: nothing to judge)."""
        value = self.repair_timeliness.value
        return None if value is None else value >= target


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time()).replace(tzinfo=tz)


def periods(
    start: datetime, end: datetime, period: Period, tz: tzinfo
) -> list[tuple[str, datetime, datetime]]:
    """Local calendar periods overlapping ``[start, end)``: (label, start, end), aware."""
    day = start.astimezone(tz).date()
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    result = []
    while True:
        begin = _local_midnight(day, tz)
        if begin >= end:
            break
        if period == "day":
            following = day + timedelta(days=1)
            label = day.isoformat()
        elif period == "week":
            following = day + timedelta(days=7)
            iso = day.isocalendar()
            label = f"{iso.year}-W{iso.week:02d}"
        else:
            following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            label = f"{day.year}-{day.month:02d}"
        result.append((label, begin, _local_midnight(following, tz)))
        day = following
    return result


def pm_compliance(
    occurrences: Iterable[OccurrenceRecord], start: datetime, end: datetime, now: datetime
) -> Ratio:
    good = total = 0
    for occurrence in occurrences:
        if not start <= occurrence.due < end or occurrence.excused:
            continue
        done = occurrence.completed_at is not None
        if not done and occurrence.window_end > now:
            continue  # still in its window: not decided yet
        total += 1
        if done and occurrence.completed_at is not None:
            good += occurrence.completed_at <= occurrence.window_end
    return Ratio(good, total)


def repair_timeliness(
    orders: Iterable[OrderRecord], start: datetime, end: datetime, now: datetime
) -> Ratio:
    good = total = 0
    for order in orders:
        if order.kind != "corrective" or order.cancelled:
            continue
        if not start <= order.created_at < end:
            continue
        if order.completed_at is None and order.completion_due > now:
            continue  # open and not late yet
        total += 1
        good += order.completed_at is not None and order.completed_at <= order.completion_due
    return Ratio(good, total)


def mttr_hours(orders: Iterable[OrderRecord], start: datetime, end: datetime) -> float | None:
    durations = [
        (o.completed_at - o.created_at).total_seconds() / 3600
        for o in orders
        if o.kind == "corrective"
        and not o.cancelled
        and o.completed_at is not None
        and start <= o.completed_at < end
    ]
    return sum(durations) / len(durations) if durations else None


def downtime_hours(
    orders: Iterable[OrderRecord], start: datetime, end: datetime, now: datetime
) -> float:
    """Hours assets were down in ``[start, end)``: overlapping intervals of one asset once."""
    by_asset: dict[str, list[tuple[datetime, datetime]]] = {}
    stop = min(end, now)
    for order in orders:
        if order.kind != "corrective" or not order.asset_down or order.cancelled:
            continue
        down_from = max(order.created_at, start)
        down_to = min(order.completed_at or now, stop)
        if down_to > down_from:
            by_asset.setdefault(order.asset_no, []).append((down_from, down_to))
    total = 0.0
    for spans in by_asset.values():
        spans.sort()
        current_start, current_end = spans[0]
        for span_start, span_end in spans[1:]:
            if span_start <= current_end:
                current_end = max(current_end, span_end)
            else:
                total += (current_end - current_start).total_seconds()
                current_start, current_end = span_start, span_end
        total += (current_end - current_start).total_seconds()
    return total / 3600


def failures(orders: Iterable[OrderRecord], start: datetime, end: datetime) -> int:
    return sum(
        1
        for o in orders
        if o.kind == "corrective" and not o.cancelled and start <= o.created_at < end
    )


def report(
    occurrences: Sequence[OccurrenceRecord],
    orders: Sequence[OrderRecord],
    assets: Mapping[str, int],
    start: datetime,
    end: datetime,
    period: Period,
    tz: tzinfo,
    now: datetime,
) -> list[KpiRow]:
    """KPIs per site (``assets``: number of assets per site) and period."""
    rows: list[KpiRow] = []
    for site in sorted(assets):
        site_occurrences = [o for o in occurrences if o.site == site]
        site_orders = [o for o in orders if o.site == site]
        count = assets[site]
        for label, begin, finish in periods(start, end, period, tz):
            hours = max((min(finish, now) - begin).total_seconds() / 3600, 0.0) * count
            down = downtime_hours(site_orders, begin, finish, now)
            failed = failures(site_orders, begin, finish)
            rows.append(
                KpiRow(
                    site=site,
                    period=label,
                    start=begin,
                    end=finish,
                    pm_compliance=pm_compliance(site_occurrences, begin, finish, now),
                    repair_timeliness=repair_timeliness(site_orders, begin, finish, now),
                    mttr_h=mttr_hours(site_orders, begin, finish),
                    mtbf_h=(hours - down) / failed if failed else None,
                    availability=1 - down / hours if hours > 0 else None,
                    failures=failed,
                    assets=count,
                )
            )
    return rows
