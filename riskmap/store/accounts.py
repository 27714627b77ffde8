"""Accounts, their roles, browser sessions and sign-in: the work shared by the command line and the HTTP API.

Passwords are kept only as Argon2id hashes (argon2-cffi's PasswordHasher), session ids and CSRF tokens only as
SHA-256; nothing secret is ever stored or written to the audit trail in clear. An account is never deleted: it is
disabled (its sessions end, its tokens stop working) and may be enabled again. Every change to an account, every
sign-in, failed sign-in and lock-out is a row of the audit trail (`changes`, collection "accounts"); those rows
do not bump the data version (no map or ledger changed).

Lock-out: LOCK_AFTER failed sign-ins of one login within LOCK_WINDOW lock that login for the rest of the window,
ADDRESS_LOCK_AFTER failures from one address lock that address; a locked sign-in is refused even with the right
password, and is itself recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from riskmap import people
from riskmap.errors import AlreadyExistsError, AuthError, ForbiddenError, InputError, LockedError, NotFoundError
from riskmap.people import Author, Principal
from riskmap.store import tokens
from riskmap.store.rows import enterprise_id
from riskmap.store.schema import (
    AccountRoleRow,
    AccountRow,
    ApiTokenRow,
    ChangeRow,
    DataVersionRow,
    EnterpriseRow,
    LayoutVersionRow,
    LedgerVersionRow,
    RegulatorAccountRow,
    RegulatorRow,
    SignInAttemptRow,
    WebSessionRow,
)
from riskmap.store.types import utcnow

LOCK_AFTER = 5
ADDRESS_LOCK_AFTER = 20
LOCK_WINDOW = timedelta(minutes=15)
SESSION_BYTES = 32
SEEN_EVERY = timedelta(minutes=5)
_HASHER = PasswordHasher()           # Argon2id, the library's (RFC 9106) defaults
# Verified against when the login is unknown, so that an unknown login takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("riskmap-no-such-account")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """Argon2id hash of a password that passes the policy (InputError otherwise); the clear text is never kept."""
    problem = people.password_problem(password)
    if problem:
        raise InputError(problem)
    return _HASHER.hash(password)


def _password_ok(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------------------------------------- reading


def _enterprise_name(s: Session, ent_id: int | None) -> str | None:
    if ent_id is None:
        return None
    return s.execute(select(EnterpriseRow.name).where(EnterpriseRow.id == ent_id)).scalar_one()


def _roles(s: Session, account_id: int) -> tuple[str, ...]:
    found = set(s.execute(select(AccountRoleRow.role).where(AccountRoleRow.account_id == account_id)).scalars())
    return tuple(r for r in people.ALL_ROLES if r in found)


def _regulator(s: Session, account_id: int) -> str | None:
    """The name of the regulator an account belongs to (None: not a regulator's account)."""
    return s.execute(select(RegulatorRow.name).join(RegulatorAccountRow,
                                                    RegulatorAccountRow.regulator_id == RegulatorRow.id)
                     .where(RegulatorAccountRow.account_id == account_id)).scalar_one_or_none()


def _kind(s: Session, row: AccountRow) -> str:
    """enterprise, regulator, operator (riskmap.people.OPERATOR_ROLES) or service (a machine account)."""
    if row.enterprise_id is not None:
        return "enterprise"
    if _regulator(s, row.id) is not None:
        return "regulator"
    return "operator" if any(r in people.OPERATOR_ROLES for r in _roles(s, row.id)) else "service"


def kind_of(s: Session, row: AccountRow) -> str:
    """An account's kind (enterprise, regulator, operator, service) inside an open session of the store."""
    return _kind(s, row)


def _info(s: Session, row: AccountRow) -> dict:
    return {"id": row.id, "enterprise": _enterprise_name(s, row.enterprise_id), "name": row.name,
            "login": row.login, "department": row.department, "post": row.post, "phone": row.phone,
            "roles": list(_roles(s, row.id)), "regulator": _regulator(s, row.id), "kind": _kind(s, row),
            "disabled": bool(row.disabled), "can_sign_in": bool(row.password_hash),
            "created_at": row.created_at, "updated_at": row.updated_at, "created_by": row.created_by}


def _ent_id(s: Session, enterprise: str | None, create: bool = False) -> int | None:
    return None if enterprise is None else enterprise_id(s, enterprise, create=create)


def _find(s: Session, ent_id: int | None, who: int | str) -> AccountRow:
    """The account of an enterprise by login, or else by id."""
    key = str(who).strip()
    cond = AccountRow.enterprise_id.is_(None) if ent_id is None else AccountRow.enterprise_id == ent_id
    row = s.execute(select(AccountRow).where(cond, AccountRow.login == key)).scalar_one_or_none()
    if row is None and key.isdigit():
        row = s.execute(select(AccountRow).where(cond, AccountRow.id == int(key))).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"没有登录名或编号为 “{key}” 的账户 / no account with login or id {key!r}")
    return row


