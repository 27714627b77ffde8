"""The web map's server side: pages that never leave the server, pinned assets served safely, the map config,
identify and search answers, escaping of user text, and scripts/assets.sh."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.api.routers import static
from riskmap.demo import load_demo
from riskmap.render import webmap
from riskmap.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "<img src=x onerror=alert(1)>"
ORIGIN = "http://testserver"

needs_assets = pytest.mark.skipif(
    static.vendor_assets().root is None and not os.environ.get("CI"),
    reason="the pinned web assets are not installed: run scripts/assets.sh")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    settings = Settings(db=f"sqlite:///{tmp_path_factory.mktemp('webmap') / 'demo.db'}")
    load_demo(settings)
    app = create_app(Settings(db=settings.db))
    with TestClient(app) as client:
        yield client, app


@pytest.fixture(scope="module")
def client(demo):
    return demo[0]


@pytest.fixture(scope="module")
def plant(demo):
    from riskmap.plant import load_plant

    return load_plant(demo[1].state.store(), None)


def _without_quoted_data_urls(css: str) -> str:
    """CSS minus quoted data: URLs (an inline SVG may hold url(#id) references of its own, which are not fetched)."""
    return re.sub(r"""url\(\s*(["'])data:.*?\1\s*\)""", "url(data:)", css, flags=re.S)


def _refs(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + \
        re.findall(r"""url\(\s*["']?([^"')]+)["']?\s*\)""", html)


# ------------------------------------------------------------------------------------------ offline pages


PAGES = ["/map", "/map?lang=en", "/map?region=CA", "/map?region=NOPE", "/edit", "/edit?lang=en", "/docs", "/redoc",
         "/docs/oauth2-redirect"]


@needs_assets
@pytest.mark.parametrize("path", PAGES)
def test_every_page_stays_on_the_server(client, path):
    """No http(s) or protocol-relative URL outside the server in src/href/url(), in the page and in every
    stylesheet it links (fonts and images of Font Awesome, Leaflet, Bootstrap, Swagger UI)."""
    resp = client.get(path)
    assert resp.status_code in (200, 404), resp.text[:300]
    assert resp.headers["content-type"].startswith("text/html")
    assert webmap.external_urls(resp.text) == []
    for ref in _refs(resp.text):
        target = urljoin(ORIGIN + path, ref)
        assert target.startswith(ORIGIN + "/") or ref.startswith("data:"), (path, ref)
        if target.endswith(".css") or ".css?" in target:
            css = client.get(target)
            assert css.status_code == 200, target
            for inner in _refs(_without_quoted_data_urls(css.text)):
                if inner.startswith("data:"):
                    continue
                absolute = urljoin(target, inner)
                assert absolute.startswith(ORIGIN + "/"), (target, inner)
                assert client.get(absolute.split("#")[0]).status_code == 200, (target, inner)
        elif ref.startswith("/static/"):
            assert client.get(target).status_code == 200, target


@needs_assets
def test_docs_use_the_pinned_swagger_ui(client):
    page = client.get("/docs").text
    assert "/static/vendor/swagger-ui-dist@" in page and "cdn.jsdelivr.net" not in page
    assert '"validatorUrl": null' in page           # no call to the public validator
    redoc = client.get("/redoc").text
    assert "/static/vendor/redoc@" in redoc and "fonts.googleapis.com" not in redoc
    assert redoc.index("offline-guard.js") < redoc.index("redoc.standalone.js")


def test_external_url_detector():
    page = ('<script src="https://cdn.example.org/x.js"></script><link href=\'//cdn.example.org/a.css\'>'
            '<div style="background:url( http://x.org/a.png )"></div><a href="/map">ok</a>'
            '<img src="/static/app/a.png"><p>see https://example.org in text</p>')
    assert webmap.external_urls(page) == ["https://cdn.example.org/x.js", "//cdn.example.org/a.css",
                                          "http://x.org/a.png"]


# -------------------------------------------------------------------------------------------- vendor files


def test_package_json_pins_exact_versions_and_lists_what_riskmap_serves():
    package = json.loads((ROOT / "web" / "package.json").read_text())
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    deps = package["dependencies"]
    assert set(deps) == set(static.VENDOR_PACKAGES)
    for name, version in deps.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert lock["packages"][""]["dependencies"] == deps


def test_folium_assets_are_all_mapped():
    import folium

    names = {name for name, _ in folium.Map.default_js + folium.Map.default_css}
    assert names == set(webmap.FOLIUM_ASSETS)
    for target in webmap.FOLIUM_ASSETS.values():
        assert target is None or target[0] in static.VENDOR_PACKAGES


@needs_assets
def test_map_page_loads_only_what_its_script_uses(client):
    """Leaflet and riskmap's own files, nothing else (no jQuery, Bootstrap or Font Awesome: 460 KB that map.js
    never used), and the whole page with its scripts and styles stays small."""
    page = client.get("/map").text
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page)
    styles = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"|<link[^>]*href="([^"]+)"[^>]*rel="stylesheet"',
                        page)
    styles = [a or b for a, b in styles]
    leaflet = static.vendor_assets().versions["leaflet"]
    assert [re.sub(r"\?v=[0-9a-f]+$", "", s) for s in scripts] == [
        f"/static/vendor/leaflet@{leaflet}/dist/leaflet.js", "/static/app/dom.js", "/static/app/map.js"]
    assert [re.sub(r"\?v=[0-9a-f]+$", "", s) for s in styles] == [
        f"/static/vendor/leaflet@{leaflet}/dist/leaflet.css", "/static/app/map.css"]
    for word in ("jquery", "bootstrap", "fontawesome", "awesome-markers", "glyphicons"):
        assert word not in page.lower(), word
    loaded = [client.get(url) for url in scripts + styles]
    assert all(r.status_code == 200 for r in loaded)
    weight = len(page.encode()) + sum(len(r.content) for r in loaded)
    assert weight < 250_000, weight            # 211 kB today; jQuery alone would add 88 kB, Bootstrap's CSS 195 kB


@needs_assets
def test_vendor_files_are_immutable_and_typed(client):
    assets = static.vendor_assets()
    for package, path, ctype in [("leaflet", "dist/leaflet.js", "text/javascript"),
                                 ("leaflet", "dist/leaflet.css", "text/css"),
                                 ("@geoman-io/leaflet-geoman-free", "dist/leaflet-geoman.css", "text/css"),
                                 ("leaflet", "dist/images/layers.png", "image/png")]:
        url = assets.url(package, path)
        assert url.startswith(f"/static/vendor/{package}@{assets.versions[package]}/")
        resp = client.get(url)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith(ctype)
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.content == (assets.root / package / path).read_bytes()
        assert client.head(url).status_code == 200


@needs_assets
@pytest.mark.parametrize("path", [
    "/static/vendor/leaflet@{v}/../jquery/package.json",
    "/static/vendor/leaflet@{v}/%2e%2e/%2e%2e/web/package.json",
    "/static/vendor/leaflet@{v}/dist/..%2f..%2fpackage.json",
    "/static/vendor/leaflet@{v}/dist%5c..%5cpackage.json",
    "/static/vendor/leaflet@{v}//etc/passwd",
    "/static/vendor/leaflet@{v}/package.json",            # not an asset type
    "/static/vendor/leaflet@{v}/.bin/x.js",
    "/static/vendor/leaflet@0.0.1/dist/leaflet.js",       # not the installed version
    "/static/vendor/leaflet/dist/leaflet.js",
    "/static/vendor/react@18.3.1/index.js",               # installed, but not a package riskmap serves
    "/static/vendor/.bin/leaflet.js",
    "/static/app/../api/app.py",
    "/static/app/%2e%2e/api/app.py",
    "/static/app/map.py",
    "/static/app/nope.js",
])
def test_static_paths_cannot_escape(client, path):
    resp = client.get(path.format(v=static.vendor_assets().versions["leaflet"]))
    assert resp.status_code == 404
    assert resp.json()["detail"].startswith("未找到")


def test_symlink_out_of_a_package_is_refused(tmp_path):
    outside = tmp_path / "secret.js"
    outside.write_text("secret")
    package = tmp_path / "pkg"
    (package / "dist").mkdir(parents=True)
    (package / "dist" / "ok.js").write_text("ok")
    (package / "dist" / "link.js").symlink_to(outside)
    allowed = frozenset({".js"})
    assert static._safe_file(package, "dist/ok.js", allowed) == (package / "dist" / "ok.js").resolve()
    assert static._safe_file(package, "dist/link.js", allowed) is None
    assert static._safe_file(package, "dist/../../secret.js", allowed) is None
    assert static._safe_file(package, "dist/missing.js", allowed) is None


def test_missing_assets_give_a_clear_503(tmp_path, monkeypatch, demo):
    monkeypatch.setenv("RISKMAP_ASSETS_DIR", str(tmp_path / "nothing"))
    client = demo[0]
    resp = client.get("/static/vendor/leaflet@1.9.4/dist/leaflet.js")
    assert resp.status_code == 503 and "scripts/assets.sh" in resp.json()["detail"]
    page = client.get("/map")
    assert page.status_code == 503 and "scripts/assets.sh" in page.text
    assert webmap.external_urls(page.text) == []


def test_own_static_files_are_versioned_by_content(client):
    url = static.app_url("map.js")
    resp = client.get(url)
    assert resp.status_code == 200 and resp.headers["cache-control"].endswith("immutable")
    assert "textContent" in resp.text
    assert not re.search(r"\.innerHTML|insertAdjacentHTML|document\.write|\.html\(", resp.text)
    stale = client.get(url.split("?")[0] + "?v=000000000000")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"


# ------------------------------------------------------------------------------------------------- config


def test_plan_config_counts_what_is_drawn(client, plant):
    config = client.get("/api/map/config").json()
    risks = plant.region_risk()
    counts = {lv: sum(1 for r in risks if r.level and r.level.value == lv) for lv in
              ("major", "significant", "general", "low")}
    assert [row["level"] for row in config["legend"]] == ["major", "significant", "general", "low"]
    assert {row["level"]: row["regions"] for row in config["legend"]} == counts
    assert [row["zh"] for row in config["legend"]] == ["重大风险", "较大风险", "一般风险", "低风险"]
    assert config["legend"][3]["fill"].upper() == "#0070C0"        # low is blue, never green
    assert config["view"] == "plan" and config["region"] is None
    west, south, east, north = config["bounds"]
    fw, fs, fe, fn = plant.features.total_bounds
    assert abs(west - fw) < 1e-6 and abs(south - fs) < 1e-6 and abs(east - fe) < 1e-6 and abs(north - fn) < 1e-6
    assert config["data_version"] == client.get("/api/map/version").json()["data_version"]
    layers = {layer["name"]: layer for layer in config["layers"]}
    assert {"regions", "units", "layout"} <= set(layers)
    assert layers["regions"]["visible"] and not layers["units"]["visible"]
    for layer in config["layers"]:
        tilejson = client.get(layer["tilejson"])
        assert tilejson.status_code == 200 and tilejson.json()["tiles"][0].startswith("http")


def test_workshop_config_lists_the_regions_units(client, plant):
    config = client.get("/api/map/config", params={"region": "CA", "lang": "en"}).json()
    risk = next(r for r in plant.region_risk() if r.region_id == "CA")
    assert config["view"] == "workshop" and config["region"]["name"] == "罐区"
    assert [u["id"] for u in config["region"]["units"]] == [c.unit_id for c in risk.contributing]
    units = {row["level"]: row["units"] for row in config["legend"]}
    assert sum(units.values()) + config["unassessed"]["units"] == len(risk.contributing)
    assert all(row["regions"] is None for row in config["legend"])
    region = next(r for r in plant.regions if r.id == "CA").geometry
    assert config["bounds"] == pytest.approx(list(region.bounds))
    assert config["text"]["legend"] == "Legend"
    assert {layer["name"]: layer["visible"] for layer in config["layers"]}["units"] is True


def test_unknown_region_is_a_readable_404_page(client):
    resp = client.get("/map", params={"region": "<b>NOPE</b>"})
    assert resp.status_code == 404
    assert "没有编号为" in resp.text and "<b>NOPE</b>" not in resp.text and "&lt;b&gt;NOPE&lt;/b&gt;" in resp.text


def test_several_enterprises_get_a_chooser(tmp_path):
    from riskmap.store import open_store

    url = f"sqlite:///{tmp_path / 'two.db'}"
    store = open_store(url)
    store.enterprise("甲公司")
    store.enterprise(HOSTILE)
    store.close()
    with TestClient(create_app(Settings(db=url))) as client:
        page = client.get("/map")
    assert page.status_code == 200 and "选择企业" in page.text
    assert HOSTILE not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    links = re.findall(r'href="(/map\?[^"]+)"', page.text)
    assert len(links) == 2


# ---------------------------------------------------------------------------------------------- escaping


def test_page_escapes_user_text():
    summary = webmap.MapSummary(enterprise=f"{HOSTILE}</script><script>alert(2)</script>", data_version=7,
                                bounds=[120.0, 32.0, 120.01, 32.01], region_counts={}, unit_counts={})
    region = {"id": "R1", "name": HOSTILE, "level": "major", "level_zh": "重大风险", "level_en": "Major risk",
              "explanation": f"区域“{HOSTILE}”\u2028", "units": [{"id": "U1", "name": HOSTILE, "level": None,
                                                                    "level_zh": None}],
              "bbox": [120.0, 32.0, 120.01, 32.01]}
    from riskmap.levels import load_palette

    config = webmap.map_config(summary, region=region, lang="zh", palette=load_palette(), layers=[], urls={})
    assets = webmap.PageAssets([("leaflet", "/static/vendor/leaflet@1/dist/leaflet.js")],
                               [("leaflet_css", "/static/vendor/leaflet@1/dist/leaflet.css")],
                               "/static/app/map.js?v=1", "/static/app/map.css?v=1", "/static/app/favicon.svg?v=1",
                               "/static/app/dom.js?v=1")
    page = webmap.render_map_page(config, assets)
    assert HOSTILE not in page and "<script>alert(2)" not in page
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert "&lt;img src=x onerror=alert(1)&gt;" in title
    blob = re.search(r'<script type="application/json" id="riskmap-config">(.*?)</script>', page, re.S).group(1)
    assert "<" not in blob and "\u2028" not in blob
    decoded = json.loads(blob)
    assert decoded["enterprise"] == summary.enterprise and decoded["region"]["units"][0]["name"] == HOSTILE


def test_rendered_page_uses_no_cdn_even_if_folium_adds_one(monkeypatch):
    import folium

    monkeypatch.setattr(folium.Map, "default_js", [*folium.Map.default_js, ("new_plugin", "https://cdn.x/y.js")])
    with pytest.raises(RuntimeError, match="new_plugin"):
        webmap.page_assets(lambda package, path: f"/static/vendor/{package}@1/{path}", lambda name: f"/{name}")


# ---------------------------------------------------------------------------------------- identify, search


def test_identify_a_point_explains_region_and_units(client, plant):
    region = next(r for r in plant.regions if r.id == "CA")
    point = region.geometry.representative_point()
    body = client.get("/api/identify", params={"lon": point.x, "lat": point.y, "zoom": 19}).json()
    risk = next(r for r in plant.region_risk() if r.region_id == "CA")
    assert [r["id"] for r in body["regions"]] == ["CA"]
    answer = body["regions"][0]
    assert answer["explanation"] == risk.explanation and answer["level"] == "major"
    assert answer["decided_by"] == risk.decided_by.name
    assert len(answer["units"]) == len(risk.contributing)
    assert answer["last_assessed"] is not None
    ranks = {"major": 4, "significant": 3, "general": 2, "low": 1, None: 0}
    levels = [ranks[u["level"]] for u in body["units"]]
    assert body["units"] and levels == sorted(levels, reverse=True)
    assert body["units_total"] >= len(body["units"])


def test_identify_a_unit_gives_events_controls_people_and_date(client, plant):
    body = client.get("/api/identify", params={"unit": "CY-01-04"}).json()
    unit = body["units"][0]
    source = next(u for u in plant.units if u.id == "CY-01-04")
    assert unit["name"] == source.name and unit["level"] == "significant"
    assert unit["last_assessed"] == source.last_assessed.isoformat()
    assert unit["path"] == ["储运系统", "罐区"]
    assert unit["explanation"].startswith(f"单元“{source.name}”为较大风险；决定事件“T-104甲醇泄漏引发火灾爆炸”")
    assert "LEC D = 200" in unit["explanation"] and "160 ≤ D < 320" in unit["explanation"]
    assert [e["name"] for e in unit["events"]][0] == "T-104甲醇泄漏引发火灾爆炸"
    assert len(unit["events"]) == len(source.events)
    first = unit["events"][0]
    assert first["score"] == "200" and first["controls"][0]["person"] == "顾明轩"
    assert unit["responsible_people"][0] == "钱海峰" and "顾明轩" in unit["responsible_people"]
    assert [r["id"] for r in body["regions"]] == ["CA"]


def test_identify_an_overridden_unit_says_why(client):
    unit = client.get("/api/identify", params={"unit": "CY-01"}).json()["units"][0]
    assert unit["override"]["level"] == "major"
    assert unit["explanation"].startswith("单元“罐区”判定为重大风险")


def test_identify_outside_the_plant_finds_nothing(client):
    body = client.get("/api/identify", params={"lon": 100.0, "lat": 20.0}).json()
    assert body["regions"] == [] and body["units"] == [] and body["units_total"] == 0


@pytest.mark.parametrize(("params", "status", "start"), [
    ({}, 422, "请给出点击位置"),
    ({"unit": "NOPE"}, 404, "没有编号为"),
    ({"region": "NOPE"}, 404, "没有编号为"),
    ({"lon": 500, "lat": 0}, 422, "请求参数有误"),
    ({"lon": 120, "lat": 32, "enterprise": "不存在"}, 404, "没有名为 “不存在” 的企业"),
])
def test_identify_bad_input_is_a_chinese_4xx(client, params, status, start):
    resp = client.get("/api/identify", params=params)
    assert resp.status_code == status and resp.json()["detail"].startswith(start)


def test_search_ranks_exact_then_prefix_then_contains(client):
    body = client.get("/api/search", params={"q": "罐区"}).json()
    names = [(r["kind"], r["name"]) for r in body["results"]]
    assert names[:2] == [("region", "罐区"), ("unit", "罐区")]
    assert all("罐区" in name for _, name in names)
    assert body["total"] >= len(names)
    assert body["results"][0]["bbox"] is not None
    by_id = client.get("/api/search", params={"q": "cy-01-04"}).json()["results"]
    assert by_id[0]["id"] == "CY-01-04" and by_id[0]["path"] == ["储运系统", "罐区"]
    assert client.get("/api/search", params={"q": "罐", "limit": 3}).json()["results"].__len__() == 3
    assert client.get("/api/search", params={"q": ""}).status_code == 422


def test_search_and_identify_return_hostile_names_verbatim(tmp_path):
    from riskmap.store import open_store

    settings = Settings(db=f"sqlite:///{tmp_path / 'hostile.db'}")
    load_demo(settings)
    store = open_store(settings.db)
    name = store.enterprises()[0].name
    units = store.units(name)
    next(u for u in units if u.id == "CY-01-07").name = HOSTILE
    store.save_units(name, units)
    store.close()
    with TestClient(create_app(Settings(db=settings.db))) as client:
        found = client.get("/api/search", params={"q": "<IMG src"}).json()["results"]
        assert [r["name"] for r in found] == [HOSTILE]
        unit = client.get("/api/identify", params={"unit": found[0]["id"]}).json()["units"][0]
        assert unit["name"] == HOSTILE and HOSTILE in unit["explanation"]
        page = client.get("/map", params={"region": "CA"}).text
        assert HOSTILE not in page


def test_a_new_data_version_gives_new_answers(tmp_path):
    from riskmap.domain import Override
    from riskmap.levels import Level
    from riskmap.store import open_store

    settings = Settings(db=f"sqlite:///{tmp_path / 'change.db'}")
    load_demo(settings)
    with TestClient(create_app(Settings(db=settings.db))) as client:
        before = client.get("/api/map/version").json()["data_version"]
        low = client.get("/api/map/config").json()["legend"][0]["regions"]
        assert client.get("/api/identify", params={"region": "B0"}).json()["regions"][0]["level"] == "low"
        store = open_store(settings.db)
        name = store.enterprises()[0].name
        units = store.units(name)
        next(u for u in units if u.id == "XZ-03").override = Override(Level.MAJOR, "测试", "manual")
        store.save_units(name, units)
        store.close()
        assert client.get("/api/map/version").json()["data_version"] > before
        assert client.get("/api/map/config").json()["legend"][0]["regions"] == low + 1
        assert client.get("/api/identify", params={"region": "B0"}).json()["regions"][0]["level"] == "major"
        assert client.post("/api/map/prepare").status_code == 202


def test_map_page_links(client):
    page = client.get("/map").text
    config = json.loads(re.search(r'id="riskmap-config">(.*?)</script>', page, re.S).group(1))
    assert config["urls"]["print"] == "/print/poster.pdf"
    assert config["urls"]["identify"] == "/api/identify" and config["urls"]["search"] == "/api/search"
    query = parse_qs(urlparse(config["layers"][0]["tilejson"]).query)
    assert query["enterprise"] == [config["enterprise"]]
    assert '<html lang="zh-CN">' in page and client.get("/map?lang=en").text.count('<html lang="en">') == 1


# ------------------------------------------------------------------------------------------- assets.sh


def test_assets_script_says_clearly_when_npm_is_missing(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "cat", "sha256sum", "cut", "mkdir", "cp", "mktemp", "rm", "grep", "sed"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    out = subprocess.run(["bash", str(ROOT / "scripts" / "assets.sh"), "--dest", str(tmp_path / "dest"),
                          "--force"], env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "未找到 npm" in out.stderr and "npm not found" in out.stderr


@needs_assets
def test_assets_script_is_idempotent():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "assets.sh")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    again = subprocess.run(["bash", str(ROOT / "scripts" / "assets.sh")], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_click_tolerance_hits_points_and_lines_not_polygon_edges():
    import shapely as sh

    from riskmap.api.routers.identify import PlantIndex, click_tolerance_deg
    from riskmap.domain import AssessmentUnit, Enterprise, Region, RiskEvent
    from riskmap.levels import Level
    from riskmap.plant import Plant

    def unit(uid, geom, level):
        return AssessmentUnit(id=uid, name=uid, geometry=geom, events=[RiskEvent(name="e", residual_level=level)])

    units = [unit("pump", sh.Point(120.0, 32.0), Level.MAJOR),
             unit("pipe", sh.LineString([(120.0, 32.0008), (120.001, 32.0008)]), Level.GENERAL),
             unit("hall", sh.box(119.9995, 31.9995, 120.0005, 32.0005), Level.LOW)]
    plant = Plant(Enterprise("1", "t"), None, units, [Region("R", "区", sh.box(119.999, 31.999, 120.001, 32.001))],
                  None, 1)
    index = PlantIndex(plant)
    tol = click_tolerance_deg(18)                       # 5 px at zoom 18, about 2.7e-5°
    ids = lambda lon, lat: [str(index.unit_ids[i]) for i in index.units_at(sh.Point(lon, lat), tol)]  # noqa: E731
    assert ids(120.0 + 0.5 * tol, 32.0) == ["pump", "hall"]          # highest level first
    assert ids(120.0 + 2 * tol, 32.0) == ["hall"]
    assert ids(120.0003, 32.0008 + 0.5 * tol) == ["pipe"]            # outside the hall, near the pipe
    assert ids(120.0005 + 0.5 * tol, 32.0) == []                     # near the hall's edge is not in it
    assert index.regions_at(sh.Point(120.0, 32.0)) == ["R"]


# ------------------------------------------------------------------------------------------------ editor


def _edit_config(page: str) -> dict:
    return json.loads(re.search(r'id="riskmap-edit-config">(.*?)</script>', page, re.S).group(1))


@needs_assets
def test_edit_page_loads_leaflet_geoman_from_the_server(client):
    resp = client.get("/edit")
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-cache"
    page = resp.text
    assert '<html lang="zh-CN">' in page and "总平面布置编辑" in page
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert [s.split("?")[0].rsplit("/", 1)[-1] for s in scripts] == ["leaflet.js", "leaflet-geoman.min.js", "dom.js",
                                                                           "edit.js"]
    for ref in scripts + re.findall(r'<link rel="stylesheet" href="([^"]+)"', page):
        got = client.get(ref)
        assert got.status_code == 200, ref
        assert webmap.external_urls(got.text) == [] or ref.endswith(".js"), ref
    config = _edit_config(page)
    assert config["urls"]["layout_items"] == "/ogc/collections/layout/items"
    assert config["urls"]["whoami"] == "/api/auth/me"
    assert {r["role"] for r in config["roles"]} >= {"region", "building", "equipment"}
    assert [lv["fill"] for lv in config["levels"]] == ["#FF0000", "#FF8C00", "#FFFF00", "#0070C0"]
    # The backdrop: region colours under the editor's own vector features (no layout tiles: it draws those).
    assert "regions" in [layer["name"] for layer in config["layers"] if layer["visible"]]
    assert "layout" not in [layer["name"] for layer in config["layers"]]
    assert client.get("/edit?lang=en").text.count("Layout editor") >= 1


def test_edit_page_escapes_user_text():
    from riskmap.levels import load_palette
    from riskmap.render import editpage

    config = editpage.edit_config(enterprise=f"{HOSTILE}</script><script>alert(2)</script>", data_version=1,
                                  bounds=None, lang="zh", palette=load_palette(), layers=[], urls={})
    assets = editpage.EditAssets(["/static/vendor/leaflet@1/dist/leaflet.js"], ["/static/app/edit.css?v=1"],
                                 "/static/app/favicon.svg?v=1")
    page = editpage.render_edit_page(config, assets)
    assert HOSTILE not in page and "<script>alert(2)" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in re.search(r"<title>(.*?)</title>", page).group(1)
    assert _edit_config(page)["enterprise"] == config["enterprise"]


def test_edit_page_refuses_an_outside_url():
    from riskmap.levels import load_palette
    from riskmap.render import editpage

    config = editpage.edit_config(enterprise="E", data_version=1, bounds=None, lang="zh", palette=load_palette(),
                                  layers=[], urls={})
    assets = editpage.EditAssets(["https://unpkg.com/leaflet/dist/leaflet.js"], [], "/favicon.svg")
    with pytest.raises(RuntimeError, match="outside"):
        editpage.render_edit_page(config, assets)
    with pytest.raises(RuntimeError, match="outside"):
        editpage.render_edit_page(config, editpage.EditAssets([], ["//cdn.example/x.css"], "/favicon.svg"))


def test_edit_page_with_several_enterprises_offers_a_choice(tmp_path):
    from riskmap.store import open_store

    url = f"sqlite:///{tmp_path / 'two.db'}"
    store = open_store(url)
    store.enterprise("甲公司")
    store.enterprise(HOSTILE)
    store.close()
    with TestClient(create_app(Settings(db=url))) as client:
        page = client.get("/edit")
        assert page.status_code == 200 and HOSTILE not in page.text
        assert len(re.findall(r'href="(/edit\?[^"]+)"', page.text)) == 2
        unknown = client.get("/edit", params={"enterprise": "<b>无</b>"})
    assert unknown.status_code == 404 and "<b>无</b>" not in unknown.text and "无法打开编辑器" in unknown.text


def test_editor_script_writes_user_text_as_text_only():
    """edit.js, map.js and dom.js never build HTML from strings: no innerHTML, outerHTML, insertAdjacentHTML or
    eval."""
    for name in ("edit.js", "map.js", "dom.js"):
        code = re.sub(r"/\*.*?\*/", "", (ROOT / "riskmap" / "static" / name).read_text(encoding="utf-8"), flags=re.S)
        code = re.sub(r"^\s*//.*$", "", code, flags=re.M)
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in code, (name, sink)


# -------------------------------------------------------------------------------- map: as-of, flags, staleness


def test_map_as_of_a_moment_carries_at_everywhere(client):
    from datetime import UTC, datetime, timedelta

    # whole seconds, rounded up: the demo may have been stored within this very second
    at = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = client.get("/map", params={"at": at})
    assert resp.status_code == 200, resp.text[:300]
    config = json.loads(re.search(r'id="riskmap-config">(.*?)</script>', resp.text, re.S).group(1))
    assert config["at"] == at and config["poll_seconds"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", config["at_local"])
    assert all(row["units"] is None for row in config["legend"])       # today's counts are not the past's
    for layer in config["layers"]:
        if layer["name"] != "basemap":
            assert parse_qs(urlparse(layer["tilejson"]).query)["at"] == [at], layer
    assert "edit" in config["urls"]
    same = client.get("/api/map/config", params={"at": at}).json()
    assert same["at"] == at


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01", "1999-01-01T08:00", "<script>", "9" * 200])
def test_map_with_a_bad_moment_is_a_readable_4xx_page(client, at):
    resp = client.get("/map", params={"at": at})
    assert 400 <= resp.status_code < 500, (at, resp.status_code)
    assert resp.headers["content-type"].startswith("text/html")
    assert "无法显示地图" in resp.text and "<script>" not in resp.text.split("</style>", 1)[1]
    api = client.get("/api/map/config", params={"at": at})
    assert 400 <= api.status_code < 500 and "/ " in api.json()["detail"]


def test_map_offers_staleness_flags_and_the_editor(client):
    from riskmap.api.routers import tiles

    config = client.get("/api/map/config").json()
    names = [layer["name"] for layer in config["layers"]]
    assert config["urls"]["edit"] == "/edit" and config["at"] is None
    assert {"staleness", "labels"} <= set(tiles.DATA_LAYERS)
    assert "staleness" in names and not next(x for x in config["layers"] if x["name"] == "staleness")["visible"]
    assert len(config["staleness_legend"]) >= 3
    for row in config["staleness_legend"]:
        assert row["zh"] and row["en"] and (row["fill"] or row["outline"]), row
        assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", c) for c in (row["fill"], row["outline"]) if c), row
    for layer in config["layers"]:
        if layer["name"] in ("regions", "units"):
            assert parse_qs(urlparse(layer["tilejson"]).query)["labels"] == ["0"]
        tilejson = client.get(layer["tilejson"])
        assert tilejson.status_code == 200, layer
    assert config["urls"].get("flags") == "/api/flags"


def test_coverage_legend_swatches_are_what_the_coverage_tiles_draw(client):
    import base64
    import io

    import numpy as np
    from PIL import Image

    from riskmap.render.style import load_layer_style

    style = load_layer_style("coverage")
    rows = client.get("/api/map/config").json()["coverage_legend"]
    assert [r["key"] for r in rows] == [c.key for c in reversed(style.classes)]
    for row in rows:
        rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(row["image"].split(",", 1)[1]))).convert("RGBA"))
        h, w = rgba.shape[:2]
        cls = style.class_of(row["key"])
        if row["kind"] == "polygon" and cls.fill and not cls.hatch:
            want = np.array([int(cls.fill[k:k + 2], 16) for k in (1, 3, 5)])
            assert np.abs(rgba[h // 2, w // 2, :3].astype(int) - want).max() <= 2, row["key"]
        if cls.hatch:                                 # suspended: the hatch's strokes over the fill
            inner = rgba[6:h - 6, 6:w - 6, :3].reshape(-1, 3)
            assert len(np.unique(inner, axis=0)) > 2, row["key"]


def test_identify_and_search_as_of_a_moment_answer_for_that_moment(tmp_path):
    """Popups and search of a historical map (?at=) explain the plant as it was, not as it is."""
    import time
    from datetime import UTC, datetime

    from riskmap.store import open_store, tokens

    settings = Settings(db=f"sqlite:///{tmp_path / 'asof.db'}")
    load_demo(settings)
    store = open_store(settings.db)
    token = tokens.create_token(store, "editor", "测试")[0]
    store.close()
    time.sleep(1.1)
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)
    with TestClient(create_app(Settings(db=settings.db))) as client:
        old = client.get("/ogc/collections/layout/items/CA")
        assert old.status_code == 200
        old_name = old.json()["properties"]["name"]
        changed = client.patch("/ogc/collections/layout/items/CA", json={"properties": {"name": "改名后的罐区"}},
                               headers={"Authorization": f"Bearer {token}", "If-Match": old.headers["etag"],
                                        "Content-Type": "application/merge-patch+json"})
        assert changed.status_code == 200, changed.text
        now = client.get("/api/identify", params={"region": "CA"}).json()
        then = client.get("/api/identify", params={"region": "CA", "at": before}).json()
        assert now["regions"][0]["name"] == "改名后的罐区" and then["regions"][0]["name"] == old_name
        past = client.get("/api/search", params={"q": "改名后", "at": before}).json()
        assert past["results"] == []
        assert client.get("/api/search", params={"q": "改名后"}).json()["results"][0]["id"] == "CA"
        page = client.get("/map", params={"region": "CA", "at": before})
        assert page.status_code == 200 and old_name in page.text and "改名后的罐区" not in page.text
        bad = client.get("/api/identify", params={"region": "CA", "at": "not-a-moment"})
        assert bad.status_code == 422 and "ISO 8601" in bad.json()["detail"]
