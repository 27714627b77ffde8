"""The regulators' access records, written by the service: `RegulatorAudit` (pure ASGI, just inside the request
scope) writes one row (riskmap.store.regulator_audit) for every request of a regulator's account into enterprise
data once the answer has been sent: which account, which enterprise, the route, the status, when.

- After the answer, in the request's own task: the person never waits for the INSERT, and the request is not over
  for the server until the row is written, so a clean shutdown (uvicorn finishes the requests it holds) loses none.
  A crash between the answer and the INSERT loses that one row; that is the price of not holding the answer back.
- Who asked: the principal the route's permission check found, or the account the read gate found (reading
  closed, a cached tile answered before routing); when neither asked (reading open), the request's credentials are
  looked up here, only when it carries any (a token, a session or read cookie), so anonymous reading costs nothing
  more; and a credential found not to be a regulator's is remembered (`NotRegulators`: an account never becomes
  one), so an enterprise's map page does not pay a second lookup for each of its tiles.
- Which enterprise: the request's scope once the route narrowed it (riskmap.store.scope) — one enterprise, or
  several at once (the overview: no single enterprise, their number kept) — or, for a refused request, the
  enterprise it named.
- Routes with no data (health, static files, sign-in, who-am-I) and the access records themselves are not recorded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from riskmap.api.auth import SEEN_STATE, is_open
from riskmap.api.deps import app_singleton
from riskmap.api.permissions import (
    PRINCIPAL_STATE,
    QUERY_PARAM,
    READ_COOKIE,
    SESSION_COOKIE,
    cookie_of,
    looks_across,
    principal_of,
    requested_enterprise,
)
from riskmap.errors import RiskmapError
from riskmap.store import regulator_audit
from riskmap.store import scope as data_scope
from riskmap.store.rows import enterprise_id

log = logging.getLogger(__name__)
UNRECORDED_PERMISSIONS = frozenset({"audit"})      # reading the records is not reading an enterprise's data


def _has_credentials(request: Request) -> bool:
    return bool(request.headers.get("authorization") or request.query_params.get(QUERY_PARAM)
                or cookie_of(request, SESSION_COOKIE) or cookie_of(request, READ_COOKIE))


def raw_credentials(scope) -> bool:
    """Whether the raw request may carry credentials (a look at the bytes: true may still be none)."""
    for name, value in scope["headers"]:
        if name == b"authorization" or (name == b"cookie" and (SESSION_COOKIE.encode() in value
                                                                or READ_COOKIE.encode() in value)):
            return True
    return QUERY_PARAM.encode() + b"=" in scope.get("query_string", b"")


def _worth_a_look(scope) -> bool:
    """Whether the request may be a regulator's, from what the request already holds: an account found (a
    regulator's or not), or credentials not looked at yet. False for an anonymous reader: no thread, no query."""
    state = scope.get("state") or {}
    if PRINCIPAL_STATE in state or state.get(SEEN_STATE) is not None:
        who = state.get(PRINCIPAL_STATE) if PRINCIPAL_STATE in state else state.get(SEEN_STATE)
        return who is not None and who.regulator is not None
    return raw_credentials(scope)


def may_be_a_regulator(app, scope) -> bool:
    """Whether a request might be a regulator's, for the tile fast path in front of this layer (riskmap.api.routers
    .tiles): it carries credentials not yet known to be someone else's. Such a request is left to the service, so
    that its access record is written; anonymous readers and an enterprise's own people, once known, keep the fast
    path. Cheap on the event loop: the raw headers are looked at before anything is parsed."""
    if not raw_credentials(scope):
        return False
    request = Request(scope)
    if not _has_credentials(request):
        return False
    return _credential_key(request) not in app_singleton(app, "not_regulators", NotRegulators)


def _credential_key(request: Request) -> str:
    text = "\n".join(v or "" for v in (request.headers.get("authorization"), request.query_params.get(QUERY_PARAM),
                                        cookie_of(request, SESSION_COOKIE), cookie_of(request, READ_COOKIE)))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


class NotRegulators:
    """Credentials known not to be a regulator's account (bounded, oldest forgotten first; safe to lose)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self.keys: OrderedDict[str, None] = OrderedDict()
        self.lock = threading.Lock()

    def __contains__(self, key: str) -> bool:
        with self.lock:
            return key in self.keys

    def add(self, key: str) -> None:
        """Remember one credential (the oldest forgotten past `size`)."""
        with self.lock:
            self.keys[key] = None
            while len(self.keys) > self.size:
                self.keys.popitem(last=False)


def _who(request: Request, known: NotRegulators):
    state = request.scope.get("state") or {}
    if PRINCIPAL_STATE in state:
        return state[PRINCIPAL_STATE]
    if state.get(SEEN_STATE) is not None:
        return state[SEEN_STATE]
    if not _has_credentials(request):
        return None
    key = _credential_key(request)
    if key in known:
        return None
    try:
        who = principal_of(request)
    except RiskmapError:
        return None
    if who is not None and who.regulator is None:
        known.add(key)
    return who


class RegulatorAudit:
    """Pure-ASGI wrapper recording the requests of regulators' accounts (see the module docstring)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        """Hand the request on, note the answer's status, then record it when a regulator's account asked."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def noting_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            narrowed = data_scope.current()
            if _worth_a_look(scope):            # an anonymous reader costs no thread and no query
                try:
                    await run_in_threadpool(self._record, scope, status, narrowed)
                except Exception:           # the answer is sent; a failed record must not turn it into an error
                    log.exception("regulator access record not written")

    def _record(self, scope, status: int, narrowed) -> None:
        route = scope.get("route")
        app = scope.get("app")
        if app is None or not hasattr(app.state, "route_permissions"):
            return
        template = route.path_format if isinstance(route, APIRoute) else scope["path"]
        if is_open(template):
            return
        if isinstance(route, APIRoute):
            permission = app.state.route_permissions.get((scope["method"], template), "read")
            if permission is None or permission in UNRECORDED_PERMISSIONS:
                return
        request = Request(scope)
        known = app_singleton(app, "not_regulators", NotRegulators)
        with data_scope.service():
            who = _who(request, known)
            if who is None or who.regulator is None:
                return
            store = app.state.store()
            ent, many = None, 0
            if isinstance(narrowed, frozenset) and narrowed:
                many = len(narrowed)
                ent = next(iter(narrowed)) if many == 1 else None
            elif not looks_across(request):
                name = requested_enterprise(request)
                if name is not None:
                    with store.session() as s:
                        ent = enterprise_id(s, name, create=False, missing_ok=True)
                    many = int(ent is not None)
            regulator_audit.record(store, account_id=who.account_id, enterprise_id=ent, enterprises=many,
                                   method=scope["method"], route=template, path=scope["path"], status=status,
                                   via=who.via)
