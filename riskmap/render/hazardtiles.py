"""The hazards tile layer: hidden hazards as symbols above the zone colours (PNG and MVT), clustered at low zoom.

Hazards are not in the map_features snapshot. Their tile data is built in memory from
riskmap.store.hazards.hazards_frame once per (enterprise, data version, day, filters) — every hazard write bumps
the enterprise's data version, and "overdue" moves with the Beijing day — and the tiles are cached under an
owner of their own whose generation is that version, so a change never serves an old picture.

Each hazard is drawn at one point (its location, a point inside its area, or a point inside its unit). Below
`cluster_below` hazards are gathered per square of `cluster_px` CSS px fixed to the zoom's pixel grid: a
cluster is computed from all its members whichever tile asks, so neighbouring tiles agree.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import shapely

from riskmap.errors import InputError
from riskmap.render.grid import TileView

HAZARDS = "hazards"
KEPT = 16                          # hazard frames kept in memory (filters × enterprises)
_WORLD = 20037508.342789244


@dataclass(frozen=True)
class HazardFilters:
    """The query filters of the hazards layer (the same for tiles, OGC items and the list)."""

    state: tuple[str, ...] = ()
    level: int | None = None
    department: str | None = None
    overdue: bool | None = None
    at: Any = None                 # aware datetime: open at that moment

    def signature(self) -> str:
        """A short, ASCII, stable text of the filters, for cache keys and ETags."""
        text = repr((self.state, self.level, self.department, self.overdue,
                     None if self.at is None else self.at.isoformat()))
        return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()

    def store_args(self) -> dict[str, Any]:
        """Keyword arguments of riskmap.store.hazards.hazards_frame / listing. Without a state filter every state
        but "rejected" (judged not a hazard: nothing to show on a map) is asked for."""
        from riskmap.hazards.model import State

        shown = list(self.state) or [s.value for s in State if s is not State.REJECTED]
        return {"state": shown, "level": self.level, "department": self.department,
                "overdue": self.overdue, "at": self.at}


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def parse_filters(query: Any, at: Any = None) -> HazardFilters:
    """The filters from query parameters (`state` comma list, `level` 0/1, `department`, `overdue` 1/0; `at`
    already parsed). Bad values → InputError (422) with a bilingual message."""
    from riskmap.hazards.model import State

    states: tuple[str, ...] = ()
    text = query.get("state")
    if text:
        names = [p.strip() for p in str(text)[:400].split(",") if p.strip()]
        known = {s.value for s in State}
        wrong = [n for n in names if n not in known]
        if wrong:
            raise InputError(f"没有隐患状态 “{wrong[0][:40]}”，可选：{', '.join(sorted(known))} / no hazard state "
                             f"{wrong[0][:40]!r}")
        states = tuple(sorted(set(names)))
    level = None
    text = query.get("level")
    if text not in (None, ""):
        if str(text).strip() not in ("0", "1"):
            raise InputError("level 应为 0（一般隐患）或 1（重大隐患）/ level must be 0 (general) or 1 (major)")
        level = int(str(text).strip())
    department = query.get("department")
    if department is not None:
        department = str(department).strip()
        if len(department) > 100:
            raise InputError("department 过长（最多 100 字）/ department is too long (100 characters at most)")
        department = department or None
    overdue = None
    text = query.get("overdue")
    if text not in (None, ""):
        low = str(text).strip().lower()
        if low not in _TRUE + _FALSE:
            raise InputError("overdue 应为 1 或 0 / overdue must be 1 or 0")
        overdue = low in _TRUE
    return HazardFilters(states, level, department, overdue, at)


@dataclass(frozen=True)
class HazardData:
    """The hazards of one enterprise at one data version, day and filters: points in EPSG:3857 and attributes."""

    owner: Any
    version: int
    x: np.ndarray
    y: np.ndarray
    frame: pd.DataFrame            # id, name, state, group, level, overdue, danger_state, department, unit_id,
                                   # deadline, by_unit, registered_at, row (row i at x[i], y[i])
    mark: int = 0                  # the last hazard event read (riskmap.store.hazards.hazards_frame)

    def __len__(self) -> int:
        return len(self.x)

    def within(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """Positions of the hazards inside the box (EPSG:3857)."""
        minx, miny, maxx, maxy = box
        return np.flatnonzero((self.x >= minx) & (self.x <= maxx) & (self.y >= miny) & (self.y <= maxy))


COLUMNS = ("id", "name", "state", "level", "overdue", "danger_state", "department", "unit_id", "deadline",
           "by_unit", "registered_at", "row")


def build_hazard_data(frame: Any, style: Any, owner: Any, version: int) -> HazardData:
    """HazardData from hazards_frame's GeoDataFrame (EPSG:4326): hazards without a place are left out."""
    mark = int(frame.attrs.get("mark", 0))
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)] if len(frame) else frame
    if not len(frame):
        empty = np.zeros(0)
        return HazardData(owner, version, empty, empty, pd.DataFrame(columns=[*COLUMNS, "group"]), mark)
    points = shapely.point_on_surface(frame.to_crs(3857).geometry.to_numpy())
    xy = shapely.get_coordinates(points)
    table = pd.DataFrame({c: frame[c].to_numpy() for c in COLUMNS})
    table["level"] = table["level"].fillna(0).astype(int)
    table["overdue"] = table["overdue"].astype(bool)
    table["by_unit"] = table["by_unit"].astype(bool)
    table["group"] = [style.group_of(s) for s in table["state"]]
    return HazardData(owner, version, xy[:, 0].copy(), xy[:, 1].copy(), table, mark)


