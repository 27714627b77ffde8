"""Vector tiles (decoded with mapbox-vector-tile and, for the command stream, by hand) and the tile grid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from kit import LAT, LON, mvt, view_at
from mapbox_vector_tile.Mapbox import vector_tile_pb2

from riskmap.errors import InputError, NotFoundError
from riskmap.levels import Level
from riskmap.render.grid import (
    MVT_EXTENT,
    TMS,
    TileView,
    as_view,
    mvt_buffer_px,
    render_buffer_px,
    tile_view,
)
from riskmap.render.mvt import EMPTY_MVT, MAX_TEXT_CHARS, encode_mvt
from riskmap.render.style import load_layer_style


def decode(tile: bytes) -> dict:
    return mvt(tile, y_down=True)

def at(view: TileView, fx: float, fy: float) -> tuple[float, float]:
    """EPSG:3857 coordinates of a point given in tile fractions from the top-left corner."""
    minx, _, maxx, maxy = view.bounds
    w = maxx - minx
    return minx + fx * w, maxy - fy * w


def raw_layers(tile: bytes):
    msg = vector_tile_pb2.tile()
    msg.ParseFromString(tile)
    return msg.layers


def commands(geometry) -> list[tuple[str, list[tuple[int, int]]]]:
    """An independent reading of a feature's command stream: [(command, absolute points)]."""
    out, i, x, y = [], 0, 0, 0
    names = {1: "move", 2: "line", 7: "close"}
    while i < len(geometry):
        cmd, count = geometry[i] & 7, geometry[i] >> 3
        i += 1
        if cmd == 7:
            assert count == 1
            out.append(("close", []))
            continue
        pts = []
        for _ in range(count):
            dx, dy = geometry[i], geometry[i + 1]
            dx, dy = (dx >> 1) ^ -(dx & 1), (dy >> 1) ^ -(dy & 1)
            if cmd == 2:
                assert (dx, dy) != (0, 0), "a LineTo must move"
            x, y = x + dx, y + dy
            pts.append((x, y))
            i += 2
        out.append((names[cmd], pts))
    return out


def rings(geometry) -> list[list[tuple[int, int]]]:
    cmds = commands(geometry)
    found = []
    for k in range(0, len(cmds), 3):
        (m, p0), (ln, rest), (c, _) = cmds[k:k + 3]
        assert (m, len(p0), ln, c) == ("move", 1, "line", "close") and len(rest) >= 2
        ring = p0 + rest
        assert ring[-1] != ring[0], "a ring must not repeat its first point"
        found.append(ring)
    return found


def shoelace(ring) -> float:
    pts = ring + [ring[0]]
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False)) / 2


@pytest.fixture
def plant():
    view = view_at(18)
    x0, y0 = at(view, 0.25, 0.25)
    x1, y1 = at(view, 0.5, 0.5)
    hx0, hy0 = at(view, 0.3, 0.3)
    hx1, hy1 = at(view, 0.4, 0.4)
    with_hole = shapely.Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
                                [[(hx0, hy0), (hx1, hy0), (hx1, hy1), (hx0, hy1)]])
    frame = gpd.GeoDataFrame({
        "id": [101, 102, 103, 104, 105],
        "name": ["甲醇罐区", "一号泵", "管廊", "<img src=x onerror=alert(1)>", "甲" * 50_000],
        "level": [Level.MAJOR, "significant", "一般风险", "low", None],
        "last_assessed": [dt.date(2024, 5, 1), None, dt.date(2023, 1, 9), None, None],
        "score": [Decimal("400"), Decimal("30.5"), None, 12.0, None],
        "properties": [{"a": 1}, None, None, None, None],
    }, geometry=[
        with_hole,
        shapely.Point(at(view, 0.75, 0.25)),
        shapely.LineString([at(view, 0.1, 0.8), at(view, 0.9, 0.8)]),
        shapely.box(*at(view, 0.6, 0.9), *at(view, 0.9, 0.6)),
        shapely.MultiPoint([at(view, 0.05, 0.05), at(view, 0.1, 0.05)]),
    ], crs=3857)
    return view, frame


