"""The check-in page on a phone (390×844, Chromium): scanning a plate sends the inspector to /login and back, the
checks due here now are answered with large pass / fail / n.a. buttons and a note, saved, and the failed item is
reported as a hidden hazard; the page fits the screen, loads nothing from outside and logs no error."""

from __future__ import annotations

from datetime import timedelta

import pytest

from riskmap.clock import LOCAL_ZONE
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


def test_todays_checks_on_a_phone(fresh_server, open_page, tmp_path):
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
    units = page.evaluate("[...document.querySelectorAll('#route li.stop')].map(li => li.dataset.unitId)")
    assert len(units) == len(set(units))                        # one stop per place, its checks listed under it
    assert stops.nth(0).locator(".n").inner_text() == "1" and stops.nth(0).locator("ul.checks li").count() >= 1
    assert "00:00–00:00" not in page.inner_text("#route")        # a week's window shows its dates
    page.screenshot(path=str(tmp_path / "today.png"), full_page=True)
    walked = page.evaluate("[...document.querySelectorAll('#route li.stop .meta')].map(m => m.textContent)")
    placed = [w for w in walked[1:] if "米" in w]                   # unplaced stops (no metres) come last
    assert placed and walked[1:len(placed) + 1] == placed
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
    # the legend shows what the layer draws while it is on, and drops it when it is off
    rows = page.locator(".riskmap-coverage-legend tr")
    assert [rows.nth(i).get_attribute("data-coverage-state") for i in range(rows.count())] == \
        ["checkpoint", "missed", "due", "done", "suspended", "none"]
    assert "有漏检" in page.locator(".riskmap-coverage-legend").inner_text()
    label.locator("input").click()
    assert page.locator(".riskmap-coverage-legend").count() == 0
    assert log.problems(moved=True) == []


def test_coverage_layer_on_a_floor_plan(demo_server, open_page, wait_map_idle):
    """A drawing other than the site plan offers the coverage layer too, its tiles asked for that drawing."""
    from urllib.parse import quote

    page, log = open_page(demo_server, "/map?drawing=" + quote("反应车间-1F"))
    label = page.locator(".leaflet-control-layers-overlays label", has_text="排查覆盖")
    assert label.count() == 1
    label.locator("input").click()
    wait_map_idle(page)
    srcs = page.evaluate("[...document.querySelectorAll('.riskmap-tiles-coverage img.leaflet-tile')].map(i => i.src)")
    assert srcs and all("/tiles/coverage/" in s and "drawing=" in s for s in srcs)
    assert page.locator(".riskmap-coverage-legend tr").count() == 6
    assert log.problems(moved=True) == []


def _click_lonlat(page, lon: float, lat: float, zoom: int = 19) -> None:
    """Centre the map on a lon/lat, wait for the tiles, and click there."""
    page.evaluate(f"window.riskmapApp.map.setView([{lat}, {lon}], {zoom}, {{animate: false}})")
    page.evaluate("window.riskmapApp.idle()")
    xy = page.evaluate(f"(() => {{ const m = window.riskmapApp.map, p = m.latLngToContainerPoint([{lat}, {lon}]), "
                       "r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; })()")
    page.mouse.click(*xy)


