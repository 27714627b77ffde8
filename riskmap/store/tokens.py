"""API tokens: an editor token lets its holder change data over HTTP, a reader token only lets them read (when
the settings close reading). The token text is shown once; only its SHA-256 is stored, so a copy of the
database gives nobody a working token. Every token belongs to an account (riskmap.store.accounts) and has at
most its rights; a token made without one gets an account of its own, of the whole service, named as the token
(role editor → editor, reader → viewer): the machine (GDAL, QGIS, a script) is then the author of its changes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select

from riskmap.errors import InputError, NotFoundError
from riskmap.people import TOKEN_ACCOUNT_ROLE
from riskmap.store.schema import AccountRoleRow, AccountRow, ApiTokenRow
from riskmap.store.types import utcnow

ROLES = ("editor", "reader")
PREFIX = "rmk_"
# secrets.token_urlsafe(24) gives 32 url-safe characters.
RANDOM_BYTES = 24
TOKEN_PATTERN = re.compile(r"rmk_[A-Za-z0-9_-]{32}")
MAX_NAME = 200


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _info(row: ApiTokenRow) -> dict:
    return {"id": row.id, "name": row.name, "role": row.role, "created_at": row.created_at,
            "created_by": row.created_by, "revoked_at": row.revoked_at, "account_id": row.account_id}


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise InputError("令牌需要一个名称（修改记录的作者）/ a token needs a name (the author of its changes)")
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise InputError(f"令牌名称过长或含控制字符（最多 {MAX_NAME} 字）/ token name too long or with control "
                         f"characters (at most {MAX_NAME})")
    return name


def create_token(store, role: str, name: str, created_by: str | None = None,
                 account_id: int | None = None) -> tuple[str, dict]:
    """A new token of that role for an account (None: a new machine account of its own, see the module
    docstring); returns (the token text, shown once, its info)."""
    if role not in ROLES:
        raise InputError(f"令牌角色必须是 {' 或 '.join(ROLES)}，而不是 {role!r} / token role must be "
                         f"{' or '.join(ROLES)}, not {role!r}")
    name = _check_name(name)
    text = PREFIX + secrets.token_urlsafe(RANDOM_BYTES)
    with store.session(write=True) as s:
        now = utcnow()
        if account_id is None:
            account = AccountRow(enterprise_id=None, name=name, login="token", disabled=False, created_at=now,
                                 updated_at=now, created_by=created_by or None)
            s.add(account)
            s.flush()
            account.login = f"token-{account.id}"
            s.add(AccountRoleRow(account_id=account.id, role=TOKEN_ACCOUNT_ROLE[role], granted_at=now,
                                 granted_by=created_by or None))
            account_id = account.id
        row = ApiTokenRow(token_hash=_hash(text), name=name, role=role, created_at=now,
                          created_by=(created_by or None), revoked_at=None, account_id=account_id)
        s.add(row)
        s.flush()
        info = _info(row)
    return text, info


def verify_token(store, text: str | None) -> dict | None:
    """The info of a valid, unrevoked token; None for anything else (unknown, revoked, malformed)."""
    if not text or not TOKEN_PATTERN.fullmatch(text):
        return None
    digest = _hash(text)
    with store.session() as s:
        row = s.execute(select(ApiTokenRow).where(ApiTokenRow.token_hash == digest)).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
            return None
        return _info(row)


def list_tokens(store) -> list[dict]:
    """Every token ever made, revoked ones included (their names stay the authors of old changes)."""
    with store.session() as s:
        return [_info(r) for r in s.execute(select(ApiTokenRow).order_by(ApiTokenRow.id)).scalars()]


def revoke_token(store, id_or_name: int | str) -> list[dict]:
    """Revoke the token with that id, or else every unrevoked token with that name; returns what was revoked.

    NotFoundError when nothing matches; revoking an already revoked token changes nothing and returns it.
    """
    key = str(id_or_name).strip()
    with store.session(write=True) as s:
        rows = []
        if key.isdigit():
            row = s.get(ApiTokenRow, int(key))
            rows = [row] if row is not None else []
        if not rows:
            rows = list(s.execute(select(ApiTokenRow).where(ApiTokenRow.name == key,
                                                            ApiTokenRow.revoked_at.is_(None))
                                  .order_by(ApiTokenRow.id)).scalars())
        if not rows:
            raise NotFoundError(f"没有编号或名称为 “{key}” 的有效令牌 / no active token with id or name {key!r}")
        now = utcnow()
        for row in rows:
            if row.revoked_at is None:
                row.revoked_at = now
        s.flush()
        return [_info(r) for r in rows]
