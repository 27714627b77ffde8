"""The app as `riskmap serve` runs it (issue 18): the cached-tile fast path in front of every layer of the service.

Its answers are the whole service's, header for header (CORS, nosniff, compression left to the layers that decide
it); a versioned tile skips the version check for a second after one, never after a write through this process;
`riskmap serve` hands uvicorn that app, with no access log, in one process or several.
"""

from __future__ import annotations

import copy
import socket

import morecantile
import pytest
from fastapi.testclient import TestClient
from kit import copy_db

from riskmap.api.app import create_app
from riskmap.api.routers import tiles as tiles_router
from riskmap.cli import service
from riskmap.settings import Settings

TMS = morecantile.tms.get("WebMercatorQuad")
TOKEN_ORIGIN = "https://editor.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_headers(response) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in response.headers.multi_items())


class Counting:
    """The app behind the front fast path, counting the requests that reach it."""

    def __init__(self, app):
        self.app, self.calls = app, 0
        self.state = app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


def make_pair(demo_db, tmp_path, token_origins: str = TOKEN_ORIGIN):
    """The service without any fast path, and the served app (its inner app counted), on one copy of the demo."""
    url = copy_db(demo_db, tmp_path)
    settings = Settings(db=url, cors_token_origins=token_origins)
    plain = TestClient(create_app(settings, fast_tiles=False))
    front = service.served_app(settings)
    assert isinstance(front, tiles_router.TileFastPath)
    inner = front.app = Counting(front.app)
    return plain, TestClient(front), inner


@pytest.fixture
def pair(demo_db, tmp_path):
    return make_pair(demo_db, tmp_path)


@pytest.mark.parametrize("token_origins", [TOKEN_ORIGIN, ""], ids=["token-origins", "any-origin-alike"])
def test_the_front_answers_cached_tiles_with_every_header_of_the_service(demo_db, tmp_path, token_origins):
    plain, served, inner = make_pair(demo_db, tmp_path, token_origins)
    tj = plain.get("/tiles/units/tilejson.json").json()
    v = tj["data_version"]
    t = TMS.tile(tj["center"][0], tj["center"][1], 17)
    png, mvt = f"/tiles/units/17/{t.x}/{t.y}.png", f"/tiles/regions/17/{t.x}/{t.y}.mvt"
    paths = [png, f"{png}?v={v}", f"/tiles/layout/17/{t.x}/{t.y}@2x.png?hatch=1&v={v}", f"{mvt}?v={v}", mvt]
    identity = {"Accept-Encoding": "identity"}
    for p in paths:                                       # fill the caches through the routes
        assert plain.get(p, headers=identity).status_code == served.get(p, headers=identity).status_code == 200
    etag = plain.get(png).headers["etag"]
    answered = [                                          # (path, request headers): the front answers alone
        *[(p, identity) for p in paths],
        *[(p, {**identity, "Origin": "https://gis.example"}) for p in paths],
        (png, {"Accept-Encoding": "gzip, br"}),            # a PNG is never compressed
        (png, {**identity, "If-None-Match": etag}),        # 304
        (f"{png}?labels=0&v={v - 1}", identity),           # an old version: 302
    ]
    passed_on = [                                         # what the service's layers decide
        (f"{mvt}?v={v}", {"Accept-Encoding": "gzip"}),    # compressed
        (f"{mvt}?v={v}", {"Accept-Encoding": "br;q=1, gzip;q=0.5"}),
        *[(png, {**identity, "Origin": TOKEN_ORIGIN})] * bool(token_origins),   # the token origins' CORS rules
        (png, {**identity, "Content-Length": "0"}),        # a body declared: the guard's
        (f"/tiles/units/17/{t.x}/{t.y}.png?hatch=x", identity),   # an error: the routes'
    ]
    for cases, reaching in ((answered, 0), (passed_on, 1)):
        for p, headers in cases:
            before = inner.calls
            a, b = plain.get(p, headers=headers, follow_redirects=False), \
                served.get(p, headers=headers, follow_redirects=False)
            assert (a.status_code, a.content) == (b.status_code, b.content), (p, headers)
            assert raw_headers(a) == raw_headers(b), (p, headers)
            assert inner.calls - before == reaching, (p, headers, a.status_code)
    assert served.get(mvt, headers={"Accept-Encoding": "gzip"}).headers["content-encoding"] == "gzip"
    assert served.get(png, headers={"Origin": "https://gis.example"}).headers["access-control-allow-origin"] == "*"
    # with no token origins a tile's answer is the same for every origin (one copy in a front cache serves all)
    bare, other = served.get(f"{png}?v={v}", headers=identity), \
        served.get(f"{png}?v={v}", headers={**identity, "Origin": "https://gis.example"})
    assert ("vary" in bare.headers) == ("vary" in other.headers) == bool(token_origins)
    if not token_origins:
        assert raw_headers(bare) == raw_headers(other) and bare.headers["access-control-allow-origin"] == "*"


