"""The poster (安全风险四色分布图): the total plan, one region's workshop map, a web map view, or an atlas.

A page carries a title, the map at a true scale in the plan's metric CRS (north arrow, scale bar, optional
coordinate grid and hatches), the legend (the four levels with counts, and the plan's linework: buildings,
roads, fences, equipment, each drawn by the map's own drawing code), a title block (enterprise, map, layout
version, assessment and print dates in Beijing time, criteria, scale, CRS, emergency phones), the sign-off
block (编制 / 审核 / 批准, from the settings) and the footer stamp of every print.

The page takes the orientation that shows the map largest unless one is asked for; the sign-off and phones
would otherwise push a landscape-shaped plant into a third of a portrait page. An atlas is a contents page, the
total plan, then the regions by level (major first) and by name (pinyin), as a plant files its workshop maps.
A web map view ("打印当前视图") prints the layers shown on screen over the view's extent, at the largest round
scale that fits the paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
import skia
from pyproj import Transformer

from riskmap.collate import name_key
from riskmap.domain import RESIDUAL
from riskmap.errors import InputError, NotFoundError
from riskmap.levels import LEVELS_HIGH_TO_LOW, level_or_none, load_palette
from riskmap.print import fonts, mapview, output
from riskmap.print.fonts import colour_int
from riskmap.print.mapview import MapData, MapView
from riskmap.print.paper import CSS_PX_PT, Paper, Stamp, mm, paper, stamp_of
from riskmap.symbology import load_yaml

FORMATS = ("pdf", "png", "svg")
POSTER_PAPERS = ("A0", "A1", "A2", "A3", "A4")
DEFAULT_PAPER = "A3"
MAX_SCALE_DENOMINATOR = 1_000_000
TEXT = "#1A1A1A"
MUTED = "#555555"
RULES_ZH = {"highest": "短板原理（区域等级取区域内最高单元等级）", "weighted": "综合加权（不低于最高单元等级一级）"}
# The web map's layers a paper map draws, bottom first ("labels": the names of what is drawn; the hidden hazards
# over everything, never hidden by a name). The basemap, the staleness and coverage layers have no paper form.
PRINT_LAYERS = ("regions", "units", "layout", "labels", "hazards")
# The hazards' symbols on paper: as the tiles draw them at this zoom (riskmap.render.hazardtiles), one by one.
HAZARD_PAPER_Z = 19
# Landscape is taken when it shows the map this much larger than portrait (portrait wins a near tie).
LANDSCAPE_GAIN = 1.02
# Grid north and true north further apart than this (degrees): the poster states the meridian convergence.
CONVERGENCE_SHOWN_DEG = 0.1
PUBLIC_EMERGENCY = "火警 119　急救 120"
SIGN_ROLES = (("编制", "prepared"), ("审核", "reviewed"), ("批准", "approved"))
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SignOff:
    """One line of the sign-off block: 编制, 审核 or 批准, by whom and when (None: a blank to sign by hand)."""

    role: str
    name: str | None = None
    on: date | None = None


BLANK_SIGN_OFFS = tuple(SignOff(role) for role, _ in SIGN_ROLES)


def sign_offs(settings: Any) -> tuple[SignOff, ...]:
    """The sign-off block from the settings (RISKMAP_PREPARED_BY / _ON, RISKMAP_REVIEWED_…, RISKMAP_APPROVED_…)."""
    return tuple(SignOff(role, getattr(settings, f"{key}_by", None), getattr(settings, f"{key}_on", None))
                 for role, key in SIGN_ROLES)


@dataclass
class PosterOptions:
    """What a poster prints (paper, scale, region or atlas, layers, method); check() refuses a bad combination."""

    paper: str = DEFAULT_PAPER
    landscape: bool | None = None            # None: the orientation that shows the map largest
    scale: int | None = None                 # 1:scale, computed in the plan's metric CRS
    region: str | None = None                # a region id or name: its workshop map
    atlas: bool = False                      # contents, the total plan, then one page per region
    hatch: bool = False
    grid: bool = False
    bbox: tuple[float, float, float, float] | None = None   # lon/lat view of the web map
    units: bool | None = None                # None: units on region and view pages, not on the total plan
    layers: Sequence[str] | str | None = None   # the web map's shown layers (PRINT_LAYERS); None: the defaults
    method: str = "highest"
    which: str = RESIDUAL
    sign_offs: tuple[SignOff, ...] = BLANK_SIGN_OFFS

    def check(self) -> None:
        """Refuse a bad paper, scale, method or combination with InputError; bbox and layers are normalised in place."""
        paper(self.paper, bool(self.landscape), POSTER_PAPERS)
        if self.landscape is not None and not isinstance(self.landscape, bool):
            raise InputError("landscape 应为 true 或 false / landscape must be true or false")
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
        if self.layers is not None:
            self.layers = check_layers(self.layers)
            if self.units is not None:
                raise InputError("图层（layers）已说明是否显示评估单元，不能再指定 units / layers already says "
                                 "whether units are shown: do not give units too")

    def shown(self, kind: str, drawing: Any = None) -> frozenset[str]:
        """The layers a page of this kind draws (a storey or a schematic drawing shows its rooms and equipment, as a
        workshop map does)."""
        if self.layers is not None:
            return frozenset(self.layers)
        units = self.units if self.units is not None else (kind != "plan" or drawing is not None)
        return frozenset({"regions", "layout", "labels"} | ({"units"} if units else set()))


def mapview_methods() -> tuple[str, ...]:
    """The region aggregation methods a poster accepts (riskmap.aggregate.METHODS)."""
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


def check_layers(layers: Any) -> tuple[str, ...]:
    """The layers to print, from names or "regions,units,…" text: known names only, at least one that draws."""
    parts = layers.replace("，", ",").split(",") if isinstance(layers, str) else list(layers)
    names = [str(p).strip().lower() for p in parts if str(p).strip()]
    unknown = [n for n in names if n not in PRINT_LAYERS]
    if unknown:
        raise InputError(f"不能打印的图层 “{unknown[0][:30]}”；可打印：{'、'.join(PRINT_LAYERS)} / unknown or "
                         f"unprintable layer {unknown[0][:30]!r}: use {', '.join(PRINT_LAYERS)}")
    if not set(names) & {"regions", "units", "layout"}:
        raise InputError("没有可打印的图层：请至少显示区域风险、评估单元或总平面布置之一 / nothing to print: show at "
                         "least one of regions, units, layout")
    return tuple(n for n in PRINT_LAYERS if n in names)


@dataclass
class _Context:
    plant: Any
    data: MapData
    options: PosterOptions
    stamp: Stamp
    styles: dict
    palette: Any
    colour_words: dict
    profile_text: str
    north: tuple[float, bool, str]            # angle (rad, page clockwise from up), true north?, label
    pages_total: int = 1
    page_no: int = 1
    unit_dates: dict = field(default_factory=dict)
    hazards: Any = None                       # x, y (plan CRS), level, group, overdue; None: not asked for

    @property
    def convergence(self) -> float | None:
        """The meridian convergence (degrees, grid north east of true north positive) when a surveyor needs it:
        a georeferenced plan whose grid north is more than CONVERGENCE_SHOWN_DEG from true north."""
        angle, true_north, _ = self.north
        gamma = -math.degrees(angle) + 0.0
        return gamma if true_north and abs(gamma) > CONVERGENCE_SHOWN_DEG else None


@dataclass
class _Subject:
    """What one map page shows."""

    kind: str                                 # plan, region, bbox
    region_id: Any
    region_geom: Any
    bounds: tuple[float, float, float, float]
    map_title: str
    subtitle: str
    what: str
    layers: frozenset[str]



def poster_pages(plant, options: PosterOptions | None = None, *, now: datetime | None = None,
                 progress: Progress | None = None, drawings: Sequence[Any] = (),
                 hazards: Any = None) -> list[output.Page]:
    """The poster's pages: one (total plan, a region, or a bbox view), or the atlas (contents, total plan, each
    region by level and name, then the other drawings as `drawings` gives them: each building by storey, then
    schematic drawings; each page says which drawing it shows). `hazards` (print_hazards): the hidden hazards the
    site plan's pages draw when the layers name them."""
    options = options or PosterOptions()
    options.check()
    fonts.faces()                      # a missing font is a clear error before any work
    ctx = _context(plant, options, now, hazards)
    data = ctx.data
    jobs: list[tuple[str, Any]] = []
    others: list[_Context] = []
    if options.atlas:
        jobs.append(("plan", None))
        jobs += [("region", rid) for rid in atlas_order(data)]
        for other in drawings:
            try:
                others.append(_context(other, options, now))
            except InputError:         # a drawing with nothing to draw has no page
                continue
            jobs.append(("drawing", len(others) - 1))
    elif options.region is not None:
        jobs.append(("region", _find_region(data, options.region)))
    elif options.bbox is not None:
        jobs.append(("bbox", options.bbox))
    else:
        jobs.append(("plan", None))
    contents = _Contents(ctx, jobs, [o.plant.drawing for o in others]) if options.atlas else None
    first = contents.pages if contents is not None else 0
    ctx.pages_total = first + len(jobs)
    pages = contents.draw() if contents is not None else []
    for i, (kind, arg) in enumerate(jobs):
        page_ctx = others[arg] if kind == "drawing" else ctx
        page_ctx.page_no, page_ctx.pages_total = first + i + 1, ctx.pages_total
        if progress is not None:
            progress(i, len(jobs), page_ctx.plant.drawing.label() if kind == "drawing" else _job_name(data, kind, arg))
        pages.append(_page(page_ctx, _subject(page_ctx, "plan" if kind == "drawing" else kind, arg)))
    if progress is not None:
        progress(len(jobs), len(jobs), "")
    return pages


