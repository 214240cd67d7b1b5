"""The alarm journal and current states in a real SQLite database, and the ``facility alarms``
commands: list, journal, export, kpi, check — and ack/shelve through a running engine on a
real mosquitto (or a clear error when none is running)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from device_profiles import load_library
from devtools.services import MosquittoServer
from facility.cli import cli, main
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage, device_topic, encode
from facility.types import Quality, Reading
from gateway.alarms.core import AlarmCore, Command
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.service import AlarmService
from gateway.alarms.state import AlarmState
from gateway.alarms.store import AlarmStore, CurrentAlarm
from maintenance.db import make_engine
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from tests.support import SignIn, wait_until

PROFILES = load_library()
ASSETS = [a for p in demo_ledger_paths() for a in read_ledger_file(p) if p.stem == "HT"]
POOL = [a for a in ASSETS if a.asset_no == "HT-PDP-001"]
DRY = "HT-PDP-001/dry_run"


@pytest.fixture
def url(sql_url: str) -> str:
    return sql_url


@pytest.fixture
def store(url: str) -> Iterator[AlarmStore]:
    with AlarmStore(url) as alarms:
        yield alarms


def pool_message(at: datetime, dry_run: bool) -> DeviceMessage:
    values = {"dry_run_trip": dry_run, "door_open": False, "flood": False, "pool_level": 150.0}
    readings = tuple(
        Reading("HT", "HT-PDP-001", p, v, "", Quality.GOOD, None, at) for p, v in values.items()
    )
    return DeviceMessage("HT", "HT-PDP-001", "PDP", 1, at, readings, {"comm_ok": True})


def run_core(store: AlarmStore, start: datetime) -> AlarmCore:
    """Raise, ack and clear the dry-run alarm through a core, saving like the engine does."""
    core = AlarmCore(compile_alarms(POOL, PROFILES))

    def save(records: list[AlarmRecord]) -> None:
        ids = {r.alarm_id for r in records if r.to_state is not None}
        currents = [
            CurrentAlarm(
                i, "HT", "HT-PDP-001", i.split("/")[1], core.spec(i).priority.value, core.status(i)
            )
            for i in sorted(ids)
        ]
        store.write(records, currents)

    save(core.on_message(pool_message(start, True), start))
    save(core.command(Command("ack", DRY, "li.na", "seen"), start + timedelta(seconds=30))[1])
    save(
        core.on_message(
            pool_message(start + timedelta(minutes=2), False), start + timedelta(minutes=2)
        )
    )
    return core


def test_journal_and_current_state_round_trip(store: AlarmStore) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    core = run_core(store, start)
    entries = store.journal(alarm_id=DRY)
    assert [r.kind.value for r in entries] == ["raise", "ack", "clear"]
    assert [r.id for r in entries] == sorted(r.id for r in entries if r.id is not None)
    assert entries[0].at == start
    assert entries[1].user == "li.na"
    assert store.load_statuses()[DRY] == core.status(DRY)
    (latched,) = store.current(states=["latched"])
    assert latched.alarm_id == DRY
    assert store.active_alarms() == []
    assert store.journal(site="JU") == []
    assert [r.kind.value for r in store.journal(events=["ack"])] == ["ack"]
    assert (
        store.journal(since=start + timedelta(seconds=10), until=start + timedelta(minutes=1))[
            0
        ].kind.value
        == "ack"
    )


def test_the_journal_is_append_only(store: AlarmStore, url: str) -> None:
    run_core(store, datetime.now(UTC))
    # straight SQL, past the store: the database itself refuses (SQLite and PostgreSQL)
    engine = make_engine(url)
    try:
        for statement in (
            "UPDATE alarm_journal SET comment = 'rewritten'",
            "DELETE FROM alarm_journal",
        ):
            with engine.begin() as connection, pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
    finally:
        engine.dispose()


Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, url: str) -> Run:
    config = tmp_path / "facility.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[alarms]\ndefinitions_file = "{tmp_path / "alarms.yaml"}"\n',
        encoding="utf-8",
    )
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--config", str(config), "alarms", *args])

    return invoke


def test_cli_list_journal_export_kpi(store: AlarmStore, run: Run, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    run_core(store, start)
    listed = run("list")
    assert listed.exit_code == 0, listed.output
    assert "HT-PDP-001/dry_run" in listed.stdout
    assert "latched" in listed.stdout
    assert "no alarms" in run("list", "--state", "unack").stdout
    as_json = [json.loads(line) for line in run("list", "--json").stdout.splitlines()]
    assert [(r["alarm_id"], r["state"], r["ack"]["user"]) for r in as_json] == [
        (DRY, "latched", "li.na")
    ]

    history = run("journal", DRY)
    assert history.exit_code == 0
    assert [line.split()[2] for line in history.stdout.splitlines()] == ["raise", "ack", "clear"]

    out = tmp_path / "journal.csv"
    exported = run("export", "--site", "HT", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["event"], r["user"]) for r in rows] == [
        ("raise", ""),
        ("ack", "li.na"),
        ("clear", ""),
    ]
    assert json.loads(rows[0]["detail"])["check"] == "state"

    kpi = run("kpi", "--site", "HT", "--since", "1d")
    assert kpi.exit_code == 0, kpi.output
    assert "alarms raised: 1" in kpi.stdout
    assert "HT-PDP-001/dry_run" in kpi.stdout
    report = json.loads(run("kpi", "--since", "1d", "--json").stdout)
    assert report["alarms"] == 1
    assert report["acknowledged"] == 1
    assert report["ack_median_s"] == 30.0


def test_cli_check_reports_bad_definitions_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = next(p for p in demo_ledger_paths() if p.stem == "HT")
    alarms = tmp_path / "alarms.yaml"
    alarms.write_text(
        "overrides:\n  - assets: [HT-PMP-001]\n    alarm: pressure_low\n    on_delay_s: -1\n",
        encoding="utf-8",
    )
    config = tmp_path / "facility.toml"
    config.write_text(f'[alarms]\ndefinitions_file = "{alarms}"\n', encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), "alarms", "check", "--ledger", str(ledger)])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"error: {alarms}:4: overrides[0].on_delay_s: expected a number >= 0, got -1\n"
    )
    alarms.write_text("overrides: []\n", encoding="utf-8")
    main(["--config", str(config), "alarms", "check", "--ledger", str(ledger)])
    assert re.fullmatch(
        rf"\d+ alarms on \d+ assets \(HT\) from {re.escape(str(alarms))}; 0 notification rules\n",
        capsys.readouterr().out,
    )


async def test_cli_ack_and_shelve_through_the_running_engine(
    mosquitto: MosquittoServer,
    store: AlarmStore,
    run: Run,
    tmp_path: Path,
    url: str,
    signed_in_as: SignIn,
) -> None:
    signed_in_as(url, "li.na", ["operator"], ["HT"])
    broker = BrokerSettings.from_url(mosquitto.url)
    config = tmp_path / "facility.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'[mqtt]\nurl = "{mosquitto.url}"\n', encoding="utf-8"
    )
    service = AlarmService(compile_alarms(POOL, PROFILES), broker, store, service_id="test-cli")
    ready = asyncio.Event()
    engine_task = asyncio.create_task(service.run(ready))
    publisher = MqttLink(broker, "test-cli-publisher")
    publisher_task = asyncio.create_task(publisher.run())
    try:
        await asyncio.wait_for(ready.wait(), 20)
        await wait_until(publisher.connected.is_set, 10)
        now = datetime.now(UTC)
        assert service.engine is not None
        engine = service.engine
        # "ready" is not the broker's SUBACK: on a loaded machine the first message could
        # overtake the engine's subscription and reach nobody. The same poll again is
        # harmless (the engine takes a poll once), so send it until the alarm stands.
        for _ in range(10):
            await publisher.publish(
                device_topic("HT", "HT-PDP-001"), encode(pool_message(now, True))
            )
            with contextlib.suppress(TimeoutError):
                await wait_until(lambda: engine.status(DRY).state is AlarmState.UNACK, 2)
                break
        assert engine.status(DRY).state is AlarmState.UNACK

        acked = await asyncio.to_thread(run, "ack", DRY, "--comment", "seen")
        assert acked.exit_code == 0, acked.output
        assert acked.stdout.strip() == f"{DRY}: acked"
        again = await asyncio.to_thread(run, "ack", DRY, "--timeout", "5")
        assert isinstance(again.exception, Exception)
        assert "already acknowledged by li.na" in str(again.exception)
        unknown = await asyncio.to_thread(run, "ack", "HT-PDP-001/dry_rn")
        assert "unknown alarm 'HT-PDP-001/dry_rn'; did you mean HT-PDP-001/dry_run?" in str(
            unknown.exception
        )
        shelved = await asyncio.to_thread(
            run, "shelve", DRY, "--comment", "pump out", "--for", "2h"
        )
        assert shelved.exit_code == 0, shelved.output
        assert shelved.stdout.startswith(f"{DRY}: shelved until ")
        too_long = await asyncio.to_thread(run, "shelve", DRY, "--comment", "x", "--for", "9h")
        assert "exceeds the maximum of 8 h" in str(too_long.exception)
        oos = await asyncio.to_thread(run, "out-of-service", DRY, "--comment", "x")
        assert "li.na (roles: operator) may not alarm.service" in str(oos.exception)
    finally:
        for task in (engine_task, publisher_task):
            task.cancel()
        await asyncio.gather(engine_task, publisher_task, return_exceptions=True)
    kinds = [r.kind.value for r in store.journal(alarm_id=DRY)]
    assert kinds == ["raise", "ack", "shelve"]


async def test_cli_ack_with_no_engine_running_is_a_clear_error(
    mosquitto: MosquittoServer,
    tmp_path: Path,
    url: str,
    signed_in_as: SignIn,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "facility.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[mqtt]\nurl = "{mosquitto.url}"\n', encoding="utf-8"
    )
    signed_in_as(url, "li.na", ["operator"], ["HT"])

    def ack() -> int:
        try:
            main(["--config", str(config), "alarms", "ack", DRY, "--timeout", "1"])
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    assert await asyncio.to_thread(ack) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: no alarm engine answered on facility/v1/ctl/alarm-commands/HT within 1 s; is the "
        "gateway or `facility alarms run` running for site HT?\n"
    )
