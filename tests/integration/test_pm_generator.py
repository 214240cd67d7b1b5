"""The PM generator against a real SQLite database: idempotent, concurrent, nothing dropped."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from device_profiles import load_library
from device_profiles.models import DeviceProfile
from facility.types import AssetStatus
from maintenance import db
from maintenance.db import Database
from maintenance.generator import Generator
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.pm_plans import parse_overrides
from maintenance.pm_rules import grid
from maintenance.scheduler import PmScheduler
from maintenance.schema import Base
from maintenance.store import LedgerStore
from maintenance.telemetry import SqlMeters, StaticConditions
from maintenance.wo_schema import PmOccurrenceRow, WorkOrderRow
from maintenance.wo_store import WorkOrderStore

REPO = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], bool], within: float) -> None:
    """Poll ``predicate`` (set from the scheduler's thread) until true; fail after ``within``."""
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 26, 0, 0, tzinfo=SH).astimezone(UTC)


@pytest.fixture(scope="module")
def profiles() -> dict[str, DeviceProfile]:
    return load_library()


@pytest.fixture
def url(sql_url: str) -> str:
    return sql_url


def load_ledger(url: str, sites: tuple[str, ...] = ("HT", "JU", "HY")) -> None:
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        for path in demo_ledger_paths():
            if path.stem in sites:
                ledger.import_file(path, user="test")


@pytest.fixture
def demo(url: str) -> str:
    load_ledger(url)
    return url


@pytest.fixture
def generator(demo: str, profiles: dict[str, DeviceProfile]) -> Iterator[Generator]:
    with Generator(demo, profiles=profiles, worker="test") as gen:
        yield gen


def rows(url: str, statement: object) -> list[tuple[object, ...]]:
    with Database(url) as database, database.transaction() as tx:
        return [tuple(r) for r in tx.execute(statement)]  # type: ignore[arg-type]


def occurrences(url: str) -> list[tuple[int, str, str]]:
    q = select(PmOccurrenceRow.plan_id, PmOccurrenceRow.slot, PmOccurrenceRow.state)
    return rows(url, q)  # type: ignore[return-value]


def orders(url: str) -> list[tuple[str, int | None]]:
    return rows(url, select(WorkOrderRow.number, WorkOrderRow.occurrence_id))  # type: ignore[return-value]


def test_migrations_create_exactly_the_schema_with_the_maintenance_tables(url: str) -> None:
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(connection).get_table_names())
            codes = connection.exec_driver_sql("SELECT count(*) FROM failure_codes").scalar()
    finally:
        engine.dispose()
    assert {"pm_plans", "pm_occurrences", "work_orders", "work_order_events"} <= tables
    assert {"wo_checklist_items", "wo_labour", "wo_parts", "meter_readings"} <= tables
    assert codes == 27


def test_a_pass_is_idempotent(generator: Generator, demo: str) -> None:
    first = generator.run_pass(T0)
    assert first.synced.created == 352
    assert len(first.generated) == 67  # tank cleaning counts from the last cleaning (statutory)
    assert first.missed == first.skipped == 0
    again = generator.run_pass(T0)
    later = generator.run_pass(T0 + timedelta(minutes=5))
    assert again.generated == later.generated == []
    assert again.synced.created == 0
    found = orders(demo)
    assert sorted(n for n, _ in found) == sorted(first.generated)
    assert len({o for _, o in found}) == len(found)  # one order per occurrence
    numbers = sorted(n for n, _ in found if n.startswith("WO-HT-2026-"))
    assert numbers[0] == "WO-HT-2026-00001"
    assert numbers[-1] == f"WO-HT-2026-{len(numbers):05d}"  # no gaps, per site and year


def test_two_concurrent_passes_never_duplicate(
    demo: str, profiles: dict[str, DeviceProfile]
) -> None:
    generators = [Generator(demo, profiles=profiles, worker=f"w{i}") for i in range(2)]
    barrier = threading.Barrier(2)
    reports: list[int] = []
    errors: list[BaseException] = []

    def run(gen: Generator) -> None:
        try:
            barrier.wait()
            for step in range(3):
                reports.append(len(gen.run_pass(T0 + timedelta(days=step)).generated))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(g,)) for g in generators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for gen in generators:
        gen.close()
    assert errors == []
    found = occurrences(demo)
    assert len(found) == len({(plan, slot) for plan, slot, _ in found})
    assert sum(reports) == len(orders(demo)) == sum(1 for *_, s in found if s == "generated")
    # Daily fire checks on the three days: each generated exactly once (11 panels, stacked).
    daily = [slot for plan, slot, _ in found if slot in ("2026-11-26", "2026-11-27", "2026-11-28")]
    assert Counter(daily) == {"2026-11-26": 11, "2026-11-27": 11, "2026-11-28": 11}


