"""The map snapshot (`map_features`): what the tiles draw, materialized per enterprise.

Why a table: on PostGIS the vector tiles are made in SQL (ST_AsMVT), so the levels must be in the database; and
every process serving tiles can load the snapshot instead of re-running attachment and region risk. One row per
drawn feature of the layers `regions`, `units` and `layout`, in EPSG:3857, with a stable integer `feature_id`
(kept for a key as long as the key exists: MVT feature ids, the web map's feature state).

It is refreshed inside every writing transaction of the store (see `Store.transaction`), so it is always the
state of the enterprise's current data version: an edit recomputes only the features it can reach
(riskmap.store.mapupdate), a new ledger or drawing the whole snapshot. The refresh diffs the new state against the
stored rows and rewrites only what changed (a row whose shape stayed is updated in place), stamping those rows
with the transaction's data version; a feature that disappears leaves a tombstone (no geometry, no attributes)
with that version. So a reader that knows the snapshot at version v finds everything that changed since with
`data_version > v` (index `ix_map_features_changes`).
This table is derived data, not history: rows are replaced, the history lives in the layout and ledger tables.

The re-assessment flags of the drawn units are not in `map_features` but in the narrow `map_flags` (drawn unit
key → its members' open reason codes, only keys with a flag): an accident re-flags a whole plant, and rewriting
100,000 wide rows (every row version into all five indexes of map_features, the GiST one included) cost seconds.
Each transaction that changes flags appends a marker to `map_flag_changes` (its data version and the keys, or
NULL for "re-read them all" after a bulk change), so a reader at version v re-reads exactly the flags that
changed since (read_flag_changes); `read_rows` gives every row with its current flag, as before.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from riskmap.attach import shape_sources
from riskmap.domain import RESIDUAL, AssessmentUnit, Region
from riskmap.store.rows import copy_in
from riskmap.store.schema import DIALECTS, Base
from riskmap.validity import validity

MAP_SRID = 3857
LAYERS: tuple[str, ...] = ("regions", "units", "layout")
# The attribute columns of the snapshot, the same for every layer (a layer leaves some empty).
# units: one row per drawn shape (see drawn_units); `members` counts the units it stands for by level
# ("major:1,low:2"), `due` the earliest last valid day of their assessments (ISO date; riskmap.validity).
ATTRIBUTES: tuple[str, ...] = ("name", "kind", "level", "level_zh", "decided_by", "last_assessed", "flag",
                               "members", "due")
# What each layer exposes in tiles: attribute name → snapshot column. `key` is the user's own id.
LAYER_FIELDS: dict[str, dict[str, str]] = {
    "regions": {"region_id": "key", "name": "name", "level": "level", "level_zh": "level_zh",
                "decided_by": "decided_by", "last_assessed": "last_assessed"},
    "units": {"unit_id": "key", "name": "name", "kind": "kind", "level": "level", "level_zh": "level_zh",
              "decided_by": "decided_by", "last_assessed": "last_assessed", "flag": "flag"},
    "layout": {"source_id": "key", "name": "name", "role": "kind"},
}
# A unit never assessed although it has risk events is due since always.
NEVER_ASSESSED_DUE = "0001-01-01"
DELETE_CHUNK = 500
MANY_KEYS = 5000


class MercatorGeometry(TypeDecorator):
    """A geometry in EPSG:3857: WKB in a BLOB on SQLite, `geometry(GEOMETRY, 3857)` on PostGIS.

    Binds bytes already encoded by `encode_mercator` (hex EWKB on PostGIS, WKB on SQLite) or a shapely geometry.
    """

    impl = LargeBinary
    cache_ok = True
    spatial_index = False
    use_typmod = None

    def load_dialect_impl(self, dialect):
        """Stored as PostGIS geometry in Web Mercator on PostgreSQL, as WKB bytes elsewhere."""
        if dialect is None:
            return LargeBinary()
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Geometry(geometry_type="GEOMETRY", srid=MAP_SRID, spatial_index=False))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        """Encode a shapely geometry for the column; bytes or text already encoded pass through."""
        if value is None or isinstance(value, (bytes, str)):
            return value
        return encode_mercator([value], dialect.name)[0]

    def process_result_value(self, value, dialect):
        """The stored value as a shapely geometry, whatever form the driver hands back."""
        if value is None:
            return None
        data = getattr(value, "data", value)
        if isinstance(data, str):
            data = bytes.fromhex(data)
        return shapely.from_wkb(bytes(data))


def encode_mercator(geometries, dialect_name: str) -> list:
    """Geometries encoded for the map column of ``dialect_name`` (2D, Web Mercator; hex EWKB on PostGIS, WKB elsewhere);
    missing ones stay None.
    """
    arr = np.asarray(geometries, dtype=object)
    missing = shapely.is_missing(arr)
    flat = shapely.force_2d(arr)
    if dialect_name == "postgresql":
        out = shapely.to_wkb(shapely.set_srid(flat, MAP_SRID), hex=True, include_srid=True)
    else:
        out = shapely.to_wkb(flat, hex=False)
    out = out.astype(object)
    out[missing] = None
    return out.tolist()


class MapFeatureRow(Base):
    """One feature of the map snapshot; a row without geometry is a tombstone that keeps its feature id."""

    __tablename__ = "map_features"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "layer", "key"),
        Index("ix_map_features_changes", "enterprise_id", "data_version"),
        Index("ix_map_features_bbox", "enterprise_id", "layer", "minx", "maxx", "miny", "maxy"),
        Index("ix_map_features_geometry", "geometry", postgresql_using="gist", info={DIALECTS: ("postgresql",)}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    layer: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(Text)                     # region id, unit id or layout fid
    feature_id: Mapped[int] = mapped_column(Integer)           # stable per (enterprise, layer, key); MVT id
    data_version: Mapped[int] = mapped_column(Integer)         # the version that last wrote this row
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(32))       # unit kind, or layout role
    level: Mapped[str | None] = mapped_column(String(32))
    level_zh: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(Text)       # regions: the deciding unit's name
    last_assessed: Mapped[str | None] = mapped_column(String(10))   # ISO date; regions: the oldest member's
    members: Mapped[str | None] = mapped_column(Text)          # units: the units drawn by this row, per level
    due: Mapped[str | None] = mapped_column(String(10))        # units: earliest re-assessment date (ISO)
    geometry: Mapped[Any] = mapped_column(MercatorGeometry(), nullable=True)
    minx: Mapped[float | None] = mapped_column(Double())
    miny: Mapped[float | None] = mapped_column(Double())
    maxx: Mapped[float | None] = mapped_column(Double())
    maxy: Mapped[float | None] = mapped_column(Double())


class MapFlagRow(Base):
    """The open re-assessment reason codes (","-joined) of one drawn unit row (`map_features` layer "units", by
    key); a key without a flag has no row. No foreign key to enterprises: its check per inserted row cost more
    than the row (0.4 s of an accident's 100,000 on PostGIS); only write_flags writes here, for the enterprise
    of its transaction, and enterprises are never deleted."""

    __tablename__ = "map_flags"

    enterprise_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    flag: Mapped[str] = mapped_column(Text)


class MapFlagChangeRow(Base):
    """A marker per transaction that changed map flags: its data version and the keys (NULL: re-read them all)."""

    __tablename__ = "map_flag_changes"
    __table_args__ = (Index("ix_map_flag_changes_version", "enterprise_id", "data_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    data_version: Mapped[int] = mapped_column(Integer)
    keys: Mapped[Any] = mapped_column(JSON, nullable=True)


# map_features' own attribute columns (the flag lives in map_flags)
STORED: tuple[str, ...] = tuple(a for a in ATTRIBUTES if a != "flag")
MARKED_KEYS = 1000           # flag changes of more keys are marked "re-read them all"


# ---------------------------------------------------------------------------------------------- building


SNAPSHOT_COLUMNS = ["key", *ATTRIBUTES, "geometry"]
FLAG_CHUNK = 900             # keys per DELETE of write_flags on SQLite (bound parameters per statement)


def build_snapshot(features, units: Sequence[AssessmentUnit], regions: Sequence[Region],
                   which: str = RESIDUAL, copy: bool = True,
                   unit_flags: dict[str, str] | None = None, months: int = 12) -> dict[str, pd.DataFrame]:
    """The three layers as frames (SNAPSHOT_COLUMNS, geometry in EPSG:3857), features without geometry left out.

    `features` is the current layout (EPSG:4326, as Store.layout_features gives it), `units` the current tree
    (geometries are attached on copies unless `copy` is False, for units made only for this), `regions` as
    Store.regions gives them, `unit_flags` the open re-assessment reason codes by unit id (riskmap.store.flags),
    `months` how long an assessment stays valid (the criteria profile's reassessment_months).
    """
    from riskmap.aggregate import region_risk
    from riskmap.attach import resolve_unit_geometries

    units = [dataclasses.replace(u) for u in units] if copy else list(units)
    if len(features):
        resolve_unit_geometries(units, features)

    frames = {"units": drawn_units(units, which, unit_flags or {}, months)}
    risks = region_risk(list(regions), units, method="highest", which=which) if regions else []
    frames["regions"] = regions_frame(regions, risks, units)
    frames["layout"] = layout_frame(features)
    return in_mercator(frames)


def in_mercator(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The layers' frames (geometry in EPSG:4326) projected to EPSG:3857 in one call, rows without geometry
    left out."""
    lonlat = [frames[name]["geometry"].to_numpy(dtype=object) for name in LAYERS]
    merc = to_mercator(np.concatenate(lonlat)) if sum(len(g) for g in lonlat) else np.empty(0, object)
    out, start = {}, 0
    for name, geoms in zip(LAYERS, lonlat, strict=True):
        frame = frames[name]
        frame["geometry"] = merc[start:start + len(geoms)]
        start += len(geoms)
        keep = ~(shapely.is_missing(frame["geometry"].to_numpy()) | shapely.is_empty(frame["geometry"].to_numpy()))
        out[name] = frame[keep].reset_index(drop=True)
    return out


def to_mercator(geoms: np.ndarray) -> np.ndarray:
    """lon/lat → EPSG:3857 for a whole array at once (latitudes clamped to the Web Mercator limit)."""
    from pyproj import Transformer

    transformer = _transformer(Transformer)

    def project(coords: np.ndarray) -> np.ndarray:
        lat = np.clip(coords[:, 1], -85.06, 85.06)
        x, y = transformer.transform(coords[:, 0], lat)
        return np.column_stack([x, y])

    geoms = np.asarray(geoms, dtype=object)
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    return shapely.transform(geoms, project)


_TRANSFORMERS: dict = {}


def _transformer(cls):
    if "t" not in _TRANSFORMERS:
        _TRANSFORMERS["t"] = cls.from_crs(4326, MAP_SRID, always_xy=True)
    return _TRANSFORMERS["t"]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def drawn_units(units: list[AssessmentUnit], which: str = RESIDUAL, unit_flags: dict[str, str] | None = None,
                months: int = 12) -> pd.DataFrame:
    """The units as drawn: one row per distinct located shape, never one shape drawn twice.

    A unit is located by its own geometry or its nearest ancestor's (all at once over the tree). A unit without
    a shape of its own is not drawn again as its ancestor's shape (a post over its area, whichever drawn last
    winning); the row of that shape stands for every unit located by it, and for any other unit with an
    identical shape, and shows the highest level among them (短板原理). The row's key and name are those of the
    shallowest of them (the shape's owner), `decided_by` names the unit whose level it shows, `members` counts
    them by level, `flag` joins their open flags, `last_assessed` and `due` are the stalest of them, so that the
    staleness layer and the flagged-only filter never show a shape as fresher than one of its units.
    """
    n = len(units)
    pos = {u.id: i for i, u in enumerate(units)}
    parent = np.array([pos.get(u.parent_id, -1) if u.parent_id is not None else -1 for u in units], np.int64)
    own = np.array([u.geometry for u in units] + [None], dtype=object)[:n]
    src = shape_sources(units)
    located = src >= 0
    if not located.any():
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in SNAPSHOT_COLUMNS})
    # shapes that are the same geometry (two units attached to one feature) are one drawn shape
    wkb = pd.Series(shapely.to_wkb(own[src[located]]), dtype=object)
    shape = np.full(n, -1, np.int64)
    shape[located] = pd.factorize(wkb)[0]
    depth = np.zeros(n, np.int64)
    cur = parent.copy()
    for _ in range(n):
        step = cur >= 0
        if not step.any():
            break
        depth[step] += 1
        cur[step] = parent[cur[step]]
    levels = [u.level(which) for u in units]
    rank = np.array([lv.rank if lv else 0 for lv in levels], np.int64)
    events = np.array([bool(u.events) for u in units], bool)
    dates = [u.last_assessed for u in units]
    # the last day of each assessment's validity (riskmap.validity: the board prints it, the flags use it)
    dues = [validity(d, months).end.isoformat() if d is not None else (NEVER_ASSESSED_DUE if ev else None)
            for d, ev in zip(dates, events, strict=True)]

    kind_depth = np.array([u.kind.depth for u in units], np.int64)
    frame = pd.DataFrame({"shape": shape, "unit": np.arange(n), "depth": depth, "kind": kind_depth,
                          "rank": rank})[located]
    owners = frame.sort_values(["shape", "depth", "kind", "unit"], kind="stable").groupby("shape")["unit"].first()
    deciders = frame.sort_values(["shape", "rank", "depth", "kind", "unit"], ascending=[True, False, True, True, True],
                                 kind="stable").groupby("shape")["unit"].first()
    owner_of = owners.to_dict()
    decider_of = deciders.to_dict()
    flags_of = unit_flags or {}
    # the members of each shape in unit order (as groupby would give them), without a pandas object per group
    shape_arr, unit_arr = frame["shape"].to_numpy(), frame["unit"].to_numpy()
    order = np.argsort(shape_arr, kind="stable")
    shape_sorted, unit_sorted = shape_arr[order], unit_arr[order].tolist()
    cuts = (np.flatnonzero(np.diff(shape_sorted)) + 1).tolist()
    rows = []
    for lo, hi in zip([0, *cuts], [*cuts, len(unit_sorted)], strict=True):
        shape_id = int(shape_sorted[lo])
        member_list = unit_sorted[lo:hi]
        own_i, dec_i = owner_of[shape_id], decider_of[shape_id]
        owner, decider = units[own_i], units[dec_i]
        level = levels[dec_i]
        tally: dict[str, int] = {}
        for i in member_list:
            key = levels[i].value if levels[i] else "none"
            tally[key] = tally.get(key, 0) + 1
        flags = sorted({code for i in member_list for code in (flags_of.get(units[i].id) or "").split(",") if code})
        counted = [i for i in member_list if events[i] or dates[i] is not None] or [own_i]
        last = None if any(dates[i] is None for i in counted) else min(dates[i] for i in counted)
        due = min((dues[i] for i in counted if dues[i] is not None), default=None)
        rows.append((owner.id, owner.name, owner.kind.value, level.value if level else None,
                     level.zh if level else None, decider.name if decider is not owner else None, _iso(last),
                     ",".join(flags) or None, ",".join(f"{k}:{v}" for k, v in tally.items()), due,
                     own[src[own_i]]))
    return pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)


