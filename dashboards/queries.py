"""The dashboard's query layer: every read and the one write (acknowledge) the pages do.

Every read that shows estate data takes the signed-in ``Principal`` and returns only what is
in their estates (``principal.sees(site)``): a technician of JU never gets an HT tile, alarm,
order, asset or KPI row, and an HT order asked for by number is "not found or not in your
estates" — the same answer as for a number that does not exist.

Pages never open a store or a socket themselves; they call a ``Queries`` method and get the
project's own types, or a ``FacilityError`` whose message a banner can show. Nothing here
computes a KPI or an alarm state: those come from ``maintenance.kpi``, the alarm store and
the alarm engine. Stores are opened on first use (no I/O at import or app creation), so a
database, broker or historian that is down breaks only the panel that needs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dashboards.alarm_queries import AlarmQueries
from dashboards.asset_view import LivePoint, LiveTexts, key_first, live_cell
from dashboards.i18n import t
from dashboards.live import LiveFeed
from dashboards.plans import SitePlan, load_plan, plan_paths
from dashboards.tiles import (
    BAD,
    TILE_COUNTS,
    ServiceProblem,
    format_age,
    stale_after,
    tile_state,
)
from dashboards.trends import (
    MAX_MARKERS,
    MAX_TREND_POINTS,
    AlarmMarker,
    OrderMarker,
    Trend,
    limit_lines,
    order_markers,
)
from device_profiles.models import DeviceProfile
from facility.config import Settings
from facility.errors import ConfigError, FacilityError, PermissionDenied
from facility.mqtt import BrokerSettings
from facility.types import ASSET_NO_RE, PRIORITY_ORDER, Asset, Quality, priority_rank
from gateway.alarms.state import EventKind
from gateway.alarms.watchdog import WatchdogSettings
from gateway.history import DAY_MS, HOUR_MS, History, Series, open_history
from maintenance.identity.roles import Permission, Principal
from maintenance.kpi import KpiRow, report
from maintenance.ledger import Site
from maintenance.ledger_files import DEMO_DIR
from maintenance.store import LedgerStore
from maintenance.timeline import TimelineEntry, asset_timeline
from maintenance.wo_store import LogNotifier, WorkOrderStore
from maintenance.workorders import OPEN_STATES, WorkOrder

log = logging.getLogger(__name__)

RANGES_MS: dict[str, int] = {"24h": DAY_MS, "7d": 7 * DAY_MS, "1y": 365 * DAY_MS}
MAX_CHART_POINTS = 1500
LEDGER_TTL_S = 30.0  # the ledger changes rarely; re-read it at most this often


def asset_site(asset_no: str) -> str | None:
    """The estate of ``<SITE>-<CLASS>-<NNN>`` (None for anything else)."""
    match = ASSET_NO_RE.match(asset_no)
    return match["site"] if match else None


def _empty_summary() -> dict[str, int]:
    keys = (*PRIORITY_ORDER, "out_of_comm", "stale", "nodata", "open_orders", "overdue")
    return dict.fromkeys(keys, 0)


def _hidden(what: str) -> ConfigError:
    # one answer for "does not exist" and "not yours": the scope is not to be probed
    return ConfigError(f"{what[:100]}: not found, or not in your estates")


@dataclass(frozen=True, slots=True)
class PointChoice:
    """A point of an asset's profile, for the history chart's point menu."""

    name: str
    label_en: str
    label_zh: str
    unit: str


class Queries(AlarmQueries):
    """Reads for the pages, over the configured database, broker and historian (the alarm
    reads and commands: ``dashboards.alarm_queries``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        live: LiveFeed | None = None,
        ack_timeout_s: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.site.timezone)
        self.broker = BrokerSettings.from_url(
            settings.mqtt.url, password=settings.mqtt.password, ca_file=settings.mqtt.ca_file
        )
        alarms = settings.alarms
        self.live = live or LiveFeed(
            self.broker,
            heartbeat_s=alarms.heartbeat_s,
            watchdog=WatchdogSettings(
                silent_after_intervals=alarms.silent_after_intervals,
                stall_after_s=alarms.stall_after_s,
                default_interval_s=alarms.heartbeat_s,
            ),
        )
        self.ack_timeout_s = ack_timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._history_lock = threading.Lock()  # History is not for concurrent use
        self._ledger: LedgerStore | None = None
        self._orders: WorkOrderStore | None = None
        self._history: History | None = None
        self._profiles: dict[str, DeviceProfile] | None = None
        self._assets: tuple[float, list[Asset]] | None = None
        self._order_counts: tuple[float, dict[str, tuple[int, int]]] | None = None
        self._states_of: dict[str, dict[str, dict[int, str]]] = {}
        self._windows_of: dict[str, tuple[float, dict[str, float]]] = {}
        self._plans: dict[str, tuple[tuple[float, float], SitePlan | None]] = {}
        self._init_alarms()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Queries:
        """Start the live subscriber."""
        self.live.start()
        return self

    def close(self) -> None:
        self.live.stop()
        with self._lock:
            for store in (self._ledger, self._alarms, self._orders):
                if store is not None:
                    store.close()
            self._ledger = self._alarms = self._orders = None
        with self._history_lock:
            if self._history is not None:
                self._history.client.close()
                self._history = None

    def _ledger_store(self) -> LedgerStore:
        with self._lock:
            if self._ledger is None:
                self._ledger = LedgerStore(self.settings.database_url)
            return self._ledger

    def _order_store(self) -> WorkOrderStore:
        with self._lock:
            if self._orders is None:
                # the dashboard only reads orders: notices stay with the scheduler
                self._orders = WorkOrderStore(self.settings.database_url, notifier=LogNotifier())
            return self._orders

    def profiles(self) -> dict[str, DeviceProfile]:
        if self._profiles is None:
            from device_profiles import load_library

            self._profiles = load_library()
        return self._profiles

    # -- ledger ------------------------------------------------------------------------------

    def sites(self, principal: Principal | None = None) -> list[Site]:
        """The estates (those of ``principal`` when given)."""
        sites = self._ledger_store().sites()
        return [s for s in sites if principal is None or principal.sees(s.code)]

    def assets(self, site: str | None = None) -> list[Asset]:
        """Assets in service or out of service (not retired), by site, class and number."""
        cached = self._assets
        if cached is None or time.monotonic() - cached[0] > LEDGER_TTL_S:
            assets = [a for a in self._ledger_store().assets() if a.status.value != "retired"]
            cached = self._assets = (time.monotonic(), assets)
        return [a for a in cached[1] if site is None or a.site == site]

    def monitored_assets(self, principal: Principal, site: str | None = None) -> list[Asset]:
        """Monitored assets in the estates of ``principal``."""
        return [a for a in self.assets(site) if a.monitored and principal.sees(a.site)]

    def asset(self, asset_no: str) -> Asset | None:
        return next((a for a in self.assets() if a.asset_no == asset_no), None)

    def check_asset(self, asset_no: str, principal: Principal) -> None:
        """ConfigError unless ``asset_no`` is an asset number in the person's estates."""
        site = asset_site(asset_no)
        if site is None or not principal.sees(site):
            raise _hidden(f"asset {asset_no}")

    def points(self, asset_no: str, principal: Principal) -> list[PointChoice]:
        """The points of an asset's device profile (empty if unknown or not monitored)."""
        self.check_asset(asset_no, principal)
        asset = self.asset(asset_no)
        profile = self.profiles().get(asset.profile or "") if asset is not None else None
        if profile is None:
            return []
        return [
            PointChoice(p.name, p.label.en, p.label.zh, p.unit)
            for p in profile.points
            if p.states is None or len(p.states) > 2  # on/off points chart poorly as lines
        ]

    def plans_dir(self) -> Path:
        """Where the site plans are: ``[paths] plans_dir``, else the demo estates' plans."""
        configured = self.settings.paths.plans_dir
        return Path(configured) if configured else DEMO_DIR / "plans"

    def site_plan(self, site: str) -> SitePlan | None:
        """The estate's site plan (``dashboards.plans``), None when it has none; re-read
        when one of its files changed. ConfigError (file, line, field) when it does not
        read."""
        drawing, pins = plan_paths(self.plans_dir(), site)
        stamp = tuple(p.stat().st_mtime if p.is_file() else -1.0 for p in (drawing, pins))
        cached = self._plans.get(site)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        plan = load_plan(self.plans_dir(), site)
        self._plans[site] = ((stamp[0], stamp[1]), plan)
        return plan

    def point_states(self, profile_id: str | None) -> dict[str, dict[int, str]]:
        profile = self.profiles().get(profile_id or "")
        if profile is None:
            return {}
        return {p.name: dict(p.states) for p in profile.points if p.states}

    # -- live --------------------------------------------------------------------------------

    def order_counts(self) -> dict[str, tuple[int, int]]:
        """Open and overdue work orders per estate (re-read at most every LEDGER_TTL_S: the
        overview asks every tick)."""
        cached = self._order_counts
        if cached is not None and time.monotonic() - cached[0] < LEDGER_TTL_S:
            return cached[1]
        now = self.clock()
        counts: dict[str, tuple[int, int]] = {}
        try:
            for order in self._order_store().orders(states=sorted(OPEN_STATES)):
                open_, overdue = counts.get(order.site, (0, 0))
                counts[order.site] = (open_ + 1, overdue + (order.completion_due < now))
        except FacilityError as exc:
            log.warning("work-order counts unavailable: %s", exc)
        self._order_counts = (time.monotonic(), counts)
        return counts

    def live_tiles(self, lang: str, principal: Principal) -> dict[str, Any]:
        """The snapshot the overview's store holds: one small entry per monitored device of
        the person's estates, and a summary per estate.

        ``{"connected", "at", "newest_age_s", "services": [problem...],
        "tiles": {asset_no: {"value", "comm", "age", "css", "state", "order", ...}},
        "summary": {site: {"critical", "high", "medium", "low", "out_of_comm", "stale",
        "nodata", "open_orders", "overdue"}}}``.

        Ages are from the reading's collection time, not from when the dashboard got it: a
        retained message received now may be an hour old (a frozen collector's last word).
        A device is "online" only when its newest message is fresh, says communication is
        good and its key values are good and within their own poll windows.
        """
        now = self.clock()
        now_ms = int(now.timestamp() * 1000)
        alarms = self.standing_alarms()
        priorities = self.asset_alarm_priorities(alarms)
        quality_labels = {q.value: t(f"q_{q.value}", lang) for q in Quality}
        on_off = (t("on", lang), t("off", lang))
        count_words = {point: t(key, lang) for point, key in TILE_COUNTS.items()}
        snapshot = self.live.snapshot()
        tiles: dict[str, dict[str, Any]] = {}
        summary: dict[str, dict[str, int]] = {}
        newest_ms: int | None = None
        for asset in self._safe_assets():
            if not asset.monitored or not principal.sees(asset.site):
                continue
            counts = summary.setdefault(asset.site, _empty_summary())
            device = snapshot.get(asset.asset_no)
            priority = priorities.get(asset.asset_no)
            if device is None:
                counts["nodata"] += 1
                tiles[asset.asset_no] = {
                    "value": t("no_data", lang), "comm": BAD, "age": "", "css":
                    " ".join(c for c in (f"tile-alarm-{priority}" if priority else "",
                                         "tile-nodata") if c),
                    "state": "nodata", "stale": False, "comm_ok": False,
                    "order": priority_rank(priority) if priority else 9,
                }  # fmt: skip
                continue
            profile_id = asset.profile or ""
            windows = self._windows(profile_id)
            newest_ms = max(newest_ms or 0, device.collected_ms)
            age_s = max(0.0, (now_ms - device.collected_ms) / 1000)
            tile = tile_state(
                device.device_class,
                device.points,
                device.health,
                alarm_priority=priority,
                states=self._states(profile_id),
                age_s=age_s,
                stale_after_s=windows[0],
                now_ms=now_ms,
                point_stale_after_s=windows[1],
                quality_labels=quality_labels,
                on_off=on_off,
                counts=count_words,
            )
            entry = tile.as_json()
            entry["comm"] = {
                "stale": t("comm_stale", lang).format(age=format_age(tile.age_s)),
                "nodata": t("tile_nodata", lang),
                "bad": t("comm_bad", lang),
            }.get(tile.state, t("comm_ok", lang))
            entry["age"] = t("age_ago", lang).format(age=format_age(tile.age_s))
            entry["order"] = priority_rank(priority) if priority else 9
            tiles[asset.asset_no] = entry
            counts["stale"] += tile.state == "stale"
            counts["nodata"] += tile.state == "nodata"
            counts["out_of_comm"] += tile.state != "stale" and not tile.comm_ok
        for alarm in alarms:
            if alarm.site in summary and alarm.priority in PRIORITY_ORDER:
                summary[alarm.site][alarm.priority] += 1
        for site, (open_, overdue) in self.order_counts().items():
            if site in summary:
                summary[site]["open_orders"] = open_
                summary[site]["overdue"] = overdue
        problems = [
            ServiceProblem(v.key[0].value, v.key[1], v.health.value, v.reason)
            for v in self.live.services(now)
            if not v.ok
        ]
        return {
            "connected": self.live.connected,
            "at": now_ms,
            "newest_age_s": max(0.0, (now_ms - newest_ms) / 1000) if newest_ms else None,
            "stale_after_s": self.settings.alarms.stale_after_s,
            "services": [
                {"kind": p.kind, "id": p.service_id, "health": p.health, "reason": p.reason}
                for p in problems
            ],
            "tiles": tiles,
            "summary": summary,
        }

    def _states(self, profile_id: str) -> dict[str, dict[int, str]]:
        found = self._states_of.get(profile_id)
        if found is None:
            found = self._states_of[profile_id] = self.point_states(profile_id)
        return found

    def _windows(self, profile_id: str) -> tuple[float, dict[str, float]]:
        """(the device's stale window, each point's own window: three of its poll period)."""
        found = self._windows_of.get(profile_id)
        if found is None:
            profile = self.profiles().get(profile_id)
            per_point = {}
            if profile is not None:
                per_point = {
                    p.name: stale_after([profile.poll_periods_s.get(p.poll, 0.0)], 0.0)
                    for p in profile.points
                    if profile.poll_periods_s.get(p.poll)
                }
            found = self._windows_of[profile_id] = (self._stale_after(profile_id), per_point)
        return found

    def _stale_after(self, profile_id: str) -> float:
        profile = self.profiles().get(profile_id)
        default = self.settings.alarms.stale_after_s
        return stale_after(profile.poll_periods_s.values(), default) if profile else default

    def _safe_assets(self) -> list[Asset]:
        try:
            return self.assets()
        except FacilityError:
            return []

    # -- work orders -------------------------------------------------------------------------

    def open_orders(self, principal: Principal, site: str | None = None) -> list[WorkOrder]:
        """Open orders of the person's estates, most urgent first, then by completion due."""
        orders = self._order_store().orders(site=site, states=sorted(OPEN_STATES))
        return sorted(
            (o for o in orders if principal.sees(o.site)),
            key=lambda o: (o.priority.rank, o.completion_due),
        )

    def order(self, number: str, principal: Principal) -> WorkOrder:
        """One order; ConfigError if there is none of that number in the person's estates."""
        try:
            order = self._order_store().get(number)
        except (ConfigError, PermissionDenied):
            raise _hidden(f"work order {number}") from None
        if not principal.sees(order.site):
            raise _hidden(f"work order {number}")
        return order

    # -- history -----------------------------------------------------------------------------

    def series(self, asset_no: str, point: str, range_key: str, principal: Principal) -> Series:
        """A point over the last 24 h / 7 d / 1 y at the resolution History picks."""
        self.check_asset(asset_no, principal)
        span = RANGES_MS.get(range_key)
        if span is None:
            raise ConfigError(f"range {range_key!r}: expected one of {', '.join(RANGES_MS)}")
        now_ms = int(self.clock().timestamp() * 1000)
        # end on the next hour so the last bucket is whole and the newest reading included
        end_ms = now_ms - now_ms % HOUR_MS + HOUR_MS
        with self._history_lock:
            if self._history is None:
                self._history = open_history(self.settings)
            return self._history.series(
                asset_no,
                point,
                end_ms - span,
                end_ms,
                max_points=MAX_CHART_POINTS,
                now_ms=now_ms,
            )

    def trend(
        self, asset_no: str, points: Sequence[str], range_key: str, principal: Principal, lang: str
    ) -> Trend:
        """Several points of one asset over the range (each at the resolution History picks),
        the profile's alarm limits on them and the asset's alarm raises in the range. The
        markers are left out, logged, when the alarm store cannot be read: the chart stays."""
        chosen = list(dict.fromkeys(points))[:MAX_TREND_POINTS]
        series = tuple(self.series(asset_no, p, range_key, principal) for p in chosen)
        asset = self.asset(asset_no)
        profile = self.profiles().get(asset.profile or "") if asset is not None else None
        limits = tuple(limit_lines(profile, chosen, lang))
        markers: tuple[AlarmMarker, ...] = ()
        orders: tuple[OrderMarker, ...] = ()
        if series:
            orders = tuple(self._order_markers(asset_no, series[0], lang))
            since = datetime.fromtimestamp(series[0].start_ms / 1000, tz=UTC)
            labels = {a.name: a.label for a in profile.alarms} if profile is not None else {}
            try:
                raised = self._alarm_store().journal(
                    asset_no=asset_no, since=since, events=[EventKind.RAISE]
                )
            except FacilityError as exc:
                log.warning("alarm markers unavailable asset_no=%s: %s", asset_no, exc)
                raised = []
            markers = tuple(
                AlarmMarker(
                    r.at,
                    r.alarm,
                    r.priority or "",
                    (labels[r.alarm].zh if lang == "zh" else labels[r.alarm].en)
                    if r.alarm in labels
                    else r.alarm,
                )
                for r in raised[-MAX_MARKERS:]
            )
        return Trend(series, limits, markers, orders)

    def _order_markers(self, asset_no: str, series: Series, lang: str) -> list[OrderMarker]:
        """The asset's work orders created or closed in the chart's range; none, logged,
        when the order store cannot be read (the chart stays)."""
        start = datetime.fromtimestamp(series.start_ms / 1000, tz=UTC)
        end = datetime.fromtimestamp(series.end_ms / 1000, tz=UTC)
        try:
            found = self._order_store().orders(asset_no=asset_no, created_until=end, limit=1000)
        except FacilityError as exc:
            log.warning("work-order markers unavailable asset_no=%s: %s", asset_no, exc)
            return []
        return order_markers(
            [
                (o.created_at, o.closed_at, o.number, o.title_zh if lang == "zh" else o.title_en)
                for o in found
            ],
            start,
            end,
        )

    def live_tail(
        self, asset_no: str, points: Sequence[str], principal: Principal
    ) -> dict[str, list[Any]]:
        """The newest live reading of each of ``points`` of the asset (the chart's live tail):
        ``{point: [collected ms, site-time text, value]}``, only numeric good values (a bad
        quality is a gap, never a point)."""
        self.check_asset(asset_no, principal)
        device = self.live.snapshot().get(asset_no)
        if device is None:
            return {}
        tail: dict[str, list[Any]] = {}
        for point in points:
            entry = device.points.get(point)
            if entry is None or str(entry.get("q", "good")) != "good":
                continue
            value, at_ms = entry.get("v"), entry.get("t")
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not isinstance(at_ms, int):
                continue
            local = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(self.tz)
            tail[point] = [at_ms, local.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], float(value)]
        return tail

    def timeline(
        self, asset_no: str, principal: Principal, days: int = 365, limit: int = 200
    ) -> list[TimelineEntry]:
        """The asset's recent history (work orders, alarms, meters, status), newest first."""
        self.check_asset(asset_no, principal)
        since = self.clock() - timedelta(days=days)
        entries = asset_timeline(self._order_store().db, asset_no, since=since)
        return list(reversed(entries))[:limit]

    # -- KPIs --------------------------------------------------------------------------------

    def month_kpis(self, principal: Principal) -> list[KpiRow]:
        """This calendar month's KPIs per site of the person's estates
        (``maintenance.kpi.report``); PermissionDenied without the reports permission."""
        principal.require(Permission.REPORTS)
        now = self.clock()
        local = now.astimezone(self.tz)
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        records = self._order_store().kpi_records(start, now)
        rows = report(
            records.occurrences, records.orders, records.assets, start, now, "month", self.tz, now
        )
        return [r for r in rows if principal.sees(r.site)]

    @property
    def timeliness_target(self) -> float:
        return self.settings.maintenance.timeliness_target

    def local_time(self, moment: datetime | None) -> str:
        """A time in the estates' zone, to the minute ('' for none)."""
        if moment is None:
            return ""
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    # -- the asset page (issue 12): its ledger record, live values and open orders ------------

    def asset_record(self, asset_no: str, principal: Principal) -> Asset:
        """The ledger record of an asset in the person's estates (retired ones left out);
        ConfigError, the same for "no such asset" and "not yours", otherwise."""
        self.check_asset(asset_no, principal)
        found = self.asset(asset_no)
        if found is None:
            raise _hidden(f"asset {asset_no}")
        return found

    def asset_live_points(self, asset_no: str, principal: Principal) -> list[LivePoint]:
        """Every point of the asset's profile, the tile's key points first, each with its
        own stale window (empty for an asset without a profile)."""
        asset = self.asset_record(asset_no, principal)
        profile = self.profiles().get(asset.profile or "")
        if profile is None:
            return []
        windows = self._windows(profile.id)[1]
        points = [
            LivePoint(p.name, p.label.en, p.label.zh, p.unit,
                      dict(p.states) if p.states else None, windows.get(p.name))
            for p in profile.points
        ]  # fmt: skip
        return key_first(points, asset.device_class.value)

    def asset_live(self, asset_no: str, lang: str, principal: Principal) -> dict[str, Any]:
        """The asset's live cells for one tick: ``{"points": {name: {"value", "quality",
        "age", "state"}}, "at": ms}`` from the same feed and the same judgement (stale,
        no data, bad) as the overview's tiles."""
        points = self.asset_live_points(asset_no, principal)
        asset = self.asset_record(asset_no, principal)
        now_ms = int(self.clock().timestamp() * 1000)
        device = self.live.snapshot().get(asset_no)
        texts = LiveTexts(
            on=t("on", lang), off=t("off", lang), no_data=t("tile_nodata", lang),
            age_ago=t("age_ago", lang),
            qualities={q.value: t(f"q_{q.value}", lang) for q in Quality},
        )  # fmt: skip
        comm_ok, device_stale, entries = False, False, {}
        if device is not None:
            comm_ok = bool(device.health.get("comm_ok", True))
            device_stale = (now_ms - device.collected_ms) / 1000 > self._stale_after(
                asset.profile or ""
            )
            entries = device.points
        cells = {
            p.name: live_cell(p, entries.get(p.name), now_ms=now_ms, comm_ok=comm_ok,
                              device_stale=device_stale, texts=texts)
            for p in points
        }  # fmt: skip
        return {"points": cells, "at": now_ms}

    def asset_orders(self, asset_no: str, principal: Principal) -> list[WorkOrder]:
        """The asset's open work orders, most urgent first, then by completion due — in the
        person's estates only, as the work-order page lists them."""
        self.check_asset(asset_no, principal)
        orders = self._order_store().orders(asset_no=asset_no, states=sorted(OPEN_STATES))
        return sorted(
            (o for o in orders if principal.sees(o.site)),
            key=lambda o: (o.priority.rank, o.completion_due),
        )
