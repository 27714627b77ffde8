"""Hidden hazards over HTTP (riskmap.api.routers.hazards), on both backends: the loop route by route with ETags,
If-Match (428, 412 with the current hazard), roles, bad input that changes nothing, another enterprise's hazard
(404), photos up (PNG/JPEG only, capped, bombs refused) and down (without EXIF), the list's filters."""

from __future__ import annotations

import io
from datetime import timedelta

import kit
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from plants import editing_layout

from riskmap.api.app import create_app
from riskmap.clock import local_time, now, today
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.levels import Level
from riskmap.settings import Settings
from riskmap.store import open_store

ENT, OTHER = "隐患接口企业", "别家企业"
PLAN = {"goal": "消除", "methods": "更换", "funds": "已批", "organisation": "设备部", "schedule": "月底",
        "safety": "作业许可", "emergency": "专项预案"}


@pytest.fixture
def world(store_url, tmp_path):
    store = open_store(store_url)
    store.save_layout(ENT, editing_layout())
    store.save_units(ENT, [AssessmentUnit("u1", "罐区", UnitKind.POST, feature_ref="A", events=[
        RiskEvent("泄漏", id="E1", residual_level=Level.GENERAL, controls=[ControlMeasure("联锁")])])])
    store.enterprise(OTHER)
    heads = {}
    for who, roles in {"inspector": ["inspector"], "manager": ["safety_manager"], "manager2": ["safety_manager"],
                       "rectifier": ["rectifier"], "viewer": ["viewer"]}.items():
        token = kit.person_token(store, roles, name=f"{who} 人", enterprise=ENT)
        heads[who] = {"Authorization": f"Bearer {token}"}
    heads["other"] = {"Authorization": "Bearer " + kit.person_token(store, ["safety_manager"], "别家", OTHER)}
    app = create_app(Settings(db=store_url, media_dir=str(tmp_path / "media"), max_photo_mb=1,
                              max_photo_pixels=2_000_000))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, heads, store
    store.close()


def _post(client, path, head, body=None, etag=None, enterprise=ENT):
    headers = dict(head)
    if etag is not None:
        headers["If-Match"] = etag
    return client.post(path, params={"enterprise": enterprise}, json=body if body is not None else {},
                       headers=headers)


def _png(size=(32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 20, 20)).save(out, "PNG")
    return out.getvalue()


