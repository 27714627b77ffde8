"""Layer symbology as data: `layers/<name>.yaml` says how a layer's features are drawn.

This is the one source the PNG tiles, the web map (MVT styling, legend) and prints read. Level colours,
names and hatches come from `layers/levels.yaml` (riskmap.levels.load_palette), never from here, so an
enterprise that changes its palette changes every output at once.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from riskmap.errors import NotFoundError, RiskmapError
from riskmap.levels import LEVELS_HIGH_TO_LOW, Level, load_palette
from riskmap.symbology import layers_dir

LAYER_NAMES: tuple[str, ...] = ("regions", "units", "layout")
NO_LEVEL = "none"
# Hatch names understood by the renderers (levels.yaml uses the first four).
HATCHES: tuple[str, ...] = ("", "xx", "//", "..", "\\\\", "--", "||", "++")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_COLOUR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


class StyleError(RiskmapError, http_status=500):
    """A symbology file that cannot be used: a set-up problem of the server, not of the request."""


@dataclass(frozen=True)
class Stroke:
    """A line as drawn: colour, width in CSS px at @1x, and an optional dash pattern."""

    colour: str
    width: float                       # CSS px at @1x
    dash: tuple[float, ...] = ()       # on/off lengths in CSS px; empty = solid


# Shapes a point symbol may have (layout roles: a hydrant is a circle, an extinguisher a triangle …): emergency
# symbols are told apart by shape and a character, never by colour (the four level colours are the map's only
# hues).
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "hexagon")


@dataclass(frozen=True)
class PointSymbol:
    """How points of a class are drawn: a shape (a circle unless said) whose size follows zoom stops, with a fill,
    an outline and optionally one character in it (集, 栓 …)."""

    sizes: tuple[tuple[int, float], ...]   # (zoom, circle diameter in CSS px) stops, linear in between
    fill: str | None
    outline: Stroke | None
    shape: str = "circle"
    mark: str = ""                         # one character drawn in the middle of the shape
    mark_colour: str = "#000000"

    @property
    def plain(self) -> bool:
        """A plain dot (drawn as a stamped sprite or a round point); else a shape with a mark (drawn as a path)."""
        return self.shape == "circle" and not self.mark

    @cached_property
    def size(self) -> float:
        """The largest diameter (what the symbol reaches at high zoom)."""
        return max(s for _, s in self.sizes)

    def size_at(self, z: float) -> float:
        """The diameter at zoom z, interpolated linearly between the stops (clamped at the ends)."""
        zs = [zz for zz, _ in self.sizes]
        return float(np.interp(z, zs, [s for _, s in self.sizes]))


@dataclass(frozen=True)
class SymbolClass:
    """How one class of features (a risk level, or a layout role) is drawn. Fills are always opaque: the colour
    a legend shows is the colour on the map, and no two level colours ever blend."""

    key: str                           # level code ("major" …), "none" (not assessed), or a layout role
    zh: str
    en: str
    fill: str | None                   # polygon fill (a level's colour or its tint), None = no fill
    outline: Stroke | None             # polygon outline
    line: Stroke | None                # line geometries
    casing: Stroke | None              # drawn under `line`, `width` on each side
    point: PointSymbol
    hatch: str = ""                    # pattern name (levels.yaml), drawn over the fill when asked
    grey: str | None = None            # greyscale print colour (levels.yaml)
    arrows: Arrows | None = None       # arrowheads along lines, in the direction of the vertex order


@dataclass(frozen=True)
class Arrows:
    """Arrowheads along a line in the direction of its vertex order (an escape route's direction of travel):
    one every `spacing` CSS px of line, `size` CSS px long, in `colour`."""

    spacing: float
    size: float
    colour: str


@dataclass(frozen=True)
class HatchRule:
    """The hatch pattern laid over the areas of classes that have one: colour, opacity, cell spacing and line width."""

    colour: str
    opacity: float
    spacing: float                     # pattern cell in CSS px; divides 256 so patterns join across tiles
    width: float


@dataclass(frozen=True)
class LabelRule:
    """Which field labels a layer's features, from which zoom, in which type size and halo; `priority` decides
    collisions between layers."""

    field: str
    min_zoom: int
    size: float                        # CSS px
    colour: str
    halo_colour: str
    halo_width: float
    max_chars: int
    priority: int                      # higher wins label collisions across layers


@dataclass(frozen=True)
class LayerStyle:
    """One layer's style as read from layers/<name>.yaml: its classes in draw order, zoom range and thresholds, hatch
    and labels; every renderer and export reads it."""

    name: str
    title_zh: str
    title_en: str
    classify: str                      # "level" or "role"
    field: str                         # the attribute that picks the class
    classes: tuple[SymbolClass, ...]   # draw order, bottom first: for levels, not assessed → low → … → major
    default_class: str                 # key used for missing or unknown values
    min_zoom: int
    max_zoom: int
    outline_min_px: float              # features smaller than this get no outline
    tiny_px: float                     # features smaller than this are drawn as one pixel of their colour
    hatch: HatchRule
    label: LabelRule | None
    source: str = ""
    outlines_on_top: bool = False      # neutral outlines drawn after every fill (a unit inside a higher one shows
    #                                    its shape); level-coloured outlines go with their class's fill instead
    vector_min_zoom: int | None = None  # MVT tiles start here (None: at min_zoom)
    buckets: tuple[tuple[str, float], ...] = ()   # (role, max days) of a layer classified by days (staleness)
    _index: dict[str, int] = dc_field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({c.key: i for i, c in enumerate(self.classes)})

    def class_of(self, key: str) -> SymbolClass:
        """The class of a key; KeyError for an unknown one (map values through `default_class` first)."""
        return self.classes[self._index[key]]

    def visible(self, z: int) -> bool:
        """Whether the layer is drawn at zoom z (PNG)."""
        return self.min_zoom <= z <= self.max_zoom

    @property
    def mvt_min_zoom(self) -> int:
        """The first zoom at which MVT tiles carry this layer (may be later than PNG's)."""
        return self.min_zoom if self.vector_min_zoom is None else max(self.min_zoom, self.vector_min_zoom)

    def visible_as(self, fmt: str, z: int) -> bool:
        """Whether tiles of this format draw anything at zoom z (MVT may start later than PNG)."""
        return (self.mvt_min_zoom if fmt == "mvt" else self.min_zoom) <= z <= self.max_zoom

    def labels_at(self, z: int) -> bool:
        """Whether labels are drawn at zoom z."""
        return self.label is not None and z >= self.label.min_zoom and self.visible(z)

    @cached_property
    def _reach(self) -> float:
        reach = 0.0
        for c in self.classes:
            reach = max(reach, c.point.size / 2 + (c.point.outline.width if c.point.outline else 0))
            if c.arrows is not None:
                reach = max(reach, c.arrows.size)
            for s in (c.outline, c.line):
                if s is not None:
                    reach = max(reach, s.width / 2)
            if c.casing is not None and c.line is not None:
                reach = max(reach, c.line.width / 2 + c.casing.width)
        return reach

    def max_draw_px(self) -> float:
        """The farthest any symbol reaches beyond its geometry, CSS px (point radius, stroke half-widths)."""
        return self._reach

    def class_indices(self, values: Any) -> np.ndarray:
        """The class (index into `classes`) of each value of the classifying attribute; unknown → default."""
        default = self._index[self.default_class]
        series = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
        if len(series) == 0:
            return np.zeros(0, dtype=np.int16)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        lookup = np.array([self._key_index(u) for u in uniques] + [default], dtype=np.int16)
        return lookup[codes]          # code -1 (missing) picks the trailing default

    def _key_index(self, value: Any) -> int:
        default = self._index[self.default_class]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return default
        if self.classify == "level":
            try:
                return self._index[Level.parse(value).value]
            except ValueError:
                return default
        return self._index.get(str(value).strip().lower(), default)

    def legend(self) -> list[dict[str, Any]]:
        """Legend entries, most important first (major → low → not assessed; or layout roles top first); `fill`
        is exactly the colour drawn for that class on this layer."""
        entries = []
        for c in reversed(self.classes):
            entries.append({"key": c.key, "zh": c.zh, "en": c.en, "fill": c.fill,
                            "outline": _stroke_json(c.outline), "hatch": c.hatch, "grey": c.grey})
        return entries

    def rank_of(self, key: str) -> int:
        """A class's place in the draw order (0 = bottom): for levels, 0 not assessed, 1 low … 4 major."""
        return self._index[key]

    def to_json(self) -> dict[str, Any]:
        """Everything the browser needs to draw this layer from MVT and to show its legend."""
        return {
            "name": self.name,
            "title": {"zh": self.title_zh, "en": self.title_en},
            "classify": self.classify,
            "field": self.field,
            "default_class": self.default_class,
            "min_zoom": self.min_zoom,
            "max_zoom": self.max_zoom,
            "vector_min_zoom": self.mvt_min_zoom,
            "outlines_on_top": self.outlines_on_top,
            "buckets": [{"role": role, "max_days": None if math.isinf(days) else days} for role, days in self.buckets],
            "outline_min_px": self.outline_min_px,
            "classes": [
                {"key": c.key, "rank": i, "zh": c.zh, "en": c.en, "fill": c.fill,
                 "outline": _stroke_json(c.outline), "line": _stroke_json(c.line),
                 "casing": _stroke_json(c.casing),
                 "point": {"size": c.point.size, "size_stops": [list(st) for st in c.point.sizes],
                           "fill": c.point.fill, "outline": _stroke_json(c.point.outline),
                           "shape": c.point.shape, "mark": c.point.mark, "mark_colour": c.point.mark_colour},
                 "arrows": asdict(c.arrows) if c.arrows else None,
                 "hatch": c.hatch, "grey": c.grey}
                for i, c in enumerate(self.classes)
            ],
            "hatch": asdict(self.hatch),
            "label": asdict(self.label) if self.label else None,
            "legend": self.legend(),
        }


def _stroke_json(stroke: Stroke | None) -> dict[str, Any] | None:
    if stroke is None:
        return None
    return {"colour": stroke.colour, "width": stroke.width, "dash": list(stroke.dash)}


# ---------------------------------------------------------------------------------------------- loading


def available_layers(directory: Path | None = None) -> list[str]:
    """The names of the layer styles in the folder (levels.yaml is the palette, not a layer)."""
    folder = directory or layers_dir()
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem not in OWN_FORMAT and _NAME_RE.match(p.stem))


OWN_FORMAT = ("levels", "hazards")     # symbology files that are not LayerStyle files (load_hazard_style)


def load_layer_style(name: str, directory: Path | None = None) -> LayerStyle:
    """The style of one layer (`regions`, `units`, `layout`, or another file in `layers/`).

    Unknown name → NotFoundError; a broken file → StyleError naming the file and the problem.
    """
    folder = directory or layers_dir()
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in OWN_FORMAT:
        raise NotFoundError(f"没有名为 “{str(name)[:80]}” 的图层 / no layer named {str(name)[:80]!r}")
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = "、".join(available_layers(folder)) or "无 / none"
        raise NotFoundError(f"没有名为 “{name}” 的图层，可选：{known} / no layer named {name!r}")
    levels = folder / "levels.yaml"
    levels_mtime = levels.stat().st_mtime if levels.is_file() else 0.0
    return _load_cached(str(path), path.stat().st_mtime, str(folder), levels_mtime)


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime: float, folder: str, levels_mtime: float) -> LayerStyle:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行 / line {mark.line + 1}" if mark else ""
        raise StyleError(f"图层样式文件 {Path(path).name} 不是有效的 YAML {where}：{exc} / "
                         f"layer style {Path(path).name} is not valid YAML") from None
    except UnicodeDecodeError:
        raise StyleError(f"图层样式文件 {Path(path).name} 不是 UTF-8 编码 / layer style "
                         f"{Path(path).name} is not UTF-8") from None
    try:
        palette = load_palette(Path(folder))
    except (KeyError, TypeError, OSError) as exc:
        raise StyleError(f"levels.yaml 无法读取：{exc} / the level palette levels.yaml is broken") from None
    return _parse(data, Path(path).name, Path(path).stem, palette)