def atlas_drawings(store, enterprise: str, at: datetime | None = None) -> list:
    """The other drawings of an enterprise as the atlas files them after the site plan (each building by storey,
    workshop plans, then schematic drawings: riskmap.store.drawings orders them), each read as a Plant."""
    from riskmap.plant import load_plant

    return [load_plant(store, enterprise, at=at, drawing=d.key) for d in store.drawings(enterprise)[1:]]


def print_hazards(store, enterprise: str, at: datetime | None = None):
    """The hidden hazards a poster draws: the published ones (riskmap.hazards.table), as the map's hazards layer
    shows them today. A past moment has none (the web map has no hazards layer then either): refused."""
    from riskmap.hazards.table import published
    from riskmap.store.hazards import hazards_frame

    if at is not None:
        raise InputError("历史时刻的地图不含隐患图层 / a map as of a past moment has no hazards layer")
    return published(hazards_frame(store, enterprise))


def atlas_order(data: MapData) -> list:
    """Region ids as the atlas files them: by level, major first (not assessed last), then by name (pinyin)."""
    regions = data.regions
    keys = []
    for rid, name, level in zip(regions["id"].tolist(), regions["name"].tolist(), regions["level"].tolist(),
                                strict=True):
        lv = level_or_none(level)
        keys.append((-(lv.rank if lv else 0), name_key(name), str(rid), rid))
    return [k[-1] for k in sorted(keys, key=lambda k: k[:-1])]


def poster(plant, fmt: str = "pdf", options: PosterOptions | None = None, *, dpi: float = output.PNG_DPI,
           now: datetime | None = None, progress: Progress | None = None, drawings: Sequence[Any] = (),
           hazards: Any = None) -> bytes:
    """The poster as PDF (all pages), PNG (300 dpi) or SVG bytes; an atlas adds a page per drawing of
    `drawings` (Plants of the other drawings, in atlas order)."""
    fmt = _format(fmt)
    options = options or PosterOptions()
    if options.atlas and fmt != "pdf":
        raise InputError("图集（--atlas）只能输出多页 PDF / an atlas is a multi-page PDF: use .pdf")
    pages = poster_pages(plant, options, now=now, progress=progress, drawings=drawings, hazards=hazards)
    if fmt == "pdf":
        return output.pdf_bytes(pages, title=_title_text(plant, options), subject="安全风险四色分布图",
                                author=plant.enterprise.name)
    if fmt == "svg":
        return output.svg_bytes(pages[0])
    return output.png_bytes(pages[0], dpi)


