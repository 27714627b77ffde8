"""The poster (安全风险四色分布图): the total plan, one region's workshop map, a web map view, or an atlas.

A page carries a title, the map at a true scale in the plan's metric CRS (north arrow, scale bar, optional
coordinate grid and hatches), the four-level legend with counts, a title block (enterprise, map, layout
version, assessment and print dates, criteria, scale, CRS) and the footer stamp of every print.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import skia
from pyproj import Transformer

from riskmap.domain import RESIDUAL
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import LEVELS_HIGH_TO_LOW, level_or_none, load_palette
from riskmap.print import fonts, mapview, output
from riskmap.print.fonts import colour_int
from riskmap.print.mapview import MapData, MapView
from riskmap.print.paper import CSS_PX_PT, Paper, Stamp, mm, paper, stamp_of
from riskmap.render.draw import stroke_paint
from riskmap.symbology import load_yaml

FORMATS = ("pdf", "png", "svg")
POSTER_PAPERS = ("A0", "A1", "A2", "A3", "A4")
DEFAULT_PAPER = "A3"
MAX_SCALE_DENOMINATOR = 1_000_000
TEXT = "#1A1A1A"
MUTED = "#555555"
RULES_ZH = {"highest": "短板原理（区域等级取区域内最高单元等级）", "weighted": "综合加权（不低于最高单元等级一级）"}
Progress = Callable[[int, int, str], None]


@dataclass
class PosterOptions:
    paper: str = DEFAULT_PAPER
    landscape: bool = False
    scale: int | None = None                 # 1:scale, computed in the plan's metric CRS
    region: str | None = None                # a region id or name: its workshop map
    atlas: bool = False                      # the total plan, then one page per region
    hatch: bool = False
    grid: bool = False
    bbox: tuple[float, float, float, float] | None = None   # lon/lat view of the web map
    units: bool | None = None                # None: units on region and view pages, not on the total plan
    method: str = "highest"
    which: str = RESIDUAL

    def check(self) -> None:
        paper(self.paper, self.landscape, POSTER_PAPERS)
        bad_scale = isinstance(self.scale, bool) or not isinstance(self.scale, int) or \
            not 1 <= self.scale <= MAX_SCALE_DENOMINATOR
        if self.scale is not None and bad_scale:
            raise InputError(f"比例尺分母应为 1–{MAX_SCALE_DENOMINATOR} 的整数，例如 --scale 1000 表示 1:1000 / "
                             f"scale must be an integer 1–{MAX_SCALE_DENOMINATOR}, e.g. 1000 for 1:1000")
        if self.atlas and (self.region is not None or self.bbox is not None):
            raise InputError("图集（--atlas）已包含每个区域，不能同时指定区域或范围 / --atlas already has every "
                             "region: do not combine it with a region or bbox")
        if self.region is not None and self.bbox is not None:
            raise InputError("区域与范围只能指定一个 / give a region or a bbox, not both")
        if self.method not in mapview_methods():
            raise InputError(f"未知的区域风险方法 “{self.method}”，应为 highest 或 weighted / unknown method "
                             f"{self.method!r}")
        if self.bbox is not None:
            self.bbox = check_bbox(self.bbox)


def mapview_methods() -> tuple[str, ...]:
    from riskmap.aggregate import METHODS

    return METHODS


def check_bbox(bbox: Any) -> tuple[float, float, float, float]:
    """A lon/lat box (minlon, minlat, maxlon, maxlat), from numbers or "a,b,c,d" text."""
    parts = bbox.replace("，", ",").split(",") if isinstance(bbox, str) else list(bbox)
    bad = InputError("范围 bbox 应为 最小经度,最小纬度,最大经度,最大纬度 四个数 / bbox must be "
                     "minlon,minlat,maxlon,maxlat")
    if len(parts) != 4:
        raise bad
    try:
        values = [float(str(p).strip()) for p in parts]
    except ValueError:
        raise bad from None
    w, s, e, n = values
    if not all(math.isfinite(v) for v in values) or not (-180 <= w < e <= 180) or not (-90 <= s < n <= 90):
        raise InputError("范围 bbox 无效：经度应在 −180…180、纬度在 −90…90，且最小值小于最大值 / bbox out of range "
                         "or empty")
    return w, s, e, n


@dataclass
class _Context:
    plant: Any
    data: MapData
    options: PosterOptions
    paper: Paper
    stamp: Stamp
    styles: dict
    palette: Any
    colour_words: dict
    profile_text: str
    north: tuple[float, bool, str]            # angle (rad, page clockwise from up), true north?, label
    pages_total: int = 1
    page_no: int = 1
    unit_dates: dict = field(default_factory=dict)


def poster_pages(plant, options: PosterOptions | None = None, *, now: datetime | None = None,
                 progress: Progress | None = None) -> list[output.Page]:
    """The poster's pages: one (total plan, a region, or a bbox view), or the atlas (total plan + each region)."""
    options = options or PosterOptions()
    options.check()
    fonts.faces()                      # a missing font is a clear error before any work
    ctx = _context(plant, options, now)
    data = ctx.data
    jobs: list[tuple[str, Any]] = []
    if options.atlas:
        jobs.append(("plan", None))
        jobs += [("region", rid) for rid in data.regions["id"].tolist()]
    elif options.region is not None:
        jobs.append(("region", _find_region(data, options.region)))
    elif options.bbox is not None:
        jobs.append(("bbox", options.bbox))
    else:
        jobs.append(("plan", None))
    ctx.pages_total = len(jobs)
    pages = []
    for i, (kind, arg) in enumerate(jobs):
        ctx.page_no = i + 1
        if progress is not None:
            progress(i, len(jobs), _job_name(data, kind, arg))
        pages.append(_page(ctx, kind, arg))
    if progress is not None:
        progress(len(jobs), len(jobs), "")
    return pages