def list_accounts(store, enterprise: str | None) -> list[dict]:
    """The accounts of an enterprise (None: the service's own), disabled ones included."""
    with store.session() as s:
        ent_id = _ent_id(s, enterprise)
        cond = AccountRow.enterprise_id.is_(None) if ent_id is None else AccountRow.enterprise_id == ent_id
        return [_info(s, r) for r in s.execute(select(AccountRow).where(cond).order_by(AccountRow.id)).scalars()]


def get_account(store, enterprise: str | None, who: int | str) -> dict:
    """One account (by id or login) of the enterprise (None: any), as administrators see it."""
    with store.session() as s:
        return _info(s, _find(s, _ent_id(s, enterprise), who))


def operator_accounts(store) -> list[dict]:
    """The operators' accounts (riskmap.people.OPERATOR_ROLES), disabled ones included."""
    return [a for a in list_accounts(store, None) if a["kind"] == "operator"]


def operator_account(store, who: int | str) -> dict:
    """One operator's account by login, or else by id; NotFoundError for any other account (a regulator's, a
    machine's, an enterprise's)."""
    key = str(who).strip()
    found = operator_accounts(store)
    match = next((a for a in found if a["login"] == key), None)
    if match is None and key.isdigit():
        match = next((a for a in found if a["id"] == int(key)), None)
    if match is None:
        raise NotFoundError(f"没有登录名或编号为 “{key[:64]}” 的平台运维账户 / no operator's account with login or id "
                            f"{key[:64]!r}")
    return match


def login_exists(store, login: str) -> bool:
    """Whether any enterprise has an account with that login."""
    with store.session() as s:
        return s.execute(select(AccountRow.id).where(AccountRow.login == login).limit(1)).first() is not None


# ---------------------------------------------------------------------------------------------- audit


def _audit(s: Session, ent_id: int | None, action: str, by: Any, items: list[str], detail: dict | None = None,
           reason: str | None = None) -> None:
    """An audit row about people (no data version of its own: the current one is named)."""
    if ent_id is None:
        return        # the service's machine accounts have no enterprise trail; their tokens list them
    version = s.execute(select(DataVersionRow.version).where(DataVersionRow.enterprise_id == ent_id)).scalar_one()
    layout = s.execute(select(func.max(LayoutVersionRow.number))
                       .where(LayoutVersionRow.enterprise_id == ent_id)).scalar_one()
    ledger = s.execute(select(func.max(LedgerVersionRow.number))
                       .where(LedgerVersionRow.enterprise_id == ent_id)).scalar_one()
    s.add(ChangeRow(enterprise_id=ent_id, data_version=version, at=utcnow(),
                    author=str(by) if by is not None else None, author_id=people.account_id_of(by),
                    reason=reason, action=action, collection="accounts", item_ids=items, layout_number=layout,
                    ledger_number=ledger, detail=detail))


# ---------------------------------------------------------------------------------------------- changing


def _clean(value: str | None, what_zh: str, what_en: str, limit: int = people.MAX_TEXT) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise InputError(f"{what_zh}过长或含控制字符（最多 {limit} 字）/ {what_en} too long or with control characters "
                         f"(at most {limit})")
    return value


def _checked_roles(roles, regulator: bool = False, kind: str | None = None) -> list[str]:
    out = []
    for role in roles:
        try:
            key = people.check_role(role, regulator=regulator, kind=kind)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if key not in out:
            out.append(key)
    if not out:
        raise InputError("账户至少需要一个角色 / an account needs at least one role")
    return out


