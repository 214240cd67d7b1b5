"""The daily check sheet (日检) of an estate, and its results entered back (issue 14).

Seeded: the HY ledger; PM orders from the real generator through Nov 26 2026 (fire panels'
daily checks stack up, statutory); alarms through the alarm store (a flood standing since
Nov 20, a pool dry-run and a pump trip yesterday, a comm-loss); device health and counters
written to a real influxd. The PDF's text is checked against lists computed here with plain
SQL and from what the test wrote. Then the sources fail (InfluxDB not listening): the sheet
says "source unavailable", never an empty list. Then the walk-round's results are entered
with ``facility report check-in`` and show in the asset's history.
"""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdf
import pytest

from device_profiles import load_library
from facility.errors import ConfigError
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import EventKind
from gateway.alarms.store import AlarmStore
from gateway.history import History
from gateway.influx import InfluxClient
from gateway.report_sources import InfluxMeterHistory, StoreAlarmHistory
from gateway.retention import RetentionPlan, setup
from maintenance.db import Database
from maintenance.generator import Generator
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.reports.daily import build_daily
from maintenance.reports.daily_pdf import render_daily_pdf
from maintenance.reports.sources import ReportSources
from maintenance.reports.statutory import statutory_item
from maintenance.store import LedgerStore
from maintenance.timeline import EntryKind, asset_timeline
from tests.support import SignIn
from tests.support import run_cli as cli

SH = ZoneInfo("Asia/Shanghai")
DAY = "2026-11-26"
START = datetime(2026, 11, 26, tzinfo=SH)
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=SH)


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _seed_alarms(url: str) -> None:
    records: list[AlarmRecord] = []

    def add(at: datetime, alarm_id: str, kind: EventKind, prio: str = "high") -> None:
        asset, alarm = alarm_id.split(":")
        records.append(AlarmRecord(at.astimezone(UTC), alarm_id, "HY", asset, alarm, kind,
                                   priority=prio))  # fmt: skip

    add(datetime(2026, 11, 20, 3, tzinfo=SH), "HY-PDP-001:flood", EventKind.RAISE, "critical")
    add(datetime(2026, 11, 20, 4, tzinfo=SH), "HY-PDP-001:flood", EventKind.ACK)
    add(datetime(2026, 11, 25, 14, 5, tzinfo=SH), "HY-PDP-001:dry_run", EventKind.RAISE)
    add(datetime(2026, 11, 25, 14, 9, tzinfo=SH), "HY-PDP-001:dry_run", EventKind.CLEAR)
    add(datetime(2026, 11, 25, 22, 30, tzinfo=SH), "HY-PMP-002:drive_fault", EventKind.RAISE)
    add(datetime(2026, 11, 25, 23, 0, tzinfo=SH), "HY-PMP-002:drive_fault", EventKind.CLEAR)
    # not yesterday's, not an event of the sheet
    add(datetime(2026, 11, 24, 9, tzinfo=SH), "HY-PMP-001:drive_fault", EventKind.RAISE)
    add(datetime(2026, 11, 24, 9, 30, tzinfo=SH), "HY-PMP-001:drive_fault", EventKind.CLEAR)
    add(datetime(2026, 11, 25, 10, tzinfo=SH), "HY-TNK-001:level_low", EventKind.RAISE, "low")
    add(datetime(2026, 11, 25, 11, tzinfo=SH), "HY-TNK-001:level_low", EventKind.CLEAR, "low")
    add(datetime(2026, 11, 26, 2, tzinfo=SH), "HY-LGT-002:comm_loss", EventKind.RAISE)
    records.sort(key=lambda r: r.at)
    with AlarmStore(url) as alarms:
        alarms.write(records)


