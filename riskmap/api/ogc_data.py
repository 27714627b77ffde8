"""The data behind OGC API Features: a plant's three collections as arrays, filtered and serialised per page.

A plant is read once per data version (the store bumps it in every writing transaction) and kept in a small
LRU, so that a client paging through a collection does not re-read the database for every page. Filtering uses
an STRtree and array masks; a page is serialised with vectorised calls (shapely.to_geojson, pandas.to_json).
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely

from riskmap.errors import NotFoundError, RiskmapError, no_enterprise, no_enterprise_yet
from riskmap.vocabulary import HAZARD_PARTS, PARTS, SPLIT_LAYERS, part_masks

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84_NAMES = frozenset({CRS84, "https://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84", "[OGC:CRS84]",
                         "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84"})
TRS_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
KINDS = ("regions", "units", "layout")
# The collections listed, one geometry type each (riskmap.vocabulary.table_names).
LISTED = ("regions", "units_areas", "units_lines", "units_points", "layout_areas", "layout_lines", "layout_points",
          "hazards_points", "hazards_areas", "coverage_areas", "coverage_lines", "coverage_points")
# Collections whose items are not replaced nor deleted (their data runs a workflow: hazards are reported with POST
# and corrected with PATCH through riskmap.api.routers.ogc_hazards, their steps taken through /api/hazards;
# coverage is worked out from the inspections): the methods their items answer.
READ_ONLY = {"hazards": ("GET", "HEAD", "PATCH"), "coverage": ("GET", "HEAD")}
WRITTEN_THROUGH = {"hazards": "/api/hazards（上报 POST、更正 PATCH 可在此进行 / report with POST and correct with "
                              "PATCH here）", "coverage": "/api/inspections"}
METHODS = ("highest", "weighted")
WHICH = ("residual", "inherent")
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
PLANTS_KEPT = 8


@dataclass(frozen=True)
class KindInfo:
    """What the collection documents say of a kind of collection (regions, units, layout): titles and descriptions in
    both languages and the properties its features carry."""

    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    properties: tuple[tuple[str, str, str], ...]    # (name, JSON type, description)

    @property
    def title(self) -> str:
        """The title as OGC documents show it: 中文 / English."""
        return f"{self.title_zh} / {self.title_en}"

    @property
    def description(self) -> str:
        """The description as OGC documents show it: 中文 / English."""
        return f"{self.description_zh} / {self.description_en}"


class OgcParameterError(RiskmapError, http_status=400):
    """A query parameter OGC API Features says must be answered with 400 (bad bbox, limit, datetime…)."""


def _properties(kind: str) -> tuple[tuple[str, str, str], ...]:
    """(name, JSON type, description) of a collection's properties: riskmap.vocabulary's item fields."""
    from riskmap.vocabulary import item_fields

    return tuple((f.name, f.json_type, f.description) for f in item_fields(kind))


KIND_INFO: dict[str, KindInfo] = {
    "regions": KindInfo(
        "区域风险", "Region risk",
        "生产区域及其风险等级（默认短板原理：取区域内最高单元等级），附决定单元和说明",
        "production regions with their risk level (by default the highest level of their units), the deciding "
        "unit and an explanation",
        _properties("regions"),
    ),
    "units": KindInfo(
        "评估单元", "Assessment units",
        "评估单元及其风险等级，几何为单元自身的或最近上级单元的几何；没有位置的单元不列出",
        "assessment units with their risk level, located by their own geometry or their nearest ancestor's; "
        "units without a location are not listed",
        _properties("units"),
    ),
    "layout": KindInfo(
        "总平面布置图", "Plant layout",
        "当前版本的总平面布置图要素（区域、建筑、设备设施、道路、围墙，集合点、疏散路线、消火栓等应急设施），按角色区分",
        "features of the current layout version (regions, buildings, equipment, roads, fences; emergency features "
        "such as assembly points, escape routes, hydrants) by role",
        _properties("layout"),
    ),
    "hazards": KindInfo(
        "事故隐患", "Hidden hazards",
        "已公开的事故隐患（未关闭的和已关闭的，驳回的和待确认的匿名上报除外）：位置（点或面；无位置的按所在单元）、状态、"
        "等级、是否超期、来源、整改期限、所在单元；可用 POST 上报（hazard_report）、"
        "PATCH 更正未关闭的隐患（hazard_manage，需 If-Match），不能整体替换或删除，确认、整改、验收等请用 /api/hazards",
        "the published hidden hazards (open and closed; not rejected reports nor anonymous ones awaiting "
        "confirmation): place (a point or an area; without one, inside its unit), state, level, overdue, source, "
        "deadline, unit; POST reports one (hazard_report), PATCH corrects an open one (hazard_manage, If-Match); never "
        "replaced nor deleted: confirm, rectify, accept and the other steps through /api/hazards",
        _properties("hazards"),
    ),
    "coverage": KindInfo(
        "今日排查覆盖", "Inspection coverage today",
        "各评估单元今日（北京时间）排查任务的完成情况：有漏检、部分待检、全部已检、停用检修或无任务，及是否有巡检点二维码；"
        "配色与风险等级无关；只读，排查记录请用 /api/inspections 提交",
        "each assessment unit by the state of today's checks (Beijing time): missed, some due, all done, suspended "
        "or no task, and whether it has a QR checkpoint; not a risk level; read only: checks are recorded through "
        "/api/inspections",
        _properties("coverage"),
    ),
}


# ---------------------------------------------------------------------------------------------- parameters


def parse_limit(text: str | None) -> int:
    """limit: an integer ≥ 1; above the maximum it is lowered to the maximum (as OGC API Features asks)."""
    if text is None or text == "":
        return DEFAULT_LIMIT
    value = _integer(text, "limit", "每页要素数")
    if value < 1:
        raise OgcParameterError(f"limit 应为不小于 1 的整数，而不是 {text!r} / limit must be an integer ≥ 1, "
                                f"not {text!r}")
    return min(value, MAX_LIMIT)


def parse_offset(text: str | None) -> int:
    """The `offset` of a page (0 when absent); OgcParameterError (400) for anything but an integer ≥ 0."""
    if text is None or text == "":
        return 0
    value = _integer(text, "offset", "起始位置")
    if value < 0:
        raise OgcParameterError(f"offset 应为不小于 0 的整数，而不是 {text!r} / offset must be an integer ≥ 0, "
                                f"not {text!r}")
    return value


def _integer(text: str, name: str, zh: str) -> int:
    stripped = text.strip()
    if not stripped.lstrip("+-").isdigit() or not stripped.isascii() or len(stripped) > 1000:
        raise OgcParameterError(f"{name}（{zh}）应为整数，而不是 {text!r} / {name} must be an integer, not {text!r}")
    return int(stripped)


def parse_bbox(text: str | None, bbox_crs: str | None = None) -> list[tuple[float, float, float, float]] | None:
    """bbox=minlon,minlat,maxlon,maxlat in CRS84 (or six numbers with heights, which are ignored).

    Returns one box, or two when the box crosses the antimeridian (minlon > maxlon, as the standard allows).
    """
    if bbox_crs is not None and bbox_crs.strip() not in CRS84_NAMES:
        raise OgcParameterError(f"bbox-crs 只支持 {CRS84}，而不是 {bbox_crs!r} / only CRS84 is supported as "
                                f"bbox-crs, not {bbox_crs!r}")
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    problem = None
    if len(values) != 4 or not all(np.isfinite(values)):
        problem = ("应为 4 个数：最小经度,最小纬度,最大经度,最大纬度",
                   "must be four numbers: minlon,minlat,maxlon,maxlat")
    else:
        minx, miny, maxx, maxy = values
        if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
            problem = ("经度应在 -180 到 180 之间，纬度应在 -90 到 90 之间（CRS84，经度在前）",
                       "longitudes must lie in [-180, 180] and latitudes in [-90, 90] (CRS84, longitude first)")
        elif miny > maxy:
            problem = ("最小纬度大于最大纬度", "minlat is greater than maxlat")
    if problem:
        raise OgcParameterError(f"bbox {problem[0]}，而不是 {text!r} / bbox {problem[1]}, not {text!r}")
    minx, miny, maxx, maxy = values
    if minx > maxx:   # across the antimeridian
        return [(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]
    return [(minx, miny, maxx, maxy)]


def parse_datetime(text: str | None) -> tuple[datetime | None, datetime | None] | None:
    """datetime=instant, or start/end with '..' or nothing for an open end (RFC 3339; a date means that day).

    Returns (start, end) as aware UTC datetimes, end inclusive; None for no filter.
    """
    if text is None:
        return None
    raw = text.strip()
    bad = OgcParameterError(f"datetime 应为 RFC 3339 时间或时间段（如 2024-01-01T00:00:00Z 或 2024-01-01/..），"
                            f"而不是 {text!r} / datetime must be an RFC 3339 instant or interval "
                            f"(e.g. 2024-01-01T00:00:00Z or 2024-01-01/..), not {text!r}")
    if "/" in raw:
        first, _, second = raw.partition("/")
        if "/" in second:
            raise bad
        start = _instant(first, end_of_day=False, bad=bad)
        end = _instant(second, end_of_day=True, bad=bad)
        if start is None and end is None:    # "../..": the standard wants one end given
            raise bad
    else:
        if raw in ("", ".."):
            raise bad
        start = _instant(raw, end_of_day=False, bad=bad)
        end = _instant(raw, end_of_day=True, bad=bad)
    if start is not None and end is not None and start > end:
        raise OgcParameterError(f"datetime 的开始晚于结束：{text!r} / datetime starts after it ends: {text!r}")
    return start, end


def _instant(text: str, end_of_day: bool, bad: Exception) -> datetime | None:
    text = text.strip()
    if text in ("", ".."):
        return None
    if not text.isascii() or len(text) > 40:
        raise bad
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        else:
            if "T" not in text.upper():
                raise ValueError(text)
            moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise bad from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:           # year 1 or 9999 moved past the calendar's ends by its offset: an open end
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def parse_choice(text: str | None, allowed: Sequence[str], name: str, zh: str) -> str | None:
    """One of `allowed` (case-insensitive), None when absent; OgcParameterError (400) naming the choices otherwise."""
    if text is None:
        return None
    value = text.strip().lower()
    if value not in allowed:
        raise OgcParameterError(f"{name}（{zh}）应为 {' | '.join(allowed)}，而不是 {text!r} / {name} must be one "
                                f"of {', '.join(allowed)}, not {text!r}")
    return value


def parse_levels(text: str | None) -> set[str] | None:
    """level=major,significant (codes, Chinese names or colour words)."""
    if text is None:
        return None
    from riskmap.levels import Level

    out = set()
    for word in text.split(","):
        try:
            out.add(Level.parse(word).value)
        except ValueError:
            raise OgcParameterError(f"level 中有无法识别的风险等级 {word.strip()!r}，应为 major/significant/"
                                    f"general/low 或 重大/较大/一般/低 / unknown risk level {word.strip()!r} "
                                    f"in level") from None
    return out


def parse_roles(text: str | None) -> set[str] | None:
    """role=… as a set of layout roles (English codes or Chinese names), None when absent; an unknown role is a 400,
    not an empty answer."""
    if text is None:
        return None
    from riskmap.geo.model import ROLE_ZH, ROLES

    out = set()
    zh_to_role = {v: k for k, v in ROLE_ZH.items()}
    for word in text.split(","):
        key = word.strip()
        role = zh_to_role.get(key, key.lower())
        if role not in ROLES:
            raise OgcParameterError(f"role 中有未知的要素角色 {key!r}，可选：{', '.join(ROLES)} / unknown role "
                                    f"{key!r}; allowed: {', '.join(ROLES)}")
        out.add(role)
    return out


# ---------------------------------------------------------------------------------------------- collections


def _rfc7946(geoms: Sequence[Any]) -> np.ndarray:
    """Counter-clockwise exteriors; empty geometries become null."""
    arr = np.asarray(list(geoms), dtype=object) if not isinstance(geoms, np.ndarray) else geoms.astype(object)
    if not len(arr):
        return arr
    arr = shapely.orient_polygons(arr, exterior_cw=False)
    arr = np.asarray(arr, dtype=object)
    arr[shapely.is_empty(arr) | shapely.is_missing(arr)] = None
    return arr


def _unique_ids(ids: Sequence[Any], fallback: Sequence[Any]) -> np.ndarray:
    """Ids as text; a missing, empty or repeated one is replaced by '~' and a fallback key (stable per version)."""
    out = pd.Series([None if v is None else str(v) for v in ids], dtype=object)
    for _ in range(2):
        bad = out.isna() | (out == "") | out.duplicated(keep=False)
        if not bad.any():
            break
        out[bad] = ["~" + str(v) for v in np.asarray(fallback, dtype=object)[bad.to_numpy()]]
    return out.to_numpy(dtype=object)


@dataclass
class Collection:
    """One collection's features: ids, RFC 7946-oriented geometries and a properties frame, row-aligned."""

    kind: str
    ids: np.ndarray
    geometry: np.ndarray
    properties: pd.DataFrame
    temporal: tuple[datetime | None, datetime | None] | None = None
    spans: tuple[np.ndarray, np.ndarray] | None = None   # per-feature [start, end) in UTC microseconds
    edit_tags: np.ndarray | None = None      # per feature, the stored row behind it (layout and regions)
    geometry_type: str | None = None         # the one GeoJSON type of a one-type collection (None: mixed)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def bbox(self) -> list[float] | None:
        """[minx, miny, maxx, maxy] of the located features (7 decimals), None when none has a location; cached: a
        collection does not change once built."""
        present = self.geometry[~shapely.is_missing(self.geometry)] if len(self.geometry) else self.geometry
        if not len(present):
            return None
        return [round(float(v), 7) for v in shapely.total_bounds(present)]

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geometry)

    @cached_property
    def _row_by_id(self) -> dict[str, int]:
        return dict(zip(self.ids.tolist(), range(len(self.ids)), strict=True))

    def row_of(self, feature_id: str) -> int | None:
        """The row of a feature id, None when the collection has no such feature."""
        return self._row_by_id.get(feature_id)

    def edit_tag(self, row: int) -> int | None:
        """The edit tag (stored row id) of a feature, when this collection knows it."""
        if self.edit_tags is None:
            return None
        tag = self.edit_tags[row]
        return None if tag is None or tag != tag else int(tag)

    def rows(self, boxes=None, interval=None, filters: dict[str, set[str]] | None = None) -> np.ndarray:
        """Row numbers (ascending) of the features that pass every filter."""
        n = len(self.ids)
        mask = np.ones(n, dtype=bool)
        if boxes is not None and n:
            with self._lock:       # STRtree construction is lazy: build it once
                tree = self._tree
            hit = np.zeros(n, dtype=bool)
            hit[tree.query(shapely.box(*np.asarray(boxes).T), predicate="intersects")[1]] = True
            mask &= hit
        for column, allowed in (filters or {}).items():
            mask &= self.properties[column].isin(allowed).to_numpy()
        if interval is not None and self.spans is not None:
            start, end = interval
            lo, hi = self.spans
            if start is not None:
                mask &= hi > _micro(start)
            if end is not None:
                mask &= lo <= _micro(end)
        return np.flatnonzero(mask)

    def features_json(self, rows: np.ndarray, geometry: np.ndarray | None = None) -> list[str]:
        """GeoJSON Feature texts of some rows (vectorised: one call each for ids, geometries, properties);
        `geometry`: those rows' geometries in another CRS (riskmap.api.ogc_query.to_crs)."""
        if not len(rows):
            return []
        geoms = shapely.to_geojson(self.geometry[rows] if geometry is None else geometry)
        geoms = np.where(pd.isna(geoms), "null", geoms)
        ids = _json_lines(pd.DataFrame({"id": self.ids[rows]}))
        props = _json_lines(self.properties.iloc[rows])
        return ['{"type":"Feature",' + i[1:-1] + ',"geometry":' + g + ',"properties":' + p + "}"
                for i, g, p in zip(ids, geoms, props, strict=True)]

    def records(self, rows: np.ndarray) -> list[dict]:
        """Properties of some rows as dicts (for the HTML pages)."""
        frame = self.properties.iloc[rows].astype(object)
        return frame.where(frame.notna(), None).to_dict("records")

    def geometry_types(self, rows: np.ndarray) -> list[str | None]:
        """The GeoJSON type name of each row's geometry (None when missing), for the HTML pages."""
        types = shapely.get_type_id(self.geometry[rows])
        names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                          "MultiPolygon", "GeometryCollection"], dtype=object)
        return [None if t < 0 else names[t] for t in types.tolist()]


