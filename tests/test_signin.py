"""POST /login, the session cookie and /logout over HTTP, on both backends: the cookie's flags, the lock-out, the
audit trail, closed reading opened by a session, and a sign-in's bad inputs each refused with a message."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.settings import Settings
from riskmap.store import accounts, open_store

ENT = "示范化工"
PASSWORD = "sign-in-test-pw"


@pytest.fixture
def site(store_url):
    store = open_store(store_url)
    store.enterprise(ENT)
    accounts.create_account(store, ENT, name="王编辑", login="E001", password=PASSWORD, roles=["editor"])
    yield store_url, store
    store.close()


def _form(login, password, **extra):
    return {"login": login, "password": password, "enterprise": ENT, "next": "/edit", **extra}


def _actions(store):
    from riskmap.store.history import history

    return [c["action"] for c in history(store, ENT) if c["action"].startswith("account.")]


def test_sign_in_sets_the_cookies_and_sign_out_ends_the_session(site):
    url, store = site
    with TestClient(create_app(Settings(db=url)), follow_redirects=False) as client:
        page = client.get("/login")
        assert page.status_code == 200 and "登录" in page.text and 'name="viewport"' in page.text
        assert "Sign in" in client.get("/login?lang=en").text
        r = client.post("/login", data=_form("E001", PASSWORD, next="https://evil.example/"))
        assert r.status_code == 303 and r.headers["location"] == "/edit"          # never to another site
        cookies = r.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("riskmap_session="))
        csrf = next(c for c in cookies if c.startswith("riskmap_csrf="))
        assert "HttpOnly" in session and "SameSite=lax" in session and "Secure" not in session
        assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
        me = client.get("/api/auth/me").json()
        assert me["login"] == "E001" and "edit_layout" in me["permissions"] and me["via"] == "session"
        token = client.cookies.get("riskmap_csrf")
        assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
        assert client.get("/api/auth/me").status_code == 401
    assert _actions(store)[:2] == ["account.sign_out", "account.sign_in"]


def test_the_cookie_is_secure_behind_https(site):
    url, _ = site
    with TestClient(create_app(Settings(db=url)), base_url="https://testserver", follow_redirects=False) as client:
        r = client.post("/login", data=_form("E001", PASSWORD))
        assert all("Secure" in c for c in r.headers.get_list("set-cookie"))


@pytest.mark.parametrize("login,password,status,words", [
    ("E001", "not-the-password", 401, "wrong login or password"),
    ("NOBODY", PASSWORD, 401, "wrong login or password"),
    ("", "", 401, "wrong login or password"),
    ("长" * 200, PASSWORD, 401, "wrong login or password"),            # the longest login the form takes
])
def test_bad_sign_ins_are_refused_and_recorded(site, login, password, status, words):
    url, store = site
    with TestClient(create_app(Settings(db=url)), follow_redirects=False) as client:
        r = client.post("/login", data=_form(login, password))
        assert r.status_code == status and words in r.text and "set-cookie" not in r.headers
        assert password not in r.text or not password
    assert _actions(store)[0] == "account.sign_in_failed"


def test_a_disabled_account_cannot_sign_in(site):
    url, store = site
    accounts.set_disabled(store, ENT, "E001", True)
    with TestClient(create_app(Settings(db=url)), follow_redirects=False) as client:
        r = client.post("/login", data=_form("E001", PASSWORD))
        assert r.status_code == 401 and "disabled" in r.text


def test_repeated_failures_lock_the_login(site):
    url, store = site
    with TestClient(create_app(Settings(db=url)), follow_redirects=False) as client:
        for _ in range(accounts.LOCK_AFTER):
            assert client.post("/login", data=_form("E001", "guess-guess")).status_code == 401
        r = client.post("/login", data=_form("E001", PASSWORD))
        assert r.status_code == 429 and "Retry-After" in r.headers and "set-cookie" not in r.headers
    assert "account.locked" in _actions(store)


def test_a_session_opens_closed_reading_and_expires(site):
    url, store = site
    app = create_app(Settings(db=url, read_requires_token=True))
    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/login").status_code == 200                         # open even then
        assert client.get("/api/regions").status_code == 401
        client.post("/login", data=_form("E001", PASSWORD))
        assert client.get("/api/regions").status_code == 200
        from sqlalchemy import text

        with store.session(write=True) as s:                                   # the session ran out
            s.execute(text("UPDATE web_sessions SET expires_at = created_at"))
        assert client.get("/api/regions").status_code == 401
        assert client.get("/api/auth/me").status_code == 401
