"""Register codec: every data type x byte order, checked against ``struct`` encodings."""

from __future__ import annotations

import math
import struct

import pytest

from device_profiles.codec import (
    FLOAT32_MAX,
    clamp_raw,
    decode,
    encode,
    encode_block,
    engineering_limits,
    to_engineering,
    to_raw,
)
from device_profiles.models import ByteOrder, DataType, ModbusAddress, Point

ORDERS = list(ByteOrder)
ABCD, CDAB, BADC, DCBA = ByteOrder.ABCD, ByteOrder.CDAB, ByteOrder.BADC, ByteOrder.DCBA


def expected_registers(fmt: str, value: object, order: ByteOrder) -> list[int]:
    """Independent reference: big-endian bytes, then rearranged by hand per order."""
    data = struct.pack(">" + fmt, value)
    pairs = [data[i : i + 2] for i in range(0, len(data), 2)]
    if order in (CDAB, DCBA):
        pairs.reverse()
    if order in (BADC, DCBA):
        pairs = [p[::-1] for p in pairs]
    return [int.from_bytes(p, "big") for p in pairs]


def addr(data_type: str, **extra: object) -> ModbusAddress:
    return ModbusAddress.model_validate(
        {"table": "holding", "address": 10, "type": data_type, **extra}
    )


NUMERIC_CASES: list[tuple[str, str, object]] = [
    ("int16", "h", 0),
    ("int16", "h", 1234),
    ("int16", "h", -1234),
    ("int16", "h", -32768),
    ("int16", "h", 32767),
    ("uint16", "H", 0),
    ("uint16", "H", 0xABCD),
    ("uint16", "H", 65535),
    ("bitfield", "H", 0b1010_0000_0001_0011),
    ("int32", "i", -2),
    ("int32", "i", 0x12345678),
    ("int32", "i", -(2**31)),
    ("uint32", "I", 0xDEADBEEF),
    ("uint32", "I", 4_000_000_000),
    ("int64", "q", -(2**63)),
    ("int64", "q", -123_456_789_012_345),
    ("int64", "q", 0x0102030405060708),
    ("uint64", "Q", 2**64 - 1),
    ("uint64", "Q", 0x0102030405060708),
    ("float32", "f", 1.5),
    ("float32", "f", -273.25),
    ("float32", "f", 3.0e38),
    ("float32", "f", 1.0e-40),  # subnormal
    ("float32", "f", math.inf),
    ("float32", "f", -math.inf),
    ("float64", "d", 6.02214076e23),
    ("float64", "d", -0.1),
    ("float64", "d", math.inf),
]


@pytest.mark.parametrize("order", ORDERS, ids=[o.value for o in ORDERS])
@pytest.mark.parametrize(("data_type", "fmt", "value"), NUMERIC_CASES)
def test_numeric_round_trip_matches_struct(
    data_type: str, fmt: str, value: object, order: ByteOrder
) -> None:
    address = addr(data_type)
    expected = expected_registers(fmt, value, order)
    assert encode(address, order, value) == expected  # type: ignore[arg-type]
    decoded = decode(address, order, expected)
    reference = struct.unpack(">" + fmt, struct.pack(">" + fmt, value))[0]
    assert decoded == reference
    assert type(decoded) is type(reference)


@pytest.mark.parametrize("order", ORDERS, ids=[o.value for o in ORDERS])
@pytest.mark.parametrize(("data_type", "fmt"), [("float32", "f"), ("float64", "d")])
def test_nan_survives_every_order(data_type: str, fmt: str, order: ByteOrder) -> None:
    address = addr(data_type)
    registers = encode(address, order, math.nan)
    assert registers == expected_registers(fmt, math.nan, order)
    assert math.isnan(decode(address, order, registers))  # type: ignore[arg-type]


def test_known_word_orders_by_hand() -> None:
    # 0x12345678 as written in vendor manuals for each order.
    address = addr("uint32")
    assert encode(address, ABCD, 0x12345678) == [0x1234, 0x5678]
    assert encode(address, CDAB, 0x12345678) == [0x5678, 0x1234]
    assert encode(address, BADC, 0x12345678) == [0x3412, 0x7856]
    assert encode(address, DCBA, 0x12345678) == [0x7856, 0x3412]


def test_sixteen_bit_values_ignore_word_swap() -> None:
    address = addr("uint16")
    assert encode(address, ABCD, 0x1234) == encode(address, CDAB, 0x1234) == [0x1234]
    assert encode(address, BADC, 0x1234) == encode(address, DCBA, 0x1234) == [0x3412]


def test_sixty_four_bit_dcba_is_little_endian() -> None:
    address = addr("uint64")
    value = 0x0102030405060708
    registers = encode(address, DCBA, value)
    data = b"".join(r.to_bytes(2, "big") for r in registers)
    assert data == struct.pack("<Q", value)


@pytest.mark.parametrize("order", ORDERS, ids=[o.value for o in ORDERS])
@pytest.mark.parametrize(
    ("text", "length", "expected_text"),
    [
        ("V1.2", 4, "V1.2"),  # exactly even: 4 chars in 2 registers, 2 NUL registers
        ("V1.23", 4, "V1.23"),  # odd length: last register half NUL
        ("ABCDEFGHIJ", 2, "ABCD"),  # too long: cut to length registers
        ("", 3, ""),  # empty: all NUL
        ("abcdefgh", 4, "abcdefgh"),  # full: no NUL at all
    ],
)
def test_strings(text: str, length: int, expected_text: str, order: ByteOrder) -> None:
    address = addr("string", length=length)
    raw = text.encode("ascii")[: length * 2].ljust(length * 2, b"\x00")
    if order in (BADC, DCBA):
        raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
    expected = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    registers = encode(address, order, text)
    assert registers == expected
    assert decode(address, order, registers) == expected_text