def member_counts(members: Sequence[str | None]) -> dict[str, int]:
    """Units per level ("none": not assessed) summed over `members` texts of drawn unit rows."""
    out: dict[str, int] = {}
    for text in members:
        for part in (text or "").split(","):
            if ":" in part:
                level, count = part.split(":", 1)
                out[level] = out.get(level, 0) + int(count)
    return out


def regions_frame(regions: Sequence[Region], risks: list, units: list[AssessmentUnit]) -> pd.DataFrame:
    """The region rows of the map snapshot: each region with its risk level, the rule that decided it and when its units
    were last assessed.
    """
    assessed = {u.id: u.last_assessed for u in units}
    rows = []
    for region, risk in zip(regions, risks or [None] * len(regions), strict=True):
        level = risk.level if risk is not None else None
        dates = [assessed.get(c.unit_id) for c in risk.contributing] if risk is not None else []
        dates = [d for d in dates if d is not None]
        decided = risk.decided_by.name if risk is not None and risk.decided_by is not None else None
        rows.append((region.id, region.name, None, level.value if level else None, level.zh if level else None,
                     decided, _iso(min(dates)) if dates else None, None, None, None, region.geometry))
    frame = pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)
    frame["key"] = _unique_keys(frame["key"].tolist())
    return frame


