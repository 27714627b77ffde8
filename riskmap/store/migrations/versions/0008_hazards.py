"""Hidden hazards: the record as it is now, its timeline, its photos' metadata (riskmap.hazards).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

- hazards: one row per hidden hazard, its current state and fields, `version` its ETag; unique national uid.
- hazard_events: the timeline (who, when, transition, why, what changed), never updated.
- hazard_photos: photo metadata (the bytes live in the media folder), EXIF location kept as data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from riskmap.store.types import Data, LonLatGeometry, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    """Create the three hazard tables (empty: nothing before them held hazards)."""
    op.create_table(
        "hazards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(64), nullable=True),
        sa.Column("source", sa.Integer(), nullable=False),
        sa.Column("hazard_type", sa.Integer(), nullable=False),
        sa.Column("manage_type", sa.Integer(), nullable=False),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column("management_classification", sa.Integer(), nullable=True),
        sa.Column("occurrence_link", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("rectification_measures", sa.Text(), nullable=True),
        sa.Column("cost", sa.String(64), nullable=True),
        sa.Column("liable_person", sa.String(200), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("unit_code", sa.Text(), nullable=True),
        sa.Column("risk_event_code", sa.Text(), nullable=True),
        sa.Column("control_index", sa.Integer(), nullable=True),
        sa.Column("fid", sa.Text(), nullable=True),
        sa.Column("hazard_code", sa.String(200), nullable=True),
        sa.Column("check_record_id", sa.String(200), nullable=True),
        sa.Column("geometry", LonLatGeometry(), nullable=True),
        sa.Column("registrant", sa.String(200), nullable=True),
        sa.Column("registrant_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("rectifier", sa.String(200), nullable=True),
        sa.Column("rectifier_id", sa.Integer(), nullable=True),
        sa.Column("rectification_note", sa.Text(), nullable=True),
        sa.Column("plan", Data(), nullable=True),
        sa.Column("accept_person", sa.String(200), nullable=True),
        sa.Column("accept_person_id", sa.Integer(), nullable=True),
        sa.Column("accept_at", UTCDateTime(), nullable=True),
        sa.Column("accept_comment", sa.Text(), nullable=True),
        sa.Column("extension", Data(), nullable=True),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _fk("hazards", "enterprise_id", "enterprises"),
        sa.PrimaryKeyConstraint("id", name="pk_hazards"),
        sa.UniqueConstraint("uid", name="uq_hazards_uid"),
    )
    op.create_index("ix_hazards_enterprise_state", "hazards", ["enterprise_id", "state"])
    op.create_table(
        "hazard_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("author", sa.String(200), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed", Data(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=True),
        _fk("hazard_events", "enterprise_id", "enterprises"),
        _fk("hazard_events", "hazard_id", "hazards"),
        _fk("hazard_events", "author_id", "accounts"),
        _fk("hazard_events", "change_id", "changes"),
        sa.PrimaryKeyConstraint("id", name="pk_hazard_events"),
    )
    op.create_index("ix_hazard_events_hazard_id", "hazard_events", ["hazard_id"])
    op.create_table(
        "hazard_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("gps", Data(), nullable=True),
        sa.Column("taken_at", sa.String(32), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=True),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        _fk("hazard_photos", "enterprise_id", "enterprises"),
        _fk("hazard_photos", "hazard_id", "hazards"),
        _fk("hazard_photos", "uploaded_by_id", "accounts"),
        _fk("hazard_photos", "event_id", "hazard_events"),
        sa.PrimaryKeyConstraint("id", name="pk_hazard_photos"),
    )
    op.create_index("ix_hazard_photos_hazard_id", "hazard_photos", ["hazard_id"])


def downgrade() -> None:
    """Drop the hazard tables (their photos stay in the media folder)."""
    op.drop_index("ix_hazard_photos_hazard_id", table_name="hazard_photos")
    op.drop_table("hazard_photos")
    op.drop_index("ix_hazard_events_hazard_id", table_name="hazard_events")
    op.drop_table("hazard_events")
    op.drop_index("ix_hazards_enterprise_state", table_name="hazards")
    op.drop_table("hazards")
