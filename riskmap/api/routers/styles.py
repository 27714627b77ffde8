"""Styles for other clients, generated from layers/ (riskmap.render.styles_export): `/styles` lists the maps, and
each map has a MapLibre style (`/styles/{map}/style.json`, its sources the absolute, versioned TileJSON of this
service), an SLD (`/styles/{map}/style.sld`), a QGIS style per table (`/styles/{map}/{table}.qml`) and its legend
(`/styles/{map}/legend.json`, each entry the colour drawn). `?enterprise=` picks the enterprise's tiles. The
risk map's MapLibre style draws the hidden hazards with the icons of `/styles/sprites/hazards` (a MapLibre
sprite: `.json`, `.png`, `@2x.json`, `@2x.png`; riskmap.render.hazardsprite).
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from riskmap.api import answers
from riskmap.api.conditional import not_modified, validators
from riskmap.api.ogc_models import ERROR_RESPONSES
from riskmap.errors import NotFoundError
from riskmap.render import styles_export

SLD = "application/vnd.ogc.sld+xml"
QML = "application/xml"
MAPLIBRE = "application/vnd.mapbox.style+json"
# The sprite's files as MapLibre asks for them: pixel ratio and kind.
SPRITE_FILES = {"hazards.json": (1, "json"), "hazards.png": (1, "png"), "hazards@2x.json": (2, "json"),
                "hazards@2x.png": (2, "png")}


def _map(name: str) -> str:
    if name not in styles_export.MAPS:
        raise NotFoundError(f"没有地图样式 “{name[:40]}”，可用：{', '.join(styles_export.MAPS)} / no map style "
                            f"{name[:40]!r}; available: {', '.join(styles_export.MAPS)}")
    return name


def make_router() -> APIRouter:
    """The map style routes under /styles: the list, and each map's Mapbox/MapLibre style, SLD, legend and QGIS styles.
    """
    router = APIRouter(prefix="/styles", tags=["styles"])

    def base(request: Request) -> str:
        from riskmap.api.public_url import public_base_url

        return public_base_url(request)

    def enterprise_query(request: Request, extra: dict | None = None) -> str:
        params = {k: v for k, v in {"enterprise": request.query_params.get("enterprise"), **(extra or {})}.items()
                  if v}
        return ("?" + urlencode(params)) if params else ""

    def current(request: Request):
        from riskmap.api.routers.tiles import tiles_of

        service = tiles_of(request).service
        found, ent_id, name = service.lookup(request.query_params.get("enterprise"))
        return found if found is not None else service.update(ent_id, name)

    @router.get("", summary="地图样式列表 / map styles", response_model=answers.Styles)
    def listing(request: Request):
        root = base(request)
        q = enterprise_query(request)
        styles = []
        for name, (zh, en, layers, _) in styles_export.MAPS.items():
            links = [{"href": f"{root}/styles/{name}/style.json{q}", "rel": "stylesheet", "type": MAPLIBRE,
                      "title": "MapLibre GL"},
                     {"href": f"{root}/styles/{name}/style.sld", "rel": "stylesheet", "type": SLD, "title": "SLD 1.0"},
                     {"href": f"{root}/styles/{name}/legend.json", "rel": "describedby", "type": "application/json",
                      "title": "图例 / legend"}]
            links += [{"href": f"{root}/styles/{name}/{table}.qml", "rel": "stylesheet", "type": QML,
                       "title": f"QGIS ({table})"} for table in styles_export.sld_tables(name)]
            styles.append({"id": name, "title": f"{zh} / {en}", "layers": list(layers), "links": links})
        return JSONResponse({"styles": styles})

    @router.get("/sprites/{file}", summary="隐患图标（MapLibre sprite）/ the hazards' icons (MapLibre sprite)",
                response_class=Response, responses={200: {"content": {"application/json": {}, "image/png": {}}},
                                                    **ERROR_RESPONSES})
    def sprite_file(file: str, request: Request):
        from riskmap.api.conditional import none_match
        from riskmap.render import hazardsprite
        from riskmap.render.style import load_hazard_style

        if file not in SPRITE_FILES:
            raise NotFoundError(f"没有图标文件 “{file[:40]}”，可用：{', '.join(SPRITE_FILES)} / no sprite file "
                                f"{file[:40]!r}; available: {', '.join(SPRITE_FILES)}")
        ratio, kind = SPRITE_FILES[file]
        style = load_hazard_style()
        image, index = hazardsprite.sprite(style, ratio)
        body = image if kind == "png" else index
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        # revalidated, not immutable: the URL stays the same when the symbology file is edited
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if none_match(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="image/png" if kind == "png" else "application/json", headers=headers)

    @router.get("/{map_name}/style.json", summary="MapLibre 样式 / MapLibre GL style",
                response_model=answers.MapLibreStyle,
                responses=ERROR_RESPONSES)
    def maplibre(map_name: str, request: Request):
        from riskmap.render.tiledata import fit_zoom, lonlat_bounds

        name = _map(map_name)
        found = current(request)
        root = base(request)
        checked = validators(request, request.app.state.store(), found.enterprise, root)
        if (early := not_modified(request, checked)) is not None:
            return early
        box = found.bounds_3857()
        center = zoom = None
        if box:
            b = lonlat_bounds(box)
            center, zoom = [round((b[0] + b[2]) / 2, 7), round((b[1] + b[3]) / 2, 7)], fit_zoom(box)

        def tilejson(layer: str, fmt: str) -> str:
            extra = {"format": fmt} if fmt != "png" else {}
            if layer == "labels":
                extra["layers"] = "regions,units,layout"
            return f"{root}/tiles/{layer}/tilejson.json" + enterprise_query(
                request, {"enterprise": found.enterprise, **extra})

        doc = styles_export.maplibre_style(name, tilejson, center=center, zoom=zoom,
                                           sprite=f"{root}/styles/sprites/hazards")
        return JSONResponse(doc, headers=checked.headers())

    @router.get("/{map_name}/style.sld", summary="SLD 1.0（GeoServer）", response_class=Response,
                responses={200: {"content": {SLD: {}}}, **ERROR_RESPONSES})
    def sld(map_name: str):
        return Response(styles_export.sld(styles_export.sld_tables(_map(map_name))), media_type=SLD,
                        headers={"Cache-Control": "no-cache"})

    @router.get("/{map_name}/legend.json", summary="图例（绘制的颜色）/ legend (the colours drawn)",
                response_model=answers.Legend, responses=ERROR_RESPONSES)
    def legend(map_name: str):
        from riskmap.render.style import load_layer_style

        layers = {}
        for layer in styles_export.MAPS[_map(map_name)][2]:
            style = load_layer_style(layer)
            layers[layer] = {"title": {"zh": style.title_zh, "en": style.title_en},
                             "entries": [{**e, "rank": style.rank_of(e["key"])} for e in style.legend()]}
        return JSONResponse({"map": map_name, "layers": layers})

    @router.get("/{map_name}/{table}.qml", summary="QGIS 样式 / QGIS style (QML)", response_class=Response,
                responses={200: {"content": {QML: {}}}, **ERROR_RESPONSES})
    def qml(map_name: str, table: str):
        from riskmap.vocabulary import split_table

        tables = styles_export.sld_tables(_map(map_name))
        if table not in tables:
            raise NotFoundError(f"地图 {map_name} 没有图层 “{table[:40]}”，可用：{', '.join(tables)} / no table "
                                f"{table[:40]!r} in map {map_name}")
        layer, part = split_table(table)
        return Response(styles_export.qgis_qml(layer, part), media_type=QML, headers={"Cache-Control": "no-cache"})

    return router
