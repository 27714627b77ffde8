"""Initial schema: enterprises, data versions, layout versions and features, ledger versions, units, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

The same on SQLite and PostgreSQL; the GiST index on feature geometry is PostgreSQL only (on SQLite the
bbox columns and their index do that job). Constraint names are spelled out so that they match the ORM's
naming convention on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import Data, LonLatGeometry, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _enterprise_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], name=f"fk_{table}_enterprise_id_enterprises")


def _text(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "enterprises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("short_name", sa.String(200), nullable=True),
        sa.Column("supervision_phone", sa.String(64), nullable=True),
        sa.Column("report_phone", sa.String(64), nullable=True),
        sa.Column("emergency_phone", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enterprises"),
        sa.UniqueConstraint("name", name="uq_enterprises_name"),
    )
    op.create_table(
        "data_versions",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _enterprise_fk("data_versions"),
        sa.PrimaryKeyConstraint("enterprise_id", name="pk_data_versions"),
    )
    op.create_table(
        "layout_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        _text("source_name"),
        sa.Column("source_format", sa.String(32), nullable=True),
        _text("crs"),
        sa.Column("georeferenced", sa.Boolean(), nullable=False),
        sa.Column("report", Data(), nullable=False),
        _text("note"),
        sa.Column("author", sa.String(200), nullable=True),
        sa.Column("feature_count", sa.Integer(), nullable=False),
        _enterprise_fk("layout_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_layout_versions"),
        sa.UniqueConstraint("enterprise_id", "number", name="uq_layout_versions_enterprise_id_number"),
    )
    op.create_index("ix_layout_versions_enterprise_id", "layout_versions", ["enterprise_id"])
    op.create_table(
        "ledger_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        _text("source"),
        sa.Column("default_profile", sa.String(200), nullable=True),
        _text("note"),
        sa.Column("author", sa.String(200), nullable=True),
        sa.Column("unit_count", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        _enterprise_fk("ledger_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_versions"),
        sa.UniqueConstraint("enterprise_id", "number", name="uq_ledger_versions_enterprise_id_number"),
    )
    op.create_index("ix_ledger_versions_enterprise_id", "ledger_versions", ["enterprise_id"])
    op.create_table(
        "layout_features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("layout_version_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Integer(), nullable=False),
        sa.Column("valid_to", sa.Integer(), nullable=True),
        _text("fid"),
        _text("name"),
        sa.Column("role", sa.String(32), nullable=True),
        _text("layer"),
        sa.Column("properties", Data(), nullable=False),
        sa.Column("geometry", LonLatGeometry(), nullable=True),
        sa.Column("minx", sa.Double(), nullable=True),
        sa.Column("miny", sa.Double(), nullable=True),
        sa.Column("maxx", sa.Double(), nullable=True),
        sa.Column("maxy", sa.Double(), nullable=True),
        _enterprise_fk("layout_features"),
        sa.ForeignKeyConstraint(["layout_version_id"], ["layout_versions.id"],
                                name="fk_layout_features_layout_version_id_layout_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_layout_features"),
    )
    op.create_index("ix_layout_features_bbox", "layout_features",
                    ["enterprise_id", "valid_to", "minx", "maxx", "miny", "maxy"])
    op.create_index("ix_layout_features_layout_version_id", "layout_features", ["layout_version_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_layout_features_geometry", "layout_features", ["geometry"], postgresql_using="gist")
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("ledger_version_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Integer(), nullable=False),
        sa.Column("valid_to", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("code", nullable=False),
        _text("name", nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _text("parent_code"),
        sa.Column("geometry", LonLatGeometry(), nullable=True),
        _text("feature_ref"),
        sa.Column("weight", sa.String(64), nullable=False),
        _text("department"),
        _text("person"),
        sa.Column("last_assessed", sa.Date(), nullable=True),
        _text("work_content"),
        _text("workplace"),
        sa.Column("override", Data(), nullable=True),
        sa.Column("major_hazard", Data(), nullable=True),
        _enterprise_fk("units"),
        sa.ForeignKeyConstraint(["ledger_version_id"], ["ledger_versions.id"],
                                name="fk_units_ledger_version_id_ledger_versions"),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
    )
    op.create_index("ix_units_current", "units", ["enterprise_id", "valid_to", "code"])
    op.create_index("ix_units_ledger_version_id", "units", ["ledger_version_id"])
    op.create_table(
        "risk_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("code"),
        _text("name", nullable=False),
        _text("hazard_factor"),
        sa.Column("hazard_code", sa.String(64), nullable=True),
        _text("accident_type"),
        _text("accident_type_2025"),
        _text("cause"),
        _text("consequence"),
        _text("impact_range"),
        sa.Column("method", sa.String(200), nullable=True),
        sa.Column("inputs", Data(), nullable=False),
        sa.Column("inherent_inputs", Data(), nullable=False),
        sa.Column("residual", Data(), nullable=True),
        sa.Column("inherent", Data(), nullable=True),
        sa.Column("residual_level", sa.String(32), nullable=True),
        sa.Column("inherent_level", sa.String(32), nullable=True),
        _text("existing_measures"),
        _text("measure_effectiveness"),
        sa.Column("controls", Data(), nullable=False),
        _text("emergency_measures"),
        sa.Column("override", Data(), nullable=True),
        sa.Column("direct_rules", Data(), nullable=False),
        _text("location"),
        _enterprise_fk("risk_events"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_risk_events_unit_id_units"),
        sa.PrimaryKeyConstraint("id", name="pk_risk_events"),
    )
    op.create_index("ix_risk_events_enterprise_id", "risk_events", ["enterprise_id"])
    op.create_index("ix_risk_events_unit_id", "risk_events", ["unit_id"])


def downgrade() -> None:
    for table in ("risk_events", "units", "layout_features", "ledger_versions", "layout_versions",
                  "data_versions", "enterprises"):
        op.drop_table(table)
