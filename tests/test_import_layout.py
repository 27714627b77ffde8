"""import_layout end to end: georeferencing through files, precision, orientation, and hostile input."""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from riskmap.errors import GeoreferenceError, LayoutImportError, RiskmapError, TooLargeError
from riskmap.geo.importer import import_layout
from riskmap.geo.safety import ZipLimits, private_tempdir

LON0, LAT0 = 119.93, 31.78
TRUTH = CRS.from_proj4(f"+proj=tmerc +lat_0={LAT0} +lon_0={LON0} +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m")
ANGLE = math.radians(12.0)
ROT = np.array([[math.cos(ANGLE), -math.sin(ANGLE)], [math.sin(ANGLE), math.cos(ANGLE)]])
OFFSET = np.array([-300.0, -200.0])


def true_lonlat(local) -> np.ndarray:
    metres = (np.asarray(local, dtype=float) + OFFSET) @ ROT.T
    return np.column_stack(Transformer.from_crs(TRUTH, 4326, always_xy=True).transform(metres[:, 0], metres[:, 1]))


def metres_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dlon = (a[:, 0] - b[:, 0]) * 111_320.0 * math.cos(math.radians(LAT0))
    return np.hypot(dlon, (a[:, 1] - b[:, 1]) * 110_574.0)


def write_control_points(path: Path, local) -> Path:
    lonlat = true_lonlat(local)
    lines = ["name,local_x,local_y,lon,lat"] + [
        f"CP{i},{float(x)!r},{float(y)!r},{float(lon)!r},{float(lat)!r}"
        for i, ((x, y), (lon, lat)) in enumerate(zip(local, lonlat, strict=True), 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CONTROL = [(0.0, 0.0), (600.0, 0.0), (600.0, 400.0), (0.0, 400.0)]


def local_plant(path: Path) -> Path:
    """A GeoPackage in plant coordinates (metres, no CRS), like a CAD export."""
    gdf = gpd.GeoDataFrame({"name": ["一号罐区", "办公楼", "泵"], "role": ["区域", "建筑", "设备"]},
                           geometry=[shapely.box(50, 50, 250, 150), shapely.box(400, 300, 450, 340),
                                     shapely.Point(120.25, 80.5)])
    with pytest.warns(UserWarning):
        gdf.to_file(path, driver="GPKG")
    return path


def test_control_points_from_csv_end_to_end(tmp_path):
    layout = import_layout(local_plant(tmp_path / "plant.gpkg"),
                           control_points=write_control_points(tmp_path / "cp.csv", CONTROL))
    geo = layout.georeference
    assert layout.georeferenced
    assert geo["method"] == "affine" and geo["points"] == 4
    assert geo["rms_m"] < 1e-3 and len(geo["residuals_m"]) == 4
    assert geo["scale"] == pytest.approx(1.0, abs=1e-6) and geo["rotation_deg"] == pytest.approx(12.0, abs=1e-6)
    assert geo["labels"] == ["CP1", "CP2", "CP3", "CP4"]
    assert layout.crs.startswith("+proj=tmerc")
    assert CRS.from_user_input(layout.crs).is_projected       # the store can parse it back
    pump = layout.features.set_index("name").geometry["泵"]
    got = np.array([[pump.x, pump.y]])
    assert metres_apart(got, true_lonlat([(120.25, 80.5)]))[0] < 1e-3
    tank = layout.features.set_index("name").geometry["一号罐区"]
    corners = shapely.get_coordinates(tank)[:-1]
    expected = true_lonlat([(50, 50), (250, 50), (250, 150), (50, 150)])
    assert all(metres_apart(np.array([c]), expected).min() < 1e-3 for c in corners)
    assert json.loads(json.dumps(layout.summary(), ensure_ascii=False))["georeference"]["method"] == "affine"


def test_two_control_points_similarity(tmp_path):
    layout = import_layout(local_plant(tmp_path / "plant.gpkg"),
                           control_points=write_control_points(tmp_path / "cp.csv", CONTROL[::2]))
    assert layout.georeference["method"] == "similarity"
    assert any("2 个控制点" in w for w in layout.warnings)


def test_bad_control_points_refused(tmp_path):
    collinear = write_control_points(tmp_path / "cp.csv", [(0, 0), (100, 0), (200, 0), (300, 0.2)])
    with pytest.raises(GeoreferenceError, match="共线"):
        import_layout(local_plant(tmp_path / "plant.gpkg"), control_points=collinear)


def test_millimetre_offset_survives(tmp_path):
    a = shapely.box(529_000.0, 3_485_000.0, 529_010.0, 3_485_010.0)
    b = shapely.box(529_010.001, 3_485_000.0, 529_020.0, 3_485_010.0)
    path = tmp_path / "gk.gpkg"
    gpd.GeoDataFrame({"name": ["A", "B"], "role": ["building"] * 2}, geometry=[a, b], crs=4549).to_file(path)
    layout = import_layout(path)
    back = layout.features.to_crs(4549).set_index("name").geometry
    assert back["A"].distance(back["B"]) == pytest.approx(0.001, abs=1e-6)
    assert shapely.hausdorff_distance(back["A"], a) < 1e-6


def test_output_polygons_are_counter_clockwise(tmp_path):
    ring = [[120.31, 31.49], [120.31, 31.491], [120.312, 31.491], [120.312, 31.49], [120.31, 31.49]]  # clockwise
    path = tmp_path / "cw.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "仓库", "role": "building"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}, ensure_ascii=False), encoding="utf-8")
    layout = import_layout(path)
    assert layout.features.geometry.iloc[0].exterior.is_ccw


def test_not_georeferenced_placed_at_origin(tmp_path):
    layout = import_layout(local_plant(tmp_path / "plant.gpkg"), origin=(118.78, 32.04))
    assert not layout.georeferenced
    assert layout.georeference["method"] == "origin"
    assert any("未地理配准" in w for w in layout.warnings)
    minx, miny = layout.features.total_bounds[:2]
    assert minx > 118.78 and miny > 32.04 and minx - 118.78 < 0.01 and miny - 32.04 < 0.01


def test_swapped_lat_lon_geojson_refused(tmp_path):
    path = tmp_path / "swapped.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "泵房"},
         "geometry": {"type": "Point", "coordinates": [31.49, 120.31]}}]}), encoding="utf-8")
    with pytest.raises(GeoreferenceError, match="经纬度可能颠倒") as info:
        import_layout(path)
    assert "swapped" in info.value.message


