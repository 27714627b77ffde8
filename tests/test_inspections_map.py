"""The coverage layer's popups and features: /api/identify?coverage=… gives each clicked unit's state, last check
(when, who, checkStatus) and next due check (task, window), its checkpoint when it has a plate; the same states
as the tiles; riskmap.render.coverage.coverage_features (what an OGC collection calls) pages the units and the
checkpoints as lon/lat features with those states; bad windows, boxes and pages refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import shapely
from kit import copy_db, load_demo_db, make_client

from riskmap.clock import LOCAL_ZONE
from riskmap.clock import now as clock_now
from riskmap.errors import InputError
from riskmap.inspections import store as ins
from riskmap.plant import resolve_enterprise
from riskmap.render.coverage import coverage_features
from riskmap.store import open_store
from riskmap.store.hazards import unit_locations


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return load_demo_db(tmp_path_factory.mktemp("inspections-map"))


@pytest.fixture
def demo(demo_db, tmp_path):
    url = copy_db(demo_db, tmp_path)
    store = open_store(url)
    yield store, resolve_enterprise(store, None), make_client(url)
    store.close()


def _identify(client, **params) -> dict:
    r = client.get("/api/identify", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _newest_record(store, name, unit_id):
    ids = {t.id for t in ins.tasks(store, name, unit_id=unit_id)}
    return next((r for r in ins.records(store, name, limit=10_000) if r.task_id in ids), None)


def test_a_unit_popup_carries_its_last_and_next_check(demo):
    store, name, client = demo
    states, _ = ins.coverage(store, name, "today")
    code = next(c for c, s in states.items() if s == "due")
    body = _identify(client, unit=code, coverage="today")
    assert body["coverage_window"] == "today"
    [cov] = body["coverage"]
    assert cov["unit_id"] == code and cov["coverage"] == states[code] == "due"
    assert cov["coverage_zh"] == "部分待检" and cov["coverage_en"] == "some due"
    newest = _newest_record(store, name, code)
    last = cov["last_check"]
    assert last["record_id"] == newest.id and last["person"] == newest.person
    assert last["check_status"] == newest.status and last["check_status_zh"] and last["check_status_en"]
    assert datetime.fromisoformat(last["checked_at"]) == newest.checked_at
    nxt = cov["next_due"]
    assert nxt["state"] == "due" and nxt["task"] and nxt["cadence"]
    start, end = datetime.fromisoformat(nxt["start"]), datetime.fromisoformat(nxt["end"])
    assert start <= clock_now() < end and start.utcoffset() == timedelta(hours=8)
    # without the layer on, the answer is as before
    assert "coverage" not in _identify(client, unit=code)


def test_a_check_saved_shows_in_the_next_popup(demo):
    store, name, client = demo
    now = clock_now()
    found, tasks = ins.due(store, name, now, now + timedelta(seconds=1), now=now)
    o = next(o for o in found if o.state == "due")
    task = tasks[o.task_id]
    record, _ = ins.record_check(store, name, task.id, [{"item": i + 1, "result": "pass"}
                                                        for i in range(len(task.items))],
                                 inspector=ins.Inspector("测试巡检员"), check_assignment=False)
    [cov] = _identify(client, unit=task.unit_code, coverage="today")["coverage"]
    assert cov["last_check"]["record_id"] == record.id and cov["last_check"]["person"] == "测试巡检员"
    assert cov["last_check"]["check_status"] == 0 and cov["last_check"]["check_status_en"] == "normal"
    assert cov["next_due"] is None or cov["next_due"]["task_id"] != task.id or \
        datetime.fromisoformat(cov["next_due"]["start"]) != o.start


def test_a_click_on_a_checkpoint_names_its_plate(demo):
    store, name, client = demo
    states, _ = ins.coverage(store, name, "week")
    code = next(c for c in states if c in unit_locations(store, name, {c}))
    [made] = ins.issue_checkpoints(store, name, [code])
    point = unit_locations(store, name, {code})[code]          # where the tiles draw the plate
    body = _identify(client, lon=point.x, lat=point.y, zoom=19, coverage="week")
    mine = [c for c in body["coverage"] if c["unit_id"] == code]
    assert mine and mine[0]["checkpoint"]["id"] == made["id"] and mine[0]["window"] == "week"
    assert [c["unit_id"] for c in body["coverage"]] == [u["id"] for u in body["units"] if u["id"] in
                                                       {c["unit_id"] for c in body["coverage"]}]


@pytest.mark.parametrize("bad", ["year", "", "x" * 500, "today'--"])
def test_a_bad_window_is_refused(demo, bad):
    store, name, client = demo
    code = next(iter(ins.coverage(store, name, "today")[0]))
    r = client.get("/api/identify", params={"unit": code, "coverage": bad})
    assert r.status_code == 422


def test_the_features_say_what_the_tiles_draw(demo):
    store, name, _ = demo
    states, plates = ins.coverage(store, name, "today")
    feats, matched = coverage_features(store, name, "today", limit=10_000)
    assert matched == len(feats) > 0
    assert [f["id"] for f in feats] == sorted(f["id"] for f in feats)
    for f in feats:
        p = f["properties"]
        assert p["coverage"] == states.get(p["unit_id"], "none") and p["window"] == "today"
        geom = shapely.geometry.shape(f["geometry"])
        x0, y0, x1, y1 = geom.bounds
        assert 73 < x0 <= x1 < 136 and 3 < y0 <= y1 < 54            # lon/lat in China, not metres
    assert {f["properties"]["coverage"] for f in feats} - {"none"}
    page, again = coverage_features(store, name, "today", limit=5, offset=5, states=(states, plates))
    assert again == matched and [f["id"] for f in page] == [f["id"] for f in feats[5:10]]
    centre = shapely.geometry.shape(feats[0]["geometry"]).centroid
    boxed, n = coverage_features(store, name, "today", bbox=(centre.x - 1e-5, centre.y - 1e-5, centre.x + 1e-5,
                                                            centre.y + 1e-5))
    assert feats[0]["id"] in [f["id"] for f in boxed] and n < matched
    assert coverage_features(store, name, "today", checkpoints=True) == ([], 0)
    code = feats[0]["id"]
    ins.issue_checkpoints(store, name, [code])
    [point], one = coverage_features(store, name, "today", checkpoints=True)
    assert one == 1 and point["geometry"]["type"] == "Point" and point["properties"]["checkpoint"] is True
    detailed, _ = coverage_features(store, name, "today", limit=3, details=True)
    assert all("last_check" in f["properties"] and "next_due" in f["properties"] for f in detailed)


@pytest.mark.parametrize("kwargs", [{"window": "year"}, {"limit": 0}, {"limit": 10**6}, {"offset": -1},
                                    {"bbox": (1, 2, 3)}, {"bbox": (10, 0, 5, 1)}, {"bbox": ("a", 0, 1, 1)},
                                    {"bbox": (0, -90, 1, 90)}])
def test_bad_feature_requests_are_refused(demo, kwargs):
    store, name, _ = demo
    with pytest.raises(InputError):
        coverage_features(store, name, **kwargs)


def test_unit_checks_leave_out_units_without_checks(demo):
    store, name, _ = demo
    assert ins.unit_checks(store, name, ["no-such-unit", "<script>"]) == {}
    assert ins.unit_checks(store, name, []) == {}
    noon = datetime.combine(clock_now().astimezone(LOCAL_ZONE).date(), datetime.min.time(), LOCAL_ZONE)
    code = next(iter(ins.coverage(store, name, "month")[0]))
    found = ins.unit_checks(store, name, [code], "month", now=noon + timedelta(hours=12))
    assert found[code]["window"] == "month"


def _check_due_now(store, name, *, fail=False):
    now = clock_now()
    found, tasks = ins.due(store, name, now, now + timedelta(seconds=1), now=now)
    o = next(o for o in found if o.state == "due")
    task = tasks[o.task_id]
    ins.record_check(store, name, task.id, [{"item": i + 1, "result": "fail" if fail and i == 0 else "pass"}
                                            for i in range(len(task.items))],
                     inspector=ins.Inspector("测试巡检员"), check_assignment=False)
    return task


@pytest.mark.parametrize("window", ["today", "week"])
def test_checks_saved_update_the_states_of_their_units_only(demo, window):
    store, name, _ = demo
    before = ins.coverage_state(store, name, window)
    assert before.valid_until is None or before.valid_until > clock_now()
    touched = {_check_due_now(store, name).unit_code, _check_due_now(store, name, fail=True).unit_code}
    after = ins.updated(store, name, window, before)
    full = ins.coverage_state(store, name, window)
    assert after is not None and after.states == full.states and after.plates == full.plates
    assert after.data_version == full.data_version == store.data_version(name) > before.data_version
    assert {c for c in full.states if full.states[c] != before.states.get(c)} <= touched
    assert ins.updated(store, name, window, after) is after              # nothing written since


def test_anything_but_checks_and_plates_recomputes_the_whole_plant(demo):
    from riskmap.inspections.occurrences import Shutdown

    store, name, _ = demo
    before = ins.coverage_state(store, name, "today")
    code = next(iter(before.states))
    ins.add_shutdown(store, name, Shutdown(code, clock_now() - timedelta(hours=1), None, "检修"))
    assert ins.updated(store, name, "today", before) is None
    again = ins.coverage_state(store, name, "today")
    ins.issue_checkpoints(store, name, [code])          # the plates only: read again, no unit recomputed
    plated = ins.updated(store, name, "today", again)
    third = ins.coverage_state(store, name, "today")
    assert plated is not None and code in plated.plates and (plated.states, plated.plates) == (third.states,
                                                                                              third.plates)
    with store.transaction(name, create=False):       # a write the audit trail does not name
        pass
    _check_due_now(store, name)
    assert ins.updated(store, name, "today", third) is None
    fourth = ins.coverage_state(store, name, "today")
    if fourth.valid_until is not None:                 # a window boundary passed: every state may have moved
        assert ins.updated(store, name, "today", fourth, now=fourth.valid_until) is None


def test_the_coverage_tile_shows_a_check_at_once(demo):
    import mapbox_vector_tile
    from kit import TMS

    store, name, client = demo
    states, _ = ins.coverage(store, name, "today")
    now = clock_now()
    found, tasks = ins.due(store, name, now, now + timedelta(seconds=1), now=now)
    # a unit whose only open window is this one: checking it turns the unit from "due" to "done"
    open_by_unit: dict = {}
    for o in found:
        open_by_unit.setdefault(o.unit_code, []).append(o)
    wide, _ = ins.due(store, name, *ins.window_range("today"), now=now)
    pending = {c: [o for o in wide if o.unit_code == c and o.state in ("due", "upcoming", "missed")]
               for c in open_by_unit}
    code = next((c for c, os in pending.items() if len(os) == 1 and os[0].state == "due"
                 and c in unit_locations(store, name, {c})), None)
    if code is None:
        pytest.skip("no unit of the demo has exactly one open check now")
    point = unit_locations(store, name, {code})[code]
    t = TMS.tile(point.x, point.y, 18)

    def shown():
        body = client.get(f"/tiles/coverage/{t.z}/{t.x}/{t.y}.mvt").content
        feats = mapbox_vector_tile.decode(body).get("coverage", {}).get("features", [])
        return {f["properties"]["unit_id"]: f["properties"]["coverage"] for f in feats}.get(code)

    assert shown() == "due"
    o = pending[code][0]
    task = tasks[o.task_id]
    ins.record_check(store, name, task.id, [{"item": i + 1, "result": "pass"} for i in range(len(task.items))],
                     inspector=ins.Inspector("测试巡检员"), check_assignment=False)
    assert shown() == "done" == ins.coverage(store, name, "today")[0][code]
