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
# Vector tiles come in WorldCRS84Quad too: GDAL's OGCAPI driver prefers it and compares the collection's CRS84
# extent with the tile matrix set's coordinates as they are (so WebMercatorQuad finds no tiles there).
CRS84_TMS_ID = "WorldCRS84Quad"
TILE_MATRIX_SETS = {TMS_ID: TMS, CRS84_TMS_ID: morecantile.tms.get(CRS84_TMS_ID)}
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
    """The path of a collection under /ogc, its id URL-quoted (ids may hold any character)."""
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
    """The tile matrix sets document (/ogc/tileMatrixSets): every set offered, with links to its definition."""
    out = []
    for tms_id, tms in TILE_MATRIX_SETS.items():
        url = f"{_base(request)}/ogc/tileMatrixSets/{tms_id}"
        out.append({"id": tms_id, "title": tms.title, "uri": tms.uri,
                    "links": [_link(url, "self", JSON, tms_id), _link(url, REL + "tiling-scheme", JSON, tms_id)]})
    return {"tileMatrixSets": out}


def tile_matrix_set(tms_id: str):
    """The morecantile TileMatrixSet of an id; NotFoundError for another."""
    from riskmap.errors import NotFoundError

    if tms_id not in TILE_MATRIX_SETS:
        raise NotFoundError(f"没有瓦片矩阵集 “{tms_id[:60]}”，可用：{', '.join(TILE_MATRIX_SETS)} / no tile matrix set "
                            f"{tms_id[:60]!r}; available: {', '.join(TILE_MATRIX_SETS)}")
    return TILE_MATRIX_SETS[tms_id]


def _urn(uri: str) -> str:
    """http://www.opengis.net/def/crs/EPSG/0/3857 → urn:ogc:def:crs:EPSG::3857 (OGC/1.3/CRS84 → …:OGC:1.3:CRS84)."""
    head = "http://www.opengis.net/def/crs/"
    if not uri.startswith(head):
        return uri
    authority, version, code = uri[len(head):].split("/")
    return f"urn:ogc:def:crs:{authority}:{'' if version == '0' else version}:{code}"


def tms_document(tms_id: str) -> dict:
    """A tile matrix set as TMS 2.0 JSON (morecantile's), with the TMS 1.0 members beside it: GDAL 3.6 (Debian 12)
    reads only those (`type`, `identifier`, `supportedCRS`, `tileMatrix`), newer readers the 2.0 ones."""
    tms = tile_matrix_set(tms_id)
    doc = tms.model_dump(exclude_none=True, mode="json")
    crs = doc["crs"] if isinstance(doc["crs"], str) else doc["crs"].get("uri", str(doc["crs"]))
    bounds = tms.xy_bbox
    doc.update({
        "type": "TileMatrixSetType",
        "identifier": tms_id,
        # GDAL 3.6 opens the CRS with network access forbidden, where an http://www.opengis.net/… URL fails:
        # the 1.0 member names it as a URN, which needs no network
        "supportedCRS": _urn(crs),
        "boundingBox": {"type": "BoundingBoxType", "crs": crs, "lowerCorner": [bounds.left, bounds.bottom],
                        "upperCorner": [bounds.right, bounds.top]},
        "tileMatrix": [{"type": "TileMatrixType", "identifier": m.id, "scaleDenominator": m.scaleDenominator,
                        "topLeftCorner": list(m.pointOfOrigin), "tileWidth": m.tileWidth, "tileHeight": m.tileHeight,
                        "matrixWidth": m.matrixWidth, "matrixHeight": m.matrixHeight} for m in tms.tileMatrices],
    })
    if doc.get("wellKnownScaleSet"):
        doc["wellKnownScaleSet"] = str(doc["wellKnownScaleSet"])
    return doc


