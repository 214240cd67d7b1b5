"""A spool on a real, small filesystem (tmpfs) that fills up: put and ack fail with kind
``full`` — never a raw sqlite3 error — nothing is half-done, and both work again once there
is room (issue 9, finding 4). Needs the right to mount (root in the CI container); skipped
otherwise — tests/unit/test_spool.py covers the same path with SQLite's max_page_count."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from facility.errors import StorageError
from facility.spool import Spool


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


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
