"""``alarms.yaml``: per-asset overrides, mode rules and notification rules.

Alarm definitions start as the device profiles' defaults (one set per device class); this one
file, kept under version control next to ``facility.toml`` (``[alarms] definitions_file``),
changes them for particular assets, sites or classes, adds alarms, declares the mode rules
that suppress alarms by design, the notification channels and rules. Who may do what (a
supervisor taking alarms out of service, ...) is not decided here: roles come from
``facility users`` (docs/decisions/005-identity.md); an old file's ``supervisors:`` list is
read, ignored, and warned about when the file is loaded. Every key is optional; a missing
file means the profile defaults and built-in mode rules. Errors name ``file:line``, the field
and what was expected, all at once::

    schema_version: 1
    defaults:
      max_shelve_h: {critical: 1, high: 8, medium: 12, low: 24}
      realarm_min: {critical: 15, high: 60}
    overrides:
      - assets: [HT-PMP-001]          # or sites: [HT] / classes: [PMP]; none = every asset
        alarm: pressure_low
        limit: 1.8
        on_delay_s: 20
    add:
      - assets: [HT-PMP-002]
        alarm: {name: motor_hot, point: motor_temp, kind: hi, limit: 90, priority: medium,
                label: {en: Motor hot, zh: 电机温度高}}
    suppression:                      # replaces the built-in rules when given
      - name: pool_off_season
        classes: [PDP]
        alarms: [level_low]
        months: [11, 12, 1, 2, 3, 4]
    notifications:
      channels: [{name: centre_mail, type: email, to: [centre@example.com]}]
      rules: [{name: urgent, priorities: [critical, high], channels: [centre_mail]}]
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from device_profiles.models import AlarmDefinition, AlarmText, Priority, Text
from facility.errors import ConfigError, Issue, IssuesError
from facility.types import DeviceClass

log = logging.getLogger(__name__)

Loc = tuple[str | int, ...]
PointMatch = int | bool | float | str


class AlarmFileError(IssuesError):
    """alarms.yaml (or the definitions compiled from it) does not validate."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Selector(_Model):
    """Which assets an entry applies to: all selectors given must match; none = every asset."""

    assets: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    classes: tuple[DeviceClass, ...] = ()

    def selects(self, asset_no: str, site: str, device_class: str) -> bool:
        return (
            (not self.assets or asset_no in self.assets)
            and (not self.sites or site in self.sites)
            and (not self.classes or device_class in self.classes)
        )


class AlarmOverride(_Selector):
    """Changes to one alarm (by name) of the selected assets; later entries win."""

    alarm: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    enabled: bool | None = None
    limit: float | None = None
    states: tuple[int | bool, ...] | None = None
    deadband: float | None = Field(default=None, ge=0)
    on_delay_s: float | None = Field(default=None, ge=0)
    off_delay_s: float | None = Field(default=None, ge=0)
    latching: bool | None = None
    priority: Priority | None = None
    realarm_min: float | None = Field(default=None, ge=0, description="0: never re-alarm")
    max_shelve_h: float | None = Field(default=None, ge=0, description="0: may not be shelved")
    label: Text | None = None
    text: AlarmText | None = None


class AddedAlarm(_Selector):
    """An alarm the profile does not have, for the selected assets."""

    alarm: AlarmDefinition


