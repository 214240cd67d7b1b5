"""A durable, bounded, in-order FIFO of byte records on disk (SQLite, WAL).

Used wherever something must survive the next hop being down, and a restart of this
process: the collectors' MQTT buffer and the gateway's InfluxDB spool. Records come out in
the order they went in; they are deleted only when the consumer acknowledges them, so a
crash between send and acknowledge replays (consumers are idempotent), never loses.

Bounds: ``max_bytes`` and ``max_age_s``. When a put would exceed them, the OLDEST records
are dropped (the newest state is worth more to a monitoring centre than the oldest) and
counted in a persistent ``dropped`` counter that the owner publishes.

Thread-safe: paho-mqtt calls back from its network thread.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from facility.errors import StorageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('dropped', 0);
INSERT OR IGNORE INTO counters VALUES ('bytes', 0);
"""


@dataclass(frozen=True, slots=True)
class Record:
    id: int
    key: str  # e.g. the MQTT topic, or a batch label
    body: bytes
    created: float  # epoch seconds when put


@dataclass(frozen=True, slots=True)
class SpoolStats:
    depth: int
    bytes: int
    oldest_age_s: float
    dropped: int


class Spool:
    """A bounded FIFO of records in one SQLite file."""

    def __init__(self, path: Path, *, max_bytes: int = 256 * 2**20, max_age_s: float = 0) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a power cut may lose the last transactions, a process crash
            # loses nothing — the right trade for a buffer that is written hundreds of times/s.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._bytes = int(self._counter("bytes"))
        except sqlite3.Error as exc:
            raise StorageError(f"spool {path}: cannot open: {exc}") from exc

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def put(self, key: str, body: bytes) -> None:
        """Append one record (drops the oldest beyond the bounds, counting them)."""
        self.put_many([(key, body)])

    def put_many(self, records: Iterable[tuple[str, bytes]]) -> None:
        """Append records in one transaction."""
        now = time.time()
        rows = [(key, body, len(body), now) for key, body in records]
        if not rows:
            return
        added = sum(r[2] for r in rows)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO records (key, body, size, created) VALUES (?, ?, ?, ?)", rows
                )
                self._bytes += added
                self._enforce_bounds(now)
                self._db.execute("UPDATE counters SET value=? WHERE name='bytes'", (self._bytes,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StorageError(f"spool {self.path}: write failed: {exc}") from exc

    def _enforce_bounds(self, now: float) -> None:
        dropped = 0
        if self.max_age_s > 0:
            cutoff = now - self.max_age_s
            row = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records WHERE created < ?",
                (cutoff,),
            ).fetchone()
            if row[0]:
                self._db.execute("DELETE FROM records WHERE created < ?", (cutoff,))
                dropped += int(row[0])
                self._bytes -= int(row[1])
        while self._bytes > self.max_bytes:
            # drop the oldest in chunks; the newest record always stays
            rows = self._db.execute("SELECT id, size FROM records ORDER BY id LIMIT 500").fetchall()
            excess = self._bytes - self.max_bytes
            cut_id, freed, count = None, 0, 0
            for row_id, size in rows[:-1] if len(rows) > 1 else []:
                cut_id, freed, count = row_id, freed + size, count + 1
                if freed >= excess:
                    break
            if cut_id is None:
                break
            self._db.execute("DELETE FROM records WHERE id <= ?", (cut_id,))
            self._bytes -= freed
            dropped += count
        if dropped:
            self._db.execute(
                "UPDATE counters SET value = value + ? WHERE name='dropped'", (dropped,)
            )

    def peek(self, limit: int = 500) -> list[Record]:
        """The oldest ``limit`` records, in order, without removing them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, key, body, created FROM records ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [Record(int(r[0]), str(r[1]), bytes(r[2]), float(r[3])) for r in rows]

    def ack(self, ids: Iterable[int]) -> None:
        """Remove acknowledged records."""
        id_list = list(ids)
        if not id_list:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                freed = 0
                for start in range(0, len(id_list), 500):
                    chunk = id_list[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    row = self._db.execute(
                        f"SELECT COALESCE(SUM(size), 0) FROM records WHERE id IN ({marks})", chunk
                    ).fetchone()
                    freed += int(row[0])
                    self._db.execute(f"DELETE FROM records WHERE id IN ({marks})", chunk)
                self._bytes -= freed
                self._db.execute("UPDATE counters SET value=? WHERE name='bytes'", (self._bytes,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StorageError(f"spool {self.path}: ack failed: {exc}") from exc

    def stats(self) -> SpoolStats:
        with self._lock:
            depth, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(created) FROM records"
            ).fetchone()
            dropped = self._counter("dropped")
        age = time.time() - float(oldest) if oldest is not None else 0.0
        return SpoolStats(int(depth), self._bytes, age, dropped)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