class _Reader:
    """Reads one mapping of the YAML with typed, located errors and a check for misspelt keys."""

    def __init__(self, data: Any, where: str, file: str, allowed: tuple[str, ...]):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise self._error(file, where, "应为映射 / must be a mapping")
        unknown = sorted(set(map(str, data)) - set(allowed))
        if unknown:
            raise self._error(file, where, f"未知的键 {', '.join(unknown)}，可用：{', '.join(allowed)} / "
                                           f"unknown keys {unknown}")
        self.data, self.where, self.file = data, where, file

    @staticmethod
    def _error(file: str, where: str, message: str) -> StyleError:
        loc = f"{where}: " if where else ""
        return StyleError(f"图层样式 {file} 有误：{loc}{message} / layer style {file} is invalid at "
                          f"{where or 'top level'}")

    def error(self, key: str, message: str) -> StyleError:
        return self._error(self.file, f"{self.where}.{key}" if self.where else key, message)

    def has(self, key: str) -> bool:
        return key in self.data

    def sub(self, key: str, allowed: tuple[str, ...]) -> _Reader:
        where = f"{self.where}.{key}" if self.where else key
        return _Reader(self.data.get(key), where, self.file, allowed)

    def number(self, key: str, default: float | None, lo: float = 0.0, hi: float = 1e6) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(key, f"应为数字，得到 {value!r} / must be a number")
        if not lo <= value <= hi:
            raise self.error(key, f"应在 {lo} 与 {hi} 之间，得到 {value} / must be between {lo} and {hi}")
        return float(value)

    def integer(self, key: str, default: int | None, lo: int, hi: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"应为整数，得到 {value!r} / must be an integer")
        if not lo <= value <= hi:
            raise self.error(key, f"应在 {lo} 与 {hi} 之间，得到 {value} / must be between {lo} and {hi}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"应为非空文本，得到 {value!r} / must be non-empty text")
        return value.strip()

    def colour(self, key: str, default: str | None = None, allow_none: bool = False,
               allow_level: bool = False) -> str | None:
        value = self.data.get(key, default)
        if value is None and allow_none:
            return None
        if allow_level and value == "level":
            return "level"
        if not isinstance(value, str) or not _COLOUR_RE.match(value):
            extra = "或 level / or 'level'" if allow_level else ""
            raise self.error(key, f"应为 #RRGGBB 颜色{extra}，得到 {value!r} / must be a #RRGGBB colour")
        return _full_hex(value)

    def sizes(self, key: str, default: float) -> tuple[tuple[int, float], ...]:
        """A size, or zoom stops {zoom: size} (e.g. {15: 2, 19: 7}) for symbols that grow as one zooms in."""
        value = self.data.get(key, default)
        if isinstance(value, dict):
            stops = []
            for z, size in value.items():
                if isinstance(z, bool) or not isinstance(z, int) or not 0 <= z <= 24:
                    raise self.error(key, f"缩放级别应为 0–24 的整数，得到 {z!r} / zoom stops must be integers 0–24")
                if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0.5 <= size <= 64:
                    raise self.error(key, f"尺寸应在 0.5 与 64 之间，得到 {size!r} / sizes must be 0.5–64 px")
                stops.append((z, float(size)))
            if not stops:
                raise self.error(key, "至少需要一个缩放级别 / needs at least one stop")
            return tuple(sorted(stops))
        return ((0, self.number(key, default, 0.5, 64)),)

    def dash(self, key: str) -> tuple[float, ...]:
        value = self.data.get(key, [])
        if value is None:
            return ()
        if (not isinstance(value, list) or len(value) % 2 or
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 100 for v in value)):
            raise self.error(key, f"应为偶数个正数（实线段、空白段），得到 {value!r} / must be an even list of "
                                  "positive on/off lengths")
        return tuple(float(v) for v in value)


