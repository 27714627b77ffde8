"""DXF import: geometry, blocks, OCS, names, encodings, roles, and refusing bad files.

Every drawing is written by ezdxf in the test; expected geometry comes from ezdxf's own transforms
(`Insert.matrix44()`, `OCS`, `ezdxf.path`), an implementation independent of riskmap's vectorized one.
"""

from __future__ import annotations

import math
import re
import time

import ezdxf
import numpy as np
import pytest
import shapely
from ezdxf import path as ezpath
from ezdxf.math import Matrix44

from riskmap.errors import LayoutImportError
from riskmap.geo.dxf import read_dxf
from riskmap.geo.layermap import LayerMap
from riskmap.geo.model import RawLayout

CJK = re.compile(r"[\u4e00-\u9fff]")
# 1 cm chord error, plus up to 2.5 mm from ezdxf's reference paths, which draw arcs as cubic Béziers
TOLERANCE = 0.0125


def save(doc, tmp_path, name="plan.dxf"):
    path = tmp_path / name
    doc.saveas(path)
    return path


def by_fid(raw: RawLayout):
    return raw.features.set_index("fid")


def new_doc(version="R2018", units=6):
    doc = ezdxf.new(version)
    if units is not None:
        doc.header["$INSUNITS"] = units
    return doc


def expected_paths(doc, fid: str) -> list[np.ndarray]:
    """WCS points of the entity behind a fid, through ezdxf's own INSERT matrices and path tools."""
    db = doc.entitydb
    parts = fid.split("/")
    chain = []
    for part in parts[:-1]:
        match = re.fullmatch(r"([0-9A-F]+)(?:\[(\d+),(\d+)\])?", part)
        insert = db[match.group(1)]
        if match.group(2) is not None:
            row, col = int(match.group(2)), int(match.group(3))
            insert = list(insert.multi_insert())[row * insert.dxf.column_count + col]
        chain.append(insert.matrix44())
    total = Matrix44()
    for m in reversed(chain):       # row vectors: p · M_inner · ... · M_outer
        total = total @ m
    entity = db[parts[-1]]
    paths = list(ezpath.from_hatch(entity)) if entity.dxftype() == "HATCH" else [ezpath.make_path(entity)]
    out = []
    for p in paths:
        pts = [total.transform(v) for v in p.flattening(0.0005)]
        out.append(np.array([(v.x, v.y) for v in pts]))
    return out


def max_offset(points: np.ndarray, geom) -> float:
    """Largest distance from the expected points (densified) to our geometry."""
    line = shapely.LineString(points) if len(points) > 1 else shapely.Point(points[0])
    line = shapely.segmentize(line, max(0.05, line.length / 2000))
    sample = shapely.points(shapely.get_coordinates(line))
    return float(shapely.distance(sample, shapely.boundary(geom) if geom.geom_type.endswith("Polygon")
                                  else geom).max())


# ------------------------------------------------------------------------------------------------ geometry


def test_closed_polyline_with_bulge_is_a_polygon_with_the_arc(tmp_path):
    doc = new_doc()
    # 20 × 10 rectangle whose top edge bulges outwards as a half circle (bulge -1 going right to left)
    doc.modelspace().add_lwpolyline([(0, 0, 0), (20, 0, 0), (20, 10, 1), (0, 10, 0)], format="xyb",
                                    close=True, dxfattribs={"layer": "建筑物"})
    raw = read_dxf(save(doc, tmp_path))
    (geom,) = raw.features.geometry
    assert geom.geom_type == "Polygon" and geom.is_valid
    exact = 200 + math.pi * 100 / 2
    assert exact * 0.999 < geom.area < exact
    assert geom.bounds == pytest.approx((0, 0, 20, 20), abs=1e-9)
    assert raw.features.role.tolist() == ["building"]
    assert raw.crs is None and raw.source_format == "dxf" and raw.drawing_units_m == 1.0


@pytest.mark.parametrize(("units", "radius", "tol"), [(6, 50.0, 0.01), (4, 50_000.0, 10.0), (6, 0.3, 0.01)])
def test_circles_are_densified_within_one_centimetre(tmp_path, units, radius, tol):
    doc = new_doc(units=units)
    doc.modelspace().add_circle((1000, 2000), radius, dxfattribs={"layer": "储罐"})
    raw = read_dxf(save(doc, tmp_path))
    (geom,) = raw.features.geometry
    xy = np.asarray(geom.exterior.coords)
    assert np.allclose(np.hypot(xy[:, 0] - 1000, xy[:, 1] - 2000), radius, rtol=1e-12, atol=1e-9)
    mid = (xy[1:] + xy[:-1]) / 2
    sagitta = radius - np.hypot(mid[:, 0] - 1000, mid[:, 1] - 2000)
    assert sagitta.max() <= tol * (1 + 1e-9)
    assert len(xy) >= 9                           # tiny circles stay polygons
    assert len(xy) < 4 * math.pi * math.sqrt(radius / (2 * tol)) + 16   # and no needless vertices
    assert raw.drawing_units_m == (0.001 if units == 4 else 1.0)


