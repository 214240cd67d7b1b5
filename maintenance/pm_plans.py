"""Effective PM plans per asset: the profile's default plans plus per-asset overrides.

Pure apart from reading the overrides file. The overrides file (``[maintenance]
plan_overrides`` in facility.toml) is YAML keyed by asset number, then plan name::

    HT-PMP-001:
      inspection:                       # change a plan of the profile: any plan field
        triggers:
          - {kind: meter, point: run_hours, every: 400}
          - {kind: floating, every: 2, unit: month}
        last_done: 2026-10-12           # the cycle starts from the last real inspection
      annual_service:
        anchor: 2026-03-01              # calendar grid anchor (default: install date)
    HT-TNK-002:
      cleaning: {enabled: false}        # switch a default plan off for this asset
      disinfection_check:               # a plan of this asset's own: title + triggers
        title: {en: Extra disinfection check, zh: 加强消毒检查}
        triggers: [{kind: calendar, every: 1, unit: month}]
        checklist:
          - {text: {en: Residual chlorine, zh: 余氯}, kind: number, limits: [0.05, 4]}

Every problem is reported with file:line and field, all at once (``PlanError``): a zero or
negative interval, a fractional number of days/weeks/months/years, an unknown or non-counter
meter point, an unknown alarm, a checklist given without items, an unknown asset.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from device_profiles.models import (
    DeviceProfile,
    Loc,
    PmPlan,
    TriggerKind,
    cross_check,
    loc_text,
)
from facility.errors import Issue, IssuesError
from facility.types import Asset, AssetStatus

PlanSource = Literal["profile", "override", "asset"]

# Calendar grids of assets without an install date: a Monday, the 1st of January.
DEFAULT_ANCHOR = date(2024, 1, 1)

# Fields an override may set besides the plan's own.
EXTRA_FIELDS = ("enabled", "anchor", "last_done")


class PlanError(IssuesError):
    """PM plans or overrides that do not validate (nothing was applied)."""


@dataclass(frozen=True)
class PlanOverride:
    """What the overrides file says about one plan of one asset."""

    asset_no: str
    name: str
    fields: Mapping[str, Any]  # plan fields to replace (validated together with the plan)
    enabled: bool = True
    anchor: date | None = None
    last_done: date | None = None
    lines: Mapping[Loc, int] = field(default_factory=dict)  # relative to the plan
    asset_line: int | None = None

    @property
    def line(self) -> int | None:
        return self.lines.get(())


@dataclass(frozen=True)
class Overrides:
    """Every override of a file, by asset number then plan name."""

    source: str = ""
    plans: Mapping[str, Mapping[str, PlanOverride]] = field(default_factory=dict)

    def of(self, asset_no: str) -> Mapping[str, PlanOverride]:
        return self.plans.get(asset_no, {})


NO_OVERRIDES = Overrides()


@dataclass(frozen=True)
class EffectivePlan:
    """One plan of one asset as the generator runs it."""

    asset_no: str
    site: str
    name: str
    plan: PmPlan
    source: PlanSource
    profile: str | None
    anchor: date
    enabled: bool = True
    last_done: date | None = None

    @property
    def key(self) -> str:
        return f"{self.asset_no}:{self.name}"

    def definition(self) -> dict[str, Any]:
        """The plan as stored in ``pm_plans.definition`` (JSON)."""
        return self.plan.model_dump(mode="json", exclude_defaults=False)

    def definition_hash(self, plan_text: str | None = None) -> str:
        """Changes when anything the rules use changes (plan, anchor, enabled);
        ``plan_text``: ``plan_json(self.plan)`` when the caller has it already."""
        return definition_digest(plan_text or plan_json(self.plan), self.anchor, self.enabled)


def plan_json(plan: PmPlan) -> str:
    """A plan as canonical JSON text."""
    return json.dumps(plan.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


def definition_digest(plan_text: str, anchor: date, enabled: bool) -> str:
    key = f"{plan_text}|{anchor.isoformat()}|{enabled}"
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


# --- checks ------------------------------------------------------------------------------


def plan_problems(plan: PmPlan, profile: DeviceProfile | None) -> list[tuple[Loc, str]]:
    """What the profile schema does not already refuse: whole time intervals, and meter
    points / alarms of the asset's profile (an asset without a profile has neither)."""
    problems: list[tuple[Loc, str]] = []
    for t, trigger in enumerate(plan.triggers):
        loc: Loc = ("triggers", t)
        timed = trigger.kind in (TriggerKind.CALENDAR, TriggerKind.FLOATING)
        if timed and trigger.every and trigger.every != round(trigger.every):
            problems.append(
                (
                    (*loc, "every"),
                    f"every {trigger.every:g} {trigger.unit}: expected a whole number of "
                    f"{trigger.unit}s (e.g. 2 weeks rather than 0.5 month)",
                )
            )
        if profile is None and trigger.kind in (TriggerKind.METER, TriggerKind.CONDITION):
            what = "counters" if trigger.kind is TriggerKind.METER else "alarms"
            problems.append(
                (
                    (*loc, "kind"),
                    f"a {trigger.kind.value} trigger needs the asset's profile "
                    f"(its {what}); this asset has no profile",
                )
            )
    if profile is not None:
        for problem in cross_check(None, None, profile.points, profile.alarms, [plan]):
            # cross_check locates inside ("pm_plans", 0, ...): strip the list part
            problems.append((problem.loc[2:], problem.render()))
    return problems


