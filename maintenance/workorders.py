"""Work orders: the lifecycle, checklists, SLAs, failure codes and proof of fix. Pure, no I/O.

The lifecycle (states, transitions, what each needs) is the table of
``maintenance.wo_lifecycle``, re-exported here.

Completing needs every required checklist item answered, and failure codes (problem, cause,
remedy) on a corrective order; closing needs a verified order. A transition the lifecycle
does not allow is a ``WorkOrderError`` naming the order, its state and what to do instead;
the caller changes nothing.

Proof of fix: a corrective order raised from a signal (an alarm's point and its normal band)
is verified when, after completion, the signal stayed in band for the whole hold period with
readings at least every ``max_gap``, and reopened with the evidence when a reading left the
band; missing data never verifies.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from device_profiles.models import AlarmDefinition, AlarmKind, ChecklistItem, ChecklistKind
from device_profiles.models import Priority as Priority
from maintenance.wo_lifecycle import ATTACHING_STATES as ATTACHING_STATES
from maintenance.wo_lifecycle import FINAL_STATES as FINAL_STATES
from maintenance.wo_lifecycle import OPEN_STATES as OPEN_STATES
from maintenance.wo_lifecycle import Transition as Transition
from maintenance.wo_lifecycle import WorkOrderError as WorkOrderError
from maintenance.wo_lifecycle import WoState as WoState
from maintenance.wo_lifecycle import next_state as next_state


class WoKind(StrEnum):
    PREVENTIVE = "preventive"
    CORRECTIVE = "corrective"


# --- numbers ------------------------------------------------------------------------------

NUMBER_RE = re.compile(r"^WO-(?P<site>[A-Z]{2,4})-(?P<year>\d{4})-(?P<seq>\d{5,})$")


def format_number(site: str, year: int, seq: int) -> str:
    """``WO-HT-2026-00042``: per site, per year, never reused."""
    return f"WO-{site}-{year:04d}-{seq:05d}"


def parse_number(text: str) -> tuple[str, int, int]:
    """(site, year, seq) of a work-order number, or WorkOrderError."""
    match = NUMBER_RE.match(text.strip().upper())
    if not match:
        raise WorkOrderError(
            f"work order {text!r}: expected WO-<SITE>-<YYYY>-<NNNNN>, e.g. WO-HT-2026-00042"
        )
    return match["site"], int(match["year"]), int(match["seq"])


# --- SLAs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaTargets:
    """Response and completion targets per priority."""

    response: Mapping[Priority, timedelta]
    completion: Mapping[Priority, timedelta]

    @classmethod
    def from_config(
        cls, response_min: Mapping[str, float], completion_h: Mapping[str, float]
    ) -> SlaTargets:
        return cls(
            {Priority(k): timedelta(minutes=v) for k, v in response_min.items()},
            {Priority(k): timedelta(hours=v) for k, v in completion_h.items()},
        )

    def due(self, priority: Priority, created_at: datetime) -> tuple[datetime, datetime]:
        """(respond by, complete by) for an order created at ``created_at``."""
        return created_at + self.response[priority], created_at + self.completion[priority]


# Defaults (also facility.toml's): a technician on site within 15 min for life safety and
# the whole estate's water, within the day for the rest; sized so that a crew of the source
# plan's size completes 90 % of repairs in time (docs/maintenance.md).
DEFAULT_SLA = SlaTargets.from_config(
    {"critical": 15, "high": 30, "medium": 240, "low": 1440},
    {"critical": 4, "high": 24, "medium": 72, "low": 168},
)


# --- failure codes --------------------------------------------------------------------------


class CodeKind(StrEnum):
    PROBLEM = "problem"
    CAUSE = "cause"
    REMEDY = "remedy"


@dataclass(frozen=True)
class FailureCode:
    code: str
    kind: CodeKind
    label_en: str
    label_zh: str


# The catalogue migration 0003 loads; more can be added to the table.
FAILURE_CODES: tuple[FailureCode, ...] = tuple(
    FailureCode(code, CodeKind(kind), en, zh)
    for code, kind, en, zh in (
        ("P-LEAK", "problem", "Leak", "渗漏"),
        ("P-NOISE", "problem", "Noise or vibration", "异响或振动"),
        ("P-TRIP", "problem", "Tripped / stopped", "跳闸/停机"),
        ("P-NOSTART", "problem", "Does not start", "无法启动"),
        ("P-PRESSURE", "problem", "Pressure out of range", "压力异常"),
        ("P-LEVEL", "problem", "Level out of range", "液位异常"),
        ("P-QUALITY", "problem", "Water quality out of range", "水质异常"),
        ("P-LAMP", "problem", "Lamps out", "灯具不亮"),
        ("P-ALARM", "problem", "Alarm or fault indication", "报警或故障指示"),
        ("P-DOOR", "problem", "Door or lock", "门或锁"),
        ("P-COMM", "problem", "No communication", "通讯中断"),
        ("P-FLOOD", "problem", "Flooding", "水浸"),
        ("C-WEAR", "cause", "Wear", "磨损"),
        ("C-BLOCK", "cause", "Blockage or debris", "堵塞或杂物"),
        ("C-DRY", "cause", "No water at the inlet", "进口缺水"),
        ("C-ELEC", "cause", "Electrical fault", "电气故障"),
        ("C-SENSOR", "cause", "Sensor fault", "传感器故障"),
        ("C-SUPPLY", "cause", "Supply lost (water or power)", "供水或供电中断"),
        ("C-USE", "cause", "Misuse or vandalism", "使用不当或人为破坏"),
        ("C-WEATHER", "cause", "Weather", "天气原因"),
        ("C-UNKNOWN", "cause", "Cause not found", "原因不明"),
        ("R-REPLACE", "remedy", "Part replaced", "更换部件"),
        ("R-REPAIR", "remedy", "Repaired", "维修"),
        ("R-CLEAN", "remedy", "Cleaned", "清洁"),
        ("R-ADJUST", "remedy", "Adjusted or reset", "调整或复位"),
        ("R-CONTRACTOR", "remedy", "Handed to a contractor", "委外维修"),
        ("R-NONE", "remedy", "No action needed", "无需处理"),
    )
)


def code_problems(
    kind: WoKind,
    codes: Mapping[CodeKind, str | None],
    catalogue: Mapping[str, FailureCode],
) -> list[str]:
    """Why these failure codes cannot complete an order ([] when they can)."""
    problems: list[str] = []
    for code_kind in CodeKind:
        code = codes.get(code_kind)
        if code is None:
            if kind is WoKind.CORRECTIVE:
                known = ", ".join(c.code for c in catalogue.values() if c.kind is code_kind)
                problems.append(
                    f"a corrective order needs a {code_kind.value} code (--{code_kind.value}); "
                    f"expected one of: {known}"
                )
            continue
        found = catalogue.get(code.upper())
        if found is None or found.kind is not code_kind:
            known = ", ".join(c.code for c in catalogue.values() if c.kind is code_kind)
            problems.append(f"{code_kind.value} code {code!r} is unknown; expected one of: {known}")
    return problems


# --- checklists ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistLine:
    """One checklist item of an order and its answer (``answered_at`` None: not yet)."""

    position: int
    text_en: str
    text_zh: str
    kind: ChecklistKind
    required: bool = True
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    point: str | None = None
    passed: bool | None = None
    value_num: float | None = None
    value_text: str | None = None
    answered_at: datetime | None = None
    answered_by: str | None = None

    @classmethod
    def from_template(cls, position: int, item: ChecklistItem) -> ChecklistLine:
        low, high = item.limits if item.limits is not None else (None, None)
        return cls(
            position,
            item.text.en,
            item.text.zh,
            item.kind,
            item.required,
            item.unit,
            low,
            high,
            item.point,
        )

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def failed(self) -> bool:
        return self.passed is False

    def limits_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        unit = f" {self.unit}" if self.unit else ""
        return f"{_num(self.low)}..{_num(self.high)}{unit}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


_PASS = {"pass", "ok", "yes", "y", "true", "1", "合格", "通过", "正常", "是"}
_FAIL = {"fail", "failed", "no", "n", "false", "0", "不合格", "不通过", "异常", "否"}


@dataclass(frozen=True)
class Answer:
    """A parsed checklist answer."""

    passed: bool | None
    value_num: float | None = None
    value_text: str | None = None


def parse_answer(line: ChecklistLine, raw: str) -> Answer:
    """Check a technician's answer against the item's kind and limits.

    A number outside the limits is recorded as failed, not refused: the reading is evidence.
    """
    text = raw.strip()
    where = f"item {line.position} ({line.text_en})"
    if line.kind is ChecklistKind.PASS_FAIL:
        word = text.lower()
        if word in _PASS:
            return Answer(True, value_text=text)
        if word in _FAIL:
            return Answer(False, value_text=text)
        raise WorkOrderError(f"{where}: expected pass or fail (ok/yes, fail/no), got {raw!r}")
    if line.kind in (ChecklistKind.NUMBER, ChecklistKind.METER):
        try:
            value = float(text)
        except ValueError:
            unit = f" in {line.unit}" if line.unit else ""
            raise WorkOrderError(f"{where}: expected a number{unit}, got {raw!r}") from None
        if not math.isfinite(value):
            raise WorkOrderError(f"{where}: expected a finite number, got {raw!r}")
        if line.kind is ChecklistKind.METER:
            if value < 0:
                raise WorkOrderError(f"{where}: a meter reading cannot be negative ({raw!r})")
            return Answer(True, value_num=value)
        low_ok = line.low is None or value >= line.low
        high_ok = line.high is None or value <= line.high
        return Answer(low_ok and high_ok, value_num=value)
    if not text:
        what = (
            "a photo reference (file name or URL)" if line.kind is ChecklistKind.PHOTO else "text"
        )
        raise WorkOrderError(f"{where}: expected {what}, got nothing")
    return Answer(True, value_text=text)


def missing_required(lines: Sequence[ChecklistLine]) -> list[ChecklistLine]:
    """Required items not answered yet (completion waits for them)."""
    return [line for line in lines if line.required and not line.answered]


def completion_problems(
    number: str,
    kind: WoKind,
    lines: Sequence[ChecklistLine],
    codes: Mapping[CodeKind, str | None],
    catalogue: Mapping[str, FailureCode],
) -> list[str]:
    """Everything that stops an order from being completed ([] when it can be)."""
    problems = [
        f"checklist item {line.position} ({line.text_en}) is required and not answered"
        + (" (a photo is required)" if line.kind is ChecklistKind.PHOTO else "")
        for line in missing_required(lines)
    ]
    problems.extend(code_problems(kind, codes, catalogue))
    return [f"{number}: cannot complete: {p}" for p in problems]


# --- proof of fix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """The point that raised an order: its normal band (or its abnormal states), and what
    the alarm itself raises on — the limit and the on-delay — so that proof of fix reopens
    an order only on what would have raised the alarm again."""

    point: str
    low: float | None = None  # normal is >= low (a low limit plus its deadband)
    high: float | None = None  # normal is <= high (a high limit less its deadband)
    bad_states: tuple[float, ...] = ()  # values that are abnormal (state alarms)
    limit: float | None = None  # the alarm raises beyond this (None: beyond the band)
    on_delay_s: float = 0.0  # ... when it stays there this long

    def normal(self, value: float) -> bool:
        if self.bad_states:
            return all(not math.isclose(value, bad) for bad in self.bad_states)
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def alarming(self, value: float) -> bool:
        """Whether ``value`` is where the alarm raises (past the limit, not just outside the
        return band)."""
        if self.bad_states or self.limit is None:
            return not self.normal(value)
        if self.high is not None:
            return value > self.limit
        return value < self.limit

    def band_text(self) -> str:
        if self.bad_states:
            return "not " + "/".join(_state_text(v) for v in self.bad_states)
        if self.low is not None and self.high is not None:
            return f"{self.low:g}..{self.high:g}"
        if self.low is not None:
            return f">= {self.low:g}"
        return f"<= {self.high:g}" if self.high is not None else "any"

    def to_json(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "low": self.low,
            "high": self.high,
            "bad_states": list(self.bad_states),
            "limit": self.limit,
            "on_delay_s": self.on_delay_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signal:
        return cls(
            str(data["point"]),
            data.get("low"),
            data.get("high"),
            tuple(float(v) for v in data.get("bad_states") or ()),
            data.get("limit"),
            float(data.get("on_delay_s") or 0.0),
        )

    @classmethod
    def from_alarm(cls, alarm: AlarmDefinition) -> Signal | None:
        """The normal band of an alarm's point: the limit less its deadband (None: comm/roc)."""
        if alarm.point is None or alarm.kind in (AlarmKind.COMM, AlarmKind.ROC):
            return None
        delay = alarm.on_delay_s
        if alarm.kind is AlarmKind.STATE:
            states = tuple(float(s) for s in alarm.states or ())
            return cls(alarm.point, bad_states=states, on_delay_s=delay)
        assert alarm.limit is not None
        if alarm.kind in (AlarmKind.HI, AlarmKind.HIHI):
            return cls(
                alarm.point, high=alarm.limit - alarm.deadband, limit=alarm.limit, on_delay_s=delay
            )
        return cls(
            alarm.point, low=alarm.limit + alarm.deadband, limit=alarm.limit, on_delay_s=delay
        )