def test_lines_arcs_and_open_polylines_are_lines(tmp_path):
    doc = new_doc()
    msp = doc.modelspace()
    msp.add_line((0, 0), (30, 40), dxfattribs={"layer": "道路"})
    msp.add_arc((0, 0), 10, 0, 90, dxfattribs={"layer": "道路"})
    msp.add_lwpolyline([(0, 0), (10, 0), (10, 10)], dxfattribs={"layer": "FENCE"})
    # open flag, but the ends meet: a ring
    msp.add_lwpolyline([(50, 50), (60, 50), (60, 60), (50, 50)], dxfattribs={"layer": "建筑物"})
    feats = read_dxf(save(doc, tmp_path)).features
    kinds = dict(zip(feats.role, feats.geom_type, strict=False))
    assert sorted(feats.geom_type) == ["LineString"] * 3 + ["Polygon"]
    assert kinds["fence"] == "LineString" and kinds["building"] == "Polygon"
    line, arc = feats[feats.role == "road"].geometry
    assert line.length == pytest.approx(50)
    start, end = arc.coords[0], arc.coords[-1]
    assert start == pytest.approx((10, 0)) and end == pytest.approx((0, 10), abs=1e-12)
    assert arc.length == pytest.approx(5 * math.pi, rel=1e-3)


def test_hatch_with_a_hole_and_an_island(tmp_path):
    doc = new_doc()
    hatch = doc.modelspace().add_hatch(dxfattribs={"layer": "1-区域边界"})
    hatch.paths.add_polyline_path([(0, 0), (100, 0), (100, 100), (0, 100)], is_closed=True, flags=1)
    edge = hatch.paths.add_edge_path(flags=16)
    edge.add_arc((50, 50), 20, 0, 180)
    edge.add_line((30, 50), (70, 50))
    hatch.paths.add_polyline_path([(45, 55), (55, 55), (55, 60), (45, 60)], is_closed=True, flags=16)
    raw = read_dxf(save(doc, tmp_path))
    (geom,) = raw.features.geometry
    assert geom.geom_type == "MultiPolygon" and geom.is_valid
    outer, island = sorted(geom.geoms, key=lambda p: -p.area)
    assert len(outer.interiors) == 1 and len(island.interiors) == 0
    assert island.area == pytest.approx(50)
    assert geom.area == pytest.approx(10_000 - math.pi * 400 / 2 + 50, rel=1e-3)
    assert raw.features.role.tolist() == ["region"]


def test_solid_3dface_ellipse_spline(tmp_path):
    doc = new_doc()
    msp = doc.modelspace()
    msp.add_solid([(0, 0), (10, 0), (0, 5), (10, 5)], dxfattribs={"layer": "建筑物"})  # drawn 1-2-4-3
    msp.add_3dface([(20, 0, 1), (30, 0, 2), (30, 5, 3), (20, 5, 4)], dxfattribs={"layer": "建筑物"})
    msp.add_solid([(40, 0), (50, 0), (45, 5)], dxfattribs={"layer": "建筑物"})        # triangle
    msp.add_ellipse((100, 100), major_axis=(30, 0), ratio=0.5, dxfattribs={"layer": "储罐"})
    msp.add_ellipse((200, 100), major_axis=(30, 0), ratio=0.5, start_param=0, end_param=math.pi,
                    dxfattribs={"layer": "道路"})
    spline = msp.add_spline([(0, 0), (10, 10), (20, 0), (10, -10)], dxfattribs={"layer": "建筑物"})
    spline.closed = True
    feats = read_dxf(save(doc, tmp_path)).features
    areas = sorted(round(g.area, 3) for g in feats.geometry if g.geom_type == "Polygon")
    assert all(g.is_valid for g in feats.geometry)
    assert 25.0 in areas and 50.0 in areas                 # triangle, both quads
    assert areas.count(50.0) == 2
    ellipse = max(g.area for g in feats.geometry if g.geom_type == "Polygon")
    assert ellipse == pytest.approx(math.pi * 30 * 15, rel=2e-3)
    half = feats[feats.role == "road"].geometry.iloc[0]
    assert half.geom_type == "LineString"
    spl = [g for g, e in zip(feats.geometry, feats.properties, strict=True) if e["entity"] == "SPLINE"]
    assert spl and spl[0].geom_type == "Polygon" and spl[0].area > 100


def drawing_with_blocks():
    doc = new_doc()
    for name in ("建筑物", "设备", "道路", "1-区域边界"):
        doc.layers.add(name)
    inner = doc.blocks.new("INNER", base_point=(1, 2))
    inner.add_lwpolyline([(0, 0, 0), (4, 0, 0.5), (4, 3, 0), (0, 3, 0)], format="xyb", close=True,
                         dxfattribs={"layer": "0"})
    inner.add_circle((2, 1.5), 0.8, dxfattribs={"layer": "设备"})
    inner.add_line((0, 0), (4, 3), dxfattribs={"layer": "0"})
    outer = doc.blocks.new("OUTER", base_point=(-3, 1))
    outer.add_blockref("INNER", (10, 0), dxfattribs={"rotation": 30, "xscale": 2, "yscale": 0.5, "layer": "0"})
    outer.add_blockref("INNER", (0, 10), dxfattribs={"rotation": -45, "xscale": -1, "layer": "道路"})
    outer.add_lwpolyline([(0, 0), (20, 0), (20, 20), (0, 20)], close=True, dxfattribs={"layer": "0"})
    msp = doc.modelspace()
    msp.add_blockref("OUTER", (100, 50), dxfattribs={"rotation": 15, "xscale": 1.5, "yscale": 1.5,
                                                     "layer": "建筑物"})
    msp.add_blockref("OUTER", (300, 50), dxfattribs={"rotation": 200, "yscale": -2, "layer": "1-区域边界",
                                                     "extrusion": (0, 0, -1)})
    grid = msp.add_blockref("INNER", (500, 500), dxfattribs={"rotation": 10, "layer": "建筑物"})
    grid.grid(size=(2, 3), spacing=(15, 12))
    return doc


