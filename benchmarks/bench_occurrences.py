"""A year of occurrences for N inspection tasks (issue 14: 10,000), computed in-process from their cadences.

    .venv/bin/python benchmarks/bench_occurrences.py [--tasks 10000] [--day-type 0] [--seed 14]

The tasks mix the enterprise cadences as the demo's rules make them (a third 8-hour shifts, the rest daily,
weekly, ten-day, monthly, quarterly); the figure is one `riskmap.inspections.occurrences.occurrences` call over
2026 with 2 % of the windows done and one unit in ten under a week's maintenance. `--day-type 1` makes every task
run on statutory working days only (the calendar is asked for each day).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskmap.clock import LOCAL_ZONE  # noqa: E402
from riskmap.inspections.cadence import Cadence  # noqa: E402
from riskmap.inspections.occurrences import Shutdown, occurrences  # noqa: E402
from riskmap.inspections.tasks import Assignee, Task  # noqa: E402

MIX = [({"kind": "shift", "hours": 8, "work_start": "8:00"}, 33), ({"kind": "daily"}, 25), ({"kind": "weekly"}, 15),
       ({"kind": "ten_days", "dates": [5, 15, 24]}, 10), ({"kind": "monthly", "day": 25}, 12),
       ({"kind": "quarterly"}, 5)]


def main() -> None:
    """Build the tasks, time one year of occurrences, print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--day-type", type=int, default=0)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    kinds = [c for c, w in MIX for _ in range(w)]
    tasks = []
    for i in range(args.tasks):
        cadence = Cadence.parse({**rng.choice(kinds), "day_type": args.day_type})
        tasks.append(Task(key=f"U{i % 3000}|E|{i}", unit_code=f"U{i % 3000}", title="t", items=["a"],
                          cadence=cadence, assignee=Assignee(), starts_on=date(2026, 1, 1), id=i + 1))
    start, end = datetime(2026, 1, 1, tzinfo=LOCAL_ZONE), datetime(2027, 1, 1, tzinfo=LOCAL_ZONE)
    stops = {f"U{u}": [Shutdown(f"U{u}", datetime(2026, 6, 1, tzinfo=LOCAL_ZONE),
                                datetime(2026, 6, 8, tzinfo=LOCAL_ZONE), "检修")] for u in range(0, 3000, 10)}
    done = {}
    for t in tasks[::50]:
        done[(t.id, t.cadence.windows(t.starts_on, start, start + timedelta(days=40))[0].start)] = (1, False)
    began = time.perf_counter()
    found = occurrences(tasks, start, end, now=datetime(2026, 7, 1, tzinfo=LOCAL_ZONE), done=done, shutdowns=stops)
    took = time.perf_counter() - began
    print(f"{args.tasks} tasks, day type {args.day_type}: {len(found):,} occurrences in 2026 in {took:.2f} s "
          f"({len(found) / took / 1e6:.2f} M/s); states {dict(Counter(o.state for o in found))}")


if __name__ == "__main__":
    main()
