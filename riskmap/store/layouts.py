"""The layout room: a plant's drawings as stored features, read and encoded.

Feature rows are versioned (valid_from/valid_to layout version numbers, see riskmap.store.schema): reading a
version is a query. Writing a new version (an import, riskmap.store.versions) and editing features
(riskmap.store.editing) use the encoders here.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from riskmap.errors import InputError
from riskmap.geo.model import LayoutImport
from riskmap.store.drawings import drawing_id, of_drawing
from riskmap.store.rows import (
    check_version,
    clean_text,
    decode_json,
    enterprise_id,
    from_wkb,
    json_text,
    paused_gc,
    valid,
    wkb_of,
)
from riskmap.store.schema import LayoutFeatureRow, LayoutVersionRow
from riskmap.store.types import SRID, encode_wkb

FEATURE_COLUMNS = ["id", "fid", "name", "role", "layer", "properties", "geometry"]


def read_features(s: Session, enterprise_name: str, roles: list[str] | None = None,
                  box: tuple[float, float, float, float] | None = None, version: int | None = None,
                  drawing: str | None = None) -> gpd.GeoDataFrame:
    """Features of the current (or a given) layout version of a drawing (None: the site plan) in EPSG:4326, within
    `box` (lon/lat) when given: the hot path of tiles and maps (Core rows, no ORM identity work, JSON decoded
    once)."""
    ent_id = enterprise_id(s, enterprise_name, create=False, missing_ok=True)
    if ent_id is None:
        return empty_features()
    dialect = s.get_bind().dialect.name
    cond = [LayoutFeatureRow.enterprise_id == ent_id, of_drawing(LayoutFeatureRow, drawing_id(s, ent_id, drawing)),
            valid(LayoutFeatureRow, layout_number(s, ent_id, version))]
    if roles is not None:
        cond.append(LayoutFeatureRow.role.in_(roles))
    if box is not None:
        cond.append(bbox_condition(dialect, box))
    with paused_gc():
        rows = s.connection().execute(
            select(LayoutFeatureRow.id, LayoutFeatureRow.fid, LayoutFeatureRow.name, LayoutFeatureRow.role,
                   LayoutFeatureRow.layer, json_text(dialect, LayoutFeatureRow.properties),
                   wkb_of(dialect, LayoutFeatureRow.geometry))
            .where(*cond).order_by(LayoutFeatureRow.id)
        ).all()
        gdf = features_frame(rows)
    if box is not None and dialect != "postgresql" and len(gdf):
        # The bbox columns found candidates; keep those that truly intersect, as ST_Intersects does.
        gdf = gdf[shapely.intersects(gdf.geometry.values, shapely.box(*box))].reset_index(drop=True)
    return gdf


def layout_number(s: Session, ent_id: int, version: int | None) -> int | None:
    """A layout version number checked to exist (None: the current one)."""
    return check_version(s, LayoutVersionRow, ent_id, version, "布局", "layout")


def bbox_condition(dialect: str, box: tuple[float, float, float, float]):
    """Features meeting a lon/lat box: the GiST index on PostGIS, the bbox columns on SQLite."""
    minx, miny, maxx, maxy = box
    if dialect == "postgresql":
        envelope = func.ST_MakeEnvelope(minx, miny, maxx, maxy, SRID)
        return and_(LayoutFeatureRow.geometry.op("&&")(envelope),
                    func.ST_Intersects(LayoutFeatureRow.geometry, envelope))
    f = LayoutFeatureRow
    return and_(f.minx <= maxx, f.maxx >= minx, f.miny <= maxy, f.maxy >= miny)


def layout_frame(layout: LayoutImport) -> gpd.GeoDataFrame:
    """The layout's features as a GeoDataFrame in the stored CRS; a layout without one is refused with InputError."""
    gdf = getattr(layout, "features", None)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError("布局数据缺少要素表（GeoDataFrame）/ the layout has no features GeoDataFrame")
    if gdf.crs is not None and gdf.crs.to_epsg() != SRID:
        gdf = gdf.to_crs(SRID)
    return gdf


def layout_report(layout: LayoutImport) -> dict:
    """The layout's import report to keep with the version; a frame lacking optional columns gives a shorter report
    instead of failing the import.
    """
    try:
        return layout.summary()
    except (KeyError, AttributeError, TypeError, ValueError):
        # A layout whose frame lacks optional columns still stores; its report says less.
        return {"source": layout.source_name, "format": layout.source_format, "crs": layout.crs,
                "georeferenced": layout.georeferenced, "georeference": layout.georeference,
                "warnings": list(layout.warnings), "repaired": list(layout.repaired),
                "dropped": dict(layout.dropped)}


