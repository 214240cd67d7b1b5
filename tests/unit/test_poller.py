"""The device poll loop (collectors/poller.py) with a device that is a plain object: the
full last-known state each message carries, and a cancellation the library swallowed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from itertools import pairwise

from collectors.base import Collected
from collectors.poller import DevicePoller
from device_profiles import load_library
from device_profiles.models import DeviceProfile, PollClass
from facility.payload import DeviceMessage, epoch_ms, from_epoch_ms
from facility.types import Asset, Quality, Reading
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file

PROFILES = load_library()


def pump() -> Asset:
    ht = next(p for p in demo_ledger_paths() if p.stem == "HT")
    return next(a for a in read_ledger_file(ht) if a.asset_no == "HT-PMP-001")


class Device:
    """Answers every point of the classes asked with its poll count as the value."""

    def __init__(self, swallow_cancel: bool = False) -> None:
        self.asset = pump()
        self.profile: DeviceProfile = PROFILES[self.asset.profile or ""]
        self.polls = 0
        self.swallow_cancel = swallow_cancel
        self.inside = asyncio.Event()

    async def collect(self, classes: frozenset[PollClass]) -> Collected:
        self.polls += 1
        self.inside.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if not self.swallow_cancel:
                raise
            self.swallow_cancel = False  # once
            # what Python 3.11's asyncio.wait_for (inside pymodbus) does when the answer
            # arrives together with the cancellation: returns the answer, drops the cancel
        now = datetime.now(UTC)
        readings = tuple(
            Reading("HT", "HT-PMP-001", p.name, float(self.polls), p.unit, Quality.GOOD, None, now)
            for p in self.profile.points
            if p.poll in classes
        )
        return Collected(readings, 1.0, 1)


async def test_each_message_carries_the_points_of_the_classes_not_polled() -> None:
    sent: list[DeviceMessage] = []
    device = Device()
    poller = DevicePoller(device, sent.append)
    await poller.poll_once(frozenset(PollClass), 0.0)
    await poller.poll_once(frozenset({PollClass.FAST}), 1.0)
    first, second = sent
    fast = {p.name for p in device.profile.points if p.poll is PollClass.FAST}
    assert not first.carried  # the first poll read every class
    assert {r.point for r in second.readings} == fast
    carried = {r.point: r for r in second.carried}
    assert set(carried) == {p.name for p in device.profile.points} - fast
    # as last read: the first poll's value, stamped with the first poll's collected time
    assert {r.value for r in carried.values()} == {1.0}
    assert {r.collected_ts for r in carried.values()} == {first.collected_ts}
    await poller.poll_once(frozenset({PollClass.SLOW}), 2.0)
    third = sent[-1]
    by_point = {r.point: r for r in third.carried}
    # the fast points now carried are the second poll's
    assert all(by_point[p].collected_ts == second.collected_ts for p in fast)


async def test_carried_points_follow_any_sequence_of_polls() -> None:
    """Whole polls (every class due) between partial ones: each message carries exactly the
    points it did not read, as last read, stamped with the time of the poll that read them,
    in the order the points were first read."""
    sent: list[DeviceMessage] = []
    device = Device()
    poller = DevicePoller(device, sent.append)
    every = frozenset(PollClass)
    fast, slow = frozenset({PollClass.FAST}), frozenset({PollClass.SLOW})
    last: dict[str, tuple[object, datetime]] = {}  # the model: point -> (value, poll time)
    for due in (fast, every, every, fast, fast, every, slow, every, every, slow, fast):
        await poller.poll_once(due, 0.0)
        message = sent[-1]
        read = {r.point for r in message.readings}
        expected = [(p, v, ts) for p, (v, ts) in last.items() if p not in read]
        assert [(r.point, r.value, r.collected_ts) for r in message.carried] == expected
        for r in message.readings:
            last[r.point] = (r.value, message.collected_ts)


def test_collected_times_are_whole_milliseconds_now_and_always_later() -> None:
    """Polls faster than a millisecond apart still get distinct, increasing times, each a
    whole millisecond (the historian keys a poll by it) and no earlier than the clock."""
    poller = DevicePoller(Device(), lambda message: None)
    before = datetime.now(UTC).replace(microsecond=0)
    times = [poller._next_ts() for _ in range(2000)]
    assert all(a < b for a, b in pairwise(times))
    assert all(t.microsecond % 1000 == 0 and t.tzinfo is UTC for t in times)
    assert before <= times[0] <= datetime.now(UTC)
    assert all(from_epoch_ms(epoch_ms(t)) == t for t in times)  # what the wire carries


async def test_a_cancellation_swallowed_inside_a_poll_still_stops_the_loop() -> None:
    device = Device(swallow_cancel=True)
    poller = DevicePoller(device, lambda message: None)
    task = asyncio.create_task(poller.run())
    await asyncio.wait_for(device.inside.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    if not done:  # before: the loop went on polling, and Fleet.close waited for ever
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert done
    assert task.cancelled()
