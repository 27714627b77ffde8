"""The inspection room's storage on both backends: tasks generated and edited (row version as ETag), shutdowns,
checkpoints (hash only, reissue retires the old code), append-only records, the data version, refusals that write
nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from riskmap.clock import LOCAL_ZONE
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.errors import EditConflict, InputError, NotFoundError, PreconditionRequired
from riskmap.inspections import store as ins
from riskmap.inspections.errors import (
    AlreadyCheckedError,
    CheckpointError,
    NoOccurrenceError,
    NoTaskError,
    NotAssignedError,
    RecordError,
)
from riskmap.inspections.occurrences import Shutdown
from riskmap.store.schema import ChangeRow, InspectionCheckpointRow, InspectionRecordRow

ENT, OTHER = "巡检化工", "别家化工"


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_ZONE)


def _units() -> list[AssessmentUnit]:
    pump_events = [RiskEvent(name="泵泄漏", id="E1", controls=[
        ControlMeasure("泵出口压力联锁", cls="1-1", tier="post", department="生产部", person="王工"),
        ControlMeasure("每月安全培训", cls="3-1", tier="team", department="生产部", person="王工")])]
    return [AssessmentUnit("W", "一车间", kind=UnitKind.MAIN, department="生产部"),
            AssessmentUnit("P1", "1# 泵", kind=UnitKind.EQUIPMENT, parent_id="W", events=pump_events),
            AssessmentUnit("T1", "甲醇罐", kind=UnitKind.EQUIPMENT, parent_id="W", major_hazard={"people_500m": 3},
                           events=[RiskEvent(name="罐泄漏", id="E2", controls=[
                               ControlMeasure("液位报警", cls="1-4", tier="department", department="储运部")])])]


@pytest.fixture
def plant(store):
    store.save_units(ENT, _units())
    store.save_units(OTHER, _units())
    ins.generate(store, ENT, starts_on=date(2026, 3, 1), author="安全员")
    return store


def _changes(store) -> int:
    with store.session() as s:
        return s.execute(select(func.count()).select_from(ChangeRow)).scalar_one()


def _task(store, kind):
    return next(t for t in ins.tasks(store, ENT) if t.cadence.kind == kind)


def test_generate_keeps_edits_retires_gone_controls_and_bumps_the_version(plant):
    store = plant
    tasks = ins.tasks(store, ENT)
    assert len(tasks) == 3 + 3 and {t.cadence.kind for t in tasks} == {"shift", "monthly", "daily", "quarterly",
                                                                       "weekly"}
    shift = _task(store, "shift")
    assert shift.row_version == 1 and shift.assignee.value == "1# 泵" and shift.unit_code == "P1"
    before = store.data_version(ENT)
    changed = ins.edit_task(store, ENT, shift.id, {"items": ["压力表读数正常"]}, if_match=f'"{shift.row_version}"',
                            author="安全员")
    assert changed.items == ["压力表读数正常"] and changed.row_version == 2 and store.data_version(ENT) == before + 1
    again = ins.generate(store, ENT, starts_on=date(2026, 3, 1))
    assert again == {"created": 0, "kept": 6, "retired": 0, "restored": 0, "updated": 0, "tasks": 6}
    assert ins.task(store, ENT, shift.id).items == ["压力表读数正常"]
    units = _units()
    units[1].events[0].controls.pop()               # the training measure is gone
    units[1].events[0].controls[0].description = "泵出口压力高高联锁停泵"
    store.save_units(ENT, units)
    counts = ins.generate(store, ENT)
    assert (counts["retired"], counts["updated"]) == (1, 1)
    after = ins.task(store, ENT, shift.id)
    assert after.control_text == "泵出口压力高高联锁停泵" and after.items == ["压力表读数正常"]
    assert after.row_version == 3
    assert len(ins.tasks(store, ENT)) == 5 and len(ins.tasks(store, ENT, active_only=False)) == 6
    assert ins.tasks(store, OTHER) == []


def test_edits_need_the_current_version_and_good_input(plant):
    store = plant
    task = _task(store, "shift")
    count, version = _changes(store), store.data_version(ENT)
    with pytest.raises(PreconditionRequired):
        ins.edit_task(store, ENT, task.id, {"title": "x"}, if_match=None)
    with pytest.raises(EditConflict):
        ins.edit_task(store, ENT, task.id, {"title": "x"}, if_match="7")
    for bad in ({"cadence": {"kind": "shift", "hours": 9}}, {"items": []}, {"key": "k"}, {"title": "x" * 201}):
        with pytest.raises(InputError):
            ins.edit_task(store, ENT, task.id, bad, if_match=task.row_version)
    with pytest.raises(NoTaskError):
        ins.edit_task(store, ENT, 999999, {"title": "x"}, if_match=1)
    other_task = None
    ins.generate(store, OTHER)
    other_task = ins.tasks(store, OTHER)[0]
    with pytest.raises(NoTaskError):                     # a task of another enterprise is not found
        ins.edit_task(store, ENT, other_task.id, {"title": "x"}, if_match=other_task.row_version)
    assert ins.task(store, ENT, task.id) == task
    assert _changes(store) == count + 1 and store.data_version(ENT) == version   # only OTHER's generation


def test_shutdowns_suspend_the_unit_and_what_is_below_it(plant):
    store = plant
    with pytest.raises(NotFoundError):
        ins.add_shutdown(store, ENT, Shutdown("NOPE", bj(2026, 3, 3), bj(2026, 3, 4), "检修"))
    with pytest.raises(InputError):
        ins.add_shutdown(store, ENT, Shutdown("W", bj(2026, 3, 4), bj(2026, 3, 3), "检修"))
    made = ins.add_shutdown(store, ENT, Shutdown("W", bj(2026, 3, 3, 8), bj(2026, 3, 4, 8), "年度检修"),
                            author="安全员")
    assert made.id and ins.shutdowns(store, ENT)[0].reason == "年度检修"
    occ, _ = ins.due(store, ENT, bj(2026, 3, 3), bj(2026, 3, 5), now=bj(2026, 3, 4, 12))
    daily = [o for o in occ if o.unit_code == "P1" and o.end - o.start == timedelta(hours=8)]
    assert [o.state for o in daily] == ["missed", "suspended", "suspended", "suspended", "due", "upcoming"]
    assert {o.shutdown_id for o in daily if o.state == "suspended"} == {made.id}
    one, _ = ins.due(store, ENT, bj(2026, 3, 3), bj(2026, 3, 5), now=bj(2026, 3, 4, 12), unit_id="P1")
    assert [o for o in one if o.end - o.start == timedelta(hours=8)] == daily      # the parent's shutdown counts


def test_checkpoints_keep_only_a_hash_and_reissue_retires_the_old_code(plant):
    store = plant
    issued = ins.issue_checkpoints(store, ENT, author="安全员")
    assert sorted(i["unit_id"] for i in issued) == ["P1", "T1"]
    token = next(i["token"] for i in issued if i["unit_id"] == "P1")
    assert issued[0]["path"] == f"/c/{issued[0]['token']}"
    with store.session() as s:
        hashes = list(s.execute(select(InspectionCheckpointRow.token_hash)).scalars())
    assert token not in hashes and all(len(h) == 64 for h in hashes)
    assert ins.issue_checkpoints(store, ENT) == []            # every post and equipment has one already
    assert ins.resolve_checkpoint(store, token) == (ENT, {**ins.checkpoints(store, ENT)[0]})
    with pytest.raises(CheckpointError, match="another enterprise"):
        ins.resolve_checkpoint(store, token, enterprise=OTHER)
    new = ins.issue_checkpoints(store, ENT, ["P1"], reissue=True)[0]["token"]
    with pytest.raises(CheckpointError, match="reissued"):
        ins.resolve_checkpoint(store, token)
    assert ins.resolve_checkpoint(store, new)[1]["unit_id"] == "P1"
    for bad in ("", "rmc_short", "x" * 5000, "rmc_" + "A" * 32, "../../etc/passwd"):
        with pytest.raises(CheckpointError):
            ins.resolve_checkpoint(store, bad)
    with pytest.raises(NotFoundError):
        ins.issue_checkpoints(store, ENT, ["NOPE"])
    assert len(ins.checkpoints(store, ENT)) == 2 and len(ins.checkpoints(store, ENT, current_only=False)) == 3


def _answers(task, fail=False):
    return [{"item": i + 1, "result": "fail" if fail and i == 0 else "pass", "note": "渗漏" if fail and i == 0
             else None} for i in range(len(task.items))]


def test_records_are_appended_corrected_never_edited(plant):
    store = plant
    task = _task(store, "shift")
    who = ins.Inspector("张三", post="1# 泵")
    now = bj(2026, 3, 5, 10)
    count = _changes(store)
    rec, drafts = ins.record_check(store, ENT, task.id, _answers(task, fail=True), inspector=who,
                                   checked_at=bj(2026, 3, 5, 9), device="PDA-1", now=now)
    assert rec.status == 1 and not rec.late and rec.window_start == bj(2026, 3, 5, 8) and rec.device == "PDA-1"
    assert drafts[0]["unit_id"] == "P1" and drafts[0]["place"] == "1# 泵" and drafts[0]["source"] == 1
    assert drafts[0]["control_measure"] == "泵出口压力联锁" and drafts[0]["check_record_id"] == rec.id
    with pytest.raises(AlreadyCheckedError):
        ins.record_check(store, ENT, task.id, _answers(task), inspector=who, checked_at=bj(2026, 3, 5, 9, 30),
                         now=now)
    fixed, drafts = ins.record_check(store, ENT, task.id, _answers(task), inspector=who, corrects=rec.id,
                                     checked_at=bj(2026, 3, 5, 9, 40), now=now)
    assert fixed.corrects == rec.id and fixed.status == 0 and drafts == [] and fixed.window_start == rec.window_start
    late, _ = ins.record_check(store, ENT, task.id, _answers(task), inspector=who, checked_at=bj(2026, 3, 5, 9, 50),
                               window_start=bj(2026, 3, 4, 16), now=now)
    assert late.late
    assert [r.id for r in ins.records(store, ENT, task_id=task.id)] == [late.id, fixed.id, rec.id]
    assert ins.records(store, ENT)[2].items[0].note == "渗漏"          # the corrected one is still there
    occ, _ = ins.due(store, ENT, bj(2026, 3, 4, 16), bj(2026, 3, 5, 16), now=now, unit_id="P1")
    states = [(o.start.hour, o.state, o.record_id) for o in occ if o.task_id == task.id]
    assert states == [(16, "done", late.id), (0, "missed", None), (8, "done", fixed.id)]
    assert _changes(store) == count + 3


def test_refused_checks_write_nothing(plant):
    store = plant
    task = _task(store, "shift")
    now = bj(2026, 3, 5, 10)
    with store.session() as s:
        before = s.execute(select(func.count()).select_from(InspectionRecordRow)).scalar_one()
    version = store.data_version(ENT)
    cases = [
        (NotAssignedError, dict(inspector=ins.Inspector("李四", post="罐区"))),
        (RecordError, dict(answers=[{"item": 1, "result": "pass"}])),
        (NoOccurrenceError, dict(checked_at=bj(2026, 3, 6))),                    # the future
        (NoOccurrenceError, dict(checked_at=bj(2026, 2, 1))),                    # before the task starts
        (NoTaskError, dict(task_id=10**9)),
        (NoTaskError, dict(task_id="1; DROP TABLE")),
        (CheckpointError, dict(checkpoint_token="rmc_" + "B" * 32)),
        (NotFoundError, dict(corrects=10**6)),
        (InputError, dict(device="d" * 300)),
    ]
    for error, change in cases:
        kwargs = dict(task_id=task.id, answers=_answers(task), inspector=ins.Inspector("张三", post="1# 泵"),
                      checked_at=bj(2026, 3, 5, 9), now=now)
        kwargs.update(change)
        with pytest.raises(error):
            ins.record_check(store, ENT, kwargs.pop("task_id"), kwargs.pop("answers"), **kwargs)
    token = ins.issue_checkpoints(store, ENT, ["T1"])[0]["token"]
    version = store.data_version(ENT)
    with pytest.raises(CheckpointError, match="not this task"):
        ins.record_check(store, ENT, task.id, _answers(task), inspector=ins.Inspector("张三", post="1# 泵"),
                         checkpoint_token=token, checked_at=bj(2026, 3, 5, 9), now=now)
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(InspectionRecordRow)).scalar_one() == before
    assert store.data_version(ENT) == version


def test_national_export(plant):
    store = plant
    task = _task(store, "shift")
    ins.record_check(store, ENT, task.id, _answers(task), inspector=ins.Inspector("张三", post="1# 泵"),
                     checked_at=bj(2026, 3, 5, 9), device="PDA-1", now=bj(2026, 3, 5, 10))
    ins.add_shutdown(store, ENT, Shutdown("T1", bj(2026, 3, 3, 8), None, "停用"))
    out = ins.national_export(store, ENT)
    shift = next(t for t in out["tasks"] if t["checkCycleUnit"] == "小时")
    assert shift["checkCycle"] == 8 and shift["workStartTime"] == "8:00:00" and shift["workDayType"] == 0
    assert sorted(t["workType"] for t in out["tasks"]) == [0, 0, 0, 1, 2, 3]
    assert out["records"] == [{"id": out["records"][0]["id"], "checkTaskId": shift["id"],
                               "checkTime": "2026-03-05 09:00:00", "mobileMe": "PDA-1", "isDefend": "0",
                               "checkStatus": 0}]
    assert out["stops"] == [{"riskUnitId": "T1", "stopStartTime": "2026-03-03 08:00:00", "stopEndTime": None,
                             "stopReason": "停用"}]


def test_imported_records_keep_their_moments_on_both_backends(plant):
    """The bulk path (COPY on PostgreSQL) stores the same instants as a single save."""
    from riskmap.inspections.records import CheckRecord, ItemResult

    store = plant
    task = _task(store, "shift")
    made = CheckRecord(task_id=task.id, window_start=bj(2026, 3, 2, 8), window_end=bj(2026, 3, 2, 16),
                       checked_at=bj(2026, 3, 2, 9, 15), person="演示", status=0,
                       items=tuple(ItemResult(i, "pass") for i in task.items))
    assert ins.import_records(store, ENT, [made]) == 1
    back = ins.records(store, ENT)[0]
    assert (back.window_start, back.window_end, back.checked_at) == (made.window_start, made.window_end,
                                                                     made.checked_at)
    occ, _ = ins.due(store, ENT, bj(2026, 3, 2, 8), bj(2026, 3, 2, 16), now=bj(2026, 3, 5))
    assert [o.state for o in occ if o.task_id == task.id] == ["done"]
    with pytest.raises(AlreadyCheckedError):
        ins.import_records(store, ENT, [made])
    with pytest.raises(NoTaskError):
        ins.import_records(store, ENT, [CheckRecord(**{**made.__dict__, "task_id": 10**6})])
    assert len(ins.records(store, ENT)) == 1


def test_reassign_moves_routine_tasks_of_one_kind_only(plant):
    from riskmap.inspections.tasks import Assignee

    store = plant
    version = store.data_version(ENT)
    assert ins.reassign(store, ENT, kind="post", assignee=Assignee("role", "inspector")) == 1
    tasks = ins.tasks(store, ENT)
    assert sorted(t.assignee.kind for t in tasks if not t.is_guarantor) == ["department", "department", "role"]
    assert all(t.assignee.work_type for t in tasks if t.assignee.kind == "role" and t.assignee.value != "inspector")
    assert store.data_version(ENT) == version + 1
    with pytest.raises(InputError):
        ins.reassign(store, ENT, kind="post", assignee=Assignee("nobody"))
