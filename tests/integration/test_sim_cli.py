"""``facility sim run / fault / status`` as a user runs them: real processes, real ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from facility.cli.common import parse_duration
from facility.types import (
    ModbusEndpoint,
    OpcuaEndpoint,
)
from maintenance.ledger_files import write_ledger_file
from tests.support import make_asset

CLI = [sys.executable, "-c", "from facility.cli import main; main()"]
START_WAIT_S = 60


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("90", 90), ("1.5h", 5400), ("250ms", 0.25)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "x", "5 minutes", "-3s", "0s", "5m banana"])
def test_bad_durations_say_what_was_expected(text: str) -> None:
    with pytest.raises(click.BadParameter, match="expected a duration such as 30s"):
        parse_duration(text)


def environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FACILITY_PATHS__VAR_DIR"] = str(tmp_path / "var")
    env.pop("FACILITY_CONFIG", None)
    return env


def facility(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.csv"
    write_ledger_file(
        [
            make_asset("TS-PMP-001", "vfd-booster-pump", ModbusEndpoint("127.0.0.1", 1502, 1)),
            make_asset("TS-PMP-002", "vfd-booster-pump", ModbusEndpoint("127.0.0.1", 1502, 2)),
            make_asset(
                "TS-TNK-001",
                "water-tank-monitor",
                OpcuaEndpoint("opc.tcp://127.0.0.1:4841/facility", "TS-TNK-001"),
            ),
        ],
        path,
    )
    return path


@pytest.fixture
def simulator(tmp_path: Path, ledger: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [*CLI, "sim", "run", "--ephemeral-ports", "--ledger", str(ledger), "--speed", "60"],
        cwd=tmp_path,
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    table = tmp_path / "var" / "sim" / "endpoints.json"
    deadline = time.monotonic() + START_WAIT_S
    while not table.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert table.exists(), f"simulator did not start: {process.communicate(timeout=5)}"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_run_fault_status_and_clean_shutdown(
    tmp_path: Path, simulator: subprocess.Popen[str]
) -> None:
    table = json.loads((tmp_path / "var" / "sim" / "endpoints.json").read_text())
    assert table["control_url"].startswith("http://127.0.0.1:")
    rows = {row["asset_no"]: row for row in table["endpoints"]}
    assert rows["TS-PMP-002"]["unit_id"] == 2
    assert rows["TS-PMP-001"]["port"] == rows["TS-PMP-002"]["port"] != 1502  # one gateway
    assert rows["TS-TNK-001"]["url"].startswith("opc.tcp://127.0.0.1:")
    # really listening: the connect raises if not
    socket.create_connection(("127.0.0.1", rows["TS-PMP-001"]["port"]), timeout=5).close()

    status = facility(tmp_path, "sim", "status")
    assert status.returncode == 0, status.stderr
    assert "3 devices" in status.stdout
    assert "no active faults" in status.stdout

    injected = facility(tmp_path, "sim", "fault", "ts-pmp-002", "comm-loss", "--for", "5m")
    assert injected.returncode == 0, injected.stderr
    assert "TS-PMP-002: comm_loss injected until" in injected.stdout
    listing = facility(tmp_path, "sim", "status", "--json")
    faults = json.loads(listing.stdout)["faults"]
    assert [(f["asset_no"], f["kind"]) for f in faults] == [("TS-PMP-002", "comm_loss")]
    assert faults[0]["expires"] is not None

    wrong_kind = facility(tmp_path, "sim", "fault", "TS-PMP-002", "fire")
    assert wrong_kind.returncode != 0
    assert "fire" in wrong_kind.stderr
    assert "expected one of: comm_loss, slow, exception, out_of_range" in wrong_kind.stderr
    assert "Traceback" not in wrong_kind.stderr

    wrong_asset = facility(tmp_path, "sim", "fault", "TS-PMP-02", "slow")
    assert wrong_asset.returncode != 0
    assert "did you mean" in wrong_asset.stderr
    assert "TS-PMP-002" in wrong_asset.stderr

    bad_duration = facility(tmp_path, "sim", "fault", "TS-PMP-001", "slow", "--for", "soon")
    assert bad_duration.returncode != 0
    assert "expected a duration such as 30s" in bad_duration.stderr

    cleared = facility(tmp_path, "sim", "fault", "TS-PMP-002", "comm_loss", "--clear")
    assert cleared.returncode == 0, cleared.stderr
    assert "cleared" in cleared.stdout
    again = facility(tmp_path, "sim", "fault", "TS-PMP-002", "comm_loss", "--clear")
    assert "no active comm_loss fault" in again.stdout

    simulator.send_signal(signal.SIGTERM)
    out, err = simulator.communicate(timeout=30)
    assert simulator.returncode == 0, err
    assert "TS   PMP  modbus://127.0.0.1:" in out
    assert "unit 1-2" in out
    assert not (tmp_path / "var" / "sim" / "endpoints.json").exists()

    stopped = facility(tmp_path, "sim", "status")
    assert stopped.returncode != 0
    assert "the simulator is not running" in stopped.stderr
    assert "facility sim run" in stopped.stderr


def test_a_taken_ledger_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "ledger.csv"
        write_ledger_file(
            [make_asset("TS-PMP-001", "vfd-booster-pump", ModbusEndpoint("127.0.0.1", port, 1))],
            path,
        )
        result = facility(tmp_path, "sim", "run", "--ledger", str(path))
    assert result.returncode != 0
    assert f"127.0.0.1:{port}: cannot listen" in result.stderr
    assert "--ephemeral-ports" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_site_lists_the_known_ones(tmp_path: Path, ledger: Path) -> None:
    result = facility(tmp_path, "sim", "run", "--ledger", str(ledger), "--site", "XX")
    assert result.returncode != 0
    assert "--site XX" in result.stderr
    assert "expected one of: TS" in result.stderr
