"""The ledger in the SQL database: assets in and out as ``facility.types.Asset``.

``LedgerStore(url)`` upgrades the database to the current schema on open (idempotent), then:
``assets()``/``asset()`` read, ``import_sheet()``/``import_file()`` apply a ledger file
all-or-nothing in one transaction (every row is validated against the stored ledger first;
one bad row and nothing changes, LedgerError lists every problem), ``export()`` writes one,
``allocate()`` hands out the next asset numbers (recorded, so never given out again) and
``set_status()`` moves an asset in or out of service or retires it. Every change is written
to the audit log, and every status change to the asset's status history.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facility.errors import ConfigError
from facility.types import (
    Asset,
    AssetNo,
    AssetStatus,
    Criticality,
    DeviceClass,
    Endpoint,
    ModbusEndpoint,
    OpcuaEndpoint,
)
from maintenance import ledger_files
from maintenance.db import ConflictError, Database, DatabaseUser, Tx
from maintenance.identity.audit import audit_row
from maintenance.identity.roles import Principal, actor_name
from maintenance.ledger import (
    Action,
    ImportReport,
    LedgerContext,
    LedgerSheet,
    ProfileRef,
    Site,
    asset_sort_key,
    asset_values,
    check_status_change,
    next_numbers,
    plan_import,
)
from maintenance.ledger_check import validate_sheet
from maintenance.schema import AssetNumberRow, AssetRow, AuditRow, SiteRow, StatusChangeRow
from maintenance.wo_rows import cancel_row
from maintenance.wo_schema import open_orders_of_asset_query

log = logging.getLogger(__name__)

ALLOCATE_ATTEMPTS = 5
SYSTEM_USER = "system"  # the audit log's actor when a caller names none


@dataclass(frozen=True)
class StatusChange:
    """One entry of an asset's status history."""

    asset_no: str
    from_status: AssetStatus | None
    to_status: AssetStatus
    at: datetime
    actor: str
    note: str


