"""The fault suite's instrument: the whole system as real processes, a supervisor, fault
injectors, an independent witness and the counting (docs/faults.md).

Nothing here imports the product's MQTT link, spool, gateway or decoder: the witness speaks
MQTT through paho directly and parses JSON itself, and the counter asks the real influxd over
HTTP. What the product claims about itself is never taken as evidence.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REPORT_PATH = ROOT / "var" / "faults" / "report.md"

# The columns of the README's table: keep these names.
COLUMNS = (
    "fault",
    "published",
    "stored",
    "lost",
    "duplicated",
    "alarms re-raised",
    "orders duplicated",
    "time to recover",
)


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- processes ---------------------------------------------------------------------------------


@dataclass
class Part:
    """One service of the system, started as ``python -m facility.cli ...`` (as demo does)."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    supervised: bool = True  # the supervisor restarts it when it dies

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Restarts a part that died, as systemd or ``facility demo`` would, and counts it.

    A person is not part of the system: a part that is alive but no longer working is not
    this supervisor's business — the suite reports it as not recovered.
    """

    def __init__(self, parts: list[Part], period_s: float = 0.5) -> None:
        self.parts = parts
        self.period_s = period_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="faults-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            yield

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            with self._lock:
                for part in self.parts:
                    if part.supervised and part.process is not None and not part.alive:
                        part.restarts += 1
                        part.start()

    def restarts(self) -> dict[str, int]:
        return {p.name: p.restarts for p in self.parts}


# -- the witness -------------------------------------------------------------------------------


class Witness:
    """A plain (not shared) persistent MQTT subscriber on ``facility/v1/+/+``.

    Records, per device, every ``(collected ts ms, seq)`` it sees. Independent of the product:
    its own paho client, its own broker session, its own parsing (a message it cannot read is
    counted and ignored, never a dead thread).
    """

    def __init__(
        self, host: str, port: int, devices: set[str], credentials: tuple[str, str] | None = None
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.devices = devices
        self.seen: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
        self.unreadable = 0
        self.messages = 0
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id="faults-witness",
            protocol=mqtt.MQTTv5,
        )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(0.2, 2)
        if credentials is not None:  # the bus is closed (issue 11)
            self._client.username_pw_set(*credentials)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 86_400
        self._client.connect_async(host, port, keepalive=10, clean_start=False, properties=props)
        self._client.loop_start()

    def _on_connect(self, client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe("facility/v1/+/+", qos=1)

    def _on_message(self, _c: Any, _u: Any, message: Any) -> None:
        self.messages += 1
        try:
            if len(message.payload) > 1_000_000:
                raise ValueError("too large for a reading")
            body = json.loads(message.payload)
            asset_no, seq, ts = body["asset_no"], body["seq"], body["ts"]
            if type(seq) is not int or type(ts) is not int or not isinstance(asset_no, str):
                raise ValueError("not a reading")
            if message.topic != f"facility/v1/{body['site']}/{asset_no}":
                raise ValueError("topic mismatch")
        except (ValueError, TypeError, KeyError, RecursionError):
            self.unreadable += 1
            return
        if asset_no in self.devices:
            with self._lock:
                self.seen[asset_no].setdefault((ts, seq), time.time())

    def snapshot(self) -> dict[str, set[tuple[int, int]]]:
        with self._lock:
            return {a: set(obs) for a, obs in self.seen.items()}

    def head_ms(self) -> dict[str, int]:
        """Per device, the newest collected ts seen."""
        with self._lock:
            return {a: max(ts for ts, _ in obs) for a, obs in self.seen.items() if obs}

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


# -- what InfluxDB holds -----------------------------------------------------------------------

DEVICE_MEASUREMENTS = ("pmp", "pdp", "tnk", "lgt", "fap")


class InfluxCounter:
    """Reads what the real influxd holds, over its HTTP API (never through the product)."""

    def __init__(self, url: str, database: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 8086
        self.database = database

    def query(self, q: str) -> list[dict[str, Any]]:
        params = urllib.parse.urlencode({"q": q, "db": self.database, "epoch": "ms"})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request("GET", f"/query?{params}")
            response = conn.getresponse()
            body = json.loads(response.read() or b"{}")
        finally:
            conn.close()
        series: list[dict[str, Any]] = []
        for result in body.get("results", []):
            if "error" in result and "database not found" not in result["error"]:
                raise RuntimeError(f"influxd: {q!r}: {result['error']}")
            series.extend(result.get("series", []))
        return series

    def _rows(self, q: str) -> Iterator[dict[str, Any]]:
        for s in self.query(q):
            tags = s.get("tags", {})
            for values in s["values"]:
                yield {**tags, **dict(zip(s["columns"], values, strict=True))}

    def health(self, lo_ms: int, hi_ms: int) -> dict[str, list[tuple[int, int]]]:
        """Per device, every stored ``(ts ms, seq)`` of ``device_health`` in [lo, hi]."""
        out: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for start in range(lo_ms, hi_ms + 1, 300_000):  # slices keep answers small
            end = min(start + 299_999, hi_ms)
            q = (
                'SELECT "seq", "asset_no" FROM "device_health" '
                f"WHERE time >= {start}ms AND time <= {end}ms"
            )
            for row in self._rows(q):
                if row.get("seq") is not None:
                    out[row["asset_no"]].append((int(row["time"]), int(row["seq"])))
        return out

    def device_times(self, lo_ms: int, hi_ms: int) -> dict[str, set[int]]:
        """Per device, the timestamps of the device-class lines in [lo, hi]."""
        out: dict[str, set[int]] = defaultdict(set)
        source = ",".join(f'"{m}"' for m in DEVICE_MEASUREMENTS)
        for start in range(lo_ms, hi_ms + 1, 300_000):
            end = min(start + 299_999, hi_ms)
            q = f"SELECT * FROM {source} WHERE time >= {start}ms AND time <= {end}ms"
            for s in self.query(q):
                cols = s["columns"]
                t_i, a_i = cols.index("time"), cols.index("asset_no")
                for values in s["values"]:
                    out[values[a_i]].add(int(values[t_i]))
        return out

    def heads(self, since_ms: int) -> dict[str, int]:
        """Per device, the newest stored health ts after ``since_ms``."""
        q = f'SELECT last("seq") FROM "device_health" WHERE time > {since_ms}ms GROUP BY "asset_no"'
        return {s["tags"]["asset_no"]: int(s["values"][0][0]) for s in self.query(q)}

    def recorded_loss(self, lo_ms: int, hi_ms: int) -> int:
        """Readings the system itself says it lost in [lo, hi] (``ingest_events`` rows that
        name a device and carry a ``lost`` count) — loss counted per device, with its cause."""
        q = f'SELECT * FROM "ingest_events" WHERE time >= {lo_ms}ms AND time <= {hi_ms}ms'
        total = 0
        for row in self._rows(q):
            if row.get("asset_no") and isinstance(row.get("lost"), int | float):
                total += int(row["lost"])
        return total


# -- counting ----------------------------------------------------------------------------------


@dataclass
class Count:
    published: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    lost_by_device: dict[str, int] = field(default_factory=dict)


def _epochs(obs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """``(ts, seq)`` sorted by ts → ``(epoch, ts, seq)``. A collector that restarts without
    keeping its sequence starts again near 1: a new epoch. Other backward steps stay in
    their epoch (a re-sent seq is then a duplicate, which is what it is)."""
    out: list[tuple[int, int, int]] = []
    epoch, previous = 0, None
    for ts, seq in sorted(set(obs)):
        if previous is not None and seq < previous and (seq <= 10 or seq < previous // 2):
            epoch += 1
            previous = seq
        elif previous is None or seq > previous:
            previous = seq
        out.append((epoch, ts, seq))
    return out


def count_device(
    witnessed: set[tuple[int, int]],
    health: list[tuple[int, int]],
    device_ts: set[int],
    lo_ms: int,
    hi_ms: int,
) -> Count:
    """Published, stored, lost, duplicated for one device and the window [lo, hi].

    Published is every seq the collector produced for polls collected in the window: the
    seq range between the first observation at/after ``lo`` and the first observation after
    ``hi`` (from the witness or InfluxDB), per epoch — so a reading that neither saw still
    counts as published (its seq is missing from a contiguous range). Stored is a seq with a
    ``device_health`` row AND the device line at the same ts. Duplicated is a stored seq
    found at more than one timestamp.
    """
    labelled = _epochs([*witnessed, *health])
    seq_of = {(ts, seq): epoch for epoch, ts, seq in labelled}
    by_epoch: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for epoch, ts, seq in labelled:
        by_epoch[epoch].append((ts, seq))
    published: set[tuple[int, int]] = set()
    epochs_in = sorted({e for e, ts, _ in labelled if lo_ms <= ts <= hi_ms})
    for n, epoch in enumerate(epochs_in):
        rows = by_epoch[epoch]
        inside = [seq for ts, seq in rows if lo_ms <= ts <= hi_ms]
        after = [seq for ts, seq in rows if ts > hi_ms]
        # the first epoch is cut at the window's start; a later one began inside it, at 1
        lo_seq = min(inside) if n == 0 else 1
        hi_seq = min(after) - 1 if after else max(inside)
        published.update((epoch, s) for s in range(lo_seq, hi_seq + 1))
    stored_ts: dict[tuple[int, int], set[int]] = defaultdict(set)
    for ts, seq in health:
        key = (seq_of[(ts, seq)], seq)
        if key in published and ts in device_ts:
            stored_ts[key].add(ts)
    stored = len(stored_ts)
    duplicated = sum(len(v) - 1 for v in stored_ts.values())
    return Count(len(published), stored, len(published) - stored, duplicated)


def count_window(
    witness: Witness, influx: InfluxCounter, devices: set[str], lo_ms: int, hi_ms: int
) -> Count:
    margin = 120_000  # observations after hi bound the last seq of the window
    health = influx.health(lo_ms - margin, hi_ms + margin)
    times = influx.device_times(lo_ms, hi_ms + margin)
    seen = witness.snapshot()
    total = Count()
    for asset_no in sorted(devices):
        c = count_device(
            {o for o in seen.get(asset_no, set()) if o[0] >= lo_ms - margin},
            health.get(asset_no, []),
            times.get(asset_no, set()),
            lo_ms,
            hi_ms,
        )
        total.published += c.published
        total.stored += c.stored
        total.lost += c.lost
        total.duplicated += c.duplicated
        if c.lost:
            total.lost_by_device[asset_no] = c.lost
    return total


# -- SQL: alarm journal and work orders --------------------------------------------------------


class SqlCounter:
    """Reads the SQLite database directly (read-only, short timeout)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        for _ in range(60):  # the suite may be holding the database locked itself
            try:
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
                try:
                    return db.execute(sql, params).fetchall()
                finally:
                    db.close()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                time.sleep(0.5)
        raise RuntimeError(f"{self.path}: could not read {sql!r}")

    def journal_head(self) -> int:
        rows = self._query("SELECT COALESCE(MAX(id), 0) FROM alarm_journal")
        return int(rows[0][0]) if rows else 0

    def raises_after(self, journal_id: int, exclude: set[str]) -> list[str]:
        rows = self._query(
            "SELECT alarm_id FROM alarm_journal WHERE id > ? AND event IN ('raise', 'realarm')",
            (journal_id,),
        )
        return [r[0] for r in rows if r[0] not in exclude]

    def double_raises(self) -> int:
        """Raises of an alarm that already stood: a 'raise' whose previous raise/clear/reset
        of the same alarm was a raise (a restart that forgot its state would do this)."""
        rows = self._query(
            "SELECT alarm_id, event FROM alarm_journal"
            " WHERE event IN ('raise', 'clear', 'reset') ORDER BY id"
        )
        last: dict[str, str] = {}
        doubles = 0
        for alarm_id, event in rows:
            if event == "raise" and last.get(alarm_id) == "raise":
                doubles += 1
            last[alarm_id] = event
        return doubles

    def order_duplicates(self) -> int:
        """Work orders beyond one per plan and due window, and open corrective orders beyond
        one per asset and condition."""
        preventive = self._query(
            "SELECT COUNT(*) - COUNT(DISTINCT plan_id || '|' || COALESCE(due_at, ''))"
            " FROM work_orders WHERE plan_id IS NOT NULL"
        )
        corrective = self._query(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM work_orders"
            " WHERE kind = 'corrective' AND closed_at IS NULL AND cancelled_at IS NULL"
            " GROUP BY asset_no, condition HAVING COUNT(*) > 1)"
        )
        return sum(int(r[0] or 0) for r in (*preventive, *corrective))


