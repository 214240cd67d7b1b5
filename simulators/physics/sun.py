"""Sun position and daylight for a site, from the NOAA general solar position formulas.

NOAA's "General Solar Position Calculations" (the fractional-year series for the equation of
time and the declination, accurate to about a minute for sunrise and sunset between ±60°
latitude) are used rather than ``astral`` because the lighting model evaluates the solar
elevation on every step of every circuit: the series costs a few microseconds, pure floats.
The unit tests check these times against ``astral`` 3.2 and against published times.

Illuminance on a horizontal surface under a clear sky is a log-linear interpolation of
tabulated values (about 400 lx at sunset, 3.4 lx at the end of civil twilight, 0.01 lx at
the end of nautical twilight, ~110 klx with the sun overhead); clouds scale it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

# Elevation of the sun's centre at sunrise/sunset: refraction (34') plus the solar radius (16').
SUNRISE_ELEVATION_DEG = -0.833

_DEG = math.pi / 180.0
_DAY_S = 86400.0


@lru_cache(maxsize=64)
def _year_of_day(epoch_day: int) -> tuple[int, int]:
    """(day of year 1.., days in that year) of a UTC day number since 1970-01-01."""
    day = date(1970, 1, 1) + timedelta(days=epoch_day)
    days_in_year = 366 if _is_leap(day.year) else 365
    return day.timetuple().tm_yday, days_in_year


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _fractional_year(t_utc: float) -> tuple[float, float]:
    """NOAA gamma (radians) and the UTC minute of the day, for a POSIX timestamp."""
    epoch_day, seconds = divmod(t_utc, _DAY_S)
    doy, days_in_year = _year_of_day(int(epoch_day))
    hour = seconds / 3600.0
    return 2.0 * math.pi / days_in_year * (doy - 1 + (hour - 12.0) / 24.0), seconds / 60.0


def _eqtime_decl(gamma: float) -> tuple[float, float]:
    """Equation of time (minutes) and solar declination (radians)."""
    c1, s1 = math.cos(gamma), math.sin(gamma)
    c2, s2 = math.cos(2 * gamma), math.sin(2 * gamma)
    eqtime = 229.18 * (0.000075 + 0.001868 * c1 - 0.032077 * s1 - 0.014615 * c2 - 0.040849 * s2)
    decl = (
        0.006918
        - 0.399912 * c1
        + 0.070257 * s1
        - 0.006758 * c2
        + 0.000907 * s2
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    return eqtime, decl


def solar_elevation(latitude: float, longitude: float, t_utc: float) -> float:
    """Elevation of the sun's centre above the horizon in degrees (no refraction)."""
    gamma, utc_minutes = _fractional_year(t_utc)
    eqtime, decl = _eqtime_decl(gamma)
    true_solar_minutes = utc_minutes + eqtime + 4.0 * longitude
    hour_angle = (true_solar_minutes / 4.0 - 180.0) * _DEG
    lat = latitude * _DEG
    cos_zenith = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(
        hour_angle
    )
    return 90.0 - math.acos(max(-1.0, min(1.0, cos_zenith))) / _DEG


def sunrise_sunset(
    latitude: float, longitude: float, day: date, tz: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """Sunrise and sunset on a local calendar day; None in polar day or night."""
    # Evaluate the series at local noon of that day; one iteration is within seconds.
    noon_local = datetime(day.year, day.month, day.day, 12, tzinfo=tz)
    gamma, _ = _fractional_year(noon_local.timestamp())
    eqtime, decl = _eqtime_decl(gamma)
    lat = latitude * _DEG
    cos_ha = math.cos((90.0 - SUNRISE_ELEVATION_DEG) * _DEG) / (
        math.cos(lat) * math.cos(decl)
    ) - math.tan(lat) * math.tan(decl)
    if not -1.0 <= cos_ha <= 1.0:
        return None, None
    ha_deg = math.acos(cos_ha) / _DEG
    # NOAA gives minutes after UTC midnight of the same date (negative: the UTC day before),
    # which is right for any zone whose offset roughly follows its longitude.
    midnight_utc = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rise_min = 720.0 - 4.0 * (longitude + ha_deg) - eqtime
    set_min = 720.0 - 4.0 * (longitude - ha_deg) - eqtime
    return (
        (midnight_utc + timedelta(minutes=rise_min)).astimezone(tz),
        (midnight_utc + timedelta(minutes=set_min)).astimezone(tz),
    )


# (elevation deg, log10 lux) for a clear sky on a horizontal surface.
_LUX_TABLE: tuple[tuple[float, float], ...] = (
    (-18.0, math.log10(0.0007)),
    (-12.0, math.log10(0.008)),
    (-9.0, math.log10(0.3)),
    (-6.0, math.log10(3.4)),
    (-5.0, math.log10(11.0)),
    (-4.0, math.log10(35.0)),
    (-3.0, math.log10(90.0)),
    (-2.0, math.log10(200.0)),
    (-0.833, math.log10(400.0)),
    (0.0, math.log10(700.0)),
    (2.0, math.log10(2_500.0)),
    (5.0, math.log10(6_500.0)),
    (10.0, math.log10(15_000.0)),
    (20.0, math.log10(35_000.0)),
    (30.0, math.log10(55_000.0)),
    (45.0, math.log10(80_000.0)),
    (60.0, math.log10(98_000.0)),
    (90.0, math.log10(112_000.0)),
)
_LUX_ELEV = tuple(e for e, _ in _LUX_TABLE)


def clear_sky_lux(elevation_deg: float) -> float:
    """Horizontal illuminance under a clear sky for a solar elevation (moonlight ignored)."""
    if elevation_deg <= _LUX_ELEV[0]:
        return float(10.0 ** _LUX_TABLE[0][1])
    if elevation_deg >= _LUX_ELEV[-1]:
        return float(10.0 ** _LUX_TABLE[-1][1])
    i = bisect_right(_LUX_ELEV, elevation_deg)
    e0, l0 = _LUX_TABLE[i - 1]
    e1, l1 = _LUX_TABLE[i]
    return float(10.0 ** (l0 + (l1 - l0) * (elevation_deg - e0) / (e1 - e0)))
