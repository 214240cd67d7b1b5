"""A durable, bounded, in-order FIFO of byte records on disk (SQLite, WAL).

Used wherever something must survive the next hop being down, and a restart of this
process: the collectors' MQTT buffer and the gateway's InfluxDB spool. Records come out in
the order they went in; they are deleted only when the consumer acknowledges them, so a
crash between send and acknowledge replays (consumers are idempotent), never loses.

Bounds: ``max_bytes`` and ``max_age_s``. When a put would exceed them, the OLDEST records
are dropped (the newest state is worth more to a monitoring centre than the oldest) and
counted in a persistent ``dropped`` counter that the owner publishes.

Failures: a disk that is full (SQLite rolls its transaction back by itself — an explicit
``ROLLBACK`` then fails, PITFALLS.md), a file another process holds locked, an I/O error.
Every one comes out as ``SpoolError`` with a ``kind`` (``full``, ``locked``, ``io``,
``corrupt``, ``readonly``, ``error``), never as a raw ``sqlite3`` error, and leaves the spool as
it was before the call: a failed ``put`` stored nothing, a failed ``ack`` removed nothing (the
records are simply sent again later; consumers are idempotent). ``stats()`` never raises: it
says ``full``/``error_kind`` and counts ``write_errors`` so the owner can publish the
condition; the next successful write clears it.

Thread-safe: paho-mqtt calls back from its network thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from facility.errors import StorageError

# SQLite primary result codes (the low byte of an extended code), by what they mean to us
_KIND_BY_CODE = {
    13: "full",  # SQLITE_FULL: disk full, or max_page_count reached
    5: "locked",  # SQLITE_BUSY: another connection holds the lock beyond busy_timeout
    6: "locked",  # SQLITE_LOCKED
    10: "io",  # SQLITE_IOERR
    11: "corrupt",  # SQLITE_CORRUPT
    26: "corrupt",  # SQLITE_NOTADB
    8: "readonly",  # SQLITE_READONLY
    14: "io",  # SQLITE_CANTOPEN
}
# the same, by message, for errors that carry no code (Python < 3.11 or raised by the module)
_KIND_BY_TEXT = (
    ("database or disk is full", "full"),
    ("database is locked", "locked"),
    ("database table is locked", "locked"),
    ("disk i/o error", "io"),
    ("malformed", "corrupt"),
    ("not a database", "corrupt"),
    ("readonly database", "readonly"),
)

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


class SpoolError(StorageError):
    """The spool could not do what was asked; nothing was half-done.

    ``kind``: ``full`` (disk or size limit), ``locked`` (another process holds the file
    beyond the busy timeout), ``io``, ``corrupt``, ``readonly`` or ``error``.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def error_kind(exc: sqlite3.Error) -> str:
    """What a SQLite error means for a spool (see ``SpoolError.kind``)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _KIND_BY_CODE:
        return _KIND_BY_CODE[code & 0xFF]
    text = str(exc).lower()
    for fragment, kind in _KIND_BY_TEXT:
        if fragment in text:
            return kind
    return "error"


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
    full: bool = False  # the last write failed for lack of space (cleared by the next success)
    error_kind: str = ""  # SpoolError.kind of the last failed write/read; "" once one succeeds
    write_errors: int = 0  # failed puts and acks since this process opened the spool


class Spool:
    """A bounded FIFO of records in one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 256 * 2**20,
        max_age_s: float = 0,
        busy_timeout_s: float = 1.0,
    ) -> None:
        """``busy_timeout_s``: how long a write waits for a lock another process holds before
        it fails with kind ``locked`` (the caller blocks that long: keep it short)."""
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._error_kind = ""
        self._write_errors = 0
        self._last_stats = SpoolStats(0, 0, 0.0, 0)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"spool {path}: cannot create its folder: {exc}", "io") from exc
        try:
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a power cut may lose the last transactions, a process crash
            # loses nothing — the right trade for a buffer that is written hundreds of times/s.
            self._db.execute("PRAGMA synchronous=NORMAL")
            # a short WAL, truncated after each checkpoint: on a small or nearly full disk the
            # default (4 MB before a checkpoint, never shrunk) took most of the room
            self._db.execute("PRAGMA wal_autocheckpoint=256")
            self._db.execute(f"PRAGMA journal_size_limit={2**20}")
            self._db.executescript(_SCHEMA)
            self._bytes = int(self._counter("bytes"))
        except sqlite3.Error as exc:
            kind = error_kind(exc)
            raise SpoolError(f"spool {path}: cannot open ({kind}): {exc}", kind) from exc

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
            bytes_before = self._bytes
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
                self._bytes = bytes_before
                raise self._failed("write", len(rows), exc) from exc
            self._error_kind = ""

    def _failed(self, what: str, count: int, exc: sqlite3.Error) -> SpoolError:
        """Undo what is left of the transaction and say what happened (lock held)."""
        if self._db.in_transaction:
            # on SQLITE_FULL SQLite has already rolled back: ROLLBACK would then raise
            # "cannot rollback - no transaction is active" (PITFALLS.md)
            # if even that fails the connection stays usable: the next BEGIN tells
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        kind = error_kind(exc)
        self._error_kind = kind
        self._write_errors += 1
        return SpoolError(
            f"spool {self.path}: {what} of {count} record(s) failed ({kind}): {exc}", kind
        )

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
            try:
                rows = self._db.execute(
                    "SELECT id, key, body, created FROM records ORDER BY id LIMIT ?", (limit,)
                ).fetchall()
            except sqlite3.Error as exc:
                kind = error_kind(exc)
                raise SpoolError(f"spool {self.path}: read failed ({kind}): {exc}", kind) from exc
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
                self._db.execute(
                    "UPDATE counters SET value=? WHERE name='bytes'", (self._bytes - freed,)
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                # deleting needs space too (WAL frames): on a full disk the records stay
                # and are sent again later
                raise self._failed("ack", len(id_list), exc) from exc
            self._bytes -= freed
            self._error_kind = ""

    def stats(self) -> SpoolStats:
        """Depth, bytes, age, drops and the failure state. Never raises: if the file cannot
        be read now, the last figures are returned with ``error_kind`` set."""
        with self._lock:
            try:
                depth, oldest = self._db.execute(
                    "SELECT COUNT(*), MIN(created) FROM records"
                ).fetchone()
                dropped = self._counter("dropped")
            except sqlite3.Error as exc:
                last = self._last_stats
                kind = self._error_kind or error_kind(exc)
                return SpoolStats(
                    last.depth,
                    self._bytes,
                    last.oldest_age_s,
                    last.dropped,
                    kind == "full",
                    kind,
                    self._write_errors,
                )
            age = time.time() - float(oldest) if oldest is not None else 0.0
            kind = self._error_kind
            self._last_stats = SpoolStats(
                int(depth), self._bytes, age, dropped, kind == "full", kind, self._write_errors
            )
            return self._last_stats

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
