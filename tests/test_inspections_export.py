"""The national export of inspections round-trips: every cadence kind's task fields (checkCycle, checkCycleUnit,
workStartTime, workEndTime, workDayType, workType, taskNum, deleted) decode back to the same cadence
(riskmap.inspections.cadence.from_national), the records carry checkStatus 0 normal / 1 hazard found / 2 not
checked / 3 other and isDefend as saved, and the library, HTTP (/api/inspections/export) and the CLI
(`riskmap inspection export`) give the same rows; `since` filters; a bad `since` is a 422 / a one-line error."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime

import clikit
import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.clock import LOCAL_ZONE
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.inspections import store as ins
from riskmap.inspections.cadence import from_national
from riskmap.settings import Settings

ENT = "导出化工"

# (cadence, assignee): every kind, both shift lengths, the three day types, the three 包保 work types.
PLAN = [
    ({"kind": "shift", "hours": 8, "work_start": "08:00"}, {"kind": "post", "value": "1# 泵"}),
    ({"kind": "shift", "hours": 12, "work_start": "20:00", "work_end": "08:00"}, {"kind": "post", "value": "1# 泵"}),
    ({"kind": "daily"}, {"kind": "post", "value": "1# 泵"}),
    ({"kind": "daily", "day_type": 1}, {"kind": "person", "value": "王总", "work_type": 1, "task_num": 3}),
    ({"kind": "weekly", "weekday": 5, "day_type": 2}, {"kind": "person", "value": "李工", "work_type": 2,
                                                        "task_num": 9}),
    ({"kind": "ten_days", "dates": [5, 15, 24]}, {"kind": "person", "value": "赵主任", "work_type": 3,
                                                   "task_num": 10}),
    ({"kind": "monthly", "day": 25}, {"kind": "department", "value": "生产部"}),
    ({"kind": "quarterly"}, {"kind": "department", "value": "生产部"}),
    ({"kind": "yearly", "month": 6, "day": 1}, {"kind": "department", "value": "生产部"}),
    ({"kind": "custom", "every": 2, "unit": "month"}, {"kind": "department", "value": "生产部"}),
]


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_ZONE)


def _units() -> list[AssessmentUnit]:
    controls = [ControlMeasure(f"措施 {n}", cls="1-1", tier="post", department="生产部") for n in range(len(PLAN))]
    return [AssessmentUnit("W", "一车间", kind=UnitKind.MAIN, department="生产部"),
            AssessmentUnit("P1", "1# 泵", kind=UnitKind.EQUIPMENT, parent_id="W",
                           events=[RiskEvent(name="泵泄漏", id="E1", controls=controls)])]


@pytest.fixture
def planned(store):
    store.save_units(ENT, _units())
    ins.generate(store, ENT, starts_on=date(2026, 3, 1))
    tasks = ins.tasks(store, ENT)
    assert len(tasks) == len(PLAN)
    for task, (cadence, who) in zip(tasks, PLAN, strict=True):
        ins.edit_task(store, ENT, task.id, {"cadence": cadence, "assignee": who},
                      if_match=str(task.row_version))
    tasks = ins.tasks(store, ENT)
    daily = next(t for t in tasks if t.cadence.kind == "daily" and t.cadence.day_type == 0)
    guarantor = next(t for t in tasks if t.assignee.work_type == 1)
    now = bj(2026, 3, 6, 12)
    saved = []
    for day, status in ((2, 0), (3, 1), (4, 2), (5, 3)):
        answers = [{"item": i + 1, "result": {0: "pass", 1: "fail" if i == 0 else "pass", 2: "na", 3: "pass"}[status]}
                   for i in range(len(daily.items))]
        record, _ = ins.record_check(store, ENT, daily.id, answers, inspector=ins.Inspector("张三"),
                                     checked_at=bj(2026, 3, day, 9, 30), device=f"PDA-{day}",
                                     note="巡检仪故障，改日复查" if status == 3 else None, other=status == 3,
                                     check_assignment=False, now=now)
        assert record.status == status
        saved.append(record)
    record, _ = ins.record_check(store, ENT, guarantor.id, [{"item": i + 1, "result": "pass"}
                                                            for i in range(len(guarantor.items))],
                                 inspector=ins.Inspector("王总"), checked_at=bj(2026, 3, 6, 10), check_assignment=False,
                                 now=now)
    saved.append(record)
    retired = next(t for t in tasks if t.cadence.kind == "custom")
    ins.edit_task(store, ENT, retired.id, {"active": False}, if_match=str(retired.row_version))
    return store, saved, retired


def test_task_fields_decode_to_the_same_cadence(planned):
    store, _, retired = planned
    out = ins.national_export(store, ENT)
    by_id = {t.id: t for t in ins.tasks(store, ENT, active_only=False)}
    assert len(out["tasks"]) == len(PLAN) and len({t["id"] for t in out["tasks"]}) == len(PLAN)
    rows = {row["id"]: row for row in out["tasks"]}
    for task in by_id.values():
        row = rows[task.national(ENT)["id"]]
        assert uuid.UUID(row["id"]) and row["riskMeasureId"] and row["troubleshootContent"]
        back = from_national(row["checkCycle"], row["checkCycleUnit"], work_start=row["workStartTime"],
                             work_end=row["workEndTime"], work_day_type=row["workDayType"])
        assert back.national() == task.cadence.national()
        assert {k: row[k] for k in back.national()} == back.national()
        assert (row["workType"], row["taskNum"]) == (task.assignee.work_type, task.assignee.task_num)
        assert row["deleted"] == ("1" if task.id == retired.id else "0")
        assert row["taskStartTime"] == "2026-03-01 00:00:00"
    units = {(r["checkCycle"], r["checkCycleUnit"]) for r in out["tasks"]}
    assert units >= {(8, "小时"), (12, "小时"), (1, "天"), (7, "天"), (10, "天"), (1, "月"), (3, "月"), (1, "年"),
                     (2, "月")}
    shifts = sorted((r["checkCycle"], r["workStartTime"], r["workEndTime"]) for r in out["tasks"]
                    if r["checkCycleUnit"] == "小时")
    assert shifts == [(8, "8:00:00", "8:00:00"), (12, "20:00:00", "8:00:00")]
    assert all(r["workStartTime"] is None for r in out["tasks"] if r["checkCycleUnit"] != "小时")
    assert sorted(r["workDayType"] for r in out["tasks"]) == [0] * 8 + [1, 2]
    assert sorted((r["workType"], r["taskNum"]) for r in out["tasks"] if r["workType"]) == [(1, 3), (2, 9), (3, 10)]
    assert ins.national_export(store, ENT)["tasks"] == out["tasks"]           # ids fixed forever


def test_records_carry_check_status_and_the_same_rows_come_from_http_and_cli(planned, store_url, tmp_path):
    store, saved, _ = planned
    out = ins.national_export(store, ENT)
    task_ids = {t["id"] for t in out["tasks"]}
    assert [r["checkStatus"] for r in out["records"]] == [0, 1, 2, 3, 0]
    assert [r["checkTime"] for r in out["records"]] == ["2026-03-02 09:30:00", "2026-03-03 09:30:00",
                                                         "2026-03-04 09:30:00", "2026-03-05 09:30:00",
                                                         "2026-03-06 10:00:00"]
    assert [r["isDefend"] for r in out["records"]] == ["0", "0", "0", "0", "1"]
    assert [r["mobileMe"] for r in out["records"]][:4] == ["PDA-2", "PDA-3", "PDA-4", "PDA-5"]
    assert all(r["checkTaskId"] in task_ids for r in out["records"])
    assert len({r["id"] for r in out["records"]}) == len(saved)

    with TestClient(create_app(Settings(db=store_url)), raise_server_exceptions=False) as client:
        http = client.get("/api/inspections/export", params={"enterprise": ENT})
        assert http.status_code == 200
        assert {k: http.json()[k] for k in ("tasks", "records", "stops")} == out
        since = client.get("/api/inspections/export", params={"enterprise": ENT, "since": "2026-03-04T00:00"}).json()
        assert [r["checkStatus"] for r in since["records"]] == [2, 3, 0] and since["tasks"] == out["tasks"]
        for bad in ("garbage", "2026-13-40", "x" * 100):
            r = client.get("/api/inspections/export", params={"enterprise": ENT, "since": bad})
            assert r.status_code == 422 and "/" in r.json()["detail"]

    target = tmp_path / "export.json"
    clikit.run("inspection", "export", "--out", target, "--db", store_url, "--enterprise", ENT)
    cli = json.loads(target.read_text(encoding="utf-8"))
    assert cli["enterprise"] == ENT and {k: cli[k] for k in ("tasks", "records", "stops")} == out
    printed = json.loads(clikit.run("inspection", "export", "--since", "2026-03-05", "--db", store_url,
                                    "--enterprise", ENT).stdout)
    assert [r["checkStatus"] for r in printed["records"]] == [3, 0]
    clikit.one_line_error(clikit.run("inspection", "export", "--since", "yesterday-ish", "--db", store_url,
                                     "--enterprise", ENT, check=False), "yesterday-ish", "ISO 8601")
