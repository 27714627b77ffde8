"""What web and desktop GIS clients need from the HTTP service, checked at the HTTP level: CORS (anonymous reads from
any origin, credentials and writes only from named origins), preflights, HEAD on every GET, brotli/gzip, ETag and
Last-Modified on lists, application/geo+json, forwarded headers from trusted proxies only; OGC API Features Part 2
CRS, Part 3 queryables and CQL2 filters, sortby, one geometry type per collection; OGC API Tiles documents and
tiles; WMTS capabilities; the generated styles (MapLibre, QML, SLD) against layers/.
"""

from __future__ import annotations

import gzip
import io
import json
import xml.etree.ElementTree as ET

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import shape

from riskmap.api.app import create_app
from riskmap.render.style import load_layer_style
from riskmap.settings import Settings
from riskmap.vocabulary import item_fields, tile_fields

ORIGIN = "http://park-platform.example"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _centre_tile(client, z: int = 17) -> tuple[int, int]:
    """(x, y) of the z tile at the plant's centre (from the TileJSON)."""
    import morecantile

    lon, lat = client.get("/tiles/units/tilejson.json").json()["center"][:2]
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
    return tile.x, tile.y


@pytest.fixture(scope="module")
def client(demo_db_url):
    with TestClient(create_app(Settings(db=demo_db_url)), client=("192.0.2.10", 5000)) as c:
        yield c


