"""Attach assessment units to layout features: a unit's `feature_ref` names a feature by fid, else by name.

The ledger and the drawing are made by different people, so a reference may name nothing or several
features: such units are left without geometry (they fall back to their ancestor's) and a warning says why,
rather than guessing.

A name is not a binding: renaming a feature must never move a unit. So a reference is bound to the feature's
fid (its stable id) whenever it is written (riskmap.store.binding, with `bind_references` here): when the ledger
is imported, when a drawing is imported or revised, when a unit is attached. After that it matches by fid, and
a rename, a new layer or a new role leaves it where it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from riskmap.domain import AssessmentUnit, Region
from riskmap.errors import InputError

REGION_ROLE = "region"


def reference_key(value: Any) -> str | None:
    """A fid or name as comparable text: 12, 12.0 and " 12 " all read as "12"; blanks read as None."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class _Match:
    position: int | None           # row position in the features frame, when exactly one feature matched
    by: str | None = None          # "fid" or "name"
    candidates: tuple[int, ...] = ()


class FeatureIndex:
    """Look-ups from fid and from name to row positions of a features frame."""

    def __init__(self, features):
        missing = [c for c in ("fid", "name", "geometry") if c not in features.columns]
        if missing:
            raise InputError(f"布置图要素缺少列：{', '.join(missing)} / layout features lack columns {missing}")
        self.features = features
        self.fids = [reference_key(v) for v in features["fid"].tolist()]
        self.names = [reference_key(v) for v in features["name"].tolist()]
        self.geometries = features.geometry.values if hasattr(features, "geometry") else features["geometry"]
        self.by_fid: dict[str, list[int]] = {}
        self.by_name: dict[str, list[int]] = {}
        for pos, (fid, name) in enumerate(zip(self.fids, self.names, strict=True)):
            if fid is not None:
                self.by_fid.setdefault(fid, []).append(pos)
            if name is not None:
                self.by_name.setdefault(name, []).append(pos)

    def match(self, ref: Any) -> _Match:
        """The feature a reference names: by fid first, else by name; none or several matches leave ``position`` None
        (several listed as candidates).
        """
        key = reference_key(ref)
        if key is None:
            return _Match(None)
        hits = self.by_fid.get(key)
        if hits:
            return _Match(hits[0], "fid") if len(hits) == 1 else _Match(None, "fid", tuple(hits))
        hits = self.by_name.get(key)
        if hits:
            return _Match(hits[0], "name") if len(hits) == 1 else _Match(None, "name", tuple(hits))
        return _Match(None)

    def match_name(self, name: Any) -> _Match:
        """The feature matched by name only (not by fid); none or several leave ``position`` None."""
        key = reference_key(name)
        hits = self.by_name.get(key) if key is not None else None
        if not hits:
            return _Match(None)
        return _Match(hits[0], "name") if len(hits) == 1 else _Match(None, "name", tuple(hits))

    def geometry(self, pos: int):
        """The geometry at row ``pos``, or None when it is missing or empty, so callers fall back to an ancestor's."""
        geom = self.geometries[pos]
        if geom is None or geom.is_empty:
            return None
        return geom


def _has_geometry(unit: AssessmentUnit) -> bool:
    geom = unit.geometry
    return geom is not None and not getattr(geom, "is_empty", False)


def _fid_list(index: FeatureIndex, positions: tuple[int, ...], limit: int = 5) -> str:
    shown = [str(index.fids[p]) for p in positions[:limit]]
    more = "…" if len(positions) > limit else ""
    return ", ".join(shown) + more


def _unmatched(unit: AssessmentUnit, found: _Match, index: FeatureIndex) -> str:
    """The warning for a reference that matches no feature, or several."""
    ref = unit.feature_ref
    who_zh = f"单元“{unit.name}”（{unit.id}）的图形引用“{ref}”"
    who_en = f"unit {unit.id!r} ({unit.name}): feature reference {ref!r}"
    if not found.candidates:
        return f"{who_zh}在布置图中找不到对应要素（按编号或名称） / {who_en} matches no layout feature by fid or name"
    fids = _fid_list(index, found.candidates)
    if found.by == "fid":
        return (f"{who_zh}对应 {len(found.candidates)} 个编号相同的要素，未关联 / {who_en} matches "
                f"{len(found.candidates)} features with that fid; not attached")
    return (f"{who_zh}按名称对应 {len(found.candidates)} 个要素（编号 {fids}），未关联，请改用要素编号 / {who_en} "
            f"matches {len(found.candidates)} features by name (fids {fids}); not attached, use a fid")


