"""OGC API Features Part 4 writes on the hazards collections (hazards, hazards_points, hazards_areas and their
e<id>_ forms), for GIS clients: POST reports a hazard (as the signed-in person, "hazard_report"), PATCH corrects
an open one (the workflow's "correct" step, "hazard_manage": place, level, description, department, unit, …; the
state is unchanged). Each goes through the hazard workflow (riskmap.hazards.workflow) like /api/hazards: the same
field rules, the same timeline entry, If-Match with the hazard's version (428 without, 412 when stale). PUT and
DELETE stay refused (405 naming GET, HEAD, PATCH): a hazard is never replaced or deleted, its steps (confirm,
assign, accept, reject, …) are taken through /api/hazards.

These routes come before the generic write routes (riskmap.api.routers.ogc_edit) and match only hazard
collections, so the route table gives them their own permissions. The API description documents them with the
generic operations (one path per resource: GET and POST of …/items are one resource whichever collection it is).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from riskmap.api import ogc_data as data
from riskmap.api import ogc_models
from riskmap.api.permissions import require
from riskmap.api.requests import (
    enterprise_param,
    if_match_of,
    item_path,
    json_body_doc,
    read_json,
    reason_of,
    store_of,
    url_on,
    writable_collection,
    write_responses,
)
from riskmap.api.routers import ogc
from riskmap.api.routers.ogc_edit import (
    IF_MATCH,
    ITEM_CONTENT,
    ITEM_HEADERS,
    PATCH_SCHEMA,
    WRITE_PARAMETERS,
    feature_doc,
    merge_patch_doc,
)
from riskmap.errors import InputError
from riskmap.people import Principal

# OGC property → the hazard record's field (riskmap.hazards.workflow.REPORT_FIELDS / CONFIRM_FIELDS).
RENAMED = {"danger_level": "level", "unit_id": "unit_code"}
# Shown by the collection but worked out by the workflow: a client sending them back is not refused.
SHOWN_ONLY = frozenset({"hazard_id", "state", "state_zh", "danger_level_zh", "danger_state", "overdue", "source_zh",
                        "deadline", "registered"})
PART_TYPES = {"points": ("Point", "MultiPoint"), "areas": ("Polygon", "MultiPolygon")}
FEATURE_SCHEMA = {
    "type": "object", "required": ["type"],
    "description": "GeoJSON Feature（经纬度 CRS84；点或面，可为 null：画在所属单元内）；properties：name（必填）、"
                   "danger_level、source、department、unit_id、description、cause 等 / a GeoJSON Feature in lon/lat "
                   "(a point or an area, or null: drawn inside its unit); properties name (required), danger_level, "
                   "source, department, unit_id, description, cause, …",
    "properties": {"type": {"type": "string", "enum": ["Feature"]}, "geometry": {"type": ["object", "null"]},
                   "properties": {"type": "object"}},
}


class _Prefix(Convertor):
    """An enterprise prefix of a collection name (e12_), or nothing."""

    regex = "(?:e[0-9]{1,12}_)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _Part(Convertor):
    """The part of the hazards collection (_points, _areas), or nothing (the whole)."""

    regex = "(?:_points|_areas)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("hazard_prefix", _Prefix())
register_url_convertor("hazard_part", _Part())


def _collection(request: Request, prefix: str, part: str) -> tuple[data.CollectionRef, data.CollectionRef]:
    """(the collection written to, the whole hazards collection of the same enterprise: where items are read)."""
    ref = writable_collection(request, f"{prefix}hazards{part}", open_kinds=("hazards",))
    whole = data.resolve_collection(store_of(request), request.app.state.settings.enterprise,
                                    enterprise_param(request), f"{prefix}hazards")
    return ref, whole


def _values(doc: dict, ref: data.CollectionRef, *, patch: bool) -> dict[str, Any]:
    """The record's fields from a Feature (or a merge patch of one): renamed properties and the geometry."""
    from riskmap.hazards.workflow import CONFIRM_FIELDS, REPORT_FIELDS

    props = doc.get("properties")
    writable = CONFIRM_FIELDS if patch else REPORT_FIELDS
    shown = {v: k for k, v in RENAMED.items()}
    values: dict[str, Any] = {}
    unknown = []
    for key, value in (props or {}).items():
        if key in SHOWN_ONLY:
            continue
        field = RENAMED.get(key, key)
        if field == "location" or field not in writable:
            unknown.append(str(key)[:60])
            continue
        if value is None and not patch:
            continue
        values[field] = value
    if unknown:
        names = ", ".join(shown.get(f, f) for f in writable if f != "location")
        raise InputError(f"不能写入的属性：{', '.join(unknown[:10])}；可写：{names} / properties that cannot be "
                         f"written: {', '.join(unknown[:10])}; writable: {names}")
    if "geometry" in doc:
        geometry = doc["geometry"]
        if geometry is not None:
            if not isinstance(geometry, dict):
                raise InputError("geometry 应为 GeoJSON 几何或 null / geometry must be a GeoJSON geometry or null")
            kinds = PART_TYPES.get(ref.part or "")
            if kinds is not None and geometry.get("type") not in kinds:
                raise InputError(f"集合 {ref.id} 只收 {'/'.join(kinds)}，不收 {str(geometry.get('type'))[:30]} / the "
                                 f"collection {ref.id} takes {' or '.join(kinds)} only")
        if geometry is not None or patch:
            values["location"] = geometry
    return values


