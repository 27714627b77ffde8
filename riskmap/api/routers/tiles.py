"""XYZ tiles of the four-colour map (PNG @1x/@2x, MVT) with TileJSON, and the optional raster basemap.

Caching contract (never a stale colour):
- `?v=N` with N the enterprise's current data version: `Cache-Control: public, max-age=31536000, immutable`, so a
  front cache (nginx `proxy_cache`, deploy/nginx.conf; a CDN) may keep it for good; `private` instead while
  reading needs a token (settings.read_requires_token): a shared cache must never hand a tile to someone who
  could not read it.
- `?v=` anything else (an old version): 302 to the same URL with the current version, `Cache-Control: no-store`;
  the browser then fetches content that is current, never the old one. (Within a second of an edit made through
  another process, a process that found N current answers `?v=N` with that version's own tile, as a front cache
  does: see TileFastPath.)
- no `v`: a strong ETag from enterprise, version, tile, format and style, `Cache-Control: no-cache`;
  `If-None-Match` with it gives 304.
Empty tiles are ordinary 200 responses: a fully transparent PNG, or an MVT of zero bytes (Leaflet and MapLibre
both take them). Tiles outside the grid, unknown layers and unknown enterprises are 404 with a Chinese message.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Literal, NamedTuple
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool

from riskmap.api import answers
from riskmap.api.access_log import may_be_a_regulator, raw_credentials
from riskmap.api.conditional import none_match
from riskmap.api.deps import app_singleton
from riskmap.api.tilework import TileWork
from riskmap.drawings import requested
from riskmap.errors import InputError, NotFoundError, RiskmapError
from riskmap.render.grid import MAX_ZOOM, TileView, tile_view
from riskmap.store import scope as data_scope

MVT_TYPE = "application/vnd.mapbox-vector-tile"
IMMUTABLE = "public, max-age=31536000, immutable"
IMMUTABLE_PRIVATE = "private, max-age=31536000, immutable"


def immutable(settings: Any) -> str:
    """The Cache-Control of a tile that never changes: shared caches may keep it only while anyone may read."""
    return IMMUTABLE_PRIVATE if getattr(settings, "read_requires_token", False) else IMMUTABLE
LAYER_TITLES = {
    "regions": ("区域风险", "各生产区域按区域内最高风险等级着色（红橙黄蓝）/ production regions coloured by "
                            "region risk"),
    "units": ("评估单元", "评估单元按风险等级着色 / assessment units coloured by their risk level"),
    "layout": ("总平面布置", "总平面布置图（建筑、设备、道路、围墙）/ plant layout outlines"),
    "basemap": ("底图", "地理配准的底图（图纸或航拍影像）/ georeferenced raster basemap"),
    "labels": ("标注", "区域、单元和布置图要素的名称（可单独开关）/ names of regions, units and layout features, "
                       "switchable on their own"),
    "staleness": ("评估时效", "评估单元按距上次评估的天数着色，需复评的单元加框和斜线 / assessment units by days since "
                              "their last assessment; units flagged for re-assessment outlined and hatched"),
    "coverage": ("排查覆盖", "评估单元按所选时段（今天、本周、本月）排查的完成情况着色，巡检点为点（不用风险色）/ "
                             "assessment units by the state of their checks in a window (today, week, month), "
                             "checkpoints as points (never in risk colours)"),
    "hazards": ("隐患", "隐患点位：菱形为重大隐患、圆形为一般隐患，品红为未整改、白色为待验收、灰色为已验收，"
                        "黑圈为超期；低缩放级别聚合 / hidden hazards: diamond major, circle general; magenta open, "
                        "white awaiting acceptance, grey accepted; a black ring when overdue; clustered at low zoom"),
}
DATA_LAYERS = ("regions", "units", "layout", "labels", "staleness", "coverage", "hazards")
HAZARDS = "hazards"
BASEMAP = "basemap"


class TileSettings(BaseSettings):
    """Tile settings (RISKMAP_TILE_CACHE_MB, RISKMAP_BASEMAP); built in the app, never at import."""

    model_config = SettingsConfigDict(env_prefix="RISKMAP_", extra="ignore")

    tile_cache_mb: float = 256.0
    basemap: str | None = None        # a GeoTIFF, or a folder holding <enterprise name>.tif per enterprise


_TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    302: {"description": "旧版本号：转到当前版本 / old version: redirect to the current one"},
    400: {"description": "时刻 at 有误（非 ISO 8601、早于 1990 年或在未来）/ bad `at` moment"},
    304: {"description": "未修改 / not modified (If-None-Match)"},
    404: {"description": "瓦片、图层或企业不存在 / no such tile, layer or enterprise"},
    422: {"description": "参数有误（v、hatch、labels，或有多个企业而未指定）/ bad v, hatch or labels, or several "
                         "enterprises and none named"},
}


def _png_responses() -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"image/png": {}}, "description": "PNG 瓦片 / PNG tile"}, **_TILE_RESPONSES}


def _mvt_responses() -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {MVT_TYPE: {}},
                  "description": "矢量瓦片（空瓦片为 0 字节）/ vector tile (empty = 0 bytes)"}, **_TILE_RESPONSES}


class _Tiles:
    """The per-app tile machinery, made on first use (the store is opened lazily too)."""

    def __init__(self, app):
        from riskmap.render.raster import open_basemap
        from riskmap.render.tilecache import TileCache, TileService

        self.settings = app.state.settings
        self.tile_settings = TileSettings()
        cache = TileCache(int(self.tile_settings.tile_cache_mb * 1024 * 1024))
        read_store = None
        if self.settings.read_database_url:
            from riskmap.store import open_store

            read_store = app_singleton(app, "read_store_instance",
                                       lambda: open_store(self.settings.read_database_url, create=False))
        self.service = TileService(app.state.store(), cache, default_enterprise=self.settings.enterprise,
                                   read_store=read_store)
        from riskmap.render.hazardtiles import HazardTiles

        self.hazards = HazardTiles(self.service)
        self.work = TileWork()        # map updates and renders: once for all who ask, in threads of their own
        self.answers: dict[tuple, Any] = {}    # the fast path's versioned tiles by address (_Known)
        self.basemap_path = self.tile_settings.basemap
        self._basemaps: dict[str, Any] = {}
        self._open_basemap = open_basemap

    def basemap(self, enterprise: str | None):
        """The basemap of an enterprise: the one file configured, or `<enterprise name>.tif` in the folder."""
        from pathlib import Path

        if not self.basemap_path:
            raise NotFoundError("未配置底图（设置 RISKMAP_BASEMAP）/ no basemap configured (set RISKMAP_BASEMAP)")
        path = Path(self.basemap_path)
        if path.is_dir():
            if not enterprise:
                enterprise = self.service.resolve(None)[1]
            candidates = [p for p in path.glob("*.tif*") if p.stem == enterprise]
            if not candidates:
                raise NotFoundError(f"企业 “{enterprise}” 没有底图 / no basemap for enterprise {enterprise!r}")
            path = candidates[0]
        key = str(path)
        if key not in self._basemaps:
            self._basemaps[key] = self._open_basemap(path)
        return self._basemaps[key]


def tiles_of(request: Request) -> _Tiles:
    """The app's tile service and caches (made on first use)."""
    return app_singleton(request.app, "tiles", lambda: _Tiles(request.app))