def _full_hex(colour: str) -> str:
    if len(colour) == 4:
        colour = "#" + "".join(ch * 2 for ch in colour[1:])
    return colour.upper()


_TOP_KEYS = ("name", "title", "classify", "field", "default", "min_zoom", "max_zoom", "fill", "outline", "line",
             "point", "hatch", "label", "roles", "tiny_px", "vector_min_zoom", "buckets")
# Keys of older styles that would blend colours; refused with the reason rather than as unknown.
_TRANSLUCENT = "不支持半透明填充：两种等级颜色叠加会混出不属于任何等级的颜色，请用 tint（与白色混合的比例）/ " \
               "translucent fills are not supported: two level colours over each other blend into a colour that " \
               "is no level; use tint (the share of the colour mixed with white)"
_STROKE_KEYS = ("colour", "width", "dash")
_POINT_KEYS = ("size", "outline_colour", "outline_width", "fill")
_ROLE_POINT_KEYS = (*_POINT_KEYS, "shape", "mark", "mark_colour")


def _parse(data: Any, file: str, stem: str, palette) -> LayerStyle:
    top = _Reader(data, "", file, _TOP_KEYS)
    name = top.text("name", stem)
    if name != stem:
        raise top.error("name", f"应与文件名 {stem} 一致 / must equal the file name {stem!r}")
    title = top.sub("title", ("zh", "en"))
    classify = top.text("classify", "level")
    if classify not in ("level", "role"):
        raise top.error("classify", "应为 level 或 role / must be 'level' or 'role'")
    min_zoom = top.integer("min_zoom", 0, 0, 24)
    max_zoom = top.integer("max_zoom", 24, min_zoom, 24)
    vector_min_zoom = top.integer("vector_min_zoom", min_zoom, min_zoom, max_zoom)
    outline_r = top.sub("outline", ("colour", "width", "min_feature_px", "dash"))
    outline_min_px = outline_r.number("min_feature_px", 0.0, 0, 1000)
    tiny_px = top.number("tiny_px", 1.0, 0, 100)

    hatch_r = top.sub("hatch", ("colour", "opacity", "spacing", "width"))
    spacing = hatch_r.number("spacing", 8, 2, 64)
    if 256 % spacing:
        raise hatch_r.error("spacing", "应整除 256（图案跨瓦片衔接）/ must divide 256 so hatches join across tiles")
    hatch = HatchRule(hatch_r.colour("colour", "#000000"), hatch_r.number("opacity", 0.6, 0, 1), spacing,
                      hatch_r.number("width", 1, 0.1, 16))

    label = None
    if top.has("label") and top.data["label"] is not None:
        lr = top.sub("label", ("field", "min_zoom", "size", "colour", "halo_colour", "halo_width", "max_chars",
                               "priority"))
        label = LabelRule(lr.text("field", "name"), lr.integer("min_zoom", 18, 0, 24), lr.number("size", 12, 4, 64),
                          lr.colour("colour", "#1A1A1A"), lr.colour("halo_colour", "#FFFFFF"),
                          lr.number("halo_width", 2, 0, 16), lr.integer("max_chars", 16, 1, 64),
                          lr.integer("priority", 0, -1000, 1000))

    if classify == "level":
        if top.has("roles"):
            raise top.error("roles", "按等级着色的图层不能有 roles / a level layer has no roles")
        classes = _level_classes(top, outline_r, palette)
        field_name = top.text("field", "level")
        default = NO_LEVEL
        if top.has("default"):
            raise top.error("default", "按等级着色的图层缺省为未评估 / a level layer's default is 'none'")
    else:
        for key in ("fill", "line", "point"):
            if top.has(key):
                raise top.error(key, "按角色着色的图层在 roles 下逐类设置 / set it per role under roles")
        classes = _role_classes(top)
        field_name = top.text("field", "role")
        default = top.text("default", "other")
        if default not in {c.key for c in classes}:
            raise top.error("default", f"{default} 不在 roles 中 / {default!r} is not one of the roles")
    buckets = _buckets(top, {c.key for c in classes}) if top.has("buckets") else ()
    return LayerStyle(name=name, title_zh=title.text("zh", name), title_en=title.text("en", name),
                      classify=classify, field=field_name, classes=tuple(classes), default_class=default,
                      min_zoom=min_zoom, max_zoom=max_zoom, outline_min_px=outline_min_px, tiny_px=tiny_px,
                      hatch=hatch, label=label, source=file,
                      outlines_on_top=classify == "level" and outline_r.data.get("colour", "level") != "level",
                      vector_min_zoom=vector_min_zoom, buckets=buckets)


