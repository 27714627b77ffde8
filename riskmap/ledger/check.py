"""Checks that need the whole ledger (tree, ids, evaluations), run once after a reader built the objects.

The evaluations are checked with riskmap.criteria exactly as `assess_units` will run them later, so that an
import that passes here cannot fail there; the messages are the criteria's own.
"""

from __future__ import annotations

import re
from typing import Any

from riskmap.domain import AssessmentUnit, UnitTree
from riskmap.errors import RiskmapError
from riskmap.ledger.model import Ledger, Problems, Where

_EVAL_ERRORS = (RiskmapError, ValueError, TypeError, KeyError, ArithmeticError, LookupError)


def _criteria():
    from riskmap import criteria

    return criteria


def evaluation_dict(ev) -> dict[str, Any] | None:
    """An evaluation as JSON for exports with evaluations: information only, recomputed when the ledger is read."""
    if ev is None:
        return None
    to_dict = getattr(_criteria(), "evaluation_to_dict", None)
    if to_dict is not None:
        return to_dict(ev)
    return {"profile": ev.profile, "method": ev.method, "inputs": ev.inputs,
            "score": None if ev.score is None else str(ev.score), "grade": ev.grade, "level": ev.level.value,
            "computed_level": ev.computed_level.value}


def _input_column(exc: Exception, inputs: dict[str, Any]) -> str | None:
    """Which input an InputError is about: its details if they name one, else the first key its message names."""
    for detail in getattr(exc, "details", None) or []:
        if isinstance(detail, dict) and detail.get("input") is not None:
            name = str(detail["input"])
            if name in inputs or name == "direct_rules":
                return name
            for key in inputs:
                if str(key).lower() == name.lower():
                    return str(key)
            return name                 # a missing input: its own column, when the sheet has one
    message = getattr(exc, "message", None) or str(exc)
    found = []
    for key in inputs:
        m = re.search(rf"(?<![A-Za-z0-9]){re.escape(str(key))}(?![A-Za-z0-9])", message)
        if m:
            found.append((m.start(), str(key)))
    if found:
        return min(found)[1]
    return None


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc) or exc.__class__.__name__


def check_tree(units: list[AssessmentUnit], wheres: dict[int, Where], problems: Problems) -> None:
    """Duplicate ids, unknown parents and parent cycles, each reported at the unit's own row."""
    by_id: dict[str, AssessmentUnit] = _first_by_id(units, wheres, problems, "单元编号", "unit id", "unit")
    for unit in units:
        if by_id.get(unit.id) is not unit:
            continue
        if unit.parent_id is not None and unit.parent_id not in by_id:
            problems.add(wheres.get(id(unit)), "parent", f"上级单元 “{unit.parent_id}” 不存在 / unknown parent unit "
                         f"{unit.parent_id!r}", unit=unit)
    in_cycle: dict[str, str] = {}
    for unit in by_id.values():
        path: list[str] = []
        seen: set[str] = set()
        cur: str | None = unit.id
        while cur is not None and cur in by_id and cur not in seen:
            if cur in in_cycle:
                break
            seen.add(cur)
            path.append(cur)
            cur = by_id[cur].parent_id
        if cur is not None and cur in seen:
            cycle = path[path.index(cur):]
            for member in cycle:
                if member not in in_cycle:
                    k = cycle.index(member)
                    in_cycle[member] = " → ".join([*cycle[k:], *cycle[:k], member])
    for unit in units:                      # reported in ledger order
        chain = in_cycle.pop(unit.id, None) if by_id.get(unit.id) is unit else None
        if chain is not None:
            problems.add(wheres.get(id(unit)), "parent", f"上级单元关系形成循环：{chain} / parent cycle: {chain}",
                         unit=unit)


def check_event_ids(units: list[AssessmentUnit], wheres: dict[int, Where], problems: Problems) -> None:
    """Event ids are unique across the ledger (a restore or an accident names an event by its id)."""
    _first_by_id([ev for unit in units for ev in unit.events], wheres, problems, "风险事件编号", "event id", "event")


def _first_by_id(items: list, wheres: dict[int, Where], problems: Problems, zh: str, en: str, kind: str) -> dict:
    """Each id's first item; every later one is reported at its own row, naming where the first one stands."""
    first_of: dict = {}
    for item in items:
        if item.id is None:
            continue
        if item.id in first_of:
            first = wheres.get(id(first_of[item.id]))
            at = f"（首次出现：{first.sheet} 行 {first.row}）" if first else ""
            problems.add(wheres.get(id(item)), "id", f"{zh} “{item.id}” 重复{at} / duplicate {en} {item.id!r}",
                         **{kind: item})
        else:
            first_of[item.id] = item
    return first_of


