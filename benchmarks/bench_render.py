"""Tile rendering at scale: a synthetic plant of 100,000 units over about 2 km², random z15–z20 tiles, cold.

    .venv/bin/python benchmarks/bench_render.py [--units 100000] [--tiles 40] [--seed 3] [--scale 1]

Each timed tile does what the tile endpoint does after its cache misses: an STRtree query of the tile's
buffered bbox (riskmap.render.grid.render_buffer_px for PNG, the MVT buffer for MVT), the GeoDataFrame rows
of the hits, and the render to bytes (units layer over the regions layer for PNG; both layers in one MVT).
No tile is rendered twice. The reference, timed the same way in the same run, draws the same features with
matplotlib's Agg backend (fills by level, outlines, points; no labels, no hatches) and saves a PNG; the
ratio is reference time / riskmap time.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskmap.render.grid import TMS, mvt_buffer_px, render_buffer_px, tile_view  # noqa: E402
from riskmap.render.mvt import encode_mvt  # noqa: E402
from riskmap.render.png import render_layers_png  # noqa: E402
from riskmap.render.style import load_layer_style  # noqa: E402

LEVELS = np.array(["low", "general", "significant", "major", None], dtype=object)
LEVEL_P = [0.45, 0.35, 0.12, 0.03, 0.05]
CENTRE = (118.80, 32.05)


def synthetic_plant(n_units: int, seed: int, spatial_order: bool = True) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Units (60 % rectangles of 2–12 m, a tenth of them rotated; 40 % equipment points) spread over a
    1.41 km square in 10 × 10 production regions with roads between; all in EPSG:3857."""
    rng = np.random.default_rng(seed)
    side_m = math.sqrt(2.0e6)
    lat = math.radians(CENTRE[1])
    stretch = 1 / math.cos(lat)                    # Web Mercator metres per ground metre here
    cx, cy = shapely.get_coordinates(
        gpd.GeoSeries([shapely.Point(CENTRE)], crs=4326).to_crs(3857).iloc[0])[0]
    half = side_m * stretch / 2
    n_poly = int(n_units * 0.6)
    x = rng.uniform(cx - half, cx + half, n_units)
    y = rng.uniform(cy - half, cy + half, n_units)
    w = rng.uniform(2, 12, n_poly) * stretch
    h = rng.uniform(2, 12, n_poly) * stretch
    polys = shapely.box(x[:n_poly] - w / 2, y[:n_poly] - h / 2, x[:n_poly] + w / 2, y[:n_poly] + h / 2)
    turn = rng.random(n_poly) < 0.1
    polys[turn] = [shapely.affinity.rotate(p, a) for p, a in zip(polys[turn], rng.uniform(0, 90, turn.sum()),
                                                                  strict=True)]
    points = shapely.points(x[n_poly:], y[n_poly:])
    kinds = rng.choice(["罐区", "泵", "反应釜", "装卸站", "管廊", "配电室", "仓库"], n_units)
    units = gpd.GeoDataFrame({
        "id": np.arange(n_units, dtype=np.int64),
        "name": [f"{i}号{k}" for i, k in enumerate(kinds)],
        "level": rng.choice(LEVELS, n_units, p=LEVEL_P),
        "last_assessed": "2024-05-01",
    }, geometry=np.concatenate([polys, points]), crs=3857)
    if spatial_order:
        # Store features along a Hilbert curve, as a tile data source should: a tile's features then sit
        # close together in memory, and GEOS reads their coordinates several times faster.
        # (Objects are rebuilt in that order, as loading them from the database in that order would.)
        units = units.iloc[np.argsort(units.geometry.hilbert_distance(), kind="stable")].reset_index(drop=True)
        units = units.set_geometry(shapely.from_wkb(shapely.to_wkb(units.geometry.values)), crs=3857)

    cells, road = 10, 12 * stretch
    step = 2 * half / cells
    gx, gy = np.meshgrid(np.arange(cells), np.arange(cells))
    x0 = cx - half + gx.ravel() * step
    y0 = cy - half + gy.ravel() * step
    regions = gpd.GeoDataFrame({
        "id": np.arange(cells * cells, dtype=np.int64),
        "name": [f"{i + 1}号生产区" for i in range(cells * cells)],
        "level": rng.choice(LEVELS[:4], cells * cells, p=[0.3, 0.4, 0.2, 0.1]),
    }, geometry=shapely.box(x0, y0, x0 + step - road, y0 + step - road), crs=3857)
    return units, regions


def sample_tiles(units: gpd.GeoDataFrame, zoom: int, count: int, rng) -> list:
    west, south, east, north = units.to_crs(4326).total_bounds
    tiles = list(TMS.tiles(west, south, east, north, [zoom]))
    if len(tiles) > count:
        tiles = [tiles[i] for i in rng.choice(len(tiles), count, replace=False)]
    return tiles


def query(tree: shapely.STRtree, frame: gpd.GeoDataFrame, bounds) -> gpd.GeoDataFrame:
    hits = tree.query(shapely.box(*bounds))
    return frame.iloc[np.sort(hits)]


