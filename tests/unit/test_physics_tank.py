"""Water tank: float valve refills, level bounds, quality, sensor stuck."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device_profiles.loader import load_library
from device_profiles.models import DeviceProfile
from simulators.physics import FaultKind, create_model
from simulators.physics._common import Site
from simulators.physics.base import DeviceModel
from simulators.physics.tank import TankModel

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 7, 6, tzinfo=TZ)


@pytest.fixture(scope="module")
def profile() -> DeviceProfile:
    return load_library()["water-tank-monitor"]


def _run(model: DeviceModel, start: datetime, seconds: float, dt: float) -> list[dict[str, Any]]:
    series = []
    now = start
    model.step(now, 0.0)
    for _ in range(round(seconds / dt)):
        now += timedelta(seconds=dt)
        model.step(now, dt)
        series.append(dict(model.values()))
    return series


@pytest.mark.parametrize("asset_no", ["HT-TNK-001", "JU-TNK-002", "HY-TNK-007"])
def test_level_stays_in_bounds_and_refills_over_a_week(
    profile: DeviceProfile, asset_no: str
) -> None:
    series = _run(create_model(asset_no, profile, seed=5), START, 7 * 86400, 300)
    levels = [v["level"] for v in series]
    assert all(0.0 <= lv <= 3.2 for lv in levels)
    openings = sum(
        1
        for a, b in itertools.pairwise(series)
        if not a["inlet_valve_open"] and b["inlet_valve_open"]
    )
    assert openings >= 7  # refills at least daily
    opened = [v["level"] for v in series if v["inlet_valve_open"]]
    closed = [v["level"] for v in series if not v["inlet_valve_open"]]
    assert max(closed) <= 2.95
    assert min(opened) < 2.2 + 0.05
    totals = [v["inflow_total"] for v in series]
    assert totals == sorted(totals)
    assert totals[-1] > totals[0]
    assert not any(v["high_switch"] or v["low_switch"] for v in series)


def test_outflow_follows_the_daily_demand_curve(profile: DeviceProfile) -> None:
    series = _run(create_model("HT-TNK-001", profile, seed=5), START, 86400, 600)
    by_hour = {i * 10 // 60: v["outlet_flow"] for i, v in enumerate(series, start=1)}
    assert by_hour[7] > 3 * by_hour[3]  # morning peak vs night
    assert by_hour[20] > 3 * by_hour[2]  # evening peak vs night


def test_quality_values_plausible(profile: DeviceProfile) -> None:
    series = _run(create_model("HT-TNK-001", profile, seed=5), START, 3 * 86400, 600)
    for v in series:
        assert 0.05 < v["residual_chlorine"] < 1.0
        assert 0.0 < v["turbidity"] < 1.0
        assert 20.0 < v["water_temp"] < 35.0  # July, Zhongshan
        assert v["volume_pct"] == pytest.approx(100 * v["level"] / 3.0, abs=0.01)


def test_turbidity_rises_with_months_since_cleaning(profile: DeviceProfile) -> None:
    site = Site(22.52, 113.39, TZ, weather_key=1)
    fresh = TankModel("HT-TNK-001", profile, 1, site, days_since_cleaning=0.0)
    old = TankModel("HT-TNK-001", profile, 1, site, days_since_cleaning=365.0)
    turbidity = []
    for tank in (fresh, old):
        series = _run(tank, START, 86400, 3600)
        turbidity.append(sum(v["turbidity"] for v in series) / len(series))
    assert turbidity[0] < 0.45  # freshly cleaned: 0.2-0.4 NTU
    assert turbidity[1] - turbidity[0] == pytest.approx(365 * 0.0025, abs=0.1)
    assert turbidity[1] > 1.0  # a year without cleaning reaches the alarm limit


def test_sensor_stuck_freezes_level_while_tank_moves(profile: DeviceProfile) -> None:
    model = create_model("HT-TNK-001", profile, seed=5)
    assert isinstance(model, TankModel)
    _run(model, START, 6 * 3600, 60)
    model.inject(FaultKind.SENSOR_STUCK, True)
    frozen = dict(model.values())
    true_before = model.level_m
    series = _run(model, START + timedelta(hours=6), 3 * 3600, 60)
    assert all(v["level"] == frozen["level"] for v in series)
    assert all(v["volume_pct"] == frozen["volume_pct"] for v in series)
    assert abs(model.level_m - true_before) > 0.1  # the water did move
    assert len({v["inlet_valve_open"] for v in series}) == 2  # and the valve kept working
    model.inject(FaultKind.SENSOR_STUCK, True)  # injecting again keeps the first frozen value
    assert model.values()["level"] == frozen["level"]
    model.inject(FaultKind.SENSOR_STUCK, False)
    _run(model, START + timedelta(hours=9), 60, 60)
    assert model.values()["level"] == pytest.approx(model.level_m, abs=0.01)
