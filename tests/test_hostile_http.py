"""Hostile requests over HTTP, on SQLite and PostGIS: each gets the status the issue asks for, a message in
Chinese then English, and leaves every table as it was (a digest of every row, before and after).

The corpus: NUL and lone surrogates in every kind of text (query parameters, ids in paths, names, reasons, keys);
moments at the ends of the calendar on every route that takes one (found from the API description, so a new route
with `at` is covered without being listed); counts that are not integers and fields that do not exist; bodies
that are NaN, nested 100,000 deep or not UTF-8; uploads of hostile layouts (NaN and infinite coordinates, deep
GeoJSON, a DXF of nested blocks that would explode to a million polygons, a zip bomb of many entries); the Allow
header of a 405; the Secure flag of the read cookie behind a trusted proxy.
"""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from hostilekit import bilingual, deep_geojson, many_entry_zip, nested_blocks_dxf, square_geojson, table_digest
from kit import person_token
from pgdb import backend_of

from riskmap.api.app import create_app
from riskmap.demo import load_demo
from riskmap.settings import Settings

CALENDAR_ENDS = ["0001-01-01T00:00", "0001-01-01T00:00+14:00", "9999-12-31T23:59:59-12:00", "9999-12-31"]
MOMENT_PARAMS = ("at", "since", "until", "from", "to")


@pytest.fixture(scope="module")
def site(module_store_url):
    from riskmap.store import open_store, tokens

    url = module_store_url
    load_demo(Settings(db=url))
    with open_store(url) as store:
        # every write route, the ledger's too, and the enterprise's records of regulators' reads (admin: audit)
        editor = person_token(store, ("editor", "safety_manager", "admin"), "编辑")
        reader = tokens.create_token(store, "reader", "看板")[0]
    app = create_app(Settings(db=url))
    with TestClient(app) as client:
        region = client.get("/ogc/collections/regions/items", params={"limit": 1}).json()["features"][0]
        yield {"url": url, "app": app, "client": client, "backend": backend_of(url), "reader": reader,
               "auth": {"Authorization": f"Bearer {editor}"}, "region": region}
    app.state.store().close()


def refused(site, response, status: int, *words: str) -> str:
    """Assert the status and a bilingual message holding `words`; returns the message."""
    assert response.status_code == status, (response.status_code, response.text[:400])
    if response.headers.get("content-type", "").startswith("text/html"):
        text = re.sub(r"<[^>]+>", " ", response.text)
        assert all(w in text for w in words), text[:400]
        return text
    detail = response.json()["detail"]
    problems = json.dumps(response.json().get("problems", []), ensure_ascii=False)
    assert bilingual(detail), detail
    assert all(w in detail + problems for w in words), (detail, problems)
    return detail


@pytest.fixture
def unchanged(site):
    """Every table is the same after the test as before it."""
    before = table_digest(site["url"])
    yield
    assert table_digest(site["url"]) == before


# ------------------------------------------------------------------------------------------------ NUL, surrogates

NUL_LOOKUPS = [
    "/api/regions?enterprise=%00", "/api/regions.geojson?enterprise=%00", "/api/units.geojson?enterprise=%00",
    "/api/search?q=a&enterprise=%00", "/api/identify?lon=120&lat=32&enterprise=%00", "/api/history?enterprise=%00",
    "/api/flags?enterprise=%00", "/api/history/diff?from=2020-01-01&to=2021-01-01&enterprise=%00",
    "/api/map/config?enterprise=%00", "/ogc/collections/units/items?enterprise=%00",
    "/ogc/collections/units/items/a%00b", "/ogc/collections/regions/items/%00",
    "/tiles/regions/16/0/0.png?enterprise=%00",
    "/tiles/regions/tilejson.json?enterprise=%00", "/print/board.pdf?enterprise=%00", "/map?enterprise=%00",
    "/api/identify?lon=120&lat=32&unit=a%00b", "/api/map/config?region=a%00b",
]


@pytest.mark.parametrize("path", NUL_LOOKUPS)
def test_a_nul_in_a_lookup_finds_nothing_on_both_backends(site, unchanged, path):
    refused(site, site["client"].get(path), 404)


@pytest.mark.parametrize("path", ["/api/history?item=a%00b", "/api/flags?unit=a%00b", "/api/search?q=a%00",
                                  "/api/map/version?enterprise=%00"])
def test_a_nul_in_a_filter_matches_nothing(site, unchanged, path):
    response = site["client"].get(path)
    assert response.status_code == 200
    body = response.json()
    assert body.get("count", body.get("total", body.get("data_version"))) == 0


