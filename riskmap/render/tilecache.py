"""Tiles that are never stale: the data version checked per request, a byte-bounded LRU cache, and invalidation
of exactly the tiles a change touches.

Every request reads the enterprise's data version from the database (one indexed SELECT; no TTL, so several
processes agree). When it moved, the process reads the map rows written since its own version, patches its
TileData, and drops from the cache the tiles of every zoom whose data query (the tile plus the renderer's
buffer) reaches the old or new bounds of a changed feature. Tiles elsewhere stay cached: their content is the
same at the new version. The cache belongs to one version of each enterprise at a time (its "generation"), so a
render started before a change can never put its result back after the change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import multiprocessing
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskmap.errors import InputError, NotFoundError, no_enterprise, no_enterprise_yet
from riskmap.render.grid import TMS, TileView, mvt_buffer_px, render_buffer_px
from riskmap.render.tiledata import TileData, load_tiledata, past_tiledata, read_patch
from riskmap.store.mapdata import LAYERS, current_state, has_map
from riskmap.store.scope import ALL as SCOPE_ALL
from riskmap.store.scope import SETTING as SCOPE_SETTING
from riskmap.store.scope import ids_readable_by, narrow, scoped

DEFAULT_CACHE_MB = 256.0
STYLE_RECHECK_S = 1.0
FORMATS = ("png", "mvt")
LABELS = "labels"
LABEL_SOURCES = ("regions", "units", "layout")   # whose names the labels layer draws (one collision pass)
PAST_STATES = 4                                  # past map states kept in memory (?at=)
DRAWINGS_KEPT = 16                               # drawings' maps kept in memory (floor plans, schematics)
STALENESS = "staleness"                          # units by days since their last assessment (layers/staleness.yaml)
FLAGGABLE = ("units", STALENESS)
COVERAGE = "coverage"                            # units by the state of their checks (layers/coverage.yaml)
COVERAGE_WINDOWS = ("today", "week", "month")
# A plant with at most this many units under inspection has its coverage recomputed in the request that needs it
# (well under a second); a larger one in the background, its previous state served meanwhile.
COVERAGE_SYNC_UNITS = 2_000
COVERAGE_WORKER_S = 600.0                        # a worker's recomputation taking longer: given up, done here
REDRAW_MOST = 64                                 # tiles an update draws again before its waiters go on
REDRAW_BUDGET_S = 0.06                           # and for about how long
COVERAGE_KEPT = 8                                # coverage states kept by label (for the render of a key just made)


# ---------------------------------------------------------------------------------------------- the cache


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Coverage:
    """The coverage an (enterprise, window) serves: its CoverageState, the label tile keys carry (new whenever what
    the tiles draw changes) and the Beijing day it was computed for."""

    state: Any
    label: str
    day: str

    def fresh(self, now: Any, today: str) -> bool:
        """Whether it is still the whole plant's state (no full computation due: complete, same day, no window
        opened or closed since)."""
        until = self.state.valid_until
        return bool(self.state.complete) and self.day == today and (until is None or now < until)


@dataclass(frozen=True)
class TileKey:
    """Everything that decides a cached tile's bytes; two requests with equal keys may share the same bytes."""
    owner: Any                 # enterprise id (or "basemap:<signature>")
    layer: str
    fmt: str                   # "png" or "mvt"
    z: int
    x: int
    y: int
    scale: int = 1
    hatch: bool = False
    style: str = ""            # style signature: a changed symbology never serves old pictures
    labels: bool = True        # PNG of regions/units/layout: names drawn (False when the labels layer has them)
    flagged: bool = False      # units/staleness: only units with an open re-assessment flag
    day: str = ""              # staleness: the day the day counts are taken on (a new day, new tiles)
    sources: str = ""          # labels: whose names ("regions,units"; "" = all of LABEL_SOURCES)


