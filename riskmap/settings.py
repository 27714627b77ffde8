"""Configuration, from the environment (RISKMAP_*) or explicit arguments; built where needed, never at import.

Every limit on what users send (body and upload sizes, how far a DXF may explode) is declared here once; the
code that enforces a limit reads it from the settings it is given.
"""

from __future__ import annotations

import ipaddress
from datetime import date
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """The service's settings: each field from its RISKMAP_<NAME> environment variable unless passed as an argument; a
    value out of range is refused when the settings are built."""

    model_config = SettingsConfigDict(env_prefix="RISKMAP_", extra="ignore")

    db: str = "sqlite:///riskmap.db"
    # A read replica of `db` (e.g. a PostgreSQL streaming replica) for the tiles' map loads; the data version is
    # always checked on `db`, and a replica that has not caught up with it is not read. Unset: everything from `db`.
    read_database_url: str | None = None
    enterprise: str | None = None   # None: the only enterprise in the database, else "default"
    # Largest layout file accepted (HTTP uploads and `import-layout`).
    max_upload_mb: float = Field(200.0, gt=0)
    # Largest JSON request body (edits, evaluations, accidents, ...); refused before it is read.
    max_body_mb: float = Field(5.0, gt=0)
    # How much a DXF's blocks may add when they are exploded, beyond the entities and vertices the file itself
    # holds: a few kilobytes of nested INSERTs can otherwise ask for millions of polygons.
    dxf_max_exploded_entities: int = Field(100_000, ge=0)
    dxf_max_exploded_vertices: int = Field(2_000_000, ge=0)
    # Where a layout without georeferencing is placed (lon, lat), with a warning.
    origin_lon: float = 120.0
    origin_lat: float = 32.0
    max_rms_m: float = 0.5
    # The public address in links and on the cards' QR codes. Unset, the HTTP service uses the address each
    # request came to (forwarded headers only from trusted_proxies); the CLI uses http://host:port.
    base_url: str = "http://127.0.0.1:8000"
    # Proxies whose X-Forwarded-*/Forwarded headers are believed (addresses or networks, comma-separated; "*" for
    # any): for the links' address, and for the Secure flag of cookies on a request that came over HTTPS.
    trusted_proxies: str = "127.0.0.1,::1"
    # Web pages on other origins (riskmap.api.transport): these may read anonymously ("*": any, "": none) ...
    cors_origins: str = "*"
    # ... and these may also send a token or the page's cookie, and write (never "*").
    cors_token_origins: str = ""
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Server processes of `riskmap serve`, one per core when unset; each keeps its own tile cache, and checks the
    # data version (every request, or once a second for versioned tiles), so no process serves a stale tile.
    workers: int | None = Field(None, ge=1, le=64)
    # The poster's sign-off block (编制 / 审核 / 批准): who prepared, reviewed and approved the map, and when
    # (dates as 2026-12-01). Unset ones print as blank lines to sign by hand.
    prepared_by: str | None = Field(None, max_length=40)
    prepared_on: date | None = None
    reviewed_by: str | None = Field(None, max_length=40)
    reviewed_on: date | None = None
    approved_by: str | None = Field(None, max_length=40)
    approved_on: date | None = None
    profiles_dir: str | None = None
    # Reading needs a reader or editor token too (riskmap.api.auth); writing always needs an editor token.
    read_requires_token: bool = False
    # How long a browser's sign-in lasts (riskmap.api.routers.signin), in hours.
    session_hours: float = Field(12.0, gt=0, le=720)
    # Where hazard photos are kept (files, not database rows). Unset: a folder "riskmap-media" next to the SQLite
    # file, or ./riskmap-media for a server database.
    media_dir: str | None = None
    # A hazard photo's limits: bytes, and pixels (checked from the header, before decoding).
    max_photo_mb: float = Field(10.0, gt=0, le=100)
    max_photo_pixels: int = Field(40_000_000, gt=0, le=200_000_000)
    # Anonymous hazard reports from the phone page (someone not signed in): at most this many an hour from one
    # address, and this many a day for an enterprise (0 switches anonymous reports off).
    anonymous_reports_per_hour: int = Field(5, ge=0, le=10_000)
    anonymous_reports_per_day: int = Field(200, ge=0, le=1_000_000)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        for item in _split(value):
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"not an IP address or network: {item!r}") from None
        return value

    @property
    def max_body_bytes(self) -> int:
        """`max_body_mb` in bytes: the limit on a JSON body (and on any request that is not an upload)."""
        return int(self.max_body_mb * MIB)

    @property
    def max_upload_bytes(self) -> int:
        """`max_upload_mb` in bytes: the limit on a layout file, over HTTP and in `import-layout`."""
        return int(self.max_upload_mb * MIB)

    @property
    def max_photo_bytes(self) -> int:
        """`max_photo_mb` in bytes: the limit on one hazard photo."""
        return int(self.max_photo_mb * MIB)

    def media_folder(self) -> Path:
        """The folder of hazard photos: `media_dir`, else next to the SQLite file, else ./riskmap-media."""
        if self.media_dir:
            return Path(self.media_dir)
        if self.db.startswith("sqlite:///") and self.db != "sqlite:///:memory:":
            return Path(self.db.removeprefix("sqlite:///")).resolve().parent / "riskmap-media"
        return Path("riskmap-media").resolve()

    def is_trusted_proxy(self, host: str | None) -> bool:
        """Whether a request's peer address is one of `trusted_proxies`."""
        items = _split(self.trusted_proxies)
        if "*" in items:
            return True
        try:
            address = ipaddress.ip_address((host or "").strip("[]"))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(item, strict=False) for item in items)


def _split(value: str) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]
