"""The demo chemical plant: loaded into a fresh database by `riskmap demo` (the README's first command).

The demo uses the same default database as every other command (`RISKMAP_DB`, else riskmap.db in the current
folder), so that `riskmap regions` right after `make demo` finds the plant. A SQLite file is replaced only when
it holds nothing but the demo (or nothing at all): the demo never wipes an enterprise's own data.
"""

from __future__ import annotations

import shlex
from contextlib import suppress
from pathlib import Path

from riskmap.errors import InputError, RiskmapError
from riskmap.levels import LEVELS_HIGH_TO_LOW
from riskmap.paths import demo_dir

SQLITE_PREFIX = "sqlite:///"
# The demo's people: one account per role (riskmap.people.ROLES), login "demo-<role>", all with this documented
# password (README, and the sign-in page says so when these accounts are in the database). Never use it for real.
DEMO_PASSWORD = "riskmap-demo"
DEMO_LOGIN = "demo-{role}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and for memory)."""
    if not url.startswith(SQLITE_PREFIX) or url in (SQLITE_PREFIX, "sqlite:///:memory:"):
        return None
    return Path(url[len(SQLITE_PREFIX):].split("?", 1)[0]).expanduser()


def absolute_url(url: str) -> str:
    """A SQLite URL with its file made absolute (so that it names the same file from any folder)."""
    path = sqlite_path(url)
    return url if path is None else SQLITE_PREFIX + str(path.absolute())


def _check_replaceable(url: str, path: Path, demo_name: str) -> None:
    """Refuse to replace a file holding anything but the demo: another enterprise's data, or not riskmap's."""
    from riskmap.store import open_store
    from riskmap.store.engine import MissingDatabaseError

    if path.stat().st_size == 0:
        return
    hint = "sqlite:///riskmap-demo.db"
    try:
        with open_store(url, create=False) as store:
            others = [e.name for e in store.enterprises() if e.name not in (demo_name, "default")]
    except MissingDatabaseError:
        return                                   # a SQLite file without riskmap tables: nothing to lose
    except RiskmapError:
        raise InputError(f"{path} 不是可读的 riskmap 数据库，演示不会覆盖它；请用 --db {hint} 另建演示库 / {path} is "
                         f"not a riskmap database the demo may replace: use --db {hint}") from None
    if others:
        names = "、".join(others[:5])
        raise InputError(f"数据库 {path} 中有其他企业的数据（{names}），演示不会覆盖它；请用 --db {hint} 另建演示库 / "
                         f"{path} holds other enterprises' data ({', '.join(others[:5])}); the demo will not "
                         f"replace it: use --db {hint}")


def _fresh_sqlite(url: str, demo_name: str) -> None:
    path = sqlite_path(url)
    if path is None:
        return
    if path.is_file():
        _check_replaceable(url, path, demo_name)
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = Path(str(path) + suffix)
        if candidate.exists():
            candidate.unlink()


def next_command(settings, command: str = "regions") -> str:
    """The command to type next against the demo's database: the plain command when it is the default one."""
    from riskmap.settings import Settings

    explicit = f"riskmap --db {shlex.quote(absolute_url(settings.db))} {command}"
    if settings.db == Settings.model_fields["db"].default:
        return f"riskmap {command}（在本目录中 / in this folder；其他目录 / elsewhere: {explicit}）"
    return explicit


def load_demo(settings) -> dict:
    """Load the demo layout and ledger; return a summary with the region colours counted."""
    from riskmap.importing import import_ledger, load_layout
    from riskmap.inspections.demo import add_demo_inspections
    from riskmap.ledger import read_ledger
    from riskmap.plant import load_plant
    from riskmap.store import open_store

    folder = demo_dir()
    ledger_file = folder / "ledger.xlsx"
    if not ledger_file.exists():
        ledger_file = folder / "ledger.json"
    ledger = read_ledger(ledger_file)
    name = ledger.enterprise.name
    _fresh_sqlite(settings.db, name)
    store = open_store(settings.db)
    settings.enterprise = name
    store.enterprise(name)
    layout = load_layout(settings, folder / "plant.dxf", control_points=folder / "control_points.csv",
                         store=store)
    drawings = load_demo_drawings(settings, store, folder)
    import_ledger(store, ledger, source=ledger_file.name, enterprise=name)
    people = add_demo_accounts(store, name)
    regulator = add_demo_orgs(store, name)
    inspections = add_demo_inspections(store, name)
    from riskmap.demo_hazards import load_demo_hazards

    hazards = load_demo_hazards(store, name, settings)
    plant = load_plant(store, name)
    risks = plant.region_risk()
    counts = {lv.value: 0 for lv in LEVELS_HIGH_TO_LOW}
    for risk in risks:
        if risk.level is not None:
            counts[risk.level.value] += 1
    events = sum(len(u.events) for u in ledger.units)
    text = (f"演示工厂已加载 / demo plant loaded: {name}\n"
            f"  布局要素 {layout['features']} 个，单元 {len(ledger.units)} 个，风险事件 {events} 个\n"
            f"  区域 {len(risks)} 个：" + "，".join(f"{lv.zh} {counts[lv.value]}" for lv in LEVELS_HIGH_TO_LOW)
            + f"\n  其他图纸 / other drawings: {'、'.join(drawings)}"
            + f"\n  排查任务 {inspections['tasks']} 个，排查记录 {inspections['records']} 条（发现隐患 "
              f"{inspections['failed']}），检修中 {inspections['maintenance']} / inspection tasks, records, a unit "
              "under maintenance"
            + f"\n  隐患 {sum(hazards.values())} 条 / hidden hazards: "
            + "，".join(f"{k} {v}" for k, v in sorted(hazards.items()))
            + f"\n  演示账户 / demo accounts: {'、'.join(people)}（密码 / password {DEMO_PASSWORD}，在 /login 登录）"
            + f"\n  监管账户 / regulator: {regulator}（同一密码，登录后打开 /overview / same password, then /overview）"
            + f"\n  数据库 / database: {absolute_url(settings.db)}"
            + f"\n  下一步 / next: {next_command(settings)}")
    return {"enterprise": name, "layout": layout, "units": len(ledger.units), "events": events,
            "regions": counts, "accounts": people, "inspections": inspections, "drawings": drawings,
            "hazards": hazards, "regulator": regulator, "text": text}


