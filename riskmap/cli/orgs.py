"""`riskmap org …`: enterprises with their profile, chemical parks, regulators and their accounts.

    riskmap org add NAME --division 321203 [--credit-code …] [--hazchem-code …] [--park …] [--lon … --lat …]
    riskmap org list | parks | regulators [--json]
    riskmap org move NAME [--division CODE] [--park NAME | --no-park]
    riskmap org import FILE.csv
    riskmap org add-park NAME --division CODE
    riskmap org add-regulator NAME --level province|city|county --division CODE   (or --level park --park NAME)
    riskmap org add-account REGULATOR --name … --login … --role regulator_viewer|regulator_supervisor
    riskmap org move-account LOGIN --from ENTERPRISE --to ENTERPRISE
    riskmap org audit [--account LOGIN] [--regulator NAME] [--enterprise NAME] [--from T] [--to T] [--limit N]

The command line acts as the database's operator (riskmap.cli.users). The work is riskmap.store.orgs'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riskmap.cli.common import DbOption, JsonOption, print_json, settings_for
from riskmap.cli.users import PasswordStdin, operator, read_password

org_app = typer.Typer(help="企业、园区和监管机构 / enterprises, parks and regulators", no_args_is_help=True)

Division = Annotated[str | None, typer.Option("--division", help="行政区划代码（GB/T 2260 六位）/ division code")]
Park = Annotated[str | None, typer.Option("--park", help="化工园区名称 / chemical park")]


def _store(db: str | None, create: bool = False):
    from riskmap.store import open_store

    return open_store(settings_for(db).db, create=create)


def _profile_line(p: dict) -> str:
    parts = [p["name"], p["division"] and f"{p['division']}（{p['division_code']}）", p["park"] and f"园区 {p['park']}",
             p["credit_code"], p["industry"]]
    return "  ".join(x for x in parts if x)


@org_app.command("add")
def add(name: Annotated[str, typer.Argument(help="企业名称 / enterprise name")],
        division: Annotated[str, typer.Option("--division", help="行政区划代码（GB/T 2260 六位）/ division code")],
        credit_code: Annotated[str | None, typer.Option("--credit-code", help="统一社会信用代码 / credit code")] = None,
        hazchem_code: Annotated[str | None, typer.Option("--hazchem-code",
                                                         help="危化品登记编号（9 位）/ registration code")] = None,
        park: Park = None,
        industry: Annotated[str | None, typer.Option("--industry", help="行业 / industry")] = None,
        address: Annotated[str | None, typer.Option("--address", help="地址 / address")] = None,
        lon: Annotated[float | None, typer.Option("--lon", help="经度 / longitude")] = None,
        lat: Annotated[float | None, typer.Option("--lat", help="纬度 / latitude")] = None,
        db: DbOption = None, as_json: JsonOption = False) -> None:
    """新建企业及其档案 / add an enterprise with its profile."""
    from riskmap.store import orgs

    made = orgs.set_profile(_store(db, create=True), name, create=True, by=operator(), division_code=division,
                            credit_code=credit_code, hazchem_code=hazchem_code, park=park, industry=industry,
                            address=address, lon=lon, lat=lat)
    print_json(made) if as_json else typer.echo(f"已添加 / added: {_profile_line(made)}")


@org_app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """企业及其档案 / the enterprises and their profiles."""
    from riskmap.store import orgs

    found = orgs.list_enterprises(_store(db))
    if as_json:
        print_json(found)
        return
    for p in found:
        typer.echo(_profile_line(p))


@org_app.command("move")
def move(name: Annotated[str, typer.Argument(help="企业名称 / enterprise name")], division: Division = None,
         park: Park = None,
         no_park: Annotated[bool, typer.Option("--no-park", help="移出园区 / out of its park")] = False,
         db: DbOption = None, as_json: JsonOption = False) -> None:
    """企业迁到另一行政区划或园区 / move an enterprise to another division or park."""
    from riskmap.errors import InputError
    from riskmap.store import orgs

    if division is None and park is None and not no_park:
        raise InputError("请给出 --division、--park 或 --no-park / give --division, --park or --no-park")
    if park is not None and no_park:
        raise InputError("--park 与 --no-park 不能同时给出 / --park and --no-park exclude each other")
    made = orgs.move_enterprise(_store(db), name, division_code=division, park=park, no_park=no_park, by=operator())
    print_json(made) if as_json else typer.echo(f"已迁移 / moved: {_profile_line(made)}")


@org_app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="CSV: name, credit_code, hazchem_code, division, park, lon, "
                                                     "lat, industry, address")],
            db: DbOption = None, as_json: JsonOption = False) -> None:
    """从 CSV 导入企业（全部通过才写入）/ import enterprises from a CSV (all lines or none)."""
    from riskmap.errors import InputError
    from riskmap.orgs.csvfile import read_enterprises
    from riskmap.store import orgs

    if not file.is_file():
        raise InputError(f"没有文件 {file} / no such file {file}")
    records, problems = read_enterprises(file)
    done = orgs.import_enterprises(_store(db, create=True), records, by=operator(), problems=problems)
    print_json(done) if as_json else typer.echo(f"已导入 / imported: 新增 added {done['added']}，"
                                                 f"更新 updated {done['updated']}")


@org_app.command("add-park")
def add_park(name: Annotated[str, typer.Argument(help="园区名称 / park name")],
             division: Annotated[str, typer.Option("--division", help="行政区划代码 / division code")],
             db: DbOption = None, as_json: JsonOption = False) -> None:
    """新建化工园区 / add a chemical park."""
    from riskmap.store import orgs

    made = orgs.add_park(_store(db, create=True), name, division)
    print_json(made) if as_json else typer.echo(f"已添加园区 / added: {made['name']}  {made['division']}")


@org_app.command("parks")
def parks(db: DbOption = None, as_json: JsonOption = False) -> None:
    """化工园区 / the parks."""
    from riskmap.store import orgs

    found = orgs.list_parks(_store(db))
    if as_json:
        print_json(found)
        return
    for p in found:
        typer.echo(f"{p['name']}  {p['division']}（{p['division_code']}）")


@org_app.command("add-regulator")
def add_regulator(name: Annotated[str, typer.Argument(help="监管机构名称 / regulator name")],
                  level: Annotated[str, typer.Option("--level", help="province | city | county | park")],
                  division: Division = None, park: Park = None,
                  db: DbOption = None, as_json: JsonOption = False) -> None:
    """新建监管机构（行政区划或园区）/ add a regulator of a division or a park."""
    from riskmap.store import orgs

    made = orgs.add_regulator(_store(db, create=True), name, level=level, division_code=division, park=park)
    print_json(made) if as_json else typer.echo(f"已添加监管机构 / added: {made['name']}  {made['level']}  "
                                                 f"{made['division'] or made['park']}")


@org_app.command("regulators")
def regulators(db: DbOption = None, as_json: JsonOption = False) -> None:
    """监管机构 / the regulators."""
    from riskmap.store import orgs

    found = orgs.list_regulators(_store(db))
    if as_json:
        print_json(found)
        return
    for r in found:
        typer.echo(f"{r['name']}  {r['level']}  {r['division'] or r['park']}")


@org_app.command("add-account")
def add_account(regulator: Annotated[str, typer.Argument(help="监管机构名称 / regulator")],
                name: Annotated[str, typer.Option("--name", help="姓名 / name")],
                login: Annotated[str, typer.Option("--login", help="登录名 / login")],
                role: Annotated[list[str], typer.Option("--role", "-r", help="regulator_viewer | "
                                                                             "regulator_supervisor")],
                password_stdin: PasswordStdin = False, db: DbOption = None, as_json: JsonOption = False) -> None:
    """新建监管账户 / add an account of a regulator."""
    from riskmap.store import orgs

    store = _store(db)
    orgs.regulator(store, regulator)           # an unknown regulator is refused before asking for a password
    made = orgs.add_regulator_account(store, regulator, name=name, login=login, roles=role,
                                      password=read_password(password_stdin), by=operator())
    print_json(made) if as_json else typer.echo(f"已添加监管账户 / added: {made['login']}  {made['name']}  "
                                                 f"{'、'.join(made['roles'])}  {regulator}")


@org_app.command("move-account")
def move_account(login: Annotated[str, typer.Argument(help="登录名 / login")],
                 from_: Annotated[str, typer.Option("--from", help="原企业 / enterprise it belongs to")],
                 to: Annotated[str, typer.Option("--to", help="新企业 / enterprise it moves to")],
                 db: DbOption = None, as_json: JsonOption = False) -> None:
    """账户转到另一企业（其登录会话立即结束）/ move an account to another enterprise (its sessions end)."""
    from riskmap.store import accounts

    made = accounts.move_account(_store(db), from_, login, to, by=operator())
    print_json(made) if as_json else typer.echo(f"已转移 / moved: {made['login']} → {made['enterprise']}")


@org_app.command("audit")
def audit(account: Annotated[str | None, typer.Option("--account", help="监管账户登录名 / login")] = None,
          regulator: Annotated[str | None, typer.Option("--regulator", help="监管机构 / regulator")] = None,
          enterprise: Annotated[str | None, typer.Option("--enterprise", "-e", help="企业 / enterprise")] = None,
          since: Annotated[str | None, typer.Option("--from", help="起（含）如 2026-12-01 / from (inclusive)")] = None,
          until: Annotated[str | None, typer.Option("--to", help="止（不含）/ to (exclusive)")] = None,
          limit: Annotated[int, typer.Option("--limit", help="最多条数（1–1000）/ at most this many")] = 100,
          db: DbOption = None, as_json: JsonOption = False) -> None:
    """监管账户的访问记录（最新在前）/ the regulators' access records, newest first."""
    from riskmap import clock
    from riskmap.store import regulator_audit

    found = regulator_audit.entries(_store(db), account=account, regulator=regulator, enterprise=enterprise,
                                    since=since, until=until, limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("没有访问记录 / no access records")
    for e in found:
        when = clock.local_time(e["at"]).strftime("%Y-%m-%d %H:%M:%S")
        what = e["enterprise"] or f"{e['enterprises']} 家企业 enterprises"
        typer.echo(f"{when}  {e['login']}（{e['account']}，{e['regulator']}）  {e['method']} {e['path']}  {what}  "
                   f"{e['status']}")


def register(app: typer.Typer) -> None:
    """Add `riskmap org …`."""
    app.add_typer(org_app, name="org")
