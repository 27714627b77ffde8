"""The map never shows a lower colour than the data: map_features.members and .due, references bound by id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

- map_features (derived data) gets `members` (the units a drawn shape stands for, per level) and `due` (the
  earliest re-assessment date among them); its rows are dropped, and the first reader builds the snapshot again
  with the new drawing rules (one shape drawn once, at the highest level of its units).
- The current units' feature references are bound to the current layout's fids (a reference by name is not a
  binding: a rename would move the unit). Only references that match exactly one feature, by fid or else by
  name, are changed; the rows keep their place in the ledger versions.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _key(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def _bind_current_units(conn) -> None:
    enterprises = [r[0] for r in conn.execute(sa.text("SELECT id FROM enterprises"))]
    for ent in enterprises:
        features = conn.execute(sa.text(
            "SELECT fid, name FROM layout_features WHERE enterprise_id = :e AND valid_to IS NULL"), {"e": ent}).all()
        by_fid: dict[str, int] = {}
        by_name: dict[str, list[str]] = {}
        for fid, name in features:
            f = _key(fid)
            if f is None:
                continue
            by_fid[f] = by_fid.get(f, 0) + 1
            n = _key(name)
            if n is not None:
                by_name.setdefault(n, []).append(f)
        units = conn.execute(sa.text(
            "SELECT id, feature_ref FROM units WHERE enterprise_id = :e AND valid_to IS NULL "
            "AND feature_ref IS NOT NULL"), {"e": ent}).all()
        for row_id, ref in units:
            key = _key(ref)
            if key is None or by_fid.get(key):
                continue
            hits = by_name.get(key, [])
            if len(hits) == 1:
                conn.execute(sa.text("UPDATE units SET feature_ref = :f WHERE id = :i"), {"f": hits[0], "i": row_id})


def upgrade() -> None:
    with op.batch_alter_table("map_features") as batch:
        batch.add_column(sa.Column("members", sa.Text(), nullable=True))
        batch.add_column(sa.Column("due", sa.String(10), nullable=True))
    op.execute("DELETE FROM map_features")
    _bind_current_units(op.get_bind())


def downgrade() -> None:
    op.execute("DELETE FROM map_features")
    with op.batch_alter_table("map_features") as batch:
        batch.drop_column("due")
        batch.drop_column("members")
