"""What every device model shares: stable seeding, time-based noise, the demand curve, and
the base class that turns a model's state into profile values.

Exogenous signals (water demand, clouds, sensor noise) are pure functions of simulated time
and the model's key, so a series does not depend on how time was cut into steps; random
events (lamp failures, door left open) are drawn ahead from seeded generators.
"""

from __future__ import annotations

import abc
import hashlib
import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import ClassVar

from device_profiles.models import Access, DeviceProfile
from facility.errors import ConfigError
from facility.types import PointValue
from simulators.physics.base import FaultKind
from simulators.physics.outputs import ProfileOutputs

_MASK64 = (1 << 64) - 1
_TWO_64 = float(1 << 64)
DAY_S = 86400.0


def stable_key(*parts: object) -> int:
    """A 64-bit key from the parts' text, the same in every process (unlike ``hash()``)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _mix64(x: int) -> int:
    """splitmix64 finaliser: a fast, well-spread integer hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def hash_unit(key: int, index: int) -> float:
    """A uniform number in [0, 1) for (key, index)."""
    return _mix64(key ^ ((index * 0x632BE59BD9B4E019) & _MASK64)) / _TWO_64


class SmoothNoise:
    """Value noise in [-1, 1] over time: random at every ``period_s``, smooth in between."""

    __slots__ = ("_cell", "_key", "_left", "_period", "_right")

    def __init__(self, key: int, period_s: float) -> None:
        self._key = key
        self._period = period_s
        self._cell = -(1 << 62)
        self._left = 0.0
        self._right = 0.0

    def __call__(self, t: float) -> float:
        x = t / self._period
        cell = math.floor(x)
        if cell != self._cell:
            self._cell = cell
            self._left = 2.0 * hash_unit(self._key, cell) - 1.0
            self._right = 2.0 * hash_unit(self._key, cell + 1) - 1.0
        f = x - cell
        f = f * f * (3.0 - 2.0 * f)
        return self._left + (self._right - self._left) * f


# Residential water demand, relative to the daily peak, by local hour: low at night, a
# morning peak 06:30-08:30 and an evening peak 18:00-22:00.
_DEMAND_TABLE: tuple[tuple[float, float], ...] = (
    (0.0, 0.10),
    (1.0, 0.07),
    (2.0, 0.05),
    (3.0, 0.05),
    (4.0, 0.06),
    (5.0, 0.12),
    (6.0, 0.35),
    (6.5, 0.62),
    (7.0, 0.90),
    (7.5, 1.00),
    (8.0, 0.92),
    (8.5, 0.68),
    (9.0, 0.52),
    (10.0, 0.42),
    (11.0, 0.45),
    (12.0, 0.55),
    (13.0, 0.50),
    (14.0, 0.38),
    (15.0, 0.35),
    (16.0, 0.38),
    (17.0, 0.50),
    (18.0, 0.75),
    (19.0, 0.95),
    (20.0, 1.00),
    (21.0, 0.90),
    (22.0, 0.62),
    (23.0, 0.30),
    (24.0, 0.10),
)
_DEMAND_HOURS = tuple(h for h, _ in _DEMAND_TABLE)


def residential_demand(hour: float) -> float:
    """Relative water demand (0..1 of the daily peak) at a local hour of the day."""
    hour %= 24.0
    i = bisect_right(_DEMAND_HOURS, hour)
    h0, d0 = _DEMAND_TABLE[i - 1]
    h1, d1 = _DEMAND_TABLE[i]
    return d0 + (d1 - d0) * (hour - h0) / (h1 - h0)


def season(t_local: float) -> float:
    """-1 around 20 January (coldest) to +1 around 21 July (warmest), from local time."""
    day_of_year = (t_local / DAY_S) % 365.2425  # the epoch is a 1 January: close enough
    return -math.cos(2.0 * math.pi * (day_of_year - 20.0) / 365.2425)


@dataclass(frozen=True, slots=True)
class Site:
    """Where a device is: position for the sun, zone for local time, key for the weather."""

    latitude: float
    longitude: float
    tz: tzinfo
    weather_key: int


