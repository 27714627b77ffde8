"""The past and what follows from changes, over HTTP: the audit trail, the diff between two moments, restoring a
deleted area, re-assessment flags (list, clear) and recorded accidents.

Reads are open (unless the settings close reading); a restore needs "edit_layout", clearing flags and recording
accidents "ledger" (riskmap.api.permissions); the person becomes the author of the change. Moments are ISO 8601
(riskmap.store.history.parse_moment: Beijing time without an offset).
The logic lives in riskmap.store.history and the Store; the handlers check input and shape the answers.
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from riskmap.api.deps import resolve_tenant
from riskmap.api.fields import Text
from riskmap.api.permissions import require
from riskmap.errors import InputError, NotFoundError
from riskmap.people import Principal
from riskmap.store.flags import REASONS, STORED_REASONS

MAX_ID = 200
MAX_REASON = 2000
MAX_DESCRIPTION = 4000

ENTERPRISE = Query(None, max_length=MAX_ID, description="企业名称 / enterprise")


# ---------------------------------------------------------------------------------------------- answers


class Change(BaseModel):
    """One writing operation of the audit trail (id null: a version imported before the trail existed)."""

    id: int | None
    at: datetime = Field(..., description="时刻（UTC）/ when (UTC)")
    author: str | None = Field(None, description="操作人（当时的姓名，或令牌的名称）/ who (their name at that time)")
    author_id: int | None = Field(None, description="操作人的账户编号（早于账户的修改为空）/ their account's id (none "
                                                    "for changes made before accounts)")
    reason: str | None = Field(None, description="原因 / why")
    action: str = Field(..., description="如 feature.replace、ledger.import / e.g. feature.replace")
    collection: str | None = Field(None, description="layout | regions | units")
    item_ids: list[str] = Field(..., description="涉及的要素或单元编号 / ids of the items touched")
    layout_number: int | None = Field(None, description="之后的布局版本 / layout version after the change")
    ledger_number: int | None = Field(None, description="之后的台账版本 / ledger version after the change")
    data_version: int | None
    detail: dict[str, Any] | None = None


class History(BaseModel):
    """GET /api/history: rows of the enterprise's audit trail, newest first."""

    enterprise: str
    count: int
    items: list[Change]


class FeatureBrief(BaseModel):
    """A layout feature named in a diff: its id (fid), name and role."""

    id: str = Field(..., description="要素编号（fid）/ feature id")
    name: str | None
    role: str | None


class Renamed(BaseModel):
    """A feature renamed between the two moments; the old name is `from` in the JSON."""

    id: str
    from_: str | None = Field(..., alias="from")
    to: str | None


class LayoutDiff(BaseModel):
    """How the layout changed between two moments, features matched by their id (fid)."""

    added: list[FeatureBrief]
    removed: list[FeatureBrief]
    reshaped: list[FeatureBrief]
    renamed: list[Renamed]
    changed: list[FeatureBrief] = Field(..., description="角色、图层或属性变了 / role, layer or properties changed")


class UnitBrief(BaseModel):
    """A unit named in a diff: its id (the ledger's unit id) and name."""

    id: str = Field(..., description="单元编号 / unit id")
    name: str


class UnitChanged(UnitBrief):
    """A unit whose stored fields changed, with the names of those fields."""

    fields: list[str] = Field(..., description="变化的字段 / fields that changed")


class LevelChange(BaseModel):
    """A unit whose residual risk level, and so its colour on the map, changed; the old level is `from` in the JSON."""

    id: str
    from_: str | None = Field(..., alias="from", description="之前的剩余风险等级 / residual level before")
    to: str | None


class UnitsDiff(BaseModel):
    """How the units changed between two moments, units matched by their id."""

    added: list[UnitBrief]
    removed: list[UnitBrief]
    changed: list[UnitChanged]
    level_changed: list[LevelChange]


class Diff(BaseModel):
    """GET /api/history/diff: what changed in the layout and the units between two moments, and the layout and ledger
    versions current at each."""

    model_config = ConfigDict(populate_by_name=True)

    enterprise: str
    from_: datetime = Field(..., alias="from")
    to: datetime
    layout_from: int | None = Field(..., description="较早时刻的布局版本 / layout version at the earlier moment")
    layout_to: int | None
    ledger_from: int | None
    ledger_to: int | None
    layout: LayoutDiff
    units: UnitsDiff


