"""The poster as a plant posts it (issue 17): the orientation that fits the plan, the sign-off block and the
emergency phones, Beijing time, the meridian convergence only where a surveyor needs it, the atlas in a useful
order with a contents page, legend symbols drawn as the map draws them, and "print this view" honouring the
layers and the view. Every print is read back with poppler (pdftotext, pdffonts, pdfinfo) or rasterized."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from printkit import REPO, assert_fonts_embedded, demo_url, pdf_pages, pdf_words, pdftotext, run_cli
from pyproj import CRS, Proj

from riskmap.api.app import create_app
from riskmap.errors import InputError
from riskmap.levels import Level
from riskmap.print import output
from riskmap.print.mapview import NICE_STEPS, map_data
from riskmap.print.poster import PRINT_LAYERS, PosterOptions, SignOff, poster, poster_pages, sign_offs
from riskmap.render.style import load_layer_style
from riskmap.settings import Settings


def _pages_text(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page (pdftotext separates pages by form feeds)."""
    return pdftotext(pdf, tmp_path).split("\f")


def _page_size(pdf: bytes, tmp_path: Path) -> tuple[float, float]:
    path = tmp_path / f"s{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    w, h = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", out).groups()
    return float(w), float(h)


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])


def _has_colour(pixels: np.ndarray, colour: str, tolerance: int = 12, at_least: int = 3) -> bool:
    return int((np.abs(pixels.reshape(-1, 3).astype(int) - _rgb(colour)).max(axis=1) <= tolerance).sum()) >= at_least


def _crop(raster: np.ndarray, rect, dpi: float) -> np.ndarray:
    x0, y0, x1, y1 = (int(round(v * dpi / 72)) for v in rect)
    return raster[y0:y1, x0:x1]


# ------------------------------------------------------------------------------------------ orientation


@pytest.mark.parametrize("region", [None, "停车场", "维修区", "罐区"])
def test_the_orientation_is_the_one_that_shows_the_plan_largest(plant, region):
    options = PosterOptions(paper="A3", region=region)
    auto = poster_pages(plant, options)[0].meta
    portrait = poster_pages(plant, dataclasses.replace(options, landscape=False))[0].meta
    landscape = poster_pages(plant, dataclasses.replace(options, landscape=True))[0].meta
    assert not portrait["landscape"] and landscape["landscape"]                # forced ones are honoured
    best = landscape if landscape["fit"] > portrait["fit"] * 1.02 else portrait
    assert auto["landscape"] == best["landscape"]
    assert auto["view"].denominator == min(portrait["view"].denominator, landscape["view"].denominator)


def test_the_demo_plant_is_landscape_and_a_tall_region_portrait(plant):
    assert poster_pages(plant, PosterOptions(paper="A3"))[0].meta["landscape"]          # 650 m × 480 m
    parking = poster_pages(plant, PosterOptions(paper="A3", region="停车场"))[0].meta
    assert not parking["landscape"]
    assert parking["fit"] > poster_pages(plant, PosterOptions(paper="A3", region="停车场", landscape=True))[0] \
        .meta["fit"] * 1.05


def test_a_given_scale_takes_the_orientation_it_fits(plant):
    portrait = poster_pages(plant, PosterOptions(paper="A3", landscape=False))[0].meta["fit"]
    landscape = poster_pages(plant, PosterOptions(paper="A3", landscape=True))[0].meta["fit"]
    # a scale at which the whole plan fits landscape (fit: pt per metre with a 3 % margin) but not portrait
    denominator = math.ceil(72 / 0.0254 / (landscape * 1.06))
    assert 72 / 0.0254 / denominator > portrait * 1.06 * 1.001
    page = poster_pages(plant, PosterOptions(paper="A3", scale=denominator))[0]
    assert page.meta["landscape"] and page.meta["view"].denominator == denominator
    with pytest.raises(InputError):
        poster_pages(plant, PosterOptions(paper="A3", scale=denominator, landscape=False))