def poster(plant, fmt: str = "pdf", options: PosterOptions | None = None, *, dpi: float = output.PNG_DPI,
           now: datetime | None = None, progress: Progress | None = None) -> bytes:
    """The poster as PDF (all pages), PNG (300 dpi) or SVG bytes."""
    fmt = _format(fmt)
    options = options or PosterOptions()
    if options.atlas and fmt != "pdf":
        raise InputError("图集（--atlas）只能输出多页 PDF / an atlas is a multi-page PDF: use .pdf")
    pages = poster_pages(plant, options, now=now, progress=progress)
    if fmt == "pdf":
        return output.pdf_bytes(pages, title=_title_text(plant, options), subject="安全风险四色分布图",
                                author=plant.enterprise.name)
    if fmt == "svg":
        return output.svg_bytes(pages[0])
    return output.png_bytes(pages[0], dpi)


def write_poster(plant, out: Path, options: PosterOptions | None = None, *, dpi: float = output.PNG_DPI,
                 now: datetime | None = None, progress: Progress | None = None) -> int:
    """Write the poster to `out` (format from its suffix; PNG streamed strip by strip); returns bytes written."""
    fmt = _format(out.suffix.lstrip("."))
    options = options or PosterOptions()
    if fmt != "png":
        data = poster(plant, fmt, options, dpi=dpi, now=now, progress=progress)
        out.write_bytes(data)
        return len(data)
    if options.atlas:
        raise InputError("图集（--atlas）只能输出多页 PDF / an atlas is a multi-page PDF: use .pdf")
    pages = poster_pages(plant, options, now=now, progress=progress)
    with open(out, "wb") as fh:
        output.write_png(pages[0], fh, dpi)
    return out.stat().st_size


def _format(fmt: str) -> str:
    fmt = str(fmt or "").lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"不支持的输出格式 “{fmt[:10]}”，应为 .pdf、.png 或 .svg / unsupported format {fmt[:10]!r}: "
                         "use .pdf, .png or .svg")
    return fmt


def _title_text(plant, options: PosterOptions) -> str:
    return f"{plant.enterprise.name} 安全风险四色分布图"


def _job_name(data: MapData, kind: str, arg) -> str:
    if kind == "region":
        row = data.regions[data.regions["id"] == arg]
        return f"区域 {row['name'].iloc[0] if len(row) else arg}"
    return "总平面图" if kind == "plan" else "视图"


