"""Isolation you can prove (issue 15, item 2): on PostGIS the database itself returns no row of an enterprise
outside the transaction's scope (riskmap.store.scope, migration 0014), the service connects as a role that is
neither superuser nor table owner, and a walk of every route with the accounts of two enterprises (reading closed)
never shows one enterprise's data to the other: JSON, pages, TileJSON, OGC items, tiles (vector tile features
and PNG pixels), prints, exports and cached answers.

On SQLite the database enforces nothing: there isolation is the code's own filter (every query names its
enterprise), which the route walk checks on both backends.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import zipfile

import mapbox_vector_tile
import psycopg
import pytest
from fastapi.testclient import TestClient
from pgdb import OWNER_ROLE, SERVICE_ROLE, admin_url, empty_tables, owner_url
from sqlalchemy import text

from riskmap.api.app import create_app
from riskmap.settings import Settings
from riskmap.store import accounts, open_store, scope, tokens

MARK = "乙厂机密"                  # in every unit name of enterprise B: never in an answer to A
B = "乙厂化工"
PASSWORD = "isolation-walk-1"


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _scoped_tables(url: str) -> set[str]:
    import riskmap.store.repository  # noqa: F401  (every room's tables)
    from riskmap.store.schema import Base

    return {t.name for t in Base.metadata.sorted_tables if "enterprise_id" in t.c}


# ---------------------------------------------------------------------------------------------- the database


@pytest.mark.postgis
def test_every_table_with_an_enterprise_id_has_the_policy_forced(postgis_database):
    """Walks the ORM's metadata: a new table with an enterprise_id and no policy fails here."""
    wanted = _scoped_tables(postgis_database)
    assert {"units", "layout_features", "map_features", "data_versions", "accounts"} <= wanted
    with psycopg.connect(_plain(admin_url(postgis_database))) as conn:
        rows = conn.execute("SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner),"
                            " p.qual, p.with_check FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "LEFT JOIN pg_policies p ON p.tablename = c.relname AND p.policyname = %s "
                            "WHERE n.nspname = 'public' AND c.relkind = 'r'", (scope.POLICY,)).fetchall()
    found = {r[0]: r for r in rows}
    missing = sorted(t for t in wanted if t not in found or not (found[t][1] and found[t][2] and found[t][4]))
    assert not missing, f"tables with enterprise_id but no forced riskmap_scope policy: {missing}"
    assert all(found[t][3] == OWNER_ROLE for t in wanted)            # owned by the owner, not the service
    assert all("riskmap.scope" in found[t][4] and found[t][5] for t in wanted)


@pytest.mark.postgis
def test_the_service_role_is_neither_superuser_nor_owner(postgis_database):
    with psycopg.connect(_plain(postgis_database)) as conn:
        who, superuser, bypass = conn.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                                              "WHERE rolname = current_user").fetchone()
        assert (who, superuser, bypass) == (SERVICE_ROLE, False, False)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = "
                            "current_user").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE units DISABLE ROW LEVEL SECURITY")


def _two_enterprises(store) -> tuple[int, int]:
    from riskmap.domain import AssessmentUnit

    empty_tables(str(store.url.render_as_string(hide_password=False)))
    a = int(store.enterprise("甲厂").id)
    b = int(store.enterprise(B).id)
    store.save_units("甲厂", [AssessmentUnit(id="A-1", name="甲厂装置")])
    store.save_units(B, [AssessmentUnit(id="B-1", name=f"{MARK}装置"), AssessmentUnit(id="B-2", name=f"{MARK}罐区")])
    return a, b


@pytest.mark.postgis
def test_a_raw_select_sees_only_the_enterprises_of_the_scope(postgis_database):
    """`SELECT * FROM units` without any WHERE, through the store's engine: the scope alone decides."""
    with open_store(postgis_database) as store:
        a, b = _two_enterprises(store)
        assert store.backend == "postgis"

        def codes() -> list[str]:
            with store.session() as s:
                return sorted(r.code for r in s.execute(text("SELECT * FROM units")))

        assert codes() == ["A-1", "B-1", "B-2"]                 # the service's own work: every enterprise
        with scope.scoped({a}):
            assert codes() == ["A-1"]
            assert store.data_version(B) == 0                   # B's version row is not there for A
        with scope.scoped({b}):
            assert codes() == ["B-1", "B-2"]
        with scope.scoped({a, b}):
            assert codes() == ["A-1", "B-1", "B-2"]
        with scope.scoped(scope.NOTHING):
            assert codes() == []
        # a write into another enterprise is refused by the policy's WITH CHECK, and changes nothing
        with scope.scoped({a}), pytest.raises(Exception, match="row-level security"), store.session(write=True) as s:
            s.execute(text("UPDATE data_versions SET version = version + 100 WHERE enterprise_id = :b"), {"b": b})
            s.execute(text("INSERT INTO data_versions (enterprise_id, version, updated_at) "
                           "VALUES (:b, 1, now())"), {"b": b})
        assert store.data_version(B) > 0 and store.data_version(B) < 100