def _level_classes(top: _Reader, outline_r: _Reader, palette) -> list[SymbolClass]:
    fill_r = top.sub("fill", ("tint", "no_level", "opacity", "no_level_opacity"))
    for key in ("opacity", "no_level_opacity"):
        if fill_r.has(key):
            raise fill_r.error(key, _TRANSLUCENT)
    tint = fill_r.number("tint", 1.0, 0.1, 1)
    no_level = fill_r.colour("no_level", "#BDBDBD")
    outline_colour = outline_r.colour("colour", "level", allow_level=True)
    outline_width = outline_r.number("width", 1, 0, 32)
    outline_dash = outline_r.dash("dash")
    line_r = top.sub("line", ("width", "casing_colour", "casing_width", "dash"))
    line_width = line_r.number("width", 3, 0.1, 64)
    line_dash = line_r.dash("dash")
    casing_colour = line_r.colour("casing_colour", None, allow_none=True)
    casing_width = line_r.number("casing_width", 0.75 if casing_colour else 0, 0, 16)
    point_r = top.sub("point", _POINT_KEYS)
    point_size = point_r.sizes("size", 7)
    point_outline_colour = point_r.colour("outline_colour", "#303030", allow_none=True)
    point_outline_width = point_r.number("outline_width", 1, 0, 16)

    def make(key: str, zh: str, en: str, colour: str, fill: str, hatch: str, grey: str | None):
        """Areas are filled with `fill` (the colour's tint); outlines, lines and point symbols are drawn in the
        full colour (a thin line in a tint would be too faint to read)."""
        oc = colour if outline_colour == "level" else outline_colour
        outline = Stroke(oc, outline_width, outline_dash) if outline_width > 0 else None
        casing = Stroke(casing_colour, casing_width) if casing_colour and casing_width > 0 else None
        p_outline = (Stroke(point_outline_colour, point_outline_width)
                     if point_outline_colour and point_outline_width > 0 else None)
        return SymbolClass(key, zh, en, fill, outline, Stroke(colour, line_width, line_dash), casing,
                           PointSymbol(point_size, colour, p_outline), hatch, grey)

    classes = [make(NO_LEVEL, "未评估", "Not assessed", no_level, no_level, "", None)]
    for level in reversed(LEVELS_HIGH_TO_LOW):           # low first: major is drawn on top
        ls = palette.styles[level]
        if not _COLOUR_RE.match(str(ls.fill)):
            raise StyleError(f"levels.yaml 中 {level.value} 的颜色 {ls.fill!r} 无效 / bad colour in levels.yaml")
        if ls.hatch not in HATCHES:
            raise StyleError(f"levels.yaml 中 {level.value} 的填充图案 {ls.hatch!r} 无效，可用：{HATCHES} / "
                             f"unknown hatch in levels.yaml")
        colour = _full_hex(ls.fill)
        classes.append(make(level.value, ls.zh, ls.en, colour, tinted(colour, tint), ls.hatch, ls.grey))
    return classes