@lru_cache(maxsize=1)
def _to_mercator():
    from pyproj import Transformer

    return Transformer.from_crs(4326, 3857, always_xy=True)


def patched(old: HazardData, changes: Any, style: Any, version: int, unit_places: dict[str, Any]) -> HazardData:
    """`old` with the hazards changed since its mark replaced by what they are now (`changes`: hazards_frame with
    `changed_since`), the hazards drawn inside their unit moved to where the unit is drawn now (`unit_places`:
    lon/lat points by unit code; a layout edit moves them without a hazard event), in the order of a full read
    (newest registered first). Equal to a fresh build_hazard_data of the same version (tests check)."""
    fresh = build_hazard_data(changes, style, old.owner, version)
    keep = ~old.frame["id"].isin(set(changes.attrs.get("changed") or ())).to_numpy()
    frame = pd.concat([old.frame[keep], fresh.frame], ignore_index=True) if len(fresh) else \
        old.frame[keep].reset_index(drop=True)
    x = np.concatenate([old.x[keep], fresh.x])
    y = np.concatenate([old.y[keep], fresh.y])
    inside = np.flatnonzero(frame["by_unit"].to_numpy(dtype=bool))
    if len(inside):
        codes = frame["unit_id"].to_numpy(dtype=object)[inside]
        places = [unit_places.get(code) for code in codes]
        gone = np.array([p is None for p in places])
        lon = np.array([np.nan if p is None else p.x for p in places], dtype=float)
        lat = np.array([np.nan if p is None else p.y for p in places], dtype=float)
        x[inside], y[inside] = _to_mercator().transform(lon, lat)
        if gone.any():                               # its unit is no longer drawn: no place, as in a full read
            drop = np.ones(len(frame), bool)
            drop[inside[gone]] = False
            frame, x, y = frame[drop].reset_index(drop=True), x[drop], y[drop]
    order = np.lexsort((-frame["row"].to_numpy(dtype=np.int64),
                        -pd.to_datetime(frame["registered_at"], utc=True).astype("int64").to_numpy()))
    return HazardData(old.owner, version, x[order].copy(), y[order].copy(), frame.iloc[order].reset_index(drop=True),
                      int(changes.attrs.get("mark", old.mark)))


