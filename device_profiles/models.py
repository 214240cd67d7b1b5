"""Typed, frozen models of a device profile (schema_version 1).

A profile is declarative data: what a device model exposes (points), where each point lives
on the wire (Modbus table/address/type/order, or an OPC UA node id / browse path), how raw
values scale to engineering units, the valid range, how often to poll, whether it counts up,
plus default alarm limits and default preventive-maintenance plans for that device class.

Engineering value = raw * scale + offset. Validation here is per field and per profile
(overlapping registers, duplicate names, references to unknown points); the loader adds file
and line to every message.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from facility.types import DeviceClass

SCHEMA_VERSION = 1

MODBUS_MAX_ADDRESS = 65535


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Frozen):
    """A label in both languages the product speaks."""

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


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


class ModbusAddress(_Frozen):
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
        if self.table.is_bit_table and self.type is not DataType.BOOL:
            raise ValueError(
                f"table {self.table.value} holds single bits: type must be bool, "
                f"not {self.type.value}"
            )
        if not self.table.is_bit_table and self.type is DataType.BOOL:
            raise ValueError(
                f"type bool needs a coil or discrete table; in {self.table.value} registers "
                "use type bit with `bit: 0..15`"
            )
        if self.type is DataType.BIT and self.bit is None:
            raise ValueError("type bit needs `bit: 0..15` (which bit of the register)")
        if self.type is not DataType.BIT and self.bit is not None:
            raise ValueError(f"`bit` only applies to type bit, not {self.type.value}")
        if self.type is DataType.STRING and self.length is None:
            raise ValueError("type string needs `length` (number of registers)")
        if self.type is not DataType.STRING and self.length is not None:
            raise ValueError(f"`length` only applies to type string, not {self.type.value}")
        if self.end > MODBUS_MAX_ADDRESS:
            raise ValueError(
                f"address {self.address} + {self.count} registers runs past {MODBUS_MAX_ADDRESS}"
            )
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


class OpcuaAddress(_Frozen):
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


class Point(_Frozen):
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
            raise ValueError("scale must not be 0 (engineering = raw * scale + offset)")
        return value

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"range low {value[0]} is above high {value[1]}")
        return value

    @field_validator("bits")
    @classmethod
    def _bit_numbers(cls, value: dict[int, str] | None) -> dict[int, str] | None:
        if value is not None:
            bad = [b for b in value if not 0 <= b <= 15]
            if bad:
                raise ValueError(f"bit numbers must be 0..15, got {bad}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        if self.modbus is None and self.opcua is None:
            raise ValueError("needs an address: `modbus:` or `opcua:`")
        if self.modbus is not None:
            is_field = self.modbus.type is DataType.BITFIELD
            if is_field and not self.bits:
                raise ValueError("type bitfield needs `bits:` naming its bits")
            if not is_field and self.bits:
                raise ValueError(f"`bits` only applies to type bitfield, not {self.modbus.type}")
            if self.modbus.type in (DataType.STRING,) and (self.scale != 1 or self.offset != 0):
                raise ValueError("a string cannot be scaled")
        return self


class AlarmKind(StrEnum):
    HIHI = "hihi"
    HI = "hi"
    LO = "lo"
    LOLO = "lolo"
    STATE = "state"  # active while the point equals one of `states`
    ROC = "roc"  # rate of change above `limit` per minute
    COMM = "comm"  # communication loss / stale value (no point)


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AlarmText(_Frozen):
    cause: Text
    consequence: Text
    action: Text


class AlarmDefinition(_Frozen):
    """A default alarm for every device of this profile; assets may override it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    point: str | None = Field(default=None, description="the point watched; none for comm")
    kind: AlarmKind
    limit: float | None = None
    states: tuple[int | bool, ...] | None = None
    deadband: float = Field(default=0.0, ge=0)
    on_delay_s: float = Field(default=0.0, ge=0)
    off_delay_s: float = Field(default=0.0, ge=0)
    latching: bool = False
    priority: Priority
    label: Text
    text: AlarmText | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AlarmDefinition:
        analogue = {AlarmKind.HIHI, AlarmKind.HI, AlarmKind.LO, AlarmKind.LOLO, AlarmKind.ROC}
        if self.kind in analogue and self.limit is None:
            raise ValueError(f"a {self.kind.value} alarm needs `limit`")
        if self.kind is AlarmKind.STATE and not self.states:
            raise ValueError("a state alarm needs `states` (the values that are abnormal)")
        if self.kind is AlarmKind.COMM and self.point is not None:
            raise ValueError("a comm alarm watches the device, not a point: remove `point`")
        if self.kind is not AlarmKind.COMM and self.point is None:
            raise ValueError(f"a {self.kind.value} alarm needs `point`")
        return self


