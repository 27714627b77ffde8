"""`riskmap init [--admin NAME]` and `riskmap user add|list|disable|enable|reset-password|grant|revoke`.

The accounts are an enterprise's (`--enterprise`, else the configured or only one), or with `--regulator NAME` a
regulator's (riskmap.store.orgs: bound to that regulator, no enterprise; roles regulator_viewer — "oversee" — and
regulator_supervisor — also "supervise"), or with `--operator` an operator's account of the whole service (role
operator: adds, imports and moves enterprises, parks, regulators and their accounts over HTTP, reads the
regulators' access records, reads no enterprise's data; riskmap.people). An unknown regulator, two of these options
at once, a role of the wrong kind of account and another kind's account are one-line errors, nothing changed.

Whoever runs these commands can open the database itself, so the command line acts with the rights of the
database's operator (every permission of riskmap.people); the audit trail names the operating-system user. A
password is never an argument (it would stay in the shell's history and the process list): it is asked for at a
prompt, or read from the first line of standard input with --password-stdin. The work is riskmap.store.accounts'.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, JsonOption, print_json, settings_for

user_app = typer.Typer(help="账户和角色 / accounts and roles", no_args_is_help=True)

PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="从标准输入的第一行读取密码 / read the "
                                                                       "password from the first line of stdin")]
RolesOption = Annotated[list[str], typer.Option("--role", "-r", help="角色，可多次给出 / role, may be repeated: "
                                                                     "admin, safety_manager, editor, inspector, "
                                                                     "rectifier, viewer; a regulator's: "
                                                                     "regulator_viewer, regulator_supervisor; an "
                                                                     "operator's: operator")]
OperatorOption = Annotated[bool, typer.Option("--operator", help="平台运维账户（不属于企业或监管机构）/ an operator's "
                                                                 "account (of no enterprise, no regulator)")]
RegulatorOption = Annotated[str | None, typer.Option("--regulator", help="监管机构名称：管理该监管机构的账户（不与 "
                                                                         "--enterprise 同用）/ the regulator whose "
                                                                         "accounts these are (not with --enterprise)")]
Who = Annotated[str, typer.Argument(help="登录名（手机号或工号）或账户编号 / login or account id")]


def operator():
    """The author of what the command line does: the operating-system user, outside any account."""
    import getpass

    from riskmap.people import Author

    try:
        return Author(f"命令行 {getpass.getuser()}")
    except (KeyError, OSError):
        return Author("命令行")


def _open(db: str | None, enterprise: str | None, create: bool = False):
    from riskmap.plant import resolve_enterprise
    from riskmap.store import open_store

    settings = settings_for(db, enterprise)
    store = open_store(settings.db, create=create)
    return store, resolve_enterprise(store, settings.enterprise)


def _target(db: str | None, enterprise: str | None, regulator: str | None, operator_: bool = False):
    """(store, enterprise name or None, regulator name or None): a regulator's accounts with --regulator (checked
    to exist), the operators' with --operator (both None), else the enterprise's."""
    from riskmap.errors import InputError
    from riskmap.store import open_store, orgs

    if operator_:
        if enterprise is not None or regulator is not None:
            raise InputError("--operator 不与 --enterprise 或 --regulator 同用：平台运维账户不属于企业或监管机构 / "
                             "--operator goes with neither --enterprise nor --regulator: an operator's account "
                             "belongs to neither")
        return open_store(settings_for(db, None).db), None, None
    if regulator is None:
        return (*_open(db, enterprise), None)
    if enterprise is not None:
        raise InputError("--regulator 与 --enterprise 只能给一个：监管账户不属于企业 / give --regulator or "
                         "--enterprise, not both: a regulator's account belongs to no enterprise")
    store = open_store(settings_for(db, None).db)
    return store, None, orgs.regulator(store, regulator)["name"]


def _account(store, regulator: str | None, who: str, operator_: bool = False) -> str:
    """The account named on the command line as the store's functions take it: the login of the regulator's (or the
    operator's) account (another kind's is refused), else `who` within the enterprise."""
    from riskmap.store import accounts, orgs

    if operator_:
        return accounts.operator_account(store, who)["login"]
    return orgs.regulator_account(store, regulator, who)["login"] if regulator is not None else who


def _checked_roles(roles: list[str], regulator: bool, operator_: bool = False) -> None:
    """Refuse a role of the wrong kind before a password is asked for."""
    from riskmap.errors import InputError
    from riskmap.people import check_role

    for role in roles:
        try:
            check_role(role, kind="operator" if operator_ else "regulator" if regulator else "enterprise")
        except ValueError as exc:
            raise InputError(str(exc)) from None


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a prompt (never echoed)."""
    from riskmap.errors import InputError
    from riskmap.people import password_problem

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise InputError(problem)
    return password


