"""The regulator's overview as OGC API Features (issue 15): its own landing page `/ogc/overview/`, with one
collection `enterprises` — the enterprises of the signed-in regulator's scope as points (their profile's location),
with the same fields and counts as /api/overview and the overview tiles, and the same filters.

Why a landing of its own rather than a collection of /ogc: every collection under /ogc is one enterprise's data,
and its request is scoped to that enterprise (?enterprise=, riskmap.api.deps); this one looks across the
enterprises a regulator oversees, is answered only to a regulator's account ("oversee", like /api/overview) and
holds nothing for an enterprise account. Its rows are the overview's (riskmap.api.routers.overview.overview_rows):
the request's database scope is narrowed to the regulator's enterprises there, so on PostGIS the database itself
refuses anything outside it.

- An enterprise with no location is a feature with a null geometry (it is counted in numberMatched as in
  /api/overview); a bbox leaves it out.
- Read only: there is no write route, so a write to the collection or an item is the router's 405, its Allow
  naming GET, HEAD (riskmap.api.guard); profiles are written by the enterprise (`PUT /api/orgs/profile`) or the
  operator (`riskmap org`).
- Filters: division (sub-divisions included), park, industry, level (the highest region level), overdue (only those
  with an overdue hazard), bbox (CRS84), limit and offset; a bad one is a 400 (as OGC API asks), an unknown division
  a 404.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from riskmap.api import ogc_data as data
from riskmap.api import ogc_models as models
from riskmap.api.ogc_data import OgcParameterError
from riskmap.api.permissions import require
from riskmap.api.public_url import public_request_url
from riskmap.api.requests import base_url, query_parameter, url_on
from riskmap.api.routers.overview import overview_rows
from riskmap.errors import NotFoundError
from riskmap.levels import level_or_none, load_palette
from riskmap.people import Principal

ROOT = "/ogc/overview"
COLLECTION = "enterprises"
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.1"
CONFORMANCE = ["http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
               "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
               "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html"]
LEVELS = ("major", "significant", "general", "low")
READ_METHODS = "GET, HEAD"
OVERSEE = Depends(require("oversee"))
TITLE = "辖区企业 / enterprises of the scope"
DESCRIPTION = ("监管机构辖区内的企业（按最高区域风险等级着色），含风险、隐患、排查和督办统计，与 /api/overview "
               "相同；只读 / the enterprises a regulator oversees, coloured by their highest region level, "
               "with the counts of /api/overview; read only")
# The properties of a feature: the overview's row (riskmap.api.routers.overview.OverviewRow) less id, lon, lat,
# plus the level's Chinese name and colour (layers/levels.yaml).
PROPERTIES = ("name", "credit_code", "hazchem_code", "industry", "address", "division_code", "division", "park",
              "highest_level", "level_zh", "colour", "major_risks", "significant_risks", "open_general_hazards",
              "open_major_hazards", "overdue_general_hazards", "overdue_major_hazards", "checks_30d",
              "late_checks_30d", "inspection_completion", "listed_supervisions", "map_url")

P_F = query_parameter("f", {"type": "string", "enum": ["json", "html"]},
                      "格式（不给时按 Accept 头）/ format; without it the Accept header decides")
FILTER_PARAMETERS = [
    query_parameter("division", {"type": "string", "pattern": r"^\d{6}$"},
                    "行政区划代码，含下级（GB/T 2260）/ a division code, sub-divisions included"),
    query_parameter("park", {"type": "string", "maxLength": 200}, "园区 / park"),
    query_parameter("industry", {"type": "string", "maxLength": 200}, "行业 / industry"),
    query_parameter("level", {"type": "string", "enum": list(LEVELS)}, "最高风险等级 / highest region level"),
    query_parameter("overdue", {"type": "boolean"}, "只看有超期隐患的 / only those with an overdue hazard"),
]
ITEMS_PARAMETERS = [
    P_F, *FILTER_PARAMETERS,
    query_parameter("bbox", {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
                    "范围 最小经度,最小纬度,最大经度,最大纬度（CRS84）/ bbox minlon,minlat,maxlon,maxlat in CRS84",
                    style="form", explode=False),
    query_parameter("limit", {"type": "integer", "minimum": 1, "default": data.DEFAULT_LIMIT},
                    f"每页要素数，大于 {data.MAX_LIMIT} 时按 {data.MAX_LIMIT} / page size (at most {data.MAX_LIMIT})"),
    query_parameter("offset", {"type": "integer", "minimum": 0, "default": 0}, "跳过的要素数 / features skipped"),
]
_ERRORS = {**models.ERROR_RESPONSES,
           401: {"description": "需要登录或令牌 / sign-in or a token is required"},
           403: {"description": "只有监管账户可以查看 / only a regulator's account looks across enterprises"}}


def filters_of(request: Request) -> dict:
    """The overview's filters from the query (400 for a bad one; an unknown division is the overview's 404)."""
    q = request.query_params
    out: dict = {}
    division = q.get("division")
    if division is not None:
        if not re.fullmatch(r"\d{6}", division.strip()):
            raise OgcParameterError(f"division 应为六位行政区划代码，而不是 {division[:20]!r} / division is a "
                                    f"six-digit GB/T 2260 code, not {division[:20]!r}")
        out["division"] = division.strip()
    for name, zh in (("park", "园区"), ("industry", "行业")):
        value = (q.get(name) or "").strip()
        if len(value) > 200:
            raise OgcParameterError(f"{zh}过长（最多 200 字）/ {name} is too long (at most 200)")
        if value:
            out[name] = value
    level = q.get("level")
    if level is not None:
        if level.strip().lower() not in LEVELS:
            raise OgcParameterError(f"level 应为 {'、'.join(LEVELS)} 之一，而不是 {level[:20]!r} / level is one of "
                                    f"{', '.join(LEVELS)}, not {level[:20]!r}")
        out["level"] = level.strip().lower()
    overdue = q.get("overdue")
    if overdue is not None:
        text = overdue.strip().lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise OgcParameterError(f"overdue 应为 true 或 false，而不是 {overdue[:20]!r} / overdue is true or false, "
                                    f"not {overdue[:20]!r}")
        out["overdue"] = text in ("true", "1", "yes")
    return out


def features(rows: list[dict]) -> list[dict]:
    """The overview rows as GeoJSON features (id: the enterprise's id; geometry: its point, or null)."""
    palette = load_palette()
    out = []
    for r in rows:
        level = level_or_none(r.get("highest_level"))
        props = {k: r.get(k) for k in PROPERTIES}
        props["level_zh"] = level.zh if level is not None else None
        props["colour"] = palette.colour(level) if level is not None else None
        located = r.get("lon") is not None and r.get("lat") is not None
        out.append({"type": "Feature", "id": str(r["id"]),
                    "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]} if located else None,
                    "properties": props})
    return out


def _inside(feature: dict, boxes) -> bool:
    if feature["geometry"] is None:
        return False
    x, y = feature["geometry"]["coordinates"]
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)