def _find_region(data: MapData, key: str) -> str:
    key = str(key).strip()
    ids = data.regions["id"].astype(str).tolist()
    if key in ids:
        return data.regions["id"].iloc[ids.index(key)]
    names = data.regions["name"].astype(str).tolist()
    matches = [i for i, n in enumerate(names) if n == key]
    if len(matches) == 1:
        return data.regions["id"].iloc[matches[0]]
    sample = "、".join(f"{i}（{n}）" for i, n in list(zip(ids, names, strict=True))[:8])
    raise NotFoundError(f"没有编号或名称为 “{key[:60]}” 的区域；例如：{sample} / no region with id or name "
                        f"{key[:60]!r}")


def _context(plant, options: PosterOptions, now: datetime | None) -> _Context:
    data = mapview.map_data(plant, options.method, options.which)
    if data.content_bounds() is None:
        raise InputError("平面布置图中没有可绘制的要素 / the layout has nothing to draw")
    p = paper(options.paper, options.landscape, POSTER_PAPERS)
    levels_yaml = load_yaml("levels.yaml").get("levels", {})
    colour_words = {lv: str(levels_yaml.get(lv.value, {}).get("colour_zh", "")) for lv in LEVELS_HIGH_TO_LOW}
    return _Context(plant, data, options, p, stamp_of(plant, now), mapview.styles(), load_palette(), colour_words,
                    _profile_text(plant), _north(plant, data),
                    unit_dates={u.id: u.last_assessed for u in plant.units})


def _profile_text(plant) -> str:
    from riskmap.criteria import load_profile
    from riskmap.errors import RiskmapError

    used = []
    for unit in plant.units:
        for ev in unit.events:
            name = ev.residual.profile if ev.residual is not None else ev.method
            if name and name not in used:
                used.append(name)
    default = plant.profile or "lec"
    try:
        title = load_profile(default).title or default
    except RiskmapError:
        title = default
    others = [u for u in used if u != default]
    return f"{title}" + (f"；另含 {'、'.join(o.upper() for o in others)}" if others else "")


def _north(plant, data: MapData) -> tuple[float, bool, str]:
    """True north on the page (angle clockwise from up, radians) from the plan CRS's meridian convergence, or
    grid north when the layout is not georeferenced."""
    info = plant.layout_info or {}
    if not info.get("georeferenced", True):
        return 0.0, False, "坐标北（图纸未配准）/ grid north"
    bounds = data.content_bounds()
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    try:
        to_ll = Transformer.from_crs(data.crs, 4326, always_xy=True)
        to_plan = Transformer.from_crs(4326, data.crs, always_xy=True)
        lon, lat = to_ll.transform(cx, cy)
        x1, y1 = to_plan.transform(lon, lat + 0.001)
        dx, dy = x1 - cx, y1 - cy
        if not (math.isfinite(dx) and math.isfinite(dy)) or dx == dy == 0:
            raise ValueError
    except Exception:  # noqa: BLE001 - any projection failure means: we only know grid north
        return 0.0, False, "坐标北 / grid north"
    angle = math.atan2(dx, dy)          # plan: clockwise from grid north (y up)
    return angle, True, "真北 / true north"


# ---------------------------------------------------------------------------------------------- a page


