"""Split an area along a line, merge touching areas: shapely does the geometry on the server, the store writes
the result as ONE new layout version (Store.apply_layout_changes), with If-Match for every feature it touches.

Split keeps the feature's id on the largest piece (units attached to it stay attached) and creates the other
pieces as new features; merge keeps the first feature's id for the union and retires the others.
"""

from __future__ import annotations

from typing import Any

import shapely
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from riskmap.api import answers
from riskmap.api import ogc_data as data
from riskmap.api.permissions import require
from riskmap.api.requests import (
    drawing_of,
    json_body_doc,
    plant_extent,
    read_json,
    reason_of,
    writable_collection,
    write_responses,
)
from riskmap.api.routers import ogc_edit
from riskmap.errors import InputError, NotFoundError, PreconditionRequired
from riskmap.people import Principal

MAX_MERGE = 50
AREA_TYPES = ("Polygon", "MultiPolygon")

SPLIT_SCHEMA = {
    "type": "object", "required": ["fid", "line"],
    "properties": {
        "fid": {"type": "string", "description": "要分割的区域 / the area to split"},
        "line": {"type": "object", "description": "分割线，GeoJSON LineString（经纬度），须横穿区域 / the cutting "
                                                  "line, a GeoJSON LineString in lon/lat crossing the area"},
        "if_match": {"type": "string", "description": "该要素的 ETag（或用 If-Match 头）/ the feature's ETag "
                                                      "(or the If-Match header)"},
    },
}
MERGE_SCHEMA = {
    "type": "object", "required": ["fids", "if_match"],
    "properties": {
        "fids": {"type": "array", "minItems": 2, "maxItems": MAX_MERGE, "items": {"type": "string"},
                 "description": "要合并的相邻区域，第一个保留编号 / touching areas; the first keeps its id"},
        "if_match": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "每个要素的 ETag / each feature's ETag"},
        "name": {"type": "string", "description": "合并后的名称（默认第一个的）/ the merged name (default: the "
                                                  "first's)"},
    },
}
RESULT_SCHEMA = {
    "type": "object",
    "properties": {"action": {"type": "string"}, "fids": {"type": "array", "items": {"type": "string"}},
                   "edit_tags": {"type": "array", "items": {"type": ["integer", "null"]}},
                   "layout_number": {"type": ["integer", "null"]}, "data_version": {"type": "integer"},
                   "change_id": {"type": "integer"}, "flags_raised": {"type": "array", "items": {"type": "object"}}},
}


def make_router() -> APIRouter:
    """POST /api/layout/split and /api/layout/merge ("edit_layout"): each writes one new layout version."""
    router = APIRouter(prefix="/api/layout", tags=["ogc-edit"])
    params = ogc_edit.WRITE_PARAMETERS
    responses = {200: {"description": "新的布局版本 / the new layout version",
                       "content": {"application/json": {"schema": RESULT_SCHEMA}}}, **write_responses(412, 428)}

    @router.post("/split",
                 response_model=answers.LayoutEdit,
                 summary="沿一条线分割区域 / split an area along a line", responses=responses,
                 openapi_extra={"parameters": params, **json_body_doc(SPLIT_SCHEMA, ("application/json",))})
    async def split(request: Request, who: Principal = Depends(require("edit_layout"))) -> dict:
        body = await read_json(request)
        return await run_in_threadpool(_split, request, body, who)

    @router.post("/merge",
                 response_model=answers.LayoutEdit, summary="合并相邻区域 / merge touching areas", responses=responses,
                 openapi_extra={"parameters": params, **json_body_doc(MERGE_SCHEMA, ("application/json",))})
    async def merge(request: Request, who: Principal = Depends(require("edit_layout"))) -> dict:
        body = await read_json(request)
        return await run_in_threadpool(_merge, request, body, who)

    return router


def _area(store, ref: data.CollectionRef, fid: Any, drawing: str | None):
    if not isinstance(fid, str) or not fid.strip():
        raise InputError("fid 应为要素编号（文字）/ fid must be a feature id (text)")
    found = store.feature(ref.enterprise.name, fid, drawing=drawing)
    if found is None:
        raise NotFoundError(f"布局中没有要素 “{fid[:80]}” / no layout feature {fid[:80]!r}")
    if found.geometry is None or found.geometry.geom_type not in AREA_TYPES:
        raise InputError(f"要素 {fid} 不是面，不能分割或合并 / feature {fid!r} is not an area; only areas can be "
                         f"split or merged")
    return found


def _tag(value: Any, fid: str) -> str:
    if value is None:
        raise PreconditionRequired(f"要素 {fid} 需要 If-Match（先读取要素获得 ETag）/ If-Match is required for "
                                   f"feature {fid!r}")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"要素 {fid} 的 If-Match 应为 ETag 文字 / the If-Match of {fid!r} must be an ETag")
    return str(value)


