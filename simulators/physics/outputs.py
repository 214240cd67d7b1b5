"""From a model's physical quantities to what a client of the device shows.

A point's Python type follows its wire type: bool for coils, discrete inputs, register bits
and OPC UA Boolean; int for integer registers without scaling, bitfields and OPC UA integer
types (states, counts); float for float registers, scaled integer registers and OPC UA
Float/Double; str for strings. Scaled integer registers are quantised to their resolution
(``run_hours`` with scale 0.1 reads 1234.5, never 1234.56), counters rounded down so they
step up only when a whole unit of resolution has accumulated, and every integer register is
clamped to what its type can hold (a photocell in a uint16 register saturates at 65535 lx).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from device_profiles.models import DataType, DeviceProfile, Point
from facility.errors import ConfigError
from facility.types import PointValue

_INT_LIMITS: dict[str, tuple[int, int]] = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "bitfield": (0, 2**16 - 1),
}
_OPCUA_INT_LIMITS: dict[str, tuple[int, int]] = {
    "Int16": _INT_LIMITS["int16"],
    "UInt16": _INT_LIMITS["uint16"],
    "Int32": _INT_LIMITS["int32"],
    "UInt32": _INT_LIMITS["uint32"],
    "Int64": _INT_LIMITS["int64"],
}

PythonType = type[bool] | type[int] | type[float] | type[str]


def python_type(point: Point) -> PythonType:
    """The Python type a model reports for a point (see the module docstring)."""
    if point.modbus is not None:
        kind = point.modbus.type
        if kind in (DataType.BOOL, DataType.BIT):
            return bool
        if kind is DataType.STRING:
            return str
        if kind in (DataType.FLOAT32, DataType.FLOAT64):
            return float
        if kind is DataType.BITFIELD:
            return int
        return int if point.scale == 1 and point.offset == 0 else float
    assert point.opcua is not None
    data_type = point.opcua.data_type
    if data_type == "Boolean":
        return bool
    if data_type == "String":
        return str
    if data_type in _OPCUA_INT_LIMITS:
        return int
    return float


def _decimals(number: float) -> int:
    exponent = Decimal(repr(number)).normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@dataclass(frozen=True, slots=True)
class _Output:
    name: str
    kind: PythonType
    scale: float
    offset: float
    decimals: int
    floor: bool  # counters round down
    limits: tuple[int, int] | None  # raw integer limits, None for float and text


def _output(point: Point) -> _Output:
    kind = python_type(point)
    limits: tuple[int, int] | None = None
    if point.modbus is not None:
        limits = _INT_LIMITS.get(point.modbus.type.value)
    elif point.opcua is not None:
        limits = _OPCUA_INT_LIMITS.get(point.opcua.data_type)
    quantised = limits is not None and kind is float
    return _Output(
        name=point.name,
        kind=kind,
        scale=point.scale if quantised else 1.0,
        offset=point.offset if quantised else 0.0,
        decimals=max(_decimals(point.scale), _decimals(point.offset)) if quantised else 0,
        floor=point.counter,
        limits=limits,
    )


class ProfileOutputs:
    """Converts a model's raw values into the profile's points, types and resolutions."""

    def __init__(self, profile: DeviceProfile, provided: frozenset[str], asset_no: str) -> None:
        missing = [p.name for p in profile.points if p.name not in provided]
        if missing:
            raise ConfigError(
                f"asset_no={asset_no}: profile {profile.id} has points the "
                f"{profile.device_class.value} simulator does not model: {', '.join(missing)} "
                f"(it models: {', '.join(sorted(provided))})"
            )
        self._outputs = tuple(_output(p) for p in profile.points)

    def finish(self, raw: Mapping[str, PointValue]) -> dict[str, PointValue]:
        """Every profile point, typed, quantised and clamped."""
        result: dict[str, PointValue] = {}
        for out in self._outputs:
            value = raw[out.name]
            if value is None or isinstance(value, str):
                result[out.name] = value
            elif out.kind is bool:
                result[out.name] = bool(value)
            elif out.kind is str:
                result[out.name] = str(value)
            elif out.limits is None:
                result[out.name] = float(value)
            else:
                steps = (float(value) - out.offset) / out.scale
                # A hair of tolerance so 0.3 h accumulated as 0.29999999 still reads 0.3.
                whole = math.floor(steps + 1e-7) if out.floor else round(steps)
                whole = min(max(whole, out.limits[0]), out.limits[1])
                if out.kind is int:
                    result[out.name] = whole
                else:
                    result[out.name] = round(whole * out.scale + out.offset, out.decimals)
        return result
