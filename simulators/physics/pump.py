"""Booster pump set on pressure control (PMP): one VFD pump with a hydro-pneumatic vessel.

Auto mode: the estate draws water along the residential demand curve; while the pump is
stopped the vessel supplies it and its pressure falls (Boyle's law on the vessel's gas); at
cut-in (set-point - 0.5 bar) the pump starts, and the VFD holds the set-point by choosing the
frequency the pump curve needs (affinity laws, never below 25 Hz). When demand stays under
the no-flow threshold, after the minimum run time, the drive boosts to cut-out (set-point +
0.3 bar) and stops. Manual mode runs the pump at a fixed 45 Hz whatever the demand; off stops
it. Power and current follow the affinity laws, motor temperature lags the current.

Each pump is its own set: duty/standby alternation between the two pumps of a real pair is
not modelled (two PMP assets are two independent sets sharing nothing).

Faults: ``overcurrent`` makes the current climb over about a minute of running to ~46 A and
the drive trips at 45 A (run_state 2, fault_code 1); ``dry_run`` drops suction pressure to
about 0 bar and the drive trips on dry run after 15 s of running (fault_code 5). A trip
holds until the fault is cleared, which stands for the operator's reset.
"""

from __future__ import annotations

import math
import random

from device_profiles.models import DeviceProfile
from facility.types import PointValue
from simulators.physics._common import (
    PhysicsModel,
    Site,
    SmoothNoise,
    relax,
    residential_demand,
    season,
    stable_key,
)
from simulators.physics.base import FaultKind

FIRMWARE = "V2.31.07"  # one drive model, one firmware (4 registers = 8 characters)

RUN_STOPPED, RUN_RUNNING, RUN_TRIPPED = 0, 1, 2
MODE_AUTO, MODE_MANUAL, MODE_OFF = 0, 1, 2
FAULT_NONE, FAULT_OVERCURRENT, FAULT_DRY_RUN = 0, 1, 5

CUT_IN_BELOW_SP = 0.5  # bar
CUT_OUT_ABOVE_SP = 0.3  # bar
MIN_FREQUENCY = 25.0  # Hz
MANUAL_FREQUENCY = 45.0  # Hz
MIN_RUN_S = 120.0
NO_FLOW_DELAY_S = 30.0
DRY_RUN_DELAY_S = 15.0
OVERCURRENT_TRIP_A = 45.0
OVERCURRENT_PEAK_A = 46.0
OVERCURRENT_RAMP_S = 60.0
WARNING_CURRENT_A = 40.0
WARNING_TEMP_C = 95.0
SUPPLY_V = 380.0
POWER_FACTOR = 0.85
DRIVE_EFFICIENCY = 0.9  # motor and VFD together
ATM_BAR = 1.013

MAX_SUBSTEP_RUNNING_S = 10.0  # near decisions: min run, no-flow, faults
MAX_SUBSTEP_STEADY_S = 30.0  # running steadily well above the no-flow threshold
MAX_SUBSTEP_STOPPED_S = 60.0

_RATINGS = ((5.5, 20.0), (7.5, 28.0), (11.0, 40.0))  # (shaft kW, m³/h at the design point)


