"""The ledger's JSON form: read (validated in one pass) and written (canonical, so forms compare equal)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from riskmap.domain import Enterprise
from riskmap.ledger.build import EVENT_KEYS, UNIT_KEYS, build_event, build_unit, unknown_keys
from riskmap.ledger.check import finish
from riskmap.ledger.fields import clean_text, parse_method, unit_to_dict
from riskmap.ledger.model import (
    DEFAULT_PROFILE,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    Ledger,
    Problems,
    Where,
    fatal,
)
from riskmap.strictjson import depth

SHEET = "JSON"
TOP_KEYS = frozenset({"enterprise", "profile", "units"})
ENTERPRISE_KEYS = frozenset({"id", "name", "short_name", "supervision_phone", "report_phone", "emergency_phone"})


def load_json(path: str | os.PathLike) -> Any:
    """A JSON ledger file parsed strictly, refusing a file over MAX_JSON_BYTES or nested too deep (LedgerError)."""
    from riskmap.strictjson import JSONProblem, loads

    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise fatal(f"无法读取台账文件 {p}：{exc.strerror} / cannot read {p}") from None
    if size > MAX_JSON_BYTES:
        raise fatal(f"JSON 台账过大（{size // 2**20} MB，上限 {MAX_JSON_BYTES // 2**20} MB） / JSON ledger too large")
    try:
        return loads(p.read_bytes(), max_depth=MAX_JSON_DEPTH)
    except JSONProblem as exc:
        raise fatal(exc.about("JSON 台账", "the JSON ledger")) from None


def ledger_from_dict(data: Any, *, skip_bad: bool = False) -> Ledger:
    """A Ledger from the JSON form (already parsed); raises LedgerError listing every problem."""
    if not isinstance(data, dict):
        raise fatal(f"JSON 台账应为对象 {{\"units\": [...]}}，实际为 {type(data).__name__} / the JSON ledger must be "
                    "an object with \"units\"")
    if depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise fatal(f"JSON 嵌套层数超过 {MAX_JSON_DEPTH} / JSON nested deeper than {MAX_JSON_DEPTH}")
    problems = Problems()
    top = Where(SHEET, "$")
    unknown_keys(data, TOP_KEYS, top, "", problems)
    enterprise = _enterprise(data.get("enterprise"), problems)
    profile = DEFAULT_PROFILE
    if data.get("profile") not in (None, ""):
        try:
            profile = parse_method(data["profile"]) or DEFAULT_PROFILE
        except ValueError as exc:
            problems.add(top, "profile", str(exc))
    raw_units = data.get("units")
    if raw_units is None:
        problems.add(top, "units", "缺少 units（评估单元列表） / \"units\" missing")
        raw_units = []
    elif not isinstance(raw_units, list):
        problems.add(top, "units", "units 应为列表 / \"units\" must be a list")
        raw_units = []
    wheres: dict[int, Where] = {}
    units = []
    for i, raw in enumerate(raw_units):
        where = Where(SHEET, f"units[{i}]")
        if not isinstance(raw, dict):
            problems.add(where, "", "评估单元应为对象 / a unit must be an object")
            continue
        unit = build_unit(raw, where, problems)
        unknown_keys(raw, UNIT_KEYS, where, "", problems, unit=unit)
        wheres[id(unit)] = where
        raw_events = raw.get("events") or []
        if not isinstance(raw_events, list):
            problems.add(where, "events", "events 应为列表 / \"events\" must be a list", unit=unit)
            raw_events = []
        for j, raw_ev in enumerate(raw_events):
            ev_where = Where(SHEET, f"units[{i}].events[{j}]")
            if not isinstance(raw_ev, dict):
                problems.add(ev_where, "", "风险事件应为对象 / an event must be an object", unit=unit)
                continue
            ev = build_event(raw_ev, ev_where, problems)
            unknown_keys(raw_ev, EVENT_KEYS, ev_where, "", problems, event=ev)
            wheres[id(ev)] = ev_where
            unit.events.append(ev)
        units.append(unit)
    ledger = Ledger(units=units, enterprise=enterprise, profile=profile)
    return finish(ledger, wheres, problems, skip_bad, profile_where=top, sort_key=_json_order)


def _json_order(problem) -> tuple:
    """units[3].events[1] after units[3], before units[4]; the top level and enterprise first."""
    return tuple(int(n) for n in re.findall(r"\[(\d+)\]", str(problem.row)))


def _enterprise(raw: Any, problems: Problems) -> Enterprise | None:
    if raw is None:
        return None
    where = Where(SHEET, "enterprise")
    if not isinstance(raw, dict):
        problems.add(where, "", "enterprise 应为对象 / \"enterprise\" must be an object")
        return None
    unknown_keys(raw, ENTERPRISE_KEYS, where, "", problems)
    values = {}
    for key in ENTERPRISE_KEYS:
        try:
            values[key] = clean_text(raw.get(key))
        except ValueError as exc:
            problems.add(where, key, str(exc))
    if not values.get("name"):
        problems.add(where, "name", "企业名称为空 / enterprise name missing")
        return None
    return Enterprise(id=values.get("id") or values["name"], name=values["name"],
                      short_name=values.get("short_name"), supervision_phone=values.get("supervision_phone"),
                      report_phone=values.get("report_phone"), emergency_phone=values.get("emergency_phone"))


def enterprise_to_dict(ent: Enterprise | None) -> dict[str, Any] | None:
    """The enterprise in the canonical JSON form; `id` only when it differs from the name, empty phones left out."""
    if ent is None:
        return None
    out: dict[str, Any] = {"name": ent.name}
    if ent.id and ent.id != ent.name:
        out["id"] = ent.id
    for key in ("short_name", "supervision_phone", "report_phone", "emergency_phone"):
        value = getattr(ent, key)
        if value is not None:
            out[key] = value
    return out


def ledger_to_dict(ledger: Ledger, *, evaluations: bool = False) -> dict[str, Any]:
    """The canonical JSON form. `evaluations=True` adds each event's computed residual/inherent results
    (read back as information only; they are recomputed on import)."""
    out: dict[str, Any] = {}
    ent = enterprise_to_dict(ledger.enterprise)
    if ent is not None:
        out["enterprise"] = ent
    out["profile"] = ledger.profile
    out["units"] = [unit_to_dict(u, evaluations) for u in ledger.units]
    return out


def read_ledger_json(source: str | os.PathLike | dict, *, skip_bad: bool = False) -> Ledger:
    """A Ledger from a JSON file or an already parsed dict; LedgerError listing every problem unless `skip_bad`."""
    data = source if isinstance(source, dict) else load_json(source)
    return ledger_from_dict(data, skip_bad=skip_bad)


def write_ledger_json(ledger: Ledger, path: str | os.PathLike, *, evaluations: bool = False) -> None:
    """Write the canonical JSON form (UTF-8, Chinese unescaped, indented), so that a re-read compares equal."""
    text = json.dumps(ledger_to_dict(ledger, evaluations=evaluations), ensure_ascii=False, indent=2)
    Path(path).write_text(text + "\n", encoding="utf-8")
