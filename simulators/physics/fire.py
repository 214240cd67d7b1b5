"""Fire alarm panel (FAP): eight zones, mains and battery supervision, sprinkler main.

``panel_state`` is derived, most severe first: any zone in fire → 1 fire; any zone fault,
mains fault or battery fault → 2 fault; every zone disabled → 3 disabled; test mode → 4;
else 0 normal.

Standby battery: 24 V lead-acid (two 12 V blocks, 12-24 Ah) floated at 27.2 V by the charger.
On mains failure it carries the panel's standby load (0.5-1 A): the terminal voltage drops to
the open-circuit voltage of its state of charge minus the internal drop and keeps falling;
below 21.6 V the panel flags a battery fault (deep discharge). When mains returns it is
recharged at 0.1 C. An injected battery fault is a failed cell: about 2.2 V lower.

Sprinkler main: pressure leaks away slowly (0.2-0.5 bar/h); the jockey pump starts at 5.5 bar
and stops at 7.0 bar (about a minute of running), counting its starts.

Faults: ``fire`` puts one zone (from the seed, or ``fire_zone``) in fire; ``panel_fault`` a
zone in fault (open circuit); ``mains_fault`` and ``battery_fault`` as above. Clearing a fault
returns the zone to normal - it stands for the panel being reset after the event.
"""

from __future__ import annotations

import random

from device_profiles.models import DeviceProfile
from facility.types import PointValue
from simulators.physics._common import PhysicsModel, Site, SmoothNoise, stable_key
from simulators.physics.base import FaultKind

ZONE_COUNT = 8
ZONE_NORMAL, ZONE_FIRE, ZONE_FAULT, ZONE_DISABLED = 0, 1, 2, 3
PANEL_NORMAL, PANEL_FIRE, PANEL_FAULT, PANEL_DISABLED, PANEL_TEST = 0, 1, 2, 3, 4

FLOAT_V = 27.2
DEEP_DISCHARGE_V = 21.6
FAILED_CELL_DROP_V = 2.2
INTERNAL_OHM = 0.08
JOCKEY_START_BAR = 5.5
JOCKEY_STOP_BAR = 7.0
MAX_SUBSTEP_S = 600.0


def _open_circuit_v(state_of_charge: float) -> float:
    """24 V lead-acid rest voltage by state of charge (0..1), steep below 20 %."""
    if state_of_charge >= 0.2:
        return 24.0 + 1.6 * (state_of_charge - 0.2) / 0.8
    return 21.0 + 3.0 * max(state_of_charge, 0.0) / 0.2


