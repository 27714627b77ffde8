"""Tiles of the regulator's overview: the enterprises of a scope as points coloured by their highest region level,
drawn by the same renderers and the same symbology (layers/enterprises.yaml, levels.yaml) as every other layer.
Reads rows riskmap.store.orgs.overview answered; writes nothing."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import shapely
from pyproj import Transformer

from riskmap.render.mvt import encode_mvt
from riskmap.render.png import render_png
from riskmap.render.style import load_layer_style

LAYER = "enterprises"
_TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)


def enterprise_points(rows: Sequence[dict]) -> gpd.GeoDataFrame:
    """The located enterprises as points in EPSG:3857 with name, level and the overview's counts."""
    located = [r for r in rows if r.get("lon") is not None and r.get("lat") is not None]
    xs, ys = _TO_3857.transform([r["lon"] for r in located], [r["lat"] for r in located])
    counts = ("major_risks", "significant_risks", "open_major_hazards", "open_general_hazards",
              "overdue_major_hazards", "overdue_general_hazards", "listed_supervisions")
    data = {k: [r.get(k) for r in located] for k in ("name", "division_code", "park")}
    data.update({k: [int(r.get(k) or 0) for r in located] for k in counts})
    data["level"] = [r.get("highest_level") for r in located]
    return gpd.GeoDataFrame(data, geometry=shapely.points(xs, ys) if located else [], crs=3857)


def _clipped(points: gpd.GeoDataFrame, tile: tuple[int, int, int], margin: float = 0.25) -> gpd.GeoDataFrame:
    """The points in the tile and a margin around it (a symbol or label near the edge), by their coordinates."""
    import morecantile

    from riskmap.render.grid import TMS  # made once: morecantile.tms.get copies the matrix set each call

    b = TMS.xy_bounds(morecantile.Tile(tile[1], tile[2], tile[0]))
    pad = (b.right - b.left) * margin
    if points.empty:
        return points
    xs, ys = shapely.get_x(points.geometry.values), shapely.get_y(points.geometry.values)
    keep = (xs >= b.left - pad) & (xs <= b.right + pad) & (ys >= b.bottom - pad) & (ys <= b.top + pad)
    return points[keep]


def overview_png(points: gpd.GeoDataFrame, tile: tuple[int, int, int], scale: int = 1) -> bytes:
    """One PNG tile of the enterprises (`points` from enterprise_points)."""
    return render_png(_clipped(points, tile), tile, load_layer_style(LAYER), scale=scale)


def overview_mvt(points: gpd.GeoDataFrame, tile: tuple[int, int, int]) -> bytes:
    """One vector tile with the layer `enterprises` (rank and colour per feature, as every styled layer)."""
    return encode_mvt({LAYER: _clipped(points, tile)}, tile, styles={LAYER: load_layer_style(LAYER)})
