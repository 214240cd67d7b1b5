"""Devices no one here wrote, played by the simulator: limits learned at runtime against real
Modbus TCP (exception 3 above N registers, exception 2 across unmapped registers), remembered
across restarts and shown by ``facility collect plan``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from collectors.endpoints import apply_endpoint_table
from collectors.modbus.collector import ModbusCollector, ModbusDevice
from collectors.modbus.framing import ModbusProtocolError
from collectors.modbus.limits import DeviceLimitStore
from collectors.modbus.planner import Gap
from device_profiles import load_library
from device_profiles.models import PollClass, Table
from facility.cli import cli
from facility.types import Asset, Quality
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from simulators.control import ControlServer
from simulators.estate import Estate
from tests.integration.test_sim_modbus import call

PROFILES = load_library()
EVENING = datetime(2026, 6, 1, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PUMP = "HT-PMP-001"
ALL = frozenset(PollClass)
FAST = frozenset({PollClass.FAST})


def ht_ledger() -> Path:
    return next(p for p in demo_ledger_paths() if p.stem == "HT")


def demo_assets(numbers: list[str]) -> list[Asset]:
    by_no = {a.asset_no: a for a in read_ledger_file(ht_ledger())}
    return [by_no[n] for n in numbers]


@pytest.fixture
async def estate() -> AsyncIterator[Estate]:
    async with Estate(
        demo_assets([PUMP]), PROFILES, seed=5, speed=60, start=EVENING, port_mode="ephemeral"
    ) as running:
        yield running


def pump(estate: Estate, store: DeviceLimitStore | None = None) -> ModbusCollector:
    table = {no: info.to_json() for no, info in estate.endpoints.items()}
    (asset,) = apply_endpoint_table(demo_assets([PUMP]), table)
    assert asset.profile is not None
    endpoint = asset.endpoint
    return ModbusCollector(
        endpoint.host,  # type: ignore[union-attr]
        endpoint.port,  # type: ignore[union-attr]
        [(asset, PROFILES[asset.profile])],
        store=store,
    )


def qualities(readings: object) -> dict[str, Quality]:
    return {r.point: r.quality for r in readings}  # type: ignore[attr-defined]


def learned_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "device limit learned" in r.getMessage()]


async def test_exception_3_above_n_registers_is_learned_and_remembered(
    estate: Estate, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the pump's slow poll reads blocks of 11, 14 and 16 registers; the device takes 8
    await estate.inject(PUMP, "request_limit", True, value=8)
    path = tmp_path / "collector" / "device_limits.json"
    collector = pump(estate, DeviceLimitStore(path))
    (device,) = collector.devices()
    assert isinstance(device, ModbusDevice)
    with caplog.at_level(logging.INFO, logger="collectors"):
        first = await device.collect(ALL)
        # every point of the slow poll got its value in that same poll
        assert set(qualities(first.readings).values()) == {Quality.GOOD}, (
            first.error,
            qualities(first.readings),
        )
        assert all(r.count <= 8 for r in device.plan(ALL))
        lines = learned_lines(caplog)
        assert lines
        assert PUMP in lines[0]
        assert "exception 3" in lines[0]
        assert "at most" in lines[-1]
        assert "registers per request" in lines[-1]
        # said once: the next polls neither fail nor log again
        for classes in (FAST, ALL, ALL):
            again = await device.collect(classes)
            assert again.error_code is None
            assert set(qualities(again.readings).values()) == {Quality.GOOD}
        assert learned_lines(caplog) == lines
    await collector.close()

    # a restarted collector starts from what was learned: no refused request at all
    restarted = pump(estate, DeviceLimitStore(path))
    (device,) = restarted.devices()
    assert isinstance(device, ModbusDevice)
    assert device.learned.max_registers is not None
    assert device.learned.max_registers <= 8
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="collectors"):
        collected = await device.collect(ALL)
    assert collected.error_code is None
    assert learned_lines(caplog) == []
    await restarted.close()

    # facility collect plan shows it
    config = tmp_path / "facility.toml"
    config.write_text(f'[paths]\nvar_dir = "{tmp_path}"\n')
    result = CliRunner().invoke(
        cli, ["--config", str(config), "collect", "plan", PUMP, "--ledger", str(ht_ledger())]
    )
    assert result.exit_code == 0, result.output
    assert f"learned limits: at most {device.learned.max_registers} registers" in result.output
    counts = [
        int(line.split("count")[1].split()[0])
        for line in result.output.splitlines()[2:]
        if " count " in line
    ]
    assert counts
    assert max(counts) <= 8


async def test_exception_2_across_a_gap_stops_bridging_it(
    estate: Estate, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the shipped pump profile bridges gaps (max_gap 8); this device refuses unmapped registers
    await estate.inject(PUMP, "strict_gaps", True)
    path = tmp_path / "device_limits.json"
    collector = pump(estate, DeviceLimitStore(path))
    (device,) = collector.devices()
    assert isinstance(device, ModbusDevice)
    with caplog.at_level(logging.INFO, logger="collectors"):
        first = await device.collect(ALL)
        assert set(qualities(first.readings).values()) == {Quality.GOOD}
        lines = learned_lines(caplog)
        assert lines
        assert all("exception 2" in line for line in lines)
        for _ in range(2):
            again = await device.collect(ALL)
            assert again.error_code is None
            assert set(qualities(again.readings).values()) == {Quality.GOOD}
        assert learned_lines(caplog) == lines  # logged once
    assert device.learned.gaps
    assert all(isinstance(g, Gap) for g in device.learned.gaps)
    # only gaps were split: the contiguous fast block is still one request
    assert DeviceLimitStore(path).get(PUMP, device.profile.id) == device.learned
    await collector.close()


async def test_strict_gaps_profile_never_bridges(estate: Estate) -> None:
    await estate.inject(PUMP, "strict_gaps", True)
    collector = pump(estate)
    (device,) = collector.devices()
    assert isinstance(device, ModbusDevice)
    assert device.limits.max_gap == 8
    device.limits = device.limits.model_copy(update={"strict_gaps": True})
    collected = await device.collect(ALL)
    assert collected.error_code is None
    assert set(qualities(collected.readings).values()) == {Quality.GOOD}
    assert device.learned.empty  # nothing to learn: the profile said it
    await collector.close()


async def test_switches_answer_like_the_devices(estate: Estate) -> None:
    """Without learning (one block at a time, as a plain client would)."""
    await estate.inject(PUMP, "request_limit", True, value=8)
    await estate.inject(PUMP, "strict_gaps", True)
    collector = pump(estate)
    connection = collector.connection
    unit = estate.endpoints[PUMP].unit_id
    assert unit is not None
    with pytest.raises(ModbusProtocolError, match="exception 3"):
        await connection.read(unit, Table.HOLDING, 0, 11)
    with pytest.raises(ModbusProtocolError, match="exception 2"):
        await connection.read(unit, Table.HOLDING, 6, 5)  # 7..9 are unmapped
    assert len(await connection.read(unit, Table.HOLDING, 0, 7)) == 7
    await estate.inject(PUMP, "strict_gaps", False)
    assert (await connection.read(unit, Table.HOLDING, 6, 5))[1:4] == [0, 0, 0]  # gaps read 0
    await estate.inject(PUMP, "request_limit", False)
    assert len(await connection.read(unit, Table.HOLDING, 0, 11)) == 11
    await collector.close()


async def test_control_api_sets_the_request_limit(estate: Estate) -> None:
    collector = pump(estate)
    unit = estate.endpoints[PUMP].unit_id
    assert unit is not None
    async with ControlServer(estate) as control:
        body = {"asset_no": PUMP, "kind": "request_limit", "value": 4}
        status, answer = await call("POST", f"{control.url}/faults", body)
        assert status == 201, answer
        assert answer["fault"]["value"] == 4
        with pytest.raises(ModbusProtocolError, match="exception 3"):
            await collector.connection.read(unit, Table.HOLDING, 0, 5)
        assert len(await collector.connection.read(unit, Table.HOLDING, 0, 4)) == 4
        for bad in ({"kind": "comm_loss", "value": 4}, {"kind": "request_limit", "value": 0}):
            status, answer = await call("POST", f"{control.url}/faults", {"asset_no": PUMP, **bad})
            assert status == 400, answer
            assert answer["field"] == "value"
    await collector.close()
