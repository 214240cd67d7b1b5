"""OPC UA collection cost: the collector vs a raw asyncua subscription client, same server,
same run.

A server process (asyncua, the variables of ``DEVICES`` devices x ``POINTS`` Double points)
changes every variable ``RATE_HZ`` times a second, each write a new counter value, so every
write is exactly one notification. Two clients subscribe in turn (100 ms sampling and
publishing, queue size 10 per monitored item, as the profiles do):

- raw: asyncua's ``create_subscription`` in iterator mode with a queue of a million (the
  default 1,000 drops silently, PITFALLS) and a task counting what comes out;
- collector: ``OpcuaCollector`` with every device polled once a second, as the poll loops do.

For each: notifications/s, client CPU-seconds per 1,000 notifications (this process only; the
server is another process), and drops = writes - notifications received. Both must be 0:
a server queue overflowing would show here, whether or not the server flags it.

    python -m bench.collector_opcua          # or: make bench
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEVICES = 20
POINTS = 50
RATE_HZ = 10.0
PHASE_S = 8.0
SAMPLING_MS = 100
QUEUE_SIZE = 10
NAMESPACE = "urn:facility:devices"


def _root(device: int) -> str:
    return f"BN-TNK-{device + 1:03d}"


def _node_id(device: int, point: int, namespace: int) -> str:
    return f"ns={namespace};s={_root(device)}.V{point + 1:03d}"


# -- the server process -----------------------------------------------------------------------


async def _serve() -> None:
    from asyncua import Server, ua

    from simulators.opcua_server import standard_address_space_shelf

    server = Server()
    await server.init(shelf_file=await standard_address_space_shelf())
    server.set_endpoint("opc.tcp://127.0.0.1:0/bench")
    idx = await server.register_namespace(NAMESPACE)
    node_ids = []
    for device in range(DEVICES):
        folder = await server.nodes.objects.add_folder(idx, _root(device))
        for point in range(POINTS):
            node_id = ua.NodeId.from_string(_node_id(device, point, idx))
            await folder.add_variable(
                node_id, ua.QualifiedName(f"V{point + 1:03d}", idx), ua.Variant(0.0)
            )
            node_ids.append(node_id)
    await server.start()
    assert server.bserver is not None
    print(f"READY {server.bserver.port} {idx}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    counter = 0.0
    while True:
        command = (await reader.readline()).decode().split()
        if not command or command[0] == "QUIT":
            break
        seconds = float(command[1])
        writes = 0
        period = 1 / RATE_HZ
        next_tick = time.monotonic()
        end = next_tick + seconds
        while time.monotonic() < end:
            counter += 1
            for node_id in node_ids:
                await server.write_attribute_value(node_id, ua.DataValue(ua.Variant(counter)))
            writes += len(node_ids)
            next_tick += period
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        print(f"DONE {writes}", flush=True)
    await server.stop()


def serve() -> None:
    """Entry point of the server process."""
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(_serve())


# -- the clients ------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    writes: int
    received: int
    wall_s: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.received / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / self.received * 1000 if self.received else float("nan")

    @property
    def drops(self) -> int:
        return self.writes - self.received


class ServerProcess:
    def __init__(self, process: asyncio.subprocess.Process, port: int, namespace: int) -> None:
        self.process = process
        self.url = f"opc.tcp://127.0.0.1:{port}/bench"
        self.namespace = namespace

    async def run(self, seconds: float) -> int:
        """Let the server write for ``seconds``; how many values it wrote."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"RUN {seconds}\n".encode())
        await self.process.stdin.drain()
        line = (await self.process.stdout.readline()).decode().split()
        return int(line[1])


@contextlib.asynccontextmanager
async def server_process() -> Any:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bench.collector_opcua import serve; serve()",
        cwd=PROJECT_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        assert process.stdout is not None
        ready = (await asyncio.wait_for(process.stdout.readline(), 120)).decode().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError(f"bench server did not start: {ready}")
        yield ServerProcess(process, int(ready[1]), int(ready[2]))
    finally:
        if process.stdin is not None and process.returncode is None:
            process.stdin.write(b"QUIT\n")
            with contextlib.suppress(ConnectionError):
                await process.stdin.drain()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _settle(count: Any, target: int, timeout_s: float = 5.0) -> None:
    """Wait until ``count()`` reaches ``target`` or stops growing (the last publish)."""
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline and count() < target:
        await asyncio.sleep(0.2)
        now = count()
        if now == last:
            break
        last = now


