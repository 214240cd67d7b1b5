"""The live snapshot: a background MQTT subscriber keeping each device's latest message.

Devices publish retained messages on ``facility/v1/<site>/<asset_no>``, so a dashboard that
starts late sees the whole plant at once. ``LiveFeed`` runs an ``MqttLink`` in a daemon thread
with its own event loop and keeps ``{asset_no: DeviceState}`` behind a lock; pages read
``snapshot()`` (a copy) from request threads. Messages that do not decode are counted and
logged once per kind, never shown as values; nothing a message holds can stop the feed.

It also hears every service's heartbeat (``facility/v1/status/+/+``) and keeps them in the
alarm engine's watchdog core (``gateway.alarms.watchdog``): :meth:`LiveFeed.services` says
which are silent, stalled or offline, for the banner — the dashboard does not judge that
itself. And it publishes its own heartbeat (messages received, the last one's time) on
``facility/v1/status/dashboard/<service_id>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from facility.heartbeat import (
    Heartbeat,
    HeartbeatError,
    ServiceKind,
    birth_and_will,
    make_heartbeat,
    parse_topic,
    publish_heartbeats,
)
from facility.heartbeat import decode as decode_heartbeat
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import PayloadError, decode, epoch_ms
from facility.topics import READINGS_WILDCARD, STATUS_PREFIX, STATUS_WILDCARD
from facility.types import ASSET_NO_RE
from gateway.alarms.watchdog import Verdict, Watchdog, WatchdogSettings

log = logging.getLogger(__name__)

SUBSCRIPTION = READINGS_WILDCARD  # readings only (docs/decisions/007-topic-trees.md)
STATUS_SUBSCRIPTION = STATUS_WILDCARD


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The latest message of one device, as plain data."""

    site: str
    asset_no: str
    device_class: str
    points: dict[str, dict[str, Any]]  # name -> {"v", "u", "q", "t": collected epoch ms}
    health: dict[str, Any]
    collected_ms: int
    received_ms: int


def merge_state(previous: DeviceState | None, incoming: DeviceState) -> DeviceState:
    """A device's state after one more message: its points merged into what is known.

    A message holds the device's full last-known state (the other poll classes' points as
    ``carried``, each with the time of the poll that read it: decision 008), so the retained
    one alone fills a tile (issue 12: 106 of 163 tiles showed "—" while the lighting and tank
    key points waited for the slow poll). Still, a message never replaces the device's
    values: each point keeps the newest reading of it (``t``: when it was collected).
    Retained and live messages can cross on reconnect: an older message adds only points not
    known newer. Health (``comm_ok``) and
    the device's collection time come from its newest message."""
    if previous is None:
        return incoming
    points = dict(previous.points)
    for name, entry in incoming.points.items():
        known = points.get(name)
        if known is None or int(known.get("t", 0)) <= int(entry.get("t", 0)):
            points[name] = entry
    newest = incoming if previous.collected_ms <= incoming.collected_ms else previous
    return DeviceState(
        incoming.site,
        incoming.asset_no,
        incoming.device_class,
        points,
        newest.health,
        newest.collected_ms,
        max(previous.received_ms, incoming.received_ms),
    )


