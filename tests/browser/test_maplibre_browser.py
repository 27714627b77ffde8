"""MapLibre GL JS (pinned in web/package-lock.json, served by riskmap) on a page from another origin, drawing riskmap's
generated style (/styles/risk/style.json) in Chromium: every request succeeds across origins (CORS), and the map
paints exactly the colour of the highest level drawn at each place: a grid of points over the plant, each compared
with the colour the data says is on top there (units over regions; within a layer by rank, larger areas first).
"""

from __future__ import annotations

import io
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, PageLog

ZOOM = 17.3              # units are vector tiles from z17
EDGE_PX = 4              # points this close to an outline are not compared (outlines, antialiasing)
TOLERANCE = 12           # per channel


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>MapLibre × riskmap</title>
<link rel="stylesheet" href="{riskmap}/static/vendor/maplibre-gl@{version}/dist/maplibre-gl.css">
<style>html,body,#map{{margin:0;width:100%;height:100%;background:#fff}}</style></head>
<body><div id="map"></div>
<script type="module">
import {{ Map }} from "{riskmap}/static/vendor/maplibre-gl@{version}/dist/maplibre-gl.mjs";
const response = await fetch("{riskmap}/styles/risk/style.json");
const style = await response.json();
const want = location.hash ? JSON.parse(decodeURIComponent(location.hash.slice(1))) : {{}};
const map = new Map({{container: "map", style, center: want.center || style.center, zoom: want.zoom || {zoom},
                      fadeDuration: 0,
                      canvasContextAttributes: {{preserveDrawingBuffer: true}}, attributionControl: false}});
