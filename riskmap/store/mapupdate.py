"""The map snapshot updated for what a write changed, not rebuilt: an edit costs what it changes.

Why: rebuilding the whole snapshot (riskmap.store.mapdata.build_snapshot) reads every unit and recomputes every
drawn shape and every region, so one edit on a 100,000-unit plant took seconds. Here the Store keeps, between its
own writes, what the map was made from (`PlantMap`: the lean units, the layout, the open flags, each unit's
located shape and the regions) together with the committed data version it belongs to. A writer names what it
touched (`MapDelta`: unit codes, layout fids, units whose flags changed); at the end of its transaction
`update` reads only those items back, works out which drawn shapes and which regions they can reach, recomputes
exactly those with the same functions as the full build (drawn_units, region_risk on the members closed under
their ancestors, in ledger order), and writes the difference for those keys only (mapdata.refresh with `keys`).

The full build stays the rule wherever the cache cannot be trusted: another process wrote since (the version or
its time differs), a new ledger or a new drawing (writers that name no delta), a layout with repeated fids. The
property test (tests/test_store_mapupdate.py) holds the two to the same result: after random edits a full
refresh finds nothing to change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskmap.aggregate import region_risk
from riskmap.attach import (
    FeatureIndex,
    reference_key,
    regions_from_features,
    resolve_unit_geometries,
    shape_sources,
)
from riskmap.domain import RESIDUAL, AssessmentUnit, Region
from riskmap.store import mapdata
from riskmap.store.flags import months_of, open_codes
from riskmap.store.layouts import read_features
from riskmap.store.ledgers import map_units_ordered
from riskmap.store.schema import DataVersionRow

TREE_REBUILD = 2000          # units moved since the unit tree was built before it is built again


class Fallback(Exception):
    """The change cannot be applied incrementally: rebuild the whole snapshot."""


@dataclass
class MapDelta:
    """What a write touched, named by the writer for the incremental map refresh."""

    units: set[str] = field(default_factory=set)     # unit codes created, edited or retired
    fids: set[str] = field(default_factory=set)      # layout fids created, changed or retired
    flags: list[tuple[str, str, bool]] = field(default_factory=list)   # (unit, reason, raised) open flags changed

    @property
    def flagged(self) -> set[str]:
        """Units whose open re-assessment flags changed."""
        return {code for code, _, _ in self.flags}


def version_of(s: Session, ent_id: int) -> tuple[int, str] | None:
    """(data version, stamp) of an enterprise as this session sees it."""
    row = s.execute(select(DataVersionRow.version, DataVersionRow.updated_at)
                    .where(DataVersionRow.enterprise_id == ent_id)).first()
    return None if row is None else (int(row[0]), mapdata.version_stamp(row[0], row[1]))


def _has_geometry(geom: Any) -> bool:
    return geom is not None and not shapely.is_empty(geom)


class PlantMap:
    """What the map of one enterprise was made from, at one committed data version."""

    def __init__(self, ent_id: int, ordered: list[tuple[tuple[int, int], AssessmentUnit]], features,
                 flags: dict[str, str], months: int):
        self.enterprise_id = ent_id
        self.state: tuple[int, str] | None = None       # (data version, stamp) once committed
        # the lean units with their geometry resolved in place (own, else the attached feature's); `raw` keeps
        # what a unit had itself when its geometry came from a feature
        self.units: dict[str, AssessmentUnit] = {}
        self.raw: dict[str, Any] = {}
        self.order: dict[str, tuple[int, int]] = {}
        self.children: dict[str, set[str]] = {}
        self.refs: dict[str, set[str]] = {}
        for key, unit in ordered:
            self.add(key, unit)
        self.flags = flags
        self.months = months
        self.loc: dict[str, Any] = {}                   # located geometry (own, else the nearest ancestor's)
        self.shape: dict[str, bytes] = {}               # WKB of the located geometry: drawn shape identity
        self.by_shape: dict[bytes, set[str]] = {}
        self.set_features(features)
        units = [u for _, u in ordered]
        if self.index is not None:
            for unit in units:
                self.resolve(unit.id)
        src = shape_sources(units)
        own = np.array([u.geometry for u in units] + [None], dtype=object)[:-1]
        located = np.full(len(units), None, dtype=object)
        located[src >= 0] = own[src[src >= 0]]
        wkbs = shapely.to_wkb(located) if len(units) else []
        for unit, geom, wkb in zip(units, located, wkbs, strict=True):
            if wkb is not None:
                self.loc[unit.id] = geom
                self.shape[unit.id] = wkb
                self.by_shape.setdefault(wkb, set()).add(unit.id)
        self.regions = self.find_regions()
        self.build_tree()

    # ------------------------------------------------------------------------------------------ reading

    @classmethod
    def read(cls, s: Session, ent_id: int, enterprise_name: str, features=None) -> PlantMap:
        """The plant map as stored: ordered units, layout features, open findings and months, read in one session."""
        features = features if features is not None else read_features(s, enterprise_name)
        return cls(ent_id, map_units_ordered(s, ent_id), features, open_codes(s, ent_id), months_of(s, ent_id))

    def snapshot(self) -> dict[str, pd.DataFrame]:
        """The whole snapshot, as mapdata.build_snapshot makes it."""
        units = self.ordered(self.units)
        return mapdata.build_snapshot(self.features, units, self.regions, copy=False, unit_flags=self.flags,
                                      months=self.months)

    # ------------------------------------------------------------------------------------------ structure

    def add(self, key: tuple[int, int], unit: AssessmentUnit) -> None:
        """Index a unit under its code, parent and feature reference; ``key`` keeps it in ledger order."""
        code = unit.id
        self.units[code] = unit
        self.order[code] = key
        if unit.parent_id is not None:
            self.children.setdefault(unit.parent_id, set()).add(code)
        ref = reference_key(unit.feature_ref)
        if ref is not None:
            self.refs.setdefault(ref, set()).add(code)

    def remove(self, code: str) -> None:
        """Take a unit out of every index; an unknown code is ignored."""
        unit = self.units.pop(code, None)
        if unit is None:
            return
        del self.order[code]
        if unit.parent_id is not None:
            self.children.get(unit.parent_id, set()).discard(code)
        ref = reference_key(unit.feature_ref)
        if ref is not None:
            self.refs.get(ref, set()).discard(code)
        self.raw.pop(code, None)
        self.loc.pop(code, None)
        old = self.shape.pop(code, None)
        if old is not None:
            self.by_shape.get(old, set()).discard(code)

    def set_features(self, features) -> None:
        """Use new layout features: rebuilds the feature index and the region search tree."""
        self.features = features
        self.index = FeatureIndex(features) if len(features) else None
        regions = features[features["role"] == "region"].reset_index(drop=True) if len(features) else features
        self.region_features = regions
        geoms = np.asarray(regions.geometry.values, dtype=object) if len(regions) else np.empty(0, object)
        self.region_tree = shapely.STRtree(geoms)

    def resolve(self, code: str) -> None:
        """Give the unit the geometry of the feature it names when it has none of its own (as
        attach.resolve_unit_geometries does), against the current layout."""
        unit = self.units[code]
        if code in self.raw:
            unit.geometry = self.raw.pop(code)
        if self.index is None or _has_geometry(unit.geometry) or reference_key(unit.feature_ref) is None:
            return
        before = unit.geometry
        resolve_unit_geometries([unit], self.index)
        if unit.geometry is not before:
            self.raw[code] = before

    def ancestors(self, code: str) -> list[str]:
        """The unit's parents up to the root, nearest first; a cycle in the ledger stops the walk instead of looping."""
        out, seen = [], {code}
        cur = self.units[code].parent_id if code in self.units else None
        while cur is not None and cur in self.units and cur not in seen:
            out.append(cur)
            seen.add(cur)
            cur = self.units[cur].parent_id
        return out

    def descendants(self, codes: Iterable[str]) -> set[str]:
        """All units below the given codes (not the codes themselves), cycle-safe."""
        out: set[str] = set()
        todo = [c for c in codes if c in self.units]
        while todo:
            for child in self.children.get(todo.pop(), ()):
                if child not in out and child in self.units:
                    out.add(child)
                    todo.append(child)
        return out

    def locate(self, code: str) -> None:
        """Recompute where a unit is drawn: its own geometry, else its nearest located ancestor's; keeps the shape index
        in step.
        """
        old = self.shape.pop(code, None)
        if old is not None:
            self.by_shape.get(old, set()).discard(code)
        self.loc.pop(code, None)
        for c in (code, *self.ancestors(code)):
            g = self.units[c].geometry
            if _has_geometry(g):
                self.loc[code] = g
                wkb = shapely.to_wkb(g)
                self.shape[code] = wkb
                self.by_shape.setdefault(wkb, set()).add(code)
                return

    def build_tree(self) -> None:
        """Rebuild the unit search tree from the located units; call after locating changes so queries see them."""
        codes = list(self.loc)
        self.tree_codes = np.array(codes, dtype=object)
        self.unit_tree = shapely.STRtree(np.array([self.loc[c] for c in codes] + [None], dtype=object)[:-1])
        self.moved: set[str] = set()

    def find_regions(self) -> list[Region]:
        """The regions as riskmap.store.history.regions_from finds them, from the units that name a region
        feature (and their ancestors: a region's own unit is the shallowest of them)."""
        feats = self.region_features
        keys = {reference_key(v) for v in feats["fid"].tolist()} | {reference_key(v) for v in feats["name"].tolist()}
        if not len(feats):
            return []
        naming = set().union(*(self.refs.get(k, ()) for k in keys if k is not None)) if keys else set()
        return regions_from_features(feats, self.ordered(self.closed(naming)))

    # ------------------------------------------------------------------------------------------ helpers

    def closed(self, codes: Iterable[str]) -> set[str]:
        """The codes with all their ancestors."""
        out = set()
        for c in codes:
            if c in self.units and c not in out:
                out.add(c)
                out.update(self.ancestors(c))
        return out

    def ordered(self, codes: Iterable[str]) -> list[AssessmentUnit]:
        """The units for ``codes`` in ledger order, so an incremental update orders them as a full rebuild would."""
        return [self.units[c] for c in sorted(codes, key=self.order.__getitem__)]


    def old_names(self, fids: Iterable[str]) -> list[Any]:
        """Names of the features `fids` in the layout this map was made from."""
        if not len(self.features):
            return []
        return self.features.loc[self.features["fid"].astype(str).isin(set(fids)), "name"].tolist()

    def apply_flags(self, changes: Iterable[tuple[str, str, bool]]) -> None:
        """Open flags (unit, reason) raised (True) or cleared (False) by this transaction, applied."""
        touched: dict[str, set[str]] = {}
        for code, reason, raised in changes:
            now = touched.get(code)
            if now is None:
                now = touched[code] = set(filter(None, (self.flags.get(code) or "").split(",")))
            if raised:
                now.add(reason)
            else:
                now.discard(reason)
        for code, reasons in touched.items():
            if reasons:
                self.flags[code] = ",".join(sorted(reasons))
            else:
                self.flags.pop(code, None)

    def owner_rank(self, code: str) -> tuple:
        """How drawn_units chooses the owner of a shape among its units: the shallowest, then the kind nearest
        the top, then the first in the ledger."""
        return (len(self.ancestors(code)), self.units[code].kind.depth, self.order[code])

    def referring(self, keys: Iterable[Any]) -> set[str]:
        """Units whose feature reference reads as one of `keys` (fids or names)."""
        out: set[str] = set()
        for key in keys:
            k = reference_key(key)
            if k is not None:
                out |= self.refs.get(k, set())
        return out

    def lean_units(self, s: Session, codes: Iterable[str], fresh: Iterable[str] = ()) -> list[AssessmentUnit]:
        """The units of `codes` as map_units reads them (their own geometry, not the attached feature's), in
        ledger order; those of `fresh` (written earlier in this transaction) read again from session `s`."""
        fresh = set(fresh)
        again = dict((u.id, (k, u)) for k, u in map_units_ordered(s, self.enterprise_id, fresh)) if fresh else {}
        rows = []
        for code in set(codes) | set(again):
            if code in again:
                rows.append(again[code])
            elif code in self.units:
                unit = self.units[code]
                raw = self.raw.get(code, unit.geometry)
                rows.append((self.order[code], unit if raw is unit.geometry
                             else dataclasses.replace(unit, geometry=raw)))
        return [u for _, u in sorted(rows, key=lambda r: r[0])]

    def regions_meeting(self, geoms: Iterable[Any]) -> set[int]:
        """Indexes of the regions that any of ``geoms`` intersects; geometry-less items are ignored."""
        geoms = [g for g in geoms if _has_geometry(g)]
        if not geoms or not len(self.regions):
            return set()
        _, hits = self.region_tree.query(np.asarray(geoms, dtype=object), predicate="intersects")
        return {int(i) for i in hits}

    def units_meeting(self, geom: Any) -> set[str]:
        """Units whose located geometry may meet `geom` (a superset: region_risk decides)."""
        if not _has_geometry(geom):
            return set()
        hits = self.unit_tree.query(geom)
        out = {c for c in self.tree_codes[hits] if c in self.loc}
        return out | {c for c in self.moved if c in self.loc}


