"""QR label sheets: A4 pages of asset labels (number, name in Chinese and English, QR code)
for a site or one class of it — numbered street lights, pumps — to print on label stock and
stick on the equipment.

    labels = asset_labels(url, "HT", device_class="LGT", base_url="https://estate.example")
    pdf = render_labels_pdf(labels)

The QR code holds what the work-order sheet's does (``maintenance.sheet.qr_text``): the
asset's page on the dashboard, ``<base_url>/asset/<asset_no>``, or the bare number without a
base URL, so one scan opens the asset on site.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics import renderPDF  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from facility.errors import ConfigError
from facility.types import AssetStatus, DeviceClass
from maintenance.reports.card import qr_drawing
from maintenance.sheet import BOLD, cjk_font, qr_text
from maintenance.store import LedgerStore

WIDTH, HEIGHT = A4
# 3 x 8 labels of 70 x 36 mm, the common A4 label stock (e.g. 24 per sheet)
COLUMNS, ROWS = 3, 8
LABEL_W, LABEL_H = 70 * mm, 36 * mm
TOP = (HEIGHT - ROWS * LABEL_H) / 2
QR = 26 * mm
PER_PAGE = COLUMNS * ROWS


@dataclass(frozen=True)
class AssetTag:
    """What one label shows."""

    asset_no: str
    name_zh: str
    name_en: str
    qr: str  # the text the QR code encodes


def asset_labels(
    url: str, site: str, *, device_class: str | None = None, base_url: str | None = None
) -> list[AssetTag]:
    """The labels of a site's assets (one class when given), retired ones left out, in
    number order. ConfigError for a site or class the ledger does not know."""
    cls: DeviceClass | None = None
    if device_class:
        try:
            cls = DeviceClass(device_class.strip().upper())
        except ValueError:
            known = ", ".join(c.value for c in DeviceClass)
            raise ConfigError(
                f"--class {device_class[:20]!r}: unknown device class; expected one of {known}"
            ) from None
    with LedgerStore(url, migrate=False) as ledger:
        codes = [s.code for s in ledger.sites()]
        code = site.strip().upper()
        if code not in codes:
            raise ConfigError(
                f"--site {site[:20]!r}: unknown estate; expected one of {', '.join(codes)}"
            )
        assets = ledger.assets(code, device_class=cls)
    return [
        AssetTag(a.asset_no, a.name_zh, a.name_en, qr_text(a.asset_no, base_url or None))
        for a in assets
        if a.status is not AssetStatus.RETIRED
    ]


def _lines(text: str, font: str, size: float, width: float, most: int) -> list[str]:
    lines: list[str] = simpleSplit(text, font, size, width) or [""]
    return lines[:most]


def _label(canvas: Canvas, tag: AssetTag, x: float, y: float, font: str) -> None:
    """One label with its top-left corner at (x, y)."""
    canvas.setStrokeGray(0.85)
    canvas.rect(x, y - LABEL_H, LABEL_W, LABEL_H)  # a cutting guide, light
    pad = (LABEL_H - QR) / 2
    renderPDF.draw(qr_drawing(tag.qr, QR), canvas, x + pad, y - pad - QR)
    left = x + QR + 2 * pad
    width = x + LABEL_W - pad - left
    line_y = y - pad - 4 * mm
    canvas.setFillGray(0)
    canvas.setFont(BOLD, 12)
    canvas.drawString(left, line_y, tag.asset_no)
    line_y -= 5.5 * mm
    canvas.setFont(font, 8)
    for line in _lines(tag.name_zh, font, 8, width, 2):
        canvas.drawString(left, line_y, line)
        line_y -= 3.6 * mm
    canvas.setFont(font, 7)
    for line in _lines(tag.name_en, font, 7, width, 3):
        canvas.drawString(left, line_y, line)
        line_y -= 3.2 * mm


def render_labels_pdf(tags: Sequence[AssetTag], *, compress: bool = True) -> bytes:
    """The labels as A4 pages of 3 x 8; an empty list gives one page saying so."""
    font = cjk_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1 if compress else 0)
    canvas.setTitle("asset labels")
    canvas.setAuthor("facility")
    left = (WIDTH - COLUMNS * LABEL_W) / 2
    if not tags:
        canvas.setFont(font, 12)
        canvas.drawString(left, HEIGHT - TOP, "No assets to label. 没有需要标签的设备。")
    for start in range(0, len(tags), PER_PAGE):
        if start:
            canvas.showPage()
        for i, tag in enumerate(tags[start : start + PER_PAGE]):
            row, column = divmod(i, COLUMNS)
            _label(canvas, tag, left + column * LABEL_W, HEIGHT - TOP - row * LABEL_H, font)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
