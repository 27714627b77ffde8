"""Georeferencing: from a layout's own coordinates into the plan's metric CRS, refusing what cannot be right.

Three ways in: a known CRS (given, or the file's own), control points (a similarity from 2 points, an affine
least-squares fit from 3 or more, into a local transverse Mercator centred on the points), or neither (placed
at a configured origin as if in metres, flagged as not georeferenced). Coordinates that cannot belong to the
stated CRS (swapped lon/lat, survey X/Y swapped, a Gauss-Krüger zone prefix, points far outside the CRS's area
of use, plant coordinates declared as lon/lat) are refused with the likely fix.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from riskmap.errors import GeoreferenceError
from riskmap.geo.model import RawLayout
from riskmap.geo.safety import check_file_size

WGS84 = CRS.from_epsg(4326)
# How far (degrees) data may lie beyond a CRS's published area of use: GK and UTM zones are routinely used a
# little past their edges, a wrong zone puts the data hundreds of kilometres off.
AREA_MARGIN_DEG = 2.0
# A lon/lat layout wider than this is not a plant: it is plant coordinates declared as EPSG:4326.
MAX_LONLAT_SPAN_DEG = 5.0
# Control points whose spread across their main direction is below this fraction of the spread along it are
# collinear for an affine fit (condition number above 100).
MIN_SHAPE_RATIO = 0.01
# Beyond this distance from (0, 0) a layout placed at the origin is shifted to its own corner first.
ORIGIN_SHIFT_M = 50_000.0
MAX_CONTROL_FILE_BYTES = 10 * 1024 * 1024


# --- CRS handling -----------------------------------------------------------------------------------------


def resolve_crs(value: Any) -> CRS:
    """A horizontal CRS from "EPSG:4549", 4549, "4549", a PROJ string or WKT; GeoreferenceError if unknown."""
    if isinstance(value, CRS):
        crs = value
    else:
        text = str(value).strip()
        if text.isdigit():
            text = f"EPSG:{text}"
        try:
            crs = CRS.from_user_input(text)
        except CRSError as exc:
            raise GeoreferenceError(
                f"未知的坐标系 {text}（请使用 EPSG 代码，如 CGCS2000 高斯-克吕格 3 度带 EPSG:4534–4554，"
                f"经纬度 EPSG:4326） / unknown CRS {text} (use an EPSG code such as EPSG:4549 or EPSG:4326)"
            ) from exc
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    if not (crs.is_geographic or crs.is_projected):
        raise GeoreferenceError(f"坐标系 {crs_text(crs)} 不是地理或投影坐标系 / "
                                f"{crs_text(crs)} is neither a geographic nor a projected CRS")
    return crs


def crs_text(crs: CRS | str) -> str:
    """"EPSG:n" when the CRS has a code, else its PROJ string or WKT (what LayoutImport.crs stores)."""
    if isinstance(crs, str):
        return crs
    code = crs.to_epsg()
    if code:
        return f"EPSG:{code}"
    return crs.srs if crs.srs.lstrip().startswith("+proj") else crs.to_wkt()


def local_tmerc(lon: float, lat: float) -> str:
    """A transverse Mercator centred on (lon, lat), CGCS2000 (GRS80) ellipsoid, scale 1: a plant's own plane."""
    return (f"+proj=tmerc +lat_0={lat:.9f} +lon_0={lon:.9f} +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m "
            "+no_defs +type=crs")


def metric_crs_for(lon: float, lat: float) -> str:
    """The plan CRS for data around (lon, lat): the CGCS2000 3-degree Gauss-Krüger zone (EPSG:4534–4554)
    inside China, else the WGS 84 UTM zone, else (polar) a local transverse Mercator."""
    cm = 3 * round(lon / 3)
    if 75 <= cm <= 135:
        code = 4534 + (cm - 75) // 3
        west, south, east, north = CRS.from_epsg(code).area_of_use.bounds
        if south - 1 <= lat <= north + 1:
            return f"EPSG:{code}"
    if -80 <= lat <= 84:
        zone = int((lon + 180) // 6) % 60 + 1
        return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
    return local_tmerc(lon, lat)


def _to_lonlat(crs: CRS, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    transformer = Transformer.from_crs(crs, WGS84, always_xy=True)
    with np.errstate(all="ignore"):
        lon, lat = transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float), errcheck=False)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _bounds_text(bounds: Sequence[float]) -> str:
    return f"x {bounds[0]:.6g}…{bounds[2]:.6g}, y {bounds[1]:.6g}…{bounds[3]:.6g}"


