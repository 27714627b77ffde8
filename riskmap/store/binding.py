"""Units bound to layout features by id, at every write that could change what a reference means.

A ledger names the feature a unit stands on by a CAD handle or by a name (`feature: 罐区`). Looked up by name at
read time, a rename in the editor would silently move the unit (or leave it nowhere) and lower colours. So the
reference is bound to the feature's fid when it is written (riskmap.attach.bind_references):

- a new ledger: its references are bound against the current layout before its rows are written;
- a new drawing (import): units bound to features of the drawing it replaces are bound again, by fid where the
  drawing kept its handles and by the old feature's name where it did not; references that matched nothing
  before are tried again;
- a revision or an edit of the layout: matched features keep their fid, so bound units stay; references that
  matched nothing are tried against the new features.

Rebinding after a layout write is a ledger version of its own (action "bind"), so that the history and `?at=` of
earlier moments stay as they were.
"""

from __future__ import annotations

from sqlalchemy import update

from riskmap.attach import bind_references
from riskmap.store.audit import MAX_DETAIL_ITEMS, record_change
from riskmap.store.ledgers import current_unit_row, insert_unit, map_units, new_ledger_version, unit_of
from riskmap.store.rows import Writing
from riskmap.store.schema import UnitRow

BIND_NOTE = "按要素编号重新关联单元 / units bound to layout features by id"


def bind_new_ledger(features, units, unit_rows: list[dict]) -> list[str]:
    """Bind the references of a ledger about to be written (units and their encoded rows, in the same order)
    against the current layout; returns the warnings for references that match nothing or several features."""
    if features is None or not len(features):
        return []
    bound, warnings = bind_references(units, features)
    for unit, row in zip(units, unit_rows, strict=True):
        if unit.id in bound:
            unit.feature_ref = bound[unit.id]
            row["feature_ref"] = unit.feature_ref
    return warnings


def bind_new_placements(s, ent_id: int, enterprise_name: str, units, unit_rows: list[dict]) -> list[str]:
    """Bind the references a ledger gives on drawings other than the site plan to those drawings' fids; returns a
    warning per reference that matches nothing, and per drawing that is not there yet (its references wait, and
    are bound when it is imported: bind_drawing). A unit placed on a storey of a building and nowhere on the site
    plan stands, on the site plan, on that building: the building takes the highest level of everything on its
    storeys (短板)."""
    from riskmap.attach import bind_placements
    from riskmap.drawings import not_imported_warning
    from riskmap.store.drawings import list_drawings
    from riskmap.store.layouts import read_features

    wanted = sorted({d for u in units for d in (u.placements or {})})
    if not wanted:
        return []
    drawings = {d.key: d for d in list_drawings(s, ent_id)}
    warning = not_imported_warning(units, set(drawings))
    warnings: list[str] = [warning] if warning else []
    for key in (d for d in wanted if d in drawings):
        bound, found = bind_placements(units, key, read_features(s, enterprise_name, drawing=key))
        warnings += found
        for unit in units:
            if unit.id in bound:
                unit.placements = {**unit.placements, key: bound[unit.id]}
    for unit, row in zip(units, unit_rows, strict=True):
        building = _building_of(unit, drawings)
        if building is not None:
            unit.feature_ref = building
            row["feature_ref"] = building
        row["placements"] = dict(unit.placements) if unit.placements else None
    return warnings


def _building_of(unit, drawings: dict) -> str | None:
    """The site plan building a unit stands on because it is placed on a storey of it and nowhere on the site plan
    (None when it has a place of its own there)."""
    if unit.feature_ref or unit.geometry is not None:
        return None
    buildings = [drawings[d].building_ref for d in sorted(unit.placements or {})
                 if d in drawings and drawings[d].building_ref]
    return buildings[0] if buildings else None


def bind_drawing(w: Writing, drawing, features, author: str | None = None, previous=None) -> dict[str, str]:
    """After a drawing other than the site plan was imported in transaction `w`: bind the current units'
    references on it to its fids (by fid, else by unique name) and stand units placed on a storey on its building;
    writes a "bind" ledger version when anything changed (`previous`: the drawing's layout a whole new import
    replaced, whose feature names bind references to fids the new one lacks). Returns {unit id: fid}."""
    from riskmap.attach import bind_placements

    s = w.session
    units = [u for u in map_units(s, w.enterprise_id) if (u.placements or {}).get(drawing.key)]
    if not units:
        return {}
    bound, _ = bind_placements(units, drawing.key, features, previous)
    drawings = {drawing.key: drawing}
    stands = {u.id: b for u in units if (b := _building_of(u, drawings)) is not None}
    if not bound and not stands:
        return {}
    version = new_ledger_version(w, "bind", author, None, 0, 0, BIND_NOTE)
    items = []
    for code in sorted(set(bound) | set(stands)):
        row = current_unit_row(s, w.enterprise_id, code)
        unit = unit_of(s, row)
        if code in bound:
            items.append({"id": code, "op": "bind", "drawing": drawing.key, "from": unit.placements.get(drawing.key),
                          "to": bound[code]})
            unit.placements = {**unit.placements, drawing.key: bound[code]}
        if code in stands:
            unit.feature_ref = stands[code]
        s.execute(update(UnitRow).where(UnitRow.id == row.id).values(valid_to=version.number))
        insert_unit(w, version, unit, row.position)
    w.touch(units=set(bound) | set(stands))
    record_change(w, "units.bind", collection="units", items=sorted(set(bound) | set(stands)), author=author,
                  detail={"items": items[:MAX_DETAIL_ITEMS], "count": len(items), "drawing": drawing.key})
    return bound


def rebind_after_layout(w: Writing, features, previous=None, author: str | None = None) -> dict[str, str]:
    """Bind the current units to `features`, the layout just written in transaction `w` (`previous`: the layout
    a whole new drawing replaced); writes a "bind" ledger version when a reference changes and returns
    {unit id: fid}."""
    s = w.session
    if w.plant is not None and w.tracked and previous is None:
        # only a reference naming a written feature (by its fid, old or new name) can bind differently
        keys = set(w.delta.fids) | {n for n in features.loc[features["fid"].astype(str).isin(w.delta.fids), "name"]}
        keys |= set(w.plant.old_names(w.delta.fids))
        units = w.plant.lean_units(s, w.plant.referring(keys), fresh=w.delta.units)
    else:
        units = map_units(s, w.enterprise_id)
    if not units:
        return {}
    bound, _ = bind_references(units, features, previous)
    if not bound:
        return {}
    version = new_ledger_version(w, "bind", author, None, 0, 0, BIND_NOTE)
    items = []
    for code, fid in bound.items():
        row = current_unit_row(s, w.enterprise_id, code)
        unit = unit_of(s, row)
        items.append({"id": code, "op": "bind", "from": unit.feature_ref, "to": fid})
        unit.feature_ref = fid
        s.execute(update(UnitRow).where(UnitRow.id == row.id).values(valid_to=version.number))
        insert_unit(w, version, unit, row.position)
    w.touch(units=bound)
    record_change(w, "units.bind", collection="units", items=list(bound), author=author,
                  detail={"items": items[:MAX_DETAIL_ITEMS], "count": len(items)})
    w.units = None                                  # the map refresh reads the bound units again
    return bound
