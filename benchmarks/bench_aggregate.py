"""Region risk at scale: a synthetic plant of N units in M regions, in-process against PostGIS.

    .venv/bin/python benchmarks/bench_aggregate.py [--units 1000000 --regions 10000] [--seed 7] [--no-postgis]

The in-process figure is one `riskmap.region_risk(regions_gdf, units_gdf)` call (membership and aggregation,
RegionRisk objects included). The reference is the same spatial join and GROUP BY (highest level per region)
in PostGIS on a scratch database, timed on the query alone after loading with COPY and indexing with GiST.
Both must give the same level, and the same number of levelled members, for every region.
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
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskmap.aggregate import region_risk  # noqa: E402
from riskmap.levels import Level  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "riskmap_bench"
LEVEL_NAMES = np.array([None, "low", "general", "significant", "major"], dtype=object)


def synthetic_plant(n_units: int, n_regions: int, seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Regions on a grid with road gaps between them; units are 70 % points (1 % of them exactly on a
    region edge), 25 % small squares (some straddling two regions or a road) and 5 % short lines."""
    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n_regions))
    cell = 0.0005                      # about 50 m
    gap = cell * 0.1                   # roads between regions
    k = np.arange(n_regions)
    x0 = 120.0 + (k % cols) * cell
    y0 = 32.0 + (k // cols) * cell
    side = cell - gap
    # Chamfered rectangles with many vertices, as digitised plant areas tend to be.
    c = side * 0.15
    ring = np.array([[c, 0], [side - c, 0], [side, c], [side, side - c], [side - c, side], [c, side],
                     [0, side - c], [0, c], [c, 0]])
    coords = ring[None, :, :] + np.stack([x0, y0], axis=1)[:, None, :]
    regions = shapely.segmentize(shapely.polygons(coords), side / 6)
    region_gdf = gpd.GeoDataFrame({"id": [f"R{i}" for i in k], "name": [f"区域{i}" for i in k]},
                                  geometry=regions, crs="EPSG:4326")

    rows = math.ceil(n_regions / cols)
    width, height = cols * cell, rows * cell
    n_points = int(n_units * 0.70)
    n_polys = int(n_units * 0.25)
    n_lines = n_units - n_points - n_polys
    px = 120.0 + rng.random(n_points) * width
    py = 32.0 + rng.random(n_points) * height
    on_edge = rng.random(n_points) < 0.01   # snap onto the left edge of the region below
    target = rng.integers(0, n_regions, on_edge.sum())
    px[on_edge] = x0[target]
    py[on_edge] = y0[target] + side / 2
    points = shapely.points(px, py)
    cx = 120.0 + rng.random(n_polys) * width
    cy = 32.0 + rng.random(n_polys) * height
    half = rng.uniform(cell * 0.005, cell * 0.05, n_polys)
    squares = shapely.box(cx - half, cy - half, cx + half, cy + half)
    lx = 120.0 + rng.random(n_lines) * width
    ly = 32.0 + rng.random(n_lines) * height
    dx, dy = rng.uniform(-cell * 0.05, cell * 0.05, (2, n_lines))
    lines = shapely.linestrings(np.stack([np.stack([lx, ly], 1), np.stack([lx + dx, ly + dy], 1)], 1))
    geoms = np.concatenate([points, squares, lines])
    order = rng.permutation(n_units)
    geoms = geoms[order]
    rank = rng.choice(5, size=n_units, p=[0.05, 0.70, 0.20, 0.045, 0.005])
    unit_gdf = gpd.GeoDataFrame({
        "id": [f"U{i}" for i in range(n_units)],
        "name": [f"单元{i}" for i in range(n_units)],
        "parent_id": None,
        "level": LEVEL_NAMES[rank],
        "weight": 1,
    }, geometry=geoms, crs="EPSG:4326")
    return region_gdf, unit_gdf


def in_process(regions: gpd.GeoDataFrame, units: gpd.GeoDataFrame, method: str) -> tuple[float, list]:
    start = time.perf_counter()
    risks = region_risk(regions, units, method=method)
    return time.perf_counter() - start, risks


def _copy_frame(cur, table: str, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, sep="\t", header=False, index=False)
    data = buf.getvalue()
    with cur.copy(f"COPY {table} FROM STDIN") as copy:
        step = 1 << 24
        for i in range(0, len(data), step):
            copy.write(data[i:i + step])


QUERY = """
WITH pairs AS (
    SELECT r.id AS rid, u.rank FROM regions r JOIN units u ON ST_Contains(r.geom, u.geom)
    WHERE u.dim < 2 AND u.rank > 0
    UNION ALL
    SELECT r.id, u.rank FROM regions r JOIN units u ON ST_Intersects(r.geom, u.geom)
    WHERE u.dim = 2 AND u.rank > 0 AND NOT ST_Touches(r.geom, u.geom)
)
SELECT rid, max(rank), count(*) FROM pairs GROUP BY rid
"""


def postgis(regions: gpd.GeoDataFrame, units: gpd.GeoDataFrame, dsn: str, runs: int,
            db_name: str = BENCH_DB) -> tuple[list[float], dict]:
    """Load both tables into a scratch database, time the join + GROUP BY, drop the database."""
    import psycopg
    from psycopg import sql

    admin = psycopg.connect(dsn, autocommit=True)
    scratch = sql.Identifier(db_name)
    try:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(scratch))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(scratch))
        bench_dsn = psycopg.conninfo.make_conninfo(dsn, dbname=db_name)
        with psycopg.connect(bench_dsn, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION postgis")
            cur.execute("CREATE TABLE regions (id integer PRIMARY KEY, geom geometry(Polygon, 4326))")
            cur.execute("CREATE TABLE units (id integer PRIMARY KEY, rank smallint, dim smallint, "
                        "geom geometry(Geometry, 4326))")
            t0 = time.perf_counter()
            rgeoms = shapely.set_srid(np.asarray(regions.geometry.values, dtype=object), 4326)
            _copy_frame(cur, "regions", pd.DataFrame({
                "id": np.arange(len(regions)),
                "geom": shapely.to_wkb(rgeoms, hex=True, include_srid=True)}))
            ugeoms = shapely.set_srid(np.asarray(units.geometry.values, dtype=object), 4326)
            rank = pd.Series(units["level"]).map({"low": 1, "general": 2, "significant": 3, "major": 4})
            _copy_frame(cur, "units", pd.DataFrame({
                "id": np.arange(len(units)),
                "rank": rank.fillna(0).astype(int).to_numpy(),
                "dim": shapely.get_dimensions(ugeoms),
                "geom": shapely.to_wkb(ugeoms, hex=True, include_srid=True)}))
            cur.execute("CREATE INDEX ON regions USING gist (geom)")
            cur.execute("CREATE INDEX ON units USING gist (geom)")
            cur.execute("ANALYZE regions")
            cur.execute("ANALYZE units")
            print(f"  PostGIS load + index: {time.perf_counter() - t0:.1f} s (not timed)")
            times, result = [], {}
            for _ in range(runs):
                start = time.perf_counter()
                cur.execute(QUERY)
                rows = cur.fetchall()
                times.append(time.perf_counter() - start)
                result = {int(rid): (int(rank), int(n)) for rid, rank, n in rows}
        return times, result
    finally:
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(scratch))
        finally:
            admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--regions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each side (best is compared)")
    parser.add_argument("--dsn", default=ADMIN_DSN, help="PostgreSQL maintenance database")
    parser.add_argument("--db-name", default=BENCH_DB, help="scratch database, created and dropped")
    parser.add_argument("--no-postgis", action="store_true")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    regions, units = synthetic_plant(args.units, args.regions, args.seed)
    print(f"synthetic plant: {len(units):,} units, {len(regions):,} regions "
          f"(built in {time.perf_counter() - t0:.1f} s, seed {args.seed})")

    times, risks = [], []
    for _ in range(args.runs):
        elapsed, risks = in_process(regions, units, "highest")
        times.append(elapsed)
    best = min(times)
    print(f"in-process region_risk(highest): {', '.join(f'{t:.2f}' for t in times)} s (best {best:.2f} s)")
    weighted_time, _ = in_process(regions, units, "weighted")
    print(f"in-process region_risk(weighted): {weighted_time:.2f} s")
    levelled = sum(r.level is not None for r in risks)
    members = sum(r.member_count for r in risks)
    print(f"  regions with a level: {levelled:,}; member pairs: {members:,}")

    if args.no_postgis:
        return 0
    try:
        pg_times, pg = postgis(regions, units, args.dsn, args.runs, args.db_name)
    except Exception as exc:  # noqa: BLE001 - any failure to reach PostGIS means "no reference here"
        print(f"PostGIS unavailable, in-process figure only: {type(exc).__name__}: {exc}".splitlines()[0])
        return 0
    pg_best = min(pg_times)
    print(f"PostGIS join + GROUP BY: {', '.join(f'{t:.2f}' for t in pg_times)} s (best {pg_best:.2f} s)")
    print(f"ratio PostGIS / in-process: {pg_best / best:.1f}x "
          f"({'in-process faster' if best < pg_best else 'PostGIS faster'})")

    # The level, and the number of levelled members, of every region: a stricter check of the join itself.
    ours = [(0 if r.level is None else Level(r.level).rank, sum(r.counts.values())) for r in risks]
    theirs = [pg.get(i, (0, 0)) for i in range(len(risks))]
    mismatched = [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
    if mismatched:
        print(f"MISMATCH: {len(mismatched)} regions differ, e.g. "
              + ", ".join(f"{risks[i].region_id}: {ours[i]} vs {theirs[i]}" for i in mismatched[:5]))
        return 1
    spread = {lv.value: sum(r.level is lv for r in risks) for lv in Level}
    print(f"same level and same levelled-member count in both for all {len(risks):,} regions {spread}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
