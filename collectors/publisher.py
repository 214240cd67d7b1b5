"""Publish device messages to MQTT through a durable spool: nothing lost while the broker is down.

    poll ──submit()──▶ memory queue ──writer──▶ spool (SQLite) ──sender──▶ broker (PUBACK)
                        (event loop,              (worker thread,            │
                         never blocks)             one hop per batch)        ▼
                                                                   sent log (kept for resends)

``submit`` only appends to a memory queue: a poll never waits for the disk, and a spool that
cannot be written (disk full, locked) never stops polling. The writer moves the queue into
the spool in batches from a worker thread; while the spool refuses writes the queue holds up
to ``max_memory`` messages, beyond that the oldest are dropped — counted per device and
recorded with their cause, so the historian's gap report says why they are missing.

One sender task publishes from the spool in order and deletes a record only when the broker
has acknowledged it; the acknowledged message then goes into the sent log (collectors.sentlog)
for a bounded window, from which the historian's resend requests are answered
(facility.resend): the broker's acknowledgement is not the end of the road. A crash between
publish and acknowledge re-sends — consumers are idempotent (the historian overwrites by
timestamp).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from collectors.sentlog import Loss, SentLog, SentRecord
from facility.backoff import Backoff
from facility.errors import CommError, ProtocolError, StorageError
from facility.mqtt import MqttLink
from facility.payload import DeviceMessage, device_topic, encode
from facility.resend import (
    ResendReport,
    decode_request,
    encode_report,
    report_topic,
)
from facility.spool import Record, Spool, SpoolStats

log = logging.getLogger(__name__)

MAX_RESEND_QUEUE = 20_000  # requests; the historian asks again for what falls off
ACK_WAIT_S = 60.0  # a batch's acknowledgements; the link's own deadline fires first
_KEY_SEP = "|"
CAUSE_QUEUE_FULL = "collector spool unwritable and memory queue full"
CAUSE_NOT_KEPT = "not in the collector's sent log (older than its window, or dropped by bounds)"


@dataclass(frozen=True, slots=True)
class _Outgoing:
    asset_no: str
    seq: int
    topic: str
    body: bytes


def spool_key(topic: str, seq: int) -> str:
    return f"{topic}{_KEY_SEP}{seq}"


def parse_spool_key(key: str) -> tuple[str, int | None]:
    """``(topic, seq)``; seq is None for records spooled before keys carried it."""
    topic, sep, seq = key.rpartition(_KEY_SEP)
    if not sep or not seq.isdigit():
        return key, None
    return topic, int(seq)


class SpooledPublisher:
    """Spool-first publisher of device messages (retained, QoS 1), with resends."""

    def __init__(
        self,
        link: MqttLink,
        spool: Spool,
        *,
        batch: int = 500,
        sent_log: SentLog | None = None,
        max_memory: int = 100_000,
    ) -> None:
        self.link = link
        self.spool = spool
        self.sent_log = sent_log
        self.batch = batch
        self.max_memory = max_memory
        self.sent = 0
        self.resent = 0
        self.lost: Counter[str] = Counter()  # per device: dropped before reaching the spool
        self.spool_error: str | None = None  # set while the spool refuses writes
        self._incoming: deque[_Outgoing] = deque()
        self._losses: list[Loss] = []  # waiting to be written to the sent log
        self._wake_writer = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._last_seq: dict[str, int] = sent_log.last_seqs() if sent_log is not None else {}
        # resend requests wait here and are served one at a time, in order: a burst of
        # requests after an outage (one per device) is worked through, never dropped
        self._resend_queue: deque[tuple[str, int, int]] = deque(maxlen=MAX_RESEND_QUEUE)
        self._wake_resender = asyncio.Event()
        self._logged: set[str] = set()

    # -- input (event loop) -------------------------------------------------------------------

    def next_seq(self, asset_no: str) -> int:
        """The next sequence number of a device: continues across restarts and reloads."""
        seq = self._last_seq.get(asset_no, 0) + 1
        self._last_seq[asset_no] = seq
        return seq

    def submit(self, message: DeviceMessage) -> None:
        """Queue a message (returns at once; never blocks on the disk, never raises)."""
        topic = device_topic(message.site, message.asset_no)
        if message.seq > self._last_seq.get(message.asset_no, 0):
            self._last_seq[message.asset_no] = message.seq
        self._incoming.append(_Outgoing(message.asset_no, message.seq, topic, encode(message)))
        if len(self._incoming) > self.max_memory:
            dropped = self._incoming.popleft()
            self.lost[dropped.asset_no] += 1
            self._note_loss(dropped.asset_no, dropped.seq, CAUSE_QUEUE_FULL)
        self._wake_writer.set()

    def _note_loss(self, asset_no: str, seq: int, cause: str) -> None:
        last = self._losses[-1] if self._losses else None
        if last is not None and last.asset_no == asset_no and last.seq_to + 1 == seq:
            self._losses[-1] = Loss(asset_no, last.seq_from, seq, cause)
        else:
            self._losses.append(Loss(asset_no, seq, seq, cause))

    def stats(self) -> SpoolStats:
        return self.spool.stats()

    @property
    def queued(self) -> int:
        """Messages in memory, not yet in the spool."""
        return len(self._incoming)

    # -- tasks --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Write and send until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._writer())
            group.create_task(self._sender())
            group.create_task(self._resender())

    async def _writer(self) -> None:
        backoff = Backoff(0.5, 10.0)
        while True:
            if not self._incoming and not self._losses:
                self._wake_writer.clear()
                await self._wake_writer.wait()
            items = [self._incoming[i] for i in range(min(len(self._incoming), 5000))]
            losses = list(self._losses)
            try:
                await asyncio.to_thread(self._store, items, losses)
            except StorageError as exc:
                self.spool_error = str(exc)
                self._say_once(
                    "spool", f"collector spool refuses writes, polls wait in memory: {exc}"
                )
                await asyncio.sleep(backoff.failed())
                continue
            for item in items:  # submit() may have dropped some meanwhile (queue full)
                if self._incoming and self._incoming[0] is item:
                    self._incoming.popleft()
            del self._losses[: len(losses)]
            if self.spool_error is not None:
                log.info("collector spool writable again: %d queued polls stored", len(items))
                self._logged.discard("spool")
                self.spool_error = None
            backoff.succeeded()
            self._wake_sender.set()
            await asyncio.sleep(0)  # let polls run between batches of a backlog

    def _store(self, items: list[_Outgoing], losses: list[Loss]) -> None:
        """Worker thread: sequence numbers first, then the spool (see sentlog's docstring)."""
        if self.sent_log is not None:
            last: dict[str, int] = {}
            for item in items:
                last[item.asset_no] = max(last.get(item.asset_no, 0), item.seq)
            try:
                self.sent_log.note_seqs(last)
                for loss in losses:
                    self.sent_log.record_loss(loss)
            except StorageError as exc:
                # best effort: the polls themselves must reach the spool. Without the note a
                # restart may reuse a few sequence numbers (stored over, not lost)
                self._say_once("sentlog-seq", f"collector sent log: {exc}")
        if items:
            self.spool.put_many((spool_key(i.topic, i.seq), i.body) for i in items)

    async def _sender(self) -> None:
        while True:
            await self.link.connected.wait()
            records = await asyncio.to_thread(self.spool.peek, self.batch)
            if not records:
                self._wake_sender.clear()
                await self._wake_sender.wait()
                continue
            futures = [
                self.link.publish(parse_spool_key(r.key)[0], r.body, qos=1, retain=True)
                for r in records
            ]
            try:
                results = await asyncio.wait_for(
                    asyncio.gather(*futures, return_exceptions=True), ACK_WAIT_S
                )
            except TimeoutError:
                results = [CommError("no acknowledgement")] * len(records)
            acked: list[Record] = []
            for record, result in zip(records, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, CommError):
                        raise result
                    break  # keep order: everything from here is re-sent after reconnect
                acked.append(record)
            try:
                await asyncio.to_thread(self._acked, acked)
            except StorageError as exc:
                # the records stay in the spool and are sent again: duplicates, not losses
                self._say_once("ack", f"collector spool: cannot remove sent records: {exc}")
                await asyncio.sleep(1.0)
            else:
                self._logged.discard("ack")
            self.sent += len(acked)
            if len(acked) < len(records):
                # the link dropped mid-batch; wait for it to notice before retrying
                await asyncio.sleep(0.2)

    def _acked(self, records: list[Record]) -> None:
        if self.sent_log is not None:
            kept = []
            for record in records:
                topic, seq = parse_spool_key(record.key)
                if seq is not None:
                    asset_no = topic.rsplit("/", 1)[-1]
                    kept.append(SentRecord(asset_no, seq, topic, record.body))
            try:
                self.sent_log.add(kept)
            except StorageError as exc:  # resends of these will be answered "missing"
                self._say_once("sentlog", f"collector sent log: {exc}")
        self.spool.ack(r.id for r in records)

    # -- resends ------------------------------------------------------------------------------

    def on_resend_request(self, payload: bytes) -> None:
        """A resend request from the historian (call on the event loop)."""
        try:
            request = decode_request(payload)
        except ProtocolError as exc:
            self._say_once("bad-resend", f"resend request refused: {exc}")
            return
        if self.sent_log is None or request.asset_no not in self._last_seq:
            return  # not one of ours (several collectors may serve one site)
        entry = (request.asset_no, request.seq_from, request.seq_to)
        if entry not in self._resend_queue:  # asked again before we got to it
            self._resend_queue.append(entry)
        self._wake_resender.set()

    async def _resender(self) -> None:
        while True:
            if not self._resend_queue:
                self._wake_resender.clear()
                await self._wake_resender.wait()
                continue
            await self.link.connected.wait()
            asset_no, seq_from, seq_to = self._resend_queue.popleft()
            await self._resend(asset_no, seq_from, seq_to)

    async def _resend(self, asset_no: str, seq_from: int, seq_to: int) -> None:
        assert self.sent_log is not None
        try:
            records = await asyncio.to_thread(self.sent_log.get, asset_no, seq_from, seq_to)
            losses = await asyncio.to_thread(self.sent_log.losses, asset_no, seq_from, seq_to)
        except StorageError as exc:
            self._say_once("sentlog", f"collector sent log: {exc}")
            return
        futures = [self.link.publish(r.topic, r.body, qos=1, retain=False) for r in records]
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), ACK_WAIT_S
            )
        except TimeoutError:
            return  # the link is being torn down; the historian asks again
        resent = sum(1 for r in results if not isinstance(r, BaseException))
        self.resent += resent
        missing: list[tuple[int, int, str]] = []
        backlog = self.queued > 0 or (await asyncio.to_thread(self.spool.stats)).depth > 0
        if not backlog:  # with a backlog, what is not in the log may still be on its way
            have = {r.seq for r in records}
            last = self._last_seq.get(asset_no, 0)
            missing = _missing_ranges(have, seq_from, min(seq_to, last), losses)
        if not missing and resent == len(records) and not records:
            return
        site = asset_no.split("-", 1)[0]
        report = ResendReport(asset_no, seq_from, seq_to, resent, tuple(missing))
        with contextlib.suppress(CommError, TimeoutError):
            await asyncio.wait_for(self.link.publish(report_topic(site), encode_report(report)), 30)

    def _say_once(self, key: str, text: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning("%s", text)


def _missing_ranges(
    have: set[int], seq_from: int, seq_to: int, losses: Iterable[Loss]
) -> list[tuple[int, int, str]]:
    """Inclusive ranges of ``[seq_from, seq_to]`` not in ``have``, each with its cause."""

    def cause_of(seq: int) -> str:
        for loss in losses:
            if loss.seq_from <= seq <= loss.seq_to:
                return loss.cause
        return CAUSE_NOT_KEPT

    ranges: list[tuple[int, int, str]] = []
    for seq in range(seq_from, seq_to + 1):
        if seq in have:
            continue
        cause = cause_of(seq)
        if ranges and ranges[-1][1] == seq - 1 and ranges[-1][2] == cause:
            ranges[-1] = (ranges[-1][0], seq, cause)
        else:
            ranges.append((seq, seq, cause))
    return ranges