def layout_frame(features) -> pd.DataFrame:
    """The layout rows of the map snapshot, keyed by fid (or "#id" for features without one) so a new snapshot can be
    compared feature by feature.
    """
    if not len(features):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in SNAPSHOT_COLUMNS})
    fids = features["fid"].tolist()
    ids = features["id"].tolist() if "id" in features.columns else list(range(len(features)))
    keys = [str(f) if f is not None and not (isinstance(f, float) and math.isnan(f)) else f"#{i}"
            for f, i in zip(fids, ids, strict=True)]
    n = len(features)
    names = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in features["name"]]
    roles = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in features["role"]]
    return pd.DataFrame({
        "key": _unique_keys(keys), "name": names, "kind": roles, "level": [None] * n, "level_zh": [None] * n,
        "decided_by": [None] * n, "last_assessed": [None] * n, "flag": [None] * n, "members": [None] * n,
        "due": [None] * n, "geometry": np.asarray(features.geometry.values, dtype=object),
    }, columns=SNAPSHOT_COLUMNS)


def _unique_keys(keys: list) -> list[str]:
    """Keys made unique in order: the second "A1" becomes "A1#2" (a drawing may repeat a handle)."""
    seen: dict[str, int] = {}
    out = []
    for k in keys:
        k = str(k)
        seen[k] = seen.get(k, 0) + 1
        out.append(k if seen[k] == 1 else f"{k}#{seen[k]}")
    return out


