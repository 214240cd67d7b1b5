"""A supervised Modbus TCP connection: the collector's own asyncio protocol, one per host:port.

One ``ModbusConnection`` per host:port, shared by every unit id behind it (a gateway), and
the only owner of that socket's reconnects: a dead gateway is retried on our schedule
(backoff with jitter), once for all its devices — devices behind it fail fast in between
instead of each paying a connect timeout.

The wire is spoken by ``_Link``, a plain ``asyncio.Protocol`` over the framing of
``collectors.modbus.framing`` (docs/decisions/009-modbus-read-framing.md: pymodbus' client
cost more CPU per request than the rest of a poll). One request in flight per connection, as
most devices and gateways expect; its deadline is a loop timer (``call_later``), not a task
or an ``asyncio.timeout`` per request. A request that timed out leaves the connection open:
its late answer is recognised by its transaction id and dropped. Bytes that cannot be a
Modbus TCP frame put the stream out of step: the connection is closed (``closed``), the next
request reconnects.

A unit that stopped answering behind a live gateway is probed over a second connection to
the same endpoint (``prober``), so its probes never hold the shared one for a whole timeout:
requests are serialised per connection, and a 1 s probe would stretch every neighbour's
1 s poll. A gateway that refuses a second connection gets its probes on the shared one again
(logged once).

Errors are the project's (``collectors.modbus.framing``), with a short stable ``code`` for
counters: ``timeout``, ``refused``, ``closed``, ``exception_<n>``, ``short``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from collectors.modbus.framing import (
    FrameError,
    ModbusCommError,
    encode_read,
    encode_write_coil,
    encode_write_registers,
    parse_read_response,
    parse_write_response,
    split_frames,
)
from device_profiles.models import Table
from facility.backoff import backoff_s

log = logging.getLogger(__name__)


class _Link(asyncio.Protocol):
    """One TCP connection: a request frame out, its answer's PDU back (one at a time)."""

    def __init__(self, name: str, timeout_s: float) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._buffer = b""
        self._tid = 0
        self._waiting: int = -1  # the transaction id of the request in flight
        self._future: asyncio.Future[bytes] | None = None
        self._lock = asyncio.Lock()  # one request in flight; the others queue in order
        self.lost = False

    @property
    def open(self) -> bool:
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        try:
            frames, self._buffer = split_frames(buffer)
        except FrameError as exc:
            self._out_of_step(str(exc))
            return
        for tid, pdu in frames:
            future = self._future
            if tid == self._waiting and future is not None and not future.done():
                future.set_result(pdu)
            # else: the late answer to a request that timed out (or one nobody asked for)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.transport = None
        self._fail(ModbusCommError(f"{self.name}: connection lost: {exc or 'closed'}", "closed"))

    # -- requests ----------------------------------------------------------------------------

    async def request(self, build: Callable[[int], bytes], where: str) -> tuple[bytes, bytes]:
        """Send the frame ``build(transaction id)`` makes; ``(request, answer PDU)``."""
        async with self._lock:
            transport = self.transport
            if transport is None or self.lost:
                raise ModbusCommError(f"{self.name}: connection lost", "closed")
            self._tid = tid = (self._tid + 1) & 0xFFFF
            frame = build(tid)
            future: asyncio.Future[bytes] = self._loop.create_future()
            self._future, self._waiting = future, tid
            timer = self._loop.call_later(self.timeout_s, self._expire, future, where)
            try:
                transport.write(frame)
                return frame, await future
            finally:
                timer.cancel()
                self._future, self._waiting = None, -1

    def _expire(self, future: asyncio.Future[bytes], where: str) -> None:
        if future.done():
            return
        future.set_exception(
            ModbusCommError(f"{where}: no answer within {self.timeout_s} s", "timeout")
        )
        if self._buffer:
            # part of a frame is buffered and its rest did not come: if it never does, every
            # later answer would be read out of step — start again on a fresh connection
            self._out_of_step(f"{len(self._buffer)} bytes of an incomplete frame at timeout")

    def _out_of_step(self, why: str) -> None:
        self._buffer = b""
        self._fail(ModbusCommError(f"{self.name}: garbled frame ({why}); reconnecting", "closed"))
        self.close()

    def _fail(self, error: ModbusCommError) -> None:
        future = self._future
        if future is not None and not future.done():
            future.set_exception(error)

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()


