"""Meter plans over counter resets, replacements and jumps, against a real SQLite database
(issue 10, findings 1 and 2): one plan can never halt the pass for the others."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from device_profiles import load_library
from device_profiles.models import DeviceProfile
from maintenance.db import Database
from maintenance.generator import Generator
from maintenance.pm_plans import parse_overrides
from maintenance.telemetry import StaticMeters
from maintenance.wo_schema import PmOccurrenceRow, PmPlanRow
from maintenance.wo_store import WorkOrderStore
from tests.support import seed_ledger

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 26, 0, 0, tzinfo=SH).astimezone(UTC)
H = timedelta(hours=1)
PUMP = "HT-PMP-001"


@pytest.fixture(scope="module")
def profiles() -> dict[str, DeviceProfile]:
    return load_library()


@pytest.fixture
def url(sql_url: str) -> str:
    return seed_ledger(sql_url, "HT")


@pytest.fixture
def meters() -> StaticMeters:
    return StaticMeters({(PUMP, "run_hours"): 0.0})


@pytest.fixture
def store(url: str) -> Iterator[WorkOrderStore]:
    with WorkOrderStore(url) as store:
        yield store


def every_2000_h(url: str, profiles: dict[str, DeviceProfile], meters: StaticMeters) -> Generator:
    """HT-PMP-001's inspection every 2,000 run hours, nothing else (the issue's plan)."""
    overrides = parse_overrides(
        dedent(
            f"""
            {PUMP}:
              inspection:
                triggers: [{{kind: meter, point: run_hours, every: 2000}}]
            """
        ),
        "plans.yaml",
    )
    return Generator(url, profiles=profiles, overrides=overrides, meters=meters, worker="test")


def complete(store: WorkOrderStore, number: str, meter_reading: str, at: datetime) -> None:
    order = store.get(number)
    store.start(number, actor="li", at=at)
    for item in order.checklist:
        answer = {"number": "20", "meter": meter_reading}.get(item.kind.value, "pass")
        store.record(number, item.position, answer, actor="li", at=at)
    store.complete(number, actor="li", at=at)


def inspections(store: WorkOrderStore) -> list[str]:
    return sorted(o.number for o in store.orders(asset_no=PUMP) if o.plan_name == "inspection")


def test_a_counter_reset_at_service_does_not_halt_generation(
    url: str, profiles: dict[str, DeviceProfile], meters: StaticMeters, store: WorkOrderStore
) -> None:
    # The sequence: 2,000 h reached, serviced at 2,000 h and the counter reset,
    # 2,000 h reached again. Keyed by value both orders were meter:run_hours:2000.
    with every_2000_h(url, profiles, meters) as gen:
        gen.run_pass(T0)  # baseline 0
        meters.readings[(PUMP, "run_hours")] = 2000.0
        (first,) = [n for n in gen.run_pass(T0 + H).generated if n in inspections(store)]
        complete(store, first, "2000", T0 + 2 * H)
        meters.readings[(PUMP, "run_hours")] = 0.0  # reset at the service
        reset = gen.run_pass(T0 + 3 * H)
        assert any("went back" in w for w in reset.warnings)
        meters.readings[(PUMP, "run_hours")] = 2000.0
        again = gen.run_pass(T0 + 4 * H)  # on main: UNIQUE constraint failed, every pass
        assert reset.failed == again.failed == []
        (second,) = [n for n in again.generated if n in inspections(store)]
        next_day = gen.run_pass(T0 + 24 * H)
    assert inspections(store) == sorted([first, second])
    assert store.get(first).slot != store.get(second).slot
    assert store.get(second).slot.startswith("meter:run_hours:")
    # The fire panels' daily checks are still generated.
    daily = [store.get(n) for n in next_day.generated]
    assert any(o.asset_no.startswith("HT-FAP-") for o in daily)
    assert next_day.failed == []


def test_one_failing_plan_is_left_alone_and_the_others_are_recorded(
    url: str,
    profiles: dict[str, DeviceProfile],
    store: WorkOrderStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Generator(url, profiles=profiles, worker="test") as gen:
        gen.run_pass(T0)
        # A row the pass does not expect (written by an older version, or by hand) takes
        # the slot one fire panel's daily check needs tomorrow.
        with Database(url) as database, database.transaction(write=True) as tx:
            panels = [p for p in tx.rows(PmPlanRow, name="daily_check") if p.enabled]
            victim = panels[0]
            tx.add(
                PmOccurrenceRow(
                    plan_id=victim.id, slot="2026-11-27", trigger="calendar", due=T0,
                    release_at=T0, window_end=T0, state="missed", reason="foreign row",
                    threshold=None, recorded_at=T0, recorded_by="someone else",
                )
            )  # fmt: skip
        with caplog.at_level(logging.INFO, logger="maintenance.generator"):
            report = gen.run_pass(T0 + 24 * H)
            again = gen.run_pass(T0 + 24 * H + 5 * timedelta(minutes=1))
        assert len(report.failed) == 1
        assert report.failed[0].startswith(f"{victim.asset_no}:daily_check:")
        generated = {store.get(n).asset_no for n in report.generated}
        assert {p.asset_no for p in panels[1:]} <= generated
        assert victim.asset_no not in generated
        assert len(again.failed) == 1  # counted on every pass ...
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1  # ... logged once
        assert victim.asset_no in errors[0].getMessage()
