"""The regulator's overview at scale, against PostGIS: N enterprises of M units each, generated in the database.

    .venv/bin/python benchmarks/bench_overview.py [--enterprises 1000] [--units 1000] [--repeat 20] [--quick]

A scratch database on 127.0.0.1:5432 is migrated and filled with SQL (generate_series): N enterprises with their
profiles spread over the counties of Jiangsu (GB/T 2260 codes from the shipped table), M drawn units and M/10 regions
per enterprise in the map snapshot (map_features, the rows the map and the overview read, with levels), 20 hidden
hazards per enterprise (a quarter open, some overdue). Then, each p50 / p95 over --repeat runs:

- the counts of one city's enterprises (riskmap.store.orgs.overview_counts: highest region level, risks by level,
  open and overdue hazards by level, checks, supervision records), and the reference: the same counts as plain SQL
  in one statement per measure (no ORM), in the same run; "ratio" = riskmap / reference;
- the overview's data for the province's regulator through the HTTP app (GET /api/overview, the page's points and
  table, inspection completion included; the first call cold, the others with the rows kept per scope state), its
  PNG tiles (z7–z11) and the statistics of one city.

- "one enterprise's map unchanged in speed by the other 999": one real enterprise (benchmarks/bench_tiles.
  synthetic_plant: M units and 200 regions saved through the store, its map snapshot made by riskmap) is made in
  two databases, alone in one and with the other N-1 generated in the other; its map is loaded cold (a fresh app:
  TileJSON, then every units and regions vector tile and every units PNG tile over its site at z16 and z17, as the
  map page asks for them) --repeat times from each, in turns (the machine's load weighs on both alike); both and
  the ratio are printed.
  With --same-ground the others' features lie on that enterprise's very site (the worst case for the spatial index:
  every tile holds every enterprise's rows) instead of a square of their own 10 km away.

--quick: 20 enterprises × 50 units, 3 repeats (CI's first-run check). The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def timed(label: str, repeat: int, fn) -> tuple[float, float]:
    """Run `fn` `repeat` times; print and return p50 and p95 in milliseconds."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    runs.sort()
    p95 = runs[min(len(runs) - 1, int(round(0.95 * (len(runs) - 1))))]
    p50 = statistics.median(runs)
    print(f"{label:<58} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   (n={repeat})")
    return p50, p95


ORIGIN = (13300000, 3700000)     # EPSG:3857 metres (about 119.5 E, 31.5 N): where the generated features lie


