"""Dependencies shared by the routers: the store and the enterprise of a request."""

from __future__ import annotations

from fastapi import Query, Request

from riskmap.plant import Plant, load_plant


def get_store(request: Request):
    return request.app.state.store()


def get_plant(request: Request, enterprise: str | None = Query(None, description="企业名称 / enterprise")) -> Plant:
    return load_plant(request.app.state.store(), enterprise or request.app.state.settings.enterprise)
