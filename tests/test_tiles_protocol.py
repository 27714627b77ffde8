"""`riskmap serve`'s HTTP protocol (riskmap.api.tileprotocol, issue 18): a versioned tile answered before by its
address is answered again without an ASGI request, byte for byte what the ASGI path writes; everything else, and
every request it cannot be sure of, takes the ASGI path.

Served for real: uvicorn with `riskmap serve`'s options on a loopback socket, spoken to with raw HTTP/1.1 (to send
pipelined requests, HTTP/1.0 and bytes no client library would).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import morecantile
import pytest
from kit import copy_db

from riskmap.api.tileprotocol import TileProtocol, tile_fast_path
from riskmap.cli import service
from riskmap.settings import Settings

TMS = morecantile.tms.get("WebMercatorQuad")


class Counting:
    """The served app, counting the requests that reach it through ASGI; `slow` paths wait that long first."""

    def __init__(self, app):
        self.app, self.calls, self.slow = app, 0, {}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.calls += 1
            if scope["path"] in self.slow:
                await asyncio.sleep(self.slow[scope["path"]])
        await self.app(scope, receive, send)


class Served:
    """`riskmap serve`'s app and uvicorn options in a thread, on a socket bound before start."""

    def __init__(self, db_url: str, **options):
        import uvicorn

        self.front = service.served_app(Settings(db=db_url))
        self.counted = Counting(self.front)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.counted, lifespan="off",
                                                    **{**service.SERVER_OPTIONS, **options}))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def connect(self) -> Conn:
        return Conn(socket.create_connection(("127.0.0.1", self.port), timeout=10))


class Conn:
    """One client connection: raw requests out, whole answers (head, body) back in order."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buffer = sock, b""

    def send(self, *requests: bytes) -> None:
        self.sock.sendall(b"".join(requests))

    def answer(self, head_only: bool = False) -> tuple[bytes, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            assert name.lower() not in headers, f"header {name} twice"
            headers[name.lower()] = value.strip()
        size = 0 if head_only else int(headers.get("content-length", 0))
        while len(self.buffer) < size:
            self._more()
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return head, headers, body

    def closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()

    def _more(self) -> None:
        data = self.sock.recv(65536)
        assert data, "connection closed before a whole answer"
        self.buffer += data


def get(target: str, *extra: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {target} HTTP/{version}", "Host: riskmap.test", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def without_date(head: bytes) -> list[bytes]:
    return [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]


@pytest.fixture
def served(demo_db, tmp_path):
    live = Served(copy_db(demo_db, tmp_path))
    yield live
    live.stop()


def _known_tile(live: Served) -> str:
    """A versioned tile's address, asked for twice (drawn, then answered from the cache: known by its address)."""
    import httpx

    tj = httpx.get(f"http://127.0.0.1:{live.port}/tiles/units/tilejson.json").json()
    t = TMS.tile(tj["center"][0], tj["center"][1], 17)
    address = f"/tiles/units/17/{t.x}/{t.y}.png?v={tj['data_version']}"
    for _ in range(2):
        assert httpx.get(f"http://127.0.0.1:{live.port}{address}").status_code == 200
    return address


@pytest.fixture
def tile(served):
    """A versioned tile of the demo's units: its address, and its answer through ASGI from the tile cache (which
    makes it known; the first request drew it through the routes, same headers in another order)."""
    import httpx

    tj = httpx.get(f"http://127.0.0.1:{served.port}/tiles/units/tilejson.json").json()
    t = TMS.tile(tj["center"][0], tj["center"][1], 17)
    address = f"/tiles/units/17/{t.x}/{t.y}.png?v={tj['data_version']}"
    conn = served.connect()
    before = served.counted.calls
    conn.send(get(address))
    drawn = conn.answer()
    conn.send(get(address))
    cached = conn.answer()
    assert drawn[0].startswith(b"HTTP/1.1 200 ") and served.counted.calls == before + 2
    assert sorted(without_date(drawn[0])) == sorted(without_date(cached[0])) and drawn[2] == cached[2]
    conn.close()
    return address, cached, (t.x, t.y, tj["data_version"])


def test_serve_speaks_the_tile_protocol_in_front_of_the_served_app(served):
    assert served.server.config.http_protocol_class is TileProtocol
    assert tile_fast_path(served.server.config.loaded_app) is served.front     # under uvicorn's proxy-headers layer
    assert tile_fast_path(object()) is None


def test_a_known_tile_is_answered_without_asgi_byte_for_byte_as_through_it(served, tile):
    address, (head, headers, body), _ = tile
    conn = served.connect()
    before = served.counted.calls
    for _ in range(3):                                    # kept alive: each answered on the same connection
        conn.send(get(address))
        again = conn.answer()
        assert without_date(again[0]) == without_date(head) and again[2] == body
        assert again[1]["date"].endswith(" GMT") and again[1]["cache-control"].endswith("immutable")
    assert served.counted.calls == before                # none of them reached the app
    assert body.startswith(b"\x89PNG") and int(headers["content-length"]) == len(body)


