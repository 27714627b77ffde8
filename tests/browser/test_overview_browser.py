"""The regulator's overview in Chromium: without signing in it says to sign in; signed in as the demo's regulator
it draws the demo enterprise in the colour of its highest level (the legend's), fills the table, sorts it, opens
the popup with the counts and links to the enterprise's map; nothing leaves the server."""

from __future__ import annotations

from riskmap.demo import DEMO_PASSWORD, DEMO_REGULATOR_LOGIN


def test_overview_signed_out_and_in(demo_server, open_page):
    page, log = open_page(demo_server, "/overview", wait_idle=False)
    page.wait_for_selector("body[data-loaded]", timeout=30000)
    assert "sign in" in page.locator("#message").inner_text()
    assert log.outside == [] and any("/api/overview" in e and e.startswith("401") for e in log.http_errors)

    page.goto(demo_server.origin + "/login?next=/overview", wait_until="load")
    page.fill("#login", DEMO_REGULATOR_LOGIN)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(demo_server.origin + "/overview", timeout=30000)
    page.wait_for_selector("body[data-loaded='1']", timeout=60000)
    legend = page.evaluate("JSON.parse(document.getElementById('overview-config').textContent).legend")
    red = next(e["colour"] for e in legend if e["level"] == "major")
    fill = page.locator("path.leaflet-interactive").first.get_attribute("fill")
    assert fill.lower() == red.lower()                                   # drawn in the legend's colour
    rows = page.locator("#table tbody tr")
    assert rows.count() == 1 and "江苏示范化工" in rows.first.inner_text()
    page.locator("#table th[data-key='major_risks']").click()
    assert "sorted" in page.locator("#table th[data-key='major_risks']").get_attribute("class")
    page.locator("path.leaflet-interactive").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    assert "重大风险 / major risks" in popup.inner_text() and "近30天排查完成率" in popup.inner_text()
    href = popup.locator("a").get_attribute("href")
    assert "/map?enterprise=" in href
    assert log.outside == [] and not log.page_errors
    assert [e for e in log.console_errors if "401" not in e] == []          # the signed-out fetch only
