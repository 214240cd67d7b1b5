"""Fire alarm panel: derived panel state, battery on mains failure, jockey pump."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device_profiles.loader import load_library
from device_profiles.models import DeviceProfile
from simulators.physics import FaultKind, create_model
from simulators.physics.base import DeviceModel
from simulators.physics.fire import FireModel

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 5, 1, 9, tzinfo=TZ)
ZONES = [f"zone_{n:02d}" for n in range(1, 9)]


@pytest.fixture(scope="module")
def profile() -> DeviceProfile:
    return load_library()["fire-alarm-panel"]


@pytest.fixture
def panel(profile: DeviceProfile) -> FireModel:
    model = create_model("HT-FAP-001", profile, seed=4)
    assert isinstance(model, FireModel)
    model.step(START, 0.0)
    return model


def _advance(model: DeviceModel, start: datetime, seconds: float, dt: float) -> None:
    now = start
    for _ in range(round(seconds / dt)):
        now += timedelta(seconds=dt)
        model.step(now, dt)


def test_normal_panel(panel: FireModel) -> None:
    values: dict[str, Any] = dict(panel.values())
    assert values["panel_state"] == 0
    assert all(values[z] == 0 for z in ZONES)
    assert values["battery_voltage"] == pytest.approx(27.2, abs=0.05)
    assert values["mains_fault"] is False
    assert values["battery_fault"] is False


def test_fire_zone_sets_panel_fire_and_fire_wins(panel: FireModel) -> None:
    panel.inject(FaultKind.PANEL_FAULT, True)
    panel.inject(FaultKind.MAINS_FAULT, True)
    assert panel.values()["panel_state"] == 2
    panel.inject(FaultKind.FIRE, True)
    values: dict[str, Any] = dict(panel.values())
    assert values["panel_state"] == 1
    assert [z for z in ZONES if values[z] == 1] == [f"zone_{panel.fire_zone:02d}"]
    panel.inject(FaultKind.FIRE, False)
    assert panel.values()["panel_state"] == 2


def test_panel_state_table(panel: FireModel) -> None:
    # (zones, test mode, mains fault, battery fault) -> panel state
    cases = [
        ([0] * 8, False, False, False, 0),
        ([0] * 7 + [2], False, False, False, 2),
        ([0] * 8, False, True, False, 2),
        ([0] * 8, False, False, True, 2),
        ([3] * 8, False, False, False, 3),
        ([3] * 7 + [0], False, False, False, 0),
        ([0] * 8, True, False, False, 4),
        ([3] * 8, True, False, False, 3),
        ([1] + [3] * 7, True, True, True, 1),
        ([2] + [3] * 7, True, False, False, 2),
    ]
    for zones, test_mode, mains, battery, expected in cases:
        panel.zones = list(zones)
        panel.test_mode = test_mode
        assert panel.panel_state(mains, battery) == expected, (zones, test_mode, mains, battery)


def test_mains_fault_discharges_the_battery(panel: FireModel) -> None:
    panel.inject(FaultKind.MAINS_FAULT, True)
    readings: list[Any] = []
    for hour in range(1, 49):
        _advance(panel, START + timedelta(hours=hour - 1), 3600, 600)
        readings.append(panel.values()["battery_voltage"])
    assert readings[0] < 26.0  # off float charge at once
    # and falling (within the ±0.02 V sensor noise) until the battery is flat
    assert all(b <= a + 0.05 for a, b in itertools.pairwise(readings))
    assert readings[5] < readings[0] - 0.3
    assert panel.values()["battery_fault"] is True  # deep discharge after two days
    assert panel.values()["panel_state"] == 2
    panel.inject(FaultKind.MAINS_FAULT, False)
    _advance(panel, START + timedelta(hours=48), 600, 60)
    assert panel.values()["battery_voltage"] == pytest.approx(27.2, abs=0.05)
    assert panel.values()["battery_fault"] is False


def test_battery_fault_flag_and_voltage(panel: FireModel) -> None:
    panel.inject(FaultKind.BATTERY_FAULT, True)
    values: dict[str, Any] = dict(panel.values())
    assert values["battery_fault"] is True
    assert values["panel_state"] == 2
    assert values["battery_voltage"] < 25.5


def test_jockey_pump_holds_sprinkler_pressure(panel: FireModel) -> None:
    starts: Any = panel.values()["jockey_pump_starts"]
    now = START
    pressures: list[Any] = []
    running_seen = False
    for _ in range(3 * 24 * 60):
        now += timedelta(seconds=60)
        panel.step(now, 60.0)
        values: dict[str, Any] = dict(panel.values())
        pressures.append(values["sprinkler_pressure"])
        running_seen = running_seen or values["jockey_pump_running"] is True
    assert running_seen
    assert min(pressures) >= 5.4
    assert max(pressures) <= 7.1
    assert panel.values()["jockey_pump_starts"] > starts
