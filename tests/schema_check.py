"""A small JSON Schema (draft 2020-12) checker for the keywords docs/schema/*.json use.

``jsonschema`` is not among the project's dependencies (and the shared venv is not to be
changed), so the tests check the schema with this: ``type``, ``const``, ``enum``,
``required``, ``properties``, ``additionalProperties``, ``propertyNames``,
``min/maxProperties``, ``minimum``/``maximum``, ``pattern``, ``maxLength``, ``$ref`` to
``#/$defs/...``, ``if``/``then``, ``not``. A keyword it does not know is an error, so the
schema cannot silently use more than is checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

KNOWN = {
    "$schema", "$id", "$ref", "$defs", "title", "description", "type", "const", "enum",
    "required", "properties", "additionalProperties", "propertyNames", "minProperties",
    "maxProperties", "minimum", "maximum", "pattern", "maxLength", "if", "then", "not",
}  # fmt: skip

_TYPES: dict[str, Any] = {
    "object": lambda x: isinstance(x, dict),
    "string": lambda x: isinstance(x, str),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": lambda x: isinstance(x, int | float) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def errors(schema: Mapping[str, Any], value: object, root: Mapping[str, Any] | None = None,
           where: str = "$") -> list[str]:  # fmt: skip
    """Every way ``value`` breaks ``schema``, as ``<json path>: <what>``."""
    root = root if root is not None else schema
    unknown = set(schema) - KNOWN
    if unknown:
        raise ValueError(f"schema at {where} uses keywords this checker does not know: {unknown}")
    out: list[str] = []
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), ref
        out += errors(root["$defs"][ref.removeprefix("#/$defs/")], value, root, where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [*out, f"{where}: {value!r:.60} is not of type {types}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r:.60} is not one of {schema['enum']}")
    if "not" in schema and not errors(schema["not"], value, root, where):
        out.append(f"{where}: must not match {schema['not']}")
    if "if" in schema and not errors(schema["if"], value, root, where):
        out += errors(schema.get("then", {}), value, root, where)
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{where}: {value!r:.60} does not match {schema['pattern']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{where}: longer than {schema['maxLength']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        out += [f"{where}: `{k}` is required" for k in schema.get("required", ()) if k not in value]
        if len(value) < schema.get("minProperties", 0):
            out.append(f"{where}: fewer than {schema['minProperties']} properties")
        if len(value) > schema.get("maxProperties", len(value)):
            out.append(f"{where}: more than {schema['maxProperties']} properties")
        properties = schema.get("properties", {})
        for key, item in value.items():
            path = f"{where}.{key}"
            if "propertyNames" in schema:
                out += errors(schema["propertyNames"], key, root, f"{path} (name)")
            if key in properties:
                out += errors(properties[key], item, root, path)
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: not allowed (additionalProperties false)")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(schema["additionalProperties"], item, root, path)
    return out
