"""OGC API Tiles documents for riskmap's tiles: tile matrix sets (from morecantile), the tilesets of a collection
and their metadata, and the links a collection shows for them (GDAL's OGCAPI driver and QGIS follow those).

Every collection has a vector tileset (Mapbox vector tiles of its features, one geometry type as the collection
itself, `rank` and `colour` on every feature) and a map tileset (the PNG tiles of its layer, as the web map draws
them), both in WebMercatorQuad, the grid all of riskmap's tiles use. Tile URLs are templates over the routes
that serve them: `/ogc/collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}` for vector tiles,
`/tiles/{layer}/{z}/{x}/{y}.png` for map tiles.

A drawing other than the site plan (`?drawing=KEY`) has the same tilesets; a schematic drawing, with no place on
the earth, has them in a tile matrix set of its own plane instead (`DrawingPlane<z0>`: level 0 is the square that
holds the drawing, in drawing units from its top-left corner, y up; riskmap.drawings.schematic_plane).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote, urlencode

import morecantile
from fastapi import Request

from riskmap.drawings import EARTH_HALF

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
    """The query a tileset's links keep: the enterprise and the drawing."""
    kept = {k: request.query_params.get(k) for k in ("enterprise", "drawing") if request.query_params.get(k)}
    return "?" + urlencode(kept) if kept else ""


# ---------------------------------------------------------------------------------------------- drawing planes

PLANE_PREFIX = "DrawingPlane"
PLANE_WKT = ('ENGCRS["riskmap drawing plane (no place on the earth)",EDATUM["top-left corner of the drawing"],'
             'CS[Cartesian,2],AXIS["x",east,ORDER[1],LENGTHUNIT["drawing unit",1]],'
             'AXIS["y",north,ORDER[2],LENGTHUNIT["drawing unit",1]]]')
# A schematic drawing's tiles go as deep as the /tiles routes go (z24 in Web Mercator terms).
MAX_PLANE_DEPTH = 24


def plane_tms_id(plane: dict) -> str:
    """The tile matrix set of a schematic drawing's plane (its level-0 zoom names its size)."""
    return f"{PLANE_PREFIX}{int(plane['zoom'])}"


def plane_zoom(tms_id: str) -> int | None:
    """The level-0 zoom a DrawingPlane id names, None for another id (or a number out of range)."""
    digits = tms_id[len(PLANE_PREFIX):] if tms_id.startswith(PLANE_PREFIX) else ""
    if not digits.isdigit() or len(digits) > 2 or not 1 <= int(digits) <= MAX_PLANE_DEPTH:
        return None
    return int(digits)


def plane_tms_document(tms_id: str) -> dict:
    """A DrawingPlane tile matrix set as TMS 2.0 JSON (with the 1.0 members, as tms_document gives them): square
    tiles of 256 px from the drawing's top-left corner, each level halving the cell size."""
    z0 = plane_zoom(tms_id)
    size = 2 * EARTH_HALF / 2 ** z0
    matrices = []
    for z in range(MAX_PLANE_DEPTH - z0 + 1):
        cell = size / 256 / 2 ** z
        matrices.append({"id": str(z), "scaleDenominator": cell / 0.00028, "cellSize": cell,
                         "cornerOfOrigin": "topLeft", "pointOfOrigin": [0.0, 0.0], "tileWidth": 256,
                         "tileHeight": 256, "matrixWidth": 2 ** z, "matrixHeight": 2 ** z})
    return {
        "id": tms_id, "title": f"示意图平面（边长 {size:g} 图纸单位）/ a schematic drawing's plane ({size:g} units)",
        "crs": {"wkt": PLANE_WKT}, "orderedAxes": ["x", "y"], "tileMatrices": matrices,
        "type": "TileMatrixSetType", "identifier": tms_id, "supportedCRS": PLANE_WKT,
        "boundingBox": {"type": "BoundingBoxType", "crs": PLANE_WKT, "lowerCorner": [0.0, -size],
                        "upperCorner": [size, 0.0]},
        "tileMatrix": [{"type": "TileMatrixType", "identifier": m["id"], "scaleDenominator": m["scaleDenominator"],
                        "topLeftCorner": m["pointOfOrigin"], "tileWidth": 256, "tileHeight": 256,
                        "matrixWidth": m["matrixWidth"], "matrixHeight": m["matrixHeight"]} for m in matrices],
    }


def plane_limits(plane: dict, box_3857, min_zoom: int, max_zoom: int) -> list[dict]:
    """tileMatrixSetLimits of a schematic drawing's content (`box_3857`: its bounds as stored, Web Mercator metres
    from the drawing's top-left corner) in its plane's tile matrix set."""
    if not box_3857:
        return []
    size = 2 * EARTH_HALF / 2 ** int(plane["zoom"])
    minx, miny, maxx, maxy = box_3857
    top = MAX_PLANE_DEPTH - int(plane["zoom"])
    out = []
    for z in range(min_zoom, min(max_zoom, top) + 1):
        n, span = 2 ** z, size / 2 ** z

        def clamp(v: float, n: int = n) -> int:
            return max(0, min(n - 1, math.floor(v)))

        out.append({"tileMatrix": str(z), "minTileRow": clamp(-maxy / span), "maxTileRow": clamp(-miny / span),
                    "minTileCol": clamp(minx / span), "maxTileCol": clamp(maxx / span)})
    return out


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
    if plane_zoom(tms_id) is not None:
        return plane_tms_document(tms_id)
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


