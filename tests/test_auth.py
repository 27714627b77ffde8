"""Tokens (riskmap.store.tokens) and the bearer-token gate of the API (riskmap.api.auth)."""

from __future__ import annotations

import pytest

from riskmap.errors import InputError, NotFoundError
from riskmap.store import tokens


def test_token_lifecycle(store):
    text, info = tokens.create_token(store, "editor", "张工", created_by="admin")
    assert text.startswith("rmk_") and len(text) == 36
    assert info["role"] == "editor" and info["name"] == "张工" and info["revoked_at"] is None
    assert tokens.verify_token(store, text)["id"] == info["id"]
    # Only the hash is stored.
    from sqlalchemy import text as sql
    with store.session() as s:
        stored = [r[0] for r in s.execute(sql("select token_hash from api_tokens"))]
    assert text not in stored and all(len(h) == 64 for h in stored)
    reader, rinfo = tokens.create_token(store, "reader", "viewer")
    assert tokens.verify_token(store, reader)["role"] == "reader"
    listed = [t for t in tokens.list_tokens(store) if t["id"] in (info["id"], rinfo["id"])]
    assert [t["name"] for t in listed] == ["张工", "viewer"]
    revoked = tokens.revoke_token(store, info["id"])
    assert [r["id"] for r in revoked] == [info["id"]] and revoked[0]["revoked_at"] is not None
    assert tokens.verify_token(store, text) is None
    assert tokens.verify_token(store, reader) is not None
    tokens.revoke_token(store, rinfo["id"])
    assert tokens.verify_token(store, reader) is None
    with pytest.raises(NotFoundError):
        tokens.revoke_token(store, "nobody")


@pytest.mark.parametrize("bad", [None, "", "rmk_", "Bearer x", "rmk_" + "a" * 31, "rmk_" + "a" * 33,
                                 "rmk_" + "é" * 32, "x" * 100000])
def test_garbled_tokens_are_refused(store, bad):
    tokens.create_token(store, "editor", "a")
    assert tokens.verify_token(store, bad) is None


@pytest.mark.parametrize("role,name", [("admin", "x"), ("editor", ""), ("editor", "  "), ("editor", "x" * 201),
                                       ("editor", "a\nb")])
def test_bad_token_requests(store, role, name):
    with pytest.raises(InputError):
        tokens.create_token(store, role, name)