def write_poster(plant, out: Path, options: PosterOptions | None = None, *, dpi: float = output.PNG_DPI,
                 now: datetime | None = None, progress: Progress | None = None, drawings: Sequence[Any] = (),
                 hazards: Any = None) -> int:
    """Write the poster to `out` (format from its suffix; PNG streamed strip by strip); returns bytes written."""
    fmt = _format(out.suffix.lstrip("."))
    options = options or PosterOptions()
    if fmt != "png":
        data = poster(plant, fmt, options, dpi=dpi, now=now, progress=progress, drawings=drawings, hazards=hazards)
        out.write_bytes(data)
        return len(data)
    if options.atlas:
        raise InputError("图集（--atlas）只能输出多页 PDF / an atlas is a multi-page PDF: use .pdf")
    pages = poster_pages(plant, options, now=now, progress=progress, hazards=hazards)
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
    return f"{plant.enterprise.name} 安全风险四色分布图" + ("集" if options.atlas else "")


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


def _context(plant, options: PosterOptions, now: datetime | None, hazards: Any = None) -> _Context:
    data = mapview.map_data(plant, options.method, options.which)
    if data.content_bounds() is None:
        raise InputError("平面布置图中没有可绘制的要素 / the layout has nothing to draw")
    levels_yaml = load_yaml("levels.yaml").get("levels", {})
    colour_words = {lv: str(levels_yaml.get(lv.value, {}).get("colour_zh", "")) for lv in LEVELS_HIGH_TO_LOW}
    return _Context(plant, data, options, stamp_of(plant, now), mapview.styles(), load_palette(), colour_words,
                    _profile_text(plant), _north(plant, data),
                    unit_dates={u.id: u.last_assessed for u in plant.units},
                    hazards=_hazard_points(data, hazards) if getattr(plant, "drawing", None) is None else None)


