"""The PM scheduler: APScheduler 3.x runs the generator every few minutes.

``PmScheduler.start()`` first runs a catch-up pass in the caller's thread (occurrences that
fell due while nothing ran are generated, or recorded as missed), then schedules a pass every
``generate_every_min`` on a ``BackgroundScheduler`` (one job, ``max_instances=1``,
``coalesce``: a pass that overran is not queued twice). Each pass is followed by the proof-of-
fix checks of completed corrective orders when a series source is given.

Running several schedulers against one database is safe (generation is idempotent in the
database), but one per installation is the intended set-up: ``facility pm run``.

Report jobs (``ReportJobs``, ``ReportScheduler``; ``facility report run``): every few minutes
the reports the calendar wants (each estate's daily check sheet from 06:00 site time, last
week's from Monday 06:00, last month's from the 1st 06:00, and the company's) are made if
they are not stored yet, and a notice goes out through the notification channels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from facility.config import Settings
from facility.errors import FacilityError
from facility.heartbeat import Heartbeat, HeartbeatThread, ServiceKind, make_heartbeat
from facility.mqtt import BrokerSettings
from maintenance.db import Database
from maintenance.generator import Generator, PassReport
from maintenance.pm_plans import load_overrides
from maintenance.reports.build import Format
from maintenance.reports.model import ALL
from maintenance.reports.notify import ReportNotice, ReportNotifier
from maintenance.reports.periods import ReportKind, period_of, previous
from maintenance.reports.sources import ReportSources
from maintenance.reports.text import Lang
from maintenance.telemetry import (
    AlarmStateConditions,
    FirstKnownMeters,
    PlantTelemetry,
    SeriesSource,
    SqlMeters,
)
from maintenance.wo_store import Notifier, WorkOrderStore
from maintenance.workorders import SlaTargets

if TYPE_CHECKING:
    from maintenance.alarm_orders import AlarmOrders

log = logging.getLogger(__name__)

JOB_ID = "pm-generate"


class PmScheduler:
    """The generator (and proof-of-fix checks) on a timer."""

    def __init__(
        self,
        generator: Generator,
        every_min: float,
        *,
        store: WorkOrderStore | None = None,
        series: SeriesSource | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        closers: Sequence[Callable[[], None]] = (),
        alarm_orders: AlarmOrders | None = None,
        broker: BrokerSettings | None = None,
        service_id: str = "scheduler-1",
        heartbeat_s: float = 5.0,
    ) -> None:
        if every_min <= 0:
            raise ValueError("every_min must be > 0")
        self.generator = generator
        self.every_min = every_min
        self.store = store
        self.series = series
        self.clock = clock
        self.passes = 0
        self.failures = 0
        self.last_report: PassReport | None = None
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._closers = list(closers)
        self.alarm_orders = alarm_orders
        self.service_id = service_id
        self.last_pass: datetime | None = None
        # its heartbeat (facility.heartbeat): passes must move every every_min
        self._heartbeat = (
            HeartbeatThread(broker, self.heartbeat, interval_s=heartbeat_s)
            if broker is not None
            else None
        )

    def tick(self) -> PassReport | None:
        """One pass and the proof-of-fix checks; errors are logged, never raised (the next
        tick tries again)."""
        with self._lock:
            now = self.clock()
            try:
                report = self.generator.run_pass(now)
            except FacilityError as exc:
                self.failures += 1
                log.error("pm pass failed: %s (next try in %g min)", exc, self.every_min)
                return None
            self.passes += 1
            self.last_pass = now
            self.last_report = report
            if self.alarm_orders is not None:
                try:
                    self.alarm_orders.tick()
                except FacilityError as exc:
                    log.error("corrective orders from alarms failed: %s", exc)
            if self.store is not None and self.series is not None:
                try:
                    self.store.check_fixes(self.series, now=now)
                except FacilityError as exc:
                    log.error("proof-of-fix checks failed: %s", exc)
            return report

    def start(self) -> PassReport | None:
        """Catch-up pass now, then a pass every ``every_min`` minutes in the background."""
        report = self.tick()
        if report is not None:
            log.info("pm catch-up %s", report.summary())
        self._scheduler.add_job(
            self.tick,
            IntervalTrigger(minutes=self.every_min, timezone=UTC),
            id=JOB_ID,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,  # late is better than never: run it when we can
            replace_existing=True,
        )
        self._scheduler.start()
        if self._heartbeat is not None:
            self._heartbeat.start()
        log.info(
            "pm scheduler started every=%gmin worker=%s", self.every_min, self.generator.worker
        )
        return report

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, let a running pass finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
            log.info("pm scheduler stopped after %d passes", self.passes)
        if self._heartbeat is not None:
            self._heartbeat.stop()

    def heartbeat(self) -> Heartbeat:
        """Alive, and how many passes so far (read by the alarm engine's watchdog)."""
        return make_heartbeat(
            ServiceKind.SCHEDULER,
            self.service_id,
            interval_s=self._heartbeat.interval_s if self._heartbeat else 5.0,
            counters={"passes": self.passes},
            times={"last_pass_ts": self.last_pass},
            work_every_s=self.every_min * 60,
        )

    def close(self) -> None:
        """Stop, and release the generator, the store and the sources."""
        self.shutdown()
        for close in [self.generator.close, *([self.store.close] if self.store else [])]:
            close()
        for close in self._closers:
            close()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)


