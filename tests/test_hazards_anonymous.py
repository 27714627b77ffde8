"""Anonymous hazard reports from the phone page (POST /api/hazard-reports), on both backends: registered as
"reported" and withheld from everything published (the list for readers, one hazard, the unit page, the map's
frame, the ledger export) until a manager confirms it; rate-limited per address in the database (429 with a
clear message, counted the same by a second app on the same database, a forged X-Forwarded-For does not help);
hostile bodies refused with nothing written."""

from __future__ import annotations

import kit
import pytest
from fastapi.testclient import TestClient
from plants import editing_layout

from riskmap.api.app import create_app
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.levels import Level
from riskmap.settings import Settings
from riskmap.store import hazards as store_hazards
from riskmap.store import open_store

ENT = "匿名上报企业"
PATH = "/api/hazard-reports"


@pytest.fixture
def world(store_url, tmp_path):
    store = open_store(store_url)
    store.save_layout(ENT, editing_layout())
    store.save_units(ENT, [AssessmentUnit("u1", "罐区", UnitKind.POST, feature_ref="A", events=[
        RiskEvent("泄漏", id="E1", residual_level=Level.GENERAL, controls=[ControlMeasure("联锁")])])])
    heads = {who: {"Authorization": "Bearer " + kit.person_token(store, roles, name=f"{who} 人", enterprise=ENT)}
             for who, roles in {"manager": ["safety_manager"], "inspector": ["inspector"],
                                "viewer": ["viewer"]}.items()}
    settings = Settings(db=store_url, media_dir=str(tmp_path / "media"), anonymous_reports_per_hour=3,
                        anonymous_reports_per_day=5)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, heads, store, settings
    store.close()


def _report(client, body, **headers):
    return client.post(PATH, params={"enterprise": ENT}, json=body, headers=headers)


def _names(client, head=None, **q):
    r = client.get("/api/hazards", params={"enterprise": ENT, **q}, headers=head or {})
    assert r.status_code == 200, r.text
    return [h["name"] for h in r.json()["items"]]


def test_withheld_until_a_manager_confirms(world):
    client, heads, store, _ = world
    r = _report(client, {"description": "二楼楼梯扶手松动，有人差点摔倒", "unit_id": "u1"})
    assert r.status_code == 201, r.text
    made = r.json()["hazard"]
    assert made["state"] == "reported" and made["anonymous"] and not made["published"]
    assert made["name"] == "二楼楼梯扶手松动，有人差点摔倒" and made["registrant"].startswith("匿名")
    uid = made["id"]
    signed = client.post("/api/hazards", params={"enterprise": ENT}, json={"name": "配电箱未锁", "unit_id": "u1"},
                         headers=heads["inspector"])
    assert signed.status_code == 201 and signed.json()["hazard"]["published"]
    # readers, and people who do not manage hazards, do not see it anywhere
    for head in (None, heads["viewer"], heads["inspector"], {"Authorization": "Bearer nonsense"}):
        assert _names(client, head) == ["配电箱未锁"]
        assert client.get(f"/api/hazards/{uid}", params={"enterprise": ENT}, headers=head or {}).status_code == 404
    assert client.get("/api/hazards", params={"enterprise": ENT, "unconfirmed": "true"}).status_code == 403
    assert client.get("/api/hazards", params={"enterprise": ENT, "unconfirmed": "true"},
                      headers=heads["viewer"]).status_code == 403
    page = client.get("/u/u1", params={"enterprise": ENT})
    assert page.status_code == 200 and "配电箱未锁" in page.text and "扶手" not in page.text and uid not in page.text
    assert list(store_hazards.hazards_frame(store, ENT)["name"]) == ["配电箱未锁"]
    assert [h["name"] for h in store_hazards.listing(store, ENT)] == ["配电箱未锁"]
    assert store_hazards.failed_controls(store, ENT) == []
    # the manager sees it (all, or only the queue) and confirms it: then it is published
    assert _names(client, heads["manager"]) == ["配电箱未锁", made["name"]]
    assert _names(client, heads["manager"], unconfirmed="true") == [made["name"]]
    one = client.get(f"/api/hazards/{uid}", params={"enterprise": ENT}, headers=heads["manager"])
    assert one.status_code == 200 and one.json()["timeline"][0]["author"].startswith("匿名")
    r = client.post(f"/api/hazards/{uid}/confirm", params={"enterprise": ENT}, json={"name": "楼梯扶手松动"},
                    headers={**heads["manager"], "If-Match": one.headers["etag"]})
    assert r.status_code == 200, r.text and r.json()["hazard"]["published"]
    assert sorted(_names(client)) == ["楼梯扶手松动", "配电箱未锁"]
    assert client.get(f"/api/hazards/{uid}", params={"enterprise": ENT}).status_code == 200
    assert sorted(store_hazards.hazards_frame(store, ENT)["name"]) == ["楼梯扶手松动", "配电箱未锁"]


