"""Prometheus metrics of a gateway, computed at scrape time from its own counters (nothing
is added to the ingest path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from facility.spool import SpoolStats
from gateway.ingest_stats import GatewayStats, Histogram

PREFIX = "facility_gateway"


def _histogram(name: str, doc: str, histogram: Histogram) -> HistogramMetricFamily:
    buckets: list[tuple[str, float]] = []
    cumulative = 0
    for bound, count in zip(histogram.buckets, histogram.counts, strict=False):
        cumulative += count
        buckets.append((f"{bound:g}", cumulative))
    buckets.append(("+Inf", histogram.count))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=histogram.total)


class GatewayMetrics(Collector):
    def __init__(
        self, stats: Callable[[], GatewayStats], spool: Callable[[], SpoolStats | None]
    ) -> None:
        self._stats = stats
        self._spool = spool

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        p = PREFIX
        yield CounterMetricFamily(f"{p}_messages_in", "Device messages received", stats.messages_in)
        yield CounterMetricFamily(f"{p}_points_in", "Readings received", stats.points_in)
        yield CounterMetricFamily(
            f"{p}_points_out",
            "Readings written to InfluxDB (live + replayed)",
            stats.points_written,
        )
        yield CounterMetricFamily(
            f"{p}_points_spooled", "Readings put in the spool", stats.points_spooled
        )
        yield CounterMetricFamily(
            f"{p}_points_replayed", "Readings written from the spool", stats.points_replayed
        )
        yield CounterMetricFamily(f"{p}_batches_written", "Live batches", stats.batches_written)
        yield CounterMetricFamily(f"{p}_batches_spooled", "Spooled batches", stats.batches_spooled)
        yield CounterMetricFamily(f"{p}_ignored", "Messages on non-device topics", stats.ignored)
        dead = CounterMetricFamily(f"{p}_dead_letters", "Dead letters by kind", labels=["kind"])
        for kind, count in sorted(stats.dead_letters.items()):
            dead.add_metric([kind], count)
        yield dead
        yield CounterMetricFamily(
            f"{p}_dead_letters_unpublished",
            "Dead letters that could not be published",
            stats.dead_letters_unpublished,
        )
        yield CounterMetricFamily(
            f"{p}_rejected_lines", "Lines InfluxDB refused (dead-lettered)", stats.rejected_lines
        )
        yield CounterMetricFamily(
            f"{p}_expired_lines", "Lines older than the raw retention", stats.expired_lines
        )
        failures = CounterMetricFamily(
            f"{p}_write_failures", "Failed writes by kind", labels=["kind"]
        )
        for kind, count in sorted(stats.write_failures.items()):
            failures.add_metric([kind], count)
        yield failures
        yield CounterMetricFamily(f"{p}_hook_errors", "Exceptions in hooks", stats.hook_errors)
        yield GaugeMetricFamily(f"{p}_influx_up", "InfluxDB accepting writes", int(stats.influx_up))
        spool_failures = CounterMetricFamily(
            f"{p}_spool_failures",
            "Spool puts/acks/reads refused (full, locked, io...); batches wait unacknowledged",
            labels=["kind"],
        )
        for kind, count in sorted(stats.spool_failures.items()):
            spool_failures.add_metric([kind], count)
        yield spool_failures
        yield GaugeMetricFamily(f"{p}_spool_ok", "Spool accepting writes", int(stats.spool_ok))
        yield _histogram(
            f"{p}_batch_write_seconds", "Time to write one live batch", stats.write_seconds
        )
        yield _histogram(
            f"{p}_batch_latency_seconds",
            "First message of a batch received → batch written",
            stats.delay_seconds,
        )
        spool = self._spool()
        if spool is not None:
            yield GaugeMetricFamily(f"{p}_spool_depth", "Batches waiting", spool.depth)
            yield GaugeMetricFamily(f"{p}_spool_bytes", "Bytes waiting", spool.bytes)
            yield GaugeMetricFamily(
                f"{p}_spool_oldest_seconds", "Age of the oldest batch", spool.oldest_age_s
            )
            yield CounterMetricFamily(
                f"{p}_spool_dropped", "Batches dropped beyond the bounds", spool.dropped
            )
            yield GaugeMetricFamily(
                f"{p}_spool_full",
                "The spool's last write failed for lack of space",
                int(spool.full),
            )


def registry_for(metrics: GatewayMetrics) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    return registry
