"""Organisations: chemical parks, enterprise profiles, regulators, their accounts and supervision records (挂牌督办).

Revision ID: 0010_orgs
Revises: 0009
Create Date: 2026-12-06

The lead re-chains down_revision at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import UTCDateTime

revision = "0010_orgs"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the five organisation tables."""
    op.create_table(
        "parks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_parks"),
        sa.UniqueConstraint("name", name="uq_parks_name"),
    )
    op.create_table(
        "enterprise_profiles",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=True),
        sa.Column("hazchem_code", sa.String(9), nullable=True),
        sa.Column("industry", sa.String(200), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("division_code", sa.String(6), nullable=False),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_enterprise_profiles_enterprise_id_enterprises"),
        sa.ForeignKeyConstraint(["park_id"], ["parks.id"], name="fk_enterprise_profiles_park_id_parks"),
        sa.PrimaryKeyConstraint("enterprise_id", name="pk_enterprise_profiles"),
        sa.UniqueConstraint("credit_code", name="uq_enterprise_profiles_credit_code"),
    )
    op.create_index("ix_enterprise_profiles_division", "enterprise_profiles", ["division_code"])
    op.create_index("ix_enterprise_profiles_park_id", "enterprise_profiles", ["park_id"])
    op.create_table(
        "regulators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("division_code", sa.String(6), nullable=True),
        sa.Column("park_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["park_id"], ["parks.id"], name="fk_regulators_park_id_parks"),
        sa.PrimaryKeyConstraint("id", name="pk_regulators"),
        sa.UniqueConstraint("name", name="uq_regulators_name"),
    )
    op.create_table(
        "regulator_accounts",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("regulator_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_regulator_accounts_account_id_accounts"),
        sa.ForeignKeyConstraint(["regulator_id"], ["regulators.id"],
                                name="fk_regulator_accounts_regulator_id_regulators"),
        sa.PrimaryKeyConstraint("account_id", name="pk_regulator_accounts"),
    )
    op.create_index("ix_regulator_accounts_regulator_id", "regulator_accounts", ["regulator_id"])
    op.create_table(
        "supervisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("regulator_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("document_number", sa.String(100), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_supervisions_enterprise_id_enterprises"),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazards.id"], name="fk_supervisions_hazard_id_hazards"),
        sa.ForeignKeyConstraint(["regulator_id"], ["regulators.id"], name="fk_supervisions_regulator_id_regulators"),
        sa.PrimaryKeyConstraint("id", name="pk_supervisions"),
    )
    op.create_index("ix_supervisions_enterprise_status", "supervisions", ["enterprise_id", "status"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_supervisions_enterprise_status", table_name="supervisions")
    op.drop_table("supervisions")
    op.drop_index("ix_regulator_accounts_regulator_id", table_name="regulator_accounts")
    op.drop_table("regulator_accounts")
    op.drop_table("regulators")
    op.drop_index("ix_enterprise_profiles_park_id", table_name="enterprise_profiles")
    op.drop_index("ix_enterprise_profiles_division", table_name="enterprise_profiles")
    op.drop_table("enterprise_profiles")
    op.drop_table("parks")