class TriggerKind(StrEnum):
    CALENDAR = "calendar"  # fixed: every N units from an anchor date
    FLOATING = "floating"  # every N units from the last completion
    METER = "meter"  # every N counts of a counter point
    CONDITION = "condition"  # while an alarm is active


class PmTrigger(_Frozen):
    kind: TriggerKind
    every: float | None = Field(default=None, gt=0)
    unit: Literal["day", "week", "month", "year", "count"] | None = None
    point: str | None = Field(default=None, description="counter point, for meter triggers")
    alarm: str | None = Field(default=None, description="alarm name, for condition triggers")
    month_day: tuple[int, int] | None = Field(
        default=None, description="calendar anchor (month, day), e.g. before the pool season"
    )

    @model_validator(mode="after")
    def _consistent(self) -> PmTrigger:
        if self.kind in (TriggerKind.CALENDAR, TriggerKind.FLOATING):
            if self.every is None or self.unit in (None, "count"):
                raise ValueError(f"a {self.kind.value} trigger needs `every` and a time `unit`")
        if self.kind is TriggerKind.METER and (self.point is None or self.every is None):
            raise ValueError("a meter trigger needs `point` (a counter) and `every`")
        if self.kind is TriggerKind.CONDITION and self.alarm is None:
            raise ValueError("a condition trigger needs `alarm`")
        return self


class ChecklistKind(StrEnum):
    PASS_FAIL = "pass_fail"
    NUMBER = "number"
    METER = "meter"
    TEXT = "text"
    PHOTO = "photo"


class ChecklistItem(_Frozen):
    text: Text
    kind: ChecklistKind = ChecklistKind.PASS_FAIL
    unit: str | None = None
    limits: tuple[float, float] | None = None
    point: str | None = Field(default=None, description="for meter items: the counter read")
    required: bool = True


class OpenOrderPolicy(StrEnum):
    SKIP = "skip"  # an open order for this plan blocks the next: record it as missed
    SUPERSEDE = "supersede"  # cancel the open one, issue the new one
    STACK = "stack"  # issue regardless (statutory daily checks)


