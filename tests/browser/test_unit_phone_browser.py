"""The unit's phone page (/u/{id}, the post card's QR code) in Chromium at 390×844: it loads offline and clean,
shows the level banner, risks, measures and the tap-to-call number; signed out a report goes in anonymously and
unconfirmed (not listed) with a sign-in link; signed in as the demo inspector a report with a camera photo posts
and appears in the page's list."""

from __future__ import annotations

import io

from PIL import Image

from riskmap.demo import DEMO_PASSWORD

UNIT = "CY-03-02"          # a demo post with an open major hazard


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (90, 90, 90)).save(out, "JPEG")
    return out.getvalue()


def test_the_phone_page_reports_a_hazard(fresh_server, open_page, tmp_path):
    page, log = open_page(fresh_server, f"/u/{UNIT}")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.locator("meta[name=viewport]").count() == 1
    banner = page.locator("#banner")
    assert banner.is_visible() and "风险等级" in banner.inner_text()
    assert banner.bounding_box()["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390           # no sideways scrolling
    assert page.locator("a.call[href^='tel:']").count() == 1
    assert page.locator("#risks li").count() >= 1
    before = page.locator("#hazards li").count()
    assert before >= 1                                                               # the demo's open major one
    assert page.locator("input[type=file][accept='image/*'][capture=environment]").count() == 1

    page.fill("#what", "阀门法兰渗漏")                                   # signed out: reported, unconfirmed
    page.click("#report button")
    page.wait_for_selector("#signin:not([hidden])", timeout=10000)
    page.wait_for_function("document.getElementById('msg').textContent.indexOf('已匿名上报') >= 0", timeout=10000)
    assert page.locator("#hazards li").count() == before                         # not published before confirmed
    page.reload(wait_until="load")
    assert page.locator("#hazards li").count() == before and "阀门法兰渗漏" not in page.content()

    page.goto(fresh_server.origin + f"/login?next=/u/{UNIT}", wait_until="load")
    page.fill("#login", "demo-inspector")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/u/{UNIT}*", timeout=10000)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_jpeg())
    page.set_input_files("#photo", str(photo))
    page.fill("#what", "阀门法兰渗漏，地面有油迹")
    page.click("#report button")
    page.wait_for_function("document.getElementById('msg').textContent.indexOf('已上报') >= 0", timeout=15000)
    assert page.locator("#hazards li").count() == before + 1
    new_id = page.locator("#hazards li").first.get_attribute("data-hazard-id")
    detail = page.evaluate("async (id) => (await (await fetch('/api/hazards/' + id)).json())", new_id)
    assert detail["unit_id"] == UNIT and detail["state"] == "reported" and detail["registrant"]
    assert [p["stage"] for p in detail["photos"]] == ["before"]
    page.reload(wait_until="load")                                                   # the server lists it too
    assert page.locator(f"#hazards li[data-hazard-id='{new_id}']").count() == 1
    refused = [p for p in log.problems() if "401" in p]                            # the signed-out report only
    assert len(refused) <= 2 and [p for p in log.problems() if p not in refused] == []
    assert all(u.startswith(fresh_server.origin) or u.startswith(("data:", "blob:")) for u in log.requests)


def test_english_and_an_unknown_unit(demo_server, open_page):
    page, _ = open_page(demo_server, f"/u/{UNIT}?lang=en")
    assert "Risk level" in page.locator("#banner").inner_text()
    page, _ = open_page(demo_server, "/u/no-such-unit")
    assert "没有这个单元" in page.content()


def test_the_map_shows_hazards_in_the_control_legend_list_and_popup(demo_server, open_page):
    page, log = open_page(demo_server, "/map")
    control = page.locator(".leaflet-control-layers").inner_text()
    assert "隐患" in control
    assert page.locator(".riskmap-hazard-legend tr").count() >= 5              # the layer is on at start
    assert page.locator(".riskmap-hazard-legend img").first.get_attribute("src").startswith("data:image/png")
    page.check(".riskmap-hazard-list-on")
    page.wait_for_selector(".riskmap-hazard-items li", timeout=15000)
    first = page.locator(".riskmap-hazard-items a").first
    hazard_id = first.get_attribute("data-hazard-id")
    first.click()
    page.wait_for_selector(f".riskmap-popup-hazard[data-hazard-id='{hazard_id}']", timeout=15000)
    assert any("/tiles/hazards/" in u for u in log.requests)
    assert log.problems(moved=True) == []
