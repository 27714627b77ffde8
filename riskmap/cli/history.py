"""Commands for the past and for re-assessment: history, diff, restore, flags, accident."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from riskmap.cli.common import DbOption, EnterpriseOption, JsonOption, add_commands, print_json, settings_for
from riskmap.errors import InputError

MomentOption = "时刻，ISO 8601（如 2026-10-01 或 2026-10-01T08:00，不带时区为北京时间）/ moment, ISO 8601 " \
               "(Beijing time without an offset)"
AuthorOption = Annotated[str | None, typer.Option("--author", help="修改人（记入历史）/ who (kept in the history)")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="原因（记入历史）/ why (kept in the history)")]


def _open(db: str | None, enterprise: str | None):
    """The store and the enterprise a command works on (NotFoundError for an enterprise not stored)."""
    from riskmap.plant import resolve_enterprise
    from riskmap.store import open_store

    settings = settings_for(db, enterprise)
    store = open_store(settings.db, create=False)      # every command here needs stored data
    name = resolve_enterprise(store, settings.enterprise)
    store.enterprise(name, create=False)
    return store, name


def _moment(text: str | None):
    from riskmap.store.history import parse_moment

    return None if text is None else parse_moment(text)


def _shown(moment) -> str:
    from riskmap.store.history import format_moment

    return "-" if moment is None else format_moment(moment)


def _author() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def history(
    since: Annotated[str | None, typer.Option("--since", help="起始" + MomentOption)] = None,
    until: Annotated[str | None, typer.Option("--until", help="截止" + MomentOption)] = None,
    item: Annotated[str | None, typer.Option("--item", help="只看某个要素或单元 / one feature or unit id")] = None,
    limit: Annotated[int, typer.Option("--limit", help="最多几条 / at most this many")] = 200,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    as_json: JsonOption = False,
) -> None:
    """修改历史：谁在何时为何改了什么 / the change history: who changed what, when and why."""
    from riskmap.store import history as hist

    t1, t2 = _moment(since), _moment(until)
    store, name = _open(db, enterprise)
    rows = hist.history(store, name, since=t1, until=t2, item=item, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("没有修改记录 / no changes recorded")
        return
    for r in rows:
        items = r.get("item_ids") or []
        shown = "、".join(str(i) for i in items[:5]) + (f" 等 {len(items)} 项" if len(items) > 5 else "")
        versions = "，".join(v for v in (f"布局 v{r['layout_number']}" if r.get("layout_number") else "",
                                         f"台账 v{r['ledger_number']}" if r.get("ledger_number") else "") if v)
        typer.echo(f"{_shown(r['at'])}  {r['action']}  {r.get('author') or '-'}"
                   f"{'  ' + shown if shown else ''}{'  （' + versions + '）' if versions else ''}"
                   f"{'  原因 / reason: ' + r['reason'] if r.get('reason') else ''}")


def diff(
    from_: Annotated[str, typer.Option("--from", help="较早的" + MomentOption)],
    to: Annotated[str, typer.Option("--to", help="较晚的" + MomentOption)],
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    as_json: JsonOption = False,
) -> None:
    """两个时刻之间的变化（布局要素和单元）/ what changed between two moments (layout features and units)."""
    from riskmap.store import history as hist

    t1, t2 = _moment(from_), _moment(to)
    store, name = _open(db, enterprise)
    result = _no_nan(hist.diff(store, name, t1, t2))
    if as_json:
        print_json(result)
        return
    typer.echo(f"{_shown(result['from'])} → {_shown(result['to'])}：布局 / layout v{result['layout_from'] or '-'} → "
               f"v{result['layout_to'] or '-'}，台账 / ledger v{result['ledger_from'] or '-'} → "
               f"v{result['ledger_to'] or '-'}")
    sections = (("layout", "布局要素 / layout features",
                 (("added", "新增 added"), ("removed", "删除 removed"), ("reshaped", "形状改变 reshaped"),
                  ("renamed", "更名 renamed"), ("changed", "其他改变 changed"))),
                ("units", "单元 / units",
                 (("added", "新增 added"), ("removed", "删除 removed"), ("changed", "改变 changed"),
                  ("level_changed", "等级改变 level changed"))))
    nothing = True
    for key, title, kinds in sections:
        for kind, label in kinds:
            items = result[key].get(kind) or []
            if not items:
                continue
            nothing = False
            typer.echo(f"{title} {label}: {len(items)}")
            for it in items[:50]:
                typer.echo("  " + _diff_item(kind, it))
            if len(items) > 50:
                typer.echo(f"  …… 另有 {len(items) - 50} 项（--json 查看全部）/ … {len(items) - 50} more")
    if nothing:
        typer.echo("两个时刻之间没有变化 / nothing changed between the two moments")


def _no_nan(value):
    """NaN (a missing name read through pandas) as null: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return None if isinstance(value, float) and value != value else value


