"""How long one edit takes on a large plant, with everything it does in its transaction (edit-tag check, new
layout/ledger version, audit row, re-assessment flags, map snapshot refresh), and how long the flag list takes.

    .venv/bin/python benchmarks/bench_edit.py [--units 100000] [--regions 1000] [--runs 3] [--db URL]

The plant is bench_map_load's synthetic one (N units in M regions, main units attached to the regions by name).
Figures (median of the runs, seconds):
  reshape_region   patch_feature of a region's geometry (flags the units in it: about N/M)
  add_equipment    create_feature of an equipment point in a region (flags the region's unit and the unit around)
  edit_unit        edit_unit moving one unit (geometry_changed)
  flags            Store.flags() with the computed overdue ones
  accident_all     record_accident with one death (flags every unit; run once, last)
  revise           apply_layout_changes replacing --revise-features of a --layout-features grid layout as one
                   version (what a confirmed `import-layout --revise` does), in a database of its own
  http_edit        PATCH /api/units/{id} (a new forced level) through the HTTP service in process, then GET the
                   unit's MVT tile at z=18 until it shows the new level: an edit end to end to the fresh tile
References, measured in the same run on the same database:
  full             the same edit with the whole map snapshot rebuilt (Store.incremental_map = False: how every
                   edit was refreshed before riskmap.store.mapupdate); the ratio full / riskmap is the gain
  plain SQL        (benchmarks/plain_sql.py) the same rows written or read by plain SQL statements without
                   riskmap's bookkeeping (versions, audit, flags, map snapshot); ratio riskmap / plain SQL
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import plain_sql  # noqa: E402
from bench_map_load import synthetic_plant  # noqa: E402
from sqlalchemy import select  # noqa: E402

from riskmap.render.tiledata import load_tiledata, read_patch  # noqa: E402
from riskmap.store import open_store  # noqa: E402
from riskmap.store.schema import EnterpriseRow  # noqa: E402


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--layout-features", type=int, default=100_000)
    parser.add_argument("--revise-features", type=int, default=2000)
    parser.add_argument("--full-runs", type=int, default=1, help="runs of the full-rebuild reference")
    parser.add_argument("--no-http", dest="http", action="store_false", help="leave out the HTTP edit")
    parser.add_argument("--no-revise", dest="revise", action="store_false", help="leave out the revision")
    parser.add_argument("--accident-only", action="store_true",
                        help="only the accident (with its plain SQL reference): the figure of a PostGIS run")
    args = parser.parse_args()
    if args.accident_only:
        accident_only(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'edit.db'}"
        started = time.perf_counter()
        name = synthetic_plant(url, args.units, args.regions)
        print(f"plant: {args.units} units, {args.regions} regions, stored in {time.perf_counter() - started:.1f} s")
        store = open_store(url)
        figures: dict[str, list[float]] = {"reshape_region": [], "add_equipment": [], "edit_unit": [], "flags": []}
        full: dict[str, list[float]] = {k: [] for k in figures}
        raised: dict[str, int] = {}
        t, _ = timed(lambda: store.clear_flags(name, None, author="bench"))
        print(f"first write of this process (reads the plant whole, keeps the map's inputs): {t:.2f} s")
        for run in range(args.runs):
            region = store.feature(name, f"R{run}")
            grown = shapely.affinity.scale(region.geometry, 1.01, 1.01)
            t, result = timed(lambda region=region, grown=grown: store.patch_feature(
                name, region.fid, [region.edit_tag], {"geometry": grown}, author="bench"))
            figures["reshape_region"].append(t)
            raised["reshape_region"] = len(result.flags_raised)
            point = shapely.Point(grown.centroid.x, grown.centroid.y)
            t, result = timed(lambda point=point: store.create_feature(name, None, "equipment", point, author="bench"))
            figures["add_equipment"].append(t)
            raised["add_equipment"] = len(result.flags_raised)
            _unit, tag = store.unit_record(name, f"U{run}")
            t, _ = timed(lambda tag=tag, run=run: store.edit_unit(
                name, f"U{run}", lambda u: setattr(u, "geometry", shapely.affinity.translate(u.geometry, 1e-6)),
                if_match=[tag]))
            figures["edit_unit"].append(t)
            t, flags = timed(lambda: store.flags(name, today=date(2027, 12, 1)))
            figures["flags"].append(t)
            raised["flags"] = len(flags)
        # the reference "full": the same edits with the whole snapshot rebuilt, on other regions and units
        store.incremental_map = False
        for run in range(args.runs, args.runs + args.full_runs):
            region = store.feature(name, f"R{run}")
            grown = shapely.affinity.scale(region.geometry, 1.01, 1.01)
            full["reshape_region"].append(timed(lambda region=region, grown=grown: store.patch_feature(
                name, region.fid, [region.edit_tag], {"geometry": grown}, author="bench"))[0])
            point = shapely.Point(grown.centroid.x, grown.centroid.y)
            full["add_equipment"].append(timed(lambda point=point: store.create_feature(
                name, None, "equipment", point, author="bench"))[0])
            _unit, tag = store.unit_record(name, f"U{run}")
            full["edit_unit"].append(timed(lambda tag=tag, run=run: store.edit_unit(
                name, f"U{run}", lambda u: setattr(u, "geometry", shapely.affinity.translate(u.geometry, 1e-6)),
                if_match=[tag]))[0])
        store.incremental_map = True
        store.clear_flags(name, None, author="bench")          # back on the incremental path, no open flag
        t, result = timed(lambda: store.record_accident(name, None, date(2026, 11, 1), "爆燃", deaths=1))
        t_clear, _ = timed(lambda: store.clear_flags(name, None, author="bench"))
        store.incremental_map = False
        t_full, _ = timed(lambda: store.record_accident(name, None, date(2026, 11, 2), "爆燃", deaths=1))
        store.incremental_map = True
        # last: the service is another Store, so the bench's own Store reads the plant whole after it
        http = http_edits(url, name, store, args.runs) if args.http else []
        # the references, after riskmap's figures (they change rows in place)
        plain: dict[str, list[float]] = {k: [] for k in figures}
        for run in range(args.runs):
            region = store.feature(name, f"R{args.runs + run}")
            grown = shapely.affinity.scale(region.geometry, 1.01, 1.01)
            plain["reshape_region"].append(plain_sql.reshape_feature(store, name, region.fid, grown))
            plain["add_equipment"].append(plain_sql.add_feature(store, name, region.fid, f"plain-{run}",
                                                                shapely.Point(grown.centroid.x, grown.centroid.y)))
            plain["edit_unit"].append(plain_sql.move_unit(store, name, f"U{2 * args.runs + args.full_runs + run}"))
            plain["flags"].append(plain_sql.read_open_flags(store, name))
        plain_accident = plain_sql.flag_every_unit(store, name)
        store.close()
    for key, values in figures.items():
        ref, mine = statistics.median(plain[key]), statistics.median(values)
        before = f"full {statistics.median(full[key]):7.3f} s  gain {statistics.median(full[key]) / mine:6.1f}" \
            if full[key] else " " * 28
        print(f"{key:16s} {mine:7.3f} s   {before}   plain SQL {ref:7.4f} s   ratio {mine / ref:6.1f}   "
              f"(runs: {', '.join(f'{v:.3f}' for v in values)}; flags: {raised.get(key)})")
    if http:
        mine = statistics.median(http)
        print(f"{'http_edit':16s} {mine:7.3f} s   (PATCH + fresh tile; runs: {', '.join(f'{v:.3f}' for v in http)})")
    print(f"{'accident_all':16s} {t:7.3f} s   full {t_full:7.3f} s  gain {t_full / t:6.1f}   plain SQL "
          f"{plain_accident:7.4f} s   ratio {t / plain_accident:6.1f}   (flags raised: {len(result['flags_raised'])}; "
          f"clearing them all {t_clear:.3f} s)")
    if args.db is None and args.revise:
        t, ref = revise(args.layout_features, args.revise_features)
        print(f"{'revise':16s} {t:7.2f} s   plain SQL {ref:7.4f} s   ratio {t / ref:6.1f}   "
              f"({args.revise_features} of {args.layout_features} features replaced)")


def accident_only(args) -> None:
    """The accident alone, on the database of --db (PostGIS too): riskmap's figure, the full rebuild and the
    plain SQL reference (the same number of flag rows inserted by one statement), in the same run."""
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'edit.db'}"
        started = time.perf_counter()
        name = synthetic_plant(url, args.units, args.regions)
        print(f"plant: {args.units} units, {args.regions} regions, stored in {time.perf_counter() - started:.1f} s "
              f"({url.split(':')[0]})")
        store = open_store(url)
        t, _ = timed(lambda: store.clear_flags(name, None, author="bench"))
        print(f"first write of this process (reads the plant whole, keeps the map's inputs): {t:.2f} s")
        runs, clears, raised, follow, whole = [], [], 0, [], []
        for run in range(args.runs):
            with store.session() as s:
                ent = s.execute(select(EnterpriseRow.id).where(EnterpriseRow.name == name)).scalar_one()
                data = load_tiledata(s, ent, name, store.data_version(name))
            t, result = timed(lambda run=run: store.record_accident(name, None, date(2026, 11, 1 + run), "爆燃",
                                                                    deaths=1))
            runs.append(t)
            raised = len(result["flags_raised"])
            # what each tile server process does next: apply the change to the map it holds (or load it whole)
            with store.session() as s:
                version = store.data_version(name)
                t, patch = timed(lambda s=s, data=data, version=version: read_patch(s, data, version))
                follow.append(t)
                whole.append(timed(lambda s=s, e=ent, version=version: load_tiledata(s, e, name, version))[0])
            assert all(patch.data.layers["units"].attrs["flag"])
            clears.append(timed(lambda: store.clear_flags(name, None, author="bench"))[0])
        store.incremental_map = False
        t_full, _ = timed(lambda: store.record_accident(name, None, date(2026, 11, 20), "爆燃", deaths=1))
        store.incremental_map = True
        store.clear_flags(name, None, author="bench")
        plain = [plain_sql.flag_every_unit(store, name) for _ in range(args.runs)]
        store.close()
    mine, ref = statistics.median(runs), statistics.median(plain)
    print(f"{'accident_all':16s} {mine:7.3f} s   full {t_full:7.3f} s  gain {t_full / mine:6.1f}   plain SQL "
          f"{ref:7.4f} s   ratio {mine / ref:6.1f}   (runs: {', '.join(f'{v:.3f}' for v in runs)}; plain SQL runs: "
          f"{', '.join(f'{v:.3f}' for v in plain)}; flags raised: {raised}; clearing them all "
          f"{statistics.median(clears):.3f} s)")
    print(f"{'accident_tiles':16s} {statistics.median(follow):7.3f} s   (a tile server's map brought to the "
          f"accident: read_patch; loading it whole {statistics.median(whole):.3f} s)")


def http_edits(url: str, name: str, store, runs: int) -> list[float]:
    """PATCH a unit's forced level through the service (in process) and GET its MVT tile until the tile shows it."""
    import mapbox_vector_tile
    import morecantile
    from fastapi.testclient import TestClient

    from riskmap.api.app import create_app
    from riskmap.settings import Settings
    from riskmap.store import tokens

    text, _ = tokens.create_token(store, "editor", "bench")
    headers = {"Authorization": f"Bearer {text}"}
    tms = morecantile.tms.get("WebMercatorQuad")
    out = []
    with TestClient(create_app(Settings(db=url, enterprise=name))) as client:
        start = time.perf_counter()
        resp = client.patch("/api/units/U99", json={"override": {"level": "general", "reason": "bench"}},
                            headers=headers)
        assert resp.status_code == 200, resp.text
        print(f"first edit of the service's process (reads the plant whole): {time.perf_counter() - start:.2f} s")
        for run in range(runs):
            code = f"U{100 + run}"
            unit, _tag = store.unit_record(name, code)
            p = unit.geometry.representative_point()
            tile = tms.tile(p.x, p.y, 18)
            level = "major" if run % 2 == 0 else "low"
            assert client.get(f"/tiles/units/{tile.z}/{tile.x}/{tile.y}.mvt").status_code in (200, 204)
            start = time.perf_counter()
            resp = client.patch(f"/api/units/{code}", json={"override": {"level": level, "reason": "bench"}},
                                headers=headers)
            assert resp.status_code == 200, resp.text
            body = client.get(f"/tiles/units/{tile.z}/{tile.x}/{tile.y}.mvt").content
            out.append(time.perf_counter() - start)
            found = [f["properties"] for f in mapbox_vector_tile.decode(body).get("units", {}).get("features", [])
                     if f["properties"].get("unit_id") == code]
            assert found and found[0]["level"] == level, found      # the fresh tile, not a stale one
    return out


def revise(n_features: int, n_changed: int) -> tuple[float, float]:
    """apply_layout_changes, and the same geometries written by plain UPDATEs (the reference)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_store_atomic import ENT, grid_layout

    from riskmap.store.editing import FeatureChange

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'revise.db'}")
        store.save_layout(ENT, grid_layout(n_features))
        features = store.layout_features(ENT).iloc[:n_changed]
        changes = [FeatureChange("replace", fid, geometry=shapely.affinity.translate(geom, 1e-6))
                   for fid, geom in zip(features["fid"], features.geometry, strict=True)]
        t, _ = timed(lambda: store.apply_layout_changes(ENT, changes, "revise", None, author="bench"))
        ref = plain_sql.reshape_many(store, ENT, {c.fid: shapely.affinity.translate(c.geometry, 1e-6)
                                                  for c in changes})
        store.close()
    return t, ref


if __name__ == "__main__":
    main()
