"""KPIs: `wo kpi` over 10,000 corrective orders and 11 months by week (SQLite, this machine).

Three estates of 100 assets each, 10,000 corrective orders created over January-November
2026 (1-300 h to repair, one in ten taking its asset down, one in five put on hold once).
Prints the time to read the records and compute the report by week, per estate, per class
and per asset, by day for the estates, and the old path (``WorkOrderReader.kpi_records``,
90-day look-back, whole ORM rows) for comparison. The goal is under 2 s by week (the old
path took 7.8 s by week, 20 s by day).
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from maintenance.db import Database
from maintenance.schema import AssetNumberRow, AssetRow, SiteRow
from maintenance.wo_schema import WorkOrderEventRow, WorkOrderRow

SH = ZoneInfo("Asia/Shanghai")
ORDERS = 10_000
SITES = ("HT", "JU", "HY")
CLASSES = ("PMP", "TNK", "LGT", "FAP", "PDP")
START = datetime(2026, 1, 1, tzinfo=SH)
END = datetime(2026, 12, 1, tzinfo=SH)
NOW = datetime(2026, 12, 5, tzinfo=SH)


def _build(url: str) -> None:
    rng = random.Random(10)
    t0 = START.astimezone(UTC)
    assets: list[tuple[str, str]] = []
    with Database(url) as database:
        database.upgrade()
        with database.transaction(write=True) as tx:
            for site in SITES:
                tx.add(SiteRow(code=site, name_en=site, name_zh=site, timezone="Asia/Shanghai"))
            tx.flush()
            for site in SITES:
                for i in range(100):
                    cls = CLASSES[i % len(CLASSES)]
                    number = f"{site}-{cls}-{500 + i:03d}"
                    assets.append((site, number))
                    tx.add(
                        AssetNumberRow(
                            asset_no=number, site=site, device_class=cls, seq=500 + i,
                            allocated_at=t0, reason="bench",
                        ),
                        AssetRow(
                            asset_no=number, site=site, device_class=cls, name_en=number,
                            name_zh=number, building="", zone="", system="", profile=None,
                            make="", model="", serial="", install_date=date(2020, 1, 1),
                            criticality="high", status="in_service", protocol=None, host=None,
                            port=None, unit_id=None, opcua_url=None, node_root=None,
                            parent_asset_no=None, created_at=t0, updated_at=t0,
                        ),
                    )  # fmt: skip
            tx.flush()
            span = (END - START).total_seconds()
            for n in range(ORDERS):
                site, asset_no = rng.choice(assets)
                created = t0 + timedelta(seconds=rng.random() * span)
                done = created + timedelta(hours=rng.uniform(1, 300))
                completed = done if done < NOW.astimezone(UTC) else None
                row = WorkOrderRow(
                    number=f"WO-{site}-2026-{n + 1:05d}", site=site, kind="corrective",
                    asset_no=asset_no, title_en="Fault", title_zh="故障", description="",
                    priority="high", state="completed" if completed else "in_progress",
                    skill="", estimated_min=60, created_at=created, created_by="bench",
                    response_due=created + timedelta(minutes=30),
                    completion_due=created + timedelta(hours=24),
                    responded_at=created + timedelta(minutes=rng.uniform(1, 60)),
                    completed_at=completed, alarm_count=0, reopen_count=0,
                    asset_down=rng.random() < 0.1, completion_note="", updated_at=created,
                )  # fmt: skip
                tx.add(row)
                if n % 5 == 0:
                    tx.flush()
                    held = created + timedelta(minutes=30)
                    for at, was, becomes in (
                        (held, "in_progress", "on_hold"),
                        (held + timedelta(hours=5), "on_hold", "in_progress"),
                    ):
                        tx.add(
                            WorkOrderEventRow(
                                work_order_id=row.id, at=at, actor="bench", action="x",
                                from_state=was, to_state=becomes, note="", detail={},
                            )
                        )  # fmt: skip


def _timed(label: str, work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    size = f"  rows {len(result):>6,}" if isinstance(result, list) else ""
    print(f"{label:<46} {elapsed:6.3f} s{size}", flush=True)
    return elapsed


def main() -> None:
    from maintenance.kpi import report
    from maintenance.wo_store import WorkOrderStore

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'kpi.db'}"
        started = time.perf_counter()
        _build(url)
        print(f"{ORDERS:,} orders over 11 months: built in {time.perf_counter() - started:.1f} s")
        with WorkOrderStore(url) as store:
            try:
                from maintenance.kpi_queries import kpi_records
            except ImportError:  # the code before issue 10: the old path only
                kpi_records = None  # type: ignore[assignment]
            if kpi_records is not None:

                def new(period: str, by: str = "site") -> list[Any]:
                    records = kpi_records(store.db, START, END)
                    return report(
                        records.occurrences, records.orders, records.assets, START, END,
                        period, SH, NOW, by=by,  # type: ignore[arg-type]
                    )  # fmt: skip

                _timed("read the records only", lambda: kpi_records(store.db, START, END).orders)
                week = _timed("wo kpi by week, per estate", lambda: new("week"))
                _timed("wo kpi by week, per class", lambda: new("week", "class"))
                _timed("wo kpi by week, per asset", lambda: new("week", "asset"))
                _timed("wo kpi by day, per estate", lambda: new("day"))
                _timed("wo kpi by month, per estate", lambda: new("month"))

            def old(period: str) -> list[Any]:
                occurrences, orders, assets = store.kpi_records(START, END)
                return report(occurrences, orders, assets, START, END, period, SH, NOW)  # type: ignore[arg-type]

            before = _timed("old path by week (90-day look-back, ORM rows)", lambda: old("week"))
            if kpi_records is not None:
                print(f"by week: {week:.3f} s (goal under 2 s), {before / week:.1f}x the old path")


if __name__ == "__main__":
    main()
