"""``facility.types.Reading`` is an immutable named tuple (docs/decisions/010): what its
users may rely on — fields by name and by position, ``_replace``, tuple equality."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from facility.types import Quality, Reading

TS = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_a_reading_is_an_immutable_named_tuple_with_the_fields_in_order() -> None:
    reading = Reading("HT", "HT-PMP-001", "current", 12.5, "A", Quality.GOOD, None, TS)
    assert Reading._fields == (
        "site",
        "asset_no",
        "point",
        "value",
        "unit",
        "quality",
        "source_ts",
        "collected_ts",
    )
    site, asset_no, point, value, unit, quality, source_ts, collected_ts = reading
    assert (site, asset_no, point, value, unit, quality, source_ts, collected_ts) == (
        "HT",
        "HT-PMP-001",
        "current",
        12.5,
        "A",
        "good",
        None,
        TS,
    )
    with pytest.raises(AttributeError):
        reading.value = 13.0  # type: ignore[misc]
    later = reading._replace(value=13.0)
    assert later.value == 13.0
    assert reading.value == 12.5
    # equality is a tuple's: field by field, and with a plain tuple of the same fields
    assert reading == Reading(*reading) == tuple(reading)
    assert hash(reading) == hash(tuple(reading))
