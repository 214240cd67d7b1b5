"""Simulated Modbus TCP endpoints: one TCP server per (host, port), serving one device or a
gateway of several unit ids, each from its own register image. The only simulator module
that imports pymodbus.

pymodbus supplies the protocol: request PDU decoding, the request semantics
(``datastore_update``) and response encoding. The TCP framing is ours, because pymodbus
3.16's ``ServerRequestHandler`` (checked in its source and on the wire) answers only the
first of several requests that arrive in one segment until more data comes, reads the
request back from ``self.last_pdu`` after an ``await`` (a delayed answer would carry another
request's transaction id), and keeps a frame with a non-zero protocol id in its buffer for
ever (the connection wedges). Here every complete frame is answered, each answer carries its
own request's ids, and garbage closes only that connection.

Behaviour, as a real device or gateway would answer (documented in docs/simulators.md):

- Reads: the first and the last address of the request must belong to a point of that
  table; registers between points (reserved) read as 0, so a collector may bridge gaps.
  Otherwise exception 2 ILLEGAL DATA ADDRESS.
- Writes (FC 5, 6, 15, 16, 22, 23): every address written must belong to a ``read_write``
  point, else exception 2 (a read-only or unmapped register is not an address you may
  write). The written points are decoded and handed to the device model; a value the model
  refuses gets exception 3 ILLEGAL DATA VALUE and the image is left as it was.
- Unknown unit id: exception 0x0B GATEWAY TARGET DEVICE FAILED TO RESPOND, at once. An
  endpoint with a single device also answers unit id 0 and 255 ("this device").
- Function codes other than 1-6, 15, 16, 22, 23: exception 1 ILLEGAL FUNCTION; a request
  whose body does not decode (count 0, count above 125/2000, short body): exception 3.
- A frame with a protocol id other than 0 or an impossible length closes that connection
  (logged); the server and its other connections carry on.
- Per-unit faults: ``comm_loss`` drops that unit's requests (no answer; the other units of the
  gateway still answer), ``slow`` answers after ``SLOW_DELAY_S``, ``exception`` answers
  exception 4 SERVER DEVICE FAILURE. (``out_of_range`` is applied to the values by the estate.)
- Per-unit quirks of devices no one here wrote: ``request_limit`` answers exception 3 to a
  register read of more than N registers (default ``DEFAULT_REQUEST_LIMIT``);
  ``strict_gaps`` answers exception 2 to a read that spans any unmapped register.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU

from device_profiles.codec import decode, encode, to_engineering, to_raw
from device_profiles.models import Access, ByteOrder, DataType, DeviceProfile, Point, Table
from facility.errors import CommError, ConfigError, FacilityError
from facility.types import PointValue
from simulators.physics.base import FaultKind

log = logging.getLogger(__name__)

SLOW_DELAY_S = 1.5
DEFAULT_REQUEST_LIMIT = 60  # registers; what a real device of the issue refused above
SUPPORTED_FUNCTIONS = frozenset({1, 2, 3, 4, 5, 6, 15, 16, 22, 23})
_TABLE_OF_FUNCTION: dict[int, Table] = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    22: Table.HOLDING,
    23: Table.HOLDING,
    4: Table.INPUT,
}
_MBAP = struct.Struct(">HHHB")
_MAX_PDU = 253  # Modbus PDU limit; the MBAP length field counts the unit id too

WriteHook = Callable[[str, PointValue], None]
"""Called with (point name, engineering value) for a client write; raise to refuse it."""


class RegisterError(Exception):
    """A request the image refuses; ``code`` is the Modbus exception code to answer."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _Slot:
    """One point's place in the image."""

    point: Point
    order: ByteOrder
    table: Table
    start: int
    count: int


@dataclass
class _Table:
    values: list[int] = field(default_factory=list)
    owner: list[_Slot | None] = field(default_factory=list)  # point owning each address
    bit_slots: dict[int, list[_Slot]] = field(default_factory=dict)  # bit points per register

    def grow(self, size: int) -> None:
        if size > len(self.values):
            extra = size - len(self.values)
            self.values.extend([0] * extra)
            self.owner.extend([None] * extra)


