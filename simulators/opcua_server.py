"""Simulated OPC UA endpoints: one asyncua server per endpoint URL, one folder per asset.
The only simulator module that imports asyncua.

Address space, stable across restarts (collectors may cache node ids):

- the profile's ``namespace_uri`` is registered first, so its index is the same every start;
- per asset a folder ``Objects/<node_root>`` (browse name in that namespace), node id
  ``ns=<idx>;s=<asset_no>``;
- per point a variable at the profile's browse path below it, with folders for the inner
  parts (``Zones/Zone01/State``), node id ``ns=<idx>;s=<asset_no>.Zones.Zone01.State``,
  typed by the point's ``data_type``; ``read_write`` points are writable, others are not.
  A point that gives ``node_id`` instead of a browse path keeps that node id.
  ``expose`` serves some types as others, like servers no one here wrote: ``{"Double":
  "Float"}`` exposes the profile's Double points as Float, as PLCs often do.

Values carry the device's (simulated) source timestamp; only changed values are written, with
``write_attribute_value`` (half the cost of ``write_value``). A client write to a writable
variable goes to the device model first: a value it refuses is answered ``BadOutOfRange``,
a value of the wrong type ``BadTypeMismatch``, a read-only variable ``BadUserAccessDenied``
(asyncua's access check). An unknown node gets asyncua's own ``BadNodeIdUnknown``.

Faults per asset: ``comm_loss`` sets every variable of the asset to ``BadCommunicationError``
(no value) and stops updating it, like an aggregating server that lost its data source;
``exception`` does the same with ``BadDeviceFailure``; ``slow`` delays every Read request that
touches the asset by ``SLOW_DELAY_S``. Clearing a fault re-publishes the current values.

Security: None by default. Pass a certificate and private key to also offer Basic256Sha256
Sign and SignAndEncrypt (the collectors' issue tests those).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from asyncua import __version__ as asyncua_version
from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AttributeService
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes

from device_profiles.codec import FLOAT32_MAX
from device_profiles.models import Access, DeviceProfile, Point
from facility.errors import CommError, ConfigError, FacilityError
from facility.types import PointValue
from simulators.physics.base import FaultKind

log = logging.getLogger(__name__)

SLOW_DELAY_S = 1.5

_VARIANT: dict[str, ua.VariantType] = {
    "Boolean": ua.VariantType.Boolean,
    "Int16": ua.VariantType.Int16,
    "UInt16": ua.VariantType.UInt16,
    "Int32": ua.VariantType.Int32,
    "UInt32": ua.VariantType.UInt32,
    "Int64": ua.VariantType.Int64,
    "Float": ua.VariantType.Float,
    "Double": ua.VariantType.Double,
    "String": ua.VariantType.String,
}
_INT_LIMITS: dict[str, tuple[int, int]] = {
    "Int16": (-(2**15), 2**15 - 1),
    "UInt16": (0, 2**16 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt32": (0, 2**32 - 1),
    "Int64": (-(2**63), 2**63 - 1),
}
_FAULT_STATUS: dict[FaultKind, int] = {
    FaultKind.COMM_LOSS: StatusCodes.BadCommunicationError,
    FaultKind.EXCEPTION: StatusCodes.BadDeviceFailure,
}
_ADMIN = User(role=UserRole.Admin)

VariantValue = bool | int | float | str
WriteHook = Callable[[str, PointValue], None]
"""Called with (point name, engineering value) for a client write; raise to refuse it."""


def to_variant_value(data_type: str, value: PointValue) -> VariantValue:
    """An engineering value as the variable's OPC UA type holds it: integers rounded and
    clamped to the type's limits (a simulator never fails on a value too big for its type),
    Float clamped to float32, missing numbers as NaN (floats) or 0 (integers)."""
    if data_type == "Boolean":
        return bool(value)
    if data_type == "String":
        return "" if value is None else str(value)
    if value is None or isinstance(value, str):
        return 0 if data_type in _INT_LIMITS else math.nan
    if data_type in _INT_LIMITS:
        low, high = _INT_LIMITS[data_type]
        number = float(value)
        if math.isnan(number):
            return 0
        if math.isinf(number):
            return high if number > 0 else low
        whole = round(number)
        return low if whole < low else high if whole > high else whole
    number = float(value)
    if data_type == "Float" and math.isfinite(number) and abs(number) > FLOAT32_MAX:
        return math.copysign(FLOAT32_MAX, number)
    return number


def _string_node_id(identifier: str, namespace: int) -> ua.NodeId:
    return ua.NodeId(ua.String(identifier), ua.Int16(namespace))


def _ua_time(moment: datetime) -> ua.DateTime:
    # asyncua annotates timestamps with its datetime subclass; a datetime encodes the same
    return cast(ua.DateTime, moment)


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


DEFAULT_NAMESPACE = "urn:facility:devices"


def namespace_uri(profile: DeviceProfile) -> str:
    """The namespace a profile's variables live in."""
    return (profile.opcua.namespace_uri if profile.opcua else "") or DEFAULT_NAMESPACE


