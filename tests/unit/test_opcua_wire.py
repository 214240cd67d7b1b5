"""collectors.opcua.wire against asyncua's own binary encoder and decoder: what the wire
decoder reads, it reads exactly as asyncua does; what it does not read, it refuses
(``Unusual``), so the session hands the response to asyncua."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary
from hypothesis import given
from hypothesis import strategies as st

from collectors.opcua.wire import Unusual, decode_publish_response, to_datetime
from tests.unit.fuzz_support import FUZZ

V = ua.VariantType
SCALARS: dict[ua.VariantType, st.SearchStrategy[Any]] = {
    V.Boolean: st.booleans(),
    V.SByte: st.integers(-(2**7), 2**7 - 1),
    V.Byte: st.integers(0, 2**8 - 1),
    V.Int16: st.integers(-(2**15), 2**15 - 1),
    V.UInt16: st.integers(0, 2**16 - 1),
    V.Int32: st.integers(-(2**31), 2**31 - 1),
    V.UInt32: st.integers(0, 2**32 - 1),
    V.Int64: st.integers(-(2**63), 2**63 - 1),
    V.UInt64: st.integers(0, 2**64 - 1),
    V.Float: st.floats(width=32, allow_nan=False),
    V.Double: st.floats(allow_nan=False),
    V.String: st.text(max_size=12),
}
TIMESTAMPS = st.none() | st.datetimes(
    min_value=datetime(1601, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 10 * 10))
STATUSES = st.none() | st.sampled_from(
    [0, 0x8005_0000, 0x8034_0000, 0x4094_0000, 0x0000_0480, 0x8000_0480]
)


@st.composite
def data_values(draw: st.DrawFn) -> ua.DataValue:
    kind = draw(st.sampled_from([None, V.Null, *SCALARS]))
    variant = None
    if kind is V.Null:
        variant = ua.Variant()
    elif kind is not None:
        variant = ua.Variant(draw(SCALARS[kind]), kind)
    status = draw(STATUSES)
    data_value = ua.DataValue(
        variant,
        SourceTimestamp=draw(TIMESTAMPS),
        ServerTimestamp=draw(TIMESTAMPS),
    )
    if status is None:
        data_value.StatusCode = None
    else:
        data_value.StatusCode = ua.StatusCode(status)
    return data_value


def response(
    notifications: list[list[tuple[int, ua.DataValue]]],
    *,
    subscription_id: int = 7,
    sequence_number: int = 42,
    available: list[int] | None = None,
) -> bytes:
    publish = ua.PublishResponse()
    publish.Parameters.SubscriptionId = subscription_id
    publish.Parameters.AvailableSequenceNumbers = available or []
    publish.Parameters.NotificationMessage.SequenceNumber = sequence_number
    publish.Parameters.NotificationMessage.PublishTime = datetime(2026, 6, 1, tzinfo=UTC)
    publish.Parameters.NotificationMessage.NotificationData = [
        ua.DataChangeNotification(
            MonitoredItems=[
                ua.MonitoredItemNotification(ClientHandle=handle, Value=value)
                for handle, value in items
            ]
        )
        for items in notifications
    ]
    publish.Parameters.Results = [ua.StatusCode(0)]
    return struct_to_binary(publish)


def as_asyncua_reads(data: bytes) -> list[tuple[Any, ...]]:
    """The changes as asyncua decodes them, in the wire decoder's tuple form."""
    decoded = struct_from_binary(ua.PublishResponse, Buffer(data))
    changes = []
    for notification in decoded.Parameters.NotificationMessage.NotificationData:
        for item in notification.MonitoredItems:
            value = item.Value
            variant = value.Value
            has_value = variant is not None and variant.Value is not None
            changes.append(
                (
                    item.ClientHandle,
                    variant.Value if has_value else None,
                    variant.VariantType.value if has_value else 0,
                    value.StatusCode.value if value.StatusCode is not None else 0,
                    value.SourceTimestamp,
                    value.ServerTimestamp,
                )
            )
    return changes


@FUZZ
@given(
    notifications=st.lists(
        st.lists(st.tuples(st.integers(0, 2**32 - 1), data_values()), max_size=8), max_size=3
    ),
    subscription_id=st.integers(1, 2**32 - 1),
    sequence_number=st.integers(0, 2**32 - 1),
    available=st.lists(st.integers(0, 2**32 - 1), max_size=4),
)
def test_reads_what_asyncua_reads(
    notifications: list[list[tuple[int, ua.DataValue]]],
    subscription_id: int,
    sequence_number: int,
    available: list[int],
) -> None:
    data = response(
        notifications,
        subscription_id=subscription_id,
        sequence_number=sequence_number,
        available=available,
    )
    decoded = decode_publish_response(data)
    assert decoded.changes == as_asyncua_reads(data)
    assert [type(c[1]) for c in decoded.changes] == [type(c[1]) for c in as_asyncua_reads(data)]
    assert decoded.subscription_id == subscription_id
    assert decoded.sequence_number == sequence_number
    assert decoded.available_sequence_numbers == available
    assert decoded.notification_count == len(notifications)
    reference = struct_from_binary(ua.PublishResponse, Buffer(data)).Parameters
    assert decoded.more_notifications == reference.MoreNotifications


