"""The watchdog core as a table: heartbeats received at times → verdict at ``now``; and the
heartbeat's strict codec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facility.heartbeat import (
    Heartbeat,
    HeartbeatError,
    ServiceKind,
    ServiceState,
    decode,
    encode,
    make_heartbeat,
    status_topic,
)
from gateway.alarms.watchdog import Health, Watchdog, WatchdogSettings

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
SETTINGS = WatchdogSettings(silent_after_intervals=3, stall_after_s=20)


def col(
    polls: int,
    published: int,
    *,
    spool: int = 0,
    devices: int = 3,
    state: ServiceState = ServiceState.ONLINE,
) -> Heartbeat:
    return make_heartbeat(
        ServiceKind.COLLECTOR,
        "collector-1",
        state=state,
        ts=T0,
        interval_s=5,
        counters={
            "polls_total": polls,
            "published_total": published,
            "spool_depth": spool,
            "devices": devices,
        },
        asset_nos=("HT-PMP-001", "HT-PMP-002", "HT-PDP-001"),
    )


def sched(passes: int) -> Heartbeat:
    return make_heartbeat(
        ServiceKind.SCHEDULER, "pm", interval_s=5, counters={"passes": passes}, work_every_s=300
    )


def gw(written: int, spool: int) -> Heartbeat:
    return make_heartbeat(
        ServiceKind.GATEWAY,
        "gw-1",
        interval_s=5,
        counters={"messages_in": 0, "points_written": written, "spool_depth": spool},
    )


def every_5s(*heartbeats: Heartbeat) -> list[tuple[float, Heartbeat]]:
    return [(5.0 * i, hb) for i, hb in enumerate(heartbeats)]


CASES: list[tuple[str, list[tuple[float, Heartbeat]], float, Health, str]] = [
    ("polls and publishes move", every_5s(col(1, 1), col(4, 4), col(7, 7)), 11, Health.OK, ""),
    ("one heartbeat, fresh", every_5s(col(1, 1)), 14, Health.OK, ""),
    ("no heartbeat for 3 intervals", every_5s(col(1, 1), col(4, 4)), 21, Health.SILENT,
     "no heartbeat for 16 s"),
    ("just inside 3 intervals", every_5s(col(1, 1), col(4, 4)), 20, Health.OK, ""),
    ("polls stand still with devices", every_5s(*[col(9, 9)] * 6), 25, Health.STALLED,
     "polling stalled: polls_total unchanged for 25 s"),
    ("polls still, inside the window", every_5s(*[col(9, 9)] * 5), 20, Health.OK, ""),
    ("polls still, no devices: nothing to do", every_5s(*[col(0, 0, devices=0)] * 6), 25,
     Health.OK, ""),
    ("the frozen publisher: polls move, spool grows", every_5s(
        *[col(10 * i, 40, spool=10 * i) for i in range(1, 7)]), 26, Health.STALLED,
     "publishing stalled: published_total unchanged for 26 s (60 messages waiting)"),
    ("publishes move with a backlog", every_5s(
        *[col(10 * i, 10 * i - 5, spool=5) for i in range(1, 7)]), 26, Health.OK, ""),
    ("empty spool, nothing published: idle", every_5s(*[col(10 * i, 40) for i in range(7)]),
     30, Health.OK, ""),
    ("progress resumes", every_5s(*[col(9, 9)] * 6, col(12, 12)), 31, Health.OK, ""),
    ("offline by its will", every_5s(col(1, 1), col(4, 4, state=ServiceState.OFFLINE)), 6,
     Health.OFFLINE, "stopped (offline)"),
    ("offline is not silent however old", every_5s(col(4, 4, state=ServiceState.OFFLINE)),
     999, Health.OFFLINE, ""),
    ("back online after offline", every_5s(col(4, 4, state=ServiceState.OFFLINE),
                                           col(0, 0)), 6, Health.OK, ""),
    ("restart: counters go back to 0 = progress", every_5s(*[col(9, 9)] * 4, col(0, 0),
                                                          col(3, 3)), 27, Health.OK, ""),
    ("scheduler between passes (every 300 s)", every_5s(*[sched(4)] * 20), 99, Health.OK, ""),
    ("scheduler missed two passes", [(5.0 * i, sched(4)) for i in range(130)], 645,
     Health.STALLED, "scheduling stalled: passes unchanged for 645 s"),
    ("gateway cannot write, spool holds points", every_5s(*[gw(100, 50)] * 6), 25,
     Health.STALLED, "writing stalled: points_written unchanged for 25 s"),
    ("gateway idle, spool empty", every_5s(*[gw(100, 0)] * 6), 25, Health.OK, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("seen", "now", "health", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_verdicts(
    seen: list[tuple[float, Heartbeat]], now: float, health: Health, reason: str
) -> None:
    watchdog = Watchdog(SETTINGS)
    for at, heartbeat in seen:
        watchdog.observe(heartbeat, T0 + timedelta(seconds=at))
    (verdict,) = watchdog.verdicts(T0 + timedelta(seconds=now))
    assert verdict.health is health
    if reason:
        assert verdict.reason == reason


def test_expected_service_never_heard_is_silent_after_three_default_intervals() -> None:
    watchdog = Watchdog(WatchdogSettings(default_interval_s=5))
    key = (ServiceKind.COLLECTOR, "collector-9")
    watchdog.expect(key, T0)
    # not judged before (its restored alarm left as it is: see the alarm core's tests)
    assert watchdog.verdicts(T0 + timedelta(seconds=15))[0].health is Health.STARTING
    assert watchdog.verdicts(T0 + timedelta(seconds=16))[0].health is Health.SILENT
    watchdog.forget(key)
    assert watchdog.verdicts(T0 + timedelta(seconds=16)) == []


def test_verdict_names_the_devices_a_collector_serves() -> None:
    watchdog = Watchdog(SETTINGS)
    watchdog.observe(col(1, 1), T0)
    (verdict,) = watchdog.verdicts(T0 + timedelta(seconds=60))
    assert verdict.asset_nos == ("HT-PMP-001", "HT-PMP-002", "HT-PDP-001")


def test_a_killed_collector_leaves_the_devices_it_served_last() -> None:
    # its last will was made when it connected, before it knew its devices (no asset_nos):
    # the broker publishes that one when the process is killed. The devices whose comm_loss
    # the system alarm holds are still the ones it served (one cause, one alarm)
    will = make_heartbeat(
        ServiceKind.COLLECTOR, "collector-1", state=ServiceState.OFFLINE, interval_s=5
    )
    watchdog = Watchdog(SETTINGS)
    watchdog.observe(col(1, 1), T0)
    watchdog.observe(will, T0 + timedelta(seconds=3))
    (verdict,) = watchdog.verdicts(T0 + timedelta(seconds=60))
    assert verdict.health is Health.OFFLINE
    assert verdict.asset_nos == ("HT-PMP-001", "HT-PMP-002", "HT-PDP-001")
    # a collector that says what it serves when it goes is believed
    watchdog.observe(col(1, 1, state=ServiceState.OFFLINE, devices=0), T0 + timedelta(seconds=5))
    assert watchdog.verdicts(T0 + timedelta(seconds=60))[0].asset_nos == (
        "HT-PMP-001",
        "HT-PMP-002",
        "HT-PDP-001",
    )


# -- codec ------------------------------------------------------------------------------------


def test_round_trip() -> None:
    heartbeat = make_heartbeat(
        ServiceKind.COLLECTOR,
        "collector-1",
        ts=T0,
        counters={"polls_total": 5, "published_total": 4, "spool_depth": 1, "devices": 2},
        times={"last_poll_ts": T0},
        sites=("HT",),
        asset_nos=("HT-PMP-001", "HT-PMP-002"),
        spool_full=False,
    )
    assert decode(heartbeat.topic, encode(heartbeat)) == heartbeat
    assert heartbeat.topic == status_topic("collector", "collector-1")
    assert heartbeat.topic == "facility/v1/status/collector/collector-1"


GOOD = encode(make_heartbeat(ServiceKind.SCHEDULER, "pm-1", ts=T0)).decode()
TOPIC = "facility/v1/status/scheduler/pm-1"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"[" * 200_000, "heartbeat of 200000 bytes, at most 65536"),
        (b"[" * 60_000, "not a JSON heartbeat (RecursionError)"),
        (b'{"state": "online"}', "v None, expected 1"),
        (GOOD.replace('"passes":0', '"passes":-1').encode(), "passes: expected an integer >= 0"),
        (GOOD.replace('"passes":0', '"passes":true').encode(), "passes: expected an integer"),
        (GOOD.replace('"passes":0,', "").encode(), "passes: expected an integer >= 0, got None"),
        (GOOD.replace('"state":"online"', '"state":"fine"').encode(), "state 'fine': expected"),
        (GOOD.replace('"v":1', '"v":1,"extra":2').encode(), "unknown field 'extra'"),
        (GOOD.replace('"interval_s":5.0', '"interval_s":0').encode(), "interval_s: expected"),
        (GOOD.replace('"kind":"scheduler"', '"kind":"gateway"').encode(), "unknown field"),
    ],
)
def test_strict_decode(payload: bytes, message: str) -> None:
    with pytest.raises(HeartbeatError, match=r"^facility/v1/status/scheduler/pm-1: ") as caught:
        decode(TOPIC, payload)
    assert message in str(caught.value)


def test_wrong_topic_and_bad_asset_numbers_are_refused() -> None:
    with pytest.raises(HeartbeatError, match="on the wrong topic"):
        decode("facility/v1/status/scheduler/other", GOOD.encode())
    bad = GOOD.replace('"v":1', '"v":1,"asset_nos":["not an asset"]').encode()
    with pytest.raises(HeartbeatError, match="asset_nos: 'not an asset' is not an asset number"):
        decode(TOPIC, bad)


def test_a_part_reconnects_to_the_broker_inside_the_silence_window() -> None:
    """After a broker restart the alarm engine reconnects and starts every silence clock again;
    each other part must be back (its birth is a heartbeat) before the shortest window the
    configuration allows passes — with the default heartbeat and the minimum of 2 intervals.
    With the old 30 s cap the gateway came back 14-30 s after the broker and was reported
    silent although it had lost nothing (make faults, "mosquitto down 60 s")."""
    from facility.backoff import ceiling_s
    from facility.config import AlarmsConfig
    from facility.mqtt import BrokerSettings, MqttLink

    link = MqttLink(BrokerSettings.from_url("mqtt://127.0.0.1:1883"), "probe")
    longest = max(ceiling_s(n, link.backoff_min_s, link.backoff_max_s) for n in range(1, 64))
    minimum = AlarmsConfig.model_fields["silent_after_intervals"].metadata[0].ge
    window = AlarmsConfig().heartbeat_s * minimum
    assert longest < window, f"a part may wait {longest} s; silent at {window} s"


def test_offline_before_it_was_heard_running_gets_one_silence_window_to_start() -> None:
    """The broker keeps each service's last status: a watcher that starts before the
    service hears the last run's "offline" first. That is not judged for one silence
    window (3 × 5 s); a birth inside it is simply ok; after it, offline as before."""
    kept = col(5, 5, state=ServiceState.OFFLINE)
    watchdog = Watchdog(SETTINGS)
    watchdog.observe(kept, T0)
    watchdog.observe(kept, T0 + timedelta(seconds=4))  # said again: the wait does not restart
    assert watchdog.verdicts(T0 + timedelta(seconds=15))[0].health is Health.STARTING
    (late,) = watchdog.verdicts(T0 + timedelta(seconds=16))
    assert (late.health, late.reason) == (Health.OFFLINE, "stopped (offline)")

    back = Watchdog(SETTINGS)
    back.observe(kept, T0)
    back.observe(col(0, 0), T0 + timedelta(seconds=1))
    assert back.verdicts(T0 + timedelta(seconds=2))[0].health is Health.OK

    # heard running, then offline: at once, and so it stays when the status is heard again
    heard = Watchdog(SETTINGS)
    heard.observe(col(1, 1), T0)
    heard.observe(kept, T0 + timedelta(seconds=1))
    assert heard.verdicts(T0 + timedelta(seconds=1))[0].health is Health.OFFLINE
    heard.rearm(T0 + timedelta(seconds=30))  # the watcher was deaf; the broker re-sends it
    heard.observe(kept, T0 + timedelta(seconds=31))
    assert heard.verdicts(T0 + timedelta(seconds=31))[0].health is Health.OFFLINE
