"""Alarm definitions: profile defaults, alarms.yaml overrides and additions, and every kind of
bad definition refused with file:line, field and what was expected."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from device_profiles import load_library
from device_profiles.models import Priority
from facility.types import Asset, AssetStatus
from gateway.alarms.alarmfile import (
    BUILTIN_SUPPRESSION,
    AlarmFileError,
    load_alarm_file,
    parse_alarm_file,
)
from gateway.alarms.definitions import QUALITY_ALARM, AlarmSet, Check, compile_alarms
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file

PROFILES = load_library()
ASSETS: list[Asset] = [a for p in demo_ledger_paths() for a in read_ledger_file(p)]


def compiled(text: str) -> AlarmSet:
    return compile_alarms(ASSETS, PROFILES, parse_alarm_file(text, "alarms.yaml"))


def errors(text: str) -> list[str]:
    with pytest.raises(AlarmFileError) as info:
        compiled(text)
    return [str(i) for i in info.value.issues]


def test_profile_defaults_for_every_monitored_asset() -> None:
    alarms = compile_alarms(ASSETS, PROFILES)
    monitored = {a.asset_no for a in ASSETS if a.monitored}
    assert set(alarms.by_asset) == monitored
    dry = alarms.specs["HT-PDP-001/dry_run"]
    assert (dry.check, dry.point, dry.states, dry.rules.latching) == (
        Check.STATE,
        "dry_run_trip",
        frozenset({True}),
        True,
    )
    assert dry.topic == "facility/v1/alarms/HT/HT-PDP-001/dry_run"
    assert dry.source == "profile pool-drainage-controller"
    # per-priority defaults: re-alarm and maximum shelve time
    fire = alarms.specs["HT-FAP-001/fire"]
    assert fire.rules.realarm_s == 15 * 60
    assert fire.rules.max_shelve_s == 3600
    low = alarms.specs["HT-PDP-001/level_low"]
    assert (low.rules.realarm_s, low.rules.max_shelve_s) == (None, 24 * 3600)
    assert alarms.specs[f"HT-PMP-001/{QUALITY_ALARM}"].check is Check.QUALITY
    assert alarms.suppression == BUILTIN_SUPPRESSION


def test_only_monitored_assets_get_alarms() -> None:
    """A retired asset raises no alarm; one in service with a profile but no endpoint is not
    polled, so it has no data and would only ever raise comm_loss: neither gets alarm slots."""
    retired = replace(ASSETS[0], status=AssetStatus.RETIRED)
    unpolled = replace(ASSETS[1], endpoint=None)
    assert retired.profile is not None
    assert unpolled.profile is not None
    alarms = compile_alarms([retired, unpolled, *ASSETS[2:]], PROFILES)
    assert retired.asset_no not in alarms.by_asset
    assert unpolled.asset_no not in alarms.by_asset
    assert retired.asset_no not in alarms.assets
    assert not [a for a in alarms.specs if a.split("/")[0] in (retired.asset_no, unpolled.asset_no)]
    assert set(alarms.by_asset) == {a.asset_no for a in ASSETS[2:]}


def test_overrides_by_asset_site_and_class_later_wins() -> None:
    alarms = compiled(
        """
overrides:
  - classes: [PMP]
    alarm: pressure_low
    on_delay_s: 20
  - assets: [HT-PMP-001]
    alarm: pressure_low
    limit: 1.8
    priority: critical
    realarm_min: 0
  - sites: [JU]
    alarm: comm_loss
    enabled: false
defaults:
  quality_alarm: false
"""
    )
    one, two = alarms.specs["HT-PMP-001/pressure_low"], alarms.specs["HT-PMP-002/pressure_low"]
    assert (one.limit, one.rules.on_delay_s, one.priority) == (1.8, 20, Priority.CRITICAL)
    assert one.rules.realarm_s is None
    assert one.source == "alarms.yaml:8"
    assert (two.limit, two.rules.on_delay_s, two.priority) == (1.5, 20, Priority.HIGH)
    assert not [a for a in alarms.specs if a.startswith("JU-") and a.endswith("/comm_loss")]
    assert "HT-PMP-001/comm_loss" in alarms.specs
    assert not [a for a in alarms.specs if a.endswith(QUALITY_ALARM)]


def test_added_alarm_and_replaced_mode_rules(caplog: pytest.LogCaptureFixture) -> None:
    alarms = compiled(
        """
supervisors: [wang.wei]
add:
  - assets: [HT-PMP-002]
    alarm:
      name: motor_hot
      point: motor_temp
      kind: hi
      limit: 90
      deadband: 5
      priority: medium
      label: {en: Motor hot, zh: 电机温度高}
suppression:
  - name: pump_room_works
    sites: [HT]
    classes: [PMP]
    months: [7]
