"""The equipment card (设备卡片): one asset's whole record in one PDF, as a property ledger
keeps it.

    card = build_card(url, "HT-PMP-001")
    pdf = render_card_pdf(card, "zh")

The ledger record (make, model, serial, install date, location), the status history, the
meter progression (readings kept in SQL), the alarm journal (raises, clears, ...), and every
work order with its checklist answers, failure codes, labour, parts and attachments. The
history comes from ``maintenance.timeline.asset_timeline`` (one source for the dashboard's
history and the card); the layout from the report renderer (``pdf.Styles``, ``pdf.table``),
with the asset's QR code drawn as on the work-order sheet.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.graphics.shapes import Drawing, Rect  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
)

from facility.errors import ConfigError
from facility.types import Asset
from maintenance.reports.pdf import CONTENT, MARGIN, Styles, table
from maintenance.reports.text import Lang
from maintenance.sheet import qr_matrix, qr_text
from maintenance.store import LedgerStore, StatusChange
from maintenance.timeline import EntryKind, TimelineEntry, asset_timeline
from maintenance.wo_store import WorkOrderStore
from maintenance.workorders import FailureCode, WorkOrder

QR = 28 * mm

# Labels of the card, (en, zh): the card's own words, kept here so the report labels of
# text.py stay the periodic reports'.
CARD_TEXT: dict[str, tuple[str, str]] = {
    "title": ("Equipment card", "设备卡片"),
    "ledger": ("Ledger record", "台账信息"),
    "asset_no": ("Asset number", "设备编号"),
    "name": ("Name", "名称"),
    "class": ("Class / system", "类别 / 系统"),
    "location": ("Location", "位置"),
    "make": ("Make / model", "品牌 / 型号"),
    "serial": ("Serial number", "出厂编号"),
    "installed": ("Installed", "安装日期"),
    "criticality": ("Criticality", "重要度"),
    "status": ("Status", "状态"),
    "profile": ("Device profile", "设备模板"),
    "status_history": ("Status history", "状态变更记录"),
    "meters": ("Meter readings", "仪表读数"),
    "alarms": ("Alarms", "报警记录"),
    "orders": ("Work orders", "工单记录"),
    "when": ("When", "时间"),
    "change": ("Change", "变更"),
    "by": ("By", "操作人"),
    "note": ("Note", "备注"),
    "point": ("Counter", "计量点"),
    "value": ("Value", "读数"),
    "source": ("Source", "来源"),
    "alarm": ("Alarm", "报警"),
    "event": ("Event", "事件"),
    "priority": ("Priority", "优先级"),
    "item": ("Item", "项目"),
    "answer": ("Answer", "结果"),
    "codes": ("Failure codes", "故障代码"),
    "problem": ("Problem", "现象"),
    "cause": ("Cause", "原因"),
    "remedy": ("Remedy", "处理"),
    "labour": ("Labour", "工时"),
    "parts": ("Parts", "备件"),
    "attachments": ("Photos and signatures", "照片与签名"),
    "none": ("None recorded.", "无记录。"),
    "generated": ("Generated", "生成时间"),
    "created": ("Created", "创建"),
    "completed": ("Completed", "完成"),
    "verified": ("Verified", "验收"),
    "unanswered": ("not answered", "未填写"),
}


def card_label(key: str, lang: Lang) -> str:
    en, zh = CARD_TEXT[key]
    return zh if lang == "zh" else en


@dataclass(frozen=True)
class EquipmentCard:
    """Everything one asset's card shows, read once; rendering reads nothing."""

    asset: Asset
    timezone: str
    statuses: tuple[StatusChange, ...]
    meters: tuple[TimelineEntry, ...]
    alarms: tuple[TimelineEntry, ...]
    orders: tuple[WorkOrder, ...]  # oldest first, each with its details
    codes: dict[str, FailureCode]
    generated_at: datetime
    base_url: str | None = None


def build_card(
    url: str, asset_no: str, *, base_url: str | None = None, now: datetime | None = None
) -> EquipmentCard:
    """The card of ``asset_no`` (ConfigError when the ledger does not have it)."""
    asset_no = asset_no.strip().upper()
    with LedgerStore(url, migrate=False) as ledger:
        asset = ledger.asset(asset_no)
        if asset is None:
            raise ConfigError(
                f"{asset_no[:40]!r}: not an asset of the ledger (facility ledger list)"
            )
        statuses = ledger.status_history(asset_no)
        zones = {s.code: s.timezone for s in ledger.sites()}
    with WorkOrderStore(url, migrate=False) as orders:
        listed = orders.orders(asset_no=asset_no)
        full = [orders.get(o.number) for o in sorted(listed, key=lambda o: o.created_at)]
        codes = orders.failure_codes()
        history = asset_timeline(
            orders.db, asset_no, kinds=frozenset({EntryKind.METER, EntryKind.ALARM})
        )
    return EquipmentCard(
        asset,
        zones.get(asset.site, "UTC"),
        tuple(statuses),
        tuple(e for e in history if e.kind is EntryKind.METER),
        tuple(e for e in history if e.kind is EntryKind.ALARM),
        tuple(full),
        codes,
        now or datetime.now(UTC),
        base_url,
    )


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return "-" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _code(card: EquipmentCard, code: str | None, lang: Lang) -> str:
    if not code:
        return "-"
    known = card.codes.get(code)
    if known is None:
        return code
    return f"{code} {known.label_zh if lang == 'zh' else known.label_en}"


