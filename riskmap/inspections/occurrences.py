"""Occurrences: the due windows a task produces in a bounded range and the state of each at a moment (Beijing time).

Why computed: a year of 8-hour shifts for 10,000 tasks is ten million windows; only checks and shutdowns are
stored, and the windows of any range come from the cadence. A window is `done` when a check record names it,
`suspended` when its unit (or an ancestor) is under a shutdown or maintenance (停用/检修) that overlaps it,
`missed` when it ended unchecked, `due` while open, `upcoming` before it opens.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

from riskmap.clock import LOCAL_ZONE
from riskmap.domain import AssessmentUnit
from riskmap.inspections.cadence import Window
from riskmap.inspections.errors import NoOccurrenceError, RecordError
from riskmap.inspections.tasks import Task

STATES = {"due": ("待检", "due"), "done": ("已检", "done"), "missed": ("漏检", "missed"),
          "suspended": ("停用/检修暂停", "suspended"), "upcoming": ("未到期", "upcoming")}
MAX_REASON = 500
# A check stamped this far ahead of the server's clock (a phone's clock running fast) is still taken as now.
CLOCK_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class Shutdown:
    """A 停用/检修 record: the unit is out of service from `starts_at` until `ends_at` (None: until further notice)."""

    unit_code: str
    starts_at: datetime
    ends_at: datetime | None
    reason: str
    kind: str = "maintenance"        # "maintenance" 检修 or "shutdown" 停用
    id: int | None = None

    def check(self) -> None:
        """InputError for an end before the start or a missing/oversized reason."""
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise RecordError("停用/检修的结束时间应晚于开始时间 / a shutdown ends after it starts")
        if not self.reason.strip() or len(self.reason) > MAX_REASON:
            raise RecordError(f"停用/检修需要原因（最多 {MAX_REASON} 字）/ a shutdown needs a reason (at most "
                              f"{MAX_REASON} characters)")
        if self.kind not in ("maintenance", "shutdown"):
            raise RecordError("类型应为 maintenance（检修）或 shutdown（停用）/ kind is maintenance or shutdown")

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the shutdown touches [start, end)."""
        return self.starts_at < end and (self.ends_at is None or self.ends_at > start)


class Occurrence(NamedTuple):
    """One window of one task and its state at the moment asked (a tuple: there are millions in a year)."""

    task_id: int | None
    task_key: str
    unit_code: str
    start: datetime
    end: datetime
    state: str
    record_id: int | None = None
    late: bool = False
    shutdown_id: int | None = None


def shutdowns_by_unit(shutdowns: Iterable[Shutdown], units: Sequence[AssessmentUnit] = ()) -> dict[str, list]:
    """Each unit's shutdowns, its ancestors' included (a workshop under maintenance suspends its equipment)."""
    parent = {u.id: u.parent_id for u in units}
    own: dict[str, list[Shutdown]] = {}
    for sd in shutdowns:
        own.setdefault(sd.unit_code, []).append(sd)
    out: dict[str, list[Shutdown]] = {}
    for code in set(parent) | set(own):
        found, cur, seen = [], code, set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            found += own.get(cur, [])
            cur = parent.get(cur)
        if found:
            out[code] = found
    return out


def occurrences(tasks: Iterable[Task], start: datetime, end: datetime, *, now: datetime,
                done: dict[tuple[int | None, datetime], tuple[int, bool]] | None = None,
                shutdowns: dict[str, list[Shutdown]] | None = None) -> list[Occurrence]:
    """Every window of the active tasks overlapping [start, end) and its state at `now`, ordered by start; `done`
    maps (task id, window start) to (record id, late) for the windows checked; `shutdowns` as shutdowns_by_unit
    gives them."""
    shutdowns = shutdowns or {}
    done_by_task: dict[int | None, dict[datetime, tuple[int, bool]]] = {}
    for (tid, w_start), found in (done or {}).items():
        done_by_task.setdefault(tid, {})[w_start] = found
    out: list[Occurrence] = []
    add = out.append
    # A plant's tasks share a handful of (cadence, first day) pairs, and a pair's windows in [start, end) are the
    # same for each of its tasks: computed once per pair (at 100,000 tasks, most of the time went there).
    windows: dict[tuple, list] = {}
    with no_gc():
        for task in tasks:
            if not task.active:
                continue
            stops = shutdowns.get(task.unit_code, ())
            tid, key, code = task.id, task.key, task.unit_code
            checks = done_by_task.get(tid)
            pair = (task.cadence, task.starts_on)
            found = windows.get(pair)
            if found is None:
                found = windows[pair] = task.cadence.windows(task.starts_on, start, end)
            for w_start, w_end in found:
                checked = checks.get(w_start) if checks else None
                if checked is not None:
                    add(Occurrence(tid, key, code, w_start, w_end, "done", checked[0], checked[1]))
                    continue
                stop = next((sd for sd in stops if sd.overlaps(w_start, w_end)), None) if stops else None
                if stop is not None:
                    add(Occurrence(tid, key, code, w_start, w_end, "suspended", shutdown_id=stop.id))
                    continue
                state = "missed" if now >= w_end else "due" if now >= w_start else "upcoming"
                add(Occurrence(tid, key, code, w_start, w_end, state))
        out.sort(key=attrgetter("start"))
    return out


@contextmanager
def no_gc() -> Iterator[None]:
    """Millions of small tuples and no cycles: the cyclic GC would rescan them all again and again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def window_of_check(task: Task, checked_at: datetime, *, now: datetime,
                    window_start: datetime | None = None) -> tuple[Window, bool]:
    """The window a check at `checked_at` answers, and whether it is late: the window named, else the one open at
    that moment, else the last one that ended before it (late, not refused). NoOccurrenceError for a check in the
    future, before its task starts, or naming a window the task does not have."""
    if checked_at > now + CLOCK_SLACK:
        raise NoOccurrenceError("排查时间不能晚于现在 / a check cannot be dated in the future")
    checked_at = checked_at.astimezone(LOCAL_ZONE)
    lookback = task.cadence.longest() * 2 + timedelta(days=1) if window_start is None else timedelta(0)
    if window_start is not None:
        wins = task.cadence.windows(task.starts_on, window_start, window_start + timedelta(seconds=1))
        wins = [w for w in wins if w.start == window_start]
        if not wins:
            raise NoOccurrenceError(f"任务没有从 {window_start.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M} 开始的排查窗口 / "
                                    "the task has no window starting then")
        if checked_at < wins[0].start:
            raise NoOccurrenceError("排查时间早于该窗口的开始 / the check is dated before its window opens")
        return wins[0], checked_at >= wins[0].end
    wins = task.cadence.windows(task.starts_on, checked_at - lookback, checked_at + timedelta(seconds=1))
    for win in reversed(wins):
        if win.start <= checked_at < win.end:
            return win, False
        if win.end <= checked_at:
            return win, True
    raise NoOccurrenceError("该时间没有可对应的排查窗口（任务尚未开始，或日期类型不含该日）/ no window of the task for "
                            "that moment (the task has not started, or its day type excludes the day)")
