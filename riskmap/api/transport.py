"""How answers travel to clients on other origins and slow links: CORS, HEAD and compression.

Three pure-ASGI layers around the whole app (outermost first), added by `install_transport(app, settings)`:

1. CORS (Starlette's CORSMiddleware, two configurations). Any origin in RISKMAP_CORS_ORIGINS (default `*`) may
   *read* anonymously: GET and HEAD, answered with `Access-Control-Allow-Origin`, preflights for them answered
   before routing (and before the read gate, which a preflight never passes: it carries no token). No origin
   may send credentials (the page cookie, an Authorization header) or write, unless it is named in
   RISKMAP_CORS_TOKEN_ORIGINS: those get their origin echoed, credentials allowed and every method. When any
   origin may read and none is named for tokens (the default), every answer is the same for every origin: it
   carries `Access-Control-Allow-Origin: *` whether the request named an origin or not, and no `Vary: Origin`,
   so that one copy in a front cache or a CDN serves every site (a tile varying on Origin is kept once per
   origin by nginx, and not at all by some CDNs).
2. HEAD on every GET route: FastAPI routes answer GET only, so a HEAD is served as the GET and its body dropped
   (status and headers, Content-Length included, are the GET's, as RFC 9110 asks).
3. Compression (starlette-cramjam, developmentseed's middleware used by titiler and tipg): brotli or gzip by
   the client's Accept-Encoding, for every answer but those already compressed (PNG, JPEG, PDF, zip). It wraps
   the tile fast path too, so a cached vector tile is compressed like any other answer.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_cramjam.middleware import CompressionMiddleware, CompressionResponder, get_compression_backend

# Headers a reading client may need to see across origins (caching, paging, OGC API answers).
EXPOSED_HEADERS = ("ETag", "Last-Modified", "Content-Crs", "Link", "Location", "Content-Length",
                   "Content-Encoding", "OGC-NumberMatched", "OGC-NumberReturned")
# Request headers a reading client may send (besides the CORS-safelisted ones).
READ_HEADERS = ("If-None-Match", "If-Modified-Since", "Cache-Control", "Range")
WRITE_HEADERS = (*READ_HEADERS, "Authorization", "If-Match", "X-Reason")
# Media types not worth compressing again (their bytes are compressed already).
COMPRESSED_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "application/zip",
                    "font/woff2", "application/x-protobuf; compressed"}
MIN_COMPRESS_BYTES = 512
COMPRESSION_LEVEL = 5          # brotli 5 is about as fast as gzip 6 and smaller; 11 (the default) is far slower


def origins(setting: str | None) -> list[str]:
    """A comma-separated list of origins ("*" for any) as CORSMiddleware takes it; trailing slashes dropped."""
    return [o.strip().rstrip("/") for o in str(setting or "").split(",") if o.strip()]


def same_for_every_origin(read_origins: list[str], token_origins: list[str]) -> bool:
    """Whether the CORS headers of an answer cannot depend on the request's Origin: any origin may read, and no
    origin gets the token rules."""
    return "*" in read_origins and not any(o != "*" for o in token_origins)


class CorsByOrigin:
    """Picks the CORS configuration by the request's Origin: the token origins' (credentials, writes) or the
    readers' (anonymous GET/HEAD); or, when that choice cannot depend on the Origin, the readers' headers on
    every answer (`same_for_every_origin`)."""

    def __init__(self, app: ASGIApp, read_origins: list[str], token_origins: list[str]):
        self.app = app
        self.token_origins = frozenset(o for o in token_origins if o != "*")
        self.read = read_cors(app, read_origins)
        self.uniform = cors_simple_headers(read_origins) if same_for_every_origin(read_origins, token_origins) \
            else None
        self.uniform_names = frozenset(name for name, _ in self.uniform or ())
        self.token = CORSMiddleware(app, allow_origins=sorted(self.token_origins),
                                    allow_methods=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"),
                                    allow_headers=WRITE_HEADERS, allow_credentials=True,
                                    expose_headers=EXPOSED_HEADERS, max_age=3600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: a request from a token origin gets the write CORS rules, any other the read-only ones."""
        if scope["type"] == "http" and self.token_origins:
            for name, value in scope["headers"]:
                if name == b"origin":
                    if value.decode("latin-1").rstrip("/") in self.token_origins:
                        await self.token(scope, receive, send)
                        return
                    break
        elif scope["type"] == "http" and self.uniform is not None and not _preflight(scope):
            headers, names = self.uniform, self.uniform_names

            async def send_with_cors(message: Message) -> None:
                if message["type"] == "http.response.start":    # ours replace any the answer set, as Starlette's
                    message["headers"] = [*(h for h in message.get("headers", ()) if h[0].lower() not in names),
                                          *headers]
                await send(message)

            await self.app(scope, receive, send_with_cors)
            return
        await self.read(scope, receive, send)