class Written(BaseModel):
    """What a write did (riskmap.store.editing.EditResult)."""

    ids: list[str] = Field(..., description="涉及的要素或单元 / items touched")
    edit_tags: list[int | None] = Field(..., description="新的编辑标记（ETag 的前半）/ new edit tags")
    layout_number: int | None
    ledger_number: int | None
    data_version: int
    change_id: int | None = Field(..., description="审计记录编号 / the audit row")
    flags_raised: list[dict[str, Any]]


class Flag(BaseModel):
    """A unit that must be re-assessed, and why. The computed reasons (validity_expired, overdue) have no id and are not
    cleared by hand: a new assessment ends them."""

    id: int | None = Field(None, description="标记编号；validity_expired、overdue 为读取时计算，无 / null for the "
                                             "computed ones (validity_expired, overdue)")
    unit_id: str
    unit_name: str | None
    reason_code: str = Field(..., description=" | ".join(REASONS))
    reason: str
    raised_at: str | None = Field(None, description="提出时刻（ISO 8601；validity_expired 为有效期届满后的第一天）/ "
                                                    "when raised (validity_expired: the first day after the period)")
    days_since_assessed: int | None
    last_assessed: date | None
    cleared_at: str | None = Field(None, description="关闭时刻（?all=true 时）/ when cleared")
    detail: dict[str, Any] | None = None


class Flags(BaseModel):
    """GET /api/flags: the enterprise's units that must be re-assessed."""

    enterprise: str
    count: int
    items: list[Flag]


class Cleared(BaseModel):
    """POST /api/flags/clear: how many of the unit's flags were closed, and the audit row that says why."""

    enterprise: str
    unit_id: str
    cleared: int = Field(..., description="关闭的标记数 / flags cleared")
    change_id: int = Field(..., description="审计记录编号 / the audit row")
    data_version: int


class AccidentRecorded(BaseModel):
    """POST /api/accidents: the accident as recorded and the re-assessment flags it raised."""

    enterprise: str
    id: int = Field(..., description="事故记录编号 / the accident's id")
    change_id: int
    data_version: int
    serious: bool = Field(..., description="≥1 死亡或 ≥3 重伤：全厂单元需复评 / every unit flagged")
    flags_raised: list[dict[str, Any]]


# ---------------------------------------------------------------------------------------------- requests


class RestoreIn(BaseModel):
    """POST /api/history/restore: which deleted area or feature to bring back (as it was at `at`), and why; it comes
    back as a new version."""

    model_config = ConfigDict(extra="forbid")

    collection: Literal["layout", "regions"] = Field(..., description="layout | regions")
    id: Text = Field(..., min_length=1, max_length=MAX_ID, description="被删除要素的编号 / the deleted feature's id")
    at: Text | None = Field(None, max_length=40, description="恢复该时刻的状态（默认最后一次）/ its state then")
    reason: Text | None = Field(None, max_length=MAX_REASON, description="原因 / why")


class ClearFlagsIn(BaseModel):
    """POST /api/flags/clear: close a unit's stored flags (or only those of one reason); the reason is required and kept
    in the audit trail."""

    model_config = ConfigDict(extra="forbid")

    unit_id: Text = Field(..., min_length=1, max_length=MAX_ID)
    reason: Text = Field(..., min_length=1, max_length=MAX_REASON, description="为何无需复评或已复评 / why")
    reason_code: Literal[STORED_REASONS] | None = Field(None, description="只关闭这一原因 / only this reason")


class AccidentIn(BaseModel):
    """POST /api/accidents: one accident, at a unit or (no unit) the whole plant; a serious one (≥1 death or ≥3 serious
    injuries) flags every unit for re-assessment."""

    model_config = ConfigDict(extra="forbid")

    unit_id: Text | None = Field(None, min_length=1, max_length=MAX_ID,
                                 description="事故发生的单元；空为全厂 / the unit (none: the whole plant)")
    date: dt.date = Field(..., description="发生日期 / when it happened")
    description: Text = Field(..., min_length=1, max_length=MAX_DESCRIPTION, description="经过 / what happened")
    deaths: StrictInt = Field(0, ge=0, le=100_000, description="死亡人数 / deaths")
    serious_injuries: StrictInt = Field(0, ge=0, le=100_000, description="重伤人数 / serious injuries")


# ---------------------------------------------------------------------------------------------- helpers


def _name(request: Request, enterprise: str | None) -> tuple[Any, str]:
    """The store and the enterprise of a request; 404 for an enterprise not stored."""
    tenant = resolve_tenant(request.app, enterprise)
    return tenant.store, tenant.name


