"""Ledger files: read CSV/XLSX into a ``LedgerSheet``, write exports, validate without a DB.

CSV is UTF-8 with or without a BOM (Excel's "CSV UTF-8" writes one). A file saved as plain
"CSV" by a Chinese Excel is GBK: it is refused with the row where decoding fails and how to
save it properly, rather than guessed at. XLSX: the first sheet, header in row 1. Exported CSV
files carry a BOM so Excel shows Chinese names correctly; CSV on stdout does not.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import zipfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facility.errors import Issue, LedgerError
from facility.limits import (
    LEDGER_MAX_CELL_CHARS,
    LEDGER_MAX_COLUMNS,
    LEDGER_MAX_FILE_BYTES,
    LEDGER_MAX_ROWS,
)
from facility.spreadsheet import spreadsheet_cell, spreadsheet_text
from facility.types import Asset
from maintenance.ledger import (
    COLUMNS,
    LedgerContext,
    LedgerRow,
    LedgerSheet,
    ProfileRef,
    Site,
    asset_values,
)
from maintenance.ledger_check import validate_sheet

if TYPE_CHECKING:
    from device_profiles.models import DeviceProfile

DEMO_DIR = Path(__file__).parent / "demo"
DEMO_SITE_CODES = ("HT", "JU", "HY")
SITE_COLUMNS = ("code", "name_en", "name_zh", "timezone")


def demo_ledger_paths() -> list[Path]:
    """The demo estates' ledgers: maintenance/demo/HT.csv, JU.csv, HY.csv."""
    return [DEMO_DIR / f"{code}.csv" for code in DEMO_SITE_CODES]


def demo_sites_path() -> Path:
    return DEMO_DIR / "sites.csv"


def profile_refs(library: Mapping[str, DeviceProfile] | None = None) -> dict[str, ProfileRef]:
    """What the ledger checks about each profile (default: the library, shipped models and
    the site folders of `[profiles] dirs`)."""
    if library is None:
        return dict(_shipped_profile_refs())
    return {
        profile_id: ProfileRef(profile.device_class, profile.protocol)
        for profile_id, profile in library.items()
    }


@functools.cache
def _shipped_profile_refs() -> Mapping[str, ProfileRef]:
    # Parsing every YAML profile costs a few hundred ms; the library is read once a process.
    from device_profiles import load_library  # only imports need it; keeps the CLI quick

    return profile_refs(load_library())


# --- reading -------------------------------------------------------------------------------