def _preflight(scope: Scope) -> bool:
    return scope["method"] == "OPTIONS" and any(name == b"access-control-request-method"
                                                for name, _ in scope["headers"])


def read_cors(app: ASGIApp, read_origins: list[str]) -> CORSMiddleware:
    """The readers' CORS rules: any origin of `read_origins` may GET and HEAD, anonymously."""
    return CORSMiddleware(app, allow_origins=read_origins, allow_methods=("GET", "HEAD"), allow_headers=READ_HEADERS,
                          allow_credentials=False, expose_headers=EXPOSED_HEADERS, max_age=3600)


def cors_simple_headers(read_origins: list[str]) -> list[tuple[bytes, bytes]]:
    """The headers the readers' CORS rules add to a GET from an origin they allow (before `Vary: Origin`), as raw
    ASGI headers: for the tile fast path in front of these layers (riskmap.api.routers.tiles)."""
    return [(k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in read_cors(None, read_origins).simple_headers.items()]


def codecs() -> list:
    """The encodings the compression layer offers, preferred first."""
    from starlette_cramjam.compression import Compression as Codec

    return [Codec.br, Codec.gzip]


def compresses(accept_encoding: str) -> bool:
    """Whether the compression layer compresses for this Accept-Encoding (an answer of a type it compresses)."""
    return get_compression_backend(accept_encoding, codecs()) is not None


class HeadAsGet:
    """A HEAD request is answered as its GET, without the body."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: HEAD runs the GET route and sends its headers only."""
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message):
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return                       # the rest of a streamed body: dropped
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class _Responder(CompressionResponder):
    """starlette-cramjam's responder, except that a streamed response it decided not to compress (an excluded
    media type, one already encoded) is passed through whole: 0.7.0 compresses the chunks after the first one."""

    passthrough = False

    async def send_with_compression(self, message: Message) -> None:
        if self.passthrough:
            await self.send(message)
            return
        if message["type"] == "http.response.body" and not self.started:
            headers = MutableHeaders(raw=self.initial_message["headers"])
            body, more = message.get("body", b""), message.get("more_body", False)
            if (headers.get("Content-Type") in self.exclude_mediatype or "content-encoding" in headers
                    or self.initial_message.get("status") in (204, 304) or (len(body) < self.minimum_size
                                                                             and not more)):
                self.started = self.passthrough = True
                await self.send(self.initial_message)
                await self.send(message)
                return
        await super().send_with_compression(message)


class Compression(CompressionMiddleware):
    """starlette-cramjam's middleware with the responder above."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: compresses when the client accepts an encoding we have."""
        if scope["type"] == "http":
            backend = get_compression_backend(Headers(scope=scope).get("Accept-Encoding", ""), self.compression)
            if backend is not None:
                compressor = backend.compress.Compressor(level=self.compression_level)
                await _Responder(self.app, compressor, backend.name, self.minimum_size,
                                 self.exclude_mediatype)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_transport(app, settings) -> None:
    """Add the three layers (call last in create_app, so that they wrap everything else)."""
    app.add_middleware(Compression, minimum_size=MIN_COMPRESS_BYTES,
                       compression=codecs(), exclude_mediatype=COMPRESSED_TYPES,
                       compression_level=COMPRESSION_LEVEL)
    app.add_middleware(HeadAsGet)
    app.add_middleware(CorsByOrigin, read_origins=origins(settings.cors_origins),
                       token_origins=origins(settings.cors_token_origins))
