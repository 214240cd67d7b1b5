"""The alarm tables of the one SQL schema (declared on ``maintenance.schema.Base``).

``alarm_journal`` is append-only: every transition and operator action, never updated or
deleted (migration 0002 adds triggers that refuse UPDATE and DELETE on SQLite and
PostgreSQL). ``alarm_state`` holds each alarm's current status, written in the same
transaction as the journal entries that changed it, so the engine rebuilds its state from
it after a restart without raising anything again. Rows are mapped to the alarm engine's
own types in ``gateway.alarms.store``, which runs the queries built here (``Tx.execute``)
so that SQLAlchemy stays inside the maintenance schema modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Select,
    String,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.schema import Base

ALARM_STATES = (
    "normal",
    "unack",
    "acked",
    "rtn_unack",
    "latched",
    "shelved",
    "suppressed",
    "out_of_service",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AlarmJournalRow(Base):
    """One transition or operator action (append-only)."""

    __tablename__ = "alarm_journal"
    __table_args__ = (
        Index(None, "site", "at"),
        Index(None, "alarm_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    alarm_id: Mapped[str] = mapped_column(String(100))
    site: Mapped[str] = mapped_column(String(8))
    asset_no: Mapped[str | None] = mapped_column(String(32))
    alarm: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(8))
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(String(1000))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class AlarmStateRow(Base):
    """The current status of one alarm (absent: normal, never changed)."""

    __tablename__ = "alarm_state"
    __table_args__ = (
        CheckConstraint(_in("state", ALARM_STATES), name="state"),
        Index(None, "site", "state"),
    )

    alarm_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    site: Mapped[str] = mapped_column(String(8))
    asset_no: Mapped[str] = mapped_column(String(32), index=True)
    alarm: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean)
    priority: Mapped[str] = mapped_column(String(8))
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    journal_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[dict[str, Any]] = mapped_column(JSON)


def journal_query(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    site: str | None = None,
    alarm_id: str | None = None,
    asset_no: str | None = None,
    events: Sequence[str] = (),
    after_id: int | None = None,
    limit: int | None = None,
    alarm_ids: Sequence[str] = (),
) -> Select[AlarmJournalRow]:
    """Journal rows in the order they were written, filtered."""
    query = select(AlarmJournalRow)
    if alarm_ids:
        query = query.where(AlarmJournalRow.alarm_id.in_(list(alarm_ids)))
    if since is not None:
        query = query.where(AlarmJournalRow.at >= since)
    if until is not None:
        query = query.where(AlarmJournalRow.at < until)
    if site is not None:
        query = query.where(AlarmJournalRow.site == site)
    if alarm_id is not None:
        query = query.where(AlarmJournalRow.alarm_id == alarm_id)
    if asset_no is not None:
        query = query.where(AlarmJournalRow.asset_no == asset_no)
    if events:
        query = query.where(AlarmJournalRow.event.in_(list(events)))
    if after_id is not None:
        query = query.where(AlarmJournalRow.id > after_id)
    query = query.order_by(AlarmJournalRow.id)
    if limit is not None:
        query = query.limit(limit)
    return query


def state_query(
    *,
    site: str | None = None,
    states: Sequence[str] = (),
    asset_no: str | None = None,
    active: bool | None = None,
    alarm_ids: Sequence[str] = (),
) -> Select[AlarmStateRow]:
    """Current-state rows, filtered, by alarm id."""
    query = select(AlarmStateRow)
    if alarm_ids:
        query = query.where(AlarmStateRow.alarm_id.in_(list(alarm_ids)))
    if site is not None:
        query = query.where(AlarmStateRow.site == site)
    if states:
        query = query.where(AlarmStateRow.state.in_(list(states)))
    if asset_no is not None:
        query = query.where(AlarmStateRow.asset_no == asset_no)
    if active is not None:
        query = query.where(AlarmStateRow.active == active)
    return query.order_by(AlarmStateRow.alarm_id)


def state_marker_query() -> Select[tuple[int, datetime | None, int | None]]:
    """What changes whenever ``alarm_state`` does: its row count, its newest ``updated_at``
    (stamped inside the writing transaction) and the journal's newest id (its primary key).
    One cheap aggregate lets a reader skip re-reading every state when nothing changed."""
    newest_entry = select(func.max(AlarmJournalRow.id)).scalar_subquery()
    return select(func.count(), func.max(AlarmStateRow.updated_at), newest_entry).select_from(
        AlarmStateRow
    )