@pytest.mark.postgis
def test_an_unset_scope_reads_nothing(postgis_database):
    """A connection that never set the scope (a forgotten filter, a tool pointed at the service's role) and one
    whose setting was emptied read no row; the owner is bound by the policies too (FORCE)."""
    with open_store(postgis_database) as store:
        _two_enterprises(store)
    for url in (postgis_database, owner_url(postgis_database)):
        with psycopg.connect(_plain(url)) as conn:
            assert conn.execute("SELECT count(*) FROM units").fetchone()[0] == 0
            conn.execute("SELECT set_config('riskmap.scope', '', false)")
            assert conn.execute("SELECT count(*) FROM units").fetchone()[0] == 0
            conn.execute("SELECT set_config('riskmap.scope', 'all', false)")
            assert conn.execute("SELECT count(*) FROM units").fetchone()[0] == 3
    with psycopg.connect(_plain(admin_url(postgis_database))) as conn:     # a superuser: not bound (known)
        assert conn.execute("SELECT count(*) FROM units").fetchone()[0] == 3


def test_scope_values_are_checked():
    assert scope.setting_of(scope.ALL) == "all" and scope.setting_of(frozenset({3, 1})) == "1,3"
    assert scope.setting_of(scope.NOTHING) == ""
    for bad in ("1,2", {True}, {"1"}, {1.5}):
        with pytest.raises(ValueError):
            scope.checked(bad)
    assert scope.current() == scope.ALL
    assert scope.narrow({5}) == scope.ALL                  # outside a request nothing narrows
    with scope.request_scope():
        assert scope.current() == scope.NOTHING
        assert scope.narrow({5}) == frozenset({5})
        with scope.service():
            assert scope.current() == scope.ALL
        assert scope.current() == frozenset({5})
    assert scope.current() == scope.ALL


# ---------------------------------------------------------------------------------------------- every route


def _load_b(url: str, store) -> None:
    """Enterprise B: the demo's site plan and ledger (every unit renamed with MARK), hazards and inspections."""
    from riskmap.demo import add_demo_accounts, demo_dir
    from riskmap.demo_hazards import load_demo_hazards
    from riskmap.importing import import_ledger, load_layout
    from riskmap.inspections.demo import add_demo_inspections
    from riskmap.ledger import read_ledger

    folder = demo_dir()
    settings = Settings(db=url, enterprise=B)
    store.enterprise(B)
    load_layout(settings, folder / "plant.dxf", control_points=folder / "control_points.csv", store=store)
    source = folder / "ledger.xlsx" if (folder / "ledger.xlsx").exists() else folder / "ledger.json"
    ledger = read_ledger(source)
    ledger.units = [dataclasses.replace(u, name=f"{MARK}{i}") for i, u in enumerate(ledger.units)]
    import_ledger(store, ledger, source="b.json", enterprise=B)
    add_demo_accounts(store, B)
    add_demo_inspections(store, B)
    load_demo_hazards(store, B, settings)


@pytest.fixture(scope="module")
def two(module_store_url, tmp_path_factory):
    """The demo enterprise A and enterprise B on one database; a viewer token of each, an admin token of A."""
    from riskmap.demo import load_demo

    url = module_store_url
    media = tmp_path_factory.mktemp("media")
    load_demo(Settings(db=url, media_dir=str(media)))
    with open_store(url) as store:
        a = store.enterprises()[0].name
        _load_b(url, store)
        heads = {}
        for who, ent, roles in (("a", a, ["viewer"]), ("a-admin", a, ["admin", "safety_manager"]),
                                ("b", B, ["viewer"])):
            made = accounts.create_account(store, ent, name=f"{who} 人", login=f"iso-{who}", password=PASSWORD,
                                           roles=roles)
            heads[who] = {"Authorization": "Bearer " + tokens.create_token(store, "editor", who,
                                                                            account_id=made["id"])[0]}
        made = accounts.create_account(store, None, name="运维人", login="iso-ops", password=PASSWORD,
                                       roles=["operator"], operator=True)
        heads["operator"] = {"Authorization": "Bearer " + tokens.create_token(store, "editor", "ops",
                                                                               account_id=made["id"])[0]}
        from riskmap.store import hazards as hazard_store

        b_hazard = hazard_store.records(store, B)[0].id
        b_id = store.enterprise(B, create=False).id
    yield url, a, heads, media, (b_hazard, b_id)


