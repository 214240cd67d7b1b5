"""Flood detection (more than 10 alarms in 10 minutes per position) and incident grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.alarms.floods import FloodDetector, IncidentGrouper, flood_intervals

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_ten_alarms_are_not_a_flood_eleven_are() -> None:
    detector = FloodDetector(threshold=10, window_s=600)
    for i in range(10):
        assert detector.add("HT", at(i * 30)) == []
    assert not detector.in_flood("HT")
    (change,) = detector.add("HT", at(300))
    assert (change.started, change.at, change.count) == (True, at(300), 11)
    assert detector.flood_since("HT") == at(300)


def test_positions_are_separate() -> None:
    detector = FloodDetector(threshold=2, window_s=60)
    detector.add("HT", at(0))
    detector.add("JU", at(1))
    detector.add("HT", at(2))
    assert not detector.in_flood("HT")
    assert detector.add("JU", at(3)) == []
    assert detector.add("HT", at(4))[0].started


def test_flood_ends_when_the_window_holds_threshold_again() -> None:
    detector = FloodDetector(threshold=2, window_s=60)
    for t in (0, 10, 20):
        detector.add("HT", at(t))
    assert detector.in_flood("HT")
    assert detector.check(at(59)) == []
    (end,) = detector.check(at(65))
    assert (end.started, end.at, end.count) == (False, at(60), 2)
    assert detector.count("HT") == 2  # the alarm at 0 left; 10 and 20 remain


def test_an_alarm_after_a_quiet_spell_reports_the_flood_end() -> None:
    detector = FloodDetector(threshold=1, window_s=10)
    detector.add("HT", at(0))
    detector.add("HT", at(1))  # flood
    changes = detector.add("HT", at(30))  # ended when the first left (at 10); no new flood
    assert [(c.started, c.at) for c in changes] == [(False, at(10))]


def test_flood_intervals_match_the_detector() -> None:
    times = [at(t) for t in (0, 5, 10, 15, 300, 301)]
    assert flood_intervals(times, end=at(1000), threshold=3, window_s=60) == [(at(15), at(60))]
    # clipped at the end of the period
    assert flood_intervals(times, end=at(30), threshold=3, window_s=60) == [(at(15), at(30))]
    assert flood_intervals([], end=at(30)) == []


def test_incident_groups_alarms_close_in_time_with_the_first_out() -> None:
    grouper = IncidentGrouper(window_s=60, min_alarms=3)
    first = grouper.on_raise("HT", "HT-FAP-001/mains_fault", at(0))
    second = grouper.on_raise("HT", "HT-PMP-001/comm_loss", at(40))
    third = grouper.on_raise("HT", "HT-PMP-002/comm_loss", at(90))  # 50 s after the latest
    assert not first.announce
    assert not second.announce
    assert third.announce
    incident = third.incident
    assert incident.first_out == "HT-FAP-001/mains_fault"
    assert incident.members == [
        "HT-FAP-001/mains_fault",
        "HT-PMP-001/comm_loss",
        "HT-PMP-002/comm_loss",
    ]
    fourth = grouper.on_raise("HT", "HT-PMP-003/comm_loss", at(100))
    assert fourth.incident is incident
    assert not fourth.announce  # announced once


def test_a_quiet_minute_starts_a_new_incident_and_sites_are_separate() -> None:
    grouper = IncidentGrouper(window_s=60, min_alarms=2)
    a = grouper.on_raise("HT", "HT-PMP-001/drive_fault", at(0)).incident
    b = grouper.on_raise("JU", "JU-PMP-001/drive_fault", at(1)).incident
    c = grouper.on_raise("HT", "HT-PMP-002/drive_fault", at(61)).incident
    assert a is not b
    assert c is not a
    assert grouper.open_incident("HT", at(100)) is c
    assert grouper.open_incident("HT", at(122)) is None
