"""Two years of maintenance on one estate as real life has it (issue 10, "what it must show").

Two schedulers (two generators and two corrective-order hooks, as on two hosts) work one
PostgreSQL database day by day through 2027–2028 while: a pump's run-hour counter is reset
at a service and later its meter is replaced; a lighting circuit is retired; an alarm whose
priority ``alarms.yaml`` raises keeps tripping and becomes corrective orders; technicians
type in their paper sheets two days late (back-dated) and a supervisor verifies. At the end:
no pass halted, no order twice, the meter plan kept going across both resets, the retired
asset took nothing new — and the KPIs equal a recomputation from the raw rows written here
separately (not calling ``maintenance.kpi``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest

from device_profiles import load_library
from facility.payload import DeviceMessage
from facility.types import AssetStatus, Quality, Reading
from gateway.alarms.alarmfile import parse_alarm_file
from gateway.alarms.core import AlarmCore, Command
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.store import AlarmStore, CurrentAlarm
from gateway.telemetry import StoreRaises
from maintenance.alarm_orders import AlarmOrders
from maintenance.db import Database
from maintenance.generator import Generator, PassReport
from maintenance.identity.roles import Principal, Role
from maintenance.kpi import report
from maintenance.ledger_files import demo_ledger_paths, demo_sites, read_ledger_file
from maintenance.store import LedgerStore
from maintenance.telemetry import SqlMeters
from maintenance.wo_schema import WorkOrderRow
from maintenance.wo_store import WorkOrderStore
from maintenance.workorders import WoState

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2027, 1, 1, 8, 0, tzinfo=SH).astimezone(UTC)
DAYS = 730
STEP = 3  # days between passes: two years in 244 steps keeps the test near a minute
PROFILES = load_library()
HY = read_ledger_file(next(p for p in demo_ledger_paths() if p.stem == "HY"))
PUMP, TRIPPING, RETIRED = "HY-PMP-001", "HY-PMP-003", "HY-LGT-010"
RESETS = {201: 60.0, 450: 15.0}  # day -> the counter after a service reset / a new meter
ALARMS_YAML = f"""\
schema_version: 1
overrides:
  - assets: [{TRIPPING}]
    alarm: pressure_high
    priority: high
"""
TECH = Principal("zhao.gang", frozenset({Role.TECHNICIAN}), frozenset({"HY"}))
BOSS = Principal("chen.jing", frozenset({Role.SUPERVISOR}), frozenset({"HY"}))
ADMIN = Principal("li.ming", frozenset({Role.ADMIN}), frozenset({"*"}))


@pytest.fixture
def url(postgres: object) -> Iterator[str]:
    from devtools.services import PostgresServer

    assert isinstance(postgres, PostgresServer)
    url = postgres.create_database("two_years")
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        ledger.import_file(next(p for p in demo_ledger_paths() if p.stem == "HY"), user="test")
    yield url
    postgres.drop_database("two_years")


def pressure(at: datetime, bar: float) -> DeviceMessage:
    reading = Reading("HY", TRIPPING, "discharge_pressure", bar, "bar", Quality.GOOD, None, at)
    return DeviceMessage("HY", TRIPPING, "PMP", 1, at, (reading,), {"comm_ok": True})


def feed(core: AlarmCore, store: AlarmStore, message: DeviceMessage) -> None:
    records = core.on_message(message, message.collected_ts)
    ids = sorted({r.alarm_id for r in records if r.to_state is not None})
    store.write(
        records,
        [
            CurrentAlarm(
                i, "HY", TRIPPING, i.split("/")[1], core.spec(i).priority.value, core.status(i)
            )
            for i in ids
        ],
    )


def together(*jobs: object) -> list[object]:
    """Run the callables at the same moment in threads (two schedulers); their results."""
    start = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int, job: object) -> None:
        start.wait()
        try:
            results[i] = job()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    if errors:
        raise errors[0]
    return results


def work_through(store: WorkOrderStore, number: str, at: datetime, reading: float) -> None:
    """A technician's paper sheet, typed in later: started, every item answered, completed."""
    order = store.get(number)
    store.start(number, actor=TECH, at=at)
    for item in order.checklist:
        answer = {"number": "20", "meter": f"{reading:g}", "photo": "IMG_1.jpg"}
        store.record(number, item.position, answer.get(item.kind.value, "pass"), actor=TECH, at=at)
    store.complete(number, actor=TECH, at=at + timedelta(minutes=30))


