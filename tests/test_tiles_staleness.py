"""The staleness layer: units coloured by days since their last assessment (layers/staleness.yaml buckets),
flagged units outlined over them, `flagged=1` keeping only those; the day is part of the cache key and ETag."""

from __future__ import annotations

import datetime as dt

import mapbox_vector_tile
import numpy as np
import pytest
from kit import TMS, copy_db, load_demo_db, make_client, map_rows, rgba

from riskmap.render.style import load_layer_style


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return load_demo_db(tmp_path_factory.mktemp("stale"))


@pytest.fixture
def demo(demo_db, tmp_path):
    url = copy_db(demo_db, tmp_path)
    return url, make_client(url)


def bucket(days: int | None) -> str:
    style = load_layer_style("staleness")
    if days is None:
        return style.default_class
    return next(role for role, top in style.buckets if days <= top)


def centre_tile(client, z: int, layer: str = "staleness", **params):
    doc = client.get(f"/tiles/{layer}/tilejson.json", params={"format": "mvt", **params}).json()
    west, south, east, north = doc["bounds"]
    return doc, TMS.tile((west + east) / 2, (south + north) / 2, z)


def test_days_and_buckets_in_vector_tiles(demo):
    url, client = demo
    doc, t = centre_tile(client, 17)
    assert doc["vector_layers"][0]["fields"]["days_since_assessed"] == "Number"
    assert doc["minzoom"] == load_layer_style("staleness").mvt_min_zoom == 17
    today = dt.date.fromisoformat(doc["day"])
    feats = mapbox_vector_tile.decode(client.get(f"/tiles/staleness/17/{t.x}/{t.y}.mvt").content)["staleness"][
        "features"]
    rows = {r["key"]: r for r in map_rows(url, "units")}
    assert len(feats) > 3
    for f in feats:
        p = f["properties"]
        last = rows[p["unit_id"]]["last_assessed"]
        days = None if last is None else (today - dt.date.fromisoformat(last[:10])).days
        assert p.get("days_since_assessed") == days
        assert p["staleness"] == bucket(days)


def test_png_colours_by_bucket_and_flagged_units_stand_out(demo):
    url, client = demo
    from riskmap.store import open_store

    _, t = centre_tile(client, 18)
    feats = mapbox_vector_tile.decode(client.get(f"/tiles/staleness/18/{t.x}/{t.y}.mvt").content)["staleness"][
        "features"]
    polygon = next(f for f in feats if f["geometry"]["type"] == "Polygon" and not f["properties"]["flagged"])
    unit_id = polygon["properties"]["unit_id"]
    pink = np.array([0xE7, 0x29, 0x8A])

    def pink_pixels(body: bytes) -> int:
        px = rgba(body)
        return int(((np.abs(px[..., :3].astype(int) - pink).max(axis=-1) <= 30) & (px[..., 3] > 150)).sum())

    def flagged_ids(layer: str) -> set[str]:
        tile = mapbox_vector_tile.decode(client.get(f"/tiles/{layer}/18/{t.x}/{t.y}.mvt?flagged=1").content)
        return {f["properties"]["unit_id"] for f in tile.get(layer, {}).get("features", [])}

    before = client.get(f"/tiles/staleness/18/{t.x}/{t.y}.png")
    assert before.status_code == 200
    assert unit_id not in flagged_ids("staleness") and unit_id not in flagged_ids("units")
    with open_store(url) as store:
        name = store.enterprises()[0].name
        store.record_accident(name, unit_id, dt.date.today(), "测试事故 / test accident")
    after = client.get(f"/tiles/staleness/18/{t.x}/{t.y}.png")
    assert pink_pixels(after.content) > pink_pixels(before.content) + 20    # its 需复评 outline
    only = mapbox_vector_tile.decode(client.get(f"/tiles/staleness/18/{t.x}/{t.y}.mvt?flagged=1").content)
    flagged = {f["properties"]["unit_id"]: f for f in only["staleness"]["features"]}
    assert unit_id in flagged and "accident" in flagged[unit_id]["properties"]["flag"]
    assert unit_id in flagged_ids("units")
    assert "flagged=1" in client.get("/tiles/units/tilejson.json", params={"flagged": 1}).json()["tiles"][0]
    assert client.get(f"/tiles/units/18/{t.x}/{t.y}.mvt?flagged=perhaps").status_code == 422


def test_the_day_is_part_of_the_etag_and_the_cache(demo):
    _, client = demo
    _, t = centre_tile(client, 17)
    path = f"/tiles/staleness/17/{t.x}/{t.y}.mvt"
    first = client.get(path)
    service = client.app.state.tiles.service
    real = service.today
    later = (dt.date.fromisoformat(real()) + dt.timedelta(days=400)).isoformat()
    service.today = lambda: later
    try:
        moved = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert moved.status_code == 200 and moved.headers["etag"] != first.headers["etag"]
        def days(body: bytes) -> dict[str, int | None]:
            return {f["properties"]["unit_id"]: f["properties"].get("days_since_assessed")
                    for f in mapbox_vector_tile.decode(body)["staleness"]["features"]}

        new, old = days(moved.content), days(first.content)
        assert new.keys() == old.keys()
        moved_by = [new[k] - old[k] for k in new if new[k] is not None]
        assert moved_by and all(d == 400 for d in moved_by)
    finally:
        service.today = real