# ---------------------------------------------------------------------------------------------- the update


def _layout_keys(features, fids: set[str]) -> tuple[dict[str, Any], bool]:
    """The rows of `fids` in a layout by fid; False when one of them is repeated (keys would be renumbered)."""
    if not len(features) or not fids:
        return {}, True
    mask = features["fid"].astype(str).isin(fids).to_numpy()
    part = features[mask]
    rows = {str(f): i for i, f in zip(part.index, part["fid"], strict=True)}
    return rows, len(rows) == len(part)


def update(s: Session, plant: PlantMap, delta: MapDelta, enterprise_name: str, data_version: int,
           features=None) -> mapdata.MapChange:
    """Apply `delta` to `plant` (reading the touched items in session `s`) and write the snapshot's rows that
    change. Raises Fallback when it cannot."""
    ent_id = plant.enterprise_id
    region_index_before = {r.id: r for r in plant.regions}
    ref_keys: set[str] = set()
    layout_keys: set[str] = set()
    if delta.fids:
        new_features = features if features is not None else read_features(s, enterprise_name)
        old_rows, unique_old = _layout_keys(plant.features, delta.fids)
        new_rows, unique_new = _layout_keys(new_features, delta.fids)
        if not (unique_old and unique_new) or any("#" in str(f) for f in delta.fids):
            raise Fallback
        for frame, rows in ((plant.features, old_rows), (new_features, new_rows)):
            for pos in rows.values():
                ref_keys.update(k for k in (reference_key(frame.at[pos, "fid"]), reference_key(frame.at[pos, "name"]))
                                if k is not None)
        layout_keys = set(delta.fids)
        plant.set_features(new_features)

    # units: the touched ones, the ones attached to touched features, and everything located through them
    attached = set().union(*(plant.refs.get(k, set()) for k in ref_keys)) if ref_keys else set()
    seeds = set(delta.units) | attached
    old_anc = plant.closed(seeds)
    old_shape = {c: plant.shape.get(c) for c in (seeds | plant.descendants(seeds)) if c in plant.units}
    old_loc = {c: plant.loc.get(c) for c in old_shape}
    for code in delta.units:
        plant.remove(code)
    for key, unit in map_units_ordered(s, ent_id, delta.units) if delta.units else ():
        plant.add(key, unit)
    attached |= set().union(*(plant.refs.get(k, set()) for k in ref_keys)) if ref_keys else set()
    seeds = {c for c in set(delta.units) | attached if c in plant.units}
    for code in seeds:
        plant.resolve(code)
    moved = seeds | plant.descendants(seeds) | {c for c in old_shape if c in plant.units}
    for code in moved:
        plant.locate(code)
    plant.moved |= moved
    flagged = delta.flagged
    old_flags = {c: plant.flags.get(c) for c in flagged}
    plant.apply_flags(delta.flags)

    if not delta.units and not delta.fids:
        return _reflag(s, plant, flagged, old_flags, data_version)

    # drawn shapes: every shape a moved unit left or reached, and the shapes of re-flagged units
    shapes = {w for w in old_shape.values() if w is not None}
    shapes |= {plant.shape[c] for c in moved | flagged if c in plant.shape}
    members = set().union(*(plant.by_shape.get(w, set()) for w in shapes)) if shapes else set()
    unit_keys = members | set(old_shape) | set(delta.units) | flagged
    frames: dict[str, pd.DataFrame] = {}
    drawn = mapdata.drawn_units(plant.ordered(plant.closed(members)), RESIDUAL, plant.flags, plant.months)
    frames["units"] = drawn[drawn["key"].isin(unit_keys)].reset_index(drop=True)

    # regions: those changed in the layout, those the moved units met before or meet now, those owning them
    plant.regions = plant.find_regions()
    if any("#" in r.id for r in plant.regions):
        raise Fallback
    region_keys: set[str] = set()
    for r in plant.regions:
        old = region_index_before.pop(r.id, None)
        if old is None or old.name != r.name or old.unit_id != r.unit_id or old.feature_ref != r.feature_ref \
                or not shapely.equals_exact(old.geometry, r.geometry, 0):
            region_keys.add(r.id)
    region_keys |= set(region_index_before)          # regions gone
    hit = plant.regions_meeting([*old_loc.values(), *(plant.loc.get(c) for c in moved)])
    owners = old_anc | plant.closed(moved)
    positions = {r.id: i for i, r in enumerate(plant.regions)}
    for i, r in enumerate(plant.regions):
        if i in hit or (r.unit_id is not None and r.unit_id in owners):
            region_keys.add(r.id)
    chosen = [r for r in plant.regions if r.id in region_keys and r.id in positions]
    region_members: set[str] = set()
    for r in chosen:
        region_members |= plant.units_meeting(r.geometry)
        if r.unit_id is not None and r.unit_id in plant.units:
            region_members |= {r.unit_id} | plant.descendants([r.unit_id])
    subset = plant.ordered(plant.closed(region_members))
    risks = region_risk(chosen, subset, method="highest", which=RESIDUAL) if chosen else []
    frames["regions"] = mapdata.regions_frame(chosen, risks, subset)

    # layout: the touched features
    if layout_keys and len(plant.features):
        mask = plant.features["fid"].astype(str).isin(layout_keys).to_numpy()
        frames["layout"] = mapdata.layout_frame(plant.features[mask])
    else:
        frames["layout"] = mapdata.layout_frame(plant.features.iloc[0:0])

    if len(plant.moved) > TREE_REBUILD:
        plant.build_tree()
    snapshot = mapdata.in_mercator(frames)
    keys = {"units": unit_keys, "regions": region_keys, "layout": layout_keys}
    return mapdata.refresh(s, ent_id, data_version, snapshot, keys=keys)


