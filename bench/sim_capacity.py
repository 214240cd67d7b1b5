"""Simulator capacity: how many simulated devices one simulator process serves, and the
requests/s it answers while stepping their physics.

For each fleet size, a simulator process (an ``Estate`` of N Modbus devices, pumps and
lighting circuits, 25 unit ids per gateway port) is hammered for a few seconds by several
pymodbus client connections, each reading every device's whole register map (one request per
table, first to last address), and then the same clients hammer a bare pymodbus server with a
static datastore of the same layout, in the same run. Reported: requests/s, registers/s,
server CPU % (psutil on the server process), server CPU per request, and the ratio sim/bare.
The OPC UA part does the same with batched Read requests (one per device, all its variables)
against the simulator's OPC UA server and a bare asyncua server with the same nodes.

    python -m bench.sim_capacity           # or: make bench
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODBUS_SIZES = (100, 300)
OPCUA_SIZES = (50,)
UNITS_PER_GATEWAY = 25
CONNECTIONS = 8
PHASE_S = 5.0
IDLE_S = 2.0


# -- fleets -----------------------------------------------------------------------------------


def _asset(asset_no: str, profile: str, endpoint: Any) -> Any:
    from facility.types import (
        DEVICE_CLASS_SYSTEM,
        Asset,
        AssetStatus,
        Criticality,
        DeviceClass,
    )

    device_class = DeviceClass(asset_no.split("-")[1])
    return Asset(
        asset_no=asset_no,
        site="BN",
        device_class=device_class,
        name_en=asset_no,
        name_zh=asset_no,
        building="B",
        zone="bench",
        system=DEVICE_CLASS_SYSTEM[device_class],
        profile=profile,
        make="sim",
        model="sim",
        serial=asset_no,
        install_date=None,
        criticality=Criticality.LOW,
        status=AssetStatus.IN_SERVICE,
        endpoint=endpoint,
    )


def modbus_fleet(count: int) -> list[Any]:
    """Pumps and lighting circuits, alternating, 25 unit ids per gateway."""
    from facility.types import ModbusEndpoint

    assets = []
    for i in range(count):
        kind, profile = (
            ("PMP", "vfd-booster-pump") if i % 2 == 0 else ("LGT", "street-lighting-circuit")
        )
        endpoint = ModbusEndpoint(
            "127.0.0.1", 30000 + i // UNITS_PER_GATEWAY, i % UNITS_PER_GATEWAY + 1
        )
        assets.append(_asset(f"BN-{kind}-{i + 1:03d}", profile, endpoint))
    return assets


def opcua_fleet(count: int) -> list[Any]:
    """Tanks and fire panels, alternating, all on one OPC UA server."""
    from facility.types import OpcuaEndpoint

    url = "opc.tcp://127.0.0.1:4840/facility"
    assets = []
    for i in range(count):
        kind, profile = ("TNK", "water-tank-monitor") if i % 2 == 0 else ("FAP", "fire-alarm-panel")
        asset_no = f"BN-{kind}-{i + 1:03d}"
        assets.append(_asset(asset_no, profile, OpcuaEndpoint(url, asset_no)))
    return assets


def register_plan(profile_id: str) -> list[tuple[str, int, int]]:
    """(table, first address, count) per table: a device's whole map in a request each."""
    from device_profiles import load_library

    spans: dict[str, tuple[int, int]] = {}
    for point in load_library()[profile_id].points:
        assert point.modbus is not None
        table = point.modbus.table.value
        low, high = spans.get(table, (point.modbus.address, point.modbus.end))
        spans[table] = (min(low, point.modbus.address), max(high, point.modbus.end))
    return [(table, low, high - low + 1) for table, (low, high) in sorted(spans.items())]


# -- server processes -------------------------------------------------------------------------


async def _serve_sim_modbus(count: int) -> dict[str, Any]:
    from simulators.estate import Estate

    assets = modbus_fleet(count)
    estate = Estate(assets, seed=1, speed=1, port_mode="ephemeral")
    await estate.start()
    _KEEP.append(estate)
    devices = [
        {
            "asset_no": info.asset_no,
            "port": info.port,
            "unit": info.unit_id,
            "profile": info.profile,
        }
        for info in estate.endpoints.values()
    ]
    return {"devices": devices}


async def _serve_bare_modbus(count: int) -> dict[str, Any]:
    from pymodbus.datastore import (
        ModbusDeviceContext,
        ModbusSequentialDataBlock,
        ModbusServerContext,
    )
    from pymodbus.server import ModbusTcpServer

    by_port: dict[int, list[Any]] = {}
    for asset in modbus_fleet(count):
        by_port.setdefault(asset.endpoint.port, []).append(asset)
    devices = []
    for assets in by_port.values():
        context = ModbusServerContext(
            devices={
                a.endpoint.unit_id: ModbusDeviceContext(
                    co=ModbusSequentialDataBlock(1, [False] * 64),
                    di=ModbusSequentialDataBlock(1, [False] * 64),
                    hr=ModbusSequentialDataBlock(1, list(range(128))),
                    ir=ModbusSequentialDataBlock(1, list(range(128))),
                )
                for a in assets
            }
        )
        server = ModbusTcpServer(context, address=("127.0.0.1", 0))
        await server.serve_forever(background=True)
        _KEEP.append(server)
        port = server.transport.sockets[0].getsockname()[1]
        devices += [
            {"port": port, "unit": a.endpoint.unit_id, "profile": a.profile} for a in assets
        ]
    return {"devices": devices}


