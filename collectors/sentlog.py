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

Storage (docs/decisions/012-sent-log-segments.md): the sent polls themselves go to
append-only segment files beside the log (``<path>.seg.<n>``), one ``os.write`` per batch —
they are written once and read only when the historian asks, so a B-tree with two indexes
was the wrong home for them (SQLite took about 10 µs of CPU per poll, a fifth of the
collector's CPU under stress). Each segment covers at most ``segment_s`` seconds; in memory
the log keeps, per segment, the range of ``seq`` it holds per device, so a resend request
reads only the segments that can answer it. The small, rarely written things — the last
``seq`` per device and the recorded losses — stay in one SQLite file (WAL) at ``path``.
Written in batches from a worker thread: never from the event loop.

Record: ``<QIHHI`` header (seq, body length, asset_no length, topic length, crc32 of
asset_no+topic+body), then the three. A torn record (a crash mid-write) ends that segment
for the reader; the next run writes to a new segment.

Bounded by age (``window_s``: whole segments older than it are deleted), size (``max_bytes``)
and the disk it shares with the spool: its files never take more than half of what is free
beside them (their own size counted), because the spool — polls not yet sent — matters more
than the copies of polls already sent (a 30 min soak filled a 64 MB spool disk with this log
before that rule). The oldest segments go first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from facility.errors import StorageError

log = logging.getLogger(__name__)

_SCHEMA = """
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

_HEADER = struct.Struct("<QIHHI")
MIN_SEGMENT_BYTES = 64 * 2**10
PRUNE_EVERY_S = 10.0


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


@dataclass(slots=True)
class _Segment:
    """One segment file: its size, when it was last written, and per device the lowest and
    highest ``seq`` it holds."""

    number: int
    path: Path
    size: int = 0
    started: float = 0.0
    last_write: float = 0.0
    ranges: dict[str, list[int]] = field(default_factory=dict)

    def note(self, asset_no: str, seq: int) -> None:
        span = self.ranges.get(asset_no)
        if span is None:
            self.ranges[asset_no] = [seq, seq]
        elif seq < span[0]:
            span[0] = seq
        elif seq > span[1]:
            span[1] = seq

    def may_hold(self, asset_no: str, seq_from: int, seq_to: int) -> bool:
        span = self.ranges.get(asset_no)
        return span is not None and span[0] <= seq_to and seq_from <= span[1]


def _records(data: bytes, where: Path) -> Iterable[SentRecord]:
    """Each whole record of a segment's bytes, in order; stops (with a warning) at a torn or
    damaged record."""
    offset, size = 0, len(data)
    while offset + _HEADER.size <= size:
        seq, body_len, asset_len, topic_len, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + asset_len + topic_len + body_len
        if end > size or zlib.crc32(data[start:end]) != crc:
            log.warning(
                "sent log %s: torn record at byte %d, rest of the segment ignored", where, offset
            )
            return
        topic_at = start + asset_len
        body_at = topic_at + topic_len
        record = SentRecord(
            data[start:topic_at].decode("utf-8", "replace"),
            seq,
            data[topic_at:body_at].decode("utf-8", "replace"),
            data[body_at:end],
        )
        yield record
        offset = end


class SentLog:
    """A bounded log of sent device messages, keyed by (asset_no, seq)."""

    def __init__(
        self,
        path: Path,
        *,
        window_s: float = 1800.0,
        max_bytes: int = 128 * 2**20,
        segment_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.window_s = window_s
        self.max_bytes = max_bytes
        self.segment_s = segment_s
        self._clock = clock
        self._lock = threading.Lock()
        self._bytes = 0  # of every segment file
        self._pruned_at = 0.0
        self._disk_share = max_bytes
        self._segments: list[_Segment] = []  # oldest first; the last one is written
        self._fd: int | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=2000")
            self._db.execute(f"PRAGMA journal_size_limit={2**20}")
            self._db.executescript(_SCHEMA)
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"sent log {path}: cannot open: {exc}") from exc
        self._load_segments()
        self._disk_share = self._share_of_disk()

    def _migrate(self) -> None:
        """Logs written before the segments kept the polls in a ``sent_polls`` table: those
        copies are dropped once (resends of them are answered "missing"), the space given
        back."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sent_polls'"
        ).fetchone()
        if not row[0]:
            return
        self._db.execute("DROP TABLE sent_polls")
        self._db.execute("PRAGMA incremental_vacuum")
        log.warning(
            "sent log %s: copies kept in the old format dropped (now in segments)", self.path
        )

    # -- segment files ------------------------------------------------------------------------

    def _segment_path(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.seg.{number:08d}")

    def _load_segments(self) -> None:
        """Index the segments an earlier run left (their ranges of seq per device)."""
        prefix = self.path.name + ".seg."
        found = sorted(
            (int(p.name[len(prefix) :]), p)
            for p in self.path.parent.glob(prefix + "*")
            if p.name[len(prefix) :].isdigit()
        )
        for number, seg_path in found:
            try:
                data = seg_path.read_bytes()
                mtime = seg_path.stat().st_mtime
            except OSError as exc:
                log.warning("sent log %s: cannot read, skipped: %s", seg_path, exc)
                continue
            segment = _Segment(number, seg_path, len(data), mtime, mtime)
            for record in _records(data, seg_path):
                segment.note(record.asset_no, record.seq)
            self._segments.append(segment)
            self._bytes += segment.size

    def _start_segment(self, now: float) -> _Segment:
        """Close the written segment, open the next (the first write of a run opens a new one:
        an earlier run's last segment may end in a torn record)."""
        self._close_fd()
        number = self._segments[-1].number + 1 if self._segments else 1
        seg_path = self._segment_path(number)
        try:
            self._fd = os.open(seg_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise StorageError(f"sent log {seg_path}: cannot open: {exc}") from exc
        segment = _Segment(number, seg_path, 0, now, now)
        self._segments.append(segment)
        return segment

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _segment_bytes(self) -> int:
        """Sixteen segments fill the bound: pruning never drops much more than it must."""
        return max(MIN_SEGMENT_BYTES, self._limit // 16)

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
        """Keep acknowledged messages (one write); prune beyond the window and the bounds."""
        now = self._clock()
        parts: list[bytes] = []
        keys: list[tuple[str, int]] = []
        pack, crc32 = _HEADER.pack, zlib.crc32
        for r in records:
            asset = r.asset_no.encode()
            payload = asset + r.topic.encode() + r.body
            parts.append(
                pack(
                    r.seq,
                    len(r.body),
                    len(asset),
                    len(payload) - len(asset) - len(r.body),
                    crc32(payload),
                )
            )
            parts.append(payload)
            keys.append((r.asset_no, r.seq))
        if not keys:
            return
        data = b"".join(parts)
        with self._lock:
            segment = self._segments[-1] if self._segments and self._fd is not None else None
            if (
                segment is None
                or segment.size >= self._segment_bytes()
                or now - segment.started >= self.segment_s
            ):
                segment = self._start_segment(now)
            assert self._fd is not None
            try:
                written = os.write(self._fd, data)
            except OSError as exc:
                self._close_fd()  # the next batch starts a new segment
                raise StorageError(
                    f"sent log {segment.path}: cannot keep sent messages: {exc}"
                ) from exc
            segment.size += written
            self._bytes += written
            if written != len(data):  # a full disk: the tail is torn, readers stop there
                self._close_fd()
                raise StorageError(f"sent log {segment.path}: short write (disk full?)")
            for asset_no, seq in keys:
                segment.note(asset_no, seq)
            segment.last_write = now
            if now - self._pruned_at > PRUNE_EVERY_S or self._bytes > self._limit:
                self._prune(now)

    def _files_bytes(self) -> int:
        total = self._bytes
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += self.path.with_name(self.path.name + suffix).stat().st_size
        return total

    @property
    def _limit(self) -> int:
        return min(self.max_bytes, self._disk_share)

    def _prune(self, now: float) -> None:
        """Under the lock: segments older than the window go, then the oldest until the files
        fit the bound; recorded losses older than the window go too."""
        self._pruned_at = now
        self._disk_share = self._share_of_disk()
        cutoff = now - self.window_s
        while self._segments and (
            self._segments[0].last_write < cutoff or self._bytes > self._limit
        ):
            if len(self._segments) == 1 and self._fd is not None:
                self._close_fd()  # the written segment itself must go: the next add opens one
            segment = self._segments.pop(0)
            with contextlib.suppress(FileNotFoundError):
                segment.path.unlink()
            self._bytes -= segment.size
        with contextlib.suppress(sqlite3.Error):  # losses are few; the next prune tries again
            self._db.execute("DELETE FROM losses WHERE created < ?", (cutoff,))

    def _share_of_disk(self) -> int:
        """The log's files may take half of what is free beside them (their own size
        counted)."""
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            return self.max_bytes
        return (free + self._files_bytes()) // 2

    def get(self, asset_no: str, seq_from: int, seq_to: int) -> list[SentRecord]:
        """The kept messages of one device with ``seq_from <= seq <= seq_to``, in order (the
        newest copy of a poll kept twice)."""
        with self._lock:
            candidates = [
                (s.path, s.size) for s in self._segments if s.may_hold(asset_no, seq_from, seq_to)
            ]
        found: dict[int, SentRecord] = {}
        for seg_path, size in candidates:  # append-only: what was written up to size stays
            try:
                with seg_path.open("rb") as f:
                    data = f.read(size)
            except FileNotFoundError:  # pruned meanwhile
                continue
            except OSError as exc:
                raise StorageError(f"sent log {seg_path}: cannot read: {exc}") from exc
            for record in _records(data, seg_path):
                if record.asset_no == asset_no and seq_from <= record.seq <= seq_to:
                    found[record.seq] = record
        return [found[seq] for seq in sorted(found)]

    # -- losses -------------------------------------------------------------------------------

    def record_loss(self, loss: Loss) -> None:
        self._write(
            "record a loss",
            lambda db: db.execute(
                "INSERT INTO losses (asset_no, seq_from, seq_to, cause, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (loss.asset_no, loss.seq_from, loss.seq_to, loss.cause, self._clock()),
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
            self._close_fd()
            self._db.close()