def build(
    settings: Settings,
    *,
    notifier: Notifier | None = None,
    telemetry: PlantTelemetry,
) -> PmScheduler:
    """Generator, work-order store and telemetry sources as the configuration says.

    ``telemetry`` is the plant as the level above implements it
    (``gateway.telemetry.plant_telemetry(settings)``); the wiring passes it.
    """
    from device_profiles import load_library

    config = settings.maintenance
    url = settings.database_url
    sla = SlaTargets.from_config(config.sla_response_min, config.sla_completion_h)
    overrides = load_overrides(config.plan_overrides)
    if notifier is None:
        from maintenance import wo_notify

        notifier = wo_notify.from_settings(settings)
    db = Database(url)
    meters = FirstKnownMeters(telemetry.meters, SqlMeters(db))
    store = WorkOrderStore(
        url,
        sla=sla,
        proof_hold=timedelta(minutes=config.proof_of_fix_min),
        notifier=notifier,
        meters=meters,
        backdate_max=timedelta(days=config.backdate_max_days),
        separate_verify=config.separate_verify,
    )
    generator = Generator(
        url,
        profiles=load_library(),
        overrides=overrides,
        meters=meters,
        conditions=AlarmStateConditions(db),
        sla=sla,
        notifier=None,  # technicians hear of an order when it is assigned to them
        migrate=False,
    )
    from facility.types import Priority
    from maintenance.alarm_orders import AlarmOrders
    from maintenance.store import LedgerStore

    def asset_profiles() -> dict[str, str]:
        with LedgerStore(url, migrate=False) as ledger:
            return {a.asset_no: a.profile for a in ledger.assets() if a.profile}

    alarm_orders = AlarmOrders(
        telemetry.raises,
        store,
        load_library(),
        asset_profiles,
        covered=generator.condition_alarms,
        min_priority=Priority(config.corrective_min_priority),
    )
    return PmScheduler(
        generator,
        config.generate_every_min,
        store=store,
        series=telemetry.series,
        closers=[db.close, *telemetry.closers],
        alarm_orders=alarm_orders,
        broker=BrokerSettings.from_url(
            settings.mqtt.url, password=settings.mqtt.password, ca_file=settings.mqtt.ca_file
        ),
        heartbeat_s=settings.alarms.heartbeat_s,
    )


# -- report jobs -------------------------------------------------------------------------------

REPORT_JOB_ID = "reports"
REPORT_HOUR = 6  # daily sheets at 06:00 site time; weekly on Monday, monthly on the 1st


@dataclass(frozen=True)
class ReportJob:
    """One report the schedule wants to exist: a site code (or ALL), a kind and a period."""

    site: str
    kind: ReportKind
    period: str


def due_reports(
    now: datetime, zones: Mapping[str, str], company_zone: str, *, hour: int = REPORT_HOUR
) -> list[ReportJob]:
    """What should exist at ``now``: each estate's daily sheet of today once it is ``hour``
    there, last week's report from Monday ``hour``, last month's from the 1st ``hour``; and
    the company's weekly and monthly reports in ``company_zone``. Pure: the caller skips what
    is stored, so a run that was missed (the scheduler was down) is made at the next tick."""
    jobs: list[ReportJob] = []
    scopes = [(code, zone, True) for code, zone in sorted(zones.items())]
    scopes.append((ALL, company_zone, False))
    for code, zone_name, daily in scopes:
        zone = ZoneInfo(zone_name)
        # the local day as the schedule sees it: it starts at ``hour``
        day = (now.astimezone(zone) - timedelta(hours=hour)).date()
        if daily:
            jobs.append(ReportJob(code, "daily", period_of("daily", day, zone).label))
        for kind in ("weekly", "monthly"):
            current = period_of(kind, day, zone)
            jobs.append(ReportJob(code, current.kind, previous(current, zone).label))
    return jobs


