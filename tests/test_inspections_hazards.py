"""A failed check item becomes a hidden hazard in the check record's own transaction (both backends): the hazard is
reported, source 1 日常排查, with unit, event, control measure (0-based), place and the record id; a hazard that
cannot be reported takes the record down with it (nothing written); without "hazard_report" only drafts."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from riskmap.clock import LOCAL_ZONE
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.hazards.workflow import Actor
from riskmap.inspections import store as ins
from riskmap.inspections.errors import RecordError
from riskmap.store import hazards as hz
from riskmap.store.schema import HazardRow, InspectionRecordRow

ENT = "巡检化工"
NOW = datetime(2026, 3, 5, 10, tzinfo=LOCAL_ZONE)
WHO = ins.Inspector("张三", account_id=None, post="1# 泵")
REPORTER = Actor("张三", None, frozenset({"read", "inspect", "hazard_report"}))


def _units(with_event: bool = True) -> list[AssessmentUnit]:
    events = [RiskEvent(name="泵泄漏", id="E1", controls=[
        ControlMeasure("泵出口压力联锁", cls="1-1", tier="post", department="生产部", person="王工"),
        ControlMeasure("出口阀门完好", cls="1-1", tier="post", department="生产部", person="王工")])]
    return [AssessmentUnit("W", "一车间", kind=UnitKind.MAIN, department="生产部"),
            AssessmentUnit("P1", "1# 泵", kind=UnitKind.EQUIPMENT, parent_id="W",
                           events=events if with_event else [])]


@pytest.fixture
def plant(store):
    store.save_units(ENT, _units())
    ins.generate(store, ENT, starts_on=date(2026, 3, 1))
    return store


def _second(store):
    return next(t for t in ins.tasks(store, ENT) if t.control_index == 2)


def _answers(task, fail: bool = True):
    return [{"item": i + 1, "result": "fail" if fail else "pass", "note": f"问题{i}" if fail else None}
            for i in range(len(task.items))]


def _count(store, table) -> int:
    with store.session() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_failed_items_report_hazards_with_the_record(plant):
    store = plant
    task = _second(store)
    version = store.data_version(ENT)
    rec, drafts = ins.record_check(store, ENT, task.id, _answers(task), inspector=WHO, reporter=REPORTER,
                                   checked_at=datetime(2026, 3, 5, 9, tzinfo=LOCAL_ZONE), now=NOW)
    assert len(drafts) == len(task.items) >= 1 and all(d.get("hazard_id") for d in drafts)
    assert store.data_version(ENT) == version + 1                  # one transaction: one new data version
    for draft, answer in zip(drafts, _answers(task), strict=True):
        h = hz.get(store, ENT, draft["hazard_id"])
        assert h["state"] == "reported" and h["source"] == 1 and h["unit_id"] == "P1"
        assert h["risk_event"] == "E1" and h["control_index"] == 1       # the task's 2nd control, counted from 0
        assert h["check_record_id"] == str(rec.id) and h["description"] == answer["note"]
        assert h["name"].startswith("1# 泵：") and h["registrant"] == "张三"
        assert [step["action"] for step in h["timeline"]] == ["report"]
    passed, none = ins.record_check(store, ENT, task.id, _answers(task, fail=False), inspector=WHO,
                                    reporter=REPORTER, corrects=rec.id, now=NOW,
                                    checked_at=datetime(2026, 3, 5, 9, 30, tzinfo=LOCAL_ZONE))
    assert none == [] and _count(store, HazardRow) == len(task.items)


def test_without_the_permission_only_drafts(plant):
    store = plant
    task = _second(store)
    _, drafts = ins.record_check(store, ENT, task.id, _answers(task), inspector=WHO, now=NOW,
                                 reporter=Actor("张三", None, frozenset({"read", "inspect"})),
                                 checked_at=datetime(2026, 3, 5, 9, tzinfo=LOCAL_ZONE))
    assert drafts and not any("hazard_id" in d for d in drafts) and _count(store, HazardRow) == 0


def test_a_hazard_that_cannot_be_reported_keeps_no_record(plant):
    store = plant
    task = _second(store)
    store.save_units(ENT, _units(with_event=False))      # the ledger lost the event; tasks not regenerated
    version, records = store.data_version(ENT), _count(store, InspectionRecordRow)
    with pytest.raises(RecordError, match="排查记录未保存"):
        ins.record_check(store, ENT, task.id, _answers(task), inspector=WHO, reporter=REPORTER, now=NOW,
                         checked_at=datetime(2026, 3, 5, 9, tzinfo=LOCAL_ZONE))
    assert store.data_version(ENT) == version and _count(store, InspectionRecordRow) == records
    assert _count(store, HazardRow) == 0
