"""Raised alarms become corrective work orders: once per raise, across restarts, by priority."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_profiles import load_library
from facility.payload import DeviceMessage
from facility.types import Quality, Reading
from gateway.alarms.alarmfile import parse_alarm_file
from gateway.alarms.core import AlarmCore, Command
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.store import AlarmStore, CurrentAlarm
from gateway.telemetry import StoreRaises
from maintenance.alarm_orders import AlarmOrders
from maintenance.generator import Generator
from maintenance.ledger_files import demo_ledger_paths, demo_sites, read_ledger_file
from maintenance.store import LedgerStore
from maintenance.wo_store import WorkOrderStore

PROFILES = load_library()
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
HT_ASSETS = read_ledger_file(next(p for p in demo_ledger_paths() if p.stem == "HT"))


@pytest.fixture
def url(sql_url: str) -> str:
    url = sql_url
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        ledger.import_file(next(p for p in demo_ledger_paths() if p.stem == "HT"), user="test")
    return url


@pytest.fixture
def stores(url: str) -> Iterator[tuple[AlarmStore, WorkOrderStore]]:
    alarms = AlarmStore(url)
    orders = WorkOrderStore(url)
    yield alarms, orders
    alarms.close()
    orders.close()


def pool(at: datetime, dry_run: bool, door_open: bool = False) -> DeviceMessage:
    values = {"dry_run_trip": dry_run, "door_open": door_open, "flood": False, "pool_level": 150.0}
    readings = tuple(
        Reading("HT", "HT-PDP-001", p, v, "", Quality.GOOD, None, at) for p, v in values.items()
    )
    return DeviceMessage("HT", "HT-PDP-001", "PDP", 1, at, readings, {"comm_ok": True})


def feed(core: AlarmCore, store: AlarmStore, message: DeviceMessage) -> None:
    records: list[AlarmRecord] = core.on_message(message, message.collected_ts)
    ids = sorted({r.alarm_id for r in records if r.to_state is not None})
    currents = [
        CurrentAlarm(
            i,
            message.site,
            message.asset_no,
            i.split("/")[1],
            core.spec(i).priority.value,
            core.status(i),
        )
        for i in ids
    ]
    store.write(records, currents)


def tank(at: datetime, turbidity: float) -> DeviceMessage:
    readings = (Reading("HT", "HT-TNK-001", "turbidity", turbidity, "NTU", Quality.GOOD, None, at),)
    return DeviceMessage("HT", "HT-TNK-001", "TNK", 1, at, readings, {"comm_ok": True})


ALARMS_YAML = """\
schema_version: 1
overrides:
  - assets: [HT-PDP-001]
    alarm: door_open
    priority: high
add:
  - assets: [HT-PDP-001]
    alarm: {name: level_watch, point: pool_level, kind: lo, limit: 160, deadband: 5,
            priority: critical, label: {en: Pool level watch, zh: 泳池水位监视}}
