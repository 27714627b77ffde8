"""Georeferencing: known CRS, control points (similarity / affine), origin placement, and refusing coordinates
that cannot belong to the stated CRS."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from riskmap.errors import GeoreferenceError
from riskmap.geo.georef import (
    ControlPoints,
    check_coordinates,
    fit_control_points,
    georeference,
    metric_crs_for,
    read_control_points,
    resolve_crs,
    to_lonlat,
)
from riskmap.geo.model import RawLayout

LON0, LAT0 = 120.52, 31.83
# The oracle: a transverse Mercator centred on (LON0, LAT0), written here independently of the code.
TRUTH = CRS.from_proj4(f"+proj=tmerc +lat_0={LAT0} +lon_0={LON0} +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m")
TO_LONLAT = Transformer.from_crs(TRUTH, 4326, always_xy=True)
ANGLE = math.radians(12.0)
ROT = np.array([[math.cos(ANGLE), -math.sin(ANGLE)], [math.sin(ANGLE), math.cos(ANGLE)]])
CENTRE = np.array([300.0, 200.0])         # drawing point that lands on (LON0, LAT0)


def true_lonlat(local: np.ndarray) -> np.ndarray:
    """Drawing coordinates (metres) → rotated 12°, scale 1, shifted onto the oracle's origin → lon/lat."""
    metres = (np.asarray(local, dtype=float) - CENTRE) @ ROT.T
    return np.column_stack(TO_LONLAT.transform(metres[:, 0], metres[:, 1]))