def _check_layer(layer: str) -> None:
    if layer not in DATA_LAYERS and layer != BASEMAP:
        raise NotFoundError(f"没有名为 “{layer[:60]}” 的瓦片图层，可选：{'、'.join((*DATA_LAYERS, BASEMAP))} / "
                            f"no tile layer {layer[:60]!r}")


def _base_url(request: Request) -> str:
    """The public base URL: RISKMAP_BASE_URL, else forwarded headers from trusted proxies, else the request's."""
    from riskmap.api.public_url import public_base_url

    return public_base_url(request)


def _with_version(request: Request, version: Any) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "v"]
    params.append(("v", str(version)))
    return f"{request.url.path}?{urlencode(params)}"


def _moved(request: Request, version: Any) -> Response:
    """The redirect of a tile asked for with another data version than the current one."""
    return RedirectResponse(_with_version(request, version), status_code=302, headers={"Cache-Control": "no-store"})


def _revalidate(request: Request, version: Any, etag: str, v: int | str | None,
                fixed: bool = True) -> tuple[Response | None, dict]:
    """The caching contract of the module docstring: a redirect or a 304 to send at once, else the headers of
    the 200 response. `fixed` False: a tile that may change at the same data version (the coverage layer: its
    states move when a window opens or closes and when a recomputation in the background is done), revalidated by
    its ETag even with `v`, never immutable."""
    if v is not None and str(v) != str(version):
        return _moved(request, version), {}
    if (v is None or not fixed) and none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"}), {}
    return None, {"ETag": etag,
                  "Cache-Control": immutable(request.app.state.settings) if v is not None and fixed else "no-cache"}


def _moment(request: Request):
    """`?at=` as an aware UTC datetime (ISO 8601; without an offset Beijing time), None without it; bad → 400."""
    from riskmap.api.routers.ogc import parse_at

    return parse_at(request.query_params.get("at"))