def _diff_item(kind: str, it: dict) -> str:
    def txt(key: str, missing: str = "") -> str:
        value = it.get(key)
        return missing if value is None or value != value else str(value)     # None and NaN read as missing

    if kind == "renamed":
        return f"{it['id']}: {txt('from', '-')} → {txt('to', '-')}"
    if kind == "level_changed":
        return f"{it['id']}: {txt('from', '未评估')} → {txt('to', '未评估')}"
    extra = f"（{', '.join(it['fields'])}）" if it.get("fields") else ""
    return f"{it['id']} {txt('name')} {txt('role')}{extra}".replace("  ", " ").rstrip()


def restore(
    feature_id: Annotated[str, typer.Argument(help="被删除要素的编号（fid）/ the deleted feature's id")],
    at: Annotated[str | None, typer.Option("--at", help="恢复到该时刻的状态（默认最后一次保存的状态）" + MomentOption)
                  ] = None,
    reason: ReasonOption = None,
    author: AuthorOption = None,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    as_json: JsonOption = False,
) -> None:
    """恢复被删除的布局要素（作为新版本）/ bring back a deleted layout feature (as a new version)."""
    moment = _moment(at)
    store, name = _open(db, enterprise)
    result = store.restore_feature(name, feature_id, author=author or _author(), reason=reason, at=moment)
    out = {"fid": result.fid, "edit_tag": result.edit_tag, "layout_version": result.layout_number,
           "data_version": result.data_version, "change_id": result.change_id,
           "flags_raised": list(result.flags_raised or [])}
    if as_json:
        print_json(out)
        return
    typer.echo(f"已恢复要素 {result.fid}，新布局版本 {result.layout_number} / restored feature {result.fid} as "
               f"layout version {result.layout_number}")
    if out["flags_raised"]:
        from riskmap.geo.revise import flags_text

        typer.echo(flags_text(out["flags_raised"]))


def flags(
    all_: Annotated[bool, typer.Option("--all", help="包括已清除的标记 / include cleared flags")] = False,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    as_json: JsonOption = False,
) -> None:
    """需要重新评估的单元及原因 / units that need re-assessment, and why."""
    store, name = _open(db, enterprise)
    rows = store.flags(name, open_only=not all_)
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("没有单元需要重新评估 / no unit needs re-assessment")
        return
    typer.echo(f"需要重新评估 {len(rows)} 项 / {len(rows)} re-assessment flags:")
    for f in rows:
        days = f.get("days_since_assessed")
        since = f"，距上次评估 {days} 天 / {days} days since assessed" if days is not None else ""
        cleared = f"（已清除 cleared {_shown(f['cleared_at'])}）" if f.get("cleared_at") else ""
        typer.echo(f"  {f['unit_id']} {f.get('unit_name') or ''}  [{f['reason_code']}] {f.get('reason') or ''}"
                   f"{since}{cleared}")


def _date(text: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"日期 {text[:40]!r} 不是 YYYY-MM-DD / date {text[:40]!r} is not YYYY-MM-DD") from None
    return day


def accident(
    occurred_on: Annotated[str, typer.Option("--date", help="事故日期 YYYY-MM-DD / date of the accident")],
    description: Annotated[str, typer.Option("--description", help="事故经过 / what happened")],
    unit: Annotated[str | None, typer.Option("--unit", help="发生事故的单元编号（不填为全厂）/ the unit's id "
                                                            "(none: the whole plant)")] = None,
    deaths: Annotated[int, typer.Option("--deaths", help="死亡人数 / deaths")] = 0,
    serious_injuries: Annotated[int, typer.Option("--serious-injuries", help="重伤人数 / serious injuries")
                                ] = 0,
    author: AuthorOption = None,
    db: DbOption = None,
    enterprise: EnterpriseOption = None,
    as_json: JsonOption = False,
) -> None:
    """记录事故并标记需要重新评估的单元 / record an accident and flag the units to re-assess."""
    day = _date(occurred_on)
    store, name = _open(db, enterprise)
    result = store.record_accident(name, unit, day, description, deaths=deaths, serious_injuries=serious_injuries,
                                   author=author or _author())
    if as_json:
        print_json(result)
        return
    where = unit or "全厂 / whole plant"
    serious = "（有人死亡或 3 人以上重伤：全部单元需重新评估）" if result.get("serious") else ""
    typer.echo(f"已记录事故 #{result['id']}，{day}，{where}{serious} / accident recorded"
               + (" (a death or 3+ serious injuries: every unit is flagged)" if serious else ""))
    from riskmap.geo.revise import flags_text

    typer.echo(flags_text(result.get("flags_raised") or []))


def register(app: typer.Typer) -> None:
    """Add the history, diff, restore, flags and accident commands to the app."""
    add_commands(app, history, diff, restore, flags, accident)
