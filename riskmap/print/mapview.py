"""The map on paper: the plant in its plan's metric CRS, drawn with the tiles' symbology at a true scale.

Same symbology as the PNG tiles (`layers/*.yaml` for widths, label rules and hatches; `levels.yaml` for the
colours), and the same path building (riskmap.render.png), but in vector form: a paper map is drawn in
points, every class of features is one path (outlined ones in runs of fill and outline, see _RUN_VERBS),
point symbols are round-capped points (a few bytes each in a PDF), hatches are clipped vector lines, and
labels are real text. Style widths are CSS pixels; on paper one
CSS pixel is 0.75 pt times the paper's symbol factor (riskmap.print.paper.Paper.factor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import skia
from pyproj import CRS, Transformer

from riskmap.domain import RESIDUAL
from riskmap.errors import InputError
from riskmap.levels import LEVELS_HIGH_TO_LOW, Level, level_or_none
from riskmap.print import fonts
from riskmap.print.fonts import colour_int
from riskmap.render.draw import (
    CLOSE,
    MOVE,
    draw_arrows,
    draw_marked_points,
    make_path,
    ring_groups,
    stroke_classes,
    stroke_paint,
)
from riskmap.render.geometry import COLLECTION, LINEAR, POLYGONAL, PUNTAL
from riskmap.render.style import LayerStyle, load_layer_style
from riskmap.store.flags import reassessment_months
from riskmap.store.mapdata import drawn_units, member_counts

EARTH_CIRCUMFERENCE = 2 * math.pi * 6378137.0
LABEL_HALO_COLOUR = "#FFFFFF"


# ------------------------------------------------------------------------------------------------ data


@dataclass
class MapData:
    """What a paper map shows, in the plan's metric CRS."""

    crs: CRS
    layout: gpd.GeoDataFrame           # role, name, geometry
    regions: gpd.GeoDataFrame          # id, name, level, geometry
    units: gpd.GeoDataFrame            # id, name, level, members, geometry (as drawn: riskmap.store.mapdata)
    risks: dict[str, Any] = field(default_factory=dict)   # region id → RegionRisk
    lat: float = 30.0                  # latitude of the plant (for the equivalent web zoom)
    crs_label: str = ""

    def content_bounds(self) -> tuple[float, float, float, float] | None:
        """The bounding box (plan metres) of everything on the map; None when nothing has a finite extent."""
        boxes = [f.total_bounds for f in (self.layout, self.regions, self.units) if len(f)]
        boxes = [b for b in boxes if np.all(np.isfinite(b))]
        if not boxes:
            return None
        arr = np.array(boxes)
        return float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max())

    def to_plan(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat arrays as plan coordinates (metres in `crs`)."""
        t = Transformer.from_crs(4326, self.crs, always_xy=True)
        return t.transform(lon, lat)


def plan_crs(plant) -> tuple[CRS, str]:
    """The plan's metric CRS (from the layout import); a geographic or unreadable one becomes a local transverse
    Mercator on the plant, so that distances on paper are metres."""
    info = plant.layout_info or {}
    text = info.get("crs")
    crs = None
    if text:
        try:
            crs = CRS.from_user_input(text)
        except Exception:          # noqa: BLE001 - pyproj raises several types for bad input
            crs = None
    if crs is not None and crs.is_projected and _metres(crs):
        return crs, _crs_label(crs, text)
    bounds = plant.features.total_bounds if len(plant.features) else None
    if bounds is None or not np.all(np.isfinite(bounds)):
        lon0, lat0 = 120.0, 30.0
    else:
        lon0, lat0 = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    local = CRS.from_proj4(f"+proj=tmerc +lat_0={lat0:.7f} +lon_0={lon0:.7f} +k=1 +x_0=0 +y_0=0 +ellps=GRS80 "
                           "+units=m +no_defs")
    return local, "厂区局部横轴墨卡托 / local transverse Mercator"


def _metres(crs: CRS) -> bool:
    try:
        return all((a.unit_name or "").lower() in ("metre", "meter", "m") for a in crs.axis_info)
    except Exception:  # noqa: BLE001
        return False


def _crs_label(crs: CRS, text: str) -> str:
    epsg = crs.to_epsg()
    if epsg:
        return f"EPSG:{epsg} {crs.name}"
    if "+proj=tmerc" in str(text):
        return "厂区局部横轴墨卡托（控制点配准）/ local transverse Mercator"
    return crs.name or "plan CRS"


def map_data(plant, method: str = "highest", which: str = RESIDUAL) -> MapData:
    """The plant's layout, regions (with their level under `method`) and units in the plan's metric CRS."""
    if plant.layout_info is None or not len(plant.features):
        raise InputError("该企业还没有平面布置图，无法出图：请先导入布局（riskmap import-layout）/ the enterprise has "
                         "no layout yet: import one first (riskmap import-layout)")
    crs, label = plan_crs(plant)
    features = plant.features
    layout = gpd.GeoDataFrame({"role": features["role"].astype(object).to_numpy(),
                               "name": features["name"].astype(object).to_numpy()},
                              geometry=features.geometry.values, crs=features.crs or "EPSG:4326")
    layout = layout[layout["role"] != "region"].reset_index(drop=True)   # regions are drawn by the regions layer

    risks = {r.region_id: r for r in plant.region_risk(method=method, which=which)} if plant.regions else {}
    region_rows = [(r.id, r.name, _level_value(risks.get(r.id)), r.geometry) for r in plant.regions
                   if r.geometry is not None]
    regions = gpd.GeoDataFrame(pd.DataFrame(region_rows, columns=["id", "name", "level", "geometry"]),
                               geometry="geometry", crs="EPSG:4326")

    # the units as the tiles draw them: one shape each, at the highest level of the units it stands for
    drawn = drawn_units(plant.units, which, months=reassessment_months(plant.profile))
    units = gpd.GeoDataFrame({"id": drawn["key"].to_numpy(dtype=object), "name": drawn["name"].to_numpy(dtype=object),
                              "level": drawn["level"].to_numpy(dtype=object),
                              "members": drawn["members"].to_numpy(dtype=object)},
                             geometry=drawn["geometry"].to_numpy(dtype=object), crs="EPSG:4326")

    # one transformation for all three layers
    parts = [layout.geometry.values, regions.geometry.values, units.geometry.values]
    allg = np.concatenate([np.asarray(p, dtype=object) for p in parts]) if sum(map(len, parts)) else np.empty(0, object)
    t = Transformer.from_crs(4326, crs, always_xy=True)
    lonlat_bounds = shapely.total_bounds(allg) if len(allg) else np.array([120, 30, 120, 30.0])
    projected = shapely.transform(shapely.force_2d(allg), lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    a, b = len(parts[0]), len(parts[0]) + len(parts[1])
    layout = layout.set_geometry(gpd.GeoSeries(projected[:a], index=layout.index, crs=crs))
    regions = regions.set_geometry(gpd.GeoSeries(projected[a:b], index=regions.index, crs=crs))
    units = units.set_geometry(gpd.GeoSeries(projected[b:], index=units.index, crs=crs))
    lat = float((lonlat_bounds[1] + lonlat_bounds[3]) / 2) if np.all(np.isfinite(lonlat_bounds)) else 30.0
    return MapData(crs, layout.reset_index(drop=True), regions, units, risks, lat, label)


def _level_value(risk) -> str | None:
    return risk.level.value if risk is not None and risk.level is not None else None


# ------------------------------------------------------------------------------------------------ view


NICE_STEPS = (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8)


def nice_denominator(value: float) -> int:
    """The smallest 'round' scale denominator ≥ value (…, 1000, 1250, 1500, 2000, 2500, 3000, 4000, …)."""
    if value <= 1:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for step in NICE_STEPS + (10,):
        if step * exp >= value - 1e-9:
            return int(round(step * exp))
    return int(round(10 * exp))


@dataclass(frozen=True)
class MapView:
    """A map frame on the page (pt) and the plan area it shows at a true scale."""

    frame: tuple[float, float, float, float]     # left, top, right, bottom (pt)
    centre: tuple[float, float]                  # plan coordinates at the frame's centre (m)
    denominator: float                           # 1 : denominator
    css: float                                   # pt per CSS px of the symbology
    lat: float = 30.0
    unit: float = 1.0                            # drawing units per pt (see `fine`)

    @property
    def s(self) -> float:
        """Drawing units (pt, unless `fine`) per plan metre."""
        return 72 / 0.0254 / self.denominator * self.unit

    def fine(self, k: int = 10) -> MapView:
        """The same view in units of 1/k pt, coordinates rounded to whole units: drawn on a canvas scaled by 1/k,
        a PDF then carries short integers instead of long decimals (a third smaller) at 1/k pt precision."""
        left, top, right, bottom = self.frame
        return MapView((left * k, top * k, right * k, bottom * k), self.centre, self.denominator, self.css * k,
                       self.lat, float(k))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """The plan area (metres) the frame shows: (minx, miny, maxx, maxy)."""
        left, top, right, bottom = self.frame
        hw, hh = (right - left) / self.s / 2, (bottom - top) / self.s / 2
        cx, cy = self.centre
        return cx - hw, cy - hh, cx + hw, cy + hh

    @property
    def zoom(self) -> float:
        """The web map zoom at which screen symbols have the size these paper symbols have (for zoom-dependent
        symbol sizes and label rules)."""
        mpp = self.css / self.s
        return math.log2(EARTH_CIRCUMFERENCE * math.cos(math.radians(self.lat)) / (256 * mpp))

    def to_pt(self, coords: np.ndarray) -> np.ndarray:
        """Plan coordinates (n×2, metres) as page points (y down), rounded to whole units in a `fine` view."""
        left, top, right, bottom = self.frame
        fx, fy = (left + right) / 2, (top + bottom) / 2
        out = np.empty((len(coords), 2), np.float32)
        x = fx + (coords[:, 0] - self.centre[0]) * self.s
        y = fy - (coords[:, 1] - self.centre[1]) * self.s
        if self.unit != 1.0:
            x, y = np.rint(x), np.rint(y)
        out[:, 0] = x
        out[:, 1] = y
        return out


FIT_MARGIN = 0.03                 # share of the extent left free on each side when a view is fitted


def fit_scale(frame: tuple[float, float, float, float], bounds: tuple[float, float, float, float],
              margin: float = FIT_MARGIN) -> float:
    """The largest scale (pt of paper per plan metre) at which `bounds` (with `margin`) fits in `frame`."""
    left, top, right, bottom = frame
    minx, miny, maxx, maxy = bounds
    ew, eh = max(maxx - minx, 1e-3), max(maxy - miny, 1e-3)
    return max(0.0, min((right - left) / (ew * (1 + 2 * margin)), (bottom - top) / (eh * (1 + 2 * margin))))


def fit_view(frame: tuple[float, float, float, float], bounds: tuple[float, float, float, float], css: float,
             lat: float, denominator: int | None = None, what: str = "", margin: float = FIT_MARGIN) -> MapView:
    """A view showing `bounds` in `frame`: at the given scale (refused when it does not fit), or at the
    largest round scale that fits."""
    left, top, right, bottom = frame
    fw, fh = right - left, bottom - top
    minx, miny, maxx, maxy = bounds
    ew, eh = max(maxx - minx, 1e-3), max(maxy - miny, 1e-3)
    fit = 72 / 0.0254 / max(fit_scale(frame, bounds, margin), 1e-12)
    centre = ((minx + maxx) / 2, (miny + maxy) / 2)
    if denominator is None:
        return MapView(frame, centre, nice_denominator(fit), css, lat)
    s = 72 / 0.0254 / denominator
    need_w, need_h = ew * s / 72 * 25.4, eh * s / 72 * 25.4
    have_w, have_h = fw / 72 * 25.4, fh / 72 * 25.4
    if need_w > have_w * 1.0005 or need_h > have_h * 1.0005:
        raise ScaleError(denominator, (need_w, need_h), (have_w, have_h), nice_denominator(fit), what)
    return MapView(frame, centre, float(denominator), css, lat)


class ScaleError(InputError):
    """The plan does not fit the paper at the requested scale."""

    def __init__(self, denominator: int, need: tuple[float, float], have: tuple[float, float], fitting: int,
                 what: str = ""):
        self.denominator, self.need, self.have, self.fitting = denominator, need, have, fitting
        where = f"（{what}）" if what else ""
        super().__init__(
            f"按比例尺 1:{denominator} 图面{where}需要 {need[0]:.0f}×{need[1]:.0f} mm，纸张上的图框只有 "
            f"{have[0]:.0f}×{have[1]:.0f} mm：请用 1:{fitting} 或更小的比例尺，或更大的纸张 / at 1:{denominator} the "
            f"plan needs {need[0]:.0f}×{need[1]:.0f} mm but the map frame is {have[0]:.0f}×{have[1]:.0f} mm: use "
            f"1:{fitting} or smaller, or larger paper")


# ------------------------------------------------------------------------------------------------ drawing


def _explode(geoms: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    types = shapely.get_type_id(geoms)
    if not (types == COLLECTION).any():
        return geoms, cls
    coll = types == COLLECTION
    parts, index = shapely.get_parts(geoms[coll], return_index=True)
    return np.concatenate([geoms[~coll], parts]), np.concatenate([cls[~coll], cls[coll][index]])


def _in_view(frame: gpd.GeoDataFrame, extent: tuple[float, float, float, float], pad: float) -> np.ndarray:
    if not len(frame):
        return np.zeros(0, bool)
    b = shapely.bounds(frame.geometry.values)
    minx, miny, maxx, maxy = extent
    ok = ~np.isnan(b[:, 0])
    return ok & (b[:, 2] >= minx - pad) & (b[:, 0] <= maxx + pad) & (b[:, 3] >= miny - pad) & (b[:, 1] <= maxy + pad)


def _z_order(bounds: np.ndarray) -> np.ndarray:
    """Morton (Z-order) keys of box centres: neighbours on the map become neighbours in the PDF's path data,
    whose similar coordinates then compress better."""
    if not len(bounds):
        return np.zeros(0, np.uint64)
    cx, cy = (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2
    span = max(float(np.ptp(cx)), float(np.ptp(cy)), 1e-9)
    qx = ((cx - cx.min()) / span * 65535).astype(np.uint64)
    qy = ((cy - cy.min()) / span * 65535).astype(np.uint64)
    key = np.zeros(len(bounds), np.uint64)
    for bit in range(16):
        key |= ((qx >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit)
        key |= ((qy >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit + 1)
    return key


def _squares(centres: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    h = side / 2
    n = len(centres)
    corners = np.array([[-h, -h], [h, -h], [h, h], [-h, h]], np.float32)
    pts = (centres[:, None, :] + corners[None, :, :]).reshape(-1, 2).astype(np.float32)
    verbs = np.tile(np.array([0, 1, 1, 1, 5], np.uint8), n)
    return pts, verbs


def draw_layer(canvas: skia.Canvas, view: MapView, frame: gpd.GeoDataFrame, style: LayerStyle,
               hatch: bool = False) -> None:
    """One layer's features class by class in the style's order, bottom first (riskmap.render.order: the most
    severe on top, as the tiles paint them): each class's areas, lines and point symbols; neutral outlines
    (`outlines_on_top`) last, over every fill."""
    if not len(frame):
        return
    extent = view.extent
    pad = (style.max_draw_px() + 2) * view.css / view.s
    sel = _in_view(frame, extent, pad)
    if not sel.any():
        return
    geoms = frame.geometry.values[sel]
    values = frame[style.field].to_numpy(dtype=object)[sel] if style.field in frame.columns else [None] * sel.sum()
    cls = style.class_indices(values)
    geoms = np.asarray(geoms, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, cls = _explode(geoms[keep], cls[keep])
    bounds = shapely.bounds(geoms)
    # Features reaching far beyond the frame (the fence, big regions on an atlas page) are cut a little outside
    # it: nothing visible changes, and the PDF does not carry what the frame hides.
    minx, miny, maxx, maxy = extent
    cut = 2 * pad + 10 * view.css / view.s
    over = (bounds[:, 0] < minx - cut) | (bounds[:, 1] < miny - cut) | (bounds[:, 2] > maxx + cut) | \
        (bounds[:, 3] > maxy + cut)
    if over.any():
        geoms = geoms.copy()
        geoms[over] = shapely.clip_by_rect(geoms[over], minx - cut, miny - cut, maxx + cut, maxy + cut)
        nonempty = ~shapely.is_empty(geoms)
        geoms, cls = _explode(geoms[nonempty], cls[nonempty])
        bounds = shapely.bounds(geoms)
    types = shapely.get_type_id(geoms)
    size_css = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) * view.s / view.css

    poly = np.isin(types, POLYGONAL)
    line = np.isin(types, LINEAR)
    point = np.isin(types, PUNTAL)
    on_top = style.outlines_on_top
    # Outlines drawn with their class's fill (run by run, so a PDF stores each ring's text once) unless a higher
    # class's area may cover them: with neutral outlines on top, those are drawn again after every fill.
    later = _under_higher(bounds[poly], cls[poly]) if on_top else np.zeros(int(poly.sum()), bool)
    areas = _Areas(view, style, geoms[poly], cls[poly], bounds[poly], size_css[poly], later)
    for ci in np.unique(cls):
        areas.draw_class(canvas, int(ci), hatch)
        mine = cls == ci
        if style.classes[int(ci)].point.mark and (poly & mine).any():
            # an area of a marked role (an assembly area) shows its symbol inside it, as the tiles do
            _draw_points(canvas, view, shapely.point_on_surface(geoms[poly & mine]), cls[poly & mine], style)
        if (line & mine).any():
            _draw_lines(canvas, view, geoms[line & mine], cls[line & mine], style)
        if (point & mine).any():
            _draw_points(canvas, view, geoms[point & mine], cls[point & mine], style, ring=not on_top)
    if on_top:
        areas.draw_late_outlines(canvas)
        if point.any():
            _draw_points(canvas, view, geoms[point], cls[point], style, dot=False)


def _under_higher(bounds: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Which areas a higher class's area may cover (their envelopes meet): their outlines go on top."""
    out = np.zeros(len(bounds), bool)
    if len(bounds) < 2:
        return out
    boxes = shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    a, b = shapely.STRtree(boxes).query(boxes, predicate="intersects")
    higher = cls[b] > cls[a]
    out[np.unique(a[higher])] = True
    return out


class _Areas:
    """A layer's areas on paper, as fill paths (tiny ones as squares) and outline parts per class."""

    def __init__(self, view: MapView, style: LayerStyle, geoms, cls, bounds, size_css, later: np.ndarray):
        self.view, self.style = view, style
        self.fills: dict[int, tuple[list, list]] = {}
        self.outlines: dict[int, list] = {}
        self.late: dict[int, list] = {}               # outlines drawn after every fill (`later` areas)
        tiny = size_css < style.tiny_px
        big = ~tiny
        if big.any():
            outlined = size_css >= style.outline_min_px
            late = big & outlined & later
            g, c = geoms[big & ~late], cls[big & ~late]
            ol = outlined[big & ~late]
            order = np.lexsort((_z_order(bounds[big & ~late]), ol, c))
            g, c, ol = g[order], c[order], ol[order]
            groups = ring_groups(g, c, ol, view.to_pt)
            for ci in np.unique(c):
                fill_pts, fill_verbs = self.fills.setdefault(int(ci), ([], []))
                for grp in groups:
                    pts, verbs = grp.contours(ci, False)
                    opts, overbs = grp.contours(ci, True)
                    # Outlined rings are the tail of the class's rings: filled and stroked together (below).
                    n_pts, n_verbs = len(pts) - len(opts), len(verbs) - len(overbs)
                    if n_verbs:
                        fill_pts.append(pts[:n_pts])
                        fill_verbs.append(verbs[:n_verbs])
                    if len(overbs):
                        holes = not np.array_equal(grp.part_off, np.arange(len(grp.ring_off)))
                        self.outlines.setdefault(int(ci), []).append((opts, overbs, holes))
            if late.any():
                # Rings.contours finds a class by binary search: the rings must be in class order
                order = np.argsort(cls[late], kind="stable")
                c = cls[late][order]
                groups = ring_groups(geoms[late][order], c, np.ones(int(late.sum()), bool), view.to_pt)
                for ci in np.unique(c):
                    fill_pts, fill_verbs = self.fills.setdefault(int(ci), ([], []))
                    for grp in groups:
                        pts, verbs = grp.contours(ci, False)
                        fill_pts.append(pts)
                        fill_verbs.append(verbs)
                        self.late.setdefault(int(ci), []).append((pts, verbs))
        if tiny.any():
            b = bounds[tiny]
            centres = view.to_pt(np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2]))
            side = max(0.8, style.tiny_px) * view.css
            for ci in np.unique(cls[tiny]):
                pts, verbs = _squares(centres[cls[tiny] == ci], side)
                fill_pts, fill_verbs = self.fills.setdefault(int(ci), ([], []))
                fill_pts.append(pts)
                fill_verbs.append(verbs)

    def draw_class(self, canvas, ci: int, hatch: bool) -> None:
        """Fill, hatch and outline of one class's areas (the late outlines wait: draw_late_outlines)."""
        c, view, style = self.style.classes[ci], self.view, self.style
        pts_list, verb_list = self.fills.get(ci, ([], []))
        parts = self.outlines.get(ci, [])
        fill_paint = skia.Paint(AntiAlias=True, Color=colour_int(c.fill)) if c.fill else None
        stroke = stroke_paint(c.outline, view.css) if c.outline is not None else None
        hatched = hatch and bool(c.hatch)
        if stroke is None or hatched:
            # Hatches lie between fill and outline: one fill path, the hatch, then one outline path.
            pts_list = pts_list + [p for p, _, _ in parts]
            verb_list = verb_list + [v for _, v, _ in parts]
        if pts_list:
            verbs = np.concatenate(verb_list)
            # A fill closes its contours by itself: without close verbs, a PDF carries no closing segment back
            # to each ring's start (a fifth of a small polygon's bytes).
            path = make_path(np.concatenate(pts_list), verbs[verbs != CLOSE])
            if fill_paint is not None:
                canvas.drawPath(path, fill_paint)
            if hatched:
                draw_hatch(canvas, path, c.hatch, style, view.css, view.frame)
            if stroke is not None and hatched and parts:
                opath = make_path(np.concatenate([p for p, _, _ in parts]), np.concatenate([v for _, v, _ in parts]))
                canvas.drawPath(opath, stroke)
        if stroke is not None and not hatched and parts:
            _fill_and_stroke(canvas, parts, fill_paint, stroke)

    def draw_late_outlines(self, canvas) -> None:
        """The outlines of areas a higher class may cover, over all the fills."""
        for ci in sorted(self.late):
            c = self.style.classes[ci]
            parts = self.late[ci]
            if c.outline is not None and parts:
                canvas.drawPath(make_path(np.concatenate([p for p, _ in parts]), np.concatenate([v for _, v in parts])),
                                stroke_paint(c.outline, self.view.css))