@pytest.mark.parametrize("engine", ["auto", "ezdxf"])
def test_block_inserts_follow_ezdxf_matrices(tmp_path, engine):
    doc = drawing_with_blocks()
    raw = read_dxf(save(doc, tmp_path), engine=engine)
    feats = by_fid(raw)
    # 2 model inserts of OUTER × (OUTER's square + 2 × INNER's 3) + MINSERT 2×3 × INNER's 3
    assert len(feats) == 2 * (1 + 2 * 3) + 6 * 3
    assert feats.index.is_unique
    for fid, row in feats.iterrows():
        for pts in expected_paths(doc, fid):
            assert max_offset(pts, row.geometry) < TOLERANCE, fid
    # layer-0 entities take the layer of the INSERT that places them, nested or not
    inner_ins, outer_ins = doc.blocks["OUTER"].query("INSERT")
    first_model = doc.modelspace().query("INSERT")[0].dxf.handle
    assert feats.loc[f"{first_model}/{inner_ins.dxf.handle}/{doc.blocks['INNER'][2].dxf.handle}", "layer"] == "建筑物"
    assert feats.loc[f"{first_model}/{outer_ins.dxf.handle}/{doc.blocks['INNER'][2].dxf.handle}", "layer"] == "道路"
    circle = f"{first_model}/{outer_ins.dxf.handle}/{doc.blocks['INNER'][1].dxf.handle}"
    assert feats.loc[circle, "layer"] == "设备" and feats.loc[circle, "role"] == "equipment"
    assert feats.loc[circle, "properties"] == {"entity": "CIRCLE", "block": "INNER"}
    minsert = doc.modelspace().query("INSERT")[2].dxf.handle
    cells = sorted(f for f in feats.index if f.startswith(minsert + "["))
    assert len(cells) == 18 and f"{minsert}[1,2]/{doc.blocks['INNER'][0].dxf.handle}" in cells


def test_ocs_entities_and_mirrored_inserts(tmp_path):
    doc = new_doc()
    msp = doc.modelspace()
    msp.add_circle((50, 60, 0), 5, dxfattribs={"extrusion": (0, 0, -1), "layer": "储罐"})
    msp.add_arc((50, 60, 0), 7, 10, 100, dxfattribs={"extrusion": (0, 0, -1), "layer": "道路"})
    msp.add_lwpolyline([(0, 0, 0), (10, 0, 1), (10, 10, 0), (0, 10, 0)], format="xyb", close=True,
                       dxfattribs={"extrusion": (0, 0, -1), "elevation": 3, "layer": "建筑物"})
    msp.add_lwpolyline([(0, 0, 0), (10, 0, 1), (10, 10, 0), (0, 10, 0)], format="xyb", close=True,
                       dxfattribs={"extrusion": (0.3, 0.2, 0.9), "layer": "建筑物"})
    msp.add_solid([(0, 0), (5, 0), (0, 5), (5, 5)], dxfattribs={"extrusion": (0, 0, -1), "layer": "建筑物"})
    block = doc.blocks.new("MARK")
    block.add_lwpolyline([(1, 1), (4, 1), (4, 2), (1, 2)], close=True)
    msp.add_blockref("MARK", (70, 10), dxfattribs={"extrusion": (0, 0, -1), "rotation": 30, "layer": "建筑物"})
    raw = read_dxf(save(doc, tmp_path))
    feats = by_fid(raw)
    assert len(feats) == 6
    for fid, row in feats.iterrows():
        assert row.geometry.is_valid
        for pts in expected_paths(doc, fid):
            assert max_offset(pts, row.geometry) < TOLERANCE, fid
    # mirrored: the OCS x axis points to -X, so the circle centre lands at x = -50
    circle = feats[[p["entity"] == "CIRCLE" for p in feats.properties]].geometry.iloc[0]
    assert circle.centroid.x == pytest.approx(-50, abs=1e-6)


