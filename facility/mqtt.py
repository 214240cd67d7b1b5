"""The one module that wraps paho-mqtt (2.x, MQTT 5).

``MqttLink`` owns the connection to the broker — and is the only owner of reconnects: each
connection attempt uses a fresh paho client with paho's own reconnect switched off, because
paho re-sends its in-memory queue on reconnect, which would duplicate what the caller's
durable spool re-sends. Between attempts it backs off exponentially with jitter. A birth
message is published retained on every connect and a last will (same topic, ``offline``)
set, so the bus always says whether this process is alive.

``publish`` returns a future resolved when the broker acknowledges (PUBACK for QoS 1) —
paho's own ``publish()`` returns when the message is queued, not delivered (PITFALLS).
Futures of a connection that drops fail with CommError so callers re-send from their spool.
paho's network thread can deliver the PUBACK before ``client.publish()`` has returned the mid
to us: such an early acknowledgement is kept (``_early``) and settles the future as soon as it
is registered — losing it once froze the collector after 23 minutes. Every future also has a
deadline: a broker that leaves a message unacknowledged for ``ack_timeout_s`` is treated as a
broken connection (torn down, reconnected, its futures failed so callers re-send).

Network I/O runs on paho's own thread by default. ``network_thread=False`` runs it on the
event loop instead (the socket registered with ``add_reader``, writes made by ``publish``
itself, keep-alive from the acknowledgement watch): no thread wake-up per publish (paho's
socket pair), no ``call_soon_threadsafe`` per PUBACK and no GIL hand-over between two busy
threads — the collector publishing a message per poll spends about a third less CPU that way
(issue 16). Handlers then run on the event loop, so they must not block.

Callbacks run on paho's network thread (or the loop); an exception escaping one would kill
that thread and leave a live process with a dead ear. Every callback is guarded: the error is
logged (once per kind, with its traceback), counted in ``stats.callback_errors``, and the
thread goes on.

Receiving with ``manual_ack=True`` (the gateway): ``on_delivery(topic, payload, token)`` is
called instead of ``on_message`` and the broker gets its PUBACK only when the caller passes the
token to ``ack()`` — after the reading is stored — so a crash in between means redelivery
from the persistent session, never a loss. ``receive_maximum`` (MQTT 5) bounds how many
unacknowledged messages the broker sends: that is the consumer's back-pressure. Tokens of an
earlier connection are ignored by ``ack()``: the broker redelivers those messages anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from facility.backoff import Backoff
from facility.deadline import within
from facility.errors import CommError, ConfigError
from facility.redact import redact_url

log = logging.getLogger(__name__)
# how long a clean stop waits for its explicit "offline" before asking the broker for the will
CLOSE_ACK_TIMEOUT_S = 5.0
# how long a stop waits for paho's thread to write its DISCONNECT (ms on a broker that answers)
THREAD_END_S = 0.5
# The longest wait between two connection attempts. The broker is one server on the site's
# network, so an attempt every 5 s costs nothing; a longer cap made a part come back up to
# 30 s after the broker did, later than the watchdog's silence window (heartbeat_s x
# silent_after_intervals, at least 10 s) measured from the alarm engine's own reconnect — a
# gateway that had lost nothing was reported silent after every broker restart (make faults,
# "mosquitto down 60 s"), and recovery took 40-56 s instead of a few.
RECONNECT_MAX_S = 5.0

MessageHandler = Callable[[str, bytes], None]
# (connection number, packet id, qos): what ack() needs, valid for the connection it came on
AckToken = tuple[int, int, int]
DeliveryHandler = Callable[[str, bytes, AckToken], None]


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where the broker is and how to log in; from an ``mqtt://`` or ``mqtts://`` URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line or repr
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = 30

    @classmethod
    def from_url(
        cls, url: str, *, password: str | None = None, ca_file: str | None = None
    ) -> BrokerSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(
                f"MQTT URL {redact_url(url)!r}: expected mqtt://host:port or mqtts://host:port"
            )
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=password
            if password is not None
            else (unquote(parts.password) if parts.password else None),
            tls=tls,
            ca_file=ca_file,
        )


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass
class LinkStats:
    connects: int = 0
    disconnects: int = 0
    published: int = 0
    received: int = 0
    last_error: str = ""
    callback_errors: int = 0
    ack_timeouts: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class MqttLink:
    """A supervised MQTT 5 connection: reconnects, birth/will, publish futures, subscriptions."""

    def __init__(
        self,
        broker: BrokerSettings,
        client_id: str,
        *,
        birth: Message | None = None,
        will: Message | None = None,
        subscriptions: list[tuple[str, int]] | None = None,
        on_message: MessageHandler | None = None,
        session_expiry_s: int = 0,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = RECONNECT_MAX_S,
        max_inflight: int = 1000,
        manual_ack: bool = False,
        on_delivery: DeliveryHandler | None = None,
        receive_maximum: int | None = None,
        ack_timeout_s: float = 30.0,
        network_thread: bool = True,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.birth = birth
        self.will = will
        self.subscriptions = list(subscriptions or [])
        self.on_message = on_message
        self.session_expiry_s = session_expiry_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.max_inflight = max_inflight
        self.manual_ack = manual_ack
        self.on_delivery = on_delivery
        self.receive_maximum = receive_maximum
        self.ack_timeout_s = ack_timeout_s
        self.network_thread = network_thread
        self._watched: Any = None  # the socket registered with the loop (network_thread=False)
        self._writing = False  # ... and registered for writing (its buffer was full)
        self._generation = 0  # connection number, for AckTokens
        self.stats = LinkStats()
        self.connected = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: paho.Client | None = None
        self._pending: dict[int, tuple[asyncio.Future[None], float]] = {}
        # acknowledgements that arrived before publish() registered their mid
        self._early: dict[int, CommError | None] = {}
        self._logged_callback_errors: set[str] = set()
        self._lock = threading.Lock()
        self._lost = asyncio.Event()
        self._stopping = False
        self._down_logged = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until cancelled (run it as a task)."""
        self._loop = asyncio.get_running_loop()
        backoff = Backoff(self.backoff_min_s, self.backoff_max_s)
        try:
            while True:
                try:
                    await self._connect_once()
                    backoff.succeeded()
                    await self._watch_acks()
                except CommError as exc:
                    self.stats.last_error = str(exc)
                    if not self._down_logged:
                        log.warning(
                            "mqtt broker=%s:%s down: %s", self.broker.host, self.broker.port, exc
                        )
                        self._down_logged = True
                self._teardown("connection lost")
                await asyncio.sleep(backoff.failed())
        finally:
            await self._close()

    async def _connect_once(self) -> None:
        assert self._loop is not None
        self._lost.clear()
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=self.manual_ack,
        )
        self._generation += 1
        generation = self._generation
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set_context(_tls_context(self.broker))
        if self.will is not None:
            client.will_set(self.will.topic, self.will.payload, self.will.qos, self.will.retain)
        connected: asyncio.Future[None] = self._loop.create_future()
        loop = self._loop
        in_loop = not self.network_thread

        def on_connect(c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
            if reason.is_failure:
                loop.call_soon_threadsafe(_settle, connected, CommError(f"refused: {reason}"))
            else:
                loop.call_soon_threadsafe(_settle, connected, None)

        def on_disconnect(c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
            loop.call_soon_threadsafe(self._on_lost, f"disconnected: {reason}")
            loop.call_soon_threadsafe(_settle, connected, CommError(f"disconnected: {reason}"))

        def on_publish(c: paho.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
            error = CommError(f"broker refused publish: {reason}") if reason.is_failure else None
            with self._lock:
                entry = self._pending.pop(mid, None)
                if entry is None:
                    # publish() has not registered this mid yet: keep the ack for it
                    self._early[mid] = error
                    return
            if in_loop:
                _settle(entry[0], error)
            else:
                loop.call_soon_threadsafe(_settle, entry[0], error)

        def on_message(c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
            self.stats.received += 1
            if self.on_delivery is not None:
                self.on_delivery(msg.topic, bytes(msg.payload), (generation, msg.mid, msg.qos))
            elif self.on_message is not None:
                self.on_message(msg.topic, bytes(msg.payload))

        client.on_connect = self._guarded(loop, on_connect)
        client.on_disconnect = self._guarded(loop, on_disconnect)
        client.on_publish = self._guarded(loop, on_publish)
        client.on_message = self._guarded(loop, on_message)
        if in_loop:
            # paho closes its socket itself when the connection breaks: unregister it first
            client.on_socket_close = lambda _c, _u, sock: self._unwatch(sock)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self.session_expiry_s:
            properties.SessionExpiryInterval = self.session_expiry_s
        if self.receive_maximum:
            properties.ReceiveMaximum = self.receive_maximum
        self._client = client
        try:
            await asyncio.to_thread(
                client.connect,
                self.broker.host,
                self.broker.port,
                self.broker.keepalive_s,
                clean_start=self.session_expiry_s == 0,
                properties=properties,
            )
        except ssl.SSLCertVerificationError as exc:
            raise CommError(_untrusted(self.broker, exc)) from exc
        except (OSError, ssl.SSLError) as exc:
            raise CommError(
                f"cannot connect to {self.broker.host}:{self.broker.port}: {exc}"
            ) from exc
        if in_loop:
            self._watch(client)
        else:
            client.loop_start()
        try:
            await within(connected, 10)
        except TimeoutError:
            raise CommError("no CONNACK within 10 s") from None
        if self.subscriptions:
            await self._subscribe(client, loop)
        self.stats.connects += 1
        self.connected.set()
        if self.birth is not None:
            # through publish() so its acknowledgement is consumed like any other
            birth = self.publish(
                self.birth.topic, self.birth.payload, self.birth.qos, self.birth.retain
            )
            birth.add_done_callback(_retrieve)
        if self._down_logged or self.stats.connects > 1:
            log.info("mqtt broker=%s:%s connected", self.broker.host, self.broker.port)
        self._down_logged = False

    async def _subscribe(self, client: paho.Client, loop: asyncio.AbstractEventLoop) -> None:
        """Subscribe and wait for the SUBACK, so ``connected`` also means "listening": it was
        set as SUBSCRIBE left, and a message published at once by another client missed the
        link 43 times in 100. A topic the broker refuses is logged at every connect, with the
        broker's reason (mosquitto 2.0's ACL file grants every filter and filters at delivery;
        brokers that check at subscribe time answer "Not authorized" here)."""
        answered: asyncio.Future[list[ReasonCode]] = loop.create_future()

        def on_subscribe(
            _c: paho.Client, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any
        ) -> None:
            loop.call_soon_threadsafe(_answer, answered, list(codes))

        client.on_subscribe = self._guarded(loop, on_subscribe)
        client.subscribe(list(self.subscriptions))
        try:
            codes = await within(answered, 10)
        except TimeoutError:
            raise CommError("no SUBACK within 10 s") from None
        for (topic, _qos), code in zip(self.subscriptions, codes, strict=False):
            if code.is_failure:
                log.error(
                    "mqtt broker=%s:%s refused %s the subscription to %s: %s",
                    self.broker.host,
                    self.broker.port,
                    self.client_id,
                    topic,
                    code,
                )

    async def _watch_acks(self) -> None:
        """Wait for the connection to be lost; meanwhile fail it if the broker leaves a
        publish unacknowledged beyond the deadline (a silent broker, a half-open socket)."""
        assert self._loop is not None
        period = max(0.05, min(1.0, self.ack_timeout_s / 4))
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                await within(self._lost.wait(), period)
            if not self.network_thread and self._client is not None:
                self._client.loop_misc()  # keep-alive (PINGREQ) and its deadline
                self._pump(self._client)
            oldest = self._oldest_pending()
            if oldest is not None and self._loop.time() - oldest > self.ack_timeout_s:
                self.stats.ack_timeouts += 1
                self._on_lost(f"no acknowledgement from the broker within {self.ack_timeout_s:g} s")

    def _oldest_pending(self) -> float | None:
        with self._lock:
            if not self._pending:
                return None
            # dicts keep insertion order: the first entry is the oldest publish
            return next(iter(self._pending.values()))[1]

    def _on_lost(self, why: str) -> None:
        if self.connected.is_set():
            self.stats.disconnects += 1
            log.warning("mqtt broker=%s:%s %s", self.broker.host, self.broker.port, why)
            self._down_logged = True
        self.connected.clear()
        self._lost.set()

    def _teardown(self, why: str, *, with_will: bool = False) -> None:
        self.connected.clear()
        client, self._client = self._client, None
        if client is not None:
            if with_will:
                # MQTT 5 reason 0x04: the broker publishes our will (offline) for us
                client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
            else:
                client.disconnect()
            if self.network_thread:
                _end_thread(client, THREAD_END_S)
            else:
                sock = client.socket()
                self._unwatch(sock)
                if sock is not None:  # DISCONNECT not written (a full buffer): close anyway
                    sock.close()
        with self._lock:
            pending, self._pending = self._pending, {}
            self._early.clear()
        for future, _sent in pending.values():
            _settle(future, CommError(why))

    async def _close(self) -> None:
        client = self._client
        said = False
        try:
            if client is not None and self.connected.is_set() and self.will is not None:
                # a clean stop says offline explicitly (the will only fires on a lost link)
                info = client.publish(
                    self.will.topic, self.will.payload, self.will.qos, self.will.retain
                )
                said = await asyncio.to_thread(_acknowledged, info, CLOSE_ACK_TIMEOUT_S)
        finally:
            # a second descriptor keeps the connection open after paho closes its own
            held = _hold(client) if client is not None and self.connected.is_set() else None
            # not acknowledged (a loaded machine, a refused publish): the broker says it for
            # us, so a stopped service is never left looking online
            self._teardown("link closed", with_will=self.will is not None and not said)
            if held is not None:
                await _broker_closed(held, CLOSE_ACK_TIMEOUT_S)

    # -- use ---------------------------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, retain: bool = False
    ) -> asyncio.Future[None]:
        """Send one message; the future resolves on the broker's acknowledgement."""
        assert self._loop is not None, "run() the link first"
        client = self._client
        future: asyncio.Future[None] = self._loop.create_future()
        if client is None or not self.connected.is_set():
            future.set_exception(CommError("not connected to the broker"))
            return future
        # Never hold self._lock while calling paho: paho calls on_publish holding its own
        # mutex, and on_publish takes self._lock (lock-order deadlock otherwise).
        info = client.publish(topic, payload, qos, retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            future.set_exception(CommError(f"publish failed: {paho.error_string(info.rc)}"))
            return future
        if qos == 0:
            future.set_result(None)
        else:
            with self._lock:
                if info.mid in self._early:
                    _settle(future, self._early.pop(info.mid))
                else:
                    self._pending[info.mid] = (future, self._loop.time())
        self.stats.published += 1
        if not self.network_thread and client.want_write():
            self._pump(client)
        return future

    # -- network I/O on the event loop (network_thread=False) ---------------------------------

    def _watch(self, client: paho.Client) -> None:
        sock = client.socket()
        assert self._loop is not None
        assert sock is not None
        self._watched = sock
        self._loop.add_reader(sock, self._on_readable, client)

    def _unwatch(self, sock: Any) -> None:
        """Take a socket off the loop before paho closes it (a closed descriptor left in the
        selector would break the next connection's registration under the same number)."""
        if sock is None or sock is not self._watched or self._loop is None:
            return
        self._watched = None
        self._writing = False
        with contextlib.suppress(ValueError, OSError):  # already closed: nothing to remove
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)

    def _on_readable(self, client: paho.Client) -> None:
        # paho reads at most one packet per in-flight message per call; a TLS socket may
        # hold decrypted bytes the selector cannot see: read until both are drained
        while True:
            rc = client.loop_read()
            sock = client.socket()
            if rc or sock is None or not getattr(sock, "pending", lambda: 0)():
                break
        # packets queued while paho was in a callback (PUBACKs of received messages) are
        # written here: paho writes directly only outside its callbacks
        self._pump(client)

    def _pump(self, client: paho.Client) -> None:
        """Write what paho has queued; what does not fit waits for the socket to drain."""
        if client.want_write():
            client.loop_write()
        sock = client.socket()
        if sock is None or sock is not self._watched or self._loop is None:
            return
        if client.want_write():
            if not self._writing:
                self._writing = True
                self._loop.add_writer(sock, self._pump, client)
        elif self._writing:
            self._writing = False
            self._loop.remove_writer(sock)

    def ack(self, tokens: Iterable[AckToken]) -> int:
        """Acknowledge received messages (``manual_ack``), in the order given; returns how many
        were sent. Tokens from an earlier connection are skipped (the broker redelivers)."""
        client = self._client
        if client is None or not self.manual_ack:
            return 0
        sent = 0
        for generation, mid, qos in tokens:
            if generation == self._generation and qos > 0:
                client.ack(mid, qos)
                sent += 1
        return sent

    def _guarded(self, loop: asyncio.AbstractEventLoop, callback: Callable[..., None]) -> Any:
        """A paho callback that never kills paho's network thread.

        paho's network thread can deliver one last packet while the owning process shuts
        down; handing it to a closed loop raises RuntimeError — quiet then (nothing is lost:
        QoS 1 messages not acknowledged are redelivered). Any other exception is a bug in a
        handler: logged once per kind with its traceback, counted, and the thread goes on.
        """

        def wrapper(*args: Any) -> None:
            try:
                callback(*args)
            except Exception as exc:
                if isinstance(exc, RuntimeError) and loop.is_closed():
                    return
                self.stats.callback_errors += 1
                kind = f"{callback.__name__}:{type(exc).__name__}"
                if kind not in self._logged_callback_errors:
                    self._logged_callback_errors.add(kind)
                    log.exception(
                        "mqtt client_id=%s: %s failed (counted, the connection goes on)",
                        self.client_id,
                        callback.__name__,
                    )

        return wrapper


def _retrieve(future: asyncio.Future[None]) -> None:
    """Done callback of a future nobody awaits (birth): mark its error as seen."""
    if not future.cancelled():
        future.exception()


def _acknowledged(info: paho.MQTTMessageInfo, timeout_s: float) -> bool:
    """Whether a publish was acknowledged within ``timeout_s`` (a refused one: False)."""
    try:
        info.wait_for_publish(timeout_s)
    except (ValueError, RuntimeError):  # not queued, or failed outright
        return False
    return info.is_published()


def _end_thread(client: paho.Client, timeout_s: float) -> None:
    """Stop paho's network thread once it has written the DISCONNECT queued for it (it closes
    its socket then). paho's thread otherwise runs on while a publish waits for its PUBACK:
    with a broker that has stopped answering, ``loop_stop()`` alone blocked the caller (the
    event loop) until paho's keep-alive gave up, 60 s. Past ``timeout_s`` the socket is shut
    down instead, which ends the thread at once."""
    deadline = time.monotonic() + timeout_s
    while client.socket() is not None and time.monotonic() < deadline:
        time.sleep(0.002)
    sock = client.socket()
    if isinstance(sock, socket.socket):  # plain or TLS (an SSLSocket is one)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    client.loop_stop()


def _hold(client: paho.Client) -> socket.socket | None:
    """A second descriptor on the client's connection (plain or TLS), or None without one."""
    sock = client.socket()
    if sock is None:
        return None
    try:
        held = socket.socket(fileno=os.dup(sock.fileno()))
    except OSError:
        return None
    held.setblocking(False)
    return held


async def _broker_closed(held: socket.socket, timeout_s: float) -> None:
    """End a clean stop the way MQTT means it: after our DISCONNECT, wait for the broker to
    close the connection. It reads a connection in order, so by then it has read every PUBACK
    we sent before; closing at once let a quick reconnect with the same client id take the
    session over first, and mosquitto drops what the old connection had not read yet (the
    acknowledged messages came again). Whatever arrives meanwhile is dropped unacknowledged,
    so the broker keeps it for the session. Bounded by ``timeout_s``."""
    loop = asyncio.get_running_loop()
    try:
        with contextlib.suppress(OSError):
            held.shutdown(socket.SHUT_WR)  # our side is said: DISCONNECT, or EOF without it
        deadline = loop.time() + timeout_s
        with contextlib.suppress(OSError, TimeoutError):
            while await within(loop.sock_recv(held, 65536), deadline - loop.time()):
                pass
    finally:
        held.close()


def _answer(future: asyncio.Future[list[ReasonCode]], codes: list[ReasonCode]) -> None:
    if not future.done():
        future.set_result(codes)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def publish_once(
    broker: BrokerSettings,
    topic: str,
    payload: bytes,
    *,
    client_id: str = "",
    qos: int = 1,
    retain: bool = False,
    timeout_s: float = 5.0,
) -> None:
    """Connect, publish one message, wait for the broker's acknowledgement, disconnect.

    For processes that only occasionally say something (a CLI command notifying a
    technician); long-running ones keep an ``MqttLink``.
    """
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set_context(_tls_context(broker))
    try:
        client.connect(broker.host, broker.port, broker.keepalive_s)
        client.loop_start()
        try:
            info = client.publish(topic, payload, qos, retain)
            info.wait_for_publish(timeout_s)
            if not info.is_published():
                raise CommError(f"broker {broker.host}:{broker.port} did not acknowledge")
        finally:
            client.disconnect()
            client.loop_stop()
    except ssl.SSLCertVerificationError as exc:
        raise CommError(_untrusted(broker, exc)) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise CommError(f"cannot publish to {broker.host}:{broker.port}: {exc}") from None


class _ClosingSSLSocket(ssl.SSLSocket):
    """paho 2.1 leaves the TLS socket open when the handshake fails (an untrusted broker,
    tried again every backoff): one file descriptor leaked per attempt. This one closes
    itself when its handshake fails."""

    def do_handshake(self, block: bool = False) -> None:
        try:
            super().do_handshake(block)
        except BaseException:
            self.close()
            raise


def _tls_context(broker: BrokerSettings) -> ssl.SSLContext:
    """Verify the broker's certificate and host name against ``ca_file`` (or the system's
    CAs): no option to skip it."""
    context = ssl.create_default_context(cafile=broker.ca_file)
    context.sslsocket_class = _ClosingSSLSocket
    return context


def _untrusted(broker: BrokerSettings, exc: ssl.SSLCertVerificationError) -> str:
    trusted = f"ca_file {broker.ca_file}" if broker.ca_file else "the system's CAs (no ca_file)"
    return (
        f"TLS to {broker.host}:{broker.port}: the broker's certificate is not trusted by "
        f"{trusted}: {exc.verify_message or exc}; set [mqtt] ca_file to the CA that signed it"
    )
