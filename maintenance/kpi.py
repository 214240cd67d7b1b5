"""Maintenance KPIs for managers: pure formulas over plain records. No I/O.

Per estate, per device class or per asset, and per day, week or month — local calendar
periods of the site's zone, **clipped to the requested range**: every figure of a row is
computed over the same span ``[begin, finish)``, and a row whose span is not its whole
period says so in its label (``2026-10 [10-15..10-31]``). Records are every order that
overlaps the range, whenever it was created (no look-back limit).

- **PM compliance** = occurrences done on time / occurrences due. An occurrence is due in the
  span of its due date; it counts once decided: its window has closed, or its order was
  completed. Done on time = its order completed by the window's end. Missed and skipped
  occurrences count against it (they were due and not done) — except those skipped because
  the asset was out of service, which are excused.
- **Repair timeliness** (维修及时率) = corrective orders completed within their completion SLA
  / corrective orders decided, by creation span. Decided: completed, or still open past
  its SLA (late already). Cancelled orders do not count. Target 90 %.
- **Response SLA** = corrective orders responded to (assigned or started) within their
  response target / corrective orders decided (responded, or unanswered past the target),
  by creation span: reported next to repair timeliness.
- **MTTR** = mean hours from creation to completion of corrective orders completed in the
  span (created whenever). **MTTR without hold** = the same less the time each order spent
  on hold (``on_hold`` to resumed), a second figure.
- **MTBF** = operating hours / failures: (asset hours - downtime) / corrective orders created
  in the span (None without failures).
- **Availability** = 1 - downtime / asset hours; asset hours = assets x hours of the span up
  to now; downtime is the time corrective orders that took the asset down (``asset_down``)
  were open, clipped to the span and to now, overlapping orders of one asset counted once.
- **Open at the end**: corrective orders still open at the span's end; ``down_at_end`` names
  those that keep their asset down (an order open since June shows in October's row).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

Period = Literal["day", "week", "month"]
Scope = Literal["site", "class", "asset"]
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
    number: str = ""
    priority: str = ""
    response_due: datetime | None = None
    responded_at: datetime | None = None
    holds: tuple[tuple[datetime, datetime | None], ...] = ()  # on hold from, resumed (None: still)

    def hold_hours(self, until: datetime) -> float:
        """Hours on hold between creation and ``until`` (its completion)."""
        total = 0.0
        for held, resumed in self.holds:
            stop = min(resumed or until, until)
            if stop > held:
                total += (stop - held).total_seconds()
        return total / 3600


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
    scope: str = ""  # what the row is about: the site, ``HT-PMP`` (a class) or an asset
    response: Ratio = Ratio(0, 0)
    mttr_no_hold_h: float | None = None
    downtime_h: float = 0.0
    open_at_end: int = 0
    down_at_end: tuple[str, ...] = field(default=())  # orders keeping their asset down

    def meets(self, target: float) -> bool | None:
        """Repair timeliness at or above ``target`` (None: nothing to judge)."""
        value = self.repair_timeliness.value
        return None if value is None else value >= target


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time()).replace(tzinfo=tz)


def periods(
    start: datetime, end: datetime, period: Period, tz: tzinfo
) -> list[tuple[str, datetime, datetime]]:
    """Local calendar periods overlapping ``[start, end)``, clipped to it: (label, begin,
    finish), aware. A clipped period's label names its real span: ``2026-10 [10-15..10-31]``."""
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
        finish = _local_midnight(following, tz)
        clipped_begin, clipped_finish = max(begin, start), min(finish, end)
        if (clipped_begin, clipped_finish) != (begin, finish):
            first = clipped_begin.astimezone(tz)
            last = (clipped_finish - timedelta(microseconds=1)).astimezone(tz)
            label = f"{label} [{first:%m-%d}..{last:%m-%d}]"
        result.append((label, clipped_begin, clipped_finish))
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


def response_sla(
    orders: Iterable[OrderRecord], start: datetime, end: datetime, now: datetime
) -> Ratio:
    """Corrective orders created in the span responded to within their target / decided."""
    good = total = 0
    for order in orders:
        if order.kind != "corrective" or order.cancelled or order.response_due is None:
            continue
        if not start <= order.created_at < end:
            continue
        if order.responded_at is None and order.response_due > now:
            continue  # not answered yet, and not late yet
        total += 1
        good += order.responded_at is not None and order.responded_at <= order.response_due
    return Ratio(good, total)


def mttr_hours(
    orders: Iterable[OrderRecord], start: datetime, end: datetime, *, without_hold: bool = False
) -> float | None:
    """Mean hours to repair of corrective orders completed in the span (created whenever);
    ``without_hold``: less the time each spent on hold."""
    durations = []
    for o in orders:
        if (
            o.kind != "corrective"
            or o.cancelled
            or o.completed_at is None
            or not start <= o.completed_at < end
        ):
            continue
        hours = (o.completed_at - o.created_at).total_seconds() / 3600
        if without_hold:
            hours -= o.hold_hours(o.completed_at)
        durations.append(hours)
    return sum(durations) / len(durations) if durations else None


