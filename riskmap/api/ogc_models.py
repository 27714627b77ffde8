"""Response schemas of the OGC API Features endpoints, so that /openapi.json describes what is sent.

The endpoints serialise their answers themselves (pages are built from pre-encoded GeoJSON); these models are
for the API definition and for schema-conformance tests, not for validation on the hot path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Link(BaseModel):
    """A link of an OGC document (href and rel; type, title and hreflang when known)."""

    model_config = ConfigDict(extra="allow")

    href: str
    rel: str
    type: str | None = None
    title: str | None = None
    hreflang: str | None = None


class LandingPage(BaseModel):
    """The OGC API landing page: title, description and links to the rest of the API."""

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    """The conformance declaration: the URIs of the OGC conformance classes implemented."""

    conformsTo: list[str]   # noqa: N815 (the standard's name)


class SpatialExtent(BaseModel):
    """A collection's bounding box in CRS84 longitude/latitude."""

    bbox: list[list[float]] = Field(..., min_length=1, description="[[minlon, minlat, maxlon, maxlat]] (CRS84)")
    crs: str


class TemporalExtent(BaseModel):
    """A collection's time span (open ends as null)."""

    interval: list[list[str | None]] = Field(..., min_length=1)
    trs: str


class Extent(BaseModel):
    """A collection's extent in space and time."""

    spatial: SpatialExtent | None = None
    temporal: TemporalExtent | None = None


class CollectionInfo(BaseModel):
    """The description of one feature collection: title, CRS offered, extent, number of features, links."""

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
    """The list of feature collections (/ogc/collections)."""

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
    """One feature of an OGC collection, with its id and links."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry | None
    properties: dict[str, Any] | None
    links: list[Link] | None = None


class FeatureCollection(BaseModel):
    """A page of features: how many match in all, how many this page returns, and prev/next links."""

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