_MULTI = {"areas": (3, 6, "Polygon", shapely.MultiPolygon), "lines": (1, 5, "LineString", shapely.MultiLineString),
          "points": (0, 4, "Point", shapely.MultiPoint)}


def one_type(whole: Collection, part: str) -> Collection:
    """The features of a collection that are areas, lines or points, all of one GeoJSON type: promoted to their
    Multi type when any of them is one, so that a client typing the layer from its first page types it right."""
    rows = np.flatnonzero(part_masks(whole.geometry)[part])
    geoms = np.asarray(whole.geometry[rows], dtype=object).copy()
    single, multi, name, make = _MULTI[part]
    types = shapely.get_type_id(geoms) if len(geoms) else np.zeros(0, int)
    if part == "lines" and (types == 2).any():                  # linear rings as plain lines
        geoms[types == 2] = [shapely.LineString(g.coords) for g in geoms[types == 2]]
        types = shapely.get_type_id(geoms)
    geometry_type = name
    if (types == multi).any():
        geoms[types != multi] = [make([g]) for g in geoms[types != multi]]
        geometry_type = "Multi" + name
    spans = (whole.spans[0][rows], whole.spans[1][rows]) if whole.spans is not None else None
    tags = whole.edit_tags[rows] if whole.edit_tags is not None else None
    out = Collection(whole.kind, whole.ids[rows], geoms, whole.properties.iloc[rows].reset_index(drop=True),
                     whole.temporal if len(rows) else None, spans, tags)
    out.geometry_type = geometry_type
    return out