def create_account(store, enterprise: str | None, *, name: str, login: str, password: str | None,
                   roles, department: str | None = None, post: str | None = None, phone: str | None = None,
                   by: Any = None, create_enterprise: bool = False, regulator_id: int | None = None,
                   operator: bool = False) -> dict:
    """A new account of the enterprise (or, with `regulator_id` and no enterprise, of that regulator: its roles are
    then riskmap.people.REGULATOR_ROLES; or, with `operator`, an operator's account of the whole service, roles
    riskmap.people.OPERATOR_ROLES); AlreadyExistsError (409) when the login is taken there (one login space for
    every account outside the enterprises)."""
    if regulator_id is not None and enterprise is not None:
        raise InputError("监管账户不属于企业 / a regulator's account belongs to no enterprise")
    if operator and (enterprise is not None or regulator_id is not None):
        raise InputError("平台运维账户不属于企业或监管机构 / an operator's account belongs to no enterprise and no "
                         "regulator")
    name = _clean(name, "姓名", "the name")
    if not name:
        raise InputError("账户需要姓名 / an account needs a name")
    login = (login or "").strip()
    problem = people.login_problem(login)
    if problem:
        raise InputError(problem)
    roles = _checked_roles(roles, kind="operator" if operator else
                           "regulator" if regulator_id is not None else "enterprise")
    hashed = hash_password(password) if password is not None else None
    values = {"department": _clean(department, "部门", "the department"), "post": _clean(post, "岗位", "the post"),
              "phone": _clean(phone, "电话", "the phone", 64)}
    with store.session(write=True) as s:
        ent_id = _ent_id(s, enterprise, create=create_enterprise)
        cond = AccountRow.enterprise_id.is_(None) if ent_id is None else AccountRow.enterprise_id == ent_id
        if s.execute(select(AccountRow.id).where(cond, AccountRow.login == login)).first() is not None:
            raise AlreadyExistsError(f"登录名 “{login}” 已被使用 / the login {login!r} is taken")
        now = utcnow()
        row = AccountRow(enterprise_id=ent_id, name=name, login=login, password_hash=hashed, disabled=False,
                         created_at=now, updated_at=now, created_by=str(by) if by is not None else None, **values)
        s.add(row)
        s.flush()
        if regulator_id is not None:
            s.add(RegulatorAccountRow(account_id=row.id, regulator_id=regulator_id))
        for role in roles:
            s.add(AccountRoleRow(account_id=row.id, role=role, granted_at=now,
                                 granted_by=str(by) if by is not None else None))
        s.flush()
        _audit(s, ent_id, "account.create", by, [login], {"roles": roles, "account_id": row.id})
        return _info(s, row)


def _end_sessions(s: Session, account_id: int) -> None:
    now = utcnow()
    for row in s.execute(select(WebSessionRow).where(WebSessionRow.account_id == account_id,
                                                     WebSessionRow.ended_at.is_(None))).scalars():
        row.ended_at = now


def set_disabled(store, enterprise: str | None, who: int | str, disabled: bool, by: Any = None) -> dict:
    """Disable (its sessions end, its tokens stop working) or enable an account."""
    with store.session(write=True) as s:
        ent_id = _ent_id(s, enterprise)
        row = _find(s, ent_id, who)
        if disabled:
            if people.account_id_of(by) == row.id:
                raise ForbiddenError("不能停用自己的账户 / you cannot disable your own account")
            _end_sessions(s, row.id)
        if bool(row.disabled) != disabled:
            row.disabled = disabled
            row.updated_at = utcnow()
            _audit(s, ent_id, "account.disable" if disabled else "account.enable", by, [row.login],
                   {"account_id": row.id})
        s.flush()
        return _info(s, row)


def reset_password(store, enterprise: str | None, who: int | str, password: str, by: Any = None) -> dict:
    """A new password (set by an administrator); the account's open sessions end."""
    hashed = hash_password(password)
    with store.session(write=True) as s:
        ent_id = _ent_id(s, enterprise)
        row = _find(s, ent_id, who)
        row.password_hash = hashed
        row.updated_at = utcnow()
        _end_sessions(s, row.id)
        _audit(s, ent_id, "account.reset_password", by, [row.login], {"account_id": row.id})
        s.flush()
        return _info(s, row)


