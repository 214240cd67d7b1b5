"""Work-order markers on the trend (dashboards.trends.order_markers): creation and closing
inside the chart's range, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboards.trends import order_markers

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_created_and_closed_inside_the_range_only() -> None:
    day = timedelta(days=1)
    orders = [
        (T0 - 3 * day, T0 + day, "WO-HT-2026-00001", "old, closed in range"),
        (T0 + 2 * day, None, "WO-HT-2026-00002", "open"),
        (T0 + 3 * day, T0 + 9 * day, "WO-HT-2026-00003", "closed after the range"),
    ]
    marks = order_markers(orders, T0, T0 + 7 * day)
    assert [(m.number, m.event, m.at) for m in marks] == [
        ("WO-HT-2026-00001", "closed", T0 + day),
        ("WO-HT-2026-00002", "created", T0 + 2 * day),
        ("WO-HT-2026-00003", "created", T0 + 3 * day),
    ]
    assert marks[0].title == "old, closed in range"
