"""The one field vocabulary of riskmap's outputs: OGC API Features items, vector tiles, GeoPackage/GeoJSON exports,
`/api/*.geojson` and the styles made for them use these names and types, and nothing else.

Why one list: a GIS colleague joins an export to an OGC layer, styles a vector tile with a QGIS style made for
the GeoPackage, or filters by a field seen in a tile; a field called `unit_id` in one place and `id` in another,
or a date in one and text in the other, breaks each of those. Each layer's fields are listed once here; an output
carries all of them except those it cannot know (marked per field), and never another name for the same thing.

`rank` is the field's class place in the draw order (riskmap.render.order: 0 not assessed, 1 low … 4 major; for
the layout, the role's place) and `colour` the fill drawn for it (a region's tint, a unit's full level colour, a
layout role's line colour): together they let any client paint exactly what the PNG tiles paint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskmap.domain import UnitKind
from riskmap.geo.model import ROLES

UNIT_KINDS = tuple(kind.value for kind in UnitKind)

@dataclass(frozen=True)
class Field:
    """One output field: its name and type are the same in every output that carries it."""

    name: str
    type: str                  # "string", "integer", "boolean" or "date" (ISO 8601 YYYY-MM-DD; text in JSON, tiles)
    zh: str
    en: str
    tiles: bool = True         # carried by the layer's vector tiles
    items: bool = True         # carried by OGC items, exports and /api/*.geojson
    values: tuple[str, ...] = ()   # the allowed values, when fixed

    @property
    def description(self) -> str:
        """The bilingual description schemas and queryables give the field: "中文 / English"."""
        return f"{self.zh} / {self.en}"

    @property
    def json_type(self) -> str:
        """The JSON Schema type: integers and booleans as such, everything else (dates too) as string."""
        return self.type if self.type in ("integer", "boolean") else "string"

    @property
    def tile_type(self) -> str:
        """The type TileJSON's vector_layers give it (Number, String)."""
        return {"integer": "Number", "boolean": "Boolean"}.get(self.type, "String")


LEVEL_CODES = ("major", "significant", "general", "low")
# riskmap.hazards.State's values (kept here as text: the vocabulary imports no room).
HAZARD_STATES = ("reported", "confirmed", "rejected", "assigned", "rectifying", "awaiting_acceptance", "accepted",
                 "closed")
_LEVEL = (
    Field("level", "string", "风险等级代码（未评估为空）", "level code (empty when not assessed)", values=LEVEL_CODES),
    Field("level_zh", "string", "风险等级 重大/较大/一般/低风险", "level in Chinese"),
    Field("rank", "integer", "绘制顺序中的类别：0 未评估，1 低 … 4 重大",
          "class in the draw order: 0 not assessed, 1 low … 4 major"),
    Field("colour", "string", "绘制的填充色 #RRGGBB", "fill colour drawn, #RRGGBB"),
)

FIELDS: dict[str, tuple[Field, ...]] = {
    "regions": (
        Field("region_id", "string", "区域编号", "region id"),
        Field("name", "string", "区域名称", "region name"),
        *_LEVEL,
        Field("method", "string", "区域定级方法 highest/weighted", "aggregation method", tiles=False,
              values=("highest", "weighted")),
        Field("which", "string", "residual 现有风险 / inherent 固有风险", "residual or inherent risk", tiles=False,
              values=("residual", "inherent")),
        Field("decided_by", "string", "决定区域颜色的单元名称", "name of the unit that decided the colour"),
        Field("decided_by_id", "string", "决定单元编号", "id of that unit", tiles=False),
        Field("explanation", "string", "定级说明", "explanation of the level", tiles=False),
        Field("last_assessed", "date", "区域内最早的评估日期", "oldest assessment date of its units", items=False),
    ),
    "units": (
        Field("unit_id", "string", "单元编号", "unit id"),
        Field("name", "string", "单元名称", "unit name"),
        Field("kind", "string", "单元类型 " + "/".join(UNIT_KINDS), "unit kind", values=UNIT_KINDS),
        Field("kind_zh", "string", "单元类型（中文）", "unit kind in Chinese", tiles=False),
        *_LEVEL,
        Field("parent_id", "string", "上级单元编号", "parent unit id", tiles=False),
        Field("feature_ref", "string", "关联的布局要素编号", "id of the layout feature it is attached to", tiles=False),
        Field("events", "integer", "风险事件数", "number of risk events", tiles=False),
        Field("last_assessed", "date", "最近评估日期", "date last assessed"),
        Field("located_by", "string", "提供几何的单元编号", "id of the unit whose geometry locates it", tiles=False),
        Field("decided_by", "string", "图形显示其等级的单元名称（一个图形代表多个单元时）",
              "name of the unit whose level the drawn shape shows (when it stands for several)", items=False),
        Field("flag", "string", "待复评原因代码，逗号分隔", "open re-assessment reasons, comma-separated", items=False),
    ),
    "layout": (
        Field("source_id", "string", "源文件中的编号（CAD 句柄等）", "id in the source file (CAD handle…)"),
        Field("name", "string", "名称", "name"),
        Field("role", "string", "角色 " + "/".join(ROLES), "role", values=ROLES),
        Field("role_zh", "string", "角色（中文）", "role in Chinese", tiles=False),
        Field("layer", "string", "源图层", "source layer", tiles=False),
        Field("rank", "integer", "绘制顺序中角色的位置（0 最下）", "the role's place in the draw order (0 = bottom)"),
        Field("colour", "string", "绘制的线条颜色 #RRGGBB", "line colour drawn, #RRGGBB"),
    ),
    "hazards": (
        Field("name", "string", "隐患名称", "hazard name"),
        Field("state", "string", "状态代码", "state code", values=HAZARD_STATES),
        Field("state_zh", "string", "状态（中文）", "state in Chinese"),
        Field("danger_level", "integer", "隐患等级 dangerLevel：0 一般，1 重大", "hazard level: 0 general, 1 major"),
        Field("danger_level_zh", "string", "隐患等级（中文）", "hazard level in Chinese"),
        Field("danger_state", "integer", "国家接口 dangerState：0 整改中，1 待验收，9 已验收",
              "national dangerState: 0 being rectified, 1 awaiting acceptance, 9 accepted"),
        Field("overdue", "boolean", "是否超期（未验收且已过整改期限，北京时间）",
              "overdue (not accepted and past its deadline, Beijing time)"),
        Field("source", "integer", "隐患来源 dangerSrc 1–10", "source (dangerSrc 1–10)"),
        Field("source_zh", "string", "隐患来源（中文）", "source in Chinese"),
        Field("deadline", "date", "整改期限（北京时间）", "deadline (Beijing date)"),
        Field("department", "string", "责任部门", "department"),
        Field("unit_id", "string", "所在评估单元编号", "the assessment unit it belongs to"),
        Field("registered", "date", "登记日期（北京时间）", "date registered (Beijing)"),
    ),
    "coverage": (
        Field("unit_id", "string", "单元编号", "unit id"),
        Field("name", "string", "单元名称", "unit name"),
        Field("kind", "string", "单元类型 " + "/".join(UNIT_KINDS), "unit kind", values=UNIT_KINDS),
        Field("coverage", "string", "今日排查覆盖 missed 有漏检 / due 部分待检 / done 全部已检 / suspended 停用检修 / "
              "none 无排查任务", "today's inspection coverage", values=("missed", "due", "done", "suspended", "none")),
        Field("coverage_zh", "string", "排查覆盖（中文）", "coverage in Chinese"),
        Field("coverage_en", "string", "排查覆盖（英文）", "coverage in English"),
        Field("checkpoint", "boolean", "是否有现行巡检点二维码", "has a current QR checkpoint"),
    ),
}
# The staleness layer's tiles: the units' tile fields and these.
STALENESS_FIELDS = (
    Field("days_since_assessed", "integer", "距最近评估的天数", "days since the last assessment", items=False),
    Field("staleness", "string", "评估时效类别 recent/due/overdue/never", "staleness class", items=False),
    Field("flagged", "boolean", "是否待复评", "flagged for re-assessment", items=False),
)
# The coverage layer's tiles: the units' tile fields and this.
COVERAGE_FIELDS = (
    Field("coverage", "string", "排查覆盖 missed/due/done/suspended/none（巡检点为 checkpoint）",
          "inspection coverage (checkpoint for the checkpoints)", items=False),
)
ID_FIELD = {"regions": "region_id", "units": "unit_id", "layout": "source_id"}


