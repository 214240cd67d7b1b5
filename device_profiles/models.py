"""Typed, frozen models of a device profile (schema_version 1).

A profile is declarative data: what a device model exposes (points), where each point lives
on the wire (Modbus table/address/type/order, or an OPC UA node id / browse path), how raw
values scale to engineering units, the valid range, how often to poll, whether it counts up,
plus default alarm limits and default preventive-maintenance plans for that device class.

Engineering value = raw * scale + offset. Validation here is per field and per profile
(overlapping registers, duplicate names, references to unknown points). Consistency problems
are raised as ``Problem``s located relative to the model that found them (one pydantic
error of type ``PROBLEMS_ERROR`` carrying them all), so the loader can put each at its own
file line; ``cross_check`` is also run by the loader over the items that validated when
others did not, to report every error of a file at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple, NoReturn

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from facility.types import DeviceClass
from facility.types import Priority as Priority  # one priority type, re-exported for profiles

SCHEMA_VERSION = 1

MODBUS_MAX_ADDRESS = 65535


Loc = tuple[str | int, ...]

# pydantic error type of the problems below; the loader expands its ``problems`` context.
PROBLEMS_ERROR = "profile_problems"


class Problem(NamedTuple):
    """One consistency problem, located relative to the model that found it.

    ``message`` may contain ``{see}``: where the other party of the problem is (e.g. the
    first of two duplicate names). The loader renders it as a line number; on its own it
    renders as a path such as ``points[2].name``.
    """

    loc: Loc
    message: str
    see: Loc | None = None

    def render(self, see_text: str | None = None) -> str:
        if self.see is None:
            return self.message
        return self.message.replace("{see}", see_text or loc_text(self.see))


def loc_text(loc: Loc) -> str:
    """``("points", 3, "modbus", "type")`` -> ``points[3].modbus.type``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def raise_problems(problems: Sequence[Problem]) -> NoReturn:
    """Fail validation with every problem, each keeping its own location."""
    summary = "; ".join(
        f"{loc_text(p.loc)}: {p.render()}" if p.loc else p.render() for p in problems
    )
    raise PydanticCustomError(
        PROBLEMS_ERROR, "{summary}", {"summary": summary, "problems": list(problems)}
    )


def suggest_name(name: str, known: Sequence[str], what: str) -> str:
    """``unknown point 'x'`` plus the closest known name, or the list of known names."""
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown {what} {name!r}; did you mean {close[0]!r}?"
    if not known:
        return f"unknown {what} {name!r}; this profile has none"
    return f"unknown {what} {name!r}; expected one of: {', '.join(known)}"


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


class AlarmKind(StrEnum):
    HIHI = "hihi"
    HI = "hi"
    LO = "lo"
    LOLO = "lolo"
    STATE = "state"  # active while the point equals one of `states`
    ROC = "roc"  # rate of change above `limit` per minute
    COMM = "comm"  # communication loss / stale value (no point)


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
        kind = self.kind.value
        problems: list[Problem] = []
        if self.kind in analogue and self.limit is None:
            problems.append(Problem(("kind",), f"a {kind} alarm needs `limit`"))
        if self.kind is AlarmKind.STATE and not self.states:
            problems.append(
                Problem(("kind",), "a state alarm needs `states` (the values that are abnormal)")
            )
        if self.kind is AlarmKind.COMM and self.point is not None:
            problems.append(
                Problem(("point",), "a comm alarm watches the device, not a point: remove `point`")
            )
        if self.kind is not AlarmKind.COMM and self.point is None:
            problems.append(
                Problem(("kind",), f"a {kind} alarm needs `point` (the point it watches)")
            )
        if problems:
            raise_problems(problems)
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
        kind = self.kind.value
        problems: list[Problem] = []
        timed = self.kind in (TriggerKind.CALENDAR, TriggerKind.FLOATING)
        if timed and (self.every is None or self.unit in (None, "count")):
            problems.append(
                Problem(
                    ("kind",),
                    f"a {kind} trigger needs `every` and a time `unit` (day, week, month or year)",
                )
            )
        if self.kind is TriggerKind.METER:
            if self.point is None or self.every is None:
                problems.append(
                    Problem(("kind",), "a meter trigger needs `point` (a counter) and `every`")
                )
            if self.unit not in (None, "count"):
                problems.append(
                    Problem(
                        ("unit",),
                        f"a meter trigger counts in its point's unit, not {self.unit}: "
                        "expected no `unit` (or `unit: count`)",
                    )
                )
        if self.kind is TriggerKind.CONDITION and self.alarm is None:
            problems.append(Problem(("kind",), "a condition trigger needs `alarm`"))
        if self.month_day is not None:
            month, day = self.month_day
            if self.kind is not TriggerKind.CALENDAR:
                problems.append(
                    Problem(("month_day",), f"`month_day` only applies to calendar, not {kind}")
                )
            elif not (1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]):
                problems.append(
                    Problem(
                        ("month_day",),
                        f"no such date {month}-{day}; expected [month, day], e.g. [4, 1]",
                    )
                )
        if problems:
            raise_problems(problems)
        return self


