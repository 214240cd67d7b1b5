"""Fuzzing ledger import: any rows in, assets or a per-row report of one-line issues out."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from facility.errors import LedgerError
from maintenance.ledger import COLUMNS, LedgerContext
from maintenance.ledger_check import validate_sheet
from maintenance.ledger_files import profile_refs, read_sheet
from tests.support import PUMP_ROW
from tests.unit.fuzz_support import FUZZ, assert_one_line

CELLS = st.text(max_size=30) | st.sampled_from(
    ["", " ", "=1+1", "0", "-1", "65536", "2026-02-30", "HT-PMP-001", "modbus", "opcua", "PMP"]
)
# the valid pump row with a few cells changed, a few times over
ROWS = st.lists(
    st.lists(st.tuples(st.sampled_from(COLUMNS), CELLS), max_size=4).map(
        lambda changes: {**PUMP_ROW, **dict(changes)}
    ),
    min_size=1,
    max_size=4,
)


def check_file(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            sheet = read_sheet(path)
            assets = validate_sheet(sheet, LedgerContext(profiles=profile_refs()))
        except LedgerError as exc:
            error = exc
        else:
            assert len(assets) == len(sheet.rows)
            return
    assert error.issues
    for issue in error.issues:
        assert issue.file == str(path)
        assert_one_line(str(issue))


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return stream.getvalue().encode("utf-8")


@FUZZ
@given(ROWS)
def test_rows_with_arbitrary_cells(rows: list[dict[str, str]]) -> None:
    check_file("ledger.csv", csv_bytes(rows))


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_as_csv(data: bytes) -> None:
    check_file("ledger.csv", data)


@FUZZ
@given(st.text(alphabet=',"\r\n\x00ab1-;', max_size=200))
def test_csv_like_text_after_a_header(text: str) -> None:
    check_file("ledger.csv", (",".join(COLUMNS) + "\n" + text).encode())


@settings(FUZZ, max_examples=50)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_as_xlsx(data: bytes) -> None:
    check_file("ledger.xlsx", b"PK\x03\x04" + data)