def _state_text(value: float) -> str:
    return f"{value:g}"


class FixVerdict(StrEnum):
    VERIFIED = "verified"
    REOPEN = "reopen"
    PENDING = "pending"  # not enough time or data yet


@dataclass(frozen=True)
class Sample:
    at: datetime
    value: float | None  # None: no good value at that time (bad quality)


@dataclass(frozen=True)
class FixCheck:
    """The outcome of a proof-of-fix check and its evidence."""

    verdict: FixVerdict
    reason: str
    evidence: tuple[Sample, ...] = ()
    checked: int = 0  # readings looked at

    def evidence_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "readings": self.checked,
            "evidence": [{"at": s.at.isoformat(), "value": s.value} for s in self.evidence],
        }


MAX_EVIDENCE = 10


def check_fix(
    signal: Signal,
    series: Sequence[Sample],
    completed_at: datetime,
    now: datetime,
    hold: timedelta,
    max_gap: timedelta | None = None,
) -> FixCheck:
    """Is the signal back in its normal band, and has it stayed there for ``hold``?"""
    max_gap = max_gap or hold / 3
    after = sorted((s for s in series if s.at >= completed_at), key=lambda s: s.at)
    raised = _raising_run(signal, after)
    if raised:
        first = raised[0]
        assert first.value is not None
        held = (raised[-1].at - first.at).total_seconds()
        return FixCheck(
            FixVerdict.REOPEN,
            f"{signal.point} = {first.value:g} at {first.at.isoformat(timespec='seconds')} "
            f"after completion, where the alarm raises"
            + (f" (limit {signal.limit:g})" if signal.limit is not None else "")
            + (f", for {held:g} s (its on-delay {signal.on_delay_s:g} s)" if held else ""),
            tuple(raised[:MAX_EVIDENCE]),
            len(after),
        )
    end = completed_at + hold
    if now < end:
        return FixCheck(
            FixVerdict.PENDING,
            f"watching {signal.point} until {end.isoformat(timespec='seconds')}",
            checked=len(after),
        )
    good = [s for s in after if s.value is not None and s.at <= max(end, now)]
    if not good:
        return FixCheck(
            FixVerdict.PENDING,
            f"no good reading of {signal.point} since completion: cannot verify on missing data",
        )
    # Covered: readings from the start of the hold to its end, no gap longer than max_gap.
    moments = [completed_at, *(s.at for s in good if s.at <= end)]
    last = max(s.at for s in good)
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    if last < end or any(gap > max_gap for gap in gaps) or (end - moments[-1]) > max_gap:
        return FixCheck(
            FixVerdict.PENDING,
            f"readings of {signal.point} do not cover the hold period "
            f"({_minutes(hold)}) with gaps under {_minutes(max_gap)}",
            checked=len(after),
        )
    return FixCheck(
        FixVerdict.VERIFIED,
        f"{signal.point} did not raise its alarm again ({signal.band_text()}) for "
        f"{_minutes(hold)} after completion ({len(good)} readings)",
        tuple(good[-MAX_EVIDENCE:]),
        len(after),
    )


