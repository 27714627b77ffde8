"""The OGC API Features collection of hidden hazards, served by the same routes as the plant's collections: listed
as hazards_points and hazards_areas (one geometry type each; `hazards` answers the whole), published hazards only
(rejected and anonymous unconfirmed ones left out), CQL2 filters and sortby on their fields, ?at= "open then",
paging and bbox; read only (405 naming GET and HEAD, nothing written); no OGC tilesets."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.settings import Settings
from riskmap.store import hazards, open_store, tokens


@pytest.fixture(scope="module")
def demo(demo_db_url):
    store = open_store(demo_db_url)
    name = store.enterprises()[0].name
    frame = hazards.hazards_frame(store, name)
    token = tokens.create_token(store, "editor", "ogc-hazards")[0]
    store.close()
    with TestClient(create_app(Settings(db=demo_db_url)), raise_server_exceptions=False) as client:
        yield client, frame, {"Authorization": f"Bearer {token}"}


def _items(client, collection="hazards", **q):
    r = client.get(f"/ogc/collections/{collection}/items", params={"limit": 1000, **q})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    return r.json()


def test_listed_and_described(demo):
    client, frame, _ = demo
    shown = frame[(frame["state"] != "rejected") & frame.geometry.notna()]
    listed = {c["id"]: c for c in client.get("/ogc/collections").json()["collections"]}
    points, areas = listed["hazards_points"], listed["hazards_areas"]
    assert points["itemCount"] + areas["itemCount"] == len(shown) and points["itemCount"] > 0
    assert points["geometryType"] in ("Point", "MultiPoint") and areas.get("geometryType") in (None, "Polygon",
                                                                                               "MultiPolygon")
    assert "只读" in points["description"] and "/api/hazards" in points["description"]
    assert not [link for link in points["links"] if "tiles" in link["rel"]]        # no OGC tilesets for hazards
    whole = client.get("/ogc/collections/hazards").json()
    assert whole["itemCount"] == len(shown)
    queryables = client.get("/ogc/collections/hazards_points/queryables").json()["properties"]
    assert {"state", "danger_level", "overdue", "source", "deadline", "unit_id"} <= set(queryables)
    assert queryables["overdue"]["type"] == "boolean" and queryables["danger_level"]["type"] == "integer"
    assert client.get("/ogc/collections/hazards_points/tiles").status_code == 404
    assert client.get("/ogc/collections/hazards_lines/items").status_code == 404


def test_items_filters_and_paging(demo):
    client, frame, _ = demo
    doc = _items(client)
    feature = doc["features"][0]
    props = feature["properties"]
    assert set(props) == {"name", "state", "state_zh", "danger_level", "danger_level_zh", "danger_state", "overdue",
                          "source", "source_zh", "deadline", "department", "unit_id", "registered"}
    assert not [f for f in doc["features"] if f["properties"]["state"] == "rejected"]
    row = frame[frame["id"] == feature["id"]].iloc[0]
    assert props["state"] == row["state"] and props["overdue"] == bool(row["overdue"])
    lon, lat = (feature["geometry"]["coordinates"] if feature["geometry"]["type"] == "Point"
                else feature["geometry"]["coordinates"][0][0])[:2]
    assert 73 < lon < 136 and 3 < lat < 54                                # RFC 7946: lon, lat (in China)
    majors = _items(client, filter="danger_level = 1 AND overdue = true")["features"]
    expected = frame[(frame["level"] == 1) & frame["overdue"] & (frame["state"] != "rejected")]
    assert sorted(f["id"] for f in majors) == sorted(expected["id"]) and majors
    by_state = _items(client, filter="state IN ('rectifying', 'assigned')", sortby="-deadline")["features"]
    assert by_state and {f["properties"]["state"] for f in by_state} <= {"rectifying", "assigned"}
    deadlines = [f["properties"]["deadline"] for f in by_state if f["properties"]["deadline"]]
    assert deadlines == sorted(deadlines, reverse=True)
    page = _items(client, limit=2)
    assert page["numberReturned"] == 2 and any(link["rel"] == "next" for link in page["links"])
    assert _items(client, bbox="0,0,1,1")["numberMatched"] == 0
    one = client.get(f"/ogc/collections/hazards/items/{feature['id']}")
    assert one.status_code == 200 and one.json()["properties"] == props and one.headers["etag"].startswith("W/")
    assert client.get("/ogc/collections/hazards/items/nope").status_code == 404
    html = client.get("/ogc/collections/hazards_points/items", params={"f": "html"})
    assert html.status_code == 200 and "state_zh" in html.text
    for bad in ({"limit": "0"}, {"limit": "-3"}, {"offset": "-1"}, {"bbox": "1,2"}, {"at": "soon"},
                {"filter": "nope = 1"}, {"level": "major"}, {"which": "inherent"}, {"datetime": "yesterday"}):
        r = client.get("/ogc/collections/hazards/items", params=bad)
        assert r.status_code == 400, (bad, r.status_code, r.text)


def test_open_at_a_moment(demo):
    client, frame, _ = demo
    from riskmap.clock import local_time, now

    moment = local_time(now()).strftime("%Y-%m-%dT%H:%M:%S")
    open_now = _items(client, at=moment)["features"]
    expected = frame[frame["state"].isin(["reported", "confirmed", "assigned", "rectifying", "awaiting_acceptance"])
                     & frame.geometry.notna()]
    assert sorted(f["id"] for f in open_now) == sorted(expected["id"])


def test_read_only(demo):
    client, _, head = demo
    feature = _items(client)["features"][0]
    body = {"type": "Feature", "geometry": feature["geometry"], "properties": {"name": "x"}}
    for method, path in (("POST", "/ogc/collections/hazards/items"),
                         ("POST", "/ogc/collections/hazards_points/items"),
                         ("PUT", f"/ogc/collections/hazards/items/{feature['id']}"),
                         ("PATCH", f"/ogc/collections/hazards/items/{feature['id']}"),
                         ("DELETE", f"/ogc/collections/hazards/items/{feature['id']}")):
        r = client.request(method, path, json=body, headers={**head, "If-Match": "*"})
        assert r.status_code == 405, (method, path, r.text)
        assert r.headers["allow"] == "GET, HEAD" and "只读" in r.json()["detail"]
    assert client.get(f"/ogc/collections/hazards/items/{feature['id']}").json()["properties"]["name"] == \
        feature["properties"]["name"]
    # a writable collection still names every method of its path
    r = client.put("/ogc/collections/layout/items/x", json=body, headers=head, params={"at": "2026-01-01"})
    assert r.status_code == 405 and "PUT" in r.headers["allow"]