def _page(ctx: _Context, kind: str, arg) -> output.Page:
    p = ctx.paper
    f = p.factor
    W, H = p.width, p.height
    margin = mm(10) * f
    css = CSS_PX_PT * f
    data = ctx.data
    region_id = arg if kind == "region" else None
    show_units = ctx.options.units if ctx.options.units is not None else kind != "plan"

    if kind == "region":
        row = data.regions[data.regions["id"] == region_id].iloc[0]
        region_geom = row.geometry
        b = shapely.bounds(region_geom)
        pad = max(b[2] - b[0], b[3] - b[1]) * 0.12 + 5
        bounds = (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)
        level = level_or_none(row["level"])
        map_title = f"{row['name']}安全风险四色分布图（车间图）"
        subtitle = f"区域风险：{level.zh if level else '未评估'} · " + RULES_ZH[ctx.options.method]
        what = f"区域 {row['name']}"
    elif kind == "bbox":
        region_geom = None
        bounds = _plan_bounds(data, arg)
        map_title = "安全风险四色分布图（局部视图）"
        subtitle = "网页地图视图 · " + RULES_ZH[ctx.options.method]
        what = "所选范围"
    else:
        region_geom = None
        bounds = data.content_bounds()
        map_title = "安全风险四色分布图（总平面图）"
        subtitle = "红橙黄蓝四色安全风险空间分布图 · 区域风险" + RULES_ZH[ctx.options.method]
        what = ""

    # header
    title_size = 17 * f
    sub_size = 8.5 * f
    header_h = fonts.line_height(title_size, 1.25) + fonts.line_height(sub_size, 1.5)
    header_top = margin
    stamp_size = 6 * f
    footer_h = fonts.line_height(stamp_size, 1.6)

    legend = _Legend(ctx, region_id, bounds if kind == "bbox" else None, css, show_units)
    block_rows = _block_rows(ctx, kind, map_title, region_id)
    # info panel: bottom band (portrait) or right column (landscape)
    gap = mm(4) * f
    if p.landscape:
        panel_w = max(legend.width, mm(78) * f)
        legend.width = panel_w
        block = _Block(block_rows, panel_w, f)
        frame = (margin, header_top + header_h, W - margin - panel_w - gap, H - margin - footer_h)
        panel_x, panel_y = frame[2] + gap, frame[1]
        legend_pos = (panel_x, panel_y)
        block_pos = (panel_x, panel_y + legend.height + gap)
        if block_pos[1] + block.height > frame[3]:
            block = _Block(block_rows, panel_w, f * 0.85)
    else:
        block_w = min(W - 2 * margin - legend.width - gap, mm(125) * f)
        block = _Block(block_rows, block_w, f)
        band_h = max(legend.height, block.height)
        legend.height = band_h
        frame = (margin, header_top + header_h, W - margin, H - margin - footer_h - gap - band_h)
        legend_pos = (margin, frame[3] + gap)
        block_pos = (W - margin - block.width, frame[3] + gap)

    view = mapview.fit_view(frame, bounds, css, data.lat, ctx.options.scale, what)
    scale_text = f"1:{view.denominator:,.0f}".replace(",", " ") + ("（按指定比例尺）" if ctx.options.scale else "")
    block.set("比例尺", scale_text)
    north_box, scale_box = _furniture_boxes(ctx, view, f)

    recorder = output.PageRecorder(W, H)
    with recorder as canvas:
        canvas.drawRect(skia.Rect(0, 0, W, H), skia.Paint(Color=skia.ColorWHITE))
        _draw_header(canvas, ctx, W, header_top, title_size, sub_size, map_title, subtitle)
        placed = _draw_map(canvas, ctx, view, show_units, region_geom, (north_box, scale_box))
        _draw_north(canvas, ctx, north_box, f)
        _draw_scalebar(canvas, view, scale_box, f)
        canvas.drawRect(skia.Rect(*frame), skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style,
                                                      Color=colour_int("#333333"), StrokeWidth=0.8 * f))
        legend.draw(canvas, *legend_pos)
        block.draw(canvas, *block_pos)
        _draw_footer(canvas, ctx, W, H, margin, stamp_size)
    page = recorder.page
    page.meta.update(kind=kind, region=region_id, view=view, frame=frame, north_box=north_box, scale_box=scale_box,
                     label_boxes=[_label_box(lb) for lb in placed])
    return page


def _label_box(label) -> tuple[float, float, float, float]:
    w, h = label.box_size(label.scale)
    return label.x - w / 2, label.y - h / 2, label.x + w / 2, label.y + h / 2


