"""Units and events built from raw field values (a JSON object or a spreadsheet row), every bad value reported.

Both readers hand raw values here, so JSON and Excel accept and reject exactly the same things.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from riskmap.domain import AssessmentUnit, ControlMeasure, Override, RiskEvent, UnitKind
from riskmap.drawings import parse_feature_cell
from riskmap.ledger.fields import (
    accident_types,
    canonical_number,
    clean_text,
    parse_date,
    parse_decimal,
    parse_geometry,
    parse_int,
    parse_kind,
    parse_level,
    parse_method,
    split_list,
)
from riskmap.ledger.model import Problems, Where
from riskmap.levels import normalise_tier

UNIT_KEYS = frozenset({
    "id", "name", "kind", "parent", "feature", "geometry", "weight", "department", "responsible_person",
    "last_assessed", "work_content", "workplace", "major_hazard", "events", "override",
})
EVENT_KEYS = frozenset({
    "id", "name", "hazard_factor", "hazard_code", "accident_type", "accident_type_2025", "cause", "consequence",
    "impact_range", "location", "method", "inputs", "level", "inherent_inputs", "inherent_level",
    "existing_measures", "measure_effectiveness", "controls", "emergency_measures", "direct_rules", "override",
    # written by exports for reading only; recomputed on import
    "residual", "inherent",
})
CONTROL_KEYS = frozenset({"description", "class", "tier", "department", "person"})
OVERRIDE_KEYS = frozenset({"level", "reason", "rule"})
MAJOR_HAZARD_KEYS = frozenset({"people_500m", "substances"})
SUBSTANCE_KEYS = frozenset({"name", "q", "Q", "category", "beta"})

_TEXT_UNIT_FIELDS = ("department", "responsible_person", "work_content", "workplace")
_TEXT_EVENT_FIELDS = ("hazard_factor", "hazard_code", "cause", "consequence", "impact_range", "location",
                      "existing_measures", "measure_effectiveness", "emergency_measures")


def unknown_keys(raw: dict, allowed: frozenset, where: Where | None, prefix: str, problems: Problems,
                 **owner) -> None:
    """A problem for each key of `raw` outside `allowed` (a misspelt field is reported, never ignored)."""
    for key in raw:
        if key not in allowed:
            problems.add(where, f"{prefix}{key}", f"未知字段 “{key}”，可用字段：{'、'.join(sorted(allowed))} / unknown "
                         f"field {key!r}", **owner)


def _text(raw: dict, key: str, where: Where | None, problems: Problems, prefix: str = "", **owner) -> str | None:
    try:
        return clean_text(raw.get(key))
    except ValueError as exc:
        problems.add(where, f"{prefix}{key}", str(exc), **owner)
        return None


def build_override(raw: Any, where: Where | None, prefix: str, problems: Problems, **owner) -> Override | None:
    """An Override from raw {level, reason, rule}; a level without a written reason is a problem, never accepted."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add(where, prefix.rstrip("."), "调整应为对象 {level, reason} / override must be an object "
                     "{level, reason}", **owner)
        return None
    unknown_keys(raw, OVERRIDE_KEYS, where, prefix, problems, **owner)
    level = None
    if raw.get("level") in (None, ""):
        problems.add(where, f"{prefix}level", "调整等级为空 / override level missing", **owner)
    else:
        try:
            level = parse_level(raw["level"])
        except ValueError as exc:
            problems.add(where, f"{prefix}level", str(exc), **owner)
    reason = _text(raw, "reason", where, problems, prefix, **owner)
    if reason is None:
        problems.add(where, f"{prefix}reason", "调整等级必须写明理由 / an override needs a reason", **owner)
    rule = _text(raw, "rule", where, problems, prefix, **owner)
    if level is None or reason is None:
        return None
    return Override(level=level, reason=reason, rule=rule)