async def _serve_sim_opcua(count: int) -> dict[str, Any]:
    from simulators.estate import Estate
    from simulators.opcua_server import browse_parts

    estate = Estate(opcua_fleet(count), seed=1, speed=1, port_mode="ephemeral")
    await estate.start()
    _KEEP.append(estate)
    url = ""
    devices = []
    for info in estate.endpoints.values():
        url = info.url or ""
        profile = estate.profiles[info.profile]
        devices.append(
            [
                f"ns={info.namespace_index};s={info.asset_no}.{'.'.join(browse_parts(p))}"
                for p in profile.points
            ]
        )
    return {"url": url, "devices": devices}


async def _serve_bare_opcua(count: int) -> dict[str, Any]:
    from asyncua import ua
    from asyncua.server.server import Server

    from device_profiles import load_library
    from simulators.opcua_server import browse_parts, standard_address_space_shelf

    server = Server()
    await server.init(shelf_file=await standard_address_space_shelf())
    server.set_endpoint("opc.tcp://127.0.0.1:0/facility")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    server.set_identity_tokens([ua.AnonymousIdentityToken])
    idx = await server.register_namespace("urn:facility:devices")
    library = load_library()
    devices = []
    for asset in opcua_fleet(count):
        folder = await server.nodes.objects.add_folder(
            ua.NodeId(ua.String(asset.asset_no), ua.Int16(idx)),
            ua.QualifiedName(asset.asset_no, idx),
        )
        ids = []
        for point in library[asset.profile].points:
            node_id = f"{asset.asset_no}.{'.'.join(browse_parts(point))}"
            await folder.add_variable(
                ua.NodeId(ua.String(node_id), ua.Int16(idx)),
                ua.QualifiedName(node_id, idx),
                1.5,
            )
            ids.append(f"ns={idx};s={node_id}")
        devices.append(ids)
    await server.start()
    _KEEP.append(server)
    assert server.bserver is not None
    return {"url": f"opc.tcp://127.0.0.1:{server.bserver.port}/facility", "devices": devices}


_KEEP: list[Any] = []
SERVERS = {
    "sim-modbus": _serve_sim_modbus,
    "bare-modbus": _serve_bare_modbus,
    "sim-opcua": _serve_sim_opcua,
    "bare-opcua": _serve_bare_opcua,
}


async def _serve(kind: str, count: int) -> None:
    """Start a server, print where it is as one JSON line, run until stdin closes."""
    logging.basicConfig(level=logging.ERROR)
    description = await SERVERS[kind](count)
    print(json.dumps(description), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


@dataclass
class Server:
    process: asyncio.subprocess.Process
    description: dict[str, Any]

    def cpu_s(self) -> float:
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    async def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def start_server(kind: str, count: int) -> Server:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.sim_capacity",
        "--serve",
        kind,
        str(count),
        cwd=PROJECT_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 120)
    if not line:
        raise RuntimeError(f"{kind} server did not start (exit {await process.wait()})")
    return Server(process, json.loads(line))


# -- clients ----------------------------------------------------------------------------------


@dataclass
class Load:
    requests: int = 0
    items: int = 0  # registers (Modbus) or values (OPC UA)
    errors: int = 0


async def hammer_modbus(devices: Sequence[dict[str, Any]], seconds: float) -> Load:
    from pymodbus.client import AsyncModbusTcpClient

    plans = {d["profile"]: register_plan(d["profile"]) for d in devices}
    ports = sorted({d["port"] for d in devices})
    load = Load()
    deadline = time.monotonic() + seconds

    async def worker(my_ports: list[int]) -> None:
        clients = {}
        for port in my_ports:
            client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
            await client.connect()
            clients[port] = client
        mine = [d for d in devices if d["port"] in clients]
        try:
            while time.monotonic() < deadline:
                for device in mine:
                    client = clients[device["port"]]
                    for table, address, count in plans[device["profile"]]:
                        read = {
                            "coil": client.read_coils,
                            "discrete": client.read_discrete_inputs,
                            "holding": client.read_holding_registers,
                            "input": client.read_input_registers,
                        }[table]
                        response = await read(address, count=count, device_id=device["unit"])
                        load.requests += 1
                        if response.isError():
                            load.errors += 1
                        else:
                            load.items += count
        finally:
            for client in clients.values():
                client.close()

    workers = min(CONNECTIONS, len(ports))
    await asyncio.gather(*(worker(ports[i::workers]) for i in range(workers)))
    return load


