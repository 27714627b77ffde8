"""The national code tables and the major-hazard determination items, as data (codes.yaml, standards.yaml beside
this module), loaded once.

Codes are data, not literals in code, so that a site can correct a value (HAZARDS.md marks some as "check")
without a release; the workflow and the record ask this module whether a code exists and what it reads as.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CODE_TABLES = ("dangerSrc", "dangerLevel", "hazardDangerType", "dangerManageType", "hazardCategory",
               "managementClassification", "occurrenceLink", "dangerState")
SOURCE_CONTROL_FAILED = 9          # dangerSrc 管控措施失效: the hazard names the control measure that failed
MANAGE_ON_SPOT, MANAGE_BY_DEADLINE = 0, 1


@dataclass(frozen=True)
class Item:
    """One item of a determination standard: citing it makes a hazard major."""

    id: str               # "<standard>:<item>", e.g. "chem-2017-121:6"
    standard: str
    number: str
    text: str
    document: str
    title: str
    verified: bool
    scope: str | None = None    # whom the item's article applies to, when the standard says it per article


@cache
def codes() -> dict[str, dict[int, tuple[str, str]]]:
    """Every national code table: name → {code → (Chinese, English)}."""
    raw = yaml.safe_load((HERE / "codes.yaml").read_text(encoding="utf-8"))
    out: dict[str, dict[int, tuple[str, str]]] = {}
    for name in CODE_TABLES:
        table = raw[name]
        out[name] = {int(k): (str(v[0]), str(v[1])) for k, v in table.items() if k != "check"}
    return out


@cache
def items() -> dict[str, Item]:
    """Every determination item by its id, in the standards' order."""
    raw = yaml.safe_load((HERE / "standards.yaml").read_text(encoding="utf-8"))
    out: dict[str, Item] = {}
    for key, std in raw["standards"].items():
        scopes = {str(k): str(v) for k, v in (std.get("scopes") or {}).items()}
        for number, text in std["items"].items():
            item_id = f"{key}:{number}"
            out[item_id] = Item(item_id, key, str(number), str(text).strip(), std["document"], std["title"],
                                bool(std.get("verified")), scopes.get(str(number).split(".")[0]))
    return out


def label(table: str, code: int | None) -> str | None:
    """A code as people read it, Chinese then English ("管控措施失效 / a control measure failed"); None for None."""
    if code is None:
        return None
    zh, en = codes()[table][code]
    return f"{zh} / {en}"


def has_code(table: str, code: object) -> bool:
    """Whether `code` (an int, not a bool) is a code of the table."""
    return isinstance(code, int) and not isinstance(code, bool) and code in codes()[table]