def _raising_run(signal: Signal, samples: Sequence[Sample]) -> list[Sample]:
    """The first run of consecutive samples where the alarm raises that lasts its on-delay
    (a blip shorter than that, or a value inside the deadband, would not raise it); [] if
    none. A missing value (bad quality) ends a run."""
    run: list[Sample] = []
    for sample in samples:
        if sample.value is not None and signal.alarming(sample.value):
            run.append(sample)
            continue
        if run and _lasts(signal, run):
            return run  # the whole run, as evidence
        run = []
    return run if run and _lasts(signal, run) else []


def _lasts(signal: Signal, run: Sequence[Sample]) -> bool:
    return (run[-1].at - run[0].at).total_seconds() >= signal.on_delay_s


def _minutes(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:g} min"


# --- what other parts see ------------------------------------------------------------------


@dataclass(frozen=True)
class WorkOrderEvent:
    at: datetime
    actor: str
    action: str
    from_state: WoState | None
    to_state: WoState | None
    note: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LabourLine:
    technician: str
    minutes: int
    at: datetime
    note: str


@dataclass(frozen=True)
class PartLine:
    description: str
    quantity: float
    unit: str
    part_no: str
    at: datetime
    actor: str


@dataclass(frozen=True)
class Attachment:
    """A photo or signature of an order (the file is in the attachment store by checksum)."""

    sha256: str
    kind: str  # photo | signature
    mime: str
    size: int
    position: int | None  # the checklist item it answers, if any
    actor: str
    at: datetime