def build_major_hazard(raw: Any, where: Where | None, problems: Problems, **owner) -> dict[str, Any] | None:
    """A unit's major hazard data {people_500m, substances} checked and normalised; the GB 18218 computation itself
    is the criteria's (riskmap.criteria.major_hazard)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add(where, "major_hazard", "重大危险源应为对象 {people_500m, substances} / major_hazard must be an "
                     "object", **owner)
        return None
    unknown_keys(raw, MAJOR_HAZARD_KEYS, where, "major_hazard.", problems, **owner)
    out: dict[str, Any] = {}
    if raw.get("people_500m") in (None, ""):
        problems.add(where, "major_hazard.people_500m", "重大危险源缺少 500 米内人数 / people_500m missing", **owner)
    else:
        try:
            out["people_500m"] = parse_int(raw["people_500m"], "500 米内人数")
        except ValueError as exc:
            problems.add(where, "major_hazard.people_500m", str(exc), **owner)
    subs = raw.get("substances") or []
    if not isinstance(subs, list):
        problems.add(where, "major_hazard.substances", "物质应为列表 / substances must be a list", **owner)
        subs = []
    out["substances"] = []
    for k, sub in enumerate(subs):
        p = f"major_hazard.substances[{k}]."
        if not isinstance(sub, dict):
            problems.add(where, p.rstrip("."), "物质应为对象 {name, q, Q, category} / a substance must be an object",
                         **owner)
            continue
        unknown_keys(sub, SUBSTANCE_KEYS, where, p, problems, **owner)
        item: dict[str, Any] = {}
        name = _text(sub, "name", where, problems, p, **owner)
        if name is None:
            problems.add(where, f"{p}name", "物质名称为空 / substance name missing", **owner)
        item["name"] = name
        for key, what, positive in (("q", "实际存在量 q", False), ("Q", "临界量 Q", True)):
            if sub.get(key) in (None, ""):
                problems.add(where, f"{p}{key}", f"{what}为空 / {key} missing", **owner)
                continue
            try:
                number = parse_decimal(sub[key], what)
                if number < 0 or (positive and number == 0):
                    raise ValueError(f"{what}应大于 0 / {key} must be > 0" if positive else
                                     f"{what}不能为负 / {key} must be ≥ 0")
                item[key] = canonical_number(number)
            except ValueError as exc:
                problems.add(where, f"{p}{key}", str(exc), **owner)
        category = _text(sub, "category", where, problems, p, **owner)
        if category is not None:
            item["category"] = category
        if sub.get("beta") not in (None, ""):
            try:
                item["beta"] = canonical_number(parse_decimal(sub["beta"], "校正系数 β"))
            except ValueError as exc:
                problems.add(where, f"{p}beta", str(exc), **owner)
        if all(key in item for key in ("q", "Q")) and item["name"] is not None:
            out["substances"].append(item)
    return out


def build_unit(raw: dict[str, Any], where: Where | None, problems: Problems) -> AssessmentUnit:
    """An AssessmentUnit from raw values; problems name the unit so that skip_bad can drop it."""
    unit = AssessmentUnit(id="", name="")
    own = {"unit": unit}
    uid = _text(raw, "id", where, problems, **own)
    if uid is None:
        problems.add(where, "id", "单元编号为空 / unit id missing", **own)
    unit.id = uid or f"<row {where.row if where else '?'}>"
    name = _text(raw, "name", where, problems, **own)
    if name is None:
        problems.add(where, "name", "单元名称为空 / unit name missing", **own)
    unit.name = name or unit.id
    if raw.get("kind") not in (None, ""):
        try:
            unit.kind = parse_kind(raw["kind"])
        except ValueError as exc:
            problems.add(where, "kind", str(exc), **own)
    else:
        unit.kind = UnitKind.POST
    unit.parent_id = _text(raw, "parent", where, problems, **own)
    cell = _text(raw, "feature", where, problems, **own)
    try:
        unit.feature_ref, unit.placements = parse_feature_cell(cell)
    except ValueError as exc:
        problems.add(where, "feature", str(exc), **own)
    if raw.get("geometry") not in (None, ""):
        try:
            unit.geometry = parse_geometry(raw["geometry"])
        except ValueError as exc:
            problems.add(where, "geometry", str(exc), **own)
    if raw.get("weight") not in (None, ""):
        try:
            weight = parse_decimal(raw["weight"], "权重")
            if weight < 0:
                raise ValueError("权重不能为负 / weight must be ≥ 0")
            unit.weight = Decimal(str(canonical_number(weight)))
        except ValueError as exc:
            problems.add(where, "weight", str(exc), **own)
    for key in _TEXT_UNIT_FIELDS:
        setattr(unit, key, _text(raw, key, where, problems, **own))
    if raw.get("last_assessed") not in (None, ""):
        try:
            unit.last_assessed = parse_date(raw["last_assessed"])
        except ValueError as exc:
            problems.add(where, "last_assessed", str(exc), **own)
    unit.major_hazard = build_major_hazard(raw.get("major_hazard"), where, problems, **own)
    unit.override = build_override(raw.get("override"), where, "override.", problems, **own)
    return unit


def _inputs(raw: Any, key: str, where: Where | None, problems: Problems, **owner) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add(where, key, "评价输入应为对象，如 {\"L\": 3, \"E\": 6, \"C\": 15} / inputs must be an object",
                     **owner)
        return {}
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, (dict, list, bool)):
            problems.add(where, f"{key}.{name}", f"评价输入 {name} 应为数字 / input {name} must be a number",
                         **owner)
            continue
        out[str(name)] = canonical_number(value)
    return out


def _direct_rule_names() -> dict[str, str]:
    """Rule names as the criteria define them, plus their Chinese texts, mapped to the rule name."""
    try:
        from riskmap import criteria
    except ImportError:  # pragma: no cover - criteria ship with the package
        return {}
    table = getattr(criteria, "DIRECT_RULES", None)
    out: dict[str, str] = {}
    if isinstance(table, dict):
        for code, text in table.items():
            out[str(code)] = str(code)
            if isinstance(text, str):
                out[text] = str(code)
            elif isinstance(text, dict):
                for value in text.values():
                    if isinstance(value, str):
                        out[value] = str(code)
    return out


def build_direct_rules(raw: Any, where: Where | None, problems: Problems, **owner) -> list[str]:
    """Direct-determination rule names from a list or a 、-separated cell; Chinese rule texts become rule names, and
    unknown names pass through for the criteria check to report."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        names = split_list(raw)
    elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        names = [x.strip() for x in raw if x.strip()]
    else:
        problems.add(where, "direct_rules", "直接判定规则应为规则名列表 / direct_rules must be a list of rule names",
                     **owner)
        return []
    known = _direct_rule_names()
    return [known.get(name, name) for name in names]


