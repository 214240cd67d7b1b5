"""Load profile YAML into frozen models; every error names file, line and field.

The file is composed into YAML's node tree (SafeLoader: no arbitrary objects), which keeps
the line of every mapping key and sequence item; plain data is built from it while noting
each location's line and any duplicate key (PyYAML silently keeps the last one). The data
is migrated to the current ``schema_version`` and validated by the pydantic models; each
error becomes an ``Issue`` such as::

    pump.yaml:31: points[3] (discharge_pressure).modbus.type: unknown data type 'float';
        expected one of: bool, int16, uint16, ...

All the errors of a file are reported together, including the cross-checks between points,
alarms and plans for the parts that did validate.
"""

from __future__ import annotations

import difflib
import logging
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from device_profiles.migrations import MigrationLog, migrate
from device_profiles.models import (
    BYTE_ORDER_ALIASES,
    PROBLEMS_ERROR,
    AlarmDefinition,
    ByteOrder,
    DeviceProfile,
    Loc,
    PmPlan,
    Point,
    Problem,
    cross_check,
    loc_text,
    suggest_name,
)
from facility.errors import Issue, ProfileError
from facility.limits import (
    PROFILE_MAX_ALIASES,
    PROFILE_MAX_BYTES,
    PROFILE_MAX_DEPTH,
    PROFILE_MAX_VALUES,
)

log = logging.getLogger(__name__)

LIBRARY_DIR = Path(__file__).parent / "library"
PROFILE_SUFFIXES = (".yaml", ".yml")

_MERGE_TAG = "tag:yaml.org,2002:merge"

# libyaml composes ten times faster; the pure-Python loader words syntax errors the same on
# every machine, so it re-reads a file that libyaml rejects.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --- YAML with locations -----------------------------------------------------------------


class _Composed:
    """Plain data built from a YAML node tree, with the line of every location."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.lines: dict[Loc, int] = {}
        self.problems: list[tuple[Loc, int, str]] = []  # (location, line, message)
        self._path: set[int] = set()  # nodes being built: catches recursive aliases

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        if id(node) in self._path:
            self.problems.append((loc, _line(node), "an alias refers to itself"))
            return None
        self._path.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, yaml.SequenceNode):
                items = []
                for i, item in enumerate(node.value):
                    self.lines[(*loc, i)] = _line(item)
                    items.append(self.build(item, (*loc, i)))
                return items
            try:
                return self.loader.construct_object(node)
            except (ValueError, OverflowError) as exc:
                # a scalar YAML reads as a date or number that cannot be one (2026-13-01, an
                # integer of 5,000 digits): PyYAML raises plain ValueErrors for these
                reason = str(exc).split(";")[0]  # Python's advice on int limits is not for users
                self.problems.append(
                    (loc, _line(node), f"{str(node.value)[:40]!r} cannot be read: {reason}")
                )
                return str(node.value)  # as text: reported once, here, not again as a type
        finally:
            self._path.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        # Keys written in this mapping; keys merged in with `<<: *anchor` may be overridden.
        own = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
        self.loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        written: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = self.build(key_node, loc)
            line = _line(key_node)
            try:
                hash(key)
            except TypeError:
                self.problems.append(
                    (
                        loc,
                        line,
                        "a key must be a plain value (text or number), not a list or mapping",
                    )
                )
                continue
            if id(key_node) in own:
                if key in written:
                    self.problems.append(
                        (
                            (*loc, key),
                            line,
                            f"duplicate key {key!r} (first at line {written[key]}); expected "
                            "each key once (YAML would silently keep only the last)",
                        )
                    )
                written[key] = line
            self.lines[(*loc, key)] = line
            result[key] = self.build(value_node, (*loc, key))
        return result


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _compose(
    text: str, loader_class: type[yaml.SafeLoader] = _FAST_LOADER
) -> tuple[Any, dict[Loc, int], list[tuple[Loc, int, str]]]:
    """Plain data from YAML text, the line of each location, and problems (duplicate keys)."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        composed = _Composed(loader)
        composed.lines[()] = _line(node)
        data = composed.build(node, ())
        return data, composed.lines, composed.problems
    finally:
        loader.dispose()