def _seed_influx(client: InfluxClient) -> dict[tuple[str, str], float]:
    """Device health (HY-PMP-001 fresh, HY-PMP-002 silent since 02:00, HY-LGT-001 reporting
    comm lost) and two counters; returns each counter's last value before NOW."""
    lines = []
    last: dict[tuple[str, str], float] = {}
    for minute in range(0, 6 * 60, 5):
        at = START + timedelta(minutes=minute)
        ms = int(at.timestamp() * 1000)
        lines.append(f"device_health,asset_no=HY-PMP-001,site=HY seq={minute}i,comm_ok=true {ms}")
        if minute <= 120:
            lines.append(
                f"device_health,asset_no=HY-PMP-002,site=HY seq={minute}i,comm_ok=true {ms}"
            )
        lines.append(f"device_health,asset_no=HY-LGT-001,site=HY seq={minute}i,comm_ok=false {ms}")
        for asset, measurement, point, value in (
            ("HY-PMP-001", "pmp", "run_hours", 1200.0 + minute / 60),
            ("HY-TNK-001", "tnk", "inflow_total", 5000.0 + minute * 0.3),
        ):
            lines.append(f"{measurement},asset_no={asset},site=HY {point}={value} {ms}")
            last[(asset, point)] = value
    client.write(("\n".join(lines) + "\n").encode())
    return last


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[str, Path]:
    db_file = tmp_path / "facility.db"
    url = f"sqlite:///{db_file}"
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        ledger.import_file(next(p for p in demo_ledger_paths() if p.stem == "HY"), user="test")
    with Generator(url, profiles=load_library(), worker="test") as gen:
        day = datetime(2026, 11, 10, 8, tzinfo=SH)
        while day <= datetime(2026, 11, 26, 5, tzinfo=SH):
            gen.run_pass(day)
            day += timedelta(days=2)
    _seed_alarms(url)
    return url, db_file


def _sources(url: str, influx_url: str, database: str) -> ReportSources:
    client = InfluxClient(influx_url, database, timeout=5)
    alarms = AlarmStore(url, migrate=False)
    return ReportSources(
        StoreAlarmHistory(alarms), InfluxMeterHistory(History(client, RetentionPlan())),
        [alarms.close, client.close],
    )  # fmt: skip


def _expected_orders(db_file: Path) -> tuple[list[str], list[str], list[str]]:
    """PM due today or overdue; statutory items due within 14 days; of them, the overdue."""
    sql = sqlite3.connect(db_file)
    end = (START + timedelta(days=1)).astimezone(UTC)
    ahead = end + timedelta(days=14)
    pm, statutory, overdue = [], [], []
    now = NOW.astimezone(UTC)
    for number, asset, plan, due in sql.execute(
        "SELECT w.number, w.asset_no, p.name, w.due_at FROM work_orders w "
        "JOIN pm_plans p ON p.id = w.plan_id WHERE w.site = 'HY' AND w.kind = 'preventive' "
        "AND w.completed_at IS NULL AND w.cancelled_at IS NULL"
    ):
        due_at = datetime.fromisoformat(due).replace(tzinfo=UTC)
        if statutory_item(asset, plan):
            if due_at < ahead:
                statutory.append(number)
        elif due_at < end:
            pm.append(number)
        if due_at < now:
            overdue.append(number)
    sql.close()
    return pm, statutory, overdue


def test_hy_daily_sheet_lists_what_to_look_at(
    seeded: tuple[str, Path], influxd: object, influx_db: str
) -> None:
    url, db_file = seeded
    client = InfluxClient(influxd.url, influx_db)  # type: ignore[attr-defined]
    setup(client, RetentionPlan())
    counters = _seed_influx(client)
    client.close()
    sources = _sources(url, influxd.url, influx_db)  # type: ignore[attr-defined]
    db = Database.open(url, migrate=False)
    try:
        sheet = build_daily(db, sources, "HY", DAY, now=NOW)
    finally:
        sources.close()
    pm, statutory, overdue = _expected_orders(db_file)
    assert pm, "the seed gives PM orders due"
    assert statutory, "the seed gives statutory orders due"
    assert sorted(i.number for i in sheet.pm) == sorted(pm)
    assert sorted(i.number for i in sheet.statutory) == sorted(statutory)
    assert {i.number for i in (*sheet.pm, *sheet.statutory) if i.overdue} == set(overdue) & {
        *pm,
        *statutory,
    }
    assert [a.alarm_id for a in sheet.standing.items] == [
        "HY-LGT-002:comm_loss",
        "HY-PDP-001:flood",
    ]
    assert sheet.standing.items[1].state == "acked"
    assert [(k, e.alarm_id) for k, e in sheet.events.items] == [
        ("dry_run", "HY-PDP-001:dry_run"),
        ("trip", "HY-PMP-002:drive_fault"),
    ]
    devices = {d.asset_no: d.reason for d in sheet.devices.items}
    assert devices["HY-PMP-002"] == "stale"
    assert devices["HY-LGT-001"] == "comm"
    assert devices["HY-LGT-002"] == "comm"  # its comm_loss alarm stands, though not seen
    assert "HY-PMP-001" not in devices
    assert {(m.asset_no, m.point): m.value for m in sheet.meters.items} == pytest.approx(counters)

    for lang in ("en", "zh"):
        text = pdf_text(render_daily_pdf(sheet, lang))  # type: ignore[arg-type]
        for number in (*pm, *statutory):
            assert number in text, (lang, number)
        for word in ("HY-PDP-001", "flood", "dry_run", "drive_fault", "HY-LGT-001", "HY-PMP-002"):
            assert word in text, (lang, word)
        assert f"{counters[('HY-TNK-001', 'inflow_total')]:,.1f}" in text
        assert ("Checked by" if lang == "en" else "检查人") in text
        assert "unavailable" not in text
        assert "不可用" not in text
    db.close()


