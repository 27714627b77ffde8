"""Tiles as of a past moment (`?at=`): equal, decoded, to the tiles fetched at that moment before a later edit;
immutable; TileJSON names the moment; bad moments are 400 in Chinese and English."""

from __future__ import annotations

import datetime as dt
import time

import mapbox_vector_tile
import pytest
from kit import TMS, copy_db, load_demo_db, make_client, rgba
from plants import force

from riskmap.levels import Level


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return load_demo_db(tmp_path_factory.mktemp("asof"))


def chinese_and_english(text: str) -> bool:
    return "/ " in text and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def features(body: bytes, layer: str) -> list:
    return sorted((f["id"], repr(f["geometry"]), sorted(f["properties"].items()))
                   for f in mapbox_vector_tile.decode(body).get(layer, {}).get("features", []))


def test_tiles_at_a_past_moment_equal_the_tiles_fetched_then(demo_db, tmp_path):
    from riskmap.store import open_store

    url = copy_db(demo_db, tmp_path)
    client = make_client(url)
    doc = client.get("/tiles/units/tilejson.json", params={"format": "mvt"}).json()
    west, south, east, north = doc["bounds"]
    t = TMS.tile((west + east) / 2, (south + north) / 2, 17)
    paths = [f"/tiles/{layer}/17/{t.x}/{t.y}.{fmt}" for layer in ("units", "regions") for fmt in ("mvt", "png")]
    then = {p: client.get(p).content for p in paths}
    unit_id = mapbox_vector_tile.decode(then[paths[0]])["units"]["features"][0]["properties"]["unit_id"]
    time.sleep(1.1)
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0)
    time.sleep(1.1)
    with open_store(url) as store:
        name = store.enterprises()[0].name
        current = next(u for u in store.units(name) if u.id == unit_id)
        new_level = Level.LOW if current.level() == Level.MAJOR else Level.MAJOR
        store.edit_unit(name, unit_id, force(new_level))
    now = {p: client.get(p).content for p in paths}
    assert now[paths[0]] != then[paths[0]]                 # the edit shows in the present
    at = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    for p in paths:
        r = client.get(p, params={"at": at})
        assert r.status_code == 200 and r.headers["cache-control"].endswith("immutable")
        if p.endswith(".mvt"):
            layer = p.split("/")[2]
            assert features(r.content, layer) == features(then[p], layer)
        else:
            assert (rgba(r.content) == rgba(then[p])).all()
        again = client.get(p, params={"at": at}, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
    # local time without an offset is Beijing time: the same moment written as UTC+8
    local = (moment + dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S")
    assert features(client.get(paths[0], params={"at": local}).content, "units") == features(then[paths[0]], "units")
    tj = client.get("/tiles/units/tilejson.json", params={"format": "mvt", "at": at}).json()
    assert "at=" in tj["tiles"][0] and "v=" not in tj["tiles"][0] and tj["as_of"].startswith(moment.isoformat()[:16])
    tile_url = tj["tiles"][0].replace("{z}", "17").replace("{x}", str(t.x)).replace("{y}", str(t.y))
    assert features(client.get(tile_url).content, "units") == features(then[paths[0]], "units")


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "1980-01-01", "2999-01-01T00:00", "x" * 500, ""])
def test_bad_moments_are_400(demo_db, bad):
    client = make_client(f"sqlite:///{demo_db}")
    for path in ("/tiles/units/17/1/1.png", "/tiles/units/tilejson.json"):
        r = client.get(path, params={"at": bad})
        assert r.status_code == 400, (path, bad, r.text)
        assert chinese_and_english(r.json()["detail"]) and "moment" in r.json()["detail"]


def test_a_moment_before_anything_was_stored(demo_db):
    client = make_client(f"sqlite:///{demo_db}")
    r = client.get("/tiles/units/17/1/1.mvt", params={"at": "2000-01-01T00:00"})
    assert 400 <= r.status_code < 500 and chinese_and_english(r.json()["detail"])
