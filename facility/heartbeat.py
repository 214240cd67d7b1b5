"""The heartbeat every service publishes: alive, and making progress.

Topic ``facility/v1/status/<kind>/<id>`` (the service's status topic), QoS 1, retained; the
same topic carries the last will (``state: offline``), so the retained message is always
the service's latest word about itself. JSON::

    {"v": 1, "kind": "collector", "id": "collector-1", "state": "online",
     "ts": 1795678950123, "interval_s": 5.0,
     "polls_total": 48211, "last_poll_ts": 1795678950101,
     "published_total": 48190, "last_publish_ts": 1795678950087,
     "spool_depth": 21, "spool_full": false, "devices": 163,
     "sites": ["HT", "HY", "JU"], "asset_nos": ["HT-FAP-001", ...]}

Alive is not enough: the collector that froze after 23 minutes was alive and connected while
publishing nothing. So each kind states the counters that must move when it works
(:data:`COUNTERS`, :data:`TIMES`); the watchdog (``gateway.alarms.watchdog``) reads them.
A collector lists the asset numbers it serves, so the alarm engine knows whose
communication alarms one silent collector explains.

Decoding is strict (unknown or missing keys, wrong types, oversized payloads are each a
:class:`HeartbeatError` naming the field), and bounded before parsing (PITFALLS: 200 KB of
``[`` makes ``json.loads`` raise RecursionError).

:func:`publish_heartbeats` is the small async loop each service runs beside its
``MqttLink``: every ``interval_s`` it publishes the current heartbeat with a deadline, and
keeps the link's birth message up to date so a reconnect re-announces the latest counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from facility.deadline import within
from facility.errors import FacilityError, ProtocolError
from facility.mqtt import BrokerSettings, Message, MqttLink
from facility.payload import epoch_ms, from_epoch_ms
from facility.topics import STATUS_PREFIX as STATUS_PREFIX
from facility.topics import status_topic as status_topic
from facility.types import ASSET_NO_RE

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_HEARTBEAT_BYTES = 64 * 1024  # 300 asset numbers are ~4 KB
MAX_ASSETS = 4000
# short enough that ``SYS-<code>-<id>`` fits the journal's 32-character asset number
SERVICE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")
SITE_RE = re.compile(r"^[A-Z]{2,8}$")
DEFAULT_INTERVAL_S = 5.0

_E = TypeVar("_E", bound=StrEnum)


class ServiceKind(StrEnum):
    COLLECTOR = "collector"
    GATEWAY = "gateway"
    ALARMS = "alarms"
    SCHEDULER = "scheduler"
    DASHBOARD = "dashboard"


class ServiceState(StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"  # working, with a problem it says in ``detail`` (e.g. spool full)
    OFFLINE = "offline"  # stopped cleanly, or its last will


# Integer counters (progress counters and depths) each kind must send.
COUNTERS: Mapping[ServiceKind, tuple[str, ...]] = {
    ServiceKind.COLLECTOR: ("polls_total", "published_total", "spool_depth", "devices"),
    ServiceKind.GATEWAY: ("messages_in", "points_written", "spool_depth"),
    ServiceKind.ALARMS: ("messages_evaluated", "backlog"),
    ServiceKind.SCHEDULER: ("passes",),
    ServiceKind.DASHBOARD: ("messages_received",),
}
# Times of the last unit of work (epoch ms on the wire, null before the first).
TIMES: Mapping[ServiceKind, tuple[str, ...]] = {
    ServiceKind.COLLECTOR: ("last_poll_ts", "last_publish_ts"),
    ServiceKind.GATEWAY: ("last_write_ts",),
    ServiceKind.ALARMS: ("last_eval_ts",),
    ServiceKind.SCHEDULER: ("last_pass_ts",),
    ServiceKind.DASHBOARD: ("last_message_ts",),
}
_COMMON = ("v", "kind", "id", "state", "ts", "interval_s")
_OPTIONAL = ("spool_full", "sites", "asset_nos", "work_every_s", "detail")


class HeartbeatError(ProtocolError):
    """A status message that is not a heartbeat (says which field and what was expected)."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One service's word about itself: alive, and how far its work has got."""

    kind: ServiceKind
    service_id: str
    state: ServiceState
    ts: datetime
    interval_s: float
    counters: Mapping[str, int]  # exactly COUNTERS[kind]
    times: Mapping[str, datetime | None] = field(default_factory=dict)  # TIMES[kind]
    sites: tuple[str, ...] = ()
    asset_nos: tuple[str, ...] = ()  # what a collector serves
    spool_full: bool | None = None
    work_every_s: float | None = None  # how often the main counter moves (scheduler)
    detail: str = ""

    @property
    def topic(self) -> str:
        return status_topic(self.kind, self.service_id)

    @property
    def key(self) -> tuple[ServiceKind, str]:
        return (self.kind, self.service_id)


