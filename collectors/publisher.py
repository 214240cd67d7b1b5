"""Publish device messages to MQTT through a durable spool: nothing lost while the broker is down.

Every message is written to the spool first; one sender task publishes from the spool in
order and deletes a record only when the broker has acknowledged it (PUBACK). When the broker
is away the spool fills (bounded: oldest dropped and counted), and when it returns the
backlog is replayed in order before newer messages. A crash between publish and
acknowledge re-sends — consumers are idempotent (the historian overwrites by timestamp).
"""

from __future__ import annotations

import asyncio
import logging

from facility.errors import CommError
from facility.mqtt import MqttLink
from facility.payload import DeviceMessage, device_topic, encode
from facility.spool import Spool, SpoolStats

log = logging.getLogger(__name__)


class SpooledPublisher:
    """Spool-first publisher of device messages (retained, QoS 1)."""

    def __init__(self, link: MqttLink, spool: Spool, *, batch: int = 500) -> None:
        self.link = link
        self.spool = spool
        self.batch = batch
        self.sent = 0
        self._wake = asyncio.Event()

    def submit(self, message: DeviceMessage) -> None:
        """Queue a message durably (returns at once)."""
        self.spool.put(device_topic(message.site, message.asset_no), encode(message))
        self._wake.set()

    def stats(self) -> SpoolStats:
        return self.spool.stats()

    async def run(self) -> None:
        """Send spooled records in order until cancelled."""
        while True:
            await self.link.connected.wait()
            records = await asyncio.to_thread(self.spool.peek, self.batch)
            if not records:
                self._wake.clear()
                await self._wake.wait()
                continue
            futures = [self.link.publish(r.key, r.body, qos=1, retain=True) for r in records]
            results = await asyncio.gather(*futures, return_exceptions=True)
            acked = []
            for record, result in zip(records, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, CommError):
                        raise result
                    break  # keep order: everything from here is re-sent after reconnect
                acked.append(record.id)
            await asyncio.to_thread(self.spool.ack, acked)
            self.sent += len(acked)
            if len(acked) < len(records):
                # the link dropped mid-batch; wait for it to notice before retrying
                await asyncio.sleep(0.2)
