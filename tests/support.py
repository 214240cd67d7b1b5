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
