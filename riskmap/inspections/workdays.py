"""China's statutory working-day calendar, as the PyPI package `chinese-calendar` publishes it each year.

One place asks the package, so that a date beyond its data is a clear error everywhere (the State Council publishes
next year's holidays in November; until the package carries them, riskmap refuses to guess) and a make-up working
weekend (调休上班) counts as a working day.
"""

from __future__ import annotations

from datetime import date

import chinese_calendar

from riskmap.inspections.errors import CadenceError, CalendarError

# workDayType (national task field): 0 every day, 1 statutory working days only, 2 statutory non-working days only.
EVERY_DAY, WORKING_DAYS, NON_WORKING_DAYS = 0, 1, 2
DAY_TYPES = {EVERY_DAY: ("每天", "every day"), WORKING_DAYS: ("法定工作日", "statutory working days"),
             NON_WORKING_DAYS: ("法定节假日及休息日", "statutory non-working days")}


def is_working_day(day: date) -> bool:
    """Whether `day` is a statutory working day (make-up working weekends included); CalendarError beyond the data."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        raise CalendarError(
            f"工作日历尚无 {day.year} 年的法定节假日安排（chinese-calendar {chinese_calendar.__version__}），"
            f"不能判断 {day.isoformat()} 是否为工作日；请升级该软件包或把任务改为“每天” / the working-day calendar "
            f"has no holiday data for {day.year} yet (chinese-calendar {chinese_calendar.__version__}): cannot tell "
            f"whether {day.isoformat()} is a working day; upgrade the package or make the task run every day"
        ) from None


def day_counts(day: date, day_type: int) -> bool:
    """Whether a task of that workDayType runs on `day`; every day needs no calendar (never an error)."""
    if day_type == EVERY_DAY:
        return True
    working = is_working_day(day)
    return working if day_type == WORKING_DAYS else not working


def check_day_type(value: object) -> int:
    """A workDayType from 0/1/2 (or their Chinese names); else CadenceError naming the choices."""
    for code, (zh, en) in DAY_TYPES.items():
        if str(value).strip() in (str(code), zh, en):
            return code
    raise CadenceError(f"日期类型应为 0 每天、1 法定工作日或 2 法定节假日，而不是 {value!r} / workDayType must be 0 "
                       f"(every day), 1 (working days) or 2 (non-working days), not {value!r}")
