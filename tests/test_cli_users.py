"""`riskmap init --admin` and `riskmap user …` as a user runs them: passwords only from a prompt or stdin, never
in clear in the database, bad input one line and nothing changed."""

from __future__ import annotations

import json

import pytest
from clikit import one_line_error, run
from sqlalchemy import text

PASSWORD = "first-admin-pw"


def _accounts(url) -> list[dict]:
    return json.loads(run("user", "list", "--db", url, "--json").stdout)


def test_init_admin_then_manage_users(store_url):
    run("init", "--db", store_url, "--admin", "张管理", "--login", "13900000000", "--password-stdin",
        input=PASSWORD + "\n")
    out = run("user", "add", "--name", "李工", "--login", "E01", "-r", "editor", "-r", "inspector",
              "--department", "生产部", "--password-stdin", "--db", store_url, input="editor-pw-1\n").stdout
    assert "李工" in out and "编辑 / editor" in out
    found = {a["login"]: a for a in _accounts(store_url)}
    assert found["13900000000"]["roles"] == ["admin"] and found["E01"]["roles"] == ["editor", "inspector"]
    assert found["E01"]["department"] == "生产部"

    run("user", "grant", "E01", "-r", "safety_manager", "--db", store_url)
    run("user", "revoke", "E01", "-r", "inspector", "--db", store_url)
    run("user", "disable", "E01", "--db", store_url)
    run("user", "reset-password", "E01", "--password-stdin", "--db", store_url, input="editor-pw-2\n")
    e01 = {a["login"]: a for a in _accounts(store_url)}["E01"]
    assert e01["roles"] == ["safety_manager", "editor"] and e01["disabled"] is True
    run("user", "enable", "E01", "--db", store_url)

    from riskmap.store import accounts, open_store

    store = open_store(store_url)
    try:
        who, _, _ = accounts.sign_in(store, "default", "E01", "editor-pw-2")
        assert who.may("ledger")
        with store.session() as s:
            dump = " ".join(str(v) for row in s.execute(text("SELECT * FROM accounts")) for v in row)
            actions = [r[0] for r in s.execute(text("SELECT action FROM changes WHERE action LIKE 'account.%' "
                                                    "ORDER BY id"))]
        assert PASSWORD not in dump and "editor-pw-2" not in dump
        assert actions[:7] == ["account.create", "account.create", "account.roles", "account.roles",
                               "account.disable", "account.reset_password", "account.enable"]
    finally:
        store.close()


@pytest.mark.parametrize("args,stdin,words", [
    (["user", "add", "--name", "甲", "--login", "A1", "-r", "editor", "--password-stdin"], "short\n", ["8"]),
    (["user", "add", "--name", "甲", "--login", "A 1", "-r", "editor", "--password-stdin"], "long-enough\n",
     ["登录名"]),
    (["user", "add", "--name", "甲", "--login", "A1", "-r", "boss", "--password-stdin"], "long-enough\n", ["boss"]),
    (["user", "disable", "nobody"], "", ["nobody"]),
    (["user", "grant", "nobody", "-r", "admin"], "", ["nobody"]),
])
def test_bad_user_commands(tmp_path, args, stdin, words):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    run("init", "--db", url)
    one_line_error(run(*args, "--db", url, check=False, input=stdin), *words)
    assert _accounts(url) == []


