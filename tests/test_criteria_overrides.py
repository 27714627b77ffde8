"""Direct determination (直接判定为重大风险), GB 18218-2018 major hazards, and assessing units and events."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from riskmap.criteria import (
    assess_event,
    assess_units,
    evaluate,
    evaluation_to_dict,
    load_profile,
    major_hazard,
)
from riskmap.domain import AssessmentUnit, Override, RiskEvent, UnitTree
from riskmap.errors import InputError
from riskmap.levels import Level

RULES = {
    "mandatory-clause": "强制性条款",
    "accident-history": "条件依然存在",
    "major-hazard-installation": "重大危险源",
    "crowded-dangerous-place": "10人及以上",
    "highest-grade": "最高级别",
}


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "off.yaml").write_text(
        "profiles:\n"
        "  - {name: lec-no-direct, extends: lec, overrides: {direct: false}}\n"
        "  - {name: lec-no-mh, extends: lec, overrides: {major_hazard: false}}\n", encoding="utf-8")
    return tmp_path


# ------------------------------------------------------------------ direct determination

@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_direct_rule_forces_major_and_keeps_the_score(rule):
    result = evaluate("lec", L=1, E=1, C=1, direct_rules=[rule])
    assert result.computed_level is Level.LOW and result.grade == 5 and result.score == 1
    assert result.level is Level.MAJOR
    assert [(o.level, o.rule) for o in result.overrides] == [(Level.MAJOR, f"direct:{rule}")]
    assert result.overrides[0].reason.startswith("直接判定为重大风险：")
    assert RULES[rule] in result.overrides[0].reason
    data = evaluation_to_dict(result)
    assert (data["level"], data["computed_level"], data["colour"]) == ("major", "low", "#FF0000")
    assert data["overrides"][0]["rule"] == f"direct:{rule}"


def test_direct_rules_on_ls_and_by_other_names():
    result = evaluate("ls", L=2, S=2, direct_rules="涉及重大危险源、1")
    assert [o.rule for o in result.overrides] == ["direct:major-hazard-installation", "direct:mandatory-clause"]
    assert (result.level, result.computed_level) == (Level.MAJOR, Level.LOW)
    assert load_profile("lec").rule("5").name == "highest-grade"


def test_shipped_rule_table():
    from riskmap.criteria import DIRECT_RULES

    assert list(DIRECT_RULES) == list(RULES)
    for name, needle in RULES.items():
        assert needle in DIRECT_RULES[name]["zh"] and DIRECT_RULES[name]["short_zh"]


def test_unknown_rule_lists_the_rules():
    with pytest.raises(InputError) as info:
        evaluate("lec", L=1, E=1, C=1, direct_rules=["because"])
    message = info.value.message
    assert message.index("未知") < message.index(" / ") < message.index("unknown")
    for name in RULES:
        assert name in message


def test_direct_switch_off(user_dir):
    result = evaluate("lec-no-direct", search_dirs=user_dir, L=1, E=1, C=1, direct_rules=["mandatory-clause"])
    assert result.level is Level.LOW and result.overrides == []
    with pytest.raises(InputError):  # a typo still does not pass silently
        evaluate("lec-no-direct", search_dirs=user_dir, L=1, E=1, C=1, direct_rules=["mandatroy"])


def test_profile_may_reword_a_rule(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "name: lec-jiangsu\nextends: lec\ndirect_rules:\n"
        "  - {name: crowded-dangerous-place, zh: 有毒有害、易燃易爆场所同时作业人数10人以上的}\n"
        "  - {name: new-rule, zh: 地方规定的其他情形, short_zh: 其他情形}\n", encoding="utf-8")
    result = evaluate("lec-jiangsu", search_dirs=tmp_path, L=1, E=1, C=1,
                      direct_rules=["crowded-dangerous-place", "其他情形"])
    assert [o.reason for o in result.overrides] == ["直接判定为重大风险：有毒有害、易燃易爆场所同时作业人数10人以上的",
                                                    "直接判定为重大风险：地方规定的其他情形"]


# ------------------------------------------------------------------ GB 18218-2018

BETA = {"explosive": 2, "flammable_gas": Fraction(3, 2), "other": 1, "co": 2, "so2": 2, "nh3": 2,
        "ethylene_oxide": 2, "hcl": 3, "methyl_bromide": 3, "chlorine": 4, "h2s": 5, "hf": 5, "no2": 10,
        "hcn": 10, "phosgene": 20, "phosphine": 20, "methyl_isocyanate": 20, "toxic_gas": 2,
        "highly_toxic_gas": 4}


@pytest.mark.parametrize(("category", "beta"), sorted(BETA.items()))
def test_beta_of_each_category(category, beta):
    # one substance at twice its critical quantity, 10 people around: α = 1, R = 2β
    result = major_hazard([{"name": category, "q": 2, "Q": 1, "category": category}], 10)
    assert result.alpha == 1 and result.is_installation
    assert result.r_exact == 2 * beta
    assert Fraction(result.r) == 2 * beta


@pytest.mark.parametrize(("people", "alpha"), [
    (0, "0.5"), (1, "1.0"), (29, "1.0"), (30, "1.2"), (49, "1.2"), (50, "1.5"), (99, "1.5"), (100, "2.0"),
    (5000, "2.0")])
def test_alpha_by_people_within_500_m(people, alpha):
    result = major_hazard([{"name": "x", "q": 1, "Q": 1, "category": "other"}], people)
    assert result.alpha == Decimal(alpha)
    assert result.r_exact == Fraction(alpha)


def test_worked_example_chlorine():
    # 液氯 10 t, Q = 5 t, β = 4, 120 people: Σq/Q = 2, R = 2.0 × 4 × 2 = 16 → grade 3
    result = major_hazard([{"name": "液氯", "q": 10, "Q": 5, "category": "chlorine"}], 120)
    assert (result.ratio_sum, result.alpha, result.r, result.grade) == (2, Decimal("2.0"), 16, 3)
    assert result.grade_zh == "三级重大危险源"


def test_worked_example_methanol_and_ammonia():
    # 甲醇 300/500 (β 1) + 液氨 12/10 (β 2), 40 people: Σ = 1.8; R = 1.2 × (0.6 + 2.4) = 3.6 → grade 4
    result = major_hazard([{"name": "甲醇", "q": 300, "Q": 500, "category": "other"},
                           {"name": "液氨", "q": "12", "Q": "10", "category": "液氨"}], 40)
    assert result.is_installation and result.ratio_sum == Decimal("1.8")
    assert result.r == Decimal("3.6") and result.grade == 4
    reason = result.reason()
    assert "Σq/Q = 1.8" in reason and "R = α·Σβ·q/Q = 3.6" in reason and "四级重大危险源" in reason


def test_worked_example_phosgene_grade_1():
    result = major_hazard([{"name": "光气", "q": "3", "Q": "0.3", "category": "光气"}], 100)
    assert (result.ratio_sum, result.r, result.grade) == (10, 400, 1)


def test_exactly_one_third_three_times_is_an_installation():
    thirds = [{"name": f"s{i}", "q": 1, "Q": 3, "category": "other"} for i in range(3)]
    result = major_hazard(thirds, 0)
    assert result.ratio_sum_exact == 1 and result.is_installation
    assert result.r_exact == Fraction(1, 2) and result.grade == 4
    assert not major_hazard(thirds[:2], 0).is_installation


@pytest.mark.parametrize(("ratio", "grade"), [(50, 1), (Fraction(4999, 100), 2), (25, 2), (5, 3),
                                              (Fraction(499, 100), 4), (1, 4)])
def test_grade_thresholds_are_inclusive_below(ratio, grade):
    # β 1, α 2 (≥ 100 people): R = 2 × ratio, so 50 → 100 (grade 1), 25 → 50 (2), 5 → 10 (3)
    result = major_hazard([{"name": "x", "q": str(ratio.numerator if isinstance(ratio, Fraction) else ratio),
                            "Q": str(ratio.denominator if isinstance(ratio, Fraction) else 1),
                            "category": "other"}], 100)
    assert result.grade == grade


def test_not_an_installation_has_no_grade():
    result = major_hazard([{"name": "x", "q": 1, "Q": 2, "category": "other"}], 10)
    assert not result.is_installation and result.grade is None and result.ratio_sum == Decimal("0.5")


def test_explicit_beta():
    assert major_hazard([{"name": "x", "q": 2, "Q": 1, "beta": "1.5"}], 10).r == 3
    assert major_hazard([{"name": "x", "q": 2, "Q": 1, "beta": 4, "category": "chlorine"}], 10).r == 8
    with pytest.raises(InputError, match="beta"):
        major_hazard([{"name": "x", "q": 2, "Q": 1, "beta": 3, "category": "chlorine"}], 10)


@pytest.mark.parametrize(("substances", "people", "needle"), [
    ([{"name": "x", "q": 1, "Q": 1, "category": "plutonium"}], 1, "chlorine"),
    ([{"name": "x", "q": 1, "Q": 0, "category": "other"}], 1, "Q"),
    ([{"name": "x", "q": -1, "Q": 1, "category": "other"}], 1, "q"),
    ([{"name": "x", "q": 1, "category": "other"}], 1, "Q"),
    ([{"name": "x", "q": 1, "Q": 1}], 1, "category"),
    ([{"name": "x", "q": 1, "Q": 1, "category": "other"}], -1, "500"),
    ([{"name": "x", "q": 1, "Q": 1, "category": "other"}], "2.5", "500"),
    ([], 1, "substance"),
    (["甲醇"], 1, "substance"),
])
def test_bad_major_hazard_inputs(substances, people, needle):
    with pytest.raises(InputError) as info:
        major_hazard(substances, people)
    assert needle in info.value.message and " / " in info.value.message


# ------------------------------------------------------------------ assessing events and units

def tank_farm(**kwargs) -> AssessmentUnit:
    return AssessmentUnit(
        id="U1", name="罐区", events=[RiskEvent(name="储罐泄漏", id="E1", inputs={"L": 1, "E": 3, "C": 7})],
        major_hazard={"people_500m": 40, "substances": [
            {"name": "甲醇", "q": 300, "Q": 500, "category": "other"},
            {"name": "液氨", "q": 12, "Q": 10, "category": "nh3"}]}, **kwargs)


def test_unit_major_hazard_override():
    unit = tank_farm()
    results = assess_units([unit])
    assert results["U1"].grade == 4
    assert unit.events[0].residual.level is Level.LOW
    assert unit.override.level is Level.MAJOR and unit.override.rule == "major-hazard"
    assert "Σq/Q = 1.8" in unit.override.reason and "R = α·Σβ·q/Q = 3.6" in unit.override.reason
    assert "四级重大危险源" in unit.override.reason and "重大风险" in unit.override.reason
    assert unit.level() is Level.MAJOR
    assess_units([unit])  # idempotent
    assert unit.override.rule == "major-hazard"
    unit.major_hazard = None  # the data went away: the stale override goes too
    assess_units([unit])
    assert unit.override is None and unit.level() is Level.LOW


def test_unit_major_hazard_switch_off_and_below_threshold(user_dir):
    unit = tank_farm()
    assess_units([unit], default_profile="lec-no-mh", profiles=user_dir)
    assert unit.override is None and unit.level() is Level.LOW
    small = tank_farm()
    small.major_hazard["substances"] = [{"name": "甲醇", "q": 100, "Q": 500, "category": "other"}]
    assert assess_units([small])["U1"].is_installation is False
    assert small.override is None


def test_manual_overrides_and_the_major_hazard_rule():
    kept = tank_farm(override=Override(Level.MAJOR, "企业自定", "manual"))
    assess_units([kept])
    assert kept.override.reason == "企业自定"
    lower = tank_farm(override=Override(Level.GENERAL, "专家评定为一般", "manual"))
    assess_units([lower])
    assert lower.override.level is Level.MAJOR and lower.override.rule == "major-hazard"
    assert "专家评定为一般" in lower.override.reason


def test_alpha_people_key_is_accepted():
    unit = tank_farm()
    unit.major_hazard = {"alpha_people": 120, "substances": unit.major_hazard["substances"]}
    assert assess_units([unit])["U1"].alpha == 2


def test_bad_major_hazard_data_names_the_unit():
    unit = tank_farm()
    unit.major_hazard["substances"][0]["category"] = "unknown-thing"
    with pytest.raises(InputError) as info:
        assess_units([unit])
    assert "U1" in info.value.message and "罐区" in info.value.message


def test_assess_event_residual_inherent_and_method():
    event = RiskEvent(name="动火作业", id="E7", method="ls", inputs={"L": 2, "S": 4},
                      inherent_inputs={"L": 4, "S1": 1, "S2": 4, "S3": 2, "S4": 1, "S5": 1})
    assess_event(event, "lec")
    assert (event.residual.method, event.residual.score, event.residual.level) == ("ls", 8, Level.LOW)
    assert (event.inherent.score, event.inherent.level) == (16, Level.SIGNIFICANT)
    assert event.level("inherent") is Level.SIGNIFICANT and event.level() is Level.LOW


def test_method_lec_follows_the_enterprise_default_convention():
    event = RiskEvent(name="高处作业", method="lec", inputs={"L": 1, "E": 10, "C": 7})
    assess_event(event, "lec-upper-inclusive")
    assert (event.residual.profile, event.residual.level) == ("lec-upper-inclusive", Level.LOW)
    assess_event(event, "lec")
    assert event.residual.level is Level.GENERAL


def test_direct_rules_of_an_event_apply_to_both_evaluations():
    event = RiskEvent(name="受限空间", inputs={"L": 1, "E": 1, "C": 1}, inherent_inputs={"L": 3, "E": 1, "C": 1},
                      direct_rules=["crowded-dangerous-place"])
    assess_event(event)
    assert event.residual.level is Level.MAJOR and event.residual.computed_level is Level.LOW
    assert event.inherent.level is Level.MAJOR


def test_event_without_inputs():
    given = RiskEvent(name="已定级", residual_level=Level.GENERAL)
    assess_event(given)
    assert given.residual is None and given.level() is Level.GENERAL
    direct_only = RiskEvent(name="违规", direct_rules=["mandatory-clause"])
    assess_event(direct_only)
    assert direct_only.residual.method == "direct" and direct_only.residual.score is None
    assert direct_only.level() is Level.MAJOR
    assert evaluation_to_dict(direct_only.residual)["score"] is None


def test_bad_event_names_unit_event_and_input():
    units = [tank_farm(), AssessmentUnit(id="U2", name="装卸区", events=[
        RiskEvent(name="装车", id="E9", inputs={"L": 3, "E": 7, "C": 15})])]
    with pytest.raises(InputError) as info:
        assess_units(UnitTree(units))
    message = info.value.message
    zh, _, en = message.partition(" / ")
    assert "U2" in zh and "装卸区" in zh and "E9" in zh and "装车" in zh and "10、6、3、2、1、0.5" in zh
    assert "unit U2" in en and "event E9" in en and "10, 6, 3, 2, 1, 0.5" in en
    assert info.value.details[0] | {"unit": "U2", "event": "E9", "input": "E"} == info.value.details[0]


def test_bad_inherent_inputs_say_so():
    event = RiskEvent(name="x", id="E1", inputs={"L": 1, "E": 1, "C": 1}, inherent_inputs={"L": 4, "E": 1, "C": 1})
    with pytest.raises(InputError, match="固有风险"):
        assess_event(event)


def test_user_profiles_by_mapping(tmp_path):
    path = tmp_path / "strict.yaml"
    path.write_text("name: strict-ls\nextends: ls\nbands: [{threshold: 4, level: major}, {level: low}]\n",
                    encoding="utf-8")
    unit = AssessmentUnit(id="U", name="u", events=[RiskEvent(name="e", method="strict", inputs={"L": 2, "S": 2})])
    assess_units([unit], profiles={"strict": path})
    assert unit.events[0].residual.level is Level.MAJOR and unit.events[0].residual.profile == "strict-ls"


def test_region_cap_is_profile_data(tmp_path):
    assert load_profile("lec").cap_below_highest and load_profile("ls").cap_below_highest
    (tmp_path / "nocap.yaml").write_text("name: ls-nocap\nextends: ls\naggregate: {cap_below_highest: false}\n",
                                         encoding="utf-8")
    assert load_profile("ls-nocap", tmp_path).cap_below_highest is False
