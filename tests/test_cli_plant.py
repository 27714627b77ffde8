"""End to end through the `riskmap` command: the demo plant, region risk, export and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
import shapely

REPO = Path(__file__).resolve().parents[1]
RISKMAP = [sys.executable, "-m", "riskmap.cli"]


def run(*args, check=True, **kwargs):
    proc = subprocess.run([*RISKMAP, *map(str, args)], capture_output=True, text=True, timeout=300, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"riskmap {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    url = f"sqlite:///{db}"
    proc = run("demo", "--db", url, "--no-serve")
    assert "演示工厂已加载" in proc.stdout
    return url


def test_demo_has_all_four_colours(demo_db):
    out = json.loads(run("regions", "--db", demo_db, "--json").stdout)
    assert len(out) >= 24
    levels = {r["level"] for r in out}
    assert {"major", "significant", "general", "low"} <= levels
    for region in out:
        assert region["method"] == "highest"
        assert region["level_zh"] in {"重大风险", "较大风险", "一般风险", "低风险", None}
        if region["level"] is not None:
            assert region["decided_by"], region


def test_weighted_never_below_highest_minus_one(demo_db):
    highest = {r["name"]: r["level"] for r in json.loads(run("regions", "--db", demo_db, "--json").stdout)}
    weighted = json.loads(run("regions", "--db", demo_db, "--method", "weighted", "--json").stdout)
    rank = {"low": 1, "general": 2, "significant": 3, "major": 4}
    for region in weighted:
        assert region["method"] == "weighted"
        if region["level"] is not None:
            assert rank[region["level"]] >= rank[highest[region["name"]]] - 1


def test_regions_text_is_chinese(demo_db):
    out = run("regions", "--db", demo_db).stdout
    assert "重大风险" in out and "由" in out


def test_export_geopackage_and_geojson(demo_db, tmp_path):
    gpkg = tmp_path / "plant.gpkg"
    run("export", str(gpkg), "--db", demo_db)
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {"layout_areas", "layout_lines", "layout_points", "units_areas", "regions", "hazards_points",
                      "layer_styles"}
    points = pyogrio.read_dataframe(gpkg, layer="layout_points")     # the demo's hydrants, exits, eyewash …
    assert {"fire_hydrant", "extinguisher", "emergency_exit"} <= set(points["role"])
    regions = pyogrio.read_dataframe(gpkg, layer="regions")
    assert len(regions) >= 24 and set(regions["level"].dropna()) >= {"major", "low"}
    geojson = tmp_path / "regions.geojson"
    run("export", str(geojson), "--layer", "regions", "--db", demo_db)
    data = json.loads(geojson.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection"
    for feature in data["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        lon, lat = geom.centroid.x, geom.centroid.y
        assert 115 < lon < 123 and 30 < lat < 36  # Jiangsu, lon/lat order
        polys = getattr(geom, "geoms", [geom])
        for poly in polys:
            assert poly.exterior.is_ccw  # RFC 7946: counter-clockwise exteriors


def test_bad_inputs_give_one_line_errors(demo_db, tmp_path):
    garbage = tmp_path / "broken.dxf"
    garbage.write_bytes(b"\x00\x01garbage" * 100)
    for args in (
        ("import-layout", garbage, "--db", demo_db),
        ("import-layout", tmp_path / "missing.dxf", "--db", demo_db),
        ("regions", "--db", demo_db, "--method", "median"),
        ("export", tmp_path / "x.shp", "--db", demo_db),
        ("regions", "--db", demo_db, "--enterprise", "没有这个企业"),
    ):
        proc = run(*args, check=False)
        assert proc.returncode != 0, args
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("错误"), proc.stderr


def test_failed_import_leaves_previous_layout(demo_db, tmp_path):
    before = json.loads(run("regions", "--db", demo_db, "--json").stdout)
    garbage = tmp_path / "truncated.dxf"
    garbage.write_text((REPO / "data/demo/plant.dxf").read_text(encoding="utf-8")[:5000], encoding="utf-8")
    assert run("import-layout", garbage, "--db", demo_db, check=False).returncode != 0
    after = json.loads(run("regions", "--db", demo_db, "--json").stdout)
    assert before == after
