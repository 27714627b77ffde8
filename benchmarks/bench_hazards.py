"""Hidden hazards at scale: N hazards on the demo plant (SQLite), then the reads the map and the list make and the
writes people make, timed.

    .venv/bin/python benchmarks/bench_hazards.py [--hazards 10000] [--repeat 30]

Loads the demo into a scratch SQLite file, registers N hazards in one transaction (riskmap.store.hazards.
report_many, as a ledger import does), walks a tenth of them a few steps, then times: the whole list, the
overdue filter, `at` (open at a moment), the GeoDataFrame the map layer will read, one hazard with its timeline,
and single transitions (report → confirm → assign), each p50 / p95 over --repeat runs.
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

from riskmap import clock  # noqa: E402
from riskmap.demo import load_demo  # noqa: E402
from riskmap.hazards import Actor  # noqa: E402
from riskmap.people import ROLES  # noqa: E402
from riskmap.settings import Settings  # noqa: E402
from riskmap.store import hazards, open_store  # noqa: E402


def timed(label: str, repeat: int, fn) -> float:
    """Run `fn` `repeat` times, print p50 / p95 in milliseconds and return the p50."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    runs.sort()
    p95 = runs[min(len(runs) - 1, int(round(0.95 * (len(runs) - 1))))]
    print(f"{label:<44} p50 {statistics.median(runs):8.1f} ms   p95 {p95:8.1f} ms   (n={repeat})")
    return statistics.median(runs)


def plain_rows(store, name: str) -> list:
    """The reference of the list: the same hazard rows read with one plain SELECT (no decoding, no timeline)."""
    from sqlalchemy import select

    from riskmap.store.schema import EnterpriseRow, HazardRow

    with store.session() as s:
        ent = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one()
        return s.execute(select(HazardRow.__table__).where(HazardRow.enterprise_id == ent)).all()


def main() -> None:
    """The benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--hazards", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-hazards-"))
    settings = Settings(db=f"sqlite:///{folder / 'bench.db'}")
    load_demo(settings)
    store = open_store(settings.db)
    name = store.enterprises()[0].name
    inspector = Actor("巡检", None, ROLES["inspector"][2])
    manager = Actor("经理", None, ROLES["safety_manager"][2])
    x0, y0 = 119.7440, 32.3195
    rows = [{"name": f"隐患 {i}", "source": 1 + i % 10 if i % 10 != 8 else 1, "hazard_type": 1 + i % 8,
             "level": 1 if i % 20 == 0 else 0, "department": ["储运部", "合成车间", "精馏车间", "设备部"][i % 4],
             "location": {"type": "Point", "coordinates": [x0 + (i % 100) * 2e-5, y0 + (i // 100 % 100) * 2e-5]}}
            for i in range(args.hazards)]
    t0 = time.perf_counter()
    made = hazards.report_many(store, name, inspector, rows, now=clock.now() - timedelta(days=30))
    print(f"report_many {args.hazards} hazards (one transaction): {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    past = clock.now() - timedelta(days=20)
    for uid in made["ids"][: args.hazards // 10]:
        hazards.write(store, name, uid, "confirm", manager, {}, now=past)
        hazards.write(store, name, uid, "assign", manager, {"rectifier": "李工", "deadline": (
            clock.local_date(past) + timedelta(days=5)).isoformat()}, now=past)
    print(f"confirm + assign {args.hazards // 10} hazards: {time.perf_counter() - t0:.1f} s")
    uid = made["ids"][0]
    listed = timed(f"list all ({args.hazards + 12})", max(3, args.repeat // 5), lambda: hazards.listing(store, name))
    plain = timed("reference: the same rows, one plain SELECT", max(3, args.repeat // 5),
                  lambda: plain_rows(store, name))
    print(f"list all / plain SELECT: ratio {listed / plain:.1f} ×ref")
    timed("list overdue", max(3, args.repeat // 5), lambda: hazards.listing(store, name, overdue=True))
    timed("list open at a moment (at=)", max(3, args.repeat // 5),
          lambda: hazards.listing(store, name, at=clock.now() - timedelta(days=25)))
    timed("hazards_frame (map layer input)", max(3, args.repeat // 5), lambda: hazards.hazards_frame(store, name))
    timed("one hazard with its timeline", args.repeat, lambda: hazards.get(store, name, uid))

    def loop() -> None:
        h = hazards.report(store, name, inspector, {"name": "新隐患", "location": rows[0]["location"]})["hazard"]
        hazards.write(store, name, h["id"], "confirm", manager, {}, if_match=1)

    timed("report + confirm (two transactions)", args.repeat, loop)
    store.close()


if __name__ == "__main__":
    main()