def test_coverage_popup_shows_the_last_and_next_check(fresh_server, open_page, wait_map_idle, tmp_path):
    """With the coverage layer on, a click on a checkpoint's unit shows its state today, the last check (when, who,
    result) and the next due check (task, window) and the plate, in Chinese, then in English; with the layer off,
    the popup is the risk popup alone."""
    from riskmap.store.hazards import unit_locations

    store = fresh_server.app.state.store()
    name = resolve_enterprise(store, None)
    now = clock_now()
    found, tasks = ins.due(store, name, now, now + timedelta(seconds=1), now=now)
    o = next(o for o in found if o.state == "due" and unit_locations(store, name, {o.unit_code}))
    task = tasks[o.task_id]
    code = task.unit_code
    ins.issue_checkpoints(store, name, [code], reissue=True)
    record, _ = ins.record_check(store, name, task.id, [{"item": i + 1, "result": "pass"}
                                                        for i in range(len(task.items))],
                                 inspector=ins.Inspector("王巡检"), check_assignment=False)
    expected = ins.unit_checks(store, name, [code])[code]
    point = unit_locations(store, name, {code})[code]

    page, log = open_page(fresh_server, "/map")
    _click_lonlat(page, point.x, point.y)
    page.locator(f'.riskmap-popup-body section.riskmap-popup-unit[data-unit-id="{code}"]').wait_for()
    assert page.locator(".riskmap-popup-coverage").count() == 0          # the layer is off: no coverage asked
    page.keyboard.press("Escape")
    page.locator(".leaflet-control-layers-overlays label", has_text="排查覆盖").locator("input").check()
    wait_map_idle(page)
    _click_lonlat(page, point.x, point.y)
    section = page.locator(f'.riskmap-popup-coverage[data-coverage-unit="{code}"]')
    section.wait_for(timeout=15000)
    assert section.get_attribute("data-coverage") == expected["coverage"]
    text = section.inner_text()
    assert expected["coverage_zh"] in text and "上次排查" in text and "下次应检" in text and "巡检点" in text
    last = section.locator(".riskmap-last-check").inner_text()
    assert "王巡检" in last and "正常" in last and task.title in last
    assert record.checked_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M") in last
    nxt = section.locator(".riskmap-next-due").inner_text()
    assert expected["next_due"]["task"] in nxt and expected["next_due"]["start"][:16].replace("T", " ") in nxt
    page.screenshot(path=str(tmp_path / "coverage-popup-zh.png"))
    assert log.problems(moved=True) == []

    page_en, log_en = open_page(fresh_server, "/map?lang=en")
    page_en.locator(".leaflet-control-layers-overlays label", has_text="Inspection coverage").locator("input").check()
    wait_map_idle(page_en)
    _click_lonlat(page_en, point.x, point.y)
    section = page_en.locator(f'.riskmap-popup-coverage[data-coverage-unit="{code}"]')
    section.wait_for(timeout=15000)
    text = section.inner_text()
    assert expected["coverage_en"] in text and "Last check" in text and "Next due" in text and "normal" in text
    assert "Checkpoint" in text
    assert log_en.problems(moved=True) == []


def test_a_photo_taken_at_the_post_goes_with_the_check_and_its_hazard(fresh_server, open_page, tmp_path):
    """On a phone: a photo chosen for the failed item is uploaded after the check is saved, kept with the record
    and given to the hazard the item opened; what is served back has no EXIF."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (32.0, 19.0, 0.0), 3: "E", 4: (119.0, 44.0, 0.0)})
    exif[0x010F] = "PhoneMaker"
    picture = tmp_path / "leak.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 90)).save(buf, "JPEG", exif=exif)
    picture.write_bytes(buf.getvalue())

    name, token = _plate(fresh_server)
    page, log = open_page(fresh_server, "/healthz", wait_idle=False)
    page.set_viewport_size(PHONE)
    page.goto(fresh_server.origin + f"/c/{token}", wait_until="load")
    page.fill("#login", "demo-inspector")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(fresh_server.origin + f"/c/{token}", timeout=30000)
    form = page.locator("form.check").first
    form.wait_for(timeout=10000)
    sets = form.locator("fieldset")
    for n in range(sets.count()):
        sets.nth(n).locator("label.fail" if n == 0 else "label.pass").click()
    photo = sets.nth(0).locator("input.photo-file")
    box = photo.bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"]
    photo.set_input_files(str(picture))
    page.screenshot(path=str(tmp_path / "checkin-photo.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    form.locator("button[type=submit]").click()
    page.wait_for_function("document.querySelector('form.check').dataset.photos === '1'", timeout=20000)
    assert "照片已上传 1 张" in form.locator(".result").inner_text()
    record_id = int(page.evaluate("document.querySelector('form.check').dataset.saved"))
    store = fresh_server.app.state.store()
    [pic] = ins.record_photos(store, name, record_id)
    assert pic["item"] == 1 and pic["gps"]["lat"] == pytest.approx(32.3167, abs=1e-3) and pic["hazard_id"]
    hazard = hz.get(store, name, pic["hazard_id"])
    assert hazard["check_record_id"] == str(record_id) and [p["stage"] for p in hazard["photos"]] == ["before"]
    served = page.request.get(fresh_server.origin + pic["url"] + f"?enterprise={name}")
    assert served.status == 200 and b"PhoneMaker" not in served.body()
    with Image.open(io.BytesIO(served.body())) as im:
        assert im.size == (64, 48) and len(im.getexif()) == 0
    assert log.problems() == []
