"""The OPC UA collector against real OPC UA servers on loopback: the simulated estate (a tank
and a fire panel of the demo ledger) and small asyncua servers started here for what the
simulator does not offer (renumbered namespaces, OperationLimits, security and logins)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from asyncua import Server, ua
from asyncua.crypto import cert_gen
from asyncua.crypto.permission_rules import User, UserRole
from cryptography.x509.oid import ExtendedKeyUsageOID

from collectors.base import Collected
from collectors.endpoints import apply_endpoint_table
from collectors.opcua import (
    OpcuaCollector,
    OpcuaDevice,
    OpcuaSecurity,
    SecurityMode,
    SecurityPolicy,
)
from collectors.registry import build_collectors
from device_profiles import load_library
from device_profiles.models import DeviceProfile, PollClass
from facility.types import Asset, OpcuaEndpoint, Quality
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from simulators.estate import Estate
from simulators.opcua_server import OpcuaEndpointServer, standard_address_space_shelf

PROFILES = load_library()
EVENING = datetime(2026, 6, 1, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TANK, PANEL = "HT-TNK-001", "HT-FAP-001"
ALL = frozenset(PollClass)
NAMESPACE = "urn:facility:devices"
BASIC256 = SecurityPolicy.BASIC256SHA256
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def demo_assets(numbers: Sequence[str]) -> list[Asset]:
    ht = next(p for p in demo_ledger_paths() if p.stem == "HT")
    by_no = {a.asset_no: a for a in read_ledger_file(ht)}
    return [by_no[n] for n in numbers]


@pytest.fixture
async def estate() -> AsyncIterator[Estate]:
    async with Estate(
        demo_assets([TANK, PANEL]),
        PROFILES,
        seed=5,
        speed=60,
        start=EVENING,
        port_mode="ephemeral",
    ) as running:
        yield running


def wired(estate: Estate, numbers: Sequence[str] = (TANK, PANEL)) -> list[Asset]:
    table = {no: info.to_json() for no, info in estate.endpoints.items()}
    return apply_endpoint_table(demo_assets(numbers), table)


@pytest.fixture
async def estate_devices(estate: Estate) -> AsyncIterator[dict[str, OpcuaDevice]]:
    """The tank and the panel through the registry (each on its own server, as in the ledger)."""
    collectors = build_collectors(wired(estate), PROFILES)
    assert all(isinstance(c, OpcuaCollector) for c in collectors)
    for collector in collectors:
        await collector.connect()
    yield {d.asset.asset_no: d for c in collectors for d in c.devices()}  # type: ignore[misc]
    for collector in collectors:
        await collector.close()


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll ``check`` (a collect: polling is what the product does) until true."""
    try:
        async with asyncio.timeout(within):
            while not await check():  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"{what} within {within} s")


def by_point(collected: Collected) -> dict[str, Any]:
    return {r.point: r for r in collected.readings}


async def stop_like_a_process_exit(server: Server) -> None:
    """Stop an asyncua server as if its process had ended.

    asyncua's stop() keeps the sessions that have subscriptions alive (so that a client could
    transfer them to a new connection) until their timeout; a server process that exits
    takes them along, which is what a restart test must look like.
    """
    await server.stop()
    for session in list(server.iserver._external_sessions.values()):
        await session.close_session()


async def restart_sim_server(server: OpcuaEndpointServer, down_s: float) -> None:
    """Stop the simulator's OPC UA server and start it again on the same port.

    OpcuaEndpointServer.start() keeps the node table and namespace indexes of its first start
    and refuses to build them twice, and its stop() leaves the sessions running; a restarted
    server process would start from nothing, so that is done here (reported to the
    simulator's owner).
    """
    port = server.port
    assert server._server is not None
    await stop_like_a_process_exit(server._server)
    server._server = None
    await asyncio.sleep(down_s)
    server._by_node.clear()
    server._namespaces.clear()
    for device in server._devices.values():
        device.variables.clear()
    await server.start()
    assert server.port == port