def test_features_ids_and_attributes(plant):
    view, frame = plant
    layer = decode(encode_mvt({"units": frame}, view))["units"]
    assert layer["extent"] == 4096
    feats = {f["id"]: f for f in layer["features"]}
    assert sorted(feats) == [101, 102, 103, 104, 105]
    assert [f["id"] for f in layer["features"]] == [101, 102, 103, 104, 105]          # the caller's order
    assert feats[101]["properties"] == {"name": "甲醇罐区", "level": "major", "level_zh": "重大风险",
                                        "last_assessed": "2024-05-01", "score": 400}
    assert feats[102]["properties"]["level"] == "significant"
    assert feats[103]["properties"] == {"name": "管廊", "level": "general", "level_zh": "一般风险",
                                        "last_assessed": "2023-01-09"}
    assert feats[102]["properties"]["score"] == 30.5
    assert feats[104]["properties"]["name"] == "<img src=x onerror=alert(1)>"      # data, escaped by clients
    long_name = feats[105]["properties"]["name"]
    assert len(long_name) == MAX_TEXT_CHARS and long_name.endswith("…")
    assert "level" not in feats[105]["properties"] and "level_zh" not in feats[105]["properties"]
    for f in layer["features"]:
        assert None not in f["properties"].values()
        assert "properties" not in f["properties"]                                  # dicts are not attributes
    assert feats[101]["geometry"]["type"] == "Polygon"
    assert feats[102]["geometry"]["type"] == "Point"
    assert feats[103]["geometry"]["type"] == "LineString"
    assert feats[105]["geometry"]["type"] == "MultiPoint"


def test_a_known_polygon_has_the_expected_tile_coordinates(plant):
    view, frame = plant
    layer = decode(encode_mvt({"units": frame}, view))["units"]
    poly = next(f for f in layer["features"] if f["id"] == 101)["geometry"]["coordinates"]
    exterior, hole = poly
    assert {tuple(p) for p in exterior} == {(1024, 1024), (2048, 1024), (2048, 2048), (1024, 2048)}
    assert {tuple(p) for p in hole} == {(1229, 1229), (1638, 1229), (1638, 1638), (1229, 1638)}
    point = next(f for f in layer["features"] if f["id"] == 102)["geometry"]["coordinates"]
    assert point == [3072, 1024]


def test_command_streams_follow_the_specification(plant):
    view, frame = plant
    (layer,) = raw_layers(encode_mvt({"units": frame}, view))
    assert layer.version == 2 and layer.name == "units" and layer.extent == 4096
    for feature in layer.features:
        if feature.type == 3:
            found = rings(list(feature.geometry))
            assert shoelace(found[0]) > 0                       # exterior clockwise on screen (y down)
            for hole in found[1:]:
                assert shoelace(hole) < 0
        elif feature.type == 2:
            cmds = commands(list(feature.geometry))
            assert [c for c, _ in cmds] == ["move", "line"]
        else:
            cmds = commands(list(feature.geometry))
            assert [c for c, _ in cmds] == ["move"]
    values = [v.SerializeToString() for v in layer.values]
    assert len(values) == len(set(values)), "the value table repeats a value"
    assert len(set(layer.keys)) == len(layer.keys)


def test_rings_given_the_wrong_way_round_are_reoriented():
    view = view_at(17)
    a, b, c = at(view, 0.2, 0.2), at(view, 0.6, 0.2), at(view, 0.6, 0.6)
    d = at(view, 0.2, 0.6)
    cw, ccw = shapely.Polygon([a, b, c, d]), shapely.Polygon([a, d, c, b])
    frame = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[cw, ccw], crs=3857)
    (layer,) = raw_layers(encode_mvt({"u": frame}, view))
    for feature in layer.features:
        (ring,) = rings(list(feature.geometry))
        assert shoelace(ring) == (2458 - 819) ** 2            # 0.2 and 0.6 of 4096, rounded


