"""Edits under many tile readers (issue 18): the map update after an edit and the render of a tile it touched are
done once for all the requests that need them, in a bounded pool of their own; a tile asked for with an old version
is redirected without the map being brought up to date first; a write takes no more trips to a worker thread than
its token and its work need. And still never a stale tile."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import anyio.to_thread
import httpx
import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from kit import run_async

from riskmap.api.app import create_app
from riskmap.api.tilework import TileWork
from riskmap.settings import Settings
from riskmap.store import open_store

UNIT = "CY-01-02"


class FakeMap:
    """A tile service whose update and render count their calls and take a while, with a database version."""

    def __init__(self):
        self.db_version = 1
        self.updates = 0
        self.renders = 0
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def _busy(self, seconds: float) -> None:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(seconds)
        with self._lock:
            self.running -= 1

    def update(self, ent_id, name):
        version = self.db_version                 # what the update reads when it begins
        self.updates += 1
        self._busy(0.05)
        return type("Data", (), {"version": version})()

    def redraw(self, ent_id):
        return 0

    def render(self, key, data, view):
        self.renders += 1
        self._busy(0.03)
        return f"{key}@{data.version}".encode()


def test_one_update_serves_every_request_that_waits_for_it():
    async def main():
        work, fake = TileWork(), FakeMap()
        found = await asyncio.gather(*[work.update(fake, 1, "企业", 1) for _ in range(50)])
        assert fake.updates == 1 and {d.version for d in found} == {1}
        assert work.started == 1

    run_async(main)


def test_a_request_that_saw_a_newer_version_than_the_update_in_flight_waits_for_another():
    async def main():
        work, fake = TileWork(), FakeMap()
        first = asyncio.ensure_future(work.update(fake, 1, "企业", 1))
        await asyncio.sleep(0.01)                  # the first update has read version 1
        fake.db_version = 2                        # an edit commits; a request checks and sees version 2
        second = await work.update(fake, 1, "企业", 2)
        assert (await first).version == 1
        assert second.version == 2 and fake.updates == 2

    run_async(main)


def test_one_render_per_tile_and_version_in_a_bounded_pool():
    async def main():
        work, fake = TileWork(threads=2), FakeMap()
        data = type("Data", (), {"version": 7})()
        same = await asyncio.gather(*[work.render(fake, "tile-a", data, None) for _ in range(40)])
        assert fake.renders == 1 and set(same) == {b"tile-a@7"}
        other = await asyncio.gather(*[work.render(fake, f"tile-{i}", data, None) for i in range(6)])
        assert fake.renders == 7 and len(set(other)) == 6
        assert fake.most <= 2                      # never more threads than the pool has

    run_async(main)


def test_a_request_that_goes_away_leaves_the_work_to_the_others():
    async def main():
        work, fake = TileWork(), FakeMap()
        data = type("Data", (), {"version": 1})()
        leaving = asyncio.ensure_future(work.render(fake, "tile", data, None))
        staying = asyncio.ensure_future(work.render(fake, "tile", data, None))
        await asyncio.sleep(0.005)
        leaving.cancel()
        assert await staying == b"tile@1" and fake.renders == 1

    run_async(main)


def _units_in(body: bytes) -> dict[str, str]:
    feats = mapbox_vector_tile.decode(body).get("units", {"features": []})["features"]
    return {f["properties"]["unit_id"]: f["properties"]["level"] for f in feats}


def test_readers_after_an_edit_share_one_update_and_one_render_and_never_see_the_old_colour(store_url, editor_token):
    """Many readers at once, right after an edit: those with the old version are redirected before the map is
    brought up to date, those with the new one wait for a single update and a single render, and every tile they
    get has the new level (SQLite and PostGIS)."""
    from riskmap.demo import load_demo

    load_demo(Settings(db=store_url))
    app = create_app(Settings(db=store_url))
    headers = editor_token(store_url)

    async def main():
        async with _unit_tile(app) as (client, tile, old):
            first = await client.get(tile(old))
            assert first.status_code == 200 and _units_in(first.content)[UNIT] != "major"
            service = app.state.tiles.service
            calls = {"update": 0}
            update = service.update

            def counted(*args):
                calls["update"] += 1
                return update(*args)

            service.update = counted
            r = await client.patch(f"/api/units/{UNIT}", json={"override": {"level": "major", "reason": "读者测试"}},
                                   headers=headers)
            assert r.status_code == 200, r.text
            new = r.json()["data_version"]
            assert new != old
            moved = await asyncio.gather(*[client.get(tile(old)) for _ in range(20)])
            assert {m.status_code for m in moved} == {302}
            assert {m.headers["location"].rsplit("v=", 1)[1] for m in moved} == {str(new)}
            assert calls["update"] == 0                # an old version needs no new map to be sent on
            renders = service.renders
            fresh = await asyncio.gather(*[client.get(tile(new)) for _ in range(30)])
            assert {f.status_code for f in fresh} == {200}
            assert all(_units_in(f.content)[UNIT] == "major" for f in fresh)
            assert len({f.content for f in fresh}) == 1
            assert calls["update"] == 1
            assert service.renders == renders + 1

    run_async(main)


@contextlib.asynccontextmanager
async def _unit_tile(app):
    """A client of the app in process, the URL of the MVT tile at z18 that holds the unit as a function of the
    version, and the current data version."""
    import morecantile
    import shapely.geometry

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://riskmap") as client:
        tj = (await client.get("/tiles/units/tilejson.json", params={"format": "mvt"})).json()
        feats = (await client.get("/api/units.geojson")).json()["features"]
        shape = next(shapely.geometry.shape(f["geometry"]) for f in feats if f["properties"]["unit_id"] == UNIT)
        point = shape.representative_point()
        t = morecantile.tms.get("WebMercatorQuad").tile(point.x, point.y, 18)
        path = tj["tiles"][0].removeprefix("http://riskmap").format(z=18, x=t.x, y=t.y).rsplit("&v=", 1)[0]
        yield client, (lambda version: f"{path}&v={version}"), tj["data_version"]


def test_a_write_takes_a_worker_thread_for_its_token_and_its_work_only(demo_copy, editor_token, monkeypatch):
    """Under many readers every trip to a worker thread and back waits for the event loop's turn: the permission
    checks the guard has already made are answered on the loop, and the edit's answer is checked there too."""
    trips = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        trips.append(getattr(func, "__name__", repr(func)))
        return await run_sync(func, *args, **kwargs)

    with TestClient(create_app(Settings(db=demo_copy))) as client:
        headers = editor_token(demo_copy)
        client.get("/healthz")
        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        r = client.patch(f"/api/units/{UNIT}", json={"override": {"level": "major", "reason": "线程测试"}},
                         headers=headers)
        monkeypatch.undo()
        assert r.status_code == 200, r.text
        assert r.json()["level"] == "major"
    assert len(trips) == 2, trips