def test_a_password_is_never_an_argument(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    proc = run("init", "--db", url, "--admin", "张", "--password", "x" * 10, check=False)
    assert proc.returncode != 0 and "--password" in proc.stderr


def test_token_of_a_person_has_their_enterprise(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    run("init", "--db", url, "--admin", "张", "--password-stdin", input=PASSWORD + "\n")
    run("user", "add", "--name", "李工", "--login", "E01", "-r", "viewer", "--password-stdin", "--db", url,
        input="viewer-pw-1\n")
    made = json.loads(run("token", "create", "--role", "editor", "--name", "李工的 QGIS", "--user", "E01", "--db",
                          url, "--json").stdout)
    from riskmap.store import accounts, open_store

    store = open_store(url)
    try:
        who = accounts.principal_for_token(store, made["token"])
        assert who.enterprise == "default" and who.login == "E01" and who.permissions == {"read"}
    finally:
        store.close()


def _regulator_world(url) -> None:
    run("init", "--db", url, "--admin", "张", "--login", "ADMIN", "--password-stdin", input=PASSWORD + "\n")
    run("org", "add-regulator", "泰州市局", "--level", "city", "--division", "321200", "--db", url)
    run("org", "add-regulator", "南通市局", "--level", "city", "--division", "320600", "--db", url)


def _regulator_accounts(url, regulator) -> dict:
    return {a["login"]: a for a in json.loads(run("user", "list", "--regulator", regulator, "--db", url,
                                                  "--json").stdout)}


def test_regulator_accounts_from_the_command_line(store_url):
    """`riskmap user … --regulator`: add, list, disable, enable, reset the password and change the roles of a
    regulator's account; it signs in as that regulator, reads its scope and keeps no enterprise."""
    from riskmap.store import accounts, open_store

    _regulator_world(store_url)
    out = run("user", "add", "--regulator", "泰州市局", "--name", "王监管", "--login", "13900000001", "-r",
              "regulator_viewer", "--department", "危化科", "--password-stdin", "--db", store_url,
              input="regulator-pw-1\n").stdout
    assert "王监管" in out and "泰州市局" in out
    run("user", "add", "--regulator", "南通市局", "--name", "别处", "--login", "13900000002", "-r",
        "regulator_supervisor", "--password-stdin", "--db", store_url, input="regulator-pw-9\n")
    mine = _regulator_accounts(store_url, "泰州市局")
    assert list(mine) == ["13900000001"]                          # not the other regulator's, not the enterprise's
    made = mine["13900000001"]
    assert made["regulator"] == "泰州市局" and made["enterprise"] is None and made["roles"] == ["regulator_viewer"]
    assert made["department"] == "危化科"
    assert "ADMIN" not in run("user", "list", "--regulator", "泰州市局", "--db", store_url).stdout

    run("user", "grant", "13900000001", "-r", "regulator_supervisor", "--regulator", "泰州市局", "--db", store_url)
    run("user", "revoke", "13900000001", "-r", "regulator_viewer", "--regulator", "泰州市局", "--db", store_url)
    run("user", "disable", "13900000001", "--regulator", "泰州市局", "--db", store_url)
    assert _regulator_accounts(store_url, "泰州市局")["13900000001"]["disabled"] is True
    run("user", "reset-password", str(made["id"]), "--regulator", "泰州市局", "--password-stdin", "--db", store_url,
        input="regulator-pw-2\n")
    store = open_store(store_url)
    try:
        from riskmap.errors import AuthError

        with pytest.raises(AuthError):                          # disabled
            accounts.sign_in(store, "default", "13900000001", "regulator-pw-2")
        run("user", "enable", "13900000001", "--regulator", "泰州市局", "--db", store_url)
        who, _, _ = accounts.sign_in(store, "default", "13900000001", "regulator-pw-2")
        assert who.regulator == "泰州市局" and who.enterprise is None
        assert who.may("supervise") and who.may("oversee") and not who.may("edit_layout")
        with pytest.raises(AuthError):                          # the old password is gone
            accounts.sign_in(store, "default", "13900000001", "regulator-pw-1")
        assert accounts.get_account(store, None, "13900000001")["roles"] == ["regulator_supervisor"]
        with store.session() as s:
            dump = " ".join(str(v) for row in s.execute(text("SELECT * FROM accounts")) for v in row)
        assert "regulator-pw-2" not in dump
    finally:
        store.close()


@pytest.mark.parametrize("args,stdin,words", [
    (["user", "add", "--regulator", "没有的局", "--name", "甲", "--login", "R1", "-r", "regulator_viewer",
      "--password-stdin"], "long-enough\n", ["没有的局"]),
    (["user", "add", "--regulator", "泰州市局", "--name", "甲", "--login", "R1", "-r", "editor",
      "--password-stdin"], "long-enough\n", ["editor", "regulator_viewer"]),
    (["user", "add", "--name", "甲", "--login", "R1", "-r", "regulator_viewer", "--password-stdin"], "long-enough\n",
     ["regulator_viewer"]),
    (["user", "add", "--regulator", "泰州市局", "--enterprise", "default", "--name", "甲", "--login", "R1", "-r",
      "regulator_viewer", "--password-stdin"], "long-enough\n", ["--regulator", "--enterprise"]),
    (["user", "add", "--regulator", "泰州市局", "--name", "甲", "--login", "R 1", "-r", "regulator_viewer",
      "--password-stdin"], "long-enough\n", ["登录名"]),
    (["user", "list", "--regulator", "没有的局"], "", ["没有的局"]),
    (["user", "disable", "13900000009", "--regulator", "泰州市局"], "", ["13900000009", "泰州市局"]),   # another's
    (["user", "disable", "ADMIN", "--regulator", "泰州市局"], "", ["ADMIN"]),                        # an enterprise's
    (["user", "reset-password", "13900000009", "--regulator", "泰州市局", "--password-stdin"], "long-enough\n",
     ["13900000009"]),
    (["user", "grant", "13900000008", "-r", "admin", "--regulator", "泰州市局"], "", ["admin"]),
])
def test_bad_regulator_account_commands(tmp_path, args, stdin, words):
    from riskmap.store import accounts, open_store, orgs

    url = f"sqlite:///{tmp_path / 'u.db'}"
    store = open_store(url)

    def everyone():
        return accounts.list_accounts(store, None), accounts.list_accounts(store, "default")

    try:
        accounts.create_account(store, "default", name="张", login="ADMIN", password=PASSWORD, roles=["admin"],
                                create_enterprise=True)
        orgs.add_regulator(store, "泰州市局", level="city", division_code="321200")
        orgs.add_regulator(store, "南通市局", level="city", division_code="320600")
        orgs.add_regulator_account(store, "南通市局", name="别处", login="13900000009", password="regulator-pw-9",
                                   roles=["regulator_viewer"])
        orgs.add_regulator_account(store, "泰州市局", name="本处", login="13900000008", password="regulator-pw-8",
                                   roles=["regulator_viewer"])
        before = everyone()
        one_line_error(run(*args, "--db", url, check=False, input=stdin), *words)
        assert everyone() == before
    finally:
        store.close()
