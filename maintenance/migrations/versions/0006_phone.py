"""The technician's phone: order versions, idempotent submits, photos and signatures.

Revision ID: 0006_phone
Revises: 0005_alarm_orders
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_phone"
down_revision: str | None = "0005_alarm_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "wo_submissions",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name="fk_wo_submissions_work_order_id_work_orders",
        ),
        sa.PrimaryKeyConstraint("key", name="pk_wo_submissions"),
    )
    op.create_index("ix_wo_submissions_work_order_id", "wo_submissions", ["work_order_id"])
    op.create_table(
        "wo_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mime", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('photo', 'signature')", name="ck_wo_attachments_kind"),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name="fk_wo_attachments_work_order_id_work_orders",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_attachments"),
    )
    op.create_index("ix_wo_attachments_work_order_id", "wo_attachments", ["work_order_id"])
    op.create_index("ix_wo_attachments_sha256", "wo_attachments", ["sha256"])


def downgrade() -> None:
    op.drop_table("wo_attachments")
    op.drop_table("wo_submissions")
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("version")
