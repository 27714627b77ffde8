"""Never stale: the server cache drops exactly the tiles a change touches, and no request after a change (in this
process or another) gets the old colour."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from kit import PALETTE, copy_db, map_rows, nearest_level, pixel_of, rgba
from plants import force

from riskmap.levels import Level
from riskmap.render.grid import mvt_buffer_px, render_buffer_px, tile_view
from riskmap.render.tilecache import TileCache, TileKey, TileService, tile_ranges
from riskmap.store import open_store

TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture
def url(demo_db, tmp_path):
    return copy_db(demo_db, tmp_path)


# ---------------------------------------------------------------------------------------------- the cache


def test_lru_is_bounded_by_bytes_and_keeps_recent_tiles():
    cache = TileCache(max_bytes=5 * 1200)
    cache.set_generation(1, 7)
    keys = [TileKey(1, "units", "png", 18, x, 0) for x in range(10)]
    for i, k in enumerate(keys[:4]):
        assert cache.put(k, bytes([i]) * 1000, 7)
    assert cache.get(keys[0], 7) is not None            # now the most recent
    for k in keys[4:6]:
        cache.put(k, b"x" * 1000, 7)
    assert cache.bytes <= cache.max_bytes
    assert cache.get(keys[0], 7) == bytes([0]) * 1000   # kept: it was used
    assert cache.get(keys[1], 7) is None                # evicted first: least recently used
    assert len(cache) == 5 - 1 + 0 or len(cache) <= 5
    assert not cache.put(TileKey(1, "units", "png", 18, 99, 0), b"y" * 10_000, 7)   # larger than the cache


def test_a_generation_change_hides_old_entries_and_refuses_late_puts():
    cache = TileCache()
    key = TileKey(1, "regions", "mvt", 16, 1, 2)
    cache.set_generation(1, 3)
    cache.put(key, b"v3", 3)
    cache.set_generation(1, 4)
    assert cache.get(key, 3) is None                     # a request still holding version 3 misses
    assert not cache.put(TileKey(1, "regions", "mvt", 16, 5, 5), b"late", 3)   # a render begun at v3
    assert cache.get(key, 4) == b"v3"                    # kept entries are valid for the new generation


@pytest.mark.parametrize("z", [0, 3, 12, 17, 22])
def test_tile_ranges_match_brute_force(z):
    rng = np.random.default_rng(z)
    centre = np.array(TMS.xy(119.745, 32.32))
    cell = TMS.matrix(z).cellSize
    n = 2 ** z
    for _ in range(20):
        size = rng.uniform(0.1, 600) * cell
        lo = centre + rng.uniform(-300, 300, 2) * cell
        box = np.array([lo[0], lo[1], lo[0] + size * rng.uniform(0.1, 1), lo[1] + size * rng.uniform(0.1, 1)])
        pad_px = float(rng.choice([0.0, 16.0, 40.5]))
        (x0, y0, x1, y1), = tile_ranges(box[None, :], z, pad_px)
        # brute force over a window around the answer, with morecantile's own tile bounds
        hits = set()
        for x in range(max(x0 - 3, 0), min(x1 + 4, n)):
            for y in range(max(y0 - 3, 0), min(y1 + 4, n)):
                b = TMS.xy_bounds(morecantile.Tile(x, y, z))
                pad = pad_px * cell
                if b.left - pad <= box[2] and b.right + pad >= box[0] and b.bottom - pad <= box[3] \
                        and b.top + pad >= box[1]:
                    hits.add((x, y))
        ranged = {(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}
        assert hits == ranged or (hits < ranged and len(ranged - hits) <= (x1 - x0 + 1) + (y1 - y0 + 1))


# ---------------------------------------------------------------------------------------------- invalidation


class Counting:
    """Wraps the service's tile maker (empty tiles included) and records which tiles were made."""

    def __init__(self, service: TileService):
        self.made: list[tuple] = []
        make = service.make

        def counted(data, layer, fmt, view, style, *options):
            self.made.append((layer, fmt, view.z, view.x, view.y))
            return make(data, layer, fmt, view, style, *options)

        service.make = counted
        service.use_sql_mvt = False


def plant_tiles(service: TileService, zooms=(15, 16, 17, 18)) -> list[tuple[int, int, int]]:
    box = service.current(None).bounds_3857()
    west, south = TMS.lnglat(box[0], box[1])
    east, north = TMS.lnglat(box[2], box[3])
    return [(t.z, t.x, t.y) for t in TMS.tiles(west, south, east, north, list(zooms))]


def fetch(service: TileService, layer: str, fmt: str, z: int, x: int, y: int) -> bytes:
    data = service.current(None)                          # the per-request version check
    return service.tile(data, layer, fmt, tile_view(z, x, y))


