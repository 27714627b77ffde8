"""The XYZ tile grid (WebMercatorQuad, EPSG:3857, 256 px): which tiles exist and what area each covers.

All tile math is morecantile's; this module only names what the renderers and the tile router need.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import morecantile

from riskmap.errors import NotFoundError

TMS = morecantile.tms.get("WebMercatorQuad")
TILE_SIZE = 256                 # CSS px of one tile at @1x
MIN_ZOOM, MAX_ZOOM = 0, 24
MVT_EXTENT = 4096
MVT_BUFFER = 256                # in extent units: 1/16 of a tile, 16 px


@dataclass(frozen=True)
class TileView:
    """A block of nx × ny tiles at zoom z whose top-left tile is (x, y); one XYZ tile when nx = ny = 1.

    Larger views draw exactly what the tiles they cover would draw side by side (used by tests and prints).
    """

    z: int
    x: int
    y: int
    nx: int = 1
    ny: int = 1

    @property
    def tile(self) -> morecantile.Tile:
        """The top-left tile as a morecantile Tile."""
        return morecantile.Tile(self.x, self.y, self.z)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in EPSG:3857 metres."""
        return _view_bounds(self.z, self.x, self.y, self.nx, self.ny)

    @property
    def width_px(self) -> int:
        """Width at @1x; a renderer multiplies by its scale."""
        return TILE_SIZE * self.nx

    @property
    def height_px(self) -> int:
        """Height at @1x; a renderer multiplies by its scale."""
        return TILE_SIZE * self.ny

    @property
    def metres_per_px(self) -> float:
        """EPSG:3857 metres per CSS px (@1x)."""
        minx, _, maxx, _ = self.bounds
        return (maxx - minx) / self.width_px

    @property
    def world_origin_px(self) -> tuple[int, int]:
        """The view's top-left corner in world pixels at @1x (tile x·256, y·256): labels and patterns are placed
        on this global pixel grid so that neighbouring tiles agree."""
        return self.x * TILE_SIZE, self.y * TILE_SIZE

    def buffered_bounds(self, buffer_px: float = 0.0) -> tuple[float, float, float, float]:
        """The bounds grown by `buffer_px` CSS px on every side, in EPSG:3857."""
        minx, miny, maxx, maxy = self.bounds
        pad = buffer_px * self.metres_per_px
        return minx - pad, miny - pad, maxx + pad, maxy + pad

    def lonlat_bounds(self, buffer_px: float = 0.0) -> tuple[float, float, float, float]:
        """(west, south, east, north) in EPSG:4326 for data queries, grown by `buffer_px` CSS px."""
        minx, miny, maxx, maxy = self.buffered_bounds(buffer_px)
        lim = TMS.xy_bbox
        minx, maxx = max(minx, lim.left), min(maxx, lim.right)
        miny, maxy = max(miny, lim.bottom), min(maxy, lim.top)
        west, south = TMS.lnglat(minx, miny)
        east, north = TMS.lnglat(maxx, maxy)
        if maxx >= lim.right:          # lnglat wraps +180 to -180
            east = 180.0
        return west, south, east, north

    def key(self) -> str:
        """The view's name, z/x/y (+NxM for a block), as used in ETags and caches."""
        return f"{self.z}/{self.x}/{self.y}" + (f"+{self.nx}x{self.ny}" if (self.nx, self.ny) != (1, 1) else "")


@lru_cache(maxsize=4096)
def _view_bounds(z: int, x: int, y: int, nx: int, ny: int) -> tuple[float, float, float, float]:
    top_left = TMS.xy_bounds(morecantile.Tile(x, y, z))
    bottom_right = TMS.xy_bounds(morecantile.Tile(x + nx - 1, y + ny - 1, z))
    return top_left.left, bottom_right.bottom, bottom_right.right, top_left.top


def _as_int(value: object, name: str) -> int:
    try:
        number = operator.index(value) if not isinstance(value, str) else int(value.strip())
    except (TypeError, ValueError):
        raise NotFoundError(f"瓦片坐标 {name}={str(value)[:32]!s} 不是整数 / tile {name} is not an integer") from None
    return number


def tile_view(z: object, x: object, y: object, nx: int = 1, ny: int = 1) -> TileView:
    """A valid tile (or block) of the grid; anything outside it → NotFoundError (HTTP 404)."""
    zi, xi, yi = _as_int(z, "z"), _as_int(x, "x"), _as_int(y, "y")
    if not MIN_ZOOM <= zi <= MAX_ZOOM:
        raise NotFoundError(f"缩放级别 {zi} 超出 {MIN_ZOOM}–{MAX_ZOOM} / zoom {zi} is outside {MIN_ZOOM}–{MAX_ZOOM}")
    if nx < 1 or ny < 1:
        raise NotFoundError("视图至少一块瓦片 / a view covers at least one tile")
    for tx, ty in ((xi, yi), (xi + nx - 1, yi + ny - 1)):
        if not TMS.is_valid(morecantile.Tile(tx, ty, zi)):
            size = 2 ** zi
            raise NotFoundError(f"瓦片 {zi}/{tx}/{ty} 不存在（该级别 x、y 应在 0–{size - 1}）/ tile {zi}/{tx}/{ty} "
                                f"is outside the grid (x and y must be 0–{size - 1} at zoom {zi})")
    return TileView(zi, xi, yi, nx, ny)


def as_view(tile: object) -> TileView:
    """Accept a TileView, a morecantile.Tile, or a (z, x, y) triple."""
    if isinstance(tile, TileView):
        return tile
    if isinstance(tile, morecantile.Tile):
        return tile_view(tile.z, tile.x, tile.y)
    try:
        z, x, y = tile  # type: ignore[misc]
    except (TypeError, ValueError):
        raise NotFoundError(f"无法识别的瓦片 {str(tile)[:40]} / not a tile: expected (z, x, y)") from None
    return tile_view(z, x, y)


def mvt_buffer_px(extent: int = MVT_EXTENT, buffer: int = MVT_BUFFER) -> float:
    """The MVT buffer in CSS px, for the data query of a vector tile."""
    return buffer * TILE_SIZE / extent


def render_buffer_px(z: int, styles: Iterable) -> float:
    """How far beyond a PNG tile (CSS px) the data query must reach: symbols (point circles, strokes) of
    features just outside the tile overhang its edge. Labels need nothing more: each is drawn by the tile
    that holds its anchor, inside that tile."""
    reach = 2.0
    for style in styles:
        if style.visible(z):
            reach = max(reach, style.max_draw_px() + 2.0)
    return reach