@pytest.mark.parametrize("read_requires_token", [False, True])
def test_the_permission_checks_answered_on_the_loop_still_refuse(demo_copy, editor_token, read_requires_token):
    """The checks answered without a thread are the ones already made: a reader's token still may not edit, and
    with reading closed a request without a token is still refused."""
    from riskmap.store.tokens import create_token

    with open_store(demo_copy) as store:
        reader, _ = create_token(store, "reader", "读者")
    with TestClient(create_app(Settings(db=demo_copy, read_requires_token=read_requires_token))) as client:
        r = client.patch(f"/api/units/{UNIT}", json={"override": {"level": "major", "reason": "x"}},
                         headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 403
        r = client.get("/api/units.geojson")
        assert r.status_code == (401 if read_requires_token else 200)
        r = client.get("/api/units.geojson", headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 200


def test_an_old_version_is_always_sent_to_the_newest(demo_copy, editor_token):
    """The fast path remembers the addresses it redirects to, by version: after a second edit the same old
    address is sent to the newest version, not to the one remembered."""
    with TestClient(create_app(Settings(db=demo_copy))) as client:
        headers = editor_token(demo_copy)
        tj = client.get("/tiles/units/tilejson.json").json()
        old = tj["tiles"][0].removeprefix("http://testserver").format(z=17, x=109000, y=53000)
        seen = []
        for level in ("major", "low"):
            r = client.patch(f"/api/units/{UNIT}", json={"override": {"level": level, "reason": "地址"}},
                             headers=headers)
            new = r.json()["data_version"]
            for _ in range(2):
                moved = client.get(old, follow_redirects=False)
                assert moved.status_code == 302 and moved.headers["location"].endswith(f"&v={new}")
            seen.append(new)
        assert seen[1] > seen[0]


def test_a_serving_process_freezes_the_heap_it_starts_with(demo_copy):
    """`riskmap serve` (its worker processes' app factory) leaves the objects of its start out of the cyclic
    garbage collector, so that a full collection does not walk them with the event loop stopped."""
    import os
    import subprocess
    import sys

    script = ("import gc\nfrom riskmap.cli.service import served_app\napp = served_app()\n"
              "print(gc.get_freeze_count(), type(app).__name__)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "RISKMAP_DB": demo_copy})
    assert out.returncode == 0, out.stderr
    frozen, kind = out.stdout.split()
    assert int(frozen) > 100_000 and kind == "TileFastPath"


def test_after_an_edit_readers_of_untouched_tiles_wait_for_the_update_in_the_fast_path(demo_copy, editor_token,
                                                                                       monkeypatch):
    """Right after an edit the process's map is behind: the fast path waits for the one shared update and then
    answers the tiles the edit did not touch from the cache; only the touched tile goes on to the routes (and is
    drawn once)."""
    from riskmap.api.routers import tiles as tiles_router

    app = create_app(Settings(db=demo_copy))
    headers = editor_token(demo_copy)

    async def main():
        async with _unit_tile(app) as (client, tile, _):
            touched = tile(0).rsplit("&v=", 1)[0]
            z, x, y = (int(n) for n in touched.split("?")[0].removesuffix(".mvt").split("/")[-3:])
            away = touched.replace(f"/{z}/{x}/{y}.mvt", f"/{z}/{x + 6}/{y + 6}.mvt")
            before = {p: (await client.get(p)).content for p in (touched, away)}
            calls = []
            real = tiles_router._tile

            async def counted(*args, **kwargs):
                calls.append(args[1:6])
                return await real(*args, **kwargs)

            monkeypatch.setattr(tiles_router, "_tile", counted)
            service = app.state.tiles.service
            renders = service.renders
            r = await client.patch(f"/api/units/{UNIT}", json={"override": {"level": "major", "reason": "快路"}},
                                   headers=headers)
            assert r.status_code == 200, r.text
            answers = await asyncio.gather(*[client.get(p) for p in [away] * 20 + [touched] * 20])
            assert {a.status_code for a in answers} == {200}
            assert all(a.content == before[away] for a in answers[:20])       # untouched: the same bytes
            assert all(_units_in(a.content)[UNIT] == "major" for a in answers[20:])
            assert not [c for c in calls if c[1:4] == (str(z), str(x + 6), str(y + 6))]      # the fast path's
            assert len(calls) <= 20                                                           # the touched one's
            assert service.renders == renders + 1

    run_async(main)


@pytest.mark.parametrize("most", [64, 0])
def test_an_update_draws_again_the_tiles_readers_were_looking_at(demo_copy, editor_token, most):
    """The tiles an edit touched that were in the cache are drawn again by the update itself, before its waiters go
    on (and before anyone asks for them), with the new colour; `redraw_most` 0 leaves them to their readers."""
    from riskmap.render.tilecache import TileKey

    app = create_app(Settings(db=demo_copy))
    headers = editor_token(demo_copy)

    async def main():
        async with _unit_tile(app) as (client, tile, version):
            assert (await client.get(tile(version))).status_code == 200
            far = "/tiles/units/2/0/0.mvt"                 # meets nothing of the plant
            assert (await client.get(far)).status_code == 200
            service = app.state.tiles.service
            service.redraw_most = most
            touched = [k for k in service.cache.keys(owner=None) if isinstance(k, TileKey) and k.layer == "units"
                       and k.z == 18]
            assert len(touched) == 1
            r = await client.patch(f"/api/units/{UNIT}", json={"override": {"level": "major", "reason": "重绘测试"}},
                                   headers=headers)
            assert r.status_code == 200, r.text
            new = r.json()["data_version"]
            redrawn, renders = service.redrawn, service.renders
            assert (await client.get(far)).status_code == 200             # this reader's wait brings the update
            data = service._data[touched[0].owner]
            assert data.version == new
            if most:
                assert service.cache.holds(touched[0], new)
                assert service.redrawn == redrawn + 1 and service.renders == renders + 1
                body = service.cache.get(touched[0], new)
                assert _units_in(body)[UNIT] == "major"
                fresh = await client.get(tile(new))
                assert fresh.content == body and service.renders == renders + 1
            else:
                assert not service.cache.holds(touched[0], new) and service.redrawn == redrawn
                fresh = await client.get(tile(new))
                assert _units_in(fresh.content)[UNIT] == "major" and service.renders == renders + 1

    run_async(main)


def test_the_redraw_keeps_to_its_budget_and_takes_the_tiles_read_last(demo_copy):
    """Many tiles dropped at once: the update draws again at most `redraw_most` of them, those read last first, and
    stops when its time is up (the rest are drawn when asked for, as before)."""
    from riskmap.render.grid import TileView
    from riskmap.render.tilecache import TileService

    with open_store(demo_copy, create=False) as store:
        service = TileService(store)
        data = service.current(None)
        views = [TileView(18, x, y) for x in range(215700, 215720) for y in range(99000, 99002)]
        keys = [service.key(data, "units", "png", v) for v in views]
        for key in keys:
            service.cache.put(key, b"old", data.version)
        for key in keys[:5]:                                   # read last: these five
            service.cache.get(key, data.version)
        world = [[-2.1e7, -2.1e7, 2.1e7, 2.1e7]]
        dropped: list = []
        assert service.cache.invalidate(data.enterprise_id, "units", world, lambda fmt, z: 0, data.version + 1,
                                        dropped, 5) == len(keys)
        assert set(dropped) == set(keys[:5])
        service.cache.set_generation(data.enterprise_id, data.version)
        service._redraw[data.enterprise_id] = keys
        service.redraw_most, service.redraw_budget_s = 64, 0.0
        assert service.redraw(data.enterprise_id) == 1               # time was up after the first
        service._redraw[data.enterprise_id] = keys
        service.redraw_most, service.redraw_budget_s = 3, 10.0
        assert service.redraw(data.enterprise_id) == 2               # the first is held already
        assert all(service.cache.holds(k, data.version) for k in keys[:3])
        assert not any(service.cache.holds(k, data.version) for k in keys[3:])
