"""The collector's publish path against a real mosquitto: in order, and nothing lost when the
broker is stopped and restarted (messages wait in the on-disk spool)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.publisher import SpooledPublisher
from devtools.services import MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage, decode
from facility.spool import Spool
from facility.types import Quality, Reading
from tests.support import wait_until


def message(seq: int) -> DeviceMessage:
    now = datetime.now(UTC)
    reading = Reading("HT", "HT-PMP-001", "current", float(seq), "A", Quality.GOOD, None, now)
    return DeviceMessage("HT", "HT-PMP-001", "PMP", seq, now, (reading,), {"comm_ok": True})


@pytest.mark.parametrize("network_thread", [True, False], ids=["thread", "loop"])
async def test_broker_outage_loses_nothing(
    fresh_mosquitto: MosquittoServer, tmp_path: Path, network_thread: bool
) -> None:
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    received: list[int] = []

    def on_message(topic: str, payload: bytes) -> None:
        if topic.startswith("facility/v1/HT/"):
            received.append(decode(topic, payload).seq)

    # a persistent session, as the gateway uses: the broker queues for it while it is away
    subscriber = MqttLink(
        broker,
        "test-sub",
        subscriptions=[("facility/v1/#", 1)],
        on_message=on_message,
        session_expiry_s=600,
        backoff_max_s=1,
    )
    link = MqttLink(broker, "test-collector", backoff_max_s=1, network_thread=network_thread)
    spool = Spool(tmp_path / "spool.db")
    publisher = SpooledPublisher(link, spool)
    tasks = [asyncio.create_task(t) for t in (subscriber.run(), link.run(), publisher.run())]
    try:
        await wait_until(lambda: subscriber.connected.is_set() and link.connected.is_set(), 10)
        seq = 0
        for _ in range(20):  # 1 s before the outage
            seq += 1
            publisher.submit(message(seq))
            await asyncio.sleep(0.05)
        await wait_until(lambda: len(received) == seq, 10)
        await asyncio.to_thread(fresh_mosquitto.stop)
        for _ in range(60):  # 3 s of polls while the broker is down
            seq += 1
            publisher.submit(message(seq))
            await asyncio.sleep(0.05)
        assert spool.stats().depth > 0, "messages must wait in the spool while the broker is down"
        await asyncio.to_thread(fresh_mosquitto.start)
        for _ in range(20):
            seq += 1
            publisher.submit(message(seq))
            await asyncio.sleep(0.05)
        await wait_until(lambda: len(set(received)) == seq, 20)
        assert sorted(set(received)) == list(range(1, seq + 1))
        # replay is in order: the first time each seq arrives, it follows its predecessor
        firsts = list(dict.fromkeys(received))
        assert firsts == list(range(1, seq + 1))
        await wait_until(lambda: spool.stats().depth == 0, 5)
        assert spool.stats().dropped == 0
        assert link.stats.connects >= 2
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        spool.close()


async def test_birth_and_will_tell_whether_the_collector_is_alive(
    mosquitto: MosquittoServer,
) -> None:
    from facility.mqtt import Message

    broker = BrokerSettings.from_url(mosquitto.url)
    states: list[str] = []
    topic = "facility/v1/status/collector/test-bw"
    watcher = MqttLink(
        broker,
        "test-bw-watch",
        subscriptions=[(topic, 1)],
        on_message=lambda t, p: states.append(json.loads(p)["state"]),
    )
    link = MqttLink(
        broker,
        "test-bw",
        birth=Message(topic, b'{"state": "online"}', retain=True),
        will=Message(topic, b'{"state": "offline"}', retain=True),
    )
    watch_task = asyncio.create_task(watcher.run())
    link_task = asyncio.create_task(link.run())
    try:
        await wait_until(lambda: "online" in states, 10)
        link_task.cancel()
        await asyncio.gather(link_task, return_exceptions=True)
        await wait_until(lambda: states[-1] == "offline", 10)
    finally:
        watch_task.cancel()
        await asyncio.gather(watch_task, return_exceptions=True)
