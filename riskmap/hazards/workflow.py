"""The closed loop of a hidden hazard as a pure state machine: which transition is allowed from which state, by
which permission, with which fields, and what it changes.

reported → confirmed (or rejected) → assigned → rectifying → awaiting acceptance → accepted → closed; an acceptor
may send the work back (awaiting acceptance → rectifying); while assigned or rectifying the rectifier may ask for
a later deadline, which a manager grants or refuses; 即查即改 (fixed on the spot) reports and closes in one step
with its evidence. `apply` takes a record (None for a new one), the transition, who acts and their fields, and
returns the changed record and the step to record (what changed, before → after); it never writes anything, so
the store calls it inside its transaction and every rule is tested without a database.

Rules kept here: a major hazard cannot enter rectification without the five in place (责任、措施、资金、时限、预案)
and the plan's parts; a deadline in the past is refused; the acceptor is never the rectifier; a determination
item makes the level major; a hazard from a failed control measure names the unit, event and control.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import uuid4

from riskmap.clock import local_date
from riskmap.errors import ForbiddenError, InputError, RiskmapError
from riskmap.hazards import model, reference
from riskmap.hazards.model import MAJOR, PLAN_PARTS, Hazard, HazardInputError, State
from riskmap.people import PERMISSIONS


class TransitionError(RiskmapError, http_status=409):
    """A transition that is not allowed from the hazard's current state."""


class TransitionForbidden(ForbiddenError):
    """A transition this person may not make: their roles lack its permission, or they rectified the work they
    would accept, or they are not the assigned rectifier."""


class FiveInPlaceError(InputError):
    """A major hazard sent into rectification without the five in place or the plan's parts; `details` lists
    what is missing."""


class DeadlineError(InputError):
    """A deadline in the past (Beijing date) or not later than the one it replaces."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a name (as the record keeps it), their account id when they have one, their permissions."""

    name: str
    account_id: int | None
    permissions: frozenset[str]


@dataclass(frozen=True)
class Transition:
    """One move of the loop: allowed from `sources` (None: a new record), to `target` (None: the state stays)."""

    name: str
    sources: frozenset[State | None]
    target: State | None
    permission: str
    zh: str
    en: str


def _t(name: str, sources, target, permission: str, zh: str, en: str) -> Transition:
    return Transition(name, frozenset(sources), target, permission, zh, en)


S = State
TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    _t("report", [None], S.REPORTED, "hazard_report", "上报", "report"),
    _t("fix_on_spot", [None], S.CLOSED, "hazard_report", "即查即改", "fix on the spot"),
    _t("confirm", [S.REPORTED], S.CONFIRMED, "hazard_manage", "确认", "confirm"),
    # A manager corrects the record (place, level, description, …) while it is open, the state unchanged: what
    # a GIS client's PATCH of a hazard does (riskmap.api.routers.ogc_edit).
    _t("correct", [S.REPORTED, S.CONFIRMED, S.ASSIGNED, S.RECTIFYING], None, "hazard_manage", "更正", "correct"),
    _t("reject", [S.REPORTED, S.CONFIRMED], S.REJECTED, "hazard_manage", "驳回（非隐患）", "reject (not a hazard)"),
    _t("assign", [S.CONFIRMED], S.ASSIGNED, "hazard_manage", "指派整改", "assign"),
    _t("rectify", [S.ASSIGNED], S.RECTIFYING, "hazard_rectify", "开始整改", "start rectification"),
    _t("submit", [S.RECTIFYING], S.AWAITING, "hazard_rectify", "整改完成，提交验收", "submit for acceptance"),
    _t("accept", [S.AWAITING], S.ACCEPTED, "hazard_accept", "验收通过", "accept"),
    _t("send_back", [S.AWAITING], S.RECTIFYING, "hazard_accept", "验收不通过，退回整改", "send back"),
    _t("close", [S.ACCEPTED], S.CLOSED, "hazard_manage", "销号", "close"),
    _t("request_extension", [S.ASSIGNED, S.RECTIFYING], None, "hazard_rectify", "申请延期", "request an extension"),
    _t("grant_extension", [S.ASSIGNED, S.RECTIFYING], None, "hazard_manage", "批准延期", "grant the extension"),
    _t("refuse_extension", [S.ASSIGNED, S.RECTIFYING], None, "hazard_manage", "不批准延期", "refuse the extension"),
)}
# Fields a report (and 即查即改) may carry, and those a confirmation may correct.
REPORT_FIELDS = ("name", "description", "cause", "level", "item", "source", "hazard_type", "category",
                 "management_classification", "occurrence_link", "unit_code", "risk_event_code", "control_index",
                 "fid", "department", "location", "hazard_code", "check_record_id", "liable_person",
                 "rectification_measures", "cost", "comments")
