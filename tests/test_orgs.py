"""Organisations (issue 15): the credit code and division rules, profiles, parks, regulators and their scope on both
backends, a regulator's rights over HTTP (reads its scope only, writes only supervision records), the overview's
counts and Excel export decoded, an account moved while signed in, and the `riskmap org` commands' refusals."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from riskmap.api.app import create_app
from riskmap.errors import AlreadyExistsError, ForbiddenError, InputError, NotFoundError
from riskmap.orgs import codes, divisions, model
from riskmap.settings import Settings
from riskmap.store import accounts, orgs, tokens
from riskmap.store.schema import EnterpriseProfileRow, EnterpriseRow, RegulatorRow, SupervisionRow

GOOD_CODE = "91350100M000100Y43"          # GB 32100's example
PASSWORD = "orgs-test-pass-1"


# ---------------------------------------------------------------------------------------------- rules


def test_credit_code_check_character():
    assert codes.credit_code_problem(GOOD_CODE) is None
    assert codes.check_credit_code(GOOD_CODE.lower()) == GOOD_CODE
    assert "校验位" in codes.credit_code_problem(GOOD_CODE[:-1] + "4")
    assert "18" in codes.credit_code_problem(GOOD_CODE[:-1])
    assert "I, O, Z, S, V" in codes.credit_code_problem("91350100M000100YI3")
    # every other check character is refused: exactly one is right
    right = [c for c in codes.CHARSET if codes.credit_code_problem(GOOD_CODE[:17] + c) is None]
    assert right == ["3"]
    with pytest.raises(InputError):
        codes.check_hazchem_code("12345678")
    assert codes.check_hazchem_code(" 320412345 ") == "320412345"


def test_divisions_from_the_shipped_table():
    table = divisions.table()
    assert len([d for d in table.values() if d.level == "province"]) == 34
    assert divisions.division("321203").name == "高港区"
    assert divisions.full_name("321203") == "江苏省泰州市高港区"
    assert divisions.prefix("320000") == "32" and divisions.prefix("321200") == "3212"
    assert divisions.prefix("321203") == "321203"
    assert divisions.within("321203", "321200") and divisions.within("321203", "320000")
    assert not divisions.within("320612", "321200")
    with pytest.raises(NotFoundError):
        divisions.division("329999")
    with pytest.raises(InputError):
        divisions.division("3212")
    model.check_park_fits("321203", "园区", "321203")
    with pytest.raises(InputError, match="行政区划"):
        model.check_park_fits("320612", "园区", "321203")


def test_regulator_and_supervision_rules():
    assert model.check_regulator(level="city", division_code="321200", park=None) == ("city", "321200")
    with pytest.raises(InputError, match="county"):
        model.check_regulator(level="city", division_code="321203", park=None)
    with pytest.raises(InputError):
        model.check_regulator(level="park", division_code="321203", park=None)
    with pytest.raises(InputError):
        model.check_supervision(level="nation", document_number="泰安委〔2026〕1号", deadline="2026-12-31")
    with pytest.raises(InputError, match="日期"):
        model.check_supervision(level="city", document_number="x", deadline="tomorrow")
    with pytest.raises(InputError):
        model.check_location(200, 32)


# ---------------------------------------------------------------------------------------------- store


def _world(store):
    orgs.add_park(store, "高港园区", "321203")
    orgs.set_profile(store, "甲化工", create=True, division_code="321203", park="高港园区", credit_code=GOOD_CODE,
                     lon=119.8, lat=32.3, industry="化工")
    orgs.set_profile(store, "乙化工", create=True, division_code="321283", lon=120.0, lat=32.2, industry="医药")
    orgs.set_profile(store, "丙化工", create=True, division_code="320612", lon=120.9, lat=32.0, industry="化工")
    orgs.add_regulator(store, "泰州市局", level="city", division_code="321200")
    orgs.add_regulator(store, "园区局", level="park", park="高港园区")
    orgs.add_regulator(store, "江苏省厅", level="province", division_code="320000")


def _rows(store):
    with store.session() as s:
        return (s.execute(select(func.count()).select_from(EnterpriseRow)).scalar_one(),
                s.execute(select(func.count()).select_from(EnterpriseProfileRow)).scalar_one())


def test_profiles_and_refusals_change_nothing(store):
    _world(store)
    before = _rows(store)
    with pytest.raises(NotFoundError, match="329999"):
        orgs.set_profile(store, "丁化工", create=True, division_code="329999")
    with pytest.raises(InputError, match="园区"):
        orgs.set_profile(store, "丁化工", create=True, division_code="320612", park="高港园区")
    with pytest.raises(InputError, match="校验位"):
        orgs.set_profile(store, "丁化工", create=True, division_code="320612", credit_code=GOOD_CODE[:-1] + "0")
    with pytest.raises(AlreadyExistsError, match="甲化工"):
        orgs.set_profile(store, "丁化工", create=True, division_code="320612", credit_code=GOOD_CODE)
    with pytest.raises(NotFoundError):
        orgs.set_profile(store, "丁化工", create=True, division_code="320612", park="没有的园区")
    assert _rows(store) == before
    assert orgs.profile(store, "甲化工")["division"] == "江苏省泰州市高港区"
    # moved out of its park into another county
    moved = orgs.move_enterprise(store, "甲化工", division_code="321283", no_park=True)
    assert moved["division_code"] == "321283" and moved["park"] is None and moved["credit_code"] == GOOD_CODE
    with pytest.raises(InputError):
        orgs.move_enterprise(store, "甲化工", park="高港园区")          # the park is in another county now


def test_scope_of_each_kind_of_account(store):
    _world(store)
    ids = {e["name"]: e["id"] for e in orgs.list_enterprises(store)}
    assert orgs.scope_ids(store, "泰州市局") == {ids["甲化工"], ids["乙化工"]}          # 3212xx: both counties
    assert orgs.scope_ids(store, "园区局") == {ids["甲化工"]}
    assert orgs.scope_ids(store, "江苏省厅") == set(ids.values())
    # the overview's key: the scope and its state in one statement; a write in the scope changes the state, one
    # outside it does not
    scope, state = orgs.scope_with_state(store, "泰州市局")
    assert scope == orgs.scope_ids(store, "泰州市局") and state[2] == 2
    orgs.move_enterprise(store, "丙化工", division_code="320612")                     # outside: 南通
    assert orgs.scope_with_state(store, "泰州市局") == (scope, state)
    orgs.move_enterprise(store, "乙化工", division_code="321283")                     # inside: its data version
    assert orgs.scope_with_state(store, "泰州市局")[1] != state
    assert orgs.scope_with_state(store, "园区局")[0] == {ids["甲化工"]}
    reg = orgs.add_regulator_account(store, "泰州市局", name="王", login="wang", password=PASSWORD,
                                     roles=["regulator_viewer"])
    assert reg["regulator"] == "泰州市局" and reg["enterprise"] is None
    own = accounts.create_account(store, "丙化工", name="李", login="li", password=PASSWORD, roles=["viewer"])
    machine = accounts.create_account(store, None, name="机器", login="machine", password=None, roles=["viewer"])
    assert orgs.readable_enterprise_ids(store, reg["id"]) == {ids["甲化工"], ids["乙化工"]}
    assert orgs.readable_enterprise_ids(store, own["id"]) == {ids["丙化工"]}
    assert orgs.readable_enterprise_ids(store, machine["id"]) is None
    assert orgs.readable_enterprise_ids(store, 99999) == frozenset()
    # roles do not cross: no enterprise role for a regulator, no regulator role for an enterprise
    with pytest.raises(InputError, match="regulator_viewer"):
        orgs.add_regulator_account(store, "泰州市局", name="x", login="x1", password=None, roles=["editor"])
    with pytest.raises(InputError):
        accounts.create_account(store, "丙化工", name="x", login="x2", password=None, roles=["regulator_viewer"])


# ---------------------------------------------------------------------------------------------- HTTP


@pytest.fixture
def regulated(demo_copy):
    """The demo (profile, park and city regulator seeded by the demo) plus an enterprise of another city and
    tokens: the demo's regulator supervisor, a viewer of a park regulator elsewhere, the demo's editor."""
    from riskmap.store import open_store

    store = open_store(demo_copy)
    orgs.set_profile(store, "南通某化工", create=True, division_code="320612", lon=120.9, lat=32.0, industry="化工")
    orgs.add_park(store, "南通园区", "320612")
    orgs.add_regulator(store, "南通园区局", level="park", park="南通园区")
    sup = accounts.get_account(store, None, "demo-regulator")
    other = orgs.add_regulator_account(store, "南通园区局", name="别处", login="nt-1", password=PASSWORD,
                                       roles=["regulator_supervisor"])
    editor = accounts.get_account(store, DEMO, "demo-editor")

    def bearer(account):
        return {"Authorization": "Bearer " + tokens.create_token(store, "editor", "t", account_id=account["id"])[0]}

    heads = {"regulator": bearer(sup), "other regulator": bearer(other), "editor": bearer(editor)}
    yield demo_copy, store, heads
    store.close()


DEMO = "江苏示范化工有限公司（虚构）"


def test_a_regulator_reads_its_scope_and_writes_only_supervision(regulated):
    url, store, heads = regulated
    app = create_app(Settings(db=url, read_requires_token=True))
    with TestClient(app) as client:
        ok = client.get("/api/regions", params={"enterprise": DEMO}, headers=heads["regulator"])
        assert ok.status_code == 200
        far = client.get("/api/regions", params={"enterprise": "南通某化工"}, headers=heads["regulator"])
        assert far.status_code == 403 and "监管范围" in far.json()["detail"]
        assert client.get("/api/regions", params={"enterprise": DEMO},
                          headers=heads["other regulator"]).status_code == 403
        version = store.data_version(DEMO)
        wrote = client.patch("/api/units/U1", params={"enterprise": DEMO}, headers=heads["regulator"],
                             json={"override": {"level": "low", "reason": "x"}})
        assert wrote.status_code == 403
        assert "只能查看辖区企业和挂牌督办" in wrote.json()["detail"] and "supervision" in wrote.json()["detail"]
        assert client.put("/api/orgs/profile", params={"enterprise": DEMO}, headers=heads["regulator"],
                          json={"division_code": "321203"}).status_code == 403
        assert store.data_version(DEMO) == version                      # nothing changed
        me = client.get("/api/auth/me", headers=heads["regulator"]).json()
        assert me["regulator"] == "泰州市应急管理局（虚构）" and me["enterprise"] is None
        assert "supervise" in me["permissions"]
        # an enterprise account has no overview
        assert client.get("/api/overview", headers=heads["editor"]).status_code == 403


def _major_hazard(store) -> int:
    from riskmap.store.schema import HazardRow

    with store.session() as s:
        ent = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == DEMO)).scalar_one()
        found = s.execute(select(HazardRow.id, HazardRow.state, HazardRow.level).where(
            HazardRow.enterprise_id == ent)).all()
    from riskmap.hazards.model import OPEN_STATES

    majors = [h for h, st, lv in found if lv == 1 and st in OPEN_STATES]
    assert majors, found
    return majors[0]


def test_supervision_of_a_major_hazard(regulated):
    url, store, heads = regulated
    hazard = _major_hazard(store)
    app = create_app(Settings(db=url))
    body = {"hazard_id": hazard, "level": "city", "document_number": "泰应急督〔2026〕3号",
            "deadline": (date.today() + timedelta(days=30)).isoformat()}
    with TestClient(app) as client:
        # the overview (kept in memory per scope state) is read before the write: it must not stay stale after it
        assert client.get("/api/overview", headers=heads["regulator"]).json()["enterprises"][0][
            "listed_supervisions"] == 0
        assert client.post("/api/supervisions", params={"enterprise": DEMO}, json=body,
                           headers=heads["editor"]).status_code == 403
        assert client.post("/api/supervisions", params={"enterprise": DEMO}, json=body,
                           headers=heads["other regulator"]).status_code == 403
        bad = client.post("/api/supervisions", params={"enterprise": DEMO}, json={**body, "level": "nation"},
                          headers=heads["regulator"])
        assert bad.status_code == 422
        made = client.post("/api/supervisions", params={"enterprise": DEMO}, json=body, headers=heads["regulator"])
        assert made.status_code == 201, made.text
        assert made.json()["status"] == "listed" and made.json()["regulator"] == "泰州市应急管理局（虚构）"
        listed = client.get("/api/supervisions", params={"enterprise": DEMO}).json()
        assert [s["document_number"] for s in listed] == ["泰应急督〔2026〕3号"]
        over = client.get("/api/overview", headers=heads["regulator"]).json()
        assert over["enterprises"][0]["listed_supervisions"] == 1
        lifted = client.post(f"/api/supervisions/{made.json()['id']}/status", params={"enterprise": DEMO},
                             json={"status": "lifted"}, headers=heads["regulator"])
        assert lifted.status_code == 200 and lifted.json()["status"] == "lifted"
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(SupervisionRow)).scalar_one() == 1


def test_overview_counts_filters_and_export(regulated):
    url, store, heads = regulated
    app = create_app(Settings(db=url))
    with TestClient(app) as client:
        assert client.get("/api/overview").status_code == 401
        r = client.get("/api/overview", headers=heads["regulator"])
        assert r.status_code == 200
        data = r.json()
        assert [e["name"] for e in data["enterprises"]] == [DEMO]          # not the enterprise of another city
        row = data["enterprises"][0]
        assert row["highest_level"] == "major"                          # the demo has a red region
        assert row["major_risks"] > 0 and row["open_major_hazards"] >= 1
        assert row["division"] == "江苏省泰州市高港区" and row["park"] == "示范化学工业园区（虚构）"
        assert row["map_url"].endswith("/map?enterprise=" + "%E6%B1%9F%E8%8B%8F%E7%A4%BA%E8%8C%83%E5%8C%96%E5%B7%A5"
                                       "%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8%EF%BC%88%E8%99%9A%E6%9E%84%EF%BC%89")
        assert 0 <= (row["inspection_completion"] or 0) <= 1
        assert {e["level"]: e["colour"] for e in data["legend"]}["major"] == "#FF0000"
        # filters
        assert client.get("/api/overview", params={"division": "320612"},
                          headers=heads["regulator"]).json()["enterprises"] == []
        assert client.get("/api/overview", params={"level": "low"}, headers=heads["regulator"]).json()[
            "enterprises"] == []
        assert client.get("/api/overview", params={"division": "329999"},
                          headers=heads["regulator"]).status_code == 404
        assert client.get("/api/overview", params={"division": "12"}, headers=heads["regulator"]).status_code == 422
        stats = client.get("/api/overview/statistics", params={"division": "321200"},
                           headers=heads["regulator"]).json()["statistics"]
        assert stats["enterprises"] == 1 and stats["by_level"]["major"] == 1
        x = client.get("/api/overview/export.xlsx", params={"division": "321200"}, headers=heads["regulator"])
        assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
        book = load_workbook(io.BytesIO(x.content))
        sheet = book["企业"]
        assert sheet["A2"].value == "企业名称" and sheet["A3"].value == DEMO
        assert sheet["F3"].value == "重大风险（红）" and sheet["G3"].value == row["major_risks"]
        assert book["汇总"]["B2"].value == 1
        page = client.get("/overview")
        assert page.status_code == 200 and "overview.js" in page.text and "http://" not in page.text


def test_an_account_moved_while_signed_in(regulated):
    url, store, heads = regulated
    accounts.create_account(store, "南通某化工", name="x", login="someone", password=PASSWORD, roles=["admin"])
    made = accounts.create_account(store, DEMO, name="调动的人", login="mover", password=PASSWORD,
                                   roles=["safety_manager"])
    token = tokens.create_token(store, "editor", "mover", account_id=made["id"])[0]
    _, session, csrf = accounts.sign_in(store, DEMO, "mover", PASSWORD)
    app = create_app(Settings(db=url, read_requires_token=True))
    with TestClient(app) as client:
        client.cookies.set("riskmap_session", session)
        assert client.get("/api/history", params={"enterprise": DEMO}).status_code == 200
        with pytest.raises(ForbiddenError):
            accounts.move_account(store, DEMO, "mover", "南通某化工", by=accounts.principal_for_token(store, token)
                                  .author)                                      # not oneself
        moved = accounts.move_account(store, DEMO, "mover", "南通某化工")
        assert moved["enterprise"] == "南通某化工"
        assert client.get("/api/history", params={"enterprise": DEMO}).status_code == 401      # session ended
        client.cookies.clear()
        hdr = {"Authorization": "Bearer " + token}
        assert client.get("/api/history", params={"enterprise": DEMO}, headers=hdr).status_code == 403
        assert client.get("/api/history", params={"enterprise": "南通某化工"}, headers=hdr).status_code == 200
    accounts.create_account(store, DEMO, name="同名", login="mover2", password=None, roles=["viewer"])
    accounts.create_account(store, "南通某化工", name="同名", login="mover2", password=None, roles=["viewer"])
    with pytest.raises(AlreadyExistsError):
        accounts.move_account(store, DEMO, "mover2", "南通某化工")
    assert accounts.get_account(store, DEMO, "mover2")["enterprise"] == DEMO          # not moved


def test_regulator_signs_in_on_the_usual_page(regulated):
    url, store, _ = regulated
    who, _, _ = accounts.sign_in(store, DEMO, "demo-regulator", "riskmap-demo")
    assert who.regulator == "泰州市应急管理局（虚构）" and who.enterprise is None and who.may("supervise")
    with store.session() as s:
        assert s.execute(select(func.count()).select_from(RegulatorRow)).scalar_one() == 2


# ---------------------------------------------------------------------------------------------- CLI


def test_org_commands_refuse_bad_input(tmp_path):
    from clikit import one_line_error, run

    db = f"sqlite:///{tmp_path / 'orgs.db'}"
    run("org", "add-park", "园区甲", "--division", "321203", "--db", db)
    one_line_error(run("org", "add", "乙", "--division", "329999", "--db", db, check=False), "329999")
    one_line_error(run("org", "add", "乙", "--division", "320612", "--park", "园区甲", "--db", db, check=False),
                   "园区")
    one_line_error(run("org", "add", "乙", "--division", "320612", "--credit-code", GOOD_CODE[:-1] + "X", "--db",
                       db, check=False), "校验位")
    csv_file = tmp_path / "e.csv"
    csv_file.write_text("企业名称,统一社会信用代码,行政区划代码,园区,经度,纬度\n"
                        f"好企业,{GOOD_CODE},321203,园区甲,119.8,32.3\n"
                        "坏企业,,320612,园区甲,120.9,32.0\n"
                        "远企业,,321203,,200,32\n", encoding="utf-8")
    proc = run("org", "import", csv_file, "--db", db, check=False)
    one_line_error(proc, "line 3", "line 4")
    assert run("org", "list", "--json", "--db", db).stdout.strip() == "[]"          # nothing imported
    csv_file.write_text("name,credit_code,division,park,lon,lat\n"
                        f"好企业,{GOOD_CODE},321203,园区甲,119.8,32.3\n", encoding="utf-8")
    assert "added 1" in run("org", "import", csv_file, "--db", db).stdout
    run("org", "add-regulator", "泰州", "--level", "city", "--division", "321200", "--db", db)
    one_line_error(run("org", "add-regulator", "错", "--level", "city", "--division", "321203", "--db", db,
                       check=False), "county")
    proc = run("org", "add-account", "泰州", "--name", "王", "--login", "w1", "--role", "editor",
               "--password-stdin", "--db", db, input="password-123\n", check=False)
    one_line_error(proc, "regulator_viewer")
    run("org", "add-account", "泰州", "--name", "王", "--login", "w1", "--role", "regulator_viewer",
        "--password-stdin", "--db", db, input="password-123\n")


def test_overview_tiles_png_and_mvt(regulated):
    import mapbox_vector_tile
    import morecantile
    import numpy as np
    from kit import rgba

    url, store, heads = regulated
    profile = orgs.profile(store, DEMO)
    tile = morecantile.tms.get("WebMercatorQuad").tile(profile["lon"], profile["lat"], 12)
    path = f"/api/overview/tiles/{tile.z}/{tile.x}/{tile.y}"
    with TestClient(create_app(Settings(db=url))) as client:
        assert client.get(path + ".png").status_code == 401
        assert client.get(path + ".png", headers=heads["editor"]).status_code == 403
        png = client.get(path + ".png", headers=heads["regulator"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        pixels = rgba(png.content)
        red = (pixels[..., 0] == 255) & (pixels[..., 1] == 0) & (pixels[..., 2] == 0) & (pixels[..., 3] == 255)
        assert red.sum() > 20                                        # the demo's point, in the major colour
        mvt = client.get(path + ".mvt", headers=heads["regulator"])
        assert mvt.status_code == 200
        features = mapbox_vector_tile.decode(mvt.content)["enterprises"]["features"]
        assert [f["properties"]["name"] for f in features] == [DEMO]          # not the enterprise elsewhere
        assert features[0]["properties"]["level"] == "major" and features[0]["properties"]["colour"] == "#FF0000"
        far = client.get(path + ".png", headers=heads["other regulator"])
        assert not np.asarray(rgba(far.content))[..., 3].any()              # its scope has nothing here
        assert client.get("/api/overview/tiles/3/8/0.png", headers=heads["regulator"]).status_code == 422
        assert client.get("/api/overview/tiles/25/0/0.mvt", headers=heads["regulator"]).status_code == 422


def test_a_regulator_is_locked_out_whichever_page_it_uses(regulated):
    from riskmap.errors import AuthError, LockedError

    url, store, _ = regulated
    for i in range(accounts.LOCK_AFTER):
        with pytest.raises(AuthError):
            accounts.sign_in(store, DEMO if i % 2 else "南通某化工", "demo-regulator", "wrong password")
    with pytest.raises(LockedError):
        accounts.sign_in(store, "南通某化工", "demo-regulator", "riskmap-demo")


def test_overview_as_an_ogc_collection(regulated):
    """/ogc/overview/collections/enterprises: the regulator's scope as GeoJSON points with the counts of
    /api/overview, its filters, another regulator's scope apart, an enterprise account refused, read only."""
    url, store, heads = regulated
    orgs.move_enterprise(store, "南通某化工", park="南通园区")          # now in the other regulator's scope
    items = "/ogc/overview/collections/enterprises/items"
    with TestClient(create_app(Settings(db=url))) as client:
        for path in ("/ogc/overview/", "/ogc/overview/collections", "/ogc/overview/collections/enterprises", items):
            assert client.get(path).status_code == 401
            assert client.get(path, headers=heads["editor"]).status_code == 403       # an enterprise's account
        row = client.get("/api/overview", headers=heads["regulator"]).json()["enterprises"][0]
        r = client.get(items, headers=heads["regulator"])
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
        doc = r.json()
        assert doc["type"] == "FeatureCollection" and doc["numberMatched"] == doc["numberReturned"] == 1
        feature = doc["features"][0]
        assert feature["id"] == str(row["id"]) and feature["geometry"] == {"type": "Point",
                                                                           "coordinates": [row["lon"], row["lat"]]}
        props = feature["properties"]
        for key in ("name", "division", "park", "highest_level", "major_risks", "significant_risks",
                    "open_major_hazards", "open_general_hazards", "overdue_major_hazards", "checks_30d",
                    "inspection_completion", "listed_supervisions", "map_url"):
            assert props[key] == row[key], key
        assert props["name"] == DEMO and props["colour"] == "#FF0000" and props["level_zh"]
        one = client.get(f"{items}/{feature['id']}", headers=heads["regulator"])
        assert one.status_code == 200 and one.json()["properties"]["name"] == DEMO
        # the other regulator: its own enterprise only; the demo's item is as absent as a missing one
        far = client.get(items, headers=heads["other regulator"]).json()
        assert [f["properties"]["name"] for f in far["features"]] == ["南通某化工"]
        assert client.get(f"{items}/{feature['id']}", headers=heads["other regulator"]).status_code == 404
        # filters as the overview's; bad ones are 400, an unknown division 404
        for params, names in (({"level": "major"}, [DEMO]), ({"level": "low"}, []), ({"division": "320612"}, []),
                              ({"division": "321200"}, [DEMO]), ({"industry": "没有的行业"}, []),
                              ({"bbox": "73,3,80,10"}, []), ({"bbox": "119,32,121,33"}, [DEMO])):
            got = client.get(items, params=params, headers=heads["regulator"]).json()
            assert [f["properties"]["name"] for f in got["features"]] == names, params
        for params in ({"level": "red"}, {"division": "12"}, {"limit": "0"}, {"overdue": "maybe"}, {"bbox": "1,2"}):
            bad = client.get(items, params=params, headers=heads["regulator"])
            assert bad.status_code == 400 and " / " in bad.json()["detail"], params
        assert client.get(items, params={"division": "329999"}, headers=heads["regulator"]).status_code == 404
        # the collection, the landing page and HTML
        coll = client.get("/ogc/overview/collections/enterprises", headers=heads["regulator"]).json()
        assert coll["itemCount"] == 1 and coll["extent"]["spatial"]["bbox"][0][0] == row["lon"]
        assert [c["id"] for c in client.get("/ogc/overview/collections",
                                            headers=heads["regulator"]).json()["collections"]] == ["enterprises"]
        assert any(link["rel"] == "data" for link in client.get("/ogc/overview",
                                                                 headers=heads["regulator"]).json()["links"])
        page = client.get(items, params={"f": "html"}, headers=heads["regulator"])
        assert page.status_code == 200 and DEMO in page.text and "南通某化工" not in page.text
        # read only
        body = {"type": "Feature", "geometry": None, "properties": {"name": "x"}}
        for method, path in (("POST", items), ("PUT", f"{items}/{feature['id']}"),
                             ("PATCH", f"{items}/{feature['id']}"), ("DELETE", f"{items}/{feature['id']}")):
            r = client.request(method, path, json=body, headers=heads["regulator"])
            assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD", (method, r.text)
            assert " / " in r.json()["detail"]
        assert client.options(items, headers=heads["regulator"]).headers["allow"] == "GET, HEAD"
    assert orgs.profile(store, DEMO)["name"] == DEMO