window.riskmapMap = map;
map.once("idle", () => {{ window.mapReady = true; }});
map.on("styleimagemissing", (e) => {{ window.missingImages = (window.missingImages || []).concat([e.id]); }});
map.on("error", (e) => {{ window.mapErrors = (window.mapErrors || []).concat([String(e.error && e.error.message)]); }});
</script></body></html>
"""


@pytest.fixture(scope="module")
def webgl_browser(playwright_api, tmp_path_factory):
    """Chromium with software WebGL (SwiftShader): MapLibre draws with WebGL, headless has no GPU."""
    context = playwright_api.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-webgl")), executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"],
        headless=True, viewport=VIEWPORT, device_scale_factor=1, locale="zh-CN")
    yield context
    context.close()


@pytest.fixture(scope="module")
def other_origin(demo_server):
    """A page server on another origin (localhost, its own port) that serves only the embedding page."""
    from riskmap.api.routers.static import vendor_assets

    version = vendor_assets().versions.get("maplibre-gl")
    assert version, "maplibre-gl is not installed with the pinned web assets (scripts/assets.sh)"
    body = PAGE.format(riskmap=demo_server.origin, version=version, zoom=ZOOM).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):   # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            if self.path == "/":
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("localhost", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _features(client, collection: str) -> list[dict]:
    return client.get(f"/ogc/collections/{collection}/items", params={"limit": 10000}).json()["features"]


def _expected(points: np.ndarray, layers: list[tuple[list[dict], dict[int, str]]]):
    """Per lon/lat point: the colour on top (the last layer with a feature there; in it the highest rank, then the
    smallest area, as the draw order paints last) and its rank."""
    colour = np.full(len(points), None, dtype=object)
    rank = np.full(len(points), -1)
    pts = shapely.points(points)
    for features, fills in layers:
        geoms = np.array([shape(f["geometry"]) for f in features], dtype=object)
        ranks = np.array([f["properties"]["rank"] for f in features])
        order = np.lexsort((-shapely.area(geoms), ranks))       # draw order: the last one is on top
        top_colour = np.full(len(points), None, dtype=object)
        top_rank = np.full(len(points), -1)
        for i in order:
            inside = shapely.contains(geoms[i], pts)
            top_colour[inside] = fills[ranks[i]]
            top_rank[inside] = ranks[i]
        hit = top_colour != None   # noqa: E711 (numpy elementwise)
        colour[hit], rank[hit] = top_colour[hit], top_rank[hit]
    return colour, rank


def test_maplibre_on_another_origin_paints_the_four_colours_in_rank_order(webgl_browser, demo_server, other_origin):
    from fastapi.testclient import TestClient
    from PIL import Image

    from riskmap.api.app import create_app
    from riskmap.render.style import load_layer_style
    from riskmap.settings import Settings

    page = webgl_browser.new_page()
    log = PageLog(demo_server.origin)
    allowed = (demo_server.origin + "/", other_origin + "/")

    def route(r):
        if r.request.url.startswith(allowed) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            log.outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda req: log.failed.append(f"{req.url}: {req.failure}"))
    page.on("response", lambda resp: resp.status >= 400 and log.http_errors.append(f"{resp.status} {resp.url}"))
    page.on("console", lambda msg: msg.type == "error" and log.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: log.page_errors.append(str(exc)))
    responses = []
    page.on("response", lambda resp: responses.append(resp))
    try:
        page.goto(other_origin + "/", wait_until="load")
        page.wait_for_function("window.mapReady === true || (window.mapErrors || []).length > 0", timeout=60000)
        assert page.evaluate("window.mapErrors || []") == []
        # names and linework off: what is compared is the fills (and the outlines, kept clear of below)
        page.evaluate("""() => { const map = window.riskmapMap;
            for (const layer of map.getStyle().layers)
                if (layer.source === 'labels' || layer.source === 'layout' || layer.source === 'hazards')
                    map.setLayoutProperty(layer.id, 'visibility', 'none');
            return new Promise((resolve) => map.once('idle', resolve)); }""")
        assert log.problems() == [], log.problems()
        # every cross-origin read (script modules, style, TileJSON, tiles) is allowed by CORS (a <link> stylesheet
        # is fetched without CORS)
        cross = [r for r in responses
                 if r.url.startswith(demo_server.origin) and r.request.resource_type != "stylesheet"]
        assert any("/tiles/units/" in r.url and r.url.split("?")[0].endswith(".mvt") for r in cross)
        assert all(r.headers.get("access-control-allow-origin") == "*" for r in cross if r.status == 200), \
            [r.url for r in cross if r.headers.get("access-control-allow-origin") != "*"][:3]

        width, height = VIEWPORT["width"], VIEWPORT["height"]
        xs, ys = np.meshgrid(np.linspace(20, width - 20, 48), np.linspace(20, height - 20, 32))
        screen = np.column_stack([xs.ravel(), ys.ravel()])
        lonlat = np.array(page.evaluate("(pts) => pts.map(([x, y]) => { const p = window.riskmapMap.unproject([x, y]);"
                                        " return [p.lng, p.lat]; })", screen.tolist()))
        shot = np.asarray(Image.open(io.BytesIO(page.screenshot(type="png"))).convert("RGB")).astype(int)
        degrees_per_px = page.evaluate("() => { const m = window.riskmapMap, a = m.unproject([0, 0]),"
                                       " b = m.unproject([100, 0]); return (b.lng - a.lng) / 100; }")
    finally:
        page.close()

    with TestClient(create_app(Settings(db=demo_server.db_url))) as client:
        regions, units = _features(client, "regions"), _features(client, "units_areas")
    region_fills = {i: c.fill for i, c in enumerate(load_layer_style("regions").classes)}
    unit_fills = {i: c.fill for i, c in enumerate(load_layer_style("units").classes)}
    colour, rank = _expected(lonlat, [(regions, region_fills), (units, unit_fills)])

    # points near any outline are left out (outline colours, antialiasing)
    edges = shapely.union_all([shapely.boundary(shape(f["geometry"])) for f in regions + units])
    near = shapely.dwithin(edges, shapely.points(lonlat), EDGE_PX * degrees_per_px)
    checked = (colour != None) & ~near      # noqa: E711
    assert checked.sum() > 300, checked.sum()
    mismatches, levels_seen = [], set()
    for i in np.flatnonzero(checked):
        x, y = screen[i].round().astype(int)
        want = np.array([int(colour[i][k:k + 2], 16) for k in (1, 3, 5)])
        got = shot[y, x]
        if np.abs(got - want).max() > TOLERANCE:
            mismatches.append((tuple(lonlat[i].round(6)), colour[i], tuple(got), int(rank[i])))
        else:
            levels_seen.add(int(rank[i]))
    assert not mismatches, f"{len(mismatches)} of {checked.sum()} points show another colour: {mismatches[:5]}"
    assert {1, 2, 3, 4} <= levels_seen, levels_seen      # the four level colours are on the map


def test_maplibre_draws_the_hidden_hazards_with_riskmaps_own_icons(webgl_browser, demo_server, other_origin):
    """The risk style's hazards: every hazard in view is drawn at its place in its state's fill (open ones magenta),
    no icon the style names is missing from the sprite, and clusters at a low zoom are drawn with their ring."""
    import json as jsonlib
    from urllib.parse import quote

    from fastapi.testclient import TestClient
    from PIL import Image

    from riskmap.api.app import create_app
    from riskmap.render.style import load_hazard_style
    from riskmap.settings import Settings

    with TestClient(create_app(Settings(db=demo_server.db_url))) as client:
        hazards = client.get("/ogc/collections/hazards_points/items", params={"limit": 10000}).json()["features"]
    style = load_hazard_style()
    opened = [f for f in hazards if style.group_of(f["properties"]["state"]) == "open"]
    assert opened, "the demo has open hazards"
    centre = opened[0]["geometry"]["coordinates"]
    page = webgl_browser.new_page()
    try:
        shots = {}
        for zoom in (19, 15):
            page.goto("about:blank")                    # a new map each time (a hash alone does not reload)
            page.goto(other_origin + "/#" + quote(jsonlib.dumps({"center": centre, "zoom": zoom})), wait_until="load")
            page.wait_for_function("window.mapReady === true || (window.mapErrors || []).length > 0", timeout=60000)
            assert page.evaluate("window.mapErrors || []") == []
            assert page.evaluate("window.missingImages || []") == []
            points = page.evaluate("(pts) => pts.map((p) => { const q = window.riskmapMap.project(p); "
                                   "return [q.x, q.y]; })", [f["geometry"]["coordinates"] for f in hazards])
            clusters = page.evaluate("() => window.riskmapMap.queryRenderedFeatures({layers: ['hazards-clusters']})"
                                     ".map((f) => { const q = window.riskmapMap.project(f.geometry.coordinates);"
                                     " return [q.x, q.y, f.properties.count]; })")
            png = page.screenshot(type="png")
            if os.environ.get("RISKMAP_SHOTS"):                       # to look at them
                Path(os.environ["RISKMAP_SHOTS"], f"maplibre-hazards-z{zoom}.png").write_bytes(png)
            shot = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
            shots[zoom] = (np.array(points), clusters, shot)
    finally:
        page.close()

    def rgb(colour: str) -> np.ndarray:
        return np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)])

    points, _, shot = shots[19]
    h, w = shot.shape[:2]
    checked = 0
    for f, (x, y) in zip(hazards, points, strict=True):
        alone = (np.hypot(*(points - (x, y)).T) < 40).sum() == 1        # another symbol may cover this one
        if 20 <= x < w - 20 and 20 <= y < h - 20 and alone:
            want = rgb(style.groups[style.group_of(f["properties"]["state"])]["fill"])
            got = shot[int(round(y)), int(round(x))]
            assert np.abs(got - want).max() <= TOLERANCE, (f["properties"]["name"], tuple(got), tuple(want))
            checked += 1
    assert checked >= 1
    _, clusters, shot = shots[15]
    assert clusters, "at zoom 15 the hazards are clustered"
    ring = rgb(style.cluster["ring"])
    r = float(style.cluster["size"]) / 2 - 1.25
    for x, y, count in clusters:
        assert count >= 2
        if 20 <= x < w - 20 and 20 <= y < h - 20:
            # the ring is drawn below the badges: its bottom point is clear of them
            assert np.abs(shot[int(round(y + r)), int(round(x))] - ring).max() <= 40, (x, y, count)
