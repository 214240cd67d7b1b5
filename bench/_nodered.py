"""What the benchmarks beside Node-RED share (issue 16): ``peer_nodered`` (Modbus) and
``peer_nodered_opcua`` (OPC UA subscriptions).

- Node-RED 4.1.x and the contrib nodes installed with npm into a scratch folder
  (``var/bench/nodered``, kept for the next run; Node 20);
- a peer process measured from /proc (psutil): CPU % of one core and RSS over a window after a
  warm-up, and optionally its progress sampled from the moment it was spawned (``Window``);
- Node-RED started on a flow whose results go to a counting function node, read on
  ``GET /count``;
- the collector started as its own process (``python -m <case> --collect ...``) publishing to a
  real mosquitto, answering each line on its stdin with its progress as one JSON line;
- ``full_rate_s``: when a peer reached the fleet's rate and kept it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRATCH = Path(os.environ.get("BENCH_NODERED_DIR", PROJECT_ROOT / "var" / "bench" / "nodered"))
NODE_RED = "node-red@4.1"
# another checkout's collector (e.g. main, for a before/after figure); Node-RED can be skipped
COLLECTOR_ROOT = Path(os.environ.get("BENCH_COLLECTOR_ROOT", PROJECT_ROOT))
WITH_NODERED = os.environ.get("BENCH_NODERED", "1") != "0"
TRACK_EVERY_S = 0.25  # progress sampling while a start is tracked

Progress = dict[str, float]


def _package_name(spec: str) -> str:
    return spec.rsplit("@", 1)[0] if spec.rfind("@") > 0 else spec


def ensure_nodered(packages: Sequence[str]) -> Path:
    """Install Node-RED and ``packages`` (npm specs) into the scratch folder, once each."""
    red = SCRATCH / "node_modules" / "node-red" / "red.js"
    specs = [NODE_RED, *packages]
    missing = [
        spec
        for spec in specs
        if not (SCRATCH / "node_modules" / _package_name(spec) / "package.json").exists()
    ]
    if missing:
        SCRATCH.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm not found: Node 20 + npm are needed for the peer benchmark")
        # every package at once: npm's install keeps only what it is told (plus the lock)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(SCRATCH), *specs],
            check=True,
            timeout=1800,
        )
    return red


def version(package: str) -> str:
    meta = SCRATCH / "node_modules" / package / "package.json"
    return str(json.loads(meta.read_text())["version"])


def node_version() -> str:
    return subprocess.check_output(["node", "--version"], text=True, timeout=30).strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(pid: int) -> tuple[float, float]:
    """CPU-seconds (user + system) and RSS (MB) of one process."""
    import psutil

    process = psutil.Process(pid)
    times = process.cpu_times()
    return float(times.user + times.system), process.memory_info().rss / 2**20


@dataclass
class Window:
    """What one peer process did over the measured window, and (when tracked) its progress
    from the moment it was spawned: ``(seconds since spawn, progress)``."""

    cpu_pct: float
    rss_start_mb: float
    rss_end_mb: float
    wall_s: float
    first: Progress
    last: Progress
    timeline: list[tuple[float, Progress]] = field(default_factory=list)

    def rate(self, key: str) -> float:
        return (self.last[key] - self.first[key]) / self.wall_s


async def measure(
    pid: int,
    progress: Callable[[], Awaitable[Progress]],
    spawned_at: float,
    warmup_s: float,
    window_s: float,
    *,
    track: bool = False,
) -> Window:
    """Warm up (sampling progress from the spawn if ``track``), then measure ``window_s``."""
    timeline: list[tuple[float, Progress]] = []
    warm = spawned_at + warmup_s
    while track and time.monotonic() < warm:
        timeline.append((time.monotonic() - spawned_at, await progress()))
        await asyncio.sleep(TRACK_EVERY_S)
    await asyncio.sleep(max(0.0, warm - time.monotonic()))
    p0, (cpu0, rss0), t0 = await progress(), sample(pid), time.monotonic()
    await asyncio.sleep(window_s)
    p1, (cpu1, rss1), t1 = await progress(), sample(pid), time.monotonic()
    wall = t1 - t0
    return Window((cpu1 - cpu0) / wall * 100, rss0, rss1, wall, p0, p1, timeline)


def full_rate_s(
    timeline: Sequence[tuple[float, Progress]],
    key: str,
    target_per_s: float,
    *,
    slack_s: float = 1.5,
    hold_s: float = 5.0,
) -> float | None:
    """Seconds from the spawn until the peer had received its first full round of changes
    (``target_per_s`` worth) at the fleet's rate, and then kept that rate.

    Found as the first sample T after which the peer is never more than ``slack_s`` of
    changes behind (a change may wait one publishing interval, and the server's tick
    jitters): ``count(t) - count(T) >= target_per_s * (t - T - slack_s)`` at every later
    sample t, for at least ``hold_s``; the answer is the first sample after T by which a full
    round had arrived. None: not reached within the tracked warm-up."""
    for index, (start, at_start) in enumerate(timeline):
        later = timeline[index + 1 :]
        if not later or later[-1][0] - start < hold_s:
            return None
        if not all(
            now[key] - at_start[key] >= target_per_s * (moment - start - slack_s)
            for moment, now in later
        ):
            continue
        for moment, now in later:
            if now[key] - at_start[key] >= 0.95 * target_per_s:
                return moment
    return None


@dataclass
class Figures:
    """One peer's line in the bench's output."""

    name: str
    cpu_pct: float
    rss_start_mb: float
    rss_end_mb: float
    rate_per_s: float
    rate_name: str = "polls/s"
    work_per_event: int = 1  # registers per poll, 1 per notification
    work_name: str = "registers"
    extra: str = ""

    @property
    def work_per_cpu_s(self) -> float:
        return self.rate_per_s * self.work_per_event / max(self.cpu_pct / 100, 1e-9)

    def line(self) -> str:
        return (
            f"  {self.name:<22} CPU {self.cpu_pct:5.1f} %  RSS {self.rss_start_mb:5.0f} → "
            f"{self.rss_end_mb:5.0f} MB  {self.rate_name} {self.rate_per_s:7.0f}  "
            f"{self.work_name} per CPU-second {self.work_per_cpu_s:9.0f}{self.extra}"
        )


# -- Node-RED ---------------------------------------------------------------------------------


def counter_nodes() -> list[dict[str, Any]]:
    """A tab, a function node ``count`` counting every message wired into it, and
    ``GET /count`` answering ``{"n": count}``."""
    return [
        {"id": "flow", "type": "tab", "label": "bench"},
        {"id": "count", "type": "function", "z": "flow", "outputs": 1, "wires": [[]],
         "func": "global.set('n', (global.get('n') || 0) + 1);\nreturn null;"},
        {"id": "http", "type": "http in", "z": "flow", "url": "/count", "method": "get",
         "wires": [["reply"]]},
        {"id": "reply", "type": "function", "z": "flow", "outputs": 1,
         "func": "msg.payload = {n: global.get('n') || 0};\nreturn msg;", "wires": [["resp"]]},
        {"id": "resp", "type": "http response", "z": "flow", "wires": []},
    ]  # fmt: skip


async def run_nodered(
    red: Path,
    flow: list[dict[str, Any]],
    warmup_s: float,
    window_s: float,
    *,
    track: bool = False,
) -> Window:
    """Node-RED on ``flow`` (which includes ``counter_nodes()``); progress ``{"n": count}``
    (0 until its HTTP endpoint answers)."""
    http_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        user_dir = Path(tmp)
        (user_dir / "flows.json").write_text(json.dumps(flow))
        (user_dir / "settings.js").write_text(
            f"module.exports = {{uiHost: '127.0.0.1', uiPort: {http_port},"
            " flowFile: 'flows.json', disableEditor: true, httpAdminRoot: false,"
            " logging: {console: {level: 'error'}}, diagnostics: {enabled: false},"
            " editorTheme: {tours: false}, externalModules: {autoInstall: false}};"
        )
        node = shutil.which("node") or "node"
        spawned_at = time.monotonic()
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

        async def progress() -> Progress:
            try:
                return {"n": await asyncio.to_thread(count)}
            except OSError:
                if process.returncode is not None:
                    raise RuntimeError("Node-RED stopped") from None
                if time.monotonic() - spawned_at > 60:
                    raise RuntimeError("Node-RED did not start") from None
                return {"n": 0}

        try:
            if not track:  # wait for its start, then warm up from there
                while not await _answers(count):
                    await progress()  # raises if it stopped or does not start
                    await asyncio.sleep(0.5)
                spawned_at = time.monotonic()
            return await measure(process.pid, progress, spawned_at, warmup_s, window_s, track=track)
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _answers(count: Callable[[], int]) -> bool:
    try:
        await asyncio.to_thread(count)
    except OSError:
        return False
    return True


# -- the collector ----------------------------------------------------------------------------


async def run_collector(
    module: str,
    args: Sequence[str],
    warmup_s: float,
    window_s: float,
    *,
    track: bool = False,
    mode: str = "--collect",
) -> Window:
    """``python -m <module> --collect <args...> <broker url> <scratch dir>`` beside a real
    mosquitto; the process answers each stdin line with its progress as one JSON line.
    ``mode`` names another peer of the same module (``--floor``)."""
    from devtools.services import MosquittoServer

    with tempfile.TemporaryDirectory() as tmp, MosquittoServer(Path(tmp) / "mqtt") as broker:
        spawned_at = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            mode,
            *args,
            broker.url,
            tmp,
            cwd=COLLECTOR_ROOT,
            env={**os.environ, "PYTHONPATH": f"{COLLECTOR_ROOT}:{PROJECT_ROOT}"},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        stdin, stdout = process.stdin, process.stdout

        async def progress() -> Progress:
            stdin.write(b"?\n")
            await stdin.drain()
            return dict(json.loads(await asyncio.wait_for(stdout.readline(), 30)))

        try:
            return await measure(process.pid, progress, spawned_at, warmup_s, window_s, track=track)
        finally:
            stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def collect(
    assets: Sequence[Any],
    profiles: dict[str, Any],
    broker_url: str,
    var: Path,
    more: Callable[[Any], Progress] | None = None,
) -> None:
    """The collector process's side: the real ``CollectorService`` on ``assets``, answering
    each line on stdin with ``{"polls", "sent"}`` (device polls, messages published and
    acknowledged) plus ``more(service)``, until stdin closes. Answered from the event loop,
    so the first answer comes once the process has imported its modules and started."""
    import logging

    from collectors.service import CollectorService
    from facility.mqtt import BrokerSettings

    logging.basicConfig(level=logging.ERROR)
    service = CollectorService(
        assets,
        profiles,
        BrokerSettings.from_url(broker_url),
        var / "bench.spool",
        collector_id="bench-peer",
        seed=1,
    )
    task = asyncio.create_task(service.run())
    loop = asyncio.get_running_loop()
    profiler = _profile_later(loop)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        polls = sum(p.health.polls for p in service.pollers)
        sent = service.publisher.sent if hasattr(service, "publisher") else 0
        report: Progress = {"polls": polls, "sent": sent}
        if more is not None:
            report.update(more(service))
        print(json.dumps(report), flush=True)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.environ["BENCH_CPROFILE"])


def _profile_later(loop: asyncio.AbstractEventLoop) -> Any:
    """``BENCH_CPROFILE=<file>``: profile the collector's event loop with a CPU clock from
    ``BENCH_CPROFILE_AFTER_S`` (20) after its start (the steady state) to its end."""
    if not os.environ.get("BENCH_CPROFILE"):
        return None
    import cProfile

    profiler = cProfile.Profile(time.process_time)
    loop.call_later(float(os.environ.get("BENCH_CPROFILE_AFTER_S", "20")), profiler.enable)
    return profiler


# -- the simulated fleet (its own process) ----------------------------------------------------


class Fleet:
    """``python -m <module> --serve <args...>``: prints one JSON line (its endpoints) when it
    serves, runs until its stdin closes; ``stats()`` asks it for a JSON line of figures."""

    def __init__(self, module: str, *args: str) -> None:
        self.module = module
        self.args = args
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Any:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            "--serve",
            *self.args,
            cwd=PROJECT_ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        return json.loads(await asyncio.wait_for(self.process.stdout.readline(), 300))

    async def stats(self) -> Any:
        assert self.process is not None
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"?\n")
        await self.process.stdin.drain()
        return json.loads(await asyncio.wait_for(self.process.stdout.readline(), 30))

    async def __aexit__(self, *exc_info: object) -> None:
        process = self.process
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()