def qr_drawing(text: str, size: float = QR) -> Drawing:
    """A QR code as a vector drawing of ``size`` points (dark modules as squares)."""
    matrix = qr_matrix(text)
    module = size / len(matrix)
    drawing = Drawing(size, size)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                drawing.add(
                    Rect(c * module, size - (r + 1) * module, module, module,
                         fillColor="black", strokeColor=None)
                )  # fmt: skip
    return drawing


def _table(rows: list[list[str]], widths: list[float], styles: Styles, numeric_from: int) -> Table:
    """``pdf.table`` (which escapes every cell: notes and answers are people's text)."""
    return table(rows, widths, styles, numeric_from=numeric_from)


def _text(value: str, styles: Styles) -> Paragraph:
    return Paragraph(escape(value), styles.body)


def _empty(styles: Styles, lang: Lang) -> Paragraph:
    return Paragraph(card_label("none", lang), styles.body)


def _ledger(card: EquipmentCard, styles: Styles, lang: Lang) -> list[Any]:
    a = card.asset

    def t(key: str) -> str:
        return card_label(key, lang)

    rows: list[tuple[str, str]] = [
        (t("asset_no"), a.asset_no),
        (t("name"), f"{a.name_zh} / {a.name_en}"),
        (t("class"), f"{a.device_class.value} / {a.system}"),
        (t("location"), f"{a.site} {a.building} {a.zone}"),
        (t("make"), f"{a.make} {a.model}"),
        (t("serial"), a.serial),
        (t("installed"), a.install_date.isoformat() if a.install_date else "-"),
        (t("criticality"), a.criticality.value),
        (t("status"), a.status.value),
        (t("profile"), a.profile or "-"),
    ]
    facts = Table(
        [[_text(k, styles), _text(v or "-", styles)] for k, v in rows],
        colWidths=[35 * mm, CONTENT - QR - 45 * mm],
        hAlign="LEFT",
    )
    code = qr_drawing(qr_text(a.asset_no, card.base_url))
    return [Table([[facts, code]], colWidths=[CONTENT - QR - 8 * mm, QR + 8 * mm])]


def _statuses(card: EquipmentCard, styles: Styles, lang: Lang, tz: ZoneInfo) -> list[Any]:
    def t(key: str) -> str:
        return card_label(key, lang)

    story: list[Any] = [Paragraph(t("status_history"), styles.h2)]
    if card.asset.install_date:
        story.append(
            Paragraph(f"{t('installed')}: {card.asset.install_date.isoformat()}", styles.body)
        )
    if not card.statuses:
        return [*story, _empty(styles, lang)]
    rows = [
        [
            _when(s.at, tz),
            f"{s.from_status.value if s.from_status else '-'} -> {s.to_status.value}",
            s.actor,
            s.note,
        ]
        for s in card.statuses
    ]
    header = [t("when"), t("change"), t("by"), t("note")]
    widths = [32 * mm, 50 * mm, 30 * mm, CONTENT - 112 * mm]
    return [*story, _table([header, *rows], widths, styles, 4)]


def _meters(card: EquipmentCard, styles: Styles, lang: Lang, tz: ZoneInfo) -> list[Any]:
    def t(key: str) -> str:
        return card_label(key, lang)

    story: list[Any] = [Paragraph(t("meters"), styles.h2)]
    if not card.meters:
        return [*story, _empty(styles, lang)]
    rows = [
        [_when(e.at, tz), e.ref, f"{e.detail.get('value', 0):g}", str(e.detail.get("source", "")),
         e.actor]
        for e in card.meters
    ]  # fmt: skip
    header = [t("when"), t("point"), t("value"), t("source"), t("by")]
    widths = [32 * mm, 45 * mm, 30 * mm, 30 * mm, CONTENT - 137 * mm]
    return [*story, _table([header, *rows], widths, styles, 2)]