WRITES_WITH_BAD_TEXT = [
    ("patch", "/api/units/CY-01", {"override": {"level": "major", "reason": "x\x00y"}}, "override.reason"),
    ("patch", "/api/units/CY-01", {"override": {"level": "major", "reason": "x\ud800y"}}, "override.reason"),
    ("patch", "/api/units/CY-01", {"events": [{"id": "E\x00", "inputs": {"L": 3}}]}, "events.0.id"),
    ("post", "/api/flags/clear", {"unit_id": "CY-01\x00", "reason": "复评完成"}, "unit_id"),
    ("post", "/api/flags/clear", {"unit_id": "CY-01", "reason": "\udfff"}, "reason"),
    ("post", "/api/accidents", {"date": "2025-01-01", "description": "泄漏\x00"}, "description"),
    ("post", "/api/accidents", {"date": "2025-01-01", "description": "泄漏\udc00"}, "description"),
    ("post", "/api/history/restore", {"collection": "regions", "id": "A\x00"}, "id"),
    ("post", "/api/evaluate", {"profile": "lec", "inputs": {"L\x00": 3, "E": 6, "C": 15}}, "inputs"),
    ("post", "/api/evaluate", {"profile": "lec\ud800", "inputs": {"L": 3, "E": 6, "C": 15}}, "profile"),
    ("post", "/ogc/collections/units/items", {"type": "Feature", "id": "U\x00", "geometry": None,
                                              "properties": {"name": "新单元"}}, "body.id"),
    ("post", "/ogc/collections/units/items", {"type": "Feature", "id": "U9", "geometry": None,
                                              "properties": {"name": "新\ud800单元"}}, "body.properties.name"),
    ("patch", "/ogc/collections/units/items/CY-01", {"properties": {"name": "改\x00名"}}, "body.properties.name"),
    ("post", "/api/layout/merge", {"fids": ["A\x00", "B"], "if_match": {}}, "body.fids[0]"),
]


@pytest.mark.parametrize("method, path, body, field", WRITES_WITH_BAD_TEXT)
def test_text_that_cannot_be_stored_is_refused_naming_the_field(site, unchanged, method, path, body, field):
    content = json.dumps(body)                      # \u0000 and \ud800 escapes, as a client would send them
    headers = {**site["auth"], "Content-Type": "application/json", "If-Match": "*"}
    response = site["client"].request(method.upper(), path, content=content, headers=headers)
    refused(site, response, 422, field, "U+", "cannot be stored")


def test_a_nul_in_the_reason_header_is_refused(site, unchanged):
    response = site["client"].patch("/ogc/collections/units/items/CY-01", json={"properties": {"name": "罐区"}},
                                    headers={**site["auth"], "If-Match": "*", "X-Reason": "%00"})
    refused(site, response, 422, "reason", "NUL")


# ------------------------------------------------------------------------------------------------ moments


def _moment_routes(site) -> list[tuple[str, str, dict]]:
    """(path with its path parameters filled, moment parameter, other parameters it needs) for every GET that
    takes a moment."""
    fill = {"collection_id": "regions", "feature_id": site["region"]["id"], "layer": "regions", "z": "16",
            "x": "54610", "y": "26690", "unit_id": "CY-01"}
    needed = {"lon": "119.75", "lat": "32.32", "q": "罐"}
    out = []
    for path, ops in site["app"].openapi()["paths"].items():
        names = [p["name"] for p in ops.get("get", {}).get("parameters", [])]
        if not any(name in MOMENT_PARAMS for name in names):
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], path)
        out += [(url, name, {k: v for k, v in needed.items() if k in names}) for name in names
                if name in MOMENT_PARAMS]
    return out


def test_every_route_that_takes_a_moment_refuses_the_ends_of_the_calendar(site, unchanged):
    routes = _moment_routes(site)
    assert len(routes) >= 17, routes                # the routes of the issue, and any added since
    for url, name, required in routes:
        for moment in CALENDAR_ENDS:
            params = {**required, name: moment}
            if name in ("from", "to"):
                params = {"from": "2020-01-01", "to": "2021-01-01", name: moment}
            response = site["client"].get(url, params=params, headers=site["auth"])
            assert response.status_code in (400, 422), (url, name, moment, response.status_code, response.text[:300])
            refused(site, response, response.status_code, "1990" if moment.startswith("0001") else "未来")


def test_moments_in_bodies_and_filters(site, unchanged):
    client, auth = site["client"], site["auth"]
    refused(site, client.post("/api/history/restore", json={"collection": "regions", "id": "A1",
                                                            "at": "0001-01-01T00:00+14:00"}, headers=auth),
            422, "1990")
    refused(site, client.post("/api/accidents", json={"date": "0001-01-01", "description": "x"}, headers=auth),
            422, "1990")
    # an OGC datetime filter open at the calendar's ends is just open
    for interval in ("0001-01-01T00:00:00+14:00/..", "../9999-12-31T23:59:59-12:00"):
        assert client.get("/ogc/collections/units/items", params={"datetime": interval}).status_code == 200


# ------------------------------------------------------------------------------------------------ shapes of bodies


