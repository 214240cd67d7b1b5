"""The SQL side of reports: every work order alive in a range (all kinds), and the sites.

``kpi_queries.kpi_records`` already reads what the KPI formulas need (corrective orders
overlapping a range, PM occurrences due, assets in service); reports also count preventive
orders created and done, what is overdue and the backlog in hours, which need every order
open at some moment of the range, whatever its kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select

from facility.errors import ConfigError
from maintenance.db import Database
from maintenance.schema import SiteRow
from maintenance.wo_schema import WorkOrderRow


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class OrderLife:
    """One work order's life as reports count it."""

    number: str
    site: str
    asset_no: str
    kind: str  # preventive, corrective
    priority: str
    created_at: datetime
    completion_due: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None
    estimated_min: int

    def open_at(self, moment: datetime) -> bool:
        """Created before ``moment`` and neither completed nor cancelled by then."""
        return (
            self.created_at < moment
            and (self.completed_at is None or self.completed_at >= moment)
            and (self.cancelled_at is None or self.cancelled_at >= moment)
        )


@dataclass(frozen=True)
class SiteInfo:
    code: str
    name_en: str
    name_zh: str
    timezone: str


def order_lives(
    db: Database, start: datetime, end: datetime, site: str | None = None
) -> list[OrderLife]:
    """Every order created before ``end`` and not finished (completed or cancelled) before
    ``start``: what was created, done or open at some moment of ``[start, end)``."""
    conditions = [
        WorkOrderRow.created_at < end,
        or_(WorkOrderRow.completed_at.is_(None), WorkOrderRow.completed_at >= start),
        or_(WorkOrderRow.cancelled_at.is_(None), WorkOrderRow.cancelled_at >= start),
    ]
    if site is not None:
        conditions.append(WorkOrderRow.site == site)
    query = select(
        WorkOrderRow.number,
        WorkOrderRow.site,
        WorkOrderRow.asset_no,
        WorkOrderRow.kind,
        WorkOrderRow.priority,
        WorkOrderRow.created_at,
        WorkOrderRow.completion_due,
        WorkOrderRow.completed_at,
        WorkOrderRow.cancelled_at,
        WorkOrderRow.estimated_min,
    ).where(and_(*conditions))
    with db.transaction() as tx:
        return [
            OrderLife(
                r.number,
                r.site,
                r.asset_no,
                r.kind,
                r.priority,
                _utc(r.created_at) or start,
                _utc(r.completion_due) or start,
                _utc(r.completed_at),
                _utc(r.cancelled_at),
                r.estimated_min or 0,
            )
            for r in tx.execute(query)
        ]


def sites(db: Database) -> dict[str, SiteInfo]:
    """The estates of the ledger, by code."""
    with db.transaction() as tx:
        return {
            r.code: SiteInfo(r.code, r.name_en, r.name_zh, r.timezone)
            for r in tx.rows(SiteRow, order_by=["code"])
        }


def check_site(known: dict[str, SiteInfo], site: str) -> str | None:
    """``site`` as a code of ``known`` (None for ``all``); ConfigError naming the choices."""
    code = site.strip().upper()
    if code == "ALL":
        return None
    if code not in known:
        choices = ", ".join(sorted(known)) or "none: import the ledger first"
        raise ConfigError(f"--site {site!r}: unknown estate; expected all or one of {choices}")
    return code
