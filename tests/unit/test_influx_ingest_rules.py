"""The gateway's pure rules: what it accepts on top of the bus schema, its topics, spool keys
and the split of a spooled body back into lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from facility.payload import DeviceMessage, PayloadError
from facility.types import Quality, Reading
from gateway.ingest import _lines, parse_spool_key
from gateway.ingest_rules import check_message, ledger_tags
from gateway.lineproto import LineEncoder

TS = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def message(
    asset_no: str = "HT-PMP-001", device_class: str = "PMP", point: str = "current"
) -> DeviceMessage:
    reading = Reading("HT", asset_no, point, 1.0, "A", Quality.GOOD, None, TS)
    return DeviceMessage("HT", asset_no, device_class, 1, TS, (reading,), {})


def test_a_good_message_passes() -> None:
    check_message(message(), None)
    check_message(message(), {"HT-PMP-001"})


@pytest.mark.parametrize(
    ("kwargs", "known", "kind"),
    [
        ({}, {"HT-PMP-002"}, "unknown_asset"),
        ({}, set(), "unknown_asset"),
        ({"device_class": "LGT"}, None, "class_mismatch"),
        ({"point": "Current"}, None, "bad_point_name"),
        ({"point": "current_q"}, None, "bad_point_name"),  # would collide with a quality field
        ({"point": "time"}, None, "bad_point_name"),  # InfluxDB refuses a field named time
        ({"point": "a" * 65}, None, "bad_point_name"),
        ({"point": "9lives"}, None, "bad_point_name"),
    ],
)
def test_what_the_gateway_refuses(
    kwargs: dict[str, str], known: set[str] | None, kind: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        check_message(message(**kwargs), known)
    assert caught.value.kind == kind


@pytest.mark.parametrize(
    ("key", "parsed"),
    [("1000:2000:32", (1000, 2000, 32)), ("garbage", (0, 0, 0)), ("1:2", (0, 0, 0))],
)
def test_spool_keys(key: str, parsed: tuple[int, int, int]) -> None:
    assert parse_spool_key(key) == parsed


def test_a_spooled_body_splits_back_into_its_lines_even_with_newlines_in_text() -> None:
    text = Reading("HT", "HT-PMP-001", "note", "two\nlines", "", Quality.GOOD, None, TS)
    nasty = DeviceMessage("HT", "HT-PMP-001", "PMP", 1, TS, (text,), {"why": "a\nb"})
    lines = list(LineEncoder().encode_lines(nasty)) + list(LineEncoder().encode_lines(message()))
    assert _lines(b"".join(lines)) == lines


def test_ledger_tags() -> None:
    from facility.types import Asset, AssetStatus, Criticality, DeviceClass

    asset = Asset(
        "HT-PMP-001", "HT", DeviceClass.PMP, "Pump", "水泵", "B1", "Pump room", "water_supply",
        "vfd-booster-pump", "", "", "", None, Criticality.HIGH, AssetStatus.IN_SERVICE, None,
    )  # fmt: skip
    assert ledger_tags([asset]) == {"HT-PMP-001": {"building": "B1", "system": "water_supply"}}
