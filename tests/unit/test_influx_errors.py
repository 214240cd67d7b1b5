"""Locating the lines InfluxDB refused from its own error text, quoting, and the retention /
continuous-query statements (pure parts of gateway.influx and gateway.retention)."""

from __future__ import annotations

import pytest

from facility.errors import ConfigError, StorageError
from gateway.influx import (
    InfluxAuthError,
    InfluxClient,
    InfluxRejected,
    InfluxUnavailable,
    locate_rejected,
    quote_ident,
    quote_string,
)
from gateway.retention import (
    HOUR_MS,
    MINUTE_MS,
    RetentionPlan,
    aggregate_select,
    backfill_windows,
    cq_statement,
    rp_statement,
)

LINES = [
    b'pmp,asset_no=HT-PMP-001,site=HT current=1.0,firmware="1.0" 1000\n',
    b"pmp,asset_no=HT-PMP-002,site=HT current=2.0,firmware=11.0 1000\n",
    b'pmp,asset_no=HT-PMP-003,site=HT current="x, y",firmware=true 1000\n',
    b"lgt,asset_no=HT-LGT-001,site=HT firmware=12.0 1000\n",
    b"garbage line\n",
]

# InfluxDB 1.6.7's messages, as measured (tests/integration/test_gateway_ingest.py)
CONFLICT = (
    "InfluxDB http://x write: HTTP 400: partial write: field type conflict: input field "
    '"firmware" on measurement "pmp" is type float, already exists as type string dropped=2'
)
PARSE = (
    "InfluxDB http://x write: HTTP 400: partial write: unable to parse 'garbage line': "
    "invalid field format dropped=0"
)
INVALID = (
    'InfluxDB http://x write: HTTP 400: partial write: invalid field name: input field "time" '
    'on measurement "pmp" is invalid dropped=1'
)


def test_a_field_type_conflict_names_every_line_writing_that_field_with_another_type() -> None:
    bad = locate_rejected(LINES, CONFLICT)
    assert sorted(bad) == [1, 2]  # float and bool firmware in pmp; lgt's is another measurement
    assert "'firmware' is float, InfluxDB already stores it as string" in bad[1]
    assert "is boolean" in bad[2]


def test_a_parse_error_quotes_the_line() -> None:
    assert locate_rejected(LINES, PARSE) == {4: "unable to parse: invalid field format"}


def test_an_invalid_field_name() -> None:
    lines = [b"pmp,asset_no=A time=1.0 1\n", b"pmp,asset_no=A x=1.0 1\n"]
    assert locate_rejected(lines, INVALID) == {0: "invalid field name 'time'"}


def test_a_message_that_names_nothing_locates_nothing() -> None:
    assert locate_rejected(LINES, "HTTP 413: Request Entity Too Large") == {}


def test_escaped_names_in_lines_match() -> None:
    lines = [b'pmp,asset_no=A my\\ field="s" 1\n']
    message = (
        'field type conflict: input field "my field" on measurement "pmp" is type string, '
        "already exists as type float"
    )
    assert list(locate_rejected(lines, message)) == [0]


def test_error_classes_sit_in_the_project_tree() -> None:
    assert issubclass(InfluxUnavailable, StorageError)
    assert issubclass(InfluxRejected, StorageError)
    assert issubclass(InfluxAuthError, StorageError)
    assert issubclass(InfluxAuthError, ConfigError)  # printed as a configuration problem


@pytest.mark.parametrize(
    ("url", "database"), [("ftp://x", "db"), ("localhost:8086", "db"), ("http://x:8086", "")]
)
def test_bad_client_configuration(url: str, database: str) -> None:
    with pytest.raises(ConfigError):
        InfluxClient(url, database)


def test_quoting() -> None:
    assert quote_ident('we"ird') == '"we\\"ird"'
    assert quote_string("it's") == "'it\\'s'"


def test_retention_policy_statements() -> None:
    assert rp_statement("facility", "raw", 30, default=True, create=True) == (
        'CREATE RETENTION POLICY "raw" ON "facility" DURATION 30d REPLICATION 1 '
        "SHARD DURATION 1d DEFAULT"
    )
    assert rp_statement("facility", "agg_1h", 3650, default=False, create=False).startswith(
        'ALTER RETENTION POLICY "agg_1h" ON "facility" DURATION 3650d REPLICATION 1 SHARD '
        "DURATION 7d"
    )


def test_continuous_queries_cover_every_class_and_health_but_not_events() -> None:
    plan = RetentionPlan()
    minute = cq_statement(plan, "facility", hourly=False)
    assert minute.startswith(
        'CREATE CONTINUOUS QUERY "facility_agg_1m" ON "facility" RESAMPLE EVERY 1m FOR 2m '
        'BEGIN SELECT mean(*), min(*), max(*), last(*) INTO "facility"."agg_1m".:MEASUREMENT '
    )
    for measurement in ("pmp", "pdp", "tnk", "lgt", "fap", "device_health"):
        assert f'"facility"."raw"."{measurement}"' in minute
    assert "ingest_events" not in minute
    assert minute.endswith("GROUP BY time(1m), * END")
    hour = cq_statement(plan, "facility", hourly=True)
    assert "SELECT mean(/^mean_/), min(/^min_/), max(/^max_/), last(/^last_/)" in hour
    assert '"facility"."agg_1m"."pmp"' in hour
    assert "RESAMPLE EVERY 1h FOR 2h" in hour


def test_backfill_select_is_bounded() -> None:
    select = aggregate_select(RetentionPlan(), "db", hourly=False, start_ms=60_000, end_ms=120_000)
    assert "WHERE time >= 60000ms AND time < 120000ms GROUP BY time(1m), *" in select


@pytest.mark.parametrize(
    ("start", "end", "step", "windows"),
    [
        (61_000, 61_500, MINUTE_MS, [(60_000, 120_000)]),
        (59_000, 61_000, MINUTE_MS, [(0, 120_000)]),
        (HOUR_MS + 5, 3 * HOUR_MS + 5, HOUR_MS, [(HOUR_MS, 4 * HOUR_MS)]),
        (0, 50 * HOUR_MS, HOUR_MS, [(0, 24 * HOUR_MS), (24 * HOUR_MS, 48 * HOUR_MS),
                                    (48 * HOUR_MS, 51 * HOUR_MS)]),
        (10, 5, MINUTE_MS, []),
    ],
)  # fmt: skip
def test_backfill_windows(start: int, end: int, step: int, windows: list[tuple[int, int]]) -> None:
    assert backfill_windows(start, end, step) == windows
