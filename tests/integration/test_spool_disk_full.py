"""A spool on a real, small filesystem (tmpfs) that fills up: put and ack fail with kind
``full`` — never a raw sqlite3 error — nothing is half-done, and both work again once there
is room (issue 9, finding 4). Needs the right to mount (root in the CI container); skipped
otherwise — tests/unit/test_spool.py covers the same path with SQLite's max_page_count."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from facility.errors import StorageError
from facility.spool import Spool


@contextlib.contextmanager
def _tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A real, small filesystem (skips the test where mounting is not allowed)."""
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with _tmpfs(tmp_path / "disk", "256k") as mount:
        yield mount


def test_a_spool_that_fills_its_disk_survives_and_recovers(small_disk: Path) -> None:
    with Spool(small_disk / "s.db") as spool:
        stored, kind = 0, None
        while stored < 10_000:
            try:
                spool.put("k", os.urandom(2000))
            except StorageError as exc:  # main: a raw sqlite3 error escaped here
                kind = getattr(exc, "kind", None)
                break
            stored += 1
        assert kind == "full"
        assert spool.stats().full is True
        assert spool.stats().depth == stored
        # deleting needs room too (WAL): the records stay, to be sent again later
        ids = [r.id for r in spool.peek(5)]
        with pytest.raises(StorageError, match="full"):
            spool.ack(ids)
        assert spool.stats().depth == stored
        subprocess.run(["mount", "-o", "remount,size=1m", str(small_disk)], check=True)
        spool.ack(ids)
        spool.put("k", b"after")
        stats = spool.stats()
        assert (stats.full, stats.error_kind, stats.depth) == (False, "", stored - 5 + 1)


@pytest.fixture
def spool_disk(tmp_path: Path) -> Iterator[Path]:
    with _tmpfs(tmp_path / "spool-disk", "8m") as mount:
        yield mount


def test_the_sent_log_leaves_the_spool_its_disk(spool_disk: Path) -> None:
    """A 30 min soak filled a 64 MB spool disk with copies of sent polls, and the spool then
    refused new polls. The sent log now keeps to half of what is free beside it."""
    from collectors.sentlog import SentLog, SentRecord

    sent = SentLog(spool_disk / "c.spool.sent", max_bytes=128 * 2**20)
    try:
        for batch in range(200):  # 200 x 50 x 1 KB = 10 MB of sent polls, on an 8 MB disk
            sent.add(
                SentRecord("HT-PMP-001", batch * 50 + i, "t", os.urandom(1000)) for i in range(50)
            )
            sent._pruned_at = 0  # prune at every batch (10 s apart in production)
        with Spool(spool_disk / "c.spool") as spool:
            for _ in range(500):  # 1 MB of unsent polls still fits beside the log
                spool.put("k", os.urandom(2000))
            assert spool.stats().depth == 500
        assert sent.get("HT-PMP-001", 9_999, 9_999), "the newest sent poll is kept"
    finally:
        sent.close()
