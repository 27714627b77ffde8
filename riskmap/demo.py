"""The demo chemical plant: loaded into a fresh database by `riskmap demo` (the README's first command)."""

from __future__ import annotations

from pathlib import Path

from riskmap.levels import LEVELS_HIGH_TO_LOW
from riskmap.paths import demo_dir


def _fresh_sqlite(url: str) -> None:
    if not url.startswith("sqlite:///"):
        return
    path = Path(url[len("sqlite:///"):])
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = Path(str(path) + suffix)
        if candidate.exists():
            candidate.unlink()


def load_demo(settings) -> dict:
    """Load the demo layout and ledger; return a summary with the region colours counted."""
    from riskmap.cli.layout import load_layout
    from riskmap.criteria import assess_units
    from riskmap.ledger import read_ledger
    from riskmap.plant import load_plant
    from riskmap.store import open_store

    folder = demo_dir()
    ledger_file = folder / "ledger.xlsx"
    if not ledger_file.exists():
        ledger_file = folder / "ledger.json"
    _fresh_sqlite(settings.db)
    store = open_store(settings.db)
    ledger = read_ledger(ledger_file)
    name = ledger.enterprise.name
    settings.enterprise = name
    enterprise = store.enterprise(name)
    for attr in ("supervision_phone", "report_phone", "emergency_phone", "short_name"):
        if getattr(ledger.enterprise, attr, None):
            setattr(enterprise, attr, getattr(ledger.enterprise, attr))
    store.update_enterprise(enterprise)
    layout = load_layout(settings, folder / "plant.dxf", control_points=folder / "control_points.csv",
                         store=store)
    assess_units(ledger.units, default_profile=ledger.profile or "lec")
    store.save_units(name, ledger.units, source=ledger_file.name, default_profile=ledger.profile)
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
            + f"\n  数据库 / database: {settings.db}")
    return {"enterprise": name, "layout": layout, "units": len(ledger.units), "events": events,
            "regions": counts, "text": text}
