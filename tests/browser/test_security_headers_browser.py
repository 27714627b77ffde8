"""The pages' security headers in Chromium: each page is sent with a Content-Security-Policy, X-Frame-Options and
Referrer-Policy, and still works under them: no policy violation reported by the browser, no console error, the
map and the editor start, the API documentation renders; a page may not be framed.

The other browser tests run with the policy bypassed (Playwright's wait_for_function evaluates its predicate with
eval, which the policy rightly forbids); these run in a context of their own that enforces it, and wait on the
DOM instead.
"""

from __future__ import annotations

import pytest
from liveserver import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

# Collects what the browser reports as blocked by the page's policy (before any page script runs).
CATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || ''));
});
"""
# A DOM sign that the page has started, and a script-side one where the page has it.
READY = {
    "/map": (".riskmap-legend-row", "() => window.riskmapApp.ready.then(() => true)"),
    "/edit": (".editor-status", "() => window.riskEditor.ready.then(() => true)"),
    "/docs": (".swagger-ui .info .title", None),
    "/redoc": ("h1", None),
}


@pytest.fixture(scope="module")
def strict_context(playwright_api):
    """A Chromium context that enforces the pages' policies (the shared one bypasses them)."""
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.add_init_script(CATCH_VIOLATIONS)
    yield context
    context.close()
    browser.close()


def _open(context, server, path):
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("requestfailed", lambda req: problems.append(f"{req.url}: {req.failure}"))
    response = page.goto(server.origin + path, wait_until="load")
    return page, response, problems


@pytest.mark.parametrize("path", list(READY))
def test_page_works_under_its_content_security_policy(demo_server, strict_context, path):
    page, response, problems = _open(strict_context, demo_server, path)
    try:
        selector, started = READY[path]
        page.wait_for_selector(selector, timeout=30000)
        page.wait_for_load_state("networkidle")
        if started:
            assert page.evaluate(started) is True          # the page's start-up promise resolved
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]    # scripts: files and hashes
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert page.evaluate("window.__violations") == []
        assert problems == []
    finally:
        page.close()


def test_a_page_cannot_be_framed(demo_server, strict_context):
    """A page framing /map gets an empty frame, and the browser says why."""
    page, _, problems = _open(strict_context, demo_server, "/healthz")
    try:
        page.set_content(f'<iframe id="f" src="{demo_server.origin}/map" width="400" height="300"></iframe>')
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        assert any("frame-ancestors" in p or "X-Frame-Options" in p for p in problems), problems
        assert page.frame_locator("#f").locator(".leaflet-container").count() == 0
    finally:
        page.close()