CONFIRM_FIELDS = ("name", "description", "cause", "level", "item", "source", "hazard_type", "category",
                  "management_classification", "occurrence_link", "unit_code", "risk_event_code", "control_index",
                  "fid", "department", "location", "hazard_code", "liable_person", "comments")
ASSIGN_FIELDS = ("rectifier", "rectifier_id", "deadline", "liable_person", "rectification_measures", "cost", "plan",
                 "department", "comments")
RECTIFY_FIELDS = ("liable_person", "rectification_measures", "cost", "plan", "comments")
# What each transition takes besides the reason; "note" is the rectification note or the acceptance comment.
TAKES: dict[str, tuple[str, ...]] = {
    "report": REPORT_FIELDS, "fix_on_spot": (*REPORT_FIELDS, "note"), "confirm": CONFIRM_FIELDS,
    "correct": CONFIRM_FIELDS, "reject": (),
    "assign": ASSIGN_FIELDS, "rectify": RECTIFY_FIELDS, "submit": ("note", "cost"), "accept": ("note",),
    "send_back": (), "close": (), "request_extension": ("deadline",), "grant_extension": ("deadline",),
    "refuse_extension": (),
}
NEEDS_REASON = frozenset({"reject", "send_back", "request_extension", "refuse_extension"})
# The five in place (五落实) and where each is read from.
FIVE: dict[str, tuple[str, str]] = {
    "liable_person": ("责任落实（整改责任人）", "responsibility (the person liable)"),
    "rectification_measures": ("措施落实（整改措施）", "measures"),
    "cost": ("资金落实（整改资金）", "funds (the cost)"),
    "deadline": ("时限落实（整改期限）", "deadline"),
    "emergency": ("预案落实（应急预案）", "contingency plan"),
}


@dataclass(frozen=True)
class Step:
    """What one transition did, for the timeline: from and to, why, and each changed field (before, after)."""

    action: str
    from_state: State | None
    to_state: State
    reason: str | None
    changed: dict[str, tuple[Any, Any]]
    author: str
    author_id: int | None
    at: datetime


def allowed(hazard: Hazard | None, who: Actor) -> list[str]:
    """The transitions `who` may try on this hazard now (the rules on fields still apply)."""
    state = hazard.state if hazard is not None else None
    return [t.name for t in TRANSITIONS.values() if state in t.sources and t.permission in who.permissions]


