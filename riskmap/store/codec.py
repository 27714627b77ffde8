"""Domain objects to table rows and back, for the unit tree and its risk events.

Kept apart from the repository so that the translation can be read (and tested) on its own. Rows are plain
dicts keyed by ORM attribute name; JSON columns take the values as they are (the `Data` column type tags
Decimals and dates), except evaluation scores, which are written as decimal text as the schema promises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import Any

from riskmap.domain import AssessmentUnit, ControlMeasure, Evaluation, Override, RiskEvent, UnitKind
from riskmap.errors import InputError
from riskmap.levels import Level

# Domain field -> column, where the names differ. Every other field of AssessmentUnit and RiskEvent is a
# column of the same name; tests check that no field is forgotten.
UNIT_COLUMNS = {"id": "code", "parent_id": "parent_code", "responsible_person": "person"}
EVENT_COLUMNS = {"id": "code"}
UNIT_NOT_COLUMNS = {"events"}


def _level(value: Any) -> Level | None:
    return None if value is None else Level(value)


def _level_text(value: Level | str | None) -> str | None:
    return None if value is None else Level.parse(value).value


def override_to_json(ov: Override | None) -> dict | None:
    """A judged-level override as stored JSON; None stays None so a unit without one stores NULL."""
    if ov is None:
        return None
    return {"level": _level_text(ov.level), "reason": ov.reason, "rule": ov.rule}


def override_from_json(data: dict | None) -> Override | None:
    """The override read back from stored JSON (the inverse of override_to_json)."""
    if data is None:
        return None
    return Override(level=Level(data["level"]), reason=data["reason"], rule=data.get("rule"))


def evaluation_to_json(ev: Evaluation | None) -> dict | None:
    """An evaluation as stored JSON; the score is kept as text so the Decimal comes back exact."""
    if ev is None:
        return None
    return {
        "profile": ev.profile,
        "method": ev.method,
        "inputs": dict(ev.inputs),
        "score": None if ev.score is None else str(ev.score),
        "grade": ev.grade,
        "computed_level": _level_text(ev.computed_level),
        "level": _level_text(ev.level),
        "overrides": [override_to_json(o) for o in ev.overrides],
        "band": ev.band,
    }


def evaluation_from_json(data: dict | None) -> Evaluation | None:
    """The evaluation read back from stored JSON, its score a Decimal again (the inverse of evaluation_to_json)."""
    if data is None:
        return None
    score = data.get("score")
    return Evaluation(
        profile=data["profile"],
        method=data["method"],
        inputs=data.get("inputs") or {},
        score=None if score is None else Decimal(score),
        grade=data.get("grade"),
        computed_level=_level(data.get("computed_level")),
        level=_level(data.get("level")),
        overrides=[override_from_json(o) for o in data.get("overrides") or []],
        band=data.get("band"),
    )


def control_to_json(c: ControlMeasure) -> dict:
    """A control measure as stored JSON."""
    return {"description": c.description, "cls": c.cls, "tier": c.tier, "department": c.department,
            "person": c.person}


def control_from_json(data: dict) -> ControlMeasure:
    """The control measure read back from stored JSON; fields absent in older rows come back as None."""
    return ControlMeasure(description=data["description"], cls=data.get("cls"), tier=data.get("tier"),
                          department=data.get("department"), person=data.get("person"))


def weight_text(unit: AssessmentUnit) -> str:
    """The weight as exact decimal text; a float is taken by its shortest repr, never its binary expansion."""
    weight = unit.weight
    try:
        value = weight if isinstance(weight, Decimal) else Decimal(str(weight))
    except (InvalidOperation, ValueError):
        raise InputError(f"单元 {unit.id} 的权重 “{weight}” 不是数字 / unit {unit.id!r}: weight {weight!r} is "
                         f"not a number") from None
    if not value.is_finite():
        raise InputError(f"单元 {unit.id} 的权重 “{weight}” 不是有限数 / unit {unit.id!r}: weight {weight!r} "
                         f"is not finite")
    return str(value)


def _same(value: Any) -> Any:
    return value


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _dict(value: Any) -> dict:
    return dict(value or {})


def _list(value: Any) -> list:
    return list(value or [])


# Per domain field, how its value goes into the row and comes back, where it is not taken as it is.
UNIT_ENCODE: dict[str, Callable[[Any], Any]] = {
    "id": str, "kind": lambda kind: UnitKind(kind).value, "parent_id": _text_or_none, "override": override_to_json,
    "placements": lambda placements: dict(placements) if placements else None}
UNIT_DECODE: dict[str, Callable[[Any], Any]] = {"kind": UnitKind, "weight": Decimal, "override": override_from_json,
                                                "placements": _dict}
EVENT_ENCODE: dict[str, Callable[[Any], Any]] = {
    "inputs": _dict, "inherent_inputs": _dict, "residual": evaluation_to_json, "inherent": evaluation_to_json,
    "residual_level": _level_text, "inherent_level": _level_text,
    "controls": lambda controls: [control_to_json(c) for c in controls], "override": override_to_json,
    "direct_rules": _list}
EVENT_DECODE: dict[str, Callable[[Any], Any]] = {
    "inputs": _dict, "inherent_inputs": _dict, "residual": evaluation_from_json, "inherent": evaluation_from_json,
    "residual_level": _level, "inherent_level": _level,
    "controls": lambda controls: [control_from_json(c) for c in controls or []], "override": override_from_json,
    "direct_rules": _list}


def _encoded(obj: Any, position: int, columns: dict[str, str], encode: dict, skip: set[str]) -> dict[str, Any]:
    row = {"position": position}
    for f in fields(obj):
        if f.name not in skip:
            row[columns.get(f.name, f.name)] = encode.get(f.name, _same)(getattr(obj, f.name))
    return row


def _decoded(cls: type, row: Any, columns: dict[str, str], decode: dict, given: dict[str, Any]) -> Any:
    values = {f.name: decode.get(f.name, _same)(getattr(row, columns.get(f.name, f.name)))
              for f in fields(cls) if f.name not in given}
    return cls(**values, **given)


def unit_row(unit: AssessmentUnit, position: int) -> dict[str, Any]:
    """A units row without its keys (enterprise, version, validity), which the repository adds."""
    row = _encoded(unit, position, UNIT_COLUMNS, UNIT_ENCODE, UNIT_NOT_COLUMNS | {"weight"})
    row["weight"] = weight_text(unit)
    return row


def event_row(event: RiskEvent, position: int) -> dict[str, Any]:
    """The column values of one risk event row; ``position`` keeps the events in the order the ledger gave them."""
    return _encoded(event, position, EVENT_COLUMNS, EVENT_ENCODE, set())


def unit_from_row(row: Any, geometry: Any, events: list[RiskEvent]) -> AssessmentUnit:
    """The assessment unit rebuilt from its row, with its geometry and its events read separately."""
    return _decoded(AssessmentUnit, row, UNIT_COLUMNS, UNIT_DECODE, {"geometry": geometry, "events": events})


def event_from_row(row: Any) -> RiskEvent:
    """The risk event rebuilt from its row."""
    return _decoded(RiskEvent, row, EVENT_COLUMNS, EVENT_DECODE, {})


def unmapped_fields() -> dict[str, set[str]]:
    """Domain fields with no column: must stay empty, or a field added to the domain is silently dropped."""
    from riskmap.store.schema import RiskEventRow, UnitRow

    unit_cols = set(UnitRow.__table__.columns.keys())
    event_cols = set(RiskEventRow.__table__.columns.keys())
    return {
        "AssessmentUnit": {f.name for f in fields(AssessmentUnit)
                           if f.name not in UNIT_NOT_COLUMNS and UNIT_COLUMNS.get(f.name, f.name) not in unit_cols},
        "RiskEvent": {f.name for f in fields(RiskEvent) if EVENT_COLUMNS.get(f.name, f.name) not in event_cols},
        "Evaluation": {f.name for f in fields(Evaluation)} - set(evaluation_to_json(_SAMPLE_EVALUATION)),
        "ControlMeasure": {f.name for f in fields(ControlMeasure)} - set(control_to_json(ControlMeasure("x"))),
    }


_SAMPLE_EVALUATION = Evaluation("p", "m", {}, None, None, Level.LOW, Level.LOW)
