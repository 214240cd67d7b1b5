"""Validation errors to located issues: the line of the file and a readable field path.

pydantic's errors carry a location in the migrated data; ``Located`` maps it back to where the
file has it (through the migration log) and ``field_text`` names it the way a reader would
(``points[3] (discharge_pressure).modbus.type``). Each error type becomes one sentence that
says what was expected, with "did you mean" for misspellings; several union members failing
at one place read as one message.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from device_profiles.migrations import MigrationLog
from device_profiles.models import (
    BYTE_ORDER_ALIASES,
    PROBLEMS_ERROR,
    ByteOrder,
    DeviceProfile,
    Loc,
    Problem,
    loc_text,
    suggest_name,
)
from facility.errors import Issue


class Located:
    """Turns locations in the (migrated) data into lines and readable field paths."""

    def __init__(
        self, file: str, raw: Any, data: Any, lines: dict[Loc, int], migration: MigrationLog
    ) -> None:
        self.file = file
        self.raw = raw  # as written: field paths and names are shown from it
        self.data = data  # as migrated and validated
        self.lines = lines
        self.migration = migration

    def source(self, loc: Loc) -> Loc:
        return self.migration.source(loc)

    def line(self, loc: Loc) -> int | None:
        """Line of the location as written, or of its nearest written parent."""
        source = self.source(loc)
        for cut in range(len(source), -1, -1):
            if source[:cut] in self.lines:
                return self.lines[source[:cut]]
        return None

    def issue(self, loc: Loc, message: str) -> Issue:
        """An issue at a location of the migrated data, shown where the file has it."""
        return Issue(self.file, self.line(loc), field_text(self.raw, self.source(loc)), message)

    def see(self, loc: Loc) -> str:
        line = self.line(loc)
        return f"line {line}" if line is not None else loc_text(self.source(loc))


def field_text(data: Any, loc: Loc) -> str:
    """``points[3] (discharge_pressure).modbus.type``: a location, naming named items."""
    text = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            if isinstance(node, list):
                node = node[part] if part < len(node) else None
            else:
                node = node.get(part) if isinstance(node, dict) else None
            name = node.get("name") if isinstance(node, dict) else None
            if isinstance(name, str) and name:
                text += f" ({name})"
        else:
            text += f".{part}" if text else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text


# --- pydantic errors to messages ---------------------------------------------------------

_NOUNS = {
    "type": "data type",
    "table": "Modbus table",
    "order": "byte/word order",
    "poll": "poll class",
    "device_class": "device class",
    "protocol": "protocol",
    "timestamp": "timestamp source",
    "access": "access",
    "kind": "kind",
    "priority": "priority",
    "unit": "unit",
    "data_type": "OPC UA data type",
    "open_order_policy": "open-order policy",
    "poll_periods_s": "poll class",
}

# Fixed-size lists, by field name.
_SHAPES = {"range": "[low, high]", "limits": "[low, high]", "month_day": "[month, day]"}

_MISSING = {
    "unit": 'expected a unit such as bar, A, °C, m³/h (or "" for states and counts)',
    "label": "expected a label in both languages: {en: ..., zh: ...}",
    "name": "expected a name in lower_snake_case",
    "schema_version": "expected schema_version: 1",
}

_PATTERNS = {
    "name": "expected lower_snake_case: a-z, 0-9 and _, starting with a letter",
    "id": "expected lower-case letters, digits, '.', '_' or '-' (the file name without .yaml)",
    "node_id": "expected an OPC UA node id such as ns=2;s=Tank01.Level or i=2258",
}


def describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _closest(value: str, choices: list[str]) -> list[str]:
    """The choices nearest to a misspelt value (several when equally near)."""
    scored = [(difflib.SequenceMatcher(None, value, c).ratio(), c) for c in choices]
    best = max((score for score, _ in scored), default=0.0)
    return [c for score, c in scored if score == best and score >= 0.6]


def _choices(expected: str) -> str:
    """pydantic's ``'a', 'b' or 'c'`` -> ``a, b, c``."""
    return ", ".join(part.strip("'") for part in re.split(r", | or ", expected))


def _walk(loc: Loc) -> tuple[Any, FieldInfo | None]:
    """The model (or type) a location holds and the pydantic field it is, from the models."""
    model: Any = DeviceProfile
    info: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        fields = (
            model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else {}
        )
        info = fields.get(part)
        if info is None:
            return None, None
        model = _inner_model(info.annotation)
    return model, info


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model whose fields a location's mapping holds."""
    model, _ = _walk(loc)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """``tuple[Point, ...] | None`` -> ``Point``: the model inside containers and unions."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
    if origin in (typing.Union, types.UnionType, tuple, list) and args:
        models = [_inner_model(a) for a in args]
        found = [m for m in models if isinstance(m, type) and issubclass(m, BaseModel)]
        return found[0] if found else None
    return None


def _bounds(info: FieldInfo | None) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low inclusive, high inclusive) of a numeric field."""
    low = high = None
    low_incl = high_incl = True
    for item in info.metadata if info is not None else ():
        if getattr(item, "ge", None) is not None:
            low = item.ge
        if getattr(item, "gt", None) is not None:
            low, low_incl = item.gt, False
        if getattr(item, "le", None) is not None:
            high = item.le
        if getattr(item, "lt", None) is not None:
            high, high_incl = item.lt, False
    return low, high, low_incl, high_incl


def _range_text(low: float | None, high: float | None, low_incl: bool, high_incl: bool) -> str:
    if low is not None and high is not None and low_incl and high_incl:
        return f"{low:g}..{high:g}"
    parts = []
    if low is not None:
        parts.append(f"{'at least' if low_incl else 'more than'} {low:g}")
    if high is not None:
        parts.append(f"{'at most' if high_incl else 'less than'} {high:g}")
    return " and ".join(parts)


