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

This module holds the root (``DeviceProfile``, its protocol defaults, ``cross_check``) and
re-exports the parts, so ``device_profiles.models`` names every model: ``base`` (frozen
base, text, problems), ``points`` (points and addressing), ``alarm_limits`` (default alarms),
``pm_models`` (default PM plans).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from device_profiles.alarm_limits import AlarmDefinition as AlarmDefinition
from device_profiles.alarm_limits import AlarmKind as AlarmKind
from device_profiles.alarm_limits import AlarmText as AlarmText
from device_profiles.base import PROBLEMS_ERROR as PROBLEMS_ERROR
from device_profiles.base import Frozen
from device_profiles.base import Loc as Loc
from device_profiles.base import Problem as Problem
from device_profiles.base import Text as Text
from device_profiles.base import loc_text as loc_text
from device_profiles.base import raise_problems as raise_problems
from device_profiles.base import suggest_name as suggest_name
from device_profiles.pm_models import ChecklistItem as ChecklistItem
from device_profiles.pm_models import ChecklistKind as ChecklistKind
from device_profiles.pm_models import OpenOrderPolicy as OpenOrderPolicy
from device_profiles.pm_models import PmPlan as PmPlan
from device_profiles.pm_models import PmTrigger as PmTrigger
from device_profiles.pm_models import TriggerKind as TriggerKind
from device_profiles.points import BYTE_ORDER_ALIASES as BYTE_ORDER_ALIASES
from device_profiles.points import MODBUS_MAX_ADDRESS as MODBUS_MAX_ADDRESS
from device_profiles.points import Access as Access
from device_profiles.points import ByteOrder as ByteOrder
from device_profiles.points import DataType as DataType
from device_profiles.points import ModbusAddress as ModbusAddress
from device_profiles.points import OpcuaAddress as OpcuaAddress
from device_profiles.points import Point as Point
from device_profiles.points import PollClass as PollClass
from device_profiles.points import Table as Table
from device_profiles.points import TimestampSource as TimestampSource
from device_profiles.points import normalise_byte_order as normalise_byte_order
from facility.types import DeviceClass
from facility.types import Priority as Priority  # one priority type, re-exported for profiles

SCHEMA_VERSION = 1


class ModbusDefaults(Frozen):
    """Protocol defaults and per-device workarounds for Modbus profiles."""

    order: ByteOrder = ByteOrder.ABCD
    max_registers_per_request: int = Field(default=125, ge=1, le=125)
    max_bits_per_request: int = Field(default=2000, ge=1, le=2000)
    max_gap: int = Field(default=16, ge=0, le=124, description="registers read to join blocks")
    # the device answers exception 2 to a read spanning unmapped registers: never bridge a gap
    strict_gaps: bool = False
    one_request_per_point: bool = False
    pause_between_requests_ms: int = Field(default=0, ge=0)
    close_after_read: bool = False
    timeout_s: float = Field(default=1.0, gt=0)

    @field_validator("order", mode="before")
    @classmethod
    def _alias(cls, value: object) -> object:
        return normalise_byte_order(value)


class OpcuaDefaults(Frozen):
    namespace_uri: str = "urn:facility:devices"
    sampling_interval_ms: int = Field(default=1000, ge=0)
    queue_size: int = Field(default=10, ge=1)
    deadband_abs: float = Field(default=0.0, ge=0)
    subscribe: bool = True


class DeviceProfile(Frozen):
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
