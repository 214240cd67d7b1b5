"""The equipment card (设备卡片), the QR label sheet and the compliance calendar (issue 14).

Seeded through the real stores: the HY ledger, PM orders from the real generator, a
corrective order done with failure codes, a PM order done with its checklist answered,
meter readings typed in, alarms through the alarm store, a status change. The PDF text
(pypdf) must hold each of them.
"""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdf
import pytest

from device_profiles import load_library
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import EventKind
from gateway.alarms.store import AlarmStore
from maintenance.generator import Generator
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.reports.card import build_card, render_card_pdf
from maintenance.reports.labels import PER_PAGE, asset_labels, render_labels_pdf
from maintenance.store import LedgerStore
from maintenance.wo_store import WorkOrderStore
from maintenance.workorders import WoKind
from tests.support import run_cli as cli
from tests.support import work_through

SH = ZoneInfo("Asia/Shanghai")
NOTE = "seal <i>worn</i> & leaking"  # people's text, not Paragraph markup
PUMP = "HY-PMP-003"  # the generator gives it an annual service in November


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        ledger.import_file(next(p for p in demo_ledger_paths() if p.stem == "HY"), user="test")
    with Generator(url, profiles=load_library(), worker="test") as gen:
        gen.run_pass(datetime(2026, 11, 10, 8, tzinfo=SH))
    with LedgerStore(url, migrate=False) as ledger:
        ledger.set_status(PUMP, "out_of_service", user="wang.fang", note=NOTE)
    seen: dict[str, str] = {"url": url}
    with WorkOrderStore(url, backdate_max=None) as store:
        preventive = store.orders(asset_no=PUMP, kind=WoKind.PREVENTIVE)
        assert preventive, "the generator made no PM order for the pump"
        pm = preventive[-1].number
        work_through(store, pm, datetime(2026, 11, 12, 10, tzinfo=SH))
        seen["pm"] = pm
        seen["pm_item"] = store.get(pm).checklist[0].text_zh
        fault = store.raise_corrective(
            PUMP, "manual-bearing", title_en="Bearing noise", title_zh="轴承异响",
            priority="high", at=datetime(2026, 11, 15, 9, tzinfo=SH), attach=False,
            asset_down=True,
        ).order.number  # fmt: skip
        store.start(fault, at=datetime(2026, 11, 15, 10, tzinfo=SH))
        store.complete(fault, problem="P-TRIP", cause="C-DRY", remedy="R-CLEAN",
                       at=datetime(2026, 11, 15, 14, tzinfo=SH))  # fmt: skip
        seen["fault"] = fault
        for day, value in ((16, 1234.5), (20, 1290.25)):
            at = datetime(2026, 11, day, 8, tzinfo=SH)
            store.add_meter_reading(PUMP, "run_hours", value, at=at, actor="qian.bo")
    records = [
        AlarmRecord(datetime(2026, 11, 14, hour, tzinfo=SH).astimezone(UTC),
                    f"{PUMP}:drive_fault", "HY", PUMP, "drive_fault", kind, priority="high")
        for hour, kind in ((22, EventKind.RAISE), (23, EventKind.CLEAR))
    ]  # fmt: skip
    with AlarmStore(url) as alarms:
        alarms.write(records)
    return seen


