"""Export of a plant's layout, units and region risk as GeoPackage or GeoJSON (RFC 7946)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio.errors
import shapely

from riskmap.errors import InputError
from riskmap.plant import Plant

LAYERS = ("layout", "units", "regions")


def layout_frame(plant: Plant) -> gpd.GeoDataFrame:
    # "fid" is reserved by GeoPackage for its primary key: the CAD handle / source id travels as "source_id".
    gdf = plant.features[["fid", "name", "role", "layer", "geometry"]].rename(columns={"fid": "source_id"})
    return gpd.GeoDataFrame(gdf, geometry="geometry", crs="EPSG:4326")


def units_frame(plant: Plant, which: str = "residual") -> gpd.GeoDataFrame:
    """Units with their level and located geometry (own, else the nearest ancestor's)."""
    from riskmap.domain import UnitTree

    tree = UnitTree(plant.units)
    rows = []
    for unit in plant.units:
        geom, located_by = tree.located_geometry(unit.id)
        level = unit.level(which)
        rows.append({
            "unit_id": unit.id, "name": unit.name, "kind": unit.kind.value, "parent_id": unit.parent_id,
            "level": level.value if level else None, "level_zh": level.zh if level else None,
            "events": len(unit.events),
            "last_assessed": unit.last_assessed.isoformat() if unit.last_assessed else None,
            "located_by": located_by, "geometry": geom,
        })
    return _frame(rows, UNIT_COLUMNS)


def _frame(rows: list[dict], columns: tuple[str, ...]) -> gpd.GeoDataFrame:
    """A GeoDataFrame even when there are no rows (an enterprise with a layout but no ledger yet)."""
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=gpd.GeoSeries([], crs="EPSG:4326"),
                                crs="EPSG:4326")
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


UNIT_COLUMNS = ("unit_id", "name", "kind", "parent_id", "level", "level_zh", "events", "last_assessed", "located_by")
REGION_COLUMNS = ("region_id", "name", "level", "level_zh", "method", "decided_by", "explanation")


def regions_frame(plant: Plant, method: str = "highest", which: str = "residual") -> gpd.GeoDataFrame:
    risks = plant.region_risk(method=method, which=which)
    geoms = {r.id: r.geometry for r in plant.regions}
    rows = []
    for risk in risks:
        d = risk.to_dict()
        rows.append({
            "region_id": d.get("id"), "name": d["name"], "level": d.get("level"), "level_zh": d.get("level_zh"),
            "method": d["method"], "decided_by": d.get("decided_by"),
            "explanation": _text(d.get("explanation")),
            "geometry": geoms.get(d.get("id")),
        })
    return _frame(rows, REGION_COLUMNS)


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


def export_plant(plant: Plant, out: Path, *, layer: str | None = None, method: str = "highest") -> dict[str, int]:
    """Write the chosen layer(s); returns features written per layer."""
    suffix = out.suffix.lower()
    if layer is not None and layer not in LAYERS:
        raise InputError(f"未知图层 “{layer}”，应为 {' | '.join(LAYERS)} / unknown layer {layer!r}")
    makers = {"layout": lambda: layout_frame(plant), "units": lambda: units_frame(plant),
              "regions": lambda: regions_frame(plant, method)}
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
        names = [layer] if layer else list(LAYERS)
        if out.exists():
            out.unlink()
        written = {}
        for name in names:
            gdf = makers[name]()
            gdf.to_file(out, layer=name, driver="GPKG", engine="pyogrio")
            written[name] = len(gdf)
        return written
    name = layer or "regions"
    gdf = _rfc7946(makers[name]())
    if out.exists():
        out.unlink()
    gdf.to_file(out, driver="GeoJSON", engine="pyogrio",
                layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": GEOJSON_DECIMALS})
    return {name: len(gdf)}
