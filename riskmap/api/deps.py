"""Dependencies shared by the routers: the store and the enterprise of a request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi import Query, Request

from riskmap.plant import Plant, load_plant


def get_store(request: Request):
    return request.app.state.store()


def get_plant(request: Request, enterprise: str | None = Query(None, description="企业名称 / enterprise")) -> Plant:
    return load_plant(request.app.state.store(), enterprise or request.app.state.settings.enterprise)


_APP_STATE_LOCK = threading.Lock()


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
