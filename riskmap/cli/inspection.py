"""`riskmap inspection generate|tasks|due|record|shutdown|checkpoints|export`: inspection tasks, their due windows,
check records, shutdowns, QR checkpoints and the national export, from the command line. The work is
riskmap.inspections.store's, as the HTTP routes'; moments without an offset are Beijing time."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, JsonOption, print_json, settings_for

inspection_app = typer.Typer(help="隐患排查：任务、应检窗口、记录、停用/检修、巡检点二维码 / inspections: tasks, due "
                                  "windows, records, shutdowns, QR checkpoints", no_args_is_help=True)


def _open(db: str | None, enterprise: str | None):
    from riskmap.plant import resolve_enterprise
    from riskmap.store import open_store

    settings = settings_for(db, enterprise)
    store = open_store(settings.db, create=False)
    return store, resolve_enterprise(store, settings.enterprise)


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _moment(text: str | None):
    from riskmap.clock import LOCAL_ZONE
    from riskmap.errors import InputError

    if text is None:
        return None
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"时刻 {text[:40]!r} 应为 ISO 8601，如 2026-12-07T08:00 / a moment is ISO 8601, e.g. "
                         "2026-12-07T08:00") from None
    return found.replace(tzinfo=LOCAL_ZONE) if found.tzinfo is None else found


@inspection_app.command("generate")
def generate(starts_on: Annotated[str | None, typer.Option("--starts-on", help="任务开始日期（默认今天）/ first "
                                                                              "day (default today)")] = None,
             db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """按规则从台账的管控措施生成排查任务 / generate tasks from the ledger's control measures."""
    from riskmap.errors import InputError
    from riskmap.inspections import store as ins

    try:
        first = None if starts_on is None else date.fromisoformat(starts_on)
    except ValueError:
        raise InputError(f"日期 {starts_on[:40]!r} 应为 YYYY-MM-DD / a date is YYYY-MM-DD") from None
    store, name = _open(db, enterprise)
    counts = ins.generate(store, name, starts_on=first, author=_who())
    if as_json:
        print_json(counts)
        return
    c = counts
    typer.echo(f"排查任务 {c['tasks']} 个：新建 {c['created']}，保留 {c['kept']}，停用 {c['retired']}，"
               f"恢复 {c['restored']} / {c['tasks']} tasks: {c['created']} created, {c['kept']} kept, "
               f"{c['retired']} retired, {c['restored']} restored")


