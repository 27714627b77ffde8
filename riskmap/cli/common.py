"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from riskmap.settings import Settings

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="数据库 URL / database URL (默认 env RISKMAP_DB，否则 sqlite:///riskmap.db)"),
]
EnterpriseOption = Annotated[
    str | None, typer.Option("--enterprise", "-e", help="企业名称 / enterprise name (默认 default)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]


def settings_for(db: str | None = None, enterprise: str | None = None, **overrides: Any) -> Settings:
    from pydantic import ValidationError

    from riskmap.errors import InputError

    values = {k: v for k, v in {"db": db, "enterprise": enterprise, **overrides}.items() if v is not None}
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "RISKMAP_" + "_".join(str(p) for p in first["loc"]).upper()
        wanted = {"float_parsing": "，应为数字", "int_parsing": "，应为整数"}.get(first.get("type"), "")
        raise InputError(f"配置 {name} 的值 {first.get('input')!r} 无效{wanted} / invalid setting {name}="
                         f"{first.get('input')!r}: {first['msg']}") from None


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def progress(message: str):
    """A spinner on stderr while long work runs (only on a terminal)."""
    if sys.stderr.isatty():
        from rich.console import Console

        with Console(stderr=True).status(message):
            yield
    else:
        yield
