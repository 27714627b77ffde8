"""Hidden hazards over HTTP: the list (filters state, level, department, overdue, `at`), one hazard with its
timeline, a report (or 即查即改), each transition of the loop as its own POST route, photos up and down, the code
tables and determination items.

Every transition names the permission the workflow gives it (riskmap.hazards.workflow.TRANSITIONS) and needs the
hazard's ETag in If-Match (428 without, 412 with the hazard as it is now when someone acted first). The work is
riskmap.store.hazards'; the handlers check input and shape answers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from riskmap.api.deps import resolve_tenant
from riskmap.api.fields import Text
from riskmap.api.permissions import principal_of, require
from riskmap.api.requests import photo_upload, reason_of
from riskmap.api.routers.signin import client_address
from riskmap.errors import (
    ForbiddenError,
    InputError,
    NotFoundError,
    PreconditionRequired,
    RiskmapError,
)
from riskmap.hazards import PLAN_PARTS, TRANSITIONS, codes, items
from riskmap.hazards.photos import STAGES
from riskmap.hazards.workflow import Actor
from riskmap.people import Principal
from riskmap.store import hazards as store_hazards

ENTERPRISE = Query(None, max_length=200, description="企业名称 / enterprise")
MAX_ID = 36
ANONYMOUS_TEXT = 1000          # an anonymous report's description: a few sentences, not a document
# Request names → the record's (the API's vocabulary: unit_id, risk_event).
RENAMED = {"unit_id": "unit_code", "risk_event": "risk_event_code"}
ERRORS = {401: {"description": "需要登录或令牌 / sign-in or a token is required"},
          403: {"description": "无此权限 / not allowed for this account"},
          404: {"description": "隐患或企业不存在 / no such hazard or enterprise"},
          409: {"description": "当前状态不允许此操作 / not allowed from the current state"},
          412: {"description": "隐患已被他人处理（If-Match 不符），答复含当前隐患 / "
                               "changed meanwhile: the answer holds the hazard as it is now"},
          422: {"description": "输入有误 / invalid input"},
          428: {"description": "需要 If-Match / If-Match is required"}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"},
            "description": "隐患的 ETag（读取隐患时得到）/ the hazard's ETag (from reading it)"}


# ---------------------------------------------------------------------------------------------- answers


class Step(BaseModel):
    """One step of a hazard's timeline: who, when, which transition, why, what changed ([before, after])."""

    id: int
    at: str
    author: str | None
    author_id: int | None
    action: str
    from_state: str | None
    to_state: str
    reason: str | None
    changed: dict[str, Any]
    version: int
    change_id: int | None


class Photo(BaseModel):
    """A photo's metadata; the picture itself (without EXIF) is at …/photos/{id}."""

    id: int
    stage: str = Field(..., description="before 整改前 | after 整改后")
    media_type: str
    width: int
    height: int
    size: int
    sha256: str
    gps: dict[str, float] | None = Field(None, description="照片 EXIF 中的位置 / the EXIF location")
    taken_at: str | None
    uploaded_at: str
    uploaded_by: str | None


