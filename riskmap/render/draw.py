"""Drawing primitives shared by the PNG tiles (riskmap.render.png) and the paper maps (riskmap.print.mapview):
skia paths built straight from coordinate arrays (no loop over features), polygon rings in a fill-rule-safe
winding, lines, strokes and colours. One implementation, so that a tile and a poster draw the same shapes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
import skia

from riskmap.render import fonts
from riskmap.render.geometry import LINEAR, POLYGON, ragged, rings_as_lines
from riskmap.render.style import PointSymbol, Stroke

# skia path verbs (skia.Path.Verb values, as its serialised path layout stores them)
MOVE, LINE_VERB, CONIC, CLOSE = 0, 1, 3, 5


def skia_colour(colour: str, opacity: float = 1.0) -> int:
    """A "#RRGGBB" colour with an opacity as skia's ARGB integer (tiles and prints share it)."""
    r, g, b = int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    return skia.ColorSetARGB(int(round(max(0.0, min(1.0, opacity)) * 255)), r, g, b)


def _serialise(points: np.ndarray, verbs: np.ndarray, weights: np.ndarray | None) -> bytes:
    """skia's in-memory path layout (version 5): counts, float32 points, conic weights, verbs, padding."""
    weights = np.zeros(0, "<f4") if weights is None else weights.astype("<f4", copy=False)
    head = np.array([5, len(points), len(weights), len(verbs)], "<i4").tobytes()
    pad = bytes(-len(verbs) % 4)
    return b"".join((head, np.ascontiguousarray(points, "<f4").tobytes(), weights.tobytes(),
                     verbs.astype(np.uint8, copy=False).tobytes(), pad))


def _serial_format_ok() -> bool:
    """Whether this skia reads paths in the layout `_serialise` writes (its docs say it may change)."""
    ref = skia.Path()
    ref.moveTo(1, 2)
    ref.lineTo(3, 4)
    ref.conicTo(5, 6, 7, 8, 0.5)
    ref.close()
    ours = _serialise(np.array([[1, 2], [3, 4], [5, 6], [7, 8]], np.float32),
                      np.array([MOVE, LINE_VERB, CONIC, CLOSE], np.uint8), np.array([0.5], np.float32))
    path = skia.Path()
    return bytes(ref.serialize()) == ours and path.readFromMemory(ours) == len(ours) and path == ref


_SERIAL_OK = _serial_format_ok()


def make_path(points: np.ndarray, verbs: np.ndarray, weights: np.ndarray | None = None) -> skia.Path:
    """A skia path from points and verbs (and conic weights), built in one call from serialised memory when skia's
    format is known, point by point otherwise."""
    path = skia.Path()
    if len(verbs) == 0:
        return path
    if _SERIAL_OK:
        data = _serialise(points, verbs, weights)
        if path.readFromMemory(data) == len(data):
            return path
    # Slow but format-independent fallback.
    pts = [skia.Point(float(x), float(y)) for x, y in np.asarray(points, np.float64)]
    w = [] if weights is None else [float(v) for v in weights]
    return skia.Path.Make(pts, [int(v) for v in verbs], w, skia.PathFillType.kWinding)


