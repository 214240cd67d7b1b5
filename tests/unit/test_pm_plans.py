"""Effective PM plans: profile defaults, per-asset overrides, and bad input located in the file."""

from __future__ import annotations

from datetime import date
from textwrap import dedent

import pytest

from device_profiles import load_library
from device_profiles.models import DeviceProfile, TriggerKind
from facility.types import Asset, AssetStatus, Criticality, DeviceClass
from maintenance.pm_plans import (
    DEFAULT_ANCHOR,
    Overrides,
    PlanError,
    all_effective_plans,
    effective_plans,
    parse_overrides,
)

LIBRARY = load_library()
PUMP_PROFILE = LIBRARY["vfd-booster-pump"]
TANK_PROFILE = LIBRARY["water-tank-monitor"]
SOURCE = "plans.yaml"


def asset(
    asset_no: str = "HT-PMP-001",
    profile: DeviceProfile | None = PUMP_PROFILE,
    status: AssetStatus = AssetStatus.IN_SERVICE,
    install_date: date | None = date(2021, 12, 23),
) -> Asset:
    cls = DeviceClass(asset_no.split("-")[1])
    return Asset(
        asset_no=asset_no,
        site=asset_no.split("-")[0],
        device_class=cls,
        name_en="x",
        name_zh="x",
        building="",
        zone="",
        system="",
        profile=profile.id if profile else None,
        make="",
        model="",
        serial="",
        install_date=install_date,
        criticality=Criticality.HIGH,
        status=status,
        endpoint=None,
    )


def overrides(text: str) -> Overrides:
    return parse_overrides(dedent(text), SOURCE)


def test_profile_defaults_anchor_on_the_install_date() -> None:
    plans = effective_plans(asset(), PUMP_PROFILE)
    assert [(p.name, p.source, p.anchor) for p in plans] == [
        ("inspection", "profile", date(2021, 12, 23)),
        ("annual_service", "profile", date(2021, 12, 23)),
    ]
    assert [t.kind for t in plans[0].plan.triggers] == [TriggerKind.METER, TriggerKind.FLOATING]


def test_no_install_date_anchors_on_a_fixed_monday() -> None:
    plans = effective_plans(asset(install_date=None), PUMP_PROFILE)
    assert {p.anchor for p in plans} == {DEFAULT_ANCHOR}
    assert DEFAULT_ANCHOR.weekday() == 0


def test_retired_assets_have_no_plans() -> None:
    assert effective_plans(asset(status=AssetStatus.RETIRED), PUMP_PROFILE) == []


def test_override_changes_switches_off_and_adds() -> None:
    found = overrides(
        """
        HT-PMP-001:
          inspection:
            triggers:
              - {kind: meter, point: run_hours, every: 400}
            lead_time_days: 3
            last_done: 2026-10-12
          annual_service: {enabled: false, anchor: 2026-03-01}
          seal_check:
            title: {en: Seal check, zh: 机封检查}
            triggers: [{kind: calendar, every: 2, unit: week}]
            checklist:
              - {text: {en: No leak, zh: 无渗漏}}
        """
    )
    plans = {p.name: p for p in effective_plans(asset(), PUMP_PROFILE, found)}
    inspection = plans["inspection"]
    assert inspection.source == "override"
    assert inspection.plan.triggers[0].every == 400
    assert inspection.plan.lead_time_days == 3
    assert inspection.plan.checklist == PUMP_PROFILE.pm_plans[0].checklist  # kept
    assert inspection.last_done == date(2026, 10, 12)
    assert (plans["annual_service"].enabled, plans["annual_service"].anchor) == (
        False,
        date(2026, 3, 1),
    )
    assert plans["seal_check"].source == "asset"
    # Changing anything the rules use changes the stored definition's hash.
    default = effective_plans(asset(), PUMP_PROFILE)[0]
    assert inspection.definition_hash() != default.definition_hash()


