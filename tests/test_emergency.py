"""Emergency features (assembly points, escape routes, exits, hydrants, extinguishers, eyewash stations, emergency
stores): layer names → roles, CAD blocks → points, neutral symbols in tiles, MVT, poster and web legend, and the
post card naming the nearest assembly point and escape route."""

from __future__ import annotations

import base64
import io
import re
import sqlite3

import ezdxf
import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from kit import frac_point, mvt, view_at
from kit import rgba as decode
from PIL import Image
from printkit import pdftotext
from shapely.geometry import mapping, shape

from riskmap.api.app import create_app
from riskmap.domain import UnitKind, UnitTree
from riskmap.emergency import EmergencyIndex, card_text, metres_text
from riskmap.errors import InputError
from riskmap.geo.dxf import read_dxf
from riskmap.geo.editcheck import check_edit_geometry
from riskmap.geo.layermap import LayerMap
from riskmap.geo.model import EMERGENCY_ROLES, ROLE_EN, ROLE_ZH, ROLES
from riskmap.levels import load_palette
from riskmap.print.cards import card_content
from riskmap.print.mapview import plan_crs
from riskmap.print.poster import PosterOptions, poster
from riskmap.render.editpage import edit_config
from riskmap.render.mvt import encode_mvt
from riskmap.render.png import legend_symbol_png, render_png
from riskmap.render.style import StyleError, load_layer_style
from riskmap.render.styles_export import maplibre_style, qgis_qml
from riskmap.render.webmap import MapSummary, emergency_legend, map_config
from riskmap.settings import Settings

POINT_ROLES = ("assembly_point", "emergency_exit", "fire_hydrant", "extinguisher", "eyewash", "emergency_store")
LEVEL_COLOURS = {"#FF0000", "#FF8C00", "#FFFF00", "#0070C0"}


@pytest.fixture(scope="module")
def layout():
    return load_layer_style("layout")


def neutral(pixels: np.ndarray) -> bool:
    """Every pixel is a grey (black, white or between): r == g == b."""
    p = pixels.astype(int)
    return bool((p[..., 0] == p[..., 1]).all() and (p[..., 1] == p[..., 2]).all())


# ----------------------------------------------------------------------------------------------- roles


def test_every_emergency_role_is_a_role_with_both_names_and_geometry_rules():
    assert set(EMERGENCY_ROLES) <= set(ROLES)
    for role in EMERGENCY_ROLES:
        assert ROLE_ZH[role] and ROLE_EN[role]
    assert ROLE_ZH["assembly_point"] == "集合点" and ROLE_ZH["escape_route"] == "疏散路线"
    config = edit_config(enterprise="x", data_version=1, bounds=None, lang="zh", palette=load_palette(), layers=[],
                         urls={})
    roles = {r["role"]: r for r in config["roles"]}
    assert set(roles) == set(ROLES)
    assert roles["escape_route"]["geometry"] == ["LineString", "MultiLineString"]
    assert "Point" in roles["fire_hydrant"]["geometry"] and "Polygon" not in roles["fire_hydrant"]["geometry"]
    assert {"Point", "Polygon"} <= set(roles["assembly_point"]["geometry"])


@pytest.mark.parametrize(("layer", "role"), [
    ("集合点", "assembly_point"), ("紧急集合点", "assembly_point"), ("应急-集合点", "assembly_point"),
    ("ASSEMBLY_POINT", "assembly_point"), ("muster", "assembly_point"),
    ("疏散路线", "escape_route"), ("应急疏散", "escape_route"), ("应急疏散通道", "escape_route"),
    ("逃生路线", "escape_route"), ("疏散道路", "escape_route"), ("ESCAPE", "escape_route"),
    ("evac-route", "escape_route"),
    ("安全出口", "emergency_exit"), ("疏散出口", "emergency_exit"), ("EXIT", "emergency_exit"),
    ("消火栓", "fire_hydrant"), ("消防-消火栓", "fire_hydrant"), ("室外消防栓", "fire_hydrant"),
    ("HYDRANT", "fire_hydrant"),
    ("灭火器", "extinguisher"), ("消防-灭火器", "extinguisher"), ("Fire_Extinguisher", "extinguisher"),
    ("洗眼器", "eyewash"), ("紧急喷淋洗眼", "eyewash"), ("EYEWASH", "eyewash"),
    ("应急物资", "emergency_store"), ("应急器材柜", "emergency_store"), ("应急-物资柜", "emergency_store"),
    ("应急柜", "emergency_store"),
    # what must NOT change
    ("消防道路", "road"), ("道路", "road"), ("集合点文字", "ignore"), ("疏散标注", "ignore"),
    ("自动喷淋", "other"), ("围墙", "fence"), ("设备", "equipment"), ("消防站", "other"),
])
def test_default_layer_map_knows_the_usual_emergency_layer_names(layer, role):
    assert LayerMap.default().role_for(layer) == role


