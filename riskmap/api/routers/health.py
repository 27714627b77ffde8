"""Liveness and version."""

from __future__ import annotations

from fastapi import APIRouter, Request

import riskmap
from riskmap.api import answers


def make_router() -> APIRouter:
    """The /healthz route: liveness for monitors, with the version and the backend in use."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=answers.Health, summary="服务状态 / liveness")
    def healthz(request: Request) -> dict:
        store = request.app.state.store()
        return {"status": "ok", "version": riskmap.__version__, "backend": store.backend}

    return router