class TileCache:
    """A thread-safe LRU of tile bytes bounded by their total size, with an index by (owner, layer, fmt, z)."""

    def __init__(self, max_bytes: int = int(DEFAULT_CACHE_MB * 1024 * 1024)):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[TileKey, bytes] = OrderedDict()
        self._groups: dict[tuple, set[TileKey]] = {}
        self._generation: dict[Any, Any] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def generation(self, owner: Any) -> Any:
        """The data version the cache holds for ``owner``'s tiles, or None."""
        return self._generation.get(owner)

    def set_generation(self, owner: Any, generation: Any) -> None:
        """Move ``owner`` to a new data version: tiles cached under another one stop being served."""
        with self._lock:
            self._generation[owner] = generation

    def get(self, key: TileKey, generation: Any) -> bytes | None:
        """The cached bytes, only while the cache holds `generation` of the key's owner."""
        with self._lock:
            value = self._items.get(key)
            if value is None or self._generation.get(key.owner) != generation:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: TileKey, value: bytes, generation: Any) -> bool:
        """Keep `value` unless the owner's generation moved on while it was made (then it may be stale)."""
        size = len(value) + 200                     # the key and bookkeeping cost something too
        if size > self.max_bytes:
            return False
        with self._lock:
            if self._generation.get(key.owner) != generation:
                return False
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= len(old) + 200
            self._items[key] = value
            self._groups.setdefault(_group(key), set()).add(key)
            self.bytes += size
            while self.bytes > self.max_bytes and self._items:
                self._drop(next(iter(self._items)))
            return True

    def _drop(self, key: TileKey) -> None:
        value = self._items.pop(key)
        self.bytes -= len(value) + 200
        group = self._groups.get(_group(key))
        if group is not None:
            group.discard(key)
            if not group:
                del self._groups[_group(key)]

    def keys(self, owner: Any = None) -> list[TileKey]:
        """The cached keys, all or of one owner."""
        with self._lock:
            return [k for k in self._items if owner is None or k.owner == owner]

    def clear(self, owner: Any = None) -> int:
        """Drop the cached tiles, all or of one owner, and return how many were dropped."""
        with self._lock:
            keys = [k for k in self._items if owner is None or k.owner == owner]
            for k in keys:
                self._drop(k)
            return len(keys)

    def invalidate(self, owner: Any, layer: str, boxes: np.ndarray, pad_px: Callable[[str, int], float],
                   generation: Any, dropped: list[TileKey] | None = None, most: int = 0) -> int:
        """Drop the owner's tiles of `layer` (every format and zoom) whose data query meets a box, and move the
        owner to `generation`, atomically. `pad_px(fmt, z)` is the renderer's data buffer in CSS px. `dropped`
        collects at most `most` of the keys dropped, those read last (what readers are looking at)."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        with self._lock:
            count = 0
            if len(boxes):
                gone: list[TileKey] = []
                for group in [g for g in self._groups if g[0] == owner and g[1] == layer]:
                    _, _, fmt, z = group
                    ranges = tile_ranges(boxes, z, pad_px(fmt, z))
                    gone += [k for k in self._groups.get(group, ()) if _in_ranges(k.x, k.y, ranges)]
                if dropped is not None and len(gone) <= most:
                    dropped += gone
                elif dropped is not None and most > 0:
                    wanted = set(gone)
                    dropped += itertools.islice((key for key in reversed(self._items) if key in wanted), most)
                for key in gone:
                    self._drop(key)
                count = len(gone)
            self._generation[owner] = generation
            return count

    def holds(self, key: TileKey, generation: Any) -> bool:
        """Whether the key is cached at `generation` (neither a hit nor a miss: no reader asked)."""
        with self._lock:
            return key in self._items and self._generation.get(key.owner) == generation

    def stats(self) -> dict[str, int]:
        """Size and hit counts of the cache, to watch how well it serves."""
        return {"tiles": len(self._items), "bytes": self.bytes, "max_bytes": self.max_bytes, "hits": self.hits,
                "misses": self.misses}


def _group(key: TileKey) -> tuple:
    return key.owner, key.layer, key.fmt, key.z


def _in_ranges(x: int, y: int, ranges: np.ndarray) -> bool:
    return bool(((ranges[:, 0] <= x) & (x <= ranges[:, 2]) & (ranges[:, 1] <= y) & (y <= ranges[:, 3])).any())


def tile_ranges(boxes: np.ndarray, z: int, pad_px: float) -> np.ndarray:
    """For EPSG:3857 boxes, the (xmin, ymin, xmax, ymax) tile index ranges at zoom z of the tiles whose bounds,
    grown by `pad_px` CSS px, meet a box (boundary contact included, as the STRtree query counts it)."""
    cell = TMS.matrix(z).cellSize
    pad = pad_px * cell + 1e-6
    out = np.empty((len(boxes), 4), np.int64)
    limit = TMS.xy_bbox
    n = 2 ** z - 1
    for i, (minx, miny, maxx, maxy) in enumerate(boxes):
        x0, x1 = (min(max(v, limit.left), limit.right) for v in (minx - pad, maxx + pad))
        y0, y1 = (min(max(v, limit.bottom), limit.top) for v in (miny - pad, maxy + pad))
        west, north = TMS.lnglat(x0, y1)
        east, south = TMS.lnglat(x1, y0)
        ul = TMS.tile(west, north, z)
        lr = TMS.tile(min(east, 180.0 - 1e-9), max(south, -85.0511287798), z)
        out[i] = (max(ul.x, 0), max(ul.y, 0), min(lr.x, n), min(lr.y, n))
    return out


# ---------------------------------------------------------------------------------------------- version check


class VersionChecker:
    """The per-request data version check: one indexed SELECT on a DB-API connection of the calling thread's own,
    outside SQLAlchemy's pool and ORM (they cost ~0.9 ms a request; this ~20 µs on SQLite, one round trip on
    PostgreSQL). Each SELECT runs in autocommit mode, so it sees the latest committed version of any process.
    A SQLite file replaced on disk (e.g. the demo loaded again) is noticed by its inode and reopened."""

    def __init__(self, engine: Any):
        self.url = engine.url
        self.dialect = engine.dialect.name
        self._local = threading.local()
        self._stamps: dict[tuple, str] = {}

    def _connect(self):
        if self.dialect == "sqlite":
            import os
            import sqlite3

            path = self.url.database
            if not path or path == ":memory:":
                return None, None
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            return conn, os.stat(path).st_ino
        import psycopg

        conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        # The check is the service's own lookup (the id and version of the enterprise a request names), so it
        # reads under the scope of all enterprises (riskmap.store.scope); what the request then reads is its own.
        conn.execute("SELECT set_config(%s, %s, false)", (SCOPE_SETTING, SCOPE_ALL))
        return conn, None

    def state(self, name: str | None, fallback: Callable[[str | None], list]) -> list[tuple[int, str, int, str]]:
        """Like mapdata.current_state; `fallback(name)` answers when this backend has no connection of its own
        (an in-memory SQLite database is only reachable through the engine)."""
        from riskmap.store.mapdata import STATE_ANY_SQL, STATE_SQL

        held = getattr(self._local, "held", None)
        if held is not None and self.dialect == "sqlite" and held[0] is not None:
            import os

            try:
                if os.stat(self.url.database).st_ino != held[1]:
                    held[0].close()
                    held = None
            except OSError:
                held = None
        if held is None:
            held = self._connect()
            self._local.held = held
        conn = held[0]
        if conn is None:
            return fallback(name)
        mark = "?" if self.dialect == "sqlite" else "%s"
        try:
            if name is None:
                rows = conn.execute(STATE_ANY_SQL).fetchall()
            else:
                rows = conn.execute(STATE_SQL.format(p=mark), (name,)).fetchall()
        except Exception:
            # a dropped server connection or a file not yet migrated: start again next time, answer the long way
            self._local.held = None
            with contextlib.suppress(Exception):
                conn.close()
            return fallback(name)
        return [(int(r[0]), str(r[1]), int(r[2]), self._stamp(r[2], r[3])) for r in rows]

    def _stamp(self, version: Any, updated_at: Any) -> str:
        """version_stamp, remembered: formatting the time costs more than the SELECT."""
        from riskmap.store.mapdata import version_stamp

        key = (version, updated_at)
        found = self._stamps.get(key)
        if found is None:
            if len(self._stamps) > 1000:
                self._stamps.clear()
            found = self._stamps[key] = version_stamp(version, updated_at)
        return found


def _entered(state: tuple[int, str, int, str]) -> tuple[int, str, int, str]:
    """A tile request's enterprise is known: the request reads that enterprise alone (riskmap.store.scope)."""
    narrow(ids_readable_by(state[0]))
    return state


