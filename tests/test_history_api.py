"""/api/history (list, diff, restore), /api/flags and /api/accidents over HTTP: the audit trail with who, when
and why; a deleted area restored so that the view before the delete equals the restored state; editor tokens on
every write; hostile input answered with a 4xx in Chinese and English."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from kit import person_token
from plants import ENT, plant_layout, square, unit_tree
from plants import plant_snapshot as snapshot

from riskmap.api.app import create_app
from riskmap.clock import LOCAL_ZONE
from riskmap.plant import load_plant
from riskmap.settings import Settings
from riskmap.store import open_store, tokens


def typed(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M:%S.%f")


def bilingual(text: str) -> bool:
    """Chinese first, then " / " and English (after a full-width bracket the space before "/" is left out)."""
    return bool(re.match(r"[^a-zA-Z]*[\u4e00-\u9fff]", text)) and "/ " in text and re.search(r"/ [a-zA-Z]", text)


def pause() -> datetime:
    time.sleep(0.003)
    moment = datetime.now(UTC)
    time.sleep(0.003)
    return moment


@pytest.fixture
def world(store_url):
    """A plant whose region A2 was reshaped and then deleted, an app on it and tokens: (client, store, moments)."""
    store = open_store(store_url)
    store.save_layout(ENT, plant_layout(), author="王工", reason="首次导入")
    store.save_units(ENT, unit_tree(), author="王工", reason="台账")
    imported = pause()
    store.patch_feature(ENT, "A2", [store.feature(ENT, "A2").edit_tag], {"geometry": square(120.002, 32.0, 0.0012)},
                        author="李工", reason="扩建")
    reshaped = pause()
    store.delete_feature(ENT, "A2", [store.feature(ENT, "A2").edit_tag], author="李工", reason="拆除")
    deleted = pause()
    editor = person_token(store, ("editor", "safety_manager"), "张工")     # restores, clears flags, records accidents
    reader, _ = tokens.create_token(store, "reader", "访客")
    with TestClient(create_app(Settings(db=store_url))) as client:
        client.headers["Authorization"] = f"Bearer {editor}"
        yield client, store, {"imported": imported, "reshaped": reshaped, "deleted": deleted, "reader": reader}
    store.close()


def test_history_lists_who_when_why(world):
    client, _, moments = world
    resp = client.get("/api/history")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["enterprise"] == ENT and body["count"] == len(body["items"]) == 4
    latest = body["items"][0]
    assert (latest["action"], latest["author"], latest["reason"], latest["item_ids"]) == \
        ("feature.delete", "李工", "拆除", ["A2"])
    assert [i["action"] for i in body["items"][1:]] == ["feature.patch", "ledger.import", "layout.import"]
    assert body["items"][-1]["author"] == "王工" and body["items"][-1]["reason"] == "首次导入"
    only = client.get("/api/history", params={"item": "A2"}).json()["items"]
    assert [i["action"] for i in only] == ["feature.delete", "feature.patch"]
    window = client.get("/api/history", params={"since": typed(moments["imported"]),
                                                "until": typed(moments["reshaped"])}).json()["items"]
    assert [i["action"] for i in window] == ["feature.patch"]
    assert client.get("/api/history", params={"limit": 1}).json()["count"] == 1
    assert client.get("/api/history", params={"item": "没有"}).json()["items"] == []


def test_diff_between_moments_over_http(world):
    client, _, moments = world
    resp = client.get("/api/history/diff", params={"from": typed(moments["imported"]),
                                                   "to": typed(moments["deleted"])})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["layout"]["removed"] == [{"id": "A2", "name": "装置区", "role": "region"}]
    assert body["layout"]["added"] == body["layout"]["reshaped"] == []
    assert body["layout_from"] == 1 and body["layout_to"] == 3 and body["ledger_from"] == body["ledger_to"] == 1
    step = client.get("/api/history/diff", params={"from": typed(moments["imported"]),
                                                   "to": typed(moments["reshaped"])}).json()
    assert step["layout"]["reshaped"] == [{"id": "A2", "name": "装置区", "role": "region"}]


def test_restore_a_deleted_area_equals_the_view_before_the_delete(world):
    client, store, moments = world
    before = snapshot(load_plant(store, ENT, at=moments["reshaped"]))
    assert snapshot(load_plant(store, ENT))["features"] != before["features"]
    resp = client.post("/api/history/restore", json={"collection": "regions", "id": "A2", "reason": "误删"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["ids"] == ["A2"] and body["layout_number"] == 4 and body["edit_tags"][0] > 0
    now = snapshot(load_plant(store, ENT))
    assert now["features"] == before["features"] and now["regions"] == before["regions"]
    assert now["geojson"] == before["geojson"]
    row = client.get("/api/history", params={"limit": 1}).json()["items"][0]
    assert (row["action"], row["author"], row["reason"], row["item_ids"]) == ("feature.restore", "张工", "误删", ["A2"])
    again = client.post("/api/history/restore", json={"collection": "regions", "id": "A2"})
    assert again.status_code == 409 and bilingual(again.json()["detail"])


def test_restore_the_state_at_a_moment(world):
    client, store, moments = world
    resp = client.post("/api/history/restore", json={"collection": "layout", "id": "A2",
                                                      "at": typed(moments["imported"])})
    assert resp.status_code == 201, resp.text
    first = snapshot(load_plant(store, ENT, at=moments["imported"]))
    assert snapshot(load_plant(store, ENT))["features"] == first["features"]   # the shape before the extension


def test_writes_need_an_editor_token(world):
    client, _, moments = world
    body = {"collection": "regions", "id": "A2"}
    for path, payload in (("/api/history/restore", body), ("/api/flags/clear", {"unit_id": "U1", "reason": "x"}),
                          ("/api/accidents", {"date": "2026-01-02", "description": "泄漏"})):
        anonymous = client.post(path, json=payload, headers={"Authorization": ""})
        assert anonymous.status_code == 401 and "令牌" in anonymous.json()["detail"], path
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        reader = client.post(path, json=payload, headers={"Authorization": f"Bearer {moments['reader']}"})
        assert reader.status_code == 403, path
        forged = client.post(path, json=payload, headers={"Authorization": "Bearer rmk_" + "x" * 32})
        assert forged.status_code == 401, path


@pytest.mark.parametrize("params, words", [
    ({"since": "yesterday"}, "not an ISO 8601"), ({"until": "2026-02-30"}, "not an ISO 8601"),
    ({"since": "1900-01-01"}, "before 1990"), ({"until": "2999-01-01"}, "in the future"),
    ({"since": "2026-10-02", "until": "2026-10-01"}, "since is after until"),
    ({"limit": "0"}, "invalid request"), ({"limit": "abc"}, "invalid request"), ({"limit": "99999"}, "invalid"),
    ({"item": "x" * 300}, "invalid request"), ({"enterprise": "没有这家"}, "no enterprise"),
    ({"since": "2026-10-01T08:00" + "0" * 100}, "invalid request"),
])
def test_history_refuses_hostile_queries(world, params, words):
    client, _, _ = world
    resp = client.get("/api/history", params=params)
    assert resp.status_code in (404, 422), resp.text
    assert words in resp.json()["detail"] and bilingual(resp.json()["detail"])


@pytest.mark.parametrize("params, status", [
    ({}, 422), ({"from": "2026-10-01"}, 422), ({"from": "<script>", "to": "2026-10-01"}, 422),
    ({"from": "2026-10-01", "to": "2999-01-01"}, 422), ({"from": "2026-10-01", "to": "2026-10-02",
                                                         "enterprise": "没有"}, 404),
])
def test_diff_refuses_hostile_queries(world, params, status):
    client, _, _ = world
    resp = client.get("/api/history/diff", params=params)
    assert resp.status_code == status, resp.text
    assert bilingual(resp.json()["detail"])


@pytest.mark.parametrize("body, status, words", [
    ({"collection": "regions", "id": "B1"}, 404, "not a region"),
    ({"collection": "layout", "id": "never"}, 404, "ever been stored"),
    ({"collection": "layout", "id": "B1"}, 409, ""),                           # exists now
    ({"collection": "units", "id": "U1"}, 422, "invalid request"),
    ({"collection": "layout", "id": ""}, 422, "invalid request"),
    ({"collection": "layout", "id": "x" * 201}, 422, "invalid request"),
    ({"collection": "layout", "id": "A2", "at": "soon"}, 422, "not an ISO 8601"),
    ({"collection": "layout", "id": "A2", "at": "1989-01-01"}, 422, "before 1990"),
    ({"collection": "layout", "id": "A2", "extra": 1}, 422, "invalid request"),
    ({"collection": "layout", "id": "A2", "reason": "r" * 3000}, 422, "invalid request"),
    ({"collection": "layout", "id": 5}, 422, "invalid request"),
    ([1, 2], 422, "invalid request"),
])
def test_restore_refuses_hostile_bodies(world, body, status, words):
    client, _, _ = world
    resp = client.post("/api/history/restore", json=body)
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"] and bilingual(resp.json()["detail"])


def test_restore_refuses_broken_json(world):
    client, _, _ = world
    resp = client.post("/api/history/restore", content=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 422 and bilingual(resp.json()["detail"])


def test_openapi_documents_the_history_routes(world):
    client, _, _ = world
    spec = client.get("/openapi.json").json()
    for path in ("/api/history", "/api/history/diff", "/api/history/restore", "/api/flags", "/api/flags/clear",
                 "/api/accidents"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    assert {"Change", "Diff", "RestoreIn", "Written", "Flag", "AccidentIn"} <= set(schemas)
    assert set(schemas["Diff"]["properties"]) >= {"from", "to", "layout", "units"}
    assert schemas["RestoreIn"]["properties"]["collection"]["enum"] == ["layout", "regions"]


# ------------------------------------------------------------------------------------------ flags and accidents


def flag_pairs(client, **params) -> list[tuple[str, str]]:
    resp = client.get("/api/flags", params=params)
    assert resp.status_code == 200, resp.text
    return [(f["unit_id"], f["reason_code"]) for f in resp.json()["items"]]


def test_flags_list_filters_and_clear(world):
    client, _, _ = world
    flags = flag_pairs(client)
    assert ("U2", "geometry_changed") in flags and ("U2.1", "region_changed") in flags   # from the reshape of A2
    assert ("U1", "validity_expired") in flags                  # computed on read: assessed 2025-03-01, 12 months
    assert flag_pairs(client, unit="U2") == [("U2", "geometry_changed")]
    assert flag_pairs(client, reason="region_changed") == [("U2.1", "region_changed")]
    overdue = client.get("/api/flags", params={"reason": "overdue"}).json()["items"]     # never assessed
    assert {f["unit_id"] for f in overdue} == {"U1.1", "U2.1"} and all(f["id"] is None for f in overdue)
    expired = client.get("/api/flags", params={"reason": "validity_expired"}).json()["items"]
    assert [(f["unit_id"], f["raised_at"], f["id"]) for f in expired] == [("U1", "2026-03-01", None)]
    assert expired[0]["reason"].startswith("评估有效期（2025-03-01 至 2026-02-28）已届满 / ")
    cleared = client.post("/api/flags/clear", json={"unit_id": "U2", "reason": "现场核实，无需复评"})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["cleared"] == 1 and cleared.json()["change_id"] > 0
    assert flag_pairs(client, unit="U2") == []
    everything = client.get("/api/flags", params={"unit": "U2", "all": "true"}).json()["items"]
    assert [(f["reason_code"], f["cleared_at"] is not None) for f in everything] == [("geometry_changed", True)]
    row = client.get("/api/history", params={"limit": 1}).json()["items"][0]
    assert (row["action"], row["author"], row["reason"], row["item_ids"]) == \
        ("flags.clear", "张工", "现场核实，无需复评", ["U2"])
    one = client.post("/api/flags/clear", json={"unit_id": "U2.1", "reason": "已复评", "reason_code": "region_changed"})
    assert one.status_code == 200 and one.json()["cleared"] == 1
    assert flag_pairs(client, unit="U2.1") == [("U2.1", "overdue")]


def test_accidents_flag_the_unit_or_every_unit(world):
    client, _, _ = world
    resp = client.post("/api/accidents", json={"unit_id": "U1.1", "date": "2026-01-05",
                                               "description": "液氯阀门泄漏，无人员伤亡"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["serious"] is False and body["id"] > 0
    assert flag_pairs(client, reason="accident") == [("U1.1", "accident")]
    row = client.get("/api/history", params={"limit": 1}).json()["items"][0]
    assert (row["action"], row["author"], row["item_ids"]) == ("accident.record", "张工", ["U1.1"])
    serious = client.post("/api/accidents", json={"date": "2026-01-06", "description": "爆炸", "deaths": 1})
    assert serious.status_code == 201 and serious.json()["serious"] is True
    assert {u for u, _ in flag_pairs(client, reason="accident")} == {"U1", "U1.1", "U2", "U2.1"}


@pytest.mark.parametrize("params, status, words", [
    ({"reason": "bogus"}, 422, "unknown reason code"), ({"reason": "x" * 100}, 422, "invalid request"),
    ({"unit": "x" * 300}, 422, "invalid request"), ({"all": "perhaps"}, 422, "invalid request"),
    ({"enterprise": "没有"}, 404, "no enterprise"),
])
def test_flags_refuse_hostile_queries(world, params, status, words):
    client, _, _ = world
    resp = client.get("/api/flags", params=params)
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"] and bilingual(resp.json()["detail"])


@pytest.mark.parametrize("body, status, words", [
    ({"unit_id": "没有", "reason": "x"}, 404, "no assessment unit"),
    ({"unit_id": "U2", "reason": "   "}, 422, "needs a reason"),
    ({"unit_id": "U2"}, 422, "invalid request"),
    ({"unit_id": "U2", "reason": "x", "reason_code": "overdue"}, 422, "invalid request"),
    ({"unit_id": "", "reason": "x"}, 422, "invalid request"),
    ({"unit_id": "U2", "reason": "x" * 3000}, 422, "invalid request"),
    ({"unit_id": ["U2"], "reason": "x"}, 422, "invalid request"),
    ({"unit_id": "U2", "reason": "x", "all": True}, 422, "invalid request"),
])
def test_clear_refuses_hostile_bodies(world, body, status, words):
    client, _, _ = world
    resp = client.post("/api/flags/clear", json=body)
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"] and bilingual(resp.json()["detail"])


@pytest.mark.parametrize("body, status, words", [
    ({"date": "2026-13-01", "description": "x"}, 422, "invalid request"),
    ({"date": "2999-01-01", "description": "x"}, 422, "in the future"),
    ({"date": "1980-01-01", "description": "x"}, 422, "before 1990"),
    ({"date": "2026-01-01", "description": "   "}, 422, "description is empty"),
    ({"date": "2026-01-01", "description": "x" * 5000}, 422, "invalid request"),
    ({"date": "2026-01-01", "description": "x", "deaths": -1}, 422, "invalid request"),
    ({"date": "2026-01-01", "description": "x", "deaths": "many"}, 422, "invalid request"),
    ({"date": "2026-01-01", "description": "x", "serious_injuries": 10 ** 12}, 422, "invalid request"),
    ({"date": "2026-01-01", "description": "x", "unit_id": "没有"}, 404, "no assessment unit"),
    ({"date": "2026-01-01", "description": "x", "extra": 1}, 422, "invalid request"),
    ({"description": "x"}, 422, "invalid request"),
])
def test_accidents_refuse_hostile_bodies(world, body, status, words):
    client, _, _ = world
    resp = client.post("/api/accidents", json=body)
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"] and bilingual(resp.json()["detail"])