class HazardTiles:
    """The hazards layer of one TileService: hazard data per version and filters, tiles through its cache."""

    def __init__(self, service: Any, style_loader: Any = None):
        from riskmap.render.style import load_hazard_style

        self.service = service
        self.style_loader = style_loader or load_hazard_style
        self._data: OrderedDict[tuple, HazardData] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0
        self.patches = 0

    def style(self) -> Any:
        """The hazards style (cached per file modification by the loader)."""
        return self.style_loader()

    def data(self, enterprise: str | None, filters: HazardFilters) -> HazardData:
        """The hazards at the enterprise's current data version (built once per version, day and filters)."""
        from riskmap.store.hazards import hazards_frame

        ent_id, name, version, _ = self.service.resolve(enterprise)
        day = self.service.today()
        key = (ent_id, version, day, filters)
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
                return found
        owner = (HAZARDS, ent_id, day, filters.signature())
        data = self._patch(ent_id, name, version, day, filters)
        if data is None:
            frame = hazards_frame(self.service.store, name, **filters.store_args())
            data = build_hazard_data(frame, self.style(), owner, version)
            self.builds += 1
        cache = self.service.cache
        if cache.generation(owner) != version:
            cache.clear(owner)
            cache.set_generation(owner, version)
        with self._lock:
            self._data[key] = data
            while len(self._data) > KEPT:
                self._data.popitem(last=False)
        return data

    def _patch(self, ent_id: int, name: str, version: int, day: Any, filters: HazardFilters) -> HazardData | None:
        """The data at `version` from the newest earlier one of the same day and filters, by reading only the
        hazards changed since (a report costs what it changes, not the whole layer); None when there is none or
        the filters ask for a past moment (`at`: open then, which a later step can change)."""
        from riskmap.store.hazards import hazards_frame, unit_locations

        if filters.at is not None:
            return None
        with self._lock:
            earlier = [d for (e, v, d_, f), d in self._data.items()
                       if e == ent_id and d_ == day and f == filters and v < version]
        if not earlier:
            return None
        old = max(earlier, key=lambda d: d.version)
        changes = hazards_frame(self.service.store, name, changed_since=old.mark, **filters.store_args())
        codes = set(old.frame.loc[old.frame["by_unit"].astype(bool), "unit_id"].dropna())
        codes |= set(changes.loc[changes["by_unit"].astype(bool), "unit_id"].dropna()) if len(changes) else set()
        places = unit_locations(self.service.store, name, codes) if codes else {}
        self.patches += 1
        return patched(old, changes, self.style(), version, places)

    def key(self, data: HazardData, fmt: str, view: TileView, scale: int) -> Any:
        """The cache key of a hazards tile (the owner carries enterprise, day and filters)."""
        from riskmap.render.tilecache import TileKey, style_signature

        return TileKey(data.owner, HAZARDS, fmt, view.z, view.x, view.y, scale if fmt == "png" else 1,
                       style=style_signature(self.style()))

    def etag(self, data: HazardData, key: Any) -> str:
        """A strong ETag from enterprise, version, day, filters, tile, format and style."""
        _, ent_id, day, sig = data.owner
        return f'"hz.{ent_id}.{data.version}.{day}.{sig}.{key.z}.{key.x}.{key.y}.{key.fmt}{key.scale}.{key.style}"'

    def tile(self, data: HazardData, fmt: str, view: TileView, scale: int = 1) -> bytes:
        """The tile's bytes from the cache, or made now and kept."""
        key = self.key(data, fmt, view, scale)
        found = self.service.cache.get(key, data.version)
        if found is not None:
            return found
        body = make_tile(data, self.style(), fmt, view, scale)
        self.service.cache.put(key, body, data.version)
        return body


# ---------------------------------------------------------------------------------------------- content


def features_for(data: HazardData, style: Any, view: TileView) -> pd.DataFrame:
    """What a tile shows: single hazards (cluster=False) or clusters (count, major, overdue) with x, y in
    EPSG:3857, the ones whose symbol may reach the tile."""
    reach = style.reach_px(view.z)
    if view.z >= style.cluster_below:
        hits = data.within(view.buffered_bounds(reach))
        if len(hits) > style.max_symbols:          # too crowded to read one by one: clustered at any zoom
            return _clustered(data, style, view, reach)
        out = data.frame.iloc[hits].copy()
        out["x"], out["y"] = data.x[hits], data.y[hits]
        out["cluster"], out["count"] = False, 1
        out["major"] = (out["level"] == 1).astype(int)
        out["overdue_count"] = out["overdue"].astype(int)
        return out
    return _clustered(data, style, view, reach)