def _size_issue(size: int, file: str) -> Issue | None:
    if size <= PROFILE_MAX_BYTES:
        return None
    return Issue(
        file,
        None,
        "",
        f"{size:,} bytes; expected at most {PROFILE_MAX_BYTES:,} (a device profile is ~10 KB)",
    )


def _structure_issue(
    text: str, file: str, loader_class: type[yaml.SafeLoader] = _FAST_LOADER
) -> Issue | None:
    """The first structural limit the YAML text breaks, found from its events alone.

    Runs before any node or object is built: composing recurses once per nesting level
    (libyaml's composer segfaults on ~100 KB of ``[``) and aliases are expanded while building
    (a 378-byte "billion laughs" document grows to 10^9 values). The event parser keeps its
    own stack instead of recursing, so this pass is safe on any input; it stops at the first
    limit broken. Counted per document: nesting depth, aliases, and the values the document
    holds once its aliases are expanded (what building it would cost).
    """
    # per open collection: [values inside it once expanded, height below it, its anchor]
    frames: list[list[Any]] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, height) of its node
    aliases = 0
    values = 0

    def where(event: yaml.Event) -> int | None:
        mark = event.start_mark
        return int(mark.line) + 1 if mark is not None else None

    def too_deep(event: yaml.Event) -> Issue:
        return Issue(
            file,
            where(event),
            "",
            f"nesting deeper than {PROFILE_MAX_DEPTH} levels; expected at most "
            f"{PROFILE_MAX_DEPTH} (a device profile needs fewer than 10)",
        )

    def add(count: int, height: int) -> None:
        if frames:
            frames[-1][0] += count
            frames[-1][1] = max(frames[-1][1], height)

    events = yaml.parse(text, Loader=loader_class)
    for event in events:
        if isinstance(event, yaml.ScalarEvent):
            values += 1
            add(1, 0)
            if event.anchor is not None:
                anchors[event.anchor] = (1, 0)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(frames) >= PROFILE_MAX_DEPTH:
                return too_deep(event)
            values += 1
            frames.append([1, 0, event.anchor])
        elif isinstance(event, yaml.CollectionEndEvent):
            count, height, anchor = frames.pop()
            add(count, height + 1)
            if anchor is not None:
                anchors[anchor] = (count, height + 1)
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > PROFILE_MAX_ALIASES:
                return Issue(
                    file,
                    where(event),
                    "",
                    f"more than {PROFILE_MAX_ALIASES} aliases (*{event.anchor}); expected at "
                    f"most {PROFILE_MAX_ALIASES}",
                )
            # an alias of a node still open refers to itself: the builder reports it
            count, height = anchors.get(str(event.anchor), (1, 0))
            if len(frames) + height > PROFILE_MAX_DEPTH:
                return too_deep(event)
            values += count
            add(count, height)
        elif isinstance(event, yaml.DocumentEndEvent):
            anchors.clear()  # anchors do not carry over to the next document
        if values > PROFILE_MAX_VALUES:
            return Issue(
                file,
                where(event),
                "",
                f"aliases expand the file to more than {PROFILE_MAX_VALUES:,} values; expected "
                f"at most {PROFILE_MAX_VALUES:,} (a device profile has ~1,000)",
            )
    return None


def _yaml_issue(exc: yaml.YAMLError, file: str, text: str = "") -> Issue:
    if isinstance(exc, yaml.reader.ReaderError):  # a control character: not text at all
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        line = text.count("\n", 0, exc.position) + 1 if text else None
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) if text else None
        at = f" (column {column + 1})" if column is not None else ""
        return Issue(
            file,
            line,
            "",
            f"not valid YAML{at}: control character #x{ord(character):04x} is not allowed; "
            "expected printable text",
        )
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return Issue(file, None, "", "not valid YAML: " + " ".join(str(exc).split()))
    mark = exc.problem_mark
    problem = exc.problem or "cannot be read"
    if exc.context:
        at = f" (line {exc.context_mark.line + 1})" if exc.context_mark is not None else ""
        if problem.startswith("but "):  # "expected a single document ..., but found another"
            problem = f"{exc.context}{at}, {problem}"
        else:
            problem = f"{problem}, {exc.context}{at}"
    if "'\\t'" in problem:
        problem += "; YAML indents with spaces, not tabs"
    return Issue(file, mark.line + 1, "", f"not valid YAML (column {mark.column + 1}): {problem}")