def load_demo_drawings(settings, store, folder: Path) -> list[str]:
    """The demo's floor plans (in plant coordinates, georeferenced by the site plan's control points) and its
    process flow diagram (a schematic drawing), as data/demo/drawings.json lists them; their keys."""
    import json

    from riskmap.drawings import new_drawing
    from riskmap.importing import load_layout

    index = folder / "drawings.json"
    if not index.exists():
        return []
    keys = []
    for item in json.loads(index.read_text(encoding="utf-8")):
        drawing = new_drawing(item["drawing"], title=item.get("title"), building=item.get("building"),
                              storey=item.get("storey"), schematic=item.get("schematic", False))
        points = None if drawing.schematic else folder / "control_points.csv"
        load_layout(settings, folder / item["file"], store=store, drawing=drawing, control_points=points)
        keys.append(drawing.key)
    return keys


def add_demo_accounts(store, enterprise: str) -> list[str]:
    """One account per role for the demo enterprise (those already there are left as they are); their logins."""
    from riskmap.errors import AlreadyExistsError
    from riskmap.people import ROLES, Author
    from riskmap.store import accounts

    logins = []
    for role, (zh, _en, _perms) in ROLES.items():
        login = DEMO_LOGIN.format(role=role)
        with suppress(AlreadyExistsError):
            accounts.create_account(store, enterprise, name=f"演示{zh}", login=login, password=DEMO_PASSWORD,
                                    roles=[role], post=zh, by=Author("riskmap demo"))
        logins.append(login)
    return logins


DEMO_PARK = "示范化学工业园区（虚构）"
DEMO_REGULATOR = "泰州市应急管理局（虚构）"
DEMO_DIVISION = "321203"           # 江苏省泰州市高港区 (GB/T 2260): the demo's phones are Taizhou's (0523)
DEMO_REGULATOR_LOGIN = "demo-regulator"
# GB 32100's own example of a unified social credit code (a valid check character), not a real enterprise's.
DEMO_CREDIT_CODE = "91350100M000100Y43"


def add_demo_orgs(store, enterprise: str) -> str:
    """The demo enterprise's profile in a fictional park of Taizhou's Gaogang district, a city regulator and its
    supervisor account (so that /overview shows the demo at first start); the regulator account's login."""
    from riskmap.errors import AlreadyExistsError
    from riskmap.people import Author
    from riskmap.store import orgs

    with suppress(AlreadyExistsError):
        orgs.add_park(store, DEMO_PARK, DEMO_DIVISION)
    orgs.set_profile(store, enterprise, by=Author("riskmap demo"), division_code=DEMO_DIVISION,
                     credit_code=DEMO_CREDIT_CODE, hazchem_code=None, industry="化学原料和化学制品制造业",
                     address="江苏省泰州市高港区示范化学工业园区（虚构）", lon=119.745, lat=32.3202, park=DEMO_PARK)
    with suppress(AlreadyExistsError):
        orgs.add_regulator(store, DEMO_REGULATOR, level="city", division_code=DEMO_DIVISION[:4] + "00")
    with suppress(AlreadyExistsError):
        orgs.add_regulator_account(store, DEMO_REGULATOR, name="演示监管人员", login=DEMO_REGULATOR_LOGIN,
                                   password=DEMO_PASSWORD, roles=["regulator_supervisor"], by=Author("riskmap demo"))
    return DEMO_REGULATOR_LOGIN


def demo_accounts_present(store) -> bool:
    """Whether the database holds the demo's accounts (then the sign-in page names the demo password)."""
    from riskmap.store import accounts

    return accounts.login_exists(store, DEMO_LOGIN.format(role="admin"))