def test_unknown_epsg_through_import(tmp_path):
    with pytest.raises(GeoreferenceError, match="EPSG:99999"):
        import_layout(local_plant(tmp_path / "plant.gpkg"), crs="EPSG:99999")


def test_cad_coordinates_declared_as_lonlat_refused(tmp_path):
    with pytest.raises(GeoreferenceError, match="CAD"):
        import_layout(local_plant(tmp_path / "plant.gpkg"), crs="EPSG:4326")


def test_invalid_polygon_refused_then_dropped(tmp_path):
    path = tmp_path / "bowtie.geojson"
    bowtie = [[120.31, 31.49], [120.311, 31.491], [120.311, 31.49], [120.31, 31.491], [120.31, 31.49]]
    square = [[120.32, 31.49], [120.321, 31.49], [120.321, 31.491], [120.32, 31.491], [120.32, 31.49]]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": 1, "properties": {"name": "交叉区"},
         "geometry": {"type": "Polygon", "coordinates": [bowtie]}},
        {"type": "Feature", "id": 2, "properties": {"name": "仓库"},
         "geometry": {"type": "Polygon", "coordinates": [square]}}]}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LayoutImportError, match="交叉区"):
        import_layout(path)
    layout = import_layout(path, drop_invalid=True)
    assert layout.features["name"].tolist() == ["仓库"] and layout.dropped == {"invalid": 1}


# --- hostile and broken files -----------------------------------------------------------------------------


def _shapefile_zip_entries(tmp_path: Path) -> dict[str, bytes]:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    gpd.GeoDataFrame({"name": ["罐区"]}, geometry=[shapely.box(529_000, 3_485_000, 529_010, 3_485_010)],
                     crs=4549).to_file(folder / "a.shp")
    return {f.name: f.read_bytes() for f in folder.iterdir()}


@pytest.mark.parametrize("evil", ["../evil.shp", "/tmp/riskmap-evil.shp", "..\\evil.shp", "ok/../../evil.dbf",
                                  "C:/evil.shp"])
def test_zip_slip_refused(tmp_path, evil):
    path = tmp_path / "slip.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in _shapefile_zip_entries(tmp_path).items():
            zf.writestr(name, data)
        zf.writestr(zipfile.ZipInfo(evil), b"owned")
    with pytest.raises(LayoutImportError, match="zip slip"):
        import_layout(path)
    assert not (tmp_path / "evil.shp").exists() and not Path("/tmp/riskmap-evil.shp").exists()