def test_engines_give_the_same_features(tmp_path):
    doc = drawing_with_blocks()
    msp = doc.modelspace()
    rng = np.random.default_rng(7)
    for i in range(300):
        x, y = rng.uniform(0, 2000, 2)
        msp.add_lwpolyline([(x, y, 0), (x + 20, y, rng.choice([0, 0.3, -0.6])), (x + 20, y + 10, 0), (x, y + 10, 0)],
                           format="xyb", close=bool(i % 4), dxfattribs={"layer": ["建筑物", "道路", "设备"][i % 3]})
        msp.add_text(f"{i}号", dxfattribs={"insert": (x + 5, y + 5), "layer": "文字"})
    hatch = msp.add_hatch(dxfattribs={"layer": "1-区域边界"})
    hatch.paths.add_polyline_path([(0, 0), (10, 0, 1), (10, 10), (0, 10)], is_closed=True)
    msp.add_spline([(0, 0), (5, 5), (10, 0)], dxfattribs={"layer": "道路"})
    # old-style POLYLINEs: 2D with bulges (also mirrored), 3D, in a block, and a mesh nobody reads
    msp.add_polyline2d([(0, 0, 0.5), (30, 0, 0), (30, 20, -0.3), (0, 20, 0)], format="xyb", close=True,
                       dxfattribs={"layer": "建筑物", "elevation": (0, 0, 2)})
    msp.add_polyline2d([(0, 0, 0.5), (30, 0, 0), (30, 20, 0)], format="xyb",
                       dxfattribs={"layer": "道路", "extrusion": (0, 0, -1)})
    msp.add_polyline3d([(0, 0, 0), (10, 5, 3), (20, 0, 6)], dxfattribs={"layer": "道路"})
    doc.blocks["INNER"].add_polyline2d([(0, 0), (1, 0), (1, 1)], close=True, dxfattribs={"layer": "设备"})
    msp.add_polyface().append_face([(0, 0, 0), (1, 0, 0), (1, 1, 0)])
    path = save(doc, tmp_path)
    fast, slow = by_fid(read_dxf(path)), by_fid(read_dxf(path, engine="ezdxf"))
    assert sorted(fast.index) == sorted(slow.index)
    slow = slow.loc[fast.index]
    assert (fast.role == slow.role).all() and (fast.layer == slow.layer).all()
    assert fast.name.fillna("").tolist() == slow.name.fillna("").tolist()
    assert fast.name.notna().sum() > 100
    assert all(shapely.equals_exact(a, b, tolerance=1e-9) for a, b in zip(fast.geometry, slow.geometry, strict=True))
    assert (fast.properties.map(lambda p: p["entity"]) == "POLYLINE").sum() == 3 + 10  # + 10 copies of INNER's
    for fid in fast.index[fast.properties.map(lambda p: p["entity"]) == "POLYLINE"]:
        for pts in expected_paths(doc, fid):
            assert max_offset(pts, fast.loc[fid, "geometry"]) < TOLERANCE, fid


# ------------------------------------------------------------------------------------------------ names


def test_texts_name_the_smallest_enclosing_shape(tmp_path):
    doc = new_doc()
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (100, 0), (100, 100), (0, 100)], close=True, dxfattribs={"layer": "1-区域边界"})
    msp.add_lwpolyline([(10, 10), (40, 10), (40, 40), (10, 40)], close=True, dxfattribs={"layer": "建筑物"})
    msp.add_lwpolyline([(60, 10), (90, 10), (90, 40), (60, 40)], close=True, dxfattribs={"layer": "建筑物"})
    # a building drawn twice (outline and solid hatch on its layer): both copies take the name
    msp.add_lwpolyline([(10, 60), (40, 60), (40, 90), (10, 90)], close=True, dxfattribs={"layer": "建筑物"})
    twin = msp.add_hatch(dxfattribs={"layer": "建筑物"})
    twin.paths.add_polyline_path([(10, 60), (40, 60), (40, 90), (10, 90)], is_closed=True)
    msp.add_text("二号仓库", dxfattribs={"layer": "文字", "insert": (20, 70), "height": 2})
    # a hatch on an "other" layer over the building does not steal its name
    hatch = msp.add_hatch(dxfattribs={"layer": "填充"})
    hatch.paths.add_polyline_path([(10, 10), (40, 10), (40, 40), (10, 40)], is_closed=True)
    msp.add_text("一号厂房", dxfattribs={"layer": "文字", "insert": (20, 20), "height": 2})
    msp.add_text("%%u甲类%%u", dxfattribs={"layer": "文字", "insert": (30, 30), "height": 1})
    msp.add_mtext("{\\fSimHei|b0|i0;生产\\P区域}", dxfattribs={"layer": "文字", "insert": (70, 70)})
    msp.add_text("图外文字", dxfattribs={"layer": "文字", "insert": (500, 500)})
    msp.add_lwpolyline([(0, 200), (10, 200), (10, 210), (0, 210)], close=True, dxfattribs={"layer": "文字"})
    raw = read_dxf(save(doc, tmp_path))
    feats = raw.features
    assert "文字" not in set(feats.layer)                  # text layers give no features
    assert raw.dropped.get("ignored layer (text/annotation)") == 1
    named = {(layer, round(g.centroid.x), round(g.centroid.y)): name
             for layer, g, name in zip(feats.layer, feats.geometry, feats.name, strict=True)}
    assert named["1-区域边界", 50, 50] == "生产区域"
    assert named["建筑物", 25, 25] == "一号厂房"
    assert named["建筑物", 75, 25] is None                   # unnamed: None, never the layer
    assert named["填充", 25, 25] is None
    first = feats[feats.name == "一号厂房"].iloc[0]
    assert first.properties["texts"] == ["一号厂房", "甲类"]
    assert sorted(feats[feats.name == "二号仓库"].properties.map(lambda p: p["entity"])) == ["HATCH", "LWPOLYLINE"]


