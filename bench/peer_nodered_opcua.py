"""The OPC UA collector beside Node-RED on the same simulated server (issue 16).

The project's OPC UA simulator (``simulators.opcua_server.OpcuaEndpointServer``, real OPC UA
on loopback) serves ``OBJECTS`` objects x ``VARIABLES`` Double variables in its own process
and changes every variable once a second (anchored to the clock; ``BENCH_UA_SERVERS`` splits
the objects over several server processes, one endpoint each, should one not keep up — the
server's line in the output says whether its ticks stayed within the second). Both peers
subscribe to every variable at a 1,000 ms sampling and publishing interval:

- the collector: the real ``CollectorService`` (one session and one subscription per server,
  every object polled once a second from the cache, one message per object per second
  published to a real mosquitto, QoS 1);
- Node-RED 4.1.x with node-red-contrib-opcua (``OpcUa-Client``, action ``subscribe``, one
  ``multiple`` monitored-item group of all the server's variables — the node's way to
  subscribe to many), only counting the messages it emits (one per data change).

One after the other (never both at once: the machine has 2 cores), from a fresh process each:
CPU % of one core and RSS (first/last) over the window after a warm-up, notifications per
second received, the ratio, and the time from the spawn of the process until it received the
server's full rate and kept it (``bench._nodered.full_rate_s``). Not a timed test: figures to
read, on a machine shared with other work.

    python -m bench peer_nodered_opcua      # BENCH_PEER_S=60 (window), BENCH_UA_WARMUP_S=20
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
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
    full_rate_s,
    node_version,
    run_collector,
    run_nodered,
    sample,
    version,
)

PACKAGES = ["node-red-contrib-opcua@0.2.354"]  # the newest on the npm registry (Node 20)
OBJECTS = int(os.environ.get("BENCH_UA_OBJECTS", "100"))  # fewer: a quick smoke run
VARIABLES = 40
CHANGES_PER_S = OBJECTS * VARIABLES  # every variable changes once a second
WINDOW_S = float(os.environ.get("BENCH_PEER_S", "60"))
WARMUP_S = float(os.environ.get("BENCH_UA_WARMUP_S", "20"))
SERVERS = int(os.environ.get("BENCH_UA_SERVERS", "1"))
INTERVAL_MS = 1000  # sampling and publishing, both peers
FULL_RATE_GOAL_S = 5.0
PROFILE_ID = "bench-40-variables"
NAMESPACE = "urn:facility:bench"

PROFILE_YAML = f"""
schema_version: 1
id: {PROFILE_ID}
device_class: TNK
vendor: Bench
model: {VARIABLES} Double variables
label: {{en: Bench object, zh: 基准对象}}
protocol: opcua
opcua: {{namespace_uri: '{NAMESPACE}', sampling_interval_ms: {INTERVAL_MS}, queue_size: 10}}
poll_periods_s: {{fast: 1, normal: 1, slow: 1}}
points:
""" + "".join(
    f"  - {{name: v{n:02d}, label: {{en: V{n:02d}, zh: V{n:02d}}}, unit: '', timestamp: source,"
    f" opcua: {{browse_path: V{n:02d}, data_type: Double}}}}\n"
    for n in range(1, VARIABLES + 1)
)


def bench_profile() -> Any:
    from device_profiles.loader import parse_profile

    profile, issues = parse_profile(PROFILE_YAML, f"{PROFILE_ID}.yaml")
    if profile is None:
        raise RuntimeError(f"bench profile invalid: {issues}")
    return profile


def object_no(index: int) -> str:
    return f"BN-TNK-{index + 1:03d}"


# -- the server(s) (their own process) --------------------------------------------------------


async def _serve(index: int, processes: int) -> None:
    """The objects ``index``, ``index + processes``, ... on one endpoint; every variable
    changes each second.

    Prints ``[{"url", "namespace", "objects"}]``; then answers each stdin line with the
    ticks so far, the values written and the slowest tick, until stdin closes."""
    import logging
    from datetime import UTC, datetime

    from simulators.opcua_server import OpcuaEndpointServer

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    profile = bench_profile()
    server = OpcuaEndpointServer("opc.tcp://127.0.0.1:0/bench", name=f"bench-{index}")
    objects = [object_no(i) for i in range(index, OBJECTS, processes)]
    for asset_no in objects:
        server.add_device(asset_no, asset_no, profile, lambda _point, _value: None)
    await server.start()
    namespace = server.namespace_index(NAMESPACE)
    print(json.dumps([{"url": server.url, "namespace": namespace, "objects": objects}]), flush=True)
    stats = {"ticks": 0, "written": 0, "max_tick_ms": 0.0, "late_ticks": 0}

    async def tick() -> None:
        next_at = time.monotonic()
        n = 0
        while True:
            n += 1
            started = time.perf_counter()
            now = datetime.now(UTC)
            for asset_no in objects:
                i = int(asset_no[-3:])
                values = {f"v{r:02d}": float(n + i + r) for r in range(1, VARIABLES + 1)}
                stats["written"] += await server.update(asset_no, values, now)
            took = time.perf_counter() - started
            stats["ticks"] += 1
            stats["max_tick_ms"] = max(stats["max_tick_ms"], took * 1000)
            next_at += 1.0
            if time.monotonic() > next_at:
                stats["late_ticks"] += 1  # a tick longer than a second: the server cannot keep up
                next_at = time.monotonic()
            await asyncio.sleep(next_at - time.monotonic())

    ticker = asyncio.create_task(tick())
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        print(json.dumps(stats), flush=True)
    ticker.cancel()
    await server.stop()


# -- the collector (its own process) ----------------------------------------------------------


async def _collect(endpoints: list[dict[str, Any]], broker_url: str, var: Path) -> None:
    """The real CollectorService subscribed to every variable; also prints notifications."""
    from bench.sim_capacity import _asset
    from collectors.opcua import OpcuaCollector
    from facility.types import OpcuaEndpoint

    assets = [
        _asset(asset_no, PROFILE_ID, OpcuaEndpoint(endpoint["url"], asset_no))
        for endpoint in endpoints
        for asset_no in endpoint["objects"]
    ]

    def notifications(service: Any) -> dict[str, float]:
        sessions = [c for c in service.collectors if isinstance(c, OpcuaCollector)]
        return {
            "notifications": sum(c.notifications for c in sessions),
            "dropped": sum(c.dropped for c in sessions),
        }

    await collect(assets, {PROFILE_ID: bench_profile()}, broker_url, var, notifications)


# -- Node-RED ---------------------------------------------------------------------------------


def nodered_flow(endpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per server: an ``OpcUa-Endpoint``, an ``OpcUa-Client`` subscribing (1 s) and an inject
    at start handing it every variable as one ``multiple`` group; each data change it emits
    goes to the counter."""
    nodes = counter_nodes()
    for s, endpoint in enumerate(endpoints):
        node_ids = [
            {"nodeId": f"ns={endpoint['namespace']};s={asset_no}.V{r:02d}"}
            for asset_no in endpoint["objects"]
            for r in range(1, VARIABLES + 1)
        ]
        nodes += [
            {"id": f"endpoint{s}", "type": "OpcUa-Endpoint", "endpoint": endpoint["url"],
             "secpol": "None", "secmode": "None", "none": True, "login": False,
             "usercert": False, "usercertificate": "", "userprivatekey": ""},
            {"id": f"client{s}", "type": "OpcUa-Client", "z": "flow", "endpoint": f"endpoint{s}",
             "action": "subscribe", "deadbandtype": "a", "deadbandvalue": 0,
             "time": INTERVAL_MS, "timeUnit": "ms", "certificate": "n", "localfile": "",
             "localkeyfile": "", "securitymode": "None", "securitypolicy": "None",
             "useTransport": False, "setstatusandtime": False, "keepsessionalive": False,
             "name": "", "wires": [["count"], [], []]},
            {"id": f"start{s}", "type": "inject", "z": "flow", "once": True,
             "onceDelay": "0.1", "repeat": "", "topic": "multiple",
             "payload": json.dumps(node_ids), "payloadType": "json",
             "props": [{"p": "payload"}, {"p": "topic", "vt": "str"}],
             "wires": [[f"client{s}"]]},
        ]  # fmt: skip
    return nodes


