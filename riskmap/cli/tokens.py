"""`riskmap token create|list|revoke`: the API tokens editors send as `Authorization: Bearer …`."""

from __future__ import annotations

from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, JsonOption, print_json, settings_for

token_app = typer.Typer(help="API 令牌（编辑令牌用于修改数据）/ API tokens (an editor token lets its holder change "
                             "data)", no_args_is_help=True)


def _store(db: str | None, create: bool = False):
    from riskmap.store import open_store

    return open_store(settings_for(db, None).db, create=create)


def _who() -> str | None:
    """The operating-system user who made a token (kept with it)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _moment(value) -> str:
    from riskmap.store.history import format_moment

    return "-" if value is None else format_moment(value)


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="editor（可修改）或 reader（只读）/ editor or reader")],
    name: Annotated[str, typer.Option("--name", help="名称（如 QGIS、脚本）/ name (QGIS, a script, …)")],
    user: Annotated[str | None, typer.Option(
        "--user", help="令牌所属账户的登录名（令牌最多有该账户的权限）；不给则为令牌新建一个同名的账户 / login of the "
                       "account the token belongs to (it has at most its rights); without it the token gets an "
                       "account of its own")] = None,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    as_json: JsonOption = False,
) -> None:
    """创建令牌（只显示一次）/ create a token (shown once only)."""
    from riskmap.plant import resolve_enterprise
    from riskmap.store.accounts import get_account
    from riskmap.store.tokens import create_token

    store = _store(db, create=True)
    account_id = None
    if user is not None:
        ent = resolve_enterprise(store, settings_for(db, enterprise).enterprise)
        account_id = get_account(store, ent, user)["id"]
    text, info = create_token(store, role.strip().lower(), name, created_by=_who(), account_id=account_id)
    if as_json:
        print_json({"token": text, **info})
        return
    typer.echo(f"已创建{'编辑' if info['role'] == 'editor' else '只读'}令牌 #{info['id']}（{info['name']}）/ "
               f"created {info['role']} token #{info['id']} ({info['name']}):")
    typer.echo(text)
    typer.echo("令牌只显示这一次，请妥善保存；请求时发送 / it is shown only this once, keep it safe; send it as:\n"
               f"  Authorization: Bearer {text}\n"
               "在 /edit 页面首次打开时粘贴即可 / or paste it once into the /edit page")


@token_app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """列出全部令牌（不显示令牌本身）/ list every token (never the token text)."""
    from riskmap.store.tokens import list_tokens

    tokens = list_tokens(_store(db))
    if as_json:
        print_json(tokens)
        return
    if not tokens:
        typer.echo("还没有令牌（用 riskmap token create 创建）/ no tokens yet (make one with riskmap token create)")
        return
    for t in tokens:
        state = f"已吊销 revoked {_moment(t['revoked_at'])}" if t["revoked_at"] else "有效 active"
        typer.echo(f"#{t['id']}  {t['name']}  {t['role']}  创建 created {_moment(t['created_at'])}"
                   f"{' by ' + t['created_by'] if t['created_by'] else ''}  {state}")


@token_app.command("revoke")
def revoke(
    token: Annotated[str, typer.Argument(help="令牌编号或名称 / token id or name")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """吊销令牌（按编号，或吊销该名称的全部有效令牌）/ revoke a token by id, or every active token of a name."""
    from riskmap.store.tokens import revoke_token

    revoked = revoke_token(_store(db), token)
    if as_json:
        print_json(revoked)
        return
    for t in revoked:
        typer.echo(f"已吊销令牌 #{t['id']}（{t['name']}，{t['role']}）/ revoked token #{t['id']} ({t['name']})")


def register(app: typer.Typer) -> None:
    """Add the `riskmap token` commands (create, list, revoke) to the app."""
    app.add_typer(token_app, name="token")
