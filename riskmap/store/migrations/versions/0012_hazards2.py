"""Anonymous hazard reports from the phone page: the hazards' `anonymous` mark (withheld until a manager confirms)
and the table the per-address rate limit counts.

Revision ID: 0012_hazards2
Revises: 0009
Create Date: 2026-12-06

The lead re-chains down_revision at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import UTCDateTime

revision = "0012_hazards2"
down_revision = "0010_orgs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add hazards.anonymous and the hazard_reports table."""
    with op.batch_alter_table("hazards") as batch:
        batch.add_column(sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "hazard_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_hazard_reports_enterprise_id_enterprises"),
        sa.ForeignKeyConstraint(["hazard_id"], ["hazards.id"], name="fk_hazard_reports_hazard_id_hazards"),
        sa.PrimaryKeyConstraint("id", name="pk_hazard_reports"),
    )
    op.create_index("ix_hazard_reports_address", "hazard_reports", ["address", "at"])
    op.create_index("ix_hazard_reports_enterprise", "hazard_reports", ["enterprise_id", "at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_hazard_reports_enterprise", table_name="hazard_reports")
    op.drop_index("ix_hazard_reports_address", table_name="hazard_reports")
    op.drop_table("hazard_reports")
    with op.batch_alter_table("hazards") as batch:
        batch.drop_column("anonymous")
