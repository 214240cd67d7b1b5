"""Ledger files on disk: CSV with and without BOM, GBK refused, XLSX cells, the demo ledgers."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from facility.errors import LedgerError
from facility.types import DeviceClass, ModbusEndpoint, OpcuaEndpoint
from maintenance.ledger import COLUMNS
from maintenance.ledger_files import (
    demo_ledger_paths,
    demo_sites,
    read_ledger_file,
    read_sheet,
    write_ledger_file,
)
from tests.support import PUMP_ROW

pytestmark = pytest.mark.integration

ROW = dict(PUMP_ROW)


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"], ids=["plain", "excel-bom"])
def test_csv_with_or_without_bom(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "ledger.csv", [ROW], encoding)
    [asset] = read_ledger_file(path)
    assert asset.asset_no == "HT-PMP-001"  # the BOM did not stick to the first header
    assert asset.name_zh == "1栋生活水泵1#"


def test_gbk_csv_is_refused_with_the_row_and_the_fix(tmp_path: Path) -> None:
    rows = [{**ROW, "name_zh": ""}, {**ROW, "asset_no": "HT-PMP-002", "unit_id": "2"}]
    path = write_csv(tmp_path / "ledger.csv", rows, "gbk")
    with pytest.raises(LedgerError) as caught:
        read_ledger_file(path)
    [issue] = caught.value.issues
    assert issue.line == 3
    assert "CSV UTF-8" in issue.message


def test_blank_rows_are_skipped_but_row_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    bad = {**ROW, "asset_no": "HT-PMP-002", "unit_id": "0"}
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow(ROW)
        stream.write(",,,\n\n")  # rows 3 and 4: blank, as Excel leaves them
        writer.writerow(bad)
    with pytest.raises(LedgerError) as caught:
        read_ledger_file(path)
    assert [(i.line, i.field) for i in caught.value.issues] == [(5, "unit_id")]


def test_quoted_newline_counts_as_one_row(tmp_path: Path) -> None:
    rows = [{**ROW, "name_en": "Pump\nroom B1"}, {**ROW, "asset_no": "HT-PMP-02", "unit_id": "2"}]
    path = write_csv(tmp_path / "ledger.csv", rows)
    with pytest.raises(LedgerError) as caught:
        read_ledger_file(path)
    assert [(i.line, i.field) for i in caught.value.issues] == [(3, "asset_no")]


def test_cells_beyond_the_header_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text(",".join(COLUMNS) + "\n" + ",".join(ROW.values()) + ",surprise\n")
    with pytest.raises(LedgerError, match="more cells than header columns"):
        read_sheet(path)


def test_xlsx_numbers_and_dates_as_a_spreadsheet_stores_them(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    cells: list[object] = list(ROW.values())
    cells[COLUMNS.index("port")] = 15021.0
    cells[COLUMNS.index("unit_id")] = 7
    cells[COLUMNS.index("install_date")] = datetime(2021, 5, 4)
    sheet.append(cells)
    path = tmp_path / "ledger.xlsx"
    workbook.save(path)
    [asset] = read_ledger_file(path)
    assert asset.endpoint == ModbusEndpoint("127.0.0.1", 15021, 7)
    assert asset.install_date == date(2021, 5, 4)


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "ledger.xlsx"
    path.write_text("this is not a zip file")
    with pytest.raises(LedgerError, match=r"not a readable \.xlsx"):
        read_sheet(path)


@pytest.mark.parametrize(
    ("name", "expected"), [("ledger.txt", "expected a .csv or .xlsx"), ("gone.csv", "not found")]
)
def test_unreadable_paths(tmp_path: Path, name: str, expected: str) -> None:
    if name.endswith(".txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(LedgerError, match=expected):
        read_sheet(tmp_path / name)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_reads_back_the_same(tmp_path: Path, suffix: str) -> None:
    assets = read_ledger_file(demo_ledger_paths()[0])
    path = tmp_path / f"export{suffix}"
    write_ledger_file(assets, path)
    assert read_ledger_file(path) == assets
    if suffix == ".csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel shows Chinese correctly


def test_demo_ledgers() -> None:
    sites = [site.code for site in demo_sites()]
    assert sites == ["HT", "JU", "HY"]
    assets = [a for path in demo_ledger_paths() for a in read_ledger_file(path, sites=sites)]
    monitored = [a for a in assets if a.monitored]
    assert len(monitored) >= 150
    counts = Counter((a.site, a.device_class) for a in assets)
    assert counts[("HT", DeviceClass.PMP)] == 12
    assert counts[("HT", DeviceClass.PDP)] == 1
    assert counts[("HT", DeviceClass.TNK)] == 6
    assert counts[("HT", DeviceClass.LGT)] == 40
    assert counts[("HT", DeviceClass.FAP)] == 4
    assert [counts[("JU", c)] for c in DeviceClass] == [8, 0, 4, 30, 3]
    assert [counts[("HY", c)] for c in DeviceClass] == [10, 0, 5, 36, 4]
    by_no = {a.asset_no: a for a in assets}
    assert by_no["HT-PMP-012"].endpoint == ModbusEndpoint("127.0.0.1", 15021, 12)
    assert by_no["HT-PDP-001"].endpoint == ModbusEndpoint("127.0.0.1", 15022, 1)
    assert by_no["HT-LGT-040"].endpoint == ModbusEndpoint("127.0.0.1", 15023, 40)
    assert by_no["HT-TNK-003"].endpoint == OpcuaEndpoint(
        "opc.tcp://127.0.0.1:14841/facility", "HT-TNK-003"
    )
    assert by_no["JU-FAP-003"].endpoint == OpcuaEndpoint(
        "opc.tcp://127.0.0.1:14852/facility", "JU-FAP-003"
    )
    assert by_no["HY-LGT-036"].endpoint == ModbusEndpoint("127.0.0.1", 15043, 36)
    assert all(2012 <= a.install_date.year <= 2024 for a in assets if a.install_date)