def test_the_front_leaves_every_tile_to_the_read_gate_while_reading_needs_a_token(demo_db, tmp_path):
    from riskmap.store import open_store
    from riskmap.store.tokens import create_token

    url = copy_db(demo_db, tmp_path)
    with open_store(url) as store:
        token, _ = create_token(store, "reader", "front")
    front = service.served_app(Settings(db=url, read_requires_token=True))
    served = TestClient(front)
    tj = served.get("/tiles/units/tilejson.json", headers={"Authorization": f"Bearer {token}"}).json()
    t = TMS.tile(tj["center"][0], tj["center"][1], 17)
    path = f"/tiles/units/17/{t.x}/{t.y}.png?v={tj['data_version']}"
    ok = served.get(path, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.headers["cache-control"].startswith("private")
    assert served.get(path).status_code == 401                         # cached, yet no token: refused


def test_a_versioned_tile_skips_the_version_check_for_a_while_never_after_a_write_here(pair, monkeypatch):
    from riskmap.store import open_store
    from riskmap.store.tokens import create_token

    plain, served, inner = pair
    url = str(inner.app.state.settings.db)
    with open_store(url) as store:
        token, _ = create_token(store, "editor", "front")
    editor = {"Authorization": f"Bearer {token}"}
    tj = served.get("/tiles/units/tilejson.json", params={"format": "mvt"}).json()
    v = tj["data_version"]
    t = TMS.tile(tj["center"][0], tj["center"][1], 18)
    path = f"/tiles/units/18/{t.x}/{t.y}.mvt"
    identity = {"Accept-Encoding": "identity"}
    assert served.get(path, params={"v": v}, headers=identity).status_code == 200
    checker = inner.app.state.tiles.service.checker
    checks = []
    real = checker.state
    monkeypatch.setattr(checker, "state", lambda *a: checks.append(a[0]) or real(*a))
    monkeypatch.setattr(tiles_router, "VERSIONED_RECHECK_S", 3600.0)
    for _ in range(3):
        assert served.get(path, params={"v": v}, headers=identity).status_code == 200
    assert checks == []
    assert served.get(path, headers=identity).status_code == 200
    assert served.get(path, headers=identity).status_code == 200
    assert checks == [None, None]                        # unversioned: every time
    # a write through this process: the next versioned tile checks, and finds the new version
    assert served.patch("/api/units/CY-01-02", headers=editor,
                        json={"override": {"level": "low", "reason": "前置快速路径"}}).status_code == 200
    checks.clear()
    old = served.get(path, params={"v": v}, headers=identity, follow_redirects=False)
    assert old.status_code == 302 and old.headers["location"].endswith(f"v={v + 1}") and checks
    assert served.get(path, params={"v": v + 1}, headers=identity).status_code == 200
    # a write through another process: the tile of the version checked last still answers within the window
    # (its URL names that version's bytes for good), then a check sends the map on to the new version
    assert plain.patch("/api/units/CY-01-02", headers=editor, json={"override": None}).status_code == 200
    checks.clear()
    assert served.get(path, params={"v": v + 1}, headers=identity).status_code == 200
    assert checks == []
    monkeypatch.setattr(tiles_router, "VERSIONED_RECHECK_S", 0.0)
    moved = served.get(path, params={"v": v + 1}, headers=identity, follow_redirects=False)
    assert moved.status_code == 302 and moved.headers["location"].endswith(f"v={v + 2}") and checks


def test_a_versioned_tile_asked_for_again_is_answered_by_its_address_while_all_it_rests_on_holds(pair, monkeypatch):
    """The second time a versioned tile is asked for, its key, ETag and headers are not worked out again: the same
    answer, header for header; a tile the cache let go, a style read again or a version check gone stale take the
    whole way again."""
    plain, served, inner = pair
    tj = served.get("/tiles/units/tilejson.json").json()
    v = tj["data_version"]
    t = TMS.tile(tj["center"][0], tj["center"][1], 18)
    path, params = f"/tiles/units/18/{t.x}/{t.y}.png", {"v": v, "hatch": "1"}
    inner.calls = 0
    first = served.get(path, params=params)               # drawn by the routes
    assert first.status_code == 200 and inner.calls == 1
    assert served.get(path, params=params).content == first.content      # from the cache, the whole way
    inner.calls = 0
    service = inner.app.state.tiles.service
    keys = []
    real = service.key
    monkeypatch.setattr(service, "key", lambda *a, **k: keys.append(a) or real(*a, **k))
    again = served.get(path, params=params)
    assert keys == [] and inner.calls == 0
    assert again.content == first.content == plain.get(path, params=params).content
    assert raw_headers(again) == raw_headers(first)
    assert [k for k in inner.app.state.tiles.answers] == [(path, f"v={v}&hatch=1".encode())]

    def the_whole_way() -> bool:
        before = len(keys)
        assert served.get(path, params=params).content == first.content
        return len(keys) > before

    service.cache.clear()                                  # let go by the cache: drawn again, the same bytes
    assert the_whole_way() and not the_whole_way()
    styles = service.styles
    monkeypatch.setattr(service, "styles", lambda layer: copy.copy(styles(layer)))
    service._styles.clear()                                # the style read again (a symbology file edited)
    assert the_whole_way() and not the_whole_way()
    monkeypatch.setattr(tiles_router, "VERSIONED_RECHECK_S", 0.0)       # the check vouches no more
    assert the_whole_way() and the_whole_way()


def test_serve_hands_uvicorn_the_front_without_an_access_log(demo_db, tmp_path, monkeypatch):
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    url = copy_db(demo_db, tmp_path)
    seen = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: seen.append(self.config))
    monkeypatch.setattr(Multiprocess, "run", lambda self: seen.append(self.config))
    port = free_port()
    for workers in (1, 2):
        settings = Settings(db=url, port=port, host="127.0.0.1", workers=workers)
        for name, value in service.settings_environment(settings).items():
            monkeypatch.setenv(name, value)        # what run_server sets for the workers: undone after the test
        service.run_server(settings)
    one, two = seen
    assert isinstance(one.app, tiles_router.TileFastPath) and one.app.root is one.app.app
    assert two.app == "riskmap.cli.service:served_app" and two.factory and two.workers == 2
    assert not one.access_log and not two.access_log
    assert not one.server_header and not two.server_header
    # httptools and uvloop (uvicorn[standard]), not h11 and asyncio's loop: a trivial app serves 2–3 times less
    # with h11 (measured for issue 18)
    import uvloop
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    one.load()
    assert issubclass(one.http_protocol_class, HttpToolsProtocol) and one.http_protocol_class.__name__ == "TileProtocol"
    loop = one.get_loop_factory()()
    assert isinstance(loop, uvloop.Loop)
    loop.close()


