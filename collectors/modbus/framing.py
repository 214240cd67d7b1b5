"""Modbus TCP framing for the collector (pure): requests out, answers in, errors named.

The collector speaks Modbus TCP through its own small protocol
(``collectors.modbus.transport``) instead of pymodbus' client, whose transaction manager and
per-request ``wait_for`` cost more CPU than the rest of a poll put together
(docs/decisions/009-modbus-read-framing.md). This module holds the pure half:

- ``encode_read``: an FC1-FC4 read request frame (MBAP header + PDU);
  ``encode_write_registers`` (FC16) and ``encode_write_coil`` (FC5) for writes.
- ``split_frames``: cut complete frames out of the received bytes; a header that cannot be a
  Modbus TCP frame (protocol id other than 0, impossible length) is ``FrameError``: the
  stream cannot be resynchronised, the caller closes the connection.
- ``parse_read_response`` / ``parse_write_response``: a response PDU as plain values, or the
  project's error for it — ``ModbusProtocolError`` (exception responses, short or malformed
  PDUs: the device answered), ``ModbusBusyError`` (exception 6).

Error codes, short and stable, for counters: ``timeout``, ``refused``, ``closed``,
``exception_<n>``, ``short`` (an answer that is not what was asked: too few registers, a
byte count that does not match, another function code).

Tested against pymodbus' own PDU encoders and decoders (tests/unit/test_modbus_framing.py).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from device_profiles.models import Table
from facility.errors import CommError, DeviceBusyError, ProtocolError

# Modbus exception codes, for messages a technician can act on.
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

READ_FUNCTION = {Table.COIL: 1, Table.DISCRETE: 2, Table.HOLDING: 3, Table.INPUT: 4}
MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
MAX_WRITE_REGISTERS = 123
MAX_PDU = 253  # the MBAP length field counts the unit id too: at most 254
MBAP_SIZE = 7  # transaction id, protocol id, length, unit id

_READ = struct.Struct(">HHHBBHH")
_HEADER = struct.Struct(">HHH")
_WRITE_COIL = struct.Struct(">HHHBBHH")
_WRITE_MULTI = struct.Struct(">HHHBBHHB")
_ECHO = struct.Struct(">HH")
_WORDS: dict[int, struct.Struct] = {}


class ModbusCommError(CommError):
    """No usable answer: ``code`` is ``timeout``, ``refused`` or ``closed``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class ModbusProtocolError(ProtocolError):
    """The device answered, with an exception code (``code``) or a malformed PDU (None)."""

    @property
    def error_code(self) -> str:
        return f"exception_{self.code}" if self.code is not None else "short"


class ModbusBusyError(DeviceBusyError):
    code = "exception_6"


class FrameError(ValueError):
    """Bytes that cannot be a Modbus TCP frame: the stream is out of step."""


def encode_read(transaction_id: int, unit_id: int, table: Table, address: int, count: int) -> bytes:
    """The frame of a read of ``count`` registers (or bits) of ``table`` at ``address``."""
    limit = MAX_READ_BITS if table.is_bit_table else MAX_READ_REGISTERS
    if not 1 <= count <= limit or not 0 <= address <= 0xFFFF:
        raise ValueError(f"read of {count} at {address}: count 1..{limit}, address 0..65535")
    return _READ.pack(transaction_id, 0, 6, unit_id, READ_FUNCTION[table], address, count)


def encode_write_registers(
    transaction_id: int, unit_id: int, address: int, values: Sequence[int]
) -> bytes:
    """The frame of an FC16 write of ``values`` (16-bit words) at ``address``."""
    count = len(values)
    if not 1 <= count <= MAX_WRITE_REGISTERS or not 0 <= address <= 0xFFFF:
        raise ValueError(f"write of {count} registers at {address}: 1..{MAX_WRITE_REGISTERS}")
    header = _WRITE_MULTI.pack(
        transaction_id, 0, 7 + 2 * count, unit_id, 16, address, count, 2 * count
    )
    return header + struct.pack(f">{count}H", *(v & 0xFFFF for v in values))


