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
