"""OGC API Features Part 4 writes on /ogc/collections/{layout|regions|units}/items (and the e<id>_<kind> ones).

POST creates (201, Location, ETag), PUT replaces, PATCH changes some fields (a JSON merge patch of the
Feature), DELETE retires (204); nothing is physically deleted, every write is a new version with an audit row
naming the person (riskmap.api.permissions: "edit_layout"; the units collection also needs "edit_units") and the
reason (X-Reason header or ?reason=). PUT, PATCH and DELETE need If-Match (428
without, 412 with the current item when it is stale); every geometry passes riskmap.geo.editcheck (422 naming
the problem). Units are written through PATCH (name, parent, feature_ref to attach or detach, own geometry),
POST and DELETE; a unit's PUT would overwrite its own geometry with the one it is shown at, so it is refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from riskmap.api import ogc_data as data
from riskmap.api import ogc_models
from riskmap.api.permissions import also, require
from riskmap.api.requests import (
    drawing_of,
    if_match_of,
    item_path,
    json_body_doc,
    plant_extent,
    query_parameter,
    read_json,
    reason_of,
    store_of,
    url_on,
    writable_collection_async,
    write_responses,
)
from riskmap.api.routers import ogc
from riskmap.errors import InputError, NotWritableError
from riskmap.people import Principal

JSON_TYPES = frozenset({"application/json", "application/geo+json", "application/merge-patch+json"})
MAX_REASON = 2000
MAX_TEXT = 200
# Properties a layout/region item shows but that are worked out, not written (a client sends them back).
LAYOUT_READ_ONLY = frozenset({"role_zh", "source_id", "edit_tag", "rank", "colour"})
REGION_READ_ONLY = LAYOUT_READ_ONLY | {"region_id", "level", "level_zh", "method", "which", "decided_by",
                                       "decided_by_id", "explanation"}
LAYOUT_WRITABLE = ("name", "role", "layer")
UNIT_READ_ONLY = frozenset({"unit_id", "kind_zh", "level", "level_zh", "rank", "colour", "events", "last_assessed",
                            "located_by", "edit_tag"})
UNIT_WRITABLE = ("name", "parent_id", "parent", "feature_ref")     # parent: the older name of parent_id
UNIT_CREATE = (*UNIT_WRITABLE, "kind", "weight")
# Collections whose items PUT replaces whole (a unit's PUT is refused: it would overwrite its own geometry).
WHOLE_ITEMS = "^(e[0-9]+_)?(layout|regions)$"
# The collections that take writes (the hazards are read only: riskmap.api.ogc_data.READ_ONLY).
WRITABLE = "^(e[0-9]+_)?(regions|(units|layout)(_(areas|lines|points))?)$"
WRITABLE_ID = PathParam(..., json_schema_extra={"pattern": WRITABLE},
                        description="可写的集合：layout、regions、units 及其 _areas/_lines/_points（隐患集合只读）/ a "
                                    "writable collection: layout, regions, units and their parts (hazards are read "
                                    "only)")

EDIT = Depends(require("edit_layout"))
HAZARD_NOTE = ("隐患集合（hazards、hazards_points、hazards_areas）：POST 上报隐患需 hazard_report，"
               "PATCH 更正未关闭的隐患需 hazard_manage（If-Match 为隐患的 ETag），"
               "均按隐患流程校验并记入处理过程；隐患不能 PUT 或 DELETE / on "
               "the hazards collections (hazards, hazards_points, hazards_areas) POST reports a hazard and needs "
               "hazard_report, PATCH corrects an open one and needs hazard_manage (If-Match: the hazard's ETag), both "
               "checked by the hazard workflow and kept on its timeline (riskmap.api.routers.ogc_hazards); hazards "
               "take no PUT nor DELETE")      # the units collection also needs "edit_units"


FEATURE_SCHEMA = {
    "type": "object", "required": ["type", "geometry"],
    "description": "GeoJSON Feature（经纬度 CRS84）；properties：name、role、layer（单元：name、kind、parent、"
                   "feature_ref）/ a GeoJSON Feature in lon/lat; properties name, role, layer (units: name, kind, "
                   "parent, feature_ref)",
    "properties": {"type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string"},
                   "geometry": {"type": ["object", "null"]}, "properties": {"type": ["object", "null"]}},
}
PATCH_SCHEMA = {
    "type": "object",
    "description": "JSON 合并补丁（RFC 7396）：只给要改的 geometry 和/或 properties 字段，null 表示清除 / a JSON merge "
                   "patch of the Feature: only the geometry and/or properties to change, null clears",
    "properties": {"geometry": {"type": ["object", "null"]}, "properties": {"type": "object"}},
}
P_DRAWING = query_parameter("drawing", {"type": "string", "maxLength": 64},
                            "图纸（缺省为总平面布置图；见 /api/drawings）：写入该图纸的布局要素和区域；"
                            "评估单元不按图纸写入"
                            "（单元在各图纸上的位置由台账的要素列给出）/ the drawing (default: the site plan; see "
                            "/api/drawings) whose layout features and regions are written; units are not written per "
                            "drawing (their places on drawings come from the ledger's feature cell)")
WRITE_PARAMETERS = [ogc.P_ENTERPRISE, P_DRAWING,
                    query_parameter("reason", {"type": "string", "maxLength": MAX_REASON},
                               "修改理由（也可用 X-Reason 头），记入修改记录 / why (or the X-Reason header), kept in "
                               "the audit trail")]
IF_MATCH = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "读取要素时得到的 ETag；* 表示任意当前版本 / the ETag read with the item; * for any"}
ITEM_HEADERS = {"ETag": {"schema": {"type": "string"}, "description": "新版本的 ETag / the new version's ETag"}}
# The item written, as GET …/items/{id} answers it (a GeoJSON Feature).
ITEM_CONTENT = {"application/geo+json": {"schema": {"type": "object"}}}


async def _writable(request: Request, collection_id: str) -> data.CollectionRef:
    """The collection a write goes to; units are the enterprise's, not a drawing's."""
    ref = await writable_collection_async(request, collection_id)
    if ref.kind == "units" and drawing_of(request) is not None:
        raise InputError("评估单元不按图纸写入：去掉 drawing 参数；单元在某图纸上的位置由台账的要素列"
                         "（图纸::要素）给出 / units are not written per drawing: drop the drawing parameter; "
                         "a unit's place on a drawing comes from the ledger's feature cell (drawing::feature)")
    return ref


async def _changed_item(change, request: Request, ref, feature_id: str, who: Principal):
    """Apply a PUT or PATCH (`change`) under the request's If-Match, then answer the item as it now is."""
    if_match = if_match_of(request)
    body = await read_json(request)
    await run_in_threadpool(change, request, ref, feature_id, if_match, body, who)
    return await run_in_threadpool(ogc.item_answer, request, request.app.state.store(), ref, feature_id, "json",
                                   None, None)