def _jpeg_gps() -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (30.0, 0.0, 3.6), 3: "E", 4: (120.0, 0.0, 7.2)})
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_the_loop_over_http(world):
    client, heads, store = world
    r = _post(client, "/api/hazards", heads["inspector"],
              {"name": "储罐液位计失灵", "source": 9, "hazard_type": 4, "unit_id": "u1", "risk_event": "E1",
               "control_index": 0, "item": "chem-2017-121:5",
               "location": {"type": "Point", "coordinates": [120.0005, 30.0005]}})
    assert r.status_code == 201, r.text
    uid, tag = r.json()["hazard"]["id"], r.headers["etag"]
    assert r.json()["hazard"]["level"] == 1 and tag == '"1"'
    assert [h["id"] for h in client.get("/api/hazards", params={"enterprise": ENT, "unit_id": "u1"}).json()[
        "items"]] == [uid]
    assert client.get("/api/hazards", params={"enterprise": ENT, "unit_id": "u2"}).json()["count"] == 0
    shown = client.get(f"/api/hazards/{uid}", params={"enterprise": ENT})
    assert shown.status_code == 200 and shown.headers["etag"] == tag
    assert shown.json()["timeline"][0]["action"] == "report" and shown.json()["registrant"] == "inspector 人"
    # roles: an inspector cannot confirm; without If-Match 428; a stale one 412 with the current hazard
    assert _post(client, f"/api/hazards/{uid}/confirm", heads["inspector"], etag=tag).status_code == 403
    assert _post(client, f"/api/hazards/{uid}/confirm", heads["manager"]).status_code == 428
    stale = _post(client, f"/api/hazards/{uid}/confirm", heads["manager"], etag='"9"')
    assert stale.status_code == 412 and stale.json()["current"]["hazard"]["state"] == "reported"
    assert _post(client, f"/api/hazards/{uid}/confirm", heads["manager"], etag="garbage").status_code == 412
    r = _post(client, f"/api/hazards/{uid}/confirm", heads["manager"], {"department": "储运部"}, etag=tag)
    assert r.status_code == 200 and r.json()["hazard"]["state"] == "confirmed"
    tag = r.headers["etag"]
    # the second of two people acting on the same version loses with 412
    late = _post(client, f"/api/hazards/{uid}/reject", heads["manager2"], {"reason": "不是隐患"}, etag='"1"')
    assert late.status_code == 412 and late.json()["current"]["hazard"]["state"] == "confirmed"
    past = (today() - timedelta(days=1)).isoformat()
    r = _post(client, f"/api/hazards/{uid}/assign", heads["manager"],
              {"rectifier": "rectifier 人", "deadline": past}, etag=tag)
    assert r.status_code == 422 and "已过" in r.json()["detail"]
    r = _post(client, f"/api/hazards/{uid}/assign", heads["manager"],
              {"rectifier": "rectifier 人", "deadline": (today() + timedelta(days=5)).isoformat()}, etag=tag)
    assert r.status_code == 200, r.text
    tag = r.headers["etag"]
    r = _post(client, f"/api/hazards/{uid}/rectify", heads["rectifier"], {}, etag=tag)
    assert r.status_code == 422 and "五落实" in r.json()["detail"]
    assert client.get(f"/api/hazards/{uid}", params={"enterprise": ENT}).json()["state"] == "assigned"
    r = _post(client, f"/api/hazards/{uid}/rectify", heads["rectifier"],
              {"liable_person": "王工", "rectification_measures": "加装切断阀", "cost": "80000", "plan": PLAN},
              etag=tag)
    assert r.status_code == 200, r.text
    tag = r.headers["etag"]
    r = _post(client, f"/api/hazards/{uid}/accept", heads["manager"], {"note": "好"}, etag=tag)
    assert r.status_code == 409                       # not awaiting acceptance yet
    r = _post(client, f"/api/hazards/{uid}/submit", heads["rectifier"], {"note": "已加装"}, etag=tag)
    tag = r.headers["etag"]
    r = _post(client, f"/api/hazards/{uid}/accept", heads["manager"], {"note": "验收合格"}, etag=tag)
    assert r.status_code == 200 and r.json()["hazard"]["danger_state"] == 9
    assert r.json()["flags_raised"][0]["reason_code"] == "hazard_accepted"
    r = _post(client, f"/api/hazards/{uid}/close", heads["manager"], {}, etag=r.headers["etag"])
    assert r.status_code == 200 and r.json()["hazard"]["state"] == "closed"
    steps = client.get(f"/api/hazards/{uid}", params={"enterprise": ENT}).json()["timeline"]
    assert [s["action"] for s in steps] == ["report", "confirm", "assign", "rectify", "submit", "accept", "close"]


def test_bad_input_changes_nothing_and_tenancy(world):
    client, heads, store = world
    uid = _post(client, "/api/hazards", heads["inspector"], {"name": "门禁失效"}).json()["hazard"]["id"]
    version = store.data_version(ENT)
    for body in ({"name": "x", "location": {"type": "Point", "coordinates": [121.5, 31.2]}},
                 {"name": "x", "source": 42}, {"name": "x", "unit_id": "nope"}, {"name": "x", "state": "closed"},
                 {"name": "x", "item": "chem-2017-121:99"}, {"name": "x" * 300}, {"name": "x", "on_spot": True}):
        r = _post(client, "/api/hazards", heads["inspector"], body)
        assert r.status_code == 422, (body, r.text)
    assert store.data_version(ENT) == version
    listed = client.get("/api/hazards", params={"enterprise": ENT}).json()
    assert listed["count"] == 1
    # another enterprise's account: 403 on ours; our hazard under their name: 404
    assert client.get(f"/api/hazards/{uid}", params={"enterprise": OTHER}).status_code == 404
    assert _post(client, f"/api/hazards/{uid}/confirm", heads["other"], etag='"1"', enterprise=OTHER).status_code \
        == 404
    assert _post(client, f"/api/hazards/{uid}/confirm", heads["other"], etag='"1"').status_code == 403
    assert _post(client, "/api/hazards", heads["viewer"], {"name": "x"}).status_code == 403
    assert client.get("/api/hazards/reference").json()["items"]["chem-2017-121:6"]["text"].startswith("全压力式")


