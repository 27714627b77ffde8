"""The coverage map kept up to date without recomputing the whole plant (issue 14), on SQLite and PostGIS:

- after random checks (passed, failed → hazards, late, several per unit), checkpoints issued and corrections, the
  state brought up to date by `updated` equals the whole plant computed again, in every window;
- with `partial`, a write that needs the whole plant computed again (a shutdown) still gives the checks saved since,
  marked incomplete;
- the tile service serves the previous state while a full computation runs in the background (in a worker process:
  a tile answered at once, not after it), switches to the new one when it is done, and a check saved meanwhile
  shows on the very next tile of the client that saved it; the worker's states are the service's own;
- the cached-tile fast path tells the windows apart (a week tile is never today's).
"""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from kit import TMS, make_client

from riskmap.clock import now as clock_now
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent, UnitKind
from riskmap.inspections import store as ins
from riskmap.inspections.occurrences import Shutdown
from riskmap.store import open_store
from riskmap.store.hazards import unit_locations

ENT = "覆盖增量化工"
# control class and tier → the rules' cadence: every shift, weekly, daily, every ten days (as bench_inspections)
MIX = [("1-1", "post"), ("2-1", "post"), ("3-2", "post"), ("4-1", "department")]


def _plant(store, n: int = 48, seed: int = 14) -> None:
    """`n` pieces of equipment (points and small squares) in one workshop, one control measure each; tasks from a
    month ago."""
    rng = np.random.default_rng(seed)
    units = [AssessmentUnit("W", "一车间", UnitKind.MAIN, department="生产部")]
    for k in range(n):
        x, y = 120.3 + 1e-5 * rng.uniform(0, 200), 31.5 + 1e-5 * rng.uniform(0, 200)
        geom = shapely.Point(x, y) if k % 3 else shapely.box(x, y, x + 2e-5, y + 2e-5)
        cls, tier = MIX[k % len(MIX)]
        units.append(AssessmentUnit(
            f"U{k:02d}", f"设备{k}", UnitKind.EQUIPMENT, parent_id="W", geometry=geom, department="生产部",
            events=[RiskEvent(f"事件{k}", id=f"E{k}", controls=[ControlMeasure(f"措施{k}", cls=cls, tier=tier,
                                                                              department="生产部")])]))
    store.save_units(ENT, units, source="test")
    ins.generate(store, ENT, starts_on=date.today() - timedelta(days=30))


def _check(store, o, tasks, *, fail: bool = False):
    task = tasks[o.task_id]
    answers = [{"item": i + 1, "result": "fail" if fail and i == 0 else "pass", "note": "损坏" if fail else None}
               for i in range(len(task.items))]
    return ins.record_check(store, ENT, task.id, answers, inspector=ins.Inspector("测试"), check_assignment=False,
                            window_start=o.start,
                            checked_at=min(clock_now(), o.end - timedelta(minutes=1)) if o.end <= clock_now()
                            else None)


def _open(store, window: str) -> tuple[list, dict]:
    now = clock_now()
    found, tasks = ins.due(store, ENT, *ins.window_range(window, now), now=now)
    return [o for o in found if o.state in ("due", "missed")], tasks


@pytest.fixture
def plant(store_url):
    store = open_store(store_url)
    _plant(store)
    yield store_url, store
    store.close()


def test_incremental_equals_a_full_computation_after_random_checks(plant):
    _, store = plant
    rng = np.random.default_rng(7)
    held = {w: ins.coverage_state(store, ENT, w) for w in ("today", "week", "month")}
    moved = 0
    for rounds in range(4):
        open_now, tasks = _open(store, "week")
        picks = rng.choice(len(open_now), size=min(5, len(open_now)), replace=False)
        for i, k in enumerate(picks):              # passes, a failure (a hazard reported), late ones
            _check(store, open_now[k], tasks, fail=i == 0)
        if rounds == 2:                            # plates issued: read again, no unit recomputed
            ins.issue_checkpoints(store, ENT, sorted(held["today"].states)[:3])
        for window, before in held.items():
            after = ins.updated(store, ENT, window, before)
            full = ins.coverage_state(store, ENT, window)
            assert after is not None and after.complete
            assert after.states == full.states and after.plates == full.plates
            assert after.data_version == full.data_version
            moved += sum(after.states.get(c) != before.states.get(c) for c in full.states)
            held[window] = after
    assert moved                                   # the checks changed what the map shows
    assert ins.updated(store, ENT, "today", held["today"]) is held["today"]       # nothing written since


def test_partial_keeps_the_checks_when_the_plant_must_be_computed_again(plant):
    _, store = plant
    before = ins.coverage_state(store, ENT, "today")
    open_now, tasks = _open(store, "today")
    due_now = [o for o in open_now if o.state == "due"]
    checked = due_now[0]
    other = next(o.unit_code for o in open_now if o.unit_code != checked.unit_code)
    ins.add_shutdown(store, ENT, Shutdown(other, clock_now() - timedelta(hours=1), None, "检修"))
    _check(store, checked, tasks)
    assert ins.updated(store, ENT, "today", before) is None
    partial = ins.updated(store, ENT, "today", before, partial=True)
    full = ins.coverage_state(store, ENT, "today")
    assert partial is not None and not partial.complete and full.complete
    assert partial.states[checked.unit_code] == full.states[checked.unit_code]     # the check shows
    assert partial.states.get(other) == before.states.get(other) != full.states.get(other) == "suspended"
    # a window boundary passed: partial too, not complete
    if before.valid_until is not None:
        late = ins.updated(store, ENT, "today", full, now=full.valid_until or before.valid_until, partial=True)
        assert late is not None and (full.valid_until is None or not late.complete)


