"""Who may change (and, when the settings close reading, read) the data: bearer tokens (riskmap.store.tokens).

Every write route depends on `require_editor`: no token or a bad one is a 401 with `WWW-Authenticate: Bearer`,
a reader token a 403; the token's name becomes the author of the change. Reading is open unless
RISKMAP_READ_REQUIRES_TOKEN is set: then `ReadGate` (outermost middleware, ahead of the tile fast path) asks a
reader or editor token of every request except the health check, the API description and the static files (no
data in any of them). The /map and /edit pages themselves carry data (names, counts, extents), so they are closed
too. A GET may carry the token as `?access_token=` (RFC 6750 §2.3): a wall screen opens /map?access_token=…, and
map libraries fetch tiles by URL and cannot add headers. A page opened that way (/map, /edit) also sets an
HttpOnly, SameSite=Strict cookie with the token, so that the tiles, TileJSONs and popups the page then fetches
are let through; the cookie only opens reading: every change still needs the editor token in the header.
"""

from __future__ import annotations

import json

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from riskmap.api.asgi import route_path
from riskmap.api.headers import is_https
from riskmap.errors import AuthError, ForbiddenError
from riskmap.store import tokens

REALM = "riskmap"
QUERY_PARAM = "access_token"
# Paths answered without a token even when reading is closed: the health check, the API description and its
# pages, and static files (no data in any of them).
OPEN_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/favicon.ico"})
OPEN_PREFIXES = ("/static/",)
_STATE_KEY = "riskmap_token"
# Where riskmap.api.guard.RequestGuard keeps the editor token it checked before the body was read.
EDITOR_STATE = "riskmap_editor"
COOKIE = "riskmap_read"
PAGES = ("/map", "/edit")          # pages whose sub-requests (tiles, popups) the cookie lets through


def _challenge(error: str | None = None) -> dict:
    value = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return {"WWW-Authenticate": value}


def bearer_of(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; "" for another scheme or a blank token."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return value.strip()


def _missing(what_zh: str, what_en: str) -> AuthError:
    exc = AuthError(f"需要{what_zh}令牌（请求头 Authorization: Bearer <令牌>，令牌由 riskmap token create 生成）/ "
                    f"{what_en} token is required (header Authorization: Bearer <token>, made with riskmap token "
                    f"create)")
    exc.headers = _challenge()
    return exc


def _invalid() -> AuthError:
    exc = AuthError("令牌无效、已撤销或格式不对 / the token is invalid, revoked or malformed")
    exc.headers = _challenge("invalid_token")
    return exc


def _verify(request: Request, text: str) -> dict | None:
    return tokens.verify_token(request.app.state.store(), text)


def require_editor(request: Request) -> dict:
    """The editor token's info (id, name, role, …) of this request; AuthError (401) / ForbiddenError (403)."""
    checked = request.scope.get("state", {}).get(EDITOR_STATE)
    if checked is not None:
        return checked
    text = bearer_of(request.headers.get("authorization"))
    if text is None:
        raise _missing("编辑", "an editor")
    info = _verify(request, text) if text else None
    if info is None:
        raise _invalid()
    if info["role"] != "editor":
        raise ForbiddenError(f"令牌 “{info['name']}” 只能读取，不能修改（需要编辑令牌：riskmap token create --role "
                             f"editor）/ token {info['name']!r} may read but not change data (an editor token is "
                             f"needed: riskmap token create --role editor)")
    return info


def optional_reader(request: Request) -> dict | None:
    """The token of a reading request, if it carries one; when reading is closed a valid one is required."""
    if _STATE_KEY in request.scope.get("state", {}):
        return request.scope["state"][_STATE_KEY]
    text = bearer_of(request.headers.get("authorization"))
    if text is None:
        text = request.query_params.get(QUERY_PARAM)
    info = _verify(request, text) if text else None
    if info is None and request.app.state.settings.read_requires_token:
        raise _invalid() if text else _missing("读取", "a reader or editor")
    return info


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class ReadGate:
    """Pure-ASGI gate closing everything but `OPEN_PATHS` to requests without a valid reader or editor token.

    Installed by create_app only when the settings close reading; it runs before routing and the tile fast path.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
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
            # require_editor reads only the Authorization header.
            text = _cookie_token(scope)
        app = scope.get("app") or _find_app(self.app)
        info = await run_in_threadpool(tokens.verify_token, app.state.store(), text) if text else None
        if info is None:
            exc = _invalid() if text else _missing("读取", "a reader or editor")
            await _send_error(send, exc, _wants_html(scope))
            return
        scope.setdefault("state", {})[_STATE_KEY] = info
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


def _cookie_token(scope) -> str | None:
    from http.cookies import CookieError, SimpleCookie

    for name, value in scope["headers"]:
        if name == b"cookie":
            try:
                jar = SimpleCookie(value.decode("latin-1"))
            except CookieError:
                return None
            morsel = jar.get(COOKIE)
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
                f"<body><h1>需要令牌 / a token is required</h1><p>{text}</p><p>在地址后加 ?access_token=令牌 / add "
                f"?access_token=&lt;token&gt; to the address</p></body></html>").encode()
        media = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": exc.message}, ensure_ascii=False).encode("utf-8")
        media = b"application/json"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_router():
    """GET /api/auth/me: who the bearer token of the request is (the editor page checks a token with it)."""
    from fastapi import APIRouter, Depends

    from riskmap.api import answers

    router = APIRouter(prefix="/api/auth", tags=["auth"])

    @router.get("/me", summary="当前令牌的名称和角色 / the name and role of the request's token",
                response_model=answers.WhoAmI,
                responses={401: {"description": "没有令牌或令牌无效 / no token or an invalid one"}})
    def me(request: Request, info: dict | None = Depends(optional_reader)) -> dict:
        if info is None:
            text = bearer_of(request.headers.get("authorization"))
            raise _invalid() if text else _missing("", "a")
        return {"id": info["id"], "name": info["name"], "role": info["role"],
                "created_at": info["created_at"].isoformat() if info["created_at"] else None}

    return router