def make_heartbeat(
    kind: ServiceKind,
    service_id: str,
    *,
    state: ServiceState = ServiceState.ONLINE,
    ts: datetime | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
    counters: Mapping[str, int] | None = None,
    times: Mapping[str, datetime | None] | None = None,
    **extra: Any,
) -> Heartbeat:
    """A heartbeat with every counter of its kind (missing ones 0, missing times None)."""
    given = dict(counters or {})
    unknown = set(given) - set(COUNTERS[kind])
    if unknown:
        raise HeartbeatError(f"{kind} heartbeat: unknown counter(s) {', '.join(sorted(unknown))}")
    return Heartbeat(
        kind=kind,
        service_id=service_id,
        state=state,
        ts=ts or datetime.now(UTC),
        interval_s=interval_s,
        counters={name: int(given.get(name, 0)) for name in COUNTERS[kind]},
        times={name: (times or {}).get(name) for name in TIMES[kind]},
        **extra,
    )


def encode(heartbeat: Heartbeat) -> bytes:
    """The JSON of a heartbeat."""
    body: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "kind": heartbeat.kind.value,
        "id": heartbeat.service_id,
        "state": heartbeat.state.value,
        "ts": epoch_ms(heartbeat.ts),
        "interval_s": heartbeat.interval_s,
    }
    for name in COUNTERS[heartbeat.kind]:
        body[name] = heartbeat.counters.get(name, 0)
    for name in TIMES[heartbeat.kind]:
        moment = heartbeat.times.get(name)
        body[name] = epoch_ms(moment) if moment is not None else None
    if heartbeat.spool_full is not None:
        body["spool_full"] = heartbeat.spool_full
    if heartbeat.sites:
        body["sites"] = list(heartbeat.sites)
    if heartbeat.asset_nos or heartbeat.kind is ServiceKind.COLLECTOR:
        body["asset_nos"] = list(heartbeat.asset_nos)
    if heartbeat.work_every_s is not None:
        body["work_every_s"] = heartbeat.work_every_s
    if heartbeat.detail:
        body["detail"] = heartbeat.detail
    return json.dumps(body, separators=(",", ":")).encode()


def decode(topic: str, payload: bytes) -> Heartbeat:
    """A heartbeat from its status topic and JSON; HeartbeatError naming what is wrong."""
    if len(payload) > MAX_HEARTBEAT_BYTES:
        raise HeartbeatError(
            f"{topic}: heartbeat of {len(payload)} bytes, at most {MAX_HEARTBEAT_BYTES}"
        )
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HeartbeatError(f"{topic}: not a JSON heartbeat ({type(exc).__name__})") from None
    if not isinstance(body, dict):
        raise HeartbeatError(f"{topic}: expected a JSON object")
    if body.get("v") != SCHEMA_VERSION:
        raise HeartbeatError(f"{topic}: v {body.get('v')!r}, expected {SCHEMA_VERSION}")
    kind = _enum(ServiceKind, body, "kind", topic)
    wanted = {*_COMMON, *_OPTIONAL, *COUNTERS[kind], *TIMES[kind]}
    unknown = sorted(set(body) - wanted)
    if unknown:
        raise HeartbeatError(f"{topic}: unknown field {unknown[0]!r} in a {kind} heartbeat")
    service_id = body.get("id")
    if not isinstance(service_id, str) or not SERVICE_ID_RE.match(service_id):
        raise HeartbeatError(f"{topic}: id {service_id!r:.40}: expected 1-24 of [A-Za-z0-9_.-]")
    if topic != status_topic(kind, service_id):
        raise HeartbeatError(f"{topic}: a {kind} heartbeat of {service_id!r} on the wrong topic")
    interval = _number(body, "interval_s", topic)
    if interval is None or interval <= 0:
        raise HeartbeatError(f"{topic}: interval_s: expected a number of seconds > 0")
    counters: dict[str, int] = {}
    for name in COUNTERS[kind]:
        value = body.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise HeartbeatError(f"{topic}: {name}: expected an integer >= 0, got {value!r:.40}")
        counters[name] = value
    times = {name: _time(body, name, topic, required=False) for name in TIMES[kind]}
    ts = _time(body, "ts", topic, required=True)
    assert ts is not None
    spool_full = body.get("spool_full")
    if spool_full is not None and not isinstance(spool_full, bool):
        raise HeartbeatError(f"{topic}: spool_full: expected true or false")
    sites = _strings(body, "sites", topic, SITE_RE, "a site code such as HT")
    asset_nos = _strings(body, "asset_nos", topic, ASSET_NO_RE, "an asset number")
    work_every = _number(body, "work_every_s", topic)
    detail = body.get("detail", "")
    if not isinstance(detail, str) or len(detail) > 500:
        raise HeartbeatError(f"{topic}: detail: expected a text of at most 500 characters")
    return Heartbeat(
        kind=kind,
        service_id=service_id,
        state=_enum(ServiceState, body, "state", topic),
        ts=ts,
        interval_s=interval,
        counters=counters,
        times=times,
        sites=sites,
        asset_nos=asset_nos,
        spool_full=spool_full,
        work_every_s=work_every,
        detail=detail,
    )


