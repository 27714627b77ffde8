"""Prints over HTTP: /print/poster.pdf|png|svg (with the web map's bbox link), /print/board.pdf,
/print/cards.pdf, /print/upload-image; bad options are 4xx with a Chinese message."""

from __future__ import annotations

import io
import re
import shutil
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from printkit import assert_fonts_embedded, decode_qr, demo_url, pdf_pages, pdftotext

from riskmap.api.app import create_app
from riskmap.links import unit_url
from riskmap.plant import load_plant
from riskmap.print.cards import select_units
from riskmap.settings import Settings
from riskmap.store import open_store

BASE = "https://riskmap.plant.example"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    return demo_url(tmp_path_factory)


@pytest.fixture(scope="module")
def client(url):
    with TestClient(create_app(Settings(db=url, base_url=BASE))) as c:
        yield c


@pytest.fixture(scope="module")
def plant(url):
    return load_plant(open_store(url), None)


def test_poster_pdf(client, plant, tmp_path):
    resp = client.get("/print/poster.pdf", params={"paper": "A4", "hatch": "true", "grid": "true"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["cache-control"] == "no-store"
    disposition = resp.headers["content-disposition"]
    assert disposition.startswith('inline; filename="poster.pdf"')
    assert plant.enterprise.name in unquote(disposition)
    assert resp.headers["x-riskmap-data-version"] == str(plant.data_version)
    text = pdftotext(resp.content, tmp_path)
    assert plant.enterprise.name in text and "安全风险四色分布图" in text
    assert_fonts_embedded(resp.content, tmp_path)


def test_print_this_view_link_of_the_web_map(client, plant, tmp_path):
    region = next(r for r in plant.regions if r.name == "罐区")
    w, s, e, n = region.geometry.bounds
    config = client.get("/api/map/config")
    if config.status_code == 200:
        assert config.json()["urls"]["print"] == "/print/poster.pdf"
    bbox = ",".join(f"{v:.7f}" for v in (w, s, e, n))
    resp = client.get("/print/poster.pdf", params={"bbox": bbox, "layers": "regions,layout,labels",
                                                   "enterprise": plant.enterprise.name})
    assert resp.status_code == 200, resp.text
    text = pdftotext(resp.content, tmp_path)
    assert "局部视图" in text and "罐区" in text and "停车场" not in text


def test_atlas_pdf(client, plant, tmp_path):
    resp = client.get("/print/poster.pdf", params={"atlas": "true", "paper": "A4"})
    assert resp.status_code == 200
    # contents, the plan, each region, then the other drawings: the office by storey, the workshop, the PFD
    assert pdf_pages(resp.content, tmp_path) == 2 + len(plant.regions) + 6
    last = pdftotext(resp.content, tmp_path, first=pdf_pages(resp.content, tmp_path))
    assert "合成装置工艺流程图" in last and "不按比例" in last
    contents = pdftotext(resp.content, tmp_path, first=1, last=1)
    assert "其他图纸 · 6 张" in contents and contents.index("办公楼一层平面图") < contents.index("办公楼三层平面图")


def test_poster_png_and_svg(client):
    resp = client.get("/print/poster.png", params={"paper": "A3", "dpi": 72})
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(resp.content))
    assert image.size == (1191, 842)                 # the demo plant is wider than tall: landscape by itself
    portrait = client.get("/print/poster.png", params={"paper": "A3", "dpi": 72, "landscape": "false"})
    assert Image.open(io.BytesIO(portrait.content)).size == (842, 1191)
    resp = client.get("/print/poster.svg", params={"paper": "A4", "landscape": "true"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(resp.content)
    assert root.get("width") == "841.89pt"


def test_board_pdf(client, plant, tmp_path):
    resp = client.get("/print/board.pdf", params={"grey": "true"})
    assert resp.status_code == 200
    text = pdftotext(resp.content, tmp_path)
    assert "安全风险公告栏" in text and plant.enterprise.supervision_phone in text
    assert_fonts_embedded(resp.content, tmp_path)


@pytest.mark.skipif(not shutil.which("zbarimg"), reason="zbarimg (zbar-tools) decodes the QR codes")
def test_cards_pdf_qr_uses_the_configured_base_url(client, plant, tmp_path):
    ids = [u.id for u in select_units(plant)[:2]]
    resp = client.get("/print/cards.pdf", params=[("unit", ids[0]), ("unit", ids[1]), ("per_sheet", "1")])
    assert resp.status_code == 200, resp.text
    assert pdf_pages(resp.content, tmp_path) == 2 and resp.headers["x-riskmap-qr-base"] == BASE
    assert "x-riskmap-warning" not in resp.headers
    assert sorted(decode_qr(resp.content, tmp_path)) == sorted(unit_url(BASE, u) for u in ids)


def _card_codes(url: str, tmp_path, unit_id: str, client_address: str, headers: dict | None = None,
                **settings) -> tuple[list[str], object]:
    app = create_app(Settings(db=url, **settings))
    with TestClient(app, base_url="http://riskmap.plant:8080", client=(client_address, 40000)) as c:
        resp = c.get("/print/cards.pdf", params={"unit": unit_id}, headers=headers or {})
    assert resp.status_code == 200, resp.text
    return decode_qr(resp.content, tmp_path), resp


@pytest.mark.skipif(not shutil.which("zbarimg"), reason="zbarimg (zbar-tools) decodes the QR codes")
def test_cards_over_http_point_to_the_address_the_request_came_to(url, plant, tmp_path):
    """Without RISKMAP_BASE_URL: the request's Host; forwarded headers only from a trusted proxy."""
    uid = select_units(plant)[0].id
    codes, resp = _card_codes(url, tmp_path, uid, "192.0.2.7")
    assert codes == [f"http://riskmap.plant:8080/u/{uid}"] and "x-riskmap-warning" not in resp.headers
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "map.plant.example", "X-Forwarded-Prefix": "/rm"}
    codes, _ = _card_codes(url, tmp_path, uid, "127.0.0.1", forwarded)               # loopback proxy: trusted
    assert codes == [f"https://map.plant.example/rm/u/{uid}"]
    codes, _ = _card_codes(url, tmp_path, uid, "192.0.2.7", forwarded)               # anyone else: ignored
    assert codes == [f"http://riskmap.plant:8080/u/{uid}"]
    codes, _ = _card_codes(url, tmp_path, uid, "10.1.2.3", {"Forwarded": 'for=1.2.3.4;proto=https;host="a.b.example"'},
                           trusted_proxies="10.0.0.0/8")
    assert codes == [f"https://a.b.example/u/{uid}"]
    codes, _ = _card_codes(url, tmp_path, uid, "10.1.2.3", forwarded, base_url="https://set.example/x")
    assert codes == [f"https://set.example/x/u/{uid}"]                               # the setting wins
    # a card printed through a loopback address says so, on the card and in a header
    codes, resp = _card_codes(url, tmp_path, uid, "127.0.0.1", {"Host": "127.0.0.1:8000"})
    assert codes == [f"http://127.0.0.1:8000/u/{uid}"] and "loopback" in resp.headers["x-riskmap-warning"]
    assert "本机地址" in pdftotext(resp.content, tmp_path)
    bad = create_app(Settings(db=url))
    with TestClient(bad, client=("127.0.0.1", 1)) as c:
        resp = c.get("/print/cards.pdf", params={"unit": uid}, headers={"X-Forwarded-Host": "a b<c>"})
    assert resp.status_code == 422 and "RISKMAP_BASE_URL" in resp.json()["detail"]


def test_upload_image_forms(client):
    resp = client.get("/print/upload-image")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert len(resp.content) <= 5_000_000 and Image.open(io.BytesIO(resp.content)).format == "PNG"
    resp = client.get("/print/upload-image", params={"format": "dataurl"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert resp.text.startswith("data:image/png;base64,") and len(resp.text) <= 5_000_000
    resp = client.get("/print/upload-image", params={"format": "jpeg"})
    assert resp.status_code == 200 and Image.open(io.BytesIO(resp.content)).format == "JPEG"


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/print/poster.pdf", {"paper": "A9"}, 422),
    ("/print/poster.pdf", {"scale": 100}, 422),
    ("/print/poster.pdf", {"scale": 0}, 422),
    ("/print/poster.pdf", {"region": "没有这个区域"}, 404),
    ("/print/poster.pdf", {"bbox": "1,2,3"}, 422),
    ("/print/poster.pdf", {"bbox": "0,0,1,1"}, 422),
    ("/print/poster.pdf", {"atlas": "true", "region": "罐区"}, 422),
    ("/print/poster.pdf", {"method": "median"}, 422),
    ("/print/poster.pdf", {"enterprise": "<script>不存在</script>"}, 404),
    ("/print/poster.png", {"dpi": 1000}, 422),
    ("/print/board.pdf", {"paper": "A0"}, 422),
    ("/print/board.pdf", {"validity_months": 0}, 422),
    ("/print/cards.pdf", {"per_sheet": 3}, 422),
    ("/print/cards.pdf", {"unit": "没有这个单元"}, 404),
    ("/print/cards.pdf", {"paper": "A3"}, 422),
    ("/print/upload-image", {"format": "gif"}, 422),
    ("/print/poster.pdf", {"layers": "regions,basemap"}, 422),
    ("/print/poster.pdf", {"layers": "labels"}, 422),
    ("/print/poster.pdf", {"layers": "regions", "units": "true"}, 422),
    ("/print/poster.pdf", {"landscape": "sideways"}, 422),
])
def test_bad_options_are_4xx_in_chinese(client, path, params, status):
    resp = client.get(path, params=params)
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert re.search(r"[\u4e00-\u9fff]", detail), detail


def test_scale_refusal_says_what_would_fit(client):
    detail = client.get("/print/poster.pdf", params={"scale": 100, "paper": "A4"}).json()["detail"]
    assert "1:100" in detail and re.search(r"请用 1:\d+", detail)


def test_openapi_lists_the_print_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/print/poster.pdf", "/print/poster.png", "/print/poster.svg", "/print/board.pdf",
                 "/print/cards.pdf", "/print/upload-image"):
        assert path in paths


def test_a_print_is_reused_until_the_data_changes(url, tmp_path, editor_token):
    """Made once per data version: the same request gets the same bytes; an edit makes a new print."""
    import sqlite3

    copy = tmp_path / "copy.db"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with TestClient(create_app(Settings(db=f"sqlite:///{copy}", base_url=BASE))) as c:
        first = c.get("/print/board.pdf")
        again = c.get("/print/board.pdf")
        assert first.status_code == again.status_code == 200
        assert first.content == again.content
        version = int(first.headers["x-riskmap-data-version"])
        unit = next(u for u in select_units(load_plant(open_store(f"sqlite:///{copy}"), None))
                    if u.level() is not None and u.level().rank < 3)
        edit = c.patch(f"/api/units/{unit.id}", json={"override": {"level": "major", "reason": "测试：强制重大"}},
                       headers=editor_token(f"sqlite:///{copy}"))
        assert edit.status_code == 200, edit.text
        after = c.get("/print/board.pdf")
        assert int(after.headers["x-riskmap-data-version"]) > version
        assert after.content != first.content
        assert "测试：强制重大" in pdftotext(after.content, tmp_path)
