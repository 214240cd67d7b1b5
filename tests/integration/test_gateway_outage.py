"""Store-and-forward on real servers: influxd killed for 60 s under a 1 Hz load from all three
estates, and the gateway itself killed with a non-empty spool — afterwards InfluxDB holds
exactly what was published: 0 lost, 0 duplicated."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from devtools.services import InfluxServer, MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage, device_topic, encode
from facility.types import Asset, Quality, Reading
from gateway.influx import InfluxClient
from gateway.ingest import GatewayService, InfluxTarget
from gateway.metrics import GatewayMetrics
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from tests.support import wait_until

ALL_ASSETS = [a for p in demo_ledger_paths() for a in read_ledger_file(p) if a.monitored]


class Load:
    """Every asset publishes one message per second (QoS 1); counts what the broker acked."""

    def __init__(self, link: MqttLink, assets: list[Asset]) -> None:
        self.link = link
        self.assets = assets
        self.acked: Counter[str] = Counter()
        self.seq = 0

    async def run(self) -> None:
        while True:
            self.seq += 1
            now = datetime.now(UTC)
            futures = [
                self.link.publish(
                    device_topic(a.site, a.asset_no), encode(self.message(a, now)), qos=1
                )
                for a in self.assets
            ]
            results = await asyncio.gather(*futures, return_exceptions=True)
            for asset, result in zip(self.assets, results, strict=True):
                if result is None:
                    self.acked[asset.asset_no] += 1
            await asyncio.sleep(max(0.0, 1.0 - (datetime.now(UTC) - now).total_seconds()))

    def message(self, asset: Asset, now: datetime) -> DeviceMessage:
        values = {"value_a": self.seq * 0.5, "value_b": float(len(asset.asset_no)), "flag": True}
        readings = tuple(
            Reading(asset.site, asset.asset_no, name, value, "", Quality.GOOD, None, now)
            for name, value in values.items()
        )
        return DeviceMessage(
            asset.site,
            asset.asset_no,
            asset.device_class.value,
            self.seq,
            now,
            readings,
            {"comm_ok": True},
        )

    @property
    def total(self) -> int:
        return sum(self.acked.values())


def stored_per_asset(client: InfluxClient) -> dict[str, int]:
    series = client.query_one('SELECT count("seq") FROM "device_health" GROUP BY "asset_no"')
    return {s.tags["asset_no"]: int(s.values[0][1]) for s in series}


def stored_points(client: InfluxClient) -> int:
    total = 0
    for measurement in ("pmp", "pdp", "tnk", "lgt", "fap"):
        for series in client.query_one(f'SELECT count(*) FROM "{measurement}"'):
            total += sum(int(v) for v in series.values[0][1:] if v is not None)
    return total


def gateway(broker: MosquittoServer, influxd: InfluxServer, spool: Path) -> GatewayService:
    return GatewayService(
        BrokerSettings.from_url(broker.url),
        InfluxTarget(influxd.url, "facility", timeout_s=2),
        spool,
        gateway_id="gw-outage",
        batch_interval_s=0.5,
        replay_points_per_s=50_000,
        metrics_port=0,
        metrics_source=GatewayMetrics,
    )


async def started(service: GatewayService) -> asyncio.Task[None]:
    task = asyncio.create_task(service.run())
    await wait_until(lambda: service.link is not None and service.link.connected.is_set(), 10)
    await asyncio.wait_for(service.setup_done.wait(), 15)
    return task


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_influxd_killed_for_60_s_under_load_loses_nothing(
    fresh_influxd: InfluxServer, fresh_mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    service = gateway(fresh_mosquitto, fresh_influxd, tmp_path / "gw.spool")
    link = MqttLink(BrokerSettings.from_url(fresh_mosquitto.url), "test-load-60")
    load = Load(link, ALL_ASSETS)
    link_task = asyncio.create_task(link.run())
    await wait_until(link.connected.is_set, 10)
    gw_task = await started(service)
    load_task = asyncio.create_task(load.run())
    client = InfluxClient(fresh_influxd.url, "facility")
    try:
        await wait_until(lambda: service.stats.points_written > 0, 10)
        await asyncio.sleep(3)
        outage_start = int(time.time() * 1000)
        await asyncio.to_thread(fresh_influxd.kill)
        await asyncio.sleep(60)
        assert service.stats.influx_up is False
        assert service.spool is not None
        assert service.spool.stats().depth > 0
        spooled_during = service.stats.points_spooled
        await asyncio.to_thread(fresh_influxd.restart)
        await asyncio.sleep(5)
        await stop(load_task)
        published = dict(load.acked)
        assert load.total >= len(ALL_ASSETS) * 65
        await wait_until(
            lambda: (
                service.spool is not None
                and service.spool.stats().depth == 0
                and service.stats.messages_in >= load.total
                and service.stats.points_written == service.stats.points_in
            ),
            60,
        )
        assert stored_per_asset(client) == published  # 0 lost, 0 duplicated, per device
        assert stored_points(client) == 3 * load.total
        assert service.stats.points_replayed >= spooled_during > 0
        assert service.stats.dead_letters == Counter()
        # the replay is recorded as data, and the outage's minutes were re-aggregated
        query = """SELECT * FROM "ingest_events" WHERE "event" = 'replayed'"""
        await wait_until(lambda: bool(client.query_one(query)), 30)
        replayed = client.query_one(query)[0].records()
        assert replayed[0]["aggregate_rows"] > 0
        assert replayed[0]["from_ms"] <= outage_start + 1000
        minute = outage_start - outage_start % 60_000 + 60_000
        aggregate = (
            f'SELECT count("mean_value_a") FROM "agg_1m"."lgt" '
            f"WHERE time >= {minute}ms AND time < {minute + 60_000}ms"
        )
        # a replay may come in more than one run (each followed by its backfill)
        await wait_until(lambda: bool(client.query_one(aggregate)), 30)
        assert client.query_one(aggregate)[0].values[0][1] > 0
    finally:
        client.close()
        await stop(load_task, gw_task, link_task)


async def test_gateway_killed_with_a_full_spool_resumes_exactly_once(
    fresh_influxd: InfluxServer, fresh_mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    spool = tmp_path / "gw.spool"
    link = MqttLink(BrokerSettings.from_url(fresh_mosquitto.url), "test-load-restart")
    load = Load(link, ALL_ASSETS[:40])
    link_task = asyncio.create_task(link.run())
    await wait_until(link.connected.is_set, 10)
    first = gateway(fresh_mosquitto, fresh_influxd, spool)
    gw_task = await started(first)
    load_task = asyncio.create_task(load.run())
    client = InfluxClient(fresh_influxd.url, "facility")
    try:
        await wait_until(lambda: first.stats.points_written > 0, 10)
        await asyncio.to_thread(fresh_influxd.stop)
        await wait_until(lambda: first.stats.batches_spooled >= 3, 20)
        await stop(gw_task)  # the gateway dies with a non-empty spool
        with_spool = first.stats.points_spooled
        assert with_spool > 0
        await asyncio.sleep(3)  # readings keep coming: the broker keeps them for our session
        await asyncio.to_thread(fresh_influxd.start)
        second = gateway(fresh_mosquitto, fresh_influxd, spool)
        gw_task = await started(second)
        await asyncio.sleep(3)
        await stop(load_task)
        await wait_until(
            lambda: (
                second.spool is not None
                and second.spool.stats().depth == 0
                and first.stats.messages_in + second.stats.messages_in >= load.total
                and stored_per_asset(client) == dict(load.acked)
            ),
            30,
        )
        assert second.stats.points_replayed >= with_spool
        assert stored_points(client) == 3 * load.total
        assert second.metrics_url is not None
        metrics = await asyncio.to_thread(_get, second.metrics_url)
        assert "facility_gateway_spool_depth 0.0" in metrics
        assert f"facility_gateway_points_replayed_total {float(second.stats.points_replayed)}" in (
            metrics
        )
        assert "facility_gateway_batch_latency_seconds_bucket" in metrics
    finally:
        client.close()
        await stop(load_task, gw_task, link_task)


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())
