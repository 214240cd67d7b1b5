"""A Publish response's data changes read straight from the wire (OPC UA Part 6 binary).

asyncua decodes every notification through its generic decoder — a ``DataValue``, a
``Variant`` and a ``VariantType`` enum per value, field by field — which was the collector's
largest single cost at 4,000 notifications a second (``bench/peer_nodered_opcua.py``). This
decoder reads the common case in one pass into plain tuples: a ``PublishResponse`` with no
diagnostics, whose notification data are ``DataChangeNotification``s of scalar values of the
built-in types profiles use, without picoseconds. Anything else — a status change, an event,
an array, diagnostics, an unknown type, a short frame — raises ``Unusual`` and the caller
decodes the response with asyncua as before, so nothing that asyncua reads is lost here.

Pure: bytes in, tuples out; no asyncua types (tested against asyncua's own encoder).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# Node ids (namespace 0) of the binary encodings decoded here.
PUBLISH_RESPONSE = 829
DATA_CHANGE_NOTIFICATION = 811

_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)  # FILETIME zero, as asyncua returns it
_MAX_TICKS = 2_650_467_743_990_000_000  # 9999-12-31 23:59:59 (asyncua truncates there)
_MAX_DATETIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

_U8 = struct.Struct("<B").unpack_from
_U16 = struct.Struct("<H").unpack_from
_I32 = struct.Struct("<i").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I64 = struct.Struct("<q").unpack_from
_HEADER = struct.Struct("<qIIB").unpack_from  # Timestamp, RequestHandle, ServiceResult, diag
_ITEM = struct.Struct("<IB").unpack_from  # ClientHandle, DataValue encoding mask

# Variant type id -> (struct, size) of the scalar built-in types read here; 12 (String) apart.
_SCALARS: dict[int, tuple[struct.Struct, int]] = {
    1: (struct.Struct("<?"), 1),  # Boolean
    2: (struct.Struct("<b"), 1),  # SByte
    3: (struct.Struct("<B"), 1),  # Byte
    4: (struct.Struct("<h"), 2),  # Int16
    5: (struct.Struct("<H"), 2),  # UInt16
    6: (struct.Struct("<i"), 4),  # Int32
    7: (struct.Struct("<I"), 4),  # UInt32
    8: (struct.Struct("<q"), 8),  # Int64
    9: (struct.Struct("<Q"), 8),  # UInt64
    10: (struct.Struct("<f"), 4),  # Float
    11: (struct.Struct("<d"), 8),  # Double
}
_UNPACK = {type_id: (packer.unpack_from, size) for type_id, (packer, size) in _SCALARS.items()}
_STRING = 12

# DataValue encoding mask bits (Part 6, 5.2.2.17)
_HAS_VALUE, _HAS_STATUS, _HAS_SOURCE_TS, _HAS_SERVER_TS = 0x01, 0x02, 0x04, 0x08
_HAS_PICOSECONDS = 0x10 | 0x20

# (client handle, value, variant type id, status code, source timestamp, server timestamp)
Change = tuple[int, "bool | int | float | str | None", int, int, datetime | None, datetime | None]


class Unusual(Exception):
    """Outside the common case this decoder reads: decode the response with asyncua."""


@dataclass(slots=True)
class PublishChanges:
    """What a Publish response carries, with its data changes as ``Change`` tuples."""

    subscription_id: int
    available_sequence_numbers: list[int]
    more_notifications: bool
    sequence_number: int
    publish_ticks: int
    changes: list[Change] = field(default_factory=list)
    notification_count: int = 0  # DataChangeNotification objects (0: a keep-alive)


def to_datetime(ticks: int) -> datetime:
    """A FILETIME (100 ns since 1601, UTC) as asyncua decodes it."""
    if ticks >= _MAX_TICKS:
        return _MAX_DATETIME
    if ticks < 0:
        return _EPOCH
    return _EPOCH + timedelta(microseconds=ticks // 10)


def _skip_null_node_id(data: bytes, at: int) -> int:
    """Only the null node id (two-byte encoding, identifier 0) is expected here."""
    if data[at] != 0 or data[at + 1] != 0:
        raise Unusual("a non-null node id")
    return at + 2


def _expect_four_byte_node_id(data: bytes, at: int, identifier: int) -> int:
    if data[at] != 1 or data[at + 1] != 0 or _U16(data, at + 2)[0] != identifier:
        raise Unusual(f"not the node id i={identifier}")
    return at + 4


def _empty_array(data: bytes, at: int) -> int:
    (length,) = _I32(data, at)
    if length > 0:
        raise Unusual("diagnostics or a string table")
    return at + 4


def decode_publish_response(data: bytes) -> PublishChanges:
    """Decode a binary ``PublishResponse`` (from its type id on), or raise ``Unusual``.

    ``struct.error``/``IndexError`` on a frame shorter than it says are ``Unusual`` too.
    """
    try:
        return _decode(data)
    except (struct.error, IndexError) as exc:
        raise Unusual(f"short or malformed frame: {exc}") from None


def _decode(data: bytes) -> PublishChanges:
    at = _expect_four_byte_node_id(data, 0, PUBLISH_RESPONSE)
    _timestamp, _handle, service_result, diagnostics = _HEADER(data, at)
    if service_result or diagnostics:
        raise Unusual("a service result or diagnostics")
    at = _empty_array(data, at + 17)  # StringTable
    at = _skip_null_node_id(data, at)  # AdditionalHeader: an empty extension object
    if data[at] != 0:
        raise Unusual("an additional header")
    at += 1
    (subscription_id,) = _U32(data, at)
    (count,) = _I32(data, at + 4)
    at += 8
    available = list(struct.unpack_from(f"<{count}I", data, at)) if count > 0 else []
    at += 4 * max(count, 0)
    more = data[at] != 0
    (sequence_number,) = _U32(data, at + 1)
    (publish_ticks,) = _I64(data, at + 5)
    (notifications,) = _I32(data, at + 13)
    at += 17
    result = PublishChanges(subscription_id, available, more, sequence_number, publish_ticks)
    changes = result.changes
    for _ in range(max(notifications, 0)):
        at = _expect_four_byte_node_id(data, at, DATA_CHANGE_NOTIFICATION)
        if data[at] != 1:
            raise Unusual("an extension object without a binary body")
        (length,) = _I32(data, at + 1)
        at += 5
        end = at + length
        at = _data_changes(data, at, changes)
        at = _empty_array(data, at)  # the notification's DiagnosticInfos
        if at != end:
            raise Unusual("a notification longer than its items")
        result.notification_count += 1
    (results,) = _I32(data, at)  # acknowledgement results: asyncua does not look at them
    at += 4 + 4 * max(results, 0)
    at = _empty_array(data, at)  # DiagnosticInfos
    if at != len(data):
        raise Unusual("bytes after the response")
    return result


def _data_changes(data: bytes, at: int, changes: list[Change]) -> int:
    (count,) = _I32(data, at)
    at += 4
    unpack = _UNPACK
    # values of one device's change usually share their timestamps: convert each once
    source_ticks = server_ticks = -1
    source_memo = server_memo = _EPOCH
    for _ in range(max(count, 0)):
        handle, mask = _ITEM(data, at)
        at += 5
        if mask & _HAS_PICOSECONDS:
            raise Unusual("picoseconds")
        value: bool | int | float | str | None = None
        variant_type = 0
        if mask & _HAS_VALUE:
            encoding = data[at]
            at += 1
            if encoding & 0xC0:
                raise Unusual("an array value")
            if encoding in unpack:
                unpack_value, size = unpack[encoding]
                (value,) = unpack_value(data, at)
                at += size
                variant_type = encoding
            elif encoding == _STRING:
                (length,) = _I32(data, at)
                at += 4
                if length >= 0:
                    raw = data[at : at + length]
                    if len(raw) != length:
                        raise Unusual("a short string")
                    value = raw.decode("utf-8", errors="surrogateescape")
                    variant_type = _STRING
                    at += length
            elif encoding != 0:
                raise Unusual(f"variant type {encoding}")
        status = 0
        if mask & _HAS_STATUS:
            (status,) = _U32(data, at)
            at += 4
        source_ts = server_ts = None
        if mask & _HAS_SOURCE_TS:
            (ticks,) = _I64(data, at)
            if ticks != source_ticks:
                source_ticks, source_memo = ticks, to_datetime(ticks)
            source_ts = source_memo
            at += 8
        if mask & _HAS_SERVER_TS:
            (ticks,) = _I64(data, at)
            if ticks != server_ticks:
                server_ticks, server_memo = ticks, to_datetime(ticks)
            server_ts = server_memo
            at += 8
        changes.append((handle, value, variant_type, status, source_ts, server_ts))
    return at
