"""End-to-end gap filling: the historian finds holes in each device's stored ``seq`` and asks
the collectors to send those polls again (facility.resend).

Why not trust the broker: mosquitto 2.0 keeps an offline session's queue across a restart but
not its ``$share/...`` subscription, so whatever collectors flush between the broker's restart
and the gateway's re-subscription reaches no gateway (11,952 readings published, 3,615 stored
in one 60 s outage). A gateway gone longer than its session expiry loses its queue too. The
stored history itself is the only place that knows what arrived, and it is right with any
number of gateways behind a shared subscription (each sees only part of a device's messages).

    audit (every ``interval_s``): per device COUNT, COUNT(DISTINCT), MIN, MAX of seq over
        [now-lookback, now-settle] → devices whose seqs are not simply complete (pure:
        ``complete``) → SELECT seq of those devices only → holes per device (pure: ``holes``)
        → requests not asked recently (pure: ``plan``)
        → facility/v1/ctl/resend/<site>
    collector: re-publishes what it still has; reports what it has not, with the cause
        → facility/v1/events/resend/<site> → ``ingest_events`` (event=resend_missing)

A hole asked for ``max_attempts`` times that never fills and was never explained is recorded
too (cause: no answer), so every loss ends up as data, per device, with its cause. Several
gateways auditing the same history ask the same questions: harmless (resent polls overwrite
themselves) but wasteful — run the audit on one of them (``gap_audit``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from facility.deadline import within
from facility.errors import CommError, ProtocolError, StorageError
from facility.resend import (
    MAX_RANGE,
    ResendReport,
    ResendRequest,
    decode_report,
    encode_request,
)
from facility.topics import resend_request_topic
from gateway.influx import InfluxClient, quote_ident, quote_string
from gateway.lineproto import HEALTH_MEASUREMENT, SEQ_FIELD, event_line

log = logging.getLogger(__name__)

Hole = tuple[str, int, int]  # asset_no, first missing seq, last missing seq (inclusive)
CAUSE_NO_ANSWER = "asked {attempts} times, never resent and never explained"
DEVICES_PER_QUERY = 50  # devices named in one detail query (an OR of asset_no tags)


def complete(count: int, distinct: int, lowest: int, highest: int) -> bool:
    """A device's stored seqs over the window, summarised, cannot hold a hole: every value
    from the lowest to the highest is there, each once. Anything else (a hole, a poll stored
    twice, a collector that started again from 1) is looked at seq by seq (``holes``).

    The summary is what makes the audit cheap: four numbers per device instead of every seq of
    the lookback (at four times the estates' rate, 400,000 rows per audit, parsed every 10-30
    s, were most of the gateway's CPU and memory in the soak)."""
    return count == distinct == highest - lowest + 1


def holes(asset_no: str, seqs: Iterable[int]) -> list[Hole]:
    """Missing sequence numbers between stored ones of one device, in time order.

    A drop (a lower seq after a higher one) is a collector that started again from 1 (an old
    collector, or its sent log lost): not a hole.
    """
    found: list[Hole] = []
    previous: int | None = None
    for seq in seqs:
        if previous is not None and seq > previous + 1:
            found.append((asset_no, previous + 1, seq - 1))
        if previous is None or seq > previous or seq < previous - 1:
            previous = seq
    return found


@dataclass
class Asked:
    attempts: int
    last_asked: float


@dataclass
class AuditPlan:
    requests: list[ResendRequest] = field(default_factory=list)
    given_up: list[Hole] = field(default_factory=list)  # asked too often: record and forget
    filled: int = 0  # holes asked for earlier that are no longer holes


def plan(
    found: Sequence[Hole],
    asked: dict[Hole, Asked],
    now: float,
    *,
    retry_after_s: float,
    max_attempts: int,
    max_requests: int,
) -> AuditPlan:
    """Which holes to ask for now (pure; updates ``asked``)."""
    result = AuditPlan()
    current = set(found)
    for hole in list(asked):
        if hole not in current:
            del asked[hole]
            result.filled += 1
    for hole in found:
        entry = asked.get(hole)
        if entry is not None and now - entry.last_asked < retry_after_s:
            continue
        if entry is not None and entry.attempts >= max_attempts:
            result.given_up.append(hole)
            del asked[hole]
            continue
        if len(result.requests) >= max_requests:
            break
        asset_no, first, last = hole
        for lo in range(first, last + 1, MAX_RANGE):
            result.requests.append(ResendRequest(asset_no, lo, min(last, lo + MAX_RANGE - 1)))
        asked[hole] = Asked((entry.attempts if entry else 0) + 1, now)
    return result


@dataclass
class GapStats:
    audits: int = 0
    audit_errors: int = 0
    devices_looked_at: int = 0  # devices whose seqs the last audit read one by one
    holes: int = 0  # holes seen at the last audit
    requested: int = 0
    filled: int = 0
    reported_missing: int = 0  # polls the collectors said they no longer have
    given_up: int = 0
    last_audit_ts: float = 0.0


class GapFiller:
    """The audit loop of one gateway (run it as a task)."""

    def __init__(
        self,
        client: InfluxClient,
        publish: Callable[[str, bytes], asyncio.Future[None]],
        *,
        gateway_id: str,
        retention_policy: str | None,
        interval_s: float = 30.0,
        lookback_s: float = 900.0,
        settle_s: float = 20.0,
        retry_after_s: float = 60.0,
        max_attempts: int = 3,
        max_requests: int = 500,
    ) -> None:
        self.client = client
        self.publish = publish
        self.gateway_id = gateway_id
        self.retention_policy = retention_policy
        self.interval_s = interval_s
        self.lookback_s = lookback_s
        self.settle_s = settle_s
        self.retry_after_s = retry_after_s
        self.max_attempts = max_attempts
        self.max_requests = max_requests
        self.stats = GapStats()
        self._asked: dict[Hole, Asked] = {}
        self._events: list[bytes] = []  # ingest_events lines waiting to be written
        self._failing = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.audit_once()

    async def audit_once(self) -> AuditPlan | None:
        """One audit: query, plan, ask, record. Never raises for I/O trouble."""
        try:
            stored = await asyncio.to_thread(self._stored_seqs)
        except StorageError as exc:
            self.stats.audit_errors += 1
            if not self._failing:
                log.warning("gap audit: cannot read the history, will retry: %s", exc)
                self._failing = True
            return None
        if self._failing:
            log.info("gap audit: history readable again")
            self._failing = False
        found = [h for asset_no, seqs in stored.items() for h in holes(asset_no, seqs)]
        result = plan(
            found,
            self._asked,
            time.monotonic(),
            retry_after_s=self.retry_after_s,
            max_attempts=self.max_attempts,
            max_requests=self.max_requests,
        )
        stats = self.stats
        stats.audits += 1
        stats.holes = len(found)
        stats.filled += result.filled
        stats.last_audit_ts = time.time()
        for request in result.requests:
            site = request.asset_no.split("-", 1)[0]
            try:
                await within(self.publish(resend_request_topic(site), encode_request(request)), 10)
            except (CommError, TimeoutError):
                break  # the broker is away; the next audit asks again
            stats.requested += 1
        if result.requests:
            log.info(
                "gap audit: %d hole(s), asked for %d range(s)", len(found), len(result.requests)
            )
        for asset_no, first, last in result.given_up:
            stats.given_up += 1
            cause = CAUSE_NO_ANSWER.format(attempts=self.max_attempts)
            self._record(asset_no, first, last, cause)
            log.warning(
                "gap audit: asset_no=%s seq %d..%d not recoverable: %s",
                asset_no,
                first,
                last,
                cause,
            )
        await self._flush_events()
        return result

    def on_report(self, payload: bytes) -> None:
        """A collector's answer (event loop): what it could not resend, and why."""
        try:
            report: ResendReport = decode_report(payload)
        except ProtocolError as exc:
            log.warning("gap audit: resend report refused: %s", exc)
            return
        for first, last, cause in report.missing:
            self.stats.reported_missing += last - first + 1
            self._record(report.asset_no, first, last, cause)
            # explained: do not ask again for what the collector says it does not have
            for hole in [h for h in self._asked if h[0] == report.asset_no]:
                if hole[1] <= last and first <= hole[2]:
                    del self._asked[hole]
        if report.missing:
            log.warning(
                "gap audit: asset_no=%s %d poll(s) lost: %s",
                report.asset_no,
                sum(b - a + 1 for a, b, _ in report.missing),
                "; ".join(sorted({c for _, _, c in report.missing})),
            )

    def _record(self, asset_no: str, first: int, last: int, cause: str) -> None:
        tags = {"gateway": self.gateway_id, "event": "resend_missing", "asset_no": asset_no}
        fields: dict[str, float | int | bool | str] = {
            "seq_from": first,
            "seq_to": last,
            "lost": last - first + 1,
            "reason": cause,
        }
        self._events.append(event_line(tags, fields, int(time.time() * 1000)))

    async def _flush_events(self) -> None:
        if not self._events:
            return
        lines, self._events = self._events, []
        try:
            await asyncio.to_thread(self.client.write, b"".join(lines))
        except StorageError:
            self._events = lines + self._events  # the next audit writes them

    def _stored_seqs(self) -> Mapping[str, list[int]]:
        """The stored seqs of the devices that may have holes (the others are complete)."""
        source = quote_ident(HEALTH_MEASUREMENT)
        if self.retention_policy:
            source = f"{quote_ident(self.retention_policy)}.{source}"
        now_ms = int(time.time() * 1000)
        lo, hi = now_ms - int(self.lookback_s * 1000), now_ms - int(self.settle_s * 1000)
        window = f"time >= {lo}ms AND time < {hi}ms"
        seq = quote_ident(SEQ_FIELD)
        summary = (
            f"SELECT COUNT({seq}), COUNT(DISTINCT({seq})), MIN({seq}), MAX({seq}) "
            f"FROM {source} WHERE {window} GROUP BY asset_no"
        )
        suspects: list[str] = []
        for series in self.client.query_one(summary):
            asset_no = series.tags.get("asset_no", "")
            if not asset_no or not series.values:
                continue
            _time, count, distinct, lowest, highest = series.values[0]
            if None in (count, distinct, lowest, highest) or not complete(
                int(count), int(distinct), int(lowest), int(highest)
            ):
                suspects.append(asset_no)
        self.stats.devices_looked_at = len(suspects)
        stored: dict[str, list[int]] = {}
        for start in range(0, len(suspects), DEVICES_PER_QUERY):
            chosen = " OR ".join(
                f"asset_no = {quote_string(a)}" for a in suspects[start : start + DEVICES_PER_QUERY]
            )
            q = f"SELECT {seq} FROM {source} WHERE {window} AND ({chosen}) GROUP BY asset_no"
            for series in self.client.query_one(q):
                asset_no = series.tags.get("asset_no", "")
                if asset_no:
                    stored[asset_no] = [int(row[1]) for row in series.values if row[1] is not None]
        return stored
