"""`riskmap hazard …`: hidden hazards from the command line — report, list, show, each transition of the loop,
photos, and the hazard ledger (隐患台账) as Excel out.

Who acts: `--as LOGIN` acts as that account (its name, id and roles decide, as over HTTP); without it the
command line acts as its operator (`--by NAME`, default the system user) with every hazard right, as the other
writing commands do, and the workflow's own rules (the acceptor is never the rectifier, the five in place,
deadlines) still apply. The work is riskmap.store.hazards'; this module reads options and prints answers.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, JsonOption, print_json, settings_for
from riskmap.errors import InputError

hazard_app = typer.Typer(help="隐患排查治理 / hidden hazards: report, list, show, confirm, assign, rectify, accept …",
                         no_args_is_help=True)
HAZARD_RIGHTS = frozenset({"read", "hazard_report", "hazard_manage", "hazard_rectify", "hazard_accept"})

IdArg = Annotated[str, typer.Argument(help="隐患编号 / the hazard's id")]
AsOption = Annotated[str | None, typer.Option("--as", help="以该账户身份操作（登录名）/ act as this account (login)")]
ByOption = Annotated[str | None, typer.Option("--by", help="操作人姓名（无 --as 时）/ who acts (without --as)")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="原因（记入处理过程）/ why (kept in the timeline)")]
IfMatchOption = Annotated[int | None, typer.Option("--if-match", help="读取时的版本；已变时拒绝 / the version read")]
NoteOption = Annotated[str | None, typer.Option("--note", help="说明 / note")]


def _open(db: str | None, enterprise: str | None):
    from riskmap.plant import resolve_enterprise
    from riskmap.store import open_store

    settings = settings_for(db, enterprise)
    store = open_store(settings.db, create=False)
    name = resolve_enterprise(store, settings.enterprise)
    store.enterprise(name, create=False)
    return store, name, settings


def _actor(store, enterprise: str, login: str | None, by: str | None):
    from riskmap.hazards import Actor
    from riskmap.people import permissions_of
    from riskmap.store import accounts

    if login is not None:
        found = accounts.get_account(store, enterprise, login)
        return Actor(found["name"], found["id"], permissions_of(found["roles"]))
    if by is None:
        import getpass

        try:
            by = getpass.getuser()
        except (KeyError, OSError):
            by = "命令行 / command line"
    return Actor(by, None, HAZARD_RIGHTS)


def _show_line(h: dict) -> str:
    flags = ("  【逾期 overdue】" if h["overdue"] else "") + ("  【重大 major】" if h["major"] else "") + \
        ("  【匿名待确认 anonymous, unpublished】" if not h.get("published", True) else "")
    return (f"{h['id']}  v{h['version']}  {h['state_label'].split(' / ')[0]}  {h['name']}"
            f"{'  期限 ' + h['deadline'] if h['deadline'] else ''}{'  ' + h['department'] if h['department'] else ''}"
            f"{flags}")


def _done(made: dict, as_json: bool) -> None:
    if as_json:
        print_json(made)
        return
    typer.echo(_show_line(made["hazard"]))
    for flag in made.get("flags_raised") or []:
        typer.echo(f"  需重新评估 / re-assess: {flag['unit_id']}（{flag['reason']}）")


def _plan_file(path: Path | None) -> dict | None:
    if path is None:
        return None
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, yaml.YAMLError) as exc:
        raise InputError(f"无法读取整改方案文件 {path}：{str(exc)[:200]} / cannot read the plan file") from None
    if not isinstance(data, dict):
        raise InputError("整改方案文件应为 YAML/JSON 对象（部分 → 文本）/ the plan file must be an object")
    return data


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _act(db, enterprise, hazard_id: str, action: str, login, by, values: dict, reason, if_match, as_json) -> None:
    from riskmap.store import hazards

    store, name, _ = _open(db, enterprise)
    made = hazards.write(store, name, hazard_id, action, _actor(store, name, login, by), values, reason=reason,
                         if_match=if_match)
    _done(made, as_json)


@hazard_app.command("report")
def report(
    name: Annotated[str, typer.Option("--name", help="隐患名称 / the hazard's name")],
    description: Annotated[str | None, typer.Option("--description", help="隐患描述 / description")] = None,
    cause: Annotated[str | None, typer.Option("--cause", help="隐患原因 / cause")] = None,
    level: Annotated[int | None, typer.Option("--level", help="0 一般，1 重大")] = None,
    item: Annotated[str | None, typer.Option("--item", help="重大隐患判定条目，如 chem-2017-121:6")] = None,
    source: Annotated[int | None, typer.Option("--source", help="隐患来源 dangerSrc 1–10")] = None,
    hazard_type: Annotated[int | None, typer.Option("--type", help="隐患类型 hazardDangerType 1–8")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="评估单元编号 / unit id")] = None,
    event: Annotated[str | None, typer.Option("--event", help="风险事件编号或 #序号 / risk event")] = None,
    control: Annotated[int | None, typer.Option("--control", help="失效的管控措施序号（从 0 起）")] = None,
    department: Annotated[str | None, typer.Option("--department", help="责任部门 / department")] = None,
    lon: Annotated[float | None, typer.Option("--lon", help="经度 / longitude")] = None,
    lat: Annotated[float | None, typer.Option("--lat", help="纬度 / latitude")] = None,
    on_spot: Annotated[bool, typer.Option("--on-spot", help="即查即改（需 --note）/ fixed on the spot")] = False,
    note: NoteOption = None,
    login: AsOption = None, by: ByOption = None, reason: ReasonOption = None,
    db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False,
) -> None:
    """上报隐患（或即查即改）/ report a hazard (or one fixed on the spot)."""
    from riskmap.store import hazards

    if (lon is None) != (lat is None):
        raise InputError("--lon 与 --lat 需同时给出 / give both --lon and --lat")
    values = _given(name=name, description=description, cause=cause, level=level, item=item, source=source,
                    hazard_type=hazard_type, unit_code=unit, risk_event_code=event, control_index=control,
                    department=department, note=note if on_spot else None,
                    location={"type": "Point", "coordinates": [lon, lat]} if lon is not None else None)
    if note is not None and not on_spot:
        raise InputError("--note 只用于即查即改（--on-spot）/ --note goes with --on-spot")
    store, ent, _ = _open(db, enterprise)
    made = hazards.report(store, ent, _actor(store, ent, login, by), values, reason=reason, on_spot=on_spot)
    _done(made, as_json)


@hazard_app.command("list")
def list_hazards(
    state: Annotated[list[str] | None, typer.Option("--state", help="状态（可多次）/ state (repeatable)")] = None,
    level: Annotated[int | None, typer.Option("--level", help="0 一般，1 重大")] = None,
    department: Annotated[str | None, typer.Option("--department", help="责任部门 / department")] = None,
    overdue: Annotated[bool | None, typer.Option("--overdue/--not-overdue", help="逾期 / overdue")] = None,
    at: Annotated[str | None, typer.Option("--at", help="该时刻未关闭的 / open at that moment (ISO 8601)")] = None,
    unconfirmed: Annotated[bool | None, typer.Option(
        "--unconfirmed/--published", help="只要待确认的匿名上报（或只要公开的）/ only the anonymous reports awaiting "
                                          "confirmation (or only the published hazards)")] = None,
    db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False,
) -> None:
    """隐患列表（含待确认的匿名上报）/ list the hazards (the anonymous reports awaiting confirmation too)."""
    from riskmap.store import hazards
    from riskmap.store.history import parse_moment

    store, name, _ = _open(db, enterprise)
    found = hazards.listing(store, name, state=state or None, level=level, department=department, overdue=overdue,
                            at=parse_moment(at) if at else None, withheld=unconfirmed)
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("没有隐患 / no hazards")
    for h in found:
        typer.echo(_show_line(h))


@hazard_app.command("show")
def show(hazard_id: IdArg, db: DbOption = None, enterprise: EnterpriseOption = None,
         as_json: JsonOption = False) -> None:
    """一条隐患及其处理过程 / one hazard and its timeline."""
    from riskmap.clock import local_text
    from riskmap.store import hazards

    store, name, _ = _open(db, enterprise)
    h = hazards.get(store, name, hazard_id, withheld=True)
    if as_json:
        print_json(h)
        return
    typer.echo(_show_line(h))
    for key in ("level_label", "item_text", "source_label", "hazard_type_label", "description", "unit_id",
                "risk_event", "rectifier", "liable_person", "cost", "rectification_note", "accept_person",
                "accept_comment"):
        if h.get(key) not in (None, ""):
            typer.echo(f"  {key}: {h[key]}")
    for step in h["timeline"]:
        when = local_text(datetime.fromisoformat(step["at"]), seconds=False)
        typer.echo(f"  {when}  {step['action']}  {step['author'] or '-'}  {step['from_state'] or '-'} → "
                   f"{step['to_state']}{'  原因 / reason: ' + step['reason'] if step['reason'] else ''}")
    for pic in h["photos"]:
        typer.echo(f"  照片 / photo {pic['id']}  {pic['stage']}  {pic['media_type']}  {pic['width']}×{pic['height']}")


@hazard_app.command("confirm")
def confirm(hazard_id: IdArg,
            level: Annotated[int | None, typer.Option("--level", help="0 一般，1 重大")] = None,
            item: Annotated[str | None, typer.Option("--item", help="重大隐患判定条目")] = None,
            department: Annotated[str | None, typer.Option("--department", help="责任部门")] = None,
            login: AsOption = None, by: ByOption = None, reason: ReasonOption = None, if_match: IfMatchOption = None,
            db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """确认隐患 / confirm a reported hazard."""
    _act(db, enterprise, hazard_id, "confirm", login, by, _given(level=level, item=item, department=department),
         reason, if_match, as_json)


@hazard_app.command("correct")
def correct(hazard_id: IdArg,
            name: Annotated[str | None, typer.Option("--name", help="隐患名称 / the hazard's name")] = None,
            description: Annotated[str | None, typer.Option("--description", help="隐患描述 / description")] = None,
            level: Annotated[int | None, typer.Option("--level", help="0 一般，1 重大")] = None,
            unit: Annotated[str | None, typer.Option("--unit", help="评估单元编号 / unit id")] = None,
            department: Annotated[str | None, typer.Option("--department", help="责任部门 / department")] = None,
            lon: Annotated[float | None, typer.Option("--lon", help="经度 / longitude")] = None,
            lat: Annotated[float | None, typer.Option("--lat", help="纬度 / latitude")] = None,
            login: AsOption = None, by: ByOption = None, reason: ReasonOption = None, if_match: IfMatchOption = None,
            db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """更正未关闭的隐患（位置、等级、描述等，状态不变）/ correct an open hazard (place, level, …; state unchanged)."""
    if (lon is None) != (lat is None):
        raise InputError("--lon 与 --lat 需同时给出 / give both --lon and --lat")
    values = _given(name=name, description=description, level=level, unit_code=unit, department=department,
                    location={"type": "Point", "coordinates": [lon, lat]} if lon is not None else None)
    if not values:
        raise InputError("没有要更正的内容：给出 --name、--level、--department、--lon/--lat 等 / nothing to correct: "
                         "give --name, --level, --department, --lon/--lat, …")
    _act(db, enterprise, hazard_id, "correct", login, by, values, reason, if_match, as_json)


@hazard_app.command("reject")
def reject(hazard_id: IdArg, reason: Annotated[str, typer.Option("--reason", help="驳回原因 / why")],
           login: AsOption = None, by: ByOption = None, if_match: IfMatchOption = None,
           db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """驳回（不是隐患）/ reject a report (not a hazard)."""
    _act(db, enterprise, hazard_id, "reject", login, by, {}, reason, if_match, as_json)


PlanOption = Annotated[Path | None, typer.Option("--plan-file", help="整改方案 YAML/JSON（goal、methods、funds、"
                                                                      "organisation、schedule、safety、emergency）")]
LiableOption = Annotated[str | None, typer.Option("--liable", help="整改责任人 / person liable")]
MeasuresOption = Annotated[str | None, typer.Option("--measures", help="整改措施 / measures")]
CostOption = Annotated[str | None, typer.Option("--cost", help="整改资金（元）/ cost (yuan)")]


@hazard_app.command("assign")
def assign(hazard_id: IdArg,
           rectifier: Annotated[str, typer.Option("--rectifier", help="整改人姓名 / the rectifier")],
           deadline: Annotated[str, typer.Option("--deadline", help="整改期限 YYYY-MM-DD（北京时间）")],
           rectifier_login: Annotated[str | None, typer.Option("--rectifier-login", help="整改人账户")] = None,
           liable: LiableOption = None, measures: MeasuresOption = None, cost: CostOption = None,
           plan_file: PlanOption = None,
           login: AsOption = None, by: ByOption = None, reason: ReasonOption = None, if_match: IfMatchOption = None,
           db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """指派整改（整改人、期限）/ assign the rectification (who, by when)."""
    rectifier_id = None
    if rectifier_login is not None:
        from riskmap.store import accounts

        store, name, _ = _open(db, enterprise)
        rectifier_id = accounts.get_account(store, name, rectifier_login)["id"]
    values = _given(rectifier=rectifier, rectifier_id=rectifier_id, deadline=deadline, liable_person=liable,
                    rectification_measures=measures, cost=cost, plan=_plan_file(plan_file))
    _act(db, enterprise, hazard_id, "assign", login, by, values, reason, if_match, as_json)


@hazard_app.command("rectify")
def rectify(hazard_id: IdArg, liable: LiableOption = None, measures: MeasuresOption = None, cost: CostOption = None,
            plan_file: PlanOption = None,
            login: AsOption = None, by: ByOption = None, reason: ReasonOption = None, if_match: IfMatchOption = None,
            db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """开始整改（重大隐患需五落实和整改方案）/ start rectification (a major hazard needs the five in place)."""
    values = _given(liable_person=liable, rectification_measures=measures, cost=cost, plan=_plan_file(plan_file))
    _act(db, enterprise, hazard_id, "rectify", login, by, values, reason, if_match, as_json)


@hazard_app.command("submit")
def submit(hazard_id: IdArg, note: Annotated[str, typer.Option("--note", help="整改情况 / what was done")],
           cost: CostOption = None,
           login: AsOption = None, by: ByOption = None, reason: ReasonOption = None, if_match: IfMatchOption = None,
           db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """整改完成，提交验收 / rectification done: submit for acceptance."""
    _act(db, enterprise, hazard_id, "submit", login, by, _given(note=note, cost=cost), reason, if_match, as_json)


@hazard_app.command("accept")
def accept(hazard_id: IdArg,
           note: Annotated[str | None, typer.Option("--note", help="验收意见 / acceptance comment")] = None,
           send_back: Annotated[bool, typer.Option("--send-back", help="验收不通过，退回整改（需 --reason）")] = False,
           login: AsOption = None, by: ByOption = None, reason: ReasonOption = None, if_match: IfMatchOption = None,
           db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """验收（或 --send-back 退回整改）/ accept the rectification (or send it back)."""
    if send_back:
        _act(db, enterprise, hazard_id, "send_back", login, by, {}, reason, if_match, as_json)
    else:
        _act(db, enterprise, hazard_id, "accept", login, by, _given(note=note), reason, if_match, as_json)


@hazard_app.command("close")
def close(hazard_id: IdArg, login: AsOption = None, by: ByOption = None, reason: ReasonOption = None,
          if_match: IfMatchOption = None, db: DbOption = None, enterprise: EnterpriseOption = None,
          as_json: JsonOption = False) -> None:
    """销号 / close an accepted hazard."""
    _act(db, enterprise, hazard_id, "close", login, by, {}, reason, if_match, as_json)


@hazard_app.command("extend")
def extend(hazard_id: IdArg,
           deadline: Annotated[str | None, typer.Option("--deadline", help="新的期限 YYYY-MM-DD")] = None,
           grant: Annotated[bool, typer.Option("--grant", help="批准待批的延期申请 / grant the request")] = False,
           refuse: Annotated[bool, typer.Option("--refuse", help="不批准（需 --reason）/ refuse it")] = False,
           login: AsOption = None, by: ByOption = None, reason: ReasonOption = None, if_match: IfMatchOption = None,
           db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """申请延期（--deadline、--reason），或 --grant / --refuse 审批 / request, grant or refuse an extension."""
    if grant and refuse:
        raise InputError("--grant 与 --refuse 只能选一个 / choose --grant or --refuse")
    action = "grant_extension" if grant else "refuse_extension" if refuse else "request_extension"
    values = _given(deadline=deadline) if action != "refuse_extension" else {}
    _act(db, enterprise, hazard_id, action, login, by, values, reason, if_match, as_json)


@hazard_app.command("photo")
def photo(hazard_id: IdArg, file: Annotated[Path, typer.Argument(help="PNG 或 JPEG 照片 / the photo")],
          stage: Annotated[str, typer.Option("--stage", help="before 整改前 | after 整改后")] = "before",
          login: AsOption = None, by: ByOption = None,
          db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """添加隐患照片 / add a photo to a hazard."""
    from riskmap.errors import TooLargeError
    from riskmap.store import hazards

    store, name, settings = _open(db, enterprise)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise InputError(f"无法读取照片 {file}：{exc.strerror} / cannot read the photo") from None
    if size > settings.max_photo_bytes:
        raise TooLargeError(f"照片过大（上限 {settings.max_photo_mb:g} MB）/ the photo is larger than "
                            f"{settings.max_photo_mb:g} MB")
    made = hazards.add_photo(store, name, hazard_id, file.read_bytes(), stage=stage,
                             who=_actor(store, name, login, by), folder=settings.media_folder(),
                             max_bytes=settings.max_photo_bytes, max_pixels=settings.max_photo_pixels)
    if as_json:
        print_json(made)
    else:
        typer.echo(f"照片 / photo {made['id']}  {made['media_type']}  {made['width']}×{made['height']}"
                   f"{'  GPS ' + json.dumps(made['gps']) if made['gps'] else ''}")


@hazard_app.command("export")
def export(out: Annotated[Path, typer.Argument(help="输出的 .xlsx 文件 / the .xlsx to write")],
           state: Annotated[list[str] | None, typer.Option("--state", help="只导出这些状态 / states")] = None,
           db: DbOption = None, enterprise: EnterpriseOption = None) -> None:
    """导出隐患台账（Excel，国家代码为下拉选项）/ export the hazard ledger as Excel."""
    from riskmap.hazards.ledger import write_ledger
    from riskmap.store import hazards

    if out.suffix.lower() != ".xlsx":
        raise InputError("输出文件应为 .xlsx / the output must be an .xlsx file")
    store, name, _ = _open(db, enterprise)
    count = write_ledger(hazards.listing(store, name, state=state or None), out, name)
    typer.echo(f"{out}: {count} 条隐患 / hazards")


@hazard_app.command("stats")
def stats(
    date_from: Annotated[str | None, typer.Option("--from", help="登记日期起 YYYY-MM-DD（北京时间）")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="登记日期止 YYYY-MM-DD（北京时间）")] = None,
    db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False,
) -> None:
    """隐患统计：未关闭、超期，按等级、来源、类型、部门、责任人、月份 / hazard statistics."""
    from riskmap.hazards.model import day
    from riskmap.store import hazards

    start, end = day(date_from, ("开始日期", "--from")), day(date_to, ("结束日期", "--to"))
    store, name, _ = _open(db, enterprise)
    found = hazards.statistics(store, name, start, end)
    if as_json:
        print_json(found)
        return
    span = f"{found['from'] or '…'} – {found['to'] or '…'}" if start or end else "全部 / all"
    rate = f"{found['on_time_rate'] * 100:.0f}%" if found["on_time_rate"] is not None else "—"
    typer.echo(f"{name}  登记 / registered {span}  统计时刻 / as of {found['as_of']}")
    typer.echo(f"  隐患 total {found['total']}  未关闭 open {found['open']}  超期 overdue {found['overdue']}  "
               f"重大未关闭 major open {found['major_open']}  重大超期 major overdue {found['major_overdue']}  "
               f"已验收 accepted {found['done']}（按期 on time {rate}）  已驳回 rejected {found['rejected']}")
    for key, title in (("by_level", "按等级 / by level"), ("by_source", "按来源 / by source"),
                       ("by_type", "按类型 / by type"), ("by_department", "按部门 / by department"),
                       ("by_responsible", "按责任人 / by person responsible")):
        typer.echo(title)
        for g in found[key]:
            typer.echo(f"  {g['label']}: {g['total']}（未关闭 open {g['open']}，超期 overdue {g['overdue']}，"
                       f"重大 major {g['major']}）")
    typer.echo("按月 / by month")
    for m in found["by_month"]:
        typer.echo(f"  {m['month']}: 登记 registered {m['registered']}（重大 major {m['major']}），验收 accepted "
                   f"{m['accepted']}（超期 late {m['accepted_late']}）")


def _form(kind: str, hazard_id: str, out: Path, db: str | None, enterprise: str | None) -> None:
    from riskmap.print.hazard_forms import KINDS, form_pdf

    if out.suffix.lower() != ".pdf":
        raise InputError("输出文件应为 .pdf / the output must be a .pdf file")
    store, name, settings = _open(db, enterprise)
    data = form_pdf(store, name, hazard_id, kind, settings.media_folder(), withheld=True)
    out.write_bytes(data)
    typer.echo(f"{out}: {KINDS[kind][0]} / {KINDS[kind][1].lower()}, {len(data)} 字节 / bytes")


PdfOut = Annotated[Path, typer.Option("-o", "--output", help="输出的 .pdf 文件 / the .pdf to write")]


@hazard_app.command("notice")
def notice(hazard_id: IdArg, out: PdfOut, db: DbOption = None, enterprise: EnterpriseOption = None) -> None:
    """隐患整改通知单（PDF，指派整改后）/ the rectification notice as PDF (once the work is assigned)."""
    _form("notice", hazard_id, out, db, enterprise)


@hazard_app.command("acceptance")
def acceptance(hazard_id: IdArg, out: PdfOut, db: DbOption = None, enterprise: EnterpriseOption = None) -> None:
    """隐患整改验收记录（PDF，验收通过后）/ the acceptance record as PDF (once the work is accepted)."""
    _form("acceptance", hazard_id, out, db, enterprise)


@hazard_app.command("import")
def import_ledger(file: Annotated[Path, typer.Argument(help="隐患台账 .xlsx / the hazard ledger")],
                  login: AsOption = None, by: ByOption = None, reason: ReasonOption = None,
                  db: DbOption = None, enterprise: EnterpriseOption = None, as_json: JsonOption = False) -> None:
    """导入隐患台账：每行登记为新上报的隐患，全部检查通过才导入 / import a hazard ledger: each row a new report,
    all rows checked first (nothing imported when one is bad)."""
    from riskmap.errors import LedgerError
    from riskmap.hazards.ledger import read_ledger
    from riskmap.store import hazards

    try:
        rows = read_ledger(file)
        store, name, _ = _open(db, enterprise)
        made = hazards.report_many(store, name, _actor(store, name, login, by), rows, reason=reason)
    except LedgerError as exc:          # the one line names the first problems
        shown = "；".join(f"第 {d['row']} 行{' ' + d['column'] if d.get('column') else ''}：{d['message']}"
                         for d in exc.details[:5])
        raise LedgerError(f"{exc.message}：{shown}" if shown else exc.message, details=exc.details) from None
    if as_json:
        print_json(made)
    else:
        typer.echo(f"已导入 {made['imported']} 条隐患 / imported {made['imported']} hazards")


def register(app: typer.Typer) -> None:
    """`riskmap hazard …`."""
    app.add_typer(hazard_app, name="hazard")

