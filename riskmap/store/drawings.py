"""The drawings room: which drawings an enterprise has, and the condition that keeps each drawing's features apart.

The site plan has no row (its features have drawing_id NULL, as everything written before drawings existed), so
every reader that does not name a drawing reads the site plan exactly as before.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmap.drawings import KINDS, SITE, SITE_PLAN, Drawing
from riskmap.errors import NotFoundError
from riskmap.store.rows import clean_text
from riskmap.store.schema import DrawingRow
from riskmap.store.types import utcnow
from riskmap.text import storable as storable_text
from riskmap.text import unstorable

# Order of a drawing list: the site plan, then floor plans by building and storey, workshops, schematics.
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}


def drawing_from_row(row: DrawingRow) -> Drawing:
    """The domain record of a stored drawing."""
    return Drawing(key=row.key, title=row.title, kind=row.kind, building_ref=row.building_ref, storey=row.storey,
                   storey_order=row.storey_order, plane=row.plane)


def drawing_row(s: Session, ent_id: int, key: str | None) -> DrawingRow | None:
    """The stored row of a drawing (None for the site plan); NotFoundError naming the drawings there are."""
    if key is None or key == SITE:
        return None
    storable = isinstance(key, str) and 0 < len(key) <= 64 and unstorable(key) is None
    row = s.execute(select(DrawingRow).where(DrawingRow.enterprise_id == ent_id, DrawingRow.key == key)) \
        .scalar_one_or_none() if storable else None     # a key no drawing can bear finds nothing
    if row is None:
        known = [d.key for d in list_drawings(s, ent_id)]
        shown = storable_text(str(key)[:64])
        raise NotFoundError(f"没有名为 “{shown}” 的图纸，现有：{'、'.join(known)} / no drawing "
                            f"{shown!r}; the drawings are {', '.join(known)}")
    return row


def drawing_id(s: Session, ent_id: int, key: str | None) -> int | None:
    """The id of a drawing's rows (None: the site plan)."""
    row = drawing_row(s, ent_id, key)
    return None if row is None else row.id


def of_drawing(model, drawing_id_value: int | None):
    """The SQL condition selecting one drawing's rows of a layout table."""
    return model.drawing_id.is_(None) if drawing_id_value is None else model.drawing_id == drawing_id_value


def list_drawings(s: Session, ent_id: int) -> list[Drawing]:
    """The enterprise's drawings, the site plan first (riskmap.drawings says the order)."""
    rows = s.execute(select(DrawingRow).where(DrawingRow.enterprise_id == ent_id)).scalars().all()
    drawings = sorted((drawing_from_row(r) for r in rows),
                      key=lambda d: (_KIND_ORDER.get(d.kind, 9), d.building_ref or "", d.storey_order or 0, d.key))
    return [SITE_PLAN, *drawings]


def put_drawing(s: Session, ent_id: int, drawing: Drawing, plane: dict | None = None) -> int | None:
    """Create the drawing's row or bring its description up to date; returns its id (None: the site plan)."""
    if drawing.key == SITE:
        return None
    row = s.execute(select(DrawingRow).where(DrawingRow.enterprise_id == ent_id, DrawingRow.key == drawing.key)) \
        .scalar_one_or_none()
    if row is None:
        row = DrawingRow(enterprise_id=ent_id, key=drawing.key, created_at=utcnow())
        s.add(row)
    row.title = clean_text(drawing.title) or drawing.key
    row.kind = drawing.kind
    row.building_ref = clean_text(drawing.building_ref)
    row.storey = clean_text(drawing.storey)
    row.storey_order = drawing.storey_order
    row.plane = plane if drawing.schematic else None
    s.flush()
    return row.id