def changed_boxes(before: list[dict], after: list[dict]) -> np.ndarray:
    """Old and new bounds of the features whose attributes or geometry differ (computed here, independently)."""
    old = {r["key"]: r for r in before}
    new = {r["key"]: r for r in after}
    boxes = []
    for key in set(old) | set(new):
        a, b = old.get(key), new.get(key)
        fields = ("name", "kind", "level", "level_zh", "decided_by", "last_assessed", "wkb")
        if a is not None and b is not None and all(a[f] == b[f] for f in fields):
            continue
        for r in (a, b):
            if r is not None:
                boxes.append(shapely.bounds(r["geometry"]))
    return np.array(boxes).reshape(-1, 4)


def touched(boxes: np.ndarray, tiles, pad) -> set:
    out = set()
    for z, x, y in tiles:
        b = TMS.xy_bounds(morecantile.Tile(x, y, z))
        p = pad(z) * TMS.matrix(z).cellSize
        for minx, miny, maxx, maxy in boxes:
            if b.left - p <= maxx and b.right + p >= minx and b.bottom - p <= maxy and b.top + p >= miny:
                out.add((z, x, y))
    return out


def test_a_change_re_renders_exactly_the_tiles_it_touches(url):
    store = open_store(url)
    name = store.enterprises()[0].name
    service = TileService(store)
    counter = Counting(service)
    tiles = plant_tiles(service)
    combos = [(layer, fmt) for layer in ("regions", "units") for fmt in ("png", "mvt")]
    old_bodies = {}
    for layer, fmt in combos:
        for t in tiles:
            old_bodies[(layer, fmt, *t)] = fetch(service, layer, fmt, *t)
    assert len(counter.made) == len(tiles) * len(combos)
    for layer, fmt in combos:                             # all served from the cache now
        for t in tiles:
            fetch(service, layer, fmt, *t)
    assert len(counter.made) == len(tiles) * len(combos)

    # a low region whose own unit is raised to major: the unit and the region both change colour
    regions = map_rows(url, "regions")
    region = next(r for r in regions if r["level"] == "low" and r["decided_by"])
    units = map_rows(url, "units")
    unit = next(u for u in store.units(name) if u.name == region["decided_by"])
    before = {"regions": regions, "units": units}
    store.edit_unit(name, unit.id, force(Level.MAJOR, "直接判定"))
    after = {"regions": map_rows(url, "regions"), "units": map_rows(url, "units")}

    counter.made.clear()
    bodies = {}
    for layer, fmt in combos:
        for t in tiles:
            bodies[(layer, fmt, *t)] = fetch(service, layer, fmt, *t)
    made = {}
    for layer, fmt, z, x, y in counter.made:
        made.setdefault((layer, fmt), set()).add((z, x, y))
    # every tile whose picture really changed was made again (a fresh service renders all from scratch) ...
    fresh = TileService(store)
    fresh.use_sql_mvt = False
    for layer, fmt in combos:
        differs = {t for t in tiles if fetch(fresh, layer, fmt, *t) != old_bodies[(layer, fmt, *t)]}
        assert differs, (layer, fmt)
        assert differs <= made.get((layer, fmt), set()), (layer, fmt, differs - made.get((layer, fmt), set()))
    # ... and exactly the tiles whose data query (the renderer's buffer around the tile) meets the change
    for layer, fmt in combos:
        boxes = changed_boxes(before[layer], after[layer])
        assert len(boxes) == 2                            # one feature per layer, its old and new bounds
        style = service.style(layer)
        buffer = (lambda z: mvt_buffer_px()) if fmt == "mvt" else (lambda z, st=style: render_buffer_px(z, [st]))
        expected = touched(boxes, tiles, buffer)
        assert made.get((layer, fmt), set()) == expected, (layer, fmt)
        assert 0 < len(expected) < len(tiles)
    assert len(counter.made) == len(set(counter.made))   # nothing made twice

    # and what the re-rendered tiles show is the new colour, never the old one
    red = Level.MAJOR
    for layer, key in (("regions", region["key"]), ("units", unit.id)):
        feature = next(r for r in after[layer] if r["key"] == key)
        assert feature["level"] == "major"
        for (lay, fmt, *_), body in bodies.items():
            if lay != layer or fmt != "mvt" or not body:
                continue
            for f in mapbox_vector_tile.decode(body).get(layer, {}).get("features", []):
                if f["properties"].get("region_id" if layer == "regions" else "unit_id") == key:
                    assert f["properties"]["level"] == "major"
        point = shapely.point_on_surface(feature["geometry"])
        z = 15 if layer == "regions" else 18
        tile, col, row = pixel_of(point.x, point.y, z)
        px = rgba(bodies[(layer, "png", z, tile.x, tile.y)])[row, col]
        assert nearest_level(px, layer) == red, (layer, px, PALETTE.colour(red))
    store.close()


