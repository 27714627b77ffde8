"""Response schemas of the OGC API Features endpoints, so that /openapi.json describes what is sent.

The endpoints serialise their answers themselves (pages are built from pre-encoded GeoJSON); these models are
for the API definition and for schema-conformance tests, not for validation on the hot path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")

    href: str
    rel: str
    type: str | None = None
    title: str | None = None
    hreflang: str | None = None


class LandingPage(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]   # noqa: N815 (the standard's name)


class SpatialExtent(BaseModel):
    bbox: list[list[float]] = Field(..., min_length=1, description="[[minlon, minlat, maxlon, maxlat]] (CRS84)")
    crs: str


class TemporalExtent(BaseModel):
    interval: list[list[str | None]] = Field(..., min_length=1)
    trs: str


class Extent(BaseModel):
    spatial: SpatialExtent | None = None
    temporal: TemporalExtent | None = None


class CollectionInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    description: str
    links: list[Link]
    itemType: Literal["feature"]   # noqa: N815
    crs: list[str]
    extent: Extent | None = None
    itemCount: int = Field(..., ge=0, description="要素总数 / number of features")   # noqa: N815


class Collections(BaseModel):
    links: list[Link]
    collections: list[CollectionInfo]


GeometryType = Literal["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                       "GeometryCollection"]


class Geometry(BaseModel):
    """A GeoJSON geometry in longitude/latitude (RFC 7946)."""

    model_config = ConfigDict(extra="allow")

    type: GeometryType
    coordinates: list[Any] | None = None
    geometries: list[dict[str, Any]] | None = None


class Feature(BaseModel):
    type: Literal["Feature"]
    id: str
    geometry: Geometry | None
    properties: dict[str, Any] | None
    links: list[Link] | None = None


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberMatched: int = Field(..., ge=0)   # noqa: N815
    numberReturned: int = Field(..., ge=0)   # noqa: N815
    timeStamp: str   # noqa: N815
    links: list[Link]


class Problem(BaseModel):
    """An error: Chinese first, then English."""

    detail: str
    problems: list[Any] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "参数有误 / invalid parameter"},
    404: {"model": Problem, "description": "未找到 / not found"},
}

# Routes whose success is GeoJSON still answer errors as application/json: name the schema by reference (the
# routes above register it) so that FastAPI does not file the error body under application/geo+json.
_PROBLEM_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
GEOJSON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "参数有误 / invalid parameter", "content": _PROBLEM_JSON},
    404: {"description": "未找到 / not found", "content": _PROBLEM_JSON},
}

HTML_CONTENT = {"text/html": {"schema": {"type": "string"}}}
