"""What the collector has sent, kept for a bounded window so the historian can ask again.

The broker acknowledging a message proves only that the broker took it: a broker restart
can lose a shared subscription (mosquitto 2.0 keeps an offline session's queue but not its
``$share`` subscription, PITFALLS), a gateway can be gone longer than its session lasts.
So nothing here relies on the broker's session semantics. Every message carries a
per-device ``seq``; the historian finds holes in the stored sequence and asks the collector
to send those polls again (``facility/v1/ctl/resend/<site>``); the collector answers from
this log. What the log no longer holds is answered as *missing, with its cause*, and the
historian records that loss as data.

The log also makes ``seq`` survive restarts: the last sequence number handed out per device
is kept here (``last_seq``), so a restarted collector continues where it stopped instead of
starting again at 1 (which would look like a restart, not a gap, to the historian).

One SQLite file (WAL), written in batches from a worker thread: never from the event loop.
Bounded by age (``window_s``), size (``max_bytes``) and the disk it shares with the spool:
its files never take more than half of what is free beside them (their own size counted),
because
the spool — polls not yet sent — matters more than the copies of polls already sent (a 30 min
soak filled a 64 MB spool disk with this log before that rule). The oldest polls go first.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from facility.errors import StorageError

_SCHEMA = """
-- a rowid table: WITHOUT ROWID with ~1 KB bodies took 4 pages of disk per poll
CREATE TABLE IF NOT EXISTS sent_polls (
    id INTEGER PRIMARY KEY,
    asset_no TEXT NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    body BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS sent_polls_key ON sent_polls (asset_no, seq);
CREATE INDEX IF NOT EXISTS sent_polls_created ON sent_polls (created);
CREATE TABLE IF NOT EXISTS last_seq (asset_no TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS losses (
    asset_no TEXT NOT NULL,
    seq_from INTEGER NOT NULL,
    seq_to INTEGER NOT NULL,
    cause TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS losses_asset ON losses (asset_no, seq_from);
"""


@dataclass(frozen=True, slots=True)
class SentRecord:
    asset_no: str
    seq: int
    topic: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Loss:
    """Polls of one device the collector knows it never delivered, and why."""

    asset_no: str
    seq_from: int
    seq_to: int
    cause: str


class SentLog:
    """A bounded log of sent device messages, keyed by (asset_no, seq)."""

    def __init__(
        self, path: Path, *, window_s: float = 1800.0, max_bytes: int = 128 * 2**20
    ) -> None:
        self.path = path
        self.window_s = window_s
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bytes = 0
        self._pruned_at = 0.0
        self._disk_share = max_bytes
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            # pruning must give space back to the disk (the spool shares it): pages freed by
            # deletes are released (incremental vacuum), the WAL is kept short and truncated
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=2000")
            self._db.execute("PRAGMA wal_autocheckpoint=256")
            self._db.execute(f"PRAGMA journal_size_limit={2**20}")
            self._db.executescript(_SCHEMA)
            row = self._db.execute(
                "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM sent_polls"
            ).fetchone()
            self._bytes = int(row[0])
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"sent log {path}: cannot open: {exc}") from exc

    # -- sequence numbers ---------------------------------------------------------------------

    def last_seqs(self) -> dict[str, int]:
        """The last sequence number handed out per device (0 for a device never seen)."""
        with self._lock:
            rows = self._db.execute("SELECT asset_no, seq FROM last_seq").fetchall()
        return {str(a): int(s) for a, s in rows}

    def note_seqs(self, last: Mapping[str, int]) -> None:
        """Remember the newest sequence number per device (before the messages are spooled:
        a crash in between shows as a gap the historian asks about, never as a reused seq)."""
        if not last:
            return
        self._write(
            "note sequence numbers",
            lambda db: db.executemany(
                "INSERT INTO last_seq (asset_no, seq) VALUES (?, ?) "
                "ON CONFLICT (asset_no) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                list(last.items()),
            ),
        )

    # -- sent messages ------------------------------------------------------------------------

    def add(self, records: Iterable[SentRecord]) -> None:
        """Keep acknowledged messages; prune beyond the window and the size bound."""
        now = time.time()
        rows = [(r.asset_no, r.seq, r.topic, r.body, now) for r in records]
        if not rows:
            return

        def insert(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT OR REPLACE INTO sent_polls (asset_no, seq, topic, body, created) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self._bytes += sum(len(r[3]) for r in rows)
            if now - self._pruned_at > 10 or self._bytes > self._limit:
                self._prune(db, now)

        self._write("keep sent messages", insert)

    def _files_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += self.path.with_name(self.path.name + suffix).stat().st_size
        return total

    @property
    def _limit(self) -> int:
        return min(self.max_bytes, self._disk_share)

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        self._pruned_at = now
        self._disk_share = self._share_of_disk()
        db.execute("DELETE FROM sent_polls WHERE created < ?", (now - self.window_s,))
        db.execute("DELETE FROM losses WHERE created < ?", (now - self.window_s,))
        row = db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM sent_polls").fetchone()
        self._bytes = int(row[0])
        while self._bytes > self._limit:
            # oldest tenth of the rows at a time: cheap, and keeps the newest polls
            cut = db.execute(
                "SELECT created FROM sent_polls ORDER BY created "
                "LIMIT 1 OFFSET (SELECT COUNT(*) / 10 FROM sent_polls)"
            ).fetchone()
            if cut is None:
                break
            db.execute("DELETE FROM sent_polls WHERE created <= ?", (cut[0],))
            row = db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM sent_polls").fetchone()
            self._bytes = int(row[0])
        db.execute("PRAGMA incremental_vacuum")  # give the freed pages back to the disk

    def _share_of_disk(self) -> int:
        """The log's files may take half of what is free beside them (their own size
        counted); the polls' bodies take about half of the files (keys, index, free pages
        and the WAL are the rest, measured): so a quarter for the bodies."""
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            return self.max_bytes
        return (free + self._files_bytes()) // 4

    def get(self, asset_no: str, seq_from: int, seq_to: int) -> list[SentRecord]:
        """The kept messages of one device with ``seq_from <= seq <= seq_to``, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, body FROM sent_polls "
                "WHERE asset_no = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (asset_no, seq_from, seq_to),
            ).fetchall()
        return [SentRecord(asset_no, int(s), str(t), bytes(b)) for s, t, b in rows]

    # -- losses -------------------------------------------------------------------------------

    def record_loss(self, loss: Loss) -> None:
        self._write(
            "record a loss",
            lambda db: db.execute(
                "INSERT INTO losses (asset_no, seq_from, seq_to, cause, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (loss.asset_no, loss.seq_from, loss.seq_to, loss.cause, time.time()),
            ),
        )

    def losses(self, asset_no: str, seq_from: int, seq_to: int) -> list[Loss]:
        """Recorded losses of one device overlapping ``[seq_from, seq_to]``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq_from, seq_to, cause FROM losses "
                "WHERE asset_no = ? AND seq_to >= ? AND seq_from <= ? ORDER BY seq_from",
                (asset_no, seq_from, seq_to),
            ).fetchall()
        return [Loss(asset_no, int(a), int(b), str(c)) for a, b, c in rows]

    # -- plumbing -----------------------------------------------------------------------------

    def _write(self, what: str, action: Callable[[sqlite3.Connection], object]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                action(self._db)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:  # SQLite may have rolled back itself (disk full)
                    self._db.execute("ROLLBACK")
                raise StorageError(f"sent log {self.path}: cannot {what}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()
