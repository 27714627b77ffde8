"""Evaluating the events of a unit tree in place, and the unit-level major hazard override."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from riskmap.criteria.engine import evaluate_direct, evaluate_inputs
from riskmap.criteria.major_hazard import MajorHazardResult, major_hazard_from_unit_data
from riskmap.criteria.profile import Profile, load_profile
from riskmap.domain import AssessmentUnit, Override, RiskEvent
from riskmap.errors import InputError
from riskmap.levels import Level

MAJOR_HAZARD_RULE = "major-hazard"

ProfilesArg = Mapping[str, Profile | str | os.PathLike] | str | os.PathLike | Iterable[str | os.PathLike] | None


class ProfileResolver:
    """Profiles for one run, loaded once each.

    `profiles` is a mapping {name: Profile or path}, or search dirs for user profiles. An event's `method`
    names a profile; when it names the default profile's method (e.g. "lec" while the enterprise's default
    is "lec-upper-inclusive") the default profile is used, so a ledger's method column keeps working when
    the enterprise picks another convention.
    """

    def __init__(self, default: str | Profile = "lec", profiles: ProfilesArg = None):
        self._mapping: dict[str, Profile | str | os.PathLike] = {}
        self._search_dirs = None
        if isinstance(profiles, Mapping):
            self._mapping = dict(profiles)
        elif profiles is not None:
            self._search_dirs = profiles
        self._cache: dict[str, Profile] = {}
        self.default = self.get(default) if not isinstance(default, Profile) else default

    def get(self, name: str | Profile) -> Profile:
        """A profile by name or file path, loaded once per run; a Profile passes through. InputError if none found."""
        if isinstance(name, Profile):
            return name
        key = str(name).strip()
        if key not in self._cache:
            target = self._mapping.get(key, key)
            self._cache[key] = load_profile(target, self._search_dirs)
        return self._cache[key]

    def for_event(self, event: RiskEvent) -> Profile:
        """The profile that evaluates `event`: the default when its method is empty or names the default (any case)."""
        method = (event.method or "").strip()
        if not method or method in (self.default.name, self.default.method) \
                or method.lower() in (self.default.name.lower(), self.default.method.lower()):
            return self.default
        return self.get(method)


def _has_values(inputs: Mapping[str, Any] | None) -> bool:
    return bool(inputs) and any(v is not None and str(v).strip() for v in inputs.values())


def _split(message: str) -> tuple[str, str]:
    zh, sep, en = message.partition(" / ")
    return (zh, en) if sep else (message, message)


def _wrap(exc: InputError, prefix_zh: str, prefix_en: str, context: dict[str, Any]) -> InputError:
    zh, en = _split(exc.message)
    details = [{**d, **context} if isinstance(d, dict) else d for d in exc.details] or [dict(context)]
    return InputError(f"{prefix_zh}：{zh} / {prefix_en}: {en}", details=details)


def _event_label(event: RiskEvent) -> tuple[str, str]:
    ident = event.id or ""
    zh = f"{ident}「{event.name}」" if ident else f"「{event.name}」"
    en = f"{ident} ({event.name})" if ident else repr(event.name)
    return zh, en


def _assess(event: RiskEvent, resolver: ProfileResolver) -> None:
    profile = resolver.for_event(event)
    rules = event.direct_rules or None
    if _has_values(event.inputs):
        event.residual = evaluate_inputs(profile, event.inputs, rules)
    elif rules:
        event.residual = evaluate_direct(profile, rules, event.residual_level)
    if _has_values(event.inherent_inputs):
        try:
            event.inherent = evaluate_inputs(profile, event.inherent_inputs, rules)
        except InputError as exc:
            raise _wrap(exc, "固有风险", "inherent risk", {"which": "inherent"}) from None


def assess_event(event: RiskEvent, profile: str | Profile = "lec", profiles: ProfilesArg = None) -> None:
    """Fill event.residual (from event.inputs) and event.inherent (from event.inherent_inputs), applying
    event.direct_rules; the profile is the one event.method names, else `profile`.

    An event with neither inputs nor direct rules keeps what it has (e.g. a level given directly).
    """
    resolver = profile if isinstance(profile, ProfileResolver) else ProfileResolver(profile, profiles)
    try:
        _assess(event, resolver)
    except InputError as exc:
        zh, en = _event_label(event)
        raise _wrap(exc, f"风险事件 {zh}", f"event {en}", {"event": event.id or event.name}) from None


def assess_units(units: Iterable[AssessmentUnit], default_profile: str | Profile = "lec",
                 profiles: ProfilesArg = None) -> dict[str, MajorHazardResult]:
    """Evaluate every event of every unit in place, then apply the unit-level major hazard override.

    Raises InputError at the first bad event or major hazard entry, naming the unit and the event.
    Returns the GB 18218 results of the units that carry major hazard data, by unit id.
    """
    resolver = ProfileResolver(default_profile, profiles)
    results: dict[str, MajorHazardResult] = {}
    for unit in units:
        unit_zh, unit_en = f"单元 {unit.id}「{unit.name}」", f"unit {unit.id} ({unit.name})"
        for event in unit.events:
            try:
                assess_event(event, resolver)
            except InputError as exc:
                raise _wrap(exc, unit_zh, unit_en, {"unit": unit.id}) from None
        try:
            result = apply_major_hazard(unit, resolver.default)
        except InputError as exc:
            raise _wrap(exc, f"{unit_zh} 的重大危险源数据", f"{unit_en} major hazard data",
                        {"unit": unit.id, "input": "major_hazard"}) from None
        if result is not None:
            results[unit.id] = result
    return results


def apply_major_hazard(unit: AssessmentUnit, profile: Profile) -> MajorHazardResult | None:
    """Force a unit that is a major hazard installation to major (rule "major-hazard") when the profile
    turns the rule on. Idempotent: a stale major-hazard override is removed; a manual override that already
    says major is kept, a lower manual one gives way (its reason is kept in the new one)."""
    existing = unit.override
    ours = existing is not None and existing.rule == MAJOR_HAZARD_RULE
    if not unit.major_hazard:
        if ours:
            unit.override = None
        return None
    result = major_hazard_from_unit_data(unit.major_hazard)
    if not (profile.major_hazard_enabled and result.is_installation):
        if ours:
            unit.override = None
        return result
    reason = f"{result.reason()}，直接判定为重大风险"
    if existing is None or ours:
        unit.override = Override(Level.MAJOR, reason, MAJOR_HAZARD_RULE)
    elif existing.level != Level.MAJOR:
        unit.override = Override(Level.MAJOR, f"{reason}（取代原指定的{existing.level.zh}：{existing.reason}）",
                                 MAJOR_HAZARD_RULE)
    return result