def make_router() -> APIRouter:
    """The OGC API Features Part 4 write routes (POST, PUT, PATCH, DELETE) on /ogc/collections/{id}/items."""
    router = APIRouter(prefix="/ogc", tags=["ogc-edit"])
    items = "/collections/{collection_id}/items"
    item = items + "/{feature_id:path}"
    geo = ("application/geo+json", "application/json")

    @router.post(items, summary="新增要素 / create an item", status_code=201, response_model=ogc_models.Feature,
                 description=HAZARD_NOTE,
                 responses={201: {"description": "已新增 / created", "content": ITEM_CONTENT, "headers": {
                     **ITEM_HEADERS, "Location": {"schema": {"type": "string"}}}}, **write_responses(409)},
                 openapi_extra={"parameters": WRITE_PARAMETERS, **json_body_doc(FEATURE_SCHEMA, geo)})
    async def create(request: Request, who: Principal = EDIT, collection_id: str = WRITABLE_ID):
        ref = await _writable(request, collection_id)
        body = await read_json(request)
        fid = await run_in_threadpool(_create, request, ref, body, who)
        answer = await run_in_threadpool(ogc.item_answer, request, store_of(request), ref, fid, "json", None, None)
        answer.status_code = 201
        answer.headers["Location"] = url_on(request, item_path(ref.id, fid))
        return answer

    @router.put(item, summary="替换要素 / replace an item", response_model=ogc_models.Feature,
                responses={200: {"description": "已替换 / replaced", "content": ITEM_CONTENT, "headers": ITEM_HEADERS},
                           **write_responses(412, 428)},
                openapi_extra={"parameters": [*WRITE_PARAMETERS, IF_MATCH], **json_body_doc(FEATURE_SCHEMA, geo)})
    async def replace(request: Request, feature_id: str, who: Principal = EDIT,
                      collection_id: str = PathParam(..., json_schema_extra={"pattern": WHOLE_ITEMS},
                                                     description="layout、regions（单元只能 PATCH）/ layout or "
                                                                 "regions (units are changed with PATCH)")):
        ref = await _writable(request, collection_id)
        if ref.kind == "units":
            raise NotWritableError("评估单元不能整体替换，请用 PATCH 修改名称、上级、关联要素或几何 / "
                                   "a unit cannot be replaced as a whole: PATCH its name, parent, feature_ref or "
                                   "geometry")
        return await _changed_item(_replace, request, ref, feature_id, who)

    @router.patch(item, summary="修改要素的部分字段 / change some fields of an item", response_model=ogc_models.Feature,
                  description=HAZARD_NOTE,
                  responses={200: {"description": "已修改 / changed", "content": ITEM_CONTENT, "headers": ITEM_HEADERS},
                             **write_responses(412, 428)},
                  openapi_extra={"parameters": [*WRITE_PARAMETERS, IF_MATCH],
                                 **json_body_doc(PATCH_SCHEMA, ("application/merge-patch+json", *geo))})
    async def patch(feature_id: str, request: Request, who: Principal = EDIT, collection_id: str = WRITABLE_ID):
        ref = await _writable(request, collection_id)
        return await _changed_item(_patch, request, ref, feature_id, who)

    @router.delete(item, summary="删除要素（保留历史，可恢复）/ delete an item (kept in history, restorable)",
                   status_code=204, response_class=Response,
                   responses={204: {"description": "已删除 / deleted"}, **write_responses(412, 428)},
                   openapi_extra={"parameters": [*WRITE_PARAMETERS, IF_MATCH]})
    async def delete(feature_id: str, request: Request, who: Principal = EDIT, collection_id: str = WRITABLE_ID):
        ref = await _writable(request, collection_id)
        if_match = if_match_of(request)
        store, reason = store_of(request), reason_of(request)
        if ref.kind == "units":
            also(who, "edit_units")
            await run_in_threadpool(store.delete_unit, ref.enterprise.name, feature_id, if_match,
                                    author=who.author, reason=reason)
        else:
            await run_in_threadpool(_check_role, store, ref, feature_id, if_match, drawing_of(request))
            await run_in_threadpool(store.delete_feature, ref.enterprise.name, feature_id, if_match,
                                    author=who.author, reason=reason, drawing=drawing_of(request))
        return Response(status_code=204)

    return router


