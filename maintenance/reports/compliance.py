"""The compliance calendar: an estate's statutory and contractual items over a year, month by
month, done / due / missed, with the evidence of each (the order, when it was done, its
checklist result).

    calendar = build_compliance(db, "HT", 2026)
    pdf = render_compliance_pdf(calendar, "zh"); xlsx = render_compliance_xlsx(calendar, "en")

The items are the work orders of the statutory plans (``statutory.STATUTORY``: tank cleaning
with its water test, quarterly water quality, the fire system's daily, monthly and annual
checks) and of any plan a profile flags ``statutory_max``. Each order counts in the month
(estate time) it was due:

done    completed by its completion deadline
late    completed, but after its deadline
due     not completed, deadline not passed yet
missed  not completed and the deadline passed

``classify`` and ``calendar_rows`` are the pure core; ``build_compliance`` reads.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
)
from sqlalchemy import select

from facility.errors import ConfigError
from facility.spreadsheet import spreadsheet_cell
from maintenance.db import Database
from maintenance.reports.pdf import MARGIN, Styles, table
from maintenance.reports.queries import check_site, sites
from maintenance.reports.statutory import StatutoryItem, statutory_item
from maintenance.reports.text import Lang
from maintenance.wo_schema import ChecklistItemRow, PmPlanRow, WorkOrderRow

Status = Literal["done", "late", "due", "missed"]
STATUSES: tuple[Status, ...] = ("done", "late", "due", "missed")
# Daily items make ~365 orders a year per asset: the evidence lists those only when they
# went wrong (missed, late, a failed check); the calendar still counts every one.
QUIET_WHEN_FINE = frozenset({"daily"})

TEXT: dict[str, tuple[str, str]] = {
    "title": ("Compliance calendar", "法定检查日历"),
    "item": ("Item", "项目"),
    "asset": ("Asset", "设备"),
    "rule": ("Rule", "要求"),
    "evidence": ("Evidence", "检查记录"),
    "order": ("Order", "工单"),
    "due_on": ("Due", "到期"),
    "status": ("Status", "状态"),
    "completed": ("Completed", "完成"),
    "checklist": ("Checklist", "检查结果"),
    "done": ("done", "已完成"),
    "late": ("late", "逾期完成"),
    "due": ("due", "待完成"),
    "missed": ("missed", "未完成"),
    "legend": (
        "Cells: done / late / due / missed orders of the month (estate time).",
        "单元格：当月 已完成 / 逾期完成 / 待完成 / 未完成 工单数（当地时间）。",
    ),
    "none": ("No statutory item recorded for this year.", "本年度无法定检查记录。"),
    "totals": ("Totals", "合计"),
    "generated": ("Generated", "生成时间"),
}


def text(key: str, lang: Lang) -> str:
    en, zh = TEXT[key]
    return zh if lang == "zh" else en


@dataclass(frozen=True)
class Occurrence:
    """One statutory order and its evidence."""

    item: StatutoryItem
    asset_no: str
    number: str
    due_at: datetime
    completion_due: datetime
    completed_at: datetime | None
    checks_total: int
    checks_passed: int
    checks_failed: int

    def checklist_result(self) -> str:
        if not self.checks_total:
            return "-"
        failed = f", {self.checks_failed} FAIL" if self.checks_failed else ""
        return f"{self.checks_passed}/{self.checks_total} OK{failed}"


@dataclass(frozen=True)
class CalendarRow:
    """One item on one asset: counts of each status per month (index 0 = January)."""

    item: StatutoryItem
    asset_no: str
    months: tuple[Counter[Status], ...]


@dataclass(frozen=True)
class ComplianceCalendar:
    site: str
    name_en: str
    name_zh: str
    year: int
    timezone: str
    generated_at: datetime
    rows: tuple[CalendarRow, ...]
    evidence: tuple[tuple[Occurrence, Status], ...]  # due order


# -- the pure core ----------------------------------------------------------------------------


def classify(occurrence: Occurrence, now: datetime) -> Status:
    """Done, late, due or missed at ``now``."""
    if occurrence.completed_at is not None:
        return "done" if occurrence.completed_at <= occurrence.completion_due else "late"
    return "missed" if occurrence.completion_due < now else "due"


def calendar_rows(
    occurrences: Iterable[Occurrence], tz: ZoneInfo, now: datetime
) -> list[CalendarRow]:
    """Per (item, asset), per local month of the due date, the count of each status."""
    cells: dict[tuple[str, str], list[Counter[Status]]] = {}
    items: dict[str, StatutoryItem] = {}
    for occurrence in occurrences:
        key = (occurrence.item.key, occurrence.asset_no)
        items[occurrence.item.key] = occurrence.item
        months = cells.setdefault(key, [Counter() for _ in range(12)])
        months[occurrence.due_at.astimezone(tz).month - 1][classify(occurrence, now)] += 1
    order = {k: i for i, k in enumerate(_ITEM_ORDER)}
    return [
        CalendarRow(items[key], asset_no, tuple(months))
        for (key, asset_no), months in sorted(
            cells.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][0], kv[0][1])
        )
    ]


def _shows(occurrence: Occurrence, status: Status) -> bool:
    quiet = occurrence.item.rule_en in QUIET_WHEN_FINE
    return not quiet or status != "done" or occurrence.checks_failed > 0


# -- reading ----------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _flagged(asset_no: str, plan: PmPlanRow) -> StatutoryItem | None:
    """The statutory table's item, or one made for a plan a profile flags ``statutory_max``."""
    item = statutory_item(asset_no, plan.name)
    if item is not None or not (plan.definition or {}).get("statutory_max"):
        return item
    cls = asset_no.split("-")[1] if asset_no.count("-") >= 2 else ""
    return StatutoryItem(
        plan.name, cls, plan.name, plan.title_en, plan.title_zh, "statutory maximum", "法定最长间隔"
    )