def test_cli_and_http_choose_the_orientation_unless_told(tmp_path_factory, tmp_path):
    url = demo_url(tmp_path_factory)
    sizes = {}
    for flag in ("", "--portrait"):
        out = tmp_path / f"plan{flag}.pdf"
        proc = run_cli("poster", out, "--db", url, "--paper", "A4", *([flag] if flag else []))
        assert proc.returncode == 0, proc.stderr
        sizes[flag] = tuple(round(v) for v in _page_size(out.read_bytes(), tmp_path))
    assert sizes == {"": (842, 595), "--portrait": (595, 842)}
    with TestClient(create_app(Settings(db=url))) as client:
        for params, want in (({}, (842, 595)), ({"landscape": "false"}, (595, 842)),
                             ({"landscape": "true"}, (842, 595))):
            resp = client.get("/print/poster.pdf", params={"paper": "A4", **params})
            assert resp.status_code == 200, resp.text
            assert tuple(round(v) for v in _page_size(resp.content, tmp_path)) == want, params


# ------------------------------------------------------------------------------------------ sign-offs, phones


def _same_row(words, left: str, right: str) -> bool:
    """Whether the word `right` follows the word `left` on the same line."""
    for _, _, x1, y1, w in words:
        if w != left:
            continue
        for a0, _, _, b1, v in words:
            if v == right and abs(b1 - y1) < 2 and a0 > x1:
                return True
    return False


def test_sign_off_block_names_and_dates_from_the_settings(tmp_path_factory, tmp_path, monkeypatch):
    url = demo_url(tmp_path_factory)
    for key, value in (("PREPARED_BY", "张安全"), ("PREPARED_ON", "2026-12-01"), ("REVIEWED_BY", "李审核"),
                       ("REVIEWED_ON", "2026-12-02"), ("APPROVED_BY", "王厂长"), ("APPROVED_ON", "2026-12-03")):
        monkeypatch.setenv(f"RISKMAP_{key}", value)
    out = tmp_path / "signed.pdf"
    proc = run_cli("poster", out, "--db", url, "--paper", "A3")
    assert proc.returncode == 0, proc.stderr
    pdf = out.read_bytes()
    words = pdf_words(pdf, tmp_path, 1)
    for role, name in (("编制", "张安全"), ("审核", "李审核"), ("批准", "王厂长")):
        assert _same_row(words, role, name), (role, name)
    dates = [w for *_, w in words]
    for day in ("2026-12-01", "2026-12-02", "2026-12-03"):
        assert day in dates
        assert _same_row(words, "日期", day)
    assert_fonts_embedded(pdf, tmp_path)
    # over HTTP, from the service's settings
    monkeypatch.delenv("RISKMAP_APPROVED_BY")
    with TestClient(create_app(Settings(db=url))) as client:
        text = pdftotext(client.get("/print/poster.pdf", params={"paper": "A4"}).content, tmp_path)
    assert "张安全" in text and "李审核" in text and "王厂长" not in text and "批准" in text


def test_unset_sign_offs_are_blanks_to_sign_by_hand(plant, tmp_path):
    pdf = poster(plant, "pdf", PosterOptions(paper="A3"))
    words = pdf_words(pdf, tmp_path, 1)
    texts = [w for *_, w in words]
    for role in ("编制", "审核", "批准"):
        assert texts.count(role) == 1, role
    assert texts.count("日期") == 3 and texts.count("年") >= 3 and texts.count("月") >= 3
    assert sign_offs(Settings()) == tuple(SignOff(r) for r in ("编制", "审核", "批准"))
    assert sign_offs(Settings(prepared_by="张工", prepared_on=date(2026, 12, 1)))[0] == \
        SignOff("编制", "张工", date(2026, 12, 1))