def set_roles(store, enterprise: str | None, who: int | str, *, grant=(), revoke=(), by: Any = None) -> dict:
    """Grant and revoke roles; an account keeps at least one, and nobody changes their own roles."""
    grant, revoke = list(grant), list(revoke)
    with store.session(write=True) as s:
        ent_id = _ent_id(s, enterprise)
        row = _find(s, ent_id, who)
        kind = _kind(s, row)
        kind = "enterprise" if kind == "service" else kind         # a machine account holds an enterprise's roles
        grant_keys = _checked_roles(grant, kind=kind) if grant else []
        revoke_keys = _checked_roles(revoke, kind=kind) if revoke else []
        if people.account_id_of(by) == row.id:
            raise ForbiddenError("不能修改自己的角色 / you cannot change your own roles")
        held = set(_roles(s, row.id))
        after = (held | set(grant_keys)) - set(revoke_keys)
        if not after:
            raise InputError("账户至少需要一个角色 / an account needs at least one role")
        now = utcnow()
        for role in grant_keys:
            if role not in held:
                s.add(AccountRoleRow(account_id=row.id, role=role, granted_at=now,
                                     granted_by=str(by) if by is not None else None))
        gone = [r for r in revoke_keys if r in held]
        if gone:
            s.execute(delete(AccountRoleRow).where(AccountRoleRow.account_id == row.id,
                                                   AccountRoleRow.role.in_(gone)))
        if after != held:
            row.updated_at = now
            _audit(s, ent_id, "account.roles", by, [row.login],
                   {"account_id": row.id, "before": sorted(held), "after": sorted(after)})
        s.flush()
        return _info(s, row)


# ---------------------------------------------------------------------------------------------- principals


def _principal(s: Session, row: AccountRow, via: str, **extra) -> Principal:
    roles = _roles(s, row.id)
    return Principal(account_id=row.id, name=row.name, login=row.login,
                     enterprise=_enterprise_name(s, row.enterprise_id), roles=roles,
                     permissions=people.permissions_of(roles, extra.get("token_role")), via=via,
                     regulator=_regulator(s, row.id) if row.enterprise_id is None else None, **extra)


def principal_for_token(store, text: str | None) -> Principal | None:
    """Who an API token acts as: its account, with at most the account's rights (a reader token only reads);
    None for an unknown, revoked or malformed token, or one whose account is disabled."""
    info = tokens.verify_token(store, text)
    if info is None:
        return None
    with store.session() as s:
        token = s.get(ApiTokenRow, info["id"])
        row = s.get(AccountRow, token.account_id) if token.account_id is not None else None
        if row is None or row.disabled:
            return None
        return _principal(s, row, "token", token_id=token.id, token_role=token.role)


def _failures(s: Session, column, value, since: datetime) -> int:
    return s.execute(select(func.count()).select_from(SignInAttemptRow)
                     .where(column == value, SignInAttemptRow.at >= since, SignInAttemptRow.ok.is_(False))
                     ).scalar_one()


def _locked(s: Session, login_key: str, address: str | None, now: datetime) -> str | None:
    since = now - LOCK_WINDOW
    if _failures(s, SignInAttemptRow.login, login_key, since) >= LOCK_AFTER:
        return "account"
    if address and _failures(s, SignInAttemptRow.address, address, since) >= ADDRESS_LOCK_AFTER:
        return "address"
    return None


