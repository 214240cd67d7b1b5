"""Sequence numbers across runs of the collector's sent log: reserved ahead, never reused
after a crash, the crash's range answered with its cause (issue 16)."""

from __future__ import annotations

from pathlib import Path

from collectors.sentlog import CAUSE_CRASH, SentLog


def test_a_clean_stop_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    log = SentLog(tmp_path / "s.sent")
    assert log.begin_run(64) == ({}, {})
    log.reserve_seqs({"HT-PMP-001": 70})
    log.note_seqs({"HT-PMP-001": 12})
    log.end_run({"HT-PMP-001": 13})
    log.close()
    again = SentLog(tmp_path / "s.sent")
    try:
        last, reserved = again.begin_run(64)
        assert last == {"HT-PMP-001": 13}
        assert reserved == {"HT-PMP-001": 77}
        assert again.losses("HT-PMP-001", 1, 1000) == []
    finally:
        again.close()


def test_after_a_crash_the_reserved_range_is_skipped_and_said_lost(tmp_path: Path) -> None:
    log = SentLog(tmp_path / "s.sent")
    log.begin_run(64)
    log.note_seqs({"HT-PMP-001": 12, "HT-PMP-002": 3})
    log.reserve_seqs({"HT-PMP-001": 80, "HT-PMP-002": 67})
    log.close()  # no end_run: the process was killed
    again = SentLog(tmp_path / "s.sent")
    try:
        last, reserved = again.begin_run(64)
        # numbers up to the reservation may be at the broker already: never reused
        assert last == {"HT-PMP-001": 80, "HT-PMP-002": 67}
        assert reserved == {"HT-PMP-001": 144, "HT-PMP-002": 131}
        (loss,) = again.losses("HT-PMP-001", 1, 1000)
        assert (loss.seq_from, loss.seq_to, loss.cause) == (13, 80, CAUSE_CRASH)
    finally:
        again.close()
