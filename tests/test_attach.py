"""Attaching units to layout features by fid or name, and regions from the layout's region features."""

from __future__ import annotations

import re
from decimal import Decimal

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon, box

from riskmap.aggregate import region_risk
from riskmap.attach import regions_from_features, resolve_unit_geometries
from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.errors import InputError
from riskmap.levels import Level

ZH_FIRST = re.compile(r"^[\u4e00-\u9fff“]")


def features(rows):
    return gpd.GeoDataFrame(
        [{"fid": fid, "name": name, "role": role, "layer": "0", "geometry": geom} for fid, name, role, geom in rows],
        geometry="geometry", crs="EPSG:4326")


LAYOUT = features([
    ("1A", "罐区", "region", box(0, 0, 1, 1)),
    ("2B", "装置区", "region", box(1, 0, 2, 1)),
    ("3C", "1A", "equipment", Point(1.5, 0.5)),          # a name equal to another feature's fid
    ("4D", "泵", "equipment", Point(0.2, 0.2)),
    ("5E", "泵", "equipment", Point(0.8, 0.8)),          # duplicate name
    ("12", "编号为数字", "building", box(0.1, 0.1, 0.3, 0.3)),
    ("6F", "空要素", "equipment", Point()),
])


def u(uid, ref=None, parent=None, geometry=None, level=None, kind=UnitKind.POST):
    events = [RiskEvent(name="事件", residual_level=level)] if level else []
    return AssessmentUnit(uid, f"单元{uid}", kind=kind, parent_id=parent, geometry=geometry, feature_ref=ref,
                          events=events)


def test_matches_fid_then_name():
    by_fid, by_name, fid_first = u("a", "2B"), u("b", "罐区"), u("c", "1A")
    assert resolve_unit_geometries([by_fid, by_name, fid_first], LAYOUT) == []
    assert by_fid.geometry.equals(box(1, 0, 2, 1))
    assert by_name.geometry.equals(box(0, 0, 1, 1))
    assert fid_first.geometry.equals(box(0, 0, 1, 1))     # fid "1A" wins over the feature named "1A"


def test_numeric_and_padded_references():
    a, b = u("a", 12), u("b", " 4D ")
    assert resolve_unit_geometries([a, b], LAYOUT) == []
    assert a.geometry.equals(box(0.1, 0.1, 0.3, 0.3)) and b.geometry.equals(Point(0.2, 0.2))


def test_own_geometry_is_kept_and_units_without_ref_are_left_alone():
    own = u("a", "2B", geometry=Point(9, 9))
    none = u("b")
    assert resolve_unit_geometries([own, none], LAYOUT) == []
    assert own.geometry.equals(Point(9, 9)) and none.geometry is None


def test_warnings_for_missing_ambiguous_and_empty():
    missing, ambiguous, empty = u("a", "不存在"), u("b", "泵"), u("c", "6F")
    warnings = resolve_unit_geometries([missing, ambiguous, empty], LAYOUT)
    assert len(warnings) == 3
    assert all(ZH_FIRST.match(w) and " / " in w for w in warnings)
    assert "不存在" in warnings[0] and "matches no layout feature" in warnings[0]
    assert "4D" in warnings[1] and "5E" in warnings[1] and "2 features by name" in warnings[1]
    assert "without geometry" in warnings[2]
    assert missing.geometry is None and ambiguous.geometry is None and empty.geometry is None


def test_duplicate_fid_is_ambiguous():
    layout = features([("X", "甲", "equipment", Point(0, 0)), ("X", "乙", "equipment", Point(1, 1))])
    unit = u("a", "X")
    [warning] = resolve_unit_geometries([unit], layout)
    assert "fid" in warning and unit.geometry is None


def test_missing_columns_is_an_input_error():
    with pytest.raises(InputError) as info:
        resolve_unit_geometries([u("a", "x")], gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(0, 0)]))
    assert ZH_FIRST.match(info.value.message)


def test_regions_from_features():
    main = u("M", "1A", kind=UnitKind.MAIN)
    sub = u("S", "罐区", parent="M", kind=UnitKind.SUB)        # names the same feature, lower in the tree
    other = u("O", "装置区")
    regions = regions_from_features(LAYOUT, [sub, main, other])
    assert [r.id for r in regions] == ["1A", "2B"]
    assert [r.name for r in regions] == ["罐区", "装置区"]
    assert [r.unit_id for r in regions] == ["M", "O"]         # the highest unit in the tree owns the region
    assert [r.feature_ref for r in regions] == ["1A", "2B"]
    assert regions[0].geometry.equals(box(0, 0, 1, 1))
    assert [r.unit_id for r in regions_from_features(LAYOUT, [])] == [None, None]


def test_regions_get_unique_ids_and_a_name():
    layout = features([("R", None, "region", box(0, 0, 1, 1)), ("R", "乙", "region", box(1, 0, 2, 1)),
                       (None, "丙", "region", Polygon([(2, 0), (3, 0), (3, 1)]))])
    regions = regions_from_features(layout, None)
    ids = [r.id for r in regions]
    assert len(set(ids)) == 3 and ids[:2] == ["R", "R#2"]
    assert regions[0].name == "R"


def test_attached_plant_aggregates():
    units = [
        u("M", "罐区", kind=UnitKind.MAIN),
        u("T", None, parent="M", level=Level.MAJOR),            # no geometry: belongs by the tree
        u("P", "2B", level=Level.LOW),
        u("Q", "3C", level=Level.GENERAL),                      # a point inside 装置区
    ]
    for unit in units:
        unit.weight = Decimal(1)
    assert resolve_unit_geometries(units, LAYOUT) == []
    regions = regions_from_features(LAYOUT, units)
    tank, plant = region_risk(regions, units)
    assert tank.level is Level.MAJOR and tank.decided_by.id == "T" and tank.decided_by.membership == "tree"
    assert plant.level is Level.GENERAL and plant.decided_by.id == "Q"
    assert {c.unit_id for c in plant.contributing} == {"P", "Q"}
