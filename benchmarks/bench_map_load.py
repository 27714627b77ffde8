"""How long the web map takes to show: from opening /map to a complete render in Chromium.

    .venv/bin/python benchmarks/bench_map_load.py [--runs 5] [--units 100000] [--regions 1000] [--skip-demo]

Two plants, each in its own temporary SQLite database served by uvicorn on a free loopback port: the demo
plant, and a synthetic plant of N units in M regions. "Complete" means every visible tile layer has loaded and
painted all its tiles (the page's `riskmapApp.idle()`) and no map resource arrives later (the network then
idle), timed by the page's own clock from navigation start.
Figures per plant:
  first      the first visit after the server started (server reads the map summary, renders the tiles)
  cold       a new browser profile each run, server warm (assets, config and tiles fetched, not cached)
  warm       the same tab opening /map again (assets from the browser cache, TileJSON revalidated)
Goal: cold ≤ 1.5 s for the 100,000-unit plant.
Reference, measured in the same run: `replay`, the same page opened in a new profile with every response the
server gave during a cold visit (page, scripts, config, TileJSON, tiles) handed back from memory, as a copy of
plain files would be, so that only the browser's own work remains. The ratio cold / replay is what the server adds.
"""

from __future__ import annotations

import argparse
import math
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind  # noqa: E402
from riskmap.geo.model import LayoutImport  # noqa: E402
from riskmap.levels import Level  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LEVELS = [Level.LOW, Level.GENERAL, Level.SIGNIFICANT, Level.MAJOR]


def synthetic_plant(db_url: str, n_units: int, n_regions: int, seed: int = 7) -> str:
    """A plant of `n_regions` square regions (about 50 m) and `n_units` units: one main unit per region
    (attached to it by name) and equipment units inside, 80 % points and 20 % small squares."""
    from riskmap.store import open_store

    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n_regions))
    cell, gap = 0.0005, 0.00005
    k = np.arange(n_regions)
    x0 = 120.0 + (k % cols) * cell
    y0 = 32.0 + (k // cols) * cell
    regions = shapely.box(x0, y0, x0 + cell - gap, y0 + cell - gap)
    names = [f"区域{i:04d}" for i in k]
    features = gpd.GeoDataFrame({
        "fid": [f"R{i}" for i in k], "name": names, "role": ["region"] * n_regions, "layer": ["区域"] * n_regions,
        "properties": [{} for _ in k],
    }, geometry=regions, crs="EPSG:4326")
    layout = LayoutImport(features=features, crs="EPSG:3857", source_name="synthetic", source_format="geojson")

    n_equipment = n_units - n_regions
    owner = rng.integers(0, n_regions, n_equipment)
    px = x0[owner] + gap + rng.random(n_equipment) * (cell - 3 * gap)
    py = y0[owner] + gap + rng.random(n_equipment) * (cell - 3 * gap)
    square = rng.random(n_equipment) < 0.2
    half = cell * 0.01
    geoms = np.where(square, shapely.box(px - half, py - half, px + half, py + half), shapely.points(px, py))
    rank = rng.choice(4, size=n_equipment, p=[0.6, 0.3, 0.08, 0.02])
    assessed = date(2026, 6, 1)
    units = [AssessmentUnit(id=f"M{i}", name=names[i], kind=UnitKind.MAIN, feature_ref=names[i],
                            last_assessed=assessed,
                            events=[RiskEvent(name=f"区域{i}总体风险", residual_level=Level.LOW)])
             for i in range(n_regions)]
    for j in range(n_equipment):
        units.append(AssessmentUnit(
            id=f"U{j}", name=f"设备{j:06d}", kind=UnitKind.EQUIPMENT, parent_id=f"M{owner[j]}", geometry=geoms[j],
            last_assessed=assessed, events=[RiskEvent(name=f"设备{j}泄漏", residual_level=LEVELS[rank[j]])]))
    store = open_store(db_url)
    name = "合成工厂（基准测试）"
    store.enterprise(name)
    store.save_layout(name, layout)
    store.save_units(name, units, source="synthetic")
    store.close()
    return name


def demo_plant(db_url: str) -> str:
    from riskmap.demo import load_demo
    from riskmap.settings import Settings

    return load_demo(Settings(db=db_url))["enterprise"]


class Server:
    """uvicorn in a background thread on a free loopback port."""

    def __init__(self, db_url: str):
        import uvicorn

        from riskmap.api.app import create_app
        from riskmap.settings import Settings

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        app = create_app(Settings(db=db_url))
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def open_map(page, url: str, failures: list[str]) -> float:
    """Seconds from navigation start to the complete render, by the page's own clock: every visible tile
    loaded and painted (`riskmapApp.idle()`), and no map resource arriving later (checked once the network
    has been idle for Playwright's 500 ms, which is not counted)."""
    page.goto(url, wait_until="load")
    page.wait_for_function("window.riskmapApp && window.riskmapApp.ready", timeout=60000)
    idle_ms = page.evaluate("window.riskmapApp.idle().then(() => performance.now())")
    page.wait_for_load_state("networkidle")
    last_ms = page.evaluate("""() => Math.max(0, ...performance.getEntriesByType('resource')
        .filter(e => !e.name.includes('/api/map/prepare') && !e.name.includes('favicon'))
        .map(e => e.responseEnd))""")
    if page.evaluate("document.querySelectorAll('img.leaflet-tile-loaded').length") == 0:
        failures.append("no tile was drawn")
    return max(idle_ms, last_ms) / 1000.0


def measure(label: str, db_url: str, runs: int, playwright) -> dict:
    with Server(db_url) as server:
        url = f"{server.url}/map"
        failures: list[str] = []
        figures: dict[str, list[float]] = {"first": [], "cold": [], "warm": [], "replay": []}
        with tempfile.TemporaryDirectory() as profile:
            browser = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1280, "height": 860})
            page = browser.new_page()
            page.on("requestfailed", lambda r: failures.append(f"failed {r.url}"))
            page.on("response", lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}"))
            figures["first"].append(open_map(page, url, failures))
            for _ in range(runs):          # the same tab again: scripts and styles from the browser cache
                figures["warm"].append(open_map(page, url, failures))
            browser.close()
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as profile:
                browser = playwright.chromium.launch_persistent_context(
                    profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                    viewport={"width": 1280, "height": 860})
                page = browser.new_page()
                figures["cold"].append(open_map(page, url, failures))
                browser.close()
        recorded = _record(playwright, url, server.url)
        figures["replay"] = []
        for _ in range(runs):
            figures["replay"].append(_replay(playwright, url, recorded, failures))
        tiles = _count_tiles(playwright, url)
    print(f"\n{label}")
    print(f"  visible tiles at the start view: {tiles}")
    print(f"  first visit (server cold): {figures['first'][0]:.3f} s")
    for kind in ("cold", "warm", "replay"):
        values = figures[kind]
        print(f"  {kind:6s} best {min(values):.3f} s   median {statistics.median(values):.3f} s   "
              f"({len(values)} runs)")
    print(f"  ratio cold / replay (medians; the server's share): "
          f"{statistics.median(figures['cold']) / statistics.median(figures['replay']):.2f}")
    if failures:
        print(f"  PROBLEMS: {failures[:5]}")
    return figures


