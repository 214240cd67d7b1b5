"""Hot reload plans: only devices whose definition changed restart."""

from __future__ import annotations

import dataclasses

from collectors.fleet import Definition, plan_reload
from device_profiles import load_library
from facility.types import ModbusEndpoint
from tests.support import make_asset

PUMP = load_library()["vfd-booster-pump"]


def pump(no: int, unit: int | None = None) -> Definition:
    asset_no = f"HT-PMP-{no:03d}"
    endpoint = ModbusEndpoint("127.0.0.1", 15021, unit or no)
    return make_asset(asset_no, PUMP.id, endpoint), PUMP


def test_identical_definitions_plan_nothing() -> None:
    running = dict([(d[0].asset_no, d) for d in (pump(1), pump(2))])
    assert plan_reload(running, dict(running)).empty


def test_added_removed_and_changed_are_told_apart() -> None:
    running = {d[0].asset_no: d for d in (pump(1), pump(2), pump(3))}
    renamed = dataclasses.replace(pump(2)[0], name_en="Pump two (moved)")
    slower = PUMP.model_copy(update={"poll_periods_s": {**PUMP.poll_periods_s}})
    desired = {
        "HT-PMP-001": pump(1),  # same
        "HT-PMP-002": (renamed, PUMP),  # asset edited
        "HT-PMP-004": pump(4),  # new
    }
    plan = plan_reload(running, desired)
    assert plan.added == ("HT-PMP-004",)
    assert plan.removed == ("HT-PMP-003",)
    assert plan.changed == ("HT-PMP-002",)
    # an equal copy of a profile is no change
    assert plan_reload({"x": pump(1)}, {"x": (pump(1)[0], slower)}).empty


def test_endpoint_move_is_a_change() -> None:
    plan = plan_reload({"HT-PMP-001": pump(1)}, {"HT-PMP-001": pump(1, unit=9)})
    assert plan.changed == ("HT-PMP-001",)
