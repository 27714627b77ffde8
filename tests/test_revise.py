"""diff_layouts: matching by handle, name and overlap, and the classification of each pair."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from plants import revise_demo_dxf
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

from riskmap.geo.revise import diff_layouts, diff_text, positional_fids

# Hand-made layouts are drawn in metres on a local plane and put at about 120°E, 32°N.
_TO_LONLAT = Transformer.from_crs("+proj=tmerc +lon_0=120.5 +lat_0=32 +k=1 +ellps=WGS84", "EPSG:4326",
                                  always_xy=True)


def lonlat(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_LONLAT.transform(xy[:, 0], xy[:, 1])))


def frame(rows, with_ids=True):
    """rows: (fid, name, role, layer, geometry in metres[, properties])."""
    data = {"fid": [r[0] for r in rows], "name": [r[1] for r in rows], "role": [r[2] for r in rows],
            "layer": [r[3] for r in rows], "properties": [r[5] if len(r) > 5 else {} for r in rows]}
    if with_ids:
        data = {"id": list(range(100, 100 + len(rows)))} | data
    return gpd.GeoDataFrame(data, geometry=[lonlat(r[4]) for r in rows], crs="EPSG:4326")


CURRENT = [
    ("A1", "罐区", "region", "区域", box(0, 0, 100, 50)),
    ("A2", "装置区", "region", "区域", box(100, 0, 200, 50)),
    ("B1", "控制室", "building", "建筑物", box(10, 60, 30, 80)),
    ("B2", "仓库", "building", "建筑物", box(40, 60, 70, 80)),
    ("T1", "储罐", "equipment", "设备", Point(20, 20).buffer(5)),
    ("T2", "储罐", "equipment", "设备", Point(40, 20).buffer(5)),
    ("P1", None, "equipment", "设备", Point(150, 20)),
    ("R1", None, "road", "道路", LineString([(0, 55), (200, 55)])),
    ("S1", "废弃区", "region", "区域", box(0, 100, 50, 150)),
    ("X1", "旧仓库", "building", "建筑物", box(300, 0, 320, 20)),
]


def by_fid(diff):
    return {row["fid"] if row["status"] != "added" else "+" + str(row["revised_fid"]): row for row in diff.rows}


def test_identical_layouts_have_no_changes():
    diff = diff_layouts(frame(CURRENT), frame(CURRENT, with_ids=False), revised_format="dxf")
    assert diff.counts["unchanged"] == len(CURRENT)
    assert diff.counts["changed"] == diff.counts["added"] == diff.counts["removed"] == 0
    assert diff.matched_by["handle"] == len(CURRENT)
    assert diff.rows == [] and diff.changes == []
    assert "没有变化 / no changes" in diff_text(diff)


def test_every_matching_path_and_change_kind():
    revised = [
        # handle: same fid, moved 5 cm -> reshaped; 5 mm -> unchanged
        ("A1", "罐区", "region", "区域", shapely.affinity.translate(box(0, 0, 100, 50), 0.05, 0)),
        ("A2", "装置区", "region", "区域", shapely.affinity.translate(box(100, 0, 200, 50), 0.005, 0)),
        # name: new handles, same unique name and role; renamed by handle
        ("NEW-B1", "控制室", "building", "建筑物", box(10, 60, 30, 85)),
        ("B2", "成品仓库", "building", "建筑物", box(40, 60, 70, 80)),
        # ambiguous names (two 储罐 on both sides) fall through to overlap; one of them re-layered
        ("NT1", "储罐", "equipment", "设备", Point(20, 20).buffer(5)),
        ("NT2", "储罐", "equipment", "设备2", Point(40.3, 20).buffer(5)),
        # an unnamed point moved by 50 cm, new handle: overlap within a metre
        ("NP1", None, "equipment", "设备", Point(150.5, 20)),
        # a road re-roled on the same handle
        ("R1", None, "fence", "围墙", LineString([(0, 55), (200, 55)])),
        # S1 split in two (60/40): the bigger half keeps the identity, the other is new
        ("S1a", "废弃区", "region", "区域", box(0, 100, 30, 150)),
        ("S1b", "废弃区", "region", "区域", box(30, 100, 50, 150)),
        # X1 deleted; a new tank added
        ("T9", "新储罐", "equipment", "设备", Point(60, 20).buffer(5)),
    ]
    diff = diff_layouts(frame(CURRENT), frame(revised, with_ids=False), revised_format="dxf")
    rows = by_fid(diff)

    assert rows["A1"]["changes"] == ["reshaped"] and rows["A1"]["matched_by"] == "handle"
    assert rows["A1"]["metrics"]["hausdorff_m"] == pytest.approx(0.05, abs=0.002)
    assert abs(rows["A1"]["metrics"]["area_change_m2"]) < 0.01
    assert "A2" not in rows                                       # 5 mm: unchanged
    assert rows["B1"]["matched_by"] == "name" and rows["B1"]["changes"] == ["reshaped"]
    assert rows["B1"]["metrics"]["area_change_m2"] == pytest.approx(100, rel=0.01)
    assert rows["B1"]["metrics"]["area_change_pct"] == pytest.approx(25, rel=0.01)
    assert rows["B2"]["changes"] == ["renamed"] and rows["B2"]["old_name"] == "仓库"
    assert "T1" not in rows                                       # same place, matched by overlap, unchanged
    assert rows["T2"]["matched_by"] == "overlap" and rows["T2"]["changes"] == ["reshaped", "relayered"]
    assert rows["P1"]["matched_by"] == "overlap"
    assert rows["P1"]["metrics"]["hausdorff_m"] == pytest.approx(0.5, abs=0.01)
    assert rows["R1"]["changes"] == ["re-roled", "relayered"] and rows["R1"]["old_role"] == "road"
    assert rows["S1"]["matched_by"] == "overlap" and rows["S1"]["revised_fid"] == "S1a"
    assert rows["S1"]["metrics"]["area_change_pct"] == pytest.approx(-40, abs=0.1)
    assert rows["X1"]["status"] == "removed"
    assert rows["+S1b"]["status"] == "added" and rows["+T9"]["status"] == "added"
    c = diff.counts
    assert (c["unchanged"], c["added"], c["removed"]) == (2, 2, 1)
    assert c["changed"] == 7 and c["reshaped"] == 5 and c["renamed"] == 1 and c["re-roled"] == 1
    assert diff.matched_by == {"handle": 4, "name": 1, "overlap": 4}

    ops = {(ch["op"], ch["fid"]) for ch in diff.changes}
    assert ("delete", "X1") in ops and ("create", "T9") in ops and ("create", "S1b") in ops
    assert ("replace", "S1") in ops and ("replace", "A2") not in ops
    replaced = next(ch for ch in diff.changes if ch["fid"] == "S1")
    assert replaced["properties"]["source_fid"] == "S1a"             # next revision matches by handle
    assert replaced["geometry"] is not None
    assert next(ch for ch in diff.changes if ch["fid"] == "B2")["geometry"] is None   # renamed only: shape kept
    assert diff.if_match["S1"] == [108] and diff.if_match["X1"] == [109] and "T9" not in diff.if_match
    text = diff_text(diff)
    assert "形状改变 reshaped" in text and "原名 仓库" in text and "新增 added" in text


def test_source_fid_matches_a_handle_the_store_renamed():
    current = [("A1~2", "甲", "region", "区域", box(0, 0, 10, 10), {"source_fid": "A1"}),
               ("Q", "乙", "region", "区域", box(500, 0, 510, 10))]
    revised = [("A1", "丙", "region", "区域", box(700, 0, 710, 10))]   # far away, renamed: only the handle ties it
    diff = diff_layouts(frame(current), frame(revised, with_ids=False), revised_format="dxf")
    row = by_fid(diff)["A1~2"]
    assert row["matched_by"] == "handle" and set(row["changes"]) == {"reshaped", "renamed"}
    assert by_fid(diff)["Q"]["status"] == "removed"


def test_handle_never_pairs_an_area_with_a_point():
    current = [("H", "甲", "equipment", "设备", box(0, 0, 10, 10))]
    revised = [("H", "甲", "equipment", "设备", Point(500, 500))]
    diff = diff_layouts(frame(current), frame(revised, with_ids=False), revised_format="dxf")
    assert (diff.counts["added"], diff.counts["removed"]) == (1, 1)
    assert next(ch for ch in diff.changes if ch["op"] == "create")["fid"] is None   # "H" is still taken


def test_row_number_fids_of_a_gis_file_are_not_handles():
    current = [("0", "甲", "building", "b", box(0, 0, 10, 10)), ("1", "乙", "building", "b", box(50, 0, 60, 10))]
    revised = [("0", "乙", "building", "b", box(50, 0, 60, 10))]      # 甲 deleted: 乙 moved up to row 0
    assert positional_fids(np.asarray(["0", "layer/1"], dtype=object), "geojson")
    assert not positional_fids(np.asarray(["0", "1"], dtype=object), "dxf")
    diff = diff_layouts(frame(current), frame(revised, with_ids=False), revised_format="geojson")
    rows = by_fid(diff)
    assert rows["0"]["status"] == "removed" and "1" not in rows and diff.matched_by["name"] == 1
    # the same file taken as a DXF would have paired by fid: row 0 renamed and moved
    naive = diff_layouts(frame(current), frame(revised, with_ids=False), revised_format="dxf")
    assert by_fid(naive)["0"]["matched_by"] == "handle"


def test_overlap_takes_the_best_pair_first_and_needs_half():
    current = [("a", None, "region", "x", box(0, 0, 100, 100)), ("b", None, "region", "x", box(100, 0, 200, 100))]
    revised = [("p", None, "region", "x", box(10, 0, 110, 100)),      # IoU with a 0.82, with b 0.05
               ("q", None, "region", "x", box(160, 0, 260, 100))]     # IoU with b 0.25: not enough
    diff = diff_layouts(frame(current), frame(revised, with_ids=False), revised_format="dxf")
    rows = by_fid(diff)
    assert rows["a"]["matched_by"] == "overlap" and rows["a"]["revised_fid"] == "p"
    assert rows["b"]["status"] == "removed" and rows["+q"]["status"] == "added"


def test_demo_drawing_revised(tmp_path):
    from riskmap.geo.importer import import_layout
    from riskmap.paths import demo_dir

    points = demo_dir() / "control_points.csv"
    current = import_layout(demo_dir() / "plant.dxf", control_points=points).features
    current.insert(0, "id", range(1, len(current) + 1))
    handles = revise_demo_dxf(tmp_path / "revised.dxf")
    revised = import_layout(tmp_path / "revised.dxf", control_points=points)
    diff = diff_layouts(current, revised.features, revised_format=revised.source_format)
    rows = by_fid(diff)
    assert diff.matched_by["handle"] == len(current) - 1 and diff.matched_by["overlap"] == 0
    lab = rows[handles["lab"]]
    assert lab["name"] == "化验室" and lab["changes"] == ["reshaped"]
    assert lab["metrics"]["hausdorff_m"] == pytest.approx(3, abs=0.05)
    assert abs(lab["metrics"]["area_change_pct"]) < 0.1
    assert rows["EF"]["status"] == "removed" and rows["EF"]["role"] == "equipment"
    added = [r for r in diff.rows if r["status"] == "added"]
    assert [(r["name"], r["role"]) for r in added] == [("新增储罐", "equipment")]
    assert added[0]["metrics"]["area_m2"] == pytest.approx(np.pi * 16, rel=0.01)
    parking = next(r for r in diff.rows if r.get("old_name") == "停车场")
    assert parking["name"] == "临时停车场" and parking["role"] == "region"
    # the region's label is also kept in its properties, so the rename shows as a property change too
    assert set(parking["changes"]) <= {"renamed", "properties"}
    assert diff.counts["unchanged"] == len(current) - 3
