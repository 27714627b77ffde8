"""Files riskmap serves itself, because an intranet has no CDN: the pinned third-party assets
(`/static/vendor/<package>@<version>/<path>`, installed by scripts/assets.sh), riskmap's own JS/CSS
(`/static/app/<file>?v=<hash>`), and the API docs (`/docs`, `/redoc`) built on those local copies.

Vendor URLs carry the installed version, so they never change meaning and are cached for a year; an upgrade
changes the URL. Only the packages riskmap uses are reachable, and only regular files inside them.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskmap.errors import NotFoundError, RiskmapError

VENDOR_PREFIX = "/static/vendor"
APP_PREFIX = "/static/app"
# The third-party packages pages may reference (web/package.json's direct dependencies).
VENDOR_PACKAGES: tuple[str, ...] = ("leaflet", "swagger-ui-dist", "redoc", "@geoman-io/leaflet-geoman-free",
                                     "maplibre-gl")
IMMUTABLE = "public, max-age=31536000, immutable"
_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
    ".gif": "image/gif", ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject", ".html": "text/html; charset=utf-8",
}
_VENDOR_SUFFIXES = frozenset(_CONTENT_TYPES) - {".html", ".json"}
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$")
_PACKAGE_DIR = Path(__file__).resolve().parents[2]          # riskmap/
APP_STATIC_DIR = _PACKAGE_DIR / "static"


class AssetSettings(BaseSettings):
    """Where the pinned assets are: $RISKMAP_ASSETS_DIR (a node_modules folder), else the checkout's."""

    model_config = SettingsConfigDict(env_prefix="RISKMAP_", extra="ignore")
    assets_dir: str | None = None


class AssetsMissingError(RiskmapError, http_status=503):
    """The server was set up without `scripts/assets.sh`: pages would load blank, so say so instead."""


@dataclass(frozen=True)
class VendorAssets:
    """The pinned front-end packages found installed, so pages link exact versions and a missing install is reported,
    not served blank.
    """
    root: Path | None                       # a node_modules folder, or None when not found
    versions: dict[str, str]                # package -> installed version (only installed packages)

    def url(self, package: str, path: str) -> str:
        """The URL of one file of a pinned package, e.g. url("leaflet", "dist/leaflet.js")."""
        version = self.versions.get(package)
        if version is None or self.root is None or not (self.root / package / path).is_file():
            raise AssetsMissingError(
                f"前端资源 {package}/{path} 未安装，请运行 scripts/assets.sh / "
                f"web asset {package}/{path} is not installed: run scripts/assets.sh")
        return f"{VENDOR_PREFIX}/{package}@{version}/{path}"

    def file(self, spec: str) -> Path | None:
        """The file a `/static/vendor/<package>@<version>/<path>` request names, or None."""
        if self.root is None:
            return None
        for package, version in self.versions.items():
            prefix = f"{package}@{version}/"
            if spec.startswith(prefix):
                return _safe_file(self.root / package, spec[len(prefix):], _VENDOR_SUFFIXES)
        return None


def vendor_assets() -> VendorAssets:
    """The assets of this process's settings, read once per folder (an upgrade needs a restart; a first
    install does not)."""
    configured = AssetSettings().assets_dir
    root = Path(configured) if configured else _PACKAGE_DIR.parent / "web" / "node_modules"
    if not (root / "leaflet" / "package.json").is_file():
        return VendorAssets(None, {})
    return _load_assets(str(root.resolve()))


@lru_cache(maxsize=8)
def _load_assets(root_text: str) -> VendorAssets:
    root = Path(root_text)
    versions = {}
    for package in VENDOR_PACKAGES:
        manifest = root / package / "package.json"
        try:
            versions[package] = str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError):
            continue
    return VendorAssets(root, versions)


def app_url(name: str) -> str:
    """The URL of one of riskmap's own static files, with its content hash (cache-busting)."""
    path = APP_STATIC_DIR / name
    stat = path.stat()
    return f"{APP_PREFIX}/{name}?v={_content_hash(str(path), stat.st_mtime_ns, stat.st_size)}"


@lru_cache(maxsize=64)
def _content_hash(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _safe_file(base: Path, relative: str, suffixes: frozenset[str]) -> Path | None:
    """`base/relative` when it is a regular file inside `base` with an allowed suffix, else None.

    Every segment must look like a plain file name: no `..`, no hidden files, no backslashes or drive
    letters; the resolved path must still be inside `base` (no symlink escapes)."""
    parts = relative.split("/")
    if not parts or any(not _SEGMENT.match(p) for p in parts):
        return None
    candidate = base.joinpath(*parts)
    if candidate.suffix.lower() not in suffixes:
        return None
    try:
        resolved = candidate.resolve(strict=True)
        if not resolved.is_relative_to(base.resolve(strict=True)) or not resolved.is_file():
            return None
    except (OSError, RuntimeError):
        return None
    return resolved


def _not_found(what: str) -> NotFoundError:
    return NotFoundError(f"未找到静态文件 {what} / no static file {what}")


def make_router() -> APIRouter:
    """The static routes: pinned vendor files, the app's own files, the favicon and the API docs pages."""
    router = APIRouter(tags=["static"])

    @router.api_route(VENDOR_PREFIX + "/{spec:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def vendor_file(spec: str) -> Response:
        assets = vendor_assets()
        if assets.root is None:
            raise AssetsMissingError("前端资源未安装，请运行 scripts/assets.sh / web assets are not installed: "
                                     "run scripts/assets.sh")
        path = assets.file(spec)
        if path is None:
            raise _not_found(spec[:200])
        return FileResponse(path, media_type=_CONTENT_TYPES[path.suffix.lower()],
                            headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"})

    @router.api_route(APP_PREFIX + "/{name:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def app_file(name: str, v: str | None = None) -> Response:
        path = _safe_file(APP_STATIC_DIR, name, frozenset({".js", ".css", ".svg", ".png"}))
        if path is None:
            raise _not_found(name[:200])
        stat = path.stat()
        current = _content_hash(str(path), stat.st_mtime_ns, stat.st_size)
        # Immutable only under the URL of the current content; any other URL must revalidate.
        cache = IMMUTABLE if v == current else "no-cache"
        return FileResponse(path, media_type=_CONTENT_TYPES[path.suffix.lower()],
                            headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})

    @router.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(APP_STATIC_DIR / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        app = request.app
        assets = vendor_assets()
        parameters = {"validatorUrl": None, **(app.swagger_ui_parameters or {})}
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} - API 文档 / API docs",
            swagger_js_url=assets.url("swagger-ui-dist", "swagger-ui-bundle.js"),
            swagger_css_url=assets.url("swagger-ui-dist", "swagger-ui.css"),
            swagger_favicon_url=app_url("favicon.svg"),
            oauth2_redirect_url="/docs/oauth2-redirect",
            init_oauth=app.swagger_ui_init_oauth, swagger_ui_parameters=parameters)

    @router.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        # Our own page rather than FastAPI's: ReDoc 2 draws its vendor's logo from a CDN, which the offline
        # guard (loaded first) points at an empty image.
        app = request.app
        title = html.escape(f"{app.title} - ReDoc")
        return HTMLResponse(
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{title}</title>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="{app_url("favicon.svg")}" type="image/svg+xml">'
            "<style>body { margin: 0; padding: 0; }</style>"
            f'<script src="{app_url("offline-guard.js")}"></script></head><body>'
            f'<redoc spec-url="{html.escape(app.openapi_url or "/openapi.json")}"></redoc>'
            f'<script src="{vendor_assets().url("redoc", "bundles/redoc.standalone.js")}"></script>'
            "</body></html>")

    return router
