"""The inspection-coverage layer: units by the state of their checks in a window (today, week, month), the
checkpoints as points; PNG pixels never in (or near) a risk colour; MVT features carry the states the inspection
room computes; a saved change (a new data version) gives new tiles; bad windows and past states refused."""

from __future__ import annotations

from datetime import timedelta

import mapbox_vector_tile
import numpy as np
import pytest
from kit import TMS, copy_db, load_demo_db, make_client, rgba

from riskmap.clock import now as clock_now
from riskmap.inspections import store as ins
from riskmap.inspections.coverage import COVERAGE
from riskmap.inspections.occurrences import Shutdown
from riskmap.plant import resolve_enterprise
from riskmap.store import open_store

RISK = np.array([[0xFF, 0x00, 0x00], [0xFF, 0x8C, 0x00], [0xFF, 0xFF, 0x00], [0x00, 0x70, 0xC0]])
NEAR = 60         # per channel: nothing drawn within this of a risk colour


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return load_demo_db(tmp_path_factory.mktemp("coverage"))


@pytest.fixture
def demo(demo_db, tmp_path):
    url = copy_db(demo_db, tmp_path)
    return url, make_client(url)


def _centre(client, z: int, **params):
    doc = client.get("/tiles/coverage/tilejson.json", params={"format": "mvt", **params}).json()
    west, south, east, north = doc["bounds"]
    return doc, TMS.tile((west + east) / 2, (south + north) / 2, z)


def _features(client, t, layer="coverage", **params) -> list[dict]:
    body = client.get(f"/tiles/coverage/{t.z}/{t.x}/{t.y}.mvt", params=params)
    assert body.status_code == 200
    return mapbox_vector_tile.decode(body.content).get(layer, {}).get("features", [])


def _expected(url: str, window: str) -> tuple[dict, set]:
    with open_store(url) as store:
        return ins.coverage(store, resolve_enterprise(store, None), window)


def test_vector_tiles_carry_the_states_and_the_checkpoints(demo):
    url, client = demo
    doc, t = _centre(client, 17)
    assert doc["window"] == "today" and [v["id"] for v in doc["vector_layers"]] == ["coverage", "checkpoints"]
    assert "window=today" in doc["tiles"][0]
    for window in ("today", "week", "month"):
        states, _ = _expected(url, window)
        feats = _features(client, t, window=window)
        assert len(feats) > 3
        for f in feats:
            assert f["properties"]["coverage"] == states.get(f["properties"]["unit_id"], "none")
        assert {f["properties"]["coverage"] for f in feats} - {"none"}      # the demo shows states
    assert _features(client, t, layer="checkpoints") == []                  # no plate issued yet
    in_tile = sorted({f["properties"]["unit_id"] for f in _features(client, t)})[:3]
    with open_store(url) as store:
        ins.issue_checkpoints(store, resolve_enterprise(store, None), in_tile)
    points = _features(client, t, layer="checkpoints")
    assert sorted({p["properties"]["unit_id"] for p in points}) == in_tile
    assert all(p["geometry"]["type"] == "Point" and p["properties"]["coverage"] == "checkpoint" for p in points)


def test_png_never_shows_a_risk_colour(demo):
    url, client = demo
    drawn = 0
    for z in (16, 18):
        _, t = _centre(client, z)
        for window in ("today", "month"):
            for dx, dy in ((0, 0), (1, 0), (0, 1)):
                r = client.get(f"/tiles/coverage/{z}/{t.x + dx}/{t.y + dy}.png", params={"window": window})
                assert r.status_code == 200 and r.headers["content-type"] == "image/png"
                px = rgba(r.content)
                seen = px[px[..., 3] > 40][:, :3].astype(int)
                near = (np.abs(seen[:, None, :] - RISK[None, :, :]).max(axis=-1) <= NEAR).any(axis=1)
                assert not near.any(), (z, window, seen[near][:3])
                drawn += len(seen)
    assert drawn > 1000
    assert all(s in COVERAGE for s in ("missed", "due", "done", "suspended", "none"))


def test_a_change_gives_new_tiles_and_bad_requests(demo):
    url, client = demo
    _, t = _centre(client, 17)
    first = client.get(f"/tiles/coverage/17/{t.x}/{t.y}.mvt")
    unit = _features(client, t)[0]["properties"]["unit_id"]
    with open_store(url) as store:
        name = resolve_enterprise(store, None)
        now = clock_now()
        ins.add_shutdown(store, name, Shutdown(unit, now - timedelta(days=3), now + timedelta(days=3), "检修"))
    second = client.get(f"/tiles/coverage/17/{t.x}/{t.y}.mvt")
    assert second.headers["etag"] != first.headers["etag"]
    states, _ = _expected(url, "today")
    for f in _features(client, t):
        assert f["properties"]["coverage"] == states.get(f["properties"]["unit_id"], "none")
    assert states.get(unit) in ("suspended", "done", "missed", None)
    assert client.get(f"/tiles/coverage/17/{t.x}/{t.y}.png", params={"window": "year"}).status_code == 422
    assert client.get(f"/tiles/coverage/17/{t.x}/{t.y}.png", params={"window": "x" * 5000}).status_code == 422
    moment = (clock_now() - timedelta(seconds=1)).isoformat()
    past = client.get(f"/tiles/coverage/17/{t.x}/{t.y}.png", params={"at": moment})
    assert past.status_code == 404 and "no past state" in past.json()["detail"], past.text
