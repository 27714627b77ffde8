"""OGC API Features, Part 1 (read), under /ogc: landing page, conformance, collections, items, one item.

Collections are `regions`, `units` and `layout` of the default enterprise (or of ?enterprise=<name>); when the
database holds several enterprises each also appears as e<id>_<kind>, so that one URL shows them all in GDAL
and QGIS. Query parameters are parsed here rather than by FastAPI so that a bad one is a 400 with a Chinese
message, as the standard asks, while the API definition still declares their types.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from riskmap.api import answers
from riskmap.api import ogc_data as data
from riskmap.api import ogc_models as models
from riskmap.api import ogc_query as query
from riskmap.api.conditional import none_match, not_modified, validators
from riskmap.api.deps import enter, may_read
from riskmap.api.ogc_data import OgcParameterError
from riskmap.api.public_url import public_request_url
from riskmap.api.requests import (
    base_url,
    collection_path,
    enterprise_param,
    item_path,
    query_parameter,
    url_on,
)
from riskmap.api.tilesets import TILES_CONFORMANCE, collection_tile_links
from riskmap.drawings import requested
from riskmap.errors import NotFoundError, RiskmapError
from riskmap.vocabulary import PART_ZH

GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
JSON = "application/json"
HTML = "text/html"
# What FastAPI serves at /openapi.json is OpenAPI 3.1 (as application/json); the link says so.
OPENAPI = "application/vnd.oai.openapi+json;version=3.1"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    # (no oas30: the API definition at /openapi.json is OpenAPI 3.1, for which Part 1 has no class)
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    *TILES_CONFORMANCE,
]
CONTENT_CRS = f"<{data.CRS84}>"


class GeoJSONResponse(JSONResponse):
    """A JSON response labelled as GeoJSON, the media type OGC API Features clients expect."""
    media_type = GEOJSON


P_F = query_parameter("f", {"type": "string", "enum": ["json", "html"]},
             "格式（不给时按 Accept 头）/ format; without it the Accept header decides")
P_ENTERPRISE = query_parameter("enterprise", {"type": "string"},
                      "企业名称（默认：配置的或唯一的企业）/ enterprise name (default: the configured or only one)")
P_METHOD = query_parameter("method", {"type": "string", "enum": list(data.METHODS)},
                  "区域定级方法，仅 regions / region aggregation method, regions only")
P_WHICH = query_parameter("which", {"type": "string", "enum": list(data.WHICH)},
                 "现有风险或固有风险，regions 和 units / residual or inherent risk, regions and units")
P_AT = query_parameter("at", {"type": "string"},
              "过去的某一时刻（ISO 8601，如 2026-10-01T08:00；不带时区按北京时间）：显示当时的数据，只读 / a past "
              "moment (ISO 8601; without an offset Beijing time): the data as it was then, read only")
P_DRAWING = query_parameter("drawing", {"type": "string", "maxLength": 64},
                            "图纸（缺省为总平面布置图；见 /api/drawings）：该图纸的要素、单元和区域，只读；示意图的坐标"
                            "是其平面在 (0°, 0°) 附近的位置 / the drawing (default: the site plan; see /api/drawings): "
                            "its layout, units and regions, read only; a schematic drawing's coordinates are its "
                            "plane placed near (0°, 0°)")
ITEMS_PARAMETERS = [
    P_F, P_ENTERPRISE, P_AT, P_DRAWING,
    query_parameter("bbox", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
           "范围 最小经度,最小纬度,最大经度,最大纬度（CRS84）/ bbox minlon,minlat,maxlon,maxlat in CRS84",
           style="form", explode=False),
    query_parameter("bbox-crs", {"type": "string", "enum": [data.CRS84]}, "bbox 的坐标系，仅 CRS84 / only CRS84"),
    query_parameter("datetime", {"type": "string"},
           "RFC 3339 时间或时间段（units 按最近评估日期，layout 按版本时间）/ instant or interval (units: date last "
           "assessed; layout: the version's time)"),
    query_parameter("limit", {"type": "integer", "minimum": 1, "default": data.DEFAULT_LIMIT},
           f"每页要素数，大于 {data.MAX_LIMIT} 时按 {data.MAX_LIMIT} / page size; larger values are lowered to "
           f"{data.MAX_LIMIT}"),
    query_parameter("offset", {"type": "integer", "minimum": 0, "default": 0}, "跳过的要素数 / features skipped"),
    P_METHOD, P_WHICH,
    query_parameter("level", {"type": "string"},
           "按风险等级筛选，逗号分隔，regions 和 units / filter by level (comma-separated), regions and units"),
    query_parameter("role", {"type": "string"},
           "按要素角色筛选，逗号分隔，仅 layout / filter by role (comma-separated), layout only"),
]


def make_router() -> APIRouter:
    """The OGC API Features routes under /ogc: landing page, collections, queryables, schema and items."""
    router = APIRouter(prefix="/ogc", tags=["ogc"])

    def store_of(request: Request):
        return request.app.state.store()

    def configured(request: Request) -> str | None:
        return request.app.state.settings.enterprise

    def document(path: str, summary: str, model: type, *params: dict):
        """A GET answered as JSON or, with ?f=html, as a page; `params` are its documented query parameters."""
        return router.get(path, summary=summary, response_model=model,
                          responses={200: {"content": models.HTML_CONTENT}, **models.ERROR_RESPONSES},
                          openapi_extra={"parameters": list(params)})

    @router.get("", include_in_schema=False)
    @document("/", "OGC API 服务首页 / landing page", models.LandingPage, P_F, P_ENTERPRISE)
    def landing(request: Request):
        fmt = response_format(request)
        base = base_url(request)
        doc = {
            "title": "riskmap 四色安全风险分布图 / four-colour safety risk map",
            "description": "红橙黄蓝四色安全风险空间分布图的区域风险、评估单元和总平面布置图（OGC API - Features）"
                           " / region risk, assessment units and plant layout of the four-colour safety risk "
                           "map (OGC API - Features)",
            "links": [
                _link(url_on(request, "/ogc/"), "self", JSON, "本页 / this document"),
                _link(url_on(request, "/ogc/", f="html"), "alternate", HTML, "网页 / as HTML"),
                _link(base + "/openapi.json", "service-desc", OPENAPI, "API 定义 / API definition"),
                _link(base + "/docs", "service-doc", HTML, "API 文档 / API documentation"),
                _link(url_on(request, "/ogc/conformance"), "conformance", JSON, "符合的标准 / conformance"),
                _link(url_on(request, "/ogc/conformance"), "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                      JSON, "符合的标准 / conformance"),
                _link(url_on(request, "/ogc/collections"), "data", JSON, "数据集合 / collections"),
                _link(url_on(request, "/ogc/collections"), "http://www.opengis.net/def/rel/ogc/1.0/data", JSON,
                      "数据集合 / collections"),
                _link(url_on(request, "/ogc/tileMatrixSets"), "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                      JSON, "瓦片矩阵集 / tile matrix sets"),
                _link(base + "/wmts/1.0.0/WMTSCapabilities.xml", "service", "application/xml",
                      "WMTS 1.0 服务说明 / WMTS 1.0 capabilities"),
                _link(base + "/styles", "http://www.opengis.net/def/rel/ogc/1.0/styles", JSON,
                      "样式（MapLibre、QGIS、SLD）/ styles (MapLibre, QGIS, SLD)"),
            ],
        }
        return _answer(request, fmt, doc, "landing")

    @document("/conformance", "符合的标准 / conformance classes", models.Conformance, P_F)
    def conformance(request: Request):
        fmt = response_format(request)
        return _answer(request, fmt, {"conformsTo": CONFORMANCE}, "conformance")

    @document("/collections", "数据集合 / collections", models.Collections, P_F, P_ENTERPRISE)
    def collections(request: Request):
        fmt = response_format(request)
        store = store_of(request)
        refs = [r for r in data.list_collections(store, configured(request), enterprise_param(request))
                if may_read(request, r.enterprise)]
        enter(request, [r.enterprise for r in refs])
        found = validators(request, store, sorted({ref.enterprise.name for ref in refs}), base_url(request), fmt)
        if (early := not_modified(request, found)) is not None:
            return early
        cache = data.plant_cache(request.app)
        doc = {
            "links": [
                _link(url_on(request, "/ogc/collections"), "self", JSON, "本页 / this document"),
                _link(url_on(request, "/ogc/collections", f="html"), "alternate", HTML, "网页 / as HTML"),
            ],
            "collections": [_collection_doc(request, ref, cache.view(store, ref.enterprise.name)) for ref in refs],
        }
        return _answer(request, fmt, doc, "collections", found.headers())

    @document("/collections/{collection_id}", "数据集合说明 / one collection", models.CollectionInfo, P_F, P_ENTERPRISE)
    def collection(collection_id: str, request: Request):
        fmt = response_format(request)
        store = store_of(request)
        ref = data.resolve_collection(store, configured(request), enterprise_param(request), collection_id)
        enter(request, ref.enterprise)
        found = validators(request, store, ref.enterprise.name, base_url(request), fmt)
        if (early := not_modified(request, found)) is not None:
            return early
        doc = _collection_doc(request, ref, data.plant_cache(request.app).view(store, ref.enterprise.name))
        return _answer(request, fmt, doc, "collection", found.headers())

    @router.get("/collections/{collection_id}/queryables", summary="可查询属性（Part 3）/ queryables",

response_model=answers.JsonSchema, responses={200: {"content": {SCHEMA_JSON: {}}}, **models.ERROR_RESPONSES},
                openapi_extra={"parameters": [P_ENTERPRISE]})
    def queryables(collection_id: str, request: Request):
        return _schema_answer(request, collection_id, "queryables")

    @router.get("/collections/{collection_id}/schema", summary="要素结构（Part 5）/ feature schema",

response_model=answers.JsonSchema, responses={200: {"content": {SCHEMA_JSON: {}}}, **models.ERROR_RESPONSES},
                openapi_extra={"parameters": [P_ENTERPRISE]})
    def schema(collection_id: str, request: Request):
        return _schema_answer(request, collection_id, "schema")

    def _schema_answer(request: Request, collection_id: str, which: str) -> Response:
        store = store_of(request)
        ref = data.resolve_collection(store, configured(request), enterprise_param(request), collection_id)
        enter(request, ref.enterprise)
        found = validators(request, store, ref.enterprise.name, base_url(request))
        if (early := not_modified(request, found)) is not None:
            return early
        coll = data.plant_cache(request.app).view(store, ref.enterprise.name).collection(ref.kind, part=ref.part)
        url = url_on(request, collection_path(ref.id) + "/" + which)
        doc = query.schema_document(ref.kind, coll.geometry_type, url, _title(ref), part5=which == "schema")
        return JSONResponse(doc, media_type=SCHEMA_JSON, headers=found.headers())

    @router.get("/collections/{collection_id}/items", summary="要素（分页）/ features, paged",
                response_model=models.FeatureCollection, response_class=GeoJSONResponse,
                responses={200: {"content": models.HTML_CONTENT}, **models.GEOJSON_ERROR_RESPONSES},
                openapi_extra={"parameters": ITEMS_PARAMETERS})
    def items(collection_id: str, request: Request):
        q = request.query_params
        fmt = response_format(request)
        limit = data.parse_limit(q.get("limit"))
        offset = data.parse_offset(q.get("offset"))
        interval = data.parse_datetime(q.get("datetime"))
        method = data.parse_choice(q.get("method"), data.METHODS, "method", "区域定级方法")
        which = data.parse_choice(q.get("which"), data.WHICH, "which", "现有/固有风险")
        levels = data.parse_levels(q.get("level"))
        roles = data.parse_roles(q.get("role"))
        at = parse_at(q.get("at"))
        store = store_of(request)
        ref = data.resolve_collection(store, configured(request), enterprise_param(request), collection_id)
        enter(request, ref.enterprise)
        _check_applies(ref.kind, method=method, which=which, level=levels, role=roles)
        tree = query.parse_filter(q.get("filter"), q.get("filter-lang"), ref.kind)
        sort_keys = query.parse_sortby(q.get("sortby"), ref.kind)
        found = validators(request, store, ref.enterprise.name, base_url(request), fmt)
        if at is None and (early := not_modified(request, found)) is not None:
            return early
        view = plant_view(request, store, ref, at)
        coll = view.collection(ref.kind, method, which, ref.part)
        crs = query.parse_crs(q.get("crs"), coll.bbox, "crs")
        bbox_crs = query.parse_crs(q.get("bbox-crs"), coll.bbox, "bbox-crs")
        boxes = data.parse_bbox(q.get("bbox")) if bbox_crs.is_crs84 else query.bbox_in_crs84(q.get("bbox"), bbox_crs)
        filters = {k: v for k, v in (("level", levels), ("role", roles)) if v is not None}
        rows = query.apply_sortby(coll, query.apply_filter(coll, coll.rows(boxes, interval, filters), tree),
                                  sort_keys)
        page = rows[offset:offset + limit]
        links = [
            _link(_same(request, f="json"), "self" if fmt == "json" else "alternate", GEOJSON,
                  "本页（GeoJSON）/ this page as GeoJSON"),
            _link(_same(request, f="html"), "self" if fmt == "html" else "alternate", HTML,
                  "本页（网页）/ this page as HTML"),
            _link(url_on(request, collection_path(ref.id)), "collection", JSON, "所属集合 / the collection"),
        ]
        if offset + len(page) < len(rows):
            links.append(_link(_same(request, offset=offset + len(page), limit=limit), "next", _type(fmt),
                               "下一页 / next page"))
        if offset > 0:
            links.append(_link(_same(request, offset=max(0, min(offset, len(rows)) - limit), limit=limit), "prev",
                               _type(fmt), "上一页 / previous page"))
        stamp = data.rfc3339(datetime.now(UTC))
        cache = found.headers() if at is None else {}
        if fmt == "html":
            from riskmap.render import ogc_html

            return _html(ogc_html.items_page(
                title=_title(ref), collection_url=url_on(request, collection_path(ref.id), f="html"),
                ids=coll.ids[page].tolist(), records=coll.records(page),
                geometry_types=coll.geometry_types(page), feature_urls=[
                    url_on(request, item_path(ref.id, fid), f="html", **_kept(request, "method", "which"))
                    for fid in coll.ids[page].tolist()],
                matched=len(rows), offset=offset, links=links, timestamp=stamp), cache)
        geometry = None if crs.is_crs84 else query.to_crs(coll.geometry[page], crs)
        body = data.feature_collection_json(coll, page, len(rows), links, stamp, geometry)
        return Response(body, media_type=GEOJSON, headers={"Content-Crs": query.content_crs_header(crs),
                                                           "Vary": "Accept", **cache})

    @router.get("/collections/{collection_id}/items/{feature_id:path}", summary="单个要素 / one feature",
                response_model=models.Feature, response_class=GeoJSONResponse,
                responses={200: {"content": models.HTML_CONTENT, "headers": {"ETag": {"schema": {"type": "string"},
                           "description": "强校验值 / strong entity tag"}}},
                           304: {"description": "未修改 / not modified (If-None-Match)"},
                           **models.GEOJSON_ERROR_RESPONSES},
                openapi_extra={"parameters": [P_F, P_ENTERPRISE, P_AT, P_DRAWING, P_METHOD, P_WHICH]})
    def item(collection_id: str, feature_id: str, request: Request):
        q = request.query_params
        fmt = response_format(request)
        method = data.parse_choice(q.get("method"), data.METHODS, "method", "区域定级方法")
        which = data.parse_choice(q.get("which"), data.WHICH, "which", "现有/固有风险")
        at = parse_at(q.get("at"))
        store = store_of(request)
        ref = data.resolve_collection(store, configured(request), enterprise_param(request), collection_id)
        enter(request, ref.enterprise)
        _check_applies(ref.kind, method=method, which=which)
        return item_answer(request, store, ref, feature_id, fmt, method, which, at)

    return router


# ---------------------------------------------------------------------------------------------- items


def parse_at(text: str | None) -> datetime | None:
    """?at= as an aware UTC moment (riskmap.store.history.parse_moment); a bad one is a 400."""
    if text is None:
        return None
    from riskmap.errors import InputError
    from riskmap.store.history import parse_moment

    try:
        return parse_moment(text)
    except InputError as exc:
        raise OgcParameterError(exc.message) from None


def plant_view(request: Request, store, ref: data.CollectionRef, at: datetime | None) -> data.PlantView:
    """The plant as the request sees it: the current state, or the past one at ``at`` (read only); a GET's
    `drawing` shows another drawing's layout, units and regions (and a write's answer, the item as it now is)."""
    cache = data.plant_cache(request.app)
    drawing = requested(request.query_params.get("drawing"))
    if at is not None:
        return cache.past_view(store, ref.enterprise.name, at, drawing)
    return cache.view(store, ref.enterprise.name, drawing)


def current_item(request: Request, store, ref: data.CollectionRef, feature_id: str, method: str | None,
                 which: str | None, at: datetime | None = None):
    """(view, collection, row or None, edit tag or None, unit or None) of one item, all of the same moment.

    Units carry no edit tag in the plant; it is read separately, and the pair is read again when a write came
    in between, so that an ETag never pairs a representation with another version's tag.
    """
    for _attempt in range(5):
        view = plant_view(request, store, ref, at)
        coll = view.collection(ref.kind, method, which, ref.part)
        row = coll.row_of(feature_id)
        tag = coll.edit_tag(row) if row is not None else None
        unit = None
        if ref.kind == "units" and at is None:
            record = store.unit_record(ref.enterprise.name, feature_id)
            unit, tag = record if record is not None else (None, None)
            if store.data_version(ref.enterprise.name) != view.version:
                continue
        return view, coll, row, tag, unit
    raise StoreBusyError("数据正在频繁修改，请稍后重试 / the data is changing too fast; try again shortly")


class StoreBusyError(RiskmapError, http_status=503):
    """Every read of an item met a newer write: the client should retry shortly."""


def item_answer(request: Request, store, ref: data.CollectionRef, feature_id: str, fmt: str, method: str | None,
                which: str | None, at: datetime | None = None, status_code: int = 200,
                headers: dict | None = None) -> Response:
    """One item with its ETag ("<edit tag>.<digest>"), as GET answers it and as writes answer with it."""
    from riskmap.store.editing import etag

    view, coll, row, tag, unit = current_item(request, store, ref, feature_id, method, which, at)
    if row is None and unit is None:
        raise NotFoundError(f"集合 “{ref.id}” 中没有要素 “{feature_id}” / no feature {feature_id!r} in "
                            f"collection {ref.id!r}")
    path = item_path(ref.id, feature_id)
    kept = _kept(request, "method", "which", "at")
    links = [
        _link(url_on(request, path, **kept), "self" if fmt == "json" else "alternate", GEOJSON,
              "本要素（GeoJSON）/ this feature as GeoJSON"),
        _link(url_on(request, path, f="html", **kept), "self" if fmt == "html" else "alternate", HTML,
              "本要素（网页）/ this feature as HTML"),
        _link(url_on(request, collection_path(ref.id)), "collection", JSON, "所属集合 / the collection"),
    ]
    if row is None:     # a unit without a location: not listed in the collection, but editable
        record, geometry_type = data.unit_record(unit, which), None
        text = data.unlocated_unit_json(unit, record, links)
    else:
        rows = np.array([row])
        record, geometry_type = coll.records(rows)[0], coll.geometry_types(rows)[0]
        crs = query.parse_crs(request.query_params.get("crs"), coll.bbox)
        text = data.feature_json(coll, row, links, None if crs.is_crs84 else query.to_crs(coll.geometry[rows], crs))
    if fmt == "html":
        from riskmap.render import ogc_html

        text = ogc_html.item_page(
            title=_title(ref), collection_url=url_on(request, collection_path(ref.id), f="html"),
            feature_id=feature_id, record=record, geometry_type=geometry_type, links=links)
    # A past unit's row is not known: its tag is weak, and a weak tag never satisfies If-Match.
    tag_text = etag(tag, text) if tag is not None else "W/" + etag(view.version, text)
    out = {"ETag": tag_text, "Vary": "Accept", **(headers or {})}
    if status_code == 200 and request.method in ("GET", "HEAD") and none_match(
            request.headers.get("if-none-match"), tag_text):
        return Response(status_code=304, headers=out)
    if fmt == "html":
        return _html(text, out)
    crs_header = query.content_crs_header(crs) if row is not None else CONTENT_CRS
    return Response(text, status_code=status_code, media_type=GEOJSON, headers={**out, "Content-Crs": crs_header})


# ---------------------------------------------------------------------------------------------- helpers


def response_format(request: Request) -> str:
    """json or html: the f parameter, else the Accept header (html only when preferred to JSON)."""
    f = request.query_params.get("f")
    if f is not None:
        value = f.strip().lower()
        if value in ("json", "geojson"):
            return "json"
        if value == "html":
            return "html"
        raise OgcParameterError(f"f（格式）应为 json 或 html，而不是 {f!r} / f must be json or html, not {f!r}")
    return "html" if _prefers_html(request.headers.get("accept", "")) else "json"


def _prefers_html(accept: str) -> bool:
    html_q = json_q = 0.0
    for part in accept.split(","):
        fields = [p.strip() for p in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, q)
        elif media in (JSON, GEOJSON, "application/*", "*/*") or media.endswith("+json"):
            json_q = max(json_q, q)
    return html_q > json_q


def _same(request: Request, **params) -> str:
    """This request's public URL with some parameters replaced."""
    return public_request_url(request, **params)


