"""DXF import speed: riskmap's `read_dxf` against GDAL's `ogr2ogr -f GPKG out.gpkg in.dxf`.

    .venv/bin/python benchmarks/bench_dxf_import.py [--entities 50000] [--repeat 3] [--dxf FILE] [--profile]

Writes a deterministic plant-like drawing (closed LWPOLYLINEs, a third of them with bulges; circles; texts
inside the shapes; INSERTs of a tank block and of a small valve symbol with an attribute; Chinese layer
names), times both readers (best of `--repeat`) in the same run and prints the ratio. Goal: read_dxf takes
at most twice as long as ogr2ogr.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ezdxf  # noqa: E402

from riskmap.geo.dxf import read_dxf  # noqa: E402

LAYERS = ("1-生产区域", "建筑物", "储罐", "设备", "文字标注", "道路")
GOAL = 2.0


def make_drawing(path: Path, entities: int) -> dict[str, int]:
    """A grid of plant cells; each cell holds a few entities, in a fixed order (no randomness)."""
    doc = ezdxf.new("R2018", setup=False)
    doc.header["$INSUNITS"] = 6
    for name in LAYERS:
        doc.layers.add(name)
    tank = doc.blocks.new("储罐")
    tank.add_circle((0, 0), 4.0)
    tank.add_lwpolyline([(-5, -5), (5, -5), (5, 5), (-5, 5)], close=True)
    valve = doc.blocks.new("阀门")
    valve.add_line((-0.3, 0), (0.3, 0))
    valve.add_circle((0, 0), 0.15)
    valve.add_attdef("NAME", (0, 0.3), dxfattribs={"height": 0.2})
    msp = doc.modelspace()
    counts = {"LWPOLYLINE": 0, "CIRCLE": 0, "TEXT": 0, "MTEXT": 0, "INSERT": 0}
    # per cell: region, building (every third with a bulged edge), its label, a tank circle,
    # a tank INSERT, a valve INSERT, and every other cell a second building with an MTEXT label
    cycle = ("region", "building", "label", "circle", "tank", "valve", "building2", "mlabel", "circle2", "label2")
    columns = 200
    n = 0
    cell = 0
    while n < entities:
        x0, y0 = (cell % columns) * 120.0, (cell // columns) * 120.0
        for kind in cycle:
            if n >= entities:
                break
            if kind == "region":
                msp.add_lwpolyline([(x0, y0), (x0 + 110, y0), (x0 + 110, y0 + 110), (x0, y0 + 110)], close=True,
                                   dxfattribs={"layer": "1-生产区域"})
                counts["LWPOLYLINE"] += 1
            elif kind == "building":
                bulge = 0.4 if cell % 3 == 0 else 0.0
                msp.add_lwpolyline([(x0 + 5, y0 + 5, 0), (x0 + 45, y0 + 5, bulge), (x0 + 45, y0 + 35, 0),
                                    (x0 + 5, y0 + 35, 0)], format="xyb", close=True, dxfattribs={"layer": "建筑物"})
                counts["LWPOLYLINE"] += 1
            elif kind == "building2":
                msp.add_lwpolyline([(x0 + 60, y0 + 5, 0), (x0 + 100, y0 + 5, 0), (x0 + 100, y0 + 35, -0.25),
                                    (x0 + 60, y0 + 35, 0)], format="xyb", close=True, dxfattribs={"layer": "建筑物"})
                counts["LWPOLYLINE"] += 1
            elif kind == "label":
                msp.add_text(f"{cell}号厂房", dxfattribs={"layer": "文字标注", "insert": (x0 + 15, y0 + 20),
                                                        "height": 3})
                counts["TEXT"] += 1
            elif kind == "label2":
                msp.add_text(f"{cell}号生产区", dxfattribs={"layer": "文字标注", "insert": (x0 + 55, y0 + 100),
                                                         "height": 3})
                counts["TEXT"] += 1
            elif kind == "mlabel":
                msp.add_mtext(f"{{\\fSimHei|b0;{cell}号\\P仓库}}", dxfattribs={"layer": "文字标注",
                                                                            "insert": (x0 + 70, y0 + 25)})
                counts["MTEXT"] += 1
            elif kind in ("circle", "circle2"):
                cx = x0 + (20 if kind == "circle" else 80)
                msp.add_circle((cx, y0 + 70), 6.0, dxfattribs={"layer": "储罐"})
                counts["CIRCLE"] += 1
            elif kind == "tank":
                msp.add_blockref("储罐", (x0 + 50, y0 + 70), dxfattribs={"layer": "储罐", "rotation": cell % 90,
                                                                        "xscale": 1.2, "yscale": 1.2})
                counts["INSERT"] += 1
            elif kind == "valve":
                ref = msp.add_blockref("阀门", (x0 + 50, y0 + 50), dxfattribs={"layer": "设备"})
                ref.add_auto_attribs({"NAME": f"V-{cell}"})
                counts["INSERT"] += 1
            n += 1
        cell += 1
    doc.saveas(path)
    return counts


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dxf", type=Path, help="time this drawing instead of generating one")
    parser.add_argument("--profile", action="store_true", help="print read_dxf's top functions by own time")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_dxf_") as tmp:
        work = Path(tmp)
        if args.dxf:
            dxf, counts = args.dxf, None
        else:
            dxf = work / "plant.dxf"
            start = time.perf_counter()
            counts = make_drawing(dxf, args.entities)
            print(f"wrote {dxf.stat().st_size / 1e6:.1f} MB, {sum(counts.values()):,} model-space entities "
                  f"{counts} in {time.perf_counter() - start:.1f} s", file=sys.stderr)

        raw = read_dxf(dxf)  # warm-up: imports, caches
        ours = best_of(args.repeat, lambda: read_dxf(dxf))

        gdal = None
        ogr2ogr = shutil.which("ogr2ogr")
        if ogr2ogr:
            out = work / "out.gpkg"

            def run_gdal() -> None:
                out.unlink(missing_ok=True)
                subprocess.run([ogr2ogr, "-f", "GPKG", str(out), str(dxf)], check=True, capture_output=True)

            gdal = best_of(args.repeat, run_gdal)
            version = subprocess.run([ogr2ogr, "--version"], capture_output=True, text=True).stdout.strip()
        else:
            version = "ogr2ogr not found"

        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(read_dxf, dxf)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)

    feats = raw.features
    figures = {
        "file": str(dxf) if args.dxf else "generated",
        "entities": sum(counts.values()) if counts else None,
        "features": int(len(feats)),
        "named": int(feats["name"].notna().sum()),
        "by_role": {str(k): int(v) for k, v in feats["role"].value_counts().sort_index().items()},
        "read_dxf_s": round(ours, 3),
        "ogr2ogr_s": round(gdal, 3) if gdal is not None else None,
        "ratio": round(ours / gdal, 2) if gdal else None,
        "goal": f"read_dxf ≤ {GOAL}× ogr2ogr",
        "gdal": version,
    }
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        print(f"features: {figures['features']:,} ({figures['named']:,} named) {figures['by_role']}")
        print(f"read_dxf      best of {args.repeat}: {ours:.3f} s")
        if gdal is not None:
            print(f"ogr2ogr GPKG  best of {args.repeat}: {gdal:.3f} s   ({version})")
            verdict = "met" if ours <= GOAL * gdal else "NOT met"
            print(f"ratio read_dxf / ogr2ogr: {ours / gdal:.2f}  (goal ≤ {GOAL}: {verdict})")
        else:
            print("ogr2ogr not found: no reference time")
    return 0 if gdal is None or ours <= GOAL * gdal else 1


if __name__ == "__main__":
    raise SystemExit(main())