class LiveFeed:
    """Subscribes to every device topic and keeps each device's latest state."""

    def __init__(
        self,
        broker: BrokerSettings,
        client_id: str = "dashboard",
        *,
        heartbeat_s: float = 5.0,
        watchdog: WatchdogSettings | None = None,
    ) -> None:
        self.broker = broker
        self.service_id = client_id  # stable: the heartbeat's topic outlives the process
        self.client_id = f"{client_id}-{int(time.time() * 1000) % 1_000_000}"
        self.heartbeat_s = heartbeat_s
        self.watchdog = Watchdog(watchdog or WatchdogSettings(default_interval_s=heartbeat_s))
        self.messages_received = 0
        self.last_message: datetime | None = None
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceState] = {}
        self.rejected = 0  # messages refused, in all
        self.rejected_kinds: Counter[str] = Counter()  # by PayloadError kind (or error:<type>)
        self._link: MqttLink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LiveFeed:
        """Start the subscriber thread (returns at once; the broker may still be down)."""
        self._thread = threading.Thread(target=self._run, name="dashboard-live", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self) -> None:
        """Stop the subscriber and wait for its thread."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already finished
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        birth, will = birth_and_will(self.heartbeat())
        self._link = MqttLink(
            self.broker,
            self.client_id,
            birth=birth,
            will=will,
            subscriptions=[(SUBSCRIPTION, 1), (STATUS_SUBSCRIPTION, 1)],
            on_message=self._on_message,
            backoff_max_s=5.0,
        )
        self._task = asyncio.create_task(self._serve(self._link))
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _serve(self, link: MqttLink) -> None:
        beat = asyncio.create_task(
            publish_heartbeats(link, self.heartbeat, interval_s=self.heartbeat_s)
        )
        try:
            await link.run()
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    def heartbeat(self) -> Heartbeat:
        """This dashboard's heartbeat: messages received so far and the last one's time."""
        with self._lock:
            received, last = self.messages_received, self.last_message
        return make_heartbeat(
            ServiceKind.DASHBOARD,
            self.service_id,
            interval_s=self.heartbeat_s,
            counters={"messages_received": received},
            times={"last_message_ts": last},
        )

    # -- receiving (paho's network thread) ----------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        # Nothing may escape to paho: an exception would end its network thread and leave the
        # dashboard "connected" but deaf. Every rejection is counted and logged once per kind.
        try:
            if topic.startswith(STATUS_PREFIX + "/"):
                self._on_status(topic, payload)
            else:
                self._receive(topic, payload)
        except PayloadError as exc:
            self._reject(exc.kind, topic, str(exc))
        except Exception as exc:  # a bug: counted and logged (with its traceback) once
            self._reject(f"error:{type(exc).__name__}", topic, repr(exc), exc)

    def _reject(
        self, kind: str, topic: str, reason: str, error: BaseException | None = None
    ) -> None:
        with self._lock:
            self.rejected += 1
            self.rejected_kinds[kind] += 1
            first = self.rejected_kinds[kind] == 1
        if first:
            log.warning(
                "live message rejected topic=%s (%s; counted, logged once per kind): %s",
                topic[:200],
                kind,
                reason[:300],
                exc_info=error,
            )

    def _receive(self, topic: str, payload: bytes) -> None:
        asset_no = topic.rsplit("/", 1)[-1]
        if not ASSET_NO_RE.match(asset_no):
            return  # other traffic under the prefix (alarm commands, work-order notices)
        if not payload:
            with self._lock:  # a cleared retained message: the device is gone
                self._devices.pop(asset_no, None)
            return
        message = decode(topic, payload)
        collected_ms = int(message.collected_ts.timestamp() * 1000)
        points = {
            r.point: {
                "v": r.value,
                "u": r.unit,
                "q": r.quality.value,
                "t": epoch_ms(r.collected_ts),
            }
            for r in (*message.carried, *message.readings)
        }
        with self._lock:
            self.messages_received += 1
            self.last_message = datetime.now(UTC)
            previous = self._devices.get(message.asset_no)
            self._devices[message.asset_no] = merge_state(
                previous,
                DeviceState(
                    message.site,
                    message.asset_no,
                    message.device_class,
                    points,
                    dict(message.health),
                    collected_ms,
                    int(time.time() * 1000),
                ),
            )

    def _on_status(self, topic: str, payload: bytes) -> None:
        now = datetime.now(UTC)
        if not payload:  # a service removed on purpose
            parsed = parse_topic(topic)
            if parsed is not None and parsed[0] in ServiceKind.__members__.values():
                with self._lock:
                    self.watchdog.forget((ServiceKind(parsed[0]), parsed[1]))
            return
        try:
            heartbeat = decode_heartbeat(topic, payload)
        except HeartbeatError as exc:
            self._reject("bad_heartbeat", topic, str(exc))
            return
        if heartbeat.key == (ServiceKind.DASHBOARD, self.service_id):
            return  # a dashboard does not judge itself
        with self._lock:
            self.watchdog.observe(heartbeat, now)

    # -- reading (any thread) -----------------------------------------------------------------

    def services(self, now: datetime | None = None) -> list[Verdict]:
        """The watchdog's verdict on every service heard of (ok, silent, stalled, offline)."""
        with self._lock:
            return self.watchdog.verdicts(now or datetime.now(UTC))

    @property
    def connected(self) -> bool:
        link = self._link
        return link is not None and link.connected.is_set()

    @property
    def last_error(self) -> str:
        link = self._link
        return link.stats.last_error if link is not None else ""

    def snapshot(self) -> dict[str, DeviceState]:
        """A copy of every device's latest state (the states themselves are immutable)."""
        with self._lock:
            return dict(self._devices)
