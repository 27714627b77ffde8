"""Storage: SQLite (embedded default, geometry as WKB, spatial work in-process with shapely) and PostGIS.

Public interface (implemented in `riskmap.store.repository`):

    open_store(url: str) -> Store             # migrates to the newest schema (Alembic) on open
    Store.enterprise(name, create=True) -> riskmap.domain.Enterprise
    Store.save_layout(enterprise, LayoutImport) -> int      # new layout version, one transaction
    Store.layout_features(enterprise, roles=None, bbox=None) -> GeoDataFrame (EPSG:4326)
    Store.layout_info(enterprise) -> dict | None
    Store.save_units(enterprise, units) -> None              # replaces the unit tree, one transaction
    Store.units(enterprise) -> list[AssessmentUnit]
    Store.regions(enterprise) -> list[Region]
    Store.data_version(enterprise) -> int                    # bumped in every writing transaction
"""

from __future__ import annotations


def open_store(url: str):
    from riskmap.store.repository import Store

    return Store.open(url)
