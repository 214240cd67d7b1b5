"""The probe ranks the true decoding first for values encoded independently with struct."""

from __future__ import annotations

import struct

import pytest

from collectors.probe import rank_decodings
from device_profiles.models import ByteOrder, DataType


def words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def swap_words(regs: list[int]) -> list[int]:
    return regs[::-1]


def swap_bytes(regs: list[int]) -> list[int]:
    return [((r & 0xFF) << 8) | (r >> 8) for r in regs]


CASES = [
    (
        "float32 ABCD",
        words(struct.pack(">f", 4.25)),
        (0, 16),
        DataType.FLOAT32,
        ByteOrder.ABCD,
        1.0,
    ),
    (
        "float32 CDAB",
        swap_words(words(struct.pack(">f", 4.25))),
        (0, 16),
        DataType.FLOAT32,
        ByteOrder.CDAB,
        1.0,
    ),
    (
        "float32 BADC",
        swap_bytes(words(struct.pack(">f", 230.5))),
        (200, 260),
        DataType.FLOAT32,
        ByteOrder.BADC,
        1.0,
    ),
    (
        "float32 DCBA",
        swap_bytes(swap_words(words(struct.pack(">f", 1234.5)))),
        (1000, 2000),
        DataType.FLOAT32,
        ByteOrder.DCBA,
        1.0,
    ),
    (
        "uint16 x0.1",
        words(struct.pack(">H", 2305)),
        (200, 260),
        DataType.UINT16,
        ByteOrder.ABCD,
        0.1,
    ),
    (
        "int16 negative x0.1",
        words(struct.pack(">h", -125)),
        (-20, 0),
        DataType.INT16,
        ByteOrder.ABCD,
        0.1,
    ),
    (
        "uint32 CDAB",
        swap_words(words(struct.pack(">I", 987654))),
        (900_000, 1_000_000),
        DataType.UINT32,
        ByteOrder.CDAB,
        1.0,
    ),
]


@pytest.mark.parametrize(
    ("registers", "expect", "data_type", "order", "scale"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_true_decoding_ranks_first(
    registers: list[int],
    expect: tuple[float, float],
    data_type: DataType,
    order: ByteOrder,
    scale: float,
) -> None:
    ranked = rank_decodings(registers, *expect)
    assert ranked, "no decoding in range"
    best = ranked[0]
    assert (best.data_type, best.order, best.scale) == (data_type, order, scale)


def test_nothing_in_range_gives_nothing() -> None:
    assert rank_decodings([0, 0], 5, 6) == []


def test_snippet_is_a_profile_line() -> None:
    best = rank_decodings(swap_words(words(struct.pack(">f", 4.25))), 0, 16)[0]
    assert (
        best.profile_snippet(100)
        == "modbus: {table: holding, address: 100, type: float32, order: CDAB}"
    )
