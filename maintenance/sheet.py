"""The printable work-order sheet: one A4 PDF per order, in Chinese and English.

The asset's QR code (its number, or ``<base_url>/asset/<asset_no>`` when a dashboard URL is
given: scanning it on site opens the asset), the order's facts and SLA times, the checklist
with a box per answer, failure-code, labour and parts lines for the technician to fill in,
and signature boxes. Drawn with reportlab's canvas; Chinese text uses the Adobe CID font
STSong-Light, which every PDF viewer has, so no font file ships with the project. The QR
code's modules are drawn as vector squares from ``qrcode``'s matrix (no image library).
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode  # type: ignore[import-untyped]
from qrcode.constants import ERROR_CORRECT_M  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.lib.utils import simpleSplit  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from maintenance.wo_store import AssetLabel
from maintenance.workorders import ChecklistLine, WoKind, WorkOrder

CID_FONT = "STSong-Light"
LATIN = "Helvetica"
BOLD = "Helvetica-Bold"
MARGIN = 15 * mm
WIDTH, HEIGHT = A4
QR_SIZE = 32 * mm

log = logging.getLogger(__name__)

KIND_TEXT = {
    "pass_fail": "合格/不合格",
    "number": "数值",
    "meter": "读数",
    "text": "文字",
    "photo": "照片",
}


# TrueType fonts with Chinese glyphs, embedded (subset) when one is found: the sheet then
# prints the same everywhere. Without one, the CID font STSong-Light is referenced, which
# Adobe Reader and viewers on a Chinese system show, but a bare Linux viewer may not.
# $FACILITY_SHEET_FONT names another .ttf/.ttc file.
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
)
EMBEDDED = "FacilityCJK"
_font: list[str] = []


def _cjk() -> str:
    return cjk_font()


def cjk_font() -> str:
    """The registered name of the font used for Chinese text (found once per process)."""
    if _font:
        return _font[0]
    candidates = [os.environ.get("FACILITY_SHEET_FONT", ""), *CJK_FONT_FILES]
    for path in candidates:
        if path and Path(path).is_file():
            try:
                pdfmetrics.registerFont(TTFont(EMBEDDED, path, subfontIndex=0))
            except Exception as exc:  # a font reportlab cannot read: try the next
                log.warning("sheet font %s unusable: %s", path, exc)
                continue
            _font.append(EMBEDDED)
            return EMBEDDED
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    _font.append(CID_FONT)
    return CID_FONT


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code of ``text`` as rows of dark (True) and light modules."""
    code = qrcode.QRCode(border=0, error_correction=ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


ASSET_PAGE = "/asset/"  # the dashboard's asset page (dashboards/pages/asset.py)


def qr_text(asset_no: str, base_url: str | None) -> str:
    """What an asset's QR code holds: its page on the dashboard, or its number alone."""
    return f"{base_url.rstrip('/')}{ASSET_PAGE}{asset_no}" if base_url else asset_no


class _Page:
    """A canvas with a cursor moving down the page, starting new pages as needed."""

    def __init__(self, canvas: Canvas, number: str) -> None:
        self.canvas = canvas
        self.number = number
        self.y = HEIGHT - MARGIN
        self.page = 1

    def need(self, height: float) -> None:
        if self.y - height < MARGIN + 3 * mm:
            self.footer()
            self.canvas.showPage()
            self.page += 1
            self.y = HEIGHT - MARGIN
            self.text(MARGIN, f"{self.number} (续 / continued)", None, 10)
            self.y -= 8 * mm

    def footer(self) -> None:
        self.canvas.setFont(LATIN, 8)
        self.canvas.drawRightString(WIDTH - MARGIN, MARGIN / 2, f"{self.number}  p. {self.page}")

    def text(self, x: float, value: str, font: str | None = None, size: float = 10) -> None:
        self.canvas.setFont(font or _cjk(), size)
        self.canvas.drawString(x, self.y, value)

    def wrapped(self, x: float, value: str, width: float, size: float = 10) -> None:
        for line in simpleSplit(value, _cjk(), size, width) or [""]:
            self.need(size * 1.4)
            self.text(x, line, _cjk(), size)
            self.y -= size * 1.4


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def _draw_qr(canvas: Canvas, matrix: Sequence[Sequence[bool]], x: float, y: float) -> None:
    """The QR code with its top-left corner at (x, y)."""
    module = QR_SIZE / len(matrix)
    canvas.setFillGray(0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                canvas.rect(x + c * module, y - (r + 1) * module, module, module, 0, 1)


def _field(page: _Page, label: str, value: str, x: float, width: float) -> None:
    page.canvas.setFont(_cjk(), 8)
    page.canvas.setFillGray(0.35)
    page.canvas.drawString(x, page.y + 3.2 * mm, label)
    page.canvas.setFillGray(0)
    page.canvas.setFont(_cjk(), 10)
    for i, line in enumerate(simpleSplit(value, _cjk(), 10, width)[:2]):
        page.canvas.drawString(x, page.y - i * 4.2 * mm, line)


def _checklist(page: _Page, items: Sequence[ChecklistLine]) -> None:
    left, right = MARGIN, WIDTH - MARGIN
    columns = (left, left + 9 * mm, right - 62 * mm, right - 38 * mm)
    page.need(12 * mm)
    page.text(left, "检查项目 Checklist", _cjk(), 11)
    page.y -= 6 * mm
    page.canvas.setFont(_cjk(), 8)
    for x, title in zip(columns, ("#", "项目 / Item", "类型 / 范围", "结果 Result"), strict=True):
        page.canvas.drawString(x, page.y, title)
    page.y -= 2 * mm
    page.canvas.line(left, page.y, right, page.y)
    for item in items:
        text = f"{item.text_zh} / {item.text_en}"
        lines = simpleSplit(text, _cjk(), 9, columns[2] - columns[1] - 2 * mm)
        height = max(len(lines) * 4.2 * mm, 8 * mm) + 2 * mm
        page.need(height)
        top = page.y - 4.5 * mm
        page.canvas.setFont(LATIN, 9)
        page.canvas.drawString(columns[0], top, f"{item.position}{'*' if item.required else ''}")
        page.canvas.setFont(_cjk(), 9)
        for i, line in enumerate(lines):
            page.canvas.drawString(columns[1], top - i * 4.2 * mm, line)
        kind = KIND_TEXT.get(item.kind.value, item.kind.value)
        page.canvas.drawString(columns[2], top, kind)
        if item.limits_text():
            page.canvas.setFont(LATIN, 8)
            page.canvas.drawString(columns[2], top - 4 * mm, item.limits_text())
        if item.answered:
            answer = item.value_text if item.value_num is None else f"{item.value_num:g}"
            mark = {True: "OK", False: "FAIL", None: ""}[item.passed]
            page.canvas.setFont(_cjk(), 9)
            page.canvas.drawString(columns[3] + 1 * mm, top, f"{answer or ''} {mark}".strip())
        else:
            page.canvas.rect(columns[3], top - 3 * mm, right - columns[3], 7 * mm)
        page.y -= height
        page.canvas.setStrokeGray(0.8)
        page.canvas.line(left, page.y, right, page.y)
        page.canvas.setStrokeGray(0)
    page.y -= 4 * mm


def _blank_lines(page: _Page, title: str, labels: Sequence[str]) -> None:
    page.need(8 * mm + 8 * mm * len(labels))
    page.text(MARGIN, title, _cjk(), 11)
    page.y -= 8 * mm
    for label in labels:
        page.canvas.setFont(_cjk(), 9)
        page.canvas.drawString(MARGIN, page.y, label)
        page.canvas.line(MARGIN + 32 * mm, page.y - 1 * mm, WIDTH - MARGIN, page.y - 1 * mm)
        page.y -= 8 * mm


def _signatures(page: _Page) -> None:
    page.need(28 * mm)
    page.y -= 2 * mm
    box_w = (WIDTH - 2 * MARGIN - 6 * mm) / 2
    for i, (zh, en) in enumerate((("维修人员", "Technician"), ("验收人", "Verified by"))):
        x = MARGIN + i * (box_w + 6 * mm)
        page.canvas.rect(x, page.y - 24 * mm, box_w, 24 * mm)
        page.canvas.setFont(_cjk(), 9)
        page.canvas.drawString(x + 2 * mm, page.y - 5 * mm, f"{zh} {en} 签名 / signature")
        page.canvas.drawString(x + 2 * mm, page.y - 21 * mm, "日期 Date:")
    page.y -= 26 * mm


def render_sheet(
    order: WorkOrder,
    asset: AssetLabel,
    *,
    tz: ZoneInfo,
    base_url: str | None = None,
    compress: bool = True,
) -> bytes:
    """The order's sheet as PDF bytes (``compress=False`` leaves text streams readable)."""
    cjk_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1 if compress else 0)
    canvas.setTitle(f"{order.number} {order.title_en}")
    canvas.setAuthor("facility")
    page = _Page(canvas, order.number)

    kind = "预防性维护 Preventive" if order.kind is WoKind.PREVENTIVE else "维修 Corrective"
    page.text(MARGIN, "工单 Work order", _cjk(), 12)
    page.y -= 8 * mm
    page.text(MARGIN, order.number, BOLD, 18)
    page.y -= 6 * mm
    page.text(MARGIN, f"{kind}   优先级 Priority: {order.priority.value}", _cjk(), 10)
    page.y -= 5 * mm
    page.text(MARGIN, f"状态 State: {order.state.value}", _cjk(), 10)
    _draw_qr(canvas, qr_matrix(qr_text(order.asset_no, base_url)), WIDTH - MARGIN - QR_SIZE,
             HEIGHT - MARGIN)  # fmt: skip
    canvas.setFont(LATIN, 8)
    canvas.drawCentredString(
        WIDTH - MARGIN - QR_SIZE / 2, HEIGHT - MARGIN - QR_SIZE - 4 * mm, order.asset_no
    )
    page.y = HEIGHT - MARGIN - QR_SIZE - 12 * mm

    half = (WIDTH - 2 * MARGIN) / 2
    rows = [
        (("设备 Asset", f"{asset.asset_no}  {asset.name_zh}"), ("名称 Name", asset.name_en)),
        (
            ("位置 Location", f"{asset.site} {asset.building} {asset.zone}"),
            ("型号 Make / model / serial", f"{asset.make} {asset.model} {asset.serial}"),
        ),
        (("标题 Title", order.title_zh), ("Title", order.title_en)),
        (
            ("创建 Created", f"{_when(order.created_at, tz)} {order.created_by}"),
            ("计划 Plan", f"{order.plan_name or order.condition or '-'} {order.slot or ''}"),
        ),
        (
            ("响应时限 Respond by", _when(order.response_due, tz)),
            ("完成时限 Complete by", _when(order.completion_due, tz)),
        ),
        (
            ("负责人 Assignee", order.assignee or ""),
            ("工种 / 预计 Skill / est.", f"{order.skill} / {order.estimated_min} min"),
        ),
    ]
    for left, right in rows:
        page.need(10 * mm)
        _field(page, *left, MARGIN, half - 4 * mm)
        _field(page, *right, MARGIN + half, half)
        page.y -= 10 * mm
    if order.description:
        page.canvas.setFont(_cjk(), 8)
        page.canvas.drawString(MARGIN, page.y + 3.2 * mm, "说明 Description")
        page.wrapped(MARGIN, order.description, WIDTH - 2 * MARGIN, 9)
        page.y -= 3 * mm
    if order.checklist:
        _checklist(page, order.checklist)
    if order.kind is WoKind.CORRECTIVE:
        _blank_lines(
            page,
            "故障代码 Failure codes",
            ["现象 Problem", "原因 Cause", "处理 Remedy"],
        )
    _blank_lines(page, "工时与备件 Labour and parts", ["工时 Labour (min)", "备件 Parts", ""])
    _signatures(page)
    page.footer()
    canvas.save()
    return buffer.getvalue()
