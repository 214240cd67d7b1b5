"""The historian pipeline: MQTT in → decode → batch → InfluxDB, with a durable spool.

    paho thread     on_delivery: decode + check + encode line protocol (or a dead letter)
                      │  deque, one loop wake-up per burst
    event loop      _drain: hooks (alarm engine) see every good DeviceMessage; batch by
                      │  points (batch_points) or age (batch_interval_s)
    writer task     InfluxDB up: write the batch; down/slow/refusing: put it in the spool.
                      │  Then, and only then, PUBACK its messages (manual ack)
    replayer task   spool → InfluxDB in order, at most replay_points_per_s, while live
                    batches keep going straight in; it is also the probe that says "back up"

Nothing is lost when the gateway dies: a message is acknowledged to the broker only once its
batch is in InfluxDB or in the spool (SQLite, survives restarts). Until then the broker holds
it in our persistent session (``session_expiry_s``) and redelivers it after a reconnect.
Redelivered or replayed data overwrites itself in InfluxDB (same series and timestamp), so
at-least-once delivery stores every reading exactly once. The alternative — relying on the
persistent session with automatic acks — loses the batch in memory (up to a second of every
device) on a crash, because paho acknowledges as soon as the callback returns.

Gateways scale out with an MQTT 5 shared subscription (``$share/<group>/facility/v1/+/+``,
which matches readings only): the broker gives each message to one member of the group.

Bad input never stops the pipeline: a message that does not decode, names an asset outside
the ledger, or a point name InfluxDB cannot store is counted by kind, logged once per kind
with an example, published to ``facility/v1/events/deadletter/<gateway_id>`` with the reason, and
acknowledged. Lines InfluxDB itself refuses (field type conflict, parse error) are split out
of their batch (gateway.influx) and dead-lettered the same way; the rest of the batch goes in.

What went missing and why is written as data, in ``ingest_events``: replayed ranges, spool
drops (bounded by bytes and age), dead letters. Missed polls are read from the stored
``seq`` of each device (gateway.history.gaps): at ingest a gateway sharing the subscription
sees only part of each device's messages, so it cannot tell a gap from a sibling's share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from facility.backoff import Backoff
from facility.errors import FacilityError, StorageError
from facility.heartbeat import (
    Heartbeat,
    ServiceKind,
    birth_and_will,
    make_heartbeat,
    publish_heartbeats,
)
from facility.metrics_http import MetricsServer, MetricsSource
from facility.mqtt import AckToken, BrokerSettings, MqttLink
from facility.payload import DeviceMessage, PayloadError, decode
from facility.redact import redact_url
from facility.spool import Spool, SpoolError, SpoolStats
from facility.topics import RESEND_REPORT_WILDCARD, dead_letter_topic, shared_readings
from facility.types import ASSET_NO_RE, SITE_CODE_RE
from gateway.gapfill import GapFiller
from gateway.influx import (
    InfluxAuthError,
    InfluxClient,
    InfluxRejected,
    InfluxUnavailable,
    Rejected,
    WriteOutcome,
)
from gateway.ingest_rules import (
    DEAD_LETTER_PAYLOAD_MAX,
    REPORT_PREFIX,
    SESSION_EXPIRY_S,
    check_message,
)
from gateway.ingest_stats import GatewayStats
from gateway.lineproto import LineEncoder, event_line, to_ms
from gateway.retention import RetentionPlan, backfill, setup

log = logging.getLogger(__name__)

MessageHook = Callable[[DeviceMessage], None]
# builds the /metrics source from the gateway's counters: gateway.metrics.GatewayMetrics,
# given by the wiring so that this module does not import the one that reads it
MetricsFactory = Callable[
    [Callable[[], "GatewayStats"], Callable[[], SpoolStats | None]], MetricsSource
]


@dataclass
class _Batch:
    lines: list[bytes] = field(default_factory=list)
    tokens: list[AckToken] = field(default_factory=list)
    points: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    opened: float = field(default_factory=time.monotonic)
    # dead letters of this batch by (kind, asset_no or ""): count and last reason
    dead: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)

    def add_message(self, lines: tuple[bytes, bytes], points: int, ts_ms: int) -> None:
        self.lines.extend(lines)
        self.points += points
        self.first_ms = ts_ms if self.first_ms is None else min(self.first_ms, ts_ms)
        self.last_ms = ts_ms if self.last_ms is None else max(self.last_ms, ts_ms)

    def spool_key(self) -> str:
        return f"{self.first_ms or 0}:{self.last_ms or 0}:{self.points}"


def parse_spool_key(key: str) -> tuple[int, int, int]:
    """``first_ms:last_ms:points`` of a spooled batch (zeros if unreadable)."""
    try:
        first, last, points = (int(part) for part in key.split(":"))
    except ValueError:
        return 0, 0, 0
    return first, last, points


@dataclass
class _ReplayRun:
    first_ms: int | None = None
    last_ms: int | None = None
    points: int = 0
    records: int = 0

    def add(self, first_ms: int, last_ms: int, points: int) -> None:
        if first_ms:
            self.first_ms = first_ms if self.first_ms is None else min(self.first_ms, first_ms)
        if last_ms:
            self.last_ms = last_ms if self.last_ms is None else max(self.last_ms, last_ms)
        self.points += points
        self.records += 1


class _RawItem:
    """What the paho thread hands to the event loop (slots: thousands per second)."""

    __slots__ = ("error", "lines", "message", "payload", "token", "topic")

    def __init__(
        self,
        token: AckToken,
        message: DeviceMessage | None = None,
        lines: tuple[bytes, bytes] | None = None,
        error: PayloadError | None = None,
        topic: str = "",
        payload: bytes = b"",
    ) -> None:
        self.token = token
        self.message = message
        self.lines = lines
        self.error = error
        self.topic = topic
        self.payload = payload


@dataclass
class InfluxTarget:
    """How to reach the historian (one InfluxClient per concurrent user is made from it)."""

    url: str
    database: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    timeout_s: float = 10.0

    def client(self, timeout_s: float | None = None) -> InfluxClient:
        return InfluxClient(
            self.url,
            self.database,
            username=self.username,
            password=self.password,
            token=self.token,
            timeout=timeout_s or self.timeout_s,
        )


class GatewayService:
    """One gateway process: MQTT readings into InfluxDB, hooks for the alarm engine.

    ``on_message`` hooks are called on the event loop with every decoded, checked
    DeviceMessage, in arrival order, before it is batched (the alarm engine uses this). A
    hook must be quick and not block; an exception in a hook is logged once and counted,
    never stops the pipeline.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        influx: InfluxTarget,
        spool_path: Path,
        *,
        gateway_id: str = "gateway-1",
        share_group: str = "facility-gateway",
        known_assets: Collection[str] | None = None,
        asset_tags: Mapping[str, Mapping[str, str]] | None = None,
        on_message: Sequence[MessageHook] = (),
        batch_points: int = 5000,
        batch_interval_s: float = 1.0,
        spool_max_bytes: int = 1024 * 2**20,
        spool_max_age_s: float = 168 * 3600,
        replay_points_per_s: int = 100_000,
        retention: RetentionPlan | None = None,
        setup_on_start: bool = True,
        session_expiry_s: int = SESSION_EXPIRY_S,
        receive_maximum: int = 10_000,
        probe_interval_s: tuple[float, float] = (0.5, 5.0),
        metrics_host: str = "127.0.0.1",
        metrics_port: int | None = None,
        metrics_source: MetricsFactory | None = None,
        metrics_token: str | None = None,
        gap_audit: bool = True,
        gap_audit_interval_s: float = 30.0,
        gap_lookback_s: float = 900.0,
        gap_settle_s: float = 20.0,
    ) -> None:
        self.broker = broker
        self.influx = influx
        self.spool_path = spool_path
        self.gateway_id = gateway_id
        self.share_group = share_group
        self.known_assets = frozenset(known_assets) if known_assets is not None else None
        self.hooks = list(on_message)
        self.batch_points = batch_points
        self.batch_interval_s = batch_interval_s
        self.spool_max_bytes = spool_max_bytes
        self.spool_max_age_s = spool_max_age_s
        self.replay_points_per_s = replay_points_per_s
        self.retention = retention or RetentionPlan()
        self.setup_on_start = setup_on_start
        self.session_expiry_s = session_expiry_s
        self.receive_maximum = receive_maximum
        self.probe_interval_s = probe_interval_s
        self.metrics_host = metrics_host
        self.metrics_port = metrics_port  # None: no /metrics; 0: any free port
        if metrics_port is not None and metrics_source is None:
            raise ValueError("metrics_port needs metrics_source (gateway.metrics.GatewayMetrics)")
        self.metrics_source = metrics_source
        self.metrics_token = metrics_token  # /metrics asks for it as a Bearer token
        self.metrics_url: str | None = None
        self.stats = GatewayStats()
        self.encoder = LineEncoder(asset_tags)
        self.setup_done = asyncio.Event()
        self.link: MqttLink | None = None
        self.spool: Spool | None = None
        self._inbox: deque[_RawItem] = deque()
        self._drain_scheduled = False
        self._batch = _Batch()
        self._batch_timer: asyncio.TimerHandle | None = None
        self._ready: asyncio.Queue[_Batch] = asyncio.Queue()
        self._replay_wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._logged_kinds: set[str] = set()
        self._failing_hooks: set[int] = set()
        self._spool_dropped_reported = 0
        self._pending_publishes: set[asyncio.Future[None]] = set()
        # end-to-end gap filling (gateway.gapfill): None when this gateway does not audit
        self.gap_audit = gap_audit
        self.gap_audit_interval_s = gap_audit_interval_s
        self.gap_lookback_s = gap_lookback_s
        self.gap_settle_s = gap_settle_s
        self.gapfill: GapFiller | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Run until cancelled; ``ready`` is set once connected to the broker. Batches in
        memory are not flushed on the way out: their messages are unacknowledged, so the
        broker redelivers them to the next run."""
        self._loop = asyncio.get_running_loop()
        spool = Spool(
            self.spool_path, max_bytes=self.spool_max_bytes, max_age_s=self.spool_max_age_s
        )
        self.spool = spool
        self._spool_dropped_reported = spool.stats().dropped
        birth, will = birth_and_will(self.heartbeat())
        link = MqttLink(
            self.broker,
            client_id=self.gateway_id,
            birth=birth,
            will=will,
            subscriptions=[
                (shared_readings(self.share_group), 1),
                (f"$share/{self.share_group}/{RESEND_REPORT_WILDCARD}", 1),
            ],
            session_expiry_s=self.session_expiry_s,
            manual_ack=True,
            on_delivery=self._on_delivery,
            receive_maximum=self.receive_maximum,
        )
        self.link = link
        live, replay = self.influx.client(), self.influx.client()
        if self.setup_on_start:
            # explicit, so nothing lands in another RP before setup has made `raw` the
            # default: until it exists, writes fail and batches wait in the spool
            live.retention_policy = replay.retention_policy = self.retention.raw_rp
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self.metrics_port is not None:
                    await self._serve_metrics(stack)
                await self._run_tasks(link, live, replay, ready)
        finally:
            if self._batch_timer is not None:
                self._batch_timer.cancel()
            for future in list(self._pending_publishes):
                future.cancel()
            live.close()
            replay.close()
            spool.close()

    async def _serve_metrics(self, stack: contextlib.AsyncExitStack) -> None:
        # served from this loop: no thread per scrape connection (facility.metrics_http)
        assert self.metrics_port is not None
        assert self.metrics_source is not None
        server = MetricsServer(
            self.metrics_source(lambda: self.stats, self._spool_stats),
            host=self.metrics_host,
            port=self.metrics_port,
            section="gateway",
            token=self.metrics_token,
        )
        await stack.enter_async_context(server)
        self.metrics_url = server.url

    async def _run_tasks(
        self,
        link: MqttLink,
        live: InfluxClient,
        replay: InfluxClient,
        ready: asyncio.Event | None,
    ) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(link.run())
            group.create_task(self._writer(live))
            group.create_task(self._replayer(replay))
            group.create_task(self._housekeeping(replay))
            if self.gap_audit:
                self.gapfill = GapFiller(
                    replay,
                    link.publish,
                    gateway_id=self.gateway_id,
                    retention_policy=live.retention_policy,
                    interval_s=self.gap_audit_interval_s,
                    lookback_s=self.gap_lookback_s,
                    settle_s=self.gap_settle_s,
                )
                group.create_task(self.gapfill.run())
            group.create_task(publish_heartbeats(link, self.heartbeat, interval_s=self.heartbeat_s))
            if self.setup_on_start:
                group.create_task(self._setup(self.influx.client()))
            else:
                self.setup_done.set()
            log.info(
                "gateway id=%s group=%s influxdb=%s database=%s spool=%s",
                self.gateway_id,
                self.share_group,
                redact_url(self.influx.url),
                self.influx.database,
                self.spool_path,
            )
            if ready is not None:
                await link.connected.wait()
                ready.set()

    def _backoff(self) -> Backoff:
        """A retry loop's delays towards InfluxDB or the spool: ``probe_interval_s`` (min, max)."""
        return Backoff(*self.probe_interval_s)

    async def _setup(self, client: InfluxClient) -> None:
        backoff = self._backoff()
        try:
            while True:
                try:
                    changed = await asyncio.to_thread(setup, client, self.retention)
                except (InfluxUnavailable, InfluxAuthError) as exc:
                    if not backoff.failures:  # said once, not every retry
                        log.warning("historian setup waits for InfluxDB: %s", exc)
                    await asyncio.sleep(backoff.failed())
                    continue
                except InfluxRejected as exc:
                    # 2.x/3.x refuse RP/CQ statements: retention is theirs (docs/historian.md)
                    log.warning("historian setup refused, retention not managed here: %s", exc)
                    self.setup_done.set()
                    return
                if changed:
                    log.info("historian setup: %d change(s)", len(changed))
                self.setup_done.set()
                return
        finally:
            client.close()

    # -- receive (paho thread) ---------------------------------------------------------------

    def _on_delivery(self, topic: str, payload: bytes, token: AckToken) -> None:
        try:
            parts = topic.split("/")
            if len(parts) != 4 or not SITE_CODE_RE.match(parts[2]):
                # the collectors' resend reports (their own subscription)
                item = _RawItem(token, topic=topic, payload=payload)
            else:
                message = decode(topic, payload)
                check_message(message, self.known_assets)
                item = _RawItem(token, message, self.encoder.encode_lines(message))
        except PayloadError as exc:
            item = _RawItem(token, error=exc, topic=topic, payload=payload)
        except Exception as exc:  # a bug must not kill paho's thread; dead-letter it
            error = PayloadError("internal", f"{type(exc).__name__}: {exc}")
            item = _RawItem(token, error=error, topic=topic, payload=payload)
        self._inbox.append(item)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # loop closed while shutting down
                    loop.call_soon_threadsafe(self._drain)

    # -- batch (event loop) ------------------------------------------------------------------

    def _drain(self) -> None:
        self._drain_scheduled = False
        inbox, batch, stats = self._inbox, self._batch, self.stats
        while inbox:
            item = inbox.popleft()
            batch.tokens.append(item.token)
            message = item.message
            if message is None:
                if item.error is None and item.topic.startswith(REPORT_PREFIX):
                    if self.gapfill is not None:
                        self.gapfill.on_report(item.payload)
                elif item.error is None:
                    stats.ignored += 1
                else:
                    self._dead_letter(item.error, item.topic, item.payload)
                continue
            assert item.lines is not None
            points = len(message.readings)
            stats.messages_in += 1
            stats.points_in += points
            batch.add_message(item.lines, points, to_ms(message.collected_ts))
            for index, hook in enumerate(self.hooks):
                try:
                    hook(message)
                except Exception:
                    stats.hook_errors += 1
                    if index not in self._failing_hooks:
                        self._failing_hooks.add(index)
                        log.exception("gateway hook %r failed (logged once, counted)", hook)
            if batch.points >= self.batch_points:
                self._cut()
                batch = self._batch
        self._arm_timer()

    def _arm_timer(self) -> None:
        batch = self._batch
        if (batch.tokens or batch.dead) and self._batch_timer is None and self._loop is not None:
            self._batch_timer = self._loop.call_later(self.batch_interval_s, self._cut)

    def _cut(self) -> None:
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
        batch, self._batch = self._batch, _Batch()
        if batch.dead:
            now_ms = int(time.time() * 1000)
            for (kind, asset_no), (count, reason) in batch.dead.items():
                tags = {"gateway": self.gateway_id, "event": "dead_letter", "kind": kind}
                if asset_no:
                    tags["asset_no"] = asset_no
                fields: dict[str, float | int | bool | str] = {"count": count, "reason": reason}
                batch.lines.append(event_line(tags, fields, now_ms))
        if batch.tokens or batch.lines:
            self._ready.put_nowait(batch)

    def _dead_letter(self, error: PayloadError, topic: str, payload: bytes) -> None:
        """Count, log once per kind, publish; recorded in ``ingest_events`` with the batch."""
        kind = error.kind
        self.stats.dead_letters[kind] += 1
        if kind not in self._logged_kinds:
            self._logged_kinds.add(kind)
            log.warning(
                "dead letter kind=%s topic=%s: %s (example: %r; more of this kind are counted, "
                "not logged)",
                kind,
                topic,
                error,
                payload[:200],
            )
        now_ms = int(time.time() * 1000)
        asset = topic.rsplit("/", 1)[-1]
        key = (kind, asset if ASSET_NO_RE.match(asset) else "")
        count, _ = self._batch.dead.get(key, (0, ""))
        self._batch.dead[key] = (count + 1, str(error)[:200])
        self._arm_timer()
        self._publish_dead_letter(
            {
                "gateway": self.gateway_id,
                "kind": kind,
                "reason": str(error),
                "topic": topic,
                "received_ms": now_ms,
                "payload_bytes": len(payload),
                "payload": payload[:DEAD_LETTER_PAYLOAD_MAX].decode("utf-8", errors="replace"),
            }
        )

    def _publish_dead_letter(self, body: dict[str, object]) -> None:
        link = self.link
        if link is None or not link.connected.is_set():
            self.stats.dead_letters_unpublished += 1
            return
        data = json.dumps(body, ensure_ascii=False).encode()
        future = link.publish(dead_letter_topic(self.gateway_id), data, qos=1)
        self._pending_publishes.add(future)
        future.add_done_callback(self._published)

    def _published(self, future: asyncio.Future[None]) -> None:
        self._pending_publishes.discard(future)
        if future.cancelled() or future.exception() is not None:
            self.stats.dead_letters_unpublished += 1

    # -- write (event loop + threads) --------------------------------------------------------

    async def _writer(self, client: InfluxClient) -> None:
        backoff = self._backoff()
        while True:
            batch = await self._ready.get()
            # a batch neither InfluxDB nor the spool took is retried, never acknowledged
            # meanwhile: the broker holds its messages (and redelivers them if we die); the
            # unacknowledged messages (receive_maximum) hold the broker back meanwhile
            # ASYNC110: a retry of the write, not a poll that an event would replace
            while batch.lines and not await self._store(client, batch):  # noqa: ASYNC110
                await asyncio.sleep(backoff.failed())
            backoff.succeeded()
            if self.link is not None:
                self.link.ack(batch.tokens)

    async def _store(self, client: InfluxClient, batch: _Batch) -> bool:
        """Write a live batch, or spool it if InfluxDB is down (or known to be). False if
        neither took it (the spool is full or locked): keep it and try again."""
        stats = self.stats
        if stats.influx_up:
            started = time.monotonic()
            try:
                outcome = await asyncio.to_thread(_write, client, batch.lines)
            except (InfluxUnavailable, InfluxAuthError) as exc:
                self._went_down(exc)
            else:
                now = time.monotonic()
                stats.write_seconds.observe(now - started)
                stats.delay_seconds.observe(now - batch.opened)
                stats.batches_written += 1
                stats.points_written += batch.points
                self._account(outcome)
                return True
        assert self.spool is not None
        try:
            await asyncio.to_thread(self.spool.put, batch.spool_key(), b"".join(batch.lines))
        except SpoolError as exc:
            self._spool_failed(exc, "spooling a batch")
            self._replay_wake.set()  # the replayer probes InfluxDB meanwhile
            return False
        self._spool_back()
        stats.batches_spooled += 1
        stats.points_spooled += batch.points
        self._replay_wake.set()
        return True

    def _spool_failed(self, exc: SpoolError, doing: str) -> None:
        """Count; log once when the spool starts failing (not on every retry)."""
        self.stats.spool_failures[exc.kind] += 1
        if self.stats.spool_ok:
            self.stats.spool_ok = False
            log.error(
                "spool %s failing (kind=%s) while %s: batches wait unacknowledged in the "
                "broker until it works again: %s",
                self.spool_path,
                exc.kind,
                doing,
                exc,
            )

    def _spool_back(self) -> None:
        if not self.stats.spool_ok:
            self.stats.spool_ok = True
            log.info("spool %s works again", self.spool_path)

    def _went_down(self, exc: FacilityError) -> None:
        kind = "auth" if isinstance(exc, InfluxAuthError) else "unavailable"
        self.stats.write_failures[kind] += 1
        if self.stats.influx_up:
            self.stats.influx_up = False
            level = logging.ERROR if kind == "auth" else logging.WARNING
            log.log(level, "influxdb down, spooling batches: %s", exc)
        self._replay_wake.set()

    def _account(self, outcome: WriteOutcome) -> None:
        for rejected in outcome.rejected:
            self._rejected(rejected)
        if outcome.expired:
            self._expired(outcome.expired)

    def _expired(self, expired: Sequence[Rejected]) -> None:
        """Lines InfluxDB dropped as older than its retention policy: counted, recorded per
        device in ``ingest_events`` (kind ``influx_expired``), one dead letter per device."""
        self.stats.expired_lines += len(expired)
        by_asset: dict[str, list[Rejected]] = {}
        for item in expired:
            series = item.line.split(b" ", 1)[0].decode("utf-8", errors="replace")
            asset = re.search(r"asset_no=([A-Z0-9-]+)", series)
            by_asset.setdefault(asset.group(1) if asset else "", []).append(item)
        kind = "influx_expired"
        for asset_no, items in sorted(by_asset.items()):
            key = (kind, asset_no)
            count, _ = self._batch.dead.get(key, (0, ""))
            self._batch.dead[key] = (count + len(items), items[0].reason[:200])
            self._publish_dead_letter(
                {
                    "gateway": self.gateway_id,
                    "kind": kind,
                    "reason": items[0].reason,
                    "topic": f"influxdb/{asset_no}",
                    "received_ms": int(time.time() * 1000),
                    "lines": len(items),
                    "payload": items[0].line.decode("utf-8", errors="replace"),
                }
            )
        if kind not in self._logged_kinds:
            self._logged_kinds.add(kind)
            log.warning(
                "%d line(s) of %d device(s) older than the retention policy, dropped by "
                "InfluxDB (recorded in ingest_events; more are counted, not logged): %s",
                len(expired),
                len(by_asset),
                expired[0].line[:200],
            )
        self._arm_timer()

    def _rejected(self, rejected: Rejected) -> None:
        self.stats.rejected_lines += 1
        line = rejected.line.decode("utf-8", errors="replace").rstrip("\n")
        if line.startswith("ingest_events"):
            log.error("ingest event refused by InfluxDB: %s: %s", rejected.reason, line[:200])
            return
        error = PayloadError("influx_rejected", rejected.reason)
        series = line.split(" ", 1)[0]
        asset = re.search(r"asset_no=([A-Z0-9-]+)", series)
        topic = f"influxdb/{asset.group(1) if asset else series[:64]}"
        self._dead_letter(error, topic, rejected.line)

    async def _replayer(self, client: InfluxClient) -> None:
        """Drain the spool in order, rate-limited; probe InfluxDB while it is down."""
        assert self.spool is not None
        spool = self.spool
        backoff = self._backoff()
        run = _ReplayRun()
        while True:
            try:
                records = await asyncio.to_thread(spool.peek, 1)
            except SpoolError as exc:
                self._spool_failed(exc, "reading the spool")
                await asyncio.sleep(backoff.failed())
                continue
            if not records:
                if run.records:
                    await self._replay_finished(client, run)
                    run = _ReplayRun()
                self._replay_wake.clear()
                if self.stats.influx_up:
                    await self._replay_wake.wait()
                    continue
                # down with an empty spool (e.g. failed between batches): probe until back
                records = []
            if not records:
                try:
                    await asyncio.to_thread(client.ping)
                    if self.stats.influx_up is False:
                        self._came_back()
                    backoff.succeeded()
                except (InfluxUnavailable, InfluxAuthError):
                    await asyncio.sleep(backoff.failed())
                continue
            record = records[0]
            first_ms, last_ms, points = parse_spool_key(record.key)
            try:
                outcome = await asyncio.to_thread(_write, client, _lines(record.body))
            except (InfluxUnavailable, InfluxAuthError) as exc:
                if self.stats.influx_up:
                    self._went_down(exc)
                await asyncio.sleep(backoff.failed())
                continue
            if not self.stats.influx_up:
                self._came_back()
            try:
                await asyncio.to_thread(spool.ack, [record.id])
            except SpoolError as exc:
                # deleting needs disk space too: the record stays and is written again
                # (idempotent) once the spool works; counted only then
                self._spool_failed(exc, "acknowledging a replayed batch")
                await asyncio.sleep(backoff.failed())
                continue
            self._spool_back()
            backoff.succeeded()
            self._account(outcome)
            self.stats.points_written += points
            self.stats.points_replayed += points
            run.add(first_ms, last_ms, points)
            # rate limit: the live stream keeps its share of InfluxDB
            await asyncio.sleep(points / self.replay_points_per_s)

    def _came_back(self) -> None:
        self.stats.influx_up = True
        log.info("influxdb back up; replaying the spool in order")

    async def _replay_finished(self, client: InfluxClient, run: _ReplayRun) -> None:
        fields: dict[str, float | int | bool | str] = {
            "points": run.points,
            "records": run.records,
        }
        if run.first_ms is not None and run.last_ms is not None:
            fields.update(from_ms=run.first_ms, to_ms=run.last_ms)
            # the CQs ran while this data was away: recompute its aggregates first, so that
            # the "replayed" event is written once the history is whole again
            try:
                await self.setup_done.wait()
                fields["aggregate_rows"] = await asyncio.to_thread(
                    backfill, client, self.retention, run.first_ms, run.last_ms
                )
            except StorageError as exc:
                log.warning("after replay: backfill failed (raw data is written): %s", exc)
        log.info(
            "spool replayed gateway=%s points=%d batches=%d range_ms=%s..%s",
            self.gateway_id,
            run.points,
            run.records,
            run.first_ms,
            run.last_ms,
        )
        line = event_line(
            {"gateway": self.gateway_id, "event": "replayed"}, fields, int(time.time() * 1000)
        )
        try:
            await asyncio.to_thread(client.write, line)
        except StorageError as exc:
            log.warning("after replay: the replayed event could not be written: %s", exc)

    async def _housekeeping(self, client: InfluxClient) -> None:
        """Turn spool drops (byte/age bounds) into ``ingest_events`` data, every few s."""
        assert self.spool is not None
        while True:
            await asyncio.sleep(5)
            dropped = (await asyncio.to_thread(self.spool.stats)).dropped
            if dropped > self._spool_dropped_reported and self.stats.influx_up:
                count = dropped - self._spool_dropped_reported
                line = event_line(
                    {"gateway": self.gateway_id, "event": "spool_dropped"},
                    {"batches": count},
                    int(time.time() * 1000),
                )
                try:
                    await asyncio.to_thread(client.write, line)
                except StorageError:
                    continue
                log.warning("spool dropped %d batch(es) beyond its bounds (recorded)", count)
                self._spool_dropped_reported = dropped

    # The heartbeat on status_topic(gateway_id) (facility.heartbeat): points written must
    # move while the spool holds points, or the watchdog calls the gateway stalled.
    heartbeat_s: float = 5.0
    _written_seen: int = 0
    _last_write_ts: datetime | None = None

    def heartbeat(self) -> Heartbeat:
        """Alive, and how far the work has got (read by the alarm engine's watchdog)."""
        now = datetime.now(UTC)
        if self.stats.points_written != self._written_seen:
            self._written_seen = self.stats.points_written
            self._last_write_ts = now
        spool = self._spool_stats()
        return make_heartbeat(
            ServiceKind.GATEWAY,
            self.gateway_id,
            ts=now,
            interval_s=self.heartbeat_s,
            counters={
                "messages_in": self.stats.messages_in,
                "points_written": self.stats.points_written,
                "spool_depth": spool.depth if spool is not None else 0,
            },
            times={"last_write_ts": self._last_write_ts},
        )

    def _spool_stats(self) -> SpoolStats | None:
        return self.spool.stats() if self.spool is not None else None

    def snapshot(self) -> dict[str, object]:
        """Counters for logs and tests."""
        stats = self.stats
        spool = self.spool.stats() if self.spool is not None else None
        return {
            "messages_in": stats.messages_in,
            "points_in": stats.points_in,
            "points_written": stats.points_written,
            "points_spooled": stats.points_spooled,
            "points_replayed": stats.points_replayed,
            "dead_letters": dict(stats.dead_letters),
            "rejected_lines": stats.rejected_lines,
            "influx_up": stats.influx_up,
            "spool_depth": spool.depth if spool else None,
            "spool_dropped": spool.dropped if spool else None,
        }


def _lines(body: bytes) -> list[bytes]:
    """A spooled body back into its lines (the encoder keeps every line newline-free)."""
    return [line + b"\n" for line in body.split(b"\n") if line]


def _write(client: InfluxClient, lines: list[bytes]) -> WriteOutcome:
    """One request in the normal case; split only when InfluxDB refuses part of it."""
    try:
        client.write(b"".join(lines))
    except InfluxRejected:
        return client.write_split(lines)
    return WriteOutcome(written=len(lines), requests=1)
