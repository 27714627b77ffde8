"""Walking order of today's checks: nearest next from where the inspector stands; unplaced stops last; distances in
metres on a flat local approximation."""

from __future__ import annotations

import pytest

from riskmap.inspections.route import metres, route_order


def test_metres_at_plant_scale():
    assert metres((120.0, 32.0), (120.0, 32.001)) == pytest.approx(111.2, abs=0.5)
    assert metres((120.0, 32.0), (120.001, 32.0)) == pytest.approx(94.3, abs=0.5)


def test_nearest_next_from_the_start():
    stops = [("far", (120.010, 32.0)), ("near", (120.001, 32.0)), ("none", None), ("mid", (120.005, 32.0))]
    order = route_order(stops, start=(120.0, 32.0))
    assert [k for k, _ in order] == ["near", "mid", "far", "none"]
    assert order[0][1] == pytest.approx(94.3, abs=0.5) and order[-1][1] is None
    assert [k for k, _ in route_order(stops)] == ["far", "mid", "near", "none"]    # no start: the first placed
    assert route_order([]) == [] and route_order([("x", None)]) == [("x", None)]