async def _tile(request: Request, layer: str, z: str, x: str, y: str, fmt: str, *, scale: int = 1,
                enterprise: str | None = None, v: str | None = None, hatch: bool = False, labels: bool = True,
                flagged: bool = False, sources: str | None = None, drawing: str | None = None,
                window: str | None = None) -> Response:
    from riskmap.render.tilecache import COVERAGE, check_tile, etag_for

    _check_layer(layer)
    drawing = requested(drawing)
    view = tile_view(z, x, y) if drawing is None else None
    tiles = tiles_of(request)
    if layer == HAZARDS:
        if drawing is not None:
            raise NotFoundError("隐患图层只属于总平面布置图 / the hazards layer belongs to the site plan")
        return await _hazard_tile(request, tiles, view, fmt, scale, enterprise, v)
    if layer == BASEMAP:
        if drawing is not None:
            raise NotFoundError("底图只属于总平面布置图 / the basemap belongs to the site plan")
        return await _basemap_tile(request, tiles, view, fmt, scale, enterprise, v)
    if v is not None:
        try:
            v = str(int(v))
        except ValueError:
            raise InputError(f"版本号 v 应为整数，而不是 “{v[:20]}” / v must be an integer") from None
    service = tiles.service
    moment = _moment(request)
    if drawing is not None:                                   # a floor plan, workshop plan or schematic drawing
        data = await run_in_threadpool(service.drawing, enterprise, drawing, moment)
        view = drawing_view(data.drawing, z, x, y)
    elif moment is not None:                                  # a past state: immutable, `v` does not apply
        data = await run_in_threadpool(service.past, enterprise, moment)
    else:
        data, ent_id, name, version = service.check(enterprise)       # the per-request version check
        if v is not None and v != str(version):        # an old version: sent on, with no need of the new map
            check_tile(layer, fmt)
            return _moved(request, version)
        if data is None:
            data = await tiles.work.update(service, ent_id, name, version)
    if layer == COVERAGE:              # its key may need the coverage brought up to date: a read, off the loop
        key = await run_in_threadpool(service.key, data, layer, fmt, view, scale, hatch, labels, flagged, sources,
                                      window)
    else:
        key = service.key(data, layer, fmt, view, scale, hatch, labels, flagged, sources, window)
    etag = etag_for(data, key)
    if moment is not None:
        headers = {"ETag": etag, "Cache-Control": immutable(request.app.state.settings)}
        if none_match(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
    else:
        early, headers = _revalidate(request, data.version, etag, v, fixed=layer != COVERAGE)
        if early is not None:
            return early
    body = service.cached(key, data)
    if body is None:
        body = await tiles.work.render(service, key, data, view)
    return Response(body, media_type="image/png" if fmt == "png" else MVT_TYPE, headers=headers)


async def _hazard_tile(request: Request, tiles: _Tiles, view: TileView, fmt: str, scale: int,
                       enterprise: str | None, v: str | None) -> Response:
    """A hazards tile: filters from the query, the caching contract of the module docstring (the data version
    moves with every hazard write)."""
    from riskmap.render.hazardtiles import parse_filters

    filters = parse_filters(request.query_params, _moment(request))
    if v is not None:
        try:
            v = str(int(v))
        except ValueError:
            raise InputError(f"版本号 v 应为整数，而不是 “{v[:20]}” / v must be an integer") from None
    hazards = tiles.hazards
    data = await run_in_threadpool(hazards.data, enterprise, filters)
    key = hazards.key(data, fmt, view, scale)
    etag = hazards.etag(data, key)
    early, headers = _revalidate(request, data.version, etag, v)
    if early is not None:
        return early
    body = await run_in_threadpool(hazards.tile, data, fmt, view, scale)
    return Response(body, media_type="image/png" if fmt == "png" else MVT_TYPE, headers=headers)


def drawing_view(drawing, z: str, x: str, y: str) -> TileView:
    """A tile of a drawing: in Web Mercator for a georeferenced one, in the drawing's own tile matrix for a
    schematic one (its level 0 is the one Web Mercator tile that holds the drawing: riskmap.drawings)."""
    from riskmap.drawings import plane_tile

    if not drawing.schematic or not drawing.plane:
        return tile_view(z, x, y)
    plane = tile_view(z, x, y)                  # the same checks of the numbers
    top = MAX_ZOOM - int(drawing.plane["zoom"])
    if plane.z > top:
        raise NotFoundError(f"示意图 {drawing.key} 的瓦片级别为 0–{top} / the tiles of schematic drawing "
                            f"{drawing.key!r} have levels 0–{top}")
    if plane.x >= 1 << plane.z or plane.y >= 1 << plane.z:
        raise NotFoundError("瓦片超出示意图范围 / tile outside the schematic drawing")
    return TileView(*plane_tile(drawing.plane, plane.z, plane.x, plane.y))


async def _basemap_tile(request: Request, tiles: _Tiles, view: TileView, fmt: str, scale: int,
                        enterprise: str | None, v: int | str | None) -> Response:
    from riskmap.render.tilecache import TileKey

    if fmt != "png":
        raise NotFoundError("底图只提供 PNG 瓦片 / the basemap is served as PNG only")
    basemap = tiles.basemap(enterprise or tiles.settings.enterprise)
    sig = basemap.signature()
    etag = f'"basemap.{sig}.{view.z}.{view.x}.{view.y}.{scale}"'
    early, headers = _revalidate(request, sig, etag, v)
    if early is not None:
        return early
    cache = tiles.service.cache
    owner = f"basemap:{basemap.path}"
    if cache.generation(owner) != sig:
        cache.clear(owner)
        cache.set_generation(owner, sig)
    key = TileKey(owner, BASEMAP, "png", view.z, view.x, view.y, scale)
    body = cache.get(key, sig)
    if body is None:
        body = await run_in_threadpool(basemap.render, view, scale)
        cache.put(key, body, sig)
    return Response(body, media_type="image/png", headers=headers)


def _param(name: str, where: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": where, "required": where == "path", "description": description, "schema": schema}


_COORDS = [
    _param("layer", "path", "图层 regions | units | layout | basemap / layer", {"type": "string"}),
    _param("z", "path", "缩放级别 0–24 / zoom", {"type": "integer", "minimum": 0, "maximum": 24}),
    _param("x", "path", "列号 / tile column", {"type": "integer", "minimum": 0}),
    _param("y", "path", "行号 / tile row", {"type": "integer", "minimum": 0}),
]
_ENTERPRISE = _param("enterprise", "query", "企业名称（缺省为唯一的企业）/ enterprise (default: the only one)",
                     {"type": "string"})
_VERSION = _param("v", "query", "数据版本号（TileJSON 给出）；旧版本转到当前版本 / data version; an old one redirects",
                  {"type": "integer"})
_HATCH = _param("hatch", "query", "叠加等级填充纹理（黑白打印、色弱）/ draw level hatches", {"type": "boolean"})
_FLAGGED = _param("flagged", "query", "只显示有待复评标记的单元（units、staleness）/ only units flagged for "
                  "re-assessment (units, staleness)", {"type": "boolean"})
_AT = _param("at", "query", "某一时刻的地图（ISO 8601；无时区按北京时间），瓦片不再变化 / the map as of a moment "
             "(ISO 8601; local time without offset is Beijing time); such tiles are immutable", {"type": "string"})
_SOURCES = _param("layers", "query", "labels 图层：只画这些图层的名称（regions,units,layout 中的一项或几项）/ labels "
                  "layer: names of these layers only (one or more of regions,units,layout)", {"type": "string"})
_LABELS = _param("labels", "query", "是否绘制名称（默认 1；名称由 labels 图层单独提供时用 0）/ draw names (default 1; "
                 "0 when the labels layer shows them)", {"type": "boolean"})

_WINDOW = _param("window", "query", "coverage 图层的时段 today | week | month（默认 today）/ the coverage layer's "
                 "window (default today)", {"type": "string", "enum": ["today", "week", "month"]})
_DRAWING = _param("drawing", "query", "图纸（缺省为总平面布置图；楼层图、车间图、示意图见 /api/drawings）；"
                  "示意图的瓦片按其自身平面的瓦片矩阵编号 / the drawing (default: the site plan; see /api/drawings); "
                  "a schematic drawing's tiles are numbered in its own plane's tile matrix", {"type": "string"})

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _flag(query, name: str, default: bool) -> bool:
    """A 1/0 query parameter (true/false, yes/no, on/off); anything else is a 422."""
    if name not in query:
        return default
    text = query[name].strip().lower()
    if text not in _TRUE + _FALSE:
        raise InputError(f"{name} 应为 1 或 0，而不是 “{text[:20]}” / {name} must be 1 or 0")
    return text in _TRUE


def _tile_params(request: Request, png: bool) -> dict:
    """The query parameters of a tile (keyword arguments of `_tile`), read by hand: FastAPI's parameter machinery
    costs more than serving a cached tile (they are documented in the OpenAPI schema all the same)."""
    q = request.query_params
    return {"enterprise": q.get("enterprise"), "v": q.get("v"),
            "hatch": _flag(q, "hatch", False) if png else False, "labels": _flag(q, "labels", True) if png else True,
            "flagged": _flag(q, "flagged", False), "sources": q.get("layers"), "drawing": q.get("drawing"),
            "window": q.get("window")}


def make_router() -> APIRouter:
    """The tile routes under /tiles: TileJSON and PNG (also @2x) and MVT tiles; TileFastPath may answer cached tiles
    before these routes.
    """
    router = APIRouter(prefix="/tiles", tags=["tiles"])

    @router.get("/{layer}/tilejson.json", response_model=answers.TileJson,
                summary="TileJSON 3.0.0（含版本号的绝对地址）/ TileJSON with versioned URLs",
                responses={k: _TILE_RESPONSES[k] for k in (400, 404, 422)})
    async def tilejson(request: Request, layer: str,
                       enterprise: str | None = Query(None, description=_ENTERPRISE["description"]),
                       format: Literal["png", "mvt"] = Query("png", description="png 或 mvt / tile format"),  # noqa: A002
                       scale: int = Query(1, ge=1, le=2, description="PNG 像素倍数 1 或 2 / PNG pixel ratio"),
                       hatch: bool = Query(False, description=_HATCH["description"]),
                       labels: bool = Query(True, description=_LABELS["description"]),
                       flagged: bool = Query(False, description=_FLAGGED["description"]),
                       at: str | None = Query(None, description=_AT["description"]),
                       layers: str | None = Query(None, description=_SOURCES["description"]),
                       drawing: str | None = Query(None, description=_DRAWING["description"]),
                       window: Literal["today", "week", "month"] = Query("today",
                                                                        description=_WINDOW["description"])
                       ) -> JSONResponse:
        _check_layer(layer)
        tiles = tiles_of(request)
        drawing = requested(drawing)
        if layer == HAZARDS:
            return await run_in_threadpool(_hazards_tilejson, request, tiles, enterprise, format, scale)
        if layer == BASEMAP and drawing is None:
            return _basemap_tilejson(request, tiles, enterprise, format, scale)
        service = tiles.service
        moment = _moment(request)
        if drawing is not None:
            if layer == BASEMAP:
                raise NotFoundError("底图只属于总平面布置图 / the basemap belongs to the site plan")
            data = await run_in_threadpool(service.drawing, enterprise, drawing, moment)
        elif moment is not None:
            data = await run_in_threadpool(service.past, enterprise, moment)
        else:
            data, ent_id, name, version = service.check(enterprise)
            if data is None:
                data = await tiles.work.update(service, ent_id, name, version)
        return _tilejson(request, tiles, data, layer, format, scale, hatch, labels, flagged, layers, window)

    png_doc = {"parameters": [*_COORDS, _ENTERPRISE, _DRAWING, _VERSION, _AT, _HATCH, _LABELS, _FLAGGED, _SOURCES,
                              _WINDOW]}
    mvt_doc = {"parameters": [*_COORDS, _ENTERPRISE, _DRAWING, _VERSION, _AT, _FLAGGED, _WINDOW]}

    @router.get("/{layer}/{z}/{x}/{y}@2x.png", summary="PNG 瓦片 @2x（512 像素）/ PNG tile @2x",
                response_class=Response, responses=_png_responses(), openapi_extra=png_doc)
    async def png_2x(request: Request) -> Response:
        p = request.path_params
        return await _tile(request, p["layer"], p["z"], p["x"], p["y"], "png", scale=2,
                           **_tile_params(request, True))

    @router.get("/{layer}/{z}/{x}/{y}.png", summary="PNG 瓦片（256 像素）/ PNG tile", response_class=Response,
                responses=_png_responses(), openapi_extra=png_doc)
    async def png(request: Request) -> Response:
        p = request.path_params
        return await _tile(request, p["layer"], p["z"], p["x"], p["y"], "png", scale=1,
                           **_tile_params(request, True))

    @router.get("/{layer}/{z}/{x}/{y}.mvt", summary="矢量瓦片 MVT 2.1 / vector tile", response_class=Response,
                responses=_mvt_responses(), openapi_extra=mvt_doc)
    async def mvt(request: Request) -> Response:
        p = request.path_params
        return await _tile(request, p["layer"], p["z"], p["x"], p["y"], "mvt", scale=1,
                           **_tile_params(request, False))

    return router


# ---------------------------------------------------------------------------------------------- fast path


_FAST_PATH = re.compile(r"^/tiles/(regions|units|layout|labels|staleness|coverage)/"
                        r"(\d{1,2})/(\d{1,9})/(\d{1,9})(@2x)?\.(png|mvt)$")


class _Behind(NamedTuple):
    """The fast path's answer when this process's map is older than the database's: which update to wait for."""
    ent_id: int
    name: str
    version: int


class TileFastPath:
    """Pure-ASGI wrapper that answers the hot case before FastAPI's routing and parameter handling (which cost
    several times more than the tile itself): a GET of a data-layer tile that is in the cache at the current data
    version, or its 304. Everything else (a miss, an old `v`, an error, the basemap) goes on to the routes above,
    which stay the documented and complete implementation; both answer with the same status, headers and bytes.
    A map older than the database's (an edit since) is waited for here, one update shared by every request.

    Two ways in: as the outermost ASGI app around the FastAPI app (`wrap_fast_path(app)`, what `riskmap serve`
    hands to uvicorn: before FastAPI's own middleware and the service's layers, whose headers it adds itself, see
    `_Front`), or as a middleware (`install_fast_path`, inside the read gate: what answers when reading needs a
    token, and in tests through the app alone).

    A versioned tile (`?v=N`, N current) is answered without a version check of its own when one was made less
    than VERSIONED_RECHECK_S ago and no write went through this process since: its URL names its bytes for good.
    """

    def __init__(self, app, root=None):
        self.app = app
        self.root = root                     # the FastAPI app when wrapping it from outside
        self.front: _Front | None = None     # outside: what the service's layers would add (made on first use)

    async def __call__(self, scope, receive, send):
        """Answer a cached tile (or its 304) at once; pass everything else to the wrapped app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "GET":
            match = _FAST_PATH.match(_route_path(scope))
            if match is not None:
                answer = await self._answer(scope, match)
                if answer is not None:
                    status, headers, body = answer
                    await send({"type": "http.response.start", "status": status, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
        elif method not in _READS:
            # a write made here: the next tiles check the version again, once it is done
            self._forget_checks(scope)
            try:
                await self.app(scope, receive, send)
            finally:
                self._forget_checks(scope)
            return
        await self.app(scope, receive, send)

    async def _answer(self, scope, match) -> tuple[int, list, bytes] | None:
        app = self.root or scope.get("app")
        extra: list = []
        if self.root is not None:
            if self.front is None:
                self.front = _Front(app.state.settings)
            extra = self.front.headers(scope, match.group(6))
            if extra is None:
                return None                  # the service's layers decide (a token, compression, a token origin)
            if may_be_a_regulator(app, scope):
                return None                  # its access record is written by the service (riskmap.api.access_log)
        with data_scope.request_scope():     # reads only the tile's enterprise (riskmap.store.scope)
            answer = self._known(app, match.string, scope.get("query_string", b"")) or \
                self._cached(app, scope, match)
            if isinstance(answer, _Behind):
                answer = await self._after_update(app, scope, match, answer)
        if answer is None or not extra:
            return answer
        return answer[0], answer[1] + extra, answer[2]

    def answer_known(self, path: str, query: bytes, headers: list) -> tuple[list, bytes] | None:
        """The headers and body of a versioned tile answered before by this address (_Known) while all it rests on
        holds, or None: for the server's protocol (riskmap.api.tileprotocol), which answers it without an ASGI
        request. Only outside the service's layers (`wrap_fast_path`), for a request they would add nothing else
        to (`_Front`), and carrying no credentials (a regulator's tiles are recorded by the service)."""
        app = self.root
        if app is None:
            return None
        if self.front is None:
            self.front = _Front(app.state.settings)
        request = {"headers": headers, "query_string": query}
        extra = self.front.headers(request, "png" if path.endswith(".png") else "mvt")
        if extra is None or raw_credentials(request):
            return None
        answer = self._known(app, path, query)
        return None if answer is None else (answer[1] + extra, answer[2])

    def _forget_checks(self, scope) -> None:
        app = self.root or scope.get("app")
        tiles = getattr(app.state, "tiles", None) if app is not None else None
        if tiles is not None:
            tiles.service.forget_checks()

    async def _after_update(self, app, scope, match, behind: _Behind) -> tuple[int, list, bytes] | None:
        """The map moved on since this process read it (an edit): wait for the one update that all the requests of
        this moment share (riskmap.api.tilework), then answer from the cache. Going on to the routes instead, each
        of a hundred readers cost the event loop a pass through FastAPI right after every edit."""
        tiles = app.state.tiles
        try:
            await tiles.work.update(tiles.service, behind.ent_id, behind.name, behind.version)
        except RiskmapError:
            return None                      # the routes give the proper error
        answer = self._cached(app, scope, match)
        return None if isinstance(answer, _Behind) else answer

    @staticmethod
    def _cached(app, scope, match) -> tuple[int, list, bytes] | _Behind | None:
        from riskmap.render.tilecache import COVERAGE, check_tile, coverage_window, etag_for

        tiles = getattr(app.state, "tiles", None) if app is not None else None
        if tiles is None:
            return None
        raw_query = scope.get("query_string", b"")
        try:
            query = _query(raw_query)
            layer, z, x, y, two, fmt = match.groups()
            zi, xi, yi = int(z), int(x), int(y)
            if zi > MAX_ZOOM or xi >= 1 << zi or yi >= 1 << zi:
                return None                  # outside the grid: the routes answer 404
            png = fmt == "png"
            hatch = _switch(query, "hatch", False) if png else False
            labels = _switch(query, "labels", True) if png else True
            flagged = _switch(query, "flagged", False)
            if None in (hatch, labels, flagged):
                return None                  # not a boolean: the routes answer 422
            v = query.get("v")
            if "at" in query or "drawing" in query or (v is not None and not v.isdigit()):
                return None
            service = tiles.service
            data = None
            if v is not None and layer != COVERAGE:
                data = service.checked(query.get("enterprise"), int(v), VERSIONED_RECHECK_S)
            if data is None:
                data, ent_id, name, version = service.check(query.get("enterprise"))
                if v is not None and int(v) != version:
                    # a map still asking with the version before an edit: sent on at once, before this process
                    # has the new map (under load, going through the routes for it cost the edits half of the loop)
                    check_tile(layer, fmt)
                    return 302, [(b"location", _relocation(scope, version)),
                                 (b"cache-control", b"no-store"), (b"content-length", b"0")], b""
                if data is None:
                    return _Behind(ent_id, name, version)
            view = TileView(zi, xi, yi)      # inside the WebMercatorQuad grid, as tile_view would check
            window = query.get("window")
            if layer == COVERAGE and service.coverage_states(data, coverage_window(window, data), wait=False) is None:
                return None                  # its coverage needs a read first: the routes do it in a worker thread
            key = service.key(data, layer, fmt, view, 2 if two else 1, hatch, labels, flagged, query.get("layers"),
                              window)
            etag = etag_for(data, key)
            fixed = v is not None and layer != COVERAGE        # coverage: may change at the same version
            cache_control = immutable(app.state.settings) if fixed else "no-cache"
            if not fixed:
                for name, value in scope["headers"]:
                    if name == b"if-none-match" and none_match(value.decode("latin-1"), etag):
                        return 304, [(b"etag", etag.encode()), (b"cache-control", cache_control.encode())], b""
            body = service.cached(key, data)
        except (RiskmapError, ValueError, KeyError):
            return None                      # the routes give the proper error
        if body is None:
            return None
        media = b"image/png" if fmt == "png" else _MVT_TYPE
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", media),
                   (b"etag", etag.encode()), (b"cache-control", cache_control.encode())]
        if fixed:
            _remember(tiles.answers, (match.string, raw_query),
                      _Known(query.get("enterprise"), int(v), layer, data.version, data.stamp, service.style(layer),
                             key, tuple(headers)))
        return 200, headers, body

    @staticmethod
    def _known(app, path: str, query: bytes) -> tuple[int, list, bytes] | None:
        """The answer of a versioned tile answered before by this address (its route path and raw query), if it
        still holds (_Known)."""
        tiles = getattr(app.state, "tiles", None) if app is not None else None
        known = None if tiles is None else tiles.answers.get((path, query))
        return None if known is None else known.again(tiles.service)


def _switch(query: dict[str, str], name: str, default: bool) -> bool | None:
    """A boolean query parameter as FastAPI reads it; None when it is not one."""
    text = query.get(name)
    if text is None:
        return default
    text = text.strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _remember(answers: dict, address: tuple, known: Any) -> None:
    if len(address[1]) > 2048:
        return
    if len(answers) >= _ANSWERS_MAX:
        answers.clear()
    answers[address] = known


class _Known(NamedTuple):
    """A versioned tile answered from the cache before, by its address: answered again without working out its
    key, ETag and headers while the version check vouches for its version and its layer's style is the same
    (what a map or a front cache asks for again and again)."""
    enterprise: str | None
    v: int
    layer: str
    version: int
    stamp: str
    style: Any
    key: Any
    headers: tuple            # a fresh list for each answer: the layers outside may change the one they are sent

    def again(self, service) -> tuple[int, list, bytes] | None:
        """The answer, or None when anything it rests on moved (the full path then decides)."""
        data = service.checked(self.enterprise, self.v, VERSIONED_RECHECK_S)
        if data is None or data.version != self.version or data.stamp != self.stamp \
                or service.style(self.layer) is not self.style:
            return None
        body = service.cache.get(self.key, self.version)     # in the cache still (and kept there as read)
        return None if body is None else (200, list(self.headers), body)


# How long a version check vouches for versioned tiles of the version it found (see TileFastPath).
VERSIONED_RECHECK_S = 1.0
_READS = frozenset(("GET", "HEAD", "OPTIONS"))
_MVT_TYPE = MVT_TYPE.encode()


class _Front:
    """What the service's own layers (riskmap.api.transport, riskmap.api.headers) add to a cached tile's answer,
    for the fast path in front of them: None where they would decide more than headers (reading needs a token, a
    vector tile the client accepts compressed, a request from a token origin or from an origin the read list must
    be matched against, a body declared on a GET)."""

    def __init__(self, settings):
        from riskmap.api.headers import NOSNIFF
        from riskmap.api.transport import cors_simple_headers, origins, same_for_every_origin

        self.closed = bool(settings.read_requires_token)
        self.read_origins = origins(settings.cors_origins)
        self.token_origins = frozenset(o for o in origins(settings.cors_token_origins) if o != "*")
        if same_for_every_origin(self.read_origins, list(self.token_origins)):
            self.plain = self.any_origin = [NOSNIFF, *cors_simple_headers(self.read_origins)]
        else:
            self.plain = [NOSNIFF, (b"vary", b"Origin")]          # no Origin: CORS adds Vary alone
            self.any_origin = [NOSNIFF, *cors_simple_headers(self.read_origins), (b"vary", b"Origin")] \
                if "*" in self.read_origins else None
        self._encodings: dict[bytes, bool] = {}

    def headers(self, scope, fmt: str) -> list | None:
        """The headers to add to this request's answer, or None to leave it to the service's layers."""
        if self.closed:
            return None
        extra = self.plain
        for name, value in scope["headers"]:
            if name == b"origin":
                if self.any_origin is None or value.decode("latin-1").rstrip("/") in self.token_origins:
                    return None
                extra = self.any_origin
            elif name == b"accept-encoding":
                if fmt != "png" and self._compresses(value):
                    return None
            elif name in (b"content-length", b"transfer-encoding"):
                return None
        return extra

    def _compresses(self, accept: bytes) -> bool:
        found = self._encodings.get(accept)
        if found is None:
            from riskmap.api.transport import compresses

            if len(self._encodings) > 256:
                self._encodings.clear()
            found = self._encodings[accept] = compresses(accept.decode("latin-1"))
        return found


def _relocated(scope, version: int) -> str:
    """The address of a tile with another data version, as the routes' redirect gives it (`_with_version`)."""
    from urllib.parse import parse_qsl

    raw = scope.get("query_string", b"").decode("latin-1")
    params = [(k, v) for k, v in parse_qsl(raw, keep_blank_values=True) if k != "v"]
    params.append(("v", str(version)))
    path = scope.get("root_path", "") + _route_path(scope)
    return f"{path}?{urlencode(params)}"


_RELOCATIONS: dict[tuple, bytes] = {}


def _relocation(scope, version: int) -> bytes:
    """`_relocated` as header bytes, remembered: after an edit every map still open asks with the old version
    until it reads its TileJSON again, and building the address each time was an eighth of the event loop's work
    under 200 such readers."""
    key = (scope["path"], scope.get("root_path", ""), scope.get("query_string", b""), version)
    found = _RELOCATIONS.get(key)
    if found is None:
        found = _relocated(scope, version).encode()
        if len(key[2]) <= 2048:
            if len(_RELOCATIONS) >= _QUERIES_MAX:
                _RELOCATIONS.clear()
            _RELOCATIONS[key] = found
    return found


_QUERIES: dict[bytes, dict[str, str]] = {}
_QUERIES_MAX = 4096
_ANSWERS_MAX = 8192           # versioned tiles answered by address (_Known): about 2 MB of keys and headers


def _query(raw: bytes) -> dict[str, str]:
    """A query string as a dict, remembered: a map asks for thousands of tiles with the same few query strings,
    and percent-decoding an enterprise's Chinese name costs more than the rest of a cached answer."""
    found = _QUERIES.get(raw)
    if found is None:
        from urllib.parse import parse_qsl

        found = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)) if raw else {}
        if len(raw) <= 2048:
            if len(_QUERIES) >= _QUERIES_MAX:
                _QUERIES.clear()
            _QUERIES[raw] = found
    return found