def tinted(colour: str, share: float) -> str:
    """`colour` mixed with white, `share` of the colour (1: the colour itself), as #RRGGBB: a lighter fill that is
    still opaque, computed once so that the legend can show it exactly."""
    if share >= 1:
        return colour
    rgb = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(255 - share * (255 - v)):02X}" for v in rgb)


def _buckets(top: _Reader, roles: set[str]) -> tuple[tuple[str, float], ...]:
    """`buckets`: a list of {role, max_days}, ascending; the last may leave max_days out (anything older)."""
    items = top.data["buckets"]
    if not isinstance(items, list) or not items:
        raise top.error("buckets", "应为非空列表 / must be a non-empty list")
    out: list[tuple[str, float]] = []
    for i, item in enumerate(items):
        r = _Reader(item if isinstance(item, dict) else {}, f"buckets[{i}]", top.file, ("role", "max_days"))
        role = r.text("role")
        if role not in roles:
            raise r.error("role", f"{role} 不在 roles 中 / {role!r} is not one of the roles")
        last = i == len(items) - 1
        days = math.inf if last and not r.has("max_days") else r.number("max_days", None, 0, 100000)
        if out and days <= out[-1][1]:
            raise r.error("max_days", "应逐项增大 / must increase from one bucket to the next")
        out.append((role, days))
    return tuple(out)


