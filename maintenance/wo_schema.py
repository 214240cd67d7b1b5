"""SQL tables of preventive maintenance and work orders (SQLAlchemy 2 typed ORM).

Same rules as ``maintenance.schema`` (whose ``Base`` and naming convention these share):
plain strings with CHECK constraints, JSON, timezone-aware DateTime; created by migration
``0003_maintenance``. Rows are mapped to the project's own types in ``maintenance.wo_rows``
and ``maintenance.generator``, never above them.

The keys that make generation idempotent live here: ``pm_occurrences`` is unique per
``(plan_id, slot)``, a work order per occurrence (``occurrence_id`` unique), work-order numbers
are unique, and ``work_orders.open_key`` (``<asset_no>|<condition>`` while a corrective order
is open, NULL afterwards) allows one open corrective order per asset and condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from facility.types import PRIORITY_ORDER
from maintenance.schema import AssetRow, Base

RowT = TypeVar("RowT", bound=Base)

OCCURRENCE_STATES = ("generated", "missed", "skipped")
TRIGGER_KINDS = ("calendar", "floating", "meter", "condition")
PLAN_SOURCES = ("profile", "override", "asset")
WO_KINDS = ("preventive", "corrective")
WO_STATES = (
    "open",
    "assigned",
    "in_progress",
    "on_hold",
    "completed",
    "verified",
    "closed",
    "cancelled",
)
PRIORITIES = PRIORITY_ORDER
CHECKLIST_KINDS = ("pass_fail", "number", "meter", "text", "photo")
FAILURE_CODE_KINDS = ("problem", "cause", "remedy")
METER_SOURCES = ("manual", "checklist", "historian", "completion")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PmPlanRow(Base):
    """One effective PM plan of one asset (profile default + overrides), and its cursor."""

    __tablename__ = "pm_plans"
    __table_args__ = (
        UniqueConstraint("asset_no", "name"),
        CheckConstraint(_in("source", PLAN_SOURCES), name="source"),
        Index(None, "site"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_no: Mapped[str] = mapped_column(String(32), ForeignKey("assets.asset_no"))
    site: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(64))
    title_en: Mapped[str] = mapped_column(String(200))
    title_zh: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    profile: Mapped[str | None] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    definition_hash: Mapped[str] = mapped_column(String(40))
    anchor: Mapped[date] = mapped_column(Date)
    enabled: Mapped[bool] = mapped_column(Boolean)
    active_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cycle_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    baseline: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_threshold: Mapped[dict[str, Any]] = mapped_column(JSON)
    covered: Mapped[bool] = mapped_column(Boolean)
    last_done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Earliest moment a pass can change anything for a time-only plan (NULL: look every pass).
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PmOccurrenceRow(Base):
    """One occurrence of a plan, recorded once: generated, missed or skipped."""

    __tablename__ = "pm_occurrences"
    __table_args__ = (
        UniqueConstraint("plan_id", "slot"),
        CheckConstraint(_in("state", OCCURRENCE_STATES), name="state"),
        CheckConstraint(_in("trigger", TRIGGER_KINDS), name="trigger"),
        Index(None, "due"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(Integer, ForeignKey("pm_plans.id"))
    slot: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    release_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    threshold: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(100))


class WoSequenceRow(Base):
    """The last work-order number given out per site and year (WO-<SITE>-<YYYY>-<NNNNN>)."""

    __tablename__ = "wo_sequences"

    site: Mapped[str] = mapped_column(String(8), ForeignKey("sites.code"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class FailureCodeRow(Base):
    """A failure code: problem, cause or remedy (required to complete a corrective order)."""

    __tablename__ = "failure_codes"
    __table_args__ = (CheckConstraint(_in("kind", FAILURE_CODE_KINDS), name="kind"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    label_en: Mapped[str] = mapped_column(String(200))
    label_zh: Mapped[str] = mapped_column(String(200))


class WorkOrderRow(Base):
    """A preventive or corrective work order."""

    __tablename__ = "work_orders"
    __table_args__ = (
        CheckConstraint(_in("kind", WO_KINDS), name="kind"),
        CheckConstraint(_in("state", WO_STATES), name="state"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        Index(None, "site", "state"),
        Index(None, "asset_no", "state"),
        Index(None, "plan_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    site: Mapped[str] = mapped_column(String(8), ForeignKey("sites.code"))
    kind: Mapped[str] = mapped_column(String(16))
    asset_no: Mapped[str] = mapped_column(String(32), ForeignKey("assets.asset_no"))
    plan_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("pm_plans.id"))
    occurrence_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("pm_occurrences.id"), unique=True
    )
    condition: Mapped[str | None] = mapped_column(String(100))
    open_key: Mapped[str | None] = mapped_column(String(140), unique=True)
    title_en: Mapped[str] = mapped_column(String(300))
    title_zh: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(String(2000))
    priority: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(100))
    skill: Mapped[str] = mapped_column(String(50))
    estimated_min: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completion_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    problem_code: Mapped[str | None] = mapped_column(String(32), ForeignKey("failure_codes.code"))
    cause_code: Mapped[str | None] = mapped_column(String(32), ForeignKey("failure_codes.code"))
    remedy_code: Mapped[str | None] = mapped_column(String(32), ForeignKey("failure_codes.code"))
    parent_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("work_orders.id"))
    alarm_count: Mapped[int] = mapped_column(Integer)
    last_alarm_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reopen_count: Mapped[int] = mapped_column(Integer)
    asset_down: Mapped[bool] = mapped_column(Boolean)
    completion_note: Mapped[str] = mapped_column(String(2000))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # +1 on every change: a phone that worked offline says which version it saw, so a change
    # made meanwhile by someone else is a conflict shown to it, never silently overwritten
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WorkOrderEventRow(Base):
    """One event of a work order: a transition (with user and time), an attached alarm..."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(Integer, ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(2000))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class WoSubmissionRow(Base):
    """A change sent with an idempotency key (the phone's queue): a retried submit finds its
    key here and is answered as already applied instead of being applied twice."""

    __tablename__ = "wo_submissions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    work_order_id: Mapped[int] = mapped_column(Integer, ForeignKey("work_orders.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)  # the order's version after the change
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WoAttachmentRow(Base):
    """A photo or signature of an order: the file is content-addressed (``sha256``) in the
    attachment store (maintenance.attachments); this row says whose order it belongs to."""

    __tablename__ = "wo_attachments"
    __table_args__ = (CheckConstraint("kind IN ('photo', 'signature')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(Integer, ForeignKey("work_orders.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    position: Mapped[int | None] = mapped_column(Integer)  # the checklist item it answers
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChecklistItemRow(Base):
    """One checklist item of a work order, and its result once answered."""

    __tablename__ = "wo_checklist_items"
    __table_args__ = (
        UniqueConstraint("work_order_id", "position"),
        CheckConstraint(_in("kind", CHECKLIST_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(Integer, ForeignKey("work_orders.id"))
    position: Mapped[int] = mapped_column(Integer)
    text_en: Mapped[str] = mapped_column(String(300))
    text_zh: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(20))
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    point: Mapped[str | None] = mapped_column(String(64))
    required: Mapped[bool] = mapped_column(Boolean)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(2000))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(100))


class LabourRow(Base):
    """Time a technician spent on a work order."""

    __tablename__ = "wo_labour"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(Integer, ForeignKey("work_orders.id"), index=True)
    technician: Mapped[str] = mapped_column(String(100))
    minutes: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(500))


class PartLineRow(Base):
    """A part used on a work order, as a free line (no stock management)."""

    __tablename__ = "wo_parts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(Integer, ForeignKey("work_orders.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    part_no: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))