def _plan_bounds(data: MapData, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    w, s, e, n = bbox
    box = shapely.segmentize(shapely.box(w, s, e, n), max(e - w, n - s) / 16)
    coords = shapely.get_coordinates(box)
    x, y = data.to_plan(coords[:, 0], coords[:, 1])
    x, y = np.asarray(x), np.asarray(y)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("范围 bbox 无法换算到平面坐标系 / the bbox cannot be projected into the plan CRS")
    plan_box = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    content = data.content_bounds()
    if plan_box[2] < content[0] or plan_box[0] > content[2] or plan_box[3] < content[1] or plan_box[1] > content[3]:
        raise InputError("所选范围内没有厂区要素 / the bbox does not overlap the plant")
    if max(plan_box[2] - plan_box[0], plan_box[3] - plan_box[1]) < 1.0:
        raise InputError("所选范围太小（不足 1 m）/ the bbox is smaller than 1 m")
    return plan_box


def _draw_header(canvas, ctx: _Context, W: float, top: float, title_size: float, sub_size: float, map_title: str,
                 subtitle: str) -> None:
    name = fonts.clean(ctx.plant.enterprise.name)
    title = f"{name}　{map_title}"
    max_w = W - mm(20) * ctx.paper.factor
    size = title_size
    while fonts.width(title, size) > max_w and size > title_size * 0.5:
        size *= 0.92
    ascent, _ = fonts.metrics(size)
    fonts.draw_text(canvas, fonts.fit_line(title, size, max_w), W / 2, top + ascent, size, TEXT, align="centre",
                    bold=True)
    sub_ascent, _ = fonts.metrics(sub_size)
    fonts.draw_text(canvas, fonts.fit_line(subtitle, sub_size, max_w), W / 2,
                    top + fonts.line_height(title_size, 1.25) + sub_ascent, sub_size, MUTED, align="centre")


# Map coordinates on a grid of 1/4 pt (0.09 mm, about a 300-dpi dot): finer than print or eye resolves, and
# four-digit numbers in the PDF on papers up to A1.
FINE_STEPS = 4


def _draw_map(canvas, ctx: _Context, view: MapView, show_units: bool, region_geom, reserved) -> None:
    data, styles, hatch = ctx.data, ctx.styles, ctx.options.hatch
    canvas.save()
    canvas.clipRect(skia.Rect(*view.frame), skia.ClipOp.kIntersect, True)
    fine = view.fine(FINE_STEPS)
    canvas.save()
    canvas.scale(1 / FINE_STEPS, 1 / FINE_STEPS)
    # as the web map stacks its tiles: opaque colours, the plan's linework over them (riskmap.render.webmap)
    mapview.draw_layer(canvas, fine, data.regions, styles["regions"], hatch=hatch)
    if show_units:
        mapview.draw_layer(canvas, fine, data.units, styles["units"], hatch=hatch)
    mapview.draw_layer(canvas, fine, data.layout, styles["layout"])
    if region_geom is not None:
        mapview.draw_highlight(canvas, fine, region_geom)
    canvas.restore()
    if ctx.options.grid:
        mapview.draw_grid(canvas, view)
    rule = styles["regions"].label
    size = (rule.size if rule else 13) * view.css
    labels = mapview.region_labels(data, view, size, rule.max_chars if rule else 16)
    placed = mapview.place_labels(labels, view.frame, reserved)
    boxes = mapview.Boxes()
    for lb in placed:
        w, h = lb.box_size(lb.scale)
        boxes.add((lb.x - w / 2, lb.y - h / 2, lb.x + w / 2, lb.y + h / 2))
    extra = []
    if show_units:
        extra += mapview.feature_labels(data.units, styles["units"], view)
    extra += mapview.feature_labels(data.layout, styles["layout"], view)
    placed_extra = mapview.place_labels(extra, view.frame, reserved, boxes=boxes) if extra else []
    mapview.draw_labels(canvas, placed_extra)
    mapview.draw_labels(canvas, placed)
    canvas.restore()
    return placed + placed_extra


def _furniture_boxes(ctx: _Context, view: MapView, f: float):
    left, top, right, bottom = view.frame
    pad = mm(3) * f
    nw, nh = mm(16) * f, mm(22) * f
    north = (right - pad - nw, top + pad, right - pad, top + pad + nh)
    sw, sh = _scalebar_size(view, f)
    scale = (left + pad, bottom - pad - sh, left + pad + sw, bottom - pad)
    return north, scale


def _panel(canvas, box, f: float) -> None:
    x0, y0, x1, y1 = box
    rect = skia.RRect.MakeRectXY(skia.Rect(x0, y0, x1, y1), 2 * f, 2 * f)
    canvas.drawRRect(rect, skia.Paint(AntiAlias=True, Color=colour_int("#FFFFFF", 0.88)))
    canvas.drawRRect(rect, skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int("#777777"),
                                      StrokeWidth=0.4 * f))


