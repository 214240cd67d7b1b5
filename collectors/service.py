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

from prometheus_client import start_http_server

from collectors.base import Collector
from collectors.fleet import Fleet, definitions
from collectors.metrics import CollectorMetrics, registry_for
from collectors.poller import DevicePoller
from collectors.publisher import SpooledPublisher
from collectors.registry import CollectorOptions
from device_profiles.models import DeviceProfile
from facility.errors import FacilityError
from facility.mqtt import BrokerSettings, Message, MqttLink
from facility.payload import TOPIC_PREFIX
from facility.spool import Spool
from facility.types import Asset

log = logging.getLogger(__name__)


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
    reload_failures: int = field(default=0, init=False)  # reloads refused (bad ledger/profile)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Run until cancelled."""
        rng = random.Random(self.seed)
        spool = Spool(
            self.spool_path, max_bytes=self.spool_max_bytes, max_age_s=self.spool_max_age_s
        )
        topic = status_topic(self.collector_id)
        link = MqttLink(
            self.broker,
            client_id=self.collector_id,
            birth=Message(topic, json.dumps({"state": "online"}).encode(), retain=True),
            will=Message(topic, json.dumps({"state": "offline"}).encode(), retain=True),
        )
        publisher = SpooledPublisher(link, spool)
        self.publisher = publisher
        self.link = link
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(spool.close)
            if self.metrics_port is not None:
                metrics = CollectorMetrics(lambda: self.pollers, spool.stats)
                server, thread = start_http_server(
                    self.metrics_port, self.metrics_host, registry=registry_for(metrics)
                )
                self.metrics_url = f"http://{self.metrics_host}:{server.server_port}/metrics"
                stack.callback(thread.join, 5)
                stack.callback(server.server_close)
                stack.callback(server.shutdown)
            async with asyncio.TaskGroup() as group:
                fleet = Fleet(publisher.submit, self.options or CollectorOptions(), rng, group)
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

    @property
    def pollers(self) -> list[DevicePoller]:
        return self.fleet.pollers if self.fleet is not None else []

    @property
    def collectors(self) -> list[Collector]:
        return list(self.fleet.collectors.values()) if self.fleet is not None else []
