"""The daily check sheet (日检表) as an A4 PDF: one table per section, a blank tick box on
each line, a box for the hand reading of each counter, remarks and the signatures.

Built with the report renderer's styles and tables (``pdf.Styles``, ``pdf.table``), so the
sheet and the reports look alike and their text can be extracted again.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from maintenance.reports.daily import DailySheet, Section
from maintenance.reports.pdf import CONTENT, MARGIN, Styles, table
from maintenance.reports.text import Lang, label

TICK = 8 * mm


def _when(moment: datetime | None, tz: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    return "-" if moment is None else moment.astimezone(tz).strftime(fmt)


def _section(
    title: str,
    section: Section[Any],
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    styles: Styles,
    lang: Lang,
    *,
    tick: bool = True,
) -> list[Any]:
    story: list[Any] = [Paragraph(title, styles.h2)]
    if section.state == "unavailable":
        return [*story, Paragraph(label("source_unavailable", lang), styles.banner)]
    if section.state == "absent":
        return [*story, Paragraph(label("no_source", lang), styles.body)]
    if not rows:
        return [*story, Paragraph(label("none", lang), styles.body)]
    head = ["✓", *header] if tick else list(header)
    body = [["", *r] if tick else list(r) for r in rows]
    column_widths = [TICK, *widths] if tick else list(widths)
    story.append(table([head, *body], column_widths, styles, numeric_from=len(head)))
    return story


def render_daily_pdf(sheet: DailySheet, lang: Lang, *, compress: bool = True) -> bytes:
    """The check sheet as PDF bytes."""
    styles = Styles()
    tz = ZoneInfo(sheet.timezone)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=14 * mm,
        bottomMargin=14 * mm, title=f"{sheet.site} daily {sheet.label}", author="facility",
        invariant=1, pageCompression=1 if compress else 0,
    )  # fmt: skip
    name = sheet.name_zh if lang == "zh" else sheet.name_en
    width = CONTENT - TICK
    story: list[Any] = [
        Paragraph(
            escape(f"{name} ({sheet.site}) — {label('daily', lang)} {sheet.label}"), styles.title
        ),
        Paragraph(
            f"{label('timezone', lang)} {sheet.timezone}   {label('generated', lang)}: "
            f"{_when(sheet.generated_at, tz, '%Y-%m-%d %H:%M')}",
            styles.body,
        ),
        Spacer(1, 3 * mm),
    ]

    def due_rows(statutory: bool) -> list[list[str]]:
        items = sheet.statutory if statutory else sheet.pm
        return [
            [
                i.number,
                i.asset_no,
                i.title_zh if lang == "zh" else i.title_en,
                _when(i.due, tz, "%Y-%m-%d"),
                label("overdue_mark", lang) if i.overdue else "",
            ]
            for i in items
        ]

    due_widths = (width * 0.24, width * 0.16, width * 0.36, width * 0.13, width * 0.11)
    due_header = [label(k, lang) for k in ("order", "asset", "title", "due", "state")]
    story += _section(
        label("pm_due", lang), Section("ok"), due_header, due_rows(False), due_widths, styles, lang
    )
    story += _section(
        label("statutory_due", lang), Section("ok"), due_header, due_rows(True), due_widths,
        styles, lang,
    )  # fmt: skip
    story += _section(
        label("standing_now", lang),
        sheet.standing,
        [label(k, lang) for k in ("asset", "alarm_id", "priority", "since", "state")],
        [
            [
                a.asset_no,
                a.alarm,
                label(a.priority, lang) if a.priority else "",
                _when(a.since, tz),
                a.state,
            ]
            for a in sheet.standing.items
        ],
        (width * 0.2, width * 0.3, width * 0.15, width * 0.2, width * 0.15),
        styles,
        lang,
    )
    story += _section(
        label("devices_comm", lang),
        sheet.devices,
        [label(k, lang) for k in ("asset", "reason", "last_seen")],
        [[d.asset_no, label(d.reason, lang), _when(d.last_seen, tz)] for d in sheet.devices.items],
        (width * 0.25, width * 0.45, width * 0.3),
        styles,
        lang,
    )
    story += _section(
        label("events_yesterday", lang),
        sheet.events,
        [label(k, lang) for k in ("time", "asset", "alarm_id", "event")],
        [
            [_when(e.at, tz, "%H:%M"), e.asset_no, e.alarm, label(kind, lang)]
            for kind, e in sheet.events.items
        ],
        (width * 0.15, width * 0.25, width * 0.3, width * 0.3),
        styles,
        lang,
    )
    story += _section(
        label("meter_day", lang),
        sheet.meters,
        [label(k, lang) for k in ("asset", "point", "historian", "time", "hand_reading")],
        [[m.asset_no, m.point, f"{m.value:,.1f}", _when(m.at, tz), ""] for m in sheet.meters.items],
        (CONTENT * 0.2, CONTENT * 0.22, CONTENT * 0.18, CONTENT * 0.15, CONTENT * 0.25),
        styles,
        lang,
        tick=False,
    )
    story.append(_signatures(styles, lang))
    doc.build(story)
    return buffer.getvalue()


def _signatures(styles: Styles, lang: Lang) -> Any:
    remarks = Table(
        [[Paragraph(label("remarks", lang), styles.body)], [""], [""]],
        colWidths=[CONTENT],
        rowHeights=[6 * mm, 9 * mm, 9 * mm],
        style=TableStyle([("LINEBELOW", (0, 1), (-1, -1), 0.25, "grey")]),
    )
    half = CONTENT / 2 - 2 * mm
    boxes = Table(
        [
            [
                Paragraph(
                    f"{label('checker', lang)}<br/><br/><br/>{label('date_time', lang)}:",
                    styles.body,
                ),
                Paragraph(
                    f"{label('reviewed', lang)}<br/><br/><br/>{label('date_time', lang)}:",
                    styles.body,
                ),
            ]
        ],
        colWidths=[half, half],
        rowHeights=[26 * mm],
        style=TableStyle(
            [
                ("BOX", (0, 0), (0, 0), 0.5, "black"),
                ("BOX", (1, 0), (1, 0), 0.5, "black"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        ),
        spaceBefore=4 * mm,
    )
    return KeepTogether([Spacer(1, 4 * mm), remarks, boxes])
