"""Prometheus metrics of a collector process, computed at scrape time from the pollers'
own counters (nothing added to the poll path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from collectors.poller import DevicePoller
from facility.spool import SpoolStats


class CollectorMetrics(Collector):
    def __init__(
        self, pollers: Callable[[], Sequence[DevicePoller]], spool: Callable[[], SpoolStats]
    ) -> None:
        self._pollers = pollers
        self._spool = spool

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ["site", "asset_no"]
        polls = CounterMetricFamily("facility_collector_polls", "Polls per device", labels=labels)
        errors = CounterMetricFamily(
            "facility_collector_errors", "Failed polls by code", labels=[*labels, "code"]
        )
        overruns = CounterMetricFamily(
            "facility_collector_overruns", "Skipped poll deadlines", labels=labels
        )
        comm_ok = GaugeMetricFamily("facility_collector_comm_ok", "Device reachable", labels=labels)
        rtt = GaugeMetricFamily("facility_collector_rtt_seconds", "Last poll time", labels=labels)
        for poller in self._pollers():
            key = [poller.device.asset.site, poller.device.asset.asset_no]
            health = poller.health
            polls.add_metric(key, health.polls)
            overruns.add_metric(key, health.overruns)
            comm_ok.add_metric(key, 1.0 if health.comm_ok else 0.0)
            rtt.add_metric(key, health.last_rtt_ms / 1000)
            for code, count in health.errors_by_code.items():
                errors.add_metric([*key, code], count)
        stats = self._spool()
        yield from (polls, errors, overruns, comm_ok, rtt)
        yield GaugeMetricFamily("facility_collector_spool_depth", "Messages waiting", stats.depth)
        yield GaugeMetricFamily("facility_collector_spool_bytes", "Bytes waiting", stats.bytes)
        yield GaugeMetricFamily(
            "facility_collector_spool_oldest_seconds", "Age of the oldest", stats.oldest_age_s
        )
        yield CounterMetricFamily(
            "facility_collector_spool_dropped", "Messages dropped beyond the bound", stats.dropped
        )


def registry_for(metrics: CollectorMetrics) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    return registry
