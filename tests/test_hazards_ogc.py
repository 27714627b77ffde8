"""The OGC API Features collection of hidden hazards, served by the same routes as the plant's collections: listed
as hazards_points and hazards_areas (one geometry type each; `hazards` answers the whole), published hazards only
(rejected and anonymous unconfirmed ones left out), CQL2 filters and sortby on their fields, ?at= "open then",
paging and bbox; GIS clients report with POST and correct with PATCH (the workflow's rules, If-Match), never PUT
nor DELETE (405 naming GET, HEAD, PATCH, nothing written); no OGC tilesets."""

from __future__ import annotations

from urllib.parse import quote

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
    assert "PATCH" in points["description"] and "/api/hazards" in points["description"]
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
    assert one.status_code == 200 and one.json()["properties"] == props and not one.headers["etag"].startswith("W/")
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


@pytest.fixture
def writer(demo_copy):
    """A private demo with an inspector's and a safety manager's token: (client, enterprise, inspector, manager)."""
    from riskmap.store import accounts

    store = open_store(demo_copy)
    name = store.enterprises()[0].name
    heads = {}
    for role in ("inspector", "safety_manager"):
        made = accounts.create_account(store, name, name=f"OGC {role}", login=f"ogc-{role}", password=None,
                                       roles=[role])
        token = tokens.create_token(store, "editor", f"ogc {role}", account_id=made["id"])[0]
        heads[role] = {"Authorization": f"Bearer {token}"}
    store.close()
    with TestClient(create_app(Settings(db=demo_copy)), raise_server_exceptions=False) as client:
        yield client, name, heads["inspector"], heads["safety_manager"]


def _near_the_plant(client) -> list[float]:
    feature = _items(client)["features"][0]
    geometry = feature["geometry"]
    lon, lat = (geometry["coordinates"] if geometry["type"] == "Point" else geometry["coordinates"][0][0])[:2]
    return [lon + 0.0001, lat + 0.0001]


def test_a_gis_client_reports_and_corrects_a_hazard(writer):
    """POST reports as the signed-in inspector (201, Location, the item as GET answers it); PATCH corrects it as
    the safety manager under If-Match (the state unchanged, a "correct" step on the timeline); a stale If-Match
    is 412, none is 428; the inspector may report but not correct."""
    client, _, inspector, manager = writer
    lon, lat = _near_the_plant(client)
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"name": "QGIS 上报：罐区围堰裂缝", "danger_level": 0, "source": 1, "department": "储运部",
                           "description": "围堰东侧裂缝约 20 cm", "state": "closed", "overdue": True}}
    r = client.post("/ogc/collections/hazards_points/items", json=body,
                    headers={**inspector, "X-Reason": quote("巡检发现")})
    assert r.status_code == 201, r.text
    made = r.json()
    location = r.headers["location"]
    assert location.endswith(f"/ogc/collections/hazards/items/{made['id']}")
    assert made["properties"]["state"] == "reported" and made["properties"]["overdue"] is False   # worked out
    assert made["geometry"]["coordinates"][:2] == pytest.approx([lon, lat])
    read = client.get(location)
    assert read.status_code == 200 and read.json()["properties"] == made["properties"]
    tag = read.headers["etag"]
    assert not tag.startswith("W/") and tag == r.headers["etag"]
    detail = client.get(f"/api/hazards/{made['id']}").json()
    assert detail["registrant"] == "OGC inspector" and detail["description"] == "围堰东侧裂缝约 20 cm"

    patch = {"geometry": {"type": "Point", "coordinates": [lon + 0.0002, lat]},
             "properties": {"danger_level": 1, "department": "设备部"}}
    assert client.patch(location, json=patch, headers={**inspector, "If-Match": tag}).status_code == 403
    assert client.patch(location, json=patch, headers=manager).status_code == 428
    r = client.patch(location, json=patch, headers={**manager, "If-Match": tag, "X-Reason": quote("现场复核")})
    assert r.status_code == 200, r.text
    props = r.json()["properties"]
    assert props["danger_level"] == 1 and props["department"] == "设备部" and props["state"] == "reported"
    assert r.json()["geometry"]["coordinates"][0] == pytest.approx(lon + 0.0002)
    assert r.headers["etag"] != tag
    stale = client.patch(location, json={"properties": {"department": "储运部"}}, headers={**manager, "If-Match": tag})
    assert stale.status_code == 412
    steps = client.get(f"/api/hazards/{made['id']}").json()["timeline"]
    assert [s["action"] for s in steps][-1] == "correct" and steps[-1]["reason"] == "现场复核"
    assert steps[-1]["author"] == "OGC safety_manager"
    # an area goes to hazards_areas; its item is read from the whole collection
    square = [[lon, lat], [lon + 0.0002, lat], [lon + 0.0002, lat + 0.0001], [lon, lat + 0.0001], [lon, lat]]
    r = client.post("/ogc/collections/hazards_areas/items", headers=inspector, json={
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]},
        "properties": {"name": "地面油污区域", "source": 1}})
    assert r.status_code == 201 and r.json()["geometry"]["type"] == "Polygon"
    areas = _items(client, "hazards_areas")["features"]
    assert r.json()["id"] in {f["id"] for f in areas}