@pytest.mark.parametrize("body, status, words", [
    ({"date": "2025-01-01", "description": "x", "serious_injuries": False}, 422, ["serious_injuries"]),
    ({"date": "2025-01-01", "description": "x", "deaths": 1.5}, 422, ["deaths"]),
    ({"date": "2025-01-01", "description": "x", "deaths": "1"}, 422, ["deaths"]),
    ({"date": "2025-01-01", "description": "x", "severity": 3}, 422, ["severity"]),
])
def test_accident_counts_are_integers_and_fields_known(site, unchanged, body, status, words):
    refused(site, site["client"].post("/api/accidents", json=body, headers=site["auth"]), status, *words)


@pytest.mark.parametrize("content, status, words", [
    ('{"profile": "lec", "inputs": {"L": 3, "E": 6, "C": 15}, "extra": 1}', 422, ["extra"]),
    ('{"profile": "lec", "inputs": {"L": NaN, "E": 6, "C": 15}}', 422, ["L"]),
    ('{"profile": "lec", "inputs": {"L": Infinity, "E": 6, "C": 15}}', 422, ["L"]),
    ("[" * 100_000 + "]" * 100_000, 400, ["JSON"]),
    (b'{"profile": "\xff\xfe"}', 400, ["UTF-8"]),
    ("", 422, ["body"]),
])
def test_evaluate_refuses_odd_bodies(site, content, status, words):
    response = site["client"].post("/api/evaluate", content=content, headers={"Content-Type": "application/json"})
    refused(site, response, status, *words)


@pytest.mark.parametrize("content, status, words", [
    ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [NaN, 32]}, "properties": {}}', 422, ["NaN"]),
    ("[" * 100_000 + "]" * 100_000, 400, ["64"]),
    (b"\xff\xfe{}", 400, ["UTF-8"]),
])
def test_item_bodies_refuse_nan_depth_and_bad_bytes(site, unchanged, content, status, words):
    response = site["client"].post("/ogc/collections/layout/items", content=content,
                                   headers={**site["auth"], "Content-Type": "application/geo+json"})
    refused(site, response, status, *words)


# ------------------------------------------------------------------------------------------------ hostile uploads


@pytest.fixture(scope="module")
def hostile_layouts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-layouts")
    return {
        "nan": (square_geojson(folder / "nan.geojson", "[NaN, 0]"), 422, ["NaN"]),
        "infinity": (square_geojson(folder / "inf.geojson", "[Infinity, 0]"), 422, ["Infinity"]),
        "huge": (square_geojson(folder / "huge.geojson", "[1e400, 0]"), 422, []),
        "deep": (deep_geojson(folder / "deep.geojson"), 422, ["64"]),
        "nested_blocks": (nested_blocks_dxf(folder / "nested.dxf", levels=6), 422, ["RISKMAP_DXF_MAX_EXPLODED"]),
        "zip_bomb": (many_entry_zip(folder / "bomb.zip"), 413, ["压缩比"]),
    }


@pytest.mark.parametrize("name", ["nan", "infinity", "huge", "deep", "nested_blocks", "zip_bomb"])
def test_hostile_layouts_uploaded_for_revision(site, unchanged, hostile_layouts, name):
    path, status, words = hostile_layouts[name]
    response = site["client"].post("/api/layout/revise", headers=site["auth"],
                                   files={"file": (path.name, path.read_bytes())})
    refused(site, response, status, *words)


# ------------------------------------------------------------------------------------------------ headers, cookies


def test_a_405_names_every_method_of_the_path(site):
    response = site["client"].request("OPTIONS", "/ogc/collections/units/items")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}
    response = site["client"].request("TRACE", "/ogc/collections/units/items/CY-01")
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "PUT", "PATCH", "DELETE"}


@pytest.mark.parametrize("client_host, scheme, forwarded, trusted, secure", [
    ("127.0.0.1", "http", "https", "127.0.0.1,::1", True),       # behind a proxy on the same machine
    ("10.1.2.3", "http", "https", "10.1.0.0/16", True),          # a proxy in the trusted network
    ("10.9.9.9", "http", "https", "10.1.0.0/16", False),         # anyone else saying so is not believed
    ("127.0.0.1", "http", None, "127.0.0.1", False),             # plain HTTP
    ("10.9.9.9", "https", None, "", True),                       # HTTPS straight to the service
])
def test_the_read_cookie_is_secure_when_the_browser_came_over_https(site, client_host, scheme, forwarded, trusted,
                                                                      secure):
    app = create_app(Settings(db=site["url"], read_requires_token=True, trusted_proxies=trusted))
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    with TestClient(app, base_url=f"{scheme}://riskmap.example", client=(client_host, 50000)) as client:
        response = client.get(f"/map?access_token={site['reader']}", headers=headers)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert ("Secure" in cookie) is secure, cookie
    app.state.store().close()


def test_trusted_proxies_must_be_addresses():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(trusted_proxies="proxy.example")
    assert Settings(trusted_proxies="*").is_trusted_proxy("203.0.113.9")
    assert not Settings().is_trusted_proxy("testclient")
