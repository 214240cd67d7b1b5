"""Default alarm limits of a profile: the kinds of alarm and what each needs."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from device_profiles.base import Frozen, Problem, Text, raise_problems
from facility.types import Priority


class AlarmKind(StrEnum):
    HIHI = "hihi"
    HI = "hi"
    LO = "lo"
    LOLO = "lolo"
    STATE = "state"  # active while the point equals one of `states`
    ROC = "roc"  # rate of change above `limit` per minute
    COMM = "comm"  # communication loss / stale value (no point)


class AlarmText(Frozen):
    cause: Text
    consequence: Text
    action: Text


class AlarmDefinition(Frozen):
    """A default alarm for every device of this profile; assets may override it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    point: str | None = Field(default=None, description="the point watched; none for comm")
    kind: AlarmKind
    limit: float | None = None
    states: tuple[int | bool, ...] | None = None
    deadband: float = Field(default=0.0, ge=0)
    on_delay_s: float = Field(default=0.0, ge=0)
    off_delay_s: float = Field(default=0.0, ge=0)
    latching: bool = False
    priority: Priority
    label: Text
    text: AlarmText | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AlarmDefinition:
        analogue = {AlarmKind.HIHI, AlarmKind.HI, AlarmKind.LO, AlarmKind.LOLO, AlarmKind.ROC}
        kind = self.kind.value
        problems: list[Problem] = []
        if self.kind in analogue and self.limit is None:
            problems.append(Problem(("kind",), f"a {kind} alarm needs `limit`"))
        if self.kind is AlarmKind.STATE and not self.states:
            problems.append(
                Problem(("kind",), "a state alarm needs `states` (the values that are abnormal)")
            )
        if self.kind is AlarmKind.COMM and self.point is not None:
            problems.append(
                Problem(("point",), "a comm alarm watches the device, not a point: remove `point`")
            )
        if self.kind is not AlarmKind.COMM and self.point is None:
            problems.append(
                Problem(("kind",), f"a {kind} alarm needs `point` (the point it watches)")
            )
        if problems:
            raise_problems(problems)
        return self
