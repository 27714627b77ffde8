"""QGIS 3.22 (Debian's python3-qgis, headless) as a GIS colleague uses it: the exported GeoPackage opens four-coloured
with the style embedded in it (symbol levels, rank order, the legend's colours), renders the colour of the highest
level at every sampled place; the OGC API Features collections open with one geometry type each; the WMTS layer
renders the regions' colours; the SLD applies.

QGIS runs in a subprocess under Debian's /usr/bin/python3 (tests/clients/qgis_client.py); missing, the tests are
skipped locally and fail in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from liveserver import required_client

CLIENT = Path(__file__).parent / "clients" / "qgis_client.py"
SYSTEM_PYTHON = "/usr/bin/python3"
TOLERANCE = 12
EDGE_PX = 4


def _qgis(job: dict, tmp_path: Path) -> list[dict]:
    if not Path(SYSTEM_PYTHON).exists() or subprocess.run(
            [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode != 0:
        required_client("QGIS's Python bindings are missing: apt-get install python3-qgis qgis-providers "
                        "(scripts/setup.sh installs them)")
    path = tmp_path / f"job-{len(list(tmp_path.glob('job-*')))}.json"
    path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path), "PYTHONPATH": ""}
    done = subprocess.run([SYSTEM_PYTHON, str(CLIENT), str(path)], capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def gpkg(demo_db_url, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("qgis") / "plant.gpkg"
    riskmap = shutil.which("riskmap") or None
    args = [riskmap] if riskmap else [os.sys.executable, "-m", "riskmap.cli"]
    done = subprocess.run([*args, "export", str(out), "--db", demo_db_url], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def _pixels(png: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def _fills(layer: str) -> dict[int, str]:
    from riskmap.render.style import load_layer_style

    return {i: c.fill for i, c in enumerate(load_layer_style(layer).classes)}


def _top_colours(points: np.ndarray, layers: list[tuple[object, dict[int, str]]]) -> tuple[np.ndarray, np.ndarray]:
    """The colour on top at each point (EPSG:3857) and its rank: the last layer with a feature there, in it the
    highest rank, then the smallest area (the draw order paints it last)."""
    colour = np.full(len(points), None, dtype=object)
    rank = np.full(len(points), -1)
    pts = shapely.points(points)
    for gdf, fills in layers:
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        ranks = gdf["rank"].to_numpy()
        order = np.lexsort((-shapely.area(geoms), ranks))
        for i in order:
            inside = shapely.contains(geoms[i], pts)
            colour[inside], rank[inside] = fills[int(ranks[i])], int(ranks[i])
    return colour, rank


def _compare(png: str, extent: list[float], size: tuple[int, int], layers, edges) -> set[int]:
    """Compare a rendered PNG with the data's top colour at a grid of pixels; returns the ranks seen."""
    shot = _pixels(png)
    width, height = size
    xs, ys = np.meshgrid(np.arange(10, width - 10, 17), np.arange(10, height - 10, 17))
    px = np.column_stack([xs.ravel(), ys.ravel()])
    xmin, ymin, xmax, ymax = extent
    per_px = (xmax - xmin) / width
    world = np.column_stack([xmin + (px[:, 0] + 0.5) * per_px, ymax - (px[:, 1] + 0.5) * per_px])
    colour, rank = _top_colours(world, layers)
    near = shapely.dwithin(edges, shapely.points(world), EDGE_PX * per_px)
    checked = (colour != None) & ~near       # noqa: E711
    assert checked.sum() > 300, checked.sum()
    bad, seen = [], set()
    for i in np.flatnonzero(checked):
        want = np.array([int(colour[i][k:k + 2], 16) for k in (1, 3, 5)])
        got = shot[px[i, 1], px[i, 0]]
        if np.abs(got - want).max() > TOLERANCE:
            bad.append((tuple(px[i]), colour[i], tuple(got), int(rank[i])))
        else:
            seen.add(int(rank[i]))
    assert not bad, f"{len(bad)} of {checked.sum()} pixels show another colour: {bad[:5]}"
    return seen


