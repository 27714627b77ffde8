"""The rectification notice (整改通知单) and the acceptance record (验收记录) as PDF (riskmap.print.hazard_forms),
over HTTP and from the command line: refused before the state they record (409, a one-line CLI error), the
fields decoded from the PDF text, photos of the right stage drawn, hostile text printed as text, long texts
flowing onto a second page, a withheld anonymous report not printed for readers."""

from __future__ import annotations

import io
from datetime import timedelta

import kit
import pytest
from clikit import one_line_error, run
from fastapi.testclient import TestClient
from PIL import Image
from plants import editing_layout
from printkit import HOSTILE, assert_fonts_embedded, pdf_pages, pdftotext

from riskmap.api.app import create_app
from riskmap.clock import today
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.levels import Level
from riskmap.settings import Settings
from riskmap.store import open_store

ENT = "整改单企业"
PLAN = {"goal": "消除泄漏", "methods": "更换垫片", "funds": "已批 2 万元", "organisation": "设备部",
        "schedule": "月底前", "safety": "作业许可", "emergency": "泄漏专项预案"}


@pytest.fixture
def world(store_url, tmp_path):
    store = open_store(store_url)
    store.save_layout(ENT, editing_layout())
    store.save_units(ENT, [AssessmentUnit("u1", "罐区", UnitKind.POST, feature_ref="A", events=[
        RiskEvent("泄漏", id="E1", residual_level=Level.GENERAL, controls=[ControlMeasure("联锁")])])])
    heads = {who: {"Authorization": "Bearer " + kit.person_token(store, roles, name=name, enterprise=ENT)}
             for who, roles, name in (("manager", ["safety_manager"], "张经理"), ("acceptor", ["safety_manager"],
                                                                                   "李验收"),
                                      ("rectifier", ["rectifier"], "王整改"))}
    app = create_app(Settings(db=store_url, media_dir=str(tmp_path / "media")))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, heads, store
    store.close()


def _post(client, path, head, body, etag=None):
    headers = dict(head) | ({"If-Match": etag} if etag else {})
    r = client.post(path, params={"enterprise": ENT}, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()["hazard"], r.headers["etag"]


def _jpeg(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), colour).save(out, "JPEG")
    return out.getvalue()


def _form(client, uid, kind, head=None):
    return client.get(f"/api/hazards/{uid}/{kind}.pdf", params={"enterprise": ENT}, headers=head or {})


def test_notice_and_acceptance_over_http(world, tmp_path):
    client, heads, _ = world
    h, tag = _post(client, "/api/hazards", heads["manager"],
                   {"name": "储罐法兰渗漏", "description": f"东侧法兰渗漏 {HOSTILE}", "cause": "垫片老化",
                    "unit_id": "u1", "risk_event": "E1", "level": 1, "department": "设备部",
                    "location": {"type": "Point", "coordinates": [120.0005, 30.0005]}})
    uid = h["id"]
    assert _form(client, uid, "notice").status_code == 409
    r = client.post(f"/api/hazards/{uid}/photos/before", params={"enterprise": ENT}, headers=heads["manager"],
                    files={"file": ("a.jpg", _jpeg((200, 30, 30)), "image/jpeg")})
    assert r.status_code == 201, r.text
    h, tag = _post(client, f"/api/hazards/{uid}/confirm", heads["manager"], {}, tag)
    deadline = (today() + timedelta(days=10)).isoformat()
    h, tag = _post(client, f"/api/hazards/{uid}/assign", heads["manager"],
                   {"rectifier": "王整改", "deadline": deadline, "liable_person": "赵主任", "cost": "20000",
                    "rectification_measures": "更换法兰垫片并试压", "plan": PLAN}, tag)
    r = _form(client, uid, "notice")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert_fonts_embedded(r.content, tmp_path)
    text = pdftotext(r.content, tmp_path)
    for word in ("隐患整改通知单", ENT, "储罐法兰渗漏", "垫片老化", "重大隐患", "赵主任", "王整改", deadline,
                 "20000 元", "更换法兰垫片并试压", "泄漏专项预案", "设备部", "张经理", "签发人", "整改前照片",
                 "评估单元 u1", "120.000500", uid):
        assert word in text.replace("\n", "").replace(" ", "") or word in text, word
    assert "<img src=x onerror=alert(1)>" in text
    assert _form(client, uid, "acceptance").status_code == 409
    # through the loop to acceptance
    h, tag = _post(client, f"/api/hazards/{uid}/rectify", heads["rectifier"], {}, tag)
    r = client.post(f"/api/hazards/{uid}/photos/after", params={"enterprise": ENT}, headers=heads["rectifier"],
                    files={"file": ("b.jpg", _jpeg((30, 160, 30)), "image/jpeg")})
    assert r.status_code == 201, r.text
    h, tag = _post(client, f"/api/hazards/{uid}/submit", heads["rectifier"], {"note": "已更换垫片，试压合格"}, tag)
    h, tag = _post(client, f"/api/hazards/{uid}/accept", heads["acceptor"], {"note": "复查无渗漏，同意销号"}, tag)
    r = _form(client, uid, "acceptance")
    assert r.status_code == 200, r.text
    text = pdftotext(r.content, tmp_path)
    for word in ("隐患整改验收记录", "已更换垫片，试压合格", "复查无渗漏，同意销号", "李验收", "王整改",
                 "验收人（签字）", "整改后照片", "dangerState9", "是否超期验收"):
        assert word in text.replace(" ", ""), word
    # the page as a picture: the photo of the right stage is drawn (green after, no red before)
    png = tmp_path / "acceptance"
    import subprocess

    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", "-", str(png)], input=r.content,
                   check=True)
    pixels = Image.open(next(tmp_path.glob("acceptance*.png"))).convert("RGB")
    colours = {c for _, c in pixels.getcolors(1 << 20)}
    assert any(g > 130 and r < 80 and b < 80 for r, g, b in colours)
    assert not any(r > 170 and g < 60 and b < 60 for r, g, b in colours)
    # the notice still prints after acceptance
    assert _form(client, uid, "notice").status_code == 200