def resolve_unit_geometries(units: Iterable[AssessmentUnit], features_gdf) -> list[str]:
    """Give each unit without geometry the geometry of the feature its `feature_ref` names.

    Matching tries the feature's fid first, then its name. Returns one warning (Chinese / English) per
    reference that matches nothing, matches several features, or names a feature without geometry; those
    units are left as they were. Units that already have geometry keep it and are not checked. `features_gdf`
    may be a FeatureIndex already made of the features.
    """
    index = features_gdf if isinstance(features_gdf, FeatureIndex) else FeatureIndex(features_gdf)
    warnings: list[str] = []
    for unit in units:
        if _has_geometry(unit) or reference_key(unit.feature_ref) is None:
            continue
        found = index.match(unit.feature_ref)
        if found.position is None:
            warnings.append(_unmatched(unit, found, index))
            continue
        geom = index.geometry(found.position)
        if geom is None:
            warnings.append(f"单元“{unit.name}”（{unit.id}）的图形引用“{unit.feature_ref}”对应的要素没有几何图形 / "
                            f"unit {unit.id!r} ({unit.name}): feature reference {unit.feature_ref!r} names a "
                            "feature without geometry")
        else:
            unit.geometry = geom
    return warnings


def bind_references(units: Iterable[AssessmentUnit], features_gdf, previous_gdf=None) \
        -> tuple[dict[str, str], list[str]]:
    """The fid each unit's `feature_ref` is bound to, where that is not what it holds already: {unit id: fid},
    and a warning per reference that matches no feature, or several.

    A reference is matched by fid, then by a unique name. `previous_gdf` is the layout a new drawing replaces:
    a unit bound to a feature of it whose fid the new drawing lacks (a CAD program renumbers its handles) is
    bound again by that feature's name in the new drawing, as a revision matches features.
    """
    index = FeatureIndex(features_gdf)
    before = FeatureIndex(previous_gdf) if previous_gdf is not None and len(previous_gdf) else None
    bound: dict[str, str] = {}
    warnings: list[str] = []
    for unit in units:
        key = reference_key(unit.feature_ref)
        if key is None:
            continue
        found = _match_again(index, before, key)
        if found.position is None:
            warnings.append(_unmatched(unit, found, index))
        elif index.fids[found.position] != key:
            bound[unit.id] = index.fids[found.position]
    return bound, warnings


def _match_again(index: FeatureIndex, before: FeatureIndex | None, key: str) -> _Match:
    """A reference matched in a new drawing that replaces `before` (None: nothing replaced). A fid the new drawing
    lacks, or that now names another feature while one feature bears the old one's name (a CAD program
    renumbered its handles), follows the old feature by its name; a feature renamed under the same fid keeps it."""
    found = index.match(key)
    if before is None:
        return found
    old = before.match(key)
    if old.position is None:
        return found
    old_name = before.names[old.position]
    if found.position is None and not found.candidates:
        return index.match_name(old_name)
    if found.position is not None and old_name and index.names[found.position] != old_name:
        by_name = index.match_name(old_name)
        if by_name.position is not None:
            return by_name
    return found


def bind_placements(units: Iterable[AssessmentUnit], drawing: str, features_gdf, previous_gdf=None) \
        -> tuple[dict[str, str], list[str]]:
    """The fid each unit's reference on drawing `drawing` is bound to ({unit id: fid}, where that is not what it
    holds already), and a warning per reference that matches no feature of that drawing, or several.
    `previous_gdf` is that drawing's layout the new import replaces: a reference to a fid the new one lacks is
    bound again by the old feature's name, as `bind_references` does on the site plan."""
    index = FeatureIndex(features_gdf)
    before = FeatureIndex(previous_gdf) if previous_gdf is not None and len(previous_gdf) else None
    bound: dict[str, str] = {}
    warnings: list[str] = []
    for unit in units:
        ref = (unit.placements or {}).get(drawing)
        if ref is None:
            continue
        found = _match_again(index, before, ref)
        if found.position is None:
            warnings.append(f"单元“{unit.name}”（{unit.id}）在图纸 {drawing} 上的引用“{ref}”"
                            f"{'找不到对应要素' if not found.candidates else '对应多个要素，未关联'} / unit "
                            f"{unit.id!r} "
                            f"({unit.name}): reference {ref!r} on drawing {drawing!r} matches "
                            f"{'no feature' if not found.candidates else 'several features; not attached'}")
        elif index.fids[found.position] != ref:
            bound[unit.id] = index.fids[found.position]
    return bound, warnings


