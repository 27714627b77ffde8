"""What the JSON routes answer, as pydantic models: the API description names every field a client may rely on,
and the answers are checked against them. Each model allows further fields (`extra="allow"`): an answer may
carry more than is promised (the map configuration's texts, a style's layers), never less. The OGC documents
are in ogc_models.py, the history's in routers/history.py.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """A JSON answer: the fields below are promised, more may come."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class WhoAmI(Answer):
    """Who the request acts as: the signed-in person or the token's account, with their roles and rights."""

    id: int | None = None
    name: str
    login: str | None = None
    enterprise: str | None = None
    regulator: str | None = Field(None, description="监管机构（监管账户）/ the regulator of a regulator's account")
    roles: list[str]
    permissions: list[str]
    via: str = Field(description="session | token")
    role: str = Field(description="editor | reader: the token-era summary the editor page still reads")


class Health(Answer):
    """Liveness: the service answers, with its version and which database backend it runs on."""

    status: Literal["ok"]
    version: str
    backend: str = Field(description="sqlite | postgresql")


class GeoJsonFeature(Answer):
    """One GeoJSON Feature; geometry null for a feature that has no location."""

    type: Literal["Feature"]
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None


class GeoJson(Answer):
    """A GeoJSON FeatureCollection (RFC 7946, WGS 84 longitude/latitude)."""

    type: Literal["FeatureCollection"]
    features: list[GeoJsonFeature]


class RegionRisk(Answer):
    """A region's level and why: the deciding unit and event, the rule, the counts per level."""

    id: str
    name: str | None = None
    level: str | None = Field(description="major | significant | general | low; null: nothing assessed")
    level_zh: str | None = None
    method: str
    which: str
    decided_by: str | None = None
    decided_by_id: str | None = None
    rule: dict[str, str]
    counts: dict[str, int]
    explanation: Any = None


class Evaluation(Answer):
    """A risk evaluated under a criteria profile; numbers as decimal strings (no binary rounding)."""

    profile: str
    method: str
    inputs: dict[str, str]
    score: str | None = None
    grade: int | None = None
    label: str | None = None
    level: str = Field(description="major | significant | general | low")
    level_zh: str
    colour: str
    band: str | None = None
    computed_level: str | None = None
    overrides: list[Any] = []


class JsonSchema(Answer):
    """A JSON Schema (OGC API Features Part 5: queryables, the schema of a collection)."""

    schema_uri: str = Field(alias="$schema")
    id_uri: str = Field(alias="$id")
    type: Literal["object"]
    title: str | None = None
    properties: dict[str, Any]


class TileMatrixSetRef(Answer):
    """One tile matrix set the service offers, with its id and the links to its definition."""

    id: str
    title: str | None = None
    uri: str | None = None
    links: list[dict[str, Any]] = []


class TileMatrixSets(Answer):
    """OGC API Tiles: the list of tile matrix sets (/ogc/tileMatrixSets)."""

    tileMatrixSets: list[TileMatrixSetRef]  # noqa: N815


class TileMatrixSet(Answer):
    """OGC Two Dimensional Tile Matrix Set 2.0 (and its 1.0 names for older clients)."""

    id: str
    crs: str
    tileMatrices: list[dict[str, Any]]  # noqa: N815


class Tileset(Answer):
    """OGC API Tiles: one tileset of a collection."""

    dataType: Literal["vector", "map"]  # noqa: N815
    crs: str
    tileMatrixSetURI: str | None = None  # noqa: N815
    links: list[dict[str, Any]]


class Tilesets(Answer):
    """OGC API Tiles: the tilesets of a collection (vector or map)."""

    tilesets: list[Tileset]


class GdalTileMetadata(Answer):
    """The metadata.json GDAL's MVT driver reads (an MBTiles metadata table as JSON, every value a string)."""

    name: str
    format: str
    minzoom: str
    maxzoom: str
    bounds: str
    json_: str = Field(alias="json")


class TileJson(Answer):
    """TileJSON 3.0.0, with the data version the tiles were drawn from."""

    tilejson: str
    tiles: list[str]
    minzoom: int
    maxzoom: int
    bounds: list[float] | None = None
    data_version: int | None = None


class LayoutEdit(Answer):
    """A split or a merge: the features it wrote and the units it flagged."""

    action: Literal["split", "merge"]
    fids: list[str]
    edit_tags: dict[str, Any] | list[Any] | None = None
    layout_number: int
    data_version: int
    change_id: int | None = None
    flags_raised: list[dict[str, Any]] = []


class MapVersion(Answer):
    """An enterprise's current data version: a client compares it to know when its map is stale."""

    enterprise: str
    data_version: int


class Preparing(Answer):
    """The enterprise's ledger is being loaded in the background (202), so that clicks and search answer fast."""

    enterprise: str
    status: Literal["preparing"]


class MapConfig(Answer):
    """What the /map page draws: texts in its language, the layers with their TileJSON URLs, the legend."""

    lang: str
    enterprise: str
    data_version: int
    text: dict[str, Any]
    layers: list[dict[str, Any]]


class Identified(Answer):
    """The regions and units at a point (or of a unit), highest level first."""

    enterprise: str
    data_version: int
    regions: list[dict[str, Any]]
    units: list[dict[str, Any]]
    units_total: int


class SearchHit(Answer):
    """One search hit: a region or a unit, with its level and the box to zoom to."""

    kind: str = Field(description="region | unit")
    id: str
    name: str | None = None
    level: str | None = None
    level_zh: str | None = None
    bbox: list[float] | None = None


class SearchResults(Answer):
    """What a search by name or id found: exact matches, then prefixes, then the rest; `total` counts every hit."""

    query: str
    total: int
    results: list[SearchHit]


class UnitEdited(Answer):
    """A unit after a change of its override or inputs, with its level as now computed."""

    id: str
    name: str | None = None
    level: str | None = None
    level_zh: str | None = None
    override: dict[str, Any] | None = None
    events: list[dict[str, Any]] = []


class Drawing(Answer):
    """One drawing of an enterprise (riskmap.drawings.Drawing.to_json), with its current version and links."""

    key: str
    title: str
    kind: str
    schematic: bool
    layout_version: int | None = None


class Drawings(Answer):
    """The drawings of an enterprise, the site plan first."""

    enterprise: str
    drawings: list[Drawing]


class Revision(Answer):
    """A revised drawing compared with the current layout and, with confirm, applied as a new version."""

    enterprise: str
    source: str | None = None
    base_version: int
    diff: dict[str, Any]
    warnings: list[Any] = []
    applied: bool
    layout_version: int | None = None
    data_version: int | None = None
    flags_raised: list[dict[str, Any]] = []


class StyleRef(Answer):
    """One map style on offer: its id, the layers it draws and the links to its formats."""

    id: str
    title: Any
    layers: list[str]
    links: list[dict[str, Any]]


class Styles(Answer):
    """The list of map styles (/styles)."""

    styles: list[StyleRef]


class MapLibreStyle(Answer):
    """A MapLibre GL style (version 8) over riskmap's vector tiles."""

    version: Literal[8]
    name: str
    sources: dict[str, Any]
    layers: list[dict[str, Any]]


class Legend(Answer):
    """The legend of a map: per layer, its classes with the colours drawn."""

    map: str
    layers: dict[str, Any]