"""


def orders_for(
    url: str,
    alarms: AlarmStore,
    orders: WorkOrderStore,
    covered: Callable[[], set[tuple[str, str]]] = set,
) -> AlarmOrders:
    by_no = {a.asset_no: a.profile or "" for a in HT_ASSETS}
    return AlarmOrders(StoreRaises(alarms), orders, PROFILES, lambda: by_no, covered=covered)


def test_high_priority_raise_becomes_one_order_and_repeats_attach(
    url: str, stores: tuple[AlarmStore, WorkOrderStore], tmp_path: Path
) -> None:
    alarms, orders = stores
    hook = orders_for(url, alarms, orders)
    assert hook.tick() == 0  # first run: starts at the end of the (empty) journal
    core = AlarmCore(
        compile_alarms(
            read_ledger_file(next(p for p in demo_ledger_paths() if p.stem == "HT")), PROFILES
        )
    )
    # dry-run trip: priority high -> an order; door open (medium, 60 s on-delay) -> none
    feed(core, alarms, pool(T0, dry_run=True, door_open=True))
    feed(core, alarms, pool(T0 + timedelta(minutes=2), dry_run=True, door_open=True))
    assert hook.tick() == 1
    (order,) = orders.orders(asset_no="HT-PDP-001")
    assert order.condition == "alarm:dry_run"
    # nothing new: a second pass and a restarted hook (the cursor is in SQL) add nothing
    assert hook.tick() == 0
    assert orders_for(url, alarms, orders).tick() == 0
    assert orders.get(order.number).alarm_count == 1
    # the trip is reset and comes back: the repeat attaches to the same open order
    # the trip clears, an operator resets the latched alarm on site, and it trips again
    feed(core, alarms, pool(T0 + timedelta(minutes=4), dry_run=False))
    reset = Command("reset", "HT-PDP-001/dry_run", "li.na", "reset on site")
    alarms.write(core.command(reset, T0 + timedelta(minutes=5))[1], [])
    feed(core, alarms, pool(T0 + timedelta(minutes=8), dry_run=True))
    assert hook.tick() == 1
    assert len(orders.orders(asset_no="HT-PDP-001")) == 1
    assert orders.get(order.number).alarm_count == 2


def test_alarms_yaml_overrides_and_additions_reach_the_orders(
    url: str, stores: tuple[AlarmStore, WorkOrderStore]
) -> None:
    """Issue 10, finding 4: the order is made from the alarm as the engine compiled it."""
    alarms, orders = stores
    hook = orders_for(url, alarms, orders)
    hook.tick()
    alarm_file = parse_alarm_file(ALARMS_YAML, "alarms.yaml")
    core = AlarmCore(compile_alarms(HT_ASSETS, PROFILES, alarm_file))
    # door open: medium in the profile, high here; the pool at 150 cm: fine for the profile
    # (low below 100) but below this site's added 160 cm watch
    feed(core, alarms, pool(T0, dry_run=False, door_open=True))
    feed(core, alarms, pool(T0 + timedelta(minutes=2), dry_run=False, door_open=True))
    assert hook.tick() == 2
    made = {o.condition: o for o in orders.orders(asset_no="HT-PDP-001")}
    assert set(made) == {"alarm:door_open", "alarm:level_watch"}
    assert made["alarm:door_open"].priority == "high"
    watch = orders.get(made["alarm:level_watch"].number)
    assert watch.priority == "critical"
    assert watch.signal is not None
    assert watch.signal.low == 165  # the added limit plus its deadband, not a profile band
    assert watch.title_en == "Pool level watch"


def test_an_alarm_that_triggers_a_plan_raises_no_second_order(
    url: str, stores: tuple[AlarmStore, WorkOrderStore]
) -> None:
    """Issue 10, finding 5: turbidity → the tank's "investigate" plan; no corrective beside it."""
    alarms, orders = stores
    generator = Generator(url, profiles=PROFILES, migrate=False)
    try:
        hook = orders_for(url, alarms, orders, covered=generator.condition_alarms)
        hook.tick()
        core = AlarmCore(compile_alarms(HT_ASSETS, PROFILES))
        feed(core, alarms, tank(T0, 2.0))
        feed(core, alarms, tank(T0 + timedelta(minutes=6), 2.0))  # past its 300 s on-delay
        assert [r.alarm for r in StoreRaises(alarms).raises(after_id=None, limit=10)] == [
            "turbidity_high"
        ]
        assert hook.tick() == 0
        assert orders.orders(asset_no="HT-TNK-001", kind="corrective") == []
        # and without the plan, the same raise would have made one
        assert orders_for(url, alarms, orders).tick() == 0  # the cursor moved past it
    finally:
        generator.close()


def test_two_schedulers_handle_each_raise_exactly_once(
    url: str, stores: tuple[AlarmStore, WorkOrderStore]
) -> None:
    """Issue 10, finding 6: two schedulers (separate stores, as on two hosts) at once."""
    alarms, orders = stores
    second = WorkOrderStore(url)
    try:
        hooks = [orders_for(url, alarms, orders), orders_for(url, alarms, second)]
        hooks[0].tick()
        core = AlarmCore(compile_alarms(HT_ASSETS, PROFILES))
        repeats = 8
        at = T0
        for i in range(repeats):
            feed(core, alarms, pool(at, dry_run=True))
            feed(core, alarms, pool(at + timedelta(minutes=1), dry_run=False))
            reset = Command("reset", "HT-PDP-001/dry_run", "li.na", f"reset {i}")
            alarms.write(core.command(reset, at + timedelta(minutes=2))[1], [])
            at += timedelta(minutes=10)
        start = threading.Barrier(2)
        done: list[int] = []

        def run(hook: AlarmOrders) -> None:
            start.wait()
            done.append(hook.tick())

        threads = [threading.Thread(target=run, args=(h,)) for h in hooks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        (order,) = orders.orders(asset_no="HT-PDP-001")
        assert order.alarm_count == repeats  # every raise once: none lost, none twice
        assert sum(done) == repeats
        assert sum(h.duplicates for h in hooks) + sum(done) >= repeats
        assert orders.cursor("corrective-orders") == max(
            r.id for r in StoreRaises(alarms).raises(after_id=None, limit=100)
        )
    finally:
        second.close()