def _role_classes(top: _Reader) -> list[SymbolClass]:
    roles_r = top.sub("roles", tuple(map(str, (top.data.get("roles") or {}).keys())))
    if not roles_r.data:
        raise top.error("roles", "至少需要一个角色 / needs at least one role")
    classes = []
    for role in roles_r.data:
        r = roles_r.sub(str(role), ("zh", "en", "fill", "fill_opacity", "outline", "line", "casing", "point",
                                    "hatch", "arrows"))
        if r.has("fill_opacity"):
            raise r.error("fill_opacity", _TRANSLUCENT)
        fill = r.colour("fill", None, allow_none=True)

        def stroke(key: str, rr: _Reader = r) -> Stroke | None:
            if not rr.has(key) or rr.data[key] is None:
                return None
            s = rr.sub(key, _STROKE_KEYS)
            width = s.number("width", 1, 0, 64)
            return Stroke(s.colour("colour"), width, s.dash("dash")) if width > 0 else None

        outline, line, casing = stroke("outline"), stroke("line"), stroke("casing")
        pr = r.sub("point", _ROLE_POINT_KEYS)
        p_fill = pr.colour("fill", fill or (line.colour if line else "#808080"), allow_none=True)
        p_outline_colour = pr.colour("outline_colour", outline.colour if outline else "#555555")
        p_outline_width = pr.number("outline_width", 0.75, 0, 16)
        shape = pr.text("shape", "circle")
        if shape not in SHAPES:
            raise pr.error("shape", f"未知的形状 {shape!r}，可用：{'、'.join(SHAPES)} / unknown shape; use one of "
                                    f"{', '.join(SHAPES)}")
        mark = pr.text("mark") if pr.has("mark") else ""
        if len(mark) > 1:
            raise pr.error("mark", f"只能是一个字符，得到 {mark!r} / must be one character")
        point = PointSymbol(pr.sizes("size", 5), p_fill,
                            Stroke(p_outline_colour, p_outline_width) if p_outline_width > 0 else None,
                            shape, mark, pr.colour("mark_colour", "#000000"))
        arrows = None
        if r.has("arrows") and r.data["arrows"] is not None:
            ar = r.sub("arrows", ("spacing", "size", "colour"))
            arrows = Arrows(ar.number("spacing", 60, 8, 2000), ar.number("size", 6, 1, 64),
                            ar.colour("colour", line.colour if line else "#000000"))
        hatch = str(r.data.get("hatch", "") or "")
        if hatch not in HATCHES:
            raise r.error("hatch", f"未知的图案 {hatch!r}，可用：{HATCHES} / unknown hatch")
        classes.append(SymbolClass(str(role), r.text("zh", str(role)), r.text("en", str(role)), fill,
                                   outline, line, casing, point, hatch, None, arrows))
    return classes


