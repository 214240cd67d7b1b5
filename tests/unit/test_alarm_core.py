"""The engine's core on real profiles and demo assets: messages, timers and commands in,
journal entries out — raise/ack/latch/reset, bad quality, comm loss and stale devices, mode
rules, restart without re-raising, floods and incidents."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from device_profiles import load_library
from facility.payload import DeviceMessage
from facility.types import Asset, AssetStatus, PointValue, Quality, Reading
from gateway.alarms.core import AlarmCore, Command
from gateway.alarms.definitions import AlarmSet, compile_alarms
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import AlarmCommandError, AlarmState
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file

PROFILES = load_library()
JUNE = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # pool season, 10:00 in Zhongshan
DECEMBER = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

NORMAL: dict[str, dict[str, PointValue]] = {
    "PDP": {"dry_run_trip": False, "door_open": False, "flood": False, "pool_level": 150.0},
    "PMP": {"discharge_pressure": 4.0, "current": 20.0, "fault_code": 0},
    "FAP": {
        "panel_state": 0,
        "mains_fault": False,
        "battery_fault": False,
        "sprinkler_pressure": 5.0,
        "test_mode": False,
    },
    "TNK": {"level": 2.0, "residual_chlorine": 0.3, "turbidity": 0.2},
}


def demo_assets(*numbers: str) -> list[Asset]:
    by_no = {a.asset_no: a for p in demo_ledger_paths() for a in read_ledger_file(p)}
    return [by_no[n] for n in numbers]


def alarm_set(*numbers: str) -> AlarmSet:
    return compile_alarms(demo_assets(*numbers), PROFILES)


def message(
    asset_no: str,
    at: datetime,
    values: Mapping[str, PointValue] | None = None,
    quality: Mapping[str, Quality] | None = None,
    health: Mapping[str, float | int | bool | str] | None = None,
) -> DeviceMessage:
    cls = asset_no.split("-")[1]
    merged = {**NORMAL[cls], **(values or {})}
    readings = tuple(
        Reading(
            asset_no[:2],
            asset_no,
            point,
            None if (quality or {}).get(point) is Quality.BAD_COMM else value,
            "",
            (quality or {}).get(point, Quality.GOOD),
            None,
            at,
        )
        for point, value in merged.items()
    )
    return DeviceMessage(asset_no[:2], asset_no, cls, 1, at, readings, health or {"comm_ok": True})


def kinds(records: list[AlarmRecord], alarm_id: str | None = None) -> list[str]:
    return [r.kind.value for r in records if alarm_id is None or r.alarm_id == alarm_id]


def sec(base: datetime, seconds: float) -> datetime:
    return base + timedelta(seconds=seconds)


DRY = "HT-PDP-001/dry_run"


def test_dry_run_raise_ack_latch_reset() -> None:
    core = AlarmCore(alarm_set("HT-PDP-001"))
    assert core.on_message(message("HT-PDP-001", JUNE), JUNE) == []
    raised = core.on_message(
        message("HT-PDP-001", sec(JUNE, 1), {"dry_run_trip": True}), sec(JUNE, 1)
    )
    assert kinds(raised) == ["raise"]
    assert raised[0].alarm_id == DRY
    assert raised[0].value is True
    assert raised[0].priority == "high"
    status, acked = core.command(Command("ack", DRY, "li.na", "on my way"), sec(JUNE, 5))
    assert status.state is AlarmState.ACKED
    assert (acked[0].user, acked[0].comment) == ("li.na", "on my way")
    cleared = core.on_message(message("HT-PDP-001", sec(JUNE, 9)), sec(JUNE, 9))
    assert kinds(cleared) == ["clear"]
    assert core.status(DRY).state is AlarmState.LATCHED  # the profile latches dry-run trips
    status, _ = core.command(Command("reset", DRY, "li.na"), sec(JUNE, 20))
    assert status.state is AlarmState.NORMAL


def test_commands_on_unknown_or_normal_alarms_are_clear_errors() -> None:
    core = AlarmCore(alarm_set("HT-PDP-001"))
    with pytest.raises(AlarmCommandError, match=r"unknown alarm 'HT-PDP-001/dry_rn'.*dry_run"):
        core.command(Command("ack", "HT-PDP-001/dry_rn", "li.na"), JUNE)
    with pytest.raises(AlarmCommandError, match="HT-PDP-001/dry_run is normal"):
        core.command(Command("ack", DRY, "li.na"), JUNE)
    with pytest.raises(AlarmCommandError, match="a user is required"):
        core.command(Command("ack", DRY, " "), JUNE)


def test_bad_values_raise_the_quality_alarm_not_the_process_alarm() -> None:
    core = AlarmCore(alarm_set("HT-PMP-001"))
    core.on_message(message("HT-PMP-001", JUNE), JUNE)
    bad = message(
        "HT-PMP-001",
        sec(JUNE, 1),
        {"discharge_pressure": 99.0},
        {"discharge_pressure": Quality.UNCERTAIN_RANGE},
    )
    assert core.on_message(bad, sec(JUNE, 1)) == []  # 60 s on-delay for bad_quality
    late = core.tick(sec(JUNE, 61))
    assert kinds(late) == ["raise"]
    assert late[0].alarm_id == "HT-PMP-001/bad_quality"
    assert core.status("HT-PMP-001/pressure_high").state is AlarmState.NORMAL


def test_comm_loss_from_health_after_its_on_delay() -> None:
    core = AlarmCore(alarm_set("HT-PDP-001"))
    lost = {p: Quality.BAD_COMM for p in NORMAL["PDP"]}
    core.on_message(message("HT-PDP-001", JUNE, quality=lost, health={"comm_ok": False}), JUNE)
    assert core.tick(sec(JUNE, 29)) == []
    records = core.tick(sec(JUNE, 30))
    assert kinds(records) == ["raise"]
    assert records[0].alarm_id == "HT-PDP-001/comm_loss"
    # while comm is lost, the dry-run alarm keeps its state (no value, no change)
    assert core.status(DRY).state is AlarmState.NORMAL
    back = core.on_message(message("HT-PDP-001", sec(JUNE, 40)), sec(JUNE, 40))
    assert kinds(back) == ["clear"]


def test_a_device_that_goes_silent_raises_comm_loss() -> None:
    core = AlarmCore(alarm_set("HT-PDP-001"), stale_after_s=60)
    core.tick(JUNE)
    core.on_message(message("HT-PDP-001", JUNE), JUNE)
    assert core.tick(sec(JUNE, 60)) == []
    assert core.tick(sec(JUNE, 61)) == []  # stale now; comm_loss has a 30 s on-delay
    records = core.tick(sec(JUNE, 91))
    assert kinds(records) == ["raise"]
    assert records[0].alarm_id == "HT-PDP-001/comm_loss"


def test_a_device_never_heard_from_goes_stale_too() -> None:
    core = AlarmCore(alarm_set("HT-PDP-001"), stale_after_s=60)
    core.tick(JUNE)
    core.tick(sec(JUNE, 61))
    assert kinds(core.tick(sec(JUNE, 91))) == ["raise"]


def test_fire_panel_in_test_mode_suppresses_fire_but_counts_it() -> None:
    core = AlarmCore(alarm_set("HT-FAP-001"))
    fap = "HT-FAP-001"
    core.on_message(message(fap, JUNE), JUNE)
    testing = core.on_message(message(fap, sec(JUNE, 1), {"test_mode": True}), sec(JUNE, 1))
    assert set(kinds(testing)) == {"suppress"}
    assert core.status(f"{fap}/fire").state is AlarmState.SUPPRESSED
    assert core.status(f"{fap}/comm_loss").state is AlarmState.NORMAL  # not in the rule
    fire = core.on_message(
        message(fap, sec(JUNE, 2), {"test_mode": True, "panel_state": 1}), sec(JUNE, 2)
    )
    assert kinds(fire, f"{fap}/fire") == ["would_raise"]
    assert core.status(f"{fap}/fire").would_fire == 1
    # test mode ends while the panel still shows fire: the alarm is raised now
    ended = core.on_message(message(fap, sec(JUNE, 3), {"panel_state": 1}), sec(JUNE, 3))
    assert kinds(ended, f"{fap}/fire") == ["unsuppress"]
    assert core.status(f"{fap}/fire").state is AlarmState.UNACK
    assert [r.annunciate for r in ended if r.alarm_id == f"{fap}/fire"] == [True]


def test_panel_state_4_is_test_mode_too() -> None:
    core = AlarmCore(alarm_set("HT-FAP-001"))
    core.on_message(message("HT-FAP-001", JUNE, {"panel_state": 4}), JUNE)
    assert core.status("HT-FAP-001/fire").state is AlarmState.SUPPRESSED


def test_pool_off_season_by_the_calendar() -> None:
    core = AlarmCore(alarm_set("HT-PDP-001"))
    records = core.tick(DECEMBER)
    assert core.status("HT-PDP-001/level_low").suppressed_by == "pool_off_season"
    assert kinds(records) == ["suppress"]
    # a dry-run trip, a flooded plant room matter all year
    assert core.status(DRY).state is AlarmState.NORMAL
    assert core.status("HT-PDP-001/flood").state is AlarmState.NORMAL
    in_june = AlarmCore(alarm_set("HT-PDP-001"))
    in_june.tick(JUNE)
    assert in_june.status("HT-PDP-001/level_low").state is AlarmState.NORMAL


def test_asset_out_of_service_in_the_ledger() -> None:
    core = AlarmCore(alarm_set("HT-PMP-001"))
    core.on_message(message("HT-PMP-001", JUNE, {"discharge_pressure": 0.5}), JUNE)
    core.tick(sec(JUNE, 10))
    assert core.status("HT-PMP-001/pressure_low").state is AlarmState.UNACK
    records = core.set_asset_status("HT-PMP-001", AssetStatus.OUT_OF_SERVICE, sec(JUNE, 20))
    assert {r.kind.value for r in records} == {"suppress"}
    assert core.status("HT-PMP-001/pressure_low").suppressed_by == "asset_out_of_service"
    back = core.set_asset_status("HT-PMP-001", AssetStatus.IN_SERVICE, sec(JUNE, 30))
    assert kinds(back, "HT-PMP-001/pressure_low") == ["unsuppress"]
    assert core.status("HT-PMP-001/pressure_low").state is AlarmState.UNACK


def test_restart_from_saved_states_does_not_raise_again() -> None:
    first = AlarmCore(alarm_set("HT-PDP-001"))
    first.on_message(message("HT-PDP-001", JUNE, {"dry_run_trip": True}), JUNE)
    first.command(Command("ack", DRY, "li.na"), sec(JUNE, 2))
    saved = {spec.alarm_id: status for spec, status in first.statuses()}
    second = AlarmCore(alarm_set("HT-PDP-001"), restored=saved)
    records = second.on_message(
        message("HT-PDP-001", sec(JUNE, 10), {"dry_run_trip": True}), sec(JUNE, 10)
    )
    assert records == []
    assert second.status(DRY).state is AlarmState.ACKED


def test_raise_entries_carry_the_excursion_for_tuning() -> None:
    core = AlarmCore(alarm_set("HT-PMP-001"))
    high = "HT-PMP-001/pressure_high"  # hi 10, deadband 0.5, on-delay 5 s
    for t, value in [(0, 9.0), (1, 10.5), (7, 10.5), (8, 9.2), (9, 8.1), (10, 9.9), (11, 10.6)]:
        records = core.on_message(
            message("HT-PMP-001", sec(JUNE, t), {"discharge_pressure": value}), sec(JUNE, t)
        )
    records += core.tick(sec(JUNE, 16))
    raises = [r for r in records if r.alarm_id == high and r.kind.value == "raise"]
    assert raises[-1].detail["extreme"] == 8.1  # the lowest since it cleared at 9.2
    assert raises[-1].detail["limit"] == 10
    assert raises[-1].detail["check"] == "hi"


def test_flood_starts_at_the_eleventh_alarm_and_ends_exactly() -> None:
    numbers = [f"HT-PMP-{n:03d}" for n in range(1, 13)]
    core = AlarmCore(alarm_set(*numbers))
    records: list[AlarmRecord] = []
    for i, asset_no in enumerate(numbers):
        t = sec(JUNE, i * 20)  # 12 drive faults, one every 20 s
        records += core.on_message(message(asset_no, t, {"fault_code": 1}), t)
    starts = [r for r in records if r.kind.value == "flood_start"]
    assert len(starts) == 1
    assert starts[0].at == sec(JUNE, 200)  # the 11th alarm
    assert starts[0].alarm_id == "HT/flood"
    assert core.in_flood("HT")
    # after the 11th alarm the flag is on every raise; the flood ends when the 2nd alarm
    # (at 20 s) leaves the 10-minute window and 10 remain
    ends = core.tick(sec(JUNE, 640))
    end = [r for r in ends if r.kind.value == "flood_end"]
    assert [r.at for r in end] == [sec(JUNE, 620)]


def test_many_alarms_at_once_are_one_incident_with_its_first_out() -> None:
    numbers = [f"HT-PMP-{n:03d}" for n in range(1, 6)]
    core = AlarmCore(alarm_set(*numbers))
    records: list[AlarmRecord] = []
    for i, asset_no in enumerate(numbers):
        t = sec(JUNE, i * 2)
        records += core.on_message(message(asset_no, t, {"fault_code": 3}), t)
    incidents = [r for r in records if r.kind.value == "incident"]
    assert len(incidents) == 1
    assert incidents[0].detail["first_out"] == "HT-PMP-001/drive_fault"
    assert incidents[0].detail["count"] == 3
    raises = [r for r in records if r.kind.value == "raise"]
    assert {r.detail.get("incident") for r in raises[1:]} == {incidents[0].detail["incident"]}


def test_unknown_assets_are_counted_not_evaluated() -> None:
    core = AlarmCore(alarm_set("HT-PDP-001"))
    assert core.on_message(message("HT-PMP-001", JUNE), JUNE) == []
    assert core.stats.unknown_assets == 1


def test_an_engine_cut_off_from_the_bus_raises_nothing_for_its_own_deafness() -> None:
    """Broker down: the engine hears no heartbeat and no device, but the silence is its own.
    Fault suite, before: every service's system alarm was raised by a broker restart."""
    from facility.heartbeat import ServiceKind, make_heartbeat

    def collector(polls: int) -> object:
        return make_heartbeat(
            ServiceKind.COLLECTOR,
            "collector-1",
            ts=JUNE,
            interval_s=5,
            counters={"polls_total": polls, "published_total": polls, "spool_depth": 0},
            sites=("HT",),
            asset_nos=("HT-PMP-001",),
        )

    core = AlarmCore(alarm_set("HT-PMP-001"), stale_after_s=60)
    core.tick(JUNE)
    core.on_message(message("HT-PMP-001", JUNE), JUNE)
    core.on_heartbeat(collector(1), JUNE)  # type: ignore[arg-type]
    core.set_listening(False, JUNE + timedelta(seconds=1))
    records = []
    for s in range(2, 120, 2):  # two minutes deaf
        records += core.tick(JUNE + timedelta(seconds=s))
    assert kinds(records) == []
    back = JUNE + timedelta(seconds=120)
    core.set_listening(True, back)
    core.on_heartbeat(collector(2), back)  # type: ignore[arg-type]
    core.on_message(message("HT-PMP-001", back), back)
    assert kinds(core.tick(back + timedelta(seconds=5))) == []
    # and a service that stays silent after the engine hears again is still one alarm
    later = core.tick(back + timedelta(seconds=16))
    assert [r.alarm_id for r in later if r.kind.value == "raise"] == ["SYS-COL-collector-1/service"]


