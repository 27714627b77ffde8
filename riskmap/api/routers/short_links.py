"""Short links printed as QR codes on the risk notice cards: `/u/{unit id}`.

A QR code that holds a short URL has few modules and scans from a metre even on a small card. For now the link
sends the phone to the unit on the web map; a later phone page takes its place without reprinting any card,
which is why the route lives in a router of its own.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from riskmap.links import UNIT_LINK
from riskmap.render import webmap

MAX_UNIT_ID = 200


def make_router() -> APIRouter:
    """The unit short-link route that the cards' QR codes open: it redirects to the unit on the map."""
    router = APIRouter(tags=["map"])

    @router.get(UNIT_LINK, summary="单元短链接（告知卡二维码）/ a unit's short link (the cards' QR codes)",
                response_class=Response, status_code=307,
                responses={307: {"description": "转到该单元在地图上的页面 / to the unit's page on the map"},
                           200: {"description": "多个企业有此编号：选择页 / several enterprises: a choice",
                                 "content": {"text/html": {}}},
                           404: {"description": "没有此单元 / no such unit", "content": {"text/html": {}}}})
    def unit_short_link(request: Request,
                        unit_id: str = Path(..., min_length=1, max_length=MAX_UNIT_ID,
                                            description="单元编号 / unit id")) -> Response:
        from riskmap.api.routers.static import app_url

        store = request.app.state.store()
        configured = request.app.state.settings.enterprise
        found = store.enterprises_with_unit(unit_id)
        if configured is not None:
            found = [name for name in found if name == configured]
        favicon = app_url("favicon.svg")
        if not found:
            return HTMLResponse(webmap.message_page(
                "没有这个单元 / no such unit",
                f"当前台账中没有编号为 “{unit_id}” 的评估单元（可能已删除或改号）/ no assessment unit {unit_id!r} "
                "in the current ledger (removed or renumbered?)", [("总平面图 / plant plan", "/map")], favicon),
                status_code=404)
        links = [(name, "/map?" + urlencode({"unit": unit_id, "enterprise": name})) for name in found]
        if len(links) == 1:
            return RedirectResponse(links[0][1], status_code=307)
        return HTMLResponse(webmap.message_page("选择企业 / choose an enterprise",
                                                f"多个企业有编号为 “{unit_id}” 的单元 / several enterprises have a "
                                                f"unit {unit_id!r}:", links, favicon))

    return router
