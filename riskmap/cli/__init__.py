"""The `riskmap` command. Each capability registers its commands from its own module."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from riskmap.cli.common import GLOBAL_OPTIONS, DbOption, EnterpriseOption

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
_COMMAND_MODULES = ("evaluate", "ledger", "layout", "users", "service", "prints", "tokens", "history", "inspection",
                    "hazards", "orgs")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"riskmap.cli.{_name}").register(app)


def fail(message: str, code: int = 1) -> None:
    """One-line error on stderr and a non-zero exit."""
    typer.echo(f"错误 / error: {message}", err=True)
    raise typer.Exit(code)


def main() -> None:
    """The `riskmap` command: every error ends as one line on stderr and a non-zero exit (riskmap.cli.common)."""
    from riskmap.cli.common import error_line

    try:
        app()
    except (Exception, KeyboardInterrupt) as exc:
        if os.environ.get("RISKMAP_DEBUG", "").strip() in ("1", "true", "yes"):
            raise
        message, code = error_line(exc)
        try:
            typer.echo(f"错误 / error: {message}", err=True)
        except UnicodeError:            # a terminal that cannot show Chinese still gets the line
            typer.echo(f"error: {message.encode('ascii', 'backslashreplace').decode('ascii')}", err=True)
        sys.exit(code)