class PumpModel(PhysicsModel):
    """A VFD booster pump set on pressure control; see the module docstring."""

    POINTS = frozenset(
        {
            "run_state",
            "mode",
            "frequency",
            "current",
            "power",
            "voltage",
            "motor_temp",
            "setpoint_pressure",
            "fault_code",
            "status_word",
            "firmware",
            "discharge_pressure",
            "suction_pressure",
            "run_hours",
            "start_count",
            "energy",
        }
    )
    FAULTS = frozenset({FaultKind.OVERCURRENT, FaultKind.DRY_RUN})
    WRITABLE = frozenset({"mode", "setpoint_pressure"})

    def __init__(self, asset_no: str, profile: DeviceProfile, key: int, site: Site) -> None:
        super().__init__(asset_no, profile, key, site)
        rng = random.Random(key)
        self.rated_kw, q_design = rng.choice(_RATINGS)
        self.q_rated = q_design * rng.uniform(0.9, 1.1)  # m³/h
        self.q_peak = self.q_rated * rng.uniform(0.7, 0.9)
        self.q_no_flow = 0.12 * self.q_rated
        self.setpoint = round(rng.uniform(3.8, 4.6), 1)  # bar
        self.suction_static = rng.uniform(0.4, 1.2)  # bar, from the break tank
        self.vessel_l = rng.uniform(600.0, 1000.0)
        # Pump curve at 50 Hz: H(Q) = H0 - a Q², through the design point at the set-point.
        head_design = self.setpoint - self.suction_static
        self._h0 = 1.45 * head_design
        self._a = (self._h0 - head_design) / self.q_rated**2
        # Magnetising current: about a third of the full-load current, ∝ V/f held by the VFD.
        self._i_magnetising = (
            0.35
            * self.rated_kw
            * 1000.0
            / (DRIVE_EFFICIENCY * math.sqrt(3.0) * SUPPLY_V * POWER_FACTOR)
        )
        self._i_design = self._current(50.0, self.q_rated, SUPPLY_V)

        self._demand_noise = SmoothNoise(stable_key(key, "demand"), 420.0)
        self._volt_noise = SmoothNoise(stable_key(key, "volt"), 90.0)
        self._fast_noise = SmoothNoise(stable_key(key, "sensor"), 3.0)

        self.mode = MODE_AUTO
        self.running = False
        self.tripped = False
        self.fault_code = FAULT_NONE
        self.pressure = self.setpoint  # vessel / discharge, bar gauge
        self._run_for_s = 0.0
        self._no_flow_s = 0.0
        self._dry_s = 0.0
        self._oc_s = 0.0
        self._frequency = 0.0
        self._current_a = 0.0
        self._power_kw = 0.0
        self._suction = self.suction_static
        self._volts = SUPPLY_V
        # An estate's pumps have been in service for a while.
        hours = rng.uniform(2_000.0, 25_000.0)
        self.run_s = hours * 3600.0
        self.starts = int(hours * rng.uniform(2.0, 5.0))
        self.energy_kwh = hours * self.rated_kw * rng.uniform(0.35, 0.5)
        self.motor_temp = 30.0
        self._started = False  # motor temperature starts at ambient on the first step

    # --- physics --------------------------------------------------------------------------

    def _current(self, frequency: float, flow: float, volts: float) -> float:
        active = self._power(frequency, flow) * 1000.0 / (math.sqrt(3.0) * volts * POWER_FACTOR)
        return active + self._i_magnetising * (frequency / 50.0)

    def _power(self, frequency: float, flow: float) -> float:
        """Electrical kW: an f³ share (losses, churning) plus the hydraulic share ∝ Q f²."""
        ratio = frequency / 50.0
        shaft = self.rated_kw * (0.25 * ratio**3 + 0.75 * (flow / self.q_rated) * ratio**2)
        return shaft / DRIVE_EFFICIENCY

    def demand(self, t: float) -> float:
        """The estate's draw in m³/h at time ``t``."""
        relative = residential_demand(self.local_hour(t)) * (1.0 + 0.15 * self._demand_noise(t))
        return max(0.0, self.q_peak * relative)

    def _ambient(self, t: float) -> float:
        hour = self.local_hour(t)
        return (
            25.0
            + 5.0 * season(t + self._offset_s)
            + 2.0 * math.sin(2.0 * math.pi * (hour - 9.0) / 24.0)
        )

    def _vessel_constant(self) -> float:
        """Boyle's constant of the vessel gas, bar(abs)·L, pre-charged 0.3 bar below cut-in."""
        return (self.setpoint - CUT_IN_BELOW_SP - 0.3 + ATM_BAR) * self.vessel_l

    def _drain(self, flow_m3h: float, dt: float) -> None:
        """The vessel alone supplies ``flow`` for ``dt`` s; empty, pressure falls to static."""
        pre_charge = self.setpoint - CUT_IN_BELOW_SP - 0.3
        if self.pressure > pre_charge:
            inv = 1.0 / (self.pressure + ATM_BAR) + flow_m3h / 3.6 * dt / self._vessel_constant()
            self.pressure = 1.0 / inv - ATM_BAR
        if self.pressure <= pre_charge:
            self.pressure = relax(self.pressure, self._suction, dt, 20.0)

    def _time_to_cut_in(self, flow_m3h: float) -> float:
        cut_in = self.setpoint - CUT_IN_BELOW_SP
        if self.pressure <= cut_in + 1e-9:
            return 0.0
        if flow_m3h <= 0.0:
            return math.inf
        d_inv = 1.0 / (cut_in + ATM_BAR) - 1.0 / (self.pressure + ATM_BAR)
        return d_inv * self._vessel_constant() / (flow_m3h / 3.6)

    def _start(self) -> None:
        self.running = True
        self.starts += 1
        self._run_for_s = 0.0
        self._no_flow_s = 0.0

    def _trip(self, code: int) -> None:
        self.running = False
        self.tripped = True
        self.fault_code = code

    def _advance(self, t0: float, t1: float) -> None:
        if not self._started:
            self._started = True
            self.motor_temp = self._ambient(t1)
        t = t0
        while t1 - t > 1e-9:
            flow = self.demand(t)
            self._volts = SUPPLY_V * (1.0 + 0.012 * self._volt_noise(t))
            dry = FaultKind.DRY_RUN in self._active
            self._suction = (
                0.0
                if dry
                else self.suction_static
                - (0.25 * (flow / self.q_rated) ** 2 if self.running else 0)
            )
            if self.mode == MODE_OFF or self.tripped:
                self.running = False
            elif not self.running and (
                self.mode == MODE_MANUAL or self.pressure <= self.setpoint - CUT_IN_BELOW_SP + 1e-9
            ):
                self._start()

            if self.running:
                steady = (
                    not self._active
                    and self._run_for_s >= MIN_RUN_S
                    and flow > 1.5 * self.q_no_flow
                )
                h = min(t1 - t, MAX_SUBSTEP_STEADY_S if steady else MAX_SUBSTEP_RUNNING_S)
                self._run(flow, h, dry)
            else:
                h = min(t1 - t, MAX_SUBSTEP_STOPPED_S)
                if self.mode == MODE_AUTO and not self.tripped:
                    h = min(h, self._time_to_cut_in(flow))
                h = max(h, 1e-6)
                self._frequency = self._current_a = self._power_kw = 0.0
                self._drain(flow, h)
            temp_target = self._ambient(t) + 55.0 * (self._current_a / self._i_design) ** 2
            self.motor_temp = relax(
                self.motor_temp, temp_target, h, 1200.0 if self.running else 2400.0
            )
            t += h

    def _run(self, flow: float, h: float, dry: bool) -> None:
        self._run_for_s += h
        self.run_s += h
        if dry:
            # No water: the drive runs up, the pump churns air, the vessel alone supplies.
            self._frequency = 50.0
            self._power_kw = self._power(50.0, 0.0) * 0.6
            self._current_a = self._current(50.0, 0.0, self._volts) * 0.6
            self._drain(flow, h)
            self._dry_s += h
        else:
            self._dry_s = 0.0
            if self.mode == MODE_MANUAL:
                frequency = MANUAL_FREQUENCY
                target = self._suction + self._h0 * (frequency / 50.0) ** 2 - self._a * flow**2
            else:
                needed = self.setpoint - self._suction + self._a * flow**2
                frequency = 50.0 * math.sqrt(max(needed, 0.0) / self._h0)
                target = self.setpoint
                if frequency > 50.0:  # demand beyond the pump: pressure sags
                    frequency = 50.0
                    target = self._suction + self._h0 - self._a * flow**2
                frequency = max(frequency, MIN_FREQUENCY)
            self._frequency = frequency
            self.pressure = relax(self.pressure, max(target, 0.0), h, 4.0)
            self._power_kw = self._power(frequency, flow)
            self._current_a = self._current(frequency, flow, self._volts)
        if FaultKind.OVERCURRENT in self._active:
            self._oc_s += h
            share = min(1.0, self._oc_s / OVERCURRENT_RAMP_S)
            self._current_a += (OVERCURRENT_PEAK_A - self._current_a) * share
            self._power_kw = self._current_a * self._volts * math.sqrt(3.0) * POWER_FACTOR / 1e3
        self.energy_kwh += self._power_kw * h / 3600.0

        if self._current_a >= OVERCURRENT_TRIP_A:
            self._trip(FAULT_OVERCURRENT)
        elif self._dry_s >= DRY_RUN_DELAY_S:
            self._trip(FAULT_DRY_RUN)
        elif self.mode == MODE_AUTO and not dry:
            self._no_flow_s = self._no_flow_s + h if flow < self.q_no_flow else 0.0
            if self._run_for_s >= MIN_RUN_S and self._no_flow_s >= NO_FLOW_DELAY_S:
                self.running = False
                self.pressure = self.setpoint + CUT_OUT_ABOVE_SP
        if not self.running:
            self._frequency = self._current_a = self._power_kw = 0.0

    # --- protocol side --------------------------------------------------------------------

    def _write(self, point: str, value: PointValue) -> None:
        if point == "mode":
            self.mode = self._as_state(point, value)
        else:
            self.setpoint = self._as_number(point, value)

    def _inject(self, fault: FaultKind, active: bool) -> None:
        if fault is FaultKind.OVERCURRENT:
            self._oc_s = 0.0
        else:
            self._dry_s = 0.0
        if not active and self.tripped:
            # Clearing the fault stands for the operator's reset of the drive.
            self.tripped = False
            self.fault_code = FAULT_NONE

    @property
    def run_state(self) -> int:
        if self.tripped:
            return RUN_TRIPPED
        return RUN_RUNNING if self.running else RUN_STOPPED

    def _raw_values(self) -> dict[str, PointValue]:
        noise = self._fast_noise(self._t)
        running = self.running
        warning = self._current_a >= WARNING_CURRENT_A or self.motor_temp >= WARNING_TEMP_C
        status = (
            (0 if self.tripped else 1)
            | (2 if running else 0)
            | (4 if self.tripped else 0)
            | (8 if warning else 0)
            | (16 if self.mode == MODE_AUTO else 0)
        )
        return {
            "run_state": self.run_state,
            "mode": self.mode,
            "frequency": self._frequency,
            "current": self._current_a * (1.0 + 0.01 * noise) if running else 0.0,
            "power": self._power_kw,
            "voltage": self._volts,
            "motor_temp": self.motor_temp,
            "setpoint_pressure": self.setpoint,
            "fault_code": self.fault_code,
            "status_word": status,
            "firmware": FIRMWARE,
            "discharge_pressure": max(0.0, self.pressure + 0.02 * noise),
            "suction_pressure": self._suction + 0.02 * noise,
            "run_hours": self.run_s / 3600.0,
            "start_count": self.starts,
            "energy": self.energy_kwh,
        }
