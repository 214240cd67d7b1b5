"""The ledger: sites, assets, every number ever allocated, status history, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'in_service', 'out_of_service', 'retired'"


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_sites"),
    )
    op.create_table(
        "asset_numbers",
        sa.Column("asset_no", sa.String(32), nullable=False),
        sa.Column("site", sa.String(8), nullable=False),
        sa.Column("device_class", sa.String(3), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name="fk_asset_numbers_site_sites"),
        sa.PrimaryKeyConstraint("asset_no", name="pk_asset_numbers"),
        sa.UniqueConstraint(
            "site", "device_class", "seq", name="uq_asset_numbers_site_device_class_seq"
        ),
    )
    op.create_table(
        "assets",
        sa.Column("asset_no", sa.String(32), nullable=False),
        sa.Column("site", sa.String(8), nullable=False),
        sa.Column("device_class", sa.String(3), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("building", sa.String(100), nullable=False),
        sa.Column("zone", sa.String(100), nullable=False),
        sa.Column("system", sa.String(50), nullable=False),
        sa.Column("profile", sa.String(64), nullable=True),
        sa.Column("make", sa.String(100), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("serial", sa.String(100), nullable=False),
        sa.Column("install_date", sa.Date(), nullable=True),
        sa.Column("criticality", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=True),
        sa.Column("host", sa.String(253), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("opcua_url", sa.String(300), nullable=True),
        sa.Column("node_root", sa.String(200), nullable=True),
        sa.Column("parent_asset_no", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "device_class IN ('PMP', 'PDP', 'TNK', 'LGT', 'FAP')", name="ck_assets_device_class"
        ),
        sa.CheckConstraint(
            "criticality IN ('high', 'medium', 'low')", name="ck_assets_criticality"
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_assets_status"),
        sa.CheckConstraint(
            "protocol IS NULL OR protocol IN ('modbus', 'opcua')", name="ck_assets_protocol"
        ),
        sa.ForeignKeyConstraint(
            ["asset_no"], ["asset_numbers.asset_no"], name="fk_assets_asset_no_asset_numbers"
        ),
        sa.ForeignKeyConstraint(
            ["parent_asset_no"], ["assets.asset_no"], name="fk_assets_parent_asset_no_assets"
        ),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name="fk_assets_site_sites"),
        sa.PrimaryKeyConstraint("asset_no", name="pk_assets"),
    )
    op.create_index("ix_assets_site_device_class", "assets", ["site", "device_class"])
    op.create_index("ix_assets_parent_asset_no", "assets", ["parent_asset_no"])
    op.create_table(
        "asset_status_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_no", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.CheckConstraint(
            f"from_status IS NULL OR from_status IN ({STATUSES})",
            name="ck_asset_status_history_from_status",
        ),
        sa.CheckConstraint(f"to_status IN ({STATUSES})", name="ck_asset_status_history_to_status"),
        sa.ForeignKeyConstraint(
            ["asset_no"], ["assets.asset_no"], name="fk_asset_status_history_asset_no_assets"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_asset_status_history"),
    )
    op.create_index("ix_asset_status_history_asset_no", "asset_status_history", ["asset_no"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("entity", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("asset_status_history")
    op.drop_table("assets")
    op.drop_table("asset_numbers")
    op.drop_table("sites")