def deaf(core: AlarmCore) -> bool:
    return core.deaf_since is not None


def test_a_broker_that_stops_delivering_is_the_engines_deafness_not_the_services() -> None:
    """Session 6, an hour of the demo: mosquitto frozen (SIGSTOP) for 40 s raised the system
    alarms of the collector, gateway, scheduler and dashboard. The engine's link stays
    "connected" until its ack timeout (30 s) while every service falls silent after 15 s.
    Not hearing its own heartbeat back for two intervals, the engine knows the silence is
    its own."""
    from facility.heartbeat import Heartbeat, ServiceKind, make_heartbeat

    own = (ServiceKind.ALARMS, "alarms-1")

    def heartbeat(kind: ServiceKind, name: str, n: int) -> Heartbeat:
        counters = (
            {"polls_total": n, "published_total": n, "spool_depth": 0}
            if kind is ServiceKind.COLLECTOR
            else {"messages_evaluated": n, "backlog": 0}
        )
        return make_heartbeat(
            kind, name, ts=JUNE, interval_s=5, counters=counters, sites=("HT",),
            asset_nos=("HT-PMP-001",) if kind is ServiceKind.COLLECTOR else (),
        )  # fmt: skip

    core = AlarmCore(alarm_set("HT-PMP-001"), stale_after_s=60, own_service=own)
    core.tick(JUNE)
    records: list[AlarmRecord] = []
    for s in range(0, 30, 5):  # the bus delivers: both heartbeats every 5 s
        at = JUNE + timedelta(seconds=s)
        core.on_heartbeat(heartbeat(ServiceKind.ALARMS, "alarms-1", s), at)
        core.on_heartbeat(heartbeat(ServiceKind.COLLECTOR, "collector-1", s), at)
        core.on_message(message("HT-PMP-001", at), at)
        records += core.tick(at)
    frozen = JUNE + timedelta(seconds=25)  # the last heartbeats heard; the link stays up
    for s in range(1, 40):
        records += core.tick(frozen + timedelta(seconds=s))
    assert kinds(records) == []
    assert deaf(core)
    back = frozen + timedelta(seconds=40)
    core.on_heartbeat(heartbeat(ServiceKind.ALARMS, "alarms-1", 99), back)
    assert not deaf(core)
    core.on_heartbeat(heartbeat(ServiceKind.COLLECTOR, "collector-1", 99), back)
    assert kinds(core.tick(back + timedelta(seconds=1))) == []
    # a collector that stays silent while the engine hears itself is still one alarm
    for s in range(5, 30, 5):
        at = back + timedelta(seconds=s)
        core.on_heartbeat(heartbeat(ServiceKind.ALARMS, "alarms-1", 100 + s), at)
        records += core.tick(at)
    assert [r.alarm_id for r in records if r.kind.value == "raise"] == [
        "SYS-COL-collector-1/service"
    ]


