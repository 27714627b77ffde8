"""The risk ledger (风险分级管控台账): JSON and Excel (表B/表C) import and export, validated in one pass.

    read_ledger(path, skip_bad=False) -> Ledger          # .json, .xlsx, .xlsm by extension
    read_ledger_json(path_or_dict, skip_bad=False) / write_ledger_json(ledger, path, evaluations=False)
    read_ledger_excel(path, skip_bad=False) / write_ledger_excel(ledger, path)
    write_template(path)                                  # blank workbook with 说明 and drop-down lists
    ledger_to_dict(ledger) / ledger_from_dict(data)       # the canonical JSON form

Bad input raises riskmap.errors.LedgerError whose `details` list every problem as
{"sheet", "row", "column", "message"}; with skip_bad=True the bad rows/units are dropped instead and listed
in `Ledger.problems`.
"""

from __future__ import annotations

import os
from pathlib import Path

from riskmap.ledger.jsonio import ledger_from_dict, ledger_to_dict, read_ledger_json, write_ledger_json
from riskmap.ledger.model import Ledger, fatal
from riskmap.ledger.xlsx_read import read_ledger_excel
from riskmap.ledger.xlsx_write import write_ledger_excel, write_template

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
JSON_SUFFIXES = (".json",)


def read_ledger(path: str | os.PathLike, *, skip_bad: bool = False) -> Ledger:
    """Read a ledger file, choosing the reader by extension (.json, .xlsx, .xlsm)."""
    suffix = Path(path).suffix.lower()
    if suffix in JSON_SUFFIXES:
        return read_ledger_json(path, skip_bad=skip_bad)
    if suffix in EXCEL_SUFFIXES:
        return read_ledger_excel(path, skip_bad=skip_bad)
    if suffix == ".xls":
        raise fatal("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后导入 / legacy .xls is not supported: save "
                    "it as .xlsx")
    raise fatal(f"无法识别的台账文件类型 “{suffix or Path(path).name}”，应为 .xlsx、.xlsm 或 .json / unknown ledger "
                "file type; expected .xlsx, .xlsm or .json")


def write_ledger(ledger: Ledger, path: str | os.PathLike, *, evaluations: bool = False) -> None:
    """Write a ledger file, choosing the writer by extension (.json, .xlsx)."""
    suffix = Path(path).suffix.lower()
    if suffix in JSON_SUFFIXES:
        write_ledger_json(ledger, path, evaluations=evaluations)
    elif suffix in EXCEL_SUFFIXES:
        write_ledger_excel(ledger, path)
    else:
        raise fatal(f"无法识别的台账文件类型 “{suffix}”，应为 .xlsx 或 .json / expected .xlsx or .json")


__all__ = [
    "Ledger",
    "ledger_from_dict",
    "ledger_to_dict",
    "read_ledger",
    "read_ledger_excel",
    "read_ledger_json",
    "write_ledger",
    "write_ledger_excel",
    "write_ledger_json",
    "write_template",
]