def _kept(request: Request, *names: str) -> dict:
    return {n: request.query_params[n] for n in names if request.query_params.get(n)}


def _link(href: str, rel: str, media_type: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def _type(fmt: str) -> str:
    return HTML if fmt == "html" else GEOJSON


def _title(ref: data.CollectionRef) -> str:
    info = data.KIND_INFO[ref.kind]
    if ref.prefixed:
        return f"{ref.enterprise.name}：{info.title_zh} / {info.title_en}"
    return info.title


def _collection_doc(request: Request, ref: data.CollectionRef, view: data.PlantView) -> dict:
    info = data.KIND_INFO[ref.kind]
    coll = view.collection(ref.kind, part=ref.part)
    path = collection_path(ref.id)
    part = f"（{PART_ZH[ref.part]}）" if ref.part and ref.kind != "regions" else ""
    doc = {
        "id": ref.id,
        "title": _title(ref) if not part else _title(ref).replace(" / ", f"{part} / ", 1) + f" ({ref.part})",
        "description": f"{info.description_zh}（{ref.enterprise.name}）/ {info.description_en}",
        "links": [
            _link(url_on(request, path), "self", JSON, "本集合 / this collection"),
            _link(url_on(request, path, f="html"), "alternate", HTML, "网页 / as HTML"),
            _link(url_on(request, path + "/items"), "items", GEOJSON, "要素（GeoJSON）/ features as GeoJSON"),
            _link(url_on(request, path + "/items", f="html"), "items", HTML, "要素（网页）/ features as HTML"),
            _link(url_on(request, path + "/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                  SCHEMA_JSON, "可查询属性 / queryables"),
            _link(url_on(request, path + "/schema"), "http://www.opengis.net/def/rel/ogc/1.0/schema", SCHEMA_JSON,
                  "要素结构 / schema"),
            *(collection_tile_links(request, ref) if ref.kind in data.KINDS else []),
        ],
        "itemType": "feature",
        "crs": query.crs_list(coll.bbox),
        "storageCrs": data.CRS84,
        "itemCount": len(coll),
    }
    if coll.geometry_type:
        doc["geometryType"] = coll.geometry_type
    extent = {}
    if coll.bbox is not None:
        extent["spatial"] = {"bbox": [coll.bbox], "crs": data.CRS84}
    if coll.temporal is not None:
        start, end = coll.temporal
        extent["temporal"] = {"interval": [[data.rfc3339(start), data.rfc3339(end)]], "trs": data.TRS_GREGORIAN}
    if extent:
        doc["extent"] = extent
    return doc


def _check_applies(kind: str, **given) -> None:
    applies = {"method": {"regions"}, "which": {"regions", "units"}, "level": {"regions", "units"},
               "role": {"layout"}}
    for name, value in given.items():
        if value is not None and kind not in applies[name]:
            kinds = "、".join(sorted(applies[name]))
            raise OgcParameterError(f"参数 {name} 只适用于集合 {kinds}，不适用于 {kind} / parameter {name} applies to "
                                    f"{', '.join(sorted(applies[name]))} only, not to {kind}")


def _answer(request: Request, fmt: str, doc: dict, page: str, headers: dict | None = None) -> Response:
    if fmt == "html":
        from riskmap.render import ogc_html

        return _html(getattr(ogc_html, f"{page}_page")(doc), headers)
    return JSONResponse(doc, headers={"Vary": "Accept", **(headers or {})})


def _html(text: str, headers: dict | None = None) -> HTMLResponse:
    return HTMLResponse(text, headers={"Vary": "Accept", **(headers or {})})