class SuppressionRule(_Selector):
    """Suppress alarms by design while a mode applies (still counting what would fire)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    alarms: tuple[str, ...] = Field(default=(), description="alarm names; none = every alarm")
    months: tuple[int, ...] = Field(default=(), description="local calendar months, 1..12")
    when_points: dict[str, tuple[PointMatch, ...]] = Field(
        default_factory=dict, description="applies while any of these points has one of the values"
    )

    @field_validator("months")
    @classmethod
    def _months(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [m for m in value if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months must be 1..12, got {', '.join(map(str, bad))}")
        return value

    @model_validator(mode="after")
    def _has_condition(self) -> SuppressionRule:
        if not self.months and not self.when_points:
            raise ValueError("a mode rule needs `months` or `when_points` (when it applies)")
        return self


class Defaults(_Model):
    """Per-priority defaults applied to every alarm unless overridden."""

    max_shelve_h: dict[Priority, float] = Field(
        default_factory=lambda: {
            Priority.CRITICAL: 1.0,
            Priority.HIGH: 8.0,
            Priority.MEDIUM: 12.0,
            Priority.LOW: 24.0,
        }
    )
    realarm_min: dict[Priority, float] = Field(
        default_factory=lambda: {Priority.CRITICAL: 15.0, Priority.HIGH: 60.0}
    )
    quality_alarm: bool = Field(
        default=True, description="a bad_quality alarm per asset for bad or uncertain values"
    )
    group_window_s: float = Field(default=60.0, gt=0)
    group_min_alarms: int = Field(default=3, ge=2)
    fleeting_s: float = Field(default=10.0, gt=0)

    @field_validator("max_shelve_h", "realarm_min")
    @classmethod
    def _non_negative(cls, value: dict[Priority, float]) -> dict[Priority, float]:
        bad = [f"{p.value}: {v:g}" for p, v in value.items() if v < 0]
        if bad:
            raise ValueError(f"expected numbers >= 0, got {', '.join(bad)}")
        return value


class ChannelType(StrEnum):
    EMAIL = "email"
    WECOM = "wecom"  # WeCom (企业微信) group robot
    DINGTALK = "dingtalk"  # DingTalk (钉钉) group robot
    WEBHOOK = "webhook"  # generic JSON POST
    MQTT = "mqtt"


class Channel(_Model):
    """Where notifications go. Webhook URLs carry keys: prefer ``url_env`` to ``url``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: ChannelType
    to: tuple[str, ...] = Field(default=(), description="e-mail recipients")
    url: str | None = None
    url_env: str | None = Field(default=None, description="environment variable with the URL")
    secret_env: str | None = Field(default=None, description="DingTalk signing secret variable")
    topic: str | None = Field(default=None, description="MQTT topic")
    language: Literal["zh", "en", "both"] = "both"
    mention_all: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Channel:
        kind = self.type.value
        if self.type is ChannelType.EMAIL and not self.to:
            raise ValueError("an email channel needs `to` (the recipients)")
        if self.type is ChannelType.EMAIL and any("@" not in a for a in self.to):
            raise ValueError("`to`: expected e-mail addresses such as centre@example.com")
        webhook = (ChannelType.WECOM, ChannelType.DINGTALK, ChannelType.WEBHOOK)
        if self.type in webhook:
            if not (self.url or self.url_env):
                raise ValueError(f"a {kind} channel needs `url` or `url_env`")
            if self.url and not self.url.startswith(("http://", "https://")):
                raise ValueError(f"url {self.url!r}: expected http:// or https://")
        if self.type is ChannelType.MQTT and not self.topic:
            raise ValueError("an mqtt channel needs `topic`")
        if self.secret_env and self.type is not ChannelType.DINGTALK:
            raise ValueError("`secret_env` only applies to dingtalk channels")
        return self


NotifyEvent = Literal["raise", "realarm", "clear", "ack", "flood", "incident", "escalation"]


