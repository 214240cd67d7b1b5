"""The running set of collectors and device poll loops, and hot reload of it.

``plan_reload`` (pure) compares the running definitions (asset + profile per asset number)
with the newly loaded ledger and profiles: only devices whose definition changed are
restarted, added or removed. ``Fleet.apply`` carries a plan out. Collectors that can take
devices one at a time (``add_device``/``remove_device``: Modbus, one connection per
endpoint) keep their connection and the untouched devices' loops; others (OPC UA: one
session and subscription per server) are rebuilt for that one endpoint only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from collectors.base import Collector, DeviceCollector
from collectors.poller import DevicePoller, Sink
from collectors.registry import CollectorOptions, build_collectors
from device_profiles.models import DeviceProfile
from facility.types import Asset, ModbusEndpoint, OpcuaEndpoint

log = logging.getLogger(__name__)

Definition = tuple[Asset, DeviceProfile]


@dataclass(frozen=True)
class ReloadPlan:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def plan_reload(running: Mapping[str, Definition], desired: Mapping[str, Definition]) -> ReloadPlan:
    """What to start, stop and restart to go from ``running`` to ``desired``."""
    added = tuple(sorted(set(desired) - set(running)))
    removed = tuple(sorted(set(running) - set(desired)))
    changed = tuple(sorted(n for n in set(running) & set(desired) if running[n] != desired[n]))
    return ReloadPlan(added, removed, changed)


def endpoint_key(asset: Asset) -> str:
    endpoint = asset.endpoint
    if isinstance(endpoint, ModbusEndpoint):
        return f"modbus://{endpoint.host}:{endpoint.port}"
    assert isinstance(endpoint, OpcuaEndpoint)
    return endpoint.url


def definitions(
    assets: list[Asset], profiles: Mapping[str, DeviceProfile]
) -> dict[str, Definition]:
    """Monitored assets with a known profile, by asset number."""
    return {
        a.asset_no: (a, profiles[a.profile])
        for a in assets
        if a.monitored and a.profile is not None and a.profile in profiles
    }


@runtime_checkable
class Reconfigurable(Protocol):
    def add_device(self, asset: Asset, profile: DeviceProfile) -> DeviceCollector: ...

    def remove_device(self, asset_no: str) -> None: ...


@dataclass
class _Running:
    definition: Definition
    poller: DevicePoller
    task: asyncio.Task[None]


@dataclass
class Fleet:
    sink: Sink
    options: CollectorOptions
    rng: random.Random
    group: asyncio.TaskGroup
    collectors: dict[str, Collector] = field(default_factory=dict)
    running: dict[str, _Running] = field(default_factory=dict)
    # per-device sequence numbers that continue across reloads (the publisher's)
    sequence: Callable[[str], int] | None = None

    @property
    def pollers(self) -> list[DevicePoller]:
        return [r.poller for r in self.running.values()]

    def _start(self, device: DeviceCollector, definition: Definition) -> None:
        poller = DevicePoller(
            device,
            self.sink,
            rng=random.Random(self.rng.random()),
            sequence=self.sequence,
            period_scale=self.options.poll_scale,
        )
        task = self.group.create_task(poller.run(), name=f"poll {definition[0].asset_no}")
        self.running[definition[0].asset_no] = _Running(definition, poller, task)

    async def _stop(self, asset_nos: list[str]) -> None:
        stopping = [self.running.pop(n) for n in asset_nos if n in self.running]
        for entry in stopping:
            entry.task.cancel()
        for entry in stopping:
            with contextlib.suppress(asyncio.CancelledError):
                await entry.task

    async def apply(self, desired: Mapping[str, Definition]) -> ReloadPlan:
        """Bring the running devices to ``desired``; returns what changed."""
        current = {n: r.definition for n, r in self.running.items()}
        plan = plan_reload(current, desired)
        if plan.empty:
            return plan
        touched: dict[str, list[str]] = defaultdict(list)  # endpoint -> asset numbers
        for asset_no in (*plan.removed, *plan.changed):
            touched[endpoint_key(current[asset_no][0])].append(asset_no)
        for asset_no in (*plan.added, *plan.changed):
            touched[endpoint_key(desired[asset_no][0])].append(asset_no)
        wanted_by_endpoint: dict[str, list[Definition]] = defaultdict(list)
        for definition in desired.values():
            wanted_by_endpoint[endpoint_key(definition[0])].append(definition)
        for key, asset_nos in touched.items():
            await self._apply_endpoint(key, set(asset_nos), wanted_by_endpoint.get(key, []))
        if current:  # not the first start
            log.info(
                "reload: %d added, %d removed, %d changed (%s)",
                len(plan.added),
                len(plan.removed),
                len(plan.changed),
                ", ".join([*plan.added, *plan.removed, *plan.changed][:10]),
            )
        return plan

    async def _apply_endpoint(
        self, key: str, asset_nos: set[str], wanted: list[Definition]
    ) -> None:
        collector = self.collectors.get(key)
        if collector is not None and isinstance(collector, Reconfigurable) and wanted:
            await self._stop(sorted(asset_nos))
            for asset_no in asset_nos:
                collector.remove_device(asset_no)
            for asset, profile in wanted:
                if asset.asset_no in asset_nos:
                    self._start(collector.add_device(asset, profile), (asset, profile))
            return
        # rebuild this endpoint's collector (or build it, or drop it)
        if collector is not None:
            await self._stop([d.asset.asset_no for d in collector.devices()])
            await collector.close()
            del self.collectors[key]
        if not wanted:
            return
        (fresh,) = build_collectors(
            [a for a, _ in wanted], {p.id: p for _, p in wanted}, self.options
        )
        await fresh.connect()
        self.collectors[key] = fresh
        by_no = {a.asset_no: (a, p) for a, p in wanted}
        for device in fresh.devices():
            self._start(device, by_no[device.asset.asset_no])

    async def close(self) -> None:
        await self._stop(list(self.running))
        for collector in self.collectors.values():
            await collector.close()
        self.collectors.clear()
