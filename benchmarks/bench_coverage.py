"""Inspection-coverage layer on the demo plant: the states' build per window, cold tile latency (PNG and MVT,
z16–z19 over the plant), and check-in → coverage tile updated (a check saved, then the tile over its unit).

    .venv/bin/python benchmarks/bench_coverage.py            # about a minute

Goals (issue 14): tile p95 ≤ 50 ms, check-in → map updated ≤ 300 ms. The 100,000-unit synthetic plant of
bench_tiles.py has no control measures (so no tasks): this benchmark measures the demo only.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]


def main() -> None:
    """Run the three measurements and print one line each."""
    import morecantile
    from kit import load_demo_db, make_client

    from riskmap.clock import now as clock_now
    from riskmap.inspections import store as ins
    from riskmap.plant import resolve_enterprise
    from riskmap.store import open_store

    folder = Path(tempfile.mkdtemp(prefix="bench-coverage-"))
    url = f"sqlite:///{load_demo_db(folder)}"
    client = make_client(url)
    store = open_store(url)
    name = resolve_enterprise(store, None)
    for window in ("today", "week", "month"):
        t0 = time.perf_counter()
        states, _ = ins.coverage(store, name, window)
        print(f"states {window}: {len(states)} units in {1000 * (time.perf_counter() - t0):.0f} ms")
    tj = client.get("/tiles/coverage/tilejson.json").json()
    tiles = list(morecantile.tms.get("WebMercatorQuad").tiles(*tj["bounds"], [16, 17, 18, 19]))[:200]
    p95 = {}
    for layer in ("coverage", "units"):         # the units layer over the same tiles is the reference
        for fmt in ("png", "mvt"):
            client.get(f"/tiles/{layer}/{tiles[0].z}/{tiles[0].x}/{tiles[0].y}.{fmt}")   # the states built once
            times = []
            for t in tiles:
                t0 = time.perf_counter()
                client.get(f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.{fmt}")
                times.append(1000 * (time.perf_counter() - t0))
            times.sort()
            p95[layer, fmt] = times[int(0.95 * (len(times) - 1))]
            print(f"cold {layer} {fmt}: {len(times)} tiles p50 {statistics.median(times):.1f} ms "
                  f"p95 {p95[layer, fmt]:.1f} ms (goal p95 <= 50 ms)")
    for fmt in ("png", "mvt"):
        print(f"coverage / units tiles p95 ({fmt}): ratio {p95['coverage', fmt] / p95['units', fmt]:.2f} ×ref")
    now = clock_now()
    found, tasks = ins.due(store, name, now, now + timedelta(seconds=1), now=now)
    lags = []
    for o in [o for o in found if o.state == "due"][:10]:
        task = tasks[o.task_id]
        t = morecantile.tms.get("WebMercatorQuad").tile(*_lonlat(store, name, task.unit_code), 18)
        t0 = time.perf_counter()
        ins.record_check(store, name, task.id, [{"item": i + 1, "result": "pass"} for i in range(len(task.items))],
                         inspector=ins.Inspector("bench"), check_assignment=False)
        client.get(f"/tiles/coverage/18/{t.x}/{t.y}.png")
        lags.append(1000 * (time.perf_counter() - t0))
    if lags:
        print(f"check-in -> coverage tile: {len(lags)} checks, median {statistics.median(lags):.0f} ms, "
              f"max {max(lags):.0f} ms (goal <= 300 ms)")
    store.close()


def _lonlat(store, name, code):
    from riskmap.store.hazards import unit_locations

    p = unit_locations(store, name, {code}).get(code)
    return (p.x, p.y) if p is not None else (0.0, 0.0)


if __name__ == "__main__":
    main()
