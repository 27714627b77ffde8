"""Editing one assessment unit: a forced level (override) or new inputs for its risk events, as a new assessment.

Work shared below the interfaces (the HTTP route today, a command tomorrow): the change is applied to the unit read
inside the writing transaction, events are re-evaluated with riskmap.criteria under the ledger's profile, and the
store writes a new ledger version in that same transaction (the map snapshot with it, so the next tile already
shows the new colour).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from riskmap.clock import EARLIEST
from riskmap.clock import today as clock_today
from riskmap.domain import RESIDUAL, AssessmentUnit, Override
from riskmap.errors import InputError
from riskmap.levels import Level

if TYPE_CHECKING:
    from riskmap.store.repository import Store

MANUAL_RULE = "manual"
MAX_REASON = 2000
UNSET: Any = object()          # "leave the override as it is" (None removes it)


def apply_unit_patch(unit: AssessmentUnit, override: Any = UNSET, events: list[dict] | None = None,
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
    if override is not UNSET:
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
        if when < EARLIEST.date():
            raise InputError(f"评估日期 {when.isoformat()} 太早 / the assessment date {when.isoformat()} is too early")
        if unit.last_assessed is None or when > unit.last_assessed:
            unit.last_assessed = when


def edit_unit(store: Store, enterprise: str, unit_id: str, override: Any = UNSET,
              events: list[dict] | None = None, author: str | None = None, reason: str | None = None,
              if_match: str | None = None, assessed_on: date | None = None) -> dict:
    """Apply a change to one unit as a new ledger version; returns the unit as stored, with its new level.

    With `if_match` (an If-Match header) the unit must still be the version the caller read (412 otherwise)."""
    name = enterprise
    if override is UNSET and not events and assessed_on is None:
        raise InputError("没有要修改的内容：请给出 override、events 或 assessed_on / nothing to change: give override, "
                         "events or assessed_on")
    profile = (store.ledger_info(name) or {}).get("default_profile") or "lec"
    unit, ledger_version, data_version = store.edit_unit(
        name, unit_id, lambda u: apply_unit_patch(u, override, events, profile, assessed_on), author=author,
        reason=reason, if_match=if_match)
    return unit_dict(unit) | {"enterprise": name, "ledger_version": ledger_version, "data_version": data_version}


def unit_dict(unit: AssessmentUnit) -> dict:
    """A unit as the API answers it after an edit: its level, override, last assessment and events."""
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
