"""The poster: text found by pdftotext, fonts by pdffonts, colours and scale measured on the rendered page."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image
from printkit import HOSTILE, REPO, assert_fonts_embedded, demo_url, pdf_pages, pdffonts, pdftotext, run_cli  # noqa: F401
from pyproj import CRS, Proj

from riskmap.errors import InputError, NotFoundError
from riskmap.levels import LEVELS_HIGH_TO_LOW, Level, load_palette
from riskmap.print import fonts, output
from riskmap.print.mapview import map_data
from riskmap.print.poster import PosterOptions, poster, poster_pages, write_poster
from riskmap.render.fonts import FontError
from riskmap.render.style import load_layer_style

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdffonts"),
                                reason="poppler-utils (pdftotext, pdffonts) are needed")


@pytest.fixture(scope="module")
def a3_pdf(plant):
    return poster(plant, "pdf", PosterOptions(paper="A3"))


# ------------------------------------------------------------------------------------------ text and fonts


def test_total_plan_text_title_enterprise_legend_and_every_region(plant, a3_pdf, tmp_path):
    text = pdftotext(a3_pdf, tmp_path)
    assert "安全风险四色分布图" in text
    assert plant.enterprise.name in text
    for level in LEVELS_HIGH_TO_LOW:
        assert level.zh in text
    for colour in ("（红）", "（橙）", "（黄）", "（蓝）"):
        assert colour in text
    names = [r.name for r in plant.regions]
    assert len(names) == 29
    for name in names:
        assert name in text, name
    counts = {lv: 0 for lv in LEVELS_HIGH_TO_LOW}
    for risk in plant.region_risk():
        counts[risk.level] += 1
    for n in counts.values():
        assert f"{n} 个区域" in text
    # title block and footer
    for word in ("布局版本", "评估日期", "打印日期", "评价准则", "比例尺", "数据版本", "生成时间"):
        assert word in text, word
    newest = max(u.last_assessed for u in plant.units if u.last_assessed)
    assert newest.isoformat() in text


def test_fonts_are_embedded_subset_and_never_type3(a3_pdf, tmp_path):
    assert_fonts_embedded(a3_pdf, tmp_path)


def test_region_labels_do_not_overlap(plant):
    page = poster_pages(plant, PosterOptions(paper="A4"))[0]
    boxes = [shapely.box(*b) for b in page.meta["label_boxes"]]
    assert len(boxes) >= 29
    overlaps = sum(1 for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.intersection(b).area > 0.5)
    assert overlaps == 0
    left, top, right, bottom = page.meta["frame"]
    for b in page.meta["label_boxes"]:
        assert left <= b[0] and b[2] <= right and top <= b[1] and b[3] <= bottom
    for furniture in (page.meta["north_box"], page.meta["scale_box"]):
        assert all(not shapely.box(*furniture).intersects(b) for b in boxes)


# ------------------------------------------------------------------------------------------ colours


def _sample_points(plant, page, dpi: float):
    """A pixel inside each region that no layout feature, unit or label covers: (region, level, x, y)."""
    data = map_data(plant)
    view = page.meta["view"]
    geoms = np.asarray(data.layout.geometry.values, dtype=object).copy()
    unfilled = (data.layout["role"] == "fence").to_numpy()           # drawn as an outline only
    geoms[unfilled] = shapely.boundary(geoms[unfilled])
    covered = shapely.union_all(shapely.buffer(geoms, 9.0))
    labels = [shapely.box(*b) for b in page.meta["label_boxes"]]
    out = []
    for _, row in data.regions.iterrows():
        free = shapely.difference(shapely.buffer(row.geometry, -4.0), covered)
        if free.is_empty:
            continue
        candidates = [shapely.point_on_surface(free)]
        minx, miny, maxx, maxy = free.bounds
        for fx in np.linspace(0.1, 0.9, 7):
            for fy in np.linspace(0.1, 0.9, 7):
                candidates.append(shapely.Point(minx + fx * (maxx - minx), miny + fy * (maxy - miny)))
        for point in candidates:
            if not free.contains(point):
                continue
            x, y = view.to_pt(np.array([[point.x, point.y]], dtype=float))[0]
            if any(lb.buffer(3).contains(shapely.Point(x, y)) for lb in labels):
                continue
            out.append((row["name"], row["level"], int(x * dpi / 72), int(y * dpi / 72)))
            break
    return out


def _expected(colour: str, opacity: float) -> np.ndarray:
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], float)
    return 255 * (1 - opacity) + rgb * opacity


def test_png_colours_at_region_points_match_the_palette(plant):
    dpi = 100
    page = poster_pages(plant, PosterOptions(paper="A3"))[0]
    raster = output.rasterize(page, dpi)
    samples = _sample_points(plant, page, dpi)
    assert len(samples) >= 20, samples
    seen = set()
    for name, level, x, y in samples:
        pixel = np.median(raster[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3), axis=0)
        want = _expected(load_layer_style("regions").class_of(level).fill, 1.0)     # the opaque tint
        assert np.abs(pixel - want).max() <= 8, (name, level, pixel, want)
        seen.add(level)
    assert seen == {lv.value for lv in Level}


def test_png_file_is_300_dpi_at_paper_size(plant, tmp_path):
    out = tmp_path / "plan.png"
    write_poster(plant, out, PosterOptions(paper="A4", landscape=False))
    image = Image.open(out)
    assert image.format == "PNG" and image.size == (2481, 3508)
    assert round(image.info["dpi"][0]) == 300
    rgb = np.asarray(image.convert("RGB"))
    # the four level colours are on the plan (region outlines are opaque level colours)
    for level in Level:
        hex_colour = load_palette().colour(level)
        colour = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(rgb.astype(int) - colour).max(axis=2) <= 3).sum() > 50, level


def test_hatch_patterns_draw_over_the_fill(plant):
    dpi = 100
    plain = poster_pages(plant, PosterOptions(paper="A3"))[0]
    hatched = poster_pages(plant, PosterOptions(paper="A3", hatch=True))[0]
    a, b = output.rasterize(plain, dpi), output.rasterize(hatched, dpi)
    samples = [s for s in _sample_points(plant, plain, dpi) if s[1] in ("major", "significant")]
    assert samples
    for _, _, x, y in samples:
        win_a = a[y - 5:y + 6, x - 5:x + 6].astype(int).sum(axis=2)
        win_b = b[y - 5:y + 6, x - 5:x + 6].astype(int).sum(axis=2)
        assert (win_b < win_a - 90).sum() > 5              # dark hatch lines over the flat fill


# ------------------------------------------------------------------------------------------ scale and north


def test_true_scale_measured_on_the_page(plant, tmp_path):
    dpi = 150
    denominator = 3000
    pdf = poster(plant, "pdf", PosterOptions(paper="A3", scale=denominator))
    assert "1:3 000" in pdftotext(pdf, tmp_path)
    page = poster_pages(plant, PosterOptions(paper="A3", scale=denominator))[0]
    assert page.meta["view"].denominator == denominator
    raster = output.rasterize(page, dpi).astype(int)
    left, top, right, bottom = (int(v * dpi / 72) for v in page.meta["frame"])
    inside = raster[top + 3:bottom - 3, left + 3:right - 3]
    red = (np.abs(inside - np.array([255, 0, 0])).max(axis=2) <= 2)
    ys, xs = np.nonzero(red)
    width_px = xs.max() - xs.min() + 1
    height_px = ys.max() - ys.min() + 1
    data = map_data(plant)
    majors = data.regions[data.regions["level"] == "major"]
    minx, miny, maxx, maxy = majors.total_bounds
    px_per_m = dpi / 0.0254 / denominator
    stroke_px = 1.5 * page.meta["view"].css * dpi / 72        # the regions' outline (1.5 CSS px) on paper, px
    assert abs(width_px - (maxx - minx) * px_per_m) <= stroke_px + 3
    assert abs(height_px - (maxy - miny) * px_per_m) <= stroke_px + 3


def test_scale_that_does_not_fit_is_refused_clearly(plant):
    with pytest.raises(InputError) as err:
        poster(plant, "pdf", PosterOptions(paper="A4", scale=100))
    message = err.value.message
    assert "1:100" in message and "纸张" in message and re.search(r"1:\d+", message)
    assert " / " in message                                   # Chinese first, then English


def test_paper_sizes_and_orientation(plant, tmp_path):
    landscape = poster_pages(plant, PosterOptions(paper="A4", landscape=True))[0]
    assert (round(landscape.width), round(landscape.height)) == (842, 595)
    a0 = poster_pages(plant, PosterOptions(paper="A0", landscape=False))[0]
    assert (round(a0.width), round(a0.height)) == (2384, 3370)
    for bad in ("A7", "Letter", ""):
        with pytest.raises(InputError):
            poster(plant, "pdf", PosterOptions(paper=bad))


def test_true_north_follows_the_meridian_convergence(bench):
    from riskmap.print.poster import _north

    plant = bench.synthetic_plant(300, 4, 2)
    plant.layout_info = {**plant.layout_info, "crs": "EPSG:4549"}      # CGCS2000 3° GK, CM 120°E; plant at 118.8°E
    data = map_data(plant)
    angle, true_north, _ = _north(plant, data)
    lon, lat = bench.CENTRE
    convergence = Proj(CRS.from_epsg(4549)).get_factors(lon, lat).meridian_convergence
    assert true_north
    assert abs(math.degrees(angle) + convergence) < 0.02 and abs(convergence) > 0.5
    text_plant = dataclasses.replace(plant, layout_info={**plant.layout_info, "georeferenced": False})
    assert not _north(text_plant, map_data(text_plant))[1]


def test_grid_labels_are_plan_coordinates(plant, tmp_path):
    from riskmap.print.mapview import grid_step

    page = poster_pages(plant, PosterOptions(paper="A3", grid=True))[0]
    view = page.meta["view"]
    minx, miny, maxx, maxy = view.extent
    step = grid_step(max(maxx - minx, maxy - miny))
    text = pdftotext(poster(plant, "pdf", PosterOptions(paper="A3", grid=True)), tmp_path)
    xs = [k * step for k in range(math.ceil(minx / step), math.floor(maxx / step) + 1)]
    found = [x for x in xs if re.search(rf"(?<![\d.]){int(x)}(?![\d.])", text.replace(" ", ""))]
    assert len(found) >= 3, (xs, text[:400])


# ------------------------------------------------------------------------------------------ pages


def test_atlas_is_the_plan_then_one_page_per_region(plant, tmp_path):
    pdf = poster(plant, "pdf", PosterOptions(paper="A4", atlas=True))
    assert pdf_pages(pdf, tmp_path) == 2 + len(plant.regions)         # contents, the plan, each region
    first = plant.regions[0]
    page3 = pdftotext(pdf, tmp_path, 3)
    assert "罐区安全风险四色分布图（车间图）" in page3.replace("\n", "")      # the first major region by name
    assert "个单元" in page3                                   # the legend counts the region's units
    assert any(f"{first.name}安全风险四色分布图（车间图）" in pdftotext(pdf, tmp_path, n).replace("\n", "")
               for n in range(3, 3 + len(plant.regions)))
    assert_fonts_embedded(pdf, tmp_path)
    with pytest.raises(InputError):
        poster(plant, "png", PosterOptions(atlas=True))
    with pytest.raises(InputError):
        poster(plant, "pdf", PosterOptions(atlas=True, region=first.id))


def test_one_region_by_id_or_name(plant, tmp_path):
    by_name = poster_pages(plant, PosterOptions(paper="A4", region="罐区"))
    assert len(by_name) == 1 and by_name[0].meta["kind"] == "region"
    region_id = by_name[0].meta["region"]
    assert poster_pages(plant, PosterOptions(paper="A4", region=region_id))[0].meta["region"] == region_id
    text = pdftotext(poster(plant, "pdf", PosterOptions(paper="A4", region="罐区")), tmp_path)
    assert "罐区安全风险四色分布图（车间图）" in text.replace("\n", "")
    with pytest.raises(NotFoundError) as err:
        poster(plant, "pdf", PosterOptions(region="没有这个区域"))
    assert "没有编号或名称为" in err.value.message


def test_bbox_view_shows_that_part(plant, tmp_path):
    region = next(r for r in plant.regions if r.name == "罐区")
    w, s, e, n = region.geometry.bounds
    pdf = poster(plant, "pdf", PosterOptions(paper="A4", bbox=f"{w},{s},{e},{n}"))
    text = pdftotext(pdf, tmp_path)
    assert "罐区" in text and "局部视图" in text
    assert "停车场" not in text                                  # far away from the tank farm
    for bad in ("1,2,3", "a,b,c,d", "10,10,5,5", "0,0,1,1", "119,95,120,96"):
        with pytest.raises(InputError):
            poster(plant, "pdf", PosterOptions(bbox=bad))


# ------------------------------------------------------------------------------------------ text safety


def test_html_and_pdf_special_characters_print_as_text(bench, tmp_path):
    plant = bench.synthetic_plant(200, 4, 5, name=f"企业{HOSTILE}")
    for region in plant.regions:
        region.name = f"区{region.id}{HOSTILE}"[:60]
    pdf = poster(plant, "pdf", PosterOptions(paper="A3"))
    text = pdftotext(pdf, tmp_path)
    flat = text.replace("\n", "")
    assert f"企业{HOSTILE}" in flat
    assert "<img src=x onerror=alert(1)>" in text and "\\ 100%" in text
    assert_fonts_embedded(pdf, tmp_path)
    svg = poster(plant, "svg", PosterOptions(paper="A3"))
    assert b"<img" not in svg
    root = ET.fromstring(svg)                               # well-formed XML
    texts = ["".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(HOSTILE in t for t in texts)


def test_svg_is_sized_in_points(plant):
    svg = poster(plant, "svg", PosterOptions(paper="A4", landscape=False))
    root = ET.fromstring(svg)
    assert root.get("width") == "595.28pt" and root.get("height") == "841.89pt"
    assert root.get("viewBox").startswith("0 0 595.")


# ------------------------------------------------------------------------------------------ fonts


@pytest.fixture
def fresh_fonts():
    fonts.clear_cache()
    yield
    fonts.clear_cache()


def test_missing_or_unsuitable_font_is_a_clear_error(plant, monkeypatch, fresh_fonts):
    monkeypatch.setenv("RISKMAP_PRINT_FONT", "/nonexistent/font.ttf")
    with pytest.raises(FontError) as err:
        poster(plant, "pdf", PosterOptions(paper="A4"))
    assert "fonts-wqy-microhei" in err.value.message and "找不到" in err.value.message
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin.exists():
        fonts.clear_cache()
        monkeypatch.setenv("RISKMAP_PRINT_FONT", str(latin))
        with pytest.raises(FontError) as err:
            poster(plant, "pdf", PosterOptions(paper="A4"))
        assert "中文" in err.value.message
    cff = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    if cff.exists():
        fonts.clear_cache()
        monkeypatch.setenv("RISKMAP_PRINT_FONT", str(cff))
        with pytest.raises(FontError) as err:
            poster(plant, "pdf", PosterOptions(paper="A4"))
        assert "TrueType" in err.value.message and "Type 3" in err.value.message


def test_characters_the_main_face_lacks_fall_back_and_are_drawn(fresh_fonts):
    text = "闪点11℃"
    runs = fonts.runs(text)
    assert "".join(part for _, part in runs) == text
    # every character is drawn by a face that has an outline for it (WenQuanYi's ℃ is empty)
    for k, part in runs:
        font = fonts.font(12, k)
        for glyph in font.textToGlyphs(part):
            assert glyph != 0 and font.getPath(glyph).countPoints() > 0


# ------------------------------------------------------------------------------------------ scale up


def test_5000_unit_plant_gives_an_a0_poster_within_20_mb(bench, tmp_path):
    plant = bench.synthetic_plant(5000, 25, 11)
    started = time.perf_counter()
    pdf = poster(plant, "pdf", PosterOptions(paper="A0", units=True, hatch=True, grid=True))
    elapsed = time.perf_counter() - started
    assert len(pdf) <= 20 * 1024 * 1024, len(pdf)
    assert pdf_pages(pdf, tmp_path) == 1
    assert elapsed < 60
    assert_fonts_embedded(pdf, tmp_path)


def _content_streams(pdf: bytes) -> list[bytes]:
    import zlib

    out = []
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", pdf, re.S):
        n = re.search(rb"/Length (\d+)", m.group(1))
        if n and b"/FlateDecode" in m.group(1):
            try:
                out.append(zlib.decompress(pdf[m.end():m.end() + int(n.group(1))]))
            except zlib.error:
                continue
    return out


def test_outlined_units_are_filled_and_stroked_run_by_run_with_the_same_path_text(bench):
    """Each outline's path text repeats its fill's right after it (so deflate stores it once), in runs."""
    plant = bench.synthetic_plant(3000, 4, 7)
    pdf = poster(plant, "pdf", PosterOptions(paper="A2", units=True))
    content = max(_content_streams(pdf), key=lambda c: c.count(b" l\n")).decode("latin-1")
    blocks = []                                         # (path text, paint op, colour set before it)
    path, colour = [], ""
    for line in content.split("\n"):
        if line.endswith((" m", " l")) or line == "h":
            path.append(line)
        elif line in ("f", "S"):
            blocks.append(("\n".join(path), line, colour))
            path = []
        elif line.endswith(" rg"):
            colour = line
    outline = ".251 .251 .251 RG"                        # units.yaml outline #404040
    pairs = rings = late = 0
    for (fill_text, fill_op, _), (text, op, colour) in zip(blocks, blocks[1:], strict=False):
        if op == "S" and colour.startswith(outline):
            if fill_op == "S":                           # outlines of units a higher one may cover: over all fills
                late += text.count(" m")
                continue
            assert fill_op == "f" and fill_text == text
            pairs += 1
            rings += text.count(" m")
            assert len(text) < 32_000, "a run fits deflate's window"
    assert pairs >= 2, "outlined units come in several runs"
    assert rings > 1000 and rings > late


def test_runs_split_at_whole_contours():
    from riskmap.print import mapview

    verbs = np.tile(np.array([0, 1, 1, 1, 5], np.uint8), 1000)          # 1000 closed quads
    runs = mapview._runs(verbs, limit=300)
    assert len(runs) > 3
    assert runs[0][0] == 0 and runs[0][2] == 0 and runs[-1][3] == len(verbs) and runs[-1][1] == 4000
    for (p0, p1, v0, v1), nxt in zip(runs, runs[1:] + [None], strict=True):
        assert verbs[v0] == 0 and v1 - v0 <= 305 and (v1 - v0) % 5 == 0 and p1 - p0 == (v1 - v0) // 5 * 4
        if nxt is not None:
            assert nxt[0] == p1 and nxt[2] == v1


def test_benchmark_runs_in_process(bench, capsys):
    result = bench.main(["--units", "1500", "--regions", "9", "--paper", "A3"])
    out = capsys.readouterr().out
    assert "GeoDataFrame.plot()" in out and "riskmap units coloured" in out
    seconds, size = result["riskmap"]["units coloured"]
    assert seconds > 0 and size > 10_000
    assert result["reference"][1] > 0


# ------------------------------------------------------------------------------------------ CLI


def test_cli_poster_and_one_line_errors(tmp_path_factory, tmp_path):
    from typer.testing import CliRunner

    from riskmap.cli import app

    url = demo_url(tmp_path_factory)
    out = tmp_path / "plan.pdf"
    proc = run_cli("poster", out, "--db", url, "--paper", "A4", "--landscape", "--hatch", "--grid")
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 10_000 and "plan.pdf" in proc.stdout
    bad = run_cli("poster", tmp_path / "x.pdf", "--db", url, "--scale", "50")
    assert bad.returncode == 1, bad.stderr
    lines = [ln for ln in bad.stderr.splitlines() if ln.strip() and "Fontconfig" not in ln]
    assert len(lines) == 1 and lines[0].startswith("错误 / error: 按比例尺 1:50"), bad.stderr
    for args in (("--paper", "A9"), ("--region", "不存在"), ("--atlas", "--region", "x"), ("--dpi", "5")):
        result = CliRunner().invoke(app, ["poster", str(tmp_path / "x.pdf"), "--db", url, *args])
        assert isinstance(result.exception, (InputError, NotFoundError)), (args, result.output)
        assert re.search(r"[\u4e00-\u9fff]", result.exception.message)
    result = CliRunner().invoke(app, ["poster", str(tmp_path / "x.docx"), "--db", url])
    assert isinstance(result.exception, InputError) and ".pdf" in result.exception.message
