"""The collector's own Modbus TCP connection on a real socket to the project's simulator:
reads and writes, and what hostile answers become — a late answer matched by its transaction
id and dropped, an answer with someone else's transaction id ignored, a frame that cannot be
Modbus TCP closing the connection (the next request reconnects), an exception code that does
not exist named by its number. A small relay between the two mangles the simulator's answers
the way the fault suite's corrupting proxy does (tests/faults/harness.py), one way at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from collectors.modbus.framing import ModbusBusyError, ModbusCommError, ModbusProtocolError
from collectors.modbus.transport import ModbusConnection
from device_profiles.loader import parse_profile
from device_profiles.models import DeviceProfile, Table
from facility.types import PointValue
from simulators.modbus_server import ModbusGateway

PROFILE = """
schema_version: 1
id: transport-test
device_class: PMP
vendor: Test
model: three registers and a coil
label: {en: Test, zh: 测试}
protocol: modbus
modbus: {order: ABCD}
poll_periods_s: {fast: 1, normal: 5, slow: 60}
points:
  - {name: r0, label: {en: r0, zh: r0}, unit: '',
     modbus: {table: holding, address: 0, type: uint16}}
  - {name: r1, label: {en: r1, zh: r1}, unit: '',
     modbus: {table: holding, address: 1, type: uint16}}
  - {name: sp, label: {en: sp, zh: sp}, unit: '', access: read_write,
     modbus: {table: holding, address: 2, type: uint16}}
  - {name: cmd, label: {en: cmd, zh: cmd}, unit: '', access: read_write,
     modbus: {table: coil, address: 0, type: bool}}
