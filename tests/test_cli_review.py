"""Gaps found by running the README's commands as a user would: outputs, settings and the enterprise a
ledger lands in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest

REPO = Path(__file__).resolve().parents[1]
RISKMAP = [sys.executable, "-m", "riskmap.cli"]


def run(*args, check=True, env=None):
    full_env = {k: v for k, v in os.environ.items() if k not in ("RISKMAP_DB", "RISKMAP_ENTERPRISE")}
    full_env.update(env or {})
    proc = subprocess.run([*RISKMAP, *map(str, args)], capture_output=True, text=True, timeout=300, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"riskmap {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def assert_one_line_error(proc):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("错误"), proc.stderr


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('review') / 'demo.db'}"
    run("demo", "--db", url, "--no-serve")
    return url


def test_region_explanation_exported_as_plain_text(demo_db, tmp_path):
    out = tmp_path / "regions.geojson"
    run("export", out, "--layer", "regions", "--db", demo_db)
    props = json.loads(out.read_text(encoding="utf-8"))["features"][0]["properties"]
    assert props["explanation"].startswith("区域“"), props["explanation"][:40]


def test_geojson_export_keeps_millimetres(demo_db, tmp_path):
    run("export", tmp_path / "all.gpkg", "--db", demo_db)
    run("export", tmp_path / "layout.geojson", "--layer", "layout", "--db", demo_db)
    tables = [name for name, _ in pyogrio.list_layers(tmp_path / "all.gpkg") if name.startswith("layout_")]
    full = {row.source_id: row.geometry for table in tables        # the layout in tables of one geometry type
            for row in pyogrio.read_dataframe(tmp_path / "all.gpkg", layer=table).to_crs(4549).itertuples()}
    rounded = pyogrio.read_dataframe(tmp_path / "layout.geojson").to_crs(4549)
    assert set(full) == set(rounded["source_id"])
    worst = max(full[sid].hausdorff_distance(g) for sid, g in zip(rounded["source_id"], rounded.geometry,
                                                                     strict=True))
    assert worst < 0.0005  # metres


@pytest.mark.parametrize("command", [
    ("export", "x.gpkg"), ("export", "x.geojson"), ("export-ledger", "x.json"), ("export-ledger", "x.xlsx"),
    ("ledger-template", "x.xlsx"),
])
def test_unwritable_output_is_a_one_line_error(demo_db, tmp_path, command):
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("x")
    name, target = command
    args = [name, not_a_dir / target]
    if name != "ledger-template":
        args += ["--db", demo_db]
    assert_one_line_error(run(*args, check=False))


def test_bad_setting_in_the_environment_is_a_one_line_error(tmp_path):
    proc = run("import-layout", REPO / "data/demo/plant.dxf", "--db", f"sqlite:///{tmp_path / 'x.db'}",
               check=False, env={"RISKMAP_MAX_UPLOAD_MB": "abc"})
    assert_one_line_error(proc)
    assert "RISKMAP_MAX_UPLOAD_MB" in proc.stderr


def test_readme_sequence_gives_one_enterprise(tmp_path):
    """README: import-layout, import-ledger, regions --json, none naming an enterprise."""
    env = {"RISKMAP_DB": f"sqlite:///{tmp_path / 'x.db'}"}
    run("import-layout", REPO / "data/demo/plant.dxf", "--control-points", REPO / "data/demo/control_points.csv",
        env=env)
    summary = json.loads(run("import-ledger", REPO / "data/demo/ledger.json", "--json", env=env).stdout)
    assert summary["enterprise"] == "江苏示范化工有限公司（虚构）"
    regions = json.loads(run("regions", "--json", env=env).stdout)
    assert len(regions) > 20
    assert {r["level"] for r in regions} == {"major", "significant", "general", "low"}


def test_ledger_of_another_enterprise_does_not_replace_a_stored_ledger(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    ledger = json.loads((REPO / "data/demo/ledger.json").read_text(encoding="utf-8"))
    run("import-ledger", REPO / "data/demo/ledger.json", "--db", db)
    ledger["enterprise"] = {"name": "另一家公司"}
    other = tmp_path / "other.json"
    other.write_text(json.dumps(ledger, ensure_ascii=False), encoding="utf-8")
    summary = json.loads(run("import-ledger", other, "--db", db, "--json").stdout)
    assert summary["enterprise"] == "另一家公司"
    kept = tmp_path / "kept.json"
    run("export-ledger", kept, "--db", db, "-e", "江苏示范化工有限公司（虚构）")
    assert len(json.loads(kept.read_text(encoding="utf-8"))["units"]) == len(ledger["units"])


@pytest.mark.parametrize("text", [
    "name: broken\nmethod: lec\ninputs: 5\n",
    "name: broken\nmethod: lec\ninputs:\n  - key: L\n    values: 7\n",
    ":::\n  - [",
])
def test_malformed_user_profile_is_a_one_line_error(tmp_path, text):
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    proc = run("evaluate", "--profile", path, "--L", "3", "--E", "6", "--C", "15", check=False)
    assert_one_line_error(proc)
    assert "broken.yaml" in proc.stderr


def test_drop_invalid_option_drops_what_cannot_be_repaired(tmp_path):
    """The refusal says the user may drop such polygons; the command must offer that choice."""
    bowtie = [[119.70, 32.30], [119.71, 32.31], [119.71, 32.30], [119.70, 32.31], [119.70, 32.30]]
    square = [[119.70, 32.30], [119.71, 32.30], [119.71, 32.31], [119.70, 32.31], [119.70, 32.30]]
    path = tmp_path / "bow.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "蝴蝶", "role": "building"},
         "geometry": {"type": "Polygon", "coordinates": [bowtie]}},
        {"type": "Feature", "properties": {"name": "厂区", "role": "region"},
         "geometry": {"type": "Polygon", "coordinates": [square]}}]}, ensure_ascii=False), encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert_one_line_error(run("import-layout", path, "--db", db, check=False))
    summary = json.loads(run("import-layout", path, "--db", db, "--drop-invalid", "--json").stdout)
    assert summary["features"] == 1 and summary["by_role"] == {"region": 1}
    assert summary["dropped"] == {"invalid": 1}


def test_import_ledger_warns_about_feature_references_that_match_nothing(demo_db, tmp_path):
    ledger = json.loads((REPO / "data/demo/ledger.json").read_text(encoding="utf-8"))
    ledger["units"][0].pop("geometry", None)
    ledger["units"][0]["feature"] = "不存在的要素"
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps(ledger, ensure_ascii=False), encoding="utf-8")
    db_copy = tmp_path / "copy.db"
    db_copy.write_bytes(Path(demo_db.removeprefix("sqlite:///")).read_bytes())
    proc = run("import-ledger", path, "--db", f"sqlite:///{db_copy}", "--json")
    summary = json.loads(proc.stdout)
    assert any("不存在的要素" in w for w in summary["warnings"]), summary.get("warnings")
    assert "不存在的要素" in proc.stderr and proc.stderr.startswith("警告")
