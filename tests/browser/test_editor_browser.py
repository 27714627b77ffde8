"""The layout editor (/edit) in Chromium: read-only without signing in, drawing a polygon with the mouse and saving
it, attaching a unit that colours it, a conflict with a second client, a disabled account, and hostile names as
text. The page signs in at /login (a person with the editor role); the second client uses that person's token."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

HOSTILE = "<img src=x onerror=alert(1)>"
PASSWORD = "browser-test-pw"
_LOGINS: dict[str, str] = {}       # token → the login of its person


def _token(server, name: str = "浏览器测试") -> str:
    """A person with the editor role (who signs in at /login) and an API token of theirs (for the second client)."""
    import uuid

    from riskmap.plant import resolve_enterprise
    from riskmap.store import accounts, open_store, tokens

    store = open_store(server.db_url)
    try:
        login = f"b-{uuid.uuid4().hex[:10]}"
        made = accounts.create_account(store, resolve_enterprise(store, None), name=name, login=login,
                                       password=PASSWORD, roles=["editor"])
        token = tokens.create_token(store, "editor", name, account_id=made["id"])[0]
        _LOGINS[token] = login
        return token
    finally:
        store.close()


def _disable(server, token: str) -> None:
    from riskmap.plant import resolve_enterprise
    from riskmap.store import accounts, open_store

    store = open_store(server.db_url)
    try:
        accounts.set_disabled(store, resolve_enterprise(store, None), _LOGINS[token], True)
    finally:
        store.close()


def sign_in(page, server, login: str, password: str = PASSWORD, path: str = "/edit") -> None:
    """Sign in on the /login page as a person does, and land on `path`."""
    page.goto(server.origin + "/login?next=" + path, wait_until="load")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(server.origin + path, timeout=30000)


def _http(server, method: str, path: str, body=None, headers=None) -> tuple[int, dict, object]:
    """A second client: plain urllib against the same server."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.origin + path, data=data, method=method, headers=headers or {})
    if body is not None:
        req.add_header("Content-Type", "application/geo+json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
            return resp.status, dict(resp.headers), json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        return err.code, dict(err.headers), json.loads(text) if text else None


def _open_editor(open_page, server, token: str | None = None, path: str = "/edit"):
    """The editor page, signed in as the person of `token` (made by _token); waits until its view is loaded."""
    page, log = open_page(server, "/healthz", wait_idle=False)
    if token:
        sign_in(page, server, _LOGINS[token], path=path)
    else:
        page.goto(server.origin + path, wait_until="load")
    _wait_editor(page)
    return page, log


def _reload(page, log) -> None:
    """Reload the page; requests still in flight are cancelled by the browser (the test's doing, not a failure)."""
    before = len(log.failed)
    page.reload(wait_until="load")
    log.failed[before:] = [f for f in log.failed[before:] if not f.endswith("net::ERR_ABORTED")]


def _wait_editor(page) -> None:
    page.wait_for_function("window.riskEditor && window.riskEditor.ready", timeout=30000)
    page.evaluate("window.riskEditor.ready")
    # after an edit every backdrop tile of the view is drawn afresh: on two loaded cores that can pass 30 s
    page.wait_for_load_state("networkidle", timeout=90000)


def _keep(page, name: str) -> None:
    """A screenshot for a person to look at, when RISKMAP_SHOTS names a folder."""
    folder = os.environ.get("RISKMAP_SHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name + ".png"))


def _palette() -> dict[str, str]:
    from riskmap.levels import load_palette

    return {lv.value: style.fill.upper() for lv, style in load_palette().styles.items()}


def _empty_spot(page) -> dict:
    """A free square left of the plant (inside the editing margin), in page pixels."""
    return page.evaluate("""() => {
        const ed = window.riskEditor, map = ed.map, b = ed.config.bounds;
        const box = map.getContainer().getBoundingClientRect();
        const west = map.latLngToContainerPoint([(b[1] + b[3]) / 2, b[0]]);
        const x = Math.max(60, west.x - 110) + box.left, y = west.y + box.top;
        return {x: x, y: y, size: 50};
    }""")


def _draw_square(page, spot) -> None:
    x, y, d = spot["x"], spot["y"], spot["size"]
    corners = [(x, y), (x + d, y), (x + d, y + d), (x, y + d)]
    for cx, cy in corners:
        page.mouse.move(cx, cy)
        page.mouse.click(cx, cy)
        page.wait_for_timeout(80)
    page.mouse.click(*corners[0])          # clicking the first vertex closes the polygon
    page.wait_for_timeout(200)


def test_editor_without_signing_in_is_read_only_and_clean(demo_server, open_page):
    page, log = _open_editor(open_page, demo_server)
    assert log.problems() == []
    assert page.locator(".editor-signin").count() == 1 and "/login" in page.get_attribute(".editor-signin", "href")
    _keep(page, "editor-read-only")
    for tool in (".editor-tools", ".editor-save-button", ".editor-draw-polygon", ".leaflet-pm-toolbar"):
        assert page.locator(tool).count() == 0, tool
    shown = page.evaluate("document.querySelectorAll('#editor-map path[data-fid], #editor-map [data-fid]').length")
    assert shown > 20
    # A click selects a feature for reading: no vertex handles without a token.
    page.evaluate("(() => { const ed = window.riskEditor; return ed.select(Object.keys(ed.records)[0]); })()")
    assert page.locator(".marker-icon").count() == 0
    assert page.locator(".editor-name").count() == 0 and page.locator(".editor-fid").count() == 1
    # Zoomed out: nothing to edit, and the page says why.
    page.evaluate("window.riskEditor.map.setZoom(13, {animate: false})")
    page.wait_for_function("!document.querySelector('.editor-zoom').hidden")
    assert "16" in page.locator(".editor-zoom").inner_text()
    assert page.evaluate("Object.keys(window.riskEditor.records).length") == 0
    assert log.problems(moved=True) == []


def test_draw_save_reload_coloured_by_its_unit(fresh_server, open_page, tmp_path):
    """The issue's browser test: draw a polygon with the mouse, save it, attach a unit of a known level, reload:
    the feature is there, with the level's palette colour (editor style and the region tiles beneath)."""
    token = _token(fresh_server)
    page, log = _open_editor(open_page, fresh_server, token)
    assert page.locator(".editor-tools").count() == 1
    assert "浏览器测试" in page.locator(".editor-token").inner_text()
    before = page.evaluate("Object.keys(window.riskEditor.records).length")

    page.select_option(".editor-new-role", "region")
    page.click(".editor-draw-polygon")
    _draw_square(page, _empty_spot(page))
    assert page.evaluate("window.riskEditor.pendingRecords().length") == 1
    page.fill(".editor-name", HOSTILE)
    page.fill(".editor-why", "浏览器测试：新增区域")
    page.click(".editor-save-button")
    page.wait_for_function("document.querySelector('.editor-status').classList.contains('editor-ok')", timeout=30000)
    fid = page.locator(".editor-fid").inner_text()
    assert fid and page.evaluate("window.riskEditor.pendingRecords().length") == 0

    status, _, item = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{fid}")
    assert status == 200 and item["properties"]["name"] == HOSTILE and item["properties"]["role"] == "region"

    # Attach a unit whose level is known: search by its name, click attach.
    status, _, units = _http(fresh_server, "GET", "/ogc/collections/units/items?limit=500")
    unit = next(f for f in units["features"] if f["properties"]["level"] == "significant"
                and f["properties"]["kind"] != "sub")
    page.fill(".editor-unit-search", unit["properties"]["name"])
    page.wait_for_selector(".editor-unit-results .editor-attach", timeout=10000)
    page.locator(".editor-unit-results li", has_text=unit["id"]).locator(".editor-attach").click()
    page.wait_for_selector(f".editor-attached li[data-unit-id='{unit['id']}']", timeout=30000)

    _reload(page, log)
    _wait_editor(page)
    path = page.locator(f"#editor-map path[data-fid='{fid}']")
    assert path.count() == 1
    assert path.get_attribute("data-level") == "significant"
    # the editor's shape has no colour of its own (a transparent fill): the colour is the tiles' below it
    assert path.get_attribute("fill-opacity") == "0"
    # The region tiles under it draw the same level: hide the editor's shapes and read a pixel inside it, 8 px
    # from its lower left corner (clear of the outline, and of the label at its centre).
    centre = page.evaluate("""(fid) => {
        const ed = window.riskEditor, layer = ed.records[fid].layer, map = ed.map;
        const p = map.latLngToContainerPoint(layer.getBounds().getSouthWest()).add([8, -8]);
        const box = map.getContainer().getBoundingClientRect();
        map.removeLayer(ed.features);
        return [Math.round(p.x + box.left), Math.round(p.y + box.top)];
    }""", fid)
    page.wait_for_load_state("networkidle")
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    shot = tmp_path / "editor.png"
    page.screenshot(path=str(shot))
    _keep(page, "editor-saved-region-tiles")
    from PIL import Image

    from riskmap.render.style import load_layer_style

    # the attached unit is drawn on the region's shape by the units tiles, over the region's tint: its colour
    cls = load_layer_style("units").class_of("significant")
    want = [int(cls.fill[i:i + 2], 16) for i in (1, 3, 5)]          # opaque: the colour itself, never blended
    got = Image.open(shot).convert("RGB").getpixel(tuple(centre))
    assert all(abs(g - w) <= 6 for g, w in zip(got, want, strict=True)), (got, want)
    assert page.evaluate("Object.keys(window.riskEditor.records).length") >= before + 1
    assert not page.evaluate("[...document.querySelectorAll('img')].some(i => i.getAttribute('src') === 'x')")
    assert log.problems(moved=True) == []


def test_a_stale_save_shows_the_other_version(fresh_server, open_page):
    token = _token(fresh_server, "甲")
    other = _token(fresh_server, "乙")
    page, log = _open_editor(open_page, fresh_server, token)
    fid = page.evaluate("""() => {
        const ed = window.riskEditor;
        return Object.keys(ed.records).find(k => ed.records[k].props.role === 'region');
    }""")
    page.evaluate("(fid) => window.riskEditor.select(fid)", fid)
    page.wait_for_function("(fid) => window.riskEditor.records[fid].etag", arg=fid)

    # Meanwhile a second client renames it.
    status, headers, item = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{fid}")
    item["properties"]["name"] = "乙改的名字"
    item["properties"].pop("role_zh", None)
    item["properties"].pop("edit_tag", None)
    status, _, _ = _http(fresh_server, "PUT", f"/ogc/collections/layout/items/{fid}?reason=%E4%B9%99", item,
                         {"Authorization": f"Bearer {other}", "If-Match": headers["etag"]})
    assert status == 200

    page.fill(".editor-name", "甲改的名字")
    page.click(".editor-save-button")
    page.wait_for_selector(".editor-conflict", timeout=30000)
    text = page.locator(".editor-conflict").inner_text()
    assert "乙" in text and "修改冲突" in text
    assert page.evaluate("window.riskEditor.others.getLayers().length") == 1     # their version, drawn
    _keep(page, "editor-conflict")
    page.click(".editor-reapply")
    page.wait_for_function("document.querySelector('.editor-status').classList.contains('editor-ok')", timeout=30000)
    status, _, item = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{fid}")
    assert item["properties"]["name"] == "甲改的名字"
    # The 412 itself is the only failed request.
    assert [p for p in log.problems() if "412" not in p and "Precondition" not in p] == []


def test_a_disabled_account_takes_the_tools_away(fresh_server, open_page):
    token = _token(fresh_server, "已停用")
    page, log = _open_editor(open_page, fresh_server, token)
    assert page.locator(".editor-tools").count() == 1
    _disable(fresh_server, token)
    _reload(page, log)
    _wait_editor(page)
    _keep(page, "editor-disabled")
    assert page.locator(".editor-tools").count() == 0 and page.locator(".editor-signin").count() == 1
    assert [p for p in log.problems() if "/api/auth/me" not in p and "401" not in p] == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_hostile_feature_name_is_shown_as_text(fresh_server, open_page, lang):
    token = _token(fresh_server)
    status, headers, item = _http(fresh_server, "GET", "/ogc/collections/layout/items?limit=1&role=region")
    fid = item["features"][0]["id"]
    status, headers, item = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{fid}")
    status, _, _ = _http(fresh_server, "PATCH", f"/ogc/collections/layout/items/{fid}",
                         {"properties": {"name": HOSTILE}},
                         {"Authorization": f"Bearer {token}", "If-Match": headers["etag"]})
    assert status == 200
    page, log = _open_editor(open_page, fresh_server, None, f"/edit?lang={lang}")
    page.evaluate("(fid) => window.riskEditor.select(fid)", fid)
    assert page.locator(".editor-name-text").inner_text() == HOSTILE
    assert not page.evaluate("[...document.querySelectorAll('img')].some(i => i.getAttribute('src') === 'x')")
    assert log.problems() == [] and log.dialogs == []


def test_split_with_a_drawn_line_then_merge_back(fresh_server, open_page):
    token = _token(fresh_server)
    page, log = _open_editor(open_page, fresh_server, token)
    total = _http(fresh_server, "GET", "/ogc/collections/layout/items?limit=1")[2]["numberMatched"]
    # The largest region on screen, and a horizontal line through its middle from edge to edge (and beyond).
    target = page.evaluate("""() => {
        const ed = window.riskEditor, map = ed.map, box = map.getContainer().getBoundingClientRect();
        let best = null;
        for (const key of Object.keys(ed.records)) {
            const r = ed.records[key];
            if (r.props.role !== 'region' || r.geometryType !== 'Polygon') continue;
            const b = r.layer.getBounds();
            const sw = map.latLngToContainerPoint(b.getSouthWest()), ne = map.latLngToContainerPoint(b.getNorthEast());
            const area = (ne.x - sw.x) * (sw.y - ne.y);
            if (!best || area > best.area) best = {key, area, sw, ne};
        }
        const c = ed.records[best.key].layer.getCenter();
        const p = map.latLngToContainerPoint(c);
        return {fid: best.key, y: p.y + box.top + 7, x0: best.sw.x + box.left - 12, x1: best.ne.x + box.left + 12,
                name: ed.records[best.key].props.name};
    }""")
    page.evaluate("(fid) => window.riskEditor.select(fid)", target["fid"])
    page.wait_for_function("(fid) => window.riskEditor.records[fid].etag", arg=target["fid"])
    page.fill(".editor-why", "分割测试")
    page.click(".editor-split")
    for x in (target["x0"], target["x1"], target["x1"]):      # the last vertex clicked again ends the line
        page.mouse.click(x, target["y"])
        page.wait_for_timeout(150)
    page.wait_for_function("document.querySelector('.editor-status').textContent.includes('已分割')", timeout=30000)
    after = _http(fresh_server, "GET", "/ogc/collections/layout/items?limit=1000")[2]
    assert after["numberMatched"] == total + 1
    piece = next(f for f in after["features"] if f["properties"]["name"] == f"{target['name'] or target['fid']}（2）")
    page.wait_for_selector(f"#editor-map path[data-fid='{piece['id']}']")

    # Merge: the original selected, the merge tool, a click on the new piece.
    page.evaluate("(fid) => window.riskEditor.select(fid)", target["fid"])
    page.wait_for_function("(fid) => window.riskEditor.records[fid].etag", arg=target["fid"])
    page.click(".editor-merge")
    centre = page.evaluate("""(fid) => {
        const ed = window.riskEditor, map = ed.map, box = map.getContainer().getBoundingClientRect();
        const p = map.latLngToContainerPoint(ed.records[fid].layer.getCenter());
        return [p.x + box.left, p.y + box.top];
    }""", piece["id"])
    page.mouse.click(*centre)
    page.wait_for_function("document.querySelector('.editor-status').textContent.includes('已合并')", timeout=30000)
    merged = _http(fresh_server, "GET", "/ogc/collections/layout/items?limit=1")[2]
    assert merged["numberMatched"] == total
    assert _http(fresh_server, "GET", f"/ogc/collections/layout/items/{piece['id']}")[0] == 404
    history = _http(fresh_server, "GET", "/api/history?limit=5")[2]
    reasons = json.dumps(history, ensure_ascii=False)
    assert "分割测试" in reasons
    assert log.problems(moved=True) == []


def test_sign_in_from_the_page_then_reshape_a_vertex_and_move_an_equipment_point(fresh_server, open_page):
    token = _token(fresh_server, "表单")
    page, log = _open_editor(open_page, fresh_server)
    page.click(".editor-signin")                         # the read-only page's link to /login, back to /edit
    page.fill("#login", _LOGINS[token])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(fresh_server.origin + "/edit", timeout=30000)
    _wait_editor(page)
    page.wait_for_selector(".editor-tools", timeout=10000)
    _reload(page, log)                                  # the session lasts: signed in once
    _wait_editor(page)
    assert page.locator(".editor-tools").count() == 1 and page.locator(".editor-signin").count() == 0

    # Reshape: drag one vertex handle of a region by 20 px.
    fid = page.evaluate("""() => {
        const ed = window.riskEditor;
        return Object.keys(ed.records).find(k => ed.records[k].props.role === 'region');
    }""")
    before = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{fid}")[2]["geometry"]
    page.evaluate("(fid) => window.riskEditor.select(fid)", fid)
    page.wait_for_function("(fid) => window.riskEditor.records[fid].etag", arg=fid)
    handle = page.locator(".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)").first
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 10, y + 5, steps=4)
    page.mouse.move(x - 20, y + 10, steps=4)
    page.mouse.up()
    page.wait_for_function("window.riskEditor.pendingRecords().length === 1")

    # An equipment point placed, then moved.
    spot = _empty_spot(page)
    page.click(".editor-draw-point")
    page.mouse.click(spot["x"], spot["y"])
    page.wait_for_function("window.riskEditor.pendingRecords().length === 2")
    page.fill(".editor-why", "改造")
    page.click(".editor-save-button")
    page.wait_for_function("document.querySelector('.editor-status').classList.contains('editor-ok')", timeout=30000)
    after = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{fid}")[2]["geometry"]
    assert after != before
    point_fid = page.locator(".editor-fid").inner_text()
    point = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{point_fid}")[2]
    assert point["geometry"]["type"] == "Point" and point["properties"]["role"] == "equipment"

    page.evaluate("(fid) => window.riskEditor.select(fid)", point_fid)
    page.wait_for_function("(fid) => window.riskEditor.records[fid].etag", arg=point_fid)
    icon = page.locator(f".leaflet-marker-icon[data-fid='{point_fid}']")
    box = icon.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 15, y + 5, steps=4)
    page.mouse.move(x + 30, y + 10, steps=4)
    page.mouse.up()
    page.wait_for_function("window.riskEditor.pendingRecords().length === 1")
    page.click(".editor-save-button")
    page.wait_for_function("window.riskEditor.pendingRecords().length === 0", timeout=30000)
    moved = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{point_fid}")[2]["geometry"]["coordinates"]
    assert moved[0] > point["geometry"]["coordinates"][0] and moved[1] < point["geometry"]["coordinates"][1]
    _keep(page, "editor-point-moved")
    assert log.problems(moved=True) == []


