"""Addresses printed on paper: the short link of a unit (the cards' QR codes), and whether a base address
can be opened from another device at all."""

from __future__ import annotations

import ipaddress
from urllib.parse import quote, urlsplit

UNIT_LINK = "/u/{unit_id}"


def unit_link(unit_id: str) -> str:
    """The short path of a unit: a QR code with few modules scans from a metre even on a small card."""
    return UNIT_LINK.format(unit_id=quote(str(unit_id), safe=""))


def unit_url(base_url: str, unit_id: str) -> str:
    """The full address a unit's QR code encodes; `base_url` must be reachable from a phone (see is_loopback)."""
    return base_url.rstrip("/") + unit_link(unit_id)


def is_loopback(base_url: str) -> bool:
    """Whether the address names this machine only (127.0.0.0/8, ::1, localhost): a phone that scans a code
    pointing there opens nothing."""
    host = (urlsplit(base_url).hostname or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
