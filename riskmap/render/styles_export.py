"""Styles for other GIS clients, generated from the one symbology (layers/*.yaml, riskmap.render.style): a MapLibre
style.json per map, QGIS styles (QML) that travel in every exported GeoPackage, and an SLD for GeoServer.

Each reproduces what the PNG tiles paint (riskmap.render.order): opaque fills in exactly the style's colours,
painted class by class, lowest first (not assessed, low … major), larger areas first within a class, so that a
place always shows the highest level drawn there.
- MapLibre: `fill-sort-key`/`line-sort-key`/`circle-sort-key` by `rank` (the vector tiles also list features in
  draw order), colours matched on `rank` from the style; one layer per layout role (dashes are not data-driven).
- QGIS: a categorized renderer on `rank` with symbol levels (a class's fill on level `rank`; neutral unit
  outlines on a level above every fill, as the tiles draw them) and feature order `rank` ascending, `$area`
  descending; the legend lists the classes most important first, each with the colour drawn.
- SLD 1.0: one FeatureTypeStyle per class in draw order (GeoServer renders them in sequence), each rule titled
  with the class's name for GetLegendGraphic.
Widths are the style's CSS pixels, written as points (1 px = 0.75 pt) for QGIS and SLD, so prints keep them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from riskmap.render.style import HazardStyle, LayerStyle, Stroke, SymbolClass, load_hazard_style, load_layer_style
from riskmap.vocabulary import PART_ZH, split_table, table_names

PT_PER_PX = 0.75
POINT_ZOOM = 18                     # the zoom whose symbol size QGIS and SLD (one size, no zoom) use
QGIS_VERSION = "3.22.16-Białowieża"
# The maps a MapLibre style is made for: name → (title zh, title en, data layers bottom first, raster labels).
MAPS: dict[str, tuple[str, str, tuple[str, ...], bool]] = {
    "risk": ("四色安全风险分布图", "Four-colour risk map", ("regions", "units", "layout"), True),
    "regions": ("区域风险", "Region risk", ("regions", "layout"), True),
    "units": ("评估单元", "Assessment units", ("units", "layout"), True),
    "staleness": ("评估时效", "Days since assessment", ("staleness", "layout"), False),
}

# Maps whose MapLibre style draws the hidden hazards above the risk colours (as the web map and the prints do).
HAZARD_MAPS = ("risk",)


def _rgba(colour: str | None) -> str:
    if not colour:
        return "0,0,0,0"
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5)) + ",255"


def _pt(px: float) -> str:
    return f"{px * PT_PER_PX:.4g}"


def legend_label(c: SymbolClass) -> str:
    """A class's legend text, "中文 / English", as QGIS and SLD legends show it."""
    return f"{c.zh} / {c.en}"


# ---------------------------------------------------------------------------------------------------- QGIS


