"""Alarm events into the historian, for trends next to the process values.

Measurement ``alarm_events``; tags ``site``, ``asset_no``, ``alarm``, ``event``,
``priority``; fields ``state`` and ``from_state`` (strings), ``value`` (a number; booleans as
1/0, so one field type across all alarms — InfluxDB refuses mixed types in a shard) or
``value_text``, ``user``; the time is the event's, in milliseconds. The SQL journal is the
record of truth: this is a copy for charts, so when InfluxDB is down the sink keeps a bounded
backlog (``max_backlog`` lines, oldest dropped and counted) and retries, and lines InfluxDB
rejects are logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from facility.errors import StorageError
from gateway.alarms.journal import AlarmRecord
from gateway.influx import InfluxClient, InfluxRejected
from gateway.lineproto import field_value, string_field, tag_set, to_ms

log = logging.getLogger(__name__)

MEASUREMENT = "alarm_events"
# operator notices and deliveries are not trends
SKIPPED = frozenset({"notified", "notify_failed"})


def event_line(record: AlarmRecord) -> str | None:
    """One line of line protocol for a journal entry (None for entries not trended)."""
    if record.kind.value in SKIPPED:
        return None
    tags = tag_set(
        {
            "site": record.site,
            "asset_no": record.asset_no or "",
            "alarm": record.alarm,
            "event": record.kind.value,
            "priority": record.priority or "",
        }
    )
    fields = [f"state={string_field(record.to_state.value if record.to_state else '')}"]
    if record.from_state is not None:
        fields.append(f"from_state={string_field(record.from_state.value)}")
    value = record.value
    if isinstance(value, bool):
        fields.append(f"value={1.0 if value else 0.0!r}")
    elif isinstance(value, int | float):
        fields.append(f"value={field_value(float(value))}")
    elif isinstance(value, str):
        fields.append(f"value_text={string_field(value)}")
    if record.user:
        fields.append(f"user={string_field(record.user)}")
    return f"{MEASUREMENT}{tags} {','.join(fields)} {to_ms(record.at)}"


@dataclass
class SinkStats:
    written: int = 0
    rejected: int = 0
    dropped: int = 0
    failures: int = 0


class InfluxEventSink:
    """An engine listener (``engine.listeners.append(sink)``) writing to InfluxDB."""

    def __init__(
        self, client: InfluxClient, *, interval_s: float = 1.0, max_backlog: int = 50_000
    ) -> None:
        self.client = client
        self.interval_s = interval_s
        self.max_backlog = max_backlog
        self.stats = SinkStats()
        self._lines: deque[str] = deque()
        self._failing = False

    def __call__(self, records: Sequence[AlarmRecord]) -> None:
        for record in records:
            line = event_line(record)
            if line is None:
                continue
            if len(self._lines) >= self.max_backlog:
                self._lines.popleft()
                self.stats.dropped += 1
            self._lines.append(line)

    async def run(self) -> None:
        """Flush every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

    async def flush(self) -> None:
        if not self._lines:
            return
        batch = list(self._lines)
        self._lines.clear()
        body = ("\n".join(batch) + "\n").encode()
        try:
            await asyncio.to_thread(self.client.write, body)
        except InfluxRejected as exc:
            self.stats.rejected += len(batch)
            log.warning("alarm events rejected by InfluxDB (%d lines dropped): %s", len(batch), exc)
        except StorageError as exc:
            self.stats.failures += 1
            if not self._failing:
                log.warning("alarm events: InfluxDB unavailable, keeping a backlog: %s", exc)
                self._failing = True
            # back in front of what arrived meanwhile, oldest dropped beyond the bound
            self._lines.extendleft(reversed(batch))
            while len(self._lines) > self.max_backlog:
                self._lines.popleft()
                self.stats.dropped += 1
        else:
            self.stats.written += len(batch)
            if self._failing:
                log.info("alarm events: InfluxDB back, backlog written")
                self._failing = False
