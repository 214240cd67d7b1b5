"""The simulated estate over real Modbus TCP: every point read with plain pymodbus and decoded
with ``struct`` here (not the project's codec), writes, faults through the control API,
malformed frames, and an independent client (mbpoll)."""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from device_profiles import load_library
from device_profiles.models import DeviceProfile, Point
from facility.types import (
    ModbusEndpoint,
)
from simulators.control import ControlServer
from simulators.estate import Estate
from tests.support import make_asset

PROFILES = load_library()
EVENING = datetime(2026, 6, 1, 19, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # lights on, demand


# One asset of each Modbus class, plus a gateway with three pumps (unit ids 1..3).
FLEET = [
    make_asset("TS-PMP-001", "vfd-booster-pump", ModbusEndpoint("127.0.0.1", 1502, 1)),
    make_asset("TS-PMP-002", "vfd-booster-pump", ModbusEndpoint("127.0.0.1", 1502, 2)),
    make_asset("TS-PMP-003", "vfd-booster-pump", ModbusEndpoint("127.0.0.1", 1502, 3)),
    make_asset("TS-PDP-001", "pool-drainage-controller", ModbusEndpoint("127.0.0.1", 1503, 1)),
    make_asset("TS-LGT-001", "street-lighting-circuit", ModbusEndpoint("127.0.0.1", 1504, 7)),
]


@pytest.fixture
async def estate() -> AsyncIterator[Estate]:
    """Stepped only by the test (``await estate.step()``), so the wire and the model agree."""
    async with Estate(
        FLEET, seed=11, speed=600, start=EVENING, port_mode="ephemeral", tick_s=3600
    ) as running:
        await running.step()
        yield running


@pytest.fixture
async def ticking() -> AsyncIterator[Estate]:
    """Stepped by its own task every 0.5 s at 600x: 5 simulated minutes per tick."""
    async with Estate(FLEET, seed=11, speed=600, start=EVENING, port_mode="ephemeral") as running:
        yield running


async def client_for(estate: Estate, asset_no: str, wait_s: float = 2.0) -> AsyncModbusTcpClient:
    info = estate.endpoints[asset_no]
    client = AsyncModbusTcpClient(info.host, port=info.port, timeout=wait_s, retries=0)
    assert await client.connect()
    return client


# -- independent decoding ---------------------------------------------------------------------

FORMATS = {
    "int16": "h",
    "uint16": "H",
    "bitfield": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}


def struct_decode(point: Point, order: str, registers: list[int]) -> Any:
    """Decode a point's registers the way a vendor manual describes it, with struct."""
    assert point.modbus is not None
    kind = point.modbus.type.value
    byte_swapped = order in ("BADC", "DCBA")
    if kind == "bit":
        return bool((registers[0] >> (point.modbus.bit or 0)) & 1)
    if kind == "string":
        data = b"".join(struct.pack("<H" if byte_swapped else ">H", r) for r in registers)
        return data.split(b"\x00")[0].decode("ascii")
    words = list(registers)
    if order in ("CDAB", "DCBA"):
        words.reverse()
    data = b"".join(struct.pack("<H" if byte_swapped else ">H", w) for w in words)
    raw = struct.unpack(">" + FORMATS[kind], data)[0]
    if point.scale == 1 and point.offset == 0:
        return raw
    return raw * point.scale + point.offset


async def read_all(
    client: AsyncModbusTcpClient, unit: int, profile: DeviceProfile
) -> dict[str, Any]:
    """Every point of a device: one request per table spanning its first..last address."""
    values: dict[str, Any] = {}
    tables: dict[str, list[Point]] = {}
    for point in profile.points:
        assert point.modbus is not None
        tables.setdefault(point.modbus.table.value, []).append(point)
    for table, points in tables.items():
        start = min(p.modbus.address for p in points if p.modbus)
        end = max(p.modbus.end for p in points if p.modbus)
        count = end - start + 1
        if table in ("coil", "discrete"):
            read = client.read_coils if table == "coil" else client.read_discrete_inputs
            response = await read(start, count=count, device_id=unit)
            assert not response.isError(), (table, response)
            for p in points:
                assert p.modbus is not None
                values[p.name] = bool(response.bits[p.modbus.address - start])
            continue
        read = client.read_holding_registers if table == "holding" else client.read_input_registers
        response = await read(start, count=count, device_id=unit)
        assert not response.isError(), (table, response)
        for p in points:
            assert p.modbus is not None
            offset = p.modbus.address - start
            registers = response.registers[offset : offset + p.modbus.count]
            values[p.name] = struct_decode(p, profile.order_of(p).value, registers)
    return values


def assert_matches(point: Point, wire: Any, model: Any) -> None:
    if isinstance(model, bool) or isinstance(wire, str):
        assert wire == model, point.name
        return
    assert point.modbus is not None
    kind = point.modbus.type.value
    if kind == "float32":
        assert wire == pytest.approx(model, rel=1e-6, abs=1e-6), point.name
    elif kind == "float64":
        assert wire == model, point.name
    else:  # integers carry the value to half a scale step
        assert abs(wire - model) <= abs(point.scale) / 2 + 1e-9, (point.name, wire, model)
    if point.range is not None:
        low, high = point.range
        assert low <= wire <= high, (point.name, wire, point.range)


# -- reading every point ----------------------------------------------------------------------


async def test_every_modbus_point_reads_what_the_model_says_and_in_range(estate: Estate) -> None:
    for asset in FLEET:
        assert isinstance(asset.endpoint, ModbusEndpoint)
        profile = PROFILES[asset.profile or ""]
        client = await client_for(estate, asset.asset_no)
        try:
            wire = await read_all(client, asset.endpoint.unit_id, profile)
        finally:
            client.close()
        model = estate.model(asset.asset_no).values()
        assert set(wire) == {p.name for p in profile.points}
        for point in profile.points:
            assert_matches(point, wire[point.name], model[point.name])


async def test_gateway_units_are_separate_devices(estate: Estate) -> None:
    client = await client_for(estate, "TS-PMP-001")
    try:
        serials = []
        for unit in (1, 2, 3):
            values = await read_all(client, unit, PROFILES["vfd-booster-pump"])
            serials.append((values["run_hours"], values["start_count"]))
    finally:
        client.close()
    assert len(set(serials)) == 3  # each unit answers with its own pump's counters


async def test_values_evolve_with_the_physics_at_600x(ticking: Estate) -> None:
    client = await client_for(ticking, "TS-PMP-001")
    lighting = await client_for(ticking, "TS-LGT-001")
    try:
        first: dict[int, tuple[float, int]] = {}
        last: dict[int, tuple[float, int]] = {}
        energy: list[int] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for unit in (1, 2, 3):
                response = await client.read_input_registers(10, count=4, device_id=unit)
                assert not response.isError()
                hours = struct.unpack(">I", struct.pack(">2H", *response.registers[0:2]))[0]
                starts = struct.unpack(">I", struct.pack(">2H", *response.registers[2:4]))[0]
                sample = (hours * 0.1, starts)
                if unit in last:  # counters never go back
                    assert sample[0] >= last[unit][0]
                    assert sample[1] >= last[unit][1]
                first.setdefault(unit, sample)
                last[unit] = sample
            response = await lighting.read_input_registers(8, count=4, device_id=7)
            energy.append(struct.unpack(">Q", struct.pack(">4H", *response.registers))[0])
            ran = any(last[u][0] > first[u][0] for u in last)
            if ran and energy[-1] > energy[0]:
                break
            await asyncio.sleep(0.5)
    finally:
        client.close()
        lighting.close()
    assert any(last[u][0] > first[u][0] for u in last), "no pump's run hours increased"
    assert energy == sorted(energy)
    assert energy[-1] > energy[0], "the evening lighting circuit used no energy"


# -- writes -----------------------------------------------------------------------------------


async def test_writes_reach_the_model(estate: Estate) -> None:
    pump = await client_for(estate, "TS-PMP-002")
    pool = await client_for(estate, "TS-PDP-001")
    try:
        response = await pump.write_register(10, 512, device_id=2)  # set-point 5.12 bar
        assert not response.isError()
        assert estate.model("TS-PMP-002").values()["setpoint_pressure"] == pytest.approx(5.12)
        read = await pump.read_holding_registers(10, count=1, device_id=2)
        assert read.registers == [512]
        await estate.step()
        read = await pump.read_holding_registers(10, count=1, device_id=2)
        assert read.registers == [512]
        # the other pumps on the gateway keep their own set-point
        assert estate.model("TS-PMP-001").values()["setpoint_pressure"] != pytest.approx(5.12)

        response = await pool.write_register(0, 2, device_id=1)  # mode manual
        assert not response.isError()
        response = await pool.write_coil(1, True, device_id=1)  # pump_command
        assert not response.isError()
        await estate.step()
        bits = await pool.read_discrete_inputs(0, count=1, device_id=1)
        assert bits.bits[0] is True  # the drain pump runs
        assert estate.model("TS-PDP-001").values()["pump_running"] is True
    finally:
        pump.close()
        pool.close()


async def test_bad_writes_get_the_exception_a_device_gives(estate: Estate) -> None:
    client = await client_for(estate, "TS-PMP-001")
    try:
        read_only = await client.write_register(0, 1, device_id=1)  # run_state is read-only
        assert read_only.isError()
        assert read_only.exception_code == 2
        unmapped = await client.write_register(40, 1, device_id=1)
        assert unmapped.exception_code == 2
        mode_before = (await client.read_holding_registers(1, count=1, device_id=1)).registers
        refused = await client.write_register(1, 9, device_id=1)  # mode 9 is no state
        assert refused.exception_code == 3
        mode_after = (await client.read_holding_registers(1, count=1, device_id=1)).registers
        assert mode_after == mode_before
    finally:
        client.close()


async def test_address_rules(estate: Estate) -> None:
    client = await client_for(estate, "TS-PMP-001")
    try:
        bridged = await client.read_holding_registers(0, count=11, device_id=1)  # gap 7..9
        assert not bridged.isError()
        assert bridged.registers[7:10] == [0, 0, 0]
        assert (await client.read_holding_registers(7, count=2, device_id=1)).exception_code == 2
        assert (await client.read_holding_registers(100, count=1, device_id=1)).exception_code == 2
        assert (await client.read_coils(0, count=1, device_id=1)).exception_code == 2
        unknown_unit = await client.read_holding_registers(0, count=1, device_id=9)
        assert unknown_unit.exception_code == 0x0B
    finally:
        client.close()


# -- faults through the control API -----------------------------------------------------------


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


async def test_protocol_faults_hit_one_unit_only(estate: Estate) -> None:
    async with ControlServer(estate) as control:
        status, body = await call(
            "POST", f"{control.url}/faults", {"asset_no": "TS-PMP-002", "kind": "comm_loss"}
        )
        assert status == 201, body
        dead = await client_for(estate, "TS-PMP-002", wait_s=0.5)
        alive = await client_for(estate, "TS-PMP-001")
        try:
            with pytest.raises(ModbusException):
                await dead.read_holding_registers(0, count=1, device_id=2)
            for unit in (1, 3):  # the same gateway still answers for the others
                response = await alive.read_holding_registers(0, count=1, device_id=unit)
                assert not response.isError()
        finally:
            dead.close()

        status, _ = await call("DELETE", f"{control.url}/faults/TS-PMP-002/comm_loss")
        assert status == 200
        status, _ = await call(
            "POST", f"{control.url}/faults", {"asset_no": "TS-PMP-003", "kind": "exception"}
        )
        assert status == 201
        try:
            failed = await alive.read_holding_registers(0, count=1, device_id=3)
            assert failed.exception_code == 4
            back = await alive.read_holding_registers(0, count=1, device_id=2)
            assert not back.isError()
        finally:
            alive.close()

        status, _ = await call(
            "POST", f"{control.url}/faults", {"asset_no": "TS-PMP-001", "kind": "slow"}
        )
        assert status == 201
        impatient = await client_for(estate, "TS-PMP-001", wait_s=0.3)
        patient = await client_for(estate, "TS-PMP-001", wait_s=5)
        try:
            with pytest.raises(ModbusException):
                await impatient.read_holding_registers(0, count=1, device_id=1)
            late = await patient.read_holding_registers(0, count=1, device_id=1)
            assert not late.isError()  # slow, but it answers
        finally:
            impatient.close()
            patient.close()


async def test_out_of_range_fault_sends_values_outside_the_profile_range(estate: Estate) -> None:
    async with ControlServer(estate) as control:
        status, _ = await call(
            "POST", f"{control.url}/faults", {"asset_no": "TS-PMP-001", "kind": "out_of_range"}
        )
        assert status == 201
        client = await client_for(estate, "TS-PMP-001")
        try:
            values = await read_all(client, 1, PROFILES["vfd-booster-pump"])
        finally:
            client.close()
    outside = []
    for point in PROFILES["vfd-booster-pump"].points:
        if point.range is not None and not point.counter:
            low, high = point.range
            outside.append(not low <= values[point.name] <= high)
    assert outside
    assert all(outside)


async def test_physical_fault_and_its_expiry(estate: Estate) -> None:
    async with ControlServer(estate) as control:
        status, body = await call(
            "POST",
            f"{control.url}/faults",
            {"asset_no": "TS-PDP-001", "kind": "flood", "duration_s": 0.5},
        )
        assert status == 201
        assert body["fault"]["expires"] is not None
        client = await client_for(estate, "TS-PDP-001")
        try:
            await estate.step()
            flooded = await client.read_discrete_inputs(3, count=1, device_id=1)
            assert flooded.bits[0] is True
            deadline = time.monotonic() + 10
            faults: list[Any] = [None]
            while faults and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                _, listing = await call("GET", f"{control.url}/faults")
                faults = listing["faults"]
            assert faults == []  # cleared by itself
        finally:
            client.close()


async def test_control_api_explains_bad_requests(estate: Estate) -> None:
    async with ControlServer(estate) as control:
        url = control.url
        status, body = await call(
            "POST", f"{url}/faults", {"asset_no": "TS-PMP-01", "kind": "slow"}
        )
        assert status == 400
        assert body["field"] == "asset_no"
        assert "TS-PMP-001" in body["expected"]
        assert "did you mean" in body["error"]

        status, body = await call(
            "POST", f"{url}/faults", {"asset_no": "TS-PMP-001", "kind": "fire"}
        )
        assert status == 400
        assert body["field"] == "kind"
        assert {"comm_loss", "overcurrent", "dry_run"} <= set(body["expected"])
        assert "fire" not in body["expected"]
        assert "PMP" in body["error"]

        status, body = await call(
            "POST", f"{url}/faults", {"asset_no": "TS-PMP-001", "kind": "slow", "duration_s": -3}
        )
        assert status == 400
        assert body["field"] == "duration_s"

        status, body = await call("POST", f"{url}/faults", {"asset": "TS-PMP-001"})
        assert status == 400
        assert body["field"] == "asset"

        status, body = await call("DELETE", f"{url}/faults/TS-PMP-001/slow")
        assert status == 404
        status, body = await call("GET", f"{url}/nothing")
        assert status == 404
        assert "GET /faults" in body["error"]
        status, body = await call("PUT", f"{url}/faults", {})
        assert status == 405

        raw = await asyncio.to_thread(_post_raw, url, b"{not json")
        assert raw[0] == 400
        assert "JSON" in raw[1]["error"]

        status, body = await call("GET", f"{url}/health")
        assert status == 200
        assert body["assets"] == len(FLEET)
        status, body = await call("GET", f"{url}/endpoints")
        assert {e["asset_no"] for e in body["endpoints"]} == {a.asset_no for a in FLEET}


def _post_raw(url: str, data: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{url}/faults", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- bad frames -------------------------------------------------------------------------------


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def exchange(port: int, data: bytes, expect: int) -> list[bytes]:
    """Send raw bytes, collect ``expect`` MBAP answers (or what came before EOF/timeout)."""
    answers: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(data)
        buffer = b""
        while len(answers) < expect:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 6:
                length = struct.unpack(">H", buffer[4:6])[0]
                if len(buffer) < 6 + length:
                    break
                answers.append(buffer[: 6 + length])
                buffer = buffer[6 + length :]
    return answers


def split_exchange(port: int, frame: bytes) -> list[bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(frame[:5])
        time.sleep(0.05)  # not a timing check: lets the first half arrive on its own
        sock.sendall(frame[5:])
        answer = sock.recv(4096)
    return [answer]


def connection_closed(port: int, data: bytes) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(data)
        try:
            return sock.recv(4096) == b""
        except ConnectionResetError:
            return True


async def test_malformed_frames_never_crash_the_server(estate: Estate) -> None:
    port = estate.endpoints["TS-PMP-001"].port
    read_two = struct.pack(">BHH", 3, 0, 2)

    # garbage (protocol id not 0): that connection is closed, nothing else happens
    assert await asyncio.to_thread(connection_closed, port, b"\xde\xad\xbe\xef" * 8)
    # an impossible length field, then the rest of the stream: closed as well
    assert await asyncio.to_thread(connection_closed, port, b"\x00\x01\x00\x00\xff\xff\x01\x03")

    # well-framed but wrong: an unknown function code, a count of 0, a count above 125
    answers = await asyncio.to_thread(
        exchange,
        port,
        mbap(1, 1, b"\x63\x00\x00")
        + mbap(2, 1, struct.pack(">BHH", 3, 0, 0))
        + mbap(3, 1, struct.pack(">BHH", 3, 0, 126))
        + mbap(4, 1, b"\x03\x00"),  # body too short
        4,
    )
    codes = [(struct.unpack(">H", a[:2])[0], a[7], a[8]) for a in answers]
    assert codes == [(1, 0x63 | 0x80, 1), (2, 0x83, 3), (3, 0x83, 3), (4, 0x83, 3)]

    # back-to-back requests in one segment are all answered, each with its own ids
    burst = b"".join(mbap(tid, unit, read_two) for tid, unit in ((7, 1), (8, 2), (9, 3)))
    answers = await asyncio.to_thread(exchange, port, burst, 3)
    assert [(struct.unpack(">H", a[:2])[0], a[6], a[7]) for a in answers] == [
        (7, 1, 3),
        (8, 2, 3),
        (9, 3, 3),
    ]

    # a frame split over two segments is answered once it is whole
    answers = await asyncio.to_thread(split_exchange, port, mbap(10, 2, read_two))
    assert [(struct.unpack(">H", a[:2])[0], a[7]) for a in answers] == [(10, 3)]

    # and after all that, a plain client is served as ever
    client = await client_for(estate, "TS-PMP-001")
    try:
        response = await client.read_holding_registers(0, count=7, device_id=1)
        assert not response.isError()
    finally:
        client.close()


# -- an independent client --------------------------------------------------------------------


def mbpoll(*args: str) -> list[float]:
    tool = shutil.which("mbpoll")
    assert tool, "mbpoll is not installed (Debian package mbpoll; make test installs it)"
    result = subprocess.run(
        [tool, "-m", "tcp", "-0", "-1", "-o", "2", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [float(v) for v in re.findall(r"^\[\d+\]:\s+(\S+)", result.stdout, re.MULTILINE)]


async def test_mbpoll_reads_the_simulator(estate: Estate) -> None:
    info = estate.endpoints["TS-PMP-002"]
    model = estate.model("TS-PMP-002").values()
    base = ["-a", "2", "-p", str(info.port)]
    holding = await asyncio.to_thread(mbpoll, *base, "-t", "4", "-r", "0", "-c", "7", info.host)
    assert len(holding) == 7
    assert holding[0] == model["run_state"]
    assert holding[5] * 0.1 == pytest.approx(model["voltage"], abs=0.05)
    # mbpoll's float default is the low word first: the profile's CDAB discharge pressure
    pressure = await asyncio.to_thread(mbpoll, *base, "-t", "3:float", "-r", "0", info.host)
    assert pressure[0] == pytest.approx(model["discharge_pressure"], rel=1e-5)
    coils = await asyncio.to_thread(
        mbpoll,
        "-a",
        "1",
        "-p",
        str(estate.endpoints["TS-PDP-001"].port),
        "-t",
        "1",
        "-r",
        "0",
        "-c",
        "4",
        info.host,
    )
    pool = estate.model("TS-PDP-001").values()
    assert coils == [float(pool[n]) for n in ("pump_running", "dry_run_trip", "door_open", "flood")]
    assert not math.isnan(pressure[0])