"""
    )
    hot = alarms.specs["HT-PMP-002/motor_hot"]
    assert (hot.check, hot.limit, hot.deadband) == (Check.HI, 90, 5)
    assert hot.source == "alarms.yaml:5"
    assert "HT-PMP-001/motor_hot" not in alarms.specs
    assert [r.name for r in alarms.suppression] == ["pump_room_works"]
    # an old file's supervisors: list grants nothing; roles come from `facility users`
    assert not hasattr(alarms, "supervisors")
    (warned,) = [r.getMessage() for r in caplog.records if "supervisors" in r.getMessage()]
    assert warned.startswith("alarms.yaml:2: supervisors: ignored; roles now come from")


BAD = [
    (
        "negative delay",
        "overrides:\n  - alarm: pressure_low\n    on_delay_s: -5\n",
        "alarms.yaml:3: overrides[0].on_delay_s: expected a number >= 0, got -5",
    ),
    (
        "unknown key",
        "overrides:\n  - alarm: pressure_low\n    ondelay: 5\n",
        "alarms.yaml:3: overrides[0].ondelay: unknown key 'ondelay'",
    ),
    (
        "unknown alarm with a suggestion",
        "overrides:\n  - classes: [PMP]\n    alarm: presure_low\n    limit: 1\n",
        "alarms.yaml:3: overrides[0].alarm: matches no alarm of the selected assets: "
        "unknown alarm 'presure_low'; did you mean 'pressure_low'?",
    ),
    (
        "unknown alarm of a named asset",
        "overrides:\n  - assets: [HT-TNK-001]\n    alarm: pressure_low\n",
        "alarms.yaml:3: overrides[0].alarm: HT-TNK-001 (profile water-tank-monitor): "
        "unknown alarm 'pressure_low'",
    ),
    (
        "unknown asset",
        "overrides:\n  - assets: [HT-PMP-999]\n    alarm: pressure_low\n",
        "alarms.yaml:2: overrides[0].assets[0]: unknown monitored asset 'HT-PMP-999'",
    ),
    (
        "HI at or below LO after an override",
        "overrides:\n  - assets: [HT-PMP-003]\n    alarm: pressure_high\n    limit: 1.2\n",
        "alarms.yaml:4: overrides[0].limit: HT-PMP-003: hi limit 1.2 of alarm 'pressure_high' "
        "is not above the lo limit 1.5 of alarm 'pressure_low' on the same point",
    ),
    (
        "LOLO above LO",
        "overrides:\n  - assets: [HT-TNK-001]\n    alarm: level_lolo\n    limit: 0.9\n",
        "alarms.yaml:4: overrides[0].limit: HT-TNK-001: lolo limit 0.9 of 'level_lolo' is "
        "above lo limit 0.8 of 'level_low'",
    ),
    (
        "added alarm on an unknown point",
        "add:\n  - assets: [HT-PMP-002]\n    alarm: {name: hot, point: motor_tmp, kind: hi,\n"
        "            limit: 90, priority: low, label: {en: a, zh: b}}\n",
        "alarms.yaml:3: add[0].alarm.point: HT-PMP-002 (profile vfd-booster-pump): "
        "unknown point 'motor_tmp'; did you mean 'motor_temp'?",
    ),
    (
        "a state that the point does not have",
        "overrides:\n  - assets: [HT-PMP-001]\n    alarm: drive_fault\n    states: [9]\n",
        "alarms.yaml:4: overrides[0].states: HT-PMP-001: state 9 is not a state of point "
        "'fault_code'",
    ),
    (
        "mode rule naming an unknown alarm",
        "suppression:\n  - name: x\n    classes: [PDP]\n    alarms: [level_lo]\n    months: [1]\n",
        "alarms.yaml:4: suppression[0].alarms: unknown alarm 'level_lo'; did you mean 'level_low'?",
    ),
    (
        "mode rule without a condition",
        "suppression:\n  - name: x\n    classes: [PDP]\n",
        "alarms.yaml:2: suppression[0]: a mode rule needs `months` or `when_points`",
    ),
    (
        "notification rule naming an unknown channel",
        "notifications:\n  channels: [{name: centre_mail, type: email, to: [a@b.cn]}]\n"
        "  rules:\n    - {name: r, channels: [centre_mai]}\n",
        "alarms.yaml:4: notifications.rules[0].channels: unknown channel 'centre_mai'; "
        "did you mean 'centre_mail'?",
    ),
    (
        "escalation without a deadline",
        "notifications:\n  channels: [{name: m, type: email, to: [a@b.cn]}]\n"
        "  rules:\n    - {name: r, channels: [m], escalate_to: [m]}\n",
        "alarms.yaml:4: notifications.rules[0]: `escalate_to` needs `ack_deadline_min`",
    ),
    (
        "bad time window",
        "notifications:\n  channels: [{name: m, type: email, to: [a@b.cn]}]\n"
        "  rules:\n    - {name: r, channels: [m], hours: ['8', '18:00']}\n",
        "alarms.yaml:4: notifications.rules[0].hours: time '8': expected HH:MM",
    ),
    (
        "webhook without a URL",
        "notifications:\n  channels: [{name: w, type: wecom}]\n",
        "alarms.yaml:2: notifications.channels[0]: a wecom channel needs `url` or `url_env`",
    ),
    (
        "duplicate key",
        "supervisors: [a]\nsupervisors: [b]\n",
        "alarms.yaml:2: supervisors: duplicate key",
    ),
    ("not YAML", "overrides: [\n", "alarms.yaml:2: not valid YAML"),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_definitions_are_refused_with_file_line_and_field(
    name: str, text: str, expected: str
) -> None:
    found = errors(text)
    assert any(e.startswith(expected) for e in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = errors(
        "overrides:\n"
        "  - assets: [HT-PMP-003]\n    alarm: pressure_high\n    limit: 1.2\n"
        "  - assets: [HT-PMP-999]\n    alarm: pressure_low\n"
    )
    assert len(found) == 2
    assert [e.split(":")[1] for e in found] == ["4", "5"]


def test_a_missing_file_means_the_defaults(tmp_path: Path) -> None:
    loaded = load_alarm_file(tmp_path / "alarms.yaml")
    assert loaded.content.overrides == ()
    assert loaded.suppression == BUILTIN_SUPPRESSION