def test_a_layer_map_may_name_emergency_roles_in_chinese():
    lm = LayerMap.from_data({"rules": [{"pattern": "JHD", "role": "集合点"}, {"pattern": "SS", "role": "疏散路线"}]})
    assert lm.role_for("JHD-1") == "assembly_point" and lm.role_for("SS") == "escape_route"


@pytest.mark.parametrize(("role", "geom", "ok"), [
    ("escape_route", shapely.LineString([(119.7, 32.3), (119.7001, 32.3)]), True),
    ("escape_route", shapely.Point(119.7, 32.3), False),
    ("fire_hydrant", shapely.Point(119.7, 32.3), True),
    ("fire_hydrant", shapely.box(119.7, 32.3, 119.7001, 32.3001), False),
    ("assembly_point", shapely.box(119.7, 32.3, 119.7001, 32.3001), True),
    ("assembly_point", shapely.Point(119.7, 32.3), True),
    ("extinguisher", shapely.LineString([(119.7, 32.3), (119.7001, 32.3)]), False),
])
def test_edited_geometry_must_fit_the_emergency_role(role, geom, ok):
    extent = (119.69, 32.29, 119.71, 32.31)
    if ok:
        check_edit_geometry(mapping(geom), role, extent)
    else:
        with pytest.raises(InputError):
            check_edit_geometry(mapping(geom), role, extent)


# ------------------------------------------------------------------------------------------------- DXF


@pytest.mark.parametrize("engine", ["auto", "ezdxf"])
def test_blocks_on_emergency_layers_become_points_and_routes_keep_their_direction(tmp_path, engine):
    doc = ezdxf.new("R2018")
    doc.header["$INSUNITS"] = 6
    big = doc.blocks.new("HYDRANT_BIG")             # drawn 4 m wide: still a hydrant symbol, one point
    big.add_lwpolyline([(-2, -2), (2, -2), (2, 2), (-2, 2)], close=True)
    big.add_attdef("名称", (0, -3), dxfattribs={"height": 0.3})
    area = doc.blocks.new("ASSEMBLY_AREA")          # a 20 m assembly area as a block: exploded, a polygon
    area.add_lwpolyline([(0, 0), (20, 0), (20, 20), (0, 20)], close=True)
    small = doc.blocks.new("ASSEMBLY_MARK")
    small.add_lwpolyline([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)], close=True)
    small.add_attdef("NAME", (0, -1), dxfattribs={"height": 0.3})
    msp = doc.modelspace()
    msp.add_blockref("HYDRANT_BIG", (10, 10), dxfattribs={"layer": "消防-消火栓"}).add_auto_attribs({"名称": "XHS-1"})
    msp.add_blockref("ASSEMBLY_AREA", (50, 50), dxfattribs={"layer": "应急-集合点"})
    msp.add_blockref("ASSEMBLY_MARK", (90, 10), dxfattribs={"layer": "紧急集合点"}).add_auto_attribs({"NAME": "东门"})
    msp.add_lwpolyline([(30, 0), (30, 40), (80, 40)], dxfattribs={"layer": "应急疏散路线"})
    msp.add_point((5, 5), dxfattribs={"layer": "灭火器"})
    path = tmp_path / "e.dxf"
    doc.saveas(path)
    feats = read_dxf(path, engine=engine).features
    hydrant = feats[feats.role == "fire_hydrant"]
    assert len(hydrant) == 1 and hydrant.geometry.iloc[0].equals(shapely.Point(10, 10))
    assert hydrant["name"].iloc[0] == "XHS-1"
    assembly = feats[feats.role == "assembly_point"]
    assert sorted(assembly.geom_type) == ["Point", "Polygon"]
    assert assembly[assembly.geom_type == "Point"]["name"].iloc[0] == "东门"
    route = feats[feats.role == "escape_route"].geometry.iloc[0]
    assert list(route.coords) == [(30, 0), (30, 40), (80, 40)]          # the drawn order: direction of travel
    assert (feats.role == "extinguisher").sum() == 1                    # a POINT on an extinguisher layer


