"""People: the roles an account may hold and what each role may do, as data (one table the code checks).

An account belongs to one organisation: an enterprise, a regulator (its roles are REGULATOR_ROLES: it reads the
enterprises of its scope and writes only supervision records), or the whole service: the service's own machine
accounts (made for API tokens that had none) read every enterprise, and an operator's account (OPERATOR_ROLES)
administers the organisations — adds, imports and moves enterprises, parks, regulators and their accounts — and
reads the regulators' access records, but reads no enterprise's data (risks, hazards, maps): running the
platform does not need them, and an operator's token must not become a key to every enterprise. It holds one or
more roles; its rights are the union of its roles' permissions. Every HTTP route
and every CLI command that changes data names the permission it needs (riskmap.api.permissions.require);
nothing else decides.
No database and no web here: the store (riskmap.store.accounts) and the interfaces use these names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# What a person may do. "read" is what reading needs when the settings close reading (it is open by default).
PERMISSIONS: dict[str, tuple[str, str]] = {   # name → (Chinese, English)
    "read": ("查看地图、台账和历史", "read the map, the ledger and the history"),
    "edit_layout": ("修改平面布置（区域、要素）", "change the layout (regions, features)"),
    "edit_units": ("修改评价单元（强制等级、重新评价）", "change assessment units (overrides, re-assessment)"),
    "ledger": ("管理风险台账（记录事故、关闭复评标记）", "keep the risk ledger (accidents, re-assessment flags)"),
    "accounts": ("管理账户和角色", "manage accounts and roles"),
    "settings": ("修改企业设置", "change the enterprise's settings"),
    "hazard_report": ("上报隐患", "report hidden hazards"),
    "hazard_accept": ("验收隐患整改", "accept a hazard's rectification"),
    "hazard_rectify": ("整改指派的隐患", "rectify assigned hazards"),
    "hazard_manage": ("确认、指派、延期审批和销号隐患", "confirm, assign, extend and close hazards"),
    "inspect": ("开展排查并记录", "carry out and record inspections"),
    "oversee": ("查看辖区内企业总览和统计", "look across the enterprises of a regulator's scope"),
    "supervise": ("挂牌督办重大隐患", "put major hazards under supervision (挂牌督办)"),
    "administer": ("管理企业、园区、监管机构及其账户", "administer enterprises, parks, regulators and their accounts"),
    "audit": ("查看监管人员的访问记录", "read the record of what regulators' accounts read and wrote"),
}

# role → (Chinese name, English name, permissions). The order is the order lists show.
ROLES: dict[str, tuple[str, str, frozenset[str]]] = {
    "admin": ("企业管理员", "enterprise administrator", frozenset({"read", "accounts", "settings", "audit"})),
    "safety_manager": ("安全管理人员", "safety manager",
                       frozenset({"read", "edit_layout", "edit_units", "ledger", "hazard_report", "hazard_accept",
                                  "hazard_manage"})),
    "editor": ("编辑", "editor", frozenset({"read", "edit_layout", "edit_units"})),
    "inspector": ("排查人员", "inspector", frozenset({"read", "inspect", "hazard_report"})),
    "rectifier": ("整改人员", "rectifier", frozenset({"read", "hazard_rectify"})),
    "viewer": ("查看人员", "viewer", frozenset({"read"})),
}

# A regulator's roles (riskmap.orgs): given only to accounts of a regulator, never to an enterprise's.
REGULATOR_ROLES: dict[str, tuple[str, str, frozenset[str]]] = {
    "regulator_viewer": ("监管查看人员", "regulator viewer", frozenset({"read", "oversee", "audit"})),
    "regulator_supervisor": ("监管督办人员", "regulator supervisor",
                             frozenset({"read", "oversee", "supervise", "audit"})),
}
# The service operator's role: given only to accounts of the whole service (no enterprise, no regulator). No
# "read": an operator reads no enterprise's data (see the module docstring).
OPERATOR_ROLES: dict[str, tuple[str, str, frozenset[str]]] = {
    "operator": ("平台运维管理员", "service operator", frozenset({"administer", "audit"})),
}
ALL_ROLES = {**ROLES, **REGULATOR_ROLES, **OPERATOR_ROLES}
# What a regulator may do in an enterprise of its scope (anything else is refused with REGULATOR_REFUSAL).
REGULATOR_PERMISSIONS = frozenset({"read", "oversee", "supervise", "audit"})
# The kinds of account, by the organisation they belong to, and the roles each takes.
KIND_ROLES = {"enterprise": ROLES, "regulator": REGULATOR_ROLES, "operator": OPERATOR_ROLES}
KIND_NAMES = {"enterprise": ("企业账户", "an enterprise's account"), "regulator": ("监管账户", "a regulator's account"),
              "operator": ("平台运维账户", "an operator's account")}

# An API token's own role caps the rights of its account: a reader token only reads.
# ("oversee" is reading too: a regulator's reader token may read its overview.)
TOKEN_CAPS: dict[str, frozenset[str] | None] = {"editor": None, "reader": frozenset({"read", "oversee", "audit"})}
# The account role given to a token that had no account before accounts existed (migration 0006, `token create`).
TOKEN_ACCOUNT_ROLE = {"editor": "editor", "reader": "viewer"}

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_TEXT = 200
LOGIN_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


def check_role(role: str, regulator: bool = False, *, kind: str | None = None) -> str:
    """The role's key, or ValueError with a message naming the roles there are (a regulator's account takes
    REGULATOR_ROLES, an operator's OPERATOR_ROLES, an enterprise's ROLES; `kind` names one of KIND_ROLES)."""
    key = (role or "").strip().lower()
    kind = kind or ("regulator" if regulator else "enterprise")
    table = KIND_ROLES[kind]
    if key not in table:
        zh, en = KIND_NAMES[kind]
        raise ValueError(f"{zh}没有角色 “{role}”，可用：{'、'.join(table)} / no role {role!r} for {en}; the roles "
                         f"are {', '.join(table)}")
    return key


def permissions_of(roles: Iterable[str], token_role: str | None = None) -> frozenset[str]:
    """The union of the roles' permissions, capped by an API token's role when the request came with a token."""
    found: set[str] = set()
    for role in roles:
        found |= ALL_ROLES.get(role, ("", "", frozenset()))[2]
    cap = TOKEN_CAPS.get(token_role) if token_role else None
    return frozenset(found & cap if cap is not None else found)


def role_label(role: str) -> str:
    """A role as people read it, Chinese then English (an unknown code as itself)."""
    zh, en, _ = ALL_ROLES.get(role, (role, role, frozenset()))
    return f"{zh} / {en}"


def password_problem(password: str | None) -> str | None:
    """Why a password is refused (bilingual), or None: at least MIN_PASSWORD characters, no control characters."""
    if password is None or len(password) < MIN_PASSWORD:
        return f"密码至少 {MIN_PASSWORD} 个字符 / a password needs at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"密码过长（最多 {MAX_PASSWORD} 个字符）/ the password is too long (at most {MAX_PASSWORD})"
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return "密码不能含控制字符（换行等）/ a password cannot hold control characters (line breaks, …)"
    return None


def login_problem(login: str | None) -> str | None:
    """Why a login (a phone number or a staff number) is refused, or None."""
    if not login or not LOGIN_PATTERN.fullmatch(login):
        return ("登录名应为手机号或工号（字母、数字及 . _ @ + -，最多 64 个字符）/ a login is a phone or staff number "
                "(letters, digits and . _ @ + -, at most 64 characters)")
    return None


class Author(str):
    """The author of a change as the audit trail keeps it: the person's name at that time (the text) and their
    account id (`account_id`, None for work done outside any account, such as the command line's imports)."""

    account_id: int | None

    def __new__(cls, name: str, account_id: int | None = None):
        """The author's name as text (what the audit trail has always stored), with the account id beside it."""
        made = super().__new__(cls, name)
        made.account_id = account_id
        return made


def account_id_of(author: object) -> int | None:
    """The account id an author carries (None for a plain name: a CLI user, an older change)."""
    return getattr(author, "account_id", None)


@dataclass(frozen=True)
class Principal:
    """Who a request (or a command) acts as: an account, its roles and rights, and how it came (token, session)."""

    account_id: int
    name: str
    login: str
    enterprise: str | None          # None: an account of the whole service (machine accounts made for tokens)
    roles: tuple[str, ...]
    permissions: frozenset[str]
    via: str                        # "token" or "session"
    token_id: int | None = None
    token_role: str | None = None
    session_id: int | None = None
    regulator: str | None = None    # the regulator an account of a regulator belongs to (enterprise is None)

    @property
    def operator(self) -> bool:
        """Whether this is an operator's account (riskmap.people.OPERATOR_ROLES): it reads no enterprise's data."""
        return self.enterprise is None and self.regulator is None and any(r in OPERATOR_ROLES for r in self.roles)

    @property
    def author(self) -> Author:
        """This principal as the author of a change: name at this time and account id."""
        return Author(self.name, self.account_id)

    def may(self, permission: str) -> bool:
        """Whether this principal holds the permission (the table, not the role names, decides)."""
        return permission in self.permissions
