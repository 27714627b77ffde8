"""Reading the past on a big plant: the as-of plant against the current one, versions at a moment, the audit trail,
and diffs after one edit and after a full re-import.

    .venv/bin/python benchmarks/bench_history.py [--units 100000] [--regions 1000] [--db URL] [--runs 3]

The plant is bench_map_load's synthetic one (units in square regions) in a temporary SQLite database unless --db
names another (an empty PostGIS database, say). After the import: one unit edit, then the same ledger imported
again with one unit's level changed. Figures are the best of --runs, in seconds.
Goal: the as-of plant costs no more than the current one (the same queries with other version numbers), and a
diff after one edit costs milliseconds whatever the plant's size (only rows that differ are read).
References, measured in the same run: the as-of plant against the current plant; versions_at and the audit trail
against plain SQL SELECTs of the same rows; each diff against the obvious way, reading both ledger versions whole
and comparing them unit by unit. Each figure prints its ratio to its reference.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskmap.levels import Level  # noqa: E402


def best_of(runs: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def moment() -> datetime:
    time.sleep(0.01)
    now = datetime.now(UTC)
    time.sleep(0.01)
    return now


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    spec = importlib.util.spec_from_file_location("bench_map_load", Path(__file__).with_name("bench_map_load.py"))
    plant_maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plant_maker)

    from riskmap.plant import load_plant
    from riskmap.store import open_store
    from riskmap.store.history import diff, history, versions_at

    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='bench-history-')}/riskmap.db"
    start = time.perf_counter()
    name = plant_maker.synthetic_plant(url, args.units, args.regions)
    figures: dict[str, float | int | str] = {"units": args.units, "regions": args.regions,
                                             "import_s": round(time.perf_counter() - start, 2)}
    imported = moment()
    store = open_store(url)

    def raise_level(unit):
        unit.events[0].residual_level = Level.MAJOR

    store.edit_unit(name, "U1", raise_level, author="bench", reason="one edit")
    edited = moment()
    units = store.units(name)
    next(u for u in units if u.id == "U2").events[0].residual_level = Level.MAJOR
    store.save_units(name, units, source="synthetic-2")
    reimported = moment()

    figures["load_plant_current_s"], current = best_of(args.runs, lambda: load_plant(store, name))
    figures["load_plant_as_of_s"], past = best_of(args.runs, lambda: load_plant(store, name, at=imported))
    assert len(past.units) == len(current.units) == args.units
    figures["versions_at_s"], _ = best_of(args.runs, lambda: versions_at(store, name, edited))
    figures["history_s"], rows = best_of(args.runs, lambda: history(store, name))
    figures["history_rows"] = len(rows)
    figures["diff_one_edit_s"], one = best_of(args.runs, lambda: diff(store, name, imported, edited))
    assert [c["id"] for c in one["units"]["level_changed"]] == ["U1"]
    figures["diff_reimport_s"], whole = best_of(args.runs, lambda: diff(store, name, edited, reimported))
    assert [c["id"] for c in whole["units"]["level_changed"]] == ["U2"]
    refs = references(store, name, args.runs, imported, edited, reimported)
    figures["backend"] = store.backend
    store.close()
    ratios = {"load_plant_as_of_s": figures["load_plant_current_s"], **refs}
    for key, value in figures.items():
        if key in ratios:
            ref = ratios[key]
            print(f"{key:24} {value:.4f}   reference {ref:.4f}   ratio {value / ref:.2f}")
        else:
            print(f"{key:24} {value:.4f}" if isinstance(value, float) else f"{key:24} {value}")
    figures["ratios"] = {k: figures[k] / v for k, v in ratios.items()}
    return figures


def references(store, name: str, runs: int, imported, edited, reimported) -> dict[str, float]:
    """The reference of each figure (see the module docstring), best of `runs`."""
    from sqlalchemy import select

    from riskmap.store.schema import ChangeRow, EnterpriseRow, LayoutVersionRow, LedgerVersionRow

    def plain_versions():
        with store.session() as s:
            ent = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one()
            for model in (LayoutVersionRow, LedgerVersionRow):
                s.execute(select(model.number).where(model.enterprise_id == ent, model.created_at <= edited)
                          .order_by(model.number.desc()).limit(1)).scalar_one_or_none()

    def plain_history():
        with store.session() as s:
            ent = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one()
            s.execute(select(ChangeRow).where(ChangeRow.enterprise_id == ent)
                      .order_by(ChangeRow.at.desc(), ChangeRow.id.desc()).limit(200)).scalars().all()

    from riskmap.store.history import versions_at

    def whole_diff(a, b):
        def run():
            old = store.units(name, version=versions_at(store, name, a).ledger_number)
            new = {u.id: u for u in store.units(name, version=versions_at(store, name, b).ledger_number)}
            changed = [u.id for u in old if u.id in new and [e.level() for e in u.events]
                       != [e.level() for e in new[u.id].events]]
            assert len(changed) == 1
            return changed
        return run

    return {"versions_at_s": best_of(runs, plain_versions)[0], "history_s": best_of(runs, plain_history)[0],
            "diff_one_edit_s": best_of(runs, whole_diff(imported, edited))[0],
            "diff_reimport_s": best_of(runs, whole_diff(edited, reimported))[0]}


if __name__ == "__main__":
    main()