# ---------------------------------------------------------------------------------------------- storing


@dataclass
class MapChange:
    """What one refresh rewrote: (layer, key) of features added, changed and removed."""

    data_version: int
    added: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether the change has nothing to apply."""
        return not (self.added or self.changed or self.removed)


_COMPARED = [*STORED, "wkb"]


def refresh(session: Session, enterprise_id: int, data_version: int, snapshot: dict[str, pd.DataFrame],
            keys: dict[str, set[str]] | None = None) -> MapChange:
    """Write the difference between the stored snapshot and `snapshot`, stamped with `data_version`.

    With `keys` (layer -> keys) only those features are compared, written or removed: `snapshot` then holds the
    new state of exactly those features (riskmap.store.mapupdate computes it for what an edit touched).
    The units' flags go to map_flags (write_flags): a row whose flag alone changed is not rewritten."""
    dialect = session.get_bind().dialect.name
    old = read_rows(session, enterprise_id, with_wkb=True, keys=keys)
    new = _new_rows(snapshot)
    if keys is not None and len(new):
        wanted = pd.Series([k in keys.get(layer, ()) for layer, k in zip(new["layer"], new["key"], strict=True)],
                           index=new.index, dtype=bool)
        new = new[wanted].reset_index(drop=True)
    merged = new.merge(old, on=["layer", "key"], how="outer", suffixes=("", "_old"), indicator=True)
    live_old = merged["_merge"].ne("left_only") & merged["wkb_old"].notna()
    in_new = merged["_merge"].ne("right_only")
    same = pd.Series(True, index=merged.index)
    for col in _COMPARED:
        a, b = merged[col].to_numpy(dtype=object), merged[f"{col}_old"].to_numpy(dtype=object)
        both_missing = pd.isna(merged[col]).to_numpy() & pd.isna(merged[f"{col}_old"]).to_numpy()
        same &= (both_missing | _equal(a, b))
    # the flag (units only) is compared on its own: it lives in map_flags, a row whose flag alone changed stays
    new_flag = np.where(in_new.to_numpy(), merged["flag"].to_numpy(dtype=object), None)
    old_flag = merged["flag_old"].to_numpy(dtype=object).copy()
    new_flag[pd.isna(new_flag)] = None
    old_flag[pd.isna(old_flag)] = None
    flag_moved = (new_flag != old_flag) & (merged["layer"].to_numpy() == "units")
    added = in_new & ~live_old
    rewritten = in_new & live_old & ~same
    changed = rewritten | (in_new & live_old & flag_moved)
    removed = ~in_new & live_old
    change = MapChange(data_version,
                       added=list(zip(merged.loc[added, "layer"], merged.loc[added, "key"], strict=True)),
                       changed=list(zip(merged.loc[changed, "layer"], merged.loc[changed, "key"], strict=True)),
                       removed=list(zip(merged.loc[removed, "layer"], merged.loc[removed, "key"], strict=True)))
    flags = dict(zip(merged.loc[flag_moved, "key"].tolist(), new_flag[flag_moved].tolist(), strict=True))
    if keys is None:        # the whole map: map_flags made equal to it, whatever it held (rows of no stored key)
        units = (merged["layer"].to_numpy() == "units") & in_new.to_numpy()
        wanted = {k: f for k, f in zip(merged.loc[units, "key"].tolist(), new_flag[units].tolist(), strict=True) if f}
        stored = read_flags(session, enterprise_id)
        flags = {k: wanted.get(k) for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k)}
    write_flags(session, enterprise_id, data_version, flags)
    if change.empty or not (added | rewritten | removed).any():
        return change

    # feature ids: kept for known keys (tombstones included), new ones after the largest of the layer
    fid = merged["feature_id"].to_numpy(dtype=object).copy()
    need = added.to_numpy() & pd.isna(merged["feature_id"]).to_numpy()
    for layer in LAYERS:
        m = need & (merged["layer"].to_numpy() == layer)
        if m.any():
            if keys is None:
                top = old.loc[old["layer"] == layer, "feature_id"].max() if len(old) else None
            else:
                top = session.execute(select(func.max(MapFeatureRow.feature_id)).where(
                    MapFeatureRow.enterprise_id == enterprise_id, MapFeatureRow.layer == layer)).scalar_one()
            start = 1 if top is None or pd.isna(top) else int(top) + 1
            fid[m] = np.arange(start, start + int(m.sum()))
    merged["feature_id"] = fid

    # a row whose shape stayed (a level, a flag) is updated in place: no geometry to encode and index again
    wkb_same = _equal(merged["wkb"].to_numpy(dtype=object), merged["wkb_old"].to_numpy(dtype=object))
    in_place = (rewritten.to_numpy() & wkb_same & merged["id"].notna().to_numpy())
    _update_attributes(session, merged.loc[in_place], data_version)
    rewrite = (added | rewritten | removed).to_numpy() & ~in_place
    stale_ids = merged.loc[rewrite & merged["id"].notna().to_numpy(), "id"].astype(np.int64).tolist()
    for start in range(0, len(stale_ids), DELETE_CHUNK):
        session.execute(delete(MapFeatureRow).where(MapFeatureRow.id.in_(stale_ids[start:start + DELETE_CHUNK])))

    out = merged.loc[rewrite].copy()
    gone = removed.to_numpy()[rewrite]
    for col in (*STORED, "geometry"):
        values = out[col].to_numpy(dtype=object).copy()
        values[gone] = None
        out[col] = values
    geoms = out["geometry"].to_numpy(dtype=object)
    bounds = shapely.bounds(geoms)
    encoded = encode_mercator(geoms, dialect)
    rows = []
    for i, rec in enumerate(out.itertuples(index=False)):
        row = {"enterprise_id": enterprise_id, "layer": rec.layer, "key": rec.key, "feature_id": int(rec.feature_id),
               "data_version": data_version, "geometry": encoded[i]}
        for col in STORED:
            value = getattr(rec, col)
            row[col] = None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        b = bounds[i]
        for j, name in enumerate(("minx", "miny", "maxx", "maxy")):
            row[name] = None if math.isnan(b[j]) else float(b[j])
        rows.append(row)
    _insert(session, rows, dialect)
    return change