def _items(client, collection: str, **params) -> dict:
    resp = client.get(f"/ogc/collections/{collection}/items", params={"limit": 10000, **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


# ---------------------------------------------------------------------------------------------- transport


def test_cors_lets_any_origin_read_without_credentials(client):
    for path in ("/ogc/collections", "/tiles/regions/tilejson.json?format=mvt", "/api/regions.geojson",
                 "/styles/risk/style.json", "/wmts/1.0.0/WMTSCapabilities.xml", "/tiles/regions/17/109226/53098.mvt"):
        resp = client.get(path, headers={"Origin": ORIGIN})
        assert resp.status_code == 200, path
        assert resp.headers["access-control-allow-origin"] == "*", path
        assert "access-control-allow-credentials" not in resp.headers, path
        assert "ETag" in resp.headers["access-control-expose-headers"], path
        # nobody gets the token rules, so the answer is the same with or without an Origin: no Vary on it
        bare = client.get(path)
        assert bare.headers["access-control-allow-origin"] == "*", path
        assert "Origin" not in bare.headers.get("vary", "") and "Origin" not in resp.headers.get("vary", ""), path
    pre = client.options("/ogc/collections/regions/items", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "if-none-match"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"
    assert "GET" in pre.headers["access-control-allow-methods"]
    # a token or a write from an origin nobody named: the preflight refuses it
    for method, header in (("PATCH", "content-type"), ("GET", "authorization")):
        refused = client.options("/ogc/collections/layout/items/B1", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": header})
        assert refused.status_code == 400, (method, header)


def test_the_readers_cors_headers_replace_any_an_answer_set_itself():
    from riskmap.api.transport import CorsByOrigin

    async def answer(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"access-control-allow-origin", b"https://a.example"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    c = TestClient(CorsByOrigin(answer, ["*"], []))
    for headers in ({}, {"Origin": ORIGIN}):
        got = c.get("/", headers=headers)
        assert got.headers.get_list("access-control-allow-origin") == ["*"] and got.text == "ok"
        assert "vary" not in got.headers


def test_cors_origins_and_token_origins_from_the_settings(demo_db_url):
    settings = Settings(db=demo_db_url, cors_origins="http://a.example", cors_token_origins=ORIGIN)
    with TestClient(create_app(settings)) as c:
        assert c.get("/ogc/", headers={"Origin": "http://a.example"}).headers["access-control-allow-origin"] == \
            "http://a.example"
        assert "access-control-allow-origin" not in c.get("/ogc/", headers={"Origin": "http://b.example"}).headers
        pre = c.options("/ogc/collections/layout/items/B1", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, if-match, content-type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ORIGIN
        assert pre.headers["access-control-allow-credentials"] == "true"
        got = c.get("/ogc/", headers={"Origin": ORIGIN})
        assert got.headers["access-control-allow-origin"] == ORIGIN and "Origin" in got.headers["vary"]


def test_head_answers_every_get_without_a_body(client):
    for path in ("/ogc/collections", "/ogc/collections/regions/items", "/api/regions.geojson",
                 "/tiles/regions/17/109226/53098.png", "/map", "/styles/risk/style.sld"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"], path
        if "content-length" in get.headers and path != "/map":       # (the page carries a fresh nonce)
            assert head.headers["content-length"] == get.headers["content-length"], path
    assert client.head("/api/evaluate").status_code == 405          # POST only: no GET, no HEAD


def _timeless(body: bytes) -> bytes:
    """The body with its ISO 8601 moments blanked (a FeatureCollection's timeStamp)."""
    import re

    return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", b"T", body)


def test_brotli_and_gzip_for_vector_tiles_geojson_and_html_never_for_png(client):
    import cramjam

    x, y = _centre_tile(client)
    for path, media in (("/ogc/collections/units_areas/items?limit=500", "application/geo+json"),
                        (f"/tiles/units/17/{x}/{y}.mvt", "application/vnd.mapbox-vector-tile"),
                        ("/ogc/collections/units_areas/items?f=html", "text/html")):
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and len(plain.content) > 512, path
        packed = client.get(path, headers={"Accept-Encoding": "br"})
        assert packed.headers["content-encoding"] == "br" and packed.headers["content-type"].startswith(media)
        raw = packed.content if packed.content != plain.content else None
        if raw is not None:        # httpx leaves br alone without a brotli package
            # the answers name the moment they were made (timeStamp): two requests may fall in two seconds
            assert _timeless(bytes(cramjam.brotli.decompress(raw))) == _timeless(plain.content), path
        zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and _timeless(zipped.content) == _timeless(plain.content)
        assert "Accept-Encoding" in zipped.headers["vary"]
    from riskmap.api.routers.static import vendor_assets

    assets = vendor_assets()        # a streamed file of a type never compressed arrives whole
    if assets.root is not None:
        image = "dist/images/marker-icon-2x.png"
        sent = client.get(assets.url("leaflet", image), headers={"Accept-Encoding": "gzip, br"})
        assert "content-encoding" not in sent.headers
        assert sent.content == (assets.root / "leaflet" / image).read_bytes()
    png = client.get(f"/tiles/regions/17/{x}/{y}.png", headers={"Accept-Encoding": "gzip, br"})
    assert "content-encoding" not in png.headers and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert gzip  # (gzip decoding is httpx's own)


def test_lists_carry_validators_and_answer_304(client):
    for path in ("/ogc/collections", "/ogc/collections/regions", "/ogc/collections/regions/items",
                 "/ogc/collections/units_areas/queryables", "/api/regions.geojson", "/api/units.geojson",
                 "/styles/risk/style.json", "/wmts/1.0.0/WMTSCapabilities.xml", "/ogc/collections/regions/tiles"):
        first = client.get(path)
        etag, modified = first.headers["etag"], first.headers.get("last-modified")
        assert etag.startswith('W/"') and modified, path
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304, path
        assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304, path
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200, path
    other_page = client.get("/ogc/collections/regions/items", params={"limit": 5})
    assert other_page.headers["etag"] != client.get("/ogc/collections/regions/items").headers["etag"]
    geo = client.get("/api/units.geojson")
    assert geo.headers["content-type"].startswith("application/geo+json")
    assert {f.name for f in item_fields("units")} == set(geo.json()["features"][0]["properties"])


def test_links_use_forwarded_headers_from_trusted_proxies_only(demo_db_url):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gis.plant.example", "X-Forwarded-Prefix": "/rm"}
    for address, base in (("127.0.0.1", "https://gis.plant.example/rm"), ("192.0.2.7", "http://riskmap.plant:8080")):
        with TestClient(create_app(Settings(db=demo_db_url)), base_url="http://riskmap.plant:8080",
                        client=(address, 4000)) as c:
            links = [link["href"] for link in c.get("/ogc/collections", headers=forwarded).json()["links"]]
            tilejson = c.get("/tiles/regions/tilejson.json", headers=forwarded).json()["tiles"][0]
            style = c.get("/styles/risk/style.json", headers=forwarded).json()["sources"]["regions"]["url"]
            caps = c.get("/wmts/1.0.0/WMTSCapabilities.xml", headers=forwarded).text
        assert all(href.startswith(base + "/ogc/") for href in links), (address, links)
        assert tilejson.startswith(base + "/tiles/regions/") and style.startswith(base + "/tiles/"), address
        assert f'template="{base}/wmts/1.0.0/regions/' in caps, address
    # a TileJSON's validator changes with the address its links name: no 304 hands one host's links to another
    with TestClient(create_app(Settings(db=demo_db_url)), client=("127.0.0.1", 4000)) as c:
        tag = c.get("/tiles/regions/tilejson.json").headers["etag"]
        assert c.get("/tiles/regions/tilejson.json", headers={"If-None-Match": tag}).status_code == 304
        moved = c.get("/tiles/regions/tilejson.json", headers={"If-None-Match": tag, **forwarded})
        assert moved.status_code == 200 and moved.json()["tiles"][0].startswith("https://gis.plant.example/rm/")


# ---------------------------------------------------------------------------------------------- OGC API Features


def test_every_listed_collection_has_one_geometry_type_and_the_vocabulary(client):
    listed = client.get("/ogc/collections").json()["collections"]
    assert [c["id"] for c in listed] == ["regions", "units_areas", "units_lines", "units_points", "layout_areas",
                                         "layout_lines", "layout_points", "hazards_points", "hazards_areas",
                                         "coverage_areas", "coverage_lines", "coverage_points"]
    everything = {kind: len(_items(client, kind)["features"]) for kind in ("units", "layout", "hazards", "coverage")}
    for info in listed:
        features = _items(client, info["id"])["features"]
        assert info["itemCount"] == len(features)
        types = {f["geometry"]["type"] for f in features}
        assert len(types) <= 1 and (not types or types == {info["geometryType"]}), (info["id"], types)
        kind = info["id"].split("_")[0]
        if features:
            assert list(features[0]["properties"]) == [f.name for f in item_fields(kind)], info["id"]
        assert CRS84 in info["crs"] and info["storageCrs"] == CRS84
        assert any(link["rel"].endswith("/queryables") for link in info["links"])
    for kind, total in everything.items():         # the parts add up to the whole
        assert sum(i["itemCount"] for i in listed if i["id"].startswith(kind + "_")) == total


def test_crs_parameter_and_bbox_crs(client):
    wgs = _items(client, "regions")["features"]
    info = client.get("/ogc/collections/regions").json()
    assert "http://www.opengis.net/def/crs/EPSG/0/4549" in info["crs"], info["crs"]   # CM 120°E, the plant's zone
    first = shape(wgs[0]["geometry"]).representative_point()
    # (first axis, second axis) ranges of the plant: latitude first for 4326/4490, northing first for the zone
    axes = {4326: ((30, 35), (115, 125)), 4490: ((30, 35), (115, 125)), 3857: ((1.3e7, 1.4e7), (3.7e6, 3.9e6)),
            4549: ((3.5e6, 3.7e6), (4e5, 6e5))}
    for code, (first_range, second_range) in axes.items():
        uri = f"http://www.opengis.net/def/crs/EPSG/0/{code}"
        resp = client.get("/ogc/collections/regions/items", params={"crs": uri, "limit": 1})
        assert resp.headers["content-crs"] == f"<{uri}>"
        geom = shape(resp.json()["features"][0]["geometry"])
        a, b = np.asarray(shapely.get_coordinates(geom))[0]
        assert first_range[0] < a < first_range[1] and second_range[0] < b < second_range[1], (code, a, b)
        expected = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}").transform(first.x, first.y)
        assert geom.buffer(1e-6 if code in (4326, 4490) else 0.05).contains(shapely.Point(expected)), code
    assert client.get("/ogc/collections/regions/items").headers["content-crs"] == f"<{CRS84}>"
    bad = client.get("/ogc/collections/regions/items", params={"crs": "EPSG:2000"})
    assert bad.status_code == 400 and "crs" in bad.json()["detail"]
    # bbox in EPSG:4326 is latitude first; in the Gauss-Krüger zone northing first
    lon0, lat0, lon1, lat1 = shapely.total_bounds([shape(f["geometry"]) for f in wgs[:3]])
    by_crs84 = {f["id"] for f in _items(client, "regions", bbox=f"{lon0},{lat0},{lon1},{lat1}")["features"]}
    by_4326 = {f["id"] for f in _items(client, "regions", bbox=f"{lat0},{lon0},{lat1},{lon1}",
                                          **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})["features"]}
    assert by_crs84 == by_4326 and len(by_crs84) >= 3
    n0, e0, n1, e1 = Transformer.from_crs("OGC:CRS84", "EPSG:4549").transform_bounds(lon0, lat0, lon1, lat1)
    by_gk = {f["id"] for f in _items(client, "regions", bbox=f"{n0},{e0},{n1},{e1}",
                                        **{"bbox-crs": "EPSG:4549"})["features"]}
    assert by_gk == by_crs84


def test_queryables_and_cql2_filters(client):
    q = client.get("/ogc/collections/units_areas/queryables")
    assert q.headers["content-type"].startswith("application/schema+json")
    doc = q.json()
    assert {"level", "kind", "name", "rank"} <= set(doc["properties"])
    assert doc["properties"]["level"]["enum"] == ["major", "significant", "general", "low"]
    assert doc["properties"]["geometry"]["format"] in ("geometry-polygon", "geometry-multipolygon")
    assert set(client.get("/ogc/collections/layout_lines/queryables").json()["properties"]) >= {"role", "name"}
    units = _items(client, "units_areas")["features"]
    props = [f["properties"] for f in units]

    def ids(text: str, collection: str = "units_areas") -> list[str]:
        resp = client.get(f"/ogc/collections/{collection}/items", params={"filter": text, "limit": 10000})
        assert resp.status_code == 200, resp.text
        return [f["id"] for f in resp.json()["features"]]

    assert ids("level = 'major'") == [f["id"] for f, p in zip(units, props, strict=True) if p["level"] == "major"]
    assert ids("level = '重大风险'") == ids("level = 'major'")                       # Chinese names too
    high = {"major", "significant"}
    assert ids("level >= 'significant'") == [f["id"] for f, p in zip(units, props, strict=True) if p["level"] in high]
    assert ids("level IN ('low', 'general') AND kind = 'main'") == [
        f["id"] for f, p in zip(units, props, strict=True) if p["level"] in ("low", "general") and p["kind"] == "main"]
    tank = next(p["name"] for p in props if "罐" in (p["name"] or ""))
    assert tank and all("罐" in props[[f["id"] for f in units].index(i)]["name"] for i in ids("name LIKE '%罐%'"))
    unassessed = [f["id"] for f, p in zip(units, props, strict=True) if p["level"] is None]
    assert ids("level IS NULL") == unassessed
    assert len(ids("NOT (level = 'major')")) == len(units) - len(ids("level = 'major'")) - len(unassessed)
    roads = ids("role = 'road'", "layout_lines")
    assert roads and set(roads) == {f["id"] for f in _items(client, "layout_lines")["features"]
                                    if f["properties"]["role"] == "road"}
    for text, words in (("level = ", "filter"), ("colourz = 'x'", "colourz"), ("S_INTERSECTS(geometry, POINT(1 2))",
                                                                               "filter")):
        bad = client.get("/ogc/collections/units_areas/items", params={"filter": text})
        assert bad.status_code == 400 and words in bad.json()["detail"], (text, bad.text)
    assert client.get("/ogc/collections/units_areas/items",
                      params={"filter": "level = 'major'", "filter-lang": "cql2-json"}).status_code == 400


def test_sortby(client):
    by_name = [f["properties"]["name"] for f in _items(client, "regions", sortby="name")["features"]]
    assert by_name == sorted(by_name)
    levels = [f["properties"]["rank"] for f in _items(client, "regions", sortby="-level,name")["features"]]
    assert levels == sorted(levels, reverse=True) and levels[0] == 4
    assert client.get("/ogc/collections/regions/items", params={"sortby": "-nope"}).status_code == 400


def test_conformance_claims_what_is_served(client):
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert not any(c.endswith("/oas30") for c in classes)            # the API definition is OpenAPI 3.1
    for part in ("ogcapi-features-2/1.0/conf/crs", "ogcapi-features-3/1.0/conf/filter", "cql2/1.0/conf/cql2-text",
                 "ogcapi-tiles-1/1.0/conf/core", "ogcapi-tiles-1/1.0/conf/mvt"):
        assert any(c.endswith(part) for c in classes), part
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")


# ---------------------------------------------------------------------------------------------- tiles


def test_ogc_tilesets_and_tiles(client):
    sets = client.get("/ogc/tileMatrixSets").json()["tileMatrixSets"]
    assert {s["id"] for s in sets} == {"WebMercatorQuad", "WorldCRS84Quad"}
    tms = client.get("/ogc/tileMatrixSets/WebMercatorQuad").json()
    assert tms["tileMatrices"][17]["matrixWidth"] == 2 ** 17 and tms["tileMatrix"][17]["identifier"] == "17"
    vector = client.get("/ogc/collections/units_areas/tiles").json()["tilesets"]
    assert {t["dataType"] for t in vector} == {"vector"} and len(vector) == 2
    tileset = client.get("/ogc/collections/units_areas/tiles/WebMercatorQuad").json()
    item = next(link for link in tileset["links"] if link["rel"] == "item")
    assert item["type"] == "application/vnd.mapbox-vector-tile" and "{tileMatrix}/{tileRow}/{tileCol}" in item["href"]
    limit = next(lim for lim in tileset["tileMatrixSetLimits"] if lim["tileMatrix"] == "17")
    x, y = _centre_tile(client)
    assert limit["minTileCol"] <= x <= limit["maxTileCol"] and limit["minTileRow"] <= y <= limit["maxTileRow"]
    tile = client.get(f"/ogc/collections/units_areas/tiles/WebMercatorQuad/17/{y}/{x}")
    assert tile.status_code == 200
    layer = mapbox_vector_tile.decode(tile.content)["units_areas"]
    assert {f["geometry"]["type"] for f in layer["features"]} <= {"Polygon", "MultiPolygon"}
    fills = {i: c.fill for i, c in enumerate(load_layer_style("units").classes)}
    assert all(fills[f["properties"]["rank"]] == f["properties"]["colour"] for f in layer["features"])
    ranks = [f["properties"]["rank"] for f in layer["features"]]
    assert ranks == sorted(ranks)                                        # in the draw order
    assert client.get(tile.url.path, headers={"If-None-Match": tile.headers["etag"]}).status_code == 304
    crs84 = client.get("/ogc/collections/regions/tiles/WorldCRS84Quad").json()
    lim = crs84["tileMatrixSetLimits"][-1]
    t84 = client.get(f"/ogc/collections/regions/tiles/WorldCRS84Quad/{lim['tileMatrix']}/{lim['minTileRow']}/"
                     f"{lim['minTileCol']}")
    assert t84.status_code == 200
    assert client.get("/ogc/collections/regions/tiles/NoSuchTMS").status_code == 404
    maps = client.get("/ogc/collections/regions/map/tiles/WebMercatorQuad").json()
    png = next(link for link in maps["links"] if link["rel"] == "item")["href"]
    assert "/tiles/regions/{tileMatrix}/{tileCol}/{tileRow}.png" in png


def test_tilejson_and_metadata_fields_are_what_the_tiles_carry(client):
    for layer in ("regions", "units", "layout"):
        doc = client.get(f"/tiles/{layer}/tilejson.json", params={"format": "mvt"}).json()
        fields = doc["vector_layers"][0]["fields"]
        assert fields == tile_fields(layer), layer
        z = max(doc["minzoom"], 17)
        lon, lat = doc["center"][:2]
        import morecantile

        t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
        found = set()
        for dx in (-1, 0, 1):
            body = client.get(f"/tiles/{layer}/{z}/{t.x + dx}/{t.y}.mvt").content
            for feature in mapbox_vector_tile.decode(body).get(layer, {}).get("features", []):
                found |= set(feature["properties"])
        assert found and found <= set(fields), (layer, found - set(fields))
        assert {"rank", "colour"} <= found
        meta = client.get(f"/tiles/{layer}/metadata.json").json()
        assert json.loads(meta["json"])["vector_layers"][0]["fields"] == fields


def test_wmts_capabilities_kvp_and_rest_and_exceptions(client):
    ns = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
    for path in ("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities", "/wmts/1.0.0/WMTSCapabilities.xml"):
        root = ET.fromstring(client.get(path).content)
        layers = [el.find("ows:Identifier", ns).text for el in root.findall("w:Contents/w:Layer", ns)]
        assert layers == ["regions", "units", "layout", "labels", "staleness", "hazards"]
        assert root.find("w:Contents/w:TileMatrixSet/w:WellKnownScaleSet", ns).text.endswith("GoogleMapsCompatible")
    tile = client.get("/wmts", params={"SERVICE": "WMTS", "REQUEST": "GetTile", "LAYER": "regions", "STYLE": "default",
                                       "TILEMATRIXSET": "WebMercatorQuad", "TILEMATRIX": "17", "TILEROW": "53098",
                                       "TILECOL": "109226", "FORMAT": "image/png"})
    same = client.get("/tiles/regions/17/109226/53098.png")
    assert tile.status_code == 200 and tile.content == same.content
    rest = client.get("/wmts/1.0.0/regions/default/WebMercatorQuad/17/53098/109226.png")
    assert rest.content == same.content
    # the hidden hazards are a WMTS layer too: the same tile as /tiles/hazards, with a symbol on it
    import morecantile
    from PIL import Image

    found = client.get("/ogc/collections/hazards_points/items", params={"limit": 1}).json()["features"][0]
    lon, lat = found["geometry"]["coordinates"]
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 19)
    hazards = client.get(f"/wmts/1.0.0/hazards/default/WebMercatorQuad/19/{t.y}/{t.x}.png")
    assert hazards.status_code == 200 and hazards.content == client.get(f"/tiles/hazards/19/{t.x}/{t.y}.png").content
    assert np.asarray(Image.open(io.BytesIO(hazards.content)).convert("RGBA"))[..., 3].max() == 255
    for params, code in (({"REQUEST": "GetTile", "LAYER": "x", "TILEMATRIXSET": "WebMercatorQuad", "TILEMATRIX": "1",
                           "TILEROW": "0", "TILECOL": "0"}, 400), ({"REQUEST": "Nope"}, 400),
                         ({"REQUEST": "GetTile", "LAYER": "regions", "TILEMATRIXSET": "WebMercatorQuad",
                           "TILEMATRIX": "2", "TILEROW": "9", "TILECOL": "0"}, 404)):
        bad = client.get("/wmts", params={"SERVICE": "WMTS", **params})
        assert bad.status_code == code and b"ExceptionReport" in bad.content, params


# ---------------------------------------------------------------------------------------------- styles


def test_maplibre_style_matches_layers(client):
    doc = client.get("/styles/risk/style.json").json()
    assert doc["version"] == 8 and set(doc["sources"]) == {"regions", "units", "layout", "labels", "hazards"}
    by_id = {layer["id"]: layer for layer in doc["layers"]}
    ids = [layer["id"] for layer in doc["layers"]]
    assert ids.index("regions-fill") < ids.index("units-fill") < ids.index("layout-road-line") < ids.index("labels")
    for name in ("regions", "units"):
        fill = by_id[f"{name}-fill"]
        assert fill["layout"]["fill-sort-key"] == ["get", "rank"]
        match = fill["paint"]["fill-color"]
        colours = dict(zip(match[2:-1:2], match[3:-1:2], strict=True))
        assert colours == {i: c.fill for i, c in enumerate(load_layer_style(name).classes)}
    stale = {layer["id"]: layer for layer in client.get("/styles/staleness/style.json").json()["layers"]}
    assert stale["staleness-flagged"]["paint"]["line-color"] == load_layer_style("staleness").class_of("flagged") \
        .outline.colour
    legend = doc["metadata"]["riskmap:legend"]["units"]["entries"]
    assert legend[-1]["key"] == "none" and legend[-1]["zh"] == "未评估" and legend[0]["key"] == "major"
    tilejson = client.get(doc["sources"]["units"]["url"].split("testserver", 1)[1]).json()
    assert tilejson["tiles"][0].endswith(".mvt" + tilejson["tiles"][0].split(".mvt", 1)[1])


def test_qml_and_sld_follow_the_draw_order(client):
    qml = client.get("/styles/risk/units_areas.qml")
    root = ET.fromstring(qml.text.split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer.get("attr") == "rank" and renderer.get("symbollevels") == "1"
    style = load_layer_style("units")
    passes = {int(s.get("name")): [int(layer.get("pass")) for layer in s.findall("layer")]
              for s in renderer.find("symbols")}
    assert all(passes[r][0] == r for r in passes)                     # each class's fill on its own level
    assert all(p[-1] == len(style.classes) for p in passes.values())  # neutral outlines above every fill
    sld = ET.fromstring(client.get("/styles/risk/style.sld").content)
    ns = {"sld": "http://www.opengis.net/sld", "ogc": "http://www.opengis.net/ogc"}
    named = {n.find("sld:Name", ns).text: n for n in sld.findall("sld:NamedLayer", ns)}
    assert set(named) == {"regions", "units_areas", "units_lines", "units_points", "layout_areas", "layout_lines",
                          "layout_points"}
    fts = named["regions"].findall("sld:UserStyle/sld:FeatureTypeStyle", ns)
    ranks = [int(f.find("sld:Rule/ogc:Filter/ogc:PropertyIsEqualTo/ogc:Literal", ns).text) for f in fts]
    assert ranks == sorted(ranks) == list(range(5))
    fills = [f.find("sld:Rule/sld:PolygonSymbolizer/sld:Fill/sld:CssParameter", ns).text for f in fts]
    assert fills == [c.fill for c in load_layer_style("regions").classes]
    assert client.get("/styles/nope/style.json").status_code == 404
    assert client.get("/styles/risk/nope.qml").status_code == 404