@dataclass(frozen=True)
class AuditEntry:
    """One audit-log entry: who did what to which entity, when."""

    at: datetime
    actor: str
    action: str
    entity: str
    detail: Mapping[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def asset_from_row(row: AssetRow) -> Asset:
    endpoint: Endpoint | None = None
    if row.protocol == "modbus":
        assert row.host is not None
        assert row.port is not None
        assert row.unit_id is not None
        endpoint = ModbusEndpoint(row.host, row.port, row.unit_id)
    elif row.protocol == "opcua":
        assert row.opcua_url is not None
        assert row.node_root is not None
        endpoint = OpcuaEndpoint(row.opcua_url, row.node_root)
    return Asset(
        asset_no=row.asset_no,
        site=row.site,
        device_class=DeviceClass(row.device_class),
        name_en=row.name_en,
        name_zh=row.name_zh,
        building=row.building,
        zone=row.zone,
        system=row.system,
        profile=row.profile,
        make=row.make,
        model=row.model,
        serial=row.serial,
        install_date=row.install_date,
        criticality=Criticality(row.criticality),
        status=AssetStatus(row.status),
        endpoint=endpoint,
        parent_asset_no=row.parent_asset_no,
    )


def _fill(row: AssetRow, asset: Asset, now: datetime) -> None:
    endpoint = asset.endpoint
    modbus = endpoint if isinstance(endpoint, ModbusEndpoint) else None
    opcua = endpoint if isinstance(endpoint, OpcuaEndpoint) else None
    row.site = asset.site
    row.device_class = asset.device_class.value
    row.name_en = asset.name_en
    row.name_zh = asset.name_zh
    row.building = asset.building
    row.zone = asset.zone
    row.system = asset.system
    row.profile = asset.profile
    row.make = asset.make
    row.model = asset.model
    row.serial = asset.serial
    row.install_date = asset.install_date
    row.criticality = asset.criticality.value
    row.status = asset.status.value
    row.protocol = "modbus" if modbus else "opcua" if opcua else None
    row.host = modbus.host if modbus else None
    row.port = modbus.port if modbus else None
    row.unit_id = modbus.unit_id if modbus else None
    row.opcua_url = opcua.url if opcua else None
    row.node_root = opcua.node_root if opcua else None
    row.parent_asset_no = asset.parent_asset_no
    row.updated_at = now


def _parents_first(assets: Sequence[Asset]) -> list[Asset]:
    """New assets ordered so a parent created in the same import is inserted before its
    children (the foreign key is checked per statement)."""
    pending = {asset.asset_no: asset for asset in assets}
    ordered: list[Asset] = []
    placed: set[str] = set()

    def place(asset: Asset) -> None:
        if asset.asset_no in placed:
            return
        placed.add(asset.asset_no)  # before recursing: validation already refused cycles
        parent = pending.get(asset.parent_asset_no or "")
        if parent is not None:
            place(parent)
        ordered.append(asset)

    for asset in assets:
        place(asset)
    return ordered


class LedgerStore(DatabaseUser):
    """The ledger of numbered assets in the database at ``url`` (SQLite or PostgreSQL)."""

    def __init__(
        self,
        url: str,
        *,
        profiles: Mapping[str, ProfileRef] | None = None,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self._profiles = profiles
        self._db = Database.open(url, migrate=migrate)

    @property
    def profiles(self) -> Mapping[str, ProfileRef]:
        if self._profiles is None:
            self._profiles = ledger_files.profile_refs()
        return self._profiles

    def revision(self) -> str | None:
        return self._db.revision()

    # --- sites ---------------------------------------------------------------------------

    def sites(self) -> list[Site]:
        with self._db.transaction() as tx:
            return [
                Site(r.code, r.name_en, r.name_zh, r.timezone)
                for r in tx.rows(SiteRow, order_by=["code"])
            ]

    def save_sites(
        self, sites: Iterable[Site], *, user: str | Principal = SYSTEM_USER
    ) -> list[Site]:
        """Create or update sites; returns those that changed."""
        changed = []
        with self._db.transaction(write=True) as tx:
            for site in sites:
                row = tx.get(SiteRow, site.code)
                if row is None:
                    row = SiteRow(code=site.code)
                    tx.add(row)
                    action = "site.create"
                elif (row.name_en, row.name_zh, row.timezone) == (
                    site.name_en,
                    site.name_zh,
                    site.timezone,
                ):
                    continue
                else:
                    action = "site.update"
                row.name_en, row.name_zh, row.timezone = site.name_en, site.name_zh, site.timezone
                self._audit(tx, user, action, site.code, vars(site))
                changed.append(site)
        for site in changed:
            log.info("site=%s saved name_en=%s", site.code, site.name_en)
        return changed

    # --- assets --------------------------------------------------------------------------

    def assets(
        self,
        site: str | None = None,
        monitored_only: bool = False,
        *,
        device_class: DeviceClass | str | None = None,
        status: AssetStatus | str | None = None,
    ) -> list[Asset]:
        """Assets ordered by site, class and number; ``monitored_only``: those to poll."""
        cls = DeviceClass(str(device_class).upper()) if device_class else None
        with self._db.transaction() as tx:
            rows = tx.rows(
                AssetRow,
                site=site.upper() if site else None,
                device_class=cls.value if cls else None,
                status=AssetStatus(status).value if status else None,
            )
            assets = [asset_from_row(row) for row in rows]
        if monitored_only:
            assets = [a for a in assets if a.monitored]
        return sorted(assets, key=lambda a: asset_sort_key(a.asset_no))

    def asset(self, asset_no: str) -> Asset | None:
        with self._db.transaction() as tx:
            row = tx.get(AssetRow, asset_no)
            return asset_from_row(row) if row is not None else None

    def allocated_numbers(
        self, site: str | None = None, device_class: DeviceClass | str | None = None
    ) -> list[str]:
        """Every number ever allocated (imported, numbered or retired), in order."""
        with self._db.transaction() as tx:
            rows = tx.rows(
                AssetNumberRow,
                site=site.upper() if site else None,
                device_class=str(device_class).upper() if device_class else None,
            )
            return sorted((r.asset_no for r in rows), key=asset_sort_key)

    def status_history(self, asset_no: str) -> list[StatusChange]:
        with self._db.transaction() as tx:
            rows = tx.rows(StatusChangeRow, asset_no=asset_no, order_by=["at", "id"])
            return [
                StatusChange(
                    r.asset_no,
                    AssetStatus(r.from_status) if r.from_status else None,
                    AssetStatus(r.to_status),
                    _utc(r.at),
                    r.actor,
                    r.note,
                )
                for r in rows
            ]

    def audit_log(self, entity: str | None = None) -> list[AuditEntry]:
        with self._db.transaction() as tx:
            rows = tx.rows(AuditRow, entity=entity, order_by=["at", "id"])
            return [AuditEntry(_utc(r.at), r.actor, r.action, r.entity, r.detail) for r in rows]

    # --- import / export -----------------------------------------------------------------

    def import_file(
        self, path: Path, *, user: str | Principal = SYSTEM_USER, dry_run: bool = False
    ) -> ImportReport:
        """Read a .csv/.xlsx ledger and apply it (see ``import_sheet``)."""
        return self.import_sheet(ledger_files.read_sheet(path), user=user, dry_run=dry_run)

    def import_sheet(
        self, sheet: LedgerSheet, *, user: str | Principal = SYSTEM_USER, dry_run: bool = False
    ) -> ImportReport:
        """Upsert every row by asset_no, all or nothing.

        Raises LedgerError listing every bad row; then nothing has changed. ``dry_run``
        validates and reports without writing.
        """
        with self._db.transaction(write=not dry_run) as tx:
            # Locking every site (in code order, so two importers cannot deadlock) makes
            # ledger writers take turns on PostgreSQL too: validation sees what is written.
            sites = tx.rows(SiteRow, order_by=["code"], lock=not dry_run)
            existing = {row.asset_no: asset_from_row(row) for row in tx.rows(AssetRow)}
            context = LedgerContext(
                profiles=self.profiles,
                sites={row.code for row in sites},
                existing=existing,
            )
            parsed = validate_sheet(sheet, context)
            changes = plan_import(parsed, existing)
            report = ImportReport(sheet.source, tuple(changes), dry_run)
            if not dry_run:
                self._apply(tx, sheet.source, parsed, existing, report, user)
        log.info(
            "ledger import source=%s created=%d updated=%d unchanged=%d dry_run=%s",
            sheet.source,
            report.created,
            report.updated,
            report.unchanged,
            dry_run,
        )
        return report

    # Kept under the name the issue uses.
    import_rows = import_sheet

    def _apply(
        self,
        tx: Tx,
        source: str,
        parsed: Sequence[tuple[int, Asset]],
        existing: Mapping[str, Asset],
        report: ImportReport,
        user: str | Principal,
    ) -> None:
        now = _now()
        by_no = {asset.asset_no: asset for _, asset in parsed}
        allocated = {row.asset_no for row in tx.rows(AssetNumberRow)}
        created = [by_no[c.asset_no] for c in report.changes if c.action is Action.CREATED]
        note = f"import {Path(source).name}"
        for asset in _parents_first(created):
            if asset.asset_no not in allocated:
                number = AssetNo.parse(asset.asset_no)
                tx.add(
                    AssetNumberRow(
                        asset_no=asset.asset_no,
                        site=number.site,
                        device_class=number.device_class.value,
                        seq=number.seq,
                        allocated_at=now,
                        reason=note,
                    )
                )
            row = AssetRow(asset_no=asset.asset_no, created_at=now)
            _fill(row, asset, now)
            tx.add(row)
            self._status_change(tx, asset.asset_no, None, asset.status, user, note, now)
            self._audit(tx, user, "asset.create", asset.asset_no, asset_values(asset), now)
            log.debug("asset_no=%s created source=%s", asset.asset_no, source)
        # Inserts first: an update may point an existing asset at a parent created just now.
        tx.flush()
        for change in report.changes:
            if change.action is not Action.UPDATED:
                continue
            old, new = existing[change.asset_no], by_no[change.asset_no]
            stored = tx.get(AssetRow, change.asset_no)
            assert stored is not None
            _fill(stored, new, now)
            if old.status is not new.status:
                self._status_change(tx, new.asset_no, old.status, new.status, user, note, now)
            before, after = asset_values(old), asset_values(new)
            detail = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
            self._audit(tx, user, "asset.update", new.asset_no, detail, now)
            log.debug("asset_no=%s updated fields=%s", new.asset_no, ",".join(change.changed))
        self._audit(
            tx,
            user,
            "ledger.import",
            Path(source).name,
            {
                "source": source,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
            now,
        )

    def export(self, path: Path, site: str | None = None) -> int:
        """Write the ledger (or one site's) to .csv or .xlsx; returns the number of assets."""
        assets = self.assets(site)
        ledger_files.write_ledger_file(assets, path)
        return len(assets)

    # --- numbering and status ------------------------------------------------------------

    def allocate(
        self,
        site: str,
        device_class: DeviceClass | str,
        count: int,
        reason: str = "allocated",
        *,
        user: str | Principal = SYSTEM_USER,
    ) -> list[str]:
        """Allocate and record the next ``count`` numbers; they are never given out again."""
        site = site.upper()
        for attempt in range(1, ALLOCATE_ATTEMPTS + 1):
            try:
                return self._allocate_once(site, device_class, count, reason, user)
            except ConflictError:
                # Should not happen (the site row is locked), but a number imported at the same
                # moment by an older version would collide: recompute from what is recorded.
                if attempt == ALLOCATE_ATTEMPTS:
                    raise
                log.warning("site=%s class=%s allocation collided, retrying", site, device_class)
        raise AssertionError("unreachable")

    def _allocate_once(
        self,
        site: str,
        device_class: DeviceClass | str,
        count: int,
        reason: str,
        user: str | Principal,
    ) -> list[str]:
        with self._db.transaction(write=True) as tx:
            if tx.get(SiteRow, site, lock=True) is None:  # allocations of a site take turns
                known = ", ".join(r.code for r in tx.rows(SiteRow, order_by=["code"]))
                known = known or "none: run `facility ledger init`"
                raise ConfigError(f"site: unknown site {site!r} (known: {known})")
            cls = str(device_class).upper()
            existing = [r.asset_no for r in tx.rows(AssetNumberRow, site=site, device_class=cls)]
            numbers = next_numbers(existing, site, cls, count)
            now = _now()
            for text in numbers:
                number = AssetNo.parse(text)
                tx.add(
                    AssetNumberRow(
                        asset_no=text,
                        site=site,
                        device_class=number.device_class.value,
                        seq=number.seq,
                        allocated_at=now,
                        reason=reason,
                    )
                )
            self._audit(
                tx,
                user,
                "numbers.allocate",
                f"{site}-{cls}",
                {"numbers": numbers, "reason": reason},
                now,
            )
        log.info("site=%s class=%s allocated %s..%s", site, cls, numbers[0], numbers[-1])
        return numbers

    def set_status(
        self,
        asset_no: str,
        status: AssetStatus | str,
        user: str | Principal = SYSTEM_USER,
        note: str = "",
    ) -> Asset:
        """Move an asset in or out of service, or retire it (retired is final)."""
        new = AssetStatus(status)
        with self._db.transaction(write=True) as tx:
            row = tx.get(AssetRow, asset_no)
            if row is None:
                numbers = [r.asset_no for r in tx.rows(AssetRow)]
                close = difflib.get_close_matches(asset_no, numbers, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise ConfigError(f"unknown asset {asset_no}{hint}")
            old = AssetStatus(row.status)
            check_status_change(asset_no, old, new)
            cancelled: list[str] = []
            if old is not new:
                now = _now()
                row.status = new.value
                row.updated_at = now
                self._status_change(tx, asset_no, old, new, user, note, now)
                if new is AssetStatus.RETIRED:
                    # a retired asset is gone: its open orders go with it, saying why
                    reason = f"asset retired by {actor_name(user)}" + (f": {note}" if note else "")
                    for order in tx.execute(open_orders_of_asset_query(asset_no)).scalars():
                        cancel_row(tx, order, actor_name(user), now, reason[:500])
                        cancelled.append(order.number)
                self._audit(
                    tx,
                    user,
                    "asset.status",
                    asset_no,
                    {"from": old.value, "to": new.value, "note": note, "cancelled": cancelled},
                    now,
                )
            asset = asset_from_row(row)
        if old is not new:
            log.info(
                "asset_no=%s status %s -> %s by=%s cancelled_orders=%s",
                asset_no,
                old.value,
                new.value,
                actor_name(user),
                ",".join(cancelled) or "-",
            )
        return asset

    # --- records -------------------------------------------------------------------------

    @staticmethod
    def _status_change(
        tx: Tx,
        asset_no: str,
        old: AssetStatus | None,
        new: AssetStatus,
        user: str | Principal,
        note: str,
        now: datetime,
    ) -> None:
        tx.add(
            StatusChangeRow(
                asset_no=asset_no,
                from_status=old.value if old else None,
                to_status=new.value,
                at=now,
                actor=actor_name(user),
                note=note,
            )
        )

    @staticmethod
    def _audit(
        tx: Tx,
        user: str | Principal,
        action: str,
        entity: str,
        detail: Mapping[str, Any],
        now: datetime | None = None,
    ) -> None:
        """The audit row of a ledger change, in its transaction: a person (with where the
        change came from), or a service named by a string (source ``system``)."""
        tx.add(audit_row(user, action, entity, detail, at=now or _now()))
