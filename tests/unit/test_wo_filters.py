"""The work-order list's filters (dashboards/wo_filters.py): what ``/workorders?...`` shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboards.wo_filters import chosen_filters, overdue, page_of, select
from facility.types import Priority
from maintenance.workorders import WoKind, WorkOrder, WoState

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def order(
    number: int, site: str, priority: Priority, due_h: float, assignee: str | None
) -> WorkOrder:
    return WorkOrder(
        number=f"WO-{site}-2026-{number:05d}",
        site=site,
        kind=WoKind.CORRECTIVE,
        asset_no=f"{site}-PMP-001",
        state=WoState.OPEN,
        priority=priority,
        title_en="Booster pump fault",
        title_zh="生活水泵故障",
        description="",
        assignee=assignee,
        skill="mechanical",
        estimated_min=60,
        created_at=NOW - timedelta(days=1),
        created_by="alarm-engine",
        due_at=None,
        response_due=NOW,
        completion_due=NOW + timedelta(hours=due_h),
    )


ORDERS = [
    order(1, "HT", Priority.CRITICAL, -1, None),  # overdue, unassigned
    order(2, "HT", Priority.HIGH, 4, "zhang.wei"),
    order(3, "JU", Priority.CRITICAL, 2, None),
    order(4, "JU", Priority.LOW, -0.5, "li.na"),  # overdue
]


def numbers(orders: list[WorkOrder]) -> list[int]:
    return [int(o.number[-5:]) for o in orders]


def test_each_filter_and_their_combination() -> None:
    assert numbers(select(ORDERS, {}, NOW)) == [1, 2, 3, 4]
    assert numbers(select(ORDERS, {"site": "JU"}, NOW)) == [3, 4]
    assert numbers(select(ORDERS, {"priority": "critical"}, NOW)) == [1, 3]
    assert numbers(select(ORDERS, {"due": "overdue"}, NOW)) == [1, 4]
    assert numbers(select(ORDERS, {"who": "unassigned"}, NOW)) == [1, 3]
    assert numbers(select(ORDERS, {"priority": "critical", "due": "overdue"}, NOW)) == [1]
    assert numbers(select(ORDERS, {"site": "HT", "priority": "low"}, NOW)) == []


def test_overdue_is_past_the_completion_due_only() -> None:
    assert overdue(ORDERS[0], NOW)
    assert not overdue(ORDERS[0], NOW - timedelta(hours=2))  # not yet due then
    assert not overdue(ORDERS[1], NOW)


def test_unknown_or_empty_parameters_are_ignored() -> None:
    query = {"lang": "zh", "priority": "", "site": "HT", "bogus": "1", "due": ["overdue"]}
    assert chosen_filters(query) == {"site": "HT"}
    assert numbers(select(ORDERS, {"due": "soon"}, NOW)) == []  # an unknown value matches none


def many(count: int) -> list[WorkOrder]:
    return [order(n, "HT", Priority.LOW, 24, None) for n in range(1, count + 1)]


def test_a_long_list_is_cut_into_pages() -> None:
    orders = many(130)
    first = page_of(orders, None, size=60)
    assert [o.number for o in first.orders] == [o.number for o in orders[:60]]
    assert (first.number, first.pages, first.first, first.last, first.total) == (1, 3, 1, 60, 130)
    last = page_of(orders, "3", size=60)
    assert [o.number for o in last.orders] == [o.number for o in orders[120:]]
    assert (last.number, last.first, last.last) == (3, 121, 130)


def test_a_page_that_is_not_a_number_or_out_of_range_is_the_nearest_page() -> None:
    orders = many(130)
    assert page_of(orders, "abc", size=60).number == 1
    assert page_of(orders, "0", size=60).number == 1
    assert page_of(orders, "-2", size=60).number == 1
    assert page_of(orders, "99", size=60).number == 3  # a bookmark from when there were more
    assert page_of(orders, ["2"], size=60).number == 1  # ?page=2&page=3 reaches layout as a list


def test_an_empty_list_is_one_empty_page() -> None:
    empty = page_of([], "2", size=60)
    assert (empty.orders, empty.number, empty.pages, empty.first, empty.last) == ([], 1, 1, 0, 0)
