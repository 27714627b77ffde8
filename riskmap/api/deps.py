"""Dependencies shared by the routers: the store, the tenant (the enterprise a request works on) and the plant.

One place resolves the enterprise of a request (`?enterprise=`, else the configured one, else the only one in the
database) and answers 404 for an unknown one; later the signed-in account and its rights join it here.

Isolation (riskmap.store.scope): `RequestScope` starts every HTTP request with a scope of no enterprise at all,
and resolving the tenant narrows it to the enterprises the request may read (`scope.ids_readable_by`), so that on
PostGIS the database itself returns no row of another enterprise, whatever a query forgot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Query, Request

from riskmap.api.permissions import PRINCIPAL_STATE
from riskmap.errors import NotFoundError
from riskmap.plant import Plant, load_plant, resolve_enterprise
from riskmap.store import scope as data_scope

if TYPE_CHECKING:
    from riskmap.store.repository import Store

ENTERPRISE_QUERY = Query(None, description="企业名称（默认：配置的或唯一的企业）/ enterprise (default: the configured "
                                           "or only one)")


@dataclass(frozen=True)
class Tenant:
    """The enterprise a request works on, checked to exist, and the store it lives in."""

    name: str
    store: Store


def get_store(request: Request) -> Store:
    """The app's store (opened on first use)."""
    return request.app.state.store()


def resolve_tenant(app: Any, enterprise: str | None, principal: Any = None) -> Tenant:
    """The tenant of an enterprise parameter: the one named, else the configured one, else the only one in the
    database; NotFoundError (404) for an enterprise that is not stored. The request's scope becomes the
    enterprises it may read (that one; a regulator's `principal` may read more: riskmap.store.scope)."""
    store = app.state.store()
    name = resolve_enterprise(store, enterprise or app.state.settings.enterprise)
    found = store.enterprise(name, create=False)
    data_scope.narrow(data_scope.ids_readable_by(int(found.id), principal))
    return Tenant(name, store)


def get_tenant(request: Request, enterprise: str | None = ENTERPRISE_QUERY) -> Tenant:
    """The route dependency of `resolve_tenant` (with the principal the permission check found, if any)."""
    principal = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    return resolve_tenant(request.app, enterprise, principal)


def may_read(request: Request, enterprise: Any) -> bool:
    """Whether a request may read that enterprise (a riskmap.domain.Enterprise) beside the one it names, as an OGC
    collection e<id>_<kind> does: anyone while reading is open, else an account of that enterprise or of the whole
    service, or one whose readable enterprises (riskmap.store.scope.ids_readable_by: a regulator's) hold it."""
    who = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if who is None:
        return not request.app.state.settings.read_requires_token
    if getattr(who, "regulator", None) is not None:      # a regulator's account: the enterprises it oversees
        from riskmap.store import orgs

        with data_scope.service():
            return orgs.in_scope(request.app.state.store(), who.regulator, enterprise.name)
    if who.enterprise is None:
        return not who.operator          # an operator's account reads no enterprise's data (riskmap.people)
    if who.enterprise == enterprise.name:
        return True
    own = request.app.state.store().enterprise(who.enterprise, create=False)
    return int(enterprise.id) in data_scope.ids_readable_by(int(own.id), who)


def enter(request: Request, enterprises: Any) -> None:
    """The request reads these enterprises (one or a list): NotFoundError for one it may not read; its scope
    becomes theirs (riskmap.store.scope), so the database returns no row of any other."""
    many = enterprises if isinstance(enterprises, list | tuple) else [enterprises]
    for ent in many:
        if not may_read(request, ent):
            raise NotFoundError("没有这个企业的数据 / no such enterprise's data")   # its name is not told
    principal = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    ids: set[int] = set()
    for ent in many:
        ids |= data_scope.ids_readable_by(int(ent.id), principal)
    data_scope.narrow(ids)


def get_plant(tenant: Tenant = Depends(get_tenant)) -> Plant:
    """The tenant's current plant (layout, units, regions)."""
    return load_plant(tenant.store, tenant.name)


# Re-entrant: a cache's maker may itself ask for another (the tiles ask for the store).
_APP_STATE_LOCK = threading.RLock()


def app_singleton(app, name: str, make: Callable[[], Any]) -> Any:
    """`app.state.<name>`, made by `make()` on first use (once, even when requests race): the app's caches live
    with the app, never at module level, so that two apps in one process never share one."""
    found = getattr(app.state, name, None)
    if found is None:
        with _APP_STATE_LOCK:
            found = getattr(app.state, name, None)
            if found is None:
                found = make()
                setattr(app.state, name, found)
    return found


class RequestScope:
    """Pure-ASGI wrapper: every HTTP request runs with its own scope, reading no enterprise until its tenant is
    resolved (riskmap.store.scope.request_scope)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        """Run the wrapped app inside a fresh request scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with data_scope.request_scope():
            await self.app(scope, receive, send)
