"""Heartbeats on a real mosquitto: a thread-based service's heartbeat (the PM scheduler's
kind) is retained, advances, and says offline when the service stops."""

from __future__ import annotations

import asyncio

from devtools.services import MosquittoServer
from facility.heartbeat import (
    Heartbeat,
    HeartbeatThread,
    ServiceKind,
    ServiceState,
    decode,
    make_heartbeat,
    status_topic,
)
from facility.mqtt import BrokerSettings, MqttLink
from tests.support import wait_until


async def test_heartbeat_thread_publishes_progress_then_offline(
    fresh_mosquitto: MosquittoServer,
) -> None:
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    passes = [0]

    def current() -> Heartbeat:
        passes[0] += 1
        return make_heartbeat(
            ServiceKind.SCHEDULER, "pm-test", interval_s=0.2, counters={"passes": passes[0]}
        )

    seen: list[Heartbeat] = []
    topic = status_topic(ServiceKind.SCHEDULER, "pm-test")
    watcher = MqttLink(
        broker,
        "heartbeat-watcher",
        subscriptions=[(topic, 1)],
        on_message=lambda t, p: seen.append(decode(t, p)),
    )
    task = asyncio.create_task(watcher.run())
    beat = HeartbeatThread(broker, current, interval_s=0.2).start()
    try:
        await wait_until(lambda: len({h.counters["passes"] for h in seen}) >= 3, 15)
        assert all(h.state is ServiceState.ONLINE for h in seen)
        await asyncio.to_thread(beat.stop)
        await wait_until(lambda: seen[-1].state is ServiceState.OFFLINE, 10)
    finally:
        await asyncio.to_thread(beat.stop)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
