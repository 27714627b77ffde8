"""The regulators' access records (regulator_audit): one row per request of a regulator's account into enterprise
data, reads included, and per supervision write; under the row-security policy like every table with an
enterprise_id (an enterprise reads the rows about itself; rows about several enterprises at once have none and
are read only by the service's own work).

Revision ID: 0016_operator
Revises: 0015_flags
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.scope import policy_sql, unpolicy_sql
from riskmap.store.types import UTCDateTime

revision = "0016_operator"
down_revision = "0015_flags"
branch_labels = None
depends_on = None

TABLE = "regulator_audit"


def upgrade() -> None:
    """Create the table, its two indexes and (PostgreSQL) its policy."""
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("regulator_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("enterprises", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("write", sa.Boolean(), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_regulator_audit_account_id_accounts"),
        sa.ForeignKeyConstraint(["regulator_id"], ["regulators.id"],
                                name="fk_regulator_audit_regulator_id_regulators"),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"],
                                name="fk_regulator_audit_enterprise_id_enterprises"),
        sa.PrimaryKeyConstraint("id", name="pk_regulator_audit"),
    )
    op.create_index("ix_regulator_audit_regulator_at", TABLE, ["regulator_id", "at"])
    op.create_index("ix_regulator_audit_enterprise_at", TABLE, ["enterprise_id", "at"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in policy_sql(TABLE):
            op.execute(statement)


def downgrade() -> None:
    """Drop it (the records go with it)."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in unpolicy_sql(TABLE):
            op.execute(statement)
    op.drop_index("ix_regulator_audit_enterprise_at", table_name=TABLE)
    op.drop_index("ix_regulator_audit_regulator_at", table_name=TABLE)
    op.drop_table(TABLE)
