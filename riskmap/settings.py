"""Configuration, from the environment (RISKMAP_*) or explicit arguments; built where needed, never at import."""

from __future__ import annotations

from datetime import date

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKMAP_", extra="ignore")

    db: str = "sqlite:///riskmap.db"
    enterprise: str | None = None   # None: the only enterprise in the database, else "default"
    max_upload_mb: float = 200.0
    # Where a layout without georeferencing is placed (lon, lat), with a warning.
    origin_lon: float = 120.0
    origin_lat: float = 32.0
    max_rms_m: float = 0.5
    # The public address in links and on the cards' QR codes. Unset, the HTTP service uses the address each
    # request came to (forwarded headers only from trusted_proxies); the CLI uses http://host:port.
    base_url: str = "http://127.0.0.1:8000"
    # Proxies whose X-Forwarded-*/Forwarded headers are believed: addresses or networks, comma-separated.
    trusted_proxies: str = "127.0.0.1,::1"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Server processes of `riskmap serve`; each keeps its own tile cache, and every request checks the data
    # version, so no process ever serves a stale tile.
    workers: int = Field(1, ge=1, le=64)
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