def test_unreachable_sources_say_so(seeded: tuple[str, Path]) -> None:
    url, _ = seeded
    sources = _sources(url, "http://127.0.0.1:9", "nothing")  # nothing listens
    db = Database.open(url, migrate=False)
    try:
        sheet = build_daily(db, sources, "HY", DAY, now=NOW)
    finally:
        sources.close()
        db.close()
    assert sheet.meters.state == "unavailable"
    assert sheet.devices.state == "unavailable"
    assert sheet.standing.state == "ok"  # the alarm store answered
    text = pdf_text(render_daily_pdf(sheet, "en"))
    assert text.count("Source unavailable") == 2
    assert "None." in text or sheet.events.items


def test_daily_sheet_bad_input(seeded: tuple[str, Path]) -> None:
    url, _ = seeded
    db = Database.open(url, migrate=False)
    try:
        for site, day, message in (
            ("HY", "2026-11-31", "--period '2026-11-31': expected a daily period such as"),
            ("XX", DAY, "--site 'XX': unknown estate"),
            ("all", DAY, "a daily check sheet is per estate"),
        ):
            with pytest.raises(ConfigError, match=message):
                build_daily(db, ReportSources(), site, day, now=NOW)
        empty = build_daily(db, ReportSources(), "HY", "2025-01-02", now=NOW)
    finally:
        db.close()
    assert not empty.pm
    assert empty.standing.state == "absent"
    assert "No source configured." in pdf_text(render_daily_pdf(empty, "en"))


def test_check_in_joins_the_asset_history(
    seeded: tuple[str, Path],
    signed_in_as: SignIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _ = seeded
    monkeypatch.setenv("FACILITY_DATABASE__URL", url)
    monkeypatch.setenv("FACILITY_INFLUXDB__URL", "http://127.0.0.1:9")
    signed_in_as(url, "zhao.li", ["viewer"], ["HY"])
    code, _, err = cli(["report", "check-in", "HY-TNK-001", "--period", DAY, "--result", "ok"],
                       capsys)  # fmt: skip
    assert code == 2
    assert "may not wo.work_own" in err
    signed_in_as(url, "qian.bo", ["technician"], ["HY"])
    code, out, err = cli(
        ["report", "check-in", "HY-TNK-001", "--period", DAY, "--result", "fault",
         "--note", "lid not locked", "--reading", "inflow_total=5107.5"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "HY 2026-11-26: 1 result(s) recorded (2 rows)" in out
    code, _, _ = cli(["report", "check-in", "HY-PMP-001", "HY-PMP-002", "--period", DAY,
                      "--result", "ok"], capsys)  # fmt: skip
    assert code == 0
    for args, message in (
        (["HT-PMP-001", "--result", "ok"], "may not act on estate HT"),
        (["HY-PMP-999", "--result", "ok"], "HY-PMP-999: not an asset in service at estate HY"),
        (["HY-PMP-001", "--result", "ok", "--reading", "run_hours=abc"], "expected point=value"),
        (["HY-PMP-001", "--result", "ok", "--period", "2026-13-01"], "expected a daily period"),
    ):
        code, _, err = cli(["report", "check-in", *args], capsys)
        assert code == 2, args
        assert message in err, (args, err)

    db = Database.open(url, migrate=False)
    try:
        tank = asset_timeline(db, "HY-TNK-001")
        pump = asset_timeline(db, "HY-PMP-002", kinds=frozenset({EntryKind.CHECK}))
    finally:
        db.close()
    checks = [e for e in tank if e.kind is EntryKind.CHECK]
    assert len(checks) == 1
    assert checks[0].actor == "qian.bo"
    assert checks[0].action == "fault"
    assert checks[0].text == "daily check 2026-11-26 fault inflow_total=5107.5: lid not locked"
    meters = [e for e in tank if e.kind is EntryKind.METER]
    assert [(e.ref, e.detail["value"], e.actor) for e in meters] == [
        ("inflow_total", 5107.5, "qian.bo")
    ]
    assert [(e.ref, e.action) for e in pump] == [("2026-11-26", "ok")]