def test_long_texts_flow_and_bad_requests(world, tmp_path):
    client, heads, _ = world
    long_text = "；".join(f"第{i}条措施：检查并紧固全部法兰螺栓，记录扭矩" for i in range(90))
    h, tag = _post(client, "/api/hazards", heads["manager"], {"name": "长文本", "description": long_text[:4000]})
    h, tag = _post(client, f"/api/hazards/{h['id']}/confirm", heads["manager"], {}, tag)
    h, tag = _post(client, f"/api/hazards/{h['id']}/assign", heads["manager"],
                   {"rectifier": "王整改", "deadline": today().isoformat(),
                    "rectification_measures": long_text[:4000]}, tag)
    r = _form(client, h["id"], "notice")
    assert r.status_code == 200
    assert pdf_pages(r.content, tmp_path) >= 2
    text = pdftotext(r.content, tmp_path).replace("\n", "").replace(" ", "")
    assert "第89条措施" in text and "签发人" in text and "第2页/共" in text
    assert _form(client, "no-such-hazard", "notice").status_code == 404
    assert _form(client, "x" * 80, "acceptance").status_code == 404
    # an anonymous report awaiting confirmation is not printed for readers
    anon = client.post("/api/hazard-reports", params={"enterprise": ENT},
                       json={"description": "匿名", "unit_id": "u1"}).json()["hazard"]
    assert _form(client, anon["id"], "notice").status_code == 404
    assert _form(client, anon["id"], "notice", heads["manager"]).status_code == 409


def test_the_commands(tmp_path):
    url = f"sqlite:///{tmp_path / 'forms.db'}"
    store = open_store(url)
    store.save_layout(ENT, editing_layout())
    store.close()
    made = run("hazard", "report", "--name", "配电箱门未关", "--db", url, "--enterprise", ENT, "--json")
    import json

    uid = json.loads(made.stdout)["hazard"]["id"]
    one_line_error(run("hazard", "notice", uid, "-o", tmp_path / "n.pdf", "--db", url, "--enterprise", ENT,
                       check=False), "还不能出具隐患整改通知单")
    one_line_error(run("hazard", "notice", uid, "-o", tmp_path / "n.txt", "--db", url, "--enterprise", ENT,
                       check=False), ".pdf")
    one_line_error(run("hazard", "acceptance", "nope", "-o", tmp_path / "a.pdf", "--db", url, "--enterprise", ENT,
                       check=False), "nope")
    run("hazard", "confirm", uid, "--db", url, "--enterprise", ENT)
    run("hazard", "assign", uid, "--rectifier", "王整改", "--deadline", today().isoformat(), "--db", url,
        "--enterprise", ENT)
    out = run("hazard", "notice", uid, "-o", tmp_path / "n.pdf", "--db", url, "--enterprise", ENT)
    assert "n.pdf" in out.stdout
    assert "配电箱门未关" in pdftotext((tmp_path / "n.pdf").read_bytes(), tmp_path)
