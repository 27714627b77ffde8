"""riskmap.geo.editcheck: what an edited geometry must be before it is stored."""

from __future__ import annotations

import json

import pytest
import shapely

from riskmap.errors import InputError
from riskmap.geo.editcheck import check_edit_geometry, geodesic_area_km2, grown_extent

EXTENT = (120.0, 32.0, 120.01, 32.01)       # about 950 m x 1110 m


def square(x: float, y: float, d: float = 0.001) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}


def test_a_good_polygon_comes_back_as_shapely():
    geom = check_edit_geometry(square(120.002, 32.002), "region", EXTENT)
    assert geom.geom_type == "Polygon" and geom.is_valid
    assert check_edit_geometry(json.dumps(square(120.002, 32.002)), "building", EXTENT).equals(geom)
    assert check_edit_geometry(shapely.Point(120.005, 32.005), "equipment", EXTENT).geom_type == "Point"
    # 3D coordinates lose their height; the margin lets a feature reach a little outside the plant.
    three_d = {"type": "Point", "coordinates": [120.0101, 32.005, 12.0]}
    assert not check_edit_geometry(three_d, "equipment", EXTENT).has_z
    # Without a plant extent (nothing imported yet) only the world's bounds apply.
    assert check_edit_geometry(square(-60.0, -30.0), "region", None).is_valid


def _message(geom, role="region", extent=EXTENT, **limits) -> str:
    with pytest.raises(InputError) as err:
        check_edit_geometry(geom, role, extent, **limits)
    assert err.value.http_status == 422
    message = err.value.message
    assert " / " in message and message.startswith("几何")      # Chinese first, then English
    return message


def bowtie():
    return {"type": "Polygon", "coordinates": [[[120.001, 32.001], [120.002, 32.002], [120.002, 32.001],
                                                [120.001, 32.002], [120.001, 32.001]]]}


@pytest.mark.parametrize("geom,words", [
    (bowtie(), "Self-intersection"),
    ({"type": "Polygon", "coordinates": []}, "empty"),
    ({"type": "Point", "coordinates": []}, "empty"),
    ({"type": "Polygon", "coordinates": [[[120.001, float("nan")], [120.002, 32.001], [120.002, 32.002],
                                          [120.001, 32.001]]]}, "NaN"),
    ({"type": "Polygon", "coordinates": [[[120.001, float("inf")], [120.002, 32.001], [120.002, 32.002],
                                          [120.001, 32.001]]]}, "NaN"),
    (square(-59.99, -32.0), "outside the plant"),                    # the other side of the world
    (square(120.02, 32.0), "outside the plant"),                     # 900 m east: beyond the 500 m margin
    (square(500000, 3500000, 100), "not lon/lat"),                   # UTM metres
    (square(32.002, 120.002), "not lon/lat"),                        # lat/lon swapped
    ({"type": "Point", "coordinates": [120.005, 32.005]}, "must be one of"),
    ({"type": "LineString", "coordinates": [[120.001, 32.001], [120.002, 32.002]]}, "must be one of"),
    ({"type": "GeometryCollection", "geometries": []}, "not supported"),
    ({"type": "Polygon", "coordinates": "abc"}, "malformed"),
    ({"type": "Polygon", "coordinates": [[[120.001, 32.001], [120.002, 32.001], [120.001, 32.001]]]}, "invalid"),
    ({"type": "Polygon", "coordinates": [[[1, 2, 3, 4, 5]]]}, "malformed"),
    ({"coordinates": [1, 2]}, "GeoJSON geometry object"),
    ([1, 2], "GeoJSON geometry object"),
    ("{not json", "not JSON"),
    ({**square(120.002, 32.002), "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}, "CRS"),
    ({**square(120.002, 32.002), "crs": "garbage"}, "CRS"),
])
def test_broken_and_hostile_geometries_are_refused_naming_the_problem(geom, words):
    assert words in _message(geom)


def test_limits_on_vertices_and_area():
    ring = shapely.Point(120.005, 32.005).buffer(0.004, quad_segs=6000)     # ~24,000 vertices
    assert "too many vertices" in _message(shapely.geometry.mapping(ring))
    big = square(120.0, 32.0, 0.1)                                           # ~100 km², inside a wide extent
    assert "too large" in _message(big, extent=(120.0, 32.0, 120.1, 32.1))
    assert check_edit_geometry(big, "region", (120.0, 32.0, 120.1, 32.1), max_area_km2=200).area > 0
    assert "too large" in _message(square(120.002, 32.002), max_area_km2=0.001)


def test_unknown_role():
    with pytest.raises(InputError, match="unknown role"):
        check_edit_geometry(square(120.002, 32.002), "spaceship", EXTENT)


def test_helpers():
    minx, miny, maxx, maxy = grown_extent(EXTENT, 1000)
    assert maxy - EXTENT[3] == pytest.approx(1000 / 111_320)
    assert minx < EXTENT[0] - 1000 / 111_320       # a degree of longitude is shorter at 32°N
    assert geodesic_area_km2(shapely.geometry.shape(square(120.0, 32.0, 0.01))) == pytest.approx(1.05, rel=0.02)