# Fill and outline of the same rings are drawn in runs short enough (in PDF bytes) that the outline's path
# text repeats the fill's within deflate's 32 KiB window: a PDF compresses the second copy to a few bytes.
# (Skia writes fill and stroke as two operations; PDF's one-operation fill-and-stroke is out of its reach.)
# Within a run fill lies under outline as before; a later run's fill may cover an earlier run's outline where
# features overlap, as when each feature is drawn filled and outlined in turn.
_RUN_VERBS = 2000
_RUN_POINTS = 1500                      # a point is "x y m h S": up to 18 bytes


def _runs(verbs: np.ndarray, limit: int = _RUN_VERBS) -> list[tuple[int, int, int, int]]:
    """(first point, end point, first verb, end verb) of runs of whole contours of about `limit` verbs."""
    starts = np.flatnonzero(verbs == MOVE)
    n = len(verbs)
    if n <= limit or not len(starts):
        return [(0, -1, 0, n)]
    cut = starts[np.searchsorted(starts, np.arange(limit, n, limit))]
    cut = np.unique(cut[cut > 0])
    bounds_v = np.concatenate([[0], cut, [n]])
    pts_per_verb = (verbs != CLOSE).astype(np.int64)
    pt_at = np.concatenate([[0], np.cumsum(pts_per_verb)])
    return [(int(pt_at[a]), int(pt_at[b]), int(a), int(b)) for a, b in zip(bounds_v[:-1], bounds_v[1:], strict=True)]


