"""What the tiles of one enterprise draw, at one data version: the map snapshot in memory, ready for tile queries.

Built once per data version from the `map_features` table (riskmap.store.mapdata): geometries already in
EPSG:3857, one STRtree per layer, attributes as arrays. A tile query is an STRtree query of the tile's bounds
plus the renderer's buffer (microseconds), then a gather of the arrays. A newer version is applied as a patch:
only the rows written since are read, and the bounds of what they changed (before and after) are returned so
that exactly the tiles touching them can be dropped from the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely

from riskmap.store.mapdata import ATTRIBUTES, LAYER_FIELDS, LAYERS, read_flag_changes, read_flags, read_rows

_ATTR = list(ATTRIBUTES)


@dataclass(frozen=True)
class LayerData:
    """One layer's features in draw order (by stable feature id); never changed after it is built."""

    name: str
    feature_id: np.ndarray           # int64
    key: np.ndarray                  # object: the user's id (region id, unit id, layout fid)
    attrs: dict[str, np.ndarray]     # ATTRIBUTES → object arrays
    geometry: np.ndarray             # shapely, EPSG:3857, none missing or empty
    wkb: np.ndarray                  # object: WKB bytes, to tell a real change from a rewrite
    tree: shapely.STRtree = field(repr=False)
    index: dict[str, int] = field(repr=False, default_factory=dict)   # key → position

    def __len__(self) -> int:
        return len(self.feature_id)

    @cached_property
    def bounds(self) -> np.ndarray:
        """(n, 4) envelopes, computed once (TileJSON extents, change bounds)."""
        return shapely.bounds(self.geometry)

    def query(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """Positions of the features whose envelope meets the box (EPSG:3857), in draw order."""
        if not len(self.feature_id):
            return np.zeros(0, np.int64)
        hits = self.tree.query(shapely.box(*box))
        hits.sort()
        return hits

    def columns(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """The selected features as the renderers take them: `id`, the layer's tile attributes, `geometry`."""
        out: dict[str, np.ndarray] = {"id": self.feature_id[positions]}
        for field_name, column in LAYER_FIELDS[self.name].items():
            out[field_name] = (self.key if column == "key" else self.attrs[column])[positions]
        out["geometry"] = self.geometry[positions]
        return out

    def frame(self, positions: np.ndarray) -> pd.DataFrame:
        """The selected features as a DataFrame (the columns of ``columns``)."""
        return pd.DataFrame(self.columns(positions))


@dataclass(frozen=True)
class TileData:
    """An enterprise's map at one data version."""

    enterprise_id: int
    enterprise: str
    version: int
    layers: dict[str, LayerData]
    stamp: str = ""                  # mapdata.current_state's stamp of this version
    owner: Any = None                # cache owner of a past state or a drawing (None: the current site plan)
    as_of: Any = None                # riskmap.store.history.AsOf of a past state
    drawing: Any = None              # riskmap.drawings.Drawing other than the site plan

    def layer(self, name: str) -> LayerData:
        """The layer named ``name``; KeyError when there is none."""
        return self.layers[name]

    def bounds_3857(self) -> tuple[float, float, float, float] | None:
        """The envelope of all layers in EPSG:3857, or None when nothing is drawn."""
        boxes = [layer.bounds for layer in self.layers.values() if len(layer)]
        if not boxes:
            return None
        b = np.concatenate(boxes)
        return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _layer_from_frame(name: str, frame: pd.DataFrame) -> LayerData:
    """A layer from rows with WKB (and, when known, decoded `geometry`: a patch keeps the unchanged ones)."""
    frame = frame.sort_values("feature_id", kind="stable")
    wkb = frame["wkb"].to_numpy(dtype=object)
    if "geometry" in frame.columns:
        geoms = frame["geometry"].to_numpy(dtype=object)
    else:
        geoms = shapely.from_wkb(wkb) if len(frame) else np.empty(0, object)
    keys = frame["key"].to_numpy(dtype=object)
    attrs = {c: _clean(frame[c].to_numpy(dtype=object)) for c in _ATTR}
    return LayerData(
        name=name,
        feature_id=frame["feature_id"].to_numpy(dtype=np.int64),
        key=keys,
        attrs=attrs,
        geometry=geoms,
        wkb=wkb,
        tree=shapely.STRtree(geoms),
        index={k: i for i, k in enumerate(keys.tolist())},
    )


def _clean(values: np.ndarray) -> np.ndarray:
    """None for missing values (NaN from pandas included), so that renderers see one kind of blank."""
    out = values.copy()
    out[pd.isna(out)] = None
    return out


def _live(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows that draw something (tombstones have no geometry)."""
    return rows[rows["wkb"].notna()]


def build_tiledata(enterprise_id: int, enterprise: str, version: int, rows: pd.DataFrame, stamp: str = "") \
        -> TileData:
    """TileData from every stored row of an enterprise (mapdata.read_rows)."""
    live = _live(rows)
    return TileData(enterprise_id, enterprise, version,
                    {name: _layer_from_frame(name, live[live["layer"] == name]) for name in LAYERS}, stamp)


def load_tiledata(session, enterprise_id: int, enterprise: str, version: int, stamp: str = "") -> TileData:
    """TileData of the enterprise read whole from the map table at ``version``; read_patch is the cheaper way to follow
    an edit.
    """
    return build_tiledata(enterprise_id, enterprise, version, read_rows(session, enterprise_id), stamp)


@dataclass
class Patch:
    """A newer version applied to TileData: the new data and, per layer, the boxes (EPSG:3857) that changed."""

    data: TileData
    boxes: dict[str, np.ndarray]     # layer → (n, 4) minx, miny, maxx, maxy of old and new geometries
    changed: dict[str, list[str]]    # layer → keys that really changed

    @property
    def empty(self) -> bool:
        """Whether nothing drawn changed, so no cached tile needs dropping."""
        return not any(len(b) for b in self.boxes.values())


def apply_rows(old: TileData, version: int, rows: pd.DataFrame, stamp: str = "") -> Patch:
    """Apply the rows written after `old.version` (mapdata.read_rows(since=old.version)).

    A rewritten row equal to what `old` holds (written back and forth since) is not a change.
    """
    layers = dict(old.layers)
    boxes: dict[str, np.ndarray] = {}
    changed: dict[str, list[str]] = {}
    for name in LAYERS:
        part = rows[rows["layer"] == name]
        if not len(part):
            continue
        layer = old.layers[name]
        pos = np.array([layer.index.get(k, -1) for k in part["key"].tolist()], np.int64)
        known = pos >= 0
        same = np.zeros(len(part), bool)
        if known.any():
            kp = pos[known]
            eq = np.ones(int(known.sum()), bool)
            new_wkb = part["wkb"].to_numpy(dtype=object)[known]
            eq &= np.array([a == b for a, b in zip(new_wkb, layer.wkb[kp], strict=True)], bool)
            for c in _ATTR:
                a = _clean(part[c].to_numpy(dtype=object)[known])
                b = layer.attrs[c][kp]
                eq &= np.array([x == y for x, y in zip(a, b, strict=True)], bool)
            same[np.flatnonzero(known)[eq]] = True
        real = ~same
        if not real.any():
            continue
        part, pos = part[real], pos[real]
        new_live = part["wkb"].notna().to_numpy()
        old_b = shapely.bounds(layer.geometry[pos[pos >= 0]]).reshape(-1, 4) if (pos >= 0).any() \
            else np.zeros((0, 4))
        new_g = shapely.from_wkb(part["wkb"].to_numpy(dtype=object)[new_live])
        boxes[name] = np.concatenate([old_b, shapely.bounds(new_g).reshape(-1, 4)])
        changed[name] = part["key"].tolist()
        layers[name] = _patched(layer, part, pos, new_live, new_g)
    return Patch(TileData(old.enterprise_id, old.enterprise, version, layers, stamp), boxes, changed)


def _patched(layer: LayerData, part: pd.DataFrame, pos: np.ndarray, live: np.ndarray, geoms: np.ndarray) \
        -> LayerData:
    """The layer with the rewritten rows `part` (at positions `pos`, -1 for new keys) applied, as arrays: an edit
    of one unit in a 100,000-unit layer must not rebuild the layer. Rows that keep their key, feature id and shape
    (a level, a flag) keep the STRtree; the draw order is by feature id, as `_layer_from_frame` makes it."""
    attrs_new = {c: _clean(part[c].to_numpy(dtype=object)) for c in _ATTR}
    fids = part["feature_id"].to_numpy(dtype=np.int64)
    if live.all() and (pos >= 0).all() and np.array_equal(layer.feature_id[pos], fids):
        attrs = {c: layer.attrs[c].copy() for c in _ATTR}
        for c in _ATTR:
            attrs[c][pos] = attrs_new[c]
        wkb_new = part["wkb"].to_numpy(dtype=object)
        if all(a == b for a, b in zip(wkb_new, layer.wkb[pos], strict=True)):
            return LayerData(layer.name, layer.feature_id, layer.key, attrs, layer.geometry, layer.wkb, layer.tree,
                             layer.index)
        geometry, wkb = layer.geometry.copy(), layer.wkb.copy()
        geometry[pos], wkb[pos] = geoms, wkb_new
        return LayerData(layer.name, layer.feature_id, layer.key, attrs, geometry, wkb, shapely.STRtree(geometry),
                         layer.index)
    keep = np.ones(len(layer), bool)
    keep[pos[pos >= 0]] = False
    feature_id = np.concatenate([layer.feature_id[keep], fids[live]])
    order = np.argsort(feature_id, kind="stable")
    key = np.concatenate([layer.key[keep], part["key"].to_numpy(dtype=object)[live]])[order]
    attrs = {c: np.concatenate([layer.attrs[c][keep], attrs_new[c][live]])[order] for c in _ATTR}
    geometry = np.concatenate([layer.geometry[keep], np.asarray(geoms, dtype=object)])[order]
    wkb = np.concatenate([layer.wkb[keep], part["wkb"].to_numpy(dtype=object)[live]])[order]
    return LayerData(layer.name, feature_id[order], key, attrs, geometry, wkb, shapely.STRtree(geometry),
                     {k: i for i, k in enumerate(key.tolist())})


def read_patch(session, old: TileData, version: int, stamp: str = "") -> Patch:
    """The rows written since ``old.version`` applied to ``old``, then the flags changed since (the markers of
    mapdata.write_flags: the keys named, or every flag after a bulk change): only what changed is read."""
    patch = apply_rows(old, version, read_rows(session, old.enterprise_id, since=old.version), stamp)
    keys = read_flag_changes(session, old.enterprise_id, old.version)
    if keys is not None and not keys:
        return patch
    return apply_flags(patch, read_flags(session, old.enterprise_id, keys), keys)


def apply_flags(patch: Patch, flags: dict[str, str], keys: set[str] | None) -> Patch:
    """The patch with the units' flags of `keys` (None: of every unit; a key missing from `flags` has none) set;
    the units whose flag really changed are added to its boxes and changed keys."""
    data = patch.data
    layer = data.layers["units"]
    if not len(layer):
        return patch
    if keys is None:
        pos = np.arange(len(layer))
    else:
        pos = np.array(sorted(p for p in (layer.index.get(k) for k in keys) if p is not None), np.int64)
    if not len(pos):
        return patch
    new = np.array([flags.get(k) for k in layer.key[pos].tolist()] + [None], dtype=object)[:-1]
    moved = np.array([a != b for a, b in zip(new, layer.attrs["flag"][pos], strict=True)], bool)
    if not moved.any():
        return patch
    pos, new = pos[moved], new[moved]
    column = layer.attrs["flag"].copy()
    column[pos] = new
    units = LayerData(layer.name, layer.feature_id, layer.key, {**layer.attrs, "flag": column}, layer.geometry,
                      layer.wkb, layer.tree, layer.index)
    boxes, changed = dict(patch.boxes), {k: list(v) for k, v in patch.changed.items()}
    before = boxes.get("units", np.zeros((0, 4)))
    boxes["units"] = np.concatenate([before.reshape(-1, 4), layer.bounds[pos]])
    changed["units"] = list(dict.fromkeys([*changed.get("units", []), *layer.key[pos].tolist()]))
    return Patch(dataclasses.replace(data, layers={**data.layers, "units": units}), boxes, changed)


def lonlat_bounds(box: tuple[float, float, float, float]) -> list[float]:
    """EPSG:3857 box → [west, south, east, north] rounded to 7 decimals (about 1 cm)."""
    from riskmap.render.grid import TMS

    west, south = TMS.lnglat(box[0], box[1])
    east, north = TMS.lnglat(box[2], box[3])
    return [round(float(v), 7) for v in (west, south, east, north)]


def fit_zoom(box: tuple[float, float, float, float], pixels: int = 1024) -> int:
    """The largest zoom at which the box fits in about `pixels` CSS px (for TileJSON's centre)."""
    from riskmap.render.grid import TMS

    size = max(box[2] - box[0], box[3] - box[1], 1.0)
    for z in range(22, -1, -1):
        if size / TMS.matrix(z).cellSize <= pixels:
            return z
    return 0


def attribute_types(layer: str) -> dict[str, str]:
    """TileJSON `vector_layers` fields of a layer (all text)."""
    return {name: "String" for name in LAYER_FIELDS[layer]}


def staleness_columns(columns: dict[str, np.ndarray], style, day: str) -> dict[str, np.ndarray]:
    """Units' tile columns with `days_since_assessed` (whole days from `last_assessed` to `day`; None when never
    assessed) and `staleness`, the role of layers/staleness.yaml's `buckets` they fall in (`default` if never)."""
    last = pd.to_datetime(pd.Series(columns["last_assessed"], dtype=object), errors="coerce", utc=True, format="mixed")
    days = (pd.Timestamp(day, tz="UTC") - last.dt.floor("D")).dt.days.clip(lower=0)
    known = days.notna().to_numpy()
    values = days.fillna(-1).to_numpy(dtype=np.int64)
    role = np.full(len(values), style.default_class, dtype=object)
    todo = known.copy()
    for name, max_days in style.buckets:
        hit = todo & (values <= max_days)
        role[hit] = name
        todo &= ~hit
    out = dict(columns)
    count = np.full(len(values), None, dtype=object)
    count[known] = values[known]
    out["days_since_assessed"] = count
    out["staleness"] = role
    return out


def past_tiledata(store, enterprise_id: int, enterprise: str, as_of, current: TileData | None) -> TileData:
    """The map as it was at `as_of` (riskmap.store.history.AsOf), built in memory from the layout and ledger
    versions then (the map table holds only the present). Feature ids are the present ones where the key
    still exists, so a client's feature state carries over; keys gone since get ids after them."""
    from riskmap.store.history import regions_at
    from riskmap.store.mapdata import build_snapshot

    layout_n, ledger_n = as_of.layout_number, as_of.ledger_number
    features = store.layout_features(enterprise, version=layout_n) if layout_n is not None else []
    units = store.units(enterprise, version=ledger_n) if ledger_n is not None else []
    regions = regions_at(store, enterprise, layout_n, ledger_n)
    snapshot = build_snapshot(features, units, regions, months=months_at(store, enterprise, ledger_n))
    version = as_of.data_version if as_of.data_version is not None else 0
    return TileData(enterprise_id, enterprise, version, _layers_of(snapshot, current), f"as-of:{layout_n}:{ledger_n}",
                    owner=("as-of", enterprise_id, layout_n, ledger_n), as_of=as_of)


def drawing_tiledata(store, enterprise_id: int, enterprise: str, drawing, version: int, as_of=None) -> TileData:
    """The map of a drawing other than the site plan, now (or at `as_of`), built in memory from the drawing read as
    a Plant (riskmap.plant.load_plant: its features, the units placed on it, its regions): region risk and the
    drawn units follow the same rules as the site plan's. Drawings are small beside a site plan; the map is kept
    per data version by the tile service."""
    from riskmap.plant import load_plant
    from riskmap.store.mapdata import build_snapshot

    plant = load_plant(store, enterprise, at=as_of.at if as_of is not None else None, drawing=drawing.key)
    layout_n, ledger_n = plant.layout_number, plant.ledger_number
    snapshot = build_snapshot(plant.features, plant.units, plant.regions, copy=False,
                              months=months_at(store, enterprise, ledger_n))
    # ETags carry the stamp: ASCII only (a hash of the drawing's name), and the version of a current drawing
    tag = hashlib.sha1(drawing.key.encode()).hexdigest()[:12]
    stamp = f"drawing-{tag}-" + (f"as-of-{layout_n}-{ledger_n}" if as_of is not None else str(version))
    owner = ("drawing", enterprise_id, drawing.key) + ((layout_n, ledger_n) if as_of is not None else ())
    return TileData(enterprise_id, enterprise, version, _layers_of(snapshot, None), stamp, owner=owner, as_of=as_of,
                    drawing=drawing)


def _layers_of(snapshot: dict[str, pd.DataFrame], current: TileData | None) -> dict[str, LayerData]:
    """LayerData from a snapshot made in memory; feature ids follow `current`'s where a key is in both."""
    frames = []
    for name in LAYERS:
        frame = snapshot[name].copy()
        known = current.layer(name).index if current is not None else {}
        ids = current.layer(name).feature_id if current is not None else np.zeros(0, np.int64)
        start = int(ids.max()) + 1 if len(ids) else 1
        fid = np.array([ids[known[k]] if k in known else -1 for k in frame["key"].tolist()], np.int64)
        fresh = fid < 0
        fid[fresh] = start + np.arange(int(fresh.sum()))
        frame["feature_id"] = fid
        frame["layer"] = name
        frame["wkb"] = shapely.to_wkb(frame["geometry"].to_numpy(dtype=object)) if len(frame) else []
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    return {name: _layer_from_frame(name, rows[rows["layer"] == name]) for name in LAYERS}


def months_at(store, enterprise: str, ledger_number: int | None) -> int:
    """reassessment_months of the criteria profile of ledger version `ledger_number` (default when none)."""
    from riskmap.store.flags import reassessment_months

    found = next((v for v in store.ledger_versions(enterprise) if v["version"] == ledger_number), None)
    return reassessment_months((found or {}).get("default_profile"))