def build_controls(raw: Any, where: Where | None, problems: Problems, **owner) -> list[ControlMeasure]:
    """Control measures from raw objects; one without a description is a problem, and tiers are normalised."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(where, "controls", "管控措施应为列表 / controls must be a list", **owner)
        return []
    out = []
    for k, item in enumerate(raw):
        p = f"controls[{k}]."
        if not isinstance(item, dict):
            problems.add(where, p.rstrip("."), "管控措施应为对象 {description, class, tier, department, person} / a "
                         "control must be an object", **owner)
            continue
        unknown_keys(item, CONTROL_KEYS, where, p, problems, **owner)
        desc = _text(item, "description", where, problems, p, **owner)
        if desc is None:
            problems.add(where, f"{p}description", "管控措施内容为空 / control description missing", **owner)
            continue
        out.append(ControlMeasure(
            description=desc, cls=_text(item, "class", where, problems, p, **owner),
            tier=normalise_tier(_text(item, "tier", where, problems, p, **owner)),
            department=_text(item, "department", where, problems, p, **owner),
            person=_text(item, "person", where, problems, p, **owner)))
    return out


def build_event(raw: dict[str, Any], where: Where | None, problems: Problems) -> RiskEvent:
    """A RiskEvent from raw values; its name falls back to the hazard factor, then the accident type."""
    ev = RiskEvent(name="")
    own = {"event": ev}
    ev.id = _text(raw, "id", where, problems, **own)
    for key in _TEXT_EVENT_FIELDS:
        setattr(ev, key, _text(raw, key, where, problems, **own))
    if raw.get("accident_type") not in (None, ""):
        try:
            ev.accident_type, ev.accident_type_2025 = accident_types(raw["accident_type"])
        except ValueError as exc:
            problems.add(where, "accident_type", str(exc), **own)
    name = _text(raw, "name", where, problems, **own)
    if name is None:
        name = ev.hazard_factor or ev.accident_type
    if name is None:
        problems.add(where, "name", "风险事件名称与危险有害因素均为空 / an event needs a name or a hazard factor",
                     **own)
    ev.name = name or ""
    try:
        ev.method = parse_method(raw.get("method"))
    except ValueError as exc:
        problems.add(where, "method", str(exc), **own)
    ev.inputs = _inputs(raw.get("inputs"), "inputs", where, problems, **own)
    ev.inherent_inputs = _inputs(raw.get("inherent_inputs"), "inherent_inputs", where, problems, **own)
    for key, attr in (("level", "residual_level"), ("inherent_level", "inherent_level")):
        if raw.get(key) not in (None, ""):
            try:
                setattr(ev, attr, parse_level(raw[key]))
            except ValueError as exc:
                problems.add(where, key, str(exc), **own)
    ev.controls = build_controls(raw.get("controls"), where, problems, **own)
    ev.direct_rules = build_direct_rules(raw.get("direct_rules"), where, problems, **own)
    ev.override = build_override(raw.get("override"), where, "override.", problems, **own)
    return ev