def _line(a: dict) -> str:
    from riskmap.people import role_label

    state = "已停用 disabled" if a["disabled"] else "启用 active"
    extra = "  ".join(v for v in (a["department"], a["post"], a["phone"]) if v)
    roles = "、".join(role_label(r) for r in a["roles"])
    whose = (f"  监管 regulator {a['regulator']}" if a.get("regulator") else
             "  平台运维 operator" if a.get("kind") == "operator" else "")
    return f"#{a['id']}  {a['login']}  {a['name']}  [{roles}]  {state}{whose}{'  ' + extra if extra else ''}"


def _show(a: dict, as_json: bool, message: str) -> None:
    if as_json:
        print_json(a)
    else:
        typer.echo(f"{message}: {_line(a)}")


def init(db: DbOption = None, enterprise: EnterpriseOption = None,
         admin: Annotated[str | None, typer.Option("--admin", help="首个企业管理员的姓名 / the first administrator's "
                                                                   "name")] = None,
         login: Annotated[str, typer.Option("--login", help="管理员的登录名 / the administrator's login")] = "admin",
         password_stdin: PasswordStdin = False) -> None:
    """创建或升级数据库；可同时创建首个管理员 / create or migrate the database, and optionally the first admin."""
    from riskmap.store import accounts, open_store

    settings = settings_for(db, enterprise)
    store = open_store(settings.db)
    name = settings.enterprise or "default"
    store.enterprise(name)
    typer.echo(f"数据库已就绪 / database ready: {settings.db}")
    if admin is not None:
        made = accounts.create_account(store, name, name=admin, login=login, password=read_password(password_stdin),
                                       roles=["admin"], by=operator())
        typer.echo(f"已创建企业管理员 / administrator created: {_line(made)}（企业 enterprise {name}）")


@user_app.command("add")
def add(name: Annotated[str, typer.Option("--name", help="姓名 / name")],
        login: Annotated[str, typer.Option("--login", help="手机号或工号 / phone or staff number")],
        role: Annotated[list[str] | None, typer.Option("--role", "-r", help="角色，可多次给出（--operator 时默认 "
                                                                            "operator）/ role, may be repeated (with "
                                                                            "--operator: operator)")] = None,
        department: Annotated[str | None, typer.Option("--department", help="部门 / department")] = None,
        post: Annotated[str | None, typer.Option("--post", help="岗位 / post")] = None,
        phone: Annotated[str | None, typer.Option("--phone", help="电话 / phone")] = None,
        password_stdin: PasswordStdin = False, db: DbOption = None, enterprise: EnterpriseOption = None,
        regulator: RegulatorOption = None, operator_: OperatorOption = False, as_json: JsonOption = False) -> None:
    """新建账户（企业的；用 --regulator 监管机构的；用 --operator 平台运维的）/ add an account (an enterprise's, a
    regulator's with --regulator, an operator's with --operator)."""
    from riskmap.errors import InputError
    from riskmap.store import accounts, orgs

    store, ent, reg = _target(db, enterprise, regulator, operator_)
    role = role or (["operator"] if operator_ else [])
    if not role:
        raise InputError("请用 --role 给出至少一个角色 / give at least one role with --role")
    _checked_roles(role, regulator=reg is not None, operator_=operator_)
    password = read_password(password_stdin)
    extra = {"department": department, "post": post, "phone": phone}
    if operator_:
        made = accounts.create_account(store, None, name=name, login=login, password=password, roles=role,
                                       by=operator(), operator=True, **extra)
    elif reg is not None:
        made = orgs.add_regulator_account(store, reg, name=name, login=login, password=password, roles=role,
                                          by=operator(), **extra)
    else:
        made = accounts.create_account(store, ent, name=name, login=login, password=password, roles=role,
                                       by=operator(), **extra)
    _show(made, as_json, "已创建账户 / account created")


