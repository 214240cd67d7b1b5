"""Modbus TCP collector: one connection per host:port, one device collector per unit id.

Plans are computed once per (device, set of poll classes) with the pure planner; a poll
executes them in order on the shared connection. Partial success is per request block: a
block that fails marks only its points bad. Profile workarounds are honoured here
(pause between requests, close after read).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from collectors.base import Collected
from collectors.modbus.decode import Slot, compile_request, decode_slots, failed_slots
from collectors.modbus.planner import ReadRequest, plan_requests
from collectors.modbus.transport import (
    ModbusBusyError,
    ModbusCommError,
    ModbusConnection,
    ModbusProtocolError,
)
from device_profiles.models import DeviceProfile, ModbusDefaults, PollClass
from facility.errors import FacilityError
from facility.types import Asset, ModbusEndpoint, Quality, Reading


class ModbusDevice:
    """One asset (unit id) behind a Modbus connection."""

    def __init__(self, asset: Asset, profile: DeviceProfile, connection: ModbusConnection):
        if not isinstance(asset.endpoint, ModbusEndpoint):
            raise FacilityError(f"asset {asset.asset_no}: not a Modbus endpoint")
        self.asset = asset
        self.profile = profile
        self.connection = connection
        self.unit_id = asset.endpoint.unit_id
        self.limits = profile.modbus or ModbusDefaults()
        self._plans: dict[frozenset[PollClass], list[tuple[ReadRequest, tuple[Slot, ...]]]] = {}

    def compiled(self, classes: frozenset[PollClass]) -> list[tuple[ReadRequest, tuple[Slot, ...]]]:
        """The requests for the points of ``classes`` with their decode slots (cached)."""
        plan = self._plans.get(classes)
        if plan is None:
            points = [p for p in self.profile.points if p.poll in classes]
            plan = self._plans[classes] = [
                (request, compile_request(self.profile, request))
                for request in plan_requests(points, self.limits)
            ]
        return plan

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
        plan = self.compiled(classes)
        pause = self.limits.pause_between_requests_ms / 1000
        now = datetime.now(UTC)
        for index, (request, slots) in enumerate(plan):
            if index and pause:
                await asyncio.sleep(pause)
            try:
                registers = await self.connection.read(
                    self.unit_id, request.table, request.address, request.count
                )
            except (ModbusCommError, ModbusBusyError) as exc:
                quality, code, message = Quality.BAD_COMM, exc.code, str(exc)
            except ModbusProtocolError as exc:
                quality, code, message = Quality.BAD_DEVICE, exc.error_code, str(exc)
            else:
                readings.extend(decode_slots(slots, site, asset_no, registers, now))
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
            self.connection.close()
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

    def __init__(self, host: str, port: int, devices: Sequence[tuple[Asset, DeviceProfile]]):
        timeout = min(((p.modbus or ModbusDefaults()).timeout_s for _, p in devices), default=1.0)
        self.name = f"modbus://{host}:{port}"
        self.connection = ModbusConnection(host, port, timeout_s=timeout)
        self._devices = [ModbusDevice(a, p, self.connection) for a, p in devices]

    def add_device(self, asset: Asset, profile: DeviceProfile) -> ModbusDevice:
        """Another unit behind this endpoint (hot reload keeps the connection)."""
        device = ModbusDevice(asset, profile, self.connection)
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
