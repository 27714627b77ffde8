"""The HTTP service: `create_app(settings)` builds everything; nothing happens at import."""

from __future__ import annotations

from fastapi import Depends, FastAPI

import riskmap
from riskmap.api import auth
from riskmap.api.access_log import RegulatorAudit
from riskmap.api.auth import ReadGate
from riskmap.api.deps import RequestScope, app_singleton
from riskmap.api.errors import install_error_handlers
from riskmap.api.guard import RequestGuard, policies_of
from riskmap.api.headers import SecurityHeaders
from riskmap.api.openapi import document
from riskmap.api.permissions import READ, require, route_permissions
from riskmap.api.routers import (
    accounts,
    admin,
    drawings,
    hazard_statistics,
    hazards,
    health,
    history,
    identify,
    inspections,
    layout_edit,
    ogc,
    ogc_edit,
    ogc_hazards,
    ogc_overview,
    ogc_tiles,
    orgs,
    overview,
    plant,
    prints,
    revise,
    short_links,
    signin,
    static,
    styles,
    tiles,
    units,
    webmap,
    wmts,
)
from riskmap.api.transport import install_transport
from riskmap.settings import Settings


def _store_factory(app: FastAPI, url: str):
    """Open the store on first use (migrations run once), then reuse it."""
    from riskmap.store import open_store

    return lambda: app_singleton(app, "store_instance", lambda: open_store(url))


# The routers, in the order their routes are matched.
ROUTER_MODULES = (health, plant, ogc, ogc_tiles, ogc_hazards, ogc_edit, layout_edit, auth, static, webmap, identify,
                  tiles, units, prints, history, revise, short_links, wmts, styles, accounts, signin, drawings,
                  inspections, hazard_statistics, hazards, orgs, overview,
                  ogc_overview, admin)
# Routers with no data in them (the health check, the static files and API pages, who-am-I, the sign-in page).
OPEN_MODULES = (health, static, auth, signin)
# Routers every route of which names a right of its own other than reading: the operator's (an operator's account
# holds no "read": it reads no enterprise's data, riskmap.people) and the regulators' access records.
OWN_RIGHT_MODULES = (admin,)


def create_app(settings: Settings | None = None, *, fast_tiles: bool = True) -> FastAPI:
    """The service; `fast_tiles=False` leaves out the cached-tile fast path (tests compare the two)."""
    settings = settings or Settings()
    app = FastAPI(
        title="riskmap 四色安全风险分布图",
        version=riskmap.__version__,
        description="四色安全风险空间分布图服务 / four-colour safety risk map service",
        docs_url=None,    # /docs and /redoc are served from pinned local assets (routers/static.py), never a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = _store_factory(app, settings.db)
    install_error_handlers(app)
    routes, reading = [], []
    for module in ROUTER_MODULES:
        router = module.make_router()
        routes += router.routes
        # Every route needs "read" at least (open unless the settings close reading), but those with no data.
        if module in OPEN_MODULES or module in OWN_RIGHT_MODULES:
            app.include_router(router)
        else:
            app.include_router(router, dependencies=[Depends(require(READ))])
            reading += router.routes
    app.state.route_permissions = route_permissions(routes, reading)
    # Cached tiles and 304s are answered before routing: the same answers, several times the throughput.
    if fast_tiles:
        tiles.install_fast_path(app)
    if settings.read_requires_token:     # ahead of the tile fast path
        app.add_middleware(ReadGate)
    # The token of a write and the size of any body are checked before a byte of the body is read.
    policies = policies_of(routes)
    app.add_middleware(RequestGuard, policies=policies, json_limit=settings.max_body_bytes,
                       upload_limit=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders)    # on every answer, the guard's and the read gate's refusals included
    document(app, policies=policies, read_closed=settings.read_requires_token, open_paths=auth.OPEN_PATHS)
    install_transport(app, settings)     # CORS, HEAD, compression
    app.add_middleware(RegulatorAudit)     # a regulator's requests into enterprise data, recorded after the answer
    # Outermost: each request reads no enterprise until its tenant is resolved (riskmap.store.scope).
    app.add_middleware(RequestScope)
    return app
