"""Inspections: tasks, shutdowns (停用/检修), QR checkpoints (token hashes only) and append-only check records.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

The lead re-chains down_revision at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import Data, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _enterprise_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], name=f"fk_{table}_enterprise_id_enterprises")


def upgrade() -> None:
    """Create the four inspection tables."""
    op.create_table(
        "inspection_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("event_code", sa.Text(), nullable=True),
        sa.Column("control_index", sa.Integer(), nullable=True),
        sa.Column("control_text", sa.Text(), nullable=True),
        sa.Column("control_class", sa.String(64), nullable=True),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("fid", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("items", Data(), nullable=False),
        sa.Column("cadence", Data(), nullable=False),
        sa.Column("assignee", Data(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=True),
        _enterprise_fk("inspection_tasks"),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_tasks"),
        sa.UniqueConstraint("enterprise_id", "key", name="uq_inspection_tasks_enterprise_id_key"),
    )
    op.create_table(
        "inspection_shutdowns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        _enterprise_fk("inspection_shutdowns"),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_shutdowns"),
    )
    op.create_index("ix_inspection_shutdowns_enterprise_id", "inspection_shutdowns", ["enterprise_id"])
    op.create_table(
        "inspection_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=True),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        _enterprise_fk("inspection_checkpoints"),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_checkpoints"),
        sa.UniqueConstraint("token_hash", name="uq_inspection_checkpoints_token_hash"),
    )
    op.create_index("ix_inspection_checkpoints_unit", "inspection_checkpoints",
                    ["enterprise_id", "unit_code", "retired_at"])
    op.create_table(
        "inspection_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("device", sa.String(200), nullable=True),
        sa.Column("items", Data(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        _enterprise_fk("inspection_records"),
        sa.ForeignKeyConstraint(["task_id"], ["inspection_tasks.id"],
                                name="fk_inspection_records_task_id_inspection_tasks"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_inspection_records_account_id_accounts"),
        sa.ForeignKeyConstraint(["corrects_id"], ["inspection_records.id"],
                                name="fk_inspection_records_corrects_id_inspection_records"),
        sa.ForeignKeyConstraint(["checkpoint_id"], ["inspection_checkpoints.id"],
                                name="fk_inspection_records_checkpoint_id_inspection_checkpoints"),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_records"),
    )
    op.create_index("ix_inspection_records_window", "inspection_records", ["enterprise_id", "task_id", "window_start"])
    op.create_index("ix_inspection_records_checked", "inspection_records", ["enterprise_id", "checked_at"])


def downgrade() -> None:
    """Drop them, children first."""
    op.drop_index("ix_inspection_records_checked", table_name="inspection_records")
    op.drop_index("ix_inspection_records_window", table_name="inspection_records")
    op.drop_table("inspection_records")
    op.drop_index("ix_inspection_checkpoints_unit", table_name="inspection_checkpoints")
    op.drop_table("inspection_checkpoints")
    op.drop_index("ix_inspection_shutdowns_enterprise_id", table_name="inspection_shutdowns")
    op.drop_table("inspection_shutdowns")
    op.drop_table("inspection_tasks")
