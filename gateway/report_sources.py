"""What manager reports read from the plant, over the alarm store and InfluxDB.

Maintenance states what its reports need (``maintenance.reports.sources``: ``AlarmHistory``,
``MeterHistory``); this module, one floor up, implements them (docs/decisions/004):

- ``StoreAlarmHistory``: the ISA-18.2 / EEMUA 191 figures of ``gateway.alarms.kpi`` over the
  alarm journal, plus what is standing (active more than 24 h at the period's end, including
  alarms raised before it) and what is shelved at its end;
- ``InfluxMeterHistory``: counter use per period from the hourly aggregates (``agg_1h``
  ``max_max_<point>``), one query per device class and point for every asset at once,
  daily maxima in site time, summed per period with the historian's own reset rule
  (``gateway.history.counter_increases``: a counter that goes back counts from zero).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from facility.config import Settings
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.kpi import alarm_kpis
from gateway.alarms.state import EventKind
from gateway.alarms.store import AlarmStore
from gateway.history import History, Resolution, aggregate_field, counter_increases
from gateway.influx import quote_ident, quote_string
from gateway.lineproto import HEALTH_MEASUREMENT as HEALTH
from gateway.lineproto import SEQ_FIELD
from gateway.telemetry import historian
from maintenance.reports.sources import (
    ActiveAlarm,
    AlarmEvent,
    AlarmFigures,
    BadActor,
    Bounds,
    CounterValue,
    DeviceSeen,
    MeterPoint,
    MeterUse,
    ReportSources,
)

LOOK_BACK = timedelta(days=35)  # how far before a period an alarm's raise or shelve is sought
ACTIVE_LOOK_BACK = timedelta(days=366)  # an alarm standing longer than a year is not listed
ACTIVE_EVENTS = (
    EventKind.RAISE,
    EventKind.WOULD_RAISE,
    EventKind.CLEAR,
    EventKind.ACK,
    EventKind.SHELVE,
    EventKind.UNSHELVE,
    EventKind.SHELVE_EXPIRED,
)
SHELVE_EVENTS = (EventKind.SHELVE, EventKind.UNSHELVE, EventKind.SHELVE_EXPIRED)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class StoreAlarmHistory:
    """``AlarmHistory`` over the alarm journal."""

    def __init__(self, store: AlarmStore) -> None:
        self._store = store

    def figures(self, site: str | None, start: datetime, end: datetime) -> AlarmFigures:
        before = self._store.journal(since=start - LOOK_BACK, until=start, site=site)
        records = self._store.journal(since=start, until=end, site=site)
        kpis = alarm_kpis(records, start, end, current_active=_active_at(before, records, end))
        return AlarmFigures(
            alarms=kpis.alarms,
            per_hour=sum(p.per_hour for p in kpis.positions),
            per_10min=sum(p.per_10min for p in kpis.positions),
            peak_10min=max((p.peak_10min for p in kpis.positions), default=0),
            pct_10min_over=max((p.pct_10min_over for p in kpis.positions), default=0.0),
            pct_time_in_flood=max((p.pct_time_in_flood for p in kpis.positions), default=0.0),
            standing=len(kpis.stale),
            shelved=kpis.shelved,
            shelved_now=_shelved_at_end([*before, *records]),
            chattering=len(kpis.chattering),
            fleeting=sum(c.count for c in kpis.fleeting),
            ack_median_s=kpis.ack_median_s,
            top=tuple(BadActor(c.alarm_id, c.count, c.share) for c in kpis.top),
            top_share=kpis.top_share,
            priorities={p: n for p, (n, _) in kpis.priorities.items() if n},
        )

    def counts(self, site: str | None, bounds: Bounds) -> list[int]:
        if not bounds:
            return []
        starts = [b[0] for b in bounds]
        counts = [0] * len(bounds)
        for record in self._store.iter_journal(
            since=bounds[0][0], until=bounds[-1][1], site=site, events=[EventKind.RAISE]
        ):
            i = bisect.bisect_right(starts, record.at) - 1
            if 0 <= i < len(bounds) and record.at < bounds[i][1]:
                counts[i] += 1
        return counts

    def active(self, site: str | None, at: datetime) -> list[ActiveAlarm]:
        # the journal replayed over a year: the same answer for today and for any past day
        active: dict[str, ActiveAlarm] = {}
        for r in self._store.iter_journal(
            since=at - ACTIVE_LOOK_BACK, until=at, site=site, events=ACTIVE_EVENTS
        ):
            if r.kind in (EventKind.RAISE, EventKind.WOULD_RAISE):
                if r.alarm_id not in active:
                    state = "unack" if r.kind is EventKind.RAISE else "shelved"
                    active[r.alarm_id] = ActiveAlarm(
                        r.alarm_id, r.asset_no or "", r.alarm, r.priority or "", r.at, state
                    )
            elif r.kind is EventKind.CLEAR:
                active.pop(r.alarm_id, None)
            elif r.alarm_id in active:
                state = {EventKind.ACK: "acked", EventKind.SHELVE: "shelved"}.get(r.kind, "")
                active[r.alarm_id] = replace(active[r.alarm_id], state=state)
        return sorted(active.values(), key=lambda a: (a.asset_no, a.alarm_id))

    def raises(self, site: str | None, start: datetime, end: datetime) -> list[AlarmEvent]:
        return [
            AlarmEvent(r.at, r.alarm_id, r.asset_no or "", r.alarm, r.priority or "")
            for r in self._store.iter_journal(
                since=start, until=end, site=site, events=[EventKind.RAISE]
            )
        ]


def _active_at(
    before: Sequence[AlarmRecord], during: Sequence[AlarmRecord], end: datetime
) -> list[tuple[str, datetime]]:
    """Alarms raised before the period and still active at its end, with their raise time
    (``alarm_kpis`` sees only the period's entries: these are its standing alarms too)."""
    raised: dict[str, datetime] = {}
    for record in before:
        if record.kind is EventKind.RAISE:
            raised[record.alarm_id] = record.at
        elif record.kind is EventKind.CLEAR:
            raised.pop(record.alarm_id, None)
    for record in during:
        if record.kind in (EventKind.RAISE, EventKind.CLEAR) and record.at < end:
            raised.pop(record.alarm_id, None)
    return sorted(raised.items(), key=lambda kv: kv[1])


def _shelved_at_end(records: Sequence[AlarmRecord]) -> int:
    last: dict[str, EventKind] = {}
    for record in records:
        if record.kind in SHELVE_EVENTS:
            last[record.alarm_id] = record.kind
    return sum(1 for kind in last.values() if kind is EventKind.SHELVE)


class InfluxMeterHistory:
    """``MeterHistory`` over the historian's hourly aggregates."""

    def __init__(self, history: History) -> None:
        self._history = history

    def use(self, site: str | None, points: Sequence[MeterPoint], bounds: Bounds) -> MeterUse:
        if not bounds:
            return {}
        periods = [(_ms(a), _ms(b)) for a, b in bounds]
        lo, hi = bounds[0][0] - LOOK_BACK, bounds[-1][1]
        offset = bounds[0][0].utcoffset() or timedelta()
        # daily buckets that start at local midnight: InfluxQL's offset from the epoch's
        shift_h = int((-offset.total_seconds() // 3600) % 24)
        rp = quote_ident(self._history.plan.hour_rp)
        where_site = f" AND site = {quote_string(site)}" if site else ""
        found: MeterUse = {}
        for device_class, point in sorted({(p.device_class, p.point) for p in points}):
            field = quote_ident(aggregate_field(Resolution.HOUR, "max", point))
            q = (
                f"SELECT max({field}) FROM {rp}.{quote_ident(device_class.lower())} "
                f"WHERE time >= {_ms(lo)}ms AND time < {_ms(hi)}ms{where_site} "
                f"GROUP BY time(1d, {shift_h}h), asset_no fill(none)"
            )
            for series in self._history.client.query_one(q):
                asset_no = series.tags.get("asset_no", "")
                samples = [(int(t), float(v)) for t, v in series.values if v is not None]
                if not asset_no or not samples:
                    continue
                increases = counter_increases(samples, periods)
                if any(i.increase is not None for i in increases):
                    found[(asset_no, point)] = [i.increase for i in increases]
        return found

    def latest(
        self, site: str | None, points: Sequence[MeterPoint], at: datetime
    ) -> list[CounterValue]:
        lo, hi = _ms(at - timedelta(days=1)), _ms(at)
        where_site = f" AND site = {quote_string(site)}" if site else ""
        found: list[CounterValue] = []
        for device_class, point in sorted({(p.device_class, p.point) for p in points}):
            source = f"{quote_ident(self._history.plan.raw_rp)}.{quote_ident(device_class.lower())}"
            q = (
                f"SELECT last({quote_ident(point)}) FROM {source} "
                f"WHERE time >= {lo}ms AND time < {hi}ms{where_site} GROUP BY asset_no"
            )
            for series in self._history.client.query_one(q):
                asset_no = series.tags.get("asset_no", "")
                for ts, value in series.values:
                    if asset_no and value is not None:
                        found.append(
                            CounterValue(
                                asset_no,
                                point,
                                float(value),
                                datetime.fromtimestamp(ts / 1000, UTC),
                            )
                        )
        return sorted(found, key=lambda c: (c.asset_no, c.point))

    def seen(self, site: str | None, start: datetime, end: datetime) -> dict[str, DeviceSeen]:
        source = f"{quote_ident(self._history.plan.raw_rp)}.{quote_ident(HEALTH)}"
        where = f"WHERE time >= {_ms(start)}ms AND time < {_ms(end)}ms" + (
            f" AND site = {quote_string(site)}" if site else ""
        )
        last_seq, last_ok = self._history.client.query(
            f"SELECT last({quote_ident(SEQ_FIELD)}) FROM {source} {where} GROUP BY asset_no; "
            f"SELECT last(comm_ok) FROM {source} {where} GROUP BY asset_no"
        )
        comm = {s.tags.get("asset_no", ""): bool(s.values[0][1]) for s in last_ok if s.values}
        seen: dict[str, DeviceSeen] = {}
        for series in last_seq:
            asset_no = series.tags.get("asset_no", "")
            if asset_no and series.values:
                at = datetime.fromtimestamp(int(series.values[0][0]) / 1000, UTC)
                seen[asset_no] = DeviceSeen(asset_no, at, comm.get(asset_no))
        return seen


def report_sources(settings: Settings) -> ReportSources:
    """Alarm figures and counter use over the configured alarm store and InfluxDB."""
    history = historian(settings)
    alarms = AlarmStore(settings.database_url, migrate=False)
    return ReportSources(
        alarms=StoreAlarmHistory(alarms),
        meters=InfluxMeterHistory(history),
        closers=[history.client.close, alarms.close],
    )
