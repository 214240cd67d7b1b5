"""The daily check sheet (日检) of one estate, for one local day, and its results entered back.

    sheet = build_daily(db, sources, "HT", "2026-11-26")      # what to look at today
    pdf = render_daily_pdf(sheet, "zh")                       # tick boxes, signature
    record_checks(db, person, "HT", "2026-11-26", results)    # the walk-round's results

What the sheet lists, in the estate's time zone:

- PM orders due today or overdue (open preventive orders with a due date before tomorrow);
- statutory items (``statutory.STATUTORY``: tank cleaning and its water test, quarterly water
  quality, fire panel checks and tests) open and due within ``STATUTORY_AHEAD`` or overdue;
- alarms standing at the moment the sheet is made (condition active, shelved ones too);
- devices out of communication (their last health said so, or a comm-loss alarm is active)
  or stale (monitored, but not heard from for ``STALE_AFTER``, or not at all for a day);
- yesterday's events: trips, floods, pool dry-runs, fire, open plant-room doors, and every
  critical alarm;
- meter readings of the day: each counter's last value, with a box for the hand reading.

Each line gets a tick box; the sheet ends with the checker's signature. A source that cannot
be reached is printed as "source unavailable", one that is not wired as "no source": never
as an empty list that would read "all clear".

Results come back per asset (``CheckResult``: ok or fault, a note, hand readings) from the
command line (``facility report check-in``) or the dashboard; each is an audit row
``daily_check`` on the asset (who, when, from where, what) and each reading a meter reading,
so both appear in the asset's history (``maintenance.timeline``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select

from facility.errors import ConfigError, FacilityError
from maintenance.db import Database
from maintenance.identity.audit import audit_row
from maintenance.identity.roles import Principal
from maintenance.reports.periods import ReportPeriod, parse_period
from maintenance.reports.queries import check_site, sites
from maintenance.reports.sources import (
    REPORT_METERS,
    ActiveAlarm,
    AlarmEvent,
    CounterValue,
    DeviceSeen,
    ReportSources,
    SourceState,
)
from maintenance.reports.statutory import statutory_item
from maintenance.schema import AssetRow
from maintenance.wo_schema import MeterReadingRow, PmPlanRow, WorkOrderRow

log = logging.getLogger(__name__)

STATUTORY_AHEAD = timedelta(days=14)  # tank cleaning is booked with a contractor ahead
STALE_AFTER = timedelta(hours=1)
SEEN_LOOK_BACK = timedelta(days=1)
CHECK_ACTION = "daily_check"
EVENT_ALARMS = {
    "drive_fault": "trip",
    "overcurrent": "trip",
    "contactor_fault": "trip",
    "flood": "flood",
    "dry_run": "dry_run",
    "fire": "fire",
    "door_open": "door",
}
Result = Literal["ok", "fault"]
RESULTS: tuple[Result, ...] = ("ok", "fault")

T = TypeVar("T")


@dataclass(frozen=True)
class DueItem:
    """An open order to look at today (PM or statutory)."""

    number: str
    asset_no: str
    plan: str
    title_en: str
    title_zh: str
    due: datetime
    overdue: bool
    statutory: str = ""  # the statutory item's key, "" for ordinary PM


@dataclass(frozen=True)
class DeviceLine:
    """A device out of communication or stale."""

    asset_no: str
    reason: Literal["comm", "stale", "silent"]
    last_seen: datetime | None


@dataclass(frozen=True)
class Section(Generic[T]):
    """A list from a plant source, with whether the source answered."""

    state: SourceState
    items: tuple[T, ...] = ()


@dataclass(frozen=True)
class DailySheet:
    site: str
    name_en: str
    name_zh: str
    period: ReportPeriod  # the local day
    timezone: str
    generated_at: datetime
    assets: tuple[str, ...]  # in service, for the check-in form
    pm: tuple[DueItem, ...]
    statutory: tuple[DueItem, ...]
    standing: Section[ActiveAlarm]
    devices: Section[DeviceLine]
    events: Section[tuple[str, AlarmEvent]]  # (kind: trip, flood, ...; the raise)
    meters: Section[CounterValue]

    @property
    def label(self) -> str:
        return self.period.label


@dataclass(frozen=True)
class CheckResult:
    """One asset's result of the walk-round."""

    asset_no: str
    result: Result
    note: str = ""
    readings: tuple[tuple[str, float], ...] = ()  # (point, value) read by hand