def _route_path(scope) -> str:
    """The path the routes see: without the root path the app is served under (as Starlette strips it)."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] == "/":
        return path[len(root):]
    return path


def install_fast_path(app) -> None:
    """Put TileFastPath in the app's middleware (call in create_app, before the app starts)."""
    app.add_middleware(TileFastPath)


def wrap_fast_path(app) -> TileFastPath:
    """The app behind TileFastPath as the outermost ASGI callable (for uvicorn.run); `.app` is the app."""
    return TileFastPath(app, root=app)


def _tile_url(base: str, layer: str, suffix: str, params: list[tuple[str, str]]) -> str:
    return f"{base}/tiles/{quote(layer)}/{{z}}/{{x}}/{{y}}{suffix}?{urlencode(params)}"


def _tilejson(request: Request, tiles: _Tiles, data, layer: str, fmt: str, scale: int, hatch: bool,
              labels: bool = True, flagged: bool = False, sources: str | None = None,
              window: str = "today") -> JSONResponse:
    from riskmap.render.tilecache import (
        COVERAGE,
        FLAGGABLE,
        LABELS,
        STALENESS,
        coverage_window,
        label_sources,
        local_day,
    )
    from riskmap.render.tiledata import fit_zoom, lonlat_bounds
    from riskmap.vocabulary import tile_fields

    if layer == LABELS and fmt != "png":
        raise NotFoundError("标注图层只提供 PNG 瓦片（矢量瓦片的要素自带名称）/ the labels layer is PNG only "
                            "(vector tile features carry their names)")
    service = tiles.service
    style = service.style(layer)
    hatch = hatch and fmt == "png" and layer not in (LABELS, STALENESS, COVERAGE)
    labels = labels or fmt != "png" or layer == LABELS
    flagged = flagged and layer in FLAGGABLE
    sources = label_sources(sources) if layer == LABELS else ""
    params = [("enterprise", data.enterprise), ("v", str(data.version))]
    if data.drawing is not None:
        params.insert(1, ("drawing", data.drawing.key))
    if sources:
        params.insert(1, ("layers", sources))
    if data.as_of is not None:                     # a past state: its tiles are named by the moment
        params[-1] = ("at", data.as_of.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    if flagged:
        params.insert(1, ("flagged", "1"))
    if layer == COVERAGE:
        params.insert(1, ("window", coverage_window(window, data)))
    if hatch:
        params.insert(1, ("hatch", "1"))
    if not labels:
        params.insert(1, ("labels", "0"))
    suffix = ".mvt" if fmt == "mvt" else ("@2x.png" if scale == 2 else ".png")
    box = data.bounds_3857()
    bounds = lonlat_bounds(box) if box else [-180.0, -85.0511287798, 180.0, 85.0511287798]
    min_zoom = style.mvt_min_zoom if fmt == "mvt" else style.min_zoom
    zoom = max(min_zoom, min(style.max_zoom, fit_zoom(box))) if box else min_zoom
    title_zh, description = LAYER_TITLES[layer]
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": f"{data.enterprise} · {title_zh}",
        "description": description,
        "version": f"{data.version}.0.0",
        "attribution": "riskmap 四色安全风险分布图",
        "scheme": "xyz",
        "tiles": [_tile_url(_base_url(request), layer, suffix, params)],
        "minzoom": min_zoom,
        "maxzoom": style.max_zoom,
        "bounds": bounds,
        "center": [round((bounds[0] + bounds[2]) / 2, 7), round((bounds[1] + bounds[3]) / 2, 7), zoom],
        "data_version": data.version,
        "format": fmt,
    }
    if fmt == "mvt":
        doc["vector_layers"] = [{
            "id": layer, "description": f"{title_zh} / {style.title_en}", "minzoom": min_zoom,
            "maxzoom": style.max_zoom, "fields": tile_fields(layer),      # what the tiles carry (vocabulary)
        }]
        if layer == COVERAGE:
            doc["vector_layers"].append({"id": "checkpoints", "description": "巡检点 / checkpoints",
                                         "minzoom": min_zoom, "maxzoom": style.max_zoom,
                                         "fields": tile_fields(layer)})
    if data.drawing is not None:
        doc["drawing"] = data.drawing.to_json()
        doc["name"] = f"{data.enterprise} · {data.drawing.label()} · {title_zh}"
        if data.drawing.schematic and data.drawing.plane:
            _plane_tilejson(doc, data.drawing.plane, box, min_zoom, style.max_zoom)
    if data.as_of is not None:
        doc["as_of"] = data.as_of.at.isoformat()
        doc["layout_version"], doc["ledger_version"] = data.as_of.layout_number, data.as_of.ledger_number
    if layer == STALENESS:
        doc["day"] = service.today() if data.as_of is None else local_day(data.as_of.at)
    if layer == COVERAGE:
        doc["day"], doc["window"] = service.today(), window
    etag = (f'"tilejson.{data.enterprise_id}.{data.version}.{layer}.{fmt}{scale}{int(hatch)}{int(labels)}'
            f'{int(flagged)}.{service.signature(style)}.{doc.get("day", "")}.{doc.get("as_of", "")}.{sources}'
            f'.{zlib.crc32(doc["tiles"][0].encode()):08x}"')     # the tile URL: the public address it names
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    return JSONResponse(doc, headers={"ETag": etag, "Cache-Control": "no-cache"})


