"""Re-import diff speed: `diff_layouts` on a large plant and a revision of it, optionally applied to a store.

    .venv/bin/python benchmarks/bench_revise.py [--features 50000] [--repeat 3] [--apply]

The plant is a deterministic grid of cells (an area, a building, a tank outline, an equipment point, a road
piece per cell, named like a drawing names them). The revision keeps most handles, gives 10 % of the features
new handles (matched by name or overlap), moves 1 % by 5 cm, renames 1 %, deletes 1 % and adds 1 %. Prints the
best time of `--repeat` diffs and the match counts; with `--apply` also the time to write the diff as one new
layout version into a fresh SQLite store (the store's edit path; reported, not a goal of this benchmark).
Reference, measured in the same run: the obvious diff that matches by CAD handle only (a pandas merge on fid,
then shapely.equals_exact and a name comparison, vectorised); it misses every renumbered handle that riskmap
matches by name or overlap. The ratio diff_layouts / handle-only diff is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from pyproj import Transformer  # noqa: E402

from riskmap.geo.revise import diff_layouts  # noqa: E402

KINDS = 5
_TO_LONLAT = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)


def plant(features: int) -> gpd.GeoDataFrame:
    cells = features // KINDS
    side = int(np.ceil(np.sqrt(cells)))
    ix, iy = np.arange(cells) % side, np.arange(cells) // side
    x0, y0 = 500_000.0 + ix * 40.0, 3_575_000.0 + iy * 40.0
    geoms = np.concatenate([
        shapely.box(x0, y0, x0 + 38, y0 + 38),                                   # area
        shapely.box(x0 + 2, y0 + 2, x0 + 12, y0 + 10),                           # building
        shapely.buffer(shapely.points(x0 + 25, y0 + 25), 4, quad_segs=8),       # tank outline
        shapely.points(x0 + 20, y0 + 5),                                        # equipment point
        shapely.linestrings(np.stack([np.stack([x0, y0 + 39], 1), np.stack([x0 + 38, y0 + 39], 1)], 1)),  # road
    ])
    roles = np.repeat(["region", "building", "equipment", "equipment", "road"], cells)
    kind = np.repeat(np.arange(KINDS), cells)
    cell = np.tile(np.arange(cells), KINDS)
    prefix = ("区域", "厂房", "储罐")
    names = np.asarray([None if k in (3, 4) else f"{prefix[k]}{c}" for k, c in zip(kind, cell, strict=True)],
                       dtype=object)
    lonlat = shapely.transform(geoms, lambda xy: np.column_stack(_TO_LONLAT.transform(xy[:, 0], xy[:, 1])))
    return gpd.GeoDataFrame({"id": np.arange(1, len(geoms) + 1), "fid": [f"{i:X}" for i in range(len(geoms))],
                             "name": names, "role": roles, "layer": roles.astype(object),
                             "properties": [{} for _ in range(len(geoms))]}, geometry=lonlat, crs="EPSG:4326")


def revision(current: gpd.GeoDataFrame, seed: int = 7) -> tuple[gpd.GeoDataFrame, dict]:
    rng = np.random.default_rng(seed)
    n = len(current)
    revised = current.drop(columns="id").copy()
    pick = rng.permutation(n)
    rehandle, move, rename, delete = (pick[i * n // 100:(i * n // 100) + k] for i, k in
                                      ((0, n // 10), (10, n // 100), (11, n // 100), (12, n // 100)))
    revised.loc[rehandle, "fid"] = [f"N{i}" for i in rehandle]
    shift = 0.05 / 111_000.0                                        # 5 cm in degrees of latitude
    revised.loc[move, "geometry"] = shapely.transform(revised.geometry.values[move], lambda xy: xy + [0, shift])
    revised.loc[rename, "name"] = [f"新名{i}" for i in rename]
    revised = revised.drop(index=delete)
    added = current.iloc[rng.choice(n, n // 100, replace=False)].drop(columns="id").copy()
    added["geometry"] = shapely.transform(added.geometry.values, lambda xy: xy + [0.01, 0])   # about 1 km east
    added["fid"] = [f"add-{i}" for i in range(len(added))]
    added["name"] = [f"新增{i}" for i in range(len(added))]
    out = gpd.GeoDataFrame(np.concatenate([revised.to_numpy(), added.to_numpy()]), columns=revised.columns,
                           geometry="geometry", crs="EPSG:4326")
    return out, {"rehandled": len(rehandle), "moved": len(move), "renamed": len(rename), "deleted": len(delete),
                 "added": len(added)}


def handle_only_diff(current: gpd.GeoDataFrame, revised: gpd.GeoDataFrame) -> dict[str, int]:
    """The reference: match by fid alone; count kept, reshaped, renamed, removed and added features."""
    import pandas as pd

    both = pd.merge(pd.DataFrame({"fid": current["fid"], "g0": current.geometry.values, "n0": current["name"]}),
                    pd.DataFrame({"fid": revised["fid"], "g1": revised.geometry.values, "n1": revised["name"]}),
                    on="fid", how="outer", indicator=True)
    matched = both[both["_merge"] == "both"]
    same = shapely.equals_exact(np.asarray(matched["g0"].to_numpy(), dtype=object),
                                np.asarray(matched["g1"].to_numpy(), dtype=object), tolerance=0.0)
    renamed = (matched["n0"].fillna("") != matched["n1"].fillna("")).to_numpy()
    return {"kept": int(same.sum()), "reshaped": int((~same).sum()), "renamed": int(renamed.sum()),
            "removed": int((both["_merge"] == "left_only").sum()), "added": int((both["_merge"] == "right_only").sum())}


def apply(current: gpd.GeoDataFrame, diff) -> float:
    from riskmap.geo.model import LayoutImport
    from riskmap.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        store.save_layout("bench", LayoutImport(features=current.drop(columns="id"), crs="EPSG:4549",
                                                source_name="bench.dxf", source_format="dxf"))
        stored = store.layout_features("bench")
        tags = dict(zip(stored["fid"], stored["id"].astype(int), strict=True))
        diff.if_match = {fid: [tags[fid]] for fid in diff.if_match}
        start = time.perf_counter()
        store.apply_layout_changes("bench", diff.to_changes(), action="revise", if_match=diff.if_match)
        took = time.perf_counter() - start
        store.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--apply", action="store_true", help="also write the diff into a fresh SQLite store")
    args = parser.parse_args()
    current = plant(args.features)
    revised, made = revision(current)
    best, diff = float("inf"), None
    for _ in range(args.repeat):
        start = time.perf_counter()
        diff = diff_layouts(current, revised, revised_format="dxf")
        best = min(best, time.perf_counter() - start)
    print(f"features: current {len(current)}, revised {len(revised)}; made: {made}")
    print(f"counts: {diff.counts}")
    print(f"matched by: {diff.matched_by}")
    ref, naive = float("inf"), None
    for _ in range(args.repeat):
        start = time.perf_counter()
        naive = handle_only_diff(current, revised)
        ref = min(ref, time.perf_counter() - start)
    print(f"diff_layouts: {best:.2f} s (best of {args.repeat})")
    print(f"reference, matching by handle only: {ref:.2f} s (best of {args.repeat}; {naive})")
    print(f"ratio diff_layouts / handle-only diff: {best / ref:.1f}")
    if args.apply:
        print(f"apply_layout_changes (SQLite, {len(diff.changes)} changes): {apply(current, diff):.2f} s")


if __name__ == "__main__":
    main()