def test_a_refused_geometry_says_why_and_stays_pending(fresh_server, open_page):
    """A polygon drawn far outside the plant: the API's 422 reaches the user, the drawing is kept to fix."""
    token = _token(fresh_server)
    total = _http(fresh_server, "GET", "/ogc/collections/layout/items?limit=1")[2]["numberMatched"]
    page, log = _open_editor(open_page, fresh_server, token)
    page.evaluate("window.riskEditor.map.panBy([-900, 0], {animate: false})")
    page.wait_for_load_state("networkidle")
    page.click(".editor-draw-rectangle")
    page.mouse.click(300, 300)
    page.wait_for_timeout(100)
    page.mouse.click(360, 360)
    page.wait_for_function("window.riskEditor.pendingRecords().length === 1")
    page.click(".editor-save-button")
    page.wait_for_function("document.querySelector('.editor-status').textContent.includes('超出厂区范围')",
                           timeout=30000)
    assert page.evaluate("window.riskEditor.pendingRecords().length") == 1
    assert _http(fresh_server, "GET", "/ogc/collections/layout/items?limit=1")[2]["numberMatched"] == total
    # The refusal (422) is the only failed request.
    assert [p for p in log.problems(moved=True) if "422" not in p and "Unprocessable" not in p] == []


def test_detach_a_unit_then_delete_the_area(fresh_server, open_page):
    token = _token(fresh_server)
    page, log = _open_editor(open_page, fresh_server, token)
    page.evaluate("window.riskEditor.select('C0')")
    page.wait_for_function("window.riskEditor.records['C0'].etag")
    page.wait_for_selector(".editor-attached li[data-unit-id='SC-01'] .editor-detach")
    page.fill(".editor-why", "拆除")
    page.click(".editor-attached li[data-unit-id='SC-01'] .editor-detach")
    page.wait_for_function("document.querySelector('.editor-status').classList.contains('editor-ok')", timeout=30000)
    unit = _http(fresh_server, "GET", "/ogc/collections/units/items/SC-01")[2]
    assert unit["properties"]["feature_ref"] is None

    page.evaluate("window.riskEditor.select('C0')")
    page.wait_for_function("window.riskEditor.records['C0'].etag")
    assert page.locator(".editor-attached li[data-unit-id]").count() == 0
    page.click(".editor-delete")
    assert page.locator("#editor-map path[data-fid='C0']").count() == 0
    page.click(".editor-save-button")
    page.wait_for_function("document.querySelector('.editor-status').classList.contains('editor-ok')", timeout=30000)
    assert _http(fresh_server, "GET", "/ogc/collections/layout/items/C0")[0] == 404
    history = json.dumps(_http(fresh_server, "GET", "/api/history?limit=5")[2], ensure_ascii=False)
    assert "拆除" in history
    assert log.problems() == []