def _clustered(data: HazardData, style: Any, view: TileView, reach: float) -> pd.DataFrame:
    """Clusters per square of cluster_px fixed to the zoom's pixel grid (a lone hazard stays itself)."""
    cell = style.cluster_px * view.metres_per_px
    hits = data.within(view.buffered_bounds(reach + style.cluster_px))
    if not len(hits):
        return pd.DataFrame()
    x, y = data.x[hits], data.y[hits]
    cx = np.floor((x + _WORLD) / cell).astype(np.int64)
    cy = np.floor((_WORLD - y) / cell).astype(np.int64)
    cells = np.stack([cx, cy], axis=1)
    keys, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    major = np.bincount(inverse, weights=(data.frame["level"].to_numpy()[hits] == 1), minlength=len(keys))
    late = np.bincount(inverse, weights=data.frame["overdue"].to_numpy(dtype=bool)[hits], minlength=len(keys))
    mean_x = np.bincount(inverse, weights=x, minlength=len(keys)) / counts
    mean_y = np.bincount(inverse, weights=y, minlength=len(keys)) / counts
    alone = counts[inverse] == 1
    singles = data.frame.iloc[hits[alone]].copy()
    singles["x"], singles["y"], singles["cluster"], singles["count"] = x[alone], y[alone], False, 1
    singles["major"] = (singles["level"] == 1).astype(int)
    singles["overdue_count"] = singles["overdue"].astype(int)
    many = np.flatnonzero(counts > 1)
    clusters = pd.DataFrame({
        "id": [f"cluster-{view.z}-{int(keys[k, 0])}-{int(keys[k, 1])}" for k in many],
        "x": mean_x[many], "y": mean_y[many], "cluster": True, "count": counts[many].astype(int),
        "major": major[many].astype(int), "overdue_count": late[many].astype(int), "state": "", "group": "",
        "level": -1, "overdue": late[many] > 0})
    out = pd.concat([singles, clusters], ignore_index=True) if len(many) else singles.reset_index(drop=True)
    minx, miny, maxx, maxy = view.buffered_bounds(reach)
    keep = (out["x"] >= minx) & (out["x"] <= maxx) & (out["y"] >= miny) & (out["y"] <= maxy)
    return out[keep].reset_index(drop=True)


def make_tile(data: HazardData, style: Any, fmt: str, view: TileView, scale: int = 1) -> bytes:
    """A hazards tile without the cache: PNG drawn with skia, or MVT with one `hazards` layer of points."""
    from riskmap.render.png import empty_png

    if not style.visible_as(fmt, view.z) or not len(data):
        return empty_png(256 * scale, 256 * scale) if fmt == "png" else b""
    found = features_for(data, style, view)
    if not len(found):
        return empty_png(256 * scale, 256 * scale) if fmt == "png" else b""
    if fmt == "png":
        return draw_png(found, style, view, scale)
    return encode_hazards_mvt(found, view)


MVT_FIELDS = ("id", "name", "state", "group", "level", "overdue", "danger_state", "department", "unit_id",
              "deadline")


def encode_hazards_mvt(found: pd.DataFrame, view: TileView) -> bytes:
    """One `hazards` MVT layer: points with the hazard's fields, or clusters with count, major and overdue."""
    from riskmap.render.mvt import encode_mvt

    geoms = shapely.points(found["x"].to_numpy(), found["y"].to_numpy())
    columns: dict[str, np.ndarray] = {"geometry": geoms}
    columns["hazard_id"] = np.array([None if c else i for i, c in zip(found["id"], found["cluster"],
                                                                      strict=True)], dtype=object)
    for name in MVT_FIELDS[1:]:
        if name in found:
            values = found[name].to_numpy(dtype=object)
            columns[name] = np.array([None if bool(c) or (isinstance(v, float) and np.isnan(v)) else v
                                      for v, c in zip(values, found["cluster"], strict=True)], dtype=object)
    columns["cluster"] = found["cluster"].to_numpy(dtype=bool)
    columns["count"] = found["count"].to_numpy(dtype=np.int64)
    columns["major_count"] = found["major"].to_numpy(dtype=np.int64)
    columns["overdue_count"] = found["overdue_count"].to_numpy(dtype=np.int64)
    if "level" in columns:                     # encode_mvt reads `level` as a risk level: hazards say it apart
        columns["hazard_level"] = columns.pop("level")
    return encode_mvt({HAZARDS: columns}, view)


