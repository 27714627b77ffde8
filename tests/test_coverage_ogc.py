"""The inspection coverage as an OGC API Features collection (issue 14): coverage_areas, coverage_lines and
coverage_points (one geometry type each, `coverage` the whole), each located unit with today's coverage state as
the coverage tiles draw it (riskmap.inspections.store.coverage), CQL2 on its fields; read only (405 naming GET and
HEAD); no OGC tilesets (its map tiles are /tiles/coverage); on a drawing other than the site plan, the units placed
on it with the same states, as its coverage tiles draw them; nothing for a past moment."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.inspections.store import coverage
from riskmap.settings import Settings
from riskmap.store import open_store, tokens


@pytest.fixture(scope="module")
def demo(demo_db_url):
    store = open_store(demo_db_url)
    name = store.enterprises()[0].name
    states, plates = coverage(store, name, "today")
    token = tokens.create_token(store, "editor", "ogc-coverage")[0]
    store.close()
    with TestClient(create_app(Settings(db=demo_db_url)), raise_server_exceptions=False) as client:
        yield client, states, plates, {"Authorization": f"Bearer {token}"}


def _items(client, collection="coverage", **q):
    r = client.get(f"/ogc/collections/{collection}/items", params={"limit": 1000, **q})
    assert r.status_code == 200, r.text
    return r.json()


def test_each_unit_with_todays_coverage_as_the_map_draws_it(demo):
    client, states, plates, _ = demo
    features = _items(client)["features"]
    units = _items(client, "units")["features"]
    assert sorted(f["id"] for f in features) == sorted(f["id"] for f in units)        # every located unit
    for f in features:
        p = f["properties"]
        assert p["coverage"] == states.get(p["unit_id"], "none"), p
        assert p["checkpoint"] == (p["unit_id"] in plates)
        assert p["coverage_zh"] and p["coverage_en"]
    shown = {f["properties"]["coverage"] for f in features}
    assert len(shown) >= 2 and shown <= {"missed", "due", "done", "suspended", "none"}
    listed = {c["id"]: c for c in client.get("/ogc/collections").json()["collections"]}
    assert sum(listed[f"coverage_{p}"]["itemCount"] for p in ("areas", "lines", "points")) == len(features)
    assert "/api/inspections" in listed["coverage_areas"]["description"]
    queryables = client.get("/ogc/collections/coverage_areas/queryables").json()["properties"]
    assert queryables["checkpoint"]["type"] == "boolean" and "coverage" in queryables
    missed = _items(client, "coverage", filter="coverage='missed'")["features"]
    assert {f["properties"]["coverage"] for f in missed} <= {"missed"}
    assert len(missed) == sum(1 for f in features if f["properties"]["coverage"] == "missed")
    assert client.get("/ogc/collections/coverage_areas/tiles").status_code == 404
    assert client.get("/ogc/collections/coverage_polygons/items").status_code == 404


def test_read_only(demo):
    client, _, _, head = demo
    feature = _items(client)["features"][0]
    body = {"type": "Feature", "geometry": feature["geometry"], "properties": {"name": "x"}}
    for method, path in (("POST", "/ogc/collections/coverage/items"),
                         ("POST", "/ogc/collections/coverage_areas/items"),
                         ("PATCH", f"/ogc/collections/coverage/items/{feature['id']}"),
                         ("DELETE", f"/ogc/collections/coverage/items/{feature['id']}")):
        r = client.request(method, path, json=body, headers={**head, "If-Match": "*"})
        assert r.status_code == 405, (method, path, r.text)
        assert r.headers["allow"] == "GET, HEAD" and "/api/inspections" in r.json()["detail"]


def _drawn(client, drawing: str) -> tuple[dict[str, str], list]:
    """Each unit the coverage tiles of a drawing draw, with its state (every tile over the drawing), and the
    tiles."""
    import mapbox_vector_tile

    from riskmap.render.grid import TMS

    tj = client.get("/tiles/coverage/tilejson.json", params={"format": "mvt", "drawing": drawing}).json()
    if tj.get("crs") == "plane":                     # a schematic drawing: its own plane, level 1 is 2 × 2 tiles
        tiles = [(1, x, y) for x in range(2) for y in range(2)]
    else:
        w, s, e, n = tj["bounds"]
        t0, t1 = TMS.tile(w, n, 19), TMS.tile(e, s, 19)
        tiles = [(19, x, y) for x in range(t0.x, t1.x + 1) for y in range(t0.y, t1.y + 1)]
    out: dict[str, str] = {}
    for z, x, y in tiles:
        r = client.get(f"/tiles/coverage/{z}/{x}/{y}.mvt", params={"drawing": drawing})
        assert r.status_code == 200, r.text
        for f in mapbox_vector_tile.decode(r.content).get("coverage", {}).get("features", []):
            out[f["properties"]["unit_id"]] = f["properties"]["coverage"]
    return out, tiles


@pytest.mark.parametrize("drawing", ["反应车间-1F", "合成工艺流程图"])
def test_a_drawing_other_than_the_site_plan_shows_the_coverage_of_its_units(demo, drawing):
    from riskmap.clock import now as clock_now

    client, states, plates, _ = demo
    features = _items(client, drawing=drawing)["features"]
    units = _items(client, "units", drawing=drawing)["features"]
    assert features and sorted(f["id"] for f in features) == sorted(f["id"] for f in units)
    for f in features:                               # the drawing's units, with the plant's states
        assert f["properties"]["coverage"] == states.get(f["properties"]["unit_id"], "none")
        assert f["properties"]["checkpoint"] == (f["properties"]["unit_id"] in plates)
    drawn, tiles = _drawn(client, drawing)           # and its tiles draw the same
    assert drawn and set(drawn) <= {f["properties"]["unit_id"] for f in features}
    assert all(state == states.get(code, "none") for code, state in drawn.items())
    assert {"missed", "due"} & set(drawn.values())
    # the web map of the drawing offers the layer, asking for that drawing's tiles, and a click on a unit there
    # answers its checks as on the site plan
    config = client.get("/api/map/config", params={"drawing": drawing}).json()
    [layer] = [la for la in config["layers"] if la["name"] == "coverage"]
    assert not layer["visible"] and "drawing=" in layer["tilejson"]
    code = next(c for c, state in drawn.items() if state in ("missed", "due"))
    body = client.get("/api/identify", params={"unit": code, "drawing": drawing, "coverage": "today"}).json()
    assert [(c["unit_id"], c["coverage"]) for c in body["coverage"]] == [(code, drawn[code])]
    # a past moment (just now: the database may be younger than a minute) has no coverage: no tile, no feature
    at = clock_now().isoformat()
    z, x, y = tiles[0]
    past = client.get(f"/tiles/coverage/{z}/{x}/{y}.mvt", params={"drawing": drawing, "at": at})
    assert past.status_code == 404 and "no past state" in past.json()["detail"]
    assert _items(client, drawing=drawing, at=at)["features"] == []
