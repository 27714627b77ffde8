"""A year of occurrences for N inspection tasks (issue 14: 10,000), computed in-process from their cadences, against
a PostgreSQL reference.

    .venv/bin/python benchmarks/bench_occurrences.py [--tasks 10000] [--seed 14] [--no-postgres]

The tasks mix the enterprise cadences as the demo's rules make them (a third 8-hour shifts from 8:00, the rest
daily, weekly, ten-day on the 5th/15th/24th, monthly on the 25th, quarterly), all starting 2026-01-01, every day;
one unit in ten is under a week's maintenance in June. The figure is one
`riskmap.inspections.occurrences.occurrences` call over 2026 (Beijing time), states at 2026-07-01.

Reference: the same windows and states computed in PostgreSQL by `generate_series` per task (a LATERAL join, the
shutdowns by EXISTS), counted per state on the server (it returns the counts, not the rows). Both must give the same
count for every state; the ratio is PostgreSQL time / in-process time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskmap.clock import LOCAL_ZONE  # noqa: E402
from riskmap.inspections.cadence import Cadence  # noqa: E402
from riskmap.inspections.occurrences import Shutdown, occurrences  # noqa: E402
from riskmap.inspections.tasks import Assignee, Task  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
UNITS = 3000
# cadence, weight, then its series for the reference: (first start, step) in Beijing time, one per series
MIX = [({"kind": "shift", "hours": 8, "work_start": "8:00"}, 33, [("2026-01-01 00:00", "8 hours")]),
       ({"kind": "daily"}, 25, [("2026-01-01", "1 day")]),
       ({"kind": "weekly"}, 15, [("2026-01-05", "7 days")]),
       ({"kind": "ten_days", "dates": [5, 15, 24]}, 10,
        [("2026-01-05", "1 month"), ("2026-01-15", "1 month"), ("2026-01-24", "1 month")]),
       ({"kind": "monthly", "day": 25}, 12, [("2026-01-25", "1 month")]),
       ({"kind": "quarterly"}, 5, [("2026-01-01", "3 months")])]
YEAR = ("2026-01-01", "2027-01-01")
NOW = "2026-07-01"
STOP = ("2026-06-01", "2026-06-08")


def build(n: int, seed: int) -> list[tuple[Task, int]]:
    """N tasks (and their index in MIX) on UNITS units."""
    rng = random.Random(seed)
    picks = [i for i, (_, w, _) in enumerate(MIX) for _ in range(w)]
    out = []
    for i in range(n):
        k = rng.choice(picks)
        out.append((Task(key=f"U{i % UNITS}|E|{i}", unit_code=f"U{i % UNITS}", title="t", items=["a"],
                         cadence=Cadence.parse(MIX[k][0]), assignee=Assignee(), starts_on=date(2026, 1, 1),
                         id=i + 1), k))
    return out


def in_process(tasks: list[Task]) -> tuple[float, Counter]:
    """One occurrences() call over the year; its time and the count per state."""
    bj = [datetime.fromisoformat(t).replace(tzinfo=LOCAL_ZONE) for t in (*YEAR, NOW, *STOP)]
    stops = {f"U{u}": [Shutdown(f"U{u}", bj[3], bj[4], "检修")] for u in range(0, UNITS, 10)}
    began = time.perf_counter()
    found = occurrences(tasks, bj[0], bj[1], now=bj[2], shutdowns=stops)
    took = time.perf_counter() - began
    return took, Counter(o.state for o in found)


def in_postgres(picked: list[tuple[Task, int]], dsn: str) -> tuple[float, Counter]:
    """The same windows and states by generate_series on the server; its time (best of 2) and counts."""
    import psycopg

    rows = [(t.id, t.unit_code, s, step) for t, k in picked for s, step in MIX[k][2]]
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'Asia/Shanghai'")
        cur.execute("CREATE TEMP TABLE series (task int, unit text, first timestamptz, step interval)")
        with cur.copy("COPY series FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute("CREATE TEMP TABLE stops AS SELECT 'U' || u AS unit, %s::timestamptz AS s, %s::timestamptz AS e "
                    "FROM generate_series(0, %s - 1, 10) u", (*STOP, UNITS))
        cur.execute("ANALYZE series; ANALYZE stops")
        query = """
            WITH w AS (
                SELECT sr.task, sr.unit, g AS start,
                       lead(g) OVER (PARTITION BY sr.task ORDER BY g) AS next_start, sr.step
                FROM series sr, LATERAL generate_series(sr.first, %(end)s::timestamptz + sr.step, sr.step) g
            ), windows AS (
                SELECT task, unit, start, next_start AS "end" FROM w WHERE next_start IS NOT NULL
                    AND start < %(end)s::timestamptz AND next_start > %(start)s::timestamptz
            )
            SELECT CASE WHEN EXISTS (SELECT 1 FROM stops s WHERE s.unit = windows.unit AND s.s < windows."end"
                                     AND s.e > windows.start) THEN 'suspended'
                        WHEN %(now)s::timestamptz >= "end" THEN 'missed'
                        WHEN %(now)s::timestamptz >= start THEN 'due' ELSE 'upcoming' END AS state, count(*)
            FROM windows GROUP BY 1"""
        params = {"start": YEAR[0], "end": YEAR[1], "now": NOW}
        best, counts = None, Counter()
        for _ in range(2):
            began = time.perf_counter()
            cur.execute(query, params)
            counts = Counter(dict(cur.fetchall()))
            took = time.perf_counter() - began
            best = took if best is None else min(best, took)
    return best, counts


def main() -> None:
    """Time both, check they agree, print the figures and the ratio."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--dsn", default=ADMIN_DSN)
    args = ap.parse_args()
    picked = build(args.tasks, args.seed)
    took, counts = in_process([t for t, _ in picked])
    total = sum(counts.values())
    print(f"in-process: {args.tasks} tasks, {total:,} occurrences in 2026 in {took:.2f} s "
          f"({total / took / 1e6:.2f} M/s); {dict(sorted(counts.items()))}")
    if args.no_postgres:
        return
    pg_took, pg_counts = in_postgres(picked, args.dsn)
    print(f"PostgreSQL reference (generate_series, counts only): {pg_took:.2f} s; {dict(sorted(pg_counts.items()))}")
    if pg_counts != counts:
        raise SystemExit(f"the counts differ: in-process {dict(counts)} vs PostgreSQL {dict(pg_counts)}")
    print(f"ratio PostgreSQL / in-process: {pg_took / took:.2f}x (the same count for every state)")


if __name__ == "__main__":
    main()