def _tile_of(store, code: str, z: int = 19):
    p = unit_locations(store, ENT, {code})[code]
    return TMS.tile(p.x, p.y, z)


def _shown(client, t, window: str = "today") -> dict[str, str]:
    r = client.get(f"/tiles/coverage/{t.z}/{t.x}/{t.y}.mvt", params={"enterprise": ENT, "window": window})
    assert r.status_code == 200, r.text
    feats = mapbox_vector_tile.decode(r.content).get("coverage", {}).get("features", [])
    return {f["properties"]["unit_id"]: f["properties"]["coverage"] for f in feats}


def test_a_full_computation_runs_behind_the_state_served(plant, monkeypatch):
    url, store = plant
    client = make_client(url)
    open_now, tasks = _open(store, "today")
    due_now = [o for o in open_now if o.state == "due"]
    by_unit: dict = {}
    for o in ins.due(store, ENT, *ins.window_range("today"), now=clock_now())[0]:
        by_unit.setdefault(o.unit_code, []).append(o)
    # a unit whose one window today is open now: checking it turns it "done"
    checked = next(o for o in due_now if len(by_unit[o.unit_code]) == 1)
    stopped = next(o.unit_code for o in open_now if o.unit_code != checked.unit_code)
    t_checked, t_stopped = _tile_of(store, checked.unit_code), _tile_of(store, stopped)
    assert _shown(client, t_checked)[checked.unit_code] == "due"
    service = client.app.state.tiles.service
    service.coverage_sync_units = 0                # as on a large plant: full computations in the background
    before = _shown(client, t_stopped)[stopped]
    assert before != "suspended"
    assert service.coverage_process                # a database file or server: computed in a worker process
    started, release = threading.Event(), threading.Event()
    real = service._full_coverage

    def slow(*args, **kwargs):                     # a full computation that takes as long as the test wants
        started.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "_full_coverage", slow)
    ins.add_shutdown(store, ENT, Shutdown(stopped, clock_now() - timedelta(hours=1), None, "检修"))
    t0 = time.perf_counter()
    assert _shown(client, t_stopped)[stopped] == before        # the previous state, at once
    assert started.wait(10) and time.perf_counter() - t0 < 10
    _check(store, checked, tasks)                              # a check saved while the computation runs …
    assert _shown(client, t_checked)[checked.unit_code] == "done"        # … shows on the next tile
    assert _shown(client, t_stopped)[stopped] == before
    # the same data version will draw something else once the computation is done: never kept as immutable
    version = service.resolve(ENT)[2]
    path, params = f"/tiles/coverage/{t_stopped.z}/{t_stopped.x}/{t_stopped.y}.mvt", {"enterprise": ENT,
                                                                                      "v": str(version)}
    old = client.get(path, params=params)
    assert old.status_code == 200 and old.headers["cache-control"] == "no-cache"
    assert client.get(path, params=params, headers={"If-None-Match": old.headers["etag"]}).status_code == 304
    release.set()
    ent_id = service.resolve(ENT)[0]
    assert service.coverage_settled(ent_id, "today")
    new = client.get(path, params=params, headers={"If-None-Match": old.headers["etag"]})
    assert service.resolve(ENT)[2] == version and new.status_code == 200 and new.headers["etag"] != old.headers["etag"]
    assert _shown(client, t_stopped)[stopped] == "suspended"                 # switched to the new state
    assert _shown(client, t_checked)[checked.unit_code] == "done"           # with the check still in it
    assert ins.coverage(store, ENT, "today")[0][stopped] == "suspended"


def test_the_fast_path_tells_the_windows_apart(plant):
    url, store = plant
    client = make_client(url)
    code = sorted(ins.coverage(store, ENT, "today")[0])[0]
    t = _tile_of(store, code, 17)
    for _ in range(2):                             # the second time from the cache (the fast path)
        for window in ("today", "week", "month"):
            states, _ = ins.coverage(store, ENT, window)
            shown = _shown(client, t, window)
            assert shown and all(shown[c] == states.get(c, "none") for c in shown), window
    week = client.get(f"/tiles/coverage/{t.z}/{t.x}/{t.y}.mvt", params={"enterprise": ENT, "window": "week"})
    today = client.get(f"/tiles/coverage/{t.z}/{t.x}/{t.y}.mvt", params={"enterprise": ENT})
    assert week.headers["etag"] != today.headers["etag"]


def test_the_worker_process_computes_what_the_service_would(plant):
    from riskmap.render.tilecache import TileService

    url, store = plant
    service = TileService(store)
    ent_id = service.resolve(ENT)[0]
    now = clock_now()
    for window in ("today", "month"):
        here = ins.coverage_state(store, ENT, window, now=now)
        there = service._full_coverage(ENT, (ent_id, window), now)
        assert (there.states, there.plates, there.valid_until, there.data_version) == \
            (here.states, here.plates, here.valid_until, here.data_version)


def test_a_lost_worker_process_leaves_the_computation_to_the_service(plant, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import riskmap.render.tilecache as tilecache

    class Lost:
        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("the worker died")

        def shutdown(self, **kwargs):
            pass

    _, store = plant
    monkeypatch.setattr(tilecache, "_POOL", [Lost()])
    service = tilecache.TileService(store)
    now = clock_now()
    state = service._full_coverage(ENT, (service.resolve(ENT)[0], "today"), now)
    assert state.states == ins.coverage_state(store, ENT, "today", now=now).states
    assert tilecache._POOL == []                    # a new worker is started next time
