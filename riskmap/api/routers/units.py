"""PATCH /api/units/{id}: a forced level (override) or new inputs for a unit's risk events. The router parses and
answers; riskmap.unit_edits does the work."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from riskmap.api import answers
from riskmap.api.deps import resolve_tenant
from riskmap.api.fields import Text
from riskmap.api.permissions import require
from riskmap.api.requests import reason_of
from riskmap.people import Principal
from riskmap.unit_edits import UNSET, edit_unit


class OverrideIn(BaseModel):
    """A level forced on a unit, whatever its events evaluate to; the reason is required and kept with it."""

    model_config = ConfigDict(extra="forbid")

    level: Text = Field(..., description="重大/较大/一般/低 或 major/significant/general/low")
    reason: Text = Field(..., description="指定等级的理由 / why the level is forced")


class EventInputsIn(BaseModel):
    """New method inputs for one of the unit's risk events (by its id); the event is evaluated again from them."""

    model_config = ConfigDict(extra="forbid")

    id: Text = Field(..., description="风险事件编号 / the risk event's id")
    inputs: dict[Text, Any] = Field(..., description="评价输入，如 L/E/C 或 L/S / method inputs, e.g. L, E, C")


class UnitPatch(BaseModel):
    """Exactly what to change: `override` (an object, or null to remove it) and/or `events`."""

    model_config = ConfigDict(extra="forbid")

    override: OverrideIn | None = Field(None, description="强制等级；null 取消 / forced level; null removes it")
    events: list[EventInputsIn] | None = Field(None, description="重新评价的风险事件 / events to re-evaluate")
    assessed_on: date | None = Field(
        None, description="本次评估的日期（北京时间；重新评价风险事件时默认今天）；记录新的评估并清除重新评估标记"
                          " / the date of this assessment (Beijing; today by default when events are "
                          "re-evaluated); records a new assessment and clears re-assessment flags")




def make_router() -> APIRouter:
    """PATCH /api/units/{unit_id} ("edit_units"): a unit's forced level or its events' new inputs."""
    router = APIRouter(prefix="/api", tags=["units"])

    @router.patch("/units/{unit_id}", response_model=answers.UnitEdited,
                  summary="修改单元的强制等级或重新评价其风险事件 / edit one unit",
                  responses={401: {"description": "需要登录或令牌 / sign-in or a token is required"},
                             403: {"description": "无此权限 / not allowed for this account"},
                             404: {"description": "单元或企业不存在 / no such unit or enterprise"},
                             412: {"description": "单元已被他人修改（If-Match 不符）/ changed meanwhile (If-Match)"},
                             422: {"description": "输入有误 / invalid input"}},
                  openapi_extra={"parameters": [
                      {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "可选：单元的 ETag，不符时 412 / optional: the unit's ETag; 412 when stale"},
                      {"name": "X-Reason", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "修改理由（百分号编码）/ why (percent-encoded)"}]})
    async def patch_unit(request: Request, unit_id: str,
                         body: UnitPatch = Body(..., examples=[
                             {"override": {"level": "major", "reason": "涉及重大危险源"}}, {"override": None},
                             {"events": [{"id": "E1", "inputs": {"L": 3, "E": 6, "C": 15}}]}]),
                         enterprise: str | None = Query(None, description="企业名称 / enterprise"),
                         who: Principal = Depends(require("edit_units"))) -> dict:
        fields = body.model_fields_set
        override = UNSET
        if "override" in fields:
            override = None if body.override is None else body.override.model_dump()
        events = [e.model_dump() for e in body.events] if body.events else None
        if_match = request.headers.get("if-match")

        def edit() -> dict:
            tenant = resolve_tenant(request.app, enterprise)
            return edit_unit(tenant.store, tenant.name, unit_id, override, events,
                             author=who.author, reason=reason_of(request), if_match=if_match or None,
                             assessed_on=body.assessed_on)

        # One trip to a worker thread for the whole edit, its answer checked on the event loop: under many tile
        # readers each trip waits for the loop's turn (a sync route would take two, the edit and the answer).
        return await run_in_threadpool(edit)

    return router