# --- locations and names -----------------------------------------------------------------


class _Located:
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


def _describe(value: Any) -> str:
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
    got = _describe(value)
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


def _validation_issues(exc: ValidationError, located: _Located) -> tuple[list[Issue], bool]:
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


# --- partial cross-checks ----------------------------------------------------------------


def _partial_cross_check(data: Mapping[str, Any]) -> list[Problem]:
    """The whole-profile checks over the items that validate on their own.

    pydantic only runs the whole-profile validator when every field is valid; checking the
    valid items anyway reports overlaps, duplicates and bad references in the same pass.
    """

    def each(key: str, model: type[BaseModel]) -> tuple[list[Any], list[str]]:
        raw = data.get(key)
        items: list[Any] = []
        invalid: list[str] = []
        for item in raw if isinstance(raw, list) else ():
            try:
                items.append(model.model_validate(item))
            except ValidationError:
                items.append(None)
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    invalid.append(item["name"])
        return items, invalid

    points, invalid_points = each("points", Point)
    alarms, invalid_alarms = each("alarms", AlarmDefinition)
    plans, _ = each("pm_plans", PmPlan)
    protocol = data.get("protocol")
    return cross_check(
        protocol if protocol in ("modbus", "opcua") else None,
        None,  # bad poll periods are reported on their own; absent ones default to all
        points,
        alarms,
        plans,
        invalid_points,
        invalid_alarms,
    )


# --- public API ----------------------------------------------------------------------------