def read_occurrences(db: Database, site: str, start: datetime, end: datetime) -> list[Occurrence]:
    """Statutory orders of ``site`` due in ``[start, end)`` (cancelled ones left out)."""
    query = (
        select(WorkOrderRow, PmPlanRow)
        .join(PmPlanRow, WorkOrderRow.plan_id == PmPlanRow.id)
        .where(
            WorkOrderRow.site == site,
            WorkOrderRow.kind == "preventive",
            WorkOrderRow.due_at >= start,
            WorkOrderRow.due_at < end,
            WorkOrderRow.cancelled_at.is_(None),
        )
        .order_by(WorkOrderRow.due_at, WorkOrderRow.number)
    )
    found: list[tuple[WorkOrderRow, StatutoryItem]] = []
    with db.transaction() as tx:
        for order, plan in tx.execute(query):
            item = _flagged(order.asset_no, plan)
            if item is not None:
                found.append((order, item))
        checks: dict[int, list[ChecklistItemRow]] = {}
        ids = [order.id for order, _ in found]
        for chunk in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            rows = tx.execute(
                select(ChecklistItemRow).where(
                    ChecklistItemRow.work_order_id.in_(ids[chunk : chunk + 500])
                )
            ).scalars()
            for row in rows:
                checks.setdefault(row.work_order_id, []).append(row)
        result = []
        for order, item in found:
            lines = checks.get(order.id, [])
            assert order.due_at is not None  # the query asks for a due date
            result.append(
                Occurrence(
                    item,
                    order.asset_no,
                    order.number,
                    _utc(order.due_at),
                    _utc(order.completion_due),
                    _utc(order.completed_at) if order.completed_at else None,
                    len(lines),
                    sum(1 for line in lines if line.passed is True),
                    sum(1 for line in lines if line.passed is False),
                )
            )
    return result


