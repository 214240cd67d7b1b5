"""The history API and its CLI on a real influxd: raw, 1-minute and 1-hour series, latest
values, counter increases per day, gaps from seq, CSV; retention set up idempotently."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from device_profiles import load_library
from devtools.services import InfluxServer
from facility.cli import cli
from facility.payload import DeviceMessage
from facility.types import Quality, Reading
from gateway.history import DAY_MS, HOUR_MS, MINUTE_MS, History, PointKind, Resolution, point_kinds
from gateway.influx import InfluxClient
from gateway.lineproto import LineEncoder
from gateway.retention import RetentionPlan, backfill, setup

ASSET = "HT-PMP-001"
NOW_MS = int(time.time() * 1000)
# three days of 1-minute polls, ending at the last whole hour
BASE_MS = NOW_MS - NOW_MS % HOUR_MS - 3 * DAY_MS
MINUTES = 3 * 24 * 60
RAW_START = BASE_MS + MINUTES * MINUTE_MS - 10 * MINUTE_MS  # last 10 minutes: 1 s polls


def message(seq: int, ts_ms: int, current: float | None, run_hours: float) -> DeviceMessage:
    ts = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    quality = Quality.GOOD if current is not None else Quality.BAD_COMM
    readings = (
        Reading("HT", ASSET, "current", current, "A", quality, None, ts),
        Reading("HT", ASSET, "run_hours", run_hours, "h", Quality.GOOD, None, ts),
        Reading(
            "HT", ASSET, "run_state", (ts_ms // (30 * MINUTE_MS)) % 2, "", Quality.GOOD, None, ts
        ),
        Reading("HT", ASSET, "firmware", "V2.31", "", Quality.GOOD, None, ts),
    )
    return DeviceMessage("HT", ASSET, "PMP", seq, ts, readings, {"comm_ok": current is not None})


@pytest.fixture(scope="module")
def history_db(influxd: InfluxServer) -> Iterator[str]:
    """One database with three days of a pump, written once for the module's tests."""
    name = f"history_{int(time.time())}"
    client = InfluxClient(influxd.url, name)
    plan = RetentionPlan()
    setup(client, plan)
    encoder = LineEncoder()
    lines: list[bytes] = []
    seq = 0
    for minute in range(MINUTES - 10):
        seq += 1
        if 600 <= minute < 605:  # five polls never arrived
            continue
        ts = BASE_MS + minute * MINUTE_MS
        lines.append(encoder.encode(message(seq, ts, float(minute % 60), minute / 120)))
    for second in range(600):
        seq += 1
        ts = RAW_START + second * 1000
        current = None if second == 599 else 100.0 + second  # the last poll failed
        lines.append(
            encoder.encode(message(seq, ts, current, (MINUTES - 10) / 120 + second / 7200))
        )
    for start in range(0, len(lines), 2000):
        client.write(b"".join(lines[start : start + 2000]))
    backfill(client, plan, BASE_MS, NOW_MS)
    client.close()
    yield name
    influxd.drop_database(name)


@pytest.fixture
def history(influxd: InfluxServer, history_db: str) -> Iterator[History]:
    client = InfluxClient(influxd.url, history_db)
    yield History(client, kinds=point_kinds(load_library()))
    client.close()


def test_setup_is_idempotent(influxd: InfluxServer, history_db: str) -> None:
    client = InfluxClient(influxd.url, history_db)
    try:
        assert setup(client, RetentionPlan()) == []
        changed = setup(client, RetentionPlan(raw_days=7))
        assert changed == [
            f'ALTER RETENTION POLICY "raw" ON "{history_db}" DURATION 7d REPLICATION 1 '
            "SHARD DURATION 1d DEFAULT"
        ]
        assert setup(client, RetentionPlan()) != []  # back to 30 days
        names = [r[0] for s in client.query_one("SHOW CONTINUOUS QUERIES") for r in s.values]
        assert {"facility_agg_1m", "facility_agg_1h"} <= set(names)
    finally:
        client.close()


def test_short_range_is_raw_with_quality(history: History) -> None:
    series = history.series(ASSET, "current", RAW_START, RAW_START + 600_000, now_ms=NOW_MS)
    assert series.plan.resolution is Resolution.RAW
    assert series.plan.bucket_s is None
    assert len(series.points) == 600
    assert series.points[0].value == 100.0
    bad = series.points[599]
    assert (bad.value, bad.quality) == (None, "bad_comm")  # no fake 0, the quality says why
    assert series.points[598].quality is None


def test_a_day_reads_one_minute_aggregates(history: History) -> None:
    end = BASE_MS + 2 * DAY_MS
    series = history.series(ASSET, "current", end - DAY_MS, end, now_ms=NOW_MS)
    assert (series.plan.resolution, series.plan.bucket_s) == (Resolution.MINUTE, 60)
    assert series.kind is PointKind.ANALOG
    assert len(series.points) == 1440
    first = series.points[0]
    assert (first.value, first.low, first.high) == (0.0, 0.0, 0.0)  # one poll per minute


