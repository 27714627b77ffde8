"""Editing and history: the audit trail, re-assessment flags, accidents, API tokens; map_features.flag.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Nothing is rewritten: layouts and unit trees were append-only already; these tables record who changed what and
why, which units must be re-assessed, and who may edit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import Data, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _enterprise_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], name=f"fk_{table}_enterprise_id_enterprises")


def _change_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["changes.id"], name=f"fk_{table}_{column}_changes")


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("author", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("collection", sa.String(32), nullable=True),
        sa.Column("item_ids", Data(), nullable=False),
        sa.Column("layout_number", sa.Integer(), nullable=True),
        sa.Column("ledger_number", sa.Integer(), nullable=True),
        sa.Column("detail", Data(), nullable=True),
        _enterprise_fk("changes"),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
    )
    op.create_index("ix_changes_enterprise_at", "changes", ["enterprise_id", "at"])
    op.create_table(
        "reassessment_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("raised_change_id", sa.Integer(), nullable=True),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
        sa.Column("cleared_change_id", sa.Integer(), nullable=True),
        sa.Column("detail", Data(), nullable=True),
        _enterprise_fk("reassessment_flags"),
        _change_fk("reassessment_flags", "raised_change_id"),
        _change_fk("reassessment_flags", "cleared_change_id"),
        sa.PrimaryKeyConstraint("id", name="pk_reassessment_flags"),
    )
    op.create_index("ix_reassessment_flags_open", "reassessment_flags", ["enterprise_id", "cleared_at", "unit_code"])
    op.create_table(
        "accidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=True),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("deaths", sa.Integer(), nullable=False),
        sa.Column("serious_injuries", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=True),
        sa.Column("change_id", sa.Integer(), nullable=True),
        _enterprise_fk("accidents"),
        _change_fk("accidents", "change_id"),
        sa.PrimaryKeyConstraint("id", name="pk_accidents"),
    )
    op.create_index("ix_accidents_enterprise_id", "accidents", ["enterprise_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    with op.batch_alter_table("map_features") as batch:
        batch.add_column(sa.Column("flag", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("map_features") as batch:
        batch.drop_column("flag")
    op.drop_table("api_tokens")
    op.drop_index("ix_accidents_enterprise_id", table_name="accidents")
    op.drop_table("accidents")
    op.drop_index("ix_reassessment_flags_open", table_name="reassessment_flags")
    op.drop_table("reassessment_flags")
    op.drop_index("ix_changes_enterprise_at", table_name="changes")
    op.drop_table("changes")
