"""Several drawings per site: storeys, workshop plans and a schematic drawing beside the site plan (issue 19).

Store tests run on both backends with small hand-made drawings; map, tile, print and HTTP tests read the demo
(its office building's three storeys, the reaction workshop's two and the synthesis PFD).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import ezdxf
import geopandas as gpd
import numpy as np
import pytest
import shapely
from kit import DEMO_ENTERPRISE, hex_rgb, make_client, mvt, rgba
from shapely.geometry import box

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.drawings import (
    feature_cell,
    new_drawing,
    parse_feature_cell,
    plane_tile,
    schematic_plane,
    storey_order,
    units_on_drawing,
)
from riskmap.errors import InputError, NotFoundError
from riskmap.geo.importer import import_layout
from riskmap.levels import Level, load_palette

ENT = "楼层化工"
# a building of 40 m × 20 m near (120.0, 32.0), and a region around it
LON0, LAT0 = 120.0, 32.0
DX, DY = 0.0004, 0.00018        # about 38 m × 20 m


def _site_geojson(path: Path) -> Path:
    gdf = gpd.GeoDataFrame({"name": ["厂区", "办公楼"], "role": ["region", "building"]},
                           geometry=[box(LON0 - DX, LAT0 - DY, LON0 + 2 * DX, LAT0 + 2 * DY),
                                     box(LON0, LAT0, LON0 + DX, LAT0 + DY)], crs="EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")
    return path


def _floor_geojson(path: Path, shift: float = 0.0) -> Path:
    half = LON0 + DX / 2
    gdf = gpd.GeoDataFrame({"name": ["西区", "东区", "101", "102"], "role": ["region", "region", "building",
                                                                                "building"]},
                           geometry=[box(LON0 + shift, LAT0, half + shift, LAT0 + DY),
                                     box(half + shift, LAT0, LON0 + DX + shift, LAT0 + DY),
                                     box(LON0 + DX * 0.1 + shift, LAT0 + DY * 0.1, LON0 + DX * 0.4 + shift,
                                         LAT0 + DY * 0.9),
                                     box(LON0 + DX * 0.6 + shift, LAT0 + DY * 0.1, LON0 + DX * 0.9 + shift,
                                         LAT0 + DY * 0.9)], crs="EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")
    return path


def _schematic_dxf(path: Path) -> Path:
    doc = ezdxf.new("R2013", units=4)
    msp = doc.modelspace()
    for name, (x0, y0, x1, y1) in {"V-1": (0, 0, 40, 80), "P-1": (100, 0, 130, 30)}.items():
        msp.add_lwpolyline([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], close=True, dxfattribs={"layer": "设备"})
        msp.add_text(name, height=4, dxfattribs={"layer": "文字"}).set_placement(((x0 + x1) / 2, (y0 + y1) / 2))
    msp.add_lwpolyline([(40, 40), (100, 15)], dxfattribs={"layer": "管线"})
    doc.saveas(path)
    return path


def _unit(uid: str, level: Level, parent: str | None = None, feature: str | None = None) -> AssessmentUnit:
    site, placements = parse_feature_cell(feature)
    return AssessmentUnit(uid, f"单元{uid}", UnitKind.POST if parent else UnitKind.MAIN, parent_id=parent,
                          feature_ref=site, placements=placements,
                          events=[RiskEvent(f"事件{uid}", residual_level=level)])


def _import(store, path: Path, drawing=None, **kw):
    return store.save_layout(ENT, import_layout(path, schematic=bool(drawing and drawing.schematic), **kw),
                             drawing=drawing)


# ------------------------------------------------------------------------------------------------- domain


def test_feature_cells_name_the_site_plan_and_other_drawings():
    assert parse_feature_cell("罐区") == ("罐区", {})
    assert parse_feature_cell("B-1; 办公楼-2F::201；PFD::R-101") == ("B-1", {"办公楼-2F": "201", "PFD": "R-101"})
    assert parse_feature_cell("办公楼-2F::201") == (None, {"办公楼-2F": "201"})
    assert parse_feature_cell("site::罐区") == ("罐区", {})
    assert parse_feature_cell(None) == (None, {}) and parse_feature_cell("  ") == (None, {})
    cell = "B-1; PFD::R-101; 办公楼-2F::201"
    assert feature_cell(*parse_feature_cell(cell)) == cell
    for bad in ("A; B", "::201", "办公楼-2F::", "X::1; X::2"):
        with pytest.raises(ValueError):
            parse_feature_cell(bad)


def test_a_drawing_is_checked_when_it_is_named():
    floor = new_drawing("办公楼-2F", building="B-1", storey="2f")
    assert (floor.kind, floor.storey, floor.storey_order) == ("floor", "2F", 2)
    assert new_drawing("PFD", schematic=True).kind == "schematic"
    assert new_drawing("车间", title="车间平面图").kind == "workshop"
    assert [storey_order(s) for s in ("B2", "B1", "1F", "12F", "RF")] == [-2, -1, 1, 12, 999]
    with pytest.raises(InputError, match="needs its building"):
        new_drawing("2F", storey="2F")
    with pytest.raises(InputError, match="no CRS"):
        new_drawing("PFD", schematic=True, crs="EPSG:4549")
    with pytest.raises(InputError, match="no CRS"):
        new_drawing("PFD", schematic=True, control_points=True)
    for bad in ("", "a b", "a/b", "x::y", "q?", "7" * 65):
        with pytest.raises(InputError):
            new_drawing(bad)
    with pytest.raises(InputError, match="B1, 1F"):
        new_drawing("X", building="B-1", storey="second")


def test_a_schematic_plane_is_one_tile_of_its_own_matrix():
    plane = schematic_plane((0.0, 0.0, 400.0, 250.0))
    assert plane["size"] >= 400 and plane["origin"] == [0.0, 250.0]
    z0 = plane["zoom"]
    assert plane_tile(plane, 0, 0, 0) == (z0, 2 ** (z0 - 1), 2 ** (z0 - 1))
    assert plane_tile(plane, 2, 3, 1) == (z0 + 2, 2 ** (z0 - 1) * 4 + 3, 2 ** (z0 - 1) * 4 + 1)


def test_units_on_a_drawing_stand_on_their_features_there():
    units = [_unit("A", Level.LOW, feature="B-1; 2F::201"), _unit("B", Level.MAJOR, "A")]
    placed = units_on_drawing(units, "2F")
    assert [(u.feature_ref, u.geometry) for u in placed] == [("201", None), (None, None)]
    assert units[0].feature_ref == "B-1"                  # the units themselves are left as they are


# ------------------------------------------------------------------------------------------------- store


def test_drawings_are_kept_apart_and_units_bound_to_them(store, tmp_path):
    site = _site_geojson(tmp_path / "site.geojson")
    _import(store, site)
    site_before = store.layout_features(ENT)
    building = str(site_before.loc[site_before["name"] == "办公楼", "fid"].iloc[0])
    floor = new_drawing("办公楼-1F", building="办公楼", storey="1F")       # a building named by its unique name
    n_floor = _import(store, _floor_geojson(tmp_path / "f1.geojson"), floor)
    pfd = new_drawing("PFD", schematic=True, title="工艺流程图")
    _import(store, _schematic_dxf(tmp_path / "pfd.dxf"), pfd)

    # the site plan is read as before: its own features, its own last version
    site_after = store.layout_features(ENT)
    assert sorted(site_after["fid"]) == sorted(site_before["fid"])
    assert store.layout_info(ENT)["version"] == 1 and store.layout_info(ENT, drawing="办公楼-1F")["version"] == n_floor
    assert set(store.layout_features(ENT, drawing="办公楼-1F")["name"]) == {"西区", "东区", "101", "102"}
    assert [d.key for d in store.drawings(ENT)] == ["site", "办公楼-1F", "PFD"]
    stored = store.drawing(ENT, "办公楼-1F")
    assert (stored.building_ref, stored.storey, stored.storey_order) == (building, "1F", 1)
    plane = store.drawing(ENT, "PFD").plane
    assert plane and plane["origin"] == [0.0, 80.0]
    b = store.layout_features(ENT, drawing="PFD").total_bounds
    assert abs(b[0]) < 0.01 and abs(b[1]) < 0.01                   # kept near (0°, 0°), not on the plant

    units = [_unit("U", Level.LOW, feature="厂区"), _unit("R1", Level.MAJOR, "U", "办公楼-1F::101"),
             _unit("R2", Level.GENERAL, "U", "办公楼-1F::102; PFD::V-1")]
    store.save_units(ENT, units)
    got = {u.id: u for u in store.units(ENT)}
    fids = store.layout_features(ENT, drawing="办公楼-1F").set_index("name")["fid"]
    assert got["R1"].placements == {"办公楼-1F": str(fids["101"])}            # bound by fid
    assert got["R1"].feature_ref == building          # on the site plan it stands on its building (短板)
    pfd_fid = store.layout_features(ENT, drawing="PFD").set_index("name")["fid"]["V-1"]
    assert got["R2"].placements["PFD"] == str(pfd_fid)

    # region risk per drawing, and the building decided by its storey
    from riskmap.plant import load_plant

    plant = load_plant(store, ENT, drawing="办公楼-1F")
    levels = {r.name: r.level for r in plant.region_risk()}
    assert levels == {"西区": Level.MAJOR, "东区": Level.GENERAL}
    site_risk = load_plant(store, ENT).region_risk()[0]
    assert site_risk.level == Level.MAJOR and site_risk.decided_by.id == "R1"
    assert site_risk.decided_by.drawings == ("办公楼-1F",)
    assert "位于图纸 办公楼-1F" in site_risk.explanation


def test_bad_drawings_are_refused_and_write_nothing(store, tmp_path):
    _import(store, _site_geojson(tmp_path / "site.geojson"))
    version = store.data_version(ENT)
    far = _floor_geojson(tmp_path / "far.geojson", shift=0.05)       # some 5 km east of its building
    with pytest.raises(InputError, match="lies about"):
        _import(store, far, new_drawing("办公楼-2F", building="办公楼", storey="2F"))
    with pytest.raises(InputError, match="no single feature"):
        _import(store, _floor_geojson(tmp_path / "f.geojson"), new_drawing("X-1F", building="无此楼", storey="1F"))
    assert store.data_version(ENT) == version
    assert [d.key for d in store.drawings(ENT)] == ["site"]
    with pytest.raises(NotFoundError, match="no drawing"):
        store.layout_features(ENT, drawing="办公楼-2F")



def test_references_to_a_drawing_not_imported_yet_wait_for_it(store, tmp_path):
    from riskmap.drawings import not_imported_warning

    _import(store, _site_geojson(tmp_path / "site.geojson"))
    units = [_unit("U", Level.LOW, feature="厂区"), _unit("R", Level.MAJOR, "U", "办公楼-2F::101")]
    assert "not imported yet: 办公楼-2F" in not_imported_warning(units, {"site"})
    store.save_units(ENT, units)
    waiting = next(u for u in store.units(ENT) if u.id == "R")
    assert waiting.placements == {"办公楼-2F": "101"} and waiting.feature_ref is None
    ledger = store.ledger_info(ENT)["version"]
    _import(store, _floor_geojson(tmp_path / "f2.geojson"), new_drawing("办公楼-2F", building="办公楼", storey="2F"))
    bound = next(u for u in store.units(ENT) if u.id == "R")
    fids = store.layout_features(ENT, drawing="办公楼-2F").set_index("name")["fid"]
    building = store.drawing(ENT, "办公楼-2F").building_ref
    assert bound.placements == {"办公楼-2F": str(fids["101"])} and bound.feature_ref == building
    assert store.ledger_info(ENT)["version"] > ledger                       # a "bind" version of its own
    from riskmap.plant import load_plant

    assert load_plant(store, ENT).region_risk()[0].level == Level.MAJOR      # the building decides its region


def test_a_drawing_imported_again_replaces_only_itself(store, tmp_path):
    _import(store, _site_geojson(tmp_path / "site.geojson"))
    floor = new_drawing("办公楼-1F", building="办公楼", storey="1F")
    _import(store, _floor_geojson(tmp_path / "f1.geojson"), floor)
    first = store.layout_info(ENT, drawing="办公楼-1F")["version"]
    _import(store, _floor_geojson(tmp_path / "f1.geojson"), floor)
    assert len(store.layout_versions(ENT, drawing="办公楼-1F")) == 2
    assert len(store.layout_features(ENT, drawing="办公楼-1F")) == 4
    assert len(store.layout_features(ENT, drawing="办公楼-1F", version=first)) == 4
    assert len(store.layout_features(ENT)) == 2 and len(store.layout_versions(ENT)) == 1


def test_a_drawing_is_edited_feature_by_feature_like_the_site_plan(store, tmp_path):
    from riskmap.errors import EditConflict
    from riskmap.plant import load_plant

    _import(store, _site_geojson(tmp_path / "site.geojson"))
    floor = new_drawing("办公楼-1F", building="办公楼", storey="1F")
    _import(store, _floor_geojson(tmp_path / "f1.geojson"), floor)
    store.save_units(ENT, [_unit("U", Level.LOW, feature="厂区"), _unit("R", Level.MAJOR, "U", "办公楼-1F::103")])
    site_fids = sorted(store.layout_features(ENT)["fid"])
    site_version = store.layout_info(ENT)["version"]
    feats = store.layout_features(ENT, drawing="办公楼-1F").set_index("name")
    west = str(feats.loc["西区", "fid"])
    on_site = store.feature(ENT, west)                 # fids are a drawing's own: the site plan's is another
    assert on_site is None or on_site.name != "西区"
    found = store.feature(ENT, west, drawing="办公楼-1F")
    assert found is not None and found.name == "西区"

    # a new room: the unit waiting for "103" on that storey is bound to it, and the storey's region turns red
    room = box(LON0 + DX * 0.15, LAT0 + DY * 0.2, LON0 + DX * 0.3, LAT0 + DY * 0.5)
    made = store.create_feature(ENT, None, "building", room, feature_name="103", drawing="办公楼-1F",
                                author="甲", reason="新隔出的房间")
    assert store.layout_info(ENT, drawing="办公楼-1F")["version"] == made.layout_number
    assert store.layout_info(ENT)["version"] == site_version                # the site plan did not move
    assert sorted(store.layout_features(ENT)["fid"]) == site_fids
    r = next(u for u in store.units(ENT) if u.id == "R")
    assert r.placements == {"办公楼-1F": made.fid}
    levels = {x.name: x.level for x in load_plant(store, ENT, drawing="办公楼-1F").region_risk()}
    assert levels["西区"] == Level.MAJOR

    # replace / patch / delete / restore, each a version of this drawing, with If-Match
    renamed = store.patch_feature(ENT, west, found.edit_tag, {"name": "西侧"}, drawing="办公楼-1F")
    with pytest.raises(EditConflict):
        store.patch_feature(ENT, west, found.edit_tag, {"name": "又改"}, drawing="办公楼-1F")
    with pytest.raises(NotFoundError):
        store.patch_feature(ENT, made.fid, made.edit_tag, {"name": "错图"})      # the site plan has no such fid
    store.delete_feature(ENT, west, renamed.edit_tag, drawing="办公楼-1F")
    assert west not in set(store.layout_features(ENT, drawing="办公楼-1F")["fid"])
    store.restore_feature(ENT, west, drawing="办公楼-1F")
    back = store.feature(ENT, west, drawing="办公楼-1F")
    assert back.name == "西侧"
    versions = [v["version"] for v in store.layout_versions(ENT, drawing="办公楼-1F")]
    assert len(versions) == 5 and store.layout_info(ENT)["version"] == site_version   # import + 4 edits
    with pytest.raises(NotFoundError, match="no drawing"):
        store.create_feature(ENT, None, "building", room, drawing="无此图")


# ------------------------------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo_client(demo_db):
    with make_client(f"sqlite:///{demo_db}") as client:
        yield client


def _q(text: str) -> str:
    return quote(text, safe="")


LEGAL = {lv: hex_rgb(load_palette().styles[lv].fill) for lv in Level}


def _levels_in(pixels: np.ndarray) -> set[Level]:
    rgb = pixels[..., :3].reshape(-1, 3).astype(int)
    opaque = pixels[..., 3].reshape(-1) == 255
    return {lv for lv, c in LEGAL.items() if (np.abs(rgb[opaque] - c).sum(axis=1) == 0).any()}


DEMO_DRAWINGS = ["办公楼-1F", "办公楼-2F", "办公楼-3F", "反应车间-1F", "反应车间-2F", "合成工艺流程图"]


@pytest.mark.parametrize("drawing", DEMO_DRAWINGS)
def test_every_demo_drawing_shows_all_four_colours(demo_client, drawing):
    tj = demo_client.get(f"/tiles/units/tilejson.json?drawing={_q(drawing)}").json()
    assert tj["drawing"]["key"] == drawing and f"drawing={_q(drawing)}" in tj["tiles"][0]
    if tj["drawing"]["schematic"]:
        assert tj["crs"] == "plane" and tj["tile_matrix"]["y_axis"] == "down"
        z = 1
        tiles = [(z, x, y) for x in range(2) for y in range(2)]
    else:
        from riskmap.render.grid import TMS

        z = 19
        w, s, e, n = tj["bounds"]
        t0, t1 = TMS.tile(w, n, z), TMS.tile(e, s, z)
        tiles = [(z, x, y) for x in range(t0.x, t1.x + 1) for y in range(t0.y, t1.y + 1)]
    found: set[Level] = set()
    for z, x, y in tiles:
        r = demo_client.get(f"/tiles/units/{z}/{x}/{y}.png?drawing={_q(drawing)}")
        assert r.status_code == 200, r.text
        found |= _levels_in(rgba(r.content))
    assert found == set(Level), (drawing, found)


def test_a_drawing_tile_is_not_the_site_plan_tile(demo_client):
    from riskmap.render.grid import TMS

    tj = demo_client.get(f"/tiles/units/tilejson.json?drawing={_q('办公楼-3F')}").json()
    w, s, e, n = tj["bounds"]
    t = TMS.tile((w + e) / 2, (s + n) / 2, 19)
    site = demo_client.get(f"/tiles/units/19/{t.x}/{t.y}.mvt")
    floor = demo_client.get(f"/tiles/units/19/{t.x}/{t.y}.mvt?drawing={_q('办公楼-3F')}")
    assert site.headers["etag"] != floor.headers["etag"]
    names = {f["properties"]["name"] for f in mvt(floor.content)["units"]["features"]}
    assert {"锂电池储能间", "培训室"} <= names
    assert "锂电池储能间" not in {f["properties"]["name"] for f in mvt(site.content).get("units", {})
                                    .get("features", [])}
    bad = demo_client.get("/tiles/units/19/0/0.png?drawing=nope")
    assert bad.status_code == 404 and "no drawing" in bad.json()["detail"]
    outside = demo_client.get(f"/tiles/units/0/1/0.png?drawing={_q('合成工艺流程图')}")
    assert outside.status_code == 404


def test_identify_a_building_opens_its_storeys_and_a_storey_names_its_rooms(demo_client):
    site = demo_client.get("/api/drawings").json()["drawings"]
    keys = [d["key"] for d in site]
    assert keys[0] == "site" and {"办公楼-1F", "办公楼-2F", "办公楼-3F", "合成工艺流程图"} <= set(keys)
    office = demo_client.get("/ogc/collections/layout/items?limit=1000").json()
    footprint = next(shapely.geometry.shape(f["geometry"]) for f in office["features"]
                     if f["properties"].get("name") == "办公楼")
    c = footprint.representative_point()
    body = demo_client.get(f"/api/identify?lon={c.x}&lat={c.y}").json()
    assert [d["storey"] for d in body["storeys"]] == ["1F", "2F", "3F"]
    region = body["regions"][0]
    assert region["level"] == "major" and region["decided_on_drawings"]
    rooms = demo_client.get(f"/ogc/collections/units/items?drawing={_q('办公楼-3F')}&limit=100").json()
    room = next(f for f in rooms["features"] if f["properties"]["name"] == "锂电池储能间")
    p = shapely.geometry.shape(room["geometry"]).representative_point()
    hit = demo_client.get(f"/api/identify?lon={p.x}&lat={p.y}&drawing={_q('办公楼-3F')}").json()
    assert [u["name"] for u in hit["units"]][:1] == ["锂电池储能间"] and "storeys" not in hit


def test_the_map_page_of_a_drawing(demo_client):
    config = demo_client.get(f"/api/map/config?drawing={_q('办公楼-2F')}").json()
    assert config["drawing"]["storey"] == "2F"
    assert [d["storey"] for d in config["storeys"]] == ["1F", "2F", "3F"]
    assert all(f"drawing={_q('办公楼-2F')}" in layer["tilejson"] for layer in config["layers"])
    assert not any(layer["name"] == "basemap" for layer in config["layers"])
    assert sum(row["units"] for row in config["legend"]) >= 4
    pfd = demo_client.get(f"/api/map/config?drawing={_q('合成工艺流程图')}").json()
    assert pfd["drawing"]["schematic"] and pfd["drawing"]["plane"]["size"] > 0
    assert pfd["bounds"][2] - pfd["bounds"][0] > 100                # drawing units, not degrees
    page = demo_client.get(f"/map?drawing={_q('合成工艺流程图')}")
    assert page.status_code == 200 and "riskmap-config" in page.text
    missing = demo_client.get("/map?drawing=nope")
    assert missing.status_code == 404 and "nope" in missing.text


def test_ogc_api_tiles_of_a_storey_and_of_a_schematic_drawing(demo_client):
    ent = _q(DEMO_ENTERPRISE)
    # a storey: WebMercatorQuad like the site plan, but its own features
    q = f"enterprise={ent}&drawing={_q('办公楼-2F')}"
    sets = demo_client.get(f"/ogc/collections/units/tiles?{q}").json()["tilesets"]
    assert {s["title"].split("（")[-1].rstrip("）") for s in sets} == {"WebMercatorQuad", "WorldCRS84Quad"}
    meta = demo_client.get(f"/ogc/collections/units/tiles/WebMercatorQuad?{q}").json()
    limit = next(x for x in meta["tileMatrixSetLimits"] if x["tileMatrix"] == "18")
    template = next(link["href"] for link in meta["links"] if link["rel"] == "item")
    assert "drawing=" in template
    url = template.replace("{tileMatrix}", "18").replace("{tileRow}", str(limit["minTileRow"])) \
        .replace("{tileCol}", str(limit["minTileCol"]))
    storey = demo_client.get(url[url.index("/ogc/"):])
    site = demo_client.get(url[url.index("/ogc/"):].replace(f"&drawing={_q('办公楼-2F')}", ""))
    assert storey.status_code == 200 and storey.headers["etag"] != site.headers.get("etag")
    # a schematic drawing: only its plane's tile matrix set, declared with its own engineering CRS
    q = f"enterprise={ent}&drawing={_q('合成工艺流程图')}"
    sets = demo_client.get(f"/ogc/collections/units/tiles?{q}").json()["tilesets"]
    assert len(sets) == 1 and "ENGCRS" in sets[0]["crs"]["wkt"]
    tms_link = next(link["href"] for link in sets[0]["links"] if link["rel"].endswith("tiling-scheme"))
    tms_id = tms_link.rsplit("/", 1)[1]
    assert tms_id.startswith("DrawingPlane")
    tms = demo_client.get(f"/ogc/tileMatrixSets/{tms_id}").json()
    assert tms["tileMatrices"][0]["matrixWidth"] == 1 and tms["tileMatrices"][0]["pointOfOrigin"] == [0.0, 0.0]
    assert tms["tileMatrices"][1]["cellSize"] * 2 == pytest.approx(tms["tileMatrices"][0]["cellSize"])
    meta = demo_client.get(f"/ogc/collections/units/tiles/{tms_id}?{q}").json()
    first = meta["tileMatrixSetLimits"][0]          # the units' vector tiles start at Web Mercator z17
    assert int(first["tileMatrix"]) == 17 - int(tms_id.removeprefix("DrawingPlane"))
    assert first["minTileRow"] == 0 and first["minTileCol"] == 0
    levels = set()
    for row in range(first["minTileRow"], first["maxTileRow"] + 1):
        for col in range(first["minTileCol"], first["maxTileCol"] + 1):
            tile = demo_client.get(f"/ogc/collections/units/tiles/{tms_id}/{first['tileMatrix']}/{row}/{col}?{q}")
            assert tile.status_code == 200
            levels |= {f["properties"]["level"] for f in mvt(tile.content).get("units", {}).get("features", [])}
    assert levels >= {"major", "low"}
    # the same tile as the /tiles route numbers it (the map's own PNG/MVT tiles of the plane)
    assert demo_client.get(f"/ogc/collections/units/tiles/WebMercatorQuad/0/0/0?{q}").status_code == 404
    assert demo_client.get(f"/ogc/collections/units/tiles?enterprise={ent}&drawing=NOPE").status_code == 404
    assert demo_client.get("/ogc/tileMatrixSets/DrawingPlane99").status_code == 404


def test_a_poster_of_a_storey_says_which_it_is(demo_client, tmp_path):
    from printkit import assert_fonts_embedded, pdftotext

    r = demo_client.get(f"/print/poster.pdf?drawing={_q('办公楼-3F')}")
    assert r.status_code == 200
    text = pdftotext(r.content, tmp_path)
    assert "办公楼三层平面图" in text and "3F" in text and "建筑楼层平面图" in text
    assert_fonts_embedded(r.content, tmp_path)
    pfd = pdftotext(demo_client.get(f"/print/poster.pdf?drawing={_q('合成工艺流程图')}").content, tmp_path)
    assert "合成装置工艺流程图" in pfd and "不表示地理位置" in pfd
    assert "不按比例" in pfd and "北 N" not in pfd and "坐标北" not in pfd     # no north, no scale on a schematic


def test_a_drawing_is_imported_over_http(demo_copy, editor_token, tmp_path):
    from riskmap.store import open_store

    folder = Path(__file__).resolve().parents[1] / "data" / "demo"
    entry = json.loads((folder / "drawings.json").read_text(encoding="utf-8"))[1]
    with make_client(demo_copy) as client:
        headers = editor_token(demo_copy)
        files = {"file": (entry["file"], (folder / entry["file"]).read_bytes()),
                 "control_points": ("cp.csv", (folder / "control_points.csv").read_bytes())}
        form = {"drawing": "办公楼-4F", "building": "办公楼", "storey": "4F"}
        dry = client.post("/api/layout/revise", files=files, data=form, headers=headers)
        assert dry.status_code == 200, dry.text
        assert dry.json()["applied"] is False and dry.json()["diff"]["whole"]
        base = str(dry.json()["base_version"])
        done = client.post("/api/layout/revise", files=files, data=form | {"confirm": "true", "base_version": base},
                           headers=headers)
        assert done.status_code == 200, done.text
        assert done.json()["applied"] and done.json()["drawing"]["storey"] == "4F"
        stale = client.post("/api/layout/revise", files=files, data=form | {"confirm": "true", "base_version": "0"},
                            headers=headers)
        assert stale.status_code == 409
        bad = client.post("/api/layout/revise", files=files, data={"drawing": "X", "storey": "2F"}, headers=headers)
        assert bad.status_code == 422 and "building" in bad.json()["detail"]
        # the drawing exists now: the same file again is revised by its diff (nothing changed), not imported whole
        again = client.post("/api/layout/revise", files=files, data=form, headers=headers)
        assert again.status_code == 200, again.text
        body = again.json()
        assert "whole" not in body["diff"] and body["drawing"]["key"] == "办公楼-4F"
        assert body["base_version"] == done.json()["layout_version"]
        assert body["diff"]["features"] == [], body["diff"]["counts"]             # every feature matched as it is
    with open_store(demo_copy) as store:
        assert store.drawing(DEMO_ENTERPRISE, "办公楼-4F").storey_order == 4


def test_a_drawing_is_edited_over_http_and_in_its_editor_page(demo_copy, editor_token):
    key = "办公楼-2F"
    with make_client(demo_copy) as client:
        headers = editor_token(demo_copy)
        q = f"enterprise={_q(DEMO_ENTERPRISE)}&drawing={_q(key)}"
        site_before = client.get(f"/ogc/collections/layout/items?enterprise={_q(DEMO_ENTERPRISE)}&limit=1000").json()
        items = client.get(f"/ogc/collections/layout/items?{q}&limit=1000").json()["features"]
        room = next(f for f in items if f["geometry"]["type"] == "Polygon" and f["properties"].get("role") != "region")
        url = f"/ogc/collections/layout/items/{_q(str(room['id']))}?{q}"
        got = client.get(url)
        assert got.status_code == 200 and got.json()["properties"]["name"] == room["properties"]["name"]
        tag = got.headers["etag"]
        renamed = client.patch(url, json={"properties": {"name": "会议室（改）"}},
                               headers=headers | {"If-Match": tag, "X-Reason": "room-renamed"})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["properties"]["name"] == "会议室（改）" and renamed.headers["etag"] != tag
        stale = client.patch(url, json={"properties": {"name": "又改"}}, headers=headers | {"If-Match": tag})
        assert stale.status_code == 412
        # a new room drawn on the storey, inside the building: a version of that drawing only
        ring = shapely.geometry.shape(room["geometry"]).buffer(-0.000005)
        made = client.post(f"/ogc/collections/layout/items?{q}", headers=headers, json={
            "type": "Feature", "geometry": shapely.geometry.mapping(ring),
            "properties": {"name": "新隔间", "role": "building"}})
        assert made.status_code == 201, made.text
        info = client.get(f"/api/drawings?enterprise={_q(DEMO_ENTERPRISE)}").json()
        assert info is not None
        site_after = client.get(f"/ogc/collections/layout/items?enterprise={_q(DEMO_ENTERPRISE)}&limit=1000").json()
        assert [f["id"] for f in site_after["features"]] == [f["id"] for f in site_before["features"]]
        names = {f["properties"].get("name") for f in
                 client.get(f"/ogc/collections/layout/items?{q}&limit=1000").json()["features"]}
        assert {"会议室（改）", "新隔间"} <= names
        # far from the storey: refused like a site plan edit far from the plant
        far = client.post(f"/ogc/collections/layout/items?{q}", headers=headers, json={
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [10.0, 10.0]},
            "properties": {"name": "远处", "role": "equipment"}})
        assert far.status_code == 422
        # units are the enterprise's, not a drawing's
        unit = client.get(f"/ogc/collections/units/items?{q}&limit=1").json()["features"][0]
        uurl = f"/ogc/collections/units/items/{_q(str(unit['id']))}?{q}"
        refused = client.patch(uurl, json={"properties": {"name": "x"}}, headers=headers | {"If-Match": "*"})
        assert refused.status_code == 422 and "feature cell" in refused.json()["detail"]
        unknown = client.patch(f"/ogc/collections/layout/items/1?enterprise={_q(DEMO_ENTERPRISE)}&drawing=NOPE",
                               json={"properties": {"name": "x"}}, headers=headers | {"If-Match": "*"})
        assert unknown.status_code == 404 and "no drawing" in unknown.json()["detail"]
        # the history per drawing: the storey's edits, not the site plan's; the diff and restore per drawing
        ent = _q(DEMO_ENTERPRISE)
        mine = client.get(f"/api/history?{q}").json()["items"]
        assert [c["reason"] for c in mine if c["action"] == "feature.rename"] == ["room-renamed"]
        assert all(c["collection"] in ("layout", "regions") for c in mine)
        site_only = client.get(f"/api/history?enterprise={ent}&drawing=site").json()["items"]
        assert "room-renamed" not in {c["reason"] for c in site_only} and site_only
        assert client.get(f"/api/history?enterprise={ent}&drawing=NOPE").status_code == 404
        start = mine[-1]["at"]
        changed = client.get(f"/api/history/diff?{q}&from={_q(start)}&to={_q(mine[0]['at'])}").json()
        assert "新隔间" in json.dumps(changed["layout"], ensure_ascii=False)
        new_fid = made.json()["id"]
        gone = client.delete(f"/ogc/collections/layout/items/{_q(new_fid)}?{q}",
                             headers=headers | {"If-Match": made.headers["etag"]})
        assert gone.status_code == 204
        back = client.post(f"/api/history/restore?{q}", json={"collection": "layout", "id": new_fid,
                                                              "reason": "误删"}, headers=headers)
        assert back.status_code == 201, back.text
        assert client.get(f"/ogc/collections/layout/items/{_q(new_fid)}?{q}").status_code == 200
        # the editor page of the drawing, and of the schematic one (features only: its tiles are of its own plane)
        page = client.get(f"/edit?{q}")
        assert page.status_code == 200 and key in page.text and "drawing=" in page.text
        pfd = client.get(f"/edit?enterprise={_q(DEMO_ENTERPRISE)}&drawing={_q('合成工艺流程图')}")
        assert pfd.status_code == 200 and '"layers": []' in pfd.text.replace('"layers":[]', '"layers": []')


def test_cli_refuses_a_storey_without_its_building(tmp_path):
    from clikit import one_line_error, run

    site = _site_geojson(tmp_path / "site.geojson")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    one_line_error(run("import-layout", site, "--drawing", "2F", "--storey", "2F", "--db", db, check=False),
                   "needs its building")
    one_line_error(run("import-layout", site, "--drawing", "PFD", "--schematic", "--crs", "EPSG:4549", "--db", db,
                       check=False), "no CRS")
    run("import-layout", site, "--db", db)
    done = run("import-layout", _floor_geojson(tmp_path / "f.geojson"), "--drawing", "办公楼-1F",
               "--building", "办公楼", "--storey", "1F", "--db", db)
    assert "办公楼-1F" in done.stdout or "1F" in done.stdout


def test_cli_revises_a_floor_plan_by_its_diff(tmp_path):
    from clikit import one_line_error, run

    db = f"sqlite:///{tmp_path / 'x.db'}"
    run("import-layout", _site_geojson(tmp_path / "site.geojson"), "--db", db)
    floor = ("--drawing", "办公楼-1F", "--building", "办公楼", "--storey", "1F")
    one_line_error(run("import-layout", _floor_geojson(tmp_path / "f.geojson"), "--revise", "--yes", *floor,
                       "--db", db, check=False), "no drawing")                   # nothing to revise yet
    run("import-layout", _floor_geojson(tmp_path / "f.geojson"), *floor, "--db", db)
    revised = tmp_path / "f2.geojson"
    gdf = gpd.read_file(_floor_geojson(tmp_path / "f-moved.geojson"))
    gdf.loc[gdf["name"] == "102", "geometry"] = gdf.loc[gdf["name"] == "102", "geometry"].translate(0.00001, 0)
    gdf.to_file(revised, driver="GeoJSON")
    dry = json.loads(run("import-layout", revised, "--revise", "--dry-run", "--json", *floor, "--db", db).stdout)
    assert dry["drawing"] == "办公楼-1F" and dry["applied"] is False
    assert json.dumps(dry["diff"], ensure_ascii=False).count("102") >= 1
    done = json.loads(run("import-layout", revised, "--revise", "--yes", "--json", *floor, "--db", db).stdout)
    assert done["applied"] is True
    from riskmap.plant import resolve_enterprise
    from riskmap.store import open_store

    with open_store(db) as store:
        name = resolve_enterprise(store, None)
        versions = store.layout_versions(name, drawing="办公楼-1F")
        assert [v["action"] for v in versions][:2] == ["revise", "import"]
        assert len(store.layout_versions(name)) == 1                   # the site plan did not move


def _rotated_site(path: Path, turn_deg: float) -> shapely.Geometry:
    """A site plan whose 40 m × 20 m office building is turned `turn_deg` from east; returns its footprint."""
    from pyproj import Transformer
    from shapely import affinity

    from riskmap.geo.georef import local_tmerc

    back = Transformer.from_crs(local_tmerc(LON0, LAT0), "EPSG:4326", always_xy=True)
    foot = affinity.rotate(box(-20, -10, 20, 10), turn_deg, origin=(0, 0))
    foot = shapely.transform(foot, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
    gdf = gpd.GeoDataFrame({"name": ["厂区", "办公楼"], "role": ["region", "building"]},
                           geometry=[foot.buffer(0.0005), foot], crs="EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")
    return foot


def _floor_plan_mm(path: Path, width_mm: float = 40000, depth_mm: float = 20000) -> Path:
    """A floor plan as architects draw it: millimetres, axis-aligned, from (0, 0), two rooms in the outline."""
    doc = ezdxf.new("R2013", units=4)
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (width_mm, 0), (width_mm, depth_mm), (0, depth_mm)], close=True,
                       dxfattribs={"layer": "建筑-外墙"})
    for x0, x1 in ((0, width_mm / 4), (width_mm * 3 / 4, width_mm)):
        msp.add_lwpolyline([(x0, 0), (x1, 0), (x1, depth_mm), (x0, depth_mm)], close=True,
                           dxfattribs={"layer": "设备-房间"})
    doc.saveas(path)
    return path


def test_a_floor_plan_without_control_points_is_fitted_onto_its_building(store, tmp_path):
    from riskmap.errors import GeoreferenceError
    from riskmap.importing import building_footprint

    foot = _rotated_site(tmp_path / "site.geojson", 8.0)
    _import(store, tmp_path / "site.geojson")
    floor = new_drawing("办公楼-1F", building="办公楼", storey="1F")
    layout = import_layout(_floor_plan_mm(tmp_path / "f1.dxf"), footprint=building_footprint(store, ENT, floor))
    assert layout.georeferenced and layout.georeference["method"] == "footprint"
    assert abs(layout.georeference["rotation_deg"] - 8.0) < 0.01
    assert abs(layout.georeference["scale"] - 0.001) < 1e-6                  # millimetres found from the fit
    outline = layout.features.geometry.union_all()
    assert outline.intersection(foot).area / outline.union(foot).area > 0.99
    store.save_layout(ENT, layout, drawing=floor)                            # within 200 m: stored
    # the east room lies at the east end of the building, not at the west (the plan's up stays up)
    rooms = store.layout_features(ENT, drawing="办公楼-1F")
    east = rooms[rooms["role"] == "equipment"].geometry.centroid.x.max()
    assert east > foot.centroid.x
    # an upside-down turn (188°) is read as 8° too, the smaller one: such a plan needs control points
    foot2 = _rotated_site(tmp_path / "site2.geojson", 188.0)
    assert abs(import_layout(_floor_plan_mm(tmp_path / "f2.dxf"), footprint=foot2)
               .georeference["rotation_deg"] - 8.0) < 0.01
    # a plan of another shape is refused, saying why
    with pytest.raises(GeoreferenceError, match="does not match its building"):
        import_layout(_floor_plan_mm(tmp_path / "sq.dxf", 20000, 20000), footprint=foot)
    # control points or a CRS still win over the footprint
    assert import_layout(_floor_plan_mm(tmp_path / "f3.dxf"), crs="EPSG:3857",
                         footprint=foot).georeference["method"] == "crs"


def test_cli_fits_a_floor_plan_onto_its_building(tmp_path):
    from clikit import one_line_error, run

    db = f"sqlite:///{tmp_path / 'x.db'}"
    _rotated_site(tmp_path / "site.geojson", 8.0)
    run("import-layout", tmp_path / "site.geojson", "--db", db)
    floor = ("--drawing", "办公楼-1F", "--building", "办公楼", "--storey", "1F")
    done = run("import-layout", _floor_plan_mm(tmp_path / "f.dxf"), *floor, "--db", db)
    assert "fitted onto its building's footprint: turned 8.0°" in done.stdout
    one_line_error(run("import-layout", _floor_plan_mm(tmp_path / "sq.dxf", 20000, 20000), *floor, "--db", db,
                       check=False), "does not match its building")


def test_a_drawing_imported_again_with_renumbered_ids_keeps_its_units_placed(store, tmp_path):
    _import(store, _site_geojson(tmp_path / "site.geojson"))
    floor = new_drawing("办公楼-1F", building="办公楼", storey="1F")
    _import(store, _floor_geojson(tmp_path / "f1.geojson"), floor)
    store.save_units(ENT, [_unit("U", Level.LOW, feature="厂区"), _unit("R", Level.MAJOR, "U", "办公楼-1F::102")])
    before = store.layout_features(ENT, drawing="办公楼-1F").set_index("name")["fid"]
    assert next(u for u in store.units(ENT) if u.id == "R").placements == {"办公楼-1F": str(before["102"])}
    # the same plan with its features in reverse order: every id now names another feature
    gdf = gpd.read_file(_floor_geojson(tmp_path / "f2.geojson")).iloc[::-1].reset_index(drop=True)
    gdf.to_file(tmp_path / "f2r.geojson", driver="GeoJSON")
    _import(store, tmp_path / "f2r.geojson", floor)
    after = store.layout_features(ENT, drawing="办公楼-1F").set_index("name")["fid"]
    assert str(after["102"]) != str(before["102"])
    assert next(u for u in store.units(ENT) if u.id == "R").placements == {"办公楼-1F": str(after["102"])}
    from riskmap.plant import load_plant

    levels = {r.name: r.level for r in load_plant(store, ENT, drawing="办公楼-1F").region_risk()}
    assert levels["东区"] == Level.MAJOR                   # 102 is in the east half, and still coloured there
