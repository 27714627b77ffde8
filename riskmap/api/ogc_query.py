"""What a client asks of an OGC API Features collection beyond Part 1: coordinate systems (Part 2), queryables and
a CQL2 text filter (Part 3), sorting (`sortby`), and the JSON Schemas that describe a collection (Part 3 and 5).

Why here: the items route (riskmap.api.routers.ogc) only checks input and shapes answers; the rules of these
parameters are a module of their own, tested without HTTP. Every mistake is an OgcParameterError (400) that names
the parameter, Chinese first.

- CRS: CRS84 (the storage CRS), EPSG:4326 and EPSG:4490 (CGCS2000; both latitude first, as their definitions
  say), EPSG:3857, and the plant's own CGCS2000 3-degree Gauss-Krüger zone (EPSG:4534–4554 by the central
  meridian nearest the plant; northing first). `crs` transforms the answer, `bbox-crs` reads the bbox in any of
  them; CGCS2000 is taken as equal to WGS 84 (they differ by centimetres).
- CQL2 text (parsed by the `cql2` library): comparisons, AND/OR/NOT, LIKE, BETWEEN, IN, IS NULL and CASEI on the
  collection's queryables, with SQL's three-valued logic (a null never matches a comparison, nor its NOT).
  `level` compares by risk (`level >= 'significant'` is significant or major) and takes Chinese names too.
- sortby: `name,-level` (+ ascending, - descending); `level` sorts by risk, nulls last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import shapely

from riskmap.api.ogc_data import CRS84, CRS84_NAMES, KIND_INFO, Collection, OgcParameterError

EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
FIXED_EPSG = (4326, 4490, 3857)
GK_FIRST, GK_LAST, GK_FIRST_MERIDIAN = 4534, 4554, 75     # CGCS2000 / 3-degree Gauss-Kruger CM 75E … 135E
MAX_FILTER_CHARS = 4000
MAX_SORT_KEYS = 5


# ---------------------------------------------------------------------------------------------- CRS


def gauss_kruger_epsg(bbox: list[float] | None) -> int | None:
    """The CGCS2000 3-degree Gauss-Krüger zone (EPSG code) whose central meridian is nearest the plant's centre,
    or None outside China's zones."""
    if not bbox:
        return None
    lon = (bbox[0] + bbox[2]) / 2
    meridian = round(lon / 3) * 3
    code = GK_FIRST + (meridian - GK_FIRST_MERIDIAN) // 3
    return int(code) if GK_FIRST <= code <= GK_LAST else None


def crs_list(bbox: list[float] | None) -> list[str]:
    """The CRS URIs a collection offers: CRS84 first (the storage CRS), then EPSG ones."""
    codes = [*FIXED_EPSG]
    gk = gauss_kruger_epsg(bbox)
    if gk:
        codes.append(gk)
    return [CRS84, *(EPSG_URI.format(code=c) for c in codes)]


_EPSG_NAME = re.compile(r"^(?:https?://www\.opengis\.net/def/crs/EPSG/0/|EPSG:|\[EPSG:|urn:ogc:def:crs:EPSG::)"
                        r"(\d{4,5})\]?$", re.IGNORECASE)


@dataclass(frozen=True)
class CrsChoice:
    """A CRS a request asked for: its URI (as echoed in Content-Crs) and EPSG code."""

    uri: str
    code: int | None          # EPSG code; None for CRS84

    @property
    def is_crs84(self) -> bool:
        """Whether it is CRS84 (longitude first), the default: no reprojection needed."""
        return self.code is None


def parse_crs(text: str | None, bbox: list[float] | None, name: str = "crs") -> CrsChoice:
    """A `crs` (or `bbox-crs`) value among those the collection offers; CRS84 without one."""
    if text is None or text.strip() == "":
        return CrsChoice(CRS84, None)
    value = text.strip()
    if value in CRS84_NAMES:
        return CrsChoice(CRS84, None)
    match = _EPSG_NAME.match(value)
    offered = crs_list(bbox)
    if match:
        uri = EPSG_URI.format(code=int(match.group(1)))
        if uri in offered:
            return CrsChoice(uri, int(match.group(1)))
    raise OgcParameterError(f"{name} 不支持 {value[:100]!r}，可用：{', '.join(offered)} / {name} {value[:100]!r} is "
                            f"not offered; use one of: {', '.join(offered)}")


@lru_cache(maxsize=16)
def _transformer(source: str, target: str):
    from pyproj import Transformer

    return Transformer.from_crs(source, target)        # authority axis order on both sides


def _pyproj_name(choice: CrsChoice) -> str:
    return "OGC:CRS84" if choice.is_crs84 else f"EPSG:{choice.code}"