class MeterReadingRow(Base):
    """A counter reading kept in SQL: typed in, read off a checklist, or at a completion."""

    __tablename__ = "meter_readings"
    __table_args__ = (
        CheckConstraint(_in("source", METER_SOURCES), name="source"),
        Index(None, "asset_no", "point", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_no: Mapped[str] = mapped_column(String(32), ForeignKey("assets.asset_no"))
    point: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(16))
    work_order_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("work_orders.id"))
    actor: Mapped[str] = mapped_column(String(100))


class PmGeneratorRow(Base):
    """The generator's single row: locked by each pass (passes take turns on PostgreSQL too)
    and stamped with the last pass, so "when did the generator last run" is one read."""

    __tablename__ = "pm_generator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_pass_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_pass_by: Mapped[str | None] = mapped_column(String(100))
    passes: Mapped[int] = mapped_column(Integer)


class AlarmOrderCursorRow(Base):
    """How far corrective orders have read the alarm journal (one row per reader name):
    moved in the same transaction as the order a raise creates or attaches to."""

    __tablename__ = "alarm_order_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    after_id: Mapped[int] = mapped_column(Integer)


class AlarmRaiseOrderRow(Base):
    """Each alarm raise that became (or attached to) an order, once: the primary key makes a
    second scheduler, on this host or another, find the raise handled."""

    __tablename__ = "alarm_raise_orders"

    raise_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    work_order_id: Mapped[int] = mapped_column(Integer, ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- queries (run through ``maintenance.db.Tx.execute``) ---------------------------------

OPEN_WO_STATES = ("open", "assigned", "in_progress", "on_hold")


def neighbour_readings_query(
    asset_no: str, point: str, at: datetime, *, before: bool
) -> Select[MeterReadingRow]:
    """The stored reading of a counter just before (or after) ``at``."""
    column = MeterReadingRow.at
    return (
        select(MeterReadingRow)
        .where(
            MeterReadingRow.asset_no == asset_no,
            MeterReadingRow.point == point,
            column <= at if before else column > at,
        )
        .order_by(column.desc() if before else column.asc(), MeterReadingRow.id.desc())
        .limit(1)
    )


def latest_readings_query(asset_nos: Sequence[str]) -> Select[str, str, float]:
    """(asset_no, point, value) of the latest stored reading of each counter of the assets."""
    latest = (
        select(
            MeterReadingRow.asset_no,
            MeterReadingRow.point,
            func.max(MeterReadingRow.at).label("at"),
        )
        .where(MeterReadingRow.asset_no.in_(list(asset_nos)))
        .group_by(MeterReadingRow.asset_no, MeterReadingRow.point)
        .subquery()
    )
    return (
        select(MeterReadingRow.asset_no, MeterReadingRow.point, MeterReadingRow.value)
        .join(
            latest,
            and_(
                MeterReadingRow.asset_no == latest.c.asset_no,
                MeterReadingRow.point == latest.c.point,
                MeterReadingRow.at == latest.c.at,
            ),
        )
        .order_by(MeterReadingRow.id)
    )


def _to_check(now: datetime) -> tuple[Any, ...]:
    return (
        PmPlanRow.enabled.is_(True),
        PmPlanRow.covered.is_(False),
        or_(PmPlanRow.next_check_at.is_(None), PmPlanRow.next_check_at <= now),
    )


def plan_rules_query(now: datetime) -> Select[*tuple[Any, ...]]:
    """What identifies the rule of each plan to check (the counters and alarms it reads)."""
    return select(
        PmPlanRow.id,
        PmPlanRow.asset_no,
        PmPlanRow.site,
        PmPlanRow.definition_hash,
        PmPlanRow.anchor,
    ).where(*_to_check(now))


def plans_to_check_query(now: datetime) -> Select[*tuple[Any, ...]]:
    """Enabled plans a pass must look at (their cursor columns, and their asset's status):
    cycle plans whose cycle has no order yet, and plans whose next moment of interest has
    come (or is unknown). Plain columns, not ORM rows: a pass reads 10,000s of them."""
    return (
        select(
            PmPlanRow.id,
            PmPlanRow.asset_no,
            PmPlanRow.site,
            PmPlanRow.name,
            PmPlanRow.definition_hash,
            PmPlanRow.anchor,
            PmPlanRow.active_from,
            PmPlanRow.cycle_start,
            PmPlanRow.baseline,
            PmPlanRow.last_due,
            PmPlanRow.last_threshold,
            PmPlanRow.covered,
            PmPlanRow.next_check_at,
            AssetRow.status,
        )
        .join(AssetRow, AssetRow.asset_no == PmPlanRow.asset_no)
        .where(*_to_check(now))
        .order_by(PmPlanRow.id)
    )


def criticality_query() -> Select[str, str]:
    return select(AssetRow.asset_no, AssetRow.criticality)


def ledger_fingerprint_query() -> Select[int, datetime | None]:
    """(number of assets, latest change): changes whenever the ledger does."""
    return select(func.count(), func.max(AssetRow.updated_at))


def plan_keys_query() -> Select[int, str, str, str, bool]:
    """(id, asset_no, name, definition_hash, enabled) of every plan (for the sync)."""
    return select(
        PmPlanRow.id,
        PmPlanRow.asset_no,
        PmPlanRow.name,
        PmPlanRow.definition_hash,
        PmPlanRow.enabled,
    )


def open_orders_by_plan_query() -> Select[int | None, int]:
    """(plan_id, number of open orders) for plans with open orders."""
    return (
        select(WorkOrderRow.plan_id, func.count())
        .where(WorkOrderRow.plan_id.is_not(None), WorkOrderRow.state.in_(OPEN_WO_STATES))
        .group_by(WorkOrderRow.plan_id)
    )


def open_orders_of_plans_query(plan_ids: Sequence[int]) -> Select[WorkOrderRow]:
    return select(WorkOrderRow).where(
        WorkOrderRow.plan_id.in_(list(plan_ids)), WorkOrderRow.state.in_(OPEN_WO_STATES)
    )


def open_orders_of_asset_query(asset_no: str) -> Select[WorkOrderRow]:
    return select(WorkOrderRow).where(
        WorkOrderRow.asset_no == asset_no, WorkOrderRow.state.in_(OPEN_WO_STATES)
    )


def last_events_query(order_id: int) -> Select[WorkOrderEventRow]:
    """An order's lifecycle events (those that changed its state), newest first."""
    return (
        select(WorkOrderEventRow)
        .where(
            WorkOrderEventRow.work_order_id == order_id,
            WorkOrderEventRow.to_state.is_not(None),
        )
        .order_by(WorkOrderEventRow.at.desc(), WorkOrderEventRow.id.desc())
    )


def rows_by_id_query(row_type: type[RowT], ids: Sequence[int]) -> Select[RowT]:
    column = row_type.__table__.c.id
    return select(row_type).where(column.in_(list(ids)))


def orders_query(
    *,
    site: str | None = None,
    states: Sequence[str] = (),
    asset_no: str | None = None,
    kind: str | None = None,
    assignee: str | None = None,
    created_from: datetime | None = None,
    created_until: datetime | None = None,
    limit: int | None = None,
) -> Select[WorkOrderRow]:
    """Work orders, filtered, newest first."""
    query = select(WorkOrderRow)
    if site is not None:
        query = query.where(WorkOrderRow.site == site)
    if states:
        query = query.where(WorkOrderRow.state.in_(list(states)))
    if asset_no is not None:
        query = query.where(WorkOrderRow.asset_no == asset_no)
    if kind is not None:
        query = query.where(WorkOrderRow.kind == kind)
    if assignee is not None:
        query = query.where(WorkOrderRow.assignee == assignee)
    if created_from is not None:
        query = query.where(WorkOrderRow.created_at >= created_from)
    if created_until is not None:
        query = query.where(WorkOrderRow.created_at < created_until)
    query = query.order_by(WorkOrderRow.created_at.desc(), WorkOrderRow.id.desc())
    return query.limit(limit) if limit is not None else query


def meter_readings_query(
    asset_no: str, since: datetime | None = None, until: datetime | None = None
) -> Select[MeterReadingRow]:
    query = select(MeterReadingRow).where(MeterReadingRow.asset_no == asset_no)
    if since is not None:
        query = query.where(MeterReadingRow.at >= since)
    if until is not None:
        query = query.where(MeterReadingRow.at < until)
    return query.order_by(MeterReadingRow.at, MeterReadingRow.id)


def order_events_query(
    asset_no: str, since: datetime | None = None, until: datetime | None = None
) -> Select[WorkOrderEventRow, WorkOrderRow]:
    query = (
        select(WorkOrderEventRow, WorkOrderRow)
        .join(WorkOrderRow, WorkOrderRow.id == WorkOrderEventRow.work_order_id)
        .where(WorkOrderRow.asset_no == asset_no)
    )
    if since is not None:
        query = query.where(WorkOrderEventRow.at >= since)
    if until is not None:
        query = query.where(WorkOrderEventRow.at < until)
    return query.order_by(WorkOrderEventRow.at, WorkOrderEventRow.id)
