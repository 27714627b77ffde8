"""Dependencies shared by the routers: the store, the tenant (the enterprise a request works on) and the plant.

One place resolves the enterprise of a request (`?enterprise=`, else the configured one, else the only one in the
database) and answers 404 for an unknown one; later the signed-in account and its rights join it here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Query, Request

from riskmap.plant import Plant, load_plant, resolve_enterprise

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


def resolve_tenant(app: Any, enterprise: str | None) -> Tenant:
    """The tenant of an enterprise parameter: the one named, else the configured one, else the only one in the
    database; NotFoundError (404) for an enterprise that is not stored."""
    store = app.state.store()
    name = resolve_enterprise(store, enterprise or app.state.settings.enterprise)
    store.enterprise(name, create=False)
    return Tenant(name, store)


def get_tenant(request: Request, enterprise: str | None = ENTERPRISE_QUERY) -> Tenant:
    """The route dependency of `resolve_tenant`."""
    return resolve_tenant(request.app, enterprise)


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
