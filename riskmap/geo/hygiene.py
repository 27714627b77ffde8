"""Geometry hygiene in the plan's metric CRS: repair what can be repaired honestly, drop what is empty, refuse
repairs that would change a shape's area noticeably, and orient polygons as RFC 7946 wants.

All of it vectorized over shapely arrays; no coordinate is ever rounded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from riskmap.errors import LayoutImportError

# shapely type ids
_POINT, _LINESTRING, _LINEARRING, _POLYGON, _MULTIPOINT, _MULTILINESTRING, _MULTIPOLYGON = 0, 1, 2, 3, 4, 5, 6
POLYGONAL = (_POLYGON, _MULTIPOLYGON)
LINEAL = (_LINESTRING, _LINEARRING, _MULTILINESTRING)
PUNTAL = (_POINT, _MULTIPOINT)
# A polygon smaller than a square millimetre is a drawing slip, not an area of the plant.
ZERO_AREA_M2 = 1e-6


@dataclass
class Cleaned:
    """What clean() kept and did: the features, one entry per repaired geometry, counts dropped per reason
    ("invalid", "degenerate", "zero-area") and warnings to show the user."""

    features: gpd.GeoDataFrame
    repaired: list[dict[str, Any]] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def flat(geoms: np.ndarray) -> np.ndarray:
    """Without Z: layouts are plans, and KML or GeoPackage often carry a meaningless altitude."""
    return shapely.force_2d(geoms) if shapely.has_z(geoms).any() else geoms


def _keep_parts(geoms: np.ndarray, type_ids: tuple[int, ...], collect, empty_wkt: str) -> np.ndarray:
    """Per geometry, only its parts of the given kind (collections and multi-parts flattened): one part as
    itself, several as a multi-part geometry, none as an empty one."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    parts2, index2 = shapely.get_parts(parts, return_index=True)
    index = index[index2]
    keep = np.isin(shapely.get_type_id(parts2), type_ids)
    out = np.full(len(geoms), shapely.from_wkt(empty_wkt), dtype=object)
    if keep.any():
        out = collect(parts2[keep], indices=index[keep], out=out)
    single = shapely.get_num_geometries(out) == 1
    out[single] = shapely.get_geometry(out[single], 0)
    return out


_KINDS = ((POLYGONAL, shapely.multipolygons, "MULTIPOLYGON EMPTY"),
          (LINEAL, shapely.multilinestrings, "MULTILINESTRING EMPTY"),
          (PUNTAL, shapely.multipoints, "MULTIPOINT EMPTY"))


def _describe(fids: np.ndarray, names: np.ndarray, changes: np.ndarray, limit: int = 20) -> tuple[str, str]:
    items = [(str(f), None if n is None else str(n), c) for f, n, c in zip(fids, names, changes, strict=True)]
    def one(f, n, c):
        label = f"{f}（{n}）" if n else f
        return f"{label} {'∞' if not np.isfinite(c) else f'{c:.1%}'}"
    zh = "、".join(one(*i) for i in items[:limit])
    en = ", ".join(one(*i).replace("（", " (").replace("）", ")") for i in items[:limit])
    more = len(items) - limit
    if more > 0:
        zh += f" 等 {len(items)} 个"
        en += f" and {more} more"
    return zh, en


def clean(features: gpd.GeoDataFrame, *, max_area_change: float = 0.01, drop_invalid: bool = False) -> Cleaned:
    """Repair invalid geometries (make_valid, keeping a polygon's polygonal part), drop empty and zero-area
    shapes with counts, and refuse (or with `drop_invalid`, drop) polygons whose repair changes their area by
    more than `max_area_change`. `features` must be in a metric CRS."""
    geoms = flat(np.asarray(features.geometry.array, dtype=object))
    fids = features["fid"].to_numpy(dtype=object)
    names = features["name"].to_numpy(dtype=object)
    types = shapely.get_type_id(geoms)
    dropped: Counter[str] = Counter()
    warnings: list[str] = []
    repaired: list[dict[str, Any]] = []

    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    dropped["empty"] += int(empty.sum())
    keep = ~empty
    invalid = keep & ~shapely.is_valid(geoms)
    out = geoms.copy()

    if invalid.any():
        idx = np.flatnonzero(invalid)
        fixed = shapely.make_valid(geoms[idx])
        kinds = types[idx]
        for type_ids, collect, empty_wkt in _KINDS:
            mask = np.isin(kinds, type_ids)
            if mask.any():
                fixed[mask] = _keep_parts(fixed[mask], type_ids, collect, empty_wkt)
        is_poly = np.isin(kinds, POLYGONAL)
        old_area = shapely.area(geoms[idx])
        new_area = shapely.area(fixed)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(old_area > 0, np.abs(new_area - old_area) / old_area,
                              np.where(new_area > 0, np.inf, 0.0))
        collapsed = shapely.is_empty(fixed) | (is_poly & (new_area <= ZERO_AREA_M2))
        rejected = is_poly & ~collapsed & (change > max_area_change)
        if rejected.any():
            zh, en = _describe(fids[idx[rejected]], names[idx[rejected]], change[rejected])
            if not drop_invalid:
                raise LayoutImportError(
                    f"{int(rejected.sum())} 个无效多边形修复后面积变化超过 {max_area_change:.0%}，"
                    f"无法可靠修复（要素及面积变化：{zh}）：请在原图中修正，或选择丢弃这些要素 / "
                    f"{int(rejected.sum())} invalid polygons would "
                    f"change area by more than {max_area_change:.0%} when repaired ({en}): fix them in the source "
                    "or choose to drop them", details=[
                        {"fid": str(f), "area_change": float(c) if np.isfinite(c) else None}   # JSON has no ∞
                        for f, c in zip(fids[idx[rejected]], change[rejected], strict=True)])
            dropped["invalid"] += int(rejected.sum())
            warnings.append(f"已丢弃 {int(rejected.sum())} 个无法可靠修复的无效多边形：{zh} / dropped "
                            f"{int(rejected.sum())} invalid polygons that could not be repaired reliably: {en}")
            keep[idx[rejected]] = False
        accepted = ~rejected & ~collapsed
        out[idx] = fixed
        repaired = [{"fid": str(fids[idx[k]]), "name": names[idx[k]],
                     "area_change": round(float(change[k]), 9) if is_poly[k] else None}
                    for k in np.flatnonzero(accepted)]
        gone = collapsed & ~is_poly
        dropped["degenerate"] += int(gone.sum())
        keep[idx[gone]] = False

    polygonal = keep & np.isin(shapely.get_type_id(out), POLYGONAL)
    zero = polygonal & ((shapely.area(out) <= ZERO_AREA_M2) | shapely.is_empty(out))
    dropped["zero-area"] += int(zero.sum())
    keep &= ~zero

    result = features.loc[keep].copy()
    result = result.set_geometry(gpd.GeoSeries(out[keep], index=result.index, crs=features.crs))
    return Cleaned(result, repaired, {k: v for k, v in dropped.items() if v}, warnings)


def orient_rfc7946(geoms: np.ndarray) -> np.ndarray:
    """Counter-clockwise exteriors and clockwise holes (RFC 7946 §3.1.6); other geometries unchanged."""
    return shapely.orient_polygons(geoms, exterior_cw=False)