class NotifyRule(_Selector):
    """Who is told about which alarms, when; and whom to escalate to if nobody acknowledges."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    priorities: tuple[Priority, ...] = ()
    alarms: tuple[str, ...] = Field(default=(), description="alarm names; none = every alarm")
    hours: tuple[str, str] | None = Field(
        default=None, description='local time window ["08:00", "18:00"]; may wrap midnight'
    )
    weekdays: tuple[int, ...] = Field(default=(), description="1 = Monday .. 7 = Sunday")
    channels: tuple[str, ...] = Field(min_length=1)
    events: tuple[NotifyEvent, ...] = ("raise", "realarm", "flood", "incident")
    ack_deadline_min: float | None = Field(default=None, gt=0)
    escalate_to: tuple[str, ...] = ()

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is not None:
            for text in value:
                parse_hhmm(text)
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [d for d in value if not 1 <= d <= 7]
        if bad:
            raise ValueError(f"weekdays are 1 (Monday) .. 7 (Sunday), got {bad}")
        return value

    @model_validator(mode="after")
    def _escalation(self) -> NotifyRule:
        if self.escalate_to and self.ack_deadline_min is None:
            raise ValueError("`escalate_to` needs `ack_deadline_min` (when to escalate)")
        if self.ack_deadline_min is not None and not self.escalate_to:
            raise ValueError("`ack_deadline_min` needs `escalate_to` (whom to escalate to)")
        return self


def parse_hhmm(text: str) -> int:
    """Minutes after midnight of ``HH:MM`` (``24:00`` is the end of the day)."""
    hours, sep, minutes = str(text).partition(":")
    if (
        sep
        and hours.isdigit()
        and minutes.isdigit()
        and len(minutes) == 2
        and (0 <= int(hours) <= 23 or (int(hours) == 24 and int(minutes) == 0))
        and 0 <= int(minutes) <= 59
    ):
        return int(hours) * 60 + int(minutes)
    raise ValueError(f"time {text!r}: expected HH:MM, e.g. 08:00 or 24:00")


class Notifications(_Model):
    channels: tuple[Channel, ...] = ()
    rules: tuple[NotifyRule, ...] = ()
    retry_max: int = Field(default=6, ge=0, description="attempts after the first")
    retry_base_s: float = Field(default=2.0, gt=0)
    retry_cap_s: float = Field(default=300.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)

    def channel(self, name: str) -> Channel:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(name)


class AlarmFile(_Model):
    schema_version: Literal[1] = 1
    supervisors: tuple[str, ...] = ()  # obsolete: read and ignored (roles: facility users)
    defaults: Defaults = Field(default_factory=Defaults)
    overrides: tuple[AlarmOverride, ...] = ()
    add: tuple[AddedAlarm, ...] = ()
    suppression: tuple[SuppressionRule, ...] | None = None  # None: the built-in rules
    notifications: Notifications = Field(default_factory=Notifications)


# The built-in mode rules (docs/alarms.md). Outdoor pools in Zhongshan open May-October;
# out of season the pool stands drained, so a low level is its normal state (a dry-run trip,
# a flooded or open plant room still matter all year).
BUILTIN_SUPPRESSION = (
    SuppressionRule(
        name="pool_off_season",
        classes=(DeviceClass.PDP,),
        alarms=("level_low",),
        months=(11, 12, 1, 2, 3, 4),
    ),
    SuppressionRule(
        name="fire_panel_test_mode",
        classes=(DeviceClass.FAP,),
        alarms=("fire", "panel_fault", "panel_disabled", "sprinkler_pressure_low"),
        when_points={"panel_state": (4,), "test_mode": (True,)},
    ),
)
# The ledger's own mode rule: every alarm of an asset out of service is suppressed.
LEDGER_OUT_OF_SERVICE = "asset_out_of_service"


@dataclass(frozen=True)
class LoadedAlarmFile:
    """The validated file and where each of its items is, to locate later problems."""

    path: str
    content: AlarmFile
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def issue(self, loc: Loc, message: str) -> Issue:
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self.lines:
                line = self.lines[loc[:cut]]
                break
        return Issue(self.path, line, _loc_text(loc), message)

    @property
    def suppression(self) -> tuple[SuppressionRule, ...]:
        rules = self.content.suppression
        return BUILTIN_SUPPRESSION if rules is None else rules


def _loc_text(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# -- YAML with the line of every item ---------------------------------------------------------


class _Builder:
    """Plain data from a YAML node tree, noting the line of every key and item."""

    def __init__(self) -> None:
        self.loader = yaml.SafeLoader("")
        self.lines: dict[Loc, int] = {}
        self.duplicates: list[tuple[Loc, int]] = []

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            data: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if key in data:
                    self.duplicates.append(((*loc, key), line))
                self.lines[(*loc, key)] = line
                data[key] = self.build(value_node, (*loc, key))
            return data
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


def parse_alarm_file(text: str, path: str) -> LoadedAlarmFile:
    """Validate alarms.yaml text; AlarmFileError lists every problem with file:line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise AlarmFileError([Issue(path, line, "", f"not valid YAML: {problem}")]) from None
    if node is None:
        return LoadedAlarmFile(path, AlarmFile())
    builder = _Builder()
    try:
        data = builder.build(node, ())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise AlarmFileError([Issue(path, line, "", f"not valid YAML: {exc}")]) from None
    finally:
        builder.loader.dispose()
    lines = builder.lines
    issues = [
        Issue(path, line, _loc_text(loc), "duplicate key") for loc, line in builder.duplicates
    ]
    if not isinstance(data, dict):
        raise AlarmFileError(
            [Issue(path, 1, "", "expected a mapping (schema_version, overrides…)")]
        )
    try:
        content = AlarmFile.model_validate(data)
    except ValidationError as exc:
        loaded = LoadedAlarmFile(path, AlarmFile(), lines)
        for err in exc.errors():
            loc = tuple(err["loc"])
            issue = loaded.issue(loc, _message(err, loc))
            if issue not in issues:
                issues.append(issue)
        raise AlarmFileError(issues) from None
    loaded = LoadedAlarmFile(path, content, lines)
    issues.extend(_cross_check(loaded))
    if issues:
        raise AlarmFileError(issues)
    if content.supervisors:
        # a name in a file anyone can edit must not look like a permission: say so once,
        # at start-up, and keep reading old files
        where = loaded.issue(("supervisors",), "")
        log.warning(
            "%s:%s: supervisors: ignored; roles now come from `facility users` "
            "(e.g. facility users role %s --role supervisor)",
            path,
            where.line or 1,
            content.supervisors[0],
        )
    return loaded


