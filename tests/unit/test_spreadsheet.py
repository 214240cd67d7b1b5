"""facility.spreadsheet: text a spreadsheet would run gets a guard; numbers stay numbers."""

from __future__ import annotations

from datetime import date

import pytest

from facility.spreadsheet import spreadsheet_cell, spreadsheet_text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+86 760 1234", "'+86 760 1234"),
        ("-rm", "'-rm"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'already", "''already"),
        ("-3.5", "-3.5"),
        ("+2e3", "+2e3"),
        ("pump =1", "pump =1"),
        ("", ""),
        ("华庭", "华庭"),
        (-3, -3),
        (None, None),
        (date(2026, 1, 1), date(2026, 1, 1)),
    ],
)
def test_spreadsheet_cell_and_back(value: object, cell: object) -> None:
    assert spreadsheet_cell(value) == cell
    if isinstance(value, str):
        assert spreadsheet_text(spreadsheet_cell(value)) == value
