"""An append-only journal of the polls handed to the publisher: what a SIGKILL cannot lose.

The publisher keeps polls in memory until the broker acknowledges them (collectors.publisher);
a process killed meanwhile would lose them. So each poll is also appended here — one
``os.write`` from the event loop, no thread hop, no fsync: the kernel holds the bytes once
``write`` returns, so a killed process loses nothing (a power cut may lose the last moments,
as SQLite with ``synchronous=NORMAL`` does). The next start reads the journal back and
spools every record it holds (duplicates of polls the broker did acknowledge are harmless:
consumers are idempotent), so nothing a poll produced is lost and no sequence number reused.

Segments (``<path>.<n>``) of at most ``segment_bytes``; the publisher says when a poll is
*resolved* (acknowledged and in the sent log, or in the spool, or counted lost) and a full
segment whose polls are all resolved is deleted. Steady state: a few small files, written
sequentially, read only after a crash.

Record: ``>III`` header (key length, body length, crc32 of key+body), key (UTF-8), body. A
torn record at the end (power cut mid-write) is detected by its length or checksum and the
rest of that segment ignored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import zlib
from pathlib import Path

from facility.errors import StorageError

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">III")


class Journal:
    """Append-only segments of ``(key, body)`` records, deleted once resolved."""

    def __init__(self, path: Path, *, segment_bytes: int = 4 * 2**20) -> None:
        self.path = path
        self.segment_bytes = segment_bytes
        self._open: dict[int, int] = {}  # segment -> unresolved records
        self._fd: int | None = None
        self._segment = 0
        self._size = 0
        self._recovered: list[Path] = []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"journal {path}: cannot create its folder: {exc}") from exc
        existing = sorted(self._segments())
        self._recovered = [p for _, p in existing]
        self._segment = existing[-1][0] if existing else 0

    def _segments(self) -> list[tuple[int, Path]]:
        found = []
        for candidate in self.path.parent.glob(self.path.name + ".*"):
            suffix = candidate.name[len(self.path.name) + 1 :]
            if suffix.isdigit():
                found.append((int(suffix), candidate))
        return found

    def _name(self, segment: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{segment}")

    # -- after a crash ------------------------------------------------------------------------

    def recover(self) -> list[tuple[str, bytes]]:
        """Every record left by the previous run, in order (empty after a clean stop)."""
        records: list[tuple[str, bytes]] = []
        for segment in self._recovered:
            try:
                data = segment.read_bytes()
            except OSError as exc:
                raise StorageError(f"journal {segment}: cannot read: {exc}") from exc
            offset = 0
            while offset + _HEADER.size <= len(data):
                key_len, body_len, crc = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                end = start + key_len + body_len
                if end > len(data) or zlib.crc32(data[start:end]) != crc:
                    log.warning("journal %s: torn record at byte %d, rest ignored", segment, offset)
                    break
                key = data[start : start + key_len].decode("utf-8", "replace")
                records.append((key, data[start + key_len : end]))
                offset = end
        return records

    def discard_recovered(self) -> None:
        """The recovered records are safe elsewhere (the spool): delete their segments."""
        for segment in self._recovered:
            with contextlib.suppress(FileNotFoundError):
                segment.unlink()
        self._recovered = []

    # -- this run -----------------------------------------------------------------------------

    def append(self, key: str, body: bytes) -> int:
        """Append one record; returns its segment (for ``resolve``). Raises StorageError."""
        if self._fd is None or self._size >= self.segment_bytes:
            self._rotate()
        assert self._fd is not None
        key_bytes = key.encode()
        payload = key_bytes + body
        record = _HEADER.pack(len(key_bytes), len(body), zlib.crc32(payload)) + payload
        try:
            written = os.write(self._fd, record)
        except OSError as exc:
            raise StorageError(f"journal {self._name(self._segment)}: cannot write: {exc}") from exc
        if written != len(record):  # a full disk: the record is torn, the next start skips it
            self._rotate()
            raise StorageError(f"journal {self._name(self._segment)}: short write (disk full?)")
        self._size += written
        self._open[self._segment] = self._open.get(self._segment, 0) + 1
        return self._segment

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._delete_if_done(self._segment)
        self._segment += 1
        self._size = 0
        name = self._name(self._segment)
        try:
            self._fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise StorageError(f"journal {name}: cannot open: {exc}") from exc
        self._open.setdefault(self._segment, 0)

    def resolve(self, segment: int, count: int = 1) -> None:
        """``count`` records of ``segment`` are safe elsewhere or given up."""
        left = self._open.get(segment, 0) - count
        self._open[segment] = max(left, 0)
        if segment != self._segment or self._fd is None:
            self._delete_if_done(segment)

    def _delete_if_done(self, segment: int) -> None:
        if self._open.get(segment, 0) == 0:
            self._open.pop(segment, None)
            with contextlib.suppress(FileNotFoundError):
                self._name(segment).unlink()

    @property
    def unresolved(self) -> int:
        return sum(self._open.values())

    def close(self) -> None:
        """Close; segments whose records are all resolved are deleted (a clean stop leaves
        none)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for segment in list(self._open):
            self._delete_if_done(segment)
