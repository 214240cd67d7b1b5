"""The Modbus collector beside Node-RED on the same simulated fleet (issue 16).

Node-RED 4.1.x with node-red-contrib-modbus 5.23.3 (the newest that installs from the npm
registry; PITFALLS) is installed with npm into a scratch folder (``var/bench/nodered``, kept
for the next run). Both read the same fleet, served by the project's simulator
(``simulators.modbus_server.ModbusGateway``) in its own process: ``DEVICES`` devices, each
its own TCP endpoint, ``REGISTERS`` holding registers read as one FC3 request per device.

- steady: once a second per device. The collector also decodes, quality-stamps and publishes
  every poll to a real mosquitto (QoS 1, retained); Node-RED only counts its results.
- stress: as fast as each can (the collector with a 1 ms period, Node-RED with a 10 ms
  interval per device): registers per CPU-second.

CPU % of one core and memory (RSS) of each peer's own process, from /proc via psutil, over the
same window length, one peer after the other (never both at once: the machine has 2 cores).
Not a timed test: figures to read, on a machine shared with other work.

    python -m bench peer_nodered            # BENCH_PEER_S=60 (window), BENCH_STRESS_S=20
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRATCH = Path(os.environ.get("BENCH_NODERED_DIR", PROJECT_ROOT / "var" / "bench" / "nodered"))
PACKAGES = ["node-red@4.1", "node-red-contrib-modbus@5.23.3"]
DEVICES = 100
REGISTERS = 40
WINDOW_S = float(os.environ.get("BENCH_PEER_S", "60"))
STRESS_S = float(os.environ.get("BENCH_STRESS_S", "20"))
WARMUP_S = 10.0
# another checkout's collector (e.g. main, for a before/after figure); Node-RED can be skipped
COLLECTOR_ROOT = Path(os.environ.get("BENCH_COLLECTOR_ROOT", PROJECT_ROOT))
WITH_NODERED = os.environ.get("BENCH_NODERED", "1") != "0"
PROFILE_ID = "bench-40-holding"

PROFILE_YAML = f"""
schema_version: 1
id: {PROFILE_ID}
device_class: PMP
vendor: Bench
model: {REGISTERS} holding registers
label: {{en: Bench device, zh: 基准设备}}
protocol: modbus
modbus: {{order: ABCD, max_registers_per_request: 125, max_gap: 0}}
poll_periods_s: {{fast: 1, normal: 1, slow: 1}}
points:
""" + "".join(
    f"  - {{name: r{n:02d}, label: {{en: r{n:02d}, zh: r{n:02d}}}, unit: '', poll: fast,"
    f" modbus: {{table: holding, address: {n}, type: uint16}}}}\n"
    for n in range(REGISTERS)
)


def bench_profile() -> Any:
    from device_profiles.loader import parse_profile

    profile, issues = parse_profile(PROFILE_YAML, f"{PROFILE_ID}.yaml")
    if profile is None:
        raise RuntimeError(f"bench profile invalid: {issues}")
    return profile


# -- the fleet (its own process) --------------------------------------------------------------


async def _serve(count: int) -> None:
    """``count`` simulated devices, one endpoint each; values change every second."""
    from simulators.modbus_server import ModbusGateway

    profile = bench_profile()
    gateways = []
    for i in range(count):
        gateway = ModbusGateway("127.0.0.1", 0, name=f"bench-{i}")
        gateway.add_device(1, f"BN-PMP-{i + 1:03d}", profile, lambda _u, _v: None)
        await gateway.start()
        gateways.append(gateway)
    print(json.dumps([g.port for g in gateways]), flush=True)

    async def tick() -> None:
        n = 0
        while True:
            n += 1
            for i, gateway in enumerate(gateways):
                gateway.update(1, {f"r{r:02d}": (n + i + r) % 1000 for r in range(REGISTERS)})
            await asyncio.sleep(1)

    ticker = asyncio.create_task(tick())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    ticker.cancel()
    for gateway in gateways:
        await gateway.stop()


# -- the collector (its own process) ----------------------------------------------------------


async def _collect(ports: list[int], broker_url: str, period_s: float, var: Path) -> None:
    """The real CollectorService on the fleet; prints polls and acknowledged messages."""
    import logging

    from bench.sim_capacity import _asset
    from collectors.service import CollectorService
    from device_profiles.models import PollClass
    from facility.mqtt import BrokerSettings
    from facility.types import ModbusEndpoint

    logging.basicConfig(level=logging.ERROR)
    profile = bench_profile().model_copy(
        update={"poll_periods_s": dict.fromkeys(PollClass, period_s)}
    )
    assets = [
        _asset(f"BN-PMP-{i + 1:03d}", PROFILE_ID, ModbusEndpoint("127.0.0.1", port, 1))
        for i, port in enumerate(ports)
    ]
    service = CollectorService(
        assets,
        {PROFILE_ID: profile},
        BrokerSettings.from_url(broker_url),
        var / "bench.spool",
        collector_id="bench-peer",
        seed=1,
    )
    task = asyncio.create_task(service.run())
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        polls = sum(p.health.polls for p in service.pollers)
        sent = service.publisher.sent if hasattr(service, "publisher") else 0
        print(json.dumps({"polls": polls, "sent": sent}), flush=True)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# -- Node-RED ---------------------------------------------------------------------------------


def ensure_nodered() -> Path:
    """Install Node-RED and the Modbus nodes into the scratch folder (once)."""
    red = SCRATCH / "node_modules" / "node-red" / "red.js"
    modbus = SCRATCH / "node_modules" / "node-red-contrib-modbus" / "package.json"
    if not (red.exists() and modbus.exists()):
        SCRATCH.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm not found: Node 20 + npm are needed for the peer benchmark")
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(SCRATCH), *PACKAGES],
            check=True,
            timeout=1800,
        )
    return red


def _version(package: str) -> str:
    meta = SCRATCH / "node_modules" / package / "package.json"
    return str(json.loads(meta.read_text())["version"])


def nodered_flow(ports: list[int], interval_ms: int) -> list[dict[str, Any]]:
    """One modbus-client + modbus-read (FC3, REGISTERS registers) per device; results are
    counted in a function node and served on GET /count."""
    rate, unit = (
        (str(interval_ms // 1000), "s") if interval_ms >= 1000 else (str(interval_ms), "ms")
    )
    nodes: list[dict[str, Any]] = [{"id": "flow", "type": "tab", "label": "bench"}]
    count = {
        "id": "count",
        "type": "function",
        "z": "flow",
        "func": "global.set('n', (global.get('n') || 0) + 1);\nreturn null;",
        "outputs": 1,
        "wires": [[]],
    }
    nodes += [
        count,
        {"id": "http", "type": "http in", "z": "flow", "url": "/count", "method": "get",
         "wires": [["reply"]]},
        {"id": "reply", "type": "function", "z": "flow", "outputs": 1,
         "func": "msg.payload = {n: global.get('n') || 0};\nreturn msg;", "wires": [["resp"]]},
        {"id": "resp", "type": "http response", "z": "flow", "wires": []},
    ]  # fmt: skip
    for i, port in enumerate(ports):
        nodes.append(
            {
                "id": f"client{i}",
                "type": "modbus-client",
                "name": f"dev{i}",
                "clienttype": "tcp",
                "bufferCommands": True,
                "stateLogEnabled": False,
                "queueLogEnabled": False,
                "failureLogEnabled": False,
                "tcpHost": "127.0.0.1",
                "tcpPort": str(port),
                "tcpType": "DEFAULT",
                "serialPort": "/dev/null",
                "serialType": "RTU-BUFFERD",
                "serialBaudrate": "9600",
                "serialDatabits": "8",
                "serialStopbits": "1",
                "serialParity": "none",
                "serialConnectionDelay": "100",
                "serialAsciiResponseStartDelimiter": "0x3A",
                "unit_id": "1",
                "commandDelay": "1",
                "clientTimeout": "1000",
                "reconnectOnTimeout": True,
                "reconnectTimeout": "2000",
                "parallelUnitIdsAllowed": True,
            }
        )
        nodes.append(
            {
                "id": f"read{i}",
                "type": "modbus-read",
                "z": "flow",
                "name": "",
                "topic": "",
                "showStatusActivities": False,
                "logIOActivities": False,
                "showErrors": False,
                "showWarnings": False,
                "unitid": "1",
                "dataType": "HoldingRegister",
                "adr": "0",
                "quantity": str(REGISTERS),
                "rate": rate,
                "rateUnit": unit,
                "delayOnStart": False,
                "startDelayTime": "",
                "server": f"client{i}",
                "useIOFile": False,
                "ioFile": "",
                "useIOForPayload": False,
                "emptyMsgOnFail": False,
                "wires": [["count"], []],
            }
        )
    return nodes


@dataclass
class Figures:
    name: str
    cpu_pct: float
    rss_start_mb: float
    rss_end_mb: float
    polls_per_s: float
    extra: str = ""

    @property
    def registers_per_cpu_s(self) -> float:
        return self.polls_per_s * REGISTERS / max(self.cpu_pct / 100, 1e-9)

    def line(self) -> str:
        return (
            f"  {self.name:<22} CPU {self.cpu_pct:5.1f} %  RSS {self.rss_start_mb:5.0f} → "
            f"{self.rss_end_mb:5.0f} MB  polls/s {self.polls_per_s:7.0f}  registers per "
            f"CPU-second {self.registers_per_cpu_s:9.0f}{self.extra}"
        )


def _sample(pid: int) -> tuple[float, float]:
    import psutil

    process = psutil.Process(pid)
    times = process.cpu_times()
    return float(times.user + times.system), process.memory_info().rss / 2**20


async def run_nodered(red: Path, ports: list[int], interval_ms: int, window_s: float) -> Figures:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        http_port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        user_dir = Path(tmp)
        (user_dir / "flows.json").write_text(json.dumps(nodered_flow(ports, interval_ms)))
        (user_dir / "settings.js").write_text(
            f"module.exports = {{uiHost: '127.0.0.1', uiPort: {http_port},"
            " flowFile: 'flows.json', disableEditor: true, httpAdminRoot: false,"
            " logging: {console: {level: 'error'}}, diagnostics: {enabled: false},"
            " editorTheme: {tours: false}, externalModules: {autoInstall: false}};"
        )
        node = shutil.which("node") or "node"
        process = await asyncio.create_subprocess_exec(
            node,
            str(red),
            "--userDir",
            str(user_dir),
            "--settings",
            str(user_dir / "settings.js"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

        def count() -> int:
            url = f"http://127.0.0.1:{http_port}/count"
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(json.loads(response.read())["n"])

        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    await asyncio.to_thread(count)
                    break
                except OSError:
                    if time.monotonic() > deadline or process.returncode is not None:
                        raise RuntimeError("Node-RED did not start") from None
                    await asyncio.sleep(0.5)
            await asyncio.sleep(WARMUP_S)
            n0, (cpu0, rss0), t0 = (
                await asyncio.to_thread(count),
                _sample(process.pid),
                time.monotonic(),
            )
            await asyncio.sleep(window_s)
            n1, (cpu1, rss1), t1 = (
                await asyncio.to_thread(count),
                _sample(process.pid),
                time.monotonic(),
            )
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
    wall = t1 - t0
    return Figures(
        "Node-RED", (cpu1 - cpu0) / wall * 100, rss0, rss1, (n1 - n0) / wall, " (counts only)"
    )


async def run_collector(ports: list[int], period_s: float, window_s: float) -> Figures:
    from devtools.services import MosquittoServer

    with tempfile.TemporaryDirectory() as tmp, MosquittoServer(Path(tmp) / "mqtt") as broker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.peer_nodered",
            "--collect",
            json.dumps(ports),
            broker.url,
            str(period_s),
            tmp,
            cwd=COLLECTOR_ROOT,
            env={**os.environ, "PYTHONPATH": f"{COLLECTOR_ROOT}:{PROJECT_ROOT}"},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        stdin, stdout = process.stdin, process.stdout

        async def progress() -> dict[str, int]:
            stdin.write(b"?\n")
            await stdin.drain()
            return dict(json.loads(await asyncio.wait_for(stdout.readline(), 30)))

        try:
            await asyncio.sleep(WARMUP_S)
            p0, (cpu0, rss0), t0 = await progress(), _sample(process.pid), time.monotonic()
            await asyncio.sleep(window_s)
            p1, (cpu1, rss1), t1 = await progress(), _sample(process.pid), time.monotonic()
        finally:
            stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
    wall = t1 - t0
    sent = (p1["sent"] - p0["sent"]) / wall
    return Figures(
        "collector",
        (cpu1 - cpu0) / wall * 100,
        rss0,
        rss1,
        (p1["polls"] - p0["polls"]) / wall,
        f"  published+acked/s {sent:6.0f}",
    )


async def run() -> None:
    if COLLECTOR_ROOT != PROJECT_ROOT:
        print(f"collector from {COLLECTOR_ROOT}")
    red = await asyncio.to_thread(ensure_nodered)
    node = await asyncio.to_thread(
        subprocess.check_output, ["node", "--version"], text=True, timeout=30
    )
    print(
        f"Node-RED {_version('node-red')}, node-red-contrib-modbus "
        f"{_version('node-red-contrib-modbus')}, node {node.strip()}"
    )
    fleet = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.peer_nodered",
        "--serve",
        str(DEVICES),
        cwd=PROJECT_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert fleet.stdin is not None
    assert fleet.stdout is not None
    try:
        ports = json.loads(await asyncio.wait_for(fleet.stdout.readline(), 60))
        print(
            f"fleet: {DEVICES} simulated Modbus TCP devices, each its own endpoint, "
            f"{REGISTERS} holding registers, one FC3 request per poll"
        )
        print(f"steady state: every device once a second, {WINDOW_S:.0f} s window")
        collector = await run_collector(ports, 1.0, WINDOW_S)
        print(collector.line())
        if not WITH_NODERED:
            collector = await run_collector(ports, 0.001, STRESS_S)
            print(f"stress: as fast as it can, {STRESS_S:.0f} s window")
            print(collector.line())
            return
        nodered = await run_nodered(red, ports, 1000, WINDOW_S)
        print(nodered.line())
        ratio = collector.cpu_pct / max(nodered.cpu_pct, 1e-9)
        print(f"  ratio collector / Node-RED CPU: {ratio:.2f}x (goal <= 1.0x)")
        print(f"stress: as fast as each can, {STRESS_S:.0f} s window")
        collector = await run_collector(ports, 0.001, STRESS_S)
        print(collector.line())
        nodered = await run_nodered(red, ports, 10, STRESS_S)
        print(nodered.line())
        ratio = collector.registers_per_cpu_s / max(nodered.registers_per_cpu_s, 1e-9)
        print(f"  ratio collector / Node-RED registers per CPU-second: {ratio:.2f}x (goal >= 2x)")
    finally:
        fleet.stdin.close()
        try:
            await asyncio.wait_for(fleet.wait(), 20)
        except TimeoutError:
            fleet.kill()
            await fleet.wait()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(_serve(int(sys.argv[2])))
    elif len(sys.argv) == 6 and sys.argv[1] == "--collect":
        asyncio.run(
            _collect(json.loads(sys.argv[2]), sys.argv[3], float(sys.argv[4]), Path(sys.argv[5]))
        )
    else:
        main()
