"""The collector's Modbus TCP framing against pymodbus' own PDU encoders and decoders (the
reference): the same request bytes, the same values out of the same answer, the same
exception codes; and anything else on the wire is one of the project's errors, never another
exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.framer import FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu import bit_message as bm
from pymodbus.pdu import register_message as rm

from collectors.modbus.framing import (
    FrameError,
    ModbusBusyError,
    ModbusProtocolError,
    encode_read,
    encode_write_coil,
    encode_write_registers,
    parse_read_response,
    parse_write_response,
    split_frames,
)
from device_profiles.models import Table
from tests.unit.fuzz_support import FUZZ, assert_one_line

REQUESTS: dict[Table, type[ModbusPDU]] = {
    Table.COIL: bm.ReadCoilsRequest,
    Table.DISCRETE: bm.ReadDiscreteInputsRequest,
    Table.HOLDING: rm.ReadHoldingRegistersRequest,
    Table.INPUT: rm.ReadInputRegistersRequest,
}
RESPONSES: dict[Table, type[ModbusPDU]] = {
    Table.COIL: bm.ReadCoilsResponse,
    Table.DISCRETE: bm.ReadDiscreteInputsResponse,
    Table.HOLDING: rm.ReadHoldingRegistersResponse,
    Table.INPUT: rm.ReadInputRegistersResponse,
}
TIDS = st.integers(0, 0xFFFF)
UNITS = st.integers(0, 255)
ADDRESSES = st.integers(0, 0xFFFF)
WHERE = "127.0.0.1:502 unit 1"


def frame_of(pdu: ModbusPDU) -> bytes:
    """pymodbus' Modbus TCP frame of a PDU (the reference encoder)."""
    return bytes(FramerSocket(DecodePDU(False)).buildFrame(pdu))


def pymodbus_decodes(frame: bytes) -> ModbusPDU | None:
    """pymodbus' decoding of one client-side frame (the reference decoder)."""
    _used, pdu = FramerSocket(DecodePDU(False)).handleFrame(frame, 0, 0)
    return pdu


def one_pdu(frame: bytes) -> tuple[int, bytes]:
    frames, rest = split_frames(frame)
    assert rest == b""
    assert len(frames) == 1
    return frames[0]


@st.composite
def reads(draw: st.DrawFn) -> tuple[Table, int, int, int, int]:
    table = draw(st.sampled_from(list(Table)))
    count = draw(st.integers(1, 2000 if table.is_bit_table else 125))
    return table, draw(TIDS), draw(UNITS), draw(ADDRESSES), count


@FUZZ
@given(reads())
def test_read_requests_are_pymodbus_bytes(read: tuple[Table, int, int, int, int]) -> None:
    table, tid, unit, address, count = read
    reference = REQUESTS[table](address=address, count=count, dev_id=unit, transaction_id=tid)
    assert encode_read(tid, unit, table, address, count) == frame_of(reference)


@FUZZ
@given(TIDS, UNITS, ADDRESSES, st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=123))
def test_register_writes_are_pymodbus_bytes(
    tid: int, unit: int, address: int, values: list[int]
) -> None:
    reference = rm.WriteMultipleRegistersRequest(
        address=address, registers=values, dev_id=unit, transaction_id=tid
    )
    request = encode_write_registers(tid, unit, address, values)
    assert request == frame_of(reference)
    answer = rm.WriteMultipleRegistersResponse(
        address=address, count=len(values), dev_id=unit, transaction_id=tid
    )
    assert one_pdu(frame_of(answer))[0] == tid
    parse_write_response(one_pdu(frame_of(answer))[1], request, WHERE)  # accepted


@FUZZ
@given(TIDS, UNITS, ADDRESSES, st.booleans())
def test_coil_writes_are_pymodbus_bytes(tid: int, unit: int, address: int, value: bool) -> None:
    reference = bm.WriteSingleCoilRequest(
        address=address, bits=[value], dev_id=unit, transaction_id=tid
    )
    request = encode_write_coil(tid, unit, address, value)
    assert request == frame_of(reference)
    answer = bm.WriteSingleCoilResponse(
        address=address, bits=[value], dev_id=unit, transaction_id=tid
    )
    parse_write_response(one_pdu(frame_of(answer))[1], request, WHERE)
    wrong = bm.WriteSingleCoilResponse(
        address=address, bits=[not value], dev_id=unit, transaction_id=tid
    )
    with pytest.raises(ModbusProtocolError, match="write answered"):
        parse_write_response(one_pdu(frame_of(wrong))[1], request, WHERE)


@FUZZ
@given(TIDS, UNITS, st.sampled_from([Table.HOLDING, Table.INPUT]), st.data())
def test_register_answers_read_as_pymodbus_reads_them(
    tid: int, unit: int, table: Table, data: st.DataObject
) -> None:
    registers = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125))
    count = data.draw(st.integers(1, len(registers)))
    frame = frame_of(RESPONSES[table](registers=registers, dev_id=unit, transaction_id=tid))
    reference = pymodbus_decodes(frame)
    assert reference is not None
    got_tid, pdu = one_pdu(frame)
    assert got_tid == reference.transaction_id == tid
    assert parse_read_response(pdu, table, count, WHERE) == list(reference.registers)[:count]


@FUZZ
@given(TIDS, UNITS, st.sampled_from([Table.COIL, Table.DISCRETE]), st.data())
def test_bit_answers_read_as_pymodbus_reads_them(
    tid: int, unit: int, table: Table, data: st.DataObject
) -> None:
    bits = data.draw(st.lists(st.booleans(), min_size=1, max_size=2000))
    count = data.draw(st.integers(1, len(bits)))
    frame = frame_of(RESPONSES[table](bits=bits, dev_id=unit, transaction_id=tid))
    reference = pymodbus_decodes(frame)
    assert reference is not None
    _tid, pdu = one_pdu(frame)
    expected = [int(b) for b in reference.bits[:count]]
    assert (
        parse_read_response(pdu, table, count, WHERE) == expected == [int(b) for b in bits][:count]
    )