def _hazard_points(data: MapData, hazards: Any) -> pd.DataFrame | None:
    """The hazards in the plan's CRS with what their symbol shows, in the tiles' draw order (closed first, open
    on top)."""
    if hazards is None:
        return None
    from riskmap.render.style import load_hazard_style

    style = load_hazard_style()
    points = hazards[hazards.geometry.notna()]
    x, y = data.to_plan(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    group = [style.group_of(s) for s in points["state"]]
    out = pd.DataFrame({"x": x, "y": y, "level": points["danger_level"].to_numpy(dtype=int), "group": group,
                        "overdue": points["overdue"].to_numpy(dtype=bool)})
    order = {"closed": 0, "awaiting": 1, "open": 2}
    return out.iloc[np.argsort([order.get(g, 0) for g in group], kind="stable")].reset_index(drop=True)


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


def convergence_text(gamma: float) -> str:
    """The meridian convergence as a surveyor reads it: its size and on which side of true north grid north lies."""
    return f"子午线收敛角 {abs(gamma):.2f}°（坐标北在真北以{'东' if gamma > 0 else '西'}）"


# ---------------------------------------------------------------------------------------------- a page


def _subject(ctx: _Context, kind: str, arg) -> _Subject:
    data, method = ctx.data, ctx.options.method
    layers = ctx.options.shown(kind, getattr(ctx.plant, "drawing", None))
    if kind == "region":
        row = data.regions[data.regions["id"] == arg].iloc[0]
        b = shapely.bounds(row.geometry)
        pad = max(b[2] - b[0], b[3] - b[1]) * 0.12 + 5
        level = level_or_none(row["level"])
        return _Subject(kind, arg, row.geometry, (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad),
                        f"{row['name']}安全风险四色分布图（车间图）",
                        f"区域风险：{level.zh if level else '未评估'} · " + RULES_ZH[method], f"区域 {row['name']}",
                        layers)
    if kind == "bbox":
        return _Subject(kind, None, None, _plan_bounds(data, arg), "安全风险四色分布图（局部视图）",
                        "网页地图视图 · " + RULES_ZH[method], "所选范围", layers)
    drawing = getattr(ctx.plant, "drawing", None)
    if drawing is not None:          # a storey, a workshop plan or a schematic drawing: the page says which
        note = "示意图，不表示地理位置 · " if drawing.schematic else ""
        return _Subject(kind, None, None, data.content_bounds(), f"安全风险四色分布图（{drawing.label()}）",
                        f"{note}{drawing.to_json()['kind_zh']} · 区域风险" + RULES_ZH[method], "", layers)
    return _Subject(kind, None, None, data.content_bounds(), "安全风险四色分布图（总平面图）",
                    "红橙黄蓝四色安全风险空间分布图 · 区域风险" + RULES_ZH[method], "", layers)


@dataclass
class _Layout:
    """Where everything of one map page goes on one paper, and how large the map can be there."""

    paper: Paper
    header_top: float
    title_size: float
    sub_size: float
    stamp_size: float
    margin: float
    frame: tuple[float, float, float, float]
    legend: _Legend
    block: _Block
    signs: _SignOffs
    legend_pos: tuple[float, float]
    block_pos: tuple[float, float]
    signs_pos: tuple[float, float]
    fit: float                                # pt per plan metre at which the subject just fits the frame

    def fits(self, denominator: int) -> bool:
        return 72 / 0.0254 / denominator <= self.fit * (1 + 2 * mapview.FIT_MARGIN) * 1.0005


def _layout(ctx: _Context, subject: _Subject, p: Paper,
            extent: tuple[float, float, float, float] | None = None) -> _Layout:
    """The page's parts on paper `p`; the legend counts and shows what lies in `extent` (the map's view, once
    known; before that, the subject's bounds)."""
    f = p.factor
    W, H = p.width, p.height
    margin = mm(10) * f
    title_size, sub_size, stamp_size = 17 * f, 8.5 * f, 6 * f
    header_top = margin
    header_h = fonts.line_height(title_size, 1.25) + fonts.line_height(sub_size, 1.5)
    footer_h = fonts.line_height(stamp_size, 1.6)
    rows = _block_rows(ctx, subject)
    gap = mm(4) * f
    top, bottom = header_top + header_h, H - margin - footer_h
    if p.landscape:
        # a column on the right: legend, title block, sign-offs; smaller type when they do not fit its height
        for k in (1.0, 0.92, 0.85, 0.78, 0.72):
            legend = _Legend(ctx, subject, f * k, extent, min_width=mm(78) * f)
            panel_w = legend.width
            block, signs = _Block(rows, panel_w, f * k), _SignOffs(ctx.options.sign_offs, panel_w, f * k)
            if legend.height + gap + block.height + signs.height <= bottom - top:
                break
        frame = (margin, top, W - margin - panel_w - gap, bottom)
        legend_pos = (frame[2] + gap, top)
        block_pos = (frame[2] + gap, top + legend.height + gap)
    else:
        # a band under the map: the legend on the left, title block and sign-offs on the right
        legend = _Legend(ctx, subject, f, extent, min_width=W - 2 * margin - gap - mm(125) * f)
        block_w = min(W - 2 * margin - legend.width - gap, mm(125) * f)
        block, signs = _Block(rows, block_w, f), _SignOffs(ctx.options.sign_offs, block_w, f)
        band_h = max(legend.height, block.height + signs.height)
        legend.height = band_h
        frame = (margin, top, W - margin, bottom - gap - band_h)
        legend_pos = (margin, frame[3] + gap)
        block_pos = (W - margin - block_w, frame[3] + gap)
    signs_pos = (block_pos[0], block_pos[1] + block.height)
    fit = mapview.fit_scale(frame, subject.bounds)
    return _Layout(p, header_top, title_size, sub_size, stamp_size, margin, frame, legend, block, signs, legend_pos,
                   block_pos, signs_pos, fit)


def _choose_layout(ctx: _Context, subject: _Subject) -> _Layout:
    """The asked-for orientation, else the one that shows the map largest (at a given scale: the one it fits)."""
    options = ctx.options
    if options.landscape is not None:
        return _layout(ctx, subject, paper(options.paper, options.landscape, POSTER_PAPERS))
    portrait = _layout(ctx, subject, paper(options.paper, False, POSTER_PAPERS))
    landscape = _layout(ctx, subject, paper(options.paper, True, POSTER_PAPERS))
    if options.scale is not None:
        fitting = [lay for lay in (portrait, landscape) if lay.fits(options.scale)]
        if len(fitting) == 1:
            return fitting[0]
    return landscape if landscape.fit > portrait.fit * LANDSCAPE_GAIN else portrait


def _page(ctx: _Context, subject: _Subject) -> output.Page:
    lay = _choose_layout(ctx, subject)
    p = lay.paper
    f, W, H = p.factor, p.width, p.height
    css = CSS_PX_PT * f
    view = mapview.fit_view(lay.frame, subject.bounds, css, ctx.data.lat, ctx.options.scale, subject.what)
    # the legend counts and shows what the view shows (it may show more than the subject: paper is not the
    # subject's shape); its size may move the frame, so the view is fitted again (twice at most)
    for _ in range(2):
        lay = _layout(ctx, subject, p, view.extent)
        again = mapview.fit_view(lay.frame, subject.bounds, css, ctx.data.lat, ctx.options.scale, subject.what)
        settled = again.extent == view.extent
        view = again
        if settled:
            break
    drawing = getattr(ctx.plant, "drawing", None)
    schematic = drawing is not None and drawing.schematic     # no place on the earth: no north, no true scale
    scale_text = "示意图，不按比例 / not to scale" if schematic else \
        f"1:{view.denominator:,.0f}".replace(",", " ") + ("（按指定比例尺）" if ctx.options.scale else "")
    lay.block.set("比例尺", scale_text)
    north_box, scale_box = _furniture_boxes(view, f)

    recorder = output.PageRecorder(W, H)
    with recorder as canvas:
        canvas.drawRect(skia.Rect(0, 0, W, H), skia.Paint(Color=skia.ColorWHITE))
        _draw_header(canvas, ctx, p, lay.header_top, lay.title_size, lay.sub_size, subject.map_title,
                     subject.subtitle)
        placed, left_out = _draw_map(canvas, ctx, view, subject, (north_box, scale_box))
        if not schematic:
            _draw_north(canvas, ctx, north_box, f)
            _draw_scalebar(canvas, view, scale_box, f)
        canvas.drawRect(skia.Rect(*lay.frame), skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style,
                                                          Color=colour_int("#333333"), StrokeWidth=0.8 * f))
        lay.legend.draw(canvas, *lay.legend_pos, view)
        lay.block.draw(canvas, *lay.block_pos)
        lay.signs.draw(canvas, *lay.signs_pos)
        _draw_footer(canvas, ctx, W, H, lay.margin, lay.stamp_size)
    page = recorder.page
    page.meta.update(kind=subject.kind, region=subject.region_id, view=view, frame=lay.frame, north_box=north_box,
                     scale_box=scale_box, label_boxes=[lb.box for lb in placed], labels_left_out=left_out,
                     layers=sorted(subject.layers), landscape=p.landscape, page_no=ctx.page_no, fit=lay.fit,
                     legend_box=(*lay.legend_pos, lay.legend_pos[0] + lay.legend.width,
                                 lay.legend_pos[1] + lay.legend.height),
                     legend_symbols=lay.legend.symbol_boxes, legend_swatches=lay.legend.swatch_boxes,
                     legend_hazards=lay.legend.hazard_boxes,
                     leaders=[(*lb.anchor, lb.x, lb.y) for lb in placed if lb.leader])
    return page


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


def _draw_header(canvas, ctx: _Context, p: Paper, top: float, title_size: float, sub_size: float, map_title: str,
                 subtitle: str) -> None:
    W = p.width
    name = fonts.clean(ctx.plant.enterprise.name)
    title = f"{name}　{map_title}"
    max_w = W - mm(20) * p.factor
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


