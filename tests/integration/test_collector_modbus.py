"""The Modbus collector against the simulated estate on real Modbus TCP, and on a real
mosquitto: good data from every Modbus class, failures isolated per device, recovery."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.endpoints import apply_endpoint_table
from collectors.modbus.collector import ModbusCollector, ModbusDevice
from collectors.registry import build_collectors
from collectors.service import CollectorService
from device_profiles import load_library
from device_profiles.models import PollClass
from devtools.services import MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import decode
from facility.types import Asset, Quality
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from simulators.estate import Estate
from tests.support import wait_until

PROFILES = load_library()
EVENING = datetime(2026, 6, 1, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
FLEET_NOS = ["HT-PMP-001", "HT-PMP-002", "HT-PMP-003", "HT-PDP-001", "HT-LGT-001", "HT-LGT-002"]
ALL = frozenset(PollClass)


def demo_assets(numbers: list[str]) -> list[Asset]:
    ht = next(p for p in demo_ledger_paths() if p.stem == "HT")
    by_no = {a.asset_no: a for a in read_ledger_file(ht)}
    return [by_no[n] for n in numbers]


@pytest.fixture
async def estate() -> AsyncIterator[Estate]:
    async with Estate(
        demo_assets(FLEET_NOS), PROFILES, seed=5, speed=60, start=EVENING, port_mode="ephemeral"
    ) as running:
        yield running


def wired(estate: Estate) -> list[Asset]:
    table = {no: info.to_json() for no, info in estate.endpoints.items()}
    return apply_endpoint_table(demo_assets(FLEET_NOS), table)


def devices(estate: Estate) -> tuple[list[ModbusCollector], dict[str, ModbusDevice]]:
    collectors = build_collectors(wired(estate), PROFILES)
    assert all(isinstance(c, ModbusCollector) for c in collectors)
    by_no = {d.asset.asset_no: d for c in collectors for d in c.devices()}  # type: ignore[misc]
    return collectors, by_no  # type: ignore[return-value]


async def test_every_point_of_every_modbus_class_reads_good(estate: Estate) -> None:
    collectors, by_no = devices(estate)
    # the three pumps share one gateway connection, as in the ledger
    assert len(collectors) == 3
    for asset_no, device in by_no.items():
        collected = await device.collect(ALL)
        profile = PROFILES[device.asset.profile or ""]
        assert {r.point for r in collected.readings} == {p.name for p in profile.points}
        bad = [(r.point, r.quality) for r in collected.readings if r.quality is not Quality.GOOD]
        assert bad == [], asset_no
        assert collected.requests < len(profile.points)  # coalesced, never one per point
    for collector in collectors:
        await collector.close()


async def test_counters_increase_while_the_lights_burn(estate: Estate) -> None:
    collectors, by_no = devices(estate)
    lights = by_no["HT-LGT-001"]
    first = {r.point: r.value for r in (await lights.collect(ALL)).readings}
    await asyncio.sleep(1.5)  # 60x: a minute and a half of evening
    second = {r.point: r.value for r in (await lights.collect(ALL)).readings}
    assert first["contactor_on"] is True  # June, 20:00: after sunset
    assert second["burn_hours"] > first["burn_hours"]  # type: ignore[operator]
    assert second["energy"] > first["energy"]  # type: ignore[operator]
    for collector in collectors:
        await collector.close()


async def test_dead_unit_fails_alone_and_recovers(estate: Estate) -> None:
    collectors, by_no = devices(estate)
    dead, alive = by_no["HT-PMP-002"], by_no["HT-PMP-001"]
    await estate.inject("HT-PMP-002", "comm_loss", True)
    lost = await dead.collect(ALL)
    assert lost.failed_all
    assert lost.error_code == "timeout"
    assert {r.quality for r in lost.readings} == {Quality.BAD_COMM}
    assert all(r.value is None for r in lost.readings)  # never a fake 0
    ok = await alive.collect(ALL)  # same gateway connection, still answers
    assert not ok.failed_all
    assert {r.quality for r in ok.readings} == {Quality.GOOD}
    await estate.inject("HT-PMP-002", "comm_loss", False)
    back = await dead.collect(ALL)
    assert {r.quality for r in back.readings} == {Quality.GOOD}
    for collector in collectors:
        await collector.close()


async def test_exception_replies_mark_points_bad_device(estate: Estate) -> None:
    collectors, by_no = devices(estate)
    await estate.inject("HT-PDP-001", "exception", True)
    collected = await by_no["HT-PDP-001"].collect(ALL)
    assert collected.error_code == "exception_4"
    assert {r.quality for r in collected.readings} == {Quality.BAD_DEVICE}
    await estate.inject("HT-PDP-001", "out_of_range", True)
    await estate.inject("HT-PDP-001", "exception", False)
    await estate.step()
    collected = await by_no["HT-PDP-001"].collect(ALL)
    qualities = {r.point: r.quality for r in collected.readings}
    assert Quality.UNCERTAIN_RANGE in qualities.values()  # kept, flagged, never clamped
    for collector in collectors:
        await collector.close()


async def test_service_publishes_and_isolates_a_dead_device(
    estate: Estate, mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    broker = BrokerSettings.from_url(mosquitto.url)
    arrivals: dict[str, list[tuple[float, dict[str, Quality]]]] = defaultdict(list)

    def on_message(topic: str, payload: bytes) -> None:
        if topic.startswith("facility/v1/HT/"):
            message = decode(topic, payload)
            qualities = {r.point: r.quality for r in message.readings}
            arrivals[message.asset_no].append((time.monotonic(), qualities))

    watcher = MqttLink(
        broker, "test-watch-modbus", subscriptions=[("facility/v1/HT/#", 1)], on_message=on_message
    )
    service = CollectorService(
        wired(estate),
        PROFILES,
        broker,
        tmp_path / "c.spool",
        collector_id="test-modbus",
        seed=1,
        metrics_port=0,
    )
    watch_task = asyncio.create_task(watcher.run())
    await wait_until(watcher.connected.is_set, 10)
    task = asyncio.create_task(service.run())
    try:
        await wait_until(lambda: all(len(arrivals[n]) >= 3 for n in FLEET_NOS), 20)
        for asset_no in FLEET_NOS:
            last = arrivals[asset_no][-1][1]
            assert set(last.values()) == {Quality.GOOD}, asset_no
        await estate.inject("HT-PMP-002", "comm_loss", True)
        mark = time.monotonic()
        await asyncio.sleep(8)
        await estate.inject("HT-PMP-002", "comm_loss", False)
        # the dead pump's points went bad_comm, and its health says so
        during = [q for t, q in arrivals["HT-PMP-002"] if t > mark + 2]
        assert during
        assert all(set(q.values()) == {Quality.BAD_COMM} for q in during)
        # its gateway neighbour kept its 1 s fast period within 10 %
        times = [t for t, _ in arrivals["HT-PMP-001"] if t > mark + 1]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(gaps) >= 5
        assert abs(statistics.mean(gaps) - 1.0) < 0.1
        # and it comes back by itself
        recovered = len(arrivals["HT-PMP-002"])
        await wait_until(
            lambda: any(
                set(q.values()) == {Quality.GOOD} for _, q in arrivals["HT-PMP-002"][recovered:]
            ),
            70,
        )
        assert service.metrics_url is not None
        metrics = await asyncio.to_thread(_get, service.metrics_url)
        assert (
            'facility_collector_errors_total{asset_no="HT-PMP-002",code="timeout",site="HT"}'
            in metrics
        )
    finally:
        for t in (task, watch_task):
            t.cancel()
        await asyncio.gather(task, watch_task, return_exceptions=True)


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


async def test_broker_down_30_s_loses_no_reading(
    estate: Estate, fresh_mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    """Every device's messages carry a sequence number: after a 30 s broker outage each
    device's sequence must be complete — the spool held and replayed all of it, in order."""
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    seqs: dict[str, list[int]] = defaultdict(list)

    def on_message(topic: str, payload: bytes) -> None:
        if topic.startswith("facility/v1/HT/"):
            message = decode(topic, payload)
            seqs[message.asset_no].append(message.seq)

    # a persistent session: the broker keeps queueing for it across its own restart
    watcher = MqttLink(
        broker,
        "test-watch-outage",
        subscriptions=[("facility/v1/HT/#", 1)],
        on_message=on_message,
        session_expiry_s=3600,
        backoff_max_s=1,
    )
    service = CollectorService(
        wired(estate), PROFILES, broker, tmp_path / "c.spool", collector_id="test-outage", seed=2
    )
    watch_task = asyncio.create_task(watcher.run())
    await wait_until(watcher.connected.is_set, 10)
    task = asyncio.create_task(service.run())
    try:
        await wait_until(lambda: all(len(seqs[n]) >= 2 for n in FLEET_NOS), 20)
        await asyncio.to_thread(fresh_mosquitto.stop)
        await asyncio.sleep(30)
        assert service.publisher.stats().depth > 100  # held on disk meanwhile
        await asyncio.to_thread(fresh_mosquitto.start)
        await wait_until(lambda: service.publisher.stats().depth == 0, 30)
        final = {p.device.asset.asset_no: p.seq for p in service.pollers}
        await wait_until(lambda: all(max(seqs[n], default=0) >= final[n] for n in FLEET_NOS), 20)
        for asset_no in FLEET_NOS:
            got = sorted(set(seqs[asset_no]))
            assert got == list(range(got[0], got[-1] + 1)), f"{asset_no}: gap in sequence"
            assert got[0] == 1
        assert service.publisher.stats().dropped == 0
    finally:
        for t in (task, watch_task):
            t.cancel()
        await asyncio.gather(task, watch_task, return_exceptions=True)