def _draw_north(canvas, ctx: _Context, box, f: float) -> None:
    _panel(canvas, box, f)
    angle, true_north, label = ctx.north
    x0, y0, x1, y1 = box
    cx = (x0 + x1) / 2
    letter = 9 * f
    cy = y0 + (y1 - y0) * 0.52
    r = min(x1 - x0, y1 - y0) * 0.3
    page_angle = angle                       # plan y is up on the page; clockwise angles stay clockwise
    canvas.save()
    canvas.translate(cx, cy)
    canvas.rotate(math.degrees(page_angle))
    left = skia.Path()
    left.moveTo(0, -r)
    left.lineTo(-r * 0.42, r * 0.75)
    left.lineTo(0, r * 0.4)
    left.close()
    right = skia.Path()
    right.moveTo(0, -r)
    right.lineTo(r * 0.42, r * 0.75)
    right.lineTo(0, r * 0.4)
    right.close()
    canvas.drawPath(left, skia.Paint(AntiAlias=True, Color=colour_int("#1A1A1A")))
    canvas.drawPath(right, skia.Paint(AntiAlias=True, Color=colour_int("#FFFFFF")))
    outline = skia.Path()
    outline.addPath(left)
    outline.addPath(right)
    canvas.drawPath(outline, skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style,
                                        Color=colour_int("#1A1A1A"), StrokeWidth=0.6 * f,
                                        StrokeJoin=skia.Paint.kRound_Join))
    canvas.restore()
    ascent, _ = fonts.metrics(letter)
    top_text = "北 N" if true_north else "坐标北"
    fonts.draw_text(canvas, top_text, cx, y0 + ascent + 1.5 * f, letter, TEXT, align="centre")
    small = 4.6 * f
    degrees = round(math.degrees(angle), 2) + 0.0      # no "-0.00"
    sub = f"收敛角 {degrees:+.2f}°" if true_north else "grid north"
    fonts.draw_text(canvas, fonts.fit_line(sub, small, x1 - x0 - 2 * f), cx, y1 - 2 * f, small, MUTED,
                    align="centre")


def _scale_length(view: MapView, target_pt: float) -> float:
    metres = target_pt / view.s
    exp = 10 ** math.floor(math.log10(metres))
    for step in (5, 2.5, 2, 1):
        if step * exp <= metres:
            return step * exp
    return exp


def _scalebar_size(view: MapView, f: float) -> tuple[float, float]:
    target = min((view.frame[2] - view.frame[0]) * 0.28, mm(60) * f)
    length = _scale_length(view, target) * view.s
    return length + mm(10) * f, mm(13) * f


def _metres_text(value: float) -> str:
    if value >= 1000:
        km = value / 1000
        return f"{km:g} km"
    return f"{value:g} m"


