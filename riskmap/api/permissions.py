"""What each route needs: `Depends(require("edit_layout"))` names the permission (riskmap.people.PERMISSIONS).

Who a request acts as (riskmap.people.Principal) comes from, in this order: an `Authorization: Bearer` API token
(at most its account's rights), `?access_token=` on a GET (map libraries fetch tiles by URL) or the read cookie a
page opened that way set (GET only), or the browser's session cookie. A cookie-authenticated write must also
carry the session's CSRF token in the `X-CSRF-Token` header (double submit: the page reads it from the
`riskmap_csrf` cookie, which another site can neither read nor set).

- no credentials, or bad ones: 401 (with `WWW-Authenticate: Bearer`);
- an account of another enterprise than the request's: 403;
- an account of a regulator: the enterprises of its scope (riskmap.store.orgs.in_scope) and only "read", "oversee" and
  "supervise" there (403 for anything else, and for an enterprise outside its scope);
- an operator's account (riskmap.people.OPERATOR_ROLES): only "administer" and "audit"; it reads no enterprise's
  data (403 when reading is closed; while reading is open it reads what anybody reads, nothing more);
- an account whose roles lack the permission: 403.

"read" is required of every route of the app (create_app adds it to each router): reading stays open unless the
settings close it (RISKMAP_READ_REQUIRES_TOKEN), and then needs any valid credentials. `route_permissions(app)`
is the one route → permission table; the guard (riskmap.api.guard) checks a write's credentials before its body is
read, and the API description names each operation's permission (`x-permission`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from http.cookies import CookieError, SimpleCookie

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from riskmap.errors import AuthError, ForbiddenError, RiskmapError
from riskmap.people import PERMISSIONS, REGULATOR_PERMISSIONS, Principal, role_label
from riskmap.store import accounts, orgs
from riskmap.store import scope as data_scope

REALM = "riskmap"
QUERY_PARAM = "access_token"
SESSION_COOKIE = "riskmap_session"
READ_COOKIE = "riskmap_read"
CSRF_COOKIE = "riskmap_csrf"
CSRF_HEADER = "x-csrf-token"
READ = "read"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# request.scope["state"] keys: who the request acts as (once worked out), and the permission the guard checked.
PRINCIPAL_STATE = "riskmap_principal"
CHECKED_STATE = "riskmap_checked"
_NOBODY = object()


def challenge(error: str | None = None) -> dict:
    """The WWW-Authenticate header of a 401 (RFC 6750), with the error code when a token was bad."""
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


def missing() -> AuthError:
    """401 for a request with neither a session nor a token: says where to sign in or how to make a token."""
    exc = AuthError("需要登录（在 /login 登录），或令牌（请求头 Authorization: Bearer <令牌>，由 riskmap token create "
                    "生成）/ sign in first (at /login), or send a token (header Authorization: Bearer <token>, made "
                    "with riskmap token create)")
    exc.headers = challenge()
    return exc


def invalid_token() -> AuthError:
    """401 for a token that is unknown, revoked or malformed, or whose account is disabled."""
    exc = AuthError("令牌无效、已撤销或格式不对，或其账户已停用 / the token is invalid, revoked or malformed, or its "
                    "account is disabled")
    exc.headers = challenge("invalid_token")
    return exc


def session_over() -> AuthError:
    """401 for a session cookie that expired or was signed out: the page sends its user to /login."""
    exc = AuthError("登录已过期或已退出，请重新登录 / the sign-in has expired or ended: sign in again")
    exc.headers = challenge()
    return exc


def cookie_of(request: Request, name: str) -> str | None:
    """One cookie of the request, read from the raw header (also in the ASGI guard, before a Request exists)."""
    raw = request.headers.get("cookie")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def principal_of(request: Request) -> Principal | None:
    """Who the request acts as (see the module docstring); None without credentials; AuthError for bad ones,
    ForbiddenError for a cookie-authenticated write without the right CSRF token. Worked out once a request."""
    state = request.scope.setdefault("state", {})
    found = state.get(PRINCIPAL_STATE, _NOBODY)
    if found is not _NOBODY:
        return found
    with data_scope.service():          # credentials are looked up before the request's enterprise is known
        who = _principal(request)
    state[PRINCIPAL_STATE] = who
    return who


def _principal(request: Request) -> Principal | None:
    store = request.app.state.store()
    text = bearer_of(request.headers.get("authorization"))
    if text is None and request.method in ("GET", "HEAD"):
        text = request.query_params.get(QUERY_PARAM)        # a GET may carry the token in the address
    read_only = False
    if text is None and cookie_of(request, READ_COOKIE):
        # The read cookie a page opened with ?access_token= set (riskmap.api.auth.ReadGate): it only ever reads.
        text, read_only = cookie_of(request, READ_COOKIE), True
    if text is not None:
        who = accounts.principal_for_token(store, text) if text else None
        if who is None:
            raise invalid_token()
        if read_only:
            who = replace(who, permissions=who.permissions & {READ})
    else:
        session = cookie_of(request, SESSION_COOKIE)
        who = None
        if session is not None:
            write = request.method not in SAFE_METHODS
            who = accounts.principal_for_session(store, session, request.headers.get(CSRF_HEADER), check_csrf=write)
            if who is None:
                raise session_over()
    return who


def requested_enterprise(request: Request) -> str | None:
    """The enterprise the request works on, as riskmap.api.deps resolves it; None when it cannot be told."""
    from riskmap.plant import resolve_enterprise

    try:
        return resolve_enterprise(request.app.state.store(),
                                  request.query_params.get("enterprise") or request.app.state.settings.enterprise)
    except RiskmapError:
        return None


def check(request: Request, permission: str) -> Principal | None:
    """The principal of a request that may do `permission` (None: anonymous reading while reading is open)."""
    state = request.scope.setdefault("state", {})
    if state.get(CHECKED_STATE) == permission:
        return state.get(PRINCIPAL_STATE)
    if permission == READ and not request.app.state.settings.read_requires_token:
        return None
    who = principal_of(request)
    if who is None:
        raise missing()
    if who.regulator is not None:
        check_regulator(request, who, permission)
    elif who.enterprise is not None and (request.query_params.get("enterprise") or not looks_across(request)):
        wanted = requested_enterprise(request)
        if wanted != who.enterprise:
            _record(request, who, wanted, permission, "another_enterprise")
            raise ForbiddenError(f"账户 “{who.name}” 属于企业 “{who.enterprise}”，不能访问企业 “{wanted}” / account "
                                 f"{who.name!r} belongs to {who.enterprise!r}, not to {wanted!r}")
    if not who.may(permission):
        if who.operator and permission == READ:
            raise ForbiddenError(f"平台运维账户 “{who.name}” 管理企业和监管机构，不查看企业的数据 / {who.name!r} is an "
                                 "operator's account: it administers the organisations and reads no enterprise's data")
        if permission != READ:
            _record(request, who, None, permission, "permission")
        roles = "、".join(role_label(r) for r in who.roles) or "-"
        how = "（只读令牌，只能读取）" if who.token_role == "reader" else ""
        raise ForbiddenError(f"“{who.name}”（{roles}）{how}无权{PERMISSIONS[permission][0]} / "
                             f"{who.name!r} ({roles}) may not {PERMISSIONS[permission][1]}"
                             f"{' (a reader token)' if how else ''}")
    state[CHECKED_STATE] = permission
    return who


def settled(request: Request, permission: str) -> bool:
    """Whether `check` answers from what the request already knows, reading nothing: it is then called on the event
    loop. Each trip to a worker thread and back waits for the loop's turn, which under many readers costs more than
    the check (a write asks for its permission in the guard, then for "read" and its own again in the route)."""
    state = request.scope.get("state") or {}
    return state.get(CHECKED_STATE) == permission or (
        permission == READ and not request.app.state.settings.read_requires_token)


# Permissions that look across enterprises rather than into one (the overview): no enterprise to check.
# So are administering the organisations and reading the regulators' access records (the route narrows them).
ACROSS = frozenset({"oversee", "administer", "audit"})


def check_regulator(request: Request, who: Principal, permission: str) -> None:
    """A regulator's account: writes nothing but supervision records, reads only the enterprises of its scope."""
    if permission not in REGULATOR_PERMISSIONS:
        _record(request, who, requested_enterprise(request), permission, "regulator_write")
        raise ForbiddenError(f"监管账户 “{who.name}”（{who.regulator}）只能查看辖区企业和挂牌督办，不能"
                             f"{PERMISSIONS[permission][0]} / {who.name!r} is an account of the regulator "
                             f"{who.regulator!r}: it reads the enterprises of its scope and writes only supervision "
                             f"records; it may not {PERMISSIONS[permission][1]}")
    if permission in ACROSS or (permission == READ and looks_across(request)):
        return          # the overview's routes read the regulator's scope, narrowed by the route itself
    wanted = requested_enterprise(request)
    with data_scope.service():          # the regulator's scope is looked up across enterprises
        inside = orgs.in_scope(request.app.state.store(), who.regulator, wanted)
    if not inside:
        _record(request, who, wanted, permission, "out_of_scope")
        raise ForbiddenError(f"企业 “{wanted}” 不在监管机构 “{who.regulator}” 的监管范围内 / the enterprise {wanted!r} "
                             f"is not in the scope of the regulator {who.regulator!r}")


