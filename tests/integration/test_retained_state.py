"""The retained message holds the device's full last-known state (decision 008), and `seq`
continues across a collector restart — a real collector polling a simulated pump (fast 1 s,
normal 5 s, slow 60 s) through a real mosquitto.

Before: each poll class published only its own points, retained on the same topic, so a
consumer starting cold (the dashboard, a Telegraf) got the last fast poll's points and waited
up to 60 s for run hours, start count and firmware.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.endpoints import apply_endpoint_table
from collectors.service import CollectorService
from device_profiles import load_library
from device_profiles.models import PollClass
from devtools.services import MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage, decode, device_topic
from facility.types import Asset, Quality
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from simulators.estate import Estate
from tests.support import wait_until

PROFILES = load_library()
PUMP = "HT-PMP-001"
EVENING = datetime(2026, 6, 1, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def pump() -> Asset:
    ht = next(p for p in demo_ledger_paths() if p.stem == "HT")
    return next(a for a in read_ledger_file(ht) if a.asset_no == PUMP)


@pytest.fixture
async def estate() -> AsyncIterator[Estate]:
    async with Estate([pump()], PROFILES, seed=3, port_mode="ephemeral", start=EVENING) as sim:
        yield sim


async def cold_read(broker: BrokerSettings, topic: str) -> DeviceMessage:
    """What a consumer starting now gets first: the retained message, alone."""
    got: list[DeviceMessage] = []
    link = MqttLink(
        broker,
        f"cold-{uuid.uuid4().hex[:6]}",
        subscriptions=[(topic, 1)],
        on_message=lambda t, payload: got.append(decode(t, payload)),
    )
    task = asyncio.create_task(link.run())
    try:
        await wait_until(lambda: bool(got), 10)
        return got[0]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_cold_consumer_gets_every_point_and_a_restart_continues_seq(
    estate: Estate, mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    broker = BrokerSettings.from_url(mosquitto.url)
    profile = PROFILES[pump().profile or ""]
    every = {p.name for p in profile.points}
    slow = {p.name for p in profile.points if p.poll is PollClass.SLOW}
    assert slow
    assert slow != every
    table = {no: info.to_json() for no, info in estate.endpoints.items()}
    assets = apply_endpoint_table([pump()], table)
    topic = device_topic("HT", PUMP)

    # the session's broker may hold another test's retained message for this pump
    start = datetime.now(UTC)
    seen: list[DeviceMessage] = []

    def on_message(t: str, payload: bytes) -> None:
        message = decode(t, payload)
        if message.collected_ts >= start:
            seen.append(message)

    watcher = MqttLink(
        broker, f"watch-{uuid.uuid4().hex[:6]}", subscriptions=[(topic, 1)], on_message=on_message
    )
    watch = asyncio.create_task(watcher.run())
    await wait_until(watcher.connected.is_set, 10)

    def collector() -> CollectorService:
        return CollectorService(
            assets,
            PROFILES,
            broker,
            tmp_path / "c.spool",
            collector_id="retained-test",
            seed=1,
            metrics_port=0,
        )

    service = collector()
    task = asyncio.create_task(service.run())
    try:
        # a few fast polls after the first (which read every class)
        await wait_until(lambda: len(seen) >= 4, 30)
        latest = seen[-1]
        assert not slow & {r.point for r in latest.readings}, "the last poll was a fast one"

        cold = await cold_read(broker, topic)
        assert cold.seq == latest.seq
        assert {r.point for r in (*cold.readings, *cold.carried)} == every
        carried = {r.point: r for r in cold.carried}
        assert slow <= set(carried)
        assert all(carried[p].quality is Quality.GOOD for p in slow)
        assert all(carried[p].collected_ts < cold.collected_ts for p in slow)
        # the slow points carried are the values their own poll published, at its time
        first = next(m for m in seen if slow <= {r.point for r in m.readings})
        for point in slow:
            original = next(r for r in first.readings if r.point == point)
            assert carried[point].value == original.value
            assert carried[point].collected_ts == first.collected_ts

        # a restarted collector continues the sequence, and its retained state is full again
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        before = max(m.seq for m in seen)
        count = len(seen)
        service = collector()
        task = asyncio.create_task(service.run())
        await wait_until(lambda: len({m.seq for m in seen if m.seq > before}) >= 3, 30)
        earlier = {(m.seq, m.collected_ts) for m in seen[:count]}
        again = [m for m in seen[count:] if m.seq <= before]
        # a poll the old process had not seen acknowledged is sent again from its journal,
        # as it was (decision 006) — never a new poll under an old number
        assert all((m.seq, m.collected_ts) in earlier for m in again)
        new = sorted(m.seq for m in seen[count:] if m.seq > before)
        assert new[:3] == [before + 1, before + 2, before + 3]  # continued, none skipped
        cold = await cold_read(broker, topic)
        assert {r.point for r in (*cold.readings, *cold.carried)} == every
    finally:
        task.cancel()
        watch.cancel()
        await asyncio.gather(task, watch, return_exceptions=True)