def _paint(colour: str, stroke: float = 0.0):
    import skia

    from riskmap.render.draw import skia_colour

    paint = skia.Paint(AntiAlias=True, Color=skia_colour(colour))
    if stroke:
        paint.setStyle(skia.Paint.kStroke_Style)
        paint.setStrokeWidth(stroke)
    return paint


def _shape_path(shape: str, cx: float, cy: float, r: float):
    import skia

    path = skia.Path()
    if shape == "diamond":
        r *= 1.2                                  # a diamond of the same width looks smaller than a disc
        path.moveTo(cx, cy - r)
        path.lineTo(cx + r, cy)
        path.lineTo(cx, cy + r)
        path.lineTo(cx - r, cy)
        path.close()
    else:
        path.addCircle(cx, cy, r)
    return path


def draw_symbol(canvas: Any, style: Any, cx: float, cy: float, level: int, group: str, overdue: bool, z: int,
                scale: int) -> None:
    """One hazard's symbol at (cx, cy) device px: the halo when overdue, the shape by level, filled by state."""
    r = style.size_at(z) / 2 * scale
    shape = style.shapes["major" if int(level) == 1 else "general"]
    if overdue:
        ring = r * (1.2 if shape == "diamond" else 1.0) + float(style.halo["gap"]) * scale
        width = float(style.halo["width"]) * scale
        canvas.drawCircle(cx, cy, ring + width / 2, _paint(style.halo["casing"], width * 2.2))
        canvas.drawCircle(cx, cy, ring + width / 2, _paint(style.halo["colour"], width))
    path = _shape_path(shape, cx, cy, r)
    fill = style.groups.get(group, style.groups["closed"])["fill"]
    canvas.drawPath(path, _paint(fill))
    canvas.drawPath(path, _paint(style.outline["colour"], float(style.outline["width"]) * scale))


def _text(canvas: Any, text: str, cx: float, cy: float, size: float, colour: str) -> None:
    from riskmap.render import fonts

    font = fonts.label_font(size)
    width = font.measureText(text)
    metrics = font.getMetrics()
    canvas.drawString(text, cx - width / 2, cy - (metrics.fAscent + metrics.fDescent) / 2, font, _paint(colour))


def draw_cluster(canvas: Any, style: Any, cx: float, cy: float, count: int, major: int, overdue: int,
                 scale: int) -> None:
    """A cluster: a white disc with the count, a magenta diamond badge (major) and a black disc badge (overdue)."""
    draw_cluster_disc(canvas, style, cx, cy, str(count), scale)
    dx, dy = badge_offset(style)
    if major:
        draw_badge(canvas, style, "major", cx + dx * scale, cy + dy * scale, str(major), scale)
    if overdue:
        draw_badge(canvas, style, "overdue", cx - dx * scale, cy + dy * scale, str(overdue), scale)


def badge_offset(style: Any) -> tuple[float, float]:
    """Where the major badge sits from a cluster's centre, CSS px (the overdue badge mirrored to the left)."""
    r = float(style.cluster["size"]) / 2
    return r * 0.8, -r * 0.75


def draw_cluster_disc(canvas: Any, style: Any, cx: float, cy: float, text: str, scale: int) -> None:
    """A cluster's white disc with its ring and the count."""
    c = style.cluster
    r = float(c["size"]) / 2 * scale
    canvas.drawCircle(cx, cy, r, _paint(c["fill"]))
    canvas.drawCircle(cx, cy, r - 1.25 * scale, _paint(c["ring"], 2.5 * scale))
    _text(canvas, text, cx, cy, 11 * scale, c["text"])


