"""The inspection room without a database: cadences and their national encoding, the working-day calendar (make-up
working weekends), tasks generated from the demo ledger, occurrences and their states, check records."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from riskmap.clock import LOCAL_ZONE
from riskmap.domain import AssessmentUnit
from riskmap.errors import InputError
from riskmap.inspections.cadence import Cadence, from_national
from riskmap.inspections.errors import CadenceError, CalendarError, NoOccurrenceError, RecordError
from riskmap.inspections.occurrences import Shutdown, occurrences, shutdowns_by_unit, window_of_check
from riskmap.inspections.records import CheckRecord, answers_of, check_status, hazard_drafts
from riskmap.inspections.tasks import Assignee, Task, edited, generate_tasks, is_assigned
from riskmap.inspections.workdays import is_working_day
from riskmap.ledger import read_ledger
from riskmap.paths import demo_dir


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_ZONE)


def spans(cadence: Cadence, start: datetime, end: datetime, anchor=date(2026, 1, 1)) -> list[tuple[str, str]]:
    return [(w.start.strftime("%m-%d %H:%M"), w.end.strftime("%m-%d %H:%M"))
            for w in cadence.windows(anchor, start, end)]


# ------------------------------------------------------------------ national encoding

@pytest.mark.parametrize("given, expected", [
    ({"kind": "shift", "hours": 8, "work_start": "8:00"},
     {"checkCycle": 8, "checkCycleUnit": "小时", "workStartTime": "8:00:00", "workEndTime": "8:00:00",
      "workDayType": 0}),
    ({"kind": "shift", "hours": 12, "work_start": "08:00", "work_end": "20:00", "day_type": 1},
     {"checkCycle": 12, "checkCycleUnit": "小时", "workStartTime": "8:00:00", "workEndTime": "20:00:00",
      "workDayType": 1}),
    ({"kind": "daily"}, {"checkCycle": 1, "checkCycleUnit": "天", "workStartTime": None, "workEndTime": None,
                         "workDayType": 0}),
    ({"kind": "weekly"}, {"checkCycle": 7, "checkCycleUnit": "天", "workStartTime": None, "workEndTime": None,
                          "workDayType": 0}),
    ({"kind": "ten_days", "dates": [5, 15, 24]}, {"checkCycle": 10, "checkCycleUnit": "天", "workStartTime": None,
                                                  "workEndTime": None, "workDayType": 0}),
    ({"kind": "ten_days"}, {"checkCycle": 10, "checkCycleUnit": "天", "workStartTime": None, "workEndTime": None,
                            "workDayType": 0}),
    ({"kind": "monthly", "day": 25, "day_type": 2}, {"checkCycle": 1, "checkCycleUnit": "月", "workStartTime": None,
                                                      "workEndTime": None, "workDayType": 2}),
    ({"kind": "quarterly"}, {"checkCycle": 3, "checkCycleUnit": "月", "workStartTime": None, "workEndTime": None,
                             "workDayType": 0}),
    ({"kind": "yearly"}, {"checkCycle": 1, "checkCycleUnit": "年", "workStartTime": None, "workEndTime": None,
                          "workDayType": 0}),
    ({"kind": "custom", "every": 4, "unit": "hour", "work_start": "6:00"},
     {"checkCycle": 4, "checkCycleUnit": "小时", "workStartTime": "6:00:00", "workEndTime": "6:00:00",
      "workDayType": 0}),
    ({"kind": "custom", "every": 2, "unit": "year"}, {"checkCycle": 2, "checkCycleUnit": "年", "workStartTime": None,
                                                      "workEndTime": None, "workDayType": 0}),
])
def test_the_documented_national_encodings(given, expected):
    cadence = Cadence.parse(given)
    assert cadence.national() == expected
    back = from_national(expected["checkCycle"], expected["checkCycleUnit"], work_start=expected["workStartTime"],
                         work_end=expected["workEndTime"], work_day_type=expected["workDayType"])
    assert back.national() == expected
    assert Cadence.parse(cadence.to_dict()) == cadence


def test_named_cadences_come_out_as_documented():
    """班检, 日检, 周检 (7 天), 旬检 (10 天), 月检 (1 月): HAZARDS.md §3."""
    got = {Cadence.parse(c).label.split("（")[0]: (Cadence.parse(c).national()["checkCycle"],
                                                 Cadence.parse(c).national()["checkCycleUnit"])
           for c in ({"kind": "shift", "hours": 8}, {"kind": "daily"}, {"kind": "weekly"},
                     {"kind": "ten_days", "dates": [5, 15, 24]}, {"kind": "monthly", "day": 25})}
    assert got == {"班检": (8, "小时"), "日检": (1, "天"), "周检": (7, "天"), "旬检": (10, "天"), "月检": (1, "月")}


@pytest.mark.parametrize("bad", [
    {"kind": "hourly"}, {"kind": "shift", "hours": 10}, {"kind": "shift", "hours": 8, "work_start": "25:00"},
    {"kind": "shift", "hours": "eight"}, {"kind": "ten_days", "dates": [5, 30]}, {"kind": "monthly", "day": 0},
    {"kind": "custom", "every": 0, "unit": "day"}, {"kind": "custom", "every": 3, "unit": "week"},
    {"kind": "custom", "every": 5, "unit": "hour"}, {"kind": "daily", "day_type": 3}, {"kind": "daily", "x": 1},
    {"kind": "weekly", "weekday": 8}, "daily", {"kind": "custom", "every": True, "unit": "day"},
    {"kind": "ten_days", "dates": 5}, {"kind": "ten_days", "dates": "5,15"}, {"kind": "daily", "day_type": [1]},
    {"kind": "shift", "hours": [8]}, {"kind": "shift", "hours": 8, "work_start": {"h": 8}},
])
def test_bad_cadences_are_refused_with_a_message(bad):
    with pytest.raises(CadenceError) as caught:
        Cadence.parse(bad)
    assert "/ " in caught.value.message and caught.value.http_status == 422
    with pytest.raises(InputError):
        Cadence.parse(bad)


def test_national_units_outside_the_four_words_are_refused():
    with pytest.raises(CadenceError, match="checkCycleUnit"):
        from_national(1, "周")


# ------------------------------------------------------------------ working-day calendar

def test_the_calendar_knows_2026_with_its_make_up_working_weekends():
    assert is_working_day(date(2026, 1, 4))          # Sunday, worked for New Year
    assert is_working_day(date(2026, 2, 14))         # Saturday, worked for the Spring Festival
    assert not is_working_day(date(2026, 2, 16))     # Monday, Spring Festival
    assert not is_working_day(date(2026, 10, 1))
    assert not is_working_day(date(2026, 12, 5))     # an ordinary Saturday


def test_a_working_day_task_runs_on_the_make_up_saturday_and_not_in_the_holiday():
    daily = Cadence.parse({"kind": "daily", "day_type": 1})
    days = [s for s, _ in spans(daily, bj(2026, 2, 9), bj(2026, 2, 24))]
    assert days == ["02-09 00:00", "02-10 00:00", "02-11 00:00", "02-12 00:00", "02-13 00:00", "02-14 00:00"]
    off = Cadence.parse({"kind": "daily", "day_type": 2})
    off_days = [s[:5] for s, _ in spans(off, bj(2026, 2, 9), bj(2026, 2, 24))]
    assert "02-14" not in off_days and off_days == [f"02-{d}" for d in range(15, 24)]
    # a 12-hour shift on working days: both shifts of the make-up Saturday, none on the Sunday after
    shifts = Cadence.parse({"kind": "shift", "hours": 12, "work_start": "8:00", "day_type": 1})
    assert spans(shifts, bj(2026, 2, 14, 8), bj(2026, 2, 16)) == [("02-14 08:00", "02-14 20:00"),
                                                              ("02-14 20:00", "02-15 08:00")]


def test_a_weekly_working_day_window_shrinks_to_its_working_days_and_a_week_without_one_drops():
    weekly = Cadence.parse({"kind": "weekly", "day_type": 1})
    got = spans(weekly, bj(2026, 2, 9), bj(2026, 3, 2))
    assert got == [("02-09 00:00", "02-16 00:00"), ("02-24 00:00", "03-02 00:00")]   # 02-16..22 all holiday


def test_beyond_the_calendar_is_a_clear_error_and_every_day_needs_no_calendar():
    with pytest.raises(CalendarError) as caught:
        Cadence.parse({"kind": "daily", "day_type": 1}).windows(date(2026, 12, 1), bj(2027, 1, 1), bj(2027, 1, 3))
    assert "2027" in caught.value.message and " / " in caught.value.message
    assert len(Cadence.parse({"kind": "daily"}).windows(date(2026, 12, 1), bj(2027, 1, 1), bj(2027, 1, 3))) == 2


# ------------------------------------------------------------------ windows

def test_shift_windows_cross_midnight_and_stop_at_the_working_span():
    eight = Cadence.parse({"kind": "shift", "hours": 8, "work_start": "8:00"})
    assert spans(eight, bj(2026, 3, 2, 6), bj(2026, 3, 2, 17)) == [
        ("03-02 00:00", "03-02 08:00"), ("03-02 08:00", "03-02 16:00"), ("03-02 16:00", "03-03 00:00")]
    day_only = Cadence.parse({"kind": "shift", "hours": 12, "work_start": "8:00", "work_end": "20:00"})
    assert spans(day_only, bj(2026, 3, 2), bj(2026, 3, 4)) == [("03-02 08:00", "03-02 20:00"),
                                                               ("03-03 08:00", "03-03 20:00")]


def test_ten_day_fixed_dates_monthly_clamping_and_cycles_from_the_start():
    xun = Cadence.parse({"kind": "ten_days", "dates": [5, 15, 24]})
    assert spans(xun, bj(2026, 2, 1), bj(2026, 3, 1)) == [
        ("01-24 00:00", "02-05 00:00"), ("02-05 00:00", "02-15 00:00"), ("02-15 00:00", "02-24 00:00"),
        ("02-24 00:00", "03-05 00:00")]
    month_end = Cadence.parse({"kind": "monthly", "day": 31})
    assert spans(month_end, bj(2026, 2, 1), bj(2026, 3, 31)) == [("01-31 00:00", "02-28 00:00"),
                                                                ("02-28 00:00", "03-31 00:00")]
    every10 = Cadence.parse({"kind": "ten_days"})
    assert spans(every10, bj(2026, 1, 1), bj(2026, 1, 25), anchor=date(2026, 1, 3)) == [
        ("01-03 00:00", "01-13 00:00"), ("01-13 00:00", "01-23 00:00"), ("01-23 00:00", "02-02 00:00")]
    # no window opens before the task starts
    assert spans(Cadence.parse({"kind": "monthly", "day": 25}), bj(2026, 1, 1), bj(2026, 3, 1),
                 anchor=date(2026, 1, 27)) == [("02-25 00:00", "03-25 00:00")]


def test_a_year_of_windows_for_each_kind_has_the_expected_count():
    year = (bj(2026, 1, 1), bj(2027, 1, 1))
    counts = {k: len(Cadence.parse(c).windows(date(2026, 1, 1), *year)) for k, c in {
        "shift8": {"kind": "shift", "hours": 8, "work_start": "0:00"}, "daily": {"kind": "daily"},
        "weekly": {"kind": "weekly", "weekday": 4}, "xun": {"kind": "ten_days", "dates": [1, 11, 21]},
        "monthly": {"kind": "monthly"}, "quarterly": {"kind": "quarterly"}, "yearly": {"kind": "yearly"}}.items()}
    assert counts == {"shift8": 365 * 3, "daily": 365, "weekly": 53, "xun": 36, "monthly": 12, "quarterly": 4,
                      "yearly": 1}


# ------------------------------------------------------------------ tasks from the ledger

@pytest.fixture(scope="module")
def demo_units():
    return read_ledger(demo_dir() / "ledger.json").units


def test_tasks_from_the_demo_ledger(demo_units):
    tasks = generate_tasks(demo_units, starts_on=date(2026, 11, 1))
    controls = sum(len(e.controls) for u in demo_units for e in u.events)
    majors = [u for u in demo_units if u.major_hazard]
    assert majors and len(tasks) == controls + 3 * len(majors)
    assert len({t.key for t in tasks}) == len(tasks)
    assert [t.key for t in generate_tasks(demo_units, starts_on=date(2026, 12, 1))] == [t.key for t in tasks]
    by_class = {}
    for t in tasks:
        by_class.setdefault((t.control_class, t.tier), set()).add(t.cadence.kind)
    assert by_class[("1-1", "post")] == {"shift"}
    assert by_class[("管理", "team")] == {"monthly"} or ("管理", "team") not in by_class
    assert all(k == {"monthly"} for (c, _), k in by_class.items() if c == "管理")
    guarantors = [t for t in tasks if t.is_guarantor]
    assert sorted({(t.assignee.work_type, t.assignee.task_num) for t in guarantors}) == [(1, 1), (2, 1), (3, 1)]
    national = guarantors[0].national("示范化工")
    assert national["workType"] in (1, 2, 3) and national["taskNum"] == 1 and national["riskMeasureId"] is None
    shift = next(t for t in tasks if t.cadence.kind == "shift")
    row = shift.national("示范化工")
    assert (row["checkCycle"], row["checkCycleUnit"], row["workStartTime"]) == (8, "小时", "8:00:00")
    assert row["workType"] == 0 and row["taskNum"] is None and len(row["id"]) == 36
    assert row["troubleshootContent"].startswith(shift.control_text)
    assert row["id"] == shift.national("示范化工")["id"] != shift.national("别家")["id"]


def test_editing_a_task_checks_what_it_takes(demo_units):
    task = generate_tasks(demo_units, starts_on=date(2026, 11, 1))[0]
    new = edited(task, {"cadence": {"kind": "weekly"}, "items": ["阀门无泄漏", "阀门无泄漏", "压力正常"],
                        "assignee": {"kind": "person", "value": "张三"}})
    assert new.cadence.kind == "weekly" and new.items == ["阀门无泄漏", "压力正常"] and new.key == task.key
    for bad in ({"key": "x"}, {"items": []}, {"items": ["a\x00"]}, {"cadence": {"kind": "no"}},
                {"assignee": {"kind": "person", "work_type": 2}}, {"assignee": {"kind": "x"}}, {"title": ""},
                {"assignee": {"kind": "role", "work_type": 3, "task_num": 11}}):
        with pytest.raises(InputError):
            edited(task, bad)


def test_who_may_check():
    def task(kind, value):
        return Task(key="k", unit_code="U", title="t", items=["a"], cadence=Cadence.parse({"kind": "daily"}),
                    assignee=Assignee(kind, value), starts_on=date(2026, 1, 1))

    assert is_assigned(task("post", "泵房岗"), name="李四", post="泵房岗")
    assert not is_assigned(task("post", "泵房岗"), name="李四", post="罐区岗")
    assert is_assigned(task("person", "李四"), name="李四")
    assert is_assigned(task("role", "inspector"), name="x", roles=["inspector"])
    assert is_assigned(task("department", None), name="anyone")


# ------------------------------------------------------------------ occurrences and records

def _daily(task_id=1, unit="U1") -> Task:
    return Task(key=f"{unit}|E|1", unit_code=unit, title="日检", items=["阀门无泄漏", "压力正常"],
                cadence=Cadence.parse({"kind": "daily"}), assignee=Assignee("post", "泵房"), id=task_id,
                starts_on=date(2026, 3, 1), control_text="阀门定期检查", event_code="E")


def test_states_done_missed_due_upcoming_and_suspended():
    task = _daily()
    now = bj(2026, 3, 5, 10)
    done = {(1, bj(2026, 3, 2)): (7, False)}
    stop = Shutdown("U0", bj(2026, 3, 3, 12), bj(2026, 3, 4, 6), "检修")
    tree = [AssessmentUnit("U0", "车间"), AssessmentUnit("U1", "泵", parent_id="U0")]
    stops = shutdowns_by_unit([stop], tree)
    got = occurrences([task], bj(2026, 3, 1), bj(2026, 3, 7), now=now, done=done, shutdowns=stops)
    assert [(o.start.day, o.state) for o in got] == [(1, "missed"), (2, "done"), (3, "suspended"),
                                                     (4, "suspended"), (5, "due"), (6, "upcoming")]
    assert got[1].record_id == 7
    retired = Task(**{**task.__dict__, "active": False})
    assert occurrences([retired], bj(2026, 3, 1), bj(2026, 3, 7), now=now) == []
    with pytest.raises(InputError):
        Shutdown("U1", bj(2026, 3, 3), bj(2026, 3, 2), "x").check()
    with pytest.raises(InputError):
        Shutdown("U1", bj(2026, 3, 3), None, " ").check()


def test_the_window_of_a_check_late_checks_are_kept_future_and_early_ones_refused():
    task = _daily()
    now = bj(2026, 3, 5, 10)
    win, late = window_of_check(task, bj(2026, 3, 5, 9), now=now)
    assert win.start == bj(2026, 3, 5) and not late
    win, late = window_of_check(task, bj(2026, 3, 5, 9), now=now, window_start=bj(2026, 3, 3))
    assert win.start == bj(2026, 3, 3) and late
    for kwargs in ({"checked_at": bj(2026, 3, 6, 9)}, {"checked_at": bj(2026, 2, 20)},
                   {"checked_at": bj(2026, 3, 4), "window_start": bj(2026, 3, 4, 1)},
                   {"checked_at": bj(2026, 3, 3), "window_start": bj(2026, 3, 4)}):
        with pytest.raises(NoOccurrenceError):
            window_of_check(task, now=now, **kwargs)
    weekdays = Task(**{**task.__dict__, "cadence": Cadence.parse({"kind": "daily", "day_type": 1})})
    win, late = window_of_check(weekdays, bj(2026, 3, 8, 9), now=bj(2026, 3, 9))      # a Sunday: Friday's, late
    assert win.start == bj(2026, 3, 6) and late


def test_answers_status_and_hazard_drafts():
    task = _daily()
    items = answers_of(task, [{"item": 2, "result": "pass"}, {"item": "阀门无泄漏", "result": "fail",
                                                               "note": "法兰渗漏"}])
    assert [i.item for i in items] == task.items and check_status(items) == 1
    assert check_status(answers_of(task, [{"item": 1, "result": "na"}, {"item": 2, "result": "na"}])) == 2
    assert check_status(answers_of(task, [{"item": 1, "result": "pass"}, {"item": 2, "result": "na"}])) == 0
    assert check_status(items, other=True, note="停电") == 3
    with pytest.raises(RecordError):
        check_status(items, other=True)
    for bad in ([{"item": 1, "result": "pass"}], [{"item": 1, "result": "ok"}, {"item": 2, "result": "pass"}],
                [{"item": 1, "result": "pass"}, {"item": 1, "result": "pass"}], "pass",
                [{"item": 3, "result": "pass"}, {"item": 1, "result": "pass"}],
                [{"item": 1, "result": "pass", "photo": "x"}, {"item": 2, "result": "pass"}],
                [{"item": 1, "result": "pass", "note": "x" * 1001}, {"item": 2, "result": "pass"}],
                [{"item": "a", "result": "pass"}] * 3):
        with pytest.raises(RecordError):
            answers_of(task, bad)
    record = CheckRecord(task_id=1, window_start=bj(2026, 3, 5), window_end=bj(2026, 3, 6),
                         checked_at=bj(2026, 3, 5, 9), person="李四", items=items, status=1, id=42, device="PDA-7")
    drafts = hazard_drafts(task, record, unit_name="1# 泵")
    assert drafts == [{
        "unit_id": "U1", "unit_name": "1# 泵", "event_id": "E", "control_measure": "阀门定期检查",
        "control_index": None, "fid": None, "place": "1# 泵", "source": 1, "source_zh": "日常排查",
        "check_record_id": 42, "task_id": 1, "item": "阀门无泄漏", "description": "法兰渗漏",
        "found_at": "2026-03-05T09:00:00+08:00", "found_by": "李四", "hazard_category": 0}]
    row = record.national("示范化工", task)
    assert row["checkTime"] == "2026-03-05 09:00:00" and row["checkStatus"] == 1 and row["isDefend"] == "0"
    assert row["mobileMe"] == "PDA-7"