def _draw_map(canvas, ctx: _Context, view: MapView, subject: _Subject, reserved) -> tuple[list, list[str]]:
    """The layers of the page, bottom first, as the web map stacks its tiles (opaque colours, the plan's linework
    over them), then the names of what is drawn, none over another. Returns the placed labels and the names of
    regions whose label fitted nowhere."""
    data, styles, hatch, layers = ctx.data, ctx.styles, ctx.options.hatch, subject.layers
    canvas.save()
    canvas.clipRect(skia.Rect(*view.frame), skia.ClipOp.kIntersect, True)
    fine = view.fine(FINE_STEPS)
    canvas.save()
    canvas.scale(1 / FINE_STEPS, 1 / FINE_STEPS)
    if "regions" in layers:
        mapview.draw_layer(canvas, fine, data.regions, styles["regions"], hatch=hatch)
    if "units" in layers:
        mapview.draw_layer(canvas, fine, data.units, styles["units"], hatch=hatch)
    if "layout" in layers:
        mapview.draw_layer(canvas, fine, data.layout, styles["layout"])
    if subject.region_geom is not None:
        mapview.draw_highlight(canvas, fine, subject.region_geom)
    canvas.restore()
    if ctx.options.grid:
        mapview.draw_grid(canvas, view)
    placed: list = []
    left_out: list[str] = []
    if "labels" in layers:
        # region names as the web map's labels layer shows them (with or without the region colours); unit and
        # layout names only over units and linework that are drawn
        boxes = mapview.Boxes()
        rule = styles["regions"].label
        size = (rule.size if rule else 13) * view.css
        labels = mapview.region_labels(data, view, size, rule.max_chars if rule else 16)
        placed = mapview.place_labels(labels, view.frame, reserved, boxes=boxes)
        shown = {id(lb) for lb in placed}
        left_out = [lb.lines[0] for lb in labels if id(lb) not in shown]
        extra = []
        if "units" in layers:
            extra += mapview.feature_labels(data.units, styles["units"], view)
        if "layout" in layers:
            extra += mapview.feature_labels(data.layout, styles["layout"], view)
        placed_extra = mapview.place_labels(extra, view.frame, (), boxes=boxes) if extra else []
        mapview.draw_labels(canvas, placed_extra)
        mapview.draw_labels(canvas, placed)
        placed = placed + placed_extra
    if "hazards" in layers and ctx.hazards is not None:
        _draw_hazards(canvas, view, ctx.hazards)
    canvas.restore()
    return placed, left_out


def _draw_hazards(canvas, view: MapView, hazards: pd.DataFrame) -> None:
    """The hidden hazards over everything, each symbol drawn by the tiles' own code at its CSS size on paper."""
    from riskmap.render.hazardtiles import draw_symbol
    from riskmap.render.style import load_hazard_style

    style = load_hazard_style()
    if not len(hazards):
        return
    pts = view.to_pt(np.column_stack([hazards["x"].to_numpy(), hazards["y"].to_numpy()]))
    for (px, py), level, group, overdue in zip(pts, hazards["level"], hazards["group"], hazards["overdue"],
                                               strict=True):
        draw_symbol(canvas, style, float(px), float(py), int(level), group, bool(overdue), HAZARD_PAPER_Z, view.css)