def test_draw_an_escape_route_in_its_direction_and_a_hydrant(fresh_server, open_page):
    """The role list offers the emergency roles; a line drawn with 疏散路线 chosen is stored as an escape route in
    the order it was drawn (its direction of travel), a point with 消火栓 chosen as a hydrant."""
    token = _token(fresh_server)
    page, log = _open_editor(open_page, fresh_server, token)
    spot = _empty_spot(page)
    page.select_option(".editor-new-role", "escape_route")
    page.click(".editor-draw-line")
    x, y = spot["x"], spot["y"]
    for px in (x, x + 40, x + 40):                          # west → east; the last vertex clicked again ends it
        page.mouse.click(px, y)
        page.wait_for_timeout(150)
    page.wait_for_function("window.riskEditor.pendingRecords().length === 1")
    page.select_option(".editor-new-role", "fire_hydrant")
    page.click(".editor-draw-point")
    page.mouse.click(x + 20, y + 40)
    page.wait_for_function("window.riskEditor.pendingRecords().length === 2")
    page.fill(".editor-why", "应急设施")
    page.click(".editor-save-button")
    page.wait_for_function("window.riskEditor.pendingRecords().length === 0", timeout=30000)
    items = _http(fresh_server, "GET", "/ogc/collections/layout/items?role=escape_route,fire_hydrant&limit=1000")[2]
    routes = [f for f in items["features"] if f["properties"]["role"] == "escape_route"
              and f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) == 2]
    new_route = [f for f in routes if f["geometry"]["coordinates"][0][0] < f["geometry"]["coordinates"][1][0]
                 and abs(f["geometry"]["coordinates"][0][1] - f["geometry"]["coordinates"][1][1]) < 1e-6]
    assert len(new_route) == 1                              # drawn west to east, stored west to east
    assert sum(f["properties"]["role"] == "fire_hydrant" for f in items["features"]) == 7   # the demo's 6 + 1
    assert log.problems(moved=True) == []


