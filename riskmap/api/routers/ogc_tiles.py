"""OGC API Tiles under /ogc: tile matrix sets, each collection's vector and map tilesets, and the vector tiles of a
collection (its features only, one geometry type, `rank` and `colour` on each), for GDAL's OGCAPI driver and QGIS.

Documents are built by riskmap.api.tilesets; the tiles come from the same map snapshot as /tiles (riskmap.render
.tilecache.TileService), so they are never older than the data: an ETag from the data version answers 304.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from riskmap.api import answers, tilesets
from riskmap.api import ogc_data as data
from riskmap.api.conditional import none_match, not_modified, validators
from riskmap.api.deps import enter
from riskmap.api.ogc_models import ERROR_RESPONSES
from riskmap.api.requests import drawing_of
from riskmap.errors import NotFoundError
from riskmap.render.grid import TileView

_ENTERPRISE = {"name": "enterprise", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "企业名称（默认：配置的或唯一的企业）/ enterprise name"}
_DRAWING = {"name": "drawing", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64},
            "description": "图纸（缺省为总平面布置图；见 /api/drawings）；示意图的瓦片在其自身平面的瓦片矩阵集 "
                           "DrawingPlane<z> 中 / "
                           "the drawing (default: the site plan; see /api/drawings); a schematic drawing's tiles are "
                           "in its own plane's tile matrix set DrawingPlane<z>"}
_DOC = {"responses": ERROR_RESPONSES, "openapi_extra": {"parameters": [_ENTERPRISE, _DRAWING]}}


def with_tiles(ref: data.CollectionRef) -> data.CollectionRef:
    """The collection, when it has OGC tilesets; 404 for the hazards (their tiles are the map's /tiles/hazards)."""
    if ref.kind not in data.KINDS:
        raise NotFoundError(f"集合 “{ref.id[:60]}” 没有 OGC 瓦片集（其地图瓦片见 /tiles/{ref.kind}）/ collection "
                            f"{ref.id[:60]!r} has no OGC tilesets (its map tiles: /tiles/{ref.kind})")
    return ref


def make_router() -> APIRouter:
    """The OGC API Tiles routes (tile matrix sets, tilesets and tiles of the collections) and
    /tiles/{layer}/metadata.json.
    """
    router = APIRouter(tags=["ogc-tiles"])

    def resolve(request: Request, collection_id: str) -> data.CollectionRef:
        enterprise = request.query_params.get("enterprise") or None
        ref = with_tiles(data.resolve_collection(request.app.state.store(), request.app.state.settings.enterprise,
                                                 enterprise, collection_id))
        enter(request, ref.enterprise)
        return ref

    def answer(request: Request, ref: data.CollectionRef, build) -> Response:
        store = request.app.state.store()
        found = validators(request, store, ref.enterprise.name, tilesets.collection_tile_links(request, ref))
        if (early := not_modified(request, found)) is not None:
            return early
        return JSONResponse(build(), headers=found.headers())

    @router.get("/ogc/tileMatrixSets", summary="瓦片矩阵集 / tile matrix sets", response_model=answers.TileMatrixSets)
    def tile_matrix_sets(request: Request):
        return JSONResponse(tilesets.tile_matrix_sets(request))

    @router.get("/ogc/tileMatrixSets/{tms_id}", summary="瓦片矩阵集定义 / a tile matrix set",
                response_model=answers.TileMatrixSet,
                responses=ERROR_RESPONSES)
    def tile_matrix_set(tms_id: str):
        return JSONResponse(tilesets.tms_document(tms_id), headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/ogc/collections/{collection_id}/tiles",
                response_model=answers.Tilesets, summary="矢量瓦片集 / vector tilesets", **_DOC)
    def vector_tilesets(collection_id: str, request: Request):
        ref = resolve(request, collection_id)
        return answer(request, ref, lambda: tilesets.tilesets(request, ref, title(ref), "vector",
                                                              plane_of(request, ref)[1]))

    @router.get("/ogc/collections/{collection_id}/map/tiles",
                response_model=answers.Tilesets, summary="地图瓦片集 / map tilesets", **_DOC)
    def map_tilesets(collection_id: str, request: Request):
        ref = resolve(request, collection_id)
        return answer(request, ref, lambda: tilesets.tilesets(request, ref, title(ref), "map",
                                                              plane_of(request, ref)[1]))

    @router.get("/ogc/collections/{collection_id}/tiles/{tms_id}",
                response_model=answers.Tileset, summary="矢量瓦片集说明 / vector tileset", **_DOC)
    def vector_tileset(collection_id: str, tms_id: str, request: Request):
        ref = resolve(request, collection_id)
        return answer(request, ref, lambda: details(request, ref, "vector", tms_id))

    @router.get("/ogc/collections/{collection_id}/map/tiles/{tms_id}",
                response_model=answers.Tileset, summary="地图瓦片集说明 / map tileset", **_DOC)
    def map_tileset(collection_id: str, tms_id: str, request: Request):
        ref = resolve(request, collection_id)
        return answer(request, ref, lambda: details(request, ref, "map", tms_id))

    @router.get("/ogc/collections/{collection_id}/tiles/{tms_id}/{tile_matrix}/{tile_row}/{tile_col}",
                summary="矢量瓦片 MVT / vector tile", response_class=Response,
                responses={200: {"content": {tilesets.MVT: {}}}, 304: {"description": "未修改 / not modified"},
                           **ERROR_RESPONSES}, openapi_extra={"parameters": [_ENTERPRISE, _DRAWING]})
    async def vector_tile(collection_id: str, tms_id: str, tile_matrix: str, tile_row: str, tile_col: str,
                          request: Request) -> Response:
        from riskmap.api.routers.tiles import tiles_of

        ref = resolve(request, collection_id)
        service = tiles_of(request).service
        found, plane = await run_in_threadpool(plane_of, request, ref)
        if plane is None and tms_id == tilesets.CRS84_TMS_ID:
            return await crs84_tile_response(request, ref, tilesets.tile_matrix_set(tms_id), tile_matrix, tile_row,
                                              tile_col)
        view = matrix_view(found, plane, tms_id, tile_matrix, tile_row, tile_col)
        if found is None:
            found, ent_id, name = service.lookup(ref.enterprise.name)
            if found is None:
                found = await run_in_threadpool(service.update, ent_id, name)
        style = service.style(ref.kind)
        stamp = found.stamp if found.drawing is not None else found.version       # a drawing's names it
        etag = f'"ogc.{found.enterprise_id}.{stamp}.{ref.id}.{view.key()}.{service.signature(style)}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if none_match(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        body = await run_in_threadpool(collection_tile, found, ref, view, style)
        return Response(body, media_type=tilesets.MVT, headers=headers)

    @router.get("/tiles/{layer}/metadata.json", summary="GDAL MVT 瓦片集说明 / metadata.json for GDAL's MVT reader",

response_model=answers.GdalTileMetadata, responses=ERROR_RESPONSES, openapi_extra={"parameters": [_ENTERPRISE]})
    async def mvt_metadata(layer: str, request: Request):
        """What GDAL's MVT driver reads before the tiles (`MVT:http://…/tiles/units`, TILE_EXTENSION=mvt): zooms,
        bounds and the vector layer's fields as the tiles carry them (riskmap.vocabulary)."""
        import json

        from riskmap.api.routers.tiles import tiles_of
        from riskmap.render.tiledata import fit_zoom, lonlat_bounds
        from riskmap.vocabulary import tile_fields

        if layer not in ("regions", "units", "layout", "staleness"):
            raise NotFoundError(f"没有矢量瓦片图层 “{layer[:40]}” / no vector tile layer {layer[:40]!r}")
        service = tiles_of(request).service
        found, ent_id, name = service.lookup(request.query_params.get("enterprise"))
        if found is None:
            found = await run_in_threadpool(service.update, ent_id, name)
        style = service.style(layer)
        box = found.bounds_3857()
        b = lonlat_bounds(box) if box else [-180.0, -85.0511287798, 180.0, 85.0511287798]
        zoom = max(style.mvt_min_zoom, min(style.max_zoom, fit_zoom(box))) if box else style.mvt_min_zoom
        vector_layers = [{"id": layer, "description": f"{style.title_zh} / {style.title_en}",
                          "minzoom": style.mvt_min_zoom, "maxzoom": style.max_zoom, "fields": tile_fields(layer)}]
        doc = {"name": f"{found.enterprise} · {style.title_zh}", "format": "pbf", "type": "overlay",
               "minzoom": str(style.mvt_min_zoom), "maxzoom": str(style.max_zoom),
               "bounds": ",".join(str(v) for v in b),
               "center": f"{(b[0] + b[2]) / 2:.7f},{(b[1] + b[3]) / 2:.7f},{zoom}",
               "json": json.dumps({"vector_layers": vector_layers}, ensure_ascii=False)}
        etag = f'"mvtmeta.{found.enterprise_id}.{found.version}.{layer}.{service.signature(style)}"'
        if none_match(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers={"ETag": etag})
        return JSONResponse(doc, headers={"ETag": etag, "Cache-Control": "no-cache"})

    return router


def title(ref: data.CollectionRef) -> str:
    """A collection's title in its tilesets."""
    return data.KIND_INFO[ref.kind].title + (f" ({ref.part})" if ref.part and ref.kind != "regions" else "")

def details(request: Request, ref: data.CollectionRef, data_type: str, tms_id: str) -> dict:
    """One tileset's metadata (of the drawing the request names)."""
    from riskmap.render.style import load_layer_style
    from riskmap.vocabulary import tile_fields

    found, plane = plane_of(request, ref)
    if plane is None:
        tilesets.tile_matrix_set(tms_id)                # 404 for another tile matrix set
    store = request.app.state.store()
    coll = data.plant_cache(request.app).view(store, ref.enterprise.name, drawing_of(request)) \
        .collection(ref.kind, part=ref.part)
    properties = data.KIND_INFO[ref.kind].properties          # WorldCRS84Quad tiles carry the items' fields
    fields = tile_fields(ref.kind) if tms_id != tilesets.CRS84_TMS_ID else {
        name: ("Number" if kind == "integer" else "String") for name, kind, _ in properties}
    return tilesets.tileset(request, ref, title(ref), data_type, tms_id, style=load_layer_style(ref.kind),
                            bounds=coll.bbox, fields=fields, geometry_type=coll.geometry_type, plane=plane,
                            box_3857=found.bounds_3857() if plane is not None else None)


def plane_of(request: Request, ref: data.CollectionRef):
    """(the drawing's TileData, its plane) of a schematic drawing named by ?drawing=; (None, None) for the site
    plan, (TileData, None) for a georeferenced drawing."""
    from riskmap.api.routers.tiles import tiles_of

    key = drawing_of(request)
    if key is None:
        return None, None
    found = tiles_of(request).service.drawing(ref.enterprise.name, key, None)
    plane = found.drawing.plane if found.drawing.schematic and found.drawing.plane else None
    return found, plane


def matrix_view(found, plane: dict | None, tms_id: str, tile_matrix: str, tile_row: str, tile_col: str) -> TileView:
    """The Web Mercator tile a vector tile of a tile matrix set is: WebMercatorQuad's own, or a schematic
    drawing's plane tile (riskmap.drawings.plane_tile); 404 for a tile matrix set the drawing has no tiles in."""
    from riskmap.api.routers.tiles import drawing_view
    from riskmap.render.grid import tile_view

    if plane is not None:                      # a schematic drawing: its own plane's tile matrix set only
        if tms_id != tilesets.plane_tms_id(plane):
            raise NotFoundError(f"示意图的瓦片只有 {tilesets.plane_tms_id(plane)} / a schematic drawing's tiles "
                                f"come in {tilesets.plane_tms_id(plane)} only")
        return drawing_view(found.drawing, tile_matrix, tile_col, tile_row)
    tilesets.tile_matrix_set(tms_id)           # 404 for another tile matrix set
    return tile_view(tile_matrix, tile_col, tile_row)


async def crs84_tile_response(request: Request, ref: data.CollectionRef, tms, z: str, row: str, col: str) -> Response:
    """A WorldCRS84Quad vector tile of a collection, from its OGC features (lon/lat, the collection's fields)."""
    import morecantile

    from riskmap.render.grid import MVT_BUFFER, MVT_EXTENT
    from riskmap.render.mvt import encode_mvt

    try:
        tile = morecantile.Tile(int(col), int(row), int(z))
    except ValueError:
        raise NotFoundError("瓦片坐标应为整数 / tile coordinates must be integers") from None
    if not 0 <= tile.z <= 24 or not tms.is_valid(tile):
        raise NotFoundError(f"瓦片 {z}/{row}/{col} 不存在 / no tile {z}/{row}/{col} in {tms.id}")
    store = request.app.state.store()
    key = drawing_of(request)
    view_data = data.plant_cache(request.app).view(store, ref.enterprise.name, key)
    tag = "" if key is None else hashlib.sha1(key.encode()).hexdigest()[:12] + "."
    etag = f'"ogc84.{tag}{view_data.version}.{ref.id}.{tile.z}.{tile.y}.{tile.x}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    coll = view_data.collection(ref.kind, part=ref.part)
    b = tms.xy_bounds(tile)
    pad = (b.right - b.left) * MVT_BUFFER / MVT_EXTENT
    rows = coll.rows([(b.left - pad, b.bottom - pad, b.right + pad, b.top + pad)])
    if not len(rows):
        return Response(b"", media_type=tilesets.MVT, headers=headers)
    columns = {name: coll.properties[name].to_numpy(dtype=object)[rows] for name in coll.properties.columns}
    columns["geometry"] = coll.geometry[rows]
    body = encode_mvt({ref.id: columns}, LonLatTile(tile.z, tile.x, tile.y, box=(b.left, b.bottom, b.right, b.top)))
    return Response(body, media_type=tilesets.MVT, headers=headers)


@dataclass(frozen=True)
class LonLatTile(TileView):
    """A tile whose bounds are lon/lat (WorldCRS84Quad), for the MVT encoder, which only needs a tile's bounds."""

    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """The tile's lon/lat bounds, which is all the MVT encoder needs."""
        return self.box


def collection_tile(found, ref: data.CollectionRef, view, style) -> bytes:
    """The vector tile of one collection: its layer's features of its geometry type, named by the collection."""
    from riskmap.render.mvt import encode_mvt
    from riskmap.render.tilecache import data_pad_px
    from riskmap.vocabulary import part_masks

    if ref.kind not in found.layers:
        raise NotFoundError(f"集合 {ref.id} 没有瓦片 / collection {ref.id!r} has no tiles")
    if not style.visible_as("mvt", view.z):
        return b""
    layer = found.layer(ref.kind)
    hits = layer.query(view.buffered_bounds(data_pad_px(style, "mvt", view.z)))
    if ref.part is not None and len(hits):
        hits = hits[part_masks(layer.geometry[hits])[ref.part]]
    if not len(hits):
        return b""
    return encode_mvt({ref.id: layer.frame(hits)}, view, styles={ref.id: style})