def test_pipelined_requests_are_answered_in_order_whichever_path_they_take(served, tile):
    address, (_, _, body), (x, y, v) = tile
    other = f"/tiles/regions/17/{x}/{y}.png?v={v}"         # not known yet: through ASGI
    unversioned = f"/tiles/units/17/{x}/{y}.png"
    conn = served.connect()
    before = served.counted.calls
    conn.send(get(address), get(other), get(address), get(unversioned), get(address))
    answers = [conn.answer() for _ in range(5)]
    assert all(a[0].startswith(b"HTTP/1.1 200 ") for a in answers)
    assert [a[2] == body for a in answers] == [True, False, True, True, True]   # the unversioned tile: same bytes
    assert answers[1][1]["etag"] != answers[0][1]["etag"] and answers[3][1]["cache-control"] == "no-cache"
    # the first known one at once; other and unversioned through ASGI, and the known ones behind them wait their
    # turn there too (in one packet: behind a response still being written, nothing is answered out of turn)
    assert served.counted.calls - before == 4
    conn.close()


@pytest.mark.parametrize("request_bytes, how", [
    (lambda a: get(a, method="HEAD"), "HEAD"),
    (lambda a: get(a, version="1.0"), "HTTP/1.0"),
    (lambda a: get(a, "Connection: close"), "connection: close"),
    (lambda a: get(a, "Authorization: Bearer not-a-token"), "credentials"),
    (lambda a: get(a, "Cookie: riskmap_session=x"), "a session cookie"),
    (lambda a: get(a.replace("/units/", "/%75nits/")), "a percent-encoded path"),
    (lambda a: get(a, "Content-Length: 3") + b"abc", "a body"),
    (lambda a: get(a, "Expect: 100-continue"), "expect"),
])
def test_anything_else_takes_the_asgi_path(served, tile, request_bytes, how):
    address, (_, _, body), _ = tile
    conn = served.connect()
    before = served.counted.calls
    conn.send(request_bytes(address))
    head, headers, got = conn.answer(head_only=how == "HEAD")
    assert served.counted.calls == before + 1, how
    assert not head.startswith(b"HTTP/1.1 5") and not head.startswith(b"HTTP/1.0 5"), (how, head)
    if how in ("HEAD", "HTTP/1.0", "connection: close", "a percent-encoded path", "a body", "expect"):
        assert head.split(b" ")[1] == b"200", (how, head)
        assert how == "HEAD" or got == body, how
    if how in ("HTTP/1.0", "connection: close"):
        assert conn.closed(), how
    conn.close()


def test_hostile_request_lines_get_an_answer_not_an_error(served, tile):
    address, (_, _, body), _ = tile
    for raw, status in ((address.encode().replace(b"/units/", b"/un\xffits/"), b"400"),   # the parser's
                        (address.encode() + b"#frag", b"200"), (b"http://riskmap.test" + address.encode(), b"200"),
                        (address.encode() + b"9" * 4000, b"302")):                          # another version
        conn = served.connect()
        before = served.counted.calls
        conn.send(b"GET " + raw + b" HTTP/1.1\r\nHost: riskmap.test\r\n\r\n")
        head, _, got = conn.answer()
        assert head.split(b" ")[1] == status, (raw[:80], head[:80])
        assert status != b"200" or got == body
        assert served.counted.calls == before + (status != b"400"), raw[:80]                # ASGI answered it
        conn.close()


def test_a_slow_request_behind_a_known_tile_in_one_packet_keeps_its_connection(demo_db, tmp_path):
    """The known tile's answer arms the keep-alive timeout; the request after it, in the same packet, must not be
    cut off by it while the service works on it."""
    live = Served(copy_db(demo_db, tmp_path), timeout_keep_alive=0.3)
    try:
        address = _known_tile(live)
        live.counted.slow["/healthz"] = 1.0           # longer than the keep-alive timeout
        conn = live.connect()
        conn.send(get(address), get("/healthz"))
        first, second = conn.answer(), conn.answer()
        assert first[0].startswith(b"HTTP/1.1 200 ") and second[0].startswith(b"HTTP/1.1 200 "), second[0][:60]
        time.sleep(0.6)                                       # then idle: the timeout closes it as usual
        assert conn.closed()
        conn.close()
    finally:
        live.stop()


def test_after_an_edit_a_known_tile_of_the_old_version_is_sent_on(served, tile, editor_token, demo_db, tmp_path):
    """A write through this process: the version check no longer vouches, the ASGI path redirects the old version."""
    import httpx

    address, _, (_, _, v) = tile
    headers = editor_token(served.front.root.state.settings.db)
    with httpx.Client(base_url=f"http://127.0.0.1:{served.port}", headers=headers) as client:
        unit = client.get("/api/units.geojson").json()["features"][0]["properties"]["unit_id"]
        edit = client.patch(f"/api/units/{unit}", json={"override": {"level": "major", "reason": "协议测试"}})
        assert edit.status_code == 200, edit.text
        now = edit.json()["data_version"]
    assert now > v
    conn = served.connect()
    before = served.counted.calls
    conn.send(get(address))
    head, headers, _ = conn.answer()
    assert head.startswith(b"HTTP/1.1 302 ") and headers["location"].endswith(f"v={now}"), head
    assert served.counted.calls == before + 1
    conn.close()


def test_a_failure_in_the_shortcut_leaves_the_request_to_the_asgi_path(served, tile, monkeypatch):
    address, (head, _, body), _ = tile

    def broken(*args):
        raise RuntimeError("a bug in the shortcut")

    monkeypatch.setattr(served.front, "answer_known", broken)
    conn = served.connect()
    before = served.counted.calls
    conn.send(get(address))
    again = conn.answer()
    assert without_date(again[0]) == without_date(head) and again[2] == body
    assert served.counted.calls == before + 1
    conn.close()
