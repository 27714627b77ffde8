"""Draw order of the units layer: larger areas first, so a unit inside another is never hidden under it (PNG
pixels decoded), and MVT features listed in the same order, from the renderers and from the tile endpoint."""

from __future__ import annotations

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from riskmap.levels import Level, load_palette
from riskmap.render.grid import TMS, TileView, tile_view
from riskmap.render.mvt import encode_mvt
from riskmap.render.order import paint_passes, size_order
from riskmap.render.png import render_png
from riskmap.render.style import load_layer_style
from tests.test_render_png import decode, frac_box

PALETTE = load_palette()
LON, LAT = 118.80, 32.05


@pytest.fixture(scope="module")
def units():
    return load_layer_style("units")


def view_at(z: int) -> TileView:
    t = TMS.tile(LON, LAT, z)
    return tile_view(z, t.x, t.y)


def nearest(px: np.ndarray) -> str:
    def distance(level: Level) -> int:
        colour = PALETTE.colour(level)
        return sum(abs(int(colour[i:i + 2], 16) - int(v)) for i, v in zip((1, 3, 5), px[:3], strict=True))
    return min(Level, key=distance).value


def nested(view: TileView, child_first: bool = True) -> gpd.GeoDataFrame:
    """A major main unit holding a low sub-unit, which holds a significant equipment unit (given child first)."""
    rows = [("E1", "equipment", "significant", frac_box(view, 0.45, 0.45, 0.55, 0.55)),
            ("S1", "sub", "low", frac_box(view, 0.3, 0.3, 0.7, 0.7)),
            ("M1", "main", "major", frac_box(view, 0.1, 0.1, 0.9, 0.9))]
    if not child_first:
        rows.reverse()
    return gpd.GeoDataFrame({"id": [int(r[0][1:]) + 10 * i for i, r in enumerate(rows)],
                             "unit_id": [r[0] for r in rows], "kind": [r[1] for r in rows],
                             "level": [r[2] for r in rows]}, geometry=[r[3] for r in rows], crs=3857)


@pytest.mark.parametrize("child_first", [True, False])
def test_png_child_units_show_over_their_parents(units, child_first):
    view = view_at(17)
    px = decode(render_png(nested(view, child_first), view, units))
    assert nearest(px[128, 128]) == "significant"        # the equipment inside the sub-unit
    assert nearest(px[100, 100]) == "low"                # the sub-unit inside the main unit
    assert nearest(px[40, 40]) == "major"                # the main unit around them


def test_png_a_unit_drawn_with_its_parents_geometry_shows_the_child(units):
    """A unit without geometry of its own is drawn with its parent's: the deeper unit kind wins."""
    view = view_at(17)
    box = frac_box(view, 0.2, 0.2, 0.8, 0.8)
    for order in ([0, 1], [1, 0]):
        frame = gpd.GeoDataFrame({"kind": np.array(["sub", "main"])[order],
                                  "level": np.array(["general", "major"])[order]},
                                 geometry=[box, box], crs=3857)
        assert nearest(decode(render_png(frame, view, units))[128, 128]) == "general"


def test_png_small_units_inside_a_big_one_stay_visible_at_low_zoom(units):
    """At z15 a 3 m unit is under a pixel: drawn as a pixel of its colour on top of the unit around it."""
    view = view_at(15)
    minx, miny, maxx, maxy = view.bounds
    cx, cy = (minx + maxx) / 2 + 0.5, (miny + maxy) / 2 + 0.5
    frame = gpd.GeoDataFrame({"kind": ["equipment", "main"], "level": ["major", "low"]},
                             geometry=[shapely.box(cx - 1.5, cy - 1.5, cx + 1.5, cy + 1.5),
                                       frac_box(view, 0.2, 0.2, 0.8, 0.8)], crs=3857)
    px = decode(render_png(frame, view, units))
    col, row = int((cx - minx) / (maxx - minx) * 256), int((maxy - cy) / (maxy - miny) * 256)
    assert nearest(px[row, col]) == "major"
    assert nearest(px[row + 20, col + 20]) == "low"