def _is_lonlat(bounds: Sequence[float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90


def check_lonlat(bounds: Sequence[float], *, what: str = "数据 / data") -> None:
    """Refuse lon/lat bounds that are out of range (swapped or planar) or too wide for a plant."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    zh, en = what.split(" / ") if " / " in what else (what, what)
    if not all(math.isfinite(b) for b in (minx, miny, maxx, maxy)):
        raise GeoreferenceError(f"{zh}含有非有限坐标 / {en} has non-finite coordinates")
    if _is_lonlat((minx, miny, maxx, maxy)):
        if maxx - minx > MAX_LONLAT_SPAN_DEG or maxy - miny > MAX_LONLAT_SPAN_DEG:
            raise GeoreferenceError(
                f"{zh}按经纬度解释跨越 {maxx - minx:.1f}°×{maxy - miny:.1f}°，不可能是一个厂区：坐标看起来是平面"
                f"或 CAD 本地坐标，请指定投影坐标系（如 EPSG:4549）或提供控制点 / {en} spans "
                f"{maxx - minx:.1f}° × {maxy - miny:.1f}° as lon/lat, too wide for a plant: the coordinates look "
                "planar or local CAD coordinates; give the projected CRS (e.g. EPSG:4549) or control points")
        return
    if _is_lonlat((miny, minx, maxy, maxx)):
        raise GeoreferenceError(
            f"{zh}的纬度超出 ±90°（{_bounds_text((minx, miny, maxx, maxy))}）：经纬度可能颠倒，"
            f"应为（经度, 纬度）顺序 / {en} has latitudes beyond ±90°: longitude and latitude look swapped "
            "(coordinates must be in lon, lat order)")
    raise GeoreferenceError(
        f"{zh}超出经纬度范围（{_bounds_text((minx, miny, maxx, maxy))}）：坐标看起来是平面或 CAD 本地坐标，"
        f"请指定投影坐标系（如 EPSG:4549）或提供控制点 / {en} is outside the lon/lat range "
        f"({_bounds_text((minx, miny, maxx, maxy))}): the coordinates look planar or local CAD coordinates; "
        "give the projected CRS (e.g. EPSG:4549) or control points")


def _inside_area(crs: CRS, lon: np.ndarray, lat: np.ndarray, margin: float = AREA_MARGIN_DEG) -> bool:
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return False
    if not ((np.abs(lon) <= 180).all() and (np.abs(lat) <= 90).all()):
        return False
    area = crs.area_of_use
    if area is None:
        return True
    west, south, east, north = area.bounds
    lat_ok = bool((lat >= south - margin).all() and (lat <= north + margin).all())
    if west > east:                       # crosses the antimeridian: only latitude is checked
        return lat_ok
    return lat_ok and bool((lon >= west - margin).all() and (lon <= east + margin).all())


def _sample(bounds: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = bounds
    xs = np.array([minx, maxx, maxx, minx, (minx + maxx) / 2])
    ys = np.array([miny, miny, maxy, maxy, (miny + maxy) / 2])
    return xs, ys


def _zone_prefixed_crs(x: float) -> int | None:
    """The CGCS2000 zone-numbered GK CRS whose false easting carries the zone number `x` starts with."""
    zone = int(abs(x) // 1_000_000)
    if 25 <= zone <= 45:
        return 4513 + zone - 25          # 3-degree zones 25–45: EPSG:4513–4533
    if 13 <= zone <= 23:
        return 4491 + zone - 13          # 6-degree zones 13–23: EPSG:4491–4501
    return None


def check_projected(bounds: Sequence[float], crs: CRS, *, what: str = "数据 / data") -> None:
    """Refuse projected coordinates that fall far outside `crs`'s area of use, naming the likely fix."""
    bounds = [float(b) for b in bounds]
    zh, en = what.split(" / ") if " / " in what else (what, what)
    label = crs_text(crs)
    xs, ys = _sample(bounds)
    lon, lat = _to_lonlat(crs, xs, ys)
    if _inside_area(crs, lon, lat):
        return
    area_name = crs.area_of_use.name if crs.area_of_use else label
    hint_zh, hint_en = "", ""
    slon, slat = _to_lonlat(crs, ys, xs)
    code = _zone_prefixed_crs(float(np.median(xs)))
    if _is_lonlat(bounds) and bounds[2] - bounds[0] < MAX_LONLAT_SPAN_DEG:
        hint_zh, hint_en = "坐标看起来是经纬度，请使用 EPSG:4326", "the coordinates look like lon/lat: use EPSG:4326"
    elif _inside_area(crs, slon, slat):
        hint_zh = "X/Y 可能颠倒（测量坐标 X 为北坐标），应为（东坐标, 北坐标）顺序"
        hint_en = "X and Y look swapped (survey X is the northing); coordinates must be (easting, northing)"
    elif code is not None and _inside_area(CRS.from_epsg(code), *_to_lonlat(CRS.from_epsg(code), xs, ys)):
        zone = int(abs(float(np.median(xs))) // 1_000_000)
        hint_zh = f"东坐标含带号 {zone}，请使用带号坐标系 EPSG:{code}"
        hint_en = f"the eastings carry the zone number {zone}: use EPSG:{code}"
    elif np.isfinite(lon[4]) and np.isfinite(lat[4]) and abs(lat[4]) <= 90:
        hint_zh = f"数据约位于经度 {lon[4]:.2f}°、纬度 {lat[4]:.2f}°，请核对坐标系或分带"
        hint_en = f"the data lies near lon {lon[4]:.2f}°, lat {lat[4]:.2f}°: check the CRS or zone"
    else:
        hint_zh, hint_en = "请核对坐标系", "check the CRS"
    raise GeoreferenceError(
        f"{zh}坐标（{_bounds_text(bounds)}）远超 {label}（{area_name}）的适用范围：{hint_zh} / "
        f"{en} ({_bounds_text(bounds)}) lies far outside the area of use of {label} ({area_name}): {hint_en}")


def check_coordinates(bounds: Sequence[float], crs: CRS, *, what: str = "数据 / data") -> None:
    """Refuse bounds that cannot belong to `crs` (lon/lat or projected alike), naming the likely fix; `what` is the
    "中文 / English" name of the data in the message."""
    if crs.is_geographic:
        check_lonlat(bounds, what=what)
    else:
        check_projected(bounds, crs, what=what)


# --- control points ---------------------------------------------------------------------------------------

# Header spellings of control point files, case and spaces ignored. Drawing (local) coordinates: local_x/…,
# QGIS's sourceX/sourceY, or plain x/y when the world coordinates have names of their own. World coordinates:
# lon/lat (geographic), E/N (projected), QGIS's mapX/mapY (in the CRS of its "#CRS:" line), or plain x/y when
# the local ones are named local_x/local_y.
_HEADERS: dict[str, tuple[str, ...]] = {
    "local_x": ("local_x", "localx", "cad_x", "drawing_x", "本地x", "图纸x", "局部x", "sourcex", "source_x"),
    "local_y": ("local_y", "localy", "cad_y", "drawing_y", "本地y", "图纸y", "局部y", "sourcey", "source_y"),
    "lon": ("lon", "lng", "long", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "east": ("e", "easting", "east", "东坐标"),
    "north": ("n", "northing", "north", "北坐标"),
    "map_x": ("mapx", "map_x"),
    "map_y": ("mapy", "map_y"),
    "x": ("x",),
    "y": ("y",),
    "epsg": ("epsg", "crs", "srid"),
    "label": ("name", "id", "point", "label", "点号", "名称", "点名"),
    "enable": ("enable", "enabled"),
}
_HEADER_LOOKUP = {alias: key for key, aliases in _HEADERS.items() for alias in aliases}
_QGIS_CRS = "#crs:"
HEADER_HELP = ("表头可为 x,y,lon,lat；local_x,local_y,lon,lat；本地X,本地Y,经度,纬度；x,y,E,N 或 local_x,local_y,x,y"
               "（平面坐标另加 epsg 列或指定坐标系）；或 QGIS 地理配准的 .points 文件（mapX,mapY,sourceX,sourceY）",
               "use a header such as x,y,lon,lat; local_x,local_y,lon,lat; 本地X,本地Y,经度,纬度; x,y,E,N or "
               "local_x,local_y,x,y (planar coordinates need an epsg column or a CRS); or a QGIS georeferencer "
               ".points file (mapX,mapY,sourceX,sourceY)")


def _columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, cell in enumerate(header):
        key = _HEADER_LOOKUP.get(cell.lower().replace(" ", ""))
        if key and key not in columns:
            columns[key] = i
    return columns


def _roles(columns: dict[str, int]) -> tuple[tuple[int, int], tuple[int, int], str] | None:
    """(local x/y columns, world x/y columns, world kind "lonlat" | "projected" | "map"), or None when the header
    fits no spelling."""
    def pair(a: str, b: str) -> tuple[int, int] | None:
        return (columns[a], columns[b]) if a in columns and b in columns else None

    plain = pair("x", "y")
    local = pair("local_x", "local_y")
    worlds = [(pair("lon", "lat"), "lonlat"), (pair("east", "north"), "projected"), (pair("map_x", "map_y"), "map")]
    world = next(((cols, kind) for cols, kind in worlds if cols is not None), None)
    if local is not None and world is None and plain is not None:
        world = (plain, "projected")                  # local_x,local_y,x,y: x/y are the surveyed coordinates
    elif local is None and world is not None:
        local = plain                                 # x,y,lon,lat: x/y are the drawing's
    if local is None or world is None:
        return None
    return local, world[0], world[1]


@dataclass
class ControlPoints:
    """Pairs of drawing coordinates and lon/lat (EPSG:4326 order lon, lat), with a label per point."""

    local: np.ndarray
    lonlat: np.ndarray
    labels: list[str]


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise GeoreferenceError(f"控制点文件 {name} 编码无法识别（应为 UTF-8 或 GBK） / "
                            f"cannot decode control point file {name} (expected UTF-8 or GBK)")


def _number(cell: str, row: int, column: str, name: str) -> float:
    try:
        value = float(cell.strip().replace("，", ""))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise GeoreferenceError(f"控制点文件 {name} 第 {row} 行 {column} 列不是数字：“{cell}” / "
                                f"control point file {name}, row {row}, column {column}: {cell!r} is not a number")
    return value


def read_control_points(source: str | os.PathLike, *, crs: Any = None) -> ControlPoints:
    """Read a control point file (UTF-8, UTF-8 with BOM or GBK): a CSV with one of the usual headers (see
    `_HEADERS`: x,y,lon,lat; local_x,local_y,lon,lat; 本地X,本地Y,经度,纬度; x,y,E,N; local_x,local_y,x,y with an
    `epsg` column or the `crs` argument; optionally a name column), a QGIS georeferencer `.points` file
    (mapX,mapY,sourceX,sourceY,enable,… after an optional "#CRS: <WKT>" line; disabled points are left out), or
    no header and four numeric columns local_x, local_y, lon, lat.
    """
    path = Path(source)
    if not path.is_file():
        raise GeoreferenceError(f"找不到控制点文件 {path} / control point file not found: {path}")
    check_file_size(path, MAX_CONTROL_FILE_BYTES)
    text = _decode(path.read_bytes(), path.name)
    lines = text.splitlines()
    declared = next((ln.strip()[len(_QGIS_CRS):].strip() for ln in lines[:5]
                     if ln.strip().lower().startswith(_QGIS_CRS)), "")
    body_text = "\n".join(ln for ln in lines if not ln.lstrip().startswith("#"))
    try:
        dialect = csv.Sniffer().sniff(body_text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(csv.reader(io.StringIO(body_text), dialect))]
    rows = [(n, r) for n, r in rows if any(r)]
    if not rows:
        raise GeoreferenceError(f"控制点文件 {path.name} 为空 / control point file {path.name} is empty")

    first = rows[0][1]
    if len(first) >= 4 and all(_is_number(c) for c in first[:4]):
        columns = {"local_x": 0, "local_y": 1, "lon": 2, "lat": 3}
        body = rows
    else:
        columns = _columns(first)
        body = rows[1:]
    roles = _roles(columns)
    if roles is None:
        raise GeoreferenceError(
            f"控制点文件 {path.name} 的表头无法识别：{','.join(first)[:200]}。{HEADER_HELP[0]} / control point file "
            f"{path.name}: unknown header {','.join(first)[:200]}; {HEADER_HELP[1]}")
    (lx, ly), (wx, wy), kind = roles
    names = {i: first[i] if body is not rows else k for k, i in columns.items()}

    local, world, labels, crss = [], [], [], []
    for n, row in body:
        def cell(i: int, row: list[str] = row) -> str:
            return row[i] if i < len(row) else ""
        if "enable" in columns and cell(columns["enable"]).strip() in ("0", "false", "False"):
            continue                                   # a point switched off in QGIS
        local.append((_number(cell(lx), n, names[lx], path.name), _number(cell(ly), n, names[ly], path.name)))
        world.append((_number(cell(wx), n, names[wx], path.name), _number(cell(wy), n, names[wy], path.name)))
        label = cell(columns["label"]) if "label" in columns else ""
        labels.append(label or f"#{len(labels) + 1}")
        crss.append(cell(columns["epsg"]) if "epsg" in columns else "")
    world_arr = np.array(world, dtype=float).reshape(-1, 2)
    if kind == "map":
        kind, crs = _qgis_world(path.name, declared, crs, world_arr)

    if kind == "lonlat":
        if crs is not None and not resolve_crs(crs).is_geographic:
            raise GeoreferenceError(
                f"控制点文件 {path.name} 给出的是经纬度（lon, lat），但指定的坐标系 {crs} 是投影坐标系：请把列名改为 "
                f"E,N 或不指定坐标系 / {path.name} gives lon/lat but the CRS {crs} is projected: name the "
                "columns E,N or drop the CRS")
        src = resolve_crs(crs) if crs is not None else WGS84
        if len(world_arr):
            check_lonlat(_bounds(world_arr), what="控制点 / control points")
        lonlat = world_arr if src.equals(WGS84, ignore_axis_order=True) else np.column_stack(
            _to_lonlat(src, world_arr[:, 0], world_arr[:, 1]))
    else:
        lonlat = np.empty_like(world_arr)
        codes = [c or (str(crs) if crs is not None else "") for c in crss]
        if any(not c for c in codes):
            raise GeoreferenceError(
                f"控制点文件 {path.name} 为平面坐标（x,y 或 E,N），需要 epsg 列或指定坐标系（如 EPSG:4549） / "
                f"{path.name} has planar coordinates (x,y or E,N): add an epsg column or give the CRS "
                "(e.g. EPSG:4549)")
        codes_arr = np.array(codes, dtype=object)
        for code in dict.fromkeys(codes):
            rows_of = codes_arr == code
            src = resolve_crs(code)
            check_coordinates(_bounds(world_arr[rows_of]), src, what="控制点 / control points")
            lonlat[rows_of] = np.column_stack(_to_lonlat(src, world_arr[rows_of, 0], world_arr[rows_of, 1]))
    return ControlPoints(np.array(local, dtype=float).reshape(-1, 2), lonlat, labels)


def _qgis_world(name: str, declared: str, crs: Any, world: np.ndarray) -> tuple[str, Any]:
    """QGIS's mapX/mapY: in the CRS of the file's "#CRS:" line, else the one given, else lon/lat when they look
    like lon/lat."""
    if declared:
        try:
            found = CRS.from_user_input(declared)
        except CRSError as exc:
            raise GeoreferenceError(f"控制点文件 {name} 的 #CRS 行无法识别：{str(exc)[:120]} / {name}: cannot read "
                                    f"the #CRS line: {str(exc)[:120]}") from None
        if crs is not None and not resolve_crs(crs).equals(found, ignore_axis_order=True):
            raise GeoreferenceError(f"控制点文件 {name} 声明的坐标系与指定的 {crs} 不同 / {name} declares another CRS "
                                    f"than {crs}")
        return ("lonlat" if found.is_geographic else "projected"), found
    if crs is not None:
        return ("lonlat" if resolve_crs(crs).is_geographic else "projected"), crs
    if len(world) and _is_lonlat(_bounds(world)):
        return "lonlat", None
    raise GeoreferenceError(f"控制点文件 {name} 的 mapX,mapY 不是经纬度，且没有 #CRS 行：请指定坐标系（如 EPSG:4549）"
                            f" / {name}: mapX,mapY are not lon/lat and there is no #CRS line: give the CRS")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _bounds(xy: np.ndarray) -> tuple[float, float, float, float]:
    return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))


def control_points_from(value: Any, *, crs: Any = None) -> ControlPoints:
    """A ControlPoints from a CSV path, a ControlPoints, or rows of (local_x, local_y, lon, lat)."""
    if isinstance(value, ControlPoints):
        return value
    if isinstance(value, (str, os.PathLike)):
        return read_control_points(value, crs=crs)
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise GeoreferenceError("控制点应为 (local_x, local_y, lon, lat) 四列 / control points must be rows of "
                                "(local_x, local_y, lon, lat)")
    check_lonlat(_bounds(arr[:, 2:]), what="控制点 / control points")
    return ControlPoints(arr[:, :2].copy(), arr[:, 2:].copy(), [f"#{i + 1}" for i in range(len(arr))])


@dataclass
class Fit:
    """A fitted drawing → plan transform: plan = matrix @ local + offset, plan in `crs` (metres)."""

    method: str
    matrix: np.ndarray
    offset: np.ndarray
    crs: str
    labels: list[str]
    residuals_m: np.ndarray
    warnings: list[str] = field(default_factory=list)

    @property
    def rms_m(self) -> float:
        """The RMS of the control point residuals in metres: what the import's max_rms_m limit is held to."""
        return float(np.sqrt(np.mean(self.residuals_m ** 2)))

    @property
    def scale(self) -> float:
        """Plan metres per drawing unit (√|det|): 1 for a drawing in metres, 0.001 for one in millimetres."""
        return float(math.sqrt(abs(np.linalg.det(self.matrix))))

    @property
    def rotation_deg(self) -> float:
        """Counter-clockwise angle from the drawing's x axis to east, of the closest similarity."""
        (a, b), (d, e) = self.matrix
        return float(math.degrees(math.atan2(d - b, a + e)))

    @property
    def transform(self) -> list[float]:
        """[a, b, d, e, xoff, yoff] in shapely.affinity.affine_transform order (drawing units → metres)."""
        (a, b), (d, e) = self.matrix
        return [float(a), float(b), float(d), float(e), float(self.offset[0]), float(self.offset[1])]

    def apply(self, geoms: np.ndarray) -> np.ndarray:
        """The geometries (an array) moved from drawing coordinates into the fit's CRS, in metres."""
        matrix, offset = self.matrix, self.offset
        return shapely.transform(geoms, lambda xy: xy @ matrix.T + offset)

    def info(self) -> dict[str, Any]:
        """The fit as the layout's georeference record (JSON-ready): residuals, RMS, transform, scale, rotation."""
        return {"method": self.method, "points": len(self.residuals_m),
                "residuals_m": [round(float(r), 4) for r in self.residuals_m], "rms_m": round(self.rms_m, 4),
                "labels": list(self.labels), "transform": self.transform, "scale": self.scale,
                "rotation_deg": self.rotation_deg, "crs": self.crs}


def _residual_list(labels: list[str], residuals: np.ndarray) -> tuple[str, str]:
    zh = "、".join(f"{lab} {r:.3f} m" for lab, r in zip(labels, residuals, strict=True))
    en = ", ".join(f"{lab} {r:.3f} m" for lab, r in zip(labels, residuals, strict=True))
    return zh, en


def fit_control_points(cp: ControlPoints, *, max_rms_m: float = 0.5,
                       drawing_units_m: float | None = None) -> Fit:
    """Similarity (2 points) or least-squares affine (3+) from drawing coordinates into a local transverse
    Mercator centred on the points; refuses degenerate point sets and an RMS above `max_rms_m`."""
    n = len(cp.local)
    if n < 2:
        raise GeoreferenceError(f"控制点至少需要 2 个，实际 {n} 个 / at least 2 control points are needed, got {n}")
    lon0, lat0 = cp.lonlat.mean(axis=0)
    crs = local_tmerc(float(lon0), float(lat0))
    to_plan = Transformer.from_crs(WGS84, CRS.from_user_input(crs), always_xy=True)
    world = np.column_stack(to_plan.transform(cp.lonlat[:, 0], cp.lonlat[:, 1]))
    local = cp.local
    local_mean, world_mean = local.mean(axis=0), world.mean(axis=0)
    lc, wc = local - local_mean, world - world_mean
    s_local = np.linalg.svd(lc, compute_uv=False)
    s_world = np.linalg.svd(wc, compute_uv=False)
    local_tol = 1e-9 * max(1.0, float(np.abs(local).max()))
    if s_local[0] <= local_tol or s_world[0] <= 1e-3:
        which_zh, which_en = ("图纸坐标", "drawing") if s_local[0] <= local_tol else ("经纬度", "lon/lat")
        raise GeoreferenceError(
            f"控制点的{which_zh}重合，无法确定变换：请提供相距足够远的点 / the control points coincide in "
            f"{which_en} coordinates; no transform can be fitted: use points far apart")
    if n >= 3:
        ratio = min(s_local[1] / s_local[0], s_world[1] / s_world[0])
        if ratio < MIN_SHAPE_RATIO:
            raise GeoreferenceError(
                f"{n} 个控制点近乎共线（横向分布仅为纵向的 {ratio:.2%}），仿射变换无法确定：请加一个偏离该直线的点，"
                f"或只用 2 个点（相似变换） / the {n} control points are (nearly) collinear (spread across "
                f"{ratio:.2%} of the spread along), so an affine fit is undetermined: add a point off the line "
                "or use 2 points (similarity)")

    warnings: list[str] = []
    if n == 2:
        z = lc[:, 0] + 1j * lc[:, 1]
        w = wc[:, 0] + 1j * wc[:, 1]
        a = np.sum(np.conj(z) * w) / np.sum(np.abs(z) ** 2)
        matrix = np.array([[a.real, -a.imag], [a.imag, a.real]])
        method = "similarity"
        warnings.append("只有 2 个控制点：相似变换恰好通过两点，残差恒为 0，无法检验误差；建议 4 个以上 / "
                        "only 2 control points: the similarity passes through both exactly, so residuals are "
                        "always 0 and cannot show errors; 4 or more are recommended")
    else:
        solution, *_ = np.linalg.lstsq(lc, wc, rcond=None)
        matrix = solution.T
        method = "affine"
        if n == 3:
            warnings.append("只有 3 个控制点：仿射变换恰好通过三点，残差恒为 0，无法检验误差；建议 4 个以上 / "
                            "only 3 control points: the affine fit passes through all three exactly, so residuals "
                            "are always 0 and cannot show errors; 4 or more are recommended")
    offset = world_mean - matrix @ local_mean
    residuals = np.linalg.norm(local @ matrix.T + offset - world, axis=1)
    fit = Fit(method, matrix, offset, crs, list(cp.labels), residuals, warnings)

    if fit.rms_m > max_rms_m:
        zh, en = _residual_list(fit.labels, residuals)
        worst = fit.labels[int(np.argmax(residuals))]
        raise GeoreferenceError(
            f"控制点残差 RMS {fit.rms_m:.3f} m 超过上限 {max_rms_m} m（残差：{zh}；最大为 {worst}，请核对该点） / "
            f"control point RMS {fit.rms_m:.3f} m exceeds the limit of {max_rms_m} m (residuals: {en}; "
            f"check {worst}, the largest)")
    if np.linalg.det(matrix) < 0:
        warnings.append("控制点表明图纸被镜像（可能 x/y 或经纬度列颠倒） / the control points imply a mirrored "
                        "drawing (x/y or lon/lat columns may be swapped)")
    if method == "affine":
        sv = np.linalg.svd(matrix, compute_uv=False)
        if sv[0] / sv[1] > 1.05:
            warnings.append(f"仿射变换在一个方向上比另一方向多拉伸 {sv[0] / sv[1] - 1:.1%}，请核对控制点 / "
                            f"the affine fit stretches one direction {sv[0] / sv[1] - 1:.1%} more than the "
                            "other: check the control points")
    if drawing_units_m and abs(fit.scale / drawing_units_m - 1) > 0.05:
        warnings.append(f"拟合比例 {fit.scale:.6g} m/单位 与图纸单位 {drawing_units_m:g} m 不符 / the fitted scale "
                        f"{fit.scale:.6g} m per unit differs from the drawing's units ({drawing_units_m:g} m)")
    return fit


# --- the whole step ---------------------------------------------------------------------------------------


@dataclass
class Georeferenced:
    """Geometries in the plan's metric CRS, and how they got there."""

    geometry: np.ndarray
    crs: str
    georeferenced: bool
    info: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _total_bounds(geoms: np.ndarray) -> tuple[float, float, float, float] | None:
    bounds = shapely.total_bounds(geoms)
    return None if not np.isfinite(bounds).all() else tuple(float(b) for b in bounds)


def georeference(raw: RawLayout, *, crs: Any = None, control_points: Any = None, max_rms_m: float = 0.5,
                 origin: tuple[float, float] = (120.0, 32.0), footprint: Any = None) -> Georeferenced:
    """Put `raw`'s geometries into the plan's metric CRS.

    With control points, `crs` is the CRS of their x,y columns and the file's own CRS is ignored; otherwise
    `crs` declares the layout's coordinates (overriding the file's own, which is used when `crs` is None). A
    drawing with neither, given the `footprint` of its building on the site plan (a lon/lat polygon), is fitted
    onto that footprint (`fit_to_footprint`).
    """
    geoms = np.asarray(raw.features.geometry.array, dtype=object)
    if control_points is not None:
        fit = fit_control_points(control_points_from(control_points, crs=crs), max_rms_m=max_rms_m,
                                 drawing_units_m=raw.drawing_units_m)
        warnings = list(fit.warnings)
        if raw.crs is not None:
            warnings.append(f"文件自带坐标系 {crs_text(CRS(raw.crs))} 被忽略，按控制点配准 / the file's CRS "
                            f"{crs_text(CRS(raw.crs))} is ignored in favour of the control points")
        return Georeferenced(fit.apply(geoms), fit.crs, True, fit.info(), warnings)
    if crs is not None or raw.crs is not None:
        return _from_crs(raw, geoms, resolve_crs(crs if crs is not None else raw.crs), declared=crs is not None)
    if footprint is not None:
        return fit_to_footprint(raw, geoms, footprint)
    return _at_origin(raw, geoms, origin)


# How far a floor plan's outline and its building's footprint may differ in shape (ratio of their rectangles'
# side ratios) before the fit is refused, and how far the plan's scale may stray from its drawing units.
MAX_ASPECT_MISMATCH = 0.15
SCALE_WARNING = 0.10


def _rectangle(geom) -> tuple[np.ndarray, float, float, float]:
    """Centre, long side, short side and the long side's direction (radians, in [0, π)) of the minimum rotated
    rectangle of a geometry."""
    rect = shapely.minimum_rotated_rectangle(geom)
    xy = np.asarray(rect.exterior.coords)[:4]
    sides = np.roll(xy, -1, axis=0) - xy
    lengths = np.hypot(sides[:, 0], sides[:, 1])
    i = int(np.argmax(lengths[:2]))
    angle = math.atan2(sides[i, 1], sides[i, 0]) % math.pi
    return xy.mean(axis=0), float(lengths[i]), float(lengths[1 - i]), angle


def fit_to_footprint(raw: RawLayout, geoms: np.ndarray, footprint: Any) -> Georeferenced:
    """A floor plan in drawing coordinates laid onto its building's footprint (lon/lat) by a similarity: the
    minimum rotated rectangles of the plan's outline (its areas, else everything) and of the footprint are made
    to coincide, long side on long side, turned by the smaller of the two angles that do it (a plan drawn upside
    down needs control points). Refused (GeoreferenceError) when the two shapes differ too much to tell."""
    areas = [g for g in geoms if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    outline = shapely.union_all(areas) if areas else shapely.union_all([g for g in geoms if g is not None])
    foot = shapely.geometry.shape(footprint) if isinstance(footprint, dict) else footprint
    if outline is None or outline.is_empty or foot is None or foot.is_empty or foot.area == 0:
        raise GeoreferenceError("无法按建筑轮廓配准：图纸或建筑没有可用的轮廓，请提供控制点 / cannot fit the floor "
                                "plan onto its building: no usable outline; give control points")
    centre = foot.centroid
    crs = local_tmerc(float(centre.x), float(centre.y))
    to_metric = Transformer.from_crs(WGS84, CRS.from_user_input(crs), always_xy=True)
    foot_m = shapely.transform(foot, lambda xy: np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1])))
    c1, long1, short1, a1 = _rectangle(outline)
    c2, long2, short2, a2 = _rectangle(foot_m)
    if min(long1, short1, long2, short2) <= 0:
        raise GeoreferenceError("无法按建筑轮廓配准：轮廓退化为线或点，请提供控制点 / cannot fit the floor plan onto "
                                "its building: an outline is degenerate; give control points")
    aspect1, aspect2 = long1 / short1, long2 / short2
    mismatch = abs(aspect1 / aspect2 - 1.0)
    if mismatch > MAX_ASPECT_MISMATCH:
        raise GeoreferenceError(
            f"图纸轮廓（长宽比 {aspect1:.2f}）与建筑轮廓（长宽比 {aspect2:.2f}）形状不符，无法按建筑轮廓配准；"
            "请提供控制点 / "
            f"the floor plan's outline (sides {aspect1:.2f}:1) does not match its building's footprint "
            f"({aspect2:.2f}:1): it cannot be fitted onto it; give control points")
    scale = math.sqrt((long2 * short2) / (long1 * short1))
    turn = (a2 - a1) % math.pi                            # one of the two turns that lay long side on long side
    turn = turn - math.pi if turn > math.pi / 2 else turn    # the smaller one: the plan's up stays up
    cos, sin = math.cos(turn) * scale, math.sin(turn) * scale

    def place(xy: np.ndarray) -> np.ndarray:
        d = xy - c1
        return np.column_stack((d[:, 0] * cos - d[:, 1] * sin, d[:, 0] * sin + d[:, 1] * cos)) + c2

    placed = shapely.transform(geoms, place)
    units = raw.drawing_units_m
    warnings = [f"按建筑轮廓配准：旋转 {math.degrees(turn):.1f}°，每图纸单位 {scale:.4g} m，长宽比偏差 "
                f"{mismatch:.1%} / fitted onto its building's footprint: turned {math.degrees(turn):.1f}°, "
                f"{scale:.4g} m per drawing unit, sides off by {mismatch:.1%}"]
    if units and abs(scale / units - 1.0) > SCALE_WARNING:
        warnings.append(f"按轮廓得到的比例（每单位 {scale:.4g} m）与图纸单位（{units:g} m）不符，请核对 / the scale "
                        f"from the footprint ({scale:.4g} m per unit) differs from the drawing's units ({units:g} m): "
                        "check the drawing")
    info = {"method": "footprint", "crs": crs, "rotation_deg": round(math.degrees(turn), 3), "scale": scale,
            "aspect_mismatch": round(mismatch, 4)}
    return Georeferenced(placed, crs, True, info, warnings)


