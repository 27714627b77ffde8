"""The ledger room: assessment units (with their events) as stored, read whole or lean, and written one version at
a time.

Unit rows are versioned like layout features (valid_from/valid_to ledger version numbers). `read_units` decodes
everything (events, evaluations); `map_units` reads only what the map needs, several times faster on a large
tree. A change of some units is a new ledger version that retires their rows and writes new ones
(`new_ledger_version`, `insert_unit`), so every earlier version stays readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.levels import Level
from riskmap.store import codec
from riskmap.store.rows import (
    Writing,
    check_version,
    clean_text,
    enterprise_id,
    from_wkb,
    insert_rows,
    next_number,
    paused_gc,
    valid,
    wkb_of,
)
from riskmap.store.schema import LedgerVersionRow, RiskEventRow, UnitRow
from riskmap.store.types import encode_wkb, utcnow


def read_units(s: Session, enterprise_name: str, version: int | None = None) -> list[AssessmentUnit]:
    """The unit tree of the current (or a given) ledger version, in ledger order, events decoded."""
    with paused_gc():
        ent_id = enterprise_id(s, enterprise_name, create=False, missing_ok=True)
        if ent_id is None:
            return []
        dialect = s.get_bind().dialect.name
        cond = [UnitRow.enterprise_id == ent_id, valid(UnitRow, ledger_number(s, ent_id, version))]
        units, events_t = UnitRow.__table__, RiskEventRow.__table__
        conn = s.connection()   # Core rows: no ORM identity work, geometry decoded in one vectorized call
        unit_rows = conn.execute(
            select(*[c for c in units.c if c.name != "geometry"], wkb_of(dialect, units.c.geometry).label("wkb"))
            .where(*cond).order_by(units.c.position, units.c.id)
        ).all()
        event_rows = conn.execute(
            select(*events_t.c).join(units, units.c.id == events_t.c.unit_id).where(*cond)
            .order_by(events_t.c.unit_id, events_t.c.position)
        ).all()
        events: dict[int, list[RiskEvent]] = {}
        for ev in event_rows:
            events.setdefault(ev.unit_id, []).append(codec.event_from_row(ev))
        geometries = from_wkb([r.wkb for r in unit_rows])
        return [codec.unit_from_row(r, g, events.get(r.id, []))
                for r, g in zip(unit_rows, geometries, strict=True)]


def map_units(s: Session, ent_id: int) -> list[AssessmentUnit]:
    """The current units, read lean (see `map_units_ordered`)."""
    return [u for _, u in map_units_ordered(s, ent_id)]


def map_units_ordered(s: Session, ent_id: int, codes: Iterable[str] | None = None) \
        -> list[tuple[tuple[int, int], AssessmentUnit]]:
    """(ledger order key, unit) of the current units (or of those of `codes`) with only what the map needs, read
    lean: each unit's residual level is worked out from its override and its events' overrides, evaluations and
    given levels (as RiskEvent.level and AssessmentUnit.level do) and carried by one stand-in event, so that the
    events' JSON is not decoded. A 100,000-unit tree reads several times faster than through `read_units`. The
    order key is (position, row id), the ledger order."""
    units_t, events_t = UnitRow.__table__, RiskEventRow.__table__
    cond = [units_t.c.enterprise_id == ent_id, units_t.c.valid_to.is_(None)]
    if codes is not None:
        wanted = sorted({str(c) for c in codes})
        if not wanted:
            return []
        if len(wanted) > 500:
            keep = set(wanted)
            return [(k, u) for k, u in map_units_ordered(s, ent_id) if u.id in keep]
        cond.append(units_t.c.code.in_(wanted))
    conn = s.connection()
    dialect = s.get_bind().dialect.name
    with paused_gc():
        unit_rows = conn.execute(
            select(units_t.c.id, units_t.c.position, units_t.c.code, units_t.c.name, units_t.c.kind,
                   units_t.c.parent_code, units_t.c.feature_ref, units_t.c.weight, units_t.c.last_assessed,
                   units_t.c.placements, UnitRow.override["level"].as_string().label("override_level"),
                   wkb_of(dialect, units_t.c.geometry).label("wkb"))
            .where(*cond).order_by(units_t.c.position, units_t.c.id)
        ).all()
        event_rows = conn.execute(
            select(events_t.c.unit_id, RiskEventRow.override["level"].as_string(),
                   RiskEventRow.residual["level"].as_string(), events_t.c.residual_level)
            .join(units_t, units_t.c.id == events_t.c.unit_id).where(*cond)
        ).all()
        best: dict[int, int] = {}
        for unit_id, forced, evaluated, given in event_rows:
            text = forced or evaluated or given
            if text:
                rank = Level(text).rank
                if rank > best.get(unit_id, 0):
                    best[unit_id] = rank
        geometries = from_wkb([r.wkb for r in unit_rows])
        out = []
        for r, geom in zip(unit_rows, geometries, strict=True):
            level = Level(r.override_level) if r.override_level else (
                Level.from_rank(best[r.id]) if r.id in best else None)
            out.append(((int(r.position), int(r.id)), AssessmentUnit(
                id=r.code, name=r.name, kind=UnitKind(r.kind), parent_id=r.parent_code, geometry=geom,
                feature_ref=r.feature_ref, weight=Decimal(r.weight), last_assessed=r.last_assessed,
                placements=dict(r.placements or {}),
                events=[RiskEvent("", residual_level=level)] if level is not None else [])))
    return out


def ledger_number(s: Session, ent_id: int, version: int | None) -> int | None:
    """A ledger version number checked to exist (None: the current one)."""
    return check_version(s, LedgerVersionRow, ent_id, version, "台账", "ledger")


def new_ledger_version(w: Writing, action: str, author: str | None, reason: str | None, unit_delta: int,
                        event_delta: int, default_note: str) -> LedgerVersionRow:
    """A new ledger version row continuing the previous one (source, profile, counts moved by the deltas)."""
    version = continued_version(w, LedgerVersionRow,
                                {"source": None, "default_profile": None, "unit_count": 0, "event_count": 0},
                                action=action, note=clean_text(reason) or default_note, author=clean_text(author))
    version.unit_count += unit_delta
    version.event_count += event_delta
    return version


def continued_version(w: Writing, model: type, carried: dict[str, Any], drawing_id: int | None = None,
                      **values: Any):
    """A new version row of `model` (layout or ledger) continuing the enterprise's previous one (for a layout, the
    previous one of the same drawing, `drawing_id` None: the site plan): the `carried` columns keep the previous
    row's values (the given defaults when there is none), `values` are set anew."""
    s = w.session
    number = next_number(s, model, w.enterprise_id)
    if hasattr(model, "drawing_id"):     # layout versions of other drawings interleave: continue this drawing's
        same = model.drawing_id.is_(None) if drawing_id is None else model.drawing_id == drawing_id
        previous = s.execute(select(model).where(model.enterprise_id == w.enterprise_id, same)
                             .order_by(model.number.desc()).limit(1)).scalars().first()
        values["drawing_id"] = drawing_id
    else:
        previous = version_row(s, model, w.enterprise_id, number - 1)
    kept = {column: getattr(previous, column) if previous is not None else default
            for column, default in carried.items()}
    version = model(enterprise_id=w.enterprise_id, number=number, created_at=utcnow(), **kept, **values)
    s.add(version)
    s.flush()
    return version