# ---------------------------------------------------------------------------------------------- request parts


# ---------------------------------------------------------------------------------------------- bodies


def feature_doc(body: Any) -> dict:
    """A request body that is a GeoJSON Feature (its properties an object when given), else InputError."""
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InputError('请求体应为 GeoJSON Feature（"type": "Feature"）/ the body must be a GeoJSON Feature')
    props = body.get("properties")
    if props is not None and not isinstance(props, dict):
        raise InputError("properties 应为对象 / properties must be an object")
    return body


def _props(doc: dict, read_only: frozenset[str], writable: tuple[str, ...]) -> dict:
    """The writable properties given; read-only ones (shown, worked out) are dropped, unknown ones refused."""
    props = {k: v for k, v in (doc.get("properties") or {}).items() if k not in read_only}
    unknown = sorted(set(props) - set(writable))
    if unknown:
        shown = ", ".join(repr(k)[:60] for k in unknown[:10])
        raise InputError(f"不能写入的属性：{shown}；可写：{', '.join(writable)} / properties that cannot be written: "
                         f"{shown}; writable: {', '.join(writable)}")
    for key, value in props.items():
        if value is not None and not isinstance(value, str):
            raise InputError(f"属性 {key} 应为文字或 null / property {key!r} must be text or null")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise InputError(f"属性 {key} 过长（最多 {MAX_TEXT} 字）/ property {key!r} is longer than {MAX_TEXT}")
    return props


def _geometry(request: Request, ref: data.CollectionRef, value: Any, role: str):
    from riskmap.geo.editcheck import check_edit_geometry

    return check_edit_geometry(value, role, plant_extent(request, ref))