async def test_hot_reload_restarts_only_changed_devices(
    estate: Estate, mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    assets = wired(estate)
    current: dict[str, object] = {"assets": assets, "profiles": PROFILES}
    service = CollectorService(
        assets,
        PROFILES,
        BrokerSettings.from_url(mosquitto.url),
        tmp_path / "c.spool",
        collector_id="test-reload",
        seed=3,
        reload=lambda: (current["assets"], current["profiles"]),  # type: ignore[return-value]
        reload_every_s=0.2,
    )
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        before = {p.device.asset.asset_no: p for p in service.pollers}
        assert set(before) == set(FLEET_NOS)
        connection = before["HT-PMP-001"].device.connection  # type: ignore[attr-defined]
        # HT-PMP-003 leaves the ledger; HT-LGT-001 gets a slower profile (a new copy)
        lighting = PROFILES["street-lighting-circuit"]
        slower = lighting.model_copy(
            update={"poll_periods_s": {k: v * 2 for k, v in lighting.poll_periods_s.items()}}
        )
        edited = [a for a in assets if a.asset_no != "HT-PMP-003"]
        current["assets"] = [
            dataclasses.replace(a, profile="lgt-slow") if a.asset_no == "HT-LGT-001" else a
            for a in edited
        ]
        current["profiles"] = {**PROFILES, "lgt-slow": slower.model_copy(update={"id": "lgt-slow"})}
        await wait_until(lambda: service.reloads >= 1, 10)  # the whole reload applied
        after = {p.device.asset.asset_no: p for p in service.pollers}
        assert set(after) == set(FLEET_NOS) - {"HT-PMP-003"}
        for unchanged in ("HT-PMP-001", "HT-PMP-002", "HT-PDP-001", "HT-LGT-002"):
            assert after[unchanged] is before[unchanged], f"{unchanged} was restarted"
        assert after["HT-LGT-001"] is not before["HT-LGT-001"]
        assert after["HT-LGT-001"].device.profile.id == "lgt-slow"
        # the gateway's connection was kept for the pumps that stayed
        assert after["HT-PMP-001"].device.connection is connection  # type: ignore[attr-defined]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
