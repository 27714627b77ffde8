"""The map never shows a lower colour than the data (issue 10): draw order, opaque colours, drawn units, MVT ranks.

The ground truth of these tests is computed here, independently of the renderers: every unit located by its own
shape, its attached feature (by fid) or its nearest ancestor's, with its own level. A pixel inside units must read
as exactly the highest level among the units there; a region pixel as its region's level, never below a unit.
"""

from __future__ import annotations

import random

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from kit import LAT, LON, frac_box, hex_rgb, load_demo_db, make_client, mvt, pixel_centres, rgba, view_at

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.levels import Level
from riskmap.render.grid import TMS, TileView, tile_view
from riskmap.render.mvt import encode_mvt
from riskmap.render.order import draw_order
from riskmap.render.png import render_png
from riskmap.render.style import load_layer_style
from riskmap.store.flags import COMPUTED_REASONS
from riskmap.store.mapdata import drawn_units, to_mercator

LEVELS = [None, Level.LOW, Level.GENERAL, Level.SIGNIFICANT, Level.MAJOR]


@pytest.fixture(scope="module")
def units_style():
    return load_layer_style("units")


@pytest.fixture(scope="module")
def regions_style():
    return load_layer_style("regions")


def classes_of(px: np.ndarray, style) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's nearest class of the style (by fill colour) and its colour distance to it."""
    fills = np.array([hex_rgb(c.fill) for c in style.classes])
    rgb = px[..., :3].reshape(-1, 3).astype(int)
    dist = np.abs(rgb[:, None, :] - fills[None, :, :]).sum(axis=2)
    return dist.argmin(axis=1), dist.min(axis=1)


def check_pixels(px: np.ndarray, view: TileView, geoms: np.ndarray, ranks: np.ndarray, style,
                 point_reach_px: float = 0.0) -> int:
    """Every pixel inside the shapes (away from their edges and from point symbols) shows exactly the class of the
    highest rank among the shapes that hold it; returns how many pixels were checked."""
    centres = pixel_centres(view)
    points = shapely.points(centres)
    mpp = (view.bounds[2] - view.bounds[0]) / 256
    areas = shapely.area(geoms) > 0
    tree = shapely.STRtree(geoms[areas])
    pi, gi = tree.query(points, predicate="within")
    expected = np.full(len(points), -1)
    np.maximum.at(expected, pi, ranks[areas][gi])
    edges = np.concatenate([shapely.boundary(geoms[areas]), geoms[~areas]])
    near_edge = np.zeros(len(points), bool)
    if len(edges):
        reach = np.where(np.arange(len(edges)) < areas.sum(), 2.5 * mpp, (point_reach_px + 2.5) * mpp)
        etree = shapely.STRtree(edges)
        for d in np.unique(reach):
            sel = np.flatnonzero(reach == d)
            hit, _ = shapely.STRtree(edges[sel]).query(points, predicate="dwithin", distance=d)
            near_edge[hit] = True
        del etree
    inside = (expected >= 0) & ~near_edge
    cls, dist = classes_of(px, style)
    alpha = px[..., 3].ravel()
    bad = inside & ((alpha != 255) | (dist > 6) | (cls != expected))
    assert not bad.any(), (f"{int(bad.sum())} of {int(inside.sum())} pixels differ at z{view.z}/{view.x}/{view.y}: "
                           f"expected {expected[bad][:5]}, drawn {cls[bad][:5]} (distance {dist[bad][:5]})")
    return int(inside.sum())


# ------------------------------------------------------------------------------------- renderer, no database


def nested(view: TileView, child_first: bool = True) -> gpd.GeoDataFrame:
    """A major main unit holding a low sub-unit, which holds a significant equipment unit."""
    rows = [("E1", "equipment", "significant", frac_box(view, 0.45, 0.45, 0.55, 0.55)),
            ("S1", "sub", "low", frac_box(view, 0.3, 0.3, 0.7, 0.7)),
            ("M1", "main", "major", frac_box(view, 0.1, 0.1, 0.9, 0.9))]
    if not child_first:
        rows.reverse()
    return gpd.GeoDataFrame({"id": list(range(1, 4)), "unit_id": [r[0] for r in rows], "kind": [r[1] for r in rows],
                             "level": [r[2] for r in rows]}, geometry=[r[3] for r in rows], crs=3857)


