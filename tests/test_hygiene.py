"""Geometry hygiene: repair with a bound on area change, drops with counts, no rounding, RFC 7946 orientation."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from riskmap.errors import LayoutImportError
from riskmap.geo.hygiene import clean, orient_rfc7946

SQUARE = shapely.box(0, 0, 100, 100)
LOBE = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100), (2, -1)])          # tiny crossing lobe
SPIKE = shapely.Polygon([(0, 0), (10, 0), (10, 5), (15, 5), (10, 5), (10, 10), (0, 10)])  # dangling edge
BOWTIE = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])


def frame(geoms, names=None) -> gpd.GeoDataFrame:
    n = len(geoms)
    return gpd.GeoDataFrame({"fid": [f"f{i}" for i in range(n)], "name": names or [f"要素{i}" for i in range(n)],
                             "role": ["region"] * n, "layer": ["区域"] * n, "properties": [{}] * n},
                            geometry=list(geoms), crs="EPSG:4549")


def test_valid_geometries_pass_untouched():
    out = clean(frame([SQUARE, shapely.Point(1, 2), shapely.LineString([(0, 0), (5, 5)])]))
    assert len(out.features) == 3 and out.repaired == [] and out.dropped == {} and out.warnings == []
    assert out.features.geometry.iloc[0].equals_exact(SQUARE, 0)


def test_small_repairs_are_listed_with_area_change():
    out = clean(frame([LOBE, SPIKE, SQUARE], names=["罐区", "装置区", "仓库"]))
    assert len(out.features) == 3
    assert shapely.is_valid(out.features.geometry).all()
    repaired = {r["fid"]: r for r in out.repaired}
    assert set(repaired) == {"f0", "f1"}
    assert repaired["f0"]["name"] == "罐区"
    assert repaired["f0"]["area_change"] == pytest.approx(1.980198 / 9900, rel=1e-4)
    assert repaired["f1"]["area_change"] == 0.0
    # only the polygonal part is kept: the spike's dangling edge is gone
    spike = out.features.geometry.iloc[1]
    assert spike.geom_type == "Polygon" and spike.area == pytest.approx(100.0)
    assert out.features.geometry.iloc[0].geom_type == "MultiPolygon"


def test_repair_changing_area_over_one_percent_refused():
    with pytest.raises(LayoutImportError) as info:
        clean(frame([SQUARE, BOWTIE], names=["仓库", "交叉的区域"]))
    message = info.value.message
    assert "f1" in message and "交叉的区域" in message and "1%" in message
    assert info.value.details == [{"fid": "f1", "area_change": None}]     # unbounded: the old area was 0


def test_drop_invalid_instead_of_refusing():
    out = clean(frame([SQUARE, BOWTIE]), drop_invalid=True)
    assert out.features["fid"].tolist() == ["f0"]
    assert out.dropped == {"invalid": 1}
    assert any("f1" in w for w in out.warnings)


def test_threshold_is_a_parameter():
    # the lobe changes area by 0.02 %: refused under a stricter bound
    with pytest.raises(LayoutImportError):
        clean(frame([LOBE]), max_area_change=0.0001)


def test_empty_zero_area_and_degenerate_dropped_with_counts():
    geoms = [SQUARE, None, shapely.Polygon(), shapely.Polygon([(0, 0), (10, 0), (20, 0)]),
             shapely.box(0, 0, 0.0005, 0.0005), shapely.LineString([(3, 3), (3, 3)])]
    out = clean(frame(geoms))
    assert out.features["fid"].tolist() == ["f0"]
    assert out.dropped == {"empty": 2, "zero-area": 2, "degenerate": 1}


def test_z_dropped_and_millimetres_kept():
    a = shapely.box(529_000.0, 3_485_000.0, 529_010.0, 3_485_010.0)
    b = shapely.box(529_010.001, 3_485_000.0, 529_020.0, 3_485_010.0)   # 1 mm gap
    out = clean(frame([shapely.force_3d(a, 5.0), b]))
    assert not out.features.geometry.has_z.any()
    assert out.features.geometry.iloc[0].distance(out.features.geometry.iloc[1]) == pytest.approx(0.001, abs=1e-9)


def test_orientation_rfc7946():
    cw_with_ccw_hole = shapely.Polygon([(0, 0), (0, 10), (10, 10), (10, 0)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])
    assert not cw_with_ccw_hole.exterior.is_ccw and cw_with_ccw_hole.interiors[0].is_ccw
    out = orient_rfc7946(np.array([cw_with_ccw_hole, shapely.MultiPolygon([cw_with_ccw_hole]),
                                   shapely.Point(1, 1)], dtype=object))
    assert out[0].exterior.is_ccw and not out[0].interiors[0].is_ccw
    assert out[1].geoms[0].exterior.is_ccw
    assert out[2].equals(shapely.Point(1, 1))
    assert out[0].area == cw_with_ccw_hole.area