class UnitImage:
    """The four data tables of one simulated device, built from its profile. Pure: no I/O.

    ``update`` re-encodes only the points whose engineering value changed since the last
    call; ``read``/``write`` apply the address rules in the module docstring.
    """

    def __init__(self, profile: DeviceProfile) -> None:
        self.profile = profile
        self.tables: dict[Table, _Table] = {table: _Table() for table in Table}
        self.slots: dict[str, _Slot] = {}
        self._last: dict[str, PointValue] = {}
        for point in profile.points:
            if point.modbus is None:
                raise ConfigError(f"profile {profile.id}: point {point.name} has no modbus address")
            address = point.modbus
            slot = _Slot(
                point, profile.order_of(point), address.table, address.address, address.count
            )
            self.slots[point.name] = slot
            table = self.tables[address.table]
            table.grow(address.end + 1)
            for i in range(slot.start, slot.start + slot.count):
                table.owner[i] = slot
            if address.type is DataType.BIT:
                table.bit_slots.setdefault(slot.start, []).append(slot)

    def update(self, values: Mapping[str, PointValue]) -> int:
        """Encode changed engineering values into the image; returns how many changed."""
        changed = 0
        last = self._last
        for name, value in values.items():
            if name in last and last[name] == value:
                continue
            slot = self.slots.get(name)
            if slot is None:
                continue
            last[name] = value
            changed += 1
            self._encode(slot, value)
        return changed

    def _encode(self, slot: _Slot, value: PointValue) -> None:
        point = slot.point
        assert point.modbus is not None
        words = encode(point.modbus, slot.order, to_raw(point, value))
        registers = self.tables[slot.table].values
        if point.modbus.type is DataType.BIT:
            mask = 1 << (point.modbus.bit or 0)
            registers[slot.start] = (registers[slot.start] & ~mask) | words[0]
        else:
            registers[slot.start : slot.start + slot.count] = words

    def forget(self, names: Sequence[str]) -> None:
        """Re-encode these points at the next ``update`` even if their value is the same."""
        for name in names:
            self._last.pop(name, None)

    def read(
        self, table: Table, address: int, count: int, *, strict_gaps: bool = False
    ) -> list[int]:
        """Registers (or 0/1 bits) ``address .. address+count-1``; RegisterError(2) if the
        request does not start and end on a point of this table (with ``strict_gaps``: if
        any of its addresses belongs to no point)."""
        data = self.tables[table]
        end = address + count - 1
        if count < 1 or end >= len(data.owner):
            raise RegisterError(ExcCodes.ILLEGAL_ADDRESS)
        if data.owner[address] is None or data.owner[end] is None:
            raise RegisterError(ExcCodes.ILLEGAL_ADDRESS)
        if strict_gaps and None in data.owner[address : end + 1]:
            raise RegisterError(ExcCodes.ILLEGAL_ADDRESS)
        return data.values[address : end + 1]

    def write(self, table: Table, address: int, words: Sequence[int]) -> dict[str, PointValue]:
        """Store a client write and return the engineering values of the points it touched.

        RegisterError(2) if any address is not part of a read_write point; nothing is
        changed then. The caller hands the values to the model and calls ``revert`` with
        the returned undo data if the model refuses.
        """
        data = self.tables[table]
        end = address + len(words) - 1
        if not words or end >= len(data.owner):
            raise RegisterError(ExcCodes.ILLEGAL_ADDRESS)
        touched: dict[str, _Slot] = {}
        for i in range(address, end + 1):
            slot = data.owner[i]
            if slot is None:
                raise RegisterError(ExcCodes.ILLEGAL_ADDRESS)
            for candidate in data.bit_slots.get(i, [slot]):
                if candidate.point.access is not Access.READ_WRITE:
                    raise RegisterError(ExcCodes.ILLEGAL_ADDRESS)
                touched[candidate.point.name] = candidate
        bits = table.is_bit_table
        data.values[address : end + 1] = [(1 if w else 0) if bits else w & 0xFFFF for w in words]
        result: dict[str, PointValue] = {}
        for name, slot in touched.items():
            point = slot.point
            assert point.modbus is not None
            raw = decode(
                point.modbus, slot.order, data.values[slot.start : slot.start + slot.count]
            )
            result[name] = to_engineering(point, raw)
        return result


class _Unit:
    """A device on a gateway: its image, write hook and protocol faults."""

    def __init__(self, unit_id: int, asset_no: str, image: UnitImage, on_write: WriteHook):
        self.unit_id = unit_id
        self.asset_no = asset_no
        self.image = image
        self.on_write = on_write
        self.faults: set[FaultKind] = set()
        self.request_limit = DEFAULT_REQUEST_LIMIT  # registers, while REQUEST_LIMIT is on


