"""Evaluating one set of inputs under a profile: exact product, band by the profile's convention, overrides."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from typing import Any

from riskmap.criteria.numbers import format_decimal, to_decimal
from riskmap.criteria.profile import DirectRule, InputSpec, Profile, load_profile
from riskmap.domain import Evaluation, Override
from riskmap.errors import InputError
from riskmap.levels import Level, highest

_RULE_SEPARATORS = re.compile(r"[,，;；、|\s]+")


def evaluate(profile: str | Profile, /, *, direct_rules: Iterable[str] | str | None = None,
             search_dirs=None, **inputs: Any) -> Evaluation:
    """Evaluate inputs (e.g. L=3, E=6, C=15; or L=4, S=5; or L=4, S1..S5) under a profile.

    Inputs may be numbers or numeric text; they are read as exact decimals. Raises InputError (Chinese, then
    English) naming the input and its allowed values when one is missing or outside the profile's set.
    """
    return evaluate_inputs(load_profile(profile, search_dirs), inputs, direct_rules)


def evaluate_inputs(profile: Profile, inputs: Mapping[str, Any],
                    direct_rules: Iterable[str] | str | None = None) -> Evaluation:
    """Like `evaluate`, for an already loaded profile and an inputs mapping (keys may be aliases)."""
    stated = None
    score_names = {profile.score_key.lower(), profile.score_zh.lower()}
    if any(str(k).strip().lower() in score_names for k in inputs):
        stated = [(k, v) for k, v in inputs.items() if str(k).strip().lower() in score_names]
        inputs = {k: v for k, v in inputs.items() if str(k).strip().lower() not in score_names}
    values, record = _read_inputs(profile, inputs)
    with localcontext() as ctx:
        ctx.prec = 80
        score = Decimal(1)
        for value in values.values():
            score *= value
    score = Decimal(format_decimal(score))
    for name, raw in stated or []:
        _check_stated_score(profile, name, raw, score, values)
    band = profile.band_for(score)
    overrides = direct_overrides(profile, direct_rules)
    computed = band.level
    level = highest([computed, *(o.level for o in overrides)]) or computed
    return Evaluation(profile=profile.name, method=profile.method, inputs=record, score=score,
                      grade=band.grade, computed_level=computed, level=level, overrides=overrides,
                      band=profile.band_text(band))


def _check_stated_score(profile: Profile, name: str, raw: Any, score: Decimal, values: dict[str, Decimal]) -> None:
    """A score written beside the inputs (e.g. a ledger's D column) must be their product, exactly."""
    if _blank(raw):
        return
    stated = to_decimal(raw)
    if stated == score:
        return
    product = " × ".join(format_decimal(v) for v in values.values())
    key, shown, result = profile.score_key, str(raw).strip(), format_decimal(score)
    raise InputError(f"给出的{profile.score_zh} {key} = {shown} 与 {product} = {result} 不一致 / "
                     f"stated {key} = {shown} disagrees with {product} = {result}",
                     details=[{"input": str(name), "value": shown, "expected": result}])


def evaluate_direct(profile: Profile, direct_rules: Iterable[str] | str,
                    given_level: Level | None = None) -> Evaluation:
    """An evaluation with no score: only direct rules (method "direct"), e.g. a ledger row without L/E/C."""
    overrides = direct_overrides(profile, direct_rules)
    computed = given_level or (Level.MAJOR if overrides else Level.LOW)
    level = highest([computed, *(o.level for o in overrides)]) or computed
    return Evaluation(profile=profile.name, method="direct", inputs={}, score=None, grade=None,
                      computed_level=computed, level=level, overrides=overrides, band=None)


def parse_rules(profile: Profile, direct_rules: Iterable[str] | str | None) -> list[DirectRule]:
    """The rules named (by name, short Chinese name or number), without repeats, in the order given."""
    if direct_rules is None:
        return []
    names = _RULE_SEPARATORS.split(direct_rules) if isinstance(direct_rules, str) else list(direct_rules)
    rules: list[DirectRule] = []
    for name in names:
        if name is None or not str(name).strip():
            continue
        rule = profile.rule(str(name))
        if rule not in rules:
            rules.append(rule)
    return rules


def direct_overrides(profile: Profile, direct_rules: Iterable[str] | str | None) -> list[Override]:
    """Overrides to major for the named rules; none when the profile switches direct determination off.

    Rule names are checked even when the switch is off, so a typo never passes silently.
    """
    rules = parse_rules(profile, direct_rules)
    if not profile.direct_enabled:
        return []
    return [Override(Level.MAJOR, f"直接判定为重大风险：{rule.zh}", f"direct:{rule.name}") for rule in rules]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_inputs(profile: Profile, inputs: Mapping[str, Any]) -> tuple[dict[str, Decimal], dict[str, str]]:
    lookup = profile.input_lookup()
    direct: dict[str, tuple[str, Any]] = {}
    dims: dict[str, dict[str, tuple[str, Any]]] = {}
    for name, raw in inputs.items():
        if _blank(raw):
            continue
        entry = lookup.get(str(name).strip().lower())
        if entry is None:
            expected = _expected_inputs(profile)
            raise InputError(f"未知的输入 “{name}”，准则配置 {profile.name} 的输入为：{'、'.join(expected)} / "
                             f"unknown input {name!r}; profile {profile.name} takes {', '.join(expected)}",
                             details=[{"input": str(name), "allowed": expected}])
        spec, dim = entry
        key = spec.key if dim is None else dim.key
        slot = direct if dim is None else dims.setdefault(spec.key, {})
        if key in slot:
            raise InputError(f"输入 {key} 给出了两次（{slot[key][0]}、{name}） / input {key} given twice "
                             f"({slot[key][0]!r}, {name!r})", details=[{"input": key}])
        slot[key] = (str(name), raw)

    values: dict[str, Decimal] = {}
    record: dict[str, str] = {}
    for spec in profile.inputs:
        dim_inputs = dims.get(spec.key)
        if dim_inputs:
            missing = [d for d in spec.max_of if d.key not in dim_inputs]
            if missing:
                names_zh = "、".join(f"{d.key}（{d.zh}）" if d.zh else d.key for d in missing)
                raise InputError(f"缺少输入 {names_zh}：{spec.key} 由 "
                                 f"{'、'.join(d.key for d in spec.max_of)} 取最大值，须全部给出，"
                                 f"允许值为 {spec.allowed_zh()} / missing input "
                                 f"{', '.join(d.key for d in missing)}: {spec.key} is the maximum of "
                                 f"{', '.join(d.key for d in spec.max_of)}, all required; allowed values: "
                                 f"{spec.allowed_en()}",
                                 details=[{"input": d.key, "allowed": _allowed(spec)} for d in missing])
            numbers = []
            for d in spec.max_of:
                number = _check(profile, spec, d.key, d.zh, dim_inputs[d.key][1])
                record[d.key] = format_decimal(number)
                numbers.append(number)
            value = max(numbers)
            if spec.key in direct:
                given = _check(profile, spec, spec.key, spec.zh, direct[spec.key][1])
                if given != value:
                    raise InputError(
                        f"输入 {spec.key} = {format_decimal(given)} 与 "
                        f"{'、'.join(d.key for d in spec.max_of)} 的最大值 {format_decimal(value)} 不一致 / "
                        f"{spec.key} = {format_decimal(given)} disagrees with the maximum "
                        f"{format_decimal(value)} of {', '.join(d.key for d in spec.max_of)}",
                        details=[{"input": spec.key, "value": format_decimal(given)}])
        elif spec.key in direct:
            value = _check(profile, spec, spec.key, spec.zh, direct[spec.key][1])
        else:
            raise _missing(profile, spec)
        values[spec.key] = value
        record[spec.key] = format_decimal(value)
    return values, record


def _allowed(spec: InputSpec) -> list[str]:
    return [format_decimal(v) for v in spec.values]


def _expected_inputs(profile: Profile) -> list[str]:
    out = []
    for spec in profile.inputs:
        out.append(spec.key)
        out.extend(d.key for d in spec.max_of)
    return out


def _missing(profile: Profile, spec: InputSpec) -> InputError:
    label = spec.display()
    allowed_zh = f"应为 {spec.allowed_zh()} 之一" if spec.values else "应为数值"
    allowed_en = f"allowed values: {spec.allowed_en()}" if spec.values else "a number is required"
    alt_zh = alt_en = ""
    if spec.max_of:
        keys = [d.key for d in spec.max_of]
        alt_zh = f"（或给出 {'、'.join(keys)}，取其最大值）"
        alt_en = f" (or give {', '.join(keys)}; their maximum is used)"
    return InputError(f"缺少输入 {label}{alt_zh}，{allowed_zh}（准则配置 {profile.name}） / "
                      f"missing input {spec.key}{alt_en}; {allowed_en} (profile {profile.name})",
                      details=[{"input": spec.key, "allowed": _allowed(spec)}])


def _check(profile: Profile, spec: InputSpec, key: str, zh: str, raw: Any) -> Decimal:
    """The exact value of one input, or InputError naming the input and the allowed values."""
    label = f"{key}（{zh}）" if zh else f"{key} "
    number = to_decimal(raw)
    shown = str(raw).strip()
    details = [{"input": key, "value": shown, "allowed": _allowed(spec)}]
    if number is None:
        allowed_zh = f"应为 {spec.allowed_zh()} 之一" if spec.values else "应为数值"
        allowed_en = f"allowed values: {spec.allowed_en()}" if spec.values else "a number is required"
        raise InputError(f"输入 {label}的值 “{shown}” 不是数值，{allowed_zh} / "
                         f"input {key} = {shown!r} is not a number; {allowed_en}", details=details)
    if number in spec.values:
        return number
    if profile.allow_outside_values:
        if number < 0:
            raise InputError(f"输入 {label}的值 {shown} 不能为负数 / input {key} = {shown} must not be negative",
                             details=details)
        return number
    raise InputError(f"输入 {label}的值 {shown} 不在允许值 {spec.allowed_zh()} 之内（准则配置 {profile.name}） / "
                     f"input {key} = {shown} is not one of the allowed values {spec.allowed_en()} "
                     f"(profile {profile.name})", details=details)