# Longest month lengths (29 for February): an anchor must exist in some year.
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


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

    @model_validator(mode="after")
    def _consistent(self) -> ChecklistItem:
        problems: list[Problem] = []
        if self.kind is ChecklistKind.METER and self.point is None:
            problems.append(
                Problem(("kind",), "a meter item needs `point` (the counter the technician reads)")
            )
        if self.limits is not None and self.limits[0] > self.limits[1]:
            problems.append(
                Problem(
                    ("limits",),
                    f"limits low {self.limits[0]:g} is above high {self.limits[1]:g}; "
                    "expected [low, high]",
                )
            )
        if problems:
            raise_problems(problems)
        return self


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
    poll_periods_s: dict[PollClass, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {PollClass.FAST: 1.0, PollClass.NORMAL: 5.0, PollClass.SLOW: 60.0}
    )
    points: tuple[Point, ...] = Field(min_length=1)
    alarms: tuple[AlarmDefinition, ...] = ()
    pm_plans: tuple[PmPlan, ...] = ()

    @model_validator(mode="after")
    def _whole(self) -> DeviceProfile:
        problems = cross_check(
            self.protocol, self.poll_periods_s, self.points, self.alarms, self.pm_plans
        )
        if problems:
            raise_problems(problems)
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


def cross_check(
    protocol: str | None,
    poll_periods_s: Mapping[PollClass, float] | None,
    points: Sequence[Point | None],
    alarms: Sequence[AlarmDefinition | None] = (),
    pm_plans: Sequence[PmPlan | None] = (),
    invalid_points: Sequence[str] = (),
    invalid_alarms: Sequence[str] = (),
) -> list[Problem]:
    """Problems between the parts of a profile, each located at the offending item.

    Items are given by position so locations stay those of the file; ``None`` marks an item
    that failed its own validation (the loader checks the rest anyway, to report every
    error at once), and ``invalid_points`` / ``invalid_alarms`` hold the names such items
    declare, so references to them are not reported as unknown. ``protocol`` or
    ``poll_periods_s`` None: not known, not checked.
    """
    problems: list[Problem] = []
    first_point: dict[str, int] = {}
    for i, point in enumerate(points):
        if point is None:
            continue
        if point.name in first_point:
            problems.append(
                Problem(
                    ("points", i, "name"),
                    f"duplicate point name {point.name!r}; expected unique names "
                    "(first used at {see})",
                    ("points", first_point[point.name], "name"),
                )
            )
        else:
            first_point[point.name] = i
        if protocol in ("modbus", "opcua") and getattr(point, protocol) is None:
            article = "an" if protocol == "opcua" else "a"
            problems.append(
                Problem(
                    ("points", i),
                    f"{article} {protocol} profile needs `{protocol}:` on every point",
                )
            )
        if poll_periods_s is not None and point.poll not in poll_periods_s:
            defined = ", ".join(c.value for c in poll_periods_s) or "none"
            problems.append(
                Problem(
                    ("points", i, "poll"),
                    f"poll class {point.poll.value} has no period in `poll_periods_s` "
                    f"(defined: {defined})",
                )
            )
    problems.extend(_overlaps(points))

    point_names = [*first_point, *(n for n in invalid_points if n not in first_point)]
    counters = [p.name for p in points if p is not None and p.counter]
    first_alarm: dict[str, int] = {}
    for k, alarm in enumerate(alarms):
        if alarm is None:
            continue
        if alarm.name in first_alarm:
            problems.append(
                Problem(
                    ("alarms", k, "name"),
                    f"duplicate alarm name {alarm.name!r}; expected unique names "
                    "(first used at {see})",
                    ("alarms", first_alarm[alarm.name], "name"),
                )
            )
        else:
            first_alarm[alarm.name] = k
        if alarm.point is None or alarm.point in invalid_points:
            continue
        if alarm.point not in first_point:
            problems.append(
                Problem(("alarms", k, "point"), suggest_name(alarm.point, point_names, "point"))
            )
            continue
        watched = points[first_point[alarm.point]]
        assert watched is not None
        if alarm.kind is AlarmKind.STATE and watched.states and alarm.states:
            unknown = [v for v in alarm.states if not isinstance(v, bool)]
            unknown = [v for v in unknown if v not in watched.states]
            if unknown:
                named = ", ".join(f"{v} {n}" for v, n in sorted(watched.states.items()))
                problems.append(
                    Problem(
                        ("alarms", k, "states"),
                        f"state {', '.join(map(str, unknown))} is not a state of point "
                        f"{watched.name!r}; expected one of: {named}",
                    )
                )

    alarm_names = [*first_alarm, *(n for n in invalid_alarms if n not in first_alarm)]
    first_plan: dict[str, int] = {}
    for j, plan in enumerate(pm_plans):
        if plan is None:
            continue
        if plan.name in first_plan:
            problems.append(
                Problem(
                    ("pm_plans", j, "name"),
                    f"duplicate pm plan name {plan.name!r}; expected unique names "
                    "(first used at {see})",
                    ("pm_plans", first_plan[plan.name], "name"),
                )
            )
        else:
            first_plan[plan.name] = j
        for t, trigger in enumerate(plan.triggers):
            loc: Loc = ("pm_plans", j, "triggers", t)
            if trigger.point is not None and trigger.point not in invalid_points:
                problems.extend(_counter_ref(trigger.point, point_names, counters, (*loc, "point")))
            wanted = trigger.alarm
            if wanted is not None and wanted not in invalid_alarms and wanted not in first_alarm:
                problems.append(
                    Problem((*loc, "alarm"), suggest_name(wanted, alarm_names, "alarm"))
                )
        for c, item in enumerate(plan.checklist):
            if item.point is None or item.point in invalid_points:
                continue
            loc = ("pm_plans", j, "checklist", c, "point")
            if item.kind is ChecklistKind.METER:
                problems.extend(_counter_ref(item.point, point_names, counters, loc))
            elif item.point not in first_point:
                problems.append(Problem(loc, suggest_name(item.point, point_names, "point")))
    return problems


