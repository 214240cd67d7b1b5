"""Read profile YAML within bounds, keeping the line of every location.

Before anything is built, the text is checked against the limits of facility/limits.py from
YAML's events alone (size, nesting depth, aliases, values once aliases are expanded): PyYAML
recurses while composing and expands aliases while building, so hostile input must be refused
first. The file is then composed into YAML's node tree (SafeLoader: no arbitrary objects) and
plain data is built from it, noting each location's line and any duplicate key (PyYAML
silently keeps the last one). YAML syntax errors become one located ``Issue``.
"""

from __future__ import annotations

from typing import Any

import yaml

from device_profiles.models import Loc
from facility.errors import Issue
from facility.limits import (
    PROFILE_MAX_ALIASES,
    PROFILE_MAX_BYTES,
    PROFILE_MAX_DEPTH,
    PROFILE_MAX_VALUES,
)

_MERGE_TAG = "tag:yaml.org,2002:merge"

# libyaml composes ten times faster; the pure-Python loader words syntax errors the same on
# every machine, so it re-reads a file that libyaml rejects.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def compose(
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


def size_issue(size: int, file: str) -> Issue | None:
    if size <= PROFILE_MAX_BYTES:
        return None
    return Issue(
        file,
        None,
        "",
        f"{size:,} bytes; expected at most {PROFILE_MAX_BYTES:,} (a device profile is ~10 KB)",
    )


def structure_issue(
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


def yaml_issue(exc: yaml.YAMLError, file: str, text: str = "") -> Issue:
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