def _depths(units: list[AssessmentUnit]) -> dict[str, int]:
    """Number of ancestors of each unit (bounded, so a broken tree cannot loop)."""
    parents = {u.id: u.parent_id for u in units}
    depths: dict[str, int] = {}
    for unit in units:
        depth, cur = 0, unit.parent_id
        while cur is not None and cur in parents and depth <= len(parents):
            depth += 1
            cur = parents[cur]
        depths[unit.id] = depth
    return depths


def regions_from_features(features_gdf, units: Iterable[AssessmentUnit] | None = None) -> list[Region]:
    """One Region per layout feature of role "region", in the frame's order.

    A region's `unit_id` is the unit whose `feature_ref` names that feature (fid first, then name); when
    several units name it, the one highest in the tree (then the first listed) is the region's own unit,
    since its descendants belong to the region anyway.
    """
    index = FeatureIndex(features_gdf)
    if "role" not in features_gdf.columns:
        raise InputError("布置图要素缺少列：role / layout features lack the column 'role'")
    unit_list = list(units or [])
    depths = _depths(unit_list)
    owner: dict[int, AssessmentUnit] = {}
    for unit in unit_list:
        found = index.match(unit.feature_ref)
        if found.position is None:
            continue
        best = owner.get(found.position)
        if best is None or depths[unit.id] < depths[best.id]:
            owner[found.position] = unit

    roles = [reference_key(r) for r in features_gdf["role"].tolist()]
    regions: list[Region] = []
    used: dict[str, int] = {}
    for pos, role in enumerate(roles):
        if role != REGION_ROLE:
            continue
        fid = index.fids[pos]
        base = fid if fid is not None else f"region-{pos}"
        used[base] = used.get(base, 0) + 1
        region_id = base if used[base] == 1 else f"{base}#{used[base]}"
        unit = owner.get(pos)
        regions.append(Region(id=region_id, name=index.names[pos] or region_id, geometry=index.geometry(pos),
                              unit_id=unit.id if unit is not None else None, feature_ref=fid))
    return regions


def shape_sources(units: Sequence[AssessmentUnit]) -> np.ndarray:
    """For each unit, the position of the unit whose geometry locates it: itself when it has one, else its
    nearest ancestor that has one, else -1. One tree level per step, for all units at once (the tree has no
    cycles: riskmap.domain.UnitTree checks it)."""
    n = len(units)
    pos = {u.id: i for i, u in enumerate(units)}
    parent = np.array([pos.get(u.parent_id, -1) if u.parent_id is not None else -1 for u in units], np.int64)
    own = np.array([u.geometry for u in units] + [None], dtype=object)[:n]
    has = ~(shapely.is_missing(own) | shapely.is_empty(own)) if n else np.zeros(0, bool)
    src = np.where(has, np.arange(n), -1)
    up = parent.copy()
    todo = (src < 0) & (up >= 0)
    for _ in range(n):
        if not todo.any():
            break
        rows = np.flatnonzero(todo)
        above = up[rows]
        found = has[above]
        src[rows[found]] = above[found]
        up[rows[~found]] = parent[above[~found]]
        todo = (src < 0) & (up >= 0)
    return src


def located_geometries(units: Sequence[AssessmentUnit]) -> np.ndarray:
    """Each unit's own geometry, else its nearest ancestor's (None when neither has one)."""
    src = shape_sources(units)
    own = np.array([u.geometry for u in units] + [None], dtype=object)[:len(units)]
    located = np.full(len(units), None, dtype=object)
    located[src >= 0] = own[src[src >= 0]]
    return located
