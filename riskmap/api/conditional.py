"""Conditional GET for answers that are lists or documents built from an enterprise's data (OGC collections and
item pages, GeoJSON, styles, capabilities): a weak ETag and Last-Modified from the enterprise's data version.

Every writing transaction bumps the data version (and its time), so the version, the request's own address (its
query and the public base URL its links carry) and the format say everything that decides such an answer. The
tag is weak: a page's `timeStamp` differs from one request to the next while the content does not. A single
OGC item keeps its strong edit tag (riskmap.api.routers.ogc), which If-Match needs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request
from fastapi.responses import Response


@dataclass(frozen=True)
class Validators:
    """An answer's weak ETag and Last-Modified; not_modified compares them with the request's."""

    etag: str
    last_modified: datetime | None

    def headers(self) -> dict[str, str]:
        """The validators as response headers, with no-cache: clients may keep the answer but revalidate every time,
        since any write may change it."""
        out = {"ETag": self.etag, "Cache-Control": "no-cache"}
        if self.last_modified is not None:
            out["Last-Modified"] = format_datetime(self.last_modified.astimezone(UTC), usegmt=True)
        return out


def data_state(store, enterprise_name: str) -> tuple[int, int, datetime | None]:
    """(enterprise id, data version, time of that version) of a stored enterprise."""
    from riskmap.store.mapdata import current_state

    with store.session() as session:
        found = current_state(session, enterprise_name)
    if not found:
        return 0, store.data_version(enterprise_name), None
    ent_id, _, version, stamp = found[0]
    when = stamp.partition("@")[2]
    moment = datetime.strptime(when, "%Y%m%d%H%M%S%f").replace(tzinfo=UTC) if when else None
    return ent_id, version, moment


def validators(request: Request, store, enterprises: str | list[str], *parts: object) -> Validators:
    """Validators of an answer built from the current data of one enterprise (or of several, e.g. the collection
    list) for this request, plus `parts` (e.g. the public base URL or the chosen format)."""
    names = [enterprises] if isinstance(enterprises, str) else list(enterprises)
    states = [data_state(store, name) for name in names]
    moments = [m for _, _, m in states if m is not None]
    versions = "-".join(f"{ent_id}.{version}" for ent_id, version, _ in states) or "none"
    digest = hashlib.sha256("\n".join([str(request.url.path), str(request.url.query),
                                       request.headers.get("accept", ""), *map(str, parts)]).encode()).hexdigest()
    latest = max(moments) if moments and len(moments) == len(states) else None
    return Validators(f'W/"{versions}.{digest[:16]}"', latest.replace(microsecond=0) if latest else None)


def none_match(header: str | None, etag: str) -> bool:
    """If-None-Match by the weak comparison (RFC 9110 §13.1.2)."""
    if not header:
        return False
    plain = etag[2:] if etag.startswith("W/") else etag
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if (tag[2:] if tag.startswith("W/") else tag) == plain:
            return True
    return False


def not_modified(request: Request, found: Validators, vary: str = "Accept") -> Response | None:
    """A 304 when the client's copy is current (If-None-Match, else If-Modified-Since), None otherwise."""
    if request.method not in ("GET", "HEAD"):
        return None
    header = request.headers.get("if-none-match")
    fresh = False
    if header is not None:
        fresh = none_match(header, found.etag)
    elif found.last_modified is not None and request.headers.get("if-modified-since"):
        try:
            since = parsedate_to_datetime(request.headers["if-modified-since"])
        except (TypeError, ValueError):
            since = None
        if since is not None and since.tzinfo is not None:
            fresh = found.last_modified <= since
    if fresh:
        return Response(status_code=304, headers={**found.headers(), "Vary": vary})
    return None