def _counter_ref(name: str, point_names: list[str], counters: list[str], loc: Loc) -> list[Problem]:
    """A meter reference: the point must exist and count up."""
    if name not in point_names:
        return [Problem(loc, suggest_name(name, point_names, "point"))]
    if name not in counters:
        these = f"counters here: {', '.join(counters)}" if counters else "this profile has none"
        return [
            Problem(
                loc,
                f"point {name!r} is not a counter; a meter needs a point with "
                f"`counter: true` ({these})",
            )
        ]
    return []


_TABLE_UNITS = {
    Table.COIL: "coil",
    Table.DISCRETE: "discrete input",
    Table.HOLDING: "holding register",
    Table.INPUT: "input register",
}


def _overlaps(points: Sequence[Point | None]) -> list[Problem]:
    """Points whose registers overlap in the same table (bits of one register may share it).

    Each overlap is reported once, at the point with the higher address (or the later one).
    """
    spans = sorted(
        (p.modbus.table, p.modbus.address, p.modbus.end, i, p.name, p.modbus)
        for i, p in enumerate(points)
        if p is not None and p.modbus is not None
    )
    problems = []
    seen: list[tuple[int, int, str, ModbusAddress]] = []  # (end, index, name, address) earlier
    for table, start, end, i, name, address in spans:
        for end_a, k, name_a, address_a in seen:
            if address_a.table != table or start > end_a:
                continue
            both_bits = address_a.type is DataType.BIT and address.type is DataType.BIT
            if both_bits and address_a.bit != address.bit:
                continue
            last = min(end_a, end)
            unit = _TABLE_UNITS[table]
            shared = (
                f"{unit}s {start}..{last} also belong"
                if last > start
                else f"{unit} {start} also belongs"
            )
            problems.append(
                Problem(
                    ("points", i, "modbus", "address"),
                    f"{shared} to point {name_a!r} (at {{see}}); expected each register used "
                    "by one point only (type bit points may share a register with different "
                    "`bit`s)",
                    ("points", k, "modbus", "address"),
                )
            )
        seen = [s for s in seen if s[3].table == table and s[0] >= start]
        seen.append((end, i, name, address))
    return problems