def tilesets(request: Request, ref, title: str, data_type: str, plane: dict | None = None) -> dict:
    """The tilesets list of a collection: vector tiles in WebMercatorQuad and WorldCRS84Quad, map tiles in
    WebMercatorQuad; for a schematic drawing (`plane`), both in its plane's tile matrix set."""
    path = _base(request) + collection_path(ref.id) + ("/tiles" if data_type == "vector" else "/map/tiles")
    q = _query(request)
    if plane is not None:
        tms_id = plane_tms_id(plane)
        return {"tilesets": [{
            "title": f"{title}（{tms_id}）", "dataType": data_type, "crs": {"wkt": PLANE_WKT},
            "links": [_link(f"{path}/{tms_id}{q}", "self", JSON, f"{tms_id} 瓦片集 / tileset"),
                      _link(f"{_base(request)}/ogc/tileMatrixSets/{tms_id}", REL + "tiling-scheme", JSON, tms_id)],
        }]}
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
            fields: dict[str, Any], geometry_type: str | None, plane: dict | None = None,
            box_3857: Any = None) -> dict:
    """One tileset's metadata: the tile URL template, limits, and (vector) the layer in the tiles; for a schematic
    drawing (`plane`, with its content's `box_3857`) in its plane's tile matrix set only."""
    from riskmap.errors import NotFoundError

    vector = data_type == "vector"
    if plane is not None:
        if tms_id != plane_tms_id(plane):
            raise NotFoundError(f"示意图的瓦片只有 {plane_tms_id(plane)} / a schematic drawing's tiles come in "
                                f"{plane_tms_id(plane)} only")
        # the style's zooms are Web Mercator's: level 0 of the plane is z0 (the /tiles routes number it so too)
        z0 = int(plane["zoom"])
        low = style.mvt_min_zoom if vector else style.min_zoom
        min_zoom, max_zoom = max(0, low - z0), min(MAX_PLANE_DEPTH - z0, max(0, style.max_zoom - z0))
        described = {"crs": {"wkt": PLANE_WKT}}
        tile_limits = plane_limits(plane, box_3857, min_zoom, max_zoom)
    else:
        tms = tile_matrix_set(tms_id)
        if not vector and tms_id != TMS_ID:
            raise NotFoundError(f"地图瓦片只有 {TMS_ID} / map tiles come in {TMS_ID} only")
        if vector:
            min_zoom, max_zoom = style.mvt_min_zoom, min(style.max_zoom, MAX_VECTOR_MATRIX)
            if tms_id == CRS84_TMS_ID:       # WorldCRS84Quad's zoom z is about WebMercatorQuad's z - 1
                min_zoom, max_zoom = max(0, min_zoom - 1), max_zoom - 1
        else:
            min_zoom, max_zoom = style.min_zoom, min(style.max_zoom, MAX_MAP_MATRIX)
        described = {"crs": _crs(tms), "tileMatrixSetURI": tms.uri}
        tile_limits = limits(bounds, min_zoom, max_zoom, tms_id)
    base = _base(request)
    q = _query(request)
    if vector:
        template = f"{base}{collection_path(ref.id)}/tiles/{tms_id}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{q}"
        media = MVT
    else:
        template = f"{base}/tiles/{quote(tile_layer(ref.kind))}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}.png{q}"
        media = PNG
    path = "tiles" if vector else "map/tiles"
    doc: dict[str, Any] = {
        "title": f"{title}（{tms_id}）",
        "dataType": data_type,
        **described,
        "links": [
            _link(f"{base}{collection_path(ref.id)}/{path}/{tms_id}{q}", "self", JSON, "本瓦片集 / this tileset"),
            _link(f"{base}/ogc/tileMatrixSets/{tms_id}", REL + "tiling-scheme", JSON, tms_id),
            _link(template, "item", media, "瓦片 / tiles", templated=True),
        ],
        "tileMatrixSetLimits": tile_limits,
    }
    if vector:
        doc["layers"] = [{
            "id": ref.id, "title": title, "dataType": "vector",
            "geometryType": GEOMETRY_DIMENSION.get(ref.part or "areas", "polygons"),
            "minTileMatrix": str(min_zoom), "maxTileMatrix": str(max_zoom),
            "propertiesSchema": {"type": "object", "properties": {
                name: {"type": {"Number": "integer", "Boolean": "boolean"}.get(kind, "string")}
                for name, kind in fields.items()}},
        }]
    return doc