def _update_attributes(session: Session, rows: pd.DataFrame, data_version: int) -> None:
    if not len(rows):
        return
    params = []
    for rec in rows[["id", *STORED]].itertuples(index=False):
        row = {"row_id": int(rec[0]), "data_version": data_version}
        for col, value in zip(STORED, rec[1:], strict=True):
            row[col] = None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        params.append(row)
    update_in_place(session, params, STORED)


def set_flags(session: Session, enterprise_id: int, data_version: int, by_flag: dict[str | None, list[str]]) -> None:
    """Set the flag of the drawn unit rows by key (flag text → keys; None clears), in map_flags."""
    write_flags(session, enterprise_id, data_version, {k: flag for flag, keys in by_flag.items() for k in keys})


KEY_SEPARATOR = "\x1f"     # keys sent to PostgreSQL as one text, split there (a 100,000-item array costs its dump)


def write_flags(session: Session, enterprise_id: int, data_version: int, flags: dict[str, str | None]) -> None:
    """Write the flags of drawn unit rows (key → flag text, None for none) into the narrow map_flags, and the
    transaction's marker into map_flag_changes (the keys, or NULL "re-read them all" beyond MARKED_KEYS; that
    one makes the earlier markers of the enterprise useless, so they go). An accident's 100,000 flags are a
    DELETE and one INSERT … SELECT per flag text on PostgreSQL, the keys sent as one text: no row per statement,
    no row built in Python."""
    if not flags:
        return
    keys = sorted(flags)
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    by_flag: dict[str, list[str]] = {}
    for k in keys:
        if flags[k]:
            by_flag.setdefault(flags[k], []).append(k)
    if dialect == "postgresql":
        joined = not any(KEY_SEPARATOR in k for k in keys)
        listed = "string_to_array(%s, E'\\x1f')" if joined else "%s::text[]"

        def param(values: list[str]) -> Any:
            return KEY_SEPARATOR.join(values) if joined else values

        conn.exec_driver_sql(f"DELETE FROM map_flags WHERE enterprise_id = %s AND key = ANY({listed})",
                             (enterprise_id, param(keys)))
        for flag, chosen in by_flag.items():
            conn.exec_driver_sql(f"INSERT INTO map_flags (enterprise_id, key, flag) SELECT %s, k, %s FROM "
                                 f"unnest({listed}) AS t(k)", (enterprise_id, flag, param(chosen)))
    else:
        for start in range(0, len(keys), FLAG_CHUNK):
            chunk = keys[start:start + FLAG_CHUNK]
            conn.exec_driver_sql(f"DELETE FROM map_flags WHERE enterprise_id = ? AND key IN "
                                 f"({', '.join('?' * len(chunk))})", (enterprise_id, *chunk))
        rows = [(enterprise_id, k, flag) for flag, chosen in by_flag.items() for k in chosen]
        if rows:
            conn.exec_driver_sql("INSERT INTO map_flags (enterprise_id, key, flag) VALUES (?, ?, ?)", rows)
    marker = MapFlagChangeRow.__table__
    if len(keys) > MARKED_KEYS:
        session.execute(delete(marker).where(marker.c.enterprise_id == enterprise_id))
        session.execute(insert(marker).values(enterprise_id=enterprise_id, data_version=data_version, keys=None))
    else:
        session.execute(insert(marker).values(enterprise_id=enterprise_id, data_version=data_version, keys=keys))


