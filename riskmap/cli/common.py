"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from contextvars import ContextVar
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


# `riskmap --db URL --enterprise NAME <command>`: the options given before the command, set by the root callback
# (riskmap.cli) on every run; a command's own option wins over them.
GLOBAL_OPTIONS: ContextVar[dict[str, Any] | None] = ContextVar("riskmap_global_options", default=None)


def add_commands(app: typer.Typer, *commands) -> None:
    """Register functions as commands named after them (`import_layout` → `riskmap import-layout`)."""
    for command in commands:
        app.command(command.__name__.replace("_", "-"))(command)


def global_options() -> dict[str, Any]:
    """The options given before the command (--db, --enterprise), or an empty dict."""
    return GLOBAL_OPTIONS.get() or {}


def settings_for(db: str | None = None, enterprise: str | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, overridden by the global options and then by the arguments; an invalid setting
    raises InputError naming it.
    """
    from pydantic import ValidationError

    from riskmap.errors import InputError

    before = global_options()
    db = db if db is not None else before.get("db")
    enterprise = enterprise if enterprise is not None else before.get("enterprise")
    values = {k: v for k, v in {"db": db, "enterprise": enterprise, **overrides}.items() if v is not None}
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "RISKMAP_" + "_".join(str(p) for p in first["loc"]).upper()
        as_date = "，应为日期，如 2026-12-01"
        wanted = {"float_parsing": "，应为数字", "int_parsing": "，应为整数", "date_parsing": as_date,
                  "date_from_datetime_parsing": as_date}.get(first.get("type"), "")
        raise InputError(f"配置 {name} 的值 {first.get('input')!r} 无效{wanted} / invalid setting {name}="
                         f"{first.get('input')!r}: {first['msg']}") from None


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one line a user reads for an exception that ends a command, and the exit status.

    The command line never shows a traceback: input errors (RiskmapError) say what is wrong with the input; a file
    that cannot be read or written, a database that fails, memory running out, text the terminal cannot show and
    an interruption get a line of their own; anything else is a bug, reported as one line that names it, with
    RISKMAP_DEBUG=1 bringing back the traceback.
    """
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from riskmap.errors import RiskmapError

    if isinstance(exc, RiskmapError):
        return exc.message, 1
    if isinstance(exc, KeyboardInterrupt):
        return "已中断 / interrupted", 130
    if isinstance(exc, OSError):
        # A file the user named cannot be read or written (missing folder, no permission, disk full).
        where = exc.filename or ""
        reason = exc.strerror or str(exc)
        return f"无法读写文件 {where}：{reason} / cannot read or write {where}: {reason}", 1
    if isinstance(exc, MemoryError):
        return "内存不足，无法完成（输入过大？）/ out of memory (is the input too large?)", 1
    if isinstance(exc, RecursionError):
        return "输入嵌套过深，无法处理 / the input is nested too deeply to process", 1
    if isinstance(exc, UnicodeError):
        return (f"文本编码错误：{_first_line(exc)} / a text cannot be encoded or decoded: {_first_line(exc)}"), 1
    if isinstance(exc, (DBAPIError, SQLAlchemyError)):
        reason = _first_line(getattr(exc, "orig", None) or exc)
        return f"数据库出错：{reason} / the database failed: {reason}", 1
    name = type(exc).__name__
    return (f"内部错误（{name}：{_first_line(exc)}）；设置 RISKMAP_DEBUG=1 可查看详情 / internal error ({name}: "
            f"{_first_line(exc)}); set RISKMAP_DEBUG=1 for the details"), 2


def _first_line(exc: object) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


def print_json(data: Any) -> None:
    """Print data as indented JSON with Chinese kept readable (not escaped); dates and Decimals as text."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def progress(what: str):
    """A progress bar on stderr for long jobs (only on a terminal).

    Yields `update(done, total, message)` for the work to report its steps, or None when not on a terminal.
    """
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=None)

        def update(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{what} {message}".strip())

        yield update