class ModbusConnection:
    """A supervised Modbus TCP connection to one host:port (device or gateway)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float = 1.0,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.reconnects = 0
        self.requests = 0
        self._link: _Link | None = None
        self._failures = 0
        self._next_connect = 0.0
        self._lock = asyncio.Lock()
        self._prober: ModbusConnection | None = None
        self.second_connection_refused = False

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.open

    def prober(self) -> ModbusConnection:
        """The connection to probe units that stopped answering on (see the module doc)."""
        if self.second_connection_refused:
            return self
        if self._prober is None:
            self._prober = ModbusConnection(
                self.host,
                self.port,
                timeout_s=self.timeout_s,
                backoff_min_s=self.backoff_min_s,
                backoff_max_s=self.backoff_max_s,
            )
        return self._prober

    def refuse_prober(self) -> None:
        """The endpoint takes one connection only: probe on the shared one from now on."""
        if not self.second_connection_refused:
            log.warning(
                "modbus endpoint=%s refuses a second connection; units that stop answering "
                "are probed on the shared one (their timeouts delay the others)",
                self.name,
            )
        self.second_connection_refused = True
        if self._prober is not None:
            self._prober.close()
            self._prober = None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    async def _link_up(self) -> _Link:
        link = self._link
        if link is not None and link.open:
            return link
        async with self._lock:  # one connect attempt for all the units behind it
            return await self._ensure_connected()

    async def _ensure_connected(self) -> _Link:
        if self._link is not None and self._link.open:
            return self._link
        self._link = None
        now = time.monotonic()
        if now < self._next_connect:
            raise ModbusCommError(
                f"{self.name} unreachable; next connect attempt in "
                f"{self._next_connect - now:.1f} s",
                "refused",
            )
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout_s):
                _, link = await loop.create_connection(
                    lambda: _Link(self.name, self.timeout_s), self.host, self.port
                )
        except (OSError, TimeoutError) as exc:
            log.debug("modbus endpoint=%s connect error: %s", self.name, exc)
            self._failures += 1
            delay = backoff_s(self._failures, self.backoff_min_s, self.backoff_max_s)
            self._next_connect = time.monotonic() + delay
            raise ModbusCommError(f"cannot connect to {self.name}", "refused") from exc
        if self._failures or self.requests:
            self.reconnects += 1
        self._failures = 0
        self._link = link
        return link

    async def read(self, unit_id: int, table: Table, address: int, count: int) -> list[int]:
        """Read ``count`` registers (or bits, as 0/1) of ``table`` at ``address``."""
        link = self._link
        if link is None or not link.open:
            link = await self._link_up()
        self.requests += 1
        where = f"{self.name} unit {unit_id}"
        _, pdu = await link.request(
            lambda tid: encode_read(tid, unit_id, table, address, count), where
        )
        return parse_read_response(pdu, table, count, where)

    async def write_register(self, unit_id: int, address: int, values: list[int]) -> None:
        """Write holding registers (set-points, modes): FC16."""
        await self._write(
            lambda tid: encode_write_registers(tid, unit_id, address, values), unit_id
        )

    async def write_coil(self, unit_id: int, address: int, value: bool) -> None:
        """Write one coil: FC5."""
        await self._write(lambda tid: encode_write_coil(tid, unit_id, address, value), unit_id)

    async def _write(self, build: Callable[[int], bytes], unit_id: int) -> None:
        link = await self._link_up()
        self.requests += 1
        where = f"{self.name} unit {unit_id}"
        request, pdu = await link.request(build, where)
        parse_write_response(pdu, request, where)

    def _drop(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def close(self) -> None:
        """Close the socket (the next read reconnects), and the probe connection's."""
        self._drop()
        if self._prober is not None:
            self._prober.close()
            self._prober = None
