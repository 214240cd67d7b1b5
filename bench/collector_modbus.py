"""Modbus collector cost against the practical limit, measured in the same run.

1. CPU per 1,000 registers: the collector (planner + shared connection + decoder + quality)
   against a minimal raw pymodbus loop doing the SAME requests (the planner's plan) on the same
   simulated fleet (a simulator in its own process). Goal: within 1.5x of the raw loop.
2. Requests per cycle vs points: what coalescing saves over one request per point.
3. Sustained load: one collector process (CollectorService, publishing to a real mosquitto)
   keeping ~5,000 points at a 1 s period — CPU share of one core, overruns, messages/s.

    python -m bench collector_modbus
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.sim_capacity import modbus_fleet, start_server

FLEET = 120  # devices for the CPU comparison
PHASE_S = 5.0
ROUNDS = 3
SUSTAIN_DEVICES = 330  # x 16 points (pumps) / 12 (lighting) = ~4,600-5,300 points
SUSTAIN_S = 20.0


def _wired(count: int, description: dict[str, Any]) -> list[Any]:
    from facility.types import ModbusEndpoint

    where = {d["asset_no"]: d for d in description["devices"]}
    return [
        dataclasses.replace(
            a,
            endpoint=ModbusEndpoint(
                "127.0.0.1", where[a.asset_no]["port"], where[a.asset_no]["unit"]
            ),
        )
        for a in modbus_fleet(count)
    ]


async def _raw_loop(assets: Sequence[Any], seconds: float) -> tuple[int, int, float]:
    """Plain pymodbus, one connection per endpoint, the planner's requests: the floor."""
    from pymodbus.client import AsyncModbusTcpClient

    from collectors.modbus.planner import plan_requests
    from device_profiles import load_library
    from device_profiles.models import Table

    profiles = load_library()
    by_port: dict[int, list[tuple[int, list[Any]]]] = {}
    for asset in assets:
        profile = profiles[asset.profile]
        plan = plan_requests(profile.points, profile.modbus)
        by_port.setdefault(asset.endpoint.port, []).append((asset.endpoint.unit_id, plan))
    counts = [0, 0]
    deadline = time.monotonic() + seconds

    async def worker(port: int, units: list[tuple[int, list[Any]]]) -> None:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
        await client.connect()
        try:
            while time.monotonic() < deadline:
                for unit, plan in units:
                    for r in plan:
                        if r.table is Table.HOLDING:
                            rr = await client.read_holding_registers(
                                r.address, count=r.count, device_id=unit
                            )
                        elif r.table is Table.INPUT:
                            rr = await client.read_input_registers(
                                r.address, count=r.count, device_id=unit
                            )
                        elif r.table is Table.COIL:
                            rr = await client.read_coils(r.address, count=r.count, device_id=unit)
                        else:
                            rr = await client.read_discrete_inputs(
                                r.address, count=r.count, device_id=unit
                            )
                        assert not rr.isError()
                        counts[0] += 1
                        counts[1] += r.count
        finally:
            client.close()

    cpu0 = time.process_time()
    await asyncio.gather(*(worker(p, u) for p, u in by_port.items()))
    return counts[0], counts[1], time.process_time() - cpu0


async def _collector_loop(assets: Sequence[Any], seconds: float) -> tuple[int, int, float, int]:
    from collectors.registry import build_collectors
    from device_profiles import load_library
    from device_profiles.models import PollClass
    from facility.types import Quality

    collectors = build_collectors(assets, load_library())
    everything = frozenset(PollClass)
    counts = [0, 0, 0]
    deadline = time.monotonic() + seconds
    registers = {
        d.asset.asset_no: sum(r.count for r in d.plan(everything))
        for c in collectors
        for d in c.devices()
    }

    async def worker(collector: Any) -> None:
        last: Any = None
        while time.monotonic() < deadline:
            for device in collector.devices():
                last = await device.collect(everything)
                counts[0] += last.requests
                counts[1] += registers[device.asset.asset_no]
        if last is not None:  # a sample of what the reads gave, outside the timed loop
            counts[2] += sum(1 for r in last.readings if r.quality is not Quality.GOOD)

    cpu0 = time.process_time()
    await asyncio.gather(*(worker(c) for c in collectors))
    cpu = time.process_time() - cpu0
    for collector in collectors:
        await collector.close()
    return counts[0], counts[1], cpu, counts[2]


