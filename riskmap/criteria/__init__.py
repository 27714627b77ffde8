"""Risk evaluation under criteria profiles (LEC, LS and user profiles), with direct-determination and
major hazard overrides. Profiles are data (riskmap/criteria/profiles/*.yaml); arithmetic is exact."""

from __future__ import annotations

from riskmap.criteria.assess import (
    MAJOR_HAZARD_RULE,
    ProfileResolver,
    apply_major_hazard,
    assess_event,
    assess_units,
)
from riskmap.criteria.engine import direct_overrides, evaluate, evaluate_direct, evaluate_inputs, parse_rules
from riskmap.criteria.major_hazard import (
    ALPHA_TABLE,
    BETA,
    CATEGORY_ZH,
    MajorHazardResult,
    SubstanceRatio,
    alpha_for,
    category_key,
    grade_for,
    major_hazard,
    major_hazard_from_unit_data,
)
from riskmap.criteria.numbers import format_decimal, to_decimal
from riskmap.criteria.profile import (
    Band,
    Dimension,
    DirectRule,
    InputSpec,
    Profile,
    default_direct_rules,
    list_profiles,
    load_profile,
    profile_from_dict,
)
from riskmap.criteria.report import colour_zh, describe_evaluation, evaluation_to_dict

# name → {"zh", "short_zh", "en"} of the shipped direct-determination rules (for ledgers and templates)
DIRECT_RULES: dict[str, dict[str, str]] = default_direct_rules()

__all__ = [
    "ALPHA_TABLE",
    "BETA",
    "CATEGORY_ZH",
    "DIRECT_RULES",
    "MAJOR_HAZARD_RULE",
    "Band",
    "Dimension",
    "DirectRule",
    "InputSpec",
    "MajorHazardResult",
    "Profile",
    "ProfileResolver",
    "SubstanceRatio",
    "alpha_for",
    "apply_major_hazard",
    "assess_event",
    "assess_units",
    "category_key",
    "colour_zh",
    "default_direct_rules",
    "describe_evaluation",
    "direct_overrides",
    "evaluate",
    "evaluate_direct",
    "evaluate_inputs",
    "evaluation_to_dict",
    "format_decimal",
    "grade_for",
    "list_profiles",
    "load_profile",
    "major_hazard",
    "major_hazard_from_unit_data",
    "parse_rules",
    "profile_from_dict",
    "to_decimal",
]