def styles_json(directory: Path | None = None) -> dict[str, Any]:
    """Every layer's style and the level palette in one document, for the web map and print legends."""
    palette = load_palette(directory or layers_dir())
    levels = [{"key": lv.value, "zh": ls.zh, "en": ls.en, "fill": ls.fill, "hatch": ls.hatch, "grey": ls.grey,
               "rank": lv.rank} for lv, ls in ((lv, palette.styles[lv]) for lv in LEVELS_HIGH_TO_LOW)]
    return {"levels": levels,
            "layers": {name: load_layer_style(name, directory).to_json() for name in available_layers(directory)}}


def clear_cache() -> None:
    """Forget the parsed styles (cached per file and modification time, so an edited file is reread anyway)."""
    _load_cached.cache_clear()


# ---------------------------------------------------------------------------------------------- hazards


HAZARD_SHAPES = ("diamond", "circle")


@dataclass(frozen=True)
class HazardStyle:
    """The hazards layer's symbology (layers/hazards.yaml): its own format because hazards are symbols, not
    classified features, and must never take a risk colour (checked at load)."""

    name: str
    title_zh: str
    title_en: str
    min_zoom: int
    max_zoom: int
    shapes: dict[str, str]                  # "major" / "general" → diamond | circle
    size: tuple[tuple[int, float], ...]     # (zoom, diameter px) steps
    outline: dict[str, Any]
    groups: dict[str, dict[str, Any]]       # group → zh, en, fill, states
    halo: dict[str, Any]
    cluster_below: int
    cluster_px: float
    cluster: dict[str, Any]
    max_symbols: int = 400                  # more hazards in reach of one tile are clustered at any zoom

    @property
    def mvt_min_zoom(self) -> int:
        """Vector tiles start where PNG tiles start (clusters are few features)."""
        return self.min_zoom

    def visible_as(self, fmt: str, z: int) -> bool:
        """Whether tiles in ``fmt`` draw anything at zoom ``z``."""
        return self.min_zoom <= z <= self.max_zoom

    def size_at(self, z: int) -> float:
        """The symbol diameter (CSS px) at zoom ``z``: the last step at or below it."""
        found = self.size[0][1]
        for zoom, px in self.size:
            if z >= zoom:
                found = px
        return found

    def group_of(self, state: str) -> str:
        """The fill group of a workflow state (an unknown one draws as closed: grey, never a risk colour)."""
        for name, group in self.groups.items():
            if state in group["states"]:
                return name
        return "closed"

    def reach_px(self, z: int) -> float:
        """How far a symbol (with its halo, or a cluster with its badges) reaches from its point, CSS px."""
        single = self.size_at(z) / 2 + float(self.halo["gap"]) + float(self.halo["width"]) * 2
        return max(single, float(self.cluster["size"]) * 0.9)

    def colours(self) -> list[str]:
        """Every colour the layer draws (checked against the level colours)."""
        found = [self.outline["colour"], self.halo["colour"], self.halo["casing"]]
        found += [g["fill"] for g in self.groups.values()]
        found += [v for k, v in self.cluster.items() if k != "size"]
        return [_full_hex(c) for c in found]

    def legend(self) -> list[dict[str, Any]]:
        """Legend rows: each fill group, the two shapes, the overdue halo and a cluster."""
        rows = [{"key": f"state-{k}", "zh": g["zh"], "en": g["en"], "group": k, "level": 0, "overdue": False}
                for k, g in self.groups.items()]
        rows += [{"key": "level-major", "zh": "重大隐患（菱形）", "en": "Major hazard (diamond)", "group": "open",
                  "level": 1, "overdue": False},
                 {"key": "level-general", "zh": "一般隐患（圆形）", "en": "General hazard (circle)", "group": "open",
                  "level": 0, "overdue": False},
                 {"key": "overdue", "zh": "已超期（外圈）", "en": "Overdue (ring)", "group": "open", "level": 0,
                  "overdue": True},
                 {"key": "cluster", "zh": "聚合：总数、重大数、超期数", "en": "Cluster: count, major, overdue",
                  "group": "", "level": 0, "overdue": False}]
        return rows

    def to_json(self) -> dict[str, Any]:
        """The style as JSON (style signature, API)."""
        return {"name": self.name, "title": {"zh": self.title_zh, "en": self.title_en}, "min_zoom": self.min_zoom,
                "max_zoom": self.max_zoom, "shapes": self.shapes, "size": [list(s) for s in self.size],
                "outline": self.outline, "groups": self.groups, "halo": self.halo,
                "cluster_below": self.cluster_below, "cluster_px": self.cluster_px, "cluster": self.cluster,
                "max_symbols": self.max_symbols}