def test_a_storey_is_edited_in_its_own_editor(fresh_server, open_page):
    """Issue 19: the editor per drawing. A room drawn on 办公楼-2F is saved as a version of that storey only; its
    backdrop is that storey's tiles, and a unit's place there is the ledger's (no attach on a drawing)."""
    from urllib.parse import quote

    key = "办公楼-2F"
    token = _token(fresh_server)
    page, log = _open_editor(open_page, fresh_server, token, path="/edit?drawing=" + quote(key))
    assert page.evaluate("window.riskEditor.config.drawing.key") == key
    assert key in page.locator(".editor-drawing").inner_text() or "2F" in page.locator(".editor-drawing").inner_text()
    tiles = page.evaluate("[...document.querySelectorAll('img.leaflet-tile')].map(i => i.src)")
    assert tiles and all("drawing=" in t for t in tiles), tiles[:3]
    _, _, site_before = _http(fresh_server, "GET", "/ogc/collections/layout/items?limit=1000")
    page.select_option(".editor-new-role", "building")
    page.click(".editor-draw-polygon")
    _draw_square(page, _empty_spot(page))
    page.fill(".editor-name", "二层新隔间")
    page.fill(".editor-why", "浏览器测试：楼层图上新增房间")
    page.click(".editor-save-button")
    page.wait_for_function("document.querySelector('.editor-status').classList.contains('editor-ok')", timeout=30000)
    fid = page.locator(".editor-fid").inner_text()
    _keep(page, "editor-storey-saved")
    status, _, item = _http(fresh_server, "GET", f"/ogc/collections/layout/items/{quote(fid)}?drawing={quote(key)}")
    assert status == 200 and item["properties"]["name"] == "二层新隔间"
    _, _, site_after = _http(fresh_server, "GET", "/ogc/collections/layout/items?limit=1000")
    assert [f["id"] for f in site_after["features"]] == [f["id"] for f in site_before["features"]]
    assert page.locator(".editor-unit-search").count() == 0 and page.locator(".editor-detach").count() == 0
    assert log.problems(moved=True) == []
