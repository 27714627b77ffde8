"""PNG map tiles drawn with skia: antialiased fills, outlines, level hatches and collision-free CJK labels.

Fast because nothing loops over features in Python: coordinates go from EPSG:3857 to pixels in one numpy
affine, and every class of features (a risk level, a layout role) becomes one skia path built straight from
the coordinate arrays; point symbols are one sprite per class stamped with drawAtlas. Areas of under three
pixels become pixel blocks of their size in their class colour (where several share a pixel the most severe
wins), so a small major-risk unit never vanishes at low zoom and dense plants stay cheap to draw.

Labels never get cut at a tile edge: each belongs to the tile that holds its anchor (a point inside its
polygon, the middle of its line, below its point symbol) and is drawn by that tile only, wholly inside it.
"""

from __future__ import annotations

import io
import math
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import skia
from PIL import Image

from riskmap.errors import InputError
from riskmap.render import fonts
from riskmap.render.draw import (
    concat,
    draw_arrows,
    draw_marked_points,
    draw_sample,
    make_path,
    ring_groups,
    skia_colour,
    stroke_classes,
    stroke_paint,
)
from riskmap.render.geometry import (
    COLLECTION,
    LINEAR,
    POLYGONAL,
    PUNTAL,
    explode_collections,
    polygonal_part,
)
from riskmap.render.grid import TILE_SIZE, TMS, TileView, as_view
from riskmap.render.mvt import is_web_mercator
from riskmap.render.style import HatchRule, LayerStyle, Stroke

PNG_COMPRESS_LEVEL = 3
# zlib's run-length strategy: map tiles are long runs of flat colour; measured a third faster than the default
# strategy at level 6 and a little smaller than level 3.
PNG_ZLIB_STRATEGY = zlib.Z_RLE
MAX_SCALE = 4
CLIP_MARGIN_PX = 1024          # features reaching farther than this beyond the tile are clipped
POINT_SQUARE_PX = 3.5           # point symbols smaller than this (CSS px) are drawn as squares of their colour
BLOCK_PX = 3.0                  # areas smaller than this (device px) are drawn as pixel blocks of their size


# ------------------------------------------------------------------------------------------- public API


def render_png(features: Any, tile: Any, style: LayerStyle, scale: int = 1, hatch: bool = False,
               labels: bool = True) -> bytes:
    """One layer's tile as PNG bytes: 256·scale px square, transparent where nothing is drawn.

    `features`: a (Geo)DataFrame in EPSG:3857 with `geometry` and the attributes the style reads (the class
    field such as `level` or `role`, and the label field such as `name`), or a mapping of such arrays.
    `tile`: a grid.TileView, a morecantile.Tile or (z, x, y). `hatch` draws each level's pattern over its
    fill (greyscale and colour-blind readers). `labels=False` leaves the names out (for a map that shows
    them as a layer of their own, see render_labels_png).
    """
    return render_layers_png([(features, style)], tile, scale=scale, hatch=hatch, labels=labels)


def render_layers_png(layers: Sequence[tuple[Any, LayerStyle]], tile: Any, scale: int = 1,
                      hatch: bool = False, labels: bool = True) -> bytes:
    """Several layers in one tile, first drawn first (e.g. layout, regions, units); labels share one
    collision pass in which the style's label priority decides."""
    view = as_view(tile)
    rgba = render_rgba(layers, view, scale=scale, hatch=hatch, labels=labels)
    if rgba is None:
        return empty_png(view.width_px * _check_scale(scale), view.height_px * _check_scale(scale))
    return encode_png(rgba)


def render_labels_png(layers: Sequence[tuple[Any, LayerStyle]], tile: Any, scale: int = 1) -> bytes:
    """Only the names of several layers (one collision pass over all of them), to lay over tiles drawn with
    labels=False: the same labels at the same places as a combined tile would show."""
    view = as_view(tile)
    rgba = render_rgba(layers, view, scale=scale, geometry=False)
    if rgba is None:
        return empty_png(view.width_px * _check_scale(scale), view.height_px * _check_scale(scale))
    return encode_png(rgba)


