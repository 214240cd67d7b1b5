"""The PM scheduler: APScheduler 3.x runs the generator every few minutes.

``PmScheduler.start()`` first runs a catch-up pass in the caller's thread (occurrences that
fell due while nothing ran are generated, or recorded as missed), then schedules a pass every
``generate_every_min`` on a ``BackgroundScheduler`` (one job, ``max_instances=1``,
``coalesce``: a pass that overran is not queued twice). Each pass is followed by the proof-of-
fix checks of completed corrective orders when a series source is given.

Running several schedulers against one database is safe (generation is idempotent in the
database), but one per installation is the intended set-up: ``facility pm run``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from facility.config import Settings
from facility.errors import FacilityError
from facility.heartbeat import Heartbeat, HeartbeatThread, ServiceKind, make_heartbeat
from facility.mqtt import BrokerSettings
from maintenance.db import Database
from maintenance.generator import Generator, PassReport
from maintenance.pm_plans import load_overrides
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
