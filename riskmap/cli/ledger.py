"""Commands for the risk ledger: ledger-template, import-ledger, export-ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, JsonOption, add_commands, print_json, progress, settings_for
from riskmap.errors import LedgerError, RiskmapError


def problem_line(problem: dict[str, Any]) -> str:
    """One problem as the user reads it: "sheet 行 row 列 column: message"."""
    sheet, row, column = problem.get("sheet") or "", problem.get("row"), problem.get("column") or ""
    if not sheet and row is None and not column:
        return str(problem.get("message"))
    return f"{sheet} 行 {'' if row is None else row} 列 {column}: {problem.get('message')}"


def _fail(message: str) -> None:
    from riskmap.cli import fail

    fail(message)


def _guarded(command):
    """Errors a user caused end as one line on stderr and exit code 1, also when the app is run directly."""
    import functools

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RiskmapError as exc:
            _fail(exc.message)

    return run


def _print_problems(problems: list[dict[str, Any]]) -> None:
    for p in problems:
        typer.echo(problem_line(p), err=True)


def _level_counts(items, attr: str = "level") -> dict[str, int]:
    from riskmap.levels import LEVELS_HIGH_TO_LOW

    counts = {lv.value: 0 for lv in LEVELS_HIGH_TO_LOW}
    counts["none"] = 0
    for item in items:
        level = getattr(item, attr)()
        counts[level.value if level is not None else "none"] += 1
    return counts


def _counts_text(counts: dict[str, int]) -> str:
    from riskmap.levels import LEVELS_HIGH_TO_LOW

    parts = [f"{lv.zh} {counts[lv.value]}" for lv in LEVELS_HIGH_TO_LOW]
    if counts.get("none"):
        parts.append(f"未评级 {counts['none']}")
    return "，".join(parts)


def ledger_template(
    out: Annotated[Path, typer.Argument(help="输出的 .xlsx 模板 / template to write (.xlsx)")],
) -> None:
    """生成空白台账模板（含说明与下拉列表） / write a blank ledger workbook with instructions and drop-downs."""
    from riskmap.ledger import write_template

    if out.suffix.lower() not in (".xlsx", ".xlsm"):
        raise LedgerError(f"模板应保存为 .xlsx 文件，而不是 “{out.name}” / the template must be an .xlsx file")
    write_template(out)
    typer.echo(f"已生成台账模板 / template written: {out}")


def import_ledger(
    file: Annotated[Path, typer.Argument(help="台账文件 .xlsx / .xlsm / .json")],
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="跳过有错误的行/单元，导入其余 / import the rest")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """校验并导入风险台账 / validate, evaluate and store a risk ledger (all or nothing unless --skip-bad)."""
    from riskmap import importing
    from riskmap.ledger import read_ledger
    from riskmap.store import open_store

    if not file.exists():
        raise LedgerError(f"文件不存在：{file} / file not found: {file}")
    settings = settings_for(db, enterprise)
    try:
        with progress("正在校验台账 / validating the ledger"):
            ledger = read_ledger(file, skip_bad=skip_bad)
    except LedgerError as exc:
        _print_problems([p for p in exc.details if p.get("sheet") or p.get("row") is not None])
        _fail(exc.message)
    if not ledger.units:
        if ledger.problems:
            _print_problems(ledger.problems)
        _fail("台账中没有可导入的评估单元，未导入任何内容 / the ledger has no units to import; nothing was imported")
    store = open_store(settings.db)
    try:
        result = importing.import_ledger(store, ledger, source=file.name, enterprise=settings.enterprise)
    finally:
        store.close()
    name, version, warnings = result["enterprise"], result["ledger_version"], result["warnings"]
    events = ledger.events()
    summary = {
        "file": str(file),
        "enterprise": name,
        "ledger_version": version,
        "profile": ledger.profile,
        "units": len(ledger.units),
        "events": len(events),
        "event_levels": _level_counts(events),
        "unit_levels": _level_counts(ledger.units),
        "problems": ledger.problems,
        "warnings": warnings,
    }
    for warning in warnings:
        typer.echo(f"警告 / warning: {warning}", err=True)
    if as_json:
        print_json(summary)
    else:
        typer.echo(f"已导入 {name} 的台账（版本 {version}） / ledger imported: 单元 {len(ledger.units)} 个，"
                   f"风险事件 {len(events)} 个")
        typer.echo(f"  风险事件等级：{_counts_text(summary['event_levels'])}")
        typer.echo(f"  单元等级：{_counts_text(summary['unit_levels'])}")
    if ledger.problems:
        _print_problems(ledger.problems)
        typer.echo(f"错误 / error: 已跳过 {len(ledger.problems)} 处错误所在的行或单元 / skipped "
                   f"{len(ledger.problems)} problem(s)", err=True)
        raise typer.Exit(1)


def export_ledger(
    out: Annotated[Path, typer.Argument(help="输出文件 .xlsx 或 .json")],
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
) -> None:
    """导出当前风险台账（表B/表C 或 JSON，含评价结果） / export the current ledger."""
    from riskmap.domain import Enterprise
    from riskmap.ledger import Ledger, write_ledger
    from riskmap.plant import resolve_enterprise
    from riskmap.store import open_store

    if out.suffix.lower() not in (".xlsx", ".xlsm", ".json"):
        raise LedgerError(f"导出文件应为 .xlsx 或 .json，而不是 “{out.name}” / export to .xlsx or .json")
    settings = settings_for(db, enterprise)
    store = open_store(settings.db, create=False)
    try:
        name = resolve_enterprise(store, settings.enterprise)
        stored = store.enterprise(name, create=False)
        info = store.ledger_info(name)
        if info is None:
            raise RiskmapError(f"企业 “{name}” 还没有导入台账 / enterprise {name!r} has no ledger yet")
        units = store.units(name)
    finally:
        store.close()
    ent = Enterprise(id=stored.name, name=stored.name, short_name=stored.short_name,
                     supervision_phone=stored.supervision_phone, report_phone=stored.report_phone,
                     emergency_phone=stored.emergency_phone)
    ledger = Ledger(units=units, enterprise=ent, profile=info.get("default_profile") or "lec")
    write_ledger(ledger, out, evaluations=True)
    events = ledger.events()
    typer.echo(f"已导出 {name} 的台账（版本 {info.get('version')}） / ledger exported: {out}（单元 {len(units)} 个，"
               f"风险事件 {len(events)} 个）")


def register(app: typer.Typer) -> None:
    """Add the ledger template, import and export commands to the app."""
    add_commands(app, *map(_guarded, (ledger_template, import_ledger, export_ledger)))