def read_sheet(path: Path) -> LedgerSheet:
    """The header and non-blank rows of a .csv or .xlsx file (row numbers as in the file)."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise LedgerError([Issue(str(path), None, "", "file not found")])
    size = path.stat().st_size
    if size > LEDGER_MAX_FILE_BYTES:
        raise LedgerError(
            [
                Issue(
                    str(path),
                    None,
                    "",
                    f"{size:,} bytes; expected at most {LEDGER_MAX_FILE_BYTES:,} "
                    "(split the ledger into one file per site)",
                )
            ]
        )
    if suffix == ".csv":
        return _sheet(str(path), _csv_cells(path))
    if suffix == ".xlsx":
        return _sheet(str(path), _xlsx_cells(path))
    raise LedgerError([Issue(str(path), None, "", "expected a .csv or .xlsx file")])


def _too_many_rows(source: str, row_number: int) -> LedgerError:
    return LedgerError(
        [
            Issue(
                source,
                row_number,
                "",
                f"more than {LEDGER_MAX_ROWS:,} rows; expected at most {LEDGER_MAX_ROWS:,} "
                "(split the ledger into one file per site)",
            )
        ]
    )


def _cell_issues(
    source: str, row_number: int, values: list[str], header: tuple[str, ...] | None
) -> list[Issue]:
    """Cells beyond the limits of facility/limits.py, named by their column."""
    issues = []
    if len(values) > LEDGER_MAX_COLUMNS and any(v.strip() for v in values[LEDGER_MAX_COLUMNS:]):
        issues.append(
            Issue(
                source,
                row_number,
                "",
                f"{len(values):,} cells; expected at most {LEDGER_MAX_COLUMNS} columns",
            )
        )
    for index, value in enumerate(values[:LEDGER_MAX_COLUMNS]):
        if len(value) > LEDGER_MAX_CELL_CHARS:
            column = header[index] if header is not None and index < len(header) else ""
            issues.append(
                Issue(
                    source,
                    row_number,
                    column or f"column {index + 1}",
                    f"{len(value):,} characters; expected at most {LEDGER_MAX_CELL_CHARS:,}",
                )
            )
    return issues


def _sheet(source: str, cells: Iterable[tuple[int, list[str]]]) -> LedgerSheet:
    """The header and non-blank rows; LedgerError listing every cell beyond the limits
    (every row is read first, so the report is whole)."""
    header: tuple[str, ...] | None = None
    header_row = 1
    rows = []
    oversized: list[Issue] = []
    for row_number, values in cells:
        if row_number > LEDGER_MAX_ROWS + 1:  # + the header
            raise _too_many_rows(source, row_number)
        beyond = _cell_issues(source, row_number, values, header)
        if beyond:
            oversized.extend(beyond)
            if header is None:
                break  # no header to read the rest by
            continue
        if header is None:
            if not any(values):
                continue  # blank lines above the header
            header = tuple(v.strip().lower() for v in values)
            header_row = row_number
            continue
        if not any(v.strip() for v in values):
            continue  # trailing blank rows Excel leaves behind carry no data
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            extra = [v for v in values[len(header) :] if v.strip()]
            raise LedgerError(
                [Issue(source, row_number, "", f"more cells than header columns: {extra!r}")]
            )
        # what an export guarded against formulas ('=...) reads back as it was written
        padded = [spreadsheet_text(v) for v in [*values, *[""] * (len(header) - len(values))]]
        rows.append(LedgerRow(row_number, dict(zip(header, padded, strict=False))))
    if oversized:
        raise LedgerError(oversized)
    if header is None:
        raise LedgerError([Issue(source, None, "", "empty file: expected a header row")])
    return LedgerSheet(source, header, tuple(rows), header_row)


def _csv_cells(path: Path) -> list[tuple[int, list[str]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LedgerError(
            [
                Issue(
                    str(path),
                    line,
                    "",
                    "not UTF-8 text (GBK from Excel's plain CSV?): in Excel save as "
                    "'CSV UTF-8 (逗号分隔)', or import the .xlsx",
                )
            ]
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        # Row numbers count records, the way a spreadsheet shows them. One row past the limit
        # is read so that _sheet can say so; the rest of the file is not.
        return list(itertools.islice(enumerate(reader, start=1), LEDGER_MAX_ROWS + 2))
    except csv.Error as exc:
        raise LedgerError(
            [Issue(str(path), reader.line_num, "", f"not valid CSV: {exc}")]
        ) from None


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        midnight = value.hour == value.minute == value.second == value.microsecond == 0
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets store 15021 as 15021.0
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xlsx_cells(path: Path) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # imported on use: most commands never touch XLSX
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise LedgerError(
            [Issue(str(path), None, "", f"not a readable .xlsx file: {exc}")]
        ) from None
    try:
        sheet = workbook.worksheets[0]
        cells = []
        # Bounded: a sheet may claim a dimension of A1:XFD1048576, and read-only openpyxl
        # pads every row up to the last column it claims.
        rows = sheet.iter_rows(
            max_row=min(sheet.max_row or LEDGER_MAX_ROWS + 2, LEDGER_MAX_ROWS + 2),
            max_col=min(sheet.max_column or LEDGER_MAX_COLUMNS + 1, LEDGER_MAX_COLUMNS + 1),
            values_only=True,
        )
        for number, row in enumerate(rows, start=1):
            cells.append((number, [_cell_text(v).strip() for v in row]))
        return cells
    finally:
        workbook.close()


def read_ledger_file(
    path: Path,
    profiles: Mapping[str, ProfileRef] | None = None,
    sites: Iterable[str] | None = None,
) -> list[Asset]:
    """Validate a ledger file on its own (no database): its assets, or LedgerError with every
    issue. Parents must be in the same file; ``sites`` None accepts any well-formed code."""
    sheet = read_sheet(path)
    context = LedgerContext(
        profiles=profile_refs() if profiles is None else profiles,
        sites=None if sites is None else frozenset(sites),
    )
    return [asset for _, asset in validate_sheet(sheet, context)]


def read_sites(path: Path) -> list[Site]:
    """Sites from a CSV with columns code, name_en, name_zh, timezone."""
    sheet = _sheet(str(path), _csv_cells(path))
    issues = [
        Issue(str(path), sheet.header_row, "header", f"missing column {column}")
        for column in SITE_COLUMNS
        if column not in sheet.header
    ]
    if issues:
        raise LedgerError(issues)
    sites = []
    for row in sheet.rows:
        values = {k: row.values.get(k, "").strip() for k in SITE_COLUMNS}
        for column in SITE_COLUMNS:
            if not values[column]:
                issues.append(Issue(str(path), row.row, column, "required, but empty"))
        try:
            ZoneInfo(values["timezone"] or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            issues.append(
                Issue(str(path), row.row, "timezone", f"unknown time zone {values['timezone']!r}")
            )
        sites.append(
            Site(values["code"].upper(), values["name_en"], values["name_zh"], values["timezone"])
        )
    if issues:
        raise LedgerError(issues)
    return sites


def demo_sites() -> list[Site]:
    """Huating (HT), Ju (JU) and Garden (HY)."""
    return read_sites(demo_sites_path())


# --- writing -------------------------------------------------------------------------------


def write_csv(assets: Iterable[Asset], stream: IO[str]) -> None:
    """Assets as ledger CSV (header + one row each) on a text stream."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    for asset in assets:
        writer.writerow(map(spreadsheet_cell, asset_values(asset).values()))


def xlsx_bytes(assets: Iterable[Asset]) -> bytes:
    """Assets as a one-sheet ledger workbook. Numbers stay text (``unit_id`` 1, not 1.0)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "ledger"
    sheet.append(list(COLUMNS))
    for asset in assets:
        sheet.append([spreadsheet_cell(v) for v in asset_values(asset).values()])
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_ledger_file(assets: Iterable[Asset], path: Path) -> None:
    """Export to ``path``: .xlsx as a workbook, anything else as CSV with a BOM for Excel."""
    if path.suffix.lower() == ".xlsx":
        path.write_bytes(xlsx_bytes(assets))
        return
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        write_csv(assets, stream)
