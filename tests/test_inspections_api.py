"""Inspections over HTTP: generate, list and edit tasks (ETag / If-Match), checkpoints and the scanned /c/{token},
check records (permission "inspect", assignment, a second check refused), shutdowns, occurrences, national export."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.settings import Settings
from riskmap.store import accounts, open_store, tokens
from riskmap.store import hazards as hz

ENT, OTHER = "巡检化工", "别家化工"


def _units() -> list[AssessmentUnit]:
    return [AssessmentUnit("W", "一车间", kind=UnitKind.MAIN, department="生产部"),
            AssessmentUnit("P1", "1# 泵", kind=UnitKind.EQUIPMENT, parent_id="W", events=[
                RiskEvent(name="泵泄漏", id="E1", controls=[
                    ControlMeasure("泵出口压力联锁", cls="1-1", tier="post", department="生产部")])])]


def _token(store, enterprise, roles, name, post=None) -> dict:
    made = accounts.create_account(store, enterprise, name=name, login=f"{name}-login", password=None,
                                   roles=roles, post=post)
    return {"Authorization": "Bearer " + tokens.create_token(store, "editor", name, account_id=made["id"])[0]}


@pytest.fixture
def site(store_url):
    store = open_store(store_url)
    store.save_units(ENT, _units())
    store.save_units(OTHER, _units())
    heads = {"manager": _token(store, ENT, ["safety_manager"], "manager"),
             "inspector": _token(store, ENT, ["inspector"], "zhang", post="1# 泵"),
             "stranger": _token(store, ENT, ["inspector"], "li", post="罐区"),
             "viewer": _token(store, ENT, ["viewer"], "viewer"),
             "other": _token(store, OTHER, ["safety_manager", "inspector"], "other")}
    with TestClient(create_app(Settings(db=store_url)), raise_server_exceptions=False) as client:
        yield client, store, heads
    store.close()


P = {"enterprise": ENT}


def test_plan_scan_check_and_export(site):
    client, store, heads = site
    r = client.post("/api/inspections/generate", params=P, json={}, headers=heads["manager"])
    assert r.status_code == 200 and r.json()["created"] == 1
    assert client.post("/api/inspections/generate", params=P, json={},
                       headers=heads["inspector"]).status_code == 403
    tasks = client.get("/api/inspections/tasks", params=P).json()
    task = tasks["items"][0]
    assert tasks["count"] == 1 and task["national"]["checkCycle"] == 8 and task["national"]["checkCycleUnit"] == "小时"
    one = client.get(f"/api/inspections/tasks/{task['id']}", params=P)
    assert one.headers["etag"] == '"1"'
    url = f"/api/inspections/tasks/{task['id']}"
    assert client.patch(url, params=P, json={"title": "泵巡检"}, headers=heads["manager"]).status_code == 428
    stale = client.patch(url, params=P, json={"title": "泵巡检"}, headers={**heads["manager"], "If-Match": '"9"'})
    assert stale.status_code == 412
    bad = client.patch(url, params=P, json={"cadence": {"kind": "shift", "hours": 9}},
                       headers={**heads["manager"], "If-Match": '"1"'})
    assert bad.status_code == 422 and "8 或 12" in bad.json()["detail"]
    assert client.patch(url, params=P, json={"key": "x"}, headers={**heads["manager"], "If-Match": '"1"'}
                        ).status_code == 422
    ok = client.patch(url, params=P, json={"title": "泵巡检"}, headers={**heads["manager"], "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"' and ok.json()["title"] == "泵巡检"

    issued = client.post("/api/inspections/checkpoints", params=P, json={}, headers=heads["manager"]).json()
    token = issued["items"][0]["token"]
    assert issued["items"][0]["path"] == f"/c/{token}" and issued["items"][0]["unit_id"] == "P1"
    listed = client.get("/api/inspections/checkpoints", params=P).json()["items"]
    assert listed[0]["token"] is None and token not in client.get("/api/inspections/checkpoints", params=P).text
    scanned = client.get(f"/c/{token}")
    assert scanned.status_code == 200
    view = scanned.json()
    assert view["enterprise"] == ENT and view["unit_id"] == "P1" and view["unit_name"] == "1# 泵"
    assert [d["occurrence"]["state"] for d in view["due"]] == ["due"]
    assert view["due"][0]["task"]["items"][0] == "泵出口压力联锁"
    assert client.get(f"/c/{token}", params={"enterprise": OTHER}).status_code == 404

    items = view["due"][0]["task"]["items"]
    answers = [{"item": i + 1, "result": "fail" if i == 0 else "pass", "note": "压力表损坏" if i == 0 else None}
               for i in range(len(items))]
    body = {"task_id": task["id"], "answers": answers, "device": "PDA-1", "checkpoint": token}
    assert client.post("/api/inspections/records", params=P, json=body, headers=heads["viewer"]).status_code == 403
    assert client.post("/api/inspections/records", params=P, json=body, headers=heads["other"]).status_code == 403
    refused = client.post("/api/inspections/records", params=P, json=body, headers=heads["stranger"])
    assert refused.status_code == 403 and "不是该任务的执行人" in refused.json()["detail"]
    for wrong in ({**body, "photo": "x"}, {**body, "answers": answers[:1]}, {**body, "task_id": "1"},
                  {**body, "checkpoint": "rmc_" + "x" * 32}, {**body, "task_id": 10**6}):
        assert client.post("/api/inspections/records", params=P, json=wrong,
                           headers=heads["inspector"]).status_code in (404, 422)
    saved = client.post("/api/inspections/records", params=P, json=body, headers=heads["inspector"])
    assert saved.status_code == 201, saved.text
    out = saved.json()
    assert out["record"]["check_status"] == 1 and out["record"]["person"] == "zhang"
    assert out["hazard_drafts"][0]["description"] == "压力表损坏" and out["hazard_drafts"][0]["place"] == "1# 泵"
    assert out["hazards"] == [out["hazard_drafts"][0]["hazard_id"]]          # reported with the record
    made = hz.get(store, ENT, out["hazards"][0])
    assert made["source"] == 1 and made["check_record_id"] == str(out["record"]["id"]) and made["control_index"] == 0
    again = client.post("/api/inspections/records", params=P, json=body, headers=heads["inspector"])
    assert again.status_code == 409
    fixed = client.post("/api/inspections/records", params=P, headers=heads["inspector"],
                        json={**body, "answers": [{**a, "result": "pass", "note": None} for a in answers],
                              "corrects": out["record"]["id"]})
    assert fixed.status_code == 201 and fixed.json()["record"]["corrects"] == out["record"]["id"]
    assert client.get(f"/c/{token}").json()["due"][0]["occurrence"]["state"] == "done"
    records = client.get("/api/inspections/records", params=P).json()
    assert records["count"] == 2 and records["items"][0]["check_status"] == 0

    mine = client.get("/api/inspections/occurrences", params={**P, "window": "week", "person": "zhang-login"})
    assert mine.status_code == 200 and mine.json()["counts"]["done"] == 1
    theirs = client.get("/api/inspections/occurrences", params={**P, "window": "today", "person": "li-login"})
    assert theirs.json()["items"] == []
    assert client.get("/api/inspections/occurrences", params={**P, "window": "year"}).status_code == 422

    reissued = client.post("/api/inspections/checkpoints", params=P, json={"unit_ids": ["P1"], "reissue": True},
                           headers=heads["manager"]).json()["items"][0]["token"]
    old = client.get(f"/c/{token}")
    assert old.status_code == 404 and "reissued" in old.json()["detail"]
    assert client.get(f"/c/{reissued}").status_code == 200

    stop = client.post("/api/inspections/shutdowns", params=P, headers=heads["manager"],
                       json={"unit_id": "W", "starts_at": "2026-03-01T08:00:00", "ends_at": "2026-03-02T08:00:00",
                             "reason": "年度检修"})
    assert stop.status_code == 201 and stop.json()["starts_at"] == "2026-03-01T08:00:00+08:00"
    assert client.post("/api/inspections/shutdowns", params=P, headers=heads["manager"],
                       json={"unit_id": "W", "starts_at": "2026-03-02T08:00:00", "ends_at": "2026-03-01T08:00:00",
                             "reason": "x"}).status_code == 422
    assert len(client.get("/api/inspections/shutdowns", params=P).json()["items"]) == 1

    export = client.get("/api/inspections/export", params=P).json()
    assert export["tasks"][0]["checkCycle"] == 8 and len(export["records"]) == 2
    assert [r["checkStatus"] for r in export["records"]] == [1, 0]
    assert export["stops"][0]["stopStartTime"] == "2026-03-01 08:00:00"
    assert client.get("/api/inspections/tasks", params={"enterprise": OTHER}).json()["count"] == 0
