"""A device's poll loop stops when cancelled, even when the cancellation is swallowed below it.

Python 3.11's ``asyncio.wait_for`` (which pymodbus awaits each answer with) returns the answer
and drops a cancellation that arrives in the same loop iteration. The poll loop then polled
on, and the collector's stop waited for it for ever (seen once in five runs of the Node-RED
bench at 100 devices, issue 16).
"""

from __future__ import annotations

import asyncio
import contextlib

from collectors.base import Collected
from collectors.poller import DevicePoller
from device_profiles import load_library
from device_profiles.models import PollClass
from facility.payload import DeviceMessage
from facility.types import ModbusEndpoint
from tests.support import make_asset

PUMP = load_library()["vfd-booster-pump"]


class SwallowingDevice:
    """Answers every poll; its request swallows a cancellation the way 3.11's wait_for does
    when the answer arrives together with it."""

    def __init__(self) -> None:
        self.asset = make_asset("HT-PMP-001", PUMP.id, ModbusEndpoint("127.0.0.1", 15021, 1))
        self.profile = PUMP
        self.polls = 0
        self.polling = asyncio.Event()

    async def collect(self, classes: frozenset[PollClass]) -> Collected:
        self.polls += 1
        self.polling.set()
        # the answer came with the cancellation: returned, cancellation lost
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)
        return Collected((), 1.0, 1)


async def test_a_cancellation_swallowed_inside_a_poll_still_stops_the_loop() -> None:
    device = SwallowingDevice()
    sent: list[DeviceMessage] = []
    poller = DevicePoller(device, sent.append)
    task = asyncio.create_task(poller.run())
    await asyncio.wait_for(device.polling.wait(), 5)
    task.cancel()  # lands inside collect(), which swallows it
    done, _ = await asyncio.wait([task], timeout=3)
    assert done, f"the poll loop went on after its cancellation ({device.polls} polls)"
    assert task.cancelled()
    assert len(sent) == 1, "the poll in progress is still published, no further poll"