def _lock_message() -> LockedError:
    minutes = int(LOCK_WINDOW.total_seconds() // 60)
    exc = LockedError(f"登录失败次数过多，已暂时锁定，请 {minutes} 分钟后再试或联系管理员 / too many failed sign-ins: "
                      f"locked for now, try again in {minutes} minutes or ask an administrator")
    exc.headers = {"Retry-After": str(int(LOCK_WINDOW.total_seconds()))}
    return exc


def sign_in(store, enterprise: str, login: str, password: str, address: str | None = None,
            hours: float = 12.0) -> tuple[Principal, str, str]:
    """Check a login and password; returns (who, the session id, the CSRF token), both shown once.

    AuthError for a wrong password, an unknown login or a disabled account (one message for all three), LockedError
    after too many failures; every attempt is recorded (sign_in_attempts and the audit trail)."""
    login = (login or "").strip()[:64]
    address = (address or None) and address[:64]
    password = password or ""
    now = utcnow()
    refusal: Exception | None = None
    with store.session(write=True) as s:
        ent_id = enterprise_id(s, enterprise, create=False)
        login_key = f"{ent_id}:{login}"[:64]      # the lock-out's key: one login of one enterprise
        row = s.execute(select(AccountRow).where(AccountRow.enterprise_id == ent_id, AccountRow.login == login)
                        ).scalar_one_or_none()
        if row is None:       # a regulator's or an operator's account signs in on the page of any enterprise
            row = s.execute(select(AccountRow).where(AccountRow.enterprise_id.is_(None),
                                                     AccountRow.login == login)).scalar_one_or_none()
            if row is not None and _kind(s, row) == "service":
                row = None        # a machine account never signs in (it has no password anyway)
            if row is not None:   # one lock-out whichever enterprise's page it signs in on
                login_key = f"{_kind(s, row)}:{login}"[:64]
        locked = _locked(s, login_key, address, now)
        ok = _password_ok(row.password_hash if row is not None else None, password)   # always hashes: same time
        if locked:
            s.add(SignInAttemptRow(enterprise_id=ent_id, login=login_key, address=address, at=now, ok=False))
            _audit(s, ent_id, "account.sign_in_locked", Author(login), [login],
                   {"address": address, "locked": locked})
            refusal = _lock_message()
        elif not ok or row is None or row.disabled:
            why = "unknown_login" if row is None else ("disabled" if row.disabled and ok else "wrong_password")
            s.add(SignInAttemptRow(enterprise_id=ent_id, login=login_key, address=address, at=now, ok=False))
            _audit(s, ent_id, "account.sign_in_failed", Author(row.name if row else login, row.id if row else None),
                   [login], {"address": address, "why": why})
            s.flush()
            if _locked(s, login_key, address, now):
                _audit(s, ent_id, "account.locked", Author(login), [login], {"address": address})
            refusal = (AuthError("该账户已停用，请联系管理员 / this account is disabled: ask an administrator")
                       if why == "disabled" else AuthError("登录名或密码不对 / wrong login or password"))
        else:
            if _HASHER.check_needs_rehash(row.password_hash):
                row.password_hash = _HASHER.hash(password)
            s.add(SignInAttemptRow(enterprise_id=ent_id, login=login_key, address=address, at=now, ok=True))
            session_text = secrets.token_urlsafe(SESSION_BYTES)
            csrf_text = secrets.token_urlsafe(SESSION_BYTES)
            session = WebSessionRow(session_hash=_sha(session_text), account_id=row.id, csrf_hash=_sha(csrf_text),
                                    created_at=now, expires_at=now + timedelta(hours=hours), last_seen_at=now,
                                    address=address, ended_at=None)
            s.add(session)
            s.flush()
            _audit(s, ent_id, "account.sign_in", Author(row.name, row.id), [login], {"address": address})
            who = _principal(s, row, "session", session_id=session.id)
    if refusal is not None:          # raised once the attempt is committed: failures are kept
        raise refusal
    return who, session_text, csrf_text


def principal_for_session(store, session_text: str | None, csrf_text: str | None = None,
                          check_csrf: bool = False) -> Principal | None:
    """Who a browser session acts as; None for an unknown, ended or expired session, or a disabled account.

    With `check_csrf`, the CSRF token must match the session's, else ForbiddenError (a write without it)."""
    if not session_text or len(session_text) > 200:
        return None
    now = utcnow()
    digest = _sha(session_text)
    with store.session() as s:
        row = s.execute(select(WebSessionRow).where(WebSessionRow.session_hash == digest)).scalar_one_or_none()
        if row is None or row.ended_at is not None or row.expires_at <= now:
            return None
        account = s.get(AccountRow, row.account_id)
        if account is None or account.disabled:
            return None
        who = _principal(s, account, "session", session_id=row.id)
        csrf_ok = not check_csrf or bool(csrf_text and hmac.compare_digest(row.csrf_hash, _sha(csrf_text)))
        stale = now - row.last_seen_at > SEEN_EVERY
    if not csrf_ok:
        record_refusal(store, who, who.enterprise, {"why": "csrf"})
        raise ForbiddenError("缺少或错误的 CSRF 令牌，请刷新页面后重试 / the CSRF token is missing or wrong: "
                             "reload the page and try again")
    if stale:                       # last seen, kept to the minute or so: not one write per request
        with store.session(write=True) as s:
            s.execute(update(WebSessionRow).where(WebSessionRow.id == who.session_id).values(last_seen_at=now))
    return who


def move_account(store, enterprise: str, who: int | str, to_enterprise: str, by: Any = None,
                 reason: str | None = None) -> dict:
    """Move an account to another enterprise: its browser sessions end at once (a page signed in for the old
    enterprise must sign in again), its tokens follow it (they act for the new enterprise from the next request);
    the move is recorded in the trail of both enterprises."""
    with store.session(write=True) as s:
        ent_id = enterprise_id(s, enterprise, create=False)
        to_id = enterprise_id(s, to_enterprise, create=False)
        row = _find(s, ent_id, who)
        if to_id == ent_id:
            raise InputError(f"账户已属于企业 “{to_enterprise}” / the account already belongs to {to_enterprise!r}")
        if people.account_id_of(by) == row.id:
            raise ForbiddenError("不能移动自己的账户 / you cannot move your own account")
        if s.execute(select(AccountRow.id).where(AccountRow.enterprise_id == to_id,
                                                 AccountRow.login == row.login)).first() is not None:
            raise AlreadyExistsError(f"企业 “{to_enterprise}” 已有登录名 “{row.login}” / {to_enterprise!r} already has "
                                     f"an account with the login {row.login!r}")
        _end_sessions(s, row.id)
        row.enterprise_id = to_id
        row.updated_at = utcnow()
        s.flush()
        detail = {"account_id": row.id, "from": _enterprise_name(s, ent_id), "to": _enterprise_name(s, to_id)}
        _audit(s, ent_id, "account.move_out", by, [row.login], detail, reason)
        _audit(s, to_id, "account.move_in", by, [row.login], detail, reason)
        return _info(s, row)


def move_to_regulator(store, account_id: int, regulator_id: int, by: Any = None) -> None:
    """Move a regulator's account to another regulator (riskmap.store.orgs.move_regulator_account checks the names):
    its browser sessions end at once, so that no page keeps reading the old regulator's scope; its tokens follow
    it (they read the new scope from the next request)."""
    with store.session(write=True) as s:
        link = s.get(RegulatorAccountRow, account_id)
        if link is None:
            raise NotFoundError(f"账户 {account_id} 不是监管账户 / account {account_id} is not a regulator's")
        if people.account_id_of(by) == account_id:
            raise ForbiddenError("不能移动自己的账户 / you cannot move your own account")
        _end_sessions(s, account_id)
        link.regulator_id = regulator_id
        row = s.get(AccountRow, account_id)
        row.updated_at = utcnow()


def record_refusal(store, who: Principal | None, enterprise: str | None, detail: dict) -> None:
    """An audit row for a refused request of a known person (a missing right, another enterprise, a wrong CSRF
    token): `access.refused` in their enterprise (else the one asked for); nothing when neither is known."""
    enterprise = (who.enterprise if who is not None else None) or enterprise
    if enterprise is None:
        return
    with store.session(write=True) as s:
        ent_id = enterprise_id(s, enterprise, create=False, missing_ok=True)
        if ent_id is None:
            return
        by = Author(who.name, who.account_id) if who is not None else None
        _audit(s, ent_id, "access.refused", by, [who.login] if who is not None else [],
               {**detail, "via": who.via if who is not None else None})


def end_session(store, session_text: str | None) -> bool:
    """Sign out: the session ends (a replay of its cookie is refused); False when there was none."""
    if not session_text:
        return False
    with store.session(write=True) as s:
        row = s.execute(select(WebSessionRow).where(WebSessionRow.session_hash == _sha(session_text))
                        ).scalar_one_or_none()
        if row is None or row.ended_at is not None:
            return False
        row.ended_at = utcnow()
        account = s.get(AccountRow, row.account_id)
        _audit(s, account.enterprise_id, "account.sign_out", Author(account.name, account.id), [account.login])
        return True
