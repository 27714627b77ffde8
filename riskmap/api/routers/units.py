"""Editing one assessment unit: a forced level (override) or new inputs for its risk events.

The handler is small; `edit_unit` holds the logic (also for later editing with ETag/If-Match and tokens): the
change is applied to the unit read inside the writing transaction, events are re-evaluated with
riskmap.criteria under the ledger's profile, and the store writes a new ledger version and bumps the data version
in that same transaction (the map snapshot is refreshed in it too, so the next tile is already the new colour).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from riskmap.api.auth import require_editor
from riskmap.api.fields import Text
from riskmap.clock import today as clock_today
from riskmap.domain import RESIDUAL, AssessmentUnit, Override
from riskmap.errors import InputError
from riskmap.levels import Level

MANUAL_RULE = "manual"
MAX_REASON = 2000


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Text = Field(..., description="重大/较大/一般/低 或 major/significant/general/low")
    reason: Text = Field(..., description="指定等级的理由 / why the level is forced")


class EventInputsIn(BaseModel):
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


_UNSET = object()


def apply_unit_patch(unit: AssessmentUnit, override: Any = _UNSET, events: list[dict] | None = None,
                     profile: str = "lec", assessed_on: date | None = None) -> None:
    """Change `unit` in place: new event inputs re-evaluated under `profile` (an event's own method wins), then
    the override set or removed, then the unit-level major hazard rule applied again. InputError on bad input.

    Re-evaluating events is a new assessment: the unit's last_assessed becomes `assessed_on` (default today), which
    is what clears its re-assessment flags, even when the result is the same level as before."""
    from riskmap.criteria import ProfileResolver, apply_major_hazard, assess_event

    resolver = ProfileResolver(profile)
    for change in events or []:
        event_id = str(change.get("id", "")).strip()
        found = [ev for ev in unit.events if ev.id is not None and str(ev.id) == event_id]
        if not found:
            known = "、".join(str(ev.id) for ev in unit.events if ev.id) or "无 / none"
            raise InputError(f"单元 {unit.id} 没有编号为 “{event_id[:80]}” 的风险事件（已有：{known}）/ unit "
                             f"{unit.id!r} has no risk event {event_id[:80]!r}")
        inputs = change.get("inputs")
        if not isinstance(inputs, dict) or not inputs:
            raise InputError(f"风险事件 {event_id} 的评价输入不能为空 / the inputs of event {event_id!r} are empty")
        event = found[0]
        event.inputs = dict(inputs)
        event.residual = None
        assess_event(event, resolver)
    if override is not _UNSET:
        if override is None:
            unit.override = None
        else:
            try:
                level = Level.parse(override.get("level"))
            except ValueError as exc:
                raise InputError(str(exc)) from None
            reason = str(override.get("reason") or "").strip()
            if not reason:
                raise InputError("指定风险等级必须写明理由 / a forced level needs a reason")
            if len(reason) > MAX_REASON:
                raise InputError(f"理由过长（最多 {MAX_REASON} 字）/ the reason is longer than {MAX_REASON}")
            unit.override = Override(level, reason, MANUAL_RULE)
    apply_major_hazard(unit, resolver.default)
    if assessed_on is not None or events:
        today = clock_today()
        when = assessed_on or today
        if when > today:
            raise InputError(f"评估日期 {when.isoformat()} 在未来 / the assessment date {when.isoformat()} is in the "
                             "future")
        if when.year < 1990:
            raise InputError(f"评估日期 {when.isoformat()} 太早 / the assessment date {when.isoformat()} is too early")
        if unit.last_assessed is None or when > unit.last_assessed:
            unit.last_assessed = when


def edit_unit(store, enterprise: str | None, unit_id: str, override: Any = _UNSET,
              events: list[dict] | None = None, author: str | None = None, reason: str | None = None,
              if_match: str | None = None, assessed_on: date | None = None) -> dict:
    """Apply a change to one unit as a new ledger version; returns the unit as stored, with its new level.

    With `if_match` (an If-Match header) the unit must still be the version the caller read (412 otherwise)."""
    from riskmap.plant import resolve_enterprise

    name = resolve_enterprise(store, enterprise)
    store.enterprise(name, create=False)                         # NotFoundError for an unknown enterprise
    if override is _UNSET and not events and assessed_on is None:
        raise InputError("没有要修改的内容：请给出 override、events 或 assessed_on / nothing to change: give override, "
                         "events or assessed_on")
    profile = (store.ledger_info(name) or {}).get("default_profile") or "lec"
    unit, ledger_version, data_version = store.edit_unit(
        name, unit_id, lambda u: apply_unit_patch(u, override, events, profile, assessed_on), author=author,
        reason=reason, if_match=if_match)
    return unit_dict(unit) | {"enterprise": name, "ledger_version": ledger_version, "data_version": data_version}


def unit_dict(unit: AssessmentUnit) -> dict:
    level = unit.level(RESIDUAL)
    ov = unit.override
    return {
        "id": unit.id, "name": unit.name, "kind": unit.kind.value, "parent_id": unit.parent_id,
        "level": level.value if level else None, "level_zh": level.zh if level else None,
        "override": None if ov is None else {"level": ov.level.value, "level_zh": ov.level.zh, "reason": ov.reason,
                                             "rule": ov.rule},
        "last_assessed": unit.last_assessed.isoformat() if unit.last_assessed else None,
        "events": [
            {"id": ev.id, "name": ev.name, "method": ev.method,
             "level": ev.level(RESIDUAL).value if ev.level(RESIDUAL) else None,
             "level_zh": ev.level(RESIDUAL).zh if ev.level(RESIDUAL) else None,
             "score": None if ev.residual is None or ev.residual.score is None else str(ev.residual.score),
             "inputs": {k: str(v) for k, v in ev.inputs.items()}}
            for ev in unit.events
        ],
    }


def make_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["units"])

    @router.patch("/units/{unit_id}", summary="修改单元的强制等级或重新评价其风险事件 / edit one unit",
                  responses={401: {"description": "需要编辑令牌 / an editor token is required"},
                             403: {"description": "只读令牌 / a reader token"},
                             404: {"description": "单元或企业不存在 / no such unit or enterprise"},
                             412: {"description": "单元已被他人修改（If-Match 不符）/ changed meanwhile (If-Match)"},
                             422: {"description": "输入有误 / invalid input"}},
                  openapi_extra={"parameters": [
                      {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "可选：单元的 ETag，不符时 412 / optional: the unit's ETag; 412 when stale"},
                      {"name": "X-Reason", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "修改理由（百分号编码）/ why (percent-encoded)"}]})
    def patch_unit(request: Request, unit_id: str,
                   body: UnitPatch = Body(..., examples=[{"override": {"level": "major", "reason": "涉及重大危险源"}},
                                                         {"override": None},
                                                         {"events": [{"id": "E1", "inputs": {"L": 3, "E": 6,
                                                                                              "C": 15}}]}]),
                   enterprise: str | None = Query(None, description="企业名称 / enterprise"),
                   token: dict = Depends(require_editor)) -> dict:
        from riskmap.api.routers.ogc_edit import _reason

        store = request.app.state.store()
        fields = body.model_fields_set
        override = _UNSET
        if "override" in fields:
            override = None if body.override is None else body.override.model_dump()
        events = [e.model_dump() for e in body.events] if body.events else None
        if_match = request.headers.get("if-match")
        return edit_unit(store, enterprise or request.app.state.settings.enterprise, unit_id, override, events,
                         author=token["name"], reason=_reason(request), if_match=if_match or None,
                         assessed_on=body.assessed_on)

    return router
