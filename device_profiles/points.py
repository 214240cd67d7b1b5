"""Points and where they live on the wire: Modbus table/address/type/order or an OPC UA
node, scaling (engineering value = raw * scale + offset), range, poll class, counters."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from device_profiles.base import Frozen, Problem, Text, raise_problems

MODBUS_MAX_ADDRESS = 65535


class Table(StrEnum):
    """Modbus data tables."""

    COIL = "coil"
    DISCRETE = "discrete"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bit_table(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)


class DataType(StrEnum):
    """How a point's raw value is laid out in registers (or bits)."""

    BOOL = "bool"  # a coil or discrete input
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"  # `length` registers, two ASCII characters each, NUL padded
    BIT = "bit"  # one bit (`bit`: 0..15) of one register
    BITFIELD = "bitfield"  # one register whose bits are named (`bits`)

    @property
    def register_count(self) -> int:
        """Registers occupied; STRING uses the point's ``length`` instead."""
        return _REGISTER_COUNT[self]


_REGISTER_COUNT: dict[DataType, int] = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
    DataType.STRING: 0,
    DataType.BIT: 1,
    DataType.BITFIELD: 1,
}


class ByteOrder(StrEnum):
    """Byte and word order of multi-byte values, named by where bytes A (most significant)
    to D land. ABCD: big-endian words, big-endian bytes (Modbus standard). CDAB: word swap.
    BADC: byte swap inside each word. DCBA: both (little-endian). For 16-bit values only the
    byte order within the word applies (ABCD = CDAB, BADC = DCBA); for 64-bit values the same
    two rules apply to all four words."""

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def word_swap(self) -> bool:
        return self in (ByteOrder.CDAB, ByteOrder.DCBA)

    @property
    def byte_swap(self) -> bool:
        return self in (ByteOrder.BADC, ByteOrder.DCBA)


# Aliases users write in vendor manuals and other tools; normalised on load.
BYTE_ORDER_ALIASES: dict[str, ByteOrder] = {
    "abcd": ByteOrder.ABCD,
    "1234": ByteOrder.ABCD,
    "big": ByteOrder.ABCD,
    "be": ByteOrder.ABCD,
    "big_endian": ByteOrder.ABCD,
    "cdab": ByteOrder.CDAB,
    "3412": ByteOrder.CDAB,
    "word_swap": ByteOrder.CDAB,
    "little_word": ByteOrder.CDAB,
    "badc": ByteOrder.BADC,
    "2143": ByteOrder.BADC,
    "byte_swap": ByteOrder.BADC,
    "dcba": ByteOrder.DCBA,
    "4321": ByteOrder.DCBA,
    "little": ByteOrder.DCBA,
    "le": ByteOrder.DCBA,
    "little_endian": ByteOrder.DCBA,
}


def normalise_byte_order(value: object) -> object:
    """Map an alias (``big``, ``3412``, ``word_swap``, any case) to its ByteOrder."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # YAML reads an unquoted 3412 as a number
    if isinstance(value, str):
        found = BYTE_ORDER_ALIASES.get(value.strip().lower().replace("-", "_"))
        if found is not None:
            return found
    return value


class PollClass(StrEnum):
    """How often a point is read; periods are per profile (``poll_periods``)."""

    FAST = "fast"
    NORMAL = "normal"
    SLOW = "slow"


class TimestampSource(StrEnum):
    """Which clock stamps the reading: the device's, the OPC UA server's, or the collector's."""

    SOURCE = "source"
    SERVER = "server"
    COLLECTOR = "collector"


class Access(StrEnum):
    READ = "read"
    READ_WRITE = "read_write"


