"""Poll-class scheduling: no drift, overruns skip and count, never queue."""

from __future__ import annotations

import pytest

from collectors.schedule import PollSchedule
from device_profiles.models import PollClass

F, N, S = PollClass.FAST, PollClass.NORMAL, PollClass.SLOW


def schedule() -> PollSchedule:
    return PollSchedule({F: 1.0, N: 5.0, S: 60.0}, start=100.0)


def test_everything_is_due_at_start() -> None:
    s = schedule()
    assert s.due(99.9) == frozenset()
    assert s.due(100.0) == {F, N, S}


def test_classes_come_due_at_their_periods_without_drift() -> None:
    s = schedule()
    seen = []
    now = 100.0
    for _ in range(12):
        due = s.due(now)
        seen.append((round(now, 3), sorted(due)))
        s.advance(due, now + 0.2)  # each poll takes 0.2 s
        now = s.next_wake()
    assert [t for t, _ in seen] == [100.0 + k for k in range(12)]
    assert seen[5] == (105.0, [F, N])
    assert seen[10] == (110.0, [F, N])
    assert all(due == [F] for t, due in seen if t not in (100.0, 105.0, 110.0))
    assert s.overruns == 0


def test_overrun_skips_missed_deadlines_and_counts_them() -> None:
    s = schedule()
    due = s.due(100.0)
    skipped = s.advance(due, 103.5)  # poll took 3.5 s: fast deadlines 101, 102, 103 missed
    assert skipped == 3
    assert s.next_due[F] == 104.0
    assert s.next_due[N] == 105.0
    assert s.overruns == 3


def test_poll_ending_exactly_on_the_deadline_keeps_it() -> None:
    s = schedule()
    s.advance(s.due(100.0), 101.0)
    assert s.next_due[F] == 101.0
    assert s.overruns == 0


def test_poll_scale_multiplies_every_profile_period() -> None:
    """``[collector] poll_scale`` (soaks at several times the estates' rate): 0.25 polls
    every class four times as often; 1 keeps the profile's periods."""
    from types import SimpleNamespace

    from collectors.poller import DevicePoller
    from device_profiles.loader import load_library
    from facility.config import CollectorConfig

    profile = next(p for p in load_library().values() if len({q.poll for q in p.points}) > 1)
    device = SimpleNamespace(profile=profile, asset=None)
    plain = DevicePoller(device, sink=None)  # type: ignore[arg-type]
    fast = DevicePoller(device, sink=None, period_scale=0.25)  # type: ignore[arg-type]
    assert len(plain.periods) > 1
    assert fast.periods == {c: p * 0.25 for c, p in plain.periods.items()}
    assert CollectorConfig().poll_scale == 1.0
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="poll_scale"):
            CollectorConfig(poll_scale=bad)
