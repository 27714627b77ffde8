"""With reading closed (RISKMAP_READ_REQUIRES_TOKEN), a wall screen opens /map?access_token=… and the whole page
works: its tiles, TileJSONs and popups pass on the HttpOnly cookie the page set, with no failed request."""

from __future__ import annotations

from liveserver import LiveServer as Server
from liveserver import copy_demo

from riskmap.store import open_store, tokens


def test_map_with_an_access_token_loads_everything_when_reading_is_closed(demo_db_dir, tmp_path, open_page):
    db = copy_demo(demo_db_dir, tmp_path / "db")
    store = open_store(db)
    reader, _ = tokens.create_token(store, "reader", "大屏")
    store.close()
    server = Server(db, read_requires_token=True).start()
    try:
        page, log = open_page(server, f"/map?access_token={reader}")
        tiles = [u for u in log.requests if "/tiles/" in u and ".png" in u]
        assert tiles, "the map fetched no tiles"
        assert log.problems() == []
        assert page.evaluate("document.cookie") == ""          # HttpOnly: page scripts never see the token
        api = page.context.request                              # the page's cookie jar, no header
        assert api.get(server.origin + "/ogc/collections").status == 200
        # The cookie lets reads through only: a change needs a token in the header or a signed-in session.
        write = api.patch(server.origin + "/api/units/CY-01-02", data={"override": None})
        assert write.status == 403
    finally:
        server.stop()
