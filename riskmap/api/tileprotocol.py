"""uvicorn's HTTP protocol (httptools) with one shortcut: a versioned tile this process has answered before by the
same address is answered again as soon as its request's headers are read, without an ASGI request.

A map (or a front cache filling itself) asks for the same versioned tiles again and again. Through ASGI each one
cost a scope, a task, two send messages and their checks: about four fifths of the process's time for a tile in
the cache, with the answer itself already known (riskmap.api.routers.tiles, `_Known`). Here the protocol asks
the tile fast path for that answer (`TileFastPath.answer_known`) and writes it, byte for byte what the ASGI path
would have written (uvicorn's Date first, then the same headers and body). Anything else, and anything this
shortcut is not sure of, takes the ASGI path unchanged: another method or HTTP version, a connection to close,
a request with a body or credentials, a response still being written before it (pipelining keeps its order), a
client not reading its answers (uvicorn waits for it; this would only buffer), a percent-encoded path.
uvicorn's `limit_concurrency` (503 beyond N requests at once) is not applied to these answers: they hold no task,
and `riskmap serve` does not set it.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

_OK = STATUS_LINE[200]


def tile_fast_path(app):
    """The TileFastPath under uvicorn's own wrappers (ProxyHeadersMiddleware), or None."""
    from riskmap.api.routers.tiles import TileFastPath

    for _ in range(8):
        if isinstance(app, TileFastPath):
            return app if app.root is not None else None
        app = getattr(app, "app", None)
    return None


class TileProtocol(HttpToolsProtocol):
    """HttpToolsProtocol answering known versioned tiles at once (see the module)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tiles = tile_fast_path(self.app)
        self.answered = False

    def on_headers_complete(self) -> None:
        """The request line and headers are read: a known tile is answered here, anything else as uvicorn does."""
        if self.tiles is not None and self._free() and self._answer_now():
            self.answered = True
            return
        # an answer given here just before, in the same packet, armed the keep-alive timeout (uvicorn disarms it
        # only when data arrives): disarmed, or it would close the connection under this request's feet
        self._unset_keepalive_if_required()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is whole: nothing left to do for one answered here."""
        if self.answered:
            self.answered = False
            return
        super().on_message_complete()

    def _free(self) -> bool:
        """Whether this request may be answered before anything else happens on the connection."""
        parser = self.parser
        return (parser.get_method() == b"GET" and parser.get_http_version() == "1.1" and parser.should_keep_alive()
                and not parser.should_upgrade() and not self.expect_100_continue and not self.pipeline
                and (self.cycle is None or self.cycle.response_complete) and not self.flow.write_paused)

    def _answer_now(self) -> bool:
        url = self.url
        if url[:1] != b"/" or b"#" in url:
            return False
        path, _, query = url.partition(b"?")
        if b"%" in path:
            return False
        try:
            found = self.tiles.answer_known(path.decode("ascii"), query, self.headers)
        except Exception:    # noqa: BLE001 - raised inside the parser it would become a 400; the ASGI path runs
            return False     # the same lookup and answers (or reports) it properly
        if found is None:
            return False
        headers, body = found
        content = [_OK]
        for name, value in (*self.server_state.default_headers, *headers):
            content += (name, b": ", value, b"\r\n")
        content += (b"\r\n", body)
        self.transport.write(b"".join(content))
        self.on_response_complete()          # counts the request, arms the keep-alive timeout
        return True