def ring_arrays(coords: np.ndarray, ring_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points and verbs of closed contours from a ragged ring array (each ring repeats its first point)."""
    lengths = np.diff(ring_offsets)
    ok = lengths >= 4
    if not ok.all():
        coords, lengths = coords[np.repeat(ok, lengths)], lengths[ok]
    if len(lengths) == 0:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.uint8)
    ends = np.cumsum(lengths)
    mask = np.ones(len(coords), bool)
    mask[ends - 1] = False                          # drop each closing point: Close joins back
    verbs = np.full(len(coords), LINE_VERB, np.uint8)  # each ring: n-1 points + Close = n verbs
    verbs[ends - lengths] = MOVE
    verbs[ends - 1] = CLOSE
    return coords[mask], verbs


def line_path(coords: np.ndarray, part_offsets: np.ndarray) -> skia.Path:
    """Line strings (coordinates split by part offsets) as one skia path; parts with fewer than two points are
    dropped."""
    lengths = np.diff(part_offsets)
    ok = lengths >= 2
    if not ok.all():
        coords, lengths = coords[np.repeat(ok, lengths)], lengths[ok]
    if len(lengths) == 0:
        return skia.Path()
    verbs = np.full(len(coords), LINE_VERB, np.uint8)
    verbs[np.cumsum(lengths) - lengths] = MOVE
    return make_path(coords, verbs)


def stroke_classes(canvas, geoms: np.ndarray, cls: np.ndarray, to_px, classes, scale: float) -> None:
    """Stroke lines (polygon rings as lines) sorted by class: one path per class, its casing under it; a tile
    and a print draw the same strokes."""
    coords, (part_off, geom_off) = ragged(rings_as_lines(geoms), 2)
    px = to_px(coords)
    for ci in np.unique(cls):
        c = classes[int(ci)]
        if c.line is None:
            continue
        g0, g1 = np.searchsorted(cls, ci, "left"), np.searchsorted(cls, ci, "right")
        p0, p1 = geom_off[g0], geom_off[g1]
        path = line_path(px[part_off[p0]:part_off[p1]], part_off[p0:p1 + 1] - part_off[p0])
        if c.casing is not None:
            canvas.drawPath(path, stroke_paint(c.line, scale, colour=c.casing.colour, widen=2 * c.casing.width))
        canvas.drawPath(path, stroke_paint(c.line, scale))


def stroke_paint(stroke: Stroke, scale: float, colour: str | None = None, widen: float = 0.0) -> skia.Paint:
    """The skia paint of a stroke at `scale` (px per CSS px); round joins and caps, butt caps when dashed so that
    dashes keep their length; `widen` adds to the width (casings)."""
    paint = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=skia_colour(colour or stroke.colour),
                       StrokeWidth=(stroke.width + widen) * scale, StrokeJoin=skia.Paint.kRound_Join,
                       StrokeCap=skia.Paint.kRound_Cap)
    if stroke.dash:
        paint.setPathEffect(skia.DashPathEffect.Make([d * scale for d in stroke.dash], 0.0))
        paint.setStrokeCap(skia.Paint.kButt_Cap)
    return paint


class Rings:
    """Polygons of one kind (plain, or with holes / several parts) as pixel rings, sorted by (group, outlined);
    a group is a class, or a class within a paint pass."""

    def __init__(self, px, ring_off, part_off, geom_off, group, outlined):
        self.px, self.ring_off, self.part_off, self.geom_off = px, ring_off, part_off, geom_off
        self.group, self.outlined = group, outlined

    def contours(self, gi: int, outlined_only: bool) -> tuple[np.ndarray, np.ndarray]:
        """The pixel rings of group `gi` (only its outlined features when `outlined_only`), as points and verbs for
        make_path."""
        g0, g1 = np.searchsorted(self.group, gi, "left"), np.searchsorted(self.group, gi, "right")
        if outlined_only:
            g0 = g1 - int(self.outlined[g0:g1].sum())      # outlined ones sort last within a class
        r0, r1 = self.part_off[self.geom_off[g0]], self.part_off[self.geom_off[g1]]
        c0, c1 = self.ring_off[r0], self.ring_off[r1]
        return ring_arrays(self.px[c0:c1], self.ring_off[r0:r1 + 1] - c0)


def ring_groups(geoms, cls, outlined, to_px) -> list[Rings]:
    """Plain polygons (one ring: most plant features) take a fast path without ring objects; the others go
    through shapely's ragged arrays. Each keeps the (class, outlined) order, which the input must have (sorted by
    class, outlined ones last within a class: Rings.contours finds them by binary search); `to_px` maps (n, 2)
    map coordinates to device units (tile pixels, or points on paper)."""
    plain = (shapely.get_type_id(geoms) == POLYGON) & (shapely.get_num_interior_rings(geoms) == 0)
    groups = []
    if plain.any():
        coords, index = shapely.get_coordinates(geoms[plain], return_index=True)
        n = int(plain.sum())
        off = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(index, minlength=n), out=off[1:])
        steps = np.arange(n + 1, dtype=np.int64)
        px = orient_rings(to_px(coords), off, steps)
        groups.append(Rings(px, off, steps, steps, cls[plain], outlined[plain]))
    if not plain.all():
        other = ~plain
        coords, (ring_off, part_off, geom_off) = ragged(geoms[other], 3)
        px = orient_rings(to_px(coords), ring_off, part_off)
        groups.append(Rings(px, ring_off, part_off, geom_off, cls[other], outlined[other]))
    return groups


def concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Points and verbs of several paths joined into one (the single part returned as is)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p for p, _ in parts]), np.concatenate([v for _, v in parts])


def orient_rings(px: np.ndarray, ring_off: np.ndarray, part_off: np.ndarray) -> np.ndarray:
    """Exterior rings one way round, holes the other, so that with the non-zero rule overlapping features of
    one class stay filled and holes stay empty (sources give rings either way round)."""
    n = len(ring_off) - 1
    if n == 0:
        return px
    ring_of = np.repeat(np.arange(n), np.diff(ring_off))
    x, y = px[:, 0].astype(np.float64), px[:, 1].astype(np.float64)
    nxt = np.arange(1, len(px) + 1)
    nxt[-1] = 0                                  # closed rings: the wrap-around term is zero anyway
    cross = x * y[nxt] - x[nxt] * y
    last = ring_off[1:] - 1
    cross[last[last >= 0]] = 0.0                 # no term from a ring's last point to the next ring
    area = np.bincount(ring_of, weights=cross, minlength=n)
    exterior = np.zeros(n, bool)
    exterior[part_off[:-1][np.diff(part_off) > 0]] = True
    flip = np.where(exterior, area < 0, area > 0)
    if not flip.any():
        return px
    idx = np.arange(len(px))
    f = flip[ring_of]
    r = ring_of[f]
    idx[f] = ring_off[r] + ring_off[r + 1] - 1 - idx[f]
    return px[idx]


# ------------------------------------------------------------------------------ marked symbols, arrows
# Emergency features (riskmap.geo.model.EMERGENCY_ROLES) are drawn as a shape with one character in it and
# escape routes as lines with arrowheads; tiles and prints call these same functions, so both draw the same.

_MARK_REF = 100.0          # marks are outlined once at this size and scaled


@lru_cache(maxsize=64)
def _mark_outline(mark: str) -> tuple[skia.Path, float, float]:
    """The character as a glyph outline at _MARK_REF px, and its box's centre: drawn as a path, so a PDF needs no
    font for it and a tile and a poster show the same shape."""
    font = fonts.label_font(_MARK_REF)
    glyphs = font.textToGlyphs(mark)
    path = skia.Path()
    x = 0.0
    for glyph, advance in zip(glyphs, font.getWidths(glyphs), strict=True):
        outline = font.getPath(glyph)
        if outline is not None:
            path.addPath(outline, x, 0.0)
        x += advance
    box = path.computeTightBounds()
    return path, (box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2


def shape_path(shape: str, cx: float, cy: float, r: float) -> skia.Path:
    """A symbol shape of radius r (half its width) centred on (cx, cy), y down."""
    path = skia.Path()
    if shape == "square":
        path.addRect(skia.Rect(cx - r, cy - r, cx + r, cy + r))
    elif shape == "triangle":
        path.addPoly([skia.Point(cx, cy - 1.1 * r), skia.Point(cx + 1.1 * r, cy + 0.85 * r),
                      skia.Point(cx - 1.1 * r, cy + 0.85 * r)], True)
    elif shape == "diamond":
        path.addPoly([skia.Point(cx, cy - 1.2 * r), skia.Point(cx + 1.2 * r, cy), skia.Point(cx, cy + 1.2 * r),
                      skia.Point(cx - 1.2 * r, cy)], True)
    elif shape == "hexagon":
        k = np.arange(6) * np.pi / 3
        path.addPoly([skia.Point(float(cx + 1.08 * r * np.cos(a)), float(cy + 1.08 * r * np.sin(a))) for a in k],
                     True)
    else:
        path.addCircle(cx, cy, r)
    return path


def draw_marked_points(canvas, xy: np.ndarray, symbol: PointSymbol, diameter: float, scale: float,
                       fill: bool = True, outline: bool = True) -> None:
    """Shaped point symbols with their character at device positions `xy`: fill, outline, then the mark (its
    height about half the symbol's, a little lower in a triangle so it sits in the wide part)."""
    r = diameter / 2
    if r <= 0 or not len(xy):
        return
    fill_paint = skia.Paint(AntiAlias=True, Color=skia_colour(symbol.fill)) if fill and symbol.fill else None
    line_paint = stroke_paint(symbol.outline, scale) if outline and symbol.outline is not None else None
    mark_paint = skia.Paint(AntiAlias=True, Color=skia_colour(symbol.mark_colour)) \
        if fill and symbol.mark else None
    mark = None
    if mark_paint is not None:
        path, mx, my = _mark_outline(symbol.mark)
        k = diameter * (0.5 if symbol.shape in ("triangle", "diamond") else 0.62) / _MARK_REF
        mark = (path, mx, my, k, 0.3 * r if symbol.shape == "triangle" else 0.0)
    for x, y in np.asarray(xy, np.float64).tolist():
        shape = shape_path(symbol.shape, x, y, r)
        if fill_paint is not None:
            canvas.drawPath(shape, fill_paint)
        if line_paint is not None:
            canvas.drawPath(shape, line_paint)
        if mark is not None:
            path, mx, my, k, dy = mark
            canvas.save()
            canvas.translate(x, y + dy)
            canvas.scale(k, k)
            canvas.translate(-mx, -my)
            canvas.drawPath(path, mark_paint)
            canvas.restore()


def arrow_heads(px: np.ndarray, part_offsets: np.ndarray, spacing: float, size: float) -> skia.Path:
    """Arrowheads along lines given as device coordinates split by part offsets: one every `spacing` device
    units of line, the first half a spacing from the start (one at the middle of a line shorter than that),
    each pointing the way the vertices run."""
    path = skia.Path()
    for p0, p1 in zip(part_offsets[:-1].tolist(), part_offsets[1:].tolist(), strict=True):
        pts = np.asarray(px[p0:p1], np.float64)
        if len(pts) < 2:
            continue
        seg = np.diff(pts, axis=0)
        lengths = np.hypot(seg[:, 0], seg[:, 1])
        total = float(lengths.sum())
        if total <= 0:
            continue
        at = np.arange(spacing / 2, total, spacing) if total >= spacing else np.array([total / 2])
        cum = np.concatenate([[0.0], np.cumsum(lengths)])
        idx = np.clip(np.searchsorted(cum, at, side="right") - 1, 0, len(seg) - 1)
        idx = np.where(lengths[idx] > 0, idx, np.argmax(lengths))
        t = (at - cum[idx]) / np.where(lengths[idx] > 0, lengths[idx], 1.0)
        tips = pts[idx] + seg[idx] * t[:, None]
        d = seg[idx] / lengths[idx][:, None]
        n = np.column_stack([-d[:, 1], d[:, 0]])
        tips = tips + d * size / 2
        back = tips - d * size
        for tip, b, nn in zip(tips.tolist(), back.tolist(), n.tolist(), strict=True):
            half = size * 0.45
            path.addPoly([skia.Point(*tip), skia.Point(b[0] + nn[0] * half, b[1] + nn[1] * half),
                          skia.Point(b[0] - nn[0] * half, b[1] - nn[1] * half)], True)
    return path


def draw_arrows(canvas, geoms: np.ndarray, cls: np.ndarray, to_px, classes, scale: float) -> None:
    """The arrowheads of the classes that have them, along their lines (polygon rings included) in vertex order;
    `scale` is device units per CSS px."""
    for ci in np.unique(cls):
        arrows = classes[int(ci)].arrows
        if arrows is None:
            continue
        mine = geoms[cls == ci]
        lines = mine[np.isin(shapely.get_type_id(mine), LINEAR)]
        if not len(lines):
            continue
        coords, (part_off, _) = ragged(rings_as_lines(lines), 2)
        path = arrow_heads(to_px(coords), part_off, arrows.spacing * scale, arrows.size * scale)
        canvas.drawPath(path, skia.Paint(AntiAlias=True, Color=skia_colour(arrows.colour)))


def draw_sample(canvas, rect: tuple[float, float, float, float], cls, kind: str, scale: float) -> None:
    """One sample of a class as a legend shows it, drawn by the map's own primitives: a point symbol in the middle
    of `rect` (device units), a line across it (with its casing and arrowheads), or an area's outline."""
    x0, y0, x1, y1 = rect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if kind == "point":
        sym = cls.point
        diameter = min(sym.size * scale, (y1 - y0) * 0.95, (x1 - x0) * 0.95)
        if sym.plain:
            if sym.fill:
                canvas.drawCircle(cx, cy, diameter / 2, skia.Paint(AntiAlias=True, Color=skia_colour(sym.fill)))
            if sym.outline is not None:
                canvas.drawCircle(cx, cy, diameter / 2, stroke_paint(sym.outline, scale))
        else:
            draw_marked_points(canvas, np.array([[cx, cy]]), sym, diameter, scale)
    elif kind == "line":
        line = np.array([shapely.LineString([(x0 + 1 * scale, cy), (x1 - 1 * scale, cy)])], dtype=object)
        one = np.zeros(1, np.int64)

        def same(coords: np.ndarray) -> np.ndarray:
            return np.asarray(coords, np.float32)

        stroke_classes(canvas, line, one, same, [cls], scale)
        if cls.arrows is not None:
            path = arrow_heads(same(shapely.get_coordinates(line)), np.array([0, 2]), (x1 - x0) * 2,
                               cls.arrows.size * scale)
            canvas.drawPath(path, skia.Paint(AntiAlias=True, Color=skia_colour(cls.arrows.colour)))
    elif cls.outline is not None:
        canvas.drawRect(skia.Rect(x0 + 2 * scale, y0 + 2 * scale, x1 - 2 * scale, y1 - 2 * scale),
                        stroke_paint(cls.outline, scale))