def item_fields(layer: str) -> tuple[Field, ...]:
    """The fields of OGC items, exports and /api/*.geojson of a layer, in order."""
    return tuple(f for f in FIELDS[layer] if f.items)


def tile_fields(layer: str) -> dict[str, str]:
    """Field → TileJSON type of the vector tiles of a layer (`staleness`: the units' and its own)."""
    extra = {"staleness": STALENESS_FIELDS, "coverage": COVERAGE_FIELDS}
    fields = (*FIELDS["units"], *extra[layer]) if layer in extra else FIELDS[layer]
    return {f.name: f.tile_type for f in fields if f.tiles}


def classes(layer: str, values) -> tuple[np.ndarray, np.ndarray]:
    """(`rank`, `colour`) of each value of the layer's classifying field (level code or role), as the tiles give
    them: the class's place in the layer style's draw order and the fill drawn (line colour where no fill)."""
    from riskmap.render.style import load_layer_style

    style = load_layer_style(layer)
    index = style.class_indices(list(values))
    colours = np.array([c.fill or (c.line.colour if c.line else None) for c in style.classes], dtype=object)
    return index.astype(np.int64), colours[index] if len(index) else np.empty(0, dtype=object)


# The geometry parts a mixed layer is split into wherever one geometry type per layer is needed (OGC API
# collections, GeoPackage tables, QGIS and SLD styles): shapely type ids of each.
PARTS: dict[str, tuple[int, ...]] = {"areas": (3, 6), "lines": (1, 2, 5), "points": (0, 4)}
PART_ZH = {"areas": "面", "lines": "线", "points": "点"}
SPLIT_LAYERS = ("units", "layout")          # regions are areas only
HAZARD_PARTS = ("points", "areas")          # a hazard is placed at a point or over an area (never a line)


def part_masks(geoms) -> dict[str, np.ndarray]:
    """Which geometries are areas, lines or points; missing or empty ones and collections are in none."""
    import shapely

    arr = np.asarray(geoms, dtype=object)
    if not len(arr):
        return {part: np.zeros(0, bool) for part in PARTS}
    types = shapely.get_type_id(arr)
    types = np.where(shapely.is_empty(arr), -1, types)
    return {part: np.isin(types, ids) for part, ids in PARTS.items()}


def table_names(layer: str) -> tuple[str, ...]:
    """The one-geometry-type tables (collections) of a layer: regions, or units_areas, units_lines, …"""
    return (layer,) if layer not in SPLIT_LAYERS else tuple(f"{layer}_{part}" for part in PARTS)


def split_table(name: str) -> tuple[str, str]:
    """(layer, part) of a table name: regions → (regions, areas); units_points → (units, points)."""
    layer, _, part = name.partition("_")
    if layer in SPLIT_LAYERS and part in PARTS:
        return layer, part
    if layer == "hazards" and part in HAZARD_PARTS:
        return layer, part
    if name == "regions":
        return "regions", "areas"
    raise KeyError(name)