class PmPlan(_Frozen):
    """A default preventive-maintenance plan for every device of this profile."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Text
    triggers: tuple[PmTrigger, ...] = Field(min_length=1, description="whichever comes first")
    lead_time_days: float = Field(default=7, ge=0)
    window_days: float = Field(default=14, gt=0, description="compliance window after due")
    duration_min: int = Field(default=60, gt=0)
    skill: str = "general"
    open_order_policy: OpenOrderPolicy = OpenOrderPolicy.SKIP
    checklist: tuple[ChecklistItem, ...] = ()


class ModbusDefaults(_Frozen):
    """Protocol defaults and per-device workarounds for Modbus profiles."""

    order: ByteOrder = ByteOrder.ABCD
    max_registers_per_request: int = Field(default=125, ge=1, le=125)
    max_bits_per_request: int = Field(default=2000, ge=1, le=2000)
    max_gap: int = Field(default=16, ge=0, le=124, description="registers read to join blocks")
    one_request_per_point: bool = False
    pause_between_requests_ms: int = Field(default=0, ge=0)
    close_after_read: bool = False
    timeout_s: float = Field(default=1.0, gt=0)

    @field_validator("order", mode="before")
    @classmethod
    def _alias(cls, value: object) -> object:
        return normalise_byte_order(value)


class OpcuaDefaults(_Frozen):
    namespace_uri: str = "urn:facility:devices"
    sampling_interval_ms: int = Field(default=1000, ge=0)
    queue_size: int = Field(default=10, ge=1)
    deadband_abs: float = Field(default=0.0, ge=0)
    subscribe: bool = True


class DeviceProfile(_Frozen):
    """A device model: its points, protocol, alarms and maintenance plans."""

    schema_version: Literal[1]
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="profile id, = file stem")
    device_class: DeviceClass
    vendor: str
    model: str
    label: Text
    protocol: Literal["modbus", "opcua"]
    modbus: ModbusDefaults | None = None
    opcua: OpcuaDefaults | None = None
    poll_periods_s: dict[PollClass, float] = Field(
        default_factory=lambda: {PollClass.FAST: 1.0, PollClass.NORMAL: 5.0, PollClass.SLOW: 60.0}
    )
    points: tuple[Point, ...] = Field(min_length=1)
    alarms: tuple[AlarmDefinition, ...] = ()
    pm_plans: tuple[PmPlan, ...] = ()

    @model_validator(mode="after")
    def _whole(self) -> DeviceProfile:
        problems: list[str] = []
        names = [p.name for p in self.points]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"duplicate point names: {', '.join(dupes)}")
        for point in self.points:
            if self.protocol == "modbus" and point.modbus is None:
                problems.append(f"point {point.name}: a modbus profile needs `modbus:` on it")
            if self.protocol == "opcua" and point.opcua is None:
                problems.append(f"point {point.name}: an opcua profile needs `opcua:` on it")
        problems.extend(_overlaps(self.points))
        known = set(names)
        for alarm in self.alarms:
            if alarm.point is not None and alarm.point not in known:
                problems.append(f"alarm {alarm.name}: unknown point {alarm.point!r}")
        alarm_names = {a.name for a in self.alarms}
        counters = {p.name for p in self.points if p.counter}
        for plan in self.pm_plans:
            for trigger in plan.triggers:
                if trigger.point is not None and trigger.point not in counters:
                    problems.append(
                        f"pm plan {plan.name}: meter point {trigger.point!r} is not a counter "
                        "point of this profile"
                    )
                if trigger.alarm is not None and trigger.alarm not in alarm_names:
                    problems.append(f"pm plan {plan.name}: unknown alarm {trigger.alarm!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def point(self, name: str) -> Point:
        for point in self.points:
            if point.name == name:
                return point
        raise KeyError(name)

    def order_of(self, point: Point) -> ByteOrder:
        """The byte/word order that applies to a Modbus point (its own or the profile's)."""
        assert point.modbus is not None
        if point.modbus.order is not None:
            return point.modbus.order
        return self.modbus.order if self.modbus else ByteOrder.ABCD


def _overlaps(points: tuple[Point, ...]) -> list[str]:
    """Points whose registers overlap in the same table (bits of one register may share it)."""
    spans = sorted(
        (
            ((p.modbus.table, p.modbus.address, p.modbus.end), p)
            for p in points
            if p.modbus is not None
        ),
        key=lambda span: span[0],
    )
    problems = []
    seen: list[tuple[Table, int, Point]] = []  # (table, end, point) of earlier spans
    for (table, start, end), point in spans:
        assert point.modbus is not None
        for table_a, end_a, earlier in seen:
            assert earlier.modbus is not None
            if table_a != table or start > end_a:
                continue
            both_bits = earlier.modbus.type is DataType.BIT and point.modbus.type is DataType.BIT
            if both_bits and earlier.modbus.bit != point.modbus.bit:
                continue
            problems.append(
                f"points {earlier.name} and {point.name} overlap in {table.value} registers "
                f"{start}..{min(end_a, end)}"
            )
        seen = [s for s in seen if s[0] == table and s[1] >= start]
        seen.append((table, end, point))
    return problems
