"""Sun position (NOAA series) against astral 3.2 and published times for Zhongshan."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral.sun import sunrise, sunset

from simulators.physics.sun import clear_sky_lux, solar_elevation, sunrise_sunset

TZ = ZoneInfo("Asia/Shanghai")
LAT, LON = 22.52, 113.39


@pytest.mark.parametrize(
    ("day", "rise", "set_"),
    [
        # Almanac times for Zhongshan (22.52 N, 113.39 E) in CST, to the minute.
        (date(2026, 6, 21), "05:43", "19:13"),
        (date(2026, 12, 21), "07:02", "17:47"),
        (date(2026, 3, 20), "06:31", "18:37"),
    ],
)
def test_sunrise_sunset_match_published_times(day: date, rise: str, set_: str) -> None:
    got_rise, got_set = sunrise_sunset(LAT, LON, day, TZ)
    assert got_rise is not None
    assert got_set is not None
    for got, expected in ((got_rise, rise), (got_set, set_)):
        hour, minute = map(int, expected.split(":"))
        want = datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)
        assert abs(got - want) <= timedelta(minutes=15)


@pytest.mark.parametrize("month", range(1, 13))
def test_sunrise_sunset_within_a_minute_of_astral(month: int) -> None:
    day = date(2026, month, 15)
    observer = Observer(LAT, LON)
    got_rise, got_set = sunrise_sunset(LAT, LON, day, TZ)
    assert got_rise is not None
    assert got_set is not None
    assert abs(got_rise - sunrise(observer, day, tzinfo=TZ)) < timedelta(minutes=1.5)
    assert abs(got_set - sunset(observer, day, tzinfo=TZ)) < timedelta(minutes=1.5)


def test_elevation_at_sunset_is_the_refraction_horizon() -> None:
    _, got_set = sunrise_sunset(LAT, LON, date(2026, 6, 21), TZ)
    assert got_set is not None
    assert solar_elevation(LAT, LON, got_set.timestamp()) == pytest.approx(-0.833, abs=0.1)


def test_noon_elevation_near_zenith_in_summer_and_low_in_winter() -> None:
    summer = datetime(2026, 6, 21, 12, 25, tzinfo=TZ).timestamp()
    winter = datetime(2026, 12, 21, 12, 15, tzinfo=TZ).timestamp()
    # 90 - |latitude - declination|: 23.44 N in June, 23.44 S in December.
    assert solar_elevation(LAT, LON, summer) == pytest.approx(89.1, abs=0.5)
    assert solar_elevation(LAT, LON, winter) == pytest.approx(44.0, abs=0.5)


def test_polar_night_has_no_sunrise() -> None:
    assert sunrise_sunset(78.0, 15.0, date(2026, 12, 21), ZoneInfo("UTC")) == (None, None)


def test_clear_sky_lux_rises_with_the_sun() -> None:
    elevations = [-20, -12, -6, -3, -0.833, 0, 5, 30, 60, 90]
    lux = [clear_sky_lux(e) for e in elevations]
    assert lux == sorted(lux)
    assert clear_sky_lux(-6.0) == pytest.approx(3.4, rel=0.01)  # end of civil twilight
    assert 300 < clear_sky_lux(-0.833) < 800  # sunset
    assert clear_sky_lux(90.0) > 100_000
