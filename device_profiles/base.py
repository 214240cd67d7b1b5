"""What every profile model stands on: the frozen base, bilingual text, located problems.

Consistency problems are raised as ``Problem``s located relative to the model that found
them (one pydantic error of type ``PROBLEMS_ERROR`` carrying them all), so the loader can
put each at its own file line.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]

# pydantic error type of the problems below; the loader expands its ``problems`` context.
PROBLEMS_ERROR = "profile_problems"


class Problem(NamedTuple):
    """One consistency problem, located relative to the model that found it.

    ``message`` may contain ``{see}``: where the other party of the problem is (e.g. the
    first of two duplicate names). The loader renders it as a line number; on its own it
    renders as a path such as ``points[2].name``.
    """

    loc: Loc
    message: str
    see: Loc | None = None

    def render(self, see_text: str | None = None) -> str:
        if self.see is None:
            return self.message
        return self.message.replace("{see}", see_text or loc_text(self.see))


def loc_text(loc: Loc) -> str:
    """``("points", 3, "modbus", "type")`` -> ``points[3].modbus.type``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def raise_problems(problems: Sequence[Problem]) -> NoReturn:
    """Fail validation with every problem, each keeping its own location."""
    summary = "; ".join(
        f"{loc_text(p.loc)}: {p.render()}" if p.loc else p.render() for p in problems
    )
    raise PydanticCustomError(
        PROBLEMS_ERROR, "{summary}", {"summary": summary, "problems": list(problems)}
    )


def suggest_name(name: str, known: Sequence[str], what: str) -> str:
    """``unknown point 'x'`` plus the closest known name, or the list of known names."""
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown {what} {name!r}; did you mean {close[0]!r}?"
    if not known:
        return f"unknown {what} {name!r}; this profile has none"
    return f"unknown {what} {name!r}; expected one of: {', '.join(known)}"


class Frozen(BaseModel):
    """Profile models are frozen and refuse unknown fields (a typo is an error, not ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(Frozen):
    """A label in both languages the product speaks."""

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)
