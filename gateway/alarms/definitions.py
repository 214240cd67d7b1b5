"""Alarm definitions per asset: the profile's defaults, changed by alarms.yaml.

``compile_alarms(assets, profiles, alarm_file)`` gives one :class:`AlarmSpec` per alarm of
every monitored asset, with id ``<asset_no>/<alarm name>`` (e.g. ``HT-PDP-001/dry_run``):

1. the alarms of the asset's device profile, plus a ``bad_quality`` alarm per asset (a value
   that is bad or uncertain never raises a process alarm; it raises this one instead;
   ``defaults.quality_alarm: false`` turns it off);
2. ``add:`` entries of alarms.yaml for the assets they select;
3. ``overrides:`` entries in file order (a later entry wins), each selecting assets by
   ``assets`` / ``sites`` / ``classes``;
4. per-priority defaults for re-alarm and maximum shelve time.

Everything is checked before anything runs, and every problem is reported at once, located
in alarms.yaml (``file:line: field: message``) or in the profile: an override of an alarm or
asset that does not exist, an added alarm on an unknown point, a HI limit at or below a LO
limit of the same point (after overrides), HIHI below HI, LOLO above LO, negative delays.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from device_profiles.models import (
    AlarmDefinition,
    AlarmKind,
    AlarmText,
    DeviceProfile,
    Priority,
    Text,
)
from facility.errors import Issue
from facility.topics import alarm_state_topic
from facility.types import Asset
from gateway.alarms.alarmfile import (
    AlarmFile,
    AlarmFileError,
    Defaults,
    LoadedAlarmFile,
    Loc,
    Notifications,
    NotifyRule,
    SuppressionRule,
)
from gateway.alarms.state import AlarmRules

QUALITY_ALARM = "bad_quality"
DEFAULT_MAX_SHELVE_H = 8.0


class Check(StrEnum):
    """How a condition is evaluated (the profile's kinds plus the per-asset quality alarm)."""

    HIHI = "hihi"
    HI = "hi"
    LO = "lo"
    LOLO = "lolo"
    STATE = "state"
    ROC = "roc"
    COMM = "comm"
    QUALITY = "quality"
    SERVICE = "service"  # a system alarm: a service silent, stalled or offline (watchdog)


HIGH_CHECKS = frozenset({Check.HI, Check.HIHI})
LOW_CHECKS = frozenset({Check.LO, Check.LOLO})
PROCESS_CHECKS = frozenset({Check.HIHI, Check.HI, Check.LO, Check.LOLO, Check.STATE, Check.ROC})


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """One alarm of one asset, ready to evaluate."""

    alarm_id: str
    site: str
    asset_no: str
    device_class: str
    name: str
    check: Check
    point: str | None
    limit: float | None
    states: frozenset[int | bool]
    deadband: float
    priority: Priority
    label: Text
    text: AlarmText | None
    rules: AlarmRules
    source: str  # "profile vfd-booster-pump" or "alarms.yaml:12"

    @property
    def topic(self) -> str:
        return alarm_state_topic(self.site, self.asset_no, self.name)


def alarm_id(asset_no: str, name: str) -> str:
    return f"{asset_no}/{name}"


@dataclass(frozen=True)
class AlarmSet:
    """Every alarm of every monitored asset, and the file-level settings that go with them."""

    specs: Mapping[str, AlarmSpec]
    by_asset: Mapping[str, tuple[AlarmSpec, ...]]
    assets: Mapping[str, Asset]
    suppression: tuple[SuppressionRule, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    notifications: Notifications = field(default_factory=Notifications)

    @property
    def sites(self) -> list[str]:
        return sorted({a.site for a in self.assets.values()})


def quality_definition() -> AlarmDefinition:
    return AlarmDefinition(
        name=QUALITY_ALARM,
        kind=AlarmKind.COMM,  # no point of its own; Check.QUALITY marks it
        on_delay_s=60,
        priority=Priority.LOW,
        label=Text(en="Bad or uncertain value from the device", zh="设备数据质量异常"),
        text=AlarmText(
            cause=Text(
                en="A sensor failed, a value is out of its range, or the profile does not match",
                zh="传感器故障、数值超出量程或设备模板与设备不符",
            ),
            consequence=Text(
                en="Process alarms on this value cannot be trusted",
                zh="依赖该数值的工艺报警不可信",
            ),
            action=Text(en="Check the sensor and its wiring", zh="检查传感器及接线"),
        ),
    )


@dataclass
class _Draft:
    definition: AlarmDefinition
    check: Check
    origin: Loc | None  # where alarms.yaml last changed the limit (None: the profile)
    enabled: bool = True
    realarm_min: float | None = None
    max_shelve_h: float | None = None


def compile_alarms(
    assets: Iterable[Asset],
    profiles: Mapping[str, DeviceProfile],
    alarm_file: LoadedAlarmFile | None = None,
) -> AlarmSet:
    """Every alarm of every monitored asset; AlarmFileError listing every problem."""
    loaded = alarm_file or LoadedAlarmFile("alarms.yaml", AlarmFile())
    content = loaded.content
    # Asset.monitored, as everywhere: a retired asset raises nothing, and one without an
    # endpoint is not polled (no data: it could only ever raise comm_loss)
    monitored = {a.asset_no: a for a in assets if a.monitored}
    issues: list[Issue] = []
    used_overrides: set[int] = set()
    drafts_by_asset: dict[str, dict[str, _Draft]] = {}
    for asset in monitored.values():
        profile = profiles.get(asset.profile or "")
        if profile is None:
            issues.append(
                Issue(
                    "ledger",
                    None,
                    f"{asset.asset_no}.profile",
                    f"unknown profile {asset.profile!r}; known: {', '.join(sorted(profiles))}",
                )
            )
            continue
        drafts = _profile_drafts(profile, content.defaults)
        _add_alarms(asset, profile, loaded, drafts, issues)
        _apply_overrides(asset, profile, loaded, drafts, issues, used_overrides)
        drafts_by_asset[asset.asset_no] = drafts
        issues.extend(_limit_order(asset, profile, loaded, drafts))
    issues.extend(_selector_issues(loaded, monitored, profiles, used_overrides))
    unique = sorted(dict.fromkeys(issues), key=lambda i: (i.file, i.line or 0))
    if unique:
        raise AlarmFileError(unique)
    specs: dict[str, AlarmSpec] = {}
    by_asset: dict[str, tuple[AlarmSpec, ...]] = {}
    for asset_no, drafts in drafts_by_asset.items():
        asset = monitored[asset_no]
        built = [_spec(asset, d, loaded, content.defaults) for d in drafts.values() if d.enabled]
        by_asset[asset_no] = tuple(built)
        specs.update((s.alarm_id, s) for s in built)
    return AlarmSet(
        specs=specs,
        by_asset=by_asset,
        assets=monitored,
        suppression=loaded.suppression,
        defaults=content.defaults,
        notifications=content.notifications,
    )


def _check_of(definition: AlarmDefinition) -> Check:
    return Check(definition.kind.value)


def _profile_drafts(profile: DeviceProfile, defaults: Defaults) -> dict[str, _Draft]:
    drafts = {a.name: _Draft(a, _check_of(a), None) for a in profile.alarms}
    watched = any(a.point is not None for a in profile.alarms)
    if defaults.quality_alarm and watched and QUALITY_ALARM not in drafts:
        drafts[QUALITY_ALARM] = _Draft(quality_definition(), Check.QUALITY, None)
    return drafts


def _add_alarms(
    asset: Asset,
    profile: DeviceProfile,
    loaded: LoadedAlarmFile,
    drafts: dict[str, _Draft],
    issues: list[Issue],
) -> None:
    points = [p.name for p in profile.points]
    for i, added in enumerate(loaded.content.add):
        if not added.selects(asset.asset_no, asset.site, asset.device_class.value):
            continue
        definition = added.alarm
        loc: Loc = ("add", i, "alarm")
        if definition.name in drafts and drafts[definition.name].origin != loc:
            issues.append(
                loaded.issue(
                    (*loc, "name"),
                    f"{asset.asset_no} already has an alarm {definition.name!r}; "
                    "change it with `overrides:` or pick another name",
                )
            )
            continue
        if definition.point is not None and definition.point not in points:
            issues.append(
                loaded.issue(
                    (*loc, "point"),
                    f"{asset.asset_no} (profile {profile.id}): "
                    + _unknown(definition.point, points, "point"),
                )
            )
            continue
        issues.extend(_state_issues(asset, profile, definition, loaded, (*loc, "states")))
        drafts[definition.name] = _Draft(definition, _check_of(definition), loc)


_DEFINITION_KEYS = ("limit", "states", "deadband", "on_delay_s", "off_delay_s", "latching")


def _apply_overrides(
    asset: Asset,
    profile: DeviceProfile,
    loaded: LoadedAlarmFile,
    drafts: dict[str, _Draft],
    issues: list[Issue],
    used: set[int],
) -> None:
    for i, override in enumerate(loaded.content.overrides):
        if not override.selects(asset.asset_no, asset.site, asset.device_class.value):
            continue
        draft = drafts.get(override.alarm)
        loc: Loc = ("overrides", i)
        if draft is None:
            if asset.asset_no in override.assets:
                issues.append(
                    loaded.issue(
                        (*loc, "alarm"),
                        f"{asset.asset_no} (profile {profile.id}): "
                        + _unknown(override.alarm, sorted(drafts), "alarm"),
                    )
                )
            continue
        used.add(i)
        changes: dict[str, Any] = {
            key: getattr(override, key)
            for key in (*_DEFINITION_KEYS, "priority", "label", "text")
            if getattr(override, key) is not None
        }
        if changes:
            data = draft.definition.model_dump()
            data.update(
                {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in changes.items()}
            )
            try:
                draft.definition = AlarmDefinition.model_validate(data)
            except ValidationError as exc:
                for err in exc.errors():
                    issues.append(loaded.issue(loc, f"{asset.asset_no}: {_plain(err['msg'])}"))
                continue
            if "limit" in changes:
                draft.origin = (*loc, "limit")
            if "states" in changes:
                issues.extend(
                    _state_issues(asset, profile, draft.definition, loaded, (*loc, "states"))
                )
        if override.enabled is not None:
            draft.enabled = override.enabled
        if override.realarm_min is not None:
            draft.realarm_min = override.realarm_min
        if override.max_shelve_h is not None:
            draft.max_shelve_h = override.max_shelve_h


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ")


def _state_issues(
    asset: Asset,
    profile: DeviceProfile,
    definition: AlarmDefinition,
    loaded: LoadedAlarmFile,
    loc: Loc,
) -> list[Issue]:
    if definition.point is None or not definition.states:
        return []
    try:
        point = profile.point(definition.point)
    except KeyError:
        return []
    if not point.states:
        return []
    unknown = [v for v in definition.states if not isinstance(v, bool) and v not in point.states]
    if not unknown:
        return []
    named = ", ".join(f"{v} {n}" for v, n in sorted(point.states.items()))
    return [
        loaded.issue(
            loc,
            f"{asset.asset_no}: state {', '.join(map(str, unknown))} is not a state of point "
            f"{point.name!r}; expected one of: {named}",
        )
    ]


def _limit_order(
    asset: Asset, profile: DeviceProfile, loaded: LoadedAlarmFile, drafts: Mapping[str, _Draft]
) -> list[Issue]:
    """HI above LO, HIHI at or above HI, LOLO at or below LO, per point (enabled alarms)."""
    by_point: dict[str, list[_Draft]] = {}
    for draft in drafts.values():
        if draft.enabled and draft.definition.point and draft.definition.limit is not None:
            by_point.setdefault(draft.definition.point, []).append(draft)
    issues: list[Issue] = []
    for group in by_point.values():
        for a in group:
            for b in group:
                problem = _order_problem(a, b)
                if problem is None:
                    continue
                where = a.origin or b.origin
                message = f"{asset.asset_no}: {problem}"
                if where is not None:
                    issues.append(loaded.issue(where, message))
                else:
                    issues.append(
                        Issue(
                            f"profile {profile.id}",
                            None,
                            f"alarms ({a.definition.name}).limit",
                            problem,
                        )
                    )
    return issues


def _order_problem(a: _Draft, b: _Draft) -> str | None:
    la, lb = a.definition.limit, b.definition.limit
    assert la is not None
    assert lb is not None
    name_a, name_b = a.definition.name, b.definition.name
    if a.check in HIGH_CHECKS and b.check in LOW_CHECKS and la <= lb:
        return (
            f"{a.check.value} limit {la:g} of alarm {name_a!r} is not above the "
            f"{b.check.value} limit {lb:g} of alarm {name_b!r} on the same point; "
            "expected high limits above low limits"
        )
    if a.check is Check.HIHI and b.check is Check.HI and la < lb:
        return f"hihi limit {la:g} of {name_a!r} is below hi limit {lb:g} of {name_b!r}"
    if a.check is Check.LOLO and b.check is Check.LO and la > lb:
        return f"lolo limit {la:g} of {name_a!r} is above lo limit {lb:g} of {name_b!r}"
    return None


def _selector_issues(
    loaded: LoadedAlarmFile,
    monitored: Mapping[str, Asset],
    profiles: Mapping[str, DeviceProfile],
    used_overrides: set[int],
) -> list[Issue]:
    content = loaded.content
    known_assets = sorted(monitored)
    issues: list[Issue] = []
    sections: list[tuple[str, Sequence[Any]]] = [
        ("overrides", content.overrides),
        ("add", content.add),
        ("suppression", content.suppression or ()),
        ("notifications.rules", content.notifications.rules),
    ]
    for section, entries in sections:
        head: Loc = tuple(section.split("."))
        for i, entry in enumerate(entries):
            for k, asset_no in enumerate(entry.assets):
                if asset_no not in monitored:
                    issues.append(
                        loaded.issue(
                            (*head, i, "assets", k),
                            _unknown(asset_no, known_assets, "monitored asset"),
                        )
                    )
    for i, override in enumerate(content.overrides):
        # overrides naming assets were reported per asset above
        if i not in used_overrides and not override.assets:
            names = _alarm_names(monitored, profiles, override, content.defaults)
            issues.append(
                loaded.issue(
                    ("overrides", i, "alarm"),
                    "matches no alarm of the selected assets: "
                    + _unknown(override.alarm, names, "alarm"),
                )
            )
    rule_sections: list[tuple[str, Sequence[SuppressionRule | NotifyRule]]] = [
        ("suppression", content.suppression or ()),
        ("notifications.rules", content.notifications.rules),
    ]
    for section, rules in rule_sections:
        head = tuple(section.split("."))
        for i, rule in enumerate(rules):
            names = _alarm_names(monitored, profiles, rule, content.defaults)
            for name in rule.alarms:
                if name not in names:
                    issues.append(
                        loaded.issue((*head, i, "alarms"), _unknown(name, names, "alarm"))
                    )
            points = _point_names(monitored, profiles, rule)
            for point in getattr(rule, "when_points", {}):
                if point not in points:
                    issues.append(
                        loaded.issue((*head, i, "when_points"), _unknown(point, points, "point"))
                    )
    return issues


def _selected_profiles(
    monitored: Mapping[str, Asset], profiles: Mapping[str, DeviceProfile], selector: Any
) -> list[DeviceProfile]:
    ids = {
        a.profile
        for a in monitored.values()
        if a.profile is not None and selector.selects(a.asset_no, a.site, a.device_class.value)
    }
    return [profiles[i] for i in sorted(i for i in ids if i in profiles)]


def _alarm_names(
    monitored: Mapping[str, Asset],
    profiles: Mapping[str, DeviceProfile],
    selector: Any,
    defaults: Defaults,
) -> list[str]:
    names = {a.name for p in _selected_profiles(monitored, profiles, selector) for a in p.alarms}
    if defaults.quality_alarm and names:
        names.add(QUALITY_ALARM)
    return sorted(names)


def _point_names(
    monitored: Mapping[str, Asset], profiles: Mapping[str, DeviceProfile], selector: Any
) -> list[str]:
    return sorted(
        {p.name for prof in _selected_profiles(monitored, profiles, selector) for p in prof.points}
    )


def _unknown(name: str, known: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    if close:
        return f"unknown {what} {name!r}; did you mean {close[0]!r}?"
    shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
    return f"unknown {what} {name!r}; expected one of: {shown or '(none)'}"


def _spec(asset: Asset, draft: _Draft, loaded: LoadedAlarmFile, defaults: Defaults) -> AlarmSpec:
    definition = draft.definition
    priority = definition.priority
    realarm_min = (
        draft.realarm_min if draft.realarm_min is not None else defaults.realarm_min.get(priority)
    )
    max_shelve_h = (
        draft.max_shelve_h
        if draft.max_shelve_h is not None
        else defaults.max_shelve_h.get(priority, DEFAULT_MAX_SHELVE_H)
    )
    if draft.origin is not None:
        source = str(loaded.issue(draft.origin, "").file)
        line = loaded.issue(draft.origin, "").line
        source = f"{source}:{line}" if line is not None else source
    else:
        source = f"profile {asset.profile}"
    return AlarmSpec(
        alarm_id=alarm_id(asset.asset_no, definition.name),
        site=asset.site,
        asset_no=asset.asset_no,
        device_class=asset.device_class.value,
        name=definition.name,
        check=draft.check,
        point=definition.point,
        limit=definition.limit,
        states=frozenset(definition.states or ()),
        deadband=definition.deadband,
        priority=priority,
        label=definition.label,
        text=definition.text,
        rules=AlarmRules(
            on_delay_s=definition.on_delay_s,
            off_delay_s=definition.off_delay_s,
            latching=definition.latching,
            realarm_s=realarm_min * 60 if realarm_min else None,
            max_shelve_s=max_shelve_h * 3600,
        ),
        source=source,
    )
