"""The offline web map page (`/map`): a folium page whose every script, style and font is served by riskmap.

folium writes the Leaflet skeleton; its default assets point at public CDNs, which an intranet cannot reach,
so they are swapped for the pinned local copies (`web/package.json`) and the rendered page is checked: a URL
outside the server's own origin in any src, href or url() is an error, not a blank map at a customer site.
The page draws with tiles (PNG, by their versioned TileJSON) and asks the server on click (identify) and for
search; `riskmap/static/map.js` does that, putting user text into the DOM with textContent only.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from riskmap.levels import LEVELS_HIGH_TO_LOW, Palette

DEFAULT_POLL_SECONDS = 15
UNASSESSED_FILL = "#BDBDBD"      # only when no style says otherwise (layers/*.yaml `no_level`)

# folium's default assets (Map.default_js / default_css, folium 0.20) → (package, file) in web/package.json, or
# None: not loaded. folium asks for jQuery, Bootstrap, Font Awesome and Leaflet.awesome-markers for its own
# plugins and popups; this page uses none of them (riskmap/static/map.js builds its controls with Leaflet and
# the DOM, styled by static/map.css), and they were 460 KB of a cold load. Only Leaflet is kept. A name folium
# adds later is an error until it is listed here, so an upgrade never slips a CDN URL or a new need past us.
FOLIUM_ASSETS: dict[str, tuple[str, str] | None] = {
    "leaflet": ("leaflet", "dist/leaflet.js"),
    "jquery": None,
    "bootstrap": None,
    "awesome_markers": None,
    "leaflet_css": ("leaflet", "dist/leaflet.css"),
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers_font_css": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
}

# Any URL that leaves the server: http(s)://… or //host… in src=, href=, or CSS url(…).
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?|url\(\s*["']?)\s*((?:https?:)?//[^"'\s)>]*)""",
    re.IGNORECASE)

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "四色安全风险空间分布图", "plan": "总平面图", "drawing": "图纸", "storeys": "楼层",
        "schematic_note": "示意图：不表示地理位置",
        "workshop": "车间图", "legend": "图例",
        "level": "风险等级", "regions": "区域", "units": "单元", "region": "区域", "unit": "单元",
        "unassessed": "未评估",
        "layer_regions": "区域风险", "layer_units": "评估单元", "layer_labels": "标注", "layer_layout": "总平面布置",
        "layer_basemap": "底图",
        "search": "搜索区域或单元名称、编号…", "no_results": "没有找到", "more_results": "另有 {n} 项",
        "print": "打印当前视图", "whole_plant": "返回总平面图", "switch_lang": "English",
        "explanation": "判定依据", "decided_by": "决定单元", "deciding_event": "决定事件", "rule": "规则",
        "last_assessed": "最近评估", "oldest_assessed": "最早评估", "department": "责任部门",
        "responsible": "责任人", "events": "风险事件", "controls": "管控措施", "emergency": "应急措施",
        "accident_type": "事故类型", "evaluation": "评价", "members": "区域内单元", "children": "下级单元",
        "more_units": "此处另有 {n} 个单元", "nothing_here": "此处没有区域或评估单元",
        "open_workshop": "打开车间图", "units_in_region": "本区域的评估单元", "data_version": "数据版本",
        "updated": "数据已更新，地图已刷新", "error": "请求失败", "path": "所属", "kind": "类型",
        "loading": "加载中…", "region_level": "区域等级",
        "layer_staleness": "评估时效（距上次评估天数）", "staleness": "距上次评估",
        "layer_coverage": "排查覆盖（今天）", "coverage_legend": "排查覆盖（今天）",
        "flagged_only": "仅显示需重新评估的单元",
        "flags_title": "需重新评估的单元", "flags_none": "没有需要重新评估的单元", "flags": "需重新评估",
        "historical": "历史视图：{at}（北京时间）", "back_to_now": "返回当前", "edit": "编辑总平面布置",
        "days_since": "{n} 天未评估", "never_assessed": "从未评估", "emergency_legend": "应急设施",
        "layer_hazards": "隐患", "hazard_legend": "隐患（形状为等级，颜色为状态）", "hazards_here": "附近的隐患",
        "hazard_overdue": "已超期", "hazards_list": "未关闭的隐患", "hazards_none": "没有未关闭的隐患",
        "coverage_here": "排查覆盖", "last_check": "上次排查", "next_due": "下次应检", "no_check_yet": "尚无排查记录",
        "nothing_due": "暂无应检", "checkpoint": "巡检点（二维码）", "checkpoint_issued": "签发于", "late": "补检",
    },
    "en": {
        "title": "Four-colour safety risk map", "plan": "Plant plan", "drawing": "Drawing", "storeys": "Storeys",
        "schematic_note": "Schematic drawing: no place on the earth",
        "workshop": "Workshop map", "legend": "Legend",
        "level": "Risk level", "regions": "regions", "units": "units", "region": "region", "unit": "unit",
        "unassessed": "Not assessed",
        "layer_regions": "Region risk", "layer_units": "Assessment units", "layer_labels": "Labels",
        "layer_layout": "Plant layout", "layer_basemap": "Basemap",
        "search": "Search regions or units by name or id…", "no_results": "Nothing found",
        "more_results": "{n} more", "print": "Print this view", "whole_plant": "Back to the plant plan",
        "switch_lang": "中文",
        "explanation": "Why this colour", "decided_by": "Deciding unit", "deciding_event": "Deciding event",
        "rule": "Rule", "last_assessed": "Last assessed", "oldest_assessed": "Oldest assessment",
        "department": "Department", "responsible": "Responsible", "events": "Risk events", "controls": "Controls",
        "emergency": "Emergency measures", "accident_type": "Accident type", "evaluation": "Evaluation",
        "members": "Units in the region", "children": "Sub-units", "more_units": "{n} more units here",
        "nothing_here": "No region or assessment unit here", "open_workshop": "Open the workshop map",
        "units_in_region": "Assessment units of this region", "data_version": "Data version",
        "updated": "Data changed: the map was refreshed", "error": "Request failed", "path": "Part of",
        "kind": "Kind", "loading": "Loading…", "region_level": "Region level",
        "layer_staleness": "Assessment age (days since last)", "staleness": "Days since assessment",
        "layer_coverage": "Inspection coverage (today)", "coverage_legend": "Inspection coverage (today)",
        "flagged_only": "Flagged units only", "flags_title": "Units to re-assess",
        "flags_none": "No unit needs re-assessment", "flags": "Needs re-assessment",
        "historical": "Historical view as of {at} (Beijing time)", "back_to_now": "Back to now",
        "edit": "Edit the layout", "days_since": "{n} days since assessed", "never_assessed": "never assessed",
        "emergency_legend": "Emergency features",
        "layer_hazards": "Hidden hazards", "hazard_legend": "Hidden hazards (shape: level, colour: state)",
        "hazards_here": "Hazards nearby", "hazard_overdue": "overdue", "hazards_list": "Open hazards",
        "hazards_none": "No open hazard",
        "coverage_here": "Inspection coverage", "last_check": "Last check", "next_due": "Next due",
        "no_check_yet": "no check recorded yet", "nothing_due": "nothing due", "checkpoint": "Checkpoint (QR code)",
        "checkpoint_issued": "issued", "late": "late",
    },
}

