"""The drawn units' re-assessment flags out of map_features into the narrow map_flags, with a marker per change
(map_flag_changes): an accident that flags every unit writes narrow rows, not 100,000 wide map rows with all
their indexes (riskmap.store.mapdata).

Revision ID: 0015_flags
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.scope import policy_sql, unpolicy_sql

revision = "0015_flags"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("map_flags", "map_flag_changes")


def upgrade() -> None:
    """Create the two tables, move the stored flags of live unit rows over, drop map_features.flag."""
    op.create_table(
        "map_flags",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("flag", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id", "key", name="pk_map_flags"),     # no foreign key: see mapdata
    )
    op.create_table(
        "map_flag_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_map_flag_changes_enterprise_id_enterprises"),
        sa.PrimaryKeyConstraint("id", name="pk_map_flag_changes"),
    )
    op.create_index("ix_map_flag_changes_version", "map_flag_changes", ["enterprise_id", "data_version"])
    op.execute("INSERT INTO map_flags (enterprise_id, key, flag) SELECT enterprise_id, key, flag FROM map_features "
               "WHERE layer = 'units' AND flag IS NOT NULL AND flag <> '' AND geometry IS NOT NULL")
    with op.batch_alter_table("map_features") as batch:
        batch.drop_column("flag")
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            for statement in policy_sql(table):
                op.execute(statement)


def downgrade() -> None:
    """map_features.flag again, filled from map_flags; the two tables dropped."""
    with op.batch_alter_table("map_features") as batch:
        batch.add_column(sa.Column("flag", sa.Text(), nullable=True))
    op.execute("UPDATE map_features SET flag = (SELECT f.flag FROM map_flags f WHERE f.enterprise_id = "
               "map_features.enterprise_id AND f.key = map_features.key) WHERE layer = 'units'")
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            for statement in unpolicy_sql(table):
                op.execute(statement)
    op.drop_index("ix_map_flag_changes_version", table_name="map_flag_changes")
    op.drop_table("map_flag_changes")
    op.drop_table("map_flags")