def test_a_keep_alive_has_no_notification() -> None:
    decoded = decode_publish_response(response([]))
    assert (decoded.notification_count, decoded.changes) == (0, [])


def test_timestamps_shared_by_values_are_the_same_moment() -> None:
    moment = datetime(2026, 6, 1, 12, 0, 0, 123450, tzinfo=UTC)
    items = [(n, ua.DataValue(ua.Variant(float(n)), SourceTimestamp=moment)) for n in range(3)]
    decoded = decode_publish_response(response([items]))
    assert [c[4] for c in decoded.changes] == [moment] * 3


@pytest.mark.parametrize(
    ("ticks", "expected"),
    [
        (0, datetime(1601, 1, 1, tzinfo=UTC)),
        (-5, datetime(1601, 1, 1, tzinfo=UTC)),
        (10**18, datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=10**17)),
        (2**63 - 1, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_timestamps_at_the_edges_as_asyncua(ticks: int, expected: datetime) -> None:
    assert to_datetime(ticks) == expected == ua.win_epoch_to_datetime(ticks)


def _unusual(publish: ua.PublishResponse) -> None:
    with pytest.raises(Unusual):
        decode_publish_response(struct_to_binary(publish))


def test_an_array_value_is_left_to_asyncua() -> None:
    publish = ua.PublishResponse()
    value = ua.DataValue(ua.Variant([1.0, 2.0], V.Double))
    publish.Parameters.NotificationMessage.NotificationData = [
        ua.DataChangeNotification(MonitoredItems=[ua.MonitoredItemNotification(1, value)])
    ]
    _unusual(publish)


@pytest.mark.parametrize(
    "variant",
    [
        ua.Variant(datetime(2026, 6, 1, tzinfo=UTC), V.DateTime),
        ua.Variant(b"\x01", V.ByteString),
        ua.Variant(ua.NodeId(5), V.NodeId),
        ua.Variant(ua.LocalizedText("x"), V.LocalizedText),
    ],
)
def test_other_types_are_left_to_asyncua(variant: ua.Variant) -> None:
    publish = ua.PublishResponse()
    publish.Parameters.NotificationMessage.NotificationData = [
        ua.DataChangeNotification(
            MonitoredItems=[ua.MonitoredItemNotification(1, ua.DataValue(variant))]
        )
    ]
    _unusual(publish)


def test_picoseconds_are_left_to_asyncua() -> None:
    publish = ua.PublishResponse()
    value = ua.DataValue(
        ua.Variant(1.0), SourceTimestamp=datetime(2026, 6, 1, tzinfo=UTC), SourcePicoseconds=5
    )
    publish.Parameters.NotificationMessage.NotificationData = [
        ua.DataChangeNotification(MonitoredItems=[ua.MonitoredItemNotification(1, value)])
    ]
    _unusual(publish)


def test_a_status_change_is_left_to_asyncua() -> None:
    publish = ua.PublishResponse()
    publish.Parameters.NotificationMessage.NotificationData = [
        ua.StatusChangeNotification(Status=ua.StatusCode(ua.StatusCodes.BadTimeout))
    ]
    _unusual(publish)


def test_events_are_left_to_asyncua() -> None:
    publish = ua.PublishResponse()
    publish.Parameters.NotificationMessage.NotificationData = [
        ua.EventNotificationList(Events=[ua.EventFieldList(ClientHandle=1, EventFields=[])])
    ]
    _unusual(publish)


def test_diagnostics_are_left_to_asyncua() -> None:
    publish = ua.PublishResponse()
    publish.Parameters.DiagnosticInfos = [ua.DiagnosticInfo(SymbolicId=1)]
    _unusual(publish)
    publish = ua.PublishResponse()
    publish.ResponseHeader.StringTable = ["x"]
    _unusual(publish)


def test_another_response_is_refused() -> None:
    with pytest.raises(Unusual):
        decode_publish_response(struct_to_binary(ua.ReadResponse()))


def test_every_truncation_is_refused() -> None:
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    items = [
        (1, ua.DataValue(ua.Variant(2.5), SourceTimestamp=moment, ServerTimestamp=moment)),
        (2, ua.DataValue(ua.Variant("level"))),
    ]
    data = response([items])
    decode_publish_response(data)
    for end in range(len(data)):
        with pytest.raises(Unusual):
            decode_publish_response(data[:end])


@FUZZ
@given(st.binary(max_size=200))
def test_garbage_is_refused_never_crashes(data: bytes) -> None:
    _read_or_refused(data)


@FUZZ
@given(st.data())
def test_a_flipped_byte_is_read_or_refused(data: st.DataObject) -> None:
    items = [(n, ua.DataValue(ua.Variant(n, V.Int32))) for n in range(3)]
    frame = bytearray(response([items]))
    at = data.draw(st.integers(0, len(frame) - 1))
    frame[at] = data.draw(st.integers(0, 255))
    _read_or_refused(bytes(frame))


def _read_or_refused(data: bytes) -> None:
    """Decoded into well-formed changes, or ``Unusual``: never another exception."""
    try:
        decoded = decode_publish_response(data)
    except Unusual:
        return
    for handle, _value, variant_type, status, _source, _server in decoded.changes:
        assert 0 <= handle < 2**32
        assert 0 <= status < 2**32
        assert variant_type in (0, *range(1, 13))