async def hammer_opcua(url: str, devices: Sequence[list[str]], seconds: float) -> Load:
    from asyncua import Client, ua

    load = Load()
    deadline = time.monotonic() + seconds

    async def worker(mine: Sequence[list[str]]) -> None:
        async with Client(url, timeout=10) as client:
            batches = []
            for ids in mine:
                params = ua.ReadParameters()
                for node_id in ids:
                    item = ua.ReadValueId()
                    item.NodeId = ua.NodeId.from_string(node_id)
                    item.AttributeId = ua.AttributeIds.Value
                    params.NodesToRead.append(item)
                batches.append(params)
            while time.monotonic() < deadline:
                for params in batches:
                    results = await client.uaclient.read(params)
                    load.requests += 1
                    load.items += len(results)
                    load.errors += sum(1 for r in results if not r.StatusCode.is_good())

    workers = min(4, len(devices))
    await asyncio.gather(*(worker(devices[i::workers]) for i in range(workers)))
    return load


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Figures:
    label: str
    load: Load
    wall_s: float
    server_cpu_s: float
    idle_cpu_pct: float
    client_cpu_s: float

    @property
    def rate(self) -> float:
        return self.load.requests / self.wall_s

    @property
    def cpu_per_request_ms(self) -> float:
        return 1000 * self.server_cpu_s / max(1, self.load.requests)

    def line(self, unit: str) -> str:
        return (
            f"  {self.label:<5} {self.rate:>8,.0f} req/s  {self.load.items / self.wall_s:>10,.0f} "
            f"{unit}/s  server CPU {100 * self.server_cpu_s / self.wall_s:>4.0f} %  "
            f"{self.cpu_per_request_ms:.3f} ms CPU/req  idle {self.idle_cpu_pct:>4.1f} %  "
            f"client CPU {100 * self.client_cpu_s / self.wall_s:>4.0f} %  "
            f"errors {self.load.errors}"
        )


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


async def measure(label: str, kind: str, count: int) -> Figures:
    server = await start_server(kind, count)
    try:
        idle_start = server.cpu_s()
        await asyncio.sleep(IDLE_S)
        idle_pct = 100 * (server.cpu_s() - idle_start) / IDLE_S
        cpu0, own0, wall0 = server.cpu_s(), _own_cpu_s(), time.perf_counter()
        if kind.endswith("modbus"):
            load = await hammer_modbus(server.description["devices"], PHASE_S)
        else:
            load = await hammer_opcua(
                server.description["url"], server.description["devices"], PHASE_S
            )
        wall = time.perf_counter() - wall0
        return Figures(label, load, wall, server.cpu_s() - cpu0, idle_pct, _own_cpu_s() - own0)
    finally:
        await server.close()


def _ratio(sim: Figures, bare: Figures) -> str:
    return (
        f"  sim/bare: {sim.rate / bare.rate:.2f}x the requests/s, "
        f"{sim.cpu_per_request_ms / bare.cpu_per_request_ms:.2f}x the server CPU per request"
    )


def _capacity(sim: Figures, requests_per_device: float, what: str) -> str:
    """Devices one core could serve if each is read whole once a second."""
    per_core = 1000 / sim.cpu_per_request_ms
    return (
        f"  capacity: one simulator core answers ~{per_core:,.0f} {what}/s, i.e. "
        f"~{per_core / requests_per_device:,.0f} devices read whole every second "
        f"({requests_per_device:g} {what} per device)"
    )


async def run() -> None:
    for count in MODBUS_SIZES:
        sim = await measure("sim", "sim-modbus", count)
        bare = await measure("bare", "bare-modbus", count)
        gateways = -(-count // UNITS_PER_GATEWAY)
        print(
            f"Modbus TCP, {count} devices on {gateways} gateway ports, "
            f"{min(CONNECTIONS, gateways)} client connections, {PHASE_S:g} s each:"
        )
        print(sim.line("reg"))
        print(bare.line("reg"))
        print(_ratio(sim, bare))
        plans = [len(register_plan(d["profile"])) for d in _devices_of(count)]
        print(_capacity(sim, sum(plans) / len(plans), "requests"), flush=True)
    for count in OPCUA_SIZES:
        sim = await measure("sim", "sim-opcua", count)
        bare = await measure("bare", "bare-opcua", count)
        print(f"OPC UA, {count} devices on one server, one batched Read per device:")
        print(sim.line("value"))
        print(bare.line("value"))
        print(_ratio(sim, bare))
        print(_capacity(sim, 1, "batched Reads"), flush=True)
    print(
        "(idle = server CPU with no client: the physics stepping. The server and the clients "
        "share 2 cores and the pymodbus client costs more CPU per request than the server, so "
        "requests/s is client-bound and noisy; server CPU per request is the stable figure.)"
    )


def _devices_of(count: int) -> list[dict[str, Any]]:
    return [{"profile": a.profile} for a in modbus_fleet(count)]


def main() -> None:
    """Print the simulator's capacity figures (make bench)."""
    for noisy in ("pymodbus", "asyncua"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    asyncio.run(run())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        asyncio.run(_serve(sys.argv[2], int(sys.argv[3])))
    else:
        main()