def _role_of(ref: data.CollectionRef, props: dict, default: str | None) -> str:
    from riskmap.geo.model import ROLES

    role = props.get("role", default)
    if ref.kind == "regions":
        if role not in (None, "region"):
            raise InputError(f"regions 集合只收区域，不能写入角色 {role!r} / "
                             f"the regions collection holds regions only, not role {role!r}")
        return "region"
    if role is None:
        raise InputError(f"新要素需要 properties.role（{', '.join(ROLES)}）/ a new feature needs properties.role "
                         f"({', '.join(ROLES)})")
    if role not in ROLES:
        raise InputError(f"未知的要素角色 {str(role)[:40]!r}，可选：{', '.join(ROLES)} / unknown role "
                         f"{str(role)[:40]!r}; allowed: {', '.join(ROLES)}")
    return role


def _check_role(store, ref: data.CollectionRef, fid: str, if_match: str, drawing: str | None = None):
    """The current feature behind an item, or None when it is gone (the store then answers 412 with the item as
    it is, deleted, or 404 when it never was). A regions item must be a region: a building is not one of them."""
    from riskmap.errors import NotFoundError

    found = store.feature(ref.enterprise.name, fid, drawing=drawing)
    if (found is None and if_match.strip() == "*") or (
            found is not None and ref.kind == "regions" and found.role != "region"):
        raise NotFoundError(f"集合 “{ref.id}” 中没有要素 “{fid}” / no feature {fid!r} in collection {ref.id!r}")
    return found


def _create(request: Request, ref: data.CollectionRef, body: Any, who: Principal) -> str:
    store = store_of(request)
    doc = feature_doc(body)
    if ref.kind == "units":
        return _create_unit(request, ref, doc, who)
    props = _props(doc, REGION_READ_ONLY if ref.kind == "regions" else LAYOUT_READ_ONLY, LAYOUT_WRITABLE)
    role = _role_of(ref, props, None)
    geometry = _geometry(request, ref, doc.get("geometry"), role)
    fid = doc.get("id")
    if fid is not None and not isinstance(fid, (str, int)):
        raise InputError("id 应为文字 / id must be text")
    result = store.create_feature(ref.enterprise.name, None if fid is None else str(fid), role, geometry,
                                  feature_name=props.get("name"), layer=props.get("layer"), author=who.author,
                                  reason=reason_of(request), drawing=drawing_of(request))
    return result.fid


def _replace(request: Request, ref: data.CollectionRef, fid: str, if_match: str, body: Any, who: Principal) -> None:
    store = store_of(request)
    doc = feature_doc(body)
    if doc.get("id") is not None and str(doc["id"]) != fid:
        raise InputError(f"请求体的 id {str(doc['id'])[:60]!r} 与地址中的 {fid!r} 不同 / the body's id differs from "
                         f"the URL's")
    props = _props(doc, REGION_READ_ONLY if ref.kind == "regions" else LAYOUT_READ_ONLY, LAYOUT_WRITABLE)
    current = _check_role(store, ref, fid, if_match, drawing_of(request))
    role = _role_of(ref, props, current.role if current else "other")
    geometry = _geometry(request, ref, doc.get("geometry"), role)
    store.replace_feature(ref.enterprise.name, fid, if_match, role, geometry, feature_name=props.get("name"),
                          layer=props.get("layer"), properties=current.properties if current else None,
                          author=who.author, reason=reason_of(request), drawing=drawing_of(request))


def merge_patch_doc(body: Any, fid: str) -> dict:
    """A JSON merge patch of an item (RFC 7396), checked: an object of Feature members, not changing the id."""
    if not isinstance(body, dict):
        raise InputError("合并补丁应为 JSON 对象 / a merge patch must be a JSON object")
    unknown = sorted(set(body) - {"type", "id", "geometry", "properties", "links"})
    if unknown:
        raise InputError(f"补丁中有不能修改的成员：{', '.join(map(str, unknown))[:200]} / members that cannot be "
                         f"patched: {', '.join(map(str, unknown))[:200]}")
    if body.get("id") is not None and str(body["id"]) != fid:
        raise InputError("补丁不能修改 id / a patch cannot change the id")
    if "properties" in body and not isinstance(body["properties"], dict):
        raise InputError("properties 应为对象 / properties must be an object")
    return body


