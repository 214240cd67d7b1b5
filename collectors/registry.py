"""Protocol registry: one line per collector implementation (Telegraf's inputs/all).

Each entry builds the collectors for the devices of its protocol, one per endpoint.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from collectors.base import Collector
from collectors.modbus.limits import DeviceLimitStore
from collectors.opcua.security import OpcuaSecurity
from device_profiles.models import DeviceProfile
from facility.errors import ConfigError
from facility.types import Asset, ModbusEndpoint, OpcuaEndpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectorOptions:
    """Per-protocol settings from the configuration (security, credentials), and where
    Modbus devices' learned limits are remembered (None: in memory only)."""

    opcua_security: OpcuaSecurity | None = None
    device_limits: DeviceLimitStore | None = None
    poll_scale: float = 1.0  # profiles' poll periods are multiplied by this


Builder = Callable[[Sequence[tuple[Asset, DeviceProfile]], CollectorOptions], list[Collector]]


def _modbus(
    devices: Sequence[tuple[Asset, DeviceProfile]], options: CollectorOptions
) -> list[Collector]:
    from collectors.modbus.collector import ModbusCollector

    by_endpoint: dict[tuple[str, int], list[tuple[Asset, DeviceProfile]]] = defaultdict(list)
    for asset, profile in devices:
        assert isinstance(asset.endpoint, ModbusEndpoint)
        by_endpoint[(asset.endpoint.host, asset.endpoint.port)].append((asset, profile))
    return [
        ModbusCollector(host, port, group, store=options.device_limits)
        for (host, port), group in by_endpoint.items()
    ]


def _opcua(
    devices: Sequence[tuple[Asset, DeviceProfile]], options: CollectorOptions
) -> list[Collector]:
    from collectors.opcua.collector import OpcuaCollector

    by_url: dict[str, list[tuple[Asset, DeviceProfile]]] = defaultdict(list)
    for asset, profile in devices:
        assert isinstance(asset.endpoint, OpcuaEndpoint)
        by_url[asset.endpoint.url].append((asset, profile))
    return [
        OpcuaCollector(url, group, security=options.opcua_security) for url, group in by_url.items()
    ]


REGISTRY: dict[str, Builder] = {
    "modbus": _modbus,
    "opcua": _opcua,
}


def build_collectors(
    assets: Sequence[Asset],
    profiles: dict[str, DeviceProfile],
    options: CollectorOptions | None = None,
) -> list[Collector]:
    """Collectors for every monitored asset, grouped by protocol and endpoint.

    Assets whose protocol has no collector in this build are left out with one error line
    naming them: the other devices are still collected.
    """
    by_protocol: dict[str, list[tuple[Asset, DeviceProfile]]] = defaultdict(list)
    for asset in assets:
        if not asset.monitored or asset.profile is None:
            continue
        profile = profiles.get(asset.profile)
        if profile is None:
            raise ConfigError(
                f"asset {asset.asset_no}: unknown profile {asset.profile!r}; expected one of "
                f"{', '.join(sorted(profiles))}"
            )
        by_protocol[profile.protocol].append((asset, profile))
    collectors: list[Collector] = []
    for protocol, devices in sorted(by_protocol.items()):
        builder = REGISTRY.get(protocol)
        if builder is None:
            log.error(
                "no collector for protocol=%s in this build; not collecting %d assets: %s",
                protocol,
                len(devices),
                ", ".join(a.asset_no for a, _ in devices[:10])
                + (" ..." if len(devices) > 10 else ""),
            )
            continue
        collectors.extend(builder(devices, options or CollectorOptions()))
    return collectors