def test_geometry_is_clipped_to_the_tile_and_its_buffer():
    view = view_at(17)
    minx, miny, maxx, maxy = view.bounds
    w = maxx - minx
    huge = shapely.box(minx - 3 * w, miny - 3 * w, maxx + 3 * w, maxy + 3 * w)
    road = shapely.LineString([(minx - 5 * w, miny + w / 2), (maxx + 5 * w, miny + w / 2)])
    frame = gpd.GeoDataFrame({"id": [1, 2], "level": ["low", "general"]}, geometry=[huge, road], crs=3857)
    layer = decode(encode_mvt({"regions": frame}, view))["regions"]
    for f in layer["features"]:
        coords = np.array(shapely.get_coordinates(shapely.geometry.shape(f["geometry"])))
        assert coords.min() >= -256 and coords.max() <= 4096 + 256
    poly = next(f for f in layer["features"] if f["id"] == 1)
    assert {tuple(p) for p in poly["geometry"]["coordinates"][0]} == {(-256, -256), (4352, -256), (4352, 4352),
                                                                       (-256, 4352)}
    smaller = decode(encode_mvt({"regions": frame}, view, buffer=64))["regions"]
    coords = np.array(shapely.get_coordinates(shapely.geometry.shape(smaller["features"][0]["geometry"])))
    assert coords.min() == -64 and coords.max() == 4096 + 64


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_agrees_with_mapbox_vector_tiles_own_encoder():
    """Random polygons, lines and points inside the tile: same decoded shapes as the reference encoder."""
    view = view_at(18)
    minx, miny, maxx, maxy = view.bounds
    rng = np.random.default_rng(5)
    n = 60
    x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    size = (maxx - minx) * rng.uniform(0.005, 0.08, n)
    geoms = list(shapely.box(x, y, np.minimum(x + size, maxx), np.minimum(y + size * 0.7, maxy)))
    geoms += [shapely.Point(p) for p in zip(rng.uniform(minx, maxx, 20), rng.uniform(miny, maxy, 20), strict=True)]
    geoms += [shapely.LineString(np.stack([rng.uniform(minx, maxx, 4), rng.uniform(miny, maxy, 4)], 1))
              for _ in range(10)]
    ours = decode(encode_mvt({"t": gpd.GeoDataFrame({"id": range(len(geoms))}, geometry=geoms, crs=3857)},
                             view))["t"]["features"]
    reference = mapbox_vector_tile.encode(
        [{"name": "t", "features": [{"geometry": g, "id": i, "properties": {}} for i, g in enumerate(geoms)]}],
        default_options={"quantize_bounds": (minx, miny, maxx, maxy), "extents": MVT_EXTENT})
    theirs = decode(reference)["t"]["features"]
    assert len(ours) == len(theirs) == len(geoms)
    for a, b in zip(ours, theirs, strict=True):
        assert a["id"] == b["id"]
        ga, gb = shapely.geometry.shape(a["geometry"]), shapely.geometry.shape(b["geometry"])
        assert shapely.normalize(ga).equals_exact(shapely.normalize(gb), 0), (a, b)


def test_detailed_shapes_are_simplified_without_visible_change():
    view = view_at(15)
    centre = shapely.Point(at(view, 0.5, 0.5))
    circle = centre.buffer((view.bounds[2] - view.bounds[0]) * 0.3, quad_segs=512)   # 2,049 vertices
    frame = gpd.GeoDataFrame({"id": [7]}, geometry=[circle], crs=3857)
    (layer,) = raw_layers(encode_mvt({"u": frame}, view))
    (ring,) = rings(list(layer.features[0].geometry))
    assert len(ring) < 1000
    area = shoelace(ring)
    expected = np.pi * (0.3 * 4096) ** 2
    assert abs(area - expected) / expected < 0.001
    assert shapely.Polygon(ring).is_valid


def test_degenerate_shapes_are_dropped():
    view = view_at(15)
    x, y = at(view, 0.5, 0.5)
    unit = (view.bounds[2] - view.bounds[0]) / 4096
    frame = gpd.GeoDataFrame({"id": [1, 2, 3, 4]}, geometry=[
        shapely.box(x, y, x + unit * 0.2, y + unit * 0.2),                         # smaller than one unit
        shapely.LineString([(x, y), (x + unit * 0.1, y)]),                          # collapses to one point
        shapely.Polygon([(x, y), (x + 100 * unit, y), (x + 200 * unit, y)]),         # no area
        shapely.box(x, y, x + 10 * unit, y + 10 * unit),
    ], crs=3857)
    layer = decode(encode_mvt({"u": frame}, view))["u"]
    assert [f["id"] for f in layer["features"]] == [4]


