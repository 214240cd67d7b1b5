"""The system watches itself (issue 9), on real parts: simulated devices on Modbus TCP, the
real collector service publishing to a real mosquitto, the standalone alarm engine.

The collector's publisher is frozen the way it froze after 23 minutes of ``make demo`` (PUBACKs
that never settle: the process alive and connected, polling, its spool growing, nothing
published). With the shipped watchdog settings (heartbeat 5 s, stall window 30 s) the alarm
engine raises ONE system alarm for the collector within 40 s, and none of its devices'
comm_loss alarms — even after their data is older than ``stale_after_s`` and comm_loss has
no on-delay. Publishing resumes: the system alarm returns to normal, and the devices'
comm_loss stays quiet while their data comes back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors.endpoints import apply_endpoint_table
from collectors.service import CollectorService
from device_profiles import load_library
from devtools.services import MosquittoServer
from facility.errors import CommError
from facility.heartbeat import Heartbeat, ServiceKind, make_heartbeat, publish_heartbeats
from facility.mqtt import BrokerSettings, MqttLink
from facility.types import Asset
from gateway.alarms.alarmfile import parse_alarm_file
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.service import AlarmService
from gateway.alarms.store import AlarmStore
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from simulators.estate import Estate
from tests.support import wait_until

PROFILES = load_library()
JUNE = datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
NOS = ["HT-PMP-001", "HT-PMP-002", "HT-PDP-001", "HT-LGT-001"]
SYSTEM_ALARM = "SYS-COL-watched-collector/service"
STALE_AFTER_S = 45.0  # > heartbeat 5 s + stall window 30 s (the shipped defaults)


def assets() -> list[Asset]:
    ht = next(p for p in demo_ledger_paths() if p.stem == "HT")
    by_no = {a.asset_no: a for a in read_ledger_file(ht)}
    return [by_no[n] for n in NOS]


@pytest.fixture
async def estate() -> AsyncIterator[Estate]:
    async with Estate(assets(), PROFILES, seed=9, speed=1, start=JUNE, port_mode="ephemeral") as e:
        yield e


class Bus:
    """Retained alarm states and alarm events, as the dashboard sees them."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []

    def on_message(self, topic: str, payload: bytes) -> None:
        if topic.startswith("facility/v1/alarms/") and payload:
            state = json.loads(payload)
            self.states[state["alarm_id"]] = state
        elif topic.startswith("facility/v1/events/alarms/"):
            self.events.append(json.loads(payload))

    def state(self, alarm_id: str) -> str | None:
        found = self.states.get(alarm_id)
        return str(found["state"]) if found else None

    def raised(self, alarm: str) -> list[str]:
        return [e["alarm_id"] for e in self.events if e["event"] == "raise" and e["alarm"] == alarm]


class FrozenPublishes:
    """A fault injector in front of the collector's link: publishes are sent to nobody and
    their acknowledgements never come (the lost-PUBACK freeze); ``thaw`` fails them as a
    dropped connection would, so the publisher re-sends from its spool."""

    def __init__(self, link: MqttLink) -> None:
        self.link = link
        self.connected = link.connected
        self.stats = link.stats  # the same connection: its generation does not change
        self.waiting: list[asyncio.Future[None]] = []

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        return future

    def thaw(self) -> None:
        for future in self.waiting:
            if not future.done():
                future.set_exception(CommError("connection reset (test thaw)"))


