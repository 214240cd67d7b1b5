"""Which decoding of some registers is the right one? (pure)

The word-order confusion users fight with: a float32 read as CDAB instead of ABCD gives a
plausible-looking wrong number. Given raw registers and the range the value should be in,
``rank_decodings`` tries every numeric type, all four byte/word orders and power-of-ten
scales, and ranks the decodings that land in range — simplest explanation first (the
standard order, no scale, the narrowest type).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from device_profiles.codec import decode
from device_profiles.models import ByteOrder, DataType, ModbusAddress, Table

NUMERIC_TYPES = (
    DataType.UINT16,
    DataType.INT16,
    DataType.UINT32,
    DataType.INT32,
    DataType.FLOAT32,
    DataType.UINT64,
    DataType.INT64,
    DataType.FLOAT64,
)
SCALES = (1.0, 0.1, 0.01, 0.001, 10.0, 100.0, 1000.0)
# 16-bit types only know the byte swap; list each distinct decoding once
_ORDERS_16 = (ByteOrder.ABCD, ByteOrder.BADC)


@dataclass(frozen=True, slots=True)
class Decoding:
    data_type: DataType
    order: ByteOrder
    scale: float
    offset_registers: int  # where in the read block the value starts
    value: float
    score: float  # lower is more plausible

    def profile_snippet(self, address: int) -> str:
        scale = "" if self.scale == 1.0 else f", scale: {self.scale:g}"
        order = (
            ""
            if self.data_type.register_count == 1 and self.order is ByteOrder.ABCD
            else f", order: {self.order.value}"
        )
        return (
            f"modbus: {{table: holding, address: {address + self.offset_registers}, "
            f"type: {self.data_type.value}{order}}}{scale}"
        )


def rank_decodings(
    registers: Sequence[int], low: float, high: float, *, limit: int = 10, offsets: int = 1
) -> list[Decoding]:
    """Decodings of ``registers`` whose value lies in [low, high]; the value is taken to start
    at the first register (``offsets`` > 1 also tries the next start addresses)."""
    found: list[Decoding] = []
    for offset in range(min(offsets, len(registers))):
        for data_type in NUMERIC_TYPES:
            count = data_type.register_count
            words = registers[offset : offset + count]
            if len(words) < count:
                continue
            orders = _ORDERS_16 if count == 1 else tuple(ByteOrder)
            address = ModbusAddress(table=Table.HOLDING, address=0, type=data_type)
            for order in orders:
                raw = decode(address, order, words)
                assert isinstance(raw, int | float)
                if isinstance(raw, float) and not math.isfinite(raw):
                    continue
                for scale in SCALES:
                    if data_type in (DataType.FLOAT32, DataType.FLOAT64) and scale != 1.0:
                        continue  # floats carry their own scale
                    value = raw * scale
                    if not low <= value <= high:
                        continue
                    found.append(
                        Decoding(
                            data_type,
                            order,
                            scale,
                            offset,
                            value,
                            _score(data_type, order, scale, offset, value),
                        )
                    )
    found.sort(key=lambda d: (d.score, d.offset_registers, d.data_type.value, d.order.value))
    return found[:limit]


def _score(data_type: DataType, order: ByteOrder, scale: float, offset: int, value: float) -> float:
    score = 0.0
    if value == 0:
        score += 3  # all-zero registers fit every type: weak evidence
    score += {1: 0.0, 2: 0.5, 4: 1.5}[data_type.register_count]
    score += 0.0 if order is ByteOrder.ABCD else (1.0 if order is ByteOrder.CDAB else 2.0)
    score += abs(math.log10(scale)) * 0.7
    if value >= 0 and data_type in (DataType.INT16, DataType.INT32, DataType.INT64):
        score += 0.05  # same value either way: meters are more often unsigned
    score += offset * 0.3
    if data_type in (DataType.FLOAT32, DataType.FLOAT64):
        # a float decoded from the wrong order is rarely "round": reward few significant digits
        digits = len(f"{value:.6g}".replace(".", "").replace("-", "").strip("0"))
        score += max(0, digits - 4) * 0.4
        if value != 0 and abs(value) < 1e-6:
            score += 5
    return score