class ModbusAddress(Frozen):
    """Where a point lives on a Modbus device (unit id comes from the ledger's endpoint)."""

    table: Table
    address: int = Field(ge=0, le=MODBUS_MAX_ADDRESS, description="0-based protocol address")
    type: DataType
    order: Annotated[ByteOrder | None, Field(description="default: the profile's")] = None
    bit: int | None = Field(default=None, ge=0, le=15, description="for type bit")
    length: int | None = Field(default=None, ge=1, le=125, description="registers, for string")

    @field_validator("order", mode="before")
    @classmethod
    def _alias(cls, value: object) -> object:
        return normalise_byte_order(value)

    @model_validator(mode="after")
    def _consistent(self) -> ModbusAddress:
        problems: list[Problem] = []
        kind = self.type.value
        if self.table.is_bit_table and self.type is not DataType.BOOL:
            problems.append(
                Problem(
                    ("type",),
                    f"table {self.table.value} holds single bits: expected type bool, not {kind}",
                )
            )
        if not self.table.is_bit_table and self.type is DataType.BOOL:
            problems.append(
                Problem(
                    ("type",),
                    f"type bool needs table coil or discrete; in {self.table.value} registers "
                    "use type bit with `bit: 0..15`",
                )
            )
        if self.type is DataType.BIT and self.bit is None:
            problems.append(
                Problem(("type",), "type bit needs `bit: 0..15` (which bit of the register)")
            )
        if self.type is not DataType.BIT and self.bit is not None:
            problems.append(Problem(("bit",), f"`bit` only applies to type bit, not {kind}"))
        if self.type is DataType.STRING and self.length is None:
            problems.append(
                Problem(("type",), "type string needs `length` (registers, 2 characters each)")
            )
        if self.type is not DataType.STRING and self.length is not None:
            problems.append(
                Problem(("length",), f"`length` only applies to type string, not {kind}")
            )
        sized = self.type is not DataType.STRING or self.length is not None
        if sized and self.end > MODBUS_MAX_ADDRESS:
            problems.append(
                Problem(
                    ("address",),
                    f"address {self.address} + {self.count} registers runs past "
                    f"{MODBUS_MAX_ADDRESS}; expected the last register at {MODBUS_MAX_ADDRESS} "
                    f"or below (address at most {MODBUS_MAX_ADDRESS - self.count + 1})",
                )
            )
        if problems:
            raise_problems(problems)
        return self

    @property
    def count(self) -> int:
        """Registers (or bits) the point occupies."""
        if self.type is DataType.STRING:
            assert self.length is not None
            return self.length
        return self.type.register_count

    @property
    def end(self) -> int:
        """Last address occupied (inclusive)."""
        return self.address + self.count - 1


class OpcuaAddress(Frozen):
    """Where a point lives on an OPC UA server: a node id, a browse path, or both.

    A browse path (``Objects/HT-TNK-001/Level``, relative to the asset's node root from the
    ledger when it does not start with ``Objects``) survives server restarts that renumber
    nodes; a node id is faster to resolve. With both, the node id is tried first.
    """

    node_id: str | None = Field(default=None, pattern=r"^(ns=\d+;)?[isgb]=.+$")
    browse_path: str | None = Field(default=None, min_length=1)
    data_type: Literal[
        "Boolean", "Int16", "UInt16", "Int32", "UInt32", "Int64", "Float", "Double", "String"
    ] = "Double"

    @model_validator(mode="after")
    def _one_of(self) -> OpcuaAddress:
        if not self.node_id and not self.browse_path:
            raise ValueError("needs node_id or browse_path")
        return self


class Point(Frozen):
    """One measured or commanded value of a device."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    label: Text
    unit: str = Field(description="engineering unit; '' for dimensionless states and counts")
    modbus: ModbusAddress | None = None
    opcua: OpcuaAddress | None = None
    scale: float = 1.0
    offset: float = 0.0
    range: tuple[float, float] | None = Field(
        default=None, description="valid engineering range [low, high]; outside → uncertain"
    )
    poll: PollClass = PollClass.NORMAL
    counter: bool = Field(default=False, description="only increases (run hours, starts, energy)")
    access: Access = Access.READ
    states: dict[int, str] | None = Field(
        default=None, description="names of enumerated values, e.g. {0: normal, 1: fire}"
    )
    bits: dict[int, str] | None = Field(default=None, description="named bits of a bitfield")
    timestamp: TimestampSource = TimestampSource.COLLECTOR

    @field_validator("scale")
    @classmethod
    def _nonzero_scale(cls, value: float) -> float:
        if value == 0:
            raise ValueError(
                "scale 0 would make every value 0; expected a non-zero number "
                "(engineering = raw * scale + offset)"
            )
        return value

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(
                f"range low {value[0]:g} is above high {value[1]:g}; expected [low, high]"
            )
        return value

    @field_validator("bits")
    @classmethod
    def _bit_numbers(cls, value: dict[int, str] | None) -> dict[int, str] | None:
        if value is not None:
            bad = [b for b in value if not 0 <= b <= 15]
            if bad:
                raise ValueError(f"bit numbers must be 0..15, got {', '.join(map(str, bad))}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        if self.modbus is None and self.opcua is None:
            raise_problems([Problem((), "needs an address: expected `modbus:` or `opcua:`")])
        problems: list[Problem] = []
        if self.modbus is not None:
            kind = self.modbus.type.value
            is_field = self.modbus.type is DataType.BITFIELD
            if is_field and not self.bits:
                problems.append(
                    Problem(
                        ("modbus", "type"),
                        "type bitfield needs `bits:` naming its bits, e.g. {0: ready, 1: fault}",
                    )
                )
            if not is_field and self.bits:
                problems.append(
                    Problem(("bits",), f"`bits` only applies to type bitfield, not {kind}")
                )
            if self.modbus.type is DataType.STRING and (self.scale != 1 or self.offset != 0):
                problems.append(
                    Problem(
                        ("scale",) if self.scale != 1 else ("offset",),
                        "a string cannot be scaled: expected scale 1 and offset 0",
                    )
                )
        if problems:
            raise_problems(problems)
        return self
