"""LEC under both boundary conventions, checked against a table computed here independently with Fractions."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import riskmap
from riskmap.criteria import evaluate, evaluation_to_dict, list_profiles, load_profile
from riskmap.errors import InputError
from riskmap.levels import Level

L_SET = ["10", "6", "3", "1", "0.5", "0.2", "0.1"]
E_SET = ["10", "6", "3", "2", "1", "0.5"]
C_SET = ["100", "40", "15", "7", "3", "1"]
THRESHOLDS = [Fraction(320), Fraction(160), Fraction(70), Fraction(20)]
GRADE_LEVEL = {1: Level.MAJOR, 2: Level.SIGNIFICANT, 3: Level.GENERAL, 4: Level.LOW, 5: Level.LOW}
LABELS = {1: "极其危险，不能继续作业", 2: "高度危险，需立即整改", 3: "显著危险，需要整改", 4: "一般危险，需要注意",
          5: "稍有危险，可以接受"}


def oracle_grade(d: Fraction, boundary: str) -> int:
    """Grade of D written out separately from the code under test: higher = boundary in the higher band."""
    for grade, threshold in enumerate(THRESHOLDS, start=1):
        if (d >= threshold) if boundary == "higher" else (d > threshold):
            return grade
    return 5


def all_products():
    for lv, ev, cv in itertools.product(L_SET, E_SET, C_SET):
        yield lv, ev, cv, Fraction(lv) * Fraction(ev) * Fraction(cv)


def test_there_are_252_products_with_103_distinct_values():
    products = list(all_products())
    assert len(products) == 252
    values = {d for *_, d in products}
    assert len(values) == 103
    assert Fraction(70) in values and Fraction(20) in values
    assert Fraction(160) not in values and Fraction(320) not in values


@pytest.mark.parametrize(("profile", "boundary"), [("lec", "higher"), ("lec-upper-inclusive", "lower")])
def test_all_252_products_match_the_oracle(profile, boundary):
    wrong = []
    for lv, ev, cv, d in all_products():
        result = evaluate(profile, L=lv, E=ev, C=cv)
        grade = oracle_grade(d, boundary)
        got = (Fraction(result.score), result.grade, result.level, result.computed_level)
        if got != (d, grade, GRADE_LEVEL[grade], GRADE_LEVEL[grade]):
            wrong.append((lv, ev, cv, got))
        text = evaluation_to_dict(result)["score"]
        assert Fraction(Decimal(text)) == d
        assert "E" not in text and not re.search(r"\.\d*0$", text) and not text.endswith(".")
    assert wrong == []


def test_floats_would_be_wrong_but_decimals_are_exact():
    # in binary floats, L·E·C is not even the double nearest the true product for 36 of them
    float_wrong = [(lv, ev, cv) for lv, ev, cv, d in all_products()
                   if float(lv) * float(ev) * float(cv) != float(d)]
    assert len(float_wrong) == 36
    for lv, ev, cv in float_wrong:
        assert Fraction(evaluate("lec", L=float(lv), E=float(ev), C=float(cv)).score) == \
            Fraction(lv) * Fraction(ev) * Fraction(cv)


def test_point_one_times_three_times_hundred_is_exactly_thirty():
    result = evaluate("lec", L=0.1, E=3, C=100)
    assert result.score == Decimal(30)
    assert str(result.score) == "30"
    assert evaluation_to_dict(result)["score"] == "30"


@pytest.mark.parametrize(("inputs", "profile", "grade", "level", "band"), [
    ({"L": 1, "E": 10, "C": 7}, "lec", 3, Level.GENERAL, "70 ≤ D < 160"),
    ({"L": 10, "E": 1, "C": 7}, "lec", 3, Level.GENERAL, "70 ≤ D < 160"),
    ({"L": 1, "E": 10, "C": 7}, "lec-upper-inclusive", 4, Level.LOW, "20 < D ≤ 70"),
    ({"L": "0.5", "E": 1, "C": 40}, "lec", 4, Level.LOW, "20 ≤ D < 70"),
    ({"L": 10, "E": 2, "C": 1}, "lec-upper-inclusive", 5, Level.LOW, "D ≤ 20"),
    ({"L": 10, "E": 10, "C": 100}, "lec", 1, Level.MAJOR, "D ≥ 320"),
    ({"L": 10, "E": 10, "C": 100}, "lec-upper-inclusive", 1, Level.MAJOR, "D > 320"),
    ({"L": 3, "E": 6, "C": 15}, "lec", 2, Level.SIGNIFICANT, "160 ≤ D < 320"),
])
def test_boundary_values_and_band_text(inputs, profile, grade, level, band):
    result = evaluate(profile, **inputs)
    assert (result.grade, result.level, result.band) == (grade, level, band)
    assert evaluation_to_dict(result)["label"] == LABELS[grade]


def test_boundary_convention_is_profile_data():
    higher, lower = load_profile("lec"), load_profile("lec-upper-inclusive")
    assert (higher.boundary, lower.boundary) == ("higher", "lower")
    assert [b.grade for b in higher.bands] == [1, 2, 3, 4, 5]
    assert [b.label for b in higher.bands] == [LABELS[g] for g in range(1, 6)]
    assert [b.level for b in lower.bands] == [GRADE_LEVEL[g] for g in range(1, 6)]
    assert {"lec", "lec-upper-inclusive", "ls"} <= set(list_profiles())


def test_user_profile_flips_the_convention_by_data(tmp_path):
    (tmp_path / "mine.yaml").write_text("name: my-lec\nextends: lec\nboundary: lower\n", encoding="utf-8")
    result = evaluate("my-lec", search_dirs=tmp_path, L=1, E=10, C=7)
    assert (result.profile, result.grade, result.level) == ("my-lec", 4, Level.LOW)
    # the file path works as well as the name
    assert evaluate(tmp_path / "mine.yaml", L=1, E=10, C=7).grade == 4


@pytest.mark.parametrize("value", [3, "3", 3.0, Decimal("3"), " 3 ", "3.00", "３"])
def test_input_forms(value):
    result = evaluate("lec", L=value, E="6", C=15)
    assert result.score == Decimal(270)
    assert result.inputs == {"L": "3", "E": "6", "C": "15"}


def _zh_first(message: str) -> None:
    zh, sep, en = message.partition(" / ")
    assert sep and re.search(r"[\u4e00-\u9fff]", zh) and re.search(r"[A-Za-z]{3}", en)


def test_value_outside_the_set_names_input_and_allowed_values():
    with pytest.raises(InputError) as info:
        evaluate("lec", L=3, E=7, C=15)
    message = info.value.message
    _zh_first(message)
    assert "E" in message and "7" in message
    assert "10、6、3、2、1、0.5" in message and "10, 6, 3, 2, 1, 0.5" in message
    assert info.value.details[0]["input"] == "E"
    assert info.value.details[0]["allowed"] == E_SET


@pytest.mark.parametrize(("inputs", "needle"), [
    ({"L": 3, "E": 6}, "C"),
    ({"L": 3, "E": 6, "C": ""}, "C"),
    ({"L": "abc", "E": 6, "C": 15}, "L"),
    ({"L": "nan", "E": 6, "C": 15}, "L"),
    ({"L": "inf", "E": 6, "C": 15}, "L"),
    ({"L": True, "E": 6, "C": 15}, "L"),
    ({"L": 2, "E": 6, "C": 15}, "0.1"),
    ({"L": 3, "E": 6, "C": 15, "X": 1}, "X"),
])
def test_bad_inputs_are_input_errors(inputs, needle):
    with pytest.raises(InputError) as info:
        evaluate("lec", **inputs)
    _zh_first(info.value.message)
    assert needle in info.value.message


def test_missing_input_lists_allowed_values():
    with pytest.raises(InputError, match="100、40、15、7、3、1"):
        evaluate("lec", L=3, E=6)


def test_unknown_profile_lists_available():
    with pytest.raises(InputError) as info:
        evaluate("no-such-profile", L=3, E=6, C=15)
    assert "lec" in info.value.message and "ls" in info.value.message
    _zh_first(info.value.message)


def test_aliases_and_case():
    assert evaluate("lec", **{"可能性": 3, "暴露频繁程度": 6, "后果": 15}).score == 270
    assert evaluate("lec", l=3, e=6, c=15).score == 270
    with pytest.raises(InputError, match="L"):
        evaluate("lec", L=3, l=3, E=6, C=15)


def test_outside_values_allowed_by_profile_option(tmp_path):
    (tmp_path / "free.yaml").write_text("name: lec-free\nextends: lec\nallow_outside_values: true\n",
                                        encoding="utf-8")
    result = evaluate("lec-free", search_dirs=[tmp_path], L=2, E=6, C=15)
    assert (result.score, result.grade, result.level) == (Decimal(180), 2, Level.SIGNIFICANT)
    with pytest.raises(InputError, match="负"):
        evaluate("lec-free", search_dirs=[tmp_path], L=-1, E=6, C=15)
    with pytest.raises(InputError):   # the built-in stays strict
        evaluate("lec", L=2, E=6, C=15)


@pytest.mark.parametrize("text", [
    "name: x\nextends: lec\nboundary: sideways\n",
    "name: x\nextends: lec\nbands: [{threshold: 10, level: major}, {threshold: 20, level: low}, {level: low}]\n",
    "name: x\nextends: lec\nbands: [{threshold: 10, level: low}, {level: major}]\n",
    "name: x\nextends: lec\nbands: [{threshold: 10, level: major}, {threshold: 5, level: low}]\n",
    "name: x\nextends: lec\nbands: [{threshold: 10, level: purple}, {level: low}]\n",
    "name: x\nextends: nothing-here\n",
    "name: x\nextends: lec\noverrides: {sometimes: true}\n",
    "name: x\nmethod: x\nbands: [{level: low}]\n",
    "- just\n- a list\n",
])
def test_bad_profiles_are_clear_errors(tmp_path, text):
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_profile(path)
    _zh_first(info.value.message)


def test_a_file_without_name_is_named_by_its_stem(tmp_path):
    (tmp_path / "plant-lec.yml").write_text("extends: lec\n", encoding="utf-8")
    assert load_profile("plant-lec", tmp_path).name == "plant-lec"
    assert load_profile(tmp_path / "plant-lec.yml").name == "plant-lec"


def test_profile_names_are_found_case_insensitively():
    assert load_profile("LEC").name == "lec"
    assert load_profile("LEC-Upper-Inclusive").boundary == "lower"


def test_riskmap_evaluate_is_the_criteria_function():
    assert riskmap.evaluate is evaluate
    assert riskmap.evaluate("lec", L=3, E=6, C=15).level is Level.SIGNIFICANT


def test_json_form():
    data = evaluation_to_dict(evaluate("lec", L=3, E=6, C=15))
    assert data == {
        "profile": "lec", "method": "lec", "inputs": {"L": "3", "E": "6", "C": "15"}, "score": "270",
        "grade": 2, "label": "高度危险，需立即整改", "level": "significant", "level_zh": "较大风险",
        "colour": "#FF8C00", "band": "160 ≤ D < 320", "computed_level": "significant", "overrides": [],
    }
    assert evaluation_to_dict(evaluate("lec", L="0.1", E="0.5", C=1))["score"] == "0.05"
    assert evaluation_to_dict(evaluate("lec", L="0.2", E=3, C=1))["score"] == "0.6"


L_VALUES = st.sampled_from(L_SET)
E_VALUES = st.sampled_from(E_SET)
C_VALUES = st.sampled_from(C_SET)


@given(l1=L_VALUES, l2=L_VALUES, e1=E_VALUES, e2=E_VALUES, c1=C_VALUES, c2=C_VALUES,
       profile=st.sampled_from(["lec", "lec-upper-inclusive"]))
def test_level_is_monotone_in_each_input(l1, l2, e1, e2, c1, c2, profile):
    lo_l, hi_l = sorted((l1, l2), key=Fraction)
    lo_e, hi_e = sorted((e1, e2), key=Fraction)
    lo_c, hi_c = sorted((c1, c2), key=Fraction)
    base = evaluate(profile, L=lo_l, E=lo_e, C=lo_c)
    for bigger in ({"L": hi_l, "E": lo_e, "C": lo_c}, {"L": lo_l, "E": hi_e, "C": lo_c},
                   {"L": lo_l, "E": lo_e, "C": hi_c}):
        other = evaluate(profile, **bigger)
        assert other.level.rank >= base.level.rank
        assert other.grade <= base.grade


@given(L=L_VALUES, E=E_VALUES, C=C_VALUES)
def test_strict_convention_never_lower(L, E, C):
    strict = evaluate("lec", L=L, E=E, C=C)
    lenient = evaluate("lec-upper-inclusive", L=L, E=E, C=C)
    assert strict.score == lenient.score
    assert strict.level.rank >= lenient.level.rank
    assert strict.grade <= lenient.grade
    assert (strict.grade != lenient.grade) == (strict.score in (70, 20))


def test_a_stated_score_must_be_the_product():
    assert evaluate("lec", L="0.1", E=3, C=100, D="30.0").score == 30
    assert evaluate("lec", L=3, E=6, C=15, **{"风险值": 270}).inputs == {"L": "3", "E": "6", "C": "15"}
    with pytest.raises(InputError) as info:
        evaluate("lec", L=3, E=6, C=15, D=200)
    assert "3 × 6 × 15 = 270" in info.value.message and info.value.details[0]["input"] == "D"


def test_profiles_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "env.yaml").write_text("name: env-lec\nextends: lec\nboundary: lower\n", encoding="utf-8")
    monkeypatch.setenv("RISKMAP_PROFILES_DIR", str(tmp_path))
    assert "env-lec" in list_profiles()
    assert evaluate("env-lec", L=10, E=2, C=1).grade == 5
