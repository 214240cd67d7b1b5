"""What a reading and one 40-point Modbus poll cost the collector, in CPU (timeit).

Baseline in the same run: ``Reading`` as it was before decision 010, a frozen slots
dataclass of the same fields, built and read the same way. Then the per-poll path of the
collector for the peer bench's device (``bench/peer_nodered.py``: 40 uint16 holding
registers in one request): ``decode_slots``, the poller's collected time and ``_carry``, the
device health, and ``facility.payload.encode`` of the message.

    python -m bench reading_cost
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

REPEAT = 7


def _best_us(fn: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=REPEAT)) / number * 1e6


def main() -> None:
    from bench.peer_nodered import bench_profile
    from collectors.modbus.decode import compile_request, decode_slots
    from collectors.modbus.planner import plan_requests
    from collectors.poller import DevicePoller
    from device_profiles.models import ModbusDefaults
    from facility.payload import DeviceMessage, encode
    from facility.types import PointValue, Quality, Reading

    @dataclass(frozen=True, slots=True)
    class DataclassReading:  # facility.types.Reading before decision 010
        site: str
        asset_no: str
        point: str
        value: PointValue
        unit: str
        quality: Quality
        source_ts: datetime | None
        collected_ts: datetime

    now = datetime.now(UTC)
    fields = ("HT", "HT-PMP-001", "current", 12.5, "A", Quality.GOOD, None, now)
    tuple_reading = Reading(*fields)
    class_reading = DataclassReading(*fields)

    def read_five(reading: Any) -> tuple[object, ...]:
        return reading.point, reading.value, reading.unit, reading.quality, reading.source_ts

    print("one reading, µs (best of 7)           dataclass   NamedTuple   ratio")
    for name, old, new, number in (
        ("build", lambda: DataclassReading(*fields), lambda: Reading(*fields), 200_000),
        (
            "read 5 attributes",
            lambda: read_five(class_reading),
            lambda: read_five(tuple_reading),
            200_000,
        ),
    ):
        before, after = _best_us(old, number), _best_us(new, number)
        print(f"  {name:35s} {before:9.3f} {after:12.3f} {after / before:7.2f}x")

    profile = bench_profile()
    (request,) = plan_requests(profile.points, profile.modbus or ModbusDefaults())
    slots = compile_request(profile, request)
    registers = [n * 7 for n in range(len(slots))]
    asset = SimpleNamespace(
        site="BN", asset_no="BN-PMP-001", device_class=SimpleNamespace(value="PMP")
    )
    poller = DevicePoller(SimpleNamespace(asset=asset, profile=profile), lambda _m: None)
    readings = tuple(decode_slots(slots, "BN", "BN-PMP-001", registers, now))
    message = DeviceMessage("BN", "BN-PMP-001", "PMP", 1, now, readings, {}, ())

    def poll() -> bytes:
        collected_ts = poller._next_ts()
        decoded = tuple(decode_slots(slots, "BN", "BN-PMP-001", registers, now))
        carried = poller._carry(decoded, collected_ts)
        health = poller.health.as_reading()
        return encode(
            DeviceMessage("BN", "BN-PMP-001", "PMP", 1, collected_ts, decoded, health, carried)
        )

    print(f"one poll of {len(slots)} points, µs (best of 7)")
    for name, fn, number in (
        ("decode_slots", lambda: decode_slots(slots, "BN", "BN-PMP-001", registers, now), 20_000),
        ("poller: collected time", poller._next_ts, 100_000),
        ("poller: _carry (every point read)", lambda: poller._carry(readings, now), 50_000),
        ("health.as_reading", poller.health.as_reading, 100_000),
        ("encode", lambda: encode(message), 20_000),
        ("the whole poll (the five above)", poll, 10_000),
    ):
        print(f"  {name:35s} {_best_us(fn, number):9.3f}")
