"""The hazards layer's symbols as a MapLibre sprite, and the style layers that use it.

MapLibre draws a point as an icon from a sprite; riskmap has no glyph server, so a cluster's count and its badges'
numbers are icons too. Every icon is drawn by the PNG tiles' own code (riskmap.render.hazardtiles) at each symbol
size of layers/hazards.yaml, so a MapLibre map shows the hazards with the PNG tiles' very pixels: the same shapes,
fills, halos and clusters, and never a risk colour (the style loader checks the colours).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from riskmap.render.hazardtiles import HAZARDS, badge_offset, draw_badge, draw_cluster_disc, draw_symbol

MAX_COUNT = 99          # a cluster of more shows "99+" (its feature's `count` holds the number)
MAX_BADGE = 9           # a badge of more shows "9+" (`major_count`, `overdue_count`)
SHEET_WIDTH = 480       # CSS px: icons are packed in rows this wide


def _sizes(style: Any) -> list[float]:
    return sorted({float(px) for _, px in style.size})


def _draw(width: int, height: int, paint: Any) -> np.ndarray:
    import skia

    surface = skia.Surface(width, height)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorTRANSPARENT)
    paint(canvas)
    info = skia.ImageInfo.Make(width, height, skia.kRGBA_8888_ColorType, skia.kUnpremul_AlphaType)
    out = np.empty((height, width, 4), np.uint8)
    surface.readPixels(info, out, width * 4, 0, 0)
    return out


def _symbol_z(style: Any, px: float) -> int:
    """A zoom at which the symbol diameter is `px` (draw_symbol takes a zoom)."""
    return min(z for z in range(25) if style.size_at(z) == px)


def _number(n: int, top: int) -> str:
    return f"{top}+" if n > top else str(n)


def icons(style: Any, ratio: int) -> dict[str, np.ndarray]:
    """Every icon of the sprite at a pixel ratio, by name (see symbol_layers for the names)."""
    out: dict[str, np.ndarray] = {}
    for px in _sizes(style):
        z = _symbol_z(style, px)
        # the diamond's half-diagonal, the gap, then the halo ring and its casing (draw_symbol), and a pixel
        side = 2 * math.ceil(px / 2 * 1.2 + float(style.halo["gap"]) + float(style.halo["width"]) * 1.6 + 1)
        for level, level_code in (("major", 1), ("general", 0)):
            for group in style.groups:
                for overdue in (0, 1):
                    w = side * ratio
                    out[f"hazard-{level}-{group}-{overdue}-{px:g}"] = _draw(
                        w, w, lambda c, lc=level_code, g=group, o=overdue, zz=z, w=w:
                        draw_symbol(c, style, w / 2, w / 2, lc, g, bool(o), zz, ratio))
    disc = int(math.ceil(float(style.cluster["size"]))) + 2
    for n in [*range(2, MAX_COUNT + 1), MAX_COUNT + 1]:
        w = disc * ratio
        out[f"cluster-{_number(n, MAX_COUNT)}"] = _draw(
            w, w, lambda c, n=n, w=w: draw_cluster_disc(c, style, w / 2, w / 2, _number(n, MAX_COUNT), ratio))
    badge = 2 * 8
    for kind in ("major", "overdue"):
        for n in [*range(1, MAX_BADGE + 1), MAX_BADGE + 1]:
            w = badge * ratio
            out[f"badge-{kind}-{_number(n, MAX_BADGE)}"] = _draw(
                w, w, lambda c, k=kind, n=n, w=w: draw_badge(c, style, k, w / 2, w / 2, _number(n, MAX_BADGE), ratio))
    return out


def pack(images: dict[str, np.ndarray], ratio: int) -> tuple[np.ndarray, dict[str, dict[str, int]]]:
    """The icons in rows on one sheet, tallest first, and MapLibre's sprite index (device pixels)."""
    limit = SHEET_WIDTH * ratio
    order = sorted(images, key=lambda k: (-images[k].shape[0], k))
    index: dict[str, dict[str, int]] = {}
    x = y = row = 0
    for name in order:
        h, w = images[name].shape[:2]
        if x + w > limit:
            x, y, row = 0, y + row, 0
        index[name] = {"x": x, "y": y, "width": w, "height": h, "pixelRatio": ratio}
        x, row = x + w, max(row, h)
    sheet = np.zeros((y + row, limit, 4), np.uint8)
    for name, at in index.items():
        sheet[at["y"]:at["y"] + at["height"], at["x"]:at["x"] + at["width"]] = images[name]
    return sheet, index


