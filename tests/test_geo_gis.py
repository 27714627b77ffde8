"""GIS readers: GeoJSON, GeoPackage, zipped and plain Shapefile (with and without .cpg), KML/KMZ."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from riskmap.errors import LayoutImportError, RiskmapError
from riskmap.geo.gis import normalise_roles, sniff_dbf_encoding
from riskmap.geo.importer import detect_format, import_layout, read_layout

LON, LAT = 120.31, 31.49   # a chemical park in Jiangsu


def plant_frame(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """Three features with Chinese names and roles (Chinese, English, unknown) around (LON, LAT)."""
    d = 0.001
    geoms = [shapely.box(LON, LAT, LON + d, LAT + d),
             shapely.box(LON + 2 * d, LAT, LON + 3 * d, LAT + d),
             shapely.LineString([(LON, LAT - d), (LON + 3 * d, LAT - d)])]
    gdf = gpd.GeoDataFrame({"name": ["甲类仓库", "罐区一", "厂区主干道"], "role": ["建筑", "region", "马路"],
                            "备注": ["危化品", "储罐 6 座", None]}, geometry=geoms, crs="EPSG:4326")
    return gdf.to_crs(crs)


def by_name(layout) -> dict:
    return {row.name: row for row in layout.features.itertuples()}


def test_geojson_with_chinese_attributes(tmp_path):
    path = tmp_path / "布置图.geojson"
    plant_frame().to_file(path, driver="GeoJSON")
    layout = import_layout(path)
    assert layout.source_format == "geojson"
    assert layout.source_name == "布置图.geojson"
    rows = by_name(layout)
    assert set(rows) == {"甲类仓库", "罐区一", "厂区主干道"}
    assert rows["甲类仓库"].role == "building"
    assert rows["罐区一"].role == "region"
    assert rows["厂区主干道"].role == "other"
    assert rows["甲类仓库"].properties["备注"] == "危化品"
    assert any("马路" in w and "other" in w for w in layout.warnings)
    assert layout.crs == "EPSG:4549"               # CGCS2000 GK zone of 120°E chosen for lon/lat data
    assert layout.features.crs.to_epsg() == 4326
    assert shapely.hausdorff_distance(by_name(layout)["甲类仓库"].geometry, plant_frame().geometry.iloc[0]) < 1e-9
    json.dumps(layout.summary(), ensure_ascii=False)  # the report is plain JSON


def test_geopackage_layers_and_own_crs(tmp_path):
    path = tmp_path / "plant.gpkg"
    frame = plant_frame("EPSG:4549")
    frame.iloc[:2].to_file(path, layer="建筑与区域")
    frame.iloc[2:].to_crs(4326).to_file(path, layer="道路")   # another CRS: brought into the first
    pyogrio.write_dataframe(gpd.pd.DataFrame({"x": [1]}), path, layer="attribute_only")
    layout = import_layout(path)
    assert layout.crs == "EPSG:4549"
    assert layout.source_format == "gpkg"
    rows = by_name(layout)
    assert rows["甲类仓库"].layer == "建筑与区域"
    assert rows["厂区主干道"].layer == "道路"
    fids = layout.features["fid"].tolist()
    assert len(set(fids)) == len(fids) and all("/" in f for f in fids)
    # positions survive the CRS round trip (4549 → 4326) to well under a millimetre
    original = plant_frame().geometry.iloc[0]
    assert shapely.hausdorff_distance(rows["甲类仓库"].geometry, original) < 1e-8


def test_name_and_role_properties_are_configurable(tmp_path):
    frame = plant_frame().rename(columns={"name": "名称", "role": "类型"})
    path = tmp_path / "p.geojson"
    frame.to_file(path, driver="GeoJSON")
    layout = import_layout(path, name_property="名称", role_property="类型")
    assert set(layout.features["name"]) == {"甲类仓库", "罐区一", "厂区主干道"}
    assert sorted(layout.features["role"]) == ["building", "other", "region"]


def test_missing_role_uses_layer_map_on_layer_property(tmp_path):
    frame = plant_frame().drop(columns="role")
    frame["layer"] = ["1-建筑物", "罐区边界", "主要道路"]
    path = tmp_path / "p.geojson"
    frame.to_file(path, driver="GeoJSON")

    without = import_layout(path)
    assert set(without.features["role"]) == {"other"}
    assert any("3 个要素" in w for w in without.warnings)

    class Rules:
        def role_for(self, layer: str) -> str:
            return {"1-建筑物": "building", "罐区边界": "region"}.get(layer, "road")

    with_map = import_layout(path, layer_map=Rules())
    rows = by_name(with_map)
    assert (rows["甲类仓库"].role, rows["罐区一"].role, rows["厂区主干道"].role) == ("building", "region", "road")
    assert not any("other" in w for w in with_map.warnings)


def test_real_layer_map_file_with_ignore(tmp_path):
    pytest.importorskip("riskmap.geo.layermap")
    frame = plant_frame().drop(columns="role")
    frame["layer"] = ["建筑", "区域", "文字标注"]
    path = tmp_path / "p.geojson"
    frame.to_file(path, driver="GeoJSON")
    lm = tmp_path / "map.yaml"
    lm.write_text("建筑: building\n区域: region\n文字: ignore\n", encoding="utf-8")
    layout = import_layout(path, layer_map=lm)
    assert sorted(layout.features["role"]) == ["building", "region"]
    assert layout.dropped.get("ignored layer") == 1


def test_role_words_in_both_languages():
    import pandas as pd

    roles = normalise_roles(pd.Series(["区域", "Building", " 设备 ", "道路", "围墙", "FENCE", "其他", None, "x"]))
    assert roles.tolist()[:7] == ["region", "building", "equipment", "road", "fence", "fence", "other"]
    assert pd.isna(roles.iloc[7]) and pd.isna(roles.iloc[8])


def _write_shapefile(folder: Path, encoding: str, keep_cpg: bool) -> Path:
    folder.mkdir()
    frame = plant_frame("EPSG:4549").rename(columns={"备注": "说明"})
    frame.geometry = frame.geometry.buffer(2.0, cap_style="flat")    # a shapefile holds one geometry type
    shp = folder / "布局.shp"
    frame.to_file(shp, encoding=encoding)
    if not keep_cpg:
        shp.with_suffix(".cpg").unlink()
    return shp


def _zip(folder: Path, out: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, prefix + f.name)
    return out


def test_zipped_shapefile_utf8_with_cpg(tmp_path):
    shp = _write_shapefile(tmp_path / "s", "UTF-8", keep_cpg=True)
    layout = import_layout(_zip(shp.parent, tmp_path / "layout.zip", prefix="data/"))
    assert layout.source_format == "shp"
    assert layout.source_name == "layout.zip"
    assert by_name(layout)["罐区一"].properties["说明"] == "储罐 6 座"
    assert layout.crs == "EPSG:4549"


def test_gbk_shapefile_without_cpg_reads_correct_chinese(tmp_path):
    shp = _write_shapefile(tmp_path / "s", "GBK", keep_cpg=False)
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "甲类仓库".encode("gbk") in raw and "甲类仓库".encode() not in raw
    assert sniff_dbf_encoding(shp.with_suffix(".dbf")) == "GB18030"
    # GDAL alone would give mojibake here
    plain = pyogrio.read_dataframe(shp)
    assert "甲类仓库" not in set(plain["name"])

    for layout in (import_layout(_zip(shp.parent, tmp_path / "gbk.zip")), import_layout(shp)):
        rows = by_name(layout)
        assert set(rows) == {"甲类仓库", "罐区一", "厂区主干道"}
        assert rows["甲类仓库"].role == "building"
        assert rows["甲类仓库"].properties["说明"] == "危化品"


def test_cpg_that_lies_about_utf8_is_overruled(tmp_path):
    shp = _write_shapefile(tmp_path / "s", "GBK", keep_cpg=False)
    shp.with_suffix(".cpg").write_text("UTF-8")
    layout = import_layout(shp)
    assert "甲类仓库" in set(layout.features["name"])
    assert any(".cpg" in w for w in layout.warnings)


def test_kml_names_from_name_element(tmp_path):
    path = tmp_path / "plant.kml"
    frame = plant_frame()
    pyogrio.write_dataframe(frame, path, driver="KML", layer="厂区")
    layout = import_layout(path)
    assert layout.source_format == "kml"
    rows = by_name(layout)
    assert set(rows) == {"甲类仓库", "罐区一", "厂区主干道"}
    assert rows["甲类仓库"].role == "building" and rows["罐区一"].role == "region"
    assert not layout.features.geometry.has_z.any()


def test_kmz(tmp_path):
    kml = tmp_path / "doc.kml"
    pyogrio.write_dataframe(plant_frame(), kml, driver="KML")
    kmz = tmp_path / "plant.kmz"
    with zipfile.ZipFile(kmz, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(kml, "doc.kml")
        zf.writestr("files/icon.png", b"\x89PNG not really")
    layout = import_layout(kmz)
    assert layout.source_format == "kml" and layout.source_name == "plant.kmz"
    assert len(layout.features) == 3


def test_kml_with_entities_refused(tmp_path):
    path = tmp_path / "evil.kml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaa">]>'
                    '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&a;</name>'
                    '<Point><coordinates>120,32</coordinates></Point></Placemark></Document></kml>')
    with pytest.raises(LayoutImportError, match="DTD"):
        import_layout(path)


def test_detect_format_by_content_over_extension(tmp_path):
    gj = tmp_path / "upload.bin"
    plant_frame().to_file(gj, driver="GeoJSON")
    assert detect_format(gj) == "geojson"
    gpkg = tmp_path / "misnamed.json"
    plant_frame().to_file(tmp_path / "real.gpkg", driver="GPKG")
    (tmp_path / "real.gpkg").rename(gpkg)
    assert detect_format(gpkg) == "gpkg"
    assert import_layout(gpkg).source_format == "gpkg"
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(LayoutImportError, match="不支持的文件类型"):
        import_layout(other)


def test_read_layout_keeps_file_coordinates(tmp_path):
    path = tmp_path / "p.gpkg"
    plant_frame("EPSG:4549").to_file(path)
    raw = read_layout(path)
    assert raw.crs.to_epsg() == 4549
    assert raw.features.total_bounds[0] > 100_000       # still metres in the zone, not degrees


@pytest.mark.parametrize("content, message", [
    (b"", "为空"),
    (b'{"type": "FeatureCollection", "features": [', "不是有效的 JSON"),
    (b'{"type": "FeatureCollection", "features": []}', "没有任何要素"),
    (b'{"units": [1, 2, 3]}', "不是 GeoJSON"),
    (b"\xff\xfe garbage", "GeoJSON"),
])
def test_bad_geojson(tmp_path, content, message):
    path = tmp_path / "bad.geojson"
    path.write_bytes(content)
    with pytest.raises(LayoutImportError, match=message) as info:
        import_layout(path)
    assert " / " in info.value.message              # Chinese first, English after


def test_zip_without_shapefile(tmp_path):
    path = tmp_path / "docs.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "图纸见附件")
    with pytest.raises(LayoutImportError, match=r"\.shp"):
        import_layout(path)


def test_shapefile_missing_dbf(tmp_path):
    shp = _write_shapefile(tmp_path / "s", "UTF-8", keep_cpg=True)
    shp.with_suffix(".dbf").unlink()
    with pytest.raises(LayoutImportError, match=r"\.dbf"):
        import_layout(shp)


def test_kml_without_placemarks(tmp_path):
    path = tmp_path / "empty.kml"
    path.write_text('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>')
    with pytest.raises(RiskmapError, match="没有"):
        import_layout(path)


def test_zip_with_gbk_file_names(tmp_path):
    """Windows zip tools write Chinese names in GBK without the UTF-8 flag."""
    shp = _write_shapefile(tmp_path / "s", "UTF-8", keep_cpg=True)
    placeholder, gbk_stem = b"XXXX", "布局".encode("gbk")          # same length: 4 bytes
    path = tmp_path / "gbk-names.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(shp.parent.iterdir()):
            zf.write(f, "XXXX" + f.suffix)
    path.write_bytes(path.read_bytes().replace(placeholder, gbk_stem))
    with zipfile.ZipFile(path) as zf:
        assert not any(i.flag_bits & 0x800 for i in zf.infolist())
    layout = import_layout(path)
    assert set(layout.features["layer"]) == {"布局"}
    assert "甲类仓库" in set(layout.features["name"])


def test_single_geojson_inside_a_zip(tmp_path):
    gj = tmp_path / "p.geojson"
    plant_frame().to_file(gj, driver="GeoJSON")
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(gj, "导出/布置图.geojson")
    layout = import_layout(path)
    assert layout.source_format == "geojson" and layout.source_name == "p.zip"
    assert len(layout.features) == 3