def apply(hazard: Hazard | None, action: str, who: Actor, values: dict[str, Any] | None = None, *,
          reason: str | None = None, now: datetime) -> tuple[Hazard, Step]:
    """The hazard after `action` by `who` with `values` (the fields it takes), and the step to record.

    Raises TransitionError (409) from a wrong state, TransitionForbidden (403) without the permission (or an
    acceptor who rectified it), HazardInputError / FiveInPlaceError / DeadlineError (422) for bad fields.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InputError(f"没有操作 “{str(action)[:40]}”，可用：{', '.join(TRANSITIONS)} / no transition "
                         f"{str(action)[:40]!r}")
    state = hazard.state if hazard is not None else None
    if state not in transition.sources:
        now_is = model.STATE_LABELS[state] if state is not None else ("未登记", "not registered")
        raise TransitionError(f"隐患当前为“{now_is[0]}”，不能{transition.zh} / the hazard is {now_is[1]}: cannot "
                              f"{transition.en}")
    if transition.permission not in who.permissions:
        zh, en = PERMISSIONS[transition.permission]
        raise TransitionForbidden(f"“{who.name}”无权{zh}，不能{transition.zh} / {who.name!r} may not {en}: cannot "
                                  f"{transition.en}")
    values = dict(values or {})
    unknown = sorted(set(values) - set(TAKES[action]))
    if unknown:
        raise HazardInputError(f"{transition.zh}不接受这些字段：{', '.join(map(str, unknown))[:200]} / {transition.en} "
                               f"does not take: {', '.join(map(str, unknown))[:200]}")
    why = model.text(reason, ("原因", "the reason"), required=action in NEEDS_REASON)
    before = hazard if hazard is not None else Hazard(id=uuid4().hex, name="-")
    after = RULES[action](before, who, values, now)
    if transition.target is not None:
        after = replace(after, state=transition.target)
    if hazard is None:
        after = replace(after, registrant=who.name, registrant_id=who.account_id, registered_at=now)
    after = replace(after, version=before.version + 1)
    changed = {}
    for name in model.FIELD_NAMES:
        old, new = (getattr(hazard, name) if hazard is not None else None), getattr(after, name)
        if name != "version" and not _same_value(old, new) and not (hazard is None and new in (None, {})):
            changed[name] = (old, new)
    return after, Step(action, state, after.state, why, changed, who.name, who.account_id, now)


def _same_value(a: Any, b: Any) -> bool:
    if hasattr(a, "equals") and hasattr(b, "equals"):       # shapely geometries
        return bool(a.equals_exact(b, 0.0))
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------------------------------- field rules

_CHECKS: dict[str, Callable[[Any], Any]] = {
    "name": lambda v: model.text(v, ("隐患名称", "the hazard's name"), model.MAX_NAME, required=True),
    "description": lambda v: model.text(v, ("隐患描述", "the description")),
    "cause": lambda v: model.text(v, ("隐患原因", "the cause")),
    "level": lambda v: model.code("dangerLevel", v, ("隐患等级", "the level"), required=True),
    "item": model.item,
    "source": lambda v: model.code("dangerSrc", v, ("隐患来源", "the source"), required=True),
    "hazard_type": lambda v: model.code("hazardDangerType", v, ("隐患类型", "the type"), required=True),
    "category": lambda v: model.code("hazardCategory", v, ("登记人类别", "the category"), required=True),
    "management_classification": lambda v: model.code("managementClassification", v,
                                                      ("隐患管理分类", "the management classification")),
    "occurrence_link": lambda v: model.code("occurrenceLink", v, ("产生环节", "the occurrence link")),
    "unit_code": lambda v: model.text(v, ("评估单元编号", "the unit id"), model.MAX_CODE),
    "risk_event_code": lambda v: model.text(v, ("风险事件编号", "the risk event"), model.MAX_CODE),
    "control_index": model.index,
    "fid": lambda v: model.text(v, ("要素编号", "the layout feature id"), model.MAX_CODE),
    "department": lambda v: model.text(v, ("责任部门", "the department"), model.MAX_PERSON),
    "location": model.location,
    "hazard_code": lambda v: model.text(v, ("重大危险源编码", "the major hazard installation code"), model.MAX_CODE),
    "check_record_id": lambda v: model.text(v, ("排查记录编号", "the check record id"), model.MAX_CODE),
    "liable_person": lambda v: model.text(v, ("整改责任人", "the person liable"), model.MAX_PERSON),
    "rectification_measures": lambda v: model.text(v, ("整改措施", "the rectification measures")),
    "cost": model.money,
    "comments": lambda v: model.text(v, ("备注", "the comments")),
    "rectifier": lambda v: model.text(v, ("整改人", "the rectifier"), model.MAX_PERSON, required=True),
    "rectifier_id": lambda v: _account(v),
    "deadline": lambda v: model.day(v, ("整改期限", "the deadline")),
    "plan": model.plan,
}


def _account(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise HazardInputError("整改人账户编号应为正整数 / rectifier_id must be a positive whole number")
    return value


def _checked(values: dict[str, Any], names) -> dict[str, Any]:
    """The given fields of `names`, each checked (a plan merges with the one it replaces later)."""
    return {k: _CHECKS[k](values[k]) for k in names if k in values}


def _with_fields(h: Hazard, values: dict[str, Any], names) -> Hazard:
    found = _checked(values, names)
    if "plan" in found:
        found["plan"] = {**h.plan, **found["plan"]}
    out = replace(h, **found)
    if out.item is not None:                   # citing a determination item makes the level major
        out = replace(out, level=MAJOR)
    if out.source == reference.SOURCE_CONTROL_FAILED and (out.unit_code is None or out.control_index is None):
        raise HazardInputError("来源为“管控措施失效”的隐患需注明评估单元、风险事件和失效的管控措施 / "
                               "a hazard from a failed control measure needs the unit, the risk event and the "
                               "control (unit_code, risk_event_code, control_index)")
    if out.control_index is not None and out.unit_code is None:
        raise HazardInputError("注明管控措施时需注明评估单元 / a control measure needs its unit (unit_code)")
    return out


def _future(deadline: date | None, now: datetime, what: tuple[str, str]) -> date:
    if deadline is None:
        raise HazardInputError(f"{what[0]}不能为空 / {what[1]} is required")
    today = local_date(now)
    if deadline < today:
        raise DeadlineError(f"{what[0]} {deadline} 已过（今天是 {today}，北京时间）/ {what[1]} {deadline} is in the "
                            f"past (today is {today}, Beijing)")
    return deadline


def missing_five(h: Hazard) -> list[str]:
    """What a major hazard still lacks before rectification: the five in place, then the plan's parts."""
    out = []
    for key, (zh, en) in FIVE.items():
        present = h.plan.get(key) if key == "emergency" else getattr(h, key)
        if present is None or present == "":
            out.append(f"{zh} / {en}")
    for key, (zh, en) in PLAN_PARTS.items():
        if key != "emergency" and not h.plan.get(key):
            out.append(f"整改方案：{zh} / the plan's {en}")
    return out


