"""Publish device messages to MQTT: from memory while the broker answers, through a durable
spool when it does not. Nothing a poll produced is lost across broker outages and restarts.

    poll ──submit()──▶ window (memory, event loop) ──publish──▶ broker ──PUBACK──▶ sent log
                          │  unacknowledged too long, broker down,        (batched, one worker
                          │  window full, or shutdown                      thread hop per tick)
                          ▼
                        spool (SQLite, one batch per spill) ──sender──▶ broker (in order)

Steady state (issue 16): a poll is published at once from the event loop and kept in a bounded
in-memory *window* until the broker acknowledges it; acknowledged polls go to the sent log
(collectors.sentlog, the historian's resend source) in one batch per tick. No thread hop and
no SQLite write per message: the spool is written only with what the broker has *not*
acknowledged, in one batch, when

- the broker is down (the window is spilled every tick while it is),
- a message stays unacknowledged longer than ``spill_after_s``,
- the window holds more than ``max_window`` messages,
- the publisher stops (cancelled: everything unacknowledged is spooled on the way out).

While the spool holds records they go first, in order; new polls wait in the window behind
them (and are spilled in turn if that takes long), so the bus still sees each device's polls
in order. A spool that cannot be written (disk full, locked) never stops polling: the window
holds up to ``max_memory`` messages, beyond that the oldest are dropped — counted per device
and recorded with their cause, so the historian's gap report says why they are missing.

A SIGKILL loses nothing either (docs/decisions/006-collector-spool.md): every poll is also
appended to a journal (collectors.journal: one ``os.write``, no thread hop, no fsync — the
kernel keeps the bytes when the process dies) until it is resolved (acknowledged and in the
sent log, or spooled); the next start spools what the journal holds and continues each
device's ``seq`` after the highest it finds. A power cut may lose the last moments.

A crash between publish and acknowledge re-sends — consumers are idempotent (the historian
overwrites by timestamp).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from collectors.journal import Journal
from collectors.sentlog import Loss, SentLog, SentRecord
from facility.backoff import Backoff
from facility.deadline import within
from facility.errors import CommError, ProtocolError, StorageError
from facility.mqtt import MqttLink
from facility.payload import DeviceMessage, device_topic, encode
from facility.resend import (
    ResendReport,
    decode_request,
    encode_report,
)
from facility.spool import Record, Spool, SpoolStats
from facility.topics import resend_report_topic

log = logging.getLogger(__name__)

MAX_RESEND_QUEUE = 20_000  # requests; the historian asks again for what falls off
ACK_WAIT_S = 60.0  # a batch's acknowledgements; the link's own deadline fires first
_KEY_SEP = "|"
CAUSE_QUEUE_FULL = "collector spool unwritable and memory queue full"
CAUSE_NOT_KEPT = "not in the collector's sent log (older than its window, or dropped by bounds)"


@dataclass(slots=True)
class _Outgoing:
    """A poll in the window: unacknowledged (or acknowledged and not yet harvested)."""

    asset_no: str
    seq: int
    topic: str
    body: bytes
    born: float  # time.monotonic() when submitted
    segment: int | None  # its journal segment (None: not journaled)
    future: asyncio.Future[None] | None = None  # None: not (or no longer) on the wire

    @property
    def acked(self) -> bool:
        f = self.future
        return f is not None and f.done() and not f.cancelled() and f.exception() is None

    @property
    def needs_sending(self) -> bool:
        f = self.future
        return f is None or (f.done() and (f.cancelled() or f.exception() is not None))


def spool_key(topic: str, seq: int) -> str:
    return f"{topic}{_KEY_SEP}{seq}"


def parse_spool_key(key: str) -> tuple[str, int | None]:
    """``(topic, seq)``; seq is None for records spooled before keys carried it."""
    topic, sep, seq = key.rpartition(_KEY_SEP)
    if not sep or not seq.isdigit():
        return key, None
    return topic, int(seq)


class SpooledPublisher:
    """Publisher of device messages (retained, QoS 1): memory first, spool when needed."""

    def __init__(
        self,
        link: MqttLink,
        spool: Spool,
        *,
        batch: int = 500,
        sent_log: SentLog | None = None,
        max_memory: int = 100_000,
        max_window: int = 5_000,
        spill_after_s: float = 2.0,
        tick_s: float = 0.25,
        log_every_s: float = 1.0,
        journal: bool = True,
    ) -> None:
        """``journal``: keep a crash journal beside the spool (``<spool>.journal.<n>``) and
        recover it now — a start after a SIGKILL spools what the previous run left there."""
        self.link = link
        self.spool = spool
        self.sent_log = sent_log
        self.batch = batch
        self.max_memory = max_memory
        self.max_window = max_window
        self.spill_after_s = spill_after_s
        self.tick_s = tick_s
        self.log_every_s = log_every_s
        self.sent = 0
        self.resent = 0
        self.spilled = 0  # messages written to the spool (0 in a healthy steady state)
        self.lost: Counter[str] = Counter()  # per device: dropped before reaching the spool
        self.spool_error: str | None = None  # set while the spool refuses writes
        self._window: deque[_Outgoing] = deque()
        # acknowledged, for the sent log's next batch (with their journal segments)
        self._to_log: list[tuple[SentRecord, int | None]] = []
        self._losses: list[Loss] = []  # waiting to be written to the sent log
        self._wake = asyncio.Event()
        self._log_lock = asyncio.Lock()
        self._last_flush = time.monotonic()
        # the spool may hold records from an earlier run: they go first (checked by the sender)
        self._disk_backlog = True
        self._unpublished = False  # some window entry waits to be (re)published
        self._generation = -1  # link.stats.connects when the window was last published
        self._last_seq: dict[str, int] = sent_log.last_seqs() if sent_log is not None else {}
        self._noted: dict[str, int] = dict(self._last_seq)  # last seq written to the sent log
        self.journal: Journal | None = None
        if journal:
            self.journal = Journal(spool.path.with_name(spool.path.name + ".journal"))
            self._recover(self.journal)
        # resend requests wait here and are served one at a time, in order: a burst of
        # requests after an outage (one per device) is worked through, never dropped
        self._resend_queue: deque[tuple[str, int, int]] = deque(maxlen=MAX_RESEND_QUEUE)
        self._wake_resender = asyncio.Event()
        self._logged: set[str] = set()

    def _recover(self, journal: Journal) -> None:
        """A start after a crash: what the journal holds goes to the spool (sent first) and
        each device's seq continues after the highest found. Blocking: start-up only."""
        records = journal.recover()
        if not records:
            journal.discard_recovered()
            return
        last: dict[str, int] = {}
        for key, _body in records:
            topic, seq = parse_spool_key(key)
            if seq is not None:
                asset_no = topic.rsplit("/", 1)[-1]
                last[asset_no] = max(last.get(asset_no, 0), seq)
        try:
            self.spool.put_many(records)
        except StorageError as exc:  # the journal stays; the next start tries again
            log.error("collector journal: %d polls not spooled: %s", len(records), exc)
            return
        if self.sent_log is not None:
            self.sent_log.note_seqs(last)
        for asset_no, seq in last.items():
            self._last_seq[asset_no] = max(self._last_seq.get(asset_no, 0), seq)
            self._noted[asset_no] = self._last_seq[asset_no]
        journal.discard_recovered()
        log.warning(
            "collector journal: %d polls of the previous run (stopped abruptly) spooled",
            len(records),
        )

    # -- input (event loop) -------------------------------------------------------------------

    def next_seq(self, asset_no: str) -> int:
        """The next sequence number of a device: continues across restarts and reloads."""
        seq = self._last_seq.get(asset_no, 0) + 1
        self._last_seq[asset_no] = seq
        return seq

    def submit(self, message: DeviceMessage) -> None:
        """Publish a message, or queue it (returns at once; never blocks on the disk, never
        raises)."""
        asset_no, seq = message.asset_no, message.seq
        if seq > self._last_seq.get(asset_no, 0):
            self._last_seq[asset_no] = seq
        topic = device_topic(message.site, asset_no)
        body = encode(message)
        segment = None
        if self.journal is not None:
            try:
                segment = self.journal.append(spool_key(topic, seq), body)
            except StorageError as exc:  # durable against broker outages still, not SIGKILL
                self._say_once("journal", f"collector journal: {exc}")
            else:
                self._logged.discard("journal")
        entry = _Outgoing(asset_no, seq, topic, body, time.monotonic(), segment)
        self._window.append(entry)
        if len(self._window) > self.max_memory:
            self._drop_oldest()
        if (
            not self._disk_backlog
            and not self._unpublished
            and self.link.connected.is_set()
            and self.link.stats.connects == self._generation
        ):
            self._publish(entry)
        else:
            self._unpublished = True
            self._wake.set()

    def _drop_oldest(self) -> None:
        dropped = self._window.popleft()
        if dropped.acked:  # it did reach the broker: not a loss
            self._harvested(dropped)
            return
        _forget(dropped.future)
        self._resolve(dropped)
        self.lost[dropped.asset_no] += 1
        self._note_loss(dropped.asset_no, dropped.seq, CAUSE_QUEUE_FULL)

    def _publish(self, entry: _Outgoing) -> bool:
        future = self.link.publish(entry.topic, entry.body, qos=1, retain=True)
        entry.future = future
        if future.done() and future.exception() is not None:  # not connected (any more)
            self._unpublished = True
            self._wake.set()
            return False
        return True

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
        """Messages in memory (not acknowledged by the broker, not in the spool)."""
        return len(self._window)

    # -- tasks --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish until cancelled; on the way out, spool what the broker has not
        acknowledged and write the sent log (a clean stop loses nothing)."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._sender())
                group.create_task(self._resender())
        finally:
            self._shutdown()

    async def _sender(self) -> None:
        backoff = Backoff(0.5, 10.0)
        spool_retry_at = 0.0
        while True:
            self._harvest()
            now = time.monotonic()
            if self._spill_due(now):
                if now >= spool_retry_at:
                    if await self._spill():
                        backoff.succeeded()
                    else:
                        spool_retry_at = time.monotonic() + backoff.failed()
            elif self.spool_error is not None:
                # the polls that waited in memory reached the broker: the spool is not
                # needed now, so it no longer degrades anything (the next spill tries again)
                log.info("collector spool not needed any more: polls waiting in memory sent")
                self._logged.discard("spool")
                self.spool_error = None
                backoff.succeeded()
                spool_retry_at = 0.0
            if self.link.connected.is_set():
                if self._disk_backlog:
                    await self._drain_batch()
                    if self._disk_backlog:
                        await asyncio.sleep(0)  # let polls run between batches of a backlog
                        continue
                if self._unpublished or self.link.stats.connects != self._generation:
                    self._publish_window()
            if self._log_due():
                await self._flush_log()
            self._wake.clear()
            # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancellation that
            # arrives as the event is set (submit() sets it all the time), and the task
            # then never stops
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):
                    await self._wake.wait()

    def _harvest(self) -> None:
        """Move acknowledged polls from the head of the window towards the sent log."""
        window = self._window
        while window and window[0].acked:
            self._harvested(window.popleft())

    def _harvested(self, entry: _Outgoing) -> None:
        self.sent += 1
        if self.sent_log is not None:
            record = SentRecord(entry.asset_no, entry.seq, entry.topic, entry.body)
            self._to_log.append((record, entry.segment))
        else:
            self._resolve(entry)

    def _resolve(self, entry: _Outgoing) -> None:
        """The poll is safe elsewhere (or given up): its journal record may go."""
        if self.journal is not None and entry.segment is not None:
            self.journal.resolve(entry.segment)
            entry.segment = None

    def _spill_due(self, now: float) -> bool:
        if not self._window:
            return False
        age = now - self._window[0].born
        if not self.link.connected.is_set():
            return age >= self.tick_s
        return age >= self.spill_after_s or len(self._window) > self.max_window

    def _publish_window(self) -> None:
        """(Re)publish, in order, every window entry not on the wire of this connection."""
        generation = self.link.stats.connects
        if generation != self._generation:
            # the futures of the earlier connection have all been settled by its teardown:
            # what it did not acknowledge goes out again on this one
            for entry in self._window:
                if not entry.acked:
                    _forget(entry.future)
                    entry.future = None
            self._generation = generation
        self._unpublished = False
        for entry in self._window:
            if entry.needs_sending and not self._publish(entry):
                return  # the link went away meanwhile; the next connection sends the rest

    async def _spill(self) -> bool:
        """Write what the broker has not acknowledged to the spool, in one batch."""
        items = [(e, e.acked) for e in self._window]  # acked as of now: spooled or logged
        unacked = [e for e, acked in items if not acked]
        # from now on new polls wait behind the spool (set before the await: order)
        backlog_before, self._disk_backlog = self._disk_backlog, True
        try:
            await asyncio.to_thread(
                self.spool.put_many, [(spool_key(e.topic, e.seq), e.body) for e in unacked]
            )
        except StorageError as exc:
            self._disk_backlog = backlog_before
            self.spool_error = str(exc)
            self._say_once("spool", f"collector spool refuses writes, polls wait in memory: {exc}")
            return False
        for item, acked in items:  # submit() may have dropped some meanwhile (memory full)
            if self._window and self._window[0] is item:
                self._window.popleft()
                if acked:
                    self._harvested(item)
                else:
                    _forget(item.future)  # an ack arriving now is moot: the spool re-sends
                    self._resolve(item)
        self.spilled += len(unacked)
        if self.spool_error is not None:
            log.info("collector spool writable again: %d queued polls stored", len(unacked))
            self._logged.discard("spool")
            self.spool_error = None
        return True

    async def _drain_batch(self) -> None:
        """Send one batch from the spool and wait for its acknowledgements."""
        try:
            records = await asyncio.to_thread(self.spool.peek, self.batch)
        except StorageError as exc:
            self._say_once("peek", f"collector spool: cannot read: {exc}")
            await asyncio.sleep(1.0)
            return
        if not records:
            self._disk_backlog = False
            self._unpublished = True  # the window waited behind the spool
            return
        futures = [
            self.link.publish(parse_spool_key(r.key)[0], r.body, qos=1, retain=True)
            for r in records
        ]
        try:
            results = await within(asyncio.gather(*futures, return_exceptions=True), ACK_WAIT_S)
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
        """Worker thread: acknowledged spool records into the sent log, out of the spool."""
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

    # -- the sent log (one batch per tick) -----------------------------------------------------

    def _log_due(self) -> bool:
        if len(self._to_log) >= 1000:
            return True
        pending = bool(self._to_log or self._losses)
        return pending and time.monotonic() - self._last_flush >= self.log_every_s

    async def _flush_log(self) -> None:
        """Acknowledged polls, losses and sequence numbers into the sent log: one hop."""
        async with self._log_lock:
            self._last_flush = time.monotonic()
            entries, self._to_log = self._to_log, []
            losses, self._losses = self._losses, []
            seqs = {a: s for a, s in self._last_seq.items() if s != self._noted.get(a)}
            if self.sent_log is None or not (entries or losses or seqs):
                self._noted.update(seqs)
                return
            records = [record for record, _segment in entries]
            try:
                await asyncio.to_thread(self._write_log, records, losses, seqs)
            except StorageError as exc:
                # resends of these records will be answered "missing"; the losses and
                # sequence numbers are tried again with the next batch
                self._losses[:0] = losses
                self._say_once("sentlog", f"collector sent log: {exc}")
            else:
                self._logged.discard("sentlog")
                self._noted.update(seqs)
            if self.journal is not None:  # they reached the broker: resolved either way
                for _record, segment in entries:
                    if segment is not None:
                        self.journal.resolve(segment)

    def _write_log(
        self, records: list[SentRecord], losses: list[Loss], seqs: dict[str, int]
    ) -> None:
        """Worker thread (or the loop at shutdown): one sent-log batch."""
        assert self.sent_log is not None
        self.sent_log.note_seqs(seqs)
        for loss in losses:
            self.sent_log.record_loss(loss)
        self.sent_log.add(records)

    def _shutdown(self) -> None:
        """Cancelled: spool the window's unacknowledged polls and write the sent log, on the
        loop (blocking is fine now), so a clean stop loses nothing and leaves no journal."""
        self._harvest()
        unacked = []
        for entry in self._window:
            if entry.acked:
                self._harvested(entry)
            else:
                unacked.append(entry)
            _forget(entry.future)
        self._window.clear()
        stored = True
        try:
            self.spool.put_many((spool_key(e.topic, e.seq), e.body) for e in unacked)
            self.spilled += len(unacked)
        except StorageError as exc:
            stored = False  # the journal keeps them: the next start spools them
            log.error(
                "collector stopping: %d unsent polls left in the journal: %s", len(unacked), exc
            )
        entries, self._to_log = self._to_log, []
        losses, self._losses = self._losses, []
        if self.sent_log is not None:
            seqs = {a: s for a, s in self._last_seq.items() if s != self._noted.get(a)}
            try:
                self._write_log([r for r, _ in entries], losses, seqs)
            except StorageError as exc:
                log.error("collector stopping: sent log not written: %s", exc)
        if self.journal is not None:
            for _record, segment in entries:
                if segment is not None:
                    self.journal.resolve(segment)
            if stored:
                for entry in unacked:
                    self._resolve(entry)
            self.journal.close()

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
        await self._flush_log()  # acknowledged polls not yet in the log are asked about too
        try:
            records = await asyncio.to_thread(self.sent_log.get, asset_no, seq_from, seq_to)
            losses = await asyncio.to_thread(self.sent_log.losses, asset_no, seq_from, seq_to)
        except StorageError as exc:
            self._say_once("sentlog", f"collector sent log: {exc}")
            return
        futures = [self.link.publish(r.topic, r.body, qos=1, retain=False) for r in records]
        try:
            results = await within(asyncio.gather(*futures, return_exceptions=True), ACK_WAIT_S)
        except TimeoutError:
            return  # the link is being torn down; the historian asks again
        resent = sum(1 for r in results if not isinstance(r, BaseException))
        self.resent += resent
        missing: list[tuple[int, int, str]] = []
        backlog = self._disk_backlog or (await asyncio.to_thread(self.spool.stats)).depth > 0
        if not backlog:  # with a backlog, what is not in the log may still be on its way
            # so may what is in the window (not acknowledged yet, or not yet logged)
            have = {r.seq for r in records} | {
                e.seq for e in self._window if e.asset_no == asset_no
            }
            last = self._last_seq.get(asset_no, 0)
            missing = _missing_ranges(have, seq_from, min(seq_to, last), losses)
        if not missing and resent == len(records) and not records:
            return
        site = asset_no.split("-", 1)[0]
        report = ResendReport(asset_no, seq_from, seq_to, resent, tuple(missing))
        with contextlib.suppress(CommError, TimeoutError):
            await within(self.link.publish(resend_report_topic(site), encode_report(report)), 30)

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


def _forget(future: asyncio.Future[None] | None) -> None:
    """A publish future nobody will await any more: mark its outcome as seen (no "exception
    never retrieved" noise when the link fails it later)."""
    if future is None:
        return
    if future.done():
        if not future.cancelled():
            future.exception()
    else:
        future.add_done_callback(_forget)