def test_a_resent_old_poll_does_not_re_raise_but_a_clock_step_back_is_still_heard() -> None:
    core = AlarmCore(alarm_set("HT-PDP-001"))
    core.tick(JUNE)

    def poll(seq: int, at: datetime, dry_run: bool) -> list[AlarmRecord]:
        base = message("HT-PDP-001", at, {"dry_run_trip": dry_run})
        m = DeviceMessage(base.site, base.asset_no, base.device_class, seq, at, base.readings)
        return core.on_message(m, at)

    assert kinds(poll(10, JUNE, False)) == []
    raised = poll(11, JUNE + timedelta(seconds=1), True)
    assert "raise" in kinds(raised)
    # the gap filler resends poll 5 (older time, older seq): evaluated, it would change state
    assert poll(5, JUNE - timedelta(seconds=5), False) == []
    assert core.stats.late == 1
    # the collector's clock steps back 10 s, but the sequence moves on: still evaluated
    poll(12, JUNE - timedelta(seconds=9), True)
    assert core.stats.late == 1


def test_a_system_start_raises_no_alarm_for_the_status_kept_from_the_last_run() -> None:
    """Session 7, `make demo` started again: the collector's system alarm was raised and
    cleared within the same second at every start (its journal: raise, incident, clear at
    07:26:56 and again at 09:36:32). The engine, up first, heard the broker's kept "offline"
    of the last run's clean stop before the new collector's first heartbeat."""
    from facility.heartbeat import Heartbeat, ServiceKind, ServiceState, make_heartbeat

    def collector(polls: int, state: ServiceState = ServiceState.ONLINE) -> Heartbeat:
        return make_heartbeat(
            ServiceKind.COLLECTOR, "collector-1", state=state, ts=JUNE, interval_s=5,
            counters={"polls_total": polls, "published_total": polls, "spool_depth": 0},
            sites=("HT",), asset_nos=("HT-PMP-001",),
        )  # fmt: skip

    service = "SYS-COL-collector-1/service"
    first = AlarmCore(alarm_set("HT-PMP-001"))  # the last run: the engine stops first
    first.tick(JUNE)
    first.on_heartbeat(collector(1), JUNE)
    saved = {spec.alarm_id: status for spec, status in first.statuses()}
    assert service in saved

    start = sec(JUNE, 3600)  # the next start: the engine first, the collector a second later
    second = AlarmCore(alarm_set("HT-PMP-001"), restored=saved)
    records = second.tick(start)
    records += second.on_heartbeat(collector(2, ServiceState.OFFLINE), start)  # kept status
    records += second.tick(sec(start, 1))
    for s in range(1, 60, 5):  # the new collector: its birth, then a heartbeat every 5 s
        records += second.on_heartbeat(collector(s), sec(start, s))
        records += second.tick(sec(start, s + 1))
    assert kinds(records) == []

    # a collector that does not come back is still one alarm, once its start window is over
    third = AlarmCore(alarm_set("HT-PMP-001"), restored=saved)
    third.tick(start)
    records = third.on_heartbeat(collector(2, ServiceState.OFFLINE), start)
    records += third.tick(sec(start, 15))
    assert kinds(records) == []
    late = third.tick(sec(start, 16))
    assert [(r.alarm_id, r.kind.value) for r in late] == [(service, "raise")]
    # and one that goes after it was heard running is said at once, as before
    fourth = AlarmCore(alarm_set("HT-PMP-001"))
    fourth.tick(start)
    fourth.on_heartbeat(collector(1), start)
    gone = fourth.on_heartbeat(collector(1, ServiceState.OFFLINE), sec(start, 1))
    assert [(r.alarm_id, r.kind.value) for r in gone] == [(service, "raise")]