def test_mvt_lists_units_larger_first(units):
    view = view_at(17)
    frame = nested(view, child_first=True)
    tile = mapbox_vector_tile.decode(encode_mvt({"units": frame}, view, size_ordered=("units",)))
    assert [f["properties"]["unit_id"] for f in tile["units"]["features"]] == ["M1", "S1", "E1"]
    plain = mapbox_vector_tile.decode(encode_mvt({"units": frame}, view))
    assert [f["properties"]["unit_id"] for f in plain["units"]["features"]] == ["E1", "S1", "M1"]


def test_size_order_and_paint_passes():
    big, mid, small = shapely.box(0, 0, 10, 10), shapely.box(2, 2, 8, 8), shapely.box(4, 4, 5, 5)
    far = shapely.box(20, 20, 21, 21)
    geoms = np.array([small, far, big, mid], dtype=object)
    order = size_order(geoms, np.array(["equipment", "post", "main", "sub"], dtype=object))
    assert order.tolist() == [2, 3, 0, 1]
    rank = np.empty(4, np.int64)
    rank[order] = np.arange(4)
    passes = paint_passes(shapely.bounds(geoms), rank, np.array([1, 1, 2, 3]))
    assert passes.tolist() == [2, 0, 0, 1]               # big, then mid over it, then small over mid
    alike = paint_passes(shapely.bounds(geoms), rank, np.array([1, 1, 1, 1]))
    assert alike.tolist() == [0, 0, 0, 0]                # one class: one pass, blended once
    equal = np.array([big, big], dtype=object)
    assert size_order(equal, np.array(["sub", "main"], dtype=object)).tolist() == [1, 0]


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory):
    from tests.test_tiles import load_demo_db, make_client

    return make_client(f"sqlite:///{load_demo_db(tmp_path_factory.mktemp('order'))}")


def test_units_vector_tiles_start_at_the_symbologys_vector_min_zoom(demo_client, units):
    """Below `vector_min_zoom` the units MVT is empty (and TileJSON says so), while PNG tiles still draw them."""
    first = units.mvt_min_zoom
    assert first > units.min_zoom
    doc = demo_client.get("/tiles/units/tilejson.json", params={"format": "mvt"}).json()
    assert doc["minzoom"] == first and doc["vector_layers"][0]["minzoom"] == first
    assert demo_client.get("/tiles/units/tilejson.json").json()["minzoom"] == units.min_zoom
    west, south, east, north = doc["bounds"]
    for z in (first - 1, first):
        t = TMS.tile((west + east) / 2, (south + north) / 2, z)
        mvt = demo_client.get(f"/tiles/units/{z}/{t.x}/{t.y}.mvt")
        png = decode(demo_client.get(f"/tiles/units/{z}/{t.x}/{t.y}.png").content)
        assert mvt.status_code == 200
        assert (mvt.content == b"") == (z < first)
        assert (png[..., 3] > 0).any()


def test_units_mvt_from_the_endpoint_lists_larger_units_first(demo_client):
    doc = demo_client.get("/tiles/units/tilejson.json", params={"format": "mvt"}).json()
    west, south, east, north = doc["bounds"]
    t = TMS.tile((west + east) / 2, (south + north) / 2, 17)
    tile = mapbox_vector_tile.decode(demo_client.get(f"/tiles/units/17/{t.x}/{t.y}.mvt").content)
    feats = tile["units"]["features"]
    shapes = [shapely.geometry.shape(f["geometry"]) for f in feats]
    whole = [g for g in shapes if g.bounds[0] >= 0 and g.bounds[1] >= 0 and max(g.bounds[2:]) <= 4096]
    areas = [g.area for g in whole]                      # features not clipped at the tile edge keep their area
    assert len(areas) > 3                                # (snapped to the 4096 grid: areas move a little)
    assert all(later <= earlier * 1.01 + 64 for earlier, later in zip(areas, areas[1:], strict=False))
    assert areas != sorted(areas)
