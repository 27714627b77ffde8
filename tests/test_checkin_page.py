"""GET /c/{token} as a page for a phone's browser (both backends): not signed in → /login and back; signed in → the
unit and the checks due here now that are the person's, each item pass / fail / n.a. with a note; saved through
the records API with the session's CSRF token; JSON unchanged for API clients; names escaped; no external URL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.clock import local_date
from riskmap.clock import now as clock_now
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.inspections import store as ins
from riskmap.settings import Settings
from riskmap.store import accounts, open_store

ENT = "签到化工"
PUMP = '1# 泵 "<i>x</i>'
PW = "check-in-page-pw"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _units() -> list[AssessmentUnit]:
    return [AssessmentUnit("W", "一车间", kind=UnitKind.MAIN, department="生产部"),
            AssessmentUnit("P1", PUMP, kind=UnitKind.EQUIPMENT, parent_id="W", events=[
                RiskEvent(name="泵泄漏", id="E1", controls=[
                    ControlMeasure("泵出口压力联锁", cls="1-1", tier="post", department="生产部")])])]


@pytest.fixture
def site(store_url):
    store = open_store(store_url)
    store.save_units(ENT, _units())
    ins.generate(store, ENT, starts_on=local_date(clock_now()) - timedelta(days=1))
    for login, roles, post in (("zhang", ["inspector"], PUMP), ("li", ["inspector"], "罐区"),
                               ("viewer", ["viewer"], None)):
        accounts.create_account(store, ENT, name=login, login=login, password=PW, roles=roles, post=post)
    token = ins.issue_checkpoints(store, ENT, ["P1"])[0]["token"]
    with TestClient(create_app(Settings(db=store_url, enterprise=ENT)), follow_redirects=False) as client:
        yield client, store, token
    store.close()


def _sign_in(client, login: str, token: str):
    r = client.post("/login", data={"login": login, "password": PW, "enterprise": ENT, "next": f"/c/{token}"})
    assert r.status_code == 303 and r.headers["location"] == f"/c/{token}"


def test_sign_in_then_check_in_from_the_page(site):
    client, store, token = site
    first = client.get(f"/c/{token}", headers=HTML)
    assert first.status_code == 303 and first.headers["location"] == f"/login?next=/c/{token}"
    assert client.get(f"/c/{token}").json()["unit_id"] == "P1"            # API clients still get JSON
    _sign_in(client, "zhang", token)
    page = client.get(f"/c/{token}", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert 'name="viewport"' in text and "泵出口压力联锁" in text and "&lt;i&gt;x&lt;/i&gt;" in text
    assert "<i>x</i>" not in text                                          # the unit's name is escaped
    assert not re.search(r"(src|href|action)=\"(https?:)?//", text) and "http://" not in text
    assert "'sha256-" in page.headers["content-security-policy"]          # the inline script allowed by its hash
    task_id = int(re.search(r'data-task="(\d+)"', text).group(1))
    items = re.findall(r'<fieldset data-item="(\d+)"', text)
    assert items and all(f'name="t{task_id}i{n}" value="{v}"' in text for n in items for v in ("pass", "fail", "na"))

    # What the page's script sends: JSON with the CSRF token of the session (without it: refused).
    body = {"task_id": task_id, "checkpoint": token, "device": "web test",
            "answers": [{"item": int(n), "result": "fail" if n == "1" else "pass", "note": "表坏了"} for n in items]}
    assert client.post("/api/inspections/records", params={"enterprise": ENT}, json=body).status_code == 403
    saved = client.post("/api/inspections/records", params={"enterprise": ENT}, json=body,
                        headers={"X-CSRF-Token": client.cookies.get("riskmap_csrf")})
    assert saved.status_code == 201 and len(saved.json()["hazards"]) == 1
    after = client.get(f"/c/{token}", headers=HTML)
    assert "no check of yours is due here now" in after.text and "data-task=" not in after.text


def test_others_and_viewers_see_no_form(site):
    client, store, token = site
    _sign_in(client, "li", token)
    page = client.get(f"/c/{token}", headers=HTML).text
    assert "data-task=" not in page and "1 more checks here are assigned to others" in page
    client.cookies.clear()
    _sign_in(client, "viewer", token)
    assert "may not record checks" in client.get(f"/c/{token}", headers=HTML).text


def test_bad_codes_in_a_browser(site):
    client, store, token = site
    _sign_in(client, "zhang", token)
    for bad in ("rmc_" + "A" * 32, "<script>", "rmc_" + "x" * 5000):
        r = client.get(f"/c/{bad}", headers=HTML)
        assert r.status_code in (404, 414, 422) and "<script>" not in r.text
    client.cookies.set("riskmap_session", "expired-or-forged")
    r = client.get(f"/c/{token}", headers=HTML)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_today_page_for_the_signed_in_inspector(site):
    client, store, token = site
    first = client.get("/inspections/today", params={"enterprise": ENT})
    assert first.status_code == 303 and first.headers["location"] == "/login?next=/inspections/today"
    _sign_in(client, "zhang", token)
    page = client.get("/inspections/today", params={"enterprise": ENT})
    assert page.status_code == 200 and 'name="viewport"' in page.text
    route = page.text.split('id="route">')[1].split("</ol>")[0]
    assert route.count('<li class="check stop"') == 1 and "&lt;i&gt;x&lt;/i&gt;" in route
    assert '<span class="n">1</span>' in route and "/map?enterprise=" in route          # numbered, on the map
    assert client.get("/inspections/today", params={"enterprise": ENT, "near": "120.1,32.1"}).status_code == 200
    for bad in ("x", "200,1", "1,2,3", "nan,nan"):
        assert client.get("/inspections/today", params={"enterprise": ENT, "near": bad}).status_code == 422
    client.cookies.clear()
    _sign_in(client, "li", token)
    assert "nothing due now" in client.get("/inspections/today", params={"enterprise": ENT}).text


def test_a_window_reads_as_an_inspector_reads_it():
    from datetime import datetime

    from riskmap.api.routers.checkin import window_text
    from riskmap.clock import LOCAL_ZONE

    def bj(*a):
        return datetime(*a, tzinfo=LOCAL_ZONE)

    assert window_text(bj(2026, 12, 7, 8), bj(2026, 12, 7, 16)) == "08:00–16:00"
    assert window_text(bj(2026, 12, 7, 16), bj(2026, 12, 8, 0)) == "16:00–24:00"
    assert window_text(bj(2026, 12, 7, 0), bj(2026, 12, 8, 0)) == "00:00–24:00"
    assert window_text(bj(2026, 12, 7, 20), bj(2026, 12, 8, 8)) == "12-07 20:00 – 12-08 08:00"
    assert window_text(bj(2026, 12, 7), bj(2026, 12, 14)) == "12-07 00:00 – 12-14 00:00"
