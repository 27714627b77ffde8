"""Requests refused before their body is read: the credentials and rights first, then the declared size and the
media type; a body sent without Content-Length is counted while it streams in and refused at the limit.

FastAPI reads a route's JSON body before it resolves the route's dependencies, so `require(...)` alone checks the
credentials only after the whole body is in memory (a 300 MB body took the server past 1.2 GB before its 401).
RequestGuard is pure-ASGI middleware, outermost, that knows each route's policy, worked out once from the routes
themselves (the permission the route requires, riskmap.api.permissions; does it take a JSON body or a multipart
upload), and
answers 401/403, 413 or 415 before the app sees the request. The limits are the settings' `max_body_mb` for JSON
bodies (and any other request) and `max_upload_mb` for uploads (plus room for the form's other fields).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import params
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from riskmap.api.asgi import header, route_path, send_error
from riskmap.api.permissions import READ, check, permission_of_route
from riskmap.api.requests import ALLOW_STATE
from riskmap.errors import MediaTypeError, RiskmapError, TooLargeError

JSON = "json"
MULTIPART = "multipart/form-data"
FORM = "application/x-www-form-urlencoded"
FORM_ROOM = 1024 * 1024        # an upload's limit is the file's plus this much for the form's other fields
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RoutePolicy:
    """What a route asks of a request before its body may be read."""

    path: re.Pattern
    path_format: str             # as the API description names it, e.g. /api/units/{unit_id}
    methods: frozenset[str]
    permission: str | None       # what the route requires beyond reading (riskmap.api.permissions), else None
    body: str | None             # JSON, MULTIPART, FORM or None (the route reads no body)


class BodyTooLarge(HTTPException):
    """Raised by the counting `receive` when a body passes its limit while it is read (an HTTPException, so that
    FastAPI's body parsing hands it on instead of calling it a broken body)."""

    def __init__(self, limit: int):
        super().__init__(413, too_large(limit).message)


def too_large(limit: int) -> TooLargeError:
    """The 413 for a body over `limit` bytes, naming the limit in MB (declared or counted, the same message)."""
    size = f"{limit / (1024 * 1024):g} MB"
    return TooLargeError(f"请求过大：请求体超过上限 {size} / the request body is larger than the limit of {size}")


def policies_of(routes: Iterable) -> list[RoutePolicy]:
    """The policy of every API route in `routes` (other routes read no body)."""
    out = []
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        content = ((route.openapi_extra or {}).get("requestBody") or {}).get("content") or {}
        if MULTIPART in content:
            body = MULTIPART
        elif route.body_field is not None and isinstance(route.body_field.field_info, params.Form):
            body = FORM                  # a browser's form (the sign-in page)
        elif route.body_field is not None or content:
            body = JSON
        else:
            body = None
        permission = permission_of_route(route)
        out.append(RoutePolicy(route.path_regex, route.path_format, frozenset(route.methods or ()),
                               None if permission in (None, READ) else permission, body))
    return out


def _is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class RequestGuard:
    """Pure-ASGI middleware enforcing the route policies and body limits (see the module docstring)."""

    def __init__(self, app, *, policies: list[RoutePolicy], json_limit: int, upload_limit: int):
        self.app = app
        self.policies = policies
        self.json_limit = json_limit
        self.upload_limit = upload_limit + FORM_ROOM

    def policy(self, scope) -> RoutePolicy | None:
        """The policy of the first API route matching the request's method and path; None when no API route serves that
        method and path."""
        path, method = route_path(scope), scope["method"]
        for policy in self.policies:
            if method in policy.methods and policy.path.match(path):
                return policy
        return None

    async def __call__(self, scope, receive, send):
        """Check the rights, the declared size and the media type before the app sees the request; then hand it on with
        its body counted against the limit while it streams in."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await self._counted(scope, receive, send, self.json_limit)
            return
        declared = header(scope, b"content-length")
        length = int(declared) if declared is not None and declared.strip().isdigit() else None
        streamed = length is None and header(scope, b"transfer-encoding") is not None
        policy = None if scope["method"] in _NO_BODY and not length and not streamed else self.policy(scope)
        limit = self.upload_limit if policy is not None and policy.body == MULTIPART else self.json_limit
        try:
            if policy is not None and policy.permission:
                await run_in_threadpool(check, Request(scope), policy.permission)
            if length is not None and length > limit:
                raise too_large(limit)
            if policy is not None and policy.body is not None and (length or streamed):
                _check_media(policy.body, header(scope, b"content-type"))
        except RiskmapError as exc:
            await send_error(scope, receive, send, exc)
            return
        await self._counted(scope, receive, send, limit)

    def _allow(self, scope, headers: list) -> list:
        """A 405's Allow header naming every method of the path (HEAD with GET): the router names only those of the
        first route matching it, while GET and POST of one path are two routes."""
        exact = (scope.get("state") or {}).get(ALLOW_STATE)
        if exact:
            return [(k, v) for k, v in headers if k.lower() != b"allow"] + [(b"allow", exact.encode())]
        path = route_path(scope)
        found = {m for p in self.policies if p.path.match(path) for m in p.methods}
        if "GET" in found:
            found.add("HEAD")           # every GET answers HEAD (riskmap.api.transport)
        methods = sorted(found)
        if not methods:
            return headers
        return [(k, v) for k, v in headers if k.lower() != b"allow"] + [(b"allow", ", ".join(methods).encode())]

    async def _counted(self, scope, receive, send, limit: int) -> None:
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 405:
                    message = {**message, "headers": self._allow(scope, message.get("headers", []))}
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await send_error(scope, receive, send, too_large(limit))


def _check_media(body: str, content_type: str | None) -> None:
    media = (content_type or "").split(";")[0].strip().lower()
    if body == MULTIPART and media != MULTIPART:
        raise MediaTypeError(f"请以 multipart/form-data 上传文件，而不是 {media or '空'} / upload the file as "
                             f"multipart/form-data, not {media or 'no content type'}")
    if body == FORM and media != FORM:
        raise MediaTypeError(f"请以表单提交（application/x-www-form-urlencoded），而不是 {media or '空'} / send a form "
                             f"(application/x-www-form-urlencoded), not {media or 'no content type'}")
    if body == JSON and not _is_json(media):
        raise MediaTypeError(f"请求体应为 JSON（Content-Type: application/json），而不是 {media or '空'} / the body "
                             f"must be JSON (Content-Type: application/json), not {media or 'no content type'}")
