"""The durable FIFO: order, acknowledge, bounds with counted drops, survival across reopen."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from facility import spool as spool_module
from facility.errors import StorageError
from facility.spool import Spool


def test_records_come_out_in_order_and_leave_on_ack(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db") as spool:
        spool.put_many((f"t/{n}", str(n).encode()) for n in range(10))
        first = spool.peek(4)
        assert [r.body for r in first] == [b"0", b"1", b"2", b"3"]
        spool.ack(r.id for r in first[:2])
        assert [r.body for r in spool.peek(3)] == [b"2", b"3", b"4"]
        stats = spool.stats()
        assert stats.depth == 8
        assert stats.bytes == 8
        assert stats.dropped == 0


def test_survives_reopen_with_counters(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Spool(path, max_bytes=10) as spool:
        spool.put_many(("k", b"xx") for _ in range(8))  # 16 bytes > 10: 3 oldest dropped
        kept = [r.id for r in spool.peek()]
    with Spool(path, max_bytes=10) as spool:
        assert [r.id for r in spool.peek()] == kept
        stats = spool.stats()
        assert stats.bytes == 10
        assert stats.dropped == 3


def test_byte_bound_drops_oldest_and_keeps_newest(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db", max_bytes=5) as spool:
        for n in range(10):
            spool.put("k", bytes([n]) * 2)
        assert [r.body for r in spool.peek()] == [b"\x08\x08", b"\x09\x09"]
        assert spool.stats().dropped == 8


def test_a_single_record_larger_than_the_bound_is_kept(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db", max_bytes=4) as spool:
        spool.put("k", b"0123456789")
        assert [r.body for r in spool.peek()] == [b"0123456789"]


def test_age_bound(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db", max_age_s=0.05) as spool:
        spool.put("k", b"old")
        time.sleep(0.1)
        spool.put("k", b"new")
        assert [r.body for r in spool.peek()] == [b"new"]
        assert spool.stats().dropped == 1


def test_concurrent_producers_lose_nothing(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db") as spool:

        def produce(tag: int) -> None:
            for n in range(200):
                spool.put(f"t{tag}", f"{tag}:{n}".encode())

        threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        records = spool.peek(10_000)
        assert len(records) == 800
        for tag in range(4):
            mine = [r.body for r in records if r.key == f"t{tag}"]
            assert mine == [f"{tag}:{n}".encode() for n in range(200)]


def _fill_to_the_limit(spool: Spool) -> int:
    """Cap the file at its current size (SQLite's max_page_count gives the same SQLITE_FULL
    path as a full disk) and put records until a put fails; how many went in."""
    db = sqlite3.connect(spool.path)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    spool._db.execute(f"PRAGMA max_page_count={pages + 2}")  # a fault injector
    for stored in range(10_000):
        try:
            spool.put("k", b"x" * 2000)
        except StorageError as exc:  # not a raw sqlite3 error
            if getattr(exc, "kind", None) != "full":
                raise
            return stored
    raise AssertionError("the size limit never bit")


def test_a_full_disk_is_reported_not_raised_raw_and_stores_nothing_half(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db") as spool:
        spool.put("k", b"first")
        stored = _fill_to_the_limit(spool)
        with pytest.raises(StorageError, match=r"\(full\): database or disk is full") as caught:
            spool.put_many(("k", b"y" * 2000) for _ in range(20))
        assert isinstance(caught.value, spool_module.SpoolError)
        assert caught.value.kind == "full"
        stats = spool.stats()
        assert stats.full is True
        assert stats.error_kind == "full"
        assert stats.write_errors == 2
        assert stats.depth == 1 + stored  # the failed puts left nothing behind
        assert stats.bytes == 5 + 2000 * stored
        # acknowledging frees room: the spool takes records again and says so
        spool.ack(r.id for r in spool.peek(3))
        spool.put("k", b"after")
        stats = spool.stats()
        assert (stats.full, stats.error_kind, stats.depth) == (False, "", stored - 1)
        assert spool.peek(10_000)[-1].body == b"after"


def test_a_locked_spool_fails_put_and_ack_with_kind_locked_and_keeps_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    with Spool(path, busy_timeout_s=0.05) as spool:
        spool.put_many(("k", str(n).encode()) for n in range(3))
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StorageError, match="database is locked") as caught:
                spool.put("k", b"3")
            assert getattr(caught.value, "kind", None) == "locked"
            ids = [r.id for r in spool.peek()]  # WAL: readers are not blocked
            with pytest.raises(StorageError) as caught:
                spool.ack(ids[:2])
            assert getattr(caught.value, "kind", None) == "locked"
            stats = spool.stats()
            assert (stats.full, stats.error_kind, stats.write_errors) == (False, "locked", 2)
        finally:
            other.execute("ROLLBACK")
            other.close()
        spool.ack(ids[:2])
        spool.put("k", b"3")
        assert [r.body for r in spool.peek()] == [b"2", b"3"]
        assert spool.stats().error_kind == ""
        assert spool.stats().bytes == 2