def test_rings_collections_and_multipolygons():
    view = view_at(17)
    a, b, c, d = at(view, 0.1, 0.1), at(view, 0.3, 0.1), at(view, 0.3, 0.3), at(view, 0.1, 0.3)
    ring = shapely.LinearRing([a, b, c, d])
    area = shapely.box(*at(view, 0.5, 0.9), *at(view, 0.9, 0.5))
    mixed = shapely.GeometryCollection([area, shapely.Point(at(view, 0.05, 0.95))])
    multi = shapely.MultiPolygon([shapely.box(*at(view, 0.5, 0.3), *at(view, 0.6, 0.2)),
                                  shapely.box(*at(view, 0.7, 0.3), *at(view, 0.8, 0.2))])
    frame = gpd.GeoDataFrame({"id": [1, 2, 3]}, geometry=[ring, mixed, multi], crs=3857)
    layer = decode(encode_mvt({"u": frame}, view))["u"]
    kinds = {f["id"]: f["geometry"]["type"] for f in layer["features"]}
    assert kinds == {1: "LineString", 2: "Polygon", 3: "MultiPolygon"}
    line = next(f for f in layer["features"] if f["id"] == 1)["geometry"]["coordinates"]
    assert line[0] == line[-1] and len(line) == 5


def test_an_empty_tile_is_zero_bytes(plant):
    view, frame = plant
    far = tile_view(view.z, view.x + 10, view.y)
    assert encode_mvt({"units": frame}, far) == EMPTY_MVT == b""
    assert encode_mvt({}, view) == b""
    assert encode_mvt({"units": None, "regions": frame.iloc[:0]}, view) == b""
    assert decode(b"") == {}


def test_several_layers_and_empty_ones_left_out(plant):
    view, frame = plant
    regions = gpd.GeoDataFrame({"id": [1], "name": ["一区"], "level": ["major"]},
                               geometry=[shapely.box(*view.bounds)], crs=3857)
    tile = decode(encode_mvt({"regions": regions, "units": frame, "layout": frame.iloc[:0]}, view))
    assert list(tile) == ["regions", "units"]
    assert tile["regions"]["features"][0]["properties"]["level_zh"] == "重大风险"


def test_ids_are_optional_but_must_be_non_negative_integers(plant):
    view, frame = plant
    no_ids = decode(encode_mvt({"u": frame.drop(columns="id")}, view))["u"]["features"]
    assert all(f.get("id") in (None, 0) for f in no_ids)
    some = frame.assign(id=[1, None, 3, None, 5])
    feats = decode(encode_mvt({"u": some}, view))["u"]["features"]
    assert [f.get("id") for f in feats][0::2] == [1, 3, 5]
    for bad in ([-1, 2, 3, 4, 5], ["a", 2, 3, 4, 5], [1.5, 2, 3, 4, 5]):
        with pytest.raises(InputError):
            encode_mvt({"u": frame.assign(id=bad)}, view)
    big = decode(encode_mvt({"u": frame.assign(id=[2 ** 40, 2, 3, 4, 5])}, view))["u"]["features"]
    assert big[0]["id"] == 2 ** 40


def test_lon_lat_input_is_projected(plant):
    view, frame = plant
    a = encode_mvt({"u": frame}, view)
    b = encode_mvt({"u": frame.to_crs(4326)}, view)
    fa = decode(a)["u"]["features"][0]["geometry"]["coordinates"]
    fb = decode(b)["u"]["features"][0]["geometry"]["coordinates"]
    assert np.abs(np.array(fa[0]) - np.array(fb[0])).max() <= 1


def test_a_geometry_column_of_another_name(plant):
    view, frame = plant
    renamed = frame.rename_geometry("geom")
    assert decode(encode_mvt({"u": renamed}, view)) == decode(encode_mvt({"u": frame}, view))


def test_bad_arguments_are_user_errors(plant):
    view, frame = plant
    with pytest.raises(InputError):
        encode_mvt({"u": frame}, view, extent=10)
    with pytest.raises(InputError):
        encode_mvt({"u": frame.drop(columns="geometry").assign(x=1)}, view)
    with pytest.raises(NotFoundError):
        encode_mvt({"u": frame}, (30, 0, 0))


