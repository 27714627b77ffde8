"""GDAL's OAPIF driver against the live service: every collection listed, read, paged and copied intact.

The app runs under uvicorn on a free loopback port in a background thread. GDAL (ogrinfo, ogr2ogr) must be
installed; locally the test is skipped without it, in CI (CI set) it fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from urllib.parse import quote

import pyogrio
import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.api.ogc_data import LISTED as KINDS  # the collections, one geometry type each
from riskmap.settings import Settings


def _gdal_or_skip() -> None:
    missing = [tool for tool in ("ogrinfo", "ogr2ogr") if shutil.which(tool) is None]
    if missing:
        message = f"GDAL command-line tools missing: {', '.join(missing)} (apt-get install gdal-bin)"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(message + " — required because CI is set", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, settings, the expected JSON answers) with uvicorn serving the demo plant."""
    import uvicorn

    _gdal_or_skip()
    from kit import DEMO_ENTERPRISE, session_demo

    settings = Settings(db=f"sqlite:///{session_demo(tmp_path_factory)}", enterprise=DEMO_ENTERPRISE)
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        with TestClient(app) as client:    # what the API says, to compare GDAL's reading with
            expected = {}
            for kind in KINDS:
                page = client.get(f"/ogc/collections/{kind}/items", params={"limit": 10000}).json()
                expected[kind] = page["features"]
        yield f"http://127.0.0.1:{port}", settings, expected
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _run(*args: str, cwd=None) -> str:
    env = {**os.environ, "GDAL_HTTP_TIMEOUT": "30", "CPL_DEBUG": "OFF"}
    done = subprocess.run(args, capture_output=True, text=True, encoding="utf-8", timeout=120, cwd=cwd, env=env)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _texts(column) -> list:
    """A text column as read back, GDAL's nulls (NaN in pandas) as None."""
    return [None if v is None or v != v else v for v in column.tolist()]


def _layers(ogrinfo_out: str) -> dict[str, dict]:
    """Layer name → {count, fields, title} from `ogrinfo -al -so`."""
    layers = {}
    for block in re.split(r"\n(?=Layer name: )", ogrinfo_out):
        head = re.search(r"^Layer name: (\S+)", block, re.M)
        if not head:
            continue
        count = re.search(r"^Feature Count: (\d+)", block, re.M)
        title = re.search(r"^\s+TITLE=(.*)$", block, re.M)
        fields = dict(re.findall(r"^(\w+): (\w+(?:\(\w+\))?) \(", block, re.M))   # Integer(Boolean) too
        layers[head.group(1)] = {"count": int(count.group(1)) if count else None, "fields": fields,
                                 "title": title.group(1) if title else None}
    return layers


def test_ogrinfo_lists_every_collection(served):
    base, _, expected = served
    layers = _layers(_run("ogrinfo", "-ro", "-al", "-so", f"OAPIF:{base}/ogc"))
    assert list(layers) == list(KINDS)
    for kind in KINDS:
        assert layers[kind]["count"] == len(expected[kind])
        if expected[kind]:
            props = expected[kind][0]["properties"]
            assert set(props) <= set(layers[kind]["fields"]), (kind, layers[kind]["fields"])
    assert all(layers[k]["count"] > 0 for k in ("regions", "units_areas", "layout_areas", "layout_lines"))
    assert layers["regions"]["title"] == "区域风险 / Region risk"        # Chinese intact
    assert layers["units_areas"]["fields"]["last_assessed"] == "Date"
    assert layers["units_areas"]["fields"]["events"] == "Integer"
    assert layers["units_areas"]["fields"]["rank"] == "Integer"


