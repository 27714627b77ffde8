"""The safety signs (GB 2894-2008) a risk notice card names: a data table (safety_signs.yaml) from accident
types, hazard words and protective equipment to the standard's sign names, read once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from riskmap.reference import normalise_accident_type

TABLE = Path(__file__).with_name("safety_signs.yaml")
CATEGORY_ORDER = ("prohibition", "warning", "mandatory", "information")


@dataclass(frozen=True)
class SignTable:
    """safety_signs.yaml as read: each sign's category, and the signs by accident type and by hazard word."""

    category: dict[str, str]                 # sign name → category
    category_zh: dict[str, str]
    by_accident: dict[str, tuple[str, ...]]
    by_word: dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def sign_table() -> SignTable:
    """The sign table, read once; ValueError when the file names a sign it does not list (a data mistake)."""
    raw = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    category = {str(k): str(v) for k, v in raw["signs"].items()}
    for listing in ("accident_types", "words"):
        for key, names in raw[listing].items():
            unknown = [n for n in names if n not in category]
            if unknown:
                raise ValueError(f"{TABLE.name}: {listing}.{key} names signs not in the table: {unknown}")
    return SignTable(category, {k: v["zh"] for k, v in raw["categories"].items()},
                     {normalise_accident_type(k): tuple(v) for k, v in raw["accident_types"].items()},
                     {str(k): tuple(v) for k, v in raw["words"].items()})


def signs_for(accident_types: Iterable[str], texts: Iterable[str]) -> list[str]:
    """Sign names for these accident types and texts (hazard factors, protective equipment), each once, in the
    standard's category order."""
    table = sign_table()
    found: list[str] = []
    for accident in accident_types:
        found.extend(table.by_accident.get(normalise_accident_type(accident or ""), ()))
    joined = "\n".join(t for t in texts if t)
    for word, names in table.by_word.items():
        if word in joined:
            found.extend(names)
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda n: (CATEGORY_ORDER.index(table.category[n]), unique.index(n)))


def signs_text(names: Iterable[str]) -> str:
    """Names grouped by category: "禁止：禁止烟火、禁止带火种\n警告：当心火灾"."""
    table = sign_table()
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(table.category[name], []).append(name)
    return "\n".join(f"{table.category_zh[c][:2]}：{'、'.join(groups[c])}" for c in CATEGORY_ORDER if c in groups)