def test_equipment_symbols_become_named_points(tmp_path):
    doc = new_doc()
    valve = doc.blocks.new("VALVE")
    valve.add_line((-0.2, 0), (0.2, 0))
    valve.add_circle((0, 0), 0.1)
    valve.add_attdef("NAME", (0, 0.3), dxfattribs={"height": 0.2})
    tank = doc.blocks.new("TANK")
    tank.add_circle((0, 0), 5)
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (100, 0), (100, 100), (0, 100)], close=True, dxfattribs={"layer": "区域"})
    msp.add_text("罐区", dxfattribs={"insert": (80, 80), "layer": "文字"})
    msp.add_blockref("VALVE", (50, 50), dxfattribs={"layer": "设备"}).add_auto_attribs({"NAME": "1#阀门"})
    msp.add_blockref("TANK", (20, 20), dxfattribs={"layer": "设备"})
    msp.add_point((60, 60), dxfattribs={"layer": "设备"})
    msp.add_point((61, 60), dxfattribs={"layer": "道路"})
    raw = read_dxf(save(doc, tmp_path))
    feats = raw.features
    points = feats[feats.geom_type == "Point"]
    assert sorted(points.properties.map(lambda p: p["entity"])) == ["INSERT", "POINT"]
    symbol = points[points.properties.map(lambda p: p["entity"]) == "INSERT"].iloc[0]
    assert symbol["name"] == "1#阀门" and symbol.role == "equipment"
    assert (symbol.geometry.x, symbol.geometry.y) == (50, 50)
    assert symbol.properties["attribs"] == {"NAME": "1#阀门"}
    tank_poly = feats[feats.properties.map(lambda p: p.get("block")) == "TANK"].iloc[0]
    assert tank_poly.geometry.geom_type == "Polygon" and tank_poly.role == "equipment"   # big: exploded
    region = feats[feats.role == "region"].iloc[0]
    assert region["name"] == "罐区"                       # the valve's attribute names the valve only
    assert raw.dropped["point not on an equipment layer"] == 1


# ------------------------------------------------------------------------------------------------ encodings


@pytest.mark.parametrize("version", ["R2000", "R12"])
def test_gbk_drawing_reads_back_chinese(tmp_path, version):
    doc = ezdxf.new(version)
    doc.encoding = "gbk"
    doc.layers.add("建筑物")
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (10, 0), (10, 10), (0, 10)], close=True, dxfattribs={"layer": "建筑物"}) \
        if version != "R12" else msp.add_polyline2d([(0, 0), (10, 0), (10, 10), (0, 10)], close=True,
                                                    dxfattribs={"layer": "建筑物"})
    msp.add_text("一号厂房", dxfattribs={"insert": (1, 4), "height": 2, "layer": "文字"})   # 8 m wide: inside
    path = save(doc, tmp_path)
    data = path.read_bytes()
    assert b"ANSI_936" in data and "一号厂房".encode("gbk") in data and "一号厂房".encode() not in data
    for engine in ("auto", "ezdxf"):
        feats = read_dxf(path, engine=engine).features
        assert feats.layer.tolist() == ["建筑物"] and feats.name.tolist() == ["一号厂房"]


def test_utf8_drawing_reads_back_chinese(tmp_path):
    doc = new_doc("R2018")
    # the two-line label (about 7.5 × 6.7 from its top-left corner at the centre) lies inside the tank
    doc.modelspace().add_circle((0, 0), 12, dxfattribs={"layer": "储罐"})
    doc.modelspace().add_mtext("苯储罐\\PT-101", dxfattribs={"insert": (0, 0), "layer": "标注"})
    path = save(doc, tmp_path)
    assert "苯储罐".encode() in path.read_bytes()
    feats = read_dxf(path).features
    assert feats.layer.tolist() == ["储罐"] and feats.name.tolist() == ["苯储罐 T-101"]


def test_unicode_and_multibyte_escapes(tmp_path):
    # cp1252 cannot hold Chinese, so ezdxf writes \U+XXXX escapes
    doc = ezdxf.new("R2000")
    doc.modelspace().add_lwpolyline([(0, 0), (10, 0), (10, 10), (0, 10)], close=True, dxfattribs={"layer": "围墙"})
    doc.modelspace().add_text("东门", dxfattribs={"insert": (5, 5), "layer": "0"})
    path = save(doc, tmp_path)
    assert b"\\U+" in path.read_bytes()
    feats = read_dxf(path).features
    assert feats.layer.tolist() == ["围墙"] and feats.name.tolist() == ["东门"] and feats.role.tolist() == ["fence"]
    # R12 multibyte escapes \M+5XXXX carry GB2312 bytes: D6D0 CEC4 = 中文
    text = ("0\nSECTION\n2\nENTITIES\n0\nLWPOLYLINE\n5\nA1\n8\n\\M+5BDA8\\M+5D6FE\n90\n4\n70\n1\n"
            "10\n0\n20\n0\n10\n10\n20\n0\n10\n10\n20\n10\n10\n0\n20\n10\n"
            "0\nTEXT\n5\nA2\n8\n0\n10\n5\n20\n5\n40\n1\n1\n\\M+5D6D0\\M+5CEC4\n0\nENDSEC\n0\nEOF\n")
    raw_path = tmp_path / "mif.dxf"
    raw_path.write_text(text, encoding="ascii")
    feats = read_dxf(raw_path).features
    assert feats.layer.tolist() == ["建筑"] and feats.name.tolist() == ["中文"] and feats.role.tolist() == ["building"]