# -- the run ----------------------------------------------------------------------------------


def _figures(name: str, window: Window, key: str, server_cpu_pct: float, extra: str) -> Figures:
    reached = full_rate_s(window.timeline, key, CHANGES_PER_S)
    started = f"{reached:4.1f} s" if reached is not None else f"not within {WARMUP_S:.0f} s"
    return Figures(
        name,
        window.cpu_pct,
        window.rss_start_mb,
        window.rss_end_mb,
        window.rate(key),
        rate_name="notifications/s",
        work_name="notifications",
        extra=f"  full rate after {started}  (server {server_cpu_pct:4.1f} %){extra}",
    )


async def _beside(fleets: list[Fleet], run: Any) -> tuple[Window, float, dict[str, Any]]:
    """Run one peer; the server processes' CPU % of a core over the same time and their
    stats (summed; the slowest tick of all)."""
    pids = [fleet.process.pid for fleet in fleets if fleet.process is not None]
    before = sum(sample(pid)[0] for pid in pids)
    started = time.monotonic()
    window = await run
    after = sum(sample(pid)[0] for pid in pids)
    stats = [await fleet.stats() for fleet in fleets]
    total = {
        "ticks": min(s["ticks"] for s in stats),
        "written": sum(s["written"] for s in stats),
        "max_tick_ms": max(s["max_tick_ms"] for s in stats),
        "late_ticks": sum(s["late_ticks"] for s in stats),
    }
    return window, (after - before) / (time.monotonic() - started) * 100, total


