"""Work orders in a real SQLite database: lifecycle, corrective orders, proof of fix, history,
KPIs and the ``facility wo`` / ``facility pm`` commands."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from device_profiles import load_library
from device_profiles.models import Priority
from facility.cli import cli
from facility.errors import ConfigError, PermissionDenied
from facility.types import AssetStatus
from maintenance.alarm_schema import AlarmJournalRow
from maintenance.generator import Generator
from maintenance.kpi import Ratio, report
from maintenance.store import LedgerStore
from maintenance.telemetry import StaticSeries
from maintenance.timeline import EntryKind, asset_timeline
from maintenance.wo_store import CollectingNotifier, WorkOrderStore
from maintenance.workorders import FixVerdict, Sample, Signal, WorkOrderError, WoState
from tests.support import SignIn, seed_ledger

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=SH).astimezone(UTC)
M = timedelta(minutes=1)
DRY_RUN = Signal("dry_run_trip", bad_states=(1.0,))


@pytest.fixture
def url(sql_url: str) -> str:
    return seed_ledger(sql_url, "HT")


@pytest.fixture
def notices() -> CollectingNotifier:
    return CollectingNotifier()


@pytest.fixture
def store(url: str, notices: CollectingNotifier) -> Iterator[WorkOrderStore]:
    with WorkOrderStore(url, notifier=notices, proof_hold=timedelta(minutes=30)) as s:
        yield s


def dry_run(store: WorkOrderStore, at: datetime) -> tuple[str, bool, bool]:
    result = store.raise_corrective(
        "HT-PDP-001",
        "alarm:dry_run",
        title_en="Drain pump dry-run trip",
        title_zh="排水泵干转跳闸",
        priority=Priority.HIGH,
        actor="alarm-engine",
        at=at,
        signal=DRY_RUN,
    )
    return result.order.number, result.created, result.reopened


def test_lifecycle_with_users_and_times(store: WorkOrderStore, notices: CollectingNotifier) -> None:
    number, created, _ = dry_run(store, T0)
    assert created
    assert number == "WO-HT-2026-00001"
    store.assign(number, "zhang.wei", actor="supervisor", at=T0 + 5 * M)
    store.start(number, actor="zhang.wei", at=T0 + 20 * M)
    store.hold(number, "waiting for the float switch", actor="zhang.wei", at=T0 + 30 * M)
    store.start(number, actor="zhang.wei", at=T0 + 90 * M)
    store.log_labour(
        number, "zhang.wei", 75, note="sump cleaned", actor="zhang.wei", at=T0 + 100 * M
    )
    store.add_part(number, "Float switch", 1, part_no="FS-20", actor="zhang.wei", at=T0 + 100 * M)
    store.complete(
        number, actor="zhang.wei", at=T0 + 2 * 60 * M, problem="P-TRIP", cause="c-dry",
        remedy="R-CLEAN", note="strainer blocked",
    )  # fmt: skip
    store.verify(number, actor="supervisor", at=T0 + 3 * 60 * M)
    order = store.close_order(number, actor="supervisor", at=T0 + 4 * 60 * M)
    assert order.state is WoState.CLOSED
    assert [(e.action, e.actor) for e in order.events] == [
        ("created", "alarm-engine"),
        ("assigned", "supervisor"),
        ("started", "zhang.wei"),
        ("held", "zhang.wei"),
        ("resumed", "zhang.wei"),
        ("labour", "zhang.wei"),
        ("part", "zhang.wei"),
        ("completed", "zhang.wei"),
        ("verified", "supervisor"),
        ("closed", "supervisor"),
    ]
    assert order.events[3].note == "waiting for the float switch"
    assert (order.problem_code, order.cause_code, order.remedy_code) == (
        "P-TRIP",
        "C-DRY",
        "R-CLEAN",
    )
    assert order.responded_at == T0 + 5 * M
    assert order.response_met() is True  # high: respond within 30 min
    assert order.completion_met() is True
    assert [(p.description, p.part_no) for p in order.parts] == [("Float switch", "FS-20")]
    assert sum(line.minutes for line in order.labour) == 75
    assert [n.event for n in notices.notices] == ["created", "assigned", "verified"]
    assert notices.notices[1].recipient == "zhang.wei"


def test_refused_transitions_change_nothing(store: WorkOrderStore) -> None:
    number, *_ = dry_run(store, T0)
    before = store.get(number)
    with pytest.raises(WorkOrderError, match="cannot close: the order is open"):
        store.close_order(number, at=T0 + M)
    with pytest.raises(WorkOrderError, match="start it first"):
        store.complete(number, at=T0 + M)
    store.start(number, actor="li", at=T0 + M)
    with pytest.raises(WorkOrderError) as caught:
        store.complete(number, actor="li", at=T0 + 2 * M)
    assert "needs a problem code" in str(caught.value)
    assert "needs a remedy code" in str(caught.value)
    with pytest.raises(WorkOrderError, match="remedy code 'R-MAGIC' is unknown"):
        store.complete(number, problem="P-TRIP", cause="C-DRY", remedy="R-MAGIC")
    store.complete(number, problem="P-TRIP", cause="C-DRY", remedy="R-ADJUST", at=T0 + 3 * M)
    with pytest.raises(WorkOrderError, match="cannot close: the order is completed; verify it"):
        store.close_order(number)
    after = store.get(number)
    assert [e.action for e in after.events] == ["created", "started", "completed"]
    assert before.events[0] == after.events[0]
    with pytest.raises(WorkOrderError, match="no work order WO-HT-2026-09999"):
        store.get("WO-HT-2026-09999")


def test_preventive_completion_needs_the_required_checklist(
    url: str, store: WorkOrderStore
) -> None:
    with Generator(url, profiles=load_library(), worker="test") as gen:
        numbers = gen.run_pass(T0).generated
    orders = [store.get(n) for n in numbers]
    tank = next(o for o in orders if o.plan_name == "water_quality_test")
    store.start(tank.number, actor="wang", at=T0)
    with pytest.raises(WorkOrderError) as caught:
        store.complete(tank.number, actor="wang")
    assert str(caught.value).splitlines() == [
        f"{tank.number}: cannot complete: checklist item 1 (Residual chlorine) is required and "
        "not answered",
        f"{tank.number}: cannot complete: checklist item 2 (Sample sent to the lab) is required "
        "and not answered",
    ]
    # 0.02 mg/L is below the limits: recorded as failed, and it raises a corrective order.
    line, child = store.record(tank.number, 1, "0.02", actor="wang", at=T0 + M, spawn=True)
    assert (line.passed, line.value_num) == (False, 0.02)
    assert child is not None
    assert child.kind.value == "corrective"
    _, same = store.record(tank.number, 1, "0.02", actor="wang", at=T0 + 2 * M, spawn=True)
    assert same is not None
    assert same.number == child.number  # one corrective order per failed item
    store.record(tank.number, 2, "yes", actor="wang", at=T0 + 3 * M)
    done = store.complete(tank.number, actor="wang", at=T0 + 4 * M)
    assert done.state is WoState.COMPLETED
    assert store.get(child.number).parent_number == tank.number
    store.start(child.number, actor="wang", at=T0 + 5 * M)
    with pytest.raises(WorkOrderError, match=r"no checklist item 9 \(items: none\)"):
        store.record(child.number, 9, "x")


def test_alarm_repeats_attach_and_a_repeat_after_completion_reopens(store: WorkOrderStore) -> None:
    number, _, _ = dry_run(store, T0)
    for minute in (5, 10):
        again, created_again, reopened = dry_run(store, T0 + minute * M)
        assert (again, created_again, reopened) == (number, False, False)
    assert store.get(number).alarm_count == 3
    store.start(number, actor="li", at=T0 + 20 * M)
    store.complete(number, problem="P-TRIP", cause="C-DRY", remedy="R-CLEAN", at=T0 + 30 * M)
    again, created_again, reopened = dry_run(store, T0 + 40 * M)
    assert (again, created_again, reopened) == (number, False, True)
    order = store.get(number)
    assert (order.state, order.reopen_count, order.completed_at) == (WoState.IN_PROGRESS, 1, None)
    store.complete(number, at=T0 + 50 * M)
    store.verify(number, at=T0 + 90 * M)
    fresh, created_fresh, _ = dry_run(store, T0 + 100 * M)
    assert created_fresh
    assert fresh != number  # a new failure after verification is a new order


def test_concurrent_alarm_raises_make_one_order(url: str) -> None:
    stores = [WorkOrderStore(url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results: list[tuple[str, bool, bool]] = []

    def raise_one(s: WorkOrderStore) -> None:
        barrier.wait()
        results.append(dry_run(s, T0))

    threads = [threading.Thread(target=raise_one, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for s in stores:
        s.close()
    assert len({number for number, *_ in results}) == 1
    assert sum(created for _, created, _ in results) == 1


def test_proof_of_fix_reopens_then_verifies(store: WorkOrderStore) -> None:
    number, *_ = dry_run(store, T0)
    store.start(number, actor="li", at=T0 + M)
    store.complete(number, problem="P-TRIP", cause="C-DRY", remedy="R-ADJUST", at=T0 + 10 * M)
    still = StaticSeries(
        {("HT-PDP-001", "dry_run_trip"): [Sample(T0 + (10 + i) * M, 1.0) for i in range(5)]}
    )
    result = store.check_fix(number, still, now=T0 + 15 * M)
    assert result.verdict is FixVerdict.REOPEN
    order = store.get(number)
    assert order.state is WoState.IN_PROGRESS
    assert order.verification is not None
    assert order.verification["verdict"] == "reopen"
    assert order.events[-1].actor == "proof-of-fix"
    done = T0 + 60 * M
    store.complete(number, at=done)
    clear = StaticSeries(
        {("HT-PDP-001", "dry_run_trip"): [Sample(done + i * M, 0.0) for i in range(0, 41)]}
    )
    assert store.check_fix(number, clear, now=done + 10 * M).verdict is FixVerdict.PENDING
    assert store.get(number).state is WoState.COMPLETED
    checks = store.check_fixes(clear, now=done + 40 * M)
    assert checks[number].verdict is FixVerdict.VERIFIED
    assert store.get(number).state is WoState.VERIFIED
    with pytest.raises(WorkOrderError, match="proof of fix applies to completed orders"):
        store.check_fix(number, clear, now=done + 50 * M)


def test_numbers_run_per_site_and_year(store: WorkOrderStore) -> None:
    def manual(at: datetime) -> str:
        return store.raise_corrective(
            "HT-PMP-001", "manual", title_en="x", title_zh="x", priority="low", at=at,
            attach=False,
        ).order.number  # fmt: skip

    assert manual(T0) == "WO-HT-2026-00001"
    assert manual(T0) == "WO-HT-2026-00002"
    # New Year in Zhongshan comes at 16:00 UTC on Dec 31.
    assert manual(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == "WO-HT-2026-00003"
    assert manual(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "WO-HT-2027-00001"
    with pytest.raises(ConfigError, match="unknown asset HT-PMP-999"):
        store.raise_corrective("HT-PMP-999", "manual", title_en="x", title_zh="x", priority="low")


def test_timeline_merges_orders_alarms_meters_and_status(url: str, store: WorkOrderStore) -> None:
    number, *_ = dry_run(store, T0)
    store.add_meter_reading("HT-PDP-001", "pump_run_hours", 812.5, actor="li", at=T0 + M)
    with LedgerStore(url) as ledger:
        ledger.set_status("HT-PDP-001", AssetStatus.OUT_OF_SERVICE, user="li", note="repair")
    with store.db.transaction(write=True) as tx:
        tx.add(
            AlarmJournalRow(
                at=T0 - M, alarm_id="HT-PDP-001/dry_run", site="HT", asset_no="HT-PDP-001",
                alarm="dry_run", event="raise", from_state="normal", to_state="unack",
                priority="high", value=True, actor=None, comment="", detail={},
            )
        )  # fmt: skip
    entries = asset_timeline(store.db, "HT-PDP-001")
    # The alarm, the order and the reading at T0; the import and the status change later (now).
    assert [e.kind for e in entries][:3] == [
        EntryKind.ALARM,
        EntryKind.WORK_ORDER,
        EntryKind.METER,
    ]
    assert [(e.kind, e.action) for e in entries[-2:]] == [
        (EntryKind.STATUS, "in_service"),
        (EntryKind.STATUS, "out_of_service"),
    ]
    assert any(e.ref == number and e.action == "created" for e in entries)
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    recent = asset_timeline(store.db, "HT-PDP-001", since=T0, kinds=frozenset({EntryKind.METER}))
    assert [e.text for e in recent] == ["pump_run_hours = 812.5 (manual)"]


def test_kpis_from_the_database(store: WorkOrderStore) -> None:
    on_time, *_ = dry_run(store, T0)
    store.start(on_time, at=T0 + M)
    store.complete(on_time, problem="P-TRIP", cause="C-DRY", remedy="R-CLEAN", at=T0 + 60 * M)
    late = store.raise_corrective(
        "HT-PMP-001", "manual", title_en="Seal leak", title_zh="机封漏水", priority="high",
        at=T0, attach=False,
    ).order.number  # fmt: skip
    store.start(late, at=T0 + M)
    store.complete(late, problem="P-LEAK", cause="C-WEAR", remedy="R-REPLACE", at=T0 + 30 * 60 * M)
    start = datetime(2026, 11, 1, tzinfo=SH)
    end = datetime(2026, 12, 1, tzinfo=SH)
    records = store.kpi_records(start, end)
    (row,) = report(
        records.occurrences, records.orders, records.assets, start, end, "month", SH, end
    )
    assert row.repair_timeliness == Ratio(1, 2)
    assert row.mttr_h == pytest.approx((1 + 30) / 2)
    assert row.failures == 2
    assert records.assets_per_site() == {"HT": 63}


# --- the commands ---------------------------------------------------------------------------

Run = Callable[..., Result]


@pytest.fixture
def run(url: str, monkeypatch: pytest.MonkeyPatch, signed_in_as: SignIn) -> Run:
    monkeypatch.setenv("FACILITY_DATABASE__URL", url)
    monkeypatch.setenv("FACILITY_INFLUXDB__URL", "http://127.0.0.1:9")  # none: SQL meters only
    signed_in_as(url, "li.na", ["supervisor"])
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        result = runner.invoke(cli, list(args), catch_exceptions=True, standalone_mode=False)
        if result.exception is not None:
            raise result.exception
        return result

    return invoke


def test_cli_flow_from_plans_to_a_closed_order(
    run: Run, tmp_path: Path, url: str, signed_in_as: SignIn
) -> None:
    assert "HT-FAP-001  daily_check" in run("pm", "plans", "--asset", "HT-FAP-001").output
    generated = run("pm", "generate", "--at", "2026-11-26T08:00").output
    number = next(line for line in generated.splitlines() if line.startswith("WO-HT-"))
    assert "orders generated" in generated
    again = run("pm", "generate", "--at", "2026-11-26T08:00", "-q").output
    assert "0 orders generated" in again
    listed = run("wo", "list", "--site", "HT", "--open").output
    assert number in listed
    run("wo", "assign", number, "zhang.wei")
    signed_in_as(url, "zhang.wei", ["technician"])  # the technician does the work ...
    run("wo", "start", number)
    order_text = run("wo", "show", number).output
    items = [line for line in order_text.splitlines() if line.startswith("   ") and "*" in line]
    for position in range(1, len(items) + 1):
        kind = items[position - 1].split("(")[-1].split(")")[0]
        answer = {"number": "26", "meter": "100", "photo": "IMG_1.jpg"}.get(kind, "pass")
        run("wo", "record", number, str(position), answer)
    run("wo", "complete", number, "--note", "done")
    signed_in_as(url, "li.na", ["supervisor"])  # ... and another person verifies it
    run("wo", "verify", number)
    closed = run("wo", "close", number).output
    assert closed.strip() == f"{number}: closed (zhang.wei)"
    shown = run("wo", "show", number).output
    assert "li.na closed" in shown
    sheet = tmp_path / "sheet.pdf"
    run("wo", "sheet", number, "-o", str(sheet))
    assert sheet.read_bytes().startswith(b"%PDF-")
    assert "P-TRIP" in run("wo", "codes").output
    assert "repair timeliness target 90%" in run("wo", "kpi", "--period", "week").output


def test_cli_refusals_are_one_message_and_exit_2(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signed_in_as: SignIn,
) -> None:
    from facility.cli import main

    monkeypatch.setenv("FACILITY_DATABASE__URL", url)
    signed_in_as(url, "li.na", ["supervisor"])
    main(["wo", "raise", "HT-PMP-001", "--title", "Seal leak", "--priority", "high"])
    number = capsys.readouterr().out.strip()
    assert number == "WO-HT-2026-00001"
    for args, message in [
        (["wo", "close", number], f"error: {number}: cannot close: the order is open;"),
        (
            ["wo", "start", number, "--at", "2030-01-01T00:00"],
            f"error: {number}: 2029-12-31 16:00 UTC is in the future",
        ),
        (["wo", "complete", "WO-HT-26-1"], "error: work order 'WO-HT-26-1': expected WO-<SITE>"),
        (["pm", "generate", "--at", "yesterday"], "error: --at 'yesterday': expected an ISO time"),
        # a typo is not an estate without orders (issue 10, finding 9)
        (["wo", "list", "--site", "ZZ"], "error: unknown site 'ZZ': the ledger has HT, HY, JU"),
        (["wo", "kpi", "--site", "ZZ"], "error: unknown site 'ZZ'"),
        (["wo", "list", "--asset", "HT-PMP-999"], "error: unknown asset HT-PMP-999"),
        # typed counter readings that cannot be right (issue 10, finding 8)
        (
            ["pm", "meter", "HT-PMP-001", "run_hours", "--", "-5"],
            "error: HT-PMP-001 run_hours = -5",
        ),
        (["pm", "meter", "HT-PMP-001", "run_hours", "nan"], "error: HT-PMP-001 run_hours = nan"),
        (["pm", "meter", "HT-PMP-001", "run_hourz", "5"], "error: HT-PMP-001 run_hourz: not a"),
        (
            ["pm", "meter", "HT-PMP-001", "run_hours", "5", "--at", "2030-01-01T00:00"],
            "error: HT-PMP-001 run_hours: read at 2029-12-31 16:00 UTC, which is in the future",
        ),
    ]:
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(message)
        assert "Traceback" not in err
    # a lower reading is refused unless it is marked as a reset
    main(["pm", "meter", "HT-PMP-001", "run_hours", "1500"])
    with pytest.raises(SystemExit):
        main(["pm", "meter", "HT-PMP-001", "run_hours", "12"])
    assert "a counter only goes up" in capsys.readouterr().err
    main(["pm", "meter", "HT-PMP-001", "run_hours", "12", "--reset"])


def test_cli_bad_overrides_file(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from facility.cli import main

    overrides = tmp_path / "plans.yaml"
    overrides.write_text(
        "HT-PMP-001:\n  inspection:\n    triggers: [{kind: meter, point: run_hour, every: 0}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FACILITY_DATABASE__URL", url)
    monkeypatch.setenv("FACILITY_MAINTENANCE__PLAN_OVERRIDES", str(overrides))
    with pytest.raises(SystemExit) as exited:
        main(["pm", "plans"])
    assert exited.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert (
        f"{overrides}:3: HT-PMP-001.inspection.triggers[0].every: Input should be greater than 0"
        in err
    )
    assert err[-1] == "1 problem(s) in the PM plans: nothing changed"


def test_retiring_an_asset_cancels_its_orders_and_refuses_new_ones(
    url: str,
    store: WorkOrderStore,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 10, finding 7: retired assets kept their open orders and took new ones."""
    leak = store.raise_corrective(
        "HT-PMP-002", "manual", title_en="Seal leak", title_zh="机封漏水", priority="high", at=T0
    ).order.number
    with LedgerStore(url) as ledger:
        ledger.set_status("HT-PMP-002", AssetStatus.RETIRED, user="li.ming", note="replaced")
        (change,) = [e for e in ledger.audit_log("HT-PMP-002") if e.action == "asset.status"]
    cancelled = store.get(leak)
    assert cancelled.state is WoState.CANCELLED
    assert change.detail["cancelled"] == [leak]
    assert [(e.actor, e.note) for e in cancelled.events][-1] == (
        "li.ming",
        "asset retired by li.ming: replaced",
    ), [(e.action, e.note) for e in cancelled.events]
    with pytest.raises(ConfigError, match="HT-PMP-002 is retired: it takes no new work orders"):
        store.raise_corrective(
            "HT-PMP-002", "manual", title_en="x", title_zh="x", priority="low", at=T0
        )
    # an override for it is said to be ignored, not silently dropped
    from maintenance import pm_plans
    from maintenance.pm_plans import effective_plans, parse_overrides

    monkeypatch.setattr(pm_plans, "_RETIRED_WARNED", set())  # said once per process

    overrides = parse_overrides("HT-PMP-002:\n  inspection:\n    enabled: false\n", "plans.yaml")
    with LedgerStore(url) as ledger:
        retired = ledger.asset("HT-PMP-002")
    assert retired is not None
    with caplog.at_level("WARNING"):
        assert effective_plans(retired, None, overrides) == []
    assert "plan overrides for HT-PMP-002 are ignored: the asset is retired" in caplog.text


