"""Write notebooks/region_risk.ipynb (kept as code so that its cells are reviewed like code)."""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", "# riskmap：风险评价与区域风险 / evaluation and region risk\n\n"
           "This notebook walks through `riskmap.evaluate` and region risk on the demo chemical plant "
           "(`data/demo/`). The test suite executes it."),
    ("code", "from pathlib import Path\nimport riskmap\nfrom riskmap.paths import demo_dir\n\nDEMO = demo_dir()"),
    ("md", "## 1. One risk by LEC and by the LS matrix\n\nD = L × E × C in exact decimals; "
           "a boundary value belongs to the higher band under `lec` (从严从高)."),
    ("code", "ev = riskmap.evaluate('lec', L=3, E=6, C=15)\nprint(ev.score, ev.grade, ev.level.zh)\n"
             "assert str(ev.score) == '270' and ev.level.value == 'significant'"),
    ("code", "for profile in ('lec', 'lec-upper-inclusive'):\n"
             "    ev = riskmap.evaluate(profile, L=1, E=10, C=7)   # D = 70, on a band boundary\n"
             "    print(profile, ev.score, ev.level.zh)"),
    ("code", "print(riskmap.evaluate('ls', L=4, S=5).level.zh)\n"
             "print(riskmap.evaluate('ls', L=4, S1=2, S2=5, S3=3, S4=1, S5=1).level.zh)"),
    ("md", "## 2. The demo plant: layout and ledger\n\nThe DXF is placed on the earth by control points; "
           "the ledger is the enterprise's 表B/表C workbook."),
    ("code", "from riskmap.geo.importer import import_layout\nfrom riskmap.ledger import read_ledger\n"
             "from riskmap.criteria import assess_units\n\n"
             "layout = import_layout(DEMO / 'plant.dxf', control_points=DEMO / 'control_points.csv')\n"
             "print(layout.georeference['method'], 'RMS', round(layout.georeference['rms_m'], 3), 'm')\n"
             "ledger_file = DEMO / 'ledger.xlsx' if (DEMO / 'ledger.xlsx').exists() else DEMO / 'ledger.json'\n"
             "ledger = read_ledger(ledger_file)\nassess_units(ledger.units, default_profile=ledger.profile or 'lec')\n"
             "print(len(ledger.units), 'units,', sum(len(u.events) for u in ledger.units), 'events')"),
    ("md", "## 3. Region risk on GeoDataFrames\n\nRegions are the layout's `region` features; units take the "
           "geometry of the feature they name, else their nearest ancestor's."),
    ("code", "import geopandas as gpd\nfrom riskmap.attach import resolve_unit_geometries\n"
             "from riskmap.domain import UnitTree\n\n"
             "features = layout.features\nresolve_unit_geometries(ledger.units, features)\n"
             "tree = UnitTree(ledger.units)\n"
             "regions = features[features.role == 'region'].rename(columns={'fid': 'id'})[['id', 'name', 'geometry']]\n"
             "rows = []\nfor u in ledger.units:\n"
             "    geom, _ = tree.located_geometry(u.id)\n"
             "    lv = u.level()\n"
             "    rows.append({'id': u.id, 'name': u.name, 'parent_id': u.parent_id,\n"
             "                 'level': lv.value if lv else None, 'weight': float(u.weight), 'geometry': geom})\n"
             "units = gpd.GeoDataFrame(rows, geometry='geometry', crs='EPSG:4326')\n"
             "regions.head()"),
    ("code", "highest = riskmap.region_risk(regions, units)\nweighted = riskmap.region_risk(regions, units, "
             "method='weighted')\n"
             "table = gpd.pd.DataFrame({'region': [r.name for r in highest],\n"
             "    'highest': [r.level.zh if r.level else '-' for r in highest],\n"
             "    'weighted': [r.level.zh if r.level else '-' for r in weighted],\n"
             "    'decided_by': [r.to_dict()['decided_by'] for r in highest]})\n"
             "assert {'重大风险', '低风险'} <= set(table.highest)\ntable"),
    ("md", "Each region explains its colour: the unit and event that decided it and the rule applied."),
    ("code", "import json\nmajor = next(r for r in highest if r.level and r.level.value == 'major')\n"
             "print(json.dumps(major.to_dict(), ensure_ascii=False, indent=1, default=str)[:1500])"),
]


def main() -> None:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in CELLS]
    out = Path(__file__).resolve().parents[1] / "notebooks" / "region_risk.ipynb"
    nbf.write(nb, out)
    print(out)


if __name__ == "__main__":
    main()
