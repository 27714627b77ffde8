"""The editing API (OGC API Features Part 4 style) on the demo plant: tokens, If-Match, ETags, validation, the
units collection, split and merge, ?at=, and twenty clients saving one feature at once through a live server."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import shapely
from fastapi.testclient import TestClient
from liveserver import LiveServer
from shapely.affinity import translate
from shapely.geometry import mapping, shape

from riskmap.api.app import create_app
from riskmap.demo import load_demo
from riskmap.settings import Settings
from riskmap.store import open_store, tokens

CHINESE = re.compile(r"[\u4e00-\u9fff]")
LAYOUT = "/ogc/collections/layout/items"
REGIONS = "/ogc/collections/regions/items"
UNITS = "/ogc/collections/units/items"
GEO = {"Content-Type": "application/geo+json"}
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def template(demo_db):
    return demo_db


@pytest.fixture
def db(template, tmp_path) -> str:
    """A fresh copy of the demo database for one test."""
    copy = tmp_path / "demo.db"
    with sqlite3.connect(template) as src, sqlite3.connect(copy) as dst:    # WAL pages included
        src.backup(dst)
    return f"sqlite:///{copy}"


@pytest.fixture
def client(db):
    with TestClient(create_app(Settings(db=db))) as c:
        yield c


@pytest.fixture
def auth(db, editor_token) -> dict:
    return editor_token(db, name="张工")


def _error(resp, status: int) -> str:
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert CHINESE.search(detail) and "/ " in detail, detail
    return detail


def _feature(client, url: str):
    resp = client.get(url)
    assert resp.status_code == 200, resp.text
    return resp.json(), resp.headers["etag"]


def _moved(feature: dict, dx: float = 0.00001) -> dict:
    geom = translate(shape(feature["geometry"]), dx, 0)
    return {"type": "Feature", "geometry": mapping(geom), "properties": dict(feature["properties"])}


# ------------------------------------------------------------------------------------------ tokens


def test_writes_need_a_valid_editor_token(client, db, editor_token):
    feature, etag = _feature(client, f"{LAYOUT}/B1")
    body = json.dumps(_moved(feature))
    url = f"{LAYOUT}/B1"
    headers = {**GEO, "If-Match": etag}
    missing = client.put(url, content=body, headers=headers)
    _error(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    for garbled in ("Bearer", "Bearer rmk_short", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000,
                    "Bearer rmk_" + "A" * 32):
        resp = client.put(url, content=body, headers={**headers, "Authorization": garbled})
        _error(resp, 401)
        assert "invalid_token" in resp.headers["www-authenticate"]
    reader = editor_token(db, role="reader", name="只读")
    assert "只能读取" in _error(client.put(url, content=body, headers={**headers, **reader}), 403)
    store = open_store(db)
    text, info = tokens.create_token(store, "editor", "离职")
    tokens.revoke_token(store, info["id"])
    store.close()
    _error(client.put(url, content=body, headers={**headers, "Authorization": f"Bearer {text}"}), 401)
    for method in ("post", "patch", "delete"):
        target = LAYOUT if method == "post" else url
        _error(client.request(method.upper(), target, content=body, headers=headers), 401)
    _error(client.patch("/api/units/CY-01-02", json={"override": None}), 401)
    # Nothing was written by any of them.
    assert client.get(url).headers["etag"] == etag


def test_who_am_i(client, db, editor_token):
    _error(client.get("/api/auth/me"), 401)
    _error(client.get("/api/auth/me", headers={"Authorization": "Bearer nonsense"}), 401)
    me = client.get("/api/auth/me", headers=editor_token(db, name="李工"))
    assert me.status_code == 200 and me.json()["name"] == "李工" and me.json()["role"] == "editor"
    assert client.get("/api/auth/me", headers=editor_token(db, role="reader")).json()["role"] == "reader"


# ------------------------------------------------------------------------------------------ layout items


def test_put_with_if_match_then_the_old_etag_is_stale(client, auth, db):
    url = f"{LAYOUT}/B1"
    feature, etag = _feature(client, url)
    tag = int(etag.strip('"').split(".")[0])
    moved = _moved(feature)
    body = json.dumps(moved)
    _error(client.put(url, content=body, headers={**GEO, **auth}), 428)
    stale = client.put(url, content=body, headers={**GEO, **auth, "If-Match": f'"{tag + 100000}.00000000"'})
    _error(stale, 412)
    assert stale.json()["code"] == "conflict" and stale.json()["current"]["edit_tag"] == tag
    ok = client.put(url, content=body, headers={**GEO, **auth, "If-Match": etag,
                                                "X-Reason": "%E6%89%A9%E5%BB%BA"})   # 扩建
    assert ok.status_code == 200, ok.text
    new_etag = ok.headers["etag"]
    assert new_etag != etag and int(new_etag.strip('"').split(".")[0]) > tag
    assert shape(ok.json()["geometry"]).equals_exact(shape(moved["geometry"]), 1e-9)
    again, etag_again = _feature(client, url)
    assert etag_again == new_etag and again["properties"]["name"] == feature["properties"]["name"]
    # The first ETag is stale now: 412 with the current version in the body.
    conflict = client.put(url, content=json.dumps(_moved(feature, 0.00002)),
                          headers={**GEO, **auth, "If-Match": etag})
    _error(conflict, 412)
    current = conflict.json()["current"]
    assert current["edit_tag"] == int(new_etag.strip('"').split(".")[0])
    assert current["changed_by"] == "张工" and current["reason"] == "扩建"
    assert shape(current["feature"]["geometry"]).equals_exact(shape(moved["geometry"]), 1e-9)
    # "*" matches any current version; a raw UTF-8 reason header is read as UTF-8.
    star = client.put(url, content=json.dumps(feature), headers=[
        *GEO.items(), *auth.items(), ("If-Match", "*"), ("X-Reason", "改回".encode())])
    assert star.status_code == 200
    stale = client.put(url, content=json.dumps(feature), headers={**GEO, **auth, "If-Match": new_etag})
    assert stale.json()["current"]["reason"] == "改回"


def test_post_patch_delete(client, auth):
    region, _ = _feature(client, f"{LAYOUT}/B1")
    centre = shape(region["geometry"]).centroid
    square = shapely.box(centre.x - 0.0001, centre.y - 0.0001, centre.x + 0.0001, centre.y + 0.0001)
    new = {"type": "Feature", "geometry": mapping(square), "properties": {"name": "新建仓库", "role": "building"}}
    created = client.post(LAYOUT, json=new, headers=auth)
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    assert re.fullmatch(r"e\d+-\d+", fid)
    assert urlsplit(created.headers["location"]).path == f"{LAYOUT}/{fid}"
    assert created.headers["etag"] == client.get(created.headers["location"]).headers["etag"]
    # A client-chosen id is used; taking one that exists is a 409.
    mine = client.post(LAYOUT, json={**new, "id": "WH-9"}, headers=auth)
    assert mine.status_code == 201 and mine.json()["id"] == "WH-9"
    _error(client.post(LAYOUT, json={**new, "id": "WH-9"}, headers=auth), 409)
    _error(client.post(LAYOUT, json={**new, "properties": {"name": "x"}}, headers=auth), 422)   # no role
    _error(client.post(LAYOUT, json={**new, "properties": {"role": "spaceship"}}, headers=auth), 422)
    _error(client.post(LAYOUT, json={**new, "properties": {"role": "building", "bogus": 1}}, headers=auth), 422)
    # PATCH: a merge patch of the name; the role may change only to one the geometry fits.
    etag = created.headers["etag"]
    patched = client.patch(f"{LAYOUT}/{fid}", json={"properties": {"name": "改名仓库"}},
                           headers={**MERGE, **auth, "If-Match": etag})
    assert patched.status_code == 200, patched.text
    assert patched.json()["properties"]["name"] == "改名仓库"
    assert patched.json()["geometry"] == created.json()["geometry"]
    etag = patched.headers["etag"]
    _error(client.patch(f"{LAYOUT}/{fid}", json={"properties": {"role": "equipment"}, "geometry": None},
                        headers={**MERGE, **auth, "If-Match": etag}), 422)
    _error(client.patch(f"{LAYOUT}/{fid}", json={"properties": {}}, headers={**MERGE, **auth, "If-Match": etag}), 422)
    _error(client.patch(f"{LAYOUT}/{fid}", json={"bogus": 1}, headers={**MERGE, **auth, "If-Match": etag}), 422)
    road = client.patch(f"{LAYOUT}/{fid}", json={"properties": {"role": "road"}},
                        headers={**MERGE, **auth, "If-Match": etag})
    assert road.status_code == 200 and road.json()["properties"]["role"] == "road"
    # DELETE: 428 without If-Match, 204 with it, then gone (and a second delete conflicts).
    _error(client.delete(f"{LAYOUT}/{fid}", headers=auth), 428)
    assert client.delete(f"{LAYOUT}/{fid}", headers={**auth, "If-Match": road.headers["etag"]}).status_code == 204
    _error(client.get(f"{LAYOUT}/{fid}"), 404)
    gone = client.delete(f"{LAYOUT}/{fid}", headers={**auth, "If-Match": road.headers["etag"]})
    _error(gone, 412)
    assert gone.json()["current"]["feature"] is None
    _error(client.delete(f"{LAYOUT}/no-such-feature", headers={**auth, "If-Match": "*"}), 404)


def test_regions_collection_writes_regions_only(client, auth):
    feature, etag = _feature(client, f"{REGIONS}/B1")
    ok = client.put(f"{REGIONS}/B1", json=_moved(feature), headers={**auth, "If-Match": etag})
    assert ok.status_code == 200, ok.text
    assert ok.json()["properties"]["level"] == feature["properties"]["level"]    # worked out, not written
    _error(client.put(f"{REGIONS}/B1", json={**_moved(feature), "properties": {"role": "building"}},
                      headers={**auth, "If-Match": ok.headers["etag"]}), 422)
    building = client.get(LAYOUT, params={"role": "building", "limit": 1}).json()["features"][0]
    _error(client.patch(f"{REGIONS}/{building['id']}", json={"properties": {"name": "x"}},
                        headers={**auth, "If-Match": "*"}), 404)


# ------------------------------------------------------------------------------------------ hostile input


def _square_near(client, d: float = 0.0001) -> dict:
    region, _ = _feature(client, f"{LAYOUT}/B1")
    c = shape(region["geometry"]).centroid
    return mapping(shapely.box(c.x, c.y, c.x + d, c.y + d))


@pytest.mark.parametrize("case", ["huge", "nan", "crs", "bowtie", "far", "metres", "point", "nofeature", "empty",
                                  "nested", "notjson", "mediatype", "tenmb", "at"])
def test_hostile_bodies(client, auth, case):
    good = {"type": "Feature", "geometry": _square_near(client), "properties": {"role": "building"}}
    c = shape(good["geometry"]).centroid
    status, words, content, headers = 422, None, None, {**GEO, **auth}
    url = LAYOUT
    if case == "huge":
        ring = shapely.Point(c.x, c.y).buffer(0.0005, quad_segs=8000)
        content = json.dumps({**good, "geometry": mapping(ring)})
        words = "too many vertices"
    elif case == "nan":
        content = json.dumps(good).replace(str(good["geometry"]["coordinates"][0][0][0]), "NaN", 1)
        words = "NaN"
    elif case == "crs":
        content = json.dumps({**good, "geometry": {**good["geometry"], "crs": {
            "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}}})
        words = "CRS"
    elif case == "bowtie":
        x, y, d = c.x, c.y, 0.0001
        content = json.dumps({**good, "geometry": {"type": "Polygon", "coordinates": [
            [[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]]}})
        words = "Self-intersection"
    elif case == "far":
        content = json.dumps({**good, "geometry": mapping(translate(shape(good["geometry"]), -180, -64))})
        words = "outside the plant"
    elif case == "metres":
        content = json.dumps({**good, "geometry": mapping(shapely.box(500000, 3500000, 500100, 3500100))})
        words = "not lon/lat"
    elif case == "point":
        content = json.dumps({**good, "geometry": {"type": "Point", "coordinates": [c.x, c.y]}})
        words = "must be one of"
    elif case == "nofeature":
        content = json.dumps(good["geometry"])
        words = "GeoJSON Feature"
    elif case == "empty":
        content = json.dumps({**good, "geometry": {"type": "Polygon", "coordinates": []}})
        words = "empty"
    elif case == "nested":
        content = "[" * 100000 + "]" * 100000
        status = 400
    elif case == "notjson":
        content, status = "{'type': 'Feature'", 400
    elif case == "mediatype":
        content, status, headers = json.dumps(good), 415, {**auth, "Content-Type": "text/plain"}
    elif case == "tenmb":
        pad = "x" * (10 * 1024 * 1024)
        content, status = json.dumps({**good, "properties": {"role": "building", "name": pad}}), 413
    elif case == "at":
        content, status, url = json.dumps(good), 405, LAYOUT + "?at=2020-01-01"
    before = client.get(LAYOUT, params={"limit": 1}).json()["numberMatched"]
    detail = _error(client.post(url, content=content, headers=headers), status)
    if words:
        assert words in detail, detail
    assert client.get(LAYOUT, params={"limit": 1}).json()["numberMatched"] == before


# ------------------------------------------------------------------------------------------ units


def test_units_attach_detach_rename_reparent_create_delete(client, auth):
    url = f"{UNITS}/CY-01-02"
    unit, etag = _feature(client, url)
    bound = unit["properties"]["feature_ref"]                # the ledger named it; the import bound the fid
    assert client.get(f"{LAYOUT}/{bound}").json()["properties"]["name"] == "甲醇储罐T-102"
    detached = client.patch(url, json={"properties": {"feature_ref": None, "name": "二号储罐"}},
                            headers={**MERGE, **auth, "If-Match": etag})
    assert detached.status_code == 200, detached.text
    assert detached.json()["properties"]["feature_ref"] is None
    assert detached.json()["properties"]["name"] == "二号储罐"
    assert detached.json()["properties"]["located_by"] != "CY-01-02"       # now shown at its parent's place
    etag = detached.headers["etag"]
    _error(client.patch(url, json={"properties": {"feature_ref": "没有这个要素"}},
                        headers={**MERGE, **auth, "If-Match": etag}), 422)
    attached = client.patch(url, json={"properties": {"feature_ref": "B1"}},
                            headers={**MERGE, **auth, "If-Match": etag})
    assert attached.status_code == 200 and attached.json()["properties"]["feature_ref"] == "B1"
    region, _ = _feature(client, f"{LAYOUT}/B1")
    assert shape(attached.json()["geometry"]).equals(shape(region["geometry"]))
    etag = attached.headers["etag"]
    _error(client.patch(url, json={"properties": {"parent": "CY-01-02"}}, headers={**MERGE, **auth, "If-Match": etag}),
           422)
    _error(client.patch(url, json={"properties": {"parent_id": "NOPE"}}, headers={**MERGE, **auth, "If-Match": etag}),
           422)
    _error(client.patch(url, json={"properties": {"level": "major", "bogus": 1}},
                        headers={**MERGE, **auth, "If-Match": etag}), 422)
    _error(client.put(url, json=attached.json(), headers={**auth, "If-Match": etag}), 405)
    # Its own geometry (a point for a tank) wins over the attached feature's.
    c = shape(region["geometry"]).centroid
    own = client.patch(url, json={"geometry": {"type": "Point", "coordinates": [c.x, c.y]}},
                       headers={**MERGE, **auth, "If-Match": etag})
    assert own.status_code == 200 and own.json()["geometry"]["type"] == "Point"
    # A new unit under CY-01, then deleted; a unit with children cannot be deleted.
    new = {"type": "Feature", "id": "CY-01-99", "geometry": None,
           "properties": {"name": "新储罐", "parent": "CY-01", "feature_ref": "B1", "kind": "equipment"}}
    created = client.post(UNITS, json=new, headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["properties"]["kind"] == "equipment" and created.json()["properties"]["parent_id"] == "CY-01"
    _error(client.post(UNITS, json=new, headers=auth), 409)
    _error(client.post(UNITS, json={**new, "id": "X1", "properties": {"name": "x", "kind": "飞船"}}, headers=auth),
           422)
    _error(client.post(UNITS, json={**new, "id": None}, headers=auth), 422)
    parent, parent_etag = _feature(client, f"{UNITS}/CY-01")
    assert "下级" in _error(client.delete(f"{UNITS}/CY-01", headers={**auth, "If-Match": parent_etag}), 422)
    assert client.delete(f"{UNITS}/CY-01-99", headers={**auth, "If-Match": created.headers["etag"]}).status_code == 204
    _error(client.get(f"{UNITS}/CY-01-99"), 404)


def test_patch_api_units_with_token_and_if_match(client, auth):
    unit, etag = _feature(client, f"{UNITS}/CY-01-02")
    ok = client.patch("/api/units/CY-01-02", json={"override": {"level": "major", "reason": "测试"}},
                      headers={**auth, "If-Match": etag})
    assert ok.status_code == 200 and ok.json()["level"] == "major"
    stale = client.patch("/api/units/CY-01-02", json={"override": None}, headers={**auth, "If-Match": etag})
    _error(stale, 412)
    assert stale.json()["current"]["id"] == "CY-01-02"
    assert client.patch("/api/units/CY-01-02", json={"override": None}, headers=auth).status_code == 200


# ------------------------------------------------------------------------------------------ split and merge


def test_split_and_merge(client, auth):
    region, etag = _feature(client, f"{LAYOUT}/B1")
    geom = shape(region["geometry"])
    minx, miny, maxx, maxy = geom.bounds
    mid = (minx + maxx) / 2
    line = {"type": "LineString", "coordinates": [[mid, miny - 0.0001], [mid, maxy + 0.0001]]}
    before = client.get(LAYOUT, params={"limit": 1}).json()["numberMatched"]
    _error(client.post("/api/layout/split", json={"fid": "B1", "line": line}, headers=auth), 428)
    _error(client.post("/api/layout/split", json={"fid": "B1", "line": line, "if_match": '"1.x"'}, headers=auth), 412)
    miss = {"type": "LineString", "coordinates": [[maxx + 0.001, miny], [maxx + 0.001, maxy]]}
    _error(client.post("/api/layout/split", json={"fid": "B1", "line": miss, "if_match": etag}, headers=auth), 422)
    _error(client.post("/api/layout/split", json={"fid": "nope", "line": line, "if_match": etag}, headers=auth), 404)
    _error(client.post("/api/layout/split", json={"fid": "B1", "line": {"type": "Point", "coordinates": [mid, miny]},
                                                  "if_match": etag}, headers=auth), 422)
    split = client.post("/api/layout/split", json={"fid": "B1", "line": line, "if_match": etag}, headers=auth)
    assert split.status_code == 200, split.text
    result = split.json()
    assert result["fids"][0] == "B1" and len(result["fids"]) == 2
    assert client.get(LAYOUT, params={"limit": 1}).json()["numberMatched"] == before + 1
    a, etag_a = _feature(client, f"{LAYOUT}/B1")
    b, etag_b = _feature(client, f"{LAYOUT}/{result['fids'][1]}")
    assert shape(a["geometry"]).area + shape(b["geometry"]).area == pytest.approx(geom.area, rel=1e-9)
    assert b["properties"]["name"].startswith(region["properties"]["name"])
    # Merge them back: one layout version, B1 keeps its id; stale tags and far-apart areas are refused.
    _error(client.post("/api/layout/merge", json={"fids": ["B1", b["id"]], "if_match": {"B1": etag}}, headers=auth),
           428)
    _error(client.post("/api/layout/merge", json={"fids": ["B1", b["id"]], "if_match": {"B1": etag, b["id"]: etag_b}},
                       headers=auth), 412)
    _error(client.post("/api/layout/merge", json={"fids": ["B1", "B3"], "if_match": {"B1": etag_a, "B3": "*"}},
                       headers=auth), 422)
    _error(client.post("/api/layout/merge", json={"fids": ["B1"], "if_match": {}}, headers=auth), 422)
    merged = client.post("/api/layout/merge", json={"fids": ["B1", b["id"]], "name": "合并区",
                                                    "if_match": {"B1": etag_a, b["id"]: etag_b}}, headers=auth)
    assert merged.status_code == 200, merged.text
    back, _ = _feature(client, f"{LAYOUT}/B1")
    assert back["properties"]["name"] == "合并区"
    assert shape(back["geometry"]).area == pytest.approx(geom.area, rel=1e-6)
    _error(client.get(f"{LAYOUT}/{b['id']}"), 404)
    assert client.get(LAYOUT, params={"limit": 1}).json()["numberMatched"] == before


# ------------------------------------------------------------------------------------------ the past


def test_at_reads_the_past_and_is_read_only(client, auth):
    url = f"{LAYOUT}/B1"
    feature, etag = _feature(client, url)
    time.sleep(1.1)
    moment = datetime.now(UTC)
    time.sleep(1.1)
    moved = client.put(url, json=_moved(feature, 0.0001), headers={**auth, "If-Match": etag})
    assert moved.status_code == 200
    at = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    past = client.get(url, params={"at": at})
    assert past.status_code == 200 and past.json()["geometry"] == feature["geometry"]
    assert past.headers["etag"].split(".")[0] == etag.split(".")[0]     # the same version as then
    page = client.get(LAYOUT, params={"at": at, "limit": 1000}).json()
    assert next(f for f in page["features"] if f["id"] == "B1")["geometry"] == feature["geometry"]
    assert client.get(url).json()["geometry"] == moved.json()["geometry"]
    _error(client.put(url + f"?at={at}", json=feature, headers={**auth, "If-Match": etag}), 405)
    past_unit = client.get(f"{UNITS}/CY-01-02", params={"at": at})
    assert past_unit.status_code == 200 and past_unit.headers["etag"].startswith("W/")
    for bad in ("yesterday", "2026-13-01", "1900-01-01", (datetime.now(UTC) + timedelta(days=30)).date().isoformat()):
        _error(client.get(url, params={"at": bad}), 400)
        _error(client.get(LAYOUT, params={"at": bad}), 400)


# ------------------------------------------------------------------------------------------ closed reading


def test_reading_closed_by_the_settings(db, editor_token):
    with TestClient(create_app(Settings(db=db, read_requires_token=True))) as c:
        _error(c.get("/ogc/collections"), 401)
        _error(c.get("/tiles/units/tilejson.json"), 401)
        _error(c.get("/ogc/collections", headers={"Authorization": "Bearer rmk_" + "z" * 32}), 401)
        assert c.get("/healthz").status_code == 200
        assert c.get("/openapi.json").status_code == 200
        assert c.get("/static/app/favicon.svg").status_code in (200, 404)    # never 401
        _error(c.get("/map"), 401)                   # the page shows names and counts
        page = c.get("/map", headers={"Accept": "text/html,application/xhtml+xml"})
        assert page.status_code == 401 and "access_token" in page.text and page.headers["content-type"].startswith(
            "text/html")
        reader_page = c.get("/map", params={"access_token": "rmk_" + "q" * 32})
        _error(reader_page, 401)
        reader = editor_token(db, role="reader", name="看板")
        assert c.get("/ogc/collections", headers=reader).status_code == 200
        token = reader["Authorization"].split()[1]
        tilejson = c.get("/tiles/units/tilejson.json", params={"access_token": token})
        assert tilejson.status_code == 200, tilejson.text
        tile_url = tilejson.json()["tiles"][0].format(z=16, x=54583, y=26571)
        _error(c.get(tile_url), 401)           # the fast path for cached tiles is behind the gate too
        assert c.get(tile_url, headers=reader).status_code == 200
        assert c.get(tile_url, headers=reader).status_code == 200
        assert c.get("/map", params={"access_token": token}).status_code == 200
        # A reader still cannot write.
        _error(c.patch("/api/units/CY-01-02", json={"override": None}, headers=reader), 403)
        store = open_store(db)
        tokens.revoke_token(store, "看板")
        store.close()
        _error(c.get("/ogc/collections", headers=reader), 401)


# ------------------------------------------------------------------------------------------ concurrency


def test_twenty_clients_save_the_same_feature_at_once(store_url, editor_token, tmp_path):
    """Exactly one 200, nineteen 412 with the current version, nothing lost (SQLite and PostGIS)."""
    load_demo(Settings(db=store_url))
    auth = editor_token(store_url)
    with LiveServer(store_url) as live, httpx.Client(base_url=live.url, timeout=60) as http:
        first = http.get(f"{LAYOUT}/B1")
        feature, etag = first.json(), first.headers["etag"]
        barrier = threading.Barrier(20)
        answers: list = [None] * 20

        def save(k: int) -> None:
            body = _moved(feature, 0.00001 * (k + 1))
            body["properties"]["name"] = f"客户端{k}"
            with httpx.Client(base_url=live.url, timeout=60) as mine:
                barrier.wait()
                answers[k] = mine.put(f"{LAYOUT}/B1", json=body, headers={**auth, "If-Match": etag})

        threads = [threading.Thread(target=save, args=(k,)) for k in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [412] * 19, [(a.status_code, a.text[:200]) for a in answers if a.status_code
                                                not in (200, 412)]
        winner = next(k for k, a in enumerate(answers) if a.status_code == 200)
        won = answers[winner].json()
        assert won["properties"]["name"] == f"客户端{winner}"
        for a in answers:
            if a.status_code == 412:
                current = a.json()["current"]
                assert current["feature"]["properties"]["name"] == f"客户端{winner}"
                assert f'"{current["edit_tag"]}.' in answers[winner].headers["etag"]
        # Nothing lost: the stored feature is the winner's, and the history has the one change.
        now = http.get(f"{LAYOUT}/B1")
        assert now.json()["properties"]["name"] == f"客户端{winner}"
        assert now.headers["etag"] == answers[winner].headers["etag"]
    store = open_store(store_url)
    try:
        name = store.enterprises()[0].name
        edits = [v for v in store.layout_versions(name) if v.get("action") == "edit"]
        assert len(edits) == 1
    finally:
        store.close()


@pytest.mark.parametrize("route,body,status", [
    ("split", {"fid": "B1", "line": {"type": "LineString", "coordinates": [[119.744, float("nan")], [119.745, 32.32]]},
               "if_match": "*"}, 422),
    ("split", {"fid": "B1", "line": {"type": "LineString", "coordinates": [[-60.0, -32.0], [-60.1, -32.0]]},
               "if_match": "*"}, 422),
    ("split", {"fid": "B1", "line": {"type": "LineString", "coordinates": [[119.744, 32.32]] * 30000},
               "if_match": "*"}, 422),
    ("split", {"fid": ["B1"], "line": None, "if_match": "*"}, 422),
    ("split", {"fid": "A6", "line": {"type": "LineString", "coordinates": [[119.74, 32.31], [119.75, 32.33]]},
               "if_match": "*"}, 422),                                        # the fence is a line, not an area
    ("split", [1, 2, 3], 422),
    ("split", {"fid": "B1", "line": {"type": "LineString", "coordinates": [[119.744, 32.32], [119.745, 32.32]]},
               "if_match": {"nested": True}}, 422),
    ("merge", {"fids": [f"F{k}" for k in range(1000)], "if_match": {}}, 422),
    ("merge", {"fids": ["B1", "B1"], "if_match": {"B1": "*"}}, 422),
    ("merge", {"fids": ["B1", "B2"], "if_match": ["*", "*"]}, 422),
    ("merge", {"fids": ["B1", "B2"], "if_match": {"B1": "*", "B2": "*"}, "name": "x" * 500}, 422),
    ("merge", {"fids": ["B1", "A6"], "if_match": {"B1": "*", "A6": "*"}}, 422),
    ("merge", "not an object", 422),
])
def test_split_and_merge_refuse_hostile_bodies(client, auth, route, body, status):
    before = client.get(LAYOUT, params={"limit": 1}).json()["numberMatched"]
    content = json.dumps(body)          # NaN goes out as the bare word NaN, which JSON does not allow
    _error(client.post(f"/api/layout/{route}", content=content, headers={**auth, "Content-Type": "application/json"}),
           status)
    assert client.get(LAYOUT, params={"limit": 1}).json()["numberMatched"] == before


def test_split_and_merge_need_an_editor_token(client, db, editor_token):
    body = {"fids": ["B1", "B2"], "if_match": {"B1": "*", "B2": "*"}}
    _error(client.post("/api/layout/merge", json=body), 401)
    _error(client.post("/api/layout/merge", json=body, headers=editor_token(db, role="reader")), 403)
    _error(client.post("/api/layout/split", content=b"x" * (6 * 1024 * 1024),
                       headers={**editor_token(db), "Content-Type": "application/json"}), 413)


@pytest.mark.postgis
def test_the_same_writes_on_postgis(postgis_database, editor_token):
    """The write paths above, one after the other, on PostGIS (the store's locking is SELECT … FOR UPDATE there)."""
    from pgdb import empty_tables

    empty_tables(postgis_database)
    load_demo(Settings(db=postgis_database))
    auth = editor_token(postgis_database, name="张工")
    with TestClient(create_app(Settings(db=postgis_database))) as c:
        test_put_with_if_match_then_the_old_etag_is_stale(c, auth, postgis_database)
        test_post_patch_delete(c, auth)
        test_units_attach_detach_rename_reparent_create_delete(c, auth)
        test_split_and_merge(c, auth)
        test_patch_api_units_with_token_and_if_match(c, auth)


def test_prefixed_collections_and_long_reasons(client, auth):
    store = open_store(str(client.app.state.settings.db))
    try:
        enterprise = store.enterprises()[0]
    finally:
        store.close()
    url = f"/ogc/collections/e{enterprise.id}_layout/items/B1"
    feature, etag = _feature(client, url)
    ok = client.patch(url, json={"properties": {"name": "前缀集合"}}, headers={**MERGE, **auth, "If-Match": etag})
    assert ok.status_code == 200 and ok.json()["properties"]["name"] == "前缀集合"
    plain = client.get(f"{LAYOUT}/B1")           # the same item: same edit tag (links, hence digests, differ)
    assert plain.headers["etag"].split(".")[0] == ok.headers["etag"].split(".")[0] != etag.split(".")[0]
    _error(client.patch("/ogc/collections/e999_layout/items/B1", json={"properties": {"name": "x"}},
                        headers={**MERGE, **auth, "If-Match": "*"}), 404)
    _error(client.patch(f"{LAYOUT}/B1", params={"reason": "为什么" * 1000}, json={"properties": {"name": "y"}},
                        headers={**MERGE, **auth, "If-Match": "*"}), 422)
