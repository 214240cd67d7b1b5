"""docs/telegraf.md cannot drift from the bus: its TOML block is read out of the page and
checked against the schema, the encoder and the gateway's own line protocol.

Telegraf is not installable here, so its ``json_v2`` parser is modelled on its source
(plugins/parsers/json_v2/parser.go: nested object keys joined with ``_``, ``null`` skipped,
JSON numbers as float64, ``type = "int"`` converting) and the recipe's Starlark step is
executed by Python (the script keeps to the subset both languages share).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from facility.payload import decode, device_topic, encode
from facility.topics import READINGS_WILDCARD
from gateway.bus_acl import BusRole
from gateway.lineproto import HEALTH_MEASUREMENT, SEQ_FIELD, LineEncoder
from tests.unit.test_reading_schema import PROFILES, SCHEMA, message_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "telegraf.md").read_text()


def recipe() -> dict[str, Any]:
    blocks = re.findall(r"```toml\n(.*?)```", PAGE, re.S)
    assert len(blocks) == 1, "docs/telegraf.md should hold exactly one TOML block"
    return tomllib.loads(blocks[0])


CONFIG = recipe()
CONSUMER = CONFIG["inputs"]["mqtt_consumer"][0]
PARSERS = CONSUMER["json_v2"]


def test_it_reads_the_readings_wildcard_as_a_reader_account() -> None:
    assert CONSUMER["topics"] == [READINGS_WILDCARD]
    assert CONSUMER["data_format"] == "json_v2"
    assert CONSUMER["qos"] == 1
    assert CONSUMER["topic_tag"] == ""  # the gateway writes no topic tag
    assert CONSUMER["password"].startswith("${")  # from the environment, never in the file
    assert f"--reader {CONSUMER['username']}" in PAGE
    assert BusRole.READER.value in PAGE


def _paths(parser: dict[str, Any]) -> list[str]:
    paths = [parser.get("measurement_name_path"), parser["timestamp_path"]]
    for kind in ("tag", "field", "object"):
        paths += [entry["path"] for entry in parser.get(kind, [])]
    return [p for p in paths if p]


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.get("measurement_name", "points"))
def test_every_path_is_a_field_of_the_schema_and_of_real_messages(parser: dict[str, Any]) -> None:
    body = json.loads(encode(message_for(PROFILES[0])))
    for path in _paths(parser):
        assert path in SCHEMA["properties"], path
        assert path in body, path
    assert parser["timestamp_path"] == "ts"
    assert parser["timestamp_format"] == "unix_ms"  # the schema's ts: epoch milliseconds
    assert "milliseconds" in SCHEMA["properties"]["ts"]["description"]


# -- a model of json_v2 and the Starlark step ---------------------------------------------


def _flatten(prefix: str, value: Any, fields: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}_{key}" if prefix else key, item, fields)
    elif value is None:
        return  # json_v2 ignores JSON nulls
    elif isinstance(value, bool | str):
        fields[prefix] = value
    else:
        fields[prefix] = float(value)  # gjson: every number is a float64


_CONVERT: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "string": str}


Point = tuple[str, dict[str, str], dict[str, Any], int]


def json_v2(parser: dict[str, Any], body: dict[str, Any]) -> Point:
    name = parser.get("measurement_name") or body[parser["measurement_name_path"]]
    tags = {entry["path"]: str(body[entry["path"]]) for entry in parser.get("tag", [])}
    fields: dict[str, Any] = {}
    for entry in parser.get("field", []):
        fields[entry["path"]] = _CONVERT[entry.get("type", "float")](body[entry["path"]])
    for entry in parser.get("object", []):
        _flatten("", body[entry["path"]], fields)
    return name, tags, fields, body[parser["timestamp_path"]]


class Metric:
    """What Telegraf's Starlark sees: name, tags, fields (the recipe uses no more)."""

    def __init__(self, name: str, tags: dict[str, str], fields: dict[str, Any]) -> None:
        self.name, self.tags, self.fields = name, tags, fields


def starlark(metric: Metric) -> Metric:
    processor = CONFIG["processors"]["starlark"][0]
    assert processor["tagpass"] == {"asset_no": ["*"]}
    scope: dict[str, Any] = {}
    exec(processor["source"], scope)  # our own documented script
    result: Metric = scope["apply"](metric)
    return result


def telegraf_points(body: dict[str, Any]) -> set[tuple[str, str, str, int]]:
    points = set()
    for parser in PARSERS:
        name, tags, fields, ts = json_v2(parser, body)
        metric = starlark(Metric(name, tags, fields))
        points.add((metric.name, _tags(metric.tags), _fields(metric.fields), ts))
    return points


def _tags(tags: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _fields(fields: dict[str, Any]) -> str:
    return json.dumps(sorted(fields.items()))


def _field(text: str) -> Any:
    """One line-protocol field value, typed as InfluxDB stores it."""
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"'):
        return text[1:-1]
    if text.endswith("i"):
        return int(text[:-1])
    return float(text)


def gateway_points(body: bytes) -> set[tuple[str, str, str, int]]:
    raw = json.loads(body)
    message = decode(device_topic(raw["site"], raw["asset_no"]), body)
    points = set()
    for line in LineEncoder().encode(message).decode().splitlines():
        rest, ts = line.rsplit(" ", 1)
        series, field_text = rest.split(" ", 1)  # our tags hold no spaces
        measurement, *tags = series.split(",")
        fields = dict(f.split("=", 1) for f in field_text.split(","))  # no commas in values
        tag_map = dict(t.split("=", 1) for t in tags)
        typed = {k: _field(v) for k, v in fields.items()}
        points.add((measurement, _tags(tag_map), _fields(typed), int(ts)))
    return points


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.device_class)
def test_the_recipe_makes_the_points_the_gateway_writes(profile: Any) -> None:
    body = encode(message_for(profile))
    telegraf = telegraf_points(json.loads(body))
    gateway = gateway_points(body)
    assert telegraf == gateway
    assert {name for name, *_ in telegraf} == {profile.device_class.lower(), HEALTH_MEASUREMENT}
    health = next(fields for name, _, fields, _ in telegraf if name == HEALTH_MEASUREMENT)
    assert [SEQ_FIELD, 42] in json.loads(health)  # seq stays an integer
