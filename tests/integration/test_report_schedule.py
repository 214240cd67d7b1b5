"""Scheduled reports: made once when due, stored, announced through the notification channels
(a real local HTTP server stands for the WeCom robot); repeated ticks make nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from facility.config import Settings
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.reports import store
from maintenance.reports.notify import ReportChannels
from maintenance.reports.sources import ReportSources
from maintenance.scheduler import ReportJobs
from maintenance.store import LedgerStore
from tests.support import webhook_server

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with webhook_server() as found:  # a WeCom robot's answer
        yield found


def test_scheduled_reports_are_made_once_and_announced(
    tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    with LedgerStore(url) as ledger:
        ledger.save_sites([s for s in demo_sites() if s.code == "HY"], user="test")
        ledger.import_file(next(p for p in demo_ledger_paths() if p.stem == "HY"), user="test")
    settings = Settings.model_validate(
        {"paths": {"var_dir": str(tmp_path)}, "database": {"url": url}}
    )
    hook, received = webhook
    jobs = ReportJobs(
        settings,
        ReportSources,
        notifier=ReportChannels(hook, "wecom"),
        base_url="https://estate.example/",
    )
    first = jobs.tick(datetime(2026, 12, 1, 6, 5, tzinfo=SH))
    made = sorted(str(p.relative_to(tmp_path)) for p in first)
    assert made == [
        "reports/ALL/monthly/2026-11.zh.pdf",
        "reports/ALL/monthly/2026-11.zh.xlsx",
        "reports/ALL/weekly/2026-W48.zh.pdf",
        "reports/ALL/weekly/2026-W48.zh.xlsx",
        "reports/HY/daily/2026-12-01.zh.pdf",
        "reports/HY/monthly/2026-11.zh.pdf",
        "reports/HY/monthly/2026-11.zh.xlsx",
        "reports/HY/weekly/2026-W48.zh.pdf",
        "reports/HY/weekly/2026-W48.zh.xlsx",
    ]
    assert all(p.read_bytes()[:4] in (b"%PDF", b"PK\x03\x04") for p in first)
    assert len(received) == len(first)
    contents = [r["markdown"]["content"] for r in received]
    assert any(
        "HY 月报 / Monthly report 2026-11" in c
        and "https://estate.example/reports/file/HY/monthly/2026-11.zh.pdf" in c
        for c in contents
    ), contents
    # the same morning again, and the next day before 06:00: nothing new, nothing sent
    assert jobs.tick(datetime(2026, 12, 1, 9, 0, tzinfo=SH)) == []
    assert jobs.tick(datetime(2026, 12, 2, 5, 59, tzinfo=SH)) == []
    assert len(received) == len(first)
    # 06:00 the next day: the day's sheet only
    second = jobs.tick(datetime(2026, 12, 2, 6, 0, tzinfo=SH))
    assert [str(p.relative_to(tmp_path)) for p in second] == ["reports/HY/daily/2026-12-02.zh.pdf"]
    assert len(received) == len(first) + 1
    assert {r.period for r in store.stored(tmp_path, kind="daily")} == {"2026-12-01", "2026-12-02"}


def test_a_dead_channel_does_not_stop_the_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    with LedgerStore(url) as ledger:
        ledger.save_sites([s for s in demo_sites() if s.code == "HY"], user="test")
    settings = Settings.model_validate(
        {"paths": {"var_dir": str(tmp_path)}, "database": {"url": url}}
    )
    jobs = ReportJobs(
        settings, ReportSources, notifier=ReportChannels("http://127.0.0.1:9/hook", "generic")
    )
    made = jobs.tick(datetime(2026, 12, 1, 6, 5, tzinfo=SH))
    assert len(made) == 9
    assert all(p.is_file() for p in made)