def draw_badge(canvas: Any, style: Any, kind: str, bx: float, by: float, text: str, scale: int) -> None:
    """A cluster's badge: a magenta diamond with the number of major hazards, or a black disc with the overdue."""
    c = style.cluster
    b = 7.0 * scale
    if kind == "major":
        canvas.drawPath(_shape_path("diamond", bx, by, b), _paint(c["major_fill"]))
    else:
        canvas.drawCircle(bx, by, b, _paint(c["overdue_fill"]))
    _text(canvas, text, bx, by, 8.5 * scale, c["badge_text"])


def draw_png(found: pd.DataFrame, style: Any, view: TileView, scale: int = 1) -> bytes:
    """The PNG of a hazards tile: closed ones first, then awaiting acceptance, open on top, clusters above all.
    The symbols of one state group are drawn as a few skia paths (halos, fills, outlines), not one by one: a dense
    tile holds thousands of them."""
    import skia

    from riskmap.render.png import encode_png

    side = 256 * scale
    minx, _, _, maxy = view.bounds
    per_px = view.metres_per_px / scale
    surface = skia.Surface(side, side)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorTRANSPARENT)
    px = (found["x"].to_numpy(dtype=float) - minx) / per_px
    py = (maxy - found["y"].to_numpy(dtype=float)) / per_px
    cluster = found["cluster"].to_numpy(dtype=bool)
    group = found["group"].to_numpy(dtype=object)
    level = found["level"].to_numpy()
    overdue = found["overdue"].to_numpy(dtype=bool)
    r = style.size_at(view.z) / 2 * scale
    width = float(style.halo["width"]) * scale
    for name in sorted(style.groups, key=lambda g: {"closed": 0, "awaiting": 1, "open": 2}.get(g, 0)):
        chosen = np.flatnonzero(~cluster & (group == name))
        if not len(chosen):
            continue
        halo, shapes = skia.Path(), skia.Path()
        for i in chosen:
            shape = style.shapes["major" if int(level[i]) == 1 else "general"]
            if overdue[i]:
                ring = r * (1.2 if shape == "diamond" else 1.0) + float(style.halo["gap"]) * scale
                halo.addCircle(float(px[i]), float(py[i]), ring + width / 2)
            shapes.addPath(_shape_path(shape, float(px[i]), float(py[i]), r))
        if overdue[chosen].any():
            canvas.drawPath(halo, _paint(style.halo["casing"], width * 2.2))
            canvas.drawPath(halo, _paint(style.halo["colour"], width))
        canvas.drawPath(shapes, _paint(style.groups[name]["fill"]))
        canvas.drawPath(shapes, _paint(style.outline["colour"], float(style.outline["width"]) * scale))
    for i in np.flatnonzero(cluster):
        draw_cluster(canvas, style, float(px[i]), float(py[i]), int(found["count"].iat[i]),
                     int(found["major"].iat[i]), int(found["overdue_count"].iat[i]), scale)
    info = skia.ImageInfo.Make(side, side, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
    out = np.empty((side, side, 4), np.uint8)
    surface.readPixels(info, out, side * 4, 0, 0)
    return encode_png(out)


def legend_png(style: Any, row: dict[str, Any], scale: int = 2) -> bytes:
    """A legend swatch (28×22 CSS px) of one legend row, drawn by the tiles' own code."""
    import skia

    w, h = 28 * scale, 22 * scale
    surface = skia.Surface(w, h)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorTRANSPARENT)
    if row["key"] == "cluster":
        draw_cluster(canvas, style, w / 2 - 2 * scale, h / 2 + 3 * scale, 5, 2, 1, max(1, scale - 1) if scale > 1
                     else 1)
    else:
        draw_symbol(canvas, style, w / 2, h / 2, int(row["level"]), row["group"], bool(row["overdue"]), 19, scale)
    info = skia.ImageInfo.Make(w, h, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
    out = np.empty((h, w, 4), np.uint8)
    surface.readPixels(info, out, w * 4, 0, 0)
    from riskmap.render.png import encode_palette_png

    return encode_palette_png(out)
