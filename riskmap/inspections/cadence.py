"""How often a check is due: the enterprise's cadences (班检, 日检, 周检, 旬检, 月检, 季检, 年检, a custom cycle),
their exact national encoding, and the due windows they produce in a bounded range of Beijing time.

Why windows and not due dates: an inspector may check at any time inside the window (the shift, the day, the
week ...), and "missed" means the window ended unchecked. Windows are computed on demand for a bounded range, never
stored ahead. Each window is half-open [start, end) in Beijing time (riskmap.clock.LOCAL_ZONE).

National fields (HAZARDS.md §3): `checkCycle` (integer > 0) with `checkCycleUnit` 小时/天/月/年; 周检 = 7 天,
旬检 = 10 天 (three fixed dates a month are kept locally), 月检 = 1 月, 班检 = 8 or 12 小时 with `workStartTime` /
`workEndTime` (only for 小时); `workDayType` 0/1/2 (riskmap.inspections.workdays).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from riskmap.clock import LOCAL_ZONE, add_months
from riskmap.inspections.errors import CadenceError
from riskmap.inspections.workdays import EVERY_DAY, check_day_type, day_counts

# kind → (Chinese, English)
KINDS: dict[str, tuple[str, str]] = {
    "shift": ("班检", "every shift"), "daily": ("日检", "daily"), "weekly": ("周检", "weekly"),
    "ten_days": ("旬检", "every ten days"), "monthly": ("月检", "monthly"), "quarterly": ("季检", "quarterly"),
    "yearly": ("年检", "yearly"), "custom": ("自定义周期", "custom cycle"),
}
# checkCycleUnit words and riskmap's unit codes
UNITS = {"hour": "小时", "day": "天", "month": "月", "year": "年"}
SHIFT_HOURS = (8, 12)
# A range asked of one task never spans more windows than this (a year of 8-hour shifts is 1,098).
MAX_WINDOWS = 20_000


class Window(NamedTuple):
    """One due window of a task, [start, end) as aware Beijing datetimes (a tuple: a year of shifts for 10,000
    tasks is millions of them)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Cadence:
    """A task's cadence; `parse` checks one given as a dict, `national` encodes it for the national platform."""

    kind: str
    day_type: int = EVERY_DAY              # workDayType
    hours: int | None = None               # shift: 8 or 12
    work_start: time | None = None         # shift: when the first shift of the day starts
    work_end: time | None = None           # shift: when the last shift ends (None: around the clock)
    weekday: int = 1                       # weekly: the day a week's window opens, 1 Monday … 7 Sunday
    dates: tuple[int, ...] = ()            # ten_days: fixed dates of the month (5, 15, 24); () every 10 days
    day: int = 1                           # monthly, quarterly, yearly: the day of the month a window opens
    month: int = 1                         # yearly: the month a window opens
    every: int | None = None               # custom: n units
    unit: str | None = None                # custom: hour / day / month / year
    extra: dict = field(default_factory=dict, compare=False)

    # ------------------------------------------------------------------ parsing and shape

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Cadence:
        """A cadence from its dict (the store's and the API's form); CadenceError naming what is wrong."""
        if not isinstance(data, dict):
            raise CadenceError("周期应为对象 / a cadence is an object")
        known = {"kind", "day_type", "hours", "work_start", "work_end", "weekday", "dates", "day", "month", "every",
                 "unit"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CadenceError(f"周期中有未知字段 {unknown} / unknown cadence fields {unknown}")
        if not isinstance(data.get("dates") or [], (list, tuple)):
            raise CadenceError("dates 应为日期列表，如 [5, 15, 24] / dates is a list of days, e.g. [5, 15, 24]")
        kind = str(data.get("kind", "")).strip()
        if kind not in KINDS:
            raise CadenceError(f"未知的排查周期 {kind!r}，应为 {'、'.join(KINDS)} / unknown cadence kind {kind!r}; "
                               f"the kinds are {', '.join(KINDS)}")
        made = cls(kind=kind, day_type=check_day_type(data.get("day_type", EVERY_DAY)),
                   hours=_int(data.get("hours"), "hours"), work_start=_time(data.get("work_start"), "work_start"),
                   work_end=_time(data.get("work_end"), "work_end"), weekday=_int(data.get("weekday", 1), "weekday"),
                   dates=tuple(sorted({_int(d, "dates") for d in data.get("dates") or ()})),
                   day=_int(data.get("day", 1), "day"), month=_int(data.get("month", 1), "month"),
                   every=_int(data.get("every"), "every"),
                   unit=None if data.get("unit") is None else str(data["unit"]).strip())
        made.check()
        return made

    def check(self) -> None:
        """CadenceError when the fields cannot make a cadence of its kind."""
        if self.kind == "shift" and self.hours not in SHIFT_HOURS:
            raise CadenceError(f"班检每班应为 8 或 12 小时，而不是 {self.hours} / a shift lasts 8 or 12 hours, "
                               f"not {self.hours}")
        if not 1 <= self.weekday <= 7:
            raise CadenceError("weekday 应为 1（周一）到 7（周日）/ weekday is 1 (Monday) to 7 (Sunday)")
        if self.kind == "ten_days" and self.dates and (len(self.dates) > 6 or not all(1 <= d <= 28
                                                                                       for d in self.dates)):
            raise CadenceError("旬检的固定日期应为 1 到 28 日，最多 6 个 / the fixed dates of a ten-day check are days "
                               "1 to 28, at most six")
        if not 1 <= self.day <= 31 or not 1 <= self.month <= 12:
            raise CadenceError("day 应为 1–31，month 应为 1–12 / day is 1–31 and month 1–12")
        if self.kind == "custom":
            if self.unit not in UNITS:
                raise CadenceError(f"自定义周期的单位应为 {'、'.join(UNITS)}（{'、'.join(UNITS.values())}），而不是 "
                                   f"{self.unit!r} / a custom cycle's unit is one of {', '.join(UNITS)}")
            if self.every is None or not 1 <= self.every <= 1000:
                raise CadenceError("自定义周期 every 应为 1 到 1000 的整数 / a custom cycle's every is 1 to 1000")
            if self.unit == "hour" and 24 % self.every and self.every % 24:
                raise CadenceError("按小时的周期应整除一天或为整天（1、2、3、4、6、8、12、24、48 …）/ an hourly cycle "
                                   "divides a day or is whole days (1, 2, 3, 4, 6, 8, 12, 24, 48 …)")

    def to_dict(self) -> dict:
        """The cadence as the store and the API keep it (times as HH:MM, only the fields its kind uses)."""
        out = {k: v for k, v in asdict(self).items() if k != "extra"}
        out["work_start"] = None if self.work_start is None else self.work_start.strftime("%H:%M")
        out["work_end"] = None if self.work_end is None else self.work_end.strftime("%H:%M")
        out["dates"] = list(self.dates)
        used = {"kind", "day_type"} | _FIELDS_OF[self.kind]
        return {k: v for k, v in out.items() if k in used}

    @property
    def label(self) -> str:
        """The cadence as a plan says it: 班检（8 小时，8:00 起）, 旬检（每月 5、15、24 日）, 每 2 月 …"""
        zh = KINDS[self.kind][0]
        if self.kind == "shift":
            zh += f"（每班 {self.hours} 小时，{self.start_time.strftime('%H:%M')} 起）"
        elif self.kind == "ten_days" and self.dates:
            zh += f"（每月 {'、'.join(map(str, self.dates))} 日）"
        elif self.kind == "monthly":
            zh += f"（每月 {self.day} 日）"
        elif self.kind == "custom":
            zh = f"每 {self.every} {UNITS[self.unit]}"
        if self.day_type != EVERY_DAY:
            zh += "，仅法定工作日" if self.day_type == 1 else "，仅法定节假日及休息日"
        return zh

    @property
    def start_time(self) -> time:
        """The time of day windows open: a shift's first start, else midnight."""
        return self.work_start or (time(8, 0) if self.kind == "shift" else time(0, 0))

    # ------------------------------------------------------------------ national encoding

    def national(self) -> dict:
        """checkCycle, checkCycleUnit, workStartTime, workEndTime (only for 小时) and workDayType."""
        cycle, unit = _CYCLE.get(self.kind, (None, None))
        if self.kind == "shift":
            cycle, unit = self.hours, "hour"
        elif self.kind == "custom":
            cycle, unit = self.every, self.unit
        hourly = unit == "hour"
        end = self.work_end or self.start_time
        return {"checkCycle": cycle, "checkCycleUnit": UNITS[unit],
                "workStartTime": _clock(self.start_time) if hourly else None,
                "workEndTime": _clock(end) if hourly else None,
                "workDayType": self.day_type}

    # ------------------------------------------------------------------ windows

    def windows(self, anchor: date, start: datetime, end: datetime) -> list[Window]:
        """The due windows that overlap [start, end) for a task that starts on `anchor` (no window opens before
        it), after the day type; CalendarError for a day beyond the working-day calendar when the type needs it."""
        if end <= start:
            return []
        start, end = start.astimezone(LOCAL_ZONE), end.astimezone(LOCAL_ZONE)
        first = datetime.combine(anchor, time(0, 0), LOCAL_ZONE)
        out: list[Window] = []
        every_day = self.day_type == EVERY_DAY
        for win in self._raw(anchor, max(start, first) - self.longest(), end):
            if win.end <= start:
                continue
            if win.start >= end:
                break
            kept = win if every_day else self._by_day_type(win)
            if kept is not None and kept.start >= first:
                out.append(kept)
        if len(out) > MAX_WINDOWS:
            raise CadenceError(f"范围过大：超过 {MAX_WINDOWS} 个排查窗口 / range too large: more than {MAX_WINDOWS} "
                               "windows")
        return out

    def longest(self) -> timedelta:
        """How long a window of this cadence can be: windows are asked from that long before a range, so that one
        opened earlier and still open is found."""
        if self.kind == "custom":
            per = {"hour": timedelta(hours=1), "day": timedelta(days=1), "month": timedelta(days=31),
                   "year": timedelta(days=366)}[self.unit]
            return per * self.every + timedelta(days=1)
        return _LONGEST[self.kind]

    def _by_day_type(self, win: Window) -> Window | None:
        if self.day_type == EVERY_DAY:
            return win
        if win.end - win.start <= timedelta(days=1):
            return win if day_counts(win.start.date(), self.day_type) else None
        day = win.start.date()
        while datetime.combine(day, time(0, 0), LOCAL_ZONE) < win.end:
            if day_counts(day, self.day_type):
                opens = max(win.start, datetime.combine(day, time(0, 0), LOCAL_ZONE))
                return Window(opens, win.end)
            day += timedelta(days=1)
        return None

    def _raw(self, anchor: date, since: datetime, until: datetime) -> Iterator[Window]:
        if self.kind == "shift":
            yield from self._shifts(since, until)
        elif self.kind == "daily":
            yield from _steps(_midnight(since.date()), until, lambda d: d + timedelta(days=1))
        elif self.kind == "weekly":
            day = since.date() - timedelta(days=(since.isoweekday() - self.weekday) % 7)
            yield from _steps(_midnight(day), until, lambda d: d + timedelta(days=7))
        elif self.kind == "ten_days" and self.dates:
            yield from self._fixed_dates(since, until)
        elif self.kind in ("monthly", "quarterly", "yearly"):
            months = {"monthly": 1, "quarterly": 3, "yearly": 12}[self.kind]
            yield from self._monthly(since, until, months)
        else:   # every ten days, or a custom cycle, counted from the task's first day
            yield from self._cycle(anchor, since, until)

    def _shifts(self, since: datetime, until: datetime) -> Iterator[Window]:
        hours = timedelta(hours=self.hours)
        day = since.date() - timedelta(days=1)
        while True:
            opens = datetime.combine(day, self.start_time, LOCAL_ZONE)
            span_end = opens + timedelta(days=1)
            if self.work_end is not None:
                span_end = datetime.combine(day, self.work_end, LOCAL_ZONE)
                if span_end <= opens:
                    span_end += timedelta(days=1)
            while opens < span_end:
                if opens >= until:
                    return
                yield Window(opens, min(opens + hours, span_end))
                opens += hours
            day += timedelta(days=1)

    def _fixed_dates(self, since: datetime, until: datetime) -> Iterator[Window]:
        month_first = add_months(date(since.year, since.month, 1), -1)
        starts: list[date] = []
        while not starts or _midnight(starts[-1]) < until:
            starts += [month_first.replace(day=d) for d in self.dates]
            month_first = add_months(month_first, 1)
        for a, b in zip(starts, starts[1:], strict=False):
            yield Window(_midnight(a), _midnight(b))

    def _monthly(self, since: datetime, until: datetime, months: int) -> Iterator[Window]:
        base_month = self.month if self.kind == "yearly" else 1
        year = since.year - 1
        first = date(year, base_month, 1)
        while True:
            nxt = add_months(first, months)
            opens, closes = _midnight(_day_in(first, self.day)), _midnight(_day_in(nxt, self.day))
            if opens >= until:
                return
            yield Window(opens, closes)
            first = nxt

    def _cycle(self, anchor: date, since: datetime, until: datetime) -> Iterator[Window]:
        every, unit = (10, "day") if self.kind == "ten_days" else (self.every, self.unit)
        origin = datetime.combine(anchor, self.start_time, LOCAL_ZONE)
        if unit in ("hour", "day"):
            step = timedelta(hours=every) if unit == "hour" else timedelta(days=every)
            skip = max(0, int((since - origin) / step) - 1)
            opens = origin + skip * step
            while opens < until:
                yield Window(opens, opens + step)
                opens += step
            return
        months = every * (12 if unit == "year" else 1)
        n = max(0, ((since.year - origin.year) * 12 + since.month - origin.month) // months - 1)
        while True:
            opens = datetime.combine(add_months(anchor, n * months), self.start_time, LOCAL_ZONE)
            if opens >= until:
                return
            yield Window(opens, datetime.combine(add_months(anchor, (n + 1) * months), self.start_time, LOCAL_ZONE))
            n += 1


def from_national(check_cycle: int, check_cycle_unit: str, *, work_start: str | None = None,
                  work_end: str | None = None, work_day_type: int = EVERY_DAY) -> Cadence:
    """The cadence a national task encodes (7 天 → weekly, 10 天 → every ten days, 1 月 → monthly ...)."""
    units = {v: k for k, v in UNITS.items()}
    unit = units.get(str(check_cycle_unit).strip())
    if unit is None:
        raise CadenceError(f"checkCycleUnit 应为 小时/天/月/年，而不是 {check_cycle_unit!r} / checkCycleUnit must be "
                           f"小时/天/月/年, not {check_cycle_unit!r}")
    cycle = _int(check_cycle, "checkCycle")
    known = {(1, "day"): "daily", (7, "day"): "weekly", (10, "day"): "ten_days", (1, "month"): "monthly",
             (3, "month"): "quarterly", (1, "year"): "yearly"}
    data: dict[str, Any] = {"day_type": work_day_type}
    if unit == "hour" and cycle in SHIFT_HOURS:
        data.update(kind="shift", hours=cycle, work_start=work_start, work_end=work_end)
        if work_end is not None and _time(work_end, "workEndTime") == _time(work_start or "8:00", "workStartTime"):
            data["work_end"] = None
    elif (cycle, unit) in known:
        data["kind"] = known[(cycle, unit)]
    else:
        data.update(kind="custom", every=cycle, unit=unit, work_start=work_start if unit == "hour" else None)
    return Cadence.parse(data)


_CYCLE = {"daily": (1, "day"), "weekly": (7, "day"), "ten_days": (10, "day"), "monthly": (1, "month"),
          "quarterly": (3, "month"), "yearly": (1, "year")}
_FIELDS_OF = {"shift": {"hours", "work_start", "work_end"}, "daily": set(), "weekly": {"weekday"},
              "ten_days": {"dates"}, "monthly": {"day"}, "quarterly": {"day"}, "yearly": {"day", "month"},
              "custom": {"every", "unit", "work_start"}}
_LONGEST = {"shift": timedelta(days=2), "daily": timedelta(days=2), "weekly": timedelta(days=8),
            "ten_days": timedelta(days=32), "monthly": timedelta(days=32), "quarterly": timedelta(days=93),
            "yearly": timedelta(days=367)}


def _steps(opens: datetime, until: datetime, nxt) -> Iterator[Window]:
    while opens < until:
        closes = _midnight(nxt(opens.date()))
        yield Window(opens, closes)
        opens = closes


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), LOCAL_ZONE)


def _day_in(first: date, day: int) -> date:
    return first.replace(day=min(day, calendar.monthrange(first.year, first.month)[1]))


def _clock(t: time) -> str:
    """A time as the national fields write it: 8:00:00 (hour without a leading zero)."""
    return f"{t.hour}:{t.minute:02d}:{t.second:02d}"


def _int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise CadenceError(f"{name} 应为整数 / {name} must be an integer")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise CadenceError(f"{name} 应为整数，而不是 {str(value)[:40]!r} / {name} must be an integer") from None
    if str(number) != str(value).strip().lstrip("+") and not isinstance(value, int):
        raise CadenceError(f"{name} 应为整数 / {name} must be an integer")
    return number


def _time(value: object, name: str) -> time | None:
    if value is None or value == "":
        return None
    if isinstance(value, time):
        return value
    parts = str(value).strip().split(":")
    try:
        if not 2 <= len(parts) <= 3:
            raise ValueError
        return time(*(int(p) for p in parts))
    except ValueError:
        raise CadenceError(f"{name} 应为时刻，如 8:00 或 08:00:00，而不是 {str(value)[:40]!r} / {name} must be a time "
                           "of day such as 8:00 or 08:00:00") from None