# -- fault injectors ---------------------------------------------------------------------------


class InfluxFaultProxy:
    """An HTTP proxy between the product and the real influxd that can misbehave.

    Modes: ``pass``; ``error500`` (every request answered 500); ``hang`` (requests are held
    unanswered while the mode lasts, then the connection is closed); ``garbage`` (200 with an
    HTML body, nothing forwarded); ``partial`` (a write is forwarded without its last line
    and answered as influxd answers a partial write: 400 ``partial write: points beyond
    retention policy dropped=1``).
    """

    def __init__(self, target_url: str) -> None:
        parts = urllib.parse.urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 8086)
        self.mode = "pass"
        self.requests: dict[str, int] = defaultdict(int)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                mode = proxy.mode
                proxy.requests[mode] += 1
                if mode == "error500":
                    return self._answer(500, b'{"error":"internal error (fault injected)"}')
                if mode == "hang":
                    while proxy.mode == "hang":
                        time.sleep(0.1)
                    self.close_connection = True
                    return None
                if mode == "garbage":
                    return self._answer(200, b"<html><body>It works!</body></html>", "text/html")
                dropped = 0
                if mode == "partial" and self.path.startswith("/write"):
                    lines = body.splitlines(keepends=True)
                    if len(lines) > 1:
                        body, dropped = b"".join(lines[:-1]), 1
                status, headers, answer = proxy.forward(self.command, self.path, self.headers, body)
                if dropped and status < 300:
                    text = f"partial write: points beyond retention policy dropped={dropped}"
                    return self._answer(400, json.dumps({"error": text}).encode())
                return self._answer(status, answer, headers.get("Content-Type"), headers)

            def _answer(
                self,
                status: int,
                body: bytes,
                content_type: str | None = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                if content_type and not headers:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="influx-proxy", daemon=True).start()

    def forward(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(*self.target, timeout=60)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            conn.request(method, path, body=body or None, headers=keep)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        except OSError:
            return 503, {}, b'{"error":"influxd unreachable behind the fault proxy"}'
        finally:
            conn.close()

    def close(self) -> None:
        self.mode = "pass"
        self.server.shutdown()
        self.server.server_close()


class ModbusCorruptingProxy:
    """A TCP proxy between the collector and one Modbus TCP simulator endpoint; in
    ``corrupt`` mode it mangles the responses (garbage, wrong length, wrong transaction id,
    truncated frames, exception codes that do not exist)."""

    def __init__(self, target: tuple[str, int], seed: int = 7) -> None:
        self.target = target
        self.mode = "pass"
        self.corrupted = 0
        self._rng = random.Random(seed)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, name="modbus-proxy", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _mangle(self, data: bytes) -> bytes:
        self.corrupted += 1
        kind = self._rng.randrange(5)
        if kind == 0:
            return bytes(self._rng.randrange(256) for _ in range(len(data)))
        if kind == 1 and len(data) >= 6:  # MBAP length that lies
            return data[:4] + (0xFFFF).to_bytes(2, "big") + data[6:]
        if kind == 2 and len(data) >= 2:  # a transaction id nobody asked for
            return (int.from_bytes(data[:2], "big") ^ 0x5A5A).to_bytes(2, "big") + data[2:]
        if kind == 3:
            return data[: max(1, len(data) // 2)]
        if len(data) >= 9:  # exception response with an undefined code
            return data[:7] + bytes([data[7] | 0x80, 0x7F])
        return data[::-1]

    def _pipe(self, src: socket.socket, dst: socket.socket, response: bool) -> None:
        with contextlib.suppress(OSError):
            src.settimeout(None)
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if response and self.mode == "corrupt":
                    data = self._mangle(data)
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()


@contextlib.contextmanager
def sqlite_locked(path: Path, seconds: float) -> Iterator[None]:
    """Hold ``BEGIN EXCLUSIVE`` on the database from a second connection."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        yield
        time.sleep(seconds)
        db.execute("ROLLBACK")
    finally:
        db.close()


def try_mount_tmpfs(path: Path, size_mb: int) -> str | None:
    """Mount a small tmpfs at ``path``; None on success, else why not (printed as skip)."""
    if os.geteuid() != 0:
        return f"not root (uid {os.geteuid()}): cannot mount a small disk for the spool"
    if shutil.which("mount") is None:
        return "no mount command"
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"mount -t tmpfs refused: {done.stderr.strip() or done.returncode}"
    return None


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill_disk(path: Path) -> Path:
    """Write a file until the disk under ``path`` is full; returns it (delete to free)."""
    filler = path / "filler.bin"
    chunk = b"\0" * 2**20
    with contextlib.suppress(OSError), filler.open("wb") as handle:
        while True:
            handle.write(chunk)
            handle.flush()
    with contextlib.suppress(OSError), filler.open("ab") as handle:  # the last few KB too
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()
    return filler


def wait_until(predicate: Callable[[], bool], timeout: float, period: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return predicate()


def http_ok(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(200 <= response.status < 400)
    except OSError:
        return False


def process_tree_stats(pid: int) -> tuple[int, int]:
    """RSS bytes and threads of a process and its children."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        rss = threads = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                rss += proc.memory_info().rss
                threads += proc.num_threads()
        return rss, threads
    except psutil.Error:
        return 0, 0


def python() -> str:
    return sys.executable
