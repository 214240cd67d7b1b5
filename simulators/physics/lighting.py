"""Street / landscape lighting circuit (LGT): contactor, lamps, photocell and metering.

Auto mode is an astronomical time switch with photocell backup, as common estate lighting
controllers do: the circuit is on while the sun is below -1.5° (a few minutes after sunset
until a few minutes before sunrise) or while the photocell reads under 20 lx (a storm); it
goes off when the sun is above -1.5° and the photocell reads over 40 lx (hysteresis), after
60 s either way so passing clouds do not chatter the contactor. ``manual_on`` and
``manual_off`` force it. Writing ``contactor_on`` in a manual mode switches the mode to the
matching manual mode; in auto mode the write switches the contactor at once and the auto
logic takes over again at the next step (what a real controller's next evaluation does).

The photocell reads clear-sky illuminance (``sun.clear_sky_lux``) dimmed by clouds - the same
weather for every circuit of a site - and by the cell's own dirt; the uint16 register
saturates at 65535 lx. The circuit has 8-30 LED lamps of one rating (60-100 W, ±3 % each);
current = P / (V · pf). Lamps fail at random while burning (MTBF 50,000 h, drawn ahead in
burn time from the seed); failed lamps lower power and current. ``lamp_failures`` fails 3-5
lamps at once (clearing it restores them: the crew replaced them); ``door_open`` opens the
cabinet. ``contactor_fault`` has no fault kind to drive it and stays false.
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
    residential_demand,
    stable_key,
)
from simulators.physics.base import FaultKind
from simulators.physics.sun import clear_sky_lux, solar_elevation

MODE_AUTO, MODE_MANUAL_ON, MODE_MANUAL_OFF = 0, 1, 2

ASTRO_ELEVATION_DEG = -1.5
PHOTOCELL_ON_LX = 20.0
PHOTOCELL_OFF_LX = 40.0
SWITCH_DELAY_S = 60.0
LAMP_MTBF_H = 50_000.0
NOMINAL_V = 230.0
POWER_FACTOR = 0.95
LUX_MAX = 65535.0

# Every switching decision falls with the sun in this band: the astronomical threshold, and
# the photocell thresholds under the darkest (0.12) and clearest (1.1) cloud × dirt factors.
SWITCH_BAND_DEG = (-5.5, -0.5)
SUN_MAX_RATE_DEG_S = 0.25 / 60.0  # 15°/h at the equator, less elsewhere
SUBSTEP_IN_BAND_S = 60.0
MAX_SUBSTEP_S = 3600.0


class LightingModel(PhysicsModel):
    """A lighting circuit controller; see the module docstring."""

    POINTS = frozenset(
        {
            "contactor_on",
            "mode",
            "lamps_installed",
            "current",
            "voltage",
            "power",
            "lamps_failed",
            "lux",
            "contactor_fault",
            "cabinet_open",
            "energy",
            "burn_hours",
        }
    )
    FAULTS = frozenset({FaultKind.LAMP_FAILURES, FaultKind.DOOR_OPEN})
    WRITABLE = frozenset({"contactor_on", "mode"})

    def __init__(self, asset_no: str, profile: DeviceProfile, key: int, site: Site) -> None:
        super().__init__(asset_no, profile, key, site)
        rng = random.Random(key)
        self.lamps_installed = rng.randint(8, 30)
        rating = rng.choice((60.0, 70.0, 80.0, 90.0, 100.0))
        self.lamp_watts = [rating * rng.uniform(0.97, 1.03) for _ in range(self.lamps_installed)]
        self.failed: set[int] = set()
        self._injected: list[int] = []
        self._fail_rng = random.Random(stable_key(key, "lamp-failures"))
        self._cell_gain = rng.uniform(0.8, 1.1)  # dirt on the photocell
        self._clouds = SmoothNoise(site.weather_key, 1800.0)
        self._flicker = SmoothNoise(stable_key(key, "lux"), 20.0)
        self._volt_noise = SmoothNoise(stable_key(key, "volt"), 60.0)

        self.mode = MODE_AUTO
        self.contactor_on = False
        self._pending_s = 0.0  # how long auto logic has wanted the other state
        self._initialised = False
        hours = rng.uniform(2_000.0, 18_000.0)
        self.burn_s = hours * 3600.0
        self.energy_wh = hours * sum(self.lamp_watts) * rng.uniform(0.95, 1.0)
        self._next_failure_burn_s = self.burn_s + self._draw_failure_interval()
        self._lux = 0.0
        self._elevation = 0.0
        self._volts = NOMINAL_V

    # --- physics --------------------------------------------------------------------------

    def _draw_failure_interval(self) -> float:
        working = self.lamps_installed - len(self.failed)
        if working <= 0:
            return math.inf
        return self._fail_rng.expovariate(working / (LAMP_MTBF_H * 3600.0))

    def _lux_at(self, t: float, elevation: float) -> float:
        # Cloud cover dims daylight to 15-100 %: overcast thick enough to matter at dusk.
        cloud = 0.575 + 0.425 * self._clouds(t)
        lux = clear_sky_lux(elevation) * cloud * self._cell_gain
        return min(LUX_MAX, lux * (1.0 + 0.01 * self._flicker(t)))

    def _working_watts(self) -> float:
        return sum(w for i, w in enumerate(self.lamp_watts) if i not in self.failed)

    def _auto_wants_on(self, elevation: float, lux: float) -> bool:
        if elevation < ASTRO_ELEVATION_DEG or lux < PHOTOCELL_ON_LX:
            return True
        if lux > PHOTOCELL_OFF_LX:
            return False
        return self.contactor_on

    def _sense(self, t: float) -> None:
        self._elevation = solar_elevation(self._site.latitude, self._site.longitude, t)
        self._lux = self._lux_at(t, self._elevation)

    def _switch(self, h: float) -> None:
        """Auto/manual switching after ``h`` seconds in the present state."""
        if self.mode != MODE_AUTO:
            self.contactor_on = self.mode == MODE_MANUAL_ON
            self._pending_s = 0.0
            return
        wanted = self._auto_wants_on(self._elevation, self._lux)
        if wanted == self.contactor_on:
            self._pending_s = 0.0
            return
        self._pending_s += h
        if self._pending_s >= SWITCH_DELAY_S:
            self.contactor_on = wanted
            self._pending_s = 0.0

    def _substep(self) -> float:
        """Fine steps in the switching band; outside it, no longer than the sun needs to
        reach the band, so no decision is ever skipped."""
        low, high = SWITCH_BAND_DEG
        distance = max(low - self._elevation, self._elevation - high)
        if distance <= 0.0:
            return SUBSTEP_IN_BAND_S
        return min(MAX_SUBSTEP_S, max(SUBSTEP_IN_BAND_S, distance / SUN_MAX_RATE_DEG_S))

    def _advance(self, t0: float, t1: float) -> None:
        if not self._initialised:
            # The controller has been running all along: start in the state auto would hold.
            self._initialised = True
            self._sense(t0)
            if self.mode == MODE_AUTO:
                self.contactor_on = self._auto_wants_on(self._elevation, self._lux)
        t = t0
        while t1 - t > 1e-9:
            h = min(t1 - t, self._substep())
            if self.contactor_on:
                self._burn(h)
            t += h
            self._sense(t)
            self._switch(h)
        hour = self.local_hour(t1)
        # The estate's load pulls the supply down a little in the evening peak.
        self._volts = NOMINAL_V * (
            1.0 - 0.015 * residential_demand(hour) + 0.008 * self._volt_noise(t1)
        )

    def _burn(self, h: float) -> None:
        self.burn_s += h
        while self.burn_s >= self._next_failure_burn_s:
            working = [i for i in range(self.lamps_installed) if i not in self.failed]
            self.failed.add(self._fail_rng.choice(working))
            self._next_failure_burn_s += self._draw_failure_interval()
        self.energy_wh += self._working_watts() * h / 3600.0

    # --- protocol side --------------------------------------------------------------------

    def _write(self, point: str, value: PointValue) -> None:
        if point == "mode":
            self.mode = self._as_state(point, value)
            if self.mode != MODE_AUTO:
                self.contactor_on = self.mode == MODE_MANUAL_ON
            self._pending_s = 0.0
            return
        on = self._as_bool(point, value)
        self.contactor_on = on
        if self.mode != MODE_AUTO:
            self.mode = MODE_MANUAL_ON if on else MODE_MANUAL_OFF

    def _inject(self, fault: FaultKind, active: bool) -> None:
        if fault is not FaultKind.LAMP_FAILURES:
            return
        if active and not self._injected:
            working = [i for i in range(self.lamps_installed) if i not in self.failed]
            count = min(len(working), self._fail_rng.randint(3, 5))
            self._injected = self._fail_rng.sample(working, count)
            self.failed.update(self._injected)
        elif not active:
            self.failed.difference_update(self._injected)
            self._injected = []
        self._next_failure_burn_s = self.burn_s + self._draw_failure_interval()

    def replace_failed_lamps(self) -> int:
        """A relamping visit: every failed lamp works again; returns how many were replaced."""
        replaced = len(self.failed)
        self.failed.clear()
        self._injected = []
        self._next_failure_burn_s = self.burn_s + self._draw_failure_interval()
        self._cache = None
        return replaced

    def _raw_values(self) -> dict[str, PointValue]:
        power = self._working_watts() if self.contactor_on else 0.0
        return {
            "contactor_on": self.contactor_on,
            "mode": self.mode,
            "lamps_installed": self.lamps_installed,
            "current": power / (self._volts * POWER_FACTOR),
            "voltage": self._volts,
            "power": power,
            "lamps_failed": len(self.failed),
            "lux": self._lux,
            "contactor_fault": False,
            "cabinet_open": FaultKind.DOOR_OPEN in self._active,
            "energy": self.energy_wh,
            "burn_hours": self.burn_s / 3600.0,
        }
