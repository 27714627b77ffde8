"""The public address of the service as a request sees it, for what is printed (the cards' QR codes).

RISKMAP_BASE_URL, when set, is the address. Otherwise the request's own: the scheme and Host it came with; behind a
reverse proxy, the proxy's `Forwarded` (RFC 7239) or `X-Forwarded-Proto/-Host/-Port/-Prefix` headers, believed
only when the connection comes from an address in RISKMAP_TRUSTED_PROXIES (default: this machine), since anyone
else can send such headers.
"""

from __future__ import annotations

import re
from functools import lru_cache

from fastapi import Request

from riskmap.errors import InputError

_TOKEN = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")          # a host[:port] as forwarded headers carry it
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-/%]*)?$")


@lru_cache(maxsize=16)
def _trusted(request: Request) -> bool:
    """Whether the request's peer is a trusted proxy (the settings decide, for links as for Secure cookies)."""
    return request.app.state.settings.is_trusted_proxy(request.client.host if request.client else None)


def _first(value: str | None) -> str:
    """The first (client-side) entry of a header that proxies append to."""
    return (value or "").split(",")[0].strip()


def _forwarded(header: str) -> dict[str, str]:
    """The first element of an RFC 7239 Forwarded header: {"proto": …, "host": …}."""
    out: dict[str, str] = {}
    for pair in _first(header).split(";"):
        key, _, value = pair.partition("=")
        out[key.strip().lower()] = value.strip().strip('"')
    return out


def public_base_url(request: Request) -> str:
    """The address a phone should open, without a trailing slash (see the module docstring)."""
    settings = request.app.state.settings
    if "base_url" in settings.model_fields_set:
        return str(settings.base_url).rstrip("/")
    scheme = request.url.scheme
    host = request.headers.get("host") or request.url.netloc
    prefix = ""
    if _trusted(request):
        headers = request.headers
        fwd = _forwarded(headers.get("forwarded", ""))
        scheme = fwd.get("proto") or _first(headers.get("x-forwarded-proto")) or scheme
        host = fwd.get("host") or _first(headers.get("x-forwarded-host")) or host
        port = _first(headers.get("x-forwarded-port"))
        if port.isdigit() and ":" not in host.rsplit("]", 1)[-1]:
            host = f"{host}:{port}"
        prefix = _first(headers.get("x-forwarded-prefix")).rstrip("/")
    if scheme not in ("http", "https") or not _TOKEN.match(host or "") or not _PREFIX.match(prefix):
        raise InputError("请求的地址无法用于二维码（Host 或转发头无效）；请设置 RISKMAP_BASE_URL / the request's "
                         "address cannot go on a QR code (bad Host or forwarded headers): set RISKMAP_BASE_URL")
    if (scheme, host.rsplit(":", 1)[-1]) in (("http", "80"), ("https", "443")) and not host.endswith("]"):
        host = host.rsplit(":", 1)[0]
    return f"{scheme}://{host}{prefix}"


def public_request_url(request: Request, **params) -> str:
    """This request's own address as its client sees it (public base URL, path, query), with some query
    parameters replaced (None removes one): the `self` and paging links of lists."""
    from urllib.parse import urlencode

    query = [(k, v) for k, v in request.query_params.multi_items() if k not in params]
    query += [(k, str(v)) for k, v in params.items() if v is not None]
    return public_base_url(request) + request.url.path + ("?" + urlencode(query) if query else "")
