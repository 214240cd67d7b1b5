"""A simulated estate: device models for every monitored asset of a ledger, served on the
wire by Modbus TCP gateways and OPC UA servers, stepped by one task, with fault injection.

    async with Estate(assets, seed=1, speed=60, port_mode="ephemeral") as estate:
        estate.endpoints["HT-PMP-001"].port      # where the device really is
        await estate.inject("HT-PMP-001", FaultKind.COMM_LOSS, True, duration_s=30)

Every ``tick_s`` of wall time (0.5 s) the simulated clock advances ``tick_s * speed`` seconds;
each model steps, and changed values are re-encoded into its server. Assets sharing an
endpoint (a Modbus gateway's host:port, an OPC UA URL) share one server. A model that raises
is logged once and skipped; a device with a protocol fault delays or drops only its own
answers, so a dead device never slows the others.

Fault durations are wall-clock seconds (what an operator watching the demo means by 30 s).
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from device_profiles import load_library
from device_profiles.codec import engineering_limits
from device_profiles.models import DeviceProfile, Point
from facility.errors import ConfigError
from facility.types import Asset, ModbusEndpoint, OpcuaEndpoint, PointValue
from simulators.modbus_server import ModbusGateway
from simulators.opcua_server import OpcuaEndpointServer, namespace_uri, variant_limits
from simulators.physics.base import MODBUS_FAULTS, PROTOCOL_FAULTS, DeviceModel, FaultKind

log = logging.getLogger(__name__)

TICK_S = 0.5
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_LATITUDE = 22.52
DEFAULT_LONGITUDE = 113.39

ModelFactory = Callable[[str, DeviceProfile, int, float, float], DeviceModel]


class PortMode(StrEnum):
    """``ledger``: bind exactly the ledger's ports; ``ephemeral``: a free port per endpoint."""

    LEDGER = "ledger"
    EPHEMERAL = "ephemeral"


class FaultRequestError(ConfigError):
    """A fault request that cannot be applied: names the field and what was expected."""

    def __init__(self, field: str, message: str, expected: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.expected = list(expected)


@dataclass(frozen=True)
class EndpointInfo:
    """Where one simulated asset answers."""

    asset_no: str
    site: str
    device_class: str
    profile: str
    protocol: Literal["modbus", "opcua"]
    host: str
    port: int
    unit_id: int | None = None
    url: str | None = None
    node_root: str | None = None
    namespace_uri: str | None = None
    namespace_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "asset_no": self.asset_no,
            "site": self.site,
            "class": self.device_class,
            "profile": self.profile,
            "protocol": self.protocol,
            "host": self.host,
            "port": self.port,
        }
        if self.protocol == "modbus":
            data["unit_id"] = self.unit_id
        else:
            data["url"] = self.url
            data["node_root"] = self.node_root
            data["namespace_uri"] = self.namespace_uri
            data["namespace_index"] = self.namespace_index
            data["node_id_prefix"] = f"ns={self.namespace_index};s={self.asset_no}."
        return data


@dataclass(frozen=True)
class ActiveFault:
    """A fault currently injected into one asset."""

    asset_no: str
    kind: FaultKind
    since: datetime  # wall clock, UTC
    expires: datetime | None  # wall clock, UTC; None: until cleared
    value: int | None = None  # the fault's parameter (request_limit: N registers)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "asset_no": self.asset_no,
            "kind": self.kind.value,
            "since": self.since.isoformat(timespec="seconds"),
            "expires": self.expires.isoformat(timespec="seconds") if self.expires else None,
        }
        if self.value is not None:
            data["value"] = self.value
        return data


class SimClock:
    """Simulated time: ``start`` plus wall time elapsed since ``run()``, times ``speed``."""

    def __init__(self, start: datetime, speed: float) -> None:
        if start.tzinfo is None:
            raise ConfigError("simulation start time must carry a time zone")
        if not speed > 0:
            raise ConfigError(f"speed {speed}: expected a number above 0")
        self.start = start
        self.speed = speed
        self._wall0: float | None = None

    def run(self) -> None:
        self._wall0 = time.monotonic()

    def now(self) -> datetime:
        if self._wall0 is None:
            return self.start
        return self.start + timedelta(seconds=(time.monotonic() - self._wall0) * self.speed)


