"""Hidden hazards in the exports (issue 13): `riskmap export` writes them into the GeoPackage as hazards_points and
hazards_areas (as the OGC collection publishes them: rejected and anonymous unconfirmed reports left out) with
typed fields and their own QGIS style and SLD, and as GeoJSON with `--layer hazards`; QGIS opens the GeoPackage
with the hazards' symbols (rule-based: shape by level, fill by state, a ring when overdue, never a risk colour)."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET

import numpy as np
import pyogrio
import pytest
import shapely
from clikit import one_line_error, run

from riskmap.hazards import Actor
from riskmap.people import ROLES
from riskmap.render.style import RISK_COLOURS, colour_distance
from riskmap.store import hazards as hz
from riskmap.store import open_store

MANAGER = Actor("张经理", None, ROLES["safety_manager"][2])


@pytest.fixture(scope="module")
def plant_url(demo_db, tmp_path_factory):
    """A copy of the demo with an area hazard, a rejected report and an anonymous one added."""
    from kit import copy_db

    url = copy_db(demo_db, tmp_path_factory.mktemp("hazards-export") / "demo")
    store = open_store(url)
    name = store.enterprises()[0].name
    frame = hz.hazards_frame(store, name)
    x, y = shapely.get_coordinates(frame.geometry.dropna().values[0])[0]
    area = shapely.box(x - 0.0002, y - 0.0001, x + 0.0002, y + 0.0001)
    made = hz.report(store, name, MANAGER, {"name": "围堰破损区域", "level": 0, "source": 3,
                                            "location": shapely.geometry.mapping(area)})
    rejected = hz.report(store, name, MANAGER, {"name": "误报", "level": 0, "source": 3,
                                                "location": {"type": "Point", "coordinates": [x, y]}})
    hz.write(store, name, rejected["hazard"]["id"], "reject", MANAGER, {}, reason="不是隐患")
    hz.report_anonymous(store, name, "10.0.0.9", {"name": "匿名上报", "description": "地面油污",
                                                 "location": {"type": "Point", "coordinates": [x, y]}},
                        per_hour=10, per_day=100)
    store.close()
    return url, made["hazard"]["id"], rejected["hazard"]["id"]


@pytest.fixture(scope="module")
def gpkg(plant_url, tmp_path_factory):
    url = plant_url[0]
    out = tmp_path_factory.mktemp("hazards-gpkg") / "plant.gpkg"
    done = run("export", out, "--db", url)
    assert "hazards_points" in done.stdout and "hazards_areas" in done.stdout
    return out


def _published(url):
    store = open_store(url)
    try:
        name = store.enterprises()[0].name
        frame = hz.hazards_frame(store, name)
        listed = {h["id"]: h for h in hz.listing(store, name)}
    finally:
        store.close()
    return frame, listed


def test_geopackage_has_the_published_hazards_typed(gpkg, plant_url):
    url, area_id, rejected_id = plant_url
    frame, _ = _published(url)
    layers = {name: geom for name, geom in pyogrio.list_layers(gpkg)}
    assert layers["hazards_points"] == "Point" and layers["hazards_areas"] == "Polygon", layers
    points = pyogrio.read_dataframe(gpkg, layer="hazards_points")
    areas = pyogrio.read_dataframe(gpkg, layer="hazards_areas")
    got = set(points["hazard_id"]) | set(areas["hazard_id"])
    expected = set(frame[(frame["state"] != "rejected") & frame.geometry.notna()]["id"])
    assert got == expected and area_id in set(areas["hazard_id"]) and rejected_id not in got
    assert "匿名上报" not in set(points["name"])              # never published before a manager confirms it
    area = areas[areas["hazard_id"] == area_id].iloc[0]
    assert area["state"] == "reported" and area["state_zh"] and area["danger_level"] == 0
    assert shapely.equals_exact(area.geometry, shapely.normalize(area.geometry), 1e-9) or area.geometry.area > 0
    info = pyogrio.read_info(gpkg, layer="hazards_points")
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["overdue"] == "bool" and types["danger_level"] == "int64"
    assert types["deadline"].startswith("datetime64") and types["registered"].startswith("datetime64")
    row = frame.set_index("id")
    for _, p in points.iterrows():
        assert bool(p["overdue"]) == bool(row.loc[p["hazard_id"], "overdue"])
        assert p["state"] == row.loc[p["hazard_id"], "state"]
    assert points["overdue"].any(), "the demo has overdue hazards"


def test_geopackage_carries_the_hazard_symbols(gpkg):
    with sqlite3.connect(gpkg) as db:
        styles = dict(db.execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall())
        slds = dict(db.execute("SELECT f_table_name, styleSLD FROM layer_styles").fetchall())
    for table in ("hazards_points", "hazards_areas"):
        qml = ET.fromstring(styles[table].split("\n", 1)[1])
        renderer = qml.find("renderer-v2")
        assert renderer.get("type") == "RuleRenderer" and renderer.get("symbollevels") == "1"
        labels = [r.get("label") for r in renderer.iter("rule")]
        assert any("已超期" in label for label in labels) and any("重大隐患" in label for label in labels)
        colours = {o.get("value") for o in qml.iter("Option") if o.get("name") in ("color", "outline_color")}
        for colour in colours - {"0,0,0,0"}:
            rgb = "#" + "".join(f"{int(v):02X}" for v in colour.split(",")[:3])
            assert min(colour_distance(rgb, risk) for risk in RISK_COLOURS) >= 120, (table, rgb)
        if table == "hazards_areas":      # drawn at a point inside the area, as the tiles draw it
            assert {layer.get("class") for layer in qml.iter("layer")} >= {"CentroidFill", "SimpleMarker"}
        sld = ET.fromstring(slds[table].split("\n", 1)[1])
        names = [e.text for e in sld.iter("{http://www.opengis.net/sld}Name")]
        assert table in names and "major-open" in names and "overdue-general" in names


def test_geojson_of_the_hazards(plant_url, tmp_path):
    url, area_id, _ = plant_url
    out = tmp_path / "hazards.geojson"
    done = run("export", out, "--layer", "hazards", "--db", url)
    assert "hazards" in done.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc          # RFC 7946
    by_id = {f["properties"]["hazard_id"]: f for f in doc["features"]}
    area = by_id[area_id]
    assert area["geometry"]["type"] == "Polygon"
    ring = np.asarray(area["geometry"]["coordinates"][0])
    assert shapely.Polygon(ring).exterior.is_ccw                           # RFC 7946: exterior counter-clockwise
    assert all(73 < x < 136 and 3 < y < 54 for x, y in ring)
    assert {type(f["properties"]["overdue"]) for f in doc["features"]} == {bool}


def test_unknown_layer_is_a_one_line_error(plant_url, tmp_path):
    one_line_error(run("export", tmp_path / "x.geojson", "--layer", "dangers", "--db", plant_url[0], check=False),
                   "hazards")
    assert not (tmp_path / "x.geojson").exists()


def test_a_plant_without_hazards_exports_an_empty_layer(tmp_path):
    from plants import plant_layout, unit_tree

    url = f"sqlite:///{tmp_path / 'small.db'}"
    store = open_store(url)
    store.save_layout("小厂", plant_layout())
    store.save_units("小厂", unit_tree())
    store.close()
    out = tmp_path / "none.gpkg"
    run("export", out, "--db", url, "--enterprise", "小厂")
    assert dict(pyogrio.list_layers(out)).get("hazards_points") is not None
    assert len(pyogrio.read_dataframe(out, layer="hazards_points")) == 0
    units = pyogrio.read_dataframe(out, layer="units_areas")
    dates = units["last_assessed"]
    assert dates.notna().sum() == 1 and dates.isna().sum() == len(units) - 1     # not assessed: no date


def test_qgis_draws_the_hazards_as_the_map_does(gpkg, plant_url, tmp_path):
    """QGIS opens both hazard tables with their rule-based style and draws each open hazard in magenta at its
    place (an area at a point inside it), an overdue one ringed in black; nothing in a risk colour."""
    from PIL import Image
    from test_qgis_client import _qgis

    points = pyogrio.read_dataframe(gpkg, layer="hazards_points").to_crs(3857)
    areas = pyogrio.read_dataframe(gpkg, layer="hazards_areas").to_crs(3857)
    xmin, ymin = min(points.total_bounds[0], areas.total_bounds[0]), min(points.total_bounds[1],
                                                                          areas.total_bounds[1])
    xmax, ymax = max(points.total_bounds[2], areas.total_bounds[2]), max(points.total_bounds[3],
                                                                          areas.total_bounds[3])
    pad = max(xmax - xmin, ymax - ymin) * 0.1 + 20
    extent = [xmin - pad, ymin - pad, xmax + pad, ymax + pad]
    width = 1200
    height = int(width * (extent[3] - extent[1]) / (extent[2] - extent[0]))
    png = str(tmp_path / "hazards.png")
    out = _qgis({"layers": [{"uri": f"{gpkg}|layername=hazards_areas", "provider": "ogr", "name": "areas"},
                            {"uri": f"{gpkg}|layername=hazards_points", "provider": "ogr", "name": "points"}],
                 "render": {"crs": "EPSG:3857", "extent": extent, "width": width, "height": height, "png": png}},
                tmp_path)
    areas_info, points_info, render = out
    for info in (areas_info, points_info):
        assert info["valid"] and info["renderer"] == "RuleRenderer" and info["symbol_levels"], info
        assert any(r["label"].startswith("重大隐患·未整改") for r in info["rules"])
    assert render["errors"] == []
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    vx0, vy0, vx1, vy1 = render["visible_extent"]

    def at(x, y):
        col = int((x - vx0) / (vx1 - vx0) * width)
        row = int((vy1 - y) / (vy1 - vy0) * height)
        return pixels[max(0, row - 2):row + 3, max(0, col - 2):col + 3].reshape(-1, 3)

    magenta = np.array([0xB0, 0x00, 0xB0])
    open_states = {"reported", "confirmed", "assigned", "rectifying"}
    inside = shapely.point_on_surface(areas.geometry.values)
    for geom, state in [*zip(points.geometry.values, points["state"], strict=True),
                        *zip(inside, areas["state"], strict=True)]:
        if state in open_states:
            near = at(geom.x, geom.y)
            assert (np.abs(near - magenta).max(axis=1) < 40).any(), (state, geom)
    risk = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in RISK_COLOURS])
    drawn = pixels.reshape(-1, 3)
    for colour in risk:
        assert not (np.abs(drawn - colour).max(axis=1) < 30).any(), colour
    overdue = points[points["overdue"].astype(bool)]
    assert len(overdue)
    for geom in overdue.geometry.values:
        col = int((geom.x - vx0) / (vx1 - vx0) * width)
        row = int((vy1 - geom.y) / (vy1 - vy0) * height)
        ring = pixels[max(0, row - 16):row + 17, max(0, col - 16):col + 17].reshape(-1, 3)
        assert (ring.max(axis=1) < 40).sum() > 20          # the black ring round it
