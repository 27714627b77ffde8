"""Accounts, roles and sign-in in the store (riskmap.store.accounts), on both backends: nothing in clear, a
disabled account and a locked login are refused, every attempt is in the audit trail, the migration gives old
tokens an account and keeps history."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import text

from riskmap import people
from riskmap.errors import AlreadyExistsError, AuthError, ForbiddenError, InputError, LockedError
from riskmap.store import accounts, tokens

ENT = "示范化工"
PASSWORD = "correct-horse-9"


@pytest.fixture
def ent_store(store):
    store.enterprise(ENT)
    return store


def _trail(store, action_prefix="account."):
    from sqlalchemy import select

    from riskmap.store.schema import ChangeRow

    with store.session() as s:
        rows = s.execute(select(ChangeRow).where(ChangeRow.action.like(action_prefix + "%"))
                         .order_by(ChangeRow.id)).scalars().all()
        return [SimpleNamespace(action=r.action, author=r.author, author_id=r.author_id, detail=r.detail,
                                item_ids=r.item_ids) for r in rows]


def test_create_sign_in_and_nothing_in_clear(ent_store):
    store = ent_store
    made = accounts.create_account(store, ENT, name="李安全", login="13800000001", password=PASSWORD,
                                   roles=["safety_manager", "inspector"], department="安环部", post="安全员")
    assert made["roles"] == ["safety_manager", "inspector"] and made["enterprise"] == ENT
    who, session, csrf = accounts.sign_in(store, ENT, "13800000001", PASSWORD, "10.0.0.5")
    assert who.account_id == made["id"] and who.may("ledger") and who.may("inspect") and not who.may("accounts")
    assert accounts.principal_for_session(store, session).account_id == made["id"]
    with pytest.raises(ForbiddenError):
        accounts.principal_for_session(store, session, "wrong", check_csrf=True)
    assert accounts.principal_for_session(store, session, csrf, check_csrf=True) is not None
    with store.session() as s:                     # no secret anywhere in the database
        dump = " ".join(str(v) for t in ("accounts", "web_sessions", "changes", "sign_in_attempts")
                        for row in s.execute(text(f"SELECT * FROM {t}")) for v in row)
    for secret in (PASSWORD, session, csrf):
        assert secret not in dump
    assert "$argon2id$" in dump
    assert accounts.end_session(store, session)
    assert accounts.principal_for_session(store, session) is None          # a replayed cookie is refused
    assert [r.action for r in _trail(store)] == ["account.create", "account.sign_in", "account.sign_out"]


@pytest.mark.parametrize("login,password,why", [("13800000001", "wrong-password", "wrong_password"),
                                                ("19999999999", PASSWORD, "unknown_login")])
def test_bad_sign_ins_are_refused_and_recorded(ent_store, login, password, why):
    accounts.create_account(ent_store, ENT, name="李安全", login="13800000001", password=PASSWORD, roles=["viewer"])
    with pytest.raises(AuthError, match="登录名或密码不对"):
        accounts.sign_in(ent_store, ENT, login, password, "10.0.0.5")
    failed = [r for r in _trail(ent_store) if r.action == "account.sign_in_failed"]
    assert len(failed) == 1 and failed[0].detail["why"] == why and password not in str(failed[0].detail)


def test_disabled_account_and_its_tokens_are_refused(ent_store):
    store = ent_store
    made = accounts.create_account(store, ENT, name="王编辑", login="E001", password=PASSWORD, roles=["editor"])
    token, _ = tokens.create_token(store, "editor", "王编辑的脚本", account_id=made["id"])
    _, session, _ = accounts.sign_in(store, ENT, "E001", PASSWORD)
    assert accounts.principal_for_token(store, token).enterprise == ENT
    accounts.set_disabled(store, ENT, "E001", True)
    assert accounts.principal_for_token(store, token) is None
    assert accounts.principal_for_session(store, session) is None          # its sessions ended
    with pytest.raises(AuthError, match="停用"):
        accounts.sign_in(store, ENT, "E001", PASSWORD)
    accounts.set_disabled(store, ENT, "E001", False)
    assert accounts.principal_for_token(store, token) is not None


def test_lock_out_after_repeated_failures(ent_store):
    store = ent_store
    accounts.create_account(store, ENT, name="赵", login="Z1", password=PASSWORD, roles=["viewer"])
    for _ in range(accounts.LOCK_AFTER):
        with pytest.raises(AuthError):
            accounts.sign_in(store, ENT, "Z1", "not-the-password", "10.0.0.9")
    with pytest.raises(LockedError):                        # even the right password now
        accounts.sign_in(store, ENT, "Z1", PASSWORD, "10.0.0.9")
    actions = [r.action for r in _trail(store)]
    assert "account.locked" in actions and actions[-1] == "account.sign_in_locked"


def test_roles_are_data_and_nobody_grants_themself(ent_store):
    store = ent_store
    admin = accounts.create_account(store, ENT, name="管理员", login="A1", password=PASSWORD, roles=["admin"])
    ed = accounts.create_account(store, ENT, name="编辑", login="E1", password=PASSWORD, roles=["editor"])
    me = people.Author("编辑", ed["id"])
    with pytest.raises(ForbiddenError):
        accounts.set_roles(store, ENT, "E1", grant=["admin"], by=me)
    assert accounts.get_account(store, ENT, "E1")["roles"] == ["editor"]
    by = people.Author("管理员", admin["id"])
    assert accounts.set_roles(store, ENT, "E1", grant=["inspector"], by=by)["roles"] == ["editor", "inspector"]
    with pytest.raises(InputError):
        accounts.set_roles(store, ENT, "E1", revoke=["editor", "inspector"], by=by)
    with pytest.raises(InputError):
        accounts.set_roles(store, ENT, "E1", grant=["superuser"], by=by)
    row = [r for r in _trail(store) if r.action == "account.roles"][0]
    assert row.author == "管理员" and row.author_id == admin["id"] and row.detail["after"] == ["editor", "inspector"]


@pytest.mark.parametrize("kwargs,error", [
    ({"password": "short"}, InputError), ({"login": "bad login"}, InputError), ({"roles": []}, InputError),
    ({"login": "A1"}, AlreadyExistsError), ({"name": " "}, InputError)])
def test_bad_accounts_are_refused(ent_store, kwargs, error):
    accounts.create_account(ent_store, ENT, name="甲", login="A1", password=PASSWORD, roles=["viewer"])
    values = {"name": "乙", "login": "B1", "password": PASSWORD, "roles": ["viewer"], **kwargs}
    with pytest.raises(error):
        accounts.create_account(ent_store, ENT, **values)
    assert len(accounts.list_accounts(ent_store, ENT)) == 1


def test_the_author_of_a_change_is_the_person(ent_store):
    from plants import square

    from riskmap.store.history import history

    store = ent_store
    made = accounts.create_account(store, ENT, name="王编辑", login="E001", password=PASSWORD, roles=["editor"])
    store.create_feature(ENT, "F1", "region", square(120.0, 32.0), author=people.Author("王编辑", made["id"]))
    change = history(store, ENT)[0]
    assert change["author"] == "王编辑" and change["author_id"] == made["id"]


def test_the_migration_gives_old_tokens_an_account_and_keeps_history(store_url):
    from alembic import command
    from pgdb import backend_of, owner_url

    from riskmap.store import open_store
    from riskmap.store.history import history
    from riskmap.store.upgrade import alembic_config

    # migrations run as the tables' owner (on PostGIS the service's role may not change the schema)
    migrating = owner_url(store_url) if backend_of(store_url) == "postgis" else store_url
    open_store(store_url).close()
    store = open_store(migrating)
    store.enterprise(ENT)
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0005")
        conn.execute(text("INSERT INTO api_tokens (token_hash, name, role, created_at, created_by) VALUES "
                          "(:h1, '老编辑', 'editor', :at, 'ops'), (:h2, '老读者', 'reader', :at, NULL)"),
                     {"h1": "a" * 64, "h2": "b" * 64, "at": "2026-01-01 00:00:00"})
        conn.execute(text("INSERT INTO changes (enterprise_id, data_version, at, author, action, item_ids) "
                          "SELECT id, 1, :at, '老编辑', 'feature.patch', '[]' FROM enterprises"),
                     {"at": "2026-01-02 00:00:00"})
    store.close()
    open_store(migrating).close()
    store = open_store(store_url)
    try:
        listed = {t["name"]: t for t in tokens.list_tokens(store)}
        service = {a["id"]: a for a in accounts.list_accounts(store, None)}
        assert service[listed["老编辑"]["account_id"]]["roles"] == ["editor"]
        assert service[listed["老读者"]["account_id"]]["roles"] == ["viewer"]
        assert not any(a["can_sign_in"] for a in service.values())
        old = [c for c in history(store, ENT) if c["action"] == "feature.patch"]
        assert old[0]["author"] == "老编辑" and old[0]["author_id"] is None
    finally:
        store.close()


def test_a_token_made_without_an_account_gets_one_and_still_edits(store):
    text_, info = tokens.create_token(store, "editor", "测试编辑")
    who = accounts.principal_for_token(store, text_)
    assert who.enterprise is None and who.roles == ("editor",) and who.may("edit_layout")
    reader, _ = tokens.create_token(store, "reader", "读者")
    assert accounts.principal_for_token(store, reader).permissions == {"read"}
