"""The service operator's accounts and routes (issue 15): adding, importing and moving enterprises, parks, regulators
and their accounts over HTTP, all or nothing, 403 for everyone else; the operator reads no enterprise's data; and
the regulators' access records — every request of a regulator's account into enterprise data, written to the
database after the answer, read by the operator, the regulator and the enterprise concerned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.errors import InputError, NotFoundError
from riskmap.people import check_role
from riskmap.settings import Settings
from riskmap.store import accounts, open_store, orgs, regulator_audit, tokens

ENT, OTHER = "示范化工", "别家化工"
PASSWORD = "operator-walk-1"
CSV_HEAD = "name,credit_code,division,park,lon,lat,industry\n"


def _token(store, account_id: int, role: str = "editor") -> dict:
    return {"Authorization": "Bearer " + tokens.create_token(store, role, f"t{account_id}", account_id=account_id)[0]}


@pytest.fixture
def world(store_url):
    store = open_store(store_url)
    orgs.set_profile(store, ENT, create=True, division_code="321203")
    orgs.set_profile(store, OTHER, create=True, division_code="320612")
    orgs.add_park(store, "泰兴经济开发区", "321283")
    orgs.add_regulator(store, "泰州市局", level="city", division_code="321200")
    orgs.add_regulator(store, "南通市局", level="city", division_code="320600")
    heads = {}
    made = accounts.create_account(store, None, name="运维", login="ops-1", password=PASSWORD, roles=["operator"],
                                   operator=True)
    heads["operator"] = _token(store, made["id"])
    made = accounts.create_account(store, ENT, name="甲管理员", login="admin-1", password=PASSWORD,
                                   roles=["admin", "safety_manager"])
    heads["admin"] = _token(store, made["id"])
    made = accounts.create_account(store, OTHER, name="乙管理员", login="admin-2", password=PASSWORD, roles=["admin"])
    heads["other admin"] = _token(store, made["id"])
    made = orgs.add_regulator_account(store, "泰州市局", name="市局督办", login="reg-1", password=PASSWORD,
                                      roles=["regulator_supervisor"])
    heads["regulator"] = _token(store, made["id"])
    made = orgs.add_regulator_account(store, "南通市局", name="南通查看", login="reg-2", password=PASSWORD,
                                      roles=["regulator_viewer"])
    heads["regulator elsewhere"] = _token(store, made["id"])
    yield store_url, store, heads
    store.close()


def _client(url: str, **settings) -> TestClient:
    return TestClient(create_app(Settings(db=url, **settings)), raise_server_exceptions=True)


def _names(store) -> list[str]:
    return [e["name"] for e in orgs.list_enterprises(store)]


# ---------------------------------------------------------------------------------------------- the account kind


def test_an_operator_is_an_account_of_its_own_kind(world):
    _, store, _ = world
    ops = accounts.operator_account(store, "ops-1")
    assert ops["kind"] == "operator" and ops["enterprise"] is None and ops["regulator"] is None
    assert [a["login"] for a in accounts.operator_accounts(store)] == ["ops-1"]
    assert orgs.readable_enterprise_ids(store, ops["id"]) == frozenset()       # reads no enterprise's data
    with pytest.raises(ValueError, match="operator"):
        check_role("operator")                                                   # not an enterprise's role
    with pytest.raises(ValueError):
        check_role("admin", kind="operator")
    for bad in ({"enterprise": ENT}, {"enterprise": None, "regulator_id": 1}):
        with pytest.raises(InputError):
            accounts.create_account(store, bad.pop("enterprise"), name="x", login="x-1", password=PASSWORD,
                                    roles=["operator"], operator=True, **bad)
    with pytest.raises(InputError):      # an operator's role for an enterprise's account
        accounts.create_account(store, ENT, name="x", login="x-2", password=PASSWORD, roles=["operator"])
    with pytest.raises(NotFoundError):
        accounts.operator_account(store, "reg-1")                               # a regulator's is not one


def test_an_operator_signs_in_on_any_page_and_reads_no_enterprise(world):
    url, store, heads = world
    who, session, _ = accounts.sign_in(store, ENT, "ops-1", PASSWORD)
    assert who.operator and who.permissions == frozenset({"administer", "audit"})
    with _client(url, read_requires_token=True) as client:
        for path in ("/api/regions", "/api/hazards", "/api/history", "/tiles/units/tilejson.json", "/api/orgs",
                     "/api/overview"):
            r = client.get(path, params={"enterprise": ENT}, headers=heads["operator"])
            assert r.status_code == 403, (path, r.status_code)
        said = client.get("/api/regions", params={"enterprise": ENT}, headers=heads["operator"]).json()["detail"]
        assert "平台运维" in said and "operator" in said
        client.cookies.set("riskmap_session", session)
        assert client.get("/api/auth/me").json()["permissions"] == ["administer", "audit"]
        assert client.get("/api/admin/enterprises").status_code == 200
    with _client(url) as client:        # reading open: /api/orgs answers the operator no enterprise
        r = client.get("/api/orgs", headers=heads["operator"]).json()
        assert r["account"] == "operator" and r["enterprises"] == []


# ---------------------------------------------------------------------------------------------- the routes


def test_only_an_operator_administers(world):
    url, store, heads = world
    body = {"name": "新企业", "division_code": "321203"}
    with _client(url) as client:
        for who in ("admin", "regulator", "regulator elsewhere"):
            r = client.post("/api/admin/enterprises", json=body, headers=heads[who])
            assert r.status_code == 403, (who, r.text)
        assert client.post("/api/admin/enterprises", json=body).status_code == 401
        assert "新企业" not in _names(store)
        # a regulator trying to write enterprise data: refused, nothing changed, recorded
        r = client.put("/api/orgs/profile", params={"enterprise": ENT}, headers=heads["regulator"],
                       json={"division_code": "320612"})
        assert r.status_code == 403 and "监管" in r.json()["detail"]
        assert orgs.profile(store, ENT)["division_code"] == "321203"
        made = client.post("/api/admin/enterprises", json={**body, "credit_code": None, "industry": "化工"},
                           headers=heads["operator"])
        assert made.status_code == 201 and made.json()["division"].endswith("高港区")
        listed = client.get("/api/admin/enterprises", headers=heads["operator"]).json()
        assert {e["name"] for e in listed} == {ENT, OTHER, "新企业"}
    from riskmap.store.history import history

    assert history(store, "新企业")[0]["author"] == "运维"            # the operator is the author of it


def test_bad_organisations_are_refused_and_change_nothing(world):
    url, store, heads = world
    op = heads["operator"]
    with _client(url) as client:
        before = orgs.list_enterprises(store)
        cases = [
            ("/api/admin/enterprises", {"name": "无区划", "division_code": "999999"}, 404),
            ("/api/admin/enterprises", {"name": "错园区", "division_code": "321203", "park": "泰兴经济开发区"}, 422),
            ("/api/admin/enterprises", {"name": "无园区", "division_code": "321203", "park": "没有的园区"}, 404),
            ("/api/admin/enterprises", {"name": ENT, "division_code": "321203"}, 409),
            ("/api/admin/enterprises", {"name": "多字段", "division_code": "321203", "owner": "x"}, 422),
            ("/api/admin/enterprises/move", {"name": ENT, "park": "泰兴经济开发区"}, 422),     # park elsewhere
            ("/api/admin/enterprises/move", {"name": ENT, "division_code": "999999"}, 404),
            ("/api/admin/enterprises/move", {"name": "没有的企业", "division_code": "321203"}, 404),
            ("/api/admin/enterprises/move", {"name": ENT}, 422),
            ("/api/admin/parks", {"name": "泰兴经济开发区", "division_code": "321283"}, 409),
            ("/api/admin/parks", {"name": "新园区", "division_code": "999999"}, 404),
            ("/api/admin/regulators", {"name": "县局", "level": "county", "division_code": "321200"}, 422),
            ("/api/admin/regulator-accounts", {"regulator": "没有的局", "name": "x", "login": "x-9",
                                               "password": PASSWORD}, 404),
            ("/api/admin/regulator-accounts", {"regulator": "泰州市局", "name": "x", "login": "x-9",
                                               "password": PASSWORD, "roles": ["admin"]}, 422),
            ("/api/admin/accounts/move", {"login": "admin-1", "from_enterprise": ENT,
                                          "to_enterprise": "没有的企业"}, 404),
        ]
        for path, body, status in cases:
            r = client.post(path, json=body, headers=op)
            assert r.status_code == status, (path, body, r.status_code, r.text)
            detail = r.json()["detail"]
            assert isinstance(detail, list) or any("\u4e00" <= c <= "\u9fff" for c in detail[:40]), detail
        assert orgs.list_enterprises(store) == before
        assert [p["name"] for p in orgs.list_parks(store)] == ["泰兴经济开发区"]
        assert [r["name"] for r in orgs.list_regulators(store)] == ["泰州市局", "南通市局"]
        assert accounts.get_account(store, ENT, "admin-1")["enterprise"] == ENT
        # the good ones
        park = client.post("/api/admin/parks", json={"name": "高港园区", "division_code": "321203"}, headers=op)
        assert park.status_code == 201
        moved = client.post("/api/admin/enterprises/move", json={"name": ENT, "park": "高港园区"}, headers=op)
        assert moved.status_code == 200 and moved.json()["park"] == "高港园区"
        out = client.post("/api/admin/enterprises/move", json={"name": ENT, "no_park": True}, headers=op)
        assert out.json()["park"] is None
        reg = client.post("/api/admin/regulators", json={"name": "园区局", "level": "park", "park": "高港园区"},
                          headers=op)
        assert reg.status_code == 201 and reg.json()["park"] == "高港园区"


def _csv_upload(client, head, raw: bytes):
    return client.post("/api/admin/enterprises/import", files={"file": ("e.csv", raw, "text/csv")}, headers=head)


def test_import_is_all_or_nothing(world):
    url, store, heads = world
    op = heads["operator"]
    good = (CSV_HEAD + "丙厂,,321203,,119.9,32.3,化工\n丁厂,,321283,泰兴经济开发区,,,\n").encode("utf-8-sig")
    gbk = (CSV_HEAD.replace("name", "企业名称") + "戊厂,,320612,,,,\n").encode("gbk")
    bad = (CSV_HEAD + "己厂,,321203,,,,\n庚厂,,321203,泰兴经济开发区,,,\n辛厂,,999999,,,,\n").encode("utf-8")
    with _client(url) as client:
        before = _names(store)
        r = _csv_upload(client, op, bad)
        assert r.status_code == 422, r.text
        assert "第 3 行" in r.json()["detail"] and "line 4" in r.json()["detail"]
        assert _names(store) == before                                     # nothing written
        for raw in (b"\xff\xfe\x00\x00broken\x81\x82", b"", b"name\n\"unclosed\x00"):
            r = _csv_upload(client, op, raw)
            assert r.status_code == 422, (raw, r.text)
        r = client.post("/api/admin/enterprises/import", content=good, headers={**op, "content-type": "text/csv"})
        assert r.status_code == 415
        big = CSV_HEAD.encode() + b"x,,321203,,,,\n" * (6 * 1024 * 1024 // 14)
        assert _csv_upload(client, op, big).status_code == 413
        assert _names(store) == before
        assert _csv_upload(client, heads["admin"], good).status_code == 403
        assert _csv_upload(client, {}, good).status_code == 401
        r = _csv_upload(client, op, good)
        assert r.status_code == 200 and r.json() == {"added": 2, "updated": 0}
        assert _csv_upload(client, op, gbk).json() == {"added": 1, "updated": 0}
        assert orgs.profile(store, "丁厂")["park"] == "泰兴经济开发区"
        assert orgs.profile(store, "戊厂")["division_code"] == "320612"


def test_a_moved_account_stops_reading_its_old_enterprise(world):
    url, store, heads = world
    _, session, _ = accounts.sign_in(store, ENT, "admin-1", PASSWORD)
    token = heads["admin"]
    with _client(url, read_requires_token=True) as client:
        client.cookies.set("riskmap_session", session)
        assert client.get("/api/history", params={"enterprise": ENT}).status_code == 200
        client.cookies.clear()
        r = client.post("/api/admin/accounts/move", json={"login": "admin-1", "from_enterprise": ENT,
                                                          "to_enterprise": OTHER, "reason": "调岗"},
                        headers=heads["operator"])
        assert r.status_code == 200 and r.json()["enterprise"] == OTHER
        client.cookies.set("riskmap_session", session)          # the page signed in before the move
        assert client.get("/api/history", params={"enterprise": ENT}).status_code == 401
        client.cookies.clear()
        assert client.get("/api/history", params={"enterprise": ENT}, headers=token).status_code == 403
        assert client.get("/api/history", params={"enterprise": OTHER}, headers=token).status_code == 200
        # a regulator's account moved to another regulator: its session ends, its token reads the new scope
        _, reg_session, _ = accounts.sign_in(store, ENT, "reg-1", PASSWORD)
        r = client.post("/api/admin/regulator-accounts/move", json={"login": "reg-1", "regulator": "泰州市局",
                                                                    "to_regulator": "南通市局"},
                        headers=heads["operator"])
        assert r.status_code == 200 and r.json()["regulator"] == "南通市局"
        again = client.post("/api/admin/regulator-accounts/move", json={"login": "reg-1", "regulator": "南通市局",
                                                                        "to_regulator": "南通市局"},
                            headers=heads["operator"])
        assert again.status_code == 422
        client.cookies.set("riskmap_session", reg_session)
        assert client.get("/api/overview").status_code == 401
        client.cookies.clear()
        seen = client.get("/api/overview", headers=heads["regulator"]).json()["enterprises"]
        assert [e["name"] for e in seen] == [OTHER]


# ---------------------------------------------------------------------------------------------- the audit trail


def test_every_request_of_a_regulator_is_recorded(world):
    url, store, heads = world
    reg = heads["regulator"]
    start = datetime.now(UTC) - timedelta(seconds=1)
    with _client(url, read_requires_token=True) as client:
        assert client.get("/api/regions", params={"enterprise": ENT}, headers=reg).status_code == 200
        assert client.get("/api/overview", headers=reg).status_code == 200
        assert client.get("/api/regions", params={"enterprise": OTHER}, headers=reg).status_code == 403
        assert client.post("/api/supervisions", params={"enterprise": ENT}, headers=reg,
                           json={"hazard_id": 99, "level": "city", "document_number": "泰安督〔2026〕1号",
                                 "deadline": "2026-12-31"}).status_code == 404
        assert client.get("/healthz", headers=reg).status_code == 200            # no data: not recorded
        assert client.get("/api/regions", params={"enterprise": ENT}, headers=heads["admin"]).status_code == 200
    with _client(url) as client:        # reading open: the regulator's token still says who read
        assert client.get("/api/units.geojson", params={"enterprise": ENT}, headers=reg).status_code == 200
        assert client.get("/api/units.geojson", params={"enterprise": ENT}).status_code == 200        # anonymous: not
        rows = client.get("/api/audit/regulators", headers=heads["operator"]).json()
        said = [(r["method"], r["route"], r["enterprise"], r["status"], r["write"]) for r in rows]
        assert said == [("GET", "/api/units.geojson", ENT, 200, False),
                        ("POST", "/api/supervisions", ENT, 404, True),
                        ("GET", "/api/regions", OTHER, 403, False),
                        ("GET", "/api/overview", ENT, 200, False),      # the only enterprise of its scope
                        ("GET", "/api/regions", ENT, 200, False)]
        assert {r["login"] for r in rows} == {"reg-1"} and {r["regulator"] for r in rows} == {"泰州市局"}
        assert rows[3]["enterprises"] == 1 and all(r["at"] >= start.isoformat()[:19] for r in rows)
        # who reads which
        own = client.get("/api/audit/regulators", headers=reg).json()
        assert [r["id"] for r in own] == [r["id"] for r in rows]
        assert client.get("/api/audit/regulators", headers=heads["regulator elsewhere"]).json() == []
        ent_rows = client.get("/api/audit/regulators", headers=heads["admin"]).json()
        assert {r["enterprise"] for r in ent_rows} == {ENT} and len(ent_rows) == 4
        other_rows = client.get("/api/audit/regulators", headers=heads["other admin"]).json()
        assert [(r["enterprise"], r["status"]) for r in other_rows] == [(OTHER, 403)]
        assert client.get("/api/audit/regulators", params={"enterprise": ENT},
                          headers=heads["other admin"]).status_code == 403
        assert client.get("/api/audit/regulators").status_code == 401
        # filters
        op = heads["operator"]
        assert len(client.get("/api/audit/regulators", params={"enterprise": ENT}, headers=op).json()) == 4
        assert len(client.get("/api/audit/regulators", params={"account": "reg-1", "limit": 2},
                              headers=op).json()) == 2
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert client.get("/api/audit/regulators", params={"from": future}, headers=op).json() == []
        assert len(client.get("/api/audit/regulators", params={"to": future}, headers=op).json()) == 5
        for bad, status in (({"account": "nobody-9"}, 404), ({"enterprise": "没有的企业"}, 404),
                            ({"from": future, "to": start.isoformat()}, 422), ({"from": "yesterday"}, 422),
                            ({"limit": 0}, 422)):
            assert client.get("/api/audit/regulators", params=bad, headers=op).status_code == status, bad
    assert len(regulator_audit.entries(store, regulator="泰州市局")) == 5
    # a read of several enterprises at once: no single enterprise, their number
    orgs.set_profile(store, "丙厂", create=True, division_code="321204")
    with _client(url) as client:
        assert client.get("/api/overview", headers=reg).status_code == 200
    newest = regulator_audit.entries(store, limit=1)[0]
    assert (newest["route"], newest["enterprise"], newest["enterprises"]) == ("/api/overview", None, 2)


@pytest.mark.postgis
def test_an_enterprise_reads_only_its_own_records_in_the_database(postgis_database):
    """On PostGIS the row-security policy itself holds the records to the request's enterprise."""
    from pgdb import empty_tables

    from riskmap.store import scope

    empty_tables(postgis_database)
    with open_store(postgis_database) as store:
        ent = int(store.enterprise(ENT).id)
        other = int(store.enterprise(OTHER).id)
        orgs.add_regulator(store, "泰州市局", level="city", division_code="321200")
        acc = orgs.add_regulator_account(store, "泰州市局", name="市局", login="reg-1", password=PASSWORD)["id"]
        for e, n in ((ent, 1), (other, 1), (None, 2)):
            regulator_audit.record(store, account_id=acc, enterprise_id=e, enterprises=n, method="GET", route="/x",
                                   path="/x", status=200, via="token")
        with scope.scoped({ent}):
            assert [r["enterprise"] for r in regulator_audit.entries(store)] == [ENT]
        with scope.scoped(scope.NOTHING):
            assert regulator_audit.entries(store) == []
        assert len(regulator_audit.entries(store)) == 3


