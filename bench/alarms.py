"""Alarm evaluation throughput: 5,000 points, 20,000 alarm definitions.

A synthetic fleet of 250 devices x 20 points, each point watched by four limit alarms
(HIHI/HI/LO/LOLO with deadband, no delay), values noisy around the middle of their band
with a few excursions per second that raise and clear alarms (so transitions and the SQLite
journal are exercised). In the same run, on the same mosquitto:

1. raw MQTT receive: a bare subscriber (persistent session) drains N device messages that
   mosquitto queued for it while it was away — the rate the bus delivers at;
2. receive + decode (``facility.payload.decode``) only;
3. receive + decode + the alarm engine (journal in SQLite, states and events published);
4. the engine's core alone, in process: decode + ``AlarmCore.on_message`` per message.

Printed: messages/s, readings/s, alarm evaluations/s, and the ratios to the raw rate.

    python -m bench alarms          # or: make bench
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEVICES = 250
POINTS = 20
ROUNDS = 40  # messages per device: 40 x 250 = 10,000 messages, 200,000 readings
SPIKES = 5  # points jumping above HIHI in each round (raise, then clear)
SITE = "HT"


def _fleet() -> tuple[object, list[bytes], list[str]]:
    from device_profiles.models import Priority, Text
    from facility.payload import DeviceMessage, device_topic, encode
    from facility.types import Asset, AssetStatus, Criticality, DeviceClass, Quality, Reading
    from gateway.alarms.definitions import AlarmSet, AlarmSpec, Check, alarm_id
    from gateway.alarms.state import AlarmRules

    assets: dict[str, Asset] = {}
    by_asset: dict[str, tuple[AlarmSpec, ...]] = {}
    limits = [(Check.HIHI, 90.0), (Check.HI, 80.0), (Check.LO, 20.0), (Check.LOLO, 10.0)]
    for d in range(DEVICES):
        asset_no = f"{SITE}-PMP-{d + 1:03d}"
        assets[asset_no] = Asset(
            asset_no, SITE, DeviceClass.PMP, asset_no, asset_no, "B", "Z", "water_supply",
            "bench", "m", "m", "s", None, Criticality.LOW, AssetStatus.IN_SERVICE, None,
        )  # fmt: skip
        specs = []
        for p in range(POINTS):
            for check, limit in limits:
                name = f"p{p:02d}_{check.value}"
                specs.append(
                    AlarmSpec(
                        alarm_id(asset_no, name),
                        SITE,
                        asset_no,
                        "PMP",
                        name,
                        check,
                        f"p{p:02d}",
                        limit,
                        frozenset(),
                        1.0,
                        Priority.LOW,
                        Text(en=name, zh=name),
                        None,
                        AlarmRules(),
                        "bench",
                    )
                )
        by_asset[asset_no] = tuple(specs)
    alarm_set = AlarmSet(
        specs={s.alarm_id: s for specs in by_asset.values() for s in specs},
        by_asset=by_asset,
        assets=assets,
    )
    rng = random.Random(7)
    values = {(d, p): rng.uniform(40, 60) for d in range(DEVICES) for p in range(POINTS)}
    start = datetime.now(UTC) - timedelta(seconds=ROUNDS)
    payloads: list[bytes] = []
    topics: list[str] = []
    for r in range(ROUNDS):
        ts = start + timedelta(seconds=r)
        # a plant mostly in its normal band (mean-reverting noise) with a few excursions
        spikes = {(rng.randrange(DEVICES), rng.randrange(POINTS)) for _ in range(SPIKES)}
        for d in range(DEVICES):
            asset_no = f"{SITE}-PMP-{d + 1:03d}"
            readings = []
            for p in range(POINTS):
                v = values[(d, p)] + 0.2 * (50.0 - values[(d, p)]) + rng.gauss(0, 4)
                values[(d, p)] = v = 95.0 if (d, p) in spikes else min(100.0, max(0.0, v))
                readings.append(
                    Reading(SITE, asset_no, f"p{p:02d}", round(v, 2), "bar", Quality.GOOD, None, ts)
                )
            message = DeviceMessage(
                SITE, asset_no, "PMP", r, ts, tuple(readings), {"comm_ok": True}
            )
            payloads.append(encode(message))
            topics.append(device_topic(SITE, asset_no))
    return alarm_set, payloads, topics


def core_only(alarm_set: object, payloads: list[bytes], topics: list[str]) -> tuple[float, int]:
    from facility.payload import decode
    from gateway.alarms.core import AlarmCore

    core = AlarmCore(alarm_set)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    started = time.perf_counter()
    records = 0
    for i, (topic, payload) in enumerate(zip(topics, payloads, strict=True)):
        records += len(
            core.on_message(decode(topic, payload), now + timedelta(seconds=i / DEVICES))
        )
    return time.perf_counter() - started, records


async def drain(
    url: str,
    client_id: str,
    payloads: list[bytes],
    topics: list[str],
    handler_factory: Callable[..., Any],
) -> float:
    """Seconds for ``client_id`` to receive the N messages queued while it was away."""
    from facility.mqtt import BrokerSettings, MqttLink

    broker = BrokerSettings.from_url(url)
    subscription = [(f"facility/v1/{SITE}/+", 1)]
    first = MqttLink(broker, client_id, subscriptions=subscription, session_expiry_s=3600)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(first.connected.wait(), 10)
    await asyncio.sleep(0.3)  # SUBACK
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    publisher = MqttLink(broker, f"{client_id}-pub", max_inflight=2000)
    pub_task = asyncio.create_task(publisher.run())
    await asyncio.wait_for(publisher.connected.wait(), 10)
    for i in range(0, len(payloads), 2000):
        await asyncio.gather(
            *(
                publisher.publish(t, p)
                for t, p in zip(topics[i : i + 2000], payloads[i : i + 2000], strict=True)
            )
        )
    pub_task.cancel()
    await asyncio.gather(pub_task, return_exceptions=True)

    done = asyncio.Event()
    on_message, finish, stop = await handler_factory(done, len(payloads))
    link = MqttLink(
        broker, client_id, subscriptions=subscription, session_expiry_s=3600, on_message=on_message
    )
    started = time.perf_counter()
    task = asyncio.create_task(link.run())
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - started
    await finish(link)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await stop()
    return elapsed


async def phases(
    url: str, alarm_set: object, payloads: list[bytes], topics: list[str], tmp: Path
) -> dict[str, float]:
    from facility.payload import decode
    from gateway.alarms.runtime import AlarmEngine
    from gateway.alarms.store import AlarmStore

    loop = asyncio.get_running_loop()

    async def raw(
        done: asyncio.Event, n: int
    ) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
        count = [0]

        def on_message(_topic: str, _payload: bytes) -> None:
            count[0] += 1
            if count[0] == n:
                loop.call_soon_threadsafe(done.set)

        return on_message, _noop_finish, _noop

    async def decoded(
        done: asyncio.Event, n: int
    ) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
        count = [0]

        def on_message(topic: str, payload: bytes) -> None:
            decode(topic, payload)
            count[0] += 1
            if count[0] == n:
                loop.call_soon_threadsafe(done.set)

        return on_message, _noop_finish, _noop

    engine_box: dict[str, object] = {}

    async def with_engine(
        done: asyncio.Event, n: int
    ) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
        store = AlarmStore(f"sqlite:///{tmp / 'bench.db'}")
        engine = AlarmEngine(alarm_set, store=store)  # type: ignore[arg-type]
        engine_task = asyncio.create_task(engine.run())
        engine_box["engine"] = engine

        async def watch() -> None:
            while engine.core.stats.messages < n:  # noqa: ASYNC110 - counted in another task
                await asyncio.sleep(0.01)
            done.set()

        watcher = asyncio.create_task(watch())

        def on_message(topic: str, payload: bytes) -> None:
            engine.on_message_threadsafe(decode(topic, payload))

        async def finish(link: object) -> None:
            engine.link = link  # type: ignore[assignment]

        async def stop() -> None:
            await asyncio.sleep(1.0)  # let the writer flush the last transitions
            watcher.cancel()
            engine_task.cancel()
            await asyncio.gather(engine_task, return_exceptions=True)
            store.close()

        return on_message, finish, stop

    results = {
        "raw": await drain(url, "bench-alarms-raw", payloads, topics, raw),
        "decode": await drain(url, "bench-alarms-decode", payloads, topics, decoded),
        "engine": await drain(url, "bench-alarms-engine", payloads, topics, with_engine),
    }
    engine = engine_box["engine"]
    results["journal"] = float(engine.stats.written)  # type: ignore[attr-defined]
    return results


async def _noop_finish(_link: object) -> None:
    return None


async def _noop() -> None:
    return None


def main() -> None:
    from devtools.services import MosquittoServer

    alarm_set, payloads, topics = _fleet()
    n = len(payloads)
    readings = n * POINTS
    evaluations = n * POINTS * 4
    print(
        f"fleet: {DEVICES} devices, {DEVICES * POINTS:,} points, "
        f"{len(alarm_set.specs):,} alarm definitions; {n:,} messages = {readings:,} readings"  # type: ignore[attr-defined]
    )
    seconds, records = core_only(alarm_set, payloads, topics)
    print(
        f"core only (decode + evaluate, in process): {n / seconds:,.0f} msg/s, "
        f"{readings / seconds:,.0f} readings/s, {evaluations / seconds:,.0f} evaluations/s "
        f"({records} journal entries)"
    )
    with tempfile.TemporaryDirectory() as tmp, MosquittoServer(Path(tmp) / "mqtt") as broker:
        results = asyncio.run(phases(broker.url, alarm_set, payloads, topics, Path(tmp)))
    raw = n / results["raw"]
    for name in ("raw", "decode", "engine"):
        rate = n / results[name]
        print(
            f"MQTT {name:7}: {rate:,.0f} msg/s = {rate * POINTS:,.0f} readings/s "
            f"({rate / raw:.0%} of raw receive)"
        )
    print(f"engine journal entries written: {results['journal']:.0f}")
    needed = DEVICES * POINTS  # 5,000 points at 1 Hz
    engine_rate = n / results["engine"] * POINTS
    print(f"headroom at 5,000 points/s: {engine_rate / needed:.1f}x")


if __name__ == "__main__":
    main()