class ReportJobs:
    """Generates the due reports that are not stored yet, stores them and sends a notice.

    Idempotent: a stored file is never made again (``store.report_path`` exists); a report
    that fails is logged once and tried again at the next tick."""

    def __init__(
        self,
        settings: Settings,
        sources: Callable[[], ReportSources],
        *,
        notifier: ReportNotifier | None = None,
        langs: Sequence[Lang] = ("zh",),
        base_url: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.sources = sources
        self.notifier = notifier
        self.langs = tuple(langs)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.clock = clock
        self.made = 0
        self._failing: set[ReportJob] = set()
        self._lock = threading.Lock()

    def formats(self, kind: str) -> tuple[Format, ...]:
        return ("pdf",) if kind == "daily" else ("pdf", "xlsx")

    def tick(self, now: datetime | None = None) -> list[Path]:
        """Make every due report that is missing; returns the files written."""
        from maintenance.reports import store
        from maintenance.reports.queries import sites

        with self._lock:
            now = now or self.clock()
            var_dir = self.settings.paths.var_dir
            db = Database.open(self.settings.database_url, migrate=False)
            sources: ReportSources | None = None
            written: list[Path] = []
            try:
                zones = {code: info.timezone for code, info in sites(db).items()}
                jobs = due_reports(now, zones, self.settings.site.timezone)
                for job in jobs:
                    missing = [
                        (lang, fmt)
                        for lang in self.langs
                        for fmt in self.formats(job.kind)
                        if not store.report_path(
                            var_dir, job.site, job.kind, job.period, lang, fmt
                        ).exists()
                    ]
                    if not missing:
                        continue
                    sources = sources or self.sources()
                    written += self._make(db, sources, job, missing, now)
            finally:
                if sources is not None:
                    sources.close()
                db.close()
            return written

    def _make(
        self,
        db: Database,
        sources: ReportSources,
        job: ReportJob,
        missing: Sequence[tuple[Lang, Format]],
        now: datetime,
    ) -> list[Path]:
        from maintenance.reports import store
        from maintenance.reports.build import build_report, render
        from maintenance.reports.daily import build_daily
        from maintenance.reports.daily_pdf import render_daily_pdf

        written: list[Path] = []
        try:
            if job.kind == "daily":
                sheet = build_daily(db, sources, job.site, job.period, now=now)
                rendered = [(lang, fmt, render_daily_pdf(sheet, lang)) for lang, fmt in missing]
            else:
                report = build_report(
                    db, sources, job.kind, job.site, job.period,
                    timezone=self.settings.site.timezone, now=now,
                    target=self.settings.maintenance.timeliness_target,
                )  # fmt: skip
                rendered = [(lang, fmt, render(report, fmt, lang)) for lang, fmt in missing]
        except FacilityError as exc:
            if job not in self._failing:
                log.error("report %s %s %s failed: %s (retried at the next tick)",
                          job.site, job.kind, job.period, exc)  # fmt: skip
            self._failing.add(job)
            return written
        if job in self._failing:
            log.info("report %s %s %s made again", job.site, job.kind, job.period)
            self._failing.discard(job)
        for lang, fmt, data in rendered:
            path = store.save(
                self.settings.paths.var_dir, job.site, job.kind, job.period, lang, fmt, data
            )
            written.append(path)
            self.made += 1
            if self.notifier is not None:
                link = (
                    f"{self.base_url}/reports/file/{job.site}/{job.kind}/{path.name}"
                    if self.base_url
                    else None
                )
                self.notifier.notify(
                    ReportNotice(job.site, job.kind, job.period, lang, fmt, path, link)
                )
        return written


class ReportScheduler:
    """The report jobs on APScheduler: a catch-up tick now, then one every ``every_min``."""

    def __init__(self, jobs: ReportJobs, every_min: float = 10.0) -> None:
        if every_min <= 0:
            raise ValueError("every_min must be > 0")
        self.jobs = jobs
        self.every_min = every_min
        self._scheduler = BackgroundScheduler(timezone=UTC)

    def tick(self) -> None:
        try:
            self.jobs.tick()
        except FacilityError as exc:  # the database itself: try again at the next tick
            log.error("report jobs failed: %s", exc)

    def start(self) -> None:
        self.tick()
        self._scheduler.add_job(
            self.tick, IntervalTrigger(minutes=self.every_min, timezone=UTC), id=REPORT_JOB_ID,
            max_instances=1, coalesce=True, misfire_grace_time=None, replace_existing=True,
        )  # fmt: skip
        self._scheduler.start()
        log.info("report scheduler started every=%gmin", self.every_min)

    def shutdown(self, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
            log.info("report scheduler stopped after %d reports", self.jobs.made)
