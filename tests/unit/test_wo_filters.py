"""The work-order list's filters (dashboards/wo_filters.py): what ``/workorders?...`` shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboards.wo_filters import chosen_filters, overdue, select
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