@pytest.mark.parametrize("child_first", [True, False])
def test_png_a_place_shows_the_highest_level_drawn_there(units_style, child_first):
    view = view_at(17)
    px = rgba(render_png(nested(view, child_first), view, units_style))
    cls, _ = classes_of(px, units_style)
    cls = cls.reshape(256, 256)
    major = units_style.rank_of("major")
    assert cls[128, 128] == cls[100, 100] == cls[40, 40] == major     # all inside the major main unit


def test_png_a_higher_unit_inside_a_lower_one_shows(units_style):
    view = view_at(17)
    frame = gpd.GeoDataFrame({"kind": ["main", "sub"], "level": ["low", "major"]},
                             geometry=[frac_box(view, 0.1, 0.1, 0.9, 0.9), frac_box(view, 0.4, 0.4, 0.6, 0.6)],
                             crs=3857)
    cls, _ = classes_of(rgba(render_png(frame, view, units_style)), units_style)
    cls = cls.reshape(256, 256)
    assert cls[128, 128] == units_style.rank_of("major") and cls[40, 40] == units_style.rank_of("low")


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_png_identical_shapes_show_the_highest_whatever_their_order(units_style, order):
    view = view_at(17)
    box = frac_box(view, 0.2, 0.2, 0.8, 0.8)
    frame = gpd.GeoDataFrame({"kind": np.array(["main", "post"])[order], "level": np.array(["major", "low"])[order]},
                             geometry=[box, box], crs=3857)
    cls, _ = classes_of(rgba(render_png(frame, view, units_style)), units_style)
    assert cls.reshape(256, 256)[128, 128] == units_style.rank_of("major")


def test_png_tiny_and_point_units_never_lower_a_place(units_style):
    """At z15 a 3 m unit is under a pixel and a point is a few pixels: a low one inside a major area is hidden, a
    major one inside a low area shows."""
    view = view_at(15)
    minx, miny, maxx, maxy = view.bounds
    cy = (miny + maxy) / 2 + 0.5
    big_major = frac_box(view, 0.05, 0.05, 0.45, 0.95)
    big_low = frac_box(view, 0.55, 0.05, 0.95, 0.95)
    w = (maxx - minx) / 256
    lx, rx = minx + 0.25 * (maxx - minx), minx + 0.75 * (maxx - minx)
    frame = gpd.GeoDataFrame({
        "kind": ["main", "main", "equipment", "equipment", "equipment", "equipment"],
        "level": ["major", "low", "low", "major", "low", "major"]},
        geometry=[big_major, big_low, shapely.box(lx - 1.5, cy - 1.5, lx + 1.5, cy + 1.5),
                  shapely.box(rx - 1.5, cy - 1.5, rx + 1.5, cy + 1.5), shapely.Point(lx, cy + 40 * w),
                  shapely.Point(rx, cy + 40 * w)], crs=3857)
    cls, _ = classes_of(rgba(render_png(frame, view, units_style)), units_style)
    cls = cls.reshape(256, 256)
    row, row_pt = int((maxy - cy) / w), int((maxy - cy - 40 * w) / w)
    major, low = units_style.rank_of("major"), units_style.rank_of("low")
    assert cls[row, int((lx - minx) / w)] == major                 # the low 3 m unit does not punch the major area
    assert cls[row, int((rx - minx) / w)] == major                 # the major 3 m unit shows in the low area
    assert cls[row_pt, int((lx - minx) / w)] == major              # a low point in a major area: still major
    assert cls[row_pt, int((rx - minx) / w)] == major              # a major point in a low area: major
    assert cls[row + 20, int((rx - minx) / w)] == low


