"""The one module of the collectors that imports pymodbus: a Modbus TCP connection.

One ``ModbusConnection`` per host:port, shared by every unit id behind it (a gateway), and
the only owner of that socket's reconnects: pymodbus' own reconnect and retries are off, so a
dead gateway is retried on our schedule (backoff with jitter), once for all its devices —
devices behind it fail fast in between instead of each paying a connect timeout.

A unit that stopped answering behind a live gateway is probed over a second connection to
the same endpoint (``prober``), so its probes never hold the shared one for a whole timeout:
pymodbus serialises requests per connection, and a 1 s probe would stretch every neighbour's
1 s poll. A gateway that refuses a second connection gets its probes on the shared one again
(logged once).

pymodbus errors are mapped into the project's tree here (``map_result``), with a short
stable ``code`` for counters: ``timeout``, ``refused``, ``closed``, ``exception_<n>``,
``short``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from device_profiles.models import Table
from facility.backoff import backoff_s
from facility.errors import CommError, DeviceBusyError, ProtocolError

log = logging.getLogger(__name__)

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


_READERS = {
    Table.HOLDING: AsyncModbusTcpClient.read_holding_registers,
    Table.INPUT: AsyncModbusTcpClient.read_input_registers,
    Table.COIL: AsyncModbusTcpClient.read_coils,
    Table.DISCRETE: AsyncModbusTcpClient.read_discrete_inputs,
}


class ModbusCommError(CommError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class ModbusProtocolError(ProtocolError):
    @property
    def error_code(self) -> str:
        return f"exception_{self.code}" if self.code is not None else "short"


class ModbusBusyError(DeviceBusyError):
    code = "exception_6"


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
        self._client: AsyncModbusTcpClient | None = None
        self._failures = 0
        self._next_connect = 0.0
        self._lock = asyncio.Lock()
        self._prober: ModbusConnection | None = None
        self.second_connection_refused = False

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

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

    async def _ensure_connected(self) -> AsyncModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        now = time.monotonic()
        if now < self._next_connect:
            raise ModbusCommError(
                f"{self.name} unreachable; next connect attempt in "
                f"{self._next_connect - now:.1f} s",
                "refused",
            )
        client = AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=self.timeout_s,
            retries=0,
            reconnect_delay=0,  # we own reconnects
        )
        try:
            ok = await client.connect()
        except (OSError, ModbusException) as exc:
            ok = False
            log.debug("modbus endpoint=%s connect error: %s", self.name, exc)
        if not ok:
            client.close()
            self._failures += 1
            delay = backoff_s(self._failures, self.backoff_min_s, self.backoff_max_s)
            self._next_connect = time.monotonic() + delay
            raise ModbusCommError(f"cannot connect to {self.name}", "refused")
        if self._failures or self.requests:
            self.reconnects += 1
        self._failures = 0
        self._client = client
        return client

    async def read(self, unit_id: int, table: Table, address: int, count: int) -> list[int]:
        """Read ``count`` registers (or bits, as 0/1) of ``table`` at ``address``."""
        client = self._client
        if client is None or not client.connected:
            async with self._lock:  # one connect attempt for all the units behind it
                client = await self._ensure_connected()
        # pymodbus serialises requests on one connection itself (no pipelining)
        self.requests += 1
        try:
            result = await _READERS[table](client, address, count=count, device_id=unit_id)
        except ModbusIOException as exc:
            # timeout: the connection may now carry a late answer; pymodbus matches
            # transaction ids, so keep it open
            raise ModbusCommError(
                f"{self.name} unit {unit_id}: no answer within {self.timeout_s} s", "timeout"
            ) from exc
        except (ConnectionException, OSError) as exc:
            self._drop()
            raise ModbusCommError(f"{self.name}: connection lost: {exc}", "closed") from exc
        except ModbusException as exc:
            raise ModbusCommError(f"{self.name} unit {unit_id}: {exc}", "timeout") from exc
        return map_result(result, table, count, f"{self.name} unit {unit_id}")

    async def write_register(self, unit_id: int, address: int, values: list[int]) -> None:
        """Write holding registers (set-points, modes)."""
        async with self._lock:
            client = await self._ensure_connected()
            try:
                result = await client.write_registers(address, values, device_id=unit_id)
            except (ModbusException, OSError) as exc:
                raise ModbusCommError(
                    f"{self.name} unit {unit_id}: write failed: {exc}", "timeout"
                ) from exc
            map_result(result, Table.HOLDING, 0, f"{self.name} unit {unit_id}")

    async def write_coil(self, unit_id: int, address: int, value: bool) -> None:
        async with self._lock:
            client = await self._ensure_connected()
            try:
                result = await client.write_coil(address, value, device_id=unit_id)
            except (ModbusException, OSError) as exc:
                raise ModbusCommError(
                    f"{self.name} unit {unit_id}: write failed: {exc}", "timeout"
                ) from exc
            map_result(result, Table.COIL, 0, f"{self.name} unit {unit_id}")

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        """Close the socket (the next read reconnects), and the probe connection's."""
        self._drop()
        if self._prober is not None:
            self._prober.close()
            self._prober = None


def map_result(result: ModbusPDU, table: Table, count: int, where: str) -> list[int]:
    """A pymodbus response as plain values, or the project's error for it."""
    if isinstance(result, ExceptionResponse) or result.isError():
        code = int(getattr(result, "exception_code", 0) or 0)
        name = EXCEPTION_NAMES.get(code, "unknown exception")
        if code == 6:
            raise ModbusBusyError(f"{where}: exception 6 ({name})")
        raise ModbusProtocolError(f"{where}: exception {code} ({name})", code)
    if count == 0:
        return []
    if table.is_bit_table:
        bits = list(result.bits or [])
        if len(bits) < count:
            raise ModbusProtocolError(f"{where}: {len(bits)} bits in answer, asked {count}")
        return [int(b) for b in bits[:count]]
    registers = list(result.registers or [])
    if len(registers) < count:
        raise ModbusProtocolError(f"{where}: {len(registers)} registers in answer, asked {count}")
    return registers[:count]
