"""The web map: `/map` (the plant plan, or one region's workshop map with `?region=`), its config as JSON and
the data version the page polls so that an edit refreshes the tiles."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.routing import NoMatchFound

from riskmap.api import answers
from riskmap.api.deps import app_singleton, resolve_tenant
from riskmap.api.routers.identify import plant_index, warm_up
from riskmap.api.routers.static import app_url, vendor_assets
from riskmap.clock import LOCAL_ZONE
from riskmap.drawings import requested
from riskmap.errors import RiskmapError, no_enterprise
from riskmap.levels import LEVELS_HIGH_TO_LOW, load_palette
from riskmap.render import editpage, webmap
from riskmap.render.style import load_layer_style

Lang = Literal["zh", "en"]
TILEJSON_PATH = "/tiles/{layer}/tilejson.json"
FLAGS_PATH = "/api/flags"
# The pages answer their errors as a readable page, not JSON.
_HTML = {"text/html": {"schema": {"type": "string"}}}
PAGE_ERRORS: dict[int | str, dict] = {
    404: {"description": "企业或区域不存在 / no such enterprise or region", "content": _HTML},
    422: {"description": "参数有误（如 at 不是时刻）/ a bad parameter (e.g. at is not a moment)",
          "content": {**_HTML, "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}},
    503: {"description": "前端资源未安装 / web assets not installed", "content": _HTML},
}
# Tile layers drawn under the editor's own vector features (the layout itself is drawn by the editor).
EDITOR_BACKDROP = ("basemap", "regions", "units", "labels")
EDITOR_URLS = {
    "map": "/map", "edit": "/edit", "version": "/api/map/version",
    "layout_items": "/ogc/collections/layout/items", "regions_items": "/ogc/collections/regions/items",
    "units_items": "/ogc/collections/units/items", "split": "/api/layout/split", "merge": "/api/layout/merge",
    "search": "/api/search", "whoami": "/api/auth/me",
}


def tile_layers(request: Request, enterprise: str, lang: str, workshop: bool = False,
                at: str | None = None, drawing: str | None = None) -> list[dict]:
    """The tile layers this server has (by its routes), each with its TileJSON URL, bottom first; `at` (a
    historical view) and `drawing` (other than the site plan) are passed on to every data layer."""
    available = _tile_layer_names(request, enterprise)
    if drawing is not None:
        # the raster basemap and hazards (lon/lat places) are the site plan's; inspection coverage is of units,
        # drawn wherever a drawing places them
        available -= {"basemap", "hazards"}
    if at:
        available.discard("coverage")            # checks are counted for today's windows, not a past moment
        available.discard("hazards")             # hazards are placed on the site plan
    text = webmap.TEXT[lang]
    layers = []
    # With a separate labels layer the others are asked for tiles without names, so names can be switched off.
    separate_labels = "labels" in available
    for z, (name, key, in_plan, in_workshop) in enumerate(webmap.TILE_LAYERS):
        visible = in_workshop if workshop else in_plan
        if name in available:
            params = {"enterprise": enterprise}
            if separate_labels and name in ("regions", "units", "layout"):
                params["labels"] = "0"
            if at and name != "basemap":
                params["at"] = at
            if drawing is not None:
                params["drawing"] = drawing
            query = urlencode(params)
            layers.append({"name": name, "title": text[key], "visible": visible, "z": z + 1,
                           "tilejson": TILEJSON_PATH.format(layer=name) + "?" + query})
    return layers


def _tile_layer_names(request: Request, enterprise: str) -> set[str]:
    """Layer names the tiles router serves for this enterprise (the raster basemap only when it has one)."""
    try:
        if request.app.url_path_for("tilejson", layer="regions") != TILEJSON_PATH.format(layer="regions"):
            return set()
    except NoMatchFound:
        return set()
    from riskmap.api.routers import tiles

    names = set(getattr(tiles, "DATA_LAYERS", ()))
    if getattr(tiles, "BASEMAP", None) and hasattr(tiles, "tiles_of"):
        try:
            tiles.tiles_of(request).basemap(enterprise)
            names.add(tiles.BASEMAP)
        except RiskmapError:
            pass
    return names


def map_summary(app, enterprise: str | None) -> webmap.MapSummary:
    """Legend counts, bounds and data version from the map snapshot the tiles draw (so the legend counts what
    is on the map): one aggregate query per data version, without loading the ledger; the app keeps the last
    few (a version's counts never change)."""
    from sqlalchemy import func, select

    from riskmap.store.mapdata import MapFeatureRow, current_state, member_counts

    tenant = resolve_tenant(app, enterprise)
    store, name = tenant.store, tenant.name
    cache = app_singleton(app, "map_summaries", lambda: {"lock": threading.Lock(), "items": OrderedDict()})
    t = MapFeatureRow
    with store.session() as s:
        state = current_state(s, name)
        if not state:
            raise no_enterprise(name)
        ent_id, _, version, stamp = state[0]
        key = (str(store.url), ent_id, stamp)
        with cache["lock"]:
            if key in cache["items"]:
                return cache["items"][key]
        rows = s.execute(
            select(t.layer, t.level, func.count(), func.min(t.minx), func.min(t.miny), func.max(t.maxx),
                   func.max(t.maxy))
            .where(t.enterprise_id == ent_id, t.minx.is_not(None))
            .group_by(t.layer, t.level)).all()
        # a drawn unit shape stands for several units (riskmap.store.mapdata): count the units it stands for
        members = s.execute(select(t.members).where(t.enterprise_id == ent_id, t.layer == "units",
                                                    t.minx.is_not(None))).scalars().all()
    counts: dict[str, dict[str | None, int]] = {"regions": {}, "units": {}}
    box = [math.inf, math.inf, -math.inf, -math.inf]
    for layer, level, n, x0, y0, x1, y1 in rows:
        if layer == "regions":
            counts[layer][level] = counts[layer].get(level, 0) + int(n)
        box = [min(box[0], x0), min(box[1], y0), max(box[2], x1), max(box[3], y1)]
    counts["units"] = {None if k == "none" else k: v for k, v in member_counts(members).items()}
    levels = [lv.value for lv in LEVELS_HIGH_TO_LOW]
    summary = webmap.MapSummary(
        enterprise=name, data_version=int(version),
        bounds=_lonlat_box(box) if math.isfinite(box[0]) else None,
        region_counts={lv: counts["regions"].get(lv, 0) for lv in levels},
        unit_counts={lv: counts["units"].get(lv, 0) for lv in levels},
        regions_unassessed=sum(n for lv, n in counts["regions"].items() if lv not in levels),
        units_unassessed=sum(n for lv, n in counts["units"].items() if lv not in levels))
    with cache["lock"]:
        cache["items"][key] = summary
        while len(cache["items"]) > 16:
            cache["items"].popitem(last=False)
    return summary


def _lonlat_box(box: list[float]) -> list[float]:
    """EPSG:3857 [minx, miny, maxx, maxy] → lon/lat (the spherical Mercator inverse, exact for 3857)."""
    r = 6378137.0

    def lon(x: float) -> float:
        return math.degrees(x / r)

    def lat(y: float) -> float:
        return math.degrees(math.atan(math.sinh(y / r)))

    return [lon(box[0]), lat(box[1]), lon(box[2]), lat(box[3])]


def _has_route(app, name: str, path: str) -> bool:
    """Whether this server has the route `name` at `path` (the flags list comes with the history router)."""
    try:
        return app.url_path_for(name) == path
    except NoMatchFound:
        return False


def check_moment(store, enterprise: str, at: str | None) -> tuple[str, str, datetime] | None:
    """The page's ?at=, checked (a clear 4xx for a bad moment or one before anything was stored): (as given, for
    the URLs; as Beijing time, for the banner; the moment)."""
    if at is None or not at.strip():
        return None
    from riskmap.store import history

    moment = history.parse_moment(at)
    history.versions_at(store, enterprise, moment)
    return at.strip(), moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M"), moment


def staleness_legend(layers: list[dict]) -> list[dict]:
    """The staleness layer's buckets (days since the last assessment) from its style, when the layer exists."""
    if not any(layer["name"] == "staleness" for layer in layers):
        return []

    try:
        style = load_layer_style("staleness")
    except RiskmapError:
        return []
    return [{"key": c.key, "zh": c.zh, "en": c.en, "fill": c.fill,
             "outline": c.outline.colour if c.outline is not None else None} for c in style.classes]


def drawing_summary(data) -> webmap.MapSummary:
    """The legend counts and bounds of a drawing other than the site plan, from the map its tiles draw (its
    TileData)."""
    from riskmap.render.tiledata import lonlat_bounds
    from riskmap.store.mapdata import member_counts

    regions, units = data.layer("regions"), data.layer("units")
    levels = [lv.value for lv in LEVELS_HIGH_TO_LOW]
    region_counts: dict[str | None, int] = {}
    for level in regions.attrs["level"].tolist():
        region_counts[level] = region_counts.get(level, 0) + 1
    unit_counts = {None if k == "none" else k: v for k, v in member_counts(units.attrs["members"].tolist()).items()}
    box = data.bounds_3857()
    bounds = lonlat_bounds(box) if box else None
    if box and data.drawing.schematic and data.drawing.plane:     # a plane of its own: drawing units
        ox, oy = data.drawing.plane["origin"]
        bounds = [box[0] + ox, box[1] + oy, box[2] + ox, box[3] + oy]
    return webmap.MapSummary(
        enterprise=data.enterprise, data_version=data.version, bounds=bounds,
        region_counts={lv: region_counts.get(lv, 0) for lv in levels},
        unit_counts={lv: unit_counts.get(lv, 0) for lv in levels},
        regions_unassessed=sum(n for lv, n in region_counts.items() if lv not in levels),
        units_unassessed=sum(n for lv, n in unit_counts.items() if lv not in levels))


def drawings_config(store, enterprise: str, drawing: str | None) -> dict:
    """What the page needs to switch drawings: every drawing, the one shown, the storeys of its building, and
    for the site plan the storeys of each building (a click on a building opens them)."""
    from riskmap.drawings import SITE

    drawings = store.drawings(enterprise)
    shown = next((d for d in drawings if d.key == (drawing or SITE)), None)
    if shown is None:
        shown = store.drawing(enterprise, drawing)            # NotFoundError naming the drawings there are
    buildings: dict[str, list[dict]] = {}
    for d in drawings:
        if d.building_ref:
            buildings.setdefault(d.building_ref, []).append(d.to_json())
    return {"drawing": shown.to_json(), "drawings": [d.to_json() for d in drawings],
            "storeys": buildings.get(shown.building_ref, []) if shown.building_ref else [],
            "buildings": buildings}


def _config(request: Request, enterprise: str | None, region: str | None, lang: str, at: str | None = None,
            drawing: str | None = None) -> dict:
    app = request.app
    store = app.state.store()
    drawing = requested(drawing)
    summary = map_summary(app, enterprise)
    moment = check_moment(store, summary.enterprise, at)
    at = moment[0] if moment else None
    drawings = drawings_config(store, summary.enterprise, drawing)
    if drawing is not None:
        from riskmap.api.routers.tiles import tiles_of

        data = tiles_of(request).service.drawing(summary.enterprise, drawing, moment[2] if moment else None)
        summary = drawing_summary(data)
        layout = data.layer("layout")
        emergency = webmap.emergency_kinds(layout.attrs["kind"], layout.geometry)
    else:
        emergency = webmap.emergency_drawn(store, summary.enterprise)
    index = plant_index(app, summary.enterprise, at=moment[2] if moment else None, drawing=drawing) \
        if region is not None else None
    answer = index.region_answer(region) if index is not None else None
    urls = {"map": "/map", "config": "/api/map/config", "version": "/api/map/version",
            "prepare": "/api/map/prepare", "identify": "/api/identify", "search": "/api/search",
            "print": "/print/poster.pdf", "edit": "/edit"}
    if _has_route(app, "list_flags", FLAGS_PATH):
        urls["flags"] = FLAGS_PATH
    if _has_route(app, "list_hazards", "/api/hazards") and drawing is None:
        urls["hazards"] = "/api/hazards"
    # a storey or a schematic drawing shows its rooms and equipment coloured, as a workshop map does
    layers = tile_layers(request, summary.enterprise, lang, region is not None or drawing is not None, at, drawing)
    return webmap.map_config(summary, region=answer, lang=lang, palette=load_palette(), layers=layers, urls=urls,
                             at=at, at_local=moment[1] if moment else None,
                             staleness_legend=staleness_legend(layers),
                             swatches=webmap.legend_swatches(load_layer_style("regions"), load_layer_style("units")),
                             emergency=webmap.emergency_legend(load_layer_style("layout"), emergency),
                             hazards=webmap.hazard_legend() if any(x["name"] == "hazards" for x in layers)
                             else None,
                             coverage=webmap.coverage_legend(load_layer_style("coverage"))
                             if any(x["name"] == "coverage" for x in layers) else None) | drawings


def _page(request: Request, enterprise: str | None, path: str, lang: str, failed: str, back: list,
          build: Callable[[], str]) -> HTMLResponse:
    """A page of one enterprise: the chooser when the database holds several and none was named, else the page
    `build` makes; what the user caused (a RiskmapError) becomes a message page with its status, not JSON."""
    favicon = app_url("favicon.svg")
    chooser = _enterprise_chooser(request, enterprise, path, lang, favicon)
    if chooser is not None:
        return chooser
    try:
        page = build()
    except RiskmapError as exc:
        return HTMLResponse(webmap.message_page(failed, exc.message, back, favicon), status_code=exc.http_status)
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


def _enterprise_chooser(request: Request, enterprise: str | None, path: str, lang: str,
                        favicon: str) -> HTMLResponse | None:
    """A page of links, one per enterprise, when the database holds several and none was named; else None."""
    names = [e.name for e in request.app.state.store().enterprises()]
    if enterprise is not None or request.app.state.settings.enterprise is not None or len(names) < 2:
        return None
    links = [(n, f"{path}?" + urlencode({"enterprise": n, "lang": lang})) for n in names]
    return HTMLResponse(webmap.message_page("选择企业 / choose an enterprise",
                                            "数据库中有多个企业 / several enterprises:", links, favicon))


DRAWING_HELP = "图纸（缺省为总平面布置图）/ the drawing (default: the site plan)"


def make_router() -> APIRouter:
    """The web map routes: /, /map, /edit and the page's config, version and prepare calls under /api/map."""
    router = APIRouter(tags=["map"])

    @router.get("/", response_class=RedirectResponse, status_code=307, summary="首页：转到网页地图 / to the map",
                responses={307: {"description": "转到 /map（保留查询参数）/ to /map, query kept"}})
    def home(request: Request) -> RedirectResponse:
        """`serve` prints the bare address: it opens the map (with the query, e.g. an access token, kept)."""
        query = request.url.query
        return RedirectResponse("/map" + (f"?{query}" if query else ""), status_code=307)

    @router.get("/map", response_class=HTMLResponse, summary="四色风险分布网页地图 / the web map",
                responses=PAGE_ERRORS)
    def map_page(
        request: Request,
        enterprise: str | None = Query(None, description="企业名称 / enterprise"),
        region: str | None = Query(None, description="区域编号：车间图 / a region id: its workshop map"),
        lang: Lang = Query("zh", description="界面语言 / language"),
        at: str | None = Query(None, description="历史时刻（ISO 8601，无时区按北京时间）/ "
                                                "show the map as of this moment"),
        drawing: str | None = Query(None, max_length=64, description=DRAWING_HELP),
    ) -> HTMLResponse:
        back = [("总平面图 / plant plan", "/map?" + urlencode({"enterprise": enterprise or "", "lang": lang}))] \
            if region is not None or drawing else []
        return _page(request, enterprise, "/map", lang, "无法显示地图 / cannot show the map", back, lambda: (
            webmap.render_map_page(_config(request, enterprise, region, lang, at, drawing),
                                   webmap.page_assets(vendor_assets().url, app_url))))

    @router.get("/edit", response_class=HTMLResponse, summary="总平面布置网页编辑器 / the layout editor",
                responses=PAGE_ERRORS)
    def edit_page(
        request: Request,
        enterprise: str | None = Query(None, description="企业名称 / enterprise"),
        lang: Lang = Query("zh", description="界面语言 / language"),
        drawing: str | None = Query(None, max_length=64, description=DRAWING_HELP),
    ) -> HTMLResponse:
        def build() -> str:
            from riskmap.api.routers.tiles import tiles_of
            from riskmap.render.tiledata import lonlat_bounds

            key = requested(drawing)
            summary = map_summary(request.app, enterprise)
            shown = None
            if key is not None:         # another drawing: its own bounds and tiles, written with ?drawing=
                data = tiles_of(request).service.drawing(summary.enterprise, key, None)
                shown, box = data.drawing, data.bounds_3857()
                summary = dataclasses.replace(drawing_summary(data), bounds=lonlat_bounds(box) if box else None)
            assets = editpage.edit_assets(vendor_assets().url, app_url)
            # a schematic drawing's tiles are in a matrix of its own plane: its editor shows the features alone
            layers = [] if shown is not None and shown.schematic else [
                dict(layer, visible=True) for layer in tile_layers(request, summary.enterprise, lang, drawing=key)
                if layer["name"] in EDITOR_BACKDROP]
            config = editpage.edit_config(
                enterprise=summary.enterprise, data_version=summary.data_version, bounds=summary.bounds, lang=lang,
                palette=load_palette(), layers=layers, urls=EDITOR_URLS,
                drawing=shown.to_json() if shown is not None else None)
            warm_up(request.app, summary.enterprise)        # the first edit should not wait for a cold read
            return editpage.render_edit_page(config, assets)

        return _page(request, enterprise, "/edit", lang, "无法打开编辑器 / cannot open the editor", [], build)

    @router.get("/api/map/config", response_model=answers.MapConfig, tags=["map"],
                summary="网页地图配置 / the web map's configuration")
    def map_config(
        request: Request,
        enterprise: str | None = Query(None, description="企业名称 / enterprise"),
        region: str | None = Query(None, description="区域编号 / region id"),
        lang: Lang = "zh",
        at: str | None = Query(None, description="历史时刻 / as of this moment"),
        drawing: str | None = Query(None, max_length=64, description=DRAWING_HELP),
    ) -> dict:
        return _config(request, enterprise, region, lang, at, drawing)

    @router.get("/api/map/version", response_model=answers.MapVersion, tags=["map"],
                summary="数据版本（地图据此刷新）/ data version for refresh")
    def map_version(request: Request, enterprise: str | None = Query(None, description="企业名称 / enterprise")) \
            -> dict:
        from riskmap.plant import resolve_enterprise

        store = request.app.state.store()
        name = resolve_enterprise(store, enterprise or request.app.state.settings.enterprise)
        return {"enterprise": name, "data_version": store.data_version(name)}

    @router.post("/api/map/prepare", response_model=answers.Preparing, status_code=202, tags=["map"],
                 summary="预先加载点选与搜索所需的台账 / load the ledger for clicks and search in the background")
    def prepare(request: Request, enterprise: str | None = Query(None, description="企业名称 / enterprise")) \
            -> dict:
        """The page calls this once its tiles are drawn, so that a large ledger loads while the user looks
        at the map, not while tiles are being rendered, nor after the first click."""
        from riskmap.plant import resolve_enterprise

        app = request.app
        name = resolve_enterprise(app.state.store(), enterprise or app.state.settings.enterprise)
        warm_up(app, name)
        return {"enterprise": name, "status": "preparing"}

    return router