def _column(gdf: gpd.GeoDataFrame, name: str) -> list:
    if name not in gdf.columns:
        return [None] * len(gdf)
    return gdf[name].tolist()


def feature_rows(gdf: gpd.GeoDataFrame, dialect: str) -> list[dict]:
    """The feature rows to insert for a layout frame: geometry encoded for ``dialect`` and bounds kept so reads can
    filter by box without decoding.
    """
    geoms = gdf.geometry.values
    wkb = encode_wkb(np.asarray(geoms, dtype=object), dialect) if len(gdf) else []
    bounds = shapely.bounds(np.asarray(geoms, dtype=object)) if len(gdf) else np.empty((0, 4))
    bounds = np.where(np.isfinite(bounds), bounds, np.nan).astype(object)
    bounds[pd.isna(bounds)] = None
    fids, names, roles, layers, props = (_column(gdf, c) for c in ("fid", "name", "role", "layer", "properties"))
    rows = []
    for i in range(len(gdf)):
        rows.append({
            "fid": clean_text(fids[i]),
            "name": clean_text(names[i]),
            "role": clean_text(roles[i]),
            "layer": clean_text(layers[i]),
            "properties": props[i] if isinstance(props[i], dict) else {},
            "geometry": wkb[i],
            "minx": bounds[i, 0], "miny": bounds[i, 1], "maxx": bounds[i, 2], "maxy": bounds[i, 3],
        })
    return rows


def guarantee_fids(rows: list[dict]) -> None:
    """Every feature gets a non-empty fid unique in the layout (the item id of editing): a missing one becomes
    n<k>, a repeated one <fid>~2, ~3, ... with the drawing's value kept in properties["source_fid"]."""
    taken = {r["fid"] for r in rows if r["fid"] is not None and r["fid"].strip()}
    seen: dict[str, int] = {}
    k = 0
    for row in rows:
        fid = row["fid"]
        if fid is None or not fid.strip():
            k += 1
            while f"n{k}" in taken:
                k += 1
            row["fid"] = f"n{k}"
            taken.add(row["fid"])
            continue
        seen[fid] = seen.get(fid, 0) + 1
        if seen[fid] == 1:
            continue
        n = seen[fid]
        while f"{fid}~{n}" in taken:
            n += 1
        seen[fid] = n
        row["fid"] = f"{fid}~{n}"
        taken.add(row["fid"])
        row["properties"] = {**row["properties"], "source_fid": fid}


def rows_bbox(rows: list[dict]) -> list[float] | None:
    """The bounding box [minx, miny, maxx, maxy] of feature rows, or None when none has a geometry."""
    boxes = [(r["minx"], r["miny"], r["maxx"], r["maxy"]) for r in rows if r["minx"] is not None]
    if not boxes:
        return None
    arr = np.asarray(boxes, dtype=float)
    return [float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())]


def empty_features() -> gpd.GeoDataFrame:
    """An empty features frame with the stored columns and CRS, so callers need no special case for an empty layout."""
    frame = {c: pd.Series([], dtype="int64" if c == "id" else object) for c in FEATURE_COLUMNS[:-1]}
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=f"EPSG:{SRID}"), crs=f"EPSG:{SRID}")


def features_frame(rows: list) -> gpd.GeoDataFrame:
    """The features frame built from selected feature rows (id, fid, name, role, layer, properties, WKB)."""
    if not rows:
        return empty_features()
    ids, fids, names, roles, layers, props, wkbs = zip(*rows, strict=True)
    frame = {
        "id": np.asarray(ids, dtype="int64"),
        "fid": list(fids),
        "name": list(names),
        "role": list(roles),
        "layer": list(layers),
        "properties": [decode_json(p) for p in props],
    }
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(from_wkb(list(wkbs)), crs=f"EPSG:{SRID}"),
                            crs=f"EPSG:{SRID}")


def layout_version_info(row: LayoutVersionRow) -> dict:
    """What a layout version's listing shows: number, when, by whom, its source and import report."""
    return {"version": row.number, "created_at": row.created_at, "action": row.action,
            "source": row.source_name, "source_format": row.source_format, "crs": row.crs,
            "georeferenced": row.georeferenced, "report": row.report, "author": row.author, "note": row.note,
            "feature_count": row.feature_count}
