"""The compliance calendar (issue 14): HY's statutory orders of October and November 2026
from the real PM generator, some done on time with their checklists, one done late, the rest
left open; the calendar's counts per month, the evidence in the PDF and the XLSX cells are
checked against a classification computed here with plain SQL.
"""

from __future__ import annotations

import io
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pypdf
import pytest

from device_profiles import load_library
from facility.errors import ConfigError
from maintenance.db import Database
from maintenance.generator import Generator
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.reports.compliance import (
    Occurrence,
    build_compliance,
    calendar_rows,
    cell_text,
    classify,
    render_compliance_pdf,
    render_compliance_xlsx,
)
from maintenance.reports.statutory import STATUTORY as ITEMS
from maintenance.store import LedgerStore
from maintenance.wo_store import WorkOrderStore
from tests.support import run_cli as cli

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 6, tzinfo=SH)
# the statutory plans, written out here rather than read from the code under test
STATUTORY = {
    "TNK": {"cleaning", "water_quality_test"},
    "FAP": {"daily_check", "monthly_test", "annual_service"},
}


def _utc(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def _statutory_rows(
    db_file: Path,
) -> list[tuple[str, str, str, datetime, datetime, datetime | None]]:
    db = sqlite3.connect(db_file)
    try:
        rows = db.execute(
            "SELECT w.number, w.asset_no, p.name, w.due_at, w.completion_due, w.completed_at "
            "FROM work_orders w JOIN pm_plans p ON p.id = w.plan_id WHERE w.site = 'HY' "
            "AND w.kind = 'preventive' AND w.cancelled_at IS NULL AND w.due_at >= ? "
            "AND w.due_at < ? ORDER BY w.due_at, w.number",
            ("2025-12-31 16:00:00", "2026-12-31 16:00:00"),
        ).fetchall()
    finally:
        db.close()
    found = []
    for number, asset_no, plan, due, deadline, done in rows:
        if plan in STATUTORY.get(asset_no.split("-")[1], set()):
            found.append((number, asset_no, plan, _utc(due), _utc(deadline), _utc(done)))
    return found  # type: ignore[return-value]


def _answer_all(store: WorkOrderStore, number: str, at: datetime) -> None:
    order = store.get(number)
    store.start(number, at=at - timedelta(minutes=30))
    for item in order.checklist:
        answer = {"pass_fail": "pass", "photo": "photo.jpg", "text": "ok"}.get(
            item.kind.value, str(item.low if item.low is not None else item.high or 1)
        )
        store.record(number, item.position, answer, at=at - timedelta(minutes=10))
    store.complete(number, at=at)


@pytest.fixture
def season(tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    db_file = tmp_path / "facility.db"
    url = f"sqlite:///{db_file}"
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        ledger.import_file(next(p for p in demo_ledger_paths() if p.stem == "HY"), user="test")
    with Generator(url, profiles=load_library(), worker="test") as gen:
        day = datetime(2026, 10, 1, 8, tzinfo=SH)
        while day <= NOW:
            gen.run_pass(day)
            day += timedelta(days=3)
    picked: dict[str, str] = {}
    rows = _statutory_rows(db_file)
    with WorkOrderStore(url, backdate_max=None) as store:
        created = {o.number: o.created_at for o in store.orders(site="HY")}

        def first(plan: str) -> str:
            return next(r[0] for r in rows if r[2] == plan and r[0] not in picked.values())

        for plan in ("monthly_test", "annual_service", "water_quality_test", "daily_check"):
            if any(r[2] == plan for r in rows):
                number = first(plan)
                _answer_all(store, number, created[number] + timedelta(hours=2))
                picked[f"on_time_{plan}"] = number
        late = next(r for r in rows if r[2] == "daily_check" and r[4] + timedelta(days=1) < NOW
                    and r[0] not in picked.values())  # fmt: skip
        _answer_all(store, late[0], late[4] + timedelta(days=1))
        picked["late"] = late[0]
    return url, db_file, picked


def _expected(db_file: Path) -> dict[tuple[str, str, int], Counter[str]]:
    counts: dict[tuple[str, str, int], Counter[str]] = {}
    for _number, asset_no, plan, due, deadline, done in _statutory_rows(db_file):
        if done is not None:
            status = "done" if done <= deadline else "late"
        else:
            status = "missed" if deadline < NOW else "due"
        key = (plan, asset_no, due.astimezone(SH).month)
        counts.setdefault(key, Counter())[status] += 1
    return counts


def test_hy_compliance_calendar(season: tuple[str, Path, dict[str, str]]) -> None:
    url, db_file, picked = season
    expected = _expected(db_file)
    statuses = Counter(s for c in expected.values() for s in c.elements())
    assert statuses["done"] >= 2
    assert statuses["late"] == 1
    assert statuses["missed"] > 0
    db = Database.open(url, migrate=False)
    try:
        calendar = build_compliance(db, "hy", "2026", now=NOW)
    finally:
        db.close()
    got = {
        (row.item.plan, row.asset_no, month + 1): Counter(dict(counts))
        for row in calendar.rows
        for month, counts in enumerate(row.months)
        if counts
    }
    assert got == expected

    text = " ".join(
        " ".join(p.extract_text() or "" for p in pypdf.PdfReader(
            io.BytesIO(render_compliance_pdf(calendar, "en"))).pages).split()
    )  # fmt: skip
    assert "Compliance calendar 2026" in text
    rows = {r[0]: r for r in _statutory_rows(db_file)}
    for key, number in picked.items():
        if key == "on_time_daily_check":
            assert number not in text  # a daily check done fine is only counted
            continue
        assert number in text, key
        completed = rows[number][5]
        assert completed is not None
        assert completed.astimezone(SH).strftime("%Y-%m-%d") in text
    assert "late" in text
    missed = [r[0] for r in rows.values() if r[5] is None and r[4] < NOW]
    for number in missed:
        assert number in text, number
    # the checklist result of an order done with every item passed
    evidence = {o.number: o for o, _ in calendar.evidence}
    monthly = evidence[picked["on_time_monthly_test"]]
    assert monthly.checks_total > 0
    assert f"{monthly.checks_total}/{monthly.checks_total} OK" in text

    book = openpyxl.load_workbook(io.BytesIO(render_compliance_xlsx(calendar, "en")))
    grid = list(book.worksheets[0].iter_rows(min_row=3, values_only=True))
    for (plan, asset_no, month), counts in expected.items():
        item = next(r.item for r in calendar.rows if r.item.plan == plan)
        for status in ("done", "late", "due", "missed"):
            line = next(g for g in grid if g[:3] == (item.title_en, asset_no, status))
            assert line[2 + month] == counts[status], (plan, asset_no, month, status)
    sheet = book.worksheets[1]
    assert {row[4] for row in sheet.iter_rows(min_row=2, values_only=True)} >= set(missed)


def test_compliance_command_and_bad_input(
    season: tuple[str, Path, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _, picked = season
    monkeypatch.setenv("FACILITY_DATABASE__URL", url)
    monkeypatch.setenv("FACILITY_INFLUXDB__URL", "http://127.0.0.1:9")
    out = tmp_path / "c.pdf"
    code, stdout, err = cli(["report", "compliance", "--site", "HY", "--year", "2026",
                             "--lang", "zh", "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    assert str(out) in stdout
    text = "".join(p.extract_text() or "" for p in pypdf.PdfReader(out).pages)
    assert "法定检查日历" in text
    assert picked["late"] in text
    code, _, err = cli(["report", "compliance", "--site", "HY", "--year", "2019",
                        "--out", str(out)], capsys)  # fmt: skip
    assert code == 0
    assert "no statutory item recorded for HY 2019" in err
    assert "本年度无法定检查记录" in "".join(
        p.extract_text() or "" for p in pypdf.PdfReader(out).pages
    )
    for args, message in (
        (["--site", "XX", "--year", "2026"], "--site 'XX': unknown estate"),
        (["--site", "all", "--year", "2026"], "per estate"),
        (["--site", "HY", "--year", "20x6"], "--year '20x6': expected a year"),
    ):
        code, _, err = cli(["report", "compliance", *args, "--out", str(out)], capsys)
        assert code == 2, args
        assert message in err, (args, err)
    db = Database.open(url, migrate=False)
    try:
        with pytest.raises(ConfigError, match="expected a year"):
            build_compliance(db, "HY", "1999")
    finally:
        db.close()


def _occurrence(due: datetime, deadline: datetime, done: datetime | None) -> Occurrence:
    return Occurrence(ITEMS[3], "HY-FAP-001", "WO-HY-2026-00001", due, deadline, done, 2, 2, 0)


@pytest.mark.parametrize(
    ("done", "status"),
    [
        (datetime(2026, 3, 10, tzinfo=SH), "done"),
        (datetime(2026, 3, 15, tzinfo=SH), "done"),  # on the deadline itself
        (datetime(2026, 3, 16, tzinfo=SH), "late"),
        (None, "due"),
    ],
)
def test_classify(done: datetime | None, status: str) -> None:
    due, deadline = datetime(2026, 3, 1, tzinfo=SH), datetime(2026, 3, 15, tzinfo=SH)
    assert classify(_occurrence(due, deadline, done), datetime(2026, 3, 15, tzinfo=SH)) == status
    assert classify(_occurrence(due, deadline, None), datetime(2026, 3, 16, tzinfo=SH)) == "missed"


def test_month_is_the_estates() -> None:
    # due 2026-01-31 17:00 UTC is February 1st in Shanghai
    due = datetime(2026, 1, 31, 17, tzinfo=UTC)
    rows = calendar_rows([_occurrence(due, due + timedelta(days=5), None)], SH, due)
    assert [cell_text(c) for c in rows[0].months][:3] == ["", "0/0/1/0", ""]
