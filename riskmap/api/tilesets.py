"""OGC API Tiles documents for riskmap's tiles: tile matrix sets (from morecantile), the tilesets of a collection
and their metadata, and the links a collection shows for them (GDAL's OGCAPI driver and QGIS follow those).

Every collection has a vector tileset (Mapbox vector tiles of its features, one geometry type as the collection
itself, `rank` and `colour` on every feature) and a map tileset (the PNG tiles of its layer, as the web map draws
them), both in WebMercatorQuad, the grid all of riskmap's tiles use. Tile URLs are templates over the routes
that serve them: `/ogc/collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}` for vector tiles,
`/tiles/{layer}/{z}/{x}/{y}.png` for map tiles.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import morecantile
from fastapi import Request

MVT = "application/vnd.mapbox-vector-tile"
PNG = "image/png"
JSON = "application/json"
TMS_ID = "WebMercatorQuad"
TMS = morecantile.tms.get(TMS_ID)
REL = "http://www.opengis.net/def/rel/ogc/1.0/"
TILES_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
# The deepest tile matrix a tileset offers: a client reading a whole collection through tiles (GDAL) takes the
# deepest one, and a plant at z24 is millions of tiles. Vector tiles at z18 keep 4 cm (1/16 px), map tiles at
# z20 show 15 cm per pixel; the /tiles routes and TileJSON go on to z24 for web maps.
MAX_VECTOR_MATRIX = 18
MAX_MAP_MATRIX = 20
GEOMETRY_DIMENSION = {"areas": "polygons", "lines": "lines", "points": "points"}


def tile_layer(kind: str) -> str:
    """The tile layer (riskmap.api.routers.tiles) that draws a collection kind."""
    return kind


def _base(request: Request) -> str:
    from riskmap.api.public_url import public_base_url

    return public_base_url(request)


def _query(request: Request) -> str:
    enterprise = request.query_params.get("enterprise")
    return "?" + urlencode({"enterprise": enterprise}) if enterprise else ""


def _link(href: str, rel: str, media_type: str, title: str, **extra) -> dict:
    return {"href": href, "rel": rel, "type": media_type, "title": title, **extra}


def collection_path(collection_id: str) -> str:
    return "/ogc/collections/" + quote(collection_id, safe="")


def collection_tile_links(request: Request, ref) -> list[dict]:
    """The links of a collection document to its vector and map tilesets."""
    path = _base(request) + collection_path(ref.id)
    q = _query(request)
    return [
        _link(f"{path}/tiles{q}", REL + "tilesets-vector", JSON, "矢量瓦片集 / vector tilesets"),
        _link(f"{path}/map/tiles{q}", REL + "tilesets-map", JSON, "地图瓦片集 / map tilesets"),
    ]


def tile_matrix_sets(request: Request) -> dict:
    url = f"{_base(request)}/ogc/tileMatrixSets/{TMS_ID}"
    return {"tileMatrixSets": [{"id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS.uri,
                                "links": [_link(url, "self", JSON, TMS_ID),
                                          _link(url, REL + "tiling-scheme", JSON, TMS_ID)]}]}


def tile_matrix_set(tms_id: str) -> dict:
    from riskmap.errors import NotFoundError

    if tms_id != TMS_ID:
        raise NotFoundError(f"没有瓦片矩阵集 “{tms_id[:60]}”，可用：{TMS_ID} / no tile matrix set {tms_id[:60]!r}; "
                            f"available: {TMS_ID}")
    return tms_document()


def tms_document() -> dict:
    """WebMercatorQuad as TMS 2.0 JSON (morecantile's), with the TMS 1.0 members beside it: GDAL 3.6 (Debian 12)
    reads only those (`type`, `identifier`, `supportedCRS`, `tileMatrix`), newer readers the 2.0 ones."""
    doc = TMS.model_dump(exclude_none=True, mode="json")
    crs = doc["crs"] if isinstance(doc["crs"], str) else doc["crs"].get("uri", str(doc["crs"]))
    bounds = TMS.xy_bbox
    doc.update({
        "type": "TileMatrixSetType",
        "identifier": TMS_ID,
        "supportedCRS": crs,
        "boundingBox": {"type": "BoundingBoxType", "crs": crs, "lowerCorner": [bounds.left, bounds.bottom],
                        "upperCorner": [bounds.right, bounds.top]},
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrix": [{"type": "TileMatrixType", "identifier": m.id, "scaleDenominator": m.scaleDenominator,
                        "topLeftCorner": list(m.pointOfOrigin), "tileWidth": m.tileWidth, "tileHeight": m.tileHeight,
                        "matrixWidth": m.matrixWidth, "matrixHeight": m.matrixHeight} for m in TMS.tileMatrices],
    })
    return doc


def limits(bounds: list[float] | None, min_zoom: int, max_zoom: int) -> list[dict]:
    """tileMatrixSetLimits of the tiles that cover `bounds` (lon/lat), zoom by zoom."""
    if not bounds:
        return []
    west, south, east, north = bounds
    out = []
    for z in range(min_zoom, max_zoom + 1):
        top_left, bottom_right = TMS.tile(west, north, z), TMS.tile(east, south, z)
        out.append({"tileMatrix": str(z), "minTileRow": top_left.y, "maxTileRow": bottom_right.y,
                    "minTileCol": top_left.x, "maxTileCol": bottom_right.x})
    return out


def tilesets(request: Request, ref, title: str, data_type: str) -> dict:
    """The tilesets list of a collection (one: WebMercatorQuad)."""
    path = _base(request) + collection_path(ref.id) + ("/tiles" if data_type == "vector" else "/map/tiles")
    q = _query(request)
    return {"tilesets": [{
        "title": f"{title}（{TMS_ID}）",
        "dataType": data_type,
        "crs": TMS.crs.root if hasattr(TMS.crs, "root") else str(TMS.crs),
        "tileMatrixSetURI": TMS.uri,
        "links": [_link(f"{path}/{TMS_ID}{q}", "self", JSON, f"{TMS_ID} 瓦片集 / tileset"),
                  _link(f"{_base(request)}/ogc/tileMatrixSets/{TMS_ID}", REL + "tiling-scheme", JSON, TMS_ID)],
    }]}


def tileset(request: Request, ref, title: str, data_type: str, *, style, bounds: list[float] | None,
            fields: dict[str, Any], geometry_type: str | None) -> dict:
    """One tileset's metadata: the tile URL template, limits, and (vector) the layer in the tiles."""
    base = _base(request)
    q = _query(request)
    if data_type == "vector":
        min_zoom, max_zoom = style.mvt_min_zoom, min(style.max_zoom, MAX_VECTOR_MATRIX)
        template = f"{base}{collection_path(ref.id)}/tiles/{TMS_ID}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{q}"
        media = MVT
    else:
        min_zoom, max_zoom = style.min_zoom, min(style.max_zoom, MAX_MAP_MATRIX)
        template = f"{base}/tiles/{quote(tile_layer(ref.kind))}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}.png{q}"
        media = PNG
    doc: dict[str, Any] = {
        "title": f"{title}（{TMS_ID}）",
        "dataType": data_type,
        "crs": str(TMS.crs.root) if hasattr(TMS.crs, "root") else str(TMS.crs),
        "tileMatrixSetURI": TMS.uri,
        "links": [
            _link(f"{base}{collection_path(ref.id)}/{'tiles' if data_type == 'vector' else 'map/tiles'}/{TMS_ID}{q}",
                  "self", JSON, "本瓦片集 / this tileset"),
            _link(f"{base}/ogc/tileMatrixSets/{TMS_ID}", REL + "tiling-scheme", JSON, TMS_ID),
            _link(template, "item", media, "瓦片 / tiles", templated=True),
        ],
        "tileMatrixSetLimits": limits(bounds, min_zoom, max_zoom),
    }
    if data_type == "vector":
        doc["layers"] = [{
            "id": ref.id, "title": title, "dataType": "vector",
            "geometryType": GEOMETRY_DIMENSION.get(ref.part or "areas", "polygons"),
            "minTileMatrix": str(min_zoom), "maxTileMatrix": str(max_zoom),
            "propertiesSchema": {"type": "object", "properties": {
                name: {"type": {"Number": "integer", "Boolean": "boolean"}.get(kind, "string")}
                for name, kind in fields.items()}},
        }]
        if geometry_type:
            doc["layers"][0]["x-geometryType"] = geometry_type
    return doc