@FUZZ
@given(TIDS, st.sampled_from(list(Table)), st.integers(1, 255))
def test_exception_answers_name_pymodbus_code(tid: int, table: Table, code: int) -> None:
    function = REQUESTS[table].function_code
    frame = frame_of(_exception_response(function, code, tid))
    reference = pymodbus_decodes(frame)
    assert isinstance(reference, ExceptionResponse)
    _tid, pdu = one_pdu(frame)
    error: ModbusProtocolError | ModbusBusyError
    with pytest.raises((ModbusProtocolError, ModbusBusyError)) as caught:
        parse_read_response(pdu, table, 1, WHERE)
    error = caught.value  # type: ignore[assignment]
    assert_one_line(str(error))
    if reference.exception_code == 6:
        assert isinstance(error, ModbusBusyError)
        assert error.code == "exception_6"
    else:
        assert isinstance(error, ModbusProtocolError)
        assert error.code == reference.exception_code
        assert error.error_code == f"exception_{code}"


def _exception_response(function: int, code: int, tid: int) -> ExceptionResponse:
    response = ExceptionResponse(function, code)
    response.transaction_id = tid
    response.dev_id = 1
    return response


@FUZZ
@given(st.lists(st.binary(min_size=0, max_size=40), max_size=6), st.data())
def test_a_stream_splits_the_same_however_it_arrives(
    payloads: list[bytes], data: st.DataObject
) -> None:
    """Frames cut out of a stream do not depend on how TCP segmented it."""
    stream = b"".join(
        (n).to_bytes(2, "big") + b"\x00\x00" + (len(p) + 2).to_bytes(2, "big") + b"\x01\x03" + p
        for n, p in enumerate(payloads)
    )
    whole, rest = split_frames(stream)
    assert rest == b""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    got: list[tuple[int, bytes]] = []
    buffer = b""
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        frames, buffer = split_frames(buffer + stream[start:end])
        got.extend(frames)
    assert buffer == b""
    assert got == whole == [(n, b"\x03" + p) for n, p in enumerate(payloads)]


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(list(Table)), st.integers(1, 125))
def test_anything_on_the_wire_is_a_value_or_a_clear_error(
    data: bytes, table: Table, count: int
) -> None:
    try:
        frames, _rest = split_frames(data)
    except FrameError as exc:
        assert_one_line(str(exc))
        return
    for _tid, pdu in frames:
        try:
            values = parse_read_response(pdu, table, count, WHERE)
        except (ModbusProtocolError, ModbusBusyError) as exc:
            assert_one_line(str(exc))
        else:
            assert len(values) == count
            assert all(0 <= v <= (1 if table.is_bit_table else 0xFFFF) for v in values)


# The manglings of the fault suite's corrupting proxy (tests/faults/harness.py), one by one.
ANSWER = frame_of(rm.ReadHoldingRegistersResponse(registers=[1, 2, 3], dev_id=1, transaction_id=7))


def test_a_length_that_lies_is_a_frame_error() -> None:
    with pytest.raises(FrameError, match="length 65535"):
        split_frames(ANSWER[:4] + b"\xff\xff" + ANSWER[6:])


def test_a_protocol_id_other_than_zero_is_a_frame_error() -> None:
    with pytest.raises(FrameError, match="protocol id 1"):
        split_frames(ANSWER[:2] + b"\x00\x01" + ANSWER[4:])


def test_a_truncated_frame_waits_for_its_rest() -> None:
    assert split_frames(ANSWER[: len(ANSWER) // 2]) == ([], ANSWER[: len(ANSWER) // 2])


def test_an_undefined_exception_code_is_named_by_its_number() -> None:
    _tid, pdu = one_pdu(ANSWER[:4] + b"\x00\x03" + ANSWER[6:7] + bytes([ANSWER[7] | 0x80, 0x7F]))
    with pytest.raises(ModbusProtocolError, match=r"exception 127 \(unknown exception\)"):
        parse_read_response(pdu, Table.HOLDING, 3, WHERE)


@pytest.mark.parametrize(
    ("pdu", "message"),
    [
        (b"\x03\x04\x00\x01\x00\x02", "2 registers in answer, asked 3"),
        (b"\x03\x08\x00\x01\x00\x02\x00\x03", "byte count 8 but 6 data bytes"),
        (b"\x03\x05\x00\x01\x00\x02\x00", "odd byte count 5"),
        (b"\x04\x06\x00\x01\x00\x02\x00\x03", "function 4 answered a function 3 read"),
        (b"\x83", "exception response without a code"),
        (b"\x03", "byte count - but 0 data bytes"),
    ],
)
def test_short_or_malformed_answers_are_protocol_errors(pdu: bytes, message: str) -> None:
    with pytest.raises(ModbusProtocolError, match=message) as caught:
        parse_read_response(pdu, Table.HOLDING, 3, WHERE)
    assert caught.value.error_code == "short"


def test_requests_out_of_modbus_limits_are_refused() -> None:
    with pytest.raises(ValueError, match=r"count 1\.\.125"):
        encode_read(1, 1, Table.HOLDING, 0, 126)
    with pytest.raises(ValueError, match=r"count 1\.\.2000"):
        encode_read(1, 1, Table.COIL, 0, 0)
    with pytest.raises(ValueError, match=r"1\.\.123"):
        encode_write_registers(1, 1, 0, [0] * 124)
