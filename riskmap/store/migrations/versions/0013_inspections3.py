"""Inspections, part 3: a photo per answered item of a check record (inspection_photos); an index on the tasks of a
unit (a click on the coverage map and a check saved read one unit's tasks, not 100,000).

Revision ID: 0013_inspections3
Revises: 0009
Create Date: 2026-12-06

The lead re-chains down_revision at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import Data, UTCDateTime

revision = "0013_inspections3"
down_revision = "0012_hazards2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create inspection_photos and the tasks' unit index."""
    op.create_index("ix_inspection_tasks_unit", "inspection_tasks", ["enterprise_id", "unit_code"])
    op.create_table(
        "inspection_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("gps", Data(), nullable=True),
        sa.Column("taken_at", sa.String(32), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=True),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("hazard_id", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_inspection_photos_enterprise_id_enterprises"),
        sa.ForeignKeyConstraint(["record_id"], ["inspection_records.id"],
                                name="fk_inspection_photos_record_id_inspection_records"),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["accounts.id"],
                                name="fk_inspection_photos_uploaded_by_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_inspection_photos"),
        sa.UniqueConstraint("record_id", "item", name="uq_inspection_photos_record_id_item"),
    )


def downgrade() -> None:
    """Drop them (the photo files in the media folder stay)."""
    op.drop_table("inspection_photos")
    op.drop_index("ix_inspection_tasks_unit", table_name="inspection_tasks")
