"""Preventive maintenance and work orders: plans, occurrences, orders and their records.

Revision ID: 0003_maintenance
Revises: 0002_alarms
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_maintenance"
down_revision: str | None = "0002_alarms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WO_STATES = (
    "'open', 'assigned', 'in_progress', 'on_hold', 'completed', 'verified', 'closed', 'cancelled'"
)
PRIORITIES = "'critical', 'high', 'medium', 'low'"

# The failure-code catalogue as shipped with this revision (the table takes more later).
FAILURE_CODES = (
    ("P-LEAK", "problem", "Leak", "渗漏"),
    ("P-NOISE", "problem", "Noise or vibration", "异响或振动"),
    ("P-TRIP", "problem", "Tripped / stopped", "跳闸/停机"),
    ("P-NOSTART", "problem", "Does not start", "无法启动"),
    ("P-PRESSURE", "problem", "Pressure out of range", "压力异常"),
    ("P-LEVEL", "problem", "Level out of range", "液位异常"),
    ("P-QUALITY", "problem", "Water quality out of range", "水质异常"),
    ("P-LAMP", "problem", "Lamps out", "灯具不亮"),
    ("P-ALARM", "problem", "Alarm or fault indication", "报警或故障指示"),
    ("P-DOOR", "problem", "Door or lock", "门或锁"),
    ("P-COMM", "problem", "No communication", "通讯中断"),
    ("P-FLOOD", "problem", "Flooding", "水浸"),
    ("C-WEAR", "cause", "Wear", "磨损"),
    ("C-BLOCK", "cause", "Blockage or debris", "堵塞或杂物"),
    ("C-DRY", "cause", "No water at the inlet", "进口缺水"),
    ("C-ELEC", "cause", "Electrical fault", "电气故障"),
    ("C-SENSOR", "cause", "Sensor fault", "传感器故障"),
    ("C-SUPPLY", "cause", "Supply lost (water or power)", "供水或供电中断"),
    ("C-USE", "cause", "Misuse or vandalism", "使用不当或人为破坏"),
    ("C-WEATHER", "cause", "Weather", "天气原因"),
    ("C-UNKNOWN", "cause", "Cause not found", "原因不明"),
    ("R-REPLACE", "remedy", "Part replaced", "更换部件"),
    ("R-REPAIR", "remedy", "Repaired", "维修"),
    ("R-CLEAN", "remedy", "Cleaned", "清洁"),
    ("R-ADJUST", "remedy", "Adjusted or reset", "调整或复位"),
    ("R-CONTRACTOR", "remedy", "Handed to a contractor", "委外维修"),
    ("R-NONE", "remedy", "No action needed", "无需处理"),
)


def _at() -> sa.Column[object]:
    return sa.Column("at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "pm_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_no", sa.String(32), nullable=False),
        sa.Column("site", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=False),
        sa.Column("title_zh", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("profile", sa.String(64), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("definition_hash", sa.String(40), nullable=False),
        sa.Column("anchor", sa.Date(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("active_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("baseline", sa.JSON(), nullable=False),
        sa.Column("last_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_threshold", sa.JSON(), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.Column("last_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('profile', 'override', 'asset')", name="ck_pm_plans_source"),
        sa.ForeignKeyConstraint(
            ["asset_no"], ["assets.asset_no"], name="fk_pm_plans_asset_no_assets"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pm_plans"),
        sa.UniqueConstraint("asset_no", "name", name="uq_pm_plans_asset_no_name"),
    )
    op.create_index("ix_pm_plans_site", "pm_plans", ["site"])
    op.create_index("ix_pm_plans_next_check_at", "pm_plans", ["next_check_at"])
    op.create_table(
        "pm_occurrences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.CheckConstraint(
            "state IN ('generated', 'missed', 'skipped')", name="ck_pm_occurrences_state"
        ),
        sa.CheckConstraint(
            "trigger IN ('calendar', 'floating', 'meter', 'condition')",
            name="ck_pm_occurrences_trigger",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["pm_plans.id"], name="fk_pm_occurrences_plan_id_pm_plans"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pm_occurrences"),
        sa.UniqueConstraint("plan_id", "slot", name="uq_pm_occurrences_plan_id_slot"),
    )
    op.create_index("ix_pm_occurrences_due", "pm_occurrences", ["due"])
    op.create_table(
        "wo_sequences",
        sa.Column("site", sa.String(8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name="fk_wo_sequences_site_sites"),
        sa.PrimaryKeyConstraint("site", "year", name="pk_wo_sequences"),
    )
    failure_codes = op.create_table(
        "failure_codes",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label_en", sa.String(200), nullable=False),
        sa.Column("label_zh", sa.String(200), nullable=False),
        sa.CheckConstraint("kind IN ('problem', 'cause', 'remedy')", name="ck_failure_codes_kind"),
        sa.PrimaryKeyConstraint("code", name="pk_failure_codes"),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("site", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("asset_no", sa.String(32), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("condition", sa.String(100), nullable=True),
        sa.Column("open_key", sa.String(140), nullable=True),
        sa.Column("title_en", sa.String(300), nullable=False),
        sa.Column("title_zh", sa.String(300), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=True),
        sa.Column("skill", sa.String(50), nullable=False),
        sa.Column("estimated_min", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completion_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem_code", sa.String(32), nullable=True),
        sa.Column("cause_code", sa.String(32), nullable=True),
        sa.Column("remedy_code", sa.String(32), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("alarm_count", sa.Integer(), nullable=False),
        sa.Column("last_alarm_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signal", sa.JSON(), nullable=True),
        sa.Column("verification", sa.JSON(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("asset_down", sa.Boolean(), nullable=False),
        sa.Column("completion_note", sa.String(2000), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('preventive', 'corrective')", name="ck_work_orders_kind"),
        sa.CheckConstraint(f"state IN ({WO_STATES})", name="ck_work_orders_state"),
        sa.CheckConstraint(f"priority IN ({PRIORITIES})", name="ck_work_orders_priority"),
        sa.ForeignKeyConstraint(
            ["asset_no"], ["assets.asset_no"], name="fk_work_orders_asset_no_assets"
        ),
        sa.ForeignKeyConstraint(
            ["cause_code"], ["failure_codes.code"], name="fk_work_orders_cause_code_failure_codes"
        ),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["pm_occurrences.id"],
            name="fk_work_orders_occurrence_id_pm_occurrences",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["work_orders.id"], name="fk_work_orders_parent_id_work_orders"
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["pm_plans.id"], name="fk_work_orders_plan_id_pm_plans"
        ),
        sa.ForeignKeyConstraint(
            ["problem_code"],
            ["failure_codes.code"],
            name="fk_work_orders_problem_code_failure_codes",
        ),
        sa.ForeignKeyConstraint(
            ["remedy_code"],
            ["failure_codes.code"],
            name="fk_work_orders_remedy_code_failure_codes",
        ),
        sa.ForeignKeyConstraint(["site"], ["sites.code"], name="fk_work_orders_site_sites"),
        sa.PrimaryKeyConstraint("id", name="pk_work_orders"),
        sa.UniqueConstraint("number", name="uq_work_orders_number"),
        sa.UniqueConstraint("occurrence_id", name="uq_work_orders_occurrence_id"),
        sa.UniqueConstraint("open_key", name="uq_work_orders_open_key"),
    )
    op.create_index("ix_work_orders_site_state", "work_orders", ["site", "state"])
    op.create_index("ix_work_orders_asset_no_state", "work_orders", ["asset_no", "state"])
    op.create_index("ix_work_orders_plan_id_state", "work_orders", ["plan_id", "state"])
    op.create_table(
        "work_order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        _at(),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name="fk_work_order_events_work_order_id_work_orders",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_work_order_events"),
    )
    op.create_index("ix_work_order_events_work_order_id", "work_order_events", ["work_order_id"])
    op.create_table(
        "wo_checklist_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text_en", sa.String(300), nullable=False),
        sa.Column("text_zh", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(20), nullable=True),
        sa.Column("low", sa.Float(), nullable=True),
        sa.Column("high", sa.Float(), nullable=True),
        sa.Column("point", sa.String(64), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(2000), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(100), nullable=True),
        sa.CheckConstraint(
            "kind IN ('pass_fail', 'number', 'meter', 'text', 'photo')",
            name="ck_wo_checklist_items_kind",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name="fk_wo_checklist_items_work_order_id_work_orders",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_checklist_items"),
        sa.UniqueConstraint(
            "work_order_id", "position", name="uq_wo_checklist_items_work_order_id_position"
        ),
    )
    op.create_table(
        "wo_labour",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("technician", sa.String(100), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        _at(),
        sa.Column("note", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"], ["work_orders.id"], name="fk_wo_labour_work_order_id_work_orders"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_labour"),
    )
    op.create_index("ix_wo_labour_work_order_id", "wo_labour", ["work_order_id"])
    op.create_table(
        "wo_parts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("part_no", sa.String(100), nullable=False),
        _at(),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"], ["work_orders.id"], name="fk_wo_parts_work_order_id_work_orders"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wo_parts"),
    )
    op.create_index("ix_wo_parts_work_order_id", "wo_parts", ["work_order_id"])
    op.create_table(
        "meter_readings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_no", sa.String(32), nullable=False),
        sa.Column("point", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        _at(),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.CheckConstraint(
            "source IN ('manual', 'checklist', 'historian', 'completion')",
            name="ck_meter_readings_source",
        ),
        sa.ForeignKeyConstraint(
            ["asset_no"], ["assets.asset_no"], name="fk_meter_readings_asset_no_assets"
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name="fk_meter_readings_work_order_id_work_orders",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_meter_readings"),
    )
    op.create_index(
        "ix_meter_readings_asset_no_point_at", "meter_readings", ["asset_no", "point", "at"]
    )
    generator = op.create_table(
        "pm_generator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_pass_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_pass_by", sa.String(100), nullable=True),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pm_generator"),
    )
    op.bulk_insert(
        failure_codes,
        [
            {"code": code, "kind": kind, "label_en": en, "label_zh": zh}
            for code, kind, en, zh in FAILURE_CODES
        ],
    )
    op.bulk_insert(generator, [{"id": 1, "passes": 0}])


def downgrade() -> None:
    op.drop_table("pm_generator")
    op.drop_table("meter_readings")
    op.drop_table("wo_parts")
    op.drop_table("wo_labour")
    op.drop_table("wo_checklist_items")
    op.drop_table("work_order_events")
    op.drop_table("work_orders")
    op.drop_table("failure_codes")
    op.drop_table("wo_sequences")
    op.drop_table("pm_occurrences")
    op.drop_table("pm_plans")