# --- the overrides file -------------------------------------------------------------------


class _Reader:
    """Plain data from a YAML node tree, noting the line of every location."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[Loc, int] = {}

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)  # a key's line wins over its value's
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(self.loader.construct_object(key_node, deep=True))
                self.lines[(*loc, key)] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, (*loc, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


def _line(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def parse_overrides(text: str, source: str) -> Overrides:
    """Read an overrides file's text; PlanError naming file:line and field for each problem.

    Only the shape is checked here; ``effective_plans`` checks each override merged with the
    asset's profile plan (the merged plan is validated whole).
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Overrides(source)
        reader = _Reader(loader)
        data = reader.build(node, ())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PlanError([Issue(source, line, "", f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    lines = reader.lines
    if not isinstance(data, dict):
        raise PlanError(
            [Issue(source, lines.get(()), "", "expected a mapping: asset number -> plan name")]
        )
    issues: list[Issue] = []
    plans: dict[str, dict[str, PlanOverride]] = {}
    for asset_no, asset_plans in data.items():
        if not isinstance(asset_plans, dict) or not asset_plans:
            issues.append(
                Issue(
                    source,
                    lines.get((asset_no,)),
                    asset_no,
                    "expected plan names, each a mapping of plan fields "
                    "(e.g. `inspection: {lead_time_days: 3}`)",
                )
            )
            continue
        for name, values in asset_plans.items():
            loc: Loc = (asset_no, name)
            where = f"{asset_no}.{name}"
            if not isinstance(values, dict):
                issues.append(
                    Issue(source, _line(lines, loc), where, "expected a mapping of plan fields")
                )
                continue
            extra = {k: values[k] for k in EXTRA_FIELDS if k in values}
            fields = {k: v for k, v in values.items() if k not in EXTRA_FIELDS and k != "name"}
            problems = _extra_problems(extra)
            if "checklist" in fields and not fields["checklist"]:
                problems.append(
                    (
                        "checklist",
                        "a checklist without items; expected at least one item "
                        "(or leave `checklist` out to keep the profile's)",
                    )
                )
            for key, message in problems:
                issues.append(Issue(source, _line(lines, (*loc, key)), f"{where}.{key}", message))
            if problems:
                continue
            plans.setdefault(asset_no, {})[name] = PlanOverride(
                asset_no=asset_no,
                name=name,
                fields=fields,
                enabled=bool(extra.get("enabled", True)),
                anchor=extra.get("anchor"),
                last_done=extra.get("last_done"),
                lines={k[2:]: v for k, v in lines.items() if k[:2] == loc},
                asset_line=lines.get((asset_no,)),
            )
    if issues:
        raise PlanError(issues)
    return Overrides(source, plans)


def _extra_problems(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if "enabled" in extra and not isinstance(extra["enabled"], bool):
        problems.append(("enabled", "expected true or false"))
    for key in ("anchor", "last_done"):
        if key in extra and not isinstance(extra[key], date):
            problems.append((key, f"expected a date YYYY-MM-DD, got {extra[key]!r}"))
    return problems


def load_overrides(path: Path | None) -> Overrides:
    """The overrides file at ``path`` (None: no overrides)."""
    if path is None:
        return NO_OVERRIDES
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError([Issue(str(path), None, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError([Issue(str(path), None, "", f"cannot be read: {exc}")]) from None
    return parse_overrides(text, str(path))


# --- effective plans ----------------------------------------------------------------------


def _validation_messages(exc: ValidationError) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    errors = exc.errors()
    locs = [tuple(err["loc"]) for err in errors]
    for err in errors:
        loc: Loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in locs):
            continue  # a list emptied by its own bad items: the items' errors say it

        problems = (err.get("ctx") or {}).get("problems")
        if problems:  # the profile models' located consistency problems
            found.extend(((*loc, *p.loc), p.render()) for p in problems)
            continue
        message = err["msg"]
        if err["type"] == "missing":
            message = "required for a plan of this asset's own (not in its profile)"
        found.append((loc, message))
    return found


log = logging.getLogger(__name__)
_RETIRED_WARNED: set[str] = set()  # said once per asset and process


def effective_plans(
    asset: Asset,
    profile: DeviceProfile | None,
    overrides: Overrides = NO_OVERRIDES,
) -> list[EffectivePlan]:
    """The asset's plans: its profile's, changed, switched off or added to by overrides.

    Retired assets have none. PlanError lists every override that does not validate.
    """
    if asset.status is AssetStatus.RETIRED:
        if overrides.of(asset.asset_no) and asset.asset_no not in _RETIRED_WARNED:
            _RETIRED_WARNED.add(asset.asset_no)
            log.warning(
                "plan overrides for %s are ignored: the asset is retired (remove them from "
                "the overrides file)",
                asset.asset_no,
            )
        return []
    defaults = {p.name: p for p in profile.pm_plans} if profile is not None else {}
    own = overrides.of(asset.asset_no)
    anchor = asset.install_date or DEFAULT_ANCHOR
    result: list[EffectivePlan] = []
    issues: list[Issue] = []
    for name in [*defaults, *(n for n in own if n not in defaults)]:
        override = own.get(name)
        base = defaults.get(name)
        if override is None:
            assert base is not None
            result.append(
                EffectivePlan(
                    asset.asset_no,
                    asset.site,
                    name,
                    base,
                    "profile",
                    profile.id if profile else None,
                    anchor,
                )
            )
            continue
        data = base.model_dump() if base is not None else {"name": name}
        data.update(override.fields)
        data["name"] = name
        where = f"{asset.asset_no}.{name}"
        try:
            plan = PmPlan.model_validate(data)
        except ValidationError as exc:
            for loc, message in _validation_messages(exc):
                issues.append(
                    Issue(
                        overrides.source,
                        _line(override.lines, loc) or override.line,
                        f"{where}.{loc_text(loc)}",
                        message,
                    )
                )
            continue
        problems = plan_problems(plan, profile)
        for loc, message in problems:
            issues.append(
                Issue(
                    overrides.source,
                    _line(override.lines, loc) or override.line,
                    f"{where}.{loc_text(loc)}",
                    message,
                )
            )
        if problems:
            continue
        result.append(
            EffectivePlan(
                asset.asset_no,
                asset.site,
                name,
                plan,
                "override" if base is not None else "asset",
                profile.id if profile else None,
                override.anchor or anchor,
                override.enabled,
                override.last_done,
            )
        )
    if issues:
        raise PlanError(issues)
    return result


def all_effective_plans(
    assets: Iterable[Asset],
    profiles: Mapping[str, DeviceProfile],
    overrides: Overrides = NO_OVERRIDES,
) -> list[EffectivePlan]:
    """Every asset's plans; PlanError lists every problem (unknown assets too) at once."""
    issues: list[Issue] = []
    result: list[EffectivePlan] = []
    known: set[str] = set()
    checked: set[str] = set()
    for asset in assets:
        known.add(asset.asset_no)
        profile = profiles.get(asset.profile) if asset.profile else None
        if profile is not None and profile.id not in checked:
            checked.add(profile.id)
            issues.extend(
                Issue(f"profile {profile.id}", None, f"pm_plans.{p.name}.{loc_text(loc)}", msg)
                for p in profile.pm_plans
                for loc, msg in plan_problems(p, profile)
            )
        try:
            result.extend(effective_plans(asset, profile, overrides))
        except PlanError as exc:
            issues.extend(exc.issues)
    for asset_no, plans in overrides.plans.items():
        if asset_no not in known:
            first = next(iter(plans.values()))
            issues.append(
                Issue(
                    overrides.source,
                    first.asset_line,
                    asset_no,
                    "unknown asset: not in the ledger (facility ledger list)",
                )
            )
    if issues:
        raise PlanError(sorted(issues, key=lambda i: (i.line or 0, i.field)))
    return result
