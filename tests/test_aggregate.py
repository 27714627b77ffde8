"""Region risk: worked examples for both methods, membership rules, provenance, errors, and properties."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

import riskmap
from riskmap.aggregate import RegionRisk, region_risk
from riskmap.domain import INHERENT, AssessmentUnit, Evaluation, Override, Region, RiskEvent, UnitKind, UnitTree
from riskmap.errors import InputError
from riskmap.levels import Level

LOW, GENERAL, SIGNIFICANT, MAJOR = Level.LOW, Level.GENERAL, Level.SIGNIFICANT, Level.MAJOR


def unit(uid, level=None, geometry=None, parent=None, weight=1, name=None, inherent=None):
    events = []
    if level is not None or inherent is not None:
        events.append(RiskEvent(name=f"{uid}-事件", residual_level=level, inherent_level=inherent))
    return AssessmentUnit(id=uid, name=name or f"单元{uid}", parent_id=parent, geometry=geometry,
                          weight=Decimal(str(weight)), events=events)


def inside(x=0.5, y=0.5):
    return Point(x, y)


SQUARE = box(0, 0, 1, 1)
RIGHT = box(1, 0, 2, 1)


def one(units, method="highest", **kw) -> RegionRisk:
    [risk] = region_risk([Region("R", "一号区域", SQUARE)], units, method=method, **kw)
    return risk


def members(risk: RegionRisk) -> dict[str, tuple[str, str | None]]:
    return {c.unit_id: (c.membership, c.via) for c in risk.contributing}


# --- highest (短板原理) --------------------------------------------------------------------------------


def test_highest_takes_the_highest_unit_and_names_it():
    units = [unit("a", LOW, inside(0.2, 0.2)), unit("b", SIGNIFICANT, inside(0.4, 0.4), name="反应釜"),
             unit("c", GENERAL, inside(0.6, 0.6)), unit("d", SIGNIFICANT, inside(0.8, 0.8))]
    risk = one(units)
    assert risk.level is SIGNIFICANT
    assert risk.decided_by.id == "b" and risk.decided_by.name == "反应釜"   # first of the two highest
    assert risk.deciding_event.name == "b-事件"
    assert risk.counts == {MAJOR: 0, SIGNIFICANT: 2, GENERAL: 1, LOW: 1}
    assert risk.score is None
    assert risk.rule_zh.startswith("短板原理") and "highest level" in risk.rule_en
    d = risk.to_dict()
    assert d["decided_by"] == "反应釜" and d["level"] == "significant" and d["level_zh"] == "较大风险"
    assert "反应釜" in d["explanation"] and "短板原理" in d["explanation"]
    # contributing: highest level first, then input order
    assert [c.unit_id for c in risk.contributing] == ["b", "d", "c", "a"]


def test_one_major_among_many_low_makes_the_region_major():
    units = [unit(f"low{i}", LOW, inside(0.05 + i * 0.04, 0.5)) for i in range(20)]
    units.append(unit("boiler", MAJOR, inside(0.5, 0.9), name="锅炉"))
    risk = one(units)
    assert risk.level is MAJOR and risk.decided_by.name == "锅炉"
    assert risk.counts[LOW] == 20 and risk.counts[MAJOR] == 1


# --- weighted (综合加权) -------------------------------------------------------------------------------


def test_weighted_worked_example_with_weights():
    # S = (1·1 + 2·2 + 5·2) / (1 + 2 + 5) = 15/8 = 1.875; floor(2.375) = 2: general.
    units = [unit("L1", LOW, inside(0.2), weight=1), unit("G1", GENERAL, inside(0.4), weight=2),
             unit("G2", GENERAL, inside(0.6), weight=5, name="重的一般单元")]
    risk = one(units, method="weighted")
    assert risk.score == Decimal(15) / Decimal(8) == Decimal("1.875")
    assert risk.level is GENERAL and not risk.capped
    assert risk.decided_by.id == "G2"           # heaviest unit at the region's level
    assert "1.875" in risk.explanation
    assert risk.rule_zh.startswith("综合加权") and "floor(S + 0.5)" in risk.rule_en


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([(LOW, "1"), (GENERAL, "1")], GENERAL),             # S = 1.5 → 2
        ([(GENERAL, "1"), (SIGNIFICANT, "1")], SIGNIFICANT),  # S = 2.5 → 3
        ([(SIGNIFICANT, "1"), (MAJOR, "1")], MAJOR),          # S = 3.5 → 4
        ([(LOW, "0.1"), (SIGNIFICANT, "0.3")], SIGNIFICANT),  # S = 2.5 exactly; binary floats give 2.4999…
        ([(LOW, "0.7"), (GENERAL, "0.7")], GENERAL),          # S = 1.5 exactly; floats give 1.4999…
        ([(LOW, "3"), (GENERAL, "1")], LOW),                  # S = 1.25 → 1
        ([(LOW, "1"), (GENERAL, "3")], GENERAL),              # S = 1.75 → 2
    ],
)
def test_weighted_rounds_half_up_exactly(parts, expected):
    units = [unit(f"u{i}", lv, inside(0.2 + 0.2 * i), weight=w) for i, (lv, w) in enumerate(parts)]
    risk = one(units, method="weighted")
    assert risk.level is expected, risk.explanation
    assert risk.uncapped_level is expected and not risk.capped


def test_weighted_exact_half_from_float_weights_in_a_frame():
    units = gpd.GeoDataFrame({"id": ["a", "b"], "name": ["甲", "乙"], "parent_id": [None, None],
                              "level": ["low", "significant"], "weight": [0.1, 0.3]},
                             geometry=[inside(0.3), inside(0.7)], crs="EPSG:4326")
    regions = gpd.GeoDataFrame({"id": ["R"], "name": ["区"]}, geometry=[SQUARE], crs="EPSG:4326")
    [risk] = region_risk(regions, units, method="weighted")
    assert risk.score == Decimal("2.5") and risk.level is SIGNIFICANT


def test_weighted_cap_keeps_a_major_unit_visible_and_says_so():
    units = [unit(f"low{i}", LOW, inside(0.05 + i * 0.04, 0.5)) for i in range(20)]
    units.append(unit("boiler", MAJOR, inside(0.5, 0.9), name="锅炉"))
    capped = one(units, method="weighted")
    # S = (20 + 4) / 21 = 1.142857…; floor(1.64…) = 1 (low), capped to one below major.
    assert capped.score == Decimal(24) / Decimal(21)
    assert capped.uncapped_level is LOW and capped.level is SIGNIFICANT and capped.capped
    assert capped.decided_by.name == "锅炉" and capped.highest_level is MAJOR
    assert "已封顶" in capped.explanation and "capped" in capped.explanation
    assert "≈1.1429" in capped.explanation
    d = capped.to_dict()
    assert d["capped"] is True and d["uncapped_level"] == "low" and d["score"].startswith("1.142857")

    free = one(units, method="weighted", cap_below_highest=False)
    assert free.level is LOW and not free.capped and free.decided_by.id == "low0"
    assert "已封顶" not in free.explanation
    assert "不低于" not in free.rule_zh


def test_weighted_cap_only_when_more_than_one_level_below():
    # general w=3, major w=1: S = (6 + 4)/4 = 2.5 → significant; one below major is allowed, no cap.
    units = [unit("g", GENERAL, inside(0.3), weight=3), unit("m", MAJOR, inside(0.7), weight=1)]
    risk = one(units, method="weighted")
    assert risk.level is SIGNIFICANT and not risk.capped
    assert risk.decided_by.id == "m"    # no member is significant: the highest unit is named
    # low w=3, major w=1: S = 7/4 = 1.75 → general, capped to significant.
    units = [unit("l", LOW, inside(0.3), weight=3), unit("m", MAJOR, inside(0.7), weight=1)]
    risk = one(units, method="weighted")
    assert risk.uncapped_level is GENERAL and risk.level is SIGNIFICANT and risk.capped


# --- membership ------------------------------------------------------------------------------------------


def test_tree_membership_and_spatial_membership():
    regions = [Region("R1", "一车间", SQUARE, unit_id="W1"), Region("R2", "二车间", RIGHT)]
    units = [
        unit("W1", None, None, name="一车间"),
        unit("pump", GENERAL, Point(1.5, 0.5), parent="W1"),     # in the tree of R1, drawn inside R2
        unit("valve", LOW, Point(0.5, 0.5), parent="W1"),        # tree and spatial: the tree wins
        unit("free", SIGNIFICANT, Point(1.2, 0.2)),              # spatial in R2 only
    ]
    r1, r2 = region_risk(regions, units)
    assert members(r1) == {"W1": ("tree", None), "pump": ("tree", None), "valve": ("tree", None)}
    assert members(r2) == {"pump": ("spatial", None), "free": ("spatial", None)}
    assert r1.level is GENERAL and r1.decided_by.membership == "tree"
    assert r2.level is SIGNIFICANT and r2.decided_by.id == "free"


def test_ancestor_geometry_locates_a_unit_without_its_own():
    regions = [Region("R1", "一号", SQUARE), Region("R2", "二号", RIGHT)]
    units = [
        unit("area", None, box(1.2, 0.2, 1.8, 0.8), name="罐区"),
        unit("tank", None, None, parent="area"),
        unit("valve", MAJOR, None, parent="tank"),                # nearest geometry: the grandparent's
        unit("gauge", LOW, Point(0.5, 0.5), parent="tank"),      # own geometry wins over the ancestor's
    ]
    r1, r2 = region_risk(regions, units)
    assert members(r2) == {"area": ("spatial", None), "tank": ("spatial-ancestor", "area"),
                           "valve": ("spatial-ancestor", "area")}
    assert r2.level is MAJOR and r2.decided_by.via == "area"
    assert r2.to_dict()["membership"] == "spatial-ancestor" and r2.to_dict()["membership_via"] == "area"
    assert "area" in r2.explanation
    assert members(r1) == {"gauge": ("spatial", None)}
    tree = UnitTree(units)
    assert tree.located_geometry("valve")[1] == "area"


def test_nearest_ancestor_is_used_not_the_root():
    units = [unit("root", None, box(1.1, 0.1, 1.9, 0.9)), unit("mid", None, box(0.2, 0.2, 0.8, 0.8), parent="root"),
             unit("leaf", MAJOR, None, parent="mid")]
    r1, r2 = region_risk([Region("R1", "一", SQUARE), Region("R2", "二", RIGHT)], units)
    assert members(r1)["leaf"] == ("spatial-ancestor", "mid")
    assert "leaf" not in members(r2)


@pytest.mark.parametrize(
    ("geometry", "member"),
    [
        (box(1, 0.2, 1.5, 0.8), False),             # shares an edge only
        (box(1, 1, 1.5, 1.5), False),               # shares a corner only
        (box(0.9, 0.2, 1.5, 0.8), True),            # overlaps with positive area
        (box(0.2, 0.2, 0.4, 0.4), True),            # inside
        (box(-1, -1, 2, 2), True),                  # covers the region
        (Point(1, 0.5), False),                     # on the boundary
        (Point(0, 0), False),                       # on a vertex
        (Point(0.999, 0.5), True),
        (LineString([(0, 0), (1, 0)]), False),      # along the boundary
        (LineString([(0.1, 0.1), (0.9, 0.9)]), True),
        (LineString([(0, 0.5), (1, 0.5)]), True),   # inside, ends on the boundary
        (LineString([(0.5, 0.5), (1.5, 0.5)]), False),  # leaves the region: not inside
    ],
)
def test_boundary_rules(geometry, member):
    risk = one([unit("u", MAJOR, geometry)])
    assert (risk.level is MAJOR) is member
    assert (risk.member_count == 1) is member


def test_units_without_levels_are_members_but_do_not_decide():
    risk = one([unit("a", None, inside(0.3)), unit("b", LOW, inside(0.7))])
    assert risk.level is LOW and risk.decided_by.id == "b"
    assert risk.unlevelled == 1 and risk.member_count == 2
    empty = one([unit("a", None, inside(0.3))])
    assert empty.level is None and empty.decided_by is None and empty.deciding_event is None
    assert empty.member_count == 1 and "未定级" in empty.explanation
    assert empty.to_dict()["level"] is None and empty.to_dict()["decided_by"] is None
    weighted = one([unit("a", None, inside(0.3))], method="weighted")
    assert weighted.level is None and weighted.score is None
    nobody = one([unit("far", MAJOR, Point(5, 5))])
    assert nobody.level is None and nobody.member_count == 0


def test_regions_keep_their_order_and_a_region_without_geometry_uses_the_tree():
    regions = [Region("Z", "最后", None, unit_id="m"), Region("A", "最先", SQUARE)]
    units = [unit("m", None, None), unit("c", MAJOR, None, parent="m"), unit("d", LOW, inside())]
    out = region_risk(regions, units)
    assert [r.region_id for r in out] == ["Z", "A"]
    assert out[0].level is MAJOR and out[1].level is LOW


# --- provenance --------------------------------------------------------------------------------------------


def test_deciding_event_carries_its_evaluation_and_overrides():
    evaluation = Evaluation(profile="lec", method="lec", inputs={"L": Decimal(3), "E": Decimal(6), "C": Decimal(15)},
                            score=Decimal("270"), grade=2, computed_level=SIGNIFICANT, level=MAJOR,
                            overrides=[Override(MAJOR, "涉及重大危险源", "major-hazard")], band="160 < D ≤ 320")
    small = RiskEvent(name="滑倒", residual_level=LOW)
    big = RiskEvent(name="储罐泄漏火灾", residual=evaluation)
    tank = AssessmentUnit("T1", "甲醇储罐", geometry=inside(), events=[small, big])
    risk = one([tank])
    ev = risk.deciding_event
    assert ev.name == "储罐泄漏火灾" and ev.score == Decimal("270") and ev.computed_level is SIGNIFICANT
    assert ev.level is MAJOR and ev.overrides[0].reason == "涉及重大危险源"
    assert "LEC D = 270" in risk.explanation and "涉及重大危险源" in risk.explanation
    d = json.loads(json.dumps(risk.to_dict(), ensure_ascii=False))   # plain JSON, no Decimal left
    assert d["deciding_event"]["score"] == "270" and d["deciding_event"]["overrides"][0]["level"] == "major"
    assert d["deciding_event"]["inputs"] == {"L": "3", "E": "6", "C": "15"}


def test_unit_override_is_reported():
    u = unit("u", LOW, inside())
    u.override = Override(MAJOR, "违反强制性条款", "direct:mandatory-clause")
    risk = one([u])
    assert risk.level is MAJOR and risk.decided_by.override.reason == "违反强制性条款"
    assert risk.deciding_event is None and "违反强制性条款" in risk.explanation
    assert risk.to_dict()["unit_override"]["rule"] == "direct:mandatory-clause"


def test_inherent_and_residual():
    u = unit("u", LOW, inside(), inherent=MAJOR)
    assert one([u]).level is LOW
    assert one([u], which=INHERENT).level is MAJOR and one([u], which=INHERENT).which == "inherent"


def test_to_dict_shape_and_lazy_members():
    risk = one([unit("a", GENERAL, inside(), weight="2.5")], method="weighted")
    d = risk.to_dict()
    for key in ("id", "name", "level", "level_zh", "method", "decided_by", "explanation", "score", "counts",
                "contributing", "rule"):
        assert key in d
    assert d["id"] == "R" and d["method"] == "weighted" and d["score"] == "2"
    assert d["contributing"] == [{"unit_id": "a", "name": "单元a", "level": "general", "weight": "2.5",
                                  "membership": "spatial", "via": None}]
    assert "contributing" not in risk.to_dict(contributing=False)
    json.dumps(d, ensure_ascii=False)


def test_public_name_and_unit_tree_input():
    tree = UnitTree([unit("a", MAJOR, inside())])
    [risk] = riskmap.region_risk([Region("R", "区", SQUARE)], tree)
    assert risk.level is MAJOR


# --- GeoDataFrame input ------------------------------------------------------------------------------------


def test_frames_give_the_same_answer_as_objects():
    unit_list = [
        unit("1", None, box(1.2, 0.2, 1.8, 0.8), name="罐区"),
        unit("2", MAJOR, None, parent="1", name="储罐"),
        unit("3", LOW, inside(0.3), weight="2"),
        unit("4", GENERAL, inside(0.6), weight="1"),
    ]
    regions = [Region("R1", "一号", SQUARE), Region("R2", "二号", RIGHT)]
    units_gdf = gpd.GeoDataFrame({
        "id": [1, 2, 3, 4], "name": ["罐区", "储罐", "单元3", "单元4"], "parent_id": [np.nan, 1, np.nan, np.nan],
        "level": [None, "重大", "低风险", "yellow"], "weight": [1, 1, 2, 1],
    }, geometry=[box(1.2, 0.2, 1.8, 0.8), None, inside(0.3), inside(0.6)], crs="EPSG:4326")
    regions_gdf = gpd.GeoDataFrame({"id": ["R1", "R2"], "name": ["一号", "二号"]},
                                   geometry=[SQUARE, RIGHT], crs="EPSG:4326")
    for method in ("highest", "weighted"):
        a = region_risk(regions, unit_list, method=method)
        b = region_risk(regions_gdf, units_gdf, method=method)
        assert [(r.level, r.score, r.decided_by.id) for r in a] == [(r.level, r.score, r.decided_by.id) for r in b]
        assert [members(r) for r in a] == [members(r) for r in b]
    assert b[1].decided_by.membership == "spatial-ancestor" and b[1].deciding_event is None


def test_frames_in_another_crs_are_brought_to_lonlat():
    units = gpd.GeoDataFrame({"id": ["a"], "level": ["major"]}, geometry=[Point(120.5, 32.5)], crs="EPSG:4326")
    region = gpd.GeoDataFrame({"id": ["R"], "name": ["区"]}, geometry=[box(120, 32, 121, 33)], crs="EPSG:4326")
    [risk] = region_risk(region.to_crs(3857), units.to_crs(3857))
    assert risk.level is MAJOR


def test_frame_with_unit_id_column_uses_the_tree():
    units = gpd.GeoDataFrame({"id": ["w", "x"], "parent_id": [None, "w"], "level": [None, "significant"]},
                             geometry=[None, None], crs="EPSG:4326")
    regions = gpd.GeoDataFrame({"id": ["R"], "name": ["区"], "unit_id": ["w"]}, geometry=[SQUARE], crs="EPSG:4326")
    [risk] = region_risk(regions, units)
    assert risk.level is SIGNIFICANT and risk.decided_by.membership == "tree"


def test_against_a_geopandas_join():
    """The vectorised membership against geopandas.sjoin and shapely's overlay area, on 4,000 units."""
    rng = np.random.default_rng(3)
    cells = [box(i, j, i + 0.9, j + 0.9) for i in range(6) for j in range(5)]
    regions = gpd.GeoDataFrame({"id": [f"R{k}" for k in range(30)]}, geometry=cells, crs="EPSG:4326")
    n = 4000
    xy = rng.random((n, 2)) * [6, 5]
    half = rng.uniform(0.01, 0.2, n)
    is_point = rng.random(n) < 0.6
    geoms = np.where(is_point, shapely.points(xy), shapely.box(*(xy - half[:, None]).T, *(xy + half[:, None]).T))
    ranks = rng.integers(0, 5, n)
    names = np.array([None, "low", "general", "significant", "major"], dtype=object)
    units = gpd.GeoDataFrame({"id": [f"U{i}" for i in range(n)], "level": names[ranks]}, geometry=geoms,
                             crs="EPSG:4326")
    joined = gpd.sjoin(units, regions, predicate="intersects", how="inner")
    g_unit = units.geometry.values[joined.index.to_numpy()]
    g_region = regions.geometry.values[joined["index_right"].to_numpy()]
    point = shapely.get_dimensions(g_unit) == 0
    keep = np.where(point, shapely.contains(g_region, g_unit),
                    shapely.area(shapely.intersection(g_region, g_unit)) > 0)
    joined = joined[keep]
    joined["rank"] = ranks[joined.index.to_numpy()]
    expected_max = joined.groupby("index_right")["rank"].max()
    expected_n = joined.groupby("index_right").size()
    out = region_risk(regions, units)
    for k, risk in enumerate(out):
        assert risk.member_count == expected_n.get(k, 0)
        top = expected_max.get(k, 0)
        assert (risk.level.rank if risk.level else 0) == top


