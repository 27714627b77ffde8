"""An A1 poster of a synthetic plant of 100,000 units, against a plain GeoDataFrame.plot() saved to PDF.

    .venv/bin/python benchmarks/bench_poster.py [--units 100000] [--regions 100] [--paper A1] [--seed 3]

The plant: 100 production regions (a 10 × 10 grid over 2 km², roads between) and the units spread over them,
60 % rectangles of 2–12 m (a tenth turned), 40 % equipment points; each unit is also a layout feature, as a
plant whose ledger is attached to its drawing has. Timed, in the same run:

- riskmap: the PDF poster from the Plant object (region risk aggregation, projection into the plan's CRS, map
  with layout, regions and every unit in its level colour, labels, legend, title block, PDF writing);
- reference: GeoDataFrame.plot() of the same regions and units (already projected, coloured by level, regions
  at the poster's opacity) on a figure of the same paper size, saved with matplotlib's PDF backend.

Both draw the same regions and the same units; the poster draws more (fence and roads, labels, legend, title
block, north arrow, scale bar). Goal: riskmap at most 1× the reference's time and 0.5× its file size. The default
total plan (regions over the grey layout, units not coloured) is timed too.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskmap.domain import AssessmentUnit, Enterprise, Region, RiskEvent, UnitKind  # noqa: E402
from riskmap.levels import Level  # noqa: E402
from riskmap.plant import Plant  # noqa: E402

CENTRE = (118.80, 32.05)
LEVELS = np.array(["low", "general", "significant", "major", None], dtype=object)
LEVEL_P = [0.45, 0.35, 0.12, 0.03, 0.05]
KINDS = ("罐区", "泵", "反应釜", "装卸站", "管廊", "配电室", "仓库")


PLAN_PROJ = (f"+proj=tmerc +lat_0={CENTRE[1]} +lon_0={CENTRE[0]} +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m "
             "+no_defs +type=crs")


def plan_crs() -> CRS:
    return CRS.from_proj4(PLAN_PROJ)


def synthetic_plant(n_units: int = 100_000, n_regions: int = 100, seed: int = 3, area_m2: float = 2.0e6,
                    name: str = "合成化工有限公司（虚构）") -> Plant:
    """A Plant object as riskmap.plant.load_plant gives it, without a database."""
    rng = np.random.default_rng(seed)
    crs = plan_crs()
    to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
    side = math.sqrt(area_m2)
    cells = math.ceil(math.sqrt(n_regions))
    road = 12.0
    step = side / cells
    gx, gy = np.meshgrid(np.arange(cells), np.arange(cells))
    x0 = -side / 2 + gx.ravel()[:n_regions] * step
    y0 = -side / 2 + gy.ravel()[:n_regions] * step
    region_geoms = shapely.box(x0, y0, x0 + step - road, y0 + step - road)

    r = rng.integers(0, n_regions, n_units)
    margin = 7.0
    ux = rng.uniform(x0[r] + margin, x0[r] + step - road - margin)
    uy = rng.uniform(y0[r] + margin, y0[r] + step - road - margin)
    n_poly = int(n_units * 0.6)
    w = rng.uniform(2, 12, n_poly)
    h = rng.uniform(2, 12, n_poly)
    polys = shapely.box(ux[:n_poly] - w / 2, uy[:n_poly] - h / 2, ux[:n_poly] + w / 2, uy[:n_poly] + h / 2)
    turn = np.flatnonzero(rng.random(n_poly) < 0.1)
    for i, angle in zip(turn, rng.uniform(0, 90, len(turn)), strict=True):
        polys[i] = shapely.affinity.rotate(polys[i], angle)
    unit_geoms = np.concatenate([polys, shapely.points(ux[n_poly:], uy[n_poly:])])
    levels = rng.choice(LEVELS, n_units, p=LEVEL_P)
    kinds = rng.choice(len(KINDS), n_units)

    fence = shapely.LinearRing([(-side / 2 - 8, -side / 2 - 8), (side / 2 + 8, -side / 2 - 8),
                                (side / 2 + 8, side / 2 + 8), (-side / 2 - 8, side / 2 + 8)])
    roads = [shapely.LineString([(-side / 2 + k * step - road / 2, -side / 2), (-side / 2 + k * step - road / 2,
                                                                              side / 2)]) for k in range(1, cells)]
    roads += [shapely.LineString([(-side / 2, -side / 2 + k * step - road / 2), (side / 2, -side / 2 + k * step
                                                                               - road / 2)]) for k in range(1, cells)]

    def lonlat(geoms):
        return shapely.transform(np.asarray(geoms, dtype=object),
                                 lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1])))

    region_ll = lonlat(region_geoms)
    unit_ll = lonlat(unit_geoms)
    other_ll = lonlat(np.array([fence, *roads], dtype=object))
    region_names = [f"{i + 1}号生产区" for i in range(n_regions)]
    unit_names = [f"{i}号{KINDS[k]}" for i, k in enumerate(kinds)]
    n_other = len(other_ll)
    features = gpd.GeoDataFrame({
        "id": np.arange(n_regions + n_units + n_other),
        "fid": [f"R{i}" for i in range(n_regions)] + [f"U{i}" for i in range(n_units)] + [f"O{i}" for i in
                                                                                         range(n_other)],
        "name": region_names + unit_names + ["围墙"] + ["道路"] * (n_other - 1),
        "role": ["region"] * n_regions + ["building"] * n_poly + ["equipment"] * (n_units - n_poly) + ["fence"]
        + ["road"] * (n_other - 1),
        "layer": None,
        "properties": None,
    }, geometry=np.concatenate([region_ll, unit_ll, other_ll]), crs="EPSG:4326")

    region_units = [AssessmentUnit(id=f"RU{i}", name=region_names[i], kind=UnitKind.SUB, geometry=region_ll[i],
                                   feature_ref=f"R{i}") for i in range(n_regions)]
    units = []
    for i in range(n_units):
        lv = levels[i]
        events = [RiskEvent(name=f"{unit_names[i]}风险", residual_level=Level(lv), hazard_factor="合成危险因素",
                            accident_type="火灾")] if lv else []
        units.append(AssessmentUnit(id=f"U{i}", name=unit_names[i], kind=UnitKind.EQUIPMENT, parent_id=f"RU{r[i]}",
                                    geometry=unit_ll[i], feature_ref=f"U{i}", events=events))
    regions = [Region(id=f"B{i}", name=region_names[i], geometry=region_ll[i], unit_id=f"RU{i}", feature_ref=f"R{i}")
               for i in range(n_regions)]
    enterprise = Enterprise(id="1", name=name, supervision_phone="0000-1234567", report_phone="12350",
                            emergency_phone="0000-7654321")
    info = {"version": 1, "crs": PLAN_PROJ, "georeferenced": True, "source": "synthetic"}
    return Plant(enterprise, features, region_units + units, regions, info, data_version=1, profile="lec")


def reference_pdf(plant: Plant, paper_mm: tuple[float, float]) -> bytes:
    """GeoDataFrame.plot() of the same regions and units, coloured by level, saved as PDF by matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from riskmap.levels import load_palette

    palette = {lv.value: st.fill for lv, st in load_palette().styles.items()}
    crs = plan_crs()
    risks = {r.region_id: r for r in plant.region_risk()}
    regions = gpd.GeoDataFrame({"level": [risks[r.id].level.value if risks[r.id].level else None
                                          for r in plant.regions]},
                               geometry=[r.geometry for r in plant.regions], crs=4326).to_crs(crs)
    picked = [u for u in plant.units if u.kind is UnitKind.EQUIPMENT]
    units = gpd.GeoDataFrame({"level": [u.level().value if u.level() else None for u in picked]},
                             geometry=[u.geometry for u in picked], crs=4326).to_crs(crs)
    fig, ax = plt.subplots(figsize=(paper_mm[0] / 25.4, paper_mm[1] / 25.4))
    regions.plot(ax=ax, color=[palette.get(v, "#BDBDBD") for v in regions["level"]], alpha=0.55, edgecolor="#404040",
                 linewidth=1.0)
    units.plot(ax=ax, color=[palette.get(v, "#BDBDBD") for v in units["level"]], edgecolor="#404040", linewidth=0.3,
               markersize=6)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    plt.close(fig)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--regions", type=int, default=100)
    ap.add_argument("--paper", default="A1")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="keep the poster PDF here")
    args = ap.parse_args(argv)

    from riskmap.print.paper import PAPERS
    from riskmap.print.poster import PosterOptions, poster

    t0 = time.perf_counter()
    plant = synthetic_plant(args.units, args.regions, args.seed)
    print(f"plant: {args.units:,} units, {args.regions} regions, built in {time.perf_counter() - t0:.1f} s")
    poster(synthetic_plant(200, 4, 1), "pdf", PosterOptions(paper="A4"))      # warm fonts and styles

    results = {}
    for label, units in (("units coloured", True), ("total plan (default)", None)):
        t = time.perf_counter()
        data = poster(plant, "pdf", PosterOptions(paper=args.paper, units=units))
        results[label] = (time.perf_counter() - t, len(data))
        if args.out is not None and units:
            args.out.write_bytes(data)
    reference = None
    if not args.no_reference:
        w, h = PAPERS[args.paper.upper()]
        t = time.perf_counter()
        ref = reference_pdf(plant, (w, h))
        reference = (time.perf_counter() - t, len(ref))

    print(f"\n{args.paper} poster, {args.units:,} units (wall clock)")
    print(f"{'':34} {'time s':>8} {'size MB':>8} {'time ×ref':>10} {'size ×ref':>10}")
    for label, (secs, size) in results.items():
        rt = f"{secs / reference[0]:.2f}" if reference else "-"
        rs = f"{size / reference[1]:.2f}" if reference else "-"
        print(f"riskmap {label:26} {secs:8.1f} {size / 1e6:8.2f} {rt:>10} {rs:>10}")
    if reference:
        print(f"{'GeoDataFrame.plot() → PDF':34} {reference[0]:8.1f} {reference[1] / 1e6:8.2f} {'1.00':>10} "
              f"{'1.00':>10}")
    return {"riskmap": results, "reference": reference}


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
