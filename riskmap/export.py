"""Export of a plant's layout, units, region risk and hidden hazards as GeoPackage or GeoJSON (RFC 7946).

Fields are riskmap.vocabulary's, features are written in the draw order (riskmap.render.order: by `rank`, then
larger areas first), and a GeoPackage is written as version 1.2 (what GDAL 3.6 and QGIS 3.22, Debian 12's,
read without a warning and what GDAL's validator accepts) with a QGIS style for each layer in the `layer_styles`
table that QGIS applies on open: the four colours travel with the data. Hazards are written as the map and the OGC
collection publish them (riskmap.hazards.table: rejected reports and hazards with no place left out), split into
`hazards_points` and `hazards_areas`, with the hazards layer's own symbols.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.errors
import shapely

from riskmap.errors import InputError
from riskmap.plant import Plant
from riskmap.vocabulary import classes, item_fields

LAYERS = ("layout", "units", "regions", "hazards")
GPKG_VERSION = "1.2"


def _names(layer: str) -> tuple[str, ...]:
    return tuple(f.name for f in item_fields(layer))


UNIT_COLUMNS = _names("units")
REGION_COLUMNS = _names("regions")
LAYOUT_COLUMNS = _names("layout")


def layout_frame(plant: Plant) -> gpd.GeoDataFrame:
    """The layout's features. "fid" is GeoPackage's primary key: the CAD handle / source id is `source_id`."""
    from riskmap.geo.model import ROLE_ZH

    features = plant.features
    if not len(features):
        return _frame([], LAYOUT_COLUMNS)
    rank, colour = classes("layout", features["role"].tolist())
    frame = pd.DataFrame({
        "source_id": _texts(features["fid"]), "name": _texts(features["name"]), "role": _texts(features["role"]),
        "role_zh": [ROLE_ZH.get(r) for r in _texts(features["role"])], "layer": _texts(features["layer"]),
        "rank": rank, "colour": colour,
    })
    return _in_draw_order(gpd.GeoDataFrame(frame, geometry=features.geometry.values, crs="EPSG:4326"))


def units_frame(plant: Plant, which: str = "residual") -> gpd.GeoDataFrame:
    """Every unit with its level and located geometry (its own, else its nearest ancestor's)."""
    from riskmap.domain import UnitTree

    tree = UnitTree(plant.units)
    rows = []
    for unit in plant.units:
        geom, located_by = tree.located_geometry(unit.id)
        level = unit.level(which)
        rows.append({
            "unit_id": unit.id, "name": unit.name, "kind": unit.kind.value, "kind_zh": unit.kind.zh,
            "level": level.value if level else None, "level_zh": level.zh if level else None,
            "parent_id": unit.parent_id, "feature_ref": None if unit.feature_ref is None else str(unit.feature_ref),
            "events": len(unit.events), "last_assessed": unit.last_assessed.isoformat() if unit.last_assessed else None,
            "located_by": located_by, "geometry": geom,
        })
    return _in_draw_order(_with_classes("units", _frame(rows, UNIT_COLUMNS)))


def regions_frame(plant: Plant, method: str = "highest", which: str = "residual") -> gpd.GeoDataFrame:
    """One row per region with its level by `method` ("highest" or "weighted") and the unit that decided it."""
    risks = plant.region_risk(method=method, which=which)
    geoms = {r.id: r.geometry for r in plant.regions}
    rows = []
    for risk in risks:
        unit, level = risk.decided_by, risk.level
        rows.append({
            "region_id": risk.region_id, "name": risk.name, "level": level.value if level else None,
            "level_zh": level.zh if level else None, "method": risk.method, "which": risk.which,
            "decided_by": unit.name if unit else None, "decided_by_id": unit.id if unit else None,
            "explanation": _text(risk.explanation), "geometry": geoms.get(risk.region_id),
        })
    return _in_draw_order(_with_classes("regions", _frame(rows, REGION_COLUMNS)))


def hazards_table(published: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """The hazards as exported: riskmap.hazards.table.published without its time column (`registered` is the
    Beijing date); an empty table of the same fields when there are none or no store was given."""
    columns = ("hazard_id", *_names("hazards"))
    if published is None or not len(published):
        return _frame([], columns)
    return published[[*columns, "geometry"]].reset_index(drop=True)


def _with_classes(layer: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rank, colour = classes(layer, gdf["level"].tolist())
    gdf["rank"], gdf["colour"] = rank, colour
    return gdf[[*_names(layer), "geometry"]]


def _in_draw_order(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows as the tiles paint them: by rank, larger areas (in EPSG:3857, as the tiles measure) first, then the
    unit tree's depth (riskmap.render.order)."""
    from riskmap.render.order import draw_order
    from riskmap.store.mapdata import to_mercator

    if len(gdf) < 2:
        return gdf.reset_index(drop=True)
    geoms = gdf.geometry.values.to_numpy() if hasattr(gdf.geometry.values, "to_numpy") else np.asarray(gdf.geometry)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    merc = np.full(len(gdf), None, dtype=object)
    if present.any():
        merc[present] = to_mercator(geoms[present])
    kinds = gdf["kind"].to_numpy(dtype=object) if "kind" in gdf.columns else None
    order = draw_order(gdf["rank"].to_numpy(), merc, kinds)
    return gdf.iloc[order].reset_index(drop=True)


def _texts(values) -> list:
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def _frame(rows: list[dict], columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    """A GeoDataFrame even when there are no rows (an enterprise with a layout but no ledger yet)."""
    if not rows:
        return gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in columns},
                                geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def _text(value) -> str | None:
    """Plain text stays as it is (a JSON-quoted sentence is unreadable in a GIS attribute table)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# GDAL's RFC 7946 writer keeps 7 decimals (about 1 cm); 9 keep the millimetres the import preserves.
GEOJSON_DECIMALS = 9


def _rfc7946(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    out["geometry"] = shapely.orient_polygons(out.geometry.values, exterior_cw=False)
    return out


def export_plant(plant: Plant, out: Path, *, layer: str | None = None, method: str = "highest",
                 hazards: Callable[[], gpd.GeoDataFrame] | None = None) -> dict[str, int]:
    """Write the chosen layer(s); returns features written per layer. `hazards` reads the published hazards
    (riskmap.hazards.table.published) when they are written; without it the hazards layer is empty."""
    suffix = out.suffix.lower()
    if layer is not None and layer not in LAYERS:
        raise InputError(f"未知图层 “{layer}”，应为 {' | '.join(LAYERS)} / unknown layer {layer!r}")
    makers = {"layout": lambda: layout_frame(plant), "units": lambda: units_frame(plant),
              "regions": lambda: regions_frame(plant, method),
              "hazards": lambda: hazards_table(hazards() if hazards else None)}
    if suffix in (".gpkg", ".geojson", ".json"):
        if not out.parent.is_dir():
            raise InputError(f"无法写入 {out}：目录 {out.parent} 不存在 / cannot write {out}: "
                             f"no directory {out.parent}")
        try:
            return _write(out, suffix, makers, layer)
        except (OSError, pyogrio.errors.DataSourceError) as exc:
            raise InputError(f"无法写入 {out}：{_reason(exc)} / cannot write {out}: {_reason(exc)}") from None
    raise InputError(f"不支持的导出格式 “{suffix}”，请用 .gpkg 或 .geojson / unsupported export format {suffix!r}")


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0]


def _write(out: Path, suffix: str, makers: dict, layer: str | None) -> dict[str, int]:
    if suffix == ".gpkg":
        tables: dict[str, gpd.GeoDataFrame] = {}
        for name in [layer] if layer else LAYERS:
            tables.update(split_tables(name, makers[name]()))
        return write_geopackage(out, tables)
    name = layer or "regions"
    gdf = _rfc7946(makers[name]())
    if out.exists():
        out.unlink()
    gdf.to_file(out, driver="GeoJSON", engine="pyogrio",
                layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": GEOJSON_DECIMALS})
    return {name: len(gdf)}


def split_tables(layer: str, gdf: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """A layer as tables of one geometry type each (riskmap.vocabulary: regions; units_areas, units_lines, …),
    empty ones left out. Units without a location stay in units_areas, with an empty geometry."""
    from riskmap.vocabulary import HAZARD_PARTS, SPLIT_LAYERS, part_masks

    if layer == "hazards":          # a point, else an area (the map draws both at one point)
        masks = part_masks(gdf.geometry.values)
        tables = {"points": masks["points"], "areas": ~masks["points"]}
        found = {f"hazards_{part}": gdf[tables[part]].reset_index(drop=True) for part in HAZARD_PARTS
                 if tables[part].any()}
        return found or {"hazards_points": gdf}       # none yet: the layer is there, empty
    if layer not in SPLIT_LAYERS:
        return {layer: gdf}
    masks = part_masks(gdf.geometry.values)
    masks["areas"] = masks["areas"] | ~(masks["lines"] | masks["points"])
    return {f"{layer}_{part}": gdf[mask].reset_index(drop=True) for part, mask in masks.items() if mask.any()}


def write_geopackage(out: Path, frames: dict[str, gpd.GeoDataFrame]) -> dict[str, int]:
    """Layers (vocabulary fields, `last_assessed` as a Date) and their QGIS styles into a GeoPackage 1.2, written
    beside `out` and moved into place once complete: a failed export never leaves half a file."""
    from riskmap.render.styles_export import qgis_layer_styles

    partial = out.with_name(out.stem + ".partial.gpkg")
    if partial.exists():
        partial.unlink()
    written = {}
    try:
        for i, (name, gdf) in enumerate(frames.items()):
            geometry_type = _geometry_type(gdf)
            names = [c for c in gdf.columns if c != gdf.geometry.name]
            pyogrio.raw.write(
                partial, shapely.to_wkb(np.asarray(gdf.geometry.values, dtype=object)),
                [_field(gdf[c]) for c in names], names, layer=name, driver="GPKG", append=bool(i),
                geometry_type=geometry_type or "Unknown", crs="EPSG:4326",
                promote_to_multi=bool(geometry_type and "Multi" in geometry_type),
                dataset_options=None if i else {"VERSION": GPKG_VERSION},
                layer_options={"SPATIAL_INDEX": "YES", "GEOMETRY_NAME": "geom"})
            written[name] = len(gdf)
        styles = qgis_layer_styles(list(frames))
        pyogrio.write_dataframe(styles, partial, layer="layer_styles", driver="GPKG", append=True)
        partial.replace(out)
    finally:
        if partial.exists():
            partial.unlink()
    return written


def _field(column: pd.Series) -> np.ndarray:
    """A column as GDAL should type it: dates as Dates (numpy datetime64[D]), integers and booleans as such, else
    text."""
    if column.name in DATE_FIELDS:
        return np.array(["NaT" if v is None or v == "" or pd.isna(v) else v for v in column.tolist()],
                        dtype="datetime64[D]")
    if column.dtype.kind == "b":
        return column.to_numpy(dtype=bool)
    if column.dtype.kind in "iu":
        return column.to_numpy(dtype=np.int64)
    return np.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                     for v in column.tolist()], dtype=object)


DATE_FIELDS = frozenset({"last_assessed", "deadline", "registered"})


def _geometry_type(gdf: gpd.GeoDataFrame) -> str | None:
    """The one geometry type of a layer when all its features are areas, lines or points (else None: GEOMETRY)."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    types = set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist())
    for single, multi, name in ((3, 6, "Polygon"), (1, 5, "LineString"), (0, 4, "Point")):
        if types and types <= {single, multi}:
            return ("Multi" + name) if multi in types else name
    return None