def _alarms(card: EquipmentCard, styles: Styles, lang: Lang, tz: ZoneInfo) -> list[Any]:
    def t(key: str) -> str:
        return card_label(key, lang)

    story: list[Any] = [Paragraph(t("alarms"), styles.h2)]
    if not card.alarms:
        return [*story, _empty(styles, lang)]
    rows = [
        [_when(e.at, tz), e.ref.split(":", 1)[-1], e.action, str(e.detail.get("priority", "")),
         e.actor]
        for e in card.alarms
    ]  # fmt: skip
    header = [t("when"), t("alarm"), t("event"), t("priority"), t("by")]
    widths = [32 * mm, 50 * mm, 25 * mm, 25 * mm, CONTENT - 132 * mm]
    return [*story, _table([header, *rows], widths, styles, 5)]


def _answer(line: Any, lang: Lang) -> str:
    if line.answered_at is None:
        return card_label("unanswered", lang)
    value = line.value_text if line.value_num is None else f"{line.value_num:g}"
    mark = {True: "OK", False: "FAIL", None: ""}[line.passed]
    by = f" ({line.answered_by})" if line.answered_by else ""
    return f"{value or ''} {mark}".strip() + by


def _order(
    card: EquipmentCard, order: WorkOrder, styles: Styles, lang: Lang, tz: ZoneInfo
) -> list[Any]:
    def t(key: str) -> str:
        return card_label(key, lang)

    title = order.title_zh if lang == "zh" else order.title_en
    story: list[Any] = [
        Paragraph(
            f"<b>{escape(order.number)}</b> {escape(title)} — {order.kind.value}, "
            f"{order.priority.value}, {order.state.value}",
            styles.body,
        ),
        _text(
            f"{t('created')} {_when(order.created_at, tz)} {order.created_by}; "
            f"{t('completed')} {_when(order.completed_at, tz)}; "
            f"{t('verified')} {_when(order.verified_at, tz)}"
            + (f"; {order.completion_note}" if order.completion_note else ""),
            styles,
        ),
    ]
    if order.checklist:
        rows = [
            [str(line.position), f"{line.text_zh} / {line.text_en}", _answer(line, lang)]
            for line in order.checklist
        ]
        story.append(
            _table(
                [["#", t("item"), t("answer")], *rows],
                [10 * mm, CONTENT - 70 * mm, 60 * mm],
                styles,
                3,
            )
        )
    if order.problem_code or order.cause_code or order.remedy_code:
        story.append(
            _text(
                f"{t('codes')}: {t('problem')} {_code(card, order.problem_code, lang)}; "
                f"{t('cause')} {_code(card, order.cause_code, lang)}; "
                f"{t('remedy')} {_code(card, order.remedy_code, lang)}",
                styles,
            )
        )
    if order.labour:
        minutes = sum(line.minutes for line in order.labour)
        people = ", ".join(sorted({line.technician for line in order.labour}))
        story.append(_text(f"{t('labour')}: {minutes} min ({people})", styles))
    if order.parts:
        parts = ", ".join(
            f"{p.part_no or p.description} x{p.quantity:g} {p.unit}" for p in order.parts
        )
        story.append(_text(f"{t('parts')}: {parts}", styles))
    if order.attachments:
        shown = ", ".join(
            f"{a.kind} {a.sha256[:12]} {_when(a.at, tz)} {a.actor}" for a in order.attachments
        )
        story.append(_text(f"{t('attachments')}: {shown}", styles))
    story.append(Spacer(1, 3 * mm))
    return story


def render_card_pdf(card: EquipmentCard, lang: Lang, *, compress: bool = True) -> bytes:
    """The card as PDF bytes (A4; flowing tables continue on the next pages)."""
    styles = Styles()
    tz = ZoneInfo(card.timezone)
    a = card.asset
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=14 * mm,
        bottomMargin=14 * mm, title=f"{a.asset_no} equipment card", author="facility",
        invariant=1, pageCompression=1 if compress else 0,
    )  # fmt: skip
    name = a.name_zh if lang == "zh" else a.name_en
    story: list[Any] = [
        Paragraph(escape(f"{card_label('title', lang)} — {a.asset_no} {name}"), styles.title),
        Paragraph(f"{card_label('generated', lang)}: {_when(card.generated_at, tz)}", styles.body),
        Paragraph(card_label("ledger", lang), styles.h2),
        *_ledger(card, styles, lang),
        *_statuses(card, styles, lang, tz),
        *_meters(card, styles, lang, tz),
        *_alarms(card, styles, lang, tz),
        Paragraph(card_label("orders", lang), styles.h2),
    ]
    if not card.orders:
        story.append(_empty(styles, lang))
    for order in card.orders:
        story += _order(card, order, styles, lang, tz)
    doc.build(story)
    return buffer.getvalue()