def parse_profile(text: str, file: str) -> tuple[DeviceProfile | None, list[Issue]]:
    """Validate profile YAML text; ``file`` names it in issues and its stem is the id.

    Returns the profile (None if any issue) and every issue found, ordered by line.
    Input beyond the limits of facility/limits.py (size, nesting, aliases) is refused with
    one located issue before anything is built.
    """
    too_large = _size_issue(len(text.encode("utf-8", "surrogatepass")), file)
    if too_large is not None:
        return None, [too_large]
    try:
        try:
            beyond = _structure_issue(text, file)
        except yaml.YAMLError:
            beyond = _structure_issue(text, file, yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return None, [_yaml_issue(exc, file, text)]
    if beyond is not None:
        return None, [beyond]
    try:
        try:
            data, lines, found = _compose(text)
        except yaml.YAMLError:
            data, lines, found = _compose(text, yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return None, [_yaml_issue(exc, file, text)]
    if data is None:
        return None, [Issue(file, None, "", "empty file; expected a device profile")]
    if not isinstance(data, dict):
        return None, [
            Issue(
                file,
                lines.get(()),
                "",
                f"expected a mapping of profile fields (schema_version, id, ...), "
                f"got {_describe(data)}",
            )
        ]
    issues = [Issue(file, line, field_text(data, loc), message) for loc, line, message in found]
    stem = Path(file).stem
    profile_id = data.get("id")
    if isinstance(profile_id, str) and profile_id != stem:
        issues.append(
            Issue(
                file,
                lines.get(("id",)),
                "id",
                f"profile id {profile_id!r} must equal the file name {stem!r}; "
                f"rename the file to {profile_id}.yaml or set id: {stem}",
            )
        )
    migrated, migration = migrate(data)
    located = _Located(file, data, migrated, lines, migration)
    issues.extend(located.issue(loc, msg) for loc, msg in migration.problems)
    if migration.from_version is None:
        return None, _ordered(issues)
    profile: DeviceProfile | None = None
    try:
        profile = DeviceProfile.model_validate(migrated)
    except ValidationError as exc:
        invalid, whole_ran = _validation_issues(exc, located)
        issues.extend(invalid)
        if not whole_ran:
            for problem in _partial_cross_check(migrated):
                see = located.see(problem.see) if problem.see is not None else None
                issues.append(located.issue(problem.loc, problem.render(see)))
    if issues:
        return None, _ordered(issues)
    if migration.from_version != migrated["schema_version"]:
        log.info(
            "profile=%s migrated from schema_version %s in memory", stem, migration.from_version
        )
    return profile, []


def _ordered(issues: list[Issue]) -> list[Issue]:
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: i.line if i.line is not None else 0)


def validate_profile(path: Path) -> tuple[DeviceProfile | None, list[Issue]]:
    """Read and validate one profile file; never raises for a bad file."""
    try:
        # never read a file far beyond the limit into memory
        too_large = _size_issue(path.stat().st_size, str(path))
        if too_large is not None:
            return None, [too_large]
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Issue(str(path), None, "", "no such file")]
    except UnicodeDecodeError as exc:
        return None, [
            Issue(str(path), None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        ]
    except OSError as exc:
        return None, [Issue(str(path), None, "", f"cannot be read: {exc.strerror}")]
    return parse_profile(text, str(path))


def load_profile(path: Path) -> DeviceProfile:
    """Load and validate one profile file; raise ProfileError listing every issue."""
    profile, issues = validate_profile(path)
    if profile is None:
        raise ProfileError(issues)
    return profile


def profile_files(paths: Iterable[Path]) -> tuple[list[Path], list[Issue]]:
    """The profile files named by ``paths`` (files, or directories of ``*.yaml``)."""
    files: list[Path] = []
    issues: list[Issue] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in PROFILE_SUFFIXES)
            if not found:
                issues.append(Issue(str(path), None, "", "no profile files (*.yaml) here"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            issues.append(Issue(str(path), None, "", "no such file or directory"))
    return files, issues


@dataclass(frozen=True)
class CheckResult:
    """Profiles that validated (by id), every issue found, and the files read."""

    profiles: dict[str, DeviceProfile]
    issues: list[Issue]
    files: list[Path]


def check_paths(paths: Iterable[Path]) -> CheckResult:
    """Validate the profiles named by ``paths`` (files or directories); never raises.

    Issues come in the order of ``paths``, then of the files in each directory.
    """
    profiles: dict[str, DeviceProfile] = {}
    issues: list[Issue] = []
    checked: list[Path] = []
    where: dict[str, Path] = {}
    for named in paths:
        files, missing = profile_files([named])
        issues.extend(missing)
        for path in files:
            checked.append(path)
            profile, found = validate_profile(path)
            issues.extend(found)
            if profile is None:
                continue
            if profile.id in where:
                issues.append(
                    Issue(
                        str(path),
                        None,
                        "id",
                        f"profile id {profile.id!r} is also used by {where[profile.id]}; "
                        "expected each id once",
                    )
                )
                continue
            profiles[profile.id] = profile
            where[profile.id] = path
    return CheckResult(profiles, issues, checked)


def check_profiles(paths: Iterable[Path]) -> list[Issue]:
    """Every issue of the profiles named by ``paths`` (files or directories); [] when valid."""
    return check_paths(paths).issues


def load_profiles(paths: Iterable[Path]) -> dict[str, DeviceProfile]:
    """Every profile named by ``paths``, keyed by id; ProfileError listing all issues."""
    result = check_paths(paths)
    if result.issues:
        raise ProfileError(result.issues)
    return result.profiles


def site_profile_dirs() -> list[Path]:
    """The site profile folders of this process's configuration (``[profiles] dirs``)."""
    from facility.config import active_settings

    return list(active_settings().profiles.dirs)


def library_paths(site_dirs: Sequence[Path] | None = None) -> list[Path]:
    """The shipped library, then the site folders (default: ``[profiles] dirs``).

    The shipped models come first, so a site file that reuses a shipped id is the one
    reported (naming both files). An existing but empty site folder is fine (a new site);
    a folder that does not exist is an error, like any path named that is not there.
    """
    dirs = site_profile_dirs() if site_dirs is None else list(site_dirs)
    return [LIBRARY_DIR] + [
        d for d in dirs if not d.is_dir() or any(p.suffix in PROFILE_SUFFIXES for p in d.iterdir())
    ]


def load_library(
    directory: Path | None = None, *, site_dirs: Sequence[Path] | None = None
) -> dict[str, DeviceProfile]:
    """Every profile of the library, keyed by profile id: the shipped models and the site
    folders' (``site_dirs``, default ``[profiles] dirs``); or only those of ``directory``."""
    if directory is not None:
        return load_profiles([directory])
    return load_profiles(library_paths(site_dirs))
