"""Row-level security on PostGIS: every table with an enterprise_id reads and writes only the enterprises of
the transaction's scope (riskmap.store.scope). SQLite: nothing (isolation there is the code's own filter).

Revision ID: 0014
Revises: 0009 (0010 once the organisations land: the lead re-chains down_revision at merge)
Create Date: 2026-12-06

The tables are found in the database (every base table of the schema with an enterprise_id column), so the
tables of the migrations before this one are all covered; a later migration that adds such a table runs
riskmap.store.scope.policy_sql for it (tests/test_isolation.py fails when a table has no policy).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from riskmap.store.scope import SCOPED_TABLES_SQL, policy_sql, unpolicy_sql

revision = "0014"
down_revision = "0013_inspections3"
branch_labels = None
depends_on = None


def _tables() -> list[str]:
    return list(op.get_bind().execute(text(SCOPED_TABLES_SQL)).scalars())


def upgrade() -> None:
    """ENABLE and FORCE row level security with the scope policy on each table with an enterprise_id."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _tables():
        for statement in policy_sql(table):
            op.execute(statement)


def downgrade() -> None:
    """Drop the policies and switch row level security off again."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _tables():
        for statement in unpolicy_sql(table):
            op.execute(statement)
