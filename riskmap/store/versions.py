"""A whole new version from an import: a drawing (layout version) or a ledger (ledger version), in one transaction.

Everything is encoded before the write lock is taken (a 100,000-feature drawing takes seconds to encode); inside
the transaction the current rows are retired, the new ones written, references bound (riskmap.store.binding),
flags settled (riskmap.store.flags) and the audit row written, so the version is there completely or not at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import shapely
from sqlalchemy import update

from riskmap.domain import AssessmentUnit, UnitTree
from riskmap.drawings import MAX_OFFSET_FROM_BUILDING_M, SITE, SITE_PLAN, Drawing
from riskmap.errors import InputError
from riskmap.geo.model import LayoutImport
from riskmap.store import binding, codec, flags
from riskmap.store.audit import record_change
from riskmap.store.drawings import of_drawing, put_drawing
from riskmap.store.layouts import feature_rows, guarantee_fids, layout_frame, layout_report, read_features, rows_bbox
from riskmap.store.rows import Writing, analyze, clean_text, insert_rows, next_number
from riskmap.store.schema import LayoutFeatureRow, LayoutVersionRow, LedgerVersionRow, RiskEventRow, UnitRow
from riskmap.store.types import encode_wkb, utcnow

if TYPE_CHECKING:
    from riskmap.store.repository import Store


def save_layout(store: Store, enterprise_name: str, layout: LayoutImport, *, author: str | None = None,
                reason: str | None = None, drawing: Drawing | None = None) -> int:
    """Store an imported drawing as the new current layout version of that drawing (None: the site plan); returns
    its number. Units bound to the replaced site plan are bound to the new one."""
    gdf = layout_frame(layout)
    rows = feature_rows(gdf, store.dialect)
    guarantee_fids(rows)
    drawing = drawing or SITE_PLAN
    with store.transaction(enterprise_name) as w:
        s = w.session
        site = drawing.key == SITE
        if drawing.building_ref:
            drawing = check_floor_plan(read_features(s, enterprise_name), drawing, gdf)
        draw_id = put_drawing(s, w.enterprise_id, drawing, layout.georeference.get("plane"))
        previous = read_features(s, enterprise_name, drawing=None if site else drawing.key)
        number = next_number(s, LayoutVersionRow, w.enterprise_id)
        version = LayoutVersionRow(
            enterprise_id=w.enterprise_id, number=number, created_at=utcnow(), action="import",
            source_name=clean_text(layout.source_name), source_format=clean_text(layout.source_format),
            crs=clean_text(layout.crs), georeferenced=bool(layout.georeferenced),
            report=layout_report(layout), note=clean_text(reason), author=clean_text(author),
            feature_count=len(gdf), drawing_id=draw_id,
        )
        _start_version(w, version, LayoutFeatureRow, rows, "layout_version_id", of_drawing(LayoutFeatureRow, draw_id))
        for row in rows:
            row["drawing_id"] = draw_id
        insert_rows(s, LayoutFeatureRow, rows)
        if site:
            binding.rebind_after_layout(w, read_features(s, enterprise_name), previous, author=author)
        else:              # references waiting for this drawing (or naming its features by name) are bound now
            binding.bind_drawing(w, drawing, read_features(s, enterprise_name, drawing=drawing.key), author=author,
                                 previous=previous)
        record_change(w, "layout.import", collection="layout", author=author, reason=reason,
                      detail={"source": clean_text(layout.source_name), "features": len(rows),
                              "bbox": rows_bbox(rows), **({} if site else {"drawing": drawing.key})})
    analyze(store.engine, len(gdf), LayoutFeatureRow)
    return number


def check_floor_plan(site_features, drawing: Drawing, gdf) -> Drawing:
    """A floor plan's building must be a feature of the site plan (named by fid, or by a name no other feature
    has), and the plan must lie on it: a plan placed kilometres away by wrong control points is refused, not
    stored. Returns the drawing with its building bound by fid."""
    from riskmap.attach import FeatureIndex

    found = FeatureIndex(site_features).match(drawing.building_ref) if len(site_features) else None
    if found is None or found.position is None:
        raise InputError(f"总平面图上没有编号或名称为 “{drawing.building_ref}” 的唯一建筑，"
                         f"楼层图 {drawing.key} 无处可放 / the site plan has no single feature "
                         f"{drawing.building_ref!r} for the floor plan {drawing.key!r}")
    drawing = dataclasses.replace(drawing, building_ref=str(site_features["fid"].iloc[found.position]))
    footprint = site_features.geometry.iloc[found.position]
    if footprint is None or footprint.is_empty or not len(gdf) or not drawing_is_georeferenced(gdf):
        return drawing
    offset_m = metres_apart(footprint, shapely.union_all(gdf.geometry.to_numpy()))
    if offset_m > MAX_OFFSET_FROM_BUILDING_M:
        raise InputError(f"楼层图 {drawing.key} 距其建筑 {drawing.building_ref} 约 {offset_m:,.0f} m，控制点可能有误 / "
                         f"the floor plan {drawing.key!r} lies about {offset_m:,.0f} m from its building "
                         f"{drawing.building_ref!r}: check its control points")
    return drawing


def drawing_is_georeferenced(gdf) -> bool:
    """Whether a drawing's features have a place on the earth (a schematic plane sits at 0°, 0°)."""
    bounds = gdf.total_bounds
    return not (abs(bounds[0]) < 1 and abs(bounds[1]) < 1)


