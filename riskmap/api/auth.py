"""Closed reading and who the request is: `ReadGate`, and GET /api/auth/me.

What each route needs is riskmap.api.permissions' (`require("edit_layout")` …). Reading is open unless
RISKMAP_READ_REQUIRES_TOKEN is set: then `ReadGate` (outermost middleware, ahead of the tile fast path) asks valid
credentials of every request except the health check, the API description, the sign-in page and the static files
(no data in any of them): an API token, or a browser's session cookie (riskmap.api.routers.signin). The /map and
/edit pages themselves carry data (names, counts, extents), so they are closed too. A GET may carry the token as
`?access_token=` (RFC 6750 §2.3): a wall screen opens /map?access_token=…, and map libraries fetch tiles by URL
and cannot add headers. A page opened that way (/map, /edit) also sets an HttpOnly, SameSite=Strict cookie with
the token, so that the tiles, TileJSONs and popups the page then fetches are let through; that cookie only opens
reading: a change needs the token in the header, or a session cookie with its CSRF token.
"""

from __future__ import annotations

import json

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from riskmap.api.asgi import route_path
from riskmap.api.headers import is_https
from riskmap.api.permissions import (
    QUERY_PARAM,
    READ_COOKIE,
    SESSION_COOKIE,
    bearer_of,
    invalid_token,
    missing,
    principal_of,
)
from riskmap.errors import AuthError
from riskmap.store import accounts
from riskmap.store import scope as data_scope

# Paths answered without credentials even when reading is closed: the health check, the API description and its
# pages, the sign-in page, and static files (no data in any of them).
OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/favicon.ico",
                        "/login", "/logout"})
OPEN_PREFIXES = ("/static/",)
COOKIE = READ_COOKIE
# request.scope["state"] key: the account the gate found (for riskmap.api.access_log; never a right: permissions
# are riskmap.api.permissions' own, worked out again with the read cookie's and the token's caps).
SEEN_STATE = "riskmap_seen"
PAGES = ("/map", "/edit")          # pages whose sub-requests (tiles, popups) the cookie lets through


def is_open(path: str) -> bool:
    """Whether a path is answered without credentials even when reading is closed: none of these carries data."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class ReadGate:
    """Pure-ASGI gate closing everything but `OPEN_PATHS` to requests without a valid reader or editor token.

    Installed by create_app only when the settings close reading; it runs before routing and the tile fast path.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        """Pass the request on when its path is open or its credentials are valid (a header token, ?access_token= on a
        GET, the page's read cookie, a session cookie); else answer 401, as a page to a browser."""
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or is_open(route_path(scope)):
            await self.app(scope, receive, send)
            return
        text = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                text = bearer_of(value.decode("latin-1"))
                break
        from_query = False
        if text is None and scope["method"] in ("GET", "HEAD"):
            text = _query_token(scope)
            from_query = text is not None
        if text is None:
            # The page's cookie opens reading (and the page's own warm-up POST); it never authorises a change:
            # riskmap.api.permissions reads tokens only from the Authorization header (and ?access_token= on GET).
            text = _cookie_token(scope, COOKIE)
        app = scope.get("app") or _find_app(self.app)
        store = app.state.store()
        session = None if text else _cookie_token(scope, SESSION_COOKIE)
        with data_scope.service():      # credentials are the service's own reading (riskmap.store.scope)
            if text:
                info = await run_in_threadpool(accounts.principal_for_token, store, text)
            elif session:
                info = await run_in_threadpool(accounts.principal_for_session, store, session)
            else:
                info = None
        if info is None:
            exc = invalid_token() if text or session else missing()
            await _send_error(send, exc, _wants_html(scope))
            return
        scope.setdefault("state", {})[SEEN_STATE] = info     # who it is, for the regulators' access records
        if from_query and route_path(scope) in PAGES:
            send = _with_cookie(send, text, secure=is_https(scope, app.state.settings))
        await self.app(scope, receive, send)


def _query_token(scope) -> str | None:
    from urllib.parse import parse_qsl

    raw = scope.get("query_string", b"")
    if not raw:
        return None
    for name, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        if name == QUERY_PARAM:
            return value
    return None


def _cookie_token(scope, cookie: str) -> str | None:
    from http.cookies import CookieError, SimpleCookie

    for name, value in scope["headers"]:
        if name == b"cookie":
            try:
                jar = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                return None
            morsel = jar.get(cookie)
            return morsel.value if morsel is not None else None
    return None


def _with_cookie(send, token: str, secure: bool = False):
    """`send` adding the read cookie to the response head (HttpOnly: page scripts never see the token; Secure when
    the browser came over HTTPS, so that the cookie never travels in clear text afterwards)."""
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{'; Secure' if secure else ''}".encode("latin-1")

    async def sending(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
        await send(message)

    return sending


def _find_app(app):
    """The FastAPI app under a middleware stack (scope["app"] is only set once routing starts)."""
    while not hasattr(app, "state") and hasattr(app, "app"):
        app = app.app
    return app


def _wants_html(scope) -> bool:
    """A browser opening a page (not a script fetching data): it reads the message as a page."""
    for name, value in scope["headers"]:
        if name == b"accept":
            return value.decode("latin-1").lower().startswith("text/html")
    return False


async def _send_error(send, exc: AuthError, html: bool = False) -> None:
    if html:
        from html import escape

        text = escape(exc.message)
        body = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{text}</title></head>'
                f'<body><h1>需要登录 / please sign in</h1><p>{text}</p><p><a href="/login">登录 / sign in</a>；'
                f"或在地址后加 ?access_token=令牌 / or add ?access_token=&lt;token&gt; to the address</p>"
                f"</body></html>").encode()
        media = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": exc.message}, ensure_ascii=False).encode("utf-8")
        media = b"application/json"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_router():
    """GET /api/auth/me: who the request acts as (the editor page asks it)."""
    from fastapi import APIRouter

    from riskmap.api import answers

    router = APIRouter(prefix="/api/auth", tags=["auth"])

    @router.get("/me", summary="当前登录的人或令牌：姓名、角色和权限 / who the request acts as: name, roles, rights",
                response_model=answers.WhoAmI,
                responses={401: {"description": "没有登录或令牌无效 / not signed in, or an invalid token"}})
    def me(request: Request) -> dict:
        who = principal_of(request)
        if who is None:
            raise missing()
        return {"id": who.account_id, "name": who.name, "login": who.login, "enterprise": who.enterprise,
                "regulator": who.regulator, "roles": list(who.roles), "permissions": sorted(who.permissions),
                "via": who.via,
                "role": "editor" if who.may("edit_layout") else "reader", "token_id": who.token_id}

    return router