@inspection_app.command("tasks")
def list_tasks(unit: Annotated[str | None, typer.Option("--unit", help="单元编号 / unit id")] = None,
               all_: Annotated[bool, typer.Option("--all", help="含已停用 / include retired")] = False,
               db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """列出排查任务 / list inspection tasks."""
    from riskmap.inspections import store as ins

    store, name = _open(db, enterprise)
    found = ins.tasks(store, name, unit_id=unit, active_only=not all_)
    if as_json:
        print_json([{"id": t.id, "unit_id": t.unit_code, "title": t.title, "cadence": t.cadence.to_dict(),
                     "national": t.national(name), "items": t.items, "active": t.active,
                     "assignee": {"kind": t.assignee.kind, "value": t.assignee.value,
                                  "work_type": t.assignee.work_type, "task_num": t.assignee.task_num},
                     "row_version": t.row_version} for t in found])
        return
    for t in found:
        who = t.assignee.value or "-"
        typer.echo(f"#{t.id}  {t.unit_code}  {t.cadence.label}  {who}  {t.title}{'' if t.active else '（已停用）'}")
    typer.echo(f"共 {len(found)} 个 / {len(found)} tasks")


@inspection_app.command("due")
def due(window: Annotated[str, typer.Option("--window", help="today | week | month")] = "today",
        unit: Annotated[str | None, typer.Option("--unit", help="单元编号 / unit id")] = None,
        person: Annotated[str | None, typer.Option("--person", help="账户登录名 / an account's login")] = None,
        db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """某时段的排查窗口及状态 / the due windows of today, this week or this month, with their states."""
    from riskmap.inspections import store as ins
    from riskmap.inspections.occurrences import STATES
    from riskmap.store import accounts

    store, name = _open(db, enterprise)
    start, end = ins.window_range(window)
    inspector = None
    if person is not None:
        info = accounts.get_account(store, name, person)
        inspector = ins.Inspector(info["name"], info["id"], info.get("post"), info.get("department"),
                                  tuple(info["roles"]))
    found, tasks = ins.due(store, name, start, end, unit_id=unit, person=inspector)
    if as_json:
        print_json([{"task_id": o.task_id, "unit_id": o.unit_code, "start": o.start.isoformat(),
                     "end": o.end.isoformat(), "state": o.state, "record_id": o.record_id, "late": o.late}
                    for o in found])
        return
    for o in found:
        typer.echo(f"{o.start:%m-%d %H:%M}–{o.end:%m-%d %H:%M}  {STATES[o.state][0]:<6} #{o.task_id} {o.unit_code}  "
                   f"{tasks[o.task_id].title}")
    counts = {s: sum(o.state == s for o in found) for s in STATES}
    typer.echo("  ".join(f"{STATES[s][0]} {n}" for s, n in counts.items()))


@inspection_app.command("record")
def record(task_id: Annotated[int, typer.Argument(help="任务编号 / task id")],
           person: Annotated[str, typer.Option("--person", help="排查人 / inspector's name")],
           answer: Annotated[list[str], typer.Option(
               "--answer", help="项号=结果[:说明]，如 1=pass 2=fail:法兰渗漏；结果 pass/fail/na / item=result[:note]")],
           post: Annotated[str | None, typer.Option("--post", help="排查人的岗位 / the inspector's post")] = None,
           department: Annotated[str | None, typer.Option("--department", help="部门 / department")] = None,
           at: Annotated[str | None, typer.Option("--at", help="排查时刻（默认现在）/ when (default now)")] = None,
           window_start: Annotated[str | None, typer.Option("--window-start", help="补录的窗口开始 / the window's "
                                                                                 "start (a late check)")] = None,
           device: Annotated[str | None, typer.Option("--device", help="设备 / device (mobileMe)")] = None,
           corrects: Annotated[int | None, typer.Option("--corrects", help="更正的记录编号 / record corrected")] = None,
           no_hazards: Annotated[bool, typer.Option("--no-hazards", help="不合格项不登记隐患，只列出草稿 / do not "
                                                                       "report failed items as hazards")] = False,
           db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """保存一次排查记录（不可修改；更正另存一条）；不合格项在同一事务中登记为隐患 / save a check (never edited; a
    correction is a new record); failed items are reported as hidden hazards in the same transaction."""
    from riskmap.errors import InputError
    from riskmap.hazards.workflow import Actor
    from riskmap.inspections import store as ins

    answers = []
    for text in answer:
        item, sep, rest = text.partition("=")
        result, _, note = rest.partition(":")
        if not sep or not item.strip().isdigit():
            raise InputError(f"答案 {text[:40]!r} 应为 项号=结果[:说明] / an answer is item=result[:note]")
        answers.append({"item": int(item), "result": result.strip(), "note": note.strip() or None})
    store, name = _open(db, enterprise)
    saved, drafts = ins.record_check(store, name, task_id, answers,
                                     inspector=ins.Inspector(person, post=post, department=department),
                                     checked_at=_moment(at), window_start=_moment(window_start), device=device,
                                     corrects=corrects,
                                     reporter=None if no_hazards else Actor(person, None, frozenset({"hazard_report"})))
    if as_json:
        print_json({"id": saved.id, "status": saved.status, "late": saved.late, "hazard_drafts": drafts,
                    "hazards": [d["hazard_id"] for d in drafts if "hazard_id" in d]})
        return
    typer.echo(f"已保存排查记录 #{saved.id}（checkStatus {saved.status}{'，补录' if saved.late else ''}）/ saved "
               f"check #{saved.id}")
    for d in drafts:
        if "hazard_id" in d:
            typer.echo(f"  已登记隐患 / hazard reported {d['hazard_id']}: {d['place']}：{d['description']}")
        else:
            typer.echo(f"  待登记隐患 / hazard to register: {d['place']}：{d['description']}")


@inspection_app.command("shutdown")
def shutdown(unit: Annotated[str | None, typer.Argument(help="单元编号；不给则列出 / unit id; none lists")] = None,
             start: Annotated[str | None, typer.Option("--start", help="开始 / from")] = None,
             end: Annotated[str | None, typer.Option("--end", help="结束（可不填）/ until (optional)")] = None,
             reason: Annotated[str | None, typer.Option("--reason", help="原因 / why")] = None,
             kind: Annotated[str, typer.Option("--kind", help="maintenance 检修 | shutdown 停用")] = "maintenance",
             db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """记录停用/检修（其间任务暂停），或列出 / record a shutdown (its tasks are suspended), or list them."""
    from riskmap.errors import InputError
    from riskmap.inspections import store as ins
    from riskmap.inspections.occurrences import Shutdown

    store, name = _open(db, enterprise)
    if unit is not None:
        if start is None or reason is None:
            raise InputError("记录停用/检修需要 --start 和 --reason / a shutdown needs --start and --reason")
        ins.add_shutdown(store, name, Shutdown(unit, _moment(start), _moment(end), reason, kind=kind),
                         author=_who())
    found = ins.shutdowns(store, name)
    if as_json:
        print_json([{"id": s.id, "unit_id": s.unit_code, "kind": s.kind, "starts_at": s.starts_at.isoformat(),
                     "ends_at": None if s.ends_at is None else s.ends_at.isoformat(), "reason": s.reason}
                    for s in found])
        return
    from riskmap.store.history import format_moment

    for s in found:
        until = "…" if s.ends_at is None else format_moment(s.ends_at)
        typer.echo(f"#{s.id}  {s.unit_code}  {s.kind}  {format_moment(s.starts_at)} – {until}  {s.reason}")


@inspection_app.command("checkpoints")
def checkpoints(issue: Annotated[bool, typer.Option("--issue", help="为尚无二维码的岗位和设备签发 / issue codes for "
                                                                     "posts and equipment without one")] = False,
                reissue: Annotated[list[str] | None, typer.Option("--reissue", help="重新签发该单元（旧标牌失效）/ "
                                                                               "reissue a unit's code")] = None,
                db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """巡检点：列出，或签发/重新签发二维码（令牌只显示一次）/ checkpoints: list, issue or reissue (shown once)."""
    from riskmap.inspections import store as ins

    store, name = _open(db, enterprise)
    made = []
    if issue:
        made += ins.issue_checkpoints(store, name, author=_who())
    if reissue:
        made += ins.issue_checkpoints(store, name, reissue, reissue=True, author=_who())
    found = made if (issue or reissue) else ins.checkpoints(store, name)
    if as_json:
        print_json(found)
        return
    for c in found:
        typer.echo(f"#{c['id']}  {c['unit_id']}  {c.get('path') or ''}")
    if made:
        typer.echo("二维码路径只显示这一次，请立即打印标牌 / the paths are shown only this once: print the plates now")


@inspection_app.command("export")
def export(out: Annotated[Path | None, typer.Option("--out", help="写入文件（默认标准输出）/ file (default "
                                                                 "stdout)")] = None,
           since: Annotated[str | None, typer.Option("--since", help="此后的记录 / records since")] = None,
           db: DbOption = None, enterprise: EnterpriseOption = None) -> None:
    """国家接口格式的排查任务、记录和停用/检修记录（JSON）/ national tasks, records and shutdowns as JSON."""
    import json

    from riskmap.inspections import store as ins

    store, name = _open(db, enterprise)
    data = {"enterprise": name, **ins.national_export(store, name, since=_moment(since))}
    if out is None:
        print_json(data)
        return
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    typer.echo(f"已写入 {out}：任务 {len(data['tasks'])}，记录 {len(data['records'])} / written")


def register(app: typer.Typer) -> None:
    """Add the `riskmap inspection` commands to the app."""
    app.add_typer(inspection_app, name="inspection")