"""
TIMEOUT_S = 0.3
Mangle = Callable[[bytes], bytes]


def profile() -> DeviceProfile:
    parsed, issues = parse_profile(PROFILE, "transport-test.yaml")
    assert parsed is not None, issues
    return parsed


@dataclass
class Relay:
    """Client ⇄ simulator; the simulator's answers pass through ``mangle`` (or are held for
    ``delay_s``)."""

    target: int
    mangle: Mangle | None = None
    delay_s: float = 0.0
    accepted: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._client, "127.0.0.1", 0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._pipe(reader, up_writer, answers=False))
                group.create_task(self._pipe(up_reader, writer, answers=True))
        except* (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()
            self.tasks.discard(task)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, answers: bool
    ) -> None:
        while data := await reader.read(65536):
            if answers and self.delay_s:
                await asyncio.sleep(self.delay_s)
            if answers and self.mangle is not None:
                data = self.mangle(data)
            writer.write(data)
            await writer.drain()
        writer.close()


@dataclass
class Bench:
    relay: Relay
    connection: ModbusConnection
    writes: list[tuple[str, PointValue]]


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    writes: list[tuple[str, PointValue]] = []
    gateway = ModbusGateway("127.0.0.1", 0, name="transport-test")
    gateway.add_device(1, "TT-PMP-001", profile(), lambda name, value: writes.append((name, value)))
    gateway.update(1, {"r0": 11, "r1": 22, "sp": 33, "cmd": False})
    await gateway.start()
    relay = Relay(gateway.port)
    server = await relay.serve()
    port = server.sockets[0].getsockname()[1]
    connection = ModbusConnection("127.0.0.1", port, timeout_s=TIMEOUT_S)
    try:
        yield Bench(relay, connection, writes)
    finally:
        connection.close()
        server.close()
        for task in list(relay.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*relay.tasks, return_exceptions=True)
        await server.wait_closed()
        await gateway.stop()


async def test_reads_and_writes(bench: Bench) -> None:
    connection = bench.connection
    assert await connection.read(1, Table.HOLDING, 0, 3) == [11, 22, 33]
    await connection.write_register(1, 2, [44])
    await connection.write_coil(1, 0, True)
    assert bench.writes == [("sp", 44), ("cmd", True)]
    assert await connection.read(1, Table.HOLDING, 2, 1) == [44]
    assert await connection.read(1, Table.COIL, 0, 1) == [1]
    with pytest.raises(ModbusProtocolError, match="exception 2") as refused:
        await connection.write_register(1, 0, [1])  # read-only
    assert refused.value.error_code == "exception_2"
    with pytest.raises(ModbusProtocolError, match="exception 2"):
        await connection.read(1, Table.HOLDING, 0, 10)  # beyond the map
    assert connection.reconnects == 0


async def test_units_behind_one_connection_queue_one_request_at_a_time(bench: Bench) -> None:
    results = await asyncio.gather(
        *(bench.connection.read(1, Table.HOLDING, i % 3, 1) for i in range(30))
    )
    assert results == [[[11, 22, 33][i % 3]] for i in range(30)]
    assert bench.relay.accepted == 1


async def test_a_late_answer_is_dropped_and_the_connection_kept(bench: Bench) -> None:
    connection = bench.connection
    assert await connection.read(1, Table.HOLDING, 0, 1) == [11]
    bench.relay.delay_s = TIMEOUT_S * 2
    with pytest.raises(ModbusCommError, match="no answer within") as late:
        await connection.read(1, Table.HOLDING, 0, 1)
    assert late.value.code == "timeout"
    assert connection.connected  # a timeout keeps the connection
    bench.relay.delay_s = 0.0
    await asyncio.sleep(TIMEOUT_S * 2)  # the late answer (r0 = 11) arrives meanwhile
    assert await connection.read(1, Table.HOLDING, 1, 1) == [22]  # not the late [11]
    assert connection.reconnects == 0
    assert bench.relay.accepted == 1


async def test_an_answer_with_another_transaction_id_is_ignored(bench: Bench) -> None:
    connection = bench.connection
    bench.relay.mangle = lambda data: (
        (int.from_bytes(data[:2], "big") ^ 0x5A5A).to_bytes(2, "big") + data[2:]
    )
    with pytest.raises(ModbusCommError, match="no answer within"):
        await connection.read(1, Table.HOLDING, 0, 1)
    bench.relay.mangle = None
    assert await connection.read(1, Table.HOLDING, 0, 2) == [11, 22]


@pytest.mark.parametrize(
    ("mangle", "expect"),
    [
        (lambda data: data[:4] + b"\xff\xff" + data[6:], "length 65535"),
        (lambda data: data[:2] + b"\x12\x34" + data[4:], "protocol id 4660"),
        (lambda data: data[: len(data) // 2], "no answer within"),
    ],
    ids=["length that lies", "protocol id", "truncated"],
)
async def test_a_frame_out_of_step_closes_the_connection_and_the_next_read_reconnects(
    bench: Bench, mangle: Mangle, expect: str
) -> None:
    connection = bench.connection
    assert await connection.read(1, Table.HOLDING, 0, 1) == [11]
    bench.relay.mangle = mangle
    with pytest.raises(ModbusCommError, match=expect):
        await connection.read(1, Table.HOLDING, 0, 3)
    bench.relay.mangle = None
    assert await connection.read(1, Table.HOLDING, 0, 3) == [11, 22, 33]
    assert connection.reconnects == 1
    assert bench.relay.accepted == 2


async def test_exception_codes_that_do_not_exist_and_busy(bench: Bench) -> None:
    connection = bench.connection

    def exception(code: int) -> Mangle:
        return lambda data: data[:4] + b"\x00\x03" + data[6:7] + bytes([data[7] | 0x80, code])

    bench.relay.mangle = exception(0x7F)
    with pytest.raises(ModbusProtocolError, match=r"exception 127 \(unknown exception\)") as odd:
        await connection.read(1, Table.HOLDING, 0, 3)
    assert odd.value.error_code == "exception_127"
    bench.relay.mangle = exception(6)
    with pytest.raises(ModbusBusyError, match="busy"):
        await connection.read(1, Table.HOLDING, 0, 3)
    bench.relay.mangle = None
    assert await connection.read(1, Table.HOLDING, 0, 3) == [11, 22, 33]
    assert connection.reconnects == 0


async def test_a_closed_endpoint_is_refused_then_retried_after_its_backoff(bench: Bench) -> None:
    dead = ModbusConnection("127.0.0.1", 9, timeout_s=TIMEOUT_S, backoff_min_s=0.2)
    with pytest.raises(ModbusCommError, match="cannot connect") as first:
        await dead.read(1, Table.HOLDING, 0, 1)
    assert first.value.code == "refused"
    with pytest.raises(ModbusCommError, match="next connect attempt in"):
        await dead.read(1, Table.HOLDING, 0, 1)
    dead.close()