# ---------------------------------------------------------------------------------------------- the service


def style_signature(style: Any) -> str:
    """A short hash of everything that changes a picture: the style with its palette."""
    text = json.dumps(style.to_json(), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


@dataclass(frozen=True)
class LabelsStyle:
    """The labels layer: the names of the source layers as their own styles place them, without geometry."""

    layers: tuple                              # LayerStyle of each source, bottom first
    name: str = LABELS
    title_zh: str = "标注"
    title_en: str = "Labels"

    @property
    def min_zoom(self) -> int:
        """The lowest zoom at which any source layer draws labels."""
        return min((s.label.min_zoom for s in self.layers if s.label is not None), default=24)

    @property
    def max_zoom(self) -> int:
        """The highest zoom of any source layer."""
        return max((s.max_zoom for s in self.layers), default=24)

    @property
    def mvt_min_zoom(self) -> int:
        """Same as min_zoom; the labels layer offers no vector tiles, but callers ask every style alike."""
        return self.min_zoom

    def visible(self, z: int) -> bool:
        """Whether any source layer places labels at zoom ``z``."""
        return any(s.labels_at(z) for s in self.layers)

    def visible_as(self, fmt: str, z: int) -> bool:
        """Whether tiles in ``fmt`` draw anything at zoom ``z``: labels are PNG only."""
        return fmt == "png" and self.visible(z)

    def max_draw_px(self) -> float:
        """The farthest any source layer draws beyond its features (CSS px), so a labels tile also queries its
        neighbours' features.
        """
        return max((s.max_draw_px() for s in self.layers), default=0.0)

    def to_json(self) -> dict[str, Any]:
        """The style as JSON, for the style signature and the API."""
        return {"name": self.name, "sources": [s.to_json() for s in self.layers]}


def check_tile(layer: str, fmt: str) -> None:
    """NotFoundError (404) for a layer or format with no tiles, or a labels tile not in PNG."""
    if layer not in LAYERS and layer not in (LABELS, STALENESS, COVERAGE):
        known = "、".join((*LAYERS, LABELS, STALENESS, COVERAGE))
        raise NotFoundError(f"没有名为 “{layer}” 的瓦片图层，可选：{known} / no tile layer {layer!r}")
    if fmt not in FORMATS:
        raise NotFoundError(f"不支持的瓦片格式 “{fmt}” / unsupported tile format {fmt!r}")
    if layer == LABELS and fmt != "png":
        raise NotFoundError("标注图层只提供 PNG 瓦片（矢量瓦片的要素自带名称）/ the labels layer is PNG only "
                            "(vector tile features carry their names)")


def data_pad_px(style: Any, fmt: str, z: int) -> float:
    """How far beyond a tile (CSS px) its data query reaches: the MVT buffer, or the PNG renderer's reach."""
    if fmt == "mvt":
        return mvt_buffer_px()
    return render_buffer_px(z, [style])


class TileService:
    """One process's view of the map of every enterprise: version check, TileData, cache and rendering.

    `store` is a riskmap Store; `styles(layer)` gives the LayerStyle (riskmap.render.style.load_layer_style).
    Renderers are attributes so that tests can count calls: `render_png(features, view, style, scale, hatch,
    labels=)`, `render_labels_png(layers, view, scale)`, `encode_mvt(layers, view)`, `sql_mvt(data, layer, view)`
    (PostGIS only).
    """

    def __init__(self, store: Any, cache: TileCache | None = None, styles: Callable[[str], Any] | None = None,
                 default_enterprise: str | None = None, read_store: Any = None):
        from riskmap.render.mvt import encode_mvt
        from riskmap.render.png import render_labels_png, render_png
        from riskmap.render.style import load_layer_style

        self.store = store
        # A read replica (settings.read_database_url): the map's rows are loaded from it when it has caught up with
        # the version the primary gives, else from the primary (the version check is always the primary's).
        self.read_store = read_store
        self.replica_loads = 0        # loads the replica answered (the rest: the primary)
        self.cache = cache or TileCache()
        self.styles = styles or load_layer_style
        self.default_enterprise = default_enterprise
        self.render_png = render_png
        self.render_labels_png = render_labels_png
        self.encode_mvt = encode_mvt
        self.use_sql_mvt = store.dialect == "postgresql"
        self._data: dict[int, TileData] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._signatures: dict[int, tuple[Any, str]] = {}
        self._styles: dict[str, tuple[Any, float]] = {}
        self.checker = VersionChecker(store.engine)
        self._checked: dict[str | None, tuple[float, TileData]] = {}    # enterprise asked → (when, data)
        self._past: OrderedDict[tuple, TileData] = OrderedDict()
        self._drawings: OrderedDict[tuple, TileData] = OrderedDict()
        self._past_lock = threading.Lock()
        self._past_build_lock = threading.Lock()
        # Coverage: the state each (enterprise, window) serves now, the states tiles were keyed by (their label →
        # state, for the render of a key made a moment before), one lock per (enterprise, window) for its
        # incremental updates, the full recomputations running in the background.
        self._coverage: dict[tuple, _Coverage] = {}
        self._coverage_labels: OrderedDict[tuple, Any] = OrderedDict()
        self._coverage_locks: dict[tuple, threading.Lock] = {}
        self._coverage_builds: dict[tuple, threading.Thread] = {}
        self._coverage_serial = itertools.count(1)
        self.coverage_rebuilds = 0    # full computations of a plant's coverage (first use and background)
        self.coverage_sync_units = COVERAGE_SYNC_UNITS
        # A background recomputation runs in a worker process (its Python does not hold this one's GIL, so tiles
        # are answered at full speed meanwhile) when the database can be opened from another process.
        self.coverage_process = _shareable_url(store) is not None
        self.renders = 0              # tiles made (not served from the cache)
        # Tiles an update dropped that readers were looking at, drawn again before they ask (`redraw`).
        self._redraw: dict[int, list[TileKey]] = {}
        self.redraw_most = REDRAW_MOST
        self.redraw_budget_s = REDRAW_BUDGET_S
        self.redrawn = 0

    def style(self, layer: str) -> Any:
        """The layer's style, looked up again at most once a second (a symbology file edited on the server is
        picked up; the style signature in cache keys and ETags keeps old pictures out)."""
        import time

        if layer == LABELS:
            sources = tuple(self.style(name) for name in LABEL_SOURCES)
            held = self._styles.get(LABELS)
            if held is None or any(a is not b for a, b in zip(held[0].layers, sources, strict=True)):
                held = (LabelsStyle(sources), 0.0)
                self._styles[LABELS] = held
            return held[0]

        now = time.monotonic()
        held = self._styles.get(layer)
        if held is None or now - held[1] > STYLE_RECHECK_S:
            held = (self.styles(layer), now)
            self._styles[layer] = held
        return held[0]

    # --------------------------------------------------------------------------------------- versions

    def resolve(self, enterprise: str | None) -> tuple[int, str, int, str]:
        """(enterprise id, name, current data version, stamp) of the request's enterprise: one SELECT."""
        name = enterprise if enterprise not in (None, "") else self.default_enterprise
        if name is not None and (len(str(name)) > 200 or not str(name).strip()):
            raise no_enterprise(name)
        found = self.checker.state(None if name is None else str(name).strip(), self._state_slow)
        if name is not None:
            if not found:
                raise no_enterprise(name)
            return _entered(found[0])
        if len(found) == 1:
            return _entered(found[0])
        if not found:
            raise no_enterprise_yet()
        raise InputError("数据库中有多个企业，请用 enterprise 参数指定 / several enterprises in the database: "
                         "name one with the enterprise parameter")

    def _state_slow(self, name: str | None) -> list:
        with self.store.engine.connect() as conn:
            return current_state(conn, name)

    def current(self, enterprise: str | None) -> TileData:
        """The TileData of the enterprise's current version (the per-request check; rebuilt when it moved)."""
        data, ent_id, name = self.lookup(enterprise)
        return data if data is not None else self.update(ent_id, name)

    def lookup(self, enterprise: str | None) -> tuple[TileData | None, int, str]:
        """The per-request check alone: (TileData if it is current else None, enterprise id, name). Cheap enough
        for an event loop; `update` (which may read many rows) is for a worker thread."""
        data, ent_id, name, _ = self.check(enterprise)
        return data, ent_id, name

    def check(self, enterprise: str | None) -> tuple[TileData | None, int, str, int]:
        """`lookup` with the current data version: a tile asked for with an older one is redirected to it without
        bringing the map up to date first. A map found current is remembered for `checked`."""
        import time

        ent_id, name, version, stamp = self.resolve(enterprise)
        data = self._data.get(ent_id)
        current = data if data is not None and data.stamp == stamp else None
        if current is not None:
            if len(self._checked) > 1000:
                self._checked.clear()
            self._checked[enterprise] = (time.monotonic(), current)
        return current, ent_id, name, version

    def checked(self, enterprise: str | None, version: int, within: float) -> TileData | None:
        """The enterprise's TileData if a version check (`lookup`) found it current at `version` less than
        `within` seconds ago and nothing was written here since (`forget_checks`), else None. A versioned tile's
        URL names its bytes for good, so serving it needs no check of its own: what a check would still add is
        the redirect of a version gone stale in the last `within` seconds, through another process."""
        import time

        held = self._checked.get(enterprise)
        if held is None or held[1].version != version or time.monotonic() - held[0] > within:
            return None
        return held[1]

    def forget_checks(self) -> None:
        """Every request checks the version again (called around writes made through this process)."""
        self._checked.clear()

    def _lock_for(self, ent_id: int) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(ent_id, threading.Lock())

    def update(self, ent_id: int, name: str) -> TileData:
        """Bring the enterprise's TileData to the database's current version: a patch of the rows written since
        ours, or a full load (first use, or a database that went back, e.g. replaced by another file)."""
        with self._lock_for(ent_id):
            rebuild = False
            with self._source(name).session() as s:
                state = current_state(s, name)
                if not state or state[0][0] != ent_id:
                    raise no_enterprise(name)
                _, _, version, stamp = state[0]
                data = self._data.get(ent_id)
                if data is not None and data.stamp == stamp:
                    return data
                if data is not None and data.version < version:
                    patch = read_patch(s, data, version, stamp)
                    dropped: list[TileKey] = []
                    for layer in LAYERS:
                        boxes = patch.boxes.get(layer)
                        if boxes is not None and len(boxes):
                            derived = [LABELS] if layer in LABEL_SOURCES else []
                            derived += [STALENESS] if layer == "units" else []
                            for drawn in (layer, *derived):
                                st = self.style(drawn)
                                self.cache.invalidate(ent_id, drawn, boxes,
                                                      lambda fmt, z, st=st: data_pad_px(st, fmt, z), version,
                                                      dropped, self.redraw_most)
                    self._redraw[ent_id] = list(dict.fromkeys([*dropped, *self._redraw.get(ent_id, ())]))
                    new = patch.data
                elif version > 0 and not has_map(s, ent_id):
                    rebuild = True
                else:
                    new = load_tiledata(s, ent_id, name, version, stamp)
            if rebuild:                            # a database from before the map table: build it once
                self.store.rebuild_map(name)
                self._data.pop(ent_id, None)
                return self._load_after_rebuild(ent_id, name)
            self.cache.set_generation(ent_id, version)
            if data is None or data.version >= version:
                self.cache.clear(ent_id)
            self._data[ent_id] = new
            return new

    def redraw(self, ent_id: int) -> int:
        """Draw again the tiles readers were looking at that the last updates dropped, at most `redraw_most`
        and for about `redraw_budget_s`; how many were drawn. Done by the update's task before the requests
        waiting for it go on: they are then answered from the cache, not each queued for its tile's render
        while the event loop keeps taking the GIL from the renders (under 200 readers a touched tile waited
        100–300 ms for its turn)."""
        import time

        keys = self._redraw.pop(ent_id, None)
        data = self._data.get(ent_id)
        if not keys or data is None:
            return 0
        today = self.today()
        drawn, start = 0, time.perf_counter()
        for key in keys[:self.redraw_most]:
            if key.layer == COVERAGE or (key.layer == STALENESS and key.day != today) \
                    or key.style != self.signature(self.style(key.layer)) or self.cache.holds(key, data.version):
                continue
            try:
                self.render(key, data, TileView(key.z, key.x, key.y))
            except Exception:                 # its reader asks again and gets the routes' answer
                log.exception("redrawing tile %s after an update", key)
                break
            drawn += 1
            if time.perf_counter() - start > self.redraw_budget_s:
                break
        self.redrawn += drawn
        return drawn

    def _source(self, name: str) -> Any:
        """The store to load an enterprise's map from: the read replica when it is at the primary's data version
        (a replica that lags behind would give an older map under the newer version's name), else the primary."""
        if self.read_store is None:
            return self.store
        primary = self.checker.state(name, self._state_slow)
        with self.read_store.session() as s:
            replica = current_state(s, name)
        if primary and replica and replica[0][:3] == primary[0][:3]:
            self.replica_loads += 1
            return self.read_store
        return self.store

    def _load_after_rebuild(self, ent_id: int, name: str) -> TileData:
        with self.store.session() as s:
            _, _, version, stamp = current_state(s, name)[0]
            new = load_tiledata(s, ent_id, name, version, stamp)
        self.cache.clear(ent_id)
        self.cache.set_generation(ent_id, version)
        self._data[ent_id] = new
        return new

    # --------------------------------------------------------------------------------------- tiles

    def signature(self, style: Any) -> str:
        """The style's signature, memoised per style object; a changed style (a new object) gets a new signature and so
        new tile keys.
        """
        found = self._signatures.get(id(style))
        if found is None or found[0] is not style:
            found = (style, style_signature(style))
            self._signatures[id(style)] = found
        return found[1]

    def past(self, enterprise: str | None, at: Any) -> TileData:
        """The map as it was at moment `at` (aware datetime), built once per (enterprise, layout version,
        ledger version) and kept for the last PAST_STATES asked for; past states never change."""
        from riskmap.store.history import versions_at

        ent_id, name, _, _ = self.resolve(enterprise)
        as_of = versions_at(self.store, name, at)
        key = (ent_id, as_of.layout_number, as_of.ledger_number)
        with self._past_lock:
            found = self._past.get(key)
            if found is not None:
                self._past.move_to_end(key)
                return dataclasses.replace(found, as_of=as_of)
        with self._past_build_lock:                # one build at a time: the tiles of one view ask together
            with self._past_lock:
                found = self._past.get(key)
            if found is not None:
                return dataclasses.replace(found, as_of=as_of)
            current = self._data.get(ent_id) or self.current(name)   # its feature ids carry over
            data = past_tiledata(self.store, ent_id, name, as_of, current)
            self.cache.set_generation(data.owner, data.version)
            with self._past_lock:
                self._past[key] = data
                while len(self._past) > PAST_STATES:
                    _, old = self._past.popitem(last=False)
                    self.cache.clear(old.owner)
        return data

    def drawing(self, enterprise: str | None, key: str, at: Any = None) -> TileData:
        """The map of a drawing other than the site plan, now (or at moment `at`), built once per data version (per
        pair of layout and ledger versions for a past moment) and kept for the last DRAWINGS_KEPT asked for."""
        from riskmap.render.tiledata import drawing_tiledata

        ent_id, name, version, _ = self.resolve(enterprise)
        drawing = self.store.drawing(name, key)
        as_of = None
        if at is not None:
            from riskmap.store.history import versions_at

            as_of = versions_at(self.store, name, at)
            found_key = (ent_id, drawing.key, "as-of", as_of.layout_number, as_of.ledger_number)
        else:
            found_key = (ent_id, drawing.key, version)
        with self._past_lock:
            found = self._drawings.get(found_key)
            if found is not None:
                self._drawings.move_to_end(found_key)
                return found if as_of is None else dataclasses.replace(found, as_of=as_of)
        with self._past_build_lock:
            data = drawing_tiledata(self.store, ent_id, name, drawing,
                                    version if as_of is None else (as_of.data_version or 0), as_of)
            self.cache.set_generation(data.owner, data.version)
            with self._past_lock:
                self._drawings[found_key] = data
                while len(self._drawings) > DRAWINGS_KEPT:
                    self._drawings.popitem(last=False)
        return data

    def today(self) -> str:
        """Today in Beijing time (ISO date): what the staleness layer counts days to."""
        from riskmap.clock import today

        return today().isoformat()

    def key(self, data: TileData, layer: str, fmt: str, view: TileView, scale: int = 1, hatch: bool = False,
            labels: bool = True, flagged: bool = False, sources: str | None = None,
            window: str | None = None) -> TileKey:
        """The cache key of a tile; an unknown layer or format, or a labels tile not in PNG, raises NotFoundError (404).
        A coverage tile's key holds its window and the label of the coverage state it draws (the day, a serial
        and the data version: a check saved changes no map feature, so no invalidation would reach it; a state
        whose drawing changed gives new keys instead, one that did not keeps them)."""
        check_tile(layer, fmt)
        png = fmt == "png"
        day = ""
        flagged = bool(flagged) and layer in FLAGGABLE
        if layer == STALENESS or flagged:          # "overdue" and days since assessment move with the day
            day = self.today() if data.as_of is None else local_day(data.as_of.at)
        if layer == COVERAGE:          # and which coverage state it draws (its label: changes with its content)
            window = coverage_window(window, data)
            day = f"{window}@{self.coverage_states(data, window).label}"
        owner = data.enterprise_id if data.owner is None else data.owner
        return TileKey(owner, layer, fmt, view.z, view.x, view.y, scale if png else 1,
                       bool(hatch) if png and layer not in (LABELS, STALENESS, COVERAGE) else False,
                       self.signature(self.style(layer)), bool(labels) or not png or layer == LABELS,
                       flagged, day,
                       label_sources(sources) if layer == LABELS else "")

    def cached(self, key: TileKey, data: TileData) -> bytes | None:
        """The tile's cached bytes at ``data``'s version, or None (counted as a miss)."""
        return self.cache.get(key, data.version)

    def tile(self, data: TileData, layer: str, fmt: str, view: TileView, scale: int = 1, hatch: bool = False,
             labels: bool = True, flagged: bool = False, sources: str | None = None,
             window: str | None = None) -> bytes:
        """The tile's bytes at `data`'s version, from the cache or made now."""
        key = self.key(data, layer, fmt, view, scale, hatch, labels, flagged, sources, window)
        found = self.cache.get(key, data.version)
        if found is not None:
            return found
        return self.render(key, data, view)

    def render(self, key: TileKey, data: TileData, view: TileView) -> bytes:
        """Make a tile that was not in the cache, and keep it."""
        body = self.make(data, key.layer, key.fmt, view, self.style(key.layer), key.scale, key.hatch, key.labels,
                         key.flagged, key.day, key.sources)
        self.cache.put(key, body, data.version)
        return body

    def make(self, data: TileData, layer: str, fmt: str, view: TileView, style: Any, scale: int = 1,
             hatch: bool = False, labels: bool = True, flagged: bool = False, day: str = "",
             sources: str = "") -> bytes:
        """Render a tile's bytes without the cache; a zoom where the style draws nothing gives an empty tile."""
        from riskmap.render.png import empty_png

        self.renders += 1
        if not style.visible_as(fmt, view.z):
            return empty_png(256 * scale, 256 * scale) if fmt == "png" else b""
        if layer == LABELS:
            return self._labels_png(data, view, style, scale, sources)
        if fmt == "mvt" and self.use_sql_mvt and layer in LAYERS and not flagged and data.owner is None:
            return self.sql_mvt(data, layer, view, style)
        ld = data.layer("units" if layer in (STALENESS, COVERAGE) else layer)
        box = view.buffered_bounds(data_pad_px(style, fmt, view.z))
        hits = ld.query(box)
        if flagged and len(hits):
            hits = hits[flagged_mask(ld.attrs["flag"][hits], ld.attrs["due"][hits], day or self.today())]
        if layer == STALENESS:
            return self._staleness(ld, hits, view, fmt, style, scale, labels, day or self.today())
        if layer == COVERAGE:
            return self._coverage_tile(data, ld, hits, view, fmt, style, scale, labels, day)
        if fmt == "png":
            if not len(hits):
                return empty_png(256 * scale, 256 * scale)
            return self.render_png(ld.columns(hits), view, style, scale, hatch, labels=labels)
        if not len(hits):
            return b""
        return self.encode_mvt({layer: ld.frame(hits)}, view, styles={layer: style})

    def _staleness(self, ld, hits: np.ndarray, view: TileView, fmt: str, style: Any, scale: int, labels: bool,
                   day: str) -> bytes:
        """Units by days since their last assessment, flagged ones outlined and hatched over them."""
        from riskmap.render.png import empty_png, render_layers_png
        from riskmap.render.tiledata import staleness_columns

        if not len(hits):
            return empty_png(256 * scale, 256 * scale) if fmt == "png" else b""
        columns = staleness_columns(ld.columns(hits), style, day)
        marked = flagged_mask(columns["flag"], ld.attrs["due"][hits], day)
        if fmt == "mvt":
            import pandas as pd

            columns["flagged"] = marked
            return self.encode_mvt({STALENESS: pd.DataFrame(columns)}, view, styles={STALENESS: style})
        layers = [(columns, style)]
        if marked.any():
            over = {k: v[marked] for k, v in columns.items()}
            over["staleness"] = np.full(int(marked.sum()), "flagged", dtype=object)
            layers.append((over, style))
        return render_layers_png(layers, view, scale=scale, hatch=True, labels=labels)

    def coverage_states(self, data: TileData, window: str, *, wait: bool = True) -> _Coverage | None:
        """The coverage `window` of the enterprise serves for `data` (a _Coverage: the CoverageState of
        riskmap.inspections.store and the label tile keys carry).

        Never older than `data`'s version as far as checks go: a check saved since the state held is applied to it
        here, in its units only (riskmap.inspections.store.updated, milliseconds), so a client that has just checked
        in sees its check on the next tile (checkpoints issued: the plates read again). Anything that needs the whole
        plant computed again (a task, shutdown or ledger written; a window opening or closing; a new day) is, on a
        plant of more than `coverage_sync_units` units, computed in the background (in a worker process when the
        database can be opened from one) while the state held, with the checks since applied, is served; the new
        state replaces it in one assignment when done. A smaller plant is computed at once. Only the first use of
        a window waits for a full computation. `wait` False: None instead of any reading of the database (the event
        loop's fast path)."""
        from riskmap.clock import now as clock_now
        from riskmap.inspections import store as ins

        slot = (data.enterprise_id, window)
        held = self._coverage.get(slot)
        if held is not None and held.state.data_version >= data.version:
            if held.fresh(clock_now(), self.today()):
                return held
            if len(held.state.states) > self.coverage_sync_units:
                self._rebuild_coverage(slot, data.enterprise)
                return held
        if not wait:
            return None
        with self._coverage_lock(slot):
            held = self._coverage.get(slot)
            now = clock_now()
            if held is not None and held.state.data_version >= data.version and held.fresh(now, self.today()):
                return held
            if held is not None:
                state = ins.updated(self.store, data.enterprise, window, held.state, now=now, partial=True)
                if state.states is held.state.states and state.plates is held.state.plates:
                    held = _Coverage(state, held.label, held.day)        # nothing drawn moved: same tiles
                    self._coverage[slot] = held
                else:
                    held = self._hold(slot, state, held.day)
                if held.fresh(now, self.today()):
                    return held
                if len(held.state.states) > self.coverage_sync_units:
                    self._rebuild_coverage(slot, data.enterprise)
                    return held
            self.coverage_rebuilds += 1            # nothing to serve meanwhile, or a small plant: computed now
            day = self.today()
            held = self._hold(slot, ins.coverage_state(self.store, data.enterprise, window, now=now), day)
            if len(held.state.states) > self.coverage_sync_units and self.coverage_process:
                _coverage_pool().submit(ins.worker_ready)       # its start-up paid now, not in the first recomputation
            return held

    def _coverage_lock(self, slot: tuple) -> threading.Lock:
        with self._locks_lock:
            return self._coverage_locks.setdefault(slot, threading.Lock())

    def _hold(self, slot: tuple, state: Any, day: str) -> _Coverage:
        """Serve `state` for `slot` from now on, under a new label (tiles drawn from it get new keys)."""
        label = f"{day}@s{next(self._coverage_serial)}@v{state.data_version}"
        held = _Coverage(state, label, day)
        with self._past_lock:
            self._coverage_labels[(slot[0], f"{slot[1]}@{label}")] = state
            while len(self._coverage_labels) > COVERAGE_KEPT:
                self._coverage_labels.popitem(last=False)
        self._coverage[slot] = held                # one assignment: a reader sees the old state or the new one
        return held

    def _rebuild_coverage(self, slot: tuple, enterprise: str) -> None:
        """Start computing the whole plant's coverage of `slot` in the background (unless it already is)."""
        with self._locks_lock:
            running = self._coverage_builds.get(slot)
            if running is not None and running.is_alive():
                return
            worker = threading.Thread(target=self._rebuild_run, args=(slot, enterprise), daemon=True,
                                      name=f"coverage-{slot[0]}-{slot[1]}")
            self._coverage_builds[slot] = worker
        worker.start()

    def _rebuild_run(self, slot: tuple, enterprise: str) -> None:
        from riskmap.clock import now as clock_now

        try:
            with scoped({int(slot[0])}):     # a thread of its own: the request's scope does not follow it
                self.coverage_rebuilds += 1
                day = self.today()
                state = self._full_coverage(enterprise, slot, clock_now())
                with self._coverage_lock(slot):    # not in the middle of an incremental update
                    self._hold(slot, state, day)
        except Exception:                          # the state held stays served; the next request tries again
            log.exception("coverage of enterprise %s (%s) not recomputed", enterprise, slot[1])
        finally:
            with self._locks_lock:
                if self._coverage_builds.get(slot) is threading.current_thread():
                    del self._coverage_builds[slot]

    def _full_coverage(self, enterprise: str, slot: tuple, now: Any) -> Any:
        """The whole plant's coverage of `slot` at `now`, computed in the worker process when there is one (a
        worker that failed to start or died: here)."""
        from riskmap.inspections import store as ins

        url = _shareable_url(self.store) if self.coverage_process else None
        if url is not None:
            try:
                return _coverage_pool().submit(ins.coverage_state_of, url, enterprise, slot[1], now,
                                               frozenset({int(slot[0])})).result(timeout=COVERAGE_WORKER_S)
            except (BrokenProcessPool, TimeoutError):
                _reset_coverage_pool()
                log.warning("coverage worker process lost or stuck; computing in the service's process")
        return ins.coverage_state(self.store, enterprise, slot[1], now=now)

    def coverage_settled(self, enterprise_id: int, window: str, timeout: float = 60.0) -> bool:
        """Wait for a background recomputation of the coverage to finish (tests, benchmarks); False on timeout."""
        with self._locks_lock:
            running = self._coverage_builds.get((enterprise_id, window))
        if running is not None:
            running.join(timeout)
            return not running.is_alive()
        return True

    def _coverage_tile(self, data: TileData, ld, hits: np.ndarray, view: TileView, fmt: str, style: Any, scale: int,
                       labels: bool, day: str) -> bytes:
        """Units by the state of their checks, their checkpoints as points over them (MVT: layer `checkpoints`)."""
        import pandas as pd
        import shapely

        from riskmap.render.png import empty_png, render_layers_png

        if not len(hits):
            return empty_png(256 * scale, 256 * scale) if fmt == "png" else b""
        window = day.partition("@")[0]
        with self._past_lock:                      # the state the key was made for, if still kept
            found = self._coverage_labels.get((data.enterprise_id, day))
        if found is None:
            found = self.coverage_states(data, window).state
        states, plates = found.states, found.plates
        columns = ld.columns(hits)
        codes = columns["unit_id"]
        columns["coverage"] = np.array([states.get(c, "none") for c in codes], dtype=object)
        plated = np.array([c in plates for c in codes], bool)
        points = None
        if plated.any():
            points = {k: v[plated] for k, v in columns.items()}
            points["geometry"] = shapely.point_on_surface(points["geometry"])
            points["coverage"] = np.full(int(plated.sum()), "checkpoint", dtype=object)
        if fmt == "mvt":
            frames = {COVERAGE: pd.DataFrame(columns)}
            if points is not None:
                frames["checkpoints"] = pd.DataFrame(points)
            return self.encode_mvt(frames, view, styles={COVERAGE: style, "checkpoints": style})
        layers = [(columns, style)]
        if points is not None:
            points["name"] = np.full(len(points["coverage"]), None, dtype=object)   # the unit's name is drawn once
            layers.append((points, style))
        return render_layers_png(layers, view, scale=scale, hatch=True, labels=labels)

    def _labels_png(self, data: TileData, view: TileView, style: LabelsStyle, scale: int, sources: str = "") \
            -> bytes:
        from riskmap.render.png import empty_png

        wanted = sources.split(",") if sources else LABEL_SOURCES
        parts = []
        for source in style.layers:
            if source.name in wanted and source.labels_at(view.z):
                ld = data.layer(source.name)
                hits = ld.query(view.buffered_bounds(data_pad_px(source, "png", view.z)))
                if len(hits):
                    parts.append((ld.columns(hits), source))
        if not parts:
            return empty_png(256 * scale, 256 * scale)
        return self.render_labels_png(parts, view, scale)

    def sql_mvt(self, data: TileData, layer: str, view: TileView, style: Any) -> bytes:
        """The vector tile made by PostGIS (ST_AsMVT over map_features) with the same attributes, `rank` and
        `colour` as encode_mvt gives them, in the same order (riskmap.render.order)."""
        from sqlalchemy import text

        from riskmap.render.grid import MVT_BUFFER, MVT_EXTENT
        from riskmap.render.order import order_sql
        from riskmap.store.mapdata import LAYER_FIELDS

        # the flag is in map_flags (riskmap.store.mapdata), by the drawn unit's key
        flag = "(SELECT f.flag FROM map_flags f WHERE f.enterprise_id = m.enterprise_id AND f.key = m.key)"

        def column_sql(column: str) -> str:
            return flag if column == "flag" else f"m.{column}"

        fields = ", ".join(f'{column_sql(column)} AS "{name}"' for name, column in LAYER_FIELDS[layer].items())
        rank, colour = class_sql(style, column_sql(LAYER_FIELDS[layer].get(style.field, style.field)))
        sql = text(
            f"SELECT ST_AsMVT(t.*, :layer, {MVT_EXTENT}, 'geom', 'feature_id') FROM ("
            f" SELECT m.feature_id, {fields}, {rank} AS rank, {colour} AS colour,"
            f" ST_AsMVTGeom(m.geometry, ST_TileEnvelope(:z, :x, :y), {MVT_EXTENT}, {MVT_BUFFER}, true) AS geom"
            " FROM map_features m"
            " WHERE m.enterprise_id = :e AND m.layer = :layer"
            f" AND m.geometry && ST_TileEnvelope(:z, :x, :y, margin => {MVT_BUFFER / MVT_EXTENT!r})"
            f" ORDER BY {order_sql(rank)}) AS t WHERE t.geom IS NOT NULL"
        )
        with self.store.engine.connect() as conn:
            body = conn.execute(sql, {"layer": layer, "z": view.z, "x": view.x, "y": view.y,
                                      "e": data.enterprise_id}).scalar()
        return bytes(body) if body else b""


_POOL: list = []
_POOL_LOCK = threading.Lock()


def _coverage_pool() -> ProcessPoolExecutor:
    """One worker process for the whole service (started on first use, spawned: no copy of this process's threads
    and connections), shared by every enterprise's recomputations (they queue)."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")))
        return _POOL[0]


def _reset_coverage_pool() -> None:
    with _POOL_LOCK:
        if _POOL:
            _POOL.pop().shutdown(wait=False, cancel_futures=True)


def _shareable_url(store: Any) -> str | None:
    """The store's URL as another process opens it (password included), or None for a database only this process
    sees (SQLite in memory)."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


def label_sources(text: str | None) -> str:
    """`layers=` of a labels tile as the canonical key text: a comma list of LABEL_SOURCES in their order, ""
    for all of them. Anything else is an InputError (422)."""
    if text is None:
        return ""
    names = [p.strip() for p in str(text)[:200].split(",") if p.strip()]
    unknown = [n for n in names if n not in LABEL_SOURCES]
    if unknown or not names:
        allowed = ",".join(LABEL_SOURCES)
        raise InputError(f"layers 应为 {allowed} 中的一项或几项（逗号分隔），而不是 “{str(text)[:40]}” / "
                         f"layers must be one or more of {allowed}, comma-separated")
    chosen = tuple(n for n in LABEL_SOURCES if n in names)
    return "" if chosen == LABEL_SOURCES else ",".join(chosen)


def coverage_window(window: str | None, data: TileData) -> str:
    """The coverage layer's `window` (today by default); InputError (422) for another; NotFoundError for a past
    state (inspections are not kept as of a moment)."""
    if data.as_of is not None:
        raise NotFoundError("排查覆盖图层没有历史状态 / the coverage layer has no past state")
    window = window or "today"
    if window not in COVERAGE_WINDOWS:
        raise InputError(f"window 应为 today、week 或 month，而不是 “{str(window)[:20]}” / window is today, week or "
                         "month")
    return window


def local_day(moment: Any) -> str:
    """The Beijing-time date of a moment (what the staleness layer counts days to for a past state)."""
    from riskmap.clock import local_date

    return local_date(moment).isoformat()


def class_sql(style: Any, column: str) -> tuple[str, str]:
    """SQL CASE expressions giving a map_features row's class rank and fill colour under `style`, as
    LayerStyle.class_indices and encode_mvt do (unknown and missing values take the default class). Keys and
    colours come from the style files, which the loader checks (names and #RRGGBB), never from requests."""
    default = style.rank_of(style.default_class)

    def case(values: list[str], otherwise: str) -> str:
        whens = " ".join(f"WHEN '{c.key}' THEN {v}" for c, v in zip(style.classes, values, strict=True))
        return f"(CASE {column} {whens} ELSE {otherwise} END)"

    colours = [c.fill or (c.line.colour if c.line else None) for c in style.classes]
    quoted = [f"'{c}'" if c else "NULL" for c in colours]
    return case([str(i) for i in range(len(style.classes))], str(default)), case(quoted, quoted[default])


def flagged_mask(flags: np.ndarray, dues: np.ndarray, day: str) -> np.ndarray:
    """Which drawn units need re-assessment on `day` (ISO date): an open flag, or an assessment that ran out
    (`due` before the day; the "overdue" flag that riskmap.store.flags computes rather than stores)."""
    return np.array([bool(f) or (d is not None and d < day) for f, d in zip(flags, dues, strict=True)], bool)




def etag_for(data: TileData, key: TileKey) -> str:
    """A strong ETag from what decides the bytes: enterprise, data version (or a past state's stamp), the tile's
    key (layer, tile, format, options, style and, for the staleness layer, the day)."""
    flag = ("h" if key.hatch else "") + ("" if key.labels else "n") + ("f" if key.flagged else "") + key.day + \
        (f"[{key.sources}]" if key.sources else "")
    stamp = data.stamp if data.owner is not None else data.version    # a past state: its versions say it all
    return f'"{data.enterprise_id}.{stamp}.{key.layer}.{key.z}.{key.x}.{key.y}.{key.fmt}{key.scale}{flag}.{key.style}"'