# -- the simulated estate ---------------------------------------------------------------------


async def test_every_point_arrives_good_and_in_range_and_the_tank_moves(
    estate_devices: dict[str, OpcuaDevice],
) -> None:
    for asset_no, device in estate_devices.items():
        collected = await device.collect(ALL)
        profile = PROFILES[device.asset.profile or ""]
        readings = by_point(collected)
        assert set(readings) == {p.name for p in profile.points}
        bad = [(r.point, r.quality) for r in collected.readings if r.quality is not Quality.GOOD]
        assert bad == [], asset_no
        for point in profile.points:
            reading = readings[point.name]
            assert reading.value is not None
            if point.range is not None:
                assert point.range[0] <= reading.value <= point.range[1], point.name
            assert reading.source_ts is not None  # the profiles ask for the source time
        assert collected.requests == 0  # subscribed: a poll is served from the cache
        assert collected.rtt_ms > 0
        assert not collected.failed_all

    tank = estate_devices[TANK]
    first = by_point(await tank.collect(frozenset({PollClass.FAST})))["level"]

    async def moved() -> bool:
        level = by_point(await tank.collect(frozenset({PollClass.FAST})))["level"]
        return bool(level.value != first.value and level.source_ts > first.source_ts)

    await until(moved, 15, "the tank level did not change at 60x")
    assert isinstance(tank.owner, OpcuaCollector)
    assert tank.owner.notifications > 0
    assert tank.owner.dropped == 0


async def test_fire_and_protocol_faults_reach_the_points(
    estate: Estate, estate_devices: dict[str, OpcuaDevice]
) -> None:
    panel, tank = estate_devices[PANEL], estate_devices[TANK]
    await estate.inject(PANEL, "fire", True)

    async def fire() -> bool:
        readings = by_point(await panel.collect(ALL))
        zones = [readings[f"zone_{z:02d}"].value for z in range(1, 9)]
        return bool(readings["panel_state"].value == 1 and 1 in zones)

    await until(fire, 5, "panel_state 1 (fire) did not arrive")

    await estate.inject(TANK, "comm_loss", True)

    async def lost() -> bool:
        collected = await tank.collect(ALL)
        return {r.quality for r in collected.readings} == {Quality.BAD_COMM}

    await until(lost, 5, "tank points did not go bad_comm")
    collected = await tank.collect(ALL)
    assert collected.failed_all
    assert collected.error_code == "BadCommunicationError"
    assert all(r.value is None for r in collected.readings)  # never a fake 0
    assert not (await panel.collect(ALL)).failed_all

    await estate.inject(PANEL, "exception", True)

    async def failed() -> bool:
        return {r.quality for r in (await panel.collect(ALL)).readings} == {Quality.BAD_DEVICE}

    await until(failed, 5, "panel points did not go bad_device")
    assert (await panel.collect(ALL)).error_code == "BadDeviceFailure"

    await estate.inject(TANK, "comm_loss", False)
    await estate.inject(PANEL, "exception", False)
    await estate.inject(TANK, "out_of_range", True)

    async def out_of_range() -> bool:
        level = by_point(await tank.collect(ALL))["level"]
        return level.quality is Quality.UNCERTAIN_RANGE

    await until(out_of_range, 5, "an out-of-range level was not uncertain_range")
    level = by_point(await tank.collect(ALL))["level"]
    assert level.value is not None
    assert not 0 <= level.value <= 3.5  # kept, not clamped

    async def panel_back() -> bool:
        return {r.quality for r in (await panel.collect(ALL)).readings} == {Quality.GOOD}

    await until(panel_back, 5, "the panel did not come back after the fault cleared")


