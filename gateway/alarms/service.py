"""The standalone alarm engine process (``facility alarms run``): MQTT in, alarms out.

Subscribes to the device topics ``facility/v1/<site>/+`` of its sites (a plain subscription:
every alarm engine must see every message of the sites it owns — shard engines by site, not
by shared subscription) and to ``facility/v1/ctl/alarm-commands/<site>``; decodes each message
in paho's network thread and hands it to the engine on the event loop. Its own status is on
``facility/v1/status/alarms/<id>``: its heartbeat (``facility.heartbeat``), retained, will
``offline``. It also subscribes to every service's status topic and hands the heartbeats to
the watchdog (``gateway.alarms.watchdog``): a service silent, stalled or offline is one
system alarm, and holds the comm_loss of the devices it serves. Once a minute it
re-reads the ledger's asset statuses, so an asset taken out of service there has its alarms
suppressed by design. Commands act for the person whose token they carry, resolved against
the users of the same database as the journal (``maintenance.identity``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from facility.config import Settings
from facility.errors import FacilityError
from facility.heartbeat import (
    Heartbeat,
    HeartbeatError,
    ServiceKind,
    birth_and_will,
    make_heartbeat,
    parse_topic,
    publish_heartbeats,
)
from facility.heartbeat import decode as decode_heartbeat
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import PayloadError, decode
from facility.topics import (
    ALARM_COMMAND_PREFIX,
    STATUS_PREFIX,
    STATUS_WILDCARD,
    alarm_command_topic,
    site_readings,
)
from facility.types import Asset, AssetStatus
from gateway.alarms.alarmfile import load_alarm_file
from gateway.alarms.definitions import AlarmSet, compile_alarms
from gateway.alarms.notify import Notifier, SmtpSettings
from gateway.alarms.runtime import AlarmEngine
from gateway.alarms.store import AlarmStore
from gateway.alarms.trends import InfluxEventSink
from gateway.alarms.watchdog import SYSTEM_SITE, WatchdogSettings
from maintenance.assets import asset_statuses, load_assets
from maintenance.identity.store import UserStore

log = logging.getLogger(__name__)

LEDGER_REFRESH_S = 60.0


async def _follow_link(link: MqttLink, engine: AlarmEngine) -> None:
    """Tell the engine when it is deaf (its bus link down) and when it hears again."""
    while True:
        await link.connected.wait()
        engine.set_listening(True)
        while link.connected.is_set():  # noqa: ASYNC110 (the link has no "lost" event)
            await asyncio.sleep(0.5)
        engine.set_listening(False)


def build_alarm_set(settings: Settings, assets: Sequence[Asset]) -> AlarmSet:
    """Definitions for ``assets`` from the shipped profiles and ``[alarms] definitions_file``."""
    from device_profiles import load_library

    alarm_file = load_alarm_file(settings.alarms.definitions_file)
    return compile_alarms(assets, load_library(), alarm_file)


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    alarms = settings.alarms
    if not alarms.smtp_url:
        return None
    return SmtpSettings.from_url(alarms.smtp_url, alarms.smtp_from, alarms.smtp_password)


@dataclass
class AlarmService:
    """Everything ``facility alarms run`` runs."""

    alarm_set: AlarmSet
    broker: BrokerSettings
    store: AlarmStore
    service_id: str = "alarms-1"
    timezone: str = "Asia/Shanghai"
    stale_after_s: float = 60.0
    flood_alarms: int = 10
    flood_window_min: float = 10.0
    smtp: SmtpSettings | None = None
    ledger_statuses: Callable[[], dict[str, AssetStatus]] | None = None
    tick_s: float = 0.5
    event_sink: InfluxEventSink | None = None
    heartbeat_s: float = 5.0
    watchdog: WatchdogSettings | None = None
    engine: AlarmEngine | None = None
    users: UserStore | None = None  # default: the users of the journal's database
    decode_errors: Counter[str] = field(default_factory=Counter)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Run until cancelled."""
        loop = asyncio.get_running_loop()
        own_users = self.users is None
        users = self.users
        if users is None:
            users = await asyncio.to_thread(UserStore, self.store.url, migrate=False)
        try:
            await self._run(loop, users, ready)
        finally:
            if own_users:
                with contextlib.suppress(FacilityError):
                    users.close()

    async def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        users: UserStore,
        ready: asyncio.Event | None,
    ) -> None:
        sites = self.alarm_set.sites
        subscriptions = [(site_readings(site), 1) for site in sites]
        subscriptions += [(alarm_command_topic(site), 1) for site in sites]
        # the system alarms' commands (acknowledging a service's alarm): every engine hears
        # them, the one that holds the alarm answers
        subscriptions.append((alarm_command_topic(SYSTEM_SITE), 1))
        subscriptions.append((STATUS_WILDCARD, 1))  # every service's heartbeat
        engine_ref: list[AlarmEngine] = []
        birth, will = birth_and_will(self._heartbeat(engine_ref))
        link = MqttLink(
            self.broker,
            client_id=self.service_id,
            birth=birth,
            will=will,
            subscriptions=subscriptions,
        )
        notifier = None
        if self.alarm_set.notifications.rules:
            notifier = Notifier(
                self.alarm_set.notifications,
                self.alarm_set.specs,
                timezone=self.timezone,
                smtp=self.smtp,
                link=link,
            )
        engine = AlarmEngine(
            self.alarm_set,
            store=self.store,
            link=link,
            notifier=notifier,
            tick_s=self.tick_s,
            stale_after_s=self.stale_after_s,
            flood_threshold=self.flood_alarms,
            flood_window_min=self.flood_window_min,
            timezone=self.timezone,
            watchdog=self.watchdog or WatchdogSettings(default_interval_s=self.heartbeat_s),
            own_service=(ServiceKind.ALARMS, self.service_id),
            users=users,
        )
        self.engine = engine
        engine_ref.append(engine)
        if self.event_sink is not None:
            engine.listeners.append(self.event_sink)
        commands: set[asyncio.Task[None]] = set()

        def run_command(topic: str, payload: bytes) -> None:
            task = loop.create_task(engine.serve_command(payload, topic))
            commands.add(task)
            task.add_done_callback(commands.discard)

        def on_message(topic: str, payload: bytes) -> None:  # paho's network thread
            # Nothing may escape: an exception here would end paho's thread, and the engine
            # would stay up, "online", deaf. Each kind of rejection is counted in
            # decode_errors and logged the first time.
            try:
                if topic.startswith(ALARM_COMMAND_PREFIX + "/"):
                    loop.call_soon_threadsafe(run_command, topic, payload)
                    return
                if topic.startswith(STATUS_PREFIX + "/"):
                    self._on_status(engine, topic, payload)
                    return
                message = decode(topic, payload)
                engine.on_message_threadsafe(message)
            except PayloadError as exc:
                self._rejected(exc.kind, topic, str(exc))
            except Exception as exc:  # a bug, or the loop closing under us at shutdown
                self._rejected(f"error:{type(exc).__name__}", topic, repr(exc), exc)

        link.on_message = on_message
        ready_engine = asyncio.Event()
        tasks = [
            asyncio.create_task(engine.run(ready_engine), name="alarms-engine"),
            asyncio.create_task(link.run(), name="alarms-mqtt"),
        ]
        if self.ledger_statuses is not None:
            tasks.append(asyncio.create_task(self._ledger_loop(engine), name="alarms-ledger"))
        if self.event_sink is not None:
            tasks.append(asyncio.create_task(self.event_sink.run(), name="alarms-trends"))
        tasks.append(asyncio.create_task(_follow_link(link, engine), name="alarms-listening"))
        tasks.append(
            asyncio.create_task(
                publish_heartbeats(
                    link, lambda: self._heartbeat(engine_ref), interval_s=self.heartbeat_s
                ),
                name="alarms-heartbeat",
            )
        )
        try:
            await ready_engine.wait()
            await link.connected.wait()
            log.info(
                "alarms: engine id=%s sites=%s broker=%s:%s",
                self.service_id,
                ",".join(sites),
                self.broker.host,
                self.broker.port,
            )
            if ready is not None:
                ready.set()
            await asyncio.gather(*tasks)
        finally:
            for task in [*tasks, *commands]:
                task.cancel()
            await asyncio.gather(*tasks, *commands, return_exceptions=True)

    def _rejected(
        self, kind: str, topic: str, reason: str, error: BaseException | None = None
    ) -> None:
        """Count a message that could not be handled; log the first of each kind."""
        self.decode_errors[kind] += 1
        if self.decode_errors[kind] == 1:
            log.warning(
                "alarms: message rejected on %s (%s, counted in decode_errors, logged once "
                "per kind): %s",
                topic[:200],
                kind,
                reason[:300],
                exc_info=error,
            )

    def _heartbeat(self, engine_ref: list[AlarmEngine]) -> Heartbeat:
        if engine_ref:
            return engine_ref[0].heartbeat(self.service_id, self.heartbeat_s)
        return make_heartbeat(ServiceKind.ALARMS, self.service_id, interval_s=self.heartbeat_s)

    def _on_status(self, engine: AlarmEngine, topic: str, payload: bytes) -> None:
        """A service's status (paho's network thread): a heartbeat for the watchdog, or an
        empty retained message (the service was removed: forget it)."""
        if not payload:
            parsed = parse_topic(topic)
            if parsed is not None and parsed[0] in ServiceKind.__members__.values():
                engine.on_heartbeat_threadsafe((ServiceKind(parsed[0]), parsed[1]))
            return
        try:
            heartbeat = decode_heartbeat(topic, payload)
        except HeartbeatError as exc:
            self._rejected("heartbeat", topic, str(exc))
            return
        engine.on_heartbeat_threadsafe(heartbeat)

    async def _ledger_loop(self, engine: AlarmEngine) -> None:
        assert self.ledger_statuses is not None
        while True:
            try:
                statuses = await asyncio.to_thread(self.ledger_statuses)
            except FacilityError as exc:
                log.warning("alarms: cannot read asset statuses from the ledger: %s", exc)
            else:
                for asset_no, status in statuses.items():
                    engine.set_asset_status(asset_no, status)
            await asyncio.sleep(LEDGER_REFRESH_S)


