"""Which open work orders the list shows: its filters and its pages, as pure functions of
the orders.

The page (``/workorders``) takes them from its query string — ``?site=HT``,
``?priority=critical``, ``?due=overdue``, ``?who=unassigned``, ``&page=2`` — so a filtered
list is a link a supervisor can bookmark or send. A page holds ``PAGE_SIZE`` cards: an estate
whose orders pile up (hundreds overdue after a holiday) still gets a page that opens on a
phone, the counts above it still counting every order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


PAGE_SIZE = 60  # cards on one page: a desk's grid of 3-4 columns, a phone's long scroll


@dataclass(frozen=True)
class Page:
    """One page of a list: its orders, its number (from 1), how many pages, and the
    positions (from 1) of its first and last order in the whole list (0, 0 when empty)."""

    orders: list[WorkOrder]
    number: int
    pages: int
    first: int
    last: int
    total: int


def page_of(orders: Sequence[WorkOrder], wanted: object, size: int | None = None) -> Page:
    """Page ``wanted`` (the query's ``page``: a number from 1; anything else is page 1, a
    number past the end the last page) of ``orders``, ``size`` (``PAGE_SIZE``) to a page."""
    size = PAGE_SIZE if size is None else size
    total = len(orders)
    pages = max(1, -(-total // size))
    number = int(wanted) if isinstance(wanted, str) and wanted.isdigit() else 1
    number = min(max(number, 1), pages)
    start = (number - 1) * size
    shown = list(orders[start : start + size])
    return Page(shown, number, pages, start + 1 if shown else 0, start + len(shown), total)