def test_ogr2ogr_copies_regions_with_chinese_intact(served, tmp_path):
    base, _, expected = served
    out = tmp_path / "out.gpkg"
    _run("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{base}/ogc", "regions")
    assert pyogrio.list_layers(out)[:, 0].tolist() == ["regions"]
    gdf = pyogrio.read_dataframe(out, layer="regions")
    want = expected["regions"]
    assert len(gdf) == len(want) == 29
    assert gdf["id"].tolist() == [f["id"] for f in want]
    for column in ("name", "level", "level_zh", "method", "decided_by", "explanation"):
        assert _texts(gdf[column]) == [f["properties"][column] for f in want], column
    assert {"重大风险", "较大风险", "一般风险", "低风险"} <= set(gdf["level_zh"])
    assert gdf.crs.to_epsg() == 4326
    minx, miny, maxx, maxy = gdf.total_bounds
    assert 119 < minx < maxx < 121 and 31 < miny < maxy < 33


def test_ogr2ogr_pages_through_every_collection(served, tmp_path):
    """A small page size makes GDAL follow the next links; all features arrive once, in order."""
    base, _, expected = served
    out = tmp_path / "all.gpkg"
    _run("ogr2ogr", "-oo", "PAGE_SIZE=25", "-f", "GPKG", str(out), f"OAPIF:{base}/ogc")     # no -nlt needed
    listed = dict(pyogrio.list_layers(out).tolist())
    assert sorted(listed) == sorted(KINDS)
    assert listed["layout_lines"] in ("LineString", "MultiLineString"), listed
    assert listed["units_areas"] in ("Polygon", "MultiPolygon") and listed["regions"] in ("Polygon", "MultiPolygon")
    for kind in KINDS:
        gdf = pyogrio.read_dataframe(out, layer=kind)
        if not expected[kind]:              # an empty collection (the demo has no unit lines or points)
            assert len(gdf) == 0
            continue
        assert gdf["id"].tolist() == [f["id"] for f in expected[kind]], kind
        assert _texts(gdf["name"]) == [f["properties"]["name"] for f in expected[kind]], kind


def test_enterprise_query_parameter_travels_with_gdal(served):
    base, settings, expected = served
    url = f"OAPIF:{base}/ogc?enterprise={quote(settings.enterprise)}"
    layers = _layers(_run("ogrinfo", "-ro", "-al", "-so", url))
    assert {k: v["count"] for k, v in layers.items()} == {k: len(expected[k]) for k in KINDS}


def test_bbox_spatial_filter_through_gdal(served, tmp_path):
    base, _, expected = served
    import shapely
    from shapely.geometry import box, shape

    window = (119.743, 32.319, 119.745, 32.3205)
    want = [f["id"] for f in expected["layout_areas"] if shape(f["geometry"]).intersects(box(*window))]
    out = tmp_path / "clip.gpkg"
    _run("ogr2ogr", "-spat", *map(str, window), "-f", "GPKG", str(out), f"OAPIF:{base}/ogc", "layout_areas")
    got = pyogrio.read_dataframe(out, layer="layout_areas")
    assert got["id"].tolist() == want
    assert shapely.intersects(got.geometry.values, box(*window)).all()


def test_gdal_reads_a_closed_service_with_a_reader_token(served, editor_token):
    """RISKMAP_READ_REQUIRES_TOKEN: GDAL sends the token with GDAL_HTTP_HEADERS; without it nothing is read."""
    import uvicorn

    _, settings, expected = served
    closed = settings.model_copy(update={"read_requires_token": True})
    headers = editor_token(settings.db, role="reader", name="GIS 桌面")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(closed), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        url = f"OAPIF:http://127.0.0.1:{sock.getsockname()[1]}/ogc"
        refused = subprocess.run(["ogrinfo", "-ro", "-so", url], capture_output=True, text=True, timeout=60,
                                 env={**os.environ, "GDAL_HTTP_TIMEOUT": "30"})
        assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr
        env = {**os.environ, "GDAL_HTTP_TIMEOUT": "30",
               "GDAL_HTTP_HEADERS": f"Authorization: {headers['Authorization']}"}
        done = subprocess.run(["ogrinfo", "-ro", "-al", "-so", url], capture_output=True, text=True, timeout=120,
                              env=env)
        assert done.returncode == 0, done.stderr
        assert {k: v["count"] for k, v in _layers(done.stdout).items()} == {k: len(expected[k]) for k in KINDS}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