def metres_apart(a, b) -> float:
    """The distance between two lon/lat geometries in metres (0 when they meet), in a local metric CRS."""
    import geopandas as gpd

    from riskmap.geo.georef import metric_crs_for

    if a.intersects(b):
        return 0.0
    c = a.centroid
    ma, mb = gpd.GeoSeries([a, b], crs="EPSG:4326").to_crs(metric_crs_for(c.x, c.y)).array
    return float(ma.distance(mb))


def save_units(store: Store, enterprise_name: str, units: Sequence[AssessmentUnit], *, source: str | None = None,
               default_profile: str | None = None, author: str | None = None, reason: str | None = None) -> int:
    """Store the unit tree (with events and their evaluations) as the new current ledger version; its feature
    references are bound to the current layout's ids."""
    units = list(units)
    try:
        UnitTree(units)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    unit_rows = [codec.unit_row(u, i) for i, u in enumerate(units)]
    geoms = encode_wkb([u.geometry for u in units], store.dialect) if units else []
    for row, geom in zip(unit_rows, geoms, strict=True):
        row["geometry"] = geom
    events_of_unit = [[codec.event_row(ev, pos) for pos, ev in enumerate(u.events)] for u in units]
    event_count = sum(len(evs) for evs in events_of_unit)
    with store.transaction(enterprise_name) as w:
        s = w.session
        binding.bind_new_placements(s, w.enterprise_id, enterprise_name, units, unit_rows)
        binding.bind_new_ledger(read_features(s, enterprise_name), units, unit_rows)
        number = next_number(s, LedgerVersionRow, w.enterprise_id)
        version = LedgerVersionRow(
            enterprise_id=w.enterprise_id, number=number, created_at=utcnow(), action="import",
            source=clean_text(source), default_profile=clean_text(default_profile), note=clean_text(reason),
            author=clean_text(author), unit_count=len(units), event_count=event_count,
        )
        _start_version(w, version, UnitRow, unit_rows, "ledger_version_id")
        unit_ids = insert_rows(s, UnitRow, unit_rows, returning=True)
        event_rows = []
        for evs, unit_id in zip(events_of_unit, unit_ids, strict=True):
            for row in evs:
                row.update(enterprise_id=w.enterprise_id, unit_id=unit_id)
                event_rows.append(row)
        insert_rows(s, RiskEventRow, event_rows)
        w.units = units             # exactly what was written (the codec round trip is exact)
        record_change(w, "ledger.import", collection="units", author=author, reason=reason,
                      detail={"source": clean_text(source), "units": len(units), "events": event_count})
        flags.after_ledger_import(w, units)
    analyze(store.engine, len(units) + event_count, UnitRow, RiskEventRow)
    return number


def _start_version(w: Writing, version: Any, model: type, rows: list[dict], version_column: str,
                   *conditions: Any) -> None:
    """Add the new version's row, retire every current row of `model` (of those meeting `conditions`), and stamp
    `rows` as the new version's."""
    s = w.session
    s.add(version)
    s.flush()
    s.execute(update(model).where(model.enterprise_id == w.enterprise_id, model.valid_to.is_(None), *conditions)
              .values(valid_to=version.number))
    keys = {"enterprise_id": w.enterprise_id, version_column: version.id, "valid_from": version.number,
            "valid_to": None}
    for row in rows:
        row.update(keys)