def test_binary_dxf(tmp_path):
    doc = new_doc("R2013", units=4)
    doc.modelspace().add_lwpolyline([(0, 0), (9000, 0), (9000, 6000), (0, 6000)], close=True,
                                    dxfattribs={"layer": "建筑物"})
    doc.modelspace().add_text("综合楼", dxfattribs={"insert": (4000, 3000), "layer": "文字"})
    path = tmp_path / "binary.dxf"
    doc.saveas(path, fmt="bin")
    assert path.read_bytes().startswith(b"AutoCAD Binary DXF")
    raw = read_dxf(path)
    assert raw.features.name.tolist() == ["综合楼"] and raw.features.role.tolist() == ["building"]
    assert raw.drawing_units_m == 0.001 and raw.features.geometry.iloc[0].area == pytest.approx(54e6)


def test_declared_code_page_but_utf8_content(tmp_path):
    doc = ezdxf.new("R2004")  # declares ANSI_1252
    doc.modelspace().add_circle((0, 0), 2, dxfattribs={"layer": "设备"})
    path = save(doc, tmp_path)
    text = path.read_text(encoding="cp1252").replace("\\U+8bbe\\U+5907", "设备")
    path.write_bytes(text.encode("utf-8"))       # what some converters do: UTF-8 under an ANSI header
    assert b"ANSI_1252" in path.read_bytes() and "设备".encode() in path.read_bytes()
    raw = read_dxf(path)
    assert raw.features.layer.tolist() == ["设备"]
    assert any("UTF-8" in w for w in raw.warnings)


# ------------------------------------------------------------------------------------------------ bookkeeping


def test_fids_are_handles_unique_and_stable(tmp_path):
    doc = drawing_with_blocks()
    path = save(doc, tmp_path)
    first, second = read_dxf(path).features.fid.tolist(), read_dxf(path).features.fid.tolist()
    assert first == second and len(set(first)) == len(first)
    handles = {e.dxf.handle for e in doc.modelspace()}
    assert all(f.split("/")[0].split("[")[0] in handles for f in first)


def test_dropped_counts_and_warnings(tmp_path):
    doc = new_doc()
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (10, 0), (10, 10), (0, 10)], close=True, dxfattribs={"layer": "建筑物"})
    msp.add_line((5, 5), (5, 5), dxfattribs={"layer": "道路"})                      # zero length
    msp.add_lwpolyline([(0, 0), (10, 0), (20, 0)], close=True, dxfattribs={"layer": "建筑物"})  # no area
    msp.add_circle((0, 0), 0, dxfattribs={"layer": "储罐"})
    msp.add_line((0, 0), (9, 9), dxfattribs={"layer": "道路", "invisible": 1})
    dim = msp.add_linear_dim(base=(0, 20), p1=(0, 0), p2=(10, 0))
    dim.render()
    msp.add_ray((0, 0), (1, 1))
    doc.paperspace().add_line((0, 0), (1, 1))
    msp.add_blockref("NOPE", (0, 0))
    raw = read_dxf(save(doc, tmp_path))
    assert len(raw.features) == 1
    d = raw.dropped
    assert d["degenerate"] == 3 and d["invisible"] == 1 and d["paper space"] >= 1
    assert d["unsupported entity type DIMENSION"] == 1 and d["unsupported entity type RAY"] == 1
    assert d["INSERT of an undefined block"] == 1
    assert any("DIMENSION" in w and CJK.search(w) for w in raw.warnings)
    assert any("NOPE" in w for w in raw.warnings)


def test_layer_map_that_maps_nothing_names_the_layers(tmp_path):
    doc = new_doc()
    doc.modelspace().add_circle((0, 0), 2, dxfattribs={"layer": "A-1"})
    doc.modelspace().add_circle((9, 0), 2, dxfattribs={"layer": "B-2"})
    path = save(doc, tmp_path)
    with pytest.raises(LayoutImportError) as info:
        read_dxf(path, {"rules": [{"pattern": "X*", "role": "region"}]})
    assert "A-1" in info.value.message and "B-2" in info.value.message and CJK.match(info.value.message)
    assert info.value.message.index("图层") < info.value.message.index(" / ")
    raw = read_dxf(path, LayerMap.from_data({"A-*": "region", "B-*": "building"}))
    assert sorted(raw.features.role) == ["building", "region"]
    defaults = read_dxf(path)                              # the built-in map only warns
    assert set(defaults.features.role) == {"other"} and any("A-1" in w for w in defaults.warnings)
    with pytest.raises(LayoutImportError, match="A-1"):   # not "no usable entity": the map is the problem
        read_dxf(path, {"rules": [{"pattern": "X*", "role": "region"}], "default_role": "ignore"})


# ------------------------------------------------------------------------------------------------ bad input


