"""The order an inspector walks today's checks: nearest next, from where they stand.

Why greedy nearest-neighbour: a plant round is a few dozen posts; the nearest unvisited post from the current one
is what an inspector would choose by eye, needs no road graph, and is stable when one check is done (the rest
keep their order). Distances are on a local flat approximation of lon/lat (metres), ample within a plant. Stops
without a place go last, in the order given.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

EARTH_M = 6_371_008.8


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The distance between two lon/lat points on a local flat approximation (metres)."""
    mean_lat = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(b[0] - a[0]) * math.cos(mean_lat)
    dy = math.radians(b[1] - a[1])
    return EARTH_M * math.hypot(dx, dy)


def route_order(stops: Sequence[tuple[Hashable, tuple[float, float] | None]],
                start: tuple[float, float] | None = None) -> list[tuple[Hashable, float | None]]:
    """The stops (key, lon/lat or None) in walking order from `start` (default: the first placed stop), each with
    the distance walked to it from the one before (None for the first without a start, and for unplaced stops)."""
    placed = [(k, p) for k, p in stops if p is not None]
    out: list[tuple[Hashable, float | None]] = []
    here = start
    while placed:
        if here is None:
            i = 0
            step = None
        else:
            i = min(range(len(placed)), key=lambda j: metres(here, placed[j][1]))
            step = metres(here, placed[i][1])
        key, here = placed.pop(i)
        out.append((key, step))
    out += [(k, None) for k, p in stops if p is None]
    return out