def _draw_scalebar(canvas, view: MapView, box, f: float) -> None:
    _panel(canvas, box, f)
    x0, y0, x1, y1 = box
    target = min((view.frame[2] - view.frame[0]) * 0.28, mm(60) * f)
    metres = _scale_length(view, target)
    length = metres * view.s
    bx = x0 + mm(5) * f
    size = 6.5 * f
    ascent, _ = fonts.metrics(size)
    fonts.draw_text(canvas, f"比例尺 1:{view.denominator:,.0f}".replace(",", " "), bx, y0 + ascent + 1.5 * f,
                    size, TEXT)
    bar_y = y0 + mm(6.2) * f
    bar_h = mm(1.6) * f
    segments = 4
    seg = length / segments
    for k in range(segments):
        colour = "#1A1A1A" if k % 2 == 0 else "#FFFFFF"
        canvas.drawRect(skia.Rect(bx + k * seg, bar_y, bx + (k + 1) * seg, bar_y + bar_h),
                        skia.Paint(AntiAlias=True, Color=colour_int(colour)))
    canvas.drawRect(skia.Rect(bx, bar_y, bx + length, bar_y + bar_h),
                    skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int("#1A1A1A"),
                               StrokeWidth=0.5 * f))
    small = 5.5 * f
    sa, _ = fonts.metrics(small)
    for k, value in ((0, 0.0), (segments // 2, metres / 2), (segments, metres)):
        text = "0" if value == 0 else _metres_text(value)
        fonts.draw_text(canvas, text, bx + k * seg, bar_y + bar_h + sa + 1.2 * f, small, TEXT, align="centre")


class _Legend:
    """The four-level legend (重大风险 红 … 低风险 蓝) with counts of regions (or of a region's units)."""

    def __init__(self, ctx: _Context, region_id, extent, css: float, show_units: bool):
        self.ctx, self.f = ctx, ctx.paper.factor
        counts, unassessed, noun = mapview.legend_counts(ctx.data, region_id, extent)
        self.rows = []
        for lv in LEVELS_HIGH_TO_LOW:
            word = ctx.colour_words.get(lv) or ""
            self.rows.append((lv.value, f"{lv.zh}（{word}）" if word else lv.zh, f"{counts[lv]} 个{noun}"))
        if unassessed:
            self.rows.append(("none", "未评估", f"{unassessed} 个{noun}"))
        self.title = "图例 / Legend"
        self.show_units = show_units
        self.note = ("区域按区域风险着色（浅色）" + ("，单元按所在处最高等级着色（色块右半）" if show_units else "")
                     + ("；图案区分等级" if ctx.options.hatch else ""))
        f = self.f
        self.size = 8 * f
        self.row_h = self.size * 2.0
        self.swatch = (mm(11) * f, self.size * 1.35)
        self.pad = mm(2.5) * f
        name_w = max(fonts.width(r[1], self.size) for r in self.rows)
        count_w = max(fonts.width(r[2], self.size) for r in self.rows)
        note_w = fonts.width(self.note, self.size * 0.72)
        self.width = max(self.pad * 2 + self.swatch[0] + mm(2.5) * f + name_w + mm(5) * f + count_w,
                         note_w + 2 * self.pad)
        self.height = (self.pad * 2 + fonts.line_height(self.size * 1.05, 1.5) + len(self.rows) * self.row_h
                       + fonts.line_height(self.size * 0.72, 1.5))

    def draw(self, canvas, x: float, y: float) -> None:
        f, size = self.f, self.size
        _frame_box(canvas, (x, y, x + self.width, y + self.height), f)
        ascent, _ = fonts.metrics(size * 1.05)
        fonts.draw_text(canvas, self.title, x + self.pad, y + self.pad + ascent, size * 1.05, TEXT)
        cy = y + self.pad + fonts.line_height(size * 1.05, 1.5)
        # each swatch is exactly what its layer draws: the region tint, and (right half) the units' colour
        layers = [self.ctx.styles["regions"]] + ([self.ctx.styles["units"]] if self.show_units else [])
        a, _ = fonts.metrics(size)
        for key, name, count in self.rows:
            sw, sh = self.swatch
            sx, sy = x + self.pad, cy + (self.row_h - sh) / 2
            part = sw / len(layers)
            for i, style in enumerate(layers):
                rect = skia.Rect(sx + i * part, sy, sx + (i + 1) * part, sy + sh)
                c = style.class_of(key)
                canvas.drawRect(rect, skia.Paint(AntiAlias=True, Color=colour_int(c.fill or "#FFFFFF")))
                if self.ctx.options.hatch and c.hatch:
                    path = skia.Path()
                    path.addRect(rect)
                    mapview.draw_hatch(canvas, path, c.hatch, style, CSS_PX_PT * f)
            outline = self.ctx.styles["regions"].class_of(key).outline
            if outline is not None:
                canvas.drawRect(skia.Rect(sx, sy, sx + sw, sy + sh), stroke_paint(outline, CSS_PX_PT * f))
            baseline = cy + self.row_h / 2 + a / 2 - size * 0.08
            fonts.draw_text(canvas, name, sx + sw + mm(2.5) * f, baseline, size, TEXT)
            fonts.draw_text(canvas, count, x + self.width - self.pad, baseline, size, MUTED, align="right")
            cy += self.row_h
        na, _ = fonts.metrics(size * 0.72)
        fonts.draw_text(canvas, self.note, x + self.pad, cy + na + size * 0.2, size * 0.72, MUTED)


def _frame_box(canvas, box, f: float) -> None:
    canvas.drawRect(skia.Rect(*box), skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style,
                                                Color=colour_int("#333333"), StrokeWidth=0.6 * f))


def _newest(dates: Sequence[date | None]) -> date | None:
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def _block_rows(ctx: _Context, kind: str, map_title: str, region_id) -> list[tuple[str, str]]:
    plant, options = ctx.plant, ctx.options
    info = plant.layout_info or {}
    if region_id is not None and region_id in ctx.data.risks:
        members = [c.unit_id for c in ctx.data.risks[region_id].contributing]
        assessed = _newest([ctx.unit_dates.get(u) for u in members])
    else:
        assessed = _newest(list(ctx.unit_dates.values()))
    source = info.get("source") or info.get("source_name") or ""
    layout = f"v{info.get('version')}" + (f"（{source}）" if source else "")
    scale_note = "（按指定比例尺）" if options.scale else ""
    rows = [
        ("企业", plant.enterprise.name),
        ("图名", map_title),
        ("布局版本", layout),
        ("评估日期", assessed.isoformat() if assessed else "—"),
        ("打印日期", ctx.stamp.generated.date().isoformat()),
        ("评价准则", ctx.profile_text),
        ("比例尺", "1:1 000 000" + scale_note),
        ("坐标系", ctx.data.crs_label),
        ("数据版本", f"v{plant.data_version}"),
    ]
    if ctx.stamp.as_of is not None:
        rows.insert(1, ("数据截至", ctx.stamp.as_of_text()))
    if ctx.pages_total > 1:
        rows.append(("页码", f"第 {ctx.page_no} / {ctx.pages_total} 页"))
    return rows


class _Block:
    """The title block: a two-column table of what the map is and what it was made from."""

    def __init__(self, rows: list[tuple[str, str]], width: float, f: float):
        self.rows, self.width, self.f = rows, width, f
        self.size = 7.2 * f
        self.key_w = max(fonts.width(k, self.size) for k, _ in rows) + mm(4) * f
        self.pad = mm(1.6) * f
        self.value_w = width - self.key_w - 2 * self.pad
        self._layout()

    def set(self, key: str, value: str) -> None:
        self.rows = [(k, value if k == key else v) for k, v in self.rows]
        self._layout()

    def _layout(self) -> None:
        self.lines = [fonts.wrap(v, self.size, self.value_w) or [""] for _, v in self.rows]
        lh = fonts.line_height(self.size, 1.35)
        self.heights = [len(lines) * lh + 2 * self.pad for lines in self.lines]
        self.height = sum(self.heights)

    def draw(self, canvas, x: float, y: float) -> None:
        f, size = self.f, self.size
        lh = fonts.line_height(size, 1.35)
        a, d = fonts.metrics(size)
        _frame_box(canvas, (x, y, x + self.width, y + self.height), f)
        grid = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int("#999999"),
                          StrokeWidth=0.35 * f)
        canvas.drawLine(x + self.key_w, y, x + self.key_w, y + self.height, grid)
        cy = y
        for (key, _), lines, h in zip(self.rows, self.lines, self.heights, strict=True):
            if cy > y:
                canvas.drawLine(x, cy, x + self.width, cy, grid)
            base = cy + self.pad + (lh - (a + d)) / 2 + a
            fonts.draw_text(canvas, key, x + self.pad, base, size, MUTED)
            for k, line in enumerate(lines):
                fonts.draw_text(canvas, line, x + self.key_w + self.pad, base + k * lh, size, TEXT)
            cy += h


def _draw_footer(canvas, ctx: _Context, W: float, H: float, margin: float, size: float) -> None:
    baseline = H - margin * 0.55
    fonts.draw_text(canvas, ctx.stamp.text(), margin, baseline, size, MUTED)
    if ctx.pages_total > 1:
        fonts.draw_text(canvas, f"{ctx.page_no}/{ctx.pages_total}", W - margin, baseline, size, MUTED, align="right")
