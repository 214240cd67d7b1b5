"""Modbus request planner: the fewest requests that read a device's points.

Pure function over plain data (no I/O), table-tested. Points are grouped by table, sorted by
address and merged into blocks while the gap between them is at most ``max_gap`` registers
(reading a few unused registers is cheaper than another round trip: a request costs about
0.12 ms of client CPU whatever its size) and the block stays within the per-request maximum
(125 registers / 2000 bits by the protocol, lower where the profile says so). Devices that
cannot take multi-point requests get one request per point (``one_request_per_point``).

A value is never split across two requests: a point wider than the per-request maximum is a
configuration error, reported with the point's name.

Real devices have limits their profile does not say: some answer exception 3 (illegal data
value) above N registers per request, some exception 2 (illegal data address) when a request
spans unmapped registers. The collector learns them at runtime (``learn``, pure: split the
block, stop bridging that gap) and the planner honours what was learned (``LearnedLimits``);
a profile with ``strict_gaps: true`` never bridges a gap in the first place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from device_profiles.models import ModbusDefaults, Point, Table
from facility.errors import ConfigError

PROTOCOL_MAX_REGISTERS = 125
PROTOCOL_MAX_BITS = 2000


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus read: ``count`` registers (or bits) of ``table`` from ``address``.

    ``points`` are the names of the points the block carries, in address order.
    """

    table: Table
    address: int
    count: int
    points: tuple[str, ...]

    @property
    def end(self) -> int:
        return self.address + self.count - 1


@dataclass(frozen=True, slots=True)
class Gap:
    """Registers (or bits) between two points that the device refused to be read across."""

    table: Table
    first: int
    last: int

    def overlaps(self, table: Table, first: int, last: int) -> bool:
        return table is self.table and first <= self.last and last >= self.first


@dataclass(frozen=True, slots=True)
class LearnedLimits:
    """What a device taught the collector at runtime (on top of its profile's limits).

    ``max_registers``/``max_bits``: the largest request the device answered after refusing a
    larger one with exception 3; ``gaps``: unmapped ranges a request must not span (refused
    with exception 2).
    """

    max_registers: int | None = None
    max_bits: int | None = None
    gaps: frozenset[Gap] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return self.max_registers is None and self.max_bits is None and not self.gaps

    def bridges_refused_gap(self, table: Table, first: int, last: int) -> bool:
        """True if reading ``first..last`` of ``table`` would span a gap the device refused."""
        return any(gap.overlaps(table, first, last) for gap in self.gaps)

    def describe(self) -> str:
        """One line for ``facility collect plan`` and the log."""
        parts: list[str] = []
        if self.max_registers is not None:
            parts.append(f"at most {self.max_registers} registers per request")
        if self.max_bits is not None:
            parts.append(f"at most {self.max_bits} bits per request")
        for gap in sorted(self.gaps, key=lambda g: (g.table.value, g.first)):
            parts.append(f"no read across {gap.table.value} {gap.first}-{gap.last}")
        return "; ".join(parts) or "nothing"


NOTHING_LEARNED = LearnedLimits()


def request_limit(
    table: Table, limits: ModbusDefaults, learned: LearnedLimits = NOTHING_LEARNED
) -> int:
    """Largest count one request of this table may carry on this device."""
    if table.is_bit_table:
        limit = min(limits.max_bits_per_request, PROTOCOL_MAX_BITS)
        return min(limit, learned.max_bits) if learned.max_bits is not None else limit
    limit = min(limits.max_registers_per_request, PROTOCOL_MAX_REGISTERS)
    return min(limit, learned.max_registers) if learned.max_registers is not None else limit


def plan_requests(
    points: Iterable[Point],
    limits: ModbusDefaults,
    learned: LearnedLimits = NOTHING_LEARNED,
) -> list[ReadRequest]:
    """Plan the reads for ``points`` (Modbus points only) within the device's ``limits``
    and what it taught at runtime (``learned``).

    Requests come out ordered by table (coil, discrete, holding, input) then address, so a
    device is always read in the same order.
    """
    table_order = {table: rank for rank, table in enumerate(Table)}
    spans = sorted(
        ((p.modbus.table, p.modbus.address, p.modbus.end, p.name) for p in points if p.modbus),
        key=lambda span: (table_order[span[0]], span[1], span[2], span[3]),
    )
    requests: list[ReadRequest] = []
    current: tuple[Table, int, int, list[str]] | None = None
    for table, start, end, name in spans:
        limit = request_limit(table, limits, learned)
        if end - start + 1 > limit:
            raise ConfigError(
                f"point {name}: {end - start + 1} {'bits' if table.is_bit_table else 'registers'}"
                f" do not fit in one request (device maximum {limit}); a value cannot be split"
            )
        if current is not None:
            c_table, c_start, c_end, c_names = current
            gap = start - c_end - 1
            new_end = max(c_end, end)
            fits = new_end - c_start + 1 <= limit
            if (
                not limits.one_request_per_point
                and c_table is table
                and gap <= (0 if limits.strict_gaps else limits.max_gap)
                and fits
                and not (gap > 0 and learned.bridges_refused_gap(table, c_end + 1, start - 1))
            ):
                current = (c_table, c_start, new_end, [*c_names, name])
                continue
            requests.append(_request(current))
        current = (table, start, end, [name])
    if current is not None:
        requests.append(_request(current))
    return requests


def _request(block: tuple[Table, int, int, list[str]]) -> ReadRequest:
    table, start, end, names = block
    return ReadRequest(table, start, end - start + 1, tuple(names))


def learn(
    request: ReadRequest,
    exception_code: int | None,
    spans: Mapping[str, tuple[int, int]],
    limits: ModbusDefaults,
    learned: LearnedLimits,
) -> LearnedLimits | None:
    """What a refused multi-point request teaches, or None when it teaches nothing.

    ``spans`` gives each point's first and last address. Exception 3 (illegal data value) to a
    block of several points: the device takes fewer per request — halve the block (never
    below its widest point); the next refusal halves again. Exception 2 (illegal data
    address) to a block spanning a gap: the gap nearest the block's middle is not to be
    read across any more (halving again if the halves still fail). A block of one point, or
    another exception, teaches nothing: that failure is the device's answer.
    """
    if len(request.points) < 2 or exception_code not in (2, 3):
        return None
    if exception_code == 3:
        widest = max(spans[name][1] - spans[name][0] + 1 for name in request.points)
        smaller = max(request.count // 2, widest)
        if smaller >= min(request.count, request_limit(request.table, limits, learned)):
            return None
        if request.table.is_bit_table:
            return replace(learned, max_bits=smaller)
        return replace(learned, max_registers=smaller)
    gaps: list[Gap] = []
    reach = -1
    for first, last in sorted(spans[name] for name in request.points):
        if reach >= 0 and first > reach + 1:
            gaps.append(Gap(request.table, reach + 1, first - 1))
        reach = max(reach, last)
    if not gaps:
        return None
    middle = request.address + request.count / 2
    chosen = min(gaps, key=lambda g: abs((g.first + g.last) / 2 - middle))
    return replace(learned, gaps=learned.gaps | {chosen})
