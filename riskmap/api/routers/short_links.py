"""Short links printed as QR codes on the risk notice cards: `/u/{unit id}`.

A QR code that holds a short URL has few modules and scans from a metre even on a small card. The link opens the
unit's phone page (riskmap.render.unitpage: level, risks, measures, emergency phone, open hazards, "report a
hazard"); the page links on to the unit on the web map. The route lives in a router of its own so that what it
opens can change without reprinting any card.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from riskmap.api.deps import resolve_tenant
from riskmap.api.permissions import PRINCIPAL_STATE
from riskmap.links import UNIT_LINK
from riskmap.render import webmap
from riskmap.store import scope as data_scope

MAX_UNIT_ID = 200


def make_router() -> APIRouter:
    """The unit short-link route that the cards' QR codes open: the unit's phone page."""
    router = APIRouter(tags=["map"])

    @router.get(UNIT_LINK, summary="单元短链接（告知卡二维码）/ a unit's short link (the cards' QR codes)",
                response_class=HTMLResponse,
                responses={200: {"description": "单元手机页；多个企业有此编号时为选择页 / the unit's phone page, or a "
                                                "choice when several enterprises have the id",
                                 "content": {"text/html": {}}},
                           404: {"description": "没有此单元 / no such unit", "content": {"text/html": {}}}})
    def unit_short_link(request: Request,
                        unit_id: str = Path(..., min_length=1, max_length=MAX_UNIT_ID,
                                            description="单元编号 / unit id"),
                        lang: str = Query("zh", pattern="^(zh|en)$", description="zh 或 en / page language"),
                        enterprise: str | None = Query(None, max_length=200,
                                                       description="企业名称 / enterprise")) -> Response:
        from riskmap.api.routers.static import app_url

        store = request.app.state.store()
        configured = request.app.state.settings.enterprise
        with data_scope.service():      # which enterprise has the unit: the service's own look-up
            found = store.enterprises_with_unit(unit_id)
        if configured is not None:
            found = [name for name in found if name == configured]
        if enterprise:
            found = [name for name in found if name == enterprise]
        favicon = app_url("favicon.svg")
        if not found:
            return HTMLResponse(webmap.message_page(
                "没有这个单元 / no such unit",
                f"当前台账中没有编号为 “{unit_id}” 的评估单元（可能已删除或改号）/ no assessment unit {unit_id!r} "
                "in the current ledger (removed or renumbered?)", [("总平面图 / plant plan", "/map")], favicon),
                status_code=404)
        if len(found) == 1:
            resolve_tenant(request.app, found[0], request.scope.get("state", {}).get(PRINCIPAL_STATE))
            return HTMLResponse(phone_page(request, store, found[0], unit_id, lang, favicon))
        links = [(name, f"/u/{quote(unit_id, safe='')}?" + urlencode({"enterprise": name, "lang": lang}))
                 for name in found]
        return HTMLResponse(webmap.message_page("选择企业 / choose an enterprise",
                                                f"多个企业有编号为 “{unit_id}” 的单元 / several enterprises have a "
                                                f"unit {unit_id!r}:", links, favicon))

    return router


def phone_page(request: Request, store, enterprise: str, unit_id: str, lang: str, favicon: str) -> str:
    """The unit's phone page: its identify answer, the palette's colour of its level, the enterprise's emergency
    phone and the unit's open hazards."""
    from riskmap.api.routers.identify import plant_index
    from riskmap.hazards.model import OPEN_STATES
    from riskmap.levels import Level, load_palette
    from riskmap.render.unitpage import unit_page
    from riskmap.store import hazards as store_hazards

    unit = plant_index(request.app, enterprise).unit_answer(unit_id)
    level = unit.get("level")
    fill = load_palette().styles[Level(level)].fill if level else None
    phone = store.enterprise(enterprise, create=False).emergency_phone
    found = store_hazards.listing(store, enterprise, unit_id=unit_id, state=[s.value for s in OPEN_STATES])
    return unit_page(enterprise=enterprise, unit=unit, phone=phone, hazards=found, lang=lang, fill=fill,
                     favicon=favicon)