def test_on_spot_and_filters(world):
    client, heads, _ = world
    r = _post(client, "/api/hazards", heads["inspector"], {"name": "通道堆物", "on_spot": True, "note": "已清理",
                                                           "hazard_type": 5})
    assert r.status_code == 201 and r.json()["hazard"]["state"] == "closed"
    _post(client, "/api/hazards", heads["inspector"], {"name": "配电箱未锁", "level": 0})
    def get(**q):
        return [h["name"] for h in client.get("/api/hazards", params={"enterprise": ENT, **q}).json()["items"]]

    assert get(state="closed") == ["通道堆物"] and get(state=["reported", "closed"]) == ["配电箱未锁", "通道堆物"]
    assert get(overdue="true") == [] and get(level=1) == []
    moment = local_time(now()).strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert get(at="2000-01-01") == [] and get(at=moment) == ["配电箱未锁"]        # the closed one is not open
    assert client.get("/api/hazards", params={"enterprise": ENT, "at": "2999-01-01"}).status_code == 422
    assert client.get("/api/hazards", params={"enterprise": ENT, "state": "nope"}).status_code == 422
    assert client.get("/api/hazards", params={"enterprise": ENT, "level": 3}).status_code == 422
    assert get(limit=1) == ["配电箱未锁"] and get(limit=1, offset=1) == ["通道堆物"]


def test_photos_over_http(world):
    client, heads, _ = world
    uid = _post(client, "/api/hazards", heads["inspector"], {"name": "地沟积油"}).json()["hazard"]["id"]
    url = f"/api/hazards/{uid}/photos/before"
    def send(data, head=heads["inspector"], path=url):
        return client.post(path, params={"enterprise": ENT}, headers=head,
                           files={"file": ("p.jpg", data, "image/jpeg")})

    r = send(_jpeg_gps())
    assert r.status_code == 201, r.text
    assert r.json()["gps"] == {"lon": 120.002, "lat": 30.001}
    got = client.get(f"/api/hazards/{uid}/photos/{r.json()['id']}", params={"enterprise": ENT})
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(got.content)) as im:
        assert im.size == (40, 30) and len(im.getexif()) == 0
    bomb = io.BytesIO()
    Image.new("1", (4000, 4000)).save(bomb, "PNG")
    assert send(b"<html>not a photo</html>").status_code == 422
    assert send(bomb.getvalue()).status_code == 413
    assert send(b"\xff\xd8" + b"\0" * 1_100_000).status_code == 413
    assert send(b"\xff\xd8" + b"\0" * 3_000_000).status_code == 413       # refused from its declared length
    assert send(_png(), head=heads["rectifier"]).status_code == 403                       # before: the reporter's
    assert send(_png(), head=heads["rectifier"], path=f"/api/hazards/{uid}/photos/after").status_code == 201
    assert client.post(url, params={"enterprise": ENT}, headers=heads["inspector"], json={}).status_code == 415
    assert send(_png(), path="/api/hazards/nope/photos/before").status_code == 404
    photos = client.get(f"/api/hazards/{uid}", params={"enterprise": ENT}).json()["photos"]
    assert [p["stage"] for p in photos] == ["before", "after"]
    assert client.get(f"/api/hazards/{uid}/photos/999", params={"enterprise": ENT}).status_code == 404


def test_two_people_at_once_one_wins_the_other_gets_412(world):
    import threading

    client, heads, _ = world
    uid = _post(client, "/api/hazards", heads["inspector"], {"name": "安全出口上锁"}).json()["hazard"]["id"]
    barrier, answers = threading.Barrier(2), []

    def act(head, path, body):
        barrier.wait()
        answers.append(_post(client, f"/api/hazards/{uid}/{path}", head, body, etag='"1"'))

    threads = [threading.Thread(target=act, args=(heads["manager"], "confirm", {})),
               threading.Thread(target=act, args=(heads["manager2"], "reject", {"reason": "重复"}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert codes == [200, 412], [r.text for r in answers]
    winner = next(r for r in answers if r.status_code == 200).json()["hazard"]["state"]
    loser = next(r for r in answers if r.status_code == 412).json()
    assert loser["current"]["hazard"]["state"] == winner and loser["current"]["edit_tag"] == 2
    assert len(client.get(f"/api/hazards/{uid}", params={"enterprise": ENT}).json()["timeline"]) == 2