def _json_lines(frame: pd.DataFrame) -> list[str]:
    text = frame.to_json(orient="records", lines=True, force_ascii=False)
    return text.rstrip("\n").split("\n")


def _micro(moment: datetime) -> np.int64:
    return np.int64((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))


def _text_column(values) -> list:
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def build_regions(plant, method: str, which: str) -> Collection:
    """The regions collection: each region with its level under `method` (aggregation) and `which` (inherent or
    residual) and the unit that decided it."""
    from riskmap.vocabulary import classes

    risks = plant.region_risk(method=method, which=which)
    geoms = {r.id: r.geometry for r in plant.regions}
    rows = []
    for risk in risks:   # one per region; the aggregation itself is vectorised
        unit = risk.decided_by
        level = risk.level
        rows.append((risk.region_id, geoms.get(risk.region_id), risk.region_id, risk.name,
                     level.value if level else None, level.zh if level else None, None, None, risk.method,
                     risk.which, unit.name if unit else None, unit.id if unit else None, risk.explanation))
    columns = ["id", "geometry", *(p[0] for p in KIND_INFO["regions"].properties)]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    rank, colour = classes("regions", frame["level"].tolist())
    frame["rank"], frame["colour"] = rank, colour
    region_ids = frame.pop("id").tolist()
    ids = _unique_ids(region_ids, range(len(frame)))
    geometry = _rfc7946(frame.pop("geometry").tolist())
    features = plant.features
    tag_of = {}
    if len(features):
        regions = features[features["role"] == "region"]
        tag_of = dict(zip(_text_column(regions["fid"]), regions["id"].tolist(), strict=True))
    tags = np.array([tag_of.get(r) for r in region_ids], dtype=object)
    return Collection("regions", ids, geometry, frame.reset_index(drop=True), edit_tags=tags)


