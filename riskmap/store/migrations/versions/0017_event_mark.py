"""The hazards layer's event mark: an index on hazard_events (enterprise_id, id).

Every hazards tile asks for the enterprise's newest event id, and the layer's patch for the events after its mark
(riskmap.store.hazards.hazards_frame): without this index PostgreSQL walks the primary key backwards through every
enterprise's events until it meets one of this enterprise's, and SQLite scans the enterprise's events.

(A GiST index leading with the enterprise — btree_gist — was measured for enterprises on the same ground, 1,000
enterprises of 1,000 units plus one of 100,000, and not kept: the planner answered every tile from the enterprise's
btree indexes with or without it.)

Revision ID: 0017_event_mark
Revises: 0016_operator
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0017_event_mark"
down_revision = "0016_operator"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_hazard_events_enterprise", "hazard_events", ["enterprise_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_hazard_events_enterprise", table_name="hazard_events")
