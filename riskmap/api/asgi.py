"""Small helpers for the pure-ASGI middleware of the service (riskmap.api.auth.ReadGate, riskmap.api.guard)."""

from __future__ import annotations

from riskmap.errors import RiskmapError


def route_path(scope) -> str:
    """The request's path below the app's root path (what the routes match)."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] == "/":
        return path[len(root):]
    return path


def header(scope, name: bytes) -> str | None:
    """The first value of a request header (`name` in lower case), decoded as latin-1 as HTTP sends it."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def send_error(scope, receive, send, exc: RiskmapError) -> None:
    """Answer `exc` as the app's exception handlers would (JSON, message Chinese first)."""
    from riskmap.api.errors import error_response

    await error_response(exc)(scope, receive, send)