def variant_of(profile: DeviceProfile, changes: dict[str, dict[str, Any]], *extra: Any) -> Any:
    """A copy of ``profile`` with point fields changed and extra points added."""
    data = profile.model_dump(mode="json")
    for point in data["points"]:
        change = dict(changes.get(point["name"], {}))
        point["opcua"] = {**point["opcua"], **change.pop("opcua", {})}
        point.update(change)
    data["points"].extend(extra)
    data["id"] = profile.id + "-variant"
    return DeviceProfile.model_validate(data)


def extra_point(name: str, **opcua: str) -> dict[str, Any]:
    return {"name": name, "label": {"en": name, "zh": name}, "unit": "", "opcua": opcua}


async def test_a_missing_node_or_a_wrong_type_is_bad_config_for_that_point_only(
    estate: Estate, caplog: pytest.LogCaptureFixture
) -> None:
    base = PROFILES["water-tank-monitor"]
    profile = variant_of(
        base,
        {
            # the profile says Int32 where the server has Double: a plausible wrong value
            "turbidity": {"opcua": {"data_type": "Int32"}},
            # a node id from an old server build: the browse path still finds it
            "volume_pct": {"opcua": {"node_id": "ns=2;s=OLD.VolumePercent"}},
        },
        extra_point("ghost", browse_path="Ghost", data_type="Double"),
        extra_point("gone", node_id=f"ns=2;s={TANK}.Removed", data_type="Double"),
    )
    (asset,) = wired(estate, [TANK])
    assert isinstance(asset.endpoint, OpcuaEndpoint)
    caplog.set_level(logging.INFO, logger="collectors.opcua")
    async with OpcuaCollector(asset.endpoint.url, [(asset, profile)]) as collector:
        (device,) = collector.devices()
        for _ in range(3):
            collected = await device.collect(ALL)
            await asyncio.sleep(0.2)
    readings = by_point(collected)
    assert not collected.failed_all
    for name in ("ghost", "gone", "turbidity"):
        assert readings[name].quality is Quality.BAD_CONFIG, name
        assert readings[name].value is None, name
    others = {n: r.quality for n, r in readings.items() if n not in ("ghost", "gone", "turbidity")}
    assert set(others.values()) == {Quality.GOOD}, others
    assert readings["volume_pct"].value is not None
    assert collected.error_code is not None
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name, reason in (
        ("ghost", "browse path Objects/HT-TNK-001/Ghost not found"),
        ("gone", "not on the server"),
        ("turbidity", "server sends Double, the profile expects Int32"),
    ):
        lines = [m for m in said if f"point={name} " in m]
        assert len(lines) == 1, (name, said)  # logged once, not once per poll
        assert reason in lines[0]


async def test_a_restarted_simulator_server_is_resubscribed_by_the_same_collector(
    estate: Estate, estate_devices: dict[str, OpcuaDevice]
) -> None:
    panel = estate_devices[PANEL]
    collector = panel.owner
    assert not (await panel.collect(ALL)).failed_all
    server = next(s for s in estate._opcua.values() if s.url == collector.url)
    stopping = asyncio.create_task(restart_sim_server(server, down_s=2.0))

    async def lost() -> bool:
        collected = await panel.collect(ALL)
        return collected.failed_all and collected.error_code == "session_lost"

    await until(lost, 5, "a stopped server did not make the panel's points session_lost")
    assert {r.quality for r in (await panel.collect(ALL)).readings} == {Quality.BAD_COMM}
    await stopping
    before = collector.notifications
    await estate.inject(PANEL, "fire", True)

    async def flowing() -> bool:
        collected = await panel.collect(ALL)
        readings = by_point(collected)
        return not collected.failed_all and readings["panel_state"].value == 1

    await until(flowing, 20, "values did not flow again after the server restart")
    assert collector.reconnects == 1
    assert collector.notifications > before
    assert panel.owner is collector


# -- small asyncua servers for what the simulator does not do ---------------------------------


@dataclass
class Variables:
    """A device folder ``Objects/<root>`` with Double variables ``V01``.. in NAMESPACE."""

    root: str = "TS-TNK-900"
    count: int = 10
    namespaces_before: Sequence[str] = ()
    numeric_ids: bool = False
    nodes: list[Any] = field(default_factory=list)


