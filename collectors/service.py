"""The collector process: every device of the chosen sites polled and published to MQTT.

Wires the parts: ledger assets + profiles → collectors (registry) → one DevicePoller per
device → SpooledPublisher → MqttLink. Status of the process itself is its heartbeat
(``facility.heartbeat``) on ``facility/v1/status/collector/<id>``, retained, every
``heartbeat_s``: polls and publishes so far, spool depth, and the devices it serves — so
the alarm engine's watchdog sees a collector that is alive but stuck (will: ``offline``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from collectors.base import Collector
from collectors.fleet import Fleet, definitions
from collectors.metrics import CollectorMetrics, registry_for
from collectors.poller import DevicePoller
from collectors.publisher import SpooledPublisher
from collectors.registry import CollectorOptions
from collectors.sentlog import SentLog
from device_profiles.models import DeviceProfile
from facility.errors import FacilityError
from facility.heartbeat import (
    Heartbeat,
    ServiceKind,
    ServiceState,
    birth_and_will,
    make_heartbeat,
    publish_heartbeats,
)
from facility.metrics_http import MetricsServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage
from facility.spool import Spool
from facility.topics import resend_request_topic
from facility.types import Asset

log = logging.getLogger(__name__)


def _handover(loop: asyncio.AbstractEventLoop, publisher: SpooledPublisher, payload: bytes) -> None:
    """paho's thread → the event loop (resend requests are served there)."""
    loop.call_soon_threadsafe(publisher.on_resend_request, payload)


