"""The HTTP service on the demo plant: JSON, GeoJSON, evaluation and error mapping."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.settings import Settings


@pytest.fixture(scope="module")
def client(demo_db):
    from kit import DEMO_ENTERPRISE

    settings = Settings(db=f"sqlite:///{demo_db}", enterprise=DEMO_ENTERPRISE)
    with TestClient(create_app(settings)) as c:
        yield c


def test_healthz(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["backend"] == "sqlite"


def test_regions_explained(client):
    regions = client.get("/api/regions").json()
    assert {r["level"] for r in regions} >= {"major", "significant", "general", "low"}
    major = next(r for r in regions if r["level"] == "major")
    assert major["decided_by"] and major["explanation"]


def test_regions_geojson(client):
    fc = client.get("/api/regions.geojson", params={"method": "weighted"}).json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) >= 24
    props = fc["features"][0]["properties"]
    assert {"name", "level", "level_zh", "decided_by"} <= set(props)


def test_evaluate_endpoint(client):
    body = client.post("/api/evaluate", json={"profile": "lec", "inputs": {"L": 3, "E": 6, "C": 15}}).json()
    assert body["score"] == "270" and body["level"] == "significant" and body["colour"] == "#FF8C00"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("post", "/api/evaluate", {"json": {"profile": "lec", "inputs": {"L": 4, "E": 6, "C": 15}}}, 422),
        ("post", "/api/evaluate", {"json": {"profile": "nope", "inputs": {"L": 3}}}, 422),
        ("post", "/api/evaluate", {"content": b"\xff\xfe not json", "headers": {"content-type": "application/json"}},
         400),
        ("get", "/api/no-such-thing", {}, 404),
        ("get", "/api/regions", {"params": {"method": "median"}}, 422),
        ("get", "/api/regions", {"params": {"enterprise": "<script>不存在</script>"}}, 404),
    ],
)
def test_bad_requests_are_4xx_with_message(client, method, path, kwargs, status):
    resp = getattr(client, method)(path, **kwargs)
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert re.search(r"[\u4e00-\u9fff]", detail), detail  # Chinese first for the safety manager


def test_enterprise_without_ledger_gives_empty_collections(client):
    """A layout-only or empty enterprise is not an error: empty GeoJSON, not a 500."""
    client.app.state.store().enterprise("空企业")
    for path in ("/api/regions.geojson", "/api/units.geojson"):
        resp = client.get(path, params={"enterprise": "空企业"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["features"] == []
    assert client.get("/api/regions", params={"enterprise": "空企业"}).json() == []
