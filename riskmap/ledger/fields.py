"""Cell and field values as enterprises write them, parsed into domain values; and the canonical JSON form.

Every parser raises ValueError with a Chinese-first message; readers turn that into a problem for the cell.
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shapely.geometry import mapping

from riskmap.domain import AssessmentUnit, ControlMeasure, Override, RiskEvent, UnitKind
from riskmap.drawings import feature_cell
from riskmap.levels import Level
from riskmap.reference import ACCIDENT_TYPES_1986, ACCIDENT_TYPES_2025, classify_accident_type
from riskmap.text import describe, unstorable

# ---------------------------------------------------------------------------------------------- scalars

# Characters a workbook cannot hold; dropped from every source so that JSON and Excel read alike.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def clean_text(value: Any) -> str | None:
    """Text of a cell or JSON value; None for empty. Whole-number floats lose their ".0" (Excel ids)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        raise ValueError("应为文本，不能是对象或列表 / expected text, not an object or list")
    text = _CONTROL_CHARS.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n")).strip()
    bad = unstorable(text)          # NUL went with the control characters: what is left is a lone surrogate
    if bad is not None:
        zh, en = describe(bad)
        raise ValueError(f"文本含有无法保存的字符：{zh} / the text contains {en}, which cannot be stored")
    return text or None


def parse_decimal(value: Any, what: str = "数值") -> Decimal:
    """A finite Decimal made from the value's text (a float 0.1 stays 0.1); `what` names the value in the message."""
    if isinstance(value, (bool, dict, list)):
        raise ValueError(f"{what}应为数字 / {what} must be a number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what}应为数字，实际为 “{value}” / not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{what}应为有限的数字 / {what} must be finite, got {value!r}")
    return number


def canonical_number(value: Any) -> Any:
    """A number as the JSON form keeps it: int when whole, float when the float is exact, else the
    decimal string. Non-numeric text stays text (the criteria reject it with their own message)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and not value.strip():
        return None
    try:
        number = parse_decimal(value)
    except ValueError:
        return value.strip() if isinstance(value, str) else value
    if number == number.to_integral_value():
        return int(number)
    as_float = float(number)
    if Decimal(repr(as_float)) == number.normalize():
        return as_float
    return str(number.normalize())


def parse_int(value: Any, what: str) -> int:
    """A whole number ≥ 0 (people counts); 3.0 is accepted, 3.5 and -1 are not."""
    number = parse_decimal(value, what)
    if number != number.to_integral_value() or number < 0:
        raise ValueError(f"{what}应为非负整数，实际为 “{value}” / {what} must be a whole number ≥ 0")
    return int(number)


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)


def parse_date(value: Any) -> date:
    """A date as enterprises type it (2025-03-01, 2025/3/1, 2025.3.1, 2025年3月1日) or as Excel stores it."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = clean_text(value) or ""
    text = text.split("T")[0].split(" ")[0] if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", text) else text
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                break
    raise ValueError(f"日期 “{value}” 无效，应为 YYYY-MM-DD（如 2025-03-01） / bad date {value!r}, expected ISO "
                     "YYYY-MM-DD")


def parse_level(value: Any) -> Level:
    """A risk level from a cell (code, name, colour word, A–D); numbers are refused: platforms number differently."""
    if isinstance(value, (dict, list, bool)):
        raise ValueError(f"风险等级应为文本 / a risk level must be text, got {value!r}")
    if isinstance(value, float) and value == int(value):
        value = int(value)
    return Level.parse(value)


def parse_kind(value: Any) -> UnitKind:
    """A unit kind from a cell (code, Chinese name or alias); an object, list or boolean is refused."""
    if isinstance(value, (dict, list, bool)):
        raise ValueError(f"单元类型应为文本 / a unit kind must be text, got {value!r}")
    return UnitKind.parse(value)


_METHOD_ALIASES = {
    "lec": "lec", "作业条件危险性评价法": "lec", "作业条件危险性分析法": "lec", "lec法": "lec",
    "ls": "ls", "风险矩阵": "ls", "风险矩阵法": "ls", "风险矩阵分析法": "ls", "ls法": "ls", "lsr": "ls",
    "风险矩阵法(ls)": "ls", "作业条件危险性评价法(lec)": "lec",
}


