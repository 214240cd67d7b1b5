"""Pictures of a monthly report page and a daily check sheet for the README.

    .venv/bin/python scripts/report_pictures.py        # writes docs/img/report-*.png

Seeds a year of history the way ``bench/report_bench.py`` does (the three demo estates, PM
from the real generator, corrective orders, alarms), renders HT's November 2026 monthly report
and its daily check sheet of 2026-11-26 (中文) with the product's own renderers, and rasterises
the first page of each with PDFium (``pypdfium2``, a dev dependency: poppler is not needed).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdfium2  # type: ignore[import-untyped]

from bench.report_bench import _seed
from gateway.alarms.store import AlarmStore
from gateway.report_sources import StoreAlarmHistory
from maintenance.db import Database
from maintenance.reports.build import build_report, render
from maintenance.reports.daily import build_daily
from maintenance.reports.daily_pdf import render_daily_pdf
from maintenance.reports.sources import ReportSources

OUT = Path(__file__).resolve().parent.parent / "docs" / "img"
NOW = datetime(2026, 12, 2, 8, tzinfo=ZoneInfo("Asia/Shanghai"))


def first_page_png(pdf: bytes, path: Path, scale: float = 1.6) -> None:
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=scale).to_pil()
        image.save(path, optimize=True)
    finally:
        document.close()
    print(f"wrote {path} ({path.stat().st_size:,} B)")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'reports.db'}"
        _seed(url)
        with Database(url) as db, AlarmStore(url, migrate=False) as alarms:
            sources = ReportSources(alarms=StoreAlarmHistory(alarms))
            monthly = build_report(db, sources, "monthly", "HT", "2026-11", now=NOW)
            first_page_png(render(monthly, "pdf", "zh"), OUT / "report-monthly.png")
            sheet = build_daily(db, sources, "HT", "2026-11-26", now=NOW)
            first_page_png(render_daily_pdf(sheet, "zh"), OUT / "report-daily.png")


if __name__ == "__main__":
    main()
