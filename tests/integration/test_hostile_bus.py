"""Hostile messages on the real bus do not deafen the alarm engine or the dashboard.

200 KB of ``[`` published on a device topic of a real mosquitto: before, ``json.loads``
raised RecursionError (not a ValueError) in paho's network thread, which died while both
processes stayed up and "online". Now the message is refused by the depth limit of
facility/limits.py, counted once, and the next valid message is processed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device_profiles import load_library
from devtools.services import MosquittoServer
from facility.mqtt import BrokerSettings, publish_once
from facility.payload import DeviceMessage, device_topic, encode
from facility.topics import alarm_command_topic
from facility.types import Quality, Reading
from gateway.alarms.client import send_command
from gateway.alarms.core import Command
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.service import AlarmService
from gateway.alarms.state import AlarmCommandError
from gateway.alarms.store import AlarmStore
from tests.integration.test_alarms_engine import POOL, pool_asset, start, stop
from tests.support import sign_in, wait_until

BRACKETS = b"[" * 200_000
DRY = f"{POOL}/dry_run"


def pool_message(seq: int, dry_run: bool) -> bytes:
    now = datetime.now(UTC)
    reading = Reading("HT", POOL, "dry_run_trip", dry_run, "", Quality.GOOD, None, now)
    return encode(DeviceMessage("HT", POOL, "PDP", seq, now, (reading,)))


async def publish(broker: BrokerSettings, topic: str, payload: bytes) -> None:
    await asyncio.to_thread(publish_once, broker, topic, payload, client_id="test-hostile")


async def test_alarm_engine_survives_brackets_on_device_and_command_topics(
    fresh_mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    # its own broker: the alarm states it publishes are retained, other tests must not see them
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    alarm_set = compile_alarms(pool_asset(), load_library(), None)
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    token = sign_in(url, "li.na", ["operator"], ["HT"])
    service = AlarmService(
        alarm_set,
        broker,
        AlarmStore(url),
        service_id="test-hostile-alarms",
        tick_s=0.2,
    )
    task = await start(service)
    try:
        topic = device_topic("HT", POOL)
        await publish(broker, topic, BRACKETS)
        await publish(broker, alarm_command_topic("HT"), BRACKETS)
        await publish(broker, topic, pool_message(1, dry_run=True))
        engine = service.engine
        assert engine is not None
        # the ear is alive: the valid message after the hostile one raises the alarm
        await wait_until(lambda: engine.status(DRY).state.value == "unack", 10)
        assert service.decode_errors == {"too_deep": 1}

        # and commands are still served (the hostile one got no reply: it had no reply_to)
        ack = Command("ack", DRY, "li.na", "checked")
        state = await send_command(broker, ack, token=token, timeout_s=10)
        assert state["state"] == "acked"
        # a shelve of 1e300 s overflowed datetime in the engine's task: no reply at all
        with pytest.raises(AlarmCommandError, match=r"^for_s 1e\+300: expected a positive"):
            await send_command(
                broker,
                Command("shelve", DRY, "li.na", "x", for_s=1e300, reason="test"),
                token=token,
                timeout_s=10,
            )
    finally:
        await stop(task)
        service.store.close()


async def test_dashboard_live_feed_survives_brackets(fresh_mosquitto: MosquittoServer) -> None:
    from dashboards.live import LiveFeed

    # a broker of its own: the session one may hold other tests' retained rejects
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    feed = LiveFeed(broker, client_id="test-hostile-dashboard").start()
    try:
        await wait_until(lambda: feed.connected, 10)
        topic = device_topic("HT", "HT-PDP-099")
        await publish(broker, topic, BRACKETS)
        valid = pool_message(1, dry_run=False).replace(POOL.encode(), b"HT-PDP-099")
        await publish(broker, topic, valid)
        # the ear is alive: the valid message after the hostile one is in the snapshot
        await wait_until(lambda: "HT-PDP-099" in feed.snapshot(), 10)
        assert feed.rejected == 1
        assert feed.rejected_kinds == {"too_deep": 1}
    finally:
        feed.stop()