def _patch(request: Request, ref: data.CollectionRef, fid: str, if_match: str, body: Any, who: Principal) -> None:
    merge_patch_doc(body, fid)
    if ref.kind == "units":
        _patch_unit(request, ref, fid, if_match, body, who)
        return
    store = store_of(request)
    props = _props(body, REGION_READ_ONLY if ref.kind == "regions" else LAYOUT_READ_ONLY, LAYOUT_WRITABLE)
    current = _check_role(store, ref, fid, if_match, drawing_of(request))
    changes: dict = {}
    role = current.role if current else "other"
    if "role" in props:
        role = _role_of(ref, props, current.role)
        changes["role"] = role
    for key in ("name", "layer"):
        if key in props:
            changes[key] = props[key]
    if "geometry" in body:
        if body["geometry"] is None:
            raise InputError("布局要素必须有几何，不能清除 / a layout feature must keep a geometry")
        changes["geometry"] = _geometry(request, ref, body["geometry"], role)
    elif "role" in changes and current is not None and current.geometry is not None:
        from riskmap.geo.editcheck import ROLE_TYPES

        if current.geometry.geom_type not in ROLE_TYPES[role]:
            raise InputError(f"要素现在是 {current.geometry.geom_type}，不能改为角色 {role}（需要同时给出新几何）/ the "
                             f"feature is a {current.geometry.geom_type} and cannot become a {role} without a new "
                             f"geometry")
    if not changes:
        raise InputError("补丁中没有要修改的内容 / the patch changes nothing")
    store.patch_feature(ref.enterprise.name, fid, if_match, changes, author=who.author, reason=reason_of(request),
                        drawing=drawing_of(request))


def _unit_ref(request: Request, ref: data.CollectionRef, value: Any) -> str | None:
    """A feature_ref must name a current layout feature (None detaches)."""
    if value is None:
        return None
    found = store_of(request).feature(ref.enterprise.name, str(value))
    if found is None:
        raise InputError(f"布局中没有编号为 {str(value)[:80]!r} 的要素，无法关联 / no layout feature "
                         f"{str(value)[:80]!r} to attach to")
    return found.fid


def _patch_unit(request: Request, ref: data.CollectionRef, code: str, if_match: str, body: dict,
                who: Principal) -> None:
    also(who, "edit_units")
    props = _props(body, UNIT_READ_ONLY, UNIT_WRITABLE)
    changes: dict = {}
    if "name" in props:
        if not props["name"] or not props["name"].strip():
            raise InputError("单元名称不能为空 / a unit needs a name")
        changes["name"] = props["name"].strip()
    if "parent_id" in props or "parent" in props:
        changes["parent_id"] = props.get("parent_id", props.get("parent"))
    if "feature_ref" in props:
        changes["feature_ref"] = _unit_ref(request, ref, props["feature_ref"])
    if "geometry" in body:
        changes["geometry"] = None if body["geometry"] is None else _geometry(request, ref, body["geometry"], "unit")
    if not changes:
        raise InputError("补丁中没有要修改的内容 / the patch changes nothing")

    def change(unit) -> None:
        for key, value in changes.items():
            setattr(unit, key, value)

    store_of(request).edit_unit(ref.enterprise.name, code, change, author=who.author, reason=reason_of(request),
                              if_match=if_match)


def _create_unit(request: Request, ref: data.CollectionRef, doc: dict, who: Principal) -> str:
    also(who, "edit_units")
    from decimal import Decimal, InvalidOperation

    from riskmap.domain import AssessmentUnit, UnitKind

    code = doc.get("id")
    if not isinstance(code, (str, int)) or not str(code).strip():
        raise InputError("新单元需要 id（单元编号）/ a new unit needs an id (its unit id)")
    props = _props(doc, UNIT_READ_ONLY, UNIT_CREATE)
    name = (props.get("name") or "").strip()
    if not name:
        raise InputError("新单元需要 properties.name / a new unit needs properties.name")
    parent = props.get("parent_id", props.get("parent"))
    try:
        kind = UnitKind.parse(props["kind"]) if props.get("kind") else (UnitKind.SUB if parent else UnitKind.MAIN)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    try:
        weight = Decimal(props.get("weight") or "1")
        if not weight.is_finite() or weight <= 0:
            raise InvalidOperation
    except InvalidOperation:
        raise InputError("weight 应为正数 / weight must be a positive number") from None
    geometry = doc.get("geometry")
    unit = AssessmentUnit(id=str(code).strip(), name=name, kind=kind, parent_id=parent,
                          geometry=None if geometry is None else _geometry(request, ref, geometry, "unit"),
                          feature_ref=_unit_ref(request, ref, props.get("feature_ref")), weight=weight)
    result = store_of(request).create_unit(ref.enterprise.name, unit, author=who.author, reason=reason_of(request))
    return result.fid