def _plane_tilejson(doc: dict, plane: dict, box, min_zoom: int, max_zoom: int) -> None:
    """A schematic drawing's TileJSON: tiles numbered in its own plane (level 0 = the whole plane, a square of
    `size` drawing units, y down from its top-left corner), the bounds in drawing units, no lon/lat."""
    z0, size = int(plane["zoom"]), float(plane["size"])
    top = max(0, MAX_ZOOM - z0)
    ox, oy = plane["origin"]
    # the layer's content, or the plane's square when the layer has nothing there (never the earth's bounds)
    doc["bounds"] = [round(box[0] + ox, 6), round(box[1] + oy, 6), round(box[2] + ox, 6), round(box[3] + oy, 6)] \
        if box else [ox, oy - size, ox + size, oy]
    doc["minzoom"], doc["maxzoom"] = max(0, min_zoom - z0), min(top, max(0, max_zoom - z0))
    b = doc["bounds"]
    doc["center"] = [round((b[0] + b[2]) / 2, 6), round((b[1] + b[3]) / 2, 6), 0]
    doc["crs"] = "plane"
    doc["tile_matrix"] = {"crs": "drawing plane (no place on the earth)", "units": "drawing units",
                          "origin": plane["origin"], "size": size, "tile_size": 256,
                          "levels": top + 1, "y_axis": "down"}