_HOP_HEADERS = ("content-encoding", "content-length", "transfer-encoding", "connection")


def _record(playwright, url: str, origin: str) -> dict[str, tuple[int, dict, bytes]]:
    """Every GET answer of the server during one cold visit: url → (status, headers, body)."""
    seen = []
    with tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 860})
        page = browser.new_page()
        page.on("response", lambda r: seen.append(r) if r.request.method == "GET" and r.url.startswith(origin)
                else None)
        open_map(page, url, [])
        recorded = {}
        for response in seen:
            try:
                body = response.body()
            except Exception:  # noqa: BLE001 - a redirect or an aborted request has no body to replay
                continue
            headers = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS}
            recorded[response.url] = (response.status, headers, body)
        browser.close()
    return recorded


def _replay(playwright, url: str, recorded: dict, failures: list[str]) -> float:
    """open_map in a new profile with the recorded answers handed back from memory (the reference)."""
    def answer(route):
        found = recorded.get(route.request.url) if route.request.method == "GET" else None
        if found is None:
            route.continue_()
        else:
            route.fulfill(status=found[0], headers=found[1], body=found[2])

    with tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 860})
        page = browser.new_page()
        page.route("**/*", answer)
        took = open_map(page, url, failures)
        browser.close()
    return took


def _count_tiles(playwright, url: str) -> int:
    with tempfile.TemporaryDirectory() as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 860})
        page = browser.new_page()
        open_map(page, url, [])
        count = page.evaluate("document.querySelectorAll('img.leaflet-tile-loaded').length")
        browser.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: install Debian's chromium (scripts/setup.sh)")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        if not args.skip_demo:
            demo_db = f"sqlite:///{tmp}/demo.db"
            demo_plant(demo_db)
            measure("demo plant", demo_db, args.runs, playwright)
        big_db = f"sqlite:///{tmp}/synthetic.db"
        t = time.perf_counter()
        synthetic_plant(big_db, args.units, args.regions)
        print(f"\nsynthetic plant of {args.units} units in {args.regions} regions built in "
              f"{time.perf_counter() - t:.1f} s")
        measure(f"synthetic plant ({args.units} units, {args.regions} regions)", big_db, args.runs, playwright)


if __name__ == "__main__":
    main()