def variant_limits(data_type: str) -> tuple[float, float] | None:
    """The values an integer OPC UA type can hold; None for floats, booleans, strings."""
    limits = _INT_LIMITS.get(data_type)
    return (float(limits[0]), float(limits[1])) if limits else None


def browse_parts(point: Point) -> list[str]:
    """The point's browse path below the asset's folder, as parts."""
    assert point.opcua is not None
    path = point.opcua.browse_path or point.name
    parts = [part for part in path.split("/") if part]
    if parts and parts[0] == "Objects":  # absolute: Objects/<node_root>/...
        parts = parts[2:]
    return parts


@dataclass
class _Variable:
    point: Point
    node_id: ua.NodeId
    variant: ua.VariantType
    data_type: str
    last: VariantValue | None = None


@dataclass
class _Device:
    asset_no: str
    node_root: str
    profile: DeviceProfile
    on_write: WriteHook
    variables: dict[str, _Variable] = field(default_factory=dict)
    faults: set[FaultKind] = field(default_factory=set)
    last_source_ts: datetime | None = None

    @property
    def bad_status(self) -> int | None:
        for kind in (FaultKind.COMM_LOSS, FaultKind.EXCEPTION):
            if kind in self.faults:
                return _FAULT_STATUS[kind]
        return None