def test_bad_hazard_writes_change_nothing(writer):
    client, name, inspector, manager = writer
    lon, lat = _near_the_plant(client)
    before = len(_items(client)["features"])
    point = {"type": "Point", "coordinates": [lon, lat]}
    bad = [
        ("/ogc/collections/hazards_points/items", {"type": "Feature", "geometry": {
            "type": "Polygon", "coordinates": [[[lon, lat], [lon + 1e-4, lat], [lon, lat + 1e-4], [lon, lat]]]},
            "properties": {"name": "面放进点集合"}}, 422),
        ("/ogc/collections/hazards/items", {"type": "Feature", "geometry": point, "properties": {}}, 422),
        ("/ogc/collections/hazards/items", {"type": "Feature", "geometry": point,
                                            "properties": {"name": "x", "colour": "red"}}, 422),
        ("/ogc/collections/hazards/items", {"type": "Feature", "geometry": point,
                                            "properties": {"name": "x", "danger_level": 7}}, 422),
        ("/ogc/collections/hazards/items", {"type": "Feature", "geometry": {"type": "Point",
                                                                            "coordinates": [10.0, 50.0]},
                                            "properties": {"name": "远离厂区"}}, 422),
        ("/ogc/collections/hazards/items", {"type": "FeatureCollection", "features": []}, 422),
        ("/ogc/collections/hazards/items", ["not", "a", "feature"], 422),
    ]
    for path, body, status in bad:
        r = client.post(path, json=body, headers=inspector)
        assert r.status_code == status, (body, r.status_code, r.text)
        assert "detail" in r.json() and "Traceback" not in r.text
    assert client.post("/ogc/collections/hazards/items", json=bad[1][1]).status_code == 401
    assert client.post("/ogc/collections/hazards/items", content=b"{", headers={
        **inspector, "Content-Type": "application/json"}).status_code in (400, 422)
    assert len(_items(client)["features"]) == before
    # a closed hazard is not corrected (409), an unknown one is 404
    closed = next(f for f in _items(client)["features"] if f["properties"]["state"] in ("closed", "accepted"))
    tag = client.get(f"/ogc/collections/hazards/items/{closed['id']}").headers["etag"]
    r = client.patch(f"/ogc/collections/hazards/items/{closed['id']}", json={"properties": {"department": "x"}},
                     headers={**manager, "If-Match": tag})
    assert r.status_code == 409, r.text
    r = client.patch("/ogc/collections/hazards/items/nope", json={"properties": {"department": "x"}},
                     headers={**manager, "If-Match": "*"})
    assert r.status_code == 404


def test_hazards_are_never_replaced_nor_deleted(demo):
    client, _, head = demo
    feature = _items(client)["features"][0]
    body = {"type": "Feature", "geometry": feature["geometry"], "properties": {"name": "x"}}
    for method, path in (("PUT", f"/ogc/collections/hazards/items/{feature['id']}"),
                         ("DELETE", f"/ogc/collections/hazards/items/{feature['id']}"),
                         ("PUT", f"/ogc/collections/hazards_points/items/{feature['id']}")):
        r = client.request(method, path, json=body, headers={**head, "If-Match": "*"})
        assert r.status_code == 405, (method, path, r.text)
        assert r.headers["allow"] == "GET, HEAD, PATCH" and "/api/hazards" in r.json()["detail"]
    assert client.get(f"/ogc/collections/hazards/items/{feature['id']}").json()["properties"]["name"] == \
        feature["properties"]["name"]
    r = client.post("/ogc/collections/coverage_areas/items", json=body, headers=head)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    # a writable collection still names every method of its path
    r = client.put("/ogc/collections/layout/items/x", json=body, headers=head, params={"at": "2026-01-01"})
    assert r.status_code == 405 and "PUT" in r.headers["allow"]
