"""Ledger files beyond the limits of facility/limits.py: refused whole, with a line per row.

Before: a 5,000-character cell was imported as is, a file of any size was read into memory,
and an XLSX sheet claiming the last cell (XFD1048576) was padded to 17 billion cells.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook

from facility.errors import LedgerError
from facility.limits import LEDGER_MAX_CELL_CHARS, LEDGER_MAX_FILE_BYTES, LEDGER_MAX_ROWS
from maintenance.ledger import COLUMNS
from maintenance.ledger_files import read_ledger_file, read_sheet
from tests.support import PUMP_ROW

pytestmark = pytest.mark.integration

LONG = "x" * (LEDGER_MAX_CELL_CHARS + 1)


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_oversized_cells_are_reported_per_row_and_nothing_is_read(tmp_path: Path) -> None:
    rows = [
        dict(PUMP_ROW),
        {**PUMP_ROW, "asset_no": "HT-PMP-002", "unit_id": "2", "model": LONG},
        {**PUMP_ROW, "asset_no": "HT-PMP-003", "unit_id": "3", "serial": LONG, "make": LONG},
    ]
    path = write_csv(tmp_path / "ledger.csv", rows)
    with pytest.raises(LedgerError) as caught:
        read_ledger_file(path)
    expected = f"{LEDGER_MAX_CELL_CHARS + 1:,} characters; expected at most 4,000"
    assert [str(i) for i in caught.value.issues] == [
        f"{path}:3: model: {expected}",
        f"{path}:4: make: {expected}",
        f"{path}:4: serial: {expected}",
    ]


def test_too_many_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text(",".join(COLUMNS) + "\n" + "HT-PMP-001\n" * (LEDGER_MAX_ROWS + 1))
    with pytest.raises(LedgerError) as caught:
        read_sheet(path)
    assert [str(i) for i in caught.value.issues] == [
        f"{path}:{LEDGER_MAX_ROWS + 2}: more than 100,000 rows; expected at most 100,000 "
        "(split the ledger into one file per site)"
    ]


def test_too_large_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    with path.open("wb") as stream:
        stream.truncate(LEDGER_MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(LedgerError) as caught:
        read_sheet(path)
    assert str(caught.value) == (
        f"{path}: {LEDGER_MAX_FILE_BYTES + 1:,} bytes; expected at most "
        f"{LEDGER_MAX_FILE_BYTES:,} (split the ledger into one file per site)"
    )


@pytest.mark.timeout(120)
def test_xlsx_claiming_the_last_cell_is_bounded(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.cell(row=1_048_576, column=16_384, value="x")
    path = tmp_path / "ledger.xlsx"
    workbook.save(path)
    with pytest.raises(LedgerError) as caught:
        read_sheet(path)
    assert "more than 100,000 rows" in str(caught.value)