# Tile layers the page can show, bottom first: (name, text key, shown at start in the plant plan, shown at start
# in a workshop map). The plan is the regions' four colours; a workshop map shows its units over them. Colours
# are opaque (no two level colours ever blend), so the plan's linework (layout) lies over them, not under.
TILE_LAYERS: tuple[tuple[str, str, bool, bool], ...] = (
    ("basemap", "layer_basemap", True, True),
    ("regions", "layer_regions", True, True),
    ("units", "layer_units", False, True),
    ("layout", "layer_layout", True, True),
    ("staleness", "layer_staleness", False, False),
    ("coverage", "layer_coverage", False, False),
    ("hazards", "layer_hazards", True, True),      # above every colour, never in a risk colour (hazards.yaml)
    ("labels", "layer_labels", True, True),
)


@dataclass(frozen=True)
class PageAssets:
    """The local URLs of everything the page loads."""

    js: list[tuple[str, str]]
    css: list[tuple[str, str]]
    app_js: str
    app_css: str
    favicon: str
    dom_js: str                   # static/dom.js, shared with the editor; loaded before app_js


def page_assets(vendor_url: Callable[[str, str], str], app_url: Callable[[str], str]) -> PageAssets:
    """folium's default assets mapped onto the pinned local copies (raises when one is not installed)."""
    import folium

    def local(entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for name, _cdn in entries:
            if name not in FOLIUM_ASSETS:
                raise RuntimeError(f"folium asks for an asset riskmap does not know: {name!r} "
                                   "(add it to web/package.json and FOLIUM_ASSETS)")
            target = FOLIUM_ASSETS[name]
            if target is not None:
                out.append((name, vendor_url(*target)))
        return out

    return PageAssets(local(list(folium.Map.default_js)), local(list(folium.Map.default_css)),
                      app_url("map.js"), app_url("map.css"), app_url("favicon.svg"), app_url("dom.js"))


def external_urls(page: str) -> list[str]:
    """URLs in src/href/url() that leave the server (absolute http(s) or protocol-relative)."""
    return _EXTERNAL.findall(page)


@dataclass(frozen=True)
class MapSummary:
    """What the legend and the first view need: as drawn by the tiles (region risk by the highest level)."""

    enterprise: str
    data_version: int
    bounds: list[float] | None                 # [west, south, east, north], lon/lat
    region_counts: dict[str, int]              # level code -> regions drawn in that level
    unit_counts: dict[str, int]                # level code -> units drawn in that level
    regions_unassessed: int = 0
    units_unassessed: int = 0


def legend_swatches(regions_style, units_style) -> dict[str, dict[str, str | None]]:
    """The colour each layer draws for each class ({layer: {level code or "none": "#RRGGBB"}}), from the layer
    styles: the legend shows exactly what the tiles paint (regions in their tint, units in the full colour)."""
    return {style.name: {c.key: c.fill for c in style.classes} for style in (regions_style, units_style)}


def emergency_drawn(store, enterprise_name: str) -> dict[str, str]:
    """The emergency roles the map draws for an enterprise, each with the geometry kind most of its features have
    ("point", "line" or "polygon"), read from the map snapshot the tiles draw (one small aggregate query over
    bounding boxes: a point's box has no size): what emergency_legend lists. Read only."""
    from sqlalchemy import and_, case, func, select

    from riskmap.geo.model import EMERGENCY_ROLES
    from riskmap.store.mapdata import MapFeatureRow, current_state

    t = MapFeatureRow
    is_point = case((and_(t.minx == t.maxx, t.miny == t.maxy), "point"), else_="shape")
    with store.session() as s:
        state = current_state(s, enterprise_name)
        if not state:
            return {}
        rows = s.execute(select(t.kind, is_point, func.count())
                         .where(t.enterprise_id == state[0][0], t.layer == "layout",
                                t.kind.in_(EMERGENCY_ROLES), t.minx.is_not(None))
                         .group_by(t.kind, is_point)).all()
    counts: dict[str, dict[str, int]] = {}
    for role, kind, n in rows:
        counts.setdefault(str(role), {})[str(kind)] = int(n)
    return {role: _kind_of(role, c) for role, c in counts.items()}


def emergency_kinds(roles, geometries) -> dict[str, str]:
    """The same answer as emergency_drawn from features already in hand (a drawing's map data: its layout layer's
    `kind` attribute and geometries), for the legend of a drawing other than the site plan."""
    import shapely

    from riskmap.geo.model import EMERGENCY_ROLES

    counts: dict[str, dict[str, int]] = {}
    for role, geom in zip(roles, geometries, strict=True):
        if role in EMERGENCY_ROLES and geom is not None:
            kind = "point" if shapely.get_type_id(geom) in (0, 4) else "shape"
            counts.setdefault(str(role), {}).setdefault(kind, 0)
            counts[str(role)][kind] += 1
    return {role: _kind_of(role, c) for role, c in counts.items()}


def _kind_of(role: str, counts: dict[str, int]) -> str:
    """The legend's sample kind of a role from its point and shape counts: lines for escape routes (their only
    shape), areas for the others' shapes, the more frequent winning (shapes on a tie)."""
    shape = "line" if role == "escape_route" else "polygon"
    return "point" if counts.get("point", 0) > counts.get("shape", 0) else shape


def emergency_legend(layout_style, drawn: Mapping[str, str]) -> list[dict[str, Any]]:
    """The web legend's emergency rows: each emergency role drawn on the map (`drawn`: role → "point", "line" or
    "polygon", what most of its features are), top of the draw order first, with its symbol as the tiles draw it
    (a PNG data URL made by the tiles' own code)."""
    from riskmap.geo.model import EMERGENCY_ROLES

    rows = []
    for c in reversed(layout_style.classes):
        if c.key in EMERGENCY_ROLES and c.key in drawn:
            rows.append({"key": c.key, "zh": c.zh, "en": c.en, "kind": drawn[c.key],
                         "image": _symbol_data_url(layout_style, c.key, drawn[c.key])})
    return rows


def coverage_legend(coverage_style) -> list[dict[str, Any]]:
    """The web legend's coverage rows: each state, top of the draw order first (missed … no checks), then the
    checkpoints, each with its swatch as the coverage tiles draw it (hatching included)."""
    rows = []
    for c in reversed(coverage_style.classes):
        kind = "point" if c.key == "checkpoint" else "polygon"
        rows.append({"key": c.key, "zh": c.zh, "en": c.en, "kind": kind,
                     "image": _symbol_data_url(coverage_style, c.key, kind, True)})
    return rows


def hazard_legend() -> list[dict[str, Any]]:
    """The web legend's hazard rows, each with its symbol as the hazards tiles draw it (a PNG data URL)."""
    from riskmap.render.style import load_hazard_style
    from riskmap.render.tilecache import style_signature

    style = load_hazard_style()
    signature = style_signature(style)
    found = _HAZARD_ROWS.get(signature)
    if found is None:
        _HAZARD_ROWS.clear()                     # one style in use at a time
        found = _HAZARD_ROWS[signature] = _hazard_rows(style)
    return found


_HAZARD_ROWS: dict[str, list[dict[str, Any]]] = {}


def _hazard_rows(style) -> list[dict[str, Any]]:
    from riskmap.render.hazardtiles import legend_png

    return [{"key": row["key"], "zh": row["zh"], "en": row["en"],
             "image": "data:image/png;base64," + base64.b64encode(legend_png(style, row)).decode("ascii")}
            for row in style.legend()]


@lru_cache(maxsize=64)
def _symbol_data_url(layer_style, key: str, kind: str, filled: bool = False) -> str:
    """A legend symbol as a PNG data URL, drawn once per style version (styles are frozen and re-read on change)."""
    from riskmap.render.png import legend_symbol_png

    png = legend_symbol_png(layer_style, key, kind, filled=filled, palette=True)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def map_config(summary: MapSummary, *, region: dict[str, Any] | None, lang: str, palette: Palette,
               layers: list[dict[str, Any]], urls: Mapping[str, str],
               poll_seconds: int = DEFAULT_POLL_SECONDS, at: str | None = None, at_local: str | None = None,
               staleness_legend: list[dict[str, Any]] | None = None,
               swatches: dict[str, dict[str, str | None]] | None = None,
               emergency: list[dict[str, Any]] | None = None,
               hazards: list[dict[str, Any]] | None = None,
               coverage: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the page script needs, as plain JSON: view, legend with counts, layers, URLs, texts.

    `region` (a workshop map) is the identify answer of that region: its member units give the counts.
    `at` (the page's ?at= as given, already checked): a historical view, drawn as of that moment; its legend
    has no counts (the snapshot counts are today's) and it does not poll (the past does not change).
    `swatches` (legend_swatches): the colours the region and unit tiles draw; by default the palette's.
    `emergency` (emergency_legend): the emergency features drawn, listed under the levels.
    `hazards` (hazard_legend): the hazard symbols, shown while the hazards layer is on.
    `coverage` (coverage_legend): the coverage states, shown while the coverage layer is on."""
    swatches = swatches or {}
    if region is not None:
        unit_counts = {lv.value: 0 for lv in LEVELS_HIGH_TO_LOW}
        for u in region["units"]:
            if u["level"] is not None:
                unit_counts[u["level"]] += 1
        unassessed = {"regions": None, "units": sum(1 for u in region["units"] if u["level"] is None)}
        region_counts = None
        bounds = region.get("bbox") or summary.bounds
    else:
        unit_counts = summary.unit_counts
        region_counts = summary.region_counts
        unassessed = {"regions": summary.regions_unassessed, "units": summary.units_unassessed}
        bounds = summary.bounds
    legend = []
    for lv in LEVELS_HIGH_TO_LOW:
        style = palette.styles[lv]
        legend.append({"level": lv.value, "zh": style.zh, "en": style.en, "fill": style.fill,
                       "region_fill": swatches.get("regions", {}).get(lv.value, style.fill),
                       "unit_fill": swatches.get("units", {}).get(lv.value, style.fill),
                       "units": None if at else unit_counts.get(lv.value, 0),
                       "regions": None if region_counts is None or at else region_counts.get(lv.value, 0)})
    if at:
        unassessed = {"regions": None, "units": None}
    return {
        "lang": lang,
        "text": TEXT[lang],
        "enterprise": summary.enterprise,
        "data_version": summary.data_version,
        "view": "workshop" if region is not None else "plan",
        "bounds": bounds,
        "region": None if region is None else {
            k: region.get(k) for k in ("id", "name", "level", "level_zh", "level_en", "explanation",
                                       "decided_by", "last_assessed", "units", "bbox")},
        "legend": legend,
        "unassessed": unassessed,
        "unassessed_fill": {"regions": swatches.get("regions", {}).get("none", UNASSESSED_FILL),
                            "units": swatches.get("units", {}).get("none", UNASSESSED_FILL)},
        "layers": layers,
        "urls": dict(urls),
        "poll_seconds": 0 if at else poll_seconds,
        "at": at,
        "at_local": at_local or at,
        "staleness_legend": staleness_legend or [],
        "emergency_legend": emergency or [],
        "hazard_legend": hazards or [],
        "coverage_legend": coverage or [],
    }


def json_for_script(value: Any) -> str:
    """JSON that cannot end the <script> element it sits in, whatever the user's text contains."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render_map_page(config: dict[str, Any], assets: PageAssets) -> str:
    """The HTML page: folium's map with local assets, the config as inert JSON and the start call."""
    import folium
    from branca.element import Element, MacroElement
    from jinja2 import Template

    text = config["text"]
    west, south, east, north = config["bounds"] or (73.0, 18.0, 135.0, 54.0)   # China when nothing is mapped
    m = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=16, tiles=None,
                   control_scale=False, zoom_control=True, max_zoom=22, min_zoom=2, font_size="14px",
                   fade_animation=False)       # a refreshed tile replaces the old colour at once
    m.default_js = [*assets.js, ("riskmap_dom", assets.dom_js), ("riskmap_app", assets.app_js)]
    m.default_css = [*assets.css, ("riskmap_css", assets.app_css)]
    figure = m.get_root()
    view = text["workshop"] + "：" + config["region"]["name"] if config.get("region") else text["plan"]
    title = f"{config['enterprise']} · {view} · {text['title']}"
    figure.header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="riskmap_title")
    figure.header.add_child(Element(f'<link rel="icon" href="{html.escape(assets.favicon)}" type="image/svg+xml">'),
                            name="riskmap_icon")
    # The TileJSONs of the layers shown first are fetched while the scripts load (the script asks for @2x
    # tiles on screens of 1.5 dppx and more, hence two media-bound preloads per layer).
    preloads = "".join(
        f'<link rel="preload" as="fetch" crossorigin="anonymous" href="{html.escape(url)}" media="{media}">'
        for layer in config["layers"] if layer["visible"]
        for url, media in ((layer["tilejson"], "(max-resolution: 1.49dppx)"),
                           (layer["tilejson"] + "&scale=2", "(min-resolution: 1.5dppx)")))
    figure.header.add_child(Element(preloads), name="riskmap_preload")
    figure.html.add_child(Element(
        f'<script type="application/json" id="riskmap-config">{json_for_script(config)}</script>'
        f'<noscript>{html.escape(text["title"])}: JavaScript</noscript>'), name="riskmap_config")

    class _Start(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}"
            "RiskMap.start({{ this._parent.get_name() }}, document.getElementById('riskmap-config'));"
            "{% endmacro %}")

    m.add_child(_Start())
    page = figure.render()
    page = page.replace("<html>", f'<html lang="{"zh-CN" if config["lang"] == "zh" else "en"}">', 1)
    leaks = external_urls(page)
    if leaks:
        raise RuntimeError(f"the map page would load from outside the server: {leaks[:5]}")
    return page


def message_page(title: str, message: str, links: list[tuple[str, str]] | None = None,
                 favicon: str | None = None) -> str:
    """A plain page for errors and choices (no scripts): every piece of text escaped."""
    items = "".join(f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>' for label, href in links or [])
    icon = f'<link rel="icon" href="{html.escape(favicon)}" type="image/svg+xml">' if favicon else ""
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>{icon}"
        "<style>body{font-family:sans-serif;margin:2em;max-width:48em}li{margin:.3em 0}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f"{'<ul>' + items + '</ul>' if items else ''}</body></html>")