def _fill_and_stroke(canvas, parts, fill_paint, stroke_paint) -> None:
    """Rings filled and outlined run by run (see _RUN_VERBS); the same path object serves both, so the PDF path
    text is byte for byte the same twice. Rings with holes are kept in one run with their exterior."""
    for pts, verbs, holes in parts:
        runs = [(0, len(pts), 0, len(verbs))] if holes else _runs(verbs)
        for p0, p1, v0, v1 in runs:
            path = make_path(pts[p0:p1 if p1 >= 0 else len(pts)], verbs[v0:v1])
            if fill_paint is not None:
                canvas.drawPath(path, fill_paint)
            canvas.drawPath(path, stroke_paint)


def _draw_lines(canvas, view: MapView, geoms, cls, style: LayerStyle) -> None:
    order = np.argsort(cls, kind="stable")
    stroke_classes(canvas, geoms[order], cls[order], view.to_pt, style.classes, view.css)
    draw_arrows(canvas, geoms[order], cls[order], view.to_pt, style.classes, view.css)


def _draw_points(canvas, view: MapView, geoms, cls, style: LayerStyle, dot: bool = True, ring: bool = True) -> None:
    """Point symbols as round-capped points: the outline ring (unless `ring` is False) under the fill dot; with
    `dot` False only the ring, as a stroked circle drawn over the layer's fills (outlines on top)."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    cls = cls[index]
    px = view.to_pt(coords)
    z = view.zoom
    order = np.argsort(cls, kind="stable")
    px, cls = px[order], cls[order]
    for ci in np.unique(cls):
        sym = style.classes[int(ci)].point
        g0, g1 = np.searchsorted(cls, ci, "left"), np.searchsorted(cls, ci, "right")
        xy = px[g0:g1]
        xy = xy[np.argsort(_z_order(np.column_stack([xy, xy])), kind="stable")]
        diameter = sym.size_at(z) * view.css
        if not sym.plain:
            draw_marked_points(canvas, xy, sym, diameter, view.css, fill=dot, outline=ring or not dot)
            continue
        if not dot:
            if sym.outline is not None:
                width = sym.outline.width * view.css
                paint = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style,
                                   Color=colour_int(sym.outline.colour), StrokeWidth=width)
                for x, y in xy.tolist():
                    canvas.drawCircle(float(x), float(y), diameter / 2 + width / 2, paint)
            continue
        points = [skia.Point(float(x), float(y)) for x, y in xy.tolist()]
        ring_paint = skia.Paint(AntiAlias=True, Color=colour_int(sym.outline.colour),
                                StrokeWidth=diameter + 2 * sym.outline.width * view.css,
                                StrokeCap=skia.Paint.kRound_Cap) if sym.outline is not None and ring else None
        dot_paint = skia.Paint(AntiAlias=True, Color=colour_int(sym.fill), StrokeWidth=diameter,
                               StrokeCap=skia.Paint.kRound_Cap) if sym.fill else None
        # Ring then dot run by run, so the dots' PDF text repeats the rings' within deflate's window.
        step = _RUN_POINTS if ring_paint is not None and dot_paint is not None else max(len(points), 1)
        for k in range(0, len(points), step):
            run = points[k:k + step]
            if ring_paint is not None:
                canvas.drawPoints(skia.Canvas.kPoints_PointMode, run, ring_paint)
            if dot_paint is not None:
                canvas.drawPoints(skia.Canvas.kPoints_PointMode, run, dot_paint)


def hatch_path(name: str, bounds: tuple[float, float, float, float], spacing: float) -> tuple[skia.Path, np.ndarray]:
    """Pattern lines (a path) and dot centres (an array) of a hatch over `bounds` (pt), on a lattice fixed to the
    page so that patterns of neighbouring shapes join."""
    x0, y0, x1, y1 = bounds
    path = skia.Path()
    dots = np.zeros((0, 2), np.float32)
    if spacing <= 0 or x1 <= x0 or y1 <= y0:
        return path, dots
    h = y1 - y0
    if name in ("//", "xx"):
        # rising diagonals x + y = k·spacing
        k0, k1 = math.floor((x0 + y0) / spacing), math.ceil((x1 + y1) / spacing)
        for k in range(k0, k1 + 1):
            c = k * spacing
            path.moveTo(c - y1, y1)
            path.lineTo(c - y0, y0)
    if name in ("\\\\", "xx"):
        k0, k1 = math.floor((x0 - y1) / spacing), math.ceil((x1 - y0) / spacing)
        for k in range(k0, k1 + 1):
            c = k * spacing
            path.moveTo(c + y0, y0)
            path.lineTo(c + y1, y1)
    if name in ("--", "++"):
        for k in range(math.floor(y0 / spacing), math.ceil(y1 / spacing) + 1):
            path.moveTo(x0, k * spacing + spacing / 2)
            path.lineTo(x1, k * spacing + spacing / 2)
    if name in ("||", "++"):
        for k in range(math.floor(x0 / spacing), math.ceil(x1 / spacing) + 1):
            path.moveTo(k * spacing + spacing / 2, y0)
            path.lineTo(k * spacing + spacing / 2, y0 + h)
    if name == "..":
        xs = (np.arange(math.floor(x0 / spacing), math.ceil(x1 / spacing) + 1) + 0.5) * spacing
        ys = (np.arange(math.floor(y0 / spacing), math.ceil(y1 / spacing) + 1) + 0.5) * spacing
        gx, gy = np.meshgrid(xs, ys)
        dots = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)
    return path, dots


def draw_hatch(canvas, shape: skia.Path, name: str, style: LayerStyle, css: float,
               clip: tuple[float, float, float, float] | None = None, colour: str | None = None) -> None:
    """A level's hatch over a shape: vector lines or dots clipped to it."""
    rule = style.hatch
    b = shape.getBounds()
    x0, y0, x1, y1 = b.left(), b.top(), b.right(), b.bottom()
    if clip is not None:
        x0, y0, x1, y1 = max(x0, clip[0]), max(y0, clip[1]), min(x1, clip[2]), min(y1, clip[3])
    if x1 <= x0 or y1 <= y0:
        return
    spacing = rule.spacing * css
    lines, dots = hatch_path(name, (x0, y0, x1, y1), spacing)
    colour_value = colour_int(colour or rule.colour, rule.opacity)
    canvas.save()
    canvas.clipPath(shape, skia.ClipOp.kIntersect, True)
    if not lines.isEmpty():
        canvas.drawPath(lines, skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_value,
                                          StrokeWidth=rule.width * css, StrokeCap=skia.Paint.kButt_Cap))
    if len(dots):
        canvas.drawPoints(skia.Canvas.kPoints_PointMode, [skia.Point(float(x), float(y)) for x, y in dots.tolist()],
                          skia.Paint(AntiAlias=True, Color=colour_value, StrokeWidth=max(0.75, rule.width) * 2 * css,
                                     StrokeCap=skia.Paint.kRound_Cap))
    canvas.restore()