def _reflag(s: Session, plant: PlantMap, flagged: set[str], old_flags: dict[str, str | None],
            data_version: int) -> mapdata.MapChange:
    """Only flags changed (an accident, flags cleared): no shape, level or region moves, so only the flags of the
    drawn rows standing for the re-flagged units are written, by key, into the narrow map_flags (mapdata.set_flags;
    no map_features row is rewritten): the sorted union of their members' flags, as drawn_units joins them; the
    row's key is the shape's owner, as drawn_units chooses it. Most shapes draw one unit, whose flags text is
    already the row's: no joining for them (an accident re-flags them all)."""
    change = mapdata.MapChange(data_version)
    by_flag: dict[str | None, list[str]] = {}
    shared: set[bytes] = set()
    shape_of, by_shape, now = plant.shape.get, plant.by_shape, plant.flags.get
    for code in flagged:
        shape = shape_of(code)
        if shape is None:
            continue                                # not drawn
        if len(by_shape[shape]) > 1:
            shared.add(shape)
            continue
        after = now(code) or None
        if (old_flags[code] or None) != after:
            by_flag.setdefault(after, []).append(code)
    for shape in shared:
        members = by_shape[shape]
        before = _joined(old_flags.get(m, now(m)) for m in members)
        after = _joined(now(m) for m in members)
        if before != after:
            by_flag.setdefault(after, []).append(min(members, key=plant.owner_rank))
    for keys in by_flag.values():
        keys.sort()
        change.changed.extend(("units", k) for k in keys)
    mapdata.set_flags(s, plant.enterprise_id, data_version, by_flag)
    return change


def _joined(texts: Iterable[str | None]) -> str | None:
    return ",".join(sorted({code for text in texts for code in (text or "").split(",") if code})) or None
