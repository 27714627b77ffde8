"""The demo plant's inspections: tasks generated from its controls three weeks back, a history of checks (most
done, some missed, some finding hazards, some of today's still due) and one piece of equipment under maintenance,
so that every state shows at first start. Deterministic (a fixed seed) apart from the day it is loaded."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from riskmap.clock import now as clock_now
from riskmap.domain import UnitKind
from riskmap.inspections import store as ins
from riskmap.inspections.occurrences import Shutdown
from riskmap.inspections.records import CheckRecord, ItemResult, check_status
from riskmap.inspections.tasks import Assignee
from riskmap.people import Author

DEMO_AUTHOR = "riskmap demo"
DEMO_INSPECTOR = "演示排查人员"         # the demo account of the inspector role (riskmap.demo)
DAYS = 21
SEED = 14
MISSED, FAILED, DUE_DONE = 0.12, 0.04, 0.5


def add_demo_inspections(store, name: str, *, now: datetime | None = None) -> dict:
    """Tasks, records and a maintenance for the demo enterprise; a summary of what was made."""
    now = now or clock_now()
    author = Author(DEMO_AUTHOR)
    counts = ins.generate(store, name, starts_on=(now - timedelta(days=DAYS)).date(), author=author)
    # The demo has one inspector account (demo-inspector), not one per post: the post checks are the role's.
    ins.reassign(store, name, kind="post", assignee=Assignee("role", "inspector"), author=author)
    tasks = ins.tasks(store, name)
    with_tasks = {t.unit_code for t in tasks}
    target = next(u for u in store.units(name) if u.kind == UnitKind.EQUIPMENT and u.id in with_tasks)
    ins.add_shutdown(store, name, Shutdown(target.id, now - timedelta(days=2), now + timedelta(days=5),
                                           "年度检修（演示）/ annual maintenance (demo)"), author=author)
    rng = random.Random(SEED)
    found, by_id = ins.due(store, name, now - timedelta(days=DAYS), now, now=now)
    made = []
    for o in found:
        roll = rng.random()
        if o.state == "suspended" or (o.state == "missed" and roll < MISSED) or \
                (o.state == "due" and roll < 1 - DUE_DONE):
            continue
        task = by_id[o.task_id]
        latest = min(o.end, now) - timedelta(minutes=1)
        at = o.start + (latest - o.start) * rng.uniform(0.05, 0.7)
        failing = rng.random() < FAILED
        items = tuple(ItemResult(item, "fail" if failing and i == 0 else "pass",
                                 "演示：发现异常 / demo: found wrong" if failing and i == 0 else None)
                      for i, item in enumerate(task.items))
        made.append(CheckRecord(task_id=task.id, window_start=o.start, window_end=o.end, checked_at=at,
                                person=DEMO_INSPECTOR, items=items, status=check_status(items), device="demo-PDA",
                                recorded_at=at))
    ins.import_records(store, name, made, author=author)
    return {"tasks": counts["tasks"], "records": len(made), "failed": sum(r.status == 1 for r in made),
            "maintenance": target.id}