def test_string_stops_at_first_nul_and_survives_garbage() -> None:
    address = addr("string", length=3)
    assert decode(address, ABCD, [0x4142, 0x0043, 0x4400]) == "AB"
    assert decode(address, ABCD, [0xFFFE, 0x8081, 0x0000]) == "\xff\xfe\x80\x81"


def test_string_with_non_ascii_is_replaced_not_raised() -> None:
    address = addr("string", length=2)
    assert decode(address, ABCD, encode(address, ABCD, "水箱")) == "??"


@pytest.mark.parametrize("order", ORDERS, ids=[o.value for o in ORDERS])
def test_bits_in_a_register(order: ByteOrder) -> None:
    bit0 = addr("bit", bit=0)
    bit9 = addr("bit", bit=9)
    assert encode(bit0, order, True) == [0x0001]
    assert encode(bit9, order, True) == [0x0200]
    assert encode(bit9, order, False) == [0]
    assert decode(bit9, order, [0x0200]) is True
    assert decode(bit0, order, [0xFFFE]) is False


def test_encode_block_ors_bits_and_lays_out_words() -> None:
    block = encode_block(
        [
            (addr("bit", bit=0), ABCD, True),
            (addr("bit", bit=1), ABCD, False),
            (addr("bit", bit=15), ABCD, True),
            (ModbusAddress(table="holding", address=11, type=DataType.UINT32), CDAB, 0x00010002),
        ]
    )
    assert block == {10: 0x8001, 11: 0x0002, 12: 0x0001}


def test_bitfield_from_named_bits() -> None:
    assert encode(addr("bitfield"), ABCD, {0: True, 2: True, 4: False}) == [0b101]


def test_coils_are_single_bits() -> None:
    coil = ModbusAddress(table="coil", address=3, type=DataType.BOOL)
    assert encode(coil, ABCD, True) == [1]
    assert encode(coil, ABCD, 0) == [0]
    assert decode(coil, ABCD, [1]) is True


@pytest.mark.parametrize(
    ("data_type", "raw", "expected"),
    [
        ("uint16", 70000, 65535),
        ("uint16", -5, 0),
        ("int16", 40000, 32767),
        ("int16", -40000, -32768),
        ("uint32", 2**40, 2**32 - 1),
        ("int64", 2**70, 2**63 - 1),
        ("uint64", -1, 0),
        ("uint16", math.nan, 0),
        ("int32", math.inf, 2**31 - 1),
        ("int32", -math.inf, -(2**31)),
        ("int16", 12.6, 13),
    ],
)
def test_encode_clamps_instead_of_raising(data_type: str, raw: float, expected: int) -> None:
    assert clamp_raw(DataType(data_type), raw) == expected
    address = addr(data_type)
    assert decode(address, ABCD, encode(address, ABCD, raw)) == expected


def test_float32_too_big_saturates_to_largest_finite() -> None:
    address = addr("float32")
    assert decode(address, ABCD, encode(address, ABCD, 1e39)) == FLOAT32_MAX
    assert decode(address, ABCD, encode(address, ABCD, -1e39)) == -FLOAT32_MAX


def point(data_type: str, scale: float = 1.0, offset: float = 0.0, **extra: object) -> Point:
    return Point.model_validate(
        {
            "name": "p",
            "label": {"en": "P", "zh": "P"},
            "unit": "",
            "scale": scale,
            "offset": offset,
            "modbus": {"table": "holding", "address": 0, "type": data_type, **extra},
        }
    )


@pytest.mark.parametrize(
    ("data_type", "scale", "offset", "engineering", "raw"),
    [
        ("uint16", 0.01, 0.0, 49.99, 4999),
        ("uint16", 0.1, 0.0, 0.3, 3),
        ("int16", 0.1, 0.0, -12.3, -123),
        ("int16", 0.5, -40.0, -20.0, 40),
        ("uint32", 0.1, 0.0, 123456.7, 1234567),
        ("uint16", 1.0, 0.0, 42, 42),
        ("uint16", 0.01, 0.0, 1000.0, 65535),  # too big for uint16: saturates
        ("uint16", 0.01, 0.0, -3.0, 0),
    ],
)
def test_scaling_round_trip(
    data_type: str, scale: float, offset: float, engineering: float, raw: int
) -> None:
    p = point(data_type, scale, offset)
    assert to_raw(p, engineering) == raw
    back = to_engineering(p, raw)
    if raw not in (0, 65535):
        assert back == engineering
    assert isinstance(to_raw(p, engineering), int)


def test_engineering_of_scaled_integer_has_no_float_noise() -> None:
    assert to_engineering(point("uint16", 0.1), 3) == 0.3
    assert to_engineering(point("uint32", 0.01), 123456789) == 1234567.89


def test_float_points_are_not_rounded() -> None:
    p = point("float32", 2.0)
    assert to_raw(p, 3.0) == 1.5
    assert isinstance(to_raw(p, 3), float)
    assert to_engineering(p, 1.25) == 2.5


def test_bool_and_string_pass_through_unscaled() -> None:
    assert to_raw(point("bit", bit=3), 1) is True
    assert to_raw(point("string", length=2), "ab") == "ab"
    assert to_engineering(point("string", length=2), "ab") == "ab"


def test_missing_engineering_value_encodes_as_zero_or_nan() -> None:
    assert to_raw(point("uint16"), None) == 0
    assert math.isnan(to_raw(point("float32"), None))  # type: ignore[arg-type]


def test_engineering_limits() -> None:
    assert engineering_limits(point("uint16", 0.1)) == (0.0, 6553.5)
    assert engineering_limits(point("int16", 1.0, 10.0)) == (-32758.0, 32777.0)
    assert engineering_limits(point("float32")) is None
