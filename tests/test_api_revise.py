"""POST /api/layout/revise: the diff over HTTP, applied only with confirm=true and the base version; hostile uploads."""

from __future__ import annotations

import io
import zipfile

import pytest
from clikit import counts
from fastapi.testclient import TestClient
from plants import revise_demo_dxf

from riskmap.api.app import create_app
from riskmap.paths import demo_dir
from riskmap.settings import Settings
from riskmap.store import open_store, tokens

URL = "/api/layout/revise"


def bilingual(text: str) -> bool:
    return "/ " in text and any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.fixture
def site(store_url, tmp_path):
    """The demo plant, an app on it, an editor and a reader token, the revised drawing's bytes."""
    from riskmap.demo import load_demo

    load_demo(Settings(db=store_url))
    store = open_store(store_url)
    editor, _ = tokens.create_token(store, "editor", "张工")
    reader, _ = tokens.create_token(store, "reader", "访客")
    revise_demo_dxf(tmp_path / "revised.dxf")
    files = {"drawing": (tmp_path / "revised.dxf").read_bytes(),
             "points": (demo_dir() / "control_points.csv").read_bytes()}
    with TestClient(create_app(Settings(db=store_url, max_upload_mb=5))) as client:
        yield client, store_url, {"editor": editor, "reader": reader}, files
    store.close()


def post(client, token, files, data=None, name="revised.dxf", params=None, headers=None):
    upload = {"file": (name, files["drawing"], "application/dxf")}
    if "points" in files:
        upload["control_points"] = ("control_points.csv", files["points"], "text/csv")
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(URL, files=upload, data=data or {}, params=params, headers=headers)


def test_diff_then_confirm(site):
    client, url, tok, files = site
    before = counts(url)
    r = post(client, tok["editor"], files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["applied"] is False and body["base_version"] == 1 and body["source"] == "revised.dxf"
    assert body["diff"]["counts"]["added"] == 1 and body["diff"]["counts"]["removed"] == 1
    assert {row["fid"] for row in body["diff"]["features"] if row["status"] == "removed"} == {"EF"}
    assert counts(url) == before

    r = post(client, tok["editor"], files, data={"confirm": "true", "base_version": "1", "reason": "技改"})
    assert r.status_code == 200, r.text
    done = r.json()
    # layout version numbers run across every drawing of the enterprise (the demo's floor plans took some)
    assert done["applied"] is True and done["layout_version"] > 1 and isinstance(done["flags_raised"], list)
    assert counts(url)["layout_versions"] == before["layout_versions"] + 1
    history = client.get("/api/history", params={"limit": 1}).json()
    latest = history["items"][0]
    assert latest["action"] == "layout.revise" and latest["author"] == "张工" and latest["reason"] == "技改"

    # the same confirmation again names a version that is no longer current
    again = post(client, tok["editor"], files, params={"confirm": "true", "base_version": "1"})
    assert again.status_code == 409 and bilingual(again.json()["detail"])
    assert counts(url)["layout_versions"] == before["layout_versions"] + 1
    # and the drawing now matches the layout exactly
    same = post(client, tok["editor"], files).json()
    assert same["base_version"] == done["layout_version"] and same["diff"]["features"] == []


def test_editor_token_required(site):
    client, url, tok, files = site
    before = counts(url)
    assert post(client, None, files).status_code == 401
    assert post(client, "rmk_" + "x" * 32, files).status_code == 401
    assert post(client, tok["reader"], files, data={"confirm": "true", "base_version": "1"}).status_code == 403
    from riskmap.store import tokens as t

    store = open_store(url)
    t.revoke_token(store, "张工")
    store.close()
    r = post(client, tok["editor"], files, data={"confirm": "true", "base_version": "1"})
    assert r.status_code == 401 and bilingual(r.json()["detail"])
    assert counts(url) == before


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("plan.geojson", b" " * (60 * 1024 * 1024))
    return buf.getvalue()


@pytest.mark.parametrize("case", ["garbage", "empty", "text", "bomb", "traversal", "unknown_field", "bad_bool",
                                  "confirm_no_base", "bad_base", "bad_rms", "field_as_file", "no_file"])
def test_hostile_uploads_are_4xx(site, case):
    client, url, tok, files = site
    before = counts(url)
    auth = {"Authorization": f"Bearer {tok['editor']}"}
    if case == "no_file":
        r = client.post(URL, data={"crs": "EPSG:4549"}, files={"layer_map": ("m.yaml", b"x: 1", "text/yaml")},
                        headers=auth)
    elif case == "field_as_file":
        r = client.post(URL, files={"file": ("a.dxf", files["drawing"]), "reason": ("r.txt", b"why")}, headers=auth)
    else:
        drawing, name, data = files["drawing"], "revised.dxf", {}
        if case == "garbage":
            drawing = b"0\nSECTION\n2\nENTITIES\n0\nCIRCLE\n10\nabc\n" * 50
        elif case == "empty":
            drawing = b""
        elif case == "text":
            drawing, name = "不是图纸".encode() * 100, "notes.txt"
        elif case == "bomb":
            drawing, name = _zip_bomb(), "plan.zip"
        elif case == "traversal":
            name = "../../../../etc/passwd.dxf"
        elif case == "unknown_field":
            data = {"sql": "drop table units"}
        elif case == "bad_bool":
            data = {"confirm": "maybe"}
        elif case == "confirm_no_base":
            data = {"confirm": "true"}
        elif case == "bad_base":
            data = {"confirm": "true", "base_version": "one"}
        elif case == "bad_rms":
            data = {"max_rms": "-1"}
        r = post(client, tok["editor"], {**files, "drawing": drawing}, data=data, name=name)
        if case == "traversal":       # the name is reduced to its base name: a normal diff, nothing written
            assert r.status_code == 200 and r.json()["source"] == "passwd.dxf"
            assert counts(url) == before
            return
    assert 400 <= r.status_code < 500 and r.status_code not in (401, 403), (case, r.status_code, r.text)
    assert bilingual(r.json()["detail"]), r.text
    assert counts(url) == before


def test_size_and_shape_of_the_request(site):
    client, url, tok, files = site
    auth = {"Authorization": f"Bearer {tok['editor']}"}
    big = post(client, tok["editor"], {**files, "drawing": b"0\n" * (3 * 1024 * 1024)})
    assert big.status_code == 413 and bilingual(big.json()["detail"])
    raw = client.post(URL, content=files["drawing"], headers={**auth, "Content-Type": "application/dxf"})
    assert raw.status_code == 415 and bilingual(raw.json()["detail"])
    broken = client.post(URL, content=b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.dxf\""
                                      b"\r\n\r\n0\nSECTION", headers={**auth, "Content-Type":
                                                                      "multipart/form-data; boundary=xyz"})
    assert 400 <= broken.status_code < 500 and bilingual(broken.json()["detail"])


def test_no_layout_yet(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store = open_store(url)
    store.enterprise("default")
    editor, _ = tokens.create_token(store, "editor", "张工")
    with TestClient(create_app(Settings(db=url))) as client:
        r = post(client, editor, {"drawing": (demo_dir() / "plant.dxf").read_bytes(),
                                  "points": (demo_dir() / "control_points.csv").read_bytes()})
    assert r.status_code == 422 and "先导入" in r.json()["detail"]
    store.close()