class FireModel(PhysicsModel):
    """A fire alarm panel; see the module docstring."""

    POINTS = frozenset(
        {
            "panel_state",
            *(f"zone_{n:02d}" for n in range(1, ZONE_COUNT + 1)),
            "mains_fault",
            "battery_fault",
            "battery_voltage",
            "sprinkler_pressure",
            "jockey_pump_running",
            "jockey_pump_starts",
            "test_mode",
        }
    )
    FAULTS = frozenset(
        {
            FaultKind.FIRE,
            FaultKind.PANEL_FAULT,
            FaultKind.MAINS_FAULT,
            FaultKind.BATTERY_FAULT,
        }
    )
    WRITABLE = frozenset[str]()

    def __init__(
        self,
        asset_no: str,
        profile: DeviceProfile,
        key: int,
        site: Site,
        fire_zone: int | None = None,
    ) -> None:
        super().__init__(asset_no, profile, key, site)
        rng = random.Random(key)
        self.fire_zone = fire_zone if fire_zone is not None else rng.randint(1, ZONE_COUNT)
        self.fault_zone = rng.randint(1, ZONE_COUNT)
        self.zones = [ZONE_NORMAL] * ZONE_COUNT
        self.test_mode = False
        self.capacity_ah = rng.choice((12.0, 17.0, 24.0))
        self.standby_a = rng.uniform(0.5, 1.0)
        self.state_of_charge = 1.0
        self.leak_bar_s = rng.uniform(0.2, 0.5) / 3600.0
        self.jockey_bar_s = rng.uniform(1.2, 2.0) / 60.0
        self.pressure = rng.uniform(JOCKEY_START_BAR + 0.2, JOCKEY_STOP_BAR)
        self.jockey_running = False
        self.jockey_starts = rng.randint(500, 5000)
        self._noise = SmoothNoise(stable_key(key, "sensor"), 5.0)

    def _advance(self, t0: float, t1: float) -> None:
        mains = FaultKind.MAINS_FAULT not in self._active
        dt = t1 - t0
        if mains:
            self.state_of_charge = min(1.0, self.state_of_charge + 0.1 * dt / 3600.0)
        else:
            drawn = self.standby_a * dt / 3600.0 / self.capacity_ah
            self.state_of_charge = max(0.0, self.state_of_charge - drawn)
        t = t0
        while t1 - t > 1e-9:
            # Event-driven: land exactly on the jockey pump's start and stop pressures.
            if not self.jockey_running and self.pressure <= JOCKEY_START_BAR + 1e-9:
                self.jockey_running = True
                self.jockey_starts += 1
            if self.jockey_running:
                net = self.jockey_bar_s - self.leak_bar_s
                h = min(t1 - t, max(JOCKEY_STOP_BAR - self.pressure, 0.0) / net)
                self.pressure += net * h
                if self.pressure >= JOCKEY_STOP_BAR - 1e-9:
                    self.jockey_running = False
            else:
                h = min(t1 - t, MAX_SUBSTEP_S, (self.pressure - JOCKEY_START_BAR) / self.leak_bar_s)
                self.pressure -= self.leak_bar_s * h
            t += h

    def _write(self, point: str, value: PointValue) -> None:  # pragma: no cover - none writable
        raise self._bad_value(point, value, "no write (read-only device)")

    def _inject(self, fault: FaultKind, active: bool) -> None:
        if fault is FaultKind.FIRE:
            self.zones[self.fire_zone - 1] = ZONE_FIRE if active else ZONE_NORMAL
        elif fault is FaultKind.PANEL_FAULT:
            zone = self.fault_zone - 1
            if active and self.zones[zone] == ZONE_NORMAL:
                self.zones[zone] = ZONE_FAULT
            elif not active and self.zones[zone] == ZONE_FAULT:
                self.zones[zone] = ZONE_NORMAL

    def _battery_v(self) -> float:
        if FaultKind.MAINS_FAULT in self._active:
            volts = _open_circuit_v(self.state_of_charge) - self.standby_a * INTERNAL_OHM
        else:
            volts = FLOAT_V
        if FaultKind.BATTERY_FAULT in self._active:
            volts -= FAILED_CELL_DROP_V
        return max(0.0, volts + 0.02 * self._noise(self._t))

    def panel_state(self, mains_fault: bool, battery_fault: bool) -> int:
        """The panel's summary state from zones and supplies (fire wins)."""
        if ZONE_FIRE in self.zones:
            return PANEL_FIRE
        if ZONE_FAULT in self.zones or mains_fault or battery_fault:
            return PANEL_FAULT
        if all(z == ZONE_DISABLED for z in self.zones):
            return PANEL_DISABLED
        if self.test_mode:
            return PANEL_TEST
        return PANEL_NORMAL

    def _raw_values(self) -> dict[str, PointValue]:
        volts = self._battery_v()
        mains_fault = FaultKind.MAINS_FAULT in self._active
        battery_fault = FaultKind.BATTERY_FAULT in self._active or (
            mains_fault and volts < DEEP_DISCHARGE_V
        )
        values: dict[str, PointValue] = {
            "panel_state": self.panel_state(mains_fault, battery_fault),
            "mains_fault": mains_fault,
            "battery_fault": battery_fault,
            "battery_voltage": volts,
            "sprinkler_pressure": self.pressure + 0.01 * self._noise(self._t + 101.0),
            "jockey_pump_running": self.jockey_running,
            "jockey_pump_starts": self.jockey_starts,
            "test_mode": self.test_mode,
        }
        for n, state in enumerate(self.zones, start=1):
            values[f"zone_{n:02d}"] = state
        return values
