"""The simulated estate over real OPC UA: every point read with a plain asyncua client, by
browse path and by node id, faults, writes, unknown nodes, stable node ids, and a second OPC UA
stack (node-opcua) reading the same nodes."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from asyncua import Client, ua
from asyncua.ua.uaerrors import BadNodeIdUnknown, BadUserAccessDenied, UaStatusCodeError

from device_profiles import load_library
from device_profiles.models import DeviceProfile, Point
from facility.errors import ConfigError
from facility.types import (
    Asset,
    OpcuaEndpoint,
    PointValue,
)
from simulators.control import ControlServer
from simulators.estate import Estate
from simulators.physics import FaultKind, create_model
from tests.support import make_asset as _make_asset

PROFILES = load_library()
EVENING = datetime(2026, 6, 1, 19, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
URL = "opc.tcp://127.0.0.1:4841/facility"


def make_asset(asset_no: str, profile: str, url: str = URL) -> Asset:
    return _make_asset(asset_no, profile, OpcuaEndpoint(url, asset_no))


INTEROP_DIR = Path(__file__).resolve().parents[2] / "tools" / "opcua-interop"
VARIANT = {
    "Boolean": ua.VariantType.Boolean,
    "Int16": ua.VariantType.Int16,
    "UInt16": ua.VariantType.UInt16,
    "Int32": ua.VariantType.Int32,
    "UInt32": ua.VariantType.UInt32,
    "Int64": ua.VariantType.Int64,
    "Float": ua.VariantType.Float,
    "Double": ua.VariantType.Double,
    "String": ua.VariantType.String,
}

# A profile with a writable variable, for the write path (the shipped OPC UA devices, tanks
# and fire panels, are read-only), and the smallest device model that honours it.
WRITABLE = DeviceProfile.model_validate(
    {
        "schema_version": 1,
        "id": "test-writable-valve",
        "device_class": "TNK",
        "vendor": "test",
        "model": "test",
        "label": {"en": "Test valve", "zh": "测试阀"},
        "protocol": "opcua",
        "points": [
            {
                "name": "valve_position",
                "label": {"en": "Valve position", "zh": "阀位"},
                "unit": "%",
                "access": "read_write",
                "range": [0, 100],
                "opcua": {"browse_path": "Valve/Position", "data_type": "Double"},
            },
            {
                "name": "moves",
                "label": {"en": "Moves", "zh": "动作次数"},
                "unit": "",
                "counter": True,
                "opcua": {"browse_path": "Valve/Moves", "data_type": "UInt32"},
            },
        ],
    }
)


class ValveModel:
    """A valve that goes where it is told (0..100 %) and counts its moves."""

    def __init__(self, asset_no: str) -> None:
        self.asset_no = asset_no
        self.position = 20.0
        self.moves = 0

    def step(self, now: datetime, dt_s: float) -> None:
        pass

    def values(self) -> Mapping[str, PointValue]:
        return {"valve_position": self.position, "moves": self.moves}

    def write(self, point: str, value: PointValue) -> None:
        if not isinstance(value, float) or not 0 <= value <= 100:
            raise ConfigError(f"{point}: expected 0..100 %, got {value!r}")
        self.position = value
        self.moves += 1

    def inject(self, fault: FaultKind, active: bool) -> None:
        raise ConfigError(f"no physical fault {fault}")

    @property
    def faults(self) -> frozenset[FaultKind]:
        return frozenset()


def factory(asset_no: str, profile: DeviceProfile, seed: int, lat: float, lon: float) -> Any:
    if profile.id == WRITABLE.id:
        return ValveModel(asset_no)
    return create_model(asset_no, profile, seed, lat, lon)


# One tank and one fire panel on one server; a second panel and the test valve on another.
FLEET = [
    make_asset("TS-TNK-001", "water-tank-monitor"),
    make_asset("TS-FAP-001", "fire-alarm-panel"),
    make_asset("TS-FAP-002", "fire-alarm-panel", "opc.tcp://127.0.0.1:4842/facility"),
    make_asset("TS-TNK-009", WRITABLE.id, "opc.tcp://127.0.0.1:4842/facility"),
]
ALL_PROFILES = {**PROFILES, WRITABLE.id: WRITABLE}


def build(**options: Any) -> Estate:
    settings: dict[str, Any] = {
        "seed": 5,
        "speed": 600,
        "start": EVENING,
        "port_mode": "ephemeral",
        "model_factory": factory,
    }
    settings.update(options)
    return Estate(FLEET, ALL_PROFILES, **settings)


@pytest.fixture
async def estate() -> AsyncIterator[Estate]:
    """Stepped only by the test, so the wire and the model agree."""
    async with build(tick_s=3600) as running:
        await running.step()
        yield running


@pytest.fixture
async def ticking() -> AsyncIterator[Estate]:
    async with build() as running:
        yield running


def browse_parts(point: Point) -> list[str]:
    assert point.opcua is not None
    assert point.opcua.browse_path is not None
    return point.opcua.browse_path.split("/")


async def read_point(client: Client, idx: int, node_root: str, point: Point) -> ua.DataValue:
    node = await client.nodes.objects.get_child(
        [f"{idx}:{node_root}", *(f"{idx}:{part}" for part in browse_parts(point))]
    )
    return await node.read_data_value()


# -- reading every point ----------------------------------------------------------------------


async def test_every_opcua_point_reads_what_the_model_says(estate: Estate) -> None:
    for asset in FLEET[:3]:
        info = estate.endpoints[asset.asset_no]
        profile = PROFILES[info.profile]
        model = estate.model(asset.asset_no).values()
        async with Client(info.url) as client:
            idx = await client.get_namespace_index("urn:facility:devices")
            assert idx == info.namespace_index
            for point in profile.points:
                assert point.opcua is not None
                value = await read_point(client, idx, asset.asset_no, point)
                assert value.StatusCode is not None
                assert value.StatusCode.is_good(), point.name
                assert value.Value is not None
                assert value.Value.VariantType == VARIANT[point.opcua.data_type], point.name
                expected = model[point.name]
                if isinstance(expected, float):
                    assert value.Value.Value == pytest.approx(expected), point.name
                else:
                    assert value.Value.Value == expected, point.name
                if point.range is not None:
                    low, high = point.range
                    assert low <= value.Value.Value <= high, point.name
                assert value.SourceTimestamp is not None
                # the same node by its stable string node id
                node_id = f"ns={idx};s={asset.asset_no}.{'.'.join(browse_parts(point))}"
                by_id = await client.get_node(node_id).read_value()
                assert by_id == value.Value.Value


async def test_values_evolve_with_the_physics_at_600x(ticking: Estate) -> None:
    info = ticking.endpoints["TS-TNK-001"]
    async with Client(info.url) as client:
        idx = info.namespace_index
        level = client.get_node(f"ns={idx};s=TS-TNK-001.Level")
        inflow = client.get_node(f"ns={idx};s=TS-TNK-001.InflowTotal")
        levels = [await level.read_value()]
        inflows = [await inflow.read_value()]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(set(levels)) < 3:
            await asyncio.sleep(0.5)
            levels.append(await level.read_value())
            inflows.append(await inflow.read_value())
    assert len(set(levels)) >= 3, f"tank level did not move: {levels}"
    assert all(0 <= v <= 3.5 for v in levels)
    assert inflows == sorted(inflows)  # a counter never goes back


async def test_node_ids_survive_a_restart() -> None:
    seen = []
    for _ in range(2):
        async with build(tick_s=3600) as running:
            info = running.endpoints["TS-FAP-001"]
            async with Client(info.url) as client:
                idx = await client.get_namespace_index("urn:facility:devices")
                node = await client.nodes.objects.get_child(
                    [f"{idx}:TS-FAP-001", f"{idx}:JockeyPump", f"{idx}:Starts"]
                )
                seen.append((idx, node.nodeid.to_string()))
    assert seen[0] == seen[1] == (2, "ns=2;s=TS-FAP-001.JockeyPump.Starts")


# -- bad requests and writes ------------------------------------------------------------------


async def test_unknown_nodes_and_read_only_writes_get_protocol_errors(estate: Estate) -> None:
    info = estate.endpoints["TS-TNK-001"]
    async with Client(info.url) as client:
        with pytest.raises(BadNodeIdUnknown):
            await client.get_node("ns=2;s=TS-TNK-001.NoSuchThing").read_value()
        with pytest.raises(BadNodeIdUnknown):
            await client.get_node("ns=7;i=424242").read_value()
        level = client.get_node("ns=2;s=TS-TNK-001.Level")
        with pytest.raises(BadUserAccessDenied):
            await level.write_value(ua.Variant(1.0, ua.VariantType.Double))
        assert await level.read_value() == pytest.approx(
            estate.model("TS-TNK-001").values()["level"]
        )


async def test_writes_go_through_the_device_model(estate: Estate) -> None:
    info = estate.endpoints["TS-TNK-009"]
    valve = estate.model("TS-TNK-009")
    async with Client(info.url) as client:
        position = client.get_node("ns=2;s=TS-TNK-009.Valve.Position")
        await position.write_value(ua.Variant(55.5, ua.VariantType.Double))
        assert valve.values()["valve_position"] == 55.5
        assert await position.read_value() == 55.5
        await estate.step()
        assert await client.get_node("ns=2;s=TS-TNK-009.Valve.Moves").read_value() == 1

        with pytest.raises(UaStatusCodeError) as refused:  # the model says no: 0..100 %
            await position.write_value(ua.Variant(150.0, ua.VariantType.Double))
        assert refused.value.code == ua.StatusCodes.BadOutOfRange
        with pytest.raises(UaStatusCodeError) as mistyped:
            await position.write_value(ua.Variant(7, ua.VariantType.Int32))
        assert mistyped.value.code == ua.StatusCodes.BadTypeMismatch
        assert valve.values() == {"valve_position": 55.5, "moves": 1}
        assert await position.read_value() == 55.5


# -- faults -----------------------------------------------------------------------------------


def http(method: str, url: str, body: object = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def call(method: str, url: str, body: object = None) -> tuple[int, dict[str, Any]]:
    return await asyncio.to_thread(http, method, url, body)


async def status_of(client: Client, node_id: str) -> int:
    value = await client.get_node(node_id).read_data_value(raise_on_bad_status=False)
    assert value.StatusCode is not None
    return int(value.StatusCode.value)


async def test_faults_through_the_control_api(estate: Estate) -> None:
    info = estate.endpoints["TS-FAP-001"]
    async with ControlServer(estate) as control, Client(info.url) as client:
        faults = f"{control.url}/faults"
        status, _ = await call("POST", faults, {"asset_no": "TS-FAP-001", "kind": "fire"})
        assert status == 201
        panel = client.get_node("ns=2;s=TS-FAP-001.PanelState")
        assert await panel.read_value() == 1  # fire
        zones = [
            await client.get_node(f"ns=2;s=TS-FAP-001.Zones.Zone{z:02d}.State").read_value()
            for z in range(1, 9)
        ]
        assert 1 in zones
        other = client.get_node("ns=2;s=TS-TNK-001.Level")

        status, _ = await call("POST", faults, {"asset_no": "TS-TNK-001", "kind": "comm_loss"})
        assert status == 201
        assert await status_of(client, "ns=2;s=TS-TNK-001.Level") == (
            ua.StatusCodes.BadCommunicationError
        )
        assert await panel.read_value() == 1  # the panel on the same server still reads
        await estate.step()  # a stepping estate must not revive a lost device
        assert await status_of(client, "ns=2;s=TS-TNK-001.Level") == (
            ua.StatusCodes.BadCommunicationError
        )

        status, _ = await call("DELETE", f"{faults}/TS-TNK-001/comm_loss")
        assert status == 200
        assert await other.read_value() == pytest.approx(
            estate.model("TS-TNK-001").values()["level"]
        )

        status, _ = await call("POST", faults, {"asset_no": "TS-FAP-001", "kind": "exception"})
        assert status == 201
        assert await status_of(client, "ns=2;s=TS-FAP-001.PanelState") == (
            ua.StatusCodes.BadDeviceFailure
        )
        status, _ = await call("DELETE", f"{faults}/TS-FAP-001/exception")
        status, _ = await call("DELETE", f"{faults}/TS-FAP-001/fire")
        assert status == 200
        await estate.step()
        assert await panel.read_value() == 0

        status, _ = await call("POST", faults, {"asset_no": "TS-TNK-001", "kind": "out_of_range"})
        assert status == 201
        level = await other.read_value()
        assert not 0 <= level <= 3.5

        status, body = await call("POST", faults, {"asset_no": "TS-TNK-001", "kind": "fire"})
        assert status == 400
        assert body["expected"] == [k.value for k in estate.supported_faults("TS-TNK-001")]
        assert "sensor_stuck" in body["expected"]


# -- a second OPC UA stack --------------------------------------------------------------------


def ensure_node_opcua() -> str:
    """node with node-opcua installed in tools/opcua-interop (npm ci when missing)."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    assert node, "node is not installed: the interop check needs Node.js (Debian: nodejs)"
    if not (INTEROP_DIR / "node_modules" / "node-opcua-client").is_dir():
        assert npm, "npm is not installed: cannot install node-opcua for the interop check"
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=INTEROP_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, (
            f"npm ci in {INTEROP_DIR} failed, so node-opcua could not be installed:\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return node


async def test_node_opcua_reads_the_same_values(estate: Estate) -> None:
    node = await asyncio.to_thread(ensure_node_opcua)
    info = estate.endpoints["TS-FAP-001"]
    spec = {
        "namespace": "urn:facility:devices",
        "node_ids": [
            "ns=2;s=TS-TNK-001.Level",
            "ns=2;s=TS-FAP-001.JockeyPump.Starts",
            "ns=2;s=TS-TNK-001.NoSuchThing",
        ],
        "browse_paths": [
            "TS-FAP-001/Zones/Zone03/State",
            "TS-FAP-001/SprinklerPressure",
            "TS-TNK-001/InletValveOpen",
            "TS-TNK-001/NoSuchThing",
        ],
    }
    process = await asyncio.create_subprocess_exec(
        node,
        str(INTEROP_DIR / "read.js"),
        info.url,
        json.dumps(spec),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    lines = [line for line in out.decode().splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, out.decode()
    found = json.loads(lines[0].removeprefix("RESULT "))
    tank = estate.model("TS-TNK-001").values()
    panel = estate.model("TS-FAP-001").values()
    assert found["namespace_index"] == 2
    by_id = found["node_ids"]
    assert by_id["ns=2;s=TS-TNK-001.Level"]["status"] == "Good"
    assert by_id["ns=2;s=TS-TNK-001.Level"]["data_type"] == "Double"
    assert by_id["ns=2;s=TS-TNK-001.Level"]["value"] == pytest.approx(tank["level"])
    assert by_id["ns=2;s=TS-FAP-001.JockeyPump.Starts"]["value"] == panel["jockey_pump_starts"]
    assert by_id["ns=2;s=TS-FAP-001.JockeyPump.Starts"]["data_type"] == "UInt32"
    assert by_id["ns=2;s=TS-TNK-001.NoSuchThing"]["status"] == "BadNodeIdUnknown"
    paths = found["browse_paths"]
    zone = paths["TS-FAP-001/Zones/Zone03/State"]
    assert zone["node_id"] == "ns=2;s=TS-FAP-001.Zones.Zone03.State"
    assert (zone["value"], zone["data_type"]) == (panel["zone_03"], "Int16")
    pressure = paths["TS-FAP-001/SprinklerPressure"]["value"]
    assert math.isclose(pressure, panel["sprinkler_pressure"], rel_tol=1e-12)
    assert paths["TS-TNK-001/InletValveOpen"]["value"] is tank["inlet_valve_open"]
    assert paths["TS-TNK-001/NoSuchThing"]["status"].startswith("Bad")
