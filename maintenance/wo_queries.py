"""Reading work orders: one order, lists, the asset a sheet names, the records KPIs need.

``WorkOrderReader`` is the read side of ``maintenance.wo_store.WorkOrderStore`` (which adds
the writes): every query is one read transaction and hands back the project's own types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from facility.errors import ConfigError
from maintenance.db import Database, DatabaseUser, Tx
from maintenance.kpi_queries import KpiRecords, kpi_records
from maintenance.schema import AssetRow, SiteRow
from maintenance.wo_rows import to_order
from maintenance.wo_schema import (
    FailureCodeRow,
    PmPlanRow,
    WorkOrderRow,
    orders_query,
    rows_by_id_query,
)
from maintenance.workorders import (
    CodeKind,
    FailureCode,
    WoKind,
    WorkOrder,
    WorkOrderError,
    WoState,
    parse_number,
)


@dataclass(frozen=True)
class AssetLabel:
    """What a work-order sheet says about the asset."""

    asset_no: str
    site: str
    name_en: str
    name_zh: str
    building: str
    zone: str
    make: str
    model: str
    serial: str


class WorkOrderReader(DatabaseUser):
    """Work orders read from the database (the store's ``_db``)."""

    @property
    def db(self) -> Database:
        """The database the orders live in."""
        return self._db

    # --- reading ---------------------------------------------------------------------------

    def get(self, number: str) -> WorkOrder:
        """One order with its checklist, events, labour and parts."""
        with self._db.transaction() as tx:
            return self._order(tx, self._row(tx, number), full=True)

    def orders(
        self,
        *,
        site: str | None = None,
        states: Sequence[WoState | str] = (),
        asset_no: str | None = None,
        kind: WoKind | str | None = None,
        assignee: str | None = None,
        created_from: datetime | None = None,
        created_until: datetime | None = None,
        limit: int | None = None,
    ) -> list[WorkOrder]:
        """Orders without their details, newest first."""
        query = orders_query(
            site=site.upper() if site else None,
            states=[WoState(s).value for s in states],
            asset_no=asset_no,
            kind=WoKind(kind).value if kind else None,
            assignee=assignee,
            created_from=created_from,
            created_until=created_until,
            limit=limit,
        )
        with self._db.transaction() as tx:
            rows = list(tx.execute(query).scalars())
            names = self._plan_names(tx, rows)
            return [self._order(tx, row, full=False, plan_names=names) for row in rows]

    def asset_label(self, asset_no: str) -> AssetLabel:
        with self._db.transaction() as tx:
            row = self._asset(tx, asset_no)
            return AssetLabel(
                row.asset_no, row.site, row.name_en, row.name_zh, row.building, row.zone,
                row.make, row.model, row.serial,
            )  # fmt: skip

    def kpi_records(self, start: datetime, end: datetime, site: str | None = None) -> KpiRecords:
        """What ``maintenance.kpi.report`` needs for ``[start, end)``: occurrences due then,
        every order that overlaps it whenever it was created, the assets in service."""
        return kpi_records(self._db, start, end, site)

    def failure_codes(self) -> dict[str, FailureCode]:
        with self._db.transaction() as tx:
            return self._catalogue(tx)

    @staticmethod
    def _catalogue(tx: Tx) -> dict[str, FailureCode]:
        return {
            r.code: FailureCode(r.code, CodeKind(r.kind), r.label_en, r.label_zh)
            for r in tx.rows(FailureCodeRow, order_by=["code"])
        }

    # --- shared with the writes -------------------------------------------------------------

    def _row(self, tx: Tx, number: str, *, lock: bool = False) -> WorkOrderRow:
        """The row of order ``number``, or WorkOrderError naming it."""
        parse_number(number)
        found = tx.rows(WorkOrderRow, number=number.strip().upper(), lock=lock)
        if not found:
            raise WorkOrderError(f"no work order {number} (facility wo list shows them)")
        return found[0]

    def check_site(self, site: str) -> str:
        """The site code (upper case) if the ledger has it; ConfigError naming the known
        ones otherwise (a typo must not look like an estate without orders)."""
        code = site.strip().upper()
        with self._db.transaction() as tx:
            known = sorted(row.code for row in tx.rows(SiteRow))
        if code not in known:
            raise ConfigError(
                f"unknown site {site[:20]!r}: the ledger has {', '.join(known) or 'no sites yet'}"
            )
        return code

    def check_asset(self, asset_no: str) -> str:
        """``asset_no`` if the ledger has it; ConfigError otherwise."""
        with self._db.transaction() as tx:
            return self._asset(tx, asset_no.strip().upper()).asset_no

    @staticmethod
    def _asset(tx: Tx, asset_no: str) -> AssetRow:
        asset = tx.get(AssetRow, asset_no)
        if asset is None:
            raise ConfigError(f"unknown asset {asset_no} (facility ledger list shows them)")
        return asset

    @staticmethod
    def _zones(tx: Tx) -> dict[str, ZoneInfo]:
        return {row.code: ZoneInfo(row.timezone) for row in tx.rows(SiteRow)}

    @staticmethod
    def _plan_names(tx: Tx, rows: Iterable[WorkOrderRow]) -> dict[int, str]:
        ids = sorted({r.plan_id for r in rows if r.plan_id is not None})
        if not ids:
            return {}
        return {p.id: p.name for p in tx.execute(rows_by_id_query(PmPlanRow, ids)).scalars()}

    def _order(
        self,
        tx: Tx,
        row: WorkOrderRow,
        *,
        full: bool,
        plan_names: Mapping[int, str] | None = None,
    ) -> WorkOrder:
        return to_order(tx, row, full=full, plan_names=plan_names)
