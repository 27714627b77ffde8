"""`GET /api/drawings`: the drawings of an enterprise (the site plan, floor plans, workshop plans, schematic
drawings), each with its current layout version and the addresses of its map and tiles, so that a client can
offer a drawing switcher or add a drawing's layers (riskmap.drawings says what a drawing is)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from riskmap.api import answers
from riskmap.api.deps import resolve_tenant
from riskmap.drawings import SITE


def make_router() -> APIRouter:
    """The drawings list."""
    router = APIRouter(prefix="/api", tags=["layout"])

    @router.get("/drawings", response_model=answers.Drawings,
                summary="企业的图纸（总平面图、楼层图、车间图、示意图）/ the enterprise's drawings")
    def drawings(request: Request,
                 enterprise: str | None = Query(None, description="企业名称 / enterprise")) -> dict:
        tenant = resolve_tenant(request.app, enterprise)
        store, name = tenant.store, tenant.name
        out = []
        for d in store.drawings(name):
            info = store.layout_info(name, drawing=None if d.key == SITE else d.key) or {}
            params = {"enterprise": name} | ({} if d.key == SITE else {"drawing": d.key})
            out.append(d.to_json() | {
                "layout_version": info.get("version"), "feature_count": info.get("feature_count"),
                "source": info.get("source"),
                "links": {"map": "/map?" + urlencode(params),
                          "tilejson": "/tiles/units/tilejson.json?" + urlencode(params),
                          "features": "/ogc/collections/layout/items?" + urlencode(params)}})
        return {"enterprise": name, "drawings": out}

    return router
