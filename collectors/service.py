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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import start_http_server

from collectors.base import Collector
from collectors.metrics import CollectorMetrics, registry_for
from collectors.poller import DevicePoller
from collectors.publisher import SpooledPublisher
from collectors.registry import CollectorOptions, build_collectors
from device_profiles.models import DeviceProfile
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
    collectors: list[Collector] = field(default_factory=list)
    pollers: list[DevicePoller] = field(default_factory=list)

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
        self.collectors = build_collectors(self.assets, self.profiles, self.options)
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
            for collector in self.collectors:
                await stack.enter_async_context(collector)
            self.pollers = [
                DevicePoller(device, publisher.submit, rng=random.Random(rng.random()))
                for collector in self.collectors
                for device in collector.devices()
            ]
            log.info(
                "collector id=%s devices=%d endpoints=%d broker=%s:%s",
                self.collector_id,
                len(self.pollers),
                len(self.collectors),
                self.broker.host,
                self.broker.port,
            )
            async with asyncio.TaskGroup() as group:
                group.create_task(link.run())
                group.create_task(publisher.run())
                for poller in self.pollers:
                    group.create_task(poller.run())
                if ready is not None:
                    ready.set()