def limits(bounds: list[float] | None, min_zoom: int, max_zoom: int, tms_id: str = TMS_ID) -> list[dict]:
    """tileMatrixSetLimits of the tiles that cover `bounds` (lon/lat), zoom by zoom."""
    if not bounds:
        return []
    tms = TILE_MATRIX_SETS[tms_id]
    west, south, east, north = bounds
    out = []
    for z in range(min_zoom, max_zoom + 1):
        top_left, bottom_right = tms.tile(west, north, z), tms.tile(east, south, z)
        out.append({"tileMatrix": str(z), "minTileRow": top_left.y, "maxTileRow": bottom_right.y,
                    "minTileCol": top_left.x, "maxTileCol": bottom_right.x})
    return out


def _crs(tms) -> str:
    return str(tms.crs.root) if hasattr(tms.crs, "root") else str(tms.crs)


def tilesets(request: Request, ref, title: str, data_type: str) -> dict:
    """The tilesets list of a collection: vector tiles in WebMercatorQuad and WorldCRS84Quad, map tiles in
    WebMercatorQuad."""
    path = _base(request) + collection_path(ref.id) + ("/tiles" if data_type == "vector" else "/map/tiles")
    q = _query(request)
    ids = list(TILE_MATRIX_SETS) if data_type == "vector" else [TMS_ID]
    return {"tilesets": [{
        "title": f"{title}（{tms_id}）",
        "dataType": data_type,
        "crs": _crs(TILE_MATRIX_SETS[tms_id]),
        "tileMatrixSetURI": TILE_MATRIX_SETS[tms_id].uri,
        "links": [_link(f"{path}/{tms_id}{q}", "self", JSON, f"{tms_id} 瓦片集 / tileset"),
                  _link(f"{_base(request)}/ogc/tileMatrixSets/{tms_id}", REL + "tiling-scheme", JSON, tms_id)],
    } for tms_id in ids]}


def tileset(request: Request, ref, title: str, data_type: str, tms_id: str, *, style, bounds: list[float] | None,
            fields: dict[str, Any], geometry_type: str | None) -> dict:
    """One tileset's metadata: the tile URL template, limits, and (vector) the layer in the tiles."""
    from riskmap.errors import NotFoundError

    tms = tile_matrix_set(tms_id)
    if data_type == "map" and tms_id != TMS_ID:
        raise NotFoundError(f"地图瓦片只有 {TMS_ID} / map tiles come in {TMS_ID} only")
    base = _base(request)
    q = _query(request)
    if data_type == "vector":
        min_zoom, max_zoom = style.mvt_min_zoom, min(style.max_zoom, MAX_VECTOR_MATRIX)
        if tms_id == CRS84_TMS_ID:       # WorldCRS84Quad's zoom z is about WebMercatorQuad's z - 1
            min_zoom, max_zoom = max(0, min_zoom - 1), max_zoom - 1
        template = f"{base}{collection_path(ref.id)}/tiles/{tms_id}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{q}"
        media = MVT
    else:
        min_zoom, max_zoom = style.min_zoom, min(style.max_zoom, MAX_MAP_MATRIX)
        template = f"{base}/tiles/{quote(tile_layer(ref.kind))}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}.png{q}"
        media = PNG
    path = "tiles" if data_type == "vector" else "map/tiles"
    doc: dict[str, Any] = {
        "title": f"{title}（{tms_id}）",
        "dataType": data_type,
        "crs": _crs(tms),
        "tileMatrixSetURI": tms.uri,
        "links": [
            _link(f"{base}{collection_path(ref.id)}/{path}/{tms_id}{q}", "self", JSON, "本瓦片集 / this tileset"),
            _link(f"{base}/ogc/tileMatrixSets/{tms_id}", REL + "tiling-scheme", JSON, tms_id),
            _link(template, "item", media, "瓦片 / tiles", templated=True),
        ],
        "tileMatrixSetLimits": limits(bounds, min_zoom, max_zoom, tms_id),
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
    return doc
