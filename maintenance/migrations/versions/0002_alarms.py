"""Alarms: the append-only alarm journal and each alarm's current state.

Revision ID: 0002_alarms
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_alarms"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = (
    "'normal', 'unack', 'acked', 'rtn_unack', 'latched', 'shelved', 'suppressed', 'out_of_service'"
)
APPEND_ONLY = "alarm_journal is append-only"


def upgrade() -> None:
    op.create_table(
        "alarm_journal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alarm_id", sa.String(100), nullable=False),
        sa.Column("site", sa.String(8), nullable=False),
        sa.Column("asset_no", sa.String(32), nullable=True),
        sa.Column("alarm", sa.String(64), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("priority", sa.String(8), nullable=True),
        sa.Column("value", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("actor", sa.String(100), nullable=True),
        sa.Column("comment", sa.String(1000), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alarm_journal"),
    )
    op.create_index("ix_alarm_journal_site_at", "alarm_journal", ["site", "at"])
    op.create_index("ix_alarm_journal_alarm_id_at", "alarm_journal", ["alarm_id", "at"])
    op.create_table(
        "alarm_state",
        sa.Column("alarm_id", sa.String(100), nullable=False),
        sa.Column("site", sa.String(8), nullable=False),
        sa.Column("asset_no", sa.String(32), nullable=False),
        sa.Column("alarm", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("journal_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.JSON(), nullable=False),
        sa.CheckConstraint(f"state IN ({STATES})", name="ck_alarm_state_state"),
        sa.PrimaryKeyConstraint("alarm_id", name="pk_alarm_state"),
    )
    op.create_index("ix_alarm_state_asset_no", "alarm_state", ["asset_no"])
    op.create_index("ix_alarm_state_site_state", "alarm_state", ["site", "state"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER alarm_journal_no_{action.lower()} BEFORE {action} "
                f"ON alarm_journal BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION alarm_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER alarm_journal_append_only BEFORE UPDATE OR DELETE ON alarm_journal "
            "FOR EACH ROW EXECUTE FUNCTION alarm_journal_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS alarm_journal_append_only ON alarm_journal")
        op.execute("DROP FUNCTION IF EXISTS alarm_journal_append_only()")
    op.drop_table("alarm_state")
    op.drop_table("alarm_journal")
