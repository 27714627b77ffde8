"""Hazard statistics (riskmap.hazards.statistics): the figures from records in Beijing time (months, overdue, the
from/to range, rejected reports apart), and the same over HTTP (JSON and the page, on both backends) and from
the command line; anonymous reports awaiting confirmation are not counted; bad ranges are refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import kit
import pytest
from clikit import one_line_error, run
from fastapi.testclient import TestClient
from plants import editing_layout

from riskmap.api.app import create_app
from riskmap.clock import today
from riskmap.errors import InputError
from riskmap.hazards import Hazard, State
from riskmap.hazards.statistics import compute
from riskmap.settings import Settings
from riskmap.store import open_store

NOW = datetime(2026, 12, 10, 4, 0, tzinfo=UTC)         # 12:00 in Beijing, 2026-12-10


def _h(n, state=State.REPORTED, *, level=0, at=datetime(2026, 12, 1, 2, tzinfo=UTC), deadline=None,
       department=None, person=None, source=1, accept_at=None) -> Hazard:
    return Hazard(id=f"{n:032x}", name=f"h{n}", state=state, level=level, registered_at=at, deadline=deadline,
                  department=department, liable_person=person, source=source, accept_at=accept_at)


def test_the_figures_in_beijing_time():
    hazards = [
        _h(1, State.RECTIFYING, level=1, deadline=date(2026, 12, 9), department="设备部", person="赵"),   # overdue
        _h(2, State.ASSIGNED, deadline=date(2026, 12, 10), department="设备部"),            # due today: not yet
        _h(3, State.ACCEPTED, deadline=date(2026, 12, 5), department="仪表车间", source=9,
           accept_at=datetime(2026, 12, 5, 17, tzinfo=UTC)),                 # 12-06 01:00 Beijing: a day late
        _h(4, State.CLOSED, at=datetime(2026, 11, 30, 17, tzinfo=UTC), deadline=date(2026, 12, 3),
           accept_at=datetime(2026, 12, 2, 1, tzinfo=UTC)),                  # registered 12-01 Beijing, on time
        _h(5, State.REJECTED),
        _h(6, State.REPORTED, at=datetime(2026, 11, 30, 15, tzinfo=UTC)),   # 11-30 23:00 Beijing
    ]
    s = compute(hazards, NOW).as_dict()
    assert (s["total"], s["open"], s["overdue"], s["major_open"], s["major_overdue"]) == (5, 3, 1, 1, 1)
    assert (s["done"], s["done_on_time"], s["on_time_rate"], s["rejected"]) == (2, 1, 0.5, 1)
    assert {x["key"]: x["count"] for x in s["by_state"]} == {"reported": 1, "assigned": 1, "rectifying": 1,
                                                             "accepted": 1, "closed": 1, "rejected": 1}
    assert [(g["key"], g["total"], g["open"], g["overdue"]) for g in s["by_level"]] == [("0", 4, 2, 0),
                                                                                      ("1", 1, 1, 1)]
    assert s["by_level"][1]["label"].startswith("重大")
    assert [(g["label"], g["open"]) for g in s["by_department"]] == [("设备部", 2), ("仪表车间", 0),
                                                                     ("未填写 / not given", 1)]
    assert [(g["key"], g["total"]) for g in s["by_source"]] == [("1", 4), ("9", 1)]
    assert s["by_responsible"][0] == {"key": "赵", "label": "赵", "total": 1, "open": 1, "overdue": 1, "major": 1,
                                      "done": 0}
    assert s["by_month"] == [
        {"month": "2026-11", "registered": 1, "major": 0, "accepted": 0, "accepted_late": 0},
        {"month": "2026-12", "registered": 4, "major": 1, "accepted": 2, "accepted_late": 1}]
    only = compute(hazards, NOW, date(2026, 12, 1), date(2026, 12, 1)).as_dict()
    assert only["total"] == 4 and only["from"] == "2026-12-01" and only["rejected"] == 1
    assert compute(hazards, NOW, date(2026, 11, 30), date(2026, 11, 30)).as_dict()["total"] == 1
    assert compute([], NOW).as_dict()["on_time_rate"] is None
    with pytest.raises(InputError, match="早于"):
        compute(hazards, NOW, date(2026, 12, 2), date(2026, 12, 1))


ENT = "统计企业"


@pytest.fixture
def world(store_url):
    store = open_store(store_url)
    store.save_layout(ENT, editing_layout())
    head = {"Authorization": "Bearer " + kit.person_token(store, ["safety_manager"], name="经理", enterprise=ENT)}
    with TestClient(create_app(Settings(db=store_url)), raise_server_exceptions=False) as client:
        yield client, head, store
    store.close()


def test_over_http(world):
    client, head, _ = world
    for body in ({"name": "配电箱未锁", "department": "<b>电气</b>"}, {"name": "储罐渗漏", "level": 1}):
        assert client.post("/api/hazards", params={"enterprise": ENT}, json=body, headers=head).status_code == 201
    made = client.post("/api/hazards", params={"enterprise": ENT}, json={"name": "通道堆物", "on_spot": True,
                                                                         "note": "已清理"}, headers=head)
    assert made.status_code == 201
    assert client.post("/api/hazard-reports", params={"enterprise": ENT},
                       json={"description": "匿名的不计", "unit_id": "nope"}).status_code == 422
    r = client.get("/api/hazards/statistics", params={"enterprise": ENT})
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["enterprise"], s["total"], s["open"], s["major_open"], s["done"]) == (ENT, 3, 2, 1, 1)
    assert s["from"] is None and s["by_month"][0]["month"] == today().strftime("%Y-%m")
    assert {g["label"] for g in s["by_department"]} == {"<b>电气</b>", "未填写 / not given"}
    later = (today() + timedelta(days=1)).isoformat()
    assert client.get("/api/hazards/statistics", params={"enterprise": ENT, "to": today().isoformat()}).json()[
        "total"] == 3
    for bad in ({"from": "2026-13-01"}, {"to": "yesterday"}, {"from": later}, {"to": "1989-12-31"},
                {"from": today().isoformat(), "to": (today() - timedelta(days=1)).isoformat()}, {"to": "0"}):
        r = client.get("/api/hazards/statistics", params={"enterprise": ENT, **bad})
        assert r.status_code == 422, (bad, r.text)
    assert client.get("/api/hazards/statistics", params={"enterprise": "无此企业"}).status_code == 404
    page = client.get("/hazards/statistics", params={"enterprise": ENT})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert '<meta name="viewport"' in text and "隐患统计" in text and "&lt;b&gt;电气&lt;/b&gt;" in text
    assert "<b>电气</b>" not in text and "<script" not in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text)                       # nothing from elsewhere
    assert re.search(r'id="fig-open"><b>2</b>', text) and re.search(r'id="fig-total"><b>3</b>', text)
    english = client.get("/hazards/statistics", params={"enterprise": ENT, "lang": "en"}).text
    assert "Hazard statistics" in english and "By department" in english
    assert client.get("/hazards/statistics", params={"enterprise": ENT, "to": "nope"}).status_code == 422
    assert client.get("/hazards/statistics", params={"enterprise": ENT, "lang": "fr"}).status_code == 422


def test_the_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    store = open_store(url)
    store.save_layout(ENT, editing_layout())
    store.close()
    run("hazard", "report", "--name", "配电箱门未关", "--level", "1", "--db", url, "--enterprise", ENT)
    out = run("hazard", "stats", "--db", url, "--enterprise", ENT)
    assert "未关闭 open 1" in out.stdout and "重大未关闭 major open 1" in out.stdout
    found = json.loads(run("hazard", "stats", "--json", "--db", url, "--enterprise", ENT).stdout)
    assert found["total"] == 1 and found["by_level"][0]["key"] == "1"
    one_line_error(run("hazard", "stats", "--from", "2026-12-31", "--to", "2026-01-01", "--db", url,
                       "--enterprise", ENT, check=False), "早于")
    one_line_error(run("hazard", "stats", "--from", "soon", "--db", url, "--enterprise", ENT, check=False),
                   "--from")
