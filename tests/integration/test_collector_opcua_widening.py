"""An OPC UA server exposing Float where the profile says Double (PLCs often do): the
collector reads it (safe widening) instead of refusing it as ``type_mismatch``; unsafe
narrowing is still refused. Against the project's OPC UA simulator, switched to expose Float."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.base import Collected
from collectors.endpoints import apply_endpoint_table
from collectors.opcua import OpcuaCollector
from device_profiles import load_library
from device_profiles.models import PollClass
from facility.types import Asset, OpcuaEndpoint, Quality
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from simulators.estate import Estate

PROFILES = load_library()
EVENING = datetime(2026, 6, 1, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TANK = "HT-TNK-001"
ALL = frozenset(PollClass)


def tank() -> Asset:
    ht = next(p for p in demo_ledger_paths() if p.stem == "HT")
    return next(a for a in read_ledger_file(ht) if a.asset_no == TANK)


@pytest.fixture
async def plc_estate() -> AsyncIterator[Estate]:
    async with Estate(
        [tank()],
        PROFILES,
        seed=5,
        speed=60,
        start=EVENING,
        port_mode="ephemeral",
        opcua_expose={"Double": "Float"},
    ) as running:
        yield running


async def collect_until_every_point_has_arrived(device: object) -> Collected:
    collected: Collected | None = None
    async with asyncio.timeout(15):
        while True:
            collected = await device.collect(ALL)  # type: ignore[attr-defined]
            assert isinstance(collected, Collected)
            if all(r.quality is not Quality.BAD_COMM for r in collected.readings):
                return collected
            await asyncio.sleep(0.2)


async def test_float_where_the_profile_says_double_is_widened(plc_estate: Estate) -> None:
    profile = PROFILES["water-tank-monitor"]
    doubles = [p.name for p in profile.points if p.opcua and p.opcua.data_type == "Double"]
    assert len(doubles) >= 5
    table = {no: info.to_json() for no, info in plc_estate.endpoints.items()}
    (asset,) = apply_endpoint_table([tank()], table)
    assert isinstance(asset.endpoint, OpcuaEndpoint)
    async with OpcuaCollector(asset.endpoint.url, [(asset, profile)]) as collector:
        (device,) = collector.devices()
        collected = await collect_until_every_point_has_arrived(device)
    readings = {r.point: r for r in collected.readings}
    for name in doubles:
        assert readings[name].quality in (Quality.GOOD, Quality.UNCERTAIN_RANGE), name
        assert isinstance(readings[name].value, float), name
    assert collected.error_code is None
    # the device's value, not float32 noise digits (2.3, never 2.299999952316284)
    for name in doubles:
        value = readings[name].value
        assert isinstance(value, float)
        assert len(repr(value)) <= 12, (name, value)


async def test_double_where_the_profile_says_float_is_still_refused() -> None:
    base = PROFILES["water-tank-monitor"]
    doubles = [p.name for p in base.points if p.opcua and p.opcua.data_type == "Double"]
    narrowed = base.model_copy(
        update={
            "points": [
                p.model_copy(update={"opcua": p.opcua.model_copy(update={"data_type": "Float"})})
                if p.name == doubles[0] and p.opcua
                else p
                for p in base.points
            ]
        }
    )
    async with Estate(
        [tank()], PROFILES, seed=5, speed=60, start=EVENING, port_mode="ephemeral"
    ) as estate:
        table = {no: info.to_json() for no, info in estate.endpoints.items()}
        (asset,) = apply_endpoint_table([tank()], table)
        assert isinstance(asset.endpoint, OpcuaEndpoint)
        async with OpcuaCollector(asset.endpoint.url, [(asset, narrowed)]) as collector:
            (device,) = collector.devices()
            collected = await collect_until_every_point_has_arrived(device)
    refused = {r.point: r for r in collected.readings}[doubles[0]]
    assert (refused.value, refused.quality) == (None, Quality.BAD_CONFIG)
    assert collected.error_code == "type_mismatch"
