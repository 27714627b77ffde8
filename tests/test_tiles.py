"""Tile endpoints on the demo plant: PNG pixels against the palette, MVT decoded, TileJSON, caching headers, 404s,
the unit edit (PATCH /api/units/{id}) and the raster basemap."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from kit import (
    MVT_TYPE,
    PALETTE,
    TMS,
    copy_db,
    hex_rgb,
    make_client,
    map_rows,
    nearest_level,
    pixel_of,
    rgba,
)

from riskmap.api.app import create_app
from riskmap.levels import Level
from riskmap.render.style import load_layer_style
from riskmap.settings import Settings

# ---------------------------------------------------------------------------------------------- helpers


def clear_points(rows: list[dict], z: int, min_px: float = 4.0) -> list[tuple[dict, shapely.Point]]:
    """For polygon features, a point deep inside where no feature drawn over it lies, `min_px` pixels from any
    such edge at z. Drawn over it: one that comes later in riskmap.render.order's order (a higher level, or the
    same level and smaller)."""
    from riskmap.render.order import draw_order

    geoms = np.array([r["geometry"] for r in rows], dtype=object)
    levels = np.array([r["level"] for r in rows], dtype=object)
    order = draw_order(np.array([_rank(v) for v in levels]), geoms,
                       np.array([r.get("kind") for r in rows], dtype=object))
    later = np.empty(len(rows), np.int64)
    later[order] = np.arange(len(rows))
    tree = shapely.STRtree(geoms)
    cell = TMS.matrix(z).cellSize
    out = []
    for r in rows:
        g = r["geometry"]
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        near = [i for i in tree.query(g, predicate="intersects") if geoms[i] is not g]
        me = later[rows.index(r)]
        higher = [geoms[i] for i in near if levels[i] != r["level"] and later[i] > me]
        edges = [shapely.buffer(shapely.boundary(geoms[i]), 2 * cell) for i in near]   # outlines drawn there
        free = shapely.difference(g, shapely.union_all(higher + edges)) if near else g
        if shapely.is_empty(free) or shapely.area(free) < (min_px * cell) ** 2:
            continue
        circle = shapely.maximum_inscribed_circle(free, cell / 4)
        if shapely.length(circle) < min_px * cell:
            continue
        out.append((r, shapely.get_point(circle, 0)))
    return out


def _rank(level: str | None) -> int:
    return Level(level).rank if level else 0


@pytest.fixture(scope="module")
def client(demo_db) -> TestClient:
    return make_client(f"sqlite:///{demo_db}")


@pytest.fixture
def edit_client(demo_db, tmp_path) -> TestClient:
    """A client on a private copy of the demo, for tests that change data (sending an editor token)."""
    from riskmap.store import open_store
    from riskmap.store.tokens import create_token

    url = copy_db(demo_db, tmp_path)
    with open_store(url) as store:
        token, _ = create_token(store, "editor", "tile-tests")
    client = make_client(url)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def tilejson(client: TestClient, layer: str, **params) -> dict:
    r = client.get(f"/tiles/{layer}/tilejson.json", params=params)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------------------------------------- PNG


@pytest.mark.parametrize(("layer", "z"), [("regions", 15), ("units", 18)])
def test_png_pixels_at_known_points_match_the_palette(client, demo_db, layer, z):
    rows = map_rows(f"sqlite:///{demo_db}", layer)
    points = clear_points([r for r in rows if r["level"] is not None], z)
    levels = {r["level"] for r, _ in points}
    assert {"major", "significant", "general", "low"} <= levels, levels
    bodies: dict[tuple, np.ndarray] = {}
    checked = 0
    for row, point in points:
        tile, col, row_px = pixel_of(point.x, point.y, z)
        key = (tile.x, tile.y)
        if key not in bodies:
            r = client.get(f"/tiles/{layer}/{z}/{tile.x}/{tile.y}.png")
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            bodies[key] = rgba(r.content)
        px = bodies[key][row_px, col]
        want = hex_rgb(load_layer_style(layer).class_of(row["level"]).fill)
        assert px[3] == 255, (row["key"], px)                    # opaque: no colour blends with another
        assert nearest_level(px, layer) == Level(row["level"]), (row["key"], row["level"], px)
        assert np.abs(px[:3].astype(int) - want).max() <= 4, (row["key"], px, want)
        checked += 1
    assert checked >= 8
    # low is blue (#0070C0), never green
    assert tuple(hex_rgb(PALETTE.colour(Level.LOW))) == (0x00, 0x70, 0xC0)


def test_png_2x_is_512_and_agrees_with_1x(client, demo_db):
    rows = map_rows(f"sqlite:///{demo_db}", "regions")      # z15: below the label zoom, fills only
    row, point = clear_points(rows, 15, min_px=6)[0]
    tile, col, row_px = pixel_of(point.x, point.y, 15)
    one = rgba(client.get(f"/tiles/regions/15/{tile.x}/{tile.y}.png").content)
    two = rgba(client.get(f"/tiles/regions/15/{tile.x}/{tile.y}@2x.png").content)
    assert one.shape == (256, 256, 4) and two.shape == (512, 512, 4)
    want = hex_rgb(load_layer_style("regions").class_of(row["level"]).fill)
    assert np.abs(two[row_px * 2, col * 2, :3].astype(int) - want).max() <= 4
    # the same places are painted at both scales
    assert abs((one[..., 3] > 0).mean() - (two[..., 3] > 0).mean()) < 0.02


def test_hatch_draws_a_pattern_over_the_fill(client, demo_db):
    rows = map_rows(f"sqlite:///{demo_db}", "regions")
    row, point = max(clear_points(rows, 17, min_px=20), key=lambda rp: rp[0]["geometry"].area)
    tile, col, row_px = pixel_of(point.x, point.y, 17)
    plain = rgba(client.get(f"/tiles/regions/17/{tile.x}/{tile.y}.png").content)
    hatched = rgba(client.get(f"/tiles/regions/17/{tile.x}/{tile.y}.png?hatch=1").content)
    window = (slice(row_px - 8, row_px + 8), slice(col - 8, col + 8))
    assert not np.array_equal(plain[window], hatched[window])
    assert client.get(f"/tiles/regions/17/{tile.x}/{tile.y}.png?hatch=maybe").status_code == 422


def test_empty_tiles_are_valid_and_transparent(client):
    far = TMS.tile(100.0, 20.0, 16)
    r = client.get(f"/tiles/regions/16/{far.x}/{far.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = rgba(r.content)
    assert img.shape == (256, 256, 4) and not img[..., 3].any()
    r = client.get(f"/tiles/units/16/{far.x}/{far.y}.mvt")
    assert r.status_code == 200 and r.headers["content-type"] == MVT_TYPE and r.content == b""
    assert mapbox_vector_tile.decode(r.content) == {}
    # below the layer's minimum zoom (units start at 14): empty, even over the plant
    tj = tilejson(client, "units")
    t = TMS.tile(tj["center"][0], tj["center"][1], 12)
    assert not rgba(client.get(f"/tiles/units/12/{t.x}/{t.y}.png").content)[..., 3].any()
    assert client.get(f"/tiles/units/12/{t.x}/{t.y}.mvt").content == b""


# ---------------------------------------------------------------------------------------------- MVT


def test_mvt_features_ids_and_attributes(client, demo_db):
    url = f"sqlite:///{demo_db}"
    tj = tilejson(client, "regions", format="mvt")
    lon, lat = tj["center"][:2]
    for layer, key_field in (("regions", "region_id"), ("units", "unit_id"), ("layout", "source_id")):
        z = max(16, tilejson(client, layer, format="mvt")["minzoom"])
        tile = TMS.tile(lon, lat, z)
        r = client.get(f"/tiles/{layer}/{z}/{tile.x}/{tile.y}.mvt")
        assert r.status_code == 200 and r.headers["content-type"] == MVT_TYPE
        decoded = mapbox_vector_tile.decode(r.content)
        assert list(decoded) == [layer]
        assert decoded[layer]["extent"] == 4096
        feats = decoded[layer]["features"]
        assert feats
        rows = {rec["key"]: rec for rec in map_rows(url, layer)}
        for f in feats:
            props = f["properties"]
            rec = rows[props[key_field]]
            assert f["id"] == rec["feature_id"]             # stable integer id from the snapshot
            assert props.get("name") == rec["name"]
            assert all(v is not None for v in props.values())
            if layer != "layout":
                assert props.get("level") == rec["level"]
                if rec["level"]:
                    assert props["level_zh"] == Level(rec["level"]).zh
                assert props.get("last_assessed") == rec["last_assessed"]
            else:
                assert props.get("role") == rec["kind"]
            coords = np.array(shapely.get_coordinates(shapely.geometry.shape(f["geometry"])))
            assert coords.min() >= -256 and coords.max() <= 4096 + 256
    # a region's level in the tile equals the region risk of the API
    regions = {r["id"]: r for r in client.get("/api/regions").json()}
    feats = mapbox_vector_tile.decode(client.get(f"/tiles/regions/16/{tile.x}/{tile.y}.mvt").content)["regions"]
    for f in feats["features"]:
        api = regions[f["properties"]["region_id"]]
        assert f["properties"]["level"] == api["level"]
        assert f["properties"].get("decided_by") == api["decided_by"]


def test_feature_ids_are_stable_across_requests_and_versions(edit_client):
    tj = tilejson(edit_client, "units", format="mvt")
    z = tj["minzoom"]                                    # the units' vector tiles start here
    tile = TMS.tile(tj["center"][0], tj["center"][1], z)

    def ids():
        body = edit_client.get(f"/tiles/units/{z}/{tile.x}/{tile.y}.mvt").content
        return {f["properties"]["unit_id"]: f["id"] for f in mapbox_vector_tile.decode(body)["units"]["features"]}

    before = ids()
    unit_id = sorted(before)[0]
    assert edit_client.patch(f"/api/units/{unit_id}",
                             json={"override": {"level": "major", "reason": "测试"}}).status_code == 200
    assert ids() == before


# ---------------------------------------------------------------------------------------------- TileJSON


def test_tilejson_fields_and_absolute_versioned_urls(client):
    png = tilejson(client, "regions")
    assert png["tilejson"] == "3.0.0"
    assert "区域风险" in png["name"] and "区域" in png["description"]
    v = png["data_version"]
    url = png["tiles"][0]
    assert url.startswith("http://testserver/tiles/regions/{z}/{x}/{y}.png?")
    query = parse_qs(urlsplit(url).query)
    assert query["v"] == [str(v)] and query["enterprise"]
    assert png["minzoom"] == 10 and png["maxzoom"] == 24 and png["scheme"] == "xyz"
    west, south, east, north = png["bounds"]
    assert 119.7 < west < east < 119.8 and 32.3 < south < north < 32.33
    lon, lat, zoom = png["center"]
    assert west < lon < east and south < lat < north and 10 <= zoom <= 20
    # the URL works as given: immutable, the current version
    t = TMS.tile(lon, lat, 16)
    r = client.get(url.format(z=16, x=t.x, y=t.y))
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"

    mvt = tilejson(client, "units", format="mvt")
    assert mvt["tiles"][0].split("?")[0].endswith("/tiles/units/{z}/{x}/{y}.mvt")
    (vl,) = mvt["vector_layers"]
    assert vl["id"] == "units" and {"name", "level", "level_zh", "last_assessed", "unit_id"} <= set(vl["fields"])
    assert tilejson(client, "layout", scale=2)["tiles"][0].split("?")[0].endswith("{y}@2x.png")
    assert "hatch=1" in tilejson(client, "regions", hatch=1)["tiles"][0]
    assert client.get("/tiles/nope/tilejson.json").status_code == 404


def test_tilejson_uses_the_configured_base_url(demo_db):
    c = make_client(f"sqlite:///{demo_db}", base_url="https://map.example.cn/riskmap/")
    url = tilejson(c, "regions")["tiles"][0]
    assert url.startswith("https://map.example.cn/riskmap/tiles/regions/{z}/{x}/{y}.png?")


# ---------------------------------------------------------------------------------------------- caching


def test_etag_and_304_for_unversioned_urls(client):
    tj = tilejson(client, "regions")
    t = TMS.tile(tj["center"][0], tj["center"][1], 16)
    r = client.get(f"/tiles/regions/16/{t.x}/{t.y}.png")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    etag = r.headers["etag"]
    assert etag.startswith('"') and str(tj["data_version"]) in etag
    again = client.get(f"/tiles/regions/16/{t.x}/{t.y}.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = client.get(f"/tiles/regions/16/{t.x}/{t.y}.png", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == r.content
    # each tile, format and style option has its own tag
    assert client.get(f"/tiles/regions/16/{t.x}/{t.y}.mvt").headers["etag"] != etag
    assert client.get(f"/tiles/regions/16/{t.x + 1}/{t.y}.png").headers["etag"] != etag
    assert client.get(f"/tiles/regions/16/{t.x}/{t.y}.png?hatch=1").headers["etag"] != etag


def test_versioned_urls_are_immutable_and_old_versions_redirect(edit_client):
    tj = tilejson(edit_client, "units", format="mvt")
    v = tj["data_version"]
    unit_id = "CY-01-02"                       # a methanol tank: no major hazard rule forces its level
    c = next(r for r in map_rows(str(edit_client.app.state.settings.db), "units") if r["key"] == unit_id)["geometry"]
    t, _, _ = pixel_of(c.centroid.x, c.centroid.y, 17)
    path = f"/tiles/units/17/{t.x}/{t.y}.mvt"
    r = edit_client.get(path, params={"v": v})
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"
    feats = {f["properties"]["unit_id"]: f for f in mapbox_vector_tile.decode(r.content)["units"]["features"]}
    assert feats[unit_id]["properties"]["level"] == "significant"
    assert edit_client.patch(f"/api/units/{unit_id}",
                             json={"override": {"level": "low", "reason": "复核后降级"}}).status_code == 200
    old = edit_client.get(path, params={"v": v, "enterprise": tj["name"].split(" · ")[0]}, follow_redirects=False)
    assert old.status_code == 302 and old.headers["cache-control"] == "no-store"
    location = urlsplit(old.headers["location"])
    assert location.path == path and parse_qs(location.query)["v"] == [str(v + 1)]
    assert "enterprise" in parse_qs(location.query)
    new = edit_client.get(old.headers["location"])
    assert new.status_code == 200 and new.headers["cache-control"].endswith("immutable")
    feats = {f["properties"]["unit_id"]: f for f in mapbox_vector_tile.decode(new.content)["units"]["features"]}
    assert feats[unit_id]["properties"]["level"] == "low"
    # a future or garbage version is not served as immutable either
    assert edit_client.get(path, params={"v": v + 50}, follow_redirects=False).status_code == 302
    assert edit_client.get(path, params={"v": "abc"}).status_code == 422


def test_versioned_tiles_are_private_while_reading_needs_a_token(demo_db):
    """A shared front cache (deploy/nginx.conf's proxy_cache, a CDN) keeps `public` answers for everyone: while
    reading needs a token, a versioned tile is `private` (only the reader's own browser keeps it), on the routes
    and on the fast path alike, the hazards' tiles included."""
    from riskmap.store import open_store
    from riskmap.store.tokens import create_token

    with open_store(f"sqlite:///{demo_db}") as store:
        token, _ = create_token(store, "reader", "private-tiles")
    client = make_client(f"sqlite:///{demo_db}", read_requires_token=True)
    tj = client.get("/tiles/regions/tilejson.json", headers={"Authorization": f"Bearer {token}"}).json()
    v = tj["data_version"]
    lon, lat = tj["center"][:2]
    t, _, _ = pixel_of(lon, lat, 17)
    for layer in ("regions", "units", "hazards"):
        path = f"/tiles/{layer}/17/{t.x}/{t.y}.png"
        assert client.get(path, params={"v": v}).status_code == 401
        for _ in range(2):                      # the second from the tile cache (the fast path where it applies)
            r = client.get(path, params={"v": v}, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.headers["cache-control"] == "private, max-age=31536000, immutable"
        assert client.get(path, params={"v": v}).status_code == 401
    assert make_client(f"sqlite:///{demo_db}").get(f"/tiles/regions/17/{t.x}/{t.y}.png", params={"v": v}) \
        .headers["cache-control"] == "public, max-age=31536000, immutable"


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("path", [
    "/tiles/nope/16/0/0.png",            # unknown layer
    "/tiles/regions/3/8/0.png",          # x outside the grid at z3
    "/tiles/regions/3/0/9.mvt",
    "/tiles/regions/25/0/0.png",         # zoom beyond 24
    "/tiles/regions/-1/0/0.png",
    "/tiles/regions/a/b/c.png",
    "/tiles/units/3/0/0@2x.png?enterprise=没有这家企业",
    "/tiles/basemap/3/0/0.png",          # no basemap configured
])
def test_404s_have_chinese_messages(client, path):
    r = client.get(path)
    assert r.status_code == 404, r.text
    detail = r.json()["detail"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in detail.split("/")[0]), detail


def test_several_enterprises_need_a_name(demo_db, tmp_path):
    from riskmap.store import open_store

    url = copy_db(demo_db, tmp_path)
    with open_store(url) as store:
        store.enterprise("另一家企业")
    c = make_client(url)
    assert c.get("/tiles/regions/3/0/0.png").status_code == 422
    assert c.get("/tiles/regions/3/0/0.png?enterprise=另一家企业").status_code == 200


# ---------------------------------------------------------------------------------------------- edits


def _unit_in_tile(client: TestClient, unit_id: str, z: int = 17) -> dict:
    tj = tilejson(client, "units", format="mvt")
    rows = [r for r in map_rows(str(client.app.state.settings.db), "units") if r["key"] == unit_id]
    c = rows[0]["geometry"].centroid
    tile, _, _ = pixel_of(c.x, c.y, z)
    body = client.get(f"/tiles/units/{z}/{tile.x}/{tile.y}.mvt", params={"v": tj["data_version"]}).content
    return {f["properties"]["unit_id"]: f["properties"] for f in mapbox_vector_tile.decode(body)["units"]["features"]}[
        unit_id]


def test_patch_override_and_back(edit_client):
    from riskmap.store import open_store

    url = str(edit_client.app.state.settings.db)
    with open_store(url) as store:
        name = store.enterprises()[0].name
        v0 = store.data_version(name)
        ledger0 = store.ledger_info(name)["version"]
        units0 = {u.id: u for u in store.units(name)}
    unit_id = "CY-01-02"
    before = _unit_in_tile(edit_client, unit_id)["level"]
    r = edit_client.patch(f"/api/units/{unit_id}", json={"override": {"level": "重大", "reason": "涉及重大危险源"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == "major" and body["level_zh"] == "重大风险"
    assert body["override"] == {"level": "major", "level_zh": "重大风险", "reason": "涉及重大危险源", "rule": "manual"}
    assert body["data_version"] == v0 + 1 and body["ledger_version"] == ledger0 + 1
    assert _unit_in_tile(edit_client, unit_id)["level"] == "major"
    with open_store(url) as store:
        assert store.data_version(name) == v0 + 1
        info = store.ledger_info(name)
        assert info["action"] == "edit" and info["unit_count"] == len(units0)
        units1 = {u.id: u for u in store.units(name)}
        assert list(units1) == list(units0)                      # same tree, same order
        assert units1[unit_id].override.level == Level.MAJOR
        assert all(units1[k].level() == units0[k].level() for k in units0 if k != unit_id)
        assert store.units(name, version=ledger0)[list(units0).index(unit_id)].override is None   # history kept
    r = edit_client.patch(f"/api/units/{unit_id}", json={"override": None})
    assert r.status_code == 200 and r.json()["override"] is None
    assert r.json()["level"] == before == _unit_in_tile(edit_client, unit_id)["level"]


def test_patch_event_inputs_are_re_evaluated(edit_client):
    from riskmap.store import open_store

    url = str(edit_client.app.state.settings.db)
    with open_store(url) as store:
        name = store.enterprises()[0].name
        unit = next(u for u in store.units(name) if u.events and u.events[0].inputs and u.override is None
                    and u.major_hazard is None and len(u.events) == 1)
    ev = unit.events[0]
    r = edit_client.patch(f"/api/units/{unit.id}", json={"events": [{"id": ev.id, "inputs": {"L": 10, "E": 6,
                                                                                             "C": 40}}]})
    assert r.status_code == 200, r.text
    got = r.json()["events"][0]
    assert got["score"] == "2400" and got["level"] == "major" and r.json()["level"] == "major"
    assert _unit_in_tile(edit_client, unit.id)["level"] == "major"
    r = edit_client.patch(f"/api/units/{unit.id}", json={"events": [{"id": ev.id, "inputs": {"L": 0.5, "E": 1,
                                                                                             "C": 1}}]})
    assert r.json()["events"][0]["score"] == "0.5" and r.json()["level"] == "low"


@pytest.mark.parametrize(("body", "status"), [
    ({"override": {"level": "purple", "reason": "x"}}, 422),
    ({"override": {"level": "major", "reason": "  "}}, 422),
    ({"override": {"level": "major"}}, 422),
    ({}, 422),
    ({"colour": "red"}, 422),
    ({"events": [{"id": "没有的事件", "inputs": {"L": 1, "E": 1, "C": 1}}]}, 422),
    ({"events": [{"id": "CY-01-02-E01", "inputs": {"L": 7, "E": 1, "C": 1}}]}, 422),
    ({"events": [{"id": "CY-01-02-E01", "inputs": {}}]}, 422),
])
def test_patch_validation_errors(edit_client, body, status):
    from riskmap.store import open_store

    url = str(edit_client.app.state.settings.db)
    with open_store(url) as store:
        v0 = store.data_version(store.enterprises()[0].name)
    r = edit_client.patch("/api/units/CY-01-02", json=body)
    assert r.status_code == status, r.text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["detail"])
    with open_store(url) as store:
        assert store.data_version(store.enterprises()[0].name) == v0        # nothing written


def test_patch_unknown_unit_or_enterprise_is_404(edit_client):
    r = edit_client.patch("/api/units/没有这个单元", json={"override": None})
    assert r.status_code == 404 and "没有" in r.json()["detail"]
    r = edit_client.patch("/api/units/CY-01-02?enterprise=别家", json={"override": None})
    assert r.status_code == 404


# ---------------------------------------------------------------------------------------------- basemap


def make_geotiff(path: Path) -> tuple[float, float, float, float]:
    """A 200×100 px RGB GeoTIFF in EPSG:4549 (CGCS2000 / 3-degree GK CM 120E) over the demo plant: left half
    red, right half blue. Returns its lon/lat bounds."""
    import rasterio
    from pyproj import Transformer
    from rasterio.transform import from_origin

    to_plan = Transformer.from_crs(4326, 4549, always_xy=True)
    x0, y0 = to_plan.transform(119.742, 32.322)
    data = np.zeros((3, 100, 200), np.uint8)
    data[0, :, :100] = 255
    data[2, :, 100:] = 255
    with rasterio.open(path, "w", driver="GTiff", width=200, height=100, count=3, dtype="uint8", crs="EPSG:4549",
                       transform=from_origin(x0, y0, 2.0, 2.0)) as dst:
        dst.write(data)
    back = Transformer.from_crs(4549, 4326, always_xy=True)
    west, north = back.transform(x0, y0)
    east, south = back.transform(x0 + 400, y0 - 200)
    return west, south, east, north


def test_raster_basemap_tiles(demo_db, tmp_path, monkeypatch):
    tif = tmp_path / "aerial.tif"
    west, south, east, north = make_geotiff(tif)
    monkeypatch.setenv("RISKMAP_BASEMAP", str(tif))
    c = make_client(f"sqlite:///{demo_db}")
    tj = c.get("/tiles/basemap/tilejson.json").json()
    assert tj["tilejson"] == "3.0.0" and tj["name"] == "底图"
    b = tj["bounds"]
    assert abs(b[0] - west) < 1e-4 and abs(b[3] - north) < 1e-4
    assert "v=" in tj["tiles"][0] and tj["tiles"][0].startswith("http://testserver/tiles/basemap/")

    from pyproj import Transformer

    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    for lon, want in (((west * 3 + east) / 4, (255, 0, 0)), ((west + east * 3) / 4, (0, 0, 255))):
        x, y = to_merc.transform(lon, (south + north) / 2)
        tile, col, row = pixel_of(x, y, 17)
        r = c.get(f"/tiles/basemap/17/{tile.x}/{tile.y}.png")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache" and "etag" in r.headers
        img = rgba(r.content)
        assert tuple(img[row, col]) == (*want, 255)
        two = rgba(c.get(f"/tiles/basemap/17/{tile.x}/{tile.y}@2x.png").content)
        assert two.shape == (512, 512, 4) and tuple(two[row * 2, col * 2]) == (*want, 255)
    # outside the raster: transparent; the edge tile is partly transparent
    far = TMS.tile(100.0, 20.0, 17)
    assert not rgba(c.get(f"/tiles/basemap/17/{far.x}/{far.y}.png").content)[..., 3].any()
    x, y = to_merc.transform(west, north)
    tile, col, row = pixel_of(x, y, 17)
    edge = rgba(c.get(f"/tiles/basemap/17/{tile.x}/{tile.y}.png").content)
    assert edge[..., 3].any() and not edge[..., 3].all()
    assert edge[max(row - 3, 0), max(col - 3, 0), 3] == 0
    v = parse_qs(urlsplit(tj["tiles"][0]).query)["v"][0]
    r = c.get(f"/tiles/basemap/17/{tile.x}/{tile.y}.png?v={v}")
    assert r.headers["cache-control"].endswith("immutable")
    assert c.get(f"/tiles/basemap/17/{tile.x}/{tile.y}.png?v=old", follow_redirects=False).status_code == 302
    assert c.get(f"/tiles/basemap/17/{tile.x}/{tile.y}.mvt").status_code == 404


# ---------------------------------------------------------------------------------------------- fast path


@pytest.mark.parametrize("wrapped", [False, True], ids=["middleware", "outermost"])
def test_fast_path_answers_cached_tiles_exactly_like_the_routes(demo_db, monkeypatch, wrapped):
    from riskmap.api.routers import tiles as tiles_router

    url = f"sqlite:///{demo_db}"
    # uncompressed answers: the fast path put outside the app here is outside its compression layer too
    identity = {"Accept-Encoding": "identity"}
    plain = TestClient(create_app(Settings(db=url), fast_tiles=False), headers=identity)
    if wrapped:
        fast = TestClient(tiles_router.wrap_fast_path(create_app(Settings(db=url), fast_tiles=False)),
                          headers=identity)
    else:
        fast_app = create_app(Settings(db=url), fast_tiles=False)
        tiles_router.install_fast_path(fast_app)
        fast = TestClient(fast_app, headers=identity)
    tj = tilejson(plain, "units")
    v = tj["data_version"]
    t = TMS.tile(tj["center"][0], tj["center"][1], 17)
    paths = [f"/tiles/units/17/{t.x}/{t.y}.png", f"/tiles/units/17/{t.x}/{t.y}@2x.png?hatch=1",
             f"/tiles/regions/17/{t.x}/{t.y}.mvt?v={v}", f"/tiles/layout/17/{t.x}/{t.y}.png?v={v}&hatch=0"]
    for p in paths:                                       # fill both caches through the routes
        assert plain.get(p).status_code == fast.get(p).status_code == 200
    calls = []
    real = tiles_router._tile

    async def counted(*args, **kwargs):
        calls.append(args[1:6])
        return await real(*args, **kwargs)

    monkeypatch.setattr(tiles_router, "_tile", counted)
    compared = ("content-type", "content-length", "etag", "cache-control")
    for p in paths:
        a, b = plain.get(p), fast.get(p)
        assert (a.status_code, a.content) == (b.status_code, b.content), p
        assert {h: a.headers.get(h) for h in compared} == {h: b.headers.get(h) for h in compared}, p
        etag = a.headers["etag"]
        if "v=" not in p:
            a, b = (c.get(p, headers={"If-None-Match": etag}) for c in (plain, fast))
            assert a.status_code == b.status_code == 304
            assert {h: a.headers.get(h) for h in compared} == {h: b.headers.get(h) for h in compared}
    plain_calls = len(calls)
    assert plain_calls == len(paths) + 2                  # only the plain app went through the routes
    # what the fast path does not know goes on to the routes, with their answers
    for p, status in (("/tiles/units/17/0/0.mvt", 200), ("/tiles/units/3/9/0.png", 404),
                      (f"/tiles/units/17/{t.x}/{t.y}.png?hatch=x", 422),
                      (f"/tiles/units/17/{t.x}/{t.y}.png?enterprise=无", 404),
                      (f"/tiles/units/17/{t.x}/{t.y}.png?v=x", 422)):
        r = fast.get(p, follow_redirects=False)
        assert r.status_code == status, (p, r.status_code)
    assert len(calls) == plain_calls + 4                  # (the bad hatch is refused before _tile)
    # an old version is sent on by the fast path itself, to the address the routes give
    old = f"/tiles/units/17/{t.x}/{t.y}.png?labels=0&v={v - 1}"
    a, b = plain.get(old, follow_redirects=False), fast.get(old, follow_redirects=False)
    assert a.status_code == b.status_code == 302 and len(calls) == plain_calls + 5
    assert a.headers["location"] == b.headers["location"] and b.headers["location"].endswith(f"v={v}")
    assert a.headers["cache-control"] == b.headers["cache-control"] == "no-store"


def test_basemap_folder_has_one_file_per_enterprise(demo_db, tmp_path, monkeypatch):
    from riskmap.store import open_store

    with open_store(f"sqlite:///{demo_db}") as store:
        name = store.enterprises()[0].name
    folder = tmp_path / "basemaps"
    folder.mkdir()
    make_geotiff(folder / f"{name}.tif")
    monkeypatch.setenv("RISKMAP_BASEMAP", str(folder))
    c = make_client(f"sqlite:///{demo_db}")
    tj = c.get("/tiles/basemap/tilejson.json").json()          # the only enterprise
    assert tj["tiles"][0].startswith("http://testserver/tiles/basemap/{z}/{x}/{y}.png?")
    assert c.get("/tiles/basemap/tilejson.json", params={"enterprise": name}).status_code == 200
    r = c.get("/tiles/basemap/tilejson.json", params={"enterprise": "别家"})
    assert r.status_code == 404 and "底图" in r.json()["detail"]