def _from_crs(raw: RawLayout, geoms: np.ndarray, src: CRS, *, declared: bool) -> Georeferenced:
    warnings: list[str] = []
    label = crs_text(src)
    if declared and raw.crs is not None and not CRS(raw.crs).equals(src, ignore_axis_order=True):
        warnings.append(f"按指定坐标系 {label} 解释坐标，文件自带的 {crs_text(CRS(raw.crs))} 被忽略 / coordinates "
                        f"taken as {label}; the file's own {crs_text(CRS(raw.crs))} is ignored")
    if declared and raw.drawing_units_m not in (None, 1.0):
        warnings.append(f"图纸单位（{raw.drawing_units_m:g} m）被忽略：坐标按 {label} 的单位解释 / the drawing's "
                        f"units ({raw.drawing_units_m:g} m) are ignored: coordinates are in {label}'s units")
    bounds = _total_bounds(geoms)
    if bounds is not None:
        check_coordinates(bounds, src)
    is_metric = src.is_projected and all(abs(a.unit_conversion_factor - 1.0) < 1e-12 for a in src.axis_info)
    if is_metric:
        plan = label
    elif bounds is not None:
        lon, lat = _to_lonlat(src, np.array([(bounds[0] + bounds[2]) / 2]), np.array([(bounds[1] + bounds[3]) / 2]))
        plan = metric_crs_for(float(lon[0]), float(lat[0]))
    else:
        plan = "EPSG:4326"
    metric = geoms if plan == label else np.asarray(
        gpd.GeoSeries(geoms, crs=src).to_crs(CRS.from_user_input(plan)).array, dtype=object)
    return Georeferenced(metric, plan, True, {"method": "crs", "source_crs": label, "crs": plan}, warnings)