@user_app.command("list")
def list_(db: DbOption = None, enterprise: EnterpriseOption = None, regulator: RegulatorOption = None,
          operator_: OperatorOption = False, as_json: JsonOption = False) -> None:
    """列出企业（或监管机构、平台运维）的账户 / list the enterprise's (or the regulator's, the operators') accounts."""
    from riskmap.store import accounts, orgs

    store, ent, reg = _target(db, enterprise, regulator, operator_)
    if operator_:
        found = accounts.operator_accounts(store)
    else:
        found = orgs.regulator_accounts(store, reg) if reg is not None else accounts.list_accounts(store, ent)
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("还没有账户（用 riskmap user add 创建）/ no accounts yet (add one with riskmap user add)")
    for a in found:
        typer.echo(_line(a))


@user_app.command("disable")
def disable(who: Who, db: DbOption = None, enterprise: EnterpriseOption = None, regulator: RegulatorOption = None,
            operator_: OperatorOption = False, as_json: JsonOption = False) -> None:
    """停用账户（会话结束，令牌失效）/ disable an account (its sessions end, its tokens stop working)."""
    from riskmap.store import accounts

    store, ent, reg = _target(db, enterprise, regulator, operator_)
    _show(accounts.set_disabled(store, ent, _account(store, reg, who, operator_), True, by=operator()), as_json,
          "已停用 / disabled")


@user_app.command("enable")
def enable(who: Who, db: DbOption = None, enterprise: EnterpriseOption = None, regulator: RegulatorOption = None,
           operator_: OperatorOption = False, as_json: JsonOption = False) -> None:
    """重新启用账户 / enable an account again."""
    from riskmap.store import accounts

    store, ent, reg = _target(db, enterprise, regulator, operator_)
    _show(accounts.set_disabled(store, ent, _account(store, reg, who, operator_), False, by=operator()), as_json,
          "已启用 / enabled")


@user_app.command("reset-password")
def reset_password(who: Who, password_stdin: PasswordStdin = False, db: DbOption = None,
                   enterprise: EnterpriseOption = None, regulator: RegulatorOption = None,
                   operator_: OperatorOption = False, as_json: JsonOption = False) -> None:
    """重设密码（该账户的会话结束）/ set a new password (the account's sessions end)."""
    from riskmap.store import accounts

    store, ent, reg = _target(db, enterprise, regulator, operator_)
    login = _account(store, reg, who, operator_)           # an unknown account is refused before the password is asked
    if reg is None and not operator_:
        accounts.get_account(store, ent, login)
    password = read_password(password_stdin)
    _show(accounts.reset_password(store, ent, login, password, by=operator()), as_json,
          "密码已重设 / password reset")


@user_app.command("grant")
def grant(who: Who, role: RolesOption, db: DbOption = None, enterprise: EnterpriseOption = None,
          regulator: RegulatorOption = None, operator_: OperatorOption = False, as_json: JsonOption = False) -> None:
    """授予角色 / grant roles."""
    from riskmap.store import accounts

    store, ent, reg = _target(db, enterprise, regulator, operator_)
    _show(accounts.set_roles(store, ent, _account(store, reg, who, operator_), grant=role, by=operator()), as_json,
          "已授予 / granted")


@user_app.command("revoke")
def revoke(who: Who, role: RolesOption, db: DbOption = None, enterprise: EnterpriseOption = None,
           regulator: RegulatorOption = None, operator_: OperatorOption = False, as_json: JsonOption = False) -> None:
    """撤销角色 / revoke roles."""
    from riskmap.store import accounts

    store, ent, reg = _target(db, enterprise, regulator, operator_)
    _show(accounts.set_roles(store, ent, _account(store, reg, who, operator_), revoke=role, by=operator()), as_json,
          "已撤销 / revoked")


def register(app: typer.Typer) -> None:
    """`riskmap init` (with its first administrator) and `riskmap user …`."""
    app.command("init")(init)
    app.add_typer(user_app, name="user")
