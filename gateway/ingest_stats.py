"""The gateway's counters and latency histograms (filled by gateway.ingest, read at scrape
time by gateway.metrics and in heartbeats)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Histogram:
    """A latency histogram filled by the pipeline, exported by gateway.metrics."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.total += seconds
        self.count += 1


@dataclass
class GatewayStats:
    """Counters of one gateway (read at scrape time by gateway.metrics)."""

    messages_in: int = 0
    points_in: int = 0
    points_written: int = 0  # readings in InfluxDB, live or replayed
    points_spooled: int = 0
    points_replayed: int = 0
    batches_written: int = 0
    batches_spooled: int = 0
    ignored: int = 0  # topics under facility/v1/+/+ that are not device readings
    dead_letters: Counter[str] = field(default_factory=Counter)
    dead_letters_unpublished: int = 0
    rejected_lines: int = 0
    expired_lines: int = 0
    write_failures: Counter[str] = field(default_factory=Counter)
    hook_errors: int = 0
    influx_up: bool = True
    # the spool refused a put/ack/read (disk full, file locked...), by SpoolError.kind; while
    # it does, batches that need it stay unacknowledged (the broker keeps their messages)
    spool_failures: Counter[str] = field(default_factory=Counter)
    spool_ok: bool = True
    write_seconds: Histogram = field(default_factory=Histogram)
    delay_seconds: Histogram = field(default_factory=Histogram)