def _moment(text: str | None, what: str):
    from riskmap.store.history import parse_moment

    if text is None:
        return None
    try:
        return parse_moment(text)
    except InputError as exc:
        raise InputError(f"参数 {what}：{exc.message}") from None


def _text(value: str | None) -> str | None:
    """Free text as stored: trimmed, NUL characters dropped (PostgreSQL refuses them), blank = none."""
    if value is None:
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _written(result) -> Written:
    return Written(ids=list(result.fids), edit_tags=list(result.edit_tags), layout_number=result.layout_number,
                   ledger_number=getattr(result, "ledger_number", None), data_version=result.data_version,
                   change_id=result.change_id, flags_raised=list(result.flags_raised or []))


def _last_role(store, name: str, fid: str, drawing: str | None = None) -> str | None:
    """The role of the newest stored row of a feature of a drawing (None: the site plan), current or not; None
    when it never existed."""
    from sqlalchemy import select

    from riskmap.store.drawings import drawing_id, of_drawing
    from riskmap.store.rows import enterprise_id
    from riskmap.store.schema import LayoutFeatureRow

    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False)
        return s.execute(select(LayoutFeatureRow.role)
                         .where(LayoutFeatureRow.enterprise_id == ent_id,
                                of_drawing(LayoutFeatureRow, drawing_id(s, ent_id, drawing)),
                                LayoutFeatureRow.fid == fid)
                         .order_by(LayoutFeatureRow.id.desc()).limit(1)).scalar_one_or_none()


HISTORY_DRAWING = ("只看某图纸的布局版本（site 为总平面布置图；缺省为全部）/ only the layout versions of one drawing "
                   "(site: the site plan; default: everything)")
DIFF_DRAWING = "图纸（缺省为总平面布置图）/ the drawing (default: the site plan)"
_ERRORS = {404: {"description": "企业或对象不存在 / no such enterprise or item"},
           422: {"description": "输入有误 / invalid input"}}
_WRITE_ERRORS = {**_ERRORS, 401: {"description": "需要登录或令牌 / sign-in or a token is required"},
                 403: {"description": "无此权限 / not allowed for this account"}}


# ---------------------------------------------------------------------------------------------- routes