def _report(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if "name" not in values:
        raise HazardInputError("隐患名称不能为空 / the hazard's name is required")
    return _with_fields(h, values, REPORT_FIELDS)


def _fix_on_spot(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    out = _report(h, who, values, now)
    if out.major:
        raise HazardInputError("重大隐患不能即查即改，须制定整改方案 / a major hazard cannot be fixed on the spot: it "
                               "needs a rectification plan")
    note = model.text(values.get("note"), ("整改情况（即查即改的证据）", "what was done (the evidence)"),
                      required=True)
    return replace(out, manage_type=reference.MANAGE_ON_SPOT, rectifier=who.name, rectifier_id=who.account_id,
                   rectification_note=note, accept_at=now, accept_comment="即查即改 / fixed on the spot",
                   deadline=local_date(now))


def _confirm(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    return _with_fields(h, values, CONFIRM_FIELDS)


def _assign(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if "rectifier" not in values:
        raise HazardInputError("指派需注明整改人 / an assignment names the rectifier")
    out = _with_fields(h, values, ASSIGN_FIELDS)
    _future(out.deadline, now, ("整改期限", "the deadline"))
    return replace(out, manage_type=reference.MANAGE_BY_DEADLINE)


def _is_rectifier(h: Hazard, who: Actor) -> bool:
    if h.rectifier_id is not None and who.account_id is not None:
        return h.rectifier_id == who.account_id
    return h.rectifier is not None and h.rectifier == who.name


def _rectify(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if h.rectifier_id is not None and not _is_rectifier(h, who):
        raise TransitionForbidden(f"该隐患指派给“{h.rectifier}”整改，不是“{who.name}” / the hazard is assigned to "
                                  f"{h.rectifier!r}, not to {who.name!r}")
    out = _with_fields(h, values, RECTIFY_FIELDS)
    if out.major:
        missing = missing_five(out)
        if missing:
            raise FiveInPlaceError("重大隐患须五落实并有完整的整改方案后才能开始整改 / "
                                   "a major hazard enters rectification only with the five in place and a "
                                   "complete plan", details=missing)
    return out


def _submit(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if h.rectifier_id is not None and not _is_rectifier(h, who):
        raise TransitionForbidden(f"只有整改人“{h.rectifier}”可以提交验收 / only the rectifier {h.rectifier!r} submits")
    note = model.text(values.get("note"), ("整改情况说明", "the rectification note"), required=True)
    found = _checked(values, ("cost",))
    return replace(h, rectification_note=note, **found)


def _accept(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if _is_rectifier(h, who):
        raise TransitionForbidden(f"验收人不能是整改人（“{who.name}”）/ the acceptor cannot be the rectifier "
                                  f"({who.name!r})")
    comment = model.text(values.get("note"), ("验收意见", "the acceptance comment"), required=True)
    return replace(h, accept_person=who.name, accept_person_id=who.account_id, accept_at=now,
                   accept_comment=comment)


def _send_back(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if _is_rectifier(h, who):
        raise TransitionForbidden(f"验收人不能是整改人（“{who.name}”）/ the acceptor cannot be the rectifier "
                                  f"({who.name!r})")
    return h


def _same(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    return h


def _request_extension(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if h.extension is not None:
        raise TransitionError("已有待批准的延期申请 / an extension request is already pending")
    wanted = _future(_checked(values, ("deadline",)).get("deadline"), now, ("新的整改期限", "the new deadline"))
    if h.deadline is not None and wanted <= h.deadline:
        raise DeadlineError(f"新的期限 {wanted} 应晚于现在的 {h.deadline} / the new deadline {wanted} must be later "
                            f"than {h.deadline}")
    return replace(h, extension={"deadline": wanted.isoformat(), "by": who.name, "by_id": who.account_id,
                                 "at": now.isoformat()})


def _grant_extension(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if h.extension is None:
        raise TransitionError("没有待批准的延期申请 / no extension request is pending")
    given = _checked(values, ("deadline",)).get("deadline") or date.fromisoformat(h.extension["deadline"])
    _future(given, now, ("新的整改期限", "the new deadline"))
    if h.deadline is not None and given <= h.deadline:
        raise DeadlineError(f"新的期限 {given} 应晚于现在的 {h.deadline} / the new deadline must be later than "
                            f"{h.deadline}")
    return replace(h, deadline=given, extension=None)


def _refuse_extension(h: Hazard, who: Actor, values: dict, now: datetime) -> Hazard:
    if h.extension is None:
        raise TransitionError("没有待批准的延期申请 / no extension request is pending")
    return replace(h, extension=None)


RULES: dict[str, Callable[[Hazard, Actor, dict, datetime], Hazard]] = {
    "report": _report, "fix_on_spot": _fix_on_spot, "confirm": _confirm, "correct": _confirm, "reject": _same,
    "assign": _assign,
    "rectify": _rectify, "submit": _submit, "accept": _accept, "send_back": _send_back, "close": _same,
    "request_extension": _request_extension, "grant_extension": _grant_extension,
    "refuse_extension": _refuse_extension,
}