class HazardOut(BaseModel):
    """A hidden hazard: the national 隐患信息 fields (codes with their labels), where it is, its plan and state;
    `danger_state` is the national 0/1/9, derived."""

    id: str = Field(..., description="隐患编号（国家接口 id）/ the hazard's id")
    name: str
    state: str
    state_label: str
    level: int = Field(..., description="dangerLevel：0 一般，1 重大")
    level_label: str | None
    major: bool
    item: str | None = Field(None, description="重大隐患判定标准条目 / determination item")
    item_text: str | None
    item_document: str | None
    source: int
    source_label: str | None
    hazard_type: int
    hazard_type_label: str | None
    manage_type: int
    category: int
    management_classification: int | None
    occurrence_link: int | None
    description: str | None
    cause: str | None
    rectification_measures: str | None
    cost: str | None = Field(None, description="整改资金（元，精确小数）/ cost in yuan (exact)")
    liable_person: str | None
    deadline: str | None = Field(None, description="整改期限（北京时间日期）/ deadline (Beijing date)")
    department: str | None
    unit_id: str | None
    risk_event: str | None
    control_index: int | None
    fid: str | None
    hazard_code: str | None
    check_record_id: str | None
    location: dict[str, Any] | None = Field(None, description="GeoJSON 点或面（经纬度）/ GeoJSON in lon/lat")
    registrant: str | None
    registrant_id: int | None
    registered_at: str | None
    rectifier: str | None
    rectifier_id: int | None
    rectification_note: str | None
    plan: dict[str, str]
    accept_person: str | None
    accept_person_id: int | None
    accept_at: str | None
    accept_comment: str | None
    extension: dict[str, Any] | None = Field(None, description="待批准的延期申请 / a pending extension request")
    comments: str | None
    version: int = Field(..., description="版本（ETag）/ version (the ETag)")
    danger_state: int | None = Field(None, description="国家 dangerState：0 整改中，1 待验收，9 已验收")
    open: bool
    overdue: bool = Field(..., description="未验收且已过期限（北京时间）/ not accepted and past its deadline")
    anonymous: bool = Field(False, description="未登录者从手机页匿名上报 / reported by someone not signed in")
    published: bool = Field(True, description="是否公开（匿名上报经确认后才公开）/ shown to readers (an anonymous "
                                              "report only once a manager confirms it)")


class HazardDetail(HazardOut):
    """A hazard with its timeline (oldest first) and its photos."""

    timeline: list[Step]
    photos: list[Photo]


class HazardList(BaseModel):
    """GET /api/hazards: the enterprise's hazards, newest first."""

    enterprise: str
    count: int
    items: list[HazardOut]


class HazardWritten(BaseModel):
    """What a report or a transition did: the hazard after it, the audit row, the data version, flags raised."""

    hazard: HazardOut
    change_id: int | None
    data_version: int
    flags_raised: list[dict[str, Any]]


class Reference(BaseModel):
    """The national code tables (code → [中文, English]), the determination items, the plan's parts, the
    transitions and the permission each needs."""

    codes: dict[str, dict[int, list[str]]]
    items: dict[str, dict[str, Any]]
    plan_parts: dict[str, list[str]]
    transitions: dict[str, dict[str, Any]]


# ---------------------------------------------------------------------------------------------- requests


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text | None = Field(None, max_length=4000, description="原因（也可用 X-Reason 头）/ why")


class _Fields(_In):
    description: Text | None = Field(None, max_length=4000)
    cause: Text | None = Field(None, max_length=4000)
    level: int | None = Field(None, description="0 一般，1 重大（引用判定条目即为重大）")
    item: Text | None = Field(None, max_length=64, description="判定标准条目，如 chem-2017-121:6")
    source: int | None = Field(None, description="dangerSrc 1–10")
    hazard_type: int | None = Field(None, description="hazardDangerType 1–8")
    category: int | None = Field(None, description="hazardCategory 0–3")
    management_classification: int | None = None
    occurrence_link: int | None = None
    unit_id: Text | None = Field(None, max_length=200, description="评估单元编号 / the unit")
    risk_event: Text | None = Field(None, max_length=200, description="风险事件编号或 #序号 / the event (id or #n)")
    control_index: int | None = Field(None, description="失效的管控措施序号（从 0 起）/ the failed control (from 0)")
    fid: Text | None = Field(None, max_length=200, description="布置图要素编号 / a layout feature")
    department: Text | None = Field(None, max_length=200)
    location: dict[str, Any] | None = Field(None, description="GeoJSON Point 或 Polygon（经纬度）")
    hazard_code: Text | None = Field(None, max_length=200)
    liable_person: Text | None = Field(None, max_length=200)
    comments: Text | None = Field(None, max_length=4000)