def build_compliance(
    db: Database, site: str, year: int | str, *, now: datetime | None = None
) -> ComplianceCalendar:
    """The calendar of one estate for one year (ConfigError: unknown estate, bad year)."""
    try:
        year_no = int(str(year).strip())
    except ValueError:
        year_no = 0
    if not 2000 <= year_no <= 2100:
        raise ConfigError(f"--year {str(year)[:20]!r}: expected a year such as 2026")
    known = sites(db)
    code = check_site(known, site)
    if code is None:
        raise ConfigError("--site all: the compliance calendar is per estate; give one code")
    info = known[code]
    tz = ZoneInfo(info.timezone)
    start = datetime(year_no, 1, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(year_no + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    moment = now or datetime.now(UTC)
    occurrences = read_occurrences(db, code, start, end)
    statuses = [(o, classify(o, moment)) for o in occurrences]
    return ComplianceCalendar(
        code,
        info.name_en,
        info.name_zh,
        year_no,
        info.timezone,
        moment,
        tuple(calendar_rows(occurrences, tz, moment)),
        tuple((o, s) for o, s in statuses if _shows(o, s)),
    )


_ITEM_ORDER = ("tank_cleaning", "water_quality", "fire_daily", "fire_monthly", "fire_annual")


# -- rendering --------------------------------------------------------------------------------


def cell_text(counts: Counter[Status]) -> str:
    """A month's cell: ``done/late/due/missed``, blank when nothing was due."""
    if not counts:
        return ""
    return "/".join(str(counts[s]) for s in STATUSES)


def _item_name(item: StatutoryItem, lang: Lang) -> str:
    return item.title_zh if lang == "zh" else item.title_en


def _rule(item: StatutoryItem, lang: Lang) -> str:
    return item.rule_zh if lang == "zh" else item.rule_en


def _day(moment: datetime | None, tz: ZoneInfo) -> str:
    return "-" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d")


def _calendar_table(calendar: ComplianceCalendar, lang: Lang) -> list[list[str]]:
    head = [text("item", lang), text("asset", lang), *(f"{m}" for m in range(1, 13))]
    body = [
        [f"{_item_name(r.item, lang)} ({_rule(r.item, lang)})", r.asset_no]
        + [cell_text(c) for c in r.months]
        for r in calendar.rows
    ]
    return [head, *body]


def _evidence_table(calendar: ComplianceCalendar, lang: Lang) -> list[list[str]]:
    tz = ZoneInfo(calendar.timezone)
    head = [
        text(k, lang)
        for k in ("item", "asset", "due_on", "status", "order", "completed", "checklist")
    ]
    body = [
        [
            _item_name(o.item, lang),
            o.asset_no,
            _day(o.due_at, tz),
            text(status, lang),
            o.number,
            _day(o.completed_at, tz),
            o.checklist_result(),
        ]
        for o, status in calendar.evidence
    ]
    return [head, *body]


def _escaped(rows: list[list[str]]) -> list[list[str]]:
    """Cells as Paragraph text: a site name with ``&`` must not be read as markup."""
    return [[escape(cell) for cell in row] for row in rows]


def _title(calendar: ComplianceCalendar, lang: Lang) -> str:
    name = calendar.name_zh if lang == "zh" else calendar.name_en
    return f"{name} ({calendar.site}) — {text('title', lang)} {calendar.year}"


def render_compliance_pdf(
    calendar: ComplianceCalendar, lang: Lang, *, compress: bool = True
) -> bytes:
    """The calendar (landscape A4): the month grid, then the evidence."""
    styles = Styles()
    tz = ZoneInfo(calendar.timezone)
    page = landscape(A4)
    width = page[0] - 2 * MARGIN
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=page, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=12 * mm,
        bottomMargin=12 * mm, title=f"{calendar.site} compliance {calendar.year}",
        author="facility", invariant=1, pageCompression=1 if compress else 0,
    )  # fmt: skip
    story: list[Any] = [
        Paragraph(escape(_title(calendar, lang)), styles.title),
        Paragraph(
            f"{text('generated', lang)}: {calendar.generated_at.astimezone(tz):%Y-%m-%d %H:%M} "
            f"({calendar.timezone}). {text('legend', lang)}",
            styles.body,
        ),
    ]
    if not calendar.rows:
        story.append(Paragraph(text("none", lang), styles.banner))
    else:
        month = (width - 95 * mm) / 12
        widths = [65 * mm, 30 * mm, *([month] * 12)]
        bad = [i + 1 for i, r in enumerate(calendar.rows) if any(c["missed"] for c in r.months)]
        story.append(table(_escaped(_calendar_table(calendar, lang)), widths, styles, bad_rows=bad,
                           numeric_from=2))  # fmt: skip
        story.append(Paragraph(text("evidence", lang), styles.h2))
        widths = [60 * mm, 30 * mm, 25 * mm, 25 * mm, 40 * mm, 25 * mm]
        widths.append(width - sum(widths))
        rows = _escaped(_evidence_table(calendar, lang))
        bad = [i + 1 for i, (_, s) in enumerate(calendar.evidence) if s == "missed"]
        story.append(table(rows, widths, styles, bad_rows=bad, numeric_from=7))
    doc.build(story)
    return buffer.getvalue()


def _sheet(book: Workbook, title: str, rows: Sequence[Sequence[Any]]) -> None:
    sheet = book.create_sheet(title)
    for row in rows:
        sheet.append([spreadsheet_cell(v) for v in row])


def render_compliance_xlsx(calendar: ComplianceCalendar, lang: Lang) -> bytes:
    """The calendar as a workbook: one sheet of counts per month (numbers), one of evidence."""
    book = Workbook()
    book.remove(book.active)
    head = [text("item", lang), text("asset", lang), text("status", lang)]
    grid: list[list[Any]] = [[_title(calendar, lang)], [*head, *range(1, 13)]]
    for r in calendar.rows:
        for status in STATUSES:
            grid.append(
                [_item_name(r.item, lang), r.asset_no, text(status, lang)]
                + [c[status] for c in r.months]
            )
    if not calendar.rows:
        grid.append([text("none", lang)])
    _sheet(book, text("title", lang)[:31], grid)
    _sheet(book, text("evidence", lang)[:31], _evidence_table(calendar, lang))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
