"""Browser tests: Debian's Chromium driven by Playwright (sync API) against riskmap served by uvicorn on a free
loopback port, the demo plant in a temporary SQLite database.

Chromium, the Playwright package or the pinned web assets missing: skipped locally with the reason, a failure
when CI is set (CI must never pass by skipping). Every page records what went wrong: failed requests, HTTP
errors, console errors, page errors, dialogs, and any request that tried to leave the server (those are
aborted, as an intranet would).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 860}
ROOT = Path(__file__).resolve().parents[2]


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing(reason: str):
    if _ci():
        pytest.fail(f"{reason} (required because CI is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_api():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found: install Debian's chromium (scripts/setup.sh)")
    from riskmap.api.routers.static import vendor_assets

    if vendor_assets().root is None:
        _missing("the pinned web assets are not installed: run scripts/assets.sh")
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="session")
def browser(playwright_api, tmp_path_factory):
    """One Chromium with a fresh, empty profile for the session."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    # bypass_csp: Playwright's wait_for_function evaluates its predicate with eval, which the pages' policy
    # forbids; test_security_headers_browser.py checks the pages under their policy in a context of its own.
    context = playwright_api.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT,
        device_scale_factor=1, locale="zh-CN", bypass_csp=True)
    yield context
    context.close()


class Server:
    """riskmap under uvicorn in a background thread, on a free loopback port."""

    def __init__(self, db_url: str, **settings):
        import uvicorn

        from riskmap.api.app import create_app
        from riskmap.settings import Settings

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.db_url = db_url
        self.app = create_app(Settings(db=db_url, **settings))
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def demo_db_dir(tmp_path_factory) -> Path:
    """The demo plant loaded once; servers get copies of this database."""
    from riskmap.demo import load_demo
    from riskmap.settings import Settings

    folder = tmp_path_factory.mktemp("demo-db")
    load_demo(Settings(db=f"sqlite:///{folder / 'riskmap.db'}"))
    return folder


def copy_demo(demo_db_dir: Path, target: Path) -> str:
    """A consistent copy (SQLite's backup API: the write-ahead log included)."""
    target.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(demo_db_dir / "riskmap.db") as src, sqlite3.connect(target / "riskmap.db") as dst:
        src.backup(dst)
    return f"sqlite:///{target / 'riskmap.db'}"


@pytest.fixture(scope="session")
def demo_server(demo_db_dir, tmp_path_factory):
    """The demo plant, never changed by a test."""
    server = Server(copy_demo(demo_db_dir, tmp_path_factory.mktemp("demo-served"))).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_server(demo_db_dir, tmp_path):
    """A server on a private copy of the demo, for tests that change data."""
    server = Server(copy_demo(demo_db_dir, tmp_path / "db")).start()
    yield server
    server.stop()


@dataclass
class PageLog:
    origin: str
    failed: list[str] = field(default_factory=list)          # network failures
    http_errors: list[str] = field(default_factory=list)     # responses >= 400
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)         # requests that tried to leave the server
    requests: list[str] = field(default_factory=list)

    def problems(self, moved: bool = False) -> list[str]:
        """Everything that went wrong. `moved`: the test panned or zoomed the map, and Leaflet cancels the tiles
        that left the view before they arrived (net::ERR_ABORTED on a tile URL): those are not failures."""
        failed = [f for f in self.failed
                  if not (moved and f.startswith(self.origin + "/tiles/") and f.endswith("net::ERR_ABORTED"))]
        return [*failed, *self.http_errors, *self.console_errors, *self.page_errors,
                *(f"dialog {d}" for d in self.dialogs), *(f"outside {u}" for u in self.outside)]


@pytest.fixture
def open_page(browser):
    """open_page(server, path) -> (page, log): a new tab that records everything that went wrong."""
    pages = []

    def opener(server: Server, path: str, wait_idle: bool = True):
        page = browser.new_page()
        pages.append(page)
        log = PageLog(server.origin)

        def route(r):
            url = r.request.url
            if url.startswith(server.origin + "/") or url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                log.outside.append(url)
                r.abort()

        page.route("**/*", route)
        page.on("request", lambda req: log.requests.append(req.url))
        page.on("requestfailed", lambda req: log.failed.append(f"{req.url}: {req.failure}"))
        page.on("response", lambda resp: resp.status >= 400 and log.http_errors.append(f"{resp.status} {resp.url}"))
        page.on("console", lambda msg: msg.type == "error" and log.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: log.page_errors.append(str(exc)))

        def on_dialog(dialog):
            log.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(server.origin + path, wait_until="load")
        if wait_idle and path.startswith("/map"):
            _wait_map_idle(page)
        return page, log

    yield opener
    for page in pages:
        page.close()


def _wait_map_idle(page) -> None:
    """Until the map's tile layers are all loaded and the network is quiet."""
    page.wait_for_function("window.riskmapApp && window.riskmapApp.ready", timeout=30000)
    page.evaluate("window.riskmapApp.idle()")
    page.wait_for_load_state("networkidle")


@pytest.fixture
def wait_map_idle():
    return _wait_map_idle
