"""The alarm engine: the synchronous core with its I/O around it.

    engine = AlarmEngine(alarm_set, store=AlarmStore(url), link=mqtt_link, notifier=notifier)
    task = asyncio.create_task(engine.run())     # timers, journal writer, MQTT publisher
    engine.on_message(device_message)            # for every decoded DeviceMessage

``on_message`` is synchronous and cheap (it only evaluates and queues): call it on the
engine's event loop thread — or ``on_message_threadsafe`` from any other thread (paho's
network thread), which hands messages over in batches. The gateway's ingest hook and the
standalone service (``facility alarms run``, subscribing to the device topics itself) both
work this way. Everything that
does I/O runs in ``run()``'s tasks, in order:

1. journal entries and the new current states are written to SQL in one transaction (a
   failing database is retried with backoff; nothing is dropped, evaluation goes on);
2. then published: each changed alarm's state retained on
   ``facility/v1/alarms/<site>/<asset_no>/<alarm>`` and every entry on
   ``facility/v1/events/alarms/<site>`` (held while the broker is away, then sent);
3. then handed to the notifier and to listeners (e.g. the historian's alarm-event writer).

So an event seen on MQTT is already in the journal. After a restart the engine starts from
the saved current states: active alarms stay as they were (acknowledged or not) and are not
raised again; it republishes every saved state, retained, so the bus is right at once.

Operator commands (ack, shelve, ...) arrive with :meth:`execute` — in-process, for a
:class:`Principal` the caller established — or as JSON on
``facility/v1/ctl/alarm-commands/<site>`` with a reply topic (:meth:`handle_command_payload`,
used by ``facility alarms ack`` and the dashboard through ``gateway.alarms.client``). A
command on the bus acts for a person only when it carries their session or CLI token
(``auth``): the engine resolves it against the user database, checks the permission the
operation needs on the alarm's estate, and journals the action under that person's name —
the ``user`` field of the message is ignored. Every refusal and every action is written to
the audit trail (docs/decisions/005-identity.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from facility.backoff import Backoff
from facility.errors import AuthError, FacilityError, StorageError
from facility.heartbeat import Heartbeat, ServiceKind, make_heartbeat
from facility.limits import (
    COMMAND_MAX_BYTES,
    COMMAND_MAX_DEPTH,
    COMMAND_MAX_FOR_S,
    COMMAND_MAX_TEXT,
    JsonLimitError,
    load_json,
)
from facility.mqtt import MqttLink
from facility.payload import DeviceMessage
from facility.topics import alarm_event_topic
from facility.types import AssetStatus
from gateway.alarms.core import COMMAND_OPS, OP_PERMISSION, AlarmCore, Command, CommandOp
from gateway.alarms.definitions import AlarmSet, AlarmSpec
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.notify import Notifier
from gateway.alarms.state import AlarmCommandError, AlarmStatus, status_to_json
from gateway.alarms.store import AlarmStore, CurrentAlarm, OperatorAction
from gateway.alarms.watchdog import ServiceKey, WatchdogSettings, service_of
from maintenance.identity.roles import Permission, Principal, Source
from maintenance.identity.store import UserStore

log = logging.getLogger(__name__)

MAX_HELD_EVENTS = 100_000  # events kept for the broker while it is away (the journal has all)
STORE_RETRY_MAX_S = 30.0

Listener = Callable[[Sequence[AlarmRecord]], None]

# Where a command on the bus comes from, by the kind of session its token belongs to: the
# dashboard's browser sessions, `facility login` tokens, API tokens of scripts.
SESSION_SOURCE = {"browser": Source.DASHBOARD, "cli": Source.CLI, "api": Source.API}
ANONYMOUS = "(not signed in)"  # the audit trail's actor of a command without a valid token


def _utcnow() -> datetime:
    return datetime.now(UTC)


def state_payload(spec: AlarmSpec, status: AlarmStatus, incident: str | None = None) -> bytes:
    """The retained state message of one alarm."""
    body: dict[str, Any] = {
        "v": 1,
        "alarm_id": spec.alarm_id,
        "site": spec.site,
        "asset_no": spec.asset_no,
        "alarm": spec.name,
        "priority": spec.priority.value,
        "label": spec.label.model_dump(),
        **status_to_json(status),
        "incident": incident,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class EngineStats:
    written: int = 0
    store_failures: int = 0
    published_states: int = 0
    published_events: int = 0
    dropped_events: int = 0
    commands: int = 0
    command_errors: int = 0


@dataclass
class _Outbox:
    records: list[AlarmRecord] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    actions: list[OperatorAction] = field(default_factory=list)


class AlarmEngine:
    """Runs an :class:`AlarmCore` with the journal, MQTT and notifications around it."""

    def __init__(
        self,
        alarm_set: AlarmSet,
        *,
        store: AlarmStore | None = None,
        link: MqttLink | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = _utcnow,
        tick_s: float = 0.5,
        stale_after_s: float = 60.0,
        flood_threshold: int = 10,
        flood_window_min: float = 10.0,
        timezone: str = "Asia/Shanghai",
        watchdog: WatchdogSettings | None = None,
        own_service: ServiceKey | None = None,
        users: UserStore | None = None,
    ) -> None:
        self.alarm_set = alarm_set
        self.store = store
        self.users = users  # who holds a command's token; None: bus commands are refused
        self.link = link
        self.notifier = notifier
        self.clock = clock
        self.tick_s = tick_s
        restored = store.load_statuses() if store is not None else {}
        self.core = AlarmCore(
            alarm_set,
            restored=restored,
            stale_after_s=stale_after_s,
            flood_threshold=flood_threshold,
            flood_window_s=flood_window_min * 60,
            timezone=timezone,
            watchdog=watchdog,
            own_service=own_service,
        )
        self._restored = [a for a in restored if a in alarm_set.specs]
        self.listeners: list[Listener] = []
        self.stats = EngineStats()
        self._outbox = _Outbox()
        self._wake = asyncio.Event()
        self._queued = 0  # records queued so far
        self._done = 0  # records written and published so far
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._held_states: dict[str, bytes] = {}
        self._held_events: deque[tuple[str, bytes]] = deque()
        self._publish_wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # device messages, heartbeats, and services whose retained status was cleared
        self._inbox: deque[DeviceMessage | Heartbeat | ServiceKey] = deque()
        self.last_eval: datetime | None = None
        self._inbox_lock = threading.Lock()
        self._inbox_scheduled = False
        if notifier is not None:
            notifier.specs = self.core.specs  # system alarms appear as services are heard of
            notifier.state_of = self._status_or_none
            notifier.journal = self._journal_notices

    # -- input ------------------------------------------------------------------------------

    def on_message(self, message: DeviceMessage) -> None:
        """Evaluate a device message (sync, cheap; call on the engine's loop thread)."""
        records = self.core.on_message(message, self.clock())
        if records:
            self._queue(records)

    def on_message_threadsafe(self, message: DeviceMessage | Heartbeat | ServiceKey) -> None:
        """Hand over a device message from any thread (e.g. paho's network thread).

        Messages are queued and evaluated on the loop in batches: one wake-up of the loop
        per batch, not per message (at thousands of messages a second, that matters)."""
        with self._inbox_lock:
            self._inbox.append(message)
            if self._inbox_scheduled or self._loop is None:
                return
            self._inbox_scheduled = True
        self._loop.call_soon_threadsafe(self._drain_inbox)

    def on_heartbeat_threadsafe(self, item: Heartbeat | ServiceKey) -> None:
        """Hand over a service's heartbeat (or the key of a service whose retained status
        was cleared) from any thread; they queue with the device messages, in order."""
        self.on_message_threadsafe(item)

    def heartbeat(self, service_id: str, interval_s: float) -> Heartbeat:
        """This engine's own heartbeat: messages evaluated must move while some wait."""
        with self._inbox_lock:
            backlog = len(self._inbox)
        return make_heartbeat(
            ServiceKind.ALARMS,
            service_id,
            interval_s=interval_s,
            counters={"messages_evaluated": self.core.stats.messages, "backlog": backlog},
            times={"last_eval_ts": self.last_eval},
            sites=tuple(self.alarm_set.sites),
        )

    def _drain_inbox(self) -> None:
        while True:
            with self._inbox_lock:
                if not self._inbox:
                    self._inbox_scheduled = False
                    return
                batch = list(self._inbox)
                self._inbox.clear()
            for message in batch:
                try:
                    if isinstance(message, DeviceMessage):
                        self.on_message(message)
                        continue
                    if isinstance(message, Heartbeat):
                        records = self.core.on_heartbeat(message, self.clock())
                    else:
                        records = self.core.forget_service(message, self.clock())
                    if records:
                        self._queue(records)
                except Exception:  # one bad message must not stop the engine
                    what = message.asset_no if isinstance(message, DeviceMessage) else message
                    log.exception("alarms: evaluating %s failed", what)
            self.last_eval = self.clock()

    def set_listening(self, listening: bool) -> None:
        """The engine's bus link went down or came back (see AlarmCore.set_listening)."""
        self.core.set_listening(listening, self.clock())

    def set_asset_status(self, asset_no: str, status: AssetStatus) -> None:
        """The ledger moved an asset in or out of service (mode rule)."""
        records = self.core.set_asset_status(asset_no, status, self.clock())
        if records:
            self._queue(records)

    async def execute(self, command: Command, principal: Principal) -> AlarmStatus:
        """Apply an operator command for ``principal``; returns once it is journaled (with
        its audit row) and published. PermissionDenied if their roles or estates do not
        allow it (recorded in the audit trail); AlarmCommandError (a ConfigError) says why
        it does not apply. ``command.user`` is replaced by the principal's name. Call it on
        the engine's event loop, while ``run()`` is running."""
        if self._loop is None:
            raise AlarmCommandError("the alarm engine is not running: start engine.run() first")
        self.stats.commands += 1
        now = self.clock()
        try:
            site = self.core.spec(command.alarm_id).site
            principal.require(OP_PERMISSION[command.op], site)
            command = replace(command, user=principal.name)
            supervisor = principal.can(Permission.ALARM_SERVICE, site)
            status, records = self.core.command(command, now, supervisor=supervisor)
        except AuthError as exc:
            self.stats.command_errors += 1
            await self._refused(principal, command, str(exc), principal.remote)
            raise
        except AlarmCommandError:
            self.stats.command_errors += 1
            raise
        log.info(
            "alarm_id=%s %s by user=%s source=%s: %s",
            command.alarm_id,
            command.op,
            principal.name,
            principal.source.value,
            status.state.value,
        )
        action = OperatorAction(
            principal, f"alarm_{command.op}", command.alarm_id, now, _action_detail(command)
        )
        await self._flushed(self._queue(records, [action]))
        return status

    async def sign_in(self, token: object, command: Command, remote: str | None) -> Principal:
        """The person whose session ``token`` is (the ``auth`` of a bus command); AuthError
        starting "not signed in" otherwise, recorded in the audit trail."""
        try:
            if self.users is None:
                raise AuthError("this alarm engine has no user database to check who is acting")
            if not isinstance(token, str) or not token:
                raise AuthError(
                    "the command carries no token (sign in with `facility login` or on the "
                    "dashboard)"
                )
            info = await asyncio.to_thread(
                self.users.resolve, token, source=Source.API, remote=remote
            )
        except AuthError as exc:
            self.stats.command_errors += 1
            text = str(exc)
            reason = text if text.startswith("not signed in") else f"not signed in: {text}"
            await self._refused(None, command, reason, remote)
            raise AuthError(reason) from None
        return replace(info.principal, source=SESSION_SOURCE.get(info.kind, Source.API))

    async def _refused(
        self, principal: Principal | None, command: Command, reason: str, remote: str | None
    ) -> None:
        """Write a refused command to the audit trail (and say it once in the log)."""
        who = principal.name if principal else ANONYMOUS
        log.warning(
            "alarm_id=%.100s %s refused for %s (claimed user=%.40r): %s",
            command.alarm_id,
            command.op,
            who,
            command.user,
            reason,
        )
        if self.users is None:
            return
        detail = {
            "op": command.op,
            "claimed_user": command.user,
            "comment": command.comment,
            "reason": reason,
        }
        try:
            await asyncio.to_thread(
                self.users.audit,
                principal or ANONYMOUS,
                "refused",
                command.alarm_id,
                detail,
                source=None if principal else Source.API,
                remote=remote,
            )
        except StorageError as exc:  # the refusal stands; only its record is missing
            log.warning("audit trail: cannot record a refused alarm command: %s", exc)

    def status(self, alarm_id: str) -> AlarmStatus:
        return self.core.status(alarm_id)

    def _status_or_none(self, alarm_id: str) -> AlarmStatus | None:
        try:
            return self.core.status(alarm_id)
        except AlarmCommandError:
            return None

    def _journal_notices(self, records: list[AlarmRecord]) -> None:
        self._queue(records)

    def _queue(self, records: list[AlarmRecord], actions: Sequence[OperatorAction] = ()) -> int:
        outbox = self._outbox
        outbox.records.extend(records)
        outbox.actions.extend(actions)
        # entries that change an alarm's state (not notices, incidents or floods)
        outbox.changed.update(r.alarm_id for r in records if r.to_state is not None)
        self._queued += len(records)
        self._wake.set()
        return self._queued

    async def _flushed(self, target: int) -> None:
        if self._done >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future

    # -- running ------------------------------------------------------------------------------

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Timers, journal writer, publisher and notifier, until cancelled."""
        self._loop = asyncio.get_running_loop()
        with self._inbox_lock:
            if self._inbox and not self._inbox_scheduled:
                self._inbox_scheduled = True
                self._loop.call_soon(self._drain_inbox)
        tasks = [
            asyncio.create_task(self._ticker(), name="alarms-ticker"),
            asyncio.create_task(self._writer(), name="alarms-writer"),
        ]
        if self.link is not None:
            self._republish_restored()
            tasks.append(asyncio.create_task(self._publisher(), name="alarms-publisher"))
        if self.notifier is not None:
            tasks.append(asyncio.create_task(self.notifier.run(), name="alarms-notifier"))
        log.info(
            "alarm engine: %d alarms on %d assets, %d states restored",
            len(self.alarm_set.specs),
            len(self.alarm_set.by_asset),
            len(self._restored),
        )
        if ready is not None:
            ready.set()
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for _, future in self._waiters:
                if not future.done():
                    future.cancel()
            self._loop = None

    async def _ticker(self) -> None:
        while True:
            records = self.core.tick(self.clock())
            if records:
                self._queue(records)
            await asyncio.sleep(self.tick_s)

    async def _writer(self) -> None:
        backoff = Backoff(0.5, STORE_RETRY_MAX_S)
        pending = _Outbox()
        while True:
            await self._wake.wait()
            self._wake.clear()
            # take everything queued so far; keep what failed to be written in front
            pending.records.extend(self._outbox.records)
            pending.changed.update(self._outbox.changed)
            pending.actions.extend(self._outbox.actions)
            self._outbox = _Outbox()
            if not pending.records and not pending.changed and not pending.actions:
                continue
            currents = [self._current(alarm_id) for alarm_id in sorted(pending.changed)]
            try:
                written = await self._write(pending.records, currents, pending.actions)
            except StorageError as exc:
                self.stats.store_failures += 1
                delay = backoff.failed()
                log.warning(
                    "alarm journal: write of %d entries failed, retrying in %.1f s: %s",
                    len(pending.records),
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
                self._wake.set()
                continue
            backoff.succeeded()
            pending = _Outbox()
            self.stats.written += len(written)
            self._publish(written, currents)
            if self.notifier is not None:
                self.notifier.submit(written)
            for listener in self.listeners:
                try:
                    listener(written)
                except Exception:  # a broken listener must not stop the journal
                    log.exception("alarm listener %r failed", listener)
            self._done += len(written)
            still: list[tuple[int, asyncio.Future[None]]] = []
            for target, future in self._waiters:
                if self._done >= target:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((target, future))
            self._waiters = still

    async def _write(
        self,
        records: list[AlarmRecord],
        currents: list[CurrentAlarm],
        actions: list[OperatorAction],
    ) -> list[AlarmRecord]:
        if self.store is None:
            return list(records)
        return await asyncio.to_thread(self.store.write, records, currents, actions)

    def _current(self, alarm_id: str) -> CurrentAlarm:
        spec = self.core.spec(alarm_id)
        return CurrentAlarm(
            alarm_id=alarm_id,
            site=spec.site,
            asset_no=spec.asset_no,
            alarm=spec.name,
            priority=spec.priority.value,
            status=self.core.status(alarm_id),
        )

    # -- publishing ---------------------------------------------------------------------------

    def _republish_restored(self) -> None:
        for alarm_id in self._restored:
            spec = self.core.spec(alarm_id)
            self._held_states[alarm_id] = state_payload(spec, self.core.status(alarm_id))
        self._publish_wake.set()

    def _publish(self, records: Sequence[AlarmRecord], currents: Sequence[CurrentAlarm]) -> None:
        if self.link is None:
            return
        for current in currents:
            spec = self.core.spec(current.alarm_id)
            self._held_states[current.alarm_id] = state_payload(
                spec, current.status, self.core.incident_of(current.alarm_id)
            )
        for record in records:
            if len(self._held_events) >= MAX_HELD_EVENTS:
                self._held_events.popleft()
                self.stats.dropped_events += 1
            payload = json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":"))
            self._held_events.append((alarm_event_topic(record.site), payload.encode()))
        self._publish_wake.set()

    async def _publisher(self) -> None:
        link = self.link
        assert link is not None
        while True:
            await self._publish_wake.wait()
            self._publish_wake.clear()
            await link.connected.wait()
            states, self._held_states = self._held_states, {}
            events = list(self._held_events)
            self._held_events.clear()
            state_futures = {
                alarm_id: link.publish(self.core.spec(alarm_id).topic, payload, retain=True)
                for alarm_id, payload in states.items()
            }
            event_futures = [link.publish(topic, payload) for topic, payload in events]
            failed = False
            for alarm_id, future in state_futures.items():
                try:
                    await future
                    self.stats.published_states += 1
                except FacilityError:
                    failed = True
                    self._held_states.setdefault(alarm_id, states[alarm_id])
            lost: list[tuple[str, bytes]] = []
            for item, future in zip(events, event_futures, strict=True):
                try:
                    await future
                    self.stats.published_events += 1
                except FacilityError:
                    failed = True
                    lost.append(item)
            self._held_events.extendleft(reversed(lost))
            if failed:
                await asyncio.sleep(0.5)
                self._publish_wake.set()

    # -- commands over MQTT -------------------------------------------------------------------

    async def handle_command_payload(
        self, payload: bytes, *, remote: str | None = None
    ) -> tuple[str | None, bytes]:
        """Run a JSON command for the person whose token it carries (``auth``); returns
        (reply topic, reply JSON). Never raises for bad input: every refusal is a reply with
        ``ok: false`` and one line saying why. ``remote`` says where it came from (the
        audit trail's "from where", e.g. ``mqtt:<topic>``)."""
        reply_to: str | None = None
        request_id: Any = None
        try:
            body = decode_command(payload)
            reply_to = body.get("reply_to") if isinstance(body.get("reply_to"), str) else None
            request_id = _reply_id(body.get("id"))
            command = parse_command(body)
            if service_of(command.alarm_id) is not None and command.alarm_id not in self.core.specs:
                # a system alarm another engine holds (each engine hears every one's
                # commands): its holder answers; a refusal from here could win the race
                log.debug("alarm command for %s: not this engine's", command.alarm_id)
                return None, b""
            principal = await self.sign_in(body.get("auth"), command, remote)
            status = await self.execute(command, principal)
            reply: dict[str, Any] = {"id": request_id, "ok": True, "state": status_to_json(status)}
        except FacilityError as exc:  # bad command, or the journal refused the write
            reply = {"id": request_id, "ok": False, "error": one_line(str(exc))}
        return reply_to, json.dumps(reply, ensure_ascii=False).encode()

    async def serve_command(self, payload: bytes, topic: str | None = None) -> None:
        """Run a command received on MQTT and publish the reply (if a reply topic was given)."""
        try:
            remote = f"mqtt:{topic}" if topic else "mqtt"
            reply_to, reply = await self.handle_command_payload(payload, remote=remote)
        except Exception:  # a bug must not go unseen in a task nobody awaits
            self.stats.command_errors += 1
            log.exception("alarm command failed unexpectedly")
            return
        if reply_to and self.link is not None and self.link.connected.is_set():
            with contextlib.suppress(FacilityError):
                await self.link.publish(reply_to, reply)


def _action_detail(command: Command) -> dict[str, Any]:
    """What an operator action changed, for its audit row (the journal has the states)."""
    detail: dict[str, Any] = {"op": command.op}
    if command.comment:
        detail["comment"] = command.comment
    if command.reason:
        detail["reason"] = command.reason
    if command.for_s is not None:
        detail["for_s"] = command.for_s
    if command.one_shot:
        detail["one_shot"] = True
    return detail


def one_line(text: str, limit: int = 300) -> str:
    """A message fit for a reply or a log line: one line, not empty, not endless."""
    flat = " ".join(text.split()) or "refused"
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _reply_id(value: object) -> str | int | None:
    """The request id echoed in the reply: a short string or an integer, nothing bigger."""
    if isinstance(value, str) and len(value) <= COMMAND_MAX_TEXT:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
        return value
    return None


def decode_command(payload: bytes) -> dict[str, Any]:
    """The JSON object of a command message within the limits of facility/limits.py;
    AlarmCommandError (one line, saying what was expected) otherwise."""
    try:
        body = load_json(
            payload, what="command", max_bytes=COMMAND_MAX_BYTES, max_depth=COMMAND_MAX_DEPTH
        )
    except JsonLimitError as exc:
        raise AlarmCommandError(one_line(str(exc))) from None
    if not isinstance(body, dict):
        raise AlarmCommandError("command: expected a JSON object")
    return body


def parse_command(body: dict[str, Any]) -> Command:
    """A Command from its JSON form; AlarmCommandError naming the bad field."""
    op = body.get("op")
    if op not in COMMAND_OPS:
        raise AlarmCommandError(f"op {op!r:.40}: expected one of {', '.join(COMMAND_OPS)}")
    text: dict[str, str] = {}
    for key in ("alarm_id", "user", "comment", "reason"):
        value = body.get(key, "")
        if not isinstance(value, str):
            raise AlarmCommandError(f"{key}: expected a string")
        if len(value) > COMMAND_MAX_TEXT:
            raise AlarmCommandError(
                f"{key}: {len(value)} characters; expected at most {COMMAND_MAX_TEXT}"
            )
        text[key] = value
    if not text["alarm_id"]:
        raise AlarmCommandError("alarm_id: required, e.g. HT-PDP-001/dry_run")
    for_s = body.get("for_s")
    if for_s is not None and (
        isinstance(for_s, bool)
        or not isinstance(for_s, int | float)
        or not 0 < for_s <= COMMAND_MAX_FOR_S  # also refuses NaN; a date past 9999 overflows
    ):
        raise AlarmCommandError(
            f"for_s {for_s!r:.40}: expected a positive number of seconds "
            f"(at most {COMMAND_MAX_FOR_S:,})"
        )
    one_shot = body.get("one_shot", False)
    if not isinstance(one_shot, bool):
        raise AlarmCommandError("one_shot: expected true or false")
    op_name: CommandOp = op
    return Command(
        op=op_name,
        alarm_id=text["alarm_id"],
        user=text["user"],
        comment=text["comment"],
        for_s=float(for_s) if for_s is not None else None,
        one_shot=one_shot,
        reason=text["reason"],
    )
