"""Corrective orders from alarms: the journal cursor and the raises handled, in SQL.

Revision ID: 0005_alarm_orders
Revises: 0004_identity
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_alarm_orders"
down_revision: str | None = "0004_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm_order_cursor",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("after_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_alarm_order_cursor"),
    )
    op.create_table(
        "alarm_raise_orders",
        sa.Column("raise_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name="fk_alarm_raise_orders_work_order_id_work_orders",
        ),
        sa.PrimaryKeyConstraint("raise_id", name="pk_alarm_raise_orders"),
    )
    op.create_index("ix_alarm_raise_orders_work_order_id", "alarm_raise_orders", ["work_order_id"])


def downgrade() -> None:
    op.drop_table("alarm_raise_orders")
    op.drop_table("alarm_order_cursor")
