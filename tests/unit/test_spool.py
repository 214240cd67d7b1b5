"""The durable FIFO: order, acknowledge, bounds with counted drops, survival across reopen."""

from __future__ import annotations

import threading
import time
from pathlib import Path

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