async def test_frozen_collector_is_one_system_alarm_and_no_comm_loss(
    estate: Estate,
    fresh_mosquitto: MosquittoServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.alarms.core")
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    # comm_loss with no on-delay: were it not held, it would be raised the moment the
    # devices' data is stale_after_s old
    alarm_file = parse_alarm_file(
        "overrides:\n  - alarm: comm_loss\n    on_delay_s: 0\n", "alarms.yaml"
    )
    wired = apply_endpoint_table(
        assets(), {no: info.to_json() for no, info in estate.endpoints.items()}
    )
    alarms = AlarmService(
        compile_alarms(wired, PROFILES, alarm_file),
        broker,
        AlarmStore(url),
        service_id="watch-alarms",
        stale_after_s=STALE_AFTER_S,
        tick_s=0.2,
    )
    collector = CollectorService(
        wired, PROFILES, broker, tmp_path / "collector.spool", collector_id="watched-collector"
    )
    bus = Bus()
    watcher = MqttLink(
        broker,
        "test-watchdog-watcher",
        subscriptions=[("facility/v1/alarms/#", 1), ("facility/v1/events/alarms/#", 1)],
        on_message=bus.on_message,
    )
    ready = asyncio.Event()
    tasks = [
        asyncio.create_task(watcher.run()),
        asyncio.create_task(alarms.run(ready)),
        asyncio.create_task(collector.run()),
    ]
    try:
        await wait_until(ready.is_set, 20)
        engine = alarms.engine
        assert engine is not None
        await wait_until(lambda: engine.core.stats.messages >= 2 * len(NOS), 30)

        # 1. the publisher freezes; the process stays up, connected, polling
        link = collector.link
        frozen = FrozenPublishes(link)
        collector.publisher.link = frozen  # type: ignore[assignment]
        frozen_at = time.monotonic()
        await wait_until(lambda: bus.state(SYSTEM_ALARM) == "unack", 50)
        print(f"system alarm raised {time.monotonic() - frozen_at:.1f} s after the freeze")
        spec = bus.states[SYSTEM_ALARM]
        assert (spec["site"], spec["priority"]) == ("SYS", "high")

        # 2. the devices' data grows older than stale_after_s: still no comm_loss
        messages = engine.core.stats.messages
        await asyncio.sleep(STALE_AFTER_S - (time.monotonic() - frozen_at) + 5)
        assert engine.core.stats.messages <= messages + len(NOS)  # nothing got through
        assert bus.raised("comm_loss") == []
        assert bus.raised("service") == [SYSTEM_ALARM]
        assert engine.core.stats.held_assets == len(NOS)
        # said once for the collector, not once per device (session 6: 163 lines a time)
        held = [r.getMessage() for r in caplog.records if "held by" in r.getMessage()]
        assert len(held) == 1, held
        assert held[0].startswith(f"comm_loss of {len(NOS)} device(s) held by SYS-COL-"), held
        assert all(no in held[0] for no in NOS), held

        # 3. publishing resumes: the system alarm returns to normal, comm_loss stays quiet
        frozen.thaw()
        collector.publisher.link = link
        await wait_until(lambda: bus.state(SYSTEM_ALARM) == "rtn_unack", 40)
        await wait_until(lambda: engine.core.stats.held_assets == 0, 10)
        await asyncio.sleep(3)
        assert bus.raised("comm_loss") == []
        assert bus.raised("service") == [SYSTEM_ALARM]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        alarms.store.close()

    with AlarmStore(url) as store:
        journal = store.journal(alarm_id=SYSTEM_ALARM)
    assert [r.kind.value for r in journal] == ["raise", "clear"]
    assert journal[0].detail["health"] == "stalled"
    assert "published_total unchanged" in journal[0].detail["reason"]
    assert journal[0].detail["devices"] == len(NOS)


async def test_a_frozen_broker_raises_no_service_alarm(
    fresh_mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    """Session 6, an hour of the demo with faults: mosquitto frozen (SIGSTOP) for 40 s raised
    the system alarms of the collector, the gateway, the scheduler and the dashboard — every
    service but the broker, the one at fault. The engine's own link stays "connected" until
    its ack timeout, while the services fall silent after three heartbeats. Not hearing its
    own heartbeat back, the engine now knows the silence is its own."""
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    pid = fresh_mosquitto.pid
    assert pid is not None
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    alarms = AlarmService(
        compile_alarms(assets(), PROFILES, parse_alarm_file("", "alarms.yaml")),
        broker,
        AlarmStore(url),
        service_id="frozen-alarms",
        stale_after_s=STALE_AFTER_S,
        tick_s=0.2,
        heartbeat_s=1.0,
    )
    bus = Bus()
    watcher = MqttLink(
        broker,
        "test-frozen-watcher",
        subscriptions=[("facility/v1/events/alarms/#", 1)],
        on_message=bus.on_message,
    )
    service = MqttLink(broker, "test-frozen-service")
    polls = [0]

    def collector() -> Heartbeat:
        polls[0] += 1
        return make_heartbeat(
            ServiceKind.COLLECTOR, "frozen-collector", interval_s=1.0, sites=("HT",),
            counters={"devices": 0, "polls_total": polls[0]},
        )  # fmt: skip

    ready = asyncio.Event()
    tasks = [
        asyncio.create_task(watcher.run()),
        asyncio.create_task(service.run()),
        asyncio.create_task(alarms.run(ready)),
    ]
    try:
        await wait_until(ready.is_set, 20)
        await wait_until(service.connected.is_set, 10)
        tasks.append(asyncio.create_task(publish_heartbeats(service, collector, interval_s=1.0)))
        engine = alarms.engine
        assert engine is not None
        await wait_until(lambda: engine.core.watchdog.verdicts(engine.clock()) != [], 10)
        await asyncio.sleep(3)
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(8)  # > 3 heartbeats of silence, < the link's ack timeout
            assert engine.core.deaf_since is not None
        finally:
            os.kill(pid, signal.SIGCONT)
        await wait_until(lambda: engine.core.deaf_since is None, 20)
        await asyncio.sleep(3)  # what the engine raised while frozen is published by now
        assert bus.raised("service") == []
    finally:
        os.kill(pid, signal.SIGCONT)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