def test_a_change_written_back_before_anyone_looked_drops_nothing(url):
    store = open_store(url)
    name = store.enterprises()[0].name
    service = TileService(store)
    counter = Counting(service)
    tiles = plant_tiles(service, zooms=(16, 17))
    for t in tiles:
        fetch(service, "units", "mvt", *t)
    made = len(counter.made)
    unit = next(u for u in store.units(name) if u.override is None and u.major_hazard is None and u.level())
    level = unit.level()
    store.edit_unit(name, unit.id, force(Level.LOW if level != Level.LOW else Level.MAJOR))
    store.edit_unit(name, unit.id, lambda u: setattr(u, "override", None))
    for t in tiles:
        fetch(service, "units", "mvt", *t)
    assert len(counter.made) == made                      # rewritten rows equal to what was served
    assert service.current(None).version == store.data_version(name)
    store.close()


def test_another_process_writing_is_seen_on_the_next_request(url):
    store = open_store(url)
    name = store.enterprises()[0].name
    service = TileService(store)
    row = next(r for r in map_rows(url, "units") if r["key"] == "CY-01-02")
    c = row["geometry"].centroid
    tile, _, _ = pixel_of(c.x, c.y, 17)

    def level_in_tile() -> str:
        body = fetch(service, "units", "mvt", 17, tile.x, tile.y)
        feats = mapbox_vector_tile.decode(body)["units"]["features"]
        return next(f["properties"]["level"] for f in feats if f["properties"]["unit_id"] == "CY-01-02")

    assert level_in_tile() == "significant"
    script = textwrap.dedent(f"""
        from riskmap.store import open_store
        from riskmap.unit_edits import edit_unit
        with open_store({url!r}) as store:
            name = store.enterprises()[0].name
            print(edit_unit(store, name, "CY-01-02", {{"level": "low", "reason": "另一个进程"}})["data_version"])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == store.data_version(name)
    assert level_in_tile() == "low"                      # no notification, no TTL: the next request sees it
    store.close()


def test_no_request_after_a_commit_sees_the_old_colour(url):
    """Readers fetch a tile in a loop while another store (another engine, as another process would) flips a
    unit's level; every answer must be at least as new as the last commit before the request began, and its
    content must be that version's."""
    reader_store, writer_store = open_store(url), open_store(url)
    name = reader_store.enterprises()[0].name
    service = TileService(reader_store)
    row = next(r for r in map_rows(url, "units") if r["key"] == "CY-01-02")
    c = row["geometry"].centroid
    tile, _, _ = pixel_of(c.x, c.y, 18)
    commits: list[tuple[float, int, str]] = [(0.0, reader_store.data_version(name), "significant")]
    reads: list[tuple[float, int, str]] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader():
        try:
            while not stop.is_set():
                started = time.monotonic()
                data = service.current(None)
                body = service.tile(data, "units", "mvt", tile_view(18, tile.x, tile.y))
                feats = mapbox_vector_tile.decode(body)["units"]["features"]
                level = next(f["properties"]["level"] for f in feats if f["properties"]["unit_id"] == "CY-01-02")
                reads.append((started, data.version, level))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            level = Level.LOW if i % 2 == 0 else Level.MAJOR
            _, _, version = writer_store.edit_unit(name, "CY-01-02", force(level))
            commits.append((time.monotonic(), version, level.value))
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    level_of = {v: lv for _, v, lv in commits}
    assert len(reads) > 20
    for started, version, level in reads:
        last_before = max(v for t, v, _ in commits if t < started)
        assert version >= last_before, (started, version, last_before)
        assert level == level_of[version]
    reader_store.close()
    writer_store.close()


def test_a_database_from_before_the_map_table_is_built_on_first_use(url):
    from sqlalchemy import text

    store = open_store(url)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM map_features"))
    name = store.enterprises()[0].name
    version = store.data_version(name)
    service = TileService(store)
    data = service.current(None)
    assert len(data.layer("regions")) == 29 and data.version == version + 1
    store.close()


def test_the_labels_layer_drops_the_tiles_of_a_change_in_any_layer_it_names(url):
    """Labels tiles draw the names of regions, units and layout: a change in one of them drops the labels tiles
    whose data query meets the change, the others stay cached."""
    store = open_store(url)
    name = store.enterprises()[0].name
    service = TileService(store)
    counter = Counting(service)
    tiles = plant_tiles(service, zooms=(16, 17, 18))
    for t in tiles:
        fetch(service, "labels", "png", *t)
    assert len(counter.made) == len(tiles)
    regions, units = map_rows(url, "regions"), map_rows(url, "units")
    region = next(r for r in regions if r["level"] == "low" and r["decided_by"])
    unit = next(u for u in store.units(name) if u.name == region["decided_by"])
    store.edit_unit(name, unit.id, force(Level.MAJOR, "直接判定"))
    boxes = np.concatenate([changed_boxes(regions, map_rows(url, "regions")),
                            changed_boxes(units, map_rows(url, "units"))])
    counter.made.clear()
    for t in tiles:
        fetch(service, "labels", "png", *t)
    style = service.style("labels")
    expected = touched(boxes, tiles, lambda z: render_buffer_px(z, [style]))
    assert {(z, x, y) for _, _, z, x, y in counter.made} == expected
    assert 0 < len(expected) < len(tiles)
    store.close()