def ledger_assets(
    settings: Settings, ledgers: Sequence[Path] = (), sites: Sequence[str] = ()
) -> tuple[list[Asset], Callable[[], dict[str, AssetStatus]] | None]:
    """Monitored assets from ledger files or (without them) the database, and for the
    database a reader of their current statuses (``maintenance.assets``)."""
    assets = load_assets(settings, ledgers, from_db=not ledgers, sites=sites)
    if ledgers:
        return assets, None
    return assets, functools.partial(asset_statuses, settings.database_url)


async def run_standalone(
    settings: Settings,
    *,
    ledgers: Sequence[Path] = (),
    sites: Sequence[str] = (),
    service_id: str = "alarms-1",
    trends: bool = True,
    ready: asyncio.Event | None = None,
) -> None:
    """``facility alarms run``: build everything from the configuration and run."""
    assets, reader = await asyncio.to_thread(ledger_assets, settings, ledgers, sites)
    alarm_set = await asyncio.to_thread(build_alarm_set, settings, assets)
    broker = BrokerSettings.from_url(
        settings.mqtt.url, password=settings.mqtt.password, ca_file=settings.mqtt.ca_file
    )
    store = await asyncio.to_thread(AlarmStore, settings.database_url)
    sink = None
    if trends:
        from gateway.influx import InfluxClient

        influx = settings.influxdb
        client = InfluxClient(
            influx.url,
            influx.database,
            username=influx.username,
            password=influx.password,
            token=influx.token,
            timeout=influx.timeout_s,
        )
        sink = InfluxEventSink(client)
    service = AlarmService(
        alarm_set,
        broker,
        store,
        service_id=service_id,
        timezone=settings.site.timezone,
        stale_after_s=settings.alarms.stale_after_s,
        flood_alarms=settings.alarms.flood_alarms,
        flood_window_min=settings.alarms.flood_window_min,
        smtp=smtp_settings(settings),
        ledger_statuses=reader,
        event_sink=sink,
        heartbeat_s=settings.alarms.heartbeat_s,
        watchdog=WatchdogSettings(
            silent_after_intervals=settings.alarms.silent_after_intervals,
            stall_after_s=settings.alarms.stall_after_s,
            default_interval_s=settings.alarms.heartbeat_s,
        ),
    )
    try:
        await service.run(ready)
    finally:
        with contextlib.suppress(FacilityError):
            store.close()
        if sink is not None:
            sink.client.close()
