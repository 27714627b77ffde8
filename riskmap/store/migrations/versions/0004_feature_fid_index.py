"""An index on layout_features (enterprise_id, fid, valid_to): an edit finds its feature without a scan.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_layout_features_fid", "layout_features", ["enterprise_id", "fid", "valid_to"])


def downgrade() -> None:
    op.drop_index("ix_layout_features_fid", table_name="layout_features")
