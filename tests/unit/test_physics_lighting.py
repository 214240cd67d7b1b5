"""Lighting circuit: on at dusk, off at dawn in Zhongshan; lamps, counters, modes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device_profiles.loader import load_library
from device_profiles.models import DeviceProfile
from simulators.physics import FaultKind, create_model
from simulators.physics.base import DeviceModel
from simulators.physics.lighting import LightingModel

TZ = ZoneInfo("Asia/Shanghai")
AUTO, MANUAL_ON, MANUAL_OFF = 0, 1, 2


@pytest.fixture(scope="module")
def profile() -> DeviceProfile:
    return load_library()["street-lighting-circuit"]


def _switch_times(
    model: DeviceModel, start: datetime, seconds: float, dt: float
) -> list[tuple[datetime, bool]]:
    now = start
    model.step(now, 0.0)
    state = model.values()["contactor_on"]
    changes = []
    for _ in range(round(seconds / dt)):
        now += timedelta(seconds=dt)
        model.step(now, dt)
        on = model.values()["contactor_on"]
        if on != state:
            changes.append((now, bool(on)))
            state = on
    return changes


@pytest.mark.parametrize(
    ("day", "sunset", "next_sunrise"),
    [
        # Almanac times for Zhongshan (CST): midsummer and midwinter.
        (date(2026, 6, 21), "19:13", "05:43"),
        (date(2026, 12, 21), "17:47", "07:02"),
    ],
)
@pytest.mark.parametrize("asset_no", ["HT-LGT-001", "JU-LGT-014", "HY-LGT-030"])
def test_on_after_sunset_off_after_sunrise(
    profile: DeviceProfile, day: date, sunset: str, next_sunrise: str, asset_no: str
) -> None:
    model = create_model(asset_no, profile, seed=9)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=TZ)
    changes = _switch_times(model, noon, 86400, 20)
    assert [on for _, on in changes] == [True, False]  # one evening on, one morning off
    (on_at, _), (off_at, _) = changes

    def at(hhmm: str, offset_days: int) -> datetime:
        hour, minute = map(int, hhmm.split(":"))
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ) + timedelta(
            days=offset_days
        )

    assert at(sunset, 0) <= on_at <= at(sunset, 0) + timedelta(minutes=15)
    assert abs(off_at - at(next_sunrise, 1)) <= timedelta(minutes=15)


def test_power_and_current_follow_the_lamps(profile: DeviceProfile) -> None:
    model = create_model("HT-LGT-001", profile, seed=9)
    assert isinstance(model, LightingModel)
    night = datetime(2026, 6, 21, 23, tzinfo=TZ)
    model.step(night, 0.0)
    values: dict[str, Any] = dict(model.values())
    lamps = values["lamps_installed"]
    assert isinstance(lamps, int)
    assert 8 <= lamps <= 30
    power = values["power"]
    assert isinstance(power, float)
    assert 60.0 * 0.97 * lamps <= power <= 100.0 * 1.03 * lamps
    assert values["current"] == pytest.approx(
        power / (values["voltage"] * 0.95),
        abs=0.02,
    )
    model.inject(FaultKind.LAMP_FAILURES, True)
    model.step(night + timedelta(seconds=1), 1.0)
    failed: dict[str, Any] = dict(model.values())
    assert 3 <= failed["lamps_failed"] <= 5
    assert failed["current"] < values["current"]
    assert failed["power"] < power
    model.inject(FaultKind.LAMP_FAILURES, False)
    model.step(night + timedelta(seconds=2), 1.0)
    assert model.values()["lamps_failed"] == 0


def test_lamps_fail_rarely_and_counters_only_increase(profile: DeviceProfile) -> None:
    failed_total = 0
    for n in range(1, 5):
        model = create_model(f"HT-LGT-{n:03d}", profile, seed=9)
        now = datetime(2026, 1, 1, tzinfo=TZ)
        model.step(now, 0.0)
        previous: dict[str, Any] = dict(model.values())
        for _ in range(365):
            now += timedelta(days=1)
            model.step(now, 86400.0)
            values: dict[str, Any] = dict(model.values())
            for counter in ("energy", "burn_hours", "lamps_failed"):
                assert values[counter] >= previous[counter]
            previous = values
        failed_total += int(previous["lamps_failed"])
    # ~19 lamps × 4,380 h a year / 50,000 h MTBF ≈ 1.7 failures per circuit-year: rare, not never
    assert 1 <= failed_total <= 20


def test_manual_modes_and_contactor_writes(profile: DeviceProfile) -> None:
    model = create_model("HT-LGT-001", profile, seed=9)
    noon = datetime(2026, 6, 21, 12, tzinfo=TZ)
    model.step(noon, 0.0)
    assert model.values()["contactor_on"] is False
    model.write("mode", MANUAL_ON)
    model.step(noon + timedelta(minutes=10), 600.0)
    values: dict[str, Any] = dict(model.values())
    assert values["contactor_on"] is True
    assert values["power"] > 0
    model.write("contactor_on", False)  # in a manual mode the write picks manual_off
    assert model.values()["mode"] == MANUAL_OFF
    model.write("mode", AUTO)
    model.write("contactor_on", True)  # in auto the write holds until the next evaluation
    assert model.values()["contactor_on"] is True
    model.step(noon + timedelta(minutes=20), 600.0)
    assert model.values()["contactor_on"] is False


def test_lux_high_at_noon_dark_at_night_and_fits_the_register(profile: DeviceProfile) -> None:
    model = create_model("HT-LGT-001", profile, seed=9)
    model.step(datetime(2026, 6, 21, 12, 30, tzinfo=TZ), 0.0)
    noon = model.values()["lux"]
    model.step(datetime(2026, 6, 21, 23, 0, tzinfo=TZ), 3600.0 * 10.5)
    night = model.values()["lux"]
    assert isinstance(noon, int)
    assert 10_000 < noon <= 65_535
    assert night == 0


def test_cabinet_door(profile: DeviceProfile) -> None:
    model = create_model("HT-LGT-001", profile, seed=9)
    model.inject(FaultKind.DOOR_OPEN, True)
    assert model.values()["cabinet_open"] is True
    assert model.values()["contactor_fault"] is False
