"""What an import produces, shared by every importer and by storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Feature roles on a plant layout (on any drawing: a role is a role wherever the feature lies). The emergency
# roles come after the plan's own: assembly points, escape routes (a line whose vertex order is the direction of
# travel), exits, hydrants, extinguishers, eyewash stations and emergency equipment stores.
EMERGENCY_ROLES: tuple[str, ...] = ("assembly_point", "escape_route", "emergency_exit", "fire_hydrant",
                                    "extinguisher", "eyewash", "emergency_store")
ROLES: tuple[str, ...] = ("region", "building", "equipment", "road", "fence", "other", *EMERGENCY_ROLES)
ROLE_ZH: dict[str, str] = {"region": "区域", "building": "建筑", "equipment": "设备设施", "road": "道路",
                           "fence": "围墙", "other": "其他",
                           "assembly_point": "集合点", "escape_route": "疏散路线", "emergency_exit": "安全出口",
                           "fire_hydrant": "消火栓", "extinguisher": "灭火器", "eyewash": "洗眼器/紧急喷淋",
                           "emergency_store": "应急物资库"}
ROLE_EN: dict[str, str] = {"region": "Region", "building": "Building", "equipment": "Equipment", "road": "Road",
                           "fence": "Fence", "other": "Other",
                           "assembly_point": "Assembly point", "escape_route": "Escape route",
                           "emergency_exit": "Emergency exit", "fire_hydrant": "Fire hydrant",
                           "extinguisher": "Fire extinguisher", "eyewash": "Eyewash / safety shower",
                           "emergency_store": "Emergency equipment store"}
# Roles whose CAD blocks (INSERT) and POINT entities are kept as points: equipment symbols small enough
# (riskmap.geo.dxf.SYMBOL_SIZE_M), and every block of the small emergency facilities whatever its drawn size.
POINT_ROLES: frozenset[str] = frozenset({"equipment", "assembly_point", "emergency_exit", "fire_hydrant",
                                         "extinguisher", "eyewash", "emergency_store"})
ALWAYS_POINT_ROLES: frozenset[str] = frozenset({"emergency_exit", "fire_hydrant", "extinguisher", "eyewash"})


@dataclass
class LayoutImport:
    """A layout read, georeferenced and cleaned, not yet stored.

    `features` is a GeoDataFrame in EPSG:4326 (lon/lat) with columns:
    `fid` (stable id within the import: CAD handle or source feature id, as text), `name`, `role`, `layer`,
    `properties` (dict of the source attributes), `geometry`.
    `crs` is the plan's metric CRS (EPSG code such as "EPSG:4549", or a PROJ string for a local
    transverse Mercator fitted from control points): prints and area checks work in it.
    """

    features: Any
    crs: str
    source_name: str
    source_format: str                       # "dxf", "geojson", "gpkg", "shp", "kml"
    georeferenced: bool = True
    georeference: dict[str, Any] = field(default_factory=dict)   # method, residuals, rms_m, transform
    warnings: list[str] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)  # {"fid", "name", "area_change": fraction}
    dropped: dict[str, int] = field(default_factory=dict)          # reason -> count

    def summary(self) -> dict[str, Any]:
        """The import report as plain JSON-able data (what `import-layout --json` prints)."""
        gdf = self.features
        by_role = {str(k): int(v) for k, v in gdf["role"].value_counts().sort_index().items()} if len(gdf) else {}
        by_layer = {str(k): int(v) for k, v in gdf["layer"].fillna("").value_counts().sort_index().items()} \
            if len(gdf) else {}
        bounds = [round(float(b), 7) for b in gdf.total_bounds] if len(gdf) else None
        return {
            "source": self.source_name,
            "format": self.source_format,
            "features": int(len(gdf)),
            "by_role": by_role,
            "by_layer": by_layer,
            "crs": self.crs,
            "georeferenced": self.georeferenced,
            "georeference": self.georeference,
            "bounds_lonlat": bounds,
            "warnings": list(self.warnings),
            "repaired": list(self.repaired),
            "dropped": dict(self.dropped),
        }


@dataclass
class RawLayout:
    """What a reader gives before georeferencing and cleaning.

    `features` is a GeoDataFrame with columns `fid`, `name`, `role`, `layer`, `properties`, `geometry`, in the
    file's own coordinates: `crs` None for a CAD drawing in plant coordinates, else the file's CRS.
    """

    features: Any
    crs: Any
    source_name: str
    source_format: str
    warnings: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    drawing_units_m: float | None = None     # metres per drawing unit when the DXF says ($INSUNITS)
