"""Secrets hygiene against the real servers: passwords stay out of logs, files stay private,
exports stay inert, /metrics can ask for a token (issue 11, "Secrets hygiene")."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from devtools.services import InfluxServer, MosquittoServer

CLI = [sys.executable, "-c", "from facility.cli import main; main()"]
START_WAIT_S = 60
MQTT_PASSWORD = "Mqtt-pw-7f3e"  # fake: only the test broker sees it (it ignores it)
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
    broker = mosquitto.url.replace("mqtt://", f"mqtt://gateway:{MQTT_PASSWORD}@")
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
    assert f"gateway:***@127.0.0.1:{mosquitto.port}" in said  # the banner still says where
    assert f"admin:***@127.0.0.1:{influxd.port}" in said
    assert MQTT_PASSWORD not in said
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