class ReportIn(_Fields):
    """A new hazard; with `on_spot` it was fixed on the spot (即查即改) and `note` says how (its evidence)."""

    name: Text = Field(..., max_length=200, description="隐患名称 / the hazard's name")
    check_record_id: Text | None = Field(None, max_length=200)
    rectification_measures: Text | None = Field(None, max_length=4000)
    cost: Text | float | None = None
    on_spot: bool = Field(False, description="即查即改 / fixed on the spot")
    note: Text | None = Field(None, max_length=4000, description="即查即改的整改情况 / what was done on the spot")


class AnonymousIn(BaseModel):
    """A report from someone not signed in (the phone page of a unit): a short description, the unit, optionally
    a short name and the place; it stays unpublished ("reported, unconfirmed") until a manager confirms it."""

    model_config = ConfigDict(extra="forbid")

    description: Text = Field(..., min_length=1, max_length=ANONYMOUS_TEXT, description="简要描述 / what is wrong")
    unit_id: Text = Field(..., min_length=1, max_length=200, description="评估单元编号 / the unit")
    name: Text | None = Field(None, max_length=60, description="隐患名称（缺省取描述开头）/ a short name")
    location: dict[str, Any] | None = Field(None, description="GeoJSON Point（经纬度）/ a GeoJSON Point in lon/lat")


class ConfirmIn(_Fields):
    """Confirm a report (correcting its fields if needed)."""

    name: Text | None = Field(None, max_length=200)


class PlanFields(_In):
    """The five in place and the plan of a major hazard (each optional here; rectification checks them)."""

    liable_person: Text | None = Field(None, max_length=200)
    rectification_measures: Text | None = Field(None, max_length=4000)
    cost: Text | float | None = None
    plan: dict[str, Text] | None = Field(None, description="整改方案各部分 / the plan's parts: "
                                         + ", ".join(PLAN_PARTS))
    comments: Text | None = Field(None, max_length=4000)


class AssignIn(PlanFields):
    """Assign the rectification: to whom, by when (a Beijing date, not in the past)."""

    rectifier: Text = Field(..., max_length=200, description="整改人 / the rectifier")
    rectifier_id: int | None = Field(None, description="整改人的账户编号 / their account id")
    deadline: date = Field(..., description="整改期限 / the deadline")
    department: Text | None = Field(None, max_length=200)


class NoteIn(_In):
    """A transition with a note: the rectification note (submit) or the acceptance comment (accept)."""

    note: Text = Field(..., max_length=4000)


class SubmitIn(NoteIn):
    """Rectification done: what was done (and the final cost)."""

    cost: Text | float | None = None


class ReasonIn(_In):
    """A transition that needs its reason (reject, send back, refuse an extension)."""

    reason: Text = Field(..., max_length=4000)


class ExtensionIn(_In):
    """An extension request (the new deadline and why) or a grant (optionally another deadline)."""

    deadline: date | None = None


BODIES: dict[str, type[_In]] = {
    "confirm": ConfirmIn, "correct": ConfirmIn, "reject": ReasonIn, "assign": AssignIn, "rectify": PlanFields,
    "submit": SubmitIn,
    "accept": NoteIn, "send_back": ReasonIn, "close": _In, "request_extension": ExtensionIn,
    "grant_extension": ExtensionIn, "refuse_extension": ReasonIn,
}


# ---------------------------------------------------------------------------------------------- helpers


def actor_of(who: Principal) -> Actor:
    """The workflow's view of the signed-in person."""
    return Actor(who.name, who.account_id, who.permissions)


def values_of(body: _In) -> tuple[dict[str, Any], str | None]:
    """The fields the client set (renamed to the record's), and the reason."""
    given = body.model_dump(exclude_unset=True)
    reason = given.pop("reason", None)
    given.pop("on_spot", None)
    return {RENAMED.get(k, k): v for k, v in given.items()}, reason