def read_flag_changes(session: Session, enterprise_id: int, since: int) -> set[str] | None:
    """The keys of drawn units whose flag changed after version `since` (an empty set: none), or None when a
    bulk change came after it (re-read every flag)."""
    marker = MapFlagChangeRow.__table__
    found: set[str] = set()
    for (keys,) in session.connection().execute(select(marker.c["keys"]).where(
            marker.c.enterprise_id == enterprise_id, marker.c.data_version > since)).all():
        if keys is None:
            return None
        found.update(keys)
    return found


def read_flags(session: Session, enterprise_id: int, keys: set[str] | None = None) -> dict[str, str]:
    """Drawn unit key → flag text, of `keys` (or of every flagged row)."""
    q = select(MapFlagRow.key, MapFlagRow.flag).where(MapFlagRow.enterprise_id == enterprise_id)
    if keys is None:
        return dict(session.connection().execute(q).all())
    out: dict[str, str] = {}
    wanted = sorted(keys)
    for start in range(0, len(wanted), DELETE_CHUNK):
        out.update(session.connection().execute(q.where(MapFlagRow.key.in_(wanted[start:start + DELETE_CHUNK])))
                   .all())
    return out


def update_in_place(session: Session, params: list[dict], columns: Sequence[str]) -> None:
    """UPDATE rows of map_features by id (`row_id`), setting `columns` and data_version, as one executemany of
    the driver: the ORM's per-parameter processing cost more than the statement on an accident's 100,000 rows."""
    if not params:
        return
    dialect = session.get_bind().dialect.name
    mark = (lambda n: f"%({n})s") if dialect == "postgresql" else (lambda n: f":{n}")
    sets = ", ".join(f"{c} = {mark(c)}" for c in (*columns, "data_version"))
    session.connection().exec_driver_sql(f"UPDATE map_features SET {sets} WHERE id = {mark('row_id')}", params)


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equality of object arrays (text, WKB bytes; None and NaN compare unequal here)."""
    if not len(a):
        return np.zeros(0, bool)
    return np.asarray(a == b, dtype=bool)


def _new_rows(snapshot: dict[str, pd.DataFrame]) -> pd.DataFrame:
    frames = []
    for layer in LAYERS:
        frame = snapshot.get(layer)
        if frame is None or not len(frame):
            continue
        part = frame[SNAPSHOT_COLUMNS].copy()
        part.insert(0, "layer", layer)
        frames.append(part)
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in ["layer", *SNAPSHOT_COLUMNS, "wkb"]})
    new = pd.concat(frames, ignore_index=True)
    wkb = shapely.to_wkb(shapely.force_2d(new["geometry"].to_numpy(dtype=object)), hex=False)
    new["wkb"] = wkb.astype(object)
    return new


def _insert(session: Session, rows: list[dict], dialect: str) -> None:
    if not rows:
        return
    if dialect == "postgresql" and len(rows) > 200:
        names = list(rows[0])
        with copy_in(session, "map_features", names) as copy:
            for row in rows:
                copy.write_row([row[n] for n in names])
        return
    session.execute(insert(MapFeatureRow.__table__), rows)


def wkb_column(dialect: str):
    """The map geometry column as WKB bytes on either backend, to decode many rows at once with shapely."""
    if dialect == "postgresql":
        return func.ST_AsBinary(MapFeatureRow.geometry, type_=LargeBinary)
    return type_coerce(MapFeatureRow.geometry, LargeBinary)


READ_COLUMNS = ["id", "layer", "key", "feature_id", "data_version", *ATTRIBUTES]


def read_rows(session: Session, enterprise_id: int, since: int | None = None, with_wkb: bool = True,
              keys: dict[str, set[str]] | None = None) -> pd.DataFrame:
    """Stored rows of an enterprise (tombstones included), or only those written after version `since`, or only
    those of `keys` (layer -> keys)."""
    dialect = session.get_bind().dialect.name
    t = MapFeatureRow
    cols = [MapFlagRow.flag if c == "flag" else getattr(t, c) for c in READ_COLUMNS]
    if with_wkb:
        cols.append(wkb_column(dialect).label("wkb"))
    flags = and_(MapFlagRow.enterprise_id == t.enterprise_id, MapFlagRow.key == t.key, t.layer == "units")
    q = select(*cols).select_from(t.__table__.outerjoin(MapFlagRow.__table__, flags)) \
        .where(t.enterprise_id == enterprise_id)
    if since is not None:
        q = q.where(t.data_version > since)
    if keys is None:
        rows = session.connection().execute(q.order_by(t.layer, t.feature_id)).all()
    else:
        rows = []
        for layer in LAYERS:
            wanted = sorted(keys.get(layer, ()))
            if len(wanted) > MANY_KEYS:      # one scan of the layer beats hundreds of IN lists
                keep = set(wanted)
                rows.extend(r for r in session.connection().execute(q.where(t.layer == layer)).all()
                            if r.key in keep)
                continue
            for start in range(0, len(wanted), DELETE_CHUNK):
                rows.extend(session.connection().execute(
                    q.where(t.layer == layer, t.key.in_(wanted[start:start + DELETE_CHUNK]))).all())
    names = READ_COLUMNS + (["wkb"] if with_wkb else [])
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in names})
    columns = dict(zip(names, (list(c) for c in zip(*rows, strict=True)), strict=True))   # faster than from_records
    if with_wkb:
        columns["wkb"] = [None if v is None else bytes(v) for v in columns["wkb"]]
    frame = pd.DataFrame(columns)
    for c in ("id", "feature_id", "data_version"):
        frame[c] = frame[c].astype(np.int64)
    return frame


def current_state(executor, enterprise_name: str | None) -> list[tuple[int, str, int, str]]:
    """(enterprise id, name, data version, stamp) of the named enterprise, or of every enterprise when the name is
    None (at most two rows: enough to know whether there is exactly one). One indexed SELECT; `executor` is a
    Session or a Connection. The stamp (the version's time) tells a replaced database from an unchanged one."""
    from riskmap.store.schema import DataVersionRow, EnterpriseRow

    q = (select(EnterpriseRow.id, EnterpriseRow.name, DataVersionRow.version, DataVersionRow.updated_at)
         .join(DataVersionRow, DataVersionRow.enterprise_id == EnterpriseRow.id))
    q = q.where(EnterpriseRow.name == enterprise_name) if enterprise_name is not None else \
        q.order_by(EnterpriseRow.id).limit(2)
    return [(int(r[0]), str(r[1]), int(r[2]), version_stamp(r[2], r[3])) for r in executor.execute(q).all()]


def version_stamp(version: Any, updated_at: Any) -> str:
    """"version@time" from a data_versions row, the same whether the time comes as a datetime (SQLAlchemy,
    psycopg) or as SQLite's text."""
    if isinstance(updated_at, str):
        from datetime import datetime

        updated_at = datetime.fromisoformat(updated_at)
    when = updated_at.strftime("%Y%m%d%H%M%S%f") if updated_at is not None else ""
    return f"{int(version)}@{when}"


# The per-request check as plain SQL, for a DB-API connection of its own (see riskmap.render.tilecache).
STATE_SQL = ("SELECT e.id, e.name, d.version, d.updated_at FROM enterprises e "
             "JOIN data_versions d ON d.enterprise_id = e.id WHERE e.name = {p}")
STATE_ANY_SQL = ("SELECT e.id, e.name, d.version, d.updated_at FROM enterprises e "
                 "JOIN data_versions d ON d.enterprise_id = e.id ORDER BY e.id LIMIT 2")


def has_map(session: Session, enterprise_id: int) -> bool:
    """Whether the enterprise's map has been built (any map feature stored); cheaper than counting."""
    return session.execute(select(MapFeatureRow.id).where(MapFeatureRow.enterprise_id == enterprise_id)
                           .limit(1)).first() is not None