def test_a_dense_tile_encodes_quickly():
    """Guard against falling back to per-feature Python: 20,000 units well under a second."""
    import time

    view = view_at(16)
    minx, miny, maxx, maxy = view.bounds
    rng = np.random.default_rng(1)
    n = 20_000
    x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    frame = gpd.GeoDataFrame({"id": np.arange(n), "name": [f"{i}号单元" for i in range(n)],
                              "level": rng.choice(["major", "low", "general"], n)},
                             geometry=shapely.box(x, y, x + 5, y + 4), crs=3857)
    t = time.perf_counter()
    tile = encode_mvt({"units": frame}, view)
    assert time.perf_counter() - t < 1.0
    (layer,) = raw_layers(tile)
    assert len(layer.features) == n and layer.features[-1].id == n - 1


# ------------------------------------------------------------------------------------------------- grid


def test_tile_bounds_come_from_morecantile():
    for z, x, y in ((0, 0, 0), (15, 27197, 13306), (24, 2 ** 24 - 1, 0)):
        v = tile_view(z, x, y)
        expect = TMS.xy_bounds(morecantile.Tile(x, y, z))
        assert v.bounds == pytest.approx((expect.left, expect.bottom, expect.right, expect.top))
    assert tile_view(0, 0, 0).bounds == pytest.approx((-20037508.342789244, -20037508.342789244,
                                                        20037508.342789244, 20037508.342789244))


@pytest.mark.parametrize("zxy", [(25, 0, 0), (-1, 0, 0), (3, 8, 0), (3, 0, 8), (3, -1, 0), ("a", 0, 0),
                                 (2.5, 0, 0), ("99999999999999999999", 0, 0)])
def test_tiles_outside_the_grid_are_not_found(zxy):
    with pytest.raises(NotFoundError):
        tile_view(*zxy)


def test_tiles_from_strings_and_morecantile():
    assert tile_view("15", "27197", "13306") == as_view(morecantile.Tile(27197, 13306, 15)) == \
        as_view((15, 27197, 13306))
    with pytest.raises(NotFoundError):
        as_view("15/1/2")


def test_lon_lat_bounds_for_data_queries():
    v = view_at(16)
    west, south, east, north = v.lonlat_bounds()
    assert west < LON < east and south < LAT < north
    b = TMS.bounds(v.tile)
    assert (west, south, east, north) == pytest.approx((b.left, b.bottom, b.right, b.top))
    w2, s2, e2, n2 = v.lonlat_bounds(buffer_px=16)
    assert w2 < west and s2 < south and e2 > east and n2 > north
    assert tile_view(0, 0, 0).lonlat_bounds(64) == pytest.approx((-180, -85.0511287798, 180, 85.0511287798))


def test_buffers():
    v = view_at(18)
    minx, miny, maxx, maxy = v.bounds
    bx = v.buffered_bounds(16)
    assert bx[0] == pytest.approx(minx - (maxx - minx) / 16) and bx[3] == pytest.approx(maxy + (maxy - miny) / 16)
    assert mvt_buffer_px() == 16
    styles = [load_layer_style(n) for n in ("regions", "units", "layout")]
    assert 2 < render_buffer_px(18, styles) < 20
    assert v.world_origin_px == (v.x * 256, v.y * 256)
    assert TileView(3, 1, 1, nx=2).width_px == 512


@given(st.lists(st.integers(min_value=0, max_value=2 ** 64 - 1), max_size=60))
@settings(max_examples=150, deadline=None)
def test_varints_match_protobuf(values):
    """The vectorised varints against protobuf's own packed encoding of the same numbers."""
    from riskmap.render.mvt import _varint_sizes, _varints

    arr = np.array(values, dtype=np.uint64)
    expected = b"".join(_protobuf_varint(v) for v in values)
    assert _varints(arr) == expected
    assert _varint_sizes(arr).sum() == len(expected)


def _protobuf_varint(value: int) -> bytes:
    """One varint through protobuf: the id field of an otherwise empty Feature, minus its tag byte."""
    feature = vector_tile_pb2.tile.feature()
    feature.id = value
    return feature.SerializeToString()[1:]