def test_organisations_in_scope_over_http(regulated):
    """GET /api/orgs: a regulator's enterprises and parks (not those of another regulator), an enterprise account's
    own enterprise (another named: reading closed, refused), nobody while reading is open: the enterprise asked
    for; reading closed, no credentials is a 401. Adding or moving enterprises is not offered over HTTP."""
    url, store, heads = regulated
    orgs.move_enterprise(store, "南通某化工", park="南通园区")
    with TestClient(create_app(Settings(db=url))) as client:
        mine = client.get("/api/orgs", headers=heads["regulator"])
        assert mine.status_code == 200
        doc = mine.json()
        assert doc["account"] == "regulator" and doc["regulator"]["division_code"] == "321200"
        assert [e["name"] for e in doc["enterprises"]] == [DEMO]
        assert [p["name"] for p in doc["parks"]] == ["示范化学工业园区（虚构）"]         # not the park of 南通
        assert doc["enterprises"][0]["division"] == "江苏省泰州市高港区" and doc["enterprises"][0]["data_version"] >= 1
        far = client.get("/api/orgs", headers=heads["other regulator"]).json()
        assert far["regulator"]["level"] == "park" and [e["name"] for e in far["enterprises"]] == ["南通某化工"]
        assert [p["name"] for p in far["parks"]] == ["南通园区"]
        own = client.get("/api/orgs", headers=heads["editor"]).json()
        assert own["account"] == "enterprise" and own["regulator"] is None
        assert [e["name"] for e in own["enterprises"]] == [DEMO] and [p["name"] for p in own["parks"]] == [
            "示范化学工业园区（虚构）"]
        named = client.get("/api/orgs", params={"enterprise": "南通某化工"}, headers=heads["editor"]).json()
        assert [e["name"] for e in named["enterprises"]] == [DEMO]          # its own, whatever it names
        anyone = client.get("/api/orgs", params={"enterprise": "南通某化工"}).json()
        assert anyone["account"] == "anonymous" and [e["name"] for e in anyone["enterprises"]] == ["南通某化工"]
        for method in ("POST", "PUT", "DELETE"):
            assert client.request(method, "/api/orgs", json={"name": "x"},
                                  headers=heads["regulator"]).status_code == 405
    with TestClient(create_app(Settings(db=url, read_requires_token=True))) as client:
        assert client.get("/api/orgs").status_code == 401
        assert [e["name"] for e in client.get("/api/orgs", headers=heads["regulator"]).json()["enterprises"]] == [DEMO]
        assert [e["name"] for e in client.get("/api/orgs", headers=heads["editor"]).json()["enterprises"]] == [DEMO]
        assert client.get("/api/orgs", params={"enterprise": "南通某化工"}, headers=heads["editor"]).status_code == 403