class _GatewayContext(ModbusServerContext):
    """The datastore pymodbus' request classes talk to: routes to our unit images.

    Deliberately does not call the base ``__init__`` (it builds a SimDevice datastore and logs
    a v4 deprecation); it provides the three methods the request classes use.
    """

    def __init__(self, units: dict[int, _Unit]) -> None:
        self._units = units
        self.old_simulator = True
        self.simdevices = []

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        unit = self._units[device_id]
        table = _TABLE_OF_FUNCTION[func_code]
        try:
            words = unit.image.read(
                table, address, count, strict_gaps=FaultKind.STRICT_GAPS in unit.faults
            )
        except RegisterError as exc:
            return ExcCodes(exc.code)
        if table.is_bit_table:
            return [bool(w) for w in words]
        return list(words)

    async def async_setValues(
        self,
        device_id: int,
        func_code: int,
        address: int,
        values: Sequence[int] | Sequence[bool],
    ) -> ExcCodes | None:
        unit = self._units[device_id]
        table = _TABLE_OF_FUNCTION[func_code]
        image = unit.image
        before = list(image.tables[table].values)
        try:
            engineering = image.write(table, address, [int(v) for v in values])
        except RegisterError as exc:
            return ExcCodes(exc.code)
        try:
            for name, value in engineering.items():
                unit.on_write(name, value)
        except (FacilityError, ValueError, TypeError) as exc:
            image.tables[table].values[:] = before
            log.info("asset_no=%s write refused: %s", unit.asset_no, exc)
            return ExcCodes.ILLEGAL_VALUE
        image.forget(list(engineering))
        log.info(
            "asset_no=%s written %s",
            unit.asset_no,
            " ".join(f"{k}={v}" for k, v in engineering.items()),
        )
        return None

    def device_ids(self) -> list[int]:
        return list(self._units)


def _ranges(numbers: Sequence[int]) -> str:
    """[1, 2, 3, 5] -> "1-3,5" (for log lines)."""
    spans: list[str] = []
    for n in sorted(numbers):
        if spans and n == int(spans[-1].split("-")[-1]) + 1:
            spans[-1] = f"{spans[-1].split('-')[0]}-{n}"
        else:
            spans.append(str(n))
    return ",".join(spans)


