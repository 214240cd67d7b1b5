"""The printable work-order sheet (PDF): content, QR code, pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from device_profiles.models import ChecklistKind, Priority
from maintenance import sheet
from maintenance.wo_store import AssetLabel
from maintenance.workorders import ChecklistLine, WoKind, WorkOrder, WoState

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
ASSET = AssetLabel(
    "HT-PDP-001", "HT", "Pool drain pump", "泳池排水泵", "Clubhouse", "Plant room", "Grundfos",
    "SEG", "SN1",
)  # fmt: skip


@pytest.fixture(autouse=True)
def cid_font(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CID fallback needs no font file: the test reads nothing from disk.
    monkeypatch.setattr(sheet, "CJK_FONT_FILES", ())
    monkeypatch.setattr(sheet, "_font", [])
    monkeypatch.delenv("FACILITY_SHEET_FONT", raising=False)


def order(kind: WoKind = WoKind.CORRECTIVE, items: int = 3) -> WorkOrder:
    checklist = tuple(
        ChecklistLine(
            i,
            f"Check item number {i}",
            f"检查项目{i}",
            ChecklistKind.NUMBER if i % 2 else ChecklistKind.PASS_FAIL,
            unit="A",
            low=1 if i % 2 else None,
            high=20 if i % 2 else None,
        )
        for i in range(1, items + 1)
    )
    return WorkOrder(
        number="WO-HT-2026-00042",
        site="HT",
        kind=kind,
        asset_no="HT-PDP-001",
        state=WoState.ASSIGNED,
        priority=Priority.HIGH,
        title_en="Drain pump dry-run trip",
        title_zh="排水泵干转跳闸",
        description="Pump ran with no water at its inlet. " * 5,
        assignee="zhang.wei",
        skill="mechanical",
        estimated_min=90,
        created_at=T0,
        created_by="alarm-engine",
        due_at=None,
        response_due=T0 + timedelta(minutes=30),
        completion_due=T0 + timedelta(hours=24),
        condition="alarm:dry_run",
        checklist=checklist,
    )


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def test_sheet_is_a_pdf_naming_the_order_and_the_asset() -> None:
    pdf = sheet.render_sheet(order(), ASSET, tz=ZoneInfo("Asia/Shanghai"), compress=False)
    assert pdf.startswith(b"%PDF-")
    assert pages(pdf) == 1
    for text in (b"WO-HT-2026-00042", b"HT-PDP-001", b"1..20 A", b"WO-HT-2026-00042  p. 1"):
        assert text in pdf
    assert b"STSong-Light" in pdf  # the CID font for Chinese text


def test_long_checklists_continue_on_more_pages() -> None:
    pdf = sheet.render_sheet(order(items=40), ASSET, tz=ZoneInfo("Asia/Shanghai"), compress=False)
    assert pages(pdf) >= 2
    assert b"WO-HT-2026-00042  p. 2" in pdf


def test_qr_code_encodes_the_asset_or_its_page() -> None:
    assert sheet.qr_text("HT-PDP-001", None) == "HT-PDP-001"
    # the dashboard's asset page is /asset/<asset_no> (/assets/... was a 404, issue 14)
    assert sheet.qr_text("HT-PDP-001", "https://fm.example/") == (
        "https://fm.example/asset/HT-PDP-001"
    )
    matrix = sheet.qr_matrix("HT-PDP-001")
    assert len(matrix) == 21  # version 1: an asset number fits the smallest code
    assert all(len(row) == 21 for row in matrix)
    # Finder pattern in the top-left corner: a dark 7x7 ring.
    assert all(matrix[0][:7])
    assert all(matrix[6][:7])
    assert matrix[1][1:6] == [False] * 5


def test_preventive_sheet_has_no_failure_code_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    blank_lines = sheet._blank_lines

    def spy(page: object, title: str, labels: list[str]) -> None:
        drawn.append(title)
        blank_lines(page, title, labels)  # type: ignore[arg-type]

    monkeypatch.setattr(sheet, "_blank_lines", spy)
    tz = ZoneInfo("Asia/Shanghai")
    sheet.render_sheet(order(WoKind.PREVENTIVE), ASSET, tz=tz)
    assert drawn == ["工时与备件 Labour and parts"]
    drawn.clear()
    sheet.render_sheet(order(WoKind.CORRECTIVE), ASSET, tz=tz)
    assert drawn == ["故障代码 Failure codes", "工时与备件 Labour and parts"]