def parse_topic(topic: str) -> tuple[str, str] | None:
    """(kind, id) of a status topic, or None for another topic."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != STATUS_PREFIX:
        return None
    return parts[3], parts[4]


def _enum(cls: type[_E], body: Mapping[str, Any], name: str, topic: str) -> _E:
    value = body.get(name)
    try:
        return cls(str(value))
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise HeartbeatError(f"{topic}: {name} {value!r:.40}: expected one of {choices}") from None


def _number(body: Mapping[str, Any], name: str, topic: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HeartbeatError(f"{topic}: {name}: expected a number, got {value!r:.40}")
    return float(value)


def _time(body: Mapping[str, Any], name: str, topic: str, *, required: bool) -> datetime | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**14:
        raise HeartbeatError(f"{topic}: {name}: expected epoch milliseconds, got {value!r:.40}")
    return from_epoch_ms(value)


def _strings(
    body: Mapping[str, Any], name: str, topic: str, pattern: re.Pattern[str], what: str
) -> tuple[str, ...]:
    value = body.get(name, [])
    if not isinstance(value, list) or len(value) > MAX_ASSETS:
        raise HeartbeatError(f"{topic}: {name}: expected a list of at most {MAX_ASSETS}")
    for item in value:
        if not isinstance(item, str) or not pattern.match(item):
            raise HeartbeatError(f"{topic}: {name}: {item!r:.40} is not {what}")
    return tuple(value)


# -- publishing ---------------------------------------------------------------------------------


def birth_and_will(heartbeat: Heartbeat) -> tuple[Message, Message]:
    """The link's birth (this heartbeat) and last will (the same, offline), both retained."""
    will = replace(heartbeat, state=ServiceState.OFFLINE)
    return (
        Message(heartbeat.topic, encode(heartbeat), qos=1, retain=True),
        Message(heartbeat.topic, encode(will), qos=1, retain=True),
    )


async def publish_heartbeats(
    link: MqttLink,
    current: Callable[[], Heartbeat],
    *,
    interval_s: float,
    timeout_s: float | None = None,
) -> None:
    """Publish ``current()`` every ``interval_s`` (retained, QoS 1) until cancelled.

    Each publish has a deadline: a broker that does not acknowledge must not freeze the
    heartbeat (it is how the rest of the system learns this process is stuck). The link's
    birth message is replaced by the latest heartbeat so a reconnect announces fresh
    counters, never the ones of start-up. Failures are logged once, and once when they end.
    """
    deadline = timeout_s if timeout_s is not None else max(interval_s, 1.0)
    failing = False
    while True:
        heartbeat = current()
        message = Message(heartbeat.topic, encode(heartbeat), qos=1, retain=True)
        link.birth = message
        if link.connected.is_set():
            try:
                await within(
                    link.publish(message.topic, message.payload, qos=1, retain=True), deadline
                )
            except (FacilityError, TimeoutError) as exc:
                if not failing:
                    log.warning("heartbeat topic=%s not acknowledged: %s", message.topic, exc)
                    failing = True
            else:
                if failing:
                    log.info("heartbeat topic=%s acknowledged again", message.topic)
                    failing = False
        await asyncio.sleep(interval_s)


class HeartbeatThread:
    """The heartbeat of a process without an event loop of its own (the PM scheduler runs on
    APScheduler threads): an ``MqttLink`` with birth/will and :func:`publish_heartbeats` in a
    daemon thread. ``stop()`` says ``offline`` and joins the thread."""

    def __init__(
        self,
        broker: BrokerSettings,
        current: Callable[[], Heartbeat],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.broker = broker
        self.current = current
        self.interval_s = interval_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()

    def start(self) -> HeartbeatThread:
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()
        self._started.wait(5)
        return self

    def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # stop() cancels the main task
            asyncio.run(self._main())

    async def _main(self) -> None:
        first = self.current()
        birth, will = birth_and_will(first)
        link = MqttLink(self.broker, f"{first.kind}-{first.service_id}", birth=birth, will=will)
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._started.set()
        run = asyncio.create_task(link.run())
        try:
            await publish_heartbeats(link, self.current, interval_s=self.interval_s)
        finally:
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run

    def stop(self) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # already finished
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(10)