def _run_now(coro: Coroutine[Any, Any, ModbusPDU]) -> ModbusPDU:
    """Run a coroutine that never suspends (our datastore does no I/O) without a task."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: ModbusPDU = done.value
        return result
    coro.close()
    raise RuntimeError("datastore request suspended unexpectedly")


class _Connection(asyncio.Protocol):
    """One client connection: split the byte stream into MBAP frames, answer each."""

    def __init__(self, gateway: ModbusGateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.peer: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        self.gateway._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gateway._connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        offset = 0
        size = len(buffer)
        while size - offset >= 8:
            tid, pid, length, unit_id = _MBAP.unpack_from(buffer, offset)
            if pid != 0 or length < 2 or length > _MAX_PDU + 1:
                log.warning(
                    "modbus %s: malformed frame from %s (protocol id %d, length %d); "
                    "closing that connection",
                    self.gateway.name,
                    self.peer,
                    pid,
                    length,
                )
                del buffer[:]
                if self.transport is not None:
                    self.transport.close()
                return
            end = offset + 6 + length
            if end > size:
                break
            pdu = bytes(buffer[offset + 7 : end])
            offset = end
            self.gateway._handle(self, tid, unit_id, pdu)
        if offset:
            del buffer[:offset]

    def send(self, tid: int, unit_id: int, response: ModbusPDU) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        body = bytes((response.function_code,)) + response.encode()
        self.transport.write(_MBAP.pack(tid, 0, len(body) + 1, unit_id) + body)


class ModbusGateway:
    """A Modbus TCP server on (host, port) serving one or more unit ids.

    ``async with ModbusGateway(host, port) as gw`` or ``await start()``/``await stop()``.
    Port 0 binds a free port; ``port`` then says which.
    """

    def __init__(self, host: str, port: int, name: str | None = None) -> None:
        self.host = host
        self.port = port
        self.name = name or f"{host}:{port}"
        self._units: dict[int, _Unit] = {}
        self._context = _GatewayContext(self._units)
        self._decoder = DecodePDU(is_server=True)
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._delayed: set[asyncio.Task[None]] = set()
        self.requests = 0
        self.dropped = 0

    def add_device(
        self, unit_id: int, asset_no: str, profile: DeviceProfile, on_write: WriteHook
    ) -> UnitImage:
        """Serve a device (its register image) at ``unit_id``."""
        if not 0 <= unit_id <= 255:
            raise ConfigError(f"asset {asset_no}: unit id {unit_id}: expected 0..255")
        if unit_id in self._units:
            raise ConfigError(
                f"asset {asset_no}: unit id {unit_id} on {self.name} is already taken by "
                f"{self._units[unit_id].asset_no}; expected one unit id per device"
            )
        image = UnitImage(profile)
        self._units[unit_id] = _Unit(unit_id, asset_no, image, on_write)
        return image

    @property
    def unit_ids(self) -> list[int]:
        return sorted(self._units)

    def update(self, unit_id: int, values: Mapping[str, PointValue]) -> int:
        """New engineering values for a device; only changed points are re-encoded."""
        return self._units[unit_id].image.update(values)

    def set_fault(
        self, unit_id: int, kind: FaultKind, active: bool, value: int | None = None
    ) -> None:
        """Start or clear a protocol fault (comm_loss, slow, exception, request_limit,
        strict_gaps) for one unit; ``value`` is request_limit's N (registers)."""
        unit = self._units[unit_id]
        if kind is FaultKind.REQUEST_LIMIT:
            unit.request_limit = value if value is not None else DEFAULT_REQUEST_LIMIT
        if active:
            unit.faults.add(kind)
        else:
            unit.faults.discard(kind)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _Connection(self), self.host, self.port, reuse_address=True
            )
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise CommError(
                f"modbus endpoint {self.host}:{self.port}: cannot listen ({reason}); "
                "expected a free port (is another simulator running? try --ephemeral-ports)"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("modbus listening on %s:%d units=%s", self.host, self.port, _ranges(self.unit_ids))

    async def stop(self) -> None:
        for task in list(self._delayed):
            task.cancel()
        if self._delayed:
            await asyncio.gather(*self._delayed, return_exceptions=True)
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        # let the transports' close callbacks run before the loop may end
        await asyncio.sleep(0)

    async def __aenter__(self) -> ModbusGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _resolve(self, unit_id: int) -> _Unit | None:
        unit = self._units.get(unit_id)
        if unit is None and unit_id in (0, 255) and len(self._units) == 1:
            unit = next(iter(self._units.values()))
        return unit

    def _handle(self, connection: _Connection, tid: int, unit_id: int, frame: bytes) -> None:
        self.requests += 1
        function_code = frame[0]
        unit = self._resolve(unit_id)
        if unit is None:
            connection.send(
                tid, unit_id, ExceptionResponse(function_code, ExcCodes.GATEWAY_NO_RESPONSE)
            )
            return
        faults = unit.faults
        if faults and FaultKind.COMM_LOSS in faults:
            self.dropped += 1
            return
        if faults and FaultKind.SLOW in faults:
            task = asyncio.get_running_loop().create_task(
                self._answer_late(connection, tid, unit_id, unit, frame)
            )
            self._delayed.add(task)
            task.add_done_callback(self._delayed.discard)
            return
        connection.send(tid, unit_id, self._respond(unit, frame))

    async def _answer_late(
        self, connection: _Connection, tid: int, unit_id: int, unit: _Unit, frame: bytes
    ) -> None:
        await asyncio.sleep(SLOW_DELAY_S)
        if FaultKind.COMM_LOSS not in unit.faults:
            connection.send(tid, unit_id, self._respond(unit, frame))

    def _respond(self, unit: _Unit, frame: bytes) -> ModbusPDU:
        function_code = frame[0]
        if function_code not in SUPPORTED_FUNCTIONS:
            return ExceptionResponse(function_code, ExcCodes.ILLEGAL_FUNCTION)
        request = self._decoder.decode(frame)
        if request is None:
            return ExceptionResponse(function_code, ExcCodes.ILLEGAL_VALUE)
        if FaultKind.EXCEPTION in unit.faults:
            return ExceptionResponse(function_code, ExcCodes.DEVICE_FAILURE)
        if (
            FaultKind.REQUEST_LIMIT in unit.faults
            and function_code in (3, 4)
            and int(getattr(request, "count", 0)) > unit.request_limit
        ):
            return ExceptionResponse(function_code, ExcCodes.ILLEGAL_VALUE)
        try:
            return _run_now(request.datastore_update(self._context, unit.unit_id))
        except Exception:  # a bug here must cost one answer, never the server
            log.exception("asset_no=%s request failed", unit.asset_no)
            return ExceptionResponse(function_code, ExcCodes.DEVICE_FAILURE)
