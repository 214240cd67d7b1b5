"""The one module of the collectors that imports asyncua: one OPC UA session to one server.

Everything it hands out is the project's: node keys (ints), ``Sample``s, ``Problem``s and the
errors of ``collectors.opcua.errors``; asyncua exceptions are mapped here (``_mapped``).

A session never reconnects by itself: asyncua's auto-reconnect is off and its stale-
subscription watchdog never sees our subscriptions (we create them directly), so the
collector's supervisor is the one owner of reconnects. asyncua's connection supervisor still
notices a dead transport; it only reports it (``lost``).

Notifications skip asyncua's per-notification machinery: ``_CacheSubscription`` takes each
publish response and stores the latest DataValue per monitored item (client handle = node
key) — no queue that could drop, no task per notification. They become ``Sample``s only when
a poll asks for them. Values the *server* dropped from a monitored item's queue arrive
flagged with the Overflow info bit and are counted (``overflows``).

Publish responses are decoded by ``collectors.opcua.wire`` (``_install_wire_publish``): the
common case — scalar data changes — straight into tuples, twelve times cheaper than asyncua's
generic decoder; anything else (status changes, events, arrays, diagnostics) by asyncua as
before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription
from asyncua.common.utils import Buffer
from asyncua.crypto import cert_gen, security_policies
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes, get_name_and_doc
from asyncua.ua.ua_binary import struct_from_binary
from asyncua.ua.uaerrors import UaError, UaStatusCodeError, UaStructParsingError
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from collectors.opcua.errors import OpcuaCommError, OpcuaConfigError, OpcuaProtocolError
from collectors.opcua.model import (
    CODE_MASK,
    NUMERIC_TYPES,
    OVERFLOW_BITS,
    Problem,
    Sample,
    batch_count,
    chunked,
    keepalive_count,
    path_text,
    stale_after_s,
)
from collectors.opcua.security import (
    OpcuaSecurity,
    SecurityMode,
    SecurityPolicy,
    check_server_certificate,
)
from collectors.opcua.wire import Change, Unusual, decode_publish_response, to_datetime
from facility.deadline import within

log = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 60_000  # the server drops an abandoned session after a minute
_AUTH_CODES = {
    StatusCodes.BadIdentityTokenInvalid,
    StatusCodes.BadIdentityTokenRejected,
    StatusCodes.BadUserAccessDenied,
}
_SECURITY_CODES = {
    StatusCodes.BadSecurityChecksFailed,
    StatusCodes.BadCertificateInvalid,
    StatusCodes.BadCertificateUntrusted,
    StatusCodes.BadCertificateUriInvalid,
    StatusCodes.BadCertificateUseNotAllowed,
    StatusCodes.BadSecurityPolicyRejected,
}
_POLICIES: dict[SecurityPolicy, type[security_policies.SecurityPolicy]] = {
    SecurityPolicy.BASIC256SHA256: security_policies.SecurityPolicyBasic256Sha256,
}
_MODES = {
    SecurityMode.SIGN: ua.MessageSecurityMode.Sign,
    SecurityMode.SIGN_AND_ENCRYPT: ua.MessageSecurityMode.SignAndEncrypt,
}
_LIMIT_NODES = (
    ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
    ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIds,
    ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
)


async def ensure_own_certificate(security: OpcuaSecurity) -> None:
    """The collector's certificate and private key: made on first run, kept afterwards
    (renewed only when invalid or expired). The key is 0600 in a 0700 folder: whoever reads
    it can pose as the collector to every server that trusts it."""
    own = security.own_private_key.parent
    own.mkdir(mode=0o700, parents=True, exist_ok=True)
    own.chmod(0o700)  # mkdir's mode is ignored for a folder that already exists
    await cert_gen.setup_self_signed_certificate(
        security.own_private_key,
        security.own_certificate,
        security.application_uri,
        socket.gethostname(),
        [ExtendedKeyUsageOID.CLIENT_AUTH],
        {"organizationName": "Facility telemetry"},
    )
    security.own_private_key.chmod(0o600)


class _RoutineLossFilter(logging.Filter):
    """Drop asyncua's log lines about a connection that is already known to be gone (its
    publish loop's traceback, "called but connection is closed"): the supervisor says it
    once, in one greppable line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("Publish iteration crashed") and record.exc_info:
            return not isinstance(record.exc_info[1], ConnectionError | OSError)
        return "was called but connection is closed" not in message