def _furniture_boxes(view: MapView, f: float):
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
    # Under the arrow only what a reader needs: grid north when the drawing is not georeferenced, the meridian
    # convergence when grid north and true north differ visibly (riskmap.print.poster.CONVERGENCE_SHOWN_DEG).
    small = 4.6 * f
    gamma = ctx.convergence
    sub = "grid north" if not true_north else (f"子午线收敛角 {gamma:+.2f}°" if gamma is not None else "")
    if sub:
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
    """The legend: the four levels (and 未评估 when any) with counts, each swatch drawn as its layer draws it (the
    region tint; the units' full colour beside it when units are shown), then the plan's linework that the page
    shows (buildings, roads, fences, equipment …), each drawn by the map's own code at the map's scale."""

    def __init__(self, ctx: _Context, subject: _Subject, f: float,
                 extent: tuple[float, float, float, float] | None = None, min_width: float = 0.0):
        self.ctx, self.f = ctx, f
        self.layers = [n for n in ("regions", "units") if n in subject.layers]
        self.rows: list[tuple[str | None, str, str]] = []
        if self.layers:
            counts, unassessed, noun = mapview.legend_counts(
                ctx.data, subject.region_id, None if subject.kind == "plan" else extent or subject.bounds,
                self.layers[0])
            for lv in LEVELS_HIGH_TO_LOW:
                word = ctx.colour_words.get(lv) or ""
                self.rows.append((lv.value, f"{lv.zh}（{word}）" if word else lv.zh, f"{counts[lv]} 个{noun}"))
            if unassessed:
                self.rows.append((None, "未评估", f"{unassessed} 个{noun}"))
        style = ctx.styles["layout"]
        self.symbols = [(role, kind, style.class_of(role).zh) for role, kind in
                        mapview.layout_symbols(ctx.data.layout, style, extent or subject.bounds)] \
            if "layout" in subject.layers else []
        self.hazard_rows = _hazard_legend(ctx.hazards, extent or subject.bounds) \
            if "hazards" in subject.layers and ctx.hazards is not None else []
        self.hazard_boxes: list[tuple[str, tuple[float, float, float, float]]] = []      # (key, rect) once drawn
        self.symbol_boxes: list[tuple[str, tuple[float, float, float, float]]] = []     # (role, rect) once drawn
        self.swatch_boxes: list[tuple[str | None, str, tuple[float, float, float, float]]] = []   # (level, layer, …)
        notes = []
        if "regions" in self.layers:
            notes.append("区域按区域风险着色（浅色）")
        if "units" in self.layers:
            notes.append("单元按所在处最高等级着色" + ("（色块右半）" if len(self.layers) == 2 else ""))
        if ctx.options.hatch and self.layers:
            notes.append("图案区分等级")
        self.note = "，".join(notes)
        self.title = "图例 / Legend"
        self.size = 8 * f
        self.row_h = self.size * 2.0
        self.swatch = (mm(11) * f, self.size * 1.35)
        self.pad = mm(2.5) * f
        self.col_gap = mm(4) * f
        widths = [fonts.width(self.title, self.size * 1.05) + 2 * self.pad, min_width]
        if self.rows:
            name_w = max(fonts.width(r[1], self.size) for r in self.rows)
            count_w = max(fonts.width(r[2], self.size) for r in self.rows)
            widths.append(self.pad * 2 + self.swatch[0] + mm(2.5) * f + name_w + mm(5) * f + count_w)
        if self.note:
            widths.append(fonts.width(self.note, self.size * 0.72) + 2 * self.pad)
        self.item_w = self.swatch[0] + mm(2) * f + max((fonts.width(zh, self.size) for _, _, zh in self.symbols),
                                                       default=0.0)
        if self.symbols:
            widths.append(self.item_w + 2 * self.pad)
        self.hazard_w = self.swatch[0] + mm(2) * f + max((fonts.width(text, self.size) for _, text in
                                                          self.hazard_rows), default=0.0)
        if self.hazard_rows:
            widths.append(self.hazard_w + 2 * self.pad)
        self.width = max(widths)
        fit = int((self.width - 2 * self.pad + self.col_gap) // (self.item_w + self.col_gap)) if self.symbols else 1
        self.symbol_cols = max(1, min(fit, len(self.symbols)))
        symbol_rows = math.ceil(len(self.symbols) / self.symbol_cols)
        fit = int((self.width - 2 * self.pad + self.col_gap) // (self.hazard_w + self.col_gap))
        self.hazard_cols = max(1, min(fit, len(self.hazard_rows)))
        hazard_lines = math.ceil(len(self.hazard_rows) / self.hazard_cols)
        self.height = (self.pad * 2 + fonts.line_height(self.size * 1.05, 1.5) + len(self.rows) * self.row_h
                       + (fonts.line_height(self.size * 0.72, 1.5) if self.note else 0.0)
                       + ((fonts.line_height(self.size, 1.6) + symbol_rows * self.row_h) if self.symbols else 0.0)
                       + ((fonts.line_height(self.size, 1.6) + hazard_lines * self.row_h) if self.hazard_rows
                          else 0.0))

    def draw(self, canvas, x: float, y: float, view: MapView) -> None:
        f, size, ctx = self.f, self.size, self.ctx
        self.swatch_boxes, self.symbol_boxes, self.hazard_boxes = [], [], []
        _frame_box(canvas, (x, y, x + self.width, y + self.height), f)
        ascent, _ = fonts.metrics(size * 1.05)
        fonts.draw_text(canvas, self.title, x + self.pad, y + self.pad + ascent, size * 1.05, TEXT)
        cy = y + self.pad + fonts.line_height(size * 1.05, 1.5)
        a, _ = fonts.metrics(size)
        sw, sh = self.swatch
        for key, name, count in self.rows:
            sx, sy = x + self.pad, cy + (self.row_h - sh) / 2
            part = sw / len(self.layers)
            for i, layer in enumerate(self.layers):
                rect = (sx + i * part, sy, sx + (i + 1) * part, sy + sh)
                mapview.draw_symbol(canvas, rect, ctx.styles[layer], key, "polygon", view, hatch=ctx.options.hatch)
                self.swatch_boxes.append((key, layer, rect))
            baseline = cy + self.row_h / 2 + a / 2 - size * 0.08
            fonts.draw_text(canvas, name, sx + sw + mm(2.5) * f, baseline, size, TEXT)
            fonts.draw_text(canvas, count, x + self.width - self.pad, baseline, size, MUTED, align="right")
            cy += self.row_h
        if self.note:
            na, _ = fonts.metrics(size * 0.72)
            fonts.draw_text(canvas, self.note, x + self.pad, cy + na + size * 0.2, size * 0.72, MUTED)
            cy += fonts.line_height(size * 0.72, 1.5)
        if self.symbols:
            fonts.draw_text(canvas, "总平面布置", x + self.pad, cy + a + size * 0.3, size, MUTED)
            cy += fonts.line_height(size, 1.6)
            layout = ctx.styles["layout"]
            for k, (role, kind, zh) in enumerate(self.symbols):
                col, row = k % self.symbol_cols, k // self.symbol_cols
                sx = x + self.pad + col * (self.item_w + self.col_gap)
                sy = cy + row * self.row_h + (self.row_h - sh) / 2
                rect = (sx, sy, sx + sw, sy + sh)
                # equipment is small beside a building: its sample area is a square
                shape = (sx + (sw - sh) / 2, sy, sx + (sw + sh) / 2, sy + sh) if role == "equipment" else rect
                mapview.draw_symbol(canvas, shape, layout, role, kind, view, inset=0.25)
                self.symbol_boxes.append((role, rect))
                fonts.draw_text(canvas, zh, sx + sw + mm(2) * f, cy + row * self.row_h + self.row_h / 2 + a / 2
                                - size * 0.08, size, TEXT)
            cy += math.ceil(len(self.symbols) / self.symbol_cols) * self.row_h
        if self.hazard_rows:
            from riskmap.render.hazardtiles import draw_symbol
            from riskmap.render.style import load_hazard_style

            style = load_hazard_style()
            fonts.draw_text(canvas, "隐患（形状为等级，颜色为状态）", x + self.pad, cy + a + size * 0.3, size, MUTED)
            cy += fonts.line_height(size, 1.6)
            for k, (row_spec, text) in enumerate(self.hazard_rows):
                col, row = k % self.hazard_cols, k // self.hazard_cols
                sx = x + self.pad + col * (self.hazard_w + self.col_gap)
                sy = cy + row * self.row_h + (self.row_h - sh) / 2
                draw_symbol(canvas, style, sx + sw / 2, sy + sh / 2, int(row_spec["level"]), row_spec["group"],
                            bool(row_spec["overdue"]), HAZARD_PAPER_Z, view.css)
                self.hazard_boxes.append((row_spec["key"], (sx, sy, sx + sw, sy + sh)))
                fonts.draw_text(canvas, text, sx + sw + mm(2) * f, cy + row * self.row_h + self.row_h / 2 + a / 2
                                - size * 0.08, size, TEXT)


def _hazard_legend(hazards: pd.DataFrame, extent: tuple[float, float, float, float]) -> list[tuple[dict, str]]:
    """The legend rows of the hazards a page shows (layers/hazards.yaml's rows, only those drawn there; clusters
    are the screen's), each with its count where it counts hazards."""
    from riskmap.render.style import load_hazard_style

    w, s, e, n = extent
    inside = hazards[(hazards["x"] >= w) & (hazards["x"] <= e) & (hazards["y"] >= s) & (hazards["y"] <= n)]
    if not len(inside):
        return []
    out = []
    for row in load_hazard_style().legend():
        key = row["key"]
        if key.startswith("state-"):
            count = int((inside["group"] == row["group"]).sum())
            if count:
                out.append((row, f"{row['zh']} {count} 项"))
        elif key in ("level-major", "level-general"):
            count = int((inside["level"] == row["level"]).sum())
            if count:
                out.append((row, f"{row['zh']} {count} 项"))
        elif key == "overdue":
            count = int(inside["overdue"].sum())
            if count:
                out.append((row, f"{row['zh']} {count} 项"))
    return out


def _frame_box(canvas, box, f: float) -> None:
    canvas.drawRect(skia.Rect(*box), skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style,
                                                Color=colour_int("#333333"), StrokeWidth=0.6 * f))


def _newest(dates: Sequence[date | None]) -> date | None:
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def _block_rows(ctx: _Context, subject: _Subject) -> list[tuple[str, str]]:
    plant, options = ctx.plant, ctx.options
    info = plant.layout_info or {}
    region_id = subject.region_id
    if region_id is not None and region_id in ctx.data.risks:
        members = [c.unit_id for c in ctx.data.risks[region_id].contributing]
        assessed = _newest([ctx.unit_dates.get(u) for u in members])
    else:
        assessed = _newest(list(ctx.unit_dates.values()))
    source = info.get("source") or info.get("source_name") or ""
    layout = f"v{info.get('version')}" + (f"（{source}）" if source else "")
    scale_note = "（按指定比例尺）" if options.scale else ""
    crs = ctx.data.crs_label
    drawing = getattr(ctx.plant, "drawing", None)
    if drawing is not None and drawing.schematic:
        crs = "图纸自身平面（无地理位置）/ the drawing's own plane"
    if ctx.convergence is not None:
        crs += f"；{convergence_text(ctx.convergence)}"
    phone = fonts.clean(plant.enterprise.emergency_phone).strip()
    phones = (f"{phone}（企业）　" if phone else "企业应急电话未登记　") + PUBLIC_EMERGENCY
    rows = [
        ("企业", plant.enterprise.name),
        ("图名", subject.map_title),
        ("布局版本", layout),
        ("评估日期", assessed.isoformat() if assessed else "—"),
        ("打印日期", ctx.stamp.generated.date().isoformat() + "（北京时间）"),
        ("评价准则", ctx.profile_text),
        ("比例尺", "1:1 000 000" + scale_note),
        ("坐标系", crs),
        ("数据版本", f"v{plant.data_version}"),
        ("应急电话", phones),
    ]
    if ctx.stamp.as_of is not None:
        rows.insert(1, ("数据截至", ctx.stamp.as_of_text()))
    if ctx.pages_total > 1:
        rows.append(("页码", f"第 {ctx.page_no} / {ctx.pages_total} 页"))
    return rows


class _SignOffs:
    """The sign-off block under the title block: 编制, 审核 and 批准, each with a name and a date (RISKMAP_PREPARED_BY
    … in the settings); what the settings do not give is a blank line to sign and date by hand. Side by side when
    the block is wide enough, else one line each."""

    BLANK_DATE = "　　年　　月　　日"

    def __init__(self, entries: Sequence[SignOff], width: float, f: float):
        self.entries = tuple(entries) or BLANK_SIGN_OFFS
        self.width, self.f = width, f
        self.size = 7.2 * f
        self.pad = mm(1.6) * f
        self.line_h = fonts.line_height(self.size, 1.35)
        self.key_w = max(fonts.width(e.role, self.size) for e in self.entries) + mm(1.5) * f
        self.date_w = fonts.width(self.BLANK_DATE, self.size)
        names = [fonts.width(fonts.clean(e.name).strip(), self.size) for e in self.entries]
        need = self.key_w + max(max(names), self.date_w, mm(14) * f) + 2 * self.pad
        self.side_by_side = need * len(self.entries) <= width
        self.height = (2 * self.line_h + 2 * self.pad) if self.side_by_side else \
            len(self.entries) * (self.line_h + 2 * self.pad)

    def draw(self, canvas, x: float, y: float) -> None:
        f, size, pad, lh = self.f, self.size, self.pad, self.line_h
        _frame_box(canvas, (x, y, x + self.width, y + self.height), f)
        grid = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int("#999999"),
                          StrokeWidth=0.35 * f)
        a, d = fonts.metrics(size)
        n = len(self.entries)
        for i, entry in enumerate(self.entries):
            if self.side_by_side:
                cell = self.width / n
                cx, cy = x + i * cell, y
                if i:
                    canvas.drawLine(cx, y, cx, y + self.height, grid)
                spots = ((entry.role, cx, cy, cx + cell), ("日期", cx, cy + lh, cx + cell))
            else:
                row_h = lh + 2 * pad
                cx, cy = x, y + i * row_h
                if i:
                    canvas.drawLine(x, cy, x + self.width, cy, grid)
                mid = x + self.width - self.key_w - self.date_w - 3 * pad
                spots = ((entry.role, cx, cy, mid), ("日期", mid, cy, x + self.width))
            for k, (key, x0, y0, x1) in enumerate(spots):
                base = y0 + pad + (lh - (a + d)) / 2 + a
                fonts.draw_text(canvas, key, x0 + pad, base, size, MUTED)
                value = fonts.clean(entry.name).strip() if k == 0 else (entry.on.isoformat() if entry.on else "")
                left, room = x0 + pad + self.key_w, x1 - x0 - self.key_w - 2 * pad
                if value:
                    fonts.draw_text(canvas, fonts.fit_line(value, size, room), left, base, size, TEXT)
                elif k == 1:
                    fonts.draw_text(canvas, fonts.fit_line(self.BLANK_DATE, size, room), left, base, size, MUTED)
                else:                                  # a line to sign on
                    canvas.drawLine(left, base + d * 0.6, x1 - pad, base + d * 0.6, grid)