def _sample(b) -> dict:
    b_hazard, b_id = b
    return {"z": "16", "x": "54567", "y": "26544", "tile_matrix": "16", "tile_row": "26544", "tile_col": "54567",
            "row": "0", "col": "0", "tms_id": "WebMercatorQuad", "tms": "WebMercatorQuad", "layer": "units",
            "collection_id": f"e{b_id}_units", "spec": "leaflet/leaflet.js", "name": "edit.js", "unit_id": "U01",
            "hazard_id": str(b_hazard), "task_id": "1", "code": "U01", "key": "site", "login": "iso-b",
            "feature_id": "1", "drawing": "site", "filename": "x.png"}


def _texts(r, tmp_path) -> str:
    """What an answer says, decoded by its type: JSON (also its \\u escapes), PDF text, a workbook's cells, a vector
    tile's features, or the bytes as text."""
    media = r.headers.get("content-type", "")
    body = r.content
    if "json" in media:
        try:
            return json.dumps(r.json(), ensure_ascii=False)
        except ValueError:
            return r.text
    if "pdf" in media:
        from printkit import pdftotext

        return pdftotext(body, tmp_path)
    if "spreadsheet" in media or body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml"))
    if "vnd.mapbox-vector-tile" in media:
        return json.dumps(mapbox_vector_tile.decode(body), ensure_ascii=False, default=str)
    return body.decode("utf-8", "replace")


def test_no_route_shows_one_enterprise_to_another(two, tmp_path):
    """Every GET of the API description, as A's viewer on A (reading closed), with B's ids in the path: no
    answer carries anything of B."""
    url, a, heads, media, b_hazard = two
    app = create_app(Settings(db=url, read_requires_token=True, media_dir=str(media)))
    sample = _sample(b_hazard)
    leaks, seen = [], 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for path, ops in app.openapi()["paths"].items():
            if "get" not in ops:
                continue
            target = re.sub(r"\{(\w+)\}", lambda m: sample.get(m.group(1), "1"), path)
            r = client.get(target, params={"enterprise": a}, headers=heads["a"])
            assert r.status_code < 500, (path, r.status_code, r.text[:300])
            seen += r.status_code == 200
            said = _texts(r, tmp_path)
            if MARK in said or (B in said and app.state.route_permissions.get(("GET", path)) is not None):
                leaks.append((path, r.status_code))
            # A's account may not read B (the routes with no data in them are open to all)
            if app.state.route_permissions.get(("GET", path)) is not None:
                other = client.get(target, params={"enterprise": B}, headers=heads["a"])
                assert other.status_code in (401, 403, 404), (path, other.status_code)
                assert MARK not in _texts(other, tmp_path)
    assert seen > 40
    assert not leaks, leaks


def test_an_operator_reads_no_enterprise(two, tmp_path):
    """Every GET as an operator's account (reading closed), on A and on B: no enterprise's data in any answer —
    only its own routes answer (the organisations' profiles and the access records), every other is refused."""
    url, a, heads, media, b = two
    app = create_app(Settings(db=url, read_requires_token=True, media_dir=str(media)))
    sample = _sample(b)
    own = ("/api/admin/", "/api/audit/")
    answered = []
    with open_store(url) as store:
        a_mark = max((u.name for u in store.units(a)), key=len)         # A's data: its longest unit name
    with TestClient(app, raise_server_exceptions=False) as client:
        for path, ops in app.openapi()["paths"].items():
            if "get" not in ops:
                continue
            target = re.sub(r"\{(\w+)\}", lambda m: sample.get(m.group(1), "1"), path)
            for ent in (a, B):
                r = client.get(target, params={"enterprise": ent}, headers=heads["operator"])
                assert r.status_code < 500, (path, r.status_code, r.text[:300])
                said = _texts(r, tmp_path)
                assert MARK not in said and a_mark not in said, path
                if app.state.route_permissions.get(("GET", path)) is not None and not path.startswith(own):
                    assert r.status_code in (401, 403, 404), (path, ent, r.status_code)
                elif r.status_code == 200:
                    answered.append(path)
    assert "/api/admin/enterprises" in answered and "/api/audit/regulators" in answered


def _tile(client, layer, z, x, y, fmt, ent, head):
    r = client.get(f"/tiles/{layer}/{z}/{x}/{y}.{fmt}", params={"enterprise": ent}, headers=head)
    assert r.status_code == 200, r.text[:200]
    return r