def _points_and_requests(assets: Sequence[Any]) -> tuple[int, int]:
    from collectors.modbus.planner import plan_requests
    from device_profiles import load_library

    profiles = load_library()
    points = requests = 0
    for asset in assets:
        profile = profiles[asset.profile]
        points += len(profile.points)
        requests += len(plan_requests(profile.points, profile.modbus))
    return points, requests


async def _sustain(assets: Sequence[Any]) -> None:
    import psutil

    from collectors.service import CollectorService
    from device_profiles import load_library
    from device_profiles.models import PollClass
    from devtools.services import MosquittoServer
    from facility.mqtt import BrokerSettings

    # every point at 1 s: the hardest case the scale target names
    profiles = {
        k: p.model_copy(update={"poll_periods_s": dict.fromkeys(PollClass, 1.0)})
        for k, p in load_library().items()
    }
    points = sum(len(profiles[a.profile].points) for a in assets)
    with tempfile.TemporaryDirectory() as tmp, MosquittoServer(Path(tmp) / "mqtt") as broker:
        service = CollectorService(
            assets,
            profiles,
            BrokerSettings.from_url(broker.url),
            Path(tmp) / "spool.db",
            collector_id="bench",
            seed=1,
        )
        task = asyncio.create_task(service.run())
        await asyncio.sleep(3)  # warm-up: connections, start jitter
        me = psutil.Process()
        cpu0, wall0 = me.cpu_times(), time.monotonic()
        polls0 = sum(p.health.polls for p in service.pollers)
        sent0 = service.publisher.sent
        await asyncio.sleep(SUSTAIN_S)
        cpu1, wall = me.cpu_times(), time.monotonic() - wall0
        polls = sum(p.health.polls for p in service.pollers) - polls0
        sent = service.publisher.sent - sent0
        overruns = sum(p.health.overruns for p in service.pollers)
        failures = sum(p.health.failures for p in service.pollers)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(
        f"sustained: {len(assets)} devices, {points} points, every point at 1 s, {SUSTAIN_S:.0f} s"
    )
    print(
        f"  polls/s {polls / wall:8.0f}   (target {len(assets)})   points/s "
        f"{polls / wall * points / len(assets):8.0f}"
    )
    print(
        f"  MQTT messages acked/s {sent / wall:8.0f}   overruns {overruns}   failed polls "
        f"{failures}"
    )
    print(f"  collector CPU {cpu / wall * 100:5.1f} % of one core")


async def run() -> None:
    logging.basicConfig(level=logging.ERROR)
    server = await start_server("sim-modbus", FLEET)
    try:
        assets = _wired(FLEET, server.description)
        points, requests = _points_and_requests(assets)
        print(
            f"fleet: {FLEET} devices (pumps + lighting circuits, 25 units per gateway), "
            f"{points} points"
        )
        print(
            f"requests per full cycle: {requests} planned vs {points} one-per-point "
            f"({points / requests:.1f}x fewer)"
        )
        ratios = []
        for round_no in range(1, ROUNDS + 1):  # interleaved: load from elsewhere hits both
            raw_req, raw_regs, raw_cpu = await _raw_loop(assets, PHASE_S)
            col_req, col_regs, col_cpu, bad = await _collector_loop(assets, PHASE_S)
            raw_cost = raw_cpu / raw_regs * 1000
            col_cost = col_cpu / col_regs * 1000
            ratios.append(col_cost / raw_cost)
            print(f"round {round_no}")
            print(
                f"  raw pymodbus loop : {raw_req / PHASE_S:7.0f} req/s "
                f"{raw_regs / PHASE_S:9.0f} registers/s  {raw_cost * 1000:6.2f} ms CPU "
                "per 1,000 registers"
            )
            print(
                f"  collector         : {col_req / PHASE_S:7.0f} req/s "
                f"{col_regs / PHASE_S:9.0f} registers/s  {col_cost * 1000:6.2f} ms CPU "
                f"per 1,000 registers (decoded, range-checked; bad readings: {bad})"
            )
        print(
            f"collector / raw CPU per register: median {statistics.median(ratios):.2f}x "
            f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; goal <= 1.5x)"
        )
    finally:
        await server.close()
    server = await start_server("sim-modbus", SUSTAIN_DEVICES)
    try:
        await _sustain(_wired(SUSTAIN_DEVICES, server.description))
    finally:
        await server.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