@dataclass(frozen=True)
class WorkOrder:
    """A work order as every other part sees it (no database types)."""

    number: str
    site: str
    kind: WoKind
    asset_no: str
    state: WoState
    priority: Priority
    title_en: str
    title_zh: str
    description: str
    assignee: str | None
    skill: str
    estimated_min: int
    created_at: datetime
    created_by: str
    due_at: datetime | None
    response_due: datetime
    completion_due: datetime
    responded_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    verified_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    plan_name: str | None = None
    slot: str | None = None
    condition: str | None = None
    problem_code: str | None = None
    cause_code: str | None = None
    remedy_code: str | None = None
    alarm_count: int = 0
    last_alarm_at: datetime | None = None
    reopen_count: int = 0
    asset_down: bool = False
    parent_number: str | None = None
    signal: Signal | None = None
    verification: Mapping[str, Any] | None = None
    completion_note: str = ""
    checklist: tuple[ChecklistLine, ...] = ()
    events: tuple[WorkOrderEvent, ...] = ()
    labour: tuple[LabourLine, ...] = ()
    parts: tuple[PartLine, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    version: int = 0  # +1 on every change (conflict detection of offline submits)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def response_met(self) -> bool | None:
        """Responded (assigned or started) in time; None while neither late nor answered."""
        if self.responded_at is not None:
            return self.responded_at <= self.response_due
        return None

    def completion_met(self) -> bool | None:
        if self.completed_at is not None:
            return self.completed_at <= self.completion_due
        return None