def test_mvt_lists_features_by_rank_with_rank_and_colour(units_style):
    view = view_at(17)
    frame = nested(view, child_first=True)
    tile = mvt(encode_mvt({"units": frame}, view, styles={"units": units_style}))
    feats = tile["units"]["features"]
    assert [f["properties"]["unit_id"] for f in feats] == ["S1", "E1", "M1"]     # low, significant, major
    assert [f["properties"]["rank"] for f in feats] == [1, 3, 4]
    assert [f["properties"]["colour"] for f in feats] == [units_style.class_of(k).fill
                                                         for k in ("low", "significant", "major")]
    plain = mvt(encode_mvt({"units": frame}, view))                 # no style: the caller's order, no extras
    assert [f["properties"]["unit_id"] for f in plain["units"]["features"]] == ["E1", "S1", "M1"]
    assert "rank" not in plain["units"]["features"][0]["properties"]


def test_draw_order_by_class_then_larger_first_then_depth():
    big, mid, small = shapely.box(0, 0, 10, 10), shapely.box(2, 2, 8, 8), shapely.box(4, 4, 5, 5)
    geoms = np.array([small, big, mid, big], dtype=object)
    order = draw_order(np.array([2, 2, 2, 2]), geoms, np.array(["equipment", "sub", "post", "main"], dtype=object))
    assert order.tolist() == [3, 1, 2, 0]                           # equal areas: main before sub
    assert draw_order(np.array([4, 1, 1, 1]), geoms).tolist() == [1, 3, 2, 0]   # the major small one last


def test_legend_swatch_is_the_colour_drawn(regions_style, units_style):
    """What a legend shows for a level is exactly the tile's pixel for it, on each layer."""
    view = view_at(17)
    for style in (regions_style, units_style):
        for key in ("major", "significant", "general", "low", "none"):
            frame = gpd.GeoDataFrame({"level": [None if key == "none" else key]},
                                     geometry=[frac_box(view, 0.1, 0.1, 0.9, 0.9)], crs=3857)
            px = rgba(render_png(frame, view, style, labels=False))
            legend = next(e for e in style.legend() if e["key"] == key)
            assert tuple(px[128, 128]) == (*hex_rgb(legend["fill"]), 255), (style.name, key)


# ------------------------------------------------------------------------------------- drawn units


def unit(uid: str, kind: str, level: Level | None, parent: str | None = None, geometry=None) -> AssessmentUnit:
    events = [RiskEvent("e", residual_level=level)] if level is not None else []
    return AssessmentUnit(id=uid, name=uid, kind=UnitKind(kind), parent_id=parent, geometry=geometry, events=events)


def test_a_unit_without_a_shape_is_not_drawn_again_but_raises_its_ancestors_shape():
    area = shapely.box(120, 30, 120.001, 30.001)
    tree = [unit("M", "main", Level.LOW, geometry=area), unit("S", "sub", None, "M"),
            unit("P", "post", Level.MAJOR, "S"), unit("A", "activity", Level.GENERAL, "M")]
    frame = drawn_units(tree)
    assert frame["key"].tolist() == ["M"]                          # one shape, drawn once
    row = frame.iloc[0]
    assert row["level"] == "major" and row["decided_by"] == "P"
    assert dict(p.split(":") for p in row["members"].split(",")) == {"low": "1", "none": "1", "major": "1",
                                                                   "general": "1"}


def test_units_attached_to_one_feature_are_one_shape_owned_by_the_shallowest():
    area = shapely.box(120, 30, 120.001, 30.001)
    tree = [unit("M", "main", Level.GENERAL), unit("X", "post", Level.SIGNIFICANT, "M", geometry=area),
            unit("S", "sub", Level.LOW, "M", geometry=area)]
    frame = drawn_units(tree)
    assert frame["key"].tolist() == ["S"] and frame.iloc[0]["level"] == "significant"


