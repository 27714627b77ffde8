"""What the regulators' access records cost a request: the same reads by the same regulator's token, recorded (one
INSERT after the answer) and not (the reference, measured in the same run, alternating with it: the record
function replaced by one that writes nothing; everything else — routing, credentials, the scope — the same).

    .venv/bin/python benchmarks/bench_regulator_audit.py [--db URL] [--requests 300] [--runs 3]

The demo plant (with its regulator and an account of it) in a temporary SQLite database unless --db names another
(an empty PostGIS database, say). Requests go through the app in-process (FastAPI's TestClient), which waits for
the whole ASGI call: the INSERT written after the answer is counted here, although a real client has its answer
before it. Reported: the median and 95th percentile per request in milliseconds, the best of --runs, and each
figure's ratio to the reference; and the records written per recorded request (one, never more).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROUTES = ("/api/regions", "/api/units.geojson", "/api/hazards")


def measure(client, head: dict, enterprise: str, n: int) -> list[float]:
    """Milliseconds of `n` GETs cycling through ROUTES."""
    out = []
    for i in range(n):
        start = time.perf_counter()
        r = client.get(ROUTES[i % len(ROUTES)], params={"enterprise": enterprise}, headers=head)
        out.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.text[:200]
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.demo import DEMO_REGULATOR_LOGIN, load_demo
    from riskmap.settings import Settings
    from riskmap.store import accounts, open_store, regulator_audit, tokens

    real = regulator_audit.record
    writing = {"on": True}

    def switched(*a, **k):
        if writing["on"]:
            real(*a, **k)

    regulator_audit.record = switched           # riskmap.api.access_log calls it through the module

    folder = tempfile.mkdtemp(prefix="bench-audit-")
    url = args.db or f"sqlite:///{folder}/bench.db"
    settings = Settings(db=url, media_dir=f"{folder}/media", read_requires_token=True)
    load_demo(settings)
    with open_store(url) as store:
        enterprise = store.enterprises()[0].name
        reg = accounts.get_account(store, None, DEMO_REGULATOR_LOGIN)["id"]
        head = {"Authorization": "Bearer " + tokens.create_token(store, "reader", "bench", account_id=reg)[0]}
        before = len(regulator_audit.entries(store, limit=1000))
    best: dict[str, tuple[float, float]] = {}
    with TestClient(create_app(settings)) as client:
        measure(client, head, enterprise, 20)                            # warm the caches
        for _ in range(args.runs):
            for who in ("reference", "recorded"):                        # alternating, the reference first
                writing["on"] = who == "recorded"
                times = sorted(measure(client, head, enterprise, args.requests))
                p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
                old = best.get(who, (float("inf"), float("inf")))
                best[who] = (min(old[0], p50), min(old[1], p95))
    regulator_audit.record = real
    with open_store(url) as store:
        written = len(regulator_audit.entries(store, limit=1000)) - before
    recorded = args.runs * args.requests + 20
    ref = best["reference"]
    print(f"backend {url.split(':')[0]}; {args.requests} requests × {args.runs} runs; routes {', '.join(ROUTES)}")
    print(f"reference  regulator, record skipped:  p50 {ref[0]:.2f} ms  p95 {ref[1]:.2f} ms")
    got = best["recorded"]
    print(f"recorded   regulator, one INSERT each:  p50 {got[0]:.2f} ms  p95 {got[1]:.2f} ms  "
          f"ratio p50 {got[0] / ref[0]:.2f}×  p95 {got[1] / ref[1]:.2f}×")
    print(f"records written: {written} for {recorded} recorded requests (at most 1000 counted)")
    return {"reference": ref, "recorded": got, "written": written}


if __name__ == "__main__":
    main()