def _message(err: Any, loc: Loc) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required; missing"
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<="}
    if kind in bounds:
        ctx = err.get("ctx", {})
        limit = next(iter(ctx.values()), "?")
        shown = f"{limit:g}" if isinstance(limit, int | float) else str(limit)
        return f"expected a number {bounds[kind]} {shown}, got {err['input']!r}"
    message = str(err["msg"])
    return message.removeprefix("Value error, ")


def _cross_check(loaded: LoadedAlarmFile) -> list[Issue]:
    content = loaded.content
    issues: list[Issue] = []
    names = [c.name for c in content.notifications.channels]
    seen: set[str] = set()
    for i, channel in enumerate(content.notifications.channels):
        if channel.name in seen:
            issues.append(
                loaded.issue(("notifications", "channels", i, "name"), "duplicate channel name")
            )
        seen.add(channel.name)
    for i, rule in enumerate(content.notifications.rules):
        for key in ("channels", "escalate_to"):
            for name in getattr(rule, key):
                if name not in names:
                    issues.append(
                        loaded.issue(
                            ("notifications", "rules", i, key), _unknown(name, names, "channel")
                        )
                    )
    return issues


def _unknown(name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown {what} {name!r}; did you mean {close[0]!r}?"
    return f"unknown {what} {name!r}; expected one of: {', '.join(known) or '(none defined)'}"


def load_alarm_file(path: Path | None) -> LoadedAlarmFile:
    """Read alarms.yaml; a missing file (or None) means the defaults."""
    if path is None or not path.exists():
        return LoadedAlarmFile(str(path or "alarms.yaml"), AlarmFile())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    return parse_alarm_file(text, str(path))