for _name in ("asyncua.client.ua_session.UaSession", "asyncua.client.ua_client.UaClient"):
    logging.getLogger(_name).addFilter(_RoutineLossFilter())


def status_name(status: int) -> str:
    """``BadNodeIdUnknown`` for its code (info bits ignored)."""
    return get_name_and_doc(status & CODE_MASK)[0] if status & CODE_MASK else "Good"


@dataclass(frozen=True, slots=True)
class OperationLimits:
    """The server's per-call limits (0: not published; ``chunked`` then uses its default)."""

    max_nodes_per_read: int = 0
    max_nodes_per_translate: int = 0
    max_monitored_items_per_call: int = 0


@dataclass(frozen=True, slots=True)
class NodeRequest:
    """Where a point should be: a node id (tried first) and/or a browse path from Objects."""

    node_id: str | None
    path: tuple[str, ...] | None
    namespace_uri: str


@dataclass(frozen=True, slots=True)
class Resolved:
    """A point's node in this session (``key``), or why it has none."""

    key: int | None
    node_id: str | None
    problem: Problem | None


@dataclass(frozen=True, slots=True)
class MonitorRequest:
    key: int
    sampling_ms: float
    queue_size: int
    deadband_abs: float
    data_type: str


@contextlib.asynccontextmanager
async def _mapped(url: str, doing: str) -> AsyncIterator[None]:
    """asyncua and socket errors as the project's (message names the server and the call)."""
    try:
        yield
    except (OpcuaCommError, OpcuaConfigError, OpcuaProtocolError):
        raise
    except UaStatusCodeError as exc:
        code = int(exc.code)
        name = status_name(code)
        if code in _AUTH_CODES:
            raise OpcuaConfigError(
                f"OPC UA server {url} refused the login while {doing} ({name}): check the "
                "username and password",
                "auth_failed",
            ) from None
        if code in _SECURITY_CODES:
            raise OpcuaConfigError(
                f"OPC UA server {url} refused the secure channel while {doing} ({name}): "
                "the server must trust the collector's certificate (own/cert.der in the pki "
                "folder) and offer the configured policy and mode",
                "security_rejected",
            ) from None
        if code & CODE_MASK in (StatusCodes.BadTimeout, StatusCodes.BadRequestTimeout):
            raise OpcuaCommError(f"OPC UA server {url}: timeout while {doing}", "timeout") from None
        raise OpcuaProtocolError(
            f"OPC UA server {url} answered {name} while {doing}", name, code
        ) from None
    except TimeoutError:
        raise OpcuaCommError(f"OPC UA server {url}: no answer while {doing}", "timeout") from None
    except ConnectionRefusedError:
        raise OpcuaCommError(
            f"OPC UA server {url}: connection refused while {doing}", "refused"
        ) from None
    except (ConnectionError, OSError) as exc:
        raise OpcuaCommError(
            f"OPC UA server {url}: connection lost while {doing}: {exc}", "closed"
        ) from None
    except UaError as exc:
        raise OpcuaProtocolError(
            f"OPC UA server {url}: {exc} while {doing}", type(exc).__name__
        ) from None


def _change_of(handle: int, data_value: ua.DataValue) -> Change:
    """An asyncua DataValue as the tuple ``collectors.opcua.wire`` decodes."""
    variant = data_value.Value
    status = data_value.StatusCode.value if data_value.StatusCode is not None else 0
    value: Any = None
    variant_type = 0
    if variant is not None and variant.Value is not None:
        variant_type = variant.VariantType.value
        value = variant.Value
        if variant.is_array or isinstance(value, list):
            value, variant_type = None, -1
        elif not isinstance(value, bool | int | float | str):
            value = str(value)
    return (
        handle,
        value,
        variant_type,
        status,
        data_value.SourceTimestamp,
        data_value.ServerTimestamp,
    )