def parse_method(value: Any) -> str | None:
    """A criteria profile name: 作业条件危险性评价法 → lec, 风险矩阵法 → ls; other names (user profiles) as written."""
    text = clean_text(value)
    if text is None:
        return None
    key = text.lower().replace(" ", "").replace("（", "(").replace("）", ")")
    return _METHOD_ALIASES.get(key, text)


_LIST_SPLIT = re.compile(r"[、,，;；/\n]+")


def split_list(text: str) -> list[str]:
    """The items of a cell that lists several (、 , ， ; ； / or new lines), blanks dropped."""
    return [part.strip() for part in _LIST_SPLIT.split(text) if part.strip()]


def accident_types(value: Any) -> tuple[str, str]:
    """(original text, names in GB 6441-2025) for a cell that may list several types (火灾、其他爆炸)."""
    text = clean_text(value)
    if text is None:
        raise ValueError("事故类型为空 / empty accident type")
    mapped: list[str] = []
    bad: list[str] = []
    for name in split_list(text):
        try:
            _, new = classify_accident_type(name)
        except ValueError:
            bad.append(name)
            continue
        if new not in mapped:
            mapped.append(new)
    if bad:
        hints = []
        for name in bad:
            close = difflib.get_close_matches(name, ACCIDENT_TYPES_1986 + ACCIDENT_TYPES_2025, n=3, cutoff=0.4)
            hints.append(f"“{name}”" + (f"（是否为：{'、'.join(close)}）" if close else ""))
        raise ValueError(
            f"事故类型 {'、'.join(hints)} 不在 GB 6441-1986 或 GB 6441-2025 中；"
            f"1986 版：{'、'.join(ACCIDENT_TYPES_1986)}；2025 版：{'、'.join(ACCIDENT_TYPES_2025)} / "
            f"unknown accident type {', '.join(bad)}")
    return text, "、".join(mapped)


def parse_geometry(value: Any):
    """A GeoJSON geometry (object or its text) in lon/lat as a shapely geometry."""
    import json

    from shapely.geometry import shape

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise ValueError("几何应为 GeoJSON 文本 / geometry must be GeoJSON") from None
    if not isinstance(value, dict) or "type" not in value:
        raise ValueError("几何应为 GeoJSON 几何对象（含 type 与 coordinates） / geometry must be a GeoJSON geometry")
    if value.get("type") == "Feature":
        raise ValueError("几何应为 GeoJSON 几何对象，不是 Feature / give the geometry, not a Feature")
    try:
        geom = shape(value)
    except Exception:  # shapely raises several types for malformed coordinates
        raise ValueError("GeoJSON 几何无法解析（坐标格式错误） / malformed GeoJSON geometry") from None
    if geom.is_empty:
        raise ValueError("几何为空 / empty geometry")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError("几何坐标不是经纬度（经度 −180…180，纬度 −90…90）；平面坐标请先配准 / geometry is not "
                         "lon/lat (EPSG:4326)")
    if not geom.is_valid:
        from shapely import is_valid_reason

        raise ValueError(f"几何图形无效（{is_valid_reason(geom)}） / invalid geometry")
    return geom


def geometry_to_json(geom) -> dict[str, Any]:
    """A geometry as a GeoJSON mapping with lists, not tuples, so that it compares equal after a JSON round trip."""
    return _lists(mapping(geom))