# --- errors ------------------------------------------------------------------------------------------------

ZH_FIRST = re.compile(r"^[\u4e00-\u9fff“]")


@pytest.mark.parametrize(
    ("regions", "units", "kwargs"),
    [
        ([Region("R", "区", SQUARE)], [unit("a", LOW, inside())], {"method": "median"}),
        ([Region("R", "区", SQUARE)], [unit("a", LOW, inside())], {"which": "future"}),
        ([Region("R", "区", SQUARE)], [unit("a", LOW, inside()), unit("a", LOW, inside())], {}),
        ([Region("R", "区", SQUARE)], [unit("a", LOW, inside(), parent="ghost")], {}),
        ([Region("R", "区", SQUARE)], [unit("a", LOW, parent="b"), unit("b", LOW, parent="a")], {}),
        ([Region("R", "区", SQUARE, unit_id="ghost")], [unit("a", LOW, inside())], {}),
        ([Region("R", "区", LineString([(0, 0), (1, 1)]))], [unit("a", LOW, inside())], {}),
    ],
    ids=["method", "which", "duplicate", "unknown-parent", "cycle", "region-unit", "region-line"],
)
def test_bad_input_raises_input_error_in_chinese_then_english(regions, units, kwargs):
    with pytest.raises(InputError) as info:
        region_risk(regions, units, **kwargs)
    assert ZH_FIRST.match(info.value.message) and " / " in info.value.message


