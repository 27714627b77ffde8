"""Schema migrations (Alembic), run programmatically: the scripts live inside the package, no alembic.ini.

`migrate(url_or_engine)` brings a database to the newest revision. Concurrent openers are serialised (an
advisory lock on PostgreSQL, the write lock on SQLite), and the revision is read again under the lock, so two
processes opening a new database at once do not both create the tables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, text
from sqlalchemy.engine import URL

from riskmap.errors import RiskmapError
from riskmap.store.engine import WRITE, create_store_engine
from riskmap.store.schema import Base, index_applies

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision that drops the map snapshot (derived data) to have it drawn by new rules: a database
# migrated from before it gets its snapshots built again when it is opened.
MAP_REDRAWN_AT = "0005"
# pg_advisory_xact_lock key: "riskmap" as an int64, any fixed number would do.
PG_LOCK_KEY = int.from_bytes(b"riskmap\x00", "big") & 0x7FFF_FFFF_FFFF_FFFF
# Tables that PostGIS puts into the public schema; not ours to compare or drop.
FOREIGN_TABLES = frozenset({"spatial_ref_sys", "geometry_columns", "geography_columns", "raster_columns",
                            "raster_overviews", "topology", "layer"})


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for riskmap's migrations, set up in code (no alembic.ini); with ``connection`` the migrations
    run on it.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def migrate(target: str | URL | Engine) -> str:
    """Upgrade the database to the newest revision and return that revision."""
    engine = target if isinstance(target, Engine) else create_store_engine(target)
    try:
        head = head_revision()
        with engine.connect() as conn:
            if current_revision(conn) == head:
                return head
        with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            found = current_revision(conn)
            if found == head:
                return head
            known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
            if found is not None and found not in known:
                raise RiskmapError(
                    f"数据库的结构版本 {found} 比本程序新，请升级 riskmap / the database schema revision {found} "
                    f"is newer than this riskmap knows; upgrade riskmap"
                )
            command.upgrade(alembic_config(conn), "head")
        return head
    finally:
        if engine is not target:
            engine.dispose()


def include_object_for(dialect_name: str):
    """Alembic `include_object`: skip PostGIS's own tables and indexes that do not exist on this dialect."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name in FOREIGN_TABLES:
            return False
        return not (type_ == "index" and not reflected and not index_applies(obj, dialect_name))

    return include_object


def configure_context(context: Any, connection: Connection, metadata: MetaData) -> None:
    """The one `context.configure` call, shared by env.py and `schema_diff`."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object_for(connection.dialect.name),
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        user_module_prefix="riskmap.store.types.",
    )


def schema_diff(connection: Connection, metadata: MetaData | None = None) -> list:
    """What alembic autogenerate finds between the database and the ORM metadata ([] when equal)."""
    metadata = metadata or Base.metadata
    ctx = MigrationContext.configure(
        connection=connection,
        opts={
            "target_metadata": metadata,
            "include_object": include_object_for(connection.dialect.name),
            "compare_type": True,
        },
    )
    return compare_metadata(ctx, metadata)


def new_revision(url: str | URL, message: str, rev_id: str) -> None:
    """For developers: write a new revision file from the difference between a database at head and the ORM.

    Review what it writes: guard PostgreSQL-only steps by dialect and spell out constraint names, as 0001 does.
    """
    engine = create_store_engine(url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=rev_id)
            conn.commit()
    finally:
        engine.dispose()