class _Contents:
    """The atlas's contents: the total plan, then the regions grouped by level in atlas order, each with the page
    its map is on (the contents come first, so the maps start after them)."""

    def __init__(self, ctx: _Context, jobs: list[tuple[str, Any]], drawings: Sequence[Any] = ()):
        self.ctx = ctx
        options = ctx.options
        self.paper = paper(options.paper, bool(options.landscape), POSTER_PAPERS)
        p, f = self.paper, self.paper.factor
        data = ctx.data
        names = dict(zip(data.regions["id"].tolist(), data.regions["name"].tolist(), strict=True))
        levels = dict(zip(data.regions["id"].tolist(), data.regions["level"].tolist(), strict=True))
        # ("head", text, None, None) or ("item", text, level code or None, index into jobs)
        self.entries: list[tuple[str, str, str | None, int | None]] = []
        group: object = ()
        for index, (kind, arg) in enumerate(jobs):
            if kind == "drawing":
                if group != "drawings":
                    group = "drawings"
                    self.entries.append(("head", f"其他图纸 · {len(drawings)} 张", None, None))
                self.entries.append(("item", drawings[arg].label(), "plan", index))
                continue
            if kind != "region":
                self.entries.append(("item", "总平面图（全厂）", "plan", index))
                continue
            level = level_or_none(levels[arg])
            if level != group:
                group = level
                n = sum(1 for k, a in jobs if k == "region" and level_or_none(levels[a]) == level)
                word = ctx.colour_words.get(level) if level else ""
                head = (f"{level.zh}（{word}）" if word else level.zh) if level else "未评估"
                self.entries.append(("head", f"{head} · {n} 个区域", None, None))
            self.entries.append(("item", str(names[arg]), level.value if level else None, index))
        self.margin = mm(10) * f
        self.title_size, self.sub_size, self.stamp_size = 17 * f, 8.5 * f, 6 * f
        self.size = 10 * f
        self.row_h = self.size * 2.0
        header_h = fonts.line_height(self.title_size, 1.25) + fonts.line_height(self.sub_size, 1.5)
        self.top = self.margin + header_h + mm(5) * f
        bottom = p.height - self.margin - fonts.line_height(self.stamp_size, 1.6) - mm(3) * f
        self.col_gap = mm(8) * f
        usable = p.width - 2 * self.margin
        self.cols = max(1, int((usable + self.col_gap) // (mm(85) * f + self.col_gap)))
        self.col_w = (usable - (self.cols - 1) * self.col_gap) / self.cols
        per_col = max(3, int((bottom - self.top) // self.row_h))
        # flow the entries column by column, page by page; a level's heading never ends a column, and a column
        # that goes on with a level's regions starts with its heading again ("（续）")
        self.layout: list[list[list[int]]] = [[[]]]
        entries, self.entries = self.entries, []
        heading = None
        for entry in entries:
            column = self.layout[-1][-1]
            full = len(column) >= per_col or (entry[0] == "head" and len(column) >= per_col - 1)
            if full and column:
                if len(self.layout[-1]) < self.cols:
                    self.layout[-1].append([])
                else:
                    self.layout.append([[]])
                if entry[0] == "item" and heading is not None and entry[2] != "plan":
                    self.entries.append(("head", f"{heading}（续）", None, None))
                    self.layout[-1][-1].append(len(self.entries) - 1)
            if entry[0] == "head":
                heading = entry[1]
            self.entries.append(entry)
            self.layout[-1][-1].append(len(self.entries) - 1)
        self.pages = len(self.layout)

    def draw(self) -> list[output.Page]:
        ctx, p = self.ctx, self.paper
        f, W, H = p.factor, p.width, p.height
        like = MapView((0.0, 0.0, 1.0, 1.0), (0.0, 0.0), 1000.0, CSS_PX_PT * f, ctx.data.lat)
        regions_style = ctx.styles["regions"]
        a, d = fonts.metrics(self.size)
        n_maps = ctx.pages_total - self.pages
        subtitle = (f"目录 / Contents · 共 {ctx.pages_total} 页：目录 {self.pages} 页，总平面图 1 页，区域车间图 "
                    f"{n_maps - 1} 页（按风险等级由高到低、再按名称拼音排序）")
        dots = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int("#999999"),
                          StrokeWidth=0.8 * f, StrokeCap=skia.Paint.kRound_Cap)
        dots.setPathEffect(skia.DashPathEffect.Make([0.01, 2.4 * f], 0.0))
        pages = []
        for number, columns in enumerate(self.layout, start=1):
            ctx.page_no = number
            listed = []
            recorder = output.PageRecorder(W, H)
            with recorder as canvas:
                canvas.drawRect(skia.Rect(0, 0, W, H), skia.Paint(Color=skia.ColorWHITE))
                _draw_header(canvas, ctx, p, self.margin, self.title_size, self.sub_size,
                             "安全风险四色分布图集　目录", subtitle)
                for c, column in enumerate(columns):
                    x0 = self.margin + c * (self.col_w + self.col_gap)
                    x1 = x0 + self.col_w
                    for r, i in enumerate(column):
                        kind, text, level, job = self.entries[i]
                        y = self.top + r * self.row_h
                        base = y + self.row_h / 2 + (a - d) / 2
                        if kind == "head":
                            fonts.draw_text(canvas, fonts.fit_line(text, self.size, self.col_w), x0, base, self.size,
                                            TEXT, bold=True)
                            continue
                        page_no = self.pages + job + 1
                        number_text = str(page_no)
                        nw = fonts.width(number_text, self.size)
                        tx = x0 + mm(2) * f
                        if level != "plan":
                            sw, sh = mm(7) * f, self.size * 1.1
                            mapview.draw_symbol(canvas, (tx, base - sh * 0.85, tx + sw, base + sh * 0.15),
                                                regions_style, level, "polygon", like)
                            tx += sw + mm(2) * f
                        name = fonts.fit_line(text, self.size, x1 - tx - nw - mm(6) * f)
                        fonts.draw_text(canvas, name, tx, base, self.size, TEXT, bold=level == "plan")
                        lead0, lead1 = tx + fonts.width(name, self.size) + mm(1.5) * f, x1 - nw - mm(1.5) * f
                        if lead1 > lead0:
                            canvas.drawLine(lead0, base, lead1, base, dots)
                        fonts.draw_text(canvas, number_text, x1, base, self.size, TEXT, align="right")
                        listed.append((text, page_no))
                _draw_footer(canvas, ctx, W, H, self.margin, self.stamp_size)
            page = recorder.page
            page.meta.update(kind="contents", entries=listed, landscape=p.landscape, page_no=number)
            pages.append(page)
        return pages


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
