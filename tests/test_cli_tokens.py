"""`riskmap token create|list|revoke`: the token works over HTTP until it is revoked; bad input is one line."""

from __future__ import annotations

import json
import uuid

import pytest
from clikit import one_line_error, run
from fastapi.testclient import TestClient

from riskmap.api.app import create_app
from riskmap.settings import Settings


def _me(url: str, token: str) -> int:
    """Status of a write that needs an editor token (a PATCH of a unit that does not exist: 404 once let in)."""
    with TestClient(create_app(Settings(db=url))) as client:
        r = client.patch("/api/units/NO-SUCH-UNIT", json={"override": None},
                         headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def test_create_list_revoke(store_url):
    name = f"张工-{uuid.uuid4().hex[:6]}"          # PostGIS keeps tokens of earlier tests: names are unique here
    run("init", "--db", store_url)
    out = run("token", "create", "--role", "editor", "--name", name, "--db", store_url).stdout
    token = next(line.strip() for line in out.splitlines() if line.strip().startswith("rmk_"))
    assert "只显示这一次" in out and f"Authorization: Bearer {token}" in out
    assert _me(store_url, token) == 404                               # let in, then no such unit

    listed = json.loads(run("token", "list", "--db", store_url, "--json").stdout)
    mine = [t for t in listed if t["name"] == name]
    assert len(mine) == 1 and mine[0]["role"] == "editor" and mine[0]["revoked_at"] is None
    assert all(token not in json.dumps(t) for t in listed)           # the token itself is never listed
    text = run("token", "list", "--db", store_url).stdout
    assert f"#{mine[0]['id']}  {name}  editor" in text and "有效 active" in text

    reader = json.loads(run("token", "create", "--role", "reader", "--name", name + "-r", "--db", store_url,
                            "--json").stdout)
    assert reader["token"].startswith("rmk_") and reader["role"] == "reader"
    assert _me(store_url, reader["token"]) == 403

    out = run("token", "revoke", name, "--db", store_url).stdout
    assert f"已吊销令牌 #{mine[0]['id']}" in out
    assert _me(store_url, token) == 401                               # a revoked token no longer works
    assert "已吊销 revoked" in run("token", "list", "--db", store_url).stdout
    # revoking by id; the reader's token goes too
    run("token", "revoke", str(reader["id"]), "--db", store_url)
    assert _me(store_url, reader["token"]) == 401


@pytest.mark.parametrize("args,words", [
    (["create", "--role", "admin", "--name", "x"], ["editor"]),
    (["create", "--role", "editor", "--name", "   "], ["名称"]),
    (["create", "--role", "editor", "--name", "x" * 300], ["200"]),
    (["revoke", "nobody-at-all"], ["nobody-at-all"]),
    (["revoke", "999999"], ["999999"]),
])
def test_bad_token_commands(tmp_path, args, words):
    url = f"sqlite:///{tmp_path / 't.db'}"
    run("init", "--db", url)
    one_line_error(run("token", *args, "--db", url, check=False), *words)


def test_missing_options_are_usage_errors(tmp_path):
    proc = run("token", "create", "--role", "editor", "--db", f"sqlite:///{tmp_path / 't.db'}", check=False)
    assert proc.returncode == 2 and "--name" in proc.stderr and "Traceback" not in proc.stderr