def test_a_bad_sign_off_date_is_a_one_line_error(tmp_path_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("RISKMAP_PREPARED_ON", "2026-13-01")
    proc = run_cli("poster", tmp_path / "x.pdf", "--db", demo_url(tmp_path_factory))
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "RISKMAP_PREPARED_ON" in lines[0] and "应为日期" in lines[0], proc.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_the_poster_carries_the_emergency_phones(plant, tmp_path):
    text = pdftotext(poster(plant, "pdf", PosterOptions(paper="A3")), tmp_path)
    assert "应急电话" in text and plant.enterprise.emergency_phone in text
    assert "火警 119" in text and "急救 120" in text
    nophone = dataclasses.replace(plant, enterprise=dataclasses.replace(plant.enterprise, emergency_phone=None))
    text = pdftotext(poster(nophone, "pdf", PosterOptions(paper="A3")), tmp_path)
    assert "企业应急电话未登记" in text and "火警 119" in text


# ------------------------------------------------------------------------------------------ Beijing time


def test_print_times_are_beijing_time(plant, tmp_path):
    late = datetime(2026, 12, 6, 17, 30, 5, tzinfo=UTC)            # 01:30 the next day in Beijing
    text = pdftotext(poster(plant, "pdf", PosterOptions(paper="A3"), now=late), tmp_path)
    assert "2026-12-07 01:30:05 +08:00 北京时间" in text
    assert "2026-12-07（北京时间）" in text                           # the title block's print date
    assert "+0000" not in text and "2026-12-06 17:30" not in text


def test_every_print_stamps_beijing_time_whatever_the_machines_zone(tmp_path_factory, tmp_path):
    url = demo_url(tmp_path_factory)
    env = {**os.environ, "TZ": "UTC"}
    for command in (("poster", tmp_path / "p.pdf"), ("board", tmp_path / "b.pdf", "--scope", "factory"),
                    ("cards", tmp_path / "c.pdf", "--unit", "CY-01-03")):
        proc = subprocess.run([sys.executable, "-m", "riskmap.cli", *map(str, command), "--db", url],
                              capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
        assert proc.returncode == 0, proc.stderr
        text = pdftotext(Path(command[1]).read_bytes(), tmp_path)
        stamp = re.search(r"生成时间 generated (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+) (\S+)", text.replace("\n", " "))
        assert stamp and stamp.group(2) == "+08:00" and stamp.group(3) == "北京时间", (command[0], text[-300:])
        made = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")
        beijing_now = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=8)
        assert abs((beijing_now - made).total_seconds()) < 600, (command[0], made, beijing_now)
        assert "+0000" not in text


# ------------------------------------------------------------------------------------------ convergence


def test_the_convergence_is_stated_only_where_a_surveyor_needs_it(bench, plant, tmp_path):
    # the demo: a plan in a local transverse Mercator on the plant (grid north is true north)
    text = pdftotext(poster(plant, "pdf", PosterOptions(paper="A4")), tmp_path)
    assert "收敛角" not in text and "磁偏角" not in text
    # CGCS2000 3° Gauss-Krüger zone 40 (CM 120°E) at 118.8°E: grid north 0.6° west of true north
    synthetic = bench.synthetic_plant(300, 4, 2)
    gk = dataclasses.replace(synthetic, layout_info={**synthetic.layout_info, "crs": "EPSG:4549"})
    text = pdftotext(poster(gk, "pdf", PosterOptions(paper="A4")), tmp_path).replace("\n", "")
    gamma = Proj(CRS.from_epsg(4549)).get_factors(*bench.CENTRE).meridian_convergence
    assert abs(gamma) > 0.5
    side = "东" if gamma > 0 else "西"
    assert f"子午线收敛角 {abs(gamma):.2f}°（坐标北在真北以{side}）" in text, text[-600:]
    assert f"子午线收敛角 {gamma:+.2f}°" in text                               # under the north arrow
    # a Gauss-Krüger projection whose central meridian runs through the plant: under a tenth of a degree
    lon, lat = bench.CENTRE
    near = dataclasses.replace(synthetic, layout_info={
        **synthetic.layout_info, "crs": f"+proj=tmerc +lat_0=0 +lon_0={lon + 0.05} +k=1 +x_0=500000 +y_0=0 "
                                        "+ellps=GRS80 +units=m +no_defs"})
    assert abs(Proj(CRS.from_user_input(near.layout_info["crs"])).get_factors(lon, lat).meridian_convergence) < 0.1
    assert "收敛角" not in pdftotext(poster(near, "pdf", PosterOptions(paper="A4")), tmp_path)
    # a drawing that is not georeferenced: grid north, and no angle
    loose = dataclasses.replace(gk, layout_info={**gk.layout_info, "georeferenced": False})
    text = pdftotext(poster(loose, "pdf", PosterOptions(paper="A4")), tmp_path)
    assert "收敛角" not in text and "坐标北" in text


# ------------------------------------------------------------------------------------------ the atlas


@pytest.fixture(scope="module")
def atlas(plant):
    pages = poster_pages(plant, PosterOptions(paper="A4", atlas=True))
    return pages, output.pdf_bytes(pages)


def test_the_atlas_is_contents_plan_then_regions_by_level_and_name(plant, atlas, tmp_path):
    pages, pdf = atlas
    assert pdf_pages(pdf, tmp_path) == len(pages) == 2 + len(plant.regions)
    kinds = [p.meta["kind"] for p in pages]
    assert kinds == ["contents", "plan"] + ["region"] * len(plant.regions)
    names = {r.id: r.name for r in plant.regions}
    levels = {r.region_id: r.level for r in plant.region_risk()}
    order = [p.meta["region"] for p in pages[2:]]
    assert sorted(order) == sorted(names)                                      # every region once
    ranks = [levels[rid].rank for rid in order]
    assert ranks == sorted(ranks, reverse=True)                                # major first
    # by name in pinyin within a level: 罐区 (guàn), 合成装置区 (hé), 精馏装置区 (jīng), 行政办公区 (xíng)
    assert [names[rid] for rid in order if levels[rid] is Level.MAJOR] == ["罐区", "合成装置区", "精馏装置区",
                                                                          "行政办公区"]
    assert [names[rid] for rid in order if levels[rid] is Level.SIGNIFICANT][:3] == ["变配电区", "锅炉房区", "火炬区"]
    assert_fonts_embedded(pdf, tmp_path)


def test_the_contents_page_numbers_are_the_pages_the_maps_are_on(plant, atlas, tmp_path):
    pages, pdf = atlas
    texts = _pages_text(pdf, tmp_path)
    words = pdf_words(pdf, tmp_path, 1)
    assert "目录" in texts[0] and f"共 {len(pages)} 页" in texts[0]
    found = 0
    for region in plant.regions:
        row = [w for w in words if w[4] == region.name]
        assert len(row) == 1, region.name
        same_line = [w for w in words if abs(w[3] - row[0][3]) < 1.5 and w[0] > row[0][2]]
        number = int(max(same_line, key=lambda w: w[0])[4])                 # the rightmost word on its line
        page_text = texts[number - 1].replace("\n", "")
        assert f"{region.name}安全风险四色分布图（车间图）" in page_text, (region.name, number)
        assert f"第 {number} / {len(pages)} 页" in page_text and f"{number}/{len(pages)}" in page_text
        found += 1
    plan_row = next(w for w in words if w[4].startswith("总平面图"))
    plan_number = int(max((w for w in words if abs(w[3] - plan_row[3]) < 1.5 and w[0] > plan_row[2]),
                          key=lambda w: w[0])[4])
    assert plan_number == 2 and "（总平面图）" in texts[1]
    assert found == len(plant.regions)
    assert pages[0].meta["entries"][0] == ("总平面图（全厂）", 2)


def test_a_long_contents_runs_over_pages_and_still_points_right(bench, tmp_path):
    plant = bench.synthetic_plant(300, 80, 5)
    pages = poster_pages(plant, PosterOptions(paper="A4", atlas=True))
    contents = [p for p in pages if p.meta["kind"] == "contents"]
    assert len(contents) == 2 and all(p.meta["kind"] != "contents" for p in pages[2:])
    listed = [e for p in contents for e in p.meta["entries"]]
    names = {r.id: r.name for r in plant.regions}
    assert len(listed) == 1 + len(plant.regions)
    for title, number in listed:
        page = pages[number - 1]
        assert (page.meta["kind"] == "plan") if title.startswith("总平面图") else names[page.meta["region"]] == title
    text = pdftotext(output.pdf_bytes(contents), tmp_path)
    assert "（续）" in text                                     # a level's list goes on in the next column


# ------------------------------------------------------------------------------------------ legend


def test_the_legend_draws_the_plans_linework_as_the_map_draws_it(plant, tmp_path):
    page = poster_pages(plant, PosterOptions(paper="A3"))[0]
    symbols = dict(page.meta["legend_symbols"])
    assert {"building", "road", "fence", "equipment"} <= set(symbols)
    text = pdftotext(poster(plant, "pdf", PosterOptions(paper="A3")), tmp_path)
    for word in ("总平面布置", "建筑", "道路", "围墙", "设备设施"):
        assert word in text, word
    dpi = 300
    raster = output.rasterize(page, dpi)
    layout = load_layer_style("layout")
    for role, rect in symbols.items():
        pixels = _crop(raster, rect, dpi)
        cls = layout.class_of(role)
        stroke = cls.outline if role != "road" else cls.casing          # the demo's roads are lines
        assert _has_colour(pixels, stroke.colour, tolerance=20), role
        assert not _has_colour(pixels, "#FF0000", tolerance=60, at_least=1), role      # no level colour
    road = _crop(raster, symbols["road"], dpi)
    assert _has_colour(road, "#FFFFFF", tolerance=2, at_least=20)         # the white carriageway inside its casing
    # the fence is dashed: along its top edge, ink and gaps alternate
    dark = _crop(raster, symbols["fence"], dpi).astype(int).sum(axis=2) < 600
    edge = dark[int(np.argmax(dark.sum(axis=1)))]                         # the most inked row: an edge
    ink = np.flatnonzero(edge)
    assert len(np.flatnonzero(np.diff(edge[ink[0]:ink[-1] + 1].astype(int)))) >= 4


def test_each_level_swatch_is_the_colour_its_layer_draws(plant):
    page = poster_pages(plant, PosterOptions(paper="A3", region="罐区"))[0]      # regions and units shown
    dpi = 200
    raster = output.rasterize(page, dpi)
    swatches = page.meta["legend_swatches"]
    assert {layer for _, layer, _ in swatches} == {"regions", "units"}
    for key, layer, rect in swatches:
        x0, y0, x1, y1 = rect
        inner = _crop(raster, (x0 + 3, y0 + 3, x1 - 3, y1 - 3), dpi).reshape(-1, 3)
        want = _rgb(load_layer_style(layer).class_of(key or "none").fill)
        assert np.abs(np.median(inner, axis=0) - want).max() <= 3, (key, layer)


# ------------------------------------------------------------------------------------------ print this view


def _lonlat_box(plant, names: list[str]) -> str:
    boxes = [r.geometry.bounds for r in plant.regions if r.name in names]
    return ",".join(f"{v:.7f}" for v in (min(b[0] for b in boxes), min(b[1] for b in boxes),
                                         max(b[2] for b in boxes), max(b[3] for b in boxes)))


def test_print_this_view_draws_the_layers_shown_on_screen(plant, tmp_path):
    bbox = _lonlat_box(plant, ["罐区"])
    with_units = poster_pages(plant, PosterOptions(paper="A4", bbox=bbox, layers="regions,units,layout,labels"))[0]
    without = poster_pages(plant, PosterOptions(paper="A4", bbox=bbox, layers="regions,layout,labels"))[0]
    assert with_units.meta["view"].extent == without.meta["view"].extent
    assert without.meta["layers"] == ["labels", "layout", "regions"]
    # inside the tank farm's units: the units' own colour when shown, the region's tint when not
    data = map_data(plant)
    regions, units = load_layer_style("regions"), load_layer_style("units")
    view = with_units.meta["view"]
    box = shapely.box(*view.extent)
    # away from every drawn edge: layout linework, unit outlines, region outlines (the level's full colour)
    edges = [shapely.boundary(np.asarray(frame.geometry.values, dtype=object))
             for frame in (data.layout, data.units, data.regions)]
    layout_lines = shapely.union_all(shapely.buffer(np.concatenate(edges), 2.0))
    dpi = 100
    a, b = output.rasterize(with_units, dpi), output.rasterize(without, dpi)
    covered = [shapely.box(*lb) for lb in with_units.meta["label_boxes"] + without.meta["label_boxes"] +
               [with_units.meta["north_box"], with_units.meta["scale_box"]]]        # names, north arrow, scale
    checked = 0
    for geom, level in zip(data.units.geometry.values, data.units["level"], strict=True):
        if level is None or not shapely.intersects(geom, box) or shapely.area(geom) < 60:
            continue
        free = shapely.difference(shapely.intersection(shapely.buffer(geom, -1.5), box), layout_lines)
        if free.is_empty:
            continue
        minx, miny, maxx, maxy = free.bounds
        candidates = [shapely.point_on_surface(free)] + [
            shapely.Point(minx + fx * (maxx - minx), miny + fy * (maxy - miny))
            for fx in (0.2, 0.5, 0.8) for fy in (0.2, 0.5, 0.8)]
        for p in candidates:
            x, y = view.to_pt(np.array([[p.x, p.y]]))[0]
            if not free.contains(p) or any(c.buffer(3).contains(shapely.Point(x, y)) for c in covered):
                continue
            px, py = int(x * dpi / 72), int(y * dpi / 72)
            shown = np.median(a[py - 1:py + 2, px - 1:px + 2].reshape(-1, 3), axis=0)
            hidden = np.median(b[py - 1:py + 2, px - 1:px + 2].reshape(-1, 3), axis=0)
            # a place shows the highest level of the units drawn there; without units, its region's tint
            here = [v for g, v in zip(data.units.geometry.values, data.units["level"], strict=True)
                    if v is not None and shapely.contains(g, p)]
            top = max(here, key=units.rank_of)
            assert np.abs(shown - _rgb(units.class_of(top).fill)).max() <= 8
            region_here = data.regions[shapely.contains(np.asarray(data.regions.geometry.values, dtype=object), p)]
            if len(region_here):
                want = regions.class_of(region_here["level"].iloc[0] or "none").fill
                assert np.abs(hidden - _rgb(want)).max() <= 8
                checked += 1
    assert checked >= 5, checked
    # no labels layer: no names on the page at all
    text = pdftotext(poster(plant, "pdf", PosterOptions(paper="A4", bbox=bbox, layers="regions,units")), tmp_path)
    assert "罐区" not in text and "局部视图" in text


def test_print_this_view_shows_the_view_at_a_round_scale_chosen_for_the_paper(plant):
    bbox = _lonlat_box(plant, ["罐区", "中间罐区"])
    for name in ("A4", "A3", "A1"):
        page = poster_pages(plant, PosterOptions(paper=name, bbox=bbox, layers="regions,layout,labels"))[0]
        view = page.meta["view"]
        data = map_data(plant)
        w, s, e, n = (float(v) for v in bbox.split(","))
        x, y = data.to_plan(np.array([w, e, w, e]), np.array([s, s, n, n]))
        plan = (min(x), min(y), max(x), max(y))
        ex = view.extent
        assert ex[0] <= plan[0] and ex[1] <= plan[1] and ex[2] >= plan[2] and ex[3] >= plan[3]   # all of it
        d = view.denominator
        mantissa = d / 10 ** math.floor(math.log10(d))
        assert any(abs(mantissa - step) < 1e-9 for step in (*NICE_STEPS, 10)), d
        # the next rounder, larger scale would not fit: the view is as large as the paper allows
        fill = max((plan[2] - plan[0]) / (ex[2] - ex[0]), (plan[3] - plan[1]) / (ex[3] - ex[1]))
        assert fill > 0.6, (name, fill)
    big = poster_pages(plant, PosterOptions(paper="A1", bbox=bbox))[0].meta["view"].denominator
    small = poster_pages(plant, PosterOptions(paper="A4", bbox=bbox))[0].meta["view"].denominator
    assert big < small


def _boxes_apart(boxes) -> bool:
    shapes = [shapely.box(*b) for b in boxes]
    return all(a.intersection(b).area < 0.01 for i, a in enumerate(shapes) for b in shapes[i + 1:])


@pytest.mark.parametrize("names", [["合成装置区"], ["罐区", "中间罐区", "精馏装置区"], ["锅炉房区", "变配电区"]])
def test_labels_on_a_printed_view_never_cross(plant, names):
    bbox = _lonlat_box(plant, names)
    page = poster_pages(plant, PosterOptions(paper="A4", bbox=bbox, layers="regions,units,layout,labels"))[0]
    boxes = page.meta["label_boxes"]
    assert len(boxes) >= 5
    assert _boxes_apart(boxes)
    left, top, right, bottom = page.meta["frame"]
    for b in boxes:
        assert left <= b[0] and b[2] <= right and top <= b[1] and b[3] <= bottom
        for furniture in (page.meta["north_box"], page.meta["scale_box"]):
            assert not shapely.box(*furniture).intersects(shapely.box(*b))
    for ax, ay, x, y in page.meta["leaders"]:
        segment = shapely.LineString([(ax, ay), (x, y)])
        crossed = [b for b in boxes if segment.crosses(shapely.box(*b)) and not shapely.box(*b).contains(
            shapely.Point(x, y))]
        assert not crossed


def test_layers_are_checked_before_any_work(plant):
    assert PRINT_LAYERS == ("regions", "units", "layout", "labels", "hazards")
    for bad in ("regions,basemap", "staleness", "labels", "hazards", "labels,hazards", "", "regions,units;drop"):
        with pytest.raises(InputError) as err:
            poster(plant, "pdf", PosterOptions(bbox=_lonlat_box(plant, ["罐区"]), layers=bad))
        assert " / " in err.value.message and re.search(r"[\u4e00-\u9fff]", err.value.message)
    with pytest.raises(InputError):
        PosterOptions(layers="regions", units=True).check()
    options = PosterOptions(layers=" Units ,regions，labels")
    options.check()
    assert options.layers == ("regions", "units", "labels")


def test_print_this_view_over_http_and_the_cli(tmp_path_factory, tmp_path):
    from riskmap.plant import load_plant
    from riskmap.store import open_store

    url = demo_url(tmp_path_factory)
    plant = load_plant(open_store(url), None)
    bbox = _lonlat_box(plant, ["罐区"])
    with TestClient(create_app(Settings(db=url))) as client:
        resp = client.get("/print/poster.pdf", params={"bbox": bbox, "layers": "regions,layout",
                                                       "enterprise": plant.enterprise.name})
        assert resp.status_code == 200, resp.text
        text = pdftotext(resp.content, tmp_path)
        assert "局部视图" in text and "罐区" not in text                  # labels were off on screen
        named = client.get("/print/poster.pdf", params={"bbox": bbox, "layers": "regions,layout,labels"})
        assert "罐区" in pdftotext(named.content, tmp_path)
        for bad in ("regions,nope", "labels"):
            resp = client.get("/print/poster.pdf", params={"bbox": bbox, "layers": bad})
            assert resp.status_code == 422 and re.search(r"[\u4e00-\u9fff]", resp.json()["detail"]), resp.text
    out = tmp_path / "view.pdf"
    proc = run_cli("poster", out, "--db", url, "--bbox", bbox, "--layers", "regions,units,labels")
    assert proc.returncode == 0, proc.stderr
    assert "罐区" in pdftotext(out.read_bytes(), tmp_path)
    bad = run_cli("poster", tmp_path / "x.pdf", "--db", url, "--layers", "basemap")
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert bad.returncode == 1 and len(lines) == 1 and "basemap" in lines[0], bad.stderr


def test_the_web_maps_print_link_passes_what_is_printable():
    """map.js knows the printable layers by name: the same list as the poster's."""
    script = (REPO / "riskmap" / "static" / "map.js").read_text(encoding="utf-8")
    listed = re.search(r"var PRINTABLE = \[([^\]]*)\]", script).group(1)
    assert tuple(re.findall(r'"(\w+)"', listed)) == PRINT_LAYERS
    assert "layers: this.shownLayers().join(\",\")" in script