def _sample_of(change: Change, received_ts: datetime) -> Sample:
    _, value, variant_type, status, source_ts, server_ts = change
    return Sample(
        value=value,
        variant_type=variant_type,
        status=status,
        status_name=status_name(status),
        source_ts=source_ts,
        server_ts=server_ts,
        received_ts=received_ts,
    )


def _to_sample(data_value: ua.DataValue, received_ts: datetime) -> Sample:
    return _sample_of(_change_of(0, data_value), received_ts)


class _WireChanges:
    """The data changes of one Publish response as decoded by ``collectors.opcua.wire``."""

    __slots__ = ("changes",)

    def __init__(self, changes: list[Change]) -> None:
        self.changes = changes


def _install_wire_publish(client: Client) -> None:
    """Decode this client's Publish responses with ``collectors.opcua.wire`` (asyncua's
    decoder for what it does not read). asyncua's publish loop calls ``session.publish``;
    the replacement sends the same request and returns a ``PublishResponse`` whose data
    changes are one ``_WireChanges`` — only ``_CacheSubscription`` reads them."""
    session = getattr(client.uaclient, "session", None)
    send = getattr(session, "_send_request", None)
    if session is None or send is None or not hasattr(session, "publish"):
        log.info("opcua: this asyncua has no UaSession._send_request; its own decoder is used")
        return  # another asyncua version: slower, never broken

    async def publish(acks: list[ua.SubscriptionAcknowledgement]) -> ua.PublishResponse:
        request = ua.PublishRequest()
        request.Parameters.SubscriptionAcknowledgements = acks if acks else []
        raw = bytes(await send(request, timeout=0))
        try:
            decoded = decode_publish_response(raw)
        except Unusual:
            try:
                return struct_from_binary(ua.PublishResponse, Buffer(raw))
            except Exception as exc:  # as asyncua's own publish: its loop skips the response
                log.warning("opcua: cannot parse a publish response: %r", exc)
                raise UaStructParsingError from exc
        response = ua.PublishResponse()
        result = response.Parameters
        result.SubscriptionId = ua.UInt32(decoded.subscription_id)
        result.AvailableSequenceNumbers = [ua.UInt32(n) for n in decoded.available_sequence_numbers]
        result.MoreNotifications = cast(ua.Boolean, decoded.more_notifications)
        message = result.NotificationMessage
        message.SequenceNumber = ua.UInt32(decoded.sequence_number)
        message.PublishTime = cast(ua.DateTime, to_datetime(decoded.publish_ticks))
        if decoded.notification_count:
            message.NotificationData = [cast(Any, _WireChanges(decoded.changes))]
        return response

    setattr(session, "publish", publish)  # noqa: B010 (an instance's method, not the class's)


class _StatusHandler:
    """Receives the (rare) status changes of a subscription: Bad ones end the session."""

    def __init__(self, session: OpcuaSession) -> None:
        self.session = session

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        code = status.Status.value if status.Status is not None else 0
        if code & 0x8000_0000:
            self.session.mark_lost(f"subscription status {status_name(code)}")


class _CacheSubscription(Subscription):
    """A subscription whose data changes go straight into the session's cache."""

    def __init__(
        self, session: OpcuaSession, params: ua.CreateSubscriptionParameters, server: Any
    ) -> None:
        super().__init__(server, params, _StatusHandler(session))
        self.owner = session
        self.created_at = time.monotonic()
        self.stale_after_s = 0.0
        self.first_publish = asyncio.Event()

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.first_publish.set()
        message = publish_result.NotificationMessage
        others = []
        for notification in message.NotificationData or ():
            if isinstance(notification, _WireChanges):
                self.owner.store_changes(notification.changes)
            elif isinstance(notification, ua.DataChangeNotification):
                self.owner.store(notification.MonitoredItems)
            else:
                others.append(notification)
        if others:  # status changes: asyncua's own path (and its bookkeeping)
            await super().publish_callback(
                ua.PublishResult(
                    publish_result.SubscriptionId,
                    NotificationMessage=ua.NotificationMessage(
                        SequenceNumber=message.SequenceNumber,
                        PublishTime=message.PublishTime,
                        NotificationData=others,
                    ),
                )
            )
            return
        self.last_publish_at = time.monotonic()  # data or keep-alive: the server is alive
        if message.NotificationData:
            self.last_sequence_number = int(message.SequenceNumber)


