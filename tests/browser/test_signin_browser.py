"""Signing in from Chromium, on a desktop and a phone-sized screen: sign in as the demo's editor, edit, sign out,
and the same edit is refused afterwards (the old cookie replayed too); a wrong password stays on the page with a
message; the demo password is named on the sign-in page."""

from __future__ import annotations

import pytest

from riskmap.demo import DEMO_PASSWORD

PATCH = """async ([fid, name]) => {
    const csrf = (document.cookie.split('; ').find(c => c.startsWith('riskmap_csrf=')) || '').split('=')[1] || '';
    const item = await fetch('/ogc/collections/layout/items/' + fid);
    const etag = item.headers.get('ETag');
    const r = await fetch('/ogc/collections/layout/items/' + fid + '?reason=browser', {
        method: 'PATCH', headers: {'Content-Type': 'application/json', 'If-Match': etag, 'X-CSRF-Token': csrf},
        body: JSON.stringify({properties: {name: name}})});
    return r.status;
}"""


def _first_fid(page) -> str:
    return page.evaluate("""async () => {
        const r = await fetch('/ogc/collections/layout/items?limit=1&role=region');
        return (await r.json()).features[0].id;
    }""")


def _sign_in(page, server, login: str, password: str) -> None:
    page.goto(server.origin + "/login?next=/edit", wait_until="load")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")


@pytest.mark.parametrize("viewport", [None, {"width": 375, "height": 667}], ids=["desktop", "phone"])
def test_sign_in_edit_sign_out_and_the_edit_is_refused(fresh_server, open_page, viewport):
    page, log = open_page(fresh_server, "/healthz", wait_idle=False)
    if viewport:
        page.set_viewport_size(viewport)
    page.goto(fresh_server.origin + "/login", wait_until="load")
    assert DEMO_PASSWORD in page.locator(".demo").inner_text()            # the demo says its password
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    if viewport:                          # the form fits a phone's width: no sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        box = page.locator("#password").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    page.click("a.lang")
    assert page.locator("h1").inner_text() == "Sign in"

    _sign_in(page, fresh_server, "demo-editor", "wrong password!")
    assert page.locator(".error").count() == 1 and "wrong login or password" in page.locator(".error").inner_text()
    assert page.url.startswith(fresh_server.origin + "/login")

    _sign_in(page, fresh_server, "demo-editor", DEMO_PASSWORD)
    page.wait_for_url(fresh_server.origin + "/edit", timeout=30000)
    page.wait_for_function("window.riskEditor && window.riskEditor.ready", timeout=30000)
    page.evaluate("window.riskEditor.ready")
    page.wait_for_selector(".editor-tools", timeout=10000)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["riskmap_session"]["httpOnly"] and cookies["riskmap_session"]["sameSite"] == "Lax"
    assert not cookies["riskmap_csrf"]["httpOnly"]
    fid = _first_fid(page)
    assert page.evaluate(PATCH, [fid, "浏览器改名"]) == 200
    old_session = cookies["riskmap_session"]["value"]

    page.click(".editor-signout")
    page.wait_for_selector(".editor-signin", timeout=10000)
    assert page.locator(".editor-tools").count() == 0
    assert page.evaluate(PATCH, [fid, "退出后再改"]) == 401                # signed out: refused
    page.context.add_cookies([{"name": "riskmap_session", "value": old_session, "url": fresh_server.origin}])
    assert page.evaluate(PATCH, [fid, "重放旧会话"]) == 401                 # the old cookie replayed: refused
    name = page.evaluate(f"fetch('/ogc/collections/layout/items/{fid}').then(r => r.json())")["properties"]["name"]
    assert name == "浏览器改名"
    assert [p for p in log.problems() if "401" not in p] == []
