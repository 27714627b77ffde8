"""LS risk matrix: all 25 cells against DOMAIN.md's table, the S1..S5 dimension form, user band sets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskmap.criteria import evaluate, evaluation_to_dict, load_profile
from riskmap.errors import InputError
from riskmap.levels import Level

M, S, G, W = Level.MAJOR, Level.SIGNIFICANT, Level.GENERAL, Level.LOW
# DOMAIN.md §4.2, row L, column S = 1..5, transcribed by hand.
TABLE = {
    1: [W, W, W, W, W],
    2: [W, W, W, W, G],
    3: [W, W, G, G, S],
    4: [W, W, G, S, M],
    5: [W, G, S, M, M],
}


@pytest.mark.parametrize("likelihood", range(1, 6))
@pytest.mark.parametrize("severity", range(1, 6))
def test_all_25_cells(likelihood, severity):
    result = evaluate("ls", L=likelihood, S=severity)
    assert result.score == likelihood * severity
    assert result.level is TABLE[likelihood][severity - 1]
    assert result.computed_level is result.level
    assert result.grade is None
    data = evaluation_to_dict(result)
    assert "grade" not in data
    assert data["score"] == str(likelihood * severity)
    assert data["inputs"] == {"L": str(likelihood), "S": str(severity)}


def test_bands_of_the_occurring_values():
    levels = {}
    for likelihood in range(1, 6):
        for severity in range(1, 6):
            ev = evaluate("ls", L=likelihood, S=severity)
            levels[int(ev.score)] = ev.level
    assert {r for r, lv in levels.items() if lv is S} == {15, 16}
    assert {r for r, lv in levels.items() if lv is G} == {9, 10, 12}
    assert {r for r, lv in levels.items() if lv is M} == {20, 25}
    assert max(r for r, lv in levels.items() if lv is W) == 8


def test_band_texts():
    assert evaluate("ls", L=5, S=4).band == "R ≥ 20"
    assert evaluate("ls", L=3, S=5).band == "15 ≤ R < 20"
    assert evaluate("ls", L=3, S=3).band == "9 ≤ R < 15"
    assert evaluate("ls", L=2, S=4).band == "R < 9"


dims = st.lists(st.integers(min_value=1, max_value=5), min_size=5, max_size=5)


@given(likelihood=st.integers(min_value=1, max_value=5), scores=dims)
def test_dimension_form_is_the_maximum(likelihood, scores):
    by_dims = evaluate("ls", L=likelihood, **{f"S{i}": v for i, v in enumerate(scores, start=1)})
    direct = evaluate("ls", L=likelihood, S=max(scores))
    assert (by_dims.score, by_dims.level) == (direct.score, direct.level)
    assert by_dims.inputs["S"] == str(max(scores))
    assert [by_dims.inputs[f"S{i}"] for i in range(1, 6)] == [str(v) for v in scores]


@given(l1=st.integers(1, 5), l2=st.integers(1, 5), s1=st.integers(1, 5), s2=st.integers(1, 5))
def test_level_is_monotone(l1, l2, s1, s2):
    low = evaluate("ls", L=min(l1, l2), S=min(s1, s2))
    assert evaluate("ls", L=max(l1, l2), S=min(s1, s2)).level.rank >= low.level.rank
    assert evaluate("ls", L=min(l1, l2), S=max(s1, s2)).level.rank >= low.level.rank


def test_dimension_form_with_chinese_aliases():
    result = evaluate("ls", **{"可能性": 4, "法律法规": 2, "人员伤亡": 5, "直接经济损失": 3, "停工": 1, "企业形象": 1})
    assert (result.score, result.level) == (20, Level.MAJOR)


def test_dimensions_must_all_be_given():
    with pytest.raises(InputError) as info:
        evaluate("ls", L=3, S1=2, S2=4)
    message = info.value.message
    assert "S3" in message and "S4" in message and "S5" in message and "S1" in message.split("：", 1)[1]
    assert {d["input"] for d in info.value.details} == {"S3", "S4", "S5"}


def test_dimension_outside_the_set_is_named():
    with pytest.raises(InputError) as info:
        evaluate("ls", L=3, S1=2, S2=6, S3=1, S4=1, S5=1)
    message = info.value.message
    assert "S2" in message and "6" in message and "1、2、3、4、5" in message and "1, 2, 3, 4, 5" in message


def test_direct_s_must_agree_with_dimensions():
    assert evaluate("ls", L=2, S=4, S1=1, S2=4, S3=1, S4=1, S5=1).score == 8
    with pytest.raises(InputError, match="S"):
        evaluate("ls", L=2, S=3, S1=1, S2=4, S3=1, S4=1, S5=1)


@pytest.mark.parametrize(("inputs", "needle"), [
    ({"L": 0, "S": 3}, "L"), ({"L": 6, "S": 3}, "L"), ({"L": "2.5", "S": 3}, "L"), ({"L": 3}, "S"),
    ({"S": 3}, "L"), ({"L": 3, "S": 3, "E": 1}, "E"),
])
def test_bad_ls_inputs(inputs, needle):
    with pytest.raises(InputError) as info:
        evaluate("ls", **inputs)
    assert needle in info.value.message
    assert " / " in info.value.message


def test_missing_s_mentions_the_dimension_form():
    with pytest.raises(InputError) as info:
        evaluate("ls", L=3)
    assert "S1" in info.value.message and "1、2、3、4、5" in info.value.message


def test_other_band_sets_are_profile_data(tmp_path):
    (tmp_path / "ls4.yaml").write_text(
        "name: ls-15-9-4\nextends: ls\nbands:\n"
        "  - {threshold: 15, level: major}\n  - {threshold: 9, level: significant}\n"
        "  - {threshold: 4, level: general}\n  - {level: low}\n", encoding="utf-8")
    profile = load_profile("ls-15-9-4", tmp_path)
    assert profile.inputs[1].max_of[0].key == "S1"
    got = {r: evaluate(profile, L=r, S=1).level for r in (1, 3, 4, 5)}
    assert got == {1: W, 3: W, 4: G, 5: G}
    assert evaluate(profile, L=3, S=3).level is S
    assert evaluate(profile, L=3, S=5).level is M
    assert evaluate("ls", L=3, S=5).level is S  # the built-in is untouched