def test_the_migration_goes_down_and_up(store_url):
    from alembic import command
    from pgdb import backend_of, owner_url
    from sqlalchemy import inspect

    from riskmap.store.upgrade import alembic_config

    migrating = owner_url(store_url) if backend_of(store_url) == "postgis" else store_url
    open_store(store_url).close()
    store = open_store(migrating)
    try:
        with store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0015_flags")
            assert "regulator_audit" not in inspect(conn).get_table_names()
            command.upgrade(alembic_config(conn), "head")
            assert "regulator_audit" in inspect(conn).get_table_names()
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------- the command line


def test_the_command_line_makes_operators_and_reads_the_records(tmp_path):
    import json

    from clikit import one_line_error, run

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run("org", "add", ENT, "--division", "321203", "--db", db)
    run("org", "add-regulator", "泰州市局", "--level", "city", "--division", "321200", "--db", db)
    out = run("user", "add", "--operator", "--name", "运维甲", "--login", "ops-1", "--password-stdin", "--db", db,
              input=PASSWORD + "\n").stdout
    assert "ops-1" in out and "平台运维" in out
    listed = json.loads(run("user", "list", "--operator", "--json", "--db", db).stdout)
    assert [(a["login"], a["roles"], a["kind"]) for a in listed] == [("ops-1", ["operator"], "operator")]
    for args, words in (
        (["user", "add", "--operator", "--enterprise", ENT, "--name", "x", "--login", "x-1"], ["--operator"]),
        (["user", "add", "--operator", "--regulator", "泰州市局", "--name", "x", "--login", "x-1"], ["--operator"]),
        (["user", "add", "--operator", "-r", "admin", "--name", "x", "--login", "x-1"], ["admin"]),
        (["user", "add", "--enterprise", ENT, "-r", "operator", "--name", "x", "--login", "x-1"], ["operator"]),
        (["user", "add", "--enterprise", ENT, "--name", "x", "--login", "x-1"], ["--role"]),
        (["user", "add", "--operator", "--name", "x", "--login", "ops-1"], ["ops-1"]),
        (["user", "disable", "nobody-1", "--operator"], ["nobody-1"]),
        (["org", "audit", "--account", "nobody-1"], ["nobody-1"]),
        (["org", "audit", "--from", "yesterday"], ["yesterday", "1990"]),
        (["org", "audit", "--limit", "0"], ["limit"]),
    ):
        one_line_error(run(*args, "--password-stdin", "--db", db, check=False, input=PASSWORD + "\n")
                       if args[0] == "user" and args[1] == "add" else run(*args, "--db", db, check=False), *words)
    assert len(json.loads(run("user", "list", "--operator", "--json", "--db", db).stdout)) == 1
    run("user", "disable", "ops-1", "--operator", "--db", db)
    # the records: one written through the store, read back by the command with its filters
    with open_store(db) as store:
        acc = orgs.add_regulator_account(store, "泰州市局", name="市局", login="reg-1", password=PASSWORD)["id"]
        regulator_audit.record(store, account_id=acc, enterprise_id=int(store.enterprise(ENT, create=False).id),
                               enterprises=1, method="GET", route="/api/regions", path="/api/regions", status=200,
                               via="token")
    said = run("org", "audit", "--db", db).stdout
    assert "reg-1" in said and "/api/regions" in said and ENT in said and "200" in said
    found = json.loads(run("org", "audit", "--account", "reg-1", "--enterprise", ENT, "--from", "2026-01-01",
                           "--json", "--db", db).stdout)
    assert [(r["login"], r["regulator"], r["status"]) for r in found] == [("reg-1", "泰州市局", 200)]
    assert "没有访问记录" in run("org", "audit", "--to", "2026-01-01", "--db", db).stdout


