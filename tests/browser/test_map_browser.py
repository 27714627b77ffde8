"""The web map in Chromium: it loads clean and offline, draws the right colours at known places, explains a
region on click, shows hostile names as text, refreshes after a data change, and /docs works offline."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import shapely
from pyproj import Transformer

HOSTILE = "<img src=x onerror=alert(1)>"
TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
TO_4326 = Transformer.from_crs(3857, 4326, always_xy=True)


def _plant(server):
    from riskmap.plant import load_plant
    from riskmap.store import open_store

    store = open_store(server.db_url)
    try:
        return load_plant(store, None)
    finally:
        store.close()


def _expected_colours(layer: str = "regions") -> dict[str, tuple[int, int, int]]:
    """Each level's fill on a layer: opaque, so exactly the style's colour (the regions' tint) whatever is under."""
    from riskmap.render.style import load_layer_style

    style = load_layer_style(layer)
    return {level: tuple(int(style.class_of(level).fill[i:i + 2], 16) for i in (1, 3, 5))
            for level in ("major", "significant", "general", "low")}


def _inset_points(geometry, zoom: float, inset_px: float = 9.0, min_side_px: float = 30.0) \
        -> list[tuple[float, float]]:
    """Points inside a region, `inset_px` screen pixels from its edge (clear of outlines), near its corners
    (clear of the label at its centre): the vertices of the polygon shrunk by that much. None for a region
    whose shrunk shape is narrower than `min_side_px`."""
    merc = shapely.transform(geometry, lambda xy: np.column_stack(TO_3857.transform(xy[:, 0], xy[:, 1])))
    per_px = 2 * 20037508.342789244 / (256 * 2 ** zoom)
    inner = merc.buffer(-inset_px * per_px, join_style="mitre")
    if inner.is_empty:
        return []
    box = shapely.oriented_envelope(inner)
    sides = np.hypot(*np.diff(np.asarray(box.exterior.coords)[:3], axis=0).T) / per_px
    if sides.min() < min_side_px:            # too small: the centred label may cover every corner
        return []
    rings = [p.exterior for p in getattr(inner, "geoms", [inner])]
    pts = [c for ring in rings for c in list(ring.coords)[:-1]]
    lon, lat = TO_4326.transform([p[0] for p in pts], [p[1] for p in pts])
    return list(zip(lon, lat, strict=True))


def _screen_points(page, lonlats: list[tuple[float, float]]) -> list[tuple[float, float] | None]:
    """Page pixel of each lon/lat, or None when it is off the map or under a control."""
    return page.evaluate(
        """(pts) => {
            const map = window.riskmapApp.map, box = map.getContainer().getBoundingClientRect();
            return pts.map(([lon, lat]) => {
                const p = map.latLngToContainerPoint([lat, lon]);
                const x = Math.round(p.x + box.left), y = Math.round(p.y + box.top);
                if (x < 2 || y < 2 || x > window.innerWidth - 3 || y > window.innerHeight - 3) return null;
                const hit = document.elementFromPoint(x, y);
                if (!hit || hit.closest('.leaflet-control-container, .leaflet-popup-pane')) return null;
                return [x, y];
            });
        }""", [list(p) for p in lonlats])


def _pixels(page):
    from PIL import Image

    return Image.open(io.BytesIO(page.screenshot(type="png"))).convert("RGB")


def _distance(a, b) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def _toggle_layer(page, title: str, on: bool, wait_map_idle) -> None:
    box = page.locator(".leaflet-control-layers-overlays label", has_text=title).locator("input")
    if box.is_checked() != on:
        box.click()
    wait_map_idle(page)


def _region_colour_check(page, plant, shot=None) -> dict[str, list]:
    """Sampled pixels per region: {region id: [(expected level, [pixels...])]}."""
    zoom = page.evaluate("window.riskmapApp.map.getZoom()")
    risks = {r.region_id: r for r in plant.region_risk()}
    shot = shot or _pixels(page)
    out = {}
    for region in plant.regions:
        level = risks[region.id].level
        points = _inset_points(region.geometry, zoom)
        screen = [p for p in _screen_points(page, points) if p is not None]
        out[region.id] = (level.value if level else None, [shot.getpixel(tuple(p)) for p in screen])
    return out


def test_map_loads_with_no_failed_request_and_no_console_error(demo_server, open_page, tmp_path):
    page, log = open_page(demo_server, "/map")
    assert log.problems() == []
    loaded = page.evaluate("""() => {
        const out = {};
        for (const img of document.querySelectorAll('img.leaflet-tile-loaded')) {
            const layer = [...img.closest('.leaflet-layer').classList].find(c => c.startsWith('riskmap-tiles-'));
            out[layer] = (out[layer] || 0) + 1;
        }
        return out;
    }""")
    assert loaded.get("riskmap-tiles-regions", 0) > 0 and loaded.get("riskmap-tiles-layout", 0) > 0, loaded
    # Every tile came from the versioned URL of its TileJSON.
    srcs = page.evaluate("[...document.querySelectorAll('img.leaflet-tile')].map(i => i.src)")
    version = page.evaluate("window.riskmapApp.version")
    assert srcs and all(s.startswith(demo_server.origin + "/tiles/") and f"v={version}" in s for s in srcs)
    # Nothing in the live DOM points outside the server.
    refs = page.evaluate("""() => [...document.querySelectorAll('[src],[href]')]
        .map(e => e.src || e.href).filter(u => u && !u.startsWith('data:') && !u.startsWith('blob:'))""")
    assert all(r.startswith(demo_server.origin + "/") for r in refs), [r for r in refs if "127.0.0.1" not in r]
    assert all(r.startswith(demo_server.origin) for r in log.requests if not r.startswith("data:"))
    # Legend: four levels in Chinese with the region counts of the plant.
    plant = _plant(demo_server)
    counts = {lv: 0 for lv in ("major", "significant", "general", "low")}
    for risk in plant.region_risk():
        counts[risk.level.value] += 1
    tints = _expected_colours()
    for level, zh in (("major", "重大风险"), ("significant", "较大风险"), ("general", "一般风险"), ("low", "低风险")):
        row = page.locator(f".riskmap-legend-row[data-level={level}]")
        assert row.locator(".riskmap-legend-name").text_content() == zh
        assert row.locator(".riskmap-legend-count").first.text_content() == str(counts[level])
        swatch = row.locator(".riskmap-swatch[data-layer=regions]").evaluate("e => getComputedStyle(e).backgroundColor")
        assert swatch == "rgb({}, {}, {})".format(*tints[level])     # the legend shows the colour drawn
    titles = page.locator(".leaflet-control-layers-overlays label").all_text_contents()
    assert [t.strip() for t in titles] == ["区域风险", "评估单元", "总平面布置", "评估时效（距上次评估天数）",
                                          "排查覆盖（今天）", "隐患", "标注"]
    assert page.locator(".leaflet-control-scale-line").count() == 1
    assert page.locator(".leaflet-control-scale-line").first.text_content().strip().endswith("m")
    href = page.locator("a.riskmap-print").get_attribute("href")
    assert href.startswith("/print/poster.pdf?bbox=") and "enterprise=" in href
    page.screenshot(path=str(tmp_path / "map.png"))


def test_print_this_view_passes_the_layers_shown_and_the_view(demo_server, open_page, wait_map_idle, tmp_path):
    """The print link follows the layer switches and the view; the server prints exactly that."""
    from urllib.parse import parse_qs, urlparse

    page, log = open_page(demo_server, "/map")

    def link():
        href = page.locator("a.riskmap-print").get_attribute("href")
        return href, parse_qs(urlparse(href).query)

    _, query = link()
    assert query["layers"] == ["regions,layout,hazards,labels"]    # the plan's layers shown at start
    west, south, east, north = (float(v) for v in query["bbox"][0].split(","))
    bounds = page.evaluate("(() => { const b = window.riskmapApp.map.getBounds(); "
                           "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
    assert max(abs(a - b) for a, b in zip((west, south, east, north), bounds, strict=True)) < 1e-6
    _toggle_layer(page, "评估单元", True, wait_map_idle)
    _toggle_layer(page, "标注", False, wait_map_idle)
    _toggle_layer(page, "隐患", False, wait_map_idle)
    _toggle_layer(page, "评估时效（距上次评估天数）", True, wait_map_idle)      # not printable: not passed
    href, query = link()
    assert query["layers"] == ["regions,units,layout"]
    page.evaluate("window.riskmapApp.map.setZoom(window.riskmapApp.map.getZoom() + 1, {animate: false})")
    wait_map_idle(page)
    zoomed = link()[1]["bbox"][0]
    assert zoomed != query["bbox"][0]                               # the view is the one on screen now
    resp = page.request.get(demo_server.origin + link()[0])
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "view.pdf"
    pdf.write_bytes(resp.body())
    import subprocess

    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout
    assert "局部视图".encode() in text
    assert log.problems(moved=True) == []


def test_colours_at_known_points_match_the_legend_and_the_tiles(demo_server, open_page, wait_map_idle):
    """The screen, the tile and the legend agree at the same places (the poster too: tests/test_colour_truth.py),
    with the plan's linework on: colours are opaque, so nothing under or over them changes them."""
    from kit import pixel_of, rgba
    from pyproj import Transformer

    page, log = open_page(demo_server, "/map")
    plant = _plant(demo_server)
    expected = _expected_colours()
    zoom = round(page.evaluate("window.riskmapApp.map.getZoom()"))
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    shot = _pixels(page)
    tiles: dict = {}
    checked, levels = 0, set()
    risks = {r.region_id: r for r in plant.region_risk()}
    for region in plant.regions:
        level = risks[region.id].level.value
        lonlats = _inset_points(region.geometry, zoom)
        screen = _screen_points(page, lonlats)
        pixels = []
        for (lon, lat), xy in zip(lonlats, screen, strict=True):
            if xy is None:
                continue
            shown = shot.getpixel(tuple(xy))
            tile, col, row = pixel_of(*to_3857.transform(lon, lat), zoom)
            if tile not in tiles:
                body = demo_server_tile(demo_server, f"/tiles/regions/{zoom}/{tile.x}/{tile.y}.png?labels=0")
                tiles[tile] = rgba(body)
            drawn = tuple(int(v) for v in tiles[tile][row, col, :3])
            if _distance(shown, drawn) <= 6:         # not under a label of the labels layer
                pixels.append(shown)
        if not pixels:
            continue
        wrong = [p for p in pixels if _distance(p, expected[level]) > 6]
        assert not wrong, f"region {region.id} ({level}, {expected[level]}) shows {wrong}"
        checked += 1
        levels.add(level)
    assert checked >= 15                         # the demo's 29 regions, less the small ones
    assert levels == {"major", "significant", "general", "low"}
    assert log.problems() == []


def demo_server_tile(server, path: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(server.origin + path, timeout=30) as resp:
        return resp.read()


def test_a_workshop_map_shows_the_highest_level_at_every_place(demo_server, open_page):
    """精馏装置区 is a major area holding lower posts and equipment: with the units layer on (as a workshop map
    starts) its inside reads red, never blue or orange as a post drawn over it would show."""
    page, log = open_page(demo_server, "/map?region=C1")
    plant = _plant(demo_server)
    region = next(r for r in plant.regions if r.id == "C1")
    zoom = page.evaluate("window.riskmapApp.map.getZoom()")
    points = [p for p in _screen_points(page, _inset_points(region.geometry, zoom, inset_px=14)) if p is not None]
    shot = _pixels(page)
    red = _expected_colours("units")["major"]
    assert points and all(_distance(shot.getpixel(tuple(p)), red) <= 6 for p in points), \
        [shot.getpixel(tuple(p)) for p in points]
    assert log.problems() == []


def test_clicking_a_region_opens_its_explanation(demo_server, open_page):
    page, log = open_page(demo_server, "/map")
    plant = _plant(demo_server)
    risk = next(r for r in plant.region_risk() if r.region_id == "CA")
    region = next(r for r in plant.regions if r.id == "CA")
    zoom = page.evaluate("window.riskmapApp.map.getZoom()")
    point = next(p for p in _screen_points(page, _inset_points(region.geometry, zoom, 14)) if p)
    page.mouse.click(*point)
    section = page.locator('.riskmap-popup-body section[data-region-id="CA"]')
    section.wait_for()
    assert section.locator(".riskmap-popup-name").text_content() == "罐区"
    assert section.locator(".riskmap-popup-level").text_content() == "重大风险"
    text = section.text_content()
    assert risk.explanation in text
    assert risk.decided_by.name in text
    assert risk.deciding_event is None or risk.deciding_event.name in text
    assert "打开车间图" in text
    assert page.locator(".riskmap-popup-body section.riskmap-popup-unit").count() >= 1
    assert log.problems(moved=True) == []            # the popup pans the map to fit


def test_a_card_qr_link_opens_its_unit(demo_server, open_page):
    """A post card's QR code points at /map?unit=ID: the page flies to the unit and opens its popup."""
    page, log = open_page(demo_server, "/map?unit=CY-01-01")
    section = page.locator(".riskmap-popup-body section.riskmap-popup-unit").first
    section.wait_for()
    assert "甲醇储罐T-101" in page.locator(".riskmap-popup-body").text_content()
    assert log.problems(moved=True) == []


def test_hostile_unit_name_is_shown_as_text_everywhere(fresh_server, open_page):
    from riskmap.store import open_store

    store = open_store(fresh_server.db_url)
    name = store.enterprises()[0].name
    units = store.units(name)
    victim = next(u for u in units if u.id == "CY-01-07")
    victim.name = HOSTILE
    store.save_units(name, units, source="hostile.json")
    store.close()

    page, log = open_page(fresh_server, "/map")
    page.fill(".riskmap-search input", "<img")
    result = page.locator(".riskmap-result a", has_text=HOSTILE)
    result.wait_for()
    assert result.locator(".riskmap-result-name").text_content() == HOSTILE
    result.click()
    section = page.locator('.riskmap-popup-body section[data-unit-id="CY-01-07"]')
    section.wait_for()
    assert section.locator(".riskmap-popup-name").text_content() == HOSTILE
    assert HOSTILE in section.text_content()
    # The workshop map of its region lists it literally too.
    page2, log2 = open_page(fresh_server, "/map?region=CA")
    listed = page2.locator(".riskmap-panel .riskmap-unit-list li", has_text=HOSTILE)
    assert listed.count() == 1
    for p in (page, page2):
        assert p.evaluate("document.querySelectorAll('img[src=\"x\"], [onerror]').length") == 0
    assert log.dialogs == [] and log2.dialogs == []
    assert log.problems(moved=True) == [] and log2.problems() == []


def test_a_data_change_refreshes_the_tiles_without_a_stale_colour(fresh_server, open_page, wait_map_idle):
    from riskmap.domain import Override
    from riskmap.levels import Level
    from riskmap.store import open_store

    page, log = open_page(fresh_server, "/map")
    _toggle_layer(page, "总平面布置", False, wait_map_idle)
    expected = _expected_colours()
    before = _region_colour_check(page, _plant(fresh_server))["B0"]       # 停车场, low (blue)
    assert before[0] == "low" and any(_distance(p, expected["low"]) <= 6 for p in before[1])
    old_version = page.evaluate("window.riskmapApp.version")
    major = ".riskmap-legend-row[data-level=major] .riskmap-legend-count"
    majors = int(page.locator(major).first.text_content())

    store = open_store(fresh_server.db_url)
    name = store.enterprises()[0].name
    units = store.units(name)
    next(u for u in units if u.id == "XZ-03").override = Override(Level.MAJOR, "测试：直接判定", "manual")
    store.save_units(name, units, source="change.json")
    store.close()

    assert page.evaluate("window.riskmapApp.checkVersion()") is True
    wait_map_idle(page)
    new_version = page.evaluate("window.riskmapApp.version")
    assert new_version > old_version
    srcs = page.evaluate("[...document.querySelectorAll('.riskmap-tiles-regions img.leaflet-tile')].map(i => i.src)")
    assert srcs and all(f"v={new_version}" in s for s in srcs)
    after = _region_colour_check(page, _plant(fresh_server))["B0"]
    assert after[0] == "major"
    assert any(_distance(p, expected["major"]) <= 6 for p in after[1])
    assert not any(_distance(p, expected["low"]) <= 6 for p in after[1]), "a stale blue tile survived"
    assert page.locator(major).first.text_content() == str(majors + 1)      # 停车场 is red now
    assert log.problems() == []


def test_workshop_map_fits_the_region_and_lists_its_units(demo_server, open_page):
    page, log = open_page(demo_server, "/map?region=CA")
    plant = _plant(demo_server)
    risk = next(r for r in plant.region_risk() if r.region_id == "CA")
    items = page.locator(".riskmap-panel .riskmap-unit-list li").all_text_contents()
    assert len(items) == len(risk.contributing)
    assert page.locator(".riskmap-view").text_content().startswith("车间图：罐区")
    box = page.evaluate("(() => { const b = window.riskmapApp.map.getBounds(); "
                        "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
    region = next(r for r in plant.regions if r.id == "CA").geometry
    assert shapely.box(*box).contains(region.centroid)
    assert shapely.box(*box).area < 4 * shapely.envelope(region).area * 4    # fitted, not the whole plant
    assert page.locator(".riskmap-tiles-units img.leaflet-tile-loaded").count() > 0
    assert log.problems() == []


def test_english_switch(demo_server, open_page, wait_map_idle):
    page, log = open_page(demo_server, "/map")
    page.locator("a.riskmap-lang").click()
    page.wait_for_url("**lang=en**")
    wait_map_idle(page)
    assert page.locator(".riskmap-legend-row[data-level=low] .riskmap-legend-name").text_content() == "Low risk"
    assert page.locator("a.riskmap-lang").text_content() == "中文"
    assert log.problems() == []


@pytest.mark.parametrize("path, ready", [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")])
def test_api_docs_work_offline(demo_server, open_page, path, ready):
    page, log = open_page(demo_server, path)
    page.locator(ready).first.wait_for(timeout=30000)
    assert "riskmap" in page.locator(ready).first.text_content()
    page.wait_for_load_state("networkidle")
    assert log.outside == []
    assert log.problems() == []


# ------------------------------------------------------------------ staleness, flagged units, as-of view


def test_staleness_and_flagged_switches_load_clean(fresh_server, open_page, wait_map_idle, tmp_path):
    """The staleness layer with its legend, the "flagged units only" switch (flagged=1 tiles, the list of flags
    with reasons, a click zooms to the unit and its popup shows why), all without a failed request."""
    from datetime import date

    from riskmap.store import open_store

    store = open_store(fresh_server.db_url)
    try:
        name = store.enterprises()[0].name
        store.record_accident(name, "CY-01-01", date(2026, 11, 1), f"储罐泄漏 {HOSTILE}", author="测试")
    finally:
        store.close()
    page, log = open_page(fresh_server, "/map")
    titles = [t.strip() for t in page.locator(".leaflet-control-layers-overlays label").all_text_contents()]
    stale_title = next(t for t in titles if t.startswith("评估时效"))
    _toggle_layer(page, stale_title, True, wait_map_idle)
    legend = page.locator(".riskmap-staleness-legend tr")
    assert legend.count() >= 3 and "180" in legend.first.inner_text()
    srcs = page.evaluate("[...document.querySelectorAll('.riskmap-tiles-staleness img.leaflet-tile')].map(i => i.src)")
    assert srcs and all("/tiles/staleness/" in s for s in srcs)

    page.check(".riskmap-flagged-only")
    page.wait_for_selector(".riskmap-flag-units a[data-id='CY-01-01']", timeout=30000)
    wait_map_idle(page)
    for layer in ("units", "staleness"):
        srcs = page.evaluate(f"[...document.querySelectorAll('.riskmap-tiles-{layer} img.leaflet-tile')]"
                             ".map(i => i.src)")
        assert srcs and all("flagged=1" in s for s in srcs), layer
    entry = page.locator(".riskmap-flag-units a[data-id='CY-01-01']")
    assert "事故" in entry.inner_text() or "accident" in entry.inner_text()
    entry.click()
    page.wait_for_selector(".riskmap-popup-unit[data-unit-id='CY-01-01'] .riskmap-flag-reasons li", timeout=30000)
    reason = page.locator(".riskmap-popup-unit[data-unit-id='CY-01-01'] .riskmap-flag-reasons li").first
    assert reason.get_attribute("data-reason") == "accident"
    wait_map_idle(page)
    page.screenshot(path=str(tmp_path / "flags.png"))
    if os.environ.get("RISKMAP_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["RISKMAP_SHOTS"], "map-flags.png"))
    assert not page.evaluate("[...document.querySelectorAll('img')].some(i => i.getAttribute('src') === 'x')")
    page.uncheck(".riskmap-flagged-only")
    wait_map_idle(page)
    srcs = page.evaluate("[...document.querySelectorAll('.riskmap-tiles-units img.leaflet-tile')].map(i => i.src)")
    assert srcs and not any("flagged=1" in s for s in srcs)
    assert log.problems(moved=True) == []


def test_map_as_of_a_moment_shows_a_banner_and_asks_for_that_moment(fresh_server, open_page):
    from datetime import UTC, datetime, timedelta

    at = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")   # rounded up
    page, log = open_page(fresh_server, f"/map?at={at}")
    banner = page.locator(".riskmap-historical")
    assert banner.count() == 1 and banner.inner_text().startswith("历史视图")
    assert page.locator("a.riskmap-edit-link").count() == 0 and page.locator(".riskmap-flagged-only").count() == 0
    srcs = page.evaluate("[...document.querySelectorAll('img.leaflet-tile')].map(i => i.src)")
    assert srcs and all("at=" in s for s in srcs if "/basemap/" not in s)
    assert "at=" in page.locator("a.riskmap-print").get_attribute("href")
    assert log.problems() == []
    page, log = open_page(fresh_server, "/map")
    href = page.locator("a.riskmap-edit-link").get_attribute("href")
    assert href.startswith("/edit?")