def draw_highlight(canvas, view: MapView, geom, colour: str = "#000000", width_css: float = 3.0) -> None:
    """A strong outline around one region (the subject of an atlas page)."""
    if geom is None or shapely.is_empty(geom):
        return
    g = np.array([geom], dtype=object)
    groups = ring_groups(g, np.zeros(1, np.int16), np.ones(1, bool), view.to_pt)
    parts = [grp.contours(0, False) for grp in groups]
    pts = np.concatenate([p for p, _ in parts])
    verbs = np.concatenate([v for _, v in parts])
    canvas.drawPath(make_path(pts, verbs),
                    skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int(colour),
                               StrokeWidth=width_css * view.css, StrokeJoin=skia.Paint.kRound_Join))


# ------------------------------------------------------------------------------------------------ grid


def grid_step(span_m: float, target_lines: int = 8) -> float:
    """A round grid spacing (1, 2, 2.5 or 5 × 10ⁿ metres) giving about `target_lines` lines over `span_m`."""
    raw = span_m / max(1, target_lines)
    exp = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= raw:
            return step * exp
    return 10 * exp


def draw_grid(canvas, view: MapView, colour: str = "#5A5A5A") -> None:
    """A coordinate grid in the plan CRS (metres) with its values along the frame's top and left edges."""
    left, top, right, bottom = view.frame
    minx, miny, maxx, maxy = view.extent
    step = grid_step(max(maxx - minx, maxy - miny))
    paint = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int(colour, 0.7),
                       StrokeWidth=0.35 * view.css)
    size = 7 * view.css / 0.75
    xs = np.arange(math.ceil(minx / step), math.floor(maxx / step) + 1) * step
    ys = np.arange(math.ceil(miny / step), math.floor(maxy / step) + 1) * step
    path = skia.Path()
    for x in xs:
        px = float(view.to_pt(np.array([[x, view.centre[1]]]))[0, 0])
        path.moveTo(px, top)
        path.lineTo(px, bottom)
    for y in ys:
        py = float(view.to_pt(np.array([[view.centre[0], y]]))[0, 1])
        path.moveTo(left, py)
        path.lineTo(right, py)
    canvas.drawPath(path, paint)
    ascent, _ = fonts.metrics(size)
    plate = skia.Paint(AntiAlias=True, Color=colour_int(LABEL_HALO_COLOUR, 0.8))
    for x in xs:
        px = float(view.to_pt(np.array([[x, view.centre[1]]]))[0, 0])
        if left + size * 3 < px < right - size * 3:
            w = fonts.width(_coord(x), size)
            canvas.drawRect(skia.Rect(px - w / 2 - 1, top + 1, px + w / 2 + 1, top + ascent + 4), plate)
            fonts.draw_text(canvas, _coord(x), px, top + ascent + 2, size, colour, align="centre")
    for y in ys:
        py = float(view.to_pt(np.array([[view.centre[0], y]]))[0, 1])
        if top + size * 2 < py < bottom - size * 2:
            w = fonts.width(_coord(y), size)
            canvas.drawRect(skia.Rect(left + 2, py - ascent - 3, left + w + 4, py), plate)
            fonts.draw_text(canvas, _coord(y), left + 3, py - 2, size, colour)


