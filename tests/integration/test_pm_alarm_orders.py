"""Raised alarms become corrective work orders: once per raise, across restarts, by priority."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_profiles import load_library
from facility.payload import DeviceMessage
from facility.types import Quality, Reading
from gateway.alarms.core import AlarmCore, Command
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.store import AlarmStore, CurrentAlarm
from gateway.telemetry import StoreRaises
from maintenance.alarm_orders import AlarmOrders
from maintenance.ledger_files import demo_ledger_paths, demo_sites, read_ledger_file
from maintenance.store import LedgerStore
from maintenance.wo_store import WorkOrderStore

PROFILES = load_library()
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'facility.db'}"
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
            i, "HT", "HT-PDP-001", i.split("/")[1], core.spec(i).priority.value, core.status(i)
        )
        for i in ids
    ]
    store.write(records, currents)


def orders_for(url: str, alarms: AlarmStore, orders: WorkOrderStore, cursor: Path) -> AlarmOrders:
    assets = read_ledger_file(next(p for p in demo_ledger_paths() if p.stem == "HT"))
    by_no = {a.asset_no: a.profile or "" for a in assets}
    return AlarmOrders(StoreRaises(alarms), orders, PROFILES, lambda: by_no, cursor)


def test_high_priority_raise_becomes_one_order_and_repeats_attach(
    url: str, stores: tuple[AlarmStore, WorkOrderStore], tmp_path: Path
) -> None:
    alarms, orders = stores
    cursor = tmp_path / "cursor.json"
    hook = orders_for(url, alarms, orders, cursor)
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
    # nothing new: a second pass and a restarted hook (same cursor file) add nothing
    assert hook.tick() == 0
    assert orders_for(url, alarms, orders, cursor).tick() == 0
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