@pytest.mark.parametrize("weight", ["0", "-1", "abc"])
def test_bad_weights(weight):
    units = gpd.GeoDataFrame({"id": ["a"], "level": ["low"], "weight": [weight]}, geometry=[inside()])
    with pytest.raises(InputError, match="权重"):
        region_risk([Region("R", "区", SQUARE)], units, method="weighted")


def test_bad_level_in_a_frame():
    units = gpd.GeoDataFrame({"id": ["a"], "level": ["purple"]}, geometry=[inside()])
    with pytest.raises(InputError, match="purple"):
        region_risk([Region("R", "区", SQUARE)], units)


def test_missing_columns():
    units = gpd.GeoDataFrame({"id": ["a"]}, geometry=[inside()])
    with pytest.raises(InputError, match="level"):
        region_risk([Region("R", "区", SQUARE)], units)


# --- properties ----------------------------------------------------------------------------------------------

REGION_BOXES = [box(0, 0, 2, 2), box(2, 0, 4, 2), box(0, 2, 4, 3)]
coord = st.sampled_from([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4])   # many points fall on edges and corners
level_st = st.sampled_from([None, LOW, GENERAL, SIGNIFICANT, MAJOR])


@st.composite
def plants(draw):
    n = draw(st.integers(1, 12))
    units = []
    for i in range(n):
        x, y = draw(coord), draw(coord)
        if draw(st.booleans()):
            geom = Point(x, y)
        else:
            w, h = draw(st.sampled_from([0.5, 1, 1.5])), draw(st.sampled_from([0.5, 1]))
            geom = box(x, y, x + w, y + h)
        weight = draw(st.integers(1, 30)) / 10
        units.append(unit(f"u{i}", draw(level_st), geom, weight=weight))
    return units