def _message(err: ErrorDetails, loc: Loc) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    key = next((p for p in reversed(loc) if isinstance(p, str)), "")
    got = describe(value)
    if kind == "missing":
        return "missing; " + _MISSING.get(key, "this field is required")
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model is not None else []
        return suggest_name(str(key), known, "field")
    if kind in ("enum", "literal_error"):
        noun = _NOUNS.get(key, key.replace("_", " "))
        choices = _choices(ctx["expected"])
        close = _closest(str(value), choices.split(", "))
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        text = f"unknown {noun} {value!r}{hint}; expected one of: {choices}"
        if key == "order":
            orders = {o.lower() for o in ByteOrder}
            aliases = ", ".join(a for a in BYTE_ORDER_ALIASES if a not in orders)
            text += f" (or an alias: {aliases})"
        return text
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        low, high, low_incl, high_incl = _bounds(_walk(loc)[1])
        if low is None and high is None:
            low = ctx.get("ge", ctx.get("gt"))
            high = ctx.get("le", ctx.get("lt"))
            low_incl, high_incl = "gt" not in ctx, "lt" not in ctx
        return f"{got} is out of range; expected {_range_text(low, high, low_incl, high_incl)}"
    if kind == "string_pattern_mismatch":
        return f"{got} is not allowed; " + _PATTERNS.get(
            key, f"expected text matching {ctx.get('pattern')}"
        )
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("too_short", "too_long") and key in _SHAPES and isinstance(value, list):
        return f"expected {_SHAPES[key]}, got {len(value)} item(s)"
    if kind in ("too_short", "too_long"):
        if kind == "too_short":
            return (
                f"expected at least {ctx.get('min_length')} item(s), got {ctx.get('actual_length')}"
            )
        return f"expected at most {ctx.get('max_length')} item(s), got {ctx.get('actual_length')}"
    if kind == "string_type":
        if isinstance(value, bool):
            return (
                f"expected text, got {got}: YAML reads unquoted yes/no/on/off/true/false as "
                'booleans; put the text in quotes, e.g. "off"'
            )
        if value is None and key == "unit":
            return 'expected text, got nothing; write unit: "" for states and counts'
        return f"expected text, got {got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, got {got}"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"expected a number, got {got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"expected a mapping (key: value), got {got}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list, got {got}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']} (got {got})"


def validation_issues(exc: ValidationError, located: Located) -> tuple[list[Issue], bool]:
    """Issues of a validation error; also whether the whole-profile checks ran."""
    issues: list[Issue] = []
    whole_ran = False
    merged: dict[Loc, list[str]] = {}
    errors = exc.errors(include_url=False)
    # A misspelt key is reported once, as unknown (with "did you mean"), not also as missing.
    unknown_keys: dict[Loc, list[str]] = {}
    for err in errors:
        if err["type"] == "extra_forbidden" and err["loc"]:
            unknown_keys.setdefault(tuple(err["loc"][:-1]), []).append(str(err["loc"][-1]))
    for err in errors:
        loc = _data_loc(tuple(err["loc"]), located.data)
        if err["type"] == PROBLEMS_ERROR:
            whole_ran = whole_ran or loc == ()
            for problem in err.get("ctx", {})["problems"]:
                assert isinstance(problem, Problem)
                see = located.see(problem.see) if problem.see is not None else None
                issues.append(located.issue((*loc, *problem.loc), problem.render(see)))
            continue
        if err["type"] == "too_short" and _long_enough(located.data, loc, err):
            continue  # pydantic counts only the valid items; the invalid ones are reported
        if err["type"] == "missing" and loc:
            misspelt = unknown_keys.get(loc[:-1], [])
            if difflib.get_close_matches(str(loc[-1]), misspelt, n=1):
                continue
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            # Named after the mapping that holds the key, e.g. poll_periods_s -> poll class.
            merged.setdefault(loc, []).append("key: " + _message(err, loc[:-1]))
            continue
        merged.setdefault(loc, []).append(_message(err, loc))
    for loc, messages in merged.items():
        issues.append(located.issue(loc, _alternatives(messages)))
    return issues, whole_ran


def _long_enough(data: Any, loc: Loc, err: ErrorDetails) -> bool:
    """Whether the list written at ``loc`` has enough items (some being invalid)."""
    node = data
    for part in loc:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    minimum = (err.get("ctx") or {}).get("min_length")
    return isinstance(node, list) and isinstance(minimum, int) and len(node) >= minimum


def _alternatives(messages: list[str]) -> str:
    """Errors of several union members at one place read as one: ``expected a or b, got c``."""
    messages = list(dict.fromkeys(messages))
    if len(messages) == 1:
        return messages[0]
    parsed = [re.fullmatch(r"expected (.*), got (.*)", m) for m in messages]
    if all(parsed) and len({m[2] for m in parsed if m}) == 1:
        wanted = " or ".join(m[1] for m in parsed if m)
        return f"expected {wanted}, got {parsed[0][2] if parsed[0] else ''}"
    return "; or ".join(messages)


def _data_loc(loc: Loc, data: Any) -> Loc:
    """Drop the parts pydantic adds that are not in the data (union member tags)."""
    kept: list[str | int] = []
    node = data
    for part in loc:
        if part == "[key]":
            kept.append(part)
            continue
        if isinstance(node, dict):
            kept.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            kept.append(part)
            node = node[part] if part < len(node) else None
        elif isinstance(part, int):
            kept.append(part)
            node = None
        # else: a union member tag such as 'int' or 'bool' under a scalar
    return tuple(kept)
