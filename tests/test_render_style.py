"""The layer symbology files: typed, validated, tied to the level palette, and JSON for the browser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from riskmap.errors import NotFoundError
from riskmap.geo.model import ROLES
from riskmap.levels import Level
from riskmap.render.style import NO_LEVEL, StyleError, available_layers, load_layer_style, styles_json, tinted
from riskmap.symbology import layers_dir

PALETTE = {"major": "#FF0000", "significant": "#FF8C00", "general": "#FFFF00", "low": "#0070C0"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A writable copy of the shipped layers/ folder."""
    for name in ("levels.yaml", "regions.yaml", "units.yaml", "layout.yaml"):
        shutil.copy(layers_dir() / name, tmp_path / name)
    return tmp_path


def edit(folder: Path, name: str, change) -> None:
    path = folder / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize("name", ["regions", "units"])
def test_level_layers_take_colours_names_and_hatches_from_the_palette(name):
    style = load_layer_style(name)
    assert style.classify == "level" and style.field == "level"
    assert [c.key for c in style.classes] == [NO_LEVEL, "low", "general", "significant", "major"]   # major on top
    for key, colour in PALETTE.items():
        c = style.class_of(key)
        assert c.fill == (tinted(colour, 0.6) if name == "regions" else colour)   # regions: a lighter tint
        assert c.zh == Level(key).zh and c.en == Level(key).en
        assert c.point.fill == colour and c.line.colour == colour
    assert style.class_of("major").hatch == "xx" and style.class_of("low").hatch == ""
    assert style.class_of(NO_LEVEL).zh == "未评估"
    assert style.label is not None and style.label.field == "name"


def test_low_risk_is_blue_never_green():
    fill = load_layer_style("units").class_of("low").fill
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    assert b > g > r


def test_the_region_outline_is_the_level_colour():
    regions = load_layer_style("regions")
    assert regions.class_of("major").outline.colour == "#FF0000"
    assert load_layer_style("units").class_of("major").outline.colour == "#404040"


def test_layout_styles_every_role_in_neutral_greys():
    layout = load_layer_style("layout")
    assert layout.classify == "role" and layout.default_class == "other"
    assert {c.key for c in layout.classes} == set(ROLES)
    for c in layout.classes:
        for colour in filter(None, (c.fill, c.outline and c.outline.colour, c.line and c.line.colour)):
            assert colour[1:3] == colour[3:5] == colour[5:7], (c.key, colour)
    assert layout.class_of("fence").line.dash


def test_class_indices_understand_the_ways_levels_are_written():
    units = load_layer_style("units")
    keys = [units.classes[i].key for i in units.class_indices(
        ["major", "重大风险", "较大", Level.GENERAL, "blue", None, float("nan"), "nonsense", 3])]
    assert keys == ["major", "major", "significant", "general", "low", NO_LEVEL, NO_LEVEL, NO_LEVEL, NO_LEVEL]
    layout = load_layer_style("layout")
    keys = [layout.classes[i].key for i in layout.class_indices(["Building", "road", "", None, "moat"])]
    assert keys == ["building", "road", "other", "other", "other"]
    assert len(units.class_indices([])) == 0


def test_point_sizes_follow_zoom_stops():
    point = load_layer_style("units").class_of("major").point
    assert point.size_at(10) == point.sizes[0][1]
    assert point.size_at(24) == point.size == max(s for _, s in point.sizes)
    z0, s0 = point.sizes[0]
    z1, s1 = point.sizes[1]
    assert point.size_at((z0 + z1) / 2) == pytest.approx((s0 + s1) / 2)


def test_visibility_and_label_zooms():
    units = load_layer_style("units")
    assert units.visible(units.min_zoom) and not units.visible(units.min_zoom - 1)
    assert units.labels_at(units.label.min_zoom) and not units.labels_at(units.label.min_zoom - 1)
    assert units.max_draw_px() >= units.class_of("major").point.size / 2


def test_to_json_carries_everything_the_browser_needs():
    for name in ("regions", "units", "layout"):
        style = load_layer_style(name)
        data = json.loads(json.dumps(style.to_json(), ensure_ascii=False))
        assert data["name"] == name and data["title"]["zh"] and data["title"]["en"]
        assert len(data["classes"]) == len(style.classes)
        assert data["label"]["min_zoom"] == style.label.min_zoom
        for entry in data["legend"]:
            assert entry["zh"] and entry["en"] and "fill" in entry
    legend = load_layer_style("units").to_json()["legend"]
    assert [e["key"] for e in legend] == ["major", "significant", "general", "low", NO_LEVEL]
    assert legend[0] == {**legend[0], "zh": "重大风险", "en": "Major risk", "fill": "#FF0000", "hatch": "xx"}
    point = load_layer_style("units").to_json()["classes"][-1]["point"]
    assert point["size_stops"][0][0] <= point["size_stops"][-1][0]


def test_one_document_for_the_browser():
    doc = json.loads(json.dumps(styles_json(), ensure_ascii=False))
    assert [lv["key"] for lv in doc["levels"]] == ["major", "significant", "general", "low"]
    assert [lv["fill"] for lv in doc["levels"]] == list(PALETTE.values())
    assert {"regions", "units", "layout"} <= set(doc["layers"])


