"""The checks every edited geometry passes before it is stored (editing API, split/merge, re-import --revise).

A geometry drawn in a browser or sent by a script can be anything: projected metres instead of lon/lat, a
polygon on the other side of the world, a bow-tie, a million vertices. Each is refused with a 422 naming the
problem, so that the map never shows (and the store never keeps) something no one meant.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.validation import explain_validity

from riskmap.errors import InputError

MARGIN_M = 500.0
MAX_VERTICES = 20_000
MAX_AREA_KM2 = 50.0
METRES_PER_DEGREE = 111_320.0
AREAS = frozenset({"Polygon", "MultiPolygon"})
LINES = frozenset({"LineString", "MultiLineString"})
POINTS = frozenset({"Point", "MultiPoint"})
# The geometry types each role may have; "unit" is an assessment unit's own geometry.
ROLE_TYPES: dict[str, frozenset[str]] = {
    "region": AREAS,
    "building": AREAS,
    "equipment": AREAS | POINTS,
    "road": AREAS | LINES,
    "fence": AREAS | LINES,
    "other": AREAS | LINES | POINTS,
    "assembly_point": AREAS | POINTS,
    "escape_route": LINES,
    "emergency_exit": AREAS | POINTS | LINES,      # a doorway drawn as a small area, a symbol or a line
    "fire_hydrant": POINTS,
    "extinguisher": POINTS,
    "eyewash": POINTS,
    "emergency_store": AREAS | POINTS,
    "unit": AREAS | POINTS,
}
_TYPE_ZH = {"Polygon": "面", "MultiPolygon": "多面", "LineString": "线", "MultiLineString": "多线", "Point": "点",
            "MultiPoint": "多点"}
CRS84_NAMES = frozenset({"http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                         "https://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84", "[OGC:CRS84]",
                         "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "EPSG:4326",
                         "urn:ogc:def:crs:EPSG::4326", "http://www.opengis.net/def/crs/EPSG/0/4326"})


def parse_geometry(value: Any) -> shapely.Geometry:
    """A GeoJSON geometry (dict, JSON text or already a shapely geometry) as a 2D shapely geometry."""
    if isinstance(value, shapely.Geometry):
        geom = value
    else:
        if isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except ValueError:
                raise _bad("不是 JSON", "is not JSON") from None
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise _bad("应为带 type 和 coordinates 的 GeoJSON 几何对象",
                       "must be a GeoJSON geometry object with type and coordinates")
        _check_crs(value.get("crs"))
        if value["type"] not in _TYPE_ZH:
            raise _bad(f"类型 {value['type'][:40]!r} 不受支持（可用 Polygon、MultiPolygon、LineString、Point 等）",
                       f"type {value['type'][:40]!r} is not supported (use Polygon, MultiPolygon, LineString, "
                       f"Point, …)")
        try:
            geom = shapely.from_geojson(json.dumps({"type": value["type"], "coordinates": value.get("coordinates")},
                                                   allow_nan=False))
        except (ValueError, TypeError, GEOSException) as exc:
            text = str(exc)
            if "Out of range float" in text or "NaN" in text:
                raise _bad("坐标含 NaN 或无穷大", "coordinates contain NaN or infinity") from None
            raise _bad("坐标结构不对（如环少于 4 个点、数组嵌套层数不对）",
                       f"coordinates are malformed (e.g. a ring with fewer than 4 points, wrong nesting): "
                       f"{text[:200]}") from None
    if geom is None:
        raise _bad("为空", "is missing")
    return shapely.force_2d(geom)


def check_edit_geometry(geom: Any, role: str, plant_extent_lonlat: tuple[float, float, float, float] | None,
                        margin_m: float = MARGIN_M, max_vertices: int = MAX_VERTICES,
                        max_area_km2: float = MAX_AREA_KM2) -> shapely.Geometry:
    """The geometry, parsed and checked for a feature of `role`; InputError (422) naming the first problem."""
    geom = parse_geometry(geom)
    if geom.is_empty:
        raise _bad("为空（没有坐标）", "is empty (no coordinates)")
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise _bad("坐标含 NaN 或无穷大", "coordinates contain NaN or infinity")
    if len(coords) > max_vertices:
        raise _bad(f"顶点过多（{len(coords)} 个，最多 {max_vertices} 个）",
                   f"has too many vertices ({len(coords)}, at most {max_vertices})")
    if (np.abs(coords[:, 0]) > 180).any() or (np.abs(coords[:, 1]) > 90).any():
        raise _bad("坐标不是经纬度（经度应在 ±180、纬度应在 ±90 之内，经度在前；也许是投影坐标）",
                   "coordinates are not lon/lat (longitude within ±180, latitude within ±90, longitude first; "
                   "projected metres perhaps)")
    allowed = ROLE_TYPES.get(role)
    if allowed is None:
        raise InputError(f"未知的要素角色 {role!r}，可选：{', '.join(ROLE_TYPES)} / unknown role {role!r}; allowed: "
                         f"{', '.join(ROLE_TYPES)}")
    if geom.geom_type not in allowed:
        names = "、".join(_TYPE_ZH[t] for t in sorted(allowed))
        raise _bad(f"类型为 {geom.geom_type}，而角色 {role} 只能是 {names}",
                   f"is a {geom.geom_type}, but a {role} must be one of {', '.join(sorted(allowed))}")
    if not geom.is_valid:
        raise _bad(f"无效（{explain_validity(geom)}），例如自相交；请修正后再保存",
                   f"is invalid ({explain_validity(geom)}), e.g. self-intersecting; fix it before saving")
    if plant_extent_lonlat is not None:
        _check_inside(geom, plant_extent_lonlat, margin_m)
    if geom.geom_type in AREAS:
        area = geodesic_area_km2(geom)
        if area > max_area_km2:
            raise _bad(f"面积过大（{area:.1f} 平方公里，最多 {max_area_km2:g}）",
                       f"is too large ({area:.1f} km², at most {max_area_km2:g})")
        if area <= 0:
            raise _bad("面积为零", "has no area")
    return geom


def grown_extent(extent: tuple[float, float, float, float], margin_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box grown by `margin_m` metres on every side."""
    minx, miny, maxx, maxy = extent
    dlat = margin_m / METRES_PER_DEGREE
    coslat = max(math.cos(math.radians(max(abs(miny), abs(maxy)))), 0.01)
    dlon = margin_m / (METRES_PER_DEGREE * coslat)
    return minx - dlon, miny - dlat, maxx + dlon, maxy + dlat