def build_units(plant, which: str) -> Collection:
    """The units collection: located units with their `which` level and event count; each dated by its last
    assessment as a day-long span, for ?datetime=."""
    from riskmap.export import units_frame

    names = [p[0] for p in KIND_INFO["units"].properties]
    if not plant.units:     # (units_frame cannot build a frame from no rows)
        return Collection("units", np.empty(0, dtype=object), np.empty(0, dtype=object),
                          pd.DataFrame({name: pd.Series(dtype=object) for name in names}))
    gdf = units_frame(plant, which)
    gdf = gdf[gdf.geometry.notna()].reset_index(drop=True)
    frame = pd.DataFrame({name: gdf[name].astype(object) for name in names})
    for column in frame.columns.drop(["events", "rank"]):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame["events"] = frame["events"].astype("int64")
    frame["rank"] = frame["rank"].astype("int64")
    days = pd.to_datetime(gdf["last_assessed"], format="%Y-%m-%d", errors="coerce")
    start = days.dt.tz_localize(UTC)
    spans = None
    temporal = None
    if len(days):
        epoch = pd.Timestamp(0, tz=UTC)
        lo = ((start - epoch) // pd.Timedelta(microseconds=1)).to_numpy(dtype="float64")
        lo = np.where(np.isnan(lo), np.inf, lo)          # never assessed: outside every interval
        hi = lo + 86_400_000_000.0
        spans = (lo, hi)
        if days.notna().any():
            first, last = days.min(), days.max()
            temporal = (datetime.combine(first.date(), time.min, tzinfo=UTC),
                        datetime.combine(last.date(), time(23, 59, 59), tzinfo=UTC))
    ids = _unique_ids(gdf["unit_id"].tolist(), range(len(gdf)))
    return Collection("units", ids, _rfc7946(gdf.geometry.values), frame, temporal, spans)


def build_layout(plant) -> Collection:
    """The layout collection: the drawing's features with their role and layer, timed from the layout's creation; the
    stored row ids are their edit tags (If-Match)."""
    from riskmap.geo.model import ROLE_ZH
    from riskmap.vocabulary import classes

    features = plant.features
    frame = pd.DataFrame({
        "name": _text_column(features["name"]) if len(features) else [],
        "role": _text_column(features["role"]) if len(features) else [],
        "layer": _text_column(features["layer"]) if len(features) else [],
        "source_id": _text_column(features["fid"]) if len(features) else [],
    }, dtype=object)
    frame.insert(2, "role_zh", frame["role"].map(ROLE_ZH).astype(object))
    frame = frame.where(frame.notna(), None)
    rank, colour = classes("layout", frame["role"].tolist())
    frame = frame[["source_id", "name", "role", "role_zh", "layer"]].assign(rank=rank, colour=colour)
    ids = _unique_ids(frame["source_id"].tolist(), features["id"].tolist() if len(features) else [])
    created = (plant.layout_info or {}).get("created_at")
    temporal = spans = None
    if isinstance(created, datetime):
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        temporal = (created.astimezone(UTC), None)
        lo = np.full(len(ids), float(_micro(temporal[0])))
        spans = (lo, np.full(len(ids), np.inf))
    tags = np.asarray(features["id"].tolist() if len(features) else [], dtype=object)
    return Collection("layout", ids, _rfc7946(features.geometry.values if len(features) else []), frame,
                      temporal, spans, edit_tags=tags)


def build_hazards(store, enterprise_name: str, at: datetime | None, now: datetime) -> Collection:
    """The hazards collection: the published hazards (open at `at` when given), rejected ones left out, placed
    by their location or inside their unit; each spans from its registration on, for ?datetime=. Read from the
    store (riskmap.store.hazards), not from the plant."""
    from riskmap.hazards.table import published
    from riskmap.store.hazards import hazards_frame

    names = [p[0] for p in KIND_INFO["hazards"].properties]
    gdf = published(hazards_frame(store, enterprise_name, at=at, now=now))
    if not len(gdf):
        return Collection("hazards", np.empty(0, dtype=object), np.empty(0, dtype=object),
                          pd.DataFrame({name: pd.Series(dtype=object) for name in names}))
    frame = pd.DataFrame(gdf[names])
    registered = gdf["registered_at"]
    epoch = pd.Timestamp(0, tz=UTC)
    lo = ((registered - epoch) // pd.Timedelta(microseconds=1)).to_numpy(dtype="float64")
    spans = (lo, np.full(len(lo), np.inf))
    temporal = (registered.min().to_pydatetime().astimezone(UTC), None)
    return Collection("hazards", _unique_ids(gdf["hazard_id"].tolist(), range(len(gdf))),
                      _rfc7946(gdf.geometry.values), frame, temporal, spans,
                      edit_tags=gdf["version"].to_numpy(dtype=np.int64))


def build_coverage(store, plant, now: datetime) -> Collection:
    """The coverage collection: the located units (as the units collection places them) with today's coverage
    state (riskmap.inspections.store.coverage, Beijing time) and whether each has a current checkpoint."""
    from riskmap.inspections.coverage import COVERAGE
    from riskmap.inspections.store import coverage

    names = [p[0] for p in KIND_INFO["coverage"].properties]
    units = build_units(plant, "residual")
    if not len(units):
        return Collection("coverage", np.empty(0, dtype=object), np.empty(0, dtype=object),
                          pd.DataFrame({name: pd.Series(dtype=object) for name in names}))
    by_unit, plates = coverage(store, plant.enterprise.name, "today", now=now)
    codes = units.properties["unit_id"].tolist()
    states = [by_unit.get(code, "none") for code in codes]
    frame = pd.DataFrame({
        "unit_id": units.properties["unit_id"].astype(object), "name": units.properties["name"].astype(object),
        "kind": units.properties["kind"].astype(object), "coverage": pd.Series(states, dtype=object),
        "coverage_zh": pd.Series([COVERAGE[s][0] for s in states], dtype=object),
        "coverage_en": pd.Series([COVERAGE[s][1] for s in states], dtype=object),
        "checkpoint": pd.Series([code in plates for code in codes], dtype=bool)})[names]
    return Collection("coverage", units.ids, units.geometry, frame)


# ---------------------------------------------------------------------------------------------- the cache


class PlantView:
    """One enterprise's plant at one data version, with its collections built on first use."""

    def __init__(self, plant, version: int, past: bool = False, *, store=None, at: datetime | None = None,
                 drawing: str | None = None):
        self.plant = plant
        self.version = version
        self.past = past                 # a moment in the past (?at=): read only
        self.store = store               # for the collections read from the store (hazards)
        self.at = at
        self.drawing = drawing
        self._collections: dict[tuple, Collection] = {}
        self._lock = threading.Lock()

    def collection(self, kind: str, method: str | None = None, which: str | None = None,
                   part: str | None = None) -> Collection:
        """A collection of this plant, built once per (kind, method, which, part) and kept: defaults highest /
        residual; `part` (areas, lines, points) picks one geometry type."""
        method = method or "highest"
        which = which or "residual"
        key = (kind, method if kind == "regions" else None,
               which if kind not in ("layout", "hazards", "coverage") else None)
        if kind == "hazards":            # overdue changes with the Beijing day, not only with the data version
            from riskmap import clock

            key = (*key, clock.local_date(clock.now()), self.at)
        elif kind == "coverage":         # windows open and close by the clock (shifts change on the hour)
            from riskmap import clock

            key = (*key, clock.now().astimezone(clock.LOCAL_ZONE).strftime("%Y-%m-%d %H"))
        if part is not None:
            whole = self.collection(kind, method, which)
            with self._lock:
                found = self._collections.get((*key, part))
                if found is None:
                    found = self._collections[(*key, part)] = one_type(whole, part)
            return found
        with self._lock:
            found = self._collections.get(key)
            if found is None:
                if kind == "regions":
                    found = build_regions(self.plant, method, which)
                elif kind == "units":
                    found = build_units(self.plant, which)
                elif kind == "hazards":
                    found = self._hazards()
                elif kind == "coverage":
                    found = self._coverage()
                else:
                    found = build_layout(self.plant)
                self._collections[key] = found
        return found


    def at_moment(self, at: datetime) -> PlantView:
        """This past view for another moment with the same versions: the plant and its collections shared, the
        hazards (open at a moment, not at a version) built for `at`."""
        if at == self.at:
            return self
        other = copy.copy(self)
        other.at = at
        return other

    def _coverage(self) -> Collection:
        from riskmap import clock

        # today's checks: of the units placed on this drawing (the site plan or another: the same units, the same
        # states as the coverage tiles of that drawing draw); nothing for a past moment
        if self.store is None or self.past:
            names = [p[0] for p in KIND_INFO["coverage"].properties]
            return Collection("coverage", np.empty(0, dtype=object), np.empty(0, dtype=object),
                              pd.DataFrame({name: pd.Series(dtype=object) for name in names}))
        return build_coverage(self.store, self.plant, clock.now())

    def _hazards(self) -> Collection:
        from riskmap import clock

        if self.store is None or self.drawing is not None:     # hazards lie on the site plan only
            names = [p[0] for p in KIND_INFO["hazards"].properties]
            return Collection("hazards", np.empty(0, dtype=object), np.empty(0, dtype=object),
                              pd.DataFrame({name: pd.Series(dtype=object) for name in names}))
        return build_hazards(self.store, self.plant.enterprise.name, self.at, self.at or clock.now())


class PlantCache:
    """Plants by (enterprise, data version), the newest few kept."""

    def __init__(self, size: int = PLANTS_KEPT):
        self.size = size
        self._entries: OrderedDict[tuple, PlantView] = OrderedDict()
        self._lock = threading.Lock()

    def view(self, store, enterprise_name: str, drawing: str | None = None) -> PlantView:
        """The enterprise's plant (or one of its other drawings) at its current data version, loaded once; a view
        loaded while a write landed is served but not kept."""
        from riskmap.plant import load_plant

        version = store.data_version(enterprise_name)   # read first: the data loaded is at least this new
        key = (enterprise_name, version, drawing)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        plant = load_plant(store, enterprise_name, drawing=drawing)
        view = PlantView(plant, version, store=store, drawing=drawing)
        if plant.data_version == version:   # nothing written meanwhile: safe to keep under this version
            self._keep(key, view)
        return view

    def past_view(self, store, enterprise_name: str, at: datetime, drawing: str | None = None) -> PlantView:
        """The plant (or another drawing) as it was at `at`; kept under the layout and ledger version numbers
        current then (the past never changes, and two moments with the same versions show the same data)."""
        from riskmap.plant import load_plant
        from riskmap.store.history import versions_at

        key = (enterprise_name, versions_at(store, enterprise_name, at).key, drawing)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found.at_moment(at)
        plant = load_plant(store, enterprise_name, at=at, drawing=drawing)
        view = PlantView(plant, plant.data_version, past=True, store=store, at=at, drawing=drawing)
        self._keep(key, view)
        return view

    def _keep(self, key, view: PlantView) -> None:
        with self._lock:
            self._entries[key] = view
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)




def plant_cache(app) -> PlantCache:
    """The app's one cache of plants, shared by the reading and the editing routes."""
    from riskmap.api.deps import app_singleton

    return app_singleton(app, "ogc_plants", PlantCache)


# ---------------------------------------------------------------------------------------------- enterprises


@dataclass(frozen=True)
class CollectionRef:
    """A collection id resolved: which enterprise and kind it names, whether the id carried the enterprise
    (e12_units) and which geometry part, if any."""

    id: str
    kind: str
    enterprise: Any          # riskmap.domain.Enterprise
    prefixed: bool
    part: str | None = None  # areas, lines or points: one geometry type of a split layer (None: all of it)


def prefixed_id(enterprise, kind: str) -> str:
    """The collection id that names its enterprise (e12_units): needed when the database holds several enterprises."""
    return f"e{enterprise.id}_{kind}"


def _default_enterprise(enterprises, configured: str | None):
    if configured:
        for ent in enterprises:
            if ent.name == configured:
                return ent
    return enterprises[0] if len(enterprises) == 1 else None


def _named(enterprises, name: str):
    wanted = name.strip()
    for ent in enterprises:
        if ent.name == wanted:
            return ent
    raise no_enterprise(wanted)


def _typed(name: str) -> tuple[str, str | None] | None:
    """(kind, part) of a collection name without its enterprise prefix: units → (units, None) (the whole, mixed
    layer: editing and older links), units_points → (units, points); None for no such name."""
    if name == "regions":
        return name, "areas"
    if name in KINDS or name in READ_ONLY:
        return name, None
    kind, _, part = name.partition("_")
    if kind == "hazards":
        return (kind, part) if part in HAZARD_PARTS else None
    if kind == "coverage":
        return (kind, part) if part in PARTS else None
    kind, _, part = name.partition("_")
    if kind in SPLIT_LAYERS and part in PARTS:
        return kind, part
    return None


def _ref(collection_id: str, name: str, ent, prefixed: bool) -> CollectionRef:
    kind, part = _typed(name)
    return CollectionRef(collection_id, kind, ent, prefixed, part)


def list_collections(store, configured: str | None, enterprise_param: str | None) -> list[CollectionRef]:
    """The collections offered, each of one geometry type (LISTED): the enterprise asked for (?enterprise=), else
    the default enterprise's under plain names, plus, when the database holds several enterprises, every
    enterprise's as e<id>_<name>. The mixed `units` and `layout` answer too, but are not listed (GDAL and QGIS
    take a collection's geometry type from its first page)."""
    enterprises = store.enterprises()
    if enterprise_param:
        ent = _named(enterprises, enterprise_param)
        return [_ref(name, name, ent, False) for name in LISTED]
    refs = []
    default = _default_enterprise(enterprises, configured)
    if default is not None:
        refs += [_ref(name, name, default, False) for name in LISTED]
    if len(enterprises) > 1:
        refs += [_ref(prefixed_id(ent, name), name, ent, True) for ent in enterprises for name in LISTED]
    return refs


def resolve_collection(store, configured: str | None, enterprise_param: str | None,
                       collection_id: str) -> CollectionRef:
    """The enterprise and kind a collection id names: a prefixed id, or a plain kind with ?enterprise= or the only
    (or configured) enterprise; 400 when ambiguous, 404 when unknown."""
    enterprises = store.enterprises()
    if _typed(collection_id) is not None:
        if enterprise_param:
            return _ref(collection_id, collection_id, _named(enterprises, enterprise_param), False)
        default = _default_enterprise(enterprises, configured)
        if default is not None:
            return _ref(collection_id, collection_id, default, False)
        if not enterprises:
            raise no_enterprise_yet()
        names = "、".join(e.name for e in enterprises)
        raise OgcParameterError(f"数据库中有多个企业（{names}），请加 ?enterprise=企业名称，或用 e编号_{collection_id} "
                                f"形式的集合 / several enterprises: add ?enterprise=<name> or use the collection "
                                f"e<id>_{collection_id}")
    head, _, name = collection_id.partition("_")
    if _typed(name) is not None and head.startswith("e") and head[1:].isdigit() and head[1:].isascii():
        for ent in enterprises:
            if str(ent.id) == head[1:]:
                return _ref(collection_id, name, ent, True)
    raise NotFoundError(f"没有集合 “{collection_id}”，可用：{', '.join(LISTED)} / no collection {collection_id!r}; "
                        f"available: {', '.join(LISTED)}")


def feature_collection_json(collection: Collection, rows: np.ndarray, matched: int, links: list[dict],
                            timestamp: str, geometry: np.ndarray | None = None) -> str:
    """A FeatureCollection page as JSON text, assembled from pre-encoded features (no pydantic on this path: pages
    can be large)."""
    features = ",".join(collection.features_json(rows, geometry))
    return ('{"type":"FeatureCollection","features":[' + features + '],"numberMatched":' + str(int(matched))
            + ',"numberReturned":' + str(len(rows)) + ',"timeStamp":' + json.dumps(timestamp)
            + ',"links":' + json.dumps(links, ensure_ascii=False, separators=(",", ":")) + "}")


def unit_record(unit, which: str | None) -> dict:
    """The units collection's properties of one unit (for a unit the collection leaves out: no location)."""
    from riskmap.vocabulary import classes

    level = unit.level(which or "residual")
    rank, colour = classes("units", [level.value if level else None])
    return {"unit_id": unit.id, "name": unit.name, "kind": unit.kind.value, "kind_zh": unit.kind.zh,
            "level": level.value if level else None, "level_zh": level.zh if level else None,
            "rank": int(rank[0]), "colour": colour[0], "parent_id": unit.parent_id,
            "feature_ref": None if unit.feature_ref is None else str(unit.feature_ref), "events": len(unit.events),
            "last_assessed": unit.last_assessed.isoformat() if unit.last_assessed else None, "located_by": None}


def unlocated_unit_json(unit, record: dict, links: list[dict]) -> str:
    """A unit without location as a Feature (geometry null): it is reachable by id though the units collection leaves
    it out."""
    return json.dumps({"type": "Feature", "id": unit.id, "geometry": None, "properties": record, "links": links},
                      ensure_ascii=False, separators=(",", ":"))


def feature_json(collection: Collection, row: int, links: list[dict], geometry: np.ndarray | None = None) -> str:
    """One feature as JSON text, with its links."""
    text = collection.features_json(np.array([row]), geometry)[0]
    return text[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False, separators=(",", ":")) + "}"


def rfc3339(moment: datetime | None) -> str | None:
    """A moment as RFC 3339 UTC to the second (…Z), as OGC documents want; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
