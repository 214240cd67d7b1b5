"""InfluxDB answers that are not success, on the real influxd: a proxy in front of it that
answers 200 with garbage, 500 or nothing must not count as written (the gateway spools and
writes every point once it passes through again); a partial write (points beyond the
retention policy) names exactly the dropped lines, the others are stored, and the gateway
records the drop per device (issue 9, finding 5)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devtools.services import InfluxServer, MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage, device_topic, encode
from facility.topics import dead_letter_topic
from facility.types import Quality, Reading
from gateway.influx import InfluxClient, InfluxUnavailable
from gateway.ingest import GatewayService, InfluxTarget
from tests.faults_support import FaultyHttpProxy
from tests.support import wait_until

HOUR_MS = 3_600_000


@pytest.fixture
def client(influxd: InfluxServer, influx_db: str) -> Iterator[InfluxClient]:
    """Straight to the real influxd (the witness: what is really stored)."""
    influx = InfluxClient(influxd.url, influx_db)
    yield influx
    influx.close()


@pytest.fixture
def proxy(influxd: InfluxServer) -> Iterator[FaultyHttpProxy]:
    with FaultyHttpProxy(influxd.url) as faulty:
        yield faulty


def count_of(client: InfluxClient, q: str) -> int:
    series = client.query_one(q)
    return int(series[0].values[0][1]) if series else 0


def test_influx_client_counts_only_influxdb_answers_as_written(
    proxy: FaultyHttpProxy, client: InfluxClient, influx_db: str
) -> None:
    through = InfluxClient(proxy.url, influx_db, timeout=1.0)
    now = int(time.time() * 1000)
    try:
        assert through.ping()  # passes through: the real influxd answers
        proxy.mode = "garbage"
        with pytest.raises(InfluxUnavailable, match="answered 200 with a body that is not"):
            through.write(f"m,a=1 v=1 {now}\n".encode())
        with pytest.raises(InfluxUnavailable, match="not InfluxDB"):
            through.ping()  # a 200 from a proxy does not say "InfluxDB is back"
        proxy.mode = "error500"
        with pytest.raises(InfluxUnavailable, match="HTTP 500"):
            through.write(f"m,a=1 v=2 {now}\n".encode())
        proxy.mode = "hang"
        with pytest.raises(InfluxUnavailable, match="no answer within"):
            through.write(f"m,a=1 v=3 {now}\n".encode())
        assert count_of(client, 'SELECT count("v") FROM "m"') == 0
        proxy.mode = "pass"
        through.write(f"m,a=1 v=4 {now}\n".encode())
        assert client.query_one('SELECT "v" FROM "m"')[0].values == [[now, 4.0]]
    finally:
        through.close()
    assert proxy.answered["garbage"] == 2


def test_a_partial_write_names_exactly_the_lines_beyond_retention(
    client: InfluxClient, influx_db: str
) -> None:
    client.query(f'CREATE RETENTION POLICY "short" ON "{influx_db}" DURATION 1h REPLICATION 1')
    now = int(time.time() * 1000)
    lines: list[bytes] = []
    old: list[bytes] = []
    for n in range(40):  # interleaved: every third line is 2 h old (a device with a bad clock)
        too_old = n % 3 == 0
        ts = now - 2 * HOUR_MS - n if too_old else now - n
        line = f"m,asset_no=HT-PMP-{n % 5 + 1:03d} v={n} {ts}\n".encode()
        lines.append(line)
        if too_old:
            old.append(line)
    outcome = client.write_split(lines, retention_policy="short")
    assert sorted(r.line for r in outcome.expired) == sorted(old)
    assert all("points beyond retention policy" in r.reason for r in outcome.expired)
    assert outcome.rejected == []
    assert outcome.written == len(lines) - len(old)
    assert outcome.requests <= 3  # found from the timestamps, not line by line
    stored = client.query_one('SELECT "v" FROM "short"."m"')[0].values
    assert sorted(int(v) for _, v in stored) == [n for n in range(40) if n % 3]


def reading_message(asset_no: str, seq: int, ts: datetime) -> DeviceMessage:
    readings = tuple(
        Reading("HT", asset_no, name, float(seq), "", Quality.GOOD, None, ts)
        for name in ("current", "frequency")
    )
    return DeviceMessage("HT", asset_no, "PMP", seq, ts, readings, {})


def gateway_through(
    broker: MosquittoServer, url: str, database: str, spool: Path, gateway_id: str
) -> GatewayService:
    return GatewayService(
        BrokerSettings.from_url(broker.url),
        InfluxTarget(url, database, timeout_s=2),
        spool,
        gateway_id=gateway_id,
        share_group=gateway_id,
        setup_on_start=False,
        batch_interval_s=0.2,
        probe_interval_s=(0.1, 0.5),
    )


async def started(service: GatewayService) -> asyncio.Task[None]:
    task = asyncio.create_task(service.run())
    await wait_until(lambda: service.link is not None and service.link.connected.is_set(), 10)
    return task


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_gateway_behind_a_proxy_answering_garbage_loses_nothing(
    fresh_mosquitto: MosquittoServer,
    proxy: FaultyHttpProxy,
    client: InfluxClient,
    influx_db: str,
    tmp_path: Path,
) -> None:
    service = gateway_through(fresh_mosquitto, proxy.url, influx_db, tmp_path / "gw.spool", "gw-g")
    link = MqttLink(BrokerSettings.from_url(fresh_mosquitto.url), "test-garbage-load")
    link_task = asyncio.create_task(link.run())
    await wait_until(link.connected.is_set, 10)
    task = await started(service)
    base = datetime.now(UTC).replace(microsecond=0)
    sent = 0

    async def publish(count: int) -> None:
        nonlocal sent
        for _ in range(count):
            sent += 1
            asset_no = f"HT-PMP-{sent % 4 + 1:03d}"
            message = reading_message(asset_no, sent, base + timedelta(milliseconds=sent))
            await link.publish(device_topic("HT", asset_no), encode(message), qos=1)

    try:
        await publish(20)
        await wait_until(lambda: service.stats.points_written == 40, 10)
        proxy.mode = "garbage"
        await publish(60)
        await wait_until(lambda: service.stats.points_spooled > 0, 10)
        assert service.stats.influx_up is False
        assert service.stats.write_failures["unavailable"] >= 1
        await wait_until(lambda: service.stats.messages_in == 80, 10)
        await asyncio.sleep(1)  # the replayer keeps trying through the garbage meanwhile
        assert service.stats.influx_up is False
        assert count_of(client, 'SELECT count("current") FROM "pmp"') == 20
        proxy.mode = "pass"
        await wait_until(
            lambda: (
                service.spool is not None
                and service.spool.stats().depth == 0
                and service.stats.influx_up
                and count_of(client, 'SELECT count("current") FROM "pmp"') == sent
            ),
            20,
        )
        assert count_of(client, 'SELECT count("seq") FROM "device_health"') == sent
        assert service.stats.points_written == 2 * sent
        assert proxy.answered["garbage"] >= 2
    finally:
        await stop(task, link_task)


async def test_gateway_records_lines_beyond_retention_per_device(
    fresh_mosquitto: MosquittoServer,
    influxd: InfluxServer,
    client: InfluxClient,
    influx_db: str,
    tmp_path: Path,
) -> None:
    client.query(
        f'CREATE RETENTION POLICY "short" ON "{influx_db}" DURATION 1h REPLICATION 1 DEFAULT'
    )
    dead: list[dict[str, object]] = []
    watcher = MqttLink(
        BrokerSettings.from_url(fresh_mosquitto.url),
        "test-expired-watch",
        subscriptions=[(dead_letter_topic("gw-x"), 1)],
        on_message=lambda t, p: dead.append(json.loads(p)),
    )
    link = MqttLink(BrokerSettings.from_url(fresh_mosquitto.url), "test-expired-load")
    tasks = [asyncio.create_task(watcher.run()), asyncio.create_task(link.run())]
    await wait_until(lambda: watcher.connected.is_set() and link.connected.is_set(), 10)
    service = gateway_through(fresh_mosquitto, influxd.url, influx_db, tmp_path / "s", "gw-x")
    tasks.append(await started(service))
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        # one batch: HT-PMP-001's clock is 2 h behind, HT-PMP-002's is right
        for seq in range(1, 6):
            for asset_no, ts in (("HT-PMP-001", now - timedelta(hours=2)), ("HT-PMP-002", now)):
                message = reading_message(asset_no, seq, ts + timedelta(seconds=seq))
                await link.publish(device_topic("HT", asset_no), encode(message), qos=1)
        await wait_until(lambda: service.stats.expired_lines == 10, 10)
        series = client.query_one('SELECT count("seq") FROM "device_health" GROUP BY "asset_no"')
        assert {s.tags["asset_no"]: s.values[0][1] for s in series} == {"HT-PMP-002": 5}
        # recorded as data, per device, with the reason
        await wait_until(
            lambda: bool(
                client.query_one("SELECT * FROM \"ingest_events\" WHERE kind='influx_expired'")
            ),
            10,
        )
        events = client.query_one("SELECT * FROM \"ingest_events\" WHERE kind='influx_expired'")[
            0
        ].records()
        assert [(e["asset_no"], e["count"]) for e in events] == [("HT-PMP-001", 10)]
        assert "points beyond retention policy" in str(events[0]["reason"])
        await wait_until(lambda: len(dead) >= 1, 10)
        assert {(d["kind"], d["topic"]) for d in dead} == {
            ("influx_expired", "influxdb/HT-PMP-001")
        }
        assert service.stats.influx_up is True  # a permanent rejection, not an outage
        assert service.spool is not None
        assert service.spool.stats().depth == 0
    finally:
        await stop(*tasks)


@pytest.mark.parametrize("fault", ["locked", "full"])
async def test_gateway_survives_a_spool_it_cannot_write_and_loses_nothing(
    fault: str,
    fresh_mosquitto: MosquittoServer,
    proxy: FaultyHttpProxy,
    client: InfluxClient,
    influx_db: str,
    tmp_path: Path,
) -> None:
    """InfluxDB down (500) and the spool refusing (another process holds it locked, or no
    space left): the gateway stays up, says so, keeps the batch unacknowledged, and writes
    every point once things work again (issue 9, finding 4)."""
    from gateway.metrics import GatewayMetrics

    path = tmp_path / "gw.spool"
    service = gateway_through(fresh_mosquitto, proxy.url, influx_db, path, f"gw-{fault}")
    link = MqttLink(BrokerSettings.from_url(fresh_mosquitto.url), f"test-spool-{fault}")
    link_task = asyncio.create_task(link.run())
    await wait_until(link.connected.is_set, 10)
    task = await started(service)
    spool = service.spool
    assert spool is not None
    other = sqlite3.connect(path, isolation_level=None)
    sent = 0
    try:
        proxy.mode = "error500"
        if fault == "locked":
            other.execute("BEGIN EXCLUSIVE")
        else:  # the file may not grow: SQLITE_FULL, as on a full disk
            with spool._lock:
                pages = spool._db.execute("PRAGMA page_count").fetchone()[0]
                spool._db.execute(f"PRAGMA max_page_count={pages}")
        base = datetime.now(UTC).replace(microsecond=0)
        for sent in range(1, 41):
            asset_no = f"HT-PMP-{sent % 4 + 1:03d}"
            message = reading_message(asset_no, sent, base + timedelta(milliseconds=sent))
            await link.publish(device_topic("HT", asset_no), encode(message), qos=1)
        await wait_until(lambda: task.done() or service.stats.messages_in == 40, 15)
        await asyncio.sleep(1)  # a few retries
        assert not task.done()  # alive, retrying (main: the writer died on the spool error)
        await wait_until(lambda: service.stats.spool_failures[fault] >= 2, 15)
        assert service.stats.spool_ok is False
        assert service.stats.points_spooled == 0
        metrics = {m.name: m for m in GatewayMetrics(lambda: service.stats, spool.stats).collect()}
        failures = {
            s.labels.get("kind"): s.value
            for s in metrics["facility_gateway_spool_failures"].samples
            if s.name.endswith("_total")
        }
        assert failures[fault] >= 2
        assert metrics["facility_gateway_spool_ok"].samples[0].value == 0
        if fault == "full":
            assert spool.stats().full is True
        # things work again: the spool first, then InfluxDB
        if fault == "locked":
            other.execute("ROLLBACK")
        else:
            with spool._lock:
                spool._db.execute("PRAGMA max_page_count=1073741823")
        await wait_until(lambda: service.stats.spool_ok and service.stats.points_spooled > 0, 15)
        proxy.mode = "pass"
        await wait_until(
            lambda: (
                spool.stats().depth == 0
                and count_of(client, 'SELECT count("current") FROM "pmp"') == sent
            ),
            20,
        )
        assert count_of(client, 'SELECT count("seq") FROM "device_health"') == sent
        assert not task.done()
    finally:
        other.close()
        await stop(task, link_task)
