"""Booster pump set: pressure control, counters, trips."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device_profiles.loader import load_library
from device_profiles.models import DeviceProfile
from facility.errors import ConfigError
from facility.types import PointValue
from simulators.physics import FaultKind, create_model
from simulators.physics.base import DeviceModel

TZ = ZoneInfo("Asia/Shanghai")
COUNTERS = ("run_hours", "start_count", "energy")


@pytest.fixture(scope="module")
def profile() -> DeviceProfile:
    return load_library()["vfd-booster-pump"]


def _pump(profile: DeviceProfile, asset_no: str = "HT-PMP-001") -> DeviceModel:
    return create_model(asset_no, profile, seed=7)


def _run(model: DeviceModel, start: datetime, seconds: float, dt: float) -> list[dict[str, Any]]:
    series = []
    now = start
    model.step(now, 0.0)
    for _ in range(round(seconds / dt)):
        now += timedelta(seconds=dt)
        model.step(now, dt)
        series.append(dict(model.values()))
    return series


def test_runs_in_the_morning_peak_and_run_hours_increase(profile: DeviceProfile) -> None:
    pump = _pump(profile)
    series = _run(pump, datetime(2026, 6, 22, 7, 0, tzinfo=TZ), 3600, 5.0)
    assert all(v["run_state"] == 1 for v in series[30:])  # after the first cut-in
    assert series[-1]["run_hours"] > series[0]["run_hours"]
    peak = series[-200]
    assert 25.0 <= peak["frequency"] <= 50.0
    assert peak["discharge_pressure"] == pytest.approx(peak["setpoint_pressure"], abs=0.1)
    assert peak["current"] > 0
    assert peak["power"] > 0
    assert peak["status_word"] == 0b10011  # ready, running, remote


def test_counters_never_decrease_over_a_week(profile: DeviceProfile) -> None:
    pump = _pump(profile, "JU-PMP-003")
    series = _run(pump, datetime(2026, 6, 22, tzinfo=TZ), 7 * 86400, 120.0)
    for name in COUNTERS:
        values = [v[name] for v in series]
        assert values == sorted(values), name
    assert series[-1]["start_count"] > series[0]["start_count"]
    # integers in registers: run hours are whole tenths
    for v in series[::50]:
        hours = v["run_hours"]
        assert isinstance(hours, float)
        assert round(hours * 10) == pytest.approx(hours * 10, abs=1e-6)


def test_start_count_increments_on_each_start(profile: DeviceProfile) -> None:
    pump = _pump(profile)
    # At night the pump cycles on the vessel: starts at cut-in, stops on no-flow.
    series = _run(pump, datetime(2026, 6, 22, 1, 0, tzinfo=TZ), 2 * 3600, 1.0)
    starts_seen = sum(
        1 for a, b in itertools.pairwise(series) if a["run_state"] != 1 == b["run_state"]
    )
    assert starts_seen >= 3
    assert series[-1]["start_count"] - series[0]["start_count"] == starts_seen
    stops = [b for a, b in itertools.pairwise(series) if a["run_state"] == 1 != b["run_state"]]
    assert all(v["discharge_pressure"] > v["setpoint_pressure"] for v in stops)  # cut-out boost


def test_starts_at_cut_in(profile: DeviceProfile) -> None:
    pump = _pump(profile)
    series = _run(pump, datetime(2026, 6, 22, 1, 0, tzinfo=TZ), 3600, 1.0)
    before_start = [
        a for a, b in itertools.pairwise(series) if a["run_state"] == 0 and b["run_state"] == 1
    ]
    assert before_start
    for v in before_start:
        cut_in = v["setpoint_pressure"] - 0.5
        assert v["discharge_pressure"] == pytest.approx(cut_in, abs=0.1)


def test_status_word_consistent_with_run_state(profile: DeviceProfile) -> None:
    pump = _pump(profile)
    for v in _run(pump, datetime(2026, 6, 22, 0, 30, tzinfo=TZ), 3 * 3600, 30.0):
        word = v["status_word"]
        assert isinstance(word, int)
        assert bool(word & 2) == (v["run_state"] == 1)
        assert bool(word & 4) == (v["run_state"] == 2)
        assert bool(word & 1) == (v["run_state"] != 2)


def test_overcurrent_climbs_past_the_alarm_then_trips(profile: DeviceProfile) -> None:
    pump = _pump(profile)
    start = datetime(2026, 6, 22, 7, 30, tzinfo=TZ)
    _run(pump, start, 600, 1.0)
    pump.inject(FaultKind.OVERCURRENT, True)
    series = _run(pump, start + timedelta(seconds=600), 120, 0.5)
    currents = [v["current"] for v in series if v["run_state"] == 1]
    assert max(currents) > 40.0  # the alarm limit is crossed first
    assert series[-1]["run_state"] == 2
    assert series[-1]["fault_code"] == 1
    assert series[-1]["current"] == 0.0
    assert series[-1]["status_word"] & 4
    tripped_at = next(i for i, v in enumerate(series) if v["run_state"] == 2)
    assert 40 <= tripped_at * 0.5 <= 75  # "over about a minute"
    pump.inject(FaultKind.OVERCURRENT, False)
    after = _run(pump, start + timedelta(seconds=720), 120, 1.0)
    assert after[-1]["fault_code"] == 0
    assert after[-1]["run_state"] == 1


def test_dry_run_trips_with_suction_near_zero(profile: DeviceProfile) -> None:
    pump = _pump(profile)
    start = datetime(2026, 6, 22, 19, 0, tzinfo=TZ)
    _run(pump, start, 600, 1.0)
    pump.inject(FaultKind.DRY_RUN, True)
    series = _run(pump, start + timedelta(seconds=600), 60, 1.0)
    last = series[-1]
    assert last["run_state"] == 2
    assert last["fault_code"] == 5
    assert abs(last["suction_pressure"]) < 0.05


def test_mode_off_stops_and_manual_runs(profile: DeviceProfile) -> None:
    pump = _pump(profile)
    start = datetime(2026, 6, 22, 2, 0, tzinfo=TZ)
    pump.write("mode", 2)
    assert all(v["run_state"] == 0 for v in _run(pump, start, 1800, 10.0))
    pump.write("mode", 1)
    series = _run(pump, start + timedelta(seconds=1800), 1800, 10.0)
    assert all(v["run_state"] == 1 for v in series)
    assert series[-1]["frequency"] == pytest.approx(45.0)


def test_setpoint_write_moves_discharge_pressure(profile: DeviceProfile) -> None:
    pump = _pump(profile)
    start = datetime(2026, 6, 22, 8, 0, tzinfo=TZ)
    _run(pump, start, 300, 5.0)
    pump.write("setpoint_pressure", 4.5)
    last = _run(pump, start + timedelta(seconds=300), 120, 5.0)[-1]
    assert last["setpoint_pressure"] == 4.5
    assert last["discharge_pressure"] == pytest.approx(4.5, abs=0.1)


@pytest.mark.parametrize(
    ("point", "value", "message"),
    [
        ("mode", 7, "expected one of 0 auto, 1 manual, 2 off"),
        ("setpoint_pressure", 12.0, "expected a number in 0.0..10.0 bar"),
        ("run_hours", 0, "read-only"),
        ("no_such_point", 1, "no point 'no_such_point'"),
    ],
)
def test_bad_writes_are_config_errors(
    profile: DeviceProfile, point: str, value: PointValue, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _pump(profile).write(point, value)


def test_unsupported_fault_is_a_config_error(profile: DeviceProfile) -> None:
    with pytest.raises(ConfigError, match=r"door_open.*does not apply to PMP"):
        _pump(profile).inject(FaultKind.DOOR_OPEN, True)