def _at_origin(raw: RawLayout, geoms: np.ndarray, origin: tuple[float, float]) -> Georeferenced:
    units = float(raw.drawing_units_m or 1.0)
    bounds = _total_bounds(geoms)
    offset = np.zeros(2)
    hints_zh, hints_en = "", ""
    if bounds is not None:
        scaled = np.array(bounds) * units
        if np.abs(scaled).max() > ORIGIN_SHIFT_M:
            offset = np.floor(scaled[:2] / 1000.0) * 1000.0
        minx, miny, maxx, maxy = bounds
        gauss_kruger = 1e5 <= minx <= maxx < 1e6 and 1e6 <= miny <= maxy < 6.5e6
        zone_prefixed = 1.3e7 <= minx <= maxx < 4.6e7
        if gauss_kruger or zone_prefixed:
            hints_zh = "；坐标像是 CGCS2000 高斯-克吕格平面坐标，如是请指定坐标系（如 EPSG:4549）"
            hints_en = "; the coordinates look like CGCS2000 Gauss-Krüger: if so give the CRS (e.g. EPSG:4549)"
        elif _is_lonlat(bounds) and maxx - minx < 1 and maxy - miny < 1 and (abs(minx) > 1 or abs(miny) > 1):
            hints_zh = "；坐标像是经纬度，如是请指定 EPSG:4326"
            hints_en = "; the coordinates look like lon/lat: if so give EPSG:4326"
    placed = shapely.transform(geoms, lambda xy: xy * units - offset)
    lon, lat = origin
    warnings = [f"图纸未地理配准：按每单位 {units:g} m 放置在经纬度 ({lon}, {lat})，位置和方向均不真实；请提供控制点或"
                f"坐标系{hints_zh} / the layout is not georeferenced: placed at lon/lat ({lon}, {lat}) at "
                f"{units:g} m per unit, its position and orientation are not real; give control points or a "
                f"CRS{hints_en}"]
    crs = local_tmerc(float(lon), float(lat))
    info = {"method": "origin", "origin_lonlat": [float(lon), float(lat)], "offset": [float(o) for o in offset],
            "units_m": units, "crs": crs}
    return Georeferenced(placed, crs, False, info, warnings)


def to_lonlat(geoms: np.ndarray, crs: str) -> np.ndarray:
    """Geometries from the plan CRS to EPSG:4326 (lon, lat order), full float64 precision."""
    if crs == "EPSG:4326":
        return geoms
    return np.asarray(gpd.GeoSeries(geoms, crs=CRS.from_user_input(crs)).to_crs(WGS84).array, dtype=object)