_SPRITES: dict[tuple[str, int], tuple[bytes, bytes]] = {}


def _sheet_png(rgba: np.ndarray) -> bytes:
    """The sheet as an optimised PNG, every pixel as drawn (a palette would be a third of the bytes but moves the
    fills and the alpha by a step or two)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG", optimize=True)
    return out.getvalue()


def style_signature(style: Any) -> str:
    """What the sprite depends on: the style as JSON."""
    return json.dumps(style.to_json(), sort_keys=True)


def sprite(style: Any, ratio: int) -> tuple[bytes, bytes]:
    """The sprite sheet (PNG) and its index (JSON) at a pixel ratio, kept per style signature (a symbology file
    edited on the server makes a new one)."""
    key = (style_signature(style), ratio)
    found = _SPRITES.get(key)
    if found is None:
        sheet, index = pack(icons(style, ratio), ratio)
        found = (_sheet_png(sheet), json.dumps(index, separators=(",", ":")).encode())
        if len(_SPRITES) > 8:
            _SPRITES.clear()
        _SPRITES[key] = found
    return found


def _icon_image(style: Any, icon: list) -> list:
    """`icon` (an expression giving the name without its size) with the size of the zoom appended: a step over
    zoom, as the PNG tiles change symbol size."""
    steps = sorted(style.size)
    expr: list = ["step", ["zoom"], ["concat", icon, "-", f"{float(steps[0][1]):g}"]]
    for zoom, px in steps[1:]:
        expr += [zoom, ["concat", icon, "-", f"{float(px):g}"]]
    return expr


def legend(style: Any) -> list[dict[str, Any]]:
    """The layer's legend rows (HazardStyle.legend) with the fill drawn and the sprite icon that shows each."""
    big = f"{max(_sizes(style)):g}"
    out = []
    for row in style.legend():
        if row["key"] == "cluster":
            fill, icon = style.cluster["fill"], "cluster-5"
        else:
            level = "major" if int(row["level"]) == 1 else "general"
            fill = style.groups[row["group"]]["fill"]
            icon = f"hazard-{level}-{row['group']}-{int(bool(row['overdue']))}-{big}"
        out.append({"key": row["key"], "zh": row["zh"], "en": row["en"], "fill": fill, "icon": icon})
    return out


def symbol_layers(style: Any) -> list[dict[str, Any]]:
    """MapLibre layers of the hazards source: closed, awaiting acceptance and open hazards in that order (open on
    top, as the PNG tiles draw them), then clusters with their count and badges."""
    base = {"source": HAZARDS, "source-layer": HAZARDS, "minzoom": style.min_zoom}
    placed = {"icon-allow-overlap": True, "icon-ignore-placement": True}
    single = ["!", ["to-boolean", ["get", "cluster"]]]
    layers = []
    for group in sorted(style.groups, key=lambda g: {"closed": 0, "awaiting": 1, "open": 2}.get(g, 0)):
        icon = ["concat", "hazard-", ["case", ["==", ["to-number", ["get", "hazard_level"]], 1], "major", "general"],
                f"-{group}-", ["case", ["to-boolean", ["get", "overdue"]], "1", "0"]]
        layers.append({**base, "id": f"hazards-{group}", "type": "symbol",
                       "filter": ["all", single, ["==", ["get", "group"], group]],
                       "layout": {**placed, "icon-image": _icon_image(style, icon)}})
    cluster = ["to-boolean", ["get", "cluster"]]

    def counted(field: str, top: int) -> list:
        n = ["to-number", ["get", field]]
        return ["case", [">", n, top], f"{top}+", ["to-string", n]]

    layers.append({**base, "id": "hazards-clusters", "type": "symbol", "filter": cluster,
                   "layout": {**placed, "icon-image": ["concat", "cluster-", counted("count", MAX_COUNT)]}})
    dx, dy = badge_offset(style)
    for kind, field, sign in (("major", "major_count", 1), ("overdue", "overdue_count", -1)):
        layers.append({**base, "id": f"hazards-cluster-{kind}", "type": "symbol",
                       "filter": ["all", cluster, [">", ["to-number", ["get", field]], 0]],
                       "layout": {**placed, "icon-image": ["concat", f"badge-{kind}-", counted(field, MAX_BADGE)],
                                  "icon-offset": [round(sign * dx, 2), round(dy, 2)]}})
    return layers