def deep_plant(seed: int, depth: int = 5) -> list[AssessmentUnit]:
    """A generated unit tree: nested boxes several levels deep, random levels, and at every level units without
    a shape of their own (posts and activities located by their ancestors)."""
    rnd = random.Random(seed)
    kinds = ["main", "sub", "subsub", "post", "equipment"]
    out: list[AssessmentUnit] = []

    def grow(parent: AssessmentUnit | None, box: tuple[float, float, float, float], level: int) -> None:
        x0, y0, x1, y1 = box
        for k in range(rnd.randint(1, 3)):
            w, h = (x1 - x0), (y1 - y0)
            fx0, fy0 = rnd.uniform(0.05, 0.45), rnd.uniform(0.05, 0.45)
            fx1, fy1 = rnd.uniform(fx0 + 0.15, 0.95), rnd.uniform(fy0 + 0.15, 0.95)
            child_box = (x0 + fx0 * w, y0 + fy0 * h, x0 + fx1 * w, y0 + fy1 * h)
            uid = f"{parent.id if parent else 'U'}.{k}"
            shaped = rnd.random() < 0.7 or level == 0
            u = unit(uid, kinds[min(level, 4)], rnd.choice(LEVELS), parent.id if parent else None,
                     shapely.box(*child_box) if shaped else None)
            out.append(u)
            if rnd.random() < 0.5:
                out.append(unit(uid + ".p", "post", rnd.choice(LEVELS), uid))
            if level + 1 < depth:
                grow(u, child_box if shaped else box, level + 1)

    grow(None, (LON - 0.003, LAT - 0.002, LON + 0.003, LAT + 0.002), 0)
    return out


def truth_of(units: list[AssessmentUnit]) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's located shape (own, else the nearest ancestor's) in EPSG:3857 and its level's rank."""
    by_id = {u.id: u for u in units}
    geoms, ranks = [], []
    for u in units:
        cur = u
        while cur is not None and cur.geometry is None:
            cur = by_id.get(cur.parent_id) if cur.parent_id else None
        if cur is None:
            continue
        level = u.level()
        geoms.append(cur.geometry)
        ranks.append(level.rank if level else 0)
    return to_mercator(np.array(geoms, dtype=object)), np.array(ranks)


@pytest.mark.parametrize("seed", range(6))
def test_generated_deep_trees_never_show_a_lower_colour(units_style, seed):
    units = deep_plant(seed)
    drawn = drawn_units(units)
    frame = gpd.GeoDataFrame(drawn.drop(columns="geometry"), geometry=to_mercator(drawn["geometry"].to_numpy()),
                             crs=3857)
    geoms, ranks = truth_of(units)
    checked = 0
    for z in (15, 16, 17, 18):
        for dx, dy in ((0, 0), (-0.0015, 0.001), (0.0015, -0.001)):
            view = view_at(z, LON + dx, LAT + dy)
            px = rgba(render_png(frame, view, units_style, labels=False))
            checked += check_pixels(px, view, geoms, ranks, units_style)
    assert checked > 10000


