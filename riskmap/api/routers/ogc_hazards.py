"""OGC API Features collection `hazards` (read only): the enterprise's hidden hazards as GeoJSON (RFC 7946), with
the hazards map layer's filters (state, level, department, overdue, at), bbox and paging.

Matched before the generic collections of riskmap.api.routers.ogc (which serve the plant's regions, units and
layout). Writes go through the REST routes (/api/hazards), which run the workflow's rules.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import shapely
from fastapi import APIRouter, Request
from fastapi.responses import Response

from riskmap.api import ogc_data as data
from riskmap.api import ogc_models as models
from riskmap.api.deps import resolve_tenant
from riskmap.api.ogc_data import OgcParameterError
from riskmap.api.requests import enterprise_param, url_on
from riskmap.errors import InputError, NotFoundError

GEOJSON = "application/geo+json"
JSON = "application/json"
PATH = "/ogc/collections/hazards"
TITLE = "隐患 / hidden hazards"
PROPERTIES = ("name", "state", "state_zh", "group", "level", "danger_state", "overdue", "department", "unit_id",
              "deadline")


def _param(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


PARAMETERS = [
    _param("enterprise", "企业名称（缺省为唯一的企业）/ enterprise", {"type": "string"}),
    _param("state", "状态，逗号分隔（缺省为除“不是隐患”外的全部）/ states, comma-separated (default: all but "
           "rejected)", {"type": "string"}),
    _param("level", "0 一般隐患，1 重大隐患 / 0 general, 1 major", {"type": "integer", "enum": [0, 1]}),
    _param("department", "责任部门 / department", {"type": "string"}),
    _param("overdue", "1 只要超期的，0 只要未超期的 / 1 overdue only, 0 not overdue", {"type": "integer"}),
    _param("at", "某一时刻仍未验收的隐患（ISO 8601）/ open at that moment", {"type": "string"}),
    _param("bbox", "经纬度范围 / lon/lat box", {"type": "string"}),
    _param("limit", f"每页要素数 1–{data.MAX_LIMIT} / page size", {"type": "integer"}),
    _param("offset", "起始位置 / offset", {"type": "integer"}),
]


def _filters(request: Request):
    from riskmap.api.routers.ogc import parse_at
    from riskmap.render.hazardtiles import parse_filters

    try:
        return parse_filters(request.query_params, parse_at(request.query_params.get("at")))
    except InputError as exc:
        raise OgcParameterError(exc.message) from None


def _link(href: str, rel: str, media_type: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def _frame(request: Request):
    from riskmap.store.hazards import hazards_frame

    filters = _filters(request)
    tenant = resolve_tenant(request.app, enterprise_param(request))
    frame = hazards_frame(tenant.store, tenant.name, **filters.store_args())
    return tenant, frame


def _features(frame, rows: np.ndarray, links_of) -> list[dict]:
    from riskmap.hazards.model import STATE_LABELS, State
    from riskmap.render.style import load_hazard_style

    style = load_hazard_style()
    geoms = frame.geometry.to_numpy()[rows]
    geoms = shapely.orient_polygons(geoms, exterior_cw=False) if len(rows) else []   # RFC 7946 winding
    out = []
    for geom, (_, row) in zip(geoms, frame.iloc[rows].iterrows(), strict=True):
        props = {"name": row["name"], "state": row["state"], "state_zh": STATE_LABELS[State(row["state"])][0],
                 "group": style.group_of(row["state"]), "level": int(row["level"]),
                 "danger_state": int(row["danger_state"]), "overdue": bool(row["overdue"]),
                 "department": row["department"], "unit_id": row["unit_id"], "deadline": row["deadline"]}
        out.append({"type": "Feature", "id": row["id"],
                    "geometry": None if geom is None else json.loads(shapely.to_geojson(
                        shapely.set_precision(geom, 1e-7))),
                    "properties": props, "links": links_of(row["id"])})
    return out


def make_router() -> APIRouter:
    """The hazards collection routes under /ogc/collections/hazards."""
    router = APIRouter(prefix="/ogc", tags=["ogc"])

    @router.get("/collections/hazards", response_model=models.CollectionInfo,
                summary="隐患数据集合说明 / the hazards collection", responses=models.ERROR_RESPONSES,
                openapi_extra={"parameters": PARAMETERS[:1]})
    def hazards_collection(request: Request):
        tenant, frame = _frame(request)
        placed = frame[frame.geometry.notna()]
        bbox = [float(v) for v in placed.total_bounds] if len(placed) else None
        doc = {"id": "hazards", "title": TITLE,
               "description": "企业的事故隐患（位置、状态、等级、是否超期）；写入请用 /api/hazards / the enterprise's "
                              "hidden hazards (place, state, level, overdue); write through /api/hazards",
               "itemType": "feature", "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
               "itemCount": len(frame),
               "extent": {"spatial": {"bbox": [bbox]}} if bbox else None,
               "links": [_link(url_on(request, PATH), "self", JSON, "本集合 / this collection"),
                         _link(url_on(request, PATH + "/items"), "items", GEOJSON, "隐患要素 / the hazards")],
               "enterprise": tenant.name}
        return Response(json.dumps(doc, ensure_ascii=False), media_type=JSON)

    @router.get("/collections/hazards/items", response_model=models.FeatureCollection,
                summary="隐患要素（分页）/ hazards, paged", responses=models.GEOJSON_ERROR_RESPONSES,
                openapi_extra={"parameters": PARAMETERS})
    def hazard_items(request: Request):
        q = request.query_params
        limit = data.parse_limit(q.get("limit"))
        offset = data.parse_offset(q.get("offset"))
        boxes = data.parse_bbox(q.get("bbox"))
        _, frame = _frame(request)
        rows = np.arange(len(frame))
        if boxes:
            geoms = frame.geometry.to_numpy()
            hit = np.zeros(len(frame), bool)
            for box in boxes:
                hit |= np.asarray(shapely.intersects(geoms, shapely.box(*box)), bool)
            rows = rows[hit]
        page = rows[offset:offset + limit]
        links = [_link(str(request.url), "self", GEOJSON, "本页 / this page"),
                 _link(url_on(request, PATH), "collection", JSON, "所属集合 / the collection")]
        if offset + len(page) < len(rows):
            params = {k: v for k, v in q.items() if k not in ("offset", "limit")}
            links.append(_link(url_on(request, PATH + "/items", **params, offset=offset + len(page), limit=limit),
                               "next", GEOJSON, "下一页 / next page"))
        doc = {"type": "FeatureCollection",
               "features": _features(frame, page, lambda i: [_link(url_on(request, f"{PATH}/items/{i}"), "self",
                                                                   GEOJSON, "本隐患 / this hazard")]),
               "numberMatched": len(rows), "numberReturned": len(page),
               "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "links": links}
        return Response(json.dumps(doc, ensure_ascii=False), media_type=GEOJSON)

    @router.get("/collections/hazards/items/{hazard_id}", response_model=models.Feature,
                summary="一条隐患 / one hazard", responses=models.GEOJSON_ERROR_RESPONSES,
                openapi_extra={"parameters": PARAMETERS[:1]})
    def hazard_item(hazard_id: str, request: Request):
        from riskmap.store.hazards import hazards_frame

        tenant = resolve_tenant(request.app, enterprise_param(request))
        frame = hazards_frame(tenant.store, tenant.name)
        rows = np.flatnonzero(frame["id"].to_numpy() == hazard_id)
        if not len(rows):
            raise NotFoundError(f"没有隐患 “{hazard_id[:60]}” / no hazard {hazard_id[:60]!r}")
        feature = _features(frame, rows[:1], lambda i: [
            _link(url_on(request, f"{PATH}/items/{i}"), "self", GEOJSON, "本隐患 / this hazard"),
            _link(url_on(request, PATH), "collection", JSON, "所属集合 / the collection"),
            _link(url_on(request, f"/api/hazards/{i}"), "describedby", JSON, "处理过程与照片 / timeline and "
                  "photos")])[0]
        return Response(json.dumps(feature, ensure_ascii=False), media_type=GEOJSON)

    return router