class Users:
    """asyncua user manager: one username/password."""

    def __init__(self, username: str, password: str) -> None:
        self.credentials = (username, password)

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if (username, password) == self.credentials:
            return User(role=UserRole.User)
        return None


async def start_server(
    port: int,
    variables: Variables,
    *,
    max_nodes_per_read: int | None = None,
    certificate: tuple[Path, Path] | None = None,
    modes: Sequence[ua.SecurityPolicyType] = (ua.SecurityPolicyType.NoSecurity,),
    users: Users | None = None,
) -> Server:
    server = Server(user_manager=users) if users is not None else Server()
    await server.init(shelf_file=await standard_address_space_shelf())
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/test")
    await server.set_application_uri("urn:facility:test-server")
    if certificate is not None:
        await server.load_certificate(str(certificate[0]))
        await server.load_private_key(str(certificate[1]))
    server.set_security_policy(list(modes))
    if users is not None:
        server.set_identity_tokens([ua.UserNameIdentityToken])
    for uri in variables.namespaces_before:
        await server.register_namespace(uri)
    idx = await server.register_namespace(NAMESPACE)
    folder = await server.nodes.objects.add_folder(idx, variables.root)
    variables.nodes = []
    for number in range(1, variables.count + 1):
        node_id = (
            ua.NodeId(ua.Int32(5000 + number), ua.Int16(idx))
            if variables.numeric_ids
            else ua.NodeId(ua.String(f"{variables.root}.V{number:02d}"), ua.Int16(idx))
        )
        node = await folder.add_variable(
            node_id,
            ua.QualifiedName(f"V{number:02d}", idx),
            ua.Variant(float(number), ua.VariantType.Double),
        )
        variables.nodes.append(node)
    if max_nodes_per_read is not None:
        limit = server.get_node(
            ua.NodeId(
                ua.Int32(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)
            )
        )
        await limit.write_value(ua.Variant(max_nodes_per_read, ua.VariantType.UInt32))
    await server.start()
    return server


def bound_port(server: Server) -> int:
    assert server.bserver is not None
    return int(server.bserver.port)


def variables_profile(count: int, *, subscribe: bool = True) -> DeviceProfile:
    return DeviceProfile.model_validate(
        {
            "schema_version": 1,
            "id": "test-variables",
            "device_class": "TNK",
            "vendor": "test",
            "model": "test",
            "label": {"en": "Test", "zh": "测试"},
            "protocol": "opcua",
            "opcua": {"sampling_interval_ms": 100, "subscribe": subscribe},
            "points": [
                {
                    "name": f"v{n:02d}",
                    "label": {"en": f"V{n}", "zh": f"V{n}"},
                    "unit": "",
                    "timestamp": "server",
                    "opcua": {"browse_path": f"V{n:02d}", "data_type": "Double"},
                }
                for n in range(1, count + 1)
            ],
        }
    )


def variables_asset(url: str, root: str = "TS-TNK-900") -> Asset:
    (template,) = demo_assets([TANK])
    return Asset(
        **{
            **{f: getattr(template, f) for f in template.__dataclass_fields__},
            "asset_no": root,
            "site": "TS",
            "profile": "test-variables",
            "endpoint": OpcuaEndpoint(url, root),
        }
    )


