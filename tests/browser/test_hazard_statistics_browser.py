"""The hazard statistics page (/hazards/statistics) on the demo plant in Chromium: at 390×844 it has no sideways
scrolling, loads nothing from elsewhere and logs no problem; its figures agree with the JSON answer."""

from __future__ import annotations


def test_the_statistics_page_on_a_phone(demo_server, open_page, tmp_path):
    page, log = open_page(demo_server, "/hazards/statistics")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    data = page.evaluate("async () => (await (await fetch('/api/hazards/statistics')).json())")
    assert data["total"] > 0 and data["open"] > 0
    assert page.locator("#fig-open b").inner_text() == str(data["open"])
    assert page.locator("#fig-overdue b").inner_text() == str(data["overdue"])
    assert page.locator("#by-month tbody tr").count() == len(data["by_month"])
    assert page.locator("#by-source tbody tr").count() == len(data["by_source"])
    page.screenshot(path=str(tmp_path / "stats-phone.png"), full_page=True)
    assert log.problems() == []
    assert all(u.startswith(demo_server.origin) for u in log.requests)