def geodesic_area_km2(geom: shapely.Geometry) -> float:
    """The geodesic area on WGS84 of a lon/lat geometry in km², so a size limit means the same at any latitude."""
    from pyproj import Geod

    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(geom)
    return abs(area) / 1e6


def _check_inside(geom: shapely.Geometry, extent, margin_m: float) -> None:
    minx, miny, maxx, maxy = grown_extent(extent, margin_m)
    gminx, gminy, gmaxx, gmaxy = geom.bounds
    if gminx < minx or gminy < miny or gmaxx > maxx or gmaxy > maxy:
        raise _bad(f"超出厂区范围（厂区外扩 {margin_m:g} 米：经度 {minx:.5f}～{maxx:.5f}，纬度 {miny:.5f}～{maxy:.5f}；"
                   f"几何范围：经度 {gminx:.5f}～{gmaxx:.5f}，纬度 {gminy:.5f}～{gmaxy:.5f}）",
                   f"lies outside the plant's extent grown by {margin_m:g} m (lon {minx:.5f}..{maxx:.5f}, "
                   f"lat {miny:.5f}..{maxy:.5f}; geometry: lon {gminx:.5f}..{gmaxx:.5f}, "
                   f"lat {gminy:.5f}..{gmaxy:.5f})")


def _check_crs(crs: Any) -> None:
    """The GeoJSON 2008 "crs" member, when a client still sends it, must name lon/lat."""
    if crs is None:
        return
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) and isinstance(
        crs.get("properties"), dict) else None
    if not isinstance(name, str) or name.strip() not in CRS84_NAMES:
        shown = repr(name if name is not None else crs)[:80]
        raise _bad(f"坐标系 {shown} 不受支持，只接受经纬度 CRS84（WGS 84）",
                   f"CRS {shown} is not supported; only lon/lat CRS84 (WGS 84) is accepted")


def _bad(zh: str, en: str) -> InputError:
    return InputError(f"几何{zh} / the geometry {en}")
