"""What changed between the stored layout and a revised drawing of the same plant.

`diff_layouts(current, revised)` pairs the features of both sides (by CAD handle, then by a unique name of the
same role, then by overlap), classifies each pair (unchanged, reshaped, renamed, re-roled, moved to another
layer, attributes changed) and lists what was added or removed. A matched revised feature keeps the current
feature's fid, so the units attached to it stay attached. Nothing here writes: `LayoutDiff.to_changes()` gives
the creates/replaces/deletes the store applies as one new layout version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from riskmap.errors import InputError, RiskmapError

# A geometry that moved by at most this much (Hausdorff distance, metres) counts as unchanged.
SAME_GEOMETRY_M = 0.01
# Overlap matching: areas need this intersection over union; points and lines this distance (metres).
MIN_IOU = 0.5
MAX_POINT_DISTANCE_M = 1.0
# Properties the store adds itself; they are not a change in the drawing.
_STORE_KEYS = frozenset({"source_fid"})
_AREA_TYPES = ("Polygon", "MultiPolygon")
CHANGE_KINDS = ("reshaped", "renamed", "re-roled", "relayered", "properties")
CHANGE_ZH = {"reshaped": "形状改变", "renamed": "更名", "re-roled": "角色改变", "relayered": "图层改变",
             "properties": "属性改变", "added": "新增", "removed": "删除"}
MATCH_ZH = {"handle": "图元句柄", "name": "名称", "overlap": "位置重叠"}


@dataclass
class _Side:
    """One side of the diff as plain arrays (index i = row i of the frame)."""

    fid: np.ndarray
    name: np.ndarray
    role: np.ndarray
    layer: np.ndarray
    properties: list
    geometry: np.ndarray          # EPSG:4326, as given
    metric: np.ndarray            # the same in metres (a local UTM zone)
    edit_tag: np.ndarray | None   # row ids of the current side (the If-Match of each feature)

    @property
    def n(self) -> int:
        return len(self.fid)


@dataclass
class LayoutDiff:
    """The diff as data: `rows` lists every feature that changed, was added or removed; `to_dict()` is the JSON."""

    counts: dict[str, int]
    matched_by: dict[str, int]
    rows: list[dict]
    changes: list[dict] = field(repr=False)   # creates/replaces/deletes as plain dicts (see to_changes)
    if_match: dict[str, list[int]] = field(repr=False)

    @property
    def has_changes(self) -> bool:
        """Whether the revision changes anything; applying an unchanged diff writes no new layout version."""
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON for the CLI and the API: counts, how features were matched, a row per changed feature."""
        return {"counts": dict(self.counts), "matched_by": dict(self.matched_by), "features": list(self.rows)}

    def to_changes(self) -> list:
        """The store's FeatureChange list for Store.apply_layout_changes (action "revise")."""
        from riskmap.store.editing import FeatureChange

        return [FeatureChange(**change) for change in self.changes]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _texts(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    out = np.empty(len(frame), dtype=object)
    out[:] = [_text(v) for v in frame[column].tolist()]
    return out


def _props(value: Any) -> dict:
    return dict(value) if isinstance(value, dict) else {}


def _side(frame: gpd.GeoDataFrame, crs, with_tags: bool) -> _Side:
    geoms = np.asarray(frame.geometry.array, dtype=object)
    metric = np.asarray(gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(crs).array, dtype=object) if len(geoms) \
        else np.zeros(0, dtype=object)
    tags = None
    if with_tags and "id" in frame.columns:
        tags = frame["id"].to_numpy()
    return _Side(fid=_texts(frame, "fid"), name=_texts(frame, "name"), role=_texts(frame, "role"),
                 layer=_texts(frame, "layer"), properties=[_props(p) for p in frame["properties"].tolist()]
                 if "properties" in frame.columns else [{} for _ in range(len(frame))],
                 geometry=geoms, metric=metric, edit_tag=tags)


def _metric_crs(current: gpd.GeoDataFrame, revised: gpd.GeoDataFrame):
    """A local UTM zone around both layouts: distances and areas in metres, to well under a centimetre."""
    both = gpd.GeoSeries(np.concatenate([np.asarray(current.geometry.array, dtype=object),
                                         np.asarray(revised.geometry.array, dtype=object)]), crs="EPSG:4326")
    return both.estimate_utm_crs()


_POSITIONAL = re.compile(r"^(?:.*/)?\d+$")


def positional_fids(fids: np.ndarray, source_format: str | None) -> bool:
    """True when a GIS file's fids are only row numbers (no id column), which say nothing about identity."""
    if source_format in (None, "dxf", "gpkg") or not len(fids):
        return False
    return all(f is not None and _POSITIONAL.match(f) for f in fids.tolist())


def _match_handles(cur: _Side, rev: _Side, cur_free: np.ndarray, rev_free: np.ndarray) -> list[tuple[int, int]]:
    """Same fid, else the current feature's original CAD handle (properties.source_fid) when it is unique."""
    by_fid = {f: i for i, f in enumerate(cur.fid.tolist()) if f is not None}
    by_source: dict[str, list[int]] = {}
    for i, props in enumerate(cur.properties):
        source = _text(props.get("source_fid"))
        if source is not None:
            by_source.setdefault(source, []).append(i)
    pairs = []
    for j, f in enumerate(rev.fid.tolist()):
        if f is None or not rev_free[j]:
            continue
        i = by_fid.get(f)
        if i is None and len(by_source.get(f, ())) == 1:
            i = by_source[f][0]
        if i is not None and cur_free[i] and _same_kind(cur.geometry[i], rev.geometry[j]):
            pairs.append((i, j))
            cur_free[i] = rev_free[j] = False
    return pairs


def _same_kind(a, b) -> bool:
    """An area only pairs with an area, a point or line only with a point or line."""
    return (a.geom_type in _AREA_TYPES) == (b.geom_type in _AREA_TYPES)


def _match_names(cur: _Side, rev: _Side, cur_free: np.ndarray, rev_free: np.ndarray) -> list[tuple[int, int]]:
    """A name of the same role that occurs once among the unmatched features on each side."""
    def unique_keys(side: _Side, free: np.ndarray) -> dict[tuple, int]:
        seen: dict[tuple, list[int]] = {}
        for i in np.flatnonzero(free).tolist():
            if side.name[i] is not None:
                seen.setdefault((side.name[i], side.role[i]), []).append(i)
        return {k: v[0] for k, v in seen.items() if len(v) == 1}

    cur_keys, rev_keys = unique_keys(cur, cur_free), unique_keys(rev, rev_free)
    pairs = []
    for key, j in rev_keys.items():
        i = cur_keys.get(key)
        if i is not None and _same_kind(cur.geometry[i], rev.geometry[j]):
            pairs.append((i, j))
            cur_free[i] = rev_free[j] = False
    return pairs


def _greedy(ci: np.ndarray, rj: np.ndarray, order: np.ndarray, cur_free: np.ndarray,
            rev_free: np.ndarray) -> list[tuple[int, int]]:
    pairs = []
    for k in order.tolist():
        i, j = int(ci[k]), int(rj[k])
        if cur_free[i] and rev_free[j]:
            pairs.append((i, j))
            cur_free[i] = rev_free[j] = False
    return pairs


def _match_overlap(cur: _Side, rev: _Side, cur_free: np.ndarray, rev_free: np.ndarray) -> list[tuple[int, int]]:
    """Remaining features of the same role by overlap, best pairs first: areas by IoU, the rest by distance."""
    ci_all = np.flatnonzero(cur_free)
    rj_all = np.flatnonzero(rev_free)
    if not len(ci_all) or not len(rj_all):
        return []
    cur_area = np.isin(shapely.get_type_id(cur.metric[ci_all]), (3, 6))
    rev_area = np.isin(shapely.get_type_id(rev.metric[rj_all]), (3, 6))
    pairs: list[tuple[int, int]] = []

    # areas: candidate pairs whose boxes touch, then intersection over union
    c_idx, r_idx = ci_all[cur_area], rj_all[rev_area]
    if len(c_idx) and len(r_idx):
        tree = shapely.STRtree(cur.metric[c_idx])
        r_pos, c_pos = tree.query(rev.metric[r_idx], predicate="intersects")
        ci, rj = c_idx[c_pos], r_idx[r_pos]
        keep = cur.role[ci] == rev.role[rj]
        ci, rj = ci[keep], rj[keep]
        if len(ci):
            a, b = cur.metric[ci], rev.metric[rj]
            inter = shapely.area(shapely.intersection(a, b))
            union = shapely.area(a) + shapely.area(b) - inter
            iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
            good = iou >= MIN_IOU
            ci, rj, iou = ci[good], rj[good], iou[good]
            pairs += _greedy(ci, rj, np.argsort(-iou, kind="stable"), cur_free, rev_free)

    # points and lines: within a metre, nearest first
    c_idx, r_idx = ci_all[~cur_area], rj_all[~rev_area]
    if len(c_idx) and len(r_idx):
        tree = shapely.STRtree(cur.metric[c_idx])
        r_pos, c_pos = tree.query(rev.metric[r_idx], predicate="dwithin", distance=MAX_POINT_DISTANCE_M)
        ci, rj = c_idx[c_pos], r_idx[r_pos]
        keep = cur.role[ci] == rev.role[rj]
        ci, rj = ci[keep], rj[keep]
        if len(ci):
            dist = shapely.hausdorff_distance(cur.metric[ci], rev.metric[rj])
            pairs += _greedy(ci, rj, np.argsort(dist, kind="stable"), cur_free, rev_free)
    return pairs


def _r(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def diff_layouts(current: gpd.GeoDataFrame, revised: gpd.GeoDataFrame, *,  # noqa: C901 — matching rules in order
                 revised_format: str | None = None) -> LayoutDiff:
    """Compare the stored layout (`current`, as Store.layout_features gives it, with the row id in `id`) with a
    revised import (`revised`, as import_layout gives it); both EPSG:4326.

    `revised_format` ("dxf", "geojson", ...) lets row-number fids of GIS files without an id column be ignored
    for matching (they change whenever a feature is deleted above them).
    """
    crs = _metric_crs(current, revised)
    cur, rev = _side(current, crs, True), _side(revised, crs, False)
    cur_free, rev_free = np.ones(cur.n, dtype=bool), np.ones(rev.n, dtype=bool)

    matched: list[tuple[int, int, str]] = []
    if not positional_fids(rev.fid, revised_format):
        matched += [(i, j, "handle") for i, j in _match_handles(cur, rev, cur_free, rev_free)]
    matched += [(i, j, "name") for i, j in _match_names(cur, rev, cur_free, rev_free)]
    matched += [(i, j, "overlap") for i, j in _match_overlap(cur, rev, cur_free, rev_free)]
    matched.sort(key=lambda t: t[0])

    ci = np.asarray([m[0] for m in matched], dtype=np.int64)
    rj = np.asarray([m[1] for m in matched], dtype=np.int64)
    a, b = cur.metric[ci], rev.metric[rj]
    moved = shapely.hausdorff_distance(a, b) if len(ci) else np.zeros(0)
    area_a, area_b = shapely.area(a), shapely.area(b)

    counts = dict.fromkeys(("current", "revised", "unchanged", "changed", *CHANGE_KINDS, "added", "removed"), 0)
    counts["current"], counts["revised"] = cur.n, rev.n
    matched_by = dict.fromkeys(MATCH_ZH, 0)
    rows: list[dict] = []
    changes: list[dict] = []
    if_match: dict[str, list[int]] = {}

    def tag(i: int) -> list[int]:
        return [] if cur.edit_tag is None else [int(cur.edit_tag[i])]

    for k, (i, j, how) in enumerate(matched):
        matched_by[how] += 1
        kinds = []
        if moved[k] > SAME_GEOMETRY_M:
            kinds.append("reshaped")
        if cur.name[i] != rev.name[j]:
            kinds.append("renamed")
        if cur.role[i] != rev.role[j]:
            kinds.append("re-roled")
        if cur.layer[i] != rev.layer[j]:
            kinds.append("relayered")
        old_props = {key: v for key, v in cur.properties[i].items() if key not in _STORE_KEYS}
        new_props = dict(rev.properties[j])
        if old_props != new_props:
            kinds.append("properties")
        if not kinds:
            counts["unchanged"] += 1
            continue
        counts["changed"] += 1
        for kind in kinds:
            counts[kind] += 1
        fid = cur.fid[i]
        row = {"fid": fid, "name": rev.name[j], "role": rev.role[j], "status": "changed", "matched_by": how,
               "changes": kinds, "revised_fid": rev.fid[j]}
        if "renamed" in kinds:
            row["old_name"] = cur.name[i]
        if "re-roled" in kinds:
            row["old_role"] = cur.role[i]
        if "relayered" in kinds:
            row["old_layer"], row["layer"] = cur.layer[i], rev.layer[j]
        if "reshaped" in kinds:
            metrics = {"hausdorff_m": _r(moved[k])}
            if area_a[k] > 0 or area_b[k] > 0:
                metrics |= {"area_before_m2": _r(area_a[k], 2), "area_after_m2": _r(area_b[k], 2),
                            "area_change_m2": _r(area_b[k] - area_a[k], 2),
                            "area_change_pct": _r(100 * (area_b[k] - area_a[k]) / area_a[k], 2)
                            if area_a[k] > 0 else None}
            row["metrics"] = metrics
        rows.append(row)
        if rev.fid[j] is not None and rev.fid[j] != fid:
            # keep the drawing's own handle so the next revision matches by handle again
            new_props["source_fid"] = rev.fid[j]
        elif "source_fid" in cur.properties[i]:
            new_props["source_fid"] = cur.properties[i]["source_fid"]
        # "" clears a name or layer the revision dropped (None keeps the current value: a geometry within 1 cm
        # stays as stored, so a rename does not read as a reshape and flag the units on it)
        changes.append({"op": "replace", "fid": fid, "role": rev.role[j],
                        "geometry": rev.geometry[j] if "reshaped" in kinds else None,
                        "feature_name": rev.name[j] or "", "layer": rev.layer[j] or "", "properties": new_props})
        if_match[fid] = tag(i)

    for i in np.flatnonzero(cur_free).tolist():
        counts["removed"] += 1
        fid = cur.fid[i]
        rows.append({"fid": fid, "name": cur.name[i], "role": cur.role[i], "status": "removed", "matched_by": None,
                     "changes": ["removed"], "metrics": _size(cur.metric[i])})
        changes.append({"op": "delete", "fid": fid})
        if_match[fid] = tag(i)

    # New features keep their own fid when no current feature uses it (else the store gives them one).
    taken = {f for f in cur.fid.tolist() if f is not None}
    for j in np.flatnonzero(rev_free).tolist():
        counts["added"] += 1
        fid = rev.fid[j] if rev.fid[j] not in taken else None
        if fid is not None:
            taken.add(fid)
        props = dict(rev.properties[j])
        if rev.fid[j] is not None and fid is None:
            props["source_fid"] = rev.fid[j]
        rows.append({"fid": fid, "name": rev.name[j], "role": rev.role[j], "status": "added", "matched_by": None,
                     "changes": ["added"], "revised_fid": rev.fid[j], "metrics": _size(rev.metric[j])})
        changes.append({"op": "create", "fid": fid, "role": rev.role[j], "geometry": rev.geometry[j],
                        "feature_name": rev.name[j], "layer": rev.layer[j], "properties": props})
    return LayoutDiff(counts=counts, matched_by=matched_by, rows=rows, changes=changes, if_match=if_match)


def _size(geom) -> dict:
    area = float(shapely.area(geom))
    return {"area_m2": _r(area, 2)} if area > 0 else {}


def diff_text(diff: LayoutDiff, limit: int = 200) -> str:
    """The diff for a terminal: counts, then one line per changed, added or removed feature."""
    c = diff.counts
    lines = [
        f"当前 {c['current']} 个要素，修订图 {c['revised']} 个 / current {c['current']} features, revised "
        f"{c['revised']}",
        f"未变 unchanged {c['unchanged']}，改变 changed {c['changed']}（形状 reshaped {c['reshaped']}，更名 renamed "
        f"{c['renamed']}，角色 re-roled {c['re-roled']}，图层 relayered {c['relayered']}，属性 properties "
        f"{c['properties']}），新增 added {c['added']}，删除 removed {c['removed']}",
        "匹配方式 / matched by: " + "，".join(f"{MATCH_ZH[k]} {k} {v}" for k, v in diff.matched_by.items()),
    ]
    if not diff.rows:
        lines.append("没有变化 / no changes")
        return "\n".join(lines)
    header = ("要素 fid", "名称 name", "角色 role", "变化 change", "匹配 matched by", "度量 metrics")
    table = [header]
    for row in diff.rows[:limit]:
        kinds = "、".join(f"{CHANGE_ZH[k]} {k}" for k in row["changes"])
        if "renamed" in row["changes"]:
            kinds += f"（原名 {row.get('old_name') or '-'}）"
        if "re-roled" in row["changes"]:
            kinds += f"（原角色 {row.get('old_role') or '-'}）"
        metrics = row.get("metrics") or {}
        shown = []
        if "hausdorff_m" in metrics:
            shown.append(f"位移 {metrics['hausdorff_m']} m")
        if metrics.get("area_change_m2"):
            pct = metrics.get("area_change_pct")
            shown.append(f"面积 {metrics['area_change_m2']:+} m²" + (f" ({pct:+}%)" if pct is not None else ""))
        if "area_m2" in metrics:
            shown.append(f"面积 {metrics['area_m2']} m²")
        table.append((row["fid"] or f"(新) {row.get('revised_fid') or ''}", row["name"] or "-", row["role"] or "-",
                      kinds, row["matched_by"] or "-", "，".join(shown) or "-"))
    widths = [max(_width(r[col]) for r in table) for col in range(len(header))]
    for r in table:
        lines.append("  ".join(_pad(str(v), w) for v, w in zip(r, widths, strict=True)).rstrip())
    if len(diff.rows) > limit:
        lines.append(f"…… 另有 {len(diff.rows) - limit} 项（用 --json 查看全部）/ … {len(diff.rows) - limit} more "
                     "(see --json)")
    return "\n".join(lines)


def _width(text: str) -> int:
    """Columns on a terminal: CJK characters take two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in str(text))


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class LayoutMovedOn(RiskmapError, http_status=409):
    """The layout changed after the diff was made: applying it would overwrite someone else's edit."""


def plan_revision(store, name: str, revised, drawing: str | None = None) -> tuple[LayoutDiff, int]:
    """The diff of a revised import (a LayoutImport) against the current layout of a drawing (None: the site
    plan), and the layout number it was made against (the `base_version` a confirmation must name)."""
    info = store.layout_info(name, drawing=drawing)
    if info is None:
        raise InputError(f"企业 “{name}” 还没有布局可修订，请先导入（不带 --revise）/ enterprise {name!r} has no "
                         "layout to revise yet: import one first (without --revise)")
    base = int(info["version"])
    current = store.layout_features(name, version=base, drawing=drawing)
    features = revised.features
    # A GeoJSON or Shapefile without a layer column names the layer after the file: v2.geojson is no new layer.
    old_stem, new_stem = PurePath(info.get("source") or "").stem, PurePath(revised.source_name or "").stem
    if revised.source_format in ("geojson", "shp") and old_stem and new_stem and old_stem != new_stem:
        features = features.copy()
        features.loc[features["layer"] == new_stem, "layer"] = old_stem
    return diff_layouts(current, features, revised_format=revised.source_format), base


def apply_revision(store, name: str, diff: LayoutDiff, base_version: int, *, source: str | None = None,
                   author: str | None = None, reason: str | None = None, drawing: str | None = None) -> dict:
    """Write the diff as one new layout version of a drawing (None: the site plan; action "revise"), refusing
    when that drawing moved on since `base_version`; returns the new version and the units flagged for
    re-assessment."""
    info = store.layout_info(name, drawing=drawing)
    now = None if info is None else int(info["version"])
    if now != base_version:
        raise LayoutMovedOn(f"布局已被修改（当前版本 {now}，比较时为 {base_version}），请重新比较 / the layout "
                            f"changed meanwhile (now version {now}, compared against {base_version}): diff again")
    if not diff.has_changes:
        return {"applied": False, "layout_version": now, "flags_raised": []}
    if reason is None and source:
        reason = f"修订图 {source} / revised drawing {source}"
    result = store.apply_layout_changes(name, diff.to_changes(), action="revise", if_match=diff.if_match,
                                        author=author, reason=reason, drawing=drawing)
    return {"applied": True, "layout_version": result.layout_number, "data_version": result.data_version,
            "change_id": result.change_id, "flags_raised": [dict(f) for f in result.flags_raised or []]}


def flags_text(flags: list[dict]) -> str:
    """Units flagged for re-assessment, one line each."""
    if not flags:
        return "没有单元需要重新评估 / no unit flagged for re-assessment"
    lines = [f"需要重新评估的单元 {len(flags)} 个 / units flagged for re-assessment: {len(flags)}"]
    for f in flags:
        unit = f.get("unit_id") or f.get("unit_code") or "-"
        name = f.get("unit_name")
        lines.append(f"  {unit}{'（' + name + '）' if name else ''}: {f.get('reason') or f.get('reason_code')}")
    return "\n".join(lines)