# -- reading -----------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def due_orders(db: Database, site: str, until: datetime, moment: datetime) -> list[DueItem]:
    """Preventive orders of ``site`` open at ``moment`` and due before ``until``."""
    query = (
        select(WorkOrderRow, PmPlanRow.name)
        .join(PmPlanRow, WorkOrderRow.plan_id == PmPlanRow.id, isouter=True)
        .where(
            WorkOrderRow.site == site,
            WorkOrderRow.kind == "preventive",
            WorkOrderRow.due_at.is_not(None),
            WorkOrderRow.due_at < until,
            WorkOrderRow.created_at < moment,
            WorkOrderRow.completed_at.is_(None),
            WorkOrderRow.cancelled_at.is_(None),
        )
        .order_by(WorkOrderRow.due_at, WorkOrderRow.number)
    )
    items = []
    with db.transaction() as tx:
        for order, plan in tx.execute(query):
            due = _utc(order.due_at)
            item = statutory_item(order.asset_no, plan or "")
            items.append(
                DueItem(
                    order.number,
                    order.asset_no,
                    plan or "",
                    order.title_en,
                    order.title_zh,
                    due,
                    due < moment,
                    item.key if item else "",
                )
            )
    return items


def monitored_assets(db: Database, site: str) -> tuple[list[str], set[str]]:
    """The site's assets in service, and those of them the collectors poll."""
    with db.transaction() as tx:
        rows = tx.rows(AssetRow, site=site, status="in_service", order_by=["asset_no"])
        return [r.asset_no for r in rows], {
            r.asset_no for r in rows if r.protocol or r.opcua_url or r.host
        }


def _ask(name: str, call: Callable[[], Sequence[T]] | None) -> Section[T]:
    if call is None:
        return Section("absent")
    try:
        return Section("ok", tuple(call()))
    except FacilityError as exc:
        log.warning("daily sheet: %s source unavailable: %s", name, exc)
        return Section("unavailable")


def build_daily(
    db: Database,
    sources: ReportSources,
    site: str,
    day: str,
    *,
    now: datetime | None = None,
) -> DailySheet:
    """The check sheet of estate ``site`` for local day ``day`` (``2026-11-26``)."""
    known = sites(db)
    code = check_site(known, site)
    if code is None:
        raise ConfigError("--site all: a daily check sheet is per estate; expected one code")
    info = known[code]
    zone = ZoneInfo(info.timezone)
    period = parse_period("daily", day, zone)
    now = now or datetime.now(UTC)
    # the sheet shows the day as it is when printed; for a past day, as at its end
    moment = min(now, period.end)
    orders = due_orders(db, code, period.end + STATUTORY_AHEAD, moment)
    pm = tuple(o for o in orders if not o.statutory and o.due < period.end)
    statutory = tuple(o for o in orders if o.statutory)
    assets, monitored = monitored_assets(db, code)
    alarms, meters = sources.alarms, sources.meters
    standing = _ask("alarms", (lambda: alarms.active(code, moment)) if alarms else None)
    yesterday = period.start - timedelta(days=1)
    raises = _ask(
        "alarms", (lambda: alarms.raises(code, yesterday, period.start)) if alarms else None
    )
    events: Section[tuple[str, AlarmEvent]] = Section(
        raises.state,
        tuple(
            (EVENT_ALARMS.get(e.alarm, "critical"), e)
            for e in raises.items
            if e.alarm in EVENT_ALARMS or e.priority == "critical"
        ),
    )
    readings = _ask(
        "meters", (lambda: meters.latest(code, REPORT_METERS, moment)) if meters else None
    )
    seen = _ask(
        "meters",
        (lambda: list(meters.seen(code, moment - SEEN_LOOK_BACK, moment).values()))
        if meters
        else None,
    )
    devices: Section[DeviceLine] = Section(seen.state)
    if seen.state == "ok":
        devices = Section("ok", tuple(_devices(seen.items, standing.items, monitored, moment)))
    return DailySheet(
        code, info.name_en, info.name_zh, period, zone.key, now, tuple(assets), pm, statutory,
        standing, devices, events, readings,
    )  # fmt: skip