def test_missed_occurrences_are_recorded_after_downtime(generator: Generator, demo: str) -> None:
    generator.run_pass(T0)
    report = generator.run_pass(T0 + timedelta(days=10, hours=9))
    states = Counter(state for _, _, state in occurrences(demo))
    # 11 fire panels x 9 daily checks whose window closed while nothing ran.
    assert report.missed == states["missed"] >= 11 * 9
    assert report.skipped == states["skipped"]
    with Database(demo) as database, database.transaction() as tx:
        missed = tx.rows(PmOccurrenceRow, state="missed")
        assert all("window closed" in m.reason for m in missed)
        assert {m.recorded_by for m in missed} == {"test"}


def test_meter_plan_with_manual_readings_and_rebase_at_completion(
    demo: str, profiles: dict[str, DeviceProfile]
) -> None:
    store = WorkOrderStore(demo)
    meters = SqlMeters(store.db)
    gen = Generator(demo, profiles=profiles, meters=meters, worker="test")
    try:
        store.add_meter_reading("HT-PMP-001", "run_hours", 1000, at=T0)
        gen.run_pass(T0)  # the first reading becomes the cycle's baseline
        inspections = [
            o for o in store.orders(asset_no="HT-PMP-001") if o.plan_name == "inspection"
        ]
        assert inspections == []
        store.add_meter_reading("HT-PMP-001", "run_hours", 1499.9, at=T0 + timedelta(hours=1))
        assert gen.run_pass(T0 + timedelta(hours=1)).generated == []
        store.add_meter_reading("HT-PMP-001", "run_hours", 1500.2, at=T0 + timedelta(hours=2))
        report = gen.run_pass(T0 + timedelta(hours=2))
        assert len(report.generated) == 1
        (number,) = report.generated
        order = store.get(number)
        assert (order.asset_no, order.plan_name, order.slot) == (
            "HT-PMP-001",
            "inspection",
            "meter:run_hours:20261125T160000Z+500",  # the cycle's start, 500 h into it
        )
        store.add_meter_reading("HT-PMP-001", "run_hours", 2600, at=T0 + timedelta(hours=3))
        assert gen.run_pass(T0 + timedelta(hours=3)).generated == []  # this cycle has its order
        # Completed with the meter read off the checklist at 2605 h: the next is due at 3105.
        done_at = T0 + timedelta(hours=4)
        store.start(number, actor="li", at=done_at)
        for item in order.checklist:
            answer = {"number": "20", "meter": "2605"}.get(item.kind.value, "pass")
            store.record(number, item.position, answer, actor="li", at=done_at)
        store.complete(number, actor="li", at=done_at)
        store.add_meter_reading("HT-PMP-001", "run_hours", 3104, at=T0 + timedelta(hours=5))
        assert gen.run_pass(T0 + timedelta(hours=5)).generated == []
        store.add_meter_reading("HT-PMP-001", "run_hours", 3105, at=T0 + timedelta(hours=6))
        (second,) = gen.run_pass(T0 + timedelta(hours=6)).generated
        assert store.get(second).slot == "meter:run_hours:20261125T200000Z+500"
    finally:
        gen.close()
        store.close()


def test_condition_trigger_generates_once_per_activation(
    demo: str, profiles: dict[str, DeviceProfile]
) -> None:
    since = T0 - timedelta(minutes=5)
    conditions = StaticConditions({"HT-TNK-001": {"turbidity_high": since}})
    with Generator(demo, profiles=profiles, conditions=conditions, worker="test") as gen:
        first = gen.run_pass(T0)
        again = gen.run_pass(T0 + timedelta(minutes=5))
        with WorkOrderStore(demo) as store:
            turbidity = [
                o
                for o in store.orders(asset_no="HT-TNK-001")
                if o.plan_name == "turbidity_response"
            ]
    assert [o.number for o in turbidity] == [
        n for n in first.generated if n in {o.number for o in turbidity}
    ]
    assert len(turbidity) == 1
    assert again.generated == []


