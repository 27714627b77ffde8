"""WMTS 1.0.0 for desktop GIS (QGIS's WMS/WMTS dialog, GDAL's WMTS driver): GetCapabilities and GetTile, both as
KVP (`/wmts?SERVICE=WMTS&REQUEST=…`) and RESTful (`/wmts/1.0.0/WMTSCapabilities.xml`, tiles by ResourceURL).

The layers are the PNG tile layers of /tiles (regions, units, layout, labels, staleness, hazards) in WebMercatorQuad
(GoogleMapsCompatible): the same bytes, ETags and never-stale contract, only named the WMTS way. Errors in
GetTile parameters are OWS ExceptionReports (400/404), which both clients show.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from riskmap.api.conditional import not_modified, validators
from riskmap.errors import NotFoundError, RiskmapError

WMTS_NS = "http://www.opengis.net/wmts/1.0"
OWS_NS = "http://www.opengis.net/ows/1.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML = "application/xml"
LAYERS = ("regions", "units", "layout", "labels", "staleness", "hazards")
TMS_ID = "WebMercatorQuad"
STYLE = "default"


class OwsException(RiskmapError):
    """A WMTS request that cannot be answered; sent as an OWS ExceptionReport."""

    def __init__(self, code: str, locator: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.locator, self.http_status = code, locator, status


# What a refused WMTS request answers (OGC 07-057r7 §8.3): an ExceptionReport, 400 or 404 (tile out of range).
OWS_ERRORS = {400: {"description": "OWS ExceptionReport：参数错误 / bad parameter", "content": {XML: {}}},
              404: {"description": "OWS ExceptionReport：瓦片超出范围 / tile out of range", "content": {XML: {}}}}


def _ows(tag: str) -> str:
    return f"{{{OWS_NS}}}{tag}"


def _w(tag: str) -> str:
    return f"{{{WMTS_NS}}}{tag}"


def exception_report(exc: OwsException) -> Response:
    """An OWS ExceptionReport for ``exc``, the error form WMTS clients read."""
    ET.register_namespace("ows", OWS_NS)
    root = ET.Element(_ows("ExceptionReport"), version="1.1.0")
    item = ET.SubElement(root, _ows("Exception"), exceptionCode=exc.code, locator=exc.locator)
    ET.SubElement(item, _ows("ExceptionText")).text = exc.message
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode"),
                    status_code=exc.http_status, media_type=XML)


def capabilities(base: str, enterprise: str | None, titles: dict[str, tuple[str, str]],
                 bounds: list[float] | None, min_zooms: dict[str, int], max_zoom: int) -> str:
    """The capabilities document (see the module docstring)."""
    from riskmap.api.tilesets import TMS, limits

    for prefix, ns in (("", WMTS_NS), ("ows", OWS_NS), ("xlink", XLINK_NS)):
        ET.register_namespace(prefix, ns)
    query = "?" + urlencode({"enterprise": enterprise}) if enterprise else ""
    root = ET.Element(_w("Capabilities"), version="1.0.0")
    ident = ET.SubElement(root, _ows("ServiceIdentification"))
    ET.SubElement(ident, _ows("Title")).text = "riskmap 四色安全风险分布图 / four-colour safety risk map"
    ET.SubElement(ident, _ows("ServiceType")).text = "OGC WMTS"
    ET.SubElement(ident, _ows("ServiceTypeVersion")).text = "1.0.0"
    ops = ET.SubElement(root, _ows("OperationsMetadata"))
    kvp_href = f"{base}/wmts?" + (urlencode({"enterprise": enterprise}) + "&" if enterprise else "")
    for name in ("GetCapabilities", "GetTile"):
        http = ET.SubElement(ET.SubElement(ET.SubElement(ops, _ows("Operation"), name=name), _ows("DCP")),
                             _ows("HTTP"))
        for encoding, href in (("KVP", kvp_href), ("RESTful", f"{base}/wmts/1.0.0/")):
            get = ET.SubElement(http, _ows("Get"), {f"{{{XLINK_NS}}}href": href})
            allowed = ET.SubElement(ET.SubElement(get, _ows("Constraint"), name="GetEncoding"), _ows("AllowedValues"))
            ET.SubElement(allowed, _ows("Value")).text = encoding
    contents = ET.SubElement(root, _w("Contents"))
    for layer in LAYERS:
        title_zh, description = titles[layer]
        item = ET.SubElement(contents, _w("Layer"))
        ET.SubElement(item, _ows("Title")).text = title_zh
        ET.SubElement(item, _ows("Abstract")).text = description
        if bounds:
            box = ET.SubElement(item, _ows("WGS84BoundingBox"))
            ET.SubElement(box, _ows("LowerCorner")).text = f"{bounds[0]} {bounds[1]}"
            ET.SubElement(box, _ows("UpperCorner")).text = f"{bounds[2]} {bounds[3]}"
        ET.SubElement(item, _ows("Identifier")).text = layer
        style = ET.SubElement(item, _w("Style"), isDefault="true")
        ET.SubElement(style, _ows("Identifier")).text = STYLE
        ET.SubElement(item, _w("Format")).text = "image/png"
        link = ET.SubElement(item, _w("TileMatrixSetLink"))
        ET.SubElement(link, _w("TileMatrixSet")).text = TMS_ID
        found = limits(bounds, min_zooms[layer], max_zoom)
        if found:
            holder = ET.SubElement(link, _w("TileMatrixSetLimits"))
            for lim in found:
                el = ET.SubElement(holder, _w("TileMatrixLimits"))
                ET.SubElement(el, _w("TileMatrix")).text = lim["tileMatrix"]
                for key, tag in (("minTileRow", "MinTileRow"), ("maxTileRow", "MaxTileRow"),
                                 ("minTileCol", "MinTileCol"), ("maxTileCol", "MaxTileCol")):
                    ET.SubElement(el, _w(tag)).text = str(lim[key])
        ET.SubElement(item, _w("ResourceURL"), format="image/png", resourceType="tile",
                      template=f"{base}/wmts/1.0.0/{layer}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/"
                               f"{{TileCol}}.png{query}")
    tms = ET.SubElement(contents, _w("TileMatrixSet"))
    ET.SubElement(tms, _ows("Identifier")).text = TMS_ID
    ET.SubElement(tms, _ows("SupportedCRS")).text = "urn:ogc:def:crs:EPSG::3857"
    ET.SubElement(tms, _w("WellKnownScaleSet")).text = "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"
    for matrix in TMS.tileMatrices[:max_zoom + 1]:
        el = ET.SubElement(tms, _w("TileMatrix"))
        ET.SubElement(el, _ows("Identifier")).text = matrix.id
        ET.SubElement(el, _w("ScaleDenominator")).text = repr(matrix.scaleDenominator)
        x, y = matrix.pointOfOrigin
        ET.SubElement(el, _w("TopLeftCorner")).text = f"{x!r} {y!r}"
        ET.SubElement(el, _w("TileWidth")).text = str(matrix.tileWidth)
        ET.SubElement(el, _w("TileHeight")).text = str(matrix.tileHeight)
        ET.SubElement(el, _w("MatrixWidth")).text = str(matrix.matrixWidth)
        ET.SubElement(el, _w("MatrixHeight")).text = str(matrix.matrixHeight)
    ET.SubElement(root, _w("ServiceMetadataURL"),
                  {f"{{{XLINK_NS}}}href": f"{base}/wmts/1.0.0/WMTSCapabilities.xml{query}"})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def make_router() -> APIRouter:
    """The WMTS 1.0.0 routes under /wmts: GetCapabilities and GetTile by KVP, and the RESTful capabilities and tiles."""
    router = APIRouter(prefix="/wmts", tags=["wmts"])

    async def get_capabilities(request: Request, enterprise: str | None) -> Response:
        from riskmap.api.public_url import public_base_url
        from riskmap.api.routers.tiles import HAZARDS, LAYER_TITLES, tiles_of
        from riskmap.render.tiledata import lonlat_bounds

        tiles = tiles_of(request)
        service = tiles.service
        found, ent_id, name = service.lookup(enterprise)
        if found is None:
            found = await run_in_threadpool(service.update, ent_id, name)
        base = public_base_url(request)
        checked = validators(request, request.app.state.store(), found.enterprise, base)
        if (early := not_modified(request, checked)) is not None:
            return early
        box = found.bounds_3857()
        styles = {layer: tiles.hazards.style() if layer == HAZARDS else service.style(layer) for layer in LAYERS}
        text = capabilities(base, enterprise, LAYER_TITLES, lonlat_bounds(box) if box else None,
                            {layer: style.min_zoom for layer, style in styles.items()},
                            max(style.max_zoom for style in styles.values()))
        return Response(text, media_type=XML, headers=checked.headers())

    async def get_tile(request: Request, layer: str, style: str, tms: str, z: str, row: str, col: str,
                       fmt: str, enterprise: str | None) -> Response:
        from riskmap.api.routers.tiles import tile_response

        if layer not in LAYERS:
            raise OwsException("InvalidParameterValue", "LAYER", f"没有图层 {layer[:40]!r} / no layer {layer[:40]!r}")
        if style not in (STYLE, ""):
            raise OwsException("InvalidParameterValue", "STYLE", f"没有样式 {style[:40]!r} / no style {style[:40]!r}")
        if tms != TMS_ID:
            raise OwsException("InvalidParameterValue", "TILEMATRIXSET",
                               f"没有瓦片矩阵集 {tms[:40]!r} / no tile matrix set {tms[:40]!r}")
        if fmt not in ("image/png", "png"):
            raise OwsException("InvalidParameterValue", "FORMAT",
                               f"只提供 image/png / only image/png, not {fmt[:40]!r}")
        try:
            return await tile_response(request, layer, z, col, row, "png", enterprise)
        except NotFoundError as exc:
            raise OwsException("TileOutOfRange", "TILEMATRIX", exc.message, 404) from None

    @router.get("", summary="WMTS KVP：GetCapabilities、GetTile", response_class=Response,
                responses={200: {"content": {XML: {}, "image/png": {}}}, **OWS_ERRORS})
    async def kvp(request: Request) -> Response:
        q = {k.upper(): v for k, v in request.query_params.items()}
        enterprise = request.query_params.get("enterprise")
        try:
            if q.get("SERVICE", "WMTS").upper() != "WMTS":
                raise OwsException("InvalidParameterValue", "SERVICE", "SERVICE 应为 WMTS / SERVICE must be WMTS")
            op = q.get("REQUEST", "").lower()
            if op == "getcapabilities":
                return await get_capabilities(request, enterprise)
            if op == "gettile":
                missing = [p for p in ("LAYER", "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL") if p not in q]
                if missing:
                    raise OwsException("MissingParameterValue", missing[0], f"缺少参数 {missing[0]} / missing "
                                                                            f"{missing[0]}")
                return await get_tile(request, q["LAYER"], q.get("STYLE", STYLE), q["TILEMATRIXSET"], q["TILEMATRIX"],
                                      q["TILEROW"], q["TILECOL"], q.get("FORMAT", "image/png"), enterprise)
            raise OwsException("OperationNotSupported", "REQUEST",
                               "REQUEST 应为 GetCapabilities 或 GetTile / REQUEST must be GetCapabilities or GetTile")
        except OwsException as exc:
            return exception_report(exc)

    @router.get("/1.0.0/WMTSCapabilities.xml", summary="WMTS 服务说明（REST）/ capabilities", response_class=Response,
                responses={200: {"content": {XML: {}}}})
    async def rest_capabilities(request: Request) -> Response:
        return await get_capabilities(request, request.query_params.get("enterprise"))

    @router.get("/1.0.0/{layer}/{style}/{tms}/{z}/{row}/{col}.png", summary="WMTS 瓦片（REST）/ tile",
                response_class=Response, responses={200: {"content": {"image/png": {}}}, **OWS_ERRORS})
    async def rest_tile(request: Request, layer: str, style: str, tms: str, z: str, row: str, col: str) -> Response:
        try:
            return await get_tile(request, layer, style, tms, z, row, col, "image/png",
                                  request.query_params.get("enterprise"))
        except OwsException as exc:
            return exception_report(exc)

    return router