def test_serve_runs_one_process_per_core_unless_told(monkeypatch):
    import os

    monkeypatch.delenv("RISKMAP_WORKERS", raising=False)
    cores = len(os.sched_getaffinity(0))
    assert service.worker_count(Settings()) == cores
    assert service.worker_count(Settings(workers=3)) == 3
    monkeypatch.setenv("RISKMAP_WORKERS", "2")
    assert service.worker_count(Settings()) == 2


def test_worker_processes_get_the_settings_given_and_keep_the_defaults(monkeypatch):
    monkeypatch.delenv("RISKMAP_BASE_URL", raising=False)
    monkeypatch.setenv("RISKMAP_CORS_ORIGINS", "https://gis.example")
    env = service.settings_environment(Settings(db="sqlite:///x.db", port=18000))
    assert env["RISKMAP_PORT"] == "18000" and env["RISKMAP_CORS_ORIGINS"] == "https://gis.example"
    assert "RISKMAP_BASE_URL" not in env                  # unset: the address each request came to
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    again = Settings()
    assert "base_url" not in again.model_fields_set and again.port == 18000 and again.db == "sqlite:///x.db"


def test_a_regulators_tiles_pass_the_front_to_their_access_records(pair, demo_db):
    """With reading open, a regulator's token on a tile that the front holds cached still reaches the service, so
    every one of its reads is recorded; an anonymous reader and an enterprise's own person (once known) keep the
    fast path."""
    from riskmap.store import accounts, open_store, orgs, regulator_audit, tokens

    plain, served, inner = pair
    store = open_store(str(plain.app.state.settings.db))
    try:
        name = store.enterprises()[0].name
        orgs.set_profile(store, name, division_code="320214")
        orgs.add_regulator(store, "无锡市局", level="city", division_code="320200")
        reg = orgs.add_regulator_account(store, "无锡市局", name="市局查看", login="reg-front", password=None,
                                         roles=["regulator_viewer"])
        own = accounts.create_account(store, name, name="本厂", login="own-front", password=None, roles=["viewer"])
        head = {"Authorization": "Bearer " + tokens.create_token(store, "reader", "r", account_id=reg["id"])[0]}
        mine = {"Authorization": "Bearer " + tokens.create_token(store, "reader", "o", account_id=own["id"])[0]}
        tj = plain.get("/tiles/units/tilejson.json").json()
        t = TMS.tile(tj["center"][0], tj["center"][1], 17)
        path = f"/tiles/units/17/{t.x}/{t.y}.png?v={tj['data_version']}"
        assert served.get(path).status_code == 200                        # drawn and cached
        calls = inner.calls
        assert served.get(path).status_code == 200 and inner.calls == calls          # anonymous: the front answers
        for _ in range(3):
            assert served.get(path, headers=head).status_code == 200
        assert inner.calls == calls + 3                                   # each through the service …
        rows = [r for r in regulator_audit.entries(store) if r["login"] == "reg-front"]
        assert len(rows) == 3 and {r["route"] for r in rows} == {path.split("?")[0]}, rows
        assert {r["enterprise"] for r in rows} == {name}
        for _ in range(3):
            assert served.get(path, headers=mine).status_code == 200
        assert inner.calls == calls + 4                                   # … the enterprise's person only once
    finally:
        store.close()
