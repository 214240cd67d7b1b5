"""The gateway on a real mosquitto and a real influxd: collector traffic lands with the right
tags, types and quality; bad input is counted and dead-lettered while the rest flows; a field
type conflict keeps the good lines; two gateways share the load and write each reading once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collectors.endpoints import apply_endpoint_table
from collectors.service import CollectorService
from device_profiles import load_library
from devtools.services import InfluxServer, MosquittoServer
from facility.mqtt import BrokerSettings, MqttLink
from facility.payload import DeviceMessage, decode, device_topic, encode
from facility.topics import dead_letter_topic
from facility.types import Asset, Quality, Reading
from gateway.influx import InfluxClient
from gateway.ingest import GatewayService, InfluxTarget
from gateway.ingest_rules import ledger_tags
from gateway.lineproto import to_ms
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file
from simulators.estate import Estate
from tests.support import wait_until

PROFILES = load_library()
FLEET_NOS = ["HT-PMP-001", "HT-PMP-002", "HT-PDP-001", "HT-LGT-001"]
EVENING = datetime(2026, 6, 1, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def ht_assets(numbers: list[str]) -> list[Asset]:
    ht = next(p for p in demo_ledger_paths() if p.stem == "HT")
    by_no = {a.asset_no: a for a in read_ledger_file(ht)}
    return [by_no[n] for n in numbers]


def gateway(
    mosquitto: MosquittoServer,
    influxd: InfluxServer,
    database: str,
    spool: Path,
    **options: object,
) -> GatewayService:
    options.setdefault("batch_interval_s", 0.2)
    return GatewayService(
        BrokerSettings.from_url(mosquitto.url),
        InfluxTarget(influxd.url, database),
        spool,
        **options,  # type: ignore[arg-type]
    )


async def start(service: GatewayService) -> asyncio.Task[None]:
    task = asyncio.create_task(service.run())
    await wait_until(lambda: service.link is not None and service.link.connected.is_set(), 10)
    await asyncio.wait_for(service.setup_done.wait(), 10)
    return task


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def reading_message(asset_no: str, seq: int, ts: datetime, **values: object) -> DeviceMessage:
    site = asset_no.split("-")[0]
    readings = tuple(
        Reading(site, asset_no, name, value, "", Quality.GOOD, None, ts)  # type: ignore[arg-type]
        for name, value in values.items()
    )
    return DeviceMessage(site, asset_no, asset_no.split("-")[1], seq, ts, readings, {})


@pytest.fixture
def client(influxd: InfluxServer, influx_db: str) -> Iterator[InfluxClient]:
    influx = InfluxClient(influxd.url, influx_db)
    yield influx
    influx.close()


async def connect(server: MosquittoServer, client_id: str) -> tuple[MqttLink, asyncio.Task[None]]:
    link = MqttLink(BrokerSettings.from_url(server.url), client_id)
    task = asyncio.create_task(link.run())
    await wait_until(link.connected.is_set, 10)
    return link, task


@pytest.fixture
async def publisher(fresh_mosquitto: MosquittoServer) -> AsyncIterator[MqttLink]:
    """A publisher on a broker of the test's own: no retained device messages of other tests
    (mosquitto 2.0 sends retained messages to shared subscriptions too)."""
    link, task = await connect(fresh_mosquitto, "test-gw-publisher")
    yield link
    await stop(task)


async def test_collector_traffic_lands_with_tags_types_and_quality(
    fresh_mosquitto: MosquittoServer,
    influxd: InfluxServer,
    influx_db: str,
    tmp_path: Path,
    client: InfluxClient,
) -> None:
    mosquitto = fresh_mosquitto  # no retained messages of other tests
    broker = BrokerSettings.from_url(mosquitto.url)
    published: dict[tuple[str, int], DeviceMessage] = {}

    def watch(topic: str, payload: bytes) -> None:
        message = decode(topic, payload)
        if message.asset_no in FLEET_NOS:
            published[(message.asset_no, to_ms(message.collected_ts))] = message

    watcher = MqttLink(broker, "test-gw-watch", subscriptions=[("facility/v1/HT/+", 1)])
    watcher.on_message = watch
    assets = ht_assets(FLEET_NOS)
    seen_by_hook: list[str] = []
    service = gateway(
        mosquitto,
        influxd,
        influx_db,
        tmp_path / "gw.spool",
        known_assets=[a.asset_no for a in assets],
        asset_tags=ledger_tags(assets),
        on_message=[lambda m: seen_by_hook.append(m.asset_no)],
    )
    async with Estate(
        assets, PROFILES, seed=3, speed=60, start=EVENING, port_mode="ephemeral"
    ) as estate:
        wired = apply_endpoint_table(
            assets, {no: info.to_json() for no, info in estate.endpoints.items()}
        )
        collector = CollectorService(
            wired, PROFILES, broker, tmp_path / "c.spool", collector_id="test-gw-coll", seed=1
        )
        watch_task = asyncio.create_task(watcher.run())
        await wait_until(watcher.connected.is_set, 10)
        gw_task = await start(service)
        coll_task = asyncio.create_task(collector.run())
        try:
            await wait_until(lambda: len(published) >= 12, 20)
            await estate.inject("HT-PMP-002", "comm_loss", True)  # bad_comm readings
            await wait_until(
                lambda: any(
                    r.quality is Quality.BAD_COMM
                    for (no, _), m in list(published.items())
                    if no == "HT-PMP-002"
                    for r in m.readings
                ),
                20,
            )
            await stop(coll_task)
            await asyncio.sleep(0.5)  # last messages in flight
            await wait_until(
                lambda: (
                    service.stats.messages_in >= len(published)
                    and service.stats.points_written >= service.stats.points_in
                ),
                20,
            )
        finally:
            await stop(coll_task, gw_task, watch_task)

    by_key: dict[tuple[str, int], dict[str, object]] = {}
    for measurement in ("pmp", "pdp", "lgt"):
        for series in client.query_one(f'SELECT * FROM "{measurement}"'):
            for row in series.records():
                by_key[(str(row["asset_no"]), int(row["time"]))] = row
    types: dict[str, str] = {}
    for series in client.query_one("SHOW FIELD KEYS"):
        types.update({f"{series.name}.{name}": kind for name, kind in series.values})
    assert len(by_key) == len(published)
    assert set(seen_by_hook) == set(FLEET_NOS)
    ledger = {a.asset_no: a for a in assets}
    bad_seen = 0
    for key, message in published.items():
        row = by_key[key]
        asset = ledger[message.asset_no]
        assert (row["site"], row["building"], row["system"]) == ("HT", asset.building, asset.system)
        measurement = message.asset_no.split("-")[1].lower()
        for reading in message.readings:
            stored = row.get(reading.point)
            if reading.quality is Quality.GOOD:
                assert row.get(f"{reading.point}_q") is None
            else:
                assert row[f"{reading.point}_q"] == reading.quality.value
            if reading.value is None:
                bad_seen += 1
                assert stored is None  # never a 0 for a value that could not be read
                continue
            field_type = types[f"{measurement}.{reading.point}"]
            if isinstance(reading.value, bool):
                assert (stored, field_type) == (reading.value, "boolean")
            elif isinstance(reading.value, str):
                assert (stored, field_type) == (reading.value, "string")
            else:
                assert field_type == "float"
                assert stored == pytest.approx(float(reading.value))
    assert bad_seen > 0
    health = client.query_one('SELECT count("seq") FROM "device_health" GROUP BY "asset_no"')
    assert sum(s.values[0][1] for s in health) == len(published)


async def test_bad_input_is_counted_dead_lettered_and_the_rest_flows(
    fresh_mosquitto: MosquittoServer,
    influxd: InfluxServer,
    influx_db: str,
    tmp_path: Path,
    client: InfluxClient,
    publisher: MqttLink,
) -> None:
    mosquitto = fresh_mosquitto
    dead: list[dict[str, object]] = []
    broker = BrokerSettings.from_url(mosquitto.url)
    watcher = MqttLink(
        broker,
        "test-gw-dead",
        subscriptions=[(dead_letter_topic("gw-bad"), 1)],
        on_message=lambda t, p: dead.append(json.loads(p)),
    )
    service = gateway(
        mosquitto,
        influxd,
        influx_db,
        tmp_path / "gw.spool",
        gateway_id="gw-bad",
        share_group="bad-input",
        known_assets=["HT-PMP-001"],
    )
    watch_task = asyncio.create_task(watcher.run())
    await wait_until(watcher.connected.is_set, 10)
    task = await start(service)
    now = datetime.now(UTC).replace(microsecond=0)
    good = encode(reading_message("HT-PMP-001", 1, now, current=12.5))
    topic = device_topic("HT", "HT-PMP-001")
    cases = [
        ("bad_json", topic, b"{not json"),
        ("bad_type", topic, good.replace(b'"seq":1', b'"seq":"one"')),
        ("unknown_asset", device_topic("HT", "HT-PMP-999"), good.replace(b"001", b"999")),
        ("non_finite", topic, good.replace(b"12.5", b"NaN")),
        ("non_finite", topic, good.replace(b"12.5", b"1e999")),
        ("too_large", topic, good.replace(b"12.5", b'"' + b"x" * 5000 + b'"')),
        ("bad_point_name", topic, good.replace(b'"current"', b'"Current Now"')),
        ("class_mismatch", topic, good.replace(b'"class":"PMP"', b'"class":"LGT"')),
    ]
    try:
        for _, case_topic, payload in cases:
            await publisher.publish(case_topic, payload, qos=1)
        await publisher.publish(topic, good, qos=1)
        await wait_until(lambda: service.stats.points_written == 1 and len(dead) == len(cases), 10)
        expected: dict[str, int] = defaultdict(int)
        for kind, _, _ in cases:
            expected[kind] += 1
        assert dict(service.stats.dead_letters) == expected
        assert sorted(str(d["kind"]) for d in dead) == sorted(k for k, _, _ in cases)
        for letter in dead:
            assert letter["reason"]
            assert letter["gateway"] == "gw-bad"
        unknown = next(d for d in dead if d["kind"] == "unknown_asset")
        assert "HT-PMP-999" in str(unknown["reason"])
        rows = client.query_one('SELECT "current" FROM "pmp"')[0].values
        assert rows == [[to_ms(now), 12.5]]  # the good one, and nothing of the bad ones
        events = client.query_one(
            'SELECT sum("count") FROM "ingest_events" WHERE "event" = \'dead_letter\' '
            'GROUP BY "kind"'
        )
        assert {s.tags["kind"]: s.values[0][1] for s in events} == expected
    finally:
        await stop(task, watch_task)


async def test_field_type_conflict_writes_the_good_lines(
    fresh_mosquitto: MosquittoServer,
    influxd: InfluxServer,
    influx_db: str,
    tmp_path: Path,
    publisher: MqttLink,
    client: InfluxClient,
) -> None:
    dead: list[dict[str, object]] = []
    watcher = MqttLink(
        BrokerSettings.from_url(fresh_mosquitto.url),
        "test-gw-conflict",
        subscriptions=[(dead_letter_topic("gw-conflict"), 1)],
        on_message=lambda t, p: dead.append(json.loads(p)),
    )
    base = datetime.now(UTC).replace(microsecond=0)
    client.write(f'pmp,asset_no=HT-PMP-001,site=HT firmware="1.0" {to_ms(base)}\n'.encode())
    service = gateway(
        fresh_mosquitto,
        influxd,
        influx_db,
        tmp_path / "gw.spool",
        gateway_id="gw-conflict",
        share_group="conflict",
        setup_on_start=False,
        batch_interval_s=1.0,
    )
    watch_task = asyncio.create_task(watcher.run())
    await wait_until(watcher.connected.is_set, 10)
    task = await start(service)
    try:
        # one batch: the middle message sends firmware as a number (the device was re-mapped)
        for seq in range(1, 6):
            ts = base + timedelta(seconds=seq)
            values: dict[str, object] = {"current": float(seq), "firmware": "1.1"}
            if seq == 3:
                values["firmware"] = 11.0
            message = reading_message("HT-PMP-001", seq, ts, **values)
            await publisher.publish(device_topic("HT", "HT-PMP-001"), encode(message), qos=1)
        await wait_until(lambda: service.stats.messages_in == 5 and len(dead) == 1, 10)
        await wait_until(lambda: service.stats.points_written == 10, 10)
        rows = client.query_one('SELECT "current", "firmware" FROM "pmp"')[0].values
        assert [r[1] for r in rows] == [None, 1.0, 2.0, 4.0, 5.0]  # seq 3 refused as a whole
        assert dead[0]["kind"] == "influx_rejected"
        assert "field type conflict" in str(dead[0]["reason"])
        assert "firmware" in str(dead[0]["reason"])
        # its health line (another measurement) went in: the poll is not reported missing
        assert client.query_one('SELECT count("seq") FROM "device_health"')[0].values[0][1] == 5
        assert service.stats.rejected_lines == 1
    finally:
        await stop(task, watch_task)


async def test_two_gateways_share_the_load_and_write_each_reading_once(
    fresh_mosquitto: MosquittoServer,
    influxd: InfluxServer,
    influx_db: str,
    tmp_path: Path,
    publisher: MqttLink,
    client: InfluxClient,
) -> None:
    services = [
        gateway(
            fresh_mosquitto,
            influxd,
            influx_db,
            tmp_path / f"gw{i}.spool",
            gateway_id=f"gw-share-{i}",
            share_group="share-test",
            setup_on_start=i == 0,
        )
        for i in range(2)
    ]
    tasks = [await start(s) for s in services]
    base = datetime.now(UTC).replace(microsecond=0)
    assets = [f"HT-LGT-{n:03d}" for n in range(1, 21)]
    sent = 0
    try:
        for seq in range(1, 51):
            futures = []
            for asset_no in assets:
                ts = base + timedelta(milliseconds=seq * 100)
                message = reading_message(asset_no, seq, ts, energy=float(seq), contactor_on=True)
                futures.append(
                    publisher.publish(device_topic("HT", asset_no), encode(message), qos=1)
                )
            await asyncio.gather(*futures)
            sent += len(futures)
        await wait_until(lambda: sum(s.stats.points_written for s in services) == 2 * sent, 20)
        received = [s.stats.messages_in for s in services]
        assert sum(received) == sent
        assert min(received) > sent * 0.2  # both took a share
        counts = client.query_one('SELECT count("energy") FROM "lgt" GROUP BY "asset_no"')
        assert {s.tags["asset_no"]: s.values[0][1] for s in counts} == dict.fromkeys(assets, 50)
    finally:
        await stop(*tasks)


def launch(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """``facility ARGS`` as its own process, output on a pipe."""
    return subprocess.Popen(
        [sys.executable, "-c", "from facility.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
    )


async def test_cli_gateway_run_reports_where_it_is_writes_and_stops_on_sigterm(
    fresh_mosquitto: MosquittoServer,
    influxd: InfluxServer,
    influx_db: str,
    tmp_path: Path,
    publisher: MqttLink,
    client: InfluxClient,
) -> None:
    env = {
        **os.environ,
        "FACILITY_MQTT__URL": fresh_mosquitto.url,
        "FACILITY_INFLUXDB__URL": influxd.url,
        "FACILITY_INFLUXDB__DATABASE": influx_db,
        "FACILITY_PATHS__VAR_DIR": str(tmp_path / "var"),
        "FACILITY_GATEWAY__ID": "gw-cli",
        "FACILITY_GATEWAY__METRICS_PORT": "0",
        "FACILITY_GATEWAY__BATCH_INTERVAL_S": "0.2",
    }
    process = launch(["gateway", "run", "--any-asset"], env, tmp_path)
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20)
        while not first.startswith(b"gateway gw-cli:"):
            first = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 20)
        assert influxd.url.encode() in first
        assert b"metrics http://127.0.0.1:" in first
        now = datetime.now(UTC).replace(microsecond=0)
        message = reading_message("JU-TNK-001", 1, now, level=2.5)
        # retained, as collectors publish: there even if it beats the gateway's SUBSCRIBE
        topic = device_topic("JU", "JU-TNK-001")
        await publisher.publish(topic, encode(message), qos=1, retain=True)

        def written() -> bool:
            series = client.query_one('SELECT "level" FROM "tnk"')
            return bool(series) and series[0].values == [[to_ms(now), 2.5]]

        await wait_until(written, 15)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