class _DeviceAttributeService(AttributeService):
    """asyncua's Write service with the device model in front of writable device variables."""

    def __init__(self, base: AttributeService, endpoint: OpcuaEndpointServer) -> None:
        super().__init__(base._aspace)
        self._endpoint = endpoint

    async def write(self, params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for item in params.NodesToWrite:
            if item.AttributeId == AttributeIds.Value:
                refused = self._endpoint._client_write(item.NodeId, item.Value)
                if refused is not None:
                    results.append(refused)
                    continue
            single = ua.WriteParameters()
            single.NodesToWrite = [item]
            results.extend(await super().write(single, user=user))
        return results


_shelf_lock = asyncio.Lock()


def _shelf_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"facility-opcua-aspace-{asyncua_version}-{os.getuid()}"


async def standard_address_space_shelf() -> Path | None:
    """A shelf of asyncua's standard address space, built once per machine and version.

    Filling the standard address space costs ~1.4 s of CPU per server; loading it lazily
    from a shelf ~0.1 s. asyncua only recognises an existing shelf by the file itself or a
    ``.db`` sibling, which Python's fallback ``dbm.dumb`` (``.dat``/``.dir``) does not
    create, so we add the ``.db`` marker. Built in a private folder and renamed into place,
    so concurrent processes never see half a shelf. None (no shelf) if it cannot be built.
    """
    target = _shelf_dir()
    shelf = target / "aspace"
    if (target / "aspace.db").is_file():
        return shelf
    async with _shelf_lock:
        if (target / "aspace.db").is_file():
            return shelf
        building = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
        try:
            await Server().iserver.load_standard_address_space(building / "aspace")
            (building / "aspace.db").touch()
            os.rename(building, target)
        except OSError as exc:
            shutil.rmtree(building, ignore_errors=True)
            if not (target / "aspace.db").is_file():
                log.warning("no address-space shelf (%s); each server fills its own", exc)
                return None
        return shelf


class OpcuaEndpointServer:
    """An OPC UA server at one endpoint URL serving the variables of several assets."""

    def __init__(
        self,
        url: str,
        name: str | None = None,
        *,
        certificate: Path | None = None,
        private_key: Path | None = None,
        expose: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "opc.tcp" or not parts.hostname:
            raise ConfigError(f"OPC UA endpoint {url!r}: expected opc.tcp://host:port/path")
        self._requested_url = url
        self.host = parts.hostname
        self.port = parts.port if parts.port is not None else 4840
        self.name = name or url
        self._certificate = certificate
        self._private_key = private_key
        self._expose = dict(expose or {})
        unknown = sorted((set(self._expose) | set(self._expose.values())) - set(_VARIANT))
        if unknown:
            raise ConfigError(
                f"OPC UA endpoint {url}: expose: unknown data type {unknown[0]!r}; expected "
                f"one of {', '.join(_VARIANT)}"
            )
        self._devices: dict[str, _Device] = {}
        self._by_node: dict[ua.NodeId, tuple[_Device, _Variable]] = {}
        self._server: Server | None = None
        self._namespaces: dict[str, int] = {}
        self._slow = 0  # devices with a slow fault

    @property
    def url(self) -> str:
        """The endpoint URL with the port actually bound."""
        parts = urlsplit(self._requested_url)
        netloc = f"{self.host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def add_device(
        self, asset_no: str, node_root: str, profile: DeviceProfile, on_write: WriteHook
    ) -> None:
        """Serve an asset's points under ``Objects/<node_root>`` (call before ``start``)."""
        if self._server is not None:
            raise RuntimeError("add devices before start()")
        for other in self._devices.values():
            if other.node_root == node_root:
                raise ConfigError(
                    f"asset {asset_no}: node root {node_root!r} on {self.name} is already "
                    f"used by {other.asset_no}; expected one node root per asset"
                )
        self._devices[asset_no] = _Device(asset_no, node_root, profile, on_write)

    def namespace_index(self, uri: str) -> int:
        return self._namespaces[uri]

    def node_id(self, asset_no: str, point: str) -> str:
        """The node id string of an asset's point, e.g. ``ns=2;s=HT-TNK-001.Level``."""
        return self._devices[asset_no].variables[point].node_id.to_string()

    async def start(self) -> None:
        server = Server()
        await server.init(shelf_file=await standard_address_space_shelf())
        server.set_endpoint(
            urlunsplit(("opc.tcp", f"{self.host}:{self.port}", urlsplit(self.url).path, "", ""))
        )
        server.set_server_name(f"Facility simulator {self.name}")
        await server.set_application_uri(f"urn:facility:simulator:{self.host}:{self.port}")
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        policies = [ua.SecurityPolicyType.NoSecurity]
        if self._certificate is not None and self._private_key is not None:
            await server.load_certificate(str(self._certificate))
            await server.load_private_key(str(self._private_key))
            policies += [
                ua.SecurityPolicyType.Basic256Sha256_Sign,
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ]
        server.set_security_policy(policies)
        for device in self._devices.values():
            uri = namespace_uri(device.profile)
            if uri not in self._namespaces:
                self._namespaces[uri] = await server.register_namespace(uri)
        for device in self._devices.values():
            await self._build(server, device)
        server.iserver.attribute_service = _DeviceAttributeService(
            server.iserver.attribute_service, self
        )
        server.subscribe_server_callback(CallbackType.PreRead, self._pre_read)
        # asyncua logs a bind failure with a traceback before raising it; we say it once
        server_log = logging.getLogger("asyncua.server.server")
        level = server_log.level
        server_log.setLevel(logging.CRITICAL)
        try:
            await server.start()
        except OSError as exc:
            await server.stop()
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise CommError(
                f"OPC UA endpoint {self.url}: cannot listen ({reason}); expected a free "
                "port (is another simulator running? try --ephemeral-ports)"
            ) from None
        finally:
            server_log.setLevel(level)
        assert server.bserver is not None
        self.port = server.bserver.port
        self._server = server
        log.info("opcua listening on %s assets=%s", self.url, ",".join(self._devices))

    async def _build(self, server: Server, device: _Device) -> None:
        idx = self._namespaces[namespace_uri(device.profile)]
        root_id = _string_node_id(device.asset_no, idx)
        folders: dict[tuple[str, ...], Any] = {
            (): await server.nodes.objects.add_folder(
                root_id, ua.QualifiedName(device.node_root, idx)
            )
        }
        for point in device.profile.points:
            if point.opcua is None:
                raise ConfigError(
                    f"profile {device.profile.id}: point {point.name} has no opcua address"
                )
            parts = browse_parts(point)
            if not parts:
                raise ConfigError(
                    f"profile {device.profile.id}: point {point.name}: browse path "
                    f"{point.opcua.browse_path!r} names no variable below the node root"
                )
            parent = folders[()]
            for depth in range(1, len(parts)):
                key = tuple(parts[:depth])
                if key not in folders:
                    folder_id = _string_node_id(".".join((device.asset_no, *key)), idx)
                    folders[key] = await parent.add_folder(
                        folder_id, ua.QualifiedName(parts[depth - 1], idx)
                    )
                parent = folders[key]
            if point.opcua.browse_path is None and point.opcua.node_id:
                node_id = ua.NodeId.from_string(point.opcua.node_id)
            else:
                node_id = _string_node_id(".".join((device.asset_no, *parts)), idx)
            if node_id in self._by_node:
                raise ConfigError(
                    f"asset {device.asset_no}: point {point.name}: node id "
                    f"{node_id.to_string()} is already used on {self.name}"
                )
            data_type = self._expose.get(point.opcua.data_type, point.opcua.data_type)
            variant = _VARIANT[data_type]
            initial = to_variant_value(data_type, None)
            node = await parent.add_variable(
                node_id, ua.QualifiedName(parts[-1], idx), ua.Variant(initial, variant)
            )
            if point.access is Access.READ_WRITE:
                await node.set_writable()
            variable = _Variable(point, node_id, variant, data_type)
            device.variables[point.name] = variable
            self._by_node[node_id] = (device, variable)

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    async def __aenter__(self) -> OpcuaEndpointServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def update(
        self, asset_no: str, values: Mapping[str, PointValue], source_ts: datetime
    ) -> int:
        """Publish an asset's values; only changed ones are written. Returns how many."""
        device = self._devices[asset_no]
        device.last_source_ts = source_ts
        if device.bad_status is not None or self._server is None:
            return 0
        server_ts = datetime.now(UTC)
        written = 0
        for name, value in values.items():
            variable = device.variables.get(name)
            if variable is None:
                continue
            converted = to_variant_value(variable.data_type, value)
            if converted == variable.last:
                continue
            variable.last = converted
            await self._server.write_attribute_value(
                variable.node_id,
                ua.DataValue(
                    ua.Variant(converted, variable.variant),
                    SourceTimestamp=_ua_time(source_ts),
                    ServerTimestamp=_ua_time(server_ts),
                ),
            )
            written += 1
        return written

    async def set_fault(self, asset_no: str, kind: FaultKind, active: bool) -> None:
        """Start or clear a protocol fault (comm_loss, slow, exception) for one asset."""
        device = self._devices[asset_no]
        before = device.bad_status
        if active:
            device.faults.add(kind)
        else:
            device.faults.discard(kind)
        self._slow = sum(1 for d in self._devices.values() if FaultKind.SLOW in d.faults)
        after = device.bad_status
        if after == before or self._server is None:
            return
        for variable in device.variables.values():
            variable.last = None  # re-publish every value when the fault clears
        if after is not None:
            now = datetime.now(UTC)
            for variable in device.variables.values():
                await self._server.write_attribute_value(
                    variable.node_id,
                    ua.DataValue(
                        StatusCode=_status(after),
                        SourceTimestamp=_ua_time(device.last_source_ts or now),
                        ServerTimestamp=_ua_time(now),
                    ),
                )

    def _client_write(self, node_id: ua.NodeId, value: ua.DataValue) -> ua.StatusCode | None:
        """Hand a client's write to the device model; a status code if it is refused."""
        found = self._by_node.get(node_id)
        if found is None:
            return None  # not a device variable: asyncua's own rules apply
        device, variable = found
        if variable.point.access is not Access.READ_WRITE:
            return None  # asyncua answers BadUserAccessDenied from the access level
        if device.bad_status is not None:
            return _status(device.bad_status)
        variant = value.Value
        if variant is None or variant.VariantType != variable.variant:
            return _status(StatusCodes.BadTypeMismatch)
        try:
            device.on_write(variable.point.name, variant.Value)
        except (FacilityError, ValueError, TypeError) as exc:
            log.info("asset_no=%s write refused: %s", device.asset_no, exc)
            return _status(StatusCodes.BadOutOfRange)
        variable.last = None
        log.info("asset_no=%s written %s=%s", device.asset_no, variable.point.name, variant.Value)
        return None

    async def _pre_read(self, event: ServerItemCallback, _dispatcher: object) -> None:
        if not self._slow or not event.is_external:
            return  # the common case costs one check per Read request
        for item in event.request_params.NodesToRead:
            found = self._by_node.get(item.NodeId)
            if found is not None and FaultKind.SLOW in found[0].faults:
                await asyncio.sleep(SLOW_DELAY_S)
                return