async def run() -> None:
    if COLLECTOR_ROOT != PROJECT_ROOT:
        print(f"collector from {COLLECTOR_ROOT}")
    red = await asyncio.to_thread(ensure_nodered, PACKAGES)
    print(
        f"Node-RED {version('node-red')}, node-red-contrib-opcua "
        f"{version('node-red-contrib-opcua')}, node {await asyncio.to_thread(node_version)}"
    )
    fleets = [Fleet("bench.peer_nodered_opcua", str(i), str(SERVERS)) for i in range(SERVERS)]
    async with contextlib.AsyncExitStack() as stack:
        endpoints = [e for fleet in fleets for e in await stack.enter_async_context(fleet)]
        print(
            f"server: the project's OPC UA simulator, {SERVERS} process(es), one endpoint each, "
            f"{OBJECTS} objects x {VARIABLES} Double variables, every variable changed once a "
            f"second ({CHANGES_PER_S:,}/s); both peers subscribe to all at {INTERVAL_MS} ms"
        )
        print(
            f"each peer from a fresh process: {WARMUP_S:.0f} s warm-up (start tracked), then a "
            f"{WINDOW_S:.0f} s window"
        )
        window, server_cpu, stats = await _beside(
            fleets,
            run_collector(
                "bench.peer_nodered_opcua",
                [json.dumps(endpoints)],
                WARMUP_S,
                WINDOW_S,
                track=True,
            ),
        )
        sent = window.rate("sent")
        dropped = window.last["dropped"] - window.first["dropped"]
        collector = _figures(
            "collector",
            window,
            "notifications",
            server_cpu,
            f"  published+acked/s {sent:4.0f}  server-flagged drops {dropped:.0f}",
        )
        print(collector.line())
        print(f"  server: {_server_line(stats)}")
        if not WITH_NODERED:
            return
        window, server_cpu, stats = await _beside(
            fleets, run_nodered(red, nodered_flow(endpoints), WARMUP_S, WINDOW_S, track=True)
        )
        nodered = _figures("Node-RED", window, "n", server_cpu, "  (counts only)")
        print(nodered.line())
        print(f"  server: {_server_line(stats)}")
        ratio = collector.cpu_pct / max(nodered.cpu_pct, 1e-9)
        print(f"  ratio collector / Node-RED CPU: {ratio:.2f}x (goal <= 1.0x)")
        print(f"  full rate within {FULL_RATE_GOAL_S:.0f} s of start: goal for the collector")


def _server_line(stats: dict[str, Any]) -> str:
    return (
        f"{stats['ticks']} ticks, {stats['written']:,} values written, slowest tick "
        f"{stats['max_tick_ms']:.0f} ms, ticks over a second {stats['late_ticks']}"
    )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        asyncio.run(_serve(int(sys.argv[2]), int(sys.argv[3])))
    elif len(sys.argv) == 5 and sys.argv[1] == "--collect":
        asyncio.run(_collect(json.loads(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))
    else:
        main()