def to_crs(geoms: np.ndarray, choice: CrsChoice) -> np.ndarray:
    """CRS84 geometries in `choice`, coordinates in its axis order (latitude first for EPSG:4326 and 4490)."""
    if choice.is_crs84 or not len(geoms):
        return geoms
    transformer = _transformer("OGC:CRS84", _pyproj_name(choice))

    def project(coords: np.ndarray) -> np.ndarray:
        lon = coords[:, 0]
        lat = np.clip(coords[:, 1], -85.06, 85.06) if choice.code == 3857 else coords[:, 1]
        a, b = transformer.transform(lon, lat)
        return np.column_stack([a, b])

    out = np.asarray(geoms, dtype=object).copy()
    present = ~shapely.is_missing(out)
    if present.any():
        out[present] = shapely.transform(out[present], project)
    return out


def bbox_in_crs84(text: str | None, choice: CrsChoice) -> list[tuple[float, float, float, float]] | None:
    """`bbox` given in a non-CRS84 `bbox-crs` (its axis order) as a CRS84 box."""
    if text is None:
        return None
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(np.isfinite(values)) or values[0] > values[2] or values[1] > values[3]:
        raise OgcParameterError(f"bbox 应为 4 个数（按 bbox-crs 的坐标轴顺序：最小值,最小值,最大值,最大值），而不是 "
                                f"{text[:100]!r} / bbox must be four numbers in the axis order of bbox-crs (min, "
                                f"min, max, max), not {text[:100]!r}")
    transformer = _transformer(_pyproj_name(choice), "OGC:CRS84")
    west, south, east, north = transformer.transform_bounds(*values, densify_pts=21)
    if not all(np.isfinite([west, south, east, north])):
        raise OgcParameterError(f"bbox {text[:100]!r} 超出 {choice.uri} 的范围 / bbox lies outside {choice.uri}")
    return [(west, south, east, north)]


def content_crs_header(choice: CrsChoice) -> str:
    """The Content-Crs header (OGC API Features Part 2): the CRS of the coordinates sent."""
    return f"<{choice.uri}>"


# ---------------------------------------------------------------------------------------------- queryables


def queryables(kind: str) -> dict[str, dict[str, Any]]:
    """Property name → JSON Schema of the properties a filter and sortby may use (the collection's own)."""
    from riskmap.vocabulary import item_fields

    out: dict[str, dict[str, Any]] = {}
    for f in item_fields(kind):
        schema: dict[str, Any] = {"title": f.zh, "description": f.description, "type": f.json_type}
        if f.type == "date":
            schema["format"] = "date"
        if f.values:
            schema["enum"] = list(f.values)
        out[f.name] = schema
    return out


GEOMETRY_FORMATS = {"Polygon": "geometry-polygon", "MultiPolygon": "geometry-multipolygon",
                    "LineString": "geometry-linestring", "MultiLineString": "geometry-multilinestring",
                    "Point": "geometry-point", "MultiPoint": "geometry-multipoint"}


def schema_document(kind: str, geometry_type: str | None, schema_id: str, title: str, *, part5: bool) -> dict:
    """The queryables (Part 3) or the schema (Part 5) of a collection as a JSON Schema (2019-09)."""
    props: dict[str, Any] = {}
    if part5:
        props["id"] = {"title": "要素编号 / feature id", "type": "string", "x-ogc-role": "id"}
    props.update(queryables(kind))
    geometry: dict[str, Any] = {"title": "几何 / geometry", "x-ogc-role": "primary-geometry"}
    if geometry_type in GEOMETRY_FORMATS:
        geometry["format"] = GEOMETRY_FORMATS[geometry_type]
    props["geometry"] = geometry
    return {"$schema": "https://json-schema.org/draft/2019-09/schema", "$id": schema_id, "type": "object",
            "title": title, "properties": props, "additionalProperties": not part5}


# ---------------------------------------------------------------------------------------------- CQL2


def _bad_filter(message_zh: str, message_en: str) -> OgcParameterError:
    return OgcParameterError(f"filter（CQL2）有误：{message_zh} / bad filter (CQL2): {message_en}")


def parse_filter(text: str | None, lang: str | None, kind: str) -> dict | None:
    """A CQL2 text filter as its JSON tree (checked against the collection's queryables), None without one."""
    if lang is not None and lang.strip().lower() not in ("cql2-text", ""):
        raise OgcParameterError(f"filter-lang 只支持 cql2-text，而不是 {lang[:40]!r} / only filter-lang=cql2-text is "
                                f"supported, not {lang[:40]!r}")
    if text is None:
        return None
    if len(text) > MAX_FILTER_CHARS or not text.strip():
        raise _bad_filter(f"为空或超过 {MAX_FILTER_CHARS} 字", f"empty or longer than {MAX_FILTER_CHARS} characters")
    import cql2

    try:
        tree = cql2.parse_text(text).to_json()
    except Exception as exc:          # cql2.ParseError and friends: the library's message is English
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise _bad_filter("无法解析", first) from None
    _check_properties(tree, set(queryables(kind)) | {"id"})
    return tree


