"""Tile service benchmark: cached throughput against nginx, cold render latency, MVT against tipg, edit → fresh tile.

One command, loopback only, bounded loops (fixed durations and sample sizes):

    .venv/bin/python benchmarks/bench_tiles.py                   # everything (about 6–10 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_tiles.py --quick           # shorter runs, 20,000 synthetic units

Parts and goals:
  1. cached PNG tiles: `riskmap serve` (one process; also --workers 2) against nginx serving the same
     bytes as static files, both driven by wrk with the same URL list            goal ≥ 0.3 of nginx
  2. cold render p50/p95 of z15–z20 PNG and MVT tiles through HTTP, demo and a synthetic plant of 100,000 units
                                                                                 goal p95 ≤ 50 ms
  3. MVT throughput from PostGIS against tipg serving the same map table       goal ≥ tipg
  4. edit → fresh tile: PATCH a unit's level, fetch an affected tile, check its colour   goal ≤ 300 ms
  1b. the documented front cache: nginx with deploy/nginx.conf's proxy_cache before `riskmap serve`, against
     nginx serving the same tiles as files, same URLs (five interleaved pairs of runs; the best of each and
     the median of the pairs' ratios)                                            goal ≥ 0.9 of nginx
  5. edits under load: the same PATCHes with 200 concurrent tile readers (wrk) on `riskmap serve --workers 2`,
     against the same PATCHes on the idle server and the same readers with no edit
                                                                goal edit p99 ≤ 500 ms, tile p99 ≤ 100 ms, no stale tile
     (readers of an old version, all redirected, then readers of unversioned tiles; --skip
     throughput,front,cold,tipg,edit runs part 5 alone)
wrk and nginx are installed from Debian by scripts/bench.sh (scripts/apt.sh) when missing and run as root; without
them part 1 says in one line that it is skipped and why. tipg is installed with pip into this virtualenv.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
WRK_LUA = """
local paths = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = math.random(#paths)
end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


# ---------------------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A subprocess serving HTTP on a loopback port, stopped (its process group) on exit."""

    def __init__(self, argv: list[str], port: int, env: dict | None = None, health: str = "/", log: Path | None = None):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(log or os.devnull, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        self._wait(health)

    def _wait(self, path: str, timeout: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.proc.args}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + path, timeout=5).status_code < 500:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer on {self.base}{path}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def riskmap_serve(db: str, log: Path, workers: int = 1, env: dict | None = None) -> Server:
    """`riskmap serve [--workers N]`, as a user runs it."""
    port = free_port()
    argv = [str(Path(PY).with_name("riskmap")), "serve", "--db", db, "--port", str(port), "--workers", str(workers)]
    return Server(argv, port, env=env, health="/healthz", log=log)


def fast_app():
    """The app as create_app makes it, behind the tile fast path as the outermost ASGI callable (what `riskmap
    serve` would hand to uvicorn): uvicorn --factory bench_tiles:fast_app --app-dir benchmarks."""
    from riskmap.api.app import create_app
    from riskmap.api.routers.tiles import wrap_fast_path

    return wrap_fast_path(create_app())


def has_fast_path(app) -> bool:
    """Whether `riskmap serve` already serves through the fast path (middleware or wrapper)."""
    import inspect

    from riskmap.api.routers.tiles import TileFastPath
    from riskmap.cli import service

    in_app = any(getattr(m, "cls", None) is TileFastPath for m in app.user_middleware)
    return in_app or "wrap_fast_path" in inspect.getsource(service)


def fast_serve(db: str, log: Path, workers: int = 1) -> Server:
    port = free_port()
    argv = [PY, "-m", "uvicorn", "--factory", "bench_tiles:fast_app", "--app-dir", str(ROOT / "benchmarks"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    return Server(argv, port, env={"RISKMAP_DB": db}, health="/healthz", log=log)


def ensure_tools(tools: tuple[str, ...] = ("wrk", "nginx")) -> str | None:
    """Why a part cannot run (wrk or nginx missing, installed from Debian when we may), or None."""
    missing = [tool for tool in tools if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists())]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"  installing {' '.join(missing)} from Debian (scripts/apt.sh) …")
        subprocess.run(["bash", str(ROOT / "scripts" / "apt.sh"), "--no-start", *missing], capture_output=True,
                       check=False)
        missing = [tool for tool in missing if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists())]
    if missing:
        how = "not root, so not installed" if os.geteuid() != 0 else "apt-get install failed"
        return (f"{' and '.join(missing)} not installed ({how}; as root: bash scripts/apt.sh --no-start "
                f"{' '.join(missing)})")
    return None


def ensure_tipg() -> bool:
    try:
        import tipg  # noqa: F401
        return True
    except ImportError:
        print("  installing tipg into this virtualenv (pip install tipg) …")
        out = subprocess.run([PY, "-m", "pip", "install", "-q", "tipg"], capture_output=True, text=True)
        return out.returncode == 0