def test_three_months_read_hourly_aggregates_under_max_points(history: History) -> None:
    series = history.series(ASSET, "current", NOW_MS - 90 * DAY_MS, NOW_MS, now_ms=NOW_MS)
    assert series.plan.resolution is Resolution.HOUR
    assert len(series.points) <= 2000
    gap = BASE_MS + 600 * MINUTE_MS  # the hour with five polls missing
    full = [
        p
        for p in series.points
        if BASE_MS + HOUR_MS <= p.ts_ms < BASE_MS + DAY_MS
        and not p.ts_ms <= gap < p.ts_ms + 7200_000
    ]
    assert len(full) >= 8
    for point in full:  # each 2 h bucket: minutes 0..59 twice
        assert point.value == pytest.approx(29.5)
        assert (point.low, point.high) == (0.0, 59.0)


def test_states_take_the_last_value_and_counters_the_maximum(history: History) -> None:
    end = BASE_MS + DAY_MS
    state = history.series(ASSET, "run_state", BASE_MS, end, max_points=24, now_ms=NOW_MS)
    assert state.kind is PointKind.STATE
    assert {p.value for p in state.points} <= {0.0, 1.0}
    text = history.series(ASSET, "firmware", BASE_MS, end, max_points=24, now_ms=NOW_MS)
    assert {p.value for p in text.points} == {"V2.31"}
    counter = history.series(ASSET, "run_hours", BASE_MS, end, max_points=24, now_ms=NOW_MS)
    assert counter.kind is PointKind.COUNTER
    assert counter.points[0].value == pytest.approx(59 / 120)  # max of the first hour


def test_latest_values_and_quality(history: History) -> None:
    latest = history.latest(ASSET)
    assert set(latest) == {"current", "run_hours", "run_state", "firmware"}
    current = latest["current"]
    assert current.value == 100.0 + 598  # the last known value, and when it was read ...
    assert current.value_ts_ms == RAW_START + 598_000
    assert (current.quality, current.ts_ms) == ("bad_comm", RAW_START + 599_000)  # ... now bad
    assert latest["firmware"].value == "V2.31"
    assert latest["run_hours"].quality == "good"


def test_counter_increases_per_day(history: History) -> None:
    days = history.increases(ASSET, "run_hours", BASE_MS + HOUR_MS, BASE_MS + 3 * DAY_MS, "day")
    known = [d.increase for d in days if d.increase is not None]
    assert known
    # 0.5 h of run hours per hour of data → 12 h per full local day
    full = [
        d
        for d in days
        if d.start_ms >= BASE_MS + HOUR_MS and d.end_ms <= BASE_MS + 3 * DAY_MS - 2 * HOUR_MS
    ]
    for day in full:
        assert day.increase == pytest.approx(12.0, abs=0.6)


def test_gaps_come_from_the_stored_seq(history: History) -> None:
    gaps = history.gaps(ASSET, BASE_MS, NOW_MS)
    assert [g.missed for g in gaps] == [5]
    assert gaps[0].after_ms == BASE_MS + 599 * MINUTE_MS


def test_cli_series_csv_latest_and_errors(influxd: InfluxServer, history_db: str) -> None:
    env = {"FACILITY_INFLUXDB__URL": influxd.url, "FACILITY_INFLUXDB__DATABASE": history_db}
    runner = CliRunner()
    since = datetime.fromtimestamp(RAW_START / 1000, UTC).isoformat()
    until = datetime.fromtimestamp((RAW_START + 600_000) / 1000, UTC).isoformat()
    result = runner.invoke(
        cli,
        ["history", ASSET, "current", "--since", since, "--until", until, "--csv"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "time,asset_no,point,value,quality"
    assert len(lines) == 601
    assert any(line.endswith(",bad_comm") for line in lines)
    result = runner.invoke(cli, ["history", ASSET.lower()], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "firmware" in result.output
    assert "V2.31" in result.output
    result = runner.invoke(
        cli, ["history", ASSET, "current", "--since", "4d"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "agg_1m" in result.output.splitlines()[0]
    result = runner.invoke(
        cli,
        ["history", ASSET, "run_hours", "--since", "3d", "--increase", "day", "--csv"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("period_start,period_end,asset_no,point,increase")


def test_cli_gateway_setup_says_what_it_did(influxd: InfluxServer, influx_db: str) -> None:
    env = {"FACILITY_INFLUXDB__URL": influxd.url, "FACILITY_INFLUXDB__DATABASE": influx_db}
    runner = CliRunner()
    first = runner.invoke(cli, ["gateway", "setup"], env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "CREATE CONTINUOUS QUERY" in first.output
    again = runner.invoke(cli, ["gateway", "setup"], env=env, catch_exceptions=False)
    assert "already set up" in again.output