def test_two_years_of_real_life_on_one_postgresql(url: str) -> None:
    now = {"t": START}
    clock = lambda: now["t"]  # noqa: E731 - the simulated "now" of every store
    stores = [WorkOrderStore(url, clock=clock), WorkOrderStore(url, clock=clock)]
    db = Database(url)
    generators = [
        Generator(url, profiles=PROFILES, meters=SqlMeters(db), worker=w, migrate=False)
        for w in ("host-a", "host-b")
    ]
    alarms = AlarmStore(url)
    by_no = {a.asset_no: a.profile or "" for a in HY}
    hooks = [
        AlarmOrders(StoreRaises(alarms), s, PROFILES, lambda: by_no, covered=g.condition_alarms)
        for s, g in zip(stores, generators, strict=True)
    ]
    core = AlarmCore(compile_alarms(HY, PROFILES, parse_alarm_file(ALARMS_YAML, "alarms.yaml")))
    store = stores[0]
    reports: list[PassReport] = []
    raises = 0
    handled = 0
    counter = 0.0
    retired_at: datetime | None = None
    try:
        hooks[0].tick()  # the cursor starts at the end of the (empty) journal
        for day in range(0, DAYS, STEP):
            now["t"] = START + timedelta(days=day)
            today = now["t"]
            counter = RESETS.get(day, counter + 20.0 * STEP)  # 20 h a day
            store.add_meter_reading(PUMP, "run_hours", counter, at=today, reset=day in RESETS)
            if day == 300:
                with LedgerStore(url) as ledger:
                    ledger.set_status(RETIRED, AssetStatus.RETIRED, user=ADMIN, note="removed")
                retired_at = today
            if day % 30 == 12:  # the pump trips on high pressure, clears, is acknowledged
                feed(core, alarms, pressure(today, 12.0))
                feed(core, alarms, pressure(today + timedelta(seconds=10), 12.0))
                feed(core, alarms, pressure(today + timedelta(minutes=5), 8.0))
                ack = Command("ack", f"{TRIPPING}/pressure_high", BOSS.name, "seen")
                alarms.write(core.command(ack, today + timedelta(minutes=6))[1], [])
                raises += 1
            passes = [partial(g.run_pass, today) for g in generators]
            reports += together(*passes)  # type: ignore[arg-type]
            together(*(h.tick for h in hooks))
            now["t"] = today + timedelta(hours=2)  # the day goes on: the work is typed in
            for order in store.orders(states=[s.value for s in (WoState.OPEN, WoState.ASSIGNED)]):
                if order.asset_no == PUMP and order.plan_name == "inspection":
                    work_through(store, order.number, today, counter)  # the same day
                elif order.kind.value == "corrective" and today - order.created_at >= timedelta(
                    days=2
                ):
                    # typed in two days late from the paper sheet; every third one late
                    handled += 1
                    late = handled % 3 == 0
                    done = order.created_at + timedelta(hours=30 if late else 6)
                    store.assign(order.number, TECH.name, actor=BOSS, at=order.created_at)
                    store.start(order.number, actor=TECH, at=order.created_at + timedelta(hours=1))
                    store.complete(
                        order.number, actor=TECH, at=done,
                        problem="P-TRIP", cause="C-WEAR", remedy="R-ADJUST",
                    )  # fmt: skip
                    store.verify(order.number, actor=BOSS, at=done + timedelta(hours=1))
        end = START + timedelta(days=DAYS)

        # no pass halted, on either host
        assert all(not r.failed for r in reports), [r.failed for r in reports if r.failed]
        # no order twice: one per generated occurrence, one corrective per alarm occurrence
        with db.transaction() as tx:
            rows = tx.rows(WorkOrderRow)
        numbers = [r.number for r in rows]
        assert len(numbers) == len(set(numbers))
        occurrence_ids = [r.occurrence_id for r in rows if r.occurrence_id is not None]
        assert len(occurrence_ids) == len(set(occurrence_ids))
        corrective = [r for r in rows if r.kind == "corrective"]
        tripping = [r for r in corrective if r.asset_no == TRIPPING]
        assert sum(r.alarm_count for r in tripping) == raises
        assert sum(h.raised for h in hooks) == raises  # each raise handled once, by one host
        # the override raised the priority that made these orders (medium in the profile)
        assert {r.priority for r in tripping} == {"high"}
        # the meter plan went on across the reset and the new meter: 14,600 h counted, one
        # inspection per 500 h of use (the floating 3-month trigger never comes first)
        inspections = sorted(
            (o for o in store.orders(asset_no=PUMP, limit=10_000) if o.plan_name == "inspection"),
            key=lambda o: o.created_at,
        )
        assert inspections, "the meter plan made no order"
        for day in RESETS:
            after = START + timedelta(days=day)
            assert any(after < o.created_at <= after + timedelta(days=30) for o in inspections)
        assert 26 <= len(inspections) <= 30, len(inspections)
        # the retired circuit: its open orders were cancelled, nothing new after
        assert retired_at is not None
        mine = [r for r in rows if r.asset_no == RETIRED]
        assert mine
        assert all(r.state in ("cancelled", "closed", "verified", "completed") for r in mine)
        assert not [r for r in mine if r.created_at > retired_at]

        # KPIs against a recomputation from the raw rows, month by month
        records = store.kpi_records(START, end, "HY")
        kpis = report(
            records.occurrences, records.orders, records.assets, START, end, "month", SH, end
        )
        assert len(kpis) == 24
        for row in kpis:
            span = [
                r for r in corrective
                if r.completed_at is not None and row.start <= r.completed_at < row.end
            ]  # fmt: skip
            hours = [(r.completed_at - r.created_at).total_seconds() / 3600 for r in span]
            expected_mttr = sum(hours) / len(hours) if hours else None
            if expected_mttr is None:
                assert row.mttr_h is None
            else:
                assert row.mttr_h == pytest.approx(expected_mttr)
            created = [r for r in corrective if row.start <= r.created_at < row.end]
            decided = [r for r in created if r.completed_at is not None or r.completion_due < end]
            on_time = [r for r in decided if r.completed_at and r.completed_at <= r.completion_due]
            assert (row.repair_timeliness.good, row.repair_timeliness.total) == (
                len(on_time),
                len(decided),
            )
    finally:
        for closable in (*stores, *generators, alarms, db):
            closable.close()