# ------------------------------------------------------------------------------------------ symbology


def test_every_layout_colour_is_neutral_including_symbols_marks_and_arrows(layout):
    for c in layout.classes:
        colours = [c.fill, c.outline and c.outline.colour, c.line and c.line.colour,
                   c.casing and c.casing.colour, c.point.fill, c.point.outline and c.point.outline.colour,
                   c.point.mark_colour, c.arrows and c.arrows.colour]
        for colour in filter(None, colours):
            assert colour[1:3] == colour[3:5] == colour[5:7], (c.key, colour)
    shapes = {layout.class_of(r).point.shape + layout.class_of(r).point.mark for r in POINT_ROLES}
    assert len(shapes) == len(POINT_ROLES)                        # told apart by shape and character
    assert layout.class_of("escape_route").arrows is not None
    assert layout.class_of("assembly_point").point.mark == "集"


@pytest.mark.parametrize(("change", "words"), [
    ({"shape": "star"}, "shape"), ({"mark": "集合"}, "mark"), ({"mark_colour": "red"}, "mark_colour")])
def test_bad_symbols_are_refused(tmp_path, change, words):
    import shutil

    import yaml

    from riskmap.symbology import layers_dir

    for name in ("levels.yaml", "layout.yaml"):
        shutil.copy(layers_dir() / name, tmp_path / name)
    data = yaml.safe_load((tmp_path / "layout.yaml").read_text(encoding="utf-8"))
    data["roles"]["fire_hydrant"]["point"].update(change)
    (tmp_path / "layout.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(StyleError, match=words):
        load_layer_style("layout", tmp_path)


def emergency_frame(view):
    roles = list(POINT_ROLES) + ["escape_route"]
    geoms = [frac_point(view, 0.12 + 0.15 * i, 0.3) for i in range(len(POINT_ROLES))]
    a, b = frac_point(view, 0.1, 0.7), frac_point(view, 0.9, 0.7)
    geoms.append(shapely.LineString([a.coords[0], b.coords[0]]))       # west → east
    return gpd.GeoDataFrame({"role": roles, "name": [None] * len(roles)}, geometry=geoms, crs=3857)


def test_tiles_draw_each_emergency_symbol_in_greys_with_its_mark(layout):
    view = view_at(18)
    px = decode(render_png(emergency_frame(view), view, layout, scale=2))
    drawn = px[px[..., 3] > 0]
    assert neutral(drawn[..., :3])
    for i, role in enumerate(POINT_ROLES):
        cx, cy = int((0.12 + 0.15 * i) * 512), int(0.3 * 512)
        patch = px[cy - 10:cy + 11, cx - 10:cx + 11]
        opaque = patch[patch[..., 3] == 255][:, 0].astype(int)
        # a shape with a character in it: both dark and light pixels inside the symbol
        assert (opaque < 80).sum() > 10 and (opaque > 200).sum() > 10, role


def test_escape_route_arrows_point_the_way_the_line_was_drawn(layout):
    view = view_at(18)
    frame = emergency_frame(view).iloc[[-1]]
    east = decode(render_png(frame, view, layout, labels=False))
    west_frame = frame.copy()
    west_frame["geometry"] = [shapely.reverse(frame.geometry.iloc[0])]
    west = decode(render_png(west_frame, view, layout, labels=False))
    assert not np.array_equal(east, west)

    def head_profile(px):
        """Dark pixels per column where the line is wider than itself: the arrowheads."""
        dark = (px[..., 3] > 128) & (px[..., 0] < 100)
        height = dark.sum(axis=0)
        cols = np.flatnonzero(height > 4)
        return height, cols

    h, cols = head_profile(east)
    first_run = cols[: np.argmax(np.diff(cols) > 1) + 1] if (np.diff(cols) > 1).any() else cols
    assert h[first_run[0]] > h[first_run[-1]]                    # wide base west, tip east
    h, cols = head_profile(west)
    first_run = cols[: np.argmax(np.diff(cols) > 1) + 1] if (np.diff(cols) > 1).any() else cols
    assert h[first_run[0]] < h[first_run[-1]]


def test_mvt_carries_the_emergency_role_and_the_exports_name_the_shapes(layout):
    view = view_at(18)
    tile = mvt(encode_mvt({"layout": emergency_frame(view)}, view, styles={"layout": layout}))
    roles = {f["properties"]["role"] for f in tile["layout"]["features"]}
    assert roles == set(POINT_ROLES) | {"escape_route"}
    style = maplibre_style("risk", lambda layer, fmt: f"http://x/{layer}.json")
    by_id = {layer["id"]: layer for layer in style["layers"]}
    assert by_id["layout-fire_hydrant-point"]["metadata"] == {"riskmap:shape": "circle", "riskmap:mark": "栓"}
    assert by_id["layout-escape_route-line"]["metadata"]["riskmap:arrows"]["direction"] == "vertex order"
    assert 'name="triangle"' in qgis_qml("layout", "points") or "triangle" in qgis_qml("layout", "points")


def test_web_legend_lists_only_the_emergency_features_drawn_with_their_tile_symbols(layout):
    rows = emergency_legend(layout, {"fire_hydrant": "point", "escape_route": "line", "building": "polygon"})
    assert [r["key"] for r in rows] == ["fire_hydrant", "escape_route"]
    for row in rows:
        png = base64.b64decode(row["image"].split(",", 1)[1])
        px = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
        assert (px[..., 3] > 0).sum() > 20 and neutral(px[px[..., 3] > 0][..., :3])
    summary = MapSummary("x", 1, None, {}, {})
    config = map_config(summary, region=None, lang="en", palette=load_palette(), layers=[], urls={}, emergency=rows)
    assert [r["en"] for r in config["emergency_legend"]] == ["Fire hydrant", "Escape route"]
    assert config["text"]["emergency_legend"] == "Emergency features"
    assert map_config(summary, region=None, lang="zh", palette=load_palette(), layers=[],
                      urls={})["emergency_legend"] == []


def test_legend_symbol_is_the_tile_symbol(layout):
    png = legend_symbol_png(layout, "extinguisher", "point")
    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert px.shape == (36, 56, 4) and neutral(px[px[..., 3] > 0][..., :3])


# ------------------------------------------------------------------------------------ demo, prints


def test_the_demo_plan_has_every_emergency_role(plant):
    roles = set(plant.features["role"])
    assert set(EMERGENCY_ROLES) <= roles
    routes = plant.features[plant.features.role == "escape_route"]
    assert len(routes) == 4 and (routes.geom_type == "LineString").all()


def _pdf_colours(pdf: bytes) -> set[tuple[float, float, float]]:
    import zlib

    colours = set()
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", pdf, re.S):
        n = re.search(rb"/Length (\d+)", m.group(1))
        if not (n and b"/FlateDecode" in m.group(1)):
            continue
        try:
            text = zlib.decompress(pdf[m.end():m.end() + int(n.group(1))]).decode("latin-1")
        except zlib.error:
            continue
        for r, g, b in re.findall(r"(?<![\d.])([\d.]+) ([\d.]+) ([\d.]+) (?:rg|RG)\b", text):
            colours.add((float(r), float(g), float(b)))
    return colours


def test_poster_draws_and_lists_the_emergency_features_in_neutral_colours(plant, tmp_path):
    pdf = poster(plant, "pdf", PosterOptions(paper="A3"))
    text = pdftotext(pdf, tmp_path)
    for role in EMERGENCY_ROLES:
        assert load_layer_style("layout").class_of(role).zh in text, role
    # every colour set in the PDF is a grey or a level colour as the regions/units layers fill it
    legal = [np.array([int(c.fill[i:i + 2], 16) / 255 for i in (1, 3, 5)])
             for name in ("regions", "units") for c in load_layer_style(name).classes if c.fill]
    colours = _pdf_colours(pdf)
    hues = [c for c in colours if not c[0] == c[1] == c[2]]
    assert len(hues) >= 4 and len(colours) > len(hues)
    for c in hues:
        assert min(np.abs(np.array(c) - lv).max() for lv in legal) < 0.003, c


def test_a_post_card_names_its_nearest_assembly_point_and_escape_route(plant):
    tree = UnitTree(plant.units)
    index = EmergencyIndex(plant.features, plan_crs(plant)[0])
    posts = [u for u in plant.units if u.kind is UnitKind.POST]
    texts = [dict(card_content(plant, u, tree, "http://example.org", emergency_index=index).fields)["应急疏散"]
             for u in posts]
    assert all("最近集合点：" in t and "最近疏散路线：" in t for t in texts)
    assert any("1号紧急集合点" in t for t in texts) and any("2号紧急集合点" in t for t in texts)
    assert all(re.search(r"（(约 \d+ 米|相邻)）", t) for t in texts)
    assert any("通往" in t for t in texts)                # an unnamed route says where it leads
    equipment = next(u for u in plant.units if u.kind is UnitKind.EQUIPMENT)
    assert "应急疏散" not in dict(card_content(plant, equipment, tree, "http://example.org").fields)


def test_nearest_is_measured_in_metres_and_says_when_none_is_recorded():
    crs = "+proj=tmerc +lat_0=32 +lon_0=119 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    here = shapely.Point(119.0, 32.0)
    metre = 1 / 111_320
    features = gpd.GeoDataFrame({
        "fid": ["a", "b", "r"], "name": ["近点", "远点", None], "role": ["assembly_point", "assembly_point",
                                                                      "escape_route"]},
        geometry=[shapely.Point(119.0, 32.0 + 50 * metre), shapely.Point(119.0, 32.0 + 500 * metre),
                  shapely.LineString([(119.0, 32.0 + 10 * metre), (119.0, 32.0 + 48 * metre)])], crs=4326)
    found = EmergencyIndex(features, crs).nearest(here)
    assert found["assembly_point"].name == "近点"
    assert found["assembly_point"].distance_m == pytest.approx(50, abs=0.5)
    assert found["escape_route"].distance_m == pytest.approx(10, abs=0.2)
    assert found["escape_route"].leads_to == "近点"
    assert "通往近点的疏散路线（约 10 米）" in card_text(found)
    none = EmergencyIndex(features[features.role == "escape_route"], crs).nearest(here)
    assert "总平面图上未登记集合点" in card_text(none)
    assert card_text(EmergencyIndex(features, crs).nearest(None)).count("未登记") == 2
    assert metres_text(0.1) == "相邻" and metres_text(123) == "约 125 米"


# ------------------------------------------------------------------------------------------- editing


@pytest.fixture
def client(demo_db, tmp_path):
    copy = tmp_path / "demo.db"
    with sqlite3.connect(demo_db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    url = f"sqlite:///{copy}"
    with TestClient(create_app(Settings(db=url))) as c:
        c.db_url = url
        yield c


def test_the_editing_api_takes_emergency_roles_and_refuses_wrong_shapes(client, editor_token):
    auth = editor_token(client.db_url, name="张工")
    layout_url = "/ogc/collections/layout/items"
    region = client.get(f"{layout_url}/B1").json()
    c = shape(region["geometry"]).centroid
    route = shapely.LineString([(c.x, c.y), (c.x + 0.0003, c.y)])
    created = client.post(layout_url, json={"type": "Feature", "geometry": mapping(route),
                                            "properties": {"name": "新疏散路线", "role": "escape_route"}},
                          headers=auth)
    assert created.status_code == 201, created.text
    back = client.get(created.headers["location"]).json()
    assert back["properties"]["role"] == "escape_route"
    got = np.array(back["geometry"]["coordinates"])
    assert np.allclose(got, np.array(route.coords), atol=1e-7)         # vertex order (direction) kept
    before = client.get(layout_url, params={"role": "fire_hydrant", "limit": 1000}).json()["numberMatched"]
    refused = client.post(layout_url, json={"type": "Feature", "geometry": mapping(shapely.box(c.x, c.y, c.x + 1e-4,
                                                                                               c.y + 1e-4)),
                                            "properties": {"name": "错", "role": "fire_hydrant"}}, headers=auth)
    assert refused.status_code == 422
    after = client.get(layout_url, params={"role": "fire_hydrant", "limit": 1000}).json()
    assert after["numberMatched"] == before == 6
    assert {f["properties"]["role"] for f in after["features"]} == {"fire_hydrant"}


def test_the_web_legend_rows_come_from_what_the_map_snapshot_draws(store_url):
    """emergency_drawn reads the map snapshot (both backends): the demo's emergency roles with their kinds."""
    from riskmap.demo import load_demo
    from riskmap.render.webmap import emergency_drawn
    from riskmap.store import open_store

    load_demo(Settings(db=store_url))
    store = open_store(store_url)
    name = store.enterprises()[0].name
    drawn = emergency_drawn(store, name)
    assert drawn == {"assembly_point": "polygon", "escape_route": "line", "emergency_exit": "point",
                     "fire_hydrant": "point", "extinguisher": "point", "eyewash": "point",
                     "emergency_store": "point"}
    assert emergency_drawn(store, "没有这家企业") == {}
    rows = emergency_legend(load_layer_style("layout"), drawn)
    assert [r["key"] for r in rows][0] == "emergency_store" and len(rows) == 7


def test_an_assembly_area_shows_its_symbol_inside_on_tiles_and_keeps_its_inside_clear(layout):
    from kit import frac_box

    view = view_at(18)
    frame = gpd.GeoDataFrame({"role": ["assembly_point"], "name": [None]},
                             geometry=[frac_box(view, 0.2, 0.2, 0.8, 0.8)], crs=3857)
    px = decode(render_png(frame, view, layout, labels=False))
    centre = px[118:139, 118:139]
    opaque = centre[centre[..., 3] == 255][:, 0].astype(int)
    assert (opaque < 80).sum() > 10 and (opaque > 200).sum() > 10        # 集 in its white square
    assert px[80, 80, 3] == 0                                            # no fill: the risk colour shows
    assert neutral(px[px[..., 3] > 0][..., :3])


def test_hostile_and_huge_feature_names_still_print_a_card(plant, tmp_path):
    from riskmap.print.cards import cards_pdf

    features = plant.features.copy()
    hostile = "\x00\x1b[31m集合点<script>" + "长" * 2000
    features.loc[features.role == "assembly_point", "name"] = hostile
    twin = type(plant)(**{**{f: getattr(plant, f) for f in plant.__dataclass_fields__}, "features": features})
    post = next(u for u in twin.units if u.kind is UnitKind.POST)
    fields = dict(card_content(twin, post, UnitTree(twin.units), "http://example.org").fields)
    assert "\x00" not in fields["应急疏散"] and "\x1b" not in fields["应急疏散"]
    pdf = cards_pdf(twin, base_url="http://example.org", unit_ids=[post.id], per_sheet=1)
    assert pdf.startswith(b"%PDF") and "集合点" in pdftotext(pdf, tmp_path)


def test_floor_plan_exits_and_routes_of_the_drawings_take_the_emergency_roles():
    """A role is a role wherever the feature lies: the demo's floor plans' 安全出口 and 疏散路线 layers are exits and
    escape routes, and an exit drawn as a doorway area may be edited as one."""
    from riskmap.symbology import layers_dir

    drawings = sorted((layers_dir().parent / "data" / "demo").glob("drawing-*.dxf"))
    if not drawings:
        pytest.skip("no floor plans in this demo")
    feats = read_dxf(drawings[0]).features
    assert {"emergency_exit", "escape_route"} <= set(feats.role)
    door = feats[feats.role == "emergency_exit"].geometry.iloc[0]
    assert door.geom_type == "Polygon"
    check_edit_geometry(mapping(shapely.box(119.7, 32.3, 119.70001, 32.30001)), "emergency_exit",
                        (119.69, 32.29, 119.71, 32.31))


def test_a_drawings_legend_rows_come_from_its_own_features():
    from riskmap.render.webmap import emergency_kinds

    roles = ["emergency_exit", "emergency_exit", "escape_route", "building", "assembly_point", "assembly_point"]
    geoms = [shapely.box(0, 0, 1, 1), shapely.Point(0, 0), shapely.LineString([(0, 0), (1, 1)]),
             shapely.box(0, 0, 9, 9),
             shapely.Point(1, 1), shapely.Point(2, 2)]
    assert emergency_kinds(roles, geoms) == {"emergency_exit": "polygon", "escape_route": "line",
                                             "assembly_point": "point"}
    assert emergency_kinds([], []) == {}
