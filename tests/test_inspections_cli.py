"""`riskmap inspection …` run as a user runs it, on the demo plant (which `riskmap demo` loads with tasks, three
weeks of checks and a unit under maintenance)."""

from __future__ import annotations

import json
from datetime import timedelta

import clikit
from kit import DEMO_ENTERPRISE


def test_the_demo_has_every_state(demo_copy):
    from riskmap.clock import now
    from riskmap.inspections import store as ins
    from riskmap.store import open_store

    store = open_store(demo_copy)
    try:
        found, _ = ins.due(store, DEMO_ENTERPRISE, *ins.window_range("month", now() - timedelta(days=3)))
        found += ins.due(store, DEMO_ENTERPRISE, *ins.window_range("today"))[0]
        assert {o.state for o in found} >= {"done", "missed", "due", "suspended"}
        recs = ins.records(store, DEMO_ENTERPRISE, limit=10000)
        assert {r.status for r in recs} == {0, 1} and len(recs) > 1000
        assert ins.shutdowns(store, DEMO_ENTERPRISE)[0].reason.startswith("年度检修")
        tasks = ins.tasks(store, DEMO_ENTERPRISE)
        assert {t.assignee.work_type for t in tasks} == {0, 1, 2, 3}
        # the demo inspector (role inspector) may check the post checks that are open now
        mine, _ = ins.due(store, DEMO_ENTERPRISE, *ins.window_range("today"),
                          person=ins.Inspector("演示排查人员", roles=("inspector",)))
        assert mine and {by.assignee.kind for by in tasks if by.id in {o.task_id for o in mine}} == {"role"}
    finally:
        store.close()


def test_commands(demo_copy):
    db = ["--db", demo_copy]
    out = json.loads(clikit.run("inspection", "tasks", "--unit", "CY-01", "--json", *db).stdout)
    assert out and all(t["unit_id"] == "CY-01" for t in out)
    task = next(t for t in out if t["assignee"]["kind"] == "department")
    post = ["--department", task["assignee"]["value"]]
    again = json.loads(clikit.run("inspection", "generate", "--json", *db).stdout)
    assert again["created"] == 0 and again["kept"] == again["tasks"]
    due = json.loads(clikit.run("inspection", "due", "--window", "today", "--unit", "CY-01", "--json", *db).stdout)
    open_now = [o for o in due if o["task_id"] == task["id"] and o["state"] == "due"]
    answers = [f"--answer={i + 1}=pass" for i in range(len(task["items"]))]
    if open_now:
        saved = json.loads(clikit.run("inspection", "record", task["id"], "--person", "演示排查人员", *post,
                                      *answers, "--device", "cli", "--json", *db).stdout)
        assert saved["status"] == 0 and not saved["late"]
    stranger = clikit.run("inspection", "record", task["id"], "--person", "路人", "--post", "无", *answers, *db,
                          check=False)
    assert stranger.returncode == 1 and "不是该任务的执行人" in stranger.stderr
    clikit.one_line_error(clikit.run("inspection", "record", task["id"], "--person", "x", "--answer", "one=pass",
                                     *db, check=False), "item=result")
    clikit.one_line_error(clikit.run("inspection", "due", "--window", "year", *db, check=False), "today")
    stop = clikit.run("inspection", "shutdown", "CY-02", "--start", "2026-12-01T08:00", "--end", "2026-12-02T08:00",
                      "--reason", "检修", "--json", *db)
    assert any(s["unit_id"] == "CY-02" for s in json.loads(stop.stdout))
    clikit.one_line_error(clikit.run("inspection", "shutdown", "NOPE", "--start", "2026-12-01", "--reason", "x",
                                     *db, check=False), "NOPE")
    issued = json.loads(clikit.run("inspection", "checkpoints", "--issue", "--json", *db).stdout)
    assert issued and all(c["path"] == f"/c/{c['token']}" for c in issued)
    listed = json.loads(clikit.run("inspection", "checkpoints", "--json", *db).stdout)
    assert len(listed) == len(issued) and "token" not in listed[0]
    export = json.loads(clikit.run("inspection", "export", *db).stdout)
    assert export["tasks"][0]["checkCycleUnit"] in ("小时", "天", "月", "年") and export["records"]
    assert export["stops"][-1]["stopStartTime"] == "2026-12-01 08:00:00"
