"""Swimming-pool drainage (PDP): pool level, gravity drain valve and a submersible drain pump.

The pool (25 m × 12.5 m) starts full at about 150 cm. With the drain valve open it drains by
gravity through a DN150 outlet, flow ∝ √(head above the outlet) (Torricelli, integrated in
closed form), so the level stalls at the outlet, about 40 cm. Below that only the drain pump
lowers it (30-40 m³/h). At the pump inlet (5 cm) the pump runs dry: its current falls to
about 2 A and after 20 s the dry-run protection trips and latches (pump stops, current 0).
The trip resets only when ``pump_command`` goes false and then true again with water above
the inlet, as on the real panel.

Modes: ``off`` closes the valve and stops the pump (client writes to the coils are
overridden at the next step); ``manual`` obeys the coils; ``auto_drain`` opens the valve and
commands the pump once gravity has stalled (and drops the command if the pool refills 5 cm
above the outlet). Evaporation is about 4 mm a day.

Faults: ``dry_run`` makes a running pump run dry and trip; injected while the pump is stopped
it latches the trip at once (a tripped protection relay). Clearing it does not reset the
latch - the command does. ``door_open`` and ``flood`` set their contacts; besides, on a few
days a year someone leaves the plant-room door open for a while in working hours (drawn from
the seed, the same in every run).
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
    hash_unit,
    stable_key,
)
from simulators.physics.base import FaultKind

MODE_OFF, MODE_AUTO, MODE_MANUAL = 0, 1, 2

POOL_AREA_M2 = 25.0 * 12.5
INLET_CM = 5.0
OUTLET_DISCHARGE_COEFF = 0.6
OUTLET_DIAMETER_M = 0.15
DRY_RUN_DELAY_S = 20.0
DRY_CURRENT_A = 2.0
EVAPORATION_CM_PER_S = 0.4 / DAY_S
AUTO_PUMP_MARGIN_CM = 0.5
AUTO_PUMP_OFF_ABOVE_CM = 5.0
RESET_MARGIN_CM = 2.0
DOOR_DAY_CHANCE = 0.08

MAX_SUBSTEP_PUMP_S = 10.0
MAX_SUBSTEP_IDLE_S = 600.0


class PoolModel(PhysicsModel):
    """Pool controller with gravity valve and drain pump; see the module docstring."""

    POINTS = frozenset(
        {
            "drain_valve_open",
            "pump_command",
            "pump_running",
            "dry_run_trip",
            "door_open",
            "flood",
            "mode",
            "pool_level",
            "pump_current",
            "pumped_volume",
            "pump_run_hours",
            "pump_starts",
        }
    )
    FAULTS = frozenset({FaultKind.DRY_RUN, FaultKind.DOOR_OPEN, FaultKind.FLOOD})
    WRITABLE = frozenset({"drain_valve_open", "pump_command", "mode"})

    def __init__(self, asset_no: str, profile: DeviceProfile, key: int, site: Site) -> None:
        super().__init__(asset_no, profile, key, site)
        rng = random.Random(key)
        self.outlet_cm = rng.uniform(38.0, 42.0)
        self.pump_m3h = rng.uniform(30.0, 40.0)
        self._pump_nominal_a = rng.uniform(7.5, 8.5)
        # Torricelli: dh/dt = -c √h, c = Cd·A_outlet·√(2g) / A_pool (h in m, t in s).
        outlet_area = math.pi * (OUTLET_DIAMETER_M / 2.0) ** 2
        self._torricelli = OUTLET_DISCHARGE_COEFF * outlet_area * math.sqrt(2 * 9.81) / POOL_AREA_M2
        self._pump_cm_s = self.pump_m3h / 3600.0 / POOL_AREA_M2 * 100.0
        self._door_key = stable_key(key, "door")
        self._current_noise = SmoothNoise(stable_key(key, "current"), 5.0)

        self.level_cm = rng.uniform(148.0, 152.0)
        self.mode = MODE_OFF
        self.valve_open = False
        self.pump_command = False
        self.pump_running = False
        self.trip = False
        self._dry_s = 0.0
        self._dry_now = False
        self.pumped_m3 = rng.uniform(500.0, 5000.0)
        self.run_s = self.pumped_m3 / self.pump_m3h * 3600.0
        self.starts = int(self.run_s / 3600.0 * rng.uniform(0.3, 0.8))

    # --- control --------------------------------------------------------------------------

    def _command(self, on: bool) -> None:
        """Set the pump command; a false→true edge with water above the inlet resets a trip."""
        if on and not self.pump_command and self.level_cm > INLET_CM + RESET_MARGIN_CM:
            self.trip = False
        self.pump_command = on
        self._update_running()

    def _update_running(self) -> None:
        run = self.pump_command and not self.trip and self.mode != MODE_OFF
        if run and not self.pump_running:
            self.starts += 1
            self._dry_s = 0.0
        self.pump_running = run
        if not run:
            self._dry_now = False

    def _control(self) -> None:
        if self.mode == MODE_OFF:
            self.valve_open = False
            self._command(False)
        elif self.mode == MODE_AUTO:
            self.valve_open = True
            if self.level_cm <= self.outlet_cm + AUTO_PUMP_MARGIN_CM:
                self._command(True)
            elif self.level_cm > self.outlet_cm + AUTO_PUMP_OFF_ABOVE_CM:
                self._command(False)
        self._update_running()

    # --- physics --------------------------------------------------------------------------

    def _gravity(self, h: float) -> None:
        """Exact Torricelli drain for ``h`` seconds (valve open, above the outlet)."""
        head_m = (self.level_cm - self.outlet_cm) / 100.0
        root = math.sqrt(head_m) - 0.5 * self._torricelli * h
        self.level_cm = self.outlet_cm + (root * root * 100.0 if root > 0.0 else 0.0)

    def _time_to_level(self, level_cm: float) -> float:
        """Seconds until gravity alone brings the pool down to ``level_cm``."""
        if self.level_cm <= level_cm:
            return 0.0
        if level_cm < self.outlet_cm:
            return math.inf
        now = math.sqrt((self.level_cm - self.outlet_cm) / 100.0)
        then = math.sqrt((level_cm - self.outlet_cm) / 100.0)
        return 2.0 * (now - then) / self._torricelli

    def _advance(self, t0: float, t1: float) -> None:
        t = t0
        while t1 - t > 1e-9:
            self._control()
            gravity = self.valve_open and self.level_cm > self.outlet_cm
            if self.pump_running:
                h = min(t1 - t, MAX_SUBSTEP_PUMP_S)
            else:
                h = min(t1 - t, MAX_SUBSTEP_IDLE_S)
                target = self.outlet_cm + AUTO_PUMP_MARGIN_CM
                if gravity and self.mode == MODE_AUTO and self.level_cm > target:
                    h = max(min(h, self._time_to_level(target)), 1e-3)
            if gravity:
                self._gravity(h)
            self.level_cm = max(0.0, self.level_cm - EVAPORATION_CM_PER_S * h)
            if self.pump_running:
                self._pump(h)
            t += h

    def _pump(self, h: float) -> None:
        self.run_s += h
        forced_dry = FaultKind.DRY_RUN in self._active
        wet_s = 0.0
        if not forced_dry and self.level_cm > INLET_CM:
            wet_s = min(h, (self.level_cm - INLET_CM) / self._pump_cm_s)
            self.level_cm = max(INLET_CM, self.level_cm - self._pump_cm_s * wet_s)
            self.pumped_m3 += self.pump_m3h * wet_s / 3600.0
        dry_s = h - wet_s
        if dry_s > 1e-9:
            self._dry_now = True
            self._dry_s += dry_s
            if self._dry_s >= DRY_RUN_DELAY_S:
                self.trip = True
                self._update_running()
        else:
            self._dry_now = False
            self._dry_s = 0.0

    # --- protocol side --------------------------------------------------------------------

    def _write(self, point: str, value: PointValue) -> None:
        if point == "mode":
            self.mode = self._as_state(point, value)
            self._control()
        elif point == "pump_command":
            self._command(self._as_bool(point, value))
        else:
            self.valve_open = self._as_bool(point, value)

    def _inject(self, fault: FaultKind, active: bool) -> None:
        if fault is FaultKind.DRY_RUN and active and not self.pump_running:
            self.trip = True

    def _door_left_open(self, t: float) -> bool:
        local = t + self._offset_s
        day = math.floor(local / DAY_S)
        if hash_unit(self._door_key, day) >= DOOR_DAY_CHANCE:
            return False
        start_h = 9.0 + 8.0 * hash_unit(self._door_key, day + 1_000_003)
        length_h = (10.0 + 80.0 * hash_unit(self._door_key, day + 2_000_003)) / 60.0
        hour = (local - day * DAY_S) / 3600.0
        return start_h <= hour < start_h + length_h

    def _raw_values(self) -> dict[str, PointValue]:
        if not self.pump_running:
            current = 0.0
        elif self._dry_now:
            current = DRY_CURRENT_A
        else:
            current = self._pump_nominal_a * (1.0 + 0.02 * self._current_noise(self._t))
        return {
            "drain_valve_open": self.valve_open,
            "pump_command": self.pump_command,
            "pump_running": self.pump_running,
            "dry_run_trip": self.trip,
            "door_open": FaultKind.DOOR_OPEN in self._active or self._door_left_open(self._t),
            "flood": FaultKind.FLOOD in self._active,
            "mode": self.mode,
            "pool_level": self.level_cm,
            "pump_current": current,
            "pumped_volume": self.pumped_m3,
            "pump_run_hours": self.run_s / 3600.0,
            "pump_starts": self.starts,
        }
