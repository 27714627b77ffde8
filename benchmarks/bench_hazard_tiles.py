"""The hazards tile layer at scale: N hazards on the demo plant (SQLite), then tiles timed.

    .venv/bin/python benchmarks/bench_hazard_tiles.py [--hazards 10000] [--repeat 3]

Loads the demo into a scratch SQLite file and registers N hazards in one transaction. Times: building the layer's
data after a write (hazards_frame + projection, once per data version and filters), every tile of the plant at
z14–z19 made without the cache (PNG and MVT, p50 / p95 / max), the same tiles over HTTP once cached, and "report →
visible": a report through the API, then the tile holding it over HTTP (the new data version patches the layer
data with the hazards changed since: riskmap.render.hazardtiles.patched), against a full build of the layer data.
Reference: the units layer's PNG tiles of the same places made without the cache (TileService.make); each zoom
prints the ratio of the hazards PNG p95 to it (×ref).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import morecantile  # noqa: E402

from riskmap import clock  # noqa: E402
from riskmap.demo import load_demo  # noqa: E402
from riskmap.hazards import Actor  # noqa: E402
from riskmap.people import ROLES  # noqa: E402
from riskmap.render.grid import TileView  # noqa: E402
from riskmap.render.hazardtiles import HazardFilters, make_tile  # noqa: E402
from riskmap.settings import Settings  # noqa: E402
from riskmap.store import hazards, open_store  # noqa: E402

TMS = morecantile.tms.get("WebMercatorQuad")


def stats(label: str, runs: list[float]) -> float:
    """Print p50 / p95 / max of runs in milliseconds and return the p95."""
    runs = sorted(runs)
    p95 = runs[min(len(runs) - 1, int(round(0.95 * (len(runs) - 1))))]
    print(f"{label:<40} p50 {statistics.median(runs):7.1f} ms   p95 {p95:7.1f} ms   max {runs[-1]:7.1f} ms"
          f"   (n={len(runs)})")
    return p95


def main() -> None:
    """The benchmark (see the module docstring)."""
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app

    parser = argparse.ArgumentParser()
    parser.add_argument("--hazards", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-hazard-tiles-"))
    settings = Settings(db=f"sqlite:///{folder / 'bench.db'}")
    load_demo(settings)
    store = open_store(settings.db)
    name = store.enterprises()[0].name
    inspector = Actor("巡检", None, ROLES["inspector"][2])
    x0, y0 = 119.7440, 32.3195
    rows = [{"name": f"隐患 {i}", "source": 1, "hazard_type": 1 + i % 8, "level": 1 if i % 20 == 0 else 0,
             "department": ["储运部", "合成车间", "精馏车间", "设备部"][i % 4],
             "location": {"type": "Point", "coordinates": [x0 + (i % 100) * 2e-5, y0 + (i // 100 % 100) * 2e-5]}}
            for i in range(args.hazards)]
    hazards.report_many(store, name, inspector, rows, now=clock.now() - timedelta(days=30))
    app = create_app(settings)
    with TestClient(app) as client:
        client.get("/tiles/hazards/tilejson.json")
        layer = app.state.tiles.hazards
        runs = []
        for _ in range(args.repeat):
            layer._data.clear()
            t0 = time.perf_counter()
            data = layer.data(name, HazardFilters())
            runs.append((time.perf_counter() - t0) * 1000)
        full_build = stats(f"layer data ({len(data)} hazards)", runs)
        style = layer.style()
        service = app.state.tiles.service
        plant, ent_id, ent_name = service.lookup(name)
        plant = plant or service.update(ent_id, ent_name)
        units_style = service.style("units")
        west, south = x0 - 0.001, y0 - 0.001
        east, north = x0 + 0.003, y0 + 0.003
        for z in range(14, 20):
            tiles = list(TMS.tiles(west, south, east, north, [z]))
            found = {}
            for fmt in ("png", "mvt"):
                runs = []
                for t in tiles:
                    view = TileView(z, t.x, t.y)
                    t0 = time.perf_counter()
                    make_tile(data, style, fmt, view)
                    runs.append((time.perf_counter() - t0) * 1000)
                found[fmt] = stats(f"z{z} {fmt} uncached ({len(tiles)} tiles)", runs)
            runs = []
            for t in tiles:
                t0 = time.perf_counter()
                service.make(plant, "units", "png", TileView(z, t.x, t.y), units_style)
                runs.append((time.perf_counter() - t0) * 1000)
            ref = stats(f"z{z} reference: units png uncached", runs)
            print(f"z{z} hazards png p95 / units png p95: ratio {found['png'] / max(ref, 1e-3):.2f} ×ref")
        z = 17
        tiles = list(TMS.tiles(west, south, east, north, [z]))
        for t in tiles:
            client.get(f"/tiles/hazards/{z}/{t.x}/{t.y}.png")
        runs = []
        for t in tiles * args.repeat:
            t0 = time.perf_counter()
            client.get(f"/tiles/hazards/{z}/{t.x}/{t.y}.png")
            runs.append((time.perf_counter() - t0) * 1000)
        stats("z17 png over HTTP, cached", runs)
        from riskmap.store import accounts, tokens

        made = accounts.create_account(store, name, name="巡检", login="bench-inspector", password=None,
                                       roles=["inspector"])
        token = tokens.create_token(store, "editor", "巡检", account_id=made["id"])[0]
        head = {"Authorization": f"Bearer {token}"}
        runs, writes, reads = [], [], []
        for i in range(max(3, args.repeat) + 1):
            lon, lat = x0 + 0.006 + i * 1e-5, y0 + 0.0015     # beside the dense block: a tile of singles
            t = TMS.tile(lon, lat, 19)
            t0 = time.perf_counter()
            r = client.post("/api/hazards", params={"enterprise": name}, headers=head,
                            json={"name": f"新隐患 {i}", "source": 1,
                                  "location": {"type": "Point", "coordinates": [lon, lat]}})
            assert r.status_code == 201, r.text
            t1 = time.perf_counter()
            body = client.get(f"/tiles/hazards/19/{t.x}/{t.y}.mvt").content
            t2 = time.perf_counter()
            assert r.json()["hazard"]["id"].encode() in body
            if i == 0:          # the first write through HTTP also warms the request path (accounts, plant)
                print(f"first report -> tile (warm-up, not counted): {(t2 - t0) * 1000:.1f} ms")
                continue
            runs.append((t2 - t0) * 1000)
            writes.append((t1 - t0) * 1000)
            reads.append((t2 - t1) * 1000)
        stats("  the report (POST /api/hazards)", writes)
        stats("  the tile after it (patched layer data)", reads)
        print(f"layer data patched {app.state.tiles.hazards.patches} times, built in full "
              f"{app.state.tiles.hazards.builds} times")
        shown = stats("report -> tile holding it (HTTP)", runs)
        print(f"report -> tile p95 / a full build of the layer data p95: ratio {shown / full_build:.2f} ×ref "
              f"(goal: report -> visible <= 300 ms)")
    store.close()


if __name__ == "__main__":
    main()
