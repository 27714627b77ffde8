"""The audit trail's writing side: one `changes` row per writing transaction (who, when, why, what, the versions
it made); reading it is riskmap.store.history's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import shapely
from sqlalchemy import func, select

from riskmap.people import account_id_of
from riskmap.store.rows import Writing, clean_text
from riskmap.store.schema import ChangeRow, LayoutVersionRow, LedgerVersionRow
from riskmap.store.types import utcnow

# Items listed in an audit row's detail; a revision of 100,000 features keeps counts and the first ones.
MAX_DETAIL_ITEMS = 2000


def record_change(w: Writing, action: str, *, collection: str | None = None, items: Sequence[str] = (),
                  author: str | None = None, reason: str | None = None, detail: dict | None = None) -> int:
    """Write the audit row of the transaction `w` (layout and ledger numbers as they are after the change; the
    author's account when `author` is a riskmap.people.Author) and
    remember its id in `w.change_id` for what follows in the same transaction (flags)."""
    s = w.session
    layout_number = s.execute(select(func.max(LayoutVersionRow.number))
                              .where(LayoutVersionRow.enterprise_id == w.enterprise_id)).scalar_one()
    ledger_number = s.execute(select(func.max(LedgerVersionRow.number))
                              .where(LedgerVersionRow.enterprise_id == w.enterprise_id)).scalar_one()
    row = ChangeRow(enterprise_id=w.enterprise_id, data_version=w.data_version, at=utcnow(),
                    author=clean_text(author), author_id=account_id_of(author), reason=clean_text(reason),
                    action=action,
                    collection=collection, item_ids=[str(i) for i in items], layout_number=layout_number,
                    ledger_number=ledger_number, detail=detail)
    s.add(row)
    s.flush()
    w.change_id = row.id
    return row.id


def bbox_of(geom: Any) -> list[float] | None:
    """A geometry's envelope as the audit detail keeps it (9 decimals), or None."""
    if geom is None or geom.is_empty:
        return None
    return [round(float(v), 9) for v in shapely.bounds(geom)]