def colour_distance(a: str, b: str) -> float:
    """Euclidean RGB distance of two #RRGGBB colours."""
    a, b = _full_hex(a), _full_hex(b)
    return math.dist([int(a[i:i + 2], 16) for i in (1, 3, 5)], [int(b[i:i + 2], 16) for i in (1, 3, 5)])


RISK_COLOURS = ("#FF0000", "#FF8C00", "#FFFF00", "#0070C0")   # the national four, whatever the palette says


def load_hazard_style(directory: Path | None = None) -> HazardStyle:
    """layers/hazards.yaml, checked: every state in one group, shapes known, no colour near a risk colour (of
    the national four or of the palette in use). A broken file → StyleError."""
    folder = directory or layers_dir()
    path = folder / "hazards.yaml"
    if not path.is_file():
        raise NotFoundError("没有隐患图层样式 layers/hazards.yaml / no hazards layer style")
    return _load_hazard_cached(str(path), path.stat().st_mtime, str(folder))


@lru_cache(maxsize=4)
def _load_hazard_cached(path: str, mtime: float, folder: str) -> HazardStyle:
    from riskmap.hazards.model import State

    def bad(why: str) -> StyleError:
        return StyleError(f"{path}: {why}")

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        style = HazardStyle(
            name="hazards", title_zh=str(data["title"]["zh"]), title_en=str(data["title"]["en"]),
            min_zoom=int(data["min_zoom"]), max_zoom=int(data["max_zoom"]), shapes=dict(data["shapes"]),
            size=tuple(sorted((int(k), float(v)) for k, v in data["size"].items())), outline=dict(data["outline"]),
            groups={str(k): dict(v) for k, v in data["groups"].items()}, halo=dict(data["halo"]),
            cluster_below=int(data["cluster_below"]), cluster_px=float(data["cluster_px"]),
            cluster=dict(data["cluster"]), max_symbols=int(data.get("max_symbols", 400)))
    except (KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
        raise bad(f"格式有误 / malformed ({exc})") from None
    if set(style.shapes) != {"major", "general"} or not set(style.shapes.values()) <= set(HAZARD_SHAPES):
        raise bad("shapes 应给出 major 与 general 的 diamond|circle / shapes must map major and general to "
                  "diamond|circle")
    listed = [s for g in style.groups.values() for s in g.get("states", [])]
    if sorted(listed) != sorted(s.value for s in State):
        raise bad("每个隐患状态必须恰好属于一个 group / every hazard state must be in exactly one group")
    for colour in style.colours():
        if not _COLOUR_RE.match(colour):
            raise bad(f"颜色应为 #RRGGBB：{colour} / colours must be #RRGGBB")
    palette = load_palette(Path(folder))
    risk = [*RISK_COLOURS, *(palette.styles[lv].fill for lv in Level)]
    limit = float(data.get("min_distance", 120))
    for colour in style.colours():
        near = [r for r in risk if colour_distance(colour, r) < limit]
        if near:
            raise bad(f"隐患不得使用风险等级颜色或相近颜色：{colour} 接近 {near[0]} / hazards must never be drawn in "
                      f"a risk colour: {colour} is near {near[0]}")
    return style