def open_at(orders: Iterable[OrderRecord], moment: datetime) -> list[OrderRecord]:
    """Corrective orders open at ``moment`` (created before it, not completed by then)."""
    return [
        o
        for o in orders
        if o.kind == "corrective"
        and not o.cancelled
        and o.created_at < moment
        and (o.completed_at is None or o.completed_at >= moment)
    ]


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


def scope_key(asset_no: str, by: Scope) -> str:
    """The row an asset belongs to: its site (``HT``), its class (``HT-PMP``) or itself."""
    if by == "asset":
        return asset_no
    parts = asset_no.split("-")
    return parts[0] if by == "site" else "-".join(parts[:2])


def report(
    occurrences: Sequence[OccurrenceRecord],
    orders: Sequence[OrderRecord],
    assets: Mapping[str, int] | Iterable[str],
    start: datetime,
    end: datetime,
    period: Period,
    tz: tzinfo,
    now: datetime,
    *,
    by: Scope = "site",
) -> list[KpiRow]:
    """KPIs per site, class or asset (``by``) and period of ``[start, end)``.

    ``assets``: the asset numbers in service (or, per site only, the number per site).
    ``orders``: every order that overlaps the range, whenever it was created. Each record
    is put in the periods it touches once, so a year by week costs little more than a month.
    """
    # Bounds in UTC like the records: comparing datetimes of one zone skips utcoffset()
    # calls, the bulk of the cost over a year of orders.
    spans = [
        (label, begin.astimezone(UTC), finish.astimezone(UTC))
        for label, begin, finish in periods(start, end, period, tz)
    ]
    start, end, now = start.astimezone(UTC), end.astimezone(UTC), now.astimezone(UTC)
    counts: dict[str, int] = {}
    sites: dict[str, str] = {}
    if isinstance(assets, Mapping):
        assert by == "site", "asset numbers are needed for rows per class or asset"
        counts = dict(assets)
        sites = {site: site for site in assets}
    else:
        for asset_no in assets:
            key = scope_key(asset_no, by)
            counts[key] = counts.get(key, 0) + 1
            sites[key] = asset_no.split("-")[0]
    begins = [begin for _, begin, _ in spans]
    horizon = min(end, now)

    def span_index(moment: datetime) -> int:
        return bisect_right(begins, moment) - 1

    order_buckets: dict[str, list[list[OrderRecord]]] = {}
    for order in orders:
        if order.cancelled or order.kind != "corrective" or order.created_at >= end:
            continue
        # Every span from its creation to its completion (or now): where it counts.
        last_moment = min(order.completed_at or horizon, end)
        first, last = max(span_index(order.created_at), 0), span_index(last_moment)
        if last < 0 or not spans:
            continue
        key = scope_key(order.asset_no, by) if by != "site" else order.site
        buckets = order_buckets.setdefault(key, [[] for _ in spans])
        for i in range(first, min(last, len(spans) - 1) + 1):
            buckets[i].append(order)
    occurrence_buckets: dict[str, list[list[OccurrenceRecord]]] = {}
    for occurrence in occurrences:
        i = span_index(occurrence.due)
        if i < 0 or occurrence.due >= end:
            continue
        key = scope_key(occurrence.asset_no, by) if by != "site" else occurrence.site
        occurrence_buckets.setdefault(key, [[] for _ in spans])[i].append(occurrence)
    for key in (*order_buckets, *occurrence_buckets):
        if key not in counts:
            counts[key] = 0  # orders of an asset since retired still count for its site
            sites[key] = key.split("-")[0]

    rows: list[KpiRow] = []
    for key in sorted(counts):
        count = counts[key]
        key_orders = order_buckets.get(key)
        key_occurrences = occurrence_buckets.get(key)
        for i, (label, begin, finish) in enumerate(spans):
            span_orders = key_orders[i] if key_orders else []
            span_occurrences = key_occurrences[i] if key_occurrences else []
            hours = max((min(finish, now) - begin).total_seconds() / 3600, 0.0) * count
            down = downtime_hours(span_orders, begin, finish, now)
            failed = failures(span_orders, begin, finish)
            still_open = open_at(span_orders, min(finish, now))
            rows.append(
                KpiRow(
                    site=sites[key],
                    period=label,
                    start=begin,
                    end=finish,
                    pm_compliance=pm_compliance(span_occurrences, begin, finish, now),
                    repair_timeliness=repair_timeliness(span_orders, begin, finish, now),
                    mttr_h=mttr_hours(span_orders, begin, finish),
                    mtbf_h=(hours - down) / failed if failed else None,
                    availability=1 - down / hours if hours > 0 else None,
                    failures=failed,
                    assets=count,
                    scope=key,
                    response=response_sla(span_orders, begin, finish, now),
                    mttr_no_hold_h=mttr_hours(span_orders, begin, finish, without_hold=True),
                    downtime_h=down,
                    open_at_end=len(still_open),
                    down_at_end=tuple(o.number for o in still_open if o.asset_down),
                )
            )
    return rows