class PhysicsModel(abc.ABC):
    """Base of the device models: stepping, write/inject checks, profile values.

    Subclasses set ``POINTS`` (every point they produce), ``FAULTS`` and ``WRITABLE`` and
    implement ``_advance``, ``_raw_values``, ``_write`` and ``_inject``.
    """

    POINTS: ClassVar[frozenset[str]]
    FAULTS: ClassVar[frozenset[FaultKind]]
    WRITABLE: ClassVar[frozenset[str]]

    def __init__(self, asset_no: str, profile: DeviceProfile, key: int, site: Site) -> None:
        self.asset_no = asset_no
        self._profile = profile
        self._key = key
        self._site = site
        self._outputs = ProfileOutputs(profile, self.POINTS, asset_no)
        self._active: set[FaultKind] = set()
        self._t = 0.0  # POSIX time of the end of the last step
        self._offset_s = 0.0  # local UTC offset at the last step
        self._cache: Mapping[str, PointValue] | None = None

    @property
    def faults(self) -> frozenset[FaultKind]:
        """The physical faults this model supports."""
        return self.FAULTS

    @property
    def active_faults(self) -> frozenset[FaultKind]:
        """Physical faults injected and not yet cleared."""
        return frozenset(self._active)

    def step(self, now: datetime, dt_s: float) -> None:
        """Advance the physics by ``dt_s`` simulated seconds, ending at ``now``."""
        if dt_s < 0 or not math.isfinite(dt_s):
            raise ConfigError(f"asset_no={self.asset_no}: step dt_s must be >= 0, got {dt_s}")
        # A naive ``now`` is the site's local time (not the host's).
        local = now.astimezone(self._site.tz) if now.tzinfo else now.replace(tzinfo=self._site.tz)
        t_end = local.timestamp()
        offset = local.utcoffset()
        self._offset_s = offset.total_seconds() if offset is not None else 0.0
        self._advance(t_end - dt_s, t_end)
        self._t = t_end
        self._cache = None

    def values(self) -> Mapping[str, PointValue]:
        """Current engineering values by point name (every point of the profile), read-only."""
        if self._cache is None:
            self._cache = MappingProxyType(self._outputs.finish(self._raw_values()))
        return self._cache

    def write(self, point: str, value: PointValue) -> None:
        """A client wrote a writable point; ConfigError names what was expected."""
        try:
            spec = self._profile.point(point)
        except KeyError:
            raise ConfigError(
                f"asset_no={self.asset_no}: no point {point!r} in profile {self._profile.id}"
            ) from None
        if spec.access is not Access.READ_WRITE or point not in self.WRITABLE:
            raise ConfigError(f"asset_no={self.asset_no}: point {point!r} is read-only")
        self._write(point, value)
        self._cache = None

    def inject(self, fault: FaultKind, active: bool) -> None:
        """Start or clear a physical fault; ConfigError if this class has no such fault."""
        if fault not in self.FAULTS:
            supported = ", ".join(sorted(f.value for f in self.FAULTS))
            raise ConfigError(
                f"asset_no={self.asset_no}: fault {fault.value!r} does not apply to "
                f"{self._profile.device_class.value} devices (supported: {supported})"
            )
        if active == (fault in self._active):
            return  # already in that state: injecting twice changes nothing
        if active:
            self._active.add(fault)
        else:
            self._active.discard(fault)
        self._inject(fault, active)
        self._cache = None

    def local_hour(self, t: float) -> float:
        """Local hour of the day (0..24) at POSIX time ``t``."""
        return ((t + self._offset_s) % DAY_S) / 3600.0

    # --- for subclasses -------------------------------------------------------------------

    @abc.abstractmethod
    def _advance(self, t0: float, t1: float) -> None:
        """Advance the physics from POSIX time t0 to t1."""

    @abc.abstractmethod
    def _raw_values(self) -> dict[str, PointValue]:
        """Every point's current value, before quantisation."""

    @abc.abstractmethod
    def _write(self, point: str, value: PointValue) -> None:
        """Apply a client's write to a writable point."""

    def _inject(self, fault: FaultKind, active: bool) -> None:  # noqa: B027 (optional hook)
        """Most faults are just flags in ``self._active``; override for side effects."""

    def _bad_value(self, point: str, value: PointValue, expected: str) -> ConfigError:
        return ConfigError(
            f"asset_no={self.asset_no}: point {point!r}: expected {expected}, got {value!r}"
        )

    def _as_bool(self, point: str, value: PointValue) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise self._bad_value(point, value, "true/false (1/0)")

    def _as_state(self, point: str, value: PointValue) -> int:
        states = self._profile.point(point).states or {}
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and float(value).is_integer()
            and int(value) in states
        ):
            return int(value)
        names = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
        raise self._bad_value(point, value, f"one of {names}")

    def _as_number(self, point: str, value: PointValue) -> float:
        spec = self._profile.point(point)
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            low, high = spec.range if spec.range is not None else (-math.inf, math.inf)
            if math.isfinite(number) and low <= number <= high:
                return number
        where = f" in {spec.range[0]}..{spec.range[1]} {spec.unit}" if spec.range else ""
        raise self._bad_value(point, value, f"a number{where}")


def relax(value: float, target: float, dt_s: float, tau_s: float) -> float:
    """First-order lag towards ``target``, exact for any step length."""
    return target + (value - target) * math.exp(-dt_s / tau_s)