def render_rgba(layers: Sequence[tuple[Any, LayerStyle]], tile: Any, scale: int = 1, hatch: bool = False,
                labels: bool = True, geometry: bool = True) -> np.ndarray | None:
    """The drawn tile as an (h, w, 4) uint8 array of straight (unpremultiplied) RGBA, or None when empty."""
    view = as_view(tile)
    scale = _check_scale(scale)
    canvas = _Canvas(view, scale)
    prepared = [(_prepare(features, style), style) for features, style in layers if style.visible(view.z)]
    if geometry:
        for layer, style in prepared:
            if layer is not None:
                canvas.draw_layer(layer, style, hatch)
    label_layers = [(layer, style) for layer, style in prepared if layer is not None and style.labels_at(view.z)]
    if labels and label_layers:
        canvas.draw_labels(label_layers)
    return canvas.pixels() if canvas.drawn else None


def encode_png(rgba: np.ndarray, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """An RGBA array (h, w, 4; uint8) as PNG bytes."""
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG", compress_level=compress_level, compress_type=PNG_ZLIB_STRATEGY)
    return out.getvalue()


@lru_cache(maxsize=16)
def empty_png(width: int = 256, height: int = 256) -> bytes:
    """A fully transparent PNG (cached: every empty tile of a size is the same bytes)."""
    return encode_png(np.zeros((height, width, 4), dtype=np.uint8), compress_level=9)


def _check_scale(scale: Any) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or not 1 <= scale <= MAX_SCALE:
        raise InputError(f"缩放倍数应为 1–{MAX_SCALE} 的整数，得到 {scale!r} / scale must be an integer "
                         f"1–{MAX_SCALE}")
    return int(scale)


# -------------------------------------------------------------------------------------------- features


@dataclass
class _Layer:
    geoms: np.ndarray        # shapely geometries, none empty
    cls: np.ndarray          # class index per geometry (int16)
    labels: np.ndarray | None  # label text per geometry (object) or None


def _column(features: Any, name: str) -> np.ndarray | None:
    if name == "geometry" and isinstance(features, gpd.GeoDataFrame):
        return np.asarray(features.geometry.to_numpy(), dtype=object)      # whatever the column is called
    if isinstance(features, pd.DataFrame):
        return features[name].to_numpy(dtype=object) if name in features.columns else None
    if isinstance(features, Mapping):
        return np.asarray(features[name], dtype=object) if name in features else None
    return None


def _prepare(features: Any, style: LayerStyle) -> _Layer | None:
    """Geometries, classes and label texts of one layer, without empty geometries."""
    if features is None:
        return None
    if not is_web_mercator(getattr(features, "crs", None)):
        features = features.to_crs(3857)
    geoms = _column(features, "geometry")
    if geoms is None:
        raise InputError("要素缺少 geometry 列 / features need a geometry column")
    if len(geoms) == 0:
        return None
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not keep.any():
        return None
    values = _column(features, style.field)
    cls = style.class_indices(values[keep] if values is not None else [None] * int(keep.sum()))
    labels = None
    if style.label is not None:
        text = _column(features, style.label.field)
        if text is not None:
            labels = text[keep]
    return _Layer(geoms[keep], cls, labels)


# ---------------------------------------------------------------------------------------- skia helpers


@lru_cache(maxsize=256)
def _point_sprite(fill: str | None, outline: Stroke | None, size: float, scale: int):
    """A point symbol drawn once (circle, fill and outline) in an odd-sized image centred on its middle pixel;
    returns the image and the offset from its corner to that pixel."""
    radius = size / 2 * scale
    reach = radius + (outline.width * scale / 2 if outline else 0) + 1
    half = int(math.ceil(reach))
    side = 2 * half + 1
    surface = skia.Surface(side, side)
    c = surface.getCanvas()
    c.clear(skia.ColorTRANSPARENT)
    centre = half + 0.5
    if fill:
        c.drawCircle(centre, centre, radius, skia.Paint(AntiAlias=True, Color=skia_colour(fill)))
    if outline is not None:
        c.drawCircle(centre, centre, radius, stroke_paint(outline, scale))
    return surface.makeImageSnapshot(), half


@lru_cache(maxsize=64)
def _hatch_shader(name: str, rule: HatchRule, scale: int) -> skia.Shader | None:
    """A repeating pattern cell; its size divides 256·scale, so patterns of neighbouring tiles join."""
    size = int(round(rule.spacing * scale))
    surface = skia.Surface(size, size)
    c = surface.getCanvas()
    c.clear(skia.ColorTRANSPARENT)
    paint = skia.Paint(AntiAlias=True, Color=skia_colour(rule.colour, rule.opacity), StrokeWidth=rule.width * scale,
                       Style=skia.Paint.kStroke_Style)
    s = float(size)
    segments = []
    if name in ("//", "xx"):
        segments += [(-s + d, s, d, 0.0) for d in (0.0, s, 2 * s)]      # rising diagonals, wrapped
    if name in ("\\\\", "xx"):
        segments += [(-s + d, 0.0, d, s) for d in (0.0, s, 2 * s)]
    if name in ("--", "++"):
        segments.append((0.0, s / 2, s, s / 2))
    if name in ("||", "++"):
        segments.append((s / 2, 0.0, s / 2, s))
    for x0, y0, x1, y1 in segments:
        c.drawLine(x0, y0, x1, y1, paint)
    if name == "..":
        paint.setStyle(skia.Paint.kFill_Style)
        c.drawCircle(s / 2, s / 2, max(0.75, rule.width) * scale, paint)
    if not segments and name != "..":
        return None
    image = surface.makeImageSnapshot()
    return image.makeShader(skia.TileMode.kRepeat, skia.TileMode.kRepeat)


# --------------------------------------------------------------------------------------------- drawing


class _Canvas:
    def __init__(self, view: TileView, scale: int):
        self.view = view
        self.scale = scale
        self.width = view.width_px * scale
        self.height = view.height_px * scale
        self.minx, self.miny, self.maxx, self.maxy = view.bounds
        self.k = scale / view.metres_per_px                  # device px per metre
        self.surface: skia.Surface | None = None
        self.drawn = False
        self._grid: np.ndarray | None = None

    @property
    def canvas(self) -> skia.Canvas:
        if self.surface is None:
            self.surface = skia.Surface(self.width, self.height)
            self.surface.getCanvas().clear(skia.ColorTRANSPARENT)
        self.drawn = True
        return self.surface.getCanvas()

    def pixels(self) -> np.ndarray:
        info = skia.ImageInfo.Make(self.width, self.height, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
        out = np.empty((self.height, self.width, 4), np.uint8)
        self.surface.readPixels(info, out, self.width * 4, 0, 0)
        return out

    def to_px(self, coords: np.ndarray) -> np.ndarray:
        """EPSG:3857 (n, 2) → device pixels, float32, y down."""
        out = np.empty((len(coords), 2), np.float32)
        out[:, 0] = (coords[:, 0] - self.minx) * self.k
        out[:, 1] = (self.maxy - coords[:, 1]) * self.k
        return out

    # ---------------------------------------------------------------------------------- geometry layer

    def draw_layer(self, layer: _Layer, style: LayerStyle, hatch: bool) -> None:
        """Class by class in the style's order, bottom first (for levels: not assessed, low, …, major), each class
        whole: its areas, its areas too small to draw as shapes (pixel blocks), its lines, its point symbols. So a
        higher level is never under a lower one, whatever the shapes: a place shows the highest level drawn there
        (fills are opaque, so nothing blends). Neutral outlines (`outlines_on_top`) come last, over every fill, so
        the shape of a unit inside a higher one still shows."""
        geoms, cls = layer.geoms, layer.cls
        reach = style.max_draw_px() + 1.0
        bounds = shapely.bounds(geoms)
        minx, miny, maxx, maxy = self.view.buffered_bounds(reach)
        inside = (bounds[:, 2] >= minx) & (bounds[:, 0] <= maxx) & (bounds[:, 3] >= miny) & (bounds[:, 1] <= maxy)
        if not inside.any():
            return
        geoms, cls, bounds = geoms[inside], cls[inside], bounds[inside]
        types = shapely.get_type_id(geoms)
        if (types == COLLECTION).any():
            geoms, cls, bounds, types = explode_collections(geoms, cls, bounds, types)
        size_css = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) * (self.k / self.scale)
        clip = self.view.buffered_bounds(CLIP_MARGIN_PX)
        puntal = np.isin(types, PUNTAL)
        tiny = (size_css < style.tiny_px) & ~puntal
        # Areas of a few pixels: a block of their size reads the same as an antialiased shape and costs
        # nothing (dense plants at low zoom have tens of thousands of them).
        block = ~tiny & np.isin(types, POLYGONAL) & (size_css * self.scale < BLOCK_PX)
        poly = np.isin(types, POLYGONAL) & ~tiny & ~block
        line = np.isin(types, LINEAR) & ~tiny
        on_top = style.outlines_on_top
        for ci in np.unique(cls):
            mine = cls == ci
            if (poly & mine).any():
                m = poly & mine
                self._polygons(geoms[m], cls[m], bounds[m], size_css[m], clip, style, hatch, outlines=not on_top)
                if style.classes[int(ci)].point.mark:
                    # an area of a marked role (an assembly area) shows its symbol inside it, as prints do
                    self._points(shapely.point_on_surface(geoms[m]), cls[m], style)
            if ((tiny | block) & mine).any():
                self._blocks(bounds, tiny & mine, block & mine, cls)
                self._flush(style)
            if (line & mine).any():
                m = line & mine
                self._lines(geoms[m], cls[m], bounds[m], clip, style)
                if style.classes[int(ci)].arrows is not None:
                    # unclipped: the arrows' places count from the line's start, the same in every tile
                    draw_arrows(self.canvas, geoms[m], cls[m], self.to_px, style.classes, self.scale)
            if (puntal & mine).any():
                m = puntal & mine
                self._points(geoms[m], cls[m], style, outline=not on_top)
        if on_top:
            if poly.any():
                self._outlines(geoms[poly], cls[poly], bounds[poly], size_css[poly], clip, style)
            if puntal.any():
                self._points(geoms[puntal], cls[puntal], style, fill=False)

    def _blocks(self, bounds: np.ndarray, tiny: np.ndarray, block: np.ndarray, cls: np.ndarray) -> None:
        """Gather features too small to draw as shapes: single pixels (tiny) and blocks of their size."""
        if tiny.any():
            b = bounds[tiny]
            self._splat(((b[:, 0] + b[:, 2]) / 2 - self.minx) * self.k, (self.maxy - (b[:, 1] + b[:, 3]) / 2) * self.k,
                        cls[tiny])
        if block.any():
            b = bounds[block]
            bw = np.maximum(1, np.rint((b[:, 2] - b[:, 0]) * self.k)).astype(np.int64)
            bh = np.maximum(1, np.rint((b[:, 3] - b[:, 1]) * self.k)).astype(np.int64)
            cx = ((b[:, 0] + b[:, 2]) / 2 - self.minx) * self.k
            cy = (self.maxy - (b[:, 1] + b[:, 3]) / 2) * self.k
            bc = cls[block]
            for w, h in set(zip(bw.tolist(), bh.tolist(), strict=True)):
                m = (bw == w) & (bh == h)
                self._splat(cx[m], cy[m], bc[m], side=w, side_y=h)

    def _clip(self, geoms: np.ndarray, bounds: np.ndarray, clip: tuple[float, float, float, float]) -> np.ndarray:
        """Clip only what reaches far beyond the tile (big regions at high zoom), to keep float32 pixel
        coordinates small. Features near the tile are drawn whole: a clipped copy would be antialiased a little
        differently from its unclipped neighbour tile, and the seam would show."""
        minx, miny, maxx, maxy = clip
        over = (bounds[:, 0] < minx) | (bounds[:, 1] < miny) | (bounds[:, 2] > maxx) | (bounds[:, 3] > maxy)
        if over.any():
            geoms = geoms.copy()
            geoms[over] = shapely.clip_by_rect(geoms[over], minx, miny, maxx, maxy)
        return geoms

    def _splat(self, cx: np.ndarray, cy: np.ndarray, cls: np.ndarray, side: int = 1, side_y: int | None = None) -> None:
        """Features too small to draw as shapes, as side × side_y pixel blocks around their centres (device
        px), gathered in one class grid; where several share a pixel the highest class wins, so a major risk
        is never hidden by a low one. `_flush` draws the grid."""
        side_y = side if side_y is None else side_y
        ix = np.floor(cx - (side - 1) / 2).astype(np.int64)
        iy = np.floor(cy - (side_y - 1) / 2).astype(np.int64)
        if side > 1 or side_y > 1:
            dx, dy = np.meshgrid(np.arange(side), np.arange(side_y))
            ix = (ix[:, None] + dx.ravel()[None, :]).ravel()
            iy = (iy[:, None] + dy.ravel()[None, :]).ravel()
            cls = np.repeat(cls, side * side_y)
        ok = (ix >= 0) & (ix < self.width) & (iy >= 0) & (iy < self.height)
        if not ok.any():
            return
        if self._grid is None:
            self._grid = np.full((self.height, self.width), -1, np.int16)
        np.maximum.at(self._grid, (iy[ok], ix[ok]), cls[ok])

    def _flush(self, style: LayerStyle, point_colours: bool = False) -> None:
        """Draw the gathered pixel blocks in their class colours (fill, or point symbol fill)."""
        grid, self._grid = self._grid, None
        if grid is None:
            return
        rows = np.flatnonzero((grid >= 0).any(axis=1))
        cols = np.flatnonzero((grid >= 0).any(axis=0))
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        lut = np.zeros((len(style.classes) + 1, 4), np.uint8)
        for i, c in enumerate(style.classes):
            if point_colours:
                colour = c.point.fill or (c.point.outline.colour if c.point.outline else None)
            else:
                colour = c.fill or (c.line.colour if c.line else None) or (c.outline.colour if c.outline else None)
            if colour:
                lut[i + 1] = (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), 255)
        rgba = np.ascontiguousarray(lut[grid[y0:y1, x0:x1] + 1])
        image = skia.Image.fromarray(rgba, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
        self.canvas.drawImage(image, x0, y0)

    def _rings(self, geoms, cls, bounds, size_css, clip, style: LayerStyle):
        """The areas as pixel ring groups, class by class with the outlined ones last in each (or None)."""
        outlined = size_css >= style.outline_min_px
        order = np.lexsort((outlined, cls))
        geoms, cls, outlined = geoms[order], cls[order].astype(np.int64), outlined[order]
        geoms = self._clip(geoms, bounds[order], clip)
        types = shapely.get_type_id(geoms)
        keep = np.isin(types, POLYGONAL) & ~shapely.is_empty(geoms)
        if (types == COLLECTION).any():                  # a clip that left lines or points beside areas
            coll = (types == COLLECTION) & ~shapely.is_empty(geoms)
            if coll.any():
                geoms = geoms.copy()
                geoms[coll] = [polygonal_part(g) for g in geoms[coll]]
                keep |= coll & ~shapely.is_empty(geoms)
        if not keep.any():
            return None, None
        cls = cls[keep]
        return ring_groups(geoms[keep], cls, outlined[keep], self.to_px), np.unique(cls)

    def _polygons(self, geoms, cls, bounds, size_css, clip, style: LayerStyle, hatch: bool,
                  outlines: bool = True) -> None:
        """One path per class: fill, hatch, and (unless the style draws them on top of everything) outline."""
        groups, present = self._rings(geoms, cls, bounds, size_css, clip, style)
        if groups is None:
            return
        canvas = self.canvas
        for ci in present:
            c = style.classes[int(ci)]
            path = make_path(*concat([g.contours(ci, False) for g in groups]))
            if c.fill:
                canvas.drawPath(path, skia.Paint(AntiAlias=True, Color=skia_colour(c.fill)))
            if hatch and c.hatch:
                shader = _hatch_shader(c.hatch, style.hatch, self.scale)
                if shader is not None:
                    canvas.drawPath(path, skia.Paint(AntiAlias=True, Shader=shader))
            if outlines:
                self._stroke_outlines(groups, ci, c)

    def _outlines(self, geoms, cls, bounds, size_css, clip, style: LayerStyle) -> None:
        """Only the outlines of the areas (drawn over every fill of the layer)."""
        groups, present = self._rings(geoms, cls, bounds, size_css, clip, style)
        if groups is not None:
            for ci in present:
                self._stroke_outlines(groups, ci, style.classes[int(ci)])

    def _stroke_outlines(self, groups, ci: int, c) -> None:
        if c.outline is None:
            return
        parts = [g.contours(ci, True) for g in groups]
        if any(len(v) for _, v in parts):
            self.canvas.drawPath(make_path(*concat(parts)), stroke_paint(c.outline, self.scale))

    def _lines(self, geoms, cls, bounds, clip, style: LayerStyle) -> None:
        order = np.argsort(cls, kind="stable")
        geoms, cls = geoms[order], cls[order]
        geoms = self._clip(geoms, bounds[order], clip)
        types = shapely.get_type_id(geoms)
        keep = np.isin(types, LINEAR) & ~shapely.is_empty(geoms)
        if not keep.any():
            return
        geoms, cls = geoms[keep], cls[keep]
        stroke_classes(self.canvas, geoms, cls, self.to_px, style.classes, self.scale)

    def _points(self, geoms, cls, style: LayerStyle, fill: bool = True, outline: bool = True) -> None:
        """Point symbols, one sprite per class; `fill=False` stamps only their outline rings (drawn over every fill
        when the style puts outlines on top), `outline=False` only their discs."""
        coords, index = shapely.get_coordinates(geoms, return_index=True)
        cls = cls[index]
        px = self.to_px(coords)
        z = self.view.z
        sizes = np.array([c.point.size_at(z) for c in style.classes])
        small = sizes[cls] < POINT_SQUARE_PX
        if small.any():                                  # dense low-zoom equipment: crisp squares, fast
            if fill:
                side = max(1, int(round(float(sizes[cls[small]].max()) * self.scale)))
                self._splat(px[small, 0], px[small, 1], cls[small], side=side)
                self._flush(style, point_colours=True)
            px, cls = px[~small], cls[~small]
        order = np.argsort(cls, kind="stable")
        px, cls = px[order], cls[order]
        canvas = self.canvas if len(cls) else None
        for ci in np.unique(cls):
            c = style.classes[ci]
            g0, g1 = np.searchsorted(cls, ci, "left"), np.searchsorted(cls, ci, "right")
            sym = c.point
            size = sizes[ci]
            reach = (size / 2 + (sym.outline.width if sym.outline else 0) + 1) * self.scale
            centres = px[g0:g1]
            vis = ((centres[:, 0] > -reach) & (centres[:, 0] < self.width + reach) &
                   (centres[:, 1] > -reach) & (centres[:, 1] < self.height + reach))
            sym_fill = sym.fill if fill else None
            sym_outline = sym.outline if outline else None
            if not vis.any() or (sym_fill is None and sym_outline is None):
                continue
            if not sym.plain:
                # shaped symbols with a character (emergency features: few per plant) are drawn as paths, by
                # the same code as the prints; each centred on the pixel that holds its point
                draw_marked_points(canvas, np.floor(centres[vis]) + 0.5, sym, float(size) * self.scale,
                                   self.scale, fill=fill, outline=outline)
                continue
            # One antialiased sprite per class, stamped at every point: four times faster than filling and
            # stroking a path of thousands of circles. Each lands on the pixel that holds its point (±½ px),
            # the same pixel in every tile that shows it.
            sprite, half = _point_sprite(sym_fill, sym_outline, float(size), self.scale)
            corner = np.floor(centres[vis]) - half
            xforms = [skia.RSXform(1.0, 0.0, x, y) for x, y in corner.tolist()]
            canvas.drawAtlas(sprite, xforms, [skia.Rect.MakeWH(sprite.width(), sprite.height())] * len(xforms),
                             [], skia.BlendMode.kSrcOver)

    # ---------------------------------------------------------------------------------------- labels

    def draw_labels(self, layers: list[tuple[_Layer, LayerStyle]]) -> None:
        labels = _place_labels(self.view, layers)
        if labels is None:
            return
        ox, oy = self.view.world_origin_px
        s = self.scale
        canvas = None
        faces: dict[float, tuple] = {}
        for text, wx, wy, rule, width in labels:
            if canvas is None:
                canvas = self.canvas
            if rule.size not in faces:
                faces[rule.size] = (fonts.label_font(rule.size * s), *_metrics(rule.size * s))
            font, ascent, descent = faces[rule.size]
            x = (wx - ox) * s - width * s / 2
            baseline = (wy - oy) * s - (ascent + descent) / 2
            if rule.halo_width > 0:
                halo = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=skia_colour(rule.halo_colour),
                                  StrokeWidth=2 * rule.halo_width * s, StrokeJoin=skia.Paint.kRound_Join)
                canvas.drawString(text, x, baseline, font, halo)
            canvas.drawString(text, x, baseline, font, skia.Paint(AntiAlias=True, Color=skia_colour(rule.colour)))