def test_geopackage_opens_four_coloured_with_its_embedded_style(gpkg, tmp_path):
    regions = pyogrio.read_dataframe(gpkg, layer="regions").to_crs(3857)
    units = pyogrio.read_dataframe(gpkg, layer="units_areas").to_crs(3857)
    xmin, ymin, xmax, ymax = regions.total_bounds
    pad = (xmax - xmin) * 0.03
    extent = [xmin - pad, ymin - pad, xmax + pad, ymax + pad]
    width = 1400
    height = int(width * (extent[3] - extent[1]) / (extent[2] - extent[0]))
    png = str(tmp_path / "gpkg.png")
    out = _qgis({"layers": [{"uri": f"{gpkg}|layername=regions", "provider": "ogr", "name": "regions"},
                            {"uri": f"{gpkg}|layername=units_areas", "provider": "ogr", "name": "units_areas"}],
                 "render": {"crs": "EPSG:3857", "extent": extent, "width": width, "height": height, "png": png}},
                tmp_path)
    regions_info, units_info, render = out
    for info, layer in ((units_info, "units"), (regions_info, "regions")):
        assert info["valid"] and info["renderer"] == "categorizedSymbol" and info["attribute"] == "rank", info
        assert info["symbol_levels"] and '"rank" ASC' in info["order_by"], info
        from riskmap.render.style import load_layer_style

        style = load_layer_style(layer)
        # the legend: most important first, not assessed last with its own entry, each the colour drawn
        assert [c["label"] for c in info["categories"]] == [f"{e['zh']} / {e['en']}" for e in style.legend()]
        assert [c["colour"].upper() for c in info["categories"]] == [e["fill"] for e in style.legend()]
        assert info["categories"][-1]["label"].startswith("未评估")
    assert render["errors"] == []
    edges = shapely.union_all(shapely.boundary(np.concatenate([regions.geometry.values, units.geometry.values])))
    # QGIS draws regions below units, each by rank (symbol levels) and larger areas first
    seen = _compare(png, render["visible_extent"], (width, height),
                    [(regions, _fills("regions")), (units, _fills("units"))], edges)
    assert {1, 2, 3, 4} <= seen, seen


def test_ogc_collections_and_wmts_open_in_qgis(live_demo, gpkg, tmp_path):
    base = live_demo.url
    regions = pyogrio.read_dataframe(gpkg, layer="regions").to_crs(3857)
    xmin, ymin, xmax, ymax = regions.total_bounds
    extent = [xmin, ymin, xmax, ymax]
    width = 900
    height = int(width * (ymax - ymin) / (xmax - xmin))
    png = str(tmp_path / "wmts.png")
    wmts = (f"contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&format=image/png&layers=regions&styles=default"
            f"&tileMatrixSet=WebMercatorQuad&url={base}/wmts/1.0.0/WMTSCapabilities.xml")
    out = _qgis({"layers": [
        {"uri": f"url='{base}/ogc' typename='regions'", "provider": "OAPIF", "name": "oapif-regions", "render": False},
        {"uri": f"url='{base}/ogc' typename='units_areas'", "provider": "OAPIF", "name": "oapif-units",
         "render": False},
        {"uri": f"url='{base}/ogc' typename='layout_lines'", "provider": "OAPIF", "name": "oapif-lines",
         "render": False},
        {"uri": wmts, "provider": "wms", "name": "wmts-regions"}],
        "render": {"crs": "EPSG:3857", "extent": extent, "width": width, "height": height, "png": png}}, tmp_path)
    oapif_regions, oapif_units, oapif_lines, wmts_info, render = out
    assert oapif_regions["valid"] and oapif_regions["features"] == len(regions)
    assert oapif_regions["geometry"] in ("Polygon", "MultiPolygon")
    assert oapif_units["valid"] and oapif_units["geometry"] in ("Polygon", "MultiPolygon")
    assert oapif_lines["valid"] and oapif_lines["geometry"] in ("LineString", "MultiLineString")
    assert oapif_lines["features"] == len(pyogrio.read_dataframe(gpkg, layer="layout_lines"))
    assert {"region_id", "rank", "colour", "level"} <= set(oapif_regions["fields"])
    assert wmts_info["valid"], wmts_info
    shot = _pixels(png)
    assert shot.shape[:2] == (height, width)
    # the WMTS regions are drawn in the regions' tints: each level's tint covers a good part of the map
    flat = shot.reshape(-1, 3)
    covered = {}
    for rank, fill in _fills("regions").items():
        want = np.array([int(fill[k:k + 2], 16) for k in (1, 3, 5)])
        covered[rank] = int((np.abs(flat - want).max(axis=1) <= 3).sum())
    assert all(covered[r] > 500 for r in (1, 2, 3, 4)), covered


def test_sld_applies_in_qgis(gpkg, live_demo, tmp_path):
    import urllib.request

    sld = tmp_path / "risk.sld"
    with urllib.request.urlopen(f"{live_demo.url}/styles/risk/style.sld") as resp:
        sld.write_bytes(resp.read())
    single = tmp_path / "regions.sld"
    # QGIS applies the NamedLayer of its layer's name: one file per layer, as GeoServer stores them
    import xml.etree.ElementTree as ET

    tree = ET.parse(sld)
    ns = {"sld": "http://www.opengis.net/sld"}
    root = tree.getroot()
    for named in root.findall("sld:NamedLayer", ns):
        if named.find("sld:Name", ns).text != "regions":
            root.remove(named)
    tree.write(single, encoding="utf-8", xml_declaration=True)
    out = _qgis({"layers": [{"uri": f"{gpkg}|layername=regions", "provider": "ogr", "name": "regions",
                             "sld": str(single)}]}, tmp_path)
    info = out[0]
    assert info["valid"] and info["renderer"] == "RuleRenderer", info
    from riskmap.render.style import load_layer_style

    style = load_layer_style("regions")
    colours = {r["label"]: (r["colour"] or "").upper() for r in info["rules"]}
    for c in style.classes:
        assert colours[f"{c.zh} / {c.en}"] == c.fill, (c.key, colours)
