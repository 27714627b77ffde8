"""Browser tests: Debian's Chromium driven by Playwright (sync API) against riskmap served by uvicorn on a free
loopback port, the demo plant in a temporary SQLite database.

Chromium, the Playwright package or the pinned web assets missing: skipped locally with the reason, a failure
when CI is set (CI must never pass by skipping). Every page records what went wrong: failed requests, HTTP
errors, console errors, page errors, dialogs, and any request that tried to leave the server (those are
aborted, as an intranet would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from liveserver import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, copy_demo
from liveserver import LiveServer as Server
from liveserver import required_client as _missing

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture(scope="session")
def demo_db_dir(tmp_path_factory) -> Path:
    """The demo plant loaded once; servers get copies of this database."""
    from riskmap.demo import load_demo
    from riskmap.settings import Settings

    folder = tmp_path_factory.mktemp("demo-db")
    load_demo(Settings(db=f"sqlite:///{folder / 'riskmap.db'}"))
    return folder


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

    # One profile for the session: a sign-in of an earlier test (its cookies, shared by every port of 127.0.0.1)
    # must not follow the next one.
    browser.clear_cookies()

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