# ----------------------------------------------------------------------------------------------- labels


_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _clean_label(raw: str, size: float, max_chars: int) -> tuple[str, float]:
    """Printable text the font can draw (never tofu boxes), cut to max_chars, and its width at `size`."""
    return _clean_label_cached(raw[: max_chars * 4 + 1], size, max_chars)   # the cache never holds huge text


@lru_cache(maxsize=65536)
def _clean_label_cached(raw: str, size: float, max_chars: int) -> tuple[str, float]:
    text = raw[: max_chars * 4]
    text = "".join(" " if ch.isspace() else ch for ch in text
                   if unicodedata.category(ch) not in _CONTROL_CATEGORIES or ch.isspace())
    text = " ".join(text.split())
    if not text:
        return "", 0.0
    font = fonts.label_font(size)
    glyphs = font.textToGlyphs(text)
    if len(glyphs) == len(text) and 0 in glyphs:
        text = "".join(ch for ch, g in zip(text, glyphs, strict=True) if g != 0)
        text = " ".join(text.split())
    if len(text) > max_chars or len(raw) > max_chars * 4:
        text = text[: max_chars - 1].rstrip() + "…"
    return text, float(font.measureText(text)) if text else 0.0


@lru_cache(maxsize=64)
def _metrics(size: float) -> tuple[float, float]:
    m = fonts.label_font(size).getMetrics()
    return float(m.fAscent), float(m.fDescent)