BAD_OVERRIDES = [
    pytest.param(
        """
        HT-PMP-001:
          inspection:
            triggers: [{kind: meter, point: run_hours, every: 0}]
        """,
        "plans.yaml:4: HT-PMP-001.inspection.triggers[0].every: Input should be greater than 0",
        id="zero interval",
    ),
    pytest.param(
        """
        HT-PMP-001:
          inspection:
            triggers: [{kind: floating, every: -3, unit: month}]
        """,
        "plans.yaml:4: HT-PMP-001.inspection.triggers[0].every: Input should be greater than 0",
        id="negative interval",
    ),
    pytest.param(
        """
        HT-PMP-001:
          annual_service:
            triggers:
              - {kind: calendar, every: 1.5, unit: month}
        """,
        "plans.yaml:5: HT-PMP-001.annual_service.triggers[0].every: every 1.5 month: expected a "
        "whole number of months (e.g. 2 weeks rather than 0.5 month)",
        id="fractional months",
    ),
    pytest.param(
        """
        HT-PMP-001:
          inspection:
            triggers: [{kind: meter, point: run_hour, every: 500}]
        """,
        "plans.yaml:4: HT-PMP-001.inspection.triggers[0].point: unknown point 'run_hour'; "
        "did you mean 'run_hours'?",
        id="unknown meter",
    ),
    pytest.param(
        """
        HT-PMP-001:
          inspection:
            triggers: [{kind: meter, point: current, every: 500}]
        """,
        "plans.yaml:4: HT-PMP-001.inspection.triggers[0].point: point 'current' is not a "
        "counter; a meter needs a point with `counter: true` (counters here: run_hours, "
        "start_count, energy)",
        id="meter on a point that does not count",
    ),
    pytest.param(
        """
        HT-PMP-001:
          inspection:
            checklist: []
        """,
        "plans.yaml:4: HT-PMP-001.inspection.checklist: a checklist without items; expected at "
        "least one item (or leave `checklist` out to keep the profile's)",
        id="checklist without items",
    ),
    pytest.param(
        """
        HT-PMP-001:
          new_plan:
            lead_time_days: 2
        """,
        "plans.yaml:3: HT-PMP-001.new_plan.title: required for a plan of this asset's own "
        "(not in its profile)",
        id="new plan without title",
    ),
    pytest.param(
        """
        HT-PMP-001:
          inspection:
            triggers: [{kind: condition, alarm: vibration_high}]
        """,
        "plans.yaml:4: HT-PMP-001.inspection.triggers[0].alarm: unknown alarm 'vibration_high'; "
        "expected one of: pressure_low, pressure_high, overcurrent, drive_fault, comm_loss",
        id="unknown alarm",
    ),
    pytest.param(
        """
        HT-PMP-001:
          inspection: {enabled: maybe}
        """,
        "plans.yaml:3: HT-PMP-001.inspection.enabled: expected true or false",
        id="enabled not a boolean",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_OVERRIDES)
def test_bad_overrides_are_refused_with_file_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(PlanError) as caught:
        effective_plans(asset(), PUMP_PROFILE, overrides(text))  # parse, then merge
    assert expected in [str(issue) for issue in caught.value.issues]


def test_unknown_asset_and_every_problem_at_once() -> None:
    found = overrides(
        """
        HT-PMP-001:
          inspection:
            triggers: [{kind: meter, point: run_hour, every: 500}]
        HT-PMP-999:
          inspection: {lead_time_days: 1}
        """
    )
    with pytest.raises(PlanError) as caught:
        all_effective_plans([asset(), asset("HT-TNK-001", TANK_PROFILE)], LIBRARY, found)
    assert [str(i) for i in caught.value.issues] == [
        "plans.yaml:4: HT-PMP-001.inspection.triggers[0].point: unknown point 'run_hour'; "
        "did you mean 'run_hours'?",
        "plans.yaml:5: HT-PMP-999: unknown asset: not in the ledger (facility ledger list)",
    ]


def test_meter_trigger_on_an_asset_without_profile_is_refused() -> None:
    found = overrides(
        """
        HT-LGT-101:
          relamp:
            title: {en: Relamp, zh: 换灯}
            triggers: [{kind: meter, point: burn_hours, every: 100}]
        """
    )
    with pytest.raises(PlanError, match=r"needs the asset's profile"):
        effective_plans(asset("HT-LGT-101", None), None, found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HT-PMP-001: [1, 2]\n", "plans.yaml:1: HT-PMP-001: expected plan names"),
        ("- a\n- b\n", "plans.yaml:1: expected a mapping: asset number -> plan name"),
        ("HT-PMP-001:\n  inspection: [\n", "plans.yaml:3: not valid YAML"),
    ],
)
def test_shape_errors(text: str, expected: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_overrides(text, SOURCE)
    assert str(caught.value.issues[0]).startswith(expected)


def test_empty_file_means_no_overrides() -> None:
    assert parse_overrides("", SOURCE).plans == {}