def oracle_members(region, units):
    """Membership by the definition: positive overlay area for polygons, strict interior for points."""
    out = []
    for u in units:
        g = u.geometry
        if region.contains(g) if g.geom_type == "Point" else region.intersection(g).area > 0:
            out.append(u)
    return out


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(plants())
def test_highest_is_never_below_any_member(units):
    regions = [Region(f"R{k}", f"区{k}", g) for k, g in enumerate(REGION_BOXES)]
    for region, risk in zip(regions, region_risk(regions, units), strict=True):
        expected = oracle_members(region.geometry, units)
        assert sorted(c.unit_id for c in risk.contributing) == sorted(u.id for u in expected)
        ranks = [u.level().rank for u in expected if u.level() is not None]
        assert (risk.level.rank if risk.level else 0) == max(ranks, default=0)
        if risk.level is not None:
            assert risk.decided_by.level is risk.level


@FAST
@given(plants(), st.booleans())
def test_weighted_never_hides_a_major_unit_unless_uncapped(units, cap):
    regions = [Region(f"R{k}", f"区{k}", g) for k, g in enumerate(REGION_BOXES)]
    for region, risk in zip(regions, region_risk(regions, units, method="weighted", cap_below_highest=cap),
                            strict=True):
        levelled = [u for u in oracle_members(region.geometry, units) if u.level() is not None]
        if not levelled:
            assert risk.level is None and risk.score is None
            continue
        num = sum(u.weight * u.level().rank for u in levelled)
        den = sum(u.weight for u in levelled)
        assert risk.score == num / den
        expected = int((2 * num + den) // (2 * den))          # floor(S + 0.5), exactly
        assert risk.uncapped_level.rank == expected
        top = max(u.level().rank for u in levelled)
        if cap:
            assert risk.level.rank == max(expected, top - 1)
            assert risk.level.rank >= top - 1
            if top == MAJOR.rank:
                assert risk.level in (SIGNIFICANT, MAJOR)
            assert risk.capped == (expected < top - 1)
        else:
            assert risk.level.rank == expected and not risk.capped
        assert risk.level.rank <= top


def test_uncapped_weighted_can_hide_a_major_unit():
    """The property above is not vacuous: without the cap a major unit can vanish into low."""
    units = [unit(f"l{i}", LOW, inside(0.1 + 0.05 * i)) for i in range(10)] + [unit("m", MAJOR, inside(0.9))]
    assert one(units, method="weighted", cap_below_highest=False).level is LOW
    assert one(units, method="weighted").level is SIGNIFICANT


def test_unit_kind_does_not_matter():
    u = unit("a", MAJOR, inside())
    u.kind = UnitKind.EQUIPMENT
    assert one([u]).level is MAJOR


# --- the benchmark, small ----------------------------------------------------------------------------------

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_aggregate.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_aggregate", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_in_process(capsys):
    assert _bench_module().main(["--units", "3000", "--regions", "30", "--runs", "1", "--no-postgis"]) == 0
    out = capsys.readouterr().out
    assert "3,000 units, 30 regions" in out and "region_risk(highest)" in out


@pytest.mark.postgis
def test_benchmark_agrees_with_postgis(capsys):
    psycopg = pytest.importorskip("psycopg")
    bench = _bench_module()
    try:
        psycopg.connect(bench.ADMIN_DSN, connect_timeout=3).close()
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL at " + bench.ADMIN_DSN)
    name = f"riskmap_bench_test_{os.getpid()}"
    assert bench.main(["--units", "5000", "--regions", "50", "--runs", "1", "--db-name", name]) == 0
    out = capsys.readouterr().out
    if "PostGIS unavailable" in out:
        pytest.skip(out.splitlines()[-1])
    assert "same level and same levelled-member count in both for all 50 regions" in out