def encode_write_coil(transaction_id: int, unit_id: int, address: int, value: bool) -> bytes:
    """The frame of an FC5 write of one coil."""
    if not 0 <= address <= 0xFFFF:
        raise ValueError(f"coil address {address}: 0..65535")
    return _WRITE_COIL.pack(transaction_id, 0, 6, unit_id, 5, address, 0xFF00 if value else 0)


def split_frames(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The complete frames at the start of ``buffer`` as ``(transaction id, PDU)`` (the PDU
    from its function code on), and the bytes left over (a frame not complete yet).
    FrameError if a header cannot be Modbus TCP (protocol id not 0, length not 2..254)."""
    frames: list[tuple[int, bytes]] = []
    offset = 0
    size = len(buffer)
    while size - offset >= MBAP_SIZE:
        tid, protocol, length = _HEADER.unpack_from(buffer, offset)
        if protocol != 0:
            raise FrameError(f"protocol id {protocol}, expected 0")
        if not 2 <= length <= MAX_PDU + 1:
            raise FrameError(f"length {length}, expected 2..{MAX_PDU + 1}")
        end = offset + 6 + length
        if end > size:
            break
        frames.append((tid, buffer[offset + MBAP_SIZE : end]))
        offset = end
    return frames, buffer[offset:]


def _exception(pdu: bytes, where: str) -> ModbusProtocolError | ModbusBusyError:
    if len(pdu) < 2:
        return ModbusProtocolError(f"{where}: exception response without a code")
    code = pdu[1]
    name = EXCEPTION_NAMES.get(code, "unknown exception")
    if code == 6:
        return ModbusBusyError(f"{where}: exception 6 ({name})")
    return ModbusProtocolError(f"{where}: exception {code} ({name})", code)


def parse_read_response(pdu: bytes, table: Table, count: int, where: str) -> list[int]:
    """The ``count`` registers (or bits, as 0/1) of a read response PDU, or its error."""
    function = READ_FUNCTION[table]
    if not pdu:
        raise ModbusProtocolError(f"{where}: empty answer")
    if pdu[0] != function:
        if pdu[0] == function | 0x80:
            raise _exception(pdu, where)
        raise ModbusProtocolError(f"{where}: function {pdu[0]} answered a function {function} read")
    if len(pdu) < 2 or pdu[1] != len(pdu) - 2:
        raise ModbusProtocolError(
            f"{where}: byte count {pdu[1] if len(pdu) > 1 else '-'} but {max(len(pdu) - 2, 0)}"
            " data bytes in answer"
        )
    if table.is_bit_table:
        if pdu[1] * 8 < count:
            raise ModbusProtocolError(f"{where}: {pdu[1] * 8} bits in answer, asked {count}")
        return [(pdu[2 + (i >> 3)] >> (i & 7)) & 1 for i in range(count)]
    if pdu[1] & 1:
        raise ModbusProtocolError(f"{where}: odd byte count {pdu[1]} in a register answer")
    if pdu[1] < 2 * count:
        raise ModbusProtocolError(f"{where}: {pdu[1] // 2} registers in answer, asked {count}")
    words = _WORDS.get(count)
    if words is None:
        words = _WORDS[count] = struct.Struct(f">{count}H")
    return list(words.unpack_from(pdu, 2))


def parse_write_response(pdu: bytes, request: bytes, where: str) -> None:
    """Check a write's answer: the echo of the request's function, address and value (FC5)
    or count (FC16); else its error. ``request`` is the request frame."""
    function = request[MBAP_SIZE]
    if not pdu:
        raise ModbusProtocolError(f"{where}: empty answer")
    if pdu[0] == function | 0x80:
        raise _exception(pdu, where)
    if pdu[0] != function or len(pdu) != 5:
        raise ModbusProtocolError(f"{where}: not the answer to a function {function} write")
    asked = _ECHO.unpack_from(request, MBAP_SIZE + 1)
    echoed = _ECHO.unpack_from(pdu, 1)
    if echoed != asked:
        raise ModbusProtocolError(f"{where}: write answered {echoed}, asked {asked}")
