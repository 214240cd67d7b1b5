"""Modbus TCP collector: one connection per host:port, one device collector per unit id.

Plans are computed once per (device, set of poll classes) with the pure planner; a poll
executes them in order on the shared connection. Partial success is per request block: a
block that fails marks only its points bad. Profile workarounds are honoured here
(pause between requests, close after read).

Limits the profile does not know are learned here: a block refused with exception 3 (too
many registers) or exception 2 across a gap is split at once (``planner.learn``) and its
points read in the same poll; what was learned is logged once, remembered per device
(``DeviceLimitStore``) and used by every later plan.

A unit that timed out is read on the endpoint's probe connection until it answers again, so
a dead unit behind a shared gateway never holds its neighbours' connection for a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from collectors.base import Collected
from collectors.modbus.decode import Slot, compile_request, decode_slots, failed_slots
from collectors.modbus.framing import ModbusBusyError, ModbusCommError, ModbusProtocolError
from collectors.modbus.limits import DeviceLimitStore
from collectors.modbus.planner import LearnedLimits, ReadRequest, learn, plan_requests
from collectors.modbus.transport import ModbusConnection
from device_profiles.models import DeviceProfile, ModbusDefaults, Point, PollClass
from facility.errors import FacilityError
from facility.types import Asset, ModbusEndpoint, Quality, Reading

log = logging.getLogger(__name__)


class ModbusDevice:
    """One asset (unit id) behind a Modbus connection."""

    def __init__(
        self,
        asset: Asset,
        profile: DeviceProfile,
        connection: ModbusConnection,
        store: DeviceLimitStore | None = None,
    ):
        if not isinstance(asset.endpoint, ModbusEndpoint):
            raise FacilityError(f"asset {asset.asset_no}: not a Modbus endpoint")
        self.asset = asset
        self.profile = profile
        self.connection = connection
        self.unit_id = asset.endpoint.unit_id
        self.limits = profile.modbus or ModbusDefaults()
        self.store = store or DeviceLimitStore(None)
        self.learned: LearnedLimits = self.store.get(asset.asset_no, profile.id)
        self._spans = {p.name: (p.modbus.address, p.modbus.end) for p in profile.points if p.modbus}
        self._plans: dict[frozenset[PollClass], list[tuple[ReadRequest, tuple[Slot, ...]]]] = {}
        # timed out on the shared connection: read on the probe connection until it answers
        self.suspect = False

    def compiled(self, classes: frozenset[PollClass]) -> list[tuple[ReadRequest, tuple[Slot, ...]]]:
        """The requests for the points of ``classes`` with their decode slots (cached)."""
        plan = self._plans.get(classes)
        if plan is None:
            points = [p for p in self.profile.points if p.poll in classes]
            plan = self._plans[classes] = self._compile(points)
        return plan

    def _compile(self, points: list[Point]) -> list[tuple[ReadRequest, tuple[Slot, ...]]]:
        return [
            (request, compile_request(self.profile, request))
            for request in plan_requests(points, self.limits, self.learned)
        ]

    def _learn(
        self, request: ReadRequest, exc: ModbusProtocolError
    ) -> list[tuple[ReadRequest, tuple[Slot, ...]]] | None:
        """The requests that replace a refused one, if the refusal taught a limit."""
        names = set(request.points)
        points = [p for p in self.profile.points if p.name in names]
        if plan_requests(points, self.limits, self.learned) != [request]:
            # planned before this poll learned something: plan it as it stands now
            return self._compile(points)
        learned = learn(request, exc.code, self._spans, self.limits, self.learned)
        if learned is None:
            return None
        self.learned = learned
        self._plans.clear()  # every plan is made again with what was learned
        self.store.put(self.asset.asset_no, self.profile.id, learned)
        log.warning(
            "device limit learned asset_no=%s: %s refused %s %d+%d (%s); from now on: %s",
            self.asset.asset_no,
            self.connection.name,
            request.table.value,
            request.address,
            request.count,
            exc,
            learned.describe(),
        )
        return self._compile(points)

    def plan(self, classes: frozenset[PollClass]) -> list[ReadRequest]:
        """The requests one poll of ``classes`` makes."""
        return [request for request, _ in self.compiled(classes)]

    async def collect(self, classes: frozenset[PollClass]) -> Collected:
        site, asset_no = self.asset.site, self.asset.asset_no
        readings: list[Reading] = []
        error_code: str | None = None
        error: str | None = None
        failed = 0
        started = time.perf_counter()
        plan = list(self.compiled(classes))
        pause = self.limits.pause_between_requests_ms / 1000
        now = datetime.now(UTC)
        shared = self.connection
        connection = shared.prober() if self.suspect else shared
        index = -1
        while index + 1 < len(plan):
            index += 1
            request, slots = plan[index]
            if index and pause:
                await asyncio.sleep(pause)
            try:
                registers = await connection.read(
                    self.unit_id, request.table, request.address, request.count
                )
            except (ModbusCommError, ModbusBusyError) as exc:
                quality, code, message = Quality.BAD_COMM, exc.code, str(exc)
                if (
                    code == "timeout"
                    and connection is shared
                    and not shared.second_connection_refused
                ):
                    self.suspect = True
                elif code == "refused" and connection is not shared and shared.connected:
                    shared.refuse_prober()
            except ModbusProtocolError as exc:
                if exc.code not in (10, 11):  # it answered; 10/11: the gateway waited for it
                    self.suspect = False
                smaller = self._learn(request, exc)
                if smaller is not None:
                    # read the refused block's points now, in smaller requests
                    plan[index : index + 1] = smaller
                    index -= 1
                    continue
                quality, code, message = Quality.BAD_DEVICE, exc.error_code, str(exc)
            else:
                readings.extend(decode_slots(slots, site, asset_no, registers, now))
                self.suspect = False  # answers again: back on the shared connection
                continue
            failed += 1
            if error_code is None:
                error_code, error = code, message
            readings.extend(failed_slots(slots, site, asset_no, quality, now))
            if quality is Quality.BAD_COMM and code in ("refused", "closed", "timeout"):
                # the device is not answering: do not spend the others' time on its
                # remaining blocks this cycle
                for _, rest in plan[index + 1 :]:
                    readings.extend(failed_slots(rest, site, asset_no, quality, now))
                    failed += 1
                break
        if self.limits.close_after_read:
            connection.close()
        rtt_ms = (time.perf_counter() - started) * 1000
        return Collected(
            tuple(readings),
            rtt_ms,
            len(plan),
            error_code,
            error,
            failed_all=bool(plan) and failed == len(plan),
        )


class ModbusCollector:
    """One Modbus TCP endpoint (device or gateway) and its units."""

    def __init__(
        self,
        host: str,
        port: int,
        devices: Sequence[tuple[Asset, DeviceProfile]],
        *,
        store: DeviceLimitStore | None = None,
    ):
        timeout = min(((p.modbus or ModbusDefaults()).timeout_s for _, p in devices), default=1.0)
        self.name = f"modbus://{host}:{port}"
        self.connection = ModbusConnection(host, port, timeout_s=timeout)
        self.store = store or DeviceLimitStore(None)
        self._devices = [ModbusDevice(a, p, self.connection, self.store) for a, p in devices]

    def add_device(self, asset: Asset, profile: DeviceProfile) -> ModbusDevice:
        """Another unit behind this endpoint (hot reload keeps the connection)."""
        device = ModbusDevice(asset, profile, self.connection, self.store)
        self._devices.append(device)
        return device

    def remove_device(self, asset_no: str) -> None:
        self._devices = [d for d in self._devices if d.asset.asset_no != asset_no]

    async def connect(self) -> None:
        """Nothing to do up front: the first read connects (and reconnects) on demand."""

    async def close(self) -> None:
        self.connection.close()

    def devices(self) -> Sequence[ModbusDevice]:
        return self._devices

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
