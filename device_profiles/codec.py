"""Register codec: engineering values <-> raw values <-> Modbus registers, pure and fast.

Used by the simulators (encode) and the collectors (decode). Byte and word order follow
``ByteOrder``: the value's big-endian bytes are A B C D (E F G H for 64 bits); CDAB swaps the
words, BADC swaps the bytes inside each word, DCBA does both. 16-bit values only know the
byte swap; 64-bit values swap all four words (DCBA = fully little-endian). Strings are two
characters per register, first character in the high byte, NUL padded; the byte swap applies
to them too (word order does not: a string is a sequence of words, not a number).

Registers are plain ints 0..65535; coils and discrete inputs are one register-like int, 0 or 1.

Raw values per data type: bool for ``bool`` and ``bit``, int for the integer types and for
``bitfield`` (the whole register), float for ``float32``/``float64``, str for ``string``.
Engineering value = raw * scale + offset.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache

from device_profiles.models import ByteOrder, DataType, ModbusAddress, Point

RawValue = int | float | str | bool

# Integer limits per type; float32's largest finite value for clamping.
INT_LIMITS: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
    DataType.BITFIELD: (0, 2**16 - 1),
}
FLOAT32_MAX = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]
FLOAT64_MAX = 1.7976931348623157e308

# struct format of the big-endian value per type (strings are built per length).
_VALUE_FORMAT: dict[DataType, struct.Struct] = {
    DataType.INT16: struct.Struct(">h"),
    DataType.UINT16: struct.Struct(">H"),
    DataType.BITFIELD: struct.Struct(">H"),
    DataType.BIT: struct.Struct(">H"),
    DataType.INT32: struct.Struct(">i"),
    DataType.UINT32: struct.Struct(">I"),
    DataType.INT64: struct.Struct(">q"),
    DataType.UINT64: struct.Struct(">Q"),
    DataType.FLOAT32: struct.Struct(">f"),
    DataType.FLOAT64: struct.Struct(">d"),
}
_INTEGER_TYPES = frozenset(INT_LIMITS)
_FLOAT_TYPES = frozenset({DataType.FLOAT32, DataType.FLOAT64})


@lru_cache(maxsize=256)
def _words(count: int, byte_swap: bool) -> struct.Struct:
    """Struct for ``count`` 16-bit words, each little-endian when bytes are swapped."""
    return struct.Struct(f"{'<' if byte_swap else '>'}{count}H")


def _to_bytes(registers: Sequence[int], order: ByteOrder) -> bytes:
    words = list(registers)
    if order.word_swap and len(words) > 1:
        words.reverse()
    return _words(len(words), order.byte_swap).pack(*words)


def _from_bytes(data: bytes, order: ByteOrder) -> list[int]:
    words = list(_words(len(data) // 2, order.byte_swap).unpack(data))
    if order.word_swap and len(words) > 1:
        words.reverse()
    return words


def clamp_raw(data_type: DataType, raw: RawValue) -> RawValue:
    """Bring a raw value inside what its type can hold (integers saturate, floats too).

    NaN and infinities pass through for float types (IEEE 754 carries them); for integer
    types NaN becomes 0 and infinities saturate.
    """
    if data_type in _INTEGER_TYPES:
        low, high = INT_LIMITS[data_type]
        if isinstance(raw, float):
            if math.isnan(raw):
                return 0
            if math.isinf(raw):
                return high if raw > 0 else low
            raw = round(raw)
        value = int(raw)
        return low if value < low else high if value > high else value
    if data_type is DataType.FLOAT32:
        value_f = float(raw)
        if math.isfinite(value_f) and abs(value_f) > FLOAT32_MAX:
            return math.copysign(FLOAT32_MAX, value_f)
        return value_f
    if data_type is DataType.FLOAT64:
        return float(raw)
    return raw


def encode(
    address: ModbusAddress, order: ByteOrder, raw: RawValue | Mapping[int, bool]
) -> list[int]:
    """Registers (or one 0/1 bit) holding ``raw`` at ``address``, in ``order``.

    Never raises on a value too large for its type: integers and floats are clamped to the
    type's limits (see ``clamp_raw``), strings are cut to ``length`` registers. A ``bit``
    point gives its whole register with only that bit possibly set (``encode_block`` ORs
    several bits of one register). A bitfield accepts an int or ``{bit_number: bool}``.
    """
    data_type = address.type
    if data_type is DataType.BOOL:
        return [1 if raw else 0]
    if data_type is DataType.BIT:
        assert address.bit is not None
        return [(1 << address.bit) if raw else 0]
    if isinstance(raw, Mapping):
        raw = sum(1 << bit for bit, on in raw.items() if on and 0 <= bit <= 15)
    if data_type is DataType.STRING:
        length = address.count
        text = str(raw).encode("ascii", errors="replace")[: length * 2]
        data = text.ljust(length * 2, b"\x00")
        return list(_words(length, order.byte_swap).unpack(data))
    value = clamp_raw(data_type, raw)
    data = _VALUE_FORMAT[data_type].pack(value)
    return _from_bytes(data, order)


def decode(address: ModbusAddress, order: ByteOrder, registers: Sequence[int]) -> RawValue:
    """The raw value of a point from its registers (exactly ``address.count`` of them)."""
    data_type = address.type
    if data_type is DataType.BOOL:
        return bool(registers[0])
    if data_type is DataType.BIT:
        assert address.bit is not None
        return bool((registers[0] >> address.bit) & 1)
    if data_type is DataType.STRING:
        data = _words(len(registers), order.byte_swap).pack(*registers)
        return data.split(b"\x00", 1)[0].decode("latin-1")
    if data_type in (DataType.UINT16, DataType.BITFIELD) and not order.byte_swap:
        return int(registers[0])  # fast path: the most common case
    value: RawValue = _VALUE_FORMAT[data_type].unpack(_to_bytes(registers, order))[0]
    return value


def encode_block(items: Iterable[tuple[ModbusAddress, ByteOrder, RawValue]]) -> dict[int, int]:
    """Encode several points of one table: register address -> value.

    Bit points sharing a register are ORed together; other points overwrite what they cover.
    """
    block: dict[int, int] = {}
    for address, order, raw in items:
        words = encode(address, order, raw)
        if address.type is DataType.BIT:
            block[address.address] = block.get(address.address, 0) | words[0]
            continue
        for i, word in enumerate(words):
            block[address.address + i] = word
    return block


@lru_cache(maxsize=512)
def decimal_places(number: float) -> int | None:
    """Decimal places a scale or offset produces (0.01 -> 2); None when not a short decimal."""
    exponent = Decimal(repr(number)).normalize().as_tuple().exponent
    if not isinstance(exponent, int):
        return None
    places = max(0, -exponent)
    return places if places <= 12 else None


def to_raw(point: Point, engineering: object) -> RawValue:
    """The raw value the device stores for an engineering value (inverse scale/offset).

    Integer types are rounded to the nearest int and clamped to the type's limits, so a
    value too big for its type saturates instead of failing (a simulator must never crash).
    Booleans, bits and strings pass through unscaled.
    """
    assert point.modbus is not None
    data_type = point.modbus.type
    if data_type in (DataType.BOOL, DataType.BIT):
        return bool(engineering)
    if data_type is DataType.STRING:
        return "" if engineering is None else str(engineering)
    if engineering is None or isinstance(engineering, str):
        return 0 if data_type in _INTEGER_TYPES else math.nan
    if not isinstance(engineering, int | float):
        raise TypeError(f"point {point.name}: cannot encode {engineering!r}")
    value = float(engineering)
    if point.scale != 1.0 or point.offset != 0.0:
        value = (value - point.offset) / point.scale
    return clamp_raw(data_type, value)


def to_engineering(point: Point, raw: RawValue) -> RawValue:
    """The engineering value of a raw value: raw * scale + offset.

    Integers stay ints when unscaled; scaled integers are rounded to the decimals of the
    scale (0.1 * 3 gives 0.3, not 0.30000000000000004).
    """
    if isinstance(raw, bool | str):
        return raw
    if point.scale == 1.0 and point.offset == 0.0:
        return raw
    value = raw * point.scale + point.offset
    if isinstance(raw, int):
        places = decimal_places(point.scale)
        offset_places = decimal_places(point.offset)
        if places is not None and offset_places is not None:
            return round(value, max(places, offset_places))
    return value


def engineering_limits(point: Point) -> tuple[float, float] | None:
    """The engineering values a Modbus point's type can represent, or None if unbounded
    (floats, bools, strings)."""
    if point.modbus is None or point.modbus.type not in INT_LIMITS:
        return None
    if point.modbus.type is DataType.BITFIELD:
        return None
    low, high = INT_LIMITS[point.modbus.type]
    ends = (low * point.scale + point.offset, high * point.scale + point.offset)
    return (min(ends), max(ends))