def test_card_holds_ledger_history_orders(seeded: dict[str, str]) -> None:
    card = build_card(seeded["url"], PUMP.lower(), base_url="https://estate.example")
    text = pdf_text(render_card_pdf(card, "en"))
    flat = " ".join(text.split())
    asset = card.asset
    for value in (PUMP, asset.make, asset.model, asset.serial, asset.name_en):
        assert value, value
        assert value in flat, value
    assert asset.install_date is not None
    assert asset.install_date.isoformat() in flat
    assert f"{asset.site} {asset.building} {asset.zone}" in flat
    # status history
    assert "in_service -> out_of_service" in flat
    assert NOTE in flat
    # meter progression, oldest first
    assert "1234.5" in flat
    assert "1290.25" in flat
    assert flat.index("1234.5") < flat.index("1290.25")
    # alarms: raise and clear
    assert "drive_fault raise" in flat
    assert "drive_fault clear" in flat
    # every order, with its checklist answers and the failure codes
    assert seeded["pm"] in flat
    assert seeded["fault"] in flat
    assert seeded["pm_item"] in flat
    assert "pass OK" in flat  # a pass/fail item answered pass
    for code in ("P-TRIP", "C-DRY", "R-CLEAN"):
        assert code in flat, code
    # Chinese card: the labels change, the facts stay
    zh = " ".join(pdf_text(render_card_pdf(card, "zh")).split())
    assert "设备卡片" in zh
    assert asset.name_zh in zh
    assert seeded["fault"] in zh


def test_card_command(
    seeded: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FACILITY_DATABASE__URL", seeded["url"])
    monkeypatch.setenv("FACILITY_INFLUXDB__URL", "http://127.0.0.1:9")
    out = tmp_path / "card.pdf"
    code, stdout, err = cli(["report", "card", PUMP, "--lang", "en", "--out", str(out)], capsys)
    assert code == 0, err
    assert str(out) in stdout
    assert seeded["fault"] in pdf_text(out.read_bytes())
    code, _, err = cli(["report", "card", "HY-PMP-999", "--out", str(out)], capsys)
    assert code == 2
    assert "HY-PMP-999" in err
    assert "not an asset of the ledger" in err


def test_label_sheet(seeded: dict[str, str], tmp_path: Path) -> None:
    url = seeded["url"]
    with LedgerStore(url, migrate=False) as ledger:
        ledger.set_status("HY-LGT-002", "retired", user="test", note="pole knocked down")
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        expected = {
            no: (zh, en)
            for no, zh, en in db.execute(
                "SELECT asset_no, name_zh, name_en FROM assets WHERE site = 'HY' "
                "AND device_class = 'LGT' AND status != 'retired'"
            )
        }
    finally:
        db.close()
    assert "HY-LGT-002" not in expected
    assert len(expected) > PER_PAGE  # more than one page
    tags = asset_labels(url, "hy", device_class="lgt", base_url="https://estate.example/")
    assert [t.asset_no for t in tags] == sorted(expected)
    for tag in tags:
        assert tag.qr == f"https://estate.example/asset/{tag.asset_no}"
        assert (tag.name_zh, tag.name_en) == expected[tag.asset_no]
    reader = pypdf.PdfReader(io.BytesIO(render_labels_pdf(tags)))
    assert len(reader.pages) == -(-len(tags) // PER_PAGE)
    text = " ".join(" ".join(p.extract_text() or "" for p in reader.pages).split())
    for no in expected:
        assert no in text, no
    assert "HY-LGT-002" not in text
    # without a base URL the code holds the bare number
    assert [t.qr for t in asset_labels(url, "HY", device_class="PMP")][:1] == ["HY-PMP-001"]


def test_label_command(
    seeded: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FACILITY_DATABASE__URL", seeded["url"])
    monkeypatch.setenv("FACILITY_MAINTENANCE__DASHBOARD_URL", "https://estate.example")
    out = tmp_path / "labels.pdf"
    code, stdout, err = cli(["report", "labels", "--site", "HY", "--class", "PMP",
                             "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    pumps = asset_labels(seeded["url"], "HY", device_class="PMP")
    assert f"{len(pumps)} label(s); QR e.g. https://estate.example/asset/HY-PMP-001" in stdout
    text = pdf_text(out.read_bytes())
    assert all(p.asset_no in text for p in pumps)
    for args, message in (
        (["--site", "XX"], "--site 'XX': unknown estate"),
        (["--site", "HY", "--class", "ZZZ"], "--class 'ZZZ': unknown device class"),
    ):
        code, _, err = cli(["report", "labels", *args, "--out", str(out)], capsys)
        assert code == 2, args
        assert message in err, (args, err)
