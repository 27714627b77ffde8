"""Evaluations as JSON and as one readable Chinese line."""

from __future__ import annotations

from typing import Any

from riskmap.criteria.numbers import format_decimal
from riskmap.criteria.profile import Band, Profile, load_profile
from riskmap.domain import Evaluation
from riskmap.errors import InputError
from riskmap.levels import Level, Palette, load_palette
from riskmap.symbology import load_yaml

_COLOUR_ZH_DEFAULT = {Level.MAJOR: "红", Level.SIGNIFICANT: "橙", Level.GENERAL: "黄", Level.LOW: "蓝"}


def colour_zh(level: Level) -> str:
    """The colour word of a level (红/橙/黄/蓝) from the symbology, so a re-coloured palette says so."""
    try:
        return str(load_yaml("levels.yaml")["levels"][level.value]["colour_zh"])
    except (OSError, KeyError, TypeError):
        return _COLOUR_ZH_DEFAULT[level]


def _profile_of(ev: Evaluation, profile: Profile | None) -> Profile | None:
    if profile is not None:
        return profile
    try:
        return load_profile(ev.profile)
    except InputError:
        return None


def _band_of(ev: Evaluation, profile: Profile | None) -> Band | None:
    if profile is None or ev.score is None:
        return None
    if ev.grade is not None:
        for band in profile.bands:
            if band.grade == ev.grade:
                return band
    return profile.band_for(ev.score)


def evaluation_to_dict(ev: Evaluation, profile: Profile | None = None,
                       palette: Palette | None = None) -> dict[str, Any]:
    """JSON form: score as exact decimal text ("270", "30", "0.6"); no "grade" where the method has none;
    "label" (危险程度) when the profile is known."""
    palette = palette or load_palette()
    profile = _profile_of(ev, profile)
    out: dict[str, Any] = {
        "profile": ev.profile,
        "method": ev.method,
        "inputs": {k: (format_decimal(v) if not isinstance(v, str) else v) for k, v in ev.inputs.items()},
        "score": None if ev.score is None else format_decimal(ev.score),
    }
    if ev.grade is not None:
        out["grade"] = ev.grade
    band = _band_of(ev, profile)
    if band is not None and band.label:
        out["label"] = band.label
    out.update({
        "level": ev.level.value,
        "level_zh": ev.level.zh,
        "colour": palette.colour(ev.level),
        "band": ev.band,
        "computed_level": ev.computed_level.value,
        "overrides": [{"level": o.level.value, "reason": o.reason, "rule": o.rule} for o in ev.overrides],
    })
    return out


def _level_text(level: Level) -> str:
    return f"{level.zh}（{colour_zh(level)}）"


def describe_evaluation(ev: Evaluation, profile: Profile | None = None) -> str:
    """One line, e.g. "LEC：D = 3 × 6 × 15 = 270，2级 高度危险，需立即整改 → 较大风险（橙）"."""
    profile = _profile_of(ev, profile)
    name = profile.display_name if profile else ev.method.upper()
    if ev.score is None:
        head = f"{name}：无风险值（仅直接判定）"
    else:
        key = profile.score_key if profile else "score"
        parts: list[str] = []
        factors: list[str] = []
        specs = profile.inputs if profile else ()
        for spec in specs:
            dims = [d.key for d in spec.max_of if d.key in ev.inputs]
            if dims and len(dims) == len(spec.max_of):
                parts.append(f"{spec.key} = max({', '.join(str(ev.inputs[d]) for d in dims)}) = "
                             f"{ev.inputs[spec.key]}")
            factors.append(str(ev.inputs.get(spec.key, "?")))
        if not specs:
            factors = [str(v) for v in ev.inputs.values()]
        parts.append(f"{key} = {' × '.join(factors)} = {format_decimal(ev.score)}")
        head = f"{name}：{'，'.join(parts)}"
        band = _band_of(ev, profile)
        if ev.grade is not None:
            head += f"，{ev.grade}级" + (f" {band.label}" if band is not None and band.label else "")
        elif band is not None and band.label:
            head += f"，{band.label}"
    text = f"{head} → {_level_text(ev.computed_level)}"
    for override in ev.overrides:
        text += f"；{override.reason} → {_level_text(override.level)}"
    return text