def test_a_rejected_anonymous_report_stays_unpublished(world):
    client, heads, _, _ = world
    made = _report(client, {"description": "有人在罐区抽烟", "unit_id": "u1"}).json()["hazard"]
    r = client.post(f"/api/hazards/{made['id']}/reject", params={"enterprise": ENT}, json={"reason": "查无此事"},
                    headers={**heads["manager"], "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert _names(client) == [] and _names(client, state="rejected") == []
    assert _names(client, heads["manager"], state="rejected") == ["有人在罐区抽烟"]


def test_rate_limit_per_address_in_the_database(world, store_url, tmp_path):
    client, heads, store, settings = world
    for i in range(3):
        assert _report(client, {"description": f"第{i}处漏油", "unit_id": "u1"}).status_code == 201
    version = store.data_version(ENT)
    r = _report(client, {"description": "第四处", "unit_id": "u1"})
    assert r.status_code == 429, r.text
    assert "一小时内已匿名上报 3 条" in r.json()["detail"] and "try again later" in r.json()["detail"]
    assert r.headers["retry-after"] == "3600"
    # a forged X-Forwarded-For from a peer that is no trusted proxy does not make a new address
    assert _report(client, {"description": "第五处", "unit_id": "u1"},
                   **{"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    # another host of the service (a second app on the same database) counts the same rows
    with TestClient(create_app(settings), raise_server_exceptions=False) as other:
        assert other.post(PATH, params={"enterprise": ENT}, json={"description": "x", "unit_id": "u1"}).status_code \
            == 429
    assert store.data_version(ENT) == version
    # signed-in reports are not limited by it
    assert client.post("/api/hazards", params={"enterprise": ENT}, json={"name": "登录上报"},
                       headers=heads["inspector"]).status_code == 201
    assert len(_names(client, heads["manager"], unconfirmed="true")) == 3


def test_daily_limit_of_the_enterprise_and_switched_off(world, store_url, tmp_path):
    client, _, store, settings = world
    proxied = settings.model_copy(update={"trusted_proxies": "*"})
    with TestClient(create_app(proxied), raise_server_exceptions=False) as behind:
        for i in range(5):                         # five addresses behind the trusted proxy, one report each
            r = behind.post(PATH, params={"enterprise": ENT}, json={"description": f"d{i}", "unit_id": "u1"},
                            headers={"X-Forwarded-For": f"198.51.100.{i}"})
            assert r.status_code == 201, r.text
        r = behind.post(PATH, params={"enterprise": ENT}, json={"description": "d6", "unit_id": "u1"},
                        headers={"X-Forwarded-For": "198.51.100.77"})
        assert r.status_code == 429 and "今天的匿名上报已达上限" in r.json()["detail"]
    off = settings.model_copy(update={"anonymous_reports_per_hour": 0})
    with TestClient(create_app(off), raise_server_exceptions=False) as closed:
        r = closed.post(PATH, params={"enterprise": ENT}, json={"description": "x", "unit_id": "u1"})
        assert r.status_code == 429 and "未开放匿名上报" in r.json()["detail"]


@pytest.mark.parametrize("body", [
    {"description": "x", "unit_id": "u1", "level": 1},                   # fields it may not set
    {"description": "x", "unit_id": "u1", "state": "accepted"},
    {"description": "x", "unit_id": "u1", "anonymous": False},
    {"description": "x", "unit_id": "u1", "source": 9},
    {"description": "x" * 1001, "unit_id": "u1"},                       # too long
    {"description": "", "unit_id": "u1"},
    {"description": "   ", "unit_id": "u1"},
    {"description": "坏\x00字符", "unit_id": "u1"},
    {"description": "x", "unit_id": "nope"},                            # no such unit
    {"description": "x"},
    {"description": "x", "unit_id": "u1", "location": {"type": "Point", "coordinates": [121.5, 31.2]}},  # far
    {"description": "x", "unit_id": "u1", "location": {"type": "Polygon", "coordinates": [[[120, 30], [120.001, 30],
                                                                                           [120, 30.001], [120, 30]]]}},
    {"description": "x", "unit_id": "u1", "location": {"type": "Point", "coordinates": ["a", None]}},
    {"description": ["x"], "unit_id": "u1"},
    {"description": {"$ne": 1}, "unit_id": "u1"},
    [],
])
def test_hostile_bodies_change_nothing(world, body):
    client, heads, store, _ = world
    version = store.data_version(ENT)
    r = _report(client, body)
    assert r.status_code == 422, r.text
    assert "/" in r.json()["detail"] if isinstance(r.json()["detail"], str) else True
    assert store.data_version(ENT) == version
    assert _names(client, heads["manager"]) == []


def test_not_json_and_too_large(world):
    client, heads, store, settings = world
    r = client.post(PATH, params={"enterprise": ENT}, content=b"\xff\xfe not json",
                    headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    r = client.post(PATH, params={"enterprise": ENT}, content=b"a" * (settings.max_body_bytes + 1),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert client.post(PATH, params={"enterprise": "没有这家"}, json={"description": "x", "unit_id": "u1"}) \
        .status_code == 404
    assert _names(client, heads["manager"]) == []


def test_the_migration_goes_down_and_up(store_url):
    from alembic import command
    from pgdb import backend_of, owner_url
    from sqlalchemy import inspect

    from riskmap.store.upgrade import alembic_config

    open_store(store_url).close()
    # migrations run as the tables' owner (on PostGIS the service's role may not change the schema)
    store = open_store(owner_url(store_url) if backend_of(store_url) == "postgis" else store_url)
    try:
        with store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0009")
            assert "hazard_reports" not in inspect(conn).get_table_names()
            assert "anonymous" not in {c["name"] for c in inspect(conn).get_columns("hazards")}
            command.upgrade(alembic_config(conn), "head")
            assert "hazard_reports" in inspect(conn).get_table_names()
    finally:
        store.close()
