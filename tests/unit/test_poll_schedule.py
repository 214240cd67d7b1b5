"""Poll-class scheduling: no drift, overruns skip and count, never queue."""

from __future__ import annotations

import random

import pytest

from collectors.schedule import PHASES, PollSchedule, first_deadline
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


# -- start phases: a few shared slots per period, one wake-up per slot --------------------------


def test_first_deadline_is_on_the_grid_within_a_period_of_the_jittered_start() -> None:
    for now, offset in [(1000.0, 0.0), (1000.03, 0.5), (1234.567, 0.999), (7.0, 0.95)]:
        deadline = first_deadline(now, 1.0, offset)
        assert now + offset <= deadline < now + offset + 0.1 + 1e-9
        assert abs(deadline * 10 - round(deadline * 10)) < 1e-6, deadline


def test_devices_started_apart_share_the_slots_of_one_grid() -> None:
    """Two devices started 0.37 s apart, jittered into the same slot: the same deadlines, now
    and after a thousand periods, so one timer wakes both."""
    a = PollSchedule({F: 1.0}, first_deadline(5000.0, 1.0, 0.44))
    b = PollSchedule({F: 1.0}, first_deadline(5000.37, 1.0, 0.1))
    assert a.next_wake() == b.next_wake()
    for _ in range(1000):
        a.advance(a.due(a.next_wake()), a.next_wake() + 0.01)
        b.advance(b.due(b.next_wake()), b.next_wake() + 0.02)
    assert a.next_wake() == b.next_wake()


def test_a_fleet_wakes_in_at_most_the_phases_per_period() -> None:
    rng = random.Random(7)
    starts = {first_deadline(100.0 + rng.uniform(0, 3), 1.0, rng.uniform(0, 1)) for _ in range(300)}
    in_one_second = {round(s % 1.0, 6) for s in starts}
    assert len(in_one_second) <= PHASES
    assert PHASES == 10


def test_a_fast_period_gets_a_fine_grid() -> None:
    """Stress polling (1 ms) is not held back to a coarse grid: slots of 0.1 ms."""
    deadline = first_deadline(50.00001, 0.001, 0.0005)
    assert 50.00051 <= deadline < 50.00061 + 1e-9