def _place_labels(view: TileView, layers: list[tuple[_Layer, LayerStyle]]):
    """The labels this view draws: (text, world x, world y, rule, width) in @1x world pixels.

    Each label belongs to the 256 px tile that holds its anchor and is drawn by that tile only, wholly inside
    it: never cut at a tile edge, and no tile needs its neighbours' data. A label that would cross the edge
    moves inward when its feature is big enough to keep the label over it, otherwise it is left out. Inside
    a tile, labels are placed greedily by priority: the style's label priority, the class (major before
    low), the feature's area, then position, so @1x and @2x place the same labels.
    """
    cell = TMS.matrix(view.z).cellSize                     # metres per world pixel at this zoom
    left, top = TMS.xy_bbox.left, TMS.xy_bbox.top
    ox, oy = view.world_origin_px
    ex, ey = ox + view.width_px, oy + view.height_px
    cand: list[tuple] = []
    xs, ys, half_w, half_h, keys = [], [], [], [], []
    for layer, style in layers:
        if layer.labels is None or not len(layer.labels):
            continue
        rule = style.label
        labels = layer.labels
        has_text = pd.notna(labels)
        if not has_text.any():
            continue
        geoms = layer.geoms[has_text]
        types = shapely.get_type_id(geoms)
        anchors = shapely.point_on_surface(geoms)
        linear = np.isin(types, LINEAR)
        if linear.any():                                  # the middle of a line, not one of its vertices
            anchors[linear] = shapely.line_interpolate_point(geoms[linear], 0.5, normalized=True)
        wx = (shapely.get_x(anchors) - left) / cell
        wy = (top - shapely.get_y(anchors)) / cell
        mine = (wx >= ox) & (wx < ex) & (wy >= oy) & (wy < ey)
        if not mine.any():
            continue
        idx = np.flatnonzero(mine)
        texts, cls, wx, wy = labels[has_text][idx], layer.cls[has_text][idx], wx[idx], wy[idx]
        sub = geoms[idx]
        area = shapely.area(sub)
        b = shapely.bounds(sub)
        reach_x, reach_y = (b[:, 2] - b[:, 0]) / cell / 2, (b[:, 3] - b[:, 1]) / cell / 2
        ascent, descent = _metrics(rule.size)
        height = descent - ascent
        puntal = np.isin(types[idx], PUNTAL)             # a point's label sits below its symbol
        if puntal.any():
            below = np.array([style.classes[c].point.size / 2 for c in cls[puntal]]) + 1 + rule.halo_width
            wy[puntal] += below + height / 2
        for i, raw in enumerate(texts):
            text, width = _clean_label(str(raw), rule.size, rule.max_chars)
            if not text:
                continue
            cand.append((text, rule, width))
            xs.append(wx[i])
            ys.append(wy[i])
            half_w.append((width / 2 + rule.halo_width, reach_x[i]))
            half_h.append((height / 2 + rule.halo_width, reach_y[i]))
            keys.append((rule.priority, int(cls[i]), float(area[i])))
    if not cand:
        return None
    x, y = np.array(xs), np.array(ys)
    (hw, rx), (hh, ry) = np.array(half_w).T, np.array(half_h).T
    # fit each box inside its own tile, moving it no farther than its feature reaches
    tx0 = np.floor(x / TILE_SIZE) * TILE_SIZE
    ty0 = np.floor(y / TILE_SIZE) * TILE_SIZE
    margin = 0.5
    fx = np.clip(x, tx0 + margin + hw, tx0 + TILE_SIZE - margin - hw)
    fy = np.clip(y, ty0 + margin + hh, ty0 + TILE_SIZE - margin - hh)
    fits = (2 * hw <= TILE_SIZE - 2 * margin) & (2 * hh <= TILE_SIZE - 2 * margin) & \
        (np.abs(fx - x) <= rx) & (np.abs(fy - y) <= ry)
    if not fits.any():
        return None
    keep = np.flatnonzero(fits)
    x, y, hw, hh = fx[keep], fy[keep], hw[keep], hh[keep]
    k = np.array(keys)[keep]
    order = np.lexsort((y, x, -k[:, 2], -k[:, 1], -k[:, 0]))
    boxes = shapely.box(x - hw, y - hh, x + hw, y + hh)
    a, b = shapely.STRtree(boxes).query(boxes, predicate="intersects")
    clash = a != b
    a, b = a[clash], b[clash]
    by = np.argsort(a, kind="stable")
    nb = b[by]
    off = np.zeros(len(keep) + 1, np.int64)
    np.cumsum(np.bincount(a, minlength=len(keep)), out=off[1:])
    placed = np.zeros(len(keep), bool)
    for i in order:
        if off[i] == off[i + 1] or not placed[nb[off[i]:off[i + 1]]].any():
            placed[i] = True
    return [(cand[keep[i]][0], x[i], y[i], cand[keep[i]][1], cand[keep[i]][2]) for i in np.flatnonzero(placed)]


