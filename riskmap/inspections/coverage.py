"""Inspection coverage of a unit in a window (today, this week, this month): what the coverage map layer shows.

Why these four states and this order: a unit is judged by its worst occurrence, because one missed check is what
a regulator asks about. missed (a window ended unchecked) > due (a window still open, or still to come, in the
period) > done (every window checked) > suspended (every window fell in a 停用/检修). A unit without a task in the
period is "none" (not drawn as covered or uncovered). Pure: the occurrences come from riskmap.inspections.store.
"""

from __future__ import annotations

from collections.abc import Iterable

from riskmap.inspections.occurrences import Occurrence

# state → (中文, English), worst first.
COVERAGE = {"missed": ("有漏检", "missed"), "due": ("部分待检", "some due"), "done": ("全部已检", "all done"),
            "suspended": ("停用/检修暂停", "suspended"), "none": ("无排查任务", "no checks")}
_RANK = {"missed": 0, "due": 1, "upcoming": 1, "done": 2, "suspended": 3}
_STATE_OF = {"missed": "missed", "due": "due", "upcoming": "due", "done": "done", "suspended": "suspended"}


def unit_coverage(found: Iterable[Occurrence]) -> dict[str, str]:
    """The coverage state of each unit that has an occurrence in the window: its worst occurrence's."""
    worst: dict[str, str] = {}
    for o in found:
        now = worst.get(o.unit_code)
        if now is None or _RANK[o.state] < _RANK[now]:
            worst[o.unit_code] = o.state
    return {code: _STATE_OF[state] for code, state in worst.items()}