async def test_renumbered_namespace_after_restart_is_resolved_again_from_browse_paths() -> None:
    first = Variables()
    server = await start_server(0, first)
    port = bound_port(server)
    url = f"opc.tcp://127.0.0.1:{port}/test"
    profile = variables_profile(first.count)
    try:
        async with OpcuaCollector(
            url, [(variables_asset(url), profile)], backoff_min_s=0.2
        ) as collector:
            (device,) = collector.devices()
            values = {r.point: r.value for r in (await device.collect(ALL)).readings}
            assert values == {f"v{n:02d}": float(n) for n in range(1, 11)}
            await stop_like_a_process_exit(server)
            # the new build registers another namespace first and numbers its nodes
            second = Variables(namespaces_before=["urn:vendor:extra"], numeric_ids=True)
            server = await start_server(port, second)
            assert (await server.get_namespace_index(NAMESPACE)) == 3
            await second.nodes[0].write_value(ua.Variant(42.0, ua.VariantType.Double))

            async def renumbered() -> bool:
                collected = await device.collect(ALL)
                return not collected.failed_all and by_point(collected)["v01"].value == 42.0

            await until(renumbered, 20, "the collector did not re-resolve the renumbered nodes")
            assert {r.quality for r in (await device.collect(ALL)).readings} == {Quality.GOOD}
            assert collector.reconnects == 1
    finally:
        await stop_like_a_process_exit(server)


async def test_polling_reads_in_batches_within_the_servers_operation_limits() -> None:
    variables = Variables(count=10)
    server = await start_server(0, variables, max_nodes_per_read=4)
    url = f"opc.tcp://127.0.0.1:{bound_port(server)}/test"
    try:
        profile = variables_profile(variables.count, subscribe=False)
        async with OpcuaCollector(url, [(variables_asset(url), profile)]) as collector:
            (device,) = collector.devices()
            collected = await device.collect(ALL)
            assert collected.requests == 3  # 10 nodes, at most 4 per Read
            assert {r.quality for r in collected.readings} == {Quality.GOOD}
            assert collected.rtt_ms > 0
            assert all(r.source_ts is not None for r in collected.readings)  # server time
            await variables.nodes[9].write_value(ua.Variant(-7.5, ua.VariantType.Double))
            collected = await device.collect(ALL)
            assert by_point(collected)["v10"].value == -7.5  # read now, not cached
            assert collector.notifications == 0  # no subscription was made
    finally:
        await stop_like_a_process_exit(server)


@pytest.fixture
def server_certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "server" / "cert.der", tmp_path / "server" / "key.pem"
    cert.parent.mkdir()
    asyncio.run(
        cert_gen.setup_self_signed_certificate(
            key,
            cert,
            "urn:facility:test-server",
            socket.gethostname(),
            [ExtendedKeyUsageOID.SERVER_AUTH],
            {},
        )
    )
    return cert, key


async def test_sign_and_encrypt_with_a_login_and_a_trusted_server_certificate(
    tmp_path: Path, server_certificate: tuple[Path, Path]
) -> None:
    variables = Variables(count=3)
    server = await start_server(
        0,
        variables,
        certificate=server_certificate,
        modes=[ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt],
        users=Users("operator", "s3cret"),
    )
    url = f"opc.tcp://127.0.0.1:{bound_port(server)}/test"
    pki = tmp_path / "pki" / "collector"
    security = OpcuaSecurity(BASIC256, SecurityMode.SIGN_AND_ENCRYPT, pki, "operator", "s3cret")
    profile = variables_profile(variables.count)
    try:
        async with OpcuaCollector(
            url, [(variables_asset(url), profile)], security=security, backoff_min_s=0.2
        ) as collector:
            (device,) = collector.devices()
            refused = await device.collect(ALL)
            assert refused.failed_all
            assert refused.error_code == "untrusted_certificate"
            assert str(pki / "trusted") in (refused.error or "")
            (rejected,) = (pki / "rejected").iterdir()
            (pki / "trusted").mkdir(exist_ok=True)
            rejected.rename(pki / "trusted" / rejected.name)  # what the message says to do

            async def trusted() -> bool:
                return not (await device.collect(ALL)).failed_all

            await until(
                trusted, 15, "the collector did not connect once the certificate was trusted"
            )
            values = {r.point: r.value for r in (await device.collect(ALL)).readings}
            assert values == {"v01": 1.0, "v02": 2.0, "v03": 3.0}
        own = (pki / "own" / "cert.der").read_bytes()
        assert (pki / "own" / "key.pem").is_file()

        wrong = OpcuaSecurity(BASIC256, SecurityMode.SIGN_AND_ENCRYPT, pki, "operator", "guess")
        async with OpcuaCollector(
            url, [(variables_asset(url), profile)], security=wrong
        ) as collector:
            (device,) = collector.devices()
            denied = await device.collect(ALL)
            assert denied.failed_all
            assert denied.error_code == "auth_failed"
        assert (pki / "own" / "cert.der").read_bytes() == own  # the certificate persists
    finally:
        await stop_like_a_process_exit(server)


