"""Every route of the API description, walked with every role (a token of a person of each role), a reader token,
a person of another enterprise, a browser session with and without its CSRF token, and nobody: 401, 403 or let
in (anything else) exactly as ONE table says — the app's route → permission table, compared here with the table
this test expects, and riskmap.people's role → permissions table."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.people import OPERATOR_ROLES, PERMISSIONS, REGULATOR_ROLES, ROLES
from riskmap.settings import Settings
from riskmap.store import accounts, open_store, orgs, tokens

ENT, OTHER = "示范化工", "别家化工"
PASSWORD = "permission-walk-1"

# Everything not named here needs "read" (open unless the settings close reading); so does
# POST /api/hazard-reports on purpose (the phone page's report by someone not signed in: rate-limited, withheld
# until a manager confirms it, tests/test_hazards_anonymous.py).
EXPECTED = {
    ("GET", "/healthz"): None, ("GET", "/docs"): None, ("GET", "/docs/oauth2-redirect"): None,
    ("GET", "/redoc"): None, ("GET", "/favicon.ico"): None, ("GET", "/api/auth/me"): None,
    ("GET", "/static/app/{name}"): None, ("HEAD", "/static/app/{name}"): None,
    ("GET", "/static/vendor/{spec}"): None, ("HEAD", "/static/vendor/{spec}"): None,
    ("GET", "/login"): None, ("POST", "/login"): None, ("POST", "/logout"): None,
    ("POST", "/api/accidents"): "ledger", ("POST", "/api/flags/clear"): "ledger",
    ("GET", "/api/accounts"): "accounts", ("POST", "/api/accounts"): "accounts",
    ("PATCH", "/api/accounts/{login}"): "accounts", ("POST", "/api/accounts/{login}/password"): "accounts",
    ("POST", "/api/history/restore"): "edit_layout", ("POST", "/api/layout/merge"): "edit_layout",
    ("POST", "/api/layout/revise"): "edit_layout", ("POST", "/api/layout/split"): "edit_layout",
    ("PATCH", "/api/units/{unit_id}"): "edit_units",
    ("POST", "/ogc/collections/{collection_id}/items"): "edit_layout",
    # a GIS client reports hazards and corrects them as /api/hazards does (riskmap.api.routers.ogc_hazards)
    ("POST", "/ogc/collections/{prefix}hazards{part}/items"): "hazard_report",
    ("PATCH", "/ogc/collections/{prefix}hazards{part}/items/{feature_id}"): "hazard_manage",
    ("PUT", "/ogc/collections/{collection_id}/items/{feature_id}"): "edit_layout",
    ("PATCH", "/ogc/collections/{collection_id}/items/{feature_id}"): "edit_layout",
    ("DELETE", "/ogc/collections/{collection_id}/items/{feature_id}"): "edit_layout",
    ("POST", "/api/inspections/generate"): "ledger", ("PATCH", "/api/inspections/tasks/{task_id}"): "ledger",
    ("POST", "/api/inspections/shutdowns"): "ledger", ("POST", "/api/inspections/checkpoints"): "ledger",
    ("POST", "/api/inspections/records"): "inspect",
    ("POST", "/api/inspections/records/{record_id}/photos/{item}"): "inspect",
    ("POST", "/api/hazards"): "hazard_report", ("POST", "/api/hazards/{hazard_id}/photos/before"): "hazard_report",
    ("POST", "/api/hazards/{hazard_id}/confirm"): "hazard_manage",
    ("POST", "/api/hazards/{hazard_id}/correct"): "hazard_manage",
    ("POST", "/api/hazards/{hazard_id}/reject"): "hazard_manage",
    ("POST", "/api/hazards/{hazard_id}/assign"): "hazard_manage",
    ("POST", "/api/hazards/{hazard_id}/close"): "hazard_manage",
    ("POST", "/api/hazards/{hazard_id}/grant-extension"): "hazard_manage",
    ("POST", "/api/hazards/{hazard_id}/refuse-extension"): "hazard_manage",
    ("POST", "/api/hazards/{hazard_id}/rectify"): "hazard_rectify",
    ("POST", "/api/hazards/{hazard_id}/submit"): "hazard_rectify",
    ("POST", "/api/hazards/{hazard_id}/request-extension"): "hazard_rectify",
    ("POST", "/api/hazards/{hazard_id}/photos/after"): "hazard_rectify",
    ("POST", "/api/hazards/{hazard_id}/accept"): "hazard_accept",
    ("POST", "/api/hazards/{hazard_id}/send-back"): "hazard_accept",
    ("PUT", "/api/orgs/profile"): "settings",
    ("POST", "/api/supervisions"): "supervise", ("POST", "/api/supervisions/{supervision_id}/status"): "supervise",
    ("GET", "/api/overview"): "oversee", ("GET", "/api/overview/statistics"): "oversee",
    ("GET", "/api/overview/export.xlsx"): "oversee",
    ("GET", "/api/overview/tiles/{z}/{x}/{y}.png"): "oversee",
    ("GET", "/api/overview/tiles/{z}/{x}/{y}.mvt"): "oversee",
    ("GET", "/ogc/overview"): "oversee", ("GET", "/ogc/overview/"): "oversee",
    ("GET", "/ogc/overview/conformance"): "oversee", ("GET", "/ogc/overview/collections"): "oversee",
    ("GET", "/ogc/overview/collections/enterprises"): "oversee",
    ("GET", "/ogc/overview/collections/enterprises/items"): "oversee",
    ("GET", "/ogc/overview/collections/enterprises/items/{feature_id}"): "oversee",
    # the operator's routes (riskmap.api.routers.admin) and the regulators' access records
    ("GET", "/api/admin/enterprises"): "administer", ("POST", "/api/admin/enterprises"): "administer",
    ("POST", "/api/admin/enterprises/move"): "administer", ("POST", "/api/admin/enterprises/import"): "administer",
    ("POST", "/api/admin/parks"): "administer", ("GET", "/api/admin/regulators"): "administer",
    ("POST", "/api/admin/regulators"): "administer", ("POST", "/api/admin/regulator-accounts"): "administer",
    ("POST", "/api/admin/regulator-accounts/move"): "administer", ("POST", "/api/admin/accounts/move"): "administer",
    ("GET", "/api/audit/regulators"): "audit",
}
EXPECTED_ROLES = {
    "admin": {"read", "accounts", "settings", "audit"},
    "safety_manager": {"read", "edit_layout", "edit_units", "ledger", "hazard_report", "hazard_accept",
                       "hazard_manage"},
    "editor": {"read", "edit_layout", "edit_units"},
    "inspector": {"read", "inspect", "hazard_report"},
    "rectifier": {"read", "hazard_rectify"},
    "viewer": {"read"},
}
EXPECTED_REGULATOR_ROLES = {"regulator_viewer": {"read", "oversee", "audit"},
                            "regulator_supervisor": {"read", "oversee", "supervise", "audit"}}
EXPECTED_OPERATOR_ROLES = {"operator": {"administer", "audit"}}
SAMPLE = {"z": "0", "x": "0", "y": "0", "tile_matrix": "0", "tile_row": "0", "tile_col": "0", "row": "0",
          "col": "0", "tms_id": "WebMercatorQuad", "tms": "WebMercatorQuad", "layer": "units",
          "collection_id": "layout", "spec": "leaflet/leaflet.js", "name": "edit.js"}


def _operations(app) -> list[tuple[str, str]]:
    out = []
    for path, ops in app.openapi()["paths"].items():
        for method in ops:
            if method in ("get", "post", "put", "patch", "delete", "head"):
                out.append((method.upper(), path))
    return out


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "NO-SUCH"), path)


@pytest.fixture
def world(store_url):
    store = open_store(store_url)
    store.enterprise(ENT)
    store.enterprise(OTHER)
    heads = {}
    for role in ROLES:
        made = accounts.create_account(store, ENT, name=f"{role} 人", login=f"{role}-1", password=PASSWORD,
                                       roles=[role])
        heads[role] = {"Authorization": "Bearer " + tokens.create_token(store, "editor", role,
                                                                         account_id=made["id"])[0]}
    made = accounts.create_account(store, ENT, name="只读令牌的主人", login="reader-owner", password=PASSWORD,
                                   roles=list(ROLES))
    heads["reader token"] = {"Authorization": "Bearer " + tokens.create_token(store, "reader", "r",
                                                                               account_id=made["id"])[0]}
    made = accounts.create_account(store, OTHER, name="别家管理员", login="other", password=PASSWORD,
                                   roles=list(ROLES))
    heads["other enterprise"] = {"Authorization": "Bearer " + tokens.create_token(store, "editor", "o",
                                                                                   account_id=made["id"])[0]}
    # a regulator whose scope holds ENT (its division), one whose scope does not (another county)
    orgs.set_profile(store, ENT, division_code="321203")
    orgs.set_profile(store, OTHER, division_code="320612")
    orgs.add_regulator(store, "泰州市局", level="city", division_code="321200")
    orgs.add_regulator(store, "通州区局", level="county", division_code="320612")
    for role in REGULATOR_ROLES:
        made = orgs.add_regulator_account(store, "泰州市局", name=f"{role} 人", login=f"{role}-1", password=PASSWORD,
                                          roles=[role])
        heads[role] = {"Authorization": "Bearer " + tokens.create_token(store, "editor", role,
                                                                         account_id=made["id"])[0]}
    made = orgs.add_regulator_account(store, "通州区局", name="别处监管", login="far-1", password=PASSWORD,
                                      roles=list(REGULATOR_ROLES))
    heads["regulator elsewhere"] = {"Authorization": "Bearer " + tokens.create_token(store, "editor", "far",
                                                                                      account_id=made["id"])[0]}
    made = accounts.create_account(store, None, name="平台运维", login="ops-1", password=PASSWORD, roles=["operator"],
                                   operator=True)
    heads["operator"] = {"Authorization": "Bearer " + tokens.create_token(store, "editor", "ops",
                                                                           account_id=made["id"])[0]}
    heads["nobody"] = {}
    yield store_url, store, heads
    store.close()


def _allowed(who: str, permission: str | None) -> bool:
    if permission is None or permission == "read":
        return True
    if who == "reader token":
        return permission == "audit"            # reading the access records is reading (its account is an admin)
    if who in ("nobody", "other enterprise"):
        return False
    if who == "regulator elsewhere":
        return permission in ("oversee", "audit")   # its own overview and records; ENT is outside its scope
    return permission in {**ROLES, **REGULATOR_ROLES, **OPERATOR_ROLES}[who][2]


def _expected_status(who: str, permission: str | None, read_closed: bool = False, path: str = "",
                     method: str = "GET") -> str:
    if path == "/api/auth/me" and who == "nobody":
        return "401"                 # open, and says that nobody signed in
    if path == "/login" and method == "POST":
        return "401"                 # open, and refuses an empty sign-in
    if permission is None:
        return "in"
    if who == "nobody":
        return "401" if (permission != "read" or read_closed) else "in"
    if who == "other enterprise":
        return "403"
    return "in" if _allowed(who, permission) else "403"


def _seen(status: int) -> str:
    return str(status) if status in (401, 403) else "in"


def test_the_tables(world):
    url, _, _ = world
    app = create_app(Settings(db=url))
    table = app.state.route_permissions
    assert {k: v for k, v in table.items() if v != "read"} == EXPECTED
    assert {role: set(perms) for role, (_, _, perms) in ROLES.items()} == EXPECTED_ROLES
    assert {role: set(perms) for role, (_, _, perms) in REGULATOR_ROLES.items()} == EXPECTED_REGULATOR_ROLES
    assert {role: set(perms) for role, (_, _, perms) in OPERATOR_ROLES.items()} == EXPECTED_OPERATOR_ROLES
    assert all(p in PERMISSIONS for v in table.values() if v for p in [v])
    documented = {(m, p) for m, p in _operations(app)}
    assert documented <= set(table)
    for (method, path), permission in table.items():
        op = app.openapi()["paths"].get(path, {}).get(method.lower())
        if op is not None and permission not in (None, "read"):
            assert op["x-permission"] == permission and {"bearerToken": []} in op["security"]


def test_every_route_with_every_role(world):
    url, _, heads = world
    app = create_app(Settings(db=url))
    table = app.state.route_permissions
    wrong = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path in _operations(app):
            permission = table[(method, path)]
            # reading routes: nobody and a viewer (reading is open); the rest is the same dependency
            people = list(heads) if permission not in (None, "read") else ["nobody", "viewer"]
            for who in people:
                r = client.request(method, _url(path), params={"enterprise": ENT}, headers=heads[who])
                if _seen(r.status_code) != _expected_status(who, permission, path=path, method=method):
                    wrong.append((method, path, who, r.status_code, r.text[:200]))
    assert not wrong, "\n".join(map(str, wrong))


def test_reading_closed_needs_credentials_of_the_enterprise(world):
    url, _, heads = world
    app = create_app(Settings(db=url, read_requires_token=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/api/regions", "/ogc/collections", "/api/history"):
            assert client.get(path, params={"enterprise": ENT}).status_code == 401
            assert client.get(path, params={"enterprise": ENT}, headers=heads["viewer"]).status_code == 200
            assert client.get(path, params={"enterprise": ENT}, headers=heads["reader token"]).status_code == 200
            assert client.get(path, params={"enterprise": ENT},
                              headers=heads["other enterprise"]).status_code == 403


def test_a_browser_session_writes_only_with_its_csrf_token(world):
    url, store, _ = world
    app = create_app(Settings(db=url))
    _, session, csrf = accounts.sign_in(store, ENT, "editor-1", PASSWORD)
    body = {"override": None}
    with TestClient(app, raise_server_exceptions=False) as client:
        client.cookies.set("riskmap_session", session)
        no_csrf = client.patch("/api/units/NO-SUCH", params={"enterprise": ENT}, json=body)
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
        from riskmap.store.history import history

        assert history(store, ENT)[0]["action"] == "access.refused"
        assert history(store, ENT)[0]["detail"]["why"] == "csrf"
        wrong = client.patch("/api/units/NO-SUCH", params={"enterprise": ENT}, json=body,
                             headers={"X-CSRF-Token": "forged"})
        assert wrong.status_code == 403
        right = client.patch("/api/units/NO-SUCH", params={"enterprise": ENT}, json=body,
                             headers={"X-CSRF-Token": csrf})
        assert right.status_code == 404                          # let in; no such unit
        assert client.get("/api/auth/me").json()["login"] == "editor-1"
        client.cookies.set("riskmap_session", "forged-session-id")
        assert client.patch("/api/units/NO-SUCH", params={"enterprise": ENT}, json=body,
                            headers={"X-CSRF-Token": csrf}).status_code == 401


def test_an_editor_cannot_grant_itself_a_role(world):
    url, store, heads = world
    app = create_app(Settings(db=url))
    with TestClient(app) as client:
        r = client.patch("/api/accounts/editor-1", params={"enterprise": ENT}, json={"grant": ["admin"]},
                         headers=heads["editor"])
        assert r.status_code == 403
        assert accounts.get_account(store, ENT, "editor-1")["roles"] == ["editor"]
        refused = client.get("/api/history", params={"enterprise": ENT}).json()["items"][0]
        assert refused["action"] == "access.refused" and refused["author"] == "editor 人"      # recorded
        assert refused["detail"]["permission"] == "accounts"
        # the administrator may, and is the author of it; not on itself
        r = client.patch("/api/accounts/editor-1", params={"enterprise": ENT}, json={"grant": ["inspector"]},
                         headers=heads["admin"])
        assert r.status_code == 200 and r.json()["roles"] == ["editor", "inspector"]
        trail = client.get("/api/history", params={"enterprise": ENT}).json()["items"]
        granted = next(c for c in trail if c["action"] == "account.roles")
        admin = accounts.get_account(store, ENT, "admin-1")
        assert granted["author"] == admin["name"] and granted["author_id"] == admin["id"]   # the person
        r = client.patch("/api/accounts/admin-1", params={"enterprise": ENT}, json={"revoke": ["admin"]},
                         headers=heads["admin"])
        assert r.status_code == 403
        made = client.post("/api/accounts", params={"enterprise": ENT}, headers=heads["admin"],
                           json={"name": "新人", "login": "13700000000", "password": "new-person-1",
                                 "roles": ["viewer"]})
        assert made.status_code == 201 and "password" not in made.text
        assert client.post("/api/accounts/13700000000/password", params={"enterprise": ENT}, headers=heads["admin"],
                           json={"password": "short"}).status_code == 422
        # another enterprise's administrator changes nothing here
        r = client.patch("/api/accounts/editor-1", params={"enterprise": ENT}, json={"disabled": True},
                         headers=heads["other enterprise"])
        assert r.status_code == 403 and not accounts.get_account(store, ENT, "editor-1")["disabled"]
