"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from facility.types import (
    DEVICE_CLASS_SYSTEM,
    Asset,
    AssetStatus,
    Criticality,
    DeviceClass,
    Endpoint,
)


async def wait_until(predicate: Callable[[], bool], within: float) -> None:
    """Poll ``predicate`` until true; TimeoutError after ``within`` seconds.

    Polling (not an Event) because the conditions are set from other threads (paho's
    network thread) or other processes.
    """
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def make_asset(asset_no: str, profile: str, endpoint: Endpoint) -> Asset:
    """A minimal in-service asset for tests (the ledger's own validation is tested apart)."""
    site, code, _ = asset_no.split("-")
    device_class = DeviceClass(code)
    return Asset(
        asset_no=asset_no,
        site=site,
        device_class=device_class,
        name_en=asset_no,
        name_zh=asset_no,
        building="B1",
        zone="test",
        system=DEVICE_CLASS_SYSTEM[device_class],
        profile=profile,
        make="sim",
        model="sim",
        serial=asset_no,
        install_date=None,
        criticality=Criticality.MEDIUM,
        status=AssetStatus.IN_SERVICE,
        endpoint=endpoint,
    )


# One valid ledger row (a pump behind the HT pump gateway), for tests to vary.
PUMP_ROW: dict[str, str] = {
    "asset_no": "HT-PMP-001",
    "name_en": "Building 1 booster pump 1#",
    "name_zh": "1栋生活水泵1#",
    "site": "HT",
    "building": "B1",
    "zone": "Pump room",
    "system": "water_supply",
    "device_class": "PMP",
    "profile": "vfd-booster-pump",
    "make": "Grundfos",
    "model": "Hydro MPC-E",
    "serial": "GF21000001",
    "install_date": "2021-05-04",
    "criticality": "high",
    "status": "in_service",
    "protocol": "modbus",
    "host": "127.0.0.1",
    "port": "15021",
    "unit_id": "1",
    "opcua_url": "",
    "node_root": "",
    "parent_asset_no": "",
}
