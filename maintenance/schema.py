"""The SQL schema of the maintenance database (SQLAlchemy 2 typed ORM).

Dialect-neutral on purpose: plain strings with CHECK constraints instead of native enums,
``JSON`` and timezone-aware ``DateTime``, so the same schema and migrations run on SQLite
(the default) and PostgreSQL. Alembic migrations in ``maintenance/migrations`` create exactly
these tables; a test compares the migrated database with this metadata.

Only this module, ``maintenance.db`` and the migrations import SQLAlchemy. Rows are mapped to
``facility.types.Asset`` inside ``maintenance.store``, never above it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names: migrations and PostgreSQL need them to alter or drop constraints.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUSES = ("in_service", "out_of_service", "retired")
CRITICALITIES = ("high", "medium", "low")
DEVICE_CLASSES = ("PMP", "PDP", "TNK", "LGT", "FAP")
PROTOCOLS = ("modbus", "opcua")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SiteRow(Base):
    """An estate."""

    __tablename__ = "sites"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))


class AssetNumberRow(Base):
    """Every asset number ever allocated, so none is ever given out twice."""

    __tablename__ = "asset_numbers"
    __table_args__ = (UniqueConstraint("site", "device_class", "seq"),)

    asset_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    site: Mapped[str] = mapped_column(String(8), ForeignKey("sites.code"))
    device_class: Mapped[str] = mapped_column(String(3))
    seq: Mapped[int] = mapped_column(Integer)
    allocated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(200))


class AssetRow(Base):
    """One numbered asset: what it is, where it is and how to reach it."""

    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint(_in("device_class", DEVICE_CLASSES), name="device_class"),
        CheckConstraint(_in("criticality", CRITICALITIES), name="criticality"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(f"protocol IS NULL OR {_in('protocol', PROTOCOLS)}", name="protocol"),
        Index(None, "site", "device_class"),
    )

    asset_no: Mapped[str] = mapped_column(
        String(32), ForeignKey("asset_numbers.asset_no"), primary_key=True
    )
    site: Mapped[str] = mapped_column(String(8), ForeignKey("sites.code"))
    device_class: Mapped[str] = mapped_column(String(3))
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    building: Mapped[str] = mapped_column(String(100))
    zone: Mapped[str] = mapped_column(String(100))
    system: Mapped[str] = mapped_column(String(50))
    profile: Mapped[str | None] = mapped_column(String(64))
    make: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    serial: Mapped[str] = mapped_column(String(100))
    install_date: Mapped[date | None] = mapped_column(Date)
    criticality: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    protocol: Mapped[str | None] = mapped_column(String(16))
    host: Mapped[str | None] = mapped_column(String(253))
    port: Mapped[int | None] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(Integer)
    opcua_url: Mapped[str | None] = mapped_column(String(300))
    node_root: Mapped[str | None] = mapped_column(String(200))
    parent_asset_no: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("assets.asset_no"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatusChangeRow(Base):
    """One change of an asset's status (the first row is its creation)."""

    __tablename__ = "asset_status_history"
    __table_args__ = (
        CheckConstraint(
            f"from_status IS NULL OR {_in('from_status', STATUSES)}", name="from_status"
        ),
        CheckConstraint(_in("to_status", STATUSES), name="to_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_no: Mapped[str] = mapped_column(String(32), ForeignKey("assets.asset_no"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(1000))


class AuditRow(Base):
    """Who changed what, when, from where: one row per change (ledger, users, sign-ins and
    refusals). Append-only: migration 0004 adds triggers refusing UPDATE and DELETE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), server_default="system")
    remote: Mapped[str | None] = mapped_column(String(100))
