"""Several drawings per site: floor plans, workshop plans and schematic drawings beside the site plan.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

- drawings: one row per drawing other than the site plan (key, title, kind, building on the site plan, storey and
  its order, a schematic drawing's plane).
- layout_versions.drawing_id and layout_features.drawing_id (plain integers): NULL is the site plan, so every row
  written before stays the site plan and nothing is rewritten; the two feature indexes get drawing_id after
  enterprise_id (a floor plan lies over its building on the site plan: the site plan's bbox queries must not scan
  it).
- units.placements: a unit's features on drawings other than the site plan ({drawing key: fid}).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import Data, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drawings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("building_ref", sa.Text(), nullable=True),
        sa.Column("storey", sa.String(16), nullable=True),
        sa.Column("storey_order", sa.Integer(), nullable=True),
        sa.Column("plane", Data(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], name="fk_drawings_enterprise_id_enterprises"),
        sa.PrimaryKeyConstraint("id", name="pk_drawings"),
        sa.UniqueConstraint("enterprise_id", "key", name="uq_drawings_enterprise_id_key"),
    )
    op.create_index("ix_drawings_enterprise_id", "drawings", ["enterprise_id"])
    # Plain columns, added in place on both backends: on SQLite a foreign key would rebuild the tables, and a
    # rebuilt layout_versions or units loses the references of the rows pointing at it (layout_features,
    # risk_events). Drawings are never deleted, so the id needs no constraint to stay true.
    op.add_column("layout_versions", sa.Column("drawing_id", sa.Integer(), nullable=True))
    op.add_column("layout_features", sa.Column("drawing_id", sa.Integer(), nullable=True))
    op.add_column("units", sa.Column("placements", Data(), nullable=True))
    op.drop_index("ix_layout_features_bbox", table_name="layout_features")
    op.drop_index("ix_layout_features_fid", table_name="layout_features")
    op.create_index("ix_layout_features_bbox", "layout_features",
                    ["enterprise_id", "drawing_id", "valid_to", "minx", "maxx", "miny", "maxy"])
    op.create_index("ix_layout_features_fid", "layout_features", ["enterprise_id", "drawing_id", "fid", "valid_to"])


def downgrade() -> None:
    op.drop_index("ix_layout_features_fid", table_name="layout_features")
    op.drop_index("ix_layout_features_bbox", table_name="layout_features")
    op.execute("DELETE FROM layout_features WHERE drawing_id IS NOT NULL")
    op.execute("DELETE FROM layout_versions WHERE drawing_id IS NOT NULL")
    op.drop_column("units", "placements")
    op.drop_column("layout_features", "drawing_id")
    op.drop_column("layout_versions", "drawing_id")
    op.create_index("ix_layout_features_bbox", "layout_features",
                    ["enterprise_id", "valid_to", "minx", "maxx", "miny", "maxy"])
    op.create_index("ix_layout_features_fid", "layout_features", ["enterprise_id", "fid", "valid_to"])
    op.drop_index("ix_drawings_enterprise_id", table_name="drawings")
    op.drop_table("drawings")