def test_supersede_and_sync_follow_the_overrides(
    demo: str, profiles: dict[str, DeviceProfile]
) -> None:
    overrides = parse_overrides(
        dedent(
            """
            HT-LGT-037:
              patrol: {open_order_policy: supersede, anchor: 2026-01-05}
            HT-PMP-001:
              annual_service: {enabled: false}
            """
        ),
        "plans.yaml",
    )
    with Generator(demo, profiles=profiles, overrides=overrides, worker="test") as gen:
        gen.run_pass(datetime(2026, 12, 5, tzinfo=SH))
        report = gen.run_pass(datetime(2027, 1, 5, tzinfo=SH))
        assert len(report.superseded) == 1
        views = {(v.asset_no, v.name): v for v in gen.plan_states(asset_no="HT-PMP-001")}
    assert views[("HT-PMP-001", "annual_service")].enabled is False
    with WorkOrderStore(demo) as store:
        (old,) = [store.get(n) for n in report.superseded]
        assert old.state.value == "cancelled"
        assert old.events[-1].note == "superseded by the next occurrence"
        assert old.asset_no == "HT-LGT-037"
    # Retiring an asset switches its plans off at the next pass.
    with LedgerStore(demo) as ledger:
        ledger.set_status("HT-PMP-002", AssetStatus.RETIRED, user="test")
    with Generator(demo, profiles=profiles, worker="test") as gen:
        report = gen.run_pass(datetime(2027, 1, 6, tzinfo=SH))
        assert report.synced.disabled >= 2  # HT-PMP-002's two plans (+ the override's)
        off = [v for v in gen.plan_states(asset_no="HT-PMP-002") if not v.enabled]
        assert len(off) == 2


def test_scheduler_runs_a_catch_up_pass_then_on_its_timer(generator: Generator) -> None:
    scheduler = PmScheduler(generator, every_min=0.005)  # every 0.3 s
    try:
        report = scheduler.start()
        assert report is not None
        assert report.synced.created == 352
        wait_for(lambda: scheduler.passes >= 3, within=20)
    finally:
        scheduler.shutdown()
    assert not scheduler.running
    at, by, passes = generator.last_pass()
    assert (by, passes >= 3, at is not None) == ("test", True, True)


def _cli(args: list[str], url: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FACILITY_DATABASE__URL": url,
        "FACILITY_INFLUXDB__URL": "http://127.0.0.1:9",  # nothing listens: meters from SQL
        "FACILITY_USER": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "facility.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_generator_processes_for_a_simulated_year(
    url: str, profiles: dict[str, DeviceProfile]
) -> None:
    """Two processes step through 2027 against one database at the same time: no order twice,
    and every calendar occurrence whose window closed is recorded, once."""
    load_ledger(url, ("HY",))
    args = ["pm", "generate", "--at", "2027-01-01T00:00", "--until", "2027-12-31T00:00",
            "--step", "1d", "-q"]  # fmt: skip
    processes = [_cli(args, url) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert all(out.strip().endswith("skipped") for out, _ in outputs)
    found = occurrences(url)
    assert len(found) == len({(plan, slot) for plan, slot, _ in found})
    numbers = orders(url)
    assert (
        len(numbers)
        == len({n for n, _ in numbers})
        == sum(1 for *_, s in found if s == "generated")
    )
    end = datetime(2027, 12, 31, tzinfo=SH).astimezone(UTC)
    with Generator(url, profiles=profiles, worker="check") as gen:
        views = [v for v in gen.plan_states() if not v.rule.is_cycle]
    recorded = {(plan, slot) for plan, slot, _ in found}
    expected = set()
    for view in views:
        after = view.state.active_from - timedelta(days=view.rule.plan.window_days)
        for trigger in view.rule.plan.triggers:
            for occurrence in grid(view.rule, trigger, after):
                if occurrence.window_end > end:
                    break
                if occurrence.window_end > view.state.active_from:
                    expected.add((view.plan_id, occurrence.slot))
    assert expected  # daily, monthly, yearly plans of 55 assets
    assert expected <= recorded  # nothing silently missing


def test_pm_run_catches_up_then_generates_until_stopped(
    demo: str, profiles: dict[str, DeviceProfile]
) -> None:
    process = _cli(["pm", "run", "--every-min", "0.01"], demo)  # a pass every 0.6 s
    try:
        with Generator(demo, profiles=profiles, migrate=False, worker="check") as gen:
            wait_for(lambda: gen.last_pass()[2] >= 3, within=30)
            found = orders(demo)
            assert found  # the catch-up pass generated what is due now
            assert len({occurrence for _, occurrence in found}) == len(found)
    finally:
        process.terminate()  # SIGTERM: a clean stop
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "catch-up pass at" in out
    assert "orders generated" in out
    assert "stopped after" in err