def _bbox(found: list[dict]) -> list[float] | None:
    points = [f["geometry"]["coordinates"] for f in found if f["geometry"] is not None]
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


def _format(request: Request) -> str:
    from riskmap.api.routers.ogc import response_format

    return response_format(request)


def _link(href: str, rel: str, media_type: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def _answer(request: Request, doc: dict, page: str) -> Response:
    headers = {"Vary": "Accept", "Cache-Control": "private, no-cache"}
    if _format(request) == "html":
        from riskmap.render import ogc_html

        return HTMLResponse(getattr(ogc_html, f"{page}_page")(doc), headers=headers)
    return JSONResponse(doc, headers=headers)


def _collection_doc(request: Request, found: list[dict]) -> dict:
    path = f"{ROOT}/collections/{COLLECTION}"
    doc = {"id": COLLECTION, "title": TITLE, "description": DESCRIPTION,
           "links": [_link(url_on(request, path), "self", JSON, "本集合 / this collection"),
                     _link(url_on(request, path, f="html"), "alternate", HTML, "网页 / as HTML"),
                     _link(url_on(request, path + "/items"), "items", GEOJSON, "要素（GeoJSON）/ features"),
                     _link(url_on(request, path + "/items", f="html"), "items", HTML, "要素（网页）/ as HTML"),
                     _link(base_url(request) + "/api/overview/tiles/{z}/{x}/{y}.mvt", "item", "application/"
                           "vnd.mapbox-vector-tile", "矢量瓦片 / vector tiles (z/x/y)")],
           "itemType": "feature", "crs": [data.CRS84], "storageCrs": data.CRS84, "geometryType": "point",
           "itemCount": len(found)}
    box = _bbox(found)
    if box is not None:
        doc["extent"] = {"spatial": {"bbox": [box], "crs": data.CRS84}}
    return doc


def make_router() -> APIRouter:
    """/ogc/overview/: landing, conformance, collections, the collection `enterprises`, its items and one item."""
    router = APIRouter(prefix=ROOT, tags=["ogc", "overview"])

    def document(path: str, summary: str, model: type, *params: dict):
        return router.get(path, summary=summary, response_model=model,
                          responses={200: {"content": models.HTML_CONTENT}, **_ERRORS},
                          openapi_extra={"parameters": list(params)})

    def rows(request: Request, who: Principal | None, **filters) -> list[dict]:
        return features(overview_rows(request, who, **filters)[1])

    @router.get("", include_in_schema=False)
    @document("/", "监管总览 OGC API 首页 / the overview's OGC API landing page", models.LandingPage, P_F)
    def landing(request: Request, who: Principal = OVERSEE):
        base = base_url(request)
        doc = {"title": "riskmap 监管总览 / regulator's overview",
               "description": DESCRIPTION,
               "links": [_link(url_on(request, ROOT + "/"), "self", JSON, "本页 / this document"),
                         _link(url_on(request, ROOT + "/", f="html"), "alternate", HTML, "网页 / as HTML"),
                         _link(base + "/openapi.json", "service-desc", OPENAPI, "API 定义 / API definition"),
                         _link(base + "/docs", "service-doc", HTML, "API 文档 / API documentation"),
                         _link(url_on(request, ROOT + "/conformance"), "conformance", JSON, "符合的标准 / conformance"),
                         _link(url_on(request, ROOT + "/collections"), "data", JSON, "数据集合 / collections")]}
        return _answer(request, doc, "landing")

    @document("/conformance", "符合的标准 / conformance classes", models.Conformance, P_F)
    def conformance(request: Request, who: Principal = OVERSEE):
        return _answer(request, {"conformsTo": CONFORMANCE}, "conformance")

    @document("/collections", "数据集合 / collections", models.Collections, P_F)
    def collections(request: Request, who: Principal = OVERSEE):
        doc = {"links": [_link(url_on(request, ROOT + "/collections"), "self", JSON, "本页 / this document"),
                         _link(url_on(request, ROOT + "/collections", f="html"), "alternate", HTML, "网页 / as HTML")],
               "collections": [_collection_doc(request, rows(request, who, completion=False))]}
        return _answer(request, doc, "collections")

    @document(f"/collections/{COLLECTION}", "辖区企业集合 / the collection of the enterprises of the scope",
              models.CollectionInfo, P_F)
    def collection(request: Request, who: Principal = OVERSEE):
        return _answer(request, _collection_doc(request, rows(request, who, completion=False)), "collection")

    @router.get(f"/collections/{COLLECTION}/items", summary="辖区企业（分页）/ the enterprises of the scope, paged",
                response_model=models.FeatureCollection, response_class=Response,
                responses={200: {"content": {GEOJSON: {}, **models.HTML_CONTENT}}, **_ERRORS},
                openapi_extra={"parameters": ITEMS_PARAMETERS})
    def items(request: Request, who: Principal = OVERSEE):
        q = request.query_params
        fmt = _format(request)
        limit, offset = data.parse_limit(q.get("limit")), data.parse_offset(q.get("offset"))
        boxes = data.parse_bbox(q.get("bbox"))
        found = rows(request, who, **filters_of(request))
        if boxes is not None:
            found = [f for f in found if _inside(f, boxes)]
        page = found[offset:offset + limit]
        links = [_link(public_request_url(request, f="json"), "self" if fmt == "json" else "alternate", GEOJSON,
                       "本页（GeoJSON）/ this page as GeoJSON"),
                 _link(public_request_url(request, f="html"), "self" if fmt == "html" else "alternate", HTML,
                       "本页（网页）/ this page as HTML"),
                 _link(url_on(request, f"{ROOT}/collections/{COLLECTION}"), "collection", JSON,
                       "所属集合 / the collection")]
        kind = HTML if fmt == "html" else GEOJSON
        if offset + len(page) < len(found):
            links.append(_link(public_request_url(request, offset=offset + len(page), limit=limit), "next", kind,
                               "下一页 / next page"))
        if offset > 0:
            links.append(_link(public_request_url(request, offset=max(0, min(offset, len(found)) - limit),
                                                  limit=limit), "prev", kind, "上一页 / previous page"))
        stamp = data.rfc3339(datetime.now(UTC))
        headers = {"Vary": "Accept", "Cache-Control": "private, no-cache"}
        if fmt == "html":
            from riskmap.render import ogc_html

            item_url = f"{ROOT}/collections/{COLLECTION}/items/"
            return HTMLResponse(ogc_html.items_page(
                title=TITLE, collection_url=url_on(request, f"{ROOT}/collections/{COLLECTION}", f="html"),
                ids=[f["id"] for f in page], records=[f["properties"] for f in page],
                geometry_types=[f["geometry"]["type"] if f["geometry"] else None for f in page],
                feature_urls=[url_on(request, item_url + f["id"], f="html") for f in page],
                matched=len(found), offset=offset, links=links, timestamp=stamp), headers=headers)
        body = {"type": "FeatureCollection", "features": page, "links": links, "timeStamp": stamp,
                "numberMatched": len(found), "numberReturned": len(page)}
        return Response(json.dumps(body, ensure_ascii=False, allow_nan=False), media_type=GEOJSON,
                        headers={**headers, "Content-Crs": f"<{data.CRS84}>"})

    @router.get(f"/collections/{COLLECTION}/items/{{feature_id}}", summary="一家辖区企业 / one enterprise of the scope",
                response_model=models.Feature, response_class=Response,
                responses={200: {"content": {GEOJSON: {}, **models.HTML_CONTENT}}, **_ERRORS},
                openapi_extra={"parameters": [P_F]})
    def item(feature_id: str, request: Request, who: Principal = OVERSEE):
        fmt = _format(request)
        found = next((f for f in rows(request, who) if f["id"] == feature_id), None)
        if found is None:       # another regulator's enterprise is as absent as one that does not exist
            raise NotFoundError(f"辖区内没有编号为 {feature_id[:20]!r} 的企业 / no enterprise {feature_id[:20]!r} in "
                                "the scope")
        path = f"{ROOT}/collections/{COLLECTION}/items/{feature_id}"
        links = [_link(url_on(request, path), "self" if fmt == "json" else "alternate", GEOJSON,
                       "本要素（GeoJSON）/ this feature as GeoJSON"),
                 _link(url_on(request, path, f="html"), "self" if fmt == "html" else "alternate", HTML,
                       "本要素（网页）/ this feature as HTML"),
                 _link(url_on(request, f"{ROOT}/collections/{COLLECTION}"), "collection", JSON,
                       "所属集合 / the collection")]
        headers = {"Vary": "Accept", "Cache-Control": "private, no-cache"}
        if fmt == "html":
            from riskmap.render import ogc_html

            return HTMLResponse(ogc_html.item_page(
                title=TITLE, collection_url=url_on(request, f"{ROOT}/collections/{COLLECTION}", f="html"),
                feature_id=feature_id, record=found["properties"],
                geometry_type=found["geometry"]["type"] if found["geometry"] else None, links=links),
                headers=headers)
        return Response(json.dumps({**found, "links": links}, ensure_ascii=False, allow_nan=False),
                        media_type=GEOJSON, headers={**headers, "Content-Crs": f"<{data.CRS84}>"})

    return router