async def test_sign_only_with_trust_on_first_use(
    tmp_path: Path, server_certificate: tuple[Path, Path]
) -> None:
    variables = Variables(count=2)
    server = await start_server(
        0,
        variables,
        certificate=server_certificate,
        modes=[ua.SecurityPolicyType.Basic256Sha256_Sign],
    )
    url = f"opc.tcp://127.0.0.1:{bound_port(server)}/test"
    pki = tmp_path / "pki"
    security = OpcuaSecurity(BASIC256, SecurityMode.SIGN, pki, trust_on_first_use=True)
    try:
        async with OpcuaCollector(
            url, [(variables_asset(url), variables_profile(2))], security=security
        ) as collector:
            (device,) = collector.devices()
            collected = await device.collect(ALL)
            assert {r.quality for r in collected.readings} == {Quality.GOOD}
        assert len(list((pki / "trusted").iterdir())) == 1
        none = OpcuaSecurity(pki_dir=pki)
        async with OpcuaCollector(
            url, [(variables_asset(url), variables_profile(2))], security=none
        ) as collector:
            (device,) = collector.devices()
            collected = await device.collect(ALL)
            assert collected.failed_all
            assert collected.error_code == "no_endpoint"  # the server offers no unsecured one
    finally:
        await stop_like_a_process_exit(server)


SILENT_SERVER = """
import asyncio, sys
from asyncua import Server, ua
from simulators.opcua_server import standard_address_space_shelf

async def main():
    server = Server()
    await server.init(shelf_file=await standard_address_space_shelf())
    server.set_endpoint("opc.tcp://127.0.0.1:0/test")
    idx = await server.register_namespace(sys.argv[1])
    folder = await server.nodes.objects.add_folder(idx, "TS-TNK-900")
    for n in (1, 2):
        node_id = ua.NodeId(f"TS-TNK-900.V{n:02d}", idx)
        await folder.add_variable(node_id, ua.QualifiedName(f"V{n:02d}", idx), float(n))
    await server.start()
    print(server.bserver.port, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_server_that_goes_silent_is_dropped_and_reconnected() -> None:
    """A hung server keeps its TCP connection open but sends no keep-alives: after three
    keep-alive periods the session counts as dead (SIGSTOP / SIGCONT of a server process)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SILENT_SERVER,
        NAMESPACE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=PROJECT_ROOT,
    )
    try:
        assert process.stdout is not None
        port = int(await asyncio.wait_for(process.stdout.readline(), 30))
        url = f"opc.tcp://127.0.0.1:{port}/test"
        async with OpcuaCollector(url, [(variables_asset(url), variables_profile(2))]) as collector:
            (device,) = collector.devices()
            assert not (await device.collect(ALL)).failed_all
            process.send_signal(signal.SIGSTOP)

            async def silent() -> bool:
                collected = await device.collect(ALL)
                return collected.failed_all and "no notification or keep-alive" in (
                    collected.error or ""
                )

            await until(silent, 10, "a silent server was not noticed")
            process.send_signal(signal.SIGCONT)

            async def back() -> bool:
                return not (await device.collect(ALL)).failed_all

            await until(back, 15, "the collector did not reconnect to the resumed server")
            assert collector.reconnects == 1
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        await process.wait()
