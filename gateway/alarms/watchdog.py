"""The watchdog: is each service alive and making progress? A pure core over heartbeats.

Input: heartbeats (``facility.heartbeat``) with the time each was received, and ``now``.
Output, per service: a :class:`Verdict` —

- ``ok``: heartbeats arrive and the work moves;
- ``silent``: no heartbeat for more than ``silent_after_intervals`` × its own interval;
- ``stalled``: heartbeats arrive but a progress counter has not moved for longer than the
  stall window while there was work for it (:data:`RULES`: a collector with devices whose
  ``polls_total`` stands still; a spool that holds messages while ``published_total`` /
  ``points_written`` stand still — the frozen collector of issue 9 was this);
- ``offline``: the service said so (clean stop, or its last will);
- ``starting``: expected but not heard yet, or the first word heard of it since this watcher
  began listening was ``offline`` — the status the broker kept from before (a demo or a site
  starting, the engine first): it gets one silence window to start before it is judged
  silent or offline. Its system alarm is left as it was meanwhile (not raised, not cleared):
  without this, every start of the whole system raised and cleared the collector's alarm
  within a second, and cleared a restored one only to raise it again 15 s later.

Receive times, not the senders' clocks, decide silence: a machine with a wrong clock is not
silent. The state per service is folded from heartbeats by :func:`observe` (pure); the
:class:`Watchdog` only keeps those states in a dict. The alarm engine turns a verdict that is
not ``ok`` into one system alarm per service, and the dashboard's banner shows the same
verdicts — both call this module, neither decides on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from device_profiles.models import AlarmText, Priority, Text
from facility.heartbeat import Heartbeat, ServiceKind, ServiceState
from gateway.alarms.definitions import AlarmSpec, Check
from gateway.alarms.state import AlarmRules

ServiceKey = tuple[ServiceKind, str]


class Health(StrEnum):
    OK = "ok"
    SILENT = "silent"
    STALLED = "stalled"
    OFFLINE = "offline"
    STARTING = "starting"


@dataclass(frozen=True, slots=True)
class ProgressRule:
    """``counter`` must move while ``pending(heartbeat)`` holds (there is work for it)."""

    counter: str
    pending: Callable[[Heartbeat], bool]
    work: str  # what stands still, for people: "polling", "publishing"


RULES: Mapping[ServiceKind, tuple[ProgressRule, ...]] = {
    ServiceKind.COLLECTOR: (
        ProgressRule("polls_total", lambda hb: hb.counters["devices"] > 0, "polling"),
        ProgressRule("published_total", lambda hb: hb.counters["spool_depth"] > 0, "publishing"),
    ),
    ServiceKind.GATEWAY: (
        ProgressRule("points_written", lambda hb: hb.counters["spool_depth"] > 0, "writing"),
    ),
    ServiceKind.ALARMS: (
        ProgressRule("messages_evaluated", lambda hb: hb.counters["backlog"] > 0, "evaluating"),
    ),
    ServiceKind.SCHEDULER: (ProgressRule("passes", lambda hb: True, "scheduling"),),
    ServiceKind.DASHBOARD: (),
}


@dataclass(frozen=True, slots=True)
class WatchdogSettings:
    silent_after_intervals: float = 3.0
    stall_after_s: float = 30.0  # [alarms] stall_after_s: see facility/config.py
    default_interval_s: float = 5.0  # for services expected but not heard yet


@dataclass(frozen=True, slots=True)
class Seen:
    """What the watchdog knows of one service."""

    key: ServiceKey
    last: Heartbeat | None  # None: expected (e.g. an alarm restored) but not heard yet
    received_at: datetime
    # per progress counter: since when it stands still while there is work (None: moving,
    # or nothing to do)
    still_since: Mapping[str, datetime | None]
    # the first word heard of it since listening began was "offline", at this time (None:
    # it was heard running, or has said nothing yet)
    offline_first_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    key: ServiceKey
    health: Health
    reason: str  # for people: "no heartbeat for 17 s", "polling stalled: polls_total ..."
    heartbeat: Heartbeat | None

    @property
    def ok(self) -> bool:
        return self.health is Health.OK

    @property
    def asset_nos(self) -> tuple[str, ...]:
        """Devices whose data depend on this service (a collector's)."""
        return self.heartbeat.asset_nos if self.heartbeat is not None else ()


def expected(key: ServiceKey, at: datetime) -> Seen:
    """A service we expect to hear from (not heard yet): silent if it does not speak."""
    return Seen(key, None, at, {})


def observe(previous: Seen | None, heartbeat: Heartbeat, received_at: datetime) -> Seen:
    """Fold one received heartbeat into what is known of its service."""
    last = previous.last if previous is not None else None
    offline_first_at = None
    if heartbeat.state is ServiceState.OFFLINE:
        if last is None:
            offline_first_at = received_at  # the broker's kept status, or a will
        elif previous is not None and last.state is ServiceState.OFFLINE:
            offline_first_at = previous.offline_first_at  # still not heard running
    if (
        heartbeat.state is ServiceState.OFFLINE
        and not heartbeat.asset_nos
        and last is not None
        and last.asset_nos
    ):
        # A last will is made when the link connects, before a collector knows its devices;
        # the broker sends it when the process is killed. The devices it leaves without data
        # are the ones it served last: their comm_loss stays held by its one system alarm.
        heartbeat = replace(
            heartbeat, asset_nos=last.asset_nos, sites=heartbeat.sites or last.sites
        )
    still: dict[str, datetime | None] = {}
    for rule in RULES[heartbeat.kind]:
        working = heartbeat.state is not ServiceState.OFFLINE and rule.pending(heartbeat)
        if not working:
            still[rule.counter] = None
            continue
        moved = last is None or last.counters.get(rule.counter) != heartbeat.counters.get(
            rule.counter
        )
        before = previous.still_since.get(rule.counter) if previous is not None else None
        # the clock starts at the first heartbeat that has work and no movement since
        still[rule.counter] = received_at if moved or before is None else before
    return Seen(heartbeat.key, heartbeat, received_at, still, offline_first_at)


def rearmed(seen: Seen, at: datetime) -> Seen:
    """``seen`` with its silence and stall clocks started again at ``at``."""
    still = {c: (None if v is None else max(v, at)) for c, v in seen.still_since.items()}
    return Seen(seen.key, seen.last, max(seen.received_at, at), still, seen.offline_first_at)


def verdict(seen: Seen, now: datetime, settings: WatchdogSettings) -> Verdict:
    """ok / silent / stalled / offline for one service at ``now``."""
    hb = seen.last
    if hb is not None and hb.state is ServiceState.OFFLINE:
        first = seen.offline_first_at
        if first is not None:
            interval = hb.interval_s or settings.default_interval_s
            left = settings.silent_after_intervals * interval - (now - first).total_seconds()
            if left >= 0:
                reason = f"offline before it was heard running; {left:.0f} s left to start"
                return Verdict(seen.key, Health.STARTING, reason, hb)
        return Verdict(seen.key, Health.OFFLINE, "stopped (offline)", hb)
    interval = hb.interval_s if hb is not None else settings.default_interval_s
    quiet = (now - seen.received_at).total_seconds()
    if quiet > settings.silent_after_intervals * interval:
        return Verdict(seen.key, Health.SILENT, f"no heartbeat for {quiet:.0f} s", hb)
    if hb is None:  # expected (its alarm restored), not heard since the start: its alarm as is
        return Verdict(seen.key, Health.STARTING, "not heard yet", hb)
    for rule in RULES[hb.kind]:
        since = seen.still_since.get(rule.counter)
        if since is None:
            continue
        window = max(settings.stall_after_s, 2 * (hb.work_every_s or 0.0))
        still_s = (now - since).total_seconds()
        if still_s > window:
            reason = f"{rule.work} stalled: {rule.counter} unchanged for {still_s:.0f} s"
            if hb.kind is ServiceKind.COLLECTOR and rule.counter == "published_total":
                reason += f" ({hb.counters['spool_depth']} messages waiting)"
            return Verdict(seen.key, Health.STALLED, reason, hb)
    return Verdict(seen.key, Health.OK, hb.detail or hb.state.value, hb)


class Watchdog:
    """The services heard of, and their verdicts (one thread only)."""

    def __init__(self, settings: WatchdogSettings | None = None) -> None:
        self.settings = settings or WatchdogSettings()
        self.seen: dict[ServiceKey, Seen] = {}

    def observe(self, heartbeat: Heartbeat, received_at: datetime) -> None:
        self.seen[heartbeat.key] = observe(self.seen.get(heartbeat.key), heartbeat, received_at)

    def expect(self, key: ServiceKey, at: datetime) -> None:
        """Watch a service not heard yet (it becomes silent if it never speaks)."""
        self.seen.setdefault(key, expected(key, at))

    def rearm(self, at: datetime) -> None:
        """This watcher was deaf until ``at`` (its own broker link was down): what it did not
        hear says nothing about the services, so every clock starts again from ``at``."""
        self.seen = {key: rearmed(seen, at) for key, seen in self.seen.items()}

    def forget(self, key: ServiceKey) -> None:
        """A service removed on purpose (its retained status cleared)."""
        self.seen.pop(key, None)

    def verdicts(self, now: datetime) -> list[Verdict]:
        return [verdict(s, now, self.settings) for _, s in sorted(self.seen.items())]


def not_ok(verdicts: Iterable[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.ok]


# -- the system alarm of a service ---------------------------------------------------------------

SYSTEM_SITE = "SYS"  # the position of system alarms (journal, console, topics)
SYSTEM_ALARM = "service"
KIND_CODES: Mapping[ServiceKind, str] = {
    ServiceKind.COLLECTOR: "COL",
    ServiceKind.GATEWAY: "GW",
    ServiceKind.ALARMS: "ALM",
    ServiceKind.SCHEDULER: "SCH",
    ServiceKind.DASHBOARD: "DSH",
}
_KINDS_BY_CODE = {code: kind for kind, code in KIND_CODES.items()}
_LABELS: Mapping[ServiceKind, tuple[str, str]] = {
    ServiceKind.COLLECTOR: ("Collector", "采集服务"),
    ServiceKind.GATEWAY: ("Gateway", "网关服务"),
    ServiceKind.ALARMS: ("Alarm engine", "报警服务"),
    ServiceKind.SCHEDULER: ("PM scheduler", "维保调度服务"),
    ServiceKind.DASHBOARD: ("Dashboard", "监控看板"),
}


def system_asset_no(key: ServiceKey) -> str:
    """``SYS-COL-collector-1``: the asset number the system alarm of a service is filed under."""
    return f"{SYSTEM_SITE}-{KIND_CODES[key[0]]}-{key[1]}"


def system_alarm_id(key: ServiceKey) -> str:
    return f"{system_asset_no(key)}/{SYSTEM_ALARM}"


def service_of(alarm_id: str) -> ServiceKey | None:
    """The service of a system alarm id (None for any other alarm)."""
    asset_no, _, name = alarm_id.partition("/")
    parts = asset_no.split("-", 2)
    if name != SYSTEM_ALARM or len(parts) != 3 or parts[0] != SYSTEM_SITE:
        return None
    kind = _KINDS_BY_CODE.get(parts[1])
    return (kind, parts[2]) if kind is not None else None


def system_spec(key: ServiceKey) -> AlarmSpec:
    """The one alarm of one service: priority high, no delays (the watchdog has its own)."""
    en, zh = _LABELS[key[0]]
    return AlarmSpec(
        alarm_id=system_alarm_id(key),
        site=SYSTEM_SITE,
        asset_no=system_asset_no(key),
        device_class=SYSTEM_SITE,
        name=SYSTEM_ALARM,
        check=Check.SERVICE,
        point=None,
        limit=None,
        states=frozenset(),
        deadband=0.0,
        priority=Priority.HIGH,
        label=Text(
            en=f"{en} {key[1]} silent, stalled or offline",
            zh=f"{zh} {key[1]} 无心跳、停滞或离线",
        ),
        text=AlarmText(
            cause=Text(
                en="The service stopped sending heartbeats, or its work counters stopped moving",
                zh="服务停止发送心跳，或其工作计数不再增长",
            ),
            consequence=Text(
                en="Data of the devices it serves is not current; their own alarms are held",
                zh="其所服务设备的数据不再更新，这些设备的通讯报警被抑制",
            ),
            action=Text(
                en="Check the service's log and process; restart it if it does not recover",
                zh="检查该服务的日志和进程，如未自行恢复请重启",
            ),
        ),
        rules=AlarmRules(),
        source="watchdog",
    )