HAZARD_FILTERS = ("state", "level", "department", "overdue", "at")


def _hazards_tilejson(request: Request, tiles: _Tiles, enterprise: str | None, fmt: str, scale: int) -> Response:
    """TileJSON of the hazards layer: the tile URL carries the filters asked for and the data version."""
    from riskmap.render.hazardtiles import parse_filters
    from riskmap.render.tiledata import fit_zoom, lonlat_bounds

    hazards = tiles.hazards
    filters = parse_filters(request.query_params, _moment(request))
    data = hazards.data(enterprise, filters)
    _, name, _, _ = tiles.service.resolve(enterprise)
    style = hazards.style()
    params = [(k, request.query_params[k]) for k in HAZARD_FILTERS if request.query_params.get(k)]
    params += [("enterprise", name), ("v", str(data.version))]
    suffix = ".mvt" if fmt == "mvt" else ("@2x.png" if scale == 2 else ".png")
    if len(data):
        box = (float(data.x.min()), float(data.y.min()), float(data.x.max()), float(data.y.max()))
    else:
        plant, ent_id, ent_name = tiles.service.lookup(enterprise)
        plant = plant or tiles.service.update(ent_id, ent_name)
        box = plant.bounds_3857()
    bounds = lonlat_bounds(box) if box else [-180.0, -85.0511287798, 180.0, 85.0511287798]
    zoom = max(style.min_zoom, min(style.max_zoom, fit_zoom(box))) if box else style.min_zoom
    title_zh, description = LAYER_TITLES[HAZARDS]
    doc: dict[str, Any] = {
        "tilejson": "3.0.0", "name": f"{name} · {title_zh}", "description": description,
        "version": f"{data.version}.0.0", "attribution": "riskmap 四色安全风险分布图", "scheme": "xyz",
        "tiles": [_tile_url(_base_url(request), HAZARDS, suffix, params)], "minzoom": style.min_zoom,
        "maxzoom": style.max_zoom, "bounds": bounds,
        "center": [round((bounds[0] + bounds[2]) / 2, 7), round((bounds[1] + bounds[3]) / 2, 7), zoom],
        "data_version": data.version, "format": fmt,
    }
    if fmt == "mvt":
        from riskmap.render.hazardtiles import MVT_FIELDS

        fields = {n: "String" for n in MVT_FIELDS if n not in ("id", "level", "overdue", "danger_state")}
        fields.update(hazard_id="String", hazard_level="Number", overdue="Boolean", danger_state="Number",
                      cluster="Boolean", count="Number", major_count="Number", overdue_count="Number")
        doc["vector_layers"] = [{"id": HAZARDS, "description": f"{title_zh} / {style.title_en}",
                                 "minzoom": style.min_zoom, "maxzoom": style.max_zoom, "fields": fields}]
    etag = f'"tilejson.hz.{data.owner[1]}.{data.version}.{data.owner[2]}.{data.owner[3]}.{fmt}{scale}.' \
           f'{zlib.crc32(doc["tiles"][0].encode()):08x}"'
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-cache"})
    return JSONResponse(doc, headers={"ETag": etag, "Cache-Control": "no-cache"})


