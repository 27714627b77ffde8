"""The ledger as read from a file, and the problem list every reader fills in one pass."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from riskmap.domain import AssessmentUnit, Enterprise, RiskEvent
from riskmap.errors import LedgerError

DEFAULT_PROFILE = "lec"

# Hostile-input limits: generous for real ledgers (a few thousand rows), small enough to refuse bombs.
MAX_ROWS = 200_000
MAX_COLUMNS = 400
MAX_JSON_BYTES = 200 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED = 600 * 1024 * 1024
MAX_XLSX_RATIO = 200          # uncompressed / compressed of one zip member above 1 MB
MAX_JSON_DEPTH = 64


@dataclass
class Ledger:
    """A risk ledger: enterprise information, the default criteria profile and the unit tree.

    `problems` is empty unless the ledger was read with `skip_bad=True`; then it lists what was dropped.
    """

    units: list[AssessmentUnit]
    enterprise: Enterprise | None = None
    profile: str = DEFAULT_PROFILE
    problems: list[dict[str, Any]] = field(default_factory=list)

    def events(self) -> list[RiskEvent]:
        """Every event of the ledger, unit by unit."""
        return [ev for unit in self.units for ev in unit.events]


@dataclass
class Problem:
    """One bad value: where it is (sheet, row, column as the user sees them) and which unit or event it spoils."""

    sheet: str
    row: Any
    column: str
    message: str
    unit: Any = None        # the unit object the problem makes bad (dropped with skip_bad)
    event: Any = None       # the event object the problem makes bad
    field: str = ""         # the field it is about (JSON form name, e.g. "inputs.L")

    def as_dict(self) -> dict[str, Any]:
        """The problem as users and LedgerError details see it, without the objects it refers to."""
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "message": self.message}


@dataclass
class Where:
    """Where an object came from, so that later checks can name the sheet, row and column."""

    sheet: str
    row: Any
    columns: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> str:
        """The column header (or JSON field) to name for a field; list indexes are ignored (controls[2].tier)."""
        if name in self.columns:
            return self.columns[name]
        plain = re.sub(r"\[\d+\]", "", name)
        return self.columns.get(plain, name)


class Problems:
    """Collects every problem of one read; nothing stops at the first."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, where: Where | None, field_name: str, message: str, *, unit=None, event=None,
            sheet: str | None = None, row: Any = None, column: str | None = None) -> None:
        """Record a problem; `unit`/`event` mark what `skip_bad` drops; sheet, row and column override `where`."""
        self.items.append(Problem(
            sheet=sheet if sheet is not None else (where.sheet if where else ""),
            row=row if row is not None else (where.row if where else None),
            column=column if column is not None else (where.column(field_name) if where else field_name),
            message=message, unit=unit, event=event, field=field_name))

    def __len__(self) -> int:
        return len(self.items)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Every problem as users and LedgerError details see it."""
        return [p.as_dict() for p in self.items]

    def error(self) -> LedgerError:
        """One LedgerError for the whole read, quoting the first problem and listing all; call only when not empty."""
        n = len(self.items)
        first = self.items[0]
        return LedgerError(
            f"台账有 {n} 处错误，未导入任何内容；第一处：{first.sheet} 行 {first.row} 列 {first.column}："
            f"{first.message} / the ledger has {n} problem(s); nothing was imported",
            details=self.as_dicts())


def fatal(message: str) -> LedgerError:
    """A problem with the whole file (not a cell): one detail without row and column."""
    return LedgerError(message, details=[{"sheet": "", "row": None, "column": "", "message": message}])
