"""Maintenance driven by live telemetry through a real influxd: the simulators' device physics
run accelerated, their readings go into the historian as line protocol, and the generator and
proof of fix read them back through ``gateway.history``.

- a pump reaching its run-hour threshold gets exactly one preventive order;
- a dry-run trip of the pool drain pump gets exactly one corrective order and further trips
  attach to it; completing it while the fault is still injected reopens it; removing the
  fault and completing verifies it.

Alarm detection here is the profile's state-alarm rule on each reading (rising edge); the
alarm engine's own tests cover the engine, this test what maintenance does with its alarms.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_profiles import load_library
from device_profiles.models import DeviceProfile
from devtools.services import InfluxServer
from facility.types import PointValue
from gateway.history import History
from gateway.influx import InfluxClient
from gateway.lineproto import to_ms
from gateway.retention import RetentionPlan, setup
from gateway.telemetry import InfluxMeters, InfluxSeries
from maintenance.generator import Generator
from maintenance.wo_store import WorkOrderStore
from maintenance.workorders import FixVerdict, WoState
from simulators.physics import FaultKind, create_model
from tests.support import seed_ledger

LIBRARY = load_library()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return seed_ledger(f"sqlite:///{tmp_path / 'facility.db'}", "HT")


@pytest.fixture
def history(influxd: InfluxServer, influx_db: str) -> Iterator[History]:
    client = InfluxClient(influxd.url, influx_db)
    plan = RetentionPlan()
    setup(client, plan)
    try:
        yield History(client, plan)
    finally:
        client.close()


def line(measurement: str, asset_no: str, values: dict[str, PointValue], at: datetime) -> str:
    fields = ",".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else float(v)}"  # type: ignore[arg-type]
        for k, v in values.items()
    )
    return f"{measurement},site={asset_no[:2]},asset_no={asset_no} {fields} {to_ms(at)}"


def write(history: History, lines: list[str]) -> None:
    history.client.write(("\n".join(lines) + "\n").encode(), retention_policy="raw")


def test_a_pump_reaching_its_run_hours_gets_exactly_one_order(url: str, history: History) -> None:
    profile: DeviceProfile = LIBRARY["vfd-booster-pump"]
    pump = create_model("HT-PMP-001", profile, seed=7)
    sim = datetime(2026, 6, 1, tzinfo=UTC)  # simulated plant time, 6 h per step
    wall = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)  # one minute per step
    pump.step(sim, 0.0)
    start_hours = float(pump.values()["run_hours"])  # type: ignore[arg-type]
    with (
        Generator(url, profiles=LIBRARY, meters=InfluxMeters(history), worker="test") as gen,
        WorkOrderStore(url) as store,
    ):
        generated: list[str] = []
        for step in range(110):  # about 550 run hours at a duty pump's 20 h a day
            sim += timedelta(hours=6)
            wall += timedelta(minutes=1)
            pump.step(sim, 6 * 3600.0)
            write(
                history,
                [line("pmp", "HT-PMP-001", {"run_hours": pump.values()["run_hours"]}, wall)],
            )
            if step == 0 or step % 4 == 0:
                generated += gen.run_pass(wall).generated
        inspections = [
            o
            for o in (store.get(n) for n in generated)
            if o.asset_no == "HT-PMP-001" and o.plan_name == "inspection"
        ]
        run_hours = float(pump.values()["run_hours"])  # type: ignore[arg-type]
    assert run_hours - start_hours > 500
    assert len(inspections) == 1
    (order,) = inspections
    assert order.slot is not None
    assert order.slot.startswith("meter:run_hours:")
    assert order.slot.endswith("+500")  # 500 h into the cycle (the slot names the cycle)
    found = re.search(r"run_hours reached ([0-9.]+)", order.description)
    assert found is not None
    threshold = float(found.group(1))
    assert start_hours + 499 < threshold < start_hours + 507  # baseline: the first reading + 500


def test_dry_run_trip_one_order_repeats_attach_proof_of_fix(url: str, history: History) -> None:
    profile: DeviceProfile = LIBRARY["pool-drainage-controller"]
    alarm = next(a for a in profile.alarms if a.name == "dry_run")
    pool = create_model("HT-PDP-001", profile, seed=3)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    pool.step(now, 0.0)
    pool.write("mode", 2)  # manual: the coils are obeyed
    pool.write("pump_command", True)
    store = WorkOrderStore(url, proof_hold=timedelta(minutes=30))
    series = InfluxSeries(history)
    raised: list[tuple[str, bool]] = []
    tripped = False

    def run(seconds: int, step_s: int = 10) -> None:
        nonlocal now, tripped
        lines = []
        for _ in range(seconds // step_s):
            now += timedelta(seconds=step_s)
            pool.step(now, float(step_s))
            values = pool.values()
            lines.append(line("pdp", "HT-PDP-001", {"dry_run_trip": values["dry_run_trip"]}, now))
            active = values[alarm.point or ""] in (alarm.states or ())
            if active and not tripped:  # the alarm rises: the engine calls maintenance
                result = store.raise_from_alarm("HT-PDP-001", alarm, at=now, value=True)
                raised.append((result.order.number, result.created))
            tripped = active
        write(history, lines)

    def reset_trip() -> None:
        pool.write("pump_command", False)
        pool.write("pump_command", True)

    try:
        run(60)
        assert raised == []
        pool.inject(FaultKind.DRY_RUN, True)
        run(60)  # trips after 20 s of running dry
        reset_trip()
        run(60)  # trips again: attaches
        assert [created for _, created in raised] == [True, False]
        number = raised[0][0]
        assert {n for n, _ in raised} == {number}
        order = store.get(number)
        assert (order.alarm_count, order.condition) == (2, "alarm:dry_run")
        assert order.signal is not None
        assert order.signal.point == "dry_run_trip"

        # Completed while the fault is still there: the trip is still latched -> reopened.
        store.start(number, actor="li", at=now)
        store.complete(
            number, actor="li", at=now, problem="P-TRIP", cause="C-DRY", remedy="R-ADJUST"
        )
        run(120)
        result = store.check_fix(number, series, now=now)
        assert result.verdict is FixVerdict.REOPEN
        assert "dry_run_trip = 1" in result.reason
        assert store.get(number).state is WoState.IN_PROGRESS

        # The fault removed and the trip reset: it stays clear for the hold -> verified.
        pool.inject(FaultKind.DRY_RUN, False)
        reset_trip()
        run(30)
        store.complete(
            number, actor="li", at=now, problem="P-TRIP", cause="C-DRY", remedy="R-CLEAN"
        )
        run(20 * 60, step_s=30)
        assert store.check_fix(number, series, now=now).verdict is FixVerdict.PENDING
        run(11 * 60, step_s=30)
        result = store.check_fix(number, series, now=now)
        assert result.verdict is FixVerdict.VERIFIED, result.reason
        final = store.get(number)
        assert final.state is WoState.VERIFIED
        assert [e.action for e in final.events].count("reopened") == 1
        assert len(raised) == 2  # one order for the whole episode
    finally:
        store.close()