# ------------------------------------------------------------------------------------- the demo plant


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo plant served by the app (SQLite), with its ground truth."""
    from riskmap.plant import load_plant
    from riskmap.store import open_store

    url = f"sqlite:///{load_demo_db(tmp_path_factory.mktemp('truth'))}"
    store = open_store(url)
    plant = load_plant(store, None)
    return make_client(url), store, plant


def demo_truth(store, plant) -> tuple[np.ndarray, np.ndarray]:
    """Units located by their own shape, their feature (by fid: the ledger's names were bound at import) or
    their nearest ancestor, as the data says, independently of the renderers."""
    features = store.layout_features(plant.enterprise.name)
    by_fid = dict(zip(features["fid"].tolist(), features.geometry.tolist(), strict=True))
    raw = store.units(plant.enterprise.name)
    for u in raw:
        if u.geometry is None and u.feature_ref is not None:
            u.geometry = by_fid.get(u.feature_ref)
    return truth_of(raw)


def plant_tiles(plant, z: int) -> list:
    west, south, east, north = plant.features.total_bounds
    return list(TMS.tiles(west, south, east, north, [z]))


def test_demo_every_unit_pixel_shows_the_highest_level_there(demo, units_style):
    client, store, plant = demo
    geoms, ranks = demo_truth(store, plant)
    point_px = max(s for c in units_style.classes for _, s in c.point.sizes) / 2 + 1
    checked = 0
    for z in (15, 16, 17, 18, 19, 20):
        tiles = plant_tiles(plant, z)
        if z >= 18:                                  # a sample: the tiles around each region's inside point
            centres = to_mercator(np.array([shapely.point_on_surface(r.geometry) for r in plant.regions]))
            picked = {TMS.tile(*TMS.lnglat(p.x, p.y), z) for p in centres}
            tiles = sorted(picked, key=lambda t: (t.x, t.y))
        for t in tiles:
            r = client.get(f"/tiles/units/{z}/{t.x}/{t.y}.png", params={"labels": "0"})
            assert r.status_code == 200
            checked += check_pixels(rgba(r.content), tile_view(z, t.x, t.y), geoms, ranks, units_style,
                                    point_reach_px=point_px)
    assert checked > 200000


def test_demo_regions_show_their_level_never_below_a_unit(demo, regions_style):
    client, store, plant = demo
    risks = {r["id"]: r["level"] for r in client.get("/api/regions").json()}
    regions = [r for r in plant.regions if r.geometry is not None]
    geoms = to_mercator(np.array([r.geometry for r in regions], dtype=object))
    ranks = np.array([Level(risks[r.id]).rank if risks[r.id] else 0 for r in regions])
    unit_geoms, unit_ranks = demo_truth(store, plant)
    for z in (15, 16, 17, 18):
        for t in plant_tiles(plant, z)[:60]:
            view = tile_view(z, t.x, t.y)
            px = rgba(client.get(f"/tiles/regions/{z}/{t.x}/{t.y}.png", params={"labels": "0"}).content)
            check_pixels(px, view, geoms, ranks, regions_style)
            # and never lower than a unit there
            points = shapely.points(pixel_centres(view))
            cls, _ = classes_of(px, regions_style)
            pi, gi = shapely.STRtree(unit_geoms).query(points, predicate="within")
            inside_region = px[..., 3].ravel()[pi] == 255
            assert (cls[pi][inside_region] >= unit_ranks[gi][inside_region]).all()


def test_demo_units_mvt_lists_each_shape_once_highest_last(demo, units_style):
    client, _, plant = demo
    for t in plant_tiles(plant, 17):
        feats = mvt(client.get(f"/tiles/units/17/{t.x}/{t.y}.mvt").content).get("units", {}).get("features", [])
        ranks = [f["properties"]["rank"] for f in feats]
        assert ranks == sorted(ranks)                               # by rank: a client drawing in order is right
        for f in feats:
            assert f["properties"]["colour"] == units_style.classes[f["properties"]["rank"]].fill
        shapes = pd.Series([str(f["geometry"]) for f in feats], dtype=object)
        assert not shapes.duplicated().any()                        # no identical stacks left to sort out


def test_demo_flagged_only_tiles_and_the_staleness_outline_show_overdue_units(demo):
    client, store, plant = demo
    overdue = [f for f in client.get("/api/flags").json()["items"] if f["reason_code"] in COMPUTED_REASONS]
    assert overdue
    code = overdue[0]["unit_id"]
    answer = client.get("/api/search", params={"q": code}).json()
    hit = next(h for h in answer["results"] if h.get("unit_id", h.get("id")) == code)
    lon, lat = (hit["bbox"][0] + hit["bbox"][2]) / 2, (hit["bbox"][1] + hit["bbox"][3]) / 2
    t = TMS.tile(lon, lat, 18)
    flagged = rgba(client.get(f"/tiles/units/18/{t.x}/{t.y}.png", params={"flagged": "1"}).content)
    assert (flagged[..., 3] > 0).any()
    stale = rgba(client.get(f"/tiles/staleness/18/{t.x}/{t.y}.png").content)
    pink = hex_rgb("#E7298A")
    assert (np.abs(stale[..., :3].astype(int) - pink).sum(axis=2) < 40).sum() > 20   # the 需复评 outline


def test_demo_poster_draws_the_tiles_colour_at_the_same_place(demo, regions_style):
    """The paper map (riskmap.print.mapview) and the tiles agree: a region's inside point has its tint on both."""
    import skia

    from riskmap.print import mapview

    client, _, plant = demo
    data = mapview.map_data(plant)
    styles = mapview.styles()
    bounds = tuple(data.content_bounds())
    view = mapview.fit_view((0, 0, 1200, 900), bounds, 0.75, data.lat)
    surface = skia.Surface(1200, 900)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorWHITE)
    mapview.draw_layer(canvas, view, data.regions, styles["regions"])
    pixels = surface.toarray()                                      # BGRA or RGBA by platform: compare both
    risks = {r["id"]: r["level"] for r in client.get("/api/regions").json()}
    regions = data.regions
    checked = 0
    for i in range(len(regions)):
        geom = regions.geometry.values[i]
        inner = shapely.buffer(geom, -6)
        if inner.is_empty:
            continue
        p = shapely.point_on_surface(inner)
        x, y = view.to_pt(np.array([[p.x, p.y]]))[0]
        got = pixels[int(y), int(x)]
        want = hex_rgb(regions_style.class_of(risks[regions["id"].iloc[i]] or "none").fill)
        assert tuple(got[:3]) in (tuple(want), tuple(want[::-1])), (regions["id"].iloc[i], got, want)
        checked += 1
    assert checked > 20