def may_see_withheld(request: Request, enterprise: str) -> bool:
    """Whether the request comes from someone who confirms hazards of this enterprise (a manager): they see the
    anonymous reports not yet confirmed; nobody else does (bad credentials count as nobody here)."""
    try:
        who = principal_of(request)
    except RiskmapError:
        return False
    return who is not None and who.may("hazard_manage") and who.enterprise in (None, enterprise)


def etag(version: int) -> str:
    """A hazard's ETag: its row version."""
    return f'"{version}"'


def version_of(if_match: str | None) -> int | None:
    """The version an If-Match names (None without one); 412 for a tag that is no hazard version at all."""
    if if_match is None or not if_match.strip():
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 12:
        return -1                      # names no version: the store answers 412 with the current hazard
    return int(text)


def _written(made: dict) -> JSONResponse:
    body = HazardWritten.model_validate(made).model_dump(mode="json")
    return JSONResponse(body, headers={"ETag": etag(made["hazard"]["version"])})


# ---------------------------------------------------------------------------------------------- routes


def make_router() -> APIRouter:
    """The hazard routes (see the module docstring)."""
    router = APIRouter(prefix="/api", tags=["hazards"])

    @router.get("/hazards", response_model=HazardList, summary="隐患列表 / the hazards",
                responses={403: {"description": "只有隐患管理人员能查看待确认的匿名上报（unconfirmed）/ only hazard "
                                                "managers see the anonymous reports awaiting confirmation"},
                           404: {"description": "企业不存在 / no such enterprise"}})
    def list_hazards(request: Request, enterprise: str | None = ENTERPRISE,
                     state: list[str] | None = Query(None, description="状态（可多个）/ states"),
                     level: int | None = Query(None, ge=0, le=1, description="0 一般，1 重大"),
                     department: str | None = Query(None, max_length=200),
                     overdue: bool | None = Query(None, description="只要逾期的（或未逾期的）/ overdue only"),
                     unit_id: str | None = Query(None, max_length=200, description="评估单元 / one unit's"),
                     unconfirmed: bool | None = Query(None, description="只要待确认的匿名上报（管理人员）/ only the "
                                                      "anonymous reports awaiting confirmation (managers)"),
                     limit: int = Query(1000, ge=1, le=10_000, description="最多几条 / at most this many"),
                     offset: int = Query(0, ge=0, le=10_000_000, description="跳过几条 / skip this many"),
                     at: str | None = Query(None, max_length=40,
                                            description="该时刻未关闭的隐患（ISO 8601，无时区为北京时间）/ open at "
                                                        "that moment")) -> dict:
        from riskmap.store.history import parse_moment

        tenant = resolve_tenant(request.app, enterprise)
        moment = parse_moment(at) if at else None
        manager = may_see_withheld(request, tenant.name)
        if unconfirmed and not manager:
            raise ForbiddenError("只有隐患管理人员能查看待确认的匿名上报 / only hazard managers see the anonymous "
                                 "reports awaiting confirmation")
        withheld = True if unconfirmed else (None if manager and unconfirmed is None else False)
        found = store_hazards.listing(tenant.store, tenant.name, state=state, level=level, department=department,
                                      overdue=overdue, at=moment, unit_id=unit_id, limit=limit, offset=offset,
                                      withheld=withheld)
        return {"enterprise": tenant.name, "count": len(found), "items": found}

    @router.get("/hazards/reference", response_model=Reference,
                summary="隐患代码表、重大隐患判定标准条目 / codes and determination items")
    def reference_tables() -> dict:
        return {"codes": {k: {c: list(v) for c, v in t.items()} for k, t in codes().items()},
                "items": {k: {"standard": i.standard, "number": i.number, "text": i.text, "document": i.document,
                              "title": i.title, "verified": i.verified, "scope": i.scope}
                          for k, i in items().items()},
                "plan_parts": {k: list(v) for k, v in PLAN_PARTS.items()},
                "transitions": {k: {"from": sorted(s.value if s else "new" for s in t.sources),
                                    "to": t.target.value if t.target else None, "permission": t.permission,
                                    "label": f"{t.zh} / {t.en}"} for k, t in TRANSITIONS.items()}}

    @router.get("/hazards/{hazard_id}", response_model=HazardDetail, summary="隐患及其处理过程 / a hazard and its "
                "timeline", responses={404: ERRORS[404]})
    def show_hazard(request: Request, hazard_id: str, enterprise: str | None = ENTERPRISE):
        tenant = resolve_tenant(request.app, enterprise)
        found = store_hazards.get(tenant.store, tenant.name, hazard_id,
                                  withheld=may_see_withheld(request, tenant.name))
        body = HazardDetail.model_validate(found).model_dump(mode="json")
        return JSONResponse(body, headers={"ETag": etag(found["version"]), "Cache-Control": "no-cache"})

    @router.post("/hazards", response_model=HazardWritten, status_code=201,
                 summary="上报隐患（或即查即改）/ report a hazard (or one fixed on the spot)",
                 responses={k: v for k, v in ERRORS.items() if k not in (409, 412, 428)})
    def report_hazard(request: Request, body: ReportIn = Body(...), enterprise: str | None = ENTERPRISE,
                      who: Principal = Depends(require("hazard_report"))):
        tenant = resolve_tenant(request.app, enterprise)
        values, reason = values_of(body)
        made = store_hazards.report(tenant.store, tenant.name, actor_of(who), values,
                                    reason=reason or reason_of(request), on_spot=body.on_spot)
        response = _written(made)
        response.status_code = 201
        return response

    @router.post("/hazard-reports", response_model=HazardWritten, status_code=201,
                 summary="匿名上报隐患（手机页，待确认）/ report a hazard without signing in (unconfirmed)",
                 responses={404: ERRORS[404], 422: ERRORS[422],
                            429: {"description": "匿名上报过于频繁 / too many anonymous reports: try later"}})
    def report_anonymous(request: Request, body: AnonymousIn = Body(...),
                         enterprise: str | None = ENTERPRISE) -> JSONResponse:
        tenant = resolve_tenant(request.app, enterprise)
        settings = request.app.state.settings
        values = {"name": body.name or body.description.strip()[:60], "description": body.description,
                  "unit_code": body.unit_id, "source": 1}
        if body.location is not None:
            if body.location.get("type") != "Point":
                raise InputError("匿名上报的位置应为 GeoJSON 点 / an anonymous report's place must be a GeoJSON Point")
            values["location"] = body.location
        made = store_hazards.report_anonymous(tenant.store, tenant.name, client_address(request), values,
                                              per_hour=settings.anonymous_reports_per_hour,
                                              per_day=settings.anonymous_reports_per_day)
        response = _written(made)
        response.status_code = 201
        return response

    for kind in ("notice", "acceptance"):
        _form_route(router, kind)

    for action in BODIES:
        _transition_route(router, action)

    for stage, permission in (("before", "hazard_report"), ("after", "hazard_rectify")):
        _photo_route(router, stage, permission)

    @router.get("/hazards/{hazard_id}/photos/{photo_id:int}", response_class=Response,
                summary="隐患照片（不含 EXIF）/ a hazard photo (without EXIF)",
                responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 404: ERRORS[404]})
    def get_photo(request: Request, hazard_id: str, photo_id: int, enterprise: str | None = ENTERPRISE) -> Response:
        tenant = resolve_tenant(request.app, enterprise)
        folder = request.app.state.settings.media_folder()
        data, media_type = store_hazards.photo_file(tenant.store, tenant.name, hazard_id, photo_id, folder,
                                                    withheld=may_see_withheld(request, tenant.name))
        return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600",
                                                               "Content-Disposition": "inline"})

    return router


