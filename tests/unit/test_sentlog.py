"""The collector's sent log: polls kept in append-only segments, found by device and seq,
bounded by age and size, surviving restarts and torn writes (collectors/sentlog.py)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from collectors.sentlog import SentLog, SentRecord

TOPIC = "facility/v1/HT/PMP/HT-PMP-001"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _records(asset_no: str, seqs: range, size: int = 100) -> list[SentRecord]:
    return [SentRecord(asset_no, s, TOPIC, bytes([s % 256]) * size) for s in seqs]


def _segments(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".seg.*"))


def test_a_resend_gets_the_device_s_polls_in_order_and_nothing_else(tmp_path: Path) -> None:
    log = SentLog(tmp_path / "c.sent")
    try:
        log.add(_records("HT-PMP-001", range(1, 6)) + _records("HT-PMP-002", range(1, 6)))
        log.add(_records("HT-PMP-001", range(6, 11)))
        got = log.get("HT-PMP-001", 3, 8)
        assert [r.seq for r in got] == [3, 4, 5, 6, 7, 8]
        assert {r.asset_no for r in got} == {"HT-PMP-001"}
        assert got[0] == SentRecord("HT-PMP-001", 3, TOPIC, bytes([3]) * 100)
        assert log.get("HT-PMP-003", 1, 10) == []
        assert log.get("HT-PMP-002", 6, 10) == []
    finally:
        log.close()


def test_a_poll_sent_twice_is_answered_once_with_its_newest_copy(tmp_path: Path) -> None:
    log = SentLog(tmp_path / "c.sent")
    try:
        log.add([SentRecord("HT-PMP-001", 7, TOPIC, b"first")])
        log.add([SentRecord("HT-PMP-001", 7, TOPIC, b"again")])
        assert log.get("HT-PMP-001", 1, 10) == [SentRecord("HT-PMP-001", 7, TOPIC, b"again")]
    finally:
        log.close()


def test_what_was_kept_survives_a_restart(tmp_path: Path) -> None:
    log = SentLog(tmp_path / "c.sent")
    log.add(_records("HT-PMP-001", range(1, 101)))
    log.note_seqs({"HT-PMP-001": 100})
    log.close()
    again = SentLog(tmp_path / "c.sent")
    try:
        assert [r.seq for r in again.get("HT-PMP-001", 90, 200)] == list(range(90, 101))
        again.add(_records("HT-PMP-001", range(101, 103)))
        assert len(_segments(tmp_path / "c.sent")) == 2, "a new run writes a new segment"
        assert [r.seq for r in again.get("HT-PMP-001", 99, 200)] == [99, 100, 101, 102]
        assert again.last_seqs() == {"HT-PMP-001": 100}
    finally:
        again.close()


def test_a_torn_record_ends_its_segment_and_the_rest_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A crash mid-write leaves half a record: the whole ones before it are answered."""
    log = SentLog(tmp_path / "c.sent")
    log.add(_records("HT-PMP-001", range(1, 11)))
    log.close()
    (segment,) = _segments(tmp_path / "c.sent")
    data = segment.read_bytes()
    segment.write_bytes(data + data[:150])  # a record's header and part of its body
    with caplog.at_level(logging.WARNING, logger="collectors.sentlog"):
        again = SentLog(tmp_path / "c.sent")
    try:
        assert "torn record" in caplog.text
        assert [r.seq for r in again.get("HT-PMP-001", 1, 100)] == list(range(1, 11))
        damaged = bytearray(segment.read_bytes())
        damaged[40] ^= 0xFF  # a flipped byte in the first record's body: its checksum fails
        segment.write_bytes(bytes(damaged))
        assert again.get("HT-PMP-001", 1, 100) == []
    finally:
        again.close()


def test_segments_older_than_the_window_are_deleted(tmp_path: Path) -> None:
    clock = Clock()
    log = SentLog(tmp_path / "c.sent", window_s=600, segment_s=60, clock=clock)
    try:
        for minute in range(20):  # one batch a minute: one segment a minute
            log.add(_records("HT-PMP-001", range(minute * 10 + 1, minute * 10 + 11)))
            clock.now += 60
        kept = log.get("HT-PMP-001", 1, 1000)
        # the window is 600 s: the polls of the last ten minutes (and not much more) are kept
        assert kept[-1].seq == 200
        assert 100 <= len(kept) <= 120
        assert kept[0].seq == 200 - len(kept) + 1, "the oldest go first, nothing in between"
        assert len(_segments(tmp_path / "c.sent")) <= 12
    finally:
        log.close()


def test_the_size_bound_drops_the_oldest_segments_and_keeps_the_newest(tmp_path: Path) -> None:
    log = SentLog(tmp_path / "c.sent", max_bytes=2 * 2**20)
    try:
        for batch in range(100):  # 100 x 50 x 1 KB = 5 MB into a 2 MB bound
            log.add(_records("HT-PMP-001", range(batch * 50 + 1, batch * 50 + 51), size=1000))
        on_disk = sum(p.stat().st_size for p in _segments(tmp_path / "c.sent"))
        assert on_disk <= 2 * 2**20
        kept = log.get("HT-PMP-001", 1, 5000)
        assert kept[-1].seq == 5000
        assert len(kept) >= 1000, "most of the bound is used"
        assert [r.seq for r in kept] == list(range(kept[0].seq, 5001))
    finally:
        log.close()


def test_a_log_of_the_old_format_opens_and_drops_its_copies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Logs written before the segments kept the polls in SQLite: they open, keep the
    sequence numbers, and say once that the old copies went."""
    db = sqlite3.connect(tmp_path / "c.sent")
    db.executescript(
        "CREATE TABLE sent_polls (id INTEGER PRIMARY KEY, asset_no TEXT, seq INTEGER,"
        " topic TEXT, body BLOB, created REAL);"
        "INSERT INTO sent_polls VALUES (1, 'HT-PMP-001', 5, 't', x'00', 0);"
        "CREATE TABLE last_seq (asset_no TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
        "INSERT INTO last_seq VALUES ('HT-PMP-001', 5);"
    )
    db.commit()
    db.close()
    with caplog.at_level(logging.WARNING, logger="collectors.sentlog"):
        log = SentLog(tmp_path / "c.sent")
    try:
        assert "old format dropped" in caplog.text
        assert log.last_seqs() == {"HT-PMP-001": 5}
        assert log.get("HT-PMP-001", 1, 10) == []
    finally:
        log.close()