def _devices(
    seen: Sequence[DeviceSeen], standing: Sequence[ActiveAlarm], monitored: set[str], at: datetime
) -> list[DeviceLine]:
    by_asset = {s.asset_no: s for s in seen}
    comm_alarm = {a.asset_no for a in standing if a.alarm == "comm_loss"}
    lines = []
    for asset_no in sorted(monitored | set(by_asset) | comm_alarm):
        last = by_asset.get(asset_no)
        last_seen = last.last_seen if last else None
        if asset_no in comm_alarm or (last is not None and last.comm_ok is False):
            lines.append(DeviceLine(asset_no, "comm", last_seen))
        elif last is None:
            if asset_no in monitored:
                lines.append(DeviceLine(asset_no, "silent", None))
        elif at - last.last_seen > STALE_AFTER:
            lines.append(DeviceLine(asset_no, "stale", last.last_seen))
    return lines


# -- results entered back ------------------------------------------------------------------------

_READING = re.compile(r"^(?P<point>[a-z][a-z0-9_]{0,63})=(?P<value>-?[0-9]+(\.[0-9]+)?)$")


def parse_reading(text: str) -> tuple[str, float]:
    """``inflow_total=1234.5`` → (point, value); ConfigError saying the form."""
    match = _READING.match(text.strip())
    if not match:
        raise ConfigError(
            f"--reading {text[:60]!r}: expected point=value, e.g. inflow_total=1234.5"
        )
    return match["point"], float(match["value"])


def record_checks(
    db: Database,
    actor: Principal,
    site: str,
    day: str,
    results: Sequence[CheckResult],
    *,
    at: datetime | None = None,
) -> int:
    """Write the results of ``site``'s check of ``day``, all or nothing: one audit row per
    asset, one meter reading per hand reading. Returns the rows written."""
    known = sites(db)
    code = check_site(known, site)
    if code is None:
        raise ConfigError("--site all: check results are per estate; expected one code")
    period = parse_period("daily", day, ZoneInfo(known[code].timezone))
    at = at or datetime.now(UTC)
    if not results:
        raise ConfigError("no results: expected at least one --asset with --ok or --fault")
    assets, _ = monitored_assets(db, code)
    unknown = sorted({r.asset_no for r in results} - set(assets))
    if unknown:
        raise ConfigError(f"--asset {', '.join(unknown)}: not an asset in service at estate {code}")
    for result in results:
        if result.result not in RESULTS:
            raise ConfigError(f"result {result.result!r}: expected ok or fault")
    rows = 0
    with db.transaction(write=True) as tx:
        for result in results:
            tx.add(
                audit_row(
                    actor,
                    CHECK_ACTION,
                    result.asset_no,
                    {
                        "site": code,
                        "day": period.label,
                        "result": result.result,
                        "note": result.note,
                        "readings": {p: v for p, v in result.readings},
                    },
                    at=at,
                )
            )
            rows += 1
            for point, value in result.readings:
                tx.add(
                    MeterReadingRow(
                        asset_no=result.asset_no, point=point, value=value, at=at,
                        source="manual", work_order_id=None, actor=actor.name,
                    )
                )  # fmt: skip
                rows += 1
    log.info(
        "daily check recorded site=%s day=%s assets=%d by=%s",
        code,
        period.label,
        len(results),
        actor.name,
    )
    return rows