def insert_unit(w: Writing, version: LedgerVersionRow, unit: AssessmentUnit, position: int) -> int:
    """Write one unit (with its events) into a ledger version at `position`; returns its row id (edit tag)."""
    row = codec.unit_row(unit, position)
    row["geometry"] = encode_wkb([unit.geometry], w.session.get_bind().dialect.name)[0]
    row.update(enterprise_id=w.enterprise_id, ledger_version_id=version.id, valid_from=version.number,
               valid_to=None)
    (new_id,) = insert_rows(w.session, UnitRow, [row], returning=True)
    events = [codec.event_row(ev, pos) for pos, ev in enumerate(unit.events)]
    for ev in events:
        ev.update(enterprise_id=w.enterprise_id, unit_id=new_id)
    insert_rows(w.session, RiskEventRow, events)
    return new_id


def current_unit_row(s: Session, ent_id: int, code: str, lock: bool = True) -> UnitRow | None:
    """The current row of unit `code` (locked for the transaction unless `lock` is False), or None."""
    q = select(UnitRow).where(UnitRow.enterprise_id == ent_id, UnitRow.valid_to.is_(None), UnitRow.code == code)
    if lock:
        q = q.with_for_update()
    return s.execute(q).scalars().first()


def unit_of(s: Session, row: UnitRow) -> AssessmentUnit:
    """A stored unit row with its events, decoded."""
    events = [codec.event_from_row(r) for r in s.execute(
        select(RiskEventRow).where(RiskEventRow.unit_id == row.id).order_by(RiskEventRow.position)).scalars()]
    return codec.unit_from_row(row, row.geometry, events)


def version_row(s: Session, model: type, ent_id: int, number: int | None):
    """The enterprise's version row ``number`` of ``model``, or None when ``number`` is None or no such version exists.
    """
    if number is None:
        return None
    return s.execute(select(model).where(model.enterprise_id == ent_id, model.number == number)).scalars().first()


def ledger_version_info(row: LedgerVersionRow) -> dict:
    """A ledger version row as the API and CLI show it."""
    return {"version": row.number, "created_at": row.created_at, "action": row.action, "source": row.source,
            "default_profile": row.default_profile, "author": row.author, "note": row.note,
            "unit_count": row.unit_count, "event_count": row.event_count}
