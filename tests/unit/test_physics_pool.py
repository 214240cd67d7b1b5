"""Pool drainage: gravity to the outlet, pump below it, dry-run trip that latches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device_profiles.loader import load_library
from device_profiles.models import DeviceProfile
from simulators.physics import FaultKind, create_model
from simulators.physics.base import DeviceModel
from simulators.physics.pool import PoolModel

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 9, 1, 8, 0, tzinfo=TZ)
OFF, AUTO, MANUAL = 0, 1, 2


@pytest.fixture(scope="module")
def profile() -> DeviceProfile:
    return load_library()["pool-drainage-controller"]


class Clock:
    """Steps a model forward from START and keeps the time."""

    def __init__(self, model: DeviceModel) -> None:
        self.model = model
        self.now = START
        model.step(self.now, 0.0)

    def run(self, seconds: float, dt: float) -> list[dict[str, Any]]:
        series = []
        for _ in range(round(seconds / dt)):
            self.now += timedelta(seconds=dt)
            self.model.step(self.now, dt)
            series.append(dict(self.model.values()))
        return series


def _level(model: DeviceModel) -> float:
    level = model.values()["pool_level"]
    assert isinstance(level, float)
    return level


def test_mode_off_keeps_the_level(profile: DeviceProfile) -> None:
    clock = Clock(create_model("HT-PDP-001", profile, seed=3))
    full = _level(clock.model)
    assert 145.0 <= full <= 155.0
    clock.run(86400, 600)
    assert full - 1.0 < _level(clock.model) < full  # only evaporation


def test_gravity_drains_to_the_outlet_and_no_further(profile: DeviceProfile) -> None:
    clock = Clock(create_model("HT-PDP-001", profile, seed=3))
    clock.model.write("mode", MANUAL)
    clock.model.write("drain_valve_open", True)
    first_hour = clock.run(3600, 60)
    # flow ∝ √head: the first hour drops more than the next one
    drop_1 = 150 - _level(clock.model)
    clock.run(3600, 60)
    drop_2 = first_hour[-1]["pool_level"] - _level(clock.model)
    assert drop_1 > drop_2 > 0
    clock.run(12 * 3600, 600)
    stalled = _level(clock.model)
    assert 37.5 <= stalled <= 42.5  # the outlet, ~40 cm
    clock.run(6 * 3600, 600)
    assert _level(clock.model) == pytest.approx(stalled, abs=0.2)  # evaporation only
    assert clock.model.values()["pump_current"] == 0.0


def test_pump_takes_it_lower_then_trips_dry_and_latches(profile: DeviceProfile) -> None:
    clock = Clock(create_model("HT-PDP-001", profile, seed=3))
    model = clock.model
    model.write("mode", MANUAL)
    model.write("drain_valve_open", True)
    clock.run(12 * 3600, 600)
    starts: Any = model.values()["pump_starts"]
    model.write("pump_command", True)
    running = clock.run(1800, 10)
    assert all(v["pump_running"] for v in running)
    assert all(7.0 <= v["pump_current"] <= 9.0 for v in running)
    assert model.values()["pump_starts"] == starts + 1
    assert _level(model) < 37.0
    # on to the inlet: ~2 A for a moment while dry, then the trip
    series = clock.run(6 * 3600, 1)
    dry = [v for v in series if v["pump_running"] and v["pump_current"] < 3.0]
    assert dry
    assert all(v["pump_current"] == pytest.approx(2.0) for v in dry)
    assert 15 <= len(dry) <= 25
    last = series[-1]
    assert last["dry_run_trip"] is True
    assert last["pump_running"] is False
    assert last["pump_current"] == 0.0
    assert last["pool_level"] == pytest.approx(5.0, abs=0.3)
    # latched: the command alone does nothing, toggling without water above the inlet neither
    clock.run(600, 60)
    assert model.values()["dry_run_trip"] is True
    model.write("pump_command", False)
    model.write("pump_command", True)
    clock.run(60, 1)
    assert model.values()["dry_run_trip"] is True
    assert model.values()["pump_running"] is False


def test_trip_resets_on_command_toggle_with_water_above_inlet(profile: DeviceProfile) -> None:
    clock = Clock(create_model("JU-PDP-002", profile, seed=3))
    model = clock.model
    model.write("mode", MANUAL)
    model.write("pump_command", True)
    clock.run(60, 1)
    model.inject(FaultKind.DRY_RUN, True)
    clock.run(60, 1)
    assert model.values()["dry_run_trip"] is True
    model.inject(FaultKind.DRY_RUN, False)
    clock.run(60, 1)
    assert model.values()["dry_run_trip"] is True  # clearing the cause does not reset
    model.write("pump_command", False)
    model.write("pump_command", True)
    clock.run(10, 1)
    values: dict[str, Any] = dict(model.values())
    assert values["dry_run_trip"] is False
    assert values["pump_running"] is True


def test_dry_run_fault_while_stopped_latches_at_once(profile: DeviceProfile) -> None:
    clock = Clock(create_model("HT-PDP-001", profile, seed=3))
    clock.model.inject(FaultKind.DRY_RUN, True)
    clock.run(5, 1)
    assert clock.model.values()["dry_run_trip"] is True


def test_auto_drain_empties_to_the_inlet_by_itself(profile: DeviceProfile) -> None:
    model = create_model("HT-PDP-001", profile, seed=3)
    assert isinstance(model, PoolModel)
    clock = Clock(model)
    model.write("mode", AUTO)
    series = clock.run(24 * 3600, 60)
    assert series[0]["drain_valve_open"] is True
    assert series[0]["pump_running"] is False
    first_run = next(v for v in series if v["pump_running"])
    # the controller starts the pump once gravity has stalled at the outlet
    assert model.outlet_cm - 0.5 <= first_run["pool_level"] <= model.outlet_cm + 0.6
    assert series[-1]["dry_run_trip"] is True
    assert series[-1]["pool_level"] == pytest.approx(5.0, abs=0.3)
    volumes = [v["pumped_volume"] for v in series]
    assert volumes == sorted(volumes)
    # 312.5 m² × ~35 cm pumped from the outlet to the inlet
    assert volumes[-1] - volumes[0] == pytest.approx(3.125 * 35, rel=0.1)


def test_off_mode_overrides_coil_writes(profile: DeviceProfile) -> None:
    clock = Clock(create_model("HT-PDP-001", profile, seed=3))
    clock.model.write("drain_valve_open", True)
    clock.run(10, 1)
    assert clock.model.values()["drain_valve_open"] is False


def test_door_and_flood_faults(profile: DeviceProfile) -> None:
    clock = Clock(create_model("HT-PDP-001", profile, seed=3))
    clock.model.inject(FaultKind.DOOR_OPEN, True)
    clock.model.inject(FaultKind.FLOOD, True)
    clock.run(1, 1)
    assert clock.model.values()["door_open"] is True
    assert clock.model.values()["flood"] is True
    clock.model.inject(FaultKind.FLOOD, False)
    clock.run(1, 1)
    assert clock.model.values()["flood"] is False


def test_door_sometimes_left_open_in_working_hours_only(profile: DeviceProfile) -> None:
    opened_hours: list[int] = []
    for n in range(1, 6):
        clock = Clock(create_model(f"HT-PDP-{n:03d}", profile, seed=11))
        for _ in range(60 * 144):
            if clock.run(600, 600)[0]["door_open"]:
                opened_hours.append(clock.now.hour)
    assert opened_hours  # it happens over 300 device-days...
    assert all(9 <= h <= 19 for h in opened_hours)  # ...and only in working hours
