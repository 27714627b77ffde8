"""The check-in page on a phone (390×844, Chromium): scanning a plate sends the inspector to /login and back, the
checks due here now are answered with large pass / fail / n.a. buttons and a note, saved, and the failed item is
reported as a hidden hazard; the page fits the screen, loads nothing from outside and logs no error."""

from __future__ import annotations

from datetime import timedelta

from riskmap.clock import now as clock_now
from riskmap.demo import DEMO_PASSWORD
from riskmap.inspections import store as ins
from riskmap.plant import resolve_enterprise
from riskmap.store import hazards as hz

PHONE = {"width": 390, "height": 844}


def _plate(server) -> tuple[str, str]:
    """A fresh plate for a unit where a check of the demo's inspector role is due now: (enterprise, token)."""
    store = server.app.state.store()
    name = resolve_enterprise(store, None)
    now = clock_now()
    found, _ = ins.due(store, name, now, now + timedelta(seconds=1), now=now,
                       person=ins.Inspector("演示排查人员", roles=("inspector",)))
    unit = next(o.unit_code for o in found if o.state == "due")
    return name, ins.issue_checkpoints(store, name, [unit], reissue=True)[0]["token"]


def test_check_in_on_a_phone(fresh_server, open_page):
    name, token = _plate(fresh_server)
    page, log = open_page(fresh_server, "/healthz", wait_idle=False)
    page.set_viewport_size(PHONE)
    page.goto(fresh_server.origin + f"/c/{token}", wait_until="load")
    assert page.url.startswith(fresh_server.origin + "/login?next=/c/")
    page.fill("#login", "demo-inspector")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(fresh_server.origin + f"/c/{token}", timeout=30000)

    form = page.locator("form.check").first
    form.wait_for(timeout=10000)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]     # no sideways scrolling
    sets = form.locator("fieldset")
    assert sets.count() >= 1
    for n in range(sets.count()):
        box = sets.nth(n).locator("label.pass span").bounding_box()
        assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        sets.nth(n).locator("label.fail" if n == 0 else "label.pass").click()
    sets.nth(0).locator("textarea.note").fill("压力表指针卡死")
    form.locator("button[type=submit]").click()
    result = form.locator(".result")
    result.wait_for(state="visible", timeout=15000)
    page.wait_for_function("document.querySelector('form.check').dataset.saved", timeout=15000)
    text = result.inner_text()
    assert "已保存记录" in text and "hazards reported" in text
    record_id = int(page.evaluate("document.querySelector('form.check').dataset.saved"))
    made = [h for h in hz.listing(fresh_server.app.state.store(), name) if h["check_record_id"] == str(record_id)]
    assert len(made) == 1 and made[0]["description"] == "压力表指针卡死" and made[0]["state"] == "reported"
    assert not any(r for r in log.requests if not r.startswith(fresh_server.origin))
    assert log.problems() == []


def test_todays_checks_on_a_phone(fresh_server, open_page):
    page, log = open_page(fresh_server, "/healthz", wait_idle=False)
    page.set_viewport_size(PHONE)
    page.goto(fresh_server.origin + "/inspections/today", wait_until="load")
    assert page.url.startswith(fresh_server.origin + "/login?next=/inspections/today")
    page.fill("#login", "demo-inspector")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(fresh_server.origin + "/inspections/today", timeout=30000)
    stops = page.locator("#route li.stop")
    assert stops.count() >= 2                                   # the demo leaves some of today's checks due
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert "米" in stops.nth(1).inner_text()                     # the walk from the stop before
    box = page.locator("#near").bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"]
    assert log.problems() == []


def test_coverage_layer_on_the_web_map(demo_server, open_page, wait_map_idle):
    page, log = open_page(demo_server, "/map")
    label = page.locator(".leaflet-control-layers-overlays label", has_text="排查覆盖")
    assert label.count() == 1
    label.locator("input").click()
    page.evaluate("window.riskmapApp.map.setZoom(17)")
    wait_map_idle(page)
    srcs = page.evaluate("[...document.querySelectorAll('.riskmap-tiles-coverage img.leaflet-tile')].map(i => i.src)")
    assert srcs and all("/tiles/coverage/" in s for s in srcs)
    assert log.problems(moved=True) == []