def test_a_restored_service_alarm_is_neither_cleared_nor_raised_again_before_it_is_heard() -> None:
    """An engine restarted while a collector's system alarm stood: the service was expected
    and "not heard yet" counted as ok, so the alarm cleared at the start and was raised again
    15 s later if the collector stayed away — two journal entries for no change."""
    from facility.heartbeat import ServiceKind, make_heartbeat

    def collector(polls: int) -> object:
        return make_heartbeat(
            ServiceKind.COLLECTOR, "collector-1", ts=JUNE, interval_s=5,
            counters={"polls_total": polls, "published_total": polls, "spool_depth": 0},
            sites=("HT",), asset_nos=("HT-PMP-001",),
        )  # fmt: skip

    service = "SYS-COL-collector-1/service"
    first = AlarmCore(alarm_set("HT-PMP-001"))
    first.tick(JUNE)
    first.on_heartbeat(collector(1), JUNE)  # type: ignore[arg-type]
    raised = first.tick(sec(JUNE, 16))  # silent
    assert [(r.alarm_id, r.kind.value) for r in raised] == [(service, "raise")]
    saved = {spec.alarm_id: status for spec, status in first.statuses()}

    start = sec(JUNE, 600)
    second = AlarmCore(alarm_set("HT-PMP-001"), restored=saved)
    records = []
    for s in range(0, 31):  # away for 30 s after the start
        records += second.tick(sec(start, s))
    assert kinds(records, service) == []
    assert second.status(service).state is AlarmState.UNACK
    records = second.on_heartbeat(collector(2), sec(start, 31))  # type: ignore[arg-type]
    assert kinds(records, service) == ["clear"]