def test_steps_are_dated_when_they_happened_within_limits_and_duties_are_separate(
    url: str, store: WorkOrderStore, signed_in_as: SignIn
) -> None:
    """Issue 10, finding 9: paper sheets typed in later; a completion before creation; one
    person completing and verifying their own order."""
    from maintenance.identity.roles import Source
    from maintenance.identity.store import UserStore
    from tests.support import TEST_PASSWORD

    signed_in_as(url, "zhang.wei", ["technician"])
    signed_in_as(url, "li.na", ["supervisor"])
    with UserStore(url) as users:
        tech = users.authenticate("zhang.wei", TEST_PASSWORD, source=Source.CLI)
        boss = users.authenticate("li.na", TEST_PASSWORD, source=Source.CLI)
    now = datetime.now(UTC)
    created = now - timedelta(days=2)
    number = store.raise_corrective(
        "HT-PMP-001", "manual", title_en="Seal leak", title_zh="机封漏水", priority="high",
        at=created, attach=False,
    ).order.number  # fmt: skip
    store.assign(number, "zhang.wei", actor=boss, at=created + M)
    with pytest.raises(WorkOrderError, match="before the order's previous step"):
        store.start(number, actor=tech, at=created - timedelta(hours=24))
    with pytest.raises(WorkOrderError, match="in the future"):
        store.start(number, actor=tech, at=now + timedelta(hours=1))
    store.start(number, actor=tech, at=created + timedelta(hours=1))  # from the paper sheet
    order = store.complete(
        number, actor=tech, at=created + timedelta(hours=3),
        problem="P-LEAK", cause="C-WEAR", remedy="R-REPLACE",
    )  # fmt: skip
    assert order.completed_at == created + timedelta(hours=3)
    with UserStore(url) as users:
        (completed,) = users.audit_log(entity=number, action="wo_complete")
    assert completed.detail["backdated"] is True
    assert "entered_at" in completed.detail
    old = store.raise_corrective(
        "HT-PMP-001", "manual", title_en="Old leak", title_zh="旧渗漏", priority="low",
        at=now - timedelta(days=45), attach=False,
    ).order.number  # fmt: skip
    with pytest.raises(WorkOrderError, match="more than 30 days back"):
        store.start(old, actor=boss, at=now - timedelta(days=40))
    # the technician may not verify their own work, nor may a supervisor who completed it
    with pytest.raises(PermissionDenied):
        store.verify(number, actor=tech)
    assert store.verify(number, actor=boss).state is WoState.VERIFIED
    second = store.raise_corrective(
        "HT-PMP-001", "manual", title_en="Noise", title_zh="异响", priority="low", at=created,
        attach=False,
    ).order.number  # fmt: skip
    store.start(second, actor=boss, at=created + M)
    store.complete(
        second, actor=boss, at=created + 2 * M, problem="P-NOISE", cause="C-WEAR",
        remedy="R-REPLACE",
    )  # fmt: skip
    with pytest.raises(PermissionDenied, match="separation of duties"):
        store.verify(second, actor=boss)
