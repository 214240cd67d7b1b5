"""The report as a PDF: A4, tables and trend charts drawn natively (reportlab graphics).

Laid out with reportlab's platypus (flowing tables that break across pages, a header and a
page number on each page). Text uses the work-order sheet's font (``maintenance.sheet.
cjk_font``: an embedded CJK TrueType font when one is installed), so Chinese and English
print the same everywhere and the text can be extracted again (the tests read it back).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart  # type: ignore[import-untyped]
from reportlab.graphics.charts.legends import Legend  # type: ignore[import-untyped]
from reportlab.graphics.charts.linecharts import (  # type: ignore[import-untyped]
    HorizontalLineChart,
)
from reportlab.graphics.shapes import Drawing, String  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from maintenance.reports.model import ALL, Report
from maintenance.reports.text import (
    Lang,
    attention_text,
    hours,
    label,
    number,
    pct,
    ratio,
)
from maintenance.sheet import cjk_font

WIDTH, HEIGHT = A4
MARGIN = 15 * mm
CONTENT = WIDTH - 2 * MARGIN
SERIES_COLOURS = (
    colors.HexColor("#1f77b4"),
    colors.HexColor("#2ca02c"),
    colors.HexColor("#d62728"),
    colors.HexColor("#ff7f0e"),
)
HEAD_BG = colors.HexColor("#e8eef5")
BAD_BG = colors.HexColor("#fde2e1")


class Styles:
    """Paragraph styles in the report font."""

    def __init__(self) -> None:
        font = cjk_font()
        self.font = font
        self.title = ParagraphStyle("title", fontName=font, fontSize=16, leading=20)
        self.h2 = ParagraphStyle(
            "h2",
            fontName=font,
            fontSize=12,
            leading=16,
            spaceBefore=8,
            spaceAfter=4,
            textColor=colors.HexColor("#1f3a5f"),
        )
        self.body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
        self.banner = ParagraphStyle(
            "banner", fontName=font, fontSize=11, leading=15, backColor=BAD_BG, borderPadding=4
        )


def table(
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    styles: Styles,
    *,
    bad_rows: Sequence[int] = (),
    numeric_from: int = 1,
) -> Table:
    """A table with a header row; columns from ``numeric_from`` right-aligned. Cells are text,
    never markup: names, notes and alarm texts come from people, and a ``<`` or ``&`` in them
    would otherwise be read as Paragraph markup (garbled, dropped, or a failed render)."""
    body = [
        [
            Paragraph(escape(str(cell)), styles.body) if i < numeric_from else str(cell)
            for i, cell in enumerate(row)
        ]
        for row in rows
    ]
    result = Table(body, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), styles.font, 9),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    commands += [("BACKGROUND", (0, r), (-1, r), BAD_BG) for r in bad_rows]
    result.setStyle(TableStyle(commands))
    return result


def _values(series: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else float(v) for v in series]


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    styles: Styles,
    *,
    width: float = CONTENT / 2 - 4 * mm,
    height: float = 55 * mm,
    value_min: float | None = None,
    value_max: float | None = None,
) -> Drawing:
    """Lines over the trend periods (a None is a gap, never a 0)."""
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 10, title, fontName=styles.font, fontSize=9))
    chart = HorizontalLineChart()
    chart.x, chart.y = 28, 28
    chart.width, chart.height = width - 36, height - 62
    # a line needs two points: a series with fewer is left out (with its legend entry)
    series = [(name, v) for name, v in series if sum(x is not None for x in v) >= 2]
    data = [_values(values) for _, values in series]
    if not data:
        drawing.add(String(width / 2, height / 2, "-", fontName=styles.font, fontSize=12))
        return drawing
    chart.data = data
    chart.categoryAxis.categoryNames = [_short(t) for t in labels]
    chart.categoryAxis.labels.fontName = styles.font
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 45
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.labels.fontName = styles.font
    chart.valueAxis.labels.fontSize = 7
    if value_min is not None:
        chart.valueAxis.valueMin = value_min
    if value_max is not None:
        chart.valueAxis.valueMax = value_max
    for i in range(len(data)):
        chart.lines[i].strokeColor = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        chart.lines[i].strokeWidth = 1.5
    drawing.add(chart)
    _legend(drawing, [name for name, _ in series], styles, width, height)
    return drawing


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    styles: Styles,
    *,
    width: float = CONTENT / 2 - 4 * mm,
    height: float = 55 * mm,
) -> Drawing:
    """Bars over the trend periods (a period without data has no bar)."""
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 10, title, fontName=styles.font, fontSize=9))
    data = [_values(values) for _, values in series]
    if not any(v is not None for row in data for v in row):
        drawing.add(String(width / 2, height / 2, "-", fontName=styles.font, fontSize=12))
        return drawing
    chart = VerticalBarChart()
    chart.x, chart.y = 34, 28
    chart.width, chart.height = width - 42, height - 62
    chart.data = [[0.0 if v is None else v for v in row] for row in data]
    chart.valueAxis.valueMin = 0
    chart.categoryAxis.categoryNames = [_short(t) for t in labels]
    chart.categoryAxis.labels.fontName = styles.font
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 45
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.labels.fontName = styles.font
    chart.valueAxis.labels.fontSize = 7
    for i in range(len(data)):
        chart.bars[i].fillColor = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        chart.bars[i].strokeWidth = 0
    drawing.add(chart)
    if len(series) > 1:
        _legend(drawing, [name for name, _ in series], styles, width, height)
    return drawing


def _short(period_label: str) -> str:
    # 2026-11 -> 26-11, 2026-W48 -> W48: twelve labels must fit under a half-page chart
    return period_label[5:] if "W" in period_label else period_label[2:]


def _legend(
    drawing: Drawing, names: Sequence[str], styles: Styles, width: float, height: float
) -> None:
    legend = Legend()
    legend.x, legend.y = 30, height - 16
    legend.fontName, legend.fontSize = styles.font, 7
    legend.columnMaximum = 1
    legend.alignment = "right"
    legend.deltax = min(70, (width - 40) / max(len(names), 1))
    legend.dx, legend.dy = 6, 6
    legend.colorNamePairs = [
        (SERIES_COLOURS[i % len(SERIES_COLOURS)], name) for i, name in enumerate(names)
    ]
    drawing.add(legend)


def _header_footer(report: Report, lang: Lang, font: str) -> Any:
    title = f"{_scope_name(report, lang)}  {label(report.kind, lang)}  {report.period}"

    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.setFillGray(0.4)
        canvas.drawString(MARGIN, HEIGHT - 9 * mm, title)
        canvas.drawRightString(WIDTH - MARGIN, 8 * mm, f"{label('page', lang)} {doc.page}")
        canvas.restoreState()

    return draw


def _scope_name(report: Report, lang: Lang) -> str:
    if report.scope == ALL:
        return label("company", lang)
    name = report.scope_zh if lang == "zh" else report.scope_en
    return f"{name} ({report.scope})" if name else report.scope


def summary_rows(report: Report, lang: Lang) -> list[list[str]]:
    """The headline table: figure, value, target."""
    target = pct(report.target)
    rows = [
        [label("figure", lang), label("value", lang), label("target", lang)],
        [label("assets", lang), str(report.assets), ""],
        [label("availability", lang), pct(report.availability), ""],
        [label("downtime", lang), hours(report.downtime_h), ""],
        [label("pm_compliance", lang), ratio(report.pm_compliance), "90.0 %"],
        [label("timeliness", lang), ratio(report.timeliness), target],
        [label("response", lang), ratio(report.response), ""],
        [label("mttr", lang), hours(report.mttr_h), ""],
        [label("mttr_no_hold", lang), hours(report.mttr_no_hold_h), ""],
        [label("mtbf", lang), hours(report.mtbf_h), ""],
        [label("mtbf_run", lang), hours(report.mtbf_run_h), ""],
        [label("failures", lang), str(report.failures), ""],
    ]
    return rows


def render_pdf(report: Report, lang: Lang, *, compress: bool = True) -> bytes:
    """The report as PDF bytes."""
    styles = Styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=f"{report.scope} {report.kind} {report.period}",
        author="facility",
        invariant=1,
        pageCompression=1 if compress else 0,
    )
    generated = report.generated_at.astimezone(report.start.tzinfo)
    story: list[Any] = [
        Paragraph(
            escape(f"{_scope_name(report, lang)} — {label(report.kind, lang)} {report.period}"),
            styles.title,
        ),
        Paragraph(
            f"{label('period', lang)}: {report.start:%Y-%m-%d} .. "
            f"{report.end:%Y-%m-%d} ({label('timezone', lang)} {report.timezone})   "
            f"{label('generated', lang)}: {generated:%Y-%m-%d %H:%M}",
            styles.body,
        ),
        Spacer(1, 4 * mm),
    ]
    for name in report.unavailable:
        story += [Paragraph(label(f"{name}_unavailable", lang), styles.banner), Spacer(1, 2 * mm)]
    if not report.has_data and not report.unavailable:
        story += [Paragraph(label("no_data", lang), styles.banner), Spacer(1, 4 * mm)]
    half = CONTENT / 2 - 2 * mm
    summary = table(summary_rows(report, lang), (half * 0.55, half * 0.28, half * 0.17), styles)
    attention = [Paragraph(label("attention", lang), styles.h2)]
    if report.attention:
        attention += [
            Paragraph(
                escape(
                    f"{'●' if a.severity == 1 else '○'} {attention_text(a.key, a.values, lang)}"
                ),
                styles.body,
            )
            for a in report.attention
        ]
    else:
        attention.append(Paragraph(label("nothing_attention", lang), styles.body))
    story += [
        Paragraph(label("summary", lang), styles.h2),
        Table(
            [[summary, attention]],
            colWidths=[half + 4 * mm, half],
            style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
        ),
    ]
    story += _trend_charts(report, lang, styles)
    if report.estates:
        story.append(Paragraph(label("estates", lang), styles.h2))
        rows = [
            [
                label(k, lang)
                for k in (
                    "estate",
                    "assets",
                    "availability",
                    "pm_compliance",
                    "timeliness",
                    "mttr",
                    "open_at_end",
                )
            ]
        ]
        rows += [
            [
                e.site,
                str(e.assets),
                pct(e.availability),
                ratio(e.pm_compliance),
                ratio(e.timeliness),
                hours(e.mttr_h),
                str(e.open_at_end),
            ]
            for e in report.estates
        ]
        story.append(
            table(
                rows,
                (20 * mm, 20 * mm, 25 * mm, 35 * mm, 35 * mm, 22 * mm, CONTENT - 157 * mm),
                styles,
            )
        )
    story.append(Paragraph(label("classes", lang), styles.h2))
    rows = [
        [
            label(k, lang)
            for k in ("class", "assets", "availability", "downtime", "failures", "mttr")
        ]
    ]
    bad = []
    for i, c in enumerate(report.classes, start=1):
        rows.append(
            [
                c.scope,
                str(c.assets),
                pct(c.availability),
                hours(c.downtime_h),
                str(c.failures),
                hours(c.mttr_h),
            ]
        )
        if c.availability is not None and c.availability < 0.98:
            bad.append(i)
    story.append(
        table(
            rows,
            (30 * mm, 25 * mm, 30 * mm, 30 * mm, 25 * mm, CONTENT - 140 * mm),
            styles,
            bad_rows=bad,
        )
    )
    story += _work_orders(report, lang, styles)
    story += _alarms(report, lang, styles)
    story += _meters(report, lang, styles)
    doc.build(
        story,
        onFirstPage=_header_footer(report, lang, styles.font),
        onLaterPages=_header_footer(report, lang, styles.font),
    )
    return buffer.getvalue()


def _trend_charts(report: Report, lang: Lang, styles: Styles) -> list[Any]:
    trend = report.trend
    labels = [t.label for t in trend]
    percent = line_chart(
        label("trend_pct", lang),
        labels,
        [
            (
                label("availability", lang),
                [None if t.availability is None else t.availability * 100 for t in trend],
            ),
            (
                label("pm_compliance", lang),
                [None if t.pm_compliance is None else t.pm_compliance * 100 for t in trend],
            ),
            (
                label("timeliness", lang),
                [None if t.timeliness is None else t.timeliness * 100 for t in trend],
            ),
        ],
        styles,
        value_max=100,
    )
    orders = bar_chart(
        label("trend_orders", lang),
        labels,
        [
            (label("created", lang), [float(t.created) for t in trend]),
            (label("done", lang), [float(t.done) for t in trend]),
        ],
        styles,
    )
    alarms = bar_chart(
        label("trend_alarms", lang),
        labels,
        [
            (
                label("alarm_count", lang),
                [None if t.alarms is None else float(t.alarms) for t in trend],
            )
        ],
        styles,
    )
    energy = bar_chart(
        label("trend_energy", lang),
        labels,
        [(label("energy", lang), [t.energy_kwh for t in trend])],
        styles,
    )
    grid = Table([[percent, orders], [alarms, energy]], colWidths=[CONTENT / 2] * 2)
    return [Paragraph(label("trend", lang), styles.h2), grid]


def _work_orders(report: Report, lang: Lang, styles: Styles) -> list[Any]:
    w = report.work_orders
    rows = [
        [label("work_orders", lang), label("value", lang)],
        [label("created", lang), str(w.created)],
        [label("created_corrective", lang), str(w.created_corrective)],
        [label("created_preventive", lang), str(w.created_preventive)],
        [label("done", lang), str(w.done)],
        [label("open_at_end", lang), str(w.open_at_end)],
        [label("overdue", lang), str(w.overdue)],
        [label("backlog", lang), hours(w.backlog_h)],
    ]
    half = CONTENT / 2 - 2 * mm
    left = table(rows, (half * 0.65, half * 0.35), styles)
    priority_rows = [[label(k, lang) for k in ("priority", "timeliness", "meets")]]
    bad = []
    for i, p in enumerate(report.by_priority, start=1):
        meets = "-" if p.meets is None else label("yes" if p.meets else "no", lang)
        priority_rows.append([label(p.priority, lang), ratio(p.ratio), meets])
        if p.meets is False:
            bad.append(i)
    right = table(priority_rows, (half * 0.3, half * 0.45, half * 0.25), styles, bad_rows=bad)
    story: list[Any] = [
        Paragraph(f"{label('work_orders', lang)} / {label('by_priority', lang)}", styles.h2),
        Table(
            [[left, right]],
            colWidths=[half + 4 * mm, half],
            style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
        ),
    ]
    if report.down_at_end:
        story.append(
            Paragraph(f"{label('down_at_end', lang)}: {', '.join(report.down_at_end)}", styles.body)
        )
    return story


def _alarms(report: Report, lang: Lang, styles: Styles) -> list[Any]:
    story: list[Any] = [Paragraph(label("alarms", lang), styles.h2)]
    a = report.alarms
    if a is None:
        key = "alarms_unavailable" if report.alarms_source == "unavailable" else "no_alarm_data"
        return [*story, Paragraph(label(key, lang), styles.body)]
    half = CONTENT / 2 - 2 * mm
    rows = [
        [label("figure", lang), label("value", lang), label("target", lang)],
        [label("alarm_count", lang), str(a.alarms), ""],
        [label("per_hour", lang), f"{a.per_hour:.2f}", "≤ 6"],
        [label("per_10min", lang), f"{a.per_10min:.2f}", "≤ 1"],
        [label("peak_10min", lang), str(a.peak_10min), "≤ 10"],
        [label("pct_10min_over", lang), f"{a.pct_10min_over:.1f} %", "< 1 %"],
        [label("pct_flood", lang), f"{a.pct_time_in_flood:.1f} %", "< 1 %"],
        [label("standing", lang), str(a.standing), "0"],
        [label("shelved", lang), str(a.shelved), ""],
        [label("shelved_now", lang), str(a.shelved_now), ""],
        [label("chattering", lang), str(a.chattering), "0"],
        [label("fleeting", lang), str(a.fleeting), ""],
        [label("ack_median", lang), number(a.ack_median_s, 0), ""],
    ]
    left = table(rows, (half * 0.6, half * 0.22, half * 0.18), styles)
    top = [[label("alarm_id", lang), label("count", lang), label("share", lang)]]
    top += [[b.alarm_id, str(b.count), f"{b.share:.1f} %"] for b in a.top]
    right = table(top, (half * 0.6, half * 0.2, half * 0.2), styles)
    story += [
        Table(
            [[left, [Paragraph(label("top10", lang), styles.body), right]]],
            colWidths=[half + 4 * mm, half],
            style=[("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
        ),
    ]
    return story


def _meters(report: Report, lang: Lang, styles: Styles) -> list[Any]:
    story: list[Any] = [Paragraph(label("meters", lang), styles.h2)]
    m = report.meters
    if m is None:
        key = "meters_unavailable" if report.meters_source == "unavailable" else "no_meter_data"
        return [*story, Paragraph(label(key, lang), styles.body)]
    rows = [
        [label("figure", lang), label("value", lang)],
        [label("energy", lang), number(m.energy_kwh)],
        [label("water", lang), number(m.water_m3)],
        [label("run_hours", lang), number(m.run_hours)],
        [label("counters", lang), str(m.counters)],
    ]
    return [*story, table(rows, (60 * mm, 40 * mm), styles)]