def _lists(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return [_lists(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    return obj


# ------------------------------------------------------------------------------------- canonical JSON form


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is None or value == [] or value == {}:
        return
    out[key] = value


def override_to_dict(ov: Override | None) -> dict[str, Any] | None:
    """An override in the canonical JSON form; `rule` only when set."""
    if ov is None:
        return None
    out: dict[str, Any] = {"level": ov.level.value, "reason": ov.reason}
    _put(out, "rule", ov.rule)
    return out


def control_to_dict(c: ControlMeasure) -> dict[str, Any]:
    """A control measure in the canonical JSON form; empty fields are left out."""
    out: dict[str, Any] = {"description": c.description}
    _put(out, "class", c.cls)
    _put(out, "tier", c.tier)
    _put(out, "department", c.department)
    _put(out, "person", c.person)
    return out


def inputs_to_dict(inputs: dict[str, Any]) -> dict[str, Any]:
    """Evaluation inputs in the canonical JSON form: numbers as canonical_number gives them, text kept as text."""
    return {str(k): canonical_number(v) for k, v in inputs.items()}


def weight_to_json(weight: Decimal) -> Any:
    """A unit weight in the canonical JSON form: int when whole, else float or decimal text (see canonical_number)."""
    return canonical_number(weight)


def event_to_dict(ev: RiskEvent, evaluations: bool = False) -> dict[str, Any]:
    """An event in the canonical JSON form, empty fields left out; `evaluations` adds the computed results."""
    out: dict[str, Any] = {}
    _put(out, "id", ev.id)
    out["name"] = ev.name
    for key in ("hazard_factor", "hazard_code", "accident_type", "accident_type_2025", "cause", "consequence",
                "impact_range", "location", "method"):
        _put(out, key, getattr(ev, key))
    _put(out, "inputs", inputs_to_dict(ev.inputs))
    _put(out, "level", ev.residual_level.value if ev.residual_level else None)
    _put(out, "inherent_inputs", inputs_to_dict(ev.inherent_inputs))
    _put(out, "inherent_level", ev.inherent_level.value if ev.inherent_level else None)
    _put(out, "existing_measures", ev.existing_measures)
    _put(out, "measure_effectiveness", ev.measure_effectiveness)
    _put(out, "controls", [control_to_dict(c) for c in ev.controls])
    _put(out, "emergency_measures", ev.emergency_measures)
    _put(out, "direct_rules", list(ev.direct_rules))
    _put(out, "override", override_to_dict(ev.override))
    if evaluations:
        from riskmap.ledger.check import evaluation_dict

        _put(out, "residual", evaluation_dict(ev.residual))
        _put(out, "inherent", evaluation_dict(ev.inherent))
    return out


def major_hazard_to_dict(mh: dict[str, Any] | None) -> dict[str, Any] | None:
    """Major hazard data in the canonical JSON form; None when the unit has none."""
    if not mh:
        return None
    out: dict[str, Any] = {}
    if mh.get("people_500m") is not None:
        out["people_500m"] = canonical_number(mh["people_500m"])
    subs = []
    for s in mh.get("substances") or []:
        item: dict[str, Any] = {}
        _put(item, "name", s.get("name"))
        for key in ("q", "Q"):
            _put(item, key, canonical_number(s.get(key)))
        _put(item, "category", s.get("category"))
        _put(item, "beta", canonical_number(s.get("beta")))
        subs.append(item)
    out["substances"] = subs
    return out


def unit_to_dict(unit: AssessmentUnit, evaluations: bool = False) -> dict[str, Any]:
    """A unit in the canonical JSON form, with its events; `evaluations` adds their computed results."""
    out: dict[str, Any] = {"id": unit.id, "name": unit.name, "kind": unit.kind.value, "parent": unit.parent_id}
    _put(out, "feature", feature_cell(unit.feature_ref, unit.placements))
    _put(out, "geometry", geometry_to_json(unit.geometry) if unit.geometry is not None else None)
    if unit.weight != 1:
        out["weight"] = weight_to_json(unit.weight)
    _put(out, "department", unit.department)
    _put(out, "responsible_person", unit.responsible_person)
    _put(out, "last_assessed", unit.last_assessed.isoformat() if unit.last_assessed else None)
    _put(out, "work_content", unit.work_content)
    _put(out, "workplace", unit.workplace)
    _put(out, "major_hazard", major_hazard_to_dict(unit.major_hazard))
    _put(out, "override", override_to_dict(unit.override))
    out["events"] = [event_to_dict(ev, evaluations) for ev in unit.events]
    return out
