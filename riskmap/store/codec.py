"""Domain objects to table rows and back, for the unit tree and its risk events.

Kept apart from the repository so that the translation can be read (and tested) on its own. Rows are plain
dicts keyed by ORM attribute name; JSON columns take the values as they are (the `Data` column type tags
Decimals and dates), except evaluation scores, which are written as decimal text as the schema promises.
"""

from __future__ import annotations

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
    if ov is None:
        return None
    return {"level": _level_text(ov.level), "reason": ov.reason, "rule": ov.rule}


def override_from_json(data: dict | None) -> Override | None:
    if data is None:
        return None
    return Override(level=Level(data["level"]), reason=data["reason"], rule=data.get("rule"))


def evaluation_to_json(ev: Evaluation | None) -> dict | None:
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
    return {"description": c.description, "cls": c.cls, "tier": c.tier, "department": c.department,
            "person": c.person}


def control_from_json(data: dict) -> ControlMeasure:
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


def unit_row(unit: AssessmentUnit, position: int) -> dict[str, Any]:
    """A units row without its keys (enterprise, version, validity), which the repository adds."""
    return {
        "position": position,
        "code": str(unit.id),
        "name": unit.name,
        "kind": UnitKind(unit.kind).value,
        "parent_code": None if unit.parent_id is None else str(unit.parent_id),
        "geometry": unit.geometry,
        "feature_ref": unit.feature_ref,
        "weight": weight_text(unit),
        "department": unit.department,
        "person": unit.responsible_person,
        "last_assessed": unit.last_assessed,
        "work_content": unit.work_content,
        "workplace": unit.workplace,
        "override": override_to_json(unit.override),
        "major_hazard": unit.major_hazard,
    }


def event_row(event: RiskEvent, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "code": event.id,
        "name": event.name,
        "hazard_factor": event.hazard_factor,
        "hazard_code": event.hazard_code,
        "accident_type": event.accident_type,
        "accident_type_2025": event.accident_type_2025,
        "cause": event.cause,
        "consequence": event.consequence,
        "impact_range": event.impact_range,
        "method": event.method,
        "inputs": dict(event.inputs),
        "inherent_inputs": dict(event.inherent_inputs),
        "residual": evaluation_to_json(event.residual),
        "inherent": evaluation_to_json(event.inherent),
        "residual_level": _level_text(event.residual_level),
        "inherent_level": _level_text(event.inherent_level),
        "existing_measures": event.existing_measures,
        "measure_effectiveness": event.measure_effectiveness,
        "controls": [control_to_json(c) for c in event.controls],
        "emergency_measures": event.emergency_measures,
        "override": override_to_json(event.override),
        "direct_rules": list(event.direct_rules),
        "location": event.location,
    }


def unit_from_row(row: Any, geometry: Any, events: list[RiskEvent]) -> AssessmentUnit:
    return AssessmentUnit(
        id=row.code,
        name=row.name,
        kind=UnitKind(row.kind),
        parent_id=row.parent_code,
        geometry=geometry,
        feature_ref=row.feature_ref,
        weight=Decimal(row.weight),
        events=events,
        override=override_from_json(row.override),
        last_assessed=row.last_assessed,
        department=row.department,
        responsible_person=row.person,
        work_content=row.work_content,
        workplace=row.workplace,
        major_hazard=row.major_hazard,
    )


def event_from_row(row: Any) -> RiskEvent:
    return RiskEvent(
        name=row.name,
        id=row.code,
        hazard_factor=row.hazard_factor,
        hazard_code=row.hazard_code,
        accident_type=row.accident_type,
        accident_type_2025=row.accident_type_2025,
        cause=row.cause,
        consequence=row.consequence,
        impact_range=row.impact_range,
        method=row.method,
        inputs=row.inputs or {},
        inherent_inputs=row.inherent_inputs or {},
        residual=evaluation_from_json(row.residual),
        inherent=evaluation_from_json(row.inherent),
        residual_level=_level(row.residual_level),
        inherent_level=_level(row.inherent_level),
        existing_measures=row.existing_measures,
        measure_effectiveness=row.measure_effectiveness,
        controls=[control_from_json(c) for c in row.controls or []],
        emergency_measures=row.emergency_measures,
        override=override_from_json(row.override),
        direct_rules=list(row.direct_rules or []),
        location=row.location,
    )


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
