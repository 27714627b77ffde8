"""Map snapshot: one row per drawn feature (regions, units, layout) in EPSG:3857, for tiles.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Derived data (see riskmap.store.mapdata): refreshed in every writing transaction. A database that already holds
enterprises gets their snapshots built on first use by the tile service (Store.rebuild_map), not here: building
needs the whole domain (attachment, region risk), which a migration should not run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.mapdata import MercatorGeometry

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "map_features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("level", sa.String(32), nullable=True),
        sa.Column("level_zh", sa.String(32), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("last_assessed", sa.String(10), nullable=True),
        sa.Column("geometry", MercatorGeometry(), nullable=True),
        sa.Column("minx", sa.Double(), nullable=True),
        sa.Column("miny", sa.Double(), nullable=True),
        sa.Column("maxx", sa.Double(), nullable=True),
        sa.Column("maxy", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_map_features_enterprise_id_enterprises"),
        sa.PrimaryKeyConstraint("id", name="pk_map_features"),
        sa.UniqueConstraint("enterprise_id", "layer", "key", name="uq_map_features_enterprise_id_layer_key"),
    )
    op.create_index("ix_map_features_changes", "map_features", ["enterprise_id", "data_version"])
    op.create_index("ix_map_features_bbox", "map_features", ["enterprise_id", "layer", "minx", "maxx", "miny", "maxy"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_map_features_geometry", "map_features", ["geometry"], postgresql_using="gist")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_map_features_geometry", table_name="map_features")
    op.drop_index("ix_map_features_bbox", table_name="map_features")
    op.drop_index("ix_map_features_changes", table_name="map_features")
    op.drop_table("map_features")