def encode_palette_png(rgba: np.ndarray, colours: int = 32) -> bytes:
    """An RGBA array as a palette PNG: legend swatches travel inside a page's config (a third to half the bytes of
    a full-colour PNG, the same look)."""
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").quantize(colours, method=Image.Quantize.FASTOCTREE).save(out, "PNG", optimize=True)
    return out.getvalue()


def legend_symbol_png(style: LayerStyle, key: str, kind: str, width: int = 28, height: int = 18,
                      scale: int = 2, filled: bool = False, palette: bool = False) -> bytes:
    """A legend swatch of one class (`kind` "point", "line" or "polygon") drawn by the tiles' own code, as PNG
    `width`×`height` CSS px at `scale`: the web map's legend shows the symbol the tiles draw. `filled`: an area
    with its fill and hatch under the outline, as a layer that fills its areas draws them (coverage). `palette`:
    encoded with encode_palette_png."""
    scale = _check_scale(scale)
    surface = skia.Surface(width * scale, height * scale)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorTRANSPARENT)
    cls = style.class_of(key)
    if filled and kind == "polygon":
        rect = skia.Rect(2 * scale, 2 * scale, (width - 2) * scale, (height - 2) * scale)
        if cls.fill:
            canvas.drawRect(rect, skia.Paint(AntiAlias=True, Color=skia_colour(cls.fill)))
        shader = _hatch_shader(cls.hatch, style.hatch, scale) if cls.hatch and style.hatch else None
        if shader is not None:
            canvas.drawRect(rect, skia.Paint(AntiAlias=True, Shader=shader))
    draw_sample(canvas, (0.0, 0.0, float(width * scale), float(height * scale)), style.class_of(key), kind, scale)
    info = skia.ImageInfo.Make(width * scale, height * scale, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
    out = np.empty((height * scale, width * scale, 4), np.uint8)
    surface.readPixels(info, out, width * scale * 4, 0, 0)
    return encode_palette_png(out) if palette else encode_png(out)
