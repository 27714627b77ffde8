"""Organisations (issue 15): enterprises with their profile, chemical parks and regulators, as plain rules.

- `codes`: the unified social credit code (GB 32100, its check digit) and the hazardous-chemicals registration code;
- `divisions`: the GB/T 2260 division table shipped in data/reference/gb2260.csv, and which divisions lie inside
  which (a province holds the codes of its two-digit prefix, a city those of its four);
- `model`: the profile, park and regulator records, the regulator levels and the supervision record (挂牌督办)
  with their checks.

No database and no web here: riskmap.store.orgs keeps the rows and answers the scope of a regulator.
"""
