"""Which open work orders the list shows: its filters, as pure functions of the orders.

The page (``/workorders``) takes them from its query string — ``?site=HT``,
``?priority=critical``, ``?due=overdue``, ``?who=unassigned`` — so a filtered list is a link
a supervisor can bookmark or send."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from maintenance.workorders import WorkOrder


def overdue(order: WorkOrder, now: datetime) -> bool:
    """Past its completion due: the one due time everywhere (CLI, sheet, phone); ``due_at``
    is a plan's slot start and made orders look overdue."""
    return order.completion_due < now


# query parameter -> does an order pass with this value
FILTERS: dict[str, Callable[[str, WorkOrder, datetime], bool]] = {
    "site": lambda value, order, _now: order.site == value,
    "priority": lambda value, order, _now: order.priority.value == value,
    "due": lambda value, order, now: value == "overdue" and overdue(order, now),
    "who": lambda value, order, _now: value == "unassigned" and not order.assignee,
}


def chosen_filters(query: Mapping[str, object]) -> dict[str, str]:
    """The known, non-empty filters of a page's query parameters (others are ignored)."""
    return {k: v for k, v in query.items() if k in FILTERS and isinstance(v, str) and v}


def select(orders: list[WorkOrder], chosen: Mapping[str, str], now: datetime) -> list[WorkOrder]:
    """The orders that pass every chosen filter, in their order."""
    tests = [(FILTERS[k], v) for k, v in chosen.items() if k in FILTERS and v]
    return [o for o in orders if all(test(v, o, now) for test, v in tests)]
