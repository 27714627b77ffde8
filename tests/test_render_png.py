"""PNG tiles: decoded with Pillow and checked pixel by pixel against the palette and the symbology."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from kit import frac_box, frac_point, view_at
from kit import rgba as decode

import riskmap.render.png as png_module
from riskmap.errors import InputError, NotFoundError
from riskmap.render import fonts
from riskmap.render.grid import TileView, tile_view
from riskmap.render.png import (
    _clean_label,
    empty_png,
    render_labels_png,
    render_layers_png,
    render_png,
    render_rgba,
)
from riskmap.render.style import load_layer_style

PALETTE = {"major": (0xFF, 0x00, 0x00), "significant": (0xFF, 0x8C, 0x00), "general": (0xFF, 0xFF, 0x00),
           "low": (0x00, 0x70, 0xC0)}


@pytest.fixture(scope="module")
def units():
    return load_layer_style("units")


@pytest.fixture(scope="module")
def regions():
    return load_layer_style("regions")


def four_levels(view: TileView) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "level": ["major", "significant", "general", "low"],
        "name": ["甲醇罐区", "装卸站", "仓库", "办公楼"],
    }, geometry=[frac_box(view, 0.05, 0.05, 0.45, 0.45), frac_box(view, 0.55, 0.05, 0.95, 0.45),
                 frac_box(view, 0.05, 0.55, 0.45, 0.95), frac_box(view, 0.55, 0.55, 0.95, 0.95)], crs=3857)


def test_fills_are_the_palette_colours_and_outside_is_transparent(units):
    view = view_at(17)                        # below the units' label zoom: no text over the fills
    px = decode(render_png(four_levels(view), view, units))
    assert px.shape == (256, 256, 4)
    alpha = 255                                   # opaque: no level colour ever blends with another
    for level, (cx, cy) in {"major": (64, 64), "significant": (192, 64), "general": (64, 192),
                            "low": (192, 192)}.items():
        r, g, b, a = (int(v) for v in px[cy, cx])
        er, eg, eb = PALETTE[level]
        assert abs(r - er) <= 1 and abs(g - eg) <= 1 and abs(b - eb) <= 1, (level, (r, g, b))
        assert abs(a - alpha) <= 1
    low = px[192, 192]
    assert low[2] > 150 and low[1] < 130, "low risk is blue, never green"
    assert px[128, 128, 3] == 0 and px[2, 2, 3] == 0 and px[255, 255, 3] == 0


def test_outline_is_drawn_in_the_style_colour(units):
    view = view_at(17)
    px = decode(render_png(four_levels(view), view, units))
    row = px[64, 10:16].astype(int)                          # across the left edge of the major box (x 12.8)
    row = row[row[:, 3] > 0]
    darkest = row[np.argmin(row[:, :3].sum(axis=1))]
    assert darkest[3] > 100 and darkest[:3].max() < 200          # the #404040 outline over the red fill
    assert (px[64, 20:40, 0] >= 254).all()                        # inside: the fill again


def test_at_2x_the_tile_is_512_px_and_agrees_with_1x(units):
    view = view_at(17)
    gdf = four_levels(view)
    one = decode(render_png(gdf, view, units, scale=1)).astype(np.int32)
    two = decode(render_png(gdf, view, units, scale=2)).astype(np.int32)
    assert two.shape == (512, 512, 4)
    shrunk = two.reshape(256, 2, 256, 2, 4).mean(axis=(1, 3))
    interior = np.zeros((256, 256), bool)
    interior[20:100, 20:100] = interior[20:100, 156:236] = interior[156:236, 20:100] = interior[156:236, 156:236] = 1
    assert np.abs(shrunk[interior] - one[interior]).max() <= 2
    assert (np.abs(shrunk - one) > 40).mean() < 0.01           # only antialiased edges differ


def test_a_polygon_across_the_tile_edge_is_drawn_on_both_tiles_without_gap(units):
    left = view_at(17)
    right = tile_view(17, left.x + 1, left.y)
    minx, _, maxx, maxy = left.bounds
    w = maxx - minx
    poly = shapely.box(maxx - 0.3 * w, maxy - 0.7 * w, maxx + 0.3 * w, maxy - 0.3 * w)
    gdf = gpd.GeoDataFrame({"level": ["major"], "name": ["跨界区域"]}, geometry=[poly], crs=3857)
    a, b = decode(render_png(gdf, left, units)), decode(render_png(gdf, right, units))
    rows = slice(90, 170)
    assert (a[rows, 255, 3] >= 225).all() and (b[rows, 0, 3] >= 225).all()
    assert (a[rows, 255, 0] >= 254).all() and (b[rows, 0, 0] >= 254).all()
    # the two tiles side by side are exactly what one 512 px wide view draws
    both = decode(render_layers_png([(gdf, units)], TileView(17, left.x, left.y, nx=2)))
    assert np.array_equal(np.concatenate([a, b], axis=1), both)


def test_labels_appear_from_the_label_zoom_only(units):
    for z, expect in ((units.label.min_zoom, True), (units.label.min_zoom - 1, False)):
        view = view_at(z)
        gdf = gpd.GeoDataFrame({"level": ["low"], "name": ["一号罐区"]},
                               geometry=[frac_box(view, 0.1, 0.3, 0.9, 0.7)], crs=3857)
        px = decode(render_png(gdf, view, units))
        window = px[100:156, 60:196].astype(int)
        dark = (window[..., :3].max(axis=2) < 110) & (window[..., 3] > 200)   # text #1A1A1A, antialiased
        assert dark.any() == expect, z
        if expect:
            assert dark.sum() > 10                          # several glyphs' worth of strokes


def test_labels_can_be_a_layer_of_their_own(units, regions):
    view = view_at(units.label.min_zoom)
    unit = gpd.GeoDataFrame({"level": ["low", "major"], "name": ["一号罐区", "二号泵房"]},
                            geometry=[frac_box(view, 0.1, 0.3, 0.9, 0.7), frac_box(view, 0.1, 0.75, 0.5, 0.95)],
                            crs=3857)
    layers = [(unit, units)]
    full = decode(render_layers_png(layers, view)).astype(int)
    bare = decode(render_layers_png(layers, view, labels=False)).astype(int)
    names = decode(render_labels_png(layers, view)).astype(int)

    def text(px):
        return (px[..., :3].max(axis=2) < 110) & (px[..., 3] > 200)

    assert text(full)[90:166, 40:216].any() and not text(bare)[90:166, 40:216].any()
    assert (names[..., 3] > 0).sum() < (full[..., 3] > 0).sum() / 4        # names only, no fills
    assert text(names).any()
    # names over the bare tile give the combined tile back (up to rounding)
    a = names[..., 3:4] / 255.0
    over = names[..., :3] * a + bare[..., :3] * (1 - a) * (bare[..., 3:4] / 255.0)
    alpha = a + (bare[..., 3:4] / 255.0) * (1 - a)
    shown = alpha[..., 0] > 0.5
    colour = over / np.maximum(alpha, 1e-6)
    assert np.abs(colour[shown] - full[..., :3][shown]).max() <= 3
    assert render_png(unit, view, units, labels=False) == render_layers_png(layers, view, labels=False)


def glyph_mask(name: str, units, z: int) -> np.ndarray:
    view = view_at(z)
    gdf = gpd.GeoDataFrame({"level": ["low"], "name": [name]}, geometry=[frac_box(view, 0.1, 0.3, 0.9, 0.7)],
                           crs=3857)
    px = decode(render_png(gdf, view, units)).astype(int)[90:166, 40:216]     # inside the unit, off its outline
    return (px[..., :3].max(axis=2) < 110) & (px[..., 3] > 200)


def test_chinese_text_is_drawn_with_real_glyphs_not_boxes(units):
    z = units.label.min_zoom
    a, b = glyph_mask("甲", units, z), glyph_mask("乙", units, z)
    assert a.any() and b.any()
    assert (a != b).sum() > 10                        # tofu boxes would look the same for every character
    # a character no font has is left out rather than drawn as a box
    assert not glyph_mask("\ue000\ue001", units, z).any()
    assert np.array_equal(glyph_mask("甲\ue000", units, z), a)


def test_a_missing_font_is_a_clear_error_not_boxes(units, monkeypatch):
    monkeypatch.setenv("RISKMAP_FONT", "/nonexistent/NoSuchFont.ttc")
    fonts.clear_cache()
    png_module._clean_label_cached.cache_clear()
    try:
        view = view_at(units.label.min_zoom)
        gdf = gpd.GeoDataFrame({"level": ["low"], "name": ["甲"]}, geometry=[frac_box(view, 0.1, 0.3, 0.9, 0.7)],
                               crs=3857)
        with pytest.raises(fonts.FontError) as err:
            render_png(gdf, view, units)
        assert "RISKMAP_FONT" in err.value.message and "fonts-noto-cjk" in err.value.message
        # below the label zoom no font is needed
        render_png(gdf, view_at(units.label.min_zoom - 2), units)
    finally:
        monkeypatch.delenv("RISKMAP_FONT")
        fonts.clear_cache()
        png_module._clean_label_cached.cache_clear()


def test_a_font_without_chinese_is_refused(monkeypatch):
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not latin.is_file():
        pytest.skip("no Latin-only font on this machine")
    monkeypatch.setenv("RISKMAP_FONT", str(latin))
    fonts.clear_cache()
    try:
        with pytest.raises(fonts.FontError, match="Chinese"):
            fonts.cjk_typeface()
    finally:
        monkeypatch.delenv("RISKMAP_FONT")
        fonts.clear_cache()


def test_the_default_font_is_noto_sans_cjk_sc():
    source = fonts.font_source()
    assert source.family == "Noto Sans CJK SC" and source.path.is_file()


@pytest.mark.parametrize("name", ["<img src=x onerror=alert(1)>", "甲" * 50_000, "a\u202e\u0000\u200bb\n\tc",
                                  "🔥🧯罐区", "", "   ", None, float("nan"), 12345])
def test_hostile_text_renders_without_error(units, name):
    view = view_at(units.label.min_zoom)
    gdf = gpd.GeoDataFrame({"level": ["major"], "name": [name]}, geometry=[frac_box(view, 0.1, 0.3, 0.9, 0.7)],
                           crs=3857)
    px = decode(render_png(gdf, view, units))
    assert px.shape == (256, 256, 4)


def test_long_labels_are_cut_to_the_style_length(monkeypatch):
    text, width = _clean_label("甲" * 50_000, 11.0, 12)
    assert len(text) == 12 and text.endswith("…") and 0 < width < 12 * 12
    text, _ = _clean_label("a\u202eb\u0000c\nd", 11.0, 12)
    assert text in ("ab c d", "abc d")                  # controls and bidi overrides gone, breaks as spaces
    cached = []
    monkeypatch.setattr(png_module, "_clean_label_cached", lambda raw, *a: cached.append(raw) or ("", 0.0))
    _clean_label("乙" * 50_000, 11.0, 12)
    assert len(cached[0]) == 12 * 4 + 1                 # the label cache never keeps a huge name


def test_an_empty_tile_is_a_cached_transparent_png(units):
    view = view_at(18)
    empty = gpd.GeoDataFrame({"level": [], "name": []}, geometry=[], crs=3857)
    far = gpd.GeoDataFrame({"level": ["major"], "name": ["远处"]},
                           geometry=[frac_box(tile_view(18, view.x + 5, view.y), 0.1, 0.1, 0.9, 0.9)], crs=3857)
    for features in (None, empty, far):
        png = render_png(features, view, units)
        assert png == empty_png(256, 256)
        px = decode(png)
        assert px.shape == (256, 256, 4) and (px[..., 3] == 0).all()
    assert decode(render_png(None, view, units, scale=2)).shape == (512, 512, 4)


def test_hatches_draw_each_levels_pattern_and_join_across_tiles(units):
    left = view_at(17)
    gdf = four_levels(left)
    plain = decode(render_png(gdf, left, units, hatch=False))
    hatched = decode(render_png(gdf, left, units, hatch=True))
    major, general, low = (slice(20, 100), slice(20, 100)), (slice(156, 236), slice(20, 100)), \
        (slice(156, 236), slice(156, 236))
    assert len(np.unique(plain[major].reshape(-1, 4), axis=0)) == 1

    for name, region, low_share, high_share in (("major xx", major, 0.2, 0.6), ("general ..", general, 0.02, 0.2)):
        block = hatched[region]
        fill = plain[region][0, 0, :3].astype(int).sum()
        share = (block[..., :3].astype(int).sum(axis=2) < fill - 60).mean()
        assert low_share < share < high_share, (name, share)
    assert np.array_equal(hatched[low], plain[low])                           # low has no hatch in levels.yaml
    right = tile_view(17, left.x + 1, left.y)
    minx, _, maxx, maxy = left.bounds
    w = maxx - minx
    wide = gpd.GeoDataFrame({"level": ["major"]}, geometry=[shapely.box(maxx - 0.4 * w, maxy - 0.9 * w,
                                                                         maxx + 0.4 * w, maxy - 0.1 * w)], crs=3857)
    a, b = decode(render_png(wide, left, units, hatch=True)), decode(render_png(wide, right, units, hatch=True))
    both = decode(render_layers_png([(wide, units)], TileView(17, left.x, left.y, nx=2), hatch=True))
    assert np.array_equal(np.concatenate([a, b], axis=1), both)


def test_labels_are_never_cut_at_a_tile_edge(units):
    z = units.label.min_zoom
    left = view_at(z)
    right = tile_view(z, left.x + 1, left.y)
    minx, _, maxx, maxy = left.bounds
    w = maxx - minx
    # many labelled units along the shared edge, anchors on both sides of it
    xs = maxx + np.linspace(-0.3, 0.3, 13) * w
    geoms = [shapely.box(x - 0.04 * w, maxy - (0.2 + 0.05 * i) * w, x + 0.04 * w, maxy - (0.16 + 0.05 * i) * w)
             for i, x in enumerate(xs)]
    gdf = gpd.GeoDataFrame({"level": ["general"] * 13, "name": [f"{i}号泵站区域" for i in range(13)]},
                           geometry=geoms, crs=3857)
    a, b = decode(render_png(gdf, left, units)), decode(render_png(gdf, right, units))
    both = decode(render_layers_png([(gdf, units)], TileView(z, left.x, left.y, nx=2)))
    assert np.array_equal(np.concatenate([a, b], axis=1), both)

    def text_columns(px):
        return ((px[..., :3].astype(int).max(axis=2) < 110) & (px[..., 3] > 200)).any(axis=0)

    assert not text_columns(a)[-1] and not text_columns(b)[0]          # no glyph touches the seam
    assert text_columns(a).any() and text_columns(b).any()


def test_colliding_labels_keep_the_more_severe_one(units):
    view = view_at(units.label.min_zoom)
    gdf = gpd.GeoDataFrame({"level": ["low", "major"], "name": ["低风险单元名称", "重大风险单元名称"]},
                           geometry=[frac_box(view, 0.2, 0.40, 0.8, 0.56), frac_box(view, 0.2, 0.44, 0.8, 0.60)],
                           crs=3857)
    from riskmap.render.png import _place_labels, _prepare

    placed = _place_labels(view, [(_prepare(gdf, units), units)])
    assert [p[0] for p in placed] == ["重大风险单元名称"]


def test_subpixel_features_never_vanish_and_the_severe_one_wins(units):
    view = view_at(15)
    centre = frac_point(view, 100.5 / 256, 100.5 / 256)             # the middle of one pixel
    tiny_low = centre.buffer(0.4, cap_style="square")
    tiny_major = shapely.affinity.translate(tiny_low, 0.2, 0.2)
    px = decode(render_png(gpd.GeoDataFrame({"level": ["low", "major"]}, geometry=[tiny_low, tiny_major],
                                            crs=3857), view, units))
    painted = np.argwhere(px[..., 3] > 0)
    assert len(painted) >= 1
    for y, x in painted:
        assert tuple(px[y, x, :3]) == PALETTE["major"]


def test_points_are_circles_of_their_level_colour(units):
    view = view_at(19)
    gdf = gpd.GeoDataFrame({"level": ["significant"]}, geometry=[frac_point(view, 0.5, 0.5)], crs=3857)
    px = decode(render_png(gdf, view, units))
    r, g, b, a = (int(v) for v in px[128, 128])
    assert (r, g, b) == PALETTE["significant"] and a >= 225
    size = units.class_of("significant").point.size_at(19)
    painted = np.argwhere(px[..., 3] > 128)
    span = painted.max(axis=0) - painted.min(axis=0) + 1
    assert abs(span[0] - size) <= 2 and abs(span[1] - size) <= 2
    assert px[128 + int(size), 128, 3] == 0


def test_point_symbols_over_a_tile_edge_join_up(units):
    left = view_at(19)
    right = tile_view(19, left.x + 1, left.y)
    minx, _, maxx, maxy = left.bounds
    w = maxx - minx
    xs = maxx + np.array([-0.012, -0.004, 0.0, 0.003, 0.011]) * w
    gdf = gpd.GeoDataFrame({"level": ["major", "low", "general", "significant", "major"]},
                           geometry=[shapely.Point(x, maxy - (0.2 + 0.15 * i) * w) for i, x in enumerate(xs)],
                           crs=3857)
    a, b = decode(render_png(gdf, left, units)), decode(render_png(gdf, right, units))
    both = decode(render_layers_png([(gdf, units)], TileView(19, left.x, left.y, nx=2)))
    assert np.array_equal(np.concatenate([a, b], axis=1), both)
    assert (a[:, -1, 3] > 0).any() and (b[:, 0, 3] > 0).any()


def test_lines_are_stroked_in_their_level_colour(units):
    view = view_at(18)
    minx, miny, maxx, maxy = view.bounds
    y = (miny + maxy) / 2
    gdf = gpd.GeoDataFrame({"level": ["general"]}, geometry=[shapely.LineString([(minx - 10, y), (maxx + 10, y)])],
                           crs=3857)
    px = decode(render_png(gdf, view, units))
    assert tuple(px[128, 10, :3]) == PALETTE["general"] and tuple(px[128, 250, :3]) == PALETTE["general"]
    assert px[100, 128, 3] == 0


def test_rings_collections_and_multipolygons_draw(units):
    view = view_at(17)
    ring = frac_box(view, 0.1, 0.1, 0.3, 0.3).exterior
    mixed = shapely.GeometryCollection([frac_box(view, 0.5, 0.5, 0.9, 0.9), frac_point(view, 0.05, 0.95)])
    multi = shapely.MultiPolygon([frac_box(view, 0.5, 0.1, 0.6, 0.2), frac_box(view, 0.7, 0.1, 0.8, 0.2)])
    gdf = gpd.GeoDataFrame({"level": ["general", "major", "low"]}, geometry=[ring, mixed, multi], crs=3857)
    px = decode(render_png(gdf, view, units))
    assert tuple(px[int(0.1 * 256), 40, :3]) == PALETTE["general"]          # the ring as a line
    assert px[int(0.2 * 256), int(0.2 * 256), 3] == 0                         # a ring is not an area
    assert tuple(px[180, 180, :3]) == PALETTE["major"]
    assert tuple(px[int(0.95 * 256), int(0.05 * 256), :3]) == PALETTE["major"]
    assert tuple(px[38, 141, :3]) == PALETTE["low"] and tuple(px[38, 192, :3]) == PALETTE["low"]
    assert px[38, 166, 3] == 0


def test_polygon_holes_stay_empty_and_overlaps_stay_filled(units):
    view = view_at(17)
    outer = frac_box(view, 0.1, 0.1, 0.9, 0.9)
    with_hole = outer.difference(frac_box(view, 0.4, 0.4, 0.6, 0.6))
    overlap = frac_box(view, 0.05, 0.05, 0.3, 0.3)
    gdf = gpd.GeoDataFrame({"level": ["major", "major"]}, geometry=[with_hole, shapely.Polygon(
        list(overlap.exterior.coords)[::-1])], crs=3857)
    px = decode(render_png(gdf, view, units))
    assert px[128, 128, 3] == 0                          # inside the hole
    assert px[50, 50, 3] > 200 and px[20, 20, 3] > 200   # overlap and the reversed ring both filled
    assert abs(int(px[50, 50, 3]) - int(px[200, 200, 3])) <= 1   # one class blends once, even where overlapping


def test_layout_roles_are_neutral_greys(units):
    layout = load_layer_style("layout")
    view = view_at(17)
    gdf = gpd.GeoDataFrame({"role": ["building", "mystery"], "name": ["厂房", "?"]},
                           geometry=[frac_box(view, 0.1, 0.1, 0.4, 0.4), frac_box(view, 0.6, 0.6, 0.9, 0.9)],
                           crs=3857)
    px = decode(render_png(gdf, view, layout))
    # linework only, drawn over the risk colours: no fill ever hides a colour
    assert px[64, 64, 3] == 0 and px[192, 192, 3] == 0
    drawn = px[px[..., 3] > 0].astype(int)
    assert len(drawn) > 400                                          # both outlines
    assert (drawn[:, 0] == drawn[:, 1]).all() and (drawn[:, 1] == drawn[:, 2]).all()


def test_layers_stack_in_order(units, regions):
    view = view_at(17)
    region = gpd.GeoDataFrame({"level": ["low"], "name": ["一区"]},
                              geometry=[frac_box(view, 0.0, 0.0, 1.0, 1.0)], crs=3857)
    unit = gpd.GeoDataFrame({"level": ["major"], "name": ["罐"]}, geometry=[frac_box(view, 0.6, 0.6, 0.8, 0.8)],
                            crs=3857)
    px = render_rgba([(region, regions), (unit, units)], view)
    assert px[179, 179, 0] >= 230 and px[179, 179, 2] < 60           # red unit over the blue region
    assert px[20, 20, 2] > px[20, 20, 0]                               # the region's blue elsewhere


def test_plain_arrays_and_other_geometry_names(units):
    view = view_at(17)
    gdf = four_levels(view)
    expected = render_png(gdf, view, units)
    assert render_png(gdf.rename_geometry("geom"), view, units) == expected
    arrays = {"geometry": gdf.geometry.to_numpy(), "level": gdf["level"].to_numpy(), "name": gdf["name"].to_numpy()}
    assert render_png(arrays, view, units) == expected


def test_features_in_lon_lat_are_projected(units):
    view = view_at(17)
    gdf = four_levels(view).to_crs(4326)
    px = decode(render_png(gdf, view, units))
    assert tuple(px[64, 64, :3]) == PALETTE["major"]


def test_bad_tiles_and_scales_are_user_errors(units):
    with pytest.raises(NotFoundError):
        render_png(None, (25, 0, 0), units)
    with pytest.raises(NotFoundError):
        render_png(None, (3, 8, 0), units)
    with pytest.raises(InputError):
        render_png(None, (3, 1, 1), units, scale=0)
    with pytest.raises(InputError):
        render_png(None, (3, 1, 1), units, scale=True)


def test_a_layer_outside_its_zoom_range_draws_nothing(units):
    view = view_at(units.min_zoom - 1)
    gdf = gpd.GeoDataFrame({"level": ["major"]}, geometry=[frac_box(view, 0.1, 0.1, 0.9, 0.9)], crs=3857)
    assert render_png(gdf, view, units) == empty_png(256, 256)