def out_of_range_value(point: Point, value: PointValue) -> PointValue:
    """A value outside the point's valid range that its wire type can still carry (above the
    range if possible, else below); the value unchanged when the type cannot leave it."""
    if point.range is None or point.counter or isinstance(value, bool | str) or value is None:
        return value
    low, high = point.range
    span = (high - low) or 1.0
    if point.modbus is not None:
        limits = engineering_limits(point)
    elif point.opcua is not None:
        limits = variant_limits(point.opcua.data_type)
    else:
        limits = None
    for candidate in (high + span * 0.5, low - span * 0.5):
        if limits is None or limits[0] <= candidate <= limits[1]:
            return round(candidate, 6)
    return value


@dataclass
class _Device:
    asset: Asset
    profile: DeviceProfile
    model: DeviceModel
    info: EndpointInfo | None = None
    modbus: ModbusGateway | None = None
    opcua: OpcuaEndpointServer | None = None
    out_of_range: bool = False
    failed: bool = False  # the model raised; logged once


def _default_factory() -> ModelFactory:
    from simulators.physics import create_model

    factory: ModelFactory = create_model
    return factory


class Estate:
    """Simulated devices for a set of ledger assets, on real Modbus TCP and OPC UA servers."""

    def __init__(
        self,
        assets: Iterable[Asset],
        profiles: Mapping[str, DeviceProfile] | None = None,
        *,
        seed: int = 0,
        speed: float = 1.0,
        start: datetime | None = None,
        port_mode: PortMode | str = PortMode.LEDGER,
        bind_host: str | None = None,
        latitude: float = DEFAULT_LATITUDE,
        longitude: float = DEFAULT_LONGITUDE,
        timezone: str = DEFAULT_TIMEZONE,
        tick_s: float = TICK_S,
        model_factory: ModelFactory | None = None,
        opcua_expose: Mapping[str, str] | None = None,
    ) -> None:
        self.profiles = dict(load_library() if profiles is None else profiles)
        self.seed = seed
        self.port_mode = PortMode(port_mode)
        self.bind_host = bind_host
        self.tick_s = tick_s
        # data types the OPC UA servers expose as others, e.g. {"Double": "Float"} (PLCs)
        self.opcua_expose = dict(opcua_expose or {})
        self.clock = SimClock(start or datetime.now(ZoneInfo(timezone)), speed)
        factory = model_factory or _default_factory()
        self._devices: dict[str, _Device] = {}
        self._gateways: dict[tuple[str, int], ModbusGateway] = {}
        self._opcua: dict[str, OpcuaEndpointServer] = {}
        self._faults: dict[tuple[str, FaultKind], ActiveFault] = {}
        self._timers: dict[tuple[str, FaultKind], asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._stepper: asyncio.Task[None] | None = None
        self._last_step: datetime | None = None
        self.ticks = 0
        self.overruns = 0
        for asset in assets:
            if asset.monitored:
                self._add(asset, latitude, longitude, factory)
        if not self._devices:
            raise ConfigError("no monitored assets to simulate (need a profile and an endpoint)")

    # -- building ---------------------------------------------------------------------------

    def _add(self, asset: Asset, latitude: float, longitude: float, factory: ModelFactory) -> None:
        if asset.asset_no in self._devices:
            raise ConfigError(f"asset {asset.asset_no}: listed twice; expected unique numbers")
        assert asset.profile is not None
        assert asset.endpoint is not None
        profile = self.profiles.get(asset.profile)
        if profile is None:
            raise ConfigError(
                f"asset {asset.asset_no}: unknown profile {asset.profile!r}; expected one of "
                f"{', '.join(sorted(self.profiles))}"
            )
        endpoint = asset.endpoint
        if isinstance(endpoint, ModbusEndpoint) != (profile.protocol == "modbus"):
            raise ConfigError(
                f"asset {asset.asset_no}: profile {profile.id} speaks {profile.protocol} but "
                f"the endpoint is {endpoint}; expected a {profile.protocol} endpoint"
            )
        model = factory(asset.asset_no, profile, self.seed, latitude, longitude)
        device = _Device(asset, profile, model)
        self._devices[asset.asset_no] = device
        if isinstance(endpoint, ModbusEndpoint):
            host = self.bind_host or endpoint.host
            port = endpoint.port if self.port_mode is PortMode.LEDGER else 0
            key = (endpoint.host, endpoint.port)
            gateway = self._gateways.get(key)
            if gateway is None:
                gateway = ModbusGateway(host, port, name=f"{endpoint.host}:{endpoint.port}")
                self._gateways[key] = gateway
            gateway.add_device(
                endpoint.unit_id, asset.asset_no, profile, self._write_hook(asset.asset_no)
            )
            device.modbus = gateway
        else:
            assert isinstance(endpoint, OpcuaEndpoint)
            server = self._opcua.get(endpoint.url)
            if server is None:
                url = endpoint.url
                if self.port_mode is PortMode.EPHEMERAL or self.bind_host:
                    url = _rebind(url, self.bind_host, self.port_mode)
                server = OpcuaEndpointServer(url, name=endpoint.url, expose=self.opcua_expose)
                self._opcua[endpoint.url] = server
            server.add_device(
                asset.asset_no, endpoint.node_root, profile, self._write_hook(asset.asset_no)
            )
            device.opcua = server

    def _write_hook(self, asset_no: str) -> Callable[[str, PointValue], None]:
        def on_write(point: str, value: PointValue) -> None:
            self._devices[asset_no].model.write(point, value)

        return on_write

    # -- running ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every server, publish the first values, then start stepping."""
        starts = [g.start() for g in self._gateways.values()]
        starts += [s.start() for s in self._opcua.values()]
        results = await asyncio.gather(*starts, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self._stop_servers()
            raise failures[0]
        try:
            self._fill_endpoints()
            self.clock.run()
            self._last_step = self.clock.now()
            await self._publish_all(self._last_step, step_s=0.0)
        except BaseException:
            await self._stop_servers()
            raise
        self._stepper = asyncio.create_task(self._run(), name="estate-stepper")
        log.info(
            "estate started: %d assets, %d modbus endpoints, %d opcua endpoints, speed=%g",
            len(self._devices),
            len(self._gateways),
            len(self._opcua),
            self.clock.speed,
        )

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks = list(self._background)
        if self._stepper is not None:
            tasks.append(self._stepper)
            self._stepper = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._stop_servers()

    async def _stop_servers(self) -> None:
        stops = [g.stop() for g in self._gateways.values()]
        stops += [s.stop() for s in self._opcua.values()]
        await asyncio.gather(*stops, return_exceptions=True)

    async def __aenter__(self) -> Estate:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            next_tick += self.tick_s
            delay = next_tick - time.monotonic()
            if delay < 0:  # a slow tick: skip ahead rather than queue up
                self.overruns += 1
                next_tick = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)
            await self.step()

    async def step(self) -> None:
        """Advance every model to the clock's current time and publish changed values."""
        now = self.clock.now()
        previous = self._last_step or now
        dt_s = max(0.0, (now - previous).total_seconds())
        self._last_step = now
        await self._publish_all(now, dt_s)
        self.ticks += 1

    async def _publish_all(self, now: datetime, step_s: float) -> None:
        for device in self._devices.values():
            values = self._advance(device, now, step_s)
            if values is None:
                continue
            if device.modbus is not None:
                unit = device.asset.endpoint
                assert isinstance(unit, ModbusEndpoint)
                device.modbus.update(unit.unit_id, values)
            elif device.opcua is not None:
                await device.opcua.update(device.asset.asset_no, values, now)

    def _advance(
        self, device: _Device, now: datetime, step_s: float
    ) -> Mapping[str, PointValue] | None:
        try:
            # step even with dt 0: the first step puts the model at the start time (lights
            # on after sunset, demand of that hour) before its first values are served
            device.model.step(now, step_s)
            values = device.model.values()
        except Exception:  # one broken model must not stop the estate
            if not device.failed:
                log.exception(
                    "asset_no=%s model failed; its values stay frozen", device.asset.asset_no
                )
                device.failed = True
            return None
        if device.failed:
            log.info("asset_no=%s model recovered", device.asset.asset_no)
            device.failed = False
        if device.out_of_range:
            shifted = dict(values)
            for point in device.profile.points:
                if point.name in shifted:
                    shifted[point.name] = out_of_range_value(point, shifted[point.name])
            return shifted
        return values

    def _fill_endpoints(self) -> None:
        for asset_no, device in self._devices.items():
            asset = device.asset
            endpoint = asset.endpoint
            if device.modbus is not None:
                assert isinstance(endpoint, ModbusEndpoint)
                device.info = EndpointInfo(
                    asset_no,
                    asset.site,
                    asset.device_class.value,
                    device.profile.id,
                    protocol="modbus",
                    host=device.modbus.host,
                    port=device.modbus.port,
                    unit_id=endpoint.unit_id,
                )
            elif device.opcua is not None:
                assert isinstance(endpoint, OpcuaEndpoint)
                uri = namespace_uri(device.profile)
                device.info = EndpointInfo(
                    asset_no,
                    asset.site,
                    asset.device_class.value,
                    device.profile.id,
                    protocol="opcua",
                    host=device.opcua.host,
                    port=device.opcua.port,
                    url=device.opcua.url,
                    node_root=endpoint.node_root,
                    namespace_uri=uri,
                    namespace_index=device.opcua.namespace_index(uri),
                )

    # -- what it exposes --------------------------------------------------------------------

    @property
    def endpoints(self) -> dict[str, EndpointInfo]:
        """asset_no -> where it answers (real ports once started)."""
        return {a: d.info for a, d in sorted(self._devices.items()) if d.info is not None}

    def endpoint_table(self, **extra: Any) -> dict[str, Any]:
        """The endpoint table as plain data (``extra`` keys are added at the top)."""
        return {
            **extra,
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed": self.seed,
            "speed": self.clock.speed,
            "sim_start": self.clock.start.isoformat(timespec="seconds"),
            "endpoints": [info.to_json() for info in self.endpoints.values()],
        }

    def endpoint_table_json(self, **extra: Any) -> str:
        return json.dumps(self.endpoint_table(**extra), ensure_ascii=False, indent=2)

    @property
    def asset_numbers(self) -> list[str]:
        return sorted(self._devices)

    def model(self, asset_no: str) -> DeviceModel:
        """The device model of an asset (for tests and tools)."""
        return self._device(asset_no).model

    def supported_faults(self, asset_no: str) -> list[FaultKind]:
        """Protocol faults (any device; Modbus quirks for Modbus devices) plus the physical
        faults of its class."""
        device = self._device(asset_no)
        model_faults = device.model.faults
        return [
            k
            for k in FaultKind
            if (k in PROTOCOL_FAULTS and (device.modbus is not None or k not in MODBUS_FAULTS))
            or k in model_faults
        ]

    def faults(self) -> list[ActiveFault]:
        return sorted(self._faults.values(), key=lambda f: (f.asset_no, f.kind.value))

    # -- faults -----------------------------------------------------------------------------

    def _device(self, asset_no: str) -> _Device:
        device = self._devices.get(asset_no)
        if device is None:
            close = difflib.get_close_matches(asset_no.upper(), list(self._devices), n=3)
            hint = (
                f"did you mean {', '.join(close)}?"
                if close
                else f"expected one of the {len(self._devices)} simulated assets, "
                f"e.g. {', '.join(sorted(self._devices)[:3])}"
            )
            raise FaultRequestError("asset_no", f"unknown asset {asset_no!r}; {hint}", close)
        return device

    def _kind(self, asset_no: str, kind: FaultKind | str) -> FaultKind:
        supported = self.supported_faults(asset_no)
        names = [k.value for k in supported]
        try:
            parsed = FaultKind(kind)
        except ValueError:
            parsed = None
        if parsed is None or parsed not in supported:
            device_class = self._devices[asset_no].asset.device_class.value
            raise FaultRequestError(
                "kind",
                f"fault kind {str(kind)!r} is not supported by {asset_no} ({device_class}); "
                f"expected one of: {', '.join(names)}",
                names,
            )
        return parsed

    async def inject(
        self,
        asset_no: str,
        kind: FaultKind | str,
        active: bool = True,
        duration_s: float | None = None,
        value: int | None = None,
    ) -> ActiveFault | None:
        """Start (``active``) or clear a fault; with ``duration_s`` it clears itself after
        that many wall-clock seconds. ``value`` is the fault's parameter (``request_limit``:
        the largest read in registers the device answers). Returns the active fault, or
        None when cleared. Raises FaultRequestError (a ConfigError) naming the bad field."""
        device = self._device(asset_no)
        fault = self._kind(asset_no, kind)
        if value is not None and (
            fault is not FaultKind.REQUEST_LIMIT
            or isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= 125
        ):
            raise FaultRequestError(
                "value",
                f"value {value!r}: expected a number of registers 1..125, "
                "and only for request_limit",
            )
        if duration_s is not None and not (
            isinstance(duration_s, int | float) and math.isfinite(duration_s) and duration_s > 0
        ):
            raise FaultRequestError(
                "duration_s", f"duration {duration_s!r}: expected a positive number of seconds"
            )
        key = (asset_no, fault)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        await self._apply(device, fault, active, value)
        if not active:
            was = self._faults.pop(key, None)
            if was is not None:
                log.info("asset_no=%s fault=%s cleared", asset_no, fault.value)
            return None
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=duration_s) if duration_s else None
        previous = self._faults.get(key)
        active_fault = ActiveFault(
            asset_no, fault, previous.since if previous else now, expires, value
        )
        self._faults[key] = active_fault
        if duration_s:
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(duration_s, self._expire, asset_no, fault)
        log.info(
            "asset_no=%s fault=%s injected%s",
            asset_no,
            fault.value,
            f" for {duration_s:g} s" if duration_s else "",
        )
        return active_fault

    def _expire(self, asset_no: str, fault: FaultKind) -> None:
        self._timers.pop((asset_no, fault), None)
        task = asyncio.get_running_loop().create_task(self.inject(asset_no, fault, False))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _apply(
        self, device: _Device, fault: FaultKind, active: bool, value: int | None = None
    ) -> None:
        asset_no = device.asset.asset_no
        if fault is FaultKind.OUT_OF_RANGE:
            device.out_of_range = active
        elif fault in PROTOCOL_FAULTS:
            if device.modbus is not None:
                endpoint = device.asset.endpoint
                assert isinstance(endpoint, ModbusEndpoint)
                device.modbus.set_fault(endpoint.unit_id, fault, active, value)
            elif device.opcua is not None:
                await device.opcua.set_fault(asset_no, fault, active)
        else:
            device.model.inject(fault, active)
        # publish at once so a reader sees the fault without waiting for the next tick
        values = self._advance(device, self._last_step or self.clock.now(), 0.0)
        if values is not None:
            if device.modbus is not None:
                endpoint = device.asset.endpoint
                assert isinstance(endpoint, ModbusEndpoint)
                device.modbus.update(endpoint.unit_id, values)
            elif device.opcua is not None:
                await device.opcua.update(asset_no, values, self._last_step or self.clock.now())


def _rebind(url: str, host: str | None, mode: PortMode) -> str:
    """The URL with another host and/or port 0 (ephemeral)."""
    parts = urlsplit(url)
    new_host = host or parts.hostname or "127.0.0.1"
    port = 0 if mode is PortMode.EPHEMERAL else (parts.port or 4840)
    return urlunsplit((parts.scheme, f"{new_host}:{port}", parts.path, parts.query, ""))
