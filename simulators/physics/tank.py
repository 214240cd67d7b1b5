"""Roof or basement water tank (TNK): level, inlet float valve, switches and water quality.

A 3 m deep tank (3.0 m = 100 %) supplies the estate along the residential demand curve. The
inlet valve opens below 2.2 m and closes at 2.9 m; municipal inflow is a little under the
peak draw, so the level dips in the morning and evening peaks and refills at night. The
high-level switch makes at 3.1 m, the low-level switch at 0.5 m.

Residual chlorine decays first-order (half-life 1.5-3 days) and is topped up by fresh mains
water (0.5-0.8 mg/L) when the valve is open. Turbidity is low (0.2-0.4 NTU) and rises slowly
with the days since the tank was last cleaned (``days_since_cleaning``, seeded, advancing
with simulated time), plus sediment stirred up when the tank runs low. Water temperature
follows the season and a daily cycle (larger on roof tanks).

Fault ``sensor_stuck``: the level transmitter freezes (``level`` and ``volume_pct`` hold their
last values) while the true level, the valve and the switches keep moving.
"""

from __future__ import annotations

import math
import random

from device_profiles.models import DeviceProfile
from facility.types import PointValue
from simulators.physics._common import (
    DAY_S,
    PhysicsModel,
    Site,
    SmoothNoise,
    residential_demand,
    season,
    stable_key,
)
from simulators.physics.base import FaultKind

DEPTH_M = 3.0
VALVE_OPEN_BELOW_M = 2.2
VALVE_CLOSE_AT_M = 2.9
HIGH_SWITCH_M = 3.1
LOW_SWITCH_M = 0.5
OVERFLOW_M = 3.25  # the overflow pipe: the level cannot rise past it
TURBIDITY_PER_DAY = 0.0025  # NTU per day since cleaning
MAX_SUBSTEP_S = 60.0


class TankModel(PhysicsModel):
    """A water tank with float valve and quality sensors; see the module docstring."""

    POINTS = frozenset(
        {
            "level",
            "volume_pct",
            "inlet_valve_open",
            "high_switch",
            "low_switch",
            "outlet_flow",
            "residual_chlorine",
            "turbidity",
            "water_temp",
            "inflow_total",
        }
    )
    FAULTS = frozenset({FaultKind.SENSOR_STUCK})
    WRITABLE = frozenset[str]()

    def __init__(
        self,
        asset_no: str,
        profile: DeviceProfile,
        key: int,
        site: Site,
        days_since_cleaning: float | None = None,
    ) -> None:
        super().__init__(asset_no, profile, key, site)
        rng = random.Random(key)
        self.area_m2 = rng.uniform(12.0, 30.0)
        self.q_peak = self.area_m2 * rng.uniform(0.8, 1.1)  # m³/h: ~1 m/h at the peak
        self.q_inlet = self.q_peak * rng.uniform(0.85, 1.0)
        self.chlorine_in = rng.uniform(0.5, 0.8)
        self._decay_per_s = math.log(2.0) / (rng.uniform(1.5, 3.0) * DAY_S)
        self._turbidity_base = rng.uniform(0.2, 0.3)
        self.roof = rng.random() < 0.5
        self.days_since_cleaning = (
            rng.uniform(0.0, 150.0) if days_since_cleaning is None else days_since_cleaning
        )
        self._demand_noise = SmoothNoise(stable_key(key, "demand"), 420.0)
        self._inlet_noise = SmoothNoise(stable_key(key, "inlet"), 900.0)
        self._quality_noise = SmoothNoise(stable_key(key, "quality"), 1800.0)
        self._sensor_noise = SmoothNoise(stable_key(key, "sensor"), 4.0)

        self.level_m = rng.uniform(2.3, 2.8)
        self.valve_open = False
        self.chlorine = self.chlorine_in * rng.uniform(0.6, 0.8)
        self.inflow_m3 = rng.uniform(10_000.0, 200_000.0)
        self._outflow = 0.0
        self._stuck_level: float | None = None

    def _advance(self, t0: float, t1: float) -> None:
        self.days_since_cleaning += (t1 - t0) / DAY_S
        t = t0
        while t1 - t > 1e-9:
            if self.level_m < VALVE_OPEN_BELOW_M:
                self.valve_open = True
            elif self.level_m >= VALVE_CLOSE_AT_M:
                self.valve_open = False
            hour = self.local_hour(t)
            outflow = self.q_peak * residential_demand(hour) * (1 + 0.15 * self._demand_noise(t))
            if self.level_m <= 0.02:
                outflow = 0.0  # empty: the outlet draws air
            inflow = self.q_inlet * (1 + 0.05 * self._inlet_noise(t)) if self.valve_open else 0.0
            rate_m_s = (inflow - outflow) / 3600.0 / self.area_m2
            h = min(t1 - t, MAX_SUBSTEP_S)
            if self.valve_open and rate_m_s > 0:
                # land on the closing level instead of overshooting it
                h = max(min(h, (VALVE_CLOSE_AT_M - self.level_m) / rate_m_s), 1e-3)
            self.level_m = min(OVERFLOW_M, max(0.0, self.level_m + rate_m_s * h))
            self._mix_chlorine(inflow, h)
            self.inflow_m3 += inflow * h / 3600.0
            self._outflow = outflow
            t += h

    def _mix_chlorine(self, inflow_m3h: float, h: float) -> None:
        """dC/dt = Qin/V (Cin - C) - k C, solved exactly over the sub-step."""
        volume = max(self.level_m * self.area_m2, 0.5)
        dilution = inflow_m3h / 3600.0 / volume
        rate = dilution + self._decay_per_s
        equilibrium = dilution * self.chlorine_in / rate
        self.chlorine = equilibrium + (self.chlorine - equilibrium) * math.exp(-rate * h)

    def _write(self, point: str, value: PointValue) -> None:  # pragma: no cover - none writable
        raise self._bad_value(point, value, "no write (read-only device)")

    def _inject(self, fault: FaultKind, active: bool) -> None:
        self._stuck_level = self.level_m if active else None

    def _water_temp(self, t: float) -> float:
        local = t + self._offset_s
        hour = (local % DAY_S) / 3600.0
        base = 23.5 + (6.5 if self.roof else 4.5) * season(local)
        daily = (1.5 if self.roof else 0.3) * math.sin(2.0 * math.pi * (hour - 10.0) / 24.0)
        return base + daily + 0.1 * self._quality_noise(t)

    def _raw_values(self) -> dict[str, PointValue]:
        t = self._t
        measured = self._stuck_level
        if measured is None:
            measured = max(0.0, self.level_m + 0.003 * self._sensor_noise(t))
        sediment = max(0.0, 0.8 - self.level_m) * 0.6
        turbidity = (
            self._turbidity_base
            + TURBIDITY_PER_DAY * self.days_since_cleaning
            + sediment
            + 0.05 * self._quality_noise(t + 7_777.0)
        )
        return {
            "level": measured,
            "volume_pct": min(100.0, 100.0 * measured / DEPTH_M),
            "inlet_valve_open": self.valve_open,
            "high_switch": self.level_m >= HIGH_SWITCH_M,
            "low_switch": self.level_m <= LOW_SWITCH_M,
            "outlet_flow": self._outflow,
            "residual_chlorine": max(0.0, self.chlorine + 0.01 * self._quality_noise(t + 3_333.0)),
            "turbidity": max(0.0, turbidity),
            "water_temp": self._water_temp(t),
            "inflow_total": self.inflow_m3,
        }
