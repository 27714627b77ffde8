"""PostgreSQL/PostGIS test databases: created per session, emptied per test, required in CI.

A plain module (not conftest) so that test files can import it by name without clashing with the
browser tests' own conftest.
"""

from __future__ import annotations

import os
import uuid

import pytest

PG_ADMIN_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def riskmap_tables() -> list[str]:
    """Every table of riskmap's schema (the ORM's metadata: a new table is emptied without anyone listing it)."""
    import riskmap.store.repository  # noqa: F401  (registers every room's tables)
    from riskmap.store.schema import Base

    return [table.name for table in Base.metadata.sorted_tables]


def backend_of(url: str) -> str:
    """The backend a test database URL names, as the test ids do: "sqlite" or "postgis"."""
    return "postgis" if url.startswith("postgresql") else "sqlite"


def postgis_required() -> bool:
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return ci or os.environ.get("RISKMAP_REQUIRE_POSTGIS", "").strip() == "1"


def pg_admin_url() -> str:
    return os.environ.get("RISKMAP_TEST_PG", PG_ADMIN_DEFAULT)


def _psycopg_url(url: str) -> str:
    """A libpq URL (psycopg.connect does not take SQLAlchemy's +driver)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1).replace("postgres://", "postgresql://", 1)


def _with_database(url: str, dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=dbname).render_as_string(hide_password=False)


def _unavailable(reason: str):
    message = f"PostGIS not available for tests ({reason}); set RISKMAP_TEST_PG or run scripts/postgis.sh"
    if postgis_required():
        pytest.fail(message + " — required because CI or RISKMAP_REQUIRE_POSTGIS is set", pytrace=False)
    pytest.skip(message)


OWNER_ROLE = "riskmap_test_owner"       # owns the schema and runs the migrations
SERVICE_ROLE = "riskmap_test_service"   # what the store under test connects as: row-level security binds it


def create_pg_database(prefix: str = "riskmap_test", service: bool = True) -> str:
    """Create a fresh database with PostGIS; returns its URL. Skips or fails when the server is missing.

    `service` (the default): as a deployment runs — the database and its schema owned by OWNER_ROLE, migrated
    by it, and the URL returned is SERVICE_ROLE's, a role that is neither superuser nor table owner, so that
    row-level security (riskmap.store.scope) applies to every test. `service=False`: an empty database, and the
    administrator's URL."""
    import psycopg

    admin = pg_admin_url()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(_psycopg_url(admin), autocommit=True, connect_timeout=5) as conn:
            if service:
                _ensure_roles(admin)
            conn.execute(f'CREATE DATABASE "{name}"' + (f" OWNER {OWNER_ROLE}" if service else ""))
    except psycopg.Error as exc:
        _unavailable(f"cannot create a database through {admin}: {str(exc).strip().splitlines()[0]}")
    url = _with_database(admin, name)
    try:
        with psycopg.connect(_psycopg_url(url), autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        drop_pg_database(url)
        _unavailable(f"CREATE EXTENSION postgis failed: {str(exc).strip().splitlines()[0]}")
    if not service:
        return url
    from riskmap.store.upgrade import migrate

    migrate(as_role(url, OWNER_ROLE))
    _grant(url)
    return as_role(url, SERVICE_ROLE)


def as_role(url: str, role: str) -> str:
    """The same database's URL for another (trust-authenticated) role."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


def owner_url(url: str) -> str:
    """The schema owner's URL of a test database (migrations; FORCE makes row-level security apply to it too)."""
    return as_role(url, OWNER_ROLE)


def admin_url(url: str) -> str:
    """The administrator's URL of a test database (a superuser: row-level security does not apply)."""
    from sqlalchemy.engine import make_url

    return _with_database(pg_admin_url(), make_url(url).database)


def _ensure_roles(admin: str) -> None:
    """Both test roles, created once per server; two pytest-xdist workers may race here, which ensure_role
    survives."""
    from sqlalchemy import create_engine

    from riskmap.store.roles import ensure_role

    engine = create_engine(_sqlalchemy_url(admin), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            ensure_role(conn, OWNER_ROLE)
            ensure_role(conn, SERVICE_ROLE)
    finally:
        engine.dispose()


def _grant(url: str) -> None:
    from sqlalchemy import create_engine

    from riskmap.store.roles import grant_service_role

    engine = create_engine(_sqlalchemy_url(admin_url(url)), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            grant_service_role(conn, SERVICE_ROLE, OWNER_ROLE)
    finally:
        engine.dispose()


def _sqlalchemy_url(url: str) -> str:
    return _psycopg_url(url).replace("postgresql://", "postgresql+psycopg://", 1)


def drop_pg_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(_psycopg_url(pg_admin_url()), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(url: str) -> None:
    """Truncate riskmap's tables; end sessions a previous test left open if they hold locks."""
    import psycopg

    with psycopg.connect(_psycopg_url(admin_url(url)), autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT to_regclass('enterprises')").fetchone()[0] is None:
            return
        conn.execute("SET lock_timeout = '3s'")
        present = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        sql = f"TRUNCATE {', '.join(t for t in riskmap_tables() if t in present)} RESTART IDENTITY CASCADE"
        try:
            conn.execute(sql)
        except psycopg.errors.LockNotAvailable:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            conn.execute(sql)
