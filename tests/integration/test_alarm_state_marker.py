"""The alarm store's change marker (issue 12: server time per tick): it moves whenever a
saved state does, even when the number of states does not change, and the dashboard's query
layer re-reads the 500 states only when it moved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import dashboards.alarm_queries as alarm_queries_module
from dashboards.queries import Queries
from facility.config import DatabaseConfig, MqttConfig, Settings
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import AlarmState, AlarmStatus, EventKind
from gateway.alarms.store import AlarmStore, CurrentAlarm

ALARM = "HT-PDP-001/dry_run"


def _write(store: AlarmStore, state: AlarmState, at: datetime, *, journal: bool = True) -> None:
    status = AlarmStatus(state=state, since=at, active=True, active_since=at, raw=True,
                         raw_since=at, value=1.0)  # fmt: skip
    current = CurrentAlarm(ALARM, "HT", "HT-PDP-001", "dry_run", "high", status)
    raise_ = AlarmRecord(at, ALARM, "HT", "HT-PDP-001", "dry_run", EventKind.RAISE,
                         AlarmState.NORMAL, state, "high", 1.0)  # fmt: skip
    records = [raise_] if journal else []
    store.write(records, [current])


@pytest.fixture
def store(sql_url: str) -> Iterator[AlarmStore]:
    with AlarmStore(sql_url) as alarms:
        yield alarms


def test_the_marker_moves_when_a_state_is_rewritten_without_a_new_row(
    store: AlarmStore,
) -> None:
    at = datetime.now(UTC)
    empty = store.state_marker()
    _write(store, AlarmState.UNACK, at)
    raised = store.state_marker()
    assert raised != empty
    assert store.state_marker() == raised  # reading does not move it
    # same row, no journal entry: only the state's update stamp changes
    _write(store, AlarmState.ACKED, at + timedelta(seconds=5), journal=False)
    acked = store.state_marker()
    assert acked != raised
    assert acked[0] == raised[0] == 1  # one state row all along


def test_the_query_layer_rereads_states_only_when_the_marker_moved(
    sql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alarm_queries_module, "ALARM_TTL_S", 0.0)  # every call looks past the TTL
    settings = Settings(
        database=DatabaseConfig(url=sql_url), mqtt=MqttConfig(url="mqtt://127.0.0.1:1")
    )
    queries = Queries(settings, ack_timeout_s=1.0)  # never started: no broker needed
    try:
        with AlarmStore(sql_url) as store:
            _write(store, AlarmState.UNACK, datetime.now(UTC))
            first = queries.current_alarms()
            assert [a.state for a in first] == [AlarmState.UNACK]
            # nothing changed: the cached list itself comes back (no read of the states)
            assert queries.current_alarms() is first
            _write(store, AlarmState.ACKED, datetime.now(UTC), journal=False)
            assert [a.state for a in queries.current_alarms()] == [AlarmState.ACKED]
    finally:
        queries.close()
