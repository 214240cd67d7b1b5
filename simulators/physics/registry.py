"""Choose and seed the model for a device: ``create_model(asset_no, profile, seed, lat, lon)``."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device_profiles.models import DeviceProfile
from facility.errors import ConfigError
from facility.types import ASSET_NO_RE, DeviceClass
from simulators.physics._common import PhysicsModel, Site, stable_key
from simulators.physics.base import DeviceModel
from simulators.physics.fire import FireModel
from simulators.physics.lighting import LightingModel
from simulators.physics.pool import PoolModel
from simulators.physics.pump import PumpModel
from simulators.physics.tank import TankModel

MODELS: dict[DeviceClass, type[PhysicsModel]] = {
    DeviceClass.PMP: PumpModel,
    DeviceClass.PDP: PoolModel,
    DeviceClass.TNK: TankModel,
    DeviceClass.LGT: LightingModel,
    DeviceClass.FAP: FireModel,
}


def create_model(
    asset_no: str,
    profile: DeviceProfile,
    seed: int,
    latitude: float = 22.52,
    longitude: float = 113.39,
    *,
    timezone: str = "Asia/Shanghai",
) -> DeviceModel:
    """The physics model for one device, chosen by ``profile.device_class``.

    Seeded by a stable hash of (seed, asset_no): devices differ, runs repeat. Devices of one
    site (the asset number's prefix) share the weather. ``timezone`` is the site's, for what
    "07:30" and "sunset" mean; ``now`` passed to ``step`` may be in any zone.
    """
    match = ASSET_NO_RE.match(asset_no)
    if match is not None and match["cls"] != profile.device_class.value:
        raise ConfigError(
            f"asset_no={asset_no}: profile {profile.id} is for {profile.device_class.value} "
            f"devices, the asset number says {match['cls']}"
        )
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"time zone {timezone!r}: expected an IANA name such as Asia/Shanghai"
        ) from None
    site_code = match["site"] if match is not None else asset_no
    site = Site(latitude, longitude, tz, stable_key(seed, "weather", site_code))
    model_class = MODELS[profile.device_class]
    return model_class(asset_no, profile, stable_key(seed, asset_no), site)
