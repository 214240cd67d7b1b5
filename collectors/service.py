"""The collector process: every device of the chosen sites polled and published to MQTT.

Wires the parts: ledger assets + profiles → collectors (registry) → one DevicePoller per
device → SpooledPublisher → MqttLink. Status of the process itself (birth ``online`` /
will ``offline``, spool depth and drops) is on ``facility/v1/status/collector/<id>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from facility.metrics_http import MetricsServer
from facility.mqtt import BrokerSettings, Message, MqttLink
from facility.payload import TOPIC_PREFIX
from facility.resend import request_topic
from facility.spool import Spool
from facility.types import Asset

log = logging.getLogger(__name__)


def _handover(loop: asyncio.AbstractEventLoop, publisher: SpooledPublisher, payload: bytes) -> None:
    """paho's thread → the event loop (resend requests are served there)."""
    loop.call_soon_threadsafe(publisher.on_resend_request, payload)


def status_topic(collector_id: str) -> str:
    return f"{TOPIC_PREFIX}/status/collector/{collector_id}"


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
    metrics_url: str | None = None
    # re-read (assets, profiles) every reload_every_s: hot reload of ledger and profiles
    reload: Callable[[], tuple[list[Asset], dict[str, DeviceProfile]]] | None = None
    reload_every_s: float = 10.0
    fleet: Fleet | None = field(default=None, init=False)
    reloads: int = field(default=0, init=False)  # reloads that changed something

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
        topic = status_topic(self.collector_id)
        sites = sorted({a.site for a in self.assets})
        loop = asyncio.get_running_loop()
        link = MqttLink(
            self.broker,
            client_id=self.collector_id,
            birth=Message(topic, json.dumps({"state": "online"}).encode(), retain=True),
            will=Message(topic, json.dumps({"state": "offline"}).encode(), retain=True),
            subscriptions=[(request_topic(site), 1) for site in sites],
            on_message=lambda _topic, payload: _handover(loop, publisher, payload),
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
                )
                await stack.enter_async_context(server)
                self.metrics_url = server.url
            async with asyncio.TaskGroup() as group:
                fleet = Fleet(
                    publisher.submit,
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
                    if ready is not None:
                        ready.set()
                    if self.reload is not None:
                        group.create_task(self._watch(fleet))
                    await asyncio.Event().wait()  # until cancelled
                finally:
                    await asyncio.shield(fleet.close())

    async def _watch(self, fleet: Fleet) -> None:
        """Reload the ledger and profiles periodically; restart only what changed."""
        assert self.reload is not None
        while True:
            await asyncio.sleep(self.reload_every_s)
            try:
                assets, profiles = await asyncio.to_thread(self.reload)
            except FacilityError as exc:
                # a broken edit must not stop collection: keep running what we have
                log.error("reload failed, keeping the running definitions: %s", exc)
                continue
            self.assets, self.profiles = assets, profiles
            plan = await fleet.apply(definitions(assets, profiles))
            if not plan.empty:
                self.reloads += 1

    @property
    def pollers(self) -> list[DevicePoller]:
        return self.fleet.pollers if self.fleet is not None else []

    @property
    def collectors(self) -> list[Collector]:
        return list(self.fleet.collectors.values()) if self.fleet is not None else []
