"""`riskmap init [--admin NAME]` and `riskmap user add|list|disable|enable|reset-password|grant|revoke`.

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
                                                                     "rectifier, viewer")]
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
    return f"#{a['id']}  {a['login']}  {a['name']}  [{roles}]  {state}{'  ' + extra if extra else ''}"


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
        role: RolesOption,
        department: Annotated[str | None, typer.Option("--department", help="部门 / department")] = None,
        post: Annotated[str | None, typer.Option("--post", help="岗位 / post")] = None,
        phone: Annotated[str | None, typer.Option("--phone", help="电话 / phone")] = None,
        password_stdin: PasswordStdin = False, db: DbOption = None, enterprise: EnterpriseOption = None,
        as_json: JsonOption = False) -> None:
    """新建账户 / add an account."""
    from riskmap.store import accounts

    store, ent = _open(db, enterprise)
    password = read_password(password_stdin)
    made = accounts.create_account(store, ent, name=name, login=login, password=password, roles=role,
                                   department=department, post=post, phone=phone, by=operator())
    _show(made, as_json, "已创建账户 / account created")


@user_app.command("list")
def list_(db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """列出企业的账户 / list the enterprise's accounts."""
    from riskmap.store import accounts

    store, ent = _open(db, enterprise)
    found = accounts.list_accounts(store, ent)
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("还没有账户（用 riskmap user add 创建）/ no accounts yet (add one with riskmap user add)")
    for a in found:
        typer.echo(_line(a))


@user_app.command("disable")
def disable(who: Who, db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """停用账户（会话结束，令牌失效）/ disable an account (its sessions end, its tokens stop working)."""
    from riskmap.store import accounts

    store, ent = _open(db, enterprise)
    _show(accounts.set_disabled(store, ent, who, True, by=operator()), as_json, "已停用 / disabled")


@user_app.command("enable")
def enable(who: Who, db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """重新启用账户 / enable an account again."""
    from riskmap.store import accounts

    store, ent = _open(db, enterprise)
    _show(accounts.set_disabled(store, ent, who, False, by=operator()), as_json, "已启用 / enabled")


@user_app.command("reset-password")
def reset_password(who: Who, password_stdin: PasswordStdin = False, db: DbOption = None,
                   enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """重设密码（该账户的会话结束）/ set a new password (the account's sessions end)."""
    from riskmap.store import accounts

    store, ent = _open(db, enterprise)
    password = read_password(password_stdin)
    _show(accounts.reset_password(store, ent, who, password, by=operator()), as_json,
          "密码已重设 / password reset")


@user_app.command("grant")
def grant(who: Who, role: RolesOption, db: DbOption = None, enterprise: EnterpriseOption = None,
          as_json: JsonOption = False) -> None:
    """授予角色 / grant roles."""
    from riskmap.store import accounts

    store, ent = _open(db, enterprise)
    _show(accounts.set_roles(store, ent, who, grant=role, by=operator()), as_json, "已授予 / granted")


@user_app.command("revoke")
def revoke(who: Who, role: RolesOption, db: DbOption = None, enterprise: EnterpriseOption = None,
           as_json: JsonOption = False) -> None:
    """撤销角色 / revoke roles."""
    from riskmap.store import accounts

    store, ent = _open(db, enterprise)
    _show(accounts.set_roles(store, ent, who, revoke=role, by=operator()), as_json, "已撤销 / revoked")


def register(app: typer.Typer) -> None:
    """`riskmap init` (with its first administrator) and `riskmap user …`."""
    app.command("init")(init)
    app.add_typer(user_app, name="user")
