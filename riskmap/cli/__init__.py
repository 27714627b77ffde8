"""The `riskmap` command. Each capability registers its commands from its own module."""

from __future__ import annotations

import importlib
import sys

import typer

from riskmap.cli.common import GLOBAL_OPTIONS, DbOption, EnterpriseOption
from riskmap.errors import RiskmapError

app = typer.Typer(
    name="riskmap",
    help="riskmap：四色安全风险空间分布图 / four-colour safety risk maps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root_options(db: DbOption = None, enterprise: EnterpriseOption = None) -> None:
    """riskmap：四色安全风险空间分布图 / four-colour safety risk maps.

    --db 和 --enterprise 可写在命令前或命令后 / --db and --enterprise go before or after the command."""
    GLOBAL_OPTIONS.set({"db": db, "enterprise": enterprise})

# Modules that define `register(app)`; listed here so the command's shape is visible in one place.
_COMMAND_MODULES = ("evaluate", "ledger", "layout", "service", "prints", "tokens", "history")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"riskmap.cli.{_name}").register(app)


def fail(message: str, code: int = 1) -> None:
    """One-line error on stderr and a non-zero exit."""
    typer.echo(f"错误 / error: {message}", err=True)
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except RiskmapError as exc:
        typer.echo(f"错误 / error: {exc.message}", err=True)
        sys.exit(1)
    except OSError as exc:
        # A file the user named cannot be read or written (missing folder, no permission, disk full).
        where = exc.filename or ""
        reason = exc.strerror or str(exc)
        typer.echo(f"错误 / error: 无法读写文件 {where}：{reason} / cannot read or write {where}: {reason}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("已中断 / interrupted", err=True)
        sys.exit(130)
