"""The regulator's overview (监管端总览): `/overview` (a Leaflet page of the enterprises in scope, coloured by their
highest region level, with a sortable table and filters), its data `/api/overview`, the statistics of a division
`/api/overview/statistics`, their Excel export `/api/overview/export.xlsx`, and the enterprises as PNG and vector
tiles `/api/overview/tiles/{z}/{x}/{y}.png|.mvt` (layers/enterprises.yaml).

Everything but the page needs "oversee" (riskmap.people: the regulator roles): the enterprises answered are the
regulator's scope (riskmap.store.orgs.scope_with_state), never more. The inspection completion of the last 30 days is
worked out per enterprise (riskmap.store.orgs.inspection_completion) and kept per enterprise, data version and ten
minutes.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from riskmap import clock
from riskmap.api.deps import app_singleton
from riskmap.api.permissions import require
from riskmap.api.routers.static import app_url, vendor_assets
from riskmap.errors import ForbiddenError, InputError
from riskmap.levels import LEVELS_HIGH_TO_LOW, load_palette
from riskmap.orgs import divisions
from riskmap.orgs.excel import overview_workbook
from riskmap.people import Principal
from riskmap.render.overview import enterprise_points, overview_mvt, overview_png
from riskmap.render.webmap import json_for_script
from riskmap.store import orgs
from riskmap.store import scope as data_scope

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MVT = "application/vnd.mapbox-vector-tile"
LevelName = Literal["major", "significant", "general", "low"]
_ERRORS = {401: {"description": "需要登录或令牌 / sign-in or a token is required"},
           403: {"description": "只有监管账户可以查看 / only a regulator's account looks across enterprises"},
           404: {"description": "行政区划或园区不存在 / no such division or park"},
           422: {"description": "参数有误 / a bad parameter"}}
OVERSEE = Depends(require("oversee"))
DIVISION = Query(None, min_length=6, max_length=6, pattern=r"^\d{6}$",
                 description="行政区划代码，含下级（GB/T 2260）/ a division code, sub-divisions included")


class OverviewRow(BaseModel):
    """One enterprise of the scope: its profile and counts."""

    id: int
    name: str
    credit_code: str | None = None
    hazchem_code: str | None = None
    industry: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    division_code: str | None = None
    division: str | None = None
    park: str | None = None
    highest_level: str | None = Field(None, description="最高区域风险等级 / highest region level")
    major_risks: int
    significant_risks: int
    open_general_hazards: int
    open_major_hazards: int
    overdue_general_hazards: int
    overdue_major_hazards: int
    checks_30d: int = Field(..., description="近 30 天排查记录数 / check records of the last 30 days")
    late_checks_30d: int
    inspection_completion: float | None = Field(None, description="近 30 天排查完成率 0–1 / completion")
    listed_supervisions: int
    map_url: str = Field(..., description="企业的只读地图 / the enterprise's map")


class Statistics(BaseModel):
    """Totals of the enterprises answered."""

    enterprises: int
    by_level: dict[str, int]
    major_risks: int
    significant_risks: int
    open_general_hazards: int
    open_major_hazards: int
    overdue_general_hazards: int
    overdue_major_hazards: int
    checks_30d: int
    late_checks_30d: int
    listed_supervisions: int


class LegendEntry(BaseModel):
    """A level and the colour it is drawn in (layers/levels.yaml)."""

    level: str
    zh: str
    colour: str


class Overview(BaseModel):
    """GET /api/overview."""

    regulator: str
    scope: str
    legend: list[LegendEntry]
    statistics: Statistics
    enterprises: list[OverviewRow]


class StatisticsAnswer(BaseModel):
    """GET /api/overview/statistics."""

    regulator: str
    division: str | None
    statistics: Statistics


def _regulator(who: Principal | None) -> str:
    if who is None or who.regulator is None:
        raise ForbiddenError("只有监管账户可以查看总览 / only a regulator's account has an overview")
    return who.regulator


def _completion(request: Request):
    """completion(name, data_version) with a cache per (enterprise, data version, ten minutes): a record bumps the
    version; a window that closes unchecked turns missed with time only, so an answer is kept ten minutes at most."""
    app = request.app
    store = app.state.store()
    cache = app_singleton(app, "overview_completion", dict)
    lock = app_singleton(app, "overview_completion_lock", threading.Lock)
    slot = int(time.time() // 600)

    def completion(name: str, version: int) -> float | None:
        key = (name, version, slot)
        with lock:
            if key in cache:
                return cache[key]
        value = orgs.inspection_completion(store, name)
        with lock:
            if len(cache) > 20000:
                cache.clear()
            cache[key] = value
        return value

    return completion


def _found(request: Request, who: Principal | None, completion: bool = True, **filters) -> tuple[str, tuple, list]:
    """The overview rows of the principal's regulator, kept per (regulator, filters, scope state): a tile or a second
    look at the page reads them from memory until an enterprise of the scope writes (its data version) or the day
    changes (and, with the inspection completion, ten minutes pass). (regulator, cache key, rows: not to change)."""
    regulator = _regulator(who)
    store = request.app.state.store()
    with data_scope.service():              # which enterprises the regulator oversees is read across them
        ids, state = orgs.scope_with_state(store, regulator)
    data_scope.narrow(ids)                  # and the request reads those, on PostGIS enforced by the database
    cache = app_singleton(request.app, "overview_rows", dict)
    lock = app_singleton(request.app, "overview_rows_lock", threading.Lock)
    slot = int(time.time() // 600) if completion else None
    key = (regulator, slot, tuple(sorted(filters.items())), state)
    with lock:
        found = cache.get(key)
    if found is None:
        found = orgs.overview(store, ids, completion=_completion(request) if completion else None, **filters)
        with lock:
            if len(cache) > 256:
                cache.clear()
            cache[key] = found
    return regulator, key, found


def overview_rows(request: Request, who: Principal | None, completion: bool = True,
                  **filters) -> tuple[str, list[dict]]:
    """The overview rows (copies) with the link to each enterprise's map: what /api/overview, its export and the
    OGC collection `enterprises` (riskmap.api.routers.ogc_overview) answer."""
    regulator, _, found = _found(request, who, completion, **filters)
    base = str(request.url_for("map_page")) + "?"
    return regulator, [{**r, "map_url": base + urlencode({"enterprise": r["name"]})} for r in found]


def _points(request: Request, who: Principal | None, division: str | None):
    """The enterprises as points in EPSG:3857 for the tiles, kept with the rows they were made from."""
    _, key, found = _found(request, who, completion=False, division=division)
    cache = app_singleton(request.app, "overview_points", dict)
    lock = app_singleton(request.app, "overview_rows_lock", threading.Lock)
    with lock:
        points = cache.get(key)
    if points is None:
        points = enterprise_points(found)
        with lock:
            if len(cache) > 64:
                cache.clear()
            cache[key] = points
    return points


def _legend() -> list[dict]:
    palette = load_palette()
    return [{"level": lv.value, "zh": lv.zh, "colour": palette.colour(lv)} for lv in LEVELS_HIGH_TO_LOW]


def make_router() -> APIRouter:
    """The overview page and its data."""
    router = APIRouter(tags=["overview"], responses=_ERRORS)

    @router.get("/api/overview", summary="监管总览：辖区企业及统计 / the enterprises of the scope and their counts",
                response_model=Overview)
    async def overview(request: Request, who: Principal = OVERSEE, division: str | None = DIVISION,
                       park: str | None = Query(None, max_length=200, description="园区 / park"),
                       industry: str | None = Query(None, max_length=200, description="行业 / industry"),
                       level: LevelName | None = Query(None, description="最高风险等级 / highest level"),
                       overdue: bool = Query(False, description="只看有超期隐患的 / only with overdue hazards")
                       ) -> dict:
        def work() -> dict:
            regulator, rows = overview_rows(request, who, division=division, park=park, industry=industry, level=level,
                                    overdue=overdue)
            info = orgs.regulator(request.app.state.store(), regulator)
            scope = info["division"] or info["park"] or ""
            return {"regulator": regulator, "scope": scope, "legend": _legend(),
                    "statistics": orgs.statistics(rows), "enterprises": rows}

        return await run_in_threadpool(work)

    @router.get("/api/overview/statistics", summary="辖区统计 / the statistics of a division",
                response_model=StatisticsAnswer)
    async def statistics(request: Request, who: Principal = OVERSEE, division: str | None = DIVISION) -> dict:
        def work() -> dict:
            regulator, rows = overview_rows(request, who, division=division)
            return {"regulator": regulator, "division": division, "statistics": orgs.statistics(rows)}

        return await run_in_threadpool(work)

    @router.get("/api/overview/export.xlsx", summary="辖区统计导出 Excel / the statistics of a division as Excel",
                response_class=Response,
                responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                                 "description": "Excel 工作簿 / an Excel workbook"}})
    async def export(request: Request, who: Principal = OVERSEE, division: str | None = DIVISION) -> Response:
        def work() -> bytes:
            regulator, rows = overview_rows(request, who, division=division)
            where = divisions.full_name(division) if division else regulator
            title = f"{where} 企业风险与隐患统计（{clock.today().isoformat()}）"
            return overview_workbook(rows, orgs.statistics(rows), title)

        body = await run_in_threadpool(work)
        name = f"overview-{division or 'all'}.xlsx"
        return Response(body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    def tile_points(request: Request, who: Principal | None, z: int, x: int, y: int, division: str | None):
        if x >= 2 ** z or y >= 2 ** z:
            raise InputError(f"瓦片 {z}/{x}/{y} 不存在（x、y 应小于 2^z）/ no tile {z}/{x}/{y} (x and y below 2^z)")
        return _points(request, who, division)

    tile_doc = "辖区企业瓦片（按最高风险等级着色）/ a tile of the enterprises of the scope"

    @router.get("/api/overview/tiles/{z}/{x}/{y}.png", summary=tile_doc, response_class=Response,
                responses={200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                                 "description": "PNG 瓦片 / a PNG tile"}})
    async def overview_tile_png(request: Request, who: Principal = OVERSEE, division: str | None = DIVISION,
                                z: int = Path(..., ge=0, le=24, description="缩放级别 / zoom"),
                                x: int = Path(..., ge=0, le=2 ** 24 - 1), y: int = Path(..., ge=0, le=2 ** 24 - 1),
                                scale: int = Query(1, ge=1, le=4, description="1 或 2（@2x）/ pixel ratio")
                                ) -> Response:
        def work() -> bytes:
            return overview_png(tile_points(request, who, z, x, y, division), (z, x, y), scale=scale)

        return Response(await run_in_threadpool(work), media_type="image/png",
                        headers={"Cache-Control": "private, no-cache"})

    @router.get("/api/overview/tiles/{z}/{x}/{y}.mvt", summary=tile_doc, response_class=Response,
                responses={200: {"content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
                                 "description": "矢量瓦片，图层 enterprises / a vector tile, layer enterprises"}})
    async def overview_tile_mvt(request: Request, who: Principal = OVERSEE, division: str | None = DIVISION,
                                z: int = Path(..., ge=0, le=24, description="缩放级别 / zoom"),
                                x: int = Path(..., ge=0, le=2 ** 24 - 1),
                                y: int = Path(..., ge=0, le=2 ** 24 - 1)) -> Response:
        def work() -> bytes:
            return overview_mvt(tile_points(request, who, z, x, y, division), (z, x, y))

        return Response(await run_in_threadpool(work), media_type=MVT,
                        headers={"Cache-Control": "private, no-cache"})

    @router.get("/overview", response_class=HTMLResponse, summary="监管总览网页 / the regulator's overview page",
                responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}})
    def overview_page(request: Request, lang: Literal["zh", "en"] = Query("zh")) -> HTMLResponse:
        assets = vendor_assets()
        config = {"api": "/api/overview", "statistics": "/api/overview/statistics",
                  "export": "/api/overview/export.xlsx", "whoami": "/api/auth/me", "login": "/login?next=/overview",
                  "lang": lang, "legend": _legend()}
        page = f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>监管总览 · 四色安全风险 / regulator's overview</title>
<link rel="icon" href="{html.escape(app_url('favicon.svg'))}" type="image/svg+xml">
<link rel="stylesheet" href="{html.escape(assets.url('leaflet', 'dist/leaflet.css'))}">
<link rel="stylesheet" href="{html.escape(app_url('overview.css'))}">
</head><body>
<header><h1>监管总览 <small>regulator's overview</small></h1><span id="scope"></span>
<a id="export" href="#">导出 Excel / export</a></header>
<form id="filters">
<label>行政区划 <select name="division"><option value="">全部 / all</option></select></label>
<label>园区 <select name="park"><option value="">全部 / all</option></select></label>
<label>行业 <select name="industry"><option value="">全部 / all</option></select></label>
<label>最高等级 <select name="level"><option value="">全部 / all</option></select></label>
<label><input type="checkbox" name="overdue" value="true"> 有超期隐患 / overdue</label>
</form>
<main><div id="map"></div><section id="side"><div id="stats"></div>
<table id="table"><thead></thead><tbody></tbody></table></section></main>
<p id="message" hidden></p>
<script type="application/json" id="overview-config">{json_for_script(config)}</script>
<script src="{html.escape(assets.url('leaflet', 'dist/leaflet.js'))}"></script>
<script src="{html.escape(app_url('overview.js'))}"></script>
</body></html>"""
        return HTMLResponse(page)

    return router

