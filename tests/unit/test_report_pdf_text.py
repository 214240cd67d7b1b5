"""People's text in report tables is text, not markup (a ``<`` or ``&`` garbled or broke it)."""

from __future__ import annotations

import io

from pypdf import PdfReader
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.platypus import SimpleDocTemplate  # type: ignore[import-untyped]

from maintenance.reports.pdf import Styles, table


def test_markup_characters_in_cells_are_printed_as_written() -> None:
    styles = Styles()
    rows = [
        ["asset", "note"],
        ["HT-PMP-001 <b>Pump", "seal worn & leaking <5 min"],
        ["HT-PMP-002", "unclosed <i>tag"],
    ]
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build([table(rows, (200, 200), styles, numeric_from=2)])
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages)
    assert "HT-PMP-001 <b>Pump" in text
    assert "seal worn & leaking <5 min" in text
    assert "unclosed <i>tag" in text
