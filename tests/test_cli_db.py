"""`riskmap db migrate` and `riskmap db grant`: the service's own PostgreSQL role, made and granted as an
administrator, safe to run again; bad input is one line and changes nothing."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from clikit import one_line_error, run
from pgdb import OWNER_ROLE, admin_url, as_role
from sqlalchemy import text

from riskmap.store import open_store, scope


def test_db_grant_refuses_bad_input(tmp_path, monkeypatch):
    one_line_error(run("db", "grant", "Bad-Role", "--owner", "x", "--db", f"sqlite:///{tmp_path / 'a.db'}",
                       check=False), "Bad-Role")
    one_line_error(run("db", "grant", "svc", "--owner", "x; DROP", "--db", f"sqlite:///{tmp_path / 'a.db'}",
                       check=False), "x; DROP")
    one_line_error(run("db", "grant", "svc", "--owner", "own", "--db", f"sqlite:///{tmp_path / 'a.db'}",
                       check=False), "PostgreSQL")
    monkeypatch.delenv("RISKMAP_NO_SUCH_PASSWORD", raising=False)
    one_line_error(run("db", "grant", "svc", "--owner", "own", "--password-env", "RISKMAP_NO_SUCH_PASSWORD",
                       "--db", f"sqlite:///{tmp_path / 'a.db'}", check=False), "RISKMAP_NO_SUCH_PASSWORD")
    assert not (tmp_path / "a.db").exists()


def test_db_migrate_on_sqlite(tmp_path):
    proc = run("db", "migrate", "--db", f"sqlite:///{tmp_path / 'm.db'}")
    assert "0017_event_mark" in proc.stdout


@pytest.mark.postgis
def test_db_grant_makes_a_role_that_row_level_security_binds(postgis_database):
    role = f"riskmap_cli_{uuid.uuid4().hex[:8]}"
    admin = admin_url(postgis_database)
    with open_store(postgis_database) as store:
        store.enterprise("甲厂")
        store.enterprise("乙厂")
    try:
        for _ in range(2):                                   # again: nothing to do, no error
            proc = run("db", "grant", role, "--owner", OWNER_ROLE, "--db", admin)
            assert role in proc.stdout
        one_line_error(run("db", "grant", "postgres", "--owner", OWNER_ROLE, "--db", admin, check=False),
                       "postgres")
        # this test's two enterprises (the shared test database may hold others another test left)
        ours = ("SELECT count(*) FROM data_versions d JOIN enterprises e ON e.id = d.enterprise_id "
                "WHERE e.name IN ('甲厂', '乙厂')")
        with open_store(as_role(postgis_database, role)) as store:
            with store.session() as s:
                assert s.execute(text(ours)).scalar() == 2
            with scope.scoped({int(store.enterprise("甲厂", create=False).id)}), store.session() as s:
                assert s.execute(text(ours)).scalar() == 1
        with psycopg.connect(as_role(postgis_database, role).replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT count(*) FROM data_versions").fetchone()[0] == 0    # no scope: nothing
    finally:
        with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")