def wrk(url_base: str, paths: list[str], seconds: float, connections: int, work: Path) -> dict:
    """Requests/s and latency of wrk cycling through `paths` (2 threads, fixed duration)."""
    out = subprocess.run(wrk_argv(url_base, paths, seconds, connections, work), capture_output=True, text=True,
                         timeout=seconds + 60)
    return wrk_figures(out.stdout)


def wrk_argv(url_base: str, paths: list[str], seconds: float, connections: int, work: Path) -> list[str]:
    """The wrk command cycling through `paths` (2 threads, fixed duration, latency percentiles)."""
    lua = work / "paths.lua"
    lua.write_text(WRK_LUA)
    listing = work / f"paths-{abs(hash(tuple(paths)))}.txt"
    listing.write_text("\n".join(paths) + "\n")
    return ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(lua), url_base, "--",
            str(listing)]


def wrk_figures(text: str) -> dict:
    """Requests/s, p50/p99 and errors from wrk's report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:.*", text)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", text, re.M))
    return {"rps": rps, "non2xx": int(bad.group(1)) if bad else 0, "p50": lat.get("50"), "p99": lat.get("99"),
            "socket_errors": errors.group(0) if errors else ""}


def nginx_server(root: Path, work: Path, workers: int = 1, open_files: bool = False) -> Server:
    """nginx serving `root` as static files; `open_files`: with the open-file cache deploy/nginx.conf gives the
    front cache's tiles (the same tuning on both sides of part 1b)."""
    port = free_port()
    for folder in [work, *[p for p in root.rglob("*") if p.is_dir()], root]:
        folder.chmod(0o755)                       # nginx's workers run as another user
    (work / "nginx-tmp").mkdir(exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes {workers};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-tmp; proxy_temp_path {work}/nginx-tmp; fastcgi_temp_path {work}/nginx-tmp;
  uwsgi_temp_path {work}/nginx-tmp; scgi_temp_path {work}/nginx-tmp;
  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  {"open_file_cache max=20000 inactive=60s; open_file_cache_valid 60s;" if open_files else ""}
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{ default_type image/png; add_header Cache-Control "public, max-age=31536000, immutable"; }}
  }}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return Server([nginx, "-c", str(conf), "-p", str(work)], port, health="/", log=work / "nginx.log")


# ---------------------------------------------------------------------------------------------- data


def load_demo(db_path: Path) -> str:
    from riskmap.demo import load_demo as load
    from riskmap.settings import Settings

    url = f"sqlite:///{db_path}"
    load(Settings(db=url))
    return url