def generate(dsn: str, n: int, m: int, origin: tuple[float, float] = ORIGIN) -> None:
    """Fill the migrated database with N enterprises × M units (see the module docstring), numbered after those
    already there; their features are points and 1 m squares east of `origin`, one row of M per enterprise."""
    import psycopg
    from psycopg.types.numeric import Float8, Int4

    from riskmap.orgs import divisions

    counties = sorted(d.code for d in divisions.table().values() if d.level == "county" and d.code.startswith("32"))
    regions = max(1, m // 10)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE counties (i int, code text)")
        with conn.cursor().copy("COPY counties (i, code) FROM STDIN") as copy:
            for i, code in enumerate(counties):
                copy.write_row((i, code))
        first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM enterprises").fetchone()[0]
        last = first + n - 1
        # typed: psycopg sends a small Python int as smallint, and generate_series(smallint, smallint) is ambiguous
        span = {"first": Int4(first), "last": Int4(last), "n": Int4(n), "m": Int4(m), "x0": Float8(origin[0]),
                "y0": Float8(origin[1])}
        conn.execute("""
            INSERT INTO enterprises (id, name, created_at)
            SELECT g, '企业' || lpad(g::text, 5, '0'), now() FROM generate_series(%(first)s, %(last)s) g""", span)
        conn.execute("SELECT setval(pg_get_serial_sequence('enterprises', 'id'), %(last)s)", span)
        conn.execute("INSERT INTO data_versions SELECT id, 1, now() FROM enterprises WHERE id >= %(first)s", span)
        conn.execute("""
            INSERT INTO enterprise_profiles (enterprise_id, division_code, industry, lon, lat, updated_at)
            SELECT e.id, c.code, CASE WHEN e.id %% 3 = 0 THEN '医药' ELSE '化工' END,
                   118.5 + (e.id %% 50) * 0.05, 31.5 + (e.id / 50 %% 50) * 0.05, now()
            FROM enterprises e JOIN counties c ON c.i = e.id %% (SELECT count(*) FROM counties)
            WHERE e.id >= %(first)s""", span)
        levels = "(ARRAY['major','significant','general','low','general','low','low','low'])"
        t0 = time.perf_counter()
        conn.execute(f"""
            INSERT INTO map_features (enterprise_id, layer, key, feature_id, data_version, name, kind, level,
                                      geometry, minx, miny, maxx, maxy)
            SELECT e, 'units', 'U' || u, u, 1, '单元' || u, 'main',
                   {levels}[1 + (e * 7 + u) %% 8],
                   ST_SetSRID(ST_MakePoint(%(x0)s + u, %(y0)s + e - %(first)s), 3857),
                   %(x0)s + u, %(y0)s + e - %(first)s, %(x0)s + u, %(y0)s + e - %(first)s
            FROM generate_series(%(first)s, %(last)s) e, generate_series(1, %(m)s) u""", span)
        conn.execute(f"""
            INSERT INTO map_features (enterprise_id, layer, key, feature_id, data_version, name, kind, level,
                                      geometry, minx, miny, maxx, maxy)
            SELECT e, 'regions', 'R' || r, %(m)s + r, 1, '区域' || r, 'region',
                   {levels}[1 + (e + r * 3) %% 8],
                   ST_SetSRID(ST_MakeEnvelope(%(x0)s + r, %(y0)s + e - %(first)s, %(x0)s + 1 + r,
                                              %(y0)s + 1 + e - %(first)s), 3857),
                   %(x0)s + r, %(y0)s + e - %(first)s, %(x0)s + 1 + r, %(y0)s + 1 + e - %(first)s
            FROM generate_series(%(first)s, %(last)s) e, generate_series(1, %(r)s) r""", {**span, "r": Int4(regions)})
        conn.execute("""
            INSERT INTO hazards (enterprise_id, uid, state, level, source, hazard_type, manage_type, category,
                                 name, deadline, registered_at, version, updated_at)
            SELECT e, md5(e::text || '-' || h), CASE WHEN h %% 4 = 0 THEN 'rectifying' ELSE 'closed' END,
                   CASE WHEN h %% 10 = 0 THEN 1 ELSE 0 END, 1, 1, 1, 1, '隐患' || h,
                   current_date + (h %% 7 - 3), now(), 1, now()
            FROM generate_series(%(first)s, %(last)s) e, generate_series(1, 20) h""", span)
        # Settle the database before anything is timed: without this the autovacuum of a million new rows and the
        # checkpoint after them run during the first measurements (one enterprise's map then took twice as long
        # for a minute, with the same statements and plans: the cores were busy, not the queries slower).
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
        print(f"generated {n} enterprises × {m} units ({n * m:,} units, {n * regions:,} regions, {n * 20:,} hazards) "
              f"in {time.perf_counter() - t0:.1f} s (VACUUM ANALYZE and CHECKPOINT included)")


PLANT = "合成工厂"                  # the one enterprise whose map is timed (bench_tiles.synthetic_plant's name)


def map_tiles(url: str) -> tuple[list[str], tuple[float, float, float, float]]:
    """The requests of the plant's map as the page makes them: TileJSON, then every units and regions vector tile
    and every units PNG tile over its site at z16 and z17; and the site's bounds (lon/lat)."""
    import morecantile
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.settings import Settings

    with TestClient(create_app(Settings(db=url))) as client:
        doc = client.get("/tiles/units/tilejson.json", params={"enterprise": PLANT})
        assert doc.status_code == 200, doc.text[:300]
        w, s, e, n = doc.json()["bounds"]
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = list(tms.tiles(w, s, e, n, [16, 17]))
    paths = ["/tiles/units/tilejson.json", "/tiles/regions/tilejson.json"]
    for t in tiles:
        paths += [f"/tiles/units/{t.z}/{t.x}/{t.y}.mvt", f"/tiles/regions/{t.z}/{t.x}/{t.y}.mvt",
                  f"/tiles/units/{t.z}/{t.x}/{t.y}.png"]
    return paths, (w, s, e, n)


def map_loads(urls: dict[str, str], paths: list[str], repeat: int) -> dict[str, tuple[float, float]]:
    """The plant's map loaded cold from each database of `urls` (label → URL), `repeat` times each, interleaved
    (one load from each in turn, in alternating order, so that the shared machine's load weighs on both alike); a
    fresh app for every load (no tile, plant or snapshot kept). p50 and p95 of the whole load in ms, per label
    (printed)."""
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.settings import Settings

    def load(url: str) -> float:
        t0 = time.perf_counter()
        with TestClient(create_app(Settings(db=url))) as client:
            for path in paths:
                r = client.get(path, params={"enterprise": PLANT})
                assert r.status_code in (200, 204), (path, r.status_code, r.text[:200])
        return (time.perf_counter() - t0) * 1000

    for url in urls.values():
        load(url)                        # the interpreter's own warm-up (imports, styles), not the data's
    runs: dict[str, list[float]] = {label: [] for label in urls}
    order = list(urls.items())
    for i in range(repeat):
        for label, url in order if i % 2 == 0 else order[::-1]:      # ABBA: neither is always the one after
            runs[label].append(load(url))
    out = {}
    for label, values in runs.items():
        values.sort()
        p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
        out[label] = (statistics.median(values), p95)
        print(f"{label + f' ({len(paths)} requests)':<58} p50 {out[label][0]:8.1f} ms   p95 {p95:8.1f} ms   "
              f"(n={repeat})")
    return out


REFERENCE = {
    "highest": """SELECT m.enterprise_id, max(CASE m.level WHEN 'major' THEN 4 WHEN 'significant' THEN 3
                         WHEN 'general' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)
                  FROM map_features m JOIN enterprise_profiles p ON p.enterprise_id = m.enterprise_id
                  WHERE p.division_code LIKE %(prefix)s AND m.layer = 'regions' AND m.geometry IS NOT NULL
                  GROUP BY m.enterprise_id""",
    "risks": """SELECT m.enterprise_id, m.level, count(*) FROM map_features m
                JOIN enterprise_profiles p ON p.enterprise_id = m.enterprise_id
                WHERE p.division_code LIKE %(prefix)s AND m.layer = 'units' AND m.geometry IS NOT NULL
                GROUP BY m.enterprise_id, m.level""",
    "open": """SELECT h.enterprise_id, h.level, count(*) FROM hazards h
               JOIN enterprise_profiles p ON p.enterprise_id = h.enterprise_id
               WHERE p.division_code LIKE %(prefix)s AND h.state IN ('reported','confirmed','assigned','rectifying',
                     'awaiting_acceptance') GROUP BY h.enterprise_id, h.level""",
    "overdue": """SELECT h.enterprise_id, h.level, count(*) FROM hazards h
                  JOIN enterprise_profiles p ON p.enterprise_id = h.enterprise_id
                  WHERE p.division_code LIKE %(prefix)s AND h.state IN ('reported','confirmed','assigned',
                        'rectifying','awaiting_acceptance') AND h.deadline < current_date
                  GROUP BY h.enterprise_id, h.level""",
    "checks": """SELECT r.enterprise_id, r.late, count(*) FROM inspection_records r
                 JOIN enterprise_profiles p ON p.enterprise_id = r.enterprise_id
                 WHERE p.division_code LIKE %(prefix)s AND r.checked_at >= now() - interval '30 days'
                 GROUP BY r.enterprise_id, r.late""",
    "supervisions": """SELECT s.enterprise_id, s.status, count(*) FROM supervisions s
                       JOIN enterprise_profiles p ON p.enterprise_id = s.enterprise_id
                       WHERE p.division_code LIKE %(prefix)s AND s.status = 'listed'
                       GROUP BY s.enterprise_id, s.status""",
}


def main() -> None:
    """The benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=1000)
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dsn", default=ADMIN_DSN)
    ap.add_argument("--same-ground", action="store_true",
                    help="the other enterprises' features on the timed enterprise's own site (worst case)")
    args = ap.parse_args()
    if args.quick:
        args.enterprises, args.units, args.repeat = 20, 50, 3
    import psycopg
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.settings import Settings
    from riskmap.store import open_store, orgs, tokens

    name = f"riskmap_bench_overview_{os.getpid()}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'CREATE DATABASE "{name}_alone"')
    base = args.dsn.rsplit("/", 1)[0]
    dsn = f"{base}/{name}"
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    alone_url = url + "_alone"
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_tiles import synthetic_plant

        for where in (url, alone_url):            # the same enterprise (the same seed) in both databases
            open_store(where).close()              # migrations
            made = synthetic_plant(where, args.units)
            with open_store(where) as store:
                orgs.set_profile(store, PLANT, division_code="320214", lon=120.31, lat=31.505, industry="化工")
        paths, (w, s, e, n) = map_tiles(url)
        if args.same_ground:
            from pyproj import Transformer

            origin = Transformer.from_crs(4326, 3857, always_xy=True).transform(w, s)
        else:
            origin = ORIGIN
        generate(dsn, args.enterprises - 1, args.units, origin)
        with psycopg.connect(alone_url.replace("postgresql+psycopg://", "postgresql://", 1),
                             autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        print(f"one enterprise ({PLANT}: {made['units']} units, {made['regions']} regions): its map alone in a "
              f"database and with the other {args.enterprises - 1}"
              f"{' on the same ground' if args.same_ground else ''} in another, loaded in turns")
        others_label = f"its map, cold, with {args.enterprises - 1} others"
        got = map_loads({"its map, cold, alone": alone_url, others_label: url}, paths, args.repeat)
        alone, others = got["its map, cold, alone"][0], got[others_label][0]
        print(f"one enterprise's map: alone {alone:.0f} ms, with the other {args.enterprises - 1} {others:.0f} ms "
              f"(p50): ratio {others / alone:.2f}")
        store = open_store(url)
        orgs.add_regulator(store, "江苏省应急管理厅", level="province", division_code="320000")
        orgs.add_regulator(store, "南京市应急管理局", level="city", division_code="320100")
        account = orgs.add_regulator_account(store, "江苏省应急管理厅", name="省厅", login="province", password=None,
                                             roles=["regulator_viewer"])
        token = tokens.create_token(store, "reader", "bench", account_id=account["id"])[0]
        city = orgs.scope_ids(store, "南京市应急管理局")
        print(f"Nanjing (320100): {len(city)} of {args.enterprises} enterprises; province: "
              f"{len(orgs.scope_ids(store, '江苏省应急管理厅'))}")
        ours, _ = timed("riskmap overview_counts, one city", args.repeat, lambda: orgs.overview_counts(store, city))

        def plain() -> dict:
            with psycopg.connect(dsn) as conn:
                return {k: conn.execute(sql, {"prefix": "3201%"}).fetchall() for k, sql in REFERENCE.items()}

        reference, _ = timed("reference: the same counts as plain SQL (psycopg)", args.repeat, plain)
        got, want = orgs.overview_counts(store, city), plain()
        assert {e: v["highest_level"] for e, v in got.items() if v["highest_level"]} == {
            e: orgs.RANK_LEVEL[r] for e, r in want["highest"] if r}, "the counts differ from the reference"
        assert sum(v["major_risks"] for v in got.values()) == sum(c for _, lv, c in want["risks"] if lv == "major")
        print(f"counts for a division: ratio riskmap / plain SQL = {ours / reference:.2f}")
        app = create_app(Settings(db=url))
        with TestClient(app) as client:
            head = {"Authorization": "Bearer " + token}
            t0 = time.perf_counter()
            first = client.get("/api/overview", headers=head)
            assert first.status_code == 200, first.text[:300]
            print(f"GET /api/overview, province, cold ({len(first.json()['enterprises'])} enterprises): "
                  f"{(time.perf_counter() - t0) * 1000:.0f} ms")
            page, _ = timed("GET /api/overview, province (rows kept)", args.repeat,
                            lambda: client.get("/api/overview", headers=head))
            import morecantile

            tms = morecantile.tms.get("WebMercatorQuad")
            tiles = [tms.tile(118.5 + i * 0.37, 31.5 + i * 0.29, z) for z in (7, 9, 11) for i in range(7)]
            got = iter(range(10 ** 9))

            def tile() -> None:
                t = tiles[next(got) % len(tiles)]
                r = client.get(f"/api/overview/tiles/{t.z}/{t.x}/{t.y}.png", headers=head)
                assert r.status_code == 200

            t0 = time.perf_counter()
            tile()
            print(f"first overview tile, province (rows counted without completion, cold): "
                  f"{(time.perf_counter() - t0) * 1000:.0f} ms")
            _, tile_p95 = timed("overview PNG tile, province (z7–z11, kept rows)", args.repeat * 3, tile)
            stats, _ = timed("GET /api/overview/statistics?division=320100", args.repeat,
                             lambda: client.get("/api/overview/statistics", params={"division": "320100"},
                                                headers=head))
        print(f"overview data: ratio /api/overview (province) / plain SQL counts (one city) = {page / reference:.1f}")
        print(f"overview tile p95 {tile_p95:.1f} ms: ratio to the plain SQL counts (one city) = "
              f"{tile_p95 / reference:.2f}")
        store.close()
    finally:
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP DATABASE IF EXISTS "{name}_alone" WITH (FORCE)')


if __name__ == "__main__":
    main()