async def raw_phase(server: ServerProcess) -> Phase:
    from asyncua import Client, ua

    received = 0
    async with Client(server.url) as client:
        subscription = await client.create_subscription(SAMPLING_MS, queue_maxsize=1_000_000)
        nodes = [
            client.get_node(_node_id(d, p, server.namespace))
            for d in range(DEVICES)
            for p in range(POINTS)
        ]
        await subscription.subscribe_data_change(
            nodes, queuesize=QUEUE_SIZE, sampling_interval=ua.Duration(SAMPLING_MS)
        )

        async def consume() -> None:
            nonlocal received
            async for _ in subscription:
                received += 1

        consumer = asyncio.create_task(consume())
        await _settle(lambda: received, len(nodes))  # initial values
        initial = received
        wall, cpu = time.perf_counter(), time.process_time()
        writes = await server.run(PHASE_S)
        await _settle(lambda: received, initial + writes)
        phase = Phase(
            "raw asyncua",
            writes,
            received - initial,
            time.perf_counter() - wall,
            time.process_time() - cpu,
        )
        await subscription.delete()
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    return phase


def _profile() -> Any:
    from device_profiles.models import DeviceProfile

    return DeviceProfile.model_validate(
        {
            "schema_version": 1,
            "id": "bench-variables",
            "device_class": "TNK",
            "vendor": "bench",
            "model": "bench",
            "label": {"en": "Bench", "zh": "基准"},
            "protocol": "opcua",
            "opcua": {"sampling_interval_ms": SAMPLING_MS, "queue_size": QUEUE_SIZE},
            "poll_periods_s": {"normal": 1},
            "points": [
                {
                    "name": f"v{p + 1:03d}",
                    "label": {"en": f"V{p + 1}", "zh": f"V{p + 1}"},
                    "unit": "",
                    "timestamp": "source",
                    "opcua": {"browse_path": f"V{p + 1:03d}", "data_type": "Double"},
                }
                for p in range(POINTS)
            ],
        }
    )


def _assets(url: str) -> Sequence[Any]:
    from facility.types import Asset, AssetStatus, Criticality, DeviceClass, OpcuaEndpoint

    return [
        Asset(
            asset_no=_root(d),
            site="BN",
            device_class=DeviceClass.TNK,
            name_en=_root(d),
            name_zh=_root(d),
            building="B",
            zone="bench",
            system="water_supply",
            profile="bench-variables",
            make="bench",
            model="bench",
            serial=_root(d),
            install_date=None,
            criticality=Criticality.LOW,
            status=AssetStatus.IN_SERVICE,
            endpoint=OpcuaEndpoint(url, _root(d)),
        )
        for d in range(DEVICES)
    ]


async def collector_phase(server: ServerProcess) -> tuple[Phase, int, int]:
    from collectors.opcua import OpcuaCollector
    from device_profiles.models import PollClass

    profile = _profile()
    polls = bad = 0
    async with OpcuaCollector(server.url, [(a, profile) for a in _assets(server.url)]) as collector:

        async def poll_every_second() -> None:
            nonlocal polls, bad
            while True:
                for device in collector.devices():
                    collected = await device.collect(frozenset({PollClass.NORMAL}))
                    polls += 1
                    bad += collected.failed_all
                await asyncio.sleep(1.0)

        await _settle(lambda: collector.notifications, DEVICES * POINTS)
        initial = collector.notifications
        poller = asyncio.create_task(poll_every_second())
        wall, cpu = time.perf_counter(), time.process_time()
        writes = await server.run(PHASE_S)
        await _settle(lambda: collector.notifications, initial + writes)
        phase = Phase(
            "collector",
            writes,
            collector.notifications - initial,
            time.perf_counter() - wall,
            time.process_time() - cpu,
        )
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        flagged = collector.dropped
    return phase, polls - bad, flagged


async def _main() -> None:
    async with server_process() as server:
        raw = await raw_phase(server)
        collector, good_polls, flagged = await collector_phase(server)
    print(
        f"server: {DEVICES} devices x {POINTS} Double variables, every one written "
        f"{RATE_HZ:g}x/s for {PHASE_S:g} s per phase; sampling/publishing {SAMPLING_MS} ms, "
        f"queue {QUEUE_SIZE} per item"
    )
    print(f"{'client':<12} {'notif/s':>9} {'CPU s/1000':>11} {'received':>9} {'drops':>6}")
    for phase in (raw, collector):
        print(
            f"{phase.name:<12} {phase.rate:>9.0f} {phase.cpu_per_1000:>11.4f} "
            f"{phase.received:>9} {phase.drops:>6}"
        )
    ratio = collector.cpu_per_1000 / raw.cpu_per_1000
    print(f"collector / raw CPU per notification: {ratio:.2f}x (goal <= 1.5x)")
    print(
        f"collector: {good_polls} good device polls served from the cache during the run; "
        f"server-flagged overflows: {flagged}"
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    asyncio.run(_main())


if __name__ == "__main__":
    main()