def synthetic_plant(url: str, n_units: int, seed: int = 4) -> dict:
    """A plant of `n_units` assessment units (small squares and equipment points, each with its own level) in
    ~2 km², with 200 regions (a 20 × 10 grid, each with its main unit) and their layout outlines."""
    import geopandas as gpd
    import shapely

    from riskmap.domain import AssessmentUnit, RiskEvent, UnitKind
    from riskmap.geo.model import LayoutImport
    from riskmap.levels import LEVELS_HIGH_TO_LOW
    from riskmap.store import open_store

    rng = np.random.default_rng(seed)
    lon0, lat0 = 120.30, 31.50
    dx, dy = 1e-5 / 0.95, 9.0e-6                 # about 1 m at this latitude
    cols, rows = 20, 10
    cell_x, cell_y = 100 * dx, 100 * dy          # 100 m × 100 m regions: 2 km × 1 km
    regions, fids = [], []
    for j in range(rows):
        for i in range(cols):
            x, y = lon0 + i * cell_x, lat0 + j * cell_y
            regions.append(shapely.box(x + 2 * dx, y + 2 * dy, x + cell_x - 2 * dx, y + cell_y - 2 * dy))
            fids.append(f"R{j:02d}{i:02d}")
    layout = gpd.GeoDataFrame({"fid": fids, "name": [f"区域{f}" for f in fids], "role": "region", "layer": "区域",
                               "properties": [{}] * len(fids)}, geometry=regions, crs="EPSG:4326")
    units: list[AssessmentUnit] = []
    per = max(1, n_units // len(fids))
    levels = [lv for lv in LEVELS_HIGH_TO_LOW]
    weights = [0.02, 0.08, 0.3, 0.6]
    for k, (fid, region) in enumerate(zip(fids, regions, strict=True)):
        main = f"M{k}"
        units.append(AssessmentUnit(main, f"主单元{fid}", UnitKind.MAIN, feature_ref=fid))
        x0, y0, x1, y1 = region.bounds
        xs = rng.uniform(x0 + 3 * dx, x1 - 3 * dx, per)
        ys = rng.uniform(y0 + 3 * dy, y1 - 3 * dy, per)
        size = rng.uniform(1.0, 4.0, per)
        pick = rng.choice(len(levels), per, p=weights)
        points = rng.random(per) < 0.4
        for m in range(per - (1 if k == 0 else 0)):
            geom = shapely.Point(xs[m], ys[m]) if points[m] else \
                shapely.box(xs[m], ys[m], xs[m] + size[m] * dx, ys[m] + size[m] * dy)
            units.append(AssessmentUnit(f"U{k}-{m}", f"设备{k}-{m}", UnitKind.EQUIPMENT, parent_id=main,
                                        geometry=geom,
                                        events=[RiskEvent(f"事件{k}-{m}", id=f"E{k}-{m}",
                                                          residual_level=levels[pick[m]])]))
    units = units[: n_units + len(fids)]
    t0 = time.perf_counter()
    with open_store(url) as store:
        store.save_layout("合成工厂", LayoutImport(features=layout, crs="EPSG:4549", source_name="synthetic",
                                                source_format="geojson"))
        t1 = time.perf_counter()
        store.save_units("合成工厂", units, source="synthetic")
    t2 = time.perf_counter()
    return {"units": len(units), "regions": len(fids), "save_layout_s": t1 - t0, "save_units_s": t2 - t1}


def plant_tiles(base: str, layer: str, zooms, enterprise: str | None = None) -> tuple[list, int, str]:
    """Tiles over the plant's bounds (from TileJSON) and the current data version."""
    import httpx
    import morecantile

    params = {"enterprise": enterprise} if enterprise else {}
    tj = httpx.get(f"{base}/tiles/{layer}/tilejson.json", params=params, timeout=300).json()
    tms = morecantile.tms.get("WebMercatorQuad")
    w, s, e, n = tj["bounds"]
    return list(tms.tiles(w, s, e, n, list(zooms))), tj["data_version"], tj["tiles"][0].split("enterprise=")[1].split(
        "&")[0]


# ---------------------------------------------------------------------------------------------- parts


def part_throughput(demo_url: str, work: Path, seconds: float, connections: int, results: dict) -> None:
    import httpx

    print("\n[1] cached PNG tile throughput: riskmap serve vs nginx (wrk, same URLs, same bytes)")
    why = ensure_tools()
    if why:
        print(f"  skipped: {why}")
        return
    with riskmap_serve(demo_url, work / "serve-1.log") as srv:
        paths = []
        for layer in ("regions", "units", "layout"):
            tiles, version, ent = plant_tiles(srv.base, layer, (16, 17, 18))
            paths += [f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.png?enterprise={ent}&v={version}" for t in tiles]
        static = work / "static"
        size = 0
        with httpx.Client(base_url=srv.base, timeout=60) as client:
            for p in paths:
                r = client.get(p)
                assert r.status_code == 200 and r.headers["cache-control"].endswith("immutable"), (p, r.status_code)
                target = static / p.split("?")[0].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(r.content)
                size += len(r.content)
        print(f"  {len(paths)} tiles (z16–z18, regions/units/layout), {size / len(paths) / 1024:.1f} KiB on average;"
              f" wrk -t2 -c{connections} -d{seconds:g}s")
        nginx_paths = [p.split("?")[0] for p in paths]
        with nginx_server(static, work) as ngx:
            runs = {"riskmap": [], "nginx": []}
            for _ in range(2):                       # interleaved: the machine's load changes over time
                runs["riskmap"].append(wrk(srv.base, paths, seconds, connections, work))
                runs["nginx"].append(wrk(ngx.base, nginx_paths, seconds, connections, work))
            from riskmap.api.app import create_app
            from riskmap.settings import Settings

            shipped_fast = has_fast_path(create_app(Settings(db=demo_url)))
            if not shipped_fast:
                with fast_serve(demo_url, work / "fast-1.log") as fsrv, httpx.Client(base_url=fsrv.base) as c:
                    for p in paths:
                        c.get(p)
                    runs["riskmap + fast path"] = []
                    for _ in range(2):
                        runs["riskmap + fast path"].append(wrk(fsrv.base, paths, seconds, connections, work))
                        runs["nginx"].append(wrk(ngx.base, nginx_paths, seconds, connections, work))
    serve2 = riskmap_serve if shipped_fast else fast_serve
    with serve2(demo_url, work / "serve-2.log", workers=2) as srv2:
        warm_workers(srv2.base, paths, work)
        runs["--workers 2"] = [wrk(srv2.base, paths, seconds, connections, work)]
    (work / "nginx-2").mkdir(exist_ok=True)
    with nginx_server(static, work / "nginx-2", workers=2) as ngx2:   # the fair reference for two processes
        runs["nginx 2 workers"] = [wrk(ngx2.base, nginx_paths, seconds, connections, work)]
    best = {k: max(v, key=lambda r: r["rps"]) for k, v in runs.items()}
    print(f"  riskmap serve {'uses' if shipped_fast else 'does not use yet'} the tile fast path "
          "(riskmap.api.routers.tiles.wrap_fast_path); 'riskmap + fast path' is the same app behind it")
    for name, rs in runs.items():
        text = ", ".join(f"{r['rps']:.0f} req/s (p50 {r['p50']}, p99 {r['p99']}, non-2xx {r['non2xx']})" for r in rs)
        print(f"  {name:24s} {text}")
    ratios = {k: best[k]["rps"] / best["nginx 2 workers" if k == "--workers 2" else "nginx"]["rps"]
              for k in best if not k.startswith("nginx")}
    print("  ratio to nginx with as many processes (best of runs, goal ≥ 0.3): "
          + ", ".join(f"{k} {r:.2f}" for k, r in ratios.items()))
    results["throughput"] = {"runs": runs, "ratios": ratios, "shipped_fast_path": shipped_fast}


def warm_workers(base: str, paths: list[str], work: Path, rounds: int = 4) -> None:
    """Warm the tile cache of every worker process before measuring: requests on new connections, then wrk's own
    32 at once (a worker accepts the connections while the other is busy; one kept-alive connection, or requests
    one after the other, tend to go to one worker, and the other would render during the measurement)."""
    import httpx

    with httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as c:
        for _ in range(rounds):
            for p in paths:
                c.get(p)
    for _ in range(2):
        wrk(base, paths, 3, 32, work)


def front_cache_server(upstream: int, work: Path, workers: int = 1) -> Server:
    """deploy/nginx.conf (the documented front cache) before a riskmap on `upstream`, on a local port, with its
    files under `work`: the same substitutions as tests/test_several_hosts.py."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    (work / "nginx-tmp").mkdir(exist_ok=True)
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text = text.replace("server riskmap:8000;", f"server 127.0.0.1:{upstream};")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    text = text.replace("/var/cache/nginx/riskmap", str(work / "tile-cache"))
    tmp = work / "nginx-tmp"
    text = text.replace("http {", f"http {{\n  access_log off;\n  client_body_temp_path {tmp}; proxy_temp_path {tmp}; "
                        f"fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};", 1)
    text = text.replace("worker_processes auto;", f"worker_processes {workers};")
    head = f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\ndaemon off;\n"
    if os.geteuid() == 0:
        head += "user root;\n"
    conf = work / "nginx.conf"
    conf.write_text(head + text)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return Server([nginx, "-c", str(conf), "-p", str(work)], port, health="/healthz", log=work / "nginx.log")


# Rounds of part 1b: each a run through the front cache and one of the reference. A single run of either swings by
# up to a tenth on a shared two-core machine, so the median of the pairs says more than the best of each.
FRONT_ROUNDS = 5


def part_front_cache(demo_url: str, work: Path, seconds: float, connections: int, results: dict) -> None:
    """[1b] riskmap behind the documented nginx front cache, against nginx serving the same tiles as files."""
    import httpx

    print("\n[1b] cached PNG tiles through the documented front cache (deploy/nginx.conf: proxy_cache before "
          "riskmap serve) vs nginx serving the same bytes as files")
    why = ensure_tools()
    if why:
        print(f"  skipped: {why}")
        return
    with riskmap_serve(demo_url, work / "front-serve.log") as srv, \
            front_cache_server(srv.port, work / "front") as front:
        paths = []
        for layer in ("regions", "units", "layout"):
            tiles, version, ent = plant_tiles(front.base, layer, (16, 17, 18))
            paths += [f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.png?enterprise={ent}&v={version}" for t in tiles]
        static = work / "front-static"
        hits = 0
        with httpx.Client(base_url=front.base, timeout=60) as client:
            for p in paths:
                client.get(p)
            for p in paths:                          # the second time every tile comes from nginx's cache
                r = client.get(p)
                assert r.status_code == 200, (p, r.status_code)
                hits += r.headers.get("x-cache-status") == "HIT"
                target = static / p.split("?")[0].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(r.content)
        print(f"  {len(paths)} tiles, {hits} answered from the front cache on the second pass")
        nginx_paths = [p.split("?")[0] for p in paths]
        work.chmod(0o755)                            # nginx's workers (another user) read the files below it
        (work / "front-nginx").mkdir(exist_ok=True)
        with nginx_server(static, work / "front-nginx", open_files=True) as ngx:
            runs = {"front cache": [], "nginx": []}
            for _ in range(FRONT_ROUNDS):            # interleaved: the machine's load changes over time
                runs["front cache"].append(wrk(front.base, paths, seconds, connections, work))
                runs["nginx"].append(wrk(ngx.base, nginx_paths, seconds, connections, work))
    for name, rs in runs.items():
        text = ", ".join(f"{r['rps']:.0f} req/s (p50 {r['p50']}, p99 {r['p99']}, non-2xx {r['non2xx']})" for r in rs)
        print(f"  {name:24s} {text}")
    ratio = max(r["rps"] for r in runs["front cache"]) / max(r["rps"] for r in runs["nginx"])
    paired = statistics.median(f["rps"] / n["rps"] for f, n in zip(runs["front cache"], runs["nginx"], strict=True))
    print(f"  ratio to nginx serving files (goal ≥ 0.9): front cache {ratio:.2f} best of runs, {paired:.2f} median "
          f"of the {FRONT_ROUNDS} pairs (each run against the reference's run right after it)")
    results["front_cache"] = {"runs": runs, "ratio": ratio, "paired_median": paired, "hits": hits,
                              "tiles": len(paths)}


def _cold_latencies(base: str, urls: list[str]) -> tuple[list[float], int]:
    """Milliseconds per request, and how many answers were not empty tiles."""
    import httpx

    from riskmap.render.png import empty_png

    empty = {empty_png(256, 256), b""}
    out, drawn = [], 0
    with httpx.Client(base_url=base, timeout=120) as client:
        for u in urls:
            t0 = time.perf_counter()
            r = client.get(u)
            dt = time.perf_counter() - t0
            assert r.status_code == 200, (u, r.status_code, r.text[:200])
            out.append(dt * 1000)
            drawn += r.content not in empty
    return out, drawn


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def part_cold(name: str, url: str, work: Path, per_zoom: int, results: dict, seed: int = 7) -> None:
    import httpx

    print(f"\n[2] cold render through HTTP ({name}): z15–z20, {per_zoom} random tiles per zoom, layer and format")
    with riskmap_serve(url, work / f"cold-{name}.log") as srv:
        t0 = time.perf_counter()
        httpx.get(f"{srv.base}/tiles/units/tilejson.json", timeout=600)
        first = time.perf_counter() - t0
        rng = np.random.default_rng(seed)
        table = {}
        for layer in ("units", "regions"):
            tiles, version, ent = plant_tiles(srv.base, layer, range(15, 21))
            by_zoom: dict[int, list] = {}
            for t in tiles:
                by_zoom.setdefault(t.z, []).append(t)
            for fmt in ("png", "mvt"):
                urls, zooms = [], []
                for z in range(15, 21):
                    cands = by_zoom.get(z, [])
                    pick = rng.choice(len(cands), min(per_zoom, len(cands)), replace=False) if cands else []
                    for i in pick:
                        t = cands[int(i)]
                        urls.append(f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.{fmt}?enterprise={ent}&v={version}")
                        zooms.append(z)
                lat, drawn = _cold_latencies(srv.base, urls)
                table[(layer, fmt)] = (lat, zooms, drawn)
    print(f"  first request after start (loads the map snapshot): {first * 1000:.0f} ms")
    print(f"  {'layer/format':16s} {'n':>4s} {'drawn':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}   "
          "p95 per zoom 15…20")
    summary = {}
    for (layer, fmt), (lat, zooms, drawn) in table.items():
        per = []
        for z in range(15, 21):
            vals = [v for v, zz in zip(lat, zooms, strict=True) if zz == z]
            per.append(f"{_pct(vals, 95):.0f}" if vals else "-")
        print(f"  {layer + '/' + fmt:16s} {len(lat):4d} {drawn:5d} {_pct(lat, 50):8.1f} {_pct(lat, 95):8.1f} "
              f"{max(lat):8.1f}   " + " ".join(per))
        summary[f"{layer}/{fmt}"] = {"n": len(lat), "drawn": drawn, "p50": _pct(lat, 50), "p95": _pct(lat, 95),
                                     "max": max(lat)}
    allv = [v for lat, _, _ in table.values() for v in lat]
    print(f"  all: p50 {_pct(allv, 50):.1f} ms, p95 {_pct(allv, 95):.1f} ms (goal p95 ≤ 50 ms)")
    results[f"cold_{name}"] = {"first_request_ms": first * 1000, "by": summary, "p50": _pct(allv, 50),
                               "p95": _pct(allv, 95)}


def part_tipg(pg_admin: str, work: Path, seconds: float, connections: int, results: dict) -> None:
    import httpx
    import mapbox_vector_tile
    import psycopg
    from sqlalchemy.engine import make_url

    print("\n[3] MVT from PostGIS: riskmap (ST_AsMVT; cached and uncached) vs tipg on the same map table")
    why = ensure_tools(("wrk",))
    if why:
        print(f"  skipped: {why}")
        return
    if not ensure_tipg():
        print("  skipped: tipg could not be installed")
        return
    name = f"riskmap_bench_tiles_{os.getpid()}"
    admin = make_url(pg_admin)
    libpq = admin.set(drivername="postgresql")
    try:
        with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True, connect_timeout=5) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"  skipped: cannot create a PostGIS database through {pg_admin}: {str(exc).splitlines()[0]}")
        return
    db = libpq.set(database=name).render_as_string(hide_password=False)
    try:
        with psycopg.connect(db, autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        from riskmap.demo import load_demo as load
        from riskmap.settings import Settings

        load(Settings(db=db))
        with riskmap_serve(db, work / "pg-serve.log") as srv:
            tiles, version, ent = plant_tiles(srv.base, "units", (16, 17, 18))
            ours = [f"/tiles/units/{t.z}/{t.x}/{t.y}.mvt?enterprise={ent}&v={version}" for t in tiles]
            with psycopg.connect(db) as c:
                ent_id = c.execute("SELECT id FROM enterprises").fetchone()[0]
            fields = "feature_id,key,name,kind,level,level_zh,last_assessed"
            theirs = [f"/collections/public.map_features/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}"
                      f"?layer=units&enterprise_id={ent_id}&properties={fields}" for t in tiles]
            tipg_port = free_port()
            tipg_env = {"DATABASE_URL": db, "TIPG_DB_SCHEMAS": '["public"]', "TIPG_MAX_FEATURES_PER_TILE": "10000"}
            with Server([PY, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", str(tipg_port),
                         "--log-level", "warning"], tipg_port, env=tipg_env, health="/healthz",
                        log=work / "tipg.log") as tipg, \
                    riskmap_serve(db, work / "pg-nocache.log", env={"RISKMAP_TILE_CACHE_MB": "0"}) as nocache:
                counts = []
                with httpx.Client(timeout=60) as client:
                    for a, b in zip(ours[:10], theirs[:10], strict=True):
                        fa = mapbox_vector_tile.decode(client.get(srv.base + a).content).get("units", {})
                        rb = client.get(tipg.base + b)
                        assert rb.status_code == 200, (rb.status_code, rb.text[:300])
                        fb = next(iter(mapbox_vector_tile.decode(rb.content).values()), {})
                        counts.append((len(fa.get("features", [])), len(fb.get("features", []))))
                    for p in ours:
                        client.get(srv.base + p)     # warm our cache
                print(f"  {len(tiles)} unit tiles z16–z18; features per tile (riskmap, tipg) for the first ten: "
                      f"{counts}")
                runs = {"riskmap (cached)": wrk(srv.base, ours, seconds, connections, work),
                        "riskmap (no cache, SQL per tile)": wrk(nocache.base, ours, seconds, connections, work),
                        "tipg": wrk(tipg.base, theirs, seconds, connections, work)}
        for k, r in runs.items():
            print(f"  {k:34s} {r['rps']:8.0f} req/s  p50 {r['p50']}  p99 {r['p99']}  non-2xx {r['non2xx']}")
        ratio = runs["riskmap (cached)"]["rps"] / runs["tipg"]["rps"]
        ratio_nc = runs["riskmap (no cache, SQL per tile)"]["rps"] / runs["tipg"]["rps"]
        print(f"  ratio riskmap/tipg: cached {ratio:.2f}, uncached {ratio_nc:.2f} (goal ≥ 1)")
        results["tipg"] = {"runs": runs, "ratio_cached": ratio, "ratio_uncached": ratio_nc}
    finally:
        with psycopg.connect(libpq.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _visible_unit(client) -> tuple[str, object]:
    """A polygon unit that no other unit overlaps and no rule forces (so its own colour shows at its point)."""
    import shapely
    import shapely.geometry

    feats = [f for f in client.get("/api/units.geojson").json()["features"] if f["geometry"]]
    shapes = [shapely.geometry.shape(f["geometry"]) for f in feats]
    tree = shapely.STRtree(shapes)
    for f, g in zip(feats, shapes, strict=True):
        if g.geom_type != "Polygon" or g.area < 1e-8:
            continue
        point = g.representative_point()
        if len(tree.query(point, predicate="intersects")) != 1:
            continue
        uid = f["properties"]["unit_id"]
        r = client.patch(f"/api/units/{uid}", json={"override": {"level": "low", "reason": "基准测试"}})
        if r.status_code == 200 and r.json()["level"] == "low":
            return uid, point
    raise RuntimeError("no unit is visible on its own")


def part_edit(demo_url: str, work: Path, rounds: int, results: dict) -> None:
    import httpx
    import mapbox_vector_tile
    import morecantile
    from PIL import Image

    from riskmap.levels import Level, load_palette

    print(f"\n[4] edit → fresh tile: PATCH a unit's level, then GET the affected PNG and MVT ({rounds} rounds)")
    palette = load_palette()
    tms = morecantile.tms.get("WebMercatorQuad")
    from riskmap.store import open_store
    from riskmap.store.tokens import create_token

    with open_store(demo_url) as store:                 # edits need an editor token
        token, _ = create_token(store, "editor", f"bench-{os.getpid()}-{time.time_ns()}")
    with riskmap_serve(demo_url, work / "edit.log") as srv, httpx.Client(
            base_url=srv.base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        unit, point = _visible_unit(client)
        z = 18                                       # below the units' label zoom: the pixel is the fill
        tile = tms.tile(point.x, point.y, z)
        b = tms.xy_bounds(tile)
        x, y = tms.xy(point.x, point.y)
        col, row = int((x - b.left) / (b.right - b.left) * 256), int((b.top - y) / (b.top - b.bottom) * 256)
        tj = client.get("/tiles/units/tilejson.json").json()
        client.get(tj["tiles"][0].format(z=z, x=tile.x, y=tile.y))          # cached before the edit
        client.patch(f"/api/units/{unit}", json={"override": None})         # warm the edit path once
        times, stale = [], 0
        for i in range(rounds):
            level = (Level.MAJOR, Level.LOW)[i % 2]
            t0 = time.perf_counter()
            r = client.patch(f"/api/units/{unit}", json={"override": {"level": level.value, "reason": "基准测试"}})
            assert r.status_code == 200, r.text
            v = r.json()["data_version"]
            png = client.get(f"/tiles/units/{z}/{tile.x}/{tile.y}.png", params={"v": v})
            t1 = time.perf_counter()
            mvt = client.get(f"/tiles/units/{z}/{tile.x}/{tile.y}.mvt", params={"v": v})
            props = next(f["properties"] for f in mapbox_vector_tile.decode(mvt.content)["units"]["features"]
                         if f["properties"]["unit_id"] == unit)
            px = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGBA"))[row, col, :3].astype(int)
            nearest = min(Level, key=lambda lv: np.abs(
                np.array([int(palette.colour(lv)[k:k + 2], 16) for k in (1, 3, 5)]) - px).sum())
            if props["level"] != level.value or nearest != level:
                stale += 1
                print(f"  round {i}: wanted {level.value}, MVT says {props['level']}, PNG pixel {px} ≈ {nearest.value}")
            times.append((t1 - t0) * 1000)
        client.patch(f"/api/units/{unit}", json={"override": None})
    print(f"  PATCH → fresh PNG tile: p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
          f"(goal ≤ 300 ms); tiles with the old colour: {stale} of {rounds}")
    results["edit"] = {"p50_ms": statistics.median(times), "max_ms": max(times), "stale": stale}


def part_edit_load(demo_url: str, work: Path, edits: int, readers: int, results: dict) -> None:
    """Edits while `readers` clients read tiles from `riskmap serve --workers 2` (wrk), against two references
    measured on the same server in the same run: the same edits with no reader, and the same readers with no edit.

    Two kinds of readers, each run on its own: readers of the PNG tiles of the plant at the version they started
    with, as open maps are after an edit until they read their TileJSON again (every answer a 302 to the current
    version, once the first edit is made), and readers of the same tiles without a version (every answer the
    current tile, 200: those an edit touched are drawn again)."""
    import httpx
    import mapbox_vector_tile
    import morecantile

    print(f"\n[5] edits under load: {edits} PATCHes of a unit's level, alone and with {readers} tile readers (wrk) "
          "on riskmap serve --workers 2; the readers alone as the tiles' reference")
    why = ensure_tools(("wrk",))
    if why:
        print(f"  skipped: {why}")
        return
    from riskmap.store import open_store
    from riskmap.store.tokens import create_token

    with open_store(demo_url) as store:
        token, _ = create_token(store, "editor", f"bench-load-{os.getpid()}-{time.time_ns()}")
    tms = morecantile.tms.get("WebMercatorQuad")
    with riskmap_serve(demo_url, work / "load.log", workers=2) as srv, httpx.Client(
            base_url=srv.base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        unit, point = _visible_unit(client)
        tile = tms.tile(point.x, point.y, 18)
        paths = []
        for layer in ("regions", "units", "layout"):
            tiles, version, ent = plant_tiles(srv.base, layer, (16, 17, 18))
            paths += [f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.png?enterprise={ent}&v={version}" for t in tiles]
        for _ in range(4):                                   # both workers' caches warm
            for p in paths:
                client.get(p)

        def run_edits(label: str) -> dict:
            patch, fresh, stale = [], [], 0
            for i in range(edits):
                level = ("major", "low")[i % 2]
                t0 = time.perf_counter()
                r = client.patch(f"/api/units/{unit}", json={"override": {"level": level, "reason": "基准测试"}})
                t1 = time.perf_counter()
                assert r.status_code == 200, r.text
                mvt = client.get(f"/tiles/units/{tile.z}/{tile.x}/{tile.y}.mvt",
                                 params={"v": r.json()["data_version"]})
                t2 = time.perf_counter()
                props = [f["properties"] for f in mapbox_vector_tile.decode(mvt.content)["units"]["features"]
                         if f["properties"]["unit_id"] == unit]
                stale += not props or props[0]["level"] != level
                patch.append((t1 - t0) * 1000)
                fresh.append((t2 - t0) * 1000)
                time.sleep(0.05)
            out = {"patch_p50_ms": _pct(patch, 50), "patch_p99_ms": _pct(patch, 99), "fresh_p50_ms": _pct(fresh, 50),
                   "fresh_p99_ms": _pct(fresh, 99), "stale": stale}
            print(f"  {label:34s} PATCH p50 {out['patch_p50_ms']:6.0f} ms  p99 {out['patch_p99_ms']:6.0f} ms   "
                  f"PATCH → fresh MVT p50 {out['fresh_p50_ms']:6.0f} ms  p99 {out['fresh_p99_ms']:6.0f} ms   "
                  f"stale {stale} of {edits}")
            return out

        def show_tiles(label: str, figures: dict) -> None:
            print(f"  {label:34s} {figures['rps']:6.0f} req/s, tile p50 {_ms(figures['p50']):6.1f} ms  p99 "
                  f"{_ms(figures['p99']):6.1f} ms   non-2xx/3xx {figures['non2xx']} {figures['socket_errors']}")

        def loaded_run(label: str, reader_paths: list[str]) -> tuple[dict, dict]:
            seconds = 2.0 + edits * 0.6
            proc = subprocess.Popen(wrk_argv(srv.base, reader_paths, seconds, readers, work), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            time.sleep(1.5)
            edited = run_edits(label)
            text, _ = proc.communicate(timeout=seconds + 60)
            return edited, wrk_figures(text)

        client.patch(f"/api/units/{unit}", json={"override": None})      # warm the edit path
        alone = run_edits("edits alone (reference)")
        wrk(srv.base, paths, 2.0, readers, work)            # the readers' connections made, not measured
        quiet = wrk(srv.base, paths, 8.0, readers, work)
        show_tiles(f"{readers} readers alone (reference)", quiet)      # of the version before: 302s
        loaded, tiles_loaded = loaded_run(f"edits with {readers} readers", paths)
        show_tiles(f"{readers} readers meanwhile", tiles_loaded)
        runs = {"old-version (302)": (loaded, tiles_loaded, quiet)}
        bare = [p.rsplit("&v=", 1)[0] for p in paths]
        for p in bare:
            client.get(p)
        wrk(srv.base, bare, 2.0, readers, work)
        quiet_bare = wrk(srv.base, bare, 8.0, readers, work)
        show_tiles(f"{readers} unversioned readers alone", quiet_bare)
        loaded_bare, tiles_bare = loaded_run(f"edits, {readers} unversioned readers", bare)
        show_tiles(f"{readers} unversioned readers meanwhile", tiles_bare)
        runs["unversioned (200)"] = (loaded_bare, tiles_bare, quiet_bare)
        client.patch(f"/api/units/{unit}", json={"override": None})
    for name, (edited, during, reference) in runs.items():
        print(f"  ratio, {name} readers, under load / alone: PATCH p99 "
              f"{edited['patch_p99_ms'] / alone['patch_p99_ms']:.1f}, fresh tile p99 "
              f"{edited['fresh_p99_ms'] / alone['fresh_p99_ms']:.1f}, readers' tile p99 "
              f"{_ms(during['p99']) / max(_ms(reference['p99']), 1e-9):.1f}   "
              f"(goals: edit p99 ≤ 500 ms: {edited['patch_p99_ms']:.0f}; tile p99 ≤ 100 ms: "
              f"{_ms(during['p99']):.0f}; no stale tile: {edited['stale']} stale)")
    results["edit_load"] = {"alone": alone, "loaded": loaded, "tiles": tiles_loaded, "tiles_alone": quiet,
                            "readers": readers, "runs": {k: list(v) for k, v in runs.items()}}


def _ms(text: str | None) -> float:
    """wrk's latency text (e.g. 31.19ms, 1.02s, 850.00us) in milliseconds."""
    if not text:
        return float("nan")
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs and a 20,000-unit synthetic plant")
    ap.add_argument("--units", type=int, default=None, help="synthetic plant size (default 100000)")
    ap.add_argument("--seconds", type=float, default=None, help="wrk duration per run (default 8)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--pg", default=os.environ.get("RISKMAP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
                    help="PostgreSQL admin URL for the tipg comparison")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: throughput,front,cold,tipg,edit,load")
    ap.add_argument("--readers", type=int, default=200, help="concurrent tile readers while editing (part 5)")
    ap.add_argument("--edits", type=int, default=None, help="PATCHes per run of part 5 (default 60; --quick 20)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    seconds = args.seconds or (4.0 if args.quick else 8.0)
    n_units = args.units or (20_000 if args.quick else 100_000)
    per_zoom = 8 if args.quick else 20
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    print("command:", " ".join([Path(PY).name, *sys.argv]))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="riskmap-bench-tiles-") as tmp:
        work = Path(tmp)
        demo_url = load_demo(work / "demo.db")
        if "throughput" not in skip:
            part_throughput(demo_url, work, seconds, args.connections, results)
        if "front" not in skip:
            part_front_cache(demo_url, work, seconds, args.connections, results)
        if "cold" not in skip:
            part_cold("demo", demo_url, work, per_zoom, results)
            big = f"sqlite:///{work / 'synthetic.db'}"
            t0 = time.perf_counter()
            info = synthetic_plant(big, n_units)
            print(f"\n  synthetic plant: {info['units']} units, {info['regions']} regions; save_layout "
                  f"{info['save_layout_s']:.1f} s, save_units {info['save_units_s']:.1f} s (incl. map snapshot), "
                  f"total {time.perf_counter() - t0:.1f} s")
            results["synthetic"] = info
            part_cold(f"synthetic-{info['units']}", big, work, per_zoom, results)
        if "tipg" not in skip:
            part_tipg(args.pg, work, seconds, args.connections, results)
        if "edit" not in skip:
            part_edit(demo_url, work, 6 if args.quick else 12, results)
        if "load" not in skip:
            part_edit_load(demo_url, work, args.edits or (20 if args.quick else 60), args.readers, results)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (other work on the machine skews throughput)")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