def _basemap_tilejson(request: Request, tiles: _Tiles, enterprise: str | None, fmt: str, scale: int) -> JSONResponse:
    if fmt != "png":
        raise NotFoundError("底图只提供 PNG 瓦片 / the basemap is served as PNG only")
    info = tiles.basemap(enterprise or tiles.settings.enterprise).info()
    params = ([("enterprise", enterprise)] if enterprise else []) + [("v", info.signature)]
    suffix = "@2x.png" if scale == 2 else ".png"
    b = list(info.bounds_lonlat)
    maxzoom = min(24, info.native_zoom + 2)
    doc = {
        "tilejson": "3.0.0",
        "name": LAYER_TITLES[BASEMAP][0],
        "description": LAYER_TITLES[BASEMAP][1],
        "scheme": "xyz",
        "tiles": [_tile_url(_base_url(request), BASEMAP, suffix, params)],
        "minzoom": 0,
        "maxzoom": maxzoom,
        "bounds": b,
        "center": [round((b[0] + b[2]) / 2, 7), round((b[1] + b[3]) / 2, 7), min(maxzoom, info.native_zoom)],
        "format": "png",
    }
    return JSONResponse(doc, headers={"Cache-Control": "no-cache"})


async def tile_response(request: Request, layer: str, z: str, x: str, y: str, fmt: str = "png",
                        enterprise: str | None = None) -> Response:
    """One current tile of a layer with the routes' caching contract (ETag, 304), for other protocols' routes
    (WMTS GetTile) that name the tile in their own way."""
    return await _tile(request, layer, z, x, y, fmt, enterprise=enterprise)
