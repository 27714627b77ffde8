"""Security headers on every page the service sends, and the Secure flag where the request came over HTTPS.

HTML answers (/map, /edit, /docs, /redoc, the OGC HTML pages, error pages) get a Content-Security-Policy that lets
a page load only from this server and run only its own script files plus the inline scripts it was sent with,
each named by its SHA-256 (folium and Swagger UI write their start-up code inline; a hash, unlike
'unsafe-inline', lets no injected script run). Pages may not be framed (frame-ancestors, X-Frame-Options) and
send no Referer (a page opened as /map?access_token=… must not pass the token on). Every answer says nosniff.

`is_https(scope, settings)` tells whether the browser's connection is HTTPS: the scheme of the request, or
X-Forwarded-Proto from one of the settings' trusted proxies (RISKMAP_TRUSTED_PROXIES).
"""

from __future__ import annotations

import base64
import hashlib
import re

from riskmap.api.asgi import header

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
POLICY = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = ((b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"))
NOSNIFF = (b"x-content-type-options", b"nosniff")


def content_security_policy(body: bytes) -> str:
    """The policy for an HTML page: its inline scripts allowed by their hashes, nothing else inline."""
    hashes = sorted({base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
                     for m in _INLINE_SCRIPT.finditer(body)})
    return POLICY.format(hashes="".join(f" 'sha256-{h}'" for h in hashes))


def is_https(scope, settings) -> bool:
    """Whether the browser reached this service over HTTPS (directly, or through a trusted proxy that says so)."""
    if scope.get("scheme") == "https":
        return True
    forwarded = header(scope, b"x-forwarded-proto")
    if forwarded is None:
        return False
    client = scope.get("client")
    return (forwarded.split(",")[0].strip().lower() == "https"
            and settings.is_trusted_proxy(client[0] if client else None))


class SecurityHeaders:
    """Pure-ASGI middleware adding the headers above; HTML bodies (small pages) are held until complete so that
    their inline scripts can be hashed."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        """ASGI entry point: every answer gets nosniff; an HTML page is held whole, then sent with a CSP that hashes
        its inline scripts (replacing any the route set)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict | None = None
        chunks: list[bytes] = []

        async def sending(message):
            nonlocal held
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    headers.append(NOSNIFF)
                message = {**message, "headers": headers}
                media = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if media.lower().startswith(b"text/html"):
                    held = message
                    return
                await send(message)
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in held["headers"]
                       if k.lower() not in (b"content-security-policy", b"x-frame-options", b"referrer-policy")]
            headers += [(b"content-security-policy", content_security_policy(body).encode()), *PAGE_HEADERS]
            await send({**held, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, sending)
