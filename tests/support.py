"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

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


# --- people: users with roles and a session, in a test database --------------------------------

TEST_PASSWORD = "correct horse battery staple"
# the conftest fixture signed_in_as: (url, name, roles, sites) -> token, set in $FACILITY_TOKEN
SignIn = Callable[..., str]
TEST_ADMIN = "test.admin"


def sign_in(
    url: str,
    name: str,
    roles: Sequence[str] = ("operator",),
    sites: Sequence[str] = ("*",),
    *,
    kind: str = "cli",
    opened_at: datetime | None = None,
    ttl: timedelta = timedelta(hours=1),
) -> str:
    """The token of a session of ``name`` (added with ``roles`` on ``sites`` if new) in the
    database at ``url``, as `facility login` (kind "cli") or the dashboard ("browser") would
    open it. ``opened_at`` in the past with a short ``ttl`` gives an expired token."""
    from maintenance.identity.roles import Source
    from maintenance.identity.store import UserStore

    clock = (lambda: opened_at) if opened_at is not None else None
    with UserStore(url, clock=clock) as store:
        if not store.count():
            store.add(TEST_ADMIN, ["admin"], by=None, password=TEST_PASSWORD)
        if store.user(name) is None:
            admin = store.authenticate(TEST_ADMIN, TEST_PASSWORD, source=Source.CLI)
            store.add(name, roles, sites, by=admin, password=TEST_PASSWORD)
        person = store.authenticate(name, TEST_PASSWORD, source=Source.CLI)
        return store.open_session(person, kind=kind, ttl=ttl).token