def across_enterprises(endpoint: Callable) -> Callable:
    """Mark a route that decides itself which enterprises each account sees (the organisations in scope): reading
    it needs no ?enterprise= (the route narrows the request's scope to the account's own); an enterprise's account
    naming another enterprise there is refused as anywhere."""
    endpoint.across_enterprises = True
    return endpoint


def looks_across(request: Request) -> bool:
    """Whether the request was routed (FastAPI keeps the route in the scope) to a route that looks across
    enterprises: one needing an ACROSS permission (the overview), or marked with `across_enterprises`. Such a
    route is read without naming an enterprise; it narrows the request's scope itself."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return False
    return getattr(route.endpoint, "across_enterprises", False) or permission_of_route(route) in ACROSS


def _record(request: Request, who: Principal, enterprise: str | None, permission: str, why: str) -> None:
    """A refused request of a known person goes into the audit trail (riskmap.store.accounts.record_refusal)."""
    with data_scope.service():          # the trail of the enterprise refused, whatever the request's scope
        accounts.record_refusal(request.app.state.store(), who, enterprise,
                                {"why": why, "permission": permission, "method": request.method,
                                 "path": request.url.path[:200]})


def also(who: Principal | None, permission: str) -> None:
    """A second permission a route needs for part of its work (the units collection of the OGC items)."""
    if who is None or not who.may(permission):
        raise ForbiddenError(f"无权{PERMISSIONS[permission][0]} / may not "
                             f"{PERMISSIONS[permission][1]}")


_REQUIRES: dict[str, Callable] = {}


def require(permission: str) -> Callable[[Request], Awaitable[Principal | None]]:
    """The route dependency asking for `permission` (one function per permission, so that it can be found)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    found = _REQUIRES.get(permission)
    if found is None:
        async def dependency(request: Request) -> Principal | None:
            if settled(request, permission):
                return check(request, permission)
            return await run_in_threadpool(check, request, permission)

        dependency.permission = permission
        dependency.__name__ = f"require_{permission}"
        found = _REQUIRES[permission] = dependency
    return found


def permission_of_route(route: APIRoute) -> str | None:
    """The strongest permission a route's dependencies ask for ("read" only when nothing else)."""
    found: list[str] = []

    def walk(dependant) -> None:
        for dep in dependant.dependencies:
            name = getattr(dep.call, "permission", None)
            if name is not None:
                found.append(name)
            walk(dep)

    walk(route.dependant)
    writes = [p for p in found if p != READ]
    if writes:
        return writes[0]
    return READ if found else None


def route_permissions(routes, reading=()) -> dict[tuple[str, str], str | None]:
    """(METHOD, path) → the permission it needs (None: open to all), for every API route: the one table, kept as
    `app.state.route_permissions` and checked by the tests. `reading`: routes included with require("read")."""
    out = {}
    reading = {id(r) for r in reading}
    for route in routes:
        if isinstance(route, APIRoute):
            permission = permission_of_route(route) or (READ if id(route) in reading else None)
            for method in sorted(route.methods or ()):
                out[(method, route.path_format)] = permission
    return out
