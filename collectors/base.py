"""The one interface every collector implements, whatever the protocol.

A *collector* owns one endpoint (a Modbus TCP host:port with its unit ids, an OPC UA server
with its assets' nodes): ``connect``, ``close``, usable as ``async with``, and it hands out one
``DeviceCollector`` per asset behind the endpoint. A device collector's ``collect`` reads the
points of the poll classes due now and returns plain ``Reading``s — never raises for a
device problem: failures come back as bad qualities plus an error code, so the poll loop
above stays protocol-free. Adding a protocol is a new folder plus one line in ``REGISTRY``
(``collectors/registry.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from device_profiles.models import DeviceProfile, PollClass
from facility.types import Asset, Reading


@dataclass(frozen=True, slots=True)
class Collected:
    """What one poll of one device produced."""

    readings: tuple[Reading, ...]
    rtt_ms: float  # time spent talking to the device for this poll
    requests: int  # requests (or service calls) this poll took
    error_code: str | None = None  # first failure's code (timeout, exception_4, ...)
    error: str | None = None  # its message, for the one log line
    failed_all: bool = False  # no point could be read: the device counts as down


class DeviceCollector(Protocol):
    """Reads one asset's points."""

    asset: Asset
    profile: DeviceProfile

    async def collect(self, classes: frozenset[PollClass]) -> Collected:
        """Read the points of ``classes``; failures become bad qualities, never exceptions."""
        ...


class Collector(Protocol):
    """One endpoint and the devices behind it."""

    name: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    def devices(self) -> Sequence[DeviceCollector]: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