def test_paper_units_whose_outlines_go_on_top_keep_their_own_colour(units_style):
    """On paper, areas a higher class may cover have their outlines drawn last; their fills must still be their
    own class's colour whatever order the features come in (a low unit once printed orange)."""
    import skia

    from riskmap.print import mapview

    # each touches a higher one (so its outline is drawn late): L under S, S under M, G under M
    boxes = {"S": shapely.box(40, 0, 70, 30), "L": shapely.box(0, 0, 45, 30), "M": shapely.box(65, 25, 100, 60),
             "G": shapely.box(0, 35, 70, 60)}
    levels = {"S": "significant", "L": "low", "M": "major", "G": "general"}
    for order in (["S", "L", "M", "G"], ["L", "S", "G", "M"], ["M", "G", "S", "L"]):
        frame = gpd.GeoDataFrame({"level": [levels[k] for k in order]}, geometry=[boxes[k] for k in order])
        view = mapview.fit_view((0, 0, 400, 300), (0, 0, 100, 60), 0.75, 30.0)
        surface = skia.Surface(400, 300)
        canvas = surface.getCanvas()
        canvas.clear(skia.ColorWHITE)
        mapview.draw_layer(canvas, view, frame, units_style)
        pixels = surface.toarray()
        for key in order:
            inside = shapely.difference(shapely.buffer(boxes[key], -4), shapely.union_all(
                [shapely.buffer(boxes[k], 2) for k in order if units_style.rank_of(levels[k]) >
                 units_style.rank_of(levels[key])]))
            p = shapely.point_on_surface(inside)
            x, y = view.to_pt(np.array([[p.x, p.y]]))[0]
            got = tuple(pixels[int(y), int(x)][:3])
            want = tuple(hex_rgb(units_style.class_of(levels[key]).fill))
            assert got in (want, want[::-1]), (order, key, got, want)


def test_an_unassessed_region_is_drawn_neutral_and_every_print_still_works(tmp_path):
    """A newly drawn region has no level: neutral on the map, 未评估 in the legend, and every print and the
    regulator's image still made (HTTP and CLI), never a 500 or a traceback."""
    import subprocess
    import sys

    from kit import copy_db

    from riskmap.store import open_store

    url = copy_db(load_demo_db(tmp_path / "src"), tmp_path / "db")
    store = open_store(url)
    name = store.enterprises()[0].name
    west, south, _, _ = store.layout_features(name).total_bounds
    store.create_feature(name, None, "region", shapely.box(west + 1e-4, south + 1e-4, west + 4e-4, south + 3e-4),
                         feature_name="新建区域", author="张工")
    store.close()
    client = make_client(url)
    config = client.get("/api/map/config").json()
    assert config["unassessed"]["regions"] == 1
    for path in ("/print/poster.pdf", "/print/poster.svg", "/print/poster.png", "/print/upload-image"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
    atlas = client.get("/print/poster.pdf", params={"atlas": "true"})
    assert atlas.status_code == 200
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(client.get("/print/poster.pdf").content)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout
    assert "未评估" in text.decode("utf-8")
    proc = subprocess.run([sys.executable, "-m", "riskmap.cli", "poster", str(tmp_path / "cli.pdf"), "--db", url],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