@dataclass
class CollectorService:
    """Everything one collector process runs."""

    assets: Sequence[Asset]
    profiles: dict[str, DeviceProfile]
    broker: BrokerSettings
    spool_path: Path
    collector_id: str = "collector-1"
    spool_max_bytes: int = 256 * 2**20
    spool_max_age_s: float = 72 * 3600
    # what was sent is kept this long for the historian's resend requests (gap filling)
    resend_window_s: float = 1800.0
    resend_max_bytes: int = 128 * 2**20
    seed: int | None = None
    options: CollectorOptions | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None  # None: no /metrics endpoint; 0: any free port
    metrics_token: str | None = field(default=None, repr=False)  # /metrics: Bearer token
    metrics_url: str | None = None
    # re-read (assets, profiles) every reload_every_s: hot reload of ledger and profiles
    reload: Callable[[], tuple[list[Asset], dict[str, DeviceProfile]]] | None = None
    reload_every_s: float = 10.0
    heartbeat_s: float = 5.0
    fleet: Fleet | None = field(default=None, init=False)
    reloads: int = field(default=0, init=False)  # reloads that changed something
    reload_failures: int = field(default=0, init=False)  # reloads refused (bad ledger/profile)
    # progress, for the heartbeat: they must move while the collector works
    polls_total: int = field(default=0, init=False)
    last_poll_ts: datetime | None = field(default=None, init=False)
    last_publish_ts: datetime | None = field(default=None, init=False)
    _published_seen: int = field(default=0, init=False)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Run until cancelled."""
        rng = random.Random(self.seed)
        spool = Spool(
            self.spool_path, max_bytes=self.spool_max_bytes, max_age_s=self.spool_max_age_s
        )
        sent_log = SentLog(
            self.spool_path.with_name(self.spool_path.name + ".sent"),
            window_s=self.resend_window_s,
            max_bytes=self.resend_max_bytes,
        )
        birth, will = birth_and_will(
            make_heartbeat(ServiceKind.COLLECTOR, self.collector_id, interval_s=self.heartbeat_s)
        )
        sites = sorted({a.site for a in self.assets})
        loop = asyncio.get_running_loop()
        link = MqttLink(
            self.broker,
            client_id=self.collector_id,
            birth=birth,
            will=will,
            subscriptions=[(resend_request_topic(site), 1) for site in sites],
            on_message=lambda _topic, payload: _handover(loop, publisher, payload),
            # a message per poll: paho's I/O on this loop, not on a thread woken per message
            network_thread=False,
        )
        publisher = SpooledPublisher(link, spool, sent_log=sent_log)
        self.publisher = publisher
        self.link = link
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(spool.close)
            stack.callback(sent_log.close)
            if self.metrics_port is not None:
                # served from this loop: no thread per scrape connection (facility.metrics_http)
                metrics = CollectorMetrics(lambda: self.pollers, spool.stats)
                server = MetricsServer(
                    registry_for(metrics),
                    host=self.metrics_host,
                    port=self.metrics_port,
                    section="collector",
                    token=self.metrics_token,
                )
                await stack.enter_async_context(server)
                self.metrics_url = server.url
            async with asyncio.TaskGroup() as group:
                submit = publisher.submit

                def counted(message: DeviceMessage) -> None:
                    submit(message)
                    self.polls_total += 1
                    self.last_poll_ts = message.collected_ts

                fleet = Fleet(
                    counted,
                    self.options or CollectorOptions(),
                    rng,
                    group,
                    sequence=publisher.next_seq,
                )
                self.fleet = fleet
                try:
                    group.create_task(link.run())
                    group.create_task(publisher.run())
                    await fleet.apply(definitions(list(self.assets), self.profiles))
                    log.info(
                        "collector id=%s devices=%d endpoints=%d broker=%s:%s",
                        self.collector_id,
                        len(fleet.running),
                        len(fleet.collectors),
                        self.broker.host,
                        self.broker.port,
                    )
                    group.create_task(
                        publish_heartbeats(link, self.heartbeat, interval_s=self.heartbeat_s)
                    )
                    if ready is not None:
                        ready.set()
                    if self.reload is not None:
                        group.create_task(self._watch(fleet))
                    await asyncio.Event().wait()  # until cancelled
                finally:
                    await asyncio.shield(fleet.close())

    async def _watch(self, fleet: Fleet) -> None:
        """Reload the ledger and profiles periodically; restart only what changed.

        A broken edit (a profile that does not validate, a ledger row in error) must not stop
        collection: the running definitions stay, the error is logged once (again only when
        it changes) and once more when a reload succeeds again."""
        assert self.reload is not None
        failing: str | None = None
        while True:
            await asyncio.sleep(self.reload_every_s)
            try:
                assets, profiles = await asyncio.to_thread(self.reload)
            except Exception as exc:  # a bug in reloading must not stop the polling either
                self.reload_failures += 1
                error = str(exc) if isinstance(exc, FacilityError) else repr(exc)
                if error != failing:
                    log.error(
                        "reload failed, keeping the running definitions: %s",
                        error,
                        exc_info=None if isinstance(exc, FacilityError) else exc,
                    )
                    failing = error
                continue
            if failing is not None:
                log.info("reload succeeded again (%d failed reloads so far)", self.reload_failures)
                failing = None
            self.assets, self.profiles = assets, profiles
            plan = await fleet.apply(definitions(assets, profiles))
            if not plan.empty:
                self.reloads += 1

    def heartbeat(self) -> Heartbeat:
        """Alive, and how far the work has got (read by the alarm engine's watchdog)."""
        publisher = getattr(self, "publisher", None)
        published = publisher.sent if publisher is not None else 0
        now = datetime.now(UTC)
        if published != self._published_seen:
            self._published_seen = published
            self.last_publish_ts = now
        state, detail, depth, full = ServiceState.ONLINE, "", 0, None
        if publisher is not None:
            stats = publisher.stats()
            depth = stats.depth + publisher.queued  # polls in memory are not yet on disk
            full = stats.bytes >= 0.95 * self.spool_max_bytes
            if full:
                state, detail = ServiceState.DEGRADED, "spool full: oldest messages dropped"
            if publisher.spool_error is not None:
                full = True
                state = ServiceState.DEGRADED
                detail = f"spool refuses writes, polls wait in memory: {publisher.spool_error}"
        running = self.fleet.running if self.fleet is not None else {}
        return make_heartbeat(
            ServiceKind.COLLECTOR,
            self.collector_id,
            state=state,
            ts=now,
            interval_s=self.heartbeat_s,
            counters={
                "polls_total": self.polls_total,
                "published_total": published,
                "spool_depth": depth,
                "devices": len(running),
            },
            times={"last_poll_ts": self.last_poll_ts, "last_publish_ts": self.last_publish_ts},
            sites=tuple(sorted({r.definition[0].site for r in running.values()})),
            asset_nos=tuple(sorted(running)),
            spool_full=full,
            detail=detail,
        )

    @property
    def pollers(self) -> list[DevicePoller]:
        return self.fleet.pollers if self.fleet is not None else []

    @property
    def collectors(self) -> list[Collector]:
        return list(self.fleet.collectors.values()) if self.fleet is not None else []
