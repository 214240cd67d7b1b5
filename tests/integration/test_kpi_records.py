"""KPIs from a real SQLite database over exactly the requested range (issue 10, finding 3):
orders opened months before the period count, hold time is read from the event log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maintenance.kpi import report
from maintenance.kpi_queries import kpi_records
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.store import LedgerStore
from maintenance.wo_store import WorkOrderStore

SH = ZoneInfo("Asia/Shanghai")
OCT = datetime(2026, 10, 1, tzinfo=SH)
NOV = datetime(2026, 11, 1, tzinfo=SH)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WorkOrderStore]:
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        for path in demo_ledger_paths():
            if path.stem == "HY":
                ledger.import_file(path, user="test")
    with WorkOrderStore(url) as store:
        yield store


def raise_(store: WorkOrderStore, asset_no: str, at: datetime, *, down: bool, prio: str) -> str:
    return store.raise_corrective(
        asset_no, f"manual-{asset_no}", title_en="Fault", title_zh="故障", priority=prio,
        at=at, attach=False, asset_down=down,
    ).order.number  # fmt: skip


def complete(store: WorkOrderStore, number: str, at: datetime) -> None:
    store.complete(number, problem="P-TRIP", cause="C-DRY", remedy="R-CLEAN", at=at)


def test_hy_october_from_the_database(store: WorkOrderStore) -> None:
    # A: pump down Jun 12 02:00 -> Oct 2 02:00 (2,688 h; 26 h of October)
    a = raise_(store, "HY-PMP-001", datetime(2026, 6, 12, 2, tzinfo=SH), down=True, prio="high")
    store.start(a, at=datetime(2026, 6, 12, 3, tzinfo=SH))
    complete(store, a, datetime(2026, 10, 2, 2, tzinfo=SH))
    # B: not down, Aug 9 12:00 -> Oct 10 12:00 (1,488 h, 48 h of it on hold)
    b = raise_(store, "HY-PMP-002", datetime(2026, 8, 9, 12, tzinfo=SH), down=False, prio="medium")
    store.start(b, at=datetime(2026, 8, 10, tzinfo=SH))
    store.hold(b, "waiting for a seal kit", at=datetime(2026, 9, 1, tzinfo=SH))
    store.start(b, at=datetime(2026, 9, 3, tzinfo=SH))
    complete(store, b, datetime(2026, 10, 10, 12, tzinfo=SH))
    # C: critical, pump down since Jun 20 and still open
    c = raise_(store, "HY-PMP-003", datetime(2026, 6, 20, 9, tzinfo=SH), down=True, prio="critical")
    # D: lamps down since Oct 30 18:00, still open; E: completed in September, not counted
    d = raise_(store, "HY-LGT-004", datetime(2026, 10, 30, 18, tzinfo=SH), down=True, prio="high")
    e = raise_(store, "HY-PMP-004", datetime(2026, 9, 1, tzinfo=SH), down=True, prio="high")
    store.start(e, at=datetime(2026, 9, 1, 1, tzinfo=SH))
    complete(store, e, datetime(2026, 9, 2, tzinfo=SH))

    records = kpi_records(store.db, OCT, NOV, "hy")
    assert sorted(o.number for o in records.orders) == sorted([a, b, c, d])
    (row,) = report(
        records.occurrences, records.orders, records.assets, OCT, NOV, "month", SH,
        NOV + timedelta(days=4),
    )  # fmt: skip
    asset_hours = len(records.assets) * 744
    assert row.mttr_h == pytest.approx(2088.0)
    assert row.mttr_no_hold_h == pytest.approx((2688 + 1488 - 48) / 2)
    assert row.downtime_h == pytest.approx(800.0)
    assert row.availability == pytest.approx(1 - 800 / asset_hours)
    assert set(row.down_at_end) == {c, d}
    assert row.open_at_end == 2
    assert row.failures == 1
