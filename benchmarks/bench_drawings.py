"""Several drawings per site (issue 19): the site plan's tiles with ten other drawings beside it, and switching
drawing or storey in the browser.

One command, loopback only, bounded loops:

    .venv/bin/python benchmarks/bench_drawings.py            # about 3–5 minutes on 2 cores
    .venv/bin/python benchmarks/bench_drawings.py --quick    # 5,000 units, fewer samples

Parts and goals:
  1. the site plan's cold tiles (z15–z20, PNG and MVT, through HTTP) on a synthetic plant alone (the reference)
     and the same plant with ten drawings of 10,000 features each               goal: ratio p95 ≤ 1.1
     and the site plan's layout read in a bbox (store), same two databases       goal: ratio ≤ 1.1
  2. the demo in Chromium: a storey switch (click → every tile layer loaded), cold (its map built on the first
     request) and warm, against the site plan's own page load in the same run    goal: warm switch ≤ 1 s
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tiles import _cold_latencies, _pct, load_demo, plant_tiles, riskmap_serve, synthetic_plant  # noqa: E402

ENTERPRISE = "合成工厂"


def add_drawings(url: str, count: int, features: int, seed: int = 11) -> float:
    """`count` workshop drawings of `features` rooms each, lying over the synthetic plant (as floor plans lie over
    their buildings); returns the seconds it took to store them."""
    import geopandas as gpd
    import shapely

    from riskmap.drawings import new_drawing
    from riskmap.geo.model import LayoutImport
    from riskmap.store import open_store

    rng = np.random.default_rng(seed)
    lon0, lat0, w, h = 120.30, 31.50, 2000 * 1e-5 / 0.95, 1000 * 9e-6
    t0 = time.perf_counter()
    with open_store(url) as store:
        for k in range(count):
            xs, ys = rng.uniform(lon0, lon0 + w, features), rng.uniform(lat0, lat0 + h, features)
            geoms = shapely.box(xs, ys, xs + 4e-5, ys + 3e-5)
            gdf = gpd.GeoDataFrame({"fid": [f"D{k}-{i}" for i in range(features)],
                                    "name": [f"房间{k}-{i}" for i in range(features)], "role": "building",
                                    "layer": "建筑-房间", "properties": [{}] * features}, geometry=geoms,
                                   crs="EPSG:4326")
            store.save_layout(ENTERPRISE, LayoutImport(features=gdf, crs="EPSG:4549", source_name=f"floor{k}.dxf",
                                                       source_format="dxf"),
                              drawing=new_drawing(f"车间{k}", title=f"车间平面图{k}"))
    return time.perf_counter() - t0


def site_bbox_reads(url: str, rounds: int, seed: int = 3) -> list[float]:
    """Milliseconds per bbox read of the site plan's layout (the store's bbox query, 200 m boxes)."""
    from riskmap.store import open_store

    rng = np.random.default_rng(seed)
    out = []
    with open_store(url) as store:
        for _ in range(rounds):
            x, y = 120.30 + rng.uniform(0, 0.018), 31.50 + rng.uniform(0, 0.008)
            t0 = time.perf_counter()
            store.layout_features(ENTERPRISE, bbox=(x, y, x + 0.002, y + 0.0018))
            out.append((time.perf_counter() - t0) * 1000)
    return out


def cold_site_tiles(url: str, work: Path, name: str, per_zoom: int, seed: int = 7) -> list[float]:
    """Cold site-plan tile latencies (ms) over the same random tiles for every database (same seed)."""
    rng = np.random.default_rng(seed)
    out: list[float] = []
    with riskmap_serve(url, work / f"{name}.log") as srv:
        for layer in ("units", "regions", "layout"):
            tiles, version, ent = plant_tiles(srv.base, layer, range(15, 21))
            by_zoom: dict[int, list] = {}
            for t in tiles:
                by_zoom.setdefault(t.z, []).append(t)
            for fmt in ("png", "mvt"):
                urls = []
                for z in range(15, 21):
                    cands = by_zoom.get(z, [])
                    for i in (rng.choice(len(cands), min(per_zoom, len(cands)), replace=False) if cands else []):
                        t = cands[int(i)]
                        urls.append(f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.{fmt}?enterprise={ent}&v={version}")
                out += _cold_latencies(srv.base, urls)[0]
    return out


def part_site_tiles(work: Path, units: int, per_zoom: int, drawings: int, features: int) -> None:
    print(f"\n[1] the site plan beside {drawings} drawings of {features:,} features ({units:,} synthetic units)")
    alone = f"sqlite:///{work / 'alone.db'}"
    info = synthetic_plant(alone, units)
    beside_path = work / "beside.db"
    shutil.copy(work / "alone.db", beside_path)
    beside = f"sqlite:///{beside_path}"
    stored = add_drawings(beside, drawings, features)
    print(f"  plant stored in {info['save_layout_s'] + info['save_units_s']:.1f} s; {drawings} drawings stored in "
          f"{stored:.1f} s ({stored / drawings:.2f} s each)")
    reads_a, reads_b = site_bbox_reads(alone, 200), site_bbox_reads(beside, 200)
    print(f"  site layout bbox read: alone p50 {_pct(reads_a, 50):.2f} ms p95 {_pct(reads_a, 95):.2f} ms; beside "
          f"p50 {_pct(reads_b, 50):.2f} ms p95 {_pct(reads_b, 95):.2f} ms; ratio p95 "
          f"{_pct(reads_b, 95) / _pct(reads_a, 95):.2f} (goal ≤ 1.1)")
    tiles_a = cold_site_tiles(alone, work, "alone", per_zoom)
    tiles_b = cold_site_tiles(beside, work, "beside", per_zoom)
    print(f"  cold site tiles ({len(tiles_a)} each): alone p50 {_pct(tiles_a, 50):.1f} ms p95 {_pct(tiles_a, 95):.1f} "
          f"ms; beside p50 {_pct(tiles_b, 50):.1f} ms p95 {_pct(tiles_b, 95):.1f} ms; ratio p95 "
          f"{_pct(tiles_b, 95) / _pct(tiles_a, 95):.2f} (goal ≤ 1.1)")


def _wait_idle(page) -> None:
    page.wait_for_function("window.riskmapApp && window.riskmapApp.ready", timeout=60000)
    page.evaluate("window.riskmapApp.idle()")


def part_switch(work: Path, rounds: int) -> None:
    from playwright.sync_api import sync_playwright

    print(f"\n[2] switching storeys of the demo's office building in Chromium ({rounds} rounds)")
    url = load_demo(work / "demo.db")
    storeys = ["办公楼-1F", "办公楼-2F", "办公楼-3F"]
    with riskmap_serve(url, work / "switch.log") as srv, sync_playwright() as api:
        browser = api.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        site = []
        for _ in range(3):
            t0 = time.perf_counter()
            page.goto(f"{srv.base}/map", wait_until="load")
            _wait_idle(page)
            site.append(time.perf_counter() - t0)
        cold, warm = [], []
        for r in range(rounds):
            for key in storeys:
                target = f"{srv.base}/map?drawing={quote(key)}"
                t0 = time.perf_counter()
                page.goto(target, wait_until="load")
                _wait_idle(page)
                (cold if r == 0 else warm).append(time.perf_counter() - t0)
        # the same through the storey switcher: a click on the next storey to every tile loaded
        clicks = []
        for key in storeys * max(1, rounds - 1):
            label = key.split("-")[1]
            t0 = time.perf_counter()
            page.locator(".riskmap-storeys a", has_text=label).click()
            page.wait_for_url(f"**{quote(key)}*")
            _wait_idle(page)
            clicks.append(time.perf_counter() - t0)
        browser.close()
    print(f"  site plan page to a complete render (reference): median {np.median(site):.2f} s")
    print(f"  storey page, first view (its map built): median {np.median(cold):.2f} s, max {max(cold):.2f} s")
    print(f"  storey page, warm: median {np.median(warm):.2f} s, max {max(warm):.2f} s" if warm else "")
    print(f"  storey switcher click to a complete render: median {np.median(clicks):.2f} s, max {max(clicks):.2f} s "
          f"(goal ≤ 1 s); ratio to the site plan page {np.median(clicks) / np.median(site):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="riskmap-bench-drawings-") as tmp:
        work = Path(tmp)
        part_site_tiles(work, 5_000 if args.quick else 20_000, 4 if args.quick else 10, 10,
                        2_000 if args.quick else 10_000)
        part_switch(work, 2 if args.quick else 4)


if __name__ == "__main__":
    main()
