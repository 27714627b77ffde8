"""Several drawings in the browser: the drawing and storey switchers, a schematic drawing on a Cartesian map, a
click on a building opening its storeys; at desktop and at phone size (issue 19)."""

from __future__ import annotations

import time
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image

LEGAL = {"major": (255, 0, 0), "significant": (255, 140, 0), "general": (255, 255, 0), "low": (0, 112, 192)}


def _colours(png: bytes) -> set[str]:
    """The legal colours present in a screenshot (exact pixels: the tiles' opaque level fills)."""
    import io

    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    return {lv for lv, rgb in LEGAL.items() if (np.abs(px - np.array(rgb)).sum(axis=1) == 0).any()}


def _loaded_tiles(page) -> dict:
    return page.evaluate("""() => {
        const out = {};
        for (const img of document.querySelectorAll('img.leaflet-tile-loaded')) {
            const layer = [...img.closest('.leaflet-layer').classList].find(c => c.startsWith('riskmap-tiles-'));
            out[layer] = (out[layer] || 0) + 1;
        }
        return out;
    }""")


def test_storeys_switch_and_show_their_rooms(demo_server, open_page, wait_map_idle):
    page, log = open_page(demo_server, "/map?drawing=" + quote("办公楼-2F"))
    assert log.problems() == []
    assert page.locator(".riskmap-storey-current").text_content() == "2F"
    assert [a.text_content() for a in page.locator(".riskmap-storeys a").all()][:3] == ["3F", "2F", "1F"]
    assert _loaded_tiles(page).get("riskmap-tiles-units", 0) > 0
    assert _colours(page.screenshot()) == set(LEGAL)
    started = time.monotonic()
    page.locator(".riskmap-storeys a", has_text="3F").click()
    page.wait_for_url("**drawing=*3F*")
    wait_map_idle(page)
    elapsed = time.monotonic() - started
    assert page.locator(".riskmap-storey-current").text_content() == "3F"
    assert page.evaluate("window.riskmapApp.config.drawing.key") == "办公楼-3F"
    assert _colours(page.screenshot()) == set(LEGAL)
    print(f"storey switch to a complete render: {elapsed:.2f} s")
    # the drawing switcher goes to the process flow diagram: a plain Cartesian map of its own plane
    page.select_option(".riskmap-drawing-select", "合成工艺流程图")
    page.wait_for_url("**drawing=*")
    wait_map_idle(page)
    assert page.evaluate("window.riskmapApp.plane !== null && window.riskmapApp.map.options.crs.infinite")
    assert _loaded_tiles(page).get("riskmap-tiles-units", 0) > 0
    assert {"major", "significant", "general", "low"} <= _colours(page.screenshot())
    assert page.locator(".leaflet-control-scale").count() == 0       # no metres on a drawing without a place
    assert log.problems() == []


def test_a_click_on_a_room_of_the_schematic_identifies_it(demo_server, open_page):
    page, log = open_page(demo_server, "/map?drawing=" + quote("合成工艺流程图"))
    # the reactor R-201 of the PFD: the middle of its rectangle in drawing units (x 150–175, y 110–230)
    point = page.evaluate("""() => { const m = window.riskmapApp.map; m.setView([170, 162], 2, {animate: false});
        const p = m.latLngToContainerPoint([170, 162]); return [p.x, p.y]; }""")
    page.mouse.click(point[0], point[1])
    page.wait_for_selector(".riskmap-popup-unit")
    assert "合成反应器R-201" in page.locator(".riskmap-popup-unit").first.text_content()
    assert log.problems() == []


@pytest.mark.parametrize("size", [(390, 844)])
def test_a_building_click_opens_its_storeys_on_a_phone(demo_server, browser, size):
    page = browser.new_page()
    page.set_viewport_size({"width": size[0], "height": size[1]})
    try:
        page.goto(demo_server.origin + "/map", wait_until="load")
        page.wait_for_function("window.riskmapApp && window.riskmapApp.ready", timeout=30000)
        page.evaluate("window.riskmapApp.idle()")
        office = page.evaluate("""async () => {
            const r = await fetch('/ogc/collections/layout/items?limit=1000');
            const f = (await r.json()).features.find(f => f.properties.name === '办公楼');
            const ring = f.geometry.coordinates[0];
            const lon = ring.reduce((a, p) => a + p[0], 0) / ring.length;
            const lat = ring.reduce((a, p) => a + p[1], 0) / ring.length;
            const m = window.riskmapApp.map; m.setView([lat, lon], 19, {animate: false});
            const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }""")
        page.mouse.click(office[0], office[1])
        page.wait_for_selector(".riskmap-popup-storeys a")
        links = page.locator(".riskmap-popup-storeys a")
        assert [a.text_content() for a in links.all()] == ["1F", "2F", "3F"]
        links.nth(2).click()
        page.wait_for_url("**drawing=*3F*")
        page.wait_for_function("window.riskmapApp && window.riskmapApp.ready", timeout=30000)
        assert page.evaluate("window.riskmapApp.config.drawing.storey") == "3F"
    finally:
        page.close()