def matplotlib_reference(units: gpd.GeoDataFrame, regions: gpd.GeoDataFrame, view, palette: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    minx, miny, maxx, maxy = view.bounds
    fig = Figure(figsize=(2.56, 2.56), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_axis_off()
    for frame, alpha in ((regions, 0.55), (units, 0.9)):
        kinds = shapely.get_type_id(frame.geometry.values)
        colours = [palette.get(lv, "#BDBDBD") for lv in frame["level"]]
        polys = kinds == 3
        if polys.any():
            rings = [np.asarray(g.exterior.coords) for g in frame.geometry.values[polys]]
            ax.add_collection(PolyCollection(rings, facecolors=[c for c, p in zip(colours, polys, strict=True) if p],
                                             edgecolors="#404040", linewidths=0.75, alpha=alpha))
        pts = kinds == 0
        if pts.any():
            xy = shapely.get_coordinates(frame.geometry.values[pts])
            ax.scatter(xy[:, 0], xy[:, 1], s=30, c=[c for c, p in zip(colours, pts, strict=True) if p],
                       edgecolors="#303030", linewidths=1)
    out = io.BytesIO()
    fig.savefig(out, format="png", transparent=True)
    return out.getvalue()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--tiles", type=int, default=40, help="tiles per zoom (fewer where the plant has fewer)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1, choices=(1, 2))
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--random-order", action="store_true",
                    help="keep units in random order instead of along a Hilbert curve (slower GEOS reads)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: this process's CPU time, for a machine shared with other work")
    args = ap.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    t0 = time.perf_counter()
    units, regions = synthetic_plant(args.units, args.seed, spatial_order=not args.random_order)
    unit_tree, region_tree = shapely.STRtree(units.geometry.values), shapely.STRtree(regions.geometry.values)
    print(f"plant: {len(units):,} units, {len(regions)} regions, built in {time.perf_counter() - t0:.1f} s")
    s_units, s_regions = load_layer_style("units"), load_layer_style("regions")
    drawn = {"units": s_units, "regions": s_regions}          # as the tile service does: by rank, with rank/colour
    from riskmap.levels import load_palette

    palette = {lv.value: st.fill for lv, st in load_palette().styles.items()}
    rng = np.random.default_rng(args.seed)
    reference = not args.no_reference
    if reference:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("matplotlib is not installed: no reference column")
            reference = False

    # warm the process (fonts, patterns), as a running server is
    warm = tile_view(20, *TMS.tile(*CENTRE, 20)[:2])
    render_layers_png([(units.iloc[:50], s_units)], warm)
    encode_mvt({"units": units.iloc[:50]}, warm)

    results: dict[str, dict[int, list[float]]] = {"png": {}, "mvt": {}, "ref": {}}
    sizes: dict[str, dict[int, list[int]]] = {"png": {}, "mvt": {}}
    counts: dict[int, list[int]] = {}
    for z in range(15, 21):
        for tile in sample_tiles(units, z, args.tiles, rng):
            view = tile_view(z, tile.x, tile.y)
            t = clock()
            bounds = view.buffered_bounds(render_buffer_px(z, (s_regions, s_units)))
            u, r = query(unit_tree, units, bounds), query(region_tree, regions, bounds)
            png = render_layers_png([(r, s_regions), (u, s_units)], view, scale=args.scale)
            results["png"].setdefault(z, []).append(clock() - t)
            sizes["png"].setdefault(z, []).append(len(png))
            counts.setdefault(z, []).append(len(u))

            t = clock()
            bounds = view.buffered_bounds(mvt_buffer_px())
            u, r = query(unit_tree, units, bounds), query(region_tree, regions, bounds)
            tile_bytes = encode_mvt({"regions": r, "units": u}, view, styles=drawn) \
                if s_units.visible_as("mvt", z) else encode_mvt({"regions": r}, view)
            results["mvt"].setdefault(z, []).append(clock() - t)
            sizes["mvt"].setdefault(z, []).append(len(tile_bytes))

            if reference:
                t = clock()
                u, r = query(unit_tree, units, view.bounds), query(region_tree, regions, view.bounds)
                matplotlib_reference(u, r, view, palette)
                results["ref"].setdefault(z, []).append(clock() - t)

    print(f"\nms per tile ({args.clock} clock; query + render), scale @{args.scale}x; "
          "reference = matplotlib Agg of the same features")
    head = f"{'zoom':>5} {'tiles':>5} {'units/tile':>10} | {'PNG p50':>8} {'p95':>7} {'KB':>6} | " \
           f"{'MVT p50':>8} {'p95':>7} {'KB':>6} | {'ref p50':>8} {'p95':>7} | {'ref/PNG p50':>11}"
    print(head)
    print("-" * len(head))
    for z in sorted(results["png"]):
        png, mvt, ref = results["png"][z], results["mvt"][z], results["ref"].get(z, [])
        ratio = pct(ref, 50) / pct(png, 50) if ref else float("nan")
        print(f"{z:>5} {len(png):>5} {int(np.median(counts[z])):>10} | {pct(png, 50):>8.1f} {pct(png, 95):>7.1f} "
              f"{np.median(sizes['png'][z]) / 1024:>6.1f} | {pct(mvt, 50):>8.1f} {pct(mvt, 95):>7.1f} "
              f"{np.median(sizes['mvt'][z]) / 1024:>6.1f} | {pct(ref, 50):>8.1f} {pct(ref, 95):>7.1f} | "
              f"{ratio:>11.1f}")
    every = {k: [t for z in v for t in v[z]] for k, v in results.items()}
    ratio = pct(every["ref"], 50) / pct(every["png"], 50) if every["ref"] else float("nan")
    print(f"{'all':>5} {len(every['png']):>5} {'':>10} | {pct(every['png'], 50):>8.1f} {pct(every['png'], 95):>7.1f} "
          f"{'':>6} | {pct(every['mvt'], 50):>8.1f} {pct(every['mvt'], 95):>7.1f} {'':>6} | "
          f"{pct(every['ref'], 50):>8.1f} {pct(every['ref'], 95):>7.1f} | {ratio:>11.1f}")
    print("\ngoal: cold p95 ≤ 50 ms for z15–z20")


if __name__ == "__main__":
    main()