def _coord(value: float) -> str:
    text = f"{value:,.0f}" if abs(value - round(value)) < 1e-6 else f"{value:,.1f}"
    return text.replace(",", " ")


# ------------------------------------------------------------------------------------------------ labels


class Boxes:
    """Placed label boxes (with a grid index) and leader lines, for collision tests: a new box may neither
    overlap a box nor be crossed by a leader, and a new leader may cross no box."""

    def __init__(self, cell: float = 60.0):
        self.cell = cell
        self.grid: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
        self.leaders: list[tuple[float, float, float, float]] = []

    def _cells(self, box):
        c = self.cell
        for i in range(int(box[0] // c), int(box[2] // c) + 1):
            for j in range(int(box[1] // c), int(box[3] // c) + 1):
                yield i, j

    def hits(self, box) -> bool:
        """Whether a box (page pt) overlaps a placed box or is crossed by a placed leader line."""
        x0, y0, x1, y1 = box
        for key in self._cells(box):
            for b in self.grid.get(key, ()):
                if x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1:
                    return True
        return any(segment_hits_box(seg, box) for seg in self.leaders)

    def crossed_by(self, segment: tuple[float, float, float, float], own=None) -> bool:
        """Whether a leader line would cross a placed box (other than `own`, the box it leads to)."""
        ax, ay, bx, by = segment
        reach = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
        for key in self._cells(reach):
            for b in self.grid.get(key, ()):
                if b != own and segment_hits_box(segment, b):
                    return True
        return False

    def add(self, box) -> None:
        """Place a box, so that later labels and leaders avoid it."""
        for key in self._cells(box):
            self.grid.setdefault(key, []).append(box)


def segment_hits_box(segment: tuple[float, float, float, float], box: tuple[float, float, float, float]) -> bool:
    """Whether a line segment passes through the inside of a box (Liang–Barsky clipping)."""
    ax, ay, bx, by = segment
    x0, y0, x1, y1 = box
    dx, dy = bx - ax, by - ay
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0:
            if q <= 0:
                return False
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 >= t1:
            return False
    return True


@dataclass
class Label:
    """A map label: lines with their sizes and weights, the point it names, and (once placed) its centre, scale and
    whether a leader line joins it to the anchor."""

    lines: list[str]
    sizes: list[float]
    bold: list[bool]
    anchor: tuple[float, float]
    must: bool = False                  # region labels are drawn whenever they fit (moved, shrunk, with a leader)
    x: float = 0.0                      # box centre once placed
    y: float = 0.0
    scale: float = 1.0
    leader: bool = False

    def box_size(self, scale: float) -> tuple[float, float]:
        """(width, height) in pt of the label's box, padding included, with its text at `scale` times its sizes."""
        w = max(fonts.width(t, s * scale) for t, s in zip(self.lines, self.sizes, strict=True))
        h = sum(fonts.line_height(s * scale, 1.2) for s in self.sizes)
        pad = max(self.sizes) * scale * 0.15
        return w + 2 * pad, h + 2 * pad

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The placed label's box (x0, y0, x1, y1) in page pt, around its centre at its scale."""
        w, h = self.box_size(self.scale)
        return self.x - w / 2, self.y - h / 2, self.x + w / 2, self.y + h / 2


_OFFSETS = ((0, 0), (0, -0.8), (0, 0.8), (-0.6, 0), (0.6, 0), (-0.6, -0.8), (0.6, -0.8), (-0.6, 0.8), (0.6, 0.8))


def place_labels(labels: Sequence[Label], frame: tuple[float, float, float, float], reserved: Sequence[tuple] = (),
                 boxes: Boxes | None = None) -> list[Label]:
    """Greedy placement in the given order, so that no two labels overlap, no leader line crosses a label and
    nothing leaves the frame or covers the `reserved` boxes (north arrow, scale bar). A must-label tries its
    anchor, nearby offsets, smaller sizes, then a free spot farther away with a leader line; a label that fits
    nowhere is left out (the caller may say so) rather than printed over another. Other labels are dropped
    when they collide."""
    left, top, right, bottom = frame
    inset = 2.0
    boxes = boxes if boxes is not None else Boxes()
    for r in reserved:
        boxes.add(r)
    placed = []

    def ok(cx, cy, w, h):
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if box[0] < left + inset or box[2] > right - inset or box[1] < top + inset or box[3] > bottom - inset:
            return None
        return None if boxes.hits(box) else box

    for label in labels:
        ax, ay = label.anchor
        found = None
        scales = (1.0, 0.8, 0.65) if label.must else (1.0,)
        offsets = _OFFSETS if label.must else _OFFSETS[:1]
        for scale in scales:
            w, h = label.box_size(scale)
            for dx, dy in offsets:
                cx, cy = ax + dx * w, ay + dy * h
                box = ok(cx, cy, w, h)
                if box is not None:
                    found = (cx, cy, scale, box, False)
                    break
            if found:
                break
        if found is None and label.must and left <= ax <= right and top <= ay <= bottom:
            for scale in (0.8, 0.65):
                w, h = label.box_size(scale)
                for ring in range(1, 25):
                    radius = ring * h * 0.9
                    steps = 8 + 4 * ring
                    for k in range(steps):
                        angle = 2 * math.pi * k / steps - math.pi / 2
                        cx, cy = ax + radius * math.cos(angle) * 1.4, ay + radius * math.sin(angle)
                        box = ok(cx, cy, w, h)
                        if box is not None and not boxes.crossed_by((ax, ay, cx, cy)):
                            found = (cx, cy, scale, box, True)
                            break
                    if found:
                        break
                if found:
                    break
        if found is None:
            continue
        label.x, label.y, label.scale, box, label.leader = found
        boxes.add(box)
        if label.leader:
            boxes.leaders.append((ax, ay, label.x, label.y))
        placed.append(label)
    return placed


def label_plates(labels: Sequence[Label]) -> skia.Path:
    """Rounded plates hugging each label line: what a text halo does for legibility over the level colours, at a
    few bytes per line (a halo drawn from glyph outlines costs a kilobyte per character in a PDF)."""
    path = skia.Path()
    for label in labels:
        sizes = [s * label.scale for s in label.sizes]
        heights = [fonts.line_height(s, 1.2) for s in sizes]
        y = label.y - sum(heights) / 2
        for text, size, h in zip(label.lines, sizes, heights, strict=True):
            w = fonts.width(text, size)
            pad = size * 0.2
            path.addRRect(skia.RRect.MakeRectXY(skia.Rect(label.x - w / 2 - pad, y + h * 0.04, label.x + w / 2 + pad,
                                                          y + h * 0.96), size * 0.22, size * 0.22))
            y += h
    return path


def draw_labels(canvas, labels: Sequence[Label], colour: str = "#1A1A1A", plate_colour: str = LABEL_HALO_COLOUR,
                plate_opacity: float = 0.8) -> None:
    """Draw placed labels: all plates first (so no plate covers another label's text), then text and leaders."""
    if not labels:
        return
    canvas.drawPath(label_plates(labels), skia.Paint(AntiAlias=True, Color=colour_int(plate_colour, plate_opacity)))
    for label in labels:
        sizes = [s * label.scale for s in label.sizes]
        heights = [fonts.line_height(s, 1.2) for s in sizes]
        total = sum(heights)
        if label.leader:
            ax, ay = label.anchor
            canvas.drawLine(ax, ay, label.x, label.y,
                            skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int(colour),
                                       StrokeWidth=0.5))
            canvas.drawCircle(ax, ay, 1.2, skia.Paint(AntiAlias=True, Color=colour_int(colour)))
        y = label.y - total / 2
        for text, size, h, bold in zip(label.lines, sizes, heights, label.bold, strict=True):
            ascent, descent = fonts.metrics(size)
            baseline = y + (h - (ascent + descent)) / 2 + ascent
            fonts.draw_text(canvas, text, label.x, baseline, size, colour, align="centre", bold=bold)
            y += h


def label_anchors(geoms: np.ndarray, view: MapView) -> np.ndarray:
    """Label anchors (pt) inside each feature's visible part: polygons at a point on their surface, lines at
    their middle, points as they are."""
    minx, miny, maxx, maxy = view.extent
    visible = shapely.clip_by_rect(geoms, minx, miny, maxx, maxy)
    empty = shapely.is_empty(visible)
    visible[empty] = geoms[empty]
    types = shapely.get_type_id(visible)
    anchors = shapely.point_on_surface(visible)
    linear = np.isin(types, LINEAR)
    if linear.any():
        anchors[linear] = shapely.line_interpolate_point(visible[linear], 0.5, normalized=True)
    return view.to_pt(shapely.get_coordinates(anchors))


def region_labels(data: MapData, view: MapView, size: float, max_chars: int) -> list[Label]:
    """One label per visible region: its name (bold, wrapped) over its level, most severe and largest first."""
    regions = data.regions
    sel = _in_view(regions, view.extent, 0.0)
    if not sel.any():
        return []
    sub = regions[sel]
    geoms = np.asarray(sub.geometry.values, dtype=object)
    minx, miny, maxx, maxy = view.extent
    inside = shapely.intersects(geoms, shapely.box(minx, miny, maxx, maxy))
    sub, geoms = sub[inside], geoms[inside]
    if not len(sub):
        return []
    anchors = label_anchors(geoms, view)
    levels = [level_or_none(v) for v in sub["level"]]
    rank = np.array([lv.rank if lv else 0 for lv in levels])
    area = shapely.area(geoms)
    order = np.lexsort((-area, -rank))
    labels = []
    for i in order:
        name = fonts.clean(sub["name"].iloc[i]).strip() or str(sub["id"].iloc[i])
        level_text = levels[i].zh if levels[i] else "未评估"
        lines = fonts.wrap(name, size, max_chars * size)
        labels.append(Label(lines + [level_text], [size] * len(lines) + [size * 0.8],
                            [False] * (len(lines) + 1), (float(anchors[i, 0]), float(anchors[i, 1])), must=True))
    return labels


def feature_labels(frame: gpd.GeoDataFrame, style: LayerStyle, view: MapView, limit: int = 20000) -> list[Label]:
    """Optional labels of a layer (units, layout) when its label rule applies at the paper's equivalent zoom."""
    if style.label is None or not style.labels_at(int(math.floor(view.zoom))) or not len(frame):
        return []
    rule = style.label
    sel = _in_view(frame, view.extent, 0.0)
    if rule.field not in frame.columns or not sel.any():
        return []
    sub = frame[sel]
    text = sub[rule.field].to_numpy(dtype=object)
    has = pd.notna(text)
    sub, text = sub[has], text[has]
    if not len(sub):
        return []
    geoms = np.asarray(sub.geometry.values, dtype=object)
    area = shapely.area(geoms)
    order = np.argsort(-area, kind="stable")[:limit]
    anchors = label_anchors(geoms[order], view)
    types = shapely.get_type_id(geoms[order])
    size = rule.size * view.css
    out = []
    for k, i in enumerate(order):
        t = fonts.fit_line(text[i], size, rule.max_chars * size)
        if not t.strip():
            continue
        ax, ay = float(anchors[k, 0]), float(anchors[k, 1])
        if types[k] in PUNTAL:
            ay += size * 1.1
        out.append(Label([t], [size], [False], (ax, ay)))
    return out


def legend_counts(data: MapData, region_id: str | None = None,
                  extent: tuple[float, float, float, float] | None = None,
                  layer: str = "regions") -> tuple[dict[Level, int], int, str]:
    """Counts per level for the legend: member units of one region, else the regions (or, for `layer` "units",
    the units the drawn unit shapes stand for) in a view extent or the whole plan."""
    if region_id is not None and region_id in data.risks:
        risk = data.risks[region_id]
        return {lv: int(risk.counts.get(lv, 0)) for lv in LEVELS_HIGH_TO_LOW}, int(risk.unlevelled), "单元"
    frame = data.units if layer == "units" else data.regions
    if extent is not None and len(frame):
        frame = frame[shapely.intersects(np.asarray(frame.geometry.values, dtype=object), shapely.box(*extent))]
    if layer == "units":
        by_level = member_counts(frame["members"].tolist()) if len(frame) else {}
        counts = {lv: int(by_level.get(lv.value, 0)) for lv in LEVELS_HIGH_TO_LOW}
        return counts, int(sum(n for k, n in by_level.items() if level_or_none(k) is None)), "单元"
    values = [level_or_none(v) for v in frame["level"]] if len(frame) else []
    counts = {lv: sum(1 for v in values if v is lv) for lv in LEVELS_HIGH_TO_LOW}
    return counts, sum(1 for v in values if v is None), "区域"


def layout_symbols(layout: gpd.GeoDataFrame, style: LayerStyle,
                   extent: tuple[float, float, float, float] | None = None) -> list[tuple[str, str]]:
    """The layout roles drawn (in `extent`), top of the draw order first, each with the kind of geometry most of
    its features have ("polygon", "line" or "point"): what the legend shows a symbol of."""
    if not len(layout):
        return []
    frame = layout
    if extent is not None:
        frame = frame[_in_view(frame, extent, 0.0)]
    if not len(frame):
        return []
    types = shapely.get_type_id(np.asarray(frame.geometry.values, dtype=object))
    kinds = np.where(np.isin(types, POLYGONAL), "polygon", np.where(np.isin(types, LINEAR), "line",
                                                                     np.where(np.isin(types, PUNTAL), "point", "")))
    classes = style.class_indices(frame[style.field].to_numpy(dtype=object))
    out = []
    for ci in sorted(set(classes.tolist()), reverse=True):
        mine = kinds[(classes == ci) & (kinds != "")]
        if len(mine):
            names, counts = np.unique(mine, return_counts=True)
            order = {"polygon": 0, "line": 1, "point": 2}
            best = max(zip(counts.tolist(), names.tolist(), strict=True), key=lambda c: (c[0], -order[c[1]]))[1]
            out.append((style.classes[ci].key, best))
    return out


def draw_symbol(canvas, rect: tuple[float, float, float, float], style: LayerStyle, key: str | None, kind: str,
                like: MapView, hatch: bool = False, inset: float = 0.0) -> None:
    """A legend symbol: one sample feature of class `key` (a polygon filling `rect` less `inset` of its size, a
    line across it, or a point at its centre) drawn by draw_layer at the scale of the map `like`, so that the
    legend shows exactly what the map draws (fills, outlines, casings, dashes, point sizes, hatches)."""
    x0, y0, x1, y1 = rect
    view = MapView(rect, (0.0, 0.0), like.denominator, like.css, like.lat)
    hw, hh = (x1 - x0) / view.s / 2, (y1 - y0) / view.s / 2
    if kind == "line":
        geom = shapely.LineString([(-hw * 0.8, 0.0), (hw * 0.8, 0.0)])
    elif kind == "point":
        geom = shapely.Point(0.0, 0.0)
    else:
        geom = shapely.box(-hw * (1 - inset), -hh * (1 - inset), hw * (1 - inset), hh * (1 - inset))
    frame = gpd.GeoDataFrame({style.field: [key]}, geometry=[geom])
    draw_layer(canvas, view, frame, style, hatch=hatch)


def styles() -> dict[str, LayerStyle]:
    """The layout, regions and units styles from layers/*.yaml: a print draws with the tiles' symbology."""
    return {name: load_layer_style(name) for name in ("layout", "regions", "units")}