def test_zip_bomb_by_ratio_refused(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _shapefile_zip_entries(tmp_path).items():
            zf.writestr(name, data)
        with zf.open("padding.dbf", "w") as out:
            for _ in range(20):
                out.write(bytes(1024 * 1024))          # 20 MiB of zeros, ~20 kB compressed
    assert path.stat().st_size < 200_000
    with pytest.raises(TooLargeError, match="压缩炸弹"):
        import_layout(path)


def test_zip_bomb_claiming_a_huge_size_refused(tmp_path):
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _shapefile_zip_entries(tmp_path).items():
            zf.writestr(name, data)
        zf.writestr("huge.dbf", bytes(4096))
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")                    # central directory record of huge.dbf
    struct.pack_into("<I", data, entry + 24, 0xF0000000)  # claims ~3.75 GiB uncompressed
    path.write_bytes(bytes(data))
    with pytest.raises(TooLargeError, match="decompression bomb"):
        import_layout(path)


def test_zip_total_uncompressed_limit(tmp_path):
    path = tmp_path / "big.zip"
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in _shapefile_zip_entries(tmp_path).items():
            zf.writestr(name, data)
        zf.writestr("noise.bin", rng.bytes(300_000))
    with pytest.raises(TooLargeError):
        import_layout(path, zip_limits=ZipLimits(max_total_bytes=200_000))
    assert len(import_layout(path).features) == 1


def test_oversize_file_refused_before_reading(tmp_path):
    path = tmp_path / "plant.geojson"
    path.write_bytes(b"\x00garbage" * 100)              # would be a read error if it were read
    with pytest.raises(TooLargeError, match="文件过大") as info:
        import_layout(path, max_bytes=100)
    assert info.value.http_status == 413


def test_too_many_features_refused(tmp_path):
    path = tmp_path / "many.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.Point(120 + i * 1e-5, 31.5) for i in range(50)], crs=4326).to_file(path)
    with pytest.raises(TooLargeError, match="要素过多"):
        import_layout(path, max_features=10)


@pytest.mark.parametrize("suffix", [".geojson", ".json", ".gpkg", ".zip", ".kml", ".kmz", ".shp", ".dxf"])
def test_garbage_bytes_give_a_clear_error(tmp_path, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(np.random.default_rng(3).bytes(4000))
    with pytest.raises(RiskmapError) as info:
        import_layout(path)
    message = info.value.message
    assert " / " in message and any("\u4e00" <= ch <= "\u9fff" for ch in message.split(" / ")[0])


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".zip", ".kml", ".shp", ".dxf"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(LayoutImportError, match="为空"):
        import_layout(path)


def test_missing_file():
    with pytest.raises(LayoutImportError, match="找不到文件"):
        import_layout("/nonexistent/plant.geojson")


def test_temporary_files_always_removed(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for name, data in _shapefile_zip_entries(tmp_path).items():
            zf.writestr(name, data)
    assert len(import_layout(good).features) == 1
    assert list(scratch.iterdir()) == []

    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        for name, data in _shapefile_zip_entries(tmp_path).items():
            zf.writestr(name, b"\x00\x00\x27\x0a broken" if name.endswith(".shp") else data)
    with pytest.raises(LayoutImportError):
        import_layout(broken)
    assert list(scratch.iterdir()) == []

    with private_tempdir() as private:
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
    assert not private.exists()


# --- DXF through the same entry ---------------------------------------------------------------------------


def test_dxf_with_control_points(tmp_path):
    pytest.importorskip("riskmap.geo.dxf", reason="riskmap.geo.dxf (read_dxf) is written by another helper")
    ezdxf = pytest.importorskip("ezdxf")
    doc = ezdxf.new("R2013")
    doc.header["$INSUNITS"] = 6
    msp = doc.modelspace()
    doc.layers.add("区域")
    doc.layers.add("建筑物")
    msp.add_lwpolyline([(50, 50), (250, 50), (250, 150), (50, 150)], close=True, dxfattribs={"layer": "区域"})
    msp.add_lwpolyline([(400, 300), (450, 300), (450, 340), (400, 340)], close=True,
                       dxfattribs={"layer": "建筑物"})
    path = tmp_path / "plant.dxf"
    doc.saveas(path)

    layout = import_layout(path, control_points=write_control_points(tmp_path / "cp.csv", CONTROL))
    assert layout.source_format == "dxf" and layout.georeferenced
    assert sorted(layout.features["role"]) == ["building", "region"]
    region = layout.features.set_index("role").geometry["region"]
    corners = shapely.get_coordinates(region)[:-1]
    expected = true_lonlat([(50, 50), (250, 50), (250, 150), (50, 150)])
    assert all(metres_apart(np.array([c]), expected).min() < 1e-3 for c in corners)
    assert region.exterior.is_ccw

    plain = import_layout(path)
    assert not plain.georeferenced and any("未地理配准" in w for w in plain.warnings)