def test_a_record_is_written_after_the_answer_and_kept_on_a_clean_shutdown(world, monkeypatch):
    """Under uvicorn: the answer reaches the regulator before its record is written (the INSERT is slowed down to
    a second here), and stopping the server right after the answer still leaves the record in the database —
    uvicorn finishes the request's task, the INSERT included, before it exits."""
    import threading
    import time

    import httpx
    from liveserver import LiveServer

    url, store, heads = world
    real = regulator_audit.record
    written = threading.Event()

    def slow(*args, **kwargs):
        time.sleep(1.0)
        real(*args, **kwargs)
        written.set()

    monkeypatch.setattr(regulator_audit, "record", slow)
    live = LiveServer(url).start()
    try:
        r = httpx.get(f"{live.url}/api/regions", params={"enterprise": ENT}, headers=heads["regulator"], timeout=30)
        assert r.status_code == 200 and not written.is_set()        # answered before the record is written
    finally:
        live.stop()                                                   # a clean shutdown, at once
    assert written.is_set()
    assert [(e["login"], e["enterprise"], e["status"]) for e in regulator_audit.entries(store)] == [
        ("reg-1", ENT, 200)]


def test_an_enterprise_reader_pays_for_no_second_lookup(world, monkeypatch):
    """Reading open: the records look up who a credentialed request is (the route did not), once per credential
    for an account that is no regulator's; a regulator's requests are each looked up and recorded."""
    from riskmap.api import access_log

    url, store, heads = world
    calls = []
    real = access_log.principal_of

    def counted(request):
        calls.append(request.url.path)
        return real(request)

    monkeypatch.setattr(access_log, "principal_of", counted)
    with _client(url) as client:
        for _ in range(3):
            assert client.get("/api/regions", params={"enterprise": ENT}, headers=heads["admin"]).status_code == 200
        assert len(calls) == 1
        for _ in range(2):
            assert client.get("/api/regions", params={"enterprise": ENT}, headers=heads["regulator"]).status_code == 200
        assert len(calls) == 3
    assert len(regulator_audit.entries(store)) == 2