def _check_properties(node: Any, allowed: set[str]) -> None:
    if isinstance(node, dict):
        if "property" in node:
            name = node["property"]
            if name not in allowed:
                raise _bad_filter(f"没有可查询属性 {str(name)[:60]!r}，可用：{', '.join(sorted(allowed))}",
                                  f"unknown queryable {str(name)[:60]!r}; available: {', '.join(sorted(allowed))}")
        for value in node.values():
            _check_properties(value, allowed)
    elif isinstance(node, list):
        for value in node:
            _check_properties(value, allowed)


@dataclass
class _Truth:
    """Three-valued truth as two masks: definitely true, definitely false (neither: unknown, from a null)."""

    true: np.ndarray
    false: np.ndarray


def _level_rank(values: Any) -> np.ndarray:
    """Risk rank of level values (codes or Chinese names; None → NaN)."""
    from riskmap.levels import Level

    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return np.nan
        try:
            return float(Level.parse(str(v)).rank)
        except ValueError:
            raise _bad_filter(f"未知的风险等级 {str(v)[:40]!r}", f"unknown risk level {str(v)[:40]!r}") from None

    return np.array([one(v) for v in values], dtype=float)


class _Evaluator:
    def __init__(self, collection: Collection, rows: np.ndarray):
        self.frame = collection.properties.iloc[rows].reset_index(drop=True)
        self.ids = collection.ids[rows]
        self.n = len(rows)

    def column(self, name: str) -> np.ndarray:
        if name == "id":
            return self.ids.astype(object)
        return self.frame[name].to_numpy(dtype=object)

    def values(self, node: Any, level: bool = False) -> tuple[np.ndarray, bool]:
        """(values per row, is-a-property) of an operand."""
        if isinstance(node, dict) and "property" in node:
            col = self.column(node["property"])
            return (_level_rank(col) if level else col), True
        if isinstance(node, dict) and node.get("op") == "casei":
            inner, is_prop = self.values(node["args"][0])
            return np.array([v.lower() if isinstance(v, str) else v for v in inner], dtype=object), is_prop
        if isinstance(node, dict) and ("date" in node or "timestamp" in node):
            node = node.get("date") or node.get("timestamp")
        if isinstance(node, dict | list):
            raise _bad_filter("不支持的表达式（只支持属性比较）", "unsupported expression (only property comparisons)")
        if level:
            return np.full(self.n, _level_rank([node])[0]), False
        return np.full(self.n, node, dtype=object), False

    def truth(self, node: Any) -> _Truth:
        if not isinstance(node, dict) or "op" not in node:
            if isinstance(node, bool):
                return _Truth(np.full(self.n, node), np.full(self.n, not node))
            raise _bad_filter("应为条件表达式", "expected a condition")
        op, args = node["op"], node.get("args", [])
        if op == "and":
            parts = [self.truth(a) for a in args]
            return _Truth(np.logical_and.reduce([p.true for p in parts]),
                          np.logical_or.reduce([p.false for p in parts]))
        if op == "or":
            parts = [self.truth(a) for a in args]
            return _Truth(np.logical_or.reduce([p.true for p in parts]),
                          np.logical_and.reduce([p.false for p in parts]))
        if op == "not":
            inner = self.truth(args[0])
            return _Truth(inner.false, inner.true)
        if op == "isNull":
            values, _ = self.values(args[0])
            null = pd.isna(pd.Series(values, dtype=object)).to_numpy()
            return _Truth(null, ~null)
        level = _is_level(args[0]) or (len(args) > 1 and _is_level(args[1]))
        if op in ("=", "<>", "<", "<=", ">", ">="):
            left, _ = self.values(args[0], level)
            right, _ = self.values(args[1], level)
            return self._compare(op, left, right)
        if op == "like":
            values, _ = self.values(args[0])
            pattern = args[1]
            casei = isinstance(pattern, dict) and pattern.get("op") == "casei"
            if casei:
                pattern = pattern["args"][0]
            if not isinstance(pattern, str):
                raise _bad_filter("LIKE 的模式应为文字", "the LIKE pattern must be text")
            regex = re.compile(_like_regex(pattern), re.IGNORECASE if casei else 0)
            known = np.array([isinstance(v, str) for v in values], bool)
            hit = np.array([bool(regex.fullmatch(v)) if isinstance(v, str) else False for v in values], bool)
            return _Truth(hit, known & ~hit)
        if op == "between":
            values, _ = self.values(args[0], level)
            lo, _ = self.values(args[1], level)
            hi, _ = self.values(args[2], level)
            a, b = self._compare(">=", values, lo), self._compare("<=", values, hi)
            return _Truth(a.true & b.true, a.false | b.false)
        if op == "in":
            values, _ = self.values(args[0], level)
            items = args[1] if isinstance(args[1], list) else [args[1]]
            options = [self.values(item, level)[0] for item in items]
            known = ~pd.isna(pd.Series(values, dtype=object)).to_numpy()
            hit = np.zeros(self.n, bool)
            for option in options:
                hit |= self._compare("=", values, option).true
            return _Truth(hit, known & ~hit)
        raise _bad_filter(f"不支持的运算 {str(op)[:40]}（支持比较、AND/OR/NOT、LIKE、BETWEEN、IN、IS NULL、CASEI）",
                          f"unsupported operator {str(op)[:40]} (comparisons, AND/OR/NOT, LIKE, BETWEEN, IN, "
                          "IS NULL and CASEI are)")

    def _compare(self, op: str, left: np.ndarray, right: np.ndarray) -> _Truth:
        known = ~(_nulls(left) | _nulls(right))
        result = np.zeros(self.n, bool)
        for i in np.flatnonzero(known):
            a, b = left[i], right[i]
            if isinstance(a, str) != isinstance(b, str):
                a, b = str(a), str(b)        # a number against text: compare as text, never a crash
            try:
                result[i] = {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
            except TypeError:
                result[i] = False
        return _Truth(result & known, known & ~result)


def _nulls(values: np.ndarray) -> np.ndarray:
    return pd.isna(pd.Series(values, dtype=object)).to_numpy()


def _is_level(node: Any) -> bool:
    return isinstance(node, dict) and node.get("property") == "level"


def _like_regex(pattern: str) -> str:
    """CQL2 LIKE (% any run, _ one character, backslash escapes) as a regular expression."""
    out, escape = [], False
    for ch in pattern:
        if escape:
            out.append(re.escape(ch))
            escape = False
        elif ch == "\\":
            escape = True
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def apply_filter(collection: Collection, rows: np.ndarray, tree: dict | None) -> np.ndarray:
    """The rows (of `rows`) that the filter keeps."""
    if tree is None or not len(rows):
        return rows
    return rows[_Evaluator(collection, rows).truth(tree).true]


# ---------------------------------------------------------------------------------------------- sortby


def parse_sortby(text: str | None, kind: str) -> list[tuple[str, bool]] | None:
    """`sortby=name,-level` as [(property, ascending)]; None without one."""
    if text is None:
        return None
    allowed = set(queryables(kind)) | {"id"}
    keys = []
    for part in text.split(","):
        item = part.strip()
        ascending = not item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in allowed:
            raise OgcParameterError(f"sortby 中没有可排序属性 {name[:60]!r}，可用：{', '.join(sorted(allowed))} / "
                                    f"sortby: {name[:60]!r} is not sortable; use: {', '.join(sorted(allowed))}")
        keys.append((name, ascending))
    if not keys or len(keys) > MAX_SORT_KEYS:
        raise OgcParameterError(f"sortby 应有 1 到 {MAX_SORT_KEYS} 个属性 / sortby takes 1 to {MAX_SORT_KEYS} "
                                "properties")
    return keys


def apply_sortby(collection: Collection, rows: np.ndarray, keys: list[tuple[str, bool]] | None) -> np.ndarray:
    """`rows` ordered by the keys (stable: equal rows keep the collection's order), nulls last."""
    if not keys or len(rows) < 2:
        return rows
    lex = []
    for name, ascending in reversed(keys):       # np.lexsort: the last key is the primary one
        values = collection.ids[rows] if name == "id" else collection.properties[name].to_numpy(dtype=object)[rows]
        if name == "level":
            numeric = _level_rank(values)
        else:
            series = pd.Series(values, dtype=object)
            codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
            numeric = np.where(codes < 0, np.nan, codes).astype(float)
        missing = np.isnan(numeric)
        numeric = np.where(missing, 0.0, numeric if ascending else -numeric)
        lex += [numeric, missing]                # missing (True) sorts after present, in both directions
    return rows[np.lexsort(lex)]


def property_names(kind: str) -> list[str]:
    """The property names of a kind of collection, in document order."""
    return [p[0] for p in KIND_INFO[kind].properties]