def _result(action: str, result) -> dict:
    return {"action": action, "fids": result.fids, "edit_tags": result.edit_tags,
            "layout_number": result.layout_number, "data_version": result.data_version,
            "change_id": result.change_id, "flags_raised": result.flags_raised}


def _split(request: Request, body: Any, who: Principal) -> dict:
    from riskmap.geo.editcheck import LINES, check_edit_geometry
    from riskmap.store.editing import FeatureChange

    if not isinstance(body, dict):
        raise InputError("请求体应为对象 {fid, line, if_match} / the body must be an object {fid, line, if_match}")
    ref = writable_collection(request, "layout")
    store = request.app.state.store()
    extent = plant_extent(request, ref)
    feature = _area(store, ref, body.get("fid"), drawing_of(request))
    if_match = _tag(body.get("if_match", request.headers.get("if-match")), feature.fid)
    line = check_edit_geometry(body.get("line"), "other", extent)
    if line.geom_type not in LINES:
        raise InputError(f"分割线应为 LineString，而不是 {line.geom_type} / the cutting line must be a LineString, "
                         f"not a {line.geom_type}")
    pieces = _cut(feature.geometry, line)
    if len(pieces) < 2:
        raise InputError("分割线没有把区域分成两块以上：线须从区域一边横穿到另一边 / the line does not cut the area "
                         "into pieces: it must cross the area from edge to edge")
    pieces.sort(key=lambda g: -g.area)
    pieces = [check_edit_geometry(p, feature.role, extent) for p in pieces]
    base = feature.name or feature.fid
    changes = [FeatureChange("replace", feature.fid, geometry=pieces[0])]
    changes += [FeatureChange("create", None, role=feature.role, geometry=piece, feature_name=f"{base}（{k}）",
                              layer=feature.layer) for k, piece in enumerate(pieces[1:], start=2)]
    result = store.apply_layout_changes(ref.enterprise.name, changes, "split", {feature.fid: if_match},
                                        author=who.author, reason=reason_of(request), drawing=drawing_of(request))
    return _result("split", result)


def _cut(area, line) -> list:
    """The polygons an area falls into along a line (each part of a MultiPolygon cut on its own)."""
    from shapely.ops import split

    out = []
    for part in getattr(area, "geoms", [area]):
        out += [g for g in split(part, line).geoms if g.geom_type == "Polygon" and g.area > 0]
    return out


def _merge(request: Request, body: Any, who: Principal) -> dict:
    from riskmap.geo.editcheck import check_edit_geometry
    from riskmap.store.editing import FeatureChange

    if not isinstance(body, dict):
        raise InputError("请求体应为对象 {fids, if_match, name?} / the body must be an object {fids, if_match, name?}")
    fids = body.get("fids")
    if not isinstance(fids, list) or not 2 <= len(fids) <= MAX_MERGE:
        raise InputError(f"fids 应为 2 到 {MAX_MERGE} 个要素编号 / fids must list 2 to {MAX_MERGE} feature ids")
    if len(set(map(str, fids))) != len(fids):
        raise InputError("fids 中有重复 / fids lists a feature twice")
    tags = body.get("if_match")
    if tags is None:
        raise PreconditionRequired("合并需要 if_match：{要素编号: ETag} / merging needs if_match: {feature id: ETag}")
    if not isinstance(tags, dict):
        raise InputError("if_match 应为 {要素编号: ETag} / if_match must map feature ids to ETags")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > ogc_edit.MAX_TEXT):
        raise InputError(f"name 应为不超过 {ogc_edit.MAX_TEXT} 字的文字 / name must be text of at most "
                         f"{ogc_edit.MAX_TEXT} characters")
    ref = writable_collection(request, "layout")
    store = request.app.state.store()
    features = [_area(store, ref, fid, drawing_of(request)) for fid in fids]
    roles = {f.role for f in features}
    if len(roles) > 1:
        raise InputError(f"只能合并同一角色的要素（现为 {', '.join(sorted(map(str, roles)))}）/ only features of one "
                         f"role can be merged (these are {', '.join(sorted(map(str, roles)))})")
    if_match = {f.fid: _tag(tags.get(f.fid), f.fid) for f in features}
    union = shapely.union_all([f.geometry for f in features])
    if union.geom_type != "Polygon":
        raise InputError("这些区域互不相接，合并后不是一个面；请先让它们共边 / the areas do not touch, so their union "
                         "is not one area; make them share an edge first")
    first = features[0]
    union = check_edit_geometry(union, first.role, plant_extent(request, ref))
    changes = [FeatureChange("replace", first.fid, geometry=union, feature_name=name or None)]
    changes += [FeatureChange("delete", f.fid) for f in features[1:]]
    result = store.apply_layout_changes(ref.enterprise.name, changes, "merge", if_match, author=who.author,
                                        reason=reason_of(request), drawing=drawing_of(request))
    return _result("merge", result)