def _transition_route(router: APIRouter, action: str) -> None:
    t = TRANSITIONS[action]
    model = BODIES[action]

    def transition(request: Request, hazard_id: str, body: model = Body(...),      # type: ignore[valid-type]
                   enterprise: str | None = ENTERPRISE, who: Principal = Depends(require(t.permission))):
        tenant = resolve_tenant(request.app, enterprise)
        if len(hazard_id) > MAX_ID:
            raise NotFoundError(f"没有编号为 “{hazard_id[:40]}” 的隐患 / no hazard {hazard_id[:40]!r}")
        values, reason = values_of(body)
        if_match = request.headers.get("if-match")
        if if_match is None or not if_match.strip():
            raise PreconditionRequired("处理隐患需要 If-Match 头（先读取隐患获得 ETag）/ "
                                       "If-Match is required: read the hazard first to get its ETag")
        made = store_hazards.write(tenant.store, tenant.name, hazard_id, action, actor_of(who), values,
                                   reason=reason or reason_of(request), if_match=version_of(if_match))
        return _written(made)

    transition.__annotations__["body"] = model       # the module's annotations are text: give the class itself
    transition.__name__ = f"hazard_{action}"
    router.post(f"/hazards/{{hazard_id}}/{action.replace('_', '-')}", response_model=HazardWritten,
                summary=f"{t.zh} / {t.en}", responses=ERRORS,
                openapi_extra={"parameters": [IF_MATCH]})(transition)