def assert_refused(path, *words, **kwargs):
    start = time.perf_counter()
    with pytest.raises(LayoutImportError) as info:
        read_dxf(path, **kwargs)
    assert time.perf_counter() - start < 10
    message = info.value.message
    chinese, english = message.split(" / ", 1)                  # Chinese first, then English
    assert CJK.search(chinese) and not CJK.search(english.split("(")[0]), message
    for word in words:
        assert word in message, message
    return message


def good_text(tmp_path) -> str:
    doc = new_doc()
    for i in range(40):
        doc.modelspace().add_lwpolyline([(i, 0), (i + 1, 0), (i + 1, 1)], close=True, dxfattribs={"layer": "建筑物"})
    return save(doc, tmp_path, "good.dxf").read_text(encoding="utf-8")


def test_truncated_file(tmp_path):
    text = good_text(tmp_path)
    cut = tmp_path / "cut.dxf"
    for fraction in (0.3, 0.6, 0.95):
        cut.write_text(text[: int(len(text) * fraction)], encoding="utf-8")
        assert_refused(cut, "不完整")


def test_garbage_empty_and_not_dxf(tmp_path):
    cases = {
        "binary.dxf": bytes(range(256)) * 64,
        "zeros.dxf": b"\x00\x01garbage" * 100,
        "empty.dxf": b"",
        "blank.dxf": b"\n  \r\n\t\n",
        "table.dxf": "名称,x,y\n一号厂房,1,2\n".encode(),
        "image.dxf": b"\x89PNG\r\n\x1a\n" + bytes(200),
        "shape.dxf": b"***NEWFILE***:my.shp\n0\nSECTION\n",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert_refused(path, "为空" if name in ("empty.dxf", "blank.dxf") else "不是 DXF")
    assert_refused(tmp_path / "missing.dxf", "找不到")


def test_no_usable_entity(tmp_path):
    doc = new_doc()
    doc.modelspace().add_text("只有文字", dxfattribs={"insert": (0, 0)})
    doc.modelspace().add_point((1, 1), dxfattribs={"layer": "0"})
    assert_refused(save(doc, tmp_path), "没有可用的图元", "point not on an equipment layer")


def test_recursive_blocks_are_refused(tmp_path):
    doc = new_doc()
    a, b = doc.blocks.new("A"), doc.blocks.new("B")
    a.add_line((0, 0), (1, 1))
    a.add_blockref("B", (1, 0))
    b.add_blockref("A", (0, 1))
    doc.modelspace().add_line((0, 0), (5, 5), dxfattribs={"layer": "道路"})
    ok = save(doc, tmp_path, "unused.dxf")
    assert len(read_dxf(ok).features) == 1               # a loop nobody inserts does no harm
    doc.modelspace().add_blockref("A", (0, 0))
    for engine in ("auto", "ezdxf"):
        assert_refused(save(doc, tmp_path, "loop.dxf"), "递归", "A → B → A", engine=engine)
    doc2 = new_doc()
    doc2.blocks.new("SELF").add_blockref("SELF", (1, 1))
    doc2.modelspace().add_blockref("SELF", (0, 0))
    assert_refused(save(doc2, tmp_path, "self.dxf"), "递归")


def test_deep_and_exploding_blocks_are_refused(tmp_path):
    doc = new_doc()
    doc.blocks.new("L0").add_circle((0, 0), 1)
    for i in range(1, 40):
        doc.blocks.new(f"L{i}").add_blockref(f"L{i - 1}", (1, 0))
    doc.modelspace().add_blockref("L10", (0, 0), dxfattribs={"layer": "储罐"})
    assert len(read_dxf(save(doc, tmp_path, "ten.dxf")).features) == 1
    doc.modelspace().add_blockref("L39", (0, 0))
    assert_refused(save(doc, tmp_path, "deep.dxf"), "嵌套")
    # ten levels, each inserting the one below ten times: 10**10 circles
    boom = new_doc()
    boom.blocks.new("B0").add_circle((0, 0), 1)
    for i in range(1, 11):
        block = boom.blocks.new(f"B{i}")
        for k in range(10):
            block.add_blockref(f"B{i - 1}", (k * 3, 0))
    boom.modelspace().add_blockref("B10", (0, 0))
    assert_refused(save(boom, tmp_path, "boom.dxf"), "上限")
    # few features but a huge polyline copied many times: refused before it fills the memory
    heavy = new_doc()
    heavy.blocks.new("H").add_lwpolyline([(i, (i * 7) % 13) for i in range(20_000)], dxfattribs={"layer": "道路"})
    heavy.modelspace().add_blockref("H", (0, 0)).grid(size=(40, 40), spacing=(30_000, 30))
    assert_refused(save(heavy, tmp_path, "heavy.dxf"), "坐标")
    grid = new_doc()
    grid.blocks.new("G").add_circle((0, 0), 1)
    grid.modelspace().add_blockref("G", (0, 0)).grid(size=(1000, 1000), spacing=(3, 3))
    assert_refused(save(grid, tmp_path, "grid.dxf"), "上限", max_entities=100_000)


def test_more_entities_than_allowed(tmp_path):
    path = tmp_path / "good.dxf"
    path.write_text(good_text(tmp_path), encoding="utf-8")
    assert len(read_dxf(path).features) == 40
    assert_refused(path, "上限", max_entities=30)
    assert_refused(path, "上限", max_entities=30, engine="ezdxf")


def test_mutated_drawings_import_or_are_refused(tmp_path, capfd):
    """Random damage (lines dropped, swapped, duplicated, numbers made absurd, cut short) never lets
    anything but a LayoutImportError out, and never prints to stderr."""
    doc = drawing_with_blocks()
    msp = doc.modelspace()
    msp.add_text("一号", dxfattribs={"insert": (100, 50)})
    hatch = msp.add_hatch()
    hatch.paths.add_polyline_path([(0, 0), (10, 0, 1), (10, 10), (0, 10)], is_closed=True)
    msp.add_polyline2d([(0, 0, 0.5), (5, 0, 0), (5, 5, 0)], format="xyb", close=True)
    msp.add_mtext("{\\fSimHei;测试\\P文本}", dxfattribs={"insert": (3, 3)})
    base = save(doc, tmp_path, "base.dxf").read_text(encoding="utf-8").split("\n")
    rng = np.random.default_rng(2024)
    junk = ["nan", "inf", "-1e308", "1e308", "", "0", "-1", "abc", "99999999999", "SECTION", "ENDSEC", "INSERT",
            "BLOCK", "EOF", "\x00"]
    path = tmp_path / "mutant.dxf"
    outcomes = {"ok": 0, "refused": 0}
    for i in range(60):
        lines = list(base)
        for _ in range(int(rng.integers(1, 5))):
            at = int(rng.integers(len(lines)))
            op = rng.random()
            if op < 0.1:
                del lines[at]
            elif op < 0.4:
                lines[at | 1 if op < 0.3 else at] = str(rng.choice(junk))     # mostly values, some codes
            elif op < 0.55:
                other = int(rng.integers(len(lines)))
                lines[at], lines[other] = lines[other], lines[at]
            elif op < 0.7:
                start = int(rng.integers(len(lines))) & ~1
                lines[at & ~1:at & ~1] = lines[start:start + 2 * int(rng.integers(1, 15))]
            elif op < 0.95:
                numbers = [k for k in range(1, len(lines), 2) if re.fullmatch(r"-?\d+\.\d*", lines[k].strip())]
                k = numbers[int(rng.integers(len(numbers)))]
                lines[k] = repr(float(lines[k]) * float(rng.choice([-1, 1e9, 0, 1e250, -1e300])))
            else:
                lines = lines[:at]
        path.write_text("\n".join(lines), encoding="utf-8")
        for engine in ("auto", "ezdxf") if i % 3 == 0 else ("auto",):
            try:
                raw = read_dxf(path, engine=engine)
            except LayoutImportError:
                outcomes["refused"] += 1
                continue
            outcomes["ok"] += 1
            geoms = raw.features.geometry.to_numpy()
            assert np.isfinite(shapely.get_coordinates(geoms)).all()
            assert not shapely.is_empty(geoms).any() and raw.features.fid.is_unique
    assert outcomes["ok"] > 10 and outcomes["refused"] > 10, outcomes
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("engine", ["auto", "ezdxf"])
def test_a_label_names_the_smallest_shape_that_holds_it_not_the_symbol_under_its_start(tmp_path, engine):
    """A 9 m label whose insertion point falls on a 4 m² pump, or centred on a small tank, names the region
    around them; a label that fits inside a symbol still names the symbol (TEXT and MTEXT, any alignment)."""
    from ezdxf.enums import TextEntityAlignment

    doc = new_doc("R2018")
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (60, 0), (60, 40), (0, 40)], close=True, dxfattribs={"layer": "区域"})
    msp.add_lwpolyline([(10, 10), (12, 10), (12, 12), (10, 12)], close=True, dxfattribs={"layer": "设备"})  # 4 m²
    msp.add_circle((40, 30), 1.1, dxfattribs={"layer": "设备"})                                             # 3.8 m²
    msp.add_circle((40, 10), 6, dxfattribs={"layer": "设备"})                                               # 113 m²
    # 9 characters × 1 m: its left baseline on the pump's corner
    msp.add_text("罐区泵棚及装卸设施区", dxfattribs={"insert": (10, 10), "height": 1.0, "layer": "文字"})
    # centred on the small tank, 9 m wide
    msp.add_mtext("液氨储罐区域（东侧）", dxfattribs={"insert": (40, 30), "char_height": 1.0, "attachment_point": 5,
                                                "layer": "文字"})
    # a label inside the big tank names it
    msp.add_text("甲醇储罐T-101", dxfattribs={"height": 0.8, "layer": "文字"}).set_placement(
        (40, 10), align=TextEntityAlignment.MIDDLE_CENTER)
    feats = read_dxf(save(doc, tmp_path), engine=engine).features
    named = {round(g.area): n for g, n in zip(feats.geometry, feats.name, strict=True)}
    assert named[2400] == "罐区泵棚及装卸设施区"               # the region, with both region labels listed
    region = feats[feats.geometry.area > 2000].iloc[0]
    assert region.properties["texts"] == ["罐区泵棚及装卸设施区", "液氨储罐区域（东侧）"]
    assert named[4] is None                                   # the pump keeps no name
    small_tank = next(n for g, n in zip(feats.geometry, feats.name, strict=True) if 3 < g.area < 4)
    assert small_tank is None
    assert named[113] == "甲醇储罐T-101"
