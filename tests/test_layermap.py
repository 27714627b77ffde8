"""Layer name → role: the built-in rules, `--layer-map` files, and refusing bad ones."""

from __future__ import annotations

import json
import re

import pytest

from riskmap.errors import InputError
from riskmap.geo.layermap import IGNORE, LayerMap


@pytest.mark.parametrize(
    ("layer", "role"),
    [
        ("1-区域边界", "region"),
        ("区域", "region"),
        ("生产区", "region"),
        ("功能区-甲类", "region"),
        ("分区线", "region"),
        ("储罐区", "region"),        # a tank farm is an area, not a tank
        ("REGION", "region"),
        ("Area-1", "region"),
        ("建筑物", "building"),
        ("厂房", "building"),
        ("房屋轮廓", "building"),
        ("构筑物", "building"),
        ("BUILDING", "building"),
        ("bldg_main", "building"),   # case-insensitive
        ("设备", "equipment"),
        ("消防设施", "equipment"),
        ("储罐", "equipment"),
        ("罐", "equipment"),
        ("EQUIP-PUMP", "equipment"),
        ("Tank_01", "equipment"),
        ("道路", "road"),
        ("厂区道路", "road"),
        ("生产区道路", "road"),      # roads before regions
        ("ROAD_CL", "road"),
        ("路", "road"),
        ("围墙", "fence"),
        ("围栏", "fence"),
        ("FENCE", "fence"),
        ("WALL", "fence"),
        ("文字", IGNORE),
        ("文字标注", IGNORE),
        ("道路文字", IGNORE),        # text layers first
        ("TEXT", IGNORE),
        ("ANNO-1", IGNORE),
        ("0", "other"),
        ("Defpoints", "other"),
        ("图框", "other"),
    ],
)
def test_default_rules(layer, role):
    assert LayerMap.default().role_for(layer) == role


def test_default_map_reports_whether_a_rule_matched():
    lm = LayerMap.default()
    assert lm.is_default
    assert lm.resolve("建筑物") == ("building", True)
    assert lm.resolve("XYZ") == ("other", False)


def test_plain_pattern_matches_inside_glob_pattern_matches_whole_name():
    lm = LayerMap.from_data({"rules": [{"pattern": "A-生产区*", "role": "region"},
                                       {"pattern": "泵", "role": "equipment"}]})
    assert lm.role_for("A-生产区1") == "region"
    assert lm.role_for("a-生产区") == "region"          # case-insensitive globs too
    assert lm.role_for("XA-生产区1") == "other"          # a glob must match the whole name
    assert lm.role_for("1#泵房") == "equipment"          # a plain pattern matches within


def test_first_match_wins():
    lm = LayerMap.from_data({"rules": [{"pattern": "罐区", "role": "region"}, {"pattern": "罐", "role": "equipment"}]})
    assert lm.role_for("东罐区") == "region"
    assert lm.role_for("1#罐") == "equipment"
    flipped = LayerMap.from_data({"rules": [{"pattern": "罐", "role": "equipment"},
                                            {"pattern": "罐区", "role": "region"}]})
    assert flipped.role_for("东罐区") == "equipment"


def test_load_yaml_rules_with_default_role(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("rules:\n  - {pattern: 'A-*', role: building}\n  - {pattern: 'T?', role: 设备}\n"
                    "default_role: ignore\n", encoding="utf-8")
    lm = LayerMap.load(path)
    assert lm.role_for("A-1") == "building"
    assert lm.role_for("T1") == "equipment"              # Chinese role names are accepted
    assert lm.role_for("T12") == IGNORE                  # ? is one character
    assert lm.role_for("other") == IGNORE
    assert not lm.is_default


def test_load_json_and_plain_mapping(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"围墙": "fence", "*路*": "road", "default_role": "region"}, ensure_ascii=False),
                    encoding="utf-8")
    lm = LayerMap.load(path)
    assert [r.pattern for r in lm.rules] == ["围墙", "*路*"]
    assert lm.role_for("东侧围墙") == "fence"
    assert lm.role_for("主干路") == "road"
    assert lm.role_for("zzz") == "region"


def test_coerce():
    lm = LayerMap.default()
    assert LayerMap.coerce(lm) is lm
    assert LayerMap.coerce(None).is_default
    assert LayerMap.coerce({"x": "road"}).role_for("x") == "road"


@pytest.mark.parametrize(
    "text",
    [
        "rules:\n  - {pattern: a, role: tower}\n",            # unknown role
        "a: tower\n",                                          # unknown role, plain mapping
        "rules: [\n",                                          # broken YAML
        "- a\n- b\n",                                          # not a mapping
        "",                                                    # empty
        "rules: []\n",                                         # no rules
        "rules: {a: road}\n",                                  # rules not a list
        "rules:\n  - {pattern: a}\n",                          # rule without a role
        "rules:\n  - {pattern: '', role: road}\n",             # empty pattern
        "rules:\n  - {pattern: a, role: road}\nextra: 1\n",    # unknown key
        "rules:\n  - {pattern: a, role: road}\ndefault_role: sky\n",
    ],
)
def test_bad_map_files_are_input_errors(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        LayerMap.load(path)
    message = info.value.message
    assert re.match(r"[\u4e00-\u9fff]", message), message   # Chinese first, then English
    assert " / " in message


def test_bad_json_and_missing_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{'not': json}", encoding="utf-8")
    with pytest.raises(InputError, match="JSON"):
        LayerMap.load(bad)
    with pytest.raises(InputError, match="找不到"):
        LayerMap.load(tmp_path / "missing.yaml")


def test_round_trip_through_data():
    lm = LayerMap.default()
    again = LayerMap.from_data(lm.to_data())
    for layer in ("1-区域边界", "道路文字", "厂区道路", "罐", "0"):
        assert again.role_for(layer) == lm.role_for(layer)
