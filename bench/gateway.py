"""Gateway throughput against its two baselines, in the same run, on the same servers:

1. raw MQTT receive rate: a bare paho subscriber (the gateway's shared subscription,
   persistent session) drains N device messages queued for it by mosquitto;
2. raw batched line-protocol writes of the same readings to the same influxd, 5,000-point
   batches over one kept-alive connection;
3. end to end: the same N messages queued for a GatewayService, drained into InfluxDB;
4. scale-out: the same again for two ``facility gateway run`` processes in one share group
   (MQTT 5 shared subscription), counted in InfluxDB once both have started.

Also: the line encoder against influxdb-client's ``Point`` (decision 003), line size with the
quality field always vs only when not good, and the one-year query: a year of 1-minute and
1-hour aggregates of one point written by the benchmark straight into ``agg_1m``/``agg_1h``
(what the CQs would have produced), then ``History.series`` over the year; and the gap
audit over its lookback at four times the estates' rate, summary first against every seq.

    python -m bench gateway          # or: make bench
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MESSAGES = 30_000
DEVICES = 300
POINTS = 16
GOAL_RATIO = 0.70
GOAL_POINTS_S = 50_000
BATCH_POINTS = 5000


def _messages(count: int) -> list[tuple[str, bytes, Any]]:
    """``count`` PMP-like device messages (16 points, one string), round robin over devices."""
    from facility.payload import DeviceMessage, device_topic, encode
    from facility.types import Quality, Reading

    names = [
        "run_state", "mode", "frequency", "current", "power", "voltage", "motor_temp",
        "setpoint_pressure", "fault_code", "status_word", "firmware", "discharge_pressure",
        "suction_pressure", "run_hours", "start_count", "energy",
    ]  # fmt: skip
    base = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(count):
        asset_no = f"BN-PMP-{i % DEVICES + 1:03d}"
        ts = base + timedelta(milliseconds=i)  # distinct per message: nothing overwrites
        readings = []
        for j, name in enumerate(names):
            value: object = 40.0 + (i * 7 + j) % 97 / 10
            if name in ("run_state", "mode", "fault_code"):
                value = (i + j) % 3
            elif name == "firmware":
                value = "V2.31"
            quality = Quality.BAD_COMM if (i + j) % 50 == 0 else Quality.GOOD
            readings.append(
                Reading(
                    "BN",
                    asset_no,
                    name,
                    None if quality is Quality.BAD_COMM else value,  # type: ignore[arg-type]
                    "",
                    quality,
                    None,
                    ts,
                )
            )
        message = DeviceMessage(
            "BN", asset_no, "PMP", i // DEVICES + 1, ts, tuple(readings), {"comm_ok": True}
        )
        out.append((device_topic("BN", asset_no), encode(message), message))
    return out


# the launcher's broker is closed (password file + ACL): raw clients log in as its test account
_LOGIN: list[tuple[str, str]] = []


def _login(client: Any) -> None:
    if _LOGIN:
        client.username_pw_set(*_LOGIN[0])


def _paho_session(host: str, port: int, client_id: str, topic: str) -> None:
    """Create a persistent session with the subscription, then leave (messages queue up)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    _login(client)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect(host, port, clean_start=True, properties=props)
    client.loop_start()
    client.subscribe(topic, 1)[1]
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def _preload(host: str, port: int, messages: list[tuple[str, bytes, Any]]) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=MQTTProtocolVersion.MQTTv5
    )
    _login(client)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    infos = [client.publish(topic, payload, 1) for topic, payload, _ in messages]
    infos[-1].wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def raw_mqtt_rate(
    host: str, port: int, topic: str, messages: list[tuple[str, bytes, Any]]
) -> float:
    """Messages/s a bare paho subscriber drains from its queued session."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    _paho_session(host, port, "bench-raw", topic)
    _preload(host, port, messages)
    done = threading.Event()
    received = [0]

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        received[0] += 1
        if received[0] == len(messages):
            done.set()

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=MQTTProtocolVersion.MQTTv5
    )
    _login(client)
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    started = time.perf_counter()
    client.connect(host, port, clean_start=False, properties=props)
    client.loop_start()
    done.wait(120)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return received[0] / elapsed


def raw_write_rate(url: str, messages: list[tuple[str, bytes, Any]]) -> tuple[float, int]:
    """Readings/s of batched writes of the same data (5,000-point batches); and requests."""
    from gateway.influx import InfluxClient
    from gateway.lineproto import LineEncoder

    encoder = LineEncoder()
    batches: list[bytes] = []
    current: list[bytes] = []
    points = 0
    for _, _, message in messages:
        current.append(encoder.encode(message))
        points += len(message.readings)
        if points >= BATCH_POINTS:
            batches.append(b"".join(current))
            current, points = [], 0
    if current:
        batches.append(b"".join(current))
    client = InfluxClient(url, "bench_raw")
    client.create_database()
    started = time.perf_counter()
    for body in batches:
        client.write(body)
    elapsed = time.perf_counter() - started
    client.close()
    return len(messages) * POINTS / elapsed, len(batches)


async def end_to_end(
    host: str, port: int, url: str, messages: list[tuple[str, bytes, Any]], spool: Path
) -> tuple[float, float]:
    """(messages/s, readings/s) of a GatewayService draining the same queued messages."""
    from facility.mqtt import BrokerSettings
    from facility.topics import shared_readings
    from gateway.ingest import GatewayService, InfluxTarget

    topic = shared_readings("bench")
    await asyncio.to_thread(_paho_session, host, port, "bench-gw", topic)
    await asyncio.to_thread(_preload, host, port, messages)
    service = GatewayService(
        BrokerSettings(host, port, *(_LOGIN[0] if _LOGIN else (None, None))),
        InfluxTarget(url, "bench_e2e"),
        spool,
        gateway_id="bench-gw",
        share_group="bench",
        batch_points=BATCH_POINTS,
        setup_on_start=False,
    )
    service.influx.client().create_database()
    expected = len(messages) * POINTS
    started = time.perf_counter()
    task = asyncio.create_task(service.run())
    try:
        while service.stats.points_written < expected:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return len(messages) / elapsed, expected / elapsed


def scale_out(host: str, port: int, url: str, messages: list[tuple[str, bytes, Any]]) -> float:
    """Messages/s of two gateway processes sharing the queued messages, measured from the
    moment both said ``online`` on their status topics (start-up excluded) to the last."""
    import os
    import subprocess
    import sys

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    from facility.topics import shared_readings, status_topic
    from gateway.influx import InfluxClient, InfluxRejected

    ids = ["bench-gw-a", "bench-gw-b"]
    online: set[str] = set()
    watcher = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-watch", protocol=MQTTProtocolVersion.MQTTv5
    )
    _login(watcher)
    watcher.on_message = lambda _c, _u, m: (
        online.add(m.topic.rsplit("/", 1)[1]) if b"online" in m.payload else None
    )
    watcher.connect(host, port)
    watcher.loop_start()
    watcher.subscribe([(status_topic("gateway", i), 1) for i in ids])
    cli = [sys.executable, "-c", "from facility.cli import main; main()"]
    for gateway_id in ids:
        _paho_session(host, port, gateway_id, shared_readings("bench-scale"))
    _preload(host, port, messages)
    client = InfluxClient(url, "bench_scale")
    client.create_database()
    processes = []
    with tempfile.TemporaryDirectory() as var:
        for gateway_id in ids:
            env = {
                **os.environ,
                "FACILITY_MQTT__URL": f"mqtt://{_LOGIN[0][0]}@{host}:{port}"
                if _LOGIN
                else f"mqtt://{host}:{port}",
                "FACILITY_MQTT__PASSWORD": _LOGIN[0][1] if _LOGIN else "",
                "FACILITY_INFLUXDB__URL": url,
                "FACILITY_INFLUXDB__DATABASE": "bench_scale",
                "FACILITY_PATHS__VAR_DIR": var,
                "FACILITY_GATEWAY__ID": gateway_id,
                "FACILITY_GATEWAY__SHARE_GROUP": "bench-scale",
                "FACILITY_GATEWAY__METRICS_PORT": "0",
            }
            processes.append(
                subprocess.Popen(
                    [*cli, "gateway", "run", "--any-asset"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=var,
                )
            )
        try:
            first: tuple[float, int] | None = None
            count, deadline = 0, time.monotonic() + 120
            while count < len(messages) and time.monotonic() < deadline:
                time.sleep(0.05)
                try:
                    series = client.query_one('SELECT count("seq") FROM "raw"."device_health"')
                except InfluxRejected:  # the gateways have not created `raw` yet
                    continue
                count = int(series[0].values[0][1]) if series else 0
                if first is None and online >= set(ids):
                    first = (time.perf_counter(), count)
            done = time.perf_counter()
        finally:
            for process in processes:
                process.terminate()
                process.wait(15)
            client.close()
            watcher.loop_stop()
            watcher.disconnect()
    if first is None or count < len(messages):
        raise RuntimeError(f"scale-out: only {count} of {len(messages)} messages written")
    return (count - first[1]) / (done - first[0])


def encoder_costs(messages: list[tuple[str, bytes, Any]]) -> None:
    from influxdb_client import Point, WritePrecision  # type: ignore[attr-defined]

    from facility.payload import decode
    from gateway.lineproto import LineEncoder, to_ms

    sample = messages[:5000]
    encoder = LineEncoder()

    def timed(function: Any) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for _, _, message in sample:
                function(message)
            best = min(best, time.perf_counter() - started)
        return best / len(sample) * 1e6

    def with_point(message: Any) -> bytes:
        point = Point("pmp").tag("asset_no", message.asset_no)  # type: ignore[no-untyped-call]
        point = point.tag("site", message.site)
        for r in message.readings:
            if r.value is not None:
                value = float(r.value) if type(r.value) is int else r.value
                point.field(r.point, value)
            if r.quality.value != "good":
                point.field(f"{r.point}_q", r.quality.value)
        point.time(to_ms(message.collected_ts), WritePrecision.MS)
        return str(point.to_line_protocol()).encode()

    decode_us = 0.0
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for topic, payload, _ in sample:
            decode(topic, payload)
        best = min(best, time.perf_counter() - started)
    decode_us = best / len(sample) * 1e6
    hand, client = timed(encoder.encode), timed(with_point)
    print(f"decode (facility.payload)     {decode_us:7.1f} µs/message")
    print(f"encode, hand-written           {hand:7.1f} µs/message (device + health line)")
    print(f"encode, influxdb-client Point  {client:7.1f} µs/message (device line only)")
    print(f"  → Point is {client / hand:.1f}× the cost of the hand-written encoder")
    message = sample[1][2]
    sparse = len(encoder.encode_lines(message)[0])
    always = sparse + sum(
        len(f',{r.point}_q="good"') for r in message.readings if r.quality.value == "good"
    )
    print(
        f"device line, quality only when not good: {sparse} B; always: {always} B "
        f"({always / sparse:.2f}×)"
    )


def one_year_query(url: str) -> None:
    from gateway.history import History
    from gateway.influx import InfluxClient
    from gateway.retention import RetentionPlan, setup

    client = InfluxClient(url, "bench_year")
    setup(client, RetentionPlan())
    now_ms = int(time.time() * 1000)
    start = now_ms - now_ms % 3_600_000 - 365 * 86_400_000
    tags = "pmp,asset_no=BN-PMP-001,site=BN"
    started = time.perf_counter()
    lines: list[bytes] = []
    for minute in range(365 * 24 * 60):
        ts = start + minute * 60_000
        value = 4.0 + (minute % 1440) / 1440
        lines.append(
            f"{tags} mean_discharge_pressure={value},min_discharge_pressure={value - 0.2},"
            f"max_discharge_pressure={value + 0.2},last_discharge_pressure={value} {ts}\n".encode()
        )
        if len(lines) == 5000:
            client.write(b"".join(lines), retention_policy="agg_1m")
            lines = []
    if lines:
        client.write(b"".join(lines), retention_policy="agg_1m")
    hourly = [
        f"{tags} mean_mean_discharge_pressure=4.5,min_min_discharge_pressure=3.8,"
        f"max_max_discharge_pressure=5.2,last_last_discharge_pressure=4.5 "
        f"{start + hour * 3_600_000}\n".encode()
        for hour in range(365 * 24)
    ]
    for i in range(0, len(hourly), 5000):
        client.write(b"".join(hourly[i : i + 5000]), retention_policy="agg_1h")
    print(
        f"one year generated: 525,600 1-minute + 8,760 1-hour aggregates "
        f"in {time.perf_counter() - started:.1f} s (written straight into agg_1m/agg_1h)"
    )
    history = History(client)
    for label, span_ms in (("1 year", 365 * 86_400_000), ("30 days", 30 * 86_400_000),
                           ("1 day", 86_400_000)):  # fmt: skip
        timings = []
        series = None
        for _ in range(5):
            t0 = time.perf_counter()
            series = history.series("BN-PMP-001", "discharge_pressure", now_ms - span_ms, now_ms)
            timings.append(time.perf_counter() - t0)
        assert series is not None
        print(
            f"series over {label:8}: {len(series.points):5} points from {series.plan.label:30} "
            f"first {timings[0] * 1000:6.1f} ms, median {statistics.median(timings) * 1000:6.1f} ms"
        )
    client.close()


def gap_audit_cost(url: str) -> None:
    """The gap audit over its 15-minute lookback at four times the three estates' rate
    (163 devices, ~440 messages/s: ~400,000 stored seqs), a few devices with holes: the
    summary-first audit against reading every seq (what the audit did before)."""
    from gateway.gapfill import GapFiller, holes
    from gateway.influx import InfluxClient

    client = InfluxClient(url, "bench_audit")
    client.create_database()
    now_ms = int(time.time() * 1000)
    devices, per_s, window_s = 163, 440 / 163, 900
    per_device = int(per_s * window_s)
    lines: list[bytes] = []
    for d in range(devices):
        asset_no = f"BN-PMP-{d + 1:03d}"
        for i in range(per_device):
            if d % 40 == 0 and i % 1000 == 500:
                continue  # a hole in a few devices
            ts = now_ms - window_s * 1000 + int(i * 1000 / per_s)
            lines.append(f"device_health,asset_no={asset_no} seq={i + 1}i {ts}\n".encode())
            if len(lines) == 5000:
                client.write(b"".join(lines))
                lines = []
    if lines:
        client.write(b"".join(lines))

    def read_everything() -> int:
        q = (
            f'SELECT "seq" FROM "device_health" WHERE time >= {now_ms - 1_000_000}ms '
            f"AND time < {now_ms}ms GROUP BY asset_no"
        )
        found = 0
        for series in client.query_one(q):
            seqs = [int(row[1]) for row in series.values if row[1] is not None]
            found += len(holes(series.tags["asset_no"], seqs))
        return found

    def publish(_topic: str, _payload: bytes) -> asyncio.Future[None]:
        raise AssertionError("not asked")

    filler = GapFiller(
        client, publish, gateway_id="bench", retention_policy=None, lookback_s=1000, settle_s=0
    )

    def summary_first() -> int:
        stored = filler._stored_seqs()
        return sum(len(holes(a, seqs)) for a, seqs in stored.items())

    results = {}
    for label, audit in (("every seq (before)", read_everything), ("summary first", summary_first)):
        walls, cpus, found = [], [], 0
        for _ in range(3):
            w0, c0 = time.perf_counter(), time.process_time()
            found = audit()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        tracemalloc.start()
        audit()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results[label] = statistics.median(cpus)
        wall_ms, cpu_ms = statistics.median(walls) * 1000, statistics.median(cpus) * 1000
        print(
            f"gap audit, {label:20}: {found} holes; median wall {wall_ms:7.0f} ms, "
            f"gateway CPU {cpu_ms:7.0f} ms, peak Python memory {peak / 2**20:6.1f} MB "
            f"({devices * per_device:,} seqs stored)"
        )
    before, after = results["every seq (before)"], results["summary first"]
    print(
        f"gap audit: summary first costs the gateway {after / before:.2f}x the CPU of before "
        f"({filler.stats.devices_looked_at} of {devices} devices read seq by seq)"
    )
    client.close()


def main() -> None:
    from devtools.services import InfluxServer, MosquittoServer
    from facility.topics import shared_readings

    print(f"{MESSAGES} device messages × {POINTS} points, {DEVICES} devices", flush=True)
    messages = _messages(MESSAGES)
    encoder_costs(messages)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with InfluxServer(root / "influxd") as influx, MosquittoServer(root / "mqtt") as broker:
            host, port = broker.host, broker.port
            _LOGIN[:] = [broker.credentials]
            raw_mqtt = raw_mqtt_rate(host, port, shared_readings("bench-raw"), messages)
            raw_points, requests = raw_write_rate(influx.url, messages)
            e2e_messages, e2e_points = asyncio.run(
                end_to_end(host, port, influx.url, messages, root / "gw.spool")
            )
            ratio = e2e_messages / raw_mqtt
            print(f"raw MQTT receive (paho only)   {raw_mqtt:9.0f} messages/s")
            print(
                f"raw line-protocol writes       {raw_points:9.0f} points/s "
                f"({requests} requests of ~{BATCH_POINTS} points)"
            )
            print(
                f"end to end MQTT → InfluxDB     {e2e_messages:9.0f} messages/s = "
                f"{e2e_points:.0f} points/s"
            )
            print(
                f"ratio to raw MQTT receive: {ratio:.0%} (goal ≥ {GOAL_RATIO:.0%}); "
                f"to raw writes: {e2e_points / raw_points:.0%}; "
                f"points/s goal ≥ {GOAL_POINTS_S:,}: "
                f"{'met' if e2e_points >= GOAL_POINTS_S else 'NOT met'}"
            )
            two = scale_out(host, port, influx.url, messages)
            print(
                f"scale-out, 2 gateway processes {two:9.0f} messages/s = {two * POINTS:.0f} "
                f"points/s: {two / raw_mqtt:.0%} of one raw subscriber"
            )
            one_year_query(influx.url)
            gap_audit_cost(influx.url)


if __name__ == "__main__":
    main()
