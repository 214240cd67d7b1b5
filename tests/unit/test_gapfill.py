"""The pure cores of end-to-end gap filling: holes in a stored sequence, what to ask for, the
resend messages, and the collector's account of what it cannot resend."""

from __future__ import annotations

import pytest

from collectors.publisher import CAUSE_NOT_KEPT, _missing_ranges, parse_spool_key, spool_key
from collectors.sentlog import Loss
from facility.errors import ProtocolError
from facility.resend import (
    MAX_RANGE,
    ResendReport,
    ResendRequest,
    decode_report,
    decode_request,
    encode_report,
    encode_request,
)
from gateway.gapfill import Asked, complete, holes, plan

A = "HT-PMP-001"


@pytest.mark.parametrize(
    ("seqs", "expected"),
    [
        ([], []),
        ([1, 2, 3], []),
        ([1, 3], [(A, 2, 2)]),
        ([1, 2, 6, 7, 10], [(A, 3, 5), (A, 8, 9)]),
        ([5, 6, 1, 2], []),  # a collector that started again from 1: not a hole
        ([5, 7, 1, 3], [(A, 6, 6), (A, 2, 2)]),
        ([3, 3, 4], []),  # the same poll stored twice (resend overwrote nothing new)
        ([4, 3, 5], []),  # a resend arriving out of order within a query's time order
    ],
)
def test_holes(seqs: list[int], expected: list[tuple[str, int, int]]) -> None:
    assert holes(A, seqs) == expected


def test_plan_asks_once_then_again_after_the_retry_time_then_gives_up() -> None:
    asked: dict[tuple[str, int, int], Asked] = {}
    hole = (A, 5, 9)
    kwargs = {"retry_after_s": 10.0, "max_attempts": 2, "max_requests": 100}
    first = plan([hole], asked, 0.0, **kwargs)
    assert first.requests == [ResendRequest(A, 5, 9)]
    assert plan([hole], asked, 5.0, **kwargs).requests == []  # asked recently
    assert plan([hole], asked, 11.0, **kwargs).requests == [ResendRequest(A, 5, 9)]
    last = plan([hole], asked, 22.0, **kwargs)
    assert last.requests == []
    assert last.given_up == [hole]
    assert asked == {}


def test_plan_counts_filled_holes_and_splits_big_ones() -> None:
    asked: dict[tuple[str, int, int], Asked] = {}
    big = (A, 1, MAX_RANGE + 10)
    result = plan([big], asked, 0.0, retry_after_s=1, max_attempts=3, max_requests=10)
    assert [(r.seq_from, r.seq_to) for r in result.requests] == [
        (1, MAX_RANGE),
        (MAX_RANGE + 1, MAX_RANGE + 10),
    ]
    assert plan([], asked, 5.0, retry_after_s=1, max_attempts=3, max_requests=10).filled == 1


def test_resend_messages_round_trip() -> None:
    request = ResendRequest(A, 10, 20)
    assert decode_request(encode_request(request)) == request
    report = ResendReport(A, 10, 20, 5, ((16, 20, "gone"),))
    assert decode_report(encode_report(report)) == report


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[" * 200_000,
        b'{"v": 1, "asset_no": "HT-PMP-001", "from": 5, "to": 4}',
        b'{"v": 1, "asset_no": "HT-PMP-001", "from": 0, "to": 4}',
        b'{"v": 1, "asset_no": "nope", "from": 1, "to": 4}',
        b'{"v": 1, "asset_no": "HT-PMP-001", "from": 1, "to": 99999999}',
        b'{"v": 2, "asset_no": "HT-PMP-001", "from": 1, "to": 4}',
        b'{"v": 1, "asset_no": "HT-PMP-001", "from": 1.5, "to": 4}',
    ],
)
def test_bad_resend_requests_are_one_clear_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as error:
        decode_request(payload)
    assert str(error.value)
    assert "\n" not in str(error.value)


def test_missing_ranges_name_their_cause() -> None:
    losses = [Loss(A, 14, 15, "queue full")]
    assert _missing_ranges({10, 11, 12, 16}, 10, 18, losses) == [
        (13, 13, CAUSE_NOT_KEPT),
        (14, 15, "queue full"),
        (17, 18, CAUSE_NOT_KEPT),
    ]


def test_spool_keys_carry_the_sequence_and_read_old_keys() -> None:
    assert parse_spool_key(spool_key("facility/v1/HT/HT-PMP-001", 42)) == (
        "facility/v1/HT/HT-PMP-001",
        42,
    )
    assert parse_spool_key("facility/v1/HT/HT-PMP-001") == ("facility/v1/HT/HT-PMP-001", None)


@pytest.mark.parametrize(
    ("count", "distinct", "lowest", "highest", "expected"),
    [
        (10, 10, 1, 10, True),
        (9, 9, 1, 10, False),  # a hole
        (11, 10, 1, 10, False),  # a poll stored twice: looked at seq by seq
        (10, 9, 1, 10, False),  # a hole hidden by a repeat: still looked at
        (151, 151, 1, 600, False),  # a collector that started again from 1
        (1, 1, 7, 7, True),
    ],
)
def test_complete(count: int, distinct: int, lowest: int, highest: int, expected: bool) -> None:
    assert complete(count, distinct, lowest, highest) is expected