def _centre_tile(client, ent, head) -> tuple[int, int, int]:
    doc = client.get("/tiles/units/tilejson.json", params={"enterprise": ent, "format": "mvt"}, headers=head).json()
    assert doc["data_version"] >= 1 and ent in doc["name"]
    lon, lat, zoom = doc["center"]
    z = max(int(zoom), 17)
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def test_tiles_and_cached_answers_stay_with_their_enterprise(two):
    """A's and B's maps lie on the same ground: the same tile asked by A after B (and by B after A) from one
    app's caches carries only the asker's features; A's PNG is pixel for pixel what a fresh app draws for A."""
    url, a, heads, media, _ = two
    settings = Settings(db=url, read_requires_token=True, media_dir=str(media))
    with TestClient(create_app(settings)) as fresh:
        z, x, y = _centre_tile(fresh, a, heads["a"])
        a_png = _tile(fresh, "units", z, x, y, "png", a, heads["a"]).content
    with TestClient(create_app(settings)) as client:
        for first, second in ((B, a), (a, B)):
            for ent in (first, second):
                head = heads["b"] if ent == B else heads["a"]
                body = _tile(client, "units", z, x, y, "mvt", ent, head).content
                names = [f["properties"].get("name", "") for f in
                         mapbox_vector_tile.decode(body).get("units", {}).get("features", [])]
                assert names, f"no unit in the tile for {ent}"
                assert all(MARK in n for n in names) if ent == B else not any(MARK in n for n in names)
        for ent, head in ((B, heads["b"]), (a, heads["a"])):
            _tile(client, "units", z, x, y, "png", ent, head)
        assert _tile(client, "units", z, x, y, "png", a, heads["a"]).content == a_png
        doc = client.get("/tiles/units/tilejson.json", params={"enterprise": a}, headers=heads["a"]).json()
        assert B not in json.dumps(doc, ensure_ascii=False)


def test_a_regulator_sees_only_the_enterprises_of_its_scope(two, tmp_path):
    """A regulator of A's county (B placed on the very same spot, in another county): every overview route —
    the JSON, statistics, Excel, PNG and vector tiles and the OGC collection `enterprises` — answers A and never
    B; B's item is a 404; an enterprise account reads none of them; /api/orgs answers A to both."""
    import morecantile

    from riskmap.store import orgs

    url, a, heads, media, (_, b_id) = two
    with open_store(url) as store:
        where = orgs.profile(store, a)
        county = where["division_code"] or "321203"
        lon, lat = where["lon"] or 119.9, where["lat"] or 32.3
        if where["division_code"] is None or where["lon"] is None:
            orgs.set_profile(store, a, division_code=county, lon=lon, lat=lat)
        orgs.set_profile(store, B, division_code="320612", lon=lon, lat=lat)
        orgs.add_regulator(store, "甲厂所在县局", level="county", division_code=county)
        made = orgs.add_regulator_account(store, "甲厂所在县局", name="县局人", login="iso-reg", password=PASSWORD,
                                          roles=["regulator_viewer"])
        reg = {"Authorization": "Bearer " + tokens.create_token(store, "editor", "reg", account_id=made["id"])[0]}
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 14)
    sample = {"z": str(tile.z), "x": str(tile.x), "y": str(tile.y), "feature_id": str(b_id)}
    app = create_app(Settings(db=url, read_requires_token=True, media_dir=str(media)))
    walked = 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for path, ops in app.openapi()["paths"].items():
            if "get" not in ops or not path.startswith(("/api/overview", "/ogc/overview")):
                continue
            target = re.sub(r"\{(\w+)\}", lambda m: sample[m.group(1)], path)
            r = client.get(target, headers=reg)
            said = _texts(r, tmp_path)
            assert B not in said and MARK not in said, path
            if path.endswith("{feature_id}"):
                assert r.status_code == 404                       # B's item: not in the scope
            else:
                assert r.status_code == 200, (path, r.text[:200])
            assert client.get(target, headers=heads["a"]).status_code == 403     # an enterprise's account
            walked += 1
        assert walked >= 11
        found = client.get("/ogc/overview/collections/enterprises/items", headers=reg).json()
        assert [f["properties"]["name"] for f in found["features"]] == [a]
        assert [e["name"] for e in client.get("/api/overview", headers=reg).json()["enterprises"]] == [a]
        for head in (reg, heads["a"]):          # the organisations in scope: the regulator's, A's own
            said = client.get("/api/orgs", headers=head)
            assert [e["name"] for e in said.json()["enterprises"]] == [a] and B not in said.text
        assert B in client.get("/api/orgs", headers=heads["b"]).text
        mvt = client.get(f"/api/overview/tiles/{tile.z}/{tile.x}/{tile.y}.mvt", headers=reg).content
        assert [f["properties"]["name"] for f in mapbox_vector_tile.decode(mvt)["enterprises"]["features"]] == [a]