def _photo_route(router: APIRouter, stage: str, permission: str) -> None:
    zh, en = STAGES[stage]
    form = {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary", "description": "PNG 或 JPEG 照片"}}}}}}

    async def upload(request: Request, hazard_id: str, enterprise: str | None = ENTERPRISE,
                     who: Principal = Depends(require(permission))):
        settings = request.app.state.settings
        data = await photo_upload(request, settings.max_photo_bytes)
        tenant = resolve_tenant(request.app, enterprise)
        made = await run_in_threadpool(
            store_hazards.add_photo, tenant.store, tenant.name, hazard_id, data, stage=stage, who=actor_of(who),
            folder=settings.media_folder(), max_bytes=settings.max_photo_bytes, max_pixels=settings.max_photo_pixels)
        return JSONResponse(Photo.model_validate(made).model_dump(mode="json"), status_code=201)

    upload.__name__ = f"hazard_photo_{stage}"
    router.post(f"/hazards/{{hazard_id}}/photos/{stage}", response_model=Photo, status_code=201,
                summary=f"上传{zh}照片（PNG/JPEG）/ upload a photo {en} rectification",
                responses={**{k: ERRORS[k] for k in (401, 403, 404, 422)},
                           413: {"description": "照片过大 / too large"}, 415: {"description": "需要 multipart"}},
                openapi_extra={"requestBody": form})(upload)


def _form_route(router: APIRouter, kind: str) -> None:
    from riskmap.print.hazard_forms import KINDS, form_pdf

    zh, en = KINDS[kind]

    def form(request: Request, hazard_id: str, enterprise: str | None = ENTERPRISE) -> Response:
        tenant = resolve_tenant(request.app, enterprise)
        if len(hazard_id) > MAX_ID:
            raise NotFoundError(f"没有编号为 “{hazard_id[:40]}” 的隐患 / no hazard {hazard_id[:40]!r}")
        data = form_pdf(tenant.store, tenant.name, hazard_id, kind, request.app.state.settings.media_folder(),
                        withheld=may_see_withheld(request, tenant.name))
        name = f"{kind}-{hazard_id[:8]}.pdf"
        return Response(data, media_type="application/pdf",
                        headers={"Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{name}"'})

    form.__name__ = f"hazard_{kind}_pdf"
    when = "指派整改后 / once assigned" if kind == "notice" else "验收通过后 / once accepted"
    router.get(f"/hazards/{{hazard_id}}/{kind}.pdf", response_class=Response, summary=f"{zh}（PDF）/ {en} (PDF)",
               description=f"{zh}，{when}。",
               responses={200: {"content": {"application/pdf": {}}, "description": f"{zh} PDF"},
                          404: ERRORS[404],
                          409: {"description": f"隐患尚未到可出具{zh}的状态 / not yet: {when}"}})(form)