def test_unknown_layers_are_not_found():
    for name in ("nope", "levels", "../levels", "UNITS", "", "a/b", None):
        with pytest.raises(NotFoundError):
            load_layer_style(name)
    assert {"regions", "units", "layout"} <= set(available_layers())


def test_the_palette_is_the_one_source(folder):
    edit(folder, "levels", lambda d: d["levels"]["major"].update(fill="#C00000"))
    assert load_layer_style("units", folder).class_of("major").fill == "#C00000"
    assert load_layer_style("regions", folder).class_of("major").outline.colour == "#C00000"


def test_style_changes_are_picked_up(folder):
    assert load_layer_style("units", folder).class_of("major").fill == "#FF0000"
    edit(folder, "units", lambda d: d["fill"].update(tint=0.5))
    import os
    import time

    path = folder / "units.yaml"
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert load_layer_style("units", folder).class_of("major").fill == "#FF8080"


def test_tints_are_computed_once_and_opaque():
    assert tinted("#FF0000", 0.6) == "#FF6666" and tinted("#0070C0", 1) == "#0070C0"
    assert tinted("#0070C0", 0.6) == "#66A9D9"          # still blue: the share of white, not of another level


@pytest.mark.parametrize("change", [lambda d: d["fill"].update(opacity=0.5),
                                    lambda d: d["fill"].update(no_level_opacity=0.3)])
def test_translucent_level_fills_are_refused_with_the_reason(folder, change):
    edit(folder, "regions", change)
    with pytest.raises(StyleError, match="tint"):
        load_layer_style("regions", folder)


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d["fill"].update(opacity=2), "fill.opacity"),
    (lambda d: d["outline"].update(colour="red"), "outline.colour"),
    (lambda d: d.update(colour_of_fill="#FFFFFF"), "colour_of_fill"),
    (lambda d: d["label"].update(min_zoom="high"), "label.min_zoom"),
    (lambda d: d.update(classify="rainbow"), "classify"),
    (lambda d: d["hatch"].update(spacing=7), "hatch.spacing"),
    (lambda d: d["point"].update(size={30: 4}), "point.size"),
    (lambda d: d.update(name="other"), "name"),
    (lambda d: d["outline"].update(dash=[3]), "outline.dash"),
    (lambda d: d.update(draw_order="zigzag"), "draw_order"),
    (lambda d: d.update(vector_min_zoom=3), "vector_min_zoom"),
])
def test_a_broken_style_is_a_clear_error(folder, change, words):
    edit(folder, "units", change)
    with pytest.raises(StyleError) as err:
        load_layer_style("units", folder)
    assert "units.yaml" in err.value.message and words in err.value.message
    assert err.value.http_status == 500


def test_invalid_yaml_names_the_line(folder):
    (folder / "units.yaml").write_text("name: units\nfill: [unclosed\n", encoding="utf-8")
    with pytest.raises(StyleError) as err:
        load_layer_style("units", folder)
    assert "units.yaml" in err.value.message and "YAML" in err.value.message


def test_layout_roles_are_validated(folder):
    edit(folder, "layout", lambda d: d.update(default="moat"))
    with pytest.raises(StyleError, match="default"):
        load_layer_style("layout", folder)
    edit(folder, "layout", lambda d: (d.update(default="other"), d["roles"]["fence"].update(hatch="zz")))
    with pytest.raises(StyleError, match="hatch"):
        load_layer_style("layout", folder)


def test_a_bad_palette_hatch_is_refused(folder):
    edit(folder, "levels", lambda d: d["levels"]["low"].update(hatch="~~"))
    with pytest.raises(StyleError, match="hatch"):
        load_layer_style("units", folder)


def test_shipped_files_are_the_ones_loaded():
    assert load_layer_style("units").source == "units.yaml"
    assert (layers_dir() / "regions.yaml").is_file()


@pytest.mark.parametrize(("buckets", "words"), [
    ([{"role": "recent", "max_days": 180}, {"role": "due", "max_days": 100}], "buckets[1].max_days"),
    ([{"role": "yesterday", "max_days": 1}], "buckets[0].role"),
    ([{"role": "recent"}, {"role": "due", "max_days": 9}], "buckets[0].max_days"),
    ([{"role": "recent", "max_days": -1}], "buckets[0].max_days"),
    ([], "buckets"),
    ("recent", "buckets"),
])
def test_staleness_buckets_are_checked(folder, buckets, words):
    shutil.copy(layers_dir() / "staleness.yaml", folder / "staleness.yaml")
    good = load_layer_style("staleness", folder)
    assert [r for r, _ in good.buckets] == ["recent", "due", "overdue"] and good.buckets[-1][1] == float("inf")
    assert good.to_json()["buckets"][-1] == {"role": "overdue", "max_days": None}
    edit(folder, "staleness", lambda d: d.update(buckets=buckets))
    with pytest.raises(StyleError) as err:
        load_layer_style("staleness", folder)
    assert "staleness.yaml" in err.value.message and words in err.value.message