class OpcuaSession:
    """One session to one OPC UA server: resolve nodes, subscribe, read, probe."""

    def __init__(
        self,
        url: str,
        security: OpcuaSecurity | None = None,
        *,
        timeout_s: float = 4.0,
        watchdog_s: float = 2.0,
    ) -> None:
        self.url = url
        self.security = security or OpcuaSecurity()
        self.timeout_s = timeout_s
        self.watchdog_s = watchdog_s
        self.limits = OperationLimits()
        self.lost = asyncio.Event()
        self.lost_reason = ""
        self.notifications = 0
        self.overflows = 0
        self.rtt_ms = 0.0
        self._client: Client | None = None
        self._namespaces: list[str] = []
        self._nodes: list[ua.NodeId] = []
        self._latest: dict[int, tuple[Change, datetime]] = {}
        self._subscriptions: list[_CacheSubscription] = []

    # -- connecting -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (securely if configured), then read namespaces and OperationLimits."""
        client = Client(self.url, timeout=self.timeout_s, watchdog_intervall=self.watchdog_s)
        client.session_timeout = SESSION_TIMEOUT_MS
        client.application_uri = self.security.application_uri
        client.name = client.description = "Facility telemetry collector"
        client.connection_lost_callback = self._on_connection_lost
        _install_wire_publish(client)
        self._client = client
        async with _mapped(self.url, "connecting"):
            if self.security.secured:
                await self._secure(client)
            if self.security.username:
                client.set_user(self.security.username)
                client.set_password(self.security.password or "")
            try:
                await within(client.connect(), self.timeout_s * 2)
            except UaError as exc:
                if "No matching endpoints" not in str(exc):
                    raise
                raise OpcuaConfigError(
                    f"OPC UA server {self.url} offers no endpoint with security policy "
                    f"{self.security.policy.value} and mode {self.security.mode.value}; "
                    "configure the policy and mode the server offers",
                    "no_endpoint",
                ) from None
        async with _mapped(self.url, "reading namespaces and operation limits"):
            nodes = [ObjectIds.Server_NamespaceArray, *_LIMIT_NODES]
            values = await self._read_values([_numeric(n) for n in nodes])
        namespaces = values[0].Value.Value if values[0].Value is not None else None
        self._namespaces = list(namespaces or [])
        limits = []
        for data_value in values[1:]:
            good = data_value.StatusCode is None or data_value.StatusCode.is_good()
            number = data_value.Value.Value if good and data_value.Value is not None else 0
            limits.append(int(number) if isinstance(number, int) else 0)
        self.limits = OperationLimits(*limits)

    async def _secure(self, client: Client) -> None:
        security = self.security
        try:
            await ensure_own_certificate(security)
        except (OSError, ValueError) as exc:
            raise OpcuaConfigError(
                f"OPC UA client certificate in {security.own_certificate.parent}: {exc}; "
                "expected a writable folder holding cert.der and key.pem (or neither)",
                "pki_error",
            ) from None
        endpoints = await within(client.connect_and_get_server_endpoints(), self.timeout_s * 2)
        policy = _POLICIES[security.policy]
        mode = _MODES[security.mode]
        offered = [
            e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode
        ]
        if not offered:
            found = sorted(
                {
                    f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]}/{e.SecurityMode.name}"
                    for e in endpoints
                }
            )
            raise OpcuaConfigError(
                f"OPC UA server {self.url} does not offer {security.policy.value} "
                f"{security.mode.value}; it offers: {', '.join(found)}",
                "no_endpoint",
            )
        der = _first_certificate(offered[0].ServerCertificate)
        check_server_certificate(security, self.url, der, _subject(der))
        await client.set_security(
            policy,
            str(security.own_certificate),
            str(security.own_private_key),
            server_certificate=der,
            mode=mode,
        )

    async def _on_connection_lost(self, exc: Exception) -> None:
        self.mark_lost(f"connection lost ({exc})")

    def mark_lost(self, reason: str) -> None:
        """The session is dead; the supervisor closes it and opens another."""
        if not self.lost.is_set():
            self.lost_reason = reason
            self.lost.set()

    async def close(self) -> None:
        """Close quietly and quickly: the server may already be gone."""
        client, self._client = self._client, None
        self._subscriptions.clear()
        if client is None:
            return
        if self.lost.is_set():  # no goodbye to a dead or hung server: every request fails now
            with contextlib.suppress(Exception):
                client.disconnect_socket()
        try:
            async with asyncio.timeout(2.0):
                await client.disconnect()
        except Exception as exc:  # closing a dead session must never fail the caller
            log.debug("opcua url=%s close: %r", self.url, exc)
            with contextlib.suppress(Exception):
                client.disconnect_socket()

    # -- nodes ------------------------------------------------------------------------------

    def namespace_index(self, uri: str) -> int | None:
        try:
            return self._namespaces.index(uri)
        except ValueError:
            return None

    async def resolve(self, requests: Sequence[NodeRequest]) -> list[Resolved]:
        """Each request's node: its node id if the server has it, else its browse path.

        One batched Read (NodeClass) checks the node ids, one batched TranslateBrowsePaths
        resolves the rest — each split within the server's OperationLimits.
        """
        results: list[Resolved | None] = [None] * len(requests)
        problems: dict[int, Problem] = {}
        by_id: list[tuple[int, ua.NodeId]] = []
        for index, request in enumerate(requests):
            if request.node_id is None:
                continue
            try:
                by_id.append((index, ua.NodeId.from_string(request.node_id)))
            except (ValueError, UaError) as exc:
                problems[index] = Problem("bad_node_id", f"node id {request.node_id!r}: {exc}")
        if by_id:
            async with _mapped(self.url, "checking node ids"):
                classes = await self._read_values(
                    [node for _, node in by_id], AttributeIds.NodeClass
                )
            for (index, node), data_value in zip(by_id, classes, strict=True):
                status = data_value.StatusCode.value if data_value.StatusCode else 0
                node_class = data_value.Value.Value if data_value.Value is not None else None
                if status & 0x8000_0000:
                    problems[index] = Problem(
                        status_name(status),
                        f"node {node.to_string()} not on the server ({status_name(status)})",
                    )
                elif node_class != ua.NodeClass.Variable:
                    problems[index] = Problem(
                        "not_a_variable", f"node {node.to_string()} is not a variable"
                    )
                else:
                    results[index] = self._keep(node)
        by_path: list[tuple[int, ua.BrowsePath]] = []
        for index, request in enumerate(requests):
            if results[index] is not None or request.path is None:
                continue
            namespace = self.namespace_index(request.namespace_uri)
            if namespace is None:
                problems[index] = Problem(
                    "namespace_missing",
                    f"namespace {request.namespace_uri} is not on the server "
                    f"(it has: {', '.join(self._namespaces)})",
                )
                continue
            by_path.append((index, _browse_path(request.path, namespace)))
        for batch in chunked(by_path, self.limits.max_nodes_per_translate):
            async with _mapped(self.url, "resolving browse paths"):
                assert self._client is not None
                found = await self._client.uaclient.translate_browsepaths_to_nodeids(
                    [path for _, path in batch]
                )
            for (index, _), result in zip(batch, found, strict=True):
                path = requests[index].path or ()
                if result.StatusCode.is_good() and result.Targets:
                    target = result.Targets[0].TargetId
                    results[index] = self._keep(ua.NodeId(target.Identifier, target.NamespaceIndex))
                    problems.pop(index, None)  # a stale node id, but the path still leads
                else:
                    name = status_name(result.StatusCode.value)
                    problems[index] = Problem(
                        name,
                        f"browse path {path_text(path)} not found in namespace "
                        f"{requests[index].namespace_uri} ({name})",
                    )
        return [
            result if result is not None else Resolved(None, None, problems.get(index))
            for index, result in enumerate(results)
        ]

    def _keep(self, node: ua.NodeId) -> Resolved:
        self._nodes.append(node)
        return Resolved(len(self._nodes) - 1, node.to_string(), None)

    # -- reading ----------------------------------------------------------------------------

    async def _read_values(
        self, nodes: Sequence[ua.NodeId], attribute: AttributeIds = AttributeIds.Value
    ) -> list[ua.DataValue]:
        client = self._client
        if client is None:  # closed by the supervisor while a poll was on its way
            raise OpcuaCommError(f"OPC UA session to {self.url} is closed", "closed")
        values: list[ua.DataValue] = []
        for batch in chunked(nodes, self.limits.max_nodes_per_read):
            params = ua.ReadParameters()
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            params.NodesToRead = [
                ua.ReadValueId(NodeId=node, AttributeId=attribute) for node in batch
            ]
            values.extend(await client.uaclient.read(params))
        return values

    async def read(self, keys: Sequence[int]) -> tuple[list[Sample], int]:
        """One batched Read of ``keys`` (split within MaxNodesPerRead): samples, requests."""
        async with _mapped(self.url, "reading values"):
            started = time.perf_counter()
            values = await self._read_values([self._nodes[key] for key in keys])
            self.rtt_ms = (time.perf_counter() - started) * 1000
        received = datetime.now(UTC)
        requests = batch_count(len(keys), self.limits.max_nodes_per_read)
        return [_to_sample(value, received) for value in values], requests

    async def probe(self) -> float:
        """Read the server's clock: the round-trip time in ms (and proof of life)."""
        async with _mapped(self.url, "probing the server"):
            started = time.perf_counter()
            await self._read_values([_numeric(ObjectIds.Server_ServerStatus_CurrentTime)])
            self.rtt_ms = (time.perf_counter() - started) * 1000
        return self.rtt_ms

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(
        self, publishing_ms: float, items: Sequence[MonitorRequest]
    ) -> list[Problem | None]:
        """One subscription for ``items`` at ``publishing_ms``; a problem per refused item."""
        assert self._client is not None
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = publishing_ms
        params.RequestedMaxKeepAliveCount = keepalive_count(publishing_ms)
        params.RequestedLifetimeCount = params.RequestedMaxKeepAliveCount * 10
        params.MaxNotificationsPerPublish = 0  # no limit: one response carries all changes
        params.PublishingEnabled = True
        params.Priority = 0
        subscription = _CacheSubscription(self, params, self._client.uaclient.session)
        async with _mapped(self.url, "creating a subscription"):
            result = await subscription.init()
        revised_ms = float(result.RevisedPublishingInterval or publishing_ms)
        subscription.stale_after_s = stale_after_s(
            revised_ms, int(result.RevisedMaxKeepAliveCount or params.RequestedMaxKeepAliveCount)
        )
        subscription.created_at = time.monotonic()
        self._subscriptions.append(subscription)
        problems: list[Problem | None] = []
        for batch in chunked(items, self.limits.max_monitored_items_per_call):
            requests = [self._monitor_request(item) for item in batch]
            async with _mapped(self.url, "creating monitored items"):
                created = await subscription.create_monitored_items(requests)
            for item, outcome in zip(batch, created, strict=True):
                if isinstance(outcome, ua.StatusCode):
                    name = status_name(outcome.value)
                    problems.append(
                        Problem(name, f"server refused to monitor {self._nodes[item.key]} ({name})")
                    )
                else:
                    problems.append(None)
        return problems

    def _monitor_request(self, item: MonitorRequest) -> ua.MonitoredItemCreateRequest:
        parameters = ua.MonitoringParameters()
        parameters.ClientHandle = item.key
        parameters.SamplingInterval = item.sampling_ms
        parameters.QueueSize = item.queue_size
        parameters.DiscardOldest = True
        if item.deadband_abs > 0 and item.data_type in NUMERIC_TYPES:
            deadband = ua.DataChangeFilter()
            deadband.Trigger = ua.DataChangeTrigger.StatusValue
            deadband.DeadbandType = ua.DeadbandType.Absolute
            deadband.DeadbandValue = item.deadband_abs
            parameters.Filter = deadband
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = ua.ReadValueId(
            NodeId=self._nodes[item.key], AttributeId=AttributeIds.Value
        )
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = parameters
        return request

    def store(self, items: Sequence[ua.MonitoredItemNotification]) -> None:
        """Keep the latest value per monitored item, from asyncua's decoding of a publish
        response (one that ``collectors.opcua.wire`` leaves to asyncua)."""
        self.store_changes([_change_of(item.ClientHandle, item.Value) for item in items])

    def store_changes(self, changes: Sequence[Change]) -> None:
        """Keep the latest value per monitored item (called once per publish response)."""
        received = datetime.now(UTC)
        latest = self._latest
        overflows = 0
        for change in changes:
            latest[change[0]] = (change, received)
            if change[3] & OVERFLOW_BITS == OVERFLOW_BITS:
                overflows += 1
        self.overflows += overflows
        self.notifications += len(changes)

    def latest(self, key: int) -> Sample | None:
        """The last notified value of ``key``, None before the first notification."""
        found = self._latest.get(key)
        return None if found is None else _sample_of(*found)

    def latest_change(self, key: int) -> tuple[Change, datetime] | None:
        """The last notified value of ``key`` as it was stored (the change and when it
        arrived), None before the first notification: a poll's shortcut past ``Sample``."""
        return self._latest.get(key)

    @staticmethod
    def sample_of(change: Change, received_ts: datetime) -> Sample:
        return _sample_of(change, received_ts)

    @property
    def subscribed(self) -> bool:
        return bool(self._subscriptions)

    def silence(self) -> tuple[float, float]:
        """The longest silence of a subscription (s) and the limit it has (s): no data and
        no keep-alive for longer than the limit means the session is dead."""
        now = time.monotonic()
        worst = (0.0, 1.0)
        for subscription in self._subscriptions:
            last = subscription.last_publish_at or subscription.created_at
            silent = now - last
            if silent / subscription.stale_after_s > worst[0] / worst[1]:
                worst = (silent, subscription.stale_after_s)
        return worst

    async def wait_first_publish(self, timeout_s: float) -> bool:
        """Wait until every subscription has delivered its first response (initial values)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                for subscription in self._subscriptions:
                    await subscription.first_publish.wait()
                return True
        return False


def _numeric(identifier: int) -> ua.NodeId:
    return ua.NodeId(ua.Int32(identifier))


def _browse_path(parts: Sequence[str], namespace: int) -> ua.BrowsePath:
    elements = []
    for part in parts:
        element = ua.RelativePathElement()
        element.ReferenceTypeId = _numeric(ObjectIds.HierarchicalReferences)
        element.IsInverse = cast(ua.Boolean, False)  # asyncua's default is True
        element.TargetName = ua.QualifiedName(part, namespace)
        elements.append(element)
    path = ua.BrowsePath()
    path.StartingNode = _numeric(ObjectIds.ObjectsFolder)
    path.RelativePath = ua.RelativePath(elements)
    return path


def _first_certificate(der: bytes) -> bytes:
    # servers may send their certificate followed by its chain: keep the first DER SEQUENCE
    if len(der) > 4 and der[0] == 0x30 and der[1] == 0x82:
        return der[: int.from_bytes(der[2:4], "big") + 4]
    return der


def _subject(der: bytes) -> str:
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        return "an unreadable certificate"
