"""Shared fixtures: `store_url` (and `store`) run a test on SQLite and on PostGIS.

PostGIS: one fresh database per test session, created through RISKMAP_TEST_PG (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end; each test starts with empty tables.
When the server cannot be reached the PostGIS runs are skipped locally, but fail when CI is set (CI=true) or
RISKMAP_REQUIRE_POSTGIS=1, so that CI never passes by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# `riskmap serve` runs one process per core unless told: the tests' servers run one (a test of several says so).
os.environ.setdefault("RISKMAP_WORKERS", "1")
from liveserver import LiveServer  # noqa: E402
from pgdb import create_pg_database, drop_pg_database, empty_tables  # noqa: E402,F401


@pytest.fixture(scope="session")
def postgis_database():
    """URL of this session's PostGIS test database (created once, dropped at the end)."""
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request, tmp_path):
    """A database URL for a test, on SQLite (a fresh file) and on PostGIS (emptied tables)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'riskmap.db'}"
    else:
        url = request.getfixturevalue("postgis_database")
        empty_tables(url)
        yield url


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def module_store_url(request, tmp_path_factory):
    """`store_url` shared by a module's tests: a fresh SQLite file, or the PostGIS tables emptied once."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('module-db') / 'riskmap.db'}"
    else:
        url = request.getfixturevalue("postgis_database")
        empty_tables(url)
        yield url


@pytest.fixture
def store(store_url):
    """An open riskmap Store on `store_url`, closed after the test."""
    from riskmap.store import open_store

    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """The demo plant in a SQLite file of this module's own (a copy of the session's template)."""
    from kit import session_demo

    return session_demo(tmp_path_factory)


@pytest.fixture
def demo_copy(demo_db, tmp_path) -> str:
    """A private, writable copy of the demo database for one test (its URL)."""
    from kit import copy_db

    return copy_db(demo_db, tmp_path / "demo-copy")


@pytest.fixture(scope="module")
def plant(demo_db):
    """The demo plant (read only), as the print tests read it."""
    from riskmap.plant import load_plant
    from riskmap.store import open_store

    return load_plant(open_store(f"sqlite:///{demo_db}"), None)


@pytest.fixture(scope="module")
def bench():
    """benchmarks/bench_poster.py as a module: its synthetic plants serve the print tests too."""
    import importlib.util

    from printkit import BENCH

    spec = importlib.util.spec_from_file_location("bench_poster", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module



@pytest.fixture
def editor_token():
    """A function giving the headers of a new token: `editor_token(db_url_or_store, role="editor", name=...)` ->
    {"Authorization": "Bearer rmk_..."}. Every write route of the API needs an editor token."""
    from riskmap.store import open_store, tokens

    def make(db, role: str = "editor", name: str = "测试编辑") -> dict:
        store = open_store(str(db)) if not hasattr(db, "session") else db
        try:
            text, _ = tokens.create_token(store, role, name)
        finally:
            if store is not db:
                store.close()
        return {"Authorization": f"Bearer {text}"}

    return make


# ---------------------------------------------------------------------------------------------- real clients


@pytest.fixture(scope="session")
def demo_db_url(tmp_path_factory) -> str:
    """The demo plant in a SQLite file, loaded once per session; tests that only read share it."""
    from riskmap.demo import load_demo
    from riskmap.settings import Settings

    url = f"sqlite:///{tmp_path_factory.mktemp('demo-shared') / 'demo.db'}"
    load_demo(Settings(db=url))
    return url


@pytest.fixture(scope="module")
def live_demo(demo_db_url):
    """riskmap serving the shared demo database over HTTP (module-scoped)."""
    with LiveServer(demo_db_url) as server:
        yield server
