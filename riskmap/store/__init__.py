"""Storage: SQLite (embedded default, geometry as WKB, spatial work in-process with shapely) and PostGIS.

Public interface (implemented in `riskmap.store.repository`):

    open_store(url: str, create=True) -> Store  # migrates to the newest schema (Alembic) on open;
                                              # create=False refuses a missing or empty database
    migrate(url) -> str                       # only the migration, returns the schema revision
    Store.enterprise(name, create=True) -> riskmap.domain.Enterprise
    Store.enterprises() -> list[Enterprise];  Store.update_enterprise(Enterprise) -> Enterprise
    Store.save_layout(enterprise, LayoutImport, author=None, reason=None) -> int   # new layout version
    Store.layout_features(enterprise, roles=None, bbox=None, version=None) -> GeoDataFrame (EPSG:4326)
    Store.layout_info(enterprise) -> dict | None;  Store.layout_versions(enterprise) -> list[dict]
    Store.save_units(enterprise, units, source=None, default_profile=None) -> int  # new ledger version
    Store.units(enterprise, version=None) -> list[AssessmentUnit]
    Store.ledger_info(enterprise) -> dict | None;  Store.ledger_versions(enterprise) -> list[dict]
    Store.regions(enterprise) -> list[Region]
    Store.data_version(enterprise) -> int                    # bumped in every writing transaction
    Store.session(write=False), Store.transaction(enterprise) # for capabilities that add their own queries

URLs: `sqlite:///relative.db`, `sqlite:////absolute/path.db`, `sqlite://` (memory), `postgresql://user@host/db`
(psycopg 3; PostGIS is created when missing and allowed). Every write is one transaction; nothing is ever
deleted: versions are kept and "current" is the newest (see riskmap.store.schema).
"""

from __future__ import annotations


def open_store(url: str, *, create: bool = True):
    """`create=False` for work that only reads: a missing or empty database is an error, never a new file."""
    from riskmap.store.repository import Store

    return Store.open(url, create=create)


def migrate(url) -> str:
    """Bring the database at ``url`` to the newest schema and return the revision; imported lazily so Alembic loads only
    when asked.
    """
    from riskmap.store.upgrade import migrate as _migrate

    return _migrate(url)