def _options(parent: ET.Element, props: dict[str, str]) -> None:
    """A symbol layer's properties, as QGIS 3.22 writes them (an Option map, and the older prop list)."""
    options = ET.SubElement(parent, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(options, "Option", type="QString", name=key, value=value)
    for key, value in props.items():
        ET.SubElement(parent, "prop", k=key, v=value)


def _symbol_layer(symbol: ET.Element, cls: str, level: int, props: dict[str, str]) -> None:
    layer = ET.SubElement(symbol, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": str(level)})
    _options(layer, props)


def _line_props(stroke: Stroke, width_px: float | None = None) -> dict[str, str]:
    props = {"line_color": _rgba(stroke.colour), "line_width": _pt(width_px if width_px is not None else stroke.width),
             "line_width_unit": "Point", "line_style": "solid", "capstyle": "round", "joinstyle": "round",
             "use_custom_dash": "0"}
    if stroke.dash:
        props.update({"use_custom_dash": "1", "customdash": ";".join(_pt(d) for d in stroke.dash),
                      "customdash_unit": "Point"})
    return props


def _qgis_symbol(parent: ET.Element, name: str, style: LayerStyle, c: SymbolClass, rank: int, part: str) -> None:
    """The symbol of one class on one geometry part; symbol levels: fills on `rank`, neutral outlines on top."""
    top = len(style.classes)
    if part == "areas":
        symbol = ET.SubElement(parent, "symbol", type="fill", name=name, alpha="1", clip_to_extent="1",
                               force_rhr="0")
        outline = c.outline
        fill_props = {"color": _rgba(c.fill), "style": "solid" if c.fill else "no", "outline_style": "no",
                      "outline_color": "0,0,0,0", "outline_width": "0", "outline_width_unit": "Point",
                      "joinstyle": "miter"}
        if outline is not None and not (style.outlines_on_top and c.fill):
            fill_props.update({"outline_style": "solid" if not outline.dash else "dash",
                               "outline_color": _rgba(outline.colour), "outline_width": _pt(outline.width)})
        if outline is not None and outline.dash:
            # a dashed outline is a line layer of its own (SimpleFill has no custom dash)
            fill_props.update({"outline_style": "no"})
        _symbol_layer(symbol, "SimpleFill", rank, fill_props)
        if outline is not None and (outline.dash or (style.outlines_on_top and c.fill)):
            level = top if style.outlines_on_top and c.fill else rank
            _symbol_layer(symbol, "SimpleLine", level, _line_props(outline))
    elif part == "lines":
        symbol = ET.SubElement(parent, "symbol", type="line", name=name, alpha="1", clip_to_extent="1",
                               force_rhr="0")
        if c.line is not None and c.casing is not None:
            _symbol_layer(symbol, "SimpleLine", rank,
                          _line_props(c.casing, c.line.width + 2 * c.casing.width))
        if c.line is not None:
            _symbol_layer(symbol, "SimpleLine", rank, _line_props(c.line))
    else:
        symbol = ET.SubElement(parent, "symbol", type="marker", name=name, alpha="1", clip_to_extent="1",
                               force_rhr="0")
        p = c.point
        props = {"name": p.shape, "color": _rgba(p.fill), "size": _pt(p.size_at(POINT_ZOOM)), "size_unit": "Point",
                 "outline_style": "solid" if p.outline else "no",
                 "outline_color": _rgba(p.outline.colour if p.outline else None),
                 "outline_width": _pt(p.outline.width if p.outline else 0), "outline_width_unit": "Point",
                 "scale_method": "diameter"}
        if not p.fill:
            props["color"] = "0,0,0,0"
        _symbol_layer(symbol, "SimpleMarker", rank, props)


def qgis_qml(layer: str, part: str = "areas") -> str:
    """A QGIS style (QML) for one geometry part of a layer (see the module docstring)."""
    style = load_layer_style(layer)
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology|Legend")
    renderer = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr="rank", symbollevels="1",
                             enableorderby="1", forceraster="0", referencescale="-1")
    categories = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    ranked = list(enumerate(style.classes))
    for rank, c in reversed(ranked):            # legend: most important first
        ET.SubElement(categories, "category", value=str(rank), symbol=str(rank), label=legend_label(c),
                      render="true", type="integer")
    for rank, c in ranked:
        _qgis_symbol(symbols, str(rank), style, c, rank, part)
    order = ET.SubElement(renderer, "orderby")
    ET.SubElement(order, "orderByClause", asc="1", nullsFirst="0").text = '"rank"'
    if part == "areas":
        ET.SubElement(order, "orderByClause", asc="0", nullsFirst="0").text = "$area"
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------------------------------------------- hazards


def _hazard_rules(style: HazardStyle) -> list[tuple[str, str, str, str | None]]:
    """(key, legend label, QGIS filter, group) of the hazards' symbols: the overdue halo of each shape first
    (drawn under every symbol), then each shape × state group. The last group also takes states it does not
    list, as the tiles draw an unknown state (grey, never a risk colour)."""
    rules = []
    for level, shape in (("major", "1"), ("general", "0")):
        zh = "重大" if level == "major" else "一般"
        rules.append((f"overdue-{level}", f"已超期（{zh}，外圈）/ Overdue ({level}, ring)",
                      f'"overdue" AND "danger_level" = {shape}', None))
    listed = [st for g in style.groups.values() for st in g["states"]]
    names = list(style.groups)
    for level, shape in (("major", "1"), ("general", "0")):
        zh = "重大隐患" if level == "major" else "一般隐患"
        for name in names:
            group = style.groups[name]
            states = ", ".join(f"'{st}'" for st in group["states"])
            test = f'"state" IN ({states})'
            if name == names[-1]:
                others = ", ".join(f"'{st}'" for st in listed if st not in group["states"])
                test = f'"state" NOT IN ({others})' if others else "TRUE"
            rules.append((f"{level}-{name}", f"{zh}·{group['zh']} / {level.title()} hazard, {group['en']}",
                          f'"danger_level" = {shape} AND {test}', name))
    return rules


def _hazard_marker(parent: ET.Element, name: str, style: HazardStyle, level: str, group: str | None) -> None:
    """The marker of one rule, as hazardtiles.draw_symbol paints it at POINT_ZOOM: the shape filled by its
    group with a black outline, or (group None) the overdue ring, a white casing under a black line."""
    symbol = ET.SubElement(parent, "symbol", type="marker", name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    diameter = style.size_at(POINT_ZOOM)
    shape = style.shapes[level]
    grow = 1.2 if shape == "diamond" else 1.0
    if group is None:
        width = float(style.halo["width"])
        ring = diameter / 2 * grow + float(style.halo["gap"]) + width / 2
        for colour, line, level_pass in ((style.halo["casing"], width * 2.2, 0), (style.halo["colour"], width, 1)):
            _symbol_layer(symbol, "SimpleMarker", level_pass, {
                "name": "circle", "color": "0,0,0,0", "size": _pt(ring * 2), "size_unit": "Point",
                "outline_style": "solid", "outline_color": _rgba(colour), "outline_width": _pt(line),
                "outline_width_unit": "Point", "scale_method": "diameter"})
        return
    _symbol_layer(symbol, "SimpleMarker", 2, {
        "name": shape, "color": _rgba(style.groups[group]["fill"]), "size": _pt(diameter * grow),
        "size_unit": "Point", "outline_style": "solid", "outline_color": _rgba(style.outline["colour"]),
        "outline_width": _pt(float(style.outline["width"])), "outline_width_unit": "Point",
        "scale_method": "diameter"})


def qgis_hazards_qml(part: str = "points") -> str:
    """A QGIS style (QML) for the hazards: a rule-based renderer (shape by level, fill by state, a ring when
    overdue), majors drawn over generals; an area is drawn at a point inside it, as the tiles draw it."""
    import uuid

    style = load_hazard_style()
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology|Legend")
    renderer = ET.SubElement(root, "renderer-v2", type="RuleRenderer", symbollevels="1", enableorderby="1",
                             forceraster="0", referencescale="-1")
    rules = ET.SubElement(renderer, "rules", key=f"{{{uuid.uuid5(uuid.NAMESPACE_URL, 'riskmap-hazards')}}}")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (key, label, test, group) in enumerate(_hazard_rules(style)):
        ET.SubElement(rules, "rule", key=f"{{{uuid.uuid5(uuid.NAMESPACE_URL, 'riskmap-hazards-' + key)}}}",
                      symbol=str(i), label=label, filter=test)
        level = key.split("-")[-1] if group is None else key.split("-")[0]
        if part == "points":
            _hazard_marker(symbols, str(i), style, level, group)
            continue
        fill = ET.SubElement(symbols, "symbol", type="fill", name=str(i), alpha="1", clip_to_extent="1",
                             force_rhr="0")
        layer = ET.SubElement(fill, "layer", {"class": "CentroidFill", "enabled": "1", "locked": "0",
                                              "pass": "0" if group is None else "2"})
        _options(layer, {"point_on_surface": "1", "point_on_all_parts": "0", "clip_points": "0",
                         "clip_on_current_part_only": "0"})
        _hazard_marker(layer, f"@{i}@0", style, level, group)
    order = ET.SubElement(renderer, "orderby")
    ET.SubElement(order, "orderByClause", asc="1", nullsFirst="0").text = '"danger_level"'
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


LAYER_STYLES_COLUMNS = ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
                        "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time")


def qgis_layer_styles(tables: list[str], geometry_column: str = "geom"):
    """The rows of the `layer_styles` table QGIS reads when it opens a GeoPackage layer: one default style per
    table (regions, units_areas, …), with its SLD too."""
    import pandas as pd

    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    rows = []
    for table in tables:
        layer, part = split_table(table)
        style = load_hazard_style() if layer == "hazards" else load_layer_style(layer)
        qml = qgis_hazards_qml(part) if layer == "hazards" else qgis_qml(layer, part)
        rows.append({"f_table_catalog": "", "f_table_schema": "", "f_table_name": table,
                     "f_geometry_column": geometry_column, "styleName": f"riskmap {table}",
                     "styleQML": qml, "styleSLD": sld([table]), "useAsDefault": True,
                     "description": f"{style.title_zh}（{PART_ZH[part]}）/ {style.title_en}: " + (
                         "riskmap 隐患符号 / riskmap hazard symbols" if layer == "hazards" else
                         "riskmap 四色图样式 / riskmap four-colour style"),
                     "owner": "riskmap", "ui": None, "update_time": now})
    return pd.DataFrame(rows, columns=list(LAYER_STYLES_COLUMNS))


# ---------------------------------------------------------------------------------------------------- SLD

SLD_NS = "http://www.opengis.net/sld"
OGC_NS = "http://www.opengis.net/ogc"
XLINK_NS = "http://www.w3.org/1999/xlink"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _css(parent: ET.Element, tag: str, params: dict[str, str]) -> None:
    element = ET.SubElement(parent, _q(SLD_NS, tag))
    for name, value in params.items():
        ET.SubElement(element, _q(SLD_NS, "CssParameter"), name=name).text = value


def _stroke_params(stroke: Stroke, width_px: float | None = None) -> dict[str, str]:
    params = {"stroke": stroke.colour, "stroke-width": _pt(width_px if width_px is not None else stroke.width),
              "stroke-linejoin": "round", "stroke-linecap": "round"}
    if stroke.dash:
        params["stroke-dasharray"] = " ".join(_pt(d) for d in stroke.dash)
    return params


def _sld_rule(fts: ET.Element, title: str, rank: int | None) -> ET.Element:
    rule = ET.SubElement(fts, _q(SLD_NS, "Rule"))
    ET.SubElement(rule, _q(SLD_NS, "Name")).text = f"rank-{rank}" if rank is not None else "outlines"
    ET.SubElement(rule, _q(SLD_NS, "Title")).text = title
    if rank is not None:
        flt = ET.SubElement(rule, _q(OGC_NS, "Filter"))
        eq = ET.SubElement(flt, _q(OGC_NS, "PropertyIsEqualTo"))
        ET.SubElement(eq, _q(OGC_NS, "PropertyName")).text = "rank"
        ET.SubElement(eq, _q(OGC_NS, "Literal")).text = str(rank)
    return rule


def _equal(parent: ET.Element, name: str, value: str) -> None:
    eq = ET.SubElement(parent, _q(OGC_NS, "PropertyIsEqualTo"))
    ET.SubElement(eq, _q(OGC_NS, "PropertyName")).text = name
    ET.SubElement(eq, _q(OGC_NS, "Literal")).text = value


def _sld_hazards(user: ET.Element, style: HazardStyle) -> None:
    """The hazards' rules (see _hazard_rules) as SLD: the overdue rings first, then general, then major symbols
    (one FeatureTypeStyle each, drawn in that order); a diamond is a square turned 45°, as SLD 1.0 has no diamond."""
    listed = [st for g in style.groups.values() for st in g["states"]]
    rules = _hazard_rules(style)
    order = [r for r in rules if r[3] is None] + [r for r in rules if r[0].startswith("general-")] + \
        [r for r in rules if r[0].startswith("major-")]
    fts = None
    for key, label, _test, group in order:
        head = key.split("-")[0]
        if fts is None or head != fts.get("riskmap-head"):
            fts = ET.SubElement(user, _q(SLD_NS, "FeatureTypeStyle"))
            fts.set("riskmap-head", head)
        rule = ET.SubElement(fts, _q(SLD_NS, "Rule"))
        ET.SubElement(rule, _q(SLD_NS, "Name")).text = key
        ET.SubElement(rule, _q(SLD_NS, "Title")).text = label
        both = ET.SubElement(ET.SubElement(rule, _q(OGC_NS, "Filter")), _q(OGC_NS, "And"))
        level = key.split("-")[-1] if group is None else head
        _equal(both, "danger_level", "1" if level == "major" else "0")
        if group is None:
            _equal(both, "overdue", "true")
        else:
            states = style.groups[group]["states"]
            if group == list(style.groups)[-1]:
                states = [st for st in listed if st not in states]
                parent = ET.SubElement(both, _q(OGC_NS, "Not"))
            else:
                parent = both
            anyof = ET.SubElement(parent, _q(OGC_NS, "Or")) if len(states) > 1 else parent
            for st in states:
                _equal(anyof, "state", st)
        shape = style.shapes[level]
        grow = 1.2 if shape == "diamond" else 1.0
        diameter = style.size_at(POINT_ZOOM)
        width = float(style.halo["width"])
        layers = ([(style.halo["casing"], width * 2.2), (style.halo["colour"], width)] if group is None
                  else [(None, float(style.outline["width"]))])
        for casing, line in layers:
            sym = ET.SubElement(rule, _q(SLD_NS, "PointSymbolizer"))
            graphic = ET.SubElement(sym, _q(SLD_NS, "Graphic"))
            mark = ET.SubElement(graphic, _q(SLD_NS, "Mark"))
            if group is None:
                ET.SubElement(mark, _q(SLD_NS, "WellKnownName")).text = "circle"
                _css(mark, "Stroke", {"stroke": casing, "stroke-width": _pt(line)})
                size = (diameter / 2 * grow + float(style.halo["gap"]) + width / 2) * 2
            else:
                ET.SubElement(mark, _q(SLD_NS, "WellKnownName")).text = "square" if shape == "diamond" else "circle"
                _css(mark, "Fill", {"fill": style.groups[group]["fill"], "fill-opacity": "1"})
                _css(mark, "Stroke", {"stroke": style.outline["colour"], "stroke-width": _pt(line)})
                # a square of side s turned 45° spans s·√2: the diamond's width is diameter × grow
                size = diameter * grow / (2 ** 0.5) if shape == "diamond" else diameter
            ET.SubElement(graphic, _q(SLD_NS, "Size")).text = _pt(size)
            if group is not None and shape == "diamond":
                ET.SubElement(graphic, _q(SLD_NS, "Rotation")).text = "45"
    for element in user.iter(_q(SLD_NS, "FeatureTypeStyle")):
        element.attrib.pop("riskmap-head", None)


def sld(tables: list[str]) -> str:
    """An SLD 1.0 StyledLayerDescriptor with a NamedLayer per table (regions, units_areas, …)."""
    ET.register_namespace("", SLD_NS)
    ET.register_namespace("ogc", OGC_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.Element(_q(SLD_NS, "StyledLayerDescriptor"), version="1.0.0")
    for table in tables:
        layer, part = split_table(table)
        style = load_hazard_style() if layer == "hazards" else load_layer_style(layer)
        named = ET.SubElement(root, _q(SLD_NS, "NamedLayer"))
        ET.SubElement(named, _q(SLD_NS, "Name")).text = table
        user = ET.SubElement(named, _q(SLD_NS, "UserStyle"))
        ET.SubElement(user, _q(SLD_NS, "Name")).text = f"riskmap-{table}"
        ET.SubElement(user, _q(SLD_NS, "Title")).text = f"{style.title_zh}（{PART_ZH[part]}）/ {style.title_en}"
        ET.SubElement(user, _q(SLD_NS, "IsDefault")).text = "1"
        if layer == "hazards":
            _sld_hazards(user, style)
            continue
        for rank, c in enumerate(style.classes):           # draw order: one FeatureTypeStyle per class
            fts = ET.SubElement(user, _q(SLD_NS, "FeatureTypeStyle"))
            rule = _sld_rule(fts, legend_label(c), rank)
            if part == "areas":
                sym = ET.SubElement(rule, _q(SLD_NS, "PolygonSymbolizer"))
                if c.fill:
                    _css(sym, "Fill", {"fill": c.fill, "fill-opacity": "1"})
                if c.outline is not None and not (style.outlines_on_top and c.fill):
                    _css(sym, "Stroke", _stroke_params(c.outline))
            elif part == "lines" and c.line is not None:
                if c.casing is not None:
                    sym = ET.SubElement(rule, _q(SLD_NS, "LineSymbolizer"))
                    _css(sym, "Stroke", _stroke_params(c.casing, c.line.width + 2 * c.casing.width))
                sym = ET.SubElement(rule, _q(SLD_NS, "LineSymbolizer"))
                _css(sym, "Stroke", _stroke_params(c.line))
            elif part == "points":
                sym = ET.SubElement(rule, _q(SLD_NS, "PointSymbolizer"))
                graphic = ET.SubElement(sym, _q(SLD_NS, "Graphic"))
                mark = ET.SubElement(graphic, _q(SLD_NS, "Mark"))
                ET.SubElement(mark, _q(SLD_NS, "WellKnownName")).text = \
                    c.point.shape if c.point.shape in ("circle", "square", "triangle") else "circle"
                if c.point.fill:
                    _css(mark, "Fill", {"fill": c.point.fill, "fill-opacity": "1"})
                if c.point.outline is not None:
                    _css(mark, "Stroke", _stroke_params(c.point.outline))
                ET.SubElement(graphic, _q(SLD_NS, "Size")).text = _pt(c.point.size_at(POINT_ZOOM))
        if part == "areas" and style.outlines_on_top:           # neutral outlines over every fill
            fts = ET.SubElement(user, _q(SLD_NS, "FeatureTypeStyle"))
            rule = _sld_rule(fts, "轮廓 / outlines", None)
            sym = ET.SubElement(rule, _q(SLD_NS, "LineSymbolizer"))
            _css(sym, "Stroke", _stroke_params(style.classes[0].outline or Stroke("#404040", 0.75)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def sld_tables(map_name: str) -> list[str]:
    """The tables (typed layers) of a map, bottom first."""
    return [t for layer in MAPS[map_name][2] if layer != "staleness" for t in table_names(layer)]


# ---------------------------------------------------------------------------------------------------- MapLibre


def _match(field: str, values: list, fallback) -> Any:
    """A MapLibre `match` expression on an integer field (a constant when every value is the same)."""
    if len({str(v) for v in values}) == 1:
        return values[0]
    expr: list[Any] = ["match", ["get", field]]
    for i, v in enumerate(values):
        expr += [i, v]
    return [*expr, fallback]


def _zoom_radius(stops: tuple[tuple[int, float], ...]) -> Any:
    if len(stops) == 1:
        return stops[0][1] / 2
    expr: list[Any] = ["interpolate", ["linear"], ["zoom"]]
    for z, size in stops:
        expr += [z, size / 2]
    return expr


def _level_layers(source: str, style: LayerStyle, minzoom: int) -> list[dict]:
    """Fill, outline, line and circle layers of a layer classified by `rank` (regions, units, staleness)."""
    n = len(style.classes)
    default = style.rank_of(style.default_class)
    fills = [c.fill or "rgba(0,0,0,0)" for c in style.classes]
    outlines = [c.outline.colour if c.outline else "rgba(0,0,0,0)" for c in style.classes]
    outline_w = [c.outline.width if c.outline else 0 for c in style.classes]
    lines = [c.line.colour if c.line else "rgba(0,0,0,0)" for c in style.classes]
    line_w = [c.line.width if c.line else 0 for c in style.classes]
    cased = [c for c in style.classes if c.line is not None and c.casing is not None]
    sort = ["get", "rank"]
    base = {"source": source, "source-layer": source, "minzoom": minzoom}
    polygon = ["==", ["geometry-type"], "Polygon"]
    layers = [{**base, "id": f"{source}-fill", "type": "fill", "filter": polygon,
               "layout": {"fill-sort-key": sort},
               "paint": {"fill-color": _match("rank", fills, fills[default]), "fill-antialias": False}}]
    outline = {**base, "id": f"{source}-outline", "type": "line", "filter": polygon,
               "layout": {"line-sort-key": sort, "line-join": "round"},
               "paint": {"line-color": _match("rank", outlines, outlines[default]),
                         "line-width": _match("rank", outline_w, outline_w[default])}}
    if not style.outlines_on_top:
        layers.append(outline)
    line = ["==", ["geometry-type"], "LineString"]
    if cased:
        casing = cased[0].casing
        layers.append({**base, "id": f"{source}-casing", "type": "line", "filter": line,
                       "layout": {"line-sort-key": sort, "line-cap": "round", "line-join": "round"},
                       "paint": {"line-color": casing.colour,
                                 "line-width": _match("rank", [(c.line.width + 2 * c.casing.width) if c.line and
                                                               c.casing else 0 for c in style.classes], 0)}})
    layers.append({**base, "id": f"{source}-line", "type": "line", "filter": line,
                   "layout": {"line-sort-key": sort, "line-cap": "round", "line-join": "round"},
                   "paint": {"line-color": _match("rank", lines, lines[default]),
                             "line-width": _match("rank", line_w, line_w[default])}})
    point = style.classes[default].point
    layers.append({**base, "id": f"{source}-point", "type": "circle", "filter": ["==", ["geometry-type"], "Point"],
                   "layout": {"circle-sort-key": sort},
                   "paint": {"circle-color": _match("rank", [c.point.fill or "rgba(0,0,0,0)"
                                                             for c in style.classes], point.fill or "#808080"),
                             "circle-radius": _zoom_radius(point.sizes),
                             "circle-stroke-color": point.outline.colour if point.outline else "rgba(0,0,0,0)",
                             "circle-stroke-width": point.outline.width if point.outline else 0}})
    if style.outlines_on_top:
        layers.append(outline)
    flagged = next((c for c in style.classes if c.key == "flagged"), None)
    if flagged is not None and flagged.outline is not None:     # staleness: units needing re-assessment, on top
        layers.append({**base, "id": f"{source}-flagged", "type": "line",
                       "filter": ["all", polygon, ["==", ["get", "flagged"], True]],
                       "paint": {"line-color": flagged.outline.colour, "line-width": flagged.outline.width}})
    assert n == len(fills)
    return layers


def _role_layers(source: str, style: LayerStyle, minzoom: int) -> list[dict]:
    """The layout's linework, one layer per role (bottom first), so dashes and casings are exact."""
    out = []
    base = {"source": source, "source-layer": source, "minzoom": minzoom}
    for rank, c in enumerate(style.classes):
        is_role = ["==", ["get", "rank"], rank]
        if c.outline is not None:
            paint = {"line-color": c.outline.colour, "line-width": c.outline.width}
            if c.outline.dash:
                paint["line-dasharray"] = [d / max(c.outline.width, 0.1) for d in c.outline.dash]
            out.append({**base, "id": f"{source}-{c.key}-outline", "type": "line",
                        "filter": ["all", ["==", ["geometry-type"], "Polygon"], is_role], "paint": paint})
        if c.line is not None:
            line_filter = ["all", ["==", ["geometry-type"], "LineString"], is_role]
            if c.casing is not None:
                out.append({**base, "id": f"{source}-{c.key}-casing", "type": "line", "filter": line_filter,
                            "layout": {"line-cap": "round", "line-join": "round"},
                            "paint": {"line-color": c.casing.colour,
                                      "line-width": c.line.width + 2 * c.casing.width}})
            paint = {"line-color": c.line.colour, "line-width": c.line.width}
            if c.line.dash:
                paint["line-dasharray"] = [d / max(c.line.width, 0.1) for d in c.line.dash]
            out.append({**base, "id": f"{source}-{c.key}-line", "type": "line", "filter": line_filter,
                        "layout": {"line-cap": "round", "line-join": "round"}, "paint": paint})
        p = c.point
        # MapLibre draws circles without a sprite: a shaped symbol's shape, character and an escape route's
        # arrows are named in `metadata` (the MVT's `role` is enough for a client with its own sprites)
        extra = {"metadata": {"riskmap:shape": p.shape, "riskmap:mark": p.mark}} if not p.plain else {}
        if c.arrows is not None and c.line is not None:
            out[-1]["metadata"] = {"riskmap:arrows": {"spacing": c.arrows.spacing, "size": c.arrows.size,
                                                      "colour": c.arrows.colour, "direction": "vertex order"}}
        out.append({**base, **extra, "id": f"{source}-{c.key}-point", "type": "circle",
                    "filter": ["all", ["==", ["geometry-type"], "Point"], is_role],
                    "paint": {"circle-color": p.fill or "rgba(0,0,0,0)", "circle-radius": _zoom_radius(p.sizes),
                              "circle-stroke-color": p.outline.colour if p.outline else "rgba(0,0,0,0)",
                              "circle-stroke-width": p.outline.width if p.outline else 0}})
    return out


def maplibre_style(map_name: str, tilejson: Callable[[str, str], str], *, center: list[float] | None = None,
                   zoom: float | None = None, sprite: str | None = None) -> dict[str, Any]:
    """A MapLibre GL style (version 8) for one of MAPS: vector sources from riskmap's TileJSON (`tilejson(layer,
    format)` gives its absolute URL), the names as riskmap's raster `labels` tiles (no glyph server needed), the
    hidden hazards above them on the maps of HAZARD_MAPS as icons of the `sprite` (its absolute URL without
    extension; riskmap.render.hazardsprite), and the legend of every layer in `metadata` (each entry the colour
    drawn)."""
    title_zh, title_en, layers, labels = MAPS[map_name]
    sources: dict[str, Any] = {}
    out_layers: list[dict] = []
    legend: dict[str, Any] = {}
    for layer in layers:
        style = load_layer_style(layer)
        sources[layer] = {"type": "vector", "url": tilejson(layer, "mvt")}
        minzoom = style.mvt_min_zoom
        out_layers += _role_layers(layer, style, minzoom) if layer == "layout" else \
            _level_layers(layer, style, minzoom)
        legend[layer] = {"title": {"zh": style.title_zh, "en": style.title_en}, "field": "rank",
                         "entries": [{**e, "rank": style.rank_of(e["key"])} for e in style.legend()]}
    if labels:
        sources["labels"] = {"type": "raster", "url": tilejson("labels", "png"), "tileSize": 256}
        out_layers.append({"id": "labels", "type": "raster", "source": "labels"})
    if map_name in HAZARD_MAPS and sprite is not None:
        from riskmap.render import hazardsprite
        from riskmap.render.style import load_hazard_style

        hazards = load_hazard_style()
        sources["hazards"] = {"type": "vector", "url": tilejson("hazards", "mvt")}
        out_layers += hazardsprite.symbol_layers(hazards)
        legend["hazards"] = {"title": {"zh": hazards.title_zh, "en": hazards.title_en}, "field": "group",
                             "entries": hazardsprite.legend(hazards)}
    doc: dict[str, Any] = {
        "version": 8,
        "name": f"{title_zh} / {title_en}",
        "metadata": {"riskmap:map": map_name, "riskmap:legend": legend,
                     "riskmap:note": "按 rank 排序绘制（高等级在上）/ drawn in rank order, higher levels on top"},
        "sources": sources,
        "layers": out_layers,
    }
    if "hazards" in sources:
        doc["sprite"] = sprite
    if center is not None:
        doc["center"] = center
    if zoom is not None:
        doc["zoom"] = zoom
    return doc