def make_router() -> APIRouter:
    """The history routes under /api: the audit trail, the diff, restore, re-assessment flags and accidents."""
    router = APIRouter(prefix="/api", tags=["history"])

    @router.get("/history", summary="变更记录（谁、何时、为何、改了什么），新的在前 / the audit trail, newest first",
                response_model=History, responses=_ERRORS)
    def list_history(request: Request, enterprise: str | None = ENTERPRISE,
                     since: str | None = Query(None, max_length=40, description="起始时刻 / from (ISO 8601)"),
                     until: str | None = Query(None, max_length=40, description="截止时刻 / until (ISO 8601)"),
                     item: str | None = Query(None, min_length=1, max_length=MAX_ID,
                                              description="只看某要素或单元 / one feature or unit id"),
                     limit: int = Query(200, ge=1, le=5000, description="最多条数 / at most"),
                     drawing: str | None = Query(None, min_length=1, max_length=64, description=HISTORY_DRAWING))\
            -> History:
        from riskmap.store.history import history

        start, end = _moment(since, "since"), _moment(until, "until")
        if start is not None and end is not None and start > end:
            raise InputError("起始时刻 since 晚于截止时刻 until / since is after until")
        store, name = _name(request, enterprise)
        rows = history(store, name, since=start, until=end, item=item, limit=limit,
                       drawing=drawing.strip() or None if drawing else None)
        return History(enterprise=name, count=len(rows), items=[Change(**r) for r in rows])

    @router.get("/history/diff", summary="两个时刻之间的变化（要素按 fid，单元按编号）/ changes between two moments",
                response_model=Diff, response_model_by_alias=True, responses=_ERRORS)
    def diff_moments(request: Request,
                     from_: str = Query(..., alias="from", max_length=40, description="较早时刻 / earlier moment"),
                     to: str = Query(..., max_length=40, description="较晚时刻 / later moment"),
                     enterprise: str | None = ENTERPRISE,
                     drawing: str | None = Query(None, max_length=64, description=DIFF_DRAWING)) -> Diff:
        from riskmap.drawings import requested
        from riskmap.store.history import diff

        t1, t2 = _moment(from_, "from"), _moment(to, "to")
        store, name = _name(request, enterprise)
        found = diff(store, name, t1, t2, drawing=requested(drawing))
        return Diff.model_validate({**found, "enterprise": name})

    @router.post("/history/restore", summary="恢复被删除的区域或要素（作为新版本）/ restore a deleted feature",
                 response_model=Written, status_code=201,
                 responses={**_WRITE_ERRORS, 409: {"description": "该要素当前存在 / the feature exists"}})
    def restore(request: Request, body: RestoreIn = Body(..., examples=[{"collection": "regions", "id": "A2",
                                                                          "reason": "误删恢复"}]),
                enterprise: str | None = ENTERPRISE, who: Principal = Depends(require("edit_layout")),
                drawing: str | None = Query(None, max_length=64, description=DIFF_DRAWING)) -> Written:
        from riskmap.drawings import requested

        at = _moment(body.at, "at")
        store, name = _name(request, enterprise)
        fid = body.id.strip()
        drawing = requested(drawing)
        role = _last_role(store, name, fid, drawing)
        if role is None:
            raise NotFoundError(f"没有编号为 “{fid[:80]}” 的要素（从未存在）/ no feature {fid[:80]!r} has ever "
                                "been stored")
        if body.collection == "regions" and role != "region":
            raise NotFoundError(f"要素 “{fid[:80]}” 不是区域（是 {role}）/ feature {fid[:80]!r} is not a region "
                                f"(it is a {role})")
        result = store.restore_feature(name, fid, author=who.author, reason=_text(body.reason), at=at,
                                       drawing=drawing)
        return _written(result)

    @router.get("/flags", summary="需要复评的单元及原因（含超期未评）/ units that need re-assessment, and why",
                response_model=Flags, responses=_ERRORS)
    def list_flags(request: Request, enterprise: str | None = ENTERPRISE,
                   unit: str | None = Query(None, min_length=1, max_length=MAX_ID, description="单元编号 / unit id"),
                   reason: str | None = Query(None, max_length=40,
                                              description="原因代码 / reason code: " + " | ".join(REASONS)),
                   all_: bool = Query(False, alias="all", description="含已关闭的 / include cleared flags")) -> Flags:
        if reason is not None and reason not in REASONS:
            raise InputError(f"未知的原因代码 “{reason}”，可选：{'、'.join(REASONS)} / unknown reason code "
                             f"{reason!r}; allowed: {', '.join(REASONS)}")
        store, name = _name(request, enterprise)
        rows = store.flags(name, open_only=not all_, unit_id=unit, reason_code=reason)
        items = [Flag(**{k: r.get(k) for k in Flag.model_fields}) for r in rows]
        return Flags(enterprise=name, count=len(items), items=items)

    @router.post("/flags/clear", summary="关闭某单元的复评标记（写明原因）/ clear a unit's flags, with a reason",
                 response_model=Cleared, responses=_WRITE_ERRORS)
    def clear_flags(request: Request, body: ClearFlagsIn, enterprise: str | None = ENTERPRISE,
                    who: Principal = Depends(require("ledger"))) -> Cleared:
        reason = _text(body.reason)
        if reason is None:
            raise InputError("关闭复评标记必须写明原因 / clearing flags needs a reason")
        store, name = _name(request, enterprise)
        unit_id = body.unit_id.strip()
        if store.unit_record(name, unit_id) is None:
            raise NotFoundError(f"没有编号为 “{unit_id[:80]}” 的评估单元 / no assessment unit {unit_id[:80]!r}")
        result = store.clear_flags(name, unit_id, author=who.author, reason=reason, reason_code=body.reason_code)
        return Cleared(enterprise=name, unit_id=unit_id, **result)

    @router.post("/accidents", summary="记录事故（标记相关单元需复评）/ record an accident (flags units)",
                 response_model=AccidentRecorded, status_code=201, responses=_WRITE_ERRORS)
    def record_accident(request: Request, body: AccidentIn, enterprise: str | None = ENTERPRISE,
                        who: Principal = Depends(require("ledger"))) -> AccidentRecorded:
        from riskmap.store.history import parse_moment

        description = _text(body.description)
        if description is None:
            raise InputError("事故经过不能为空 / the description is empty")
        parse_moment(body.date.isoformat())          # the same bounds as every moment: not before 1990, not ahead
        store, name = _name(request, enterprise)
        unit_id = body.unit_id.strip() if body.unit_id else None
        if unit_id is not None and store.unit_record(name, unit_id) is None:
            raise NotFoundError(f"没有编号为 “{unit_id[:80]}” 的评估单元 / no assessment unit {unit_id[:80]!r}")
        result = store.record_accident(name, unit_id, body.date, description, deaths=body.deaths,
                                       serious_injuries=body.serious_injuries, author=who.author)
        return AccidentRecorded(enterprise=name, **result)

    return router

