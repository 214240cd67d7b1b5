"""Every class: every profile point with the wire's Python type, determinism, bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device_profiles.loader import load_library
from device_profiles.models import DeviceProfile
from facility.errors import ConfigError
from facility.types import DeviceClass
from simulators.physics import PROTOCOL_FAULTS, FaultKind, create_model, python_type
from simulators.physics.base import DeviceModel

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 21, 5, 0, tzinfo=TZ)
PROFILES = {p.device_class: p for p in load_library().values()}


def _series(model: DeviceModel, steps: int, dt: float) -> list[dict[str, Any]]:
    now = START
    model.step(now, 0.0)
    out = []
    for _ in range(steps):
        now += timedelta(seconds=dt)
        model.step(now, dt)
        out.append(dict(model.values()))
    return out


@pytest.mark.parametrize("device_class", list(DeviceClass))
def test_every_point_present_with_the_right_type(device_class: DeviceClass) -> None:
    profile = PROFILES[device_class]
    model = create_model(f"HT-{device_class.value}-001", profile, seed=1)
    expected = {p.name: python_type(p) for p in profile.points}
    for values in [model.values(), *_series(model, 48, 1800.0)]:
        assert set(values) == set(expected)
        for name, value in values.items():
            assert type(value) is expected[name], (name, value)
            point = profile.point(name)
            if point.range is not None and isinstance(value, int | float):
                assert point.range[0] <= value <= point.range[1], (name, value)


@pytest.mark.parametrize(
    ("point_type", "expected"),
    [
        (("vfd-booster-pump", "run_hours"), float),
        (("vfd-booster-pump", "start_count"), int),
        (("vfd-booster-pump", "status_word"), int),
        (("vfd-booster-pump", "firmware"), str),
        (("vfd-booster-pump", "discharge_pressure"), float),
        (("street-lighting-circuit", "cabinet_open"), bool),
        (("street-lighting-circuit", "energy"), int),
        (("pool-drainage-controller", "pump_running"), bool),
        (("fire-alarm-panel", "zone_03"), int),
        (("fire-alarm-panel", "battery_voltage"), float),
        (("water-tank-monitor", "inlet_valve_open"), bool),
    ],
)
def test_python_type_rules(point_type: tuple[str, str], expected: type) -> None:
    profile_id, name = point_type
    assert python_type(load_library()[profile_id].point(name)) is expected


@pytest.mark.parametrize("device_class", list(DeviceClass))
def test_same_seed_same_series_different_asset_different_series(
    device_class: DeviceClass,
) -> None:
    profile = PROFILES[device_class]
    cls = device_class.value
    first = _series(create_model(f"HT-{cls}-001", profile, seed=42), 96, 900.0)
    again = _series(create_model(f"HT-{cls}-001", profile, seed=42), 96, 900.0)
    other = _series(create_model(f"HT-{cls}-002", profile, seed=42), 96, 900.0)
    reseeded = _series(create_model(f"HT-{cls}-001", profile, seed=43), 96, 900.0)
    assert first == again
    assert first != other
    assert first != reseeded


def test_protocol_faults_are_not_physical() -> None:
    for device_class, profile in PROFILES.items():
        model = create_model(f"HT-{device_class.value}-001", profile, seed=1)
        assert not model.faults & PROTOCOL_FAULTS
        with pytest.raises(ConfigError, match="comm_loss"):
            model.inject(FaultKind.COMM_LOSS, True)


def test_every_physical_fault_has_a_model() -> None:
    covered = set().union(
        *(create_model(f"HT-{c.value}-001", p, seed=1).faults for c, p in PROFILES.items())
    )
    assert covered == set(FaultKind) - PROTOCOL_FAULTS


def test_asset_number_class_must_match_profile() -> None:
    with pytest.raises(ConfigError, match="profile vfd-booster-pump is for PMP"):
        create_model("HT-LGT-001", PROFILES[DeviceClass.PMP], seed=1)


def test_profile_with_a_point_the_model_lacks_is_a_config_error() -> None:
    profile = PROFILES[DeviceClass.TNK]
    extra = profile.points[0].model_copy(update={"name": "ph_value"})
    bigger = DeviceProfile.model_validate(
        {**profile.model_dump(), "points": [*profile.model_dump()["points"], extra.model_dump()]}
    )
    with pytest.raises(ConfigError, match="does not model: ph_value"):
        create_model("HT-TNK-001", bigger, seed=1)


def test_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        create_model("HT-TNK-001", PROFILES[DeviceClass.TNK], 1, timezone="Mars/Olympus")


def test_negative_dt_is_refused() -> None:
    model = create_model("HT-TNK-001", PROFILES[DeviceClass.TNK], seed=1)
    with pytest.raises(ConfigError, match="dt_s must be >= 0"):
        model.step(START, -1.0)


def test_step_in_utc_means_the_same_local_time() -> None:
    profile = PROFILES[DeviceClass.PMP]
    local = _series(create_model("HT-PMP-001", profile, seed=3), 10, 60.0)
    model = create_model("HT-PMP-001", profile, seed=3)
    now = START.astimezone(ZoneInfo("UTC"))
    model.step(now, 0.0)
    utc = []
    for _ in range(10):
        now += timedelta(seconds=60)
        model.step(now, 60.0)
        utc.append(dict(model.values()))
    assert utc == local


def test_naive_now_is_site_local_time() -> None:
    profile = PROFILES[DeviceClass.PMP]
    aware = _series(create_model("HT-PMP-001", profile, seed=3), 10, 60.0)
    model = create_model("HT-PMP-001", profile, seed=3)
    now = START.replace(tzinfo=None)
    model.step(now, 0.0)
    naive = []
    for _ in range(10):
        now += timedelta(seconds=60)
        model.step(now, 60.0)
        naive.append(dict(model.values()))
    assert naive == aware
