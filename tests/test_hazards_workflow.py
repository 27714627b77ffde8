"""The hidden-hazard loop as a pure state machine (riskmap.hazards.workflow), without a database: every transition
from every state by every role, the five in place, deadlines, the acceptor who rectified, codes as data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import shapely

from riskmap import hazards
from riskmap.hazards import Actor, Hazard, State, apply, workflow
from riskmap.hazards.model import check_near
from riskmap.people import ROLES

# 2026-12-06 23:30 UTC is already 2026-12-07 in Beijing.
NOW = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
BEIJING_TODAY = date(2026, 12, 7)
FULL_PLAN = {"goal": "消除泄漏", "methods": "更换密封", "funds": "5000 元已批", "organisation": "设备部",
             "schedule": "12 月底前", "safety": "作业许可、监护", "emergency": "泄漏专项预案"}


def actor(role: str, name: str | None = None, account_id: int | None = None) -> Actor:
    return Actor(name or f"{role} 人", account_id, ROLES[role][2])


def hazard_in(state: State, **kw) -> Hazard:
    base = Hazard(id="a" * 32, name="泵 P-101 机封泄漏", state=state, rectifier="rectifier 人", rectifier_id=5,
                  deadline=BEIJING_TODAY + timedelta(days=10), liable_person="王工", version=3)
    return replace(base, **kw)


VALID = {   # values that pass each transition's field rules
    "report": {"name": "泵 P-101 机封泄漏", "source": 1, "hazard_type": 7},
    "fix_on_spot": {"name": "消防通道堆放杂物", "source": 1, "hazard_type": 5, "note": "当场清理"},
    "confirm": {"level": 0},
    "correct": {"department": "设备部", "location": {"type": "Point", "coordinates": [120.001, 32.0]}},
    "reject": {},
    "assign": {"rectifier": "rectifier 人", "rectifier_id": 5, "deadline": BEIJING_TODAY + timedelta(days=5)},
    "rectify": {},
    "submit": {"note": "已更换机封"},
    "accept": {"note": "复查无泄漏"},
    "send_back": {},
    "close": {},
    "request_extension": {"deadline": (BEIJING_TODAY + timedelta(days=30)).isoformat()},
    "grant_extension": {},
    "refuse_extension": {},
}
WHO = {"rectify": 5, "submit": 5, "request_extension": 5}       # the assigned rectifier's account


def _hazard_for(action: str, state: State | None) -> Hazard | None:
    if state is None:
        return None
    extension = {"deadline": (BEIJING_TODAY + timedelta(days=30)).isoformat(), "by": "r", "by_id": 5, "at": "x"}
    return hazard_in(state, extension=extension if action in ("grant_extension", "refuse_extension") else None)


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("action", sorted(workflow.TRANSITIONS))
def test_every_transition_from_every_state_by_every_role(action, role):
    t = workflow.TRANSITIONS[action]
    for state in [None, *State]:
        who = actor(role, account_id=WHO.get(action, 77))
        before = _hazard_for(action, state)
        may = t.permission in ROLES[role][2]
        if state not in t.sources:
            with pytest.raises(workflow.TransitionError):
                apply(before, action, who, VALID[action], reason="因为", now=NOW)
            continue
        if not may:
            with pytest.raises(workflow.TransitionForbidden):
                apply(before, action, who, VALID[action], reason="因为", now=NOW)
            assert action not in workflow.allowed(before, who)
            continue
        after, step = apply(before, action, who, VALID[action], reason="因为", now=NOW)
        assert action in workflow.allowed(before, who)
        assert after.state == (t.target or state)
        assert step.from_state == state and step.to_state == after.state and step.author == who.name
        assert after.version == (before.version + 1 if before else 1)
        if before is not None:
            assert before.state == state           # the record given is never changed


def test_the_happy_path_and_the_national_state():
    manager, rectifier, inspector = actor("safety_manager", "张经理", 1), actor("rectifier", "李工", 5), \
        actor("inspector", "赵巡检", 9)
    h, step = apply(None, "report", inspector, {"name": "罐区 V-201 液位计失灵", "source": 9, "hazard_type": 4,
                                                "unit_code": "U-201", "risk_event_code": "E1", "control_index": 0,
                                                "location": {"type": "Point", "coordinates": [120.001, 32.0]}},
                    now=NOW)
    assert h.state == State.REPORTED and h.registrant == "赵巡检" and h.registrant_id == 9 and len(h.id) == 32
    assert step.changed["name"] == (None, "罐区 V-201 液位计失灵") and h.danger_state() == 0
    h, _ = apply(h, "confirm", manager, {"department": "储运部"}, now=NOW)
    h, _ = apply(h, "assign", manager, {"rectifier": "李工", "rectifier_id": 5, "deadline": "2026-12-20"}, now=NOW)
    assert h.deadline == date(2026, 12, 20) and h.manage_type == 1
    h, _ = apply(h, "rectify", rectifier, {}, now=NOW)
    h, _ = apply(h, "submit", rectifier, {"note": "更换液位计"}, now=NOW)
    assert h.state == State.AWAITING and h.danger_state() == 1
    h, step = apply(h, "accept", manager, {"note": "验收合格"}, now=NOW)
    assert h.accept_person == "张经理" and h.accept_at == NOW and h.danger_state() == 9 and not h.is_open()
    assert set(step.changed) >= {"state", "accept_person", "accept_comment", "accept_at"}
    h, _ = apply(h, "close", manager, {}, now=NOW)
    assert h.state == State.CLOSED and h.danger_state() == 9
    rejected, _ = apply(hazard_in(State.REPORTED), "reject", manager, {}, reason="不是隐患", now=NOW)
    assert rejected.danger_state() is None and not rejected.is_open()


def test_the_acceptor_is_never_the_rectifier():
    # a safety manager who was assigned the work (by account id, or by name without accounts) cannot accept it
    h = hazard_in(State.AWAITING, rectifier="张经理", rectifier_id=1)
    for who in (actor("safety_manager", "张经理", 1), actor("safety_manager", "张经理", None)):
        with pytest.raises(workflow.TransitionForbidden, match="验收人不能是整改人"):
            apply(h, "accept", who, {"note": "ok"}, now=NOW)
        with pytest.raises(workflow.TransitionForbidden):
            apply(h, "send_back", who, {}, reason="不行", now=NOW)
    assert apply(h, "accept", actor("safety_manager", "钱主任", 2), {"note": "ok"}, now=NOW)[0].state == State.ACCEPTED


def test_only_the_assigned_rectifier_works_on_it():
    h = hazard_in(State.ASSIGNED, rectifier_id=5)
    with pytest.raises(workflow.TransitionForbidden, match="指派给"):
        apply(h, "rectify", actor("rectifier", "别人", 6), {}, now=NOW)


def test_a_major_hazard_needs_the_five_in_place_and_its_plan():
    rectifier = actor("rectifier", "李工", 5)
    h = hazard_in(State.ASSIGNED, level=1, liable_person=None, cost=None)
    with pytest.raises(workflow.FiveInPlaceError) as caught:
        apply(h, "rectify", rectifier, {}, now=NOW)
    missing = "\n".join(caught.value.details)
    for part in ("责任落实", "措施落实", "资金落实", "预案落实", "治理的目标和任务", "安全措施"):
        assert part in missing
    assert "时限落实" not in missing                    # the deadline is there
    half = {k: v for k, v in FULL_PLAN.items() if k != "safety"}
    with pytest.raises(workflow.FiveInPlaceError) as caught:
        apply(h, "rectify", rectifier, {"liable_person": "王工", "rectification_measures": "更换", "cost": "5000",
                                        "plan": half}, now=NOW)
    assert caught.value.details == ["整改方案：安全措施和应急预案 / the plan's safety measures during the work"]
    done, step = apply(h, "rectify", rectifier, {"liable_person": "王工", "rectification_measures": "更换",
                                                 "cost": "5000", "plan": FULL_PLAN}, now=NOW)
    assert done.state == State.RECTIFYING and done.cost == Decimal("5000") and step.changed["plan"][1] == FULL_PLAN
    assert h.state == State.ASSIGNED                  # refused attempts changed nothing
    # a general hazard needs none of it
    assert apply(replace(h, level=0), "rectify", rectifier, {}, now=NOW)[0].state == State.RECTIFYING


def test_a_determination_item_makes_it_major_and_must_exist():
    h, _ = apply(None, "report", actor("inspector"), {"name": "液化烃球罐无注水措施", "source": 3, "hazard_type": 2,
                                                      "level": 0, "item": "chem-2017-121:6"}, now=NOW)
    assert h.level == 1 and h.major
    assert "注水" in hazards.items()["chem-2017-121:6"].text and len(
        [i for i in hazards.items() if i.startswith("chem-2017-121:")]) == 20
    with pytest.raises(hazards.HazardInputError, match="判定标准条目"):
        apply(None, "report", actor("inspector"), {"name": "x", "item": "chem-2017-121:21"}, now=NOW)
    with pytest.raises(hazards.HazardInputError, match="即查即改"):
        apply(None, "fix_on_spot", actor("inspector"), {"name": "x", "item": "chem-2017-121:2", "note": "y"}, now=NOW)


def test_deadlines_are_beijing_dates_and_never_in_the_past():
    manager = actor("safety_manager", "张经理", 1)
    h = hazard_in(State.CONFIRMED, deadline=None)
    with pytest.raises(workflow.DeadlineError, match="已过"):       # 2026-12-06 is yesterday in Beijing
        apply(h, "assign", manager, {"rectifier": "李工", "deadline": "2026-12-06"}, now=NOW)
    with pytest.raises(hazards.HazardInputError, match="整改期限不能为空"):
        apply(h, "assign", manager, {"rectifier": "李工"}, now=NOW)
    assert apply(h, "assign", manager, {"rectifier": "李工", "deadline": "2026-12-07"}, now=NOW)[0].deadline \
        == BEIJING_TODAY
    # overdue: open and the deadline's day has ended in Beijing
    h = hazard_in(State.RECTIFYING, deadline=date(2026, 12, 6))
    assert h.overdue(NOW) and not h.overdue(datetime(2026, 12, 6, 15, 59, tzinfo=UTC))
    assert not replace(h, state=State.ACCEPTED).overdue(NOW) and not replace(h, deadline=None).overdue(NOW)


def test_extension_request_grant_and_refusal():
    rectifier, manager = actor("rectifier", "李工", 5), actor("safety_manager", "张经理", 1)
    h = hazard_in(State.RECTIFYING, deadline=BEIJING_TODAY + timedelta(days=2))
    with pytest.raises(workflow.DeadlineError, match="应晚于"):
        apply(h, "request_extension", rectifier, {"deadline": h.deadline.isoformat()}, reason="缺件", now=NOW)
    with pytest.raises(hazards.HazardInputError, match="原因不能为空"):
        apply(h, "request_extension", rectifier, {"deadline": "2027-01-31"}, now=NOW)
    with pytest.raises(workflow.TransitionError, match="没有待批准"):
        apply(h, "grant_extension", manager, {}, now=NOW)
    asked, _ = apply(h, "request_extension", rectifier, {"deadline": "2027-01-31"}, reason="备件未到", now=NOW)
    assert asked.extension["deadline"] == "2027-01-31" and asked.deadline == h.deadline
    with pytest.raises(workflow.TransitionError, match="已有待批准"):
        apply(asked, "request_extension", rectifier, {"deadline": "2027-02-28"}, reason="又", now=NOW)
    granted, step = apply(asked, "grant_extension", manager, {}, now=NOW)
    assert granted.deadline == date(2027, 1, 31) and granted.extension is None
    assert step.changed["deadline"] == (h.deadline, date(2027, 1, 31))
    shorter, _ = apply(asked, "grant_extension", manager, {"deadline": "2027-01-15"}, now=NOW)
    assert shorter.deadline == date(2027, 1, 15)
    refused, _ = apply(asked, "refuse_extension", manager, {}, reason="按期完成", now=NOW)
    assert refused.deadline == h.deadline and refused.extension is None


def test_fix_on_spot_in_one_step_with_its_evidence():
    h, step = apply(None, "fix_on_spot", actor("inspector", "赵巡检", 9),
                    {"name": "消防通道堆放杂物", "source": 1, "hazard_type": 5, "note": "当场清理，恢复通道"}, now=NOW)
    assert h.state == State.CLOSED and h.manage_type == 0 and h.rectification_note == "当场清理，恢复通道"
    assert h.danger_state() == 9 and h.rectifier == "赵巡检" and step.from_state is None
    with pytest.raises(hazards.HazardInputError, match="证据"):
        apply(None, "fix_on_spot", actor("inspector"), {"name": "x"}, now=NOW)


@pytest.mark.parametrize("values, match", [
    ({"name": ""}, "隐患名称不能为空"),
    ({}, "隐患名称不能为空"),
    ({"name": "x" * 201}, "过长"),
    ({"name": "x\x00"}, "控制字符"),
    ({"name": "x", "source": 11}, "不是 a code|无效"),
    ({"name": "x", "source": True}, "无效"),
    ({"name": "x", "hazard_type": "9"}, "无效"),
    ({"name": "x", "level": 2}, "无效"),
    ({"name": "x", "source": 9}, "管控措施失效"),
    ({"name": "x", "control_index": 1}, "需注明评估单元"),
    ({"name": "x", "cost": "-1"}, "整改资金"),
    ({"name": "x", "cost": "NaN"}, "整改资金"),
    ({"name": "x", "location": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}, "点或面"),
    ({"name": "x", "location": {"type": "Point", "coordinates": [200, 0]}}, "经纬度"),
    ({"name": "x", "location": "nowhere"}, "GeoJSON"),
    ({"name": "x", "registrant": "me"}, "不接受"),
    ({"name": "x", "state": "closed"}, "不接受"),
])
def test_bad_report_fields(values, match):
    with pytest.raises(hazards.HazardInputError, match=match):
        apply(None, "report", actor("inspector"), values, now=NOW)


def test_unknown_transition_and_codes_as_data():
    with pytest.raises(hazards.HazardInputError.__mro__[1], match="没有操作"):
        apply(None, "teleport", actor("safety_manager"), {}, now=NOW)
    codes = hazards.codes()
    assert len(codes["dangerSrc"]) == 10 and codes["dangerSrc"][9][0] == "管控措施失效"
    assert set(codes["dangerState"]) == {0, 1, 9} and set(codes["dangerLevel"]) == {0, 1}
    assert hazards.label("hazardDangerType", 5) == "消防 / fire protection"
    trade = hazards.items()["trade-2023-10:12.2"]
    assert trade.scope == "使用液氨制冷的工贸企业" and "9人" in trade.text
    assert trade.document.startswith("应急管理部令第10号")


def test_a_location_far_from_the_plant_is_refused():
    plant = (120.0, 32.0, 120.01, 32.01)
    check_near(shapely.Point(120.005, 32.005), plant)
    check_near(shapely.Point(120.05, 32.0), plant)             # ~3.8 km east: near enough
    with pytest.raises(hazards.FarFromPlantError, match="公里"):
        check_near(shapely.Point(32.0, 120.0 - 90), plant)     # swapped coordinates
    with pytest.raises(hazards.FarFromPlantError):
        check_near(shapely.Point(120.2, 32.0), plant)
