"""Default preventive-maintenance plans of a profile: triggers, checklists, policies."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from device_profiles.base import Frozen, Problem, Text, raise_problems


class TriggerKind(StrEnum):
    CALENDAR = "calendar"  # fixed: every N units from an anchor date
    FLOATING = "floating"  # every N units from the last completion
    METER = "meter"  # every N counts of a counter point
    CONDITION = "condition"  # while an alarm is active


class PmTrigger(Frozen):
    kind: TriggerKind
    every: float | None = Field(default=None, gt=0)
    unit: Literal["day", "week", "month", "year", "count"] | None = None
    point: str | None = Field(default=None, description="counter point, for meter triggers")
    alarm: str | None = Field(default=None, description="alarm name, for condition triggers")
    month_day: tuple[int, int] | None = Field(
        default=None, description="calendar anchor (month, day), e.g. before the pool season"
    )

    @model_validator(mode="after")
    def _consistent(self) -> PmTrigger:
        kind = self.kind.value
        problems: list[Problem] = []
        timed = self.kind in (TriggerKind.CALENDAR, TriggerKind.FLOATING)
        if timed and (self.every is None or self.unit in (None, "count")):
            problems.append(
                Problem(
                    ("kind",),
                    f"a {kind} trigger needs `every` and a time `unit` (day, week, month or year)",
                )
            )
        if self.kind is TriggerKind.METER:
            if self.point is None or self.every is None:
                problems.append(
                    Problem(("kind",), "a meter trigger needs `point` (a counter) and `every`")
                )
            if self.unit not in (None, "count"):
                problems.append(
                    Problem(
                        ("unit",),
                        f"a meter trigger counts in its point's unit, not {self.unit}: "
                        "expected no `unit` (or `unit: count`)",
                    )
                )
        if self.kind is TriggerKind.CONDITION and self.alarm is None:
            problems.append(Problem(("kind",), "a condition trigger needs `alarm`"))
        if self.month_day is not None:
            month, day = self.month_day
            if self.kind is not TriggerKind.CALENDAR:
                problems.append(
                    Problem(("month_day",), f"`month_day` only applies to calendar, not {kind}")
                )
            elif not (1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]):
                problems.append(
                    Problem(
                        ("month_day",),
                        f"no such date {month}-{day}; expected [month, day], e.g. [4, 1]",
                    )
                )
        if problems:
            raise_problems(problems)
        return self


# Longest month lengths (29 for February): an anchor must exist in some year.
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class ChecklistKind(StrEnum):
    PASS_FAIL = "pass_fail"
    NUMBER = "number"
    METER = "meter"
    TEXT = "text"
    PHOTO = "photo"


class ChecklistItem(Frozen):
    text: Text
    kind: ChecklistKind = ChecklistKind.PASS_FAIL
    unit: str | None = None
    limits: tuple[float, float] | None = None
    point: str | None = Field(default=None, description="for meter items: the counter read")
    required: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> ChecklistItem:
        problems: list[Problem] = []
        if self.kind is ChecklistKind.METER and self.point is None:
            problems.append(
                Problem(("kind",), "a meter item needs `point` (the counter the technician reads)")
            )
        if self.limits is not None and self.limits[0] > self.limits[1]:
            problems.append(
                Problem(
                    ("limits",),
                    f"limits low {self.limits[0]:g} is above high {self.limits[1]:g}; "
                    "expected [low, high]",
                )
            )
        if problems:
            raise_problems(problems)
        return self


class OpenOrderPolicy(StrEnum):
    SKIP = "skip"  # an open order for this plan blocks the next: record it as missed
    SUPERSEDE = "supersede"  # cancel the open one, issue the new one
    STACK = "stack"  # issue regardless (statutory daily checks)


class PmPlan(Frozen):
    """A default preventive-maintenance plan for every device of this profile."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Text
    triggers: tuple[PmTrigger, ...] = Field(min_length=1, description="whichever comes first")
    lead_time_days: float = Field(default=7, ge=0)
    window_days: float = Field(default=14, gt=0, description="compliance window after due")
    duration_min: int = Field(default=60, gt=0)
    skill: str = "general"
    open_order_policy: OpenOrderPolicy = OpenOrderPolicy.SKIP
    checklist: tuple[ChecklistItem, ...] = ()
    statutory_max: bool = Field(
        default=False,
        description="the interval is a legal maximum from the last completion: due by then, "
        "no window after it (released lead_time_days early)",
    )

    @model_validator(mode="after")
    def _statutory(self) -> PmPlan:
        """A statutory maximum interval counts from the last completion and has no grace."""
        if not self.statutory_max:
            return self
        problems = []
        kinds = sorted({t.kind.value for t in self.triggers if t.kind.value != "floating"})
        if kinds:
            problems.append(
                Problem(
                    ("triggers",),
                    f"statutory_max: expected floating triggers only (the maximum interval "
                    f"counts from the last completion), got {', '.join(kinds)}",
                )
            )
        # Compared with the default, not "was it given": stored definitions carry every field.
        if self.window_days != type(self).model_fields["window_days"].default:
            problems.append(
                Problem(
                    ("window_days",),
                    "statutory_max: the interval is a maximum, so no window after the due "
                    "date; leave window_days out and use lead_time_days to release it early",
                )
            )
        if self.lead_time_days < 1:
            problems.append(
                Problem(
                    ("lead_time_days",),
                    "statutory_max: expected at least 1 day (the order must be out before "
                    "the legal deadline)",
                )
            )
        if problems:
            raise_problems(problems)
        return self
