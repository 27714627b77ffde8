"""OGC API Features (read) on the demo plant and on a hostile second enterprise, through the ASGI app."""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import Point, Polygon, box, shape

from riskmap.api.app import create_app
from riskmap.api.ogc_data import LISTED, OgcParameterError, parse_bbox, parse_datetime, parse_limit
from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
from riskmap.geo.model import LayoutImport
from riskmap.levels import Level
from riskmap.settings import Settings

HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_ENTERPRISE = "恶意<script>alert('企业')</script>"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _clockwise_with_hole() -> Polygon:
    """A region drawn the wrong way round for RFC 7946: clockwise shell, counter-clockwise hole."""
    shell = box(120.0, 31.0, 120.001, 31.001, ccw=False).exterior.coords
    hole = box(120.0002, 31.0002, 120.0003, 31.0003, ccw=True).exterior.coords
    poly = Polygon(shell, [hole])
    assert not poly.exterior.is_ccw and poly.interiors[0].is_ccw
    return poly


def _add_hostile_enterprise(store) -> None:
    """A second enterprise whose names would run script if a page forgot to escape them."""
    gdf = gpd.GeoDataFrame(
        {"fid": ["R1", "E1"], "name": ["<b>区域</b>", HOSTILE], "role": ["region", "equipment"],
         "layer": ["区域", "设备"], "properties": [{}, {}]},
        geometry=[_clockwise_with_hole(), Point(120.0005, 31.0005).buffer(0.0001)], crs="EPSG:4326")
    store.save_layout(HOSTILE_ENTERPRISE, LayoutImport(gdf, "EPSG:4549", "hostile.geojson", "geojson"))
    units = [
        AssessmentUnit(id="U1", name="<b>区域</b>", kind=UnitKind.MAIN, feature_ref="R1"),
        AssessmentUnit(id="U/2 \"q\"", name=HOSTILE, kind=UnitKind.EQUIPMENT, parent_id="U1", feature_ref="E1",
                       events=[RiskEvent(name="<script>x</script>", residual_level=Level.MAJOR)],
                       last_assessed=date(2024, 3, 1)),
    ]
    store.save_units(HOSTILE_ENTERPRISE, units)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo plant plus the hostile enterprise in one SQLite file; the demo is the configured default."""
    from kit import DEMO_ENTERPRISE, copy_db, session_demo

    from riskmap.store import open_store

    settings = Settings(db=copy_db(session_demo(tmp_path_factory), tmp_path_factory.mktemp("ogc")),
                        enterprise=DEMO_ENTERPRISE)
    store = open_store(settings.db)
    _add_hostile_enterprise(store)
    yield settings, store
    store.close()


@pytest.fixture(scope="module")
def client(demo):
    settings, _ = demo
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def plant(demo):
    from riskmap.plant import load_plant

    settings, store = demo
    return load_plant(store, settings.enterprise)


def _json(resp, media_type="application/json"):
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].split(";")[0] == media_type
    return resp.json()


def _rel(doc, rel, media_type=None):
    found = [link["href"] for link in doc["links"]
             if link["rel"] == rel and (media_type is None or link.get("type") == media_type)]
    assert found, (rel, doc["links"])
    return found[0]


def _path(href):
    parts = urlsplit(href)
    return parts.path + ("?" + parts.query if parts.query else "")


def _all_items(client, url):
    """Follow next links to the end; returns the features and the pages seen."""
    features, pages = [], []
    while url:
        page = _json(client.get(url), "application/geo+json")
        pages.append(page)
        features += page["features"]
        nexts = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = _path(nexts[0]) if nexts else None
        assert len(pages) < 100
    return features, pages


def _error(resp, status):
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert CHINESE.search(detail), detail
    return detail


# ------------------------------------------------------------------------------------------ landing, conformance


def test_landing_page_links(client):
    doc = _json(client.get("/ogc/"))
    assert CHINESE.search(doc["title"])
    assert _path(_rel(doc, "service-desc")) == "/openapi.json"
    assert _path(_rel(doc, "service-doc")) == "/docs"
    assert _path(_rel(doc, "conformance")) == "/ogc/conformance"
    assert _path(_rel(doc, "data")) == "/ogc/collections"
    assert _path(_rel(doc, "alternate", "text/html")) == "/ogc/?f=html"
    api = _json(client.get(_path(_rel(doc, "service-desc"))))
    assert "/ogc/collections/{collection_id}/items" in api["paths"]
    assert client.get("/ogc").json() == doc     # without the slash too (GDAL asks for it so)


def test_conformance_classes(client):
    doc = _json(client.get("/ogc/conformance"))
    base = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    part4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/"
    assert {base + c for c in ("core", "geojson", "html")} | {
        part4 + c for c in ("create-replace-delete", "update", "features")} <= set(doc["conformsTo"])
    assert base + "oas30" not in doc["conformsTo"]            # /openapi.json is OpenAPI 3.1


# ------------------------------------------------------------------------------------------ collections


def test_collections_list_default_and_per_enterprise(client, demo):
    _, store = demo
    doc = _json(client.get("/ogc/collections"))
    ids = [c["id"] for c in doc["collections"]]
    ents = {e.name: e.id for e in store.enterprises()}
    expected = list(LISTED) + [f"e{eid}_{k}" for eid in ents.values() for k in LISTED]
    assert ids == expected
    hostile = next(c for c in doc["collections"] if c["id"] == f"e{ents[HOSTILE_ENTERPRISE]}_regions")
    assert hostile["title"].startswith(HOSTILE_ENTERPRISE) and hostile["itemCount"] == 1


def test_collection_metadata(client, plant):
    doc = _json(client.get("/ogc/collections/units"))
    assert doc["itemType"] == "feature" and CRS84 in doc["crs"]
    assert CHINESE.search(doc["title"]) and "/" in doc["title"]
    minx, miny, maxx, maxy = doc["extent"]["spatial"]["bbox"][0]
    assert doc["extent"]["spatial"]["crs"] == CRS84
    assert 119 < minx < maxx < 121 and 31 < miny < maxy < 33      # lon first, in the demo plant
    bounds = plant.features.total_bounds
    assert bounds[0] - 1e-6 <= minx and maxx <= bounds[2] + 1e-6
    dates = sorted(u.last_assessed for u in plant.units if u.last_assessed)
    start, end = doc["extent"]["temporal"]["interval"][0]
    assert start.startswith(dates[0].isoformat()) and end.startswith(dates[-1].isoformat())
    items = _rel(doc, "items", "application/geo+json")
    assert _path(items) == "/ogc/collections/units/items"


def test_item_counts_match_the_plant(client, plant):
    from riskmap.export import units_frame

    located = units_frame(plant)
    located = located[located.geometry.notna()]
    counts = {c["id"]: c["itemCount"] for c in _json(client.get("/ogc/collections"))["collections"]}
    assert counts["regions"] == len(plant.regions) == 29
    assert sum(counts[f"units_{p}"] for p in ("areas", "lines", "points")) == len(located)
    assert sum(counts[f"layout_{p}"] for p in ("areas", "lines", "points")) == len(plant.features) == 169


@pytest.mark.parametrize("path", ["/ogc/collections/nope", "/ogc/collections/nope/items",
                                  "/ogc/collections/e999_regions/items", "/ogc/collections/regions/items/nope",
                                  "/ogc/collections/regions/items?enterprise=不存在的企业"])
def test_unknown_things_are_404_in_chinese(client, path):
    _error(client.get(path), 404)


# ------------------------------------------------------------------------------------------ items


def test_units_paged_with_next_and_prev(client, plant):
    from riskmap.export import units_frame

    frame = units_frame(plant)
    expected = frame.loc[frame.geometry.notna(), "unit_id"].tolist()
    features, pages = _all_items(client, "/ogc/collections/units/items?limit=40")
    assert [f["id"] for f in features] == expected        # stable order, no gaps, no repeats
    full, rest = divmod(len(expected), 40)
    assert [p["numberReturned"] for p in pages] == [40] * full + ([rest] if rest else [])
    assert all(p["numberMatched"] == len(expected) for p in pages)
    assert not any(link["rel"] == "prev" for link in pages[0]["links"])
    prev = _path(_rel(pages[2], "prev"))
    assert parse_qs(urlsplit(prev).query)["offset"] == ["40"]
    assert not any(link["rel"] == "next" for link in pages[-1]["links"])
    stamp = datetime.fromisoformat(pages[0]["timeStamp"].replace("Z", "+00:00"))
    assert stamp.tzinfo is not None
    again, _ = _all_items(client, "/ogc/collections/units/items?limit=40")
    assert [f["id"] for f in again] == expected                  # ids stable across requests


def test_units_properties(client, plant):
    features, _ = _all_items(client, "/ogc/collections/units/items")
    by_id = {f["id"]: f["properties"] for f in features}
    tank = next(u for u in plant.units if u.id == "CY-01-01")
    props = by_id["CY-01-01"]
    assert props["name"] == tank.name and props["kind"] == "equipment" and props["parent_id"] == tank.parent_id
    assert props["level"] == tank.level().value and props["level_zh"] == tank.level().zh
    assert props["last_assessed"] == tank.last_assessed.isoformat()
    assert props["colour"] == "#FF8C00" and props["events"] == len(tank.events)


def test_regions_properties_and_explanation(client, plant):
    features, _ = _all_items(client, "/ogc/collections/regions/items")
    risks = {r.id: r for r in plant.region_risk()}
    assert {f["id"] for f in features} == set(risks)
    for feature in features:
        risk, props = risks[feature["id"]], feature["properties"]
        assert props["name"] == risk.name and props["method"] == "highest"
        assert props["level"] == (risk.level.value if risk.level else None)
        assert props["explanation"] == risk.explanation and not props["explanation"].startswith('"')
        assert props["decided_by"] == (risk.decided_by.name if risk.decided_by else None)
    assert {f["properties"]["level_zh"] for f in features} >= {"重大风险", "较大风险", "一般风险", "低风险"}
    weighted, _ = _all_items(client, "/ogc/collections/regions/items?method=weighted&which=inherent")
    assert {f["properties"]["method"] for f in weighted} == {"weighted"}
    assert {f["properties"]["which"] for f in weighted} == {"inherent"}


def test_geojson_is_rfc7946(client, demo):
    _, store = demo
    ent = next(e for e in store.enterprises() if e.name == HOSTILE_ENTERPRISE)
    features, _ = _all_items(client, "/ogc/collections/layout/items?limit=10000")
    hostile, _ = _all_items(client, f"/ogc/collections/e{ent.id}_layout/items")
    holes = polygons = 0
    for feature in features + hostile:
        geom = shape(feature["geometry"])
        x, y = shapely.get_coordinates(geom).T
        assert ((x > 119) & (x < 121)).all() and ((y > 30) & (y < 33)).all()   # lon, lat
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type == "Polygon":
                polygons += 1
                holes += len(poly.interiors)
                assert poly.exterior.is_ccw
                assert all(not ring.is_ccw for ring in poly.interiors)
    assert polygons > 50 and holes >= 1
    assert all("crs" not in f for f in features)


def test_bbox_filter_matches_shapely(client):
    features, _ = _all_items(client, "/ogc/collections/layout/items?limit=10000")
    window = (119.743, 32.319, 119.745, 32.3205)
    expected = [f["id"] for f in features if shape(f["geometry"]).intersects(box(*window))]
    assert 0 < len(expected) < len(features)
    got, pages = _all_items(client, "/ogc/collections/layout/items?bbox=" + ",".join(map(str, window)))
    assert [f["id"] for f in got] == expected and pages[0]["numberMatched"] == len(expected)
    far, _ = _all_items(client, "/ogc/collections/layout/items?bbox=170,-10,-170,10")   # over the antimeridian
    assert far == []
    six, _ = _all_items(client, "/ogc/collections/layout/items?bbox=119.743,32.319,0,119.745,32.3205,10")
    assert [f["id"] for f in six] == expected


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "119,33,120,32", "200,0,201,1", "nan,0,1,1", "", "1,2,3,4,5"])
def test_bad_bbox_is_400(client, bbox):
    _error(client.get("/ogc/collections/regions/items", params={"bbox": bbox}), 400)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "abc"}, {"limit": "-3"}, {"limit": "1.5"},
                                    {"offset": "-1"}, {"offset": "x"}, {"f": "xml"}, {"datetime": "yesterday"},
                                    {"datetime": "../.."}, {"datetime": "2024-05-01/2024-01-01"},
                                    {"bbox-crs": "EPSG:2000", "bbox": "0,0,1,1"}, {"method": "median"},
                                    {"level": "purple"}])
def test_bad_parameters_are_400(client, params):
    _error(client.get("/ogc/collections/regions/items", params=params), 400)


def test_parameters_for_other_collections_are_400(client):
    _error(client.get("/ogc/collections/regions/items?role=road"), 400)
    _error(client.get("/ogc/collections/layout/items?level=major"), 400)
    _error(client.get("/ogc/collections/units/items?method=weighted"), 400)


def test_limit_default_and_maximum(client):
    page = _json(client.get("/ogc/collections/layout/items"), "application/geo+json")
    assert page["numberReturned"] == 100 and page["numberMatched"] == 169
    assert parse_qs(urlsplit(_rel(page, "next")).query)["limit"] == ["100"]
    big = _json(client.get("/ogc/collections/layout/items?limit=50000"), "application/geo+json")
    assert big["numberReturned"] == 169          # lowered to 10,000, not an error
    assert parse_limit("50000") == 10_000 and parse_limit("9" * 40) == 10_000
    huge = _json(client.get("/ogc/collections/layout/items", params={"offset": "9" * 40}), "application/geo+json")
    assert huge["features"] == [] and huge["numberMatched"] == 169
    beyond = _json(client.get("/ogc/collections/layout/items?offset=500"), "application/geo+json")
    assert beyond["features"] == [] and beyond["numberMatched"] == 169
    assert parse_qs(urlsplit(_rel(beyond, "prev")).query)["offset"] == ["69"]


def test_role_and_level_filters(client, plant):
    roads, _ = _all_items(client, "/ogc/collections/layout/items?role=road,围墙")
    assert {f["properties"]["role"] for f in roads} == {"road", "fence"}
    assert len(roads) == int(plant.features["role"].isin(["road", "fence"]).sum())
    red, _ = _all_items(client, "/ogc/collections/units/items?level=重大,orange")
    assert {f["properties"]["level"] for f in red} == {"major", "significant"}


def test_datetime_filters_units_by_date_last_assessed(client, plant):
    day = next(u.last_assessed for u in plant.units if u.last_assessed and u.geometry is not None)
    from riskmap.export import units_frame

    frame = units_frame(plant)
    located = frame[frame.geometry.notna()]
    expected = located.loc[located["last_assessed"] == day.isoformat(), "unit_id"].tolist()
    got, _ = _all_items(client, f"/ogc/collections/units/items?datetime={day.isoformat()}")
    assert [f["id"] for f in got] == expected and expected
    later, _ = _all_items(client, f"/ogc/collections/units/items?datetime={day.isoformat()}T00:00:00Z/..")
    assert len(later) == int((located["last_assessed"] >= day.isoformat()).sum())
    layout_before, _ = _all_items(client, "/ogc/collections/layout/items?datetime=../2000-01-01T00:00:00Z")
    assert layout_before == []


# ------------------------------------------------------------------------------------------ one feature, ETag


def test_item_with_strong_etag_and_304(client, demo):
    settings, store = demo
    url = "/ogc/collections/units/items/CY-01-01"
    first = client.get(url)
    feature = _json(first, "application/geo+json")
    assert feature["id"] == "CY-01-01" and feature["type"] == "Feature"
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert client.get(url).headers["etag"] == etag
    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert client.get(url, headers={"If-None-Match": "W/" + etag}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other", ' + etag}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    html = client.get(url + "?f=html")
    assert html.headers["etag"] != etag
    # The tag is "<edit tag>.<digest>": a write elsewhere leaves it (and the 304) as it was ...
    assert etag.strip('"').split(".")[0].isdigit()
    enterprise = store.enterprise(settings.enterprise, create=False)
    store.update_enterprise(enterprise)
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    # ... a write of the unit itself changes it, even when the representation comes out the same.
    store.edit_unit(settings.enterprise, "CY-01-01", lambda unit: None, author="test")
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json() == feature


def test_item_links_and_percent_encoded_ids(client, demo):
    _, store = demo
    ent = next(e for e in store.enterprises() if e.name == HOSTILE_ENTERPRISE)
    page = _json(client.get(f"/ogc/collections/e{ent.id}_units/items"), "application/geo+json")
    odd = next(f for f in page["features"] if f["id"] == 'U/2 "q"')
    assert odd["properties"]["name"] == HOSTILE
    feature = _json(client.get(f"/ogc/collections/e{ent.id}_units/items/U%2F2%20%22q%22"), "application/geo+json")
    assert feature["id"] == 'U/2 "q"'
    self_link = _rel(feature, "self")
    assert _json(client.get(_path(self_link)), "application/geo+json")["id"] == 'U/2 "q"'


# ------------------------------------------------------------------------------------------ HTML


@pytest.mark.parametrize("path", ["/ogc/", "/ogc/conformance", "/ogc/collections", "/ogc/collections/regions",
                                  "/ogc/collections/regions/items", "/ogc/collections/regions/items/B0"])
def test_html_by_f_and_by_accept(client, path):
    by_f = client.get(path, params={"f": "html"})
    by_accept = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    for resp in (by_f, by_accept):
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        assert resp.text.startswith("<!DOCTYPE html>") and CHINESE.search(resp.text)
        assert "<script" not in resp.text.lower()
    json_resp = client.get(path, headers={"Accept": "application/json"})
    assert json_resp.headers["content-type"].split(";")[0] in ("application/json", "application/geo+json")
    assert client.get(path, headers={"Accept": "*/*"}).headers["content-type"].split(";")[0] != "text/html"


def test_html_escapes_every_user_string(client, demo):
    _, store = demo
    ent = next(e for e in store.enterprises() if e.name == HOSTILE_ENTERPRISE)
    pages = ["/ogc/collections?f=html", f"/ogc/collections/e{ent.id}_units?f=html",
             f"/ogc/collections/e{ent.id}_units/items?f=html", f"/ogc/collections/e{ent.id}_units/items/U1?f=html",
             f"/ogc/collections/e{ent.id}_units/items/U%2F2%20%22q%22?f=html",
             f"/ogc/collections/e{ent.id}_layout/items?f=html", f"/ogc/collections/e{ent.id}_regions/items?f=html",
             "/ogc/collections/units/items?f=html&enterprise=" + HOSTILE_ENTERPRISE]
    for page in pages:
        resp = client.get(page)
        assert resp.status_code == 200, (page, resp.text)
        text = resp.text
        assert "<img" not in text and "<script" not in text.lower() and "<b>" not in text, page
        assert "onerror=alert(1)" not in text.replace("&lt;img src=x onerror=alert(1)&gt;", ""), page
    items = client.get(f"/ogc/collections/e{ent.id}_units/items?f=html").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in items
    assert "&lt;b&gt;区域&lt;/b&gt;" in items and "U/2 &quot;q&quot;" in items
    listing = client.get("/ogc/collections?f=html").text
    assert "恶意&lt;script&gt;alert(&#x27;企业&#x27;)&lt;/script&gt;" in listing


def test_html_items_page_shows_level_colours_and_paging(client):
    from riskmap.render.style import load_layer_style

    style = load_layer_style("regions")          # the colour drawn: the regions' tint of each level colour
    text = client.get("/ogc/collections/regions/items?f=html&limit=10").text
    assert any(f'style="background:{style.class_of(level).fill}"' in text for level in ("major", "low"))
    assert "下一页" in text and "offset=10" in text


# ------------------------------------------------------------------------------------------ several enterprises


def test_several_enterprises_without_a_default(demo):
    settings, store = demo
    nodefault = Settings(db=settings.db, enterprise=None)
    with TestClient(create_app(nodefault)) as c:
        ids = [col["id"] for col in _json(c.get("/ogc/collections"))["collections"]]
        named = r"e\d+_(regions|(units|layout|coverage)_(areas|lines|points)|hazards_(points|areas))"
        assert ids and all(re.fullmatch(named, i) for i in ids)
        detail = _error(c.get("/ogc/collections/regions/items"), 400)
        assert "enterprise" in detail
        scoped = _json(c.get("/ogc/collections", params={"enterprise": settings.enterprise}))
        assert [col["id"] for col in scoped["collections"]] == list(LISTED)
        items = _rel(scoped["collections"][0], "items", "application/geo+json")
        assert parse_qs(urlsplit(items).query)["enterprise"] == [settings.enterprise]
        page = _json(c.get(_path(items)), "application/geo+json")
        assert page["numberMatched"] == 29


# ------------------------------------------------------------------------------------------ parsers


def test_parsers():
    assert parse_bbox("1,2,3,4") == [(1.0, 2.0, 3.0, 4.0)]
    assert parse_bbox("170,0,-170,10") == [(170.0, 0.0, 180.0, 10.0), (-180.0, 0.0, -170.0, 10.0)]
    assert parse_bbox(None) is None
    start, end = parse_datetime("2024-03-01")
    assert start.isoformat() == "2024-03-01T00:00:00+00:00" and end.date() == date(2024, 3, 1)
    start, end = parse_datetime("2024-03-01T08:00:00+08:00/..")
    assert start.isoformat() == "2024-03-01T00:00:00+00:00" and end is None
    assert parse_datetime("../2024-01-01")[0] is None
    for bad in ("2024-13-01", "2024-01-01/2024-01-02/2024-01-03", "T", "２０２４-01-01"):
        with pytest.raises(OgcParameterError):
            parse_datetime(bad)


# ------------------------------------------------------------------------------------------ sparse enterprises


def test_enterprises_with_little_or_no_data(tmp_path):
    """A layout without a ledger, a ledger without a layout, and a bare enterprise: empty collections, no 500."""
    from riskmap.store import open_store

    settings = Settings(db=f"sqlite:///{tmp_path / 'sparse.db'}")
    store = open_store(settings.db)
    gdf = gpd.GeoDataFrame({"fid": ["R1"], "name": ["仓库区"], "role": ["region"], "layer": ["区域"],
                            "properties": [{}]}, geometry=[box(120.0, 31.0, 120.001, 31.001)], crs="EPSG:4326")
    store.save_layout("只有布局", LayoutImport(gdf, "EPSG:4549", "a.geojson", "geojson"))
    store.save_units("只有台账", [AssessmentUnit(id="U1", name="泵", kind=UnitKind.EQUIPMENT,
                                              events=[RiskEvent(name="泄漏", residual_level=Level.GENERAL)])])
    store.enterprise("空企业")
    store.close()
    with TestClient(create_app(settings)) as c:
        listed = _json(c.get("/ogc/collections"))["collections"]
        counts = {col["id"]: col["itemCount"] for col in listed}
        assert len(counts) == 3 * len(LISTED) and sum(counts.values()) == 2   # the region, as layout and region
        for col in listed:
            page = _json(c.get(_path(_rel(col, "items", "application/geo+json"))), "application/geo+json")
            assert page["numberMatched"] == col["itemCount"] == len(page["features"])
            assert ("extent" in col) == (col["itemCount"] > 0)
            html = c.get(_path(_rel(col, "items", "text/html")))
            assert html.status_code == 200 and "共 " in html.text
        only_layout = next(col for col in listed
                           if col["title"].startswith("只有布局") and col["id"].endswith("regions"))
        region = _json(c.get(_path(_rel(only_layout, "items", "application/geo+json"))), "application/geo+json")
        assert region["features"][0]["properties"]["level"] is None     # no ledger: no level, still shown