def check_evaluations(units: list[AssessmentUnit], default_profile: str, wheres: dict[int, Where],
                      problems: Problems, stated_scores: dict | None = None,
                      profile_where: Where | None = None) -> None:
    """Evaluate every event as `assess_units` will (same profile resolution, same direct rules), so that an
    import that passes here cannot fail there; a level written beside inputs must agree with them.

    A level that agrees is dropped (it is derived), so that every source of the same ledger gives the same
    canonical form; one that disagrees is a problem (often a ledger graded under another profile). A score
    written beside the inputs (表B's D column) must be their product.
    """
    criteria = _criteria()
    stated_scores = stated_scores or {}
    # inputs with a bad cell already reported are not evaluated again (it would only say "missing")
    reported = {(id(p.event), p.field.split(".")[0]) for p in problems.items
                if p.event is not None and p.field.startswith(("inputs", "inherent_inputs"))}
    reported_units = {id(p.unit) for p in problems.items if p.unit is not None and p.field.startswith("major_hazard")}
    try:
        resolver = criteria.ProfileResolver(default_profile)
    except _EVAL_ERRORS as exc:
        problems.add(profile_where, "profile", _message(exc))
        return
    for unit in units:
        if unit.major_hazard and id(unit) not in reported_units:
            try:
                criteria.major_hazard_from_unit_data(unit.major_hazard)
            except _EVAL_ERRORS as exc:
                problems.add(wheres.get(id(unit)), "major_hazard", _message(exc), unit=unit)
        for ev in unit.events:
            where = wheres.get(id(ev))
            try:
                profile = resolver.for_event(ev)
            except _EVAL_ERRORS as exc:
                problems.add(where, "method", _message(exc), event=ev)
                continue
            rules = list(ev.direct_rules) or None
            for inputs_attr, level_attr, prefix in (("inputs", "residual_level", ""),
                                                    ("inherent_inputs", "inherent_level", "inherent_")):
                inputs = getattr(ev, inputs_attr)
                if (id(ev), inputs_attr) in reported:
                    continue
                if not inputs:
                    if not prefix and rules:
                        try:
                            criteria.evaluate_direct(profile, rules, ev.residual_level)
                        except _EVAL_ERRORS as exc:
                            problems.add(where, "direct_rules", _message(exc), event=ev)
                    continue
                call = dict(inputs)
                stated = stated_scores.get((id(ev), prefix))
                if stated is not None:
                    call[profile.score_key] = stated
                try:
                    result = criteria.evaluate_inputs(profile, call, rules)
                except _EVAL_ERRORS as exc:
                    key = _input_column(exc, call)
                    if key == "direct_rules":
                        column = "direct_rules"
                    elif key is not None and key == profile.score_key and key not in inputs:
                        column = f"{prefix}score"
                    else:
                        column = f"{prefix}inputs.{key}" if key else f"{prefix}inputs"
                    problems.add(where, column, _message(exc), event=ev)
                    continue
                given = getattr(ev, level_attr)
                if given is None:
                    continue
                allowed = {result.level, result.computed_level}
                if ev.override is not None:
                    allowed.add(ev.override.level)
                if given in allowed:
                    setattr(ev, level_attr, None)
                else:
                    score = "" if result.score is None else f"，{profile.score_key} = {result.score}"
                    problems.add(where, f"{prefix}level",
                                 f"风险等级 “{given.zh}” 与评价结果 “{result.level.zh}”"
                                 f"（准则 {profile.name}{score}）不一致；请核对取值或评价方法 / "
                                 f"level {given.value} disagrees with the evaluation "
                                 f"({result.level.value} under {profile.name})", event=ev)


def finish(ledger: Ledger, wheres: dict[int, Where], problems: Problems, skip_bad: bool, *,
           stated_scores: dict | None = None, profile_where: Where | None = None, sort_key=None) -> Ledger:
    """Run the whole-ledger checks, then raise with every problem (in reading order when `sort_key` says
    it), or (skip_bad) drop what is bad."""
    check_tree(ledger.units, wheres, problems)
    check_event_ids(ledger.units, wheres, problems)
    check_evaluations(ledger.units, ledger.profile, wheres, problems, stated_scores, profile_where)
    if sort_key is not None:
        problems.items.sort(key=sort_key)
    if len(problems) == 0:
        UnitTree(ledger.units)
        return ledger
    if not skip_bad:
        raise problems.error()
    bad_units = {id(p.unit) for p in problems.items if p.unit is not None}
    bad_events = {id(p.event) for p in problems.items if p.event is not None}
    # A unit keeps only its first occurrence; a bad unit takes its descendants with it.
    kept: dict[str, AssessmentUnit] = {}
    for unit in ledger.units:
        if id(unit) not in bad_units and unit.id not in kept:
            kept[unit.id] = unit
    changed = True
    while changed:
        changed = False
        for uid, unit in list(kept.items()):
            if unit.parent_id is not None and unit.parent_id not in kept:
                del kept[uid]
                changed = True
    units = []
    for unit in ledger.units:
        if kept.get(unit.id) is unit:
            unit.events = [ev for ev in unit.events if id(ev) not in bad_events]
            units.append(unit)
    UnitTree(units)
    ledger.units = units
    ledger.problems = problems.as_dicts()
    return ledger