def metres_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in metres between lon/lat arrays (local scale is plenty at millimetre level over 1 km)."""
    dlon = (a[:, 0] - b[:, 0]) * 111_320.0 * math.cos(math.radians(LAT0))
    dlat = (a[:, 1] - b[:, 1]) * 110_574.0
    return np.hypot(dlon, dlat)


def raw_layout(geoms, crs=None, units=None) -> RawLayout:
    n = len(geoms)
    gdf = gpd.GeoDataFrame({"fid": [str(i) for i in range(n)], "name": [None] * n, "role": ["region"] * n,
                            "layer": ["区域"] * n, "properties": [{} for _ in range(n)]},
                           geometry=list(geoms), crs=crs)
    return RawLayout(features=gdf, crs=gdf.crs, source_name="t", source_format="dxf", drawing_units_m=units)


def control(local) -> ControlPoints:
    local = np.asarray(local, dtype=float)
    return ControlPoints(local, true_lonlat(local), [f"P{i + 1}" for i in range(len(local))])


SQUARE = [(100.0, 0.0), (500.0, 0.0), (500.0, 400.0), (100.0, 400.0)]   # symmetric about CENTRE


@pytest.mark.parametrize("points", [[(100.0, 0.0), (500.0, 400.0)], SQUARE], ids=["2 points", "4 points"])
def test_known_similarity_recovered(points):
    fit = fit_control_points(control(points))
    assert fit.method == ("similarity" if len(points) == 2 else "affine")
    assert max(fit.residuals_m) < 1e-4
    assert fit.rms_m < 1e-4
    assert fit.scale == pytest.approx(1.0, abs=1e-6)
    assert fit.rotation_deg == pytest.approx(12.0, abs=1e-6)
    assert fit.crs.startswith("+proj=tmerc") and "+ellps=GRS80" in fit.crs and "+k=1" in fit.crs

    # positions of a whole layout (far beyond the control points too) match pyproj to < 1 mm
    probe = np.array([(0.0, 0.0), (800.0, -150.0), (312.5, 207.25), (-200.0, 650.0)])
    raw = raw_layout([shapely.Point(p) for p in probe])
    geo = georeference(raw, control_points=control(points))
    assert geo.georeferenced and geo.info["points"] == len(points)
    out = to_lonlat(geo.geometry, geo.crs)
    got = shapely.get_coordinates(out)
    assert metres_apart(got, true_lonlat(probe)).max() < 1e-3


def test_two_and_three_points_warn_that_errors_cannot_show():
    two = fit_control_points(control(SQUARE[:2]))
    three = fit_control_points(control(SQUARE[:3]))
    four = fit_control_points(control(SQUARE))
    assert any("2 个控制点" in w and "4 or more" in w for w in two.warnings)
    assert any("3 个控制点" in w and "cannot show errors" in w for w in three.warnings)
    assert not any("cannot show errors" in w for w in four.warnings)


def test_affine_with_noise_reports_the_least_squares_rms():
    rng = np.random.default_rng(7)
    local = np.array([(0, 0), (600, 0), (600, 400), (0, 400), (300, 200), (150, 350), (480, 90)], dtype=float)
    lonlat = true_lonlat(local)
    # 5 cm of noise in metres, applied in the oracle plane
    to_truth = Transformer.from_crs(4326, TRUTH, always_xy=True)
    metres = np.column_stack(to_truth.transform(lonlat[:, 0], lonlat[:, 1])) + rng.normal(0, 0.05, (7, 2))
    noisy = np.column_stack(TO_LONLAT.transform(metres[:, 0], metres[:, 1]))
    fit = fit_control_points(ControlPoints(local, noisy, [f"P{i}" for i in range(7)]))

    # independent least squares in a plane centred on the points' mean lon/lat
    lon_c, lat_c = noisy.mean(axis=0)
    plane = CRS.from_proj4(f"+proj=tmerc +lat_0={lat_c} +lon_0={lon_c} +k=1 +ellps=GRS80 +units=m")
    world = np.column_stack(Transformer.from_crs(4326, plane, always_xy=True).transform(noisy[:, 0], noisy[:, 1]))
    design = np.column_stack([local, np.ones(len(local))])
    params, *_ = np.linalg.lstsq(design, world, rcond=None)
    residuals = np.linalg.norm(design @ params - world, axis=1)
    expected_rms = math.sqrt(float(np.mean(residuals ** 2)))

    assert fit.method == "affine"
    assert fit.rms_m == pytest.approx(expected_rms, abs=1e-6)
    assert np.allclose(fit.residuals_m, residuals, atol=1e-6)
    assert 0.01 < fit.rms_m < 0.1
    info = fit.info()
    assert info["points"] == 7 and len(info["residuals_m"]) == 7 and info["rms_m"] == pytest.approx(fit.rms_m, 1e-3)
    assert len(info["transform"]) == 6


def test_rms_over_threshold_refused_with_residuals():
    local = np.array(SQUARE + [(300.0, 200.0)])
    lonlat = true_lonlat(local)
    lonlat[4, 0] += 3.0 / 94_500          # P5 three metres east of where it belongs
    cp = ControlPoints(local, lonlat, ["A", "B", "C", "D", "E"])
    with pytest.raises(GeoreferenceError) as info:
        fit_control_points(cp, max_rms_m=0.5)
    message = info.value.message
    assert "RMS" in message and "0.5" in message
    assert "E " in message and message.count(" m") >= 5      # every residual is listed
    assert "check E" in message
    assert fit_control_points(cp, max_rms_m=5.0).rms_m > 0.5


def test_collinear_points_refused():
    with pytest.raises(GeoreferenceError, match="共线") as info:
        fit_control_points(control([(0, 0), (100, 100), (200, 200.5), (300, 300)]))
    assert "collinear" in info.value.message


@pytest.mark.parametrize("points", [[(100, 100), (100, 100)], [(5, 5), (5, 5), (5, 5)]])
def test_coincident_points_refused(points):
    with pytest.raises(GeoreferenceError, match="重合"):
        fit_control_points(control(points))


def test_single_point_refused():
    with pytest.raises(GeoreferenceError, match="至少需要 2 个"):
        fit_control_points(control([(0, 0)]))


def test_scale_from_millimetre_drawing():
    local_mm = np.array(SQUARE) * 1000.0
    cp = ControlPoints(local_mm, true_lonlat(np.array(SQUARE)), ["a", "b", "c", "d"])
    fit = fit_control_points(cp, drawing_units_m=0.001)
    assert fit.scale == pytest.approx(0.001, rel=1e-6)
    assert not any("不符" in w for w in fit.warnings)
    wrong_units = fit_control_points(cp, drawing_units_m=1.0)
    assert any("不符" in w for w in wrong_units.warnings)


# --- control point files ----------------------------------------------------------------------------------


def _csv_rows(local, lonlat):
    return [",".join(repr(float(v)) for v in (*xy, *ll)) for xy, ll in zip(local, lonlat, strict=True)]


def test_control_point_csv_variants(tmp_path):
    local = np.array(SQUARE)
    lonlat = true_lonlat(local)
    rows = _csv_rows(local, lonlat)

    header = tmp_path / "cp.csv"
    header.write_text("local_x,local_y,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    bom = tmp_path / "bom.csv"
    bom.write_text("local_x,local_y,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8-sig")
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(rows) + "\n")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(("点号,local_x,local_y,经度,纬度\n" + "\n".join(
        f"控制点{i},{r}" for i, r in enumerate(rows, 1)) + "\n").encode("gbk"))

    for path in (header, bom, bare, gbk):
        cp = read_control_points(path)
        assert np.allclose(cp.local, local) and np.allclose(cp.lonlat, lonlat, atol=1e-12), path.name
    assert read_control_points(gbk).labels == ["控制点1", "控制点2", "控制点3", "控制点4"]


def test_control_point_csv_in_gauss_kruger(tmp_path):
    local = np.array(SQUARE)
    lonlat = true_lonlat(local)
    to_gk = Transformer.from_crs(4326, 4549, always_xy=True)
    e, n = to_gk.transform(lonlat[:, 0], lonlat[:, 1])
    lines = [",".join(repr(float(v)) for v in (x, y, ee, nn)) for (x, y), ee, nn in zip(local, e, n, strict=True)]

    with_epsg = tmp_path / "epsg.csv"
    with_epsg.write_text("local_x,local_y,x,y,epsg\n" + "\n".join(f"{ln},EPSG:4549" for ln in lines) + "\n")
    plain = tmp_path / "xy.csv"
    plain.write_text("local_x,local_y,x,y\n" + "\n".join(lines) + "\n")

    for cp in (read_control_points(with_epsg), read_control_points(plain, crs="EPSG:4549")):
        assert metres_apart(cp.lonlat, lonlat).max() < 1e-6
    with pytest.raises(GeoreferenceError, match="epsg"):
        read_control_points(plain)
    fit = fit_control_points(read_control_points(with_epsg))
    assert fit.rms_m < 1e-3


@pytest.mark.parametrize("header", ["x,y,lon,lat", "X,Y,Lon,Lat", "local_x,local_y,lon,lat", "本地X,本地Y,经度,纬度",
                                    "sourceX,sourceY,lon,lat", "x;y;longitude;latitude"])
def test_control_point_csv_takes_the_usual_header_spellings(tmp_path, header):
    local = np.array(SQUARE)
    lonlat = true_lonlat(local)
    sep = ";" if ";" in header else ","
    path = tmp_path / "cp.csv"
    path.write_text(header + "\n" + "\n".join(sep.join(repr(float(v)) for v in (*a, *b))
                                               for a, b in zip(local, lonlat, strict=True)) + "\n", encoding="utf-8")
    cp = read_control_points(path)
    assert np.allclose(cp.local, local) and np.allclose(cp.lonlat, lonlat, atol=1e-12)


def test_control_points_in_east_north_and_qgis_points_files(tmp_path):
    local = np.array(SQUARE)
    lonlat = true_lonlat(local)
    e, n = Transformer.from_crs(4326, 4549, always_xy=True).transform(lonlat[:, 0], lonlat[:, 1])
    en = tmp_path / "en.csv"
    en.write_text("x,y,E,N\n" + "\n".join(",".join(repr(float(v)) for v in (a, b, c, d))
                                      for (a, b), c, d in zip(local, e, n, strict=True)))
    assert metres_apart(read_control_points(en, crs="EPSG:4549").lonlat, lonlat).max() < 1e-6
    with pytest.raises(GeoreferenceError, match="epsg"):
        read_control_points(en)                                  # planar without a CRS: said so

    # QGIS georeferencer: "#CRS: <WKT>", then mapX,mapY,sourceX,sourceY,enable,dX,dY,residual; enable 0 is left out
    rows = [",".join(repr(float(v)) for v in (c, d, a, b)) + ",1,0,0,0"
            for (a, b), c, d in zip(local, e, n, strict=True)]
    rows.append("1.0,2.0,3.0,4.0,0,0,0,0")
    qgis = tmp_path / "plant.dxf.points"
    qgis.write_text(f"#CRS: {CRS.from_epsg(4549).to_wkt()}\nmapX,mapY,sourceX,sourceY,enable,dX,dY,residual\n"
                    + "\n".join(rows) + "\n", encoding="utf-8")
    cp = read_control_points(qgis)
    assert len(cp.local) == 4 and np.allclose(cp.local, local)
    assert metres_apart(cp.lonlat, lonlat).max() < 1e-6
    plain = tmp_path / "old.points"                              # older QGIS: no #CRS line, lon/lat map coordinates
    plain.write_text("mapX,mapY,sourceX,sourceY,enable\n" + "\n".join(
        ",".join(repr(float(v)) for v in (c, d, a, b)) + ",1" for (a, b), (c, d) in zip(local, lonlat, strict=True)))
    assert np.allclose(read_control_points(plain).lonlat, lonlat, atol=1e-12)
    assert fit_control_points(read_control_points(qgis)).rms_m < 1e-3


def test_control_point_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("local_x,local_y,lon,lat\n0,0,120.1,31.5\n10,abc,120.2,31.6\n")
    with pytest.raises(GeoreferenceError, match="第 3 行"):
        read_control_points(bad)
    swapped = tmp_path / "swapped.csv"
    swapped.write_text("local_x,local_y,lon,lat\n0,0,31.5,120.1\n100,0,31.5,120.2\n")
    with pytest.raises(GeoreferenceError, match="颠倒"):
        read_control_points(swapped)
    header = tmp_path / "header.csv"
    header.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(GeoreferenceError, match="表头") as refused:
        read_control_points(header)
    assert "x,y,lon,lat" in refused.value.message and ".points" in refused.value.message
    with pytest.raises(GeoreferenceError, match="找不到"):
        read_control_points(tmp_path / "missing.csv")


# --- CRS given or in the file -----------------------------------------------------------------------------


def test_unknown_epsg_named():
    with pytest.raises(GeoreferenceError) as info:
        resolve_crs("EPSG:99999")
    assert "EPSG:99999" in info.value.message and "未知的坐标系" in info.value.message
    assert resolve_crs(4549).to_epsg() == 4549
    assert resolve_crs("4549").to_epsg() == 4549


def test_metric_crs_for_lonlat():
    assert metric_crs_for(120.31, 31.49) == "EPSG:4549"     # CGCS2000 GK CM 120E
    assert metric_crs_for(116.4, 39.9) == "EPSG:4548"       # Beijing, CM 117E
    assert metric_crs_for(2.35, 48.85) == "EPSG:32631"      # Paris, UTM 31N
    assert metric_crs_for(151.2, -33.9) == "EPSG:32756"     # Sydney, UTM 56S


def test_lonlat_layout_gets_gauss_kruger_plan():
    raw = raw_layout([shapely.box(120.31, 31.49, 120.312, 31.491)], crs="EPSG:4326")
    geo = georeference(raw)
    assert geo.crs == "EPSG:4549" and geo.georeferenced
    assert geo.info == {"method": "crs", "source_crs": "EPSG:4326", "crs": "EPSG:4549"}
    area = shapely.area(geo.geometry[0])
    assert 180 * 110 * 0.9 < area < 190 * 111 * 1.1            # ~190 m × ~111 m in metres


def test_declared_crs_overrides_and_projected_passes_through():
    gk = gpd.GeoSeries([shapely.box(120.31, 31.49, 120.312, 31.491)], crs=4326).to_crs(4549)
    raw = raw_layout(list(gk), crs=None, units=0.001)
    geo = georeference(raw, crs="EPSG:4549")
    assert geo.crs == "EPSG:4549"
    assert shapely.equals_exact(geo.geometry[0], gk.iloc[0], 0)       # no reprojection, no rounding
    assert any("图纸单位" in w for w in geo.warnings)


@pytest.mark.parametrize("bounds, crs, expect", [
    ((31.49, 120.31, 31.50, 120.32), "EPSG:4326", "经纬度可能颠倒"),
    ((0.0, 0.0, 600.0, 400.0), "EPSG:4326", "平面或 CAD 本地坐标"),
    ((0.0, 0.0, 60.0, 40.0), "EPSG:4326", "不可能是一个厂区"),
    ((1_529_000.0, 3_485_000.0, 1_530_000.0, 3_486_000.0), "EPSG:4549", "远超"),      # 1,000 km east
    ((40_529_000.0, 3_485_000.0, 40_530_000.0, 3_486_000.0), "EPSG:4549", "EPSG:4528"),  # zone prefix
    ((3_485_000.0, 529_000.0, 3_486_000.0, 530_000.0), "EPSG:4549", "X/Y 可能颠倒"),
    ((120.31, 31.49, 120.32, 31.50), "EPSG:4549", "EPSG:4326"),
    ((529_000.0, 3_485_000.0, 530_000.0, 3_486_000.0), "EPSG:4534", "远超"),       # wrong zone (CM 75E)
])
def test_coordinates_that_do_not_fit_the_crs_are_refused(bounds, crs, expect):
    with pytest.raises(GeoreferenceError, match=expect) as info:
        check_coordinates(bounds, resolve_crs(crs))
    assert " / " in info.value.message


def test_coordinates_that_fit_pass():
    check_coordinates((120.31, 31.49, 120.32, 31.50), resolve_crs("EPSG:4326"))
    check_coordinates((529_000.0, 3_485_000.0, 530_000.0, 3_486_000.0), resolve_crs("EPSG:4549"))
    # a little beyond the zone's published edge is normal practice
    check_coordinates((370_000.0, 3_485_000.0, 371_000.0, 3_486_000.0), resolve_crs("EPSG:4549"))


# --- neither ----------------------------------------------------------------------------------------------


def test_no_georeference_places_at_origin_with_warning():
    raw = raw_layout([shapely.Point(0, 0), shapely.Point(100_000 / 1000, 0)], units=0.001)   # millimetres
    geo = georeference(raw, origin=(118.8, 32.05))
    assert not geo.georeferenced
    assert geo.info["method"] == "origin" and geo.info["units_m"] == 0.001
    assert any("未地理配准" in w and "not georeferenced" in w for w in geo.warnings)
    lonlat = shapely.get_coordinates(to_lonlat(geo.geometry, geo.crs))
    assert lonlat[0] == pytest.approx([118.8, 32.05], abs=1e-12)
    east = (lonlat[1, 0] - 118.8) * 111_320 * math.cos(math.radians(32.05))
    assert east == pytest.approx(0.1, abs=1e-4)               # 100 mm → 0.1 m east


def test_far_drawing_is_shifted_and_gauss_kruger_hinted():
    raw = raw_layout([shapely.box(529_000, 3_485_000, 529_600, 3_485_400)])
    geo = georeference(raw)
    assert geo.info["offset"] == [529_000.0, 3_485_000.0]
    assert any("EPSG:4549" in w for w in geo.warnings)
    bounds = shapely.total_bounds(geo.geometry)
    assert bounds.tolist() == pytest.approx([0, 0, 600, 400])