def _report(request: Request, prefix: str, part: str, body: Any, who: Principal) -> tuple[str, data.CollectionRef]:
    from riskmap.api.routers.hazards import actor_of
    from riskmap.store import hazards as store_hazards

    ref, whole = _collection(request, prefix, part)
    values = _values(feature_doc(body), ref, patch=False)
    made = store_hazards.report(store_of(request), ref.enterprise.name, actor_of(who), values,
                                reason=reason_of(request))
    return made["hazard"]["id"], whole


def _correct(request: Request, prefix: str, part: str, feature_id: str, if_match: str, body: Any,
             who: Principal) -> data.CollectionRef:
    from riskmap.api.routers.hazards import actor_of
    from riskmap.store import hazards as store_hazards
    from riskmap.store.editing import edit_tag_of

    ref, whole = _collection(request, prefix, part)
    values = _values(merge_patch_doc(body, feature_id), ref, patch=True)
    if if_match.strip() == "*":
        version = None
    else:
        tags = edit_tag_of(if_match)
        version = tags[0] if len(tags) == 1 else -1          # none or several: no current version (412)
    store_hazards.write(store_of(request), ref.enterprise.name, feature_id, "correct", actor_of(who), values,
                        reason=reason_of(request), if_match=version)
    return whole


def make_router() -> APIRouter:
    """POST and PATCH on the hazards collections (see the module docstring)."""
    router = APIRouter(prefix="/ogc", tags=["ogc-edit"])
    items = "/collections/{prefix:hazard_prefix}hazards{part:hazard_part}/items"
    geo = ("application/geo+json", "application/json")

    @router.post(items, summary="上报隐患（GIS 客户端）/ report a hazard (from a GIS client)", status_code=201,
                 include_in_schema=False,
                 response_model=ogc_models.Feature,
                 responses={201: {"description": "已上报 / reported", "content": ITEM_CONTENT, "headers": {
                     **ITEM_HEADERS, "Location": {"schema": {"type": "string"}}}}, **write_responses(409)},
                 openapi_extra={"parameters": WRITE_PARAMETERS[:1] + WRITE_PARAMETERS[2:],
                                **json_body_doc(FEATURE_SCHEMA, geo)})
    async def report_hazard(request: Request, prefix: str, part: str,
                            who: Principal = Depends(require("hazard_report"))):
        body = await read_json(request)
        hazard_id, whole = await run_in_threadpool(_report, request, prefix, part, body, who)
        answer = await run_in_threadpool(ogc.item_answer, request, store_of(request), whole, hazard_id, "json",
                                         None, None)
        answer.status_code = 201
        answer.headers["Location"] = url_on(request, item_path(whole.id, hazard_id))
        return answer

    @router.patch(items + "/{feature_id}", summary="更正隐患（位置、等级、描述等）/ correct a hazard (place, level, …)",
                  response_model=ogc_models.Feature, include_in_schema=False,
                  responses={200: {"description": "已更正 / corrected", "content": ITEM_CONTENT,
                                   "headers": ITEM_HEADERS}, **write_responses(409, 412, 428)},
                  openapi_extra={"parameters": [*WRITE_PARAMETERS[:1], *WRITE_PARAMETERS[2:], IF_MATCH],
                                 **json_body_doc(PATCH_SCHEMA, ("application/merge-patch+json", *geo))})
    async def correct_hazard(request: Request, prefix: str, part: str, feature_id: str,
                             who: Principal = Depends(require("hazard_manage"))):
        if_match = if_match_of(request)
        body = await read_json(request)
        whole = await run_in_threadpool(_correct, request, prefix, part, feature_id, if_match, body, who)
        return await run_in_threadpool(ogc.item_answer, request, store_of(request), whole, feature_id, "json",
                                       None, None)

    return router
