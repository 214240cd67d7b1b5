"""A small running system for browser tests and benchmarks: a few demo devices, for real.

mosquitto, the simulators, the collector and the alarm engine, each its own process as in
production (``facility sim run``, ``collect run``, ``alarms run``), over a ledger of a few
assets copied from the demo estates' and imported into a SQLite database that the caller's
dashboard reads too. A part can be stopped or killed (``SIGKILL``: no goodbye, only the
broker's last will) to see what the dashboard makes of it. :class:`BusWatcher` is a test
subscriber on the broker: it keeps every device message with the time the poll collected it,
the reference for "within 2 s of the poll that saw it".

Used by ``tests/browser/test_live_chain.py`` and ``bench/live_chain_bench.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from devtools.services import MosquittoServer
from facility.deadline import within
from facility.errors import CommError, ConfigError
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage, PayloadError, decode
from facility.topics import READINGS_WILDCARD
from facility.types import ASSET_NO_RE

ROOT = Path(__file__).resolve().parent.parent
PART_NAMES = ("simulators", "collector", "alarms")


@dataclass
class Process:
    """One part of the system: ``python -m facility.cli <args>``, its output in a log."""

    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str], cwd: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "facility.cli", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the part says goodbye), SIGKILL if it does not end in ``timeout``."""
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the process ends without a word (the broker publishes its last will)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class SmallSystem:
    """mosquitto + simulators + collector + alarm engine on ``asset_nos`` (demo assets of
    one estate), data under ``base``. ``database_url`` and ``broker`` are for the caller's
    dashboard; :meth:`fault` injects a simulator fault; :meth:`kill` ends a part.
    ``settings`` are extra ``FACILITY_...`` variables for every part; ``alarm_file`` the
    text of the engine's ``alarms.yaml`` (per-asset overrides, docs/alarms.md)."""

    def __init__(
        self,
        base: Path,
        asset_nos: Sequence[str],
        *,
        settings: dict[str, str] | None = None,
        alarm_file: str | None = None,
    ) -> None:
        sites = {no.split("-")[0] for no in asset_nos}
        if len(sites) != 1:
            raise ConfigError(f"small system: one estate's assets expected, got {sorted(sites)}")
        self.site = sites.pop()
        self.base = base
        self.var = base / "var"
        self.asset_nos = list(asset_nos)
        self.ledger = base / f"{self.site}.csv"
        self.database_url = f"sqlite:///{self.var / 'facility.db'}"
        self.mosquitto = MosquittoServer(base / "mosquitto")
        self.parts: dict[str, Process] = {}
        self.env: dict[str, str] = {}
        self.settings = dict(settings or {})
        self.alarm_file = alarm_file

    @property
    def broker(self) -> BrokerSettings:
        return BrokerSettings.from_url(self.mosquitto.url)

    def start(self, timeout_s: float = 60.0) -> Self:
        from maintenance.ledger_files import demo_ledger_paths, demo_sites
        from maintenance.store import LedgerStore

        self.var.mkdir(parents=True, exist_ok=True)
        self._write_ledger(next(p for p in demo_ledger_paths() if p.stem == self.site))
        with LedgerStore(self.database_url) as store:
            store.save_sites(demo_sites(), user="small-system")
            store.import_file(self.ledger, user="small-system")
        self.mosquitto.start()
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("FACILITY_", "PYTEST", "COV_"))
        }
        self.env.update(
            {
                "PYTHONPATH": os.pathsep.join(
                    [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
                "FACILITY_PATHS__VAR_DIR": str(self.var),
                "FACILITY_DATABASE__URL": self.database_url,
                "FACILITY_MQTT__URL": self.mosquitto.url,
                "FACILITY_COLLECTOR__METRICS_PORT": "0",
                **self.settings,
            }
        )
        if self.alarm_file is not None:
            (self.var / "alarms.yaml").write_text(self.alarm_file, encoding="utf-8")
        table = self.var / "sim" / "endpoints.json"
        sim = ["sim", "run", "--ephemeral-ports", "--ledger", str(self.ledger)]
        self._add("simulators", sim).start(self.env, self.var)
        deadline = time.monotonic() + timeout_s
        while not table.exists():
            if not self.parts["simulators"].alive or time.monotonic() > deadline:
                raise CommError(
                    "the simulators did not start:\n" + self.parts["simulators"].log_tail()
                )
            time.sleep(0.2)
        self._add("collector", ["collect", "run", "--endpoints", str(table), "--site", self.site])
        self._add("alarms", ["alarms", "run", "--site", self.site, "--no-trends"])
        for name in ("collector", "alarms"):
            self.parts[name].start(self.env, self.var)
        return self

    def _write_ledger(self, source: Path) -> None:
        with source.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            rows = [r for r in reader if r["asset_no"] in self.asset_nos]
            header = list(reader.fieldnames or [])
        missing = set(self.asset_nos) - {r["asset_no"] for r in rows}
        if missing:
            raise ConfigError(f"{source}: no asset {', '.join(sorted(missing))}")
        with self.ledger.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)

    def _add(self, name: str, args: list[str]) -> Process:
        part = Process(name, args, self.var / "log" / f"{name}.log")
        self.parts[name] = part
        return part

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """``facility <args>`` against this system (its var folder, broker and database)."""
        return subprocess.run(
            [sys.executable, "-m", "facility.cli", *args],
            env=self.env,
            cwd=self.var,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def fault(self, asset_no: str, kind: str, *, clear: bool = False) -> None:
        """Inject (or clear) a simulator fault through ``facility sim fault``."""
        done = self.cli("sim", "fault", asset_no, kind, *(["--clear"] if clear else []))
        if done.returncode != 0:
            raise CommError(f"sim fault {asset_no} {kind}: {done.stdout}{done.stderr}")

    def kill(self, name: str) -> None:
        """End one part with SIGKILL (``collector``, ``alarms`` or ``simulators``)."""
        self.parts[name].kill()

    def log_tails(self) -> str:
        return "\n".join(f"--- {n}:\n{p.log_tail()}" for n, p in self.parts.items())

    def stop(self) -> None:
        for part in reversed(list(self.parts.values())):
            part.stop()
        self.mosquitto.stop()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class Seen:
    """A device message as the test subscriber got it: when the poll collected it, when it
    arrived here (both epoch ms), and the message."""

    collected_ms: int
    received_ms: int
    message: DeviceMessage


class BusWatcher:
    """A subscriber on the readings' topics in a thread of its own; keeps every message."""

    def __init__(self, broker: BrokerSettings, client_id: str = "small-system-watcher") -> None:
        self.broker = broker
        self.client_id = f"{client_id}-{os.getpid()}"
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._connected = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="bus-watcher", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        link = MqttLink(
            self.broker,
            self.client_id,
            subscriptions=[(READINGS_WILDCARD, 1)],
            on_message=self._on_message,
        )
        task = asyncio.create_task(link.run())
        with contextlib.suppress(TimeoutError):
            await within(link.connected.wait(), 10)
        if link.connected.is_set():
            self._connected.set()
        await self._stop.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if not payload or not ASSET_NO_RE.match(topic.rsplit("/", 1)[-1]):
            return
        try:
            message = decode(topic, payload)
        except PayloadError:
            return
        seen = Seen(int(message.collected_ts.timestamp() * 1000), int(time.time() * 1000), message)
        with self._lock:
            self._seen.append(seen)

    def first(self, predicate: Callable[[DeviceMessage], bool]) -> Seen | None:
        """The first message kept that ``predicate`` holds for (None: none yet)."""
        with self._lock:
            return next((s for s in self._seen if predicate(s.message)), None)

    def wait_for(self, predicate: Callable[[DeviceMessage], bool], timeout_s: float) -> Seen:
        """The first message ``predicate`` holds for, waiting up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while (found := self.first(predicate)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no such message on the bus in {timeout_s:g} s")
            time.sleep(0.05)
        return found

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._connected.wait(15):
            self.close()
            raise CommError(f"bus watcher: broker {self.broker.host}:{self.broker.port} refused")
        return self

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(10)

    def __exit__(self, *_exc: object) -> None:
        self.close()


def reading_of(message: DeviceMessage, point: str) -> object:
    """The value of ``point`` in a device message (None when it is not in it)."""
    return next((r.value for r in message.readings if r.point == point), None)
