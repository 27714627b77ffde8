"""Hazard statistics (隐患统计): how many are open and overdue, by level, source, type, department, the person
responsible and the month — from the records alone (no database, no web), in Beijing time.

Rejected reports are not hazards: they are counted once (`rejected`) and left out of everything else. `from`/`to`
keep the hazards registered on those Beijing dates (both ends included). "Open" and "overdue" are as of `now`;
a month counts the hazards registered in it and those accepted (or fixed on the spot) in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from riskmap.clock import local_date, local_time
from riskmap.hazards import reference
from riskmap.hazards.model import DONE_STATES, MAJOR, STATE_LABELS, Hazard, HazardInputError, State

NONE = ("未填写", "not given")


@dataclass
class Group:
    """One row of a breakdown: the key, its label and the counts."""

    key: str
    label: str
    total: int = 0
    open: int = 0
    overdue: int = 0
    major: int = 0
    done: int = 0

    def add(self, h: Hazard, now: datetime) -> None:
        """Count one hazard in this group."""
        self.total += 1
        self.open += h.is_open()
        self.overdue += h.overdue(now)
        self.major += h.level == MAJOR
        self.done += h.state in DONE_STATES

    def as_dict(self) -> dict[str, Any]:
        """As JSON."""
        return {"key": self.key, "label": self.label, "total": self.total, "open": self.open,
                "overdue": self.overdue, "major": self.major, "done": self.done}


@dataclass
class Month:
    """One Beijing month: hazards registered in it, and accepted (or fixed on the spot) in it."""

    month: str
    registered: int = 0
    major: int = 0
    accepted: int = 0
    accepted_late: int = 0

    def as_dict(self) -> dict[str, Any]:
        """As JSON."""
        return {"month": self.month, "registered": self.registered, "major": self.major, "accepted": self.accepted,
                "accepted_late": self.accepted_late}


@dataclass
class Statistics:
    """The figures and the breakdowns (see the module docstring)."""

    date_from: date | None
    date_to: date | None
    now: datetime
    total: int = 0
    open: int = 0
    overdue: int = 0
    major_open: int = 0
    major_overdue: int = 0
    done: int = 0
    done_on_time: int = 0
    rejected: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    groups: dict[str, list[Group]] = field(default_factory=dict)
    months: list[Month] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """As JSON: figures, `by_state` (with labels), each breakdown as a list, `by_month` oldest first."""
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "as_of": local_time(self.now).isoformat(timespec="seconds"),
            "total": self.total, "open": self.open, "overdue": self.overdue, "major_open": self.major_open,
            "major_overdue": self.major_overdue, "done": self.done, "done_on_time": self.done_on_time,
            "on_time_rate": round(self.done_on_time / self.done, 4) if self.done else None,
            "rejected": self.rejected,
            "by_state": [{"key": k, "label": " / ".join(STATE_LABELS[State(k)]), "count": n}
                         for k, n in self.by_state.items()],
            **{f"by_{name}": [g.as_dict() for g in rows] for name, rows in self.groups.items()},
            "by_month": [m.as_dict() for m in self.months],
        }


def _code_label(table: str) -> Callable[[Hazard], tuple[str, str]]:
    attr = {"dangerLevel": "level", "dangerSrc": "source", "hazardDangerType": "hazard_type"}[table]

    def key(h: Hazard) -> tuple[str, str]:
        code = getattr(h, attr)
        return str(code), reference.label(table, code) or str(code)
    return key


def _text(attr: str) -> Callable[[Hazard], tuple[str, str]]:
    def key(h: Hazard) -> tuple[str, str]:
        value = getattr(h, attr)
        return (value, value) if value else ("", " / ".join(NONE))
    return key


BREAKDOWNS: dict[str, Callable[[Hazard], tuple[str, str]]] = {
    "level": _code_label("dangerLevel"), "source": _code_label("dangerSrc"),
    "type": _code_label("hazardDangerType"), "department": _text("department"),
    "responsible": _text("liable_person"),
}


def check_range(date_from: date | None, date_to: date | None) -> None:
    """Refuse a range that ends before it starts."""
    if date_from is not None and date_to is not None and date_to < date_from:
        raise HazardInputError(f"结束日期 {date_to} 早于开始日期 {date_from} / the range ends ({date_to}) before it "
                               f"starts ({date_from})")


def compute(hazards: Iterable[Hazard], now: datetime, date_from: date | None = None,
            date_to: date | None = None) -> Statistics:
    """The statistics of `hazards` registered between `date_from` and `date_to` (Beijing dates, inclusive)."""
    check_range(date_from, date_to)
    out = Statistics(date_from, date_to, now)
    groups: dict[str, dict[str, Group]] = {name: {} for name in BREAKDOWNS}
    months: dict[str, Month] = {}
    states = {s.value: 0 for s in State}
    for h in hazards:
        registered = local_date(h.registered_at) if h.registered_at is not None else None
        if registered is not None and ((date_from and registered < date_from) or (date_to and registered > date_to)):
            continue
        states[h.state.value] += 1
        if h.state == State.REJECTED:
            out.rejected += 1
            continue
        out.total += 1
        out.open += h.is_open()
        late = h.overdue(now)
        out.overdue += late
        out.major_open += h.is_open() and h.level == MAJOR
        out.major_overdue += late and h.level == MAJOR
        if h.state in DONE_STATES:
            out.done += 1
            accepted = local_date(h.accept_at) if h.accept_at is not None else None
            on_time = accepted is None or h.deadline is None or accepted <= h.deadline
            out.done_on_time += on_time
            if accepted is not None:
                m = months.setdefault(accepted.strftime("%Y-%m"), Month(accepted.strftime("%Y-%m")))
                m.accepted += 1
                m.accepted_late += not on_time
        for name, key_of in BREAKDOWNS.items():
            key, label = key_of(h)
            groups[name].setdefault(key, Group(key, label)).add(h, now)
        if registered is not None:
            m = months.setdefault(registered.strftime("%Y-%m"), Month(registered.strftime("%Y-%m")))
            m.registered += 1
            m.major += h.level == MAJOR
    out.by_state = {k: n for k, n in states.items() if n}
    for name, found in groups.items():
        rows = list(found.values())
        if name in ("level", "source", "type"):
            rows.sort(key=lambda g: int(g.key))
        else:                         # the most open first, the unnamed last
            rows.sort(key=lambda g: (g.key == "", -g.open, -g.total, g.key))
        out.groups[name] = rows
    out.months = [months[k] for k in sorted(months)]
    return out
