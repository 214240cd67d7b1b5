"""Device limits learned at runtime (pure): what a refusal teaches, how the planner uses it,
and how it is remembered on disk."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from collectors.modbus.limits import DeviceLimitStore
from collectors.modbus.planner import (
    NOTHING_LEARNED,
    Gap,
    LearnedLimits,
    ReadRequest,
    learn,
    plan_requests,
)
from device_profiles.models import ModbusDefaults, Point, Table
from tests.unit.test_modbus_planner import limits, pt, shape

H, C = Table.HOLDING, Table.COIL


def spans(points: list[Point]) -> dict[str, tuple[int, int]]:
    return {p.name: (p.modbus.address, p.modbus.end) for p in points if p.modbus}


# forty registers in pairs (float32), with a hole of 6 unmapped registers at 20..25
WIDE = [pt(f"p{i:02}", "holding", i * 2, "float32") for i in range(10)] + [
    pt(f"q{i:02}", "holding", 26 + i * 2, "float32") for i in range(10)
]


def test_exception_3_halves_the_block_until_the_device_answers() -> None:
    device = limits(max_gap=8)
    (block,) = plan_requests(WIDE, device)
    assert (block.address, block.count) == (0, 46)
    learned = learn(block, 3, spans(WIDE), device, NOTHING_LEARNED)
    assert learned == LearnedLimits(max_registers=23)
    again = plan_requests(WIDE, device, learned)
    assert all(r.count <= 23 for r in again)
    # a half refused again halves again
    learned = learn(again[0], 3, spans(WIDE), device, learned)
    assert learned is not None
    assert learned.max_registers == again[0].count // 2 == 10
    assert all(r.count <= 10 for r in plan_requests(WIDE, device, learned))


def test_exception_3_never_splits_a_value_and_one_point_teaches_nothing() -> None:
    device = limits()
    two = [pt("a", "holding", 0, "float64"), pt("b", "holding", 4, "float64")]
    (block,) = plan_requests(two, device)
    learned = learn(block, 3, spans(two), device, NOTHING_LEARNED)
    assert learned is not None
    assert learned.max_registers == 4
    single = plan_requests(two, device, learned)[0]
    assert learn(single, 3, spans(two), device, learned) is None
    assert learn(block, 4, spans(two), device, NOTHING_LEARNED) is None  # device failure


def test_exception_3_on_bits_learns_a_bit_limit() -> None:
    coils = [pt(f"c{i}", "coil", i, "bool") for i in range(8)]
    (block,) = plan_requests(coils, limits())
    learned = learn(block, 3, spans(coils), limits(), NOTHING_LEARNED)
    assert learned == LearnedLimits(max_bits=4)
    assert shape(plan_requests(coils, limits(), learned)) == [(C, 0, 4), (C, 4, 4)]


def test_exception_2_stops_bridging_the_gap_nearest_the_middle() -> None:
    device = limits(max_gap=8)
    points = [pt("a", "holding", 0), pt("b", "holding", 3), pt("c", "holding", 10)]
    (block,) = plan_requests(points, device)
    learned = learn(block, 2, spans(points), device, NOTHING_LEARNED)
    assert learned == LearnedLimits(gaps=frozenset({Gap(H, 4, 9)}))
    assert shape(plan_requests(points, device, learned)) == [(H, 0, 4), (H, 10, 1)]
    first = plan_requests(points, device, learned)[0]
    learned = learn(first, 2, spans(points), device, learned)
    assert learned is not None
    assert shape(plan_requests(points, device, learned)) == [(H, 0, 1), (H, 3, 1), (H, 10, 1)]
    # a block without a gap refused with exception 2: a point's own address is wrong
    lone = plan_requests(points, device, learned)[0]
    assert learn(lone, 2, spans(points), device, learned) is None


def test_a_learned_gap_holds_for_every_poll_class_plan() -> None:
    device = limits(max_gap=16)
    learned = LearnedLimits(gaps=frozenset({Gap(H, 5, 7)}))
    fast = [pt("a", "holding", 0), pt("c", "holding", 12)]  # would span 1..11, including 5..7
    assert shape(plan_requests(fast, device, learned)) == [(H, 0, 1), (H, 12, 1)]
    other_table = [pt("a", "input", 0), pt("c", "input", 12)]
    assert len(plan_requests(other_table, device, learned)) == 1


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([pt("a", "holding", 0), pt("b", "holding", 1)], [(H, 0, 2)]),
        ([pt("a", "holding", 0), pt("b", "holding", 2)], [(H, 0, 1), (H, 2, 1)]),
        ([pt("a", "holding", 0, "bit", bit=0), pt("b", "holding", 0, "bit", bit=3)], [(H, 0, 1)]),
    ],
    ids=["adjacent merge", "one unused register splits", "bits of one register"],
)
def test_strict_gaps_never_bridges(points: list[Point], expected: list[object]) -> None:
    assert shape(plan_requests(points, limits(max_gap=8, strict_gaps=True))) == expected


def test_store_remembers_per_device_and_profile(tmp_path: Path) -> None:
    path = tmp_path / "collector" / "device_limits.json"
    learned = LearnedLimits(max_registers=30, gaps=frozenset({Gap(H, 22, 29)}))
    DeviceLimitStore(path).put("HT-PMP-001", "vfd-booster-pump", learned)
    again = DeviceLimitStore(path)
    assert again.get("HT-PMP-001", "vfd-booster-pump") == learned
    # another profile (the device was replaced): start from the profile's limits
    assert again.get("HT-PMP-001", "other-pump") == NOTHING_LEARNED
    assert again.get("HT-PMP-002", "vfd-booster-pump") == NOTHING_LEARNED
    assert [p.name for p in path.parent.iterdir()] == ["device_limits.json"]  # no temp left
    assert "learned_at" in json.loads(path.read_text())["devices"]["HT-PMP-001"]


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"version": 9, "devices": {}}', "[" * 100_000],
    ids=["broken", "list", "other version", "deep"],
)
def test_unreadable_store_is_learned_again_not_fatal(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "device_limits.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING):
        store = DeviceLimitStore(path)
    assert store.get("HT-PMP-001", "vfd-booster-pump") == NOTHING_LEARNED
    assert str(path) in caplog.text
    assert "learned again" in caplog.text
    store.put("HT-PMP-001", "vfd-booster-pump", LearnedLimits(max_registers=8))
    assert DeviceLimitStore(path).get("HT-PMP-001", "vfd-booster-pump").max_registers == 8


def test_bad_entry_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "device_limits.json"
    entry = {"profile": "p", "max_registers": -3, "gaps": []}
    path.write_text(json.dumps({"version": 1, "devices": {"X": entry}}))
    assert DeviceLimitStore(path).get("X", "p") == NOTHING_LEARNED


def test_describe_says_what_was_learned() -> None:
    learned = LearnedLimits(max_registers=60, gaps=frozenset({Gap(H, 22, 29)}))
    assert learned.describe() == ("at most 60 registers per request; no read across holding 22-29")
    assert ReadRequest(H, 0, 2, ("a", "b")).end == 1
    assert ModbusDefaults().strict_gaps is False
