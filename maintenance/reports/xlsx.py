"""The report as a workbook: one sheet per section, numbers as numbers.

Ratios are stored as fractions with a percent format (0.979 shown as 97.9 %), hours and
counts as numbers; a figure that was not measured is an empty cell, never 0. Every text cell
goes through ``facility.spreadsheet.spreadsheet_cell`` (an alarm id or asset name starting
with ``=`` stays text).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from facility.spreadsheet import spreadsheet_cell
from maintenance.kpi import Ratio
from maintenance.reports.model import Report
from maintenance.reports.text import Lang, attention_text, label

PERCENT = "0.0%"
HOURS = "0.0"
HEAD = PatternFill("solid", fgColor="E8EEF5")


def _cell(value: Any) -> Any:
    return spreadsheet_cell(value) if isinstance(value, str) else value


def _sheet(
    book: Workbook,
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    formats: dict[int, str] | None = None,
) -> Worksheet:
    sheet = book.create_sheet(title[:31])
    sheet.append([_cell(h) for h in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEAD
    for row in rows:
        sheet.append([_cell(v) for v in row])
    for column, number_format in (formats or {}).items():
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = number_format
    for i, _ in enumerate(header):
        letter = sheet.cell(row=1, column=i + 1).column_letter
        sheet.column_dimensions[letter].width = 34 if i == 0 else 16
    sheet.freeze_panes = "A2"
    return sheet


def _ratio_cells(value: Ratio) -> list[Any]:
    return [value.value, value.good, value.total]


def render_xlsx(report: Report, lang: Lang) -> bytes:
    """The report as XLSX bytes."""
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)

    def L(key: str) -> str:  # a short alias keeps the tables readable
        return label(key, lang)

    summary: list[list[Any]] = [
        [L("period"), report.period, None, None],
        [L("assets"), report.assets, None, None],
        [L("availability"), report.availability, None, None],
        [L("downtime"), report.downtime_h, None, None],
        [L("pm_compliance"), *_ratio_cells(report.pm_compliance)],
        [L("timeliness"), *_ratio_cells(report.timeliness)],
        [L("target"), report.target, None, None],
        [L("response"), *_ratio_cells(report.response)],
        [L("mttr"), report.mttr_h, None, None],
        [L("mttr_no_hold"), report.mttr_no_hold_h, None, None],
        [L("mtbf"), report.mtbf_h, None, None],
        [L("mtbf_run"), report.mtbf_run_h, None, None],
        [L("failures"), report.failures, None, None],
    ]
    if not report.has_data and not report.unavailable:
        summary.insert(0, [L("no_data"), None, None, None])
    for name in report.unavailable:
        summary.insert(0, [L(f"{name}_unavailable"), None, None, None])
    sheet = _sheet(book, L("summary"), [L("figure"), L("value"), "good", "total"], summary)
    for row in sheet.iter_rows(min_row=2):
        name = row[0].value
        if name in (
            L("availability"),
            L("pm_compliance"),
            L("timeliness"),
            L("target"),
            L("response"),
        ):
            row[1].number_format = PERCENT
        elif isinstance(row[1].value, float):
            row[1].number_format = HOURS

    _sheet(
        book,
        L("attention"),
        [L("attention")],
        [[attention_text(a.key, a.values, lang)] for a in report.attention]
        or [[L("nothing_attention")]],
    )
    if report.estates:
        _sheet(
            book,
            L("estates"),
            [
                L("estate"),
                L("assets"),
                L("availability"),
                L("pm_compliance"),
                L("timeliness"),
                L("mttr"),
                L("open_at_end"),
            ],
            [
                [
                    e.site,
                    e.assets,
                    e.availability,
                    e.pm_compliance.value,
                    e.timeliness.value,
                    e.mttr_h,
                    e.open_at_end,
                ]
                for e in report.estates
            ],
            {2: PERCENT, 3: PERCENT, 4: PERCENT, 5: HOURS},
        )
    _sheet(
        book,
        L("classes"),
        [L("class"), L("assets"), L("availability"), L("downtime"), L("failures"), L("mttr")],
        [
            [c.scope, c.assets, c.availability, c.downtime_h, c.failures, c.mttr_h]
            for c in report.classes
        ],
        {2: PERCENT, 3: HOURS, 5: HOURS},
    )
    w = report.work_orders
    _sheet(
        book,
        L("work_orders"),
        [L("work_orders"), L("value")],
        [
            [L("created"), w.created],
            [L("created_corrective"), w.created_corrective],
            [L("created_preventive"), w.created_preventive],
            [L("done"), w.done],
            [L("open_at_end"), w.open_at_end],
            [L("overdue"), w.overdue],
            [L("backlog"), w.backlog_h],
            *[[L("down_at_end"), number] for number in report.down_at_end],
        ],
    )
    _sheet(
        book,
        L("by_priority"),
        [L("priority"), L("timeliness"), "good", "total", L("meets")],
        [
            [p.priority, p.ratio.value, p.ratio.good, p.ratio.total, p.meets]
            for p in report.by_priority
        ],
        {1: PERCENT},
    )
    a = report.alarms
    if a is None:
        key = "alarms_unavailable" if report.alarms_source == "unavailable" else "no_alarm_data"
        _sheet(book, L("alarms"), [L("alarms")], [[L(key)]])
    else:
        _sheet(
            book,
            L("alarms"),
            [L("figure"), L("value")],
            [
                [L("alarm_count"), a.alarms],
                [L("per_hour"), a.per_hour],
                [L("per_10min"), a.per_10min],
                [L("peak_10min"), a.peak_10min],
                [L("pct_10min_over"), a.pct_10min_over / 100],
                [L("pct_flood"), a.pct_time_in_flood / 100],
                [L("standing"), a.standing],
                [L("shelved"), a.shelved],
                [L("shelved_now"), a.shelved_now],
                [L("chattering"), a.chattering],
                [L("fleeting"), a.fleeting],
                [L("ack_median"), a.ack_median_s],
            ],
        )
        _sheet(
            book,
            L("top10"),
            [L("alarm_id"), L("count"), L("share")],
            [[b.alarm_id, b.count, b.share / 100] for b in a.top],
            {2: PERCENT},
        )
    m = report.meters
    if m is None:
        key = "meters_unavailable" if report.meters_source == "unavailable" else "no_meter_data"
        _sheet(book, L("meters"), [L("meters")], [[L(key)]])
    else:
        _sheet(
            book,
            L("meters"),
            [L("figure"), L("value")],
            [
                [L("energy"), m.energy_kwh],
                [L("water"), m.water_m3],
                [L("run_hours"), m.run_hours],
                [L("counters"), m.counters],
            ],
        )
    _sheet(
        book,
        L("trend"),
        [
            L("period"),
            L("availability"),
            L("pm_compliance"),
            L("timeliness"),
            L("alarm_count"),
            L("created"),
            L("done"),
            L("energy"),
            L("water"),
        ],
        [
            [
                t.label,
                t.availability,
                t.pm_compliance,
                t.timeliness,
                t.alarms,
                t.created,
                t.done,
                t.energy_kwh,
                t.water_m3,
            ]
            for t in report.trend
        ],
        {1: PERCENT, 2: PERCENT, 3: PERCENT},
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
