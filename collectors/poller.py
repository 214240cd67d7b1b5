"""One poll loop per device, protocol-free.

Wakes at the device's next deadline, asks its collector for the poll classes due, hands one
message per poll to the publisher. The message carries the device's full last-known state:
the points of the classes not due ride along as last read (``carried``, each with the time
of the poll that read it), so the retained message alone tells a cold consumer everything
(docs/decisions/008-retained-full-state.md) — without a second message per poll.

A device that is down (breaker open) is not asked until its backoff has passed; meanwhile
its due polls publish bad-quality readings without touching the wire, so the bus says it is
down and the live devices on the same connection keep their period. Logs once when a device
goes, once when it returns.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from collectors.base import Collected, DeviceCollector
from collectors.health import DeviceHealth, Transition
from collectors.schedule import PollSchedule, first_deadline
from device_profiles.models import PollClass
from facility.payload import DeviceMessage
from facility.types import Quality, Reading

log = logging.getLogger(__name__)

_POINT = attrgetter("point")

Sink = Callable[[DeviceMessage], None]


class DevicePoller:
    """Polls one device on its schedule and publishes each poll."""

    def __init__(
        self,
        device: DeviceCollector,
        sink: Sink,
        *,
        rng: random.Random | None = None,
        health: DeviceHealth | None = None,
        sequence: Callable[[str], int] | None = None,
        period_scale: float = 1.0,
    ) -> None:
        self.device = device
        self.sink = sink
        self.rng = rng or random.Random()
        self.health = health or DeviceHealth(rng=self.rng)
        self.seq = 0
        # the publisher's per-device counter survives restarts and reloads; alone, from 1
        self.sequence = sequence
        periods = device.profile.poll_periods_s
        used = {p.poll for p in device.profile.points}
        # period_scale < 1 polls faster than the profile says ([collector] poll_scale: soaks)
        self.periods = {
            c: periods[c] * period_scale for c in PollClass if c in used and c in periods
        }
        self.schedule: PollSchedule | None = None
        self._last_ms = 0  # collected time of the previous poll, epoch ms
        # every point as last read: [reading, its poll's collected time, the reading stamped
        # with that time (made when first carried)] (insertion order: the order the points
        # were first read)
        self._state: dict[str, list[Any]] = {}
        # the last poll, when it read every point in ``_state`` (whose entries it then
        # supersedes): (its readings, its collected time); see ``_carry``
        self._whole: tuple[tuple[Reading, ...], datetime] | None = None

    async def run(self) -> None:
        """Poll until cancelled. Start jitter spreads a site's devices over the fast period,
        in a few shared phases (``schedule.first_deadline``): one wake-up per phase."""
        fastest = min(self.periods.values())
        start = first_deadline(time.monotonic(), fastest, self.rng.uniform(0, fastest))
        self.schedule = schedule = PollSchedule(self.periods, start)
        task = asyncio.current_task()
        while True:
            delay = schedule.next_wake() - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            due = schedule.due(now)
            if not due:
                continue
            await self.poll_once(due, now)
            if task is not None and task.cancelling():
                # Python 3.11's wait_for (in a library a collector awaits; pymodbus' client
                # did) returns the answer and drops a cancellation that arrives with it: the
                # loop would poll on and the fleet's stop would wait for it for ever
                raise asyncio.CancelledError
            skipped = schedule.advance(due, time.monotonic())
            self.health.overruns += skipped

    async def poll_once(self, due: frozenset[PollClass], now: float) -> Collected:
        """One poll of the classes ``due`` (or a bad-quality message while backing off)."""
        asset = self.device.asset
        if self.health.may_poll(now):
            collected = await self.device.collect(due)
            done = time.monotonic()
            if collected.failed_all:
                transition = self.health.failure(
                    done, collected.error_code or "error", collected.error or "no data"
                )
            else:
                transition = self.health.success(done, collected.rtt_ms)
                if collected.error_code:  # partial: count it without opening the breaker
                    self.health.errors_by_code[collected.error_code] = (
                        self.health.errors_by_code.get(collected.error_code, 0) + 1
                    )
            if transition is Transition.WENT_DOWN:
                log.warning(
                    "device down asset_no=%s error=%s: %s",
                    asset.asset_no,
                    collected.error_code,
                    collected.error,
                )
            elif transition is Transition.CAME_BACK:
                log.info(
                    "device back asset_no=%s after %d failed polls",
                    asset.asset_no,
                    self.health.failures,
                )
        else:
            collected = self._skipped(due)
        self.seq = self.sequence(asset.asset_no) if self.sequence is not None else self.seq + 1
        collected_ts = self._next_ts()
        self.sink(
            DeviceMessage(
                site=asset.site,
                asset_no=asset.asset_no,
                device_class=asset.device_class.value,
                seq=self.seq,
                collected_ts=collected_ts,
                readings=collected.readings,
                health=self.health.as_reading(),
                carried=self._carry(collected.readings, collected_ts),
            )
        )
        return collected

    def _carry(self, readings: tuple[Reading, ...], collected_ts: datetime) -> tuple[Reading, ...]:
        """The last known readings of the points this poll did not read, each stamped with
        the collected time of the poll that read it (what ``"at"`` says on the wire); then
        remember this poll's readings. A stamped copy is made once per point and poll, and
        only when carried: a device whose points are all read every poll makes none (it was
        a ``dataclasses.replace`` per point and poll, 1.7 µs each).

        A poll that read every point known (all points in one class, or every class due:
        the common case) is kept whole and costs no allocation per point; it is spread into
        the per-point state only when a later poll reads fewer points."""
        state = self._state
        if len(readings) == len(state) and all(map(state.__contains__, map(_POINT, readings))):
            self._whole = (readings, collected_ts)
            return ()
        whole = self._whole
        if whole is not None:
            self._whole = None
            whole_ts = whole[1]
            for reading in whole[0]:
                state[reading.point] = [reading, whole_ts, None]
        for reading in readings:
            state[reading.point] = [reading, collected_ts, None]
        if len(state) == len(readings):  # every point known was read now: nothing to carry
            return ()
        carried: list[Reading] = []
        for last in state.values():
            if last[1] is collected_ts:  # read by this poll (each poll has its own time)
                continue
            stamped = last[2]
            if stamped is None:
                r = last[0]
                stamped = last[2] = Reading(
                    r.site, r.asset_no, r.point, r.value, r.unit, r.quality, r.source_ts, last[1]
                )
            carried.append(stamped)
        return tuple(carried)

    def _next_ts(self) -> datetime:
        """Now, but always after this device's previous poll: the historian keys a poll by
        its millisecond, and two polls in one millisecond (a failing device answers at once)
        would overwrite each other there — one poll lost without a trace.

        Counted in integer milliseconds (a third of the cost of ``datetime.now`` plus
        ``replace`` and a ``timedelta``); ``fromtimestamp(ms / 1000)`` is exact: until 2106 a
        double holds ``ms / 1000`` within 0.5 µs, and the microseconds are rounded."""
        ms = time.time_ns() // 1_000_000
        if ms <= self._last_ms:
            ms = self._last_ms + 1
        self._last_ms = ms
        return datetime.fromtimestamp(ms / 1000, UTC)

    def _skipped(self, due: frozenset[PollClass]) -> Collected:
        now = datetime.now(UTC)
        asset = self.device.asset
        readings = tuple(
            Reading(asset.site, asset.asset_no, p.name, None, p.unit, Quality.BAD_COMM, None, now)
            for p in self.device.profile.points
            if p.poll in due
        )
        return Collected(readings, 0.0, 0, "backoff", self.health.last_error, failed_all=True)
