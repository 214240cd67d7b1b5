"""The Modbus collector beside Node-RED on the same simulated fleet (issue 16).

Node-RED 4.1.x with node-red-contrib-modbus 5.23.3 (the newest that installs from the npm
registry; PITFALLS) is installed with npm into a scratch folder (``var/bench/nodered``, kept
for the next run). Both read the same fleet, served by the project's simulator
(``simulators.modbus_server.ModbusGateway``) in its own process: ``DEVICES`` devices, each
its own TCP endpoint, ``REGISTERS`` holding registers read as one FC3 request per device.

- steady: once a second per device. The collector also decodes, quality-stamps and publishes
  every poll to a real mosquitto (QoS 1, retained); Node-RED only counts its results.
- stress: as fast as each can (the collector with a 1 ms period, Node-RED with a 10 ms
  interval per device): registers per CPU-second. Beside them, the *floor* (``_floor``): a
  bare loop doing only what DESIGN's contract asks of any collector per poll (request,
  unpack, encode, journal, QoS 1 publish and its PUBACK) — the most CPython with paho can
  reach on this work, the baseline the collector's stress figure is read against
  (docs/decisions/013-stress-floor.md).

CPU % of one core and memory (RSS) of each peer's own process, from /proc via psutil, over the
same window length, one peer after the other (never both at once: the machine has 2 cores).
Not a timed test: figures to read, on a machine shared with other work.

    python -m bench peer_nodered            # BENCH_PEER_S=60 (window), BENCH_STRESS_S=20
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._nodered import (
    COLLECTOR_ROOT,
    PROJECT_ROOT,
    WITH_NODERED,
    Figures,
    Fleet,
    Window,
    collect,
    counter_nodes,
    ensure_nodered,
    node_version,
    run_collector,
    run_nodered,
    version,
)

PACKAGES = ["node-red-contrib-modbus@5.23.3"]
DEVICES = 100
REGISTERS = 40
WINDOW_S = float(os.environ.get("BENCH_PEER_S", "60"))
STRESS_S = float(os.environ.get("BENCH_STRESS_S", "20"))
WARMUP_S = 10.0
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
    from bench.sim_capacity import _asset
    from device_profiles.models import PollClass
    from facility.types import ModbusEndpoint

    profile = bench_profile().model_copy(
        update={"poll_periods_s": dict.fromkeys(PollClass, period_s)}
    )
    assets = [
        _asset(f"BN-PMP-{i + 1:03d}", PROFILE_ID, ModbusEndpoint("127.0.0.1", port, 1))
        for i, port in enumerate(ports)
    ]
    await collect(assets, {PROFILE_ID: profile}, broker_url, var)


# -- the floor (its own process) -------------------------------------------------------------


async def _floor(ports: list[int], kind: str, broker_url: str, var: Path) -> None:
    """The least CPython does per poll under DESIGN's contract, as baselines for the stress
    case: one FC3 request per device on a plain ``asyncio.Protocol`` (the next sent from the
    reply's callback: no task, no timer, no deadline), the 40 registers unpacked by one
    ``struct``, the message written by one f-string per point, appended to a journal file and
    published QoS 1 retained, the PUBACK read back. No quality, no carried points, no health,
    no resends, no timeouts, no reconnects: what any collector keeping the contract (one
    journaled, acknowledged message per device per poll) has to do at least.

    - ``paho``: one ``os.write`` per poll, published by paho-mqtt on the event loop (as the
      collector does), paho writing each message and reading each PUBACK itself;
    - ``wire``: no MQTT library: the journal and the PUBLISH packets of one loop iteration
      written with one system call each, PUBACKs parsed from whatever one read returns (MQTT
      3.1.1) — the floor of CPython's asyncio itself.

    Answers each stdin line with ``{"polls", "sent"}``."""
    import struct

    loop = asyncio.get_running_loop()
    counts = {"polls": 0, "sent": 0}
    journal = os.open(var / "floor.journal", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    if kind == "paho":
        publish = await _paho_publisher(broker_url, counts)

        def sink(topic: str, body: bytes) -> None:
            os.write(journal, body)
            publish(topic, body)

    else:
        sink = await _wire_publisher(broker_url, counts, journal)
    unpack = struct.Struct(f">{REGISTERS}H").unpack_from
    names = [f'"r{n:02d}":{{"v":' for n in range(REGISTERS)]
    size = 9 + 2 * REGISTERS

    class Device(asyncio.Protocol):
        def __init__(self, number: int) -> None:
            self.asset = f"BN-PMP-{number:03d}"
            self.topic = f"facility/v1/BN/{self.asset}"
            self.tid = 0
            self.buffer = b""
            self.transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.send()

        def send(self) -> None:
            self.tid = (self.tid + 1) & 0xFFFF
            self.transport.write(struct.pack(">HHHBBHH", self.tid, 0, 6, 1, 3, 0, REGISTERS))

        def data_received(self, data: bytes) -> None:
            buffer = self.buffer + data
            if len(buffer) < size:
                self.buffer = buffer
                return
            self.buffer = buffer[size:]
            values = unpack(buffer, 9)
            counts["polls"] += 1
            seq = counts["polls"]
            points = ",".join([f'{n}{v},"q":"good"}}' for n, v in zip(names, values, strict=True)])
            sink(
                self.topic,
                (
                    f'{{"v":1,"site":"BN","asset_no":"{self.asset}","class":"PMP","seq":{seq}'
                    f',"ts":{int(time.time() * 1000)},"points":{{{points}}}}}'
                ).encode(),
            )
            self.send()

    for number, port in enumerate(ports, 1):
        await loop.create_connection(functools.partial(Device, number), "127.0.0.1", port)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        print(json.dumps(counts), flush=True)
    # the journal stays open to the end: a flush may still be scheduled (the process exits)


async def _paho_publisher(broker_url: str, counts: dict[str, int]) -> Callable[[str, bytes], Any]:
    """paho-mqtt (MQTT 5, as the collector) on the event loop: its ``publish``."""
    from urllib.parse import urlsplit

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    url = urlsplit(broker_url)
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-floor", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.max_inflight_messages_set(1000)

    def on_publish(*_args: Any) -> None:
        counts["sent"] += 1

    client.on_publish = on_publish
    connected = asyncio.Event()
    client.on_connect = lambda *_args: connected.set()
    if url.username:
        client.username_pw_set(url.username, url.password)
    client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=600)
    sock = client.socket()
    assert sock is not None

    def readable() -> None:
        client.loop_read()
        if client.want_write():
            client.loop_write()

    asyncio.get_running_loop().add_reader(sock, readable)
    await asyncio.wait_for(connected.wait(), 30)
    return functools.partial(client.publish, qos=1, retain=True)


async def _wire_publisher(
    broker_url: str, counts: dict[str, int], journal: int
) -> Callable[[str, bytes], None]:
    """MQTT 3.1.1 written by hand: CONNECT, then QoS 1 retained PUBLISHes; the journal
    records and the packets of one loop iteration each written with one system call."""
    from urllib.parse import urlsplit

    loop = asyncio.get_running_loop()
    url = urlsplit(broker_url)

    def field(text: str) -> bytes:
        data = text.encode()
        return len(data).to_bytes(2, "big") + data

    def length(n: int) -> bytes:
        out = bytearray()
        while True:
            n, digit = n >> 7, n & 0x7F
            out.append(digit | (0x80 if n else 0))
            if not n:
                return bytes(out)

    flags, login = 0x02, b""  # clean session
    if url.username:
        flags, login = flags | 0x80, login + field(url.username)
    if url.password:
        flags, login = flags | 0x40, login + field(url.password)
    body = field("MQTT") + bytes([4, flags]) + (600).to_bytes(2, "big") + field("bench-wire")
    body += login
    connack: asyncio.Future[None] = loop.create_future()

    class Broker(asyncio.Protocol):
        buffer = b""

        def data_received(self, data: bytes) -> None:
            buffer = self.buffer + data
            at = 0
            while len(buffer) - at >= 4:  # CONNACK (0x20) and PUBACK (0x40): 4 bytes each
                if buffer[at] == 0x20 and not connack.done():
                    connack.set_result(None)
                else:
                    counts["sent"] += 1
                at += 4
            self.buffer = buffer[at:]

    transport, _ = await loop.create_connection(Broker, url.hostname, url.port or 1883)
    transport.write(b"\x10" + length(len(body)) + body)
    await asyncio.wait_for(connack, 30)
    packets: list[bytes] = []
    records: list[bytes] = []
    mid = 0

    def flush() -> None:
        os.write(journal, b"".join(records))
        transport.write(b"".join(packets))
        records.clear()
        packets.clear()

    def publish(topic: str, payload: bytes) -> None:
        nonlocal mid
        if not packets:
            loop.call_soon(flush)
        mid = mid % 0xFFFF + 1
        head = field(topic) + mid.to_bytes(2, "big")
        records.append(payload)
        packets.append(b"\x33" + length(len(head) + len(payload)) + head + payload)

    return publish


# -- Node-RED ---------------------------------------------------------------------------------


def nodered_flow(ports: list[int], interval_ms: int) -> list[dict[str, Any]]:
    """One modbus-client + modbus-read (FC3, REGISTERS registers) per device; results are
    counted in a function node and served on GET /count."""
    rate, unit = (
        (str(interval_ms // 1000), "s") if interval_ms >= 1000 else (str(interval_ms), "ms")
    )
    nodes = counter_nodes()
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


async def nodered_figures(
    red: Path, ports: list[int], interval_ms: int, window_s: float
) -> Figures:
    window = await run_nodered(red, nodered_flow(ports, interval_ms), WARMUP_S, window_s)
    return _figures("Node-RED", window, window.rate("n"), " (counts only)")


async def collector_figures(ports: list[int], period_s: float, window_s: float) -> Figures:
    window = await run_collector(
        "bench.peer_nodered", [json.dumps(ports), str(period_s)], WARMUP_S, window_s
    )
    sent = window.rate("sent")
    return _figures("collector", window, window.rate("polls"), f"  published+acked/s {sent:6.0f}")


async def floor_figures(ports: list[int], kind: str, window_s: float) -> Figures:
    window = await run_collector(
        "bench.peer_nodered", [json.dumps(ports), kind], WARMUP_S, window_s, mode="--floor"
    )
    sent = window.rate("sent")
    return _figures(
        f"floor ({kind})", window, window.rate("polls"), f"  published+acked/s {sent:6.0f}"
    )


def _figures(name: str, window: Window, polls_per_s: float, extra: str) -> Figures:
    return Figures(
        name,
        window.cpu_pct,
        window.rss_start_mb,
        window.rss_end_mb,
        polls_per_s,
        work_per_event=REGISTERS,
        extra=extra,
    )


async def run() -> None:
    if COLLECTOR_ROOT != PROJECT_ROOT:
        print(f"collector from {COLLECTOR_ROOT}")
    red = await asyncio.to_thread(ensure_nodered, PACKAGES)
    print(
        f"Node-RED {version('node-red')}, node-red-contrib-modbus "
        f"{version('node-red-contrib-modbus')}, node {await asyncio.to_thread(node_version)}"
    )
    async with Fleet("bench.peer_nodered", str(DEVICES)) as ports:
        print(
            f"fleet: {DEVICES} simulated Modbus TCP devices, each its own endpoint, "
            f"{REGISTERS} holding registers, one FC3 request per poll"
        )
        print(f"steady state: every device once a second, {WINDOW_S:.0f} s window")
        collector = await collector_figures(ports, 1.0, WINDOW_S)
        print(collector.line())
        if not WITH_NODERED:
            print(f"stress: as fast as it can, {STRESS_S:.0f} s window")
            await _stress(ports, None)
            return
        nodered = await nodered_figures(red, ports, 1000, WINDOW_S)
        print(nodered.line())
        ratio = collector.cpu_pct / max(nodered.cpu_pct, 1e-9)
        print(f"  ratio collector / Node-RED CPU: {ratio:.2f}x (goal <= 1.0x)")
        print(f"stress: as fast as each can, {STRESS_S:.0f} s window")
        await _stress(ports, red)


async def _stress(ports: list[int], red: Path | None) -> None:
    """The stress case: the collector, the two floors (``_floor``) and Node-RED one after the
    other; registers per CPU-second and their ratios."""
    peers = [await collector_figures(ports, 0.001, STRESS_S)]
    print(peers[0].line())
    for kind in ("paho", "wire"):
        peers.append(await floor_figures(ports, kind, STRESS_S))
        print(peers[-1].line())
    if red is not None:
        peers.append(await nodered_figures(red, ports, 10, STRESS_S))
        print(peers[-1].line())
    print("  registers per CPU-second, row / column:")
    print("  " + " " * 16 + "".join(f"{peer.name:>16}" for peer in peers[1:]))
    for row in peers[:-1]:
        ratios = (row.work_per_cpu_s / max(column.work_per_cpu_s, 1e-9) for column in peers[1:])
        print(f"  {row.name:<16}" + "".join(f"{ratio:>15.2f}x" for ratio in ratios))
    if red is not None:
        ratio = peers[0].work_per_cpu_s / max(peers[-1].work_per_cpu_s, 1e-9)
        print(f"  ratio collector / Node-RED registers per CPU-second: {ratio:.2f}x (goal >= 2x)")


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(_serve(int(sys.argv[2])))
    elif len(sys.argv) == 6 and sys.argv[1] == "--floor":
        asyncio.run(_floor(json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], Path(sys.argv[5])))
    elif len(sys.argv) == 6 and sys.argv[1] == "--collect":
        asyncio.run(
            _collect(json.loads(sys.argv[2]), sys.argv[4], float(sys.argv[3]), Path(sys.argv[5]))
        )
    else:
        main()
